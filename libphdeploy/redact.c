/* The redactor: every known secret value is masked in every byte that
 * leaves the library (logs, events, child output, error messages). */
#include "config.h"

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

PHD_EXTERN int phd_redact_add(phd_ctx *ctx, const void *value, size_t len)
{
	int rc;
	char *b64;
	if (!ctx || (!value && len))
		return PHD_EINVAL;
	rc = phd_redactor_add(&ctx->redact, value, len);
	if (rc == 0 && len >= PHD_REDACT_MIN) {
		b64 = phd_base64(value, len);
		if (!b64)
			return PHD_ENOMEM;
		rc = phd_redactor_add(&ctx->redact, b64, strlen(b64));
		phd_wipe(b64, strlen(b64));
		free(b64);
	}
	return rc;
}

PHD_EXTERN char *phd_redact(const phd_ctx *ctx, const char *s)
{
	if (!s)
		return NULL;
	return phd_redactor_apply(ctx ? &ctx->redact : NULL, s, strlen(s), NULL);
}
