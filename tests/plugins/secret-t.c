/* Harness of the secret-* plugin tests (see secret-t.h). */
#include "secret-t.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"

void st_init(void)
{
	const char *pp = getenv("PHDEPLOY_PLUGIN_PATH");
	char *copy, *tok, *save = NULL, keep[8192] = "";

	if (!pp)
		return;
	copy = strdup(pp);
	for (tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
		if (strstr(tok, "/plugins/secret-") &&
		    strlen(keep) + strlen(tok) + 2 < sizeof keep) {
			strcat(keep, tok);
			strcat(keep, ":");
		}
	setenv("PHDEPLOY_PLUGIN_PATH", keep, 1);
	free(copy);
}

const char *st_dir(void)
{
	static char dir[4096];
	static int n;

	snprintf(dir, sizeof dir, "%s/run%d", tap_tmpdir(), ++n);
	if (mkdir(dir, 0700) != 0) {
		printf("Bail out! mkdir %s\n", dir);
		exit(1);
	}
	return dir;
}

void st_file(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

static void append(struct st_run *r, const char *s)
{
	size_t n = strlen(s);

	if (r->out_len + n + 2 > r->out_cap) {
		size_t cap = (r->out_cap + n + 2) * 2;
		char *p = realloc(r->out, cap);

		if (!p)
			return;
		r->out = p;
		r->out_cap = cap;
	}
	memcpy(r->out + r->out_len, s, n);
	r->out_len += n;
	r->out[r->out_len++] = '\n';
	r->out[r->out_len] = '\0';
}

static void on_log(int level, const char *msg, void *payload)
{
	(void)level;
	append(payload, msg);
}

static void on_event(const struct phd_event *ev, void *payload)
{
	if (ev->message)
		append(payload, ev->message);
	if (ev->name)
		append(payload, ev->name);
}

/* The kube plugin applies Secrets; these tests load only the providers, so
 * an in-process handler takes its place and applies nothing. */
static int apply_nothing(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	(void)mode;
	(void)ctx; (void)phase; (void)userdata;
	return 0;
}

static int add_apply_stand_in(phd_ctx *ctx)
{
	phd_plugin *p;
	int rc = phd_ctx_add_plugin(&p, ctx, "secrets-test-apply", "1.0");

	return rc ? rc : phd_register_phase_handler(p, PHD_PHASE_SECRETS, apply_nothing, NULL,
						    NULL);
}

int st_run(struct st_run *r, const char *dir, const char *body)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	char cfg[4096], *text;
	size_t n = strlen(body) + 64;

	memset(r, 0, sizeof *r);
	text = malloc(n);
	snprintf(text, n, "release: posthog\nnamespace: posthog\n%s", body);
	st_file(dir, "phdeploy.yaml", text);
	free(text);
	snprintf(cfg, sizeof cfg, "%s/phdeploy.yaml", dir);
	o.flags = PHD_OPT_DRY_RUN | PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	o.config_path = cfg;
	o.verbosity = 2;
	r->rc = phd_ctx_new(&r->ctx, &o);
	if (!r->ctx) {
		r->err = "phd_ctx_new: out of memory";
		return r->rc;
	}
	phd_ctx_set_log(r->ctx, on_log, r);
	phd_ctx_set_event_cb(r->ctx, on_event, r);
	if (r->rc == 0)
		r->rc = phd_ctx_load(r->ctx);
	if (r->rc == 0)
		r->rc = add_apply_stand_in(r->ctx);
	if (r->rc == 0)
		r->rc = phd_run(r->ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	r->err = phd_ctx_errmsg(r->ctx);
	if (r->rc)
		tap_diag("run: %s", r->err);
	if (!r->out)
		append(r, "");
	return r->rc;
}

void st_done(struct st_run *r)
{
	phd_ctx_free(r->ctx);
	free(r->out);
	memset(r, 0, sizeof *r);
}

char *st_value(const phd_ctx *ctx, const char *name, const char *key)
{
	const unsigned char *v;
	size_t len;
	char *s;

	if (!ctx || phd_secret_get(ctx, name, key, &v, &len) != 0)
		return NULL;
	s = malloc(len + 1);
	memcpy(s, v, len);
	s[len] = '\0';
	return s;
}

int st_is(const struct st_run *r, const char *name, const char *key, const char *want,
	  const char *desc)
{
	char *got = st_value(r->ctx, name, key);
	int ok = tap_is_str(got ? got : "(missing)", want, "%s", desc);

	free(got);
	return ok;
}

int st_contains(const char *hay, size_t len, const char *needle)
{
	return hay && memmem(hay, len, needle, strlen(needle)) != NULL;
}
