/* Manifest rules for any chart, on rendered manifests (render phase) and on
 * live objects (verify phase): replicas or an autoscaler, probes, a
 * PodDisruptionBudget per replicated workload, spread, resource requests,
 * pinned images, no removed API.  A malformed document is a finding with
 * its position (rule `manifest`), never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "manifest.h"

#define MANIFEST "manifest"

/* "Kind/name", malloc'd. */
static char *kind_name(struct ha_mctx *m, const char *kind, const char *name)
{
	size_t n = strlen(kind) + strlen(name) + 2;
	char *p = malloc(n);

	if (!p) {
		m->oom = 1;
		return NULL;
	}
	snprintf(p, n, "%s/%s", kind, name);
	return p;
}

static const char *type_name(const phd_node *n)
{
	switch (phd_node_type(n)) {
	case PHD_NODE_SEQ: return "a sequence";
	case PHD_NODE_MAP: return "a mapping";
	case PHD_NODE_SCALAR: return "a scalar";
	default: return "empty";
	}
}

const phd_node *ha_where(const struct ha_opts *o, const char *key, const phd_node *fallback)
{
	const phd_node *n = key && o->values ? phd_node_get(o->values, key) : NULL;

	return n ? n : fallback;
}

/* ---- selector index ------------------------------------------------------ */

static int sel_key(char *buf, size_t n, const char *ns, const char *k, const char *v)
{
	int len = snprintf(buf, n, "%s\x1f%s=%s", ns, k, v ? v : "");

	return len >= 0 && (size_t)len < n ? 0 : -1;
}

int ha_sel_index_add(struct ha_index *ix, const char *ns, const phd_node *sel, size_t value)
{
	const phd_node *ml = phd_node_get(sel, "matchLabels");
	char buf[1024];

	if (phd_node_type(ml) == PHD_NODE_MAP && phd_node_len(ml) > 0 &&
	    phd_node_key_at(ml, 0) &&
	    sel_key(buf, sizeof buf, ns, phd_node_key_at(ml, 0), phd_node_str(phd_node_at(ml, 0))) == 0)
		return ha_index_add(ix, buf, value);
	snprintf(buf, sizeof buf, "%s\x1f*", ns);
	return ha_index_add(ix, buf, value);
}

void ha_sel_candidates(const struct ha_index *ix, const char *ns, const phd_node *labels,
		       ha_sel_visit fn, void *payload)
{
	char buf[1024];
	size_t i, n = phd_node_type(labels) == PHD_NODE_MAP ? phd_node_len(labels) : 0, it, v;

	for (i = 0; i < n; i++) {
		const char *k = phd_node_key_at(labels, i);
		if (!k || sel_key(buf, sizeof buf, ns, k, phd_node_str(phd_node_at(labels, i))) < 0)
			continue;
		for (it = 0; ha_index_next(ix, buf, &it, &v);)
			fn(v, payload);
	}
	snprintf(buf, sizeof buf, "%s\x1f*", ns);
	for (it = 0; ha_index_next(ix, buf, &it, &v);)
		fn(v, payload);
}

/* ---- reading the documents ---------------------------------------------- */

static const struct {
	const char *kind;
	int long_running, scalable;
} wl_kinds[] = {
	{ "Deployment", 1, 1 },
	{ "StatefulSet", 1, 1 },
	{ "ReplicaSet", 1, 1 },
	{ "DaemonSet", 1, 0 },
	{ "Job", 0, 0 },
	{ "CronJob", 0, 0 },
	{ "Pod", 0, 0 },
};

static int controlled(const phd_node *doc)
{
	const phd_node *refs = phd_node_get(doc, "metadata.ownerReferences");
	size_t i, n = phd_node_type(refs) == PHD_NODE_SEQ ? phd_node_len(refs) : 0;
	int b;

	for (i = 0; i < n; i++)
		if (phd_node_bool(phd_node_get(phd_node_at(refs, i), "controller"), &b) == 0 && b)
			return 1;
	return 0;
}

/* A map-typed child that must be there; reports and returns NULL if not. */
static const phd_node *need_map(struct ha_mctx *m, const char *obj, const phd_node *parent,
				const char *path, const char *what)
{
	const phd_node *n = phd_node_get(parent, path);

	if (phd_node_type(n) == PHD_NODE_MAP)
		return n;
	ha_report(m->s, MANIFEST, PHD_SEV_ERROR, obj, n ? n : parent, NULL,
		  "%s: %s is %s, not a mapping", obj, what, n ? type_name(n) : "missing");
	return NULL;
}

static int check_containers(struct ha_mctx *m, const char *obj, const phd_node *pod, const char *key,
			    int required)
{
	const phd_node *c = phd_node_get(pod, key);
	size_t i, n;

	if (!required && (!c || phd_node_type(c) == PHD_NODE_NULL))
		return 0;   /* "initContainers:" with nothing under it is fine */
	if (phd_node_type(c) != PHD_NODE_SEQ || (required && phd_node_len(c) == 0)) {
		ha_report(m->s, MANIFEST, PHD_SEV_ERROR, obj, c ? c : pod, NULL,
			  "%s: %s is %s, not a list of containers", obj, key,
			  c ? type_name(c) : "missing");
		return -1;
	}
	n = phd_node_len(c);
	for (i = 0; i < n; i++) {
		const phd_node *ci = phd_node_at(c, i);
		if (phd_node_type(ci) != PHD_NODE_MAP || !phd_node_str(phd_node_get(ci, "name"))) {
			ha_report(m->s, MANIFEST, PHD_SEV_ERROR, obj, ci, NULL,
				  "%s: %s[%zu] is not a container (a mapping with a name)", obj, key, i);
			return -1;
		}
	}
	return 0;
}

/* Reads a workload; returns 0 (kept), 1 (not a workload) or -1 (malformed,
 * reported). */
static int read_workload(struct ha_mctx *m, const phd_node *doc, const char *kind, const char *name,
			 const char *ns, struct ha_wl *w)
{
	size_t k;
	const phd_node *tmpl = NULL, *meta;
	long long r;

	for (k = 0; k < sizeof wl_kinds / sizeof wl_kinds[0]; k++)
		if (strcmp(wl_kinds[k].kind, kind) == 0)
			break;
	if (k == sizeof wl_kinds / sizeof wl_kinds[0])
		return 1;
	memset(w, 0, sizeof *w);
	w->doc = doc;
	w->kind = kind;
	w->name = name;
	w->ns = ns;
	w->long_running = wl_kinds[k].long_running;
	w->scalable = wl_kinds[k].scalable;
	w->managed = controlled(doc);
	w->replicas = 1;
	if (!(w->obj = kind_name(m, kind, name)))
		return -1;
	if (!(w->spec = need_map(m, w->obj, doc, "spec", "spec")))
		return -1;
	if (strcmp(kind, "Pod") == 0) {
		w->pod = w->spec;
		meta = phd_node_get(doc, "metadata");
	} else {
		const char *tpath = strcmp(kind, "CronJob") == 0 ? "jobTemplate.spec.template" : "template";
		if (!(tmpl = need_map(m, w->obj, w->spec, tpath, "spec.template")) ||
		    !(w->pod = need_map(m, w->obj, tmpl, "spec", "the pod template's spec")))
			return -1;
		meta = phd_node_get(tmpl, "metadata");
	}
	w->labels = phd_node_get(meta, "labels");
	if (w->labels && phd_node_type(w->labels) != PHD_NODE_MAP &&
	    phd_node_type(w->labels) != PHD_NODE_NULL) {
		ha_report(m->s, MANIFEST, PHD_SEV_ERROR, w->obj, w->labels, NULL,
			  "%s: the pod labels are %s, not a mapping", w->obj, type_name(w->labels));
		return -1;
	}
	if (check_containers(m, w->obj, w->pod, "containers", 1) < 0 ||
	    check_containers(m, w->obj, w->pod, "initContainers", 0) < 0)
		return -1;
	if (w->scalable || strcmp(kind, "DaemonSet") == 0) {
		w->selector = phd_node_get(w->spec, "selector");
		if (w->selector && phd_node_type(w->selector) != PHD_NODE_MAP) {
			ha_report(m->s, MANIFEST, PHD_SEV_ERROR, w->obj, w->selector, NULL,
				  "%s: spec.selector is %s, not a mapping", w->obj, type_name(w->selector));
			return -1;
		}
	}
	w->replicas_node = w->scalable ? phd_node_get(w->spec, "replicas") : NULL;
	if (w->replicas_node && phd_node_type(w->replicas_node) != PHD_NODE_NULL) {
		if (phd_node_int(w->replicas_node, &r) < 0 || r < 0) {
			ha_report(m->s, MANIFEST, PHD_SEV_ERROR, w->obj, w->replicas_node, NULL,
				  "%s: spec.replicas is %s, not a count", w->obj,
				  phd_node_str(w->replicas_node) ? phd_node_str(w->replicas_node) :
				  type_name(w->replicas_node));
			return -1;
		}
		w->replicas = r;
	}
	w->comp = ha_posthog_component(m->o, w->labels);
	return 0;
}

static long long int_or(const phd_node *n, long long dflt)
{
	long long v;

	return phd_node_int(n, &v) == 0 ? v : dflt;
}

/* HorizontalPodAutoscaler and KEDA ScaledObject: attach to their target. */
static void read_autoscaler(struct ha_mctx *m, const struct ha_index *by_name, const phd_node *doc,
			    const char *kind, const char *name, const char *ns)
{
	int keda = strcmp(kind, "ScaledObject") == 0;
	const phd_node *ref = phd_node_get(doc, "spec.scaleTargetRef");
	const char *tkind = phd_node_str(phd_node_get(ref, "kind"));
	const char *tname = phd_node_str(phd_node_get(ref, "name"));
	char key[768];
	size_t it = 0, idx;

	if (!tname) {
		char obj[256];
		snprintf(obj, sizeof obj, "%s/%s", kind, name);
		ha_report(m->s, MANIFEST, PHD_SEV_ERROR, obj, ref ? ref : doc, NULL,
			  "%s: spec.scaleTargetRef.name is missing", obj);
		return;
	}
	snprintf(key, sizeof key, "%s/%s/%s", ns, tkind ? tkind : "Deployment", tname);
	while (ha_index_next(by_name, key, &it, &idx)) {
		struct ha_wl *w = &m->w[idx];
		if (w->as_doc)
			continue;
		w->as_doc = doc;
		w->as_obj = kind_name(m, kind, name);
		w->as_min = keda ? int_or(phd_node_get(doc, "spec.minReplicaCount"), 0)
				 : int_or(phd_node_get(doc, "spec.minReplicas"), 1);
		w->as_max = keda ? int_or(phd_node_get(doc, "spec.maxReplicaCount"), 100)
				 : int_or(phd_node_get(doc, "spec.maxReplicas"), 1);
	}
}

static void check_removed_api(struct ha_mctx *m, const phd_node *doc, const char *api,
			      const char *kind, const char *name)
{
	const struct ha_opts *o = m->o;
	int removed_in, on;
	const char *use;
	char obj[256];

	if (!ha_removed_api(api, kind, &removed_in, &use))
		return;
	if (o->kube_major == 1 && o->kube_minor < removed_in)
		return;
	snprintf(obj, sizeof obj, "%s/%s", kind, name);
	if (strcmp(api, "policy/v1beta1") == 0 && o->post_render &&
	    phd_node_bool(o->post_render, &on) == 0 && !on) {
		/* the step that rewrites it was turned off in the config */
		ha_report(m->s, "removed-api", PHD_SEV_ERROR, obj, o->post_render, NULL,
			  "%s %s was removed in Kubernetes 1.%d and helm.post_render is false: "
			  "the post-render step that rewrites it to %s is off, so the API server "
			  "rejects it; remove helm.post_render or set it to auto", api, kind,
			  removed_in, use);
		return;
	}
	if (o->kube_major)
		ha_report(m->s, "removed-api", PHD_SEV_ERROR, obj, phd_node_get(doc, "apiVersion"),
			  NULL, "%s %s was removed in Kubernetes 1.%d and the target is %d.%d "
			  "(kube.version): the API server rejects it; use %s%s", api, kind,
			  removed_in, o->kube_major, o->kube_minor, use,
			  strcmp(api, "policy/v1beta1") == 0 && strstr(name, "zookeeper") ?
			  " (the ZooKeeper subchart hard-codes it and no values key changes it: "
			  "rewrite apiVersion in a post-render step)" : "");
	else
		ha_report(m->s, "removed-api", PHD_SEV_ERROR, obj, phd_node_get(doc, "apiVersion"),
			  NULL, "%s %s was removed in Kubernetes 1.%d (kube.version is not set, so "
			  "a current cluster is assumed); use %s", api, kind, removed_in, use);
}

/* ClickHouse operator installations: replicas per shard. */
static void check_chi(struct ha_mctx *m, const phd_node *doc, const char *name)
{
	const phd_node *cl = phd_node_get(doc, "spec.configuration.clusters");
	size_t i, n = phd_node_type(cl) == PHD_NODE_SEQ ? phd_node_len(cl) : 0;
	char obj[256];

	snprintf(obj, sizeof obj, "ClickHouseInstallation/%s", name);
	for (i = 0; i < n; i++) {
		const phd_node *layout = phd_node_get(phd_node_at(cl, i), "layout");
		const phd_node *rc = phd_node_get(layout, "replicasCount");
		const char *key = strcmp(name, "posthog") == 0 ? "clickhouse.layout.replicasCount" : NULL;
		long long r = int_or(rc, 1);
		if (phd_node_get(layout, "shards"))
			continue;   /* an explicit shard list: counts live per shard */
		if (r < m->o->min_replicas)
			ha_report(m->s, "replicas", PHD_SEV_ERROR, obj,
				  ha_where(m->o, key, rc ? rc : phd_node_at(cl, i)), key,
				  "%s: cluster %s has %lld replica(s) per shard: a node loss takes its "
				  "data offline", obj,
				  phd_node_str(phd_node_get(phd_node_at(cl, i), "name")) ?
				  phd_node_str(phd_node_get(phd_node_at(cl, i), "name")) : "?", r);
	}
}

/* ---- the workload rules -------------------------------------------------- */

static const char *no_key(const struct ha_wl *w, const char *rule)
{
	if (!w->comp || ha_posthog_has_key(w->comp, rule))
		return "";
	return " (the chart has no values key for this: record an exemption with its reason "
	       "under exemptions:, or patch the rendered manifest in a post-render step)";
}

static void key_of(const struct ha_wl *w, const char *rule, char *buf, size_t n)
{
	const struct ha_comp *c;

	buf[0] = '\0';
	if (!w->comp)
		return;
	if (strcmp(w->comp, "zookeeper") == 0) {
		snprintf(buf, n, "zookeeper.%s",
			 strcmp(rule, "replicas") == 0 ? "replicaCount" :
			 strcmp(rule, "probes") == 0 ? "livenessProbe" :
			 strcmp(rule, "pdb") == 0 ? "podDisruptionBudget" :
			 strcmp(rule, "spread") == 0 ? "podAntiAffinityPreset" : "resources");
		return;
	}
	c = ha_comp_by_key(w->comp);
	if (!c || !ha_posthog_has_key(w->comp, rule))
		return;
	if (strcmp(rule, "replicas") == 0)
		snprintf(buf, n, "%s.%s", c->key, w->as_doc ? (c->keda && w->as_obj && strstr(w->as_obj, "ScaledObject") ?
			 "keda.config.minReplicaCount" : "hpa.minpods") : "replicacount");
	else if (strcmp(rule, "probes") == 0)
		snprintf(buf, n, "%s", c->probes);
	else if (strcmp(rule, "pdb") == 0)
		snprintf(buf, n, "%s.pdb.enabled", c->key);
	else if (strcmp(rule, "spread") == 0)
		snprintf(buf, n, "includeDefaultTopologySpreadConstraints");
	else if (strcmp(rule, "resources") == 0)
		snprintf(buf, n, "%s.resources", c->key);
}

/* Report on a workload: the values node is the position when the user set
 * the key, the manifest node otherwise. */
#define WREPORT(m, w, rule, sev, obj, node, ...) do { \
		char key_[128]; \
		key_of((w), (rule), key_, sizeof key_); \
		ha_report((m)->s, (rule), (sev), (obj), ha_where((m)->o, *key_ ? key_ : NULL, (node)), \
			  *key_ ? key_ : NULL, __VA_ARGS__); \
	} while (0)

static void rule_replicas(struct ha_mctx *m, struct ha_wl *w)
{
	long long min = m->o->min_replicas;

	if (w->as_doc) {
		if (w->as_min < min)
			WREPORT(m, w, "replicas", PHD_SEV_ERROR, w->obj, w->as_doc,
				"%s: %s lets it scale down to %lld pod(s): one pod lost stops it; "
				"set the minimum to %lld or more%s", w->obj, w->as_obj ? w->as_obj : "the autoscaler",
				w->as_min, min, no_key(w, "replicas"));
	} else if (w->replicas < min) {
		WREPORT(m, w, "replicas", PHD_SEV_ERROR, w->obj,
			w->replicas_node ? w->replicas_node : w->spec,
			"%s: spec.replicas is %lld%s and no autoscaler scales it: one pod lost (node "
			"drain, crash, rollout) stops it; run %lld or more, or add an autoscaler with "
			"minReplicas >= %lld%s", w->obj, w->replicas,
			w->replicas_node ? "" : " (unset)", min, min, no_key(w, "replicas"));
	}
}

static void container_rules(struct ha_mctx *m, struct ha_wl *w, const char *list, int init)
{
	const phd_node *cs = phd_node_get(w->pod, list);
	size_t i, n = phd_node_len(cs);
	char obj[512], key[128];

	for (i = 0; i < n; i++) {
		const phd_node *c = phd_node_at(cs, i);
		const char *cname = phd_node_str(phd_node_get(c, "name"));
		const phd_node *img = phd_node_get(c, "image");
		const char *image = phd_node_str(img);
		const phd_node *req = phd_node_get(c, "resources.requests");
		const phd_node *lim = phd_node_get(c, "resources.limits");
		int nr = !phd_node_get(c, "readinessProbe"), nl = !phd_node_get(c, "livenessProbe");
		/* the API server sets a missing request to the limit: the pod is
		 * scheduled with it, so only a resource with neither is unrequested */
		int ncpu = !phd_node_get(req, "cpu") && !phd_node_get(lim, "cpu");
		int nmem = !phd_node_get(req, "memory") && !phd_node_get(lim, "memory");

		snprintf(obj, sizeof obj, "%s/%s", w->obj, cname);
		if (ha_image_unpinned(image)) {
			key[0] = '\0';
			if (image && strncmp(image, "posthog/posthog", 15) == 0)
				snprintf(key, sizeof key, "image.tag");
			else if (image && strncmp(image, "busybox", 7) == 0 && w->comp)
				snprintf(key, sizeof key, "busybox.image");
			ha_report(m->s, "image-pinned", PHD_SEV_WARN, obj,
				  ha_where(m->o, *key ? key : NULL, img ? img : c), *key ? key : NULL,
				  "%s: image %s is not pinned (no tag, or latest, and no digest): pods "
				  "started at different times may run different code", obj,
				  image ? image : "(none)");
		}
		if (init || !w->long_running)
			continue;
		if (nr || nl)
			WREPORT(m, w, "probes", PHD_SEV_ERROR, obj, c,
				"%s: no %s%s%s: %s%s", obj, nr ? "readinessProbe" : "",
				nr && nl ? " and no " : "", nl ? "livenessProbe" : "",
				nr && nl ? "a starting pod gets traffic at once and a hung one is never "
					   "restarted" :
				nr ? "traffic and rollouts treat a pod as ready as soon as it starts"
				   : "a hung process is never restarted", no_key(w, "probes"));
		if (ncpu || nmem)
			WREPORT(m, w, "resources", PHD_SEV_WARN, obj, c,
				"%s: no %s request (and no limit it would default to)%s: the "
				"scheduler may pack replicas onto a node that cannot run them, and they "
				"are evicted first under pressure", obj,
				ncpu && nmem ? "cpu and no memory" : ncpu ? "cpu" : "memory",
				no_key(w, "resources"));
	}
}

struct pdb_search {
	struct ha_mctx *m;
	struct ha_wl *w;
	struct ha_pdb *found;
};

static void pdb_visit(size_t idx, void *payload)
{
	struct pdb_search *ps = payload;
	struct ha_pdb *p = &ps->m->pdb[idx];

	if (!ha_selector_matches(p->selector, ps->w->labels))
		return;
	p->used = 1;
	if (!ps->found)
		ps->found = p;
}

/* An int-or-percent of a PDB scaled to the workload's pod count the way the
 * disruption controller does (percentages round up); -1 when malformed. */
static long long pdb_scaled(const phd_node *n, long long pods)
{
	const char *str = phd_node_str(n);
	char *end;
	long long v;

	if (!str || !*str)
		return -1;
	v = strtoll(str, &end, 10);
	if (end == str || v < 0)
		return -1;
	if (*end == '%' && !end[1])
		return (v * pods + 99) / 100;
	return *end ? -1 : v;
}

static void pdb_key(const struct ha_wl *w, const char *field, char *buf, size_t n)
{
	buf[0] = '\0';
	if (w->comp && ha_posthog_has_key(w->comp, "pdb"))
		snprintf(buf, n, "%s.pdb.%s", w->comp, field);
}

/* What the budget lets a drain do with the workload's pods: nothing (every
 * drain of a node running one hangs), everything (it protects nothing), or
 * something between. */
static void pdb_quality(struct ha_mctx *m, struct ha_wl *w, const struct ha_pdb *p)
{
	const phd_node *mu = phd_node_get(p->doc, "spec.maxUnavailable");
	const phd_node *ma = phd_node_get(p->doc, "spec.minAvailable");
	const char *mus = phd_node_str(mu), *mas = phd_node_str(ma);
	long long pods = w->as_doc ? w->as_min : w->replicas;
	long long v;
	char key[128];

	if ((!mus || !*mus) && (!mas || !*mas)) {
		pdb_key(w, "maxUnavailable", key, sizeof key);
		ha_report(m->s, "pdb-policy", PHD_SEV_ERROR, p->obj, ha_where(m->o, *key ? key : NULL, p->doc),
			  *key ? key : NULL,
			  "%s (for %s) sets neither maxUnavailable nor minAvailable: the disruption "
			  "controller then allows every pod to be evicted, so it protects nothing%s%s",
			  p->obj, w->obj, *key ? "; set " : "", *key ? key : "");
		return;
	}
	if (mus && *mus) {
		pdb_key(w, "maxUnavailable", key, sizeof key);
		v = pdb_scaled(mu, pods);
		if (v == 0)
			ha_report(m->s, "pdb-policy", PHD_SEV_ERROR, p->obj,
				  ha_where(m->o, *key ? key : NULL, mu), *key ? key : NULL,
				  "%s (for %s) has maxUnavailable %s: no pod can ever be evicted, so "
				  "every node drain and cluster upgrade hangs on it; allow 1", p->obj,
				  w->obj, mus);
		else if (v >= pods && pods > 1)
			ha_report(m->s, "pdb-policy", PHD_SEV_ERROR, p->obj,
				  ha_where(m->o, *key ? key : NULL, mu), *key ? key : NULL,
				  "%s (for %s) has maxUnavailable %s with %lld replicas: a drain may "
				  "evict all of them at once, so it protects nothing; allow fewer than "
				  "%lld (1 is usual)", p->obj, w->obj, mus, pods, pods);
		return;
	}
	pdb_key(w, "minAvailable", key, sizeof key);
	v = pdb_scaled(ma, pods);
	if (v >= pods)
		ha_report(m->s, "pdb-policy", PHD_SEV_ERROR, p->obj, ha_where(m->o, *key ? key : NULL, ma),
			  *key ? key : NULL,
			  "%s (for %s) has minAvailable %s with %lld replica(s): no pod can be "
			  "evicted, so every node drain and cluster upgrade hangs on it; %s", p->obj,
			  w->obj, mas, pods, pods > 1 ? "use maxUnavailable: 1" :
			  "run 2 replicas with maxUnavailable: 1, or drop the budget");
	else if (v == 0)
		ha_report(m->s, "pdb-policy", PHD_SEV_ERROR, p->obj, ha_where(m->o, *key ? key : NULL, ma),
			  *key ? key : NULL,
			  "%s (for %s) has minAvailable %s: a drain may evict every pod, so it "
			  "protects nothing; use maxUnavailable: 1", p->obj, w->obj, mas);
}

/* Whether an affinity term or spread constraint selects the workload's own
 * pods: a term about other pods does not spread these. */
static int term_selects_own(const struct ha_wl *w, const phd_node *term)
{
	const phd_node *sel = phd_node_get(term, "labelSelector");
	const phd_node *nss = phd_node_get(term, "namespaces");
	size_t i, n = phd_node_len(nss);
	int in_ns = n == 0 || phd_node_get(term, "namespaceSelector");

	/* an absent selector selects no pod (unlike an empty one) */
	if (!sel || phd_node_type(sel) != PHD_NODE_MAP || !ha_selector_matches(sel, w->labels))
		return 0;
	for (i = 0; !in_ns && i < n; i++) {
		const char *ns = phd_node_str(phd_node_at(nss, i));
		in_ns = ns && w->ns && strcmp(ns, w->ns) == 0;
	}
	return in_ns;
}

static int spreads_own(const struct ha_wl *w)
{
	const phd_node *aa = phd_node_get(w->pod, "affinity.podAntiAffinity");
	const phd_node *req = phd_node_get(aa, "requiredDuringSchedulingIgnoredDuringExecution");
	const phd_node *pref = phd_node_get(aa, "preferredDuringSchedulingIgnoredDuringExecution");
	const phd_node *tsc = phd_node_get(w->pod, "topologySpreadConstraints");
	size_t i;

	for (i = 0; i < phd_node_len(req); i++)
		if (term_selects_own(w, phd_node_at(req, i)))
			return 1;
	for (i = 0; i < phd_node_len(pref); i++)
		if (term_selects_own(w, phd_node_get(phd_node_at(pref, i), "podAffinityTerm")))
			return 1;
	for (i = 0; i < phd_node_len(tsc); i++)
		if (term_selects_own(w, phd_node_at(tsc, i)))
			return 1;
	return 0;
}

static void rule_pdb_spread(struct ha_mctx *m, struct ha_index *pdbix, struct ha_wl *w)
{
	struct pdb_search ps = { m, w, NULL };
	const phd_node *aa = phd_node_get(w->pod, "affinity.podAntiAffinity");
	const phd_node *tsc = phd_node_get(w->pod, "topologySpreadConstraints");
	long long most = w->as_doc ? w->as_max : w->replicas;

	ha_sel_candidates(pdbix, w->ns, w->labels, pdb_visit, &ps);
	/* one replica included: a budget that blocks its only pod blocks drains */
	if (ps.found)
		pdb_quality(m, w, ps.found);
	if (most < 2)
		return;   /* a single pod: the replicas rule says it all */
	if (!ps.found)
		WREPORT(m, w, "pdb", PHD_SEV_WARN, w->obj, w->spec,
			"%s: no PodDisruptionBudget selects its pods: a node drain may evict all "
			"of them at once%s", w->obj, no_key(w, "pdb"));
	if (!spreads_own(w))
		WREPORT(m, w, "spread", PHD_SEV_WARN, w->obj, w->pod,
			"%s: %s: its replicas may share one node or zone%s", w->obj,
			phd_node_len(aa) || phd_node_len(tsc) ?
			"its podAntiAffinity and topologySpreadConstraints select none of its own "
			"pods (their labelSelector does not match the pod template's labels)" :
			"neither podAntiAffinity nor topologySpreadConstraints",
			no_key(w, "spread"));
}

/* Budgets that select no workload's pods protect nothing. */
static void rule_pdb_orphans(struct ha_mctx *m)
{
	for (size_t i = 0; i < m->npdb; i++)
		if (!m->pdb[i].used)
			ha_report(m->s, "pdb-policy", PHD_SEV_ERROR, m->pdb[i].obj,
				  phd_node_get(m->pdb[i].doc, "spec.selector") ?
				  phd_node_get(m->pdb[i].doc, "spec.selector") : m->pdb[i].doc, NULL,
				  "%s selects the pods of no workload in the release: it protects "
				  "nothing; make its selector match the pod template's labels",
				  m->pdb[i].obj);
}

static int is_hook(const phd_node *doc)
{
	return phd_node_get(doc, "metadata.annotations.\"helm.sh/hook\"") != NULL;
}

static void run_rules(struct ha_mctx *m, struct ha_index *pdbix)
{
	size_t i;

	for (i = 0; i < m->nw; i++) {
		struct ha_wl *w = &m->w[i];
		if (w->managed)
			continue;   /* a live Pod or ReplicaSet: its owner is checked */
		container_rules(m, w, "containers", 0);
		container_rules(m, w, "initContainers", 1);
		if (!w->scalable || is_hook(w->doc))
			continue;
		rule_replicas(m, w);
		rule_pdb_spread(m, pdbix, w);
	}
	rule_pdb_orphans(m);
}

/* ---- driver ----------------------------------------------------------------- */

static const char *doc_ns(const struct ha_opts *o, const phd_node *doc)
{
	const char *ns = phd_node_str(phd_node_get(doc, "metadata.namespace"));

	return ns && *ns ? ns : o->namespace_ ? o->namespace_ : "";
}

/* First pass: malformed documents, removed APIs, workloads and PDBs. */
static void scan(struct ha_mctx *m, struct ha_index *by_name, struct ha_index *pdbix)
{
	size_t i;
	char key[768];

	for (i = 0; i < m->ndocs && !m->oom; i++) {
		const phd_node *doc = m->docs[i];
		const char *api, *kind, *name;
		int rc;

		if (!doc || phd_node_type(doc) == PHD_NODE_NULL)
			continue;   /* helm renders empty documents for disabled templates */
		if (phd_node_type(doc) != PHD_NODE_MAP) {
			ha_report(m->s, MANIFEST, PHD_SEV_ERROR, "document", doc, NULL,
				  "document %zu is %s, not a Kubernetes object", i + 1, type_name(doc));
			continue;
		}
		api = phd_node_str(phd_node_get(doc, "apiVersion"));
		kind = phd_node_str(phd_node_get(doc, "kind"));
		name = phd_node_str(phd_node_get(doc, "metadata.name"));
		if (!api || !kind || !*kind) {
			ha_report(m->s, MANIFEST, PHD_SEV_ERROR, "document", doc, NULL,
				  "document %zu has no %s", i + 1, !api ? "apiVersion" : "kind");
			continue;
		}
		if (!name)
			name = phd_node_str(phd_node_get(doc, "metadata.generateName"));
		if (!name) {
			ha_report(m->s, MANIFEST, PHD_SEV_ERROR, kind, doc, NULL,
				  "document %zu (%s) has no metadata.name", i + 1, kind);
			continue;
		}
		check_removed_api(m, doc, api, kind, name);
		if (strcmp(kind, "ClickHouseInstallation") == 0) {
			check_chi(m, doc, name);
			continue;
		}
		if (strcmp(kind, "PodDisruptionBudget") == 0) {
			struct ha_pdb *p = &m->pdb[m->npdb];
			p->doc = doc;
			p->selector = phd_node_get(doc, "spec.selector");
			p->ns = doc_ns(m->o, doc);
			if (!(p->obj = kind_name(m, kind, name)))
				break;
			if (ha_sel_index_add(pdbix, p->ns, p->selector, m->npdb) < 0)
				m->oom = 1;
			m->npdb++;
			continue;
		}
		rc = read_workload(m, doc, kind, name, doc_ns(m->o, doc), &m->w[m->nw]);
		if (rc == 1)
			continue;
		if (rc < 0) {
			free(m->w[m->nw].obj);
			continue;
		}
		snprintf(key, sizeof key, "%s/%s/%s", m->w[m->nw].ns, kind, name);
		if (ha_index_add(by_name, key, m->nw) < 0)
			m->oom = 1;
		m->nw++;
	}
}

static void attach_autoscalers(struct ha_mctx *m, const struct ha_index *by_name)
{
	size_t i;

	for (i = 0; i < m->ndocs; i++) {
		const phd_node *doc = m->docs[i];
		const char *kind = phd_node_str(phd_node_get(doc, "kind"));
		const char *name = phd_node_str(phd_node_get(doc, "metadata.name"));
		if (phd_node_type(doc) != PHD_NODE_MAP || !kind || !name)
			continue;
		if (strcmp(kind, "HorizontalPodAutoscaler") == 0 || strcmp(kind, "ScaledObject") == 0)
			read_autoscaler(m, by_name, doc, kind, name, doc_ns(m->o, doc));
	}
}

int ha_manifest_check(struct ha_sink *s, const struct ha_opts *o, const phd_node *const *docs,
		      size_t ndocs, int live)
{
	struct ha_mctx m;
	struct ha_index *by_name = ha_index_new(ndocs), *pdbix = ha_index_new(64);
	size_t i;
	int rc = 0;

	memset(&m, 0, sizeof m);
	m.s = s;
	m.o = o;
	m.docs = docs;
	m.ndocs = ndocs;
	m.w = calloc(ndocs ? ndocs : 1, sizeof *m.w);
	m.pdb = calloc(ndocs ? ndocs : 1, sizeof *m.pdb);
	if (!by_name || !pdbix || !m.w || !m.pdb) {
		rc = PHD_ENOMEM;
		goto out;
	}
	scan(&m, by_name, pdbix);
	attach_autoscalers(&m, by_name);
	if (!m.oom)
		run_rules(&m, pdbix);
	if (!m.oom && live)
		ha_live_check(&m);
	if (m.oom || s->broken)
		rc = PHD_ENOMEM;
out:
	for (i = 0; m.w && i < m.nw; i++) {
		free(m.w[i].obj);
		free(m.w[i].as_obj);
	}
	for (i = 0; m.pdb && i < m.npdb; i++)
		free(m.pdb[i].obj);
	free(m.w);
	free(m.pdb);
	ha_index_free(by_name);
	ha_index_free(pdbix);
	return rc;
}
