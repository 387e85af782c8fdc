/* Kubernetes Secret manifests → secret sink: the checks kubectl and the API
 * server would make, done before anything reaches the cluster, each with
 * origin:line:column.  Values are never part of a message. */
#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "mtree.h"


struct state {
	phd_ctx *ctx;
	phd_secret_sink *sink;
	const struct sm_source *src;
	size_t ndocs;
};

static const char *const top_keys[] = {
	"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable", NULL
};

static int err_at(struct state *st, int code, const struct mt_node *n, const char *fmt, ...)
	PHD_PRINTF(4, 5);
static int err_at(struct state *st, int code, const struct mt_node *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	/* names and keys only, never values */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return phd_set_error(st->ctx, code, "%s:%u:%u: %s: %s", st->src->origin,
			     n ? n->line : 1, n ? n->col : 1, st->src->plugin, msg);
}

static int in_list(const char *k, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(k, *list) == 0)
			return 1;
	return 0;
}

static int cmp_keyp(const void *a, const void *b)
{
	const struct mt_node *x = *(const struct mt_node *const *)a;
	const struct mt_node *y = *(const struct mt_node *const *)b;
	int c = strcmp(x->s, y->s);

	if (c)
		return c;
	return x->line != y->line ? (x->line < y->line ? -1 : 1)
				  : (x->col < y->col ? -1 : x->col > y->col);
}

/* Keys of a mapping must be scalars and unique (YAML says so; libyaml does
 * not check).  Sorting copies of the key pointers keeps this O(n log n). */
static int check_map_keys(struct state *st, const struct mt_node *map, const char *what)
{
	const struct mt_node **keys;
	size_t i, n = map->n / 2;
	int rc = 0;

	for (i = 0; i < n; i++)
		if (map->kid[2 * i]->type != MT_SCALAR)
			return err_at(st, PHD_ETYPE, map->kid[2 * i], "%s: keys must be strings",
				      what);
	if (n < 2)
		return 0;
	keys = malloc(n * sizeof *keys);
	if (!keys)
		return phd_set_error(st->ctx, PHD_ENOMEM, "%s: out of memory", st->src->plugin);
	for (i = 0; i < n; i++)
		keys[i] = map->kid[2 * i];
	qsort(keys, n, sizeof *keys, cmp_keyp);
	for (i = 1; i < n && !rc; i++)
		if (strcmp(keys[i - 1]->s, keys[i]->s) == 0) {
			char first[32];

			snprintf(first, sizeof first, "%u:%u", keys[i - 1]->line, keys[i - 1]->col);
			rc = err_at(st, PHD_EINVAL, keys[i],
				    "duplicate key \"%s\" (first at line:column %s)", keys[i]->s,
				    first);
		}
	free(keys);
	return rc;
}

static int want_scalar(struct state *st, const struct mt_node *parent, const char *key,
		       const char *want, const struct mt_node **out)
{
	const struct mt_node *n = mt_get(parent, key);

	*out = n;
	if (!n || mt_is_null(n))
		return err_at(st, PHD_EINVAL, parent, "missing \"%s:\"", key);
	if (n->type != MT_SCALAR)
		return err_at(st, PHD_ETYPE, n, "\"%s:\" must be a string", key);
	if (want && strcmp(n->s, want) != 0)
		return err_at(st, PHD_EINVAL, n, "\"%s:\" must be %s", key, want);
	return 0;
}

static int check_header(struct state *st, const struct mt_node *doc, const char **name)
{
	const struct mt_node *v, *meta, *ns;
	const char *want_ns = phd_ctx_namespace(st->ctx);
	size_t i;
	int rc;

	if (doc->type != MT_MAP)
		return err_at(st, PHD_ETYPE, doc, "a Secret manifest must be a mapping");
	if ((rc = check_map_keys(st, doc, "manifest")))
		return rc;
	for (i = 0; i < doc->n; i += 2)
		if (!in_list(doc->kid[i]->s, top_keys))
			return err_at(st, PHD_EINVAL, doc->kid[i],
				      "unknown field \"%s\" in a Secret", doc->kid[i]->s);
	if ((rc = want_scalar(st, doc, "apiVersion", "v1", &v)))
		return rc;
	if ((v = mt_get(doc, "kind")) && v->type == MT_SCALAR && strcmp(v->s, "Secret") != 0)
		return err_at(st, PHD_EINVAL, v, "kind \"%s\" is not a Secret (only kind: Secret)",
			      v->s);
	if ((rc = want_scalar(st, doc, "kind", "Secret", &v)))
		return rc;
	meta = mt_get(doc, "metadata");
	if (!meta || meta->type != MT_MAP)
		return err_at(st, PHD_EINVAL, meta ? meta : doc, "\"metadata:\" must be a mapping");
	if ((rc = check_map_keys(st, meta, "metadata")))
		return rc;
	if ((rc = want_scalar(st, meta, "name", NULL, &v)))
		return rc;
	if (!phd_is_dns1123_subdomain(v->s))
		return err_at(st, PHD_EINVAL, v,
			      "\"%s\" is not a valid Secret name (lowercase RFC 1123 subdomain)",
			      v->s);
	*name = v->s;
	ns = mt_get(meta, "namespace");
	if (ns && !mt_is_null(ns)) {
		if (ns->type != MT_SCALAR)
			return err_at(st, PHD_ETYPE, ns, "\"namespace:\" must be a string");
		if (want_ns && strcmp(ns->s, want_ns) != 0)
			return err_at(st, PHD_EINVAL, ns,
				      "namespace \"%s\" is not the release namespace \"%s\"", ns->s,
				      want_ns);
	}
	v = mt_get(doc, "type");
	if (v && (v->type != MT_SCALAR || mt_is_null(v) || !*v->s))
		return err_at(st, PHD_ETYPE, v, "\"type:\" must be a non-empty string");
	return 0;
}

/* data: / stringData: — a mapping of valid keys to string values. */
static int check_values(struct state *st, const struct mt_node *map, const char *field,
			size_t *nkeys)
{
	size_t i, bad;
	int rc;

	*nkeys = 0;
	if (!map || mt_is_null(map))
		return 0;
	if (map->type != MT_MAP)
		return err_at(st, PHD_ETYPE, map, "\"%s:\" must be a mapping", field);
	if ((rc = check_map_keys(st, map, field)))
		return rc;
	for (i = 0; i < map->n; i += 2) {
		const struct mt_node *k = map->kid[i], *v = map->kid[i + 1];

		if (!sc_valid_key(k->s, k->len))
			return err_at(st, PHD_EINVAL, k,
				      "\"%s\" is not a valid Secret key (letters, digits, '-', '_', '.')",
				      k->s);
		if (v->type != MT_SCALAR)
			return err_at(st, PHD_ETYPE, v, "%s.%s must be a string", field, k->s);
		if (mt_is_null(v))
			return err_at(st, PHD_EINVAL, k, "%s.%s has no value", field, k->s);
		if (strcmp(field, "data") == 0) {
			unsigned char *tmp = malloc(v->len / 4 * 3 + 3);
			size_t outlen;
			int bad_b64;

			if (!tmp)
				return phd_set_error(st->ctx, PHD_ENOMEM, "out of memory");
			bad_b64 = sc_b64_decode(tmp, &outlen, v->s, v->len, &bad);
			explicit_bzero(tmp, v->len / 4 * 3 + 3);
			free(tmp);
			if (bad_b64) {
				char at[32];

				snprintf(at, sizeof at, "%zu", bad + 1);
				return err_at(st, PHD_EINVAL, v,
					      "data.%s is not valid base64 (at character %s)", k->s,
					      at);
			}
		}
		(*nkeys)++;
	}
	return 0;
}

static int check_overlap(struct state *st, const struct mt_node *data,
			 const struct mt_node *sdata)
{
	size_t i;

	if (!data || data->type != MT_MAP || !sdata || sdata->type != MT_MAP)
		return 0;
	for (i = 0; i < sdata->n; i += 2) {
		const struct mt_node *k = sdata->kid[i];

		if (mt_get(data, k->s)) {
			char at[32];
			size_t j;

			for (j = 0; j < data->n; j += 2)
				if (strcmp(data->kid[j]->s, k->s) == 0)
					snprintf(at, sizeof at, "%u:%u", data->kid[j]->line,
						 data->kid[j]->col);
			return err_at(st, PHD_EINVAL, k,
				      "key \"%s\" is in both stringData and data (data at %s)", k->s,
				      at);
		}
	}
	return 0;
}

/* The core refuses a name given twice, in this source or any other. */
static int remember(struct state *st, const struct mt_node *name_node)
{
	char at[600];

	snprintf(at, sizeof at, "%s:%u:%u", st->src->origin, name_node->line, name_node->col);
	return phd_secret_declare(st->sink, name_node->s, at);
}

static int add_one(struct state *st, const char *name, const struct mt_node *k,
		   const struct mt_node *v, int b64)
{
	unsigned char *tmp = NULL;
	const void *val = v->s;
	size_t len = v->len, bad, cap = 0;
	int rc;

	if (b64) {
		cap = v->len / 4 * 3 + 3;
		tmp = malloc(cap);
		if (!tmp)
			return phd_set_error(st->ctx, PHD_ENOMEM, "out of memory");
		if (sc_b64_decode(tmp, &len, v->s, v->len, &bad)) { /* checked before */
			free(tmp);
			return phd_set_error(st->ctx, PHD_EINTERNAL, "base64 changed");
		}
		val = tmp;
	}
	rc = phd_secret_add(st->sink, name, k->s, val, len, st->src->where);
	if (tmp) {
		explicit_bzero(tmp, cap);
		free(tmp);
	}
	if (rc)
		return err_at(st, rc, k, "cannot add key \"%s\" to Secret \"%s\"", k->s, name);
	return 0;
}

static int on_doc(const struct mt_node *doc, void *payload)
{
	struct state *st = payload;
	const struct mt_node *data, *sdata, *type, *meta;
	const char *name = NULL;
	size_t i, n1, n2;
	int rc;

	if (!doc || mt_is_null(doc))
		return 0; /* an empty document, e.g. a trailing "---" */
	st->ndocs++;
	if ((rc = check_header(st, doc, &name)))
		return rc;
	data = mt_get(doc, "data");
	sdata = mt_get(doc, "stringData");
	if ((rc = check_values(st, data, "data", &n1)) ||
	    (rc = check_values(st, sdata, "stringData", &n2)) ||
	    (rc = check_overlap(st, data, sdata)))
		return rc;
	meta = mt_get(doc, "metadata");
	if (n1 + n2 == 0)
		return err_at(st, PHD_EINVAL, mt_get(meta, "name"),
			      "Secret \"%s\" has no data and no stringData", name);
	if ((rc = remember(st, mt_get(meta, "name"))))
		return rc;
	for (i = 0; n1 && i < data->n; i += 2)
		if ((rc = add_one(st, name, data->kid[i], data->kid[i + 1], 1)))
			return rc;
	for (i = 0; n2 && i < sdata->n; i += 2)
		if ((rc = add_one(st, name, sdata->kid[i], sdata->kid[i + 1], 0)))
			return rc;
	type = mt_get(doc, "type");
	if (type && (rc = phd_secret_set_type(st->sink, name, type->s)))
		return err_at(st, rc, type, "cannot set type \"%s\" of Secret \"%s\"", type->s, name);
	if (mt_get(meta, "labels") || mt_get(meta, "annotations"))
		phd_log(st->ctx, PHD_LOG_WARN,
			"%s:%u:%u: %s: labels and annotations of Secret \"%s\" are not applied",
			st->src->origin, meta->line, meta->col, st->src->plugin, name);
	return 0;
}

int sm_parse(phd_ctx *ctx, phd_secret_sink *sink, const struct sm_source *src,
	     const char *buf, size_t len)
{
	struct state st;
	struct mt_error err;
	int rc;

	if (len > SC_MAX_INPUT)
		return phd_set_error(ctx, PHD_ETOOBIG, "%s: %s: %zu bytes, over the %u-byte limit",
				     src->origin, src->plugin, len, SC_MAX_INPUT);
	memset(&st, 0, sizeof st);
	st.ctx = ctx;
	st.sink = sink;
	st.src = src;
	rc = mt_load(buf, len, on_doc, &st, &err);
	if (rc == -1)
		rc = phd_set_error(ctx, strstr(err.msg, "deep") || strstr(err.msg, "many")
						? PHD_ETOOBIG
						: PHD_ESYNTAX,
				   "%s:%u:%u: %s: %s", src->origin, err.line, err.col, src->plugin,
				   err.msg);
	else if (rc == 0 && st.ndocs == 0)
		rc = phd_set_error(ctx, PHD_EINVAL, "%s: %s: no Secret in it", src->origin,
				   src->plugin);
	return rc;
}
