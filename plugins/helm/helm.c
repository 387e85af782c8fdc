/* The helm plugin: repo, render, deploy, status and rollback through the
 * helm CLI (Helm 3.7+ and Helm 4).  See phdeploy-helm(7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helm-private.h"

#define HELM_VERSION_TIMEOUT_MS 30000

static int cfg_error(phd_ctx *ctx, const phd_node *n, const char *key, const char *what)
{
	return phd_set_error(ctx, PHD_EINVAL, "%s:%u:%u: helm.%s: %s", phd_node_file(n),
			     phd_node_line(n), phd_node_column(n), key, what);
}

static int cfg_bool(phd_ctx *ctx, const phd_node *n, const char *key, int *out)
{
	if (phd_node_bool(n, out))
		return cfg_error(ctx, n, key, "expected true or false");
	return 0;
}

static int parse_post_render(phd_ctx *ctx, const phd_node *n, int *out)
{
	const char *s = phd_node_str(n);
	int b;

	if (s && !strcmp(s, "auto"))
		*out = HELM_PR_AUTO;
	else if (phd_node_bool(n, &b) == 0)
		*out = b ? HELM_PR_ALWAYS : HELM_PR_NEVER;
	else
		return cfg_error(ctx, n, "post_render", "expected auto, true or false");
	return 0;
}

static int parse_key(struct helm *h, phd_ctx *ctx, const char *key, const phd_node *n)
{
	if (!strcmp(key, "timeout")) {
		if (phd_node_duration_ms(n, &h->timeout_ms) || h->timeout_ms <= 0)
			return cfg_error(ctx, n, key, "expected a duration such as 30m");
		return 0;
	}
	if (!strcmp(key, "wait_strategy")) {
		const char *s = phd_node_str(n);
		if (!s || (strcmp(s, "watcher") && strcmp(s, "legacy") && strcmp(s, "hookOnly")))
			return cfg_error(ctx, n, key, "expected watcher, legacy or hookOnly");
		snprintf(h->wait_strategy, sizeof(h->wait_strategy), "%s", s);
		return 0;
	}
	if (!strcmp(key, "post_render"))
		return parse_post_render(ctx, n, &h->post_render);
	if (!strcmp(key, "wait"))
		return cfg_bool(ctx, n, key, &h->wait);
	if (!strcmp(key, "wait_for_jobs"))
		return cfg_bool(ctx, n, key, &h->wait_for_jobs);
	if (!strcmp(key, "atomic"))
		return cfg_bool(ctx, n, key, &h->atomic);
	if (!strcmp(key, "debug"))
		return cfg_bool(ctx, n, key, &h->debug);
	if (!strcmp(key, "create_namespace"))
		return cfg_bool(ctx, n, key, &h->create_namespace);
	if (!strcmp(key, "recover_pending"))
		return cfg_bool(ctx, n, key, &h->recover_pending);
	return 0;  /* validate refuses it with a did-you-mean, from helm_keys */
}

int helm_config_parse(struct helm *h, phd_ctx *ctx, const phd_node *cfg)
{
	const phd_node *wfj = NULL;
	int rc;

	/* the manual procedure: --timeout 30m --wait --wait-for-jobs --debug */
	h->timeout_ms = 30LL * 60 * 1000;
	h->wait = h->wait_for_jobs = h->debug = h->create_namespace = 1;
	snprintf(h->wait_strategy, sizeof(h->wait_strategy), "watcher");
	if (!cfg || phd_node_type(cfg) == PHD_NODE_NULL)
		return 0;
	if (phd_node_type(cfg) != PHD_NODE_MAP)
		return phd_set_error(ctx, PHD_EINVAL, "%s:%u:%u: helm: expected a mapping",
				     phd_node_file(cfg), phd_node_line(cfg), phd_node_column(cfg));
	for (size_t i = 0; i < phd_node_len(cfg); i++) {
		const char *key = phd_node_key_at(cfg, i);
		if ((rc = parse_key(h, ctx, key, phd_node_at(cfg, i))))
			return rc;
		if (!strcmp(key, "wait_for_jobs"))
			wfj = phd_node_at(cfg, i);
	}
	if (h->wait_for_jobs && !h->wait)
		return cfg_error(ctx, wfj ? wfj : cfg, "wait_for_jobs",
				 "needs helm.wait: true (helm ignores --wait-for-jobs without --wait)");
	if (h->wait && !h->wait_for_jobs)
		phd_log(ctx, PHD_LOG_WARN, "%s: wait_for_jobs is off: a failed migration Job will "
			"not fail the deploy (it is a plain Job, not a hook)", HELM_PLUGIN);
	return 0;
}

int helm_major(struct helm *h, phd_ctx *ctx)
{
	static const char *const args[] = { "version", "--short" };
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res = { 0 };
	struct strv sv = { 0 };
	int rc, major = 0, minor = 0;

	if (h->major)
		return 0;
	helm_argv_start(&sv, ctx);
	/* a helm start-up (50-70 ms) saved on every run: the binary says it */
	if (!sv.oom) {
		char *exe = helm_exe_path(sv.v[0]);
		if (exe && helm_buildinfo_version(exe, &major, &minor) == 0) {
			char mv[16] = "";
			if (minor >= 0)
				snprintf(mv, sizeof mv, ".%d", minor);
			h->major = major;
			phd_log(ctx, PHD_LOG_DEBUG, "%s: %s is Helm %d%s (its build info)",
				HELM_PLUGIN, exe, major, mv);
		}
		free(exe);
		if (h->major) {
			strv_free(&sv);
			return 0;
		}
	}
	strv_add(&sv, args[0]);
	strv_add(&sv, args[1]);
	if (sv.oom) {
		strv_free(&sv);
		return PHD_ENOMEM;
	}
	spec.flags = PHD_EXEC_CAPTURE_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.argv = strv_argv(&sv);
	spec.timeout_ms = HELM_VERSION_TIMEOUT_MS;
	rc = phd_exec_run(ctx, &spec, &res);
	if (rc == PHD_ENOTFOUND)
		rc = phd_set_error(ctx, PHD_ENOTFOUND, "%s: cannot run %s: set --helm or "
				   "PHDEPLOY_HELM (scripts/fetch-tools fetches helm 4 and 3)",
				   HELM_PLUGIN, sv.v[0]);
	else if (rc)
		rc = phd_set_error(ctx, rc, "%s: %s version --short failed: %s", HELM_PLUGIN,
				   sv.v[0], phd_strerror(rc));
	else if (res.exit_code != 0 || !res.out ||
		 sscanf(res.out, " v%d.%d", &major, &minor) != 2)
		rc = phd_set_error(ctx, PHD_ECHILD, "%s: %s version --short did not print a "
				   "version (exit %d): %.200s", HELM_PLUGIN, sv.v[0], res.exit_code,
				   res.err && *res.err ? res.err : res.out ? res.out : "");
	else if (major == 3 && minor < 7)
		rc = phd_set_error(ctx, PHD_EINVAL, "%s: helm v%d.%d is too old: the PostHog chart "
				   "needs Helm 3.7 or newer", HELM_PLUGIN, major, minor);
	else if (major != 3 && major != 4)
		rc = phd_set_error(ctx, PHD_EINVAL, "%s: helm v%d.%d is not supported (Helm 3 or 4)",
				   HELM_PLUGIN, major, minor);
	else {
		h->major = major;
		phd_log(ctx, PHD_LOG_DEBUG, "%s: %s is Helm %d.%d", HELM_PLUGIN, sv.v[0], major, minor);
	}
	phd_exec_result_clear(&res);
	strv_free(&sv);
	return rc;
}

int helm_post_render_wanted(struct helm *h, phd_ctx *ctx)
{
	const phd_node *values = phd_ctx_values(ctx);
	long long replicas = 1;
	int enabled = 1, km, kn;

	if (h->post_render != HELM_PR_AUTO)
		return h->post_render == HELM_PR_ALWAYS;
	if (phd_node_bool(phd_node_get(values, "zookeeper.enabled"), &enabled) == 0 && !enabled)
		return 0;
	if (phd_node_int(phd_node_get(values, "zookeeper.replicaCount"), &replicas) || replicas <= 1)
		return 0;   /* the ZooKeeper subchart renders its PDB only above 1 */
	if (phd_ctx_kube_version(ctx, &km, &kn) != 0)
		return 1;   /* policy/v1 is served since 1.21, the chart needs 1.24 */
	return km > 1 || (km == 1 && kn >= 25);
}

const char *helm_chart_version(struct helm *h, phd_ctx *ctx)
{
	return h && h->version ? h->version : phd_ctx_chart_version(ctx);
}

int helm_chart_is_local(const char *chart)
{
	struct stat st;
	size_t n;

	if (!chart || !strncmp(chart, "oci://", 6))
		return 0;
	if (!stat(chart, &st))
		return 1;
	n = strlen(chart);
	return chart[0] == '/' || !strncmp(chart, "./", 2) || !strncmp(chart, "../", 3) ||
	       (n > 4 && !strcmp(chart + n - 4, ".tgz")) ||
	       (n > 7 && !strcmp(chart + n - 7, ".tar.gz"));
}

void helm_emit_command(phd_ctx *ctx, int phase, struct strv *argv, const char *env_note)
{
	struct phd_event ev = { 0 };
	char *line = strv_join(argv), *full = NULL;

	if (!line)
		return;
	if (env_note && asprintf(&full, "%s %s", env_note, line) < 0)
		full = NULL;
	ev.type = PHD_EV_COMMAND;
	ev.phase = phase;
	ev.name = "helm";
	ev.message = full ? full : line;
	phd_emit(ctx, &ev);
	free(full);
	free(line);
}

static void helm_free(void *userdata)
{
	struct helm *h = userdata;

	if (!h)
		return;
	free(h->version);
	free(h->pr_plugins);
	free(h);
}

static const struct phd_config_key helm_keys[] = {
	{ "timeout", PHD_CFG_DURATION, 0, NULL, "helm --timeout (default 30m)" },
	{ "wait", PHD_CFG_BOOL, 0, NULL, "helm --wait" },
	{ "wait_strategy", PHD_CFG_ENUM, 0, "watcher|legacy|hookOnly", "Helm 4 --wait=" },
	{ "wait_for_jobs", PHD_CFG_BOOL, 0, NULL, "helm --wait-for-jobs" },
	{ "atomic", PHD_CFG_BOOL, 0, NULL, "--atomic / --rollback-on-failure" },
	{ "debug", PHD_CFG_BOOL, 0, NULL, "helm --debug (values filtered)" },
	{ "create_namespace", PHD_CFG_BOOL, 0, NULL, "helm --create-namespace" },
	{ "recover_pending", PHD_CFG_BOOL, 0, NULL, "repair a release stuck in pending-*" },
	{ "post_render", PHD_CFG_ENUM, 0, "auto|true|false|yes|no|on|off",
	  "rewrite the ZooKeeper policy/v1beta1 PDB" },
	PHD_CONFIG_END
};

static int helm_init(phd_plugin *p, const phd_node *config)
{
	static const int phases[] = { PHD_PHASE_REPO, PHD_PHASE_RENDER, PHD_PHASE_DEPLOY,
				      PHD_PHASE_ROLLBACK };
	static const phd_phase_fn fns[] = { helm_repo_phase, helm_render_phase,
					    helm_deploy_phase, helm_rollback_phase };
	phd_ctx *ctx = phd_plugin_ctx(p);
	struct helm *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return PHD_ENOMEM;
	h->plugin = p;
	if ((rc = helm_config_parse(h, ctx, config))) {
		free(h);
		return rc;
	}
	/* one state for every registration, freed once with the plugin */
	if ((rc = phd_plugin_set_data(p, h, helm_free)) ||
	    (rc = phd_plugin_declare_config(p, NULL, helm_keys)))
		return rc;
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if ((rc = phd_register_phase_handler(p, phases[i], fns[i], h, NULL)))
			return rc;
	if ((rc = helm_stored_register(p)) || (rc = helm_migrate_register(p)))
		return rc;
	return phd_register_status(p, helm_status_json, h, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("helm", "2.1", helm_init, NULL);
