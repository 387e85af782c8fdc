/* redis: preflight check of the external Redis (ElastiCache) the chart is
 * pointed at.  See phdeploy-redis(7).
 *
 * It talks RESP itself (hiredis's reader parses the answers; the socket and
 * TLS are ours, because Debian's hiredis 0.14 has no TLS and we need
 * non-blocking I/O against one deadline): AUTH, PING, INFO, then judges the
 * answers against what PostHog and the chart need. */
#include "depcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define RD_MIN "5.0.0"
#define RD_MAX "6.3.0"
#define RD_LATENCY_WARN_MS 50
#define RD_MAX_REPLY (4u << 20) /* INFO is a few kB; refuse a flood */

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
	int fd;
	SSL_CTX *sslctx;
	SSL *ssl;
	redisReader *reader;
	size_t fed;
};

static int rd_read_config(struct phd_dc *dc, struct rd_target *t)
{
	static const char *const known[] = { "tls", "ca", "max_latency", NULL };
	const phd_node *cfg = phd_check_config(dc->chk);
	const phd_node *ca_n = phd_node_get(cfg, "ca");
	char at[300];

	phd_dc_unknown_keys(dc, cfg, known);
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
	const struct phd_cv_service *svc = phd_cv_service("redis");
	const phd_node *v = dc->values;
	int rc;

	rc = phd_dc_external_host(dc, svc, &t->host);
	if (rc != 0)
		return rc;
	if (phd_dc_port(dc, v, svc->port, svc->default_port, &t->port) != 0)
		return PHD_EFAILED;
	rc = phd_dc_password_get(dc, svc, &t->pw);
	if (rc == PHD_ENOTFOUND)
		return 0;
	if (rc != 0)
		return rc;
	t->have_pw = 1;
	return 0;
}

static int rd_tcp_connect(struct rd_conn *c)
{
	struct addrinfo hints, *res = NULL, *ai;
	const struct rd_target *t = c->t;
	char port[8];
	int err = 0, timed_out = 0, rc, one = 1, naddr = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", t->port);
	rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0) {
		phd_dc_note(c->dc, PHD_SEV_ERROR, "host name \"%s\" does not resolve: %s", t->host,
			    gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next)
		naddr++;
	for (ai = res; ai && c->fd < 0 && phd_dc_left(c->dc) > 0; ai = ai->ai_next, naddr--) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		socklen_t len = sizeof err;
		/* each address gets its share of what is left, so one that drops
		 * packets does not eat the time the next one needs */
		struct phd_dc step = *c->dc;

		step.deadline = phd_dc_now_ms() + phd_dc_left(c->dc) / naddr;
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			err = errno;
		} else if ((rc = phd_dc_wait(&step, fd, POLLOUT)) <= 0) {
			timed_out |= rc == 0;
			err = rc == 0 ? ETIMEDOUT : errno;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
			c->fd = fd;
			continue;
		}
		close(fd);
	}
	freeaddrinfo(res);
	if (c->fd >= 0) {
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		return 0;
	}
	if (timed_out)
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "no TCP connection to %s:%d within the check's deadline: nothing answers "
			    "(a security group or firewall dropping packets, or a wrong host) "
			    "(checks.redis.timeout)", t->host, t->port);
	else if (err == ECONNREFUSED)
		phd_dc_note(c->dc, PHD_SEV_ERROR, "nothing listens on %s:%d (connection refused)",
			    t->host, t->port);
	else
		phd_dc_note(c->dc, PHD_SEV_ERROR, "cannot connect to %s:%d: %s", t->host, t->port,
			    strerror(err));
	return -1;
}

/* Wait for what OpenSSL asks for; 1 go on, 0 deadline, -1 a real error. */
static int rd_ssl_wait(struct rd_conn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return phd_dc_wait(c->dc, c->fd, POLLIN) > 0 ? 1 : 0;
	case SSL_ERROR_WANT_WRITE:
		return phd_dc_wait(c->dc, c->fd, POLLOUT) > 0 ? 1 : 0;
	default:
		return -1;
	}
}

static int rd_tls_start(struct rd_conn *c)
{
	const struct rd_target *t = c->t;
	unsigned char addr[16];
	unsigned long e;
	char why[256];
	int r, w;

	c->sslctx = SSL_CTX_new(TLS_client_method());
	if (!c->sslctx || !(SSL_CTX_set_min_proto_version(c->sslctx, TLS1_2_VERSION))) {
		phd_dc_note(c->dc, PHD_SEV_ERROR, "cannot set up TLS (OpenSSL)");
		return -1;
	}
	SSL_CTX_set_verify(c->sslctx, SSL_VERIFY_PEER, NULL);
	if (t->ca ? SSL_CTX_load_verify_locations(c->sslctx, t->ca, NULL) != 1
		  : SSL_CTX_set_default_verify_paths(c->sslctx) != 1) {
		ERR_error_string_n(ERR_get_error(), why, sizeof why);
		phd_dc_note(c->dc, PHD_SEV_ERROR, "cannot load the CA certificates %s: %s",
			    t->ca ? t->ca : "(system default)", why);
		return -1;
	}
	c->ssl = SSL_new(c->sslctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
		phd_dc_note(c->dc, PHD_SEV_ERROR, "cannot set up TLS (OpenSSL)");
		return -1;
	}
	/* the certificate must name the host we were given: an IP or a name */
	if (inet_pton(AF_INET, t->host, addr) == 1 || inet_pton(AF_INET6, t->host, addr) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), t->host);
	} else {
		SSL_set_tlsext_host_name(c->ssl, t->host);
		SSL_set1_host(c->ssl, t->host);
	}
	ERR_clear_error();
	while ((r = SSL_connect(c->ssl)) != 1) {
		w = rd_ssl_wait(c, r);
		if (w > 0)
			continue;
		if (w == 0) {
			phd_dc_note(c->dc, PHD_SEV_ERROR,
				    "the TLS handshake with %s:%d did not finish within the check's "
				    "deadline (checks.redis.timeout)", t->host, t->port);
			return -1;
		}
		if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
			phd_dc_note(c->dc, PHD_SEV_ERROR,
				    "the server's certificate is not trusted: %s (CA: %s)",
				    X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)),
				    t->ca ? t->ca : "system default; set checks.redis.ca");
			return -1;
		}
		e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, why, sizeof why);
		phd_dc_note(c->dc, PHD_SEV_ERROR,
			    "the TLS handshake with %s:%d failed: %s", t->host, t->port,
			    e ? why : "the server closed the connection (does it speak TLS?)");
		return -1;
	}
	return 0;
}

static int rd_write(struct rd_conn *c, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n;
		int w;

		if (c->ssl) {
			n = SSL_write(c->ssl, buf + off, (int)(len - off));
			if (n > 0) {
				off += (size_t)n;
				continue;
			}
			w = rd_ssl_wait(c, (int)n);
		} else {
			n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
			if (n > 0) {
				off += (size_t)n;
				continue;
			}
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return PHD_EIO;
			w = phd_dc_wait(c->dc, c->fd, POLLOUT) > 0 ? 1 : 0;
		}
		if (w <= 0)
			return w == 0 ? PHD_ETIMEOUT : PHD_EIO;
	}
	return 0;
}

/* One reply: 0, PHD_ETIMEOUT, PHD_EIO (closed or reset), PHD_ESYNTAX (not RESP). */
static int rd_read(struct rd_conn *c, redisReply **out)
{
	char buf[16384];
	void *reply;

	for (;;) {
		ssize_t n;
		int w;

		if (redisReaderGetReply(c->reader, &reply) != REDIS_OK)
			return PHD_ESYNTAX;
		if (reply) {
			*out = reply;
			return 0;
		}
		if (c->ssl) {
			n = SSL_read(c->ssl, buf, sizeof buf);
			w = n > 0 ? 1 : rd_ssl_wait(c, (int)n);
		} else {
			n = recv(c->fd, buf, sizeof buf, 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return PHD_EIO;
			w = n > 0 ? 1 : phd_dc_wait(c->dc, c->fd, POLLIN) > 0 ? 1 : 0;
		}
		if (w <= 0)
			return w == 0 ? PHD_ETIMEOUT : PHD_EIO;
		if (n <= 0)
			continue;
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
	rc = rd_write(c, buf, len);
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
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->sslctx)
		SSL_CTX_free(c->sslctx);
	if (c->fd >= 0)
		close(c->fd);
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
	c.fd = -1;
	c.reader = redisReaderCreate();
	if (!c.reader) {
		phd_dc_note(&dc, PHD_SEV_ERROR, "out of memory");
		return PHD_EFAILED;
	}
	if (rd_tcp_connect(&c) == 0 && (!t.tls || rd_tls_start(&c) == 0))
		rd_session(&c);
	rd_close(&c);
	return dc.errors ? PHD_EFAILED : 0;
}

static int rd_init(phd_plugin *p, const phd_node *config)
{
	(void)config;
	return phd_register_check(p, "redis", rd_check, NULL, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("redis", "1.0", rd_init, NULL);
