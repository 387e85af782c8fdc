/* Helpers for the tests of the core's input handling (doc-t, config-t):
 * load a config and values files through the public API only, and assert
 * how bad input is refused. */
#ifndef PHD_TEST_INPUT_H
#define PHD_TEST_INPUT_H

#include <stddef.h>

#include <phdeploy/phdeploy.h>

/* The core alone is under test: no plugins, a private state dir. */
void input_setup(void);
/* 1: the next runs load the build tree's plugins (their checks, providers);
 * 2: and only load, without running validate's rules. */
extern int input_with_plugins;

/* Write text (len 0: strlen) to name in the test's temp dir; malloc'd path. */
char *input_write(const char *name, const char *text, size_t len);

/* One phd_run(validate) of config (NULL: no config file) and values. */
struct input_run {
	phd_ctx *ctx;
	int rc;
	int exit_code;
	const char *msg;
};
void input_run(struct input_run *r, const char *config, const char *const *values,
	       size_t nvalues);
void input_run_free(struct input_run *r);

/* Assert a refusal: exit code 3, an errmsg naming file at pos ("L:C"; NULL:
 * any line:column; "": no position expected) and saying needle. */
void input_expect_refused(const char *what, int exit_code, const char *msg, const char *file,
			  const char *pos, const char *needle);

/* Inputs that must be refused: each is written to a file and loaded as
 * the config (as_config) or as the only values file. */
struct input_bad {
	const char *what;
	const char *text;
	size_t len;            /* 0: strlen */
	const char *pos;       /* exact "L:C"; NULL: any line:column */
	const char *needle;
};
void input_expect_all_refused(const struct input_bad *cases, size_t n, int as_config);

/* n pseudo-random bytes, the same for the same seed. */
void input_junk(unsigned char *buf, size_t n, unsigned seed);

/* The same load in a forked child with a deadline, so that a hang or a crash
 * becomes a failed test instead of a stuck or dead suite. */
struct input_child {
	int finished;       /* ended before the deadline */
	int signal;         /* killed by this signal, 0 if it exited */
	int exit_code;      /* phd_exit_code() of the run (valgrind: 99 on errors) */
	long long ms;
	char msg[4096];
};
void input_run_child(struct input_child *c, const char *config, const char *const *values,
		     size_t nvalues, long long deadline_ms);

/* A deadline in ms, stretched when running under valgrind. */
long long input_deadline(long long ms);
long long input_now_ms(void);

#endif
