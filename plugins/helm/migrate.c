/* The action `migrate-release` (phdeploy migrate-release): rewrite the
 * deployed revision's stored manifest so that every object of an API the
 * cluster stopped serving names its replacement, as helm-mapkubeapis does,
 * so that helm can upgrade the release again (storedapis.c finds them).
 *
 * Helm keeps a revision as the Secret sh.helm.release.v1.RELEASE.vN
 * (labels owner=helm, name, version, status); its data.release is
 * base64(gzip(the release as JSON)), and the API base64-encodes Secret data
 * once more.  Only the release JSON's "manifest" changes.
 *
 * The original record is first copied, byte for byte, into a Secret of its
 * own in the release namespace (phdeploy-backup.<record>), not into a file:
 * it holds the release's values, which may carry passwords, and a copy
 * next to the original has the original's readers and no others, where a
 * file would put them on whatever machine ran phdeploy; and a CI runner's
 * state directory is gone when the job ends, the cluster's copy is there
 * for `--undo` from anywhere.  Every byte of a record travels through
 * kubectl's stdin and stdout, never argv or a log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <zlib.h>

#include "helm-private.h"

#define RECORD_MAX ((size_t)64 << 20)          /* a release record, decoded */
#define BACKUP_PREFIX "phdeploy-backup."
#define LABEL_KIND "phdeploy/kind"
#define LABEL_RELEASE "phdeploy/release"
#define ANNOT_OF "phdeploy/backup-of"

/* ---- bytes: base64 and gzip, in wiped buffers ------------------------- */

static void wipe_free(void *p, size_t len)
{
	if (p) {
		explicit_bzero(p, len);
		free(p);
	}
}

static unsigned char *b64_decode(const char *in, size_t len, size_t *out_len)
{
	unsigned char *out;
	int n;
	size_t pad = 0;

	if (len % 4 || len > RECORD_MAX * 2 || !(out = malloc(len / 4 * 3 + 1)))
		return NULL;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) < 0) {
		free(out);
		return NULL;
	}
	while (pad < 2 && len > pad && in[len - 1 - pad] == '=')
		pad++;
	*out_len = (size_t)n - pad;
	return out;
}

static char *b64_encode(const unsigned char *in, size_t len)
{
	char *out;

	if (len > RECORD_MAX * 2 || !(out = malloc((len + 2) / 3 * 4 + 1)))
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

static unsigned char *gunzip(const unsigned char *in, size_t len, size_t *out_len)
{
	z_stream z;
	size_t cap = len * 4 + 1024, n = 0;
	unsigned char *out = malloc(cap);
	int rc = Z_OK;

	memset(&z, 0, sizeof(z));
	if (!out || inflateInit2(&z, 15 + 32) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	while (rc == Z_OK) {
		if (n == cap) {
			unsigned char *bigger;
			if (cap >= RECORD_MAX || !(bigger = malloc(cap * 2)))
				break;
			memcpy(bigger, out, n);
			wipe_free(out, n);
			out = bigger;
			cap *= 2;
		}
		z.next_out = out + n;
		z.avail_out = (uInt)(cap - n);
		rc = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
	}
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		wipe_free(out, cap);
		return NULL;
	}
	*out_len = n;
	return out;
}

static unsigned char *gzip(const char *in, size_t len, size_t *out_len)
{
	z_stream z;
	uLong cap = compressBound((uLong)len) + 64;
	unsigned char *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	if (!out || deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
				 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		wipe_free(out, cap);
		return NULL;
	}
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/* The release JSON (malloc'd, NUL-terminated) of a record's data.release
 * as the API shows it: base64 of helm's base64 of the gzip. */
static char *record_decode(const char *api_b64, size_t *len)
{
	size_t l1, l2, l3;
	unsigned char *helm_b64 = b64_decode(api_b64, strlen(api_b64), &l1), *gz = NULL, *js = NULL;
	char *out = NULL;

	if (helm_b64 && (gz = b64_decode((char *)helm_b64, l1, &l2)) &&
	    (js = gunzip(gz, l2, &l3)) && (out = malloc(l3 + 1))) {
		memcpy(out, js, l3);
		out[l3] = '\0';
		*len = l3;
	}
	wipe_free(helm_b64, helm_b64 ? l1 : 0);
	wipe_free(gz, gz ? l2 : 0);
	wipe_free(js, js ? l3 : 0);
	return out;
}

/* The API's data.release for a release JSON (malloc'd). */
static char *record_encode(const char *json, size_t len)
{
	size_t gl;
	unsigned char *gz = gzip(json, len, &gl);
	char *helm_b64 = gz ? b64_encode(gz, gl) : NULL;
	char *out = helm_b64 ? b64_encode((unsigned char *)helm_b64, strlen(helm_b64)) : NULL;

	wipe_free(gz, gz ? gl : 0);
	wipe_free(helm_b64, helm_b64 ? strlen(helm_b64) : 0);
	return out;
}

/* ---- reading and writing Secrets ------------------------------------- */

/* kubectl get secret ARGS... -o json: the parsed object (or List). */
static json_t *get_secrets(phd_ctx *ctx, const char *name, const char *selector,
			   const char *what)
{
	struct phd_exec_result res;
	struct strv sv = { 0 };
	json_t *j = NULL;

	helm_kubectl_argv(&sv, ctx);
	strv_add(&sv, "get");
	strv_add(&sv, "secret");
	if (name)
		strv_add(&sv, name);
	if (selector) {
		strv_add(&sv, "-l");
		strv_add(&sv, selector);
	}
	strv_add(&sv, "-o");
	strv_add(&sv, "json");
	/* raw: the records hold the release's values; parsed, never shown */
	if (!helm_kubectl(ctx, &sv, NULL, 0, PHD_EXEC_RAW_STDOUT, 0, what, &res)) {
		json_error_t je;
		if (!(j = json_loadb(res.out ? res.out : "", res.out_len, 0, &je)))
			phd_set_error(ctx, PHD_ESYNTAX, "%s: %s: kubectl printed no JSON (line %d: "
				      "%s)", HELM_PLUGIN, what, je.line, je.text);
	}
	phd_exec_result_clear(&res);
	strv_free(&sv);
	return j;
}

/* kubectl VERB -f - with obj on stdin (create, replace). */
static int put_secret(phd_ctx *ctx, const char *verb, json_t *obj, const char *what)
{
	struct phd_exec_result res;
	struct strv sv = { 0 };
	char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	int rc;

	if (!text)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
	helm_kubectl_argv(&sv, ctx);
	strv_add(&sv, verb);
	strv_add(&sv, "-f");
	strv_add(&sv, "-");
	rc = helm_kubectl(ctx, &sv, text, strlen(text), PHD_EXEC_CAPTURE_STDOUT, 0, what, &res);
	phd_exec_result_clear(&res);
	strv_free(&sv);
	wipe_free(text, strlen(text));
	return rc;
}

static int delete_secret(phd_ctx *ctx, const char *name, const char *what)
{
	struct phd_exec_result res;
	struct strv sv = { 0 };
	int rc;

	helm_kubectl_argv(&sv, ctx);
	strv_add(&sv, "delete");
	strv_add(&sv, "secret");
	strv_add(&sv, name);
	rc = helm_kubectl(ctx, &sv, NULL, 0, PHD_EXEC_CAPTURE_STDOUT, 0, what, &res);
	phd_exec_result_clear(&res);
	strv_free(&sv);
	return rc;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
	json_t *v = json_object_get(json_object_get(o, a), b);
	return json_string_value(v);
}

/* The newest deployed revision's record: the Secret (a new reference) and
 * its revision, or NULL with *rev 0 when the release has none. */
static json_t *deployed_record(phd_ctx *ctx, long long *rev, int *failed)
{
	char sel[320];
	json_t *list, *it, *best = NULL;
	size_t i;

	*rev = 0;
	*failed = 0;
	snprintf(sel, sizeof(sel), "owner=helm,name=%s,status=deployed", phd_ctx_release(ctx));
	if (!(list = get_secrets(ctx, NULL, sel, "reading the release's deployed record"))) {
		*failed = 1;
		return NULL;
	}
	json_array_foreach(json_object_get(list, "items"), i, it) {
		const char *v = json_string_value(json_object_get(
			json_object_get(json_object_get(it, "metadata"), "labels"), "version"));
		long long n = v ? strtoll(v, NULL, 10) : 0;
		if (n > *rev) {
			*rev = n;
			best = it;
		}
	}
	json_incref(best);
	json_decref(list);
	return best;
}

/* ---- the rewrite ------------------------------------------------------ */

/* m with each known unserved object's apiVersion replaced, and the removed
 * ones without a replacement dropped (malloc'd, NUL-terminated). */
static char *rewrite(const char *m, size_t len, const struct helm_unserved *un, size_t n)
{
	size_t cap = len + n * 64 + 1, at = 0, o = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct helm_mobj *ob = un[i].obj;
		if (!un[i].known)
			continue;
		if (!un[i].known->to) {
			memcpy(out + o, m + at, ob->doc - at);
			o += ob->doc - at;
			at = ob->doc_end;
			continue;
		}
		memcpy(out + o, m + at, ob->av - at);
		o += ob->av - at;
		memcpy(out + o, un[i].known->to, strlen(un[i].known->to));
		o += strlen(un[i].known->to);
		at = ob->av_end;
	}
	memcpy(out + o, m + at, len - at);
	o += len - at;
	out[o] = '\0';
	return out;
}

struct plan {
	struct helm_mobjs objs;
	struct helm_unserved *un;
	size_t nun, known, unknown, blocked;
};

static void plan_free(struct plan *p)
{
	free(p->un);
	helm_mobjs_free(&p->objs);
}

static int plan_make(phd_ctx *ctx, const char *manifest, struct plan *p)
{
	struct helm_served s;
	int rc;

	memset(p, 0, sizeof(*p));
	if ((rc = helm_manifest_objects(manifest, strlen(manifest), &p->objs)) ||
	    (rc = helm_served_read(ctx, 0, &s)))
		return rc;
	rc = helm_unserved_find(&s, &p->objs, &p->un, &p->nun);
	helm_served_free(&s);
	for (size_t i = 0; !rc && i < p->nun; i++) {
		char line[1024];
		helm_unserved_describe(&p->un[i], line, sizeof(line));
		if (!p->un[i].known)
			p->unknown++;
		else if (p->un[i].known->to && !p->un[i].to_served)
			p->blocked++;
		else
			p->known++;
		phd_log(ctx, p->un[i].known && (!p->un[i].known->to || p->un[i].to_served)
			? PHD_LOG_WARN : PHD_LOG_ERROR, "%s: migrate-release: %s", HELM_PLUGIN, line);
	}
	return rc;
}

/* The backup Secret: the record's data, labels and annotations under a
 * name and labels helm does not look at. */
static json_t *backup_of(phd_ctx *ctx, json_t *rec, const char *name, long long rev)
{
	char revs[32];
	json_t *b;

	snprintf(revs, sizeof(revs), "%lld", rev);
	b = json_pack("{s:s, s:s, s:{s:s++, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s}}, s:s, s:O}",
		      "apiVersion", "v1", "kind", "Secret", "metadata", "name", BACKUP_PREFIX,
		      name, "", "namespace", phd_ctx_namespace(ctx), "labels",
		      "app.kubernetes.io/managed-by", "phdeploy", LABEL_KIND, "release-backup",
		      LABEL_RELEASE, phd_ctx_release(ctx), "phdeploy/revision", revs,
		      "annotations", ANNOT_OF, name, "type", "Opaque", "data",
		      json_object_get(rec, "data"));
	return b;
}

/* The release's backups (a List), by label: a missing one is no error. */
static json_t *backups(phd_ctx *ctx)
{
	char sel[320];

	snprintf(sel, sizeof(sel), "%s=release-backup,%s=%s", LABEL_KIND, LABEL_RELEASE,
		 phd_ctx_release(ctx));
	return get_secrets(ctx, NULL, sel, "reading the release record's backups");
}

/* Create the backup; one left by an earlier run whose record write failed
 * is used when it holds these very bytes, and refused otherwise (it is the
 * only copy of another state of the record). */
static int make_backup(phd_ctx *ctx, json_t *backup, const char *name)
{
	const char *bname = str_at(backup, "metadata", "name");
	json_t *list = backups(ctx), *it;
	size_t i;
	int rc = 0, found = 0;

	if (!list)
		return PHD_EFAILED;
	json_array_foreach(json_object_get(list, "items"), i, it) {
		const char *have = str_at(it, "data", "release");
		if (strcmp(str_at(it, "metadata", "name") ? str_at(it, "metadata", "name") : "",
			   bname))
			continue;
		found = 1;
		if (!have || strcmp(have, str_at(backup, "data", "release")))
			rc = phd_set_error(ctx, PHD_EFAILED, "%s: migrate-release: the Secret %s "
					   "already holds another copy of %s (an earlier migration "
					   "not undone?); nothing was changed: `phdeploy "
					   "migrate-release --undo` puts it back, or delete it",
					   HELM_PLUGIN, bname, name);
	}
	json_decref(list);
	if (!rc && !found)
		rc = put_secret(ctx, "create", backup, "backing up the release record");
	return rc;
}

static int migrate(phd_ctx *ctx, int mode)
{
	long long rev;
	int failed, rc = 0;
	json_t *rec = deployed_record(ctx, &rev, &failed), *rel = NULL, *backup = NULL;
	char name[320], *json = NULL, *manifest2 = NULL, *json2 = NULL, *data2 = NULL;
	size_t jlen = 0;
	struct plan p = { 0 };
	const char *data, *manifest;

	if (failed)
		return PHD_EFAILED;
	if (!rec) {
		phd_log(ctx, PHD_LOG_WARN, "%s: migrate-release: release %s has no deployed "
			"revision in namespace %s: nothing to migrate", HELM_PLUGIN,
			phd_ctx_release(ctx), phd_ctx_namespace(ctx));
		return 0;
	}
	snprintf(name, sizeof(name), "%s", str_at(rec, "metadata", "name") ?
		 str_at(rec, "metadata", "name") : "");
	if (!(data = str_at(rec, "data", "release")) || !(json = record_decode(data, &jlen)) ||
	    !(rel = json_loadb(json, jlen, 0, NULL)) ||
	    !(manifest = json_string_value(json_object_get(rel, "manifest")))) {
		rc = phd_set_error(ctx, PHD_ESYNTAX, "%s: migrate-release: %s is not a release "
				   "record helm wrote (data.release is not base64 of gzip'd release "
				   "JSON with a manifest)", HELM_PLUGIN, name);
		goto out;
	}
	if ((rc = plan_make(ctx, manifest, &p)))
		goto out;
	if (p.blocked) {
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: migrate-release: %zu object(s) of %s "
				   "would need an API this cluster does not serve either; nothing "
				   "was changed", HELM_PLUGIN, p.blocked, name);
		goto out;
	}
	if (!p.known) {
		phd_log(ctx, PHD_LOG_WARN, "%s: migrate-release: %s (revision %lld): %s",
			HELM_PLUGIN, name, rev, p.unknown ? "no object has a known replacement: "
			"nothing was changed" : "every object of the stored manifest is served: "
			"nothing to migrate");
		rc = p.unknown ? phd_set_error(ctx, PHD_EFAILED, "%s: migrate-release: %zu "
					       "object(s) of %s have no known replacement",
					       HELM_PLUGIN, p.unknown, name) : 0;
		goto out;
	}
	if (mode == PHD_MODE_SHOW) {
		phd_log(ctx, PHD_LOG_WARN, "%s: migrate-release: dry run: %zu object(s) of %s "
			"(revision %lld) would be rewritten; nothing was changed", HELM_PLUGIN,
			p.known, name, rev);
		goto out;
	}
	if (!(manifest2 = rewrite(manifest, strlen(manifest), p.un, p.nun)) ||
	    json_object_set_new(rel, "manifest", json_string(manifest2)) ||
	    !(json2 = json_dumps(rel, JSON_COMPACT | JSON_PRESERVE_ORDER)) ||
	    !(data2 = record_encode(json2, strlen(json2))) ||
	    !(backup = backup_of(ctx, rec, name, rev))) {
		rc = phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
		goto out;
	}
	/* the backup first: without it, nothing is written */
	if ((rc = make_backup(ctx, backup, name)))
		goto out;
	helm_record_strip(rec, 1);
	json_object_set_new(json_object_get(rec, "data"), "release", json_string(data2));
	if ((rc = put_secret(ctx, "replace", rec, "writing the migrated release record"))) {
		phd_log(ctx, PHD_LOG_WARN, "%s: migrate-release: the record is unchanged; its "
			"backup %s%s stays", HELM_PLUGIN, BACKUP_PREFIX, name);
		goto out;
	}
	phd_log(ctx, PHD_LOG_WARN, "%s: migrate-release: rewrote %zu object(s) of %s "
		"(revision %lld); the original is kept in the Secret %s%s (namespace %s); "
		"`phdeploy migrate-release --undo` puts it back", HELM_PLUGIN, p.known, name, rev,
		BACKUP_PREFIX, name, phd_ctx_namespace(ctx));
	{
		json_t *objs = json_array();
		for (size_t i = 0; i < p.nun; i++)
			if (p.un[i].known)
				json_array_append_new(objs, json_pack(
					"{s:s, s:s, s:s, s:s?}", "kind", p.un[i].obj->kind, "name",
					p.un[i].obj->name, "from", p.un[i].obj->gv, "to",
					p.un[i].known->to));
		helm_note(ctx, "migrations.jsonl", json_pack(
			"{s:s, s:s, s:I, s:s++, s:o}", "action", "migrate-release", "record", name,
			"revision", (json_int_t)rev, "backup", BACKUP_PREFIX, name, "", "objects",
			objs));
	}
	if (p.unknown)
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: migrate-release: %zu object(s) of %s have "
				   "no known replacement and still stop helm upgrade (see above)",
				   HELM_PLUGIN, p.unknown, name);
out:
	if (json)
		wipe_free(json, jlen);
	if (json2)
		wipe_free(json2, strlen(json2));
	if (data2)
		wipe_free(data2, strlen(data2));
	free(manifest2);
	plan_free(&p);
	json_decref(rel);
	json_decref(rec);
	json_decref(backup);
	return rc;
}

/* --undo: the newest backup of this release back into its record, byte
 * for byte; then the backup goes (the original is the record again). */
static int undo(phd_ctx *ctx, int mode)
{
	json_t *list, *it, *best = NULL, *rec = NULL;
	const char *of = NULL, *best_ts = "";
	size_t i;
	int rc = 0;

	if (!(list = backups(ctx)))
		return PHD_EFAILED;
	json_array_foreach(json_object_get(list, "items"), i, it) {
		const char *ts = str_at(it, "metadata", "creationTimestamp");
		if (ts && strcmp(ts, best_ts) >= 0) {
			best = it;
			best_ts = ts;
		}
	}
	if (!best) {
		rc = phd_set_error(ctx, PHD_ENOTFOUND, "%s: migrate-release --undo: no backup of "
				   "release %s in namespace %s (label %s=%s)", HELM_PLUGIN,
				   phd_ctx_release(ctx), phd_ctx_namespace(ctx), LABEL_RELEASE,
				   phd_ctx_release(ctx));
		goto out;
	}
	of = json_string_value(json_object_get(json_object_get(json_object_get(best,
			"metadata"), "annotations"), ANNOT_OF));
	if (!of || strncmp(of, "sh.helm.release.v1.", 19) || !str_at(best, "data", "release")) {
		rc = phd_set_error(ctx, PHD_ESYNTAX, "%s: migrate-release --undo: the backup %s "
				   "names no release record (annotation %s)", HELM_PLUGIN,
				   str_at(best, "metadata", "name"), ANNOT_OF);
		goto out;
	}
	if (mode == PHD_MODE_SHOW) {
		phd_log(ctx, PHD_LOG_WARN, "%s: migrate-release --undo: dry run: %s would be put "
			"back from %s; nothing was changed", HELM_PLUGIN, of,
			str_at(best, "metadata", "name"));
		goto out;
	}
	if (!(rec = get_secrets(ctx, of, NULL, "reading the migrated release record"))) {
		rc = PHD_EFAILED;
		goto out;
	}
	helm_record_strip(rec, 1);
	json_object_set(json_object_get(rec, "data"), "release",
			json_object_get(json_object_get(best, "data"), "release"));
	if ((rc = put_secret(ctx, "replace", rec, "restoring the release record")))
		goto out;
	phd_log(ctx, PHD_LOG_WARN, "%s: migrate-release --undo: %s is the original again (from "
		"%s, now deleted)", HELM_PLUGIN, of, str_at(best, "metadata", "name"));
	helm_note(ctx, "migrations.jsonl", json_pack("{s:s, s:s, s:s}", "action",
						     "migrate-release-undo", "record", of,
						     "backup", str_at(best, "metadata", "name")));
	rc = delete_secret(ctx, str_at(best, "metadata", "name"), "deleting the used backup");
out:
	json_decref(rec);
	json_decref(list);
	return rc;
}

static int migrate_action(phd_ctx *ctx, int mode, unsigned flags, void *userdata)
{
	const char *driver = getenv("HELM_DRIVER");

	(void)userdata;
	if (driver && *driver && strcmp(driver, "secret") && strcmp(driver, "secrets"))
		return phd_set_error(ctx, PHD_EINVAL, "%s: migrate-release edits helm's release "
				     "Secrets; HELM_DRIVER=%s keeps them elsewhere", HELM_PLUGIN,
				     driver);
	return flags & PHD_ACTION_UNDO ? undo(ctx, mode) : migrate(ctx, mode);
}

int helm_migrate_register(phd_plugin *p)
{
	return phd_register_action(p, "migrate-release", migrate_action, NULL, NULL);
}
