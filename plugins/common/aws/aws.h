/* AWS plumbing shared by the secret-aws and aws plugins (compiled into
 * each, nothing exported): HTTP through libcurl with SigV4, the AWS
 * credential chain, the shared config files. */
#ifndef PHD_COMMON_AWS_H
#define PHD_COMMON_AWS_H

#include <stddef.h>
#include <time.h>
#include <curl/curl.h>
#include <phdeploy/plugin.h>

#include "../../secret-common/common.h"

struct aws_resp;

/* Settings for one entry, after entry → plugin config → environment. */
struct aws_settings {
	const char *plugin;        /* for messages: "secret-aws", "aws" */
	const phd_node *entry;
	const char *region;
	const char *profile;      /* config, else $AWS_PROFILE, else "default" */
	int profile_explicit;     /* 0 default, 1 $AWS_PROFILE, 2 phdeploy.yaml */
	char *region_owned;       /* region read from the config file */
	long long timeout_ms;     /* each HTTP call */
};

struct aws_creds {
	char *akid;
	char *secret;             /* registered with the redactor, wiped */
	char *token;              /* session token or NULL; likewise */
	const char *source;       /* "environment", "profile default", ... */
};
void aws_creds_wipe(struct aws_creds *c);

/* Profile (the given one, $AWS_PROFILE, "default") and region (the given
 * one, AWS_REGION, AWS_DEFAULT_REGION, the profile's) as the SDKs find
 * them; s->region may stay NULL. */
void aws_settings_resolve(struct aws_settings *s, const char *profile, const char *region);

/* The chain the AWS SDKs use: environment, web identity (IRSA), shared
 * credentials/config file profile, container (ECS / EKS Pod Identity),
 * IMDSv2.  The first source that is configured answers; if it fails, that
 * is the error (no silent fallback to another identity). */
int aws_creds_resolve(phd_ctx *ctx, struct aws_settings *s, struct aws_creds *out);

/* Web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN → STS
 * AssumeRoleWithWebIdentity) and IMDSv2: 0 when not configured / not
 * reachable, 1 with *c filled, <0 on error (message set). */
int aws_web_identity(phd_ctx *ctx, const struct aws_settings *s, struct aws_creds *c);
int aws_imds(phd_ctx *ctx, const struct aws_settings *s, struct aws_creds *c);

/* Helpers of the credential sources. */
int aws_creds_set(struct aws_creds *c, const char *akid, const char *secret,
		  const char *token, const char *source);
/* Register a credential with the redactor (NULL/empty ignored). */
void aws_protect(phd_ctx *ctx, const char *s);
/* AccessKeyId/SecretAccessKey/Token of an IMDS or container answer: 1, or
 * PHD_EPLUGIN when they are missing (no message set). */
int aws_creds_from_json(phd_ctx *ctx, const char *body, struct aws_creds *c,
			const char *source);
/* Message for a failed call (rc from aws_http, or 0 with a bad status). */
int aws_http_fail(phd_ctx *ctx, const struct aws_settings *s, const char *what, int rc,
		  const struct aws_resp *r);

/* The region from the profile in the shared config file, or NULL
 * (malloc'd). */
char *aws_profile_region(const char *profile);

struct aws_req {
	const char *method;          /* GET, PUT, POST */
	const char *url;
	struct curl_slist *headers;  /* wiped and freed by the caller */
	const char *body;
	size_t body_len;
	const char *sigv4;           /* "aws:amz:REGION:SERVICE" or NULL (sigv4.c) */
	const struct aws_creds *creds;
	long long timeout_ms;
	long long connect_ms;
	size_t max_body;             /* answer size cap (0: SC_MAX_INPUT) */
};

struct aws_resp {
	long status;
	struct sc_buf body;          /* NUL-terminated, wiped by aws_resp_wipe */
	char error_type[128];        /* x-amzn-ErrorType (REST-JSON errors), or "" */
	char error[CURL_ERROR_SIZE];
	int transient;               /* PHD_EIO that a retry may cure (refused, reset) */
};

/* 0 when an HTTP answer came (any status), PHD_ETIMEOUT, PHD_ETOOBIG, or
 * PHD_EIO with resp->error set (connection refused, TLS...) and
 * resp->transient when the connection was refused, reset or cut short.  Sets no ctx
 * error: callers word the message. */
int aws_http(const struct aws_req *req, struct aws_resp *resp);
void aws_resp_wipe(struct aws_resp *resp);
/* SigV4 of req at time now, exactly as AWS computes it (canonical URI
 * encoded again for every service but S3): X-Amz-Date and Authorization
 * appended to *h.  Signs host, x-amz-date and every header of req.
 * 0, or -1 out of memory / unusable URL. */
int aws_sigv4_sign(const struct aws_req *req, time_t now, struct curl_slist **h);
/* Canonical URI of path and canonical query string, appended to out. */
int aws_sigv4_canonical_uri(const char *path, int s3, struct sc_buf *out);
int aws_sigv4_canonical_query(const char *query, struct sc_buf *out);

/* Wipe the header texts (tokens) and free the list. */
void aws_headers_free(struct curl_slist *h);

/* Endpoint URL checks: https, or http to a loopback host (tests, local
 * stacks); link_local also allows http to 169.254.0.0/16 and fd00:ec2::. */
int aws_url_ok(const char *url, int link_local);

/* The answers of the query protocol (xml.c): elements and their text. */
struct aws_xml {
	char *name;                  /* local name as written (AWS uses no prefixes) */
	char *text;                  /* the element's own text, entities decoded */
	struct aws_xml *child, *next;
};
/* Parse n bytes; NULL with err set ("unknown entity at byte 12"). */
struct aws_xml *aws_xml_parse(const char *s, size_t n, char *err, size_t errlen);
void aws_xml_free(struct aws_xml *n);
/* The first element down path ("A/B/C") below n, or NULL. */
const struct aws_xml *aws_xml_get(const struct aws_xml *n, const char *path);
/* Its non-empty text, or NULL. */
const char *aws_xml_text(const struct aws_xml *n, const char *path);

/* Environment variable, NULL when unset or empty. */
const char *aws_env(const char *name);

#endif
