/* The ha plugin's rule code, linked directly: its helpers, and each rule
 * made to fire and kept quiet at its default severity (no `rules:`, no
 * exemptions: those are the core's, tested through the pipeline in ha-t).
 * YAML trees come from the library's own loader (a values file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "chart.h"
#include "exempt.h"
#include "ha.h"
#include "ha-util.h"
#include "tap/tap.h"

/* ---- a sink that keeps what the rules say ------------------------------ */

struct coll {
	struct ha_sink sink;
	struct hfs l;
};

static void keep(struct ha_sink *s, const char *rule, int sev, const char *object,
		 const phd_node *where, const char *key, const char *msg)
{
	struct coll *c = (struct coll *)s;

	hfs_add(&c->l, rule, sev, object, key, where ? phd_node_file(where) : NULL,
		where ? phd_node_line(where) : 0, msg);
}

/* Load yaml as a values file: the library's parser gives positioned nodes. */
static phd_ctx *load(const char *name, const char *yaml, const phd_node **root)
{
	struct phd_options opts = PHD_OPTIONS_INIT;
	char *path = tap_write_file(name, yaml, strlen(yaml));
	const char *vals[1];
	phd_ctx *ctx = NULL;

	vals[0] = path;
	opts.flags = PHD_OPT_NO_CONFIG | PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	opts.values = vals;
	opts.nvalues = 1;
	opts.plugin_path = "/nonexistent";
	if (phd_ctx_new(&ctx, &opts) < 0 || phd_ctx_load(ctx) < 0) {
		tap_diag("load %s: %s", name, ctx ? phd_ctx_errmsg(ctx) : "no memory");
		*root = NULL;
	} else {
		*root = phd_ctx_values(ctx);
	}
	free(path);
	return ctx;
}

static void opts_init(struct ha_opts *o, const phd_node *values)
{
	memset(o, 0, sizeof *o);
	o->values = values;
	o->release = "posthog";
	o->namespace_ = "posthog";
	o->kube_major = 1;
	o->kube_minor = 29;
	o->min_replicas = 2;
	/* the schema rules run as they do for the example's pinned chart */
	o->chart_version = "30.46.0";
}

/* Returns -1 when the YAML did not load (a quiet rule must not pass then). */
static int values_rules(struct coll *c, const char *yaml)
{
	const phd_node *root;
	phd_ctx *ctx = load("values.yaml", yaml, &root);
	struct ha_opts o;

	memset(c, 0, sizeof *c);
	c->sink.report = keep;
	opts_init(&o, root);
	if (root)
		ha_values_check(&c->sink, &o);
	phd_ctx_free(ctx);
	return root ? 0 : -1;
}

/* The documents are the items of `docs:` in a YAML file. */
static int manifest_rules(struct coll *c, const char *yaml, int live, int minor)
{
	const phd_node *root, *docs;
	phd_ctx *ctx = load("docs.yaml", yaml, &root);
	const phd_node **v;
	struct ha_opts o;
	size_t i, n;
	int rc = -1;

	memset(c, 0, sizeof *c);
	c->sink.report = keep;
	opts_init(&o, NULL);
	o.kube_minor = minor;
	if (minor == 0)
		o.kube_major = 0;
	docs = root ? phd_node_get(root, "docs") : NULL;
	if (!docs)
		return -1;
	n = phd_node_len(docs);
	v = calloc(n ? n : 1, sizeof *v);
	for (i = 0; v && i < n; i++)
		v[i] = phd_node_at(docs, i);
	if (v)
		rc = ha_manifest_check(&c->sink, &o, v, n, live);
	free(v);
	phd_ctx_free(ctx);
	return rc;
}

/* ---- helpers ---------------------------------------------------------------- */

static void test_helpers(void)
{
	int rin = 0;
	const char *use = NULL;
	struct ha_index *ix = ha_index_new(4);
	size_t it, v, seen = 0, i;
	char key[32];

	tap_ok(ha_image_unpinned("posthog/posthog:latest") && ha_image_unpinned("busybox") &&
		  ha_image_unpinned("localhost:5000/app") && ha_image_unpinned("x:"),
		  "latest, no tag, a registry port without tag, an empty tag are unpinned");
	tap_ok(!ha_image_unpinned("posthog/posthog:release-1.43.0") &&
		  !ha_image_unpinned("localhost:5000/app:1.2") &&
		  !ha_image_unpinned("posthog/posthog@sha256:20af35fca6756d689d6705911a49dd6f2f6631e001ad43377b605cfc7c133eb4") &&
		  !ha_image_unpinned("app:latest@sha256:abc"),
		  "tags and digests are pinned");

	tap_ok(ha_removed_api("policy/v1beta1", "PodDisruptionBudget", &rin, &use) && rin == 25 &&
		  strcmp(use, "policy/v1") == 0, "policy/v1beta1 PDB: removed in 1.25, use policy/v1");
	tap_ok(ha_removed_api("storage.k8s.io/v1beta1", "CSIStorageCapacity", &rin, &use) && rin == 27 &&
		  ha_removed_api("storage.k8s.io/v1beta1", "StorageClass", &rin, &use) && rin == 22,
		  "a kind listed before its group's wildcard wins");
	tap_ok(!ha_removed_api("policy/v1", "PodDisruptionBudget", &rin, &use) &&
		  !ha_removed_api("apps/v1", "Deployment", &rin, &use),
		  "current APIs are not in the table");

	for (i = 0; ix && i < 1000; i++) {
		snprintf(key, sizeof key, "k%zu", i % 100);
		ha_index_add(ix, key, i);
	}
	for (it = 0; ha_index_next(ix, "k7", &it, &v);)
		seen += v % 100 == 7;
	tap_is_int((long long)seen, 10, "the index returns every value stored under a key");
	it = 0;
	tap_ok(!ha_index_next(ix, "nope", &it, &v), "an absent key has no value");
	ha_index_free(ix);

	tap_ok(ha_rule_known("replicas") && ha_rule_known("posthog-existing-secret") &&
		  !ha_rule_known("replica"), "rule ids are known, typos are not");
}

/* ---- values rules ------------------------------------------------------------ */

static void test_defaults(void)
{
	struct coll c;

	values_rules(&c, "cloud: aws\n");
	tap_is_int((long long)hfs_count(&c.l, "posthog-external", NULL, PHD_SEV_ERROR), 3,
		   "defaults: PostgreSQL, Redis and Kafka in the cluster are posthog-external errors");
	tap_ok(hfs_count(&c.l, "posthog-existing-secret", NULL, PHD_SEV_ERROR) == 1 &&
		  strstr(hfs_find(&c.l, "posthog-existing-secret", NULL)->msg, "published"),
		  "defaults: ClickHouse's published default password is an error");
	tap_is_int((long long)hfs_count(&c.l, "posthog-existing-secret", NULL, PHD_SEV_WARN), 1,
		   "defaults: a generated posthogSecretKey is a warning");
	tap_is_int((long long)hfs_count(&c.l, "image-pinned", NULL, PHD_SEV_ERROR), 1,
		   "defaults: posthog/posthog:latest is an image-pinned error");
	tap_is_int((long long)hfs_count(&c.l, "posthog-zookeeper", "StatefulSet/posthog-posthog-zookeeper",
					PHD_SEV_ERROR), 1, "defaults: one ZooKeeper server is an error");
	tap_is_int((long long)hfs_count(&c.l, "replicas", NULL, PHD_SEV_ERROR), 6,
		   "defaults: ClickHouse and web, events, worker, plugins, pgbouncer at 1 replica");
	tap_ok(hfs_count(&c.l, "replicas", "Deployment/posthog-worker-default", -1) == 1 &&
		  hfs_count(&c.l, "replicas", "ClickHouseInstallation/posthog", -1) == 1,
		  "defaults: replicas findings name the chart's objects");
	tap_ok(hfs_count(&c.l, "pdb", "Deployment/posthog-web", PHD_SEV_WARN) == 1 &&
		  hfs_count(&c.l, "pdb", "Deployment/posthog-events", PHD_SEV_WARN) == 1 &&
		  hfs_count(&c.l, "pdb", NULL, -1) == 2,
		  "defaults: web and events without a PDB are pdb warnings (decide is disabled)");
	tap_is_int((long long)hfs_count(&c.l, "spread", NULL, PHD_SEV_WARN), 1,
		   "defaults: no spread constraints is one spread warning");
	tap_ok(!hfs_count(&c.l, "posthog-cloud", NULL, -1) &&
		  !hfs_count(&c.l, "posthog-version-check", NULL, -1),
		  "defaults: cloud is set; in-chart services need no version override");
	tap_is_int((long long)c.l.n, 16, "defaults: nothing else");
	if (c.l.n != 16)
		hfs_dump(&c.l, "defaults");
	hfs_clear(&c.l);
}

static void test_example(void)
{
	struct coll c;
	char *yaml = tap_slurp(ha_src("examples/values.yaml"), NULL);

	if (!yaml) {
		tap_skip(2, "examples/values.yaml not readable");
		return;
	}
	tap_ok(values_rules(&c, yaml) == 0 && hfs_at_sev(&c.l, PHD_SEV_ERROR) == 0,
		  "examples/values.yaml: loads, no error");
	tap_ok(c.l.n == 1 && hfs_count(&c.l, "posthog-redis-tls", NULL, PHD_SEV_WARN) == 1,
		  "examples/values.yaml: only the ElastiCache AUTH/TLS warning");
	hfs_dump(&c.l, "examples/values.yaml");
	free(yaml);
	hfs_clear(&c.l);
}

/* A values file that passes, to which each case adds or overrides. */
#define GOOD \
	"cloud: aws\n" \
	"image: { tag: release-1.43.0 }\n" \
	"posthogSecretKey: { existingSecret: posthog-secret }\n" \
	"env: [ { name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: \"1\" } ]\n" \
	"includeDefaultTopologySpreadConstraints: true\n" \
	"postgresql: { enabled: false }\n" \
	"externalPostgresql: { postgresqlHost: db, postgresqlDatabase: posthog, postgresqlUsername: u, existingSecret: pg }\n" \
	"redis: { enabled: false }\n" \
	"externalRedis: { host: redis }\n" \
	"kafka: { enabled: false }\n" \
	"externalKafka: { brokers: [ \"k1:9092\" ] }\n" \
	"zookeeper: { replicaCount: 3 }\n" \
	"clickhouse: { existingSecret: ch, existingSecretPasswordKey: admin-password, layout: { replicasCount: 2 }, podDistribution: [ { type: ClickHouseAntiAffinity } ] }\n" \
	"web: { hpa: { enabled: true, minpods: 2 }, pdb: { enabled: true, maxUnavailable: 1 } }\n" \
	"events: { replicacount: 2, pdb: { enabled: true, maxUnavailable: 1 } }\n" \
	"worker: { replicacount: 2 }\n" \
	"plugins: { replicacount: 2 }\n" \
	"pgbouncer: { replicacount: 3 }\n"

/* Whether the top-level key of GOOD's line l is set by one of lines. */
static int overridden(const char *l, const char *lines)
{
	size_t klen = strcspn(l, ":");
	const char *p;

	for (p = lines; *p; p += strcspn(p, "\n"), p += *p == '\n')
		if (strncmp(p, l, klen) == 0 && p[klen] == ':')
			return 1;
	return 0;
}

/* GOOD with the top-level keys of lines replaced by them. */
static char *with(const char *lines)
{
	const char *l = GOOD;
	char *out = malloc(strlen(GOOD) + strlen(lines) + 2), *p = out;

	while (*l) {
		size_t n = strcspn(l, "\n") + 1;
		if (!overridden(l, lines)) {
			memcpy(p, l, n);
			p += n;
		}
		l += n;
	}
	sprintf(p, "%s\n", lines);
	return out;
}

/* fires: the rule reports at sev (and object when given); quiet: the GOOD
 * file alone says nothing under it. */
static void fires(const char *rule, int sev, const char *object, const char *line, const char *what)
{
	struct coll c;
	char *y = with(line);

	values_rules(&c, y);
	if (!tap_ok(hfs_count(&c.l, rule, object, sev) >= 1, "%s fires: %s", rule, what))
		hfs_dump(&c.l, what);
	hfs_clear(&c.l);
	free(y);
}

static void quiet(const char *rule, const char *line, const char *what)
{
	struct coll c;
	char *y = with(line);
	int rc = values_rules(&c, y);

	if (!tap_ok(rc == 0 && hfs_count(&c.l, rule, NULL, -1) == 0, "%s quiet: %s", rule, what))
		hfs_dump(&c.l, what);
	hfs_clear(&c.l);
	free(y);
}

static void test_values_rules(void)
{
	struct coll c;
	const struct hf *f;

	if (!tap_ok(values_rules(&c, GOOD) == 0 && c.l.n == 0, "the reference values say nothing"))
		hfs_dump(&c.l, "GOOD");
	hfs_clear(&c.l);

	static const struct vcase {
		int fire;
		const char *rule;
		int sev;
		const char *object, *yaml, *what;
	} cases[] = {
		{ 1, "posthog-external-mixed", PHD_SEV_ERROR, "values",
		  "postgresql: { enabled: true }",
		  "externalPostgresql host with postgresql.enabled" },
		{ 1, "posthog-external-mixed", PHD_SEV_ERROR, "values",
		  "kafka: { }",
		  "brokers with kafka.enabled left at its default" },
		{ 0, "posthog-external-mixed", 0, NULL,
		  "externalClickhouse: { host: null }",
		  "no external ClickHouse" },
		{ 1, "posthog-external", PHD_SEV_ERROR, NULL,
		  "redis: { enabled: true }\nexternalRedis: {}",
		  "in-chart Redis" },
		{ 1, "posthog-external", PHD_SEV_ERROR, NULL,
		  "externalPostgresql: { existingSecret: pg }",
		  "RDS without a host" },
		{ 0, "posthog-external", 0, NULL,
		  "kafka: { enabled: false }",
		  "all external" },
		{ 1, "posthog-legacy-values", PHD_SEV_ERROR, NULL,
		  "certManager: true",
		  "certManager" },
		{ 1, "posthog-legacy-values", PHD_SEV_ERROR, NULL,
		  "redis: { enabled: false, host: old }",
		  "redis.host" },
		{ 0, "posthog-legacy-values", 0, NULL,
		  "beat: null",
		  "beat null" },
		{ 1, "posthog-plugins-conflict", PHD_SEV_ERROR, NULL,
		  "pluginsIngestion: { enabled: true }",
		  "split plugins with plugins.enabled default" },
		{ 1, "posthog-plugins-conflict", PHD_SEV_ERROR, NULL,
		  "pluginsAsync: { enabled: true }\nplugins: { enabled: false }",
		  "pluginsAsync alone" },
		{ 0, "posthog-plugins-conflict", 0, NULL,
		  "plugins: { enabled: false }\npluginsIngestion: { enabled: true, replicacount: 2 }",
		  "split plugins without the single one" },
		{ 1, "posthog-existing-secret", PHD_SEV_ERROR, NULL,
		  "externalPostgresql: { postgresqlHost: db, postgresqlDatabase: p, postgresqlUsername: u, postgresqlPassword: hunter2 }",
		  "inline PostgreSQL password" },
		{ 1, "posthog-existing-secret", PHD_SEV_ERROR, NULL,
		  "externalRedis: { host: r, existingSecret: posthog-redis }",
		  "Redis existingSecret without its key (no chart default)" },
		{ 1, "posthog-existing-secret", PHD_SEV_ERROR, NULL,
		  "clickhouse: { existingSecret: ch, layout: { replicasCount: 2 }, podDistribution: [ {type: ClickHouseAntiAffinity} ] }",
		  "ClickHouse existingSecret without its key" },
		{ 1, "posthog-existing-secret", PHD_SEV_ERROR, NULL,
		  "env: [ { name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: \"1\" }, { name: KAFKA_SASL_PASSWORD, value: s3cret } ]",
		  "a literal password in env" },
		{ 0, "posthog-existing-secret", 0, NULL,
		  "externalRedis: { host: r, existingSecret: posthog-redis, existingSecretPasswordKey: redis-password }",
		  "Redis secret and key" },
		{ 1, "posthog-cloud", PHD_SEV_ERROR, NULL,
		  "cloud: null",
		  "cloud null" },
		{ 0, "posthog-cloud", 0, NULL,
		  "cloud: aws",
		  "cloud aws" },
		{ 1, "image-pinned", PHD_SEV_ERROR, NULL,
		  "image: { tag: latest }",
		  "tag latest" },
		{ 1, "image-pinned", PHD_SEV_ERROR, NULL,
		  "image: { }",
		  "no tag" },
		{ 0, "image-pinned", 0, NULL,
		  "image: { sha: \"sha256:20af35fca6756d689d6705911a49dd6f2f6631e001ad43377b605cfc7c133eb4\" }",
		  "a digest" },
		{ 1, "posthog-zookeeper", PHD_SEV_ERROR, "StatefulSet/posthog-posthog-zookeeper",
		  "zookeeper: { replicaCount: 4 }",
		  "an even ensemble" },
		{ 1, "posthog-zookeeper", PHD_SEV_ERROR, NULL,
		  "zookeeper: { replicaCount: two }",
		  "not a number" },
		{ 0, "posthog-zookeeper", 0, NULL,
		  "zookeeper: { replicaCount: 5 }",
		  "five servers" },
		{ 1, "replicas", PHD_SEV_ERROR, "Deployment/posthog-web",
		  "web: { hpa: { enabled: true, minpods: 1 }, pdb: { enabled: true, maxUnavailable: 1 } }",
		  "web HPA minpods 1" },
		{ 1, "replicas", PHD_SEV_ERROR, "Deployment/posthog-worker-fast",
		  "worker: { hpa: { enabled: true, minpods: 3 }, consumers: [ { name: default }, { name: fast, hpa: { minpods: 1 } } ] }",
		  "a worker consumer's own minpods" },
		{ 1, "replicas", PHD_SEV_ERROR, "ClickHouseInstallation/posthog",
		  "clickhouse: { existingSecret: ch, existingSecretPasswordKey: k }",
		  "one ClickHouse replica" },
		{ 1, "replicas", PHD_SEV_ERROR, "Deployment/posthog-recordings-ingestion",
		  "recordingsIngestion: { enabled: true, keda: { enabled: true } }",
		  "KEDA without minReplicaCount" },
		{ 0, "replicas", 0, NULL,
		  "decide: { enabled: true, replicacount: 2 }",
		  "decide at 2" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "Deployment/posthog-web",
		  "web: { replicacount: 2, pdb: { enabled: true } }",
		  "PDB without maxUnavailable protects nothing" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "Deployment/posthog-web",
		  "web: { replicacount: 2, pdb: { enabled: true, maxUnavailable: 0 } }",
		  "PDB with maxUnavailable 0 blocks drains" },
		{ 0, "pdb", 0, NULL,
		  "decide: { enabled: true, replicacount: 2 }",
		  "decide's PDB is on with maxUnavailable 1 by default" },
		{ 0, "pdb-policy", 0, NULL,
		  "web: { replicacount: 2, pdb: { enabled: true, maxUnavailable: 1 } }",
		  "web's PDB with maxUnavailable 1" },
		{ 1, "spread", PHD_SEV_WARN, NULL,
		  "includeDefaultTopologySpreadConstraints: false",
		  "no spread constraints, no affinity" },
		{ 1, "spread", PHD_SEV_WARN, "ClickHouseInstallation/posthog",
		  "clickhouse: { existingSecret: ch, existingSecretPasswordKey: k, layout: { replicasCount: 2 } }",
		  "ClickHouse replicas without podDistribution" },
		{ 0, "spread", 0, NULL,
		  "zookeeper: { replicaCount: 3, podAntiAffinityPreset: hard }",
		  "hard anti-affinity" },
		{ 1, "posthog-redis-tls", PHD_SEV_WARN, NULL,
		  "externalRedis: { host: a.b.ng.0001.euw1.cache.amazonaws.com, existingSecret: r, existingSecretPasswordKey: k }",
		  "ElastiCache with AUTH" },
		{ 0, "posthog-redis-tls", 0, NULL,
		  "externalRedis: { host: a.b.ng.0001.euw1.cache.amazonaws.com }",
		  "ElastiCache without AUTH" },
		{ 1, "posthog-kafka-sasl", PHD_SEV_ERROR, NULL,
		  "externalKafka: { brokers: [ \"k:9092\" ], sasl: { user: x } }",
		  "externalKafka.sasl" },
		{ 1, "posthog-kafka-sasl", PHD_SEV_ERROR, NULL,
		  "env: [ { name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: \"1\" }, { name: KAFKA_SASL_MECHANISM, value: SCRAM-SHA-512 } ]",
		  "a mechanism without user and password" },
		{ 0, "posthog-kafka-sasl", 0, NULL,
		  "externalKafka: { brokers: [ \"k:9094\" ], tls: true }",
		  "TLS only" },
		{ 1, "posthog-kafka-msk", PHD_SEV_ERROR, NULL,
		  "externalKafka: { brokers: [ \"b-1.x.c2.kafka.eu-west-1.amazonaws.com:9098\" ], tls: true }",
		  "MSK IAM port" },
		{ 1, "posthog-kafka-msk", PHD_SEV_ERROR, NULL,
		  "externalKafka: { brokers: [ \"b-1.x.c2.kafka.eu-west-1.amazonaws.com:9094\" ] }",
		  "MSK TLS port without tls" },
		{ 0, "posthog-kafka-msk", 0, NULL,
		  "externalKafka: { brokers: [ \"b-1.x.c2.kafka.eu-west-1.amazonaws.com:9094\" ], tls: true }",
		  "MSK TLS port with tls" },
		{ 1, "posthog-version-check", PHD_SEV_ERROR, NULL,
		  "env: []",
		  "no override" },
		{ 1, "posthog-version-check", PHD_SEV_ERROR, NULL,
		  "env: [ { name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: \"0\" } ]",
		  "override 0" },
		{ 0, "posthog-version-check", 0, NULL,
		  "env: [ { name: SKIP_SERVICE_VERSION_REQUIREMENTS, value: \"true\" } ]",
		  "override true" },
		{ 1, "posthog-postgres-tls", PHD_SEV_WARN, "values",
		  "pgbouncer: { env: [ { name: PGBOUNCER_PORT, value: \"6543\" }, { name: PGBOUNCER_SERVER_TLS_SSLMODE, value: disable } ] }",
		  "PgBouncer told not to use TLS to RDS" },
		{ 0, "posthog-postgres-tls", 0, NULL,
		  "pgbouncer: { env: [ { name: PGBOUNCER_PORT, value: \"6543\" }, { name: PGBOUNCER_SERVER_TLS_SSLMODE, value: require } ] }",
		  "PgBouncer requiring TLS" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct vcase *k = &cases[i];
		if (k->fire)
			fires(k->rule, k->sev, k->object, k->yaml, k->what);
		else
			quiet(k->rule, k->yaml, k->what);
	}


	/* Positions: the finding points at the line that produced it. */
	values_rules(&c, "cloud: aws\n"
			 "zookeeper:\n"
			 "  replicaCount: 2\n");
	f = hfs_find(&c.l, "posthog-zookeeper", NULL);
	tap_ok(f && f->line == 3 && f->file && strstr(f->file, "values.yaml") &&
		  f->key && strcmp(f->key, "zookeeper.replicaCount") == 0,
		  "a values finding names values.yaml:3 and the key zookeeper.replicaCount");
	f = hfs_find(&c.l, "replicas", "Deployment/posthog-web");
	tap_ok(f && f->key && strcmp(f->key, "web.replicacount") == 0 && strstr(f->msg, "chart default"),
		  "an absent key: the chart default is named, with the key to set");
	hfs_clear(&c.l);

	values_rules(&c, "cloud: aws\nfullnameOverride: ph\nweb: { replicacount: 1 }\n");
	tap_ok(hfs_count(&c.l, "replicas", "Deployment/ph-web", -1) == 1,
		  "fullnameOverride renames the objects the findings name");
	hfs_clear(&c.l);

	values_rules(&c, "cloud: aws\nweb:\n  pdb:\n    enabled: true\n    maxUnavailable: null\n");
	f = hfs_find(&c.l, "pdb-policy", "Deployment/posthog-web");
	tap_ok(f && f->key && strcmp(f->key, "web.pdb.maxUnavailable") == 0,
		  "a key set to null has no value (helm deletes it)");
	hfs_clear(&c.l);
}

/* ---- manifest rules ------------------------------------------------------ */

#define DEP(name, extra_spec, extra_pod, container) \
	"- apiVersion: apps/v1\n  kind: Deployment\n  metadata: { name: " name " }\n" \
	"  spec:\n    selector: { matchLabels: { app: " name " } }\n" extra_spec \
	"    template:\n      metadata: { labels: { app: " name ", tier: x } }\n" \
	"      spec:\n" extra_pod "        containers:\n" container

#define GOOD_C \
	"        - name: c\n          image: app:1.0\n" \
	"          readinessProbe: { httpGet: { path: /, port: 80 } }\n" \
	"          livenessProbe: { httpGet: { path: /, port: 80 } }\n" \
	"          resources: { requests: { cpu: 100m, memory: 64Mi } }\n"

/* every DEP's pods carry tier: x: the constraint spreads the workload's own pods */
#define SPREAD "        topologySpreadConstraints: [ { maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: { matchLabels: { tier: x } } } ]\n"

#define PDB(name, sel, extra) \
	"- apiVersion: policy/v1\n  kind: PodDisruptionBudget\n  metadata: { name: " name " }\n" \
	"  spec: { " extra "selector: " sel " }\n"

static void mfires(const char *rule, int sev, const char *object, const char *docs, int minor,
		   const char *what)
{
	struct coll c;

	manifest_rules(&c, docs, 0, minor);
	if (!tap_ok(hfs_count(&c.l, rule, object, sev) >= 1, "%s fires: %s", rule, what))
		hfs_dump(&c.l, what);
	hfs_clear(&c.l);
}

static void mquiet(const char *rule, const char *docs, int minor, const char *what)
{
	struct coll c;
	int rc = manifest_rules(&c, docs, 0, minor);

	if (!tap_ok(rc == 0 && hfs_count(&c.l, rule, NULL, -1) == 0, "%s quiet: %s", rule, what))
		hfs_dump(&c.l, what);
	hfs_clear(&c.l);
}

static void test_manifest_rules(void)
{
	static const char good[] = "docs:\n"
		DEP("a", "    replicas: 3\n", SPREAD, GOOD_C)
		PDB("a", "{ matchLabels: { app: a } }", "maxUnavailable: 1, ");
	struct coll c;

	if (!tap_ok(manifest_rules(&c, good, 0, 29) == 0 && c.l.n == 0,
		    "a replicated, probed, budgeted, spread Deployment passes"))
		hfs_dump(&c.l, "good");
	hfs_clear(&c.l);

	static const struct mcase {
		int fire;
		const char *rule;
		int sev;
		const char *object;
		int minor;
		const char *docs, *what;
	} cases[] = {
		{ 1, "replicas", PHD_SEV_ERROR, "Deployment/a", 29,
		  "docs:\n" DEP("a", "", "", GOOD_C),
		  "replicas unset" },
		{ 1, "replicas", PHD_SEV_ERROR, "Deployment/a", 29,
		  "docs:\n" DEP("a", "    replicas: 5\n", SPREAD, GOOD_C)
		  "- apiVersion: autoscaling/v2\n  kind: HorizontalPodAutoscaler\n  metadata: { name: h }\n"
		  "  spec: { scaleTargetRef: { kind: Deployment, name: a }, maxReplicas: 4 }\n",
		  "an HPA without minReplicas (1) overrides replicas 5" },
		{ 1, "replicas", PHD_SEV_ERROR, "Deployment/a", 29,
		  "docs:\n" DEP("a", "", SPREAD, GOOD_C)
		  "- apiVersion: keda.sh/v1alpha1\n  kind: ScaledObject\n  metadata: { name: k }\n"
		  "  spec: { scaleTargetRef: { name: a } }\n",
		  "a ScaledObject scales to zero" },
		{ 1, "replicas", PHD_SEV_ERROR, "ClickHouseInstallation/chi", 29,
		  "docs:\n- apiVersion: clickhouse.altinity.com/v1\n  kind: ClickHouseInstallation\n"
		  "  metadata: { name: chi }\n  spec: { configuration: { clusters: [ { name: c, layout: { shardsCount: 1 } } ] } }\n",
		  "a ClickHouse cluster with one replica" },
		{ 0, "replicas", 0, NULL, 29,
		  "docs:\n" DEP("a", "", SPREAD, GOOD_C)
		  "- apiVersion: autoscaling/v2\n  kind: HorizontalPodAutoscaler\n  metadata: { name: h }\n"
		  "  spec: { scaleTargetRef: { kind: Deployment, name: a }, minReplicas: 2, maxReplicas: 4 }\n"
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 1, "),
		  "an HPA with minReplicas 2" },
		{ 1, "probes", PHD_SEV_ERROR, "Deployment/a/c", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD,
			    "        - { name: c, image: app:1, readinessProbe: { exec: { command: [ \"true\" ] } } }\n"),
		  "no livenessProbe" },
		{ 0, "probes", 0, NULL, 29,
		  "docs:\n- apiVersion: batch/v1\n  kind: Job\n  metadata: { name: j }\n"
		  "  spec: { template: { spec: { containers: [ { name: c, image: app:1 } ] } } }\n"
		  "- apiVersion: batch/v1\n  kind: CronJob\n  metadata: { name: cj }\n"
		  "  spec: { schedule: \"* * * * *\", jobTemplate: { spec: { template: { spec: { containers: [ { name: c, image: app:1 } ] } } } } }\n"
		  DEP("a", "    replicas: 2\n", SPREAD
		   "        initContainers: [ { name: init, image: busybox:1.34 } ]\n", GOOD_C),
		  "Jobs, CronJobs and init containers need no probes" },
		{ 1, "pdb", PHD_SEV_WARN, "Deployment/a", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD, GOOD_C)
		  PDB("other", "{ matchLabels: { app: b } }", "maxUnavailable: 1, "),
		  "a PDB for other pods" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "PodDisruptionBudget/p", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD, GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 0, "),
		  "maxUnavailable 0 blocks drains" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "PodDisruptionBudget/p", 29,
		  "docs:\n" DEP("a", "    replicas: 1\n", "", GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "minAvailable: 1, "),
		  "minAvailable 1 on one replica blocks every drain" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "PodDisruptionBudget/p", 29,
		  "docs:\n" DEP("a", "    replicas: 1\n", "", GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "minAvailable: 50%, "),
		  "minAvailable 50% of one replica rounds up to 1 and blocks drains" },
		{ 0, "pdb-policy", 0, NULL, 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD, GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "minAvailable: 50%, "),
		  "minAvailable 50% of two replicas lets one go" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "PodDisruptionBudget/p", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD, GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", ""),
		  "a PDB with neither field protects nothing" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "PodDisruptionBudget/p", 29,
		  "docs:\n" DEP("a", "    replicas: 3\n", SPREAD, GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 3, "),
		  "maxUnavailable at the replica count protects nothing" },
		{ 1, "pdb-policy", PHD_SEV_ERROR, "PodDisruptionBudget/stale", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD, GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 1, ")
		  PDB("stale", "{ matchLabels: { app: renamed } }", "maxUnavailable: 1, "),
		  "a PDB that selects no workload's pods" },
		{ 1, "pdb", PHD_SEV_WARN, "Deployment/a", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD, GOOD_C)
		  "- apiVersion: policy/v1\n  kind: PodDisruptionBudget\n  metadata: { name: p, namespace: elsewhere }\n"
		  "  spec: { maxUnavailable: 1, selector: { matchLabels: { app: a } } }\n",
		  "a PDB in another namespace" },
		{ 0, "pdb", 0, NULL, 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD, GOOD_C)
		  PDB("p", "{ matchExpressions: [ { key: tier, operator: In, values: [ x, y ] } ] }",
		   "minAvailable: 1, "),
		  "a PDB selecting by expression" },
		{ 0, "pdb", 0, NULL, 29,
		  "docs:\n" DEP("a", "    replicas: 1\n", "", GOOD_C),
		  "a single pod needs no PDB (replicas says it)" },
		{ 1, "spread", PHD_SEV_WARN, "Deployment/a", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", "", GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 1, "),
		  "no anti-affinity, no spread constraints" },
		{ 0, "spread", 0, NULL, 29,
		  "docs:\n" DEP("a", "    replicas: 2\n",
			    "        affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [ { weight: 1, podAffinityTerm: { topologyKey: kubernetes.io/hostname, labelSelector: { matchLabels: { app: a } } } } ] } }\n",
			    GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 1, "),
		  "anti-affinity against its own pods" },
		{ 1, "spread", PHD_SEV_WARN, "Deployment/a", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n",
			    "        affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [ { topologyKey: kubernetes.io/hostname, labelSelector: { matchLabels: { app: b } } } ] } }\n",
			    GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 1, "),
		  "anti-affinity against another workload's pods does not spread these" },
		{ 1, "spread", PHD_SEV_WARN, "Deployment/a", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n",
			    "        topologySpreadConstraints: [ { maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule } ]\n",
			    GOOD_C)
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 1, "),
		  "a spread constraint without labelSelector counts no pod" },
		{ 1, "resources", PHD_SEV_WARN, "Deployment/a/c", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD,
			    "        - { name: c, image: app:1, readinessProbe: {exec: {command: [x]}}, livenessProbe: {exec: {command: [x]}}, resources: { requests: { cpu: 1 } } }\n"),
		  "no memory request" },
		{ 0, "resources", 0, NULL, 29,
		  good,
		  "cpu and memory requests" },
		{ 0, "resources", 0, NULL, 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD,
			    "        - { name: c, image: app:1, readinessProbe: {exec: {command: [x]}}, livenessProbe: {exec: {command: [x]}}, resources: { limits: { cpu: 1, memory: 1Gi } } }\n")
		  PDB("p", "{ matchLabels: { app: a } }", "maxUnavailable: 1, "),
		  "limits without requests: Kubernetes requests the limits" },
		{ 1, "resources", PHD_SEV_WARN, "Deployment/a/c", 29,
		  "docs:\n" DEP("a", "    replicas: 2\n", SPREAD,
			    "        - { name: c, image: app:1, readinessProbe: {exec: {command: [x]}}, livenessProbe: {exec: {command: [x]}}, resources: { limits: { cpu: 1 } } }\n"),
		  "a cpu limit and no memory request or limit" },
		{ 1, "image-pinned", PHD_SEV_WARN, "Job/j/c", 29,
		  "docs:\n- apiVersion: batch/v1\n  kind: Job\n  metadata: { name: j }\n"
		  "  spec: { template: { spec: { containers: [ { name: c, image: \"app:latest\" } ] } } }\n",
		  "a Job's latest image" },
		{ 0, "image-pinned", 0, NULL, 29,
		  good,
		  "a tagged image" },
		{ 1, "removed-api", PHD_SEV_ERROR, "PodDisruptionBudget/p", 29,
		  "docs:\n- apiVersion: policy/v1beta1\n  kind: PodDisruptionBudget\n  metadata: { name: p }\n"
		  "  spec: { maxUnavailable: 1, selector: { matchLabels: { app: a } } }\n",
		  "policy/v1beta1 on 1.29" },
		{ 1, "removed-api", PHD_SEV_ERROR, "HorizontalPodAutoscaler/h", 0,
		  "docs:\n- apiVersion: autoscaling/v2beta2\n  kind: HorizontalPodAutoscaler\n  metadata: { name: h }\n"
		  "  spec: { scaleTargetRef: { name: a }, maxReplicas: 2 }\n",
		  "autoscaling/v2beta2 with no kube.version (a current cluster)" },
		{ 0, "removed-api", 0, NULL, 24,
		  "docs:\n- apiVersion: policy/v1beta1\n  kind: PodDisruptionBudget\n  metadata: { name: p }\n"
		  "  spec: { maxUnavailable: 1, selector: { matchLabels: { app: a } } }\n"
		  "- apiVersion: autoscaling/v2beta2\n  kind: HorizontalPodAutoscaler\n  metadata: { name: h }\n"
		  "  spec: { scaleTargetRef: { name: a }, maxReplicas: 2 }\n",
		  "the same APIs on 1.24" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct mcase *k = &cases[i];
		if (k->fire)
			mfires(k->rule, k->sev, k->object, k->docs, k->minor, k->what);
		else
			mquiet(k->rule, k->docs, k->minor, k->what);
	}
}

static void test_malformed(void)
{
	struct coll c;
	int rc;
	const struct hf *f;

	rc = manifest_rules(&c, "docs:\n"
			    "- just a string\n"
			    "- [ 1, 2 ]\n"
			    "- null\n"
			    "- { kind: Deployment }\n"
			    "- { apiVersion: apps/v1, kind: Deployment, metadata: { name: nospec } }\n"
			    "- { apiVersion: apps/v1, kind: Deployment, metadata: { name: r }, spec: { replicas: two, template: { spec: { containers: [ { name: c, image: a:1 } ] } } } }\n"
			    "- { apiVersion: apps/v1, kind: Deployment, metadata: { name: cs }, spec: { template: { spec: { containers: { name: c } } } } }\n"
			    "- { apiVersion: apps/v1, kind: StatefulSet, metadata: { name: t }, spec: { template: [] } }\n"
			    "- { apiVersion: apps/v1, kind: Deployment, metadata: [ x ] }\n"
			    "- { apiVersion: apps/v1, kind: Deployment, metadata: { name: l }, spec: { selector: x, template: { metadata: { labels: [ a ] }, spec: { containers: [ { name: c, image: a:1 } ] } } } }\n",
			    0, 29);
	tap_is_int(rc, 0, "malformed documents: the check completes");
	tap_is_int((long long)hfs_count(&c.l, "manifest", NULL, PHD_SEV_ERROR), 9,
		   "malformed documents: nine positioned manifest errors, the null document skipped");
	f = hfs_find(&c.l, "manifest", "Deployment/r");
	tap_ok(f && f->line == 7 && strstr(f->msg, "two"), "spec.replicas: two is named at its line");
	f = hfs_find(&c.l, "manifest", "Deployment/nospec");
	tap_ok(f && f->line == 6 && strstr(f->msg, "spec is missing"), "a missing spec is named");
	tap_ok(hfs_count(&c.l, "manifest", "document", -1) == 3, "scalar, list and kindless documents");
	if (c.l.n != 9)
		hfs_dump(&c.l, "malformed");
	hfs_clear(&c.l);
}

static void test_live(void)
{
	static const char live[] = "docs:\n"
		"- { kind: Node, apiVersion: v1, metadata: { name: n1, labels: { topology.kubernetes.io/zone: a } } }\n"
		"- { kind: Node, apiVersion: v1, metadata: { name: n2, labels: { topology.kubernetes.io/zone: a } } }\n"
		"- { kind: Node, apiVersion: v1, metadata: { name: n3, labels: { topology.kubernetes.io/zone: b } } }\n"
		DEP("one", "    replicas: 2\n", SPREAD, GOOD_C)
		"  status: { availableReplicas: 2 }\n"
		DEP("zone", "    replicas: 2\n", SPREAD, GOOD_C)
		"  status: { availableReplicas: 2 }\n"
		DEP("ok", "    replicas: 2\n", SPREAD, GOOD_C)
		"  status: { availableReplicas: 2 }\n"
		DEP("slow", "    replicas: 3\n", SPREAD, GOOD_C)
		"  status: { readyReplicas: 1 }\n"
		PDB("p", "{ }", "maxUnavailable: 1, ")
#define POD(n, app, node) \
		"- { kind: Pod, apiVersion: v1, metadata: { name: " n ", namespace: posthog, labels: { app: " app " }, " \
		"ownerReferences: [ { kind: ReplicaSet, name: rs, controller: true } ] }, " \
		"spec: { nodeName: " node ", containers: [ { name: c, image: \"app:latest\" } ] }, status: { phase: Running } }\n"
		POD("one-1", "one", "n1") POD("one-2", "one", "n1")
		POD("zone-1", "zone", "n1") POD("zone-2", "zone", "n2")
		POD("ok-1", "ok", "n1") POD("ok-2", "ok", "n3")
		"- { kind: Pod, apiVersion: v1, metadata: { name: gone, labels: { app: ok } }, spec: { nodeName: n1, containers: [ { name: c, image: a:1 } ] }, status: { phase: Succeeded } }\n";
	struct coll c;

	manifest_rules(&c, live, 1, 29);
	tap_ok(hfs_count(&c.l, "rollout", "Deployment/slow", PHD_SEV_ERROR) == 1 &&
		  strstr(hfs_find(&c.l, "rollout", "Deployment/slow")->msg, "1 of 3"),
		  "live: 1 of 3 ready replicas is a rollout error");
	tap_is_int((long long)hfs_count(&c.l, "rollout", NULL, -1), 1, "live: the others are rolled out");
	tap_is_int((long long)hfs_count(&c.l, "spread", "Deployment/one", PHD_SEV_ERROR), 1,
		   "live: two pods on one node is a spread error");
	tap_is_int((long long)hfs_count(&c.l, "spread", "Deployment/zone", PHD_SEV_WARN), 1,
		   "live: two nodes in one zone, with another zone available, is a warning");
	tap_is_int((long long)hfs_count(&c.l, "spread", "Deployment/ok", -1), 0,
		   "live: pods in two zones pass");
	tap_is_int((long long)hfs_count(&c.l, "image-pinned", NULL, -1), 0,
		   "live: pods owned by a controller are checked through their owner");
	hfs_clear(&c.l);
}

int main(void)
{
	test_helpers();
	test_defaults();
	test_example();
	test_values_rules();
	test_manifest_rules();
	test_malformed();
	test_live();
	return tap_done();
}
