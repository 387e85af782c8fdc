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
