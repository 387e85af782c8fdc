/* VERIFY-phase validator `drift`: the live objects against what the
 * release deployed (its stored manifest, post-rendered as helm applied
 * it), object by object and field by field, each finding with the command
 * that restores the object.  Reads only: helm get manifest, kubectl get. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "objdiff.h"

struct drift {
	phd_validation *v;
	phd_ctx *ctx;
	const struct kube_conf *cf;
	const char *release, *ns;
	json_t *stored, *live;   /* key -> object */
	json_t *scaled;          /* "Kind/name" an HPA of the release scales */
	struct phd_exec_result secrets;  /* its live Secrets (kube_secrets_read) */
	int as_log;              /* report as warnings, not findings (see below) */
	int helm_ssa;            /* a live object of the release is helm 4's, applied
				  * server-side */
	size_t compared, drifted;
};

/* Paths shown per object; the count of the rest follows. */
#define DRIFT_MAX_PATHS 8
/* A value longer than this is cut (a whole container list, a config file). */
#define DRIFT_MAX_VALUE 80

/* ---- the restore commands ---------------------------------------------- */

/* Selects one object (kind k, metadata.name n) of helm's stored manifest,
 * whose documents each start with a `---` line: the `kind:` line and the
 * 2-space `name:` under the top-level `metadata:`, quotes dropped (block
 * style, as helm stores it).  POSIX awk: mawk and gawk alike. */
#define DRIFT_AWK "/^---/{if(K&&N)printf \"%s\",d;d=\"\";K=N=M=0;next}" \
	"{d=d $0 \"\\n\";l=$0;gsub(/\"/,\"\",l)}l==\"kind: \"k{K=1}" \
	"/^[^ ]/{M=l==\"metadata:\"}M&&l==\"  name: \"n{N=1}END{if(K&&N)printf \"%s\",d}"

/* `helm get manifest ... | awk (this object) | kubectl VERB -n NS -f -`:
 * the stored object re-applied as the release holds it; values (a
 * Secret's) only pass through the pipe. */
/* The verb SSA_AS_HELM: server-side apply under helm's own field manager,
 * taking back the fields another writer took (see restore_for). */
#define SSA_AS_HELM "apply --server-side"

static char *restore_pipe(struct drift *d, const char *kind, const char *name, const char *verb)
{
	struct kube_argv h, a, k;
	const char *kctx = phd_ctx_kube_context(d->ctx);
	char *hl, *al, *kl, *out = NULL;

	memset(&h, 0, sizeof h);
	kube_argv_add(&h, phd_ctx_helm(d->ctx) && *phd_ctx_helm(d->ctx) ? phd_ctx_helm(d->ctx)
		      : "helm");
	kube_argv_add(&h, "get");
	kube_argv_add(&h, "manifest");
	kube_argv_add(&h, d->release);
	kube_argv_add(&h, "-n");
	kube_argv_add(&h, d->ns);
	if (kctx && *kctx)
		kube_argv_addf(&h, "--kube-context=%s", kctx);
	memset(&a, 0, sizeof a);
	kube_argv_add(&a, "awk");
	kube_argv_add(&a, "-v");
	kube_argv_addf(&a, "k=%s", kind);
	kube_argv_add(&a, "-v");
	kube_argv_addf(&a, "n=%s", name);
	kube_argv_add(&a, DRIFT_AWK);
	kube_argv_init(&k, d->ctx);
	if (!strcmp(verb, SSA_AS_HELM)) {
		kube_argv_add(&k, "apply");
		kube_argv_add(&k, "--server-side");
		kube_argv_add(&k, "--field-manager=helm");
		kube_argv_add(&k, "--force-conflicts");
	} else {
		kube_argv_add(&k, verb);
	}
	kube_argv_add(&k, "-n");
	kube_argv_add(&k, d->ns);
	kube_argv_add(&k, "-f");
	kube_argv_add(&k, "-");
	hl = kube_argv_line(&h);
	al = kube_argv_line(&a);
	kl = kube_argv_line(&k);
	if (hl && al && kl && asprintf(&out, "%s | %s | %s", hl, al, kl) < 0)
		out = NULL;
	free(hl);
	free(al);
	free(kl);
	kube_argv_free(&h);
	kube_argv_free(&a);
	kube_argv_free(&k);
	return out;
}

/* kubectl's name for an object: kind.group/name ("deployment.apps/web"),
 * kind/name for the core group. */
static void type_name(json_t *o, char *buf, size_t cap)
{
	const char *av = kube_jstr(o, "apiVersion"), *slash = strchr(av, '/');
	const char *kind = kube_jstr(o, "kind");
	size_t n = 0;

	for (; kind[n] && n < cap - 1; n++)
		buf[n] = (char)(kind[n] >= 'A' && kind[n] <= 'Z' ? kind[n] + 32 : kind[n]);
	buf[n] = '\0';
	if (slash)
		snprintf(buf + n, cap - n, ".%.*s", (int)(slash - av), av);
	n = strlen(buf);
	snprintf(buf + n, cap - n, "/%s", kube_jstr(json_object_get(o, "metadata"), "name"));
}

/* `kubectl scale KIND/NAME -n NS --replicas=N`: what a hand scale undoes. */
static char *restore_scale(struct drift *d, json_t *o, json_t *n)
{
	struct kube_argv a;
	char tn[512], *out;

	type_name(o, tn, sizeof tn);
	kube_argv_init(&a, d->ctx);
	kube_argv_add(&a, "scale");
	kube_argv_add(&a, tn);
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, d->ns);
	kube_argv_addf(&a, "--replicas=%lld", (long long)json_integer_value(n));
	out = kube_argv_line(&a);
	kube_argv_free(&a);
	return out;
}

/* The JSON merge patch (RFC 7386) that turns live (projected) back into
 * stored: the stored value at each path that differs, null for a key only
 * live has; NULL when they are the same.  A list is replaced whole, as
 * the release holds it (the server defaults what it adds again). */
static json_t *merge_patch(json_t *live, json_t *stored)
{
	if (json_is_object(live) && json_is_object(stored)) {
		json_t *out = json_object(), *v, *p;
		const char *k;
		json_object_foreach(stored, k, v)
			if ((p = merge_patch(json_object_get(live, k), v)))
				json_object_set_new(out, k, p);
		json_object_foreach(live, k, v)
			if (!json_object_get(stored, k))
				json_object_set_new(out, k, json_null());
		if (json_object_size(out))
			return out;
		json_decref(out);
		return NULL;
	}
	if (kube_same(live, stored))
		return NULL;
	return stored ? json_deep_copy(stored) : json_null();
}

/* A patch inline on the command line up to this size; past it (a whole
 * config file) the stored object is applied through a pipe. */
#define DRIFT_MAX_PATCH 2048

/* `kubectl patch KIND/NAME -n NS --type merge -p PATCH`. */
static char *restore_patch(struct drift *d, json_t *o, json_t *patch)
{
	struct kube_argv a;
	char tn[512], *text, *out = NULL;

	text = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text || strlen(text) > DRIFT_MAX_PATCH) {
		free(text);
		return NULL;
	}
	type_name(o, tn, sizeof tn);
	kube_argv_init(&a, d->ctx);
	kube_argv_add(&a, "patch");
	kube_argv_add(&a, tn);
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, d->ns);
	kube_argv_add(&a, "--type");
	kube_argv_add(&a, "merge");
	kube_argv_add(&a, "-p");
	kube_argv_add(&a, text);
	out = kube_argv_line(&a);
	kube_argv_free(&a);
	free(text);
	return out;
}

/* The part of a merge patch that removes keys (its nulls), or NULL. */
static json_t *nulls_only(json_t *patch)
{
	json_t *out, *v, *c;
	const char *k;

	if (!json_is_object(patch))
		return json_is_null(patch) ? json_null() : NULL;
	out = json_object();
	json_object_foreach(patch, k, v)
		if ((c = nulls_only(v)))
			json_object_set_new(out, k, c);
	if (json_object_size(out))
		return out;
	json_decref(out);
	return NULL;
}

/* Whether helm 4 applied live server-side (its field manager "helm"). */
static int helm_applied(json_t *live)
{
	json_t *m;
	size_t i;

	json_array_foreach(json_object_get(json_object_get(live, "metadata"), "managedFields"), i, m)
		if (!strcmp(kube_jstr(m, "manager"), "helm") &&
		    !strcmp(kube_jstr(m, "operation"), "Apply"))
			return 1;
	return 0;
}

/* The restore of an object helm 4 applied server-side: a kubectl scale or
 * patch would set the value back but leave the field co-owned by kubectl,
 * and the next upgrade that changes it fails with a conflict; the stored
 * object applied server-side as "helm", forced, gives every field back to
 * helm.  Keys added by hand (patch's nulls) are not helm's to remove: a
 * merge patch of those nulls follows. */
static char *restore_as_helm(struct drift *d, json_t *s, json_t *patch)
{
	json_t *nulls = patch ? nulls_only(patch) : NULL;
	char *apply = restore_pipe(d, kube_jstr(s, "kind"),
				   kube_jstr(json_object_get(s, "metadata"), "name"), SSA_AS_HELM);
	char *del = nulls ? restore_patch(d, s, nulls) : NULL, *out = NULL;

	if (apply && del && asprintf(&out, "%s && %s", apply, del) < 0)
		out = NULL;
	json_decref(nulls);
	if (out || !apply) {
		free(apply);
		free(del);
		return out;
	}
	free(del);
	return apply;
}

/* ---- comparing ---------------------------------------------------------- */

/* A value as it reads in a message: compact JSON (a string quoted, its
 * line breaks escaped), cut at DRIFT_MAX_VALUE. */
static void put_value(FILE *f, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	size_t n = s ? strlen(s) : 0;

	if (!v)
		fputs("(unset)", f);
	else if (n > DRIFT_MAX_VALUE)
		fprintf(f, "%.*s...", DRIFT_MAX_VALUE, s);
	else
		fputs(s ? s : "?", f);
	free(s);
}

/* Each path where live (projected) and stored differ, with both values;
 * all counted, the first DRIFT_MAX_PATHS printed; only_replicas stays 1
 * while spec.replicas is the one path. */
struct paths {
	FILE *f;
	int n, only_replicas;
};

static void add_path(const char *path, json_t *live, json_t *stored, void *arg)
{
	struct paths *p = arg;

	if (strcmp(path, "spec.replicas") || !json_is_integer(stored))
		p->only_replicas = 0;
	if (p->n++ >= DRIFT_MAX_PATHS)
		return;
	fprintf(p->f, "\n  %s: live ", *path ? path : "(the object)");
	put_value(p->f, live);
	fputs(", deployed ", p->f);
	put_value(p->f, stored);
}

/* Live maps whose every key is the release's: a key added by hand is
 * drift, where elsewhere (labels, annotations) other writers add keys. */
static const char *const whole_maps[] = { "data", "binaryData" };

/* Report one drifted object: as a finding, or, after a deploy whose rule
 * was raised to error, as a warning (see kube_drift_validator). */
static void report(struct drift *d, const char *key, const char *what, const char *sep,
		   const char *restore)
{
	d->drifted++;
	if (d->as_log)
		phd_log(d->ctx, PHD_LOG_WARN, "kube: drift: %s: %s%srestore: %s", key, what, sep,
			restore ? restore : "phdeploy deploy");
	else
		phd_validation_report(d->v, "drift", PHD_SEV_WARN, key, NULL, NULL,
				      "%s%srestore: %s", what, sep,
				      restore ? restore : "phdeploy deploy");
}

static void compare_object(struct drift *d, const char *key, json_t *s)
{
	const char *kind = kube_jstr(s, "kind");
	const char *name = kube_jstr(json_object_get(s, "metadata"), "name");
	json_t *l = json_object_get(d->live, key), *w, *p;
	char *buf = NULL, *restore = NULL;
	size_t len = 0;
	struct paths ps = { NULL, 0, 1 };

	d->compared++;
	if (!l) {
		/* created server-side as helm when the release was applied so */
		restore = d->helm_ssa ? restore_as_helm(d, s, NULL) : restore_pipe(d, kind, name,
										       "create");
		report(d, key, "deleted: in the release, not in the cluster", "; ", restore);
		free(restore);
		return;
	}
	w = json_deep_copy(s);
	/* helm's manifest may name the namespace of a cluster-scoped object
	 * (the server drops it) or leave it out of a namespaced one */
	json_object_del(json_object_get(w, "metadata"), "namespace");
	/* the autoscaler owns the replicas of what it scales */
	if (json_object_get(d->scaled, key))
		json_object_del(json_object_get(w, "spec"), "replicas");
	p = kube_project(w, l);
	if (!strcmp(kind, "ConfigMap"))
		for (size_t i = 0; i < sizeof whole_maps / sizeof *whole_maps; i++) {
			json_t *lm = json_object_get(l, whole_maps[i]);
			if (lm)
				json_object_set(p, whole_maps[i], lm);
		}
	if (kube_same(w, p) || !(ps.f = open_memstream(&buf, &len)))
		goto out;
	fputs("differs from the release:", ps.f);
	kube_diff_walk(p, w, add_path, &ps);
	if (ps.n > DRIFT_MAX_PATHS)
		fprintf(ps.f, "\n  and %d more", ps.n - DRIFT_MAX_PATHS);
	fclose(ps.f);
	if (helm_applied(l)) {
		json_t *patch = merge_patch(p, w);
		restore = restore_as_helm(d, s, patch);
		json_decref(patch);
	} else if (ps.only_replicas &&
		   (!strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet"))) {
		restore = restore_scale(d, s, json_object_get(json_object_get(w, "spec"), "replicas"));
	} else {
		json_t *patch = merge_patch(p, w);
		restore = patch ? restore_patch(d, s, patch) : NULL;
		json_decref(patch);
		/* too long to read: the stored object through a pipe; replace for a
		 * ConfigMap (a key added by hand goes too), apply for the rest (it
		 * leaves what other writers own) */
		if (!restore)
			restore = restore_pipe(d, kind, name, !strcmp(kind, "ConfigMap") ? "replace"
					       : "apply");
	}
	report(d, key, buf ? buf : "differs from the release", "\n", restore);
out:
	free(buf);
	free(restore);
	json_decref(w);
	json_decref(p);
}

/* The release's Secrets: key names and "changed" only. */
static int compare_secret(struct drift *d, const char *key, json_t *s)
{
	const char *name = kube_jstr(json_object_get(s, "metadata"), "name");
	struct kube_wbuf b = { 0 };
	char *changes = NULL, *restore = NULL, *msg = NULL;
	int exists = 0, rc;

	d->compared++;
	kube_secret_desired(s, &b);
	if (b.failed) {
		kube_wbuf_free(&b);
		return PHD_ENOMEM;
	}
	rc = kube_secret_compare(&d->secrets, name, &b, "not in the release", &exists, &changes);
	kube_wbuf_free(&b);
	if (rc < 0)
		return phd_set_error(d->ctx, rc, "kube: out of memory");
	if (!exists || changes) {
		restore = d->helm_ssa ? restore_as_helm(d, s, NULL)
			  : restore_pipe(d, "Secret", name, exists ? "replace" : "create");
		if (asprintf(&msg, "%s%s", exists ? changes : "deleted: in the release, not in "
			     "the cluster", exists ? " (values not shown)" : "") < 0)
			msg = NULL;
		report(d, key, msg ? msg : "differs", "; ", restore);
	}
	free(msg);
	free(changes);
	free(restore);
	return 0;
}

/* What is not drift: a Job named with the render time (the migrate Job:
 * every deploy makes a new one and the old ones go), a Job gone after its
 * ttlSecondsAfterFinished. */
static int volatile_object(struct drift *d, json_t *s, const char *key)
{
	if (strcmp(kube_jstr(s, "kind"), "Job"))
		return 0;
	if (kube_volatile_name(kube_jstr(json_object_get(s, "metadata"), "name")))
		return 1;
	return !json_object_get(d->live, key) &&
	       json_object_get(json_object_get(s, "spec"), "ttlSecondsAfterFinished");
}

static json_t *hpa_targets(json_t *stored)
{
	json_t *out = json_object(), *o;
	const char *k;

	json_object_foreach(stored, k, o) {
		json_t *ref = json_object_get(json_object_get(o, "spec"), "scaleTargetRef");
		char t[300];
		if (strcmp(kube_jstr(o, "kind"), "HorizontalPodAutoscaler") || !ref)
			continue;
		snprintf(t, sizeof t, "%s/%s", kube_jstr(ref, "kind"), kube_jstr(ref, "name"));
		json_object_set_new(out, t, json_true());
	}
	return out;
}

/* Whether this verify follows a deploy of the same run whose findings at
 * error would fail verify and so roll that deploy back: drift is not the
 * rollout's fault, and the previous revision would not undo it. */
static int rule_is(phd_ctx *ctx, const char *sev)
{
	const char *s = phd_node_str(phd_node_get(phd_ctx_config(ctx), "rules.drift"));
	return s && !strcmp(s, sev);
}

static int after_deploy_at_error(phd_ctx *ctx)
{
	const char *s = phd_node_str(phd_node_get(phd_ctx_config(ctx), "rules.drift"));

	return phd_ctx_phase_status(ctx, PHD_PHASE_DEPLOY) == PHD_STATUS_OK && s &&
	       !rule_is(ctx, "off") && !rule_is(ctx, "info") && !rule_is(ctx, "warn");
}

int kube_drift_validator(phd_validation *v, void *userdata)
{
	struct drift d = { .v = v, .cf = userdata };
	json_t *list = NULL, *sets[1], *o;
	char err[256], *manifest;
	const char *k;
	int nf, rc = 0;

	d.ctx = phd_validation_ctx(v);
	d.release = phd_ctx_release(d.ctx);
	d.ns = phd_ctx_namespace(d.ctx);
	if (!d.release || !*d.release || !d.ns || !*d.ns)
		return 0;
	if (rule_is(d.ctx, "off"))
		return 0;  /* nothing would be reported: no reads */
	d.as_log = after_deploy_at_error(d.ctx);
	manifest = kube_helm_get(d.ctx, d.cf, d.release, d.ns, "manifest", NULL, "drift", &nf);
	if (!manifest) {
		phd_log(d.ctx, PHD_LOG_WARN, "kube: drift: the release %s %s: no drift check",
			d.release, nf ? "is not installed" : "could not be read");
		return 0;
	}
	list = kube_yaml_objects(manifest, strlen(manifest), err, sizeof err);
	explicit_bzero(manifest, strlen(manifest));
	free(manifest);
	if (!list) {
		phd_log(d.ctx, PHD_LOG_WARN, "kube: drift: cannot read the stored manifest: %s", err);
		return 0;
	}
	d.stored = kube_by_key(list, d.release);
	d.scaled = hpa_targets(d.stored);
	sets[0] = d.stored;
	if (kube_live_objects(d.ctx, d.cf, d.ns, d.release, sets, 1, &d.live) < 0) {
		phd_log(d.ctx, PHD_LOG_WARN, "kube: drift: %s: no drift check",
			phd_ctx_errmsg(d.ctx));
		goto out;
	}
	json_object_foreach(d.live, k, o)
		d.helm_ssa |= helm_applied(o);
	if (kube_secrets_read(d.ctx, d.cf, d.ns, d.stored, NULL, 0, &d.secrets) < 0) {
		phd_log(d.ctx, PHD_LOG_WARN, "kube: drift: %s: no drift check",
			phd_ctx_errmsg(d.ctx));
		goto out;
	}
	json_object_foreach(d.stored, k, o) {
		if (volatile_object(&d, o, k))
			continue;
		if (strcmp(kube_jstr(o, "kind"), "Secret")) {
			compare_object(&d, k, o);
		} else if (compare_secret(&d, k, o) < 0) {
			phd_log(d.ctx, PHD_LOG_WARN, "kube: drift: %s", phd_ctx_errmsg(d.ctx));
			break;
		}
	}
	phd_log(d.ctx, d.drifted ? PHD_LOG_WARN : PHD_LOG_INFO, "kube: drift: %zu of %zu "
		"object(s) of release %s differ from its stored manifest%s", d.drifted,
		d.compared, d.release, d.as_log ? " (after a deploy: warnings, so the rollback "
		"stays about the rollout)" : "");
out:
	json_decref(list);
	json_decref(d.stored);
	json_decref(d.live);
	json_decref(d.scaled);
	phd_exec_result_clear(&d.secrets);
	return rc;
}
