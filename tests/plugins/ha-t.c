/* The ha plugin through the public API: loaded as a plugin, configured by
 * phdeploy.yaml, run by phd_run.  Values rules on the validate phase;
 * manifest rules on the real chart rendered by the real helm (3 and 4),
 * fed to the render phase by an in-process handler (the helm plugin's job
 * in production); live rules on a kubectl-style List in the verify phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "ha-util.h"
#include "tap/tap.h"

struct feed {
	char *buf;
	size_t len;
	const char *origin;
};

static int feed_fn(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	struct feed *f = ud;

	return phd_set_documents(ctx, phase, f->buf, f->len, f->origin);
}

static int nothing(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	(void)ctx, (void)phase, (void)ud;
	return 0;
}

struct result {
	int rc, failed;
	char *err;
	struct hfs l;
};

static void result_clear(struct result *r)
{
	free(r->err);
	hfs_clear(&r->l);
	memset(r, 0, sizeof *r);
}

/* Write config (with values: [values.yaml]) and values into a fresh
 * directory, run the phases in mask; feed, when given, is the stream the
 * render or verify phase hands to the validators. */
static void run(struct result *r, const char *config, const char *values, unsigned mask,
		struct feed *feed)
{
	static int n;
	struct phd_options opts = PHD_OPTIONS_INIT;
	char dir[512], path[600], plugdir[2600], *cfg;
	phd_ctx *ctx = NULL;
	phd_plugin *p;
	FILE *f;

	memset(r, 0, sizeof *r);
	snprintf(dir, sizeof dir, "%s/case-%d", tap_tmpdir(), ++n);
	{
		/* ha's rules, plus the plugins that provide what the example
		 * config names (checks, the file provider): validate refuses a
		 * check or provider no plugin provides */
		const char *top = tap_env("top_builddir", ".");
		snprintf(plugdir, sizeof plugdir, "%s/plugins/ha/.libs:%s/plugins/postgres/.libs:"
			 "%s/plugins/kafka/.libs:%s/plugins/redis/.libs:"
			 "%s/plugins/secret-file/.libs", top, top, top, top, top);
	}
	if (asprintf(&cfg, "%s\nvalues: [values.yaml]\n", config) < 0)
		abort();
	snprintf(path, sizeof path, "mkdir -p '%s'", dir);
	if (system(path) != 0)
		abort();
	snprintf(path, sizeof path, "%s/values.yaml", dir);
	if ((f = fopen(path, "w"))) {
		fputs(values, f);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/phdeploy.yaml", dir);
	if ((f = fopen(path, "w"))) {
		fputs(cfg, f);
		fclose(f);
	}
	free(cfg);
	opts.config_path = path;
	opts.plugin_path = plugdir;
	opts.flags = PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	opts.state_dir = dir;
	r->rc = phd_ctx_new(&ctx, &opts);
	if (r->rc == 0)
		r->rc = phd_ctx_load(ctx);
	if (r->rc == 0) {
		/* The phases around render/verify have no provider here. */
		r->rc = phd_ctx_add_plugin(&p, ctx, "test-feed", "1");
		for (int ph = PHD_PHASE_SECRETS; r->rc == 0 && ph < PHD_PHASE_COUNT; ph++)
			if (ph != PHD_PHASE_PREFLIGHT)
				r->rc = phd_register_phase_handler(p, ph,
					feed && (ph == PHD_PHASE_RENDER || ph == PHD_PHASE_VERIFY) ?
					feed_fn : nothing, feed, NULL);
	}
	if (r->rc == 0)
		r->rc = phd_run(ctx, mask);
	r->failed = ctx ? phd_ctx_failed_phase(ctx) : -1;
	r->err = strdup(ctx ? phd_ctx_errmsg(ctx) : "no context");
	if (ctx)
		hfs_from_ctx(&r->l, ctx);
	phd_ctx_free(ctx);
}

#define VALIDATE PHD_PHASE_BIT(PHD_PHASE_VALIDATE)
#define RENDER PHD_PHASE_BIT(PHD_PHASE_RENDER)
#define VERIFY PHD_PHASE_BIT(PHD_PHASE_VERIFY)

static char *example(const char *name)
{
	return tap_slurp(ha_src(name), NULL);
}

/* ---- validate phase ------------------------------------------------------ */

static void test_values(void)
{
	struct result r;
	const struct hf *f;
	char *ex_cfg = example("examples/phdeploy.yaml"), *ex_vals = example("examples/values.yaml");

	run(&r, "release: posthog\nnamespace: posthog\n", "cloud: aws\n", VALIDATE, NULL);
	tap_ok(r.rc < 0 && r.failed == PHD_PHASE_VALIDATE,
	       "chart defaults: the validate phase fails (%s)", r.err);
	tap_is_int((long long)hfs_at_sev(&r.l, PHD_SEV_ERROR), 12, "chart defaults: 12 errors");
	tap_ok(hfs_count(&r.l, "posthog-external", NULL, PHD_SEV_ERROR) == 3 &&
	       hfs_count(&r.l, "replicas", NULL, PHD_SEV_ERROR) == 6 &&
	       hfs_count(&r.l, "posthog-zookeeper", NULL, PHD_SEV_ERROR) == 1 &&
	       hfs_count(&r.l, "image-pinned", NULL, PHD_SEV_ERROR) == 1 &&
	       hfs_count(&r.l, "posthog-existing-secret", NULL, PHD_SEV_ERROR) == 1,
	       "chart defaults: external services, replicas, ZooKeeper, image, ClickHouse password");
	f = hfs_find(&r.l, "posthog-zookeeper", NULL);
	tap_ok(f && f->key && strcmp(f->key, "zookeeper.replicaCount") == 0,
	       "a finding carries the values key that fixes it");
	hfs_dump(&r.l, "chart defaults");
	result_clear(&r);

	run(&r, "release: posthog\nrules: { replicas: warn, pdb: off, posthog-external: info }\n",
	    "cloud: aws\n", VALIDATE, NULL);
	tap_ok(hfs_count(&r.l, "replicas", NULL, PHD_SEV_WARN) == 6 &&
	       hfs_count(&r.l, "replicas", NULL, PHD_SEV_ERROR) == 0,
	       "rules: replicas: warn turns the replicas errors into warnings");
	tap_is_int((long long)hfs_count(&r.l, "pdb", NULL, -1), 0, "rules: pdb: off silences pdb");
	tap_is_int((long long)hfs_count(&r.l, "posthog-external", NULL, PHD_SEV_INFO), 3,
		   "rules: posthog-external: info");
	result_clear(&r);

	run(&r, "release: posthog\nexemptions:\n"
		"  - { rule: posthog-zookeeper, object: \"StatefulSet/*-zookeeper\", reason: one ZooKeeper in staging }\n"
		"  - { rule: posthog-cloud, object: values, reason: stale }\n",
	    "cloud: aws\nzookeeper: { replicaCount: 1 }\n", VALIDATE, NULL);
	f = hfs_find(&r.l, "posthog-zookeeper", NULL);
	tap_ok(f && f->sev == PHD_SEV_INFO && strstr(f->msg, "one ZooKeeper in staging"),
	       "an exempted finding is info with its reason");
	f = hfs_find(&r.l, "exempt-unused", NULL);
	tap_ok(f && f->sev == PHD_SEV_WARN && f->line == 4 && strstr(f->msg, "posthog-cloud"),
	       "an exemption that matches nothing is reported at its line");
	result_clear(&r);

	run(&r, "release: posthog\n", "cloud: aws\nweb:\n  replicacount: 1\n", VALIDATE, NULL);
	f = hfs_find(&r.l, "replicas", "Deployment/posthog-web");
	tap_ok(f && f->file && strstr(f->file, "values.yaml") && f->line == 3,
	       "values findings point at values.yaml:3 through the pipeline");
	result_clear(&r);

	run(&r, "release: posthog\nha: { exempt: [] }\n", "cloud: aws\n", VALIDATE, NULL);
	tap_ok(r.rc < 0 && strstr(r.err, "phdeploy.yaml:2") && strstr(r.err, "exemptions"),
	       "ha.exempt is refused with a pointer to exemptions: %s", r.err);
	result_clear(&r);
	run(&r, "release: posthog\nha:\n  min_replicas: zero\n", "cloud: aws\n", VALIDATE, NULL);
	tap_ok(r.rc < 0 && strstr(r.err, "phdeploy.yaml:3") && strstr(r.err, "min_replicas"),
	       "a bad ha.min_replicas is a positioned error: %s", r.err);
	result_clear(&r);
	run(&r, "release: posthog\nkube: { version: banana }\n", "cloud: aws\n", VALIDATE, NULL);
	tap_ok(r.rc < 0 && strstr(r.err, "phdeploy.yaml:2") && strstr(r.err, "banana"),
	       "a kube.version that is not a version is a positioned error: %s", r.err);
	result_clear(&r);
	run(&r, "release: posthog\nha: { posthog: false }\n", "{}\n", VALIDATE, NULL);
	tap_ok(r.rc == 0 && r.l.n == 0, "ha.posthog: false turns the values rules off");
	result_clear(&r);

	if (!ex_cfg || !ex_vals) {
		tap_skip(1, "examples not readable");
	} else {
		/* The example config, minus its values line (run adds one). */
		char *c = strstr(ex_cfg, "values: [values.yaml]");
		if (c)
			memset(c, ' ', strlen("values: [values.yaml]"));
		run(&r, ex_cfg, ex_vals, VALIDATE, NULL);
		tap_ok(r.rc == 0 && hfs_at_sev(&r.l, PHD_SEV_ERROR) == 0,
		       "examples/phdeploy.yaml + values.yaml validate without error (%s)", r.err);
		hfs_dump(&r.l, "examples, validate");
		result_clear(&r);
	}
	free(ex_cfg);
	free(ex_vals);
}

/* ---- render phase on the real chart --------------------------------------- */

/* What the deploy's post-render step does: the ZooKeeper subchart's
 * PodDisruptionBudget from policy/v1beta1 to policy/v1. */
static int post_render(char *buf)
{
	static const char from[] = "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget";
	int n = 0;
	char *p;

	for (p = buf; (p = strstr(p, from)); p += sizeof from - 1, n++)
		memcpy(p, "apiVersion: policy/v1     ", 26);
	return n;
}

static void test_render_defaults(const char *helm)
{
	char *vals = tap_write_file("defaults.yaml", "cloud: aws\n", 11);
	struct feed f = { NULL, 0, "helm-template" };
	struct result r;
	static const char *const workloads[] = {
		"Deployment/clickhouse-operator", "Deployment/posthog-events",
		"Deployment/posthog-pgbouncer", "Deployment/posthog-plugins", "Deployment/posthog-web",
		"Deployment/posthog-worker-default", "StatefulSet/posthog-posthog-kafka",
		"StatefulSet/posthog-posthog-postgresql", "StatefulSet/posthog-posthog-redis-master",
		"StatefulSet/posthog-posthog-zookeeper", "ClickHouseInstallation/posthog",
	};
	size_t i, found = 0;
	const struct hf *h;

	f.buf = ha_render(helm, vals, &f.len);
	free(vals);
	if (!tap_ok(f.buf != NULL, "helm renders the chart with its defaults")) {
		tap_skip(6, "no rendering");
		return;
	}
	run(&r, "release: posthog\nnamespace: posthog\nkube: { version: \"1.29\" }\nha: { posthog: false }\n",
	    "cloud: aws\n", RENDER, &f);
	tap_ok(r.rc < 0 && r.failed == PHD_PHASE_RENDER, "defaults: the render phase fails (%s)", r.err);
	for (i = 0; i < sizeof workloads / sizeof workloads[0]; i++)
		found += hfs_count(&r.l, "replicas", workloads[i], PHD_SEV_ERROR) == 1;
	tap_is_int((long long)found, 11, "defaults: every Deployment, StatefulSet and the "
		   "ClickHouse installation runs one replica");
	tap_ok(hfs_count(&r.l, "probes", "Deployment/posthog-worker-default/posthog-workers", PHD_SEV_ERROR) == 1 &&
	       hfs_count(&r.l, "probes", "Deployment/clickhouse-operator/clickhouse-operator", PHD_SEV_ERROR) == 1 &&
	       hfs_count(&r.l, "probes", "Deployment/clickhouse-operator/metrics-exporter", PHD_SEV_ERROR) == 1 &&
	       hfs_count(&r.l, "probes", NULL, -1) == 3,
	       "defaults: the worker and the operator's two containers have no probes");
	tap_is_int((long long)hfs_at_sev(&r.l, PHD_SEV_ERROR), 14, "defaults: 14 errors in all");
	tap_ok(hfs_count(&r.l, "image-pinned", "Deployment/posthog-web/posthog-web", PHD_SEV_WARN) == 1 &&
	       hfs_count(&r.l, "image-pinned", "Deployment/clickhouse-operator/metrics-exporter", -1) == 1 &&
	       hfs_count(&r.l, "removed-api", NULL, -1) == 0 && hfs_count(&r.l, "manifest", NULL, -1) == 0,
	       "defaults: latest images warned, no removed API, no malformed document");
	h = hfs_find(&r.l, "replicas", "Deployment/posthog-web");
	tap_ok(h && h->key && strcmp(h->key, "web.replicacount") == 0 && h->file &&
	       strcmp(h->file, "helm-template") == 0 && h->line > 0,
	       "a manifest finding names the values key and its place in the rendered stream");
	hfs_dump(&r.l, "defaults, rendered");
	result_clear(&r);
	free(f.buf);
}

static void test_render_example(const char *helm, const char *which)
{
	char *cfg = example("examples/phdeploy.yaml"), *vals = example("examples/values.yaml");
	struct feed f = { NULL, 0, "helm-template" };
	struct result r;
	char *c, *exact = NULL;

	if (!cfg || !vals) {
		tap_skip(4, "examples not readable");
		free(cfg);
		free(vals);
		return;
	}
	if ((c = strstr(cfg, "values: [values.yaml]")))
		memset(c, ' ', strlen("values: [values.yaml]"));
	f.buf = ha_render(helm, ha_src("examples/values.yaml"), &f.len);
	if (!tap_ok(f.buf != NULL, "%s renders examples/values.yaml", which)) {
		tap_skip(4, "no rendering");
		goto out;
	}
	run(&r, cfg, vals, RENDER, &f);
	tap_ok(hfs_at_sev(&r.l, PHD_SEV_ERROR) == 1 &&
	       hfs_count(&r.l, "removed-api", "PodDisruptionBudget/posthog-posthog-zookeeper",
			 PHD_SEV_ERROR) == 1,
	       "%s, example: the one error is ZooKeeper's policy/v1beta1 PDB", which);
	tap_ok(hfs_count(&r.l, "probes", "Deployment/posthog-worker-default/posthog-workers",
			 PHD_SEV_INFO) == 1 && hfs_count(&r.l, "exempt-unused", NULL, -1) == 0,
	       "%s, example: the worker's missing probes are exempted, every exemption is used", which);
	hfs_dump(&r.l, which);
	result_clear(&r);
	/* no glob: the core's rule says Kind/name covers its containers */
	if ((c = strstr(cfg, "Deployment/posthog-worker-*")) &&
	    (exact = malloc(strlen(cfg) + 16)) != NULL)
		sprintf(exact, "%.*sDeployment/posthog-worker-default%s", (int)(c - cfg), cfg,
			c + strlen("Deployment/posthog-worker-*"));
	run(&r, exact ? exact : cfg, vals, RENDER, &f);
	free(exact);
	tap_ok(hfs_count(&r.l, "probes", "Deployment/posthog-worker-default/posthog-workers",
			 PHD_SEV_INFO) == 1 && hfs_count(&r.l, "exempt-unused", NULL, -1) == 0,
	       "%s: an exemption of Deployment/NAME covers its containers, and counts as used",
	       which);
	result_clear(&r);
	tap_is_int(post_render(f.buf), 1, "%s: the post-render step rewrites one PDB", which);
	run(&r, cfg, vals, RENDER, &f);
	tap_ok(r.rc == 0 && hfs_at_sev(&r.l, PHD_SEV_ERROR) == 0,
	       "%s, example after post-render: no error (%s)", which, r.err);
	result_clear(&r);
out:
	free(f.buf);
	free(cfg);
	free(vals);
}

/* ---- malformed streams ------------------------------------------------------ */

static void test_malformed(void)
{
	static const char bad[] =
		"---\n"
		"just a scalar\n"
		"---\n"
		"---\n"
		"- a\n- list\n"
		"---\n"
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: nospec }\n"
		"---\n"
		"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: { name: s }\n"
		"spec: { replicas: [3], template: { spec: { containers: [ { name: c, image: a:1 } ] } } }\n"
		"---\n";
	struct feed f = { NULL, 0, "bad-stream" };
	struct result r;
	const struct hf *h;
	size_t i, big = 10u << 20;

	f.buf = strdup(bad);
	f.len = strlen(bad);
	run(&r, "release: x\nha: { posthog: false }\n", "{}\n", RENDER, &f);
	tap_is_int((long long)hfs_count(&r.l, "manifest", NULL, PHD_SEV_ERROR), 4,
		   "malformed stream: four positioned manifest errors, empty documents skipped");
	h = hfs_find(&r.l, "manifest", "StatefulSet/s");
	tap_ok(h && h->file && strcmp(h->file, "bad-stream") == 0 && h->line == 15,
	       "malformed stream: spec.replicas: [3] is named at bad-stream:15");
	hfs_dump(&r.l, "malformed");
	result_clear(&r);
	free(f.buf);

	/* 10 MB of junk: first a long plain scalar, then broken syntax. */
	f.buf = malloc(big + 1);
	for (i = 0; i < big; i++)
		f.buf[i] = (char)('a' + (i * 7) % 26);
	for (i = 80; i < big; i += 81)
		f.buf[i] = '\n';
	f.buf[big] = '\0';
	f.len = big;
	run(&r, "release: x\nha: { posthog: false }\n", "{}\n", RENDER, &f);
	tap_ok(r.rc < 0 && (hfs_count(&r.l, "manifest", NULL, -1) >= 1 || strstr(r.err, "bad") ||
			    strstr(r.err, ":")),
	       "10 MB of text: refused with a message, no crash (%.120s)", r.err);
	result_clear(&r);
	for (i = 0; i < big; i++)
		f.buf[i] = "{[:-&*!|>'\"%@`,]}\n"[(i * 13) % 18];
	run(&r, "release: x\nha: { posthog: false }\n", "{}\n", RENDER, &f);
	tap_ok(r.rc < 0 && strlen(r.err) > 0, "10 MB of YAML punctuation: an error, no crash (%.120s)",
	       r.err);
	result_clear(&r);
	free(f.buf);
}

/* ---- verify phase --------------------------------------------------------- */

static void test_verify(void)
{
	char *json = tap_slurp(ha_src("tests/data/ha/live.json"), NULL);
	struct feed f = { json, json ? strlen(json) : 0, "kubectl-get" };
	struct result r;

	if (!json) {
		tap_skip(4, "tests/data/ha/live.json missing");
		return;
	}
	run(&r, "release: posthog\nnamespace: posthog\nkube: { version: \"1.29\" }\nha: { posthog: false }\n",
	    "{}\n", VERIFY, &f);
	tap_ok(r.rc < 0 && r.failed == PHD_PHASE_VERIFY, "live: the verify phase fails (%s)", r.err);
	tap_ok(hfs_count(&r.l, "rollout", "Deployment/posthog-web", PHD_SEV_ERROR) == 1 &&
	       hfs_count(&r.l, "rollout", NULL, -1) == 1,
	       "live: web has 1 of 2 replicas available, events is rolled out");
	tap_ok(hfs_count(&r.l, "spread", "Deployment/posthog-events", PHD_SEV_ERROR) == 1,
	       "live: both events pods on one node is a spread error");
	tap_ok(hfs_count(&r.l, "replicas", NULL, -1) == 0 && hfs_count(&r.l, "probes", NULL, -1) == 0,
	       "live: the manifest rules hold on the live objects");
	hfs_dump(&r.l, "live");
	result_clear(&r);
	free(json);
}

int main(void)
{
	const char *helm4 = ha_tool("helm4"), *helm3 = ha_tool("helm3");

	/* only the plugin under test: the kube plugin would read a live cluster */
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1);
	test_values();
	test_malformed();
	test_verify();
	if (!ha_chart()) {
		tap_skip(20, "chart fixture not found ($PHD_FIXTURES/posthog-30.46.0.tgz)");
		return tap_done();
	}
	if (helm4) {
		test_render_defaults(helm4);
		test_render_example(helm4, "helm4");
	} else {
		tap_skip(12, "no helm4 in $PHD_TOOLS (scripts/fetch-tools)");
	}
	if (helm3)
		test_render_example(helm3, "helm3");
	else
		tap_skip(5, "no helm3 in $PHD_TOOLS (scripts/fetch-tools)");
	return tap_done();
}
