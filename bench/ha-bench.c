/* Benchmark of the ha plugin's render-phase validation (not a test).
 *
 * For two inputs, the real PostHog chart rendered by helm and a synthetic
 * 50 MB manifest stream, it times:
 *   scan      a bare libyaml event scan of the bytes (the floor: reading YAML)
 *   validate  phd_set_documents (the core's parse) + every render validator
 *             of the ha plugin, through phd_run(render)
 *   helm      `helm template` alone (real chart only)
 * and prints the ratios side by side.  Best of N runs.
 *
 *   make bench-ha         or   bench/ha-bench VALUES.yaml [MB]
 * Needs PHDEPLOY_PLUGIN_PATH with ha.so; PHD_FIXTURES and PHD_TOOLS for
 * the real chart (skipped when absent). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include <phdeploy/plugin.h>

struct feed {
	const char *buf;
	size_t len;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long scan(const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	long events = 0;
	int done = 0;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			events = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		events++;
	}
	yaml_parser_delete(&p);
	return events;
}

static int feed_render(phd_ctx *ctx, int phase, void *ud)
{
	struct feed *f = ud;

	return phd_set_documents(ctx, phase, f->buf, f->len, "bench");
}

/* One validation run; returns seconds or -1. */
static double validate(const char *cfg, const char *buf, size_t len, size_t *nfind)
{
	struct phd_options opts = PHD_OPTIONS_INIT;
	struct feed f = { buf, len };
	phd_ctx *ctx = NULL;
	phd_plugin *p;
	double t0, t;
	int rc;

	opts.config_path = cfg;
	opts.flags = PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	if (phd_ctx_new(&ctx, &opts) < 0 || phd_ctx_load(ctx) < 0 ||
	    phd_ctx_add_plugin(&p, ctx, "bench-feed", "1") < 0 ||
	    phd_register_phase_handler(p, PHD_PHASE_RENDER, feed_render, &f, NULL) < 0) {
		fprintf(stderr, "ha-bench: %s\n", ctx ? phd_ctx_errmsg(ctx) : "out of memory");
		phd_ctx_free(ctx);
		return -1;
	}
	t0 = now();
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_RENDER));
	t = now() - t0;
	*nfind = phd_ctx_finding_count(ctx);
	if (rc < 0 && phd_ctx_failed_phase(ctx) != PHD_PHASE_RENDER) {
		fprintf(stderr, "ha-bench: run failed: %s\n", phd_ctx_errmsg(ctx));
		t = -1;
	}
	phd_ctx_free(ctx);
	return t;
}

static char *helm_template(const char *helm, const char *chart, const char *values, size_t *len,
			   double *secs)
{
	char out[] = "/tmp/ha-bench-XXXXXX";
	const char *argv[] = { helm, "template", "posthog", chart, "-n", "posthog", "-f", values, NULL };
	int fd = mkstemp(out), st;
	double t0 = now();
	pid_t pid;
	char *buf = NULL;
	FILE *f;

	if (fd < 0)
		return NULL;
	if ((pid = fork()) == 0) {
		dup2(fd, 1);
		execv(helm, (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	*secs = now() - t0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && (f = fdopen(fd, "rb"))) {
		fseek(f, 0, SEEK_END);
		*len = (size_t)ftell(f);
		rewind(f);
		buf = malloc(*len + 1);
		if (buf && fread(buf, 1, *len, f) != *len) {
			free(buf);
			buf = NULL;
		}
		if (buf)
			buf[*len] = '\0';
		fclose(f);
	} else {
		close(fd);
	}
	unlink(out);
	return buf;
}

/* Deployments with probes, HPAs, PDBs and Services, about mb megabytes. */
static char *synthetic(size_t mb, size_t *len)
{
	size_t cap = mb * 1024 * 1024 + 8192, n = 0, i;
	char *b = malloc(cap);

	for (i = 0; b && n + 4096 < cap; i++) {
		n += (size_t)snprintf(b + n, cap - n,
			"---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%zu\n"
			"  labels: { app: app-%zu, tier: web }\nspec:\n  replicas: %zu\n"
			"  selector:\n    matchLabels: { app: app-%zu }\n  template:\n"
			"    metadata:\n      labels: { app: app-%zu, tier: web }\n    spec:\n"
			"      topologySpreadConstraints:\n      - { maxSkew: 1, topologyKey: "
			"topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway }\n"
			"      containers:\n      - name: app\n        image: registry.local/app:1.%zu\n"
			"        readinessProbe: { httpGet: { path: /ready, port: 8080 } }\n"
			"        livenessProbe: { httpGet: { path: /live, port: 8080 } }\n"
			"        resources: { requests: { cpu: 100m, memory: 128Mi } }\n"
			"        env:\n        - { name: A, value: \"1\" }\n        - { name: B, value: two }\n"
			"---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: { name: app-%zu }\n"
			"spec: { maxUnavailable: 1, selector: { matchLabels: { app: app-%zu } } }\n"
			"---\napiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: { name: app-%zu }\n"
			"spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: app-%zu }, "
			"minReplicas: 2, maxReplicas: 10 }\n"
			"---\napiVersion: v1\nkind: Service\nmetadata: { name: app-%zu }\n"
			"spec: { selector: { app: app-%zu }, ports: [ { port: 80, targetPort: 8080 } ] }\n",
			i, i, 1 + i % 3, i, i, i % 50, i, i, i, i, i, i);
	}
	*len = n;
	return b;
}

static double best(double *v, int n)
{
	double b = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] >= 0 && (b < 0 || v[i] < b))
			b = v[i];
	return b;
}

static void row(const char *name, const char *buf, size_t len, const char *cfg, double helm, int runs)
{
	double ts[5], tv[5], s, v;
	size_t nf = 0;
	long ev = 0;
	int i;

	for (i = 0; i < runs; i++) {
		double t0 = now();
		ev = scan(buf, len);
		ts[i] = now() - t0;
		tv[i] = validate(cfg, buf, len, &nf);
	}
	s = best(ts, runs);
	v = best(tv, runs);
	printf("%-22s %9.2f MB %9ld ev  scan %8.1f ms  validate %8.1f ms  x%5.2f of scan",
	       name, (double)len / 1048576.0, ev, s * 1e3, v * 1e3, v / s);
	if (helm > 0)
		printf("  helm %7.1f ms  validate/helm %.2f", helm * 1e3, v / helm);
	printf("  (%zu findings)\n", nf);
}

int main(int argc, char **argv)
{
	const char *fx = getenv("PHD_FIXTURES"), *tools = getenv("PHD_TOOLS");
	char chart[1024], helm[1024], cfg[] = "/tmp/ha-bench-cfg-XXXXXX";
	size_t mb = argc > 2 ? strtoul(argv[2], NULL, 10) : 50, len;
	const char conf[] = "kube: { version: \"1.29\" }\nha: { posthog: false }\n";
	double th[5];
	char *buf;
	int fd, i;

	if (argc < 2) {
		fprintf(stderr, "usage: ha-bench VALUES.yaml [MB]\n");
		return 2;
	}
	if ((fd = mkstemp(cfg)) < 0 || write(fd, conf, sizeof conf - 1) < 0)
		return 1;
	close(fd);
	printf("ha-bench: best of 5 (3 for the synthetic stream); validate = core parse + ha rules\n");
	snprintf(chart, sizeof chart, "%s/posthog-30.46.0.tgz", fx ? fx : ".");
	snprintf(helm, sizeof helm, "%s/helm4", tools ? tools : ".");
	if (fx && tools && access(chart, R_OK) == 0 && access(helm, X_OK) == 0) {
		buf = NULL;
		for (i = 0; i < 5; i++) {
			free(buf);
			buf = helm_template(helm, chart, argv[1], &len, &th[i]);
			if (!buf)
				break;
		}
		if (buf)
			row("posthog chart (helm4)", buf, len, cfg, best(th, 5), 5);
		else
			printf("posthog chart: helm template failed\n");
		free(buf);
	} else {
		printf("posthog chart: skipped (PHD_FIXTURES / PHD_TOOLS not set)\n");
	}
	if ((buf = synthetic(mb, &len))) {
		char name[64];
		snprintf(name, sizeof name, "synthetic %zu MB", mb);
		row(name, buf, len, cfg, 0, 3);
		free(buf);
	}
	unlink(cfg);
	return 0;
}
