/* Resource quantities and what a pod asks the scheduler for: the
 * arithmetic of the --wait predictions, kept apart from kubectl so that a
 * unit test links it alone (tests/plugins/kube-predict-t.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "predict.h"

/* ---- quantities --------------------------------------------------------- */

/* v * 10^e10 * 2^e2 in *out, rounded up like the API server rounds a
 * quantity finer than a milli-unit; -1 on overflow. */
static int scale(long long v, int e10, int e2, long long *out)
{
	int inexact = 0;

	for (; e2 > 0; e2--)
		if (__builtin_mul_overflow(v, 2, &v))
			return -1;
	for (; e10 > 0; e10--)
		if (__builtin_mul_overflow(v, 10, &v))
			return -1;
	for (; e10 < 0; e10++) {
		inexact |= v % 10 != 0;
		v /= 10;
	}
	*out = v + inexact;
	return 0;
}

int kube_quantity_milli(const char *s, long long *out)
{
	static const struct { const char *sfx; int e10, e2; } units[] = {
		{ "Ki", 0, 10 }, { "Mi", 0, 20 }, { "Gi", 0, 30 }, { "Ti", 0, 40 },
		{ "Pi", 0, 50 }, { "Ei", 0, 60 }, { "n", -9, 0 }, { "u", -6, 0 },
		{ "m", -3, 0 }, { "k", 3, 0 }, { "M", 6, 0 }, { "G", 9, 0 }, { "T", 12, 0 },
		{ "P", 15, 0 }, { "E", 18, 0 }, { "", 0, 0 },
	};
	long long v = 0;
	int frac = 0, digits = 0, e10 = 3, e2 = 0, neg = 0;
	const char *p = s;

	if (!s)
		return -1;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (int dot = 0; isdigit((unsigned char)*p) || (*p == '.' && !dot); p++) {
		if (*p == '.') {
			dot = 1;
			continue;
		}
		/* digits past what a long long holds only add precision: drop them */
		if (v > (__LONG_LONG_MAX__ - 9) / 10) {
			if (!dot)
				e10++;
			continue;
		}
		v = v * 10 + (*p - '0');
		frac += dot;
		digits++;
	}
	if (!digits)
		return -1;
	e10 -= frac;
	if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
	    ((p[1] == '-' || p[1] == '+') && isdigit((unsigned char)p[2])))) {
		char *end;
		long e = strtol(p + 1, &end, 10);
		if (e > 40 || e < -40)
			return -1;
		e10 += (int)e;
		p = end;
	} else {
		size_t i;
		for (i = 0; i < sizeof units / sizeof units[0]; i++)
			if (!strcmp(p, units[i].sfx))
				break;
		if (i == sizeof units / sizeof units[0])
			return -1;
		e10 += units[i].e10;
		e2 = units[i].e2;
		p += strlen(p);
	}
	if (*p || scale(v, e10, e2, out) < 0)
		return -1;
	if (neg)
		*out = -*out;
	return 0;
}

long long kube_sat_add(long long a, long long b)
{
	long long r;

	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? __LONG_LONG_MAX__ : -__LONG_LONG_MAX__ - 1;
	return r;
}

long long kube_sat_mul(long long a, long long b)
{
	long long r;

	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? -__LONG_LONG_MAX__ - 1 : __LONG_LONG_MAX__;
	return r;
}

int kube_quantity_json(json_t *v, long long *out)
{
	char buf[64];

	if (json_is_string(v))
		return kube_quantity_milli(json_string_value(v), out);
	if (json_is_integer(v))
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, sizeof buf, "%.9g", json_real_value(v));
	else
		return -1;
	return kube_quantity_milli(buf, out);
}

/* One container's request for a resource: the request, else the limit
 * (the API server copies a limit into an unset request). */
static long long container_req(json_t *c, const char *res)
{
	json_t *r = json_object_get(c, "resources");
	json_t *v = json_object_get(json_object_get(r, "requests"), res);
	long long q = 0;

	if (!v)
		v = json_object_get(json_object_get(r, "limits"), res);
	if (v && kube_quantity_json(v, &q) < 0)
		q = 0;
	return q < 0 ? 0 : q;
}

void kube_pod_requests(json_t *podspec, struct kube_res *r)
{
	static const char *const res[2] = { "cpu", "memory" };
	long long sum[2] = { 0, 0 }, init[2] = { 0, 0 };
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(podspec, "containers"), i, c)
		for (int k = 0; k < 2; k++)
			sum[k] = kube_sat_add(sum[k], container_req(c, res[k]));
	json_array_foreach(json_object_get(podspec, "initContainers"), i, c)
		for (int k = 0; k < 2; k++) {
			long long q = container_req(c, res[k]);
			/* a sidecar (restartPolicy Always) runs beside the containers */
			if (json_is_string(json_object_get(c, "restartPolicy")) &&
			    !strcmp(json_string_value(json_object_get(c, "restartPolicy")), "Always"))
				sum[k] = kube_sat_add(sum[k], q);
			else if (q > init[k])
				init[k] = q;
		}
	for (int k = 0; k < 2; k++) {
		long long o = 0;
		json_t *ov = json_object_get(json_object_get(podspec, "overhead"), res[k]);
		if (ov && kube_quantity_json(ov, &o) == 0 && o > 0)
			sum[k] = kube_sat_add(sum[k], o);
		if (init[k] > sum[k])
			sum[k] = init[k];
	}
	r->cpu = sum[0];
	r->mem = sum[1];
}
