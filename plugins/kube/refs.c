/* Which Secrets and keys the PostHog chart (30.46.0) reads, given the
 * values.  The table is plugins/common/chartvalues.c, shared with the
 * dependency checks; phdeploy-kube(7) prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chartvalues.h"
#include "kube.h"

static const char *set_str(const phd_node *values, const char *path, const phd_node **where)
{
	const phd_node *n = phd_node_get(values, path);
	const char *s = phd_node_str(n);

	if (where)
		*where = n;
	return s && *s ? s : NULL;
}

static int refs_push(struct kube_refs *refs, const char *secret, const char *key,
		     const char *values_key, const phd_node *where)
{
	if (refs->n == refs->cap) {
		size_t cap = refs->cap ? refs->cap * 2 : 16;
		struct kube_ref *nv = realloc(refs->v, cap * sizeof(*nv));
		if (!nv)
			return PHD_ENOMEM;
		refs->v = nv;
		refs->cap = cap;
	}
	refs->v[refs->n++] = (struct kube_ref){ secret, key, values_key, where };
	return 0;
}

/* Keep a copy of s alive as long as refs (for paths built while walking). */
static const char *refs_own(struct kube_refs *refs, const char *s)
{
	char **nv = realloc(refs->owned, (refs->nowned + 1) * sizeof(*nv));
	char *c;

	if (!nv)
		return NULL;
	refs->owned = nv;
	c = strdup(s);
	if (c)
		refs->owned[refs->nowned++] = c;
	return c;
}

void kube_refs_free(struct kube_refs *refs)
{
	for (size_t i = 0; i < refs->nowned; i++)
		free(refs->owned[i]);
	free(refs->owned);
	free(refs->v);
	memset(refs, 0, sizeof(*refs));
}

static int collect_rule(phd_ctx *ctx, const phd_node *values, const struct phd_cv_secret *r,
			struct kube_refs *refs, size_t *bad)
{
	const phd_node *where;
	const char *secret = set_str(values, r->name_path, &where);
	char pos[512];

	if (!secret) {
		/* A key without its Secret is ignored by the chart: say so. */
		for (size_t k = 0; k < 2; k++) {
			const phd_node *kn;
			if (r->keys[k].path && set_str(values, r->keys[k].path, &kn) &&
			    !r->keys[k].def) {
				kube_pos(kn, pos, sizeof(pos));
				phd_log(ctx, PHD_LOG_WARN, "%s: %s is set but %s is not: the chart "
					"ignores the key", pos, r->keys[k].path, r->name_path);
			}
		}
		return 0;
	}
	if (!phd_cv_secret_applies(r, values)) {
		kube_pos(where, pos, sizeof(pos));
		phd_log(ctx, PHD_LOG_INFO, "%s: %s not checked: the chart does not read it "
			"with %s: %s", pos, r->name_path, r->toggle, r->toggle_want ? "false" : "true");
		return 0;
	}
	for (size_t k = 0; k < 2; k++) {
		const struct phd_cv_key *rk = &r->keys[k];
		const char *key;
		int rc;
		if (!rk->path && !rk->def)
			continue;
		key = rk->path ? set_str(values, rk->path, NULL) : NULL;
		if (!key)
			key = rk->def;
		if (!key) {
			kube_pos(where, pos, sizeof(pos));
			phd_log(ctx, PHD_LOG_ERROR, "%s: %s is set but %s is not: the chart "
				"requires both (rendering fails without the key)", pos,
				r->name_path, rk->path);
			(*bad)++;
			continue;
		}
		rc = refs_push(refs, secret, key, r->name_path, where);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Append the i-th child's step (".key" or "[i]") to the values path at
 * plen; its length, or -1 when the path does not fit. */
static int path_step(const phd_node *n, size_t i, char *path, size_t plen, size_t cap)
{
	const char *key = phd_node_key_at(n, i);
	int w;

	if (phd_node_type(n) == PHD_NODE_MAP)
		w = snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", key ? key : "");
	else
		w = snprintf(path + plen, cap - plen, "[%zu]", i);
	return w < 0 || (size_t)w >= cap - plen ? -1 : w;
}

/* env entries ({name, valueFrom: {secretKeyRef: {name, key}}}) and envFrom
 * entries ({secretRef: {name}}) anywhere in the values: the chart copies
 * them into its pods, which do not start while the Secret is missing. */
static int walk(const phd_node *n, char *path, size_t plen, size_t cap, struct kube_refs *refs)
{
	size_t len = phd_node_len(n);
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0; i++) {
		const phd_node *c = phd_node_at(n, i);
		const char *key = phd_node_key_at(n, i);
		int w;

		w = path_step(n, i, path, plen, cap);
		if (w < 0)
			continue;   /* deeper than any chart key: not a reference */
		if (key && (!strcmp(key, "secretKeyRef") || !strcmp(key, "secretRef")) &&
		    phd_node_type(c) == PHD_NODE_MAP) {
			const phd_node *nn = phd_node_get(c, "name");
			const char *name = phd_node_str(nn);
			const char *k = !strcmp(key, "secretKeyRef") ? phd_node_str(phd_node_get(c, "key")) : NULL;
			int opt = 0;
			const char *vk;
			phd_node_bool(phd_node_get(c, "optional"), &opt);
			if (!name || !*name || opt)
				continue;
			vk = refs_own(refs, path);
			if (!vk)
				return PHD_ENOMEM;
			rc = refs_push(refs, name, k && *k ? k : NULL, vk, nn);
			continue;
		}
		if (phd_node_type(c) == PHD_NODE_MAP || phd_node_type(c) == PHD_NODE_SEQ)
			rc = walk(c, path, plen + (size_t)w, cap, refs);
	}
	path[plen] = '\0';
	return rc;
}

int kube_refs_collect(phd_ctx *ctx, const phd_node *values, struct kube_refs *refs,
		      size_t *bad)
{
	char path[1024] = "";
	const phd_node *ps;
	int rc;

	*bad = 0;
	if (!values)
		return 0;
	for (size_t i = 0; i < phd_cv_nsecrets; i++) {
		rc = collect_rule(ctx, values, &phd_cv_secrets[i], refs, bad);
		if (rc < 0)
			return rc;
	}
	/* image.pullSecrets: names of registry Secrets the pods pull with. */
	ps = phd_node_get(values, "image.pullSecrets");
	for (size_t i = 0; i < phd_node_len(ps); i++) {
		const phd_node *e = phd_node_at(ps, i);
		const char *name = phd_node_str(e);
		if (name && *name && (rc = refs_push(refs, name, NULL, "image.pullSecrets", e)) < 0)
			return rc;
	}
	return walk(values, path, 0, sizeof(path), refs);
}

/* Whether an env variable's name says it holds a credential. */
static int secretish(const char *name)
{
	static const char *const words[] = { "PASSWORD", "SECRET", "TOKEN", "PASSWD",
					     "_KEY", "CREDENTIAL" };
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(name, words[i]))
			return 1;
	return 0;
}

/* where: the inline key; fix: the values key to set instead. */
static void report_inline(phd_validation *v, const phd_node *n, const char *where,
			  const char *fix, const char *hint)
{
	const char *s = phd_node_str(n);

	if (!s || !*s)
		return;
	/* Mask it everywhere from now on: helm's output and logs included. */
	phd_redact_add(phd_validation_ctx(v), s, strlen(s));
	phd_validation_report(v, "inline-secret", PHD_SEV_WARN, "values", n, fix,
			      "%s is written inline in the values: %s", where, hint);
}

static void walk_env(phd_validation *v, const phd_node *n, char *path, size_t plen, size_t cap)
{
	size_t len = phd_node_len(n);

	for (size_t i = 0; i < len; i++) {
		const phd_node *c = phd_node_at(n, i);
		int w;

		w = path_step(n, i, path, plen, cap);
		if (w < 0)
			continue;
		if (phd_node_type(n) == PHD_NODE_SEQ && phd_node_type(c) == PHD_NODE_MAP) {
			const char *name = phd_node_str(phd_node_get(c, "name"));
			const phd_node *val = phd_node_get(c, "value");
			if (name && secretish(name) && phd_node_str(val)) {
				char fix[1100];
				snprintf(fix, sizeof(fix), "%s.valueFrom.secretKeyRef", path);
				snprintf(path + plen + (size_t)w, cap - plen - (size_t)w, ".value");
				report_inline(v, val, path, fix, "remove it and use valueFrom."
					      "secretKeyRef with a `secrets:` entry instead");
				continue;
			}
		}
		if (phd_node_type(c) == PHD_NODE_MAP || phd_node_type(c) == PHD_NODE_SEQ)
			walk_env(v, c, path, plen + (size_t)w, cap);
	}
	path[plen] = '\0';
}

int kube_inline_secret_validator(phd_validation *v, void *userdata)
{
	const phd_node *values = phd_ctx_values(phd_validation_ctx(v));
	char path[1024] = "";

	(void)userdata;
	if (!values)
		return 0;
	for (size_t i = 0; i < phd_cv_nsecrets; i++) {
		const struct phd_cv_secret *sec = &phd_cv_secrets[i];
		char hint[200];
		snprintf(hint, sizeof(hint), "remove it, put it in a Secret (a `secrets:` entry) "
			 "and name that Secret in %s", sec->name_path);
		for (size_t k = 0; k < 2 && sec->inline_paths[k]; k++)
			report_inline(v, phd_node_get(values, sec->inline_paths[k]),
				      sec->inline_paths[k], sec->name_path, hint);
	}
	walk_env(v, values, path, 0, sizeof(path));
	return 0;
}
