/* Benchmark of the ha plugin's render-phase validation (not a test).
 *
 * For two inputs, the real PostHog chart rendered by helm and a synthetic
 * 50 MB manifest stream, it times:
 *   scan      a bare libyaml event scan of the bytes (the floor: reading YAML)
 *   validate  phd_set_documents (the core's parse) + every render validator
 *             of the ha plugin, through phd_run(render)
 *   helm      `helm template` alone (real chart only)
 * and prints the ratios side by side: the median of 7 rounds, each round
 * running scan, parse and parse+ha in turn (interleaved), so a machine
 * shared with other builds slows the three alike.
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

/* The work of the in-process variants is timed in CPU time of this
 * process: on a machine shared with other builds, wall time mostly
 * measured who else was running (the same round gave 1.50 and 1.61). */
static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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

static int nothing(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	(void)ctx, (void)phase, (void)ud;
	return 0;
}

static int feed_render(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)mode;
	struct feed *f = ud;

	return phd_set_documents(ctx, phase, f->buf, f->len, "bench");
}

/* One validation run; returns seconds, -1 on failure, -2 when the core
 * refuses the stream as too large. */
static double validate(const char *cfg, const char *buf, size_t len, size_t *nfind, int with_ha)
{
	struct phd_options opts = PHD_OPTIONS_INIT;
	const char *pp = getenv("PHDEPLOY_PLUGIN_PATH");
	char *saved = pp ? strdup(pp) : NULL;
	struct feed f = { buf, len };
	phd_ctx *ctx = NULL;
	phd_plugin *p;
	double t0, t;
	int rc;

	/* Without the plugin its `ha:` key would be unknown to the core. */
	opts.config_path = with_ha ? cfg : NULL;
	if (!with_ha)
		opts.flags |= PHD_OPT_NO_CONFIG;
	opts.flags |= PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	if (!with_ha)
		setenv("PHDEPLOY_PLUGIN_PATH", "", 1);   /* the core's parse alone */
	rc = phd_ctx_new(&ctx, &opts);
	if (rc == 0)
		rc = phd_ctx_load(ctx);   /* loads the plugins */
	if (saved) {
		setenv("PHDEPLOY_PLUGIN_PATH", saved, 1);
		free(saved);
	}
	if (rc < 0 ||
	    phd_ctx_add_plugin(&p, ctx, "bench-feed", "1") < 0 ||
	    phd_register_phase_handler(p, PHD_PHASE_SECRETS, nothing, NULL, NULL) < 0 ||
	    phd_register_phase_handler(p, PHD_PHASE_REPO, nothing, NULL, NULL) < 0 ||
	    phd_register_phase_handler(p, PHD_PHASE_RENDER, feed_render, &f, NULL) < 0) {
		fprintf(stderr, "ha-bench: %s\n", ctx ? phd_ctx_errmsg(ctx) : "out of memory");
		phd_ctx_free(ctx);
		return -1;
	}
	t0 = cpu_now();
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_RENDER));
	t = cpu_now() - t0;
	*nfind = phd_ctx_finding_count(ctx);
	if (rc < 0 && (phd_ctx_failed_phase(ctx) != PHD_PHASE_RENDER || *nfind == 0 || !with_ha)) {
		printf("  (the run failed: %s)\n", phd_ctx_errmsg(ctx));
		t = strstr(phd_ctx_errmsg(ctx), "too large") ? -2 : -1;
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

/* Deployments with probes, HPAs, PDBs and Services in helm's block style,
 * with the labels, checksums and env a real chart carries (about the
 * bytes per YAML event of the rendered PostHog chart), about mb megabytes. */
static char *synthetic(size_t mb, size_t *len)
{
	size_t cap = mb * 1024 * 1024 + 8192, n = 0, i;
	char *b = malloc(cap);

	for (i = 0; b && n + 8192 < cap; i++) {
		n += (size_t)snprintf(b + n, cap - n,
			"---\n# Source: synthetic/templates/deployment.yaml\n"
			"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-%zu\n"
			"  labels:\n    app.kubernetes.io/name: app-%zu\n    app.kubernetes.io/instance: synthetic\n"
			"    app.kubernetes.io/managed-by: Helm\n    helm.sh/chart: synthetic-1.0.0\n"
			"spec:\n  replicas: %zu\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: app-%zu\n"
			"  template:\n    metadata:\n      annotations:\n"
			"        checksum/config: 5f2b8c1d9e7a4f3b6c0d2e8a1b7c9d3e5f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c\n"
			"      labels:\n        app.kubernetes.io/name: app-%zu\n        app.kubernetes.io/instance: synthetic\n"
			"    spec:\n      serviceAccountName: synthetic\n      topologySpreadConstraints:\n"
			"      - maxSkew: 1\n        topologyKey: topology.kubernetes.io/zone\n"
			"        whenUnsatisfiable: ScheduleAnyway\n        labelSelector:\n          matchLabels:\n"
			"            app.kubernetes.io/name: app-%zu\n"
			"      containers:\n      - name: app\n        image: \"registry.example.com/team/app:1.%zu.0\"\n"
			"        imagePullPolicy: IfNotPresent\n        command:\n        - ./bin/docker-server\n"
			"        ports:\n        - containerPort: 8000\n          name: http\n"
			"        env:\n        - name: DATABASE_URL\n          value: \"postgres://app@db.internal.example.com:5432/app\"\n"
			"        - name: KAFKA_HOSTS\n          value: \"b-1.kafka.internal.example.com:9094,b-2.kafka.internal.example.com:9094\"\n"
			"        - name: PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: app-secret\n"
			"              key: password\n"
			"        readinessProbe:\n          httpGet:\n            path: /_readyz\n            port: 8000\n"
			"          periodSeconds: 10\n        livenessProbe:\n          httpGet:\n            path: /_livez\n"
			"            port: 8000\n          periodSeconds: 10\n"
			"        resources:\n          requests:\n            cpu: 100m\n            memory: 128Mi\n"
			"---\n# Source: synthetic/templates/pdb.yaml\n"
			"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: app-%zu\n"
			"spec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: app-%zu\n"
			"---\n# Source: synthetic/templates/hpa.yaml\n"
			"apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: app-%zu\n"
			"spec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: app-%zu\n"
			"  minReplicas: 2\n  maxReplicas: 10\n"
			"---\n# Source: synthetic/templates/service.yaml\n"
			"apiVersion: v1\nkind: Service\nmetadata:\n  name: app-%zu\nspec:\n  type: ClusterIP\n"
			"  selector:\n    app.kubernetes.io/name: app-%zu\n  ports:\n  - port: 80\n    targetPort: 8000\n",
			i, i, 1 + i % 3, i, i, i, i % 50, i, i, i, i, i, i);
	}
	*len = n;
	return b;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of the n >= 0 values (failed runs are negative, left out). */
static double median(double *v, int n)
{
	double ok[16];
	int k = 0;

	for (int i = 0; i < n && k < 16; i++)
		if (v[i] >= 0)
			ok[k++] = v[i];
	if (!k)
		return -1;
	qsort(ok, (size_t)k, sizeof ok[0], cmp_double);
	return k % 2 ? ok[k / 2] : (ok[k / 2 - 1] + ok[k / 2]) / 2;
}

#define ROUNDS 7

/* Returns 0, or -2 when the core refused the stream as too large. */
static int row(const char *name, const char *buf, size_t len, const char *cfg, double helm, int runs)
{
	double ts[ROUNDS], tv[ROUNDS], tp[ROUNDS], s, v, pa;
	size_t nf = 0;
	long ev = 0;
	int i;

	for (i = 0; i < runs; i++) {
		/* the order turns each round: what runs first finds a fresh heap */
		for (int k = 0; k < 3; k++) {
			int which = (i + k) % 3;
			if (which == 0) {
				double t0 = cpu_now();
				ev = scan(buf, len);
				ts[i] = cpu_now() - t0;
			} else if (which == 1) {
				tp[i] = validate(cfg, buf, len, &nf, 0);
			} else {
				tv[i] = validate(cfg, buf, len, &nf, 1);
			}
		}
		if (tv[i] == -2)
			return -2;
	}
	s = median(ts, runs);
	v = median(tv, runs);
	pa = median(tp, runs);
	printf("%-22s %6.2f MB %8ld ev | scan %7.1f ms | parse %7.1f ms x%4.2f | "
	       "parse+ha %7.1f ms x%4.2f (ha %+.1f ms)", name, (double)len / 1048576.0, ev,
	       s * 1e3, pa * 1e3, pa / s, v * 1e3, v / s, (v - pa) * 1e3);
	if (helm > 0)
		printf(" | helm template %6.1f ms, parse+ha/helm %.3f", helm * 1e3, v / helm);
	printf("  (%zu findings)\n", nf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *fx = getenv("PHD_FIXTURES"), *tools = getenv("PHD_TOOLS");
	char chart[1024], helm[1024], cfg[] = "/tmp/ha-bench-cfg-XXXXXX";
	size_t mb = argc > 2 ? strtoul(argv[2], NULL, 10) : 50, len;
	const char conf[] = "kube: { version: \"1.29\" }\nha: { posthog: false }\n";
	double th[ROUNDS];
	char *buf;
	int fd, i;

	if (argc < 2) {
		fprintf(stderr, "usage: ha-bench VALUES.yaml [MB]\n");
		return 2;
	}
	if ((fd = mkstemp(cfg)) < 0 || write(fd, conf, sizeof conf - 1) < 0)
		return 1;
	close(fd);
	printf("ha-bench: median of %d interleaved rounds, CPU time (helm: wall).  scan: libyaml events only;\n"
	       "parse: phd_run(render) with phd_set_documents and no validator; parse+ha: with the\n"
	       "ha plugin's render validators; x: ratio to scan.\n", ROUNDS);
	snprintf(chart, sizeof chart, "%s/posthog-30.46.0.tgz", fx ? fx : ".");
	snprintf(helm, sizeof helm, "%s/helm4", tools ? tools : ".");
	if (fx && tools && access(chart, R_OK) == 0 && access(helm, X_OK) == 0) {
		buf = NULL;
		for (i = 0; i < ROUNDS; i++) {
			free(buf);
			buf = helm_template(helm, chart, argv[1], &len, &th[i]);
			if (!buf)
				break;
		}
		if (buf)
			row("posthog chart (helm4)", buf, len, cfg, median(th, ROUNDS), ROUNDS);
		else
			printf("posthog chart: helm template failed\n");
		free(buf);
	} else {
		printf("posthog chart: skipped (PHD_FIXTURES / PHD_TOOLS not set)\n");
	}
	/* The core caps the nodes of one parse; halve until it takes it. */
	for (; mb > 0 && (buf = synthetic(mb, &len)); mb /= 2) {
		char name[64];
		int rc;
		snprintf(name, sizeof name, "synthetic %zu MB", mb);
		rc = row(name, buf, len, cfg, 0, ROUNDS);
		free(buf);
		if (rc == 0)
			break;
		printf("%s: refused by the core as too large; trying %zu MB\n", name, mb / 2);
	}
	unlink(cfg);
	return 0;
}
