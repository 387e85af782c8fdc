/* Static texts for codes, phases, statuses; the per-context message. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

PHD_EXTERN const char *phd_version(void)
{
	return PHD_VERSION_STRING;
}

PHD_EXTERN const char *phd_strerror(int code)
{
	switch (code) {
	case PHD_OK: return "success";
	case PHD_EINTERNAL: return "internal error";
	case PHD_ENOMEM: return "out of memory";
	case PHD_EINVAL: return "invalid argument";
	case PHD_EIO: return "input/output error";
	case PHD_ESYNTAX: return "syntax error";
	case PHD_ETYPE: return "wrong type";
	case PHD_ENOTFOUND: return "not found";
	case PHD_ETOOBIG: return "input too large";
	case PHD_EPLUGIN: return "plugin error";
	case PHD_EABI: return "plugin ABI mismatch";
	case PHD_ETIMEOUT: return "timed out";
	case PHD_ECHILD: return "child process failed";
	case PHD_EINTR: return "interrupted";
	case PHD_ELOCKED: return "another run holds the lock";
	case PHD_EFAILED: return "phase failed";
	case PHD_ENOPROVIDER: return "no plugin provides this";
	case PHD_EROLLEDBACK: return "rolled back after a failure";
	case PHD_EIGNORE: return "not applicable";
	case PHD_EUNREACHABLE: return "cluster unreachable, state unknown";
	default: return "unknown error";
	}
}

static const char *const phase_names[PHD_PHASE_COUNT] = {
	"validate", "secrets", "preflight", "repo", "render", "deploy", "verify", "rollback"
};

PHD_EXTERN const char *phd_phase_name(int phase)
{
	if (phase < 0 || phase >= PHD_PHASE_COUNT)
		return NULL;
	return phase_names[phase];
}

PHD_EXTERN int phd_phase_from_name(const char *name)
{
	for (int i = 0; name && i < PHD_PHASE_COUNT; i++)
		if (!strcmp(name, phase_names[i]))
			return i;
	return PHD_ENOTFOUND;
}

PHD_EXTERN const char *phd_status_name(int status)
{
	switch (status) {
	case PHD_STATUS_OK: return "ok";
	case PHD_STATUS_FAILED: return "failed";
	case PHD_STATUS_SKIPPED: return "skipped";
	default: return "notrun";
	}
}

PHD_EXTERN const char *phd_severity_name(int severity)
{
	switch (severity) {
	case PHD_SEV_INFO: return "info";
	case PHD_SEV_WARN: return "warn";
	case PHD_SEV_ERROR: return "error";
	default: return "off";
	}
}

PHD_EXTERN const char *phd_ctx_errmsg(const phd_ctx *ctx)
{
	if (!ctx)
		return "no context (out of memory)";
	return ctx->errmsg ? ctx->errmsg : "";
}

PHD_EXTERN int phd_set_error(phd_ctx *ctx, int code, const char *fmt, ...)
{
	struct phd_buf b = { 0 };
	va_list ap;
	char *red;

	if (!ctx)
		return code;
	va_start(ap, fmt);
	phd_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	red = b.s ? phd_redactor_apply(&ctx->redact, b.s, b.len, NULL) : NULL;
	phd_buf_wipe(&b);
	free(ctx->errmsg);
	ctx->errmsg = red;
	return code;
}

PHD_EXTERN int phd_exit_code(const phd_ctx *ctx, int rc)
{
	static const int by_phase[PHD_PHASE_COUNT] = { 3, 4, 5, 6, 7, 8, 10, 8 };
	if (rc == 0)
		return 0;
	if (rc == PHD_ELOCKED)
		return 12;
	if (rc == PHD_EROLLEDBACK)
		return 11;
	if (rc == PHD_EINVAL && (!ctx || ctx->failed_phase < 0))
		return 2;
	if (!ctx || ctx->failed_phase < 0)
		return 1;
	if (ctx->failed_phase == PHD_PHASE_DEPLOY && ctx->timed_out)
		return 9;
	return by_phase[ctx->failed_phase];
}
