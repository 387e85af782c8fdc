#include "tap.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_count;
static int tap_failed;
static int tap_planned = -1;
static char tap_dir[256];
static pid_t tap_owner;

void tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void tap_skip_all(const char *fmt, ...)
{
	va_list ap;
	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(0);
}

static int tap_vresult(int cond, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static int tap_vresult(int cond, const char *fmt, va_list ap)
{
	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	return cond;
}

int tap_is_int(long long got, long long want, const char *fmt, ...)
{
	va_list ap;
	int cond = got == want;
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		tap_diag("got %lld, want %lld", got, want);
	return cond;
}

int tap_is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int cond = got && want ? strcmp(got, want) == 0 : got == want;
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		tap_diag("got '%s', want '%s'", got ? got : "(null)", want ? want : "(null)");
	return cond;
}

int tap_like(const char *got, const char *needle, const char *fmt, ...)
{
	va_list ap;
	int cond = got && strstr(got, needle) != NULL;
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		tap_diag("'%s' does not contain '%s'", got ? got : "(null)", needle);
	return cond;
}

int tap_unlike(const char *got, const char *needle, const char *fmt, ...)
{
	va_list ap;
	int cond = got == NULL || strstr(got, needle) == NULL;
	va_start(ap, fmt);
	tap_vresult(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		tap_diag("'%s' contains '%s'", got, needle);
	return cond;
}

void tap_skip(int n, const char *fmt, ...)
{
	va_list ap;
	for (int i = 0; i < n; i++) {
		tap_count++;
		printf("ok %d # SKIP ", tap_count);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

int tap_done(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_count);
	else if (tap_planned != tap_count)
		tap_diag("planned %d tests but ran %d", tap_planned, tap_count);
	fflush(stdout);
	if (tap_planned >= 0 && tap_planned != tap_count)
		return 1;
	return tap_failed ? 1 : 0;
}

const char *tap_env(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag; (void)ftw;
	remove(path);
	return 0;
}

static void tap_cleanup(void)
{
	if (tap_dir[0] && getpid() == tap_owner && !getenv("TAP_KEEP_TMP"))
		nftw(tap_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tap_tmpdir(void)
{
	if (!tap_dir[0]) {
		const char *base = tap_env("TMPDIR", "/tmp");
		snprintf(tap_dir, sizeof tap_dir, "%s/phd-tap-XXXXXX", base);
		if (!mkdtemp(tap_dir)) {
			printf("Bail out! mkdtemp: %s\n", strerror(errno));
			exit(1);
		}
		tap_owner = getpid();
		atexit(tap_cleanup);
	}
	return tap_dir;
}

char *tap_write_file(const char *name, const char *data, size_t len)
{
	size_t n = strlen(tap_tmpdir()) + strlen(name) + 2;
	char *path = malloc(n);
	FILE *f;
	if (!path)
		return NULL;
	snprintf(path, n, "%s/%s", tap_tmpdir(), name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
	return path;
}

char *tap_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;
	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			char *nb = realloc(buf, cap ? cap * 2 : 8192);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
			cap = cap ? cap * 2 : 8192;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}
