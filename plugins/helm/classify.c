/* Watching a helm run line by line: the --debug redactor first, then
 * progress events from helm's wait messages, then the lines that explain a
 * failure.  Helm exits 1 for every error, so its words are all there is to
 * tell a timeout from a failed migration from an unreachable cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helm-private.h"

#define PROGRESS_REPEAT_MS 15000

long long helm_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct pattern {
	const char *text;
	int icase;
	int cls;
};

/* Order matters only within a line: the first match names its class.  The
 * texts are what real helm 4.1 and 3.17 print against an API server (see
 * tests/cli/helm-deploy.sh and the header of tests/bin/kube-api). */
static const struct pattern patterns[] = {
	{ "another operation (install/upgrade/rollback) is in progress", 0, HELM_FAIL_PENDING },
	{ "INVALID VALUES", 0, HELM_FAIL_RENDER },
	{ "parse error", 1, HELM_FAIL_RENDER },
	{ "execution error", 0, HELM_FAIL_RENDER },
	{ "unable to build kubernetes objects", 1, HELM_FAIL_RENDER },
	{ "error validating data", 0, HELM_FAIL_RENDER },
	{ "job failed", 1, HELM_FAIL_JOB },
	{ "job is failed", 1, HELM_FAIL_JOB },
	{ "BackoffLimitExceeded", 0, HELM_FAIL_JOB },
	{ "DeadlineExceeded", 0, HELM_FAIL_JOB },
	{ "Job Failed", 0, HELM_FAIL_JOB },      /* Helm 4: "status: Failed, message: Job Failed." */
	{ "cluster unreachable", 1, HELM_FAIL_CLUSTER },
	{ "connection refused", 1, HELM_FAIL_CLUSTER },
	{ "Unauthorized", 0, HELM_FAIL_CLUSTER },
	{ "no such host", 0, HELM_FAIL_CLUSTER },
	{ "i/o timeout", 0, HELM_FAIL_CLUSTER },
	{ "x509: ", 0, HELM_FAIL_CLUSTER },
	{ "provide credentials", 0, HELM_FAIL_CLUSTER },
	{ "is forbidden", 0, HELM_FAIL_CLUSTER },
	/* the API server's 500 InternalError, e.g. on the release Secrets */
	{ "Internal error occurred", 0, HELM_FAIL_CLUSTER },
	{ "context deadline exceeded", 0, HELM_FAIL_TIMEOUT },
	{ "timed out waiting", 1, HELM_FAIL_TIMEOUT },
};

/* Which class wins when a run shows several: the cause over the symptom
 * (a failed Job also ends in a timeout; an unreachable API in i/o errors). */
static int rank(int cls)
{
	static const int r[] = { [HELM_FAIL_OTHER] = 0, [HELM_FAIL_TIMEOUT] = 1,
				 [HELM_FAIL_CLUSTER] = 2, [HELM_FAIL_JOB] = 3,
				 [HELM_FAIL_RENDER] = 4, [HELM_FAIL_PENDING] = 5 };
	return cls >= 0 && cls <= HELM_FAIL_PENDING ? r[cls] : 0;
}

int helm_classify_line(const char *line)
{
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		const struct pattern *p = &patterns[i];
		if (p->icase ? strcasestr(line, p->text) != NULL : strstr(line, p->text) != NULL)
			return p->cls;
	}
	return HELM_FAIL_OTHER;
}

const char *helm_failure_name(int cls)
{
	switch (cls) {
	case HELM_FAIL_TIMEOUT: return "timed out";
	case HELM_FAIL_JOB: return "a Job (the database migration) failed";
	case HELM_FAIL_RENDER: return "the chart did not render or validate";
	case HELM_FAIL_CLUSTER: return "the Kubernetes API could not be reached, refused access "
				       "or failed";
	case HELM_FAIL_PENDING: return "another helm operation is in progress";
	default: return "helm failed";
	}
}

/* Helm 3: "wait.go:48: <time> [debug] text"; Helm 4: level=DEBUG msg="text" k=v. */
static const char *strip_prefix(const char *line, char *buf, size_t len)
{
	const char *p = strstr(line, "[debug] ");
	const char *m;

	if (p)
		return p + 8;
	if (!strncmp(line, "level=", 6) && (m = strstr(line, " msg="))) {
		const char *s = m + 5;
		size_t o = 0;
		if (*s == '"') {
			const char *e = strchr(s + 1, '"');
			size_t n = e ? (size_t)(e - s - 1) : strlen(s + 1);
			o = (size_t)snprintf(buf, len, "%.*s", (int)n, s + 1);
			if (e && o < len)
				snprintf(buf + o, len - o, "%s", e + 1);
			return buf;
		}
		snprintf(buf, len, "%s", s);
		return buf;
	}
	return line;
}

const char *helm_progress_text(const char *line, char *buf, size_t len)
{
	static const char *const waits[] = { "beginning wait", "is not ready", "not ready.",
					     "Job is not completed", "waiting for", "Waiting for" };
	const char *t;

	/* failures quote the same words; they are reported, not progress */
	if (!strncmp(line, "Error", 5) || strstr(line, "level=WARN") || strstr(line, "level=ERROR"))
		return NULL;
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++) {
		if (strstr(line, waits[i])) {
			t = strip_prefix(line, buf, len);
			if (t != buf)
				snprintf(buf, len, "%s", t);
			return buf;
		}
	}
	return NULL;
}

static void progress(struct helm_watch *w, const char *line)
{
	char text[256];
	long long now = helm_now_ms();
	struct phd_event ev = { 0 };

	if (!helm_progress_text(line, text, sizeof(text)))
		return;
	if (!strcmp(text, w->last_progress) && now - w->last_progress_ms < PROGRESS_REPEAT_MS)
		return;
	snprintf(w->last_progress, sizeof(w->last_progress), "%s", text);
	w->last_progress_ms = now;
	ev.type = PHD_EV_PROGRESS;
	ev.phase = w->phase;
	ev.ms = now - w->start_ms;
	ev.name = "helm";
	ev.message = text;
	phd_emit(w->ctx, &ev);
}

static void quote(struct helm_watch *w, const char *line)
{
	char buf[512];
	const char *t = strip_prefix(line, buf, sizeof(buf));
	char *dup;

	for (size_t i = 0; i < w->nquoted; i++)
		if (!strcmp(w->quoted[i], t))
			return;
	if (w->nquoted == HELM_QUOTE_LINES)
		return;
	if ((dup = strndup(t, 400)))
		w->quoted[w->nquoted++] = dup;
}

int helm_watch_line(int stream, const char *line, void *payload)
{
	struct helm_watch *w = payload;
	int cls;

	/* helm's SIGINT handler says so on stdout: it cancels the operation
	 * and, once the release record exists, marks that revision failed */
	if (stream == 1 && !strncmp(line, "Release ", 8) && strstr(line, " has been cancelled."))
		w->cancelled = 1;
	if (helm_filter_line(&w->filter, stream, line))
		return 1;
	/* helm logs and errors go to stderr; stdout carries manifests and
	 * values whose text (scripts, messages) must not pass for helm's words */
	if (stream != 2 || !*line)
		return 0;
	if (w->log_stderr)
		phd_log(w->ctx, strstr(line, "WARN") || strstr(line, "arning") ? PHD_LOG_WARN
			: PHD_LOG_DEBUG, "%s: helm: %s", HELM_PLUGIN, line);
	{
		char *dup = strndup(line, 400);
		if (dup) {
			free(w->last_err);
			w->last_err = dup;
		}
	}
	progress(w, line);
	cls = helm_classify_line(line);
	/* the chart's own reasons follow its INVALID VALUES banner as "- ..." */
	if (cls == HELM_FAIL_RENDER && strstr(line, "INVALID VALUES"))
		w->in_invalid = 1;
	else if (w->in_invalid && !strncmp(line, "====", 4))
		w->in_invalid = 0;
	else if (w->in_invalid && !strncmp(line, "- ", 2))
		quote(w, line);
	if (cls != HELM_FAIL_OTHER || !strncmp(line, "Error: ", 7)) {
		quote(w, line);
		if (rank(cls) > rank(w->cls))
			w->cls = cls;
	}
	return 0;
}

void helm_watch_free(struct helm_watch *w)
{
	for (size_t i = 0; i < w->nquoted; i++)
		free(w->quoted[i]);
	w->nquoted = 0;
	free(w->last_err);
	w->last_err = NULL;
}

char *helm_watch_quote(const struct helm_watch *w)
{
	size_t len = 1;
	char *out, *o;

	for (size_t i = 0; i < w->nquoted; i++)
		len += strlen(w->quoted[i]) + 6;
	if (!w->nquoted && w->last_err)
		len += strlen(w->last_err) + 6;
	if (!(out = o = malloc(len)))
		return NULL;
	*o = '\0';
	for (size_t i = 0; i < w->nquoted; i++)
		o += sprintf(o, "\n  | %s", w->quoted[i]);
	if (!w->nquoted && w->last_err)
		sprintf(o, "\n  | %s", w->last_err);
	return out;
}
