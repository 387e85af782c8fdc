/* Facts from the chart's templates (_postgresql.tpl, _helpers.tpl,
 * _redis.tpl, _kafka.tpl, _clickhouse.tpl, _posthog.tpl, _email.tpl,
 * _object_storage.tpl, clickhouse-backup-cronjob.yaml) and the grafana
 * subchart; phdeploy-kube(7) prints the Secret table. */
#include "chartvalues.h"

#include <string.h>

const struct phd_cv_secret phd_cv_secrets[] = {
	{ "posthogSecretKey.existingSecret",
	  { { "posthogSecretKey.existingSecretKey", "posthog-secret" } }, NULL, 0, 0, { NULL } },
	{ "email.existingSecret",
	  { { "email.existingSecretKey", "smtp-password" } }, NULL, 0, 0, { "email.password" } },
	{ "externalPostgresql.existingSecret",
	  { { "externalPostgresql.existingSecretPasswordKey", "postgresql-password" } },
	  "postgresql.enabled", 1, 0, { "externalPostgresql.postgresqlPassword" } },
	{ "postgresql.existingSecret",
	  { { NULL, "postgresql-password" } }, "postgresql.enabled", 1, 1,
	  { "postgresql.postgresqlPassword", "postgresql.postgresqlPostgresPassword" } },
	{ "externalRedis.existingSecret",
	  { { "externalRedis.existingSecretPasswordKey", NULL } }, "redis.enabled", 1, 0,
	  { "externalRedis.password" } },
	{ "redis.auth.existingSecret",
	  { { "redis.auth.existingSecretPasswordKey", NULL } }, "redis.enabled", 1, 1,
	  { "redis.auth.password" } },
	{ "clickhouse.existingSecret",
	  { { "clickhouse.existingSecretPasswordKey", NULL } }, "clickhouse.enabled", 1, 1,
	  { "clickhouse.password" } },
	{ "clickhouse.backup.existingSecret",
	  { { "clickhouse.backup.existingSecretPasswordKey", NULL } },
	  "clickhouse.backup.enabled", 0, 1, { "clickhouse.backup.backup_password" } },
	{ "externalClickhouse.existingSecret",
	  { { "externalClickhouse.existingSecretPasswordKey", NULL } }, "clickhouse.enabled", 1, 0,
	  { "externalClickhouse.password" } },
	{ "minio.auth.existingSecret",
	  { { NULL, "root-user" }, { NULL, "root-password" } }, "minio.enabled", 0, 1,
	  { "minio.auth.rootPassword" } },
	{ "externalObjectStorage.existingSecret",
	  { { NULL, "root-user" }, { NULL, "root-password" } }, "minio.enabled", 0, 0, { NULL } },
	{ "grafana.admin.existingSecret",
	  { { "grafana.admin.userKey", "admin-user" },
	    { "grafana.admin.passwordKey", "admin-password" } }, "grafana.enabled", 0, 1,
	  { "grafana.adminPassword" } },
};
const size_t phd_cv_nsecrets = sizeof phd_cv_secrets / sizeof phd_cv_secrets[0];

int phd_cv_secret_applies(const struct phd_cv_secret *s, const phd_node *values)
{
	int b;

	if (!s->toggle)
		return 1;
	if (phd_node_bool(phd_node_get(values, s->toggle), &b) != 0)
		b = s->toggle_default;
	return b == s->toggle_want;
}

/* Versions: PostHog's service version checks (POSTHOG-CHART.md).
 * Kafka's credentials come from env entries (KAFKA_SASL_*), not a Secret
 * key of its own: no password row. */
static const struct phd_cv_service services[] = {
	{ "postgres", "PostgreSQL", "RDS", "postgresql", "externalPostgresql.postgresqlHost",
	  "externalPostgresql.postgresqlPort", 5432, "externalPostgresql.existingSecret",
	  "11.0.0", "14.1.0" },
	{ "redis", "Redis", "ElastiCache primary", "redis", "externalRedis.host",
	  "externalRedis.port", 6379, "externalRedis.existingSecret", "5.0.0", "6.3.0" },
	{ "kafka", "Kafka", "MSK bootstrap brokers", "kafka", "externalKafka.brokers", NULL, 0,
	  NULL, NULL, NULL },
};

const struct phd_cv_secret *phd_cv_secret(const char *name_path)
{
	for (size_t i = 0; name_path && i < phd_cv_nsecrets; i++)
		if (strcmp(phd_cv_secrets[i].name_path, name_path) == 0)
			return &phd_cv_secrets[i];
	return NULL;
}

const struct phd_cv_service *phd_cv_service(const char *check)
{
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
		if (strcmp(services[i].check, check) == 0)
			return &services[i];
	return NULL;
}

/* The entry of an env list (values key list) named name, or NULL. */
static const phd_node *env_entry(const phd_node *values, const char *list, const char *name)
{
	const phd_node *env = phd_node_get(values, list);

	for (size_t i = 0; phd_node_type(env) == PHD_NODE_SEQ && i < phd_node_len(env); i++) {
		const char *k = phd_node_str(phd_node_get(phd_node_at(env, i), "name"));
		if (k && strcmp(k, name) == 0)
			return phd_node_at(env, i);
	}
	return NULL;
}

static int is_disable(const phd_node *entry)
{
	const char *v = phd_node_str(phd_node_get(entry, "value"));

	return v && strcmp(v, "disable") == 0;
}

static int enabled(const phd_node *values, const char *key, int dflt)
{
	int b;

	return phd_node_bool(phd_node_get(values, key), &b) == 0 ? b : dflt;
}

size_t phd_cv_pg_plaintext(const phd_node *values, struct phd_cv_plain *out, size_t max)
{
	const phd_node *e;
	const char *fqdn = phd_node_str(phd_node_get(values, "pgbouncer.fqdn"));
	const char *host = phd_node_str(phd_node_get(values, "externalPostgresql.postgresqlHost"));
	size_t n = 0;

	if (enabled(values, "postgresql.enabled", 1))
		return 0;   /* the chart's own PostgreSQL: nothing external */
	if (n < max && enabled(values, "pgbouncer.enabled", 1) &&
	    is_disable(e = env_entry(values, "pgbouncer.env", "PGBOUNCER_SERVER_TLS_SSLMODE")))
		out[n++] = (struct phd_cv_plain){ "PgBouncer", "pgbouncer.env", e,
			"PGBOUNCER_SERVER_TLS_SSLMODE is disable" };
	/* libpq reads PGSSLMODE from the environment the chart's env list sets */
	if (n < max && is_disable(e = env_entry(values, "env", "PGSSLMODE")))
		out[n++] = (struct phd_cv_plain){ "the migrate Job and the Django apps", "env", e,
			"PGSSLMODE is disable" };
	/* without PgBouncer the apps use pgbouncer.fqdn as the PostgreSQL host;
	 * the chart gives the plugin server (Node) no TLS setting */
	if (n < max && !enabled(values, "pgbouncer.enabled", 1) && fqdn && host &&
	    strcmp(fqdn, host) == 0)
		out[n++] = (struct phd_cv_plain){ "the plugin server", "pgbouncer.fqdn",
			phd_node_get(values, "pgbouncer.fqdn"),
			"pgbouncer.enabled is false and pgbouncer.fqdn is the PostgreSQL endpoint, "
			"so the plugin server connects to it directly, and the chart sets no TLS "
			"option for its Node client" };
	return n;
}
