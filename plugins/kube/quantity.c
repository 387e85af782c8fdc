/* Kubernetes resource quantities: <signed decimal><suffix>, the suffix a
 * binary SI (Ki..Ei), a decimal SI (n u m "" k M G T P E) or an exponent
 * (e3, E-2).  Integer arithmetic with overflow checks throughout. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "quantity.h"

static const struct {
	const char *sfx;
	int pow10;        /* decimal suffix: 10^pow10 */
	int pow2;         /* binary suffix: 2^pow2 (pow10 unused) */
} suffixes[] = {
	{ "Ki", 0, 10 }, { "Mi", 0, 20 }, { "Gi", 0, 30 }, { "Ti", 0, 40 },
	{ "Pi", 0, 50 }, { "Ei", 0, 60 },
	{ "n", -9, 0 }, { "u", -6, 0 }, { "m", -3, 0 }, { "", 0, 0 }, { "k", 3, 0 },
	{ "M", 6, 0 }, { "G", 9, 0 }, { "T", 12, 0 }, { "P", 15, 0 }, { "E", 18, 0 },
};

/* v * 10^e, rounded up when e < 0; -1 on overflow. */
static int scale10(long long v, int e, long long *out)
{
	for (; e > 0; e--)
		if (__builtin_mul_overflow(v, 10LL, &v))
			return -1;
	for (; e < 0; e++) {
		long long q = v / 10, r = v % 10;
		v = q + (r > 0);
		if (v == 0 && r == 0)
			break;
	}
	*out = v;
	return 0;
}

int kube_quantity_milli(const char *s, long long *out)
{
	long long mant = 0, v;
	int neg = 0, frac = 0, ndig = 0, exp10 = 0, pow2 = 0, sig = 0, lost = 0;
	const char *p = s;
	size_t i;

	if (!s || !out)
		return -1;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (int seen_dot = 0; isdigit((unsigned char)*p) || (*p == '.' && !seen_dot); p++) {
		if (*p == '.') {
			seen_dot = 1;
			continue;
		}
		ndig++;
		if (mant == 0 && *p == '0' && !seen_dot)
			continue;
		/* digits beyond 18 significant ones would overflow: drop them,
		 * keeping the scale, and round up below */
		if (sig >= 18) {
			if (!seen_dot)
				exp10++;
			lost |= *p != '0';
			continue;
		}
		mant = mant * 10 + (*p - '0');
		sig += mant != 0;
		if (seen_dot)
			frac++;
	}
	if (ndig == 0)
		return -1;
	mant += lost;  /* up: a request must never look smaller than it is */
	if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
					 ((p[1] == '-' || p[1] == '+') && isdigit((unsigned char)p[2])))) {
		int eneg = 0, e = 0;
		p++;
		if (*p == '+' || *p == '-')
			eneg = *p++ == '-';
		for (; isdigit((unsigned char)*p); p++) {
			e = e * 10 + (*p - '0');
			if (e > 40)
				return -1;
		}
		exp10 = eneg ? -e : e;
		if (*p)
			return -1;
	} else {
		for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
			if (!strcmp(p, suffixes[i].sfx))
				break;
		if (i == sizeof suffixes / sizeof suffixes[0])
			return -1;
		exp10 = suffixes[i].pow10;
		pow2 = suffixes[i].pow2;
	}
	/* mant * 2^pow2 first (exact), then the decimal scale with milli (+3) */
	v = mant;
	for (; pow2 > 0; pow2--)
		if (__builtin_mul_overflow(v, 2LL, &v))
			return -1;
	if (scale10(v, exp10 - frac + 3, &v) < 0 || v > 9200000000000000000LL / 1000 * 1000)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

char *kube_quantity_format(long long milli, int binary, char *buf, size_t cap)
{
	static const char *const bin[] = { "Ei", "Pi", "Ti", "Gi", "Mi", "Ki" };
	long long units;

	if (milli % 1000) {
		snprintf(buf, cap, "%lldm", milli);
		return buf;
	}
	units = milli / 1000;
	if (binary)
		for (int i = 0; i < 6; i++) {
			long long m = 1LL << (10 * (6 - i));
			/* a tenth is precise enough for a message, not for arithmetic */
			if (units >= m && (units * 10) % m == 0) {
				if (units % m == 0)
					snprintf(buf, cap, "%lld%s", units / m, bin[i]);
				else
					snprintf(buf, cap, "%lld.%lld%s", units / m, (units % m) * 10 / m,
						 bin[i]);
				return buf;
			}
		}
	snprintf(buf, cap, "%lld", units);
	return buf;
}
