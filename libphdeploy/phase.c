/* The pipeline: validate, secrets, preflight, repo, render, deploy, verify,
 * rollback, in that order, each with pre/post/fail hooks.  A phase that is
 * not asked for but needed by one that is runs without side effects
 * ("read"): preflight alone resolves secrets without applying them. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

/* What each phase reads from earlier ones. */
static unsigned needs(int phase)
{
	switch (phase) {
	case PHD_PHASE_SECRETS: return 0;
	case PHD_PHASE_PREFLIGHT: return PHD_PHASE_BIT(PHD_PHASE_SECRETS);
	case PHD_PHASE_RENDER: return PHD_PHASE_BIT(PHD_PHASE_REPO);
	/* deploy applies the Secrets, so it needs them resolved and checked */
	case PHD_PHASE_DEPLOY: return PHD_PHASE_BIT(PHD_PHASE_REPO) |
				      PHD_PHASE_BIT(PHD_PHASE_SECRETS);
	default: return 0;
	}
}

struct handler_call {
	int phase, mode;
};

static int invoke_handler(phd_ctx *ctx, struct phd_reg *r, void *arg)
{
	const struct handler_call *c = arg;
	return ((phd_phase_fn)r->fn)(ctx, c->phase, c->mode, r->userdata);
}

static size_t handler_count(phd_ctx *ctx, int phase)
{
	return phd_dispatch_list(ctx, PHD_REG_HANDLER, phase)->n;
}

/* Handlers registered for list_phase, called for phase as `mode`;
 * PHD_EIGNORE when none applied. */
static int call_handlers(phd_ctx *ctx, int list_phase, int phase, int mode)
{
	struct handler_call c = { phase, mode };
	size_t ran = 0;
	int rc;

	if (handler_count(ctx, list_phase) == 0)
		return phd_set_error(ctx, PHD_ENOPROVIDER,
				     "%s: no loaded plugin handles this phase (see 'phdeploy "
				     "plugins' and phdeploy-plugin(7))", phd_phase_name(list_phase));
	rc = phd_dispatch(ctx, PHD_REG_HANDLER, list_phase, -1, invoke_handler, &c, &ran);
	return rc == 0 && ran == 0 ? PHD_EIGNORE : rc;
}

static int run_handlers(phd_ctx *ctx, int phase, int mode)
{
	return call_handlers(ctx, phase, phase, mode);
}

static int secrets_configured(const phd_ctx *ctx)
{
	return phd_node_len(phd_node_child(ctx->config, "secrets")) > 0;
}

/* The secrets handlers (cross-check; apply in APPLY mode), called for
 * phase: the secrets phase itself, or deploy applying them.  Without a
 * handler, resolving was all there was to do: done when only reading, a
 * gap when Secrets were to be applied. */
static int run_secret_handlers(phd_ctx *ctx, int phase, int mode)
{
	if (handler_count(ctx, PHD_PHASE_SECRETS) == 0) {
		if (!secrets_configured(ctx))
			return PHD_EIGNORE;
		if (mode == PHD_MODE_READ)
			return 0;
	}
	return call_handlers(ctx, PHD_PHASE_SECRETS, phase, mode);
}

/* deploy: the deploy handlers first only read (a release stuck in
 * pending-* refuses the run here, before anything changed), then the
 * namespace and Secrets are applied, then the chart. */
static int deploy_body(phd_ctx *ctx, int mode)
{
	int rc;
	if (mode == PHD_MODE_READ)
		return run_handlers(ctx, PHD_PHASE_DEPLOY, mode);
	rc = run_handlers(ctx, PHD_PHASE_DEPLOY, PHD_MODE_READ);
	if (rc && rc != PHD_EIGNORE)
		return rc;
	rc = run_secret_handlers(ctx, PHD_PHASE_DEPLOY, mode);
	if (rc && rc != PHD_EIGNORE)
		return rc;
	return run_handlers(ctx, PHD_PHASE_DEPLOY, mode);
}

/* The body of a phase, in mode. */
static int phase_body(phd_ctx *ctx, int phase, int mode)
{
	int rc;
	switch (phase) {
	case PHD_PHASE_VALIDATE:
		return phd_validators_run(ctx, phase);
	case PHD_PHASE_SECRETS:
		if ((rc = phd_secrets_resolve(ctx)) != 0)
			return rc;
		return run_secret_handlers(ctx, phase, mode);
	case PHD_PHASE_PREFLIGHT:
		return phd_checks_run(ctx);
	case PHD_PHASE_RENDER:
	case PHD_PHASE_VERIFY:
		if ((rc = run_handlers(ctx, phase, mode)) != 0)
			return rc;
		return phd_validators_run(ctx, phase);
	case PHD_PHASE_DEPLOY:
		/* nothing touches the cluster before every check passed */
		return deploy_body(ctx, mode);
	default:
		return run_handlers(ctx, phase, mode);
	}
}

/* asked: the run's verb names the phase (its hooks run); mode: how its
 * handlers are called. */
static int run_phase(phd_ctx *ctx, int phase, int asked, int mode)
{
	long long t0 = phd_now_ms();
	int full = asked;
	int rc;

	ctx->running_phase = phase;
	phd_emit_simple(ctx, PHD_EV_PHASE_START, phase, 0, 0, phd_phase_name(phase),
			mode == PHD_MODE_APPLY ? NULL : mode == PHD_MODE_SHOW ? "shown, not done"
			: "read only");
	rc = full ? phd_hooks_run(ctx, phase, PHD_HOOK_PRE, 0) : 0;
	if (rc == 0)
		rc = phase_body(ctx, phase, mode);
	if (ctx->interrupted && (rc == 0 || rc == PHD_EIGNORE))
		rc = phd_set_error(ctx, PHD_EINTR, "%s: interrupted", phd_phase_name(phase));
	ctx->ms[phase] = phd_now_ms() - t0;
	if (rc == PHD_EIGNORE) {
		ctx->status[phase] = PHD_STATUS_SKIPPED;
		rc = 0;
	} else {
		ctx->status[phase] = rc == 0 ? PHD_STATUS_OK : PHD_STATUS_FAILED;
	}
	free(ctx->phase_msg[phase]);
	ctx->phase_msg[phase] = rc ? phd_err_save(ctx) : NULL;
	if (full) {
		/* the phase's own error is what the operator needs, not a hook's */
		char *saved = phd_err_save(ctx);
		int hrc = phd_hooks_run(ctx, phase, rc == 0 ? PHD_HOOK_POST : PHD_HOOK_FAIL, rc);
		/* ...unless a signal stopped the hooks of a phase that went well:
		 * then the run ends interrupted, with the hooks' message */
		if (hrc == PHD_EINTR && rc == 0) {
			free(saved);
			rc = PHD_EINTR;
		} else {
			phd_err_restore(ctx, saved, 0);
		}
	}
	phd_emit_simple(ctx, PHD_EV_PHASE_END, phase, ctx->status[phase], ctx->ms[phase],
			phd_phase_name(phase), ctx->phase_msg[phase]);
	ctx->running_phase = -1;
	return rc;
}

/* How a phase runs in a run of mask: asked for, it may change the cluster
 * (or show what it would, under plan/--dry-run); needed by a later phase,
 * it only reads.  The secrets phase of a deploy only reads: the deploy
 * phase applies them after render. */
static int asked(unsigned mask, int phase)
{
	return (mask & PHD_PHASE_BIT(phase)) || phase == PHD_PHASE_VALIDATE;
}

static int phase_mode(const phd_ctx *ctx, unsigned mask, int phase)
{
	if (!asked(mask, phase))
		return PHD_MODE_READ;
	if (phase == PHD_PHASE_SECRETS && (mask & PHD_PHASE_BIT(PHD_PHASE_DEPLOY)))
		return PHD_MODE_READ;
	return phd_ctx_dry_run(ctx) ? PHD_MODE_SHOW : PHD_MODE_APPLY;
}

/* Roll back only an upgrade this run started: the deploy was asked for,
 * its handler marked the release changed, the cluster could be read and
 * the policy asks for it. */
static int rollback_wanted(const phd_ctx *ctx, unsigned mask, int rc)
{
	return rc && rc != PHD_EINTR && rc != PHD_EUNREACHABLE &&
	       (ctx->failed_phase == PHD_PHASE_DEPLOY || ctx->failed_phase == PHD_PHASE_VERIFY) &&
	       (mask & PHD_PHASE_BIT(PHD_PHASE_DEPLOY)) && ctx->release_changed &&
	       !phd_ctx_dry_run(ctx) &&
	       phd_node_truthy(phd_node_get(ctx->config, "rollback.on_failure"), 0);
}

static int auto_rollback(phd_ctx *ctx, int rc)
{
	char *why = phd_err_save(ctx);
	int rb = run_phase(ctx, PHD_PHASE_ROLLBACK, 1, PHD_MODE_APPLY);
	if (rb == 0) {
		phd_set_error(ctx, PHD_EROLLEDBACK,
			      "%s failed and was rolled back (database migrations are not "
			      "undone): %s", phd_phase_name(ctx->failed_phase), why ? why : "");
		rc = PHD_EROLLEDBACK;
	} else {
		char *rbwhy = phd_err_save(ctx);
		phd_set_error(ctx, rc, "%s; the rollback failed too: %s", why ? why : "",
			      rbwhy ? rbwhy : "");
		free(rbwhy);
	}
	free(why);
	return rc;
}

static void reset_results(phd_ctx *ctx)
{
	memset(ctx->status, 0, sizeof ctx->status);
	memset(ctx->ms, 0, sizeof ctx->ms);
	for (int p = 0; p < PHD_PHASE_COUNT; p++) {
		free(ctx->phase_msg[p]);
		ctx->phase_msg[p] = NULL;
	}
	ctx->failed_phase = -1;
	ctx->timed_out = 0;
	ctx->release_changed = 0;
	phd_chart_free(ctx);  /* the chart is resolved anew by each run's repo phase */
	/* an interrupt that came before the run still stops it */
	phd_findings_clear(ctx);
	phd_checks_clear(ctx);
}

static int wants_lock(const phd_ctx *ctx, unsigned mask)
{
	unsigned changing = PHD_PHASE_BIT(PHD_PHASE_SECRETS) | PHD_PHASE_BIT(PHD_PHASE_DEPLOY) |
			    PHD_PHASE_BIT(PHD_PHASE_ROLLBACK);
	return (mask & changing) && !phd_ctx_dry_run(ctx) && !(ctx->opt.flags & PHD_OPT_NO_LOCK);
}

PHD_EXTERN int phd_run(phd_ctx *ctx, unsigned mask)
{
	unsigned run = 0;
	int rc = 0;

	if (!ctx)
		return PHD_EINVAL;
	if (mask == 0 || (mask & ~PHD_PHASES_ALL))
		return phd_set_error(ctx, PHD_EINVAL, "phd_run: empty or invalid phase mask 0x%x",
				     mask);
	reset_results(ctx);
	ctx->run_mask = mask;
	rc = phd_ctx_load(ctx);
	if (rc) {
		/* bad input is the validate phase's failure; a broken plugin is not */
		ctx->failed_phase = rc == PHD_EPLUGIN || rc == PHD_EABI || rc == PHD_ENOMEM
				    ? -1 : PHD_PHASE_VALIDATE;
		ctx->status[PHD_PHASE_VALIDATE] = PHD_STATUS_FAILED;
		free(ctx->phase_msg[PHD_PHASE_VALIDATE]);
		ctx->phase_msg[PHD_PHASE_VALIDATE] = strdup(phd_ctx_errmsg(ctx));
		phd_emit_simple(ctx, PHD_EV_PHASE_END, PHD_PHASE_VALIDATE, PHD_STATUS_FAILED, 0,
				"validate", phd_ctx_errmsg(ctx));
		goto out;
	}
	if ((rc = phd_tmpdir_check(ctx)) != 0 ||
	    (!(ctx->opt.flags & PHD_OPT_NO_JOURNAL) && (rc = phd_journal_check(ctx)) != 0)) {
		ctx->failed_phase = -1;
		ctx->run_mask = 0;
		return rc;
	}
	if (wants_lock(ctx, mask) && (rc = phd_lock_take(ctx)) != 0)
		goto out;
	/* validate always runs: nothing else may work on unchecked input */
	run = mask | PHD_PHASE_BIT(PHD_PHASE_VALIDATE);
	for (int p = PHD_PHASE_COUNT - 1; p >= 0; p--)
		if (run & PHD_PHASE_BIT(p))
			run |= needs(p);
	for (int p = 0; p < PHD_PHASE_ROLLBACK; p++) {
		if (!(run & PHD_PHASE_BIT(p)))
			continue;
		rc = run_phase(ctx, p, asked(mask, p), phase_mode(ctx, mask, p));
		if (rc) {
			ctx->failed_phase = p;
			break;
		}
	}
	if (rc == 0 && (mask & PHD_PHASE_BIT(PHD_PHASE_ROLLBACK))) {
		rc = run_phase(ctx, PHD_PHASE_ROLLBACK, 1, phase_mode(ctx, mask, PHD_PHASE_ROLLBACK));
		if (rc)
			ctx->failed_phase = PHD_PHASE_ROLLBACK;
	} else if (rollback_wanted(ctx, mask, rc)) {
		rc = auto_rollback(ctx, rc);
	}
out:
	ctx->run_mask = 0;
	if (!(ctx->opt.flags & PHD_OPT_NO_JOURNAL)) {
		char *saved = phd_err_save(ctx);
		phd_journal_append(ctx, mask, rc);
		phd_err_restore(ctx, saved, 0);
	}
	phd_lock_release(ctx);
	ctx->interrupted = 0; /* consumed: the next run starts afresh */
	{
		struct phd_event e;
		memset(&e, 0, sizeof e);
		e.type = PHD_EV_RUN_END;
		e.phase = ctx->failed_phase;
		e.status = rc == 0 ? PHD_STATUS_OK : PHD_STATUS_FAILED;
		e.code = rc;
		e.message = rc ? phd_ctx_errmsg(ctx) : NULL;
		phd_emit(ctx, &e);
	}
	return rc;
}

PHD_EXTERN void phd_ctx_set_release_changed(phd_ctx *ctx)
{
	if (ctx)
		ctx->release_changed = 1;
}

PHD_EXTERN int phd_ctx_set_rollback_revision(phd_ctx *ctx, long long revision)
{
	if (!ctx)
		return PHD_EINVAL;
	if (revision < 0)
		return phd_set_error(ctx, PHD_EINVAL, "rollback revision %lld: a revision is 1 or "
				     "more (0: the last good one)", revision);
	ctx->rollback_revision = revision;
	return 0;
}

PHD_EXTERN long long phd_ctx_rollback_revision(const phd_ctx *ctx)
{
	return ctx ? ctx->rollback_revision : 0;
}

/* An action is a verb of its own: it runs no phase, but it changes the
 * release as a deploy does, so it takes the same lock and leaves the same
 * journal line (with its name). */
PHD_EXTERN int phd_run_action(phd_ctx *ctx, const char *name, unsigned flags)
{
	struct phd_reg *r;
	int rc;

	if (!ctx || !name)
		return PHD_EINVAL;
	reset_results(ctx);
	if ((rc = phd_ctx_load(ctx)) != 0)
		return rc;
	if ((rc = phd_tmpdir_check(ctx)) != 0 ||
	    (!(ctx->opt.flags & PHD_OPT_NO_JOURNAL) && (rc = phd_journal_check(ctx)) != 0))
		return rc;
	if (!(r = phd_dispatch_find(ctx, PHD_REG_ACTION, name)))
		return phd_set_error(ctx, PHD_ENOPROVIDER, "%s: no loaded plugin provides this "
				     "action (see 'phdeploy plugins')", name);
	if (!phd_ctx_dry_run(ctx) && !(ctx->opt.flags & PHD_OPT_NO_LOCK) &&
	    (rc = phd_lock_take(ctx)) != 0)
		goto out;
	rc = ((phd_action_fn)r->fn)(ctx, phd_ctx_dry_run(ctx) ? PHD_MODE_SHOW : PHD_MODE_APPLY,
				    flags, r->userdata);
	if (ctx->interrupted && rc == 0)
		rc = phd_set_error(ctx, PHD_EINTR, "%s: interrupted", name);
out:
	if (!(ctx->opt.flags & PHD_OPT_NO_JOURNAL)) {
		char *saved = phd_err_save(ctx);
		ctx->action = name;
		ctx->action_flags = flags;
		phd_journal_append(ctx, 0, rc);
		ctx->action = NULL;
		phd_err_restore(ctx, saved, 0);
	}
	phd_lock_release(ctx);
	ctx->interrupted = 0;
	return rc;
}

PHD_EXTERN int phd_status(phd_ctx *ctx, char **out_json)
{
	int rc;
	if (!ctx || !out_json)
		return PHD_EINVAL;
	*out_json = NULL;
	if ((rc = phd_ctx_load(ctx)) != 0)
		return rc;
	{
		const struct phd_vec *l = phd_dispatch_list(ctx, PHD_REG_STATUS, -1);
		if (l->n) {
			struct phd_reg *r = l->v[0];
			return ((phd_status_fn)r->fn)(ctx, out_json, r->userdata);
		}
	}
	return phd_set_error(ctx, PHD_ENOPROVIDER,
			     "status: no loaded plugin reports release status (see 'phdeploy "
			     "plugins')");
}
