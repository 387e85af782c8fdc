/* The kafka check against librdkafka's mock cluster (tests/bin/mock-kafka,
 * the real Kafka protocol on loopback), through the public API: write
 * phdeploy.yaml + values.yaml, run the preflight phase, read the result. */
#include <errno.h>
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

#include "../tap/tap.h"

extern char **environ;

/* PostHog's topics as the check expects them by default. */
#define POSTHOG_TOPICS "clickhouse_events_json,clickhouse_person," \
	"clickhouse_person_distinct_id,clickhouse_groups,clickhouse_ingestion_warnings," \
	"clickhouse_app_metrics,clickhouse_session_recording_events,plugin_log_entries," \
	"events_dead_letter_queue,events_plugin_ingestion,events_plugin_ingestion_overflow," \
	"session_recording_events,jobs,scheduled_tasks"

#define SASL_PASSWORD "pw-S3cret-kafka-71"
#define SASL_ENV "  tls: false\n" \
	"env:\n" \
	"  - { name: KAFKA_SECURITY_PROTOCOL, value: SASL_PLAINTEXT }\n" \
	"  - { name: KAFKA_SASL_MECHANISM, value: SCRAM-SHA-512 }\n" \
	"  - { name: KAFKA_SASL_USER, value: posthog }\n" \
	"  - name: KAFKA_SASL_PASSWORD\n" \
	"    valueFrom: { secretKeyRef: { name: kafka-sasl, key: %s } }\n"

static char plugin_dir[4096];

struct mock {
	pid_t pid;
	int in;                   /* its stdin: closing it stops the mock */
	char bootstrap[1024];
};

struct result {
	int status;
	long long ms;
	char message[4096];       /* the check's summary */
	char notes[16384];        /* every finding of the check, one a line */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start mock-kafka with args; read its bootstrap line (poll, deadline). */
static int mock_start(struct mock *m, const char *const *args)
{
	char path[4096];
	const char *argv[16];
	int inp[2], outp[2], i = 0;
	size_t len = 0;
	long long deadline = now_ms() + 15000;
	posix_spawn_file_actions_t fa;

	snprintf(path, sizeof path, "%s/tests/bin/mock-kafka", tap_env("top_builddir", "."));
	argv[i++] = path;
	while (*args && i < 15)
		argv[i++] = *args++;
	argv[i] = NULL;
	if (pipe2(inp, O_CLOEXEC) || pipe2(outp, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	if (posix_spawn(&m->pid, path, &fa, NULL, (char *const *)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(inp[0]);
	close(outp[1]);
	m->in = inp[1];
	while (len < sizeof m->bootstrap - 1 && !memchr(m->bootstrap, '\n', len)) {
		struct pollfd pfd = { outp[0], POLLIN, 0 };
		ssize_t n;
		if (now_ms() >= deadline || poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			break;
		if ((n = read(outp[0], m->bootstrap + len, sizeof m->bootstrap - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(outp[0]);
	m->bootstrap[len] = '\0';
	if (!strchr(m->bootstrap, '\n'))
		return -1;
	*strchr(m->bootstrap, '\n') = '\0';
	return 0;
}

static void mock_stop(struct mock *m)
{
	long long deadline = now_ms() + 10000;
	int st;

	close(m->in);
	while (waitpid(m->pid, &st, WNOHANG) == 0) {
		if (now_ms() > deadline) {
			kill(m->pid, SIGKILL);
			waitpid(m->pid, &st, 0);
			break;
		}
		poll(NULL, 0, 20);
	}
}

/* "h:p,h:p" as a YAML flow list. */
static void yaml_brokers(const char *bootstrap, char *out, size_t sz)
{
	size_t len = (size_t)snprintf(out, sz, "[\"");
	const char *p;

	for (p = bootstrap; *p && len + 4 < sz; p++)
		len += (size_t)snprintf(out + len, sz - len, *p == ',' ? "\", \"" : "%c", *p);
	snprintf(out + len, sz - len, "\"]");
}

static int provide(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink, void *ud)
{
	(void)ctx;
	(void)ud;
	return phd_secret_add(sink, "kafka-sasl", "password", SASL_PASSWORD,
			      strlen(SASL_PASSWORD), entry);
}

/* Write the files, run preflight, fill r from the "kafka" check. */
static int run_check(const char *values, const char *checks, int with_secret, struct result *r)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	char cfg[8192], *vpath, *cpath;
	phd_ctx *ctx = NULL;
	size_t i;
	int found = 0;

	memset(r, 0, sizeof *r);
	r->status = -1;
	vpath = tap_write_file("values.yaml", values, strlen(values));
	snprintf(cfg, sizeof cfg,
		 "release: posthog\nnamespace: posthog\nvalues: [\"%s\"]\n%s"
		 "checks:\n  kafka: %s\n", vpath,
		 with_secret ? "secrets:\n  - { provider: testsecret }\n" : "", checks);
	cpath = tap_write_file("phdeploy.yaml", cfg, strlen(cfg));
	o.config_path = cpath;
	o.plugin_path = plugin_dir;
	o.flags = PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	if (phd_ctx_new(&ctx, &o) != 0) {
		tap_diag("phd_ctx_new: %s", ctx ? phd_ctx_errmsg(ctx) : "no memory");
		goto out;
	}
	if (with_secret) {
		phd_plugin *p;
		if (phd_ctx_add_plugin(&p, ctx, "testsecret", "1.0") != 0 ||
		    phd_register_secret_provider(p, "testsecret", provide, NULL, NULL) != 0) {
			tap_diag("test provider: %s", phd_ctx_errmsg(ctx));
			goto out;
		}
	}
	phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_PREFLIGHT));
	for (i = 0; i < phd_ctx_check_count(ctx); i++) {
		const struct phd_check_result *c = phd_ctx_check(ctx, i);
		if (strcmp(c->name, "kafka") != 0)
			continue;
		found = 1;
		r->status = c->status;
		r->ms = c->ms;
		snprintf(r->message, sizeof r->message, "%s", c->message);
	}
	for (i = 0; i < phd_ctx_finding_count(ctx); i++) {
		const struct phd_finding *f = phd_ctx_finding(ctx, i);
		size_t len = strlen(r->notes);
		snprintf(r->notes + len, sizeof r->notes - len, "%s\n", f->message);
	}
	if (!found)
		tap_diag("no kafka check ran: %s", phd_ctx_errmsg(ctx));
out:
	phd_ctx_free(ctx);
	free(vpath);
	free(cpath);
	return found ? 0 : -1;
}

static void values_for(const char *bootstrap, const char *extra, char *out, size_t sz)
{
	char list[2048];

	yaml_brokers(bootstrap, list, sizeof list);
	snprintf(out, sz, "kafka:\n  enabled: false\nexternalKafka:\n  brokers: %s\n%s", list,
		 extra ? extra : "  tls: false\n");
}

/* A port nothing listens on: bound then closed. */
static int dead_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Start a mock with args, run the check on values pointing at it, stop
 * it.  When the mock cannot start, skip the nskip assertions that follow. */
static int with_mock(const char *const *args, const char *extra, const char *checks,
		     int with_secret, struct result *r, int nskip)
{
	struct mock m;
	char values[4096];

	if (mock_start(&m, args) != 0) {
		tap_skip(nskip, "mock-kafka did not start");
		return -1;
	}
	values_for(m.bootstrap, extra, values, sizeof values);
	run_check(values, checks, with_secret, r);
	mock_stop(&m);
	return 0;
}

static void find_plugin_dir(void)
{
	const char *pp = getenv("PHDEPLOY_PLUGIN_PATH");
	const char *hit = pp ? strstr(pp, "/plugins/kafka/") : NULL;

	/* Only this plugin: other checks and validators must not decide
	 * the outcome of these tests. */
	if (hit) {
		const char *start = hit, *end = strchr(hit, ':');
		while (start > pp && start[-1] != ':')
			start--;
		snprintf(plugin_dir, sizeof plugin_dir, "%.*s",
			 (int)(end ? end - start : (long)strlen(start)), start);
	} else {
		snprintf(plugin_dir, sizeof plugin_dir, "%s/plugins/kafka/.libs",
			 tap_env("top_builddir", "."));
	}
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1);
}

static void test_not_applicable(void)
{
	struct result r;

	run_check("postgresql:\n  enabled: false\n", "{ timeout: 2s }", 0, &r);
	tap_is_int(r.status, PHD_STATUS_SKIPPED, "in-cluster Kafka (kafka.enabled unset): skipped");
	tap_like(r.message, "in-cluster Kafka", "the skip says why");
}

static void test_bad_broker_entry(void)
{
	struct result r;

	run_check("kafka: { enabled: false }\nexternalKafka:\n  brokers: [\"kafka://b-1:9092\"]\n",
		  "{ timeout: 2s }", 0, &r);
	tap_is_int(r.status, PHD_STATUS_FAILED, "a broker written as a URL fails the check");
	tap_like(r.notes, "values.yaml:3:", "the error names the broker's position");
}

static void test_healthy(void)
{
	const char *args[] = { "--brokers", "3", "--racks", "use1-az1,use1-az2,use1-az4",
			       "--topics", POSTHOG_TOPICS, NULL };
	struct result r;

	if (with_mock(args, NULL, "{ timeout: 5s, min_brokers: 3 }", 0, &r, 4))
		return;
	tap_is_int(r.status, PHD_STATUS_OK, "3 brokers on 3 racks with every topic: ok");
	tap_like(r.message, "3 rack(s) (use1-az1, use1-az2, use1-az4)",
		 "racks are read from the brokers' metadata");
	tap_like(r.message, "14/14 PostHog topics present", "all of PostHog's topics are found");
	tap_like(r.notes, "broker 2 127.0.0.1:", "each broker is reported with its address");
}

static void test_one_rack_too_few_brokers(void)
{
	const char *args[] = { "--brokers", "2", "--racks", "use1-az1", "--topics", "t1", NULL };
	struct result r;

	if (with_mock(args, NULL, "{ timeout: 5s, min_brokers: 3, topics: [t1] }", 0, &r, 3))
		return;
	tap_is_int(r.status, PHD_STATUS_FAILED, "brokers all in one rack fail the check");
	tap_like(r.notes, "in 1 rack(s) (use1-az1): one AZ outage", "the HA finding names the rack");
	tap_like(r.notes, "fewer than checks.kafka.min_brokers (3)", "too few brokers is a finding");
}

static void test_broker_down(void)
{
	const char *args[] = { "--brokers", "3", "--racks", "a,b,c", "--topics", "t1",
			       "--down", "2", NULL };
	struct result r;

	if (with_mock(args, NULL, "{ timeout: 2s, topics: [t1] }", 0, &r, 3))
		return;
	tap_is_int(r.status, PHD_STATUS_FAILED, "a broker that is down fails the check");
	tap_like(r.notes, "broker 2 127.0.0.1:", "the finding names the down broker");
	tap_ok(r.ms < 2000 + 1500, "it costs at most its deadline (%lld ms, timeout 2000)", r.ms);
}

static void test_latency_beyond_deadline(void)
{
	const char *args[] = { "--brokers", "3", "--rtt-ms", "20000", NULL };
	struct result r;

	if (with_mock(args, NULL, "{ timeout: 1s }", 0, &r, 3))
		return;
	tap_is_int(r.status, PHD_STATUS_FAILED, "brokers slower than the deadline fail the check");
	tap_like(r.message, "no metadata before the deadline",
		 "the check reports its own reason before the core must kill it");
	/* The brokers answer after 20 s: anything under 10 s proves the
	 * deadline, not the broker, ended the check. */
	tap_ok(r.ms < 10000, "bounded by its 1 s deadline, not the 20 s latency (%lld ms)", r.ms);
}

static void test_wrong_protocol(void)
{
	const char *args[] = { "--brokers", "3", NULL };
	struct result r;

	if (with_mock(args, "  tls: true\n", "{ timeout: 20s }", 0, &r, 3))
		return;
	tap_is_int(r.status, PHD_STATUS_FAILED, "tls: true against a plaintext listener fails");
	tap_like(r.message, "answers in plaintext", "the message says the broker is plaintext");
	/* A TLS failure is final: the check stops long before its 20 s. */
	tap_ok(r.ms < 15000, "it fails at once, not at the deadline (%lld ms of 20000)", r.ms);
}

static void test_topics_missing(void)
{
	const char *args[] = { "--brokers", "3", "--racks", "a,b,c", "--topics",
			       "clickhouse_events_json", NULL };
	struct result r;

	if (with_mock(args, NULL, "{ timeout: 5s }", 0, &r, 4))
		return;
	tap_is_int(r.status, PHD_STATUS_FAILED, "missing PostHog topics fail the check");
	tap_like(r.notes, "13 of 14 PostHog topics are missing", "the finding counts them");
	tap_like(r.notes, "events_plugin_ingestion", "the finding names them");
	tap_unlike(r.notes, "(clickhouse_events_json", "an existing topic is not listed");
}

static void test_sasl_password_from_secret(void)
{
	const char *args[] = { "--brokers", "3", NULL };
	struct result r;
	char extra[1024];

	snprintf(extra, sizeof extra, SASL_ENV, "password");
	if (with_mock(args, extra, "{ timeout: 10s }", 1, &r, 4) == 0) {
		/* The mock cannot do SASL: reaching its refusal proves the
		 * check found the password and went on to authenticate. */
		tap_is_int(r.status, PHD_STATUS_FAILED, "SASL against a broker without SASL fails");
		tap_like(r.message, "SASL", "the failure is the SASL handshake");
		tap_unlike(r.message, SASL_PASSWORD, "the password is not in the summary");
		tap_unlike(r.notes, SASL_PASSWORD, "the password is not in any finding");
	}
	snprintf(extra, sizeof extra, SASL_ENV, "no-such-key");
	if (with_mock(args, extra, "{ timeout: 10s }", 1, &r, 1) == 0)
		tap_like(r.notes, "which no `secrets:` entry provides",
			 "a password from a secret nobody provides is a positioned error");
}

static void test_dead_endpoint(void)
{
	struct result r;
	char values[512], bs[64];

	snprintf(bs, sizeof bs, "127.0.0.1:%d", dead_port());
	values_for(bs, NULL, values, sizeof values);
	run_check(values, "{ timeout: 1s }", 0, &r);
	tap_is_int(r.status, PHD_STATUS_FAILED, "a bootstrap nobody listens on fails");
	tap_like(r.message, "Connection refused", "the reason is the refused connection");
	tap_like(r.message, "[the endpoint is externalKafka.brokers (",
		 "and the values key that holds the brokers");
	tap_ok(r.ms < 1000 + 1500, "it costs its deadline, not minutes (%lld ms)", r.ms);
}

int main(void)
{
	find_plugin_dir();
	test_not_applicable();
	test_bad_broker_entry();
	test_healthy();
	test_one_rack_too_few_brokers();
	test_broker_down();
	test_latency_beyond_deadline();
	test_wrong_protocol();
	test_topics_missing();
	test_sasl_password_from_secret();
	test_dead_endpoint();
	return tap_done();
}
