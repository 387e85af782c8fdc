/* Bench: do preflight checks really run side by side, and does a dead
 * endpoint cost its deadline and no more?  See bench/README.md.
 *
 *   checks-parallel BUILDDIR N RTT_MS TIMEOUT_MS ROUNDS
 *
 * Uses the public API and the real kafka plugin against tests/bin/mock-kafka
 * (librdkafka's mock cluster) whose brokers answer after RTT_MS. */
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>
#include <phdeploy/plugin.h>

extern char **environ;

static char dir[256], plugdir[4000], sopath[4096];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
	fprintf(stderr, "checks-parallel: %s\n", what);
	exit(1);
}

static pid_t mock_start(const char *builddir, const char *rtt, int *in, char *bs, size_t sz)
{
	char path[4096];
	const char *argv[] = { path, "--brokers", "3", "--racks", "a,b,c", "--topics", "t",
			       "--rtt-ms", rtt, NULL };
	int ip[2], op[2];
	pid_t pid;
	size_t len = 0;
	posix_spawn_file_actions_t fa;
	long long deadline = now_ms() + 15000;

	snprintf(path, sizeof path, "%s/tests/bin/mock-kafka", builddir);
	if (pipe2(ip, O_CLOEXEC) || pipe2(op, O_CLOEXEC))
		die("pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ip[0], 0);
	posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	if (posix_spawn(&pid, path, &fa, NULL, (char *const *)argv, environ))
		die("cannot start tests/bin/mock-kafka (make tests/bin/mock-kafka)");
	posix_spawn_file_actions_destroy(&fa);
	close(ip[0]);
	close(op[1]);
	while (!memchr(bs, '\n', len) && len < sz - 1 && now_ms() < deadline) {
		struct pollfd p = { op[0], POLLIN, 0 };
		ssize_t n;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((n = read(op[0], bs + len, sz - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(op[0]);
	bs[len] = '\0';
	if (!strchr(bs, '\n'))
		die("mock-kafka printed no bootstrap line");
	*strchr(bs, '\n') = '\0';
	*in = ip[1];
	return pid;
}

static void write_file(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f))
		die("cannot write the bench files");
}

/* values.yaml for bootstrap, phdeploy.yaml with n checks kafka, kafka-2.. */
static void write_config(const char *bootstrap, int n, long long timeout_ms)
{
	char values[4096], cfg[8192], list[2048] = "";
	size_t len = 0;
	const char *p;
	int i;

	for (p = bootstrap; *p; p++)
		len += (size_t)snprintf(list + len, sizeof list - len, *p == ',' ? "\", \"" : "%c", *p);
	snprintf(values, sizeof values,
		 "kafka: { enabled: false }\nexternalKafka: { brokers: [\"%s\"], tls: false }\n", list);
	write_file("values.yaml", values);
	len = (size_t)snprintf(cfg, sizeof cfg, "values: [\"%s/values.yaml\"]\nchecks:\n", dir);
	for (i = 1; i <= n; i++) {
		char name[32] = "kafka";
		if (i > 1)
			snprintf(name, sizeof name, "kafka-%d", i);
		len += (size_t)snprintf(cfg + len, sizeof cfg - len,
					"  %s: { timeout: %lldms, topics: [t] }\n", name, timeout_ms);
	}
	write_file("phdeploy.yaml", cfg);
}

/* One preflight run with the checks kafka and kafka-2..kafka-n (the real
 * plugin's init added under more names).  Returns wall ms; *failed counts
 * checks that did not end ok. */
static long long run(int n, int *failed, long long *check_ms)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	const struct phd_plugin_desc *desc;
	char cfgpath[512], name[32];
	phd_ctx *ctx = NULL;
	long long t0;
	size_t i;
	void *so;
	int k;

	snprintf(cfgpath, sizeof cfgpath, "%s/phdeploy.yaml", dir);
	o.config_path = cfgpath;
	o.plugin_path = plugdir;
	o.flags = PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	if (phd_ctx_new(&ctx, &o) != 0)
		die(ctx ? phd_ctx_errmsg(ctx) : "phd_ctx_new");
	if (!(so = dlopen(sopath, RTLD_NOW)) || !(desc = dlsym(so, PHD_PLUGIN_SYMBOL)))
		die("cannot load plugins/kafka/.libs/kafka.so");
	for (k = 2; k <= n; k++) {
		phd_plugin *p;
		snprintf(name, sizeof name, "kafka-%d", k);
		if (phd_ctx_add_plugin(&p, ctx, name, "bench") || desc->init(p, NULL))
			die(phd_ctx_errmsg(ctx));
	}
	t0 = now_ms();
	phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_PREFLIGHT));
	t0 = now_ms() - t0;
	*failed = 0;
	*check_ms = 0;
	for (i = 0; i < phd_ctx_check_count(ctx); i++) {
		const struct phd_check_result *c = phd_ctx_check(ctx, i);
		if (strncmp(c->name, "kafka", 5) != 0)
			continue;
		*failed += c->status != PHD_STATUS_OK;
		if (c->ms > *check_ms)
			*check_ms = c->ms;
	}
	phd_ctx_free(ctx);
	dlclose(so);
	return t0;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

int main(int argc, char **argv)
{
	long long seq[32], par[32], dead[32], cms, timeout;
	int n, rounds, r, i, f, fails = 0, in, st;
	char bs[1024], deadbs[64];
	pid_t mock;

	if (argc != 6 || (n = atoi(argv[2])) < 1 || n > 32 || (timeout = atoll(argv[4])) < 100 ||
	    (rounds = atoi(argv[5])) < 1 || rounds > 32) {
		fprintf(stderr, "usage: checks-parallel BUILDDIR N(1-32) RTT_MS TIMEOUT_MS ROUNDS(1-32)\n");
		return 2;
	}
	snprintf(plugdir, sizeof plugdir, "%.3900s/plugins/kafka/.libs", argv[1]);
	snprintf(sopath, sizeof sopath, "%s/kafka.so", plugdir);
	snprintf(dir, sizeof dir, "%s/phd-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		die("mkdtemp");
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1); /* only the kafka plugin takes part */
	mock = mock_start(argv[1], argv[3], &in, bs, sizeof bs);

	for (r = 0; r < rounds; r++) {
		/* sequential: N runs of one check each, one after the other */
		write_config(bs, 1, timeout);
		for (seq[r] = 0, i = 0; i < n; i++) {
			seq[r] += run(1, &f, &cms);
			fails += f;
		}
		/* together: one run of N checks */
		write_config(bs, n, timeout);
		par[r] = run(n, &f, &cms);
		fails += f;
		/* a dead endpoint: the check's cost against its deadline */
		snprintf(deadbs, sizeof deadbs, "127.0.0.1:%d", dead_port());
		write_config(deadbs, 1, timeout);
		run(1, &f, &cms);
		dead[r] = cms;
	}
	close(in);
	waitpid(mock, &st, 0);
	qsort(seq, (size_t)rounds, sizeof *seq, cmp);
	qsort(par, (size_t)rounds, sizeof *par, cmp);
	qsort(dead, (size_t)rounds, sizeof *dead, cmp);
	printf("checks=%d rtt=%sms timeout=%lldms rounds=%d (medians)\n", n, argv[3], timeout, rounds);
	printf("%-34s %10s %10s %8s %8s\n", "measure", "ms", "vs", "ratio", "ideal");
	printf("%-34s %10lld %10lld %8.2f %8.2f\n", "N checks together vs one by one",
	       par[rounds / 2], seq[rounds / 2], (double)par[rounds / 2] / (double)seq[rounds / 2],
	       1.0 / n);
	printf("%-34s %10lld %10lld %8.2f %8s\n", "dead endpoint check vs deadline",
	       dead[rounds / 2], timeout, (double)dead[rounds / 2] / (double)timeout, "<=1.00");
	if (fails)
		printf("warning: %d latency-bound check(s) did not end ok: raise TIMEOUT_MS\n", fails);
	snprintf(bs, sizeof bs, "%s/values.yaml", dir);
	unlink(bs);
	snprintf(bs, sizeof bs, "%s/phdeploy.yaml", dir);
	unlink(bs);
	rmdir(dir);
	return 0;
}
