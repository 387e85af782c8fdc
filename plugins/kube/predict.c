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

int kube_predict_off(struct kube_predict *p, const char *rule)
{
	return kube_rule_off(p->ctx, rule);
}

json_t *kube_predict_live(struct kube_predict *p, enum kube_live_set set, const char *rule)
{
	struct kube_argv a;
	struct phd_exec_result res;
	json_t *list;
	int rc;

	if (p->tried[set])
		goto out;
	p->tried[set] = 1;
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
	if (set == KUBE_LIVE_PODS)
		kube_argv_add(&a, "--field-selector=status.phase!=Succeeded,status.phase!=Failed");
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, "json");
	rc = kube_run(p->ctx, p->cf, &a, NULL, 0, 0, &res);
	if (rc == 0 && res.exit_code != 0) {
		char what[80];
		snprintf(what, sizeof what, "cannot read the %s", sets[set].what);
		rc = kube_fail(p->ctx, PHD_EUNREACHABLE, &a, &res, what);
	}
	if (rc == 0) {
		list = json_loadb(res.out ? res.out : "", res.out_len, 0, NULL);
		if (json_is_array(json_object_get(list, "items")))
			p->live[set] = json_incref(json_object_get(list, "items"));
		else
			phd_set_error(p->ctx, PHD_EPLUGIN, "kube: `kubectl get %s` answered no List",
				      sets[set].resource);
		json_decref(list);
	}
	if (!p->live[set]) {
		/* kept for every rule that needs this set: each says it could not predict */
		p->unread = 1;
		free(p->why[set]);
		p->why[set] = strdup(phd_ctx_errmsg(p->ctx));
	}
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
out:
	if (!p->live[set])
		phd_validation_report(p->v, rule, PHD_SEV_WARN, "cluster", NULL, NULL,
				      "could not predict what --wait will fail on: %s",
				      p->why[set] ? p->why[set] : "the cluster could not be read");
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

static const struct {
	int (*declare)(phd_plugin *plugin);
	void (*run)(struct kube_predict *p);
} predictors[] = {
	{ kube_predict_cluster_rules, kube_predict_cluster },
};

int kube_predict_declare(phd_plugin *plugin)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < sizeof predictors / sizeof predictors[0]; i++)
		rc = predictors[i].declare(plugin);
	return rc;
}

/* Whether this run goes on to the cluster: deploy and plan reach the
 * deploy phase, diff and --dry-run compare with it.  A plain `render` is
 * an offline `helm template` and must stay one. */
int kube_predicting(phd_ctx *ctx)
{
	return phd_ctx_dry_run(ctx) ||
	       (phd_ctx_run_phases(ctx) & PHD_PHASE_BIT(PHD_PHASE_DEPLOY)) != 0;
}

int kube_predict_validator(phd_validation *v, void *userdata)
{
	struct kube_predict p = { .v = v, .cf = userdata };
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
	for (size_t i = 0; i < sizeof predictors / sizeof predictors[0]; i++)
		predictors[i].run(&p);
	for (int s = 0; s < KUBE_LIVE_COUNT; s++) {
		json_decref(p.live[s]);
		free(p.why[s]);
	}
	json_decref(p.rendered);
	return 0;
}
