/* Running one helm command with the watcher attached, and turning its
 * outcome into a PHD_E* code with a message that quotes helm. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helm-private.h"

/* Helm 4 writes a template error over several lines: "Error: FILE:LINE:COL"
 * then indented "executing ... at <.Values.x>:" and the reason.  The
 * indented lines are the reason, so they join the quoted "Error:" line. */
static int watch_line(int stream, const char *line, void *payload)
{
	struct helm_watch *w = payload;
	size_t before = w->nquoted;
	int rc = helm_watch_line(stream, line, payload);
	int indented = line[0] == ' ' || line[0] == '\t';

	if (stream != 2 || rc)
		return rc;
	if (w->nquoted > before)
		w->cont = strncmp(line, "Error: ", 7) == 0 ? w->nquoted : 0;
	else if (!indented)
		w->cont = 0;
	else if (w->cont && w->cont == w->nquoted) {
		char *q = w->quoted[w->cont - 1], *joined;
		while (*line == ' ' || *line == '\t')
			line++;
		if (strlen(q) < 1200 && asprintf(&joined, "%s %s", q, line) >= 0) {
			free(q);
			w->quoted[w->cont - 1] = joined;
		}
	}
	return rc;
}

int helm_run(phd_ctx *ctx, int phase, struct strv *sv, const char *env, unsigned flags,
	     long long timeout_ms, struct helm_watch *w, struct phd_exec_result *res)
{
	struct phd_exec spec = PHD_EXEC_INIT;
	const char *envv[2] = { env, NULL };

	memset(res, 0, sizeof(*res));
	if (sv->oom)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", HELM_PLUGIN);
	w->ctx = ctx;
	w->phase = phase;
	w->start_ms = helm_now_ms();
	spec.flags = flags;
	spec.argv = strv_argv(sv);
	spec.env = env ? envv : NULL;
	spec.timeout_ms = timeout_ms;
	spec.on_line = watch_line;
	spec.payload = w;
	return phd_exec_run(ctx, &spec, res);
}

int helm_fail(phd_ctx *ctx, const char *what, int rc, const struct phd_exec_result *res,
	      const struct helm_watch *w, const char *hint)
{
	char *q;
	int code;

	if (rc == PHD_EINTR || res->interrupted)
		return phd_set_error(ctx, PHD_EINTR, "%s: %s interrupted", HELM_PLUGIN, what);
	if (rc == PHD_ETIMEOUT || res->timed_out)
		return phd_set_error(ctx, PHD_ETIMEOUT, "%s: %s did not finish in time and was "
				     "stopped", HELM_PLUGIN, what);
	if (rc == PHD_ENOTFOUND)
		return phd_set_error(ctx, rc, "%s: cannot run helm for %s: set --helm or "
				     "PHDEPLOY_HELM", HELM_PLUGIN, what);
	if (rc)
		return phd_set_error(ctx, rc, "%s: %s: %s", HELM_PLUGIN, what, phd_strerror(rc));
	if (res->exit_code == 0)
		return 0;
	code = w->cls == HELM_FAIL_TIMEOUT ? PHD_ETIMEOUT
	       : w->cls == HELM_FAIL_CLUSTER ? PHD_EUNREACHABLE : PHD_EFAILED;
	if (!hint && w->cls == HELM_FAIL_CLUSTER)
		hint = "check kube.context / --kube-context, the kubeconfig and the cluster "
		       "credentials";
	q = helm_watch_quote(w);
	phd_set_error(ctx, code, "%s: %s failed (%s %d): %s%s%s%s", HELM_PLUGIN, what,
		      res->term_signal ? "signal" : "exit",
		      res->term_signal ? res->term_signal : res->exit_code,
		      helm_failure_name(w->cls), hint ? "; " : "", hint ? hint : "", q ? q : "");
	free(q);
	return code;
}
