/* What the scheduler computes, as the --wait predictions need it:
 * resource quantities, what a pod asks for, which nodes it may go to
 * (readiness, taints, node selectors).  Kept apart from kubectl so that a
 * unit test links it alone (tests/plugins/kube-predict-t.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict.h"

/* obj[key] when a string, else "" (objdiff.c has kube_jstr; this file
 * links alone) */
static const char *str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* ---- quantities --------------------------------------------------------- */

long long kube_sat_add(long long a, long long b)
{
	long long r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? __LONG_LONG_MAX__ : -__LONG_LONG_MAX__ - 1;
	return r;
}

long long kube_sat_mul(long long a, long long b)
{
	long long r;

	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? -__LONG_LONG_MAX__ - 1 : __LONG_LONG_MAX__;
	return r;
}

int kube_quantity_json(json_t *v, long long *out)
{
	char buf[64];

	if (json_is_string(v))
		return kube_quantity_milli(json_string_value(v), out);
	if (json_is_integer(v))
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof buf, "%.9g", json_real_value(v));
	else
		return -1;
	return kube_quantity_milli(buf, out);
}

/* One container's request for a resource: the request, else the limit
 * (the API server copies a limit into an unset request). */
static long long container_req(json_t *c, const char *res)
{
	json_t *r = json_object_get(c, "resources");
	json_t *v = json_object_get(json_object_get(r, "requests"), res);
	long long q = 0;

	if (!v)
		v = json_object_get(json_object_get(r, "limits"), res);
	if (v && kube_quantity_json(v, &q) < 0)
		q = 0;
	return q < 0 ? 0 : q;
}

void kube_pod_requests(json_t *podspec, struct kube_res *r)
{
	static const char *const res[2] = { "cpu", "memory" };
	long long sum[2] = { 0, 0 }, init[2] = { 0, 0 };
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(podspec, "containers"), i, c)
		for (int k = 0; k < 2; k++)
			sum[k] = kube_sat_add(sum[k], container_req(c, res[k]));
	json_array_foreach(json_object_get(podspec, "initContainers"), i, c)
		for (int k = 0; k < 2; k++) {
			long long q = container_req(c, res[k]);
			/* a sidecar (restartPolicy Always) runs beside the containers */
			if (!strcmp(str(c, "restartPolicy"), "Always"))
				sum[k] = kube_sat_add(sum[k], q);
			else if (q > init[k])
				init[k] = q;
		}
	for (int k = 0; k < 2; k++) {
		long long o = 0;
		json_t *ov = json_object_get(json_object_get(podspec, "overhead"), res[k]);
		if (ov && kube_quantity_json(ov, &o) == 0 && o > 0)
			sum[k] = kube_sat_add(sum[k], o);
		if (init[k] > sum[k])
			sum[k] = init[k];
	}
	r->cpu = sum[0];
	r->mem = sum[1];
}

/* ---- nodes -------------------------------------------------------------- */

const char *kube_node_zone(json_t *node)
{
	json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	const char *z = str(labels, "topology.kubernetes.io/zone");

	if (!*z)
		z = str(labels, "failure-domain.beta.kubernetes.io/zone");
	return *z ? z : NULL;
}

int kube_node_ready(json_t *node)
{
	json_t *spec = json_object_get(node, "spec"), *c;
	size_t i;

	if (json_is_true(json_object_get(spec, "unschedulable")))
		return 0;
	json_array_foreach(json_object_get(json_object_get(node, "status"), "conditions"), i, c)
		if (!strcmp(str(c, "type"), "Ready"))
			return !strcmp(str(c, "status"), "True");
	return 0;
}

static int toleration_matches(json_t *tol, json_t *taint)
{
	const char *key = str(tol, "key"), *op = str(tol, "operator");
	const char *eff = str(tol, "effect");

	if (*eff && strcmp(eff, str(taint, "effect")))
		return 0;
	if (!*key)  /* an empty key with Exists tolerates every taint */
		return !strcmp(op, "Exists");
	if (strcmp(key, str(taint, "key")))
		return 0;
	return !strcmp(op, "Exists") || !strcmp(str(tol, "value"), str(taint, "value"));
}

int kube_taint_tolerated(json_t *taint, json_t *podspec)
{
	const char *eff = str(taint, "effect");
	json_t *tol;
	size_t j;

	if (strcmp(eff, "NoSchedule") && strcmp(eff, "NoExecute"))
		return 1;  /* PreferNoSchedule only steers */
	json_array_foreach(json_object_get(podspec, "tolerations"), j, tol)
		if (toleration_matches(tol, taint))
			return 1;
	return 0;
}

int kube_node_tolerates(json_t *node, json_t *podspec)
{
	json_t *taint;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(node, "spec"), "taints"), i, taint)
		if (!kube_taint_tolerated(taint, podspec))
			return 0;
	return 1;
}

/* One matchExpressions / nodeSelectorTerms requirement against labels. */
static int requirement_met(json_t *req, json_t *labels)
{
	const char *op = str(req, "operator");
	json_t *have = json_object_get(labels, str(req, "key")), *v;
	const char *hv = json_string_value(have);
	int in = 0;
	size_t i;

	json_array_foreach(json_object_get(req, "values"), i, v)
		in |= hv && json_is_string(v) && !strcmp(json_string_value(v), hv);
	if (!strcmp(op, "In"))
		return in;
	if (!strcmp(op, "NotIn"))
		return !in;
	if (!strcmp(op, "Exists"))
		return have != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return have == NULL;
	return 0;  /* Gt/Lt and unknown operators: not taken as met */
}

int kube_selector_matches(json_t *selector, json_t *labels)
{
	const char *k;
	json_t *v, *req;
	size_t i;

	if (!json_is_object(selector))
		return 0;
	json_object_foreach(json_object_get(selector, "matchLabels"), k, v)
		if (!json_is_string(v) || strcmp(str(labels, k), json_string_value(v)) ||
		    !json_object_get(labels, k))
			return 0;
	json_array_foreach(json_object_get(selector, "matchExpressions"), i, req)
		if (!requirement_met(req, labels))
			return 0;
	return 1;
}

int kube_node_admits(json_t *node, json_t *podspec)
{
	json_t *labels = json_object_get(json_object_get(node, "metadata"), "labels");
	json_t *na = json_object_get(json_object_get(podspec, "affinity"), "nodeAffinity");
	json_t *terms = json_object_get(json_object_get(na,
		"requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
	json_t *v, *term, *req;
	const char *k;
	size_t i, j;
	int any = 0;

	json_object_foreach(json_object_get(podspec, "nodeSelector"), k, v)
		if (!json_is_string(v) || strcmp(str(labels, k), json_string_value(v)) ||
		    !json_object_get(labels, k))
			return 0;
	/* terms are ORed, a term's expressions ANDed */
	json_array_foreach(terms, i, term) {
		int all = 1;
		json_array_foreach(json_object_get(term, "matchExpressions"), j, req)
			all &= requirement_met(req, labels);
		any |= all;
	}
	return json_array_size(terms) == 0 || any;
}
