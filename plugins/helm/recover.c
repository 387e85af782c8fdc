/* helm.recover_pending when `helm rollback` fails on a stuck release.
 *
 * Real helm refuses to roll back a revision whose objects differ from what
 * the cluster holds: the chart's migrate Job is named after the render
 * time, so a revision killed before it applied anything names a Job that
 * never existed ("original object Job ... not found").  Helm usually
 * records that failure (a new revision "failed", the stuck one
 * "superseded") and the release can be upgraded again.  When it recorded
 * nothing, the release record of the stuck revision (a Secret
 * sh.helm.release.v1.RELEASE.vN) is backed up under the state directory
 * and deleted, so the last deployed revision is current again. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "helm-private.h"

#define KUBECTL_TIMEOUT_MS (2LL * 60 * 1000)

/* STATE/helm, made 0700 (the backups hold the release's values) */
static char *helm_state_dir(phd_ctx *ctx)
{
	const char *base = phd_ctx_state_dir(ctx);
	char *dir;
	int n;

	if (!base)
		return NULL;
	if (mkdir(base, 0700) && errno != EEXIST)
		return NULL;
	n = snprintf(NULL, 0, "%s/helm", base);
	if (n < 0 || !(dir = malloc((size_t)n + 1)))
		return NULL;
	snprintf(dir, (size_t)n + 1, "%s/helm", base);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* One JSON line in STATE/helm/recovery.jsonl: what was done, and how to
 * undo it; never values (obj holds names, revisions, paths). */
static void note(phd_ctx *ctx, json_t *obj)
{
	char *dir = helm_state_dir(ctx), *line = NULL, path[4096], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd = -1;

	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(obj, "time", json_string(when));
	json_object_set_new(obj, "release", json_string(phd_ctx_release(ctx)));
	json_object_set_new(obj, "namespace", json_string(phd_ctx_namespace(ctx)));
	if (dir && (size_t)snprintf(path, sizeof(path), "%s/recovery.jsonl", dir) < sizeof(path) &&
	    (line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)) &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0 &&
	    dprintf(fd, "%s\n", line) > 0) {
		close(fd);
	} else {
		if (fd >= 0)
			close(fd);
		phd_log(ctx, PHD_LOG_WARN, "%s: could not record the recovery in %s/recovery.jsonl",
			HELM_PLUGIN, dir ? dir : "(no state directory)");
	}
	free(line);
	free(dir);
	json_decref(obj);
}

/* kubectl [--context C] --namespace NS ARGS... */
static void kubectl_argv(struct strv *sv, phd_ctx *ctx)
{
	const char *kc = phd_ctx_kube_context(ctx);

	strv_add(sv, phd_ctx_kubectl(ctx));
	if (kc && *kc) {
		strv_add(sv, "--context");
		strv_add(sv, kc);
	}
	strv_add(sv, "--namespace");
	strv_add(sv, phd_ctx_namespace(ctx));
}

static int kubectl(phd_ctx *ctx, struct strv *sv, unsigned flags, const char *what,
		   struct phd_exec_result *res)
{
	struct phd_exec spec = PHD_EXEC_INIT;
	int rc;

	memset(res, 0, sizeof(*res));
	if (sv->oom)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
	spec.flags = flags | PHD_EXEC_CAPTURE_STDERR;
	spec.argv = strv_argv(sv);
	spec.timeout_ms = KUBECTL_TIMEOUT_MS;
	rc = phd_exec_run(ctx, &spec, res);
	if (!rc && res->exit_code != 0) {
		const char *e = res->err ? res->err : "";
		size_t len = strcspn(e, "\n");
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: %s (kubectl) failed (exit %d): %.*s",
				   HELM_PLUGIN, what, res->exit_code, (int)len, e);
	} else if (rc) {
		rc = phd_set_error(ctx, rc, "%s: %s (kubectl): %s", HELM_PLUGIN, what,
				   phd_strerror(rc));
	}
	return rc;
}

/* The record as kubectl printed it, made creatable again (no server-set
 * metadata), written 0600 to a new file; *path gets its name. */
static int save_record(phd_ctx *ctx, const char *json, size_t len, const char *name,
		       char *path, size_t pathlen)
{
	json_error_t je;
	json_t *rec = json_loadb(json, len, 0, &je), *meta;
	char *dir = NULL, *text = NULL, when[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t tlen;
	int fd = -1, rc = 0;

	meta = json_object_get(rec, "metadata");
	if (!json_is_object(meta)) {
		rc = phd_set_error(ctx, PHD_ESYNTAX, "%s: kubectl get secret %s -o json printed no "
				   "object", HELM_PLUGIN, name);
		goto out;
	}
	for (const char *const *k = (const char *const[]){ "resourceVersion", "uid",
	     "creationTimestamp", "managedFields", "selfLink", "generation", NULL }; *k; k++)
		json_object_del(meta, *k);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
	if (!(dir = helm_state_dir(ctx)) ||
	    (size_t)snprintf(path, pathlen, "%s/%s.%s.%s.json", dir, phd_ctx_namespace(ctx), name,
			     when) >= pathlen) {
		rc = phd_set_error(ctx, PHD_EIO, "%s: no state directory to back up %s in",
				   HELM_PLUGIN, name);
		goto out;
	}
	if (!(text = json_dumps(rec, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		rc = phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
		goto out;
	}
	tlen = strlen(text);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, tlen) != (ssize_t)tlen || write(fd, "\n", 1) != 1 ||
	    fsync(fd)) {
		rc = phd_set_error(ctx, PHD_EIO, "%s: backing up %s to %s: %s", HELM_PLUGIN, name,
				   path, strerror(errno));
		if (fd >= 0)
			unlink(path);
	}
out:
	if (fd >= 0)
		close(fd);
	if (text) {
		explicit_bzero(text, strlen(text));  /* the release's values */
		free(text);
	}
	free(dir);
	json_decref(rec);
	return rc;
}

int helm_recover_after_rollback(struct helm *h, phd_ctx *ctx, const struct helm_rev *stuck,
				long long target)
{
	struct helm_history now = { 0 };
	struct phd_exec_result res = { 0 };
	struct strv sv = { 0 };
	const char *state, *driver = getenv("HELM_DRIVER");
	char *why, name[320], path[4096], *restore = NULL;
	int rc;

	/* the rollback's own error, quoted in what follows */
	why = strdup(phd_ctx_errmsg(ctx) ? phd_ctx_errmsg(ctx) : "");
	if ((rc = helm_history_get(h, ctx, "deploy: reading the release's history after the "
				   "recovery's rollback failed", &now)))
		goto out;
	state = helm_history_state(&now);
	if (state && strncmp(state, "pending-", 8)) {
		/* helm recorded its failed rollback: the stuck revision is
		 * superseded and helm upgrades from here, diffing against the
		 * last deployed revision */
		const struct helm_rev *cur = &now.revs[now.n - 1];
		phd_log(ctx, PHD_LOG_WARN, "%s: helm could not roll %s back to revision %lld, but "
			"recorded that (revision %lld is %s: %s), so the stuck revision %lld no longer "
			"blocks the upgrade; upgrading", HELM_PLUGIN, phd_ctx_release(ctx), target,
			cur->revision, cur->status, cur->description, stuck->revision);
		note(ctx, json_pack("{s:s, s:I, s:s, s:I, s:I, s:s}", "action", "rollback-failed",
				    "stuck_revision", (json_int_t)stuck->revision, "stuck_status",
				    stuck->status, "rollback_to", (json_int_t)target,
				    "recorded_revision", (json_int_t)cur->revision, "recorded_status",
				    cur->status));
		goto out;
	}
	if (!state || now.revs[now.n - 1].revision != stuck->revision) {
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: not recovering %s: its history changed "
				   "while phdeploy read it (another helm operation is running?); %s",
				   HELM_PLUGIN, phd_ctx_release(ctx), why ? why : "");
		goto out;
	}
	/* helm recorded nothing: the stuck record itself has to go */
	if (driver && *driver && strcmp(driver, "secret") && strcmp(driver, "secrets")) {
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: %s; helm keeps its release records in "
				   "HELM_DRIVER=%s, which phdeploy does not edit: remove the record "
				   "of revision %lld there, then deploy again", HELM_PLUGIN,
				   why ? why : "", driver, stuck->revision);
		goto out;
	}
	snprintf(name, sizeof(name), "sh.helm.release.v1.%s.v%lld", phd_ctx_release(ctx),
		 stuck->revision);
	kubectl_argv(&sv, ctx);
	strv_add(&sv, "get");
	strv_add(&sv, "secret");
	strv_add(&sv, name);
	strv_add(&sv, "-o");
	strv_add(&sv, "json");
	/* raw: the record holds the release's values; never shown, wiped */
	if ((rc = kubectl(ctx, &sv, PHD_EXEC_RAW_STDOUT, "reading the stuck release record", &res)) ||
	    (rc = save_record(ctx, res.out ? res.out : "", res.out_len, name, path, sizeof(path))))
		goto out;
	phd_exec_result_clear(&res);
	strv_free(&sv);
	kubectl_argv(&sv, ctx);
	strv_add(&sv, "create");
	strv_add(&sv, "-f");
	strv_add(&sv, path);
	restore = strv_join(&sv);
	strv_free(&sv);
	kubectl_argv(&sv, ctx);
	strv_add(&sv, "delete");
	strv_add(&sv, "secret");
	strv_add(&sv, name);
	if ((rc = kubectl(ctx, &sv, PHD_EXEC_CAPTURE_STDOUT, "deleting the stuck release record",
			  &res)))
		goto out;
	phd_log(ctx, PHD_LOG_WARN, "%s: helm could not roll %s back to revision %lld and recorded "
		"nothing, so phdeploy deleted the record of the stuck revision %lld (%s), making "
		"revision %lld current again; the record is backed up in %s (mode 0600: it holds "
		"the release's values; the upgrade that follows creates a new revision %lld, so "
		"`%s` puts it back only once that one is gone)", HELM_PLUGIN,
		phd_ctx_release(ctx), target, stuck->revision, stuck->status, target, path,
		stuck->revision, restore ? restore : "");
	note(ctx, json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s}", "action", "record-deleted",
			    "stuck_revision", (json_int_t)stuck->revision, "stuck_status",
			    stuck->status, "current_revision", (json_int_t)target, "record", name,
			    "backup", path, "restore", restore ? restore : ""));
	helm_history_free(&now);
	if ((rc = helm_history_get(h, ctx, "deploy: reading the release's history after deleting "
				   "the stuck record", &now)))
		goto out;
	state = helm_history_state(&now);
	if (state && !strncmp(state, "pending-", 8))
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: release %s is still %s after its stuck "
				   "record was deleted (revision %lld): another helm operation holds "
				   "it", HELM_PLUGIN, phd_ctx_release(ctx), state,
				   now.revs[now.n - 1].revision);
out:
	phd_exec_result_clear(&res);
	strv_free(&sv);
	helm_history_free(&now);
	free(restore);
	free(why);
	return rc;
}
