/* The one dispatcher.  Registrations are compiled once into a table by
 * kind and phase; every phase runs its entries through phd_dispatch(),
 * which applies one control rule (as PAM's control flags):
 *
 *   required  a failure fails the phase; later entries do not run
 *   optional  a failure is a warning; the phase goes on
 *   advisory  a failure is an info line; the phase goes on
 *
 * and PHD_EIGNORE means "not applicable": the entry counts as skipped. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

static void table_free(phd_ctx *ctx)
{
	for (int k = 0; k < PHD_REG_KINDS; k++)
		for (int p = 0; p <= PHD_PHASE_COUNT; p++)
			phd_vec_free(&ctx->table[k][p], NULL);
	ctx->table_ok = 0;
}

void phd_dispatch_invalidate(phd_ctx *ctx)
{
	table_free(ctx);
}

/* Slot PHD_PHASE_COUNT holds the registrations of no phase (providers,
 * status). */
static int slot(const struct phd_reg *r)
{
	return r->phase >= 0 && r->phase < PHD_PHASE_COUNT ? r->phase : PHD_PHASE_COUNT;
}

static int table_build(phd_ctx *ctx)
{
	if (ctx->table_ok)
		return 0;
	table_free(ctx);
	for (size_t i = 0; i < ctx->regs.n; i++) {
		struct phd_reg *r = ctx->regs.v[i];
		if (phd_vec_push(&ctx->table[r->kind][slot(r)], r)) {
			table_free(ctx);
			return PHD_ENOMEM;
		}
	}
	ctx->table_ok = 1;
	return 0;
}

const struct phd_vec *phd_dispatch_list(phd_ctx *ctx, int kind, int phase)
{
	static const struct phd_vec empty = { NULL, 0, 0 };
	if (kind <= 0 || kind >= PHD_REG_KINDS || table_build(ctx))
		return &empty;
	return &ctx->table[kind][phase >= 0 && phase < PHD_PHASE_COUNT ? phase : PHD_PHASE_COUNT];
}

struct phd_reg *phd_dispatch_find(phd_ctx *ctx, int kind, const char *name)
{
	const struct phd_vec *l = phd_dispatch_list(ctx, kind, -1);
	for (int p = 0; p <= PHD_PHASE_COUNT && name; p++) {
		l = phd_dispatch_list(ctx, kind, p == PHD_PHASE_COUNT ? -1 : p);
		for (size_t i = 0; i < l->n; i++) {
			struct phd_reg *r = l->v[i];
			if (r->name && !strcmp(r->name, name))
				return r;
		}
	}
	return NULL;
}

int phd_dispatch_outcome(phd_ctx *ctx, const struct phd_reg *r, int phase, int rc)
{
	const char *what = phd_phase_name(phase) ? phd_phase_name(phase) : "run";
	if (rc == 0 || rc == PHD_EIGNORE)
		return rc;
	if (rc == PHD_EINTR)
		return rc;  /* an interruption stops the run whatever the control */
	if (!ctx->errmsg || !*ctx->errmsg)
		phd_set_error(ctx, rc, "%s: %s%s%s (plugin '%s') failed: %s", what,
			      r->kind_name, r->name ? " " : "", r->name ? r->name : "",
			      r->plugin->name, phd_strerror(rc));
	switch (r->control) {
	case PHD_CTL_OPTIONAL:
		phd_log(ctx, PHD_LOG_WARN, "%s (optional, the run goes on)", ctx->errmsg);
		return 0;
	case PHD_CTL_ADVISORY:
		phd_log(ctx, PHD_LOG_INFO, "%s (advisory)", ctx->errmsg);
		return 0;
	default:
		return rc;
	}
}

int phd_dispatch(phd_ctx *ctx, int kind, int phase, int when, phd_invoke_fn invoke, void *arg,
		 size_t *ran)
{
	const struct phd_vec *l = phd_dispatch_list(ctx, kind, phase);
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct phd_reg *r = l->v[i];
		int rc;
		if (when >= 0 && r->when != when)
			continue;
		phd_err_clear(ctx);
		rc = invoke(ctx, r, arg);
		if (rc != PHD_EIGNORE)
			n++;
		rc = phd_dispatch_outcome(ctx, r, phase, rc);
		if (rc && rc != PHD_EIGNORE) {
			if (ran)
				*ran = n;
			return rc;
		}
	}
	if (ran)
		*ran = n;
	return 0;
}

/* ---- error message save/restore ----------------------------------- */

void phd_err_clear(phd_ctx *ctx)
{
	free(ctx->errmsg);
	ctx->errmsg = NULL;
}

char *phd_err_save(const phd_ctx *ctx)
{
	return ctx->errmsg ? strdup(ctx->errmsg) : NULL;
}

int phd_err_restore(phd_ctx *ctx, char *saved, int code)
{
	free(ctx->errmsg);
	ctx->errmsg = saved;
	return code;
}
