/* Test harness for the dependency checks; see check-harness.h. */
#include "check-harness.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>
#include <phdeploy/plugin.h>

#include "tap.h"

extern char **environ;

char *ch_fmt(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		abort();
	return s;
}

static const char *ch_bin(const char *script)
{
	static char path[4096];

	snprintf(path, sizeof path, "%s/tests/bin/%s", tap_env("top_srcdir", "."), script);
	return path;
}

int ch_script(char *out, size_t outlen, const char *stdin_data, const char *script, ...)
{
	const char *argv[16];
	int in[2], outp[2], status, argc = 0;
	posix_spawn_file_actions_t fa;
	size_t used = 0;
	va_list ap;
	pid_t pid;

	argv[argc++] = ch_bin(script);
	va_start(ap, script);
	while (argc < 15 && (argv[argc] = va_arg(ap, const char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	if (pipe2(in, O_CLOEXEC) || pipe2(outp, O_CLOEXEC))
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	if (posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(outp[1]);
	if (stdin_data && write(in[1], stdin_data, strlen(stdin_data)) < 0)
		tap_diag("%s: write: %s", script, strerror(errno));
	close(in[1]);
	for (;;) {
		char buf[512];
		ssize_t n = read(outp[0], buf, sizeof buf);

		if (n <= 0)
			break;
		if (out && used + 1 < outlen) {
			size_t k = (size_t)n < outlen - used - 1 ? (size_t)n : outlen - used - 1;
			memcpy(out + used, buf, k);
			used += k;
		}
	}
	close(outp[0]);
	if (out) {
		out[used] = '\0';
		while (used && (out[used - 1] == '\n' || out[used - 1] == ' '))
			out[--used] = '\0';
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The reaper: a child that learns "script dir" lines through a pipe and,
 * at end of file (this process gone, whatever the cause), stops and removes
 * each.  The write end is close-on-exec so servers do not inherit it. */
static int ch_reaper_fd = -1;

static void ch_reap(int fd)
{
	static char buf[65536];
	size_t used = 0;
	char *line, *save = NULL;
	int devnull = open("/dev/null", O_RDWR);

	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
	}
	for (;;) {
		ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);

		if (n > 0)
			used += (size_t)n;
		else if (n == 0 || errno != EINTR)
			break;
	}
	buf[used] = '\0';
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *dir = strchr(line, ' ');
		const char *rm[] = { "rm", "-rf", NULL, NULL };
		pid_t pid;

		if (!dir)
			continue;
		*dir++ = '\0';
		ch_script(NULL, 0, NULL, line, "stop", dir, (char *)NULL);
		rm[2] = dir;
		if (posix_spawnp(&pid, "rm", NULL, NULL, (char *const *)rm, environ) == 0)
			waitpid(pid, NULL, 0);
	}
	_exit(0);
}

char *ch_server_dir(const char *stop_script)
{
	char tmpl[] = "/tmp/phd-srv-XXXXXX";
	char *dir, *line;

	if (ch_reaper_fd < 0) {
		int p[2];
		pid_t pid;

		if (pipe2(p, O_CLOEXEC) != 0)
			return NULL;
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			return NULL;
		if (pid == 0) {
			close(p[1]);
			ch_reap(p[0]);
		}
		close(p[0]);
		ch_reaper_fd = p[1];
	}
	if (!mkdtemp(tmpl))
		return NULL;
	chmod(tmpl, 0755);
	dir = strdup(tmpl);
	line = ch_fmt("%s %s\n", stop_script, dir);
	if (write(ch_reaper_fd, line, strlen(line)) < 0)
		tap_diag("reaper: %s", strerror(errno));
	free(line);
	return dir;
}

int ch_listener(int backlog, int *port)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, backlog) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	*port = ntohs(a.sin_port);
	return fd;
}

int ch_silent_port(void)
{
	int port;

	/* kept open for the whole test: the kernel completes handshakes */
	return ch_listener(16, &port) < 0 ? -1 : port;
}

int ch_blackhole_port(void)
{
	struct sockaddr_in a;
	int port, i;

	if (ch_listener(0, &port) < 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((unsigned short)port);
	/* fill the accept queue; later SYNs are dropped */
	for (i = 0; i < 3; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		if (fd >= 0)
			connect(fd, (struct sockaddr *)&a, sizeof a);
	}
	return port;
}

struct ch_text {
	char *buf;
	size_t len;
};

static void ch_append(struct ch_text *t, const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *nb = realloc(t->buf, t->len + n + 1);

	if (!nb)
		abort();
	t->buf = nb;
	t->len += (size_t)sprintf(t->buf + t->len, "%s%s\n", a, b);
}

static void ch_on_log(int level, const char *msg, void *payload)
{
	(void)level;
	ch_append(payload, "log: ", msg);
}

static void ch_on_event(const struct phd_event *ev, void *payload)
{
	char head[128];

	if (!ev->message)
		return;
	snprintf(head, sizeof head, "event %d %s [%s]: ", ev->type, ev->name ? ev->name : "",
		 phd_severity_name(ev->severity));
	ch_append(payload, head, ev->message);
}

/* The in-process secret provider: { provider: testsecret, name, key, file }. */
static int ch_provider(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink,
		       void *userdata)
{
	const char *name = phd_node_str(phd_node_get(entry, "name"));
	const char *key = phd_node_str(phd_node_get(entry, "key"));
	const char *file = phd_node_str(phd_node_get(entry, "file"));
	size_t len = 0;
	char *data = file ? tap_slurp(file, &len) : NULL;
	int rc;

	(void)userdata;
	if (!name || !key || !data) {
		free(data);
		return phd_set_error(ctx, PHD_EINVAL, "testsecret: needs name, key, file");
	}
	rc = phd_secret_add(sink, name, key, data, len, entry);
	explicit_bzero(data, len);
	free(data);
	return rc;
}

static long long ch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *ch_write(const char *dir, const char *name, const char *data)
{
	char *path = ch_fmt("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	if (!f || fputs(data, f) < 0 || fclose(f) != 0)
		tap_diag("cannot write %s", path);
	return path;
}

void ch_preflight(struct ch_result *res, const char *check, const char *config,
		  const char *values, const struct ch_secret *secret)
{
	static int serial;
	struct phd_options opts = PHD_OPTIONS_INIT;
	struct ch_text text = { NULL, 0 };
	char *dir, *vpath, *cpath, *cfg, *spath = NULL, *plugdir;
	phd_plugin *p = NULL;
	phd_ctx *ctx = NULL;
	long long t0;
	size_t i;

	memset(res, 0, sizeof *res);
	res->status = -1;
	dir = ch_fmt("%s/run%d", tap_tmpdir(), ++serial);
	mkdir(dir, 0700);
	vpath = ch_write(dir, "values.yaml", values);
	if (secret && secret->value) {
		spath = ch_write(dir, "secret", secret->value);
		cfg = ch_fmt("%s\nvalues: [\"%s\"]\nsecrets:\n  - { provider: testsecret, name: %s, "
			     "key: %s, file: \"%s\" }\n", config, vpath, secret->name, secret->key,
			     spath);
	} else {
		cfg = ch_fmt("%s\nvalues: [\"%s\"]\n", config, vpath);
	}
	cpath = ch_write(dir, "phdeploy.yaml", cfg);
	ch_append(&text, "", "");
	/* only the plugin under test: the other checks would look for their
	 * own services */
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1);
	plugdir = ch_fmt("%s/plugins/%s/.libs", tap_env("top_builddir", "."), check);
	opts.config_path = cpath;
	opts.plugin_path = plugdir;
	opts.state_dir = dir;
	opts.flags = PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	res->rc = phd_ctx_new(&ctx, &opts);
	if (res->rc != 0) {
		ch_append(&text, "phd_ctx_new: ", ctx ? phd_ctx_errmsg(ctx) : "out of memory");
		goto out;
	}
	phd_ctx_set_log(ctx, ch_on_log, &text);
	phd_ctx_set_event_cb(ctx, ch_on_event, &text);
	if (phd_ctx_add_plugin(&p, ctx, "testsecret", "1") != 0 ||
	    phd_register_secret_provider(p, "testsecret", ch_provider, NULL, NULL) != 0) {
		ch_append(&text, "provider: ", phd_ctx_errmsg(ctx));
		goto out;
	}
	t0 = ch_now_ms();
	res->rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_PREFLIGHT));
	res->wall_ms = ch_now_ms() - t0;
	if (res->rc != 0)
		ch_append(&text, "phd_run: ", phd_ctx_errmsg(ctx));
	for (i = 0; i < phd_ctx_check_count(ctx); i++) {
		const struct phd_check_result *r = phd_ctx_check(ctx, i);

		if (strcmp(r->name, check))
			continue;
		res->found = 1;
		res->status = r->status;
		res->ms = r->ms;
		res->message = strdup(r->message ? r->message : "");
		ch_append(&text, "summary: ", res->message);
	}
out:
	if (!res->message)
		res->message = strdup("");
	res->text = text.buf;
	phd_ctx_free(ctx);
	free(dir);
	free(vpath);
	free(cpath);
	free(cfg);
	free(spath);
	free(plugdir);
}

void ch_result_free(struct ch_result *res)
{
	free(res->message);
	free(res->text);
	memset(res, 0, sizeof *res);
}

void ch_check(struct ch_result *res, const char *check, const char *config,
	      const char *values, const struct ch_secret *secret)
{
	ch_preflight(res, check, config, values, secret);
	if (!res->found)
		tap_diag("check %s did not run: %s", check, res->text);
	tap_unlike(res->text, secret && secret->value ? secret->value : "\x01",
		   "no password in what it reports");
}

void ch_expect(const struct ch_result *res, int status, const char *what)
{
	if (!tap_is_str(ch_status(res->status), ch_status(status), "%s", what))
		tap_diag("%s", res->text);
}

void ch_case(const char *check, const char *config, char *values,
	     const struct ch_secret *secret, int status, const char *what, ...)
{
	struct ch_result r;
	const char *needle;
	va_list ap;

	ch_check(&r, check, config, values, secret);
	ch_expect(&r, status, what);
	va_start(ap, what);
	while ((needle = va_arg(ap, const char *))) {
		const char *desc = va_arg(ap, const char *);

		if (*needle == '^')
			tap_like(r.message, needle + 1, "%s", desc);
		else
			tap_like(r.text, needle, "%s", desc);
	}
	va_end(ap);
	ch_result_free(&r);
	free(values);
}

void ch_deadline_case(const char *check, const char *config, char *values,
		      const struct ch_secret *secret, const char *what, const char *needle)
{
	struct ch_result r;

	ch_check(&r, check, config, values, secret);
	ch_expect(&r, PHD_STATUS_FAILED, what);
	tap_like(r.message, needle, "it says what it waited for");
	tap_ok(r.wall_ms < 3000, "within the deadline (%lld ms)", r.wall_ms);
	ch_result_free(&r);
	free(values);
}

const char *ch_status(int status)
{
	return status < 0 ? "not run" : phd_status_name(status);
}
