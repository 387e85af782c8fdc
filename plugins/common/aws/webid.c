/* Web identity (EKS IRSA): the projected service account token and the
 * role ARN from the environment, exchanged at STS with
 * AssumeRoleWithWebIdentity (an unsigned call; the answer is XML). */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

#define STS_TIMEOUT_MS 10000

/* application/x-www-form-urlencoded: keep RFC 3986 unreserved bytes */
static int form_add(struct sc_buf *b, const char *name, const char *v, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int rc = 0;

	if (b->len)
		rc = sc_buf_add(b, "&", 1);
	if (!rc)
		rc = sc_buf_add(b, name, strlen(name));
	if (!rc)
		rc = sc_buf_add(b, "=", 1);
	for (i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)v[i];
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~')
			rc = sc_buf_add(b, &c, 1);
		else
			rc = sc_buf_add(b, e, 3);
	}
	return rc;
}

/* Text of the first <tag>…</tag> in xml (malloc'd, the five XML entities
 * decoded), or NULL.  STS answers are flat enough for this. */
static char *xml_text(const char *xml, const char *tag)
{
	char open[64], close[64], *out, *o;
	const char *a, *b;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	if (!(a = strstr(xml, open)))
		return NULL;
	a += strlen(open);
	if (!(b = strstr(a, close)))
		return NULL;
	out = o = malloc((size_t)(b - a) + 1);
	if (!out)
		return NULL;
	while (a < b) {
		static const struct { const char *e; char c; } ent[] = {
			{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
			{ "&quot;", '"' }, { "&apos;", '\'' }
		};
		size_t i, done = 0;

		for (i = 0; *a == '&' && i < 5 && !done; i++)
			if (strncmp(a, ent[i].e, strlen(ent[i].e)) == 0) {
				*o++ = ent[i].c;
				a += strlen(ent[i].e);
				done = 1;
			}
		if (!done)
			*o++ = *a++;
	}
	*o = '\0';
	return out;
}

static void sts_url(char *out, size_t n, const char *region)
{
	const char *e = aws_env("AWS_ENDPOINT_URL_STS");

	if (!e)
		e = aws_env("AWS_ENDPOINT_URL");
	if (e)
		snprintf(out, n, "%s", e);
	else if (region)
		snprintf(out, n, "https://sts.%s.amazonaws.%s/", region,
			 strncmp(region, "cn-", 3) == 0 ? "com.cn" : "com");
	else
		snprintf(out, n, "https://sts.amazonaws.com/");
}

static int answer(phd_ctx *ctx, const struct aws_settings *s, const struct aws_resp *r,
		  struct aws_creds *c)
{
	const char *xml = (const char *)r->body.p;
	char *id = NULL, *sk = NULL, *tok = NULL, *code, *msg;
	struct sc_pos pos;
	int rc;

	if (r->status != 200) {
		code = xml_text(xml, "Code");
		msg = xml_text(xml, "Message");
		rc = phd_set_error(ctx, PHD_EPLUGIN, "%s: %s: STS AssumeRoleWithWebIdentity: HTTP "
				   "%ld %s: %s", sc_pos(&pos, s->entry), s->plugin, r->status,
				   code ? code : "error", msg ? msg : "(no message)");
		free(code);
		free(msg);
		return rc;
	}
	id = xml_text(xml, "AccessKeyId");
	sk = xml_text(xml, "SecretAccessKey");
	tok = xml_text(xml, "SessionToken");
	aws_protect(ctx, sk);
	aws_protect(ctx, tok);
	if (!id || !sk || !tok)
		rc = phd_set_error(ctx, PHD_EPLUGIN, "%s: %s: STS answer has no credentials",
				   sc_pos(&pos, s->entry), s->plugin);
	else
		rc = aws_creds_set(c, id, sk, tok, "web identity (STS)") ? PHD_ENOMEM : 1;
	sc_free_str(id);
	sc_free_str(sk);
	sc_free_str(tok);
	return rc;
}

int aws_web_identity(phd_ctx *ctx, const struct aws_settings *s, struct aws_creds *c)
{
	const char *file = aws_env("AWS_WEB_IDENTITY_TOKEN_FILE");
	const char *role = aws_env("AWS_ROLE_ARN");
	const char *session = aws_env("AWS_ROLE_SESSION_NAME");
	struct aws_req req = { 0 };
	struct aws_resp resp;
	struct sc_buf tok = { 0 }, body = { 0 };
	struct sc_pos pos;
	char url[4096];
	int rc;

	if (!file || !role)
		return 0;
	if ((rc = aws_read_file(file, &tok)))
		return phd_set_error(ctx, rc, "%s: %s: cannot read the web identity token %s: %s",
				     sc_pos(&pos, s->entry), s->plugin, file, phd_strerror(rc));
	while (tok.len && strchr(" \t\r\n", tok.p[tok.len - 1]))
		tok.p[--tok.len] = '\0';
	aws_protect(ctx, (const char *)tok.p);
	sts_url(url, sizeof url, s->region);
	if (!aws_url_ok(url, 0)) {
		sc_buf_wipe(&tok);
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: STS endpoint %s must be https "
				     "(http only to loopback)", sc_pos(&pos, s->entry), s->plugin, url);
	}
	if (!session)
		session = "phdeploy-secret-aws";
	rc = form_add(&body, "Action", "AssumeRoleWithWebIdentity", 25);
	if (!rc) rc = form_add(&body, "Version", "2011-06-15", 10);
	if (!rc) rc = form_add(&body, "RoleArn", role, strlen(role));
	if (!rc) rc = form_add(&body, "RoleSessionName", session, strlen(session));
	if (!rc) rc = form_add(&body, "WebIdentityToken", (const char *)tok.p, tok.len);
	sc_buf_wipe(&tok);
	memset(&resp, 0, sizeof resp);
	if (!rc) {
		req.method = "POST";
		req.url = url;
		req.headers = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
		req.body = (const char *)body.p;
		req.body_len = body.len;
		req.timeout_ms = s->timeout_ms ? s->timeout_ms : STS_TIMEOUT_MS;
		rc = aws_http(&req, &resp);
		curl_slist_free_all(req.headers);
		rc = rc ? aws_http_fail(ctx, s, "STS AssumeRoleWithWebIdentity", rc, &resp)
			: answer(ctx, s, &resp, c);
	} else {
		rc = phd_set_error(ctx, rc, "%s: %s: web identity request: %s",
				   sc_pos(&pos, s->entry), s->plugin, phd_strerror(rc));
	}
	sc_buf_wipe(&body);
	aws_resp_wipe(&resp);
	return rc;
}
