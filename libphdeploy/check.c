/* Preflight checks.  Each check runs in its own forked child with its own
 * deadline, so a check that hangs or crashes costs its deadline and a
 * failed result, never the run.  Children report over a pipe in small
 * length-prefixed records; the parent bounds what it accepts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phd-private.h"

#define DEFAULT_TIMEOUT_MS 10000
#define MAX_GROUPS 16       /* process groups of its children a check tracks */

struct phd_check {
	phd_ctx *ctx;
	const phd_node *config;
	long long deadline;
	int fd;
};

struct running {
	struct phd_reg *reg;
	const phd_node *config;
	int required;
	long long timeout, start, ms;
	pid_t pid, parent;        /* parent: the run, for the child to check */
	int fd;
	int done, have_rc, rc, status, timed_out, reaped;
	pid_t groups[MAX_GROUPS]; /* what its 'G' and 'g' records left running */
	struct phd_buf in;
	char *summary;
};

/* ---- child side ---- */
static void put_record(int fd, char type, int arg, const char *msg)
{
	size_t len = msg ? strlen(msg) : 0;
	unsigned char hdr[6];
	if (len > 8192)
		len = 8192;
	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)arg;
	hdr[2] = (unsigned char)(len >> 24);
	hdr[3] = (unsigned char)(len >> 16);
	hdr[4] = (unsigned char)(len >> 8);
	hdr[5] = (unsigned char)len;
	if (write(fd, hdr, sizeof hdr) < 0)
		return;
	while (len > 0) {
		ssize_t w = write(fd, msg, len);
		if (w <= 0)
			return;
		msg += w;
		len -= (size_t)w;
	}
}

static void put_fmt(phd_check *chk, char type, int arg, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void put_fmt(phd_check *chk, char type, int arg, const char *fmt, va_list ap)
{
	struct phd_buf b = { 0 };
	char *red;
	phd_buf_vprintf(&b, fmt, ap);
	red = phd_redactor_apply(&chk->ctx->redact, b.s ? b.s : "", b.len, NULL);
	phd_buf_wipe(&b);
	put_record(chk->fd, type, arg, red ? red : "");
	free(red);
}

/* The process groups of the children this check's process runs: a child
 * of phd_exec_run has a group of its own, which killing the check does not
 * reach.  SIGTERM (the run stopping the check, or the run's death through
 * PR_SET_PDEATHSIG) and a crash signal end them with the check; each group
 * is also reported to the run ('G' when it starts, 'g' when it ended), which
 * ends what a check killed outright (SIGKILL, the OOM killer) left. */
static volatile pid_t child_groups[MAX_GROUPS];

/* Record pgid in a group table (alive) or take it out; the check's own
 * table and the run's copy of it, kept from its records, are alike. */
static void group_set(volatile pid_t *groups, pid_t pgid, int alive)
{
	for (size_t i = 0; i < MAX_GROUPS; i++)
		if (groups[i] == (alive ? 0 : pgid)) {
			groups[i] = alive ? pgid : 0;
			return;
		}
}

void phd_check_track_group(phd_ctx *ctx, pid_t pgid, int alive)
{
	char num[24];

	if (!ctx->in_check || pgid <= 0)
		return;
	group_set(child_groups, pgid, alive);
	snprintf(num, sizeof num, "%ld", (long)pgid);
	put_record(ctx->in_check->fd, alive ? 'G' : 'g', 0, num);
}

static void stop_check(int sig)
{
	for (size_t i = 0; i < sizeof child_groups / sizeof *child_groups; i++)
		if (child_groups[i] > 0)
			kill(-child_groups[i], SIGKILL);
	raise(sig); /* SA_RESETHAND: the default action now, so the run sees the signal */
	_exit(128 + sig);
}

void phd_check_child_log(phd_ctx *ctx, int level, const char *msg)
{
	put_record(ctx->in_check->fd, 'L', level, msg);
}

PHD_EXTERN phd_ctx *phd_check_ctx(phd_check *chk)
{
	return chk ? chk->ctx : NULL;
}

PHD_EXTERN const phd_node *phd_check_config(phd_check *chk)
{
	return chk ? chk->config : NULL;
}

PHD_EXTERN long long phd_check_remaining_ms(phd_check *chk)
{
	long long left;
	if (!chk)
		return 0;
	left = chk->deadline - phd_now_ms();
	return left > 0 ? left : 0;
}

PHD_EXTERN void phd_check_summary(phd_check *chk, const char *fmt, ...)
{
	va_list ap;
	if (!chk)
		return;
	va_start(ap, fmt);
	put_fmt(chk, 'S', 0, fmt, ap);
	va_end(ap);
}

PHD_EXTERN void phd_check_note(phd_check *chk, int severity, const char *fmt, ...)
{
	va_list ap;
	if (!chk)
		return;
	va_start(ap, fmt);
	put_fmt(chk, 'N', severity, fmt, ap);
	va_end(ap);
}

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

static void run_child(phd_ctx *ctx, struct running *c, int fd)
{
	struct phd_check chk = { ctx, c->config, phd_now_ms() + c->timeout, fd };
	int rc;
	char num[16];
	signal(SIGINT, SIG_IGN); /* the parent decides when we stop */
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = stop_check;
		sa.sa_flags = SA_RESETHAND | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGTERM, &sa, NULL);
		/* a crash in the check's code ends what it runs too, then
		 * dies of the same signal (the run reports it) */
		for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++)
			sigaction(crash_signals[i], &sa, NULL);
	}
	/* the run's lock is an flock shared with every fork: a check still
	 * waiting on its server after the run died would hold it */
	if (ctx->lock_fd >= 0) {
		close(ctx->lock_fd);
		ctx->lock_fd = -1;
	}
	/* and a check ends with the run that asked for it, SIGKILL included;
	 * TERM, so that it ends what it runs first */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != c->parent)
		_exit(127);
	ctx->in_check = &chk;
	rc = ((phd_check_fn)c->reg->fn)(&chk, c->reg->userdata);
	if (rc && rc != PHD_EIGNORE && ctx->errmsg && *ctx->errmsg)
		put_record(fd, 'N', PHD_SEV_ERROR, ctx->errmsg);
	snprintf(num, sizeof num, "%d", rc);
	put_record(fd, 'R', 0, num);
	_exit(0);
}

/* ---- parent side ---- */
static struct phd_check_rec *add_result(phd_ctx *ctx, const char *name, int status,
					int required, long long ms, const char *msg)
{
	struct phd_check_rec *rec = calloc(1, sizeof *rec);
	if (!rec)
		return NULL;
	rec->pub.name = strdup(name);
	rec->pub.status = status;
	rec->pub.required = required;
	rec->pub.ms = ms;
	rec->pub.message = phd_redact(ctx, msg ? msg : "");
	if (!rec->pub.name || !rec->pub.message || phd_vec_push(&ctx->checks, rec)) {
		free((char *)rec->pub.name);
		free((char *)rec->pub.message);
		free(rec);
		return NULL;
	}
	return rec;
}

static void emit_check(phd_ctx *ctx, const struct phd_check_rec *rec)
{
	struct phd_event e;
	memset(&e, 0, sizeof e);
	e.type = PHD_EV_CHECK;
	e.phase = PHD_PHASE_PREFLIGHT;
	e.status = rec->pub.status;
	e.severity = rec->pub.status == PHD_STATUS_FAILED
		     ? (rec->pub.required ? PHD_SEV_ERROR : PHD_SEV_WARN) : PHD_SEV_INFO;
	e.ms = rec->pub.ms;
	e.name = rec->pub.name;
	e.message = rec->pub.message;
	phd_emit(ctx, &e);
}

/* Parse the records a child sent; returns the number of error notes. */
static int digest(phd_ctx *ctx, struct running *c)
{
	size_t off = 0;
	int errors = 0;
	while (off + 6 <= c->in.len) {
		const unsigned char *h = (const unsigned char *)c->in.s + off;
		size_t len = (size_t)h[2] << 24 | (size_t)h[3] << 16 | (size_t)h[4] << 8 | h[5];
		char *msg;
		if (off + 6 + len > c->in.len)
			break;
		msg = strndup((const char *)h + 6, len);
		if (!msg)
			break;
		switch (h[0]) {
		case 'S':
			free(c->summary);
			c->summary = msg;
			msg = NULL;
			break;
		case 'N': {
			int sev = h[1] <= PHD_SEV_ERROR ? h[1] : PHD_SEV_ERROR;
			char *obj = phd_asprintf("check/%s", c->reg->name);
			int eff = phd_finding_add(ctx, PHD_PHASE_PREFLIGHT, c->reg->name, sev, obj,
						  NULL, NULL, msg);
			if (eff == PHD_SEV_ERROR)
				errors++;
			if (sev == PHD_SEV_ERROR && !c->summary) {
				c->summary = msg;
				msg = NULL;
			}
			free(obj);
			break;
		}
		case 'L':
			phd_log(ctx, h[1] <= PHD_LOG_DEBUG ? h[1] : PHD_LOG_DEBUG, "check %s: %s",
				c->reg->name, msg);
			break;
		case 'R':
			c->have_rc = 1;
			c->rc = atoi(msg);
			break;
		case 'G':
		case 'g': {
			/* the check's own report, so only ever a positive pid */
			long g = strtol(msg, NULL, 10);
			if (g > 1 && g <= INT_MAX)
				group_set(c->groups, (pid_t)g, h[0] == 'G');
			break;
		}
		default:
			break;
		}
		free(msg);
		off += 6 + len;
	}
	return errors;
}

static void finish(phd_ctx *ctx, struct running *c)
{
	int errors = digest(ctx, c);
	int status;
	char *msg = NULL;
	struct phd_check_rec *rec;

	/* the check is gone: nothing it started may outlive it */
	for (size_t i = 0; i < sizeof c->groups / sizeof *c->groups; i++)
		if (c->groups[i] > 1 && kill(-c->groups[i], SIGKILL) == 0)
			/* (or its zombies, which a dead check never reaped) */
			phd_log(ctx, PHD_LOG_DEBUG, "check %s: ended process group %ld it left",
				c->reg->name, (long)c->groups[i]);

	if (c->timed_out) {
		status = PHD_STATUS_FAILED;
		msg = phd_asprintf("no answer within %lld ms (deadline), stopped%s%s", c->timeout,
				   c->summary ? ": " : "", c->summary ? c->summary : "");
	} else if (!c->have_rc) {
		status = PHD_STATUS_FAILED;
		if (ctx->interrupted && WIFSIGNALED(c->status) && WTERMSIG(c->status) == SIGTERM)
			msg = phd_asprintf("stopped: the run was interrupted");
		else if (WIFSIGNALED(c->status))
			msg = phd_asprintf("the check crashed (signal %d: %s); plugin '%s'",
					   WTERMSIG(c->status), strsignal(WTERMSIG(c->status)),
					   c->reg->plugin->name);
		else
			msg = phd_asprintf("the check ended without a result (exit %d); plugin '%s'",
					   WEXITSTATUS(c->status), c->reg->plugin->name);
	} else if (c->rc == PHD_EIGNORE) {
		status = PHD_STATUS_SKIPPED;
		msg = strdup(c->summary ? c->summary : "not applicable");
	} else if (c->rc == 0 && errors == 0) {
		status = PHD_STATUS_OK;
		msg = strdup(c->summary ? c->summary : "ok");
	} else {
		status = PHD_STATUS_FAILED;
		msg = strdup(c->summary ? c->summary : phd_strerror(c->rc ? c->rc : PHD_EFAILED));
	}
	rec = add_result(ctx, c->reg->name, status, c->required, c->ms, msg);
	if (rec)
		emit_check(ctx, rec);
	free(msg);
}

/* One running entry per registered check, with its config and deadline. */
static struct running *prepare(phd_ctx *ctx, size_t *n)
{
	const phd_node *cfg = phd_node_child(ctx->config, "checks");
	/* every configured check has a plugin: validate made sure of it */
	const struct phd_vec *checks = phd_dispatch_list(ctx, PHD_REG_CHECK, PHD_PHASE_PREFLIGHT);
	struct running *cs = calloc(checks->n + 1, sizeof *cs);

	*n = 0;
	if (!cs)
		return NULL;
	for (size_t k = 0; k < checks->n; k++) {
		struct running *c = &cs[(*n)++];
		long long t;
		c->reg = checks->v[k];
		c->fd = -1;
		c->pid = -1;
		c->config = phd_node_child(cfg, c->reg->name);
		c->required = c->reg->control == PHD_CTL_REQUIRED; /* checks.NAME.required */
		c->timeout = phd_node_duration_ms(phd_node_child(c->config, "timeout"), &t) == 0 &&
			     t > 0 ? t : DEFAULT_TIMEOUT_MS;
		c->done = !phd_node_truthy(phd_node_child(c->config, "enabled"), 1);
	}
	return cs;
}

/* Fork a child per enabled check; returns how many run. */
static size_t spawn_all(phd_ctx *ctx, struct running *cs, size_t n)
{
	size_t active = 0;

	fflush(NULL); /* a child must not write the parent's buffered output twice */
	for (size_t i = 0; i < n; i++) {
		struct running *c = &cs[i];
		int p[2];
		if (c->done)
			continue;
		if (pipe2(p, O_CLOEXEC) != 0) {
			c->done = 1;
			continue;
		}
		c->start = phd_now_ms();
		c->parent = getpid();
		c->pid = fork();
		if (c->pid == 0) {
			close(p[0]);
			run_child(ctx, c, p[1]);
		}
		close(p[1]);
		if (c->pid < 0) {
			close(p[0]);
			c->done = 1;
			continue;
		}
		c->fd = p[0];
		fcntl(c->fd, F_SETFL, O_NONBLOCK);
		active++;
	}
	return active;
}

/* A terminal shows what preflight is still waiting for. */
static void tick(phd_ctx *ctx, const struct running *cs, size_t n, long long started)
{
	struct phd_buf w = { 0 };
	for (size_t i = 0; i < n; i++)
		if (cs[i].fd >= 0)
			phd_buf_printf(&w, "%s%s", w.len ? ", " : "waiting for ", cs[i].reg->name);
	phd_emit_simple(ctx, PHD_EV_PROGRESS, PHD_PHASE_PREFLIGHT, 0, phd_now_ms() - started,
			"tick", w.s);
	phd_buf_free(&w);
}

/* Stop a check at its deadline or an interrupt: SIGTERM, which ends the
 * children it runs too (stop_check), then SIGKILL if it is still there. */
static void stop_child(struct running *c)
{
	kill(c->pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		pid_t w = waitpid(c->pid, &c->status, WNOHANG);
		if (w == c->pid || (w < 0 && errno != EINTR)) {
			c->reaped = 1;
			return;
		}
		usleep(5000);
	}
	kill(c->pid, SIGKILL);
}

/* Read what c reported; end it at EOF, its deadline or an interrupt.
 * Returns 1 when it ended now. */
static int drain(phd_ctx *ctx, struct running *c, long long now)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(c->fd, buf, sizeof buf)) > 0) {
		if (c->in.len + (size_t)r <= PHD_CHECK_MAX_REPORT)
			phd_buf_add(&c->in, buf, (size_t)r);
		if (r < (ssize_t)sizeof buf)
			break;
	}
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		close(c->fd);
		c->fd = -1;
	} else if (now >= c->start + c->timeout || ctx->interrupted) {
		c->timed_out = !ctx->interrupted;
		stop_child(c);
		close(c->fd);
		c->fd = -1;
	}
	if (c->fd >= 0)
		return 0;
	while (!c->reaped && waitpid(c->pid, &c->status, 0) < 0 && errno == EINTR)
		;
	c->ms = phd_now_ms() - c->start;
	return 1;
}

/* Poll every running check until each ended or was killed at its deadline. */
static void wait_all(phd_ctx *ctx, struct running *cs, size_t n, size_t active)
{
	long long started = phd_now_ms(), next_tick = started + 1000;
	struct pollfd *pf = calloc(n, sizeof *pf);

	while (active > 0 && pf) {
		size_t np = 0;
		long long now = phd_now_ms(), wait = 200;
		if (now >= next_tick) {
			tick(ctx, cs, n, started);
			next_tick = now + 1000;
		}
		for (size_t i = 0; i < n; i++) {
			if (cs[i].fd < 0)
				continue;
			pf[np++] = (struct pollfd){ cs[i].fd, POLLIN, 0 };
			if (cs[i].start + cs[i].timeout - now < wait)
				wait = cs[i].start + cs[i].timeout - now;
		}
		poll(pf, np, (int)(wait < 0 ? 0 : wait));
		now = phd_now_ms();
		for (size_t i = 0; i < n; i++)
			if (cs[i].fd >= 0 && drain(ctx, &cs[i], now))
				active--;
	}
	free(pf);
}

/* Record one check's result; returns 1 when a required check failed. */
static int collect(phd_ctx *ctx, struct running *c)
{
	struct phd_check_rec *rec;
	if (c->pid < 0) {
		int disabled = !phd_node_truthy(phd_node_child(c->config, "enabled"), 1);
		rec = add_result(ctx, c->reg->name, disabled ? PHD_STATUS_SKIPPED
					: PHD_STATUS_FAILED, c->required, 0,
				 disabled ? "disabled in config" : "could not start the check process");
		if (rec)
			emit_check(ctx, rec);
		return !disabled && c->required;
	}
	finish(ctx, c);
	phd_buf_wipe(&c->in);
	free(c->summary);
	return c->required && ctx->checks.n &&
	       ((struct phd_check_rec *)ctx->checks.v[ctx->checks.n - 1])->pub.status ==
	       PHD_STATUS_FAILED;
}

int phd_checks_run(phd_ctx *ctx)
{
	struct running *cs;
	size_t n;
	int rc = 0, failed_required = 0;
	struct phd_buf failed = { 0 };

	if (!(cs = prepare(ctx, &n)))
		return PHD_ENOMEM;
	if (n == 0) {
		free(cs);
		return phd_set_error(ctx, PHD_ENOPROVIDER,
				     "preflight: no check plugin is loaded (see 'phdeploy plugins')");
	}
	wait_all(ctx, cs, n, spawn_all(ctx, cs, n));
	for (size_t i = 0; i < n; i++) {
		if (collect(ctx, &cs[i])) {
			failed_required++;
			phd_buf_printf(&failed, "%s%s", failed.len ? ", " : "", cs[i].reg->name);
		}
	}
	free(cs);
	if (ctx->interrupted)
		rc = phd_set_error(ctx, PHD_EINTR, "preflight interrupted");
	else if (failed_required)
		rc = phd_set_error(ctx, PHD_EFAILED, "preflight: required check%s failed: %s",
				   failed_required > 1 ? "s" : "", failed.s ? failed.s : "?");
	phd_buf_free(&failed);
	return rc;
}
