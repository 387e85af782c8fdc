/* VERIFY phase: read the release's live workloads, autoscalers, disruption
 * budgets, pods and the nodes, and hand them to the core's validators. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube.h"

/* One call for the namespace: label selectors cannot say "a or b", and the
 * chart's objects carry different labels (posthog's pods `release=R`, its
 * workloads `app.kubernetes.io/instance=R`, the bitnami postgresql chart
 * only `release=R`, the ClickHouse operator's `clickhouse.altinity.com/chi`),
 * so membership is decided here instead. */
#define KUBE_VERIFY_KINDS "deployments,statefulsets,horizontalpodautoscalers,poddisruptionbudgets,pods"
/* The chart names its ClickHouseInstallation "posthog" whatever the release. */
#define KUBE_CHI_NAME "posthog"

#define KUBE_VERIFY_UNKNOWN \
	"cannot read live objects, the release's state is unknown (nothing is rolled back)"

static const char *jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

static int is_member(json_t *item, const char *release)
{
	json_t *md = json_object_get(item, "metadata");
	json_t *ann = json_object_get(md, "annotations");
	json_t *lab = json_object_get(md, "labels");

	return !strcmp(jstr(ann, "meta.helm.sh/release-name"), release) ||
	       !strcmp(jstr(lab, "app.kubernetes.io/instance"), release) ||
	       !strcmp(jstr(lab, "release"), release) ||
	       !strcmp(jstr(lab, "clickhouse.altinity.com/chi"), KUBE_CHI_NAME);
}

/* A pod whose owner is a kept StatefulSet, or a ReplicaSet of a kept
 * Deployment (named <deployment>-<pod-template-hash>). */
int kube_owned_pod(json_t *pod, json_t *kept)
{
	json_t *md = json_object_get(pod, "metadata");
	const char *hash = jstr(json_object_get(md, "labels"), "pod-template-hash");
	json_t *owners = json_object_get(md, "ownerReferences");
	size_t i, j;
	json_t *o, *k;

	json_array_foreach(owners, i, o) {
		const char *okind = jstr(o, "kind"), *oname = jstr(o, "name");
		json_array_foreach(kept, j, k) {
			const char *kkind = jstr(k, "kind");
			const char *kname = jstr(json_object_get(k, "metadata"), "name");
			size_t kl = strlen(kname);
			if (!strcmp(okind, "StatefulSet") && !strcmp(kkind, "StatefulSet") &&
			    !strcmp(oname, kname))
				return 1;
			if (!strcmp(okind, "ReplicaSet") && !strcmp(kkind, "Deployment") && *hash &&
			    !strncmp(oname, kname, kl) && oname[kl] == '-' &&
			    !strcmp(oname + kl + 1, hash))
				return 1;
		}
	}
	return 0;
}

/* kubectl get ... -o json into *out.  Whatever keeps the live state from
 * being read is PHD_EUNREACHABLE: the state is unknown, and the core rolls
 * nothing back for it (a deadline passed included: PHD_ETIMEOUT would be a
 * failed verify, and a deploy that may have gone through rolled back).
 * *unreachable when no API server answered (kube_unreachable): another
 * call would fail alike. */
static int get_json(phd_ctx *ctx, const struct kube_conf *cf, struct kube_argv *a,
		    const char *what, json_t **out, char **line, int *unreachable)
{
	struct phd_exec_result res;
	json_error_t jerr;
	char buf[256];
	int rc;

	*out = NULL;
	memset(&jerr, 0, sizeof(jerr));
	*line = kube_argv_line(a);
	rc = kube_run(ctx, cf, a, NULL, 0, 0, &res);
	*unreachable = rc != 0 || res.exit_code != 0 ? kube_unreachable(rc, res.err, res.err_len)
		       : 0;
	if (*unreachable) {
		/* the operator's next step differs: the context, not the RBAC */
		snprintf(buf, sizeof buf, "the cluster is unreachable (no API server answered, "
			 "or it refused the credentials): %s", what);
		what = buf;
	}
	if (rc == 0 && res.exit_code != 0) {
		rc = kube_fail(ctx, PHD_EUNREACHABLE, a, &res, what);
	} else if (rc == PHD_ETIMEOUT || rc == PHD_ENOTFOUND) {
		char *why = strdup(phd_ctx_errmsg(ctx));
		rc = phd_set_error(ctx, PHD_EUNREACHABLE, "kube: %s: %s", what,
				   why ? why + (strncmp(why, "kube: ", 6) ? 0 : 6) : "kubectl failed");
		free(why);
	}
	if (rc == 0) {
		*out = json_loadb(res.out ? res.out : "", res.out_len, 0, &jerr);
		if (!*out || !json_is_array(json_object_get(*out, "items")))
			rc = phd_set_error(ctx, PHD_EPLUGIN, "kube: `%s` answered something that "
					   "is not a List (line %d: %s)", *line ? *line : "kubectl",
					   jerr.line, *out ? "no items" : jerr.text);
	}
	if (rc < 0 && *out) {
		json_decref(*out);
		*out = NULL;
	}
	phd_exec_result_clear(&res);
	return rc;
}

/* Keep the release's objects of list in kept: workloads first, so that
 * the pods can be matched to their owners. */
static void select_items(json_t *list, const char *release, json_t *kept)
{
	json_t *items = json_object_get(list, "items"), *it;
	size_t i;

	json_array_foreach(items, i, it)
		if (!strcmp(jstr(it, "kind"), "Node") ||
		    (strcmp(jstr(it, "kind"), "Pod") && is_member(it, release)))
			json_array_append(kept, it);
	json_array_foreach(items, i, it)
		if (!strcmp(jstr(it, "kind"), "Pod") &&
		    (is_member(it, release) || kube_owned_pod(it, kept)))
			json_array_append(kept, it);
}

static size_t count_kind(json_t *items, const char *kind)
{
	size_t i, n = 0;
	json_t *it;

	json_array_foreach(items, i, it)
		n += !strcmp(jstr(it, "kind"), kind);
	return n;
}

static int nodes_into(phd_ctx *ctx, const struct kube_conf *cf, json_t *kept, char **origin)
{
	struct kube_argv a;
	json_t *nodes = NULL, *it;
	char *line = NULL;
	size_t i;
	int rc, unreachable;

	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, "nodes");
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, "json");
	rc = get_json(ctx, cf, &a, "cannot read the nodes", &nodes, &line, &unreachable);
	if (rc == PHD_EUNREACHABLE || rc == PHD_EPLUGIN) {
		/* Namespace-scoped deployers often may not list nodes. */
		phd_log(ctx, PHD_LOG_WARN, "%s; zone spread cannot be checked", phd_ctx_errmsg(ctx));
		rc = 0;
	} else if (rc == 0) {
		json_array_foreach(json_object_get(nodes, "items"), i, it)
			json_array_append(kept, it);
		if (line) {
			char *o = NULL;
			if (asprintf(&o, "%s; %s", *origin, line) >= 0) {
				free(*origin);
				*origin = o;
			}
		}
	}
	json_decref(nodes);
	free(line);
	kube_argv_free(&a);
	return rc;
}

int kube_verify_phase(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	const struct kube_conf *cf = userdata;
	const char *ns = phd_ctx_namespace(ctx), *release = phd_ctx_release(ctx);
	struct kube_argv a;
	json_t *live = NULL, *kept = NULL, *doc = NULL;
	char *origin = NULL, *text = NULL;
	size_t nwork;
	int rc, nodes_apart, unreachable = 0;

	(void)phase;
	if (!ns || !*ns || !release || !*release)
		return phd_set_error(ctx, PHD_EINVAL, "kube: verify needs a release and a namespace");
	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, cf->read_nodes ? KUBE_VERIFY_KINDS ",nodes" : KUBE_VERIFY_KINDS);
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, ns);
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, "json");
	if (mode == PHD_MODE_SHOW) {
		char *line = kube_argv_line(&a);
		if (line)
			kube_emit_command(ctx, PHD_PHASE_VERIFY, line);
		free(line);
		kube_argv_free(&a);
		return 0;
	}
	/* One kubectl for the objects and the nodes; when that fails (nodes may
	 * be forbidden to a namespace-scoped deployer), the objects alone, and
	 * the nodes on their own as a warning. */
	nodes_apart = !cf->read_nodes;
	if (cf->read_nodes) {
		rc = get_json(ctx, cf, &a, KUBE_VERIFY_UNKNOWN, &live, &origin, &unreachable);
		if (rc == PHD_EPLUGIN || (rc == PHD_EUNREACHABLE && !unreachable)) {
			kube_argv_free(&a);
			free(origin);
			origin = NULL;
			kube_argv_init(&a, ctx);
			kube_argv_add(&a, "get");
			kube_argv_add(&a, KUBE_VERIFY_KINDS);
			kube_argv_add(&a, "-n");
			kube_argv_add(&a, ns);
			kube_argv_add(&a, "-o");
			kube_argv_add(&a, "json");
			nodes_apart = 1;
		}
	}
	if (nodes_apart)
		rc = get_json(ctx, cf, &a, KUBE_VERIFY_UNKNOWN, &live, &origin, &unreachable);
	kube_argv_free(&a);
	if (rc < 0)
		goto out;
	kept = json_array();
	if (!kept) {
		rc = phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
		goto out;
	}
	select_items(live, release, kept);
	nwork = count_kind(kept, "Deployment") + count_kind(kept, "StatefulSet");
	if (nwork == 0) {
		rc = phd_set_error(ctx, PHD_EFAILED, "kube: no Deployment or StatefulSet of release "
				   "%s in namespace %s (`%s` found %zu objects, none of the release)",
				   release, ns, origin ? origin : "kubectl get",
				   json_array_size(json_object_get(live, "items")));
		goto out;
	}
	if (cf->read_nodes && nodes_apart && (rc = nodes_into(ctx, cf, kept, &origin)) < 0)
		goto out;
	phd_log(ctx, PHD_LOG_INFO, "kube: release %s: %zu Deployment(s), %zu StatefulSet(s), "
		"%zu HPA(s), %zu PDB(s), %zu pod(s), %zu node(s)", release,
		count_kind(kept, "Deployment"), count_kind(kept, "StatefulSet"),
		count_kind(kept, "HorizontalPodAutoscaler"), count_kind(kept, "PodDisruptionBudget"),
		count_kind(kept, "Pod"), count_kind(kept, "Node"));
	doc = json_pack("{s:s, s:s, s:{s:s}, s:O}", "apiVersion", "v1", "kind", "List",
			"metadata", "resourceVersion", "", "items", kept);
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text) {
		rc = phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
		goto out;
	}
	rc = phd_set_documents(ctx, PHD_PHASE_VERIFY, text, strlen(text),
			       origin ? origin : "kubectl get");
out:
	free(text);
	json_decref(doc);
	json_decref(kept);
	json_decref(live);
	free(origin);
	return rc;
}
