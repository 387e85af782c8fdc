/* The nodes' platforms from the live cluster (images.node_platforms):
 * kubectl get nodes, read-only, under a short deadline.  Opt-in: a render
 * that reads the cluster would surprise a run that only renders. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "images.h"

#define NODES_TIMEOUT_MS 15000

static int has(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

char **img_node_platforms(phd_ctx *ctx)
{
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res = { 0 };
	const char *argv[10];
	const char *kctx = phd_ctx_kube_context(ctx);
	char **out = NULL, *line, *save = NULL;
	size_t n = 0, a = 0;
	int rc;

	argv[a++] = phd_ctx_kubectl(ctx) ? phd_ctx_kubectl(ctx) : "kubectl";
	if (kctx) {
		argv[a++] = "--context";
		argv[a++] = kctx;
	}
	argv[a++] = "get";
	argv[a++] = "nodes";
	argv[a++] = "-o";
	argv[a++] = "jsonpath={range .items[*]}{.status.nodeInfo.operatingSystem}/"
		    "{.status.nodeInfo.architecture}{\"\\n\"}{end}";
	argv[a] = NULL;
	spec.argv = argv;
	spec.flags = PHD_EXEC_CAPTURE_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.timeout_ms = NODES_TIMEOUT_MS;
	rc = phd_exec_run(ctx, &spec, &res);
	if (rc || res.exit_code != 0 || !res.out) {
		phd_log(ctx, PHD_LOG_WARN, "%s: cannot read the nodes' platforms (%s): %.200s; "
			"using images.platforms", IMG_PLUGIN, rc ? phd_strerror(rc) : "kubectl failed",
			res.err ? res.err : "");
		phd_exec_result_clear(&res);
		return NULL;
	}
	for (line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char **nv;
		if (!strchr(line, '/') || line[0] == '/' || has(out, n, line) || n >= 16)
			continue;
		if (!(nv = realloc(out, (n + 2) * sizeof(*nv))))
			break;
		out = nv;
		if (!(out[n] = strdup(line)))
			break;
		out[++n] = NULL;
	}
	phd_exec_result_clear(&res);
	if (!n) {
		free(out);
		phd_log(ctx, PHD_LOG_WARN, "%s: the cluster lists no node: using images.platforms",
			IMG_PLUGIN);
		return NULL;
	}
	phd_log(ctx, PHD_LOG_INFO, "%s: the nodes run %zu platform%s (%s%s)", IMG_PLUGIN, n,
		n > 1 ? "s" : "", out[0], n > 1 ? ", ..." : "");
	return out;
}
