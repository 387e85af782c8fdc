/* RENDER-phase validator `diff` (plan, diff, --dry-run only): the new
 * render against the release's stored manifest (helm get manifest) and the
 * live objects (kubectl get), object by object, and the deployed values
 * against the new ones.  Read-only: helm get and kubectl get, nothing else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube.h"
#include "objdiff.h"

struct dstate {
	phd_validation *v;
	phd_ctx *ctx;
	const struct kube_conf *cf;
	const char *release, *ns;
	json_t *want, *stored, *live;    /* key -> object */
	struct phd_exec_result secrets;  /* the live Secrets (kube_secrets_read) */
	int have_release;
	size_t added, changed, removed, unchanged, live_differ;
};

/* ---- reading -------------------------------------------------------- */

static char *helm_get(struct dstate *d, const char *what, const char *fmt, int *notfound)
{
	return kube_helm_get(d->ctx, d->cf, d->release, d->ns, what, fmt, "diff", notfound);
}

/* The argument kubectl takes for an object's type: Kind for the core
 * group, Kind.version.group otherwise. */
static void type_arg(json_t *o, char *buf, size_t cap)
{
	const char *av = kube_jstr(o, "apiVersion"), *slash = strchr(av, '/');

	if (slash)
		snprintf(buf, cap, "%s.%s.%.*s", kube_jstr(o, "kind"), slash + 1,
			 (int)(slash - av), av);
	else
		snprintf(buf, cap, "%s", kube_jstr(o, "kind"));
}

/* kubectl get TYPES -n NS -o json: the items that sets[] hold go into
 * live, keyed alike.  *unserved when the server does not serve a type (a
 * CRD not installed yet): then nothing was read. */
static int get_into(phd_ctx *ctx, const struct kube_conf *cf, const char *ns,
		    const char *release, const char *types, json_t *sets[], size_t nsets,
		    json_t *live, int *unserved)
{
	struct kube_argv a;
	struct phd_exec_result res;
	json_t *list, *it;
	size_t i;
	int rc;

	*unserved = 0;
	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, types);
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, ns);
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, "json");
	/* who applied what: drift's restore gives helm 4's fields back to it */
	kube_argv_add(&a, "--show-managed-fields");
	rc = kube_run(ctx, cf, &a, NULL, 0, 0, &res);
	if (rc == 0 && res.exit_code != 0) {
		/* anything but an unserved type leaves the state unknown; kubectl
		 * words it two ways: unknown to discovery, or known to its
		 * discovery cache and answered 404 (a CRD deleted minutes ago) */
		if (res.err && (memmem(res.err, res.err_len, "doesn't have a resource type", 28) ||
				memmem(res.err, res.err_len, "could not find the requested resource",
				       37)))
			*unserved = 1;
		else
			rc = kube_fail(ctx, PHD_EUNREACHABLE, &a, &res, "cannot read live objects");
	} else if (rc == 0) {
		list = json_loadb(res.out ? res.out : "", res.out_len, 0, NULL);
		json_array_foreach(json_object_get(list, "items"), i, it) {
			char *key;
			/* the items of one type's List may lack their type */
			if (!*kube_jstr(it, "kind") && !strchr(types, ',')) {
				char kind[128];
				snprintf(kind, sizeof kind, "%.*s", (int)strcspn(types, "."), types);
				json_object_set_new(it, "kind", json_string(kind));
			}
			key = kube_obj_key(it, release);
			for (size_t s = 0; key && s < nsets; s++)
				if (json_object_get(sets[s], key)) {
					json_object_set(live, key, it);
					break;
				}
			free(key);
		}
		json_decref(list);
	}
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
	return rc;
}

/* Live objects of each type the render or the release holds, keyed like
 * them: one kubectl call for every type (a kubectl process costs more than
 * what it reads), one per type when the server lacks one of them.  Secrets
 * are read apart (values stay out of this process's unwiped memory). */
int kube_live_objects(phd_ctx *ctx, const struct kube_conf *cf, const char *ns,
		      const char *release, json_t *sets[], size_t nsets, json_t **out)
{
	json_t *types = json_object(), *live = json_object(), *o;
	const char *k, *t;
	char *all = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&all, &len);
	int rc = 0, unserved = 0;

	for (size_t s = 0; s < nsets; s++)
		json_object_foreach(sets[s], k, o) {
			char arg[256];
			if (!strcmp(kube_jstr(o, "kind"), "Secret"))
				continue;
			type_arg(o, arg, sizeof arg);
			json_object_set_new(types, arg, json_true());
		}
	json_object_foreach(types, t, o)
		if (f)
			fprintf(f, "%s%s", n++ ? "," : "", t);
	if (!f || fclose(f) != 0 || !types || !live) {
		rc = phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
	} else if (n) {
		rc = get_into(ctx, cf, ns, release, all, sets, nsets, live, &unserved);
		if (rc == 0 && unserved)
			json_object_foreach(types, t, o) {
				if ((rc = get_into(ctx, cf, ns, release, t, sets, nsets, live,
						   &unserved)) < 0)
					break;
				if (unserved)
					phd_log(ctx, PHD_LOG_DEBUG, "kube: the server serves no %s", t);
			}
	}
	free(all);
	json_decref(types);
	if (rc < 0) {
		json_decref(live);
		return rc;
	}
	*out = live;
	return 0;
}

/* ---- what changed ---------------------------------------------------- */

static void unstamp(json_t *md)
{
	const char *name = kube_jstr(md, "name");
	size_t stem = kube_volatile_name(name);
	char buf[300];

	if (!stem)
		return;
	snprintf(buf, sizeof buf, "%.*s-*", (int)stem, name);
	json_object_set_new(md, "name", json_string(buf));
}

/* The chart writes the helm operation, revision and kube version into
 * this variable: `helm template` cannot know them, so it differs on every
 * upgrade without changing anything that matters. */
#define VOLATILE_ENV "HELM_INSTALL_INFO"

static void drop_volatile_env(json_t *pod)
{
	static const char *const lists[] = { "containers", "initContainers" };
	for (size_t l = 0; l < 2; l++) {
		json_t *c, *e;
		size_t i, j;
		json_array_foreach(json_object_get(pod, lists[l]), i, c)
			json_array_foreach(json_object_get(c, "env"), j, e)
				if (!strcmp(kube_jstr(e, "name"), VOLATILE_ENV))
					json_object_del(e, "value");
	}
}

/* A copy of o fit for comparing: no checksums (returned apart), render-
 * time names under their one name, no namespace (helm's stored manifest
 * often lacks it), no volatile variable. */
static json_t *comparable(json_t *o, const char *release, json_t **sums)
{
	json_t *c = json_deep_copy(o), *md, *tmpl;

	(void)release;
	*sums = kube_take_checksums(c);
	md = json_object_get(c, "metadata");
	json_object_del(md, "namespace");
	tmpl = json_object_get(json_object_get(c, "spec"), "template");
	if (!strcmp(kube_jstr(c, "kind"), "Job")) {
		unstamp(md);
		unstamp(json_object_get(tmpl, "metadata"));
	}
	drop_volatile_env(json_object_get(tmpl, "spec"));
	return c;
}

/* The message about one object: what it is against the release, what it
 * is against the cluster, and the diff that shows it. */
static void report_object(struct dstate *d, const char *key, json_t *want, json_t *stored,
			  json_t *live)
{
	json_t *w = NULL, *s = NULL, *l = NULL, *wsum = NULL, *ssum = NULL, *lsum = NULL;
	char *sumchg = NULL, *fields = NULL, *udiff = NULL, *wt = NULL, *ht = NULL;
	const char *state;
	int live_same = 1;

	if (want)
		w = comparable(want, d->release, &wsum);
	if (stored)
		s = comparable(stored, d->release, &ssum);
	if (live && want) {
		json_t *p = kube_project(want, live);
		l = comparable(p, d->release, &lsum);
		json_decref(p);
		live_same = kube_same(w, l);
	}
	if (!want) {
		state = "removed: in the release, not in this render (helm deletes it)";
		d->removed++;
	} else if (!stored) {
		state = live ? "added; an object of that name is live and not the release's "
			"(helm refuses to adopt it)" : "added";
		d->added++;
	} else if (!kube_same(w, s) || (sumchg = kube_checksum_changes(wsum, ssum))) {
		state = "changed against the release";
		d->changed++;
	} else {
		state = NULL;
		d->unchanged++;
	}
	if (want && stored && !live)
		d->live_differ++;
	else if (want && live && !live_same)
		d->live_differ++;
	if (!state && live_same && (live || !stored))
		goto out;
	/* the diff against what is live when there is something, else against
	 * the stored manifest */
	if (want && (l || s)) {
		ht = kube_obj_text(l ? l : s);
		wt = kube_obj_text(w);
		if (ht && wt && strcmp(ht, wt))
			udiff = kube_udiff(ht, wt, l ? "live" : "release", "new");
		fields = kube_changed_fields(l ? l : s, w);
	}
	if (!sumchg && want && stored)
		sumchg = kube_checksum_changes(wsum, ssum);
	phd_validation_report(d->v, "diff", PHD_SEV_INFO, key, NULL, NULL,
			      "%s%s%s%s%s%s%s%s%s%s", state ? state : "unchanged in the release",
			      want && stored && !live ? "; missing in the cluster (deleted outside "
			      "helm)" : "", want && live && !live_same ? "; the live object differs" : "",
			      fields && *fields ? " (" : "", fields && *fields ? fields : "",
			      fields && *fields ? ")" : "",
			      sumchg ? "; checksum changed: " : "", sumchg ? sumchg : "",
			      udiff ? "\n" : "", udiff ? udiff : "");
out:
	free(sumchg);
	free(fields);
	free(udiff);
	free(wt);
	free(ht);
	json_decref(w);
	json_decref(s);
	json_decref(l);
	json_decref(wsum);
	json_decref(ssum);
	json_decref(lsum);
}

/* ---- Secrets: key names and "changed", never a value ------------------ */

/* desired: "k=base64\n" lines in wiped memory, against the live ones of
 * d->secrets.  Reports the Secret. */
static int report_secret(struct dstate *d, const char *name, const struct kube_wbuf *desired,
			 const char *origin, int in_release)
{
	char *changes = NULL, key[300];
	int exists, rc;

	rc = kube_secret_compare(&d->secrets, name, desired, NULL, &exists, &changes);
	if (rc < 0)
		return phd_set_error(d->ctx, rc, "kube: out of memory");
	snprintf(key, sizeof key, "Secret/%s", name);
	if (!exists) {
		phd_validation_report(d->v, "diff", PHD_SEV_INFO, key, NULL, NULL,
				      "%s; not in the cluster (%s)", in_release ?
				      "missing in the cluster" : "added", origin);
		d->live_differ += in_release;
	} else if (changes) {
		phd_validation_report(d->v, "diff", PHD_SEV_INFO, key, NULL, NULL,
				      "%s (%s; values not shown)", changes, origin);
		d->live_differ++;
	}
	free(changes);
	return 0;
}

/* The provider's Secrets that go to this namespace. */
static int provided_here(struct dstate *d, const struct phd_secret_view *s)
{
	return s && !(s->namespace_ && *s->namespace_ && strcmp(s->namespace_, d->ns));
}

/* Every Secret compared, the live ones read with one kubectl. */
static int read_secrets(struct dstate *d)
{
	const char **names = calloc(phd_secret_count(d->ctx) + 1, sizeof *names);
	size_t n = 0;
	int rc;

	if (!names)
		return phd_set_error(d->ctx, PHD_ENOMEM, "kube: out of memory");
	for (size_t i = 0; i < phd_secret_count(d->ctx); i++)
		if (provided_here(d, phd_secret_at(d->ctx, i)))
			names[n++] = phd_secret_at(d->ctx, i)->name;
	rc = kube_secrets_read(d->ctx, d->cf, d->ns, d->want, names, n, &d->secrets);
	free(names);
	return rc;
}

/* The chart's Secrets and the ones phdeploy applies from the providers. */
static int diff_secrets(struct dstate *d)
{
	const char *k;
	json_t *o;
	int rc;

	if ((rc = read_secrets(d)) < 0)
		return rc;
	json_object_foreach(d->want, k, o) {
		struct kube_wbuf b = { 0 };
		json_t *sd = json_object_get(o, "stringData");
		json_t *so = json_object_get(d->stored, k);
		if (strcmp(kube_jstr(o, "kind"), "Secret"))
			continue;
		kube_secret_desired(o, &b);
		if (!so)
			d->added++;
		else if (!kube_same(json_object_get(o, "data"), json_object_get(so, "data")) ||
			 !kube_same(sd, json_object_get(so, "stringData")))
			d->changed++;
		else
			d->unchanged++;
		if (!b.failed)
			rc = report_secret(d, kube_jstr(json_object_get(o, "metadata"), "name"), &b,
					   "the chart's", so != NULL);
		kube_wbuf_free(&b);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < phd_secret_count(d->ctx); i++) {
		const struct phd_secret_view *s = phd_secret_at(d->ctx, i);
		struct kube_wbuf b = { 0 };
		if (!provided_here(d, s))
			continue;
		for (size_t j = 0; j < s->nkeys; j++) {
			kube_wbuf_put(&b, s->kv[j].key, strlen(s->kv[j].key));
			kube_wbuf_put(&b, "=", 1);
			kube_base64_put(&b, s->kv[j].value, s->kv[j].len);
			kube_wbuf_put(&b, "\n", 1);
		}
		if (!b.failed)
			rc = report_secret(d, s->name, &b, s->origin ? s->origin : "a secrets: entry",
					   0);
		kube_wbuf_free(&b);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- values ------------------------------------------------------------ */

static int secret_key_name(const char *path)
{
	const char *last = strrchr(path, '.');
	last = last ? last + 1 : path;
	if (!strncasecmp(last, "existing", 8))
		return 0;  /* the name of a Secret, not its value */
	return strcasestr(last, "password") || strcasestr(last, "passwd") ||
	       strcasestr(last, "token") || strcasestr(last, "secret") ||
	       strcasestr(path, "secretkey");
}

static void flatten_json(json_t *v, const char *prefix, json_t *out)
{
	char p[1024];
	if (json_is_object(v)) {
		const char *k;
		json_t *c;
		json_object_foreach(v, k, c) {
			snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k);
			flatten_json(c, p, out);
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *c;
		json_array_foreach(v, i, c) {
			snprintf(p, sizeof p, "%s[%zu]", prefix, i);
			flatten_json(c, p, out);
		}
	} else {
		json_object_set(out, prefix, v);
	}
}

static void flatten_node(const phd_node *n, const char *prefix, json_t *out)
{
	char p[1024];
	switch (phd_node_type(n)) {
	case PHD_NODE_MAP:
		for (size_t i = 0; i < phd_node_len(n); i++) {
			snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "",
				 phd_node_key_at(n, i));
			flatten_node(phd_node_at(n, i), p, out);
		}
		break;
	case PHD_NODE_SEQ:
		for (size_t i = 0; i < phd_node_len(n); i++) {
			snprintf(p, sizeof p, "%s[%zu]", prefix, i);
			flatten_node(phd_node_at(n, i), p, out);
		}
		break;
	case PHD_NODE_SCALAR:
		json_object_set_new(out, prefix, json_string(phd_node_str(n)));
		break;
	default:
		json_object_set_new(out, prefix, json_null());
		break;
	}
}

static void put_value(FILE *f, const char *path, json_t *v)
{
	char *s;
	if (secret_key_name(path)) {
		fputs("(masked)", f);
		return;
	}
	if (json_is_string(v)) {  /* --set values are strings: 3 and "3" alike */
		fputs(json_string_value(v), f);
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	fputs(s ? s : "?", f);
	free(s);
}

static void diff_values(struct dstate *d)
{
	int nf;
	char *text = helm_get(d, "values", "json", &nf), *buf = NULL;
	json_t *old = text ? json_loads(text, 0, NULL) : NULL;
	json_t *fo = json_object(), *fn = json_object(), *v;
	const char *k;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&buf, &len);

	if (text)
		explicit_bzero(text, strlen(text));
	free(text);
	if (!f)
		goto out;
	if (json_is_object(old))
		flatten_json(old, "", fo);
	flatten_node(phd_ctx_values(d->ctx), "", fn);
	json_object_foreach(fn, k, v) {
		json_t *o = json_object_get(fo, k);
		if (o && kube_same(o, v))
			continue;
		fprintf(f, "\n%s %s: ", o ? "~" : "+", k);
		if (o) {
			if (secret_key_name(k)) {
				fputs("changed (masked)", f);
			} else {
				put_value(f, k, o);
				fputs(" -> ", f);
				put_value(f, k, v);
			}
		} else {
			put_value(f, k, v);
		}
		n++;
	}
	json_object_foreach(fo, k, v)
		if (!json_object_get(fn, k)) {
			fprintf(f, "\n- %s: ", k);
			put_value(f, k, v);
			n++;
		}
	fclose(f);
	if (n)
		phd_validation_report(d->v, "diff", PHD_SEV_INFO, "values", NULL, NULL,
				      "%zu values key(s) differ from the deployed revision's%s", n,
				      buf ? buf : "");
out:
	free(buf);
	json_decref(old);
	json_decref(fo);
	json_decref(fn);
}

/* ---- the validator ----------------------------------------------------- */

int kube_diff_validator(phd_validation *v, void *userdata)
{
	struct dstate d = { .v = v, .cf = userdata };
	json_t *wl = NULL, *sl = NULL, *sets[2], *o;
	const char *k, *text;
	char err[256], *manifest = NULL;
	size_t len;
	int nf, rc = 0;

	d.ctx = phd_validation_ctx(v);
	/* a plain render stays offline: only plan, diff and --dry-run compare */
	if (!phd_ctx_dry_run(d.ctx))
		return 0;
	d.release = phd_ctx_release(d.ctx);
	d.ns = phd_ctx_namespace(d.ctx);
	text = phd_rendered(d.ctx, &len);
	if (!d.release || !d.ns || !text)
		return 0;
	manifest = helm_get(&d, "manifest", NULL, &nf);
	if (!manifest && !nf) {
		phd_log(d.ctx, PHD_LOG_WARN, "kube: diff: the release %s could not be read: no "
			"comparison with the cluster", d.release);
		return 0;
	}
	d.have_release = manifest != NULL;
	if (!(wl = kube_yaml_objects(text, len, err, sizeof err)) ||
	    !(sl = kube_yaml_objects(manifest ? manifest : "", manifest ? strlen(manifest) : 0,
				     err, sizeof err))) {
		rc = phd_set_error(d.ctx, PHD_EPLUGIN, "kube: diff: cannot read the %s manifest: %s",
				   wl ? "stored" : "rendered", err);
		goto out;
	}
	d.want = kube_by_key(wl, d.release);
	d.stored = kube_by_key(sl, d.release);
	sets[0] = d.want;
	sets[1] = d.stored;
	if ((rc = kube_live_objects(d.ctx, d.cf, d.ns, d.release, sets, 2, &d.live)) < 0) {
		phd_log(d.ctx, PHD_LOG_WARN, "kube: diff: %s: no comparison with the live objects",
			phd_ctx_errmsg(d.ctx));
		rc = 0;
		goto out;
	}
	json_object_foreach(d.want, k, o)
		if (strcmp(kube_jstr(o, "kind"), "Secret"))
			report_object(&d, k, o, json_object_get(d.stored, k),
				      json_object_get(d.live, k));
	json_object_foreach(d.stored, k, o)
		if (!json_object_get(d.want, k))
			report_object(&d, k, NULL, o, json_object_get(d.live, k));
	if ((rc = diff_secrets(&d)) < 0) {
		phd_log(d.ctx, PHD_LOG_WARN, "kube: diff: %s", phd_ctx_errmsg(d.ctx));
		rc = 0;
		goto out;
	}
	if (d.have_release)
		diff_values(&d);
	{
		char obj[300];
		snprintf(obj, sizeof obj, "release/%s", d.release);
		phd_validation_report(v, "diff", PHD_SEV_INFO, obj, NULL, NULL,
				      "%s: %zu added, %zu changed, %zu removed, %zu unchanged; %zu "
				      "live object(s) differ from the release",
				      d.have_release ? "against the stored release" :
				      "not installed yet", d.added, d.changed, d.removed, d.unchanged,
				      d.live_differ);
	}
out:
	if (manifest)
		explicit_bzero(manifest, strlen(manifest));
	free(manifest);
	json_decref(wl);
	json_decref(sl);
	json_decref(d.want);
	json_decref(d.stored);
	json_decref(d.live);
	phd_exec_result_clear(&d.secrets);
	return rc;
}
