/* The deployed release's stored manifest against the APIs the cluster
 * serves.  Before every upgrade helm builds the current release's objects
 * from that manifest, so one object of an API the cluster stopped serving
 * fails every upgrade ("unable to build kubernetes objects from current
 * release manifest"), whatever the new render holds.  The preflight check
 * `stored-release` finds those objects; `phdeploy migrate-release`
 * (migrate.c) rewrites them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "helm-private.h"

/* Kubernetes' removed APIs (the deprecation guide; cross-checked against
 * helm-mapkubeapis' map).  to NULL: removed without a replacement. */
static const struct helm_removed removed[] = {
	{ "extensions/v1beta1", "Deployment", "apps/v1", "1.16" },
	{ "apps/v1beta1", "Deployment", "apps/v1", "1.16" },
	{ "apps/v1beta2", "Deployment", "apps/v1", "1.16" },
	{ "apps/v1beta1", "StatefulSet", "apps/v1", "1.16" },
	{ "apps/v1beta2", "StatefulSet", "apps/v1", "1.16" },
	{ "extensions/v1beta1", "DaemonSet", "apps/v1", "1.16" },
	{ "apps/v1beta2", "DaemonSet", "apps/v1", "1.16" },
	{ "extensions/v1beta1", "ReplicaSet", "apps/v1", "1.16" },
	{ "apps/v1beta1", "ReplicaSet", "apps/v1", "1.16" },
	{ "apps/v1beta2", "ReplicaSet", "apps/v1", "1.16" },
	{ "extensions/v1beta1", "NetworkPolicy", "networking.k8s.io/v1", "1.16" },
	{ "extensions/v1beta1", "PodSecurityPolicy", NULL, "1.16" },
	{ "extensions/v1beta1", "Ingress", "networking.k8s.io/v1", "1.22" },
	{ "networking.k8s.io/v1beta1", "Ingress", "networking.k8s.io/v1", "1.22" },
	{ "networking.k8s.io/v1beta1", "IngressClass", "networking.k8s.io/v1", "1.22" },
	{ "admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration",
	  "admissionregistration.k8s.io/v1", "1.22" },
	{ "admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration",
	  "admissionregistration.k8s.io/v1", "1.22" },
	{ "apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", "apiextensions.k8s.io/v1",
	  "1.22" },
	{ "apiregistration.k8s.io/v1beta1", "APIService", "apiregistration.k8s.io/v1", "1.22" },
	{ "certificates.k8s.io/v1beta1", "CertificateSigningRequest", "certificates.k8s.io/v1",
	  "1.22" },
	{ "coordination.k8s.io/v1beta1", "Lease", "coordination.k8s.io/v1", "1.22" },
	{ "rbac.authorization.k8s.io/v1beta1", "Role", "rbac.authorization.k8s.io/v1", "1.22" },
	{ "rbac.authorization.k8s.io/v1beta1", "RoleBinding", "rbac.authorization.k8s.io/v1",
	  "1.22" },
	{ "rbac.authorization.k8s.io/v1beta1", "ClusterRole", "rbac.authorization.k8s.io/v1",
	  "1.22" },
	{ "rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding",
	  "rbac.authorization.k8s.io/v1", "1.22" },
	{ "rbac.authorization.k8s.io/v1alpha1", "Role", "rbac.authorization.k8s.io/v1", "1.22" },
	{ "rbac.authorization.k8s.io/v1alpha1", "RoleBinding", "rbac.authorization.k8s.io/v1",
	  "1.22" },
	{ "rbac.authorization.k8s.io/v1alpha1", "ClusterRole", "rbac.authorization.k8s.io/v1",
	  "1.22" },
	{ "rbac.authorization.k8s.io/v1alpha1", "ClusterRoleBinding",
	  "rbac.authorization.k8s.io/v1", "1.22" },
	{ "scheduling.k8s.io/v1beta1", "PriorityClass", "scheduling.k8s.io/v1", "1.22" },
	{ "storage.k8s.io/v1beta1", "StorageClass", "storage.k8s.io/v1", "1.22" },
	{ "storage.k8s.io/v1beta1", "CSIDriver", "storage.k8s.io/v1", "1.22" },
	{ "storage.k8s.io/v1beta1", "CSINode", "storage.k8s.io/v1", "1.22" },
	{ "storage.k8s.io/v1beta1", "VolumeAttachment", "storage.k8s.io/v1", "1.22" },
	{ "batch/v1beta1", "CronJob", "batch/v1", "1.25" },
	{ "autoscaling/v2beta1", "HorizontalPodAutoscaler", "autoscaling/v2", "1.25" },
	{ "policy/v1beta1", "PodDisruptionBudget", "policy/v1", "1.25" },
	{ "policy/v1beta1", "PodSecurityPolicy", NULL, "1.25" },
	{ "autoscaling/v2beta2", "HorizontalPodAutoscaler", "autoscaling/v2", "1.26" },
	{ "flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1",
	  "1.26" },
	{ "flowcontrol.apiserver.k8s.io/v1beta1", "PriorityLevelConfiguration",
	  "flowcontrol.apiserver.k8s.io/v1", "1.26" },
	{ "storage.k8s.io/v1beta1", "CSIStorageCapacity", "storage.k8s.io/v1", "1.27" },
	{ "flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1",
	  "1.29" },
	{ "flowcontrol.apiserver.k8s.io/v1beta2", "PriorityLevelConfiguration",
	  "flowcontrol.apiserver.k8s.io/v1", "1.29" },
	{ "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "flowcontrol.apiserver.k8s.io/v1",
	  "1.32" },
	{ "flowcontrol.apiserver.k8s.io/v1beta3", "PriorityLevelConfiguration",
	  "flowcontrol.apiserver.k8s.io/v1", "1.32" },
};

const struct helm_removed *helm_removed_find(const char *gv, const char *kind)
{
	for (size_t i = 0; i < sizeof(removed) / sizeof(removed[0]); i++)
		if (!strcmp(removed[i].gv, gv) && !strcmp(removed[i].kind, kind))
			return &removed[i];
	return NULL;
}

/* ---- the manifest, by lines ------------------------------------------ */

/* The scalar of "key: value" (quotes and a trailing comment dropped) into
 * buf; its byte range in *b / *e.  0 when the line is not that key. */
static int scalar(const char *line, const char *end, const char *key, char *buf, size_t cap,
		  const char **b, const char **e)
{
	size_t kl = strlen(key);
	const char *p = line + kl;

	if ((size_t)(end - line) <= kl || memcmp(line, key, kl) || *p != ':')
		return 0;
	p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	if (p < end && (*p == '"' || *p == '\'')) {
		const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));
		if (q) {
			p++;
			end = q;
		}
	} else {
		const char *c = p;
		while (c < end && !(*c == '#' && c > p && (c[-1] == ' ' || c[-1] == '\t')))
			c++;
		end = c;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
	}
	snprintf(buf, cap, "%.*s", (int)(end - p), p);
	*b = p;
	*e = end;
	return 1;
}

static int doc_start(const char *line, const char *end)
{
	return end - line >= 3 && !memcmp(line, "---", 3) &&
	       (end - line == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

/* Close the document [o->doc, at): kept when it names a kind. */
static int close_doc(struct helm_mobjs *out, struct helm_mobj *o, size_t at)
{
	struct helm_mobj *v;

	if (!o->kind[0] || !o->gv[0])
		return 0;
	o->doc_end = at;
	if (!(v = realloc(out->v, (out->n + 1) * sizeof(*v))))
		return PHD_ENOMEM;
	out->v = v;
	v[out->n++] = *o;
	return 0;
}

int helm_manifest_objects(const char *m, size_t len, struct helm_mobjs *out)
{
	struct helm_mobj o;
	const char *p = m, *end = m + len, *b, *e;
	int in_meta = 0, rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&o, 0, sizeof(o));
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char tmp[8];

		if (doc_start(p, le)) {
			rc = close_doc(out, &o, (size_t)(p - m));
			memset(&o, 0, sizeof(o));
			o.doc = (size_t)(p - m);
			in_meta = 0;
		} else if (*p != ' ' && *p != '\t' && *p != '#' && p < le) {
			/* top-level keys: the chart's templates write them at column 0 */
			in_meta = 0;
			if (scalar(p, le, "apiVersion", o.gv, sizeof(o.gv), &b, &e)) {
				o.av = (size_t)(b - m);
				o.av_end = (size_t)(e - m);
			} else if (!scalar(p, le, "kind", o.kind, sizeof(o.kind), &b, &e) &&
				   scalar(p, le, "metadata", tmp, sizeof(tmp), &b, &e)) {
				in_meta = 1;
			}
		} else if (in_meta && !o.name[0] && le - p > 2 && p[0] == ' ' && p[1] == ' ' &&
			   p[2] != ' ') {
			scalar(p + 2, le, "name", o.name, sizeof(o.name), &b, &e);
		}
		p = nl ? nl + 1 : end;
	}
	if (!rc)
		rc = close_doc(out, &o, len);
	if (rc)
		helm_mobjs_free(out);
	return rc;
}

void helm_mobjs_free(struct helm_mobjs *objs)
{
	free(objs->v);
	memset(objs, 0, sizeof(*objs));
}

/* ---- what the cluster serves ----------------------------------------- */

static void served_free(struct helm_served *s)
{
	free(s->gvs);
	s->gvs = NULL;
}

int helm_served_read(phd_ctx *ctx, long long timeout_ms, struct helm_served *s)
{
	struct phd_exec_result res;
	struct strv sv = { 0 };
	int rc;

	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->timeout_ms = timeout_ms;
	helm_kubectl_argv(&sv, ctx);
	strv_add(&sv, "api-versions");
	rc = helm_kubectl(ctx, &sv, NULL, 0, PHD_EXEC_CAPTURE_STDOUT, timeout_ms,
			  "reading the API versions the cluster serves", &res);
	if (!rc && !(s->gvs = strndup(res.out ? res.out : "", res.out_len)))
		rc = phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
	phd_exec_result_clear(&res);
	strv_free(&sv);
	return rc;
}

void helm_served_free(struct helm_served *s)
{
	served_free(s);
}

static int has_line(const char *list, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; p && *p;) {
		size_t l = strcspn(p, "\r\n");
		if (l == wl && !memcmp(p, word, wl))
			return 1;
		p += l;
		p += strspn(p, "\r\n");
	}
	return 0;
}

/* Whether the group version lists kind (kubectl get --raw /apis/GV): a
 * group version can outlive some of its kinds (extensions/v1beta1 served
 * Ingress until 1.22, long after its Deployment was gone).  -1: cannot
 * tell (the error is set). */
static int serves_kind(struct helm_served *s, const char *gv, const char *kind)
{
	struct phd_exec_result res;
	struct strv sv = { 0 };
	json_t *j = NULL, *r;
	size_t i;
	int rc, yes = 0;

	helm_kubectl_argv(&sv, s->ctx);
	strv_add(&sv, "get");
	strv_add(&sv, "--raw");
	strv_addf(&sv, "%s/%s", strchr(gv, '/') ? "/apis" : "/api", gv);
	rc = helm_kubectl(s->ctx, &sv, NULL, 0, PHD_EXEC_CAPTURE_STDOUT, s->timeout_ms,
			  "reading an API group version's resources", &res);
	if (!rc)
		j = json_loadb(res.out ? res.out : "", res.out_len, 0, NULL);
	json_array_foreach(json_object_get(j, "resources"), i, r) {
		const char *k = json_string_value(json_object_get(r, "kind"));
		const char *n = json_string_value(json_object_get(r, "name"));
		if (k && n && !strcmp(k, kind) && !strchr(n, '/'))
			yes = 1;
	}
	json_decref(j);
	phd_exec_result_clear(&res);
	strv_free(&sv);
	return rc ? -1 : yes;
}

int helm_served(struct helm_served *s, const char *gv, const char *kind)
{
	if (!has_line(s->gvs, gv))
		return 0;
	/* a kind the table names may be gone from a version still served */
	if (helm_removed_find(gv, kind))
		return serves_kind(s, gv, kind);
	return 1;
}

int helm_unserved_find(struct helm_served *s, const struct helm_mobjs *objs,
		       struct helm_unserved **out, size_t *n)
{
	struct helm_unserved *v = NULL;

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < objs->n; i++) {
		const struct helm_mobj *o = &objs->v[i];
		int yes = helm_served(s, o->gv, o->kind);
		struct helm_unserved *nv;

		if (yes < 0) {
			free(v);
			return PHD_EFAILED;
		}
		if (yes)
			continue;
		if (!(nv = realloc(v, (*n + 1) * sizeof(*v)))) {
			free(v);
			return phd_set_error(s->ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
		}
		v = nv;
		v[*n].obj = o;
		v[*n].known = helm_removed_find(o->gv, o->kind);
		v[*n].to_served = 0;
		if (v[*n].known && v[*n].known->to) {
			int t = helm_served(s, v[*n].known->to, o->kind);
			if (t < 0) {
				free(v);
				return PHD_EFAILED;
			}
			v[*n].to_served = t;
		}
		(*n)++;
	}
	*out = v;
	return 0;
}

void helm_unserved_describe(const struct helm_unserved *u, char *buf, size_t cap)
{
	const struct helm_mobj *o = u->obj;

	if (!u->known)
		snprintf(buf, cap, "%s/%s is %s, which the cluster does not serve (no known "
			 "replacement: install what serves it, e.g. its CRD, or remove the object "
			 "from the release)", o->kind, o->name[0] ? o->name : "(unnamed)", o->gv);
	else if (!u->known->to)
		snprintf(buf, cap, "%s/%s is %s, removed in Kubernetes %s without a replacement: "
			 "migrate-release drops it from the stored manifest", o->kind,
			 o->name[0] ? o->name : "(unnamed)", o->gv, u->known->removed_in);
	else
		snprintf(buf, cap, "%s/%s is %s, removed in Kubernetes %s: migrate-release "
			 "rewrites it to %s%s", o->kind, o->name[0] ? o->name : "(unnamed)", o->gv,
			 u->known->removed_in, u->known->to,
			 u->to_served ? "" : " (which this cluster does not serve either)");
}

/* ---- the preflight check --------------------------------------------- */

/* helm get manifest RELEASE: *missing when there is no release yet. */
static int stored_manifest(phd_ctx *ctx, long long timeout_ms, char **out, size_t *len,
			   int *missing)
{
	const char *kc = phd_ctx_kube_context(ctx);
	struct helm_watch w = { 0 };
	struct phd_exec_result res;
	struct strv sv = { 0 };
	int rc;

	*out = NULL;
	*len = 0;
	*missing = 0;
	helm_argv_start(&sv, ctx);
	strv_add(&sv, "get");
	strv_add(&sv, "manifest");
	strv_add(&sv, phd_ctx_release(ctx));
	strv_add(&sv, "--namespace");
	strv_add(&sv, phd_ctx_namespace(ctx));
	if (kc && *kc) {
		strv_add(&sv, "--kube-context");
		strv_add(&sv, kc);
	}
	/* raw: the manifest holds the chart's own Secrets; never shown */
	rc = helm_run(ctx, PHD_PHASE_PREFLIGHT, &sv, NULL,
		      PHD_EXEC_RAW_STDOUT | PHD_EXEC_CAPTURE_STDERR, timeout_ms, &w, &res);
	if (!rc && res.exit_code != 0 && res.err && strstr(res.err, "release: not found"))
		*missing = 1;
	else if (!(rc = helm_fail(ctx, "reading the stored manifest (helm get manifest)", rc,
				  &res, &w, NULL))) {
		*out = res.out;
		*len = res.out_len;
		res.out = NULL;
	}
	phd_exec_result_clear(&res);
	helm_watch_free(&w);
	strv_free(&sv);
	return rc;
}

static int stored_check(phd_check *chk, void *userdata)
{
	phd_ctx *ctx = phd_check_ctx(chk);
	long long left = phd_check_remaining_ms(chk) - 500;
	struct helm_served served = { 0 };
	struct helm_mobjs objs = { 0 };
	struct helm_unserved *un = NULL;
	size_t nun = 0, len;
	char *m = NULL, line[1024];
	int missing, rc;

	(void)userdata;
	if (left < 1000)
		left = 1000;
	if ((rc = stored_manifest(ctx, left, &m, &len, &missing)) || missing) {
		/* a first install has nothing stored; an unreadable cluster is the
		 * deploy's to report (it cannot start either) */
		if (missing)
			phd_check_summary(chk, "release %s: not installed yet, nothing stored",
					  phd_ctx_release(ctx));
		else
			phd_check_summary(chk, "release %s: stored manifest not read: %s",
					  phd_ctx_release(ctx), phd_ctx_errmsg(ctx));
		return PHD_EIGNORE;
	}
	if ((rc = helm_manifest_objects(m, len, &objs)) ||
	    (rc = helm_served_read(ctx, left / 2, &served)) ||
	    (rc = helm_unserved_find(&served, &objs, &un, &nun)))
		goto out;
	for (size_t i = 0; i < nun; i++) {
		helm_unserved_describe(&un[i], line, sizeof(line));
		phd_check_note(chk, PHD_SEV_ERROR, "release %s, stored manifest: %s",
			       phd_ctx_release(ctx), line);
	}
	if (nun)
		phd_check_summary(chk, "release %s: %zu object(s) of the stored manifest use APIs "
				  "the cluster no longer serves, so helm upgrade fails (\"unable to "
				  "build kubernetes objects from current release manifest\"); run "
				  "`phdeploy migrate-release`", phd_ctx_release(ctx), nun);
	else
		phd_check_summary(chk, "release %s: the stored manifest's %zu object(s) use served "
				  "APIs", phd_ctx_release(ctx), objs.n);
out:
	free(un);
	helm_served_free(&served);
	helm_mobjs_free(&objs);
	if (m) {
		explicit_bzero(m, len);
		free(m);
	}
	return rc ? rc : nun ? PHD_EFAILED : 0;
}

static const struct phd_config_key stored_keys[] = {
	PHD_CONFIG_END
};

int helm_stored_register(phd_plugin *p)
{
	int rc;

	if ((rc = phd_plugin_declare_config(p, "checks.stored-release", stored_keys)))
		return rc;
	return phd_register_check(p, "stored-release", stored_check, NULL, NULL);
}
