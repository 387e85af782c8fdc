/* Calling AWS from the check: endpoint resolution as the SDKs do it,
 * SigV4 (plugins/common/aws/sigv4.c), retries of throttling and server
 * errors with backoff inside the check's deadline, and one error note per
 * failed call that names the IAM action when access is denied. */
#include "awsc.h"
#include "deadline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const struct ac_svc ac_rds = { "rds", "RDS", "2014-10-31" };
const struct ac_svc ac_elasticache = { "elasticache", "ELASTICACHE", "2015-02-02" };
const struct ac_svc ac_ec2 = { "ec2", "EC2", "2016-11-15" };
const struct ac_svc ac_kafka = { "kafka", "KAFKA", NULL };
const struct ac_svc ac_eks = { "eks", "EKS", NULL };

#define AC_MAX_ANSWER (8u << 20)

char *ac_enc(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *o = malloc(strlen(s) * 3 + 1), *q = o;

	if (!o)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-_.~", c)) {
			*q++ = (char)c;
		} else {
			*q++ = '%';
			*q++ = hex[c >> 4];
			*q++ = hex[c & 15];
		}
	}
	*q = '\0';
	return o;
}

/* checks.aws.endpoint_url, AWS_ENDPOINT_URL_<SVC>, AWS_ENDPOINT_URL, else
 * the service's regional endpoint; no trailing slash. */
static void base_url(struct ac *a, const struct ac_svc *sv, char *out, size_t n)
{
	char env[64];
	const char *u;
	size_t l;

	snprintf(env, sizeof env, "AWS_ENDPOINT_URL_%s", sv->env);
	u = a->endpoint_url;
	if (!u)
		u = aws_env(env);
	if (!u)
		u = aws_env("AWS_ENDPOINT_URL");
	if (u)
		snprintf(out, n, "%s", u);
	else
		snprintf(out, n, "https://%s.%s.amazonaws.%s", sv->id, a->set.region,
			 strncmp(a->set.region, "cn-", 3) == 0 ? "com.cn" : "com");
	l = strlen(out);
	while (l && out[l - 1] == '/')
		out[--l] = '\0';
}

static int throttled(const char *code)
{
	return code && (!strcmp(code, "Throttling") || !strcmp(code, "ThrottlingException") ||
			!strcmp(code, "RequestLimitExceeded") ||
			!strcmp(code, "TooManyRequestsException") ||
			!strcmp(code, "RequestThrottled"));
}

static int denied(const char *code, long status)
{
	return (code && (!strcmp(code, "AccessDenied") || !strcmp(code, "AccessDeniedException") ||
			 !strcmp(code, "UnauthorizedOperation") ||
			 !strcmp(code, "ForbiddenException"))) ||
	       (!code && status == 403);
}

/* The error code and message of an answer, into code/msg. */
static void error_of(const struct ac_svc *sv, const struct aws_resp *r, char *code, size_t cl,
		     char *msg, size_t ml)
{
	const char *body = r->body.p ? (const char *)r->body.p : "";

	code[0] = msg[0] = '\0';
	if (sv->version) {
		char err[128];
		struct aws_xml *x = aws_xml_parse(body, r->body.len, err, sizeof err);
		const struct aws_xml *e = aws_xml_get(x, "Error");

		if (!e)
			e = aws_xml_get(x, "Errors/Error"); /* EC2 */
		if (aws_xml_text(e, "Code"))
			snprintf(code, cl, "%s", aws_xml_text(e, "Code"));
		if (aws_xml_text(e, "Message"))
			snprintf(msg, ml, "%s", aws_xml_text(e, "Message"));
		aws_xml_free(x);
	} else {
		json_t *o = json_loads(body, 0, NULL);
		const char *m = json_string_value(json_object_get(o, "message"));
		const char *t = json_string_value(json_object_get(o, "__type"));

		if (!m)
			m = json_string_value(json_object_get(o, "Message"));
		if (r->error_type[0])
			snprintf(code, cl, "%s", r->error_type);
		else if (t)
			snprintf(code, cl, "%s", strchr(t, '#') ? strchr(t, '#') + 1 : t);
		if (m)
			snprintf(msg, ml, "%s", m);
		json_decref(o);
	}
}

/* The note for an answer that no retry cures. */
static void final_error(struct ac *a, const struct ac_svc *sv, const char *action,
			const struct aws_resp *r, const char *code, const char *msg)
{
	if (denied(code, r->status))
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s:%s denied (%s): the credentials from %s "
			    "(key %s) lack the IAM permission %s:%s; add it to their policy "
			    "(phdeploy-aws(7) lists the read-only actions): %s", sv->id, action,
			    code[0] ? code : "HTTP 403", a->cr.source, a->cr.akid, sv->id, action,
			    msg[0] ? msg : "(no message)");
	else
		phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s: HTTP %ld %s: %s", sv->id, action,
			    r->status, code[0] ? code : "(no error code)",
			    msg[0] ? msg : "(no message)");
}

/* One call with retries; 0 with a 200 answer in *r, -1 after a note. */
static int call(struct ac *a, const struct ac_svc *sv, const char *action, const char *method,
		const char *url, const char *body, struct aws_resp *r)
{
	struct aws_req req = { 0 };
	struct curl_slist *h = NULL;
	char sig[128], code[128], msg[1024];
	struct sc_buf tok = { 0 };
	long long backoff = 100, t0 = phd_dl_now_ms();
	int attempt, rc = -1;

	snprintf(sig, sizeof sig, "aws:amz:%s:%s", a->set.region, sv->id);
	if (body)
		h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded; "
				      "charset=utf-8");
	else
		h = curl_slist_append(h, "Accept: application/json");
	if (a->cr.token) {
		if (sc_buf_add(&tok, "X-Amz-Security-Token: ", 22) == 0 &&
		    sc_buf_add(&tok, a->cr.token, strlen(a->cr.token)) == 0 &&
		    sc_buf_terminate(&tok) == 0)
			h = curl_slist_append(h, (const char *)tok.p);
		sc_buf_wipe(&tok);
	}
	req.method = method;
	req.url = url;
	req.headers = h;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.sigv4 = sig;
	req.creds = &a->cr;
	req.max_body = AC_MAX_ANSWER;
	for (attempt = 1;; attempt++) {
		long long left = phd_dc_left(&a->dc), wait;
		char why[CURL_ERROR_SIZE + 160];
		struct timespec ts;
		int hrc;

		if (left <= 0) {
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s: no answer within the check's "
				    "deadline (checks.aws.timeout)", sv->id, action);
			break;
		}
		memset(r, 0, sizeof *r);
		req.timeout_ms = left;
		hrc = aws_http(&req, r);
		if (hrc == 0 && r->status == 200) {
			rc = 0;
			break;
		}
		if (hrc == PHD_ETIMEOUT) {
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s at %s: no answer within the check's "
				    "deadline (checks.aws.timeout)", sv->id, action, url);
			break;
		}
		if (hrc == PHD_ETOOBIG) {
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s: the answer is larger than %u MiB",
				    sv->id, action, AC_MAX_ANSWER >> 20);
			break;
		}
		if (hrc && !r->transient) {
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s at %s: %s", sv->id, action, url,
				    r->error[0] ? r->error : phd_strerror(hrc));
			break;
		}
		if (hrc) {
			snprintf(why, sizeof why, "%s", r->error[0] ? r->error : phd_strerror(hrc));
		} else {
			error_of(sv, r, code, sizeof code, msg, sizeof msg);
			if (!(throttled(code) || r->status == 429 || r->status == 503 ||
			      r->status == 500 || r->status == 502 || r->status == 504)) {
				final_error(a, sv, action, r, code, msg);
				break;
			}
			snprintf(why, sizeof why, "HTTP %ld %s", r->status, code[0] ? code : "error");
		}
		/* throttling, server errors and refused or reset connections: backoff
		 * doubles from 100 ms, with jitter, inside the deadline */
		wait = backoff / 2 + (long long)(rand() % (int)(backoff / 2 + 1));
		if (phd_dc_left(&a->dc) <= wait + 50) {
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s (%s %s): %s; still %s after %d "
				    "attempts over %.1f s when the check's deadline came "
				    "(checks.aws.timeout)", sv->id, action, method, url, why,
				    hrc ? "failing" : "throttled or failing", attempt,
				    (double)(phd_dl_now_ms() - t0) / 1000.0);
			break;
		}
		phd_log(phd_check_ctx(a->dc.chk), PHD_LOG_INFO, "%s: %s %s at %s: %s, retrying in "
			"%lld ms", PLUGIN, sv->id, action, url, why, wait);
		aws_resp_wipe(r);
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = (wait % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		if (backoff < 5000)
			backoff *= 2;
	}
	if (rc)
		aws_resp_wipe(r);
	aws_headers_free(h);
	return rc;
}

struct aws_xml *ac_query(struct ac *a, const struct ac_svc *sv, const char *action,
			 const char *form)
{
	char url[1024], err[160];
	struct aws_resp r;
	struct aws_xml *x = NULL;
	char *body;
	size_t n;

	base_url(a, sv, url, sizeof url - 1);
	strcat(url, "/");
	n = strlen(action) + strlen(sv->version) + strlen(form) + 32;
	if (!(body = malloc(n)))
		return NULL;
	snprintf(body, n, "Action=%s&Version=%s%s", action, sv->version, form);
	if (call(a, sv, action, "POST", url, body, &r) == 0) {
		x = aws_xml_parse((const char *)r.body.p, r.body.len, err, sizeof err);
		if (!x)
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s: the answer is not well-formed "
				    "XML: %s", sv->id, action, err);
		aws_resp_wipe(&r);
	}
	free(body);
	return x;
}

json_t *ac_rest(struct ac *a, const struct ac_svc *sv, const char *action, const char *path)
{
	char url[4096];
	struct aws_resp r;
	json_error_t je;
	json_t *o = NULL;

	base_url(a, sv, url, sizeof url - strlen(path) - 1);
	strcat(url, path);
	if (call(a, sv, action, "GET", url, NULL, &r) == 0) {
		o = json_loadb((const char *)r.body.p, r.body.len, 0, &je);
		if (!json_is_object(o)) {
			phd_dc_note(&a->dc, PHD_SEV_ERROR, "%s %s: the answer is not a JSON object%s%s",
				    sv->id, action, o ? "" : ": ", o ? "" : je.text);
			json_decref(o);
			o = NULL;
		}
		aws_resp_wipe(&r);
	}
	return o;
}

int ac_subnet_zones(struct ac *a, const char *const *ids, size_t n, char **zones)
{
	struct sc_buf form = { 0 };
	char *token = NULL;
	size_t i;
	int pages = 0, rc = 0;

	for (i = 0; i < n; i++) {
		char num[48], *e = ac_enc(ids[i]);

		zones[i] = NULL;
		snprintf(num, sizeof num, "&SubnetId.%zu=", i + 1);
		if (!e || sc_buf_add(&form, num, strlen(num)) || sc_buf_add(&form, e, strlen(e))) {
			free(e);
			sc_buf_wipe(&form);
			return -1;
		}
		free(e);
	}
	do {
		struct sc_buf f = { 0 };
		struct aws_xml *x;
		const struct aws_xml *it;

		if (sc_buf_add(&f, form.p, form.len) ||
		    (token && (sc_buf_add(&f, "&NextToken=", 11) ||
			       sc_buf_add(&f, token, strlen(token)))) ||
		    sc_buf_terminate(&f)) {
			sc_buf_wipe(&f);
			rc = -1;
			break;
		}
		x = ac_query(a, &ac_ec2, "DescribeSubnets", (const char *)f.p);
		sc_buf_wipe(&f);
		free(token);
		token = NULL;
		if (!x) {
			rc = -1;
			break;
		}
		for (it = aws_xml_get(x, "subnetSet") ? aws_xml_get(x, "subnetSet")->child : NULL;
		     it; it = it->next) {
			const char *id = aws_xml_text(it, "subnetId");
			const char *az = aws_xml_text(it, "availabilityZone");

			for (i = 0; id && az && i < n; i++)
				if (!strcmp(ids[i], id) && !zones[i])
					zones[i] = strdup(az);
		}
		if (aws_xml_text(x, "nextToken"))
			token = ac_enc(aws_xml_text(x, "nextToken"));
		aws_xml_free(x);
	} while (token && ++pages < 100);
	free(token);
	sc_buf_wipe(&form);
	for (i = 0; rc == 0 && i < n; i++)
		if (!zones[i])
			phd_dc_note(&a->dc, PHD_SEV_WARN, "ec2 DescribeSubnets does not know subnet "
				    "%s: its zone is unknown", ids[i]);
	return rc;
}

size_t ac_distinct(char *const *v, size_t n)
{
	size_t i, j, d = 0;

	for (i = 0; i < n; i++) {
		if (!v[i])
			continue;
		for (j = 0; j < i; j++)
			if (v[j] && !strcmp(v[i], v[j]))
				break;
		d += j == i;
	}
	return d;
}
