/* Which fields of a live object the API server refuses to update, and what
 * to do about it: the comparison behind wait-immutable (predict-objects.c),
 * apart so it is tested on manifests alone (kube-predict-t). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "objdiff.h"
#include "predict.h"
#include "quantity.h"

static const char *obj_name(json_t *o)
{
	return kube_jstr(json_object_get(o, "metadata"), "name");
}

/* Compact JSON of v for a message (malloc'd), "(unset)" for NULL. */
static char *jtext(json_t *v)
{
	char *t = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!t)
		return strdup("(unset)");
	if (strlen(t) > 160)
		strcpy(t + 150, "...");
	return t;
}

/* The StatefulSet spec fields the API server lets an update change; any
 * other change is "spec: Forbidden: updates to statefulset spec for fields
 * other than ...". */
static const char *const sts_mutable[] = {
	"replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
	"persistentVolumeClaimRetentionPolicy", "minReadySeconds", NULL
};

static int in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (!strcmp(*l, s))
			return 1;
	return 0;
}

/* the refused fields of one object, as text */
struct immut {
	FILE *f;
	int n;
};

/* One refused field: its path, the live and the new value. */
static void refused(struct immut *m, const char *path, json_t *live, json_t *want)
{
	char *lt = jtext(live), *wt = jtext(want);
	fprintf(m->f, "%s%s", m->n++ ? "; " : "", path);
	if (live || want)
		fprintf(m->f, ": live %s, new %s", lt, wt);
	free(lt);
	free(wt);
}

/* A field compared whole: the new render sets it (or its default) and the
 * live object holds another value. */
static void whole(struct immut *m, json_t *wspec, json_t *lspec, const char *field,
		  const char *dflt)
{
	json_t *w = json_object_get(wspec, field), *l = json_object_get(lspec, field);
	json_t *d = NULL;

	if (!w && dflt)
		w = d = json_string(dflt);
	if (w && l && !kube_same(w, l)) {
		char path[128];
		snprintf(path, sizeof path, "spec.%s", field);
		refused(m, path, l, w);
	}
	json_decref(d);
}

/* storage requests compared as quantities: "20Gi" and "21474836480" agree */
static int same_storage(json_t *a, json_t *b)
{
	long long x, y;
	if (json_is_string(a) && json_is_string(b) &&
	    !kube_quantity_milli(json_string_value(a), &x) &&
	    !kube_quantity_milli(json_string_value(b), &y))
		return x == y;
	return kube_same(a, b);
}

json_t *kube_claim_storage(json_t *spec)
{
	return json_object_get(json_object_get(json_object_get(spec, "resources"), "requests"),
			       "storage");
}

static void statefulset(struct immut *m, json_t *wspec, json_t *lspec)
{
	json_t *w, *l, *wv = json_object_get(wspec, "volumeClaimTemplates"),
		*lv = json_object_get(lspec, "volumeClaimTemplates");
	const char *k;
	size_t i;

	whole(m, wspec, lspec, "podManagementPolicy", "OrderedReady");
	whole(m, wspec, lspec, "serviceName", NULL);
	whole(m, wspec, lspec, "selector", NULL);
	if (json_array_size(wv) != json_array_size(lv)) {
		refused(m, "spec.volumeClaimTemplates", lv, wv);
	} else {
		/* by template: name, class, access modes, size; what the server
		 * defaults (volumeMode, status) is not ours */
		json_array_foreach(wv, i, w) {
			json_t *ws = json_object_get(w, "spec");
			json_t *ls = json_object_get(json_array_get(lv, i), "spec");
			const char *vn = obj_name(w);
			char path[256];
			snprintf(path, sizeof path, "spec.volumeClaimTemplates[%s]", vn);
			if (strcmp(vn, obj_name(json_array_get(lv, i)))) {
				refused(m, "spec.volumeClaimTemplates", lv, wv);
				break;
			}
			if (!same_storage(kube_claim_storage(ws), kube_claim_storage(ls))) {
				char p2[300];
				snprintf(p2, sizeof p2, "%s.spec.resources.requests.storage", path);
				refused(m, p2, kube_claim_storage(ls), kube_claim_storage(ws));
			}
			for (const char *const *f = (const char *const[]){ "storageClassName",
					"accessModes", "selector", NULL }; *f; f++) {
				json_t *a = json_object_get(ws, *f), *b = json_object_get(ls, *f);
				char p2[300];
				/* an unset class takes the default at creation: only a
				 * class the render names can differ */
				if (!a || kube_same(a, b))
					continue;
				snprintf(p2, sizeof p2, "%s.spec.%s", path, *f);
				refused(m, p2, b, a);
			}
		}
	}
	/* any other field the render sets, as the server compares it */
	json_object_foreach(wspec, k, w) {
		char path[128];
		if (in_list(sts_mutable, k) || !strcmp(k, "volumeClaimTemplates") ||
		    !strcmp(k, "podManagementPolicy") || !strcmp(k, "serviceName") ||
		    !strcmp(k, "selector") || !(l = json_object_get(lspec, k)))
			continue;
		{
			json_t *p = kube_project(w, l);
			int same = kube_same(w, p);
			json_decref(p);
			if (same)
				continue;
		}
		snprintf(path, sizeof path, "spec.%s", k);
		refused(m, path, l, w);
	}
}

static void service(struct immut *m, json_t *wspec, json_t *lspec)
{
	const char *wc = kube_jstr(wspec, "clusterIP"), *lc = kube_jstr(lspec, "clusterIP");
	const char *wt = kube_jstr(wspec, "type");

	/* a Service becoming ExternalName drops its address; any other change
	 * of a set clusterIP (headless "None" to an address, or back) is
	 * refused: "may not change once set" */
	if (*wc && *lc && strcmp(wc, lc) && strcmp(wt, "ExternalName"))
		refused(m, "spec.clusterIP", json_object_get(lspec, "clusterIP"),
			json_object_get(wspec, "clusterIP"));
}

static void pvc(struct immut *m, json_t *wspec, json_t *lspec)
{
	long long w, l;
	json_t *ws = kube_claim_storage(wspec), *ls = kube_claim_storage(lspec);
	json_t *wc = json_object_get(wspec, "storageClassName"),
		*lc = json_object_get(lspec, "storageClassName");

	if (wc && lc && !kube_same(wc, lc))
		refused(m, "spec.storageClassName", lc, wc);
	/* a claim grows (when its class allows expansion), it never shrinks */
	if (json_is_string(ws) && json_is_string(ls) &&
	    !kube_quantity_milli(json_string_value(ws), &w) &&
	    !kube_quantity_milli(json_string_value(ls), &l) && w < l)
		refused(m, "spec.resources.requests.storage (a claim cannot shrink)", ls, ws);
	if (json_object_get(wspec, "accessModes") &&
	    !kube_same(json_object_get(wspec, "accessModes"), json_object_get(lspec, "accessModes")))
		refused(m, "spec.accessModes", json_object_get(lspec, "accessModes"),
			json_object_get(wspec, "accessModes"));
}

static void job(struct immut *m, json_t *wspec, json_t *lspec)
{
	json_t *w = json_object_get(wspec, "template"), *l = json_object_get(lspec, "template");
	json_t *p;

	if (!w || !l)
		return;
	/* the server adds its own labels to a Job's template: compare what
	 * the render sets */
	p = kube_project(w, l);
	if (!kube_same(w, p)) {
		char *fields = kube_changed_fields(p, w);
		char path[600];
		snprintf(path, sizeof path, "spec.template (%s)", fields ? fields : "");
		refused(m, path, NULL, NULL);
		free(fields);
	}
	json_decref(p);
}

void kube_immutable_fix(json_t *o, const char *ns, char *fix, size_t cap)
{
	const char *kind = kube_jstr(o, "kind"), *name = obj_name(o);

	if (!strcmp(kind, "StatefulSet"))
		snprintf(fix, cap, "revert the values key that changed it, or `kubectl delete "
			 "statefulset %s -n %s --cascade=orphan` (its pods and "
			 "PersistentVolumeClaims stay; helm creates it anew and it adopts them; "
			 "existing claims keep their size and class: resize them by hand where "
			 "the StorageClass allows expansion) and deploy", name, ns);
	else if (!strcmp(kind, "Deployment") || !strcmp(kind, "DaemonSet"))
		snprintf(fix, cap, "revert the values key that changed it, or `kubectl delete "
			 "%s %s -n %s` and deploy (its pods go with it: plan the downtime)",
			 !strcmp(kind, "Deployment") ? "deployment" : "daemonset", name, ns);
	else if (!strcmp(kind, "Job"))
		snprintf(fix, cap, "`kubectl delete job %s -n %s` (a finished Job is done "
			 "with) and deploy", name, ns);
	else if (!strcmp(kind, "Service"))
		snprintf(fix, cap, "revert the values key that changed it, or `kubectl delete "
			 "service %s -n %s` and deploy (the address changes)", name, ns);
	else
		snprintf(fix, cap, "revert the values key that changed it (a claim's class "
			 "and size are fixed once bound; a new claim needs its data copied)");
}

int kube_immutable_kind(json_t *o)
{
	static const char *const kinds[] = { "Deployment", "StatefulSet", "DaemonSet", "Job",
					     "Service", "PersistentVolumeClaim", NULL };
	return in_list(kinds, kube_jstr(o, "kind"));
}

char *kube_immutable_refused(json_t *want, json_t *live)
{
	json_t *ws = json_object_get(want, "spec"), *ls = json_object_get(live, "spec");
	const char *kind = kube_jstr(want, "kind");
	char *buf = NULL;
	size_t len = 0;
	struct immut m = { NULL, 0 };

	if (!(m.f = open_memstream(&buf, &len)))
		return NULL;
	if (!strcmp(kind, "StatefulSet"))
		statefulset(&m, ws, ls);
	else if (!strcmp(kind, "Service"))
		service(&m, ws, ls);
	else if (!strcmp(kind, "PersistentVolumeClaim"))
		pvc(&m, ws, ls);
	else if (!strcmp(kind, "Job"))
		job(&m, ws, ls);
	else
		whole(&m, ws, ls, "selector", NULL);
	if (fclose(m.f) != 0 || !m.n) {
		free(buf);
		return NULL;
	}
	return buf;
}
