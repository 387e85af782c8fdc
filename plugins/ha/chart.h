/* What the ha plugin knows about the PostHog chart 30.x (chart.c). */
#ifndef PHD_HA_CHART_H
#define PHD_HA_CHART_H

#include "ha.h"

/* A PostHog component: one Deployment (the worker: one per consumer). */
struct ha_comp {
	const char *key;        /* values prefix: "web" */
	const char *role;       /* pod label role ("worker-" is a prefix) */
	int enabled;            /* chart default of <key>.enabled */
	int has_pdb;            /* the chart renders <key>.pdb.* */
	int pdb_enabled;        /* chart default of <key>.pdb.enabled */
	const char *pdb_max;    /* chart default of <key>.pdb.maxUnavailable */
	const char *probes;     /* values key of its probes, NULL: none in the chart */
	const char *affinity;   /* values key of its affinity */
	int keda;               /* has <key>.keda (a KEDA ScaledObject) */
	int singleton;          /* a debugging pod: not meant to be replicated */
};

extern const struct ha_comp ha_comps[];
extern const size_t ha_ncomps;
const struct ha_comp *ha_comp_by_key(const char *key);

/* A value as helm sees it after merging the user's values over the
 * chart's: node is the user's node (NULL when the key is absent, so the
 * chart default applies), s the effective scalar text (NULL when unset,
 * null, or not a scalar). */
struct ha_val {
	const phd_node *node;
	const char *s;
};
struct ha_val ha_get(const phd_node *values, const char *path);
int ha_val_truthy(struct ha_val v);
/* 0, PHD_ENOTFOUND (unset) or PHD_ETYPE (not a number). */
int ha_val_int(struct ha_val v, long long *out);

/* Helm's common fullname for the chart whose values are under scope ("" or
 * "zookeeper."), chart: the chart's own name. */
void ha_chart_fullname(const struct ha_opts *o, const char *scope, const char *chart, char *buf,
		       size_t n);

#endif
