/* Rules only the live cluster can answer (verify phase): is every workload
 * rolled out, and do its pods really run on more than one node and zone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static long long count(const phd_node *n, long long dflt)
{
	long long v;

	return phd_node_int(n, &v) == 0 ? v : dflt;
}

static void rule_rollout(struct ha_mctx *m, const struct ha_wl *w)
{
	const phd_node *st = phd_node_get(w->doc, "status");
	long long want, have;
	const phd_node *avail;

	if (strcmp(w->kind, "DaemonSet") == 0) {
		want = count(phd_node_get(st, "desiredNumberScheduled"), 0);
		have = count(phd_node_get(st, "numberAvailable"), 0);
	} else {
		want = w->replicas;
		avail = phd_node_get(st, "availableReplicas");
		if (!avail)
			avail = phd_node_get(st, "readyReplicas");
		have = count(avail, 0);
	}
	if (have < want)
		ha_report(m->s, "rollout", PHD_SEV_ERROR, w->obj, st ? st : w->doc, NULL,
			  "%s: %lld of %lld replica(s) available", w->obj, have, want);
}

/* ---- placement ------------------------------------------------------------ */

struct placement {
	struct ha_mctx *m;
	const struct ha_wl *pod;
	const char *node, *zone;
};

static void place(size_t idx, void *payload)
{
	struct placement *pl = payload;
	struct ha_wl *w = &pl->m->w[idx];

	if (!ha_selector_matches(w->selector, pl->pod->labels))
		return;
	if (w->npods++ == 0) {
		w->node1 = pl->node;
		w->zone1 = pl->zone;
	} else {
		if (strcmp(w->node1, pl->node) != 0)
			w->many_nodes = 1;
		if (pl->zone && w->zone1 && strcmp(pl->zone, w->zone1) != 0)
			w->many_zones = 1;
	}
	if (!pl->zone)
		w->zone_unknown = 1;
}

static const char *zone_of(const phd_node *node_doc)
{
	const phd_node *labels = phd_node_get(node_doc, "metadata.labels");
	const char *z = ha_label(labels, "topology.kubernetes.io/zone");

	return z ? z : ha_label(labels, "failure-domain.beta.kubernetes.io/zone");
}

static int running(const struct ha_wl *pod)
{
	const char *phase = phd_node_str(phd_node_get(pod->doc, "status.phase"));

	if (phd_node_get(pod->doc, "metadata.deletionTimestamp"))
		return 0;
	return !phase || strcmp(phase, "Running") == 0 || strcmp(phase, "Pending") == 0;
}

void ha_live_check(struct ha_mctx *m)
{
	struct ha_index *nodes = ha_index_new(64), *sel = ha_index_new(m->nw);
	const char *zone1 = NULL;
	int zones = 0;
	size_t i, it, v;

	if (!nodes || !sel) {
		m->oom = 1;
		goto out;
	}
	for (i = 0; i < m->nw; i++) {
		const struct ha_wl *w = &m->w[i];
		if ((w->scalable || strcmp(w->kind, "DaemonSet") == 0) && !w->managed)
			rule_rollout(m, w);
		if (w->scalable && !w->managed && w->selector &&
		    ha_sel_index_add(sel, w->ns, w->selector, i) < 0)
			m->oom = 1;
	}
	for (i = 0; i < m->ndocs; i++) {
		const phd_node *d = m->docs[i];
		const char *kind = phd_node_str(phd_node_get(d, "kind"));
		const char *name = phd_node_str(phd_node_get(d, "metadata.name"));
		const char *z;
		if (!kind || !name || strcmp(kind, "Node") != 0)
			continue;
		if (ha_index_add(nodes, name, i) < 0)
			m->oom = 1;
		if ((z = zone_of(d)) && (!zone1 || (zones < 2 && strcmp(z, zone1) != 0))) {
			zone1 = zone1 ? zone1 : z;
			zones++;
		}
	}
	for (i = 0; i < m->nw && !m->oom; i++) {
		const struct ha_wl *p = &m->w[i];
		struct placement pl = { m, p, NULL, NULL };
		if (strcmp(p->kind, "Pod") != 0 || !running(p))
			continue;
		if (!(pl.node = phd_node_str(phd_node_get(p->pod, "nodeName"))))
			continue;   /* not scheduled yet: the rollout rule speaks for it */
		it = 0;
		if (ha_index_next(nodes, pl.node, &it, &v))
			pl.zone = zone_of(m->docs[v]);
		ha_sel_candidates(sel, p->ns, p->labels, place, &pl);
	}
	for (i = 0; i < m->nw; i++) {
		const struct ha_wl *w = &m->w[i];
		if (w->npods < 2)
			continue;
		if (!w->many_nodes)
			ha_report(m->s, "spread", PHD_SEV_ERROR, w->obj, w->doc, NULL,
				  "%s: all %d running pods are on node %s: losing that node stops it",
				  w->obj, w->npods, w->node1);
		else if (zones >= 2 && !w->many_zones && !w->zone_unknown)
			ha_report(m->s, "spread", PHD_SEV_WARN, w->obj, w->doc, NULL,
				  "%s: all %d running pods are in zone %s although the cluster has "
				  "nodes in other zones: losing that zone stops it", w->obj, w->npods,
				  w->zone1);
	}
out:
	ha_index_free(nodes);
	ha_index_free(sel);
}
