/* Semantic versions as chart repositories use them (semver 2.0 ordering). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helm-private.h"

static int parse_num(const char **p, unsigned long long *out)
{
	const char *s = *p;
	char *end;

	if (!isdigit((unsigned char)*s))
		return PHD_EINVAL;
	/* semver forbids leading zeros; charts in the wild follow it */
	if (s[0] == '0' && isdigit((unsigned char)s[1]))
		return PHD_EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno)
		return PHD_EINVAL;
	*p = end;
	return 0;
}

int semver_parse(struct semver *out, const char *s)
{
	const char *p = s;

	memset(out, 0, sizeof(*out));
	if (!s)
		return PHD_EINVAL;
	if (*p == 'v')
		p++;
	if (parse_num(&p, &out->major) || *p++ != '.' || parse_num(&p, &out->minor) ||
	    *p++ != '.' || parse_num(&p, &out->patch))
		return PHD_EINVAL;
	if (*p == '-') {
		const char *q = ++p;

		while (*q && *q != '+') {
			if (!isalnum((unsigned char)*q) && *q != '-' && *q != '.')
				return PHD_EINVAL;
			q++;
		}
		if (q == p)
			return PHD_EINVAL;
		out->pre = p;
		out->pre_len = (size_t)(q - p);
		p = q;
	}
	if (*p == '+') {
		if (!p[1])
			return PHD_EINVAL;
		p += strlen(p);
	}
	return *p ? PHD_EINVAL : 0;
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* One dot-separated pre-release identifier against another. */
static int ident_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int ad = all_digits(a, an), bd = all_digits(b, bn);

	if (ad && bd) {
		if (an != bn)
			return an < bn ? -1 : 1;
		int c = memcmp(a, b, an);
		return c < 0 ? -1 : c > 0;
	}
	if (ad != bd)
		return ad ? -1 : 1;   /* numeric identifiers sort first */
	size_t m = an < bn ? an : bn;
	int c = memcmp(a, b, m);
	if (c)
		return c < 0 ? -1 : 1;
	return an == bn ? 0 : an < bn ? -1 : 1;
}

static int pre_cmp(const struct semver *a, const struct semver *b)
{
	const char *p = a->pre, *pe = a->pre + a->pre_len;
	const char *q = b->pre, *qe = b->pre + b->pre_len;

	while (p < pe && q < qe) {
		const char *pd = memchr(p, '.', (size_t)(pe - p));
		const char *qd = memchr(q, '.', (size_t)(qe - q));
		size_t pn = (size_t)((pd ? pd : pe) - p), qn = (size_t)((qd ? qd : qe) - q);
		int c = ident_cmp(p, pn, q, qn);

		if (c)
			return c;
		p += pn + (pd != NULL);
		q += qn + (qd != NULL);
	}
	if (p < pe)
		return 1;
	return q < qe ? -1 : 0;
}

int semver_cmp(const struct semver *a, const struct semver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	if (!a->pre || !b->pre)   /* a release sorts after its pre-releases */
		return a->pre ? -1 : b->pre ? 1 : 0;
	return pre_cmp(a, b);
}
