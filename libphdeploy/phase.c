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
	case PHD_PHASE_DEPLOY: return PHD_PHASE_BIT(PHD_PHASE_REPO);
	default: return 0;
	}
}

static int count_handlers(phd_ctx *ctx, int phase)
{
	int n = 0;
	for (size_t i = 0; i < ctx->regs.n; i++) {
		struct phd_reg *r = ctx->regs.v[i];
		n += r->kind == PHD_REG_HANDLER && r->phase == phase;
	}
	return n;
}

static int run_handlers(phd_ctx *ctx, int phase)
{
	int n = 0;
	if (count_handlers(ctx, phase) == 0) {
		static const char *const who[PHD_PHASE_COUNT] = {
			NULL, "kube", NULL, "helm", "helm", "helm", "kube", "helm"
		};
		return phd_set_error(ctx, PHD_ENOPROVIDER,
				     "%s: no loaded plugin handles this phase (the '%s' plugin "
				     "provides it; see 'phdeploy plugins')", phd_phase_name(phase),
				     who[phase] ? who[phase] : "?");
	}
	for (size_t i = 0; i < ctx->regs.n; i++) {
		struct phd_reg *r = ctx->regs.v[i];
		int rc;
		if (r->kind != PHD_REG_HANDLER || r->phase != phase)
			continue;
		free(ctx->errmsg);
		ctx->errmsg = NULL;
		rc = ((phd_phase_fn)r->fn)(ctx, phase, r->userdata);
		n++;
		if (rc && rc != PHD_EIGNORE) {
			if (!ctx->errmsg || !*ctx->errmsg)
				phd_set_error(ctx, rc, "%s: plugin '%s' failed: %s",
					      phd_phase_name(phase), r->plugin->name, phd_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* The body of a phase.  full: asked for (side effects allowed). */
static int phase_body(phd_ctx *ctx, int phase, int full)
{
	int rc;
	switch (phase) {
	case PHD_PHASE_VALIDATE:
		return phd_validators_run(ctx, phase);
	case PHD_PHASE_SECRETS:
		if ((rc = phd_secrets_resolve(ctx)) != 0 || !full)
			return rc;
		if (phd_node_len(phd_node_child(ctx->config, "secrets")) == 0 &&
		    count_handlers(ctx, phase) == 0)
			return PHD_EIGNORE;
		return run_handlers(ctx, phase);
	case PHD_PHASE_PREFLIGHT:
		return phd_checks_run(ctx);
	case PHD_PHASE_RENDER:
		if ((rc = run_handlers(ctx, phase)) != 0)
			return rc;
		return phd_validators_run(ctx, phase);
	case PHD_PHASE_VERIFY:
		if ((rc = run_handlers(ctx, phase)) != 0)
			return rc;
		return phd_validators_run(ctx, phase);
	default:
		return run_handlers(ctx, phase);
	}
}

static int run_phase(phd_ctx *ctx, int phase, int full)
{
	long long t0 = phd_now_ms();
	int rc;
	char *msg = NULL;

	ctx->running_phase = phase;
	phd_emit_simple(ctx, PHD_EV_PHASE_START, phase, 0, 0, phd_phase_name(phase),
			full ? NULL : "read only");
	rc = full ? phd_hooks_run(ctx, phase, PHD_HOOK_PRE, 0) : 0;
	if (rc == 0)
		rc = phase_body(ctx, phase, full);
	if (ctx->interrupted && rc == 0)
		rc = phd_set_error(ctx, PHD_EINTR, "%s: interrupted", phd_phase_name(phase));
	ctx->ms[phase] = phd_now_ms() - t0;
	if (rc == PHD_EIGNORE) {
		ctx->status[phase] = PHD_STATUS_SKIPPED;
		rc = 0;
	} else {
		ctx->status[phase] = rc == 0 ? PHD_STATUS_OK : PHD_STATUS_FAILED;
	}
	if (rc != 0)
		msg = strdup(phd_ctx_errmsg(ctx));
	free(ctx->phase_msg[phase]);
	ctx->phase_msg[phase] = msg ? strdup(msg) : NULL;
	if (full) {
		char *saved = msg ? strdup(msg) : NULL;
		phd_hooks_run(ctx, phase, rc == 0 ? PHD_HOOK_POST : PHD_HOOK_FAIL, rc);
		if (saved) /* the phase's own error is what the operator needs */
			phd_set_error(ctx, rc, "%s", saved);
		free(saved);
	}
	phd_emit_simple(ctx, PHD_EV_PHASE_END, phase, ctx->status[phase], ctx->ms[phase],
			phd_phase_name(phase), msg);
	free(msg);
	ctx->running_phase = -1;
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
		rc = run_phase(ctx, p, (mask & PHD_PHASE_BIT(p)) || p == PHD_PHASE_VALIDATE);
		if (rc) {
			ctx->failed_phase = p;
			break;
		}
	}
	if (rc == 0 && (mask & PHD_PHASE_BIT(PHD_PHASE_ROLLBACK))) {
		rc = run_phase(ctx, PHD_PHASE_ROLLBACK, 1);
		if (rc)
			ctx->failed_phase = PHD_PHASE_ROLLBACK;
	} else if (rc && rc != PHD_EINTR &&
		   (ctx->failed_phase == PHD_PHASE_DEPLOY || ctx->failed_phase == PHD_PHASE_VERIFY) &&
		   phd_node_truthy(phd_node_get(ctx->config, "rollback.on_failure"), 0) &&
		   !phd_ctx_dry_run(ctx)) {
		char *why = strdup(phd_ctx_errmsg(ctx));
		int rb = run_phase(ctx, PHD_PHASE_ROLLBACK, 1);
		if (rb == 0) {
			phd_set_error(ctx, PHD_EROLLEDBACK,
				      "%s failed and was rolled back (database migrations are not "
				      "undone): %s", phd_phase_name(ctx->failed_phase),
				      why ? why : "");
			rc = PHD_EROLLEDBACK;
		} else {
			char *rbwhy = strdup(phd_ctx_errmsg(ctx));
			phd_set_error(ctx, rc, "%s; the rollback failed too: %s", why ? why : "",
				      rbwhy ? rbwhy : "");
			free(rbwhy);
		}
		free(why);
	}
out:
	if (!(ctx->opt.flags & PHD_OPT_NO_JOURNAL)) {
		char *saved = rc ? strdup(phd_ctx_errmsg(ctx)) : NULL;
		phd_journal_append(ctx, mask, rc);
		if (saved)
			phd_set_error(ctx, rc, "%s", saved);
		free(saved);
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

PHD_EXTERN int phd_status(phd_ctx *ctx, char **out_json)
{
	int rc;
	if (!ctx || !out_json)
		return PHD_EINVAL;
	*out_json = NULL;
	if ((rc = phd_ctx_load(ctx)) != 0)
		return rc;
	for (size_t i = 0; i < ctx->regs.n; i++) {
		struct phd_reg *r = ctx->regs.v[i];
		if (r->kind == PHD_REG_STATUS)
			return ((phd_status_fn)r->fn)(ctx, out_json, r->userdata);
	}
	return phd_set_error(ctx, PHD_ENOPROVIDER,
			     "status: no loaded plugin reports release status (the 'helm' plugin "
			     "does)");
}
