/* SECRETS phase: cross-check the values' Secret references against what the
 * providers yielded and what the cluster holds, create the namespace, apply
 * each Secret (manifest on stdin), read its key names back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

/* Key names of Secrets read from the cluster, so each is read once. */
struct seen {
	const char *name;
	char *keys;              /* NULL: not in the cluster */
};
struct seen_set {
	struct seen *v;
	size_t n;
};

static void seen_free(struct seen_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].keys);
	free(s->v);
}

static int cluster_keys(phd_ctx *ctx, const struct kube_conf *cf, const char *ns,
			struct seen_set *s, const char *name, const char **keys)
{
	struct seen *nv;
	char *k;
	int rc;

	for (size_t i = 0; i < s->n; i++) {
		if (!strcmp(s->v[i].name, name)) {
			*keys = s->v[i].keys;
			return 0;
		}
	}
	rc = kube_secret_keys(ctx, cf, ns, name, &k);
	if (rc < 0)
		return rc;
	nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv) {
		free(k);
		return phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
	}
	s->v = nv;
	s->v[s->n++] = (struct seen){ name, k };
	*keys = k;
	return 0;
}

static const char *secret_ns(const struct phd_secret_view *s, const char *ns)
{
	return s->namespace_ && *s->namespace_ ? s->namespace_ : ns;
}

/* The provider's Secret that satisfies ref, or NULL. */
static const struct phd_secret_view *provided(const phd_ctx *ctx, const char *ns,
					      const struct kube_ref *ref)
{
	size_t n = phd_secret_count(ctx);

	for (size_t i = 0; i < n; i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		if (!s || strcmp(s->name, ref->secret) || strcmp(secret_ns(s, ns), ns))
			continue;
		if (!ref->key)
			return s;
		for (size_t k = 0; k < s->nkeys; k++)
			if (!strcmp(s->kv[k].key, ref->key))
				return s;
	}
	return NULL;
}

/* Every reference must be provided or present; returns the number missing
 * and sets *first to the first problem (malloc'd). */
static int cross_check(phd_ctx *ctx, const struct kube_conf *cf, const char *ns,
		       const struct kube_refs *refs, size_t *missing, char **first)
{
	struct seen_set seen = { NULL, 0 };
	int dry = phd_ctx_dry_run(ctx);
	int rc = 0;

	for (size_t i = 0; i < refs->n && rc == 0; i++) {
		const struct kube_ref *r = &refs->v[i];
		const struct phd_secret_view *s = provided(ctx, ns, r);
		char pos[512], what[600];
		const char *keys = NULL;

		kube_pos(r->where, pos, sizeof(pos));
		snprintf(what, sizeof(what), "%s: %s wants Secret %s/%s%s%s", pos, r->values_key,
			 ns, r->secret, r->key ? " key " : "", r->key ? r->key : "");
		if (s) {
			phd_log(ctx, PHD_LOG_INFO, "%s: provided by %s", what,
				s->origin ? s->origin : "a secrets: entry");
			continue;
		}
		if (dry) {
			phd_log(ctx, PHD_LOG_WARN, "%s: not provided by any secrets: entry; "
				"not verified in cluster (dry run)", what);
			continue;
		}
		rc = cluster_keys(ctx, cf, ns, &seen, r->secret, &keys);
		if (rc < 0)
			break;
		if (keys && (!r->key || kube_keys_has(keys, r->key))) {
			phd_log(ctx, PHD_LOG_INFO, "%s: present in the cluster", what);
			continue;
		}
		phd_log(ctx, PHD_LOG_ERROR, "%s: not provided by any secrets: entry and %s", what,
			keys ? "the cluster's Secret has no such key" : "not in the cluster");
		if (!*first && asprintf(first, "%s: not provided by any secrets: entry and %s",
					what, keys ? "the cluster's Secret has no such key"
					: "not in the cluster") < 0)
			*first = NULL;
		(*missing)++;
	}
	seen_free(&seen);
	return rc;
}

static int ensure_namespace(phd_ctx *ctx, const struct kube_conf *cf, const char *ns)
{
	struct kube_argv a;
	struct phd_exec_result res;
	int rc;

	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, "namespace");
	kube_argv_add(&a, ns);
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, "name");
	if (phd_ctx_dry_run(ctx)) {
		char *line;
		kube_argv_free(&a);
		kube_argv_init(&a, ctx);
		kube_argv_add(&a, "create");
		kube_argv_add(&a, "namespace");
		kube_argv_add(&a, ns);
		line = kube_argv_line(&a);
		if (line) {
			char *msg = NULL;
			if (asprintf(&msg, "%s   # when missing", line) >= 0)
				kube_emit_command(ctx, PHD_PHASE_SECRETS, msg);
			free(msg);
		}
		free(line);
		kube_argv_free(&a);
		return 0;
	}
	rc = kube_run(ctx, cf, &a, NULL, 0, 0, &res);
	if (rc == 0 && res.exit_code != 0 && !kube_is_notfound(&res))
		rc = kube_fail(ctx, PHD_EFAILED, &a, &res, "cannot read the namespace");
	if (rc < 0 || res.exit_code == 0) {
		phd_exec_result_clear(&res);
		kube_argv_free(&a);
		return rc;
	}
	phd_exec_result_clear(&res);
	kube_argv_free(&a);

	/* helm's --create-namespace comes too late: the Secrets go first. */
	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "create");
	kube_argv_add(&a, "namespace");
	kube_argv_add(&a, ns);
	rc = kube_run(ctx, cf, &a, NULL, 0, 0, &res);
	if (rc == 0 && res.exit_code != 0 &&
	    !(res.err && memmem(res.err, res.err_len, "(AlreadyExists)", 15)))
		rc = kube_fail(ctx, PHD_EFAILED, &a, &res, "cannot create the namespace");
	else if (rc == 0)
		phd_log(ctx, PHD_LOG_INFO, "kube: namespace %s created", ns);
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
	return rc;
}

static void apply_argv(struct kube_argv *a, phd_ctx *ctx, const char *ns, int server_side)
{
	kube_argv_init(a, ctx);
	kube_argv_add(a, "apply");
	if (server_side) {
		kube_argv_add(a, "--server-side");
		kube_argv_add(a, "--field-manager=phdeploy");
		/* The Secrets are declared in phdeploy.yaml: take over fields
		 * that an earlier hand-run `kubectl apply` owns. */
		kube_argv_add(a, "--force-conflicts");
	}
	kube_argv_add(a, "-n");
	kube_argv_add(a, ns);
	kube_argv_add(a, "-f");
	kube_argv_add(a, "-");
}

/* The server does not speak server-side apply (415 for apply-patch). */
static int ssa_rejected(const struct phd_exec_result *res)
{
	static const char *const marks[] = { "UnsupportedMediaType", "apply-patch",
					     "unknown format", "server-side apply" };
	for (size_t i = 0; res->err && i < sizeof(marks) / sizeof(marks[0]); i++)
		if (memmem(res->err, res->err_len, marks[i], strlen(marks[i])))
			return 1;
	return 0;
}

static void log_stdout(phd_ctx *ctx, const struct phd_exec_result *res)
{
	if (res->out && res->out_len)
		phd_log(ctx, PHD_LOG_INFO, "kube: %.*s", (int)(res->out_len -
			(res->out[res->out_len - 1] == '\n')), res->out);
}

/* What the Secrets of ns look like in a COMMAND event: names only. */
static char *masked_desc(phd_ctx *ctx, const char *ns)
{
	size_t n = phd_secret_count(ctx), shown = 0;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		if (!s || strcmp(secret_ns(s, phd_ctx_namespace(ctx)), ns))
			continue;
		fprintf(f, "%sSecret %s/%s keys:", shown++ ? "; " : "", ns, s->name);
		for (size_t k = 0; k < s->nkeys; k++)
			fprintf(f, "%s %s=****", k ? "," : "", s->kv[k].key);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* "name (from origin), ..." of the Secrets of ns, for messages. */
static void names_of(phd_ctx *ctx, const char *ns, char *out, size_t cap)
{
	size_t n = phd_secret_count(ctx), used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < cap; i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		int w;
		if (!s || strcmp(secret_ns(s, phd_ctx_namespace(ctx)), ns))
			continue;
		w = snprintf(out + used, cap - used, "%s%s/%s (from %s)", used ? ", " : "", ns,
			     s->name, s->origin ? s->origin : "a secrets: entry");
		used = w < 0 ? cap : used + (size_t)w;
	}
}

/* Every Secret of namespace ns in one kubectl apply: one process instead of
 * one per Secret, each object still its own document on stdin. */
static int apply_ns(phd_ctx *ctx, const struct kube_conf *cf, const char *ns)
{
	struct kube_wbuf m = { NULL, 0, 0, 0 };
	struct kube_argv a;
	struct phd_exec_result res;
	size_t n = phd_secret_count(ctx);
	int ssa = cf->server_side != KUBE_SSA_OFF;
	int rc = 0;

	if (phd_ctx_dry_run(ctx)) {
		char *line, *desc, *msg = NULL;
		apply_argv(&a, ctx, ns, ssa);
		line = kube_argv_line(&a);
		desc = masked_desc(ctx, ns);
		if (line && desc && asprintf(&msg, "%s <<< %s", line, desc) >= 0)
			kube_emit_command(ctx, PHD_PHASE_SECRETS, msg);
		free(msg);
		free(desc);
		free(line);
		kube_argv_free(&a);
		return 0;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		if (!s || strcmp(secret_ns(s, phd_ctx_namespace(ctx)), ns))
			continue;
		if (m.len)
			kube_wbuf_put(&m, "---\n", 4);
		rc = kube_secret_manifest(&m, s, ns);
	}
	if (rc < 0 || m.failed) {
		kube_wbuf_free(&m);
		return phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory building the Secrets of %s", ns);
	}
	apply_argv(&a, ctx, ns, ssa);
	rc = kube_run(ctx, cf, &a, m.p, m.len, 0, &res);
	if (rc == 0 && res.exit_code != 0 && ssa && cf->server_side == KUBE_SSA_AUTO &&
	    ssa_rejected(&res)) {
		phd_log(ctx, PHD_LOG_WARN, "kube: the API server rejects server-side apply; "
			"applying the Secrets of %s client-side (their data is then also kept in the "
			"last-applied-configuration annotation)", ns);
		phd_exec_result_clear(&res);
		kube_argv_free(&a);
		apply_argv(&a, ctx, ns, 0);
		rc = kube_run(ctx, cf, &a, m.p, m.len, 0, &res);
	}
	kube_wbuf_free(&m);
	if (rc == 0 && res.exit_code != 0) {
		char what[1200], names[1000];
		names_of(ctx, ns, names, sizeof(names));
		snprintf(what, sizeof(what), "cannot apply the Secrets %s", names);
		rc = kube_fail(ctx, PHD_EFAILED, &a, &res, what);
	} else if (rc == 0) {
		log_stdout(ctx, &res);
	}
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
	return rc;
}

/* Read the key names of the Secrets of ns back in one kubectl get: every
 * key applied must be there. */
static int read_back_ns(phd_ctx *ctx, const struct kube_conf *cf, const char *ns)
{
	size_t n = phd_secret_count(ctx), nread = 0;
	struct kube_argv a;
	struct phd_exec_result res;
	char *keys = NULL;
	int rc;

	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, "secret");
	for (size_t i = 0; i < n; i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		if (s && !strcmp(secret_ns(s, phd_ctx_namespace(ctx)), ns))
			kube_argv_add(&a, s->name);
	}
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, ns);
	/* names only: values never reach this process */
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, KUBE_NAMED_KEYS_TEMPLATE);
	rc = kube_run(ctx, cf, &a, NULL, 0, PHD_EXEC_RAW_STDOUT, &res);
	/* a missing Secret is NotFound on stderr; the others are still printed */
	if (rc == 0 && res.exit_code != 0 && !kube_is_notfound(&res))
		rc = kube_fail(ctx, PHD_EFAILED, &a, &res, "cannot read the Secrets' key names back");
	if (rc == 0 && !(keys = strndup(res.out ? res.out : "", res.out ? res.out_len : 0)))
		rc = phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		if (!s || strcmp(secret_ns(s, phd_ctx_namespace(ctx)), ns))
			continue;
		for (size_t k = 0; k < s->nkeys && rc == 0; k++) {
			char want[600];
			snprintf(want, sizeof(want), "%s/%s", s->name, s->kv[k].key);
			if (!kube_keys_has(keys, want))
				rc = phd_set_error(ctx, PHD_EFAILED, "kube: Secret %s/%s (from %s): key "
						   "%s is missing when read back after apply", ns,
						   s->name, s->origin ? s->origin : "a secrets: entry",
						   s->kv[k].key);
		}
		nread++;
	}
	if (rc == 0)
		phd_log(ctx, PHD_LOG_INFO, "kube: %zu Secret(s) in %s: every key read back", nread, ns);
	free(keys);
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
	return rc;
}

/* The namespaces the Secrets go to, each once, in the order first named. */
static int secret_namespaces(phd_ctx *ctx, const char ***out, size_t *nout)
{
	size_t n = phd_secret_count(ctx);
	const char **v = calloc(n ? n : 1, sizeof(*v));

	*out = v;
	*nout = 0;
	if (!v)
		return phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		const char *ns;
		size_t j;
		if (!s)
			continue;
		ns = secret_ns(s, phd_ctx_namespace(ctx));
		for (j = 0; j < *nout && strcmp(v[j], ns); j++)
			;
		if (j == *nout)
			v[(*nout)++] = ns;
	}
	return 0;
}

/* READ (the secrets phase of a deploy or plan): cross-check only.  APPLY
 * or SHOW: in the deploy phase the cross-check already ran in this run, so
 * only the namespace and the Secrets go in; `phdeploy secrets` alone does
 * both in the secrets phase. */
int kube_secrets_phase(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	const struct kube_conf *cf = userdata;
	const char *ns = phd_ctx_namespace(ctx);
	struct kube_refs refs;
	size_t bad = 0, missing = 0, n, nns = 0;
	const char **nss = NULL;
	char *first = NULL;
	int rc;

	memset(&refs, 0, sizeof(refs));
	if (!ns || !*ns)
		return phd_set_error(ctx, PHD_EINVAL, "kube: no namespace (set namespace: or -n)");
	rc = phase == PHD_PHASE_DEPLOY ? 0 : kube_refs_collect(ctx, phd_ctx_values(ctx), &refs,
								&bad);
	if (rc == 0 && phase != PHD_PHASE_DEPLOY)
		rc = cross_check(ctx, cf, ns, &refs, &missing, &first);
	kube_refs_free(&refs);
	if (rc < 0) {
		free(first);
		return rc;
	}
	if (bad + missing) {
		rc = phd_set_error(ctx, PHD_EFAILED, "kube: %s%s(%zu Secret reference problem%s; "
				   "see above)", first ? first : "", first ? " " : "",
				   bad + missing, bad + missing == 1 ? "" : "s");
		free(first);
		return rc;
	}
	if (mode == PHD_MODE_READ)
		return 0;
	n = phd_secret_count(ctx);
	if (n == 0) {
		phd_log(ctx, PHD_LOG_INFO, "kube: no Secrets to apply");
		return PHD_EIGNORE;
	}
	rc = ensure_namespace(ctx, cf, ns);
	if (rc == 0)
		rc = secret_namespaces(ctx, &nss, &nns);
	for (size_t i = 0; i < nns && rc == 0; i++) {
		rc = apply_ns(ctx, cf, nss[i]);
		if (rc == 0 && !phd_ctx_dry_run(ctx))
			rc = read_back_ns(ctx, cf, nss[i]);
	}
	free(nss);
	return rc;
}
