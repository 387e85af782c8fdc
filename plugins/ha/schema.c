/* The values schema rules: the user's values against the shapes the chart's
 * templates need (posthog-values-shape), and the lists the chart pre-fills
 * against the user's lists that replace them (posthog-list-override).  The
 * tables come from scripts/chart-schema; see plugins/ha/schema/README.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "schema.h"

static const struct ha_schema *const schemas[] = { &ha_schema_posthog_30_46_0 };

const struct ha_schema *ha_schema_find(const char *chart, const char *version)
{
	for (size_t i = 0; i < sizeof schemas / sizeof schemas[0]; i++)
		if ((!chart || strstr(chart, schemas[i]->chart)) && version &&
		    strcmp(version, schemas[i]->version) == 0)
			return schemas[i];
	return NULL;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(a, ((const struct ha_schema_key *)b)->path);
}

const struct ha_schema_key *ha_schema_key(const struct ha_schema *sc, const char *path)
{
	return bsearch(path, sc->keys, sc->nkeys, sizeof *sc->keys, cmp_key);
}

/* ---- posthog-values-shape -------------------------------------------------- */

static const char *node_shape(const phd_node *n)
{
	switch (phd_node_type(n)) {
	case PHD_NODE_MAP: return "a mapping";
	case PHD_NODE_SEQ: return "a list";
	default: return "a scalar";
	}
}

static int fits(int shape, const phd_node *n)
{
	int t = phd_node_type(n);

	/* null deletes the key in helm: the template then sees nothing */
	if (t == PHD_NODE_NULL)
		return 1;
	switch (shape) {
	case HA_SHAPE_MAP: return t == PHD_NODE_MAP;
	case HA_SHAPE_LIST: return t == PHD_NODE_SEQ;
	case HA_SHAPE_COLLECTION: return t == PHD_NODE_MAP || t == PHD_NODE_SEQ;
	default: return t == PHD_NODE_SCALAR;
	}
}

static const char *want(int shape)
{
	switch (shape) {
	case HA_SHAPE_MAP: return "a mapping";
	case HA_SHAPE_LIST: return "a list";
	case HA_SHAPE_COLLECTION: return "a list or a mapping";
	default: return "a scalar";
	}
}

/* What goes wrong, in helm's or Kubernetes' words. */
static const char *consequence(const struct ha_schema_key *k, const phd_node *n)
{
	switch (k->use) {
	case HA_USE_RANGE:
		return "ranges over it: helm stops with \"range can't iterate over\" the value";
	case HA_USE_TOYAML:
		return "pastes it with toYaml into a field Kubernetes types: the manifest is "
		       "rejected at apply";
	case HA_USE_FIELD:
		return "reads fields of it: helm stops with \"can't evaluate field\"";
	case HA_USE_COMPARE:
		return "compares it: helm stops with \"incompatible types for comparison\"";
	case HA_USE_REQUIRED:
	case HA_USE_PRINT:
		return phd_node_type(n) == PHD_NODE_MAP ?
		       "prints it: the manifest gets Go's map[...] text instead of a value" :
		       "prints it: the manifest gets Go's [...] text instead of a value";
	default:
		return "the chart's default has that shape, and its templates (or a subchart's) "
		       "depend on it";
	}
}

#define PATH_MAX_LEN 512

static void shape_walk(struct ha_sink *s, const struct ha_schema *sc, const phd_node *n,
		       char *path, size_t len);

static void shape_child(struct ha_sink *s, const struct ha_schema *sc, const phd_node *n,
			char *path, size_t len, const char *key)
{
	int w = snprintf(path + len, PATH_MAX_LEN - len, "%s%s", len && *key != '[' ? "." : "",
			 key);

	if (w > 0 && len + (size_t)w < PATH_MAX_LEN)
		shape_walk(s, sc, n, path, len + (size_t)w);
	path[len] = '\0';
}

static void shape_walk(struct ha_sink *s, const struct ha_schema *sc, const phd_node *n,
		       char *path, size_t len)
{
	const struct ha_schema_key *k = len ? ha_schema_key(sc, path) : NULL;
	size_t i;

	if (len && !k)
		return;  /* a key the chart does not know, or one below a toYaml */
	if (k && !fits(k->shape, n)) {
		ha_report(s, "posthog-values-shape", PHD_SEV_ERROR, "values", n, path,
			  "%s is %s but the chart needs %s: %s%s%s; give it %s", path, node_shape(n),
			  want(k->shape), k->where ? k->where : "", k->where ? " " : "",
			  consequence(k, n), want(k->shape));
		return;
	}
	if (phd_node_type(n) == PHD_NODE_MAP) {
		for (i = 0; i < phd_node_len(n); i++) {
			const char *key = phd_node_key_at(n, i);
			if (key)
				shape_child(s, sc, phd_node_at(n, i), path, len, key);
		}
	} else if (phd_node_type(n) == PHD_NODE_SEQ) {
		for (i = 0; i < phd_node_len(n); i++)
			shape_child(s, sc, phd_node_at(n, i), path, len, "[]");
	}
}

/* ---- posthog-list-override ------------------------------------------------- */

static const char *entry_id(const struct ha_schema_list *l, const phd_node *e)
{
	if (strcmp(l->id_key, "=") == 0)
		return phd_node_str(e);
	if (strcmp(l->id_key, "*") == 0)
		return phd_node_len(e) == 1 ? phd_node_key_at(e, 0) : NULL;
	return phd_node_str(phd_node_get(e, l->id_key));
}

static int user_has(const struct ha_schema_list *l, const phd_node *list)
{
	for (size_t i = 0; i < phd_node_len(list); i++) {
		const char *id = entry_id(l, phd_node_at(list, i));
		if (id && strcmp(id, l->id) == 0)
			return 1;
	}
	return 0;
}

/* Split a schema path into the keys the chart's values.yaml has: a dotted
 * segment is one key when the values.yaml says so (datasources.yaml), so try
 * the longest key present at each level. */
static const phd_node *lookup(const phd_node *values, const char *path)
{
	const phd_node *n = values;
	const char *p = path;

	while (n && *p) {
		const phd_node *found = NULL;
		size_t best = 0;
		for (size_t j = 0; phd_node_type(n) == PHD_NODE_MAP && j < phd_node_len(n); j++) {
			const char *k = phd_node_key_at(n, j);
			size_t kl = k ? strlen(k) : 0;
			if (kl > best && strncmp(p, k, kl) == 0 && (p[kl] == '.' || !p[kl])) {
				best = kl;
				found = phd_node_at(n, j);
			}
		}
		if (!found)
			return NULL;
		n = found;
		p += best;
		if (*p == '.')
			p++;
	}
	return n;
}

static void list_override(struct ha_sink *s, const struct ha_opts *o, const struct ha_schema *sc,
			  size_t first, size_t end)
{
	const struct ha_schema_list *l = &sc->lists[first];
	const phd_node *user = lookup(o->values, l->path);
	char dropped[1024] = "", keep[2048] = "";
	size_t dl = 0, kl = 0, i;
	int carries = 0, quoted = 1;

	if (phd_node_type(user) != PHD_NODE_SEQ)
		return;  /* absent: the chart's list stays; other shapes: posthog-values-shape */
	for (i = first; i < end; i++) {
		const struct ha_schema_list *e = &sc->lists[i];
		if (user_has(e, user))
			continue;
		carries |= e->carries;
		if (dl < sizeof dropped)
			dl += (size_t)snprintf(dropped + dl, sizeof dropped - dl, "%s%s",
					       dl ? ", " : "", e->id);
		if (!e->entry)
			quoted = 0;
		else if (kl < sizeof keep)
			kl += (size_t)snprintf(keep + kl, sizeof keep - kl, "%s%s", kl ? ", " : "",
					       e->entry);
	}
	if (!dl)
		return;
	/* dropping null placeholders loses nothing whatever the list */
	ha_report(s, "posthog-list-override", carries ? l->sev : PHD_SEV_INFO, "values", user,
		  l->path,
		  "%s replaces the chart's list (helm replaces a list whole, it does not merge) "
		  "and drops the chart's %s: %s; to keep %s, add %s to your %s",
		  l->path, dropped,
		  !carries ? "null placeholders, nothing is lost" :
		  l->why ? l->why : "the chart sets these entries, check that you meant to drop them",
		  strchr(dropped, ',') ? "them" : "it",
		  quoted ? keep : "the entries from the chart's values.yaml (helm show values)",
		  l->path);
}

void ha_schema_check(struct ha_sink *s, const struct ha_opts *o)
{
	const struct ha_schema *sc = ha_schema_find(NULL, o->chart_version);
	char path[PATH_MAX_LEN] = "";
	size_t i, start;

	if (!o->values)
		return;
	if (!sc) {
		/* say so: silence would read as "the values fit" */
		ha_report(s, "posthog-values-shape", PHD_SEV_INFO, "values", NULL, NULL,
			  "no values schema for chart version %s in this build (it has %s): the "
			  "shape and list-override rules did not run; plugins/ha/schema/README.md "
			  "says how a version is added", o->chart_version ? o->chart_version :
			  "(unpinned: set chart.version)", schemas[0]->version);
		return;
	}
	shape_walk(s, sc, o->values, path, 0);
	for (start = 0, i = 1; i <= sc->nlists; i++)
		if (i == sc->nlists || strcmp(sc->lists[i].path, sc->lists[start].path) != 0) {
			list_override(s, o, sc, start, i);
			start = i;
		}
}
