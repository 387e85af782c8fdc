/* aws: preflight check that the managed services the values point at (RDS,
 * ElastiCache, MSK) and the EKS cluster are really highly available, read
 * from the AWS control plane.  See phdeploy-aws(7). */
#include "awsc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ac_sum(struct ac *a, const char *fmt, ...)
{
	size_t l = strlen(a->summary);
	va_list ap;

	if (l && l + 2 < sizeof a->summary) {
		strcpy(a->summary + l, "; ");
		l += 2;
	}
	va_start(ap, fmt);
	vsnprintf(a->summary + l, sizeof a->summary - l, fmt, ap);
	va_end(ap);
}

/* Region as the SDKs find it: config, AWS_REGION, AWS_DEFAULT_REGION, the
 * profile's region.  0, or -1 after a note. */
static int settings(struct ac *a)
{
	const char *p = phd_node_str(phd_node_get(a->cfg, "profile"));
	const char *r = phd_node_str(phd_node_get(a->cfg, "region"));

	a->set.plugin = PLUGIN;
	a->set.entry = a->cfg;
	aws_settings_resolve(&a->set, p, r);
	a->set.timeout_ms = phd_dc_left(&a->dc);
	a->endpoint_url = phd_node_str(phd_node_get(a->cfg, "endpoint_url"));
	if (!a->set.region || !*a->set.region) {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "no AWS region: set checks.aws.region, AWS_REGION "
			    "or the profile's region");
		return -1;
	}
	if (strspn(a->set.region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(a->set.region)) {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "\"%s\" is not an AWS region", a->set.region);
		return -1;
	}
	if (a->endpoint_url && !aws_url_ok(a->endpoint_url, 0)) {
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "checks.aws.endpoint_url %s must be https (http "
			    "only to loopback)", a->endpoint_url);
		return -1;
	}
	return 0;
}

static int required(const phd_node *cfg)
{
	int b = 1;

	if (phd_node_get(cfg, "required"))
		phd_node_bool(phd_node_get(cfg, "required"), &b);
	return b;
}

static int ac_check(phd_check *chk, void *userdata)
{
	phd_ctx *ctx = phd_check_ctx(chk);
	struct ac a;
	int rc;

	(void)userdata;
	memset(&a, 0, sizeof a);
	phd_dc_init(&a.dc, chk, PLUGIN);
	a.cfg = phd_check_config(chk);
	/* opt-in: a site without AWS (the quickstart, another cloud) loads the
	 * bundled plugins too, and must not fail preflight on this check */
	if (!a.cfg) {
		phd_check_summary(chk, "skipped: not configured (add checks.aws: {} to check that "
				  "RDS, ElastiCache, MSK and EKS are highly available)");
		return PHD_EIGNORE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		phd_dc_note(&a.dc, PHD_SEV_ERROR, "curl_global_init failed");
		return PHD_EFAILED;
	}
	if (settings(&a)) {
		rc = PHD_EFAILED;
		goto out;
	}
	rc = aws_creds_resolve(ctx, &a.set, &a.cr);
	if (rc == PHD_ENOTFOUND && !required(a.cfg)) {
		phd_check_summary(chk, "skipped: no AWS credentials (environment, web identity, "
				  "profile %s, container, instance metadata); the check is optional "
				  "(checks.aws.required: false)", a.set.profile);
		rc = PHD_EIGNORE;
		goto out;
	}
	if (rc) {
		phd_dc_note(&a.dc, PHD_SEV_ERROR, "%s", phd_ctx_errmsg(ctx));
		rc = PHD_EFAILED;
		goto out;
	}
	ac_rds_check(&a);
	ac_redis_check(&a);
	ac_msk_check(&a);
	ac_eks_check(&a);
	if (!a.dc.errors)
		phd_check_summary(chk, "%s (%s)", a.summary[0] ? a.summary
							 : "no AWS managed service in the values",
				  a.set.region);
	rc = a.dc.errors ? PHD_EFAILED : 0;
out:
	aws_creds_wipe(&a.cr);
	free(a.set.region_owned);
	curl_global_cleanup();
	return rc;
}

static const struct phd_config_key ac_keys[] = {
	{ "region", PHD_CFG_STRING, 0, NULL, "AWS region (else AWS_REGION, the profile's)" },
	{ "profile", PHD_CFG_STRING, 0, NULL, "profile of the shared config files" },
	{ "endpoint_url", PHD_CFG_STRING, 0, NULL, "one endpoint for every service" },
	{ "rds_instance", PHD_CFG_STRING, 0, NULL, "DB instance identifier" },
	{ "rds_cluster", PHD_CFG_STRING, 0, NULL, "DB cluster identifier" },
	{ "elasticache_replication_group", PHD_CFG_STRING, 0, NULL, "replication group id" },
	{ "msk_cluster_arn", PHD_CFG_STRING, 0, NULL, "MSK cluster ARN" },
	{ "eks_cluster", PHD_CFG_STRING, 0, NULL, "EKS cluster name" },
	PHD_CONFIG_END
};

static int ac_init(phd_plugin *p, const phd_node *config)
{
	int rc;

	(void)config;
	if ((rc = phd_plugin_declare_config(p, "checks.aws", ac_keys)))
		return rc;
	return phd_register_check(p, "aws", ac_check, NULL, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("aws", "2.0", ac_init, NULL);
