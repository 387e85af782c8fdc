/* What the scheduler computes, for the --wait predictions
 * (plugins/kube/sched.c): Kubernetes quantities in milli-units, what a pod
 * asks for, and which nodes it may go to (readiness, cordons, taints and
 * tolerations, node selectors and affinity, label selectors); and which
 * updates the API server refuses (plugins/kube/immutable.c, wait-immutable)
 * on manifests the real chart does not render. */
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

/* Test JSON, freed together at the end (J_free). */
static json_t *pool[128];
static size_t npool;

static json_t *J(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	if (!j)
		tap_diag("bad test JSON: %s", text);
	if (npool < sizeof pool / sizeof pool[0])
		pool[npool++] = j;
	return j;
}

static void J_free(void)
{
	while (npool)
		json_decref(pool[--npool]);
}

/* The refused fields of updating live to want: fires when want_text is
 * not NULL (and the text holds it), stays quiet when it is. */
static void refused_is(json_t *want, json_t *live, const char *want_text, const char *what)
{
	char *t = kube_immutable_refused(want, live);

	if (want_text)
		tap_ok(t && strstr(t, want_text), "%s: refused (%s)", what, t ? t : "nothing");
	else
		tap_ok(!t, "%s: taken (%s)", what, t ? t : "nothing refused");
	free(t);
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

	/* nodes */
	{
		json_t *n = J("{\"metadata\":{\"name\":\"n\",\"labels\":{\"topology.kubernetes.io/zone\":"
			      "\"us-east-1a\",\"disk\":\"ssd\"}},\"spec\":{\"taints\":[{\"key\":"
			      "\"dedicated\",\"value\":\"infra\",\"effect\":\"NoSchedule\"},{\"key\":\"x\","
			      "\"effect\":\"PreferNoSchedule\"}]},\"status\":{\"conditions\":[{\"type\":"
			      "\"Ready\",\"status\":\"True\"}]}}");
		json_t *old = J("{\"metadata\":{\"labels\":{\"failure-domain.beta.kubernetes.io/zone\":"
				"\"b\"}},\"spec\":{\"unschedulable\":true},\"status\":{\"conditions\":"
				"[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
		json_t *down = J("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":"
				 "\"Unknown\"}]}}");
		json_t *none = J("{}");
		json_t *tol_eq = J("{\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"infra\","
				   "\"effect\":\"NoSchedule\"}]}");
		json_t *tol_other = J("{\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"db\"}]}");
		json_t *tol_all = J("{\"tolerations\":[{\"operator\":\"Exists\"}]}");
		json_t *tol_key = J("{\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Exists\","
				    "\"effect\":\"NoExecute\"}]}");
		json_t *sel_ok = J("{\"nodeSelector\":{\"disk\":\"ssd\"}}");
		json_t *sel_no = J("{\"nodeSelector\":{\"disk\":\"hdd\"}}");
		json_t *aff = J("{\"affinity\":{\"nodeAffinity\":{\"requiredDuringScheduling"
				"IgnoredDuringExecution\":{\"nodeSelectorTerms\":[{\"matchExpressions\":"
				"[{\"key\":\"disk\",\"operator\":\"In\",\"values\":[\"nvme\"]}]},"
				"{\"matchExpressions\":[{\"key\":\"topology.kubernetes.io/zone\","
				"\"operator\":\"NotIn\",\"values\":[\"us-east-1b\"]}]}]}}}}");
		json_t *aff_no = J("{\"affinity\":{\"nodeAffinity\":{\"requiredDuringScheduling"
				   "IgnoredDuringExecution\":{\"nodeSelectorTerms\":[{\"matchExpressions\":"
				   "[{\"key\":\"gpu\",\"operator\":\"Exists\"}]}]}}}}");

		tap_is_str(kube_node_zone(n), "us-east-1a", "the zone label");
		tap_is_str(kube_node_zone(old), "b", "the beta failure-domain label when the new one is absent");
		tap_ok(kube_node_zone(none) == NULL, "no zone label: NULL");
		tap_ok(kube_node_ready(n), "Ready True and not cordoned: ready");
		tap_ok(!kube_node_ready(old), "cordoned: not ready for new pods");
		tap_ok(!kube_node_ready(down), "Ready Unknown: not ready");
		tap_ok(!kube_node_ready(none), "no Ready condition: not ready");
		tap_ok(!kube_node_tolerates(n, none), "a NoSchedule taint keeps a pod without tolerations off");
		tap_ok(!kube_node_tolerates(n, NULL), "... and a pod not known at all");
		tap_ok(kube_node_tolerates(n, tol_eq), "a toleration of key, value and effect lets it on");
		tap_ok(!kube_node_tolerates(n, tol_other), "another value does not");
		tap_ok(kube_node_tolerates(n, tol_all), "operator Exists without a key tolerates everything");
		tap_ok(!kube_node_tolerates(n, tol_key), "a toleration of another effect does not");
		tap_ok(kube_node_tolerates(old, none), "PreferNoSchedule and no taints keep nobody off");
		tap_ok(kube_node_admits(n, sel_ok), "a nodeSelector the labels match");
		tap_ok(!kube_node_admits(n, sel_no), "a nodeSelector they do not");
		tap_ok(kube_node_admits(n, aff), "node affinity terms are ORed (NotIn a zone the node is not in)");
		tap_ok(!kube_node_admits(n, aff_no), "Exists on a label the node lacks");
		tap_ok(kube_node_admits(n, none), "no selector: any node");
	}

	/* label selectors (anti-affinity, spread constraints on the pods' own labels) */
	{
		json_t *labels = J("{\"role\":\"web\",\"release\":\"posthog\"}");
		json_t *s1 = J("{\"matchLabels\":{\"role\":\"web\"}}");
		json_t *s2 = J("{\"matchLabels\":{\"role\":\"events\"}}");
		json_t *s3 = J("{\"matchExpressions\":[{\"key\":\"role\",\"operator\":\"In\","
			       "\"values\":[\"web\",\"events\"]},{\"key\":\"tier\",\"operator\":"
			       "\"DoesNotExist\"}]}");
		json_t *s4 = J("{\"matchExpressions\":[{\"key\":\"role\",\"operator\":\"Gt\","
			       "\"values\":[\"1\"]}]}");
		json_t *empty = J("{}");
		tap_ok(kube_selector_matches(s1, labels), "matchLabels that match");
		tap_ok(!kube_selector_matches(s2, labels), "matchLabels that do not");
		tap_ok(kube_selector_matches(s3, labels), "In and DoesNotExist expressions");
		tap_ok(!kube_selector_matches(s4, labels), "an operator labels cannot meet is not met");
		tap_ok(kube_selector_matches(empty, labels), "an empty selector selects every pod");
		tap_ok(!kube_selector_matches(NULL, labels), "an absent one none");
	}
	/* immutable fields: a Service's address */
	{
		json_t *live = J("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},\"spec\":"
				 "{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.0.10\"}}");
		json_t *moved = J("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},\"spec\":"
				  "{\"clusterIP\":\"10.96.0.20\"}}");
		json_t *headless = J("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},"
				     "\"spec\":{\"clusterIP\":\"None\"}}");
		json_t *unset = J("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},\"spec\":"
				  "{\"ports\":[{\"port\":80}]}}");
		json_t *ext = J("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},\"spec\":"
				"{\"type\":\"ExternalName\",\"externalName\":\"x.example\","
				"\"clusterIP\":\"\"}}");
		char fix[700];
		tap_ok(kube_immutable_kind(live), "a Service is compared");
		refused_is(moved, live, "spec.clusterIP: live \"10.96.0.10\", new \"10.96.0.20\"",
			   "a Service's clusterIP changed");
		refused_is(headless, live, "spec.clusterIP: live \"10.96.0.10\", new \"None\"",
			   "a Service made headless");
		refused_is(unset, live, NULL, "a render that sets no clusterIP keeps the live one");
		refused_is(live, live, NULL, "the same clusterIP");
		refused_is(ext, live, NULL, "a Service becoming ExternalName drops its address");
		kube_immutable_fix(moved, "posthog", fix, sizeof fix);
		tap_like(fix, "kubectl delete service web -n posthog", "the fix deletes the Service");
	}
	/* a claim's class and size */
	{
		json_t *live = J("{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"d\"},"
				 "\"spec\":{\"storageClassName\":\"gp2\",\"accessModes\":"
				 "[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":"
				 "\"20Gi\"}},\"volumeName\":\"pv-1\"}}");
		json_t *cls = J("{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"d\"},"
				"\"spec\":{\"storageClassName\":\"gp3\",\"resources\":{\"requests\":"
				"{\"storage\":\"20Gi\"}}}}");
		json_t *small = J("{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"d\"},"
				  "\"spec\":{\"resources\":{\"requests\":{\"storage\":\"10Gi\"}}}}");
		json_t *grow = J("{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"d\"},"
				 "\"spec\":{\"storageClassName\":\"gp2\",\"resources\":{\"requests\":"
				 "{\"storage\":\"30Gi\"}}}}");
		json_t *bytes = J("{\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"d\"},"
				  "\"spec\":{\"resources\":{\"requests\":{\"storage\":"
				  "\"21474836480\"}}}}");
		char fix[700];
		refused_is(cls, live, "spec.storageClassName: live \"gp2\", new \"gp3\"",
			   "a claim's StorageClass changed");
		refused_is(small, live, "spec.resources.requests.storage (a claim cannot shrink): "
			   "live \"20Gi\", new \"10Gi\"", "a smaller claim");
		refused_is(grow, live, NULL, "a larger claim of the same class (expansion)");
		refused_is(bytes, live, NULL, "20Gi written in bytes is the same size");
		kube_immutable_fix(small, "posthog", fix, sizeof fix);
		tap_like(fix, "a new claim needs its data copied", "the fix for a claim");
	}
	/* a Job's pod template */
	{
		json_t *live = J("{\"kind\":\"Job\",\"metadata\":{\"name\":\"backfill\"},\"spec\":"
				 "{\"backoffLimit\":6,\"template\":{\"metadata\":{\"labels\":"
				 "{\"app\":\"backfill\",\"controller-uid\":\"u-1\",\"job-name\":"
				 "\"backfill\"}},\"spec\":{\"restartPolicy\":\"Never\","
				 "\"containers\":[{\"name\":\"b\",\"image\":\"posthog:1.43.0\","
				 "\"terminationMessagePath\":\"/dev/termination-log\"}]}}}}");
		json_t *same = J("{\"kind\":\"Job\",\"metadata\":{\"name\":\"backfill\"},\"spec\":"
				 "{\"template\":{\"metadata\":{\"labels\":{\"app\":\"backfill\"}},"
				 "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":"
				 "\"b\",\"image\":\"posthog:1.43.0\"}]}}}}");
		json_t *img = J("{\"kind\":\"Job\",\"metadata\":{\"name\":\"backfill\"},\"spec\":"
				"{\"template\":{\"metadata\":{\"labels\":{\"app\":\"backfill\"}},"
				"\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":"
				"\"b\",\"image\":\"posthog:1.44.0\"}]}}}}");
		char fix[700];
		tap_ok(kube_immutable_kind(live), "a Job is compared");
		refused_is(img, live, "spec.template (spec.containers[0].image)",
			   "a Job's pod template changed");
		refused_is(same, live, NULL, "the same template: the server's labels and defaults "
			   "are not the render's");
		kube_immutable_fix(img, "posthog", fix, sizeof fix);
		tap_like(fix, "kubectl delete job backfill -n posthog", "the fix deletes the Job");
		tap_ok(!kube_immutable_kind(J("{\"kind\":\"ConfigMap\"}")), "a ConfigMap is not");
	}
	/* which kubectl failures mean no API server answered: kubectl 1.33's
	 * stderr against tests/bin/kube-api (stopped, hanging, no context) */
	{
		static const struct {
			int rc;
			const char *err, *what;
			int want;
		} u[] = {
			{ 0, "Error in configuration: context was not found for specified context: "
			  "nosuch\n", "no such context", 1 },
			{ 0, "context \"nosuch\" does not exist\n", "no such context (-o json)", 1 },
			{ 0, "E1206 08:05:58.664446   30973 memcache.go:265] \"Unhandled Error\" err="
			  "\"couldn't get current server API group list: Get \\\"http://127.0.0.1:1/api"
			  "?timeout=32s\\\": dial tcp 127.0.0.1:1: connect: connection refused\"\n"
			  "The connection to the server 127.0.0.1:1 was refused - did you specify the "
			  "right host or port?\n", "connection refused", 1 },
			{ 0, "Unable to connect to the server: dial tcp: lookup nosuch.invalid on "
			  "10.255.255.53:53: no such host\n", "no such host", 1 },
			{ 0, "Unable to connect to the server: net/http: request canceled "
			  "(Client.Timeout exceeded while awaiting headers)\n", "kubectl's deadline", 1 },
			{ 0, "Unable to connect to the server: context deadline exceeded\n",
			  "kubectl's deadline, other wording", 1 },
			{ 0, "Unable to connect to the server: x509: certificate signed by unknown "
			  "authority\n", "TLS", 1 },
			{ 0, "error: You must be logged in to the server (Unauthorized)\n",
			  "401: no list can be read", 1 },
			{ PHD_ETIMEOUT, NULL, "phdeploy's deadline (kube.timeout)", 1 },
			{ PHD_ENOTFOUND, NULL, "no kubectl", 1 },
			{ 0, "Error from server (Forbidden): pods is forbidden: User \"stand-in\" cannot "
			  "list resource \"pods\" in API group \"\" in the namespace \"default\"\n",
			  "Forbidden: one list refused", 0 },
			{ 0, "Error from server (InternalError): Internal error occurred: failed calling "
			  "webhook: dial tcp 10.0.0.5:443: connect: connection refused\n",
			  "a server's answer quoting a webhook's dial error", 0 },
			{ 0, "error: the server doesn't have a resource type \"limitranges\"\n",
			  "a type the server does not serve", 0 },
			{ 0, "kube: cannot read the jobs: `kubectl get jobs.v1.batch -n posthog -o json` "
			  "exited 1: Error from server (InternalError): Internal error occurred: "
			  "injected fault\n", "kube_fail's message of a server's answer", 0 },
			{ 0, NULL, "nothing said", 0 },
		};
		for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
			tap_is_int(kube_unreachable(u[i].rc, u[i].err, u[i].err ? strlen(u[i].err) : 0),
				   u[i].want, "%s: %s", u[i].want ? "unreachable" : "answered",
				   u[i].what);
	}
	J_free();
	return tap_done();
}
