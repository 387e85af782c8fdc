/* Shared by the dependency-check tests (postgres-t, redis-t): servers
 * started through the tests/bin scripts and stopped even when the test
 * crashes, and the preflight phase run through the public API with an
 * in-process secret provider. */
#ifndef PHD_CHECK_HARNESS_H
#define PHD_CHECK_HARNESS_H

#include <stddef.h>

/* Run tests/bin/<script> args... (NULL-terminated argv after the script
 * name) with stdin_data on stdin (may be NULL); its trimmed stdout in out.
 * Returns the exit status, or -1 when it could not run. */
int ch_script(char *out, size_t outlen, const char *stdin_data, const char *script, ...);

/* A fresh directory under /tmp for a server (reachable by user nobody).
 * When this process ends, however it ends, a reaper runs
 * "tests/bin/<stop_script> stop DIR" and removes DIR.  Returns a static-
 * lifetime malloc'd path. */
char *ch_server_dir(const char *stop_script);

/* A 127.0.0.1 port that accepts no connection: its accept queue is full,
 * so a connect stays unanswered (SYN dropped).  Returns the port or -1. */
int ch_blackhole_port(void);
/* A socket listening on 127.0.0.1 (its port in *port), or -1. */
int ch_listener(int backlog, int *port);
/* A 127.0.0.1 port whose server accepts the TCP connection and never
 * answers.  Returns the port or -1. */
int ch_silent_port(void);

struct ch_secret {
	const char *name;   /* Secret name */
	const char *key;
	const char *value;  /* NULL: no secrets: entry */
};

struct ch_result {
	int rc;              /* phd_run */
	int found;           /* the check ran */
	int status;          /* PHD_STATUS_* */
	long long ms;        /* check's duration */
	long long wall_ms;   /* phd_run's duration */
	char *message;       /* the check's summary (malloc'd) */
	char *text;          /* summary, every event and log line (malloc'd) */
};

/* Write config (to which "values:" and "secrets:" are appended), values and
 * the secret into a fresh directory, run the preflight phase with only the
 * plugin named like the check loaded, and collect the result of check
 * `check`. */
void ch_preflight(struct ch_result *res, const char *check, const char *config,
		  const char *values, const struct ch_secret *secret);
void ch_result_free(struct ch_result *res);

/* ch_preflight, then the TAP assertion that no password reached anything
 * the run reported (secret->value, when given). */
void ch_check(struct ch_result *res, const char *check, const char *config,
	      const char *values, const struct ch_secret *secret);
/* TAP: the check ended with status; prints all it said when not. */
void ch_expect(const struct ch_result *res, int status, const char *what);

/* One case: ch_check and ch_expect, then for each (needle, description)
 * pair up to NULL a tap_like on what the check said; a needle starting with
 * '^' must be in the summary.  Frees values. */
void ch_case(const char *check, const char *config, char *values,
	     const struct ch_secret *secret, int status, const char *what, ...);

/* An endpoint that never answers costs the check's deadline, not TCP's:
 * the check fails, its summary holds needle, and phd_run took < 3 s
 * (config sets a 1 s timeout).  Frees values. */
void ch_deadline_case(const char *check, const char *config, char *values,
		      const struct ch_secret *secret, const char *what, const char *needle);

/* Name of a status for diagnostics. */
const char *ch_status(int status);

/* printf into a malloc'd string. */
char *ch_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
