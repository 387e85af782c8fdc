/* secret-aws: Secrets from AWS Secrets Manager (GetSecretValue over the
 * JSON protocol, SigV4 by libcurl):
 *   {provider: aws, secret_id: prod/posthog/postgres, name: posthog-postgres,
 *    keys: {postgresql-password: password}}
 * See phdeploy-secret-aws(7). */
#include "../common/aws/aws.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../secret-common/jsonmap.h"

#define PLUGIN "secret-aws"
#define DEFAULT_TIMEOUT_MS 10000
#define ATTEMPTS 3


/* Defaults from the plugin's own config block (secret-aws: ...). */
struct defaults {
	const phd_node *config;
};

struct call {
	phd_ctx *ctx;
	const phd_node *entry;
	const char *secret_id, *name, *key;
	const phd_node *keys;
	const char *endpoint;
	char url[2048];
	char sigv4[128];
	struct aws_settings set;
};

static const char *pick(const phd_node *entry, const phd_node *config, const char *key)
{
	const char *v = phd_node_str(phd_node_get(entry, key));

	return v && *v ? v : phd_node_str(phd_node_get(config, key));
}

static int settings(struct call *c, const struct defaults *d)
{
	phd_ctx *ctx = c->ctx;
	struct sc_pos pos;
	const phd_node *t;
	int rc;

	c->set.plugin = PLUGIN;
	c->set.entry = c->entry;
	aws_settings_resolve(&c->set, pick(c->entry, d->config, "profile"),
			     pick(c->entry, d->config, "region"));
	if (!c->set.region || !*c->set.region)
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: no AWS region: set region: in the "
				     "entry or AWS_REGION", sc_pos(&pos, c->entry), PLUGIN);
	if (strspn(c->set.region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(c->set.region))
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: \"%s\" is not an AWS region",
				     sc_pos(&pos, c->entry), PLUGIN, c->set.region);
	t = phd_node_get(c->entry, "timeout") ? c->entry : d->config;
	if ((rc = sc_get_timeout(ctx, PLUGIN, t, "timeout", DEFAULT_TIMEOUT_MS, &c->set.timeout_ms)))
		return rc;
	c->endpoint = pick(c->entry, d->config, "endpoint_url");
	if (!c->endpoint)
		c->endpoint = aws_env("AWS_ENDPOINT_URL_SECRETS_MANAGER");
	if (!c->endpoint)
		c->endpoint = aws_env("AWS_ENDPOINT_URL");
	if (c->endpoint)
		snprintf(c->url, sizeof c->url, "%s", c->endpoint);
	else
		snprintf(c->url, sizeof c->url, "https://secretsmanager.%s.amazonaws.%s/",
			 c->set.region, strncmp(c->set.region, "cn-", 3) == 0 ? "com.cn" : "com");
	if (!aws_url_ok(c->url, 0))
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: endpoint %s must be https "
				     "(http only to loopback)", sc_pos(&pos, c->entry), PLUGIN, c->url);
	snprintf(c->sigv4, sizeof c->sigv4, "aws:amz:%s:secretsmanager", c->set.region);
	return 0;
}

/* Optional string settings must be non-empty strings where present. */
static int check_strings(phd_ctx *ctx, const phd_node *n)
{
	static const char *const keys[] = {
		"region", "endpoint_url", "profile", "version_stage", "version_id", NULL
	};
	const char *s;
	size_t i;
	int rc;

	for (i = 0; keys[i]; i++)
		if ((rc = sc_get_str(ctx, PLUGIN, n, keys[i], 0, &s)))
			return rc;
	return 0;
}

static const struct phd_config_key own_keys[] = {
	{ "region", PHD_CFG_STRING, 0, NULL, NULL },
	{ "endpoint_url", PHD_CFG_STRING, 0, NULL, NULL },
	{ "profile", PHD_CFG_STRING, 0, NULL, NULL },
	{ "timeout", PHD_CFG_DURATION, 0, NULL, NULL },
	PHD_CONFIG_END
};
static const struct phd_config_key entry_decl[] = {
	{ "secret_id", PHD_CFG_STRING, PHD_CFG_REQUIRED, NULL, "the secret's id or ARN" },
	{ "name", PHD_CFG_STRING, PHD_CFG_REQUIRED, NULL, "the Kubernetes Secret's name" },
	{ "keys", PHD_CFG_MAP, 0, NULL, "{KEY: FIELD, ...}" },
	{ "key", PHD_CFG_STRING, 0, NULL, "the key of a plain-string secret" },
	{ "type", PHD_CFG_STRING, 0, NULL, NULL },
	{ "region", PHD_CFG_STRING, 0, NULL, NULL },
	{ "endpoint_url", PHD_CFG_STRING, 0, NULL, NULL },
	{ "profile", PHD_CFG_STRING, 0, NULL, NULL },
	{ "version_stage", PHD_CFG_STRING, 0, NULL, NULL },
	{ "version_id", PHD_CFG_STRING, 0, NULL, NULL },
	{ "timeout", PHD_CFG_DURATION, 0, NULL, NULL },
	PHD_CONFIG_END
};

static int parse_entry(struct call *c)
{
	phd_ctx *ctx = c->ctx;
	struct sc_pos pos;
	int rc;

	if ((rc = sc_check_entry(ctx, PLUGIN, c->entry, entry_decl)) ||
	    (rc = sc_get_str(ctx, PLUGIN, c->entry, "secret_id", 1, &c->secret_id)) ||
	    (rc = sc_get_str(ctx, PLUGIN, c->entry, "name", 1, &c->name)) ||
	    (rc = sc_get_str(ctx, PLUGIN, c->entry, "key", 0, &c->key)) ||
	    (rc = sc_get_keymap(ctx, PLUGIN, c->entry, "keys", 0, &c->keys)) ||
	    (rc = check_strings(ctx, c->entry)))
		return rc;
	if (!phd_is_dns1123_subdomain(c->name))
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: \"%s\" is not a valid Secret name "
				     "(lowercase RFC 1123 subdomain)",
				     sc_pos(&pos, phd_node_get(c->entry, "name")), PLUGIN, c->name);
	if (c->key && c->keys)
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: use key: (the whole secret) or keys: "
				     "(fields of its JSON), not both",
				     sc_pos(&pos, phd_node_get(c->entry, "key")), PLUGIN);
	if (c->key && !sc_valid_key(c->key, strlen(c->key)))
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: \"%s\" is not a valid Secret key",
				     sc_pos(&pos, phd_node_get(c->entry, "key")), PLUGIN, c->key);
	return 0;
}

static char *request_body(const struct call *c)
{
	json_t *o = json_object();
	const char *vs = phd_node_str(phd_node_get(c->entry, "version_stage"));
	const char *vi = phd_node_str(phd_node_get(c->entry, "version_id"));
	char *s;

	json_object_set_new(o, "SecretId", json_string(c->secret_id));
	if (vs)
		json_object_set_new(o, "VersionStage", json_string(vs));
	if (vi)
		json_object_set_new(o, "VersionId", json_string(vi));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static struct curl_slist *headers(const struct aws_creds *cr)
{
	struct curl_slist *h = curl_slist_append(NULL, "X-Amz-Target: secretsmanager.GetSecretValue");
	struct sc_buf t = { 0 };

	h = curl_slist_append(h, "Content-Type: application/x-amz-json-1.1");
	if (cr->token) {
		if (sc_buf_add(&t, "X-Amz-Security-Token: ", 22) == 0 &&
		    sc_buf_add(&t, cr->token, strlen(cr->token)) == 0)
			h = curl_slist_append(h, (const char *)t.p);
		sc_buf_wipe(&t);
	}
	return h;
}

/* A Secrets Manager error answer: {"__type": "...#Code", "message": "..."} */
static int aws_error(const struct call *c, const struct aws_resp *r)
{
	json_t *o = json_loads((const char *)r->body.p, 0, NULL);
	const char *type = json_string_value(json_object_get(o, "__type"));
	const char *msg = json_string_value(json_object_get(o, "message"));
	struct sc_pos pos;
	int rc;

	if (!msg)
		msg = json_string_value(json_object_get(o, "Message"));
	if (type && strchr(type, '#'))
		type = strchr(type, '#') + 1;
	rc = phd_set_error(c->ctx,
			   type && strcmp(type, "ResourceNotFoundException") == 0 ? PHD_ENOTFOUND
										 : PHD_EPLUGIN,
			   "%s: %s: GetSecretValue %s: HTTP %ld %s: %s", sc_pos(&pos, c->entry),
			   PLUGIN, c->secret_id, r->status, type ? type : "error",
			   msg ? msg : "(no message)");
	jm_wipe_decref(o);
	return rc;
}

static int retryable(const struct aws_resp *r, int rc)
{
	if (rc == PHD_EIO)
		return 1;
	if (rc)
		return 0;
	return r->status >= 500 || (r->status == 400 && r->body.p &&
				    strstr((const char *)r->body.p, "ThrottlingException"));
}

static int fetch(struct call *c, const struct aws_creds *cr, struct aws_resp *r)
{
	struct aws_req req = { 0 };
	char *body = request_body(c);
	int rc = PHD_ENOMEM, i;

	req.method = "POST";
	req.url = c->url;
	req.headers = headers(cr);
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.sigv4 = c->sigv4;
	req.creds = cr;
	req.timeout_ms = c->set.timeout_ms;
	for (i = 0; body && req.headers && i < ATTEMPTS; i++) {
		if (i) {
			/* back off 200 ms, then 800 ms: throttling and 5xx are transient */
			struct timespec ts = { 0, 200000000L << (2 * (i - 1)) };

			phd_log(c->ctx, PHD_LOG_INFO, "%s: GetSecretValue %s: retrying (%s)", PLUGIN,
				c->secret_id, r->error[0] ? r->error : "server busy");
			nanosleep(&ts, NULL);
			aws_resp_wipe(r);
		}
		memset(r, 0, sizeof *r);
		rc = aws_http(&req, r);
		if (!retryable(r, rc))
			break;
	}
	aws_headers_free(req.headers);
	free(body);
	return rc;
}

static int add_whole(struct call *c, phd_secret_sink *sink, json_t *doc)
{
	json_t *str = json_object_get(doc, "SecretString");
	json_t *bin = json_object_get(doc, "SecretBinary");
	struct sc_pos pos;
	int rc;

	sc_pos(&pos, c->entry);
	if (json_is_string(str)) {
		rc = phd_secret_add(sink, c->name, c->key, json_string_value(str),
				    json_string_length(str), c->entry);
	} else if (json_is_string(bin)) {
		size_t n = json_string_length(bin), cap = n / 4 * 3 + 3, len, bad;
		unsigned char *tmp = malloc(cap);

		if (!tmp)
			return phd_set_error(c->ctx, PHD_ENOMEM, "out of memory");
		if (sc_b64_decode(tmp, &len, json_string_value(bin), n, &bad))
			rc = PHD_EPLUGIN;
		else
			rc = phd_secret_add(sink, c->name, c->key, tmp, len, c->entry);
		explicit_bzero(tmp, cap);
		free(tmp);
		if (rc == PHD_EPLUGIN)
			return phd_set_error(c->ctx, rc, "%s: %s: SecretBinary of %s is not base64",
					     pos.s, PLUGIN, c->secret_id);
	} else {
		return phd_set_error(c->ctx, PHD_EPLUGIN, "%s: %s: %s has neither SecretString nor "
				     "SecretBinary", pos.s, PLUGIN, c->secret_id);
	}
	if (rc)
		return phd_set_error(c->ctx, rc, "%s: %s: cannot add key \"%s\" to Secret \"%s\"",
				     pos.s, PLUGIN, c->key, c->name);
	return 0;
}

static int use_answer(struct call *c, phd_secret_sink *sink, const struct aws_resp *r)
{
	json_t *doc = json_loads((const char *)r->body.p, 0, NULL);
	json_t *str = json_object_get(doc, "SecretString");
	char origin[600];
	struct sc_pos pos;
	int rc;

	if (!json_is_object(doc)) {
		rc = phd_set_error(c->ctx, PHD_EPLUGIN, "%s: %s: GetSecretValue %s: the answer is "
				   "not a JSON object", sc_pos(&pos, c->entry), PLUGIN, c->secret_id);
	} else if (c->key) {
		rc = add_whole(c, sink, doc);
	} else if (!json_is_string(str)) {
		rc = phd_set_error(c->ctx, PHD_ETYPE, "%s: %s: %s has no SecretString (a binary "
				   "secret needs key:)", sc_pos(&pos, c->entry), PLUGIN,
				   c->secret_id);
	} else {
		struct jm_source src = { PLUGIN, origin, c->entry, c->name, c->keys };

		/* register the whole string first: any later message is masked */
		phd_redact_add(c->ctx, json_string_value(str), json_string_length(str));
		snprintf(origin, sizeof origin, "SecretString of %s", c->secret_id);
		rc = jm_add(c->ctx, sink, &src, json_string_value(str), json_string_length(str));
	}
	jm_wipe_decref(doc);
	return rc;
}

/* libcurl is loaded on first use (lazycurl.c), so not in init: listing
 * or validating never loads it.  fini balances a successful init. */
static int curl_ready;

static int provide(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink,
		   void *userdata)
{
	struct call c;
	struct aws_creds cr;
	struct aws_resp r;
	struct sc_pos pos;
	int rc;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return phd_set_error(ctx, PHD_EPLUGIN, "%s: curl_global_init failed: %s",
					     PLUGIN, curl_easy_strerror(CURLE_FAILED_INIT));
		curl_ready = 1;
	}
	memset(&c, 0, sizeof c);
	memset(&cr, 0, sizeof cr);
	memset(&r, 0, sizeof r);
	c.ctx = ctx;
	c.entry = entry;
	if ((rc = parse_entry(&c)) || (rc = settings(&c, userdata)) ||
	    (rc = phd_secret_declare(sink, c.name, sc_pos(&pos, phd_node_get(entry, "name")))) ||
	    (rc = aws_creds_resolve(ctx, &c.set, &cr)))
		goto out;
	rc = fetch(&c, &cr, &r);
	if (rc)
		rc = aws_http_fail(ctx, &c.set, "GetSecretValue", rc, &r);
	else if (r.status != 200)
		rc = aws_error(&c, &r);
	else if ((rc = use_answer(&c, sink, &r)) == 0)
		rc = sc_forward_type(ctx, PLUGIN, sink, entry, c.name);
	if (rc == 0)
		phd_log(ctx, PHD_LOG_DEBUG, "%s: read %s from Secrets Manager (%s)", PLUGIN,
			c.secret_id, c.set.region);
out:
	aws_resp_wipe(&r);
	aws_creds_wipe(&cr);
	free(c.set.region_owned);
	return rc;
}

static void destroy(void *userdata)
{
	free(userdata);
}

static int init(phd_plugin *p, const phd_node *config)
{
	phd_ctx *ctx = phd_plugin_ctx(p);
	struct defaults *d;
	long long ms;
	int rc;

	if (config && (rc = sc_check_entry(ctx, PLUGIN, config, own_keys)))
		return rc;
	if (config && ((rc = sc_get_timeout(ctx, PLUGIN, config, "timeout", 1, &ms)) ||
		       (rc = check_strings(ctx, config))))
		return rc;
	d = calloc(1, sizeof *d);
	if (!d)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", PLUGIN);
	d->config = config;
	if ((rc = phd_plugin_declare_config(p, NULL, own_keys)) ||
	    (rc = phd_plugin_declare_config(p, "secrets.aws", entry_decl))) {
		destroy(d);
		return rc;
	}
	return phd_register_secret_provider(p, "aws", provide, d, destroy);
}

static void fini(phd_plugin *p)
{
	(void)p;
	if (curl_ready)
		curl_global_cleanup();
	curl_ready = 0;
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("secret-aws", "2.0", init, fini);
