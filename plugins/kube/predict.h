/* kube plugin: what helm's --wait will fail on, predicted at render from
 * the post-rendered manifests and the live cluster, before anything is
 * applied.  predict.c reads the cluster once per run (each list on first
 * use) and runs every predictor; predict-cluster.c (zones, capacity,
 * storage) and predict-objects.c (jobs, immutable fields, quota) report. */
#ifndef PHD_KUBE_PREDICT_H
#define PHD_KUBE_PREDICT_H

#include <stddef.h>

#include <jansson.h>

#include "kube.h"
#include "quantity.h"

/* ---- quantities (quantity.c; a JSON number or string: sched.c) -------- */

/* In thousandths of the unit, so cpu and memory share one integer form:
 * cpu "500m" is 500, memory "1Ki" is 1024000 (kube_quantity_milli). */
int kube_quantity_json(json_t *v, long long *out);

/* a + b and a * b held at the limits of a long long instead of
 * overflowing: a manifest may ask for absurd quantities. */
long long kube_sat_add(long long a, long long b);
long long kube_sat_mul(long long a, long long b);

/* What a pod asks the scheduler for, in milli-units (kube_quantity_milli):
 * the containers' requests summed, at least the largest init container's,
 * plus spec.overhead; a limit stands in for a request that is not set, as
 * the API server defaults it. */
struct kube_res {
	long long cpu, mem;
};
void kube_pod_requests(json_t *podspec, struct kube_res *r);

/* ---- nodes (sched.c) -------------------------------------------------- */

/* The zone label of a node (topology.kubernetes.io/zone, else the beta
 * failure-domain label), borrowed; NULL when it has none. */
const char *kube_node_zone(json_t *node);
/* Ready and not cordoned: a node new pods may go to (taints apart). */
int kube_node_ready(json_t *node);
/* Whether a pod (its spec) tolerates every NoSchedule/NoExecute taint of
 * node; podspec NULL tolerates nothing. */
int kube_node_tolerates(json_t *node, json_t *podspec);
/* Whether one taint of a node leaves the pod free to go there. */
int kube_taint_tolerated(json_t *taint, json_t *podspec);

/* Whether a label selector ({matchLabels, matchExpressions}) selects
 * labels; an empty selector selects everything, NULL nothing. */
int kube_selector_matches(json_t *selector, json_t *labels);
/* Whether the pod's nodeSelector and required node affinity admit node. */
int kube_node_admits(json_t *node, json_t *podspec);

/* ---- the run's cluster snapshot (predict.c) --------------------------- */

enum kube_live_set {
	KUBE_LIVE_NODES = 0,
	KUBE_LIVE_PODS,             /* every namespace's pods that have not ended */
	KUBE_LIVE_STORAGECLASSES,
	KUBE_LIVE_PVCS,             /* the release namespace's claims */
	KUBE_LIVE_PVS,
	KUBE_LIVE_COUNT
};

struct kube_predict {
	phd_validation *v;
	phd_ctx *ctx;
	const struct kube_conf *cf;
	const char *release, *ns;
	json_t *rendered;               /* the post-rendered objects (array), hooks included */
	json_t *live[KUBE_LIVE_COUNT];  /* `kubectl get -o json` items, read on first use */
	int tried[KUBE_LIVE_COUNT];
	char *why[KUBE_LIVE_COUNT];     /* why a set could not be read */
	int unread;                     /* some set could not be read */
};

/* The items of set (a JSON array, borrowed until the run's validator
 * returns), read with one `kubectl get` on first use.  NULL when the
 * cluster could not be read: then rule gets a warn finding "could not
 * predict" naming the command and kubectl's answer (a prediction that
 * cannot be made is not a failure: the deploy itself will say more). */
json_t *kube_predict_live(struct kube_predict *p, enum kube_live_set set, const char *rule);
/* Whether `rules: {rule: off}` switched rule off (then it reads nothing). */
int kube_predict_off(struct kube_predict *p, const char *rule);
/* rules: {rule: off} in the configuration */
int kube_rule_off(phd_ctx *ctx, const char *rule);
/* Whether this run reaches the cluster (deploy, plan, diff, --dry-run):
 * a plain render stays offline. */
int kube_predicting(phd_ctx *ctx);

/* The Deployments and StatefulSets of the render (no hooks), borrowed. */
typedef void (*kube_workload_fn)(struct kube_predict *p, json_t *obj, void *payload);
void kube_predict_workloads(struct kube_predict *p, kube_workload_fn fn, void *payload);
/* spec.replicas of a workload (1 when unset, as the API server defaults). */
long long kube_replicas(json_t *obj);

/* ---- predictors -------------------------------------------------------- */

/* Each predictor reports its own rules through p->v and changes nothing;
 * its _rules function declares them (phd_plugin_declare_rule).  predict.c
 * lists the pairs in one table: add a line there for a new predictor. */
int kube_predict_cluster_rules(phd_plugin *plugin);  /* predict-cluster.c */
void kube_predict_cluster(struct kube_predict *p);

/* Every predictor's rules, and the RENDER-phase validator `predict` that
 * runs them (kube.c registers both): in plan, deploy, diff and --dry-run,
 * never in a plain `render`, which stays offline. */
int kube_predict_declare(phd_plugin *plugin);
int kube_predict_validator(phd_validation *v, void *userdata);

#endif
