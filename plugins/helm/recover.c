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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "helm-private.h"

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
		helm_note(ctx, "recovery.jsonl",
			  json_pack("{s:s, s:I, s:s, s:I, s:I, s:s}", "action", "rollback-failed",
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
	helm_kubectl_argv(&sv, ctx);
	strv_add(&sv, "get");
	strv_add(&sv, "secret");
	strv_add(&sv, name);
	strv_add(&sv, "-o");
	strv_add(&sv, "json");
	/* raw: the record holds the release's values; never shown, wiped */
	if ((rc = helm_kubectl(ctx, &sv, NULL, 0, PHD_EXEC_RAW_STDOUT, 0,
			       "reading the stuck release record", &res)) ||
	    (rc = helm_record_save(ctx, res.out ? res.out : "", res.out_len, name, path, sizeof(path))))
		goto out;
	phd_exec_result_clear(&res);
	strv_free(&sv);
	helm_kubectl_argv(&sv, ctx);
	strv_add(&sv, "create");
	strv_add(&sv, "-f");
	strv_add(&sv, path);
	restore = strv_join(&sv);
	strv_free(&sv);
	helm_kubectl_argv(&sv, ctx);
	strv_add(&sv, "delete");
	strv_add(&sv, "secret");
	strv_add(&sv, name);
	if ((rc = helm_kubectl(ctx, &sv, NULL, 0, PHD_EXEC_CAPTURE_STDOUT, 0,
			       "deleting the stuck release record", &res)))
		goto out;
	phd_log(ctx, PHD_LOG_WARN, "%s: helm could not roll %s back to revision %lld and recorded "
		"nothing, so phdeploy deleted the record of the stuck revision %lld (%s), making "
		"revision %lld current again; the record is backed up in %s (mode 0600: it holds "
		"the release's values; the upgrade that follows creates a new revision %lld, so "
		"`%s` puts it back only once that one is gone)", HELM_PLUGIN,
		phd_ctx_release(ctx), target, stuck->revision, stuck->status, target, path,
		stuck->revision, restore ? restore : "");
	helm_note(ctx, "recovery.jsonl",
		  json_pack("{s:s, s:I, s:s, s:I, s:s, s:s, s:s}", "action", "record-deleted",
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
