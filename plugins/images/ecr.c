/* Amazon ECR: a registry that takes basic credentials the AWS credential
 * chain buys from ecr:GetAuthorizationToken ("AWS" and a 12-hour token).
 * The chain and SigV4 are the shared AWS code's (plugins/common/aws). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "aws/aws.h"
#include "images.h"

int img_ecr_region(const char *registry, char *region, size_t len)
{
	/* ACCOUNT.dkr.ecr.REGION.amazonaws.com[.cn] */
	const char *p = strstr(registry, ".dkr.ecr."), *end;

	if (!p || p == registry || strchr(registry, '/'))
		return -1;
	p += 9;
	if (!(end = strchr(p, '.')) || (strcmp(end, ".amazonaws.com") &&
					strcmp(end, ".amazonaws.com.cn")) ||
	    (size_t)(end - p) >= len || end == p)
		return -1;
	memcpy(region, p, (size_t)(end - p));
	region[end - p] = '\0';
	return 0;
}

static int token_creds(const char *b64, char **user, char **pass)
{
	size_t n = strlen(b64);
	unsigned char *raw = calloc(1, n / 4 * 3 + 1);
	char *colon;
	int len;

	if (!raw || !n || n % 4 || (len = EVP_DecodeBlock(raw, (const unsigned char *)b64,
							  (int)n)) < 0) {
		free(raw);
		return -1;
	}
	while (len > 0 && n && b64[n - 1] == '=' && n--)
		len--;
	raw[len] = '\0';
	if (!(colon = strchr((char *)raw, ':'))) {
		oci_free_secret((char *)raw);
		return -1;
	}
	*colon = '\0';
	*user = strdup((char *)raw);
	*pass = strdup(colon + 1);
	oci_free_secret((char *)raw);
	return *user && *pass ? 0 : -1;
}

int img_ecr_login(phd_ctx *ctx, const char *registry, const char *region, long long timeout_ms,
		  char **user, char **pass)
{
	struct aws_settings s = { 0 };
	struct aws_creds cr = { 0 };
	struct aws_req req = { 0 };
	struct aws_resp resp = { 0 };
	const char *ep = aws_env("AWS_ENDPOINT_URL_ECR");
	char url[512], sig[128];
	struct curl_slist *h = NULL, *t;
	json_t *doc = NULL;
	const char *tok;
	int rc;

	*user = *pass = NULL;
	s.plugin = IMG_PLUGIN;
	aws_settings_resolve(&s, NULL, region);  /* the region is the registry's */
	s.timeout_ms = timeout_ms;
	if (!ep)
		ep = aws_env("AWS_ENDPOINT_URL");
	if (ep)
		snprintf(url, sizeof(url), "%s", ep);
	else
		snprintf(url, sizeof(url), "https://api.ecr.%s.amazonaws.com/", region);
	if (!aws_url_ok(url, 0))
		return phd_set_error(ctx, PHD_EINVAL, "%s: ECR endpoint %s must be https", IMG_PLUGIN,
				     url);
	if ((rc = aws_creds_resolve(ctx, &s, &cr)))
		goto out;
	snprintf(sig, sizeof(sig), "aws:amz:%s:ecr", region);
	if ((t = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1")))
		h = t;
	if ((t = curl_slist_append(h, "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921."
				   "GetAuthorizationToken")))
		h = t;
	req.method = "POST";
	req.url = url;
	req.headers = h;
	req.body = "{}";
	req.body_len = 2;
	req.sigv4 = sig;
	req.creds = &cr;
	req.timeout_ms = timeout_ms;
	rc = aws_http(&req, &resp);
	if (rc || resp.status != 200) {
		rc = phd_set_error(ctx, rc ? rc : PHD_EPLUGIN, "%s: ECR GetAuthorizationToken for %s "
				   "(%s) failed: %s", IMG_PLUGIN, registry, region,
				   rc ? (resp.error[0] ? resp.error : phd_strerror(rc))
				      : resp.body.p ? (const char *)resp.body.p : "no answer");
		goto out;
	}
	doc = json_loadb((const char *)resp.body.p, resp.body.len, 0, NULL);
	tok = json_string_value(json_object_get(json_array_get(
		json_object_get(doc, "authorizationData"), 0), "authorizationToken"));
	if (!tok || token_creds(tok, user, pass)) {
		rc = phd_set_error(ctx, PHD_EPLUGIN, "%s: ECR GetAuthorizationToken for %s answered "
				   "no usable authorizationToken", IMG_PLUGIN, registry);
		goto out;
	}
	phd_redact_add(ctx, *pass, strlen(*pass));
	phd_redact_add(ctx, tok, strlen(tok));
	phd_log(ctx, PHD_LOG_DEBUG, "%s: %s: an ECR token (AWS credentials from %s)", IMG_PLUGIN,
		registry, cr.source);
	rc = 0;
out:
	if (doc) {
		json_object_clear(doc);
		json_decref(doc);
	}
	aws_headers_free(h);
	aws_resp_wipe(&resp);
	aws_creds_wipe(&cr);
	free(s.region_owned);
	if (rc) {
		oci_free_secret(*user);
		oci_free_secret(*pass);
		*user = *pass = NULL;
	}
	return rc;
}
