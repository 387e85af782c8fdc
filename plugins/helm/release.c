/* The release as helm records it: history, status, the pending-* check
 * before a deploy, and the rollback phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "helm-private.h"

#define QUERY_TIMEOUT_MS (2LL * 60 * 1000)

static void copy_str(char *dst, size_t len, json_t *v)
{
	snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static int by_revision(const void *a, const void *b)
{
	const struct helm_rev *x = a, *y = b;
	return x->revision < y->revision ? -1 : x->revision > y->revision;
}

int helm_history_parse(struct helm_history *out, const char *json, size_t len,
		       char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;
	size_t i;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (len > HELM_JSON_MAX) {
		snprintf(err, errlen, "helm history output is over %zu MB", HELM_JSON_MAX >> 20);
		return PHD_ETOOBIG;
	}
	root = json_loadb(json, len, 0, &je);
	if (!root) {
		snprintf(err, errlen, "helm history -o json: line %d column %d: %s", je.line,
			 je.column, je.text);
		return PHD_ESYNTAX;
	}
	if (!json_is_array(root)) {
		snprintf(err, errlen, "helm history -o json did not print a list");
		rc = PHD_ESYNTAX;
		goto out;
	}
	out->revs = calloc(json_array_size(root) + 1, sizeof(*out->revs));
	if (!out->revs) {
		rc = PHD_ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(root); i++) {
		json_t *e = json_array_get(root, i), *rv = json_object_get(e, "revision");
		struct helm_rev *r = &out->revs[out->n];
		if (!json_is_object(e) || !json_is_integer(rv)) {
			snprintf(err, errlen, "helm history entry %zu has no revision number", i + 1);
			rc = PHD_ESYNTAX;
			goto out;
		}
		r->revision = json_integer_value(rv);
		copy_str(r->status, sizeof(r->status), json_object_get(e, "status"));
		copy_str(r->chart, sizeof(r->chart), json_object_get(e, "chart"));
		copy_str(r->app_version, sizeof(r->app_version), json_object_get(e, "app_version"));
		copy_str(r->updated, sizeof(r->updated), json_object_get(e, "updated"));
		copy_str(r->description, sizeof(r->description), json_object_get(e, "description"));
		out->n++;
	}
	qsort(out->revs, out->n, sizeof(*out->revs), by_revision);
out:
	json_decref(root);
	if (rc)
		helm_history_free(out);
	return rc;
}

void helm_history_free(struct helm_history *hist)
{
	free(hist->revs);
	memset(hist, 0, sizeof(*hist));
}

static void query_argv(struct strv *sv, phd_ctx *ctx, const char *verb)
{
	const char *kc = phd_ctx_kube_context(ctx);

	helm_argv_start(sv, ctx);
	strv_add(sv, verb);
	strv_add(sv, phd_ctx_release(ctx));
	strv_add(sv, "--namespace");
	strv_add(sv, phd_ctx_namespace(ctx));
	strv_add(sv, "-o");
	strv_add(sv, "json");
	if (kc && *kc) {
		strv_add(sv, "--kube-context");
		strv_add(sv, kc);
	}
}

static int not_found(const struct phd_exec_result *res)
{
	return res->exit_code != 0 && res->err && strstr(res->err, "release: not found");
}

/* helm status|history -o json into res (stdout captured, never shown:
 * status carries the release's values and manifest). */
static int query(phd_ctx *ctx, int phase, const char *verb, const char *doing,
		 struct phd_exec_result *res, int *missing)
{
	struct helm_watch w = { 0 };
	struct strv sv = { 0 };
	char what[256];
	int rc;

	query_argv(&sv, ctx, verb);
	if (!strcmp(verb, "history")) {
		strv_add(&sv, "--max");
		strv_add(&sv, "256");
	}
	/* raw: the JSON is one line, far over the 64 KiB a captured line may
	 * hold once helm status includes the chart (the real one: ~1 MB) */
	rc = helm_run(ctx, phase, &sv, NULL, PHD_EXEC_RAW_STDOUT | PHD_EXEC_CAPTURE_STDERR,
		      QUERY_TIMEOUT_MS, &w, res);
	*missing = rc == 0 && not_found(res);
	snprintf(what, sizeof(what), "%s (helm %s %s)", doing, verb, phd_ctx_release(ctx));
	if (!*missing)
		rc = helm_fail(ctx, what, rc, res, &w, NULL);
	helm_watch_free(&w);
	strv_free(&sv);
	return rc;
}

int helm_history_get(struct helm *h, phd_ctx *ctx, const char *doing,
		     struct helm_history *out)
{
	struct phd_exec_result res;
	char err[256];
	int rc, missing = 0;

	(void)h;
	memset(out, 0, sizeof(*out));
	rc = query(ctx, PHD_PHASE_DEPLOY, "history", doing, &res, &missing);
	if (!rc && missing)
		out->not_found = 1;
	else if (!rc && (rc = helm_history_parse(out, res.out ? res.out : "", res.out_len, err,
						  sizeof(err))))
		phd_set_error(ctx, rc, "%s: %s", HELM_PLUGIN, err);
	phd_exec_result_clear(&res);
	return rc;
}

const char *helm_history_state(const struct helm_history *hist)
{
	return hist->n ? hist->revs[hist->n - 1].status : NULL;
}

static long long newest_with(const struct helm_history *hist, size_t below, const char *status)
{
	for (size_t i = below; i-- > 0;)
		if (!strcmp(hist->revs[i].status, status))
			return hist->revs[i].revision;
	return 0;
}

long long helm_rollback_target(const struct helm_history *hist)
{
	long long t;

	if (!hist->n)
		return 0;
	/* deploy succeeded, verify failed: the newest is deployed, go one back */
	if (!strcmp(hist->revs[hist->n - 1].status, "deployed"))
		return newest_with(hist, hist->n - 1, "superseded");
	if ((t = newest_with(hist, hist->n, "deployed")))
		return t;
	return newest_with(hist, hist->n, "superseded");
}

int helm_check_pending(struct helm *h, phd_ctx *ctx)
{
	struct helm_history hist;
	const char *state;
	struct strv fix = { 0 };
	struct helm_watch w = { 0 };
	struct phd_exec_result res;
	char rev[32], *line = NULL;
	int rc;
	long long target;

	if ((rc = helm_history_get(h, ctx, "deploy: reading the release's history before the upgrade",
				   &hist)))
		return rc;
	state = helm_history_state(&hist);
	if (hist.not_found || !state || strncmp(state, "pending-", 8)) {
		helm_history_free(&hist);
		return 0;
	}
	target = newest_with(&hist, hist.n, "deployed");
	if (!target)
		target = newest_with(&hist, hist.n, "superseded");
	if (target) {
		snprintf(rev, sizeof(rev), "%lld", target);
		helm_argv_rollback(&fix, h, ctx, rev);
	} else {
		helm_argv_start(&fix, ctx);
		strv_add(&fix, "uninstall");
		strv_add(&fix, phd_ctx_release(ctx));
		strv_add(&fix, "--namespace");
		strv_add(&fix, phd_ctx_namespace(ctx));
		strv_add(&fix, "--wait");
		if (phd_ctx_kube_context(ctx) && *phd_ctx_kube_context(ctx)) {
			strv_add(&fix, "--kube-context");
			strv_add(&fix, phd_ctx_kube_context(ctx));
		}
	}
	line = strv_join(&fix);
	if (!h->recover_pending) {
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: release %s in namespace %s is stuck in %s "
				   "(revision %lld, %s): an earlier helm run was interrupted or is "
				   "still running, and helm refuses to upgrade it (\"another operation "
				   "is in progress\").  When no other deploy is running, resolve it "
				   "with:\n    %s\nor set helm.recover_pending: true to let phdeploy "
				   "do that", HELM_PLUGIN, phd_ctx_release(ctx), phd_ctx_namespace(ctx),
				   state, hist.revs[hist.n - 1].revision, hist.revs[hist.n - 1].updated,
				   line ? line : "");
		goto out;
	}
	phd_log(ctx, PHD_LOG_WARN, "%s: release %s is stuck in %s; recovering (helm.recover_pending)"
		": %s", HELM_PLUGIN, phd_ctx_release(ctx), state, line ? line : "");
	if (phd_ctx_dry_run(ctx)) {
		helm_emit_command(ctx, PHD_PHASE_DEPLOY, &fix, NULL);
		goto out;
	}
	rc = helm_run(ctx, PHD_PHASE_DEPLOY, &fix, NULL, PHD_EXEC_EMIT,
		      h->timeout_ms + QUERY_TIMEOUT_MS, &w, &res);
	rc = helm_fail(ctx, target ? "recovering the pending release (helm rollback)" :
		       "recovering the pending install (helm uninstall)", rc, &res, &w, NULL);
	/* helm ran and refused: not the cluster, a timeout, Ctrl-C or another
	 * helm holding the release (whose record must stay) */
	if (rc == PHD_EFAILED && target && w.cls != HELM_FAIL_PENDING)
		rc = helm_recover_after_rollback(h, ctx, &hist.revs[hist.n - 1], target);
	phd_exec_result_clear(&res);
	helm_watch_free(&w);
out:
	free(line);
	strv_free(&fix);
	helm_history_free(&hist);
	return rc;
}

static json_t *jstr(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

/* Fill obj from helm status -o json (only the summary fields). */
static int status_fields(json_t *obj, const char *buf, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loadb(buf, len, 0, &je), *info, *meta;

	if (!root) {
		snprintf(err, errlen, "helm status -o json: line %d column %d: %s", je.line,
			 je.column, je.text);
		return PHD_ESYNTAX;
	}
	info = json_object_get(root, "info");
	meta = json_object_get(json_object_get(root, "chart"), "metadata");
	if (json_is_integer(json_object_get(root, "version")))
		json_object_set(obj, "revision", json_object_get(root, "version"));
	json_object_set_new(obj, "state", jstr(json_string_value(json_object_get(info, "status"))));
	json_object_set_new(obj, "last_deployed",
			    jstr(json_string_value(json_object_get(info, "last_deployed"))));
	json_object_set_new(obj, "first_deployed",
			    jstr(json_string_value(json_object_get(info, "first_deployed"))));
	json_object_set_new(obj, "chart_name",
			    jstr(json_string_value(json_object_get(meta, "name"))));
	json_object_set_new(obj, "chart_version",
			    jstr(json_string_value(json_object_get(meta, "version"))));
	json_object_set_new(obj, "app_version",
			    jstr(json_string_value(json_object_get(meta, "appVersion"))));
	json_decref(root);
	return 0;
}

static void history_fields(json_t *obj, const struct helm_history *hist)
{
	const struct helm_rev *cur = hist->n ? &hist->revs[hist->n - 1] : NULL;
	long long last_ok = newest_with(hist, hist->n, "deployed");
	json_t *revs = json_array();

	/* every revision, oldest first: `phdeploy history` prints them */
	for (size_t i = 0; revs && i < hist->n; i++)
		json_array_append_new(revs, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "revision",
						      (json_int_t)hist->revs[i].revision, "updated",
						      hist->revs[i].updated, "status",
						      hist->revs[i].status, "chart", hist->revs[i].chart,
						      "app_version", hist->revs[i].app_version,
						      "description", hist->revs[i].description));
	json_object_set_new(obj, "history", revs ? revs : json_null());
	json_object_set_new(obj, "revisions", json_integer((json_int_t)hist->n));
	json_object_set_new(obj, "last_deployed_revision",
			    last_ok ? json_integer(last_ok) : json_null());
	if (cur) {
		json_object_set_new(obj, "chart", jstr(cur->chart));
		json_object_set_new(obj, "description", jstr(cur->description));
		if (!json_object_get(obj, "revision"))
			json_object_set_new(obj, "revision", json_integer(cur->revision));
		if (json_is_null(json_object_get(obj, "app_version")) ||
		    !json_object_get(obj, "app_version"))
			json_object_set_new(obj, "app_version", jstr(cur->app_version));
		if (!json_is_string(json_object_get(obj, "state")))
			json_object_set_new(obj, "state", jstr(cur->status));
		/* real helm status -o json carries no chart: history's "NAME-VERSION" */
		if (!json_is_string(json_object_get(obj, "chart_version"))) {
			const char *d = strrchr(cur->chart, '-');
			while (d && d > cur->chart && !(d[1] >= '0' && d[1] <= '9'))
				d = memrchr(cur->chart, '-', (size_t)(d - cur->chart));
			if (d && d > cur->chart) {
				json_object_set_new(obj, "chart_name",
						    json_stringn(cur->chart, (size_t)(d - cur->chart)));
				json_object_set_new(obj, "chart_version", jstr(d + 1));
			}
		}
	}
}

int helm_status_json(phd_ctx *ctx, char **out, void *userdata)
{
	struct helm *h = userdata;
	struct phd_exec_result res;
	struct helm_history hist = { 0 };
	json_t *obj = json_object();
	char err[256];
	int rc, missing = 0;

	*out = NULL;
	if (!obj)
		return PHD_ENOMEM;
	json_object_set_new(obj, "release", jstr(phd_ctx_release(ctx)));
	json_object_set_new(obj, "namespace", jstr(phd_ctx_namespace(ctx)));
	rc = query(ctx, PHD_PHASE_DEPLOY, "status", "status: reading the release's status", &res,
		   &missing);
	if (!rc && missing) {
		json_object_set_new(obj, "state", json_string("not-installed"));
	} else if (!rc) {
		rc = status_fields(obj, res.out ? res.out : "", res.out_len, err, sizeof(err));
		if (rc)
			phd_set_error(ctx, rc, "%s: %s", HELM_PLUGIN, err);
	}
	phd_exec_result_clear(&res);
	if (!rc && !missing &&
	    !(rc = helm_history_get(h, ctx, "status: reading the release's history", &hist)))
		history_fields(obj, &hist);
	helm_history_free(&hist);
	if (!rc && !(*out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		rc = PHD_ENOMEM;
	json_decref(obj);
	return rc;
}

static int already_rolled_back(const struct helm_history *hist)
{
	const struct helm_rev *cur = hist->n ? &hist->revs[hist->n - 1] : NULL;
	return cur && !strcmp(cur->status, "deployed") &&
	       !strncmp(cur->description, "Rollback to ", 12);
}

int helm_rollback_phase(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	struct helm *h = userdata;
	struct helm_history hist = { 0 };
	struct helm_watch w = { 0 };
	struct phd_exec_result res;
	struct strv sv = { 0 };
	char rev[32];
	long long target;
	int rc;

	(void)mode;  /* the same in every mode; dry runs show, below */

	if ((rc = helm_major(h, ctx)))
		return rc;
	phd_log(ctx, PHD_LOG_WARN, "%s: a rollback does not undo database migrations: the "
		"PostgreSQL and ClickHouse schemas stay as the failed revision's migrate Job left "
		"them", HELM_PLUGIN);
	if (phd_ctx_rollback_revision(ctx) > 0)
		snprintf(rev, sizeof(rev), "%lld", phd_ctx_rollback_revision(ctx));
	if (phd_ctx_dry_run(ctx)) {
		helm_argv_rollback(&sv, h, ctx, phd_ctx_rollback_revision(ctx) > 0 ? rev :
				   "<last-deployed-revision>");
		helm_emit_command(ctx, phase, &sv, NULL);
		strv_free(&sv);
		return 0;
	}
	if ((rc = helm_history_get(h, ctx, "rollback: finding the revision to roll back to", &hist)))
		return rc;
	if (helm_history_state(&hist) && !strncmp(helm_history_state(&hist), "pending-", 8)) {
		/* the deploy stopped on it, or another helm holds it: not ours to undo */
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: not rolling back: release %s is %s (another "
				   "helm operation may be running; helm.recover_pending repairs it)",
				   HELM_PLUGIN, phd_ctx_release(ctx), helm_history_state(&hist));
		helm_history_free(&hist);
		return rc;
	}
	if (phd_ctx_rollback_revision(ctx) > 0) {
		/* asked for (rollback --to-revision): it must be one helm knows */
		size_t i;
		for (i = 0; i < hist.n && hist.revs[i].revision != phd_ctx_rollback_revision(ctx); i++)
			;
		if (i == hist.n) {
			rc = phd_set_error(ctx, PHD_ENOTFOUND, "%s: release %s has no revision %lld%s "
					   "(phdeploy history lists them)", HELM_PLUGIN,
					   phd_ctx_release(ctx), phd_ctx_rollback_revision(ctx),
					   hist.not_found ? ": it does not exist" : "");
			helm_history_free(&hist);
			return rc;
		}
		target = phd_ctx_rollback_revision(ctx);
		goto roll;
	}
	if (already_rolled_back(&hist)) {
		phd_log(ctx, PHD_LOG_INFO, "%s: helm already rolled %s back (%s)", HELM_PLUGIN,
			phd_ctx_release(ctx), hist.revs[hist.n - 1].description);
		helm_history_free(&hist);
		return 0;
	}
	target = helm_rollback_target(&hist);
	if (!target) {
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: release %s has no earlier deployed revision "
				   "to roll back to%s; remove a failed first install with: helm "
				   "uninstall %s --namespace %s", HELM_PLUGIN, phd_ctx_release(ctx),
				   hist.not_found ? " (it does not exist)" : "", phd_ctx_release(ctx),
				   phd_ctx_namespace(ctx));
		helm_history_free(&hist);
		return rc;
	}
roll:
	snprintf(rev, sizeof(rev), "%lld", target);
	helm_argv_rollback(&sv, h, ctx, rev);
	rc = helm_run(ctx, phase, &sv, NULL, PHD_EXEC_EMIT, h->timeout_ms + QUERY_TIMEOUT_MS, &w,
		      &res);
	if ((rc = helm_fail(ctx, "rollback: helm rollback", rc, &res, &w, NULL)) == 0)
		phd_log(ctx, PHD_LOG_INFO, "%s: rolled %s back to revision %lld", HELM_PLUGIN,
			phd_ctx_release(ctx), target);
	phd_exec_result_clear(&res);
	helm_watch_free(&w);
	helm_history_free(&hist);
	strv_free(&sv);
	return rc;
}
