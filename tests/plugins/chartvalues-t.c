/* The one table of the chart's Secret and endpoint values keys
 * (plugins/common/chartvalues.c), which kube and the checks both read: its
 * rows are consistent, and the checks' services point into it. */
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "values-ctx.h"
#include "chartvalues.h"

int main(void)
{
	static const char *const checks[] = { "postgres", "redis", "kafka" };
	size_t bad = 0;
	phd_ctx *ctx;

	for (size_t i = 0; i < phd_cv_nsecrets; i++) {
		const struct phd_cv_secret *s = &phd_cv_secrets[i];
		if (phd_cv_secret(s->name_path) != s || (!s->keys[0].path && !s->keys[0].def))
			bad++;
	}
	tap_is_int((long long)bad, 0, "every Secret row is found by its name and has a key");

	for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
		const struct phd_cv_service *svc = phd_cv_service(checks[i]);
		tap_ok(svc && svc->host && svc->internal &&
		       (!svc->password || phd_cv_secret(svc->password)),
		       "check %s: its endpoint key and password Secret are in the table", checks[i]);
	}
	tap_ok(phd_cv_service("nope") == NULL, "an unknown check has no service");
	tap_is_str(phd_cv_service("postgres")->host, "externalPostgresql.postgresqlHost",
		   "postgres connects to externalPostgresql.postgresqlHost");
	tap_is_str(phd_cv_secret(phd_cv_service("postgres")->password)->keys[0].def,
		   "postgresql-password", "and its Secret key defaults to postgresql-password, "
		   "as kube checks it");

	ctx = values_ctx("postgresql: { enabled: false }\n");
	tap_ok(phd_cv_secret_applies(phd_cv_secret("externalPostgresql.existingSecret"),
				     phd_ctx_values(ctx)) &&
	       !phd_cv_secret_applies(phd_cv_secret("postgresql.existingSecret"),
				      phd_ctx_values(ctx)),
	       "postgresql.enabled: false: the external Secret applies, the internal not");
	phd_ctx_free(ctx);
	ctx = values_ctx("cloud: aws\n");
	tap_ok(!phd_cv_secret_applies(phd_cv_secret("externalPostgresql.existingSecret"),
				      phd_ctx_values(ctx)),
	       "by the chart's default (postgresql.enabled: true) the external Secret is unread");
	phd_ctx_free(ctx);
	return tap_done();
}
