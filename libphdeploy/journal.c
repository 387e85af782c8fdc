/* The journal: one JSON line per run appended to <state>/journal.jsonl.
 * It records the chart pinned and the chart resolved (version, digest),
 * phases, durations and the outcome — never a secret (every
 * string passes the redactor, and none of them carries values). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "phd-private.h"

int phd_journal_append(phd_ctx *ctx, unsigned mask, int rc)
{
	const char *dir = phd_ctx_state_dir(ctx);
	struct phd_buf b = { 0 };
	const struct phd_chart_ref *ref;
	char when[32], *path, *red;
	time_t now = time(NULL);
	struct tm tm;
	struct stat st;
	int fd;

	if (!dir || phd_mkdir_p(dir, 0700) != 0)
		return PHD_EIO;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	phd_buf_printf(&b, "{\"time\":\"%s\",\"pid\":%ld,\"release\":", when, (long)getpid());
	phd_buf_json_str(&b, phd_ctx_release(ctx));
	phd_buf_puts(&b, ",\"namespace\":");
	phd_buf_json_str(&b, phd_ctx_namespace(ctx));
	phd_buf_puts(&b, ",\"chart\":");
	phd_buf_json_str(&b, ctx->chart ? ctx->chart : "");
	phd_buf_puts(&b, ",\"version\":");
	phd_buf_json_str(&b, ctx->chart_version ? ctx->chart_version : "");
	/* the pin says what was asked for; these say what helm was handed */
	phd_buf_puts(&b, ",\"chart_resolved\":");
	if (phd_ctx_chart_resolved(ctx, &ref) == 0) {
		phd_buf_puts(&b, "{\"name\":");
		phd_buf_json_str(&b, ref->name ? ref->name : "");
		phd_buf_puts(&b, ",\"version\":");
		phd_buf_json_str(&b, ref->chart_version ? ref->chart_version : "");
		phd_buf_puts(&b, ",\"digest\":");
		phd_buf_json_str(&b, ref->digest ? ref->digest : "");
		phd_buf_puts(&b, "}");
	} else {
		phd_buf_puts(&b, "null");
	}
	if (ctx->action) {
		phd_buf_puts(&b, ",\"action\":");
		phd_buf_json_str(&b, ctx->action);
		phd_buf_printf(&b, ",\"undo\":%s",
			       ctx->action_flags & PHD_ACTION_UNDO ? "true" : "false");
	}
	phd_buf_printf(&b, ",\"dry_run\":%s,\"phases\":[", phd_ctx_dry_run(ctx) ? "true" : "false");
	for (int p = 0, first = 1; p < PHD_PHASE_COUNT; p++) {
		if (ctx->status[p] == PHD_STATUS_NOTRUN && !(mask & PHD_PHASE_BIT(p)))
			continue;
		phd_buf_printf(&b, "%s{\"phase\":\"%s\",\"status\":\"%s\",\"ms\":%lld}",
			       first ? "" : ",", phd_phase_name(p), phd_status_name(ctx->status[p]),
			       ctx->ms[p]);
		first = 0;
	}
	phd_buf_printf(&b, "],\"outcome\":\"%s\",\"exit\":%d,\"failed_phase\":",
		       rc == 0 ? "ok" : rc == PHD_EINTR ? "interrupted" : rc == PHD_EROLLEDBACK
		       ? "rolled-back" : "failed", phd_exit_code(ctx, rc));
	if (ctx->failed_phase >= 0)
		phd_buf_json_str(&b, phd_phase_name(ctx->failed_phase));
	else
		phd_buf_puts(&b, "null");
	phd_buf_puts(&b, ",\"error\":");
	phd_buf_json_str(&b, rc ? phd_ctx_errmsg(ctx) : "");
	phd_buf_puts(&b, "}\n");
	if (!b.s)
		return PHD_ENOMEM;
	red = phd_redactor_apply(&ctx->redact, b.s, b.len, NULL);
	phd_buf_free(&b);
	path = phd_path_join(dir, "journal.jsonl");
	if (!red || !path) {
		free(red);
		free(path);
		return PHD_ENOMEM;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		/* a FIFO would block the end of the run, a directory lose the line */
		phd_log(ctx, PHD_LOG_WARN, "journal %s is %s: this run is not recorded", path,
			fd < 0 && errno != EISDIR ? strerror(errno) : phd_path_kind(path));
		if (fd >= 0)
			close(fd);
		free(path);
		free(red);
		return PHD_EIO;
	}
	free(path);
	flock(fd, LOCK_EX);
	if (write(fd, red, strlen(red)) < 0)
		phd_log(ctx, PHD_LOG_WARN, "journal: write failed: %s", strerror(errno));
	flock(fd, LOCK_UN);
	close(fd);
	free(red);
	return 0;
}

int phd_journal_check(phd_ctx *ctx)
{
	const char *dir = phd_ctx_state_dir(ctx);
	char *path = dir ? phd_path_join(dir, "journal.jsonl") : NULL;
	struct stat st;
	int rc = 0;

	if (path && lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
		rc = phd_set_error(ctx, PHD_EIO, "journal %s is %s, not a regular file; remove "
				   "it (or point state_dir elsewhere) so that runs can be recorded",
				   path, phd_path_kind(path));
	else if (path && stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		rc = phd_set_error(ctx, PHD_EIO, "journal %s leads to %s, not a regular file",
				   path, phd_path_kind(path));
	free(path);
	return rc;
}
