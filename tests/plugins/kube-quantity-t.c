/* Kubernetes quantities as the API server reads them: every suffix, the
 * exponent form, rounding up below a milli, and what is not a quantity. */
#include <stdio.h>

#include "../../plugins/kube/quantity.h"
#include "../tap/tap.h"

static void q_is(const char *s, long long want)
{
	long long v = -12345;
	int rc = kube_quantity_milli(s, &v);
	tap_ok(rc == 0 && v == want, "%s is %lld milli (got rc %d, %lld)", s, want, rc, v);
}

static void q_bad(const char *s)
{
	long long v = 0;
	tap_is_int(kube_quantity_milli(s, &v), -1, "'%s' is not a quantity", s);
}

static void f_is(long long milli, int binary, const char *want)
{
	char buf[64];
	tap_is_str(kube_quantity_format(milli, binary, buf, sizeof buf), want,
		   "%lld milli formats as %s", milli, want);
}

int main(void)
{
	q_is("250m", 250);
	q_is("1", 1000);
	q_is("0.5", 500);
	q_is(".5", 500);
	q_is("1.5Gi", 1610612736000LL);
	q_is("128974848", 128974848000LL);
	q_is("129e6", 129000000000LL);
	q_is("129M", 129000000000LL);
	q_is("123Mi", 128974848000LL);
	q_is("1Ki", 1024000);
	q_is("2k", 2000000);
	q_is("1E-3", 1);
	q_is("100u", 1);          /* 0.1m rounds up to 1m */
	q_is("1n", 1);
	q_is("0", 0);
	q_is("+3", 3000);
	q_is("1Pi", 1125899906842624000LL);
	q_is("0.1", 100);
	q_is("1.0000000000000000000001", 1001);  /* digits past 18 still round up */
	{
		long long a, b;
		kube_quantity_milli("100m", &a);
		kube_quantity_milli("0.3", &b);
		tap_ok(3 * a == b, "3 x 100m equals 0.3 exactly");
	}
	q_bad("");
	q_bad("m");
	q_bad("1.2.3");
	q_bad("12x");
	q_bad("1Gb");
	q_bad("1e");
	q_bad("8Ei");             /* beyond the milli range */
	q_bad("1e40");
	q_bad(" 1");
	f_is(250, 0, "250m");
	f_is(2000, 0, "2");
	f_is(536870912000LL, 1, "512Mi");
	f_is(1610612736000LL, 1, "1.5Gi");
	f_is(1000000000LL, 1, "1000000");
	return tap_done();
}
