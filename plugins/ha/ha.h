/* The ha plugin's internals: the rule code reports through a sink, so the
 * rules can be driven by the plugin (phd_validation_report with
 * exemptions) or by a test that links the rule files directly. */
#ifndef PHD_HA_H
#define PHD_HA_H

#include <stddef.h>
#include <phdeploy/plugin.h>

/* Receives every finding the rules make; msg is already formatted. */
struct ha_sink {
	void (*report)(struct ha_sink *s, const char *rule, int sev, const char *object,
		       const phd_node *where, const char *values_key, const char *msg);
	int broken;            /* set when a report could not be built (ENOMEM) */
};

void ha_report(struct ha_sink *s, const char *rule, int sev, const char *object,
	       const phd_node *where, const char *values_key, const char *fmt, ...)
	PHD_PRINTF(7, 8);

/* What the rules need to know besides the documents. */
struct ha_opts {
	const phd_node *values;    /* merged user values, may be NULL */
	const char *release;       /* for the chart's object names; NULL: "posthog" */
	const char *namespace_;    /* objects without metadata.namespace live here */
	int kube_major, kube_minor;/* target Kubernetes; 0/0: not configured */
	const phd_node *kube_where;/* the kube.version node (messages), may be NULL */
	long long min_replicas;    /* ha.min_replicas, default 2 */
	const char *chart_version; /* the chart version deployed, NULL: unknown */
	const phd_node *post_render;/* the config's helm.post_render, NULL: unset */
};

/* ---- values rules (values.c): PostHog chart 30.x ---------------------- */
void ha_values_check(struct ha_sink *s, const struct ha_opts *o);

/* The values against the schema of the chart version (schema.c): shapes the
 * templates need, lists that drop the chart's pre-filled entries. */
void ha_schema_check(struct ha_sink *s, const struct ha_opts *o);

/* The chart's Deployment/StatefulSet name prefix ("posthog" for release
 * posthog); writes at most n bytes. */
void ha_posthog_fullname(const struct ha_opts *o, char *buf, size_t n);

/* For a rendered or live PostHog workload, the values prefix that
 * configures it ("web", "worker", "zookeeper"), or NULL for objects that
 * are not the chart's own.  labels: the pod template labels. */
const char *ha_posthog_component(const struct ha_opts *o, const phd_node *labels);
/* Whether the chart has a values key for rule on that component (probes
 * on the worker, PDBs on the plugin server...: it has none). */
int ha_posthog_has_key(const char *component, const char *rule);

/* ---- manifest rules (manifest.c, live.c): any chart -------------------- */
/* live: the documents are live objects (verify phase), which adds the
 * rollout and pod-placement rules. */
int ha_manifest_check(struct ha_sink *s, const struct ha_opts *o, const phd_node *const *docs,
		      size_t ndocs, int live);

/* ---- Kubernetes helpers (k8s.c) --------------------------------------- */
/* Whether a label selector ({matchLabels, matchExpressions}) selects labels.
 * An empty selector selects everything; a malformed one nothing. */
int ha_selector_matches(const phd_node *selector, const phd_node *labels);
/* The value of label key in a labels mapping, NULL when absent. */
const char *ha_label(const phd_node *labels, const char *key);
/* Helm-like truthiness of a values node: absent, null, false, 0, "" and
 * empty collections are false. */
int ha_truthy(const phd_node *n);
/* An image reference that names no tag, the tag latest, and no digest. */
int ha_image_unpinned(const char *image);

/* A removed API: *removed_in is the minor (1.x) that removed it, *use the
 * replacement; returns 0 when apiVersion/kind is not in the table. */
int ha_removed_api(const char *api_version, const char *kind, int *removed_in,
		   const char **use);

/* A string → index multimap for joining objects (HPA → workload...). */
struct ha_index;
struct ha_index *ha_index_new(size_t hint);
void ha_index_free(struct ha_index *ix);
/* key is copied.  Returns 0 or PHD_ENOMEM. */
int ha_index_add(struct ha_index *ix, const char *key, size_t value);
/* Iterate the values stored under key: *it starts at 0; returns 0 at end. */
int ha_index_next(const struct ha_index *ix, const char *key, size_t *it, size_t *value);

#endif
