/* The one exemption matcher (phd_exemption_find): what the core applies to
 * every finding and what the ha plugin counts as a used exemption. */
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"

static const char cfg_text[] =
	"release: posthog\n"
	"exemptions:\n"
	"  - { rule: probes, object: \"Deployment/posthog-worker-*\", reason: glob }\n"
	"  - { rule: pdb, object: Deployment/posthog-web, reason: exact }\n"
	"  - { rule: \"*\", object: Deployment/x, reason: any rule }\n"
	"  - { rule: replicas, reason: every object }\n";

static const char *why(const phd_ctx *ctx, const char *rule, const char *object)
{
	return phd_node_str(phd_node_get(phd_exemption_find(ctx, rule, object), "reason"));
}

int main(void)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	phd_ctx *ctx = NULL;
	char *cfg = tap_write_file("phdeploy.yaml", cfg_text, strlen(cfg_text));
	int rc;

	unsetenv("PHDEPLOY_PLUGIN_PATH");
	o.config_path = cfg;
	o.flags = PHD_OPT_NO_JOURNAL;
	phd_ctx_new(&ctx, &o);
	rc = phd_ctx_load(ctx);
	tap_is_int(rc, 0, "a config with exemptions loads");

	tap_is_str(why(ctx, "probes", "Deployment/posthog-worker-default/posthog-workers"), "glob",
		   "a glob covers the containers of the objects it matches");
	tap_is_str(why(ctx, "pdb", "Deployment/posthog-web"), "exact", "an exact object matches");
	tap_is_str(why(ctx, "pdb", "Deployment/posthog-web/web"), "exact",
		   "Kind/name covers Kind/name/container without a glob");
	tap_ok(why(ctx, "pdb", "Deployment/posthog-webapp") == NULL,
	       "Kind/name does not cover a longer name");
	tap_ok(why(ctx, "probes", "Deployment/posthog-web") == NULL,
	       "an exemption covers only its rule");
	tap_is_str(why(ctx, "spread", "Deployment/x"), "any rule", "rule * covers every rule");
	tap_is_str(why(ctx, "replicas", "StatefulSet/anything"), "every object",
		   "no object: every object of the rule");
	tap_ok(phd_node_line(phd_exemption_find(ctx, "pdb", "Deployment/posthog-web")) == 4,
	       "the answer is the config's entry, with its position");
	tap_ok(phd_exemption_find(NULL, "pdb", "x") == NULL && phd_exemption_find(ctx, NULL, "x") ==
	       NULL, "NULL context or rule: no exemption");
	phd_ctx_free(ctx);
	free(cfg);
	return tap_done();
}
