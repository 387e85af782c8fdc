/* The postgres preflight check against real PostgreSQL 15 servers started
 * here on 127.0.0.1: one without TLS, one that refuses unencrypted clients
 * (like RDS with rds.force_ssl=1). */
#include "check-harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>

#include "tap.h"

#define PW "Pg-right-7f3b9c"
#define APP_PW "App-pw-5d2e81"
#define SKIP_ENV "env:\n  - name: SKIP_SERVICE_VERSION_REQUIREMENTS\n    value: \"1\"\n"

static const char setup_sql[] =
	"CREATE ROLE posthog LOGIN PASSWORD '" PW "';\n"
	"CREATE DATABASE posthog OWNER posthog;\n"
	"CREATE ROLE app LOGIN PASSWORD '" APP_PW "';\n";

static int plain_port, tls_port;
static char *tls_dir;

/* values for the plain server (or port), user, database, extra YAML */
static char *values(int port, const char *user, const char *db, const char *extra)
{
	return ch_fmt("postgresql:\n  enabled: false\n"
		      "externalPostgresql:\n  postgresqlHost: 127.0.0.1\n  postgresqlPort: %d\n"
		      "  postgresqlDatabase: %s\n  postgresqlUsername: %s\n"
		      "  existingSecret: pg-auth\n%s",
		      port, db, user, extra ? extra : "");
}

static const struct ch_secret right = { "pg-auth", "postgresql-password", PW };

#define CASE(config, vals, secret, status, ...) \
	ch_case("postgres", config, vals, secret, status, __VA_ARGS__, (const char *)NULL)

static const char cfg[] = "checks:\n  postgres: { timeout: 10s }\n";

static void test_plain(void)
{
	const struct ch_secret wrong = { "pg-auth", "postgresql-password", "Wrong-pw-0c4a" };
	const struct ch_secret app = { "pg-auth", "postgresql-password", APP_PW };

	CASE(cfg, values(plain_port, "posthog", "posthog", SKIP_ENV), &right, PHD_STATUS_OK,
	     "ok: right password, own database, version skip set",
	     "^PostgreSQL 15.", "summary names the server version",
	     "above PostHog's accepted range (>=11.0.0,<=14.1.0)",
	     "version 15 is reported above PostHog's range",
	     "SKIP_SERVICE_VERSION_REQUIREMENTS=1 is set", "and the skip is found",
	     "can CREATE EXTENSION", "the owner can create extensions",
	     "not encrypted", "a connection without TLS is a warning",
	     "round trip", "round trip time is reported");
	CASE(cfg, values(1, "posthog", "posthog", SKIP_ENV), &right, PHD_STATUS_FAILED,
	     "nothing listens on the port",
	     "^nothing listens on 127.0.0.1:1", "says so",
	     "[the endpoint is externalPostgresql.postgresqlHost (",
	     "and names the values keys that hold the endpoint");
	CASE(cfg, values(plain_port, "posthog", "posthog", NULL), &right, PHD_STATUS_FAILED,
	     "version above the range without the skip fails",
	     "^above PostHog's accepted range", "summary says why",
	     "name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: \"1\"", "and how to fix it");
	/* set for web (and what reuses web.env) only: worker and migrations exit */
	CASE(cfg, values(plain_port, "posthog", "posthog",
			 "web:\n  env:\n    - { name: SKIP_SERVICE_VERSION_REQUIREMENTS, "
			 "value: \"true\" }\n"), &right, PHD_STATUS_FAILED,
	     "skip set for web only fails",
	     "but not for: worker, migrate job, wait-for-migrations",
	     "it names the workloads without it");
	/* a component list that turns it off again, after the top-level one */
	CASE(cfg, values(plain_port, "posthog", "posthog",
			 SKIP_ENV "worker:\n  env:\n    - { name: "
			 "SKIP_SERVICE_VERSION_REQUIREMENTS, value: \"0\" }\n"), &right,
	     PHD_STATUS_FAILED, "skip overridden with 0 for the worker fails",
	     "not for: worker, migrate job", "the override is found");
	CASE(cfg, values(plain_port, "posthog", "posthog", SKIP_ENV), &wrong, PHD_STATUS_FAILED,
	     "a wrong password fails",
	     "^authentication failed for user \"posthog\"", "and says so",
	     "^Secret pg-auth key postgresql-password", "naming the secret it used");
	CASE(cfg, values(plain_port, "posthog", "nosuchdb", SKIP_ENV), &right, PHD_STATUS_FAILED,
	     "a missing database fails",
	     "^database \"nosuchdb\" does not exist", "and says which");
	CASE(cfg, values(plain_port, "app", "posthog", SKIP_ENV), &app, PHD_STATUS_FAILED,
	     "a user without CREATE privilege fails",
	     "user \"app\" cannot CREATE EXTENSION", "it cannot create extensions",
	     "cannot create tables in schema public", "nor tables in schema public");
	CASE(cfg, values(plain_port, "posthog", "posthog", SKIP_ENV), NULL, PHD_STATUS_FAILED,
	     "a Secret no provider gives fails before connecting",
	     "^Secret \"pg-auth\" key \"postgresql-password\"", "naming it",
	     "^values.yaml:", "with its position in the values");
	CASE(cfg, ch_fmt("postgresql: { enabled: false }\nexternalPostgresql:\n"
			 "  postgresqlHost: 127.0.0.1\n  postgresqlPort: %d\n"
			 "  postgresqlDatabase: posthog\n  postgresqlUsername: posthog\n"
			 "  postgresqlPassword: \"" PW "\"\n" SKIP_ENV, plain_port),
	     &right, PHD_STATUS_OK, "an inline password works",
	     "inline secret: externalPostgresql.postgresqlPassword", "but is a warning");
	CASE("checks:\n  postgres: { sslmode: require }\n",
	     values(plain_port, "posthog", "posthog", SKIP_ENV), &right, PHD_STATUS_FAILED,
	     "sslmode require against a server without TLS fails",
	     "^does not offer TLS", "and says so");
	/* an unknown sslmode is refused by validate (tests/lib/config-t) */
}

static void test_tls(void)
{
	char *other = ch_fmt("%s/otherca", tap_tmpdir());
	char *cfg_ca = ch_fmt("checks:\n  postgres: { sslmode: verify-full, sslrootcert: "
			      "\"%s/ca.crt\" }\n", tls_dir);
	char *cfg_other = ch_fmt("checks:\n  postgres: { sslmode: verify-ca, sslrootcert: "
				 "\"%s/ca.crt\" }\n", other);

	CASE(cfg_ca, values(tls_port, "posthog", "posthog", SKIP_ENV), &right, PHD_STATUS_OK,
	     "verify-full against the CA bundle works",
	     "TLS: TLSv1.3", "the connection is TLS 1.3",
	     "certificate verified", "with the certificate verified");
	CASE("checks:\n  postgres: { sslmode: disable }\n",
	     values(tls_port, "posthog", "posthog", SKIP_ENV), &right, PHD_STATUS_FAILED,
	     "no TLS against a server that forces it fails",
	     "^refuses unencrypted connections", "and says why");
	/* the cross-check of what preflight learnt with what the chart's
	 * components do about TLS (phdeploy-ha(7), TLS) */
	CASE(cfg_ca, values(tls_port, "posthog", "posthog", SKIP_ENV), &right, PHD_STATUS_OK,
	     "a server that forces TLS, components that negotiate it",
	     "^TLSv1.3, TLS forced", "the summary records that the server refuses plaintext",
	     "PgBouncer and the migrate Job negotiate TLS", "and who connects how");
	CASE(cfg_ca, values(tls_port, "posthog", "posthog", SKIP_ENV
			    "pgbouncer:\n  env:\n    - { name: PGBOUNCER_PORT, value: \"6543\" }\n"
			    "    - { name: PGBOUNCER_SERVER_TLS_SSLMODE, value: disable }\n"),
	     &right, PHD_STATUS_FAILED,
	     "PgBouncer without TLS against a server that forces it fails",
	     "^PgBouncer would connect without TLS: PGBOUNCER_SERVER_TLS_SSLMODE is disable "
	     "(pgbouncer.env at ", "naming the component and the values key");
	CASE(cfg_ca, values(tls_port, "posthog", "posthog", SKIP_ENV
			    "pgbouncer:\n  enabled: false\n  fqdn: 127.0.0.1\n"),
	     &right, PHD_STATUS_FAILED,
	     "no PgBouncer and the database as its fqdn: the plugin server connects in clear",
	     "^the plugin server would connect without TLS", "naming the component",
	     "pgbouncer.fqdn at ", "and the values key");
	CASE("checks:\n  postgres: { sslmode: verify-full }\n",
	     values(tls_port, "posthog", "posthog", SKIP_ENV), &right, PHD_STATUS_FAILED,
	     "verify-full without a CA bundle fails",
	     "^needs checks.postgres.sslrootcert", "and asks for sslrootcert");
	/* a CA that did not sign the server's certificate */
	if (ch_script(NULL, 0, NULL, "test-cert", other, (char *)NULL) != 0)
		tap_diag("test-cert failed");
	CASE(cfg_other, values(tls_port, "posthog", "posthog", SKIP_ENV), &right,
	     PHD_STATUS_FAILED, "a certificate from another CA fails",
	     "^not signed by a CA in", "and says so");
	free(cfg_ca);
	free(cfg_other);
	free(other);
}

static void deadline_case(int port, const char *what, const char *needle)
{
	ch_deadline_case("postgres", "checks:\n  postgres: { timeout: 1s }\n",
			 values(port, "posthog", "posthog", SKIP_ENV), &right, what, needle);
}

static void test_not_applicable(void)
{
	CASE(cfg, ch_fmt("postgresql: { enabled: true }\n"), NULL, PHD_STATUS_SKIPPED,
	     "the chart's own PostgreSQL: nothing to check",
	     "^nothing external to check", "and says so");
	CASE(cfg, ch_fmt("postgresql: { enabled: false }\n"), NULL, PHD_STATUS_FAILED,
	     "postgresql disabled without an external host fails",
	     "^externalPostgresql.postgresqlHost is not set", "and says what is missing");
}

int main(void)
{
	const char *pgbin = tap_env("PGBIN", "/usr/lib/postgresql/15/bin");
	char initdb[4096], port[64], *plain_dir;

	snprintf(initdb, sizeof initdb, "%s/initdb", pgbin);
	if (access(initdb, X_OK) != 0)
		tap_skip_all("no PostgreSQL server: %s not found (install postgresql-15)", initdb);

	plain_dir = ch_server_dir("pg-server");
	tls_dir = ch_server_dir("pg-server");
	if (!plain_dir || !tls_dir)
		tap_skip_all("cannot make server directories under /tmp");
	if (ch_script(port, sizeof port, NULL, "pg-server", "start", plain_dir, (char *)NULL) != 0 ||
	    (plain_port = atoi(port)) <= 0)
		tap_skip_all("the PostgreSQL server did not start (see %s/server.log)", plain_dir);
	if (ch_script(port, sizeof port, NULL, "pg-server", "start", tls_dir, "--force-tls",
		      (char *)NULL) != 0 || (tls_port = atoi(port)) <= 0)
		tap_skip_all("the PostgreSQL TLS server did not start (see %s/server.log)", tls_dir);
	if (ch_script(NULL, 0, setup_sql, "pg-server", "sql", plain_dir, (char *)NULL) != 0 ||
	    ch_script(NULL, 0, setup_sql, "pg-server", "sql", tls_dir, (char *)NULL) != 0)
		tap_skip_all("cannot create the test roles and database");

	test_not_applicable();
	test_plain();
	test_tls();
	deadline_case(ch_silent_port(), "a server that never answers fails",
		      "accepted the TCP connection but did not answer");
	deadline_case(ch_blackhole_port(), "a TCP connect nobody accepts fails",
		      "TCP connection was not accepted");
	free(plain_dir);
	free(tls_dir);
	return tap_done();
}
