/* kafka: the MSK preflight check.  Bootstraps from externalKafka.brokers
 * with the security settings the values imply, then proves what PostHog
 * needs from the cluster: enough brokers, every one answering, spread over
 * racks (AZs), and PostHog's topics present or auto-created.
 * See phdeploy-kafka(7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "depcheck.h"
#include "kafka.h"

#define DEFAULT_MIN_BROKERS 2
#define DEFAULT_MIN_RACKS 2

/* Topics PostHog's apps and ClickHouse's Kafka tables read and write; the
 * chart's own values (alerts, KEDA triggers) name several of them.
 * KAFKA_PREFIX from the values' env is put in front of each. */
static const char *const posthog_topics[] = {
	"clickhouse_events_json", "clickhouse_person", "clickhouse_person_distinct_id",
	"clickhouse_groups", "clickhouse_ingestion_warnings", "clickhouse_app_metrics",
	"clickhouse_session_recording_events", "plugin_log_entries",
	"events_dead_letter_queue", "events_plugin_ingestion",
	"events_plugin_ingestion_overflow", "session_recording_events", "jobs",
	"scheduled_tasks",
};

static int config_int(struct phd_dc *r, const char *key, long long dflt, long long lo,
		      long long *out)
{
	const phd_node *n = phd_node_get(phd_check_config(r->chk), key);

	*out = dflt;
	if (!n)
		return 0;
	if (phd_node_int(n, out) != 0 || *out < lo) {
		phd_dc_note(r, PHD_SEV_ERROR, "%s:%u:%u: checks.kafka.%s must be an integer >= %lld",
		     phd_node_file(n) ? phd_node_file(n) : "config", phd_node_line(n),
		     phd_node_column(n), key, lo);
		return PHD_ETYPE;
	}
	return 0;
}

static int config_topics(struct phd_dc *r)
{
	const phd_node *n = phd_node_get(phd_check_config(r->chk), "topics");
	size_t i;

	for (i = 0; n && i < phd_node_len(n) && phd_node_type(n) == PHD_NODE_SEQ; i++)
		if (!phd_node_str(phd_node_at(n, i)))
			break;
	if (!n || (phd_node_type(n) == PHD_NODE_SEQ && i == phd_node_len(n)))
		return 0;
	phd_dc_note(r, PHD_SEV_ERROR, "%s:%u:%u: checks.kafka.topics must be a list of topic names",
	     phd_node_file(n) ? phd_node_file(n) : "config", phd_node_line(n), phd_node_column(n));
	return PHD_ETYPE;
}

/* Why a bootstrap failed, in the operator's terms. */
static const char *hint(const struct kafka_target *t, const char *msg)
{
	if (strstr(msg, "PLAINTEXT broker listener"))
		return "the values ask for TLS but the broker answers in plaintext: point "
		       "externalKafka.brokers at the TLS listener (MSK: port 9094, SASL/SCRAM "
		       "9096) or set externalKafka.tls: false";
	if (strstr(msg, "SSL listener") || (strcmp(t->protocol, "PLAINTEXT") == 0 &&
					     strstr(msg, "Disconnected")))
		return "the broker may expect TLS: set externalKafka.tls: true (MSK plaintext "
		       "is port 9092, TLS 9094)";
	if (strstr(msg, "certificate verify failed"))
		return "the broker's certificate is not trusted: set checks.kafka.ca_file";
	if (strstr(msg, "SASL") || strstr(msg, "uthentication"))
		return "check KAFKA_SASL_MECHANISM (MSK: SCRAM-SHA-512), KAFKA_SASL_USER and "
		       "the password's secret";
	if (strstr(msg, "deadline"))
		return "no broker answered in time: check security groups and the "
		       "addresses, or raise checks.kafka.timeout";
	return "check the broker addresses and the network path from here";
}

static void report_brokers(struct phd_dc *r, const struct kafka_cluster *c)
{
	int i;

	for (i = 0; i < c->nbrokers; i++) {
		const struct kafka_broker *b = &c->broker[i];
		char rack[KAFKA_RACK_MAX + 16];

		snprintf(rack, sizeof rack, "%s%s", b->rack_known ? (b->rack[0] ? "rack " : "no rack")
								  : "rack unknown",
			 b->rack_known ? b->rack : "");
		if (b->reachable)
			phd_dc_note(r, PHD_SEV_INFO, "broker %d %s:%d, %s", b->id, b->host, b->port, rack);
		else
			phd_dc_note(r, PHD_SEV_ERROR, "broker %d %s:%d (%s) does not answer: %s", b->id,
			     b->host, b->port, rack, b->error);
	}
}

/* Distinct non-empty racks, listed into out; -1 when any broker's rack is
 * unknown or unset, since the spread is then unproven. */
static int count_racks(const struct kafka_cluster *c, char *out, size_t sz)
{
	int i, j, n = 0, unknown = 0;
	size_t len = 0;

	out[0] = '\0';
	for (i = 0; i < c->nbrokers; i++) {
		const struct kafka_broker *b = &c->broker[i];
		if (!b->rack_known || !b->rack[0]) {
			unknown = 1;
			continue;
		}
		for (j = 0; j < i; j++)
			if (strcmp(c->broker[j].rack, b->rack) == 0)
				break;
		if (j < i)
			continue;
		n++;
		if (len < sz)
			len += (size_t)snprintf(out + len, sz - len, "%s%s", n > 1 ? ", " : "",
						b->rack);
	}
	return unknown ? -1 : n;
}

static int check_racks(struct phd_dc *r, const struct kafka_cluster *c, long long min_racks,
		       char *racks, size_t sz)
{
	int n = count_racks(c, racks, sz);

	if (min_racks <= 1)
		return n;
	if (n < 0)
		phd_dc_note(r, PHD_SEV_WARN,
		     "the brokers' racks (AZs) are not all known, so the spread over %lld AZs "
		     "is unproven: %s%s%s", min_racks,
		     c->racks_error[0] ? c->racks_error : "brokers report no broker.rack",
		     c->configs_error[0] ? "; DescribeConfigs: " : "", c->configs_error);
	else if (n < min_racks)
		phd_dc_note(r, PHD_SEV_ERROR,
		     "all %d brokers are in %d rack(s) (%s): one AZ outage stops PostHog's "
		     "ingestion; create the MSK cluster across at least %lld AZs "
		     "(checks.kafka.min_racks)", c->nbrokers, n, racks, min_racks);
	return n;
}

static int has_topic(const struct kafka_cluster *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ntopics; i++)
		if (strcmp(c->topics[i], name) == 0)
			return 1;
	return 0;
}

/* Returns the number of expected topics; *missing counts the absent ones. */
static size_t check_topics(struct phd_dc *r, const struct kafka_target *t,
			   const struct kafka_cluster *c, size_t *missing)
{
	const phd_node *list = phd_node_get(phd_check_config(r->chk), "topics");
	size_t i, n = list ? phd_node_len(list) : sizeof posthog_topics / sizeof *posthog_topics;
	char names[700] = "", name[320];
	size_t len = 0;

	*missing = 0;
	for (i = 0; i < n; i++) {
		const char *base = list ? phd_node_str(phd_node_at(list, i)) : posthog_topics[i];
		if (!base)
			continue;
		snprintf(name, sizeof name, "%s%s", list ? "" : t->prefix, base);
		if (has_topic(c, name))
			continue;
		/* name them all while they fit; "..." says some did not */
		if (++*missing > 1 && len + 2 + strlen(name) + 5 >= sizeof names) {
			if (len + 5 < sizeof names && !strstr(names, ", ..."))
				len += (size_t)snprintf(names + len, sizeof names - len, ", ...");
			continue;
		}
		len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
					*missing > 1 ? ", " : "", name);
	}
	if (*missing == 0)
		return n;
	if (c->autocreate == KAFKA_AC_ON)
		phd_dc_note(r, PHD_SEV_INFO,
		     "%zu of %zu PostHog topics do not exist yet (%s); broker %d has "
		     "auto.create.topics.enable=true, so they are created on first use with the "
		     "broker's default partitions and replication", *missing, n, names,
		     c->autocreate_broker);
	else if (c->autocreate == KAFKA_AC_OFF)
		phd_dc_note(r, PHD_SEV_ERROR,
		     "%zu of %zu PostHog topics are missing (%s) and broker %d has "
		     "auto.create.topics.enable=false (the MSK default); PostHog does not create "
		     "them: create them or enable auto-creation in the MSK configuration",
		     *missing, n, names, c->autocreate_broker);
	else
		phd_dc_note(r, PHD_SEV_ERROR,
		     "%zu of %zu PostHog topics are missing (%s) and whether the brokers create "
		     "topics could not be read (%s); MSK's default is "
		     "auto.create.topics.enable=false: create the topics or enable auto-creation",
		     *missing, n, names, c->configs_error[0] ? c->configs_error : "no answer");
	return n;
}

static int check_kafka(phd_check *chk, void *userdata)
{
	struct phd_dc r;
	struct kafka_target t;
	struct kafka_cluster c;
	long long min_brokers, min_racks;
	char msg[KAFKA_MSG_MAX] = "", racks[256];
	size_t ntopics, missing;
	int rc, nracks;

	(void)userdata;
	phd_dc_init(&r, chk, "kafka");
	/* On bad input no summary: the core shows the first error instead. */
	if ((rc = kafka_target_read(chk, &t)) != 0) {
		kafka_target_clear(&t);
		return rc;
	}
	if (config_int(&r, "min_brokers", DEFAULT_MIN_BROKERS, 1, &min_brokers) ||
	    config_int(&r, "min_racks", DEFAULT_MIN_RACKS, 0, &min_racks) || config_topics(&r)) {
		kafka_target_clear(&t);
		return PHD_ETYPE;
	}
	phd_dc_set_endpoint(&r, "externalKafka.brokers", NULL, t.brokers);
	for (size_t i = 0; i < phd_node_len(t.brokers); i++)
		phd_dc_add_host(&r, phd_node_str(phd_node_at(t.brokers, i)));
	/* phd_dc_init kept a slice of the budget to report in, so the core
	 * never has to kill us: the operator then reads our reason. */
	rc = kafka_client_run(chk, &t, r.deadline, &c, msg, sizeof msg);
	if (rc != 0) {
		char at[300];
		phd_dc_note(&r, PHD_SEV_ERROR, "bootstrap %s over %s (%s): %s; %s", t.bootstrap,
		     t.protocol, t.protocol_from, msg, hint(&t, msg));
		phd_check_summary(chk, "cannot bootstrap from %s over %s: %s; %s [the endpoint is "
				  "externalKafka.brokers (%s)]", t.bootstrap, t.protocol, msg,
				  hint(&t, msg), phd_dc_at(t.brokers, at, sizeof at));
		kafka_cluster_clear(&c);
		kafka_target_clear(&t);
		return rc;
	}
	if (c.nbrokers < min_brokers)
		phd_dc_note(&r, PHD_SEV_ERROR,
		     "the cluster has %d broker(s), fewer than checks.kafka.min_brokers (%lld): a "
		     "broker restart (MSK patching) stops ingestion", c.nbrokers, min_brokers);
	nracks = check_racks(&r, &c, min_racks, racks, sizeof racks);
	report_brokers(&r, &c);
	ntopics = check_topics(&r, &t, &c, &missing);

	if (nracks < 0)
		snprintf(msg, sizeof msg, "racks unknown");
	else
		snprintf(msg, sizeof msg, "%d rack(s) (%s)", nracks, racks);
	phd_check_summary(chk, "%d broker(s) over %s, %s, %zu/%zu PostHog topics present%s%s%s",
			  c.nbrokers, t.protocol, msg, ntopics - missing, ntopics,
			  r.errors ? "; " : "", r.first, r.errors > 1 ? " (and more errors)" : "");
	kafka_cluster_clear(&c);
	kafka_target_clear(&t);
	return r.errors ? PHD_EFAILED : 0;
}

/* The check is named like the plugin ("kafka", reading checks.kafka).  An
 * application that adds the same init under another plugin name gets one
 * more independent check; the bench runs N of them that way. */
static const struct phd_config_key kafka_keys[] = {
	{ "min_brokers", PHD_CFG_INT, 0, NULL, "brokers the cluster must have (default 3)" },
	{ "min_racks", PHD_CFG_INT, 0, NULL, "racks (AZs) the brokers must span" },
	{ "topics", PHD_CFG_LIST, 0, NULL, "topics that must exist" },
	{ "ca_file", PHD_CFG_STRING, 0, NULL, "CA bundle for TLS" },
	PHD_CONFIG_END
};

static int kafka_init(phd_plugin *p, const phd_node *config)
{
	char scope[80];
	int rc;
	(void)config;
	snprintf(scope, sizeof scope, "checks.%s", phd_plugin_name(p));
	if ((rc = phd_plugin_declare_config(p, scope, kafka_keys)))
		return rc;
	return phd_register_check(p, phd_plugin_name(p), check_kafka, NULL, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("kafka", "2.0", kafka_init, NULL);
