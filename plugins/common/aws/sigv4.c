/* Signature Version 4, computed here rather than by libcurl: AWS builds the
 * canonical URI of every service but S3 by URI-encoding each path segment
 * of the path as sent, so an already-encoded segment (an MSK cluster ARN:
 * arn%3Aaws%3Akafka...) is signed as arn%253A...; Debian's libcurl 7.88
 * signs the path as sent and AWS refuses the request. */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

static int enc(struct sc_buf *b, const char *s, size_t n, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (unreserved(c) || (keep_slash && c == '/')) {
			if (sc_buf_add(b, &s[i], 1))
				return -1;
		} else if (sc_buf_add(b, e, 3)) {
			return -1;
		}
	}
	return 0;
}

static int unhex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %XX decoded (a '+' stays: AWS query strings encode spaces as %20) */
static size_t pct_decode(char *s, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    unhex(s[i + 1]) >= 0 && unhex(s[i + 2]) >= 0) {
			s[o++] = (char)(unhex(s[i + 1]) * 16 + unhex(s[i + 2]));
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

int aws_sigv4_canonical_uri(const char *path, int s3, struct sc_buf *out)
{
	if (!path || !*path)
		path = "/";
	/* S3 signs the path as sent; every other service encodes it again */
	if (s3)
		return sc_buf_add(out, path, strlen(path));
	return enc(out, path, strlen(path), 1);
}

struct qpair {
	char *k, *v;
};

static int qcmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

int aws_sigv4_canonical_query(const char *query, struct sc_buf *out)
{
	struct qpair *p = NULL;
	size_t n = 0, i;
	char *copy, *save = NULL, *tok;
	int rc = 0;

	if (!query || !*query)
		return 0;
	if (!(copy = strdup(query)))
		return -1;
	for (tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		struct qpair *np = realloc(p, (n + 1) * sizeof *p);
		struct sc_buf k = { 0 }, v = { 0 };
		char *eq = strchr(tok, '=');
		size_t kl = eq ? (size_t)(eq - tok) : strlen(tok);
		size_t vl = eq ? strlen(eq + 1) : 0;

		if (!np) {
			rc = -1;
			break;
		}
		p = np;
		kl = pct_decode(tok, kl);
		if (eq)
			vl = pct_decode(eq + 1, vl);
		if (enc(&k, tok, kl, 0) || enc(&v, eq ? eq + 1 : "", vl, 0) ||
		    sc_buf_terminate(&k) || sc_buf_terminate(&v)) {
			sc_buf_wipe(&k);
			sc_buf_wipe(&v);
			rc = -1;
			break;
		}
		p[n].k = (char *)k.p;
		p[n++].v = (char *)v.p;
	}
	if (rc == 0)
		qsort(p, n, sizeof *p, qcmp);
	for (i = 0; i < n; i++) {
		if (rc == 0 && ((i && sc_buf_add(out, "&", 1)) || sc_buf_add(out, p[i].k, strlen(p[i].k)) ||
				sc_buf_add(out, "=", 1) || sc_buf_add(out, p[i].v, strlen(p[i].v))))
			rc = -1;
		free(p[i].k);
		free(p[i].v);
	}
	free(p);
	free(copy);
	return rc;
}

static void hexs(const unsigned char *d, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * n] = '\0';
}

static void sha256_hex(const void *d, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(d, n, md);
	hexs(md, sizeof md, out);
}

static void mac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int len = 32;

	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

struct hdr {
	char name[128];
	const char *value;
};

static int hcmp(const void *a, const void *b)
{
	return strcmp(((const struct hdr *)a)->name, ((const struct hdr *)b)->name);
}

/* host[:port] as curl sends it in Host: */
static int host_header(const char *url, char *out, size_t n)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *scheme = NULL;
	int rc = -1;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK &&
		    !((!strcmp(scheme, "https") && !strcmp(port, "443")) ||
		      (!strcmp(scheme, "http") && !strcmp(port, "80"))))
			snprintf(out, n, "%s:%s", host, port);
		else
			snprintf(out, n, "%s", host);
		rc = 0;
	}
	curl_free(host);
	curl_free(port);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static int url_part(const char *url, CURLUPart part, char **out)
{
	CURLU *u = curl_url();
	int rc = -1;

	*out = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
		CURLUcode c = curl_url_get(u, part, out, 0);

		rc = c == CURLUE_OK || c == CURLUE_NO_QUERY ? 0 : -1;
	}
	curl_url_cleanup(u);
	return rc;
}

int aws_sigv4_sign(const struct aws_req *req, time_t now, struct curl_slist **out)
{
	char region[64], service[64], host[512], amz_date[17], date[9], body_hash[65];
	char creq_hash[65], sig[65], *path = NULL, *query = NULL;
	unsigned char k[32];
	struct hdr h[32];
	size_t nh = 0, i;
	struct sc_buf creq = { 0 }, sts = { 0 }, key = { 0 }, auth = { 0 }, signed_h = { 0 };
	const struct curl_slist *l;
	struct tm tm;
	int rc = -1;

	if (sscanf(req->sigv4, "aws:amz:%63[^:]:%63s", region, service) != 2 ||
	    host_header(req->url, host, sizeof host) || url_part(req->url, CURLUPART_PATH, &path) ||
	    url_part(req->url, CURLUPART_QUERY, &query))
		goto out;
	gmtime_r(&now, &tm);
	strftime(amz_date, sizeof amz_date, "%Y%m%dT%H%M%SZ", &tm);
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	snprintf(h[nh].name, sizeof h[nh].name, "host");
	h[nh++].value = host;
	snprintf(h[nh].name, sizeof h[nh].name, "x-amz-date");
	h[nh++].value = amz_date;
	/* every header the caller sets is signed (content type, target, token) */
	for (l = req->headers; l && nh < sizeof h / sizeof h[0]; l = l->next) {
		const char *colon = strchr(l->data, ':');
		size_t nl = colon ? (size_t)(colon - l->data) : 0;

		if (!colon || nl == 0 || nl >= sizeof h[0].name)
			continue;
		for (i = 0; i < nl; i++)
			h[nh].name[i] = (char)(l->data[i] >= 'A' && l->data[i] <= 'Z'
					       ? l->data[i] + 32 : l->data[i]);
		h[nh].name[nl] = '\0';
		h[nh].value = colon + 1;
		while (*h[nh].value == ' ')
			h[nh].value++;
		nh++;
	}
	qsort(h, nh, sizeof h[0], hcmp);
	sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, body_hash);
	if (sc_buf_add(&creq, req->method, strlen(req->method)) || sc_buf_add(&creq, "\n", 1) ||
	    aws_sigv4_canonical_uri(path, strcmp(service, "s3") == 0, &creq) ||
	    sc_buf_add(&creq, "\n", 1) || aws_sigv4_canonical_query(query, &creq) ||
	    sc_buf_add(&creq, "\n", 1))
		goto out;
	for (i = 0; i < nh; i++) {
		const char *v = h[i].value;
		size_t vl = strlen(v);

		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;
		if (sc_buf_add(&creq, h[i].name, strlen(h[i].name)) || sc_buf_add(&creq, ":", 1) ||
		    sc_buf_add(&creq, v, vl) || sc_buf_add(&creq, "\n", 1) ||
		    (i && sc_buf_add(&signed_h, ";", 1)) ||
		    sc_buf_add(&signed_h, h[i].name, strlen(h[i].name)))
			goto out;
	}
	if (sc_buf_add(&creq, "\n", 1) || sc_buf_add(&creq, signed_h.p, signed_h.len) ||
	    sc_buf_add(&creq, "\n", 1) || sc_buf_add(&creq, body_hash, 64))
		goto out;
	sha256_hex(creq.p, creq.len, creq_hash);
	if (sc_buf_terminate(&signed_h))
		goto out;
	{
		char sts_head[256];

		snprintf(sts_head, sizeof sts_head, "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n",
			 amz_date, date, region, service);
		if (sc_buf_add(&sts, sts_head, strlen(sts_head)) || sc_buf_add(&sts, creq_hash, 64) ||
		    sc_buf_terminate(&sts))
			goto out;
	}
	if (sc_buf_add(&key, "AWS4", 4) ||
	    sc_buf_add(&key, req->creds->secret, strlen(req->creds->secret)))
		goto out;
	mac(key.p, key.len, date, k);
	mac(k, 32, region, k);
	mac(k, 32, service, k);
	mac(k, 32, "aws4_request", k);
	{
		unsigned char s[32];

		mac(k, 32, (const char *)sts.p, s);
		hexs(s, 32, sig);
	}
	{
		char head[512];
		struct curl_slist *n;

		snprintf(head, sizeof head, "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/"
			 "aws4_request, SignedHeaders=", req->creds->akid, date, region, service);
		if (sc_buf_add(&auth, head, strlen(head)) ||
		    sc_buf_add(&auth, signed_h.p, signed_h.len) ||
		    sc_buf_add(&auth, ", Signature=", 12) || sc_buf_add(&auth, sig, 64) ||
		    sc_buf_terminate(&auth))
			goto out;
		snprintf(head, sizeof head, "X-Amz-Date: %s", amz_date);
		if (!(n = curl_slist_append(*out, head)))
			goto out;
		*out = n;
		if (!(n = curl_slist_append(*out, (const char *)auth.p)))
			goto out;
		*out = n;
	}
	rc = 0;
out:
	explicit_bzero(k, sizeof k);
	sc_buf_wipe(&creq);
	sc_buf_wipe(&sts);
	sc_buf_wipe(&key);
	sc_buf_wipe(&auth);
	sc_buf_wipe(&signed_h);
	curl_free(path);
	curl_free(query);
	return rc;
}
