/* Values rules for the PostHog chart 30.x, run in the validate phase before
 * anything is rendered: the chart's own INVALID VALUES conditions (all of
 * them, not the first), managed services really external, credentials
 * through existingSecret, and the HA settings of every component. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chart.h"
#include "chartvalues.h"

#define V(path) ha_get(o->values, path)

/* The user's node for path, else its deepest ancestor present (where the
 * key would go), else NULL: the chart default alone produced the value. */
static const phd_node *near(const struct ha_opts *o, const char *path)
{
	char buf[256];
	char *dot;
	const phd_node *n;

	if (!o->values)
		return NULL;
	snprintf(buf, sizeof buf, "%s", path);
	for (;;) {
		if ((n = phd_node_get(o->values, buf)))
			return n;
		if (!(dot = strrchr(buf, '.')))
			return NULL;
		*dot = '\0';
	}
}

static int enabled(const struct ha_opts *o, const char *key)
{
	char path[96];

	snprintf(path, sizeof path, "%s.enabled", key);
	return ha_val_truthy(V(path));
}

static const char *show(struct ha_val v)
{
	return v.s ? v.s : v.node ? "(not a scalar)" : "(unset)";
}

/* ---- the chart's INVALID VALUES conditions ------------------------------ */

static void rule_mixed(struct ha_sink *s, const struct ha_opts *o)
{
	static const struct {
		const char *inchart, *external, *service, *managed;
	} mix[] = {
		{ "postgresql", "externalPostgresql.postgresqlHost", "PostgreSQL", "RDS" },
		{ "redis", "externalRedis.host", "Redis", "ElastiCache" },
		{ "kafka", "externalKafka.brokers", "Kafka", "MSK" },
		{ "clickhouse", "externalClickhouse.host", "ClickHouse", "an external ClickHouse" },
		{ "clickhouse", "externalClickhouse.cluster", "ClickHouse", "an external ClickHouse" },
	};
	size_t i;

	for (i = 0; i < sizeof mix / sizeof mix[0]; i++) {
		struct ha_val ext = V(mix[i].external);
		char key[64];

		if (!ha_val_truthy(ext) || !enabled(o, mix[i].inchart))
			continue;
		snprintf(key, sizeof key, "%s.enabled", mix[i].inchart);
		ha_report(s, "posthog-external-mixed", PHD_SEV_ERROR, "values", ext.node, key,
			  "%s is set but %s is true%s: the chart stops with INVALID VALUES; "
			  "to use %s set %s: false",
			  mix[i].external, key, phd_node_get(o->values, key) ? "" : " (the chart default)",
			  mix[i].managed, key);
	}
}

static void rule_legacy(struct ha_sink *s, const struct ha_opts *o)
{
	static const struct {
		const char *key, *why;
	} legacy[] = {
		{ "certManager", "was renamed to cert-manager" },
		{ "beat", "was removed (the beat deployment no longer exists)" },
		{ "clickhouseOperator", "is no longer read" },
		{ "redis.host", "moved to externalRedis.host (with redis.enabled: false)" },
		{ "redis.port", "moved to externalRedis.port" },
		{ "redis.password", "moved to externalRedis.existingSecret / redis.auth" },
		{ "clickhouse.host", "moved to externalClickhouse.host" },
		{ "clickhouse.replication", "was removed (use clickhouse.layout.replicasCount)" },
		{ "clickhouse.useNodeSelector", "was removed (use clickhouse.nodeSelector)" },
		{ "postgresql.postgresqlHost", "moved to externalPostgresql.postgresqlHost" },
		{ "postgresql.postgresqlPort", "moved to externalPostgresql.postgresqlPort" },
	};
	struct ha_val u = V("postgresql.postgresqlUsername");
	size_t i;

	for (i = 0; i < sizeof legacy / sizeof legacy[0]; i++) {
		struct ha_val v = V(legacy[i].key);
		if (ha_val_truthy(v))
			ha_report(s, "posthog-legacy-values", PHD_SEV_ERROR, "values", v.node,
				  legacy[i].key, "%s %s: the chart stops with INVALID VALUES",
				  legacy[i].key, legacy[i].why);
	}
	if (u.s && *u.s && strcmp(u.s, "postgres") != 0)
		ha_report(s, "posthog-legacy-values", PHD_SEV_ERROR, "values", u.node,
			  "postgresql.postgresqlUsername",
			  "postgresql.postgresqlUsername was removed (the in-chart PostgreSQL user is "
			  "always postgres; for RDS use externalPostgresql.postgresqlUsername)");
}

static void rule_plugins(struct ha_sink *s, const struct ha_opts *o)
{
	static const char *const split[] = { "pluginsIngestion", "pluginsExports", "pluginsJobs",
					     "pluginsScheduler" };
	int plugins = enabled(o, "plugins"), async = enabled(o, "pluginsAsync");
	size_t i;

	if (async && !plugins)
		ha_report(s, "posthog-plugins-conflict", PHD_SEV_ERROR, "values",
			  near(o, "pluginsAsync.enabled"), "pluginsAsync.enabled",
			  "pluginsAsync.enabled needs plugins.enabled: the chart stops with INVALID VALUES");
	if (!plugins && !async)
		return;
	for (i = 0; i < sizeof split / sizeof split[0]; i++) {
		char key[64];
		snprintf(key, sizeof key, "%s.enabled", split[i]);
		if (enabled(o, split[i]))
			ha_report(s, "posthog-plugins-conflict", PHD_SEV_ERROR, "values", near(o, key),
				  "plugins.enabled",
				  "%s is true together with %s.enabled%s: the chart runs either the one "
				  "plugin server or the split deployments, and stops with INVALID VALUES; "
				  "set plugins.enabled: false (and pluginsAsync.enabled: false) to split",
				  key, plugins ? "plugins" : "pluginsAsync",
				  plugins && !phd_node_get(o->values, "plugins.enabled") ?
				  " (the chart default)" : "");
	}
}

/* ---- managed services --------------------------------------------------- */

static void need(struct ha_sink *s, const struct ha_opts *o, const char *key, const char *why)
{
	struct ha_val v = V(key);

	if (!ha_val_truthy(v))
		ha_report(s, "posthog-external", PHD_SEV_ERROR, "values", near(o, key), key,
			  "%s is not set: %s", key, why);
}

static void rule_external(struct ha_sink *s, const struct ha_opts *o)
{
	static const struct {
		const char *inchart, *what, *managed, *host;
	} svc[] = {
		{ "postgresql", "PostgreSQL", "RDS", "externalPostgresql.postgresqlHost" },
		{ "redis", "Redis", "ElastiCache", "externalRedis.host" },
		{ "kafka", "Kafka", "MSK", "externalKafka.brokers" },
	};
	size_t i;

	for (i = 0; i < sizeof svc / sizeof svc[0]; i++) {
		char key[64];
		snprintf(key, sizeof key, "%s.enabled", svc[i].inchart);
		if (enabled(o, svc[i].inchart)) {
			/* Mixed settings are reported by posthog-external-mixed. */
			if (!ha_val_truthy(V(svc[i].host)))
				ha_report(s, "posthog-external", PHD_SEV_ERROR, "values", near(o, key),
					  key, "%s runs in the cluster (%s is true%s): a single pod "
					  "without failover; use %s: %s: false and %s",
					  svc[i].what, key,
					  phd_node_get(o->values, key) ? "" : ", the chart default",
					  svc[i].managed, key, svc[i].host);
			continue;
		}
		if (i == 0) {
			need(s, o, "externalPostgresql.postgresqlHost",
			     "the chart fails to render without it (postgresql.enabled is false)");
			need(s, o, "externalPostgresql.postgresqlDatabase",
			     "the chart has no default and PostHog would connect to an empty database name");
			need(s, o, "externalPostgresql.postgresqlUsername",
			     "the chart has no default and PostHog would connect with an empty user");
		} else if (i == 1) {
			need(s, o, "externalRedis.host",
			     "with redis.enabled false the chart renders an empty POSTHOG_REDIS_HOST");
		} else {
			need(s, o, "externalKafka.brokers",
			     "with kafka.enabled false the chart renders an empty KAFKA_HOSTS");
		}
	}
	if (!enabled(o, "clickhouse")) {
		need(s, o, "externalClickhouse.host",
		     "the chart fails to render without it (clickhouse.enabled is false)");
		need(s, o, "externalClickhouse.cluster",
		     "the chart fails to render without it (clickhouse.enabled is false)");
	}
}

/* ---- credentials ---------------------------------------------------------- */

#define SECRET "posthog-existing-secret"

static void inline_password(struct ha_sink *s, const struct ha_opts *o, const char *pw_key,
			    const char *secret_key)
{
	struct ha_val pw = V(pw_key);

	if (pw.node && ha_val_truthy(pw))
		ha_report(s, SECRET, PHD_SEV_ERROR, "values", pw.node, secret_key,
			  "%s holds a password in the values: it ends up in the release, in helm's "
			  "history and in --debug output; put it in a Secret (phdeploy applies it "
			  "first) and set %s", pw_key, secret_key);
}

static void secret_with_key(struct ha_sink *s, const struct ha_opts *o, const char *secret,
			    const char *key, const char *why)
{
	struct ha_val sv = V(secret), kv = V(key);

	if (ha_val_truthy(sv) && !ha_val_truthy(kv))
		ha_report(s, SECRET, PHD_SEV_ERROR, "values", kv.node ? kv.node : sv.node, key,
			  "%s is set but %s is not: %s", secret, key, why);
}

static void rule_secrets(struct ha_sink *s, const struct ha_opts *o)
{
	if (!enabled(o, "postgresql")) {
		inline_password(s, o, "externalPostgresql.postgresqlPassword",
				"externalPostgresql.existingSecret");
		if (!ha_val_truthy(V("externalPostgresql.existingSecret")) &&
		    !ha_val_truthy(V("externalPostgresql.postgresqlPassword")))
			ha_report(s, SECRET, PHD_SEV_ERROR, "values",
				  near(o, "externalPostgresql.existingSecret"),
				  "externalPostgresql.existingSecret",
				  "no credentials for the external PostgreSQL: set "
				  "externalPostgresql.existingSecret (key "
				  "externalPostgresql.existingSecretPasswordKey, default "
				  "postgresql-password)");
	}
	if (!enabled(o, "redis")) {
		inline_password(s, o, "externalRedis.password", "externalRedis.existingSecret");
		secret_with_key(s, o, "externalRedis.existingSecret",
				"externalRedis.existingSecretPasswordKey",
				"the chart has no default key for Redis and fails to render");
	}
	if (enabled(o, "clickhouse")) {
		struct ha_val pw = V("clickhouse.password");
		if (!ha_val_truthy(V("clickhouse.existingSecret"))) {
			if (!pw.node)
				ha_report(s, SECRET, PHD_SEV_ERROR, "values", near(o, "clickhouse"),
					  "clickhouse.existingSecret",
					  "ClickHouse uses the chart's default admin password, which is "
					  "published in the chart's values.yaml: set "
					  "clickhouse.existingSecret and clickhouse.existingSecretPasswordKey");
			else
				inline_password(s, o, "clickhouse.password", "clickhouse.existingSecret");
		}
		secret_with_key(s, o, "clickhouse.existingSecret",
				"clickhouse.existingSecretPasswordKey",
				"the chart requires both and fails to render");
	} else {
		inline_password(s, o, "externalClickhouse.password", "externalClickhouse.existingSecret");
		secret_with_key(s, o, "externalClickhouse.existingSecret",
				"externalClickhouse.existingSecretPasswordKey",
				"the chart requires both and fails to render");
	}
	if (ha_val_truthy(V("email.host")) && !ha_val_truthy(V("email.existingSecret")))
		inline_password(s, o, "email.password", "email.existingSecret");
	if (!ha_val_truthy(V("posthogSecretKey.existingSecret")))
		ha_report(s, SECRET, PHD_SEV_WARN, "values", near(o, "posthogSecretKey.existingSecret"),
			  "posthogSecretKey.existingSecret",
			  "posthogSecretKey.existingSecret is not set: the chart generates Django's "
			  "SECRET_KEY and keeps it only through lookup of its own Secret (helm template "
			  "and plan render a new one each time; losing that Secret logs every user out); "
			  "create the Secret (key posthog-secret) and set posthogSecretKey.existingSecret");
}

/* Literal values for secret-looking variables in an env list. */
static void env_literals(struct ha_sink *s, const char *list_key, const phd_node *env)
{
	size_t i, n = phd_node_type(env) == PHD_NODE_SEQ ? phd_node_len(env) : 0;

	for (i = 0; i < n; i++) {
		const phd_node *e = phd_node_at(env, i);
		const char *name = phd_node_str(phd_node_get(e, "name"));
		const phd_node *val = phd_node_get(e, "value");
		const char *vs = phd_node_str(val);
		if (!name || !vs || !*vs)
			continue;
		if (strcasestr(name, "PASSWORD") || strcasestr(name, "SECRET") ||
		    strcasestr(name, "TOKEN"))
			ha_report(s, SECRET, PHD_SEV_ERROR, "values", val, list_key,
				  "%s: %s has a literal value: use valueFrom.secretKeyRef so the "
				  "value stays in a Secret", list_key, name);
	}
}

static void rule_env_secrets(struct ha_sink *s, const struct ha_opts *o)
{
	size_t i;

	env_literals(s, "env", phd_node_get(o->values, "env"));
	for (i = 0; o->values && i < ha_ncomps; i++) {
		char key[64];
		snprintf(key, sizeof key, "%s.env", ha_comps[i].key);
		env_literals(s, key, phd_node_get(o->values, key));
	}
}

/* ---- cloud and image ------------------------------------------------------- */

static void rule_cloud_image(struct ha_sink *s, const struct ha_opts *o)
{
	struct ha_val cloud = V("cloud"), tag = V("image.tag"), sha = V("image.sha");
	struct ha_val ch = V("clickhouse.image.tag");

	if (!ha_val_truthy(cloud))
		ha_report(s, "posthog-cloud", PHD_SEV_ERROR, "values", near(o, "cloud"), "cloud",
			  "cloud is not set: the chart refuses to render without it (on EKS: cloud: aws)");
	if (!ha_val_truthy(sha)) {
		if (!ha_val_truthy(tag))
			ha_report(s, "image-pinned", PHD_SEV_ERROR, "values", near(o, "image.tag"),
				  "image.tag", "image.tag and image.sha are unset: the chart runs "
				  "posthog/posthog:latest with pullPolicy Always, so pods restarted on "
				  "different days run different releases; pin image.tag (release-1.43.0 "
				  "for this chart) or image.sha");
		else if (strcmp(tag.s ? tag.s : "", "latest") == 0)
			ha_report(s, "image-pinned", PHD_SEV_ERROR, "values", tag.node, "image.tag",
				  "image.tag is latest: pods restarted at different times run different "
				  "releases; pin a release (release-1.43.0 for this chart) or image.sha");
	}
	if (enabled(o, "clickhouse") && ch.s && strcmp(ch.s, "latest") == 0)
		ha_report(s, "image-pinned", PHD_SEV_ERROR, "values", ch.node, "clickhouse.image.tag",
			  "clickhouse.image.tag is latest: a ClickHouse upgrade would happen on a pod "
			  "restart; pin it (22.8.11.15 pairs with PostHog release-1.43.0)");
}

/* ---- ZooKeeper and ClickHouse -------------------------------------------- */

static void zk_name(const struct ha_opts *o, char *buf, size_t n)
{
	char full[80];

	ha_chart_fullname(o, "zookeeper.", "zookeeper", full, sizeof full);
	snprintf(buf, n, "StatefulSet/%s", full);
}

static void rule_zookeeper_clickhouse(struct ha_sink *s, const struct ha_opts *o)
{
	struct ha_val zr = V("zookeeper.replicaCount");
	struct ha_val cr = V("clickhouse.layout.replicasCount");
	long long n;
	char obj[128];
	int rc;

	if (enabled(o, "zookeeper")) {
		zk_name(o, obj, sizeof obj);
		rc = ha_val_int(zr, &n);
		if (rc == PHD_ETYPE)
			ha_report(s, "posthog-zookeeper", PHD_SEV_ERROR, obj, zr.node,
				  "zookeeper.replicaCount", "zookeeper.replicaCount is %s, not a number",
				  show(zr));
		else if (rc == 0 && n < 3)
			ha_report(s, "posthog-zookeeper", PHD_SEV_ERROR, obj, near(o, "zookeeper.replicaCount"),
				  "zookeeper.replicaCount",
				  "zookeeper.replicaCount is %lld%s: ZooKeeper loses its quorum when one "
				  "server goes, and ClickHouse's replicated tables turn read-only; run 3 "
				  "(or 5)", n, zr.node ? "" : " (the chart default)");
		else if (rc == 0 && n % 2 == 0)
			ha_report(s, "posthog-zookeeper", PHD_SEV_ERROR, obj, zr.node,
				  "zookeeper.replicaCount",
				  "zookeeper.replicaCount is %lld: an even ensemble survives no more "
				  "failures than %lld servers do; use an odd count", n, n - 1);
	}
	if (!enabled(o, "clickhouse"))
		return;
	rc = ha_val_int(cr, &n);
	if (rc == PHD_ETYPE)
		ha_report(s, "replicas", PHD_SEV_ERROR, "ClickHouseInstallation/posthog", cr.node,
			  "clickhouse.layout.replicasCount",
			  "clickhouse.layout.replicasCount is %s, not a number", show(cr));
	else if (rc == 0 && n < 2)
		ha_report(s, "replicas", PHD_SEV_ERROR, "ClickHouseInstallation/posthog",
			  near(o, "clickhouse.layout.replicasCount"), "clickhouse.layout.replicasCount",
			  "clickhouse.layout.replicasCount is %lld%s: every event lives on one "
			  "ClickHouse pod and its volume; use 2 or more replicas per shard", n,
			  cr.node ? "" : " (the chart default)");
	else if (rc == 0 && !ha_val_truthy(V("clickhouse.podDistribution")) &&
		 !ha_val_truthy(V("clickhouse.affinity")))
		ha_report(s, "spread", PHD_SEV_WARN, "ClickHouseInstallation/posthog",
			  near(o, "clickhouse.podDistribution"), "clickhouse.podDistribution",
			  "ClickHouse replicas may land on the same node: set clickhouse.podDistribution "
			  "(e.g. type ClickHouseAntiAffinity, topologyKey kubernetes.io/hostname) or "
			  "clickhouse.affinity");
}

/* ---- replicas, PDBs, spread of the PostHog components ------------------ */

static void check_count(struct ha_sink *s, const struct ha_opts *o, const char *obj,
			const char *key, int autoscaled)
{
	struct ha_val v = V(key);
	long long n;
	int rc = ha_val_int(v, &n);

	if (rc == PHD_ETYPE)
		ha_report(s, "replicas", PHD_SEV_ERROR, obj, v.node, key, "%s is %s, not a number",
			  key, show(v));
	else if (rc == PHD_ENOTFOUND)
		ha_report(s, "replicas", PHD_SEV_ERROR, obj, near(o, key), key,
			  "%s is unset (null): Kubernetes runs %s", key,
			  autoscaled == 2 ? "no pod at idle" : "one pod");
	else if (n < o->min_replicas)
		ha_report(s, "replicas", PHD_SEV_ERROR, obj, near(o, key), key,
			  "%s is %lld%s: %s; set it to %lld or more", key, n,
			  v.node ? "" : " (the chart default)",
			  autoscaled ? "the autoscaler can scale down to fewer pods than survive a node loss"
				     : "one pod lost (node drain, crash, rollout) stops the component",
			  o->min_replicas);
}

static void rule_worker(struct ha_sink *s, const struct ha_opts *o, const char *full)
{
	const phd_node *cons = phd_node_get(o->values, "worker.consumers");
	int hpa = ha_val_truthy(V("worker.hpa.enabled"));
	size_t i, n = cons ? phd_node_len(cons) : 1;
	char obj[192], key[96];

	for (i = 0; i < n; i++) {
		const char *name = cons ? phd_node_str(phd_node_get(phd_node_at(cons, i), "name")) : "default";
		snprintf(obj, sizeof obj, "Deployment/%s-worker-%s", full, name ? name : "?");
		snprintf(key, sizeof key, "worker.consumers[%zu].hpa.minpods", i);
		if (hpa && cons && phd_node_get(o->values, key))
			check_count(s, o, obj, key, 1);
		else
			check_count(s, o, obj, hpa ? "worker.hpa.minpods" : "worker.replicacount", hpa);
	}
}

static void rule_components(struct ha_sink *s, const struct ha_opts *o)
{
	char full[80], obj[192], key[96];
	size_t i;

	ha_posthog_fullname(o, full, sizeof full);
	for (i = 0; i < ha_ncomps; i++) {
		const struct ha_comp *c = &ha_comps[i];
		if (c->singleton || !enabled(o, c->key))
			continue;
		if (strcmp(c->key, "worker") == 0) {
			rule_worker(s, o, full);
			continue;
		}
		snprintf(obj, sizeof obj, "Deployment/%s-%s", full, c->role);
		snprintf(key, sizeof key, "%s.keda.enabled", c->key);
		if (c->keda && ha_val_truthy(V(key))) {
			/* KEDA's minReplicaCount defaults to 0. */
			snprintf(key, sizeof key, "%s.keda.config.minReplicaCount", c->key);
			if (!phd_node_get(o->values, key))
				ha_report(s, "replicas", PHD_SEV_ERROR, obj, near(o, key), key,
					  "%s is unset: KEDA scales %s down to no pod at idle; set it to "
					  "%lld or more", key, c->key, o->min_replicas);
			else
				check_count(s, o, obj, key, 2);
		} else {
			snprintf(key, sizeof key, "%s.hpa.enabled", c->key);
			int hpa = ha_val_truthy(V(key));
			snprintf(key, sizeof key, "%s.%s", c->key, hpa ? "hpa.minpods" : "replicacount");
			check_count(s, o, obj, key, hpa);
		}
		if (!c->has_pdb)
			continue;
		snprintf(key, sizeof key, "%s.pdb.enabled", c->key);
		if (!ha_val_truthy(V(key))) {
			/* no budget: drains still go node by node; a broken one is worse */
			ha_report(s, "pdb", PHD_SEV_WARN, obj, near(o, key), key,
				  "%s is false%s: a node drain may evict every %s pod at once; set it "
				  "to true with %s.pdb.maxUnavailable: 1", key,
				  phd_node_get(o->values, key) ? "" : " (the chart default)", c->key, c->key);
			continue;
		}
		snprintf(key, sizeof key, "%s.pdb.maxUnavailable", c->key);
		if (!ha_val_truthy(V(key)) && !(V(key).s && strcmp(V(key).s, "0") == 0))
			ha_report(s, "pdb-policy", PHD_SEV_ERROR, obj, near(o, key), key,
				  "%s is unset (the chart has no default): the chart renders the "
				  "PodDisruptionBudget with neither maxUnavailable nor minAvailable, "
				  "which lets a drain evict every pod: it protects nothing; set it "
				  "(e.g. 1)", key);
		else if (V(key).s && (strcmp(V(key).s, "0") == 0 || strcmp(V(key).s, "0%") == 0))
			ha_report(s, "pdb-policy", PHD_SEV_ERROR, obj, V(key).node, key,
				  "%s is %s: no %s pod can ever be evicted, so every node drain and "
				  "cluster upgrade hangs on it; set it to 1", key, V(key).s, c->key);
	}
}

static void rule_spread(struct ha_sink *s, const struct ha_opts *o)
{
	struct ha_val tsc = V("includeDefaultTopologySpreadConstraints");
	char missing[512] = "";
	size_t i, len = 0;

	if (ha_val_truthy(tsc)) {
		if (o->kube_major == 1 && o->kube_minor > 0 && o->kube_minor < 27)
			ha_report(s, "spread", PHD_SEV_WARN, "values", tsc.node,
				  "includeDefaultTopologySpreadConstraints",
				  "includeDefaultTopologySpreadConstraints uses matchLabelKeys, which "
				  "Kubernetes %d.%d ignores (it needs 1.27): pods are spread without "
				  "regard to rollouts", o->kube_major, o->kube_minor);
	} else {
		for (i = 0; i < ha_ncomps; i++) {
			const struct ha_comp *c = &ha_comps[i];
			if (c->singleton || !enabled(o, c->key) || ha_val_truthy(V(c->affinity)))
				continue;
			len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%s",
						len ? ", " : "", c->key);
			if (len >= sizeof missing)
				break;
		}
		if (len)
			ha_report(s, "spread", PHD_SEV_WARN, "values", near(o,
				  "includeDefaultTopologySpreadConstraints"),
				  "includeDefaultTopologySpreadConstraints",
				  "includeDefaultTopologySpreadConstraints is false and %s have no affinity: "
				  "their replicas may share one node or zone; set "
				  "includeDefaultTopologySpreadConstraints: true (Kubernetes >= 1.27) or "
				  "give each an affinity", missing);
	}
	if (enabled(o, "zookeeper")) {
		struct ha_val p = V("zookeeper.podAntiAffinityPreset");
		if (!ha_val_truthy(p) && !ha_val_truthy(V("zookeeper.affinity")))
			ha_report(s, "spread", PHD_SEV_WARN, "values", near(o, "zookeeper.podAntiAffinityPreset"),
				  "zookeeper.podAntiAffinityPreset",
				  "ZooKeeper has neither podAntiAffinityPreset nor affinity: servers of "
				  "one quorum may share a node; set zookeeper.podAntiAffinityPreset: hard");
	}
}

/* ---- known traps ------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static const phd_node *env_var(const struct ha_opts *o, const char *name)
{
	const phd_node *env = phd_node_get(o->values, "env");
	size_t i, n = phd_node_type(env) == PHD_NODE_SEQ ? phd_node_len(env) : 0;

	for (i = 0; i < n; i++) {
		const phd_node *e = phd_node_at(env, i);
		const char *k = phd_node_str(phd_node_get(e, "name"));
		if (k && strcmp(k, name) == 0)
			return e;
	}
	return NULL;
}

static int env_truthy(const phd_node *e)
{
	const char *v = phd_node_str(phd_node_get(e, "value"));
	static const char *const yes[] = { "1", "true", "yes", "y", "t", "on" };
	size_t i;

	for (i = 0; v && i < sizeof yes / sizeof yes[0]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
	return 0;
}

static void rule_redis_tls(struct ha_sink *s, const struct ha_opts *o)
{
	struct ha_val host = V("externalRedis.host");

	if (enabled(o, "redis") || !host.s || !ends_with(host.s, ".cache.amazonaws.com"))
		return;
	if (!ha_val_truthy(V("externalRedis.existingSecret")) &&
	    !ha_val_truthy(V("externalRedis.password")))
		return;
	ha_report(s, "posthog-redis-tls", PHD_SEV_WARN, "values", host.node, "externalRedis.host",
		  "ElastiCache accepts an AUTH token only with in-transit encryption, and the chart "
		  "speaks no TLS to Redis: PostHog cannot connect to %s with a password unless the "
		  "cluster runs without TLS and without AUTH (then drop externalRedis.existingSecret) "
		  "or a TLS proxy sits in between; the redis preflight check tells which", host.s);
}

static void rule_kafka(struct ha_sink *s, const struct ha_opts *o)
{
	const phd_node *ek = phd_node_get(o->values, "externalKafka");
	const phd_node *brokers = phd_node_get(o->values, "externalKafka.brokers");
	const phd_node *mech = env_var(o, "KAFKA_SASL_MECHANISM");
	const phd_node *proto = env_var(o, "KAFKA_SECURITY_PROTOCOL");
	int tls = ha_val_truthy(V("externalKafka.tls"));
	size_t i, n;

	if (enabled(o, "kafka"))
		return;
	n = phd_node_type(ek) == PHD_NODE_MAP ? phd_node_len(ek) : 0;
	for (i = 0; i < n; i++) {
		const char *k = phd_node_key_at(ek, i);
		if (k && strcmp(k, "brokers") != 0 && strcmp(k, "tls") != 0)
			ha_report(s, "posthog-kafka-sasl", PHD_SEV_ERROR, "values", phd_node_at(ek, i),
				  "env", "the chart ignores externalKafka.%s: it knows only brokers and "
				  "tls; SASL goes through env (KAFKA_SASL_MECHANISM, KAFKA_SASL_USER, "
				  "KAFKA_SASL_PASSWORD from a secretKeyRef, KAFKA_SECURITY_PROTOCOL)", k);
	}
	if (mech && (!env_var(o, "KAFKA_SASL_USER") || !env_var(o, "KAFKA_SASL_PASSWORD")))
		ha_report(s, "posthog-kafka-sasl", PHD_SEV_ERROR, "values", mech, "env",
			  "env sets KAFKA_SASL_MECHANISM without both KAFKA_SASL_USER and "
			  "KAFKA_SASL_PASSWORD");
	if (proto && tls)
		ha_report(s, "posthog-kafka-sasl", PHD_SEV_ERROR, "values", proto, "externalKafka.tls",
			  "env sets KAFKA_SECURITY_PROTOCOL and externalKafka.tls makes the chart set it "
			  "too: the containers get the variable twice (server-side apply rejects "
			  "that); set externalKafka.tls: false and KAFKA_SECURITY_PROTOCOL: SASL_SSL");
	/* MSK's listener ports say which authentication the brokers expect. */
	n = phd_node_type(brokers) == PHD_NODE_SEQ ? phd_node_len(brokers) : 0;
	for (i = 0; i < n; i++) {
		const phd_node *b = phd_node_at(brokers, i);
		const char *hp = phd_node_str(b), *colon;
		if (!hp || !strstr(hp, ".kafka.") || !strstr(hp, ".amazonaws.com") ||
		    !(colon = strrchr(hp, ':')))
			continue;
		if (strcmp(colon, ":9098") == 0)
			ha_report(s, "posthog-kafka-msk", PHD_SEV_ERROR, "values", b, "externalKafka.brokers",
				  "%s is MSK's IAM listener: PostHog cannot authenticate with IAM; enable "
				  "TLS (9094) or SASL/SCRAM (9096) on the cluster", hp);
		else if (strcmp(colon, ":9096") == 0 && !mech)
			ha_report(s, "posthog-kafka-msk", PHD_SEV_ERROR, "values", b, "env",
				  "%s is MSK's SASL/SCRAM listener but env has no KAFKA_SASL_MECHANISM "
				  "(SCRAM-SHA-512) with KAFKA_SASL_USER/PASSWORD", hp);
		else if (strcmp(colon, ":9094") == 0 && !tls && !proto)
			ha_report(s, "posthog-kafka-msk", PHD_SEV_ERROR, "values", b, "externalKafka.tls",
				  "%s is MSK's TLS listener but externalKafka.tls is false", hp);
		else if (strcmp(colon, ":9092") == 0 && tls)
			ha_report(s, "posthog-kafka-msk", PHD_SEV_ERROR, "values", b, "externalKafka.tls",
				  "%s is MSK's plaintext listener but externalKafka.tls is true", hp);
		else
			continue;
		break;  /* one finding for the list is enough */
	}
}

/* The chart's components against RDS, which forces TLS from PostgreSQL 15:
 * the postgres check knows whether this server does and makes it an error. */
static void rule_postgres_tls(struct ha_sink *s, const struct ha_opts *o)
{
	struct phd_cv_plain who[4];
	size_t i, n = phd_cv_pg_plaintext(o->values, who, sizeof who / sizeof who[0]);

	for (i = 0; i < n; i++)
		ha_report(s, "posthog-postgres-tls", PHD_SEV_WARN, "values", who[i].where,
			  who[i].key, "%s connects to the external PostgreSQL without TLS: %s; RDS "
			  "for PostgreSQL 15+ refuses unencrypted connections (rds.force_ssl=1), "
			  "which the postgres preflight check finds out and then fails on", who[i].who,
			  who[i].why);
}

static void rule_version_check(struct ha_sink *s, const struct ha_opts *o)
{
	const phd_node *e = env_var(o, "SKIP_SERVICE_VERSION_REQUIREMENTS");

	if (enabled(o, "postgresql") && enabled(o, "redis"))
		return;
	if (e && env_truthy(e))
		return;
	ha_report(s, "posthog-version-check", PHD_SEV_ERROR, "values",
		  e ? e : near(o, "env"), "env",
		  "PostHog refuses PostgreSQL above 14.1 and Redis above 6.3 at start-up, and every "
		  "RDS/ElastiCache engine created today is newer: the migrate Job fails and helm "
		  "waits until its timeout; add env: [{name: SKIP_SERVICE_VERSION_REQUIREMENTS, "
		  "value: \"1\"}]");
}

void ha_values_check(struct ha_sink *s, const struct ha_opts *o)
{
	ha_schema_check(s, o);
	rule_mixed(s, o);
	rule_legacy(s, o);
	rule_plugins(s, o);
	rule_external(s, o);
	rule_secrets(s, o);
	rule_env_secrets(s, o);
	rule_cloud_image(s, o);
	rule_zookeeper_clickhouse(s, o);
	rule_components(s, o);
	rule_spread(s, o);
	rule_redis_tls(s, o);
	rule_kafka(s, o);
	rule_postgres_tls(s, o);
	rule_version_check(s, o);
}
