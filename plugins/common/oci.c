/* The OCI distribution API client; see oci.h. */
#include "oci.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "deadline.h"

#define OCI_ERRBODY_MAX ((size_t)64 << 10)
#define OCI_MAX_REDIRS 5L

static const char *const accept_types =
	"Accept: application/vnd.oci.image.index.v1+json, "
	"application/vnd.oci.image.manifest.v1+json, "
	"application/vnd.docker.distribution.manifest.list.v2+json, "
	"application/vnd.docker.distribution.manifest.v2+json";

const char *oci_status_name(int st)
{
	static const char *const names[] = { "ok", "tag not found", "repository not found",
					     "denied", "unreachable", "timed out", "bad answer",
					     "interrupted" };
	return st >= 0 && st <= OCI_INTERRUPTED ? names[st] : "?";
}

void oci_free_secret(char *s)
{
	if (s) {
		volatile char *p = s;
		while (*p)
			*p++ = 0;
		free(s);
	}
}

/* ---- references --------------------------------------------------------- */

void oci_ref_free(struct oci_ref *r)
{
	free(r->registry);
	free(r->host);
	free(r->repo);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

static int all_of(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr(set, s[i]))
			return 0;
	return 1;
}

static int ref_fail(struct oci_ref *r, char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	oci_ref_free(r);
	return -1;
}

int oci_ref_parse(struct oci_ref *r, const char *s, char *err, size_t errlen)
{
	const char *at, *slash, *name, *colon;
	size_t n;

	memset(r, 0, sizeof(*r));
	if (!s || !*s || strlen(s) > 1024 || strpbrk(s, " \t\r\n"))
		return ref_fail(r, err, errlen, "not an image reference");
	n = strlen(s);
	if ((at = strchr(s, '@'))) {
		if (strncmp(at + 1, "sha256:", 7) || strlen(at + 8) != 64 ||
		    !all_of(at + 8, 64, "0123456789abcdef"))
			return ref_fail(r, err, errlen, "the digest is not sha256:<64 hex>");
		if (!(r->digest = strdup(at + 1)))
			return ref_fail(r, err, errlen, "out of memory");
		n = (size_t)(at - s);
	}
	/* the first component is a registry when it looks like a host */
	slash = memchr(s, '/', n);
	if (slash && (memchr(s, '.', (size_t)(slash - s)) || memchr(s, ':', (size_t)(slash - s)) ||
		      (slash - s == 9 && !strncmp(s, "localhost", 9)))) {
		r->registry = strndup(s, (size_t)(slash - s));
		name = slash + 1;
	} else {
		r->registry = strdup("docker.io");
		name = s;
	}
	if (!r->registry)
		return ref_fail(r, err, errlen, "out of memory");
	if (!*r->registry || !all_of(r->registry, strcspn(r->registry, ":"),
				     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ||
	    (strchr(r->registry, ':') && (!strchr(r->registry, ':')[1] ||
					  !all_of(strchr(r->registry, ':') + 1,
						  strlen(strchr(r->registry, ':') + 1), "0123456789"))))
		return ref_fail(r, err, errlen, "the registry is not HOST or HOST:PORT");
	if (!strcmp(r->registry, "index.docker.io") || !strcmp(r->registry, "registry-1.docker.io")) {
		free(r->registry);
		if (!(r->registry = strdup("docker.io")))
			return ref_fail(r, err, errlen, "out of memory");
	}
	n -= (size_t)(name - s);
	/* a tag is after the last ':' of the last path component */
	colon = memchr(name, ':', n);
	if (colon && memchr(colon, '/', n - (size_t)(colon - name)))
		return ref_fail(r, err, errlen, "a ':' inside the repository path");
	if (colon) {
		size_t tl = n - (size_t)(colon + 1 - name);
		if (!tl || tl > 128 || !all_of(colon + 1, tl, "abcdefghijklmnopqrstuvwxyz"
						 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ||
		    colon[1] == '.' || colon[1] == '-')
			return ref_fail(r, err, errlen, "the tag is not [A-Za-z0-9_][A-Za-z0-9_.-]*");
		if (!(r->tag = strndup(colon + 1, tl)))
			return ref_fail(r, err, errlen, "out of memory");
		n = (size_t)(colon - name);
	}
	if (!n || !all_of(name, n, "abcdefghijklmnopqrstuvwxyz0123456789._/-") ||
	    name[0] == '/' || name[n - 1] == '/' || strstr(name, "//"))
		return ref_fail(r, err, errlen, "the repository is not lowercase "
				"[a-z0-9._-] components separated by '/'");
	if (!strcmp(r->registry, "docker.io") && !memchr(name, '/', n)) {
		if (asprintf(&r->repo, "library/%.*s", (int)n, name) < 0)
			r->repo = NULL;
	} else {
		r->repo = strndup(name, n);
	}
	if (!r->tag && !r->digest)
		r->tag = strdup("latest");
	r->host = strdup(!strcmp(r->registry, "docker.io") ? "registry-1.docker.io" : r->registry);
	if (!r->repo || !r->host || (!r->tag && !r->digest))
		return ref_fail(r, err, errlen, "out of memory");
	return 0;
}

char *oci_ref_str(const struct oci_ref *r)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s%s%s%s%s", r->registry, r->repo, r->tag ? ":" : "",
		     r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "") < 0)
		return NULL;
	return s;
}

/* ---- one HTTP exchange ------------------------------------------------------ */

struct answer {
	long code;
	char ctype[128];
	char digest[80];
	char *challenge;          /* WWW-Authenticate of the last response */
	/* body */
	char *p;
	size_t len, max;
	int too_big, io_err;
	int fd;                   /* file sink when >= 0 */
	EVP_MD_CTX *md;           /* hash of the body, when set */
	const struct oci_conn *c;
};

static void answer_clear(struct answer *a)
{
	free(a->challenge);
	free(a->p);
	EVP_MD_CTX_free(a->md);
	memset(a, 0, sizeof(*a));
	a->fd = -1;
}

static void header_value(const char *line, size_t n, char *out, size_t outlen)
{
	const char *v = memchr(line, ':', n);
	size_t len;

	if (!v)
		return;
	v++;
	while (v < line + n && (*v == ' ' || *v == '\t'))
		v++;
	len = (size_t)(line + n - v);
	while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
		len--;
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, v, len);
	out[len] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *payload)
{
	struct answer *a = payload;
	size_t len = size * n;

	if (len >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* a new response (after a redirect): forget the last one's */
		a->ctype[0] = a->digest[0] = '\0';
		free(a->challenge);
		a->challenge = NULL;
	} else if (len > 13 && !strncasecmp(line, "content-type:", 13)) {
		header_value(line, len, a->ctype, sizeof(a->ctype));
		a->ctype[strcspn(a->ctype, ";")] = '\0';
	} else if (len > 22 && !strncasecmp(line, "docker-content-digest:", 22)) {
		header_value(line, len, a->digest, sizeof(a->digest));
	} else if (len > 17 && !strncasecmp(line, "www-authenticate:", 17) && len < 4096) {
		char buf[4096];
		header_value(line, len, buf, sizeof(buf));
		free(a->challenge);
		a->challenge = strdup(buf);
	}
	return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *payload)
{
	struct answer *a = payload;
	size_t add = size * n, off = 0;

	if (add > a->max - a->len) {
		a->too_big = 1;
		return 0;
	}
	if (a->md && !EVP_DigestUpdate(a->md, data, add)) {
		a->io_err = ENOMEM;
		return 0;
	}
	if (a->fd >= 0) {
		while (off < add) {
			ssize_t w = write(a->fd, data + off, add - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				a->io_err = w < 0 ? errno : EIO;
				return 0;
			}
			off += (size_t)w;
		}
		a->len += add;
		return add;
	}
	{
		char *np = realloc(a->p, a->len + add + 1);
		if (!np) {
			a->io_err = ENOMEM;
			return 0;
		}
		a->p = np;
	}
	memcpy(a->p + a->len, data, add);
	a->len += add;
	a->p[a->len] = '\0';
	return add;
}

static int on_progress(void *payload, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct oci_conn *c = payload;

	(void)dt, (void)dn, (void)ut, (void)un;
	return c->interrupted ? c->interrupted(c->payload) : 0;
}

/* One request: method "HEAD" or "GET"; auth: a full "Authorization: ..."
 * header or NULL; basic: send c's credentials as basic auth (the token
 * endpoint).  Returns OCI_OK when an HTTP answer came (any status). */
static int exchange(const struct oci_conn *c, const char *method, const char *url,
		    const char *auth, int basic, const char *accept, struct answer *a,
		    char *msg, size_t msglen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = NULL, *h;
	long long left = phd_dl_left_ms(c->deadline);
	CURL *e;
	CURLcode cc;

	if (left <= 0) {
		snprintf(msg, msglen, "no time left before the deadline");
		return OCI_TIMEOUT;
	}
	if (!(e = curl_easy_init())) {
		snprintf(msg, msglen, "cannot start libcurl");
		return OCI_BAD_ANSWER;
	}
	if (accept && (h = curl_slist_append(hdr, accept)))
		hdr = h;
	if (auth && (h = curl_slist_append(hdr, auth)))
		hdr = h;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, OCI_MAX_REDIRS);
#if LIBCURL_VERSION_NUM >= 0x075500
	/* plain http only for a registry the config names insecure */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->insecure ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, c->insecure ? "http,https" : "https");
#else
	curl_easy_setopt(e, CURLOPT_PROTOCOLS, c->insecure ? (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)
							   : (long)CURLPROTO_HTTPS);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
			 c->insecure ? (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long)CURLPROTO_HTTPS);
#endif
	if (c->cafile)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->cafile);
	if (basic && c->user && c->pass) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(e, CURLOPT_PASSWORD, c->pass);
	}
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent ? c->user_agent : "libphdeploy");
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)a->max);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, (void *)c);
	a->c = c;
	cc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->code);
	curl_easy_cleanup(e);
	curl_slist_free_all(hdr);
	if (a->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(msg, msglen, "the answer to %s %s is larger than %zu KiB: refused", method,
			 url, a->max >> 10);
		return OCI_BAD_ANSWER;
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(msg, msglen, "interrupted");
		return OCI_INTERRUPTED;
	}
	if (a->io_err) {
		snprintf(msg, msglen, "cannot store the answer: %s", strerror(a->io_err));
		return OCI_BAD_ANSWER;
	}
	switch (cc) {
	case CURLE_OK:
		return OCI_OK;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(msg, msglen, "%s %s: no answer before the deadline", method, url);
		return OCI_TIMEOUT;
	case CURLE_TOO_MANY_REDIRECTS:
		snprintf(msg, msglen, "%s %s: more than %ld redirects (a loop?)", method, url,
			 OCI_MAX_REDIRS);
		return OCI_BAD_ANSWER;
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(msg, msglen, "%s %s: %s (plain http is used only for a registry the "
			 "config names insecure)", method, url, *errbuf ? errbuf :
			 curl_easy_strerror(cc));
		return OCI_UNREACHABLE;
	default:
		snprintf(msg, msglen, "%s %s: %s", method, url,
			 *errbuf ? errbuf : curl_easy_strerror(cc));
		return OCI_UNREACHABLE;
	}
}

/* ---- auth ----------------------------------------------------------------- */

/* param="value" of a challenge (malloc'd) or NULL. */
static char *challenge_param(const char *ch, const char *name)
{
	size_t nl = strlen(name);
	const char *p = ch;

	while ((p = strcasestr(p, name))) {
		const char *q = p + nl, *end;
		int boundary = p == ch || p[-1] == ' ' || p[-1] == ',';
		p++;
		if (!boundary || *q != '=')
			continue;
		q++;
		if (*q == '"') {
			q++;
			if (!(end = strchr(q, '"')))
				return NULL;
		} else {
			end = q + strcspn(q, ", ");
		}
		return strndup(q, (size_t)(end - q));
	}
	return NULL;
}

static char *url_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *out;

	if (!e)
		return NULL;
	out = strdup(e);
	curl_free(e);
	return out;
}

/* The token endpoint's URL for a Bearer challenge: its realm (https
 * only, unless the registry is insecure) with service and scope (the
 * repository's pull when the challenge names none).  0 with *realm and
 * *url malloc'd, or an oci_status with msg set. */
static int token_url(const struct oci_conn *c, const char *challenge, const char *repo,
		     char **realm, char **url, char *msg, size_t msglen)
{
	char *service = challenge_param(challenge, "service");
	char *scope = challenge_param(challenge, "scope");
	char *es = NULL, *esc = NULL, *want = NULL;
	int st = OCI_OK;

	*url = NULL;
	*realm = challenge_param(challenge, "realm");
	if (!*realm ||
	    (strncmp(*realm, "https://", 8) && !(c->insecure && !strncmp(*realm, "http://", 7)))) {
		snprintf(msg, msglen, "the registry's token realm %s is not https: no token "
			 "asked for", *realm ? *realm : "(none)");
		st = OCI_DENIED;
		goto out;
	}
	if (!scope && asprintf(&want, "repository:%s:pull", repo) >= 0)
		scope = want, want = NULL;
	es = service ? url_escape(service) : NULL;
	esc = scope ? url_escape(scope) : NULL;
	if (asprintf(url, "%s%s%s%s%s%s", *realm, strchr(*realm, '?') ? "&" : "?",
		     es ? "service=" : "", es ? es : "", esc ? (es ? "&scope=" : "scope=") : "",
		     esc ? esc : "") < 0) {
		*url = NULL;
		snprintf(msg, msglen, "out of memory");
		st = OCI_BAD_ANSWER;
	}
out:
	if (st) {
		free(*realm);
		*realm = NULL;
	}
	free(service);
	free(scope);
	free(want);
	free(es);
	free(esc);
	return st;
}

/* The Authorization header of a token answer's JSON ("token", else
 * "access_token"; one that would break the header line is refused):
 * 0 with *auth malloc'd, or -1. */
static int token_header(const char *body, size_t len, char **auth)
{
	json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
	const char *tok;
	int rc = -1;

	*auth = NULL;
	if (j && ((tok = json_string_value(json_object_get(j, "token"))) ||
		  (tok = json_string_value(json_object_get(j, "access_token")))) && *tok &&
	    !strpbrk(tok, "\r\n") && asprintf(auth, "Authorization: Bearer %s", tok) >= 0)
		rc = 0;
	else
		*auth = NULL;
	if (j) {
		json_object_clear(j);
		json_decref(j);
	}
	return rc;
}

/* The Bearer flow: ask the challenge's realm for a token (with basic
 * credentials when we have them).  *auth gets "Authorization: Bearer ..". */
static int bearer_token(const struct oci_conn *c, const char *challenge, const char *repo,
			char **auth, char *msg, size_t msglen)
{
	char *realm = NULL, *url = NULL;
	struct answer a;
	int st;

	memset(&a, 0, sizeof(a));
	a.fd = -1;
	a.max = OCI_TOKEN_MAX;
	if ((st = token_url(c, challenge, repo, &realm, &url, msg, msglen)))
		return st;
	if ((st = exchange(c, "GET", url, NULL, 1, NULL, &a, msg, msglen)))
		goto out;
	if (a.code == 401 || a.code == 403) {
		snprintf(msg, msglen, "the token endpoint %s refused %s (HTTP %ld)", realm,
			 c->user ? "the credentials" : "an anonymous token", a.code);
		st = OCI_DENIED;
		goto out;
	}
	if (a.code != 200 || token_header(a.p, a.len, auth)) {
		snprintf(msg, msglen, "the token endpoint %s answered HTTP %ld without a token",
			 realm, a.code);
		st = OCI_BAD_ANSWER;
	}
out:
	if (a.p)
		memset(a.p, 0, a.len);
	answer_clear(&a);
	free(realm);
	free(url);
	return st;
}

/* One authenticated request: anonymous first, then what the 401's
 * challenge asks for.  *auth caches the header for the next request. */
static int authed(const struct oci_conn *c, const struct oci_ref *ref, const char *method,
		  const char *url, char **auth, struct answer *a, char *msg, size_t msglen)
{
	size_t max = a->max;
	int fd = a->fd;
	EVP_MD_CTX *md = a->md;
	int st = exchange(c, method, url, *auth, 0, accept_types, a, msg, msglen);

	if (st || a->code != 401 || *auth)
		return st;
	if (a->challenge && !strncasecmp(a->challenge, "Bearer", 6)) {
		char *ch = a->challenge;
		a->challenge = NULL;
		st = bearer_token(c, ch, ref->repo, auth, msg, msglen);
		free(ch);
	} else if (a->challenge && !strncasecmp(a->challenge, "Basic", 5) && c->user && c->pass) {
		char *both = NULL, enc[1024];
		int n;
		if (asprintf(&both, "%s:%s", c->user, c->pass) < 0 || strlen(both) > 700) {
			oci_free_secret(both);
			snprintf(msg, msglen, "credentials too long");
			return OCI_DENIED;
		}
		n = EVP_EncodeBlock((unsigned char *)enc, (unsigned char *)both, (int)strlen(both));
		oci_free_secret(both);
		if (n < 0 || asprintf(auth, "Authorization: Basic %s", enc) < 0)
			*auth = NULL;
		explicit_bzero(enc, sizeof(enc));
	} else {
		snprintf(msg, msglen, "the registry asks for credentials (HTTP 401) and none %s",
			 c->user ? "it accepts were given" : "are known for it");
		return OCI_DENIED;
	}
	if (st)
		return st;
	if (!*auth) {
		snprintf(msg, msglen, "out of memory");
		return OCI_BAD_ANSWER;
	}
	/* the body sink starts over */
	free(a->p);
	a->p = NULL;
	a->len = 0;
	a->code = 0;
	a->max = max;
	a->fd = fd;
	a->md = md;
	if (md && !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		snprintf(msg, msglen, "sha256 failed");
		return OCI_BAD_ANSWER;
	}
	if (fd >= 0 && (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET))) {
		snprintf(msg, msglen, "cannot rewind the download: %s", strerror(errno));
		return OCI_BAD_ANSWER;
	}
	return exchange(c, method, url, *auth, 0, accept_types, a, msg, msglen);
}

/* ---- manifests ------------------------------------------------------------- */

void oci_manifest_clear(struct oci_manifest *m)
{
	free(m->plat);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

static int is_index_type(const char *t)
{
	return !strcmp(t, "application/vnd.oci.image.index.v1+json") ||
	       !strcmp(t, "application/vnd.docker.distribution.manifest.list.v2+json");
}

/* The error code of a registry's JSON error body ("MANIFEST_UNKNOWN"). */
static void error_code(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
	const char *code = json_string_value(json_object_get(
		json_array_get(json_object_get(j, "errors"), 0), "code"));

	snprintf(out, outlen, "%s", code ? code : "");
	json_decref(j);
}

static int parse_platforms(struct oci_manifest *m)
{
	json_t *j = json_loadb(m->body, m->len, 0, NULL);
	json_t *list = json_object_get(j, "manifests");
	size_t i, n = json_is_array(list) ? json_array_size(list) : 0;

	if (!j || !json_is_array(list)) {
		json_decref(j);
		return -1;
	}
	if (n > 1024)
		n = 1024;
	m->plat = calloc(n ? n : 1, sizeof(*m->plat));
	if (!m->plat) {
		json_decref(j);
		return -1;
	}
	for (i = 0; i < n; i++) {
		json_t *p = json_object_get(json_array_get(list, i), "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = json_string_value(json_object_get(p, "architecture"));
		const char *var = json_string_value(json_object_get(p, "variant"));
		if (!os || !arch)
			continue;  /* attestation manifests carry "unknown" or nothing */
		snprintf(m->plat[m->nplat].os, sizeof(m->plat[0].os), "%s", os);
		snprintf(m->plat[m->nplat].arch, sizeof(m->plat[0].arch), "%s", arch);
		snprintf(m->plat[m->nplat].variant, sizeof(m->plat[0].variant), "%s", var ? var : "");
		m->nplat++;
	}
	json_decref(j);
	return 0;
}

static void hex_of(const unsigned char *md, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Up to a few of the repository's tags ("v1, v2"), to say what exists. */
static void some_tags(const char *body, size_t len, char *out, size_t outlen)
{
	json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *tags = json_object_get(j, "tags");
	size_t n = json_is_array(tags) ? json_array_size(tags) : 0, ol = 0;

	*out = '\0';
	for (size_t i = 0; i < n && i < 8 && ol + 80 < outlen; i++) {
		const char *t = json_string_value(json_array_get(tags, i));
		if (t && strlen(t) <= 64)
			ol += (size_t)snprintf(out + ol, outlen - ol, "%s%s", ol ? ", " : "", t);
	}
	if (n > 8 && ol + 8 < outlen)
		snprintf(out + ol, outlen - ol, ", ...");
	json_decref(j);
}

/* 404: which of tag and repository is missing.  The error code of a GET
 * says NAME_UNKNOWN on some registries; the distribution registry answers
 * MANIFEST_UNKNOWN for both, and only its tag list tells them apart. */
static int not_found(const struct oci_conn *c, const struct oci_ref *ref, const char *url,
		     char **auth, struct oci_manifest *m)
{
	struct answer a;
	char code[64] = "", tags[512] = "", *tl = NULL;
	int st;

	memset(&a, 0, sizeof(a));
	a.fd = -1;
	a.max = OCI_ERRBODY_MAX;
	st = authed(c, ref, "GET", url, auth, &a, m->msg, sizeof(m->msg));
	if (!st)
		error_code(a.p, a.len, code, sizeof(code));
	if (!st && strcmp(code, "NAME_UNKNOWN") &&
	    asprintf(&tl, "%s://%s/v2/%s/tags/list?n=50", c->insecure ? "http" : "https",
		     ref->host, ref->repo) >= 0) {
		answer_clear(&a);
		a.max = OCI_ERRBODY_MAX;
		if (!authed(c, ref, "GET", tl, auth, &a, m->msg, sizeof(m->msg))) {
			if (a.code == 404)
				snprintf(code, sizeof(code), "NAME_UNKNOWN");
			else if (a.code == 200)
				some_tags(a.p, a.len, tags, sizeof(tags));
		}
		free(tl);
	}
	answer_clear(&a);
	if (!strcmp(code, "NAME_UNKNOWN")) {
		snprintf(m->msg, sizeof(m->msg), "the registry %s has no repository %s",
			 ref->registry, ref->repo);
		return OCI_NO_REPO;
	}
	snprintf(m->msg, sizeof(m->msg), "the repository %s/%s has no %s %s%s%s", ref->registry,
		 ref->repo, ref->digest ? "manifest" : "tag", ref->digest ? ref->digest : ref->tag,
		 *tags ? "; its tags: " : "", tags);
	return OCI_NO_TAG;
}

static int http_status(struct oci_manifest *m, const struct oci_ref *ref, long code)
{
	m->http = code;
	if (code == 401 || code == 403) {
		snprintf(m->msg, sizeof(m->msg), "the registry %s refuses access to %s (HTTP %ld): "
			 "wrong credentials, or a repository that does not exist", ref->registry,
			 ref->repo, code);
		return OCI_DENIED;
	}
	snprintf(m->msg, sizeof(m->msg), "the registry %s answered HTTP %ld for %s", ref->registry,
		 code, ref->repo);
	return OCI_BAD_ANSWER;
}

int oci_manifest_get(const struct oci_conn *c, const struct oci_ref *ref, int want_body,
		     struct oci_manifest *m)
{
	struct answer a;
	char *url = NULL, *auth = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char got[80];
	int st;

	memset(m, 0, sizeof(*m));
	memset(&a, 0, sizeof(a));
	a.fd = -1;
	a.max = OCI_ERRBODY_MAX;
	if (asprintf(&url, "%s://%s/v2/%s/manifests/%s", c->insecure ? "http" : "https", ref->host,
		     ref->repo, ref->digest ? ref->digest : ref->tag) < 0) {
		snprintf(m->msg, sizeof(m->msg), "out of memory");
		return m->status = OCI_BAD_ANSWER;
	}
	st = authed(c, ref, "HEAD", url, &auth, &a, m->msg, sizeof(m->msg));
	if (st)
		goto out;
	m->http = a.code;
	if (a.code == 404) {
		st = not_found(c, ref, url, &auth, m);
		goto out;
	}
	if (a.code != 200) {
		st = http_status(m, ref, a.code);
		goto out;
	}
	snprintf(m->media_type, sizeof(m->media_type), "%s", a.ctype);
	snprintf(m->digest, sizeof(m->digest), "%s", a.digest);
	m->is_index = is_index_type(a.ctype);
	if (!want_body && !m->is_index && !strncmp(m->digest, "sha256:", 7) &&
	    strlen(m->digest) == 71)
		goto out;
	/* the body: for an index's platforms, for the caller, or to hash it
	 * when the registry sent no Docker-Content-Digest */
	answer_clear(&a);
	a.max = OCI_MANIFEST_MAX;
	if (!(a.md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(a.md, EVP_sha256(), NULL)) {
		snprintf(m->msg, sizeof(m->msg), "sha256 failed");
		st = OCI_BAD_ANSWER;
		goto out;
	}
	if ((st = authed(c, ref, "GET", url, &auth, &a, m->msg, sizeof(m->msg))))
		goto out;
	if (a.code != 200) {
		st = a.code == 404 ? not_found(c, ref, url, &auth, m) : http_status(m, ref, a.code);
		goto out;
	}
	if (!EVP_DigestFinal_ex(a.md, md, &mdlen) || mdlen != 32) {
		snprintf(m->msg, sizeof(m->msg), "sha256 failed");
		st = OCI_BAD_ANSWER;
		goto out;
	}
	memcpy(got, "sha256:", 7);
	hex_of(md, mdlen, got + 7);
	/* the digest names the bytes: a registry that says otherwise (or a
	 * pinned digest that is not what came) is not trusted */
	if ((*m->digest && strcmp(m->digest, got)) || (ref->digest && strcmp(ref->digest, got))) {
		snprintf(m->msg, sizeof(m->msg), "the manifest of %s/%s hashes to %s, not %s",
			 ref->registry, ref->repo, got, ref->digest ? ref->digest : m->digest);
		st = OCI_BAD_ANSWER;
		goto out;
	}
	snprintf(m->digest, sizeof(m->digest), "%s", got);
	snprintf(m->media_type, sizeof(m->media_type), "%s", a.ctype);
	m->is_index = is_index_type(a.ctype);
	m->body = a.p;
	m->len = a.len;
	a.p = NULL;
	if (m->is_index && parse_platforms(m)) {
		snprintf(m->msg, sizeof(m->msg), "the index of %s/%s is not valid JSON with "
			 "manifests[]", ref->registry, ref->repo);
		st = OCI_BAD_ANSWER;
	}
out:
	answer_clear(&a);
	oci_free_secret(auth);
	free(url);
	return m->status = st;
}

/* ---- blobs ------------------------------------------------------------------- */

int oci_blob_get(const struct oci_conn *c, const struct oci_ref *ref, const char *digest,
		 const char *path, size_t max, char *msg, size_t msglen)
{
	struct answer a;
	char *url = NULL, *auth = NULL, got[80];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int st;

	memset(&a, 0, sizeof(a));
	a.max = max;
	if (strncmp(digest, "sha256:", 7) || strlen(digest) != 71) {
		snprintf(msg, msglen, "the layer digest %s is not sha256", digest);
		return OCI_BAD_ANSWER;
	}
	unlink(path);
	a.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (a.fd < 0) {
		snprintf(msg, msglen, "cannot create %s: %s", path, strerror(errno));
		return OCI_BAD_ANSWER;
	}
	if (!(a.md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(a.md, EVP_sha256(), NULL) ||
	    asprintf(&url, "%s://%s/v2/%s/blobs/%s", c->insecure ? "http" : "https", ref->host,
		     ref->repo, digest) < 0) {
		url = NULL;
		snprintf(msg, msglen, "out of memory");
		st = OCI_BAD_ANSWER;
		goto out;
	}
	if ((st = authed(c, ref, "GET", url, &auth, &a, msg, msglen)))
		goto out;
	if (a.code != 200) {
		snprintf(msg, msglen, "GET %s: HTTP %ld", url, a.code);
		st = a.code == 404 ? OCI_NO_TAG : a.code == 401 || a.code == 403 ? OCI_DENIED
										  : OCI_BAD_ANSWER;
		goto out;
	}
	if (!EVP_DigestFinal_ex(a.md, md, &mdlen) || mdlen != 32) {
		snprintf(msg, msglen, "sha256 failed");
		st = OCI_BAD_ANSWER;
		goto out;
	}
	memcpy(got, "sha256:", 7);
	hex_of(md, mdlen, got + 7);
	if (strcmp(got, digest)) {
		snprintf(msg, msglen, "the blob %s downloaded from %s hashes to %s", digest, url, got);
		st = OCI_BAD_ANSWER;
	}
out:
	if (a.fd >= 0 && close(a.fd) && !st) {
		snprintf(msg, msglen, "cannot store %s: %s", path, strerror(errno));
		st = OCI_BAD_ANSWER;
	}
	a.fd = -1;
	if (st)
		unlink(path);
	answer_clear(&a);
	oci_free_secret(auth);
	free(url);
	return st;
}

/* ---- credentials and CAs -------------------------------------------------------- */

char *oci_certs_d_ca(const char *const *dirs, const char *host)
{
	for (size_t i = 0; dirs && dirs[i]; i++) {
		char *p = NULL;
		if (asprintf(&p, "%s/%s/ca.crt", dirs[i], host) < 0)
			return NULL;
		if (!access(p, R_OK))
			return p;
		free(p);
	}
	return NULL;
}

static int decode_auth(const char *b64, char **user, char **pass)
{
	size_t n = strlen(b64);
	unsigned char *out;
	char *colon;
	int len;

	if (!n || n % 4 || n > 8192 || !(out = calloc(1, n / 4 * 3 + 1)))
		return -1;
	len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
	if (len < 0) {
		free(out);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	while (len > 0 && b64[n - 1] == '=' && n--)
		len--;
	out[len] = '\0';
	if (!(colon = strchr((char *)out, ':')) || colon == (char *)out) {
		oci_free_secret((char *)out);
		return -1;
	}
	*colon = '\0';
	*user = strdup((char *)out);
	*pass = strdup(colon + 1);
	explicit_bzero(out, (size_t)len);
	free(out);
	if (!*user || !*pass) {
		oci_free_secret(*user);
		oci_free_secret(*pass);
		return -1;
	}
	return 0;
}

/* "https://index.docker.io/v1/" and "host:port/path" both name a registry. */
static int auths_key_matches(const char *key, const char *registry)
{
	const char *k = key;
	size_t n;

	if (!strncmp(k, "https://", 8))
		k += 8;
	else if (!strncmp(k, "http://", 7))
		k += 7;
	n = strcspn(k, "/");
	if (!strcmp(registry, "docker.io") &&
	    ((n == 15 && !strncmp(k, "index.docker.io", n)) ||
	     (n == 20 && !strncmp(k, "registry-1.docker.io", n))))
		return 1;
	return n == strlen(registry) && !strncmp(k, registry, n);
}

int oci_auth_lookup(const char *json, size_t len, const char *registry, char **user, char **pass)
{
	json_t *j = json_loadb(json, len, 0, NULL), *auths = json_object_get(j, "auths"), *v;
	const char *key;
	int rc = -1;

	*user = *pass = NULL;
	json_object_foreach(auths, key, v) {
		const char *a = json_string_value(json_object_get(v, "auth"));
		const char *u = json_string_value(json_object_get(v, "username"));
		const char *p = json_string_value(json_object_get(v, "password"));
		if (!auths_key_matches(key, registry))
			continue;
		if (a && *a && !decode_auth(a, user, pass)) {
			rc = 0;
			break;
		}
		if (u && p && *u) {
			*user = strdup(u);
			*pass = strdup(p);
			rc = *user && *pass ? 0 : -1;
			break;
		}
	}
	if (j) {
		json_object_clear(j);
		json_decref(j);
	}
	return rc;
}
