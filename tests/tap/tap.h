/* Minimal TAP producer for the test suite (TAP version 13). */
#ifndef PHD_TAP_H
#define PHD_TAP_H

#include <stddef.h>

#if defined(__GNUC__)
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TAP_PRINTF(f, a)
#endif

void tap_plan(int n);
/* Plan "1..0 # SKIP why" and exit 0. */
void tap_skip_all(const char *fmt, ...) TAP_PRINTF(1, 2);
int tap_ok(int cond, const char *fmt, ...) TAP_PRINTF(2, 3);
int tap_is_int(long long got, long long want, const char *fmt, ...) TAP_PRINTF(3, 4);
int tap_is_str(const char *got, const char *want, const char *fmt, ...) TAP_PRINTF(3, 4);
/* got contains needle */
int tap_like(const char *got, const char *needle, const char *fmt, ...) TAP_PRINTF(3, 4);
int tap_unlike(const char *got, const char *needle, const char *fmt, ...) TAP_PRINTF(3, 4);
void tap_skip(int n, const char *fmt, ...) TAP_PRINTF(2, 3);
void tap_diag(const char *fmt, ...) TAP_PRINTF(1, 2);
/* Ends the test: prints the plan if none was given; returns the exit status. */
int tap_done(void);

/* Helpers for tests. */
/* $name or fallback */
const char *tap_env(const char *name, const char *fallback);
/* Write data to a new file under a fresh temp dir; returns malloc'd path. */
char *tap_write_file(const char *name, const char *data, size_t len);
/* The test's private temp dir (created on first use, removed at exit). */
const char *tap_tmpdir(void);
/* Read a whole file (malloc'd, NUL-terminated) or NULL. */
char *tap_slurp(const char *path, size_t *len);

#endif
