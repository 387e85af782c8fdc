/* What --wait will fail on because of the cluster's shape: too few zones
 * for the HA layout, too little capacity left per zone for the release's
 * pods (with their spread and anti-affinity), a StorageClass that is not
 * there or binds volumes before the pod is placed, StatefulSet volumes in a
 * zone no node can serve.  Read-only: kubectl get through predict.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "objdiff.h"
#include "predict.h"

#define R_ZONES KUBE_R_ZONES
#define R_CAPACITY KUBE_R_CAPACITY
#define R_CLASS KUBE_R_CLASS
#define R_BINDING KUBE_R_BINDING
#define R_VOLZONE KUBE_R_VOLZONE

#define HOSTNAME_KEY "kubernetes.io/hostname"
/* placing a pod scans every node: a bound for a render asking millions */
#define KUBE_PREDICT_MAX_PODS 20000

struct node {
	json_t *obj;
	const char *name, *zone;   /* zone "" when unlabelled */
	int zi;                    /* index in cstate.zones */
	long long cpu, mem;        /* allocatable left (milli-units) */
	int ready;
	int mine;                  /* pods of the workload being placed */
};

struct wl {
	json_t *obj, *pod, *labels, *one;  /* one: [obj], for kube_owned_pod */
	const char *ns;
	char key[300];
	long long replicas, surge, npods;
	struct kube_res req;
	int host_anti, zone_anti;          /* required anti-affinity on own pods */
	long long host_skew, zone_skew;    /* DoNotSchedule maxSkew, 0: none */
	int running;                       /* has pods now: an upgrade rolls them */
};

struct cstate {
	struct kube_predict *p;
	struct node *n;
	size_t nn;
	const char *zones[256];
	size_t nz;
	struct wl *w;
	size_t nw, capw;
	int nodes_read;
};

/* ---- formatting ---------------------------------------------------------- */

static void fmt_cpu(long long m, char *buf, size_t cap)
{
	if (m % 1000 == 0)
		snprintf(buf, cap, "%lld", m / 1000);
	else
		snprintf(buf, cap, "%lldm", m);
}

/* memory in milli-bytes, shown in Mi (rounded up) or Gi when whole */
static void fmt_mem(long long mb, char *buf, size_t cap)
{
	long long mi = (mb / 1000 + (1 << 20) - 1) >> 20;

	if (mi && mi % 1024 == 0)
		snprintf(buf, cap, "%lldGi", mi / 1024);
	else
		snprintf(buf, cap, "%lldMi", mi);
}

/* ---- the release's workloads -------------------------------------------- */

static int is_zone_key(const char *k)
{
	return !strcmp(k, "topology.kubernetes.io/zone") ||
	       !strcmp(k, "failure-domain.beta.kubernetes.io/zone");
}

/* maxSurge of a Deployment as a pod count: the API default is 25%, a
 * percentage rounds up; Recreate replaces without surging. */
static long long surge_of(json_t *obj, long long replicas)
{
	json_t *st = json_object_get(json_object_get(obj, "spec"), "strategy");
	json_t *ms = json_object_get(json_object_get(st, "rollingUpdate"), "maxSurge");
	long long pct = 25;

	if (strcmp(kube_jstr(obj, "kind"), "Deployment") || !strcmp(kube_jstr(st, "type"), "Recreate"))
		return 0;
	if (json_is_integer(ms))
		return json_integer_value(ms) > 0 ? (long long)json_integer_value(ms) : 0;
	if (json_is_string(ms)) {
		char *end;
		pct = strtoll(json_string_value(ms), &end, 10);
		if (*end != '%')
			return pct > 0 ? pct : 0;
	}
	return pct > 0 ? (replicas * pct + 99) / 100 : 0;
}

static void read_constraints(struct wl *w)
{
	json_t *aa = json_object_get(json_object_get(w->pod, "affinity"), "podAntiAffinity");
	json_t *t;
	size_t i;

	json_array_foreach(json_object_get(aa, "requiredDuringSchedulingIgnoredDuringExecution"),
			   i, t) {
		const char *k = kube_jstr(t, "topologyKey");
		if (!kube_selector_matches(json_object_get(t, "labelSelector"), w->labels))
			continue;
		w->host_anti |= !strcmp(k, HOSTNAME_KEY);
		w->zone_anti |= is_zone_key(k);
	}
	json_array_foreach(json_object_get(w->pod, "topologySpreadConstraints"), i, t) {
		const char *k = kube_jstr(t, "topologyKey");
		json_t *skew = json_object_get(t, "maxSkew");
		long long s = json_is_integer(skew) ? (long long)json_integer_value(skew) : 1;
		if (strcmp(kube_jstr(t, "whenUnsatisfiable"), "DoNotSchedule") ||
		    !kube_selector_matches(json_object_get(t, "labelSelector"), w->labels))
			continue;  /* ScheduleAnyway only scores nodes */
		if (!strcmp(k, HOSTNAME_KEY))
			w->host_skew = s;
		else if (is_zone_key(k))
			w->zone_skew = s;
	}
}

/* The pods a workload runs once its autoscaler acts: an HPA's
 * minReplicas when one targets it (the chart leaves spec.replicas unset
 * then, and the API server defaults it to 1). */
static long long replicas_of(struct kube_predict *p, json_t *obj)
{
	long long n = kube_replicas(obj);
	const char *name = kube_jstr(json_object_get(obj, "metadata"), "name");
	json_t *o;
	size_t i;

	json_array_foreach(p->rendered, i, o) {
		json_t *spec = json_object_get(o, "spec"), *min;
		json_t *ref = json_object_get(spec, "scaleTargetRef");
		if (strcmp(kube_jstr(o, "kind"), "HorizontalPodAutoscaler") ||
		    strcmp(kube_jstr(ref, "kind"), kube_jstr(obj, "kind")) ||
		    strcmp(kube_jstr(ref, "name"), name))
			continue;
		min = json_object_get(spec, "minReplicas");
		if (json_is_integer(min) && json_integer_value(min) > n)
			n = json_integer_value(min);
	}
	return n;
}

static void add_workload(struct kube_predict *p, json_t *obj, void *payload)
{
	struct cstate *c = payload;
	json_t *tmpl = json_object_get(json_object_get(obj, "spec"), "template");
	struct wl *w;

	if (c->nw == c->capw) {
		size_t cap = c->capw ? c->capw * 2 : 16;
		struct wl *nw = realloc(c->w, cap * sizeof *nw);
		if (!nw)
			return;
		c->w = nw;
		c->capw = cap;
	}
	w = &c->w[c->nw];
	memset(w, 0, sizeof *w);
	w->obj = obj;
	w->pod = json_object_get(tmpl, "spec");
	w->labels = json_object_get(json_object_get(tmpl, "metadata"), "labels");
	w->one = json_pack("[O]", obj);
	if (!w->one)
		return;
	snprintf(w->key, sizeof w->key, "%s/%s", kube_jstr(obj, "kind"),
		 kube_jstr(json_object_get(obj, "metadata"), "name"));
	w->replicas = replicas_of(p, obj);
	w->ns = kube_jstr(json_object_get(obj, "metadata"), "namespace");
	if (!*w->ns)
		w->ns = p->ns;
	w->surge = surge_of(obj, w->replicas);
	kube_pod_requests(w->pod, &w->req);
	read_constraints(w);
	c->nw++;
}

/* ---- nodes and what already runs on them -------------------------------- */

static int zone_index(struct cstate *c, const char *z)
{
	for (size_t i = 0; i < c->nz; i++)
		if (!strcmp(c->zones[i], z))
			return (int)i;
	if (c->nz == sizeof c->zones / sizeof c->zones[0])
		return (int)c->nz - 1;
	c->zones[c->nz] = z;
	return (int)c->nz++;
}

static int read_nodes(struct cstate *c, const char *rule)
{
	json_t *nodes, *o;
	size_t i;

	if (c->nodes_read) {
		if (!c->n)  /* says once more, for this rule, that it cannot predict */
			kube_predict_live(c->p, KUBE_LIVE_NODES, rule);
		return c->n ? 0 : -1;
	}
	c->nodes_read = 1;
	if (!(nodes = kube_predict_live(c->p, KUBE_LIVE_NODES, rule)))
		return -1;
	c->n = calloc(json_array_size(nodes) + 1, sizeof *c->n);
	if (!c->n)
		return -1;
	json_array_foreach(nodes, i, o) {
		struct node *n = &c->n[c->nn++];
		json_t *alloc = json_object_get(json_object_get(o, "status"), "allocatable");
		n->obj = o;
		n->name = kube_jstr(json_object_get(o, "metadata"), "name");
		n->zone = kube_node_zone(o) ? kube_node_zone(o) : "";
		n->zi = zone_index(c, n->zone);
		n->ready = kube_node_ready(o);
		if (kube_quantity_json(json_object_get(alloc, "cpu"), &n->cpu) < 0)
			n->cpu = 0;
		if (kube_quantity_json(json_object_get(alloc, "memory"), &n->mem) < 0)
			n->mem = 0;
	}
	return 0;
}

static struct node *node_named(struct cstate *c, const char *name)
{
	for (size_t i = 0; i < c->nn; i++)
		if (!strcmp(c->n[i].name, name))
			return &c->n[i];
	return NULL;
}

/* Take from each node what its pods request, except the release's own pods
 * of a rendered workload: the rollout replaces those, and the demand below
 * counts the new pods plus the surge (old and new pods together never
 * exceed replicas + maxSurge).  Pods that are done hold nothing. */
static int subtract_pods(struct cstate *c)
{
	json_t *pods = kube_predict_live(c->p, KUBE_LIVE_PODS, R_CAPACITY), *pod;
	size_t i;

	if (!pods)
		return -1;
	json_array_foreach(pods, i, pod) {
		json_t *spec = json_object_get(pod, "spec");
		const char *phase = kube_jstr(json_object_get(pod, "status"), "phase");
		struct node *n = node_named(c, kube_jstr(spec, "nodeName"));
		struct kube_res r;
		int own = 0;
		if (!n || !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))
			continue;
		for (size_t j = 0; j < c->nw && !own; j++)
			if (!strcmp(kube_jstr(json_object_get(pod, "metadata"), "namespace"),
				    c->w[j].ns) && kube_owned_pod(pod, c->w[j].one))
				own = c->w[j].running = 1;
		if (own)
			continue;
		kube_pod_requests(spec, &r);
		n->cpu = kube_sat_add(n->cpu, -r.cpu);
		n->mem = kube_sat_add(n->mem, -r.mem);
	}
	return 0;
}

static int usable(const struct node *n, const struct wl *w)
{
	return n->ready && kube_node_tolerates(n->obj, w->pod) && kube_node_admits(n->obj, w->pod);
}

/* Why node n takes no pod (for the fix), "" when it can. */
static void why_not(const struct node *n, json_t *podspec, char *buf, size_t cap)
{
	json_t *taint;
	size_t i;

	*buf = 0;
	if (json_is_true(json_object_get(json_object_get(n->obj, "spec"), "unschedulable")))
		snprintf(buf, cap, "cordoned (kubectl uncordon %s)", n->name);
	else if (!n->ready)
		snprintf(buf, cap, "not Ready");
	else if (!kube_node_tolerates(n->obj, podspec))
		json_array_foreach(json_object_get(json_object_get(n->obj, "spec"), "taints"), i,
				   taint) {
			if (kube_taint_tolerated(taint, podspec))
				continue;
			snprintf(buf, cap, "tainted %s%s%s:%s, not tolerated", kube_jstr(taint, "key"),
				 *kube_jstr(taint, "value") ? "=" : "", kube_jstr(taint, "value"),
				 kube_jstr(taint, "effect"));
			break;
		}
	else if (podspec && !kube_node_admits(n->obj, podspec))
		snprintf(buf, cap, "excluded by the pods' nodeSelector/nodeAffinity");
}

/* ---- wait-zones ------------------------------------------------------------ */

/* The HA layout's zone count: two for any workload of more than one pod
 * (as the ha plugin's live spread rule: losing a zone must not stop it);
 * three for a quorum (ZooKeeper) of three or more, whose majority must
 * outlive one zone. */
static int zones_needed(struct cstate *c, const char **why)
{
	int need = 0;

	for (size_t i = 0; i < c->nw; i++) {
		const struct wl *w = &c->w[i];
		int quorum = strstr(w->key, "zookeeper") && !strncmp(w->key, "StatefulSet/", 12);
		if (w->replicas >= 3 && quorum && need < 3) {
			need = 3;
			*why = w->key;
		} else if (w->replicas >= 2 && need < 2) {
			need = 2;
			*why = w->key;
		}
	}
	return need;
}

static void predict_zones(struct cstate *c)
{
	const char *why = NULL;
	int need = zones_needed(c, &why), have = 0;
	int usable_zone[256] = { 0 };
	char *buf = NULL, *ex = NULL;
	size_t len = 0, exlen = 0, nex = 0, nlabel = 0;
	FILE *f, *fx;

	if (need == 0 || read_nodes(c, R_ZONES) < 0)
		return;
	/* a zone counts when some multi-pod workload may use one of its nodes */
	for (size_t i = 0; i < c->nn; i++)
		for (size_t j = 0; j < c->nw; j++)
			if (c->w[j].replicas >= 2 && *c->n[i].zone && usable(&c->n[i], &c->w[j]))
				usable_zone[c->n[i].zi] = 1;
	for (size_t z = 0; z < c->nz; z++)
		have += usable_zone[z];
	if (have >= need)
		return;
	if (!(f = open_memstream(&buf, &len)) || !(fx = open_memstream(&ex, &exlen))) {
		if (f)
			fclose(f);
		free(buf);
		return;
	}
	for (size_t z = 0, k = 0; z < c->nz; z++)
		if (usable_zone[z])
			fprintf(f, "%s%s", k++ ? ", " : "", c->zones[z]);
	for (size_t i = 0; i < c->nn; i++) {
		char reason[300];
		json_t *pod = NULL;
		for (size_t j = 0; j < c->nw && !pod; j++)
			if (!strcmp(c->w[j].key, why))
				pod = c->w[j].pod;
		if (!*c->n[i].zone && c->n[i].ready && nlabel++ < 6) {
			fprintf(fx, "; node %s has no topology.kubernetes.io/zone label and counts in no "
				"zone", c->n[i].name);
			continue;
		}
		if (!*c->n[i].zone || usable_zone[c->n[i].zi])
			continue;
		why_not(&c->n[i], pod, reason, sizeof reason);
		if (*reason && nex++ < 6)
			fprintf(fx, "; node %s (zone %s) is %s", c->n[i].name, c->n[i].zone, reason);
	}
	fclose(fx);
	fclose(f);
	/* one zone: losing it stops everything; two for a quorum: its majority
	 * is in one of them, the rest still runs */
	phd_validation_report(c->p->v, R_ZONES, have < 2 ? PHD_SEV_ERROR : PHD_SEV_WARN, "cluster",
			      NULL, NULL,
			      "the release's pods can be scheduled in %d zone(s)%s%s%s, the HA layout "
			      "needs %d (%s runs %s pods: losing %s stops %s)%s; fix: add schedulable "
			      "nodes in %d more zone(s)%s",
			      have, have ? " (" : "", have ? buf : "", have ? ")" : "", need, why,
			      need >= 3 ? "a quorum of 3 or more" : "several",
			      have == 1 ? "that zone" : "a zone",
			      need >= 3 ? "its majority" : "all of them", ex ? ex : "", need - have,
			      nex ? " or make the nodes above schedulable again" :
			      nlabel ? " or label the nodes above with their zone" : "");
	free(buf);
	free(ex);
}

/* ---- wait-capacity ---------------------------------------------------------- */

enum block { B_NONE = 0, B_CAPACITY, B_NODES, B_ZONES };

/* The node the scheduler could give the next pod of w, or NULL; *why says
 * what stopped it when nothing fits. */
static struct node *pick(struct cstate *c, const struct wl *w, const long long *zc,
			 enum block *why)
{
	long long zmin = -1, nmin = -1;
	struct node *best = NULL;
	int room_elsewhere = 0;

	/* skew counts the zones/nodes the pods may use, full or not */
	for (size_t i = 0; i < c->nn; i++) {
		const struct node *n = &c->n[i];
		if (!usable(n, w))
			continue;
		if (zmin < 0 || zc[n->zi] < zmin)
			zmin = zc[n->zi];
		if (nmin < 0 || n->mine < nmin)
			nmin = n->mine;
	}
	*why = B_NONE;
	for (size_t i = 0; i < c->nn; i++) {
		struct node *n = &c->n[i];
		int fits;
		if (!usable(n, w))
			continue;
		fits = n->cpu >= w->req.cpu && n->mem >= w->req.mem;
		if ((w->host_anti && n->mine) || (w->host_skew && n->mine + 1 - nmin > w->host_skew)) {
			if (*why < B_NODES)
				*why = B_NODES;
			continue;
		}
		if ((w->zone_anti && zc[n->zi]) || (w->zone_skew && zc[n->zi] + 1 - zmin > w->zone_skew)) {
			*why = B_ZONES;
			continue;
		}
		if (!fits) {
			room_elsewhere = 1;
			continue;
		}
		/* the emptiest zone first, then the node with most cpu left */
		if (!best || zc[n->zi] < zc[best->zi] ||
		    (zc[n->zi] == zc[best->zi] && n->cpu > best->cpu))
			best = n;
	}
	if (!best && room_elsewhere)
		*why = B_CAPACITY;
	return best;
}

/* One finding for a workload whose pods the cluster cannot all take. */
static void report_unplaced(struct cstate *c, const struct wl *w, long long placed,
			    const long long *zc, enum block why)
{
	long long left = w->npods - placed;
	char rc[32], rm[32], *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *rule = why == B_ZONES ? R_ZONES : R_CAPACITY;
	int zok[256] = { 0 };
	long long nzw = 0;

	if (!f)
		return;
	/* the zones w may use: its spread counts only those */
	for (size_t i = 0; i < c->nn; i++)
		if (usable(&c->n[i], w) && !zok[c->n[i].zi]++)
			nzw++;
	fmt_cpu(w->req.cpu, rc, sizeof rc);
	fmt_mem(w->req.mem, rm, sizeof rm);
	fprintf(f, "%lld of its %lld pod(s) cannot be scheduled (", left, w->npods);
	if (w->surge && w->running)
		fprintf(f, "%lld replicas + %lld rollout surge", w->replicas, w->surge);
	else
		fprintf(f, "%lld replicas", w->replicas);
	fprintf(f, ", each requesting cpu %s, memory %s)", rc, rm);
	if (why == B_ZONES) {
		if (w->zone_anti)
			fprintf(f, "; its required zone anti-affinity puts one pod in each zone and "
				"%lld zone(s) can take its pods; fix: add nodes in %lld more zone(s) or "
				"relax the anti-affinity", nzw, left);
		else
			fprintf(f, "; its zone spread (DoNotSchedule, maxSkew %lld) keeps each of the "
				"%lld zone(s) it can use within %lld pod(s) of the emptiest; fix: add "
				"nodes in the zones that lack room, or whenUnsatisfiable: ScheduleAnyway",
				w->zone_skew, nzw, w->zone_skew);
	} else if (why == B_NODES) {
		size_t have = 0;
		for (size_t i = 0; i < c->nn; i++)
			have += usable(&c->n[i], w);
		fprintf(f, "; its required %s allows one pod per node: it needs %lld schedulable "
			"node(s) and has %zu%s; fix: add %lld node(s)",
			w->host_anti ? "hostname anti-affinity" : "hostname spread (DoNotSchedule)",
			w->npods, have, w->surge && w->running ? " (the rollout surge needs nodes of "
			"its own while the old pods run: or set maxSurge 0)" : "", left);
	} else {
		int spread = w->zone_anti || w->zone_skew;
		/* pods that found no node: whatever is left is in pieces smaller
		 * than one pod, so the whole request of each is missing */
		for (size_t z = 0; z < (spread ? c->nz : 1); z++) {
			long long most_cpu = 0, most_mem = 0, want = left;
			char mc[32], mm[32], lc[32], lm[32];
			for (size_t i = 0; i < c->nn; i++) {
				const struct node *n = &c->n[i];
				if ((spread && n->zi != (int)z) || !usable(n, w) || (w->host_anti && n->mine))
					continue;
				most_cpu = n->cpu > most_cpu ? n->cpu : most_cpu;
				most_mem = n->mem > most_mem ? n->mem : most_mem;
			}
			if (spread) {
				/* each zone it may use must take its even share */
				if (!zok[z])
					continue;
				want = (w->npods + nzw - 1) / nzw - zc[z];
				if (want <= 0)
					continue;
			}
			fmt_cpu(kube_sat_mul(want, w->req.cpu), mc, sizeof mc);
			fmt_mem(kube_sat_mul(want, w->req.mem), mm, sizeof mm);
			fmt_cpu(most_cpu, lc, sizeof lc);
			fmt_mem(most_mem, lm, sizeof lm);
			fprintf(f, "; missing %s%s for %lld pod(s):", spread ? "in zone " : "in the cluster",
				spread ? c->zones[z] : "", want);
			if (most_cpu < w->req.cpu)
				fprintf(f, " cpu %s (the most a node there has left: %s)", mc, lc);
			if (most_mem < w->req.mem)
				fprintf(f, "%s memory %s (the most a node there has left: %s)",
					most_cpu < w->req.cpu ? "," : "", mm, lm);
			if (most_cpu >= w->req.cpu && most_mem >= w->req.mem)
				fprintf(f, " a node with cpu %s and memory %s left", mc, mm);
		}
		fprintf(f, "; fix: add nodes%s or lower the requests of its containers (the "
			"component's resources.requests in the values)", spread ? " in those zones" :
			"");
	}
	fclose(f);
	phd_validation_report(c->p->v, rule, PHD_SEV_ERROR, w->key, NULL, NULL,
			      "helm --wait will time out on %s: %s", w->key, buf ? buf : "");
	free(buf);
}

/* Place every pod of every workload the way the scheduler's filters would
 * (render order, emptiest zone first) on what the nodes have left. */
static void predict_capacity(struct cstate *c)
{
	long long *zc;

	if (read_nodes(c, R_CAPACITY) < 0 || subtract_pods(c) < 0)
		return;
	zc = calloc(c->nz + 1, sizeof *zc);
	if (!zc)
		return;
	for (size_t i = 0; i < c->nw; i++) {
		struct wl *w = &c->w[i];
		long long placed = 0;
		enum block why = B_NONE, first = B_NONE;
		/* a fresh install has no old pods: no surge */
		w->npods = w->replicas + (w->running ? w->surge : 0);
		memset(zc, 0, (c->nz + 1) * sizeof *zc);
		for (size_t k = 0; k < c->nn; k++)
			c->n[k].mine = 0;
		if (w->npods > KUBE_PREDICT_MAX_PODS)
			phd_log(c->p->ctx, PHD_LOG_WARN, "kube: predict: %s asks for %lld pods; only "
				"the first %d are placed", w->key, w->npods, KUBE_PREDICT_MAX_PODS);
		for (long long k = 0; k < w->npods && k < KUBE_PREDICT_MAX_PODS; k++) {
			struct node *n = pick(c, w, zc, &why);
			if (!n) {
				/* nothing changed: the pods after it find no node either */
				first = why ? why : B_CAPACITY;
				break;
			}
			n->cpu = kube_sat_add(n->cpu, -w->req.cpu);
			n->mem = kube_sat_add(n->mem, -w->req.mem);
			n->mine++;
			zc[n->zi]++;
			placed++;
		}
		if (first != B_NONE && !kube_predict_off(c->p, first == B_ZONES ? R_ZONES
							   : R_CAPACITY))
			report_unplaced(c, w, placed, zc, first);
	}
	free(zc);
}

/* ---- storage ------------------------------------------------------------ */

struct claim {
	char name[300];      /* the PVC's name, or "TEMPLATE-STS-*" for the operator's */
	char owner[300];     /* "StatefulSet/x" or "PersistentVolumeClaim/x" */
	json_t *spec;        /* the claim's spec (borrowed) */
};

/* The object of list named name (borrowed), or NULL. */
static json_t *find_named(json_t *list, const char *name)
{
	json_t *o;
	size_t i;

	json_array_foreach(list, i, o)
		if (!strcmp(kube_jstr(json_object_get(o, "metadata"), "name"), name))
			return o;
	return NULL;
}

static int chi_claims_live(json_t *pvcs)
{
	json_t *o;
	size_t i;

	json_array_foreach(pvcs, i, o)
		if (*kube_jstr(json_object_get(json_object_get(o, "metadata"), "labels"),
			       "clickhouse.altinity.com/chi"))
			return 1;
	return 0;
}

static json_t *default_class(json_t *classes)
{
	json_t *o;
	size_t i;

	json_array_foreach(classes, i, o) {
		json_t *ann = json_object_get(json_object_get(o, "metadata"), "annotations");
		if (!strcmp(kube_jstr(ann, "storageclass.kubernetes.io/is-default-class"), "true") ||
		    !strcmp(kube_jstr(ann, "storageclass.beta.kubernetes.io/is-default-class"), "true"))
			return o;
	}
	return NULL;
}

/* The claims this release will create: its PVCs, its StatefulSets'
 * volumeClaimTemplates per ordinal, the ClickHouseInstallation's
 * templates (the operator names the claims); those that exist already are
 * bound and need no class. */
static size_t new_claims(struct cstate *c, json_t *pvcs, struct claim *out, size_t max)
{
	json_t *o, *t;
	size_t i, j, n = 0;

	json_array_foreach(c->p->rendered, i, o) {
		const char *kind = kube_jstr(o, "kind");
		const char *name = kube_jstr(json_object_get(o, "metadata"), "name");
		json_t *spec = json_object_get(o, "spec");
		if (!strcmp(kind, "PersistentVolumeClaim") && n < max && !find_named(pvcs, name)) {
			snprintf(out[n].name, sizeof out[n].name, "%s", name);
			snprintf(out[n].owner, sizeof out[n].owner, "PersistentVolumeClaim/%s", name);
			out[n++].spec = spec;
		} else if (!strcmp(kind, "StatefulSet")) {
			json_array_foreach(json_object_get(spec, "volumeClaimTemplates"), j, t)
				for (long long k = 0; k < kube_replicas(o) && n < max; k++) {
					snprintf(out[n].name, sizeof out[n].name, "%s-%s-%lld",
						 kube_jstr(json_object_get(t, "metadata"), "name"), name, k);
					if (find_named(pvcs, out[n].name))
						continue;
					snprintf(out[n].owner, sizeof out[n].owner, "StatefulSet/%s", name);
					out[n++].spec = json_object_get(t, "spec");
				}
		} else if (!strcmp(kind, "ClickHouseInstallation") && !chi_claims_live(pvcs)) {
			json_array_foreach(json_object_get(json_object_get(spec, "templates"),
							   "volumeClaimTemplates"), j, t) {
				if (n >= max)
					break;
				snprintf(out[n].name, sizeof out[n].name, "%s (the operator's claims)",
					 kube_jstr(t, "name"));
				snprintf(out[n].owner, sizeof out[n].owner, "ClickHouseInstallation/%s", name);
				out[n++].spec = json_object_get(t, "spec");
			}
		}
	}
	return n;
}

static int schedulable_zones(struct cstate *c)
{
	int seen[256] = { 0 }, n = 0;

	for (size_t i = 0; i < c->nn; i++)
		if (c->n[i].ready && *c->n[i].zone && !seen[c->n[i].zi]++)
			n++;
	return n;
}

static void predict_storage(struct cstate *c)
{
	struct claim cl[64];
	json_t *pvcs, *classes, *reported = json_object();
	size_t n;
	int zones = -1;
	/* the rule that is on says when the cluster could not be read */
	const char *rule = kube_predict_off(c->p, R_CLASS) ? R_BINDING : R_CLASS;

	if (!reported)
		return;
	if (!(pvcs = kube_predict_live(c->p, KUBE_LIVE_PVCS, rule)))
		goto out;
	if (!(n = new_claims(c, pvcs, cl, sizeof cl / sizeof cl[0])))
		goto out;
	if (!(classes = kube_predict_live(c->p, KUBE_LIVE_STORAGECLASSES, rule)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		json_t *scn = json_object_get(cl[i].spec, "storageClassName"), *sc;
		const char *name = json_string_value(scn), *mode;
		char key[400];
		if (name && !*name)
			continue;  /* "": bound by hand to a PV, no class involved */
		sc = name ? find_named(classes, name) : default_class(classes);
		snprintf(key, sizeof key, "%s", name ? name : "(default)");
		if (json_object_get(reported, key))
			continue;
		json_object_set_new(reported, key, json_true());
		if (!sc && kube_predict_off(c->p, R_CLASS))
			continue;
		if (!sc) {
			phd_validation_report(c->p->v, R_CLASS, PHD_SEV_ERROR, cl[i].owner, NULL, NULL,
					      "helm --wait will time out: claim %s %s%s%s: it stays "
					      "Pending and so do the pods that mount it; fix: %s", cl[i].name,
					      name ? "names StorageClass " : "names no StorageClass and the "
					      "cluster has no default one", name ? name : "",
					      name ? ", which the cluster does not have" : "",
					      name ? "create that StorageClass or name an existing one in the "
					      "values (storageClass / persistence.storageClass)" :
					      "mark a StorageClass default (annotation storageclass."
					      "kubernetes.io/is-default-class: \"true\") or name one in the values");
			continue;
		}
		mode = kube_jstr(sc, "volumeBindingMode");
		if (!strcmp(mode, "WaitForFirstConsumer") || kube_predict_off(c->p, R_BINDING))
			continue;
		if (zones < 0)
			zones = read_nodes(c, R_BINDING) < 0 ? 0 : schedulable_zones(c);
		if (zones >= 2)
			phd_validation_report(c->p->v, R_BINDING, PHD_SEV_WARN, cl[i].owner, NULL, NULL,
					      "StorageClass %s binds volumes at once (volumeBindingMode %s) "
					      "on a cluster of %d zones: claim %s may get a volume in a zone "
					      "where its pod cannot go (spread, anti-affinity, capacity), and "
					      "that pod stays Pending; fix: a class with volumeBindingMode: "
					      "WaitForFirstConsumer", kube_jstr(json_object_get(sc, "metadata"),
					      "name"), *mode ? mode : "Immediate (the default)", zones,
					      cl[i].name);
	}
out:
	json_decref(reported);
}

/* ---- wait-volume-zone -------------------------------------------------- */

/* The zones a PV's node affinity allows, appended to zones (JSON array). */
static void pv_zones(json_t *pv, json_t *zones)
{
	json_t *na = json_object_get(json_object_get(pv, "spec"), "nodeAffinity");
	json_t *terms = json_object_get(json_object_get(na, "required"), "nodeSelectorTerms");
	json_t *term, *req, *v;
	size_t i, j, k;

	json_array_foreach(terms, i, term)
		json_array_foreach(json_object_get(term, "matchExpressions"), j, req) {
			const char *key = kube_jstr(req, "key");
			if (strcmp(kube_jstr(req, "operator"), "In") ||
			    (!is_zone_key(key) && strcmp(key, "topology.ebs.csi.aws.com/zone")))
				continue;
			json_array_foreach(json_object_get(req, "values"), k, v)
				json_array_append(zones, v);
		}
}

/* The StatefulSet pod that mounts claim: "TEMPLATE-STS-N" -> STS-N, with
 * *w its workload; 0 when no rendered StatefulSet owns the name. */
static int claim_pod(struct cstate *c, const char *claim, char *pod, size_t cap, struct wl **w)
{
	for (size_t i = 0; i < c->nw; i++) {
		json_t *t;
		size_t j;
		const char *sts = kube_jstr(json_object_get(c->w[i].obj, "metadata"), "name");
		if (strncmp(c->w[i].key, "StatefulSet/", 12))
			continue;
		json_array_foreach(json_object_get(json_object_get(c->w[i].obj, "spec"),
						   "volumeClaimTemplates"), j, t) {
			const char *tn = kube_jstr(json_object_get(t, "metadata"), "name");
			size_t tl = strlen(tn), sl = strlen(sts);
			char *end;
			long long ord;
			if (strncmp(claim, tn, tl) || claim[tl] != '-' || strncmp(claim + tl + 1, sts, sl) ||
			    claim[tl + 1 + sl] != '-')
				continue;
			ord = strtoll(claim + tl + sl + 2, &end, 10);
			if (*end || end == claim + tl + sl + 2 || ord >= c->w[i].replicas)
				continue;  /* a claim of an ordinal scaled away mounts nothing */
			snprintf(pod, cap, "%s-%lld", sts, ord);
			*w = &c->w[i];
			return 1;
		}
	}
	return 0;
}

static void predict_volume_zones(struct cstate *c)
{
	json_t *pvcs, *pvs = NULL, *o;
	size_t i;

	if (!(pvcs = kube_predict_live(c->p, KUBE_LIVE_PVCS, R_VOLZONE)))
		return;
	json_array_foreach(pvcs, i, o) {
		const char *name = kube_jstr(json_object_get(o, "metadata"), "name");
		const char *vol = kube_jstr(json_object_get(o, "spec"), "volumeName");
		int chi = *kube_jstr(json_object_get(json_object_get(o, "metadata"), "labels"),
				     "clickhouse.altinity.com/chi");
		char pod[300], objkey[400], *zl = NULL, *nl = NULL;
		size_t zlen = 0, nlen = 0;
		struct wl *w = NULL;
		json_t *zones, *z;
		FILE *fz, *fn;
		size_t k;
		int ok = 0;
		if (!*vol || !(claim_pod(c, name, pod, sizeof pod, &w) || chi))
			continue;
		if (!w)
			snprintf(pod, sizeof pod, "the ClickHouse pod that mounts it");
		if (!pvs && !(pvs = kube_predict_live(c->p, KUBE_LIVE_PVS, R_VOLZONE)))
			return;
		if (read_nodes(c, R_VOLZONE) < 0)
			return;
		zones = json_array();
		pv_zones(find_named(pvs, vol), zones);
		if (!json_array_size(zones)) {
			json_decref(zones);
			continue;  /* a volume any node can reach */
		}
		fz = open_memstream(&zl, &zlen);
		fn = open_memstream(&nl, &nlen);
		json_array_foreach(zones, k, z) {
			if (fz)
				fprintf(fz, "%s%s", k ? ", " : "", json_string_value(z) ?
					json_string_value(z) : "?");
			for (size_t n = 0; n < c->nn; n++) {
				char why[300];
				if (!json_is_string(z) || strcmp(c->n[n].zone, json_string_value(z)))
					continue;
				why_not(&c->n[n], w ? w->pod : NULL, why, sizeof why);
				if (!*why)
					ok = 1;
				else if (fn)
					fprintf(fn, "; node %s is %s", c->n[n].name, why);
			}
		}
		if (fz)
			fclose(fz);
		if (fn)
			fclose(fn);
		snprintf(objkey, sizeof objkey, "PersistentVolumeClaim/%s", name);
		if (!ok)
			phd_validation_report(c->p->v, R_VOLZONE, PHD_SEV_ERROR, objkey, NULL, NULL,
					      "helm --wait will time out: %s stays Pending: its volume %s "
					      "is in zone %s, where no node can take the pod%s; fix: %s "
					      "schedulable node in zone %s (a volume does not move between "
					      "zones)", pod, vol, zl ? zl : "?", nl && *nl ? nl : " (none "
					      "there)", nl && *nl ? "make a node above schedulable again, or add a"
					      : "add a", zl ? zl : "?");
		free(zl);
		free(nl);
		json_decref(zones);
	}
}

/* ---- entry ----------------------------------------------------------------- */

void kube_predict_cluster(struct kube_predict *p)
{
	struct cstate c = { .p = p };

	kube_predict_workloads(p, add_workload, &c);
	if (!kube_predict_off(p, R_ZONES))
		predict_zones(&c);
	if (!kube_predict_off(p, R_CAPACITY) || !kube_predict_off(p, R_ZONES))
		predict_capacity(&c);
	if (!kube_predict_off(p, R_CLASS) || !kube_predict_off(p, R_BINDING))
		predict_storage(&c);
	if (!kube_predict_off(p, R_VOLZONE))
		predict_volume_zones(&c);
	for (size_t i = 0; i < c.nw; i++)
		json_decref(c.w[i].one);
	free(c.w);
	free(c.n);
}
