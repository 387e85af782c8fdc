/* The redis preflight check against real redis-servers started here on
 * 127.0.0.1: a primary with a replica attached, one with a password, one
 * that speaks only TLS with a password (what ElastiCache does with an AUTH
 * token). */
#include "check-harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>

#include "tap.h"

#define PW "Rd-right-83a1f0"
#define SKIP_ENV "env:\n  - name: SKIP_SERVICE_VERSION_REQUIREMENTS\n    value: \"1\"\n"

static int plain_port, replica_port, auth_port, tls_port;
static char *tls_dir;

static const struct ch_secret right = { "redis-auth", "redis-password", PW };

static char *values(int port, int with_secret, const char *extra)
{
	return ch_fmt("redis:\n  enabled: false\nexternalRedis:\n  host: 127.0.0.1\n  port: %d\n%s%s",
		      port,
		      with_secret ? "  existingSecret: redis-auth\n"
				    "  existingSecretPasswordKey: redis-password\n" : "",
		      extra ? extra : "");
}

#define CASE(config, vals, secret, status, ...) \
	ch_case("redis", config, vals, secret, status, __VA_ARGS__, (const char *)NULL)

static const char cfg[] = "checks:\n  redis: { timeout: 10s }\n";

static void test_plain(void)
{
	CASE(cfg, values(plain_port, 0, SKIP_ENV), NULL, PHD_STATUS_OK,
	     "ok: primary without AUTH, one replica, version skip set",
	     "^Redis 7.", "summary names the version",
	     "^1 replica(s)", "and the replica",
	     "above PostHog's accepted range (>=5.0.0,<=6.3.0)",
	     "version 7 is reported above PostHog's range",
	     "SKIP_SERVICE_VERSION_REQUIREMENTS=1 is set", "and the skip is found",
	     "maxmemory-policy noeviction", "the eviction policy is reported",
	     "round trip", "the round trip is reported");
	CASE(cfg, values(plain_port, 0, NULL), NULL, PHD_STATUS_FAILED,
	     "version above the range without the skip fails",
	     "^SKIP_SERVICE_VERSION_REQUIREMENTS", "and names the fix");
	CASE(cfg, values(replica_port, 0, SKIP_ENV), NULL, PHD_STATUS_FAILED,
	     "a replica answering fails", "^is a replica (role slave", "and says so");
	CASE(cfg, values(1, 0, SKIP_ENV), NULL, PHD_STATUS_FAILED,
	     "nothing listens on the port", "nothing listens on 127.0.0.1:1", "says so",
	     "[the endpoint is externalRedis.host (", "and names the values keys to change",
	     "and externalRedis.port]", "host and port");
	/* checks.redis.tls: maybe is refused by validate (tests/lib/config-t) */
}

static void test_auth(void)
{
	const struct ch_secret wrong = { "redis-auth", "redis-password", "Wrong-pw-61ab" };

	CASE(cfg, values(auth_port, 1, SKIP_ENV), &right, PHD_STATUS_OK,
	     "AUTH with the right password works",
	     "^AUTH", "summary says AUTH was used",
	     "no replica is connected", "a primary alone is an HA warning");
	CASE(cfg, values(auth_port, 1, SKIP_ENV), &wrong, PHD_STATUS_FAILED,
	     "a wrong password fails",
	     "^AUTH failed: the password from Secret redis-auth key redis-password",
	     "and names the secret");
	CASE(cfg, values(auth_port, 0, SKIP_ENV), NULL, PHD_STATUS_FAILED,
	     "no password against a server that wants one fails",
	     "^requires a password", "and says so",
	     "set externalRedis.existingSecret and externalRedis.existingSecretPasswordKey",
	     "naming the values keys of the chart's table, in full");
	CASE(cfg, ch_fmt("redis: { enabled: false }\nexternalRedis:\n  host: 127.0.0.1\n"
			 "  port: %d\n  existingSecret: redis-auth\n" SKIP_ENV, auth_port),
	     &right, PHD_STATUS_FAILED, "existingSecret without its key fails",
	     "^no default key", "because the chart has no default key",
	     "the Redis endpoint is externalRedis.host", "naming the endpoint's values key");
	CASE(cfg, ch_fmt("redis: { enabled: false }\nexternalRedis:\n  host: 127.0.0.1\n"
			 "  port: %d\n  password: \"" PW "\"\n" SKIP_ENV, auth_port),
	     &right, PHD_STATUS_OK, "an inline password works",
	     "inline secret: externalRedis.password", "but is a warning");
}

static void test_tls(void)
{
	char *c = ch_fmt("checks:\n  redis: { tls: true, ca: \"%s/ca.crt\" }\n", tls_dir);

	CASE(c, values(tls_port, 1, SKIP_ENV), &right, PHD_STATUS_FAILED,
	     "TLS with AUTH fails: the chart cannot connect",
	     "^TLS with AUTH", "the finding says why",
	     "maxmemory-policy", "after inspecting the server over TLS");
	CASE(cfg, values(tls_port, 1, SKIP_ENV), &right, PHD_STATUS_FAILED,
	     "a TLS endpoint spoken to in plain text fails",
	     "^in-transit encryption", "and hints at TLS");
	CASE("checks:\n  redis: { tls: true }\n", values(tls_port, 1, SKIP_ENV), &right,
	     PHD_STATUS_FAILED, "a certificate the system CAs do not trust fails",
	     "^not trusted", "and says so");
	free(c);
}

static void deadline_case(int port, const char *what, const char *needle)
{
	ch_deadline_case("redis", "checks:\n  redis: { timeout: 1s }\n",
			 values(port, 0, SKIP_ENV), NULL, what, needle);
}

/* A server that answers with the header of an array of 188888883 elements
 * and then nothing: hiredis alone would allocate 1.5 GB for it and wait
 * for the elements until the deadline (found by fuzz/resp.c). */
static pid_t huge_pid = -1;

static int huge_array_port(void)
{
	int port, fd = ch_listener(16, &port);

	if (fd < 0)
		return -1;
	if ((huge_pid = fork()) == 0) {
		for (;;) {
			int c = accept(fd, NULL, NULL);
			if (c < 0)
				_exit(0);
			if (write(c, "*188888883\r\n", 12) != 12)
				_exit(1);
		}
	}
	close(fd);
	return huge_pid < 0 ? -1 : port;
}

static int start(const char *dir, const char *in, const char *a1, const char *a2,
		 const char *a3, const char *a4)
{
	char port[64];

	if (ch_script(port, sizeof port, in, "redis-server-ctl", "start", dir, a1, a2, a3, a4,
		      (char *)NULL) != 0)
		tap_skip_all("redis-server did not start (see %s/redis.log)", dir);
	return atoi(port);
}

int main(void)
{
	const char *server = tap_env("REDIS_SERVER", "redis-server");
	char *plain_dir, *replica_dir, *auth_dir, *probe;

	probe = ch_fmt("command -v %s >/dev/null 2>&1", server);
	if (system(probe) != 0)
		tap_skip_all("no redis-server: %s not found (install redis-server)", server);
	free(probe);

	plain_dir = ch_server_dir("redis-server-ctl");
	replica_dir = ch_server_dir("redis-server-ctl");
	auth_dir = ch_server_dir("redis-server-ctl");
	tls_dir = ch_server_dir("redis-server-ctl");
	if (!plain_dir || !replica_dir || !auth_dir || !tls_dir)
		tap_skip_all("cannot make server directories under /tmp");
	plain_port = start(plain_dir, NULL, NULL, NULL, NULL, NULL);
	replica_port = start(replica_dir, NULL, "--replicaof", plain_dir, NULL, NULL);
	auth_port = start(auth_dir, PW "\n", "--auth", NULL, NULL, NULL);
	tls_port = start(tls_dir, PW "\n", "--tls", "--auth", NULL, NULL);

	CASE(cfg, ch_fmt("redis: { enabled: true }\n"), NULL, PHD_STATUS_SKIPPED,
	     "the chart's own Redis: nothing to check",
	     "^nothing external to check", "and says so");
	test_plain();
	test_auth();
	test_tls();
	deadline_case(ch_silent_port(), "a server that never answers fails",
		      "no answer from 127.0.0.1");
	CASE(cfg, values(huge_array_port(), 0, SKIP_ENV), NULL, PHD_STATUS_FAILED,
	     "an array header of 188888883 elements fails at once",
	     "an answer that is not RESP", "as an answer that is not RESP, not at the deadline");
	if (huge_pid > 0)
		kill(huge_pid, SIGKILL);
	deadline_case(ch_blackhole_port(), "a TCP connect nobody accepts fails",
		      "no TCP connection to 127.0.0.1");
	free(plain_dir);
	free(replica_dir);
	free(auth_dir);
	free(tls_dir);
	return tap_done();
}
