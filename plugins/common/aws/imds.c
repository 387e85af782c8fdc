/* IMDSv2: PUT a session token, then read the instance role's credentials.
 * Not reachable (not on EC2) means "no credentials here", not an error. */
#include "aws.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TIMEOUT_MS 2000
#define IMDS_CONNECT_MS 1000
#define CREDS_PATH "/latest/meta-data/iam/security-credentials/"

static int valid_role(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+=,.@-_",
			    s[i]))
			return 0;
	return 1;
}

static int call(const char *method, const char *url, struct curl_slist *h,
		struct aws_resp *r)
{
	struct aws_req req = { 0 };

	memset(r, 0, sizeof *r);
	req.method = method;
	req.url = url;
	req.headers = h;
	req.timeout_ms = IMDS_TIMEOUT_MS;
	req.connect_ms = IMDS_CONNECT_MS;
	req.max_body = 64 * 1024;
	return aws_http(&req, r);
}

/* the session token as a header line */
static struct curl_slist *token_header(phd_ctx *ctx, struct aws_resp *r)
{
	struct sc_buf h = { 0 };
	const char *t = (const char *)r->body.p;
	struct curl_slist *l = NULL;
	size_t n = strcspn(t, "\r\n");

	if (n && !sc_buf_add(&h, "X-aws-ec2-metadata-token: ", 26) && !sc_buf_add(&h, t, n))
		l = curl_slist_append(NULL, (const char *)h.p);
	aws_protect(ctx, t);
	sc_buf_wipe(&h);
	return l;
}

int aws_imds(phd_ctx *ctx, const struct aws_settings *s, struct aws_creds *c)
{
	const char *off = aws_env("AWS_EC2_METADATA_DISABLED");
	const char *base = aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	struct curl_slist *ttl, *tok;
	struct aws_resp r;
	struct sc_pos pos;
	char url[4096], role[80];
	size_t blen, n;
	int rc;

	if (off && strcasecmp(off, "true") == 0)
		return 0;
	if (!base)
		base = IMDS_DEFAULT;
	blen = strlen(base);
	while (blen && base[blen - 1] == '/')
		blen--;
	snprintf(url, sizeof url, "%.*s/latest/api/token", (int)blen, base);
	if (!aws_url_ok(url, 1))
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: AWS_EC2_METADATA_SERVICE_ENDPOINT "
				     "must be http(s) to a link-local or loopback address",
				     sc_pos(&pos, s->entry), s->plugin);
	ttl = curl_slist_append(NULL, "X-aws-ec2-metadata-token-ttl-seconds: 300");
	rc = call("PUT", url, ttl, &r);
	curl_slist_free_all(ttl);
	if (rc || r.status != 200) {
		phd_log(ctx, PHD_LOG_DEBUG, "%s: no IMDSv2 at %.*s (%s)", s->plugin, (int)blen, base,
			rc ? (r.error[0] ? r.error : phd_strerror(rc)) : "no token");
		aws_resp_wipe(&r);
		return 0;
	}
	tok = token_header(ctx, &r);
	aws_resp_wipe(&r);
	if (!tok)
		return phd_set_error(ctx, PHD_EPLUGIN, "%s: %s: IMDS gave an empty token",
				     sc_pos(&pos, s->entry), s->plugin);
	snprintf(url, sizeof url, "%.*s" CREDS_PATH, (int)blen, base);
	rc = call("GET", url, tok, &r);
	if (rc || r.status != 200) {
		rc = r.status == 404 ? phd_set_error(ctx, PHD_ENOTFOUND, "%s: %s: this instance has "
						     "no IAM role (IMDS)", sc_pos(&pos, s->entry),
						     s->plugin)
				     : aws_http_fail(ctx, s, "IMDS role list", rc, &r);
		goto out;
	}
	n = strcspn((const char *)r.body.p, "\r\n");
	if (!valid_role((const char *)r.body.p, n)) {
		rc = phd_set_error(ctx, PHD_EPLUGIN, "%s: %s: IMDS answered no usable role name",
				   sc_pos(&pos, s->entry), s->plugin);
		goto out;
	}
	snprintf(role, sizeof role, "%.*s", (int)n, (const char *)r.body.p);
	aws_resp_wipe(&r);
	snprintf(url, sizeof url, "%.*s" CREDS_PATH "%s", (int)blen, base, role);
	rc = call("GET", url, tok, &r);
	if (rc || r.status != 200)
		rc = aws_http_fail(ctx, s, "IMDS role credentials", rc, &r);
	else if ((rc = aws_creds_from_json(ctx, (const char *)r.body.p, c, "IMDS")) == PHD_EPLUGIN)
		rc = phd_set_error(ctx, rc, "%s: %s: IMDS credentials of role %s have no keys",
				   sc_pos(&pos, s->entry), s->plugin, role);
out:
	aws_resp_wipe(&r);
	aws_headers_free(tok);
	return rc;
}
