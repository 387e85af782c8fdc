/* One HTTP exchange through libcurl: bounded time and size, answer kept in
 * wiped memory, no redirects, SigV4 computed by sigv4.c (not curl's, which
 * signs an encoded path wrongly). */
#include "aws.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct sink {
	struct sc_buf *b;
	int too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *payload)
{
	struct sink *s = payload;

	if (sc_buf_add(s->b, p, size * n) != 0) {
		s->too_big = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* x-amzn-ErrorType: the error code of a REST-JSON answer ("Code:uri"). */
static size_t on_header(char *p, size_t size, size_t n, void *payload)
{
	static const char name[] = "x-amzn-errortype:";
	struct aws_resp *r = payload;
	size_t len = size * n;

	if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
		const char *v = p + sizeof name - 1;
		size_t vl = len - (sizeof name - 1);

		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		vl = strcspn(v, ":\r\n") < vl ? strcspn(v, ":\r\n") : vl;
		snprintf(r->error_type, sizeof r->error_type, "%.*s", (int)vl, v);
	}
	return len;
}

const char *aws_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int is_loopback(const char *h)
{
	return strcmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 ||
	       strcmp(h, "::1") == 0 || strcmp(h, "[::1]") == 0;
}

int aws_url_ok(const char *url, int link_local)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	if (!u)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (strcmp(scheme, "https") == 0)
			ok = 1;
		else if (strcmp(scheme, "http") == 0)
			ok = is_loopback(host) ||
			     (link_local && (strncmp(host, "169.254.", 8) == 0 ||
					     strncmp(host, "[fd00:ec2::", 11) == 0));
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

void aws_headers_free(struct curl_slist *h)
{
	struct curl_slist *i;

	for (i = h; i; i = i->next)
		if (i->data)
			explicit_bzero(i->data, strlen(i->data));
	curl_slist_free_all(h);
}

void aws_resp_wipe(struct aws_resp *r)
{
	sc_buf_wipe(&r->body);
}

static void set_common(CURL *c, const struct aws_req *req, struct curl_slist *headers,
		       struct aws_resp *resp, struct sink *s)
{
	const char *ca = aws_env("AWS_CA_BUNDLE");

	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(req->connect_ms ? req->connect_ms : req->timeout_ms));
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->error);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "phdeploy/1.0");
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	/* link-local and loopback services are never reached through a proxy */
	if (aws_url_ok(req->url, 1) && strncmp(req->url, "https:", 6) != 0)
		curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (headers)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(req->body ? req->body_len : 0));
	} else if (strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(req->body ? req->body_len : 0));
	}
}

/* The caller's headers, plus X-Amz-Date and Authorization when signed. */
static int request_headers(const struct aws_req *req, struct curl_slist **out)
{
	const struct curl_slist *l;
	struct curl_slist *n;

	*out = NULL;
	for (l = req->headers; l; l = l->next) {
		if (!(n = curl_slist_append(*out, l->data)))
			return PHD_ENOMEM;
		*out = n;
	}
	if (req->sigv4 && req->creds && aws_sigv4_sign(req, time(NULL), out))
		return PHD_ENOMEM;
	return 0;
}

int aws_http(const struct aws_req *req, struct aws_resp *resp)
{
	struct sink s = { &resp->body, 0 };
	struct curl_slist *headers;
	CURLcode cc;
	CURL *c;

	resp->status = 0;
	resp->error[0] = '\0';
	resp->error_type[0] = '\0';
	resp->transient = 0;
	resp->body.max = req->max_body;
	if (request_headers(req, &headers)) {
		aws_headers_free(headers);
		return PHD_ENOMEM;
	}
	c = curl_easy_init();
	if (!c) {
		aws_headers_free(headers);
		return PHD_ENOMEM;
	}
	set_common(c, req, headers, resp, &s);
	cc = curl_easy_perform(c);
	aws_headers_free(headers);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	else if (!resp->error[0])
		strncpy(resp->error, curl_easy_strerror(cc), sizeof resp->error - 1);
	curl_easy_cleanup(c);
	/* an endpoint restarting or behind a load balancer that drops a
	 * connection answers on the next try; a bad name or TLS does not */
	resp->transient = cc == CURLE_COULDNT_CONNECT || cc == CURLE_GOT_NOTHING ||
			  cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
			  cc == CURLE_PARTIAL_FILE;
	if (s.too_big)
		return PHD_ETOOBIG;
	if (cc == CURLE_OPERATION_TIMEDOUT)
		return PHD_ETIMEOUT;
	if (cc != CURLE_OK)
		return PHD_EIO;
	if (sc_buf_terminate(&resp->body))
		return PHD_ENOMEM;
	return 0;
}
