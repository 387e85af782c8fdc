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
	struct phd_buf out, err;
	int too_big;
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
		if (s->raw->len + n > PHD_MAX_CAPTURE || phd_buf_add(s->raw, p, n))
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

PHD_EXTERN int phd_exec_run(phd_ctx *ctx, const struct phd_exec *spec,
			    struct phd_exec_result *res)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, defs;
	struct stream so = { -1, 1, { 0 }, NULL, NULL }, se = { -1, 2, { 0 }, NULL, NULL };
	struct run r;
	char **env = NULL, *what = NULL;
	pid_t pid = -1;
	int status = 0, reaped = 0, rc = 0, spawn_rc;
	size_t in_off = 0;
	long long start, deadline, term_at = 0, kill_at = 0, grace_until = 0, next_tick;
	long long int_term_at = 0;

	if (!res)
		return PHD_EINVAL;
	memset(res, 0, sizeof *res);
	res->exit_code = -1;
	if (!ctx || !spec || spec->version != PHD_EXEC_VERSION || !spec->argv || !spec->argv[0])
		return ctx ? phd_set_error(ctx, PHD_EINVAL, "phd_exec_run: bad spec") : PHD_EINVAL;
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
	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.spec = spec;
	env = phd_exec_env(ctx, spec->env);
	what = describe(spec->argv);
	if (!env || !what) {
		free(env);
		free(what);
		return PHD_ENOMEM;
	}
	if ((spec->stdin_data && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		rc = phd_set_error(ctx, PHD_EIO, "pipe: %s", strerror(errno));
		goto done;
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
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defs);
	/* own process group: deadline kills reach helm's children too */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETPGROUP);
	spawn_rc = posix_spawnp(&pid, spec->argv[0], &fa, &attr, (char *const *)spec->argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (spawn_rc != 0) {
		rc = phd_set_error(ctx, spawn_rc == ENOENT ? PHD_ENOTFOUND : PHD_ECHILD,
				   "cannot run '%s': %s%s", spec->argv[0], strerror(spawn_rc),
				   spawn_rc == ENOENT ? " (not found in PATH; give its path)" : "");
		pid = -1;
		goto done;
	}
	close(out[1]);
	close(err[1]);
	out[1] = err[1] = -1;
	if (in[0] >= 0) {
		close(in[0]);
		in[0] = -1;
		fcntl(in[1], F_SETFL, O_NONBLOCK);
	}
	so.fd = out[0];
	se.fd = err[0];
	out[0] = err[0] = -1; /* owned by the streams now */
	if (spec->flags & PHD_EXEC_RAW_STDOUT)
		so.raw = &r.out;
	else if (spec->flags & PHD_EXEC_CAPTURE_STDOUT)
		so.capture = &r.out;
	if (spec->flags & PHD_EXEC_CAPTURE_STDERR)
		se.capture = &r.err;

	start = phd_now_ms();
	next_tick = start + 1000;
	deadline = spec->timeout_ms > 0 ? start + spec->timeout_ms : 0;
	for (;;) {
		struct pollfd pf[3];
		int np = 0, wait_ms = 200;
		long long now;
		char buf[65536];

		if (so.fd >= 0)
			pf[np++] = (struct pollfd){ so.fd, POLLIN, 0 };
		if (se.fd >= 0)
			pf[np++] = (struct pollfd){ se.fd, POLLIN, 0 };
		if (in[1] >= 0)
			pf[np++] = (struct pollfd){ in[1], POLLOUT, 0 };
		if (np == 0 && reaped)
			break;
		if (np == 0)
			wait_ms = 20;
		if (poll(pf, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < np; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == in[1]) {
				ssize_t w = safe_write(in[1], (const char *)spec->stdin_data + in_off,
						       spec->stdin_len - in_off);
				if (w > 0)
					in_off += (size_t)w;
				if (w < 0 && errno != EAGAIN && errno != EINTR)
					in_off = spec->stdin_len; /* child closed stdin */
				if (in_off >= spec->stdin_len) {
					close(in[1]);
					in[1] = -1;
				}
				continue;
			}
			{
				struct stream *s = pf[i].fd == so.fd ? &so : &se;
				ssize_t n = read(s->fd, buf, sizeof buf);
				if (n > 0) {
					feed(&r, s, buf, (size_t)n);
				} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
					if (s->line.len)
						process_line(&r, s, s->line.s, s->line.len);
					s->line.len = 0;
					close(s->fd);
					s->fd = -1;
				}
				phd_wipe(buf, n > 0 ? (size_t)n : 0);
			}
		}
		if (!reaped) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w < 0 && errno == ECHILD) {
				/* SIGCHLD ignored by the application: the child was reaped
				 * for us and its status is lost */
				status = 0;
				w = pid;
				phd_log(ctx, PHD_LOG_WARN, "%s: exit status lost (SIGCHLD is "
					"ignored in this process)", what);
			}
			if (w == pid) {
				reaped = 1;
				grace_until = phd_now_ms() + 2000; /* orphans holding the pipes */
			}
		}
		now = phd_now_ms();
		if (reaped && (so.fd >= 0 || se.fd >= 0) && now > grace_until)
			break;
		if (reaped && in[1] >= 0) {
			close(in[1]);
			in[1] = -1;
		}
		if (reaped)
			continue;
		if (r.too_big && !term_at) {
			term_at = now;
			kill(-pid, SIGTERM);
		}
		if (ctx->interrupted && !res->interrupted) {
			/* SIGINT first, so helm can stop cleanly; TERM, then KILL later */
			res->interrupted = 1;
			kill(-pid, SIGINT);
			int_term_at = now + INTERRUPT_GRACE_MS;
		}
		if (int_term_at && now >= int_term_at && !term_at) {
			term_at = now;
			kill(-pid, SIGTERM);
		}
		if (deadline && now >= deadline && !term_at) {
			res->timed_out = 1;
			term_at = now;
			kill(-pid, SIGTERM);
		}
		if (term_at && !kill_at)
			kill_at = term_at + KILL_GRACE_MS;
		if (kill_at && now >= kill_at) {
			kill(-pid, SIGKILL);
			kill_at = now + 3600000;
		}
		if ((spec->flags & PHD_EXEC_EMIT) && now >= next_tick) {
			next_tick = now + 1000;
			phd_emit_simple(ctx, PHD_EV_PROGRESS, ctx->running_phase, 0, now - start,
					"tick", what);
		}
	}
	if (!reaped) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	res->ms = phd_now_ms() - start;
	if (WIFEXITED(status)) {
		res->exit_code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		res->term_signal = WTERMSIG(status);
		res->exit_code = -1;
	}
	res->out = r.out.s;
	res->out_len = r.out.len;
	res->err = r.err.s;
	res->err_len = r.err.len;
	r.out.s = r.err.s = NULL;
	if (r.too_big)
		rc = phd_set_error(ctx, PHD_ETOOBIG, "%s: output larger than 512 MiB, stopped", what);
	else if (res->timed_out)
		rc = phd_set_error(ctx, PHD_ETIMEOUT, "%s: no result within %lld s, stopped", what,
				   spec->timeout_ms / 1000);
	else if (res->interrupted)
		rc = phd_set_error(ctx, PHD_EINTR, "%s: interrupted", what);
done:
	phd_buf_wipe(&so.line);
	phd_buf_wipe(&se.line);
	phd_buf_wipe(&r.out);
	phd_buf_wipe(&r.err);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (err[i] >= 0)
			close(err[i]);
	}
	if (so.fd >= 0)
		close(so.fd);
	if (se.fd >= 0)
		close(se.fd);
	free(env);
	free(what);
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
