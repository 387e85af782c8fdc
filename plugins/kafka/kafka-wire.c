/* Racks from the Kafka wire protocol.  Brokers report their rack
 * (broker.rack, the AZ on MSK) in Metadata responses since v1, but
 * librdkafka 2.0's public metadata API drops it.  So ask one broker
 * ourselves: ApiVersions v0 to pick a Metadata version we can parse
 * (Kafka 4 removed the oldest ones), then Metadata for no topics, and read
 * only the broker list.  PLAINTEXT and SSL; SASL would need the whole
 * SCRAM exchange, so under SASL the racks come from DescribeConfigs only. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "netconn.h"

#define RESP_MAX (1u << 20)
#define API_METADATA 3
#define API_VERSIONS 18
#define CLIENT_ID "phdeploy-preflight"

struct wbuf { unsigned char b[256]; size_t n; };
struct rbuf { const unsigned char *p; size_t n, off; int bad; };

/* ---- encoding -------------------------------------------------------- */

static void put16(struct wbuf *w, int v)
{
	w->b[w->n++] = (unsigned char)(v >> 8);
	w->b[w->n++] = (unsigned char)v;
}

static void put32(struct wbuf *w, int32_t v)
{
	put16(w, (int)((uint32_t)v >> 16));
	put16(w, v & 0xffff);
}

static void put_byte(struct wbuf *w, int v) { w->b[w->n++] = (unsigned char)v; }

/* Request header v1 (v2 adds an empty tagged-field section). */
static void header(struct wbuf *w, int key, int ver, int corr, int flexible)
{
	w->n = 4; /* the size goes in last */
	put16(w, key);
	put16(w, ver);
	put32(w, corr);
	put16(w, (int)strlen(CLIENT_ID));
	memcpy(w->b + w->n, CLIENT_ID, strlen(CLIENT_ID));
	w->n += strlen(CLIENT_ID);
	if (flexible)
		put_byte(w, 0);
}

static int get(struct rbuf *r, size_t n, const unsigned char **p)
{
	if (r->bad || r->n - r->off < n) {
		r->bad = 1;
		return -1;
	}
	*p = r->p + r->off;
	r->off += n;
	return 0;
}

static int32_t get32(struct rbuf *r)
{
	const unsigned char *p;

	if (get(r, 4, &p))
		return 0;
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static int get16(struct rbuf *r)
{
	const unsigned char *p;

	if (get(r, 2, &p))
		return 0;
	return (int16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_uvarint(struct rbuf *r)
{
	uint32_t v = 0;
	int shift;
	const unsigned char *p;

	for (shift = 0; shift < 35; shift += 7) {
		if (get(r, 1, &p))
			return 0;
		v |= (uint32_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

/* A (compact) nullable string into out; returns -1 for null. */
static int get_str(struct rbuf *r, int flexible, char *out, size_t sz)
{
	long len = flexible ? (long)get_uvarint(r) - 1 : get16(r);
	const unsigned char *p;

	out[0] = '\0';
	if (len < 0 || r->bad)
		return -1;
	if (get(r, (size_t)len, &p))
		return -1;
	snprintf(out, sz, "%.*s", (int)len, (const char *)p);
	return 0;
}

static void skip_tags(struct rbuf *r)
{
	uint32_t n = get_uvarint(r), i;
	const unsigned char *p;

	for (i = 0; i < n && !r->bad; i++) {
		get_uvarint(r);
		get(r, get_uvarint(r), &p);
	}
}

/* ---- the exchange ---------------------------------------------------- */

static int call(struct phd_net *c, struct wbuf *w, unsigned char **resp, size_t *len)
{
	unsigned char h[4];
	uint32_t n;

	w->b[0] = (unsigned char)((w->n - 4) >> 24);
	w->b[1] = (unsigned char)((w->n - 4) >> 16);
	w->b[2] = (unsigned char)((w->n - 4) >> 8);
	w->b[3] = (unsigned char)(w->n - 4);
	if (phd_net_write(c, w->b, w->n) || phd_net_read_full(c, h, 4))
		return -1;
	n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (n < 4 || n > RESP_MAX || !(*resp = malloc(n)))
		return -1;
	if (phd_net_read_full(c, *resp, n)) {
		free(*resp);
		return -1;
	}
	*len = n;
	return 0;
}

int kafka_wire_read_versions(const unsigned char *p, size_t len)
{
	struct rbuf r = { .p = p, .n = len };
	int32_t i, n;
	int v = -1;

	get32(&r);                                   /* correlation id */
	if (get16(&r) != 0)                          /* error code */
		return -1;
	n = get32(&r);
	for (i = 0; i < n && !r.bad; i++) {
		int key = get16(&r), lo = get16(&r), hi = get16(&r);
		if (key == API_METADATA && !r.bad) {
			v = hi > 12 ? 12 : hi;
			if (v < 1 || v < lo)
				v = -1;
		}
	}
	return r.bad ? -1 : v;
}

/* The highest Metadata version in [1, 12] the broker accepts, or -1. */
static int metadata_version(struct phd_net *c)
{
	struct wbuf w;
	struct rbuf r = { 0 };
	unsigned char *resp = NULL;
	int v;

	header(&w, API_VERSIONS, 0, 1, 0);
	if (call(c, &w, &resp, &r.n))
		return -1;
	v = kafka_wire_read_versions(resp, r.n);
	free(resp);
	return v;
}

static int read_brokers(struct rbuf *r, int ver, struct kafka_cluster *cl)
{
	int flexible = ver >= 9;
	long n, i;
	int k;

	get32(r);                                    /* correlation id */
	if (flexible)
		skip_tags(r);
	if (ver >= 3)
		get32(r);                            /* throttle time */
	n = flexible ? (long)get_uvarint(r) - 1 : get32(r);
	for (i = 0; i < n && !r->bad; i++) {
		char host[KAFKA_HOST_MAX], rack[KAFKA_RACK_MAX];
		int32_t id = get32(r);
		int has_rack;

		get_str(r, flexible, host, sizeof host);
		get32(r);                            /* port */
		has_rack = get_str(r, flexible, rack, sizeof rack) == 0;
		if (flexible)
			skip_tags(r);
		for (k = 0; k < cl->nbrokers && !r->bad; k++)
			if (cl->broker[k].id == id) {
				snprintf(cl->broker[k].rack, sizeof cl->broker[k].rack, "%s",
					 has_rack ? rack : "");
				cl->broker[k].rack_known = 1;
			}
	}
	return r->bad ? -1 : 0;
}

int kafka_wire_read_metadata(const unsigned char *p, size_t len, int ver,
			      struct kafka_cluster *cl)
{
	struct rbuf r = { .p = p, .n = len };

	return read_brokers(&r, ver, cl);
}

int kafka_wire_racks(const struct kafka_target *t, const char *host, int port,
		     long long deadline_ms, struct kafka_cluster *cl, char *msg, size_t sz)
{
	struct phd_net c;
	struct phd_net_error e;
	struct wbuf w;
	struct rbuf r = { 0 };
	unsigned char *resp = NULL;
	int ver, rc = -1;

	if (strcmp(t->protocol, "PLAINTEXT") != 0 && strcmp(t->protocol, "SSL") != 0) {
		snprintf(msg, sz, "not read over %s", t->protocol);
		return -1;
	}
	phd_net_init(&c, deadline_ms);
	if (phd_net_connect(&c, host, port, &e) != 0) {
		snprintf(msg, sz, "connecting to %s:%d: %s", host, port,
			 e.fail == PHD_NET_RESOLVE || e.fail == PHD_NET_REFUSED ||
			 e.fail == PHD_NET_CONNECT ? e.detail : "deadline reached");
		return -1;
	}
	if (strcmp(t->protocol, "SSL") == 0 && phd_net_tls(&c, host, t->ca_file, &e) != 0) {
		snprintf(msg, sz, "TLS with %s: %s", host,
			 e.detail[0] ? e.detail : "handshake failed or deadline reached");
		goto out;
	}
	if ((ver = metadata_version(&c)) < 0) {
		snprintf(msg, sz, "broker %s:%d: no usable ApiVersions/Metadata answer", host, port);
		goto out;
	}
	header(&w, API_METADATA, ver, 2, ver >= 9);
	if (ver >= 9) {
		put_byte(&w, 1);                     /* no topics (compact array) */
		put_byte(&w, 0);                     /* allow_auto_topic_creation */
		if (ver <= 10)
			put_byte(&w, 0);             /* cluster authorized ops */
		put_byte(&w, 0);                     /* topic authorized ops */
		put_byte(&w, 0);                     /* tagged fields */
	} else {
		put32(&w, 0);                        /* no topics (not null = all) */
		if (ver >= 4)
			put_byte(&w, 0);
		if (ver >= 8) {
			put_byte(&w, 0);
			put_byte(&w, 0);
		}
	}
	if (call(&c, &w, &resp, &r.n) != 0) {
		snprintf(msg, sz, "broker %s:%d: no Metadata answer before the deadline", host, port);
		goto out;
	}
	r.p = resp;
	if ((rc = read_brokers(&r, ver, cl)) != 0)
		snprintf(msg, sz, "broker %s:%d: malformed Metadata v%d answer", host, port, ver);
	free(resp);
out:
	phd_net_close(&c);
	return rc;
}
