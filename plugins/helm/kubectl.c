/* kubectl for the helm plugin: helm's own release records (Secrets
 * sh.helm.release.v1.*) and the cluster's API discovery, plus the state
 * directory where edits of those records are backed up and noted. */
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

char *helm_state_dir(phd_ctx *ctx)
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

void helm_note(phd_ctx *ctx, const char *file, json_t *obj)
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
	if (dir && (size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) < sizeof(path) &&
	    (line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)) &&
	    (fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)) >= 0 &&
	    dprintf(fd, "%s\n", line) > 0) {
		close(fd);
	} else {
		if (fd >= 0)
			close(fd);
		phd_log(ctx, PHD_LOG_WARN, "%s: could not record this in %s/%s", HELM_PLUGIN,
			dir ? dir : "(no state directory)", file);
	}
	free(line);
	free(dir);
	json_decref(obj);
}

void helm_kubectl_argv(struct strv *sv, phd_ctx *ctx)
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

int helm_kubectl(phd_ctx *ctx, struct strv *sv, const void *in, size_t inlen, unsigned flags,
		 long long timeout_ms, const char *what, struct phd_exec_result *res)
{
	struct phd_exec spec = PHD_EXEC_INIT;
	int rc;

	memset(res, 0, sizeof(*res));
	if (sv->oom)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
	spec.flags = flags | PHD_EXEC_CAPTURE_STDERR;
	spec.argv = strv_argv(sv);
	spec.stdin_data = in;
	spec.stdin_len = inlen;
	spec.timeout_ms = timeout_ms > 0 ? timeout_ms : HELM_KUBECTL_TIMEOUT_MS;
	rc = phd_exec_run(ctx, &spec, res);
	if (!rc && res->exit_code != 0) {
		const char *e = res->err ? res->err : "";
		size_t len = strcspn(e, "\n");
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: %s (kubectl) failed (exit %d): %.*s",
				   HELM_PLUGIN, what, res->exit_code, (int)len, e);
	} else if (rc == PHD_ENOTFOUND) {
		rc = phd_set_error(ctx, rc, "%s: %s: cannot run %s: set --kubectl or "
				   "PHDEPLOY_KUBECTL", HELM_PLUGIN, what, spec.argv[0]);
	} else if (rc) {
		rc = phd_set_error(ctx, rc, "%s: %s (kubectl): %s", HELM_PLUGIN, what,
				   phd_strerror(rc));
	}
	return rc;
}

/* The record as kubectl printed it, made creatable again (no server-set
 * metadata), written 0600 to a new file; *path gets its name. */
void helm_record_strip(json_t *obj, int keep_rv)
{
	json_t *meta = json_object_get(obj, "metadata");

	for (const char *const *k = (const char *const[]){ "uid", "creationTimestamp",
	     "managedFields", "selfLink", "generation", NULL }; *k; k++)
		json_object_del(meta, *k);
	if (!keep_rv)
		json_object_del(meta, "resourceVersion");
}

int helm_record_save(phd_ctx *ctx, const char *json, size_t len, const char *name,
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
	helm_record_strip(rec, 0);
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
