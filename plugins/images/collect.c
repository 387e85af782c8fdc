/* The images a manifest stream pulls: every container of every pod spec
 * (workloads, Jobs, CronJobs, a ClickHouseInstallation's pod templates),
 * with the object that pulls it and its imagePullSecrets. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images.h"

void img_uses_free(struct img_uses *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->u[i].image);
		free(u->u[i].object);
		free(u->u[i].values_key);
		for (size_t j = 0; u->u[i].pull_secrets && u->u[i].pull_secrets[j]; j++)
			free(u->u[i].pull_secrets[j]);
		free(u->u[i].pull_secrets);
	}
	free(u->u);
	memset(u, 0, sizeof(*u));
}

static char **pull_secrets(const phd_node *pod)
{
	const phd_node *l = phd_node_get(pod, "imagePullSecrets");
	size_t n = phd_node_type(l) == PHD_NODE_SEQ ? phd_node_len(l) : 0, k = 0;
	char **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++) {
		const char *name = phd_node_str(phd_node_get(phd_node_at(l, i), "name"));
		if (name && *name && !(v[k++] = strdup(name)))
			break;
	}
	return v;
}

static void add(struct img_uses *out, const char *obj, const phd_node *c, const phd_node *pod)
{
	const char *cname = phd_node_str(phd_node_get(c, "name"));
	const phd_node *img = phd_node_get(c, "image");
	struct img_use *u;

	if (!phd_node_str(img) || !*phd_node_str(img))
		return;
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 32;
		struct img_use *nu = realloc(out->u, cap * sizeof(*nu));
		if (!nu) {
			out->oom = 1;
			return;
		}
		out->u = nu;
		out->cap = cap;
	}
	u = &out->u[out->n];
	memset(u, 0, sizeof(*u));
	u->image = strdup(phd_node_str(img));
	if (asprintf(&u->object, "%s/%s", obj, cname ? cname : "?") < 0)
		u->object = NULL;
	u->where = img;
	u->pull_secrets = pull_secrets(pod);
	if (!u->image || !u->object || !u->pull_secrets) {
		free(u->image);
		free(u->object);
		free(u->pull_secrets);
		out->oom = 1;
		return;
	}
	out->n++;
}

static void pod_spec(struct img_uses *out, const char *obj, const phd_node *pod)
{
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };

	if (phd_node_type(pod) != PHD_NODE_MAP)
		return;
	for (size_t l = 0; l < 3; l++) {
		const phd_node *cs = phd_node_get(pod, lists[l]);
		if (phd_node_type(cs) != PHD_NODE_SEQ)
			continue;
		for (size_t i = 0; i < phd_node_len(cs); i++)
			add(out, obj, phd_node_at(cs, i), pod);
	}
}

static const phd_node *workload_pod(const char *kind, const phd_node *doc)
{
	static const char *const templated[] = { "Deployment", "StatefulSet", "DaemonSet",
						 "ReplicaSet", "Job", "ReplicationController",
						 NULL };

	if (!strcmp(kind, "Pod"))
		return phd_node_get(doc, "spec");
	if (!strcmp(kind, "CronJob"))
		return phd_node_get(doc, "spec.jobTemplate.spec.template.spec");
	for (size_t i = 0; templated[i]; i++)
		if (!strcmp(kind, templated[i]))
			return phd_node_get(doc, "spec.template.spec");
	return NULL;
}

int img_collect(struct img_uses *out, const phd_node *const *docs, size_t ndocs,
		const phd_node *values)
{
	char obj[512], key[256];

	memset(out, 0, sizeof(*out));
	for (size_t d = 0; d < ndocs; d++) {
		const char *kind = phd_node_str(phd_node_get(docs[d], "kind"));
		const char *name = phd_node_str(phd_node_get(docs[d], "metadata.name"));
		size_t first = out->n;
		if (!kind || !name)
			continue;
		if (!strcmp(kind, "ClickHouseInstallation")) {
			const phd_node *t = phd_node_get(docs[d], "spec.templates.podTemplates");
			for (size_t i = 0; phd_node_type(t) == PHD_NODE_SEQ && i < phd_node_len(t); i++) {
				const char *tn = phd_node_str(phd_node_get(phd_node_at(t, i), "name"));
				snprintf(obj, sizeof(obj), "%s/%s/%s", kind, name, tn ? tn : "?");
				pod_spec(out, obj, phd_node_get(phd_node_at(t, i), "spec"));
			}
		} else {
			snprintf(obj, sizeof(obj), "%s/%s", kind, name);
			pod_spec(out, obj, workload_pod(kind, docs[d]));
		}
		for (size_t i = first; i < out->n; i++) {
			struct oci_ref r;
			char err[128];
			if (oci_ref_parse(&r, out->u[i].image, err, sizeof(err)))
				continue;
			out->u[i].values_key = NULL;
			if (img_values_key(values, &r, &out->u[i].values_where, key, sizeof(key)))
				out->u[i].values_key = strdup(key);
			oci_ref_free(&r);
		}
	}
	return out->oom ? PHD_ENOMEM : 0;
}
