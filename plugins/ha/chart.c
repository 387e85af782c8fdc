/* The PostHog chart 30.46.0 as the values rules need it: the defaults of
 * the keys they read (from the chart's values.yaml), its components, and
 * how its objects are named and labelled.  A key absent from the user's
 * values takes the chart default; a key the user sets to null is deleted
 * (helm's coalescing), so it has no value at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"

/* Chart defaults of the scalar keys the rules read.  NULL: no default
 * (the chart's values.yaml leaves it empty). */
static const struct {
	const char *path, *def;
} chart_defaults[] = {
	{ "cloud", NULL },
	{ "fullnameOverride", NULL },
	{ "nameOverride", NULL },
	{ "image.repository", "posthog/posthog" },
	{ "image.sha", NULL },
	{ "image.tag", NULL },
	{ "image.pullPolicy", "Always" },
	{ "posthogSecretKey.existingSecret", NULL },
	{ "posthogSecretKey.existingSecretKey", "posthog-secret" },
	{ "includeDefaultTopologySpreadConstraints", "false" },
	{ "postgresql.enabled", "true" },
	{ "externalPostgresql.postgresqlHost", NULL },
	{ "externalPostgresql.postgresqlDatabase", NULL },
	{ "externalPostgresql.postgresqlUsername", NULL },
	{ "externalPostgresql.postgresqlPassword", NULL },
	{ "externalPostgresql.existingSecret", NULL },
	{ "externalPostgresql.existingSecretPasswordKey", "postgresql-password" },
	{ "redis.enabled", "true" },
	{ "externalRedis.host", "" },
	{ "externalRedis.port", "6379" },
	{ "externalRedis.password", "" },
	{ "externalRedis.existingSecret", "" },
	{ "externalRedis.existingSecretPasswordKey", "" },
	{ "kafka.enabled", "true" },
	{ "externalKafka.tls", "false" },
	{ "zookeeper.enabled", "true" },
	{ "zookeeper.replicaCount", "1" },
	{ "zookeeper.nameOverride", "posthog-zookeeper" },
	{ "zookeeper.fullnameOverride", NULL },
	{ "zookeeper.podAntiAffinityPreset", "soft" },
	{ "clickhouse.enabled", "true" },
	/* The chart publishes a fixed ClickHouse password in its values.yaml. */
	{ "clickhouse.password", "a1f31e03-c88e-4ca6-a2df-ad49183d15d9" },
	{ "clickhouse.existingSecret", "" },
	{ "clickhouse.existingSecretPasswordKey", "" },
	{ "clickhouse.image.tag", "23.9.2.56" },
	{ "clickhouse.layout.shardsCount", "1" },
	{ "clickhouse.layout.replicasCount", "1" },
	{ "externalClickhouse.host", NULL },
	{ "externalClickhouse.cluster", NULL },
	{ "externalClickhouse.password", NULL },
	{ "externalClickhouse.existingSecret", NULL },
	{ "externalClickhouse.existingSecretPasswordKey", NULL },
	{ "email.host", NULL },
	{ "email.password", NULL },
	{ "email.existingSecret", "" },
	{ "pluginsAsync.enabled", "false" },
};

/* Every component of the chart that renders a Deployment.  Each has
 * <key>.replicacount (1) and <key>.hpa.{enabled (false), minpods (1)}.
 * events, decide and recordings reuse web's probes and affinity. */
const struct ha_comp ha_comps[] = {
	{ "web", "web", 1, 1, 0, NULL, "web.readinessProbe", "web.affinity", 0, 0 },
	{ "events", "events", 1, 1, 0, NULL, "web.readinessProbe", "web.affinity", 0, 0 },
	{ "decide", "decide", 0, 1, 1, "1", "web.readinessProbe", "web.affinity", 0, 0 },
	{ "recordings", "recordings", 0, 1, 0, NULL, "web.readinessProbe", "web.affinity", 0, 0 },
	{ "worker", "worker-", 1, 0, 0, NULL, NULL, "worker.affinity", 0, 0 },
	{ "plugins", "plugins", 1, 0, 0, NULL, "plugins.readinessProbe", "plugins.affinity", 0, 0 },
	{ "pluginsAsync", "plugins-async", 0, 0, 0, NULL, "pluginsAsync.readinessProbe",
	  "pluginsAsync.affinity", 0, 0 },
	{ "pluginsIngestion", "plugins-ingestion", 0, 0, 0, NULL, "pluginsIngestion.readinessProbe",
	  "pluginsIngestion.affinity", 0, 0 },
	{ "pluginsAnalyticsIngestion", "plugins-ingestion", 0, 0, 0, NULL,
	  "pluginsAnalyticsIngestion.readinessProbe", "pluginsAnalyticsIngestion.affinity", 0, 0 },
	{ "pluginsIngestionOverflow", "plugins-ingestion-overflow", 0, 0, 0, NULL,
	  "pluginsIngestion.readinessProbe", "pluginsIngestion.affinity", 0, 0 },
	{ "recordingsIngestion", "recordings-ingestion", 0, 0, 0, NULL,
	  "recordingsIngestion.readinessProbe", "recordingsIngestion.affinity", 1, 0 },
	{ "recordingsBlobIngestion", "recordings-blob-ingestion", 0, 0, 0, NULL,
	  "recordingsBlobIngestion.readinessProbe", "recordingsBlobIngestion.affinity", 1, 0 },
	{ "pluginsExports", "plugins-exports", 0, 0, 0, NULL, "pluginsExports.readinessProbe",
	  "pluginsExports.affinity", 0, 0 },
	{ "pluginsJobs", "plugins-jobs", 0, 0, 0, NULL, "pluginsJobs.readinessProbe",
	  "pluginsJobs.affinity", 0, 0 },
	{ "pluginsScheduler", "plugins-scheduler", 0, 0, 0, NULL, "pluginsScheduler.readinessProbe",
	  "pluginsScheduler.affinity", 0, 0 },
	{ "temporalPyWorker", "temporalPyWorker", 0, 0, 0, NULL, NULL, "temporalPyWorker.affinity", 0, 0 },
	{ "pgbouncer", "pgbouncer", 1, 0, 0, NULL, "pgbouncer.readinessProbe", "pgbouncer.affinity", 0, 0 },
	{ "pgbouncerRead", "pgbouncer-read", 0, 0, 0, NULL, "pgbouncerRead.readinessProbe",
	  "pgbouncerRead.affinity", 0, 0 },
	{ "toolbox", "toolbox", 0, 0, 0, NULL, NULL, NULL, 0, 1 },
};
const size_t ha_ncomps = sizeof ha_comps / sizeof ha_comps[0];

const struct ha_comp *ha_comp_by_key(const char *key)
{
	size_t i;

	for (i = 0; i < ha_ncomps; i++)
		if (strcmp(ha_comps[i].key, key) == 0)
			return &ha_comps[i];
	return NULL;
}

/* The default of a component key: "<comp>.<rest>". */
static int comp_default(const char *path, const char **def)
{
	const char *dot = strchr(path, '.');
	const struct ha_comp *c;
	char key[64];

	if (!dot || (size_t)(dot - path) >= sizeof key)
		return 0;
	memcpy(key, path, (size_t)(dot - path));
	key[dot - path] = '\0';
	if (!(c = ha_comp_by_key(key)))
		return 0;
	dot++;
	if (strcmp(dot, "enabled") == 0)
		*def = c->enabled ? "true" : "false";
	else if (strcmp(dot, "replicacount") == 0 || strcmp(dot, "hpa.minpods") == 0)
		*def = "1";
	else if (strcmp(dot, "hpa.enabled") == 0 || strcmp(dot, "keda.enabled") == 0)
		*def = "false";
	else if (c->has_pdb && strcmp(dot, "pdb.enabled") == 0)
		*def = c->pdb_enabled ? "true" : "false";
	else if (c->has_pdb && strcmp(dot, "pdb.maxUnavailable") == 0)
		*def = c->pdb_max;
	else
		return 0;
	return 1;
}

static const char *chart_default(const char *path)
{
	size_t i;
	const char *def = NULL;

	for (i = 0; i < sizeof chart_defaults / sizeof chart_defaults[0]; i++)
		if (strcmp(chart_defaults[i].path, path) == 0)
			return chart_defaults[i].def;
	if (comp_default(path, &def))
		return def;
	return NULL;
}

struct ha_val ha_get(const phd_node *values, const char *path)
{
	struct ha_val v = { NULL, NULL };

	v.node = values ? phd_node_get(values, path) : NULL;
	if (!v.node)
		v.s = chart_default(path);
	else if (phd_node_type(v.node) == PHD_NODE_SCALAR)
		v.s = phd_node_str(v.node);
	return v;
}

int ha_val_truthy(struct ha_val v)
{
	if (v.node)
		return ha_truthy(v.node);
	return v.s && *v.s && strcmp(v.s, "false") != 0 && strcmp(v.s, "0") != 0;
}

int ha_val_int(struct ha_val v, long long *out)
{
	char *end;

	if (v.node) {
		if (phd_node_type(v.node) == PHD_NODE_NULL)
			return PHD_ENOTFOUND;
		return phd_node_int(v.node, out) == 0 ? 0 : PHD_ETYPE;
	}
	if (!v.s)
		return PHD_ENOTFOUND;
	*out = strtoll(v.s, &end, 10);
	return *end ? PHD_ETYPE : 0;
}

/* Helm's usual fullname of a chart whose values live under scope ("" or
 * "zookeeper."): fullnameOverride, or the release name when it contains
 * the name (nameOverride, else the chart's), or "<release>-<name>"; 63
 * characters at most with a trailing '-' trimmed. */
void ha_chart_fullname(const struct ha_opts *o, const char *scope, const char *chart, char *buf,
		       size_t n)
{
	const char *rel = o->release && *o->release ? o->release : "posthog";
	char key[64];
	struct ha_val fo, no;
	const char *name;
	size_t len;

	snprintf(key, sizeof key, "%sfullnameOverride", scope);
	fo = ha_get(o->values, key);
	snprintf(key, sizeof key, "%snameOverride", scope);
	no = ha_get(o->values, key);
	name = no.s && *no.s ? no.s : chart;
	if (fo.s && *fo.s)
		snprintf(buf, n, "%s", fo.s);
	else if (strstr(rel, name))
		snprintf(buf, n, "%s", rel);
	else
		snprintf(buf, n, "%s-%s", rel, name);
	len = strlen(buf);
	if (len > 63)
		buf[len = 63] = '\0';
	while (len && buf[len - 1] == '-')
		buf[--len] = '\0';
}

void ha_posthog_fullname(const struct ha_opts *o, char *buf, size_t n)
{
	ha_chart_fullname(o, "", "posthog", buf, n);
}

const char *ha_posthog_component(const struct ha_opts *o, const phd_node *labels)
{
	const char *rel = o->release && *o->release ? o->release : "posthog";
	const char *role = ha_label(labels, "role");
	const char *r = ha_label(labels, "release");
	const char *inst = ha_label(labels, "app.kubernetes.io/instance");
	const char *comp = ha_label(labels, "app.kubernetes.io/component");
	size_t i;

	if (inst && strcmp(inst, rel) == 0 && comp && strcmp(comp, "zookeeper") == 0)
		return "zookeeper";
	if (!role || !r || strcmp(r, rel) != 0)
		return NULL;
	for (i = 0; i < ha_ncomps; i++) {
		const char *cr = ha_comps[i].role;
		size_t n = strlen(cr);
		if (cr[n - 1] == '-' ? strncmp(role, cr, n) == 0 : strcmp(role, cr) == 0)
			return ha_comps[i].key;
	}
	return NULL;
}

int ha_posthog_has_key(const char *component, const char *rule)
{
	const struct ha_comp *c;

	if (strcmp(component, "zookeeper") == 0)
		return 1;   /* the bitnami subchart has a key for everything */
	if (!(c = ha_comp_by_key(component)))
		return 0;
	if (strcmp(rule, "probes") == 0)
		return c->probes != NULL;
	if (strcmp(rule, "pdb") == 0)
		return c->has_pdb;
	if (strcmp(rule, "spread") == 0)
		return c->affinity != NULL;
	return 1;
}
