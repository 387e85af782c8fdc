/* The core's secret store, through a site provider (an in-process plugin):
 * the core applies the same name rules and the same refusal of a Secret
 * name given twice as the bundled providers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"

/* { provider: site, name: NAME, key: KEY } adds NAME.KEY; a sequence
 * under keys: adds several. */
static int provide(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink, void *ud)
{
	const char *name = phd_node_str(phd_node_get(entry, "name"));
	const phd_node *keys = phd_node_get(entry, "keys");
	int rc = 0;

	(void)ctx;
	(void)ud;
	for (size_t i = 0; rc == 0 && i < phd_node_len(keys); i++)
		rc = phd_secret_add(sink, name, phd_node_str(phd_node_at(keys, i)), "v4lue-1234",
				    10, phd_node_at(keys, i));
	return rc;
}

/* Stands in for kube's apply: the store is what is under test. */
static int apply(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	(void)ctx;
	(void)phase;
	(void)ud;
	return 0;
}

static int run(const char *secrets, phd_ctx **out)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	char yaml[2048];
	phd_plugin *p;
	char *cfg;

	snprintf(yaml, sizeof yaml, "release: posthog\nnamespace: posthog\nsecrets:\n%s", secrets);
	cfg = tap_write_file("phdeploy.yaml", yaml, strlen(yaml));
	o.config_path = cfg;
	o.flags = PHD_OPT_NO_JOURNAL;
	phd_ctx_new(out, &o);
	free(cfg);
	if (phd_ctx_add_plugin(&p, *out, "site", "1") != 0 ||
	    phd_register_secret_provider(p, "site", provide, NULL, NULL) != 0 ||
	    phd_register_phase_handler(p, PHD_PHASE_SECRETS, apply, NULL, NULL) != 0)
		return PHD_EINTERNAL;
	return phd_run(*out, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
}

int main(void)
{
	phd_ctx *ctx;
	int rc;

	unsetenv("PHDEPLOY_PLUGIN_PATH");

	tap_ok(phd_is_dns1123_subdomain("posthog-redis") && phd_is_dns1123_subdomain("a.b") &&
	       phd_is_dns1123_subdomain("0.9-x"), "names and dotted names are subdomains");
	tap_ok(!phd_is_dns1123_subdomain("a..b") && !phd_is_dns1123_subdomain("a.-b") &&
	       !phd_is_dns1123_subdomain("a-.b") && !phd_is_dns1123_subdomain(".a") &&
	       !phd_is_dns1123_subdomain("a.") && !phd_is_dns1123_subdomain("A") &&
	       !phd_is_dns1123_subdomain("") && !phd_is_dns1123_subdomain(NULL),
	       "an empty label, a label ending or starting with '-', capitals are refused");
	{
		char longest[255], label[64];  /* room for the 254th character */
		memset(longest, 'a', 253);
		longest[253] = '\0';
		longest[100] = '.';
		memset(label, 'a', 63);
		label[63] = '\0';
		tap_ok(phd_is_dns1123_subdomain(longest), "253 characters with a 100-long label "
		       "are a subdomain (Kubernetes limits the whole name only)");
		longest[100] = 'a';
		tap_ok(phd_is_dns1123_label(label) && !phd_is_dns1123_label(longest),
		       "a label is 63 characters at most");
		strcat(longest, "a");
		tap_ok(!phd_is_dns1123_subdomain(longest), "254 characters are too many");
	}
	tap_ok(phd_is_dns1123_label("posthog") && !phd_is_dns1123_label("post.hog"),
	       "a label has no dot");

	rc = run("  - {provider: site, name: a..b, keys: [password]}\n", &ctx);
	tap_is_int(phd_exit_code(ctx, rc), 4, "the core refuses Secret name a..b (exit 4)");
	tap_like(phd_ctx_errmsg(ctx), "'a..b' is not a valid Secret name", "and says why");
	phd_ctx_free(ctx);

	rc = run("  - {provider: site, name: a.b, keys: [user, password]}\n", &ctx);
	tap_ok(rc == 0 && phd_secret_count(ctx) == 1 && phd_secret_at(ctx, 0)->nkeys == 2,
	       "one entry adds two keys to Secret a.b: %s", phd_ctx_errmsg(ctx));
	tap_like(phd_secret_at(ctx, 0) ? phd_secret_at(ctx, 0)->origin : NULL,
		 "/phdeploy.yaml:4:40", "its origin is the first key's file:line:column");
	phd_ctx_free(ctx);

	rc = run("  - {provider: site, name: shared, keys: [user]}\n"
		 "  - {provider: site, name: shared, keys: [password]}\n", &ctx);
	tap_is_int(phd_exit_code(ctx, rc), 4,
		   "two entries providing Secret 'shared' are refused, not merged (exit 4)");
	tap_like(phd_ctx_errmsg(ctx),
		 "/phdeploy.yaml:5:43: Secret \"shared\" is provided twice (first at ",
		 "the message names the second position");
	tap_like(phd_ctx_errmsg(ctx), "/phdeploy.yaml:4:43)", "... and the first");
	phd_ctx_free(ctx);
	return tap_done();
}
