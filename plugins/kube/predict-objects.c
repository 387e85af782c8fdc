/* Predictors (predict.c runs them) of what the upgrade or helm's --wait
 * will fail on, from the new render and the live namespace (kubectl get
 * only): a failed Job of the release left behind (wait-failed-job), a
 * field the API server refuses to update (wait-immutable), and pods a
 * ResourceQuota or LimitRange refuses (wait-quota, wait-limit-range).
 * See phdeploy-kube(7), PREDICTIONS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "predict.h"
#include "objdiff.h"
#include "quantity.h"

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

void kube_predict_failed_job(struct kube_predict *s)
{
	json_t *jobs, *j;
	size_t i;

	if (!(jobs = kube_predict_live(s, KUBE_LIVE_JOBS, KUBE_R_FAILED_JOB)))
		return;
	json_array_foreach(jobs, i, j) {
		json_t *c = failed_cond(j);
		const char *name = name_of(j);
		char obj[300];
		if (!c || is_hook(j) || !release_job(j, s->release))
			continue;
		snprintf(obj, sizeof obj, "Job/%s", name);
		phd_validation_report(s->v, KUBE_R_FAILED_JOB, PHD_SEV_ERROR, obj, NULL, NULL,
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
			: "a Job of the release", name, s->ns, name, s->ns);
	}
}

/* ---- wait-immutable ----------------------------------------------------- */

void kube_predict_immutable(struct kube_predict *s)
{
	json_t *set = json_object(), *live = NULL, *o, *sets[1];
	const char *k;
	size_t i;
	int rc;

	if (!set)
		return;
	json_array_foreach(s->rendered, i, o) {
		char *key;
		/* hooks are deleted and created anew (before-hook-creation), and
		 * the migrate Job has a new name on every render */
		if (!kube_immutable_kind(o) || is_hook(o) ||
		    (!strcmp(kube_jstr(o, "kind"), "Job") && kube_volatile_name(name_of(o))))
			continue;
		if ((key = kube_obj_key(o, s->release)))
			json_object_set(set, key, o);
		free(key);
	}
	sets[0] = set;
	/* a cluster found out of reach has said so once already */
	if (!json_object_size(set) || s->unreachable)
		goto out;
	if ((rc = kube_live_objects(s->ctx, s->cf, s->ns, s->release, sets, 1, &live)) < 0) {
		kube_predict_unread(s, KUBE_R_IMMUTABLE, rc);
		goto out;
	}
	json_object_foreach(set, k, o) {
		json_t *l = json_object_get(live, k);
		char *text, fix[700];
		if (!l || !(text = kube_immutable_refused(o, l)))
			continue;
		kube_immutable_fix(o, s->ns, fix, sizeof fix);
		phd_validation_report(s->v, KUBE_R_IMMUTABLE, PHD_SEV_ERROR, k, NULL, NULL,
				      "the API server refuses this update, so helm upgrade fails "
				      "before --wait (\"field is immutable\" / \"Forbidden\"): %s.  "
				      "Fix: %s", text, fix);
		free(text);
	}
out:
	json_decref(set);
	json_decref(live);
}

/* ---- the release's pods against ResourceQuotas and LimitRanges --------- */

enum { RC_CPU, RC_MEM, RC_N };
static const char *const rc_name[RC_N] = { "cpu", "memory" };

/* A container's resources as admission sees them: the pod defaults (a
 * limit without a request requests the limit), then the LimitRanges'. */
struct ctr {
	const char *name;
	int init;
	int has_req[RC_N], has_lim[RC_N];
	long long req[RC_N], lim[RC_N];
};

/* A pod template of the render and how many of its pods exist at once. */
struct wl {
	char key[300];
	json_t *obj;               /* borrowed from the render */
	long long pods;            /* at the rollout's peak */
	struct ctr *c;
	size_t nc;
	long long req[RC_N], lim[RC_N];   /* per pod */
	int no_req[RC_N], no_lim[RC_N];   /* a container lacks it */
};

struct wls {
	struct wl *v;
	size_t n;
};

static void wls_free(struct wls *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].c);
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

static int qty(json_t *v, long long *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v) * 1000;
		return 0;
	}
	return json_is_string(v) ? kube_quantity_milli(json_string_value(v), out) : -1;
}

/* The LimitRange item defaults as the API server stores them: a missing
 * default limit is the max, a missing default request the default limit,
 * else the min. */
static int lr_default(json_t *item, const char *which, const char *res, long long *out)
{
	static const char *const lim_order[] = { "default", "max", NULL };
	static const char *const req_order[] = { "defaultRequest", "default", "max", "min", NULL };
	const char *const *o = !strcmp(which, "limit") ? lim_order : req_order;

	for (; *o; o++)
		if (!qty(json_object_get(json_object_get(item, *o), res), out))
			return 1;
	return 0;
}

static void ctr_read(struct ctr *c, json_t *cj, int init, json_t *lrs)
{
	json_t *r = json_object_get(cj, "resources"), *lr, *it;
	size_t i, j;

	memset(c, 0, sizeof *c);
	c->name = kube_jstr(cj, "name");
	c->init = init;
	for (int k = 0; k < RC_N; k++) {
		c->has_req[k] = !qty(json_object_get(json_object_get(r, "requests"), rc_name[k]),
				     &c->req[k]);
		c->has_lim[k] = !qty(json_object_get(json_object_get(r, "limits"), rc_name[k]),
				     &c->lim[k]);
		if (c->has_lim[k] && !c->has_req[k]) {
			c->req[k] = c->lim[k];
			c->has_req[k] = 1;
		}
	}
	json_array_foreach(lrs, i, lr)
		json_array_foreach(json_object_get(json_object_get(lr, "spec"), "limits"), j, it) {
			if (strcmp(kube_jstr(it, "type"), "Container"))
				continue;
			for (int k = 0; k < RC_N; k++) {
				if (!c->has_lim[k])
					c->has_lim[k] = lr_default(it, "limit", rc_name[k], &c->lim[k]);
				if (!c->has_req[k])
					c->has_req[k] = lr_default(it, "request", rc_name[k], &c->req[k]);
			}
		}
}

/* The pod's containers and its effective request and limit: the larger of
 * the app containers' sum and the largest init container. */
static int pod_read(struct wl *w, json_t *pod, json_t *lrs)
{
	static const char *const lists[] = { "containers", "initContainers" };
	long long sum[2][RC_N] = { { 0 } }, imax[2][RC_N] = { { 0 } };
	json_t *cj;
	size_t i;

	w->nc = json_array_size(json_object_get(pod, "containers")) +
		json_array_size(json_object_get(pod, "initContainers"));
	if (!(w->c = calloc(w->nc ? w->nc : 1, sizeof *w->c)))
		return -1;
	w->nc = 0;
	for (int l = 0; l < 2; l++)
		json_array_foreach(json_object_get(pod, lists[l]), i, cj) {
			struct ctr *c = &w->c[w->nc++];
			ctr_read(c, cj, l, lrs);
			for (int k = 0; k < RC_N; k++) {
				long long *acc[2] = { &sum[0][k], &sum[1][k] };
				w->no_req[k] |= !c->has_req[k];
				w->no_lim[k] |= !c->has_lim[k];
				if (l == 0) {
					*acc[0] += c->has_req[k] ? c->req[k] : 0;
					*acc[1] += c->has_lim[k] ? c->lim[k] : 0;
				} else {
					if (c->has_req[k] && c->req[k] > imax[0][k])
						imax[0][k] = c->req[k];
					if (c->has_lim[k] && c->lim[k] > imax[1][k])
						imax[1][k] = c->lim[k];
				}
			}
		}
	for (int k = 0; k < RC_N; k++) {
		w->req[k] = sum[0][k] > imax[0][k] ? sum[0][k] : imax[0][k];
		w->lim[k] = sum[1][k] > imax[1][k] ? sum[1][k] : imax[1][k];
	}
	return 0;
}

/* minReplicas of the render's HPA that scales Deployment name, or 0: with
 * an autoscaler the chart renders no replicas. */
static long long hpa_min(json_t *want, const char *name)
{
	json_t *o;
	size_t i;
	json_array_foreach(want, i, o) {
		json_t *spec = json_object_get(o, "spec");
		if (!strcmp(kube_jstr(o, "kind"), "HorizontalPodAutoscaler") &&
		    !strcmp(kube_jstr(json_object_get(spec, "scaleTargetRef"), "name"), name))
			return json_integer_value(json_object_get(spec, "minReplicas"));
	}
	return 0;
}

/* The extra pods a rolling update creates: maxSurge, a count or a
 * percentage rounded up (default 25%); none for Recreate. */
static long long surge(json_t *spec, long long replicas)
{
	json_t *st = json_object_get(spec, "strategy");
	json_t *ms = json_object_get(json_object_get(st, "rollingUpdate"), "maxSurge");
	long long pct = 25;

	if (!strcmp(kube_jstr(st, "type"), "Recreate"))
		return 0;
	if (json_is_integer(ms))
		return json_integer_value(ms);
	if (json_is_string(ms)) {
		char *end;
		pct = strtoll(json_string_value(ms), &end, 10);
		if (strcmp(end, "%"))
			return json_integer_value(ms);
	}
	return (replicas * pct + 99) / 100;
}

/* The render's pod templates (no hooks: they come and go before the
 * workloads), each with its pods at the rollout's peak.  DaemonSets (one
 * pod per node) and operator-made pods (ClickHouse) are not counted. */
static int wls_collect(struct kube_predict *s, json_t *lrs, struct wls *out)
{
	json_t *o;
	size_t i;

	out->v = calloc(json_array_size(s->rendered) + 1, sizeof *out->v);
	out->n = 0;
	if (!out->v)
		return -1;
	json_array_foreach(s->rendered, i, o) {
		const char *kind = kube_jstr(o, "kind");
		json_t *spec = json_object_get(o, "spec"), *r = json_object_get(spec, "replicas");
		struct wl *w = &out->v[out->n];
		long long n;
		if (is_hook(o))
			continue;
		if (!strcmp(kind, "Deployment")) {
			n = r ? json_integer_value(r) : hpa_min(s->rendered, name_of(o));
			n = n > 0 || r ? n : 1;
			n += surge(spec, n);
		} else if (!strcmp(kind, "StatefulSet")) {
			n = r ? json_integer_value(r) : 1;   /* replaced one by one: no surge */
		} else if (!strcmp(kind, "Job")) {
			r = json_object_get(spec, "parallelism");
			n = r ? json_integer_value(r) : 1;
		} else {
			continue;
		}
		snprintf(w->key, sizeof w->key, "%s/%s", kind, name_of(o));
		w->obj = o;
		w->pods = n;
		if (pod_read(w, json_object_get(json_object_get(spec, "template"), "spec"), lrs) < 0)
			return -1;
		out->n++;
	}
	return 0;
}

/* ---- wait-quota --------------------------------------------------------- */

/* Whether live pod p is one the new render replaces: labelled with the
 * release, or selected by one of the render's workloads (the ClickHouse
 * operator's pods carry only `app`). */
static int release_pod(json_t *p, struct wls *w, const char *release)
{
	json_t *l = json_object_get(json_object_get(p, "metadata"), "labels"), *v;
	const char *k;

	if (!strcmp(kube_jstr(l, "release"), release) ||
	    !strcmp(kube_jstr(l, "app.kubernetes.io/instance"), release))
		return 1;
	for (size_t i = 0; i < w->n; i++) {
		json_t *ml = json_object_get(json_object_get(json_object_get(w->v[i].obj, "spec"),
							     "selector"), "matchLabels");
		int all = json_object_size(ml) > 0;
		json_object_foreach(ml, k, v)
			all &= json_is_string(v) && !strcmp(kube_jstr(l, k), json_string_value(v));
		if (all)
			return 1;
	}
	return 0;
}

/* What a quota key measures of one pod template (per pod), or -1 for a
 * key this prediction does not evaluate. */
static int measure(const char *key, int *res, int *limit)
{
	static const struct { const char *key; int res, limit; } m[] = {
		{ "requests.cpu", RC_CPU, 0 }, { "cpu", RC_CPU, 0 },
		{ "requests.memory", RC_MEM, 0 }, { "memory", RC_MEM, 0 },
		{ "limits.cpu", RC_CPU, 1 }, { "limits.memory", RC_MEM, 1 },
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
		if (!strcmp(key, m[i].key)) {
			*res = m[i].res;
			*limit = m[i].limit;
			return 0;
		}
	return -1;
}

/* The new claims of the render's StatefulSets (claims that exist stay and
 * are counted in used already): their number and storage. */
static void new_claims(struct kube_predict *s, json_t *pvcs, long long *count, long long *storage)
{
	json_t *o, *t, *p;
	size_t i, j, k;

	*count = *storage = 0;
	json_array_foreach(s->rendered, i, o) {
		json_t *spec = json_object_get(o, "spec"), *r = json_object_get(spec, "replicas");
		long long n = r ? json_integer_value(r) : 1;
		if (strcmp(kube_jstr(o, "kind"), "StatefulSet"))
			continue;
		json_array_foreach(json_object_get(spec, "volumeClaimTemplates"), j, t)
			for (long long ord = 0; ord < n; ord++) {
				char claim[400];
				long long sz;
				int live = 0;
				snprintf(claim, sizeof claim, "%s-%s-%lld", name_of(t), name_of(o), ord);
				json_array_foreach(pvcs, k, p)
					live |= !strcmp(name_of(p), claim);
				if (live)
					continue;
				(*count)++;
				if (!qty(kube_claim_storage(json_object_get(t, "spec")), &sz))
					*storage += sz;
			}
	}
}

static const char *over_why =
	"pods beyond the quota are refused at creation (FailedCreate: exceeded quota), "
	"so --wait times out";

static void quota_check(struct kube_predict *s, json_t *q, struct wls *w, json_t *pods, json_t *pvcs)
{
	json_t *hard = json_object_get(json_object_get(q, "spec"), "hard");
	json_t *used = json_object_get(json_object_get(q, "status"), "used"), *hv, *p;
	const char *key;
	char obj[300];
	size_t i;

	snprintf(obj, sizeof obj, "ResourceQuota/%s", name_of(q));
	json_object_foreach(hard, key, hv) {
		long long h, u = 0, rel = 0, other = 0, need = 0, sz = 0, cnt = 0;
		int res = 0, limit = 0, binary, is_pods = !strcmp(key, "pods");
		int is_claims = !strcmp(key, "persistentvolumeclaims"),
		    is_storage = !strcmp(key, "requests.storage");
		char hb[32], nb[32], fb[32], ob[32], ub[32], *who = NULL;
		size_t wlen = 0;
		FILE *f;
		if (qty(hv, &h) < 0 || (!is_pods && !is_claims && !is_storage &&
					measure(key, &res, &limit) < 0))
			continue;
		binary = is_storage || (!is_pods && !is_claims && res == RC_MEM);
		if (is_claims || is_storage) {
			/* claims that exist stay: the new ones come on top */
			new_claims(s, pvcs, &cnt, &sz);
			need = is_claims ? cnt * 1000 : sz;
			if (qty(json_object_get(used, key), &u) < 0) {
				u = 0;
				json_array_foreach(pvcs, i, p) {
					long long x = 0;
					if (is_claims)
						u += 1000;
					else if (!qty(kube_claim_storage(json_object_get(p, "spec")), &x))
						u += x;
				}
			}
			other = u;
			goto compare;
		}
		/* the release's pods are replaced by the new ones: what is left is
		 * the hard limit minus what the other pods use */
		json_array_foreach(pods, i, p) {
			const char *ph = kube_jstr(json_object_get(p, "status"), "phase");
			struct wl one = { .pods = 1 };
			long long x;
			if (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"))
				continue;
			if (pod_read(&one, json_object_get(p, "spec"), NULL) < 0)
				continue;
			x = is_pods ? 1000 : limit ? one.lim[res] : one.req[res];
			free(one.c);
			if (release_pod(p, w, s->release))
				rel += x;
			else
				other += x;
		}
		if (!qty(json_object_get(used, key), &u))
			other = u - rel > 0 ? u - rel : 0;
		f = open_memstream(&who, &wlen);
		for (size_t k = 0; k < w->n; k++) {
			struct wl *x = &w->v[k];
			long long per = is_pods ? 1000 : limit ? x->lim[res] : x->req[res];
			char pb[32];
			need += x->pods * per;
			if (f && per && k < 40)
				fprintf(f, "%s%s %lld x %s", ftell(f) ? ", " : "", x->key,
					x->pods, is_pods ? "1" : kube_quantity_format(per, binary, pb,
										      sizeof pb));
		}
		if (f)
			fclose(f);
compare:
		if (need > h - other) {
			phd_validation_report(s->v, KUBE_R_QUOTA, PHD_SEV_ERROR, obj, NULL, NULL,
				"%s: the release needs %s at the rollout's peak%s%s%s, %s is left "
				"(hard %s, %s used %s): %s over; %s.  Fix: raise spec.hard.%s "
				"(`kubectl edit resourcequota %s -n %s`) or lower the replicas or "
				"the requests in the values", key,
				kube_quantity_format(need, binary, nb, sizeof nb),
				who && *who ? " (replicas plus maxSurge: " : "", who ? who : "",
				who && *who ? ")" : "",
				kube_quantity_format(h - other > 0 ? h - other : 0, binary, fb, sizeof fb),
				kube_quantity_format(h, binary, hb, sizeof hb),
				kube_quantity_format(other, binary, ub, sizeof ub),
				is_claims || is_storage ? "by the claims that exist" :
				"outside the release",
				kube_quantity_format(need - (h - other), binary, ob, sizeof ob),
				is_claims || is_storage ? "claims beyond the quota are refused, "
				"their pods stay Pending and --wait times out" : over_why,
				key, name_of(q), s->ns);
		}
		free(who);
		/* the quota admission demands the resource of every container */
		if (!is_pods && !is_claims && !is_storage) {
			for (size_t k = 0; k < w->n; k++)
				for (size_t c = 0; c < w->v[k].nc; c++) {
					struct ctr *ct = &w->v[k].c[c];
					if (limit ? ct->has_lim[res] : ct->has_req[res])
						continue;
					phd_validation_report(s->v, KUBE_R_QUOTA, PHD_SEV_ERROR, w->v[k].key,
						NULL, NULL, "%scontainer %s sets no %s and no LimitRange "
						"gives it a default, while ResourceQuota/%s limits %s: the "
						"API server refuses its pods (\"must specify %s\") and --wait "
						"times out.  Fix: set the container's resources.%s.%s in the "
						"values, or add a LimitRange with a default",
						ct->init ? "init " : "", ct->name, key, name_of(q), key, key,
						limit ? "limits" : "requests", rc_name[res]);
				}
		}
	}
}

void kube_predict_quota(struct kube_predict *s)
{
	struct wls w = { 0 };
	json_t *quotas, *lrs, *pods, *pvcs, *q;
	size_t i;

	if (!(quotas = kube_predict_live(s, KUBE_LIVE_QUOTAS, KUBE_R_QUOTA)) ||
	    !json_array_size(quotas))
		return;
	if (!(lrs = kube_predict_live(s, KUBE_LIVE_LIMITRANGES, KUBE_R_QUOTA)) ||
	    !(pods = kube_predict_live(s, KUBE_LIVE_NS_PODS, KUBE_R_QUOTA)) ||
	    !(pvcs = kube_predict_live(s, KUBE_LIVE_PVCS, KUBE_R_QUOTA)))
		return;
	if (wls_collect(s, lrs, &w) < 0) {
		phd_log(s->ctx, PHD_LOG_WARN, "kube: %s: out of memory: not predicted", KUBE_R_QUOTA);
		wls_free(&w);
		return;
	}
	json_array_foreach(quotas, i, q) {
		json_t *spec = json_object_get(q, "spec");
		/* a scoped quota counts only some pods (priority class, best
		 * effort, terminating): not evaluated */
		if (json_array_size(json_object_get(spec, "scopes")) ||
		    json_object_get(spec, "scopeSelector")) {
			phd_log(s->ctx, PHD_LOG_INFO, "kube: %s: ResourceQuota/%s has scopes: not "
				"evaluated", KUBE_R_QUOTA, name_of(q));
			continue;
		}
		quota_check(s, q, &w, pods, pvcs);
	}
	wls_free(&w);
}

/* ---- wait-limit-range ----------------------------------------------------- */

static void lr_report(struct kube_predict *s, const char *obj, const char *lr, const char *what,
		      const char *admission)
{
	phd_validation_report(s->v, KUBE_R_LIMIT_RANGE, PHD_SEV_ERROR, obj, NULL, NULL,
			      "%s (LimitRange/%s): the API server refuses the pods (\"%s\"), "
			      "their controller cannot create them and --wait times out.  Fix: "
			      "change the resources in the values, or the LimitRange "
			      "(`kubectl edit limitrange %s -n %s`)", what, lr, admission, lr, s->ns);
}

/* A request below a minimum (is_max 0) or a limit above a maximum, in the
 * API server's words. */
static void lr_bound(struct kube_predict *s, struct wl *w, const char *lr, const char *who, int k,
		     const char *type, int is_max, int has, long long val, long long bound)
{
	const char *what = is_max ? "limit" : "request";
	char msg[400], adm[300], a[32], b[32];
	int bin = k == RC_MEM;

	kube_quantity_format(val, bin, a, sizeof a);
	kube_quantity_format(bound, bin, b, sizeof b);
	snprintf(msg, sizeof msg, "%s: %s %s %s is %s the %s %s per %s", who, rc_name[k], what,
		 has ? a : "(none)", is_max ? "above" : "below", is_max ? "maximum" : "minimum",
		 b, type);
	if (has)
		snprintf(adm, sizeof adm, "%s %s usage per %s is %s, but %s is %s",
			 is_max ? "maximum" : "minimum", rc_name[k], type, b, what, a);
	else
		snprintf(adm, sizeof adm, "%s %s usage per %s is %s.  No %s is specified",
			 is_max ? "maximum" : "minimum", rc_name[k], type, b, what);
	lr_report(s, w->key, lr, msg, adm);
}

/* One container or pod (c NULL: w's pod sums) against one LimitRange item. */
static void lr_item(struct kube_predict *s, const char *lr, json_t *it, struct wl *w, struct ctr *c)
{
	const char *type = c ? "Container" : "Pod";
	char who[200], what[400], adm[300], a[32], b[32];

	if (c)
		snprintf(who, sizeof who, "%scontainer %s", c->init ? "init " : "", c->name);
	else
		snprintf(who, sizeof who, "the pod");
	for (int k = 0; k < RC_N; k++) {
		long long min, max, ratio;
		int bin = k == RC_MEM;
		int has_req = c ? c->has_req[k] : !w->no_req[k], has_lim = c ? c->has_lim[k]
			: !w->no_lim[k];
		long long req = c ? c->req[k] : w->req[k], lim = c ? c->lim[k] : w->lim[k];
		if (!qty(json_object_get(json_object_get(it, "min"), rc_name[k]), &min) &&
		    (!has_req || req < min))
			lr_bound(s, w, lr, who, k, type, 0, has_req, req, min);
		if (!qty(json_object_get(json_object_get(it, "max"), rc_name[k]), &max) &&
		    has_req && req > max && (!has_lim || lim <= max)) {
			/* the limit defaults to the maximum, below the request */
			snprintf(what, sizeof what, "%s: %s request %s is above the maximum %s per "
				 "%s (its limit defaults to the maximum, and a request may not "
				 "exceed its limit)", who, rc_name[k],
				 kube_quantity_format(req, bin, a, sizeof a),
				 kube_quantity_format(max, bin, b, sizeof b), type);
			snprintf(adm, sizeof adm, "must be less than or equal to %s limit of %s",
				 rc_name[k], b);
			lr_report(s, w->key, lr, what, adm);
		} else if (!qty(json_object_get(json_object_get(it, "max"), rc_name[k]), &max) &&
		    (!has_lim || lim > max)) {
			lr_bound(s, w, lr, who, k, type, 1, has_lim, lim, max);
		}
		if (!qty(json_object_get(json_object_get(it, "maxLimitRequestRatio"), rc_name[k]),
			 &ratio) && (!has_req || !has_lim || !req || !lim)) {
			/* a ratio needs both ends */
			snprintf(what, sizeof what, "%s: %s has no %s while the maximum limit to "
				 "request ratio per %s is %s", who, rc_name[k],
				 !has_req || !req ? "request" : "limit", type,
				 kube_quantity_format(ratio, 0, a, sizeof a));
			snprintf(adm, sizeof adm, "%s max limit to request ratio per %s is %s, but "
				 "no %s is specified or %s is 0", rc_name[k], type, a,
				 !has_req || !req ? "request" : "limit",
				 !has_req || !req ? "request" : "limit");
			lr_report(s, w->key, lr, what, adm);
		} else if (!qty(json_object_get(json_object_get(it, "maxLimitRequestRatio"),
					rc_name[k]), &ratio) &&
			   (long double)lim / (long double)req > (long double)ratio / 1000.0L) {
			snprintf(what, sizeof what, "%s: %s limit %s over request %s is above the "
				 "maximum ratio %s per %s", who, rc_name[k],
				 kube_quantity_format(lim, bin, a, sizeof a),
				 kube_quantity_format(req, bin, b, sizeof b),
				 kube_quantity_format(ratio, 0, adm, sizeof adm), type);
			snprintf(adm, sizeof adm, "%s max limit to request ratio per %s is %s",
				 rc_name[k], type, kube_quantity_format(ratio, 0, a, sizeof a));
			lr_report(s, w->key, lr, what, adm);
		}
	}
}

void kube_predict_limit_range(struct kube_predict *s)
{
	struct wls w = { 0 };
	json_t *lrs, *lr, *it;
	size_t i, j;

	if (!(lrs = kube_predict_live(s, KUBE_LIVE_LIMITRANGES, KUBE_R_LIMIT_RANGE)) ||
	    !json_array_size(lrs))
		return;
	if (wls_collect(s, lrs, &w) < 0) {
		phd_log(s->ctx, PHD_LOG_WARN, "kube: %s: out of memory: not predicted",
			KUBE_R_LIMIT_RANGE);
		wls_free(&w);
		return;
	}
	json_array_foreach(lrs, i, lr)
		json_array_foreach(json_object_get(json_object_get(lr, "spec"), "limits"), j, it) {
			const char *type = kube_jstr(it, "type");
			for (size_t k = 0; k < w.n; k++) {
				if (!strcmp(type, "Container"))
					for (size_t c = 0; c < w.v[k].nc; c++)
						lr_item(s, name_of(lr), it, &w.v[k], &w.v[k].c[c]);
				else if (!strcmp(type, "Pod"))
					lr_item(s, name_of(lr), it, &w.v[k], NULL);
			}
		}
	wls_free(&w);
}
