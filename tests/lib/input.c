/* Loading input through the public API for the input tests. */
#include "input.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap/tap.h"

/* The build tree's plugins, for configs whose checks and secrets: entries
 * only exist with them (validate refuses names no plugin provides). */
static char *bundled;
int input_with_plugins;

void input_setup(void)
{
	char state[512];
	const char *path = getenv("PHDEPLOY_PLUGIN_PATH");

	/* bundled plugins register validators of their own; here only the
	 * core's reading of the input is under test */
	bundled = path ? strdup(path) : NULL;
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1);
	snprintf(state, sizeof state, "%s/state", tap_tmpdir());
	setenv("PHDEPLOY_STATE_DIR", state, 1);
}

char *input_write(const char *name, const char *text, size_t len)
{
	return tap_write_file(name, text, len ? len : strlen(text));
}

long long input_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long input_deadline(long long ms)
{
	/* valgrind preloads its vgpreload_*.so into the program it runs */
	const char *pre = getenv("LD_PRELOAD");
	return pre && strstr(pre, "vgpreload") ? ms * 10 : ms;
}

static phd_ctx *new_ctx(const char *config, const char *const *values, size_t nvalues)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	phd_ctx *ctx = NULL;

	o.config_path = config;
	o.flags = config ? 0 : PHD_OPT_NO_CONFIG;
	o.values = values;
	o.nvalues = nvalues;
	o.plugin_path = input_with_plugins ? bundled : NULL;
	if (phd_ctx_new(&ctx, &o) != 0 && !ctx) {
		printf("Bail out! phd_ctx_new: out of memory\n");
		exit(1);
	}
	return ctx;
}

void input_run(struct input_run *r, const char *config, const char *const *values,
	       size_t nvalues)
{
	r->ctx = new_ctx(config, values, nvalues);
	/* with the plugins, loading is what is under test, not their rules */
	r->rc = input_with_plugins == 2 ? phd_ctx_load(r->ctx)
				   : phd_run(r->ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
	r->exit_code = phd_exit_code(r->ctx, r->rc);
	r->msg = phd_ctx_errmsg(r->ctx);
}

void input_run_free(struct input_run *r)
{
	phd_ctx_free(r->ctx);
	memset(r, 0, sizeof *r);
}

/* Does msg hold "file:LINE:COLUMN:"? */
static int has_position(const char *msg, const char *file)
{
	const char *p = msg;
	size_t n = strlen(file);

	while ((p = strstr(p, file)) != NULL) {
		const char *s = p + n;
		unsigned line, col;
		int used = 0;
		if (sscanf(s, ":%u:%u:%n", &line, &col, &used) == 2 && used > 0 && line > 0 &&
		    col > 0)
			return 1;
		p += n;
	}
	return 0;
}

void input_expect_refused(const char *what, int exit_code, const char *msg, const char *file,
			  const char *pos, const char *needle)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

	tap_is_int(exit_code, 3, "%s: refused with exit code 3", what);
	if (!pos) {
		if (!tap_ok(has_position(msg, file), "%s: the error names %s:line:column", what,
			    base))
			tap_diag("errmsg: %s", msg);
	} else if (!*pos) {
		tap_like(msg, file, "%s: the error names %s", what, base);
	} else {
		char want[4096];
		snprintf(want, sizeof want, "%s:%s: ", file, pos);
		tap_like(msg, want, "%s: the error points at %s:%s", what, base, pos);
	}
	tap_like(msg, needle, "%s: the error says '%s'", what, needle);
}

void input_expect_all_refused(const struct input_bad *cases, size_t n, int as_config)
{
	for (size_t i = 0; i < n; i++) {
		const struct input_bad *b = &cases[i];
		char name[48], what[160];
		char *path;
		const char *files[1];
		struct input_run r;

		snprintf(name, sizeof name, "bad-%s-%02zu.yaml", as_config ? "config" : "values",
			 i);
		path = input_write(name, b->text, b->len);
		files[0] = path;
		if (as_config)
			input_run(&r, path, NULL, 0);
		else
			input_run(&r, NULL, files, 1);
		snprintf(what, sizeof what, "%s with %s", as_config ? "config" : "values file",
			 b->what);
		input_expect_refused(what, r.exit_code, r.msg, path, b->pos, b->needle);
		input_run_free(&r);
		free(path);
	}
}

void input_junk(unsigned char *buf, size_t n, unsigned seed)
{
	unsigned x = seed ? seed : 2463534242u;
	for (size_t i = 0; i < n; i++) { /* xorshift32 */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)(x >> 8);
	}
}

static void child_load(int fd, const char *config, const char *const *values, size_t nvalues)
{
	struct input_run r;
	const char *m;
	size_t left;
	int code;

	input_run(&r, config, values, nvalues);
	m = r.msg;
	left = strlen(m);
	while (left > 0) {
		ssize_t w = write(fd, m, left);
		if (w <= 0)
			break;
		m += w;
		left -= (size_t)w;
	}
	code = r.exit_code;
	input_run_free(&r);
	close(fd);
	_exit(code);
}

void input_run_child(struct input_child *c, const char *config, const char *const *values,
		     size_t nvalues, long long deadline_ms)
{
	int fds[2], status = 0;
	size_t got = 0;
	long long t0 = input_now_ms(), end = t0 + deadline_ms;
	pid_t pid;

	memset(c, 0, sizeof *c);
	fflush(stdout);
	if (pipe(fds) != 0 || (pid = fork()) < 0) {
		printf("Bail out! pipe/fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		close(fds[0]);
		child_load(fds[1], config, values, nvalues);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		long long left = end - input_now_ms();
		ssize_t r;
		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		r = read(fds[0], c->msg + got, got < sizeof c->msg - 1 ? sizeof c->msg - 1 - got
									: 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (got < sizeof c->msg - 1)
			got += (size_t)r;
	}
	c->msg[got] = '\0';
	close(fds[0]);
	/* the pipe closes when the child ends; it may still be tearing down */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		if (input_now_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		nanosleep(&ts, NULL);
	}
	c->ms = input_now_ms() - t0;
	c->finished = WIFEXITED(status) && c->ms <= deadline_ms;
	c->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	c->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
