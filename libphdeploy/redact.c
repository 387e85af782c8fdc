/* The redactor: every known secret value is masked in every byte that
 * leaves the library (logs, events, child output, error messages). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

#define PHD_MASK "****"

void phd_wipe(void *p, size_t n)
{
	if (p && n)
		explicit_bzero(p, n);
}

int phd_redactor_add(struct phd_redactor *r, const void *v, size_t len)
{
	unsigned char *copy;
	if (len < PHD_REDACT_MIN)
		return 0; /* too short to mask: not registered (see PHD_REDACT_MIN) */
	for (size_t i = 0; i < r->n; i++)
		if (r->lens[i] == len && !memcmp(r->vals[i], v, len))
			return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		unsigned char **nv = realloc(r->vals, cap * sizeof *nv);
		size_t *nl;
		if (!nv)
			return PHD_ENOMEM;
		r->vals = nv;
		nl = realloc(r->lens, cap * sizeof *nl);
		if (!nl)
			return PHD_ENOMEM;
		r->lens = nl;
		r->cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return PHD_ENOMEM;
	memcpy(copy, v, len);
	copy[len] = '\0';
	r->vals[r->n] = copy;
	r->lens[r->n] = len;
	r->n++;
	return 0;
}

char *phd_redactor_apply(const struct phd_redactor *r, const char *s, size_t len,
			 size_t *outlen)
{
	struct phd_buf b = { 0 };
	size_t i = 0;

	if (!r || r->n == 0) {
		char *c = malloc(len + 1);
		if (!c)
			return NULL;
		memcpy(c, s, len);
		c[len] = '\0';
		if (outlen)
			*outlen = len;
		return c;
	}
	while (i < len) {
		size_t best = 0;
		for (size_t k = 0; k < r->n; k++) {
			if (r->lens[k] > len - i || r->lens[k] <= best)
				continue;
			if ((unsigned char)s[i] == r->vals[k][0] &&
			    !memcmp(s + i, r->vals[k], r->lens[k]))
				best = r->lens[k];
		}
		if (best) {
			if (phd_buf_add(&b, PHD_MASK, sizeof PHD_MASK - 1))
				goto oom;
			i += best;
		} else {
			size_t j = i + 1;
			/* copy a run of bytes that cannot start a secret */
			while (j < len) {
				size_t k;
				for (k = 0; k < r->n; k++)
					if ((unsigned char)s[j] == r->vals[k][0])
						break;
				if (k < r->n)
					break;
				j++;
			}
			if (phd_buf_add(&b, s + i, j - i))
				goto oom;
			i = j;
		}
	}
	if (!b.s && phd_buf_add(&b, "", 0))
		goto oom;
	if (outlen)
		*outlen = b.len;
	return b.s;
oom:
	phd_buf_wipe(&b);
	return NULL;
}

int phd_redactor_hits(const struct phd_redactor *r, const char *s)
{
	for (size_t k = 0; r && s && k < r->n; k++)
		if (strstr(s, (const char *)r->vals[k]))
			return 1;
	return 0;
}

void phd_redactor_free(struct phd_redactor *r)
{
	for (size_t i = 0; i < r->n; i++) {
		phd_wipe(r->vals[i], r->lens[i]);
		free(r->vals[i]);
	}
	free(r->vals);
	free(r->lens);
	memset(r, 0, sizeof *r);
}

/* Percent-encoding as URLs and connection strings carry a value: every
 * byte but RFC 3986's unreserved ones, in upper or lower hex. */
static char *url_encoded(const unsigned char *v, size_t len, int lower)
{
	const char *hex = lower ? "0123456789abcdef" : "0123456789ABCDEF";
	char *out = malloc(len * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}

/* A JSON string's body: quote, backslash and control bytes escaped; go
 * also escapes <, > and & (encoding/json's HTML-safe default, which helm
 * and kubectl print). */
static char *json_escaped(const unsigned char *v, size_t len, int go_html)
{
	char *out = malloc(len * 6 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c == '\n') {
			o += sprintf(o, "\\n");
		} else if (c == '\t') {
			o += sprintf(o, "\\t");
		} else if (c == '\r') {
			o += sprintf(o, "\\r");
		} else if (c < 0x20 || (go_html && (c == '<' || c == '>' || c == '&'))) {
			o += sprintf(o, "\\u%04x", c);
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

static int add_form(struct phd_redactor *r, char *form)
{
	int rc;

	if (!form)
		return PHD_ENOMEM;
	rc = phd_redactor_add(r, form, strlen(form));
	phd_wipe(form, strlen(form));
	free(form);
	return rc;
}

/* The value and the forms children print it in (man/phd_redact_add.3):
 * base64 (Secret data), percent-encoded (URLs), JSON-escaped.  Forms equal
 * to the value itself are not added twice (phd_redactor_add skips them). */
int phd_redactor_add_forms(struct phd_redactor *r, const void *value, size_t len)
{
	int rc = phd_redactor_add(r, value, len);

	if (rc || len < PHD_REDACT_MIN)
		return rc;
	if ((rc = add_form(r, phd_base64(value, len))) ||
	    (rc = add_form(r, url_encoded(value, len, 0))) ||
	    (rc = add_form(r, url_encoded(value, len, 1))) ||
	    (rc = add_form(r, json_escaped(value, len, 0))) ||
	    (rc = add_form(r, json_escaped(value, len, 1))))
		return rc;
	return 0;
}

PHD_EXTERN int phd_redact_add(phd_ctx *ctx, const void *value, size_t len)
{
	if (!ctx || (!value && len))
		return PHD_EINVAL;
	return phd_redactor_add_forms(&ctx->redact, value, len);
}

PHD_EXTERN char *phd_redact(const phd_ctx *ctx, const char *s)
{
	if (!s)
		return NULL;
	return phd_redactor_apply(ctx ? &ctx->redact : NULL, s, strlen(s), NULL);
}
