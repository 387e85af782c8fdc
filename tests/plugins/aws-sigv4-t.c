/* The SigV4 signer of plugins/common/aws/sigv4.c against AWS's published
 * SigV4 test suite (get-vanilla, post-x-www-form-urlencoded, the query
 * ordering case), the documented double encoding of the canonical URI, and
 * the worked example of an MSK ARN path (tests/data/sigv4-arn.creq, as
 * botocore computes it): no curl in between, so the installed libcurl's
 * own SigV4 does not matter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tap/tap.h"
#include "aws/aws.h"

#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z, the suite's date */
#define SUITE_AUTH "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/" \
		   "us-east-1/service/aws4_request, "

static char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
static char akid[] = "AKIDEXAMPLE";

/* The headers aws_sigv4_sign adds for method url (one extra request
 * header, body), as one "X-Amz-Date: ...\nAuthorization: ..." text. */
static char *sign(const char *method, const char *url, const char *header, const char *body,
		  const char *scope)
{
	struct aws_creds cr = { akid, secret, NULL, "test" };
	struct aws_req req = { 0 };
	struct curl_slist *in = NULL, *out = NULL, *l;
	static char text[2048];

	if (header)
		in = curl_slist_append(NULL, header);
	req.method = method;
	req.url = url;
	req.headers = in;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.sigv4 = scope;
	req.creds = &cr;
	text[0] = '\0';
	if (aws_sigv4_sign(&req, SUITE_TIME, &out) == 0)
		for (l = out; l; l = l->next)
			snprintf(text + strlen(text), sizeof text - strlen(text), "%s%s",
				 text[0] ? "\n" : "", l->data);
	curl_slist_free_all(in);
	curl_slist_free_all(out);
	return text;
}

static char *canon_uri(const char *path, int s3)
{
	static char out[512];
	struct sc_buf b = { 0 };

	out[0] = '\0';
	if (aws_sigv4_canonical_uri(path, s3, &b) == 0 && sc_buf_terminate(&b) == 0)
		snprintf(out, sizeof out, "%s", (char *)b.p);
	sc_buf_wipe(&b);
	return out;
}

static char *canon_query(const char *q)
{
	static char out[512];
	struct sc_buf b = { 0 };

	out[0] = '\0';
	if (aws_sigv4_canonical_query(q, &b) == 0 && sc_buf_terminate(&b) == 0 && b.p)
		snprintf(out, sizeof out, "%s", (char *)b.p);
	sc_buf_wipe(&b);
	return out;
}

int main(void)
{
	char path[4096], *creq, *line2, *nl;
	const char *s;

	tap_plan(14);

	/* get-vanilla */
	s = sign("GET", "https://example.amazonaws.com/", NULL, NULL, "aws:amz:us-east-1:service");
	tap_like(s, "X-Amz-Date: 20150830T123600Z", "get-vanilla: X-Amz-Date is the suite's");
	tap_like(s, SUITE_AUTH "SignedHeaders=host;x-amz-date, Signature="
		 "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
		 "get-vanilla: the suite's Authorization header");

	/* get-vanilla-query-order-key-case: the query sorted before signing */
	s = sign("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1", NULL, NULL,
		 "aws:amz:us-east-1:service");
	tap_like(s, "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
		 "get-vanilla-query-order-key-case: the suite's signature");

	/* post-x-www-form-urlencoded: a signed Content-Type and a body */
	s = sign("POST", "https://example.amazonaws.com/",
		 "Content-Type: application/x-www-form-urlencoded", "Param1=value1",
		 "aws:amz:us-east-1:service");
	tap_like(s, SUITE_AUTH "SignedHeaders=content-type;host;x-amz-date, Signature="
		 "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
		 "post-x-www-form-urlencoded: the suite's Authorization header");
	s = sign("POST", "https://example.amazonaws.com/",
		 "Content-Type: application/x-www-form-urlencoded", "Param1=value2",
		 "aws:amz:us-east-1:service");
	tap_unlike(s, "ff11897932ad3f4e", "... another body signs otherwise");

	/* AWS's documented example of the canonical URI: every service but S3
	 * encodes each segment twice */
	tap_is_str(canon_uri("/documents%20and%20settings/", 0), "/documents%2520and%2520settings/",
		   "the documented example: /documents and settings/ encoded twice");
	tap_is_str(canon_uri("/documents%20and%20settings/", 1), "/documents%20and%20settings/",
		   "... once for S3");
	tap_is_str(canon_uri("", 0), "/", "an empty path is /");
	tap_is_str(canon_query("b=2&a=1&A=0&c=x%2By&d=e f"), "A=0&a=1&b=2&c=x%2By&d=e%20f",
		   "the query: sorted by name, values encoded once (%%2B kept, space %%20)");

	/* the MSK ARN path: the worked example (botocore's rules) */
	snprintf(path, sizeof path, "%s/tests/data/sigv4-arn.creq", tap_env("top_srcdir", "."));
	creq = tap_slurp(path, NULL);
	tap_ok(creq != NULL, "the worked example %s is readable", path);
	line2 = creq ? strchr(creq, '\n') : NULL;
	if (line2 && (nl = strchr(++line2, '\n')))
		*nl = '\0';
	tap_is_str(canon_uri("/v1/clusters/arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3A"
			     "cluster%2Fph%2Fabcd-1/bootstrap-brokers", 0),
		   line2 ? line2 : "(unreadable)",
		   "the ARN path's canonical URI is the worked example's (arn%%253Aaws...)");
	free(creq);
	s = sign("GET", "https://kafka.us-east-1.amazonaws.com/v1/clusters/arn%3Aaws%3Akafka%3A"
		 "us-east-1%3A123456789012%3Acluster%2Fph%2Fabcd-1/bootstrap-brokers", NULL, NULL,
		 "aws:amz:us-east-1:kafka");
	tap_like(s, "Credential=AKIDEXAMPLE/20150830/us-east-1/kafka/aws4_request, "
		 "SignedHeaders=host;x-amz-date, Signature="
		 "d00e58cc146aa21fb21590a7067fa1a859a52433c0203582835dc9f1c36750c6",
		 "the ARN request's signature is the worked example's");

	/* the port is part of the signed host, as curl sends it */
	s = sign("GET", "http://127.0.0.1:8080/", NULL, NULL, "aws:amz:us-east-1:service");
	tap_unlike(s, "5fa00fa31553b73e", "a host with a port signs otherwise");
	s = sign("GET", "not a url", NULL, NULL, "aws:amz:us-east-1:service");
	tap_is_str(s, "", "an unusable URL is refused, nothing signed");
	return tap_done();
}
