/* The kube plugin through the core: SECRETS (cross-check, namespace, apply
 * on stdin, read-back, dry run, failures), VERIFY (live objects to the
 * validators), ordering against the deploy, and no secret leaking anywhere.
 * kubectl is the stand-in (tests/bin/stand-in-kubectl) only where an API
 * server would answer; the real kubectl where it can run (no cluster). */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <phdeploy/plugin.h>

#include "../../plugins/kube/kube.h"
#include "../tap/tap.h"

/* Test secret values: none may appear anywhere but kubectl's stdin. */
static const char *const vals[][3] = {
	{ "posthog-postgres", "postgresql-password", "pg-Secret-7c1e9a" },
	{ "posthog-redis", "redis-password", "redis-Secret-41b8d2" },
	{ "posthog-app", "posthog-secret", "app-Secret-90f3ab" },
	{ "posthog-clickhouse", "admin-password", "ch-Secret-2d77e0" },
	{ "posthog-kafka", "sasl-password", "kafka-Secret-c0ffee" },
};
#define NVALS (sizeof(vals) / sizeof(vals[0]))

struct run {
	char dir[512];          /* scenario dir: standin/, tmp/ */
	char standin[600];
	phd_ctx *ctx;
	char *log;              /* every log line and event, as text */
	size_t loglen;
	FILE *logf;
	size_t skip_secret;     /* index of vals not provided, or NVALS */
	size_t applies_at_deploy;
	int deploy_ran;
	json_t *verify_docs;    /* kind/name of what the VERIFY validators saw */
};

static const char *srcdir(void)
{
	return tap_env("top_srcdir", ".");
}

static void on_log(int level, const char *msg, void *payload)
{
	struct run *r = payload;
	fprintf(r->logf, "LOG%d %s\n", level, msg);
}

static void on_event(const struct phd_event *ev, void *payload)
{
	struct run *r = payload;
	fprintf(r->logf, "EV%d %s|%s|%s|%s:%u\n", ev->type, ev->name ? ev->name : "",
		ev->object ? ev->object : "", ev->message ? ev->message : "",
		ev->file ? ev->file : "", ev->line);
}

static int provider(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink, void *ud)
{
	struct run *r = ud;
	(void)ctx;
	for (size_t i = 0; i < NVALS; i++) {
		int rc;
		if (i == r->skip_secret)
			continue;
		rc = phd_secret_add(sink, vals[i][0], vals[i][1], vals[i][2], strlen(vals[i][2]),
				    entry);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static size_t count_calls(const struct run *r, const char *word);

static int deploy_handler(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	struct run *r = ud;
	(void)ctx;
	(void)phase;
	r->deploy_ran = 1;
	r->applies_at_deploy = count_calls(r, "apply");
	return 0;
}

/* Stands in for the helm plugin's repo and render steps in the ordering test. */
static int noop_handler(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	(void)ctx;
	(void)phase;
	(void)ud;
	return 0;
}

static int record_docs(phd_validation *v, void *ud)
{
	struct run *r = ud;
	for (size_t i = 0; i < phd_validation_doc_count(v); i++) {
		const phd_node *d = phd_validation_doc(v, i);
		char buf[300];
		snprintf(buf, sizeof(buf), "%s/%s", phd_node_str(phd_node_get(d, "kind")),
			 phd_node_str(phd_node_get(d, "metadata.name")));
		json_array_append_new(r->verify_docs, json_string(buf));
	}
	return 0;
}

static void mkdirs(const char *path)
{
	char tmp[1024];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0700);
			*p = '/';
		}
	}
	mkdir(tmp, 0700);
}

static void touch(const struct run *r, const char *rel, const char *data)
{
	char path[1024];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s", r->standin, rel);
	*strrchr(path, '/') = '\0';
	mkdirs(path);
	snprintf(path, sizeof(path), "%s/%s", r->standin, rel);
	f = fopen(path, "w");
	if (f) {
		fputs(data ? data : "", f);
		fclose(f);
	}
}

static void copy_fixture(const struct run *r, const char *fixture, const char *rel)
{
	char path[1024];
	char *data;
	snprintf(path, sizeof(path), "%s/tests/data/kube/%s", srcdir(), fixture);
	data = tap_slurp(path, NULL);
	touch(r, rel, data);
	free(data);
}

/* A fresh scenario: config, stand-in cluster, context (not yet run). */
static int setup_cfg(struct run *r, const char *name, const char *values, unsigned flags,
		     const char *kubectl, const char *cfg_extra)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	const char *vfiles[1];
	char cfg[1024], vpath[1024], kpath[1024], tmp[700];
	phd_plugin *p;
	FILE *f;
	int rc;

	memset(r, 0, sizeof(*r));
	r->skip_secret = NVALS;
	snprintf(r->dir, sizeof(r->dir), "%s/%s", tap_tmpdir(), name);
	snprintf(r->standin, sizeof(r->standin), "%s/standin", r->dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", r->dir);
	mkdirs(r->standin);
	mkdirs(tmp);
	setenv("KUBE_STANDIN_DIR", r->standin, 1);
	setenv("TMPDIR", tmp, 1);
	r->logf = open_memstream(&r->log, &r->loglen);
	r->verify_docs = json_array();

	snprintf(cfg, sizeof(cfg), "%s/phdeploy.yaml", r->dir);
	f = fopen(cfg, "w");
	fputs("release: posthog\nnamespace: posthog\nsecrets:\n  - { provider: testsecret }\n", f);
	if (cfg_extra)
		fputs(cfg_extra, f);
	fclose(f);
	snprintf(vpath, sizeof(vpath), "%s/tests/data/kube/%s", srcdir(), values);
	vfiles[0] = vpath;
	snprintf(kpath, sizeof(kpath), "%s", kubectl ? kubectl : "");
	if (!kubectl)
		snprintf(kpath, sizeof(kpath), "%s/tests/bin/stand-in-kubectl", srcdir());
	o.flags = flags | PHD_OPT_NO_LOCK;
	o.config_path = cfg;
	o.values = vfiles;
	o.nvalues = 1;
	o.kubectl_path = kpath;
	o.kube_context = "testctx";
	rc = phd_ctx_new(&r->ctx, &o);
	if (rc < 0) {
		tap_diag("phd_ctx_new: %s", r->ctx ? phd_ctx_errmsg(r->ctx) : "no memory");
		return rc;
	}
	phd_ctx_set_log(r->ctx, on_log, r);
	phd_ctx_set_event_cb(r->ctx, on_event, r);
	rc = phd_ctx_add_plugin(&p, r->ctx, "kube-t", "1");
	if (rc == 0)
		rc = phd_register_secret_provider(p, "testsecret", provider, r, NULL);
	if (rc == 0)
		rc = phd_register_phase_handler(p, PHD_PHASE_REPO, noop_handler, NULL, NULL);
	if (rc == 0)
		rc = phd_register_phase_handler(p, PHD_PHASE_RENDER, noop_handler, NULL, NULL);
	if (rc == 0)
		rc = phd_register_phase_handler(p, PHD_PHASE_DEPLOY, deploy_handler, r, NULL);
	if (rc == 0)
		rc = phd_register_validator(p, "kube-t-record", PHD_PHASE_VERIFY, record_docs, r, NULL);
	if (rc < 0)
		tap_diag("registering the test plugin: %s", phd_ctx_errmsg(r->ctx));
	return rc;
}

static int setup(struct run *r, const char *name, const char *values, unsigned flags,
		 const char *kubectl)
{
	return setup_cfg(r, name, values, flags, kubectl, NULL);
}

static const char *logtext(struct run *r)
{
	fflush(r->logf);
	return r->log ? r->log : "";
}

static void teardown(struct run *r)
{
	if (r->ctx)
		phd_ctx_free(r->ctx);
	fclose(r->logf);
	free(r->log);
	json_decref(r->verify_docs);
	unsetenv("KUBE_STANDIN_DIR");
}

/* Recorded stand-in calls, in order: argv arrays. */
static json_t *calls(const struct run *r, size_t i, char **stdin_out)
{
	char path[1024];
	json_t *j;
	snprintf(path, sizeof(path), "%s/calls/%04zu.json", r->standin, i);
	j = json_load_file(path, 0, NULL);
	if (j && stdin_out) {
		snprintf(path, sizeof(path), "%s/calls/%04zu.stdin", r->standin, i);
		*stdin_out = tap_slurp(path, NULL);
	}
	return j;
}

static int argv_has(json_t *call, const char *word)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(call, "argv"), i, a)
		if (!strcmp(json_string_value(a), word))
			return 1;
	return 0;
}

static size_t count_calls(const struct run *r, const char *word)
{
	size_t n = 0;
	json_t *c;
	for (size_t i = 0; (c = calls(r, i, NULL)) != NULL; i++) {
		n += argv_has(c, word);
		json_decref(c);
	}
	return n;
}

static size_t ncalls(const struct run *r)
{
	size_t n = 0;
	json_t *c;
	while ((c = calls(r, n, NULL)) != NULL) {
		json_decref(c);
		n++;
	}
	return n;
}

static char *b64(const char *s)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t len = strlen(s), o = 0;
	char *out = malloc(len / 3 * 4 + 8);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned char)s[i] << 16;
		if (i + 1 < len) v |= (unsigned char)s[i + 1] << 8;
		if (i + 2 < len) v |= (unsigned char)s[i + 2];
		out[o++] = t[(v >> 18) & 63];
		out[o++] = t[(v >> 12) & 63];
		out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? t[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* Whether any secret value (plain or base64) is in text. */
static const char *leaked(const char *text, size_t len)
{
	static char hit[64];
	for (size_t i = 0; i < NVALS; i++) {
		char *e = b64(vals[i][2]);
		int found = memmem(text, len, vals[i][2], strlen(vals[i][2])) ||
			    memmem(text, len, e, strlen(e));
		free(e);
		if (found) {
			snprintf(hit, sizeof(hit), "%s", vals[i][2]);
			return hit;
		}
	}
	return NULL;
}

/* Scan every file below dir (skipping names that end in skip_suffix). */
static const char *leaked_in_tree(const char *dir, const char *skip_suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	const char *hit = NULL;

	if (!d)
		return NULL;
	while (!hit && (e = readdir(d)) != NULL) {
		char path[2048];
		struct stat st;
		size_t nl = strlen(e->d_name);
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			hit = leaked_in_tree(path, skip_suffix);
		} else if (S_ISREG(st.st_mode) && !(skip_suffix && nl >= strlen(skip_suffix) &&
			   !strcmp(e->d_name + nl - strlen(skip_suffix), skip_suffix))) {
			size_t len;
			char *data = tap_slurp(path, &len);
			if (data)
				hit = leaked(data, len);
			free(data);
		}
	}
	closedir(d);
	return hit;
}

static void test_apply(void)
{
	struct run r;
	size_t n, applies = 0, napplied_ok = 0;
	json_t *c;
	const char *hit = NULL;
	char *in = NULL, path[1024];
	int rc, argv_clean = 1, env_clean = 1, ssa = 1, ctxflag = 1, stdin_has_all = 1;

	if (setup(&r, "apply", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(12, "cannot set up");
		return;
	}
	/* The SMTP Secret exists in the cluster already, made by someone else. */
	touch(&r, "secrets/posthog/posthog-smtp.json",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"Opaque\",\"metadata\":"
	      "{\"name\":\"posthog-smtp\",\"namespace\":\"posthog\"},\"data\":{\"smtp-password\":"
	      "\"c210cA==\"}}");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "secrets phase succeeds when every reference is provided or present (%s)",
		   phd_ctx_errmsg(r.ctx));
	n = ncalls(&r);
	for (size_t i = 0; i < n; i++) {
		char *sin = NULL;
		c = calls(&r, i, &sin);
		if (argv_has(c, "apply")) {
			applies++;
			ssa &= argv_has(c, "--server-side") && argv_has(c, "--field-manager=phdeploy");
			if (!argv_has(c, "-"))
				ssa = 0;
			if (!in) {
				in = sin;
				sin = NULL;
			} else {
				char *m = NULL;
				if (asprintf(&m, "%s%s", in, sin ? sin : "") >= 0) {
					free(in);
					in = m;
				}
			}
		}
		ctxflag &= argv_has(c, "--context=testctx");
		{
			char *a = json_dumps(json_object_get(c, "argv"), 0);
			char *e = json_dumps(json_object_get(c, "env"), 0);
			if (a && leaked(a, strlen(a)))
				argv_clean = 0;
			if (e && leaked(e, strlen(e)))
				env_clean = 0;
			free(a);
			free(e);
		}
		free(sin);
		json_decref(c);
	}
	c = calls(&r, 0, NULL);
	tap_ok(c && argv_has(c, "get") && argv_has(c, "secret") && argv_has(c, "posthog-smtp"),
	       "the one reference no provider yields is looked up in the cluster first");
	json_decref(c);
	tap_is_int((long long)applies, NVALS, "each provided Secret is applied once");
	tap_ok(ssa, "with server-side apply, field manager phdeploy, manifest on stdin (-f -)");
	tap_ok(ctxflag, "every kubectl call carries --context from the options");
	for (size_t i = 0; i < NVALS; i++) {
		char *e = b64(vals[i][2]);
		stdin_has_all &= in && strstr(in, e) != NULL;
		free(e);
	}
	tap_ok(stdin_has_all, "every value arrived on kubectl's stdin (base64)");
	tap_ok(argv_clean, "no value (plain or base64) in any child's argv");
	tap_ok(env_clean, "no value in any child's environment");
	snprintf(path, sizeof(path), "%s/namespaces/posthog", r.standin);
	tap_ok(access(path, F_OK) == 0, "the missing namespace was created");
	c = calls(&r, 1, NULL);
	tap_ok(c && argv_has(c, "namespace") && argv_has(c, "get"),
	       "the namespace is looked up before anything is applied");
	json_decref(c);
	for (size_t i = 0; i < NVALS; i++) {
		snprintf(path, sizeof(path), "%s/secrets/posthog/%s.json", r.standin, vals[i][0]);
		napplied_ok += access(path, F_OK) == 0;
	}
	tap_is_int((long long)napplied_ok, NVALS, "all Secrets are in the (stand-in) cluster");
	tap_ok(count_calls(&r, "-o") && count_calls(&r, KUBE_KEYS_TEMPLATE) == NVALS + 1,
	       "each applied Secret's key names are read back");
	hit = leaked(logtext(&r), strlen(logtext(&r)));
	if (!hit)
		hit = leaked_in_tree(tap_env("PHDEPLOY_STATE_DIR", "/nonexistent"), NULL);
	if (!hit) {
		snprintf(path, sizeof(path), "%s/tmp", r.dir);
		hit = leaked_in_tree(path, NULL);
	}
	tap_ok(hit == NULL, "no value in logs, events, journal, temp dir or stored answers%s%s",
	       hit ? ": found " : "", hit ? hit : "");
	free(in);
	teardown(&r);
}

static void test_missing(void)
{
	struct run r;
	int rc;

	if (setup(&r, "missing", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(6, "cannot set up");
		return;
	}
	r.skip_secret = 4;   /* nobody yields posthog-kafka; the cluster lacks it */
	touch(&r, "secrets/posthog/posthog-smtp.json",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"posthog-smtp\","
	      "\"namespace\":\"posthog\"},\"data\":{\"other-key\":\"eA==\"}}");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, PHD_EFAILED, "a reference nobody provides fails the secrets phase");
	tap_is_int(phd_exit_code(r.ctx, rc), 4, "phdeploy would exit 4");
	tap_like(phd_ctx_errmsg(r.ctx), "values-ha.yaml:24:19: email.existingSecret",
		 "the error names the values file, line and column of the first problem");
	tap_like(logtext(&r), "values-ha.yaml:31:", "the log names each problem's position");
	tap_like(logtext(&r), "env[1].valueFrom.secretKeyRef wants Secret posthog/posthog-kafka key "
		 "sasl-password", "the log names the values key, Secret and key");
	tap_like(logtext(&r), "email.existingSecret wants Secret posthog/posthog-smtp key smtp-password: "
		 "not provided by any secrets: entry and the cluster's Secret has no such key",
		 "a cluster Secret without the wanted key is a failure too");
	tap_is_int((long long)count_calls(&r, "apply"), 0, "nothing is applied when a reference is missing");
	teardown(&r);
}

static void test_redis_key_required(void)
{
	struct run r;
	int rc;

	if (setup(&r, "redis", "values-redis-nokey.yaml", 0, NULL) < 0) {
		tap_skip(2, "cannot set up");
		return;
	}
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, PHD_EFAILED, "externalRedis.existingSecret without its key fails");
	tap_like(logtext(&r), "values-redis-nokey.yaml:6:19: externalRedis.existingSecret is set but "
		 "externalRedis.existingSecretPasswordKey is not", "naming both keys and the position");
	teardown(&r);
}

static void test_dry_run(void)
{
	struct run r;
	int rc;

	if (setup(&r, "dry", "values-ha.yaml", PHD_OPT_DRY_RUN, NULL) < 0) {
		tap_skip(6, "cannot set up");
		return;
	}
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "dry run succeeds without a cluster (%s)", phd_ctx_errmsg(r.ctx));
	tap_is_int((long long)ncalls(&r), 0, "dry run runs no kubectl at all");
	tap_like(logtext(&r), "kubectl --context=testctx create namespace posthog",
		 "the namespace creation is shown");
	tap_like(logtext(&r), "apply --server-side --field-manager=phdeploy --force-conflicts -n posthog "
		 "-f - <<< Secret posthog/posthog-postgres keys: postgresql-password=****",
		 "each apply is shown with masked values");
	tap_like(logtext(&r), "posthog-smtp key smtp-password: not provided by any secrets: entry; "
		 "not verified in cluster", "cluster-only references are said to be unverified");
	tap_ok(!leaked(logtext(&r), strlen(logtext(&r))), "no value in the dry run's output");
	teardown(&r);
}

static void smtp_in_cluster(struct run *r)
{
	touch(r, "secrets/posthog/posthog-smtp.json",
	      "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"posthog-smtp\","
	      "\"namespace\":\"posthog\"},\"data\":{\"smtp-password\":\"eA==\"}}");
	touch(r, "namespaces/posthog", "");
}

static void test_ssa_fallback(void)
{
	struct run r;
	json_t *c;
	size_t n, with = 0, without = 0;
	int rc;

	if (setup(&r, "ssa", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(3, "cannot set up");
		return;
	}
	smtp_in_cluster(&r);
	touch(&r, "mode/ssa-reject", "");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "a server without server-side apply still gets the Secrets (%s)",
		   phd_ctx_errmsg(r.ctx));
	n = ncalls(&r);
	for (size_t i = 0; i < n; i++) {
		c = calls(&r, i, NULL);
		if (argv_has(c, "apply")) {
			with += argv_has(c, "--server-side");
			without += !argv_has(c, "--server-side");
		}
		json_decref(c);
	}
	tap_ok(with == NVALS && without == NVALS, "each Secret: server-side first, then client-side "
	       "(%zu/%zu)", with, without);
	tap_like(logtext(&r), "rejects server-side apply", "the fallback is logged");
	teardown(&r);
}

static void test_client_side(void)
{
	struct run r;
	int rc;

	if (setup_cfg(&r, "client-side", "values-ha.yaml", 0, NULL,
		      "kube: { server_side: false, timeout: 20s }\n") < 0) {
		tap_skip(2, "cannot set up");
		return;
	}
	smtp_in_cluster(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "kube.server_side: false applies (%s)", phd_ctx_errmsg(r.ctx));
	tap_ok(count_calls(&r, "apply") == NVALS && count_calls(&r, "--server-side") == 0,
	       "client-side only, as configured");
	teardown(&r);

	if (setup_cfg(&r, "bad-conf", "values-ha.yaml", 0, NULL, "kube: { server_side: maybe }\n") < 0) {
		tap_skip(1, "cannot set up");
		return;
	}
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_like(rc < 0 ? phd_ctx_errmsg(r.ctx) : "(succeeded)", "phdeploy.yaml:5:22: server_side: "
		 "want true, false or auto", "a bad kube.server_side is a positioned error");
	teardown(&r);
}

static void test_apply_fails(void)
{
	struct run r;
	int rc;

	if (setup(&r, "forbidden", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(3, "cannot set up");
		return;
	}
	smtp_in_cluster(&r);
	touch(&r, "mode/apply-forbidden", "");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(phd_exit_code(r.ctx, rc), 4, "a refused apply fails the secrets phase (exit 4)");
	tap_like(phd_ctx_errmsg(r.ctx), "apply --server-side", "the error names the command");
	tap_like(phd_ctx_errmsg(r.ctx), "(Forbidden)", "and quotes kubectl's stderr");
	teardown(&r);

	if (setup(&r, "dropkey", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(1, "cannot set up");
		return;
	}
	smtp_in_cluster(&r);
	touch(&r, "mode/drop-key", "");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_like(rc < 0 ? phd_ctx_errmsg(r.ctx) : "(succeeded)", "is missing when read back after apply",
		 "a key missing on read-back fails the phase");
	teardown(&r);
}

/* A TCP port on loopback that nothing listens on. */
static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static void test_no_cluster(void)
{
	struct run r;
	char kubectl[1024], kcfg[1024], buf[1024];
	int rc, port = closed_port();

	snprintf(kubectl, sizeof(kubectl), "%s/kubectl", tap_env("PHD_TOOLS", ""));
	if (access(kubectl, X_OK) != 0 || !port) {
		tap_skip(6, "real kubectl not found in $PHD_TOOLS (scripts/fetch-tools)");
		return;
	}
	if (setup(&r, "nocluster", "values-ha.yaml", 0, kubectl) < 0) {
		tap_skip(6, "cannot set up");
		return;
	}
	/* The real kubectl, pointed at a loopback port nobody listens on. */
	snprintf(buf, sizeof(buf), "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
		 "    server: https://127.0.0.1:%d\n    insecure-skip-tls-verify: true\ncontexts:\n"
		 "- name: testctx\n  context: {cluster: c, user: u}\ncurrent-context: testctx\n"
		 "users:\n- name: u\n  user: {token: not-a-secret}\n", port);
	snprintf(kcfg, sizeof(kcfg), "%s/kubeconfig", r.dir);
	{
		FILE *f = fopen(kcfg, "w");
		fputs(buf, f);
		fclose(f);
	}
	setenv("KUBECONFIG", kcfg, 1);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(phd_exit_code(r.ctx, rc), 4, "no reachable cluster fails the secrets phase");
	tap_like(phd_ctx_errmsg(r.ctx), "get secret posthog-smtp -n posthog",
		 "the error names the kubectl command");
	tap_like(phd_ctx_errmsg(r.ctx), "was refused - did you specify the right host or port?",
		 "and says why with kubectl's own message");
	tap_unlike(phd_ctx_errmsg(r.ctx), "memcache.go", "not its repeated client-go log lines");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_VERIFY));
	unsetenv("KUBECONFIG");
	tap_is_int(phd_exit_code(r.ctx, rc), 10, "no reachable cluster fails verify (exit 10)");
	tap_like(phd_ctx_errmsg(r.ctx), "get deployments,statefulsets,horizontalpodautoscalers,"
		 "poddisruptionbudgets,pods -n posthog -o json` exited 1: The connection to the server",
		 "naming the command and kubectl's message");
	teardown(&r);
}

static int docs_have(json_t *docs, const char *want)
{
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d)
		if (!strcmp(json_string_value(d), want))
			return 1;
	return 0;
}

static void test_verify(void)
{
	static const char *const want[] = {
		"Deployment/posthog-web", "Deployment/posthog-events", "Deployment/posthog-worker-default",
		"Deployment/clickhouse-operator", "StatefulSet/posthog-posthog-zookeeper",
		"StatefulSet/posthog-posthog-postgresql", "StatefulSet/chi-posthog-posthog-0-0",
		"HorizontalPodAutoscaler/posthog-web", "PodDisruptionBudget/posthog-web",
		"Pod/posthog-web-7d9f8c6b5-k2x9q", "Pod/posthog-worker-default-6c8d9f7b4-q8w2e",
		"Pod/clickhouse-operator-5b6f8d7c9d-abcde", "Pod/posthog-posthog-zookeeper-0",
		"Pod/chi-posthog-posthog-0-0-0", "Node/ip-10-0-3-10.ec2.internal",
	};
	struct run r;
	size_t found = 0, rollout = 0;
	int rc;

	if (setup(&r, "verify", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(7, "cannot set up");
		return;
	}
	copy_fixture(&r, "live-posthog.json", "live/posthog.json");
	copy_fixture(&r, "nodes.json", "live/nodes.json");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_VERIFY));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (docs_have(r.verify_docs, want[i]))
			found++;
		else
			tap_diag("not handed to the validators: %s", want[i]);
	}
	tap_is_int((long long)found, sizeof(want) / sizeof(want[0]),
		   "every workload, HPA, PDB and pod of the release, and the nodes, reach the validators");
	tap_ok(!docs_have(r.verify_docs, "Deployment/other-web") &&
	       !docs_have(r.verify_docs, "Pod/other-web-7d9f8c6b5-zzzzz") &&
	       !docs_have(r.verify_docs, "Pod/debug-shell"),
	       "objects of another release and stray pods do not");
	tap_ok(!docs_have(r.verify_docs, "List/"), "the List is flattened into its items");
	for (size_t i = 0; i < phd_ctx_finding_count(r.ctx); i++) {
		const struct phd_finding *f = phd_ctx_finding(r.ctx, i);
		if (!strcmp(f->rule, "rollout"))
			rollout++;
	}
	tap_is_int((long long)rollout, 2, "rollout findings: the half-ready Deployment and the "
		   "crash-looping pod");
	tap_like(logtext(&r), "Deployment/posthog-worker-default", "naming the Deployment");
	tap_is_int(phd_exit_code(r.ctx, rc), 10, "error findings on live objects fail verify (exit 10)");
	teardown(&r);

	if (setup(&r, "verify-empty", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(1, "cannot set up");
		return;
	}
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_VERIFY));
	tap_like(rc < 0 ? phd_ctx_errmsg(r.ctx) : "(succeeded)",
		 "no Deployment or StatefulSet of release posthog in namespace posthog",
		 "a release with no live workloads fails verify, saying so");
	teardown(&r);
}

static void test_verify_nodes_forbidden(void)
{
	struct run r;
	int rc;

	if (setup(&r, "verify-nodes", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(2, "cannot set up");
		return;
	}
	copy_fixture(&r, "live-posthog.json", "live/posthog.json");
	touch(&r, "mode/nodes-forbidden", "");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_VERIFY));
	tap_ok(docs_have(r.verify_docs, "Deployment/posthog-web"),
	       "live objects reach the validators when nodes may not be listed (rc %d)", rc);
	tap_like(logtext(&r), "zone spread cannot be checked", "the missing nodes are a warning");
	teardown(&r);
}

static void test_order(void)
{
	struct run r;
	int rc;

	if (setup(&r, "order", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(2, "cannot set up");
		return;
	}
	smtp_in_cluster(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS) | PHD_PHASE_BIT(PHD_PHASE_DEPLOY));
	tap_ok(r.deploy_ran, "the deploy handler ran (rc %d: %s)", rc, phd_ctx_errmsg(r.ctx));
	tap_is_int((long long)r.applies_at_deploy, NVALS,
		   "every Secret was applied before the deploy started");
	teardown(&r);
}

static void test_inline(void)
{
	struct run r;
	size_t n = 0;
	char *red;
	int rc;

	if (setup(&r, "inline", "values-inline.yaml", 0, NULL) < 0) {
		tap_skip(4, "cannot set up");
		return;
	}
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
	for (size_t i = 0; i < phd_ctx_finding_count(r.ctx); i++) {
		const struct phd_finding *f = phd_ctx_finding(r.ctx, i);
		if (strcmp(f->rule, "inline-secret"))
			continue;
		n++;
		if (f->values_key && !strcmp(f->values_key, "externalPostgresql.existingSecret"))
			tap_is_int(f->line, 6, "the finding points at the inline password's line and names the key to use");
	}
	tap_is_int((long long)n, 2, "inline PostgreSQL password and SASL password env are reported "
		   "(not the SASL user)");
	tap_ok(rc == 0, "inline secrets warn by default, they do not fail validate (%s)",
	       phd_ctx_errmsg(r.ctx));
	red = phd_redact(r.ctx, "x inline-pg-Zq81x inline-sasl-Yw72v y");
	tap_ok(red && !strstr(red, "inline-pg") && !strstr(red, "inline-sasl"),
	       "inline passwords are masked in all output from then on (%s)", red ? red : "");
	free(red);
	teardown(&r);
}

int main(void)
{
	char libs[1024];

	/* Only the kube plugin: this test plays provider and deploy itself. */
	snprintf(libs, sizeof(libs), "%s/plugins/kube/.libs", tap_env("top_builddir", "."));
	setenv("PHDEPLOY_PLUGIN_PATH", libs, 1);
	test_apply();
	test_missing();
	test_redis_key_required();
	test_dry_run();
	test_ssa_fallback();
	test_client_side();
	test_apply_fails();
	test_no_cluster();
	test_verify();
	test_verify_nodes_forbidden();
	test_order();
	test_inline();
	return tap_done();
}
