/* Logging and events: everything goes through the redactor, then to the
 * application's callbacks.  Without callbacks nothing is printed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

PHD_EXTERN void phd_ctx_set_log(phd_ctx *ctx, phd_log_fn fn, void *payload)
{
	if (!ctx)
		return;
	ctx->log_fn = fn;
	ctx->log_payload = payload;
}

PHD_EXTERN void phd_ctx_set_event_cb(phd_ctx *ctx, phd_event_fn fn, void *payload)
{
	if (!ctx)
		return;
	ctx->ev_fn = fn;
	ctx->ev_payload = payload;
}

PHD_EXTERN void phd_logv(phd_ctx *ctx, int level, const char *fmt, va_list ap)
{
	struct phd_buf b = { 0 };
	char *red;

	if (!ctx)
		return;
	if (!ctx->in_check && !ctx->log_fn)
		return;
	if (phd_buf_vprintf(&b, fmt, ap) || !b.s)
		goto out;
	red = phd_redactor_apply(&ctx->redact, b.s, b.len, NULL);
	if (red) {
		if (ctx->in_check)
			phd_check_child_log(ctx, level, red);
		else
			ctx->log_fn(level, red, ctx->log_payload);
		free(red);
	}
out:
	phd_buf_wipe(&b);
}

PHD_EXTERN void phd_log(phd_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	phd_logv(ctx, level, fmt, ap);
	va_end(ap);
}

static char *red_dup(phd_ctx *ctx, const char *s)
{
	return s ? phd_redactor_apply(&ctx->redact, s, strlen(s), NULL) : NULL;
}

PHD_EXTERN void phd_emit(phd_ctx *ctx, const struct phd_event *ev)
{
	struct phd_event e;
	char *name, *object, *message, *file, *key;

	if (!ctx || !ev || !ctx->ev_fn || ctx->in_check)
		return;
	e = *ev;
	name = red_dup(ctx, ev->name);
	object = red_dup(ctx, ev->object);
	message = red_dup(ctx, ev->message);
	file = red_dup(ctx, ev->file);
	key = red_dup(ctx, ev->values_key);
	e.name = name;
	e.object = object;
	e.message = message;
	e.file = file;
	e.values_key = key;
	ctx->ev_fn(&e, ctx->ev_payload);
	free(name);
	free(object);
	free(message);
	free(file);
	free(key);
}

void phd_emit_simple(phd_ctx *ctx, int type, int phase, int status, long long ms,
		     const char *name, const char *message)
{
	struct phd_event e;
	memset(&e, 0, sizeof e);
	e.type = type;
	e.phase = phase;
	e.status = status;
	e.ms = ms;
	e.name = name;
	e.message = message;
	phd_emit(ctx, &e);
}
