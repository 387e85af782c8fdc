/* kube plugin: what helm's --wait will fail on, predicted at render from
 * the post-rendered manifests and the live cluster, before anything is
 * applied.  predict.c reads the cluster once per run (each list on first
 * use) and runs every predictor of its one table; predict-cluster.c
 * (zones, capacity, storage) and predict-objects.c (jobs, immutable
 * fields, quota) report. */
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
	KUBE_LIVE_NS_PODS,          /* the release namespace's pods that have not ended */
	KUBE_LIVE_JOBS,             /* the release namespace's Jobs, */
	KUBE_LIVE_QUOTAS,           /* ResourceQuotas */
	KUBE_LIVE_LIMITRANGES,      /* and LimitRanges */
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
	char *unreachable;              /* why no API server answered: nothing more is read */
};

/* The items of set (a JSON array, borrowed until the run's validator
 * returns), read with one `kubectl get` on first use.  NULL when the
 * cluster could not be read: then rule gets a warn finding "could not
 * predict" naming the command and kubectl's answer (a prediction that
 * cannot be made is not a failure: the deploy itself will say more).
 * When no API server answered at all (no such context, no connection, no
 * answer within kube.timeout) that finding is made once, and every later
 * read gives NULL at once instead of waiting out its own deadline.  The
 * nodes under kube.nodes: false: NULL, nothing read or reported. */
json_t *kube_predict_live(struct kube_predict *p, enum kube_live_set set, const char *rule);
/* The rule's cluster unread for the reason the context's error holds
 * (kube_live_objects and the like): rule gets the same warning, once, and
 * when no API server answered, nothing more is read. */
void kube_predict_unread(struct kube_predict *p, const char *rule, int rc);
/* Whether rule is not predicted in this run: switched off in `rules:`
 * (then it reads nothing), or it needs the nodes and kube.nodes is false. */
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

/* ---- fields the API server refuses to update (immutable.c) ------------ */

/* Whether o is of a kind whose update the API server refuses in part
 * (Deployment, StatefulSet, DaemonSet, Job, Service, PersistentVolumeClaim). */
int kube_immutable_kind(json_t *o);
/* What the API server refuses in updating live to want (one object, both
 * of one kind and name): "PATH: live X, new Y" parts, "; "-separated
 * (malloc'd), or NULL when it takes the update. */
char *kube_immutable_refused(json_t *want, json_t *live);
/* How to get past a refused update of want (in namespace ns), into fix. */
void kube_immutable_fix(json_t *want, const char *ns, char *fix, size_t cap);
/* A claim spec's resources.requests.storage (borrowed), or NULL. */
json_t *kube_claim_storage(json_t *spec);

/* ---- predictors -------------------------------------------------------- */

/* The rules each predictor reports (predict.c lists them all in one table,
 * with what each needs: add a line there for a new rule). */
#define KUBE_R_ZONES "wait-zones"
#define KUBE_R_CAPACITY "wait-capacity"
#define KUBE_R_CLASS "wait-storage-class"
#define KUBE_R_BINDING "wait-volume-binding"
#define KUBE_R_VOLZONE "wait-volume-zone"
#define KUBE_R_FAILED_JOB "wait-failed-job"
#define KUBE_R_IMMUTABLE "wait-immutable"
#define KUBE_R_QUOTA "wait-quota"
#define KUBE_R_LIMIT_RANGE "wait-limit-range"

/* Each predictor reports its rules through p->v and changes nothing; one
 * that reports several rules runs once, when one of them is on, and asks
 * kube_predict_off for each. */
typedef void (*kube_predictor_fn)(struct kube_predict *p);
void kube_predict_cluster(struct kube_predict *p);       /* predict-cluster.c: */
							  /* zones, capacity, storage */
void kube_predict_failed_job(struct kube_predict *p);    /* predict-objects.c */
void kube_predict_immutable(struct kube_predict *p);
void kube_predict_quota(struct kube_predict *p);
void kube_predict_limit_range(struct kube_predict *p);

/* Every prediction's rule (phd_plugin_declare_rule), and the RENDER-phase
 * validator `predict` that runs them (kube.c registers both): in plan,
 * deploy, diff and --dry-run, never in a plain `render`, which stays
 * offline. */
int kube_predict_declare(phd_plugin *plugin);
int kube_predict_validator(phd_validation *v, void *userdata);

#endif
