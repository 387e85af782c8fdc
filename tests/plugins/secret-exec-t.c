/* secret-exec: Secrets from a real child's stdout (secret-yaml, json,
 * raw); failing, missing and hanging commands; stderr shown redacted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "secret-t.h"

static char cmd[4096];

/* run one entry "{provider: exec, run: [CMD, MODE]EXTRA}" */
static int run_mode(struct st_run *r, const char *mode, const char *extra)
{
	char body[8192];

	snprintf(body, sizeof body, "secrets:\n  - {provider: exec, run: [%s, %s]%s}\n", cmd,
		 mode, extra);
	return st_run(r, st_dir(), body);
}

static void formats(void)
{
	struct st_run r;

	run_mode(&r, "yaml", "");
	tap_is_int(r.rc, 0, "secret-yaml output is read (the default format)");
	st_is(&r, "posthog-postgres", "postgresql-password", "exec-yaml-pw-713",
	      "its data is decoded");
	st_is(&r, "posthog-redis", "redis-password", "exec-yaml-redis-88",
	      "its second document is read");
	st_done(&r);

	run_mode(&r, "json", ", format: json, name: posthog-postgres, "
		 "keys: {postgresql-password: password}");
	st_is(&r, "posthog-postgres", "postgresql-password", "exec-json-pw-\xc3\xa9\"q",
	      "json: a mapped field, escapes decoded");
	tap_is_int(phd_secret_count(r.ctx) ? (long long)phd_secret_at(r.ctx, 0)->nkeys : -1, 1,
		   "json with keys: takes only the mapped fields");
	st_done(&r);

	run_mode(&r, "json", ", format: json, name: posthog-postgres, type: kubernetes.io/basic-auth");
	st_is(&r, "posthog-postgres", "user", "posthog", "json without keys: takes every field");
	tap_is_str(phd_secret_count(r.ctx) ? phd_secret_at(r.ctx, 0)->type : NULL,
		   "kubernetes.io/basic-auth", "type: is forwarded");
	st_done(&r);

	run_mode(&r, "raw", ", format: raw, name: posthog-redis, key: redis-password");
	st_is(&r, "posthog-redis", "redis-password", "exec-raw-pass-555", "raw: one trailing "
	      "newline is dropped");
	st_done(&r);
	run_mode(&r, "raw", ", format: raw, name: posthog-redis, key: k, chomp: false");
	st_is(&r, "posthog-redis", "k", "exec-raw-pass-555\n", "raw with chomp: false keeps it");
	st_done(&r);
}

static void bad_output(void)
{
	struct st_run r;

	run_mode(&r, "bad-yaml", "");
	tap_like(r.err, "phdeploy.yaml:4:5: secret-cmd stdout:2:7: secret-exec: kind "
		 "\"ConfigMap\" is not a Secret", "bad manifests are positioned inside stdout");
	st_done(&r);
	run_mode(&r, "json-bad", ", format: json, name: x");
	tap_like(r.err, "secret-cmd stdout:3:", "malformed JSON is positioned");
	tap_like(r.err, "not valid JSON (invalid syntax)", "... with a fixed text");
	tap_unlike(r.err, "exec-json-pw", "... that quotes no value");
	st_done(&r);
	run_mode(&r, "json-number", ", format: json, name: x");
	tap_like(r.err, "field \"password\" of secret-cmd stdout is not a string",
		 "a non-string field is refused");
	tap_unlike(r.err, "12345", "... without its value");
	st_done(&r);
	run_mode(&r, "json-array", ", format: json, name: x");
	tap_like(r.err, "is not a JSON object", "a JSON array is refused");
	st_done(&r);
	run_mode(&r, "json", ", format: json, name: x, keys: {a: missing}");
	tap_like(r.err, "has no field \"missing\" (for key a of Secret x)",
		 "a mapped field that is absent is named");
	st_done(&r);
}

static void bad_entries(void)
{
	struct st_run r;

	run_mode(&r, "yaml", ", format: toml");
	tap_like(r.err, "secrets[0].format must be one of secret-yaml|json|raw, not 'toml'",
		 "an unknown format is refused");
	st_done(&r);
	run_mode(&r, "yaml", ", name: x");
	tap_like(r.err, "\"name:\" does not apply to format secret-yaml",
		 "secret-yaml takes names from the manifests");
	st_done(&r);
	run_mode(&r, "raw", ", format: raw, name: x");
	tap_like(r.err, "the entry needs \"key:\"", "raw needs key:");
	st_done(&r);
	st_run(&r, st_dir(), "secrets:\n  - {provider: exec, run: \"sops -d x\"}\n");
	tap_like(r.err, "phdeploy.yaml:4:27: secrets[0].run must be a list of strings",
		 "run: as a shell string is refused");
	st_done(&r);
}

static void failures(void)
{
	struct st_run r;
	struct timespec t0, t1;
	double s;

	run_mode(&r, "fail", "");
	tap_like(r.err, "secret-exec: secret-cmd exited with status 3: Error: failed to get the "
		 "data key", "a failing command: status and its last stderr line");
	tap_is_int(phd_exit_code(r.ctx, r.rc), 4, "... exit code 4");
	st_done(&r);

	st_run(&r, st_dir(), "secrets:\n  - {provider: exec, run: [phd-no-such-command-x]}\n");
	tap_ok(strstr(r.err, "cannot run phd-no-such-command-x") ||
	       strstr(r.err, "phd-no-such-command-x exited with status 127 (cannot run it?)"),
	       "a missing command is named");
	st_done(&r);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_mode(&r, "hang", ", timeout: 1s");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_like(r.err, "secret-cmd did not finish within 1000 ms and was killed",
		 "a hanging command is killed at its deadline");
	tap_ok(s < 8.0, "... promptly (%.1f s)", s);
	st_done(&r);

	/* a command that never stops printing: stopped at the 1 MiB limit,
	 * with no more than that held in memory (it once grew to 535 MB) */
	{
		struct rusage ru0, ru1;
		getrusage(RUSAGE_SELF, &ru0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		run_mode(&r, "flood", ", format: raw, name: flood, key: k, timeout: 120s");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		getrusage(RUSAGE_SELF, &ru1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		tap_like(r.err, "secret-cmd printed more than the 1048576-byte limit and was stopped",
			 "an endless output is refused at the limit");
		tap_ok(s < 20.0, "... and the command stopped long before its deadline (%.1f s)", s);
		tap_ok(ru1.ru_maxrss - ru0.ru_maxrss < 64 * 1024,
		       "... holding at most a few MiB meanwhile (peak grew %ld KiB)",
		       ru1.ru_maxrss - ru0.ru_maxrss);
		st_done(&r);
	}
}

static void redaction(void)
{
	struct st_run r;

	run_mode(&r, "leak", ", format: raw, name: leaky, key: k");
	st_is(&r, "leaky", "k", "exec-leaky-secret-2024", "the value is read");
	tap_like(r.out, "debug: decrypted value is", "the command's stderr is shown");
	tap_unlike(r.out, "exec-leaky-secret-2024", "... with the secret masked");
	st_done(&r);
}

int main(void)
{
	snprintf(cmd, sizeof cmd, "%s/tests/bin/secret-cmd", tap_env("top_srcdir", "."));
	st_init();
	formats();
	bad_output();
	bad_entries();
	failures();
	redaction();
	return tap_done();
}
