/* The one child-process runner every plugin uses: posix_spawn with argv
 * (never a shell), a scrubbed environment, a deadline (TERM, then KILL),
 * SIGINT/SIGTERM forwarded, and every byte the child prints passed line by
 * line through the redactor before anyone sees it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "phd-private.h"

extern char **environ;

#define KILL_GRACE_MS 5000      /* after TERM */
#define INTERRUPT_GRACE_MS 30000 /* after a forwarded SIGINT, for helm to stop */

struct stream {
	int fd;
	int no;                    /* 1 stdout, 2 stderr */
	struct phd_buf line;       /* partial line */
	struct phd_buf *capture;   /* redacted capture or NULL */
	struct phd_buf *raw;       /* raw capture (secret) or NULL */
};

struct run {
	phd_ctx *ctx;
	const struct phd_exec *spec;
	struct phd_exec_result *res;
	struct phd_buf out, err;
	int too_big;
	char *what;                /* "helm upgrade", for messages */
	pid_t pid;
	int status, reaped, status_lost;
	int in_fd;                 /* our end of the child's stdin, or -1 */
	size_t in_off;
	struct stream so, se;
	long long start, deadline, next_tick, grace_until;
	long long term_at, kill_at, int_term_at;
};

char **phd_exec_env(phd_ctx *ctx, const char *const *extra)
{
	size_t n = 0, k = 0, e = 0;
	char **env;
	while (environ && environ[n])
		n++;
	while (extra && extra[e])
		e++;
	env = calloc(n + e + 1, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		if (eq && phd_secrets_in(ctx, eq + 1)) {
			phd_log(ctx, PHD_LOG_DEBUG, "child environment: %.*s withheld (holds a secret)",
				(int)(eq - environ[i]), environ[i]);
			continue;
		}
		env[k++] = environ[i];
	}
	for (size_t i = 0; i < e; i++)
		env[k++] = (char *)extra[i];
	env[k] = NULL;
	return env;
}

static void process_line(struct run *r, struct stream *s, const char *line, size_t len)
{
	phd_ctx *ctx = r->ctx;
	size_t rlen;
	char *red = phd_redactor_apply(&ctx->redact, line, len, &rlen);
	if (!red)
		return;
	if (r->spec->on_line && r->spec->on_line(s->no, red, r->spec->payload)) {
		free(red);
		return;
	}
	if (s->capture) {
		if (s->capture->len + rlen + 1 > PHD_MAX_CAPTURE)
			r->too_big = 1;
		else if (phd_buf_add(s->capture, red, rlen) || phd_buf_add(s->capture, "\n", 1))
			r->too_big = 1;
	}
	if (r->spec->flags & PHD_EXEC_EMIT)
		phd_emit_simple(ctx, PHD_EV_OUTPUT, ctx->running_phase, 0, 0,
				s->no == 1 ? "stdout" : "stderr", red);
	free(red);
}

static void feed(struct run *r, struct stream *s, const char *p, size_t n)
{
	if (s->raw) {
		/* past the limit nothing more is kept, and police() ends the
		 * child: memory stays bounded by the limit, not by the child */
		if (r->too_big || s->raw->len + n > PHD_MAX_RAW || phd_buf_add(s->raw, p, n))
			r->too_big = 1;
		return;
	}
	while (n > 0) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		if (s->line.len + take > PHD_MAX_LINE) {
			/* an endless line: pass it on in pieces */
			size_t room = PHD_MAX_LINE - s->line.len;
			phd_buf_add(&s->line, p, room);
			process_line(r, s, s->line.s, s->line.len);
			s->line.len = 0;
			p += room;
			n -= room;
			continue;
		}
		if (phd_buf_add(&s->line, p, take))
			r->too_big = 1;
		p += take;
		n -= take;
		if (nl) {
			size_t l = s->line.len;
			if (l && s->line.s[l - 1] == '\r')
				l--;
			process_line(r, s, s->line.s ? s->line.s : "", l);
			s->line.len = 0;
			p++;
			n--;
		}
	}
}

/* Write to the child's stdin without letting SIGPIPE kill the caller. */
static ssize_t safe_write(int fd, const void *p, size_t n)
{
	sigset_t pipe_set, old;
	ssize_t w;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	w = write(fd, p, n);
	if (w < 0 && errno == EPIPE) {
		struct timespec zero = { 0, 0 };
		int e = errno;
		sigtimedwait(&pipe_set, NULL, &zero);
		errno = e;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w;
}

static char *describe(const char *const *argv)
{
	/* argv[0] and its first word, for progress lines */
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (argv[1] && argv[1][0] != '-')
		return phd_asprintf("%s %s", base, argv[1]);
	return strdup(base);
}

/* A secret never reaches a child through argv or its environment. */
static int refuse_secrets(phd_ctx *ctx, const struct phd_exec *spec)
{
	for (size_t i = 0; spec->argv[i]; i++)
		if (phd_redactor_hits(&ctx->redact, spec->argv[i]))
			return phd_set_error(ctx, PHD_EINVAL,
					     "refusing to run %s: argument %zu holds a secret "
					     "(secrets go on stdin only)", spec->argv[0], i);
	for (size_t i = 0; spec->env && spec->env[i]; i++)
		if (phd_redactor_hits(&ctx->redact, spec->env[i]))
			return phd_set_error(ctx, PHD_EINVAL,
					     "refusing to run %s: an environment entry holds a secret",
					     spec->argv[0]);
	return 0;
}

static int cannot_run(phd_ctx *ctx, const char *name, int err)
{
	return phd_set_error(ctx, err == ENOENT ? PHD_ENOTFOUND : PHD_ECHILD,
			     "cannot run '%s': %s%s", name, strerror(err),
			     err == ENOENT && !strchr(name, '/') ?
			     " (not found in PATH; give its path)" : "");
}

/* The program's path, looked up in PATH as execvp does.  Done here because
 * posix_spawnp reports a failed exec only where the C library can: under
 * valgrind (and with other libcs) the child just exits 127. */
static int resolve_program(phd_ctx *ctx, const char *name, char **out)
{
	const char *path = getenv("PATH"), *p;
	int err = ENOENT;

	*out = NULL;
	if (strchr(name, '/')) {
		if (access(name, X_OK) != 0)
			return cannot_run(ctx, name, errno);
		*out = strdup(name);
		return *out ? 0 : PHD_ENOMEM;
	}
	if (!*name)
		return cannot_run(ctx, name, ENOENT);
	for (p = path ? path : "/bin:/usr/bin"; ; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char *cand = phd_asprintf("%.*s/%s", len ? (int)len : 1, len ? p : ".", name);
		struct stat st;

		if (!cand)
			return PHD_ENOMEM;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(cand, X_OK) == 0) {
				*out = cand;
				return 0;
			}
			err = EACCES;
		}
		free(cand);
		if (!end)
			break;
		p = end;
	}
	return cannot_run(ctx, name, err);
}

/* Pipes, then posix_spawn: stdin from the spec's data or /dev/null, the
 * caller's signal dispositions reset, its own process group. */
static int spawn_child(struct run *r, const char *prog, char **env)
{
	const struct phd_exec *spec = r->spec;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defs;
	int spawn_rc, rc = 0;

	if ((spec->stdin_data && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		rc = phd_set_error(r->ctx, PHD_EIO, "pipe: %s", strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	if (spec->stdin_data)
		posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigemptyset(&defs);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGHUP);
	sigaddset(&defs, SIGQUIT);
	sigaddset(&defs, SIGXFSZ);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defs);
	/* own process group: deadline kills reach helm's children too */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETPGROUP);
	/* in a check's process, a stop (SIGTERM) waits until the child's
	 * group is tracked, so that it ends with the check */
	if (r->ctx->in_check) {
		sigset_t term;
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigprocmask(SIG_BLOCK, &term, NULL);
		spawn_rc = posix_spawn(&r->pid, prog, &fa, &attr, (char *const *)spec->argv, env);
		if (spawn_rc == 0)
			phd_check_track_group(r->ctx, r->pid, 1);
		sigprocmask(SIG_UNBLOCK, &term, NULL);
	} else {
		spawn_rc = posix_spawn(&r->pid, prog, &fa, &attr, (char *const *)spec->argv, env);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (spawn_rc != 0) {
		r->pid = -1;
		rc = cannot_run(r->ctx, spec->argv[0], spawn_rc);
		goto out;
	}
	phd_lock_note_child(r->ctx, r->pid, r->what);
	if (in[1] >= 0) {
		fcntl(in[1], F_SETFL, O_NONBLOCK);
		r->in_fd = in[1];
		in[1] = -1;
	}
	r->so.fd = out[0];
	r->se.fd = err[0];
	out[0] = err[0] = -1; /* owned by the streams now */
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	return rc;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The child's stdin is writable: give it the next piece. */
static void write_stdin(struct run *r)
{
	const struct phd_exec *spec = r->spec;
	ssize_t w = safe_write(r->in_fd, (const char *)spec->stdin_data + r->in_off,
			       spec->stdin_len - r->in_off);
	if (w > 0)
		r->in_off += (size_t)w;
	if (w < 0 && errno != EAGAIN && errno != EINTR)
		r->in_off = spec->stdin_len; /* child closed stdin */
	if (r->in_off >= spec->stdin_len)
		close_fd(&r->in_fd);
}

/* One of the child's outputs is readable (or at its end). */
static void read_stream(struct run *r, struct stream *s)
{
	char buf[65536];
	ssize_t n = read(s->fd, buf, sizeof buf);

	if (n > 0) {
		feed(r, s, buf, (size_t)n);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		if (s->line.len)
			process_line(r, s, s->line.s, s->line.len);
		s->line.len = 0;
		close_fd(&s->fd);
	}
	phd_wipe(buf, n > 0 ? (size_t)n : 0);
}

/* Wait up to wait_ms for the child's pipes and serve them.  Returns -1
 * when poll fails for good. */
static int pump(struct run *r, int wait_ms)
{
	struct pollfd pf[3];
	int np = 0;

	if (r->so.fd >= 0)
		pf[np++] = (struct pollfd){ r->so.fd, POLLIN, 0 };
	if (r->se.fd >= 0)
		pf[np++] = (struct pollfd){ r->se.fd, POLLIN, 0 };
	if (r->in_fd >= 0)
		pf[np++] = (struct pollfd){ r->in_fd, POLLOUT, 0 };
	if (poll(pf, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
		return -1;
	for (int i = 0; i < np; i++) {
		if (!pf[i].revents)
			continue;
		if (pf[i].fd == r->in_fd)
			write_stdin(r);
		else
			read_stream(r, pf[i].fd == r->so.fd ? &r->so : &r->se);
	}
	return 0;
}

/* Collect the child's exit status without blocking (block: wait for it). */
static void reap(struct run *r, int block)
{
	pid_t w;

	do
		w = waitpid(r->pid, &r->status, block ? 0 : WNOHANG);
	while (w < 0 && errno == EINTR);
	if (w < 0 && errno == ECHILD) {
		/* SIGCHLD ignored by the application: the kernel reaped the
		 * child and its status is gone; the caller gets an error */
		r->status_lost = 1;
		w = r->pid;
	}
	if (w == r->pid) {
		/* what the child left in its group (helm's own children, a
		 * hook's background job) ends with it */
		kill(-r->pid, SIGKILL);
		phd_lock_note_child(r->ctx, 0, NULL);
		phd_check_track_group(r->ctx, r->pid, 0);
		r->reaped = 1;
		r->grace_until = phd_now_ms() + 2000; /* orphans holding the pipes */
	}
}

/* Signals for a child still running: output too large, an interrupt
 * (SIGINT, then TERM later), the deadline (TERM, then KILL). */
static void police(struct run *r, long long now)
{
	pid_t grp = -r->pid;

	if (r->too_big && !r->term_at) {
		r->term_at = now;
		kill(grp, SIGTERM);
	}
	if (r->ctx->interrupted && !r->res->interrupted) {
		/* SIGINT first, so helm can stop cleanly; TERM, then KILL later */
		r->res->interrupted = 1;
		kill(grp, SIGINT);
		r->int_term_at = now + INTERRUPT_GRACE_MS;
	}
	if (r->int_term_at && now >= r->int_term_at && !r->term_at) {
		r->term_at = now;
		kill(grp, SIGTERM);
	}
	if (r->deadline && now >= r->deadline && !r->term_at) {
		r->res->timed_out = 1;
		r->term_at = now;
		kill(grp, SIGTERM);
	}
	if (r->term_at && !r->kill_at)
		r->kill_at = r->term_at + KILL_GRACE_MS;
	if (r->kill_at && now >= r->kill_at) {
		kill(grp, SIGKILL);
		r->kill_at = now + 3600000;
	}
	if ((r->spec->flags & PHD_EXEC_EMIT) && now >= r->next_tick) {
		r->next_tick = now + 1000;
		phd_emit_simple(r->ctx, PHD_EV_PROGRESS, r->ctx->running_phase, 0, now - r->start,
				"tick", r->what);
	}
}

/* Serve the pipes until the child has ended and its output is drained. */
static void supervise(struct run *r)
{
	const struct phd_exec *spec = r->spec;
	long long now;

	r->start = phd_now_ms();
	r->next_tick = r->start + 1000;
	r->deadline = spec->timeout_ms > 0 ? r->start + spec->timeout_ms : 0;
	for (;;) {
		int open = r->so.fd >= 0 || r->se.fd >= 0 || r->in_fd >= 0;

		if (!open && r->reaped)
			break;
		if (pump(r, open ? 200 : 20) < 0)
			break;
		if (!r->reaped)
			reap(r, 0);
		now = phd_now_ms();
		if (r->reaped && (r->so.fd >= 0 || r->se.fd >= 0) && now > r->grace_until)
			break;
		if (r->reaped)
			close_fd(&r->in_fd);
		else
			police(r, now);
	}
	if (!r->reaped) {
		kill(-r->pid, SIGKILL);
		reap(r, 1);
	}
}

/* The child's end into the result, and the call's return code. */
static int conclude(struct run *r)
{
	struct phd_exec_result *res = r->res;
	const char *what = r->what;

	res->ms = phd_now_ms() - r->start;
	if (r->status_lost) {
		res->exit_code = -1;
	} else if (WIFEXITED(r->status)) {
		res->exit_code = WEXITSTATUS(r->status);
	} else if (WIFSIGNALED(r->status)) {
		res->term_signal = WTERMSIG(r->status);
		res->exit_code = -1;
	}
	res->out = r->out.s;
	res->out_len = r->out.len;
	res->err = r->err.s;
	res->err_len = r->err.len;
	r->out.s = r->err.s = NULL;
	if (r->too_big)
		return phd_set_error(r->ctx, PHD_ETOOBIG, "%s: output larger than %s, stopped",
				     what, r->so.raw ? "1 MiB" : "512 MiB");
	if (res->timed_out)
		return phd_set_error(r->ctx, PHD_ETIMEOUT, "%s: no result within %lld s, stopped",
				     what, r->spec->timeout_ms / 1000);
	if (res->interrupted)
		return phd_set_error(r->ctx, PHD_EINTR, "%s: interrupted", what);
	if (r->status_lost)
		return phd_set_error(r->ctx, PHD_ECHILD, "%s: exit status lost: SIGCHLD is ignored "
				     "in this process, so the child was reaped before its status "
				     "could be read; restore SIGCHLD's default action", what);
	return 0;
}

PHD_EXTERN int phd_exec_run(phd_ctx *ctx, const struct phd_exec *spec,
			    struct phd_exec_result *res)
{
	struct run r;
	char **env = NULL, *prog = NULL;
	int rc;

	if (!res)
		return PHD_EINVAL;
	memset(res, 0, sizeof *res);
	res->exit_code = -1;
	if (!ctx || !spec || spec->version != PHD_EXEC_VERSION || !spec->argv || !spec->argv[0])
		return ctx ? phd_set_error(ctx, PHD_EINVAL, "phd_exec_run: bad spec") : PHD_EINVAL;
	if ((rc = refuse_secrets(ctx, spec)) != 0)
		return rc;
	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.spec = spec;
	r.res = res;
	r.pid = -1;
	r.in_fd = r.so.fd = r.se.fd = -1;
	r.so.no = 1;
	r.se.no = 2;
	if (spec->flags & PHD_EXEC_RAW_STDOUT)
		r.so.raw = &r.out;
	else if (spec->flags & PHD_EXEC_CAPTURE_STDOUT)
		r.so.capture = &r.out;
	if (spec->flags & PHD_EXEC_CAPTURE_STDERR)
		r.se.capture = &r.err;
	env = phd_exec_env(ctx, spec->env);
	r.what = describe(spec->argv);
	if (!env || !r.what)
		rc = PHD_ENOMEM;
	if (rc == 0)
		rc = resolve_program(ctx, spec->argv[0], &prog);
	if (rc == 0)
		rc = spawn_child(&r, prog, env);
	if (rc == 0) {
		supervise(&r);
		rc = conclude(&r);
	}
	phd_buf_wipe(&r.so.line);
	phd_buf_wipe(&r.se.line);
	phd_buf_wipe(&r.out);
	phd_buf_wipe(&r.err);
	close_fd(&r.in_fd);
	close_fd(&r.so.fd);
	close_fd(&r.se.fd);
	free(env);
	free(prog);
	free(r.what);
	return rc;
}

PHD_EXTERN void phd_exec_result_clear(struct phd_exec_result *res)
{
	if (!res)
		return;
	if (res->out)
		phd_wipe(res->out, res->out_len);
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof *res);
}
