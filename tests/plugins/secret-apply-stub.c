/* Test plugin: a SECRETS phase handler that applies nothing, for the CLI
 * leak test when the kube plugin (which applies Secrets) is not built.
 * Loaded only by name (plugins.load) from $PHD_TEST_PLUGINS. */
#include <phdeploy/plugin.h>

static int apply_nothing(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	(void)mode;
	(void)userdata;
	phd_log(ctx, PHD_LOG_INFO, "secret-apply-stub: %zu Secrets, nothing applied (phase %s)",
		phd_secret_count(ctx), phd_phase_name(phase));
	return 0;
}

static int init(phd_plugin *p, const phd_node *config)
{
	(void)config;
	return phd_register_phase_handler(p, PHD_PHASE_SECRETS, apply_nothing, NULL, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("secret-apply-stub", "1.0", init, NULL);
