/* The --wait predictions' shared part: quantities, pod requests, nodes,
 * and the run's cluster snapshot, read with kubectl get (nothing else) on
 * first use, then the RENDER-phase validator that runs every predictor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "objdiff.h"
#include "predict.h"

/* ---- the cluster snapshot ---------------------------------------------- */

static const struct {
	const char *what, *resource;
	int namespaced, all_namespaces;
} sets[KUBE_LIVE_COUNT] = {
	[KUBE_LIVE_NODES] = { "nodes", "nodes", 0, 0 },
	[KUBE_LIVE_PODS] = { "pods", "pods", 0, 1 },
	[KUBE_LIVE_STORAGECLASSES] = { "storage classes", "storageclasses.storage.k8s.io", 0, 0 },
	[KUBE_LIVE_PVCS] = { "persistent volume claims", "persistentvolumeclaims", 1, 0 },
	[KUBE_LIVE_PVS] = { "persistent volumes", "persistentvolumes", 0, 0 },
	[KUBE_LIVE_NS_PODS] = { "pods", "pods", 1, 0 },
	[KUBE_LIVE_JOBS] = { "jobs", "jobs.v1.batch", 1, 0 },
	[KUBE_LIVE_QUOTAS] = { "resource quotas", "resourcequotas", 1, 0 },
	[KUBE_LIVE_LIMITRANGES] = { "limit ranges", "limitranges", 1, 0 },
};

int kube_rule_off(phd_ctx *ctx, const char *rule)
{
	const phd_node *rules = phd_node_get(phd_ctx_config(ctx), "rules");
	const char *s = NULL;

	for (size_t i = 0; i < phd_node_len(rules); i++)
		if (phd_node_key_at(rules, i) && !strcmp(phd_node_key_at(rules, i), rule))
			s = phd_node_str(phd_node_at(rules, i));
	return s && !strcmp(s, "off");
}

static void warn_unread(struct kube_predict *p, const char *rule, const char *why)
{
	phd_validation_report(p->v, rule, PHD_SEV_WARN, "cluster", NULL, NULL,
			      "could not predict what --wait will fail on: %s",
			      why ? why : "the cluster could not be read");
}

void kube_predict_unread(struct kube_predict *p, const char *rule, int rc)
{
	p->unread = 1;
	if (p->unreachable)
		return;
	/* kube_fail's message quotes kubectl's stderr */
	if (kube_unreachable(rc, phd_ctx_errmsg(p->ctx), strlen(phd_ctx_errmsg(p->ctx))))
		p->unreachable = strdup(phd_ctx_errmsg(p->ctx));
	warn_unread(p, rule, phd_ctx_errmsg(p->ctx));
}

/* The release namespace's pods cut out of every namespace's, when those
 * were read: a namespace-scoped deployer can read only its own. */
static json_t *ns_pods(struct kube_predict *p)
{
	json_t *all = p->live[KUBE_LIVE_PODS], *out, *o;
	size_t i;

	if (!all || !(out = json_array()))
		return NULL;
	json_array_foreach(all, i, o)
		if (!strcmp(kube_jstr(json_object_get(o, "metadata"), "namespace"), p->ns))
			json_array_append(out, o);
	return out;
}

json_t *kube_predict_live(struct kube_predict *p, enum kube_live_set set, const char *rule)
{
	struct kube_argv a;
	struct phd_exec_result res;
	json_t *list;
	int rc;

	if (set == KUBE_LIVE_NODES && !p->cf->read_nodes)
		return NULL;  /* kube.nodes: false, said once by the validator */
	if (p->tried[set] || p->unreachable) {
		/* a list the server refused: each rule that needs it says so */
		if (!p->live[set] && !p->unreachable)
			warn_unread(p, rule, p->why[set]);
		return p->live[set];
	}
	p->tried[set] = 1;
	if (set == KUBE_LIVE_NS_PODS && (p->live[set] = ns_pods(p)))
		return p->live[set];
	kube_argv_init(&a, p->ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, sets[set].resource);
	if (sets[set].namespaced) {
		kube_argv_add(&a, "-n");
		kube_argv_add(&a, p->ns);
	} else if (sets[set].all_namespaces) {
		kube_argv_add(&a, "--all-namespaces");
	}
	/* pods that ended hold nothing: the server leaves them out */
	if (set == KUBE_LIVE_PODS || set == KUBE_LIVE_NS_PODS)
		kube_argv_add(&a, "--field-selector=status.phase!=Succeeded,status.phase!=Failed");
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, "json");
	rc = kube_run(p->ctx, p->cf, &a, NULL, 0, 0, &res);
	if (rc < 0 || res.exit_code != 0) {
		char what[80];
		snprintf(what, sizeof what, "cannot read the %s", sets[set].what);
		if (rc == 0)
			kube_fail(p->ctx, PHD_EUNREACHABLE, &a, &res, what);
		if (kube_unreachable(rc, res.err, res.err_len))
			p->unreachable = strdup(phd_ctx_errmsg(p->ctx));
	} else {
		list = json_loadb(res.out ? res.out : "", res.out_len, 0, NULL);
		if (json_is_array(json_object_get(list, "items")))
			p->live[set] = json_incref(json_object_get(list, "items"));
		else
			phd_set_error(p->ctx, PHD_EPLUGIN, "kube: `kubectl get %s` answered no List",
				      sets[set].resource);
		json_decref(list);
	}
	if (!p->live[set]) {
		p->unread = 1;
		free(p->why[set]);
		p->why[set] = strdup(phd_ctx_errmsg(p->ctx));
		/* when no API server answered, this first rule says it for all */
		warn_unread(p, rule, p->why[set]);
	}
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
	return p->live[set];
}

long long kube_replicas(json_t *obj)
{
	json_t *r = json_object_get(json_object_get(obj, "spec"), "replicas");

	return json_is_integer(r) ? (long long)json_integer_value(r) : 1;
}

void kube_predict_workloads(struct kube_predict *p, kube_workload_fn fn, void *payload)
{
	json_t *o;
	size_t i;

	json_array_foreach(p->rendered, i, o) {
		const char *kind = kube_jstr(o, "kind");
		if (strcmp(kind, "Deployment") && strcmp(kind, "StatefulSet"))
			continue;
		if (*kube_jstr(json_object_get(json_object_get(o, "metadata"), "annotations"),
			       "helm.sh/hook"))
			continue;
		fn(p, o, payload);
	}
}

/* ---- the validator ------------------------------------------------------ */

/* Every --wait prediction: its rule, and the predictor that reports it (a
 * predictor on several lines runs once, when one of its rules is on).
 * nodes: the rule needs the node objects, so kube.nodes: false skips it. */
static const struct {
	const char *rule;
	int sev;
	const char *what;
	kube_predictor_fn run;
	int nodes;
} predictions[] = {
	{ KUBE_R_ZONES, PHD_SEV_ERROR, "--wait: schedulable nodes in fewer zones than the HA "
	  "layout needs, or than a required zone spread asks", kube_predict_cluster, 1 },
	{ KUBE_R_CAPACITY, PHD_SEV_ERROR, "--wait: pods (replicas + rollout surge) that the "
	  "capacity left per zone cannot take", kube_predict_cluster, 1 },
	{ KUBE_R_CLASS, PHD_SEV_ERROR, "--wait: a volume claim naming a StorageClass that does "
	  "not exist, or none with no default", kube_predict_cluster, 0 },
	{ KUBE_R_BINDING, PHD_SEV_WARN, "--wait: a StorageClass binding volumes before the pod "
	  "is placed on a multi-zone cluster", kube_predict_cluster, 1 },
	{ KUBE_R_VOLZONE, PHD_SEV_ERROR, "--wait: a StatefulSet volume bound in a zone with no "
	  "schedulable node", kube_predict_cluster, 1 },
	{ KUBE_R_FAILED_JOB, PHD_SEV_ERROR, "a failed Job of the release (the migrate Job) left "
	  "in the namespace", kube_predict_failed_job, 0 },
	{ KUBE_R_IMMUTABLE, PHD_SEV_ERROR, "the render changes a field the API server refuses "
	  "to update", kube_predict_immutable, 0 },
	{ KUBE_R_QUOTA, PHD_SEV_ERROR, "the release's pods exceed a ResourceQuota of the "
	  "namespace", kube_predict_quota, 0 },
	{ KUBE_R_LIMIT_RANGE, PHD_SEV_ERROR, "a container or pod outside a LimitRange of the "
	  "namespace", kube_predict_limit_range, 0 },
};
#define NPREDICTIONS (sizeof predictions / sizeof predictions[0])

int kube_predict_declare(phd_plugin *plugin)
{
	int rc = 0;

	for (size_t i = 0; rc >= 0 && i < NPREDICTIONS; i++)
		rc = phd_plugin_declare_rule(plugin, predictions[i].rule, predictions[i].sev,
					     predictions[i].what);
	return rc;
}

int kube_predict_off(struct kube_predict *p, const char *rule)
{
	for (size_t i = 0; i < NPREDICTIONS; i++)
		if (!strcmp(predictions[i].rule, rule) && predictions[i].nodes &&
		    !p->cf->read_nodes)
			return 1;
	return kube_rule_off(p->ctx, rule);
}

/* Whether this run goes on to the cluster: deploy and plan reach the
 * deploy phase, diff and --dry-run compare with it.  A plain `render` is
 * an offline `helm template` and must stay one. */
int kube_predicting(phd_ctx *ctx)
{
	return phd_ctx_dry_run(ctx) ||
	       (phd_ctx_run_phases(ctx) & PHD_PHASE_BIT(PHD_PHASE_DEPLOY)) != 0;
}

/* kube.nodes: false: one note naming the rules left out, and why (a
 * warning: the user would otherwise take their silence for a pass). */
static void note_no_nodes(struct kube_predict *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if (p->cf->read_nodes || !(f = open_memstream(&buf, &len)))
		return;
	for (size_t i = 0; i < NPREDICTIONS; i++)
		if (predictions[i].nodes && !kube_rule_off(p->ctx, predictions[i].rule))
			fprintf(f, "%s%s", ftell(f) ? ", " : "", predictions[i].rule);
	if (fclose(f) == 0 && *buf)
		phd_log(p->ctx, PHD_LOG_WARN, "kube: %s: not predicted: kube.nodes is false, and "
			"these predictions need the nodes (their zones, capacity and taints)", buf);
	free(buf);
}

int kube_predict_validator(phd_validation *v, void *userdata)
{
	struct kube_predict p = { .v = v, .cf = userdata };
	kube_predictor_fn ran[NPREDICTIONS];
	size_t nran = 0;
	const char *text;
	char err[256];
	size_t len;

	p.ctx = phd_validation_ctx(v);
	if (!kube_predicting(p.ctx))
		return 0;
	p.release = phd_ctx_release(p.ctx);
	p.ns = phd_ctx_namespace(p.ctx);
	text = phd_rendered(p.ctx, &len);
	if (!p.release || !p.ns || !text)
		return 0;
	if (!(p.rendered = kube_yaml_objects(text, len, err, sizeof err)))
		return phd_set_error(p.ctx, PHD_EPLUGIN, "kube: predict: cannot read the rendered "
				     "manifests: %s", err);
	note_no_nodes(&p);
	for (size_t i = 0; i < NPREDICTIONS; i++) {
		size_t k = 0;
		if (kube_predict_off(&p, predictions[i].rule))
			continue;
		while (k < nran && ran[k] != predictions[i].run)
			k++;
		if (k < nran)
			continue;
		ran[nran++] = predictions[i].run;
		predictions[i].run(&p);
	}
	for (int s = 0; s < KUBE_LIVE_COUNT; s++) {
		json_decref(p.live[s]);
		free(p.why[s]);
	}
	free(p.unreachable);
	json_decref(p.rendered);
	return 0;
}
