/* redis: preflight check of the external Redis (ElastiCache) the chart is
 * pointed at.  See phdeploy-redis(7).
 *
 * It talks RESP itself (hiredis's reader parses the answers; the socket and
 * TLS are plugins/common/netconn.c, because Debian's hiredis 0.14 has no TLS
 * and we need non-blocking I/O against one deadline): AUTH, PING, INFO, then judges the
 * answers against what PostHog and the chart need. */
#include "depcheck.h"
#include "netconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#define RD_MIN (phd_cv_service("redis")->min_version)
#define RD_MAX (phd_cv_service("redis")->max_version)
#define RD_LATENCY_WARN_MS 50
#define RD_MAX_REPLY (4u << 20) /* INFO is a few kB; refuse a flood */
/* hiredis allocates an array's table of elements from its header alone
 * ("*188888883\r\n" asks for 1.5 GB before one element came); no reply
 * the check reads is an array, so a big one is refused before that. */
#define RD_MAX_ELEMENTS 1024

struct rd_target {
	const char *host;
	int port;
	struct phd_dc_password pw;
	int have_pw;
	int tls;
	const phd_node *tls_n;
	const char *ca;
	long long latency_warn_ms;
};

struct rd_conn {
	struct phd_dc *dc;
	const struct rd_target *t;
	struct phd_net net;
	redisReader *reader;
	size_t fed;
};

static int rd_read_config(struct phd_dc *dc, struct rd_target *t)
{
	const phd_node *cfg = phd_check_config(dc->chk);
	const phd_node *ca_n = phd_node_get(cfg, "ca");
	char at[300];

	t->tls_n = phd_node_get(cfg, "tls");
	t->tls = phd_dc_bool(dc, cfg, "tls", 0);
	t->ca = phd_dc_file(dc, cfg, "ca");
	if (t->ca && !t->tls)
		phd_dc_note(dc, PHD_SEV_WARN, "checks.redis.ca (%s) is ignored without tls: true",
			    phd_dc_at(ca_n, at, sizeof at));
	t->latency_warn_ms = phd_dc_duration(dc, cfg, "max_latency", RD_LATENCY_WARN_MS);
	return 0;
}

/* Endpoint and password exactly as the chart passes them to PostHog. */
static int rd_read_values(struct phd_dc *dc, struct rd_target *t)
{
	return phd_dc_endpoint(dc, phd_cv_service("redis"), &t->host, &t->port, &t->pw,
			       &t->have_pw);
}

static int rd_tcp_connect(struct rd_conn *c)
{
	const struct rd_target *t = c->t;
	struct phd_net_error e;

	if (phd_net_connect(&c->net, t->host, t->port, &e) == 0)
		return 0;
	if (e.fail == PHD_NET_RESOLVE)
		phd_dc_note(c->dc, PHD_SEV_ERROR, "host name \"%s\" does not resolve: %s", t->host,
			    e.detail);
	else if (e.fail == PHD_NET_TIMEOUT)
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "no TCP connection to %s:%d within the check's deadline: nothing answers "
			    "(a security group or firewall dropping packets, or a wrong host) "
			    "(checks.redis.timeout)", t->host, t->port);
	else if (e.fail == PHD_NET_REFUSED)
		phd_dc_note(c->dc, PHD_SEV_ERROR, "nothing listens on %s:%d (connection refused)",
			    t->host, t->port);
	else
		phd_dc_note(c->dc, PHD_SEV_ERROR, "cannot connect to %s:%d: %s", t->host, t->port,
			    e.detail);
	return -1;
}

static int rd_tls_start(struct rd_conn *c)
{
	const struct rd_target *t = c->t;
	struct phd_net_error e;

	if (phd_net_tls(&c->net, t->host, t->ca, &e) == 0)
		return 0;
	switch (e.fail) {
	case PHD_NET_TLS_CA:
		phd_dc_note(c->dc, PHD_SEV_ERROR, "cannot load the CA certificates %s: %s",
			    t->ca ? t->ca : "(system default)", e.detail);
		break;
	case PHD_NET_TLS_TIMEOUT:
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "the TLS handshake with %s:%d did not finish within the check's "
			    "deadline (checks.redis.timeout)", t->host, t->port);
		break;
	case PHD_NET_TLS_UNTRUSTED:
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "the server's certificate is not trusted: %s (CA: %s)", e.detail,
			    t->ca ? t->ca : "system default; set checks.redis.ca");
		break;
	case PHD_NET_TLS_FAILED:
		phd_dc_note(c->dc, PHD_SEV_ERROR, "the TLS handshake with %s:%d failed: %s",
			    t->host, t->port,
			    e.detail[0] ? e.detail
					: "the server closed the connection (does it speak TLS?)");
		break;
	default:
		phd_dc_note(c->dc, PHD_SEV_ERROR, "cannot set up TLS (OpenSSL)");
	}
	return -1;
}

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
typedef size_t rd_nelem;
#else
typedef int rd_nelem;
#endif
static void *(*rd_array_default)(const redisReadTask *, rd_nelem);

static void *rd_array(const redisReadTask *task, rd_nelem n)
{
	/* NULL: hiredis ends the parse with an error (not RESP, for the check) */
	return n > RD_MAX_ELEMENTS ? NULL : rd_array_default(task, n);
}

/* hiredis's reader with the array bound (its other functions as they are). */
static redisReader *rd_reader_new(void)
{
	static redisReplyObjectFunctions fn;
	redisReader *r = redisReaderCreate();

	if (r && r->fn) {
		if (!rd_array_default) {
			fn = *r->fn;
			rd_array_default = fn.createArray;
			fn.createArray = rd_array;
		}
		r->fn = &fn;
	}
	return r;
}

/* One reply: 0, PHD_ETIMEOUT, PHD_EIO (closed or reset), PHD_ESYNTAX (not RESP). */
static int rd_read(struct rd_conn *c, redisReply **out)
{
	char buf[16384];
	void *reply;

	for (;;) {
		ssize_t n;

		if (redisReaderGetReply(c->reader, &reply) != REDIS_OK)
			return PHD_ESYNTAX;
		if (reply) {
			*out = reply;
			return 0;
		}
		if ((n = phd_net_read(&c->net, buf, sizeof buf)) < 0)
			return (int)n;
		c->fed += (size_t)n;
		if (c->fed > RD_MAX_REPLY || redisReaderFeed(c->reader, buf, (size_t)n) != REDIS_OK)
			return PHD_ETOOBIG;
	}
}

/* Send one command (RESP array) and read its reply; NULL after an error
 * note.  The buffer may hold the password: wiped before it is freed. */
static redisReply *rd_command(struct rd_conn *c, const char *what, int argc,
			      const char *const *argv, const size_t *lens)
{
	size_t cap = 32, len = 0;
	redisReply *reply = NULL;
	char *buf;
	int i, rc;

	for (i = 0; i < argc; i++)
		cap += lens[i] + 32;
	buf = malloc(cap);
	if (!buf) {
		phd_dc_note(c->dc, PHD_SEV_ERROR, "out of memory");
		return NULL;
	}
	len += (size_t)snprintf(buf + len, cap - len, "*%d\r\n", argc);
	for (i = 0; i < argc; i++) {
		len += (size_t)snprintf(buf + len, cap - len, "$%zu\r\n", lens[i]);
		memcpy(buf + len, argv[i], lens[i]);
		len += lens[i];
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	rc = phd_net_write(&c->net, buf, len);
	explicit_bzero(buf, cap);
	free(buf);
	if (rc == 0)
		rc = rd_read(c, &reply);
	if (rc == 0)
		return reply;
	if (rc == PHD_ETIMEOUT)
		phd_dc_note(c->dc, PHD_SEV_ERROR, "%s: no answer from %s:%d within the check's "
			    "deadline (checks.redis.timeout)", what, c->t->host, c->t->port);
	else if (c->t->tls)
		phd_dc_note(c->dc, PHD_SEV_ERROR, "%s: the connection to %s:%d broke (%s)", what,
			    c->t->host, c->t->port,
			    rc == PHD_ESYNTAX ? "the answer is not RESP" : "closed or reset");
	else
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "%s: %s from %s:%d; if the endpoint has in-transit encryption (TLS), set "
			    "checks.redis.tls: true to inspect it, but the chart cannot connect to it",
			    what, rc == PHD_ESYNTAX ? "an answer that is not RESP"
						    : "the connection closed without an answer",
			    c->t->host, c->t->port);
	return NULL;
}

static redisReply *rd_simple(struct rd_conn *c, const char *what, const char *cmd)
{
	size_t len = strlen(cmd);

	return rd_command(c, what, 1, &cmd, &len);
}

/* Value of "key:" in an INFO text, into buf; NULL when absent. */
static const char *rd_info(const char *info, const char *key, char *buf, size_t len)
{
	size_t kl = strlen(key);
	const char *p = info;

	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			size_t vl = strcspn(p + kl + 1, "\r\n");

			snprintf(buf, len, "%.*s", (int)vl, p + kl + 1);
			return buf;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static int rd_auth(struct rd_conn *c)
{
	const char *argv[2] = { "AUTH", (const char *)c->t->pw.value };
	size_t lens[2] = { 4, c->t->pw.len };
	redisReply *r = rd_command(c, "AUTH", 2, argv, lens);
	int ok = 0;

	if (!r)
		return -1;
	if (r->type != REDIS_REPLY_ERROR) {
		ok = 1;
	} else if (strstr(r->str, "without any password configured") ||
		   strstr(r->str, "no password is set")) {
		phd_dc_note(c->dc, PHD_SEV_WARN,
			    "the server has no password but the values configure one (%s): clients "
			    "that send AUTH get an error; remove it from the values or set it on the "
			    "server", c->t->pw.origin);
		ok = 1;
	} else if (strstr(r->str, "WRONGPASS") || strstr(r->str, "invalid password")) {
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "AUTH failed: the password from %s is not the server's (%s)",
			    c->t->pw.origin, r->str);
	} else {
		phd_dc_note(c->dc, PHD_SEV_ERROR, "AUTH failed: %s", r->str);
	}
	freeReplyObject(r);
	return ok ? 0 : -1;
}

/* 0 PONG, 1 NOAUTH when the caller will authenticate next (noauth_ok),
 * -1 after an error note. */
static int rd_ping(struct rd_conn *c, int noauth_ok)
{
	redisReply *r = rd_simple(c, "PING", "PING");
	int ok;

	if (!r)
		return -1;
	ok = r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
	if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6) && noauth_ok) {
		freeReplyObject(r);
		return 1;
	}
	if (r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6)) {
		char hint[300];
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "the server requires a password (%s) but the values configure none: set "
			    "%s", r->str,
			    phd_dc_password_hint(phd_cv_service("redis"), hint, sizeof hint));
	}
	else if (!ok)
		phd_dc_note(c->dc, PHD_SEV_ERROR, "PING answered \"%s\", not PONG",
			    r->str ? r->str : "?");
	freeReplyObject(r);
	return ok ? 0 : -1;
}

/* The findings on INFO; fills the summary parts. */
static void rd_judge(struct rd_conn *c, const char *info, char *version, size_t vlen,
		     long *replicas, char *policy, size_t plen)
{
	struct phd_dc *dc = c->dc;
	char role[32], mode[32], mhost[256], mport[16], slaves[16];

	if (!rd_info(info, "redis_version", version, vlen))
		snprintf(version, vlen, "?");
	phd_dc_version_report(dc, "Redis", version, RD_MIN, RD_MAX);
	if (rd_info(info, "redis_mode", mode, sizeof mode) && !strcmp(mode, "cluster"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "cluster mode is enabled: PostHog talks to one Redis node and does not "
			    "follow cluster redirections; use a replication group with cluster mode "
			    "disabled");
	if (!rd_info(info, "role", role, sizeof role))
		snprintf(role, sizeof role, "?");
	if (strcmp(role, "master"))
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "%s:%d is a replica (role %s, primary %s:%s): PostHog writes to Redis; "
			    "point %s at the primary endpoint", c->t->host, c->t->port, role,
			    rd_info(info, "master_host", mhost, sizeof mhost) ? mhost : "?",
			    rd_info(info, "master_port", mport, sizeof mport) ? mport : "?",
			    phd_cv_service("redis")->host);
	*replicas = rd_info(info, "connected_slaves", slaves, sizeof slaves) ? atol(slaves) : 0;
	if (!strcmp(role, "master") && *replicas == 0)
		phd_dc_note(dc, PHD_SEV_WARN,
			    "no replica is connected: a node failure takes Redis down until it is "
			    "replaced; for HA add a replica with automatic failover (ElastiCache "
			    "Multi-AZ)");
	else if (!strcmp(role, "master"))
		phd_dc_note(dc, PHD_SEV_INFO, "%ld replica(s) connected", *replicas);
	if (!rd_info(info, "maxmemory_policy", policy, plen))
		snprintf(policy, plen, "?");
	if (!strncmp(policy, "allkeys-", 8))
		phd_dc_note(dc, PHD_SEV_WARN,
			    "maxmemory-policy %s evicts keys without a TTL too, such as the Celery and "
			    "plugin-server queues; prefer volatile-lru or noeviction", policy);
	else
		phd_dc_note(dc, PHD_SEV_INFO, "maxmemory-policy %s", policy);
}

/* The chart has no Redis TLS: any TLS endpoint is one PostHog cannot use. */
static void rd_tls_finding(struct phd_dc *dc, const struct rd_target *t)
{
	char at[300];

	if (!t->tls)
		return;
	if (t->have_pw)
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "TLS with AUTH (checks.redis.tls at %s): the chart has no Redis TLS "
			    "setting, so PostHog cannot connect to this endpoint, and ElastiCache "
			    "accepts an AUTH token only with in-transit encryption. Use a replication "
			    "group without in-transit encryption and without AUTH, reachable only "
			    "from the cluster (security groups)", phd_dc_at(t->tls_n, at, sizeof at));
	else
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "the endpoint speaks TLS (checks.redis.tls at %s) but the chart has no "
			    "Redis TLS setting: PostHog cannot connect to it; use an endpoint without "
			    "in-transit encryption", phd_dc_at(t->tls_n, at, sizeof at));
}

static int rd_ping_probe(void *c)
{
	return rd_ping(c, 0);
}

static void rd_close(struct rd_conn *c)
{
	phd_net_close(&c->net);
	if (c->reader)
		redisReaderFree(c->reader);
}

static void rd_session(struct rd_conn *c)
{
	struct phd_dc *dc = c->dc;
	const struct rd_target *t = c->t;
	char version[64], policy[64];
	redisReply *info;
	long replicas = 0;
	long long rtt;
	int pong;

	/* PING first: the password is not sent to an endpoint that turns out
	 * not to speak the protocol we expect (a TLS port spoken to in clear) */
	pong = rd_ping(c, t->have_pw);
	if (pong < 0)
		return;
	if (t->have_pw && (rd_auth(c) != 0 || (pong == 1 && rd_ping(c, 0) != 0)))
		return;
	info = rd_simple(c, "INFO", "INFO");
	if (!info)
		return;
	if (info->type != REDIS_REPLY_STRING) {
		phd_dc_note(dc, PHD_SEV_ERROR, "INFO answered %s",
			    info->type == REDIS_REPLY_ERROR ? info->str : "something else than text");
		freeReplyObject(info);
		return;
	}
	rd_judge(c, info->str, version, sizeof version, &replicas, policy, sizeof policy);
	freeReplyObject(info);
	rtt = phd_dc_rtt(dc, rd_ping_probe, c, "PINGs", t->latency_warn_ms);
	rd_tls_finding(dc, t);
	if (!dc->errors)
		phd_check_summary(dc->chk, "Redis %s primary at %s:%d: %ld replica(s), "
				  "maxmemory-policy %s, %s, %s, round trip %.1f ms", version,
				  t->host, t->port, replicas, policy,
				  t->have_pw ? "AUTH" : "no AUTH", t->tls ? "TLS" : "no TLS",
				  rtt / 1000.0);
}

static int rd_check(phd_check *chk, void *userdata)
{
	struct phd_dc dc;
	struct rd_target t;
	struct rd_conn c;
	int rc;

	(void)userdata;
	memset(&t, 0, sizeof t);
	phd_dc_init(&dc, chk, "redis");
	rc = rd_read_values(&dc, &t);
	if (rc == PHD_EIGNORE)
		return rc;
	rd_read_config(&dc, &t);
	if (rc != 0 || dc.errors)
		return PHD_EFAILED;

	memset(&c, 0, sizeof c);
	c.dc = &dc;
	c.t = &t;
	phd_net_init(&c.net, dc.deadline);
	c.reader = rd_reader_new();
	if (!c.reader) {
		phd_dc_note(&dc, PHD_SEV_ERROR, "out of memory");
		return PHD_EFAILED;
	}
	if (rd_tcp_connect(&c) == 0 && (!t.tls || rd_tls_start(&c) == 0))
		rd_session(&c);
	rd_close(&c);
	return dc.errors ? PHD_EFAILED : 0;
}

static const struct phd_config_key rd_keys[] = {
	{ "tls", PHD_CFG_BOOL, 0, NULL, "connect with TLS" },
	{ "ca", PHD_CFG_STRING, 0, NULL, "CA bundle for TLS" },
	{ "max_latency", PHD_CFG_DURATION, 0, NULL, "warn above this round trip" },
	PHD_CONFIG_END
};

static int rd_init(phd_plugin *p, const phd_node *config)
{
	int rc;
	(void)config;
	if ((rc = phd_plugin_declare_config(p, "checks.redis", rd_keys)))
		return rc;
	return phd_register_check(p, "redis", rd_check, NULL, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("redis", "2.0", rd_init, NULL);
