/* The librdkafka side of the kafka check: bootstrap with the values'
 * security settings, read the cluster metadata, then ask every broker for
 * its configuration (which proves it answers, and tells broker.rack and
 * auto.create.topics.enable where the cluster allows DescribeConfigs). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "deadline.h"
#include "kafka.h"

#define FAIL_LINES 16

/* Shared with librdkafka's threads (log callback): guarded by mu. */
struct session {
	pthread_mutex_t mu;
	char fatal[KAFKA_MSG_MAX];       /* a TLS/SASL failure: retrying is futile */
	char fail[FAIL_LINES][KAFKA_MSG_MAX];
	unsigned nfail;
};

static int is_fatal(const char *s)
{
	return strstr(s, "SSL handshake failed") || strstr(s, "SASL authentication") ||
	       strstr(s, "Authentication failed") || strstr(s, "SASL handshake failed") ||
	       strstr(s, "Unsupported SASL mechanism");
}

/* librdkafka logs from its own threads; a plugin never prints, so keep
 * the warnings for our messages and drop the rest. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct session *s = rd_kafka_opaque(rk);

	(void)fac;
	if (!s || level > 4)
		return;
	if (buf[0] == '[' && strstr(buf, "]: "))    /* "[thrd:...]: " says nothing */
		buf = strstr(buf, "]: ") + 3;
	pthread_mutex_lock(&s->mu);
	snprintf(s->fail[s->nfail++ % FAIL_LINES], KAFKA_MSG_MAX, "%s", buf);
	if (!s->fatal[0] && is_fatal(buf))
		snprintf(s->fatal, sizeof s->fatal, "%s", buf);
	pthread_mutex_unlock(&s->mu);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct session *s = opaque;

	(void)rk;
	pthread_mutex_lock(&s->mu);
	snprintf(s->fail[s->nfail++ % FAIL_LINES], KAFKA_MSG_MAX, "%s", reason);
	if (!s->fatal[0] && (err == RD_KAFKA_RESP_ERR__SSL ||
			     err == RD_KAFKA_RESP_ERR__AUTHENTICATION || is_fatal(reason)))
		snprintf(s->fatal, sizeof s->fatal, "%s", reason);
	pthread_mutex_unlock(&s->mu);
}

/* The newest logged failure mentioning needle ("" for any); "N/N brokers
 * are down" only when nothing says why.  0 when there is none. */
static int last_fail(struct session *s, const char *needle, char *out, size_t sz)
{
	unsigned i;
	int found = 0;

	pthread_mutex_lock(&s->mu);
	for (i = s->nfail; i > 0 && i + FAIL_LINES > s->nfail; i--) {
		const char *line = s->fail[(i - 1) % FAIL_LINES];
		if (!strstr(line, needle) || (found && strstr(line, "brokers are down")))
			continue;
		snprintf(out, sz, "%s", line);
		if (found++ || !strstr(line, "brokers are down"))
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v, char *msg, size_t sz)
{
	char err[256];

	if (rd_kafka_conf_set(conf, k, v, err, sizeof err) == RD_KAFKA_CONF_OK)
		return 0;
	snprintf(msg, sz, "librdkafka refused %s: %s", k, err);
	return -1;
}

static int set_ms(rd_kafka_conf_t *conf, const char *k, long long ms, long long lo,
		  long long hi, char *msg, size_t sz)
{
	char v[24];

	snprintf(v, sizeof v, "%lld", ms < lo ? lo : ms > hi ? hi : ms);
	return set(conf, k, v, msg, sz);
}

static rd_kafka_t *open_client(const struct kafka_target *t, struct session *s,
			       long long left, char *msg, size_t sz)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	char err[256];

	if (set(conf, "bootstrap.servers", t->bootstrap, msg, sz) ||
	    set(conf, "security.protocol", t->protocol, msg, sz) ||
	    set(conf, "client.id", "phdeploy-preflight", msg, sz) ||
	    set(conf, "log_level", "4", msg, sz) ||
	    set(conf, "reconnect.backoff.ms", "100", msg, sz) ||
	    set(conf, "reconnect.backoff.max.ms", "1000", msg, sz) ||
	    /* every wait inside librdkafka ends with the check's deadline */
	    set_ms(conf, "socket.connection.setup.timeout.ms", left, 1000, 2147483647, msg, sz) ||
	    set_ms(conf, "socket.timeout.ms", left, 10, 300000, msg, sz) ||
	    set_ms(conf, "api.version.request.timeout.ms", left, 10, 300000, msg, sz) ||
	    (t->ca_file && set(conf, "ssl.ca.location", t->ca_file, msg, sz)) ||
	    (t->mechanism[0] && set(conf, "sasl.mechanism", t->mechanism, msg, sz)) ||
	    (t->user && set(conf, "sasl.username", t->user, msg, sz)) ||
	    (t->password && set(conf, "sasl.password", t->password, msg, sz))) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	/* rd_kafka_new owns conf only when it succeeds */
	if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err))) {
		snprintf(msg, sz, "librdkafka: %s", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

static int fatal_seen(struct session *s, char *out, size_t sz)
{
	int f;

	pthread_mutex_lock(&s->mu);
	f = s->fatal[0] != 0;
	if (f)
		snprintf(out, sz, "%s", s->fatal);
	pthread_mutex_unlock(&s->mu);
	return f;
}

/* Metadata with growing timeouts, so that a TLS or SASL failure ends the
 * check at once instead of at its deadline, while a slow broker still
 * gets the whole budget on the last try. */
static int read_metadata(rd_kafka_t *rk, struct session *s, long long deadline,
			 const rd_kafka_metadata_t **md, char *msg, size_t sz)
{
	long long step = 1000, left;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
	char why[KAFKA_MSG_MAX];

	while ((left = phd_dl_left_ms(deadline)) > 0) {
		err = rd_kafka_metadata(rk, 1, NULL, md, (int)(left < step ? left : step));
		if (!err)
			return 0;
		rd_kafka_poll(rk, 0);
		if (fatal_seen(s, why, sizeof why)) {
			snprintf(msg, sz, "%s", why);
			return PHD_EFAILED;
		}
		step *= 2;
	}
	if (last_fail(s, "", why, sizeof why))
		snprintf(msg, sz, "no metadata before the deadline (%s); last error: %s",
			 rd_kafka_err2str(err), why);
	else
		snprintf(msg, sz, "no metadata before the deadline (%s)", rd_kafka_err2str(err));
	return PHD_ETIMEOUT;
}

static int copy_metadata(const rd_kafka_metadata_t *md, struct kafka_cluster *c)
{
	int i;

	for (i = 0; i < md->broker_cnt && c->nbrokers < KAFKA_MAX_BROKERS; i++) {
		struct kafka_broker *b = &c->broker[c->nbrokers++];
		b->id = md->brokers[i].id;
		snprintf(b->host, sizeof b->host, "%s", md->brokers[i].host);
		b->port = md->brokers[i].port;
		b->reachable = -1;
	}
	if (md->topic_cnt > 0 && !(c->topics = calloc((size_t)md->topic_cnt, sizeof *c->topics)))
		return PHD_ENOMEM;
	for (i = 0; i < md->topic_cnt; i++) {
		if (md->topics[i].err)
			continue;
		if (!(c->topics[c->ntopics] = strdup(md->topics[i].topic)))
			return PHD_ENOMEM;
		c->ntopics++;
	}
	return 0;
}

static void take_configs(const rd_kafka_ConfigResource_t *res, struct kafka_cluster *c,
			 struct kafka_broker *b)
{
	const rd_kafka_ConfigEntry_t **e;
	size_t i, n;

	e = rd_kafka_ConfigResource_configs(res, &n);
	for (i = 0; i < n; i++) {
		const char *k = rd_kafka_ConfigEntry_name(e[i]);
		const char *v = rd_kafka_ConfigEntry_value(e[i]);
		if (strcmp(k, "broker.rack") == 0) {
			snprintf(b->rack, sizeof b->rack, "%s", v ? v : "");
			b->rack_known = 1;
		} else if (strcmp(k, "auto.create.topics.enable") == 0 && v &&
			   c->autocreate == KAFKA_AC_UNKNOWN) {
			c->autocreate = strcmp(v, "true") == 0 ? KAFKA_AC_ON : KAFKA_AC_OFF;
			c->autocreate_broker = b->id;
		}
	}
	if (!b->rack_known) {
		b->rack_known = 1; /* described, and no broker.rack set */
		b->rack[0] = '\0';
	}
}

static void take_result(rd_kafka_event_t *ev, struct kafka_cluster *c, struct session *s)
{
	struct kafka_broker *b = &c->broker[(intptr_t)rd_kafka_event_opaque(ev)];
	const rd_kafka_DescribeConfigs_result_t *r = rd_kafka_event_DescribeConfigs_result(ev);
	const rd_kafka_ConfigResource_t **res = NULL;
	rd_kafka_resp_err_t err = rd_kafka_event_error(ev);
	const char *es = rd_kafka_event_error_string(ev);
	char hp[KAFKA_HOST_MAX + 8];
	size_t n = 0;

	if (!err && r && (res = rd_kafka_DescribeConfigs_result_resources(r, &n)) && n > 0 &&
	    (err = rd_kafka_ConfigResource_error(res[0])) != 0)
		es = rd_kafka_ConfigResource_error_string(res[0]);
	switch (err) {
	case RD_KAFKA_RESP_ERR_NO_ERROR:
		b->reachable = 1;
		if (n > 0)
			take_configs(res[0], c, b);
		return;
	case RD_KAFKA_RESP_ERR__TIMED_OUT:
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__SSL:
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
		b->reachable = 0;
		snprintf(hp, sizeof hp, "%s:%d", b->host, b->port);
		if (!last_fail(s, hp, b->error, sizeof b->error))
			snprintf(b->error, sizeof b->error, "%s", es ? es : rd_kafka_err2str(err));
		return;
	default:
		/* It answered (feature negotiation or an authorization error
		 * needs a live connection) but tells nothing. */
		b->reachable = 1;
		if (!c->configs_error[0])
			snprintf(c->configs_error, sizeof c->configs_error, "broker %d: %s", b->id,
				 es && *es ? es : rd_kafka_err2str(err));
	}
}

/* One DescribeConfigs per broker: a BROKER resource goes to that broker. */
static int describe_start(rd_kafka_t *rk, rd_kafka_queue_t *q, long long deadline,
			  struct kafka_cluster *c, char *msg, size_t sz)
{
	int i, pending = 0;
	char id[16], err[256];

	for (i = 0; i < c->nbrokers; i++) {
		rd_kafka_ConfigResource_t *res;
		rd_kafka_AdminOptions_t *o;
		long long left = phd_dl_left_ms(deadline);

		snprintf(id, sizeof id, "%d", c->broker[i].id);
		res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
		o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
		rd_kafka_AdminOptions_set_opaque(o, (void *)(intptr_t)i);
		if (rd_kafka_AdminOptions_set_request_timeout(o, (int)(left > 0 ? left : 1), err,
							      sizeof err)) {
			snprintf(msg, sz, "librdkafka: %s", err);
		} else {
			rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
			pending++;
		}
		rd_kafka_AdminOptions_destroy(o);
		rd_kafka_ConfigResource_destroy(res);
	}
	return pending;
}

static void describe_collect(rd_kafka_queue_t *q, int pending, struct session *s,
			     long long deadline, struct kafka_cluster *c)
{
	int i;

	while (pending > 0 && phd_dl_left_ms(deadline) > 0) {
		long long left = phd_dl_left_ms(deadline);
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)(left < 100 ? left : 100));
		if (!ev)
			continue;
		if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT) {
			take_result(ev, c, s);
			pending--;
		}
		rd_kafka_event_destroy(ev);
	}
	for (i = 0; i < c->nbrokers; i++) {
		struct kafka_broker *b = &c->broker[i];
		char hp[KAFKA_HOST_MAX + 8], why[KAFKA_MSG_MAX];

		if (b->reachable >= 0)
			continue;
		b->reachable = 0;
		snprintf(hp, sizeof hp, "%s:%d", b->host, b->port);
		if (last_fail(s, hp, why, sizeof why))
			snprintf(b->error, sizeof b->error, "no answer before the deadline; %.400s", why);
		else
			snprintf(b->error, sizeof b->error, "no answer before the deadline");
	}
}

/* Racks over our own connection, tried broker after broker while the
 * DescribeConfigs answers are on their way; one silent broker may use at
 * most half of what is left. */
static void wire_racks(const struct kafka_target *t, long long deadline,
		       struct kafka_cluster *c)
{
	int i;

	for (i = 0; i < c->nbrokers; i++) {
		long long slice = phd_dl_now_ms() + phd_dl_left_ms(deadline) / 2;
		if (kafka_wire_racks(t, c->broker[i].host, c->broker[i].port, slice, c,
				     c->racks_error, sizeof c->racks_error) == 0) {
			c->racks_error[0] = '\0';
			return;
		}
	}
}

int kafka_client_run(phd_check *chk, const struct kafka_target *t, long long deadline_ms,
		     struct kafka_cluster *out, char *msg, size_t msgsz)
{
	struct session s;
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_t *rk;
	int rc;

	(void)chk;
	memset(&s, 0, sizeof s);
	memset(out, 0, sizeof *out);
	out->autocreate = KAFKA_AC_UNKNOWN;
	pthread_mutex_init(&s.mu, NULL);
	rk = open_client(t, &s, phd_dl_left_ms(deadline_ms), msg, msgsz);
	if (!rk) {
		pthread_mutex_destroy(&s.mu);
		return PHD_EFAILED;
	}
	rc = read_metadata(rk, &s, deadline_ms, &md, msg, msgsz);
	if (rc == 0) {
		rc = copy_metadata(md, out);
		rd_kafka_metadata_destroy(md);
	}
	if (rc == 0) {
		rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
		int pending = describe_start(rk, q, deadline_ms, out, msg, msgsz);

		if (strcmp(t->protocol, "PLAINTEXT") == 0 || strcmp(t->protocol, "SSL") == 0)
			wire_racks(t, deadline_ms, out);
		else
			snprintf(out->racks_error, sizeof out->racks_error,
				 "racks are read over the wire only for PLAINTEXT and SSL, not %s",
				 t->protocol);
		describe_collect(q, pending, &s, deadline_ms, out);
		rd_kafka_queue_destroy(q);
	}
	rd_kafka_destroy(rk);
	pthread_mutex_destroy(&s.mu);
	return rc;
}

void kafka_cluster_clear(struct kafka_cluster *c)
{
	size_t i;

	for (i = 0; i < c->ntopics; i++)
		free(c->topics[i]);
	free(c->topics);
	c->topics = NULL;
	c->ntopics = 0;
}
