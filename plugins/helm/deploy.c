/* deploy phase: helm upgrade --install, streamed through the redactor,
 * with progress events, a deadline, and a failure that says which kind
 * it was (timeout, migration Job, render, cluster). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helm-private.h"

/* helm's own --timeout applies per wait; give it room to report before
 * the hard deadline stops it */
static long long deadline_ms(long long timeout_ms)
{
	long long margin = timeout_ms / 10;
	if (margin < 2 * 60 * 1000)
		margin = 2 * 60 * 1000;
	return timeout_ms + margin;
}

static const char *hint_for(int cls, phd_ctx *ctx, const struct helm_watch *w, char *buf,
			    size_t len)
{
	switch (cls) {
	case HELM_FAIL_TIMEOUT:
		if (*w->last_progress)
			snprintf(buf, len, "last waiting for: %s", w->last_progress);
		else
			snprintf(buf, len, "not everything was ready within helm.timeout");
		return buf;
	case HELM_FAIL_JOB:
		snprintf(buf, len, "see kubectl --namespace %s get jobs and the migrate Job's "
			 "logs; a rollback does not undo migrations", phd_ctx_namespace(ctx));
		return buf;
	case HELM_FAIL_RENDER:
		return "phdeploy render shows it without touching the cluster";
	case HELM_FAIL_CLUSTER:
		return "check kube.context / --kube-context and the cluster credentials";
	case HELM_FAIL_PENDING:
		return "another helm operation holds the release (helm history shows it)";
	default:
		return NULL;
	}
}

/* What an interrupted upgrade left, from helm's own words: its SIGINT
 * handler prints "Release NAME has been cancelled." and records the revision
 * it started as failed; a helm that had to be killed recorded nothing more,
 * so its revision stays pending-*. */
static int interrupted(phd_ctx *ctx, const struct helm_watch *w,
		       const struct phd_exec_result *res)
{
	const char *rel = phd_ctx_release(ctx), *ns = phd_ctx_namespace(ctx);

	if (w->cancelled && !res->term_signal)
		return phd_set_error(ctx, PHD_EINTR, "%s: deploy interrupted after %lld s: helm "
				     "cancelled the upgrade%s and records the revision it started "
				     "as failed; nothing was rolled back.  `helm history %s "
				     "--namespace %s` shows it; the next deploy upgrades from "
				     "there", HELM_PLUGIN, res->ms / 1000,
				     *w->last_progress ? " while it waited for the resources" : "",
				     rel, ns);
	return phd_set_error(ctx, PHD_EINTR, "%s: deploy interrupted after %lld s: helm was "
			     "stopped before it could record the outcome (%s %d), so the release "
			     "is probably left pending-upgrade or pending-install; the next deploy "
			     "detects it and names the command that resolves it "
			     "(helm.recover_pending: true runs it)", HELM_PLUGIN, res->ms / 1000,
			     res->term_signal ? "signal" : "exit",
			     res->term_signal ? res->term_signal : res->exit_code);
}

int helm_deploy_phase(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	struct helm *h = userdata;
	struct helm_watch w = { 0 };
	struct phd_exec_result res = { 0 };
	struct strv sv = { 0 };
	char *pr = NULL, *env = NULL, hint[320];
	int rc;

	if (!phd_ctx_chart(ctx) || !phd_ctx_release(ctx) || !phd_ctx_namespace(ctx))
		return phd_set_error(ctx, PHD_EINVAL, "%s: deploy needs a chart, a release and a "
				     "namespace", HELM_PLUGIN);
	if (mode == PHD_MODE_READ) {
		/* before anything is applied: a release stuck in pending-* refuses
		 * the run while the cluster is still as it was */
		if (phd_ctx_dry_run(ctx))
			return PHD_EIGNORE;
		return (rc = helm_major(h, ctx)) ? rc : helm_check_pending(h, ctx);
	}
	if ((rc = helm_major(h, ctx)) || (rc = helm_post_renderer(h, ctx, &pr, &env)))
		return rc;
	helm_argv_upgrade(&sv, h, ctx, pr);
	if (mode == PHD_MODE_SHOW) {
		helm_emit_command(ctx, phase, &sv, env);
		goto out;
	}
	phd_log(ctx, PHD_LOG_INFO, "%s: helm upgrade --install %s (Helm %d, timeout %lld s)",
		HELM_PLUGIN, phd_ctx_release(ctx), h->major, h->timeout_ms / 1000);
	phd_ctx_set_release_changed(ctx);  /* from here a failure may be rolled back */
	rc = helm_run(ctx, phase, &sv, env, PHD_EXEC_EMIT, deadline_ms(h->timeout_ms), &w, &res);
	if (rc == PHD_EINTR || res.interrupted) {
		rc = interrupted(ctx, &w, &res);
	} else if (rc == PHD_ETIMEOUT || res.timed_out) {
		phd_ctx_set_timed_out(ctx);
		rc = phd_set_error(ctx, PHD_ETIMEOUT, "%s: helm did not exit within %lld s (helm."
				   "timeout plus a margin) and was stopped%s%s", HELM_PLUGIN,
				   deadline_ms(h->timeout_ms) / 1000,
				   *w.last_progress ? "; last waiting for: " : "", w.last_progress);
	} else if (rc == 0 && res.exit_code != 0) {
		int cls = w.cls;
		rc = helm_fail(ctx, "deploy: helm upgrade --install", rc, &res, &w,
			       hint_for(cls, ctx, &w, hint, sizeof(hint)));
		if (cls == HELM_FAIL_TIMEOUT)
			phd_ctx_set_timed_out(ctx);
	} else if (rc) {
		rc = helm_fail(ctx, "deploy: helm upgrade --install", rc, &res, &w, NULL);
	} else {
		phd_log(ctx, PHD_LOG_INFO, "%s: release %s deployed in %lld s", HELM_PLUGIN,
			phd_ctx_release(ctx), res.ms / 1000);
	}
	if (w.filter.dropped)
		phd_log(ctx, PHD_LOG_DEBUG, "%s: %lu lines of helm --debug output withheld (values "
			"and Secret data)", HELM_PLUGIN, w.filter.dropped);
out:
	phd_exec_result_clear(&res);
	helm_watch_free(&w);
	strv_free(&sv);
	free(pr);
	free(env);
	return rc;
}
