/* Objects of a manifest stream as the manifest rules see them (manifest.c,
 * live.c). */
#ifndef PHD_HA_MANIFEST_H
#define PHD_HA_MANIFEST_H

#include "ha.h"

struct ha_wl {                 /* a workload: something that runs pods */
	const phd_node *doc, *spec, *pod, *labels, *selector;
	const phd_node *replicas_node;
	const char *kind, *name, *ns;
	char *obj;             /* "Kind/name" */
	const char *comp;      /* PostHog values prefix, or NULL */
	long long replicas;    /* spec.replicas, 1 when unset */
	int long_running;      /* not a Job/CronJob/bare Pod */
	int scalable;          /* has spec.replicas (Deployment, StatefulSet...) */
	int managed;           /* owned by a controller: its owner is checked */
	const phd_node *as_doc;/* the HPA / ScaledObject that scales it */
	char *as_obj;
	long long as_min, as_max;
	/* live placement (live.c) */
	const char *node1, *zone1;
	int npods, many_nodes, many_zones, zone_unknown;
};

struct ha_pdb {
	const phd_node *doc, *selector;
	const char *ns;
	char *obj;
	int used;              /* it selects a workload's pods */
};

struct ha_mctx {
	struct ha_sink *s;
	const struct ha_opts *o;
	struct ha_wl *w;
	size_t nw;
	struct ha_pdb *pdb;
	size_t npdb;
	const phd_node *const *docs;
	size_t ndocs;
	int oom;
};

/* Index entries by the first matchLabels pair of a selector (or "*"), and
 * visit the entries whose selector matches labels. */
int ha_sel_index_add(struct ha_index *ix, const char *ns, const phd_node *sel, size_t value);
typedef void (*ha_sel_visit)(size_t value, void *payload);
void ha_sel_candidates(const struct ha_index *ix, const char *ns, const phd_node *labels,
		       ha_sel_visit fn, void *payload);

/* The values node for key when the user set it, else fallback. */
const phd_node *ha_where(const struct ha_opts *o, const char *key, const phd_node *fallback);

/* verify only: rollout status and where the pods run. */
void ha_live_check(struct ha_mctx *m);

#endif
