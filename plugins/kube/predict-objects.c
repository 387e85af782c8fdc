/* RENDER-phase validators that predict what the upgrade or helm's --wait
 * will fail on, from the new render and the live namespace (kubectl get
 * only): a failed Job of the release left behind (wait-failed-job), a
 * field the API server refuses to update (wait-immutable).
 * See phdeploy-kube(7), PREDICTIONS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "objdiff.h"
#include "quantity.h"

struct pstate {
	phd_validation *v;
	phd_ctx *ctx;
	const struct kube_conf *cf;
	const char *rule, *release, *ns;
	json_t *want;    /* the rendered objects, an array */
};

/* ---- common ------------------------------------------------------------ */

static int is_hook(json_t *o)
{
	return *kube_jstr(json_object_get(json_object_get(o, "metadata"), "annotations"),
			  "helm.sh/hook");
}

static const char *name_of(json_t *o)
{
	return kube_jstr(json_object_get(o, "metadata"), "name");
}

/* Whether the prediction runs: its rule is not off, and this run goes to
 * the cluster anyway.  A bare `phdeploy render` resolves no Secrets and is
 * no dry run: it stays offline, as the diff does.  deploy, plan and diff
 * resolve the Secrets (deploy needs them) before render. */
static int wanted(phd_ctx *ctx, const char *rule)
{
	const phd_node *rules = phd_node_get(phd_ctx_config(ctx), "rules");
	const char *sev = NULL;

	for (size_t i = 0; rules && i < phd_node_len(rules); i++)
		if (phd_node_key_at(rules, i) && !strcmp(phd_node_key_at(rules, i), rule))
			sev = phd_node_str(phd_node_at(rules, i));
	if (sev && !strcmp(sev, "off"))
		return 0;
	return phd_ctx_dry_run(ctx) ||
	       phd_ctx_phase_status(ctx, PHD_PHASE_SECRETS) != PHD_STATUS_NOTRUN;
}

/* Set up s for rule; 1 when the prediction is to be made. */
static int begin(struct pstate *s, phd_validation *v, void *userdata, const char *rule)
{
	const char *text;
	char err[256];
	size_t len;

	memset(s, 0, sizeof *s);
	s->v = v;
	s->cf = userdata;
	s->rule = rule;
	s->ctx = phd_validation_ctx(v);
	if (!wanted(s->ctx, rule))
		return 0;
	s->release = phd_ctx_release(s->ctx);
	s->ns = phd_ctx_namespace(s->ctx);
	text = phd_rendered(s->ctx, &len);
	if (!s->release || !s->ns || !text)
		return 0;
	/* the render phase has parsed the same text: this cannot fail where
	 * the render passed, and a prediction is not the place to say so */
	if (!(s->want = kube_yaml_objects(text, len, err, sizeof err))) {
		phd_log(s->ctx, PHD_LOG_DEBUG, "kube: %s: %s", rule, err);
		return 0;
	}
	return 1;
}

static void end(struct pstate *s)
{
	json_decref(s->want);
}

/* The items of `kubectl get TYPE -n NS -o json` (a new reference), or NULL
 * when the cluster could not be read: then the prediction is not made,
 * and the log says so (the run fails later where it needs the cluster). */
static json_t *kget(struct pstate *s, const char *type)
{
	struct kube_argv a;
	struct phd_exec_result res;
	json_t *list = NULL, *items = NULL;
	int rc;

	kube_argv_init(&a, s->ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, type);
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, s->ns);
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, "json");
	rc = kube_run(s->ctx, s->cf, &a, NULL, 0, 0, &res);
	if (rc == 0 && res.exit_code != 0)
		rc = kube_fail(s->ctx, PHD_EUNREACHABLE, &a, &res, "cannot read live objects");
	if (rc == 0) {
		list = json_loadb(res.out ? res.out : "", res.out_len, 0, NULL);
		items = json_incref(json_object_get(list, "items"));
		if (!json_is_array(items)) {
			json_decref(items);
			items = NULL;
			phd_set_error(s->ctx, PHD_EUNREACHABLE, "kubectl get %s answered no list",
				      type);
		}
	}
	if (!items)
		phd_log(s->ctx, PHD_LOG_WARN, "kube: %s: not predicted: %s", s->rule,
			phd_ctx_errmsg(s->ctx));
	json_decref(list);
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
	return items;
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

/* ---- wait-failed-job ---------------------------------------------------- */

/* Whether live Job j is the release's: the chart's migrate Job by its
 * name, or any Job helm or the chart labelled with the release. */
static int release_job(json_t *j, const char *release)
{
	json_t *md = json_object_get(j, "metadata");
	const char *name = kube_jstr(md, "name");
	size_t stem = kube_volatile_name(name), rl = strlen(release);

	if (stem == rl + 8 && !strncmp(name, release, rl) && !strncmp(name + rl, "-migrate", 8))
		return 1;
	return !strcmp(kube_jstr(json_object_get(md, "annotations"), "meta.helm.sh/release-name"),
		       release) ||
	       !strcmp(kube_jstr(json_object_get(md, "labels"), "app.kubernetes.io/instance"),
		       release);
}

/* The Failed condition of a Job, or NULL. */
static json_t *failed_cond(json_t *j)
{
	json_t *c;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(j, "status"), "conditions"), i, c)
		if (!strcmp(kube_jstr(c, "type"), "Failed") && !strcmp(kube_jstr(c, "status"), "True"))
			return c;
	return NULL;
}

int kube_predict_failed_job(phd_validation *v, void *userdata)
{
	struct pstate s;
	json_t *jobs, *j;
	size_t i;

	if (!begin(&s, v, userdata, "wait-failed-job"))
		return 0;
	if (!(jobs = kget(&s, "jobs.v1.batch")))
		goto out;
	json_array_foreach(jobs, i, j) {
		json_t *c = failed_cond(j);
		const char *name = name_of(j);
		char obj[300];
		if (!c || is_hook(j) || !release_job(j, s.release))
			continue;
		snprintf(obj, sizeof obj, "Job/%s", name);
		phd_validation_report(v, s.rule, PHD_SEV_ERROR, obj, NULL, NULL,
			"failed (%s%s%s%s%s): %s; the new render's migrate Job runs the same "
			"migrations against the same databases, and every app pod waits in its "
			"init containers for them, so --wait ends in a timeout unless the cause "
			"is fixed first.  The chart names the Job anew on every render and gives "
			"it no hook delete policy: helm never replaces a failed one, and deletes "
			"it (and its pods' logs) only when the last deployed revision holds it.  "
			"Fix: read `kubectl logs job/%s -n %s`, fix the cause, then "
			"`kubectl delete job %s -n %s`",
			*kube_jstr(c, "reason") ? kube_jstr(c, "reason") : "Failed",
			*kube_jstr(c, "message") ? ": " : "", kube_jstr(c, "message"),
			*kube_jstr(c, "lastTransitionTime") ? ", at " : "",
			kube_jstr(c, "lastTransitionTime"),
			kube_volatile_name(name) ? "a migrate Job of an earlier deploy"
			: "a Job of the release", name, s.ns, name, s.ns);
	}
	json_decref(jobs);
out:
	end(&s);
	return 0;
}

/* ---- wait-immutable ----------------------------------------------------- */

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

struct immut {
	struct pstate *s;
	const char *key;
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

static json_t *vct_storage(json_t *spec)
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
			const char *vn = name_of(w);
			char path[256];
			snprintf(path, sizeof path, "spec.volumeClaimTemplates[%s]", vn);
			if (strcmp(vn, name_of(json_array_get(lv, i)))) {
				refused(m, "spec.volumeClaimTemplates", lv, wv);
				break;
			}
			if (!same_storage(vct_storage(ws), vct_storage(ls))) {
				char p2[300];
				snprintf(p2, sizeof p2, "%s.spec.resources.requests.storage", path);
				refused(m, p2, vct_storage(ls), vct_storage(ws));
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
	json_t *ws = vct_storage(wspec), *ls = vct_storage(lspec);
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

/* The fix for a refused change of o's kind, into fix. */
static void immutable_fix(json_t *o, const char *ns, char *fix, size_t cap)
{
	const char *kind = kube_jstr(o, "kind"), *name = name_of(o);

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

static void report_immutable(struct immut *m, json_t *o, const char *text)
{
	char fix[700];

	immutable_fix(o, m->s->ns, fix, sizeof fix);
	phd_validation_report(m->s->v, m->s->rule, PHD_SEV_ERROR, m->key, NULL, NULL,
			      "the API server refuses this update, so helm upgrade fails before "
			      "--wait (\"field is immutable\" / \"Forbidden\"): %s.  Fix: %s",
			      text, fix);
}

int kube_predict_immutable(phd_validation *v, void *userdata)
{
	static const char *const kinds[] = { "Deployment", "StatefulSet", "DaemonSet", "Job",
					     "Service", "PersistentVolumeClaim", NULL };
	struct pstate s;
	json_t *set = NULL, *live = NULL, *o, *sets[1];
	const char *k;
	size_t i;

	if (!begin(&s, v, userdata, "wait-immutable"))
		return 0;
	set = json_object();
	json_array_foreach(s.want, i, o) {
		char *key;
		/* hooks are deleted and created anew (before-hook-creation), and
		 * the migrate Job has a new name on every render */
		if (!in_list(kinds, kube_jstr(o, "kind")) || is_hook(o) ||
		    (!strcmp(kube_jstr(o, "kind"), "Job") && kube_volatile_name(name_of(o))))
			continue;
		if ((key = kube_obj_key(o, s.release)))
			json_object_set(set, key, o);
		free(key);
	}
	sets[0] = set;
	if (json_object_size(set) &&
	    kube_live_objects(s.ctx, s.cf, s.ns, s.release, sets, 1, &live) < 0) {
		phd_log(s.ctx, PHD_LOG_WARN, "kube: %s: not predicted: %s", s.rule,
			phd_ctx_errmsg(s.ctx));
		goto out;
	}
	json_object_foreach(set, k, o) {
		json_t *l = json_object_get(live, k);
		json_t *ws = json_object_get(o, "spec"), *ls = json_object_get(l, "spec");
		const char *kind = kube_jstr(o, "kind");
		char *buf = NULL;
		size_t len = 0;
		struct immut m = { &s, k, NULL, 0 };
		if (!l || !(m.f = open_memstream(&buf, &len)))
			continue;
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
		fclose(m.f);
		if (m.n)
			report_immutable(&m, o, buf);
		free(buf);
	}
out:
	json_decref(set);
	json_decref(live);
	end(&s);
	return 0;
}
