/* The resolved chart (chart.c): what a repo handler publishes is what
 * phd_ctx_chart_resolved() returns, the event announces and the journal
 * records, for this run only; malformed records are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"

#define HEX "10a30c1f5e3e49e83e0a5b567befb79bc49fe779ab9a8affda3463ddfda49fcb"

struct seen {
	int events;
	char line[512], name[64], file[256];
	int got_in_event;   /* phd_ctx_chart_resolved worked inside the callback */
	phd_ctx *ctx;
	int publish;        /* the repo handler publishes */
	int render_saw;     /* render found the chart published by repo */
};

static void on_event(const struct phd_event *ev, void *payload)
{
	struct seen *s = payload;
	const struct phd_chart_ref *c;

	if (ev->type != PHD_EV_CHART)
		return;
	s->events++;
	snprintf(s->line, sizeof s->line, "%s", ev->message ? ev->message : "");
	snprintf(s->name, sizeof s->name, "%s", ev->name ? ev->name : "");
	snprintf(s->file, sizeof s->file, "%s", ev->file ? ev->file : "");
	s->got_in_event = phd_ctx_chart_resolved(s->ctx, &c) == 0 && c->chart_version &&
			  !strcmp(c->chart_version, "30.46.0");
}

static int repo(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	struct seen *s = ud;
	struct phd_chart_ref ref = PHD_CHART_REF_INIT;

	(void)phase;
	if (!s->publish)   /* the handler's part of the contract: forget */
		return phd_ctx_set_chart_resolved(ctx, NULL);
	ref.source = PHD_CHART_REPO;
	ref.name = "posthog";
	ref.chart_version = "30.46.0";
	ref.digest = "sha256:" HEX;
	ref.archive = "/run/x/posthog-30.46.0.tgz";
	return phd_ctx_set_chart_resolved(ctx, &ref);
}

static int render(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	struct seen *s = ud;
	const struct phd_chart_ref *c;

	(void)phase;
	s->render_saw = phd_ctx_chart_resolved(ctx, &c) == 0 && !strcmp(c->archive,
									    "/run/x/posthog-30.46.0.tgz");
	return phd_set_documents(ctx, PHD_PHASE_RENDER, "", 0, "test");
}

static char *last_line(const char *path)
{
	char *all = tap_slurp(path, NULL), *p, *out;

	if (!all)
		return NULL;
	p = all + strlen(all);
	if (p > all && p[-1] == '\n')
		*--p = '\0';
	while (p > all && p[-1] != '\n')
		p--;
	out = strdup(p);
	free(all);
	return out;
}

static void check_setter(phd_ctx *ctx)
{
	struct phd_chart_ref ref = PHD_CHART_REF_INIT;
	const struct phd_chart_ref *c = (const void *)1;

	tap_is_int(phd_ctx_chart_resolved(ctx, &c), PHD_ENOTFOUND,
		   "nothing is resolved before a run");
	tap_ok(c == NULL, "... and *out is NULL");
	ref.source = PHD_CHART_FILE;
	ref.archive = "/x.tgz";
	ref.digest = "sha256:abc";
	tap_is_int(phd_ctx_set_chart_resolved(ctx, &ref), PHD_EINVAL,
		   "a digest that is not sha256:<64 hex> is refused");
	tap_like(phd_ctx_errmsg(ctx), "is not sha256:<64 hex digits>", "... saying what it must be");
	ref.digest = HEX;
	tap_is_int(phd_ctx_set_chart_resolved(ctx, &ref), PHD_EINVAL,
		   "a digest without its sha256: prefix is refused");
	ref.digest = NULL;
	ref.archive = NULL;
	tap_is_int(phd_ctx_set_chart_resolved(ctx, &ref), PHD_EINVAL,
		   "a record without an archive is refused");
	ref.archive = "/x.tgz";
	ref.source = 42;
	tap_is_int(phd_ctx_set_chart_resolved(ctx, &ref), PHD_EINVAL, "an unknown source is refused");
	ref.source = PHD_CHART_DIR;
	ref.version = 99;
	tap_is_int(phd_ctx_set_chart_resolved(ctx, &ref), PHD_EINVAL,
		   "a struct version this library does not know is refused");
	tap_is_int(phd_ctx_set_chart_resolved(ctx, NULL), 0, "NULL forgets (nothing to forget)");
	tap_is_int(phd_ctx_chart_resolved(NULL, &c), PHD_EINVAL, "a NULL context is EINVAL");
}

static const char yaml[] = "release: posthog\nnamespace: posthog\n"
			   "chart: { name: posthog/posthog, version: 30.46.0 }\n";

int main(void)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	struct seen s;
	const struct phd_chart_ref *c;
	phd_ctx *ctx = NULL;
	phd_plugin *p;
	char *cfg, state[1024], journal[1100], *line;
	unsigned upto_render = PHD_PHASE_BIT(PHD_PHASE_REPO) | PHD_PHASE_BIT(PHD_PHASE_RENDER);
	int rc;

	unsetenv("PHDEPLOY_PLUGIN_PATH");
	memset(&s, 0, sizeof s);
	cfg = tap_write_file("phdeploy.yaml", yaml, strlen(yaml));
	snprintf(state, sizeof state, "%s/state", tap_tmpdir());
	snprintf(journal, sizeof journal, "%s/journal.jsonl", state);
	o.config_path = cfg;
	o.state_dir = state;
	o.flags = PHD_OPT_NO_LOCK;
	if (phd_ctx_new(&ctx, &o) || phd_ctx_add_plugin(&p, ctx, "fetcher", "1") ||
	    phd_register_phase_handler(p, PHD_PHASE_REPO, repo, &s, NULL) ||
	    phd_register_phase_handler(p, PHD_PHASE_RENDER, render, &s, NULL)) {
		tap_ok(0, "a context with a repo handler: %s", ctx ? phd_ctx_errmsg(ctx) : "oom");
		phd_ctx_free(ctx);
		return tap_done();
	}
	s.ctx = ctx;
	phd_ctx_set_event_cb(ctx, on_event, &s);
	check_setter(ctx);

	s.publish = 1;
	rc = phd_run(ctx, upto_render);
	tap_is_int(rc, 0, "a run whose repo handler publishes the chart succeeds");
	tap_ok(s.render_saw, "render reads the archive the repo phase published");
	rc = phd_ctx_chart_resolved(ctx, &c);
	tap_ok(rc == 0 && c->source == PHD_CHART_REPO && !strcmp(c->name, "posthog") &&
	       !strcmp(c->chart_version, "30.46.0") && !strcmp(c->digest, "sha256:" HEX) &&
	       !strcmp(c->archive, "/run/x/posthog-30.46.0.tgz") &&
	       c->version == PHD_CHART_REF_VERSION,
	       "after the run the application reads name, version, digest, archive, source");
	tap_is_int(s.events, 1, "one chart event");
	tap_is_str(s.line, "posthog 30.46.0 sha256:" HEX " (repo: /run/x/posthog-30.46.0.tgz)",
		   "its message says name, version, digest, source and archive in one line");
	tap_ok(!strcmp(s.name, "posthog") && !strcmp(s.file, "/run/x/posthog-30.46.0.tgz"),
	       "its name is the chart, its file the archive");
	tap_ok(s.got_in_event, "the event callback can read the record already");
	line = last_line(journal);
	tap_like(line, "\"version\":\"30.46.0\",\"chart_resolved\":{\"name\":\"posthog\","
		 "\"version\":\"30.46.0\",\"digest\":\"sha256:" HEX "\"}",
		 "the journal records the resolved version and digest next to the pin");
	free(line);

	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
	tap_ok(rc == 0 && phd_ctx_chart_resolved(ctx, &c) == PHD_ENOTFOUND,
	       "a later run without the repo phase does not report the earlier chart");
	line = last_line(journal);
	tap_like(line, "\"chart_resolved\":null", "... nor journal it");
	free(line);

	s.publish = 0;
	s.render_saw = 1;
	rc = phd_run(ctx, upto_render);
	tap_ok(rc == 0 && !s.render_saw && phd_ctx_chart_resolved(ctx, &c) == PHD_ENOTFOUND,
	       "a repo handler that forgets the chart leaves nothing resolved");
	phd_ctx_free(ctx);
	free(cfg);
	return tap_done();
}
