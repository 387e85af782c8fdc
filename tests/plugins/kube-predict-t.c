/* The arithmetic of the --wait predictions (plugins/kube/quantity.c):
 * Kubernetes quantities in milli-units and what a pod asks the scheduler
 * for, as the API server and the scheduler count them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../plugins/kube/predict.h"
#include "../tap/tap.h"

static void q_is(const char *s, long long want)
{
	long long got = -12345;
	int rc = kube_quantity_milli(s, &got);

	tap_ok(rc == 0 && got == want, "quantity \"%s\" is %lld milli-units (got %lld, rc %d)", s,
	       want, got, rc);
}

static void q_bad(const char *s)
{
	long long got;

	tap_is_int(kube_quantity_milli(s, &got), -1, "\"%s\" is not a quantity", s);
}

static void req_is(const char *podspec, long long cpu, long long mem, const char *what)
{
	json_t *spec = json_loads(podspec, 0, NULL);
	struct kube_res r = { -1, -1 };

	kube_pod_requests(spec, &r);
	tap_ok(r.cpu == cpu && r.mem == mem, "%s: cpu %lld, memory %lld (got %lld, %lld)", what,
	       cpu, mem, r.cpu, r.mem);
	json_decref(spec);
}

#define GI (1024LL * 1024 * 1024 * 1000)
#define MI (1024LL * 1024 * 1000)

int main(void)
{
	json_t *v;
	long long got;

	/* cpu */
	q_is("500m", 500);
	q_is("1", 1000);
	q_is("0.5", 500);
	q_is("2.25", 2250);
	q_is("100u", 1);          /* finer than a milli-unit rounds up, as the API server does */
	q_is("0", 0);
	/* memory: binary and decimal suffixes, exponents */
	q_is("1Ki", 1024000);
	q_is("128Mi", 128 * MI);
	q_is("1Gi", GI);
	q_is("1.5Gi", GI + GI / 2);
	q_is("1G", 1000000000000LL);
	q_is("1k", 1000000);
	q_is("1e3", 1000000);
	q_is("1E3", 1000000);
	q_is("5e-1", 500);
	q_is("128974848", 128974848000LL);
	q_is("+1", 1000);
	q_is("4Ti", 4LL * 1024 * GI);
	/* refused, never misread */
	q_bad("");
	q_bad("Gi");
	q_bad("1 Gi");
	q_bad("1gi");
	q_bad("1Gib");
	q_bad("1..5");
	q_bad("9Ei");              /* does not fit in a long long of milli-units */
	q_bad("1e99");
	tap_is_int(kube_quantity_milli(NULL, &got), -1, "NULL is not a quantity");
	/* JSON values: manifests carry `cpu: 1` as a number */
	v = json_integer(2);
	tap_ok(kube_quantity_json(v, &got) == 0 && got == 2000, "the JSON number 2 is 2000m");
	json_decref(v);
	v = json_real(0.25);
	tap_ok(kube_quantity_json(v, &got) == 0 && got == 250, "the JSON number 0.25 is 250m");
	json_decref(v);
	v = json_true();
	tap_is_int(kube_quantity_json(v, &got), -1, "true is not a quantity");
	json_decref(v);

	/* saturating arithmetic */
	tap_is_int(kube_sat_add(__LONG_LONG_MAX__, 1), __LONG_LONG_MAX__, "a sum held at the top");
	tap_is_int(kube_sat_add(-__LONG_LONG_MAX__ - 1, -1), -__LONG_LONG_MAX__ - 1,
		   "a difference held at the bottom");
	tap_is_int(kube_sat_add(5, -7), -2, "a small sum is exact");
	tap_is_int(kube_sat_mul(1LL << 40, 1LL << 40), __LONG_LONG_MAX__, "a product held at the top");
	tap_is_int(kube_sat_mul(-(1LL << 40), 1LL << 40), -__LONG_LONG_MAX__ - 1,
		   "a negative product held at the bottom");
	tap_is_int(kube_sat_mul(3, 500), 1500, "a small product is exact");

	/* pod requests */
	req_is("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}},"
	       "{\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"}}}]}",
	       750, GI + 256 * MI, "containers' requests add up");
	req_is("{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":1,\"memory\":\"2Gi\"}}}]}",
	       1000, 2 * GI, "a limit stands in for an unset request");
	req_is("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}],"
	       "\"initContainers\":[{\"resources\":{\"requests\":{\"cpu\":\"2\",\"memory\":\"64Mi\"}}},"
	       "{\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}",
	       2000, 64 * MI, "the largest init container wins over smaller containers");
	req_is("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}],"
	       "\"initContainers\":[{\"restartPolicy\":\"Always\",\"resources\":{\"requests\":"
	       "{\"cpu\":\"200m\"}}}]}", 300, 0, "a sidecar init container runs beside them");
	req_is("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}],"
	       "\"overhead\":{\"cpu\":\"50m\",\"memory\":\"10Mi\"}}", 150, 10 * MI,
	       "the pod overhead is added");
	req_is("{\"containers\":[{\"name\":\"x\"}]}", 0, 0, "no resources: nothing requested");
	req_is("{\"containers\":[{\"resources\":{\"requests\":{\"memory\":\"5Pi\"}}},"
	       "{\"resources\":{\"requests\":{\"memory\":\"5Pi\"}}}]}", 0, __LONG_LONG_MAX__,
	       "absurd requests add up to the limit, not round a long long");
	req_is("{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"lots\"}}}]}", 0, 0,
	       "a request that is not a quantity counts as nothing");
	return tap_done();
}
