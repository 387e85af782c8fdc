/* VERIFY-phase validator `rollout`: every live workload of the release has
 * rolled out (its controller saw the latest spec, all replicas updated and
 * ready) and no pod is stuck pulling or crash-looping. */
#include <stdio.h>
#include <string.h>

#include "kube.h"

static long long num(const phd_node *doc, const char *path, long long def)
{
	long long v;

	return phd_node_int(phd_node_get(doc, path), &v) == 0 ? v : def;
}

static void workload(phd_validation *v, const phd_node *doc, const char *kind)
{
	const char *name = phd_node_str(phd_node_get(doc, "metadata.name"));
	long long want = num(doc, "spec.replicas", 1);
	long long gen = num(doc, "metadata.generation", 0);
	long long seen = num(doc, "status.observedGeneration", 0);
	long long updated = num(doc, "status.updatedReplicas", 0);
	long long ready = num(doc, "status.readyReplicas", 0);
	char obj[300];

	snprintf(obj, sizeof(obj), "%s/%s", kind, name ? name : "?");
	if (seen < gen)
		phd_validation_report(v, "rollout", PHD_SEV_ERROR, obj, doc, NULL,
				      "the controller has not yet seen generation %lld (observed %lld)",
				      gen, seen);
	else if (updated < want || ready < want)
		phd_validation_report(v, "rollout", PHD_SEV_ERROR, obj, doc, NULL,
				      "%lld of %lld replicas updated, %lld ready", updated, want, ready);
}

/* Waiting reasons that do not resolve by waiting longer. */
static const char *const stuck[] = { "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull",
				     "CreateContainerConfigError", "InvalidImageName" };

static void pod(phd_validation *v, const phd_node *doc)
{
	const char *name = phd_node_str(phd_node_get(doc, "metadata.name"));
	const phd_node *cs = phd_node_get(doc, "status.containerStatuses");
	char obj[300];

	for (size_t i = 0; i < phd_node_len(cs); i++) {
		const phd_node *c = phd_node_at(cs, i);
		const char *why = phd_node_str(phd_node_get(c, "state.waiting.reason"));
		const char *cname = phd_node_str(phd_node_get(c, "name"));
		for (size_t k = 0; why && k < sizeof(stuck) / sizeof(stuck[0]); k++) {
			if (strcmp(why, stuck[k]))
				continue;
			snprintf(obj, sizeof(obj), "Pod/%s/%s", name ? name : "?", cname ? cname : "?");
			/* CreateContainerConfigError is how a missing Secret key shows. */
			phd_validation_report(v, "rollout", PHD_SEV_ERROR, obj, c, NULL,
					      "container waiting: %s (%lld restarts)", why,
					      num(c, "restartCount", 0));
		}
	}
}

int kube_rollout_validator(phd_validation *v, void *userdata)
{
	(void)userdata;
	for (size_t i = 0; i < phd_validation_doc_count(v); i++) {
		const phd_node *doc = phd_validation_doc(v, i);
		const char *kind = phd_node_str(phd_node_get(doc, "kind"));
		if (!kind)
			continue;
		if (!strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet"))
			workload(v, doc, kind);
		else if (!strcmp(kind, "Pod"))
			pod(v, doc);
	}
	return 0;
}
