/* The kube plugin through the core, with the REAL kubectl against
 * tests/bin/kube-api (a Kubernetes API server stand-in): SECRETS
 * (cross-check, namespace, server-side apply on stdin, read-back, dry run,
 * the client-side fallback, failures), VERIFY (live objects to the
 * validators), ordering against the deploy, and no secret leaking anywhere.
 * kubectl runs behind a wrapper that records its argv and environment. */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>
#include <phdeploy/plugin.h>

#include "../../plugins/kube/kube.h"
#include "../tap/tap.h"

/* Test secret values: none may appear anywhere but kubectl's stdin and the
 * API server's stored Secrets. */
static const char *const vals[][3] = {
	{ "posthog-postgres", "postgresql-password", "pg-Secret-7c1e9a" },
	{ "posthog-redis", "redis-password", "redis-Secret-41b8d2" },
	{ "posthog-app", "posthog-secret", "app-Secret-90f3ab" },
	{ "posthog-clickhouse", "admin-password", "ch-Secret-2d77e0" },
	{ "posthog-kafka", "sasl-password", "kafka-Secret-c0ffee" },
};
#define NVALS (sizeof(vals) / sizeof(vals[0]))

struct run {
	char dir[512];          /* scenario dir: k/ (the API server), tmp/ */
	char kube[600];         /* kube-api's directory */
	char kubectl[600];      /* the recording wrapper */
	phd_ctx *ctx;
	char *log;              /* every log line and event, as text */
	size_t loglen;
	FILE *logf;
	size_t skip_secret;     /* index of vals not provided, or NVALS */
	int with_smtp;          /* the provider also yields posthog-smtp */
	size_t writes_at_deploy; /* Secret writes in the request log when deploy ran */
	int deploy_ran;
	json_t *verify_docs;    /* kind/name of what the VERIFY validators saw */
};

static const char *srcdir(void)
{
	return tap_env("top_srcdir", ".");
}

static const char *real_kubectl(void)
{
	static char path[1024];
	snprintf(path, sizeof(path), "%s/kubectl", tap_env("PHD_TOOLS", "/nonexistent"));
	return path;
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
	if (r->with_smtp)
		return phd_secret_add(sink, "posthog-smtp", "smtp-password", "smtp-Secret-5e1f07",
				      strlen("smtp-Secret-5e1f07"), entry);
	return 0;
}

static size_t count_requests(const struct run *r, const char *method, const char *needle);

static int deploy_handler(phd_ctx *ctx, int phase, int mode, void *ud)
{
	struct run *r = ud;
	(void)ctx;
	(void)phase;
	if (mode != PHD_MODE_APPLY)
		return 0;
	r->deploy_ran = 1;
	r->writes_at_deploy = count_requests(r, "PATCH", "fieldManager=phdeploy");
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

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(data, f);
		fclose(f);
	}
}

/* The scenario kube-api reads; its mtime moves forward so a rewrite within
 * the same second is noticed. */
static void scenario(const struct run *r, const char *json)
{
	static int bump;
	char path[1024];
	struct timeval tv[2];

	snprintf(path, sizeof(path), "%s/scenario.json", r->dir);
	write_file(path, json);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec += ++bump;
	tv[1] = tv[0];
	utimes(path, tv);
}

/* Real kubectl against the run's API server, for the test's own setup and
 * reads: status 0 when it succeeded; stdout in *out when out is given. */
static int kc(const struct run *r, char **out, const char *fmt, ...) TAP_PRINTF(3, 4);
static int kc(const struct run *r, char **out, const char *fmt, ...)
{
	char args[2048], cmd[8192], outp[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(outp, sizeof(outp), "%s/kc.out", r->dir);
	snprintf(cmd, sizeof(cmd), "'%s' --kubeconfig '%s/kubeconfig' %s >'%s' 2>&1", real_kubectl(),
		 r->kube, args, outp);
	st = system(cmd);
	if (out)
		*out = tap_slurp(outp, NULL);
	return st;
}

/* A fresh run: its own API server (scenario json), config, context. */
static int setup_cfg_once(struct run *r, const char *name, const char *values, unsigned flags,
		     const char *scen, const char *cfg_extra)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	const char *vfiles[1];
	char cfg[1024], vpath[1024], tmp[700], cmd[4096], buf[2048];
	phd_plugin *p;
	FILE *f;
	int rc;

	memset(r, 0, sizeof(*r));
	r->skip_secret = NVALS;
	snprintf(r->dir, sizeof(r->dir), "%s/%s", tap_tmpdir(), name);
	snprintf(r->kube, sizeof(r->kube), "%s/k", r->dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp", r->dir);
	mkdirs(tmp);
	snprintf(buf, sizeof(buf), "%s/env", r->dir);
	mkdirs(buf);
	setenv("TMPDIR", tmp, 1);
	r->logf = open_memstream(&r->log, &r->loglen);
	r->verify_docs = json_array();

	scenario(r, scen ? scen : "{\"ready_after\": \"200ms\"}");
	snprintf(cmd, sizeof(cmd), "'%s/tests/bin/kube-api' start '%s' --scenario '%s/scenario.json' "
		 ">'%s/start.log' 2>&1", srcdir(), r->kube, r->dir, r->dir);
	if (system(cmd) != 0) {
		char *l;
		snprintf(buf, sizeof(buf), "%s/start.log", r->dir);
		l = tap_slurp(buf, NULL);
		tap_diag("kube-api start: %s", l ? l : "?");
		free(l);
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s/kubeconfig", r->kube);
	setenv("KUBECONFIG", buf, 1);
	/* The wrapper: one argv line per call, each call's environment. */
	snprintf(r->kubectl, sizeof(r->kubectl), "%s/kubectl", r->dir);
	snprintf(buf, sizeof(buf), "#!/bin/sh\n{ printf kubectl; printf ' %%s' \"$@\"; printf '\\n'; } "
		 ">> '%s/argv.log'\nenv > '%s/env/'$$\nexec '%s' \"$@\"\n", r->dir, r->dir,
		 real_kubectl());
	write_file(r->kubectl, buf);
	chmod(r->kubectl, 0755);

	snprintf(cfg, sizeof(cfg), "%s/phdeploy.yaml", r->dir);
	f = fopen(cfg, "w");
	fputs("release: posthog\nnamespace: posthog\nsecrets:\n  - { provider: testsecret }\n", f);
	if (cfg_extra)
		fputs(cfg_extra, f);
	fclose(f);
	snprintf(vpath, sizeof(vpath), "%s/tests/data/kube/%s", srcdir(), values);
	vfiles[0] = vpath;
	o.flags = flags | PHD_OPT_NO_LOCK;
	o.config_path = cfg;
	o.values = vfiles;
	o.nvalues = 1;
	o.kubectl_path = r->kubectl;
	o.kube_context = "stand-in";
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

static void teardown(struct run *r);

/* A set-up that fails half-way is torn down: nothing leaks, no server stays. */
static int setup_cfg(struct run *r, const char *name, const char *values, unsigned flags,
		     const char *scen, const char *cfg_extra)
{
	int rc = setup_cfg_once(r, name, values, flags, scen, cfg_extra);
	if (rc < 0)
		teardown(r);
	return rc;
}

static int setup(struct run *r, const char *name, const char *values, unsigned flags,
		 const char *scen)
{
	return setup_cfg(r, name, values, flags, scen, NULL);
}

static const char *logtext(struct run *r)
{
	fflush(r->logf);
	return r->log ? r->log : "";
}

static void teardown(struct run *r)
{
	char cmd[2048];

	if (r->ctx)
		phd_ctx_free(r->ctx);
	r->ctx = NULL;
	if (r->logf)
		fclose(r->logf);
	r->logf = NULL;
	free(r->log);
	json_decref(r->verify_docs);
	r->verify_docs = NULL;
	r->log = NULL;
	snprintf(cmd, sizeof(cmd), "'%s/tests/bin/kube-api' stop '%s' >/dev/null 2>&1", srcdir(),
		 r->kube);
	if (system(cmd) != 0)
		tap_diag("kube-api stop %s failed", r->kube);
	unsetenv("KUBECONFIG");
}

/* The file rel below the run's directory ("" when absent; malloc'd). */
static char *slurp_rel(const struct run *r, const char *rel)
{
	char path[1024];
	char *s;
	snprintf(path, sizeof(path), "%s/%s", r->dir, rel);
	s = tap_slurp(path, NULL);
	return s ? s : strdup("");
}

/* Forget the requests of the test's own setup. */
static void truncate_log(const struct run *r)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/k/requests.log", r->dir);
	write_file(path, "");
}

/* Lines of the API server's request log whose method is method (NULL: any
 * write) and that contain needle. */
static size_t count_requests(const struct run *r, const char *method, const char *needle)
{
	char *log = slurp_rel(r, "k/requests.log"), *save = NULL;
	size_t n = 0;

	for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int write = !strncmp(l, "POST ", 5) || !strncmp(l, "PUT ", 4) ||
			    !strncmp(l, "PATCH ", 6) || !strncmp(l, "DELETE ", 7);
		if ((method ? !strncmp(l, method, strlen(method)) && l[strlen(method)] == ' '
			    : write) && (!needle || strstr(l, needle)))
			n++;
	}
	free(log);
	return n;
}

/* The n-th (0-based) kubectl argv line the wrapper recorded, or "". */
static char *call_line(const struct run *r, size_t n)
{
	char *log = slurp_rel(r, "argv.log"), *save = NULL, *out = NULL;
	size_t i = 0;

	for (char *l = strtok_r(log, "\n", &save); l && !out; l = strtok_r(NULL, "\n", &save), i++)
		if (i == n)
			out = strdup(l);
	free(log);
	return out ? out : strdup("");
}

static size_t count_calls(const struct run *r, const char *word)
{
	char *log = slurp_rel(r, "argv.log"), *save = NULL;
	size_t n = 0;

	for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		n += strstr(l, word) != NULL;
	free(log);
	return n;
}

/* The bytes of key in Secret ns/name as the API server holds them, read
 * with kubectl get -o json and base64-decoded (malloc'd; NULL if absent). */
static unsigned char *secret_bytes(const struct run *r, const char *name, const char *key,
				   size_t *len)
{
	char *out = NULL;
	json_t *j;
	const char *v;
	unsigned char *bytes = NULL;

	*len = 0;
	if (kc(r, &out, "-n posthog get secret %s -o json", name) != 0 || !out) {
		free(out);
		return NULL;
	}
	j = json_loads(out, 0, NULL);
	v = json_string_value(json_object_get(json_object_get(j, "data"), key));
	if (v) {
		static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		unsigned acc = 0;
		int bits = 0;
		bytes = malloc(strlen(v) + 1);
		for (const char *p = v; bytes && *p && *p != '='; p++) {
			const char *c = strchr(t, *p);
			if (!c)
				break;
			acc = (acc << 6) | (unsigned)(c - t);
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				bytes[(*len)++] = (unsigned char)(acc >> bits);
			}
		}
	}
	json_decref(j);
	free(out);
	return bytes;
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

/* Whether any value is in a file below the run's env/ (the children's
 * environments) or in its argv log. */
static int children_clean(const struct run *r, const char *what)
{
	char path[1024];
	const char *hit;
	char *argv = slurp_rel(r, "argv.log");

	if (!strcmp(what, "argv")) {
		hit = leaked(argv, strlen(argv));
	} else {
		snprintf(path, sizeof(path), "%s/env", r->dir);
		hit = leaked_in_tree(path, NULL);
	}
	free(argv);
	return hit == NULL;
}

/* posthog-smtp made by someone else before the run, in an existing namespace. */
static int smtp_in_cluster(const struct run *r, const char *key)
{
	return kc(r, NULL, "create namespace posthog") != 0 ||
	       kc(r, NULL, "-n posthog create secret generic posthog-smtp --from-literal=%s=x", key) != 0
		       ? -1 : 0;
}

static void test_apply(void)
{
	struct run r;
	size_t same = 0;
	const char *hit = NULL;
	char *line, *urls, path[1024];
	int rc;

	if (setup(&r, "apply", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(13, "cannot set up");
		return;
	}
	if (smtp_in_cluster(&r, "smtp-password") < 0)
		tap_diag("cannot seed posthog-smtp");
	truncate_log(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "secrets phase succeeds when every reference is provided or present (%s)",
		   phd_ctx_errmsg(r.ctx));
	line = call_line(&r, 0);
	tap_like(line, "get secret posthog-smtp -n posthog",
		 "the one reference no provider yields is looked up in the cluster first");
	free(line);
	tap_is_int((long long)count_requests(&r, "PATCH", "application/apply-patch+yaml"), NVALS,
		   "each provided Secret is written once, by server-side apply");
	tap_is_int((long long)count_requests(&r, "PATCH", "fieldManager=phdeploy&"), NVALS,
		   "with field manager phdeploy");
	tap_is_int((long long)count_calls(&r, " apply --server-side --field-manager=phdeploy "
					  "--force-conflicts -n posthog -f -"), 1,
		   "one kubectl apply for the namespace's Secrets, the manifests on its stdin (-f -)");
	tap_is_int((long long)count_calls(&r, "kubectl --context=stand-in "),
		   (long long)count_calls(&r, "kubectl"), "every kubectl call carries --context from the options");
	for (size_t i = 0; i < NVALS; i++) {
		size_t len;
		unsigned char *b = secret_bytes(&r, vals[i][0], vals[i][1], &len);
		if (b && len == strlen(vals[i][2]) && !memcmp(b, vals[i][2], len))
			same++;
		else
			tap_diag("Secret %s key %s differs or is missing", vals[i][0], vals[i][1]);
		free(b);
	}
	tap_is_int((long long)same, NVALS, "every Secret read back with kubectl get -o json holds the "
		   "provider's bytes exactly");
	tap_ok(children_clean(&r, "argv"), "no value (plain or base64) in any child's argv");
	tap_ok(children_clean(&r, "env"), "no value in any child's environment");
	urls = slurp_rel(&r, "k/requests.log");
	tap_ok(!leaked(urls, strlen(urls)), "no value in any URL the API server saw");
	free(urls);
	tap_is_int((long long)count_requests(&r, "PATCH", "/namespaces/posthog/secrets/"), NVALS,
		   "nothing but the Secrets was written in the namespace");
	line = call_line(&r, 1);
	tap_like(line, "get namespace posthog", "the namespace is looked up before anything is applied");
	free(line);
	line = call_line(&r, 3);
	tap_like(line, "get secret posthog-postgres posthog-redis posthog-app posthog-clickhouse "
		 "posthog-kafka -n posthog -o go-template=", "the applied Secrets' key names are read "
		 "back in one kubectl get");
	free(line);
	hit = leaked(logtext(&r), strlen(logtext(&r)));
	if (!hit)
		hit = leaked_in_tree(tap_env("PHDEPLOY_STATE_DIR", "/nonexistent"), NULL);
	if (!hit) {
		snprintf(path, sizeof(path), "%s/tmp", r.dir);
		hit = leaked_in_tree(path, NULL);
	}
	tap_ok(hit == NULL, "no value in logs, events, journal or temp dir%s%s",
	       hit ? ": found " : "", hit ? hit : "");
	teardown(&r);
}

static void test_new_namespace(void)
{
	struct run r;
	char *log, *ns, *sec;
	int rc;

	if (setup(&r, "nons", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(5, "cannot set up");
		return;
	}
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(phd_exit_code(r.ctx, rc), 4, "posthog-smtp is nowhere: the secrets phase fails");
	tap_is_int((long long)count_requests(&r, NULL, NULL), 0,
		   "and the missing namespace is not created");
	teardown(&r);

	if (setup(&r, "newns", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(3, "cannot set up");
		return;
	}
	r.with_smtp = 1;
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "every reference provided: the secrets phase applies (%s)",
		   phd_ctx_errmsg(r.ctx));
	tap_is_int(kc(&r, NULL, "get namespace posthog"), 0, "the missing namespace was created");
	log = slurp_rel(&r, "k/requests.log");
	ns = strstr(log, "POST /api/v1/namespaces ");
	sec = strstr(log, "PATCH /api/v1/namespaces/posthog/secrets/");
	tap_ok(ns && sec && ns < sec, "before the first Secret");
	free(log);
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
	smtp_in_cluster(&r, "other-key");
	truncate_log(&r);
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
	tap_is_int((long long)count_requests(&r, NULL, NULL), 0,
		   "no write request reaches the API server when a reference is missing");
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
	char *log;
	int rc;

	if (setup(&r, "dry", "values-ha.yaml", PHD_OPT_DRY_RUN, NULL) < 0) {
		tap_skip(6, "cannot set up");
		return;
	}
	truncate_log(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "dry run succeeds (%s)", phd_ctx_errmsg(r.ctx));
	log = slurp_rel(&r, "k/requests.log");
	tap_ok(count_calls(&r, "kubectl") == 0 && !*log, "dry run runs no kubectl: the API server "
	       "saw no request");
	free(log);
	tap_like(logtext(&r), "kubectl --context=stand-in create namespace posthog",
		 "the namespace creation is shown");
	tap_like(logtext(&r), "apply --server-side --field-manager=phdeploy --force-conflicts -n posthog "
		 "-f - <<< Secret posthog/posthog-postgres keys: postgresql-password=****",
		 "each apply is shown with masked values");
	tap_like(logtext(&r), "posthog-smtp key smtp-password: not provided by any secrets: entry; "
		 "not verified in cluster", "cluster-only references are said to be unverified");
	tap_ok(!leaked(logtext(&r), strlen(logtext(&r))), "no value in the dry run's output");
	teardown(&r);
}

static void test_ssa_fallback(void)
{
	struct run r;
	size_t same = 0;
	int rc;

	if (setup(&r, "ssa", "values-ha.yaml", 0, "{\"ready_after\": \"200ms\", "
		  "\"no_server_side_apply\": true}") < 0) {
		tap_skip(4, "cannot set up");
		return;
	}
	smtp_in_cluster(&r, "smtp-password");
	truncate_log(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "a server without server-side apply still gets the Secrets (%s)",
		   phd_ctx_errmsg(r.ctx));
	tap_is_int((long long)count_requests(&r, "PATCH", "apply-patch+yaml 415"), NVALS,
		   "each Secret: server-side apply first, refused with 415");
	tap_is_int((long long)count_requests(&r, "POST", "/namespaces/posthog/secrets "), NVALS,
		   "then created client-side");
	for (size_t i = 0; i < NVALS; i++) {
		size_t len;
		unsigned char *b = secret_bytes(&r, vals[i][0], vals[i][1], &len);
		same += b && len == strlen(vals[i][2]) && !memcmp(b, vals[i][2], len);
		free(b);
	}
	tap_is_int((long long)same, NVALS, "with the provider's bytes");
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
	smtp_in_cluster(&r, "smtp-password");
	truncate_log(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(rc, 0, "kube.server_side: false applies (%s)", phd_ctx_errmsg(r.ctx));
	tap_ok(count_requests(&r, "PATCH", "apply-patch") == 0 &&
	       count_requests(&r, "POST", "/namespaces/posthog/secrets ") == NVALS,
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
		tap_skip(4, "cannot set up");
		return;
	}
	smtp_in_cluster(&r, "smtp-password");
	/* RBAC that lets the deployer read but not write */
	scenario(&r, "{\"ready_after\": \"200ms\", \"auth\": \"403\", \"auth_scope\": \"writes\"}");
	truncate_log(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(phd_exit_code(r.ctx, rc), 4, "a refused apply fails the secrets phase (exit 4)");
	tap_like(phd_ctx_errmsg(r.ctx), "apply --server-side", "the error names the command");
	tap_like(phd_ctx_errmsg(r.ctx), "(Forbidden)", "and quotes kubectl's stderr");
	tap_ok(count_requests(&r, NULL, " 403") == NVALS && count_requests(&r, NULL, " 20") == 0,
	       "every Secret's write was refused, none stored");
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
	char kcfg[1024], buf[1024];
	int rc, port = closed_port();

	if (!port || setup(&r, "nocluster", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(7, "cannot set up");
		return;
	}
	/* The same kubectl, pointed at a loopback port nobody listens on. */
	snprintf(buf, sizeof(buf), "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
		 "    server: https://127.0.0.1:%d\n    insecure-skip-tls-verify: true\ncontexts:\n"
		 "- name: stand-in\n  context: {cluster: c, user: u}\ncurrent-context: stand-in\n"
		 "users:\n- name: u\n  user: {token: not-a-secret}\n", port);
	snprintf(kcfg, sizeof(kcfg), "%s/kubeconfig", r.dir);
	write_file(kcfg, buf);
	setenv("KUBECONFIG", kcfg, 1);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_is_int(phd_exit_code(r.ctx, rc), 4, "no reachable cluster fails the secrets phase");
	tap_like(phd_ctx_errmsg(r.ctx), "get secret posthog-smtp -n posthog",
		 "the error names the kubectl command");
	tap_like(phd_ctx_errmsg(r.ctx), "was refused - did you specify the right host or port?",
		 "and says why with kubectl's own message");
	tap_unlike(phd_ctx_errmsg(r.ctx), "memcache.go", "not its repeated client-go log lines");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_VERIFY));
	tap_is_int(phd_exit_code(r.ctx, rc), 10, "no reachable cluster fails verify (exit 10)");
	tap_is_int(rc, PHD_EUNREACHABLE, "as PHD_EUNREACHABLE: the state is unknown");
	tap_like(phd_ctx_errmsg(r.ctx), "state is unknown (nothing is rolled back): `",
		 "the message says so");
	tap_like(phd_ctx_errmsg(r.ctx), "get deployments,statefulsets,horizontalpodautoscalers,"
		 "poddisruptionbudgets,pods,nodes -n posthog -o json` exited 1: The connection to the "
		 "server", "naming the command and kubectl's message");
	tap_is_int((long long)count_calls(&r, " get deployments,"), 1,
		   "one kubectl call: a server out of reach is not asked again without the nodes");
	teardown(&r);
}

static int docs_have(json_t *docs, const char *want)
{
	size_t i;
	json_t *d;
	json_array_foreach(docs, i, d)
		if (!strncmp(json_string_value(d), want, strlen(want)))
			return 1;
	return 0;
}

/* A small release: objects of posthog (two label conventions), of another
 * release, and a stray pod, as kubectl apply sends them. */
/* JSON documents in one YAML stream: kubectl validates a List against an
 * openapi schema the stand-in does not serve. */
static const char live_manifest[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"posthog-web\","
	"\"labels\":{\"app.kubernetes.io/instance\":\"posthog\"}},\"spec\":{\"replicas\":2,"
	"\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":"
	"{\"app\":\"web\",\"release\":\"posthog\"}},\"spec\":{\"containers\":[{\"name\":\"web\","
	"\"image\":\"posthog/posthog:release-1.43.0\"}]}}}}\n---\n"
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
	"\"posthog-worker-default\",\"labels\":{\"app.kubernetes.io/instance\":\"posthog\"}},"
	"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"worker\"}},\"template\":"
	"{\"metadata\":{\"labels\":{\"app\":\"worker\"}},\"spec\":{\"containers\":[{\"name\":\"w\","
	"\"image\":\"posthog/posthog:release-1.43.0\"}]}}}}\n---\n"
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":"
	"\"posthog-posthog-zookeeper\",\"labels\":{\"release\":\"posthog\"}},\"spec\":{\"replicas\":1,"
	"\"serviceName\":\"zk\",\"selector\":{\"matchLabels\":{\"app\":\"zk\"}},\"template\":"
	"{\"metadata\":{\"labels\":{\"app\":\"zk\"}},\"spec\":{\"containers\":[{\"name\":\"zk\","
	"\"image\":\"zookeeper:3.8\"}]}}}}\n---\n"
	"{\"apiVersion\":\"autoscaling/v2\",\"kind\":\"HorizontalPodAutoscaler\",\"metadata\":{\"name\":"
	"\"posthog-web\",\"labels\":{\"app.kubernetes.io/instance\":\"posthog\"}},\"spec\":"
	"{\"minReplicas\":2,\"maxReplicas\":4,\"scaleTargetRef\":{\"apiVersion\":\"apps/v1\","
	"\"kind\":\"Deployment\",\"name\":\"posthog-web\"}}}\n---\n"
	"{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\",\"metadata\":{\"name\":"
	"\"posthog-web\",\"labels\":{\"app.kubernetes.io/instance\":\"posthog\"}},\"spec\":"
	"{\"minAvailable\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}}\n---\n"
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"other-web\","
	"\"labels\":{\"app.kubernetes.io/instance\":\"other\"}},\"spec\":{\"replicas\":1,"
	"\"selector\":{\"matchLabels\":{\"app\":\"other\"}},\"template\":{\"metadata\":{\"labels\":"
	"{\"app\":\"other\"}},\"spec\":{\"containers\":[{\"name\":\"o\",\"image\":\"nginx:1.27\"}]}}}}\n---\n"
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"debug-shell\"},\"spec\":"
	"{\"containers\":[{\"name\":\"sh\",\"image\":\"busybox:1.36\"}]}}\n";

/* The release above in the run's cluster, posthog-web rolled out. */
static int live_release(struct run *r)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/live.yaml", r->dir);
	write_file(path, live_manifest);
	if (kc(r, NULL, "create namespace posthog") != 0 ||
	    kc(r, NULL, "-n posthog apply --server-side -f '%s'", path) != 0 ||
	    kc(r, NULL, "-n posthog rollout status deployment/posthog-web --timeout=30s") != 0 ||
	    kc(r, NULL, "-n posthog rollout status deployment/other-web --timeout=30s") != 0) {
		char *o = slurp_rel(r, "kc.out");
		tap_diag("cannot create the live release: %s", o);
		free(o);
		return -1;
	}
	return 0;
}

static void test_verify(void)
{
	static const char *const want[] = {
		"Deployment/posthog-web", "Deployment/posthog-worker-default",
		"StatefulSet/posthog-posthog-zookeeper", "HorizontalPodAutoscaler/posthog-web",
		"PodDisruptionBudget/posthog-web", "Pod/posthog-web-", "Pod/posthog-worker-default-",
		"Pod/posthog-posthog-zookeeper-0", "Node/node-a", "Node/node-c",
	};
	struct run r;
	size_t found = 0, rollout = 0, worker = 0;
	int rc;

	if (setup(&r, "verify", "values-ha.yaml", 0, "{\"ready_after\": \"200ms\", \"never_ready\": "
		  "[\"Deployment/posthog-worker-default\"]}") < 0) {
		tap_skip(6, "cannot set up");
		return;
	}
	if (live_release(&r) < 0) {
		teardown(&r);
		tap_skip(6, "cannot set up");
		return;
	}
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
	       !docs_have(r.verify_docs, "Pod/other-web-") &&
	       !docs_have(r.verify_docs, "Pod/debug-shell"),
	       "objects of another release and stray pods do not");
	tap_ok(!docs_have(r.verify_docs, "List/"), "the List is flattened into its items");
	for (size_t i = 0; i < phd_ctx_finding_count(r.ctx); i++) {
		const struct phd_finding *f = phd_ctx_finding(r.ctx, i);
		if (!strcmp(f->rule, "rollout")) {
			rollout++;
			worker += f->object && strstr(f->object, "posthog-worker-default") != NULL;
		}
	}
	tap_ok(rollout >= 1 && worker == rollout, "rollout findings for the never-ready Deployment "
	       "only (%zu of %zu)", worker, rollout);
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

static void test_verify_nodes_unreadable(void)
{
	struct run r;
	int rc;

	if (setup(&r, "verify-nodes", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(3, "cannot set up");
		return;
	}
	if (live_release(&r) < 0) {
		teardown(&r);
		tap_skip(3, "cannot set up");
		return;
	}
	scenario(&r, "{\"ready_after\": \"200ms\", \"fail_500\": [\"GET /api/v1/nodes\"]}");
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_VERIFY));
	tap_is_int(rc, 0, "verify passes when the nodes cannot be read (%s)", phd_ctx_errmsg(r.ctx));
	tap_ok(docs_have(r.verify_docs, "Deployment/posthog-web") &&
	       !docs_have(r.verify_docs, "Node/"), "the live objects reach the validators, no node");
	tap_like(logtext(&r), "cannot read the nodes: `", "the unreadable nodes are a warning");
	tap_like(logtext(&r), "zone spread cannot be checked", "saying what is not checked");
	teardown(&r);
}

static void test_order(void)
{
	struct run r;
	int rc;

	if (setup(&r, "order", "values-ha.yaml", 0, NULL) < 0) {
		tap_skip(3, "cannot set up");
		return;
	}
	smtp_in_cluster(&r, "smtp-password");
	truncate_log(&r);
	rc = phd_run(r.ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS) | PHD_PHASE_BIT(PHD_PHASE_DEPLOY));
	tap_ok(r.deploy_ran, "the deploy handler ran (rc %d: %s)", rc, phd_ctx_errmsg(r.ctx));
	tap_is_int((long long)r.writes_at_deploy, NVALS,
		   "every Secret was written to the API server before the deploy handler applied");
	tap_is_int((long long)count_requests(&r, "PATCH", "fieldManager=phdeploy"), NVALS,
		   "and none after");
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
	char libs[1024], probe[1100];

	/* Only the kube plugin: this test plays provider and deploy itself. */
	snprintf(libs, sizeof(libs), "%s/plugins/kube/.libs", tap_env("top_builddir", "."));
	setenv("PHDEPLOY_PLUGIN_PATH", libs, 1);
	snprintf(probe, sizeof(probe), "command -v python3 >/dev/null 2>&1 && test -x '%s'",
		 real_kubectl());
	if (system(probe) != 0) {
		tap_skip_all("needs python3 (tests/bin/kube-api) and kubectl in $PHD_TOOLS "
			     "(scripts/fetch-tools)");
		return 0;
	}
	test_apply();
	test_new_namespace();
	test_missing();
	test_redis_key_required();
	test_dry_run();
	test_ssa_fallback();
	test_client_side();
	test_apply_fails();
	test_no_cluster();
	test_verify();
	test_verify_nodes_unreadable();
	test_order();
	test_inline();
	return tap_done();
}
