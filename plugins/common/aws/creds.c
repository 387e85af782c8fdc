/* The AWS credential chain, in the order the SDKs use: environment, web
 * identity (IRSA), shared files (profile), container (ECS, EKS Pod
 * Identity), IMDSv2.  Every secret part is registered with the redactor as
 * soon as it is known and wiped when done. */
#include "aws.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../secret-common/jsonmap.h"
#include "profile.h"

#define IMDS_DEFAULT "http://169.254.169.254"
#define IMDS_TIMEOUT_MS 2000
#define IMDS_CONNECT_MS 1000

void aws_creds_wipe(struct aws_creds *c)
{
	sc_free_str(c->akid);
	sc_free_str(c->secret);
	sc_free_str(c->token);
	memset(c, 0, sizeof *c);
}

int aws_creds_set(struct aws_creds *c, const char *akid, const char *secret, const char *token,
		const char *source)
{
	c->akid = strdup(akid);
	c->secret = strdup(secret);
	c->token = token && *token ? strdup(token) : NULL;
	c->source = source;
	if (!c->akid || !c->secret || (token && *token && !c->token)) {
		aws_creds_wipe(c);
		return PHD_ENOMEM;
	}
	return 0;
}

void aws_protect(phd_ctx *ctx, const char *s)
{
	if (s && *s)
		phd_redact_add(ctx, s, strlen(s));
}

static int from_env(phd_ctx *ctx, const struct aws_settings *s, struct aws_creds *c)
{
	const char *id = aws_env("AWS_ACCESS_KEY_ID"), *sk = aws_env("AWS_SECRET_ACCESS_KEY");
	struct sc_pos pos;

	if (!id && !sk)
		return 0;
	if (!id || !sk)
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: %s is set but %s is not",
				     sc_pos(&pos, s->entry), s->plugin,
				     id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				     id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	if (aws_creds_set(c, id, sk, aws_env("AWS_SESSION_TOKEN"), "environment"))
		return PHD_ENOMEM;
	return 1;
}

static int from_profile(phd_ctx *ctx, const struct aws_settings *s, struct aws_creds *c)
{
	static const char *const keys[] = {
		"aws_access_key_id", "aws_secret_access_key", "aws_session_token",
		"role_arn", "credential_process", "sso_session", "sso_start_url", NULL
	};
	const char *profile = s->profile;
	char cred_path[4096], conf_path[4096], *v[8];
	int found = 0, rc = 0, pass;
	struct sc_pos pos;
	size_t i;

	aws_file_path(cred_path, sizeof cred_path, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
	aws_file_path(conf_path, sizeof conf_path, "AWS_CONFIG_FILE", "config");
	for (pass = 0; pass < 2 && rc == 0; pass++) {
		int f = aws_ini_lookup(pass ? conf_path : cred_path, profile, pass, keys, v);

		if (f < 0)
			return phd_set_error(ctx, f, "%s: %s: cannot read %s", sc_pos(&pos, s->entry),
					     s->plugin, pass ? conf_path : cred_path);
		found |= f;
		if (v[0] && v[1]) {
			aws_protect(ctx, v[1]);
			aws_protect(ctx, v[2]);
			rc = aws_creds_set(c, v[0], v[1], v[2], pass ? "config file profile"
							    : "shared credentials file") ? PHD_ENOMEM : 1;
		} else {
			for (i = 3; i < 7 && rc == 0; i++)
				if (v[i])
					rc = phd_set_error(ctx, PHD_EINVAL,
							   "%s: %s: profile \"%s\" uses %s, which "
							   "phdeploy does not support (export "
							   "credentials or use IRSA)", sc_pos(&pos, s->entry),
							   s->plugin, profile, keys[i]);
		}
		for (i = 0; keys[i]; i++)
			sc_free_str(v[i]);
	}
	if (rc == 0 && !found && s->profile_explicit)
		return phd_set_error(ctx, PHD_ENOTFOUND, "%s: %s: AWS profile \"%s\" is in neither "
				     "%s nor %s", sc_pos(&pos, s->entry), s->plugin, profile, cred_path,
				     conf_path);
	return rc;
}

/* Pull AccessKeyId / SecretAccessKey / Token out of the JSON answer of
 * IMDS or a container endpoint. */
int aws_creds_from_json(phd_ctx *ctx, const char *body, struct aws_creds *c,
			const char *source)
{
	json_t *root = json_loads(body, 0, NULL);
	const char *id, *sk, *tok;
	int rc = PHD_EPLUGIN;

	id = json_string_value(json_object_get(root, "AccessKeyId"));
	sk = json_string_value(json_object_get(root, "SecretAccessKey"));
	tok = json_string_value(json_object_get(root, "Token"));
	if (id && sk) {
		aws_protect(ctx, sk);
		aws_protect(ctx, tok);
		rc = aws_creds_set(c, id, sk, tok, source) ? PHD_ENOMEM : 1;
	}
	jm_wipe_decref(root);
	return rc;
}

int aws_http_fail(phd_ctx *ctx, const struct aws_settings *s, const char *what, int rc,
		  const struct aws_resp *r)
{
	struct sc_pos pos;

	if (rc == 0)
		return phd_set_error(ctx, PHD_EPLUGIN, "%s: %s: %s answered HTTP %ld",
				     sc_pos(&pos, s->entry), s->plugin, what, r->status);
	return phd_set_error(ctx, rc, "%s: %s: %s: %s", sc_pos(&pos, s->entry), s->plugin, what,
			     rc == PHD_ETIMEOUT ? "timed out" : r->error[0] ? r->error
									  : phd_strerror(rc));
}

static int container(phd_ctx *ctx, const struct aws_settings *s, struct aws_creds *c)
{
	const char *rel = aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tokfile = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tokenv = aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	struct aws_req req = { 0 };
	struct aws_resp resp;
	struct sc_buf tok = { 0 };
	struct sc_pos pos;
	char url[4096];
	int rc;

	if (!rel && !full)
		return 0;
	if (rel)
		snprintf(url, sizeof url, "http://169.254.170.2%s", rel);
	else
		snprintf(url, sizeof url, "%s", full);
	if (!aws_url_ok(url, 1))
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: container credentials URL %s must be "
				     "https, loopback or link-local", sc_pos(&pos, s->entry),
				     s->plugin, url);
	if (tokfile && (rc = aws_read_file(tokfile, &tok)))
		return phd_set_error(ctx, rc, "%s: %s: cannot read %s", sc_pos(&pos, s->entry),
				     s->plugin, tokfile);
	if (tokfile || tokenv) {
		struct sc_buf h = { 0 };
		const char *t = tokfile ? (const char *)tok.p : tokenv;
		size_t n = strcspn(t, "\r\n");

		aws_protect(ctx, t);
		if (sc_buf_add(&h, "Authorization: ", 15) || sc_buf_add(&h, t, n) ||
		    !(req.headers = curl_slist_append(NULL, (const char *)h.p))) {
			sc_buf_wipe(&h);
			sc_buf_wipe(&tok);
			return phd_set_error(ctx, PHD_ENOMEM, "out of memory");
		}
		sc_buf_wipe(&h);
	}
	sc_buf_wipe(&tok);
	memset(&resp, 0, sizeof resp);
	req.method = "GET";
	req.url = url;
	req.timeout_ms = IMDS_TIMEOUT_MS;
	req.connect_ms = IMDS_CONNECT_MS;
	req.max_body = 64 * 1024;
	rc = aws_http(&req, &resp);
	aws_headers_free(req.headers);
	if (rc || resp.status != 200)
		rc = aws_http_fail(ctx, s, "container credentials endpoint", rc, &resp);
	else if ((rc = aws_creds_from_json(ctx, (const char *)resp.body.p, c,
				       "container credentials")) == PHD_EPLUGIN)
		rc = phd_set_error(ctx, rc, "%s: %s: container credentials answer has no keys",
				   sc_pos(&pos, s->entry), s->plugin);
	aws_resp_wipe(&resp);
	return rc;
}

void aws_settings_resolve(struct aws_settings *s, const char *profile, const char *region)
{
	s->profile = profile;
	s->profile_explicit = profile ? 2 : 0;
	if (!profile && (s->profile = aws_env("AWS_PROFILE")))
		s->profile_explicit = 1;
	if (!s->profile)
		s->profile = "default";
	s->region = region;
	if (!s->region)
		s->region = aws_env("AWS_REGION");
	if (!s->region)
		s->region = aws_env("AWS_DEFAULT_REGION");
	if (!s->region)
		s->region = s->region_owned = aws_profile_region(s->profile);
}

int aws_creds_resolve(phd_ctx *ctx, struct aws_settings *s, struct aws_creds *out)
{
	struct sc_pos pos;
	int rc;

	memset(out, 0, sizeof *out);
	/* a profile named in phdeploy.yaml wins over ambient credentials, as
	 * an SDK session created with an explicit profile does */
	if (s->profile_explicit != 2) {
		if ((rc = from_env(ctx, s, out)) != 0)
			goto done;
		if ((rc = aws_web_identity(ctx, s, out)) != 0)
			goto done;
	}
	if ((rc = from_profile(ctx, s, out)) != 0)
		goto done;
	if ((rc = container(ctx, s, out)) != 0)
		goto done;
	if ((rc = aws_imds(ctx, s, out)) != 0)
		goto done;
	return phd_set_error(ctx, PHD_ENOTFOUND,
			     "%s: %s: no AWS credentials: none in the environment "
			     "(AWS_ACCESS_KEY_ID), no web identity (AWS_WEB_IDENTITY_TOKEN_FILE), "
			     "none in the profile, no container endpoint, %s",
			     sc_pos(&pos, s->entry), s->plugin,
			     aws_env("AWS_EC2_METADATA_DISABLED") ? "IMDS disabled"
								 : "no instance metadata service");
done:
	if (rc < 0)
		return rc;
	aws_protect(ctx, out->secret);
	aws_protect(ctx, out->token);
	phd_log(ctx, PHD_LOG_DEBUG, "%s: using AWS credentials from %s (key id %s)", s->plugin,
		out->source, out->akid);
	return 0;
}
