/* Internals of the kafka check plugin (MSK preflight).  Not installed. */
#ifndef PHD_PLUGIN_KAFKA_H
#define PHD_PLUGIN_KAFKA_H

#include <stddef.h>

#include <phdeploy/plugin.h>

#define KAFKA_MAX_BROKERS 64
#define KAFKA_HOST_MAX 256
#define KAFKA_RACK_MAX 128
#define KAFKA_MSG_MAX 512

/* What the values say about the external Kafka (MSK) cluster. */
struct kafka_target {
	char *bootstrap;         /* "h1:p1,h2:p2" (malloc'd) */
	const phd_node *brokers; /* externalKafka.brokers, for positions */
	char protocol[16];       /* PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL */
	char protocol_from[96];  /* "values.yaml:12:5" or "externalKafka.tls" */
	char mechanism[32];      /* KAFKA_SASL_MECHANISM or "" */
	char *user;              /* KAFKA_SASL_USER (malloc'd) or NULL */
	char *password;          /* malloc'd, wiped on free; NULL when absent */
	size_t password_len;
	char prefix[64];         /* KAFKA_PREFIX */
	const char *ca_file;     /* checks.kafka.ca_file (borrowed) or NULL */
};

/* Fill t from the values.  Returns 0, PHD_EIGNORE when there is no
 * external Kafka to check, or a negative code after an ERROR note. */
int kafka_target_read(phd_check *chk, struct kafka_target *t);
void kafka_target_clear(struct kafka_target *t);

/* One broker as the cluster describes it. */
struct kafka_broker {
	int id;
	char host[KAFKA_HOST_MAX];
	int port;
	char rack[KAFKA_RACK_MAX];   /* "" when unknown or unset */
	int rack_known;              /* rack read (possibly empty = no rack) */
	int reachable;               /* 1 yes, 0 no answer, -1 not tried */
	char error[KAFKA_MSG_MAX];   /* why unreachable */
};

enum kafka_autocreate { KAFKA_AC_UNKNOWN = -1, KAFKA_AC_OFF = 0, KAFKA_AC_ON = 1 };

struct kafka_cluster {
	struct kafka_broker broker[KAFKA_MAX_BROKERS];
	int nbrokers;
	int autocreate;              /* enum kafka_autocreate */
	int autocreate_broker;       /* which broker said so */
	char configs_error[KAFKA_MSG_MAX]; /* why DescribeConfigs told nothing */
	char racks_error[KAFKA_MSG_MAX];   /* why the wire probe told nothing */
	char **topics;               /* existing topics (malloc'd) */
	size_t ntopics;
};

/* librdkafka: bootstrap, metadata, per-broker DescribeConfigs, and the
 * racks over the wire (kafka_wire_racks) meanwhile.  Returns 0
 * or a negative code with msg set (NUL-terminated, one line). */
int kafka_client_run(phd_check *chk, const struct kafka_target *t, long long deadline_ms,
		     struct kafka_cluster *out, char *msg, size_t msgsz);
void kafka_cluster_clear(struct kafka_cluster *c);

/* Ask one broker for its Metadata over our own connection to learn the
 * racks, which librdkafka 2.0 does not expose.  PLAINTEXT or SSL only.
 * Fills rack/rack_known of matching brokers.  0 or -1 with msg set. */
int kafka_wire_racks(const struct kafka_target *t, const char *host, int port,
		     long long deadline_ms, struct kafka_cluster *c, char *msg, size_t msgsz);

/* The parsers of the two answers, on a response body after its size
 * field (for the fuzz target).  The highest usable Metadata version or
 * -1; 0 or -1 (malformed) with the racks of c's brokers filled. */
int kafka_wire_read_versions(const unsigned char *p, size_t len);
int kafka_wire_read_metadata(const unsigned char *p, size_t len, int ver,
			     struct kafka_cluster *c);

#endif
