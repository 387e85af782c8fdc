/* kube plugin: applies the Secrets before the chart (SECRETS phase) and
 * reads the release's live objects for the validators (VERIFY phase),
 * both through kubectl.  See phdeploy-kube(7). */
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "predict.h"

#define KUBE_DEFAULT_TIMEOUT_MS 60000LL

static int where_err(phd_ctx *ctx, const phd_node *n, const char *fmt, const char *key)
{
	return phd_set_error(ctx, PHD_ETYPE, "kube: %s:%u:%u: %s: %s",
			     phd_node_file(n) ? phd_node_file(n) : "config",
			     phd_node_line(n), phd_node_column(n), key, fmt);
}

static int parse_conf(phd_ctx *ctx, const phd_node *config, struct kube_conf *cf)
{
	cf->server_side = KUBE_SSA_AUTO;
	cf->timeout_ms = KUBE_DEFAULT_TIMEOUT_MS;
	cf->read_nodes = 1;
	if (!config)
		return 0;
	for (size_t i = 0; i < phd_node_len(config); i++) {
		const char *key = phd_node_key_at(config, i);
		const phd_node *n = phd_node_at(config, i);
		int b;
		if (!key)
			continue;
		if (!strcmp(key, "server_side")) {
			const char *s = phd_node_str(n);
			if (s && !strcmp(s, "auto"))
				cf->server_side = KUBE_SSA_AUTO;
			else if (phd_node_bool(n, &b) == 0)
				cf->server_side = b ? KUBE_SSA_ON : KUBE_SSA_OFF;
			else
				return where_err(ctx, n, "want true, false or auto", key);
		} else if (!strcmp(key, "timeout")) {
			if (phd_node_duration_ms(n, &cf->timeout_ms) != 0 || cf->timeout_ms <= 0)
				return where_err(ctx, n, "want a duration such as 60s", key);
		} else if (!strcmp(key, "nodes")) {
			if (phd_node_bool(n, &cf->read_nodes) != 0)
				return where_err(ctx, n, "want true or false", key);
		}
		/* other keys: the core's (context, version, kubectl); validate
		 * refuses unknown ones against the declaration below */
	}
	return 0;
}

static const struct phd_config_key kube_keys[] = {
	{ "server_side", PHD_CFG_ENUM, 0, "true|false|auto|yes|no|on|off",
	  "apply Secrets server-side (auto: fall back when the server refuses)" },
	{ "timeout", PHD_CFG_DURATION, 0, NULL, "deadline of each kubectl call" },
	{ "nodes", PHD_CFG_BOOL, 0, NULL, "verify and the --wait predictions read the nodes" },
	PHD_CONFIG_END
};

static int init(phd_plugin *p, const phd_node *config)
{
	phd_ctx *ctx = phd_plugin_ctx(p);
	struct kube_conf *cf = calloc(1, sizeof(*cf));
	int rc;

	if (!cf)
		return phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
	rc = parse_conf(ctx, config, cf);
	if (rc < 0) {
		free(cf);
		return rc;
	}
	/* one configuration for every registration, freed once with the plugin */
	if ((rc = phd_plugin_set_data(p, cf, free)) < 0 ||
	    (rc = phd_plugin_declare_config(p, NULL, kube_keys)) < 0 ||
	    (rc = phd_plugin_declare_rule(p, "inline-secret", PHD_SEV_WARN,
					  "a password written inline in the values")) < 0 ||
	    (rc = phd_plugin_declare_rule(p, "rollout", PHD_SEV_ERROR,
					  "a live workload not rolled out and ready")) < 0 ||
	    (rc = phd_plugin_declare_rule(p, "diff", PHD_SEV_INFO,
					  "what the new render changes in the release and the "
					  "cluster (plan, diff, --dry-run)")) < 0 ||
	    (rc = kube_predict_declare(p)) < 0 ||
	    (rc = phd_plugin_declare_rule(p, "drift", PHD_SEV_WARN,
					  "a live object that differs from what the release "
					  "deployed (verify)")) < 0)
		return rc;
	if ((rc = phd_register_phase_handler(p, PHD_PHASE_SECRETS, kube_secrets_phase, cf,
					     NULL)) < 0 ||
	    (rc = phd_register_phase_handler(p, PHD_PHASE_VERIFY, kube_verify_phase, cf,
					     NULL)) < 0)
		return rc;
	rc = phd_register_validator(p, "inline-secret", PHD_PHASE_VALIDATE,
				    kube_inline_secret_validator, NULL, NULL);
	if (rc < 0)
		return rc;
	rc = phd_register_validator(p, "diff", PHD_PHASE_RENDER, kube_diff_validator, cf, NULL);
	if (rc < 0)
		return rc;
	/* what the upgrade and --wait will fail on, every prediction of
	 * predict.c's table: plan, deploy, diff, not render */
	rc = phd_register_validator(p, "predict", PHD_PHASE_RENDER, kube_predict_validator, cf,
				    NULL);
	if (rc < 0)
		return rc;
	rc = phd_register_validator(p, "drift", PHD_PHASE_VERIFY, kube_drift_validator, cf, NULL);
	if (rc < 0)
		return rc;
	return phd_register_validator(p, "rollout", PHD_PHASE_VERIFY, kube_rollout_validator,
				      NULL, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("kube", "2.1", init, NULL);
