/* Kubernetes facts the rules share: label selectors, image references,
 * versions, removed APIs, and a small index to join objects by name. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ha.h"

const char *ha_label(const phd_node *labels, const char *key)
{
	size_t i, n;

	if (phd_node_type(labels) != PHD_NODE_MAP)
		return NULL;
	n = phd_node_len(labels);
	for (i = 0; i < n; i++) {
		const char *k = phd_node_key_at(labels, i);
		if (k && strcmp(k, key) == 0)
			return phd_node_str(phd_node_at(labels, i));
	}
	return NULL;
}

static int in_values(const phd_node *values, const char *v)
{
	size_t i, n = phd_node_len(values);

	for (i = 0; i < n; i++) {
		const char *s = phd_node_str(phd_node_at(values, i));
		if (s && v && strcmp(s, v) == 0)
			return 1;
	}
	return 0;
}

static int expression_matches(const phd_node *e, const phd_node *labels)
{
	const char *key = phd_node_str(phd_node_get(e, "key"));
	const char *op = phd_node_str(phd_node_get(e, "operator"));
	const phd_node *vals = phd_node_get(e, "values");
	const char *v;

	if (!key || !op)
		return 0;
	v = ha_label(labels, key);
	if (strcmp(op, "In") == 0)
		return v && in_values(vals, v);
	if (strcmp(op, "NotIn") == 0)
		return !v || !in_values(vals, v);
	if (strcmp(op, "Exists") == 0)
		return v != NULL;
	if (strcmp(op, "DoesNotExist") == 0)
		return v == NULL;
	return 0;
}

int ha_selector_matches(const phd_node *sel, const phd_node *labels)
{
	const phd_node *ml, *me;
	size_t i, n;

	if (phd_node_type(sel) != PHD_NODE_MAP)
		return 0;
	ml = phd_node_get(sel, "matchLabels");
	me = phd_node_get(sel, "matchExpressions");
	if (ml && phd_node_type(ml) != PHD_NODE_MAP && phd_node_type(ml) != PHD_NODE_NULL)
		return 0;
	if (me && phd_node_type(me) != PHD_NODE_SEQ && phd_node_type(me) != PHD_NODE_NULL)
		return 0;
	n = phd_node_len(ml);
	for (i = 0; i < n; i++) {
		const char *k = phd_node_key_at(ml, i);
		const char *want = phd_node_str(phd_node_at(ml, i));
		const char *got = k ? ha_label(labels, k) : NULL;
		if (!got || !want || strcmp(got, want) != 0)
			return 0;
	}
	n = phd_node_len(me);
	for (i = 0; i < n; i++)
		if (!expression_matches(phd_node_at(me, i), labels))
			return 0;
	return 1;
}

int ha_truthy(const phd_node *n)
{
	int b;
	long long ll;
	const char *s;

	switch (phd_node_type(n)) {
	case PHD_NODE_MAP:
	case PHD_NODE_SEQ:
		return phd_node_len(n) > 0;
	case PHD_NODE_SCALAR:
		if (phd_node_bool(n, &b) == 0)
			return b;
		if (phd_node_int(n, &ll) == 0)
			return ll != 0;
		s = phd_node_str(n);
		return s && *s;
	default:
		return 0;
	}
}

int ha_image_unpinned(const char *image)
{
	const char *slash, *colon;

	if (!image || !*image)
		return 1;
	if (strchr(image, '@'))
		return 0;
	slash = strrchr(image, '/');
	colon = strrchr(slash ? slash : image, ':');
	if (!colon || !colon[1])
		return 1;
	return strcmp(colon + 1, "latest") == 0;
}

/* APIs removed from Kubernetes (the deprecation guide), newest last.
 * kind "*" stands for every kind of that group/version not listed before. */
static const struct removed_api {
	const char *api_version, *kind;
	int removed_in;
	const char *use;
} removed_apis[] = {
	{ "extensions/v1beta1", "Ingress", 22, "networking.k8s.io/v1" },
	{ "extensions/v1beta1", "NetworkPolicy", 16, "networking.k8s.io/v1" },
	{ "extensions/v1beta1", "PodSecurityPolicy", 16, "policy/v1beta1, then Pod Security Admission" },
	{ "extensions/v1beta1", "*", 16, "apps/v1" },
	{ "apps/v1beta1", "*", 16, "apps/v1" },
	{ "apps/v1beta2", "*", 16, "apps/v1" },
	{ "networking.k8s.io/v1beta1", "*", 22, "networking.k8s.io/v1" },
	{ "admissionregistration.k8s.io/v1beta1", "*", 22, "admissionregistration.k8s.io/v1" },
	{ "apiextensions.k8s.io/v1beta1", "*", 22, "apiextensions.k8s.io/v1" },
	{ "apiregistration.k8s.io/v1beta1", "*", 22, "apiregistration.k8s.io/v1" },
	{ "authentication.k8s.io/v1beta1", "*", 22, "authentication.k8s.io/v1" },
	{ "authorization.k8s.io/v1beta1", "*", 22, "authorization.k8s.io/v1" },
	{ "certificates.k8s.io/v1beta1", "*", 22, "certificates.k8s.io/v1" },
	{ "coordination.k8s.io/v1beta1", "*", 22, "coordination.k8s.io/v1" },
	{ "rbac.authorization.k8s.io/v1beta1", "*", 22, "rbac.authorization.k8s.io/v1" },
	{ "scheduling.k8s.io/v1beta1", "*", 22, "scheduling.k8s.io/v1" },
	{ "storage.k8s.io/v1beta1", "CSIStorageCapacity", 27, "storage.k8s.io/v1" },
	{ "storage.k8s.io/v1beta1", "*", 22, "storage.k8s.io/v1" },
	{ "batch/v1beta1", "CronJob", 25, "batch/v1" },
	{ "discovery.k8s.io/v1beta1", "EndpointSlice", 25, "discovery.k8s.io/v1" },
	{ "events.k8s.io/v1beta1", "Event", 25, "events.k8s.io/v1" },
	{ "autoscaling/v2beta1", "HorizontalPodAutoscaler", 25, "autoscaling/v2" },
	{ "policy/v1beta1", "PodDisruptionBudget", 25, "policy/v1" },
	{ "policy/v1beta1", "PodSecurityPolicy", 25, "Pod Security Admission (no replacement API)" },
	{ "node.k8s.io/v1beta1", "RuntimeClass", 25, "node.k8s.io/v1" },
	{ "autoscaling/v2beta2", "HorizontalPodAutoscaler", 26, "autoscaling/v2" },
	{ "flowcontrol.apiserver.k8s.io/v1beta1", "*", 26, "flowcontrol.apiserver.k8s.io/v1" },
	{ "flowcontrol.apiserver.k8s.io/v1beta2", "*", 29, "flowcontrol.apiserver.k8s.io/v1" },
	{ "flowcontrol.apiserver.k8s.io/v1beta3", "*", 32, "flowcontrol.apiserver.k8s.io/v1" },
};

int ha_removed_api(const char *api_version, const char *kind, int *removed_in, const char **use)
{
	size_t i;

	if (!api_version || !kind)
		return 0;
	for (i = 0; i < sizeof removed_apis / sizeof removed_apis[0]; i++) {
		const struct removed_api *r = &removed_apis[i];
		if (strcmp(r->api_version, api_version) != 0)
			continue;
		if (strcmp(r->kind, "*") != 0 && strcmp(r->kind, kind) != 0)
			continue;
		*removed_in = r->removed_in;
		*use = r->use;
		return 1;
	}
	return 0;
}

/* ---- index: chained hash table, keys copied ---------------------------- */

struct ha_entry {
	char *key;
	size_t value;
	size_t next;            /* entry index + 1, 0 ends the chain */
	uint32_t hash;
};

struct ha_index {
	size_t *heads;          /* entry index + 1 per bucket */
	size_t nbuckets;        /* a power of two */
	struct ha_entry *e;
	size_t n, cap;
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct ha_index *ha_index_new(size_t hint)
{
	struct ha_index *ix = calloc(1, sizeof *ix);

	if (!ix)
		return NULL;
	ix->nbuckets = 64;
	while (ix->nbuckets < hint && ix->nbuckets < ((size_t)1 << 30))
		ix->nbuckets <<= 1;
	ix->heads = calloc(ix->nbuckets, sizeof *ix->heads);
	if (!ix->heads) {
		free(ix);
		return NULL;
	}
	return ix;
}

void ha_index_free(struct ha_index *ix)
{
	size_t i;

	if (!ix)
		return;
	for (i = 0; i < ix->n; i++)
		free(ix->e[i].key);
	free(ix->e);
	free(ix->heads);
	free(ix);
}

static int grow_buckets(struct ha_index *ix)
{
	size_t nb = ix->nbuckets * 2, i;
	size_t *heads = calloc(nb, sizeof *heads);

	if (!heads)
		return PHD_ENOMEM;
	for (i = 0; i < ix->n; i++) {
		size_t b = ix->e[i].hash & (nb - 1);
		ix->e[i].next = heads[b];
		heads[b] = i + 1;
	}
	free(ix->heads);
	ix->heads = heads;
	ix->nbuckets = nb;
	return 0;
}

int ha_index_add(struct ha_index *ix, const char *key, size_t value)
{
	struct ha_entry *e;
	size_t b;

	if (ix->n == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		e = realloc(ix->e, cap * sizeof *e);
		if (!e)
			return PHD_ENOMEM;
		ix->e = e;
		ix->cap = cap;
	}
	if (ix->n >= ix->nbuckets && ix->nbuckets < ((size_t)1 << 30) && grow_buckets(ix) < 0)
		return PHD_ENOMEM;
	e = &ix->e[ix->n];
	e->key = strdup(key);
	if (!e->key)
		return PHD_ENOMEM;
	e->value = value;
	e->hash = fnv1a(key);
	b = e->hash & (ix->nbuckets - 1);
	e->next = ix->heads[b];
	ix->heads[b] = ++ix->n;
	return 0;
}

int ha_index_next(const struct ha_index *ix, const char *key, size_t *it, size_t *value)
{
	uint32_t h;
	size_t cur;

	if (!ix || *it == SIZE_MAX)
		return 0;
	h = fnv1a(key);
	cur = *it ? *it : ix->heads[h & (ix->nbuckets - 1)];
	for (; cur; cur = ix->e[cur - 1].next) {
		const struct ha_entry *e = &ix->e[cur - 1];
		if (e->hash == h && strcmp(e->key, key) == 0) {
			*value = e->value;
			*it = e->next ? e->next : SIZE_MAX;
			return 1;
		}
	}
	*it = SIZE_MAX;
	return 0;
}
