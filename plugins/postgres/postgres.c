/* postgres: preflight check of the external PostgreSQL (RDS) the chart is
 * pointed at.  See phdeploy-postgres(7).
 *
 * It connects the way PostHog will (host, port, database, user, password
 * from the values and the secret store), over the TLS mode configured, and
 * tells whether PostHog can start and migrate: server version against
 * PostHog's accepted range, the database, CREATE EXTENSION privilege, a
 * writable primary, round-trip time.  Everything runs non-blocking against
 * one deadline so an unreachable host costs the check's timeout, not TCP's. */
#include "depcheck.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#define PG_MIN (phd_cv_service("postgres")->min_version)
#define PG_MAX (phd_cv_service("postgres")->max_version)
#define PG_LATENCY_WARN_MS 50

struct pg_target {
	const char *host;
	int port;
	const char *db;
	const char *user;
	struct phd_dc_password pw;
	int have_pw;
	const char *sslmode;
	const char *sslrootcert;
	long long latency_warn_ms;
};

static const char *const pg_sslmodes[] = {
	"disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL
};

static int pg_read_config(struct phd_dc *dc, struct pg_target *t)
{
	const phd_node *cfg = phd_check_config(dc->chk);
	const phd_node *mode_n = phd_node_get(cfg, "sslmode");
	char at[300];
	int i, ok = 0;

	t->sslmode = phd_dc_str(cfg, "sslmode");
	if (!t->sslmode)
		t->sslmode = "prefer";
	for (i = 0; pg_sslmodes[i]; i++)
		ok |= !strcmp(t->sslmode, pg_sslmodes[i]);
	if (!ok)
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "checks.postgres.sslmode (%s): \"%s\" is not one of disable, allow, "
			    "prefer, require, verify-ca, verify-full",
			    phd_dc_at(mode_n, at, sizeof at), t->sslmode);
	t->sslrootcert = phd_dc_file(dc, cfg, "sslrootcert");
	if (!t->sslrootcert && !strncmp(t->sslmode, "verify-", 7))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "checks.postgres.sslmode %s (%s) needs checks.postgres.sslrootcert, the CA "
			    "bundle that signed the server's certificate (for RDS: the global bundle "
			    "from truststore.pki.rds.amazonaws.com)",
			    t->sslmode, phd_dc_at(mode_n, at, sizeof at));
	t->latency_warn_ms = phd_dc_duration(dc, cfg, "max_latency", PG_LATENCY_WARN_MS);
	return 0;
}

/* Endpoint and credentials exactly as the chart passes them to PostHog. */
static int pg_read_values(struct phd_dc *dc, struct pg_target *t)
{
	const struct phd_cv_service *svc = phd_cv_service("postgres");
	const phd_node *v = dc->values;
	int rc;

	rc = phd_dc_endpoint(dc, svc, &t->host, &t->port, &t->pw, &t->have_pw);
	if (rc != 0)
		return rc;
	t->db = phd_dc_str(v, "externalPostgresql.postgresqlDatabase");
	if (!t->db) {
		t->db = "posthog";
		phd_dc_note(dc, PHD_SEV_WARN, "externalPostgresql.postgresqlDatabase is not set: the "
			    "chart passes an empty database name to PostHog; set it (checked: posthog)");
	}
	t->user = phd_dc_str(v, "externalPostgresql.postgresqlUsername");
	if (!t->user) {
		t->user = "postgres";
		phd_dc_note(dc, PHD_SEV_WARN, "externalPostgresql.postgresqlUsername is not set: the "
			    "chart passes an empty user name to PostHog; set it (checked: postgres)");
	}
	if (!t->have_pw) {
		char hint[300];
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "no password: set %s to a Secret that a `secrets:` entry provides",
			    phd_dc_password_hint(svc, hint, sizeof hint));
		return PHD_EFAILED;
	}
	return 0;
}

/* What the connection was waiting for when the deadline passed. */
static const char *pg_stage(PGconn *c)
{
	switch (PQstatus(c)) {
	case CONNECTION_STARTED:
		return "the TCP connection was not accepted (nothing answers: a security group "
		       "or firewall dropping packets, or a wrong host)";
	case CONNECTION_SSL_STARTUP:
		/* libpq asks for TLS first (SSLRequest) unless sslmode is disable */
		return "the server accepted the TCP connection but did not answer the TLS "
		       "negotiation or finish the handshake";
	case CONNECTION_MADE:
	case CONNECTION_AWAITING_RESPONSE:
		return "the server accepted the TCP connection but did not answer the startup";
	default:
		return "the connection did not complete";
	}
}

/* libpq's message on one line. */
static const char *pg_oneline(PGconn *c, char *buf, size_t len)
{
	const char *m = PQerrorMessage(c);
	size_t i, o = 0;

	for (i = 0; m[i] && o + 1 < len; i++) {
		if (m[i] == '\n') {
			if (m[i + 1] && o + 3 < len) {
				buf[o++] = ';';
				buf[o++] = ' ';
			}
			continue;
		}
		buf[o++] = m[i];
	}
	buf[o] = '\0';
	return buf;
}

static void pg_explain(struct phd_dc *dc, const struct pg_target *t, PGconn *c)
{
	const char *m = PQerrorMessage(c);
	char lib[600];

	pg_oneline(c, lib, sizeof lib);
	if (strstr(m, "password authentication failed"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "authentication failed for user \"%s\": the password from %s is not the "
			    "user's password (libpq: %s)", t->user, t->pw.origin, lib);
	else if (strstr(m, "database \"") && strstr(m, "does not exist"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "database \"%s\" does not exist on %s:%d: PostHog does not create it; "
			    "run CREATE DATABASE %s OWNER %s (libpq: %s)",
			    t->db, t->host, t->port, t->db, t->user, lib);
	else if (strstr(m, "role \"") && strstr(m, "does not exist"))
		phd_dc_note(dc, PHD_SEV_ERROR, "user \"%s\" does not exist on %s:%d (libpq: %s)",
			    t->user, t->host, t->port, lib);
	else if (strstr(m, "no pg_hba.conf entry") &&
		 (strstr(m, "no encryption") || strstr(m, "SSL off")))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "the server refuses unencrypted connections (as RDS does with "
			    "rds.force_ssl=1, the default from PostgreSQL 15) and sslmode is %s: set "
			    "checks.postgres.sslmode to verify-full with sslrootcert (libpq: %s)",
			    t->sslmode, lib);
	else if (strstr(m, "no pg_hba.conf entry"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "the server does not admit user \"%s\" to database \"%s\" from this host "
			    "(pg_hba.conf) (libpq: %s)", t->user, t->db, lib);
	else if (strstr(m, "server does not support SSL"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "the server does not offer TLS but checks.postgres.sslmode is %s (libpq: %s)",
			    t->sslmode, lib);
	else if (strstr(m, "certificate verify failed"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "the server's certificate is not signed by a CA in %s (libpq: %s)",
			    t->sslrootcert ? t->sslrootcert : "sslrootcert", lib);
	else if (strstr(m, "does not match host name"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "the server's certificate does not name \"%s\" (sslmode verify-full): use "
			    "the endpoint name the certificate was issued for (libpq: %s)", t->host, lib);
	else if (strstr(m, "Connection refused"))
		phd_dc_note(dc, PHD_SEV_ERROR, "nothing listens on %s:%d (connection refused)",
			    t->host, t->port);
	else if (strstr(m, "could not translate host name"))
		phd_dc_note(dc, PHD_SEV_ERROR, "host name \"%s\" does not resolve (libpq: %s)",
			    t->host, lib);
	else
		phd_dc_note(dc, PHD_SEV_ERROR, "cannot connect to %s:%d: %s", t->host, t->port, lib);
}

static void pg_notice(void *ctx, const char *msg)
{
	phd_log(ctx, PHD_LOG_DEBUG, "postgres: server notice: %s", msg);
}

/* Connect as PostHog will.  probe: a second, quiet connection that only
 * answers a question: no note; on failure libpq's message goes there. */
static PGconn *pg_connect(struct phd_dc *dc, const struct pg_target *t, char *probe,
			  size_t probe_len)
{
	const char *kw[12], *val[12];
	char port[8], *pw = NULL;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *c;
	int n = 0, r;

	snprintf(port, sizeof port, "%d", t->port);
	/* libpq wants a C string; keep the copy in memory we wipe */
	if (t->have_pw) {
		if (memchr(t->pw.value, '\0', t->pw.len)) {
			phd_dc_note(dc, PHD_SEV_ERROR, "the password from %s contains a NUL byte",
				    t->pw.origin);
			return NULL;
		}
		pw = malloc(t->pw.len + 1);
		if (!pw) {
			phd_dc_note(dc, PHD_SEV_ERROR, "out of memory");
			return NULL;
		}
		memcpy(pw, t->pw.value, t->pw.len);
		pw[t->pw.len] = '\0';
	}
	kw[n] = "host", val[n++] = t->host;
	kw[n] = "port", val[n++] = port;
	kw[n] = "dbname", val[n++] = t->db;
	kw[n] = "user", val[n++] = t->user;
	kw[n] = "sslmode", val[n++] = t->sslmode;
	kw[n] = "gssencmode", val[n++] = "disable";
	kw[n] = "application_name", val[n++] = "phdeploy-preflight";
	if (t->sslrootcert)
		kw[n] = "sslrootcert", val[n++] = t->sslrootcert;
	if (pw)
		kw[n] = "password", val[n++] = pw;
	kw[n] = NULL, val[n] = NULL;

	c = PQconnectStartParams(kw, val, 0);
	if (pw) {
		explicit_bzero(pw, t->pw.len);
		free(pw);
	}
	if (!c) {
		phd_dc_note(dc, PHD_SEV_ERROR, "cannot start a connection: %s",
			    PQerrorMessage(NULL));
		return NULL;
	}
	/* libpq prints server notices to stderr by default; a plugin never prints */
	PQsetNoticeProcessor(c, pg_notice, phd_check_ctx(dc->chk));
	if (PQstatus(c) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		r = phd_dc_wait(dc, PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT);
		if (r <= 0 && probe) {
			snprintf(probe, probe_len, "no answer within the deadline");
			PQfinish(c);
			return NULL;
		}
		if (r <= 0) {
			phd_dc_note(dc, PHD_SEV_ERROR,
				    "no connection to %s:%d within the check's deadline: %s "
				    "(checks.postgres.timeout)", t->host, t->port, pg_stage(c));
			PQfinish(c);
			return NULL;
		}
		st = PQconnectPoll(c);
	}
	if (st == PGRES_POLLING_FAILED) {
		if (probe)
			snprintf(probe, probe_len, "%s", PQerrorMessage(c));
		else
			pg_explain(dc, t, c);
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* Run one statement against the deadline; NULL after an error note. */
static PGresult *pg_query(struct phd_dc *dc, PGconn *c, const char *sql, const char *what)
{
	PGresult *res = NULL, *r;
	int fl;

	if (!PQsendQuery(c, sql))
		goto failed;
	while ((fl = PQflush(c)) != 0) {
		if (fl < 0 || phd_dc_wait(dc, PQsocket(c), POLLOUT) <= 0)
			goto timeout;
	}
	for (;;) {
		while (PQisBusy(c)) {
			int w = phd_dc_wait(dc, PQsocket(c), POLLIN);

			if (w <= 0) {
				PQclear(res);
				goto timeout;
			}
			if (!PQconsumeInput(c)) {
				PQclear(res);
				goto failed;
			}
		}
		r = PQgetResult(c);
		if (!r)
			break;
		if (!res)
			res = r;
		else
			PQclear(r);
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		return res;
	phd_dc_note(dc, PHD_SEV_ERROR, "%s failed: %s", what,
		    res ? PQresultErrorMessage(res) : PQerrorMessage(c));
	PQclear(res);
	return NULL;
timeout:
	phd_dc_note(dc, PHD_SEV_ERROR, "%s: no answer within the check's deadline "
		    "(checks.postgres.timeout)", what);
	return NULL;
failed:
	phd_dc_note(dc, PHD_SEV_ERROR, "%s failed: %s", what, PQerrorMessage(c));
	return NULL;
}

static void pg_report_tls(struct phd_dc *dc, const struct pg_target *t, PGconn *c,
			  char *tls, size_t len)
{
	if (PQsslInUse(c)) {
		const char *proto = PQsslAttribute(c, "protocol");
		const char *cipher = PQsslAttribute(c, "cipher");

		snprintf(tls, len, "%s", proto ? proto : "TLS");
		phd_dc_note(dc, PHD_SEV_INFO, "TLS: %s %s (sslmode %s%s)", proto ? proto : "?",
			    cipher ? cipher : "", t->sslmode,
			    strncmp(t->sslmode, "verify-", 7) ? ", server certificate not verified"
							      : ", certificate verified");
		return;
	}
	snprintf(tls, len, "no TLS");
	phd_dc_note(dc, PHD_SEV_WARN,
		    "the connection is not encrypted (sslmode %s%s): RDS for PostgreSQL 15+ forces "
		    "TLS (rds.force_ssl=1); use sslmode verify-full with sslrootcert",
		    t->sslmode, strcmp(t->sslmode, "disable") ? ", the server offers no TLS" : "");
}

static const char pg_priv_sql[] =
	"SELECT r.rolsuper,"
	" EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_superuser'"
	"         AND pg_has_role(current_user, g.oid, 'MEMBER')),"
	" has_database_privilege(current_database(), 'CREATE'),"
	" (SELECT has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n"
	"  WHERE n.nspname = 'public'),"
	" pg_is_in_recovery(),"
	" current_setting('server_version_num')::int"
	" FROM pg_roles r WHERE r.rolname = current_user";

/* PostHog's migrations create extensions and tables in schema public, and
 * need a writable primary. */
static void pg_check_privileges(struct phd_dc *dc, const struct pg_target *t, PGconn *c)
{
	PGresult *res = pg_query(dc, c, pg_priv_sql, "reading the user's privileges");
	int super, rds, dbcreate, vnum;
	const char *schema;

	if (!res)
		return;
	if (PQntuples(res) != 1) {
		phd_dc_note(dc, PHD_SEV_ERROR, "cannot read the privileges of user \"%s\"", t->user);
		PQclear(res);
		return;
	}
	super = !strcmp(PQgetvalue(res, 0, 0), "t");
	rds = !strcmp(PQgetvalue(res, 0, 1), "t");
	dbcreate = !strcmp(PQgetvalue(res, 0, 2), "t");
	schema = PQgetisnull(res, 0, 3) ? NULL : PQgetvalue(res, 0, 3);
	vnum = atoi(PQgetvalue(res, 0, 5));
	if (!strcmp(PQgetvalue(res, 0, 4), "t"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "%s:%d is a read replica (in recovery): PostHog's migrations need the "
			    "writer; point %s at the primary endpoint",
			    t->host, t->port, phd_cv_service("postgres")->host);
	if (super)
		phd_dc_note(dc, PHD_SEV_INFO, "user \"%s\" is a superuser: it can CREATE EXTENSION",
			    t->user);
	else if (rds)
		phd_dc_note(dc, PHD_SEV_INFO,
			    "user \"%s\" is a member of rds_superuser: it can CREATE EXTENSION", t->user);
	else if (dbcreate && vnum >= 130000)
		phd_dc_note(dc, PHD_SEV_INFO,
			    "user \"%s\" has CREATE on database \"%s\": it can CREATE EXTENSION of "
			    "trusted extensions", t->user, t->db);
	else
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "user \"%s\" cannot CREATE EXTENSION in database \"%s\" (%s), which "
			    "PostHog's migrations do: GRANT rds_superuser TO %s, or make it the "
			    "database's owner / GRANT CREATE ON DATABASE %s TO %s (PostgreSQL 13+)",
			    t->user, t->db,
			    dbcreate ? "PostgreSQL before 13 needs a superuser"
				     : "no superuser, no rds_superuser, no CREATE on the database",
			    t->user, t->db, t->user);
	if (!schema)
		phd_dc_note(dc, PHD_SEV_WARN, "database \"%s\" has no schema public", t->db);
	else if (!super && strcmp(schema, "t"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "user \"%s\" cannot create tables in schema public of \"%s\" (PostgreSQL "
			    "15 no longer grants that to everyone): make %s the database's owner or "
			    "GRANT CREATE ON SCHEMA public TO %s", t->user, t->db, t->user, t->user);
	PQclear(res);
}

struct pg_probe {
	struct phd_dc *dc;
	PGconn *c;
};

static int pg_ping(void *arg)
{
	struct pg_probe *pr = arg;
	PGresult *r = pg_query(pr->dc, pr->c, "SELECT 1", "measuring the round trip");
	int rc = r ? 0 : -1;

	PQclear(r);
	return rc;
}

/* Whether the server refuses unencrypted connections (RDS 15+: rds.force_ssl),
 * learnt with one more connection without TLS; then the chart's components
 * that would connect without TLS (phd_cv_pg_plaintext) cannot connect at all.
 * The answer goes into the summary ("TLS forced"), which is how the run's
 * report shows what preflight learnt from the server. */
static void pg_cross_check_tls(struct phd_dc *dc, const struct pg_target *t, char *tls,
			       size_t len)
{
	struct pg_target plain = *t;
	struct phd_cv_plain who[4];
	char err[600] = "", at[300];
	size_t i, n;
	PGconn *c;

	plain.sslmode = "disable";
	plain.sslrootcert = NULL;
	if ((c = pg_connect(dc, &plain, err, sizeof err))) {
		PQfinish(c);
		phd_dc_note(dc, PHD_SEV_INFO, "the server also accepts unencrypted connections: "
			    "PgBouncer and the migrate Job negotiate TLS (sslmode prefer), but a "
			    "client configured without it would connect in clear; RDS forces TLS "
			    "with rds.force_ssl=1");
		return;
	}
	if (!strstr(err, "no pg_hba.conf entry") ||
	    (!strstr(err, "no encryption") && !strstr(err, "SSL off")))
		return;   /* refused for another reason: nothing learnt about TLS */
	snprintf(tls + strlen(tls), len - strlen(tls), ", TLS forced");
	n = phd_cv_pg_plaintext(dc->values, who, sizeof who / sizeof who[0]);
	if (!n)
		phd_dc_note(dc, PHD_SEV_INFO, "the server refuses unencrypted connections; "
			    "PgBouncer and the migrate Job negotiate TLS with it (sslmode prefer, "
			    "the certificate is not verified)");
	for (i = 0; i < n; i++)
		phd_dc_note(dc, PHD_SEV_ERROR, "the server refuses unencrypted connections, and "
			    "%s would connect without TLS: %s (%s at %s); change it so the "
			    "connection uses TLS",
			    who[i].who, who[i].why, who[i].key,
			    phd_dc_at(who[i].where, at, sizeof at));
}

static int pg_check(phd_check *chk, void *userdata)
{
	struct phd_dc dc;
	struct pg_target t;
	char tls[64], version[64];
	const char *sv;
	long long rtt;
	PGconn *c;
	int rc;

	(void)userdata;
	memset(&t, 0, sizeof t);
	phd_dc_init(&dc, chk, "postgres");
	rc = pg_read_values(&dc, &t);
	if (rc == PHD_EIGNORE)
		return rc;
	pg_read_config(&dc, &t);
	if (rc != 0 || dc.errors)
		return PHD_EFAILED;

	c = pg_connect(&dc, &t, NULL, 0);
	if (!c)
		return PHD_EFAILED;
	pg_report_tls(&dc, &t, c, tls, sizeof tls);
	if (PQsslInUse(c))
		pg_cross_check_tls(&dc, &t, tls, sizeof tls);
	sv = PQparameterStatus(c, "server_version");
	snprintf(version, sizeof version, "%.*s", (int)strcspn(sv ? sv : "?", " "),
		 sv ? sv : "?");
	phd_dc_version_report(&dc, "PostgreSQL", version, PG_MIN, PG_MAX);
	pg_check_privileges(&dc, &t, c);
	rtt = phd_dc_rtt(&dc, pg_ping, &(struct pg_probe){ &dc, c }, "SELECT 1",
			 t.latency_warn_ms);
	PQfinish(c);
	if (dc.errors)
		return PHD_EFAILED;
	phd_check_summary(chk, "PostgreSQL %s at %s:%d, database %s, user %s: %s, round trip "
			  "%.1f ms", version, t.host, t.port, t.db, t.user, tls, rtt / 1000.0);
	return 0;
}

static const struct phd_config_key pg_keys[] = {
	{ "sslmode", PHD_CFG_ENUM, 0, "disable|allow|prefer|require|verify-ca|verify-full",
	  "libpq sslmode (default prefer)" },
	{ "sslrootcert", PHD_CFG_STRING, 0, NULL, "CA bundle for verify-ca/verify-full" },
	{ "max_latency", PHD_CFG_DURATION, 0, NULL, "warn above this round trip" },
	PHD_CONFIG_END
};

static int pg_init(phd_plugin *p, const phd_node *config)
{
	int rc;
	(void)config;
	if ((rc = phd_plugin_declare_config(p, "checks.postgres", pg_keys)))
		return rc;
	return phd_register_check(p, "postgres", pg_check, NULL, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("postgres", "2.0", pg_init, NULL);
