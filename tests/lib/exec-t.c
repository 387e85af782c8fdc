/* The child runner: output streamed and redacted line by line, stdin
 * delivery, deadline kill (TERM then KILL), interruption forwarded, exit
 * status and signal reported, secrets never in argv or the environment. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"

#define SECRET "hunter2-very-secret"

static struct {
	char text[8192];
} seen;

static void on_event(const struct phd_event *ev, void *ud)
{
	(void)ud;
	if (ev->type == PHD_EV_OUTPUT && strlen(seen.text) + strlen(ev->message) + 2 < sizeof seen.text) {
		strcat(seen.text, ev->message);
		strcat(seen.text, "\n");
	}
}

static int provider(phd_ctx *ctx, const phd_node *e, phd_secret_sink *sink, void *ud)
{
	(void)ctx; (void)e; (void)ud;
	return phd_secret_add(sink, "db", "password", SECRET, strlen(SECRET), NULL);
}

static int drop_second(int stream, const char *line, void *ud)
{
	(void)stream; (void)ud;
	return strstr(line, "drop me") != NULL;
}

/* Ctrl-C in the middle of a run: the child has started and said so. */
static int interrupt_when_ready(int stream, const char *line, void *ud)
{
	(void)stream;
	if (!strcmp(line, "ready"))
		phd_ctx_interrupt(ud);
	return 0;
}

static phd_ctx *ctx_with_secret(void)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	phd_ctx *ctx;
	phd_plugin *p;
	const char *yaml = "secrets:\n  - {provider: t}\n";
	char *cfg = tap_write_file("phdeploy.yaml", yaml, strlen(yaml));
	o.config_path = cfg;
	o.flags = PHD_OPT_NO_JOURNAL;
	phd_ctx_new(&ctx, &o);
	free(cfg);
	phd_ctx_add_plugin(&p, ctx, "t", "1");
	phd_register_secret_provider(p, "t", provider, NULL, NULL);
	phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_PREFLIGHT)); /* resolves secrets; preflight fails: no checks */
	phd_ctx_set_event_cb(ctx, on_event, NULL);
	return ctx;
}

int main(void)
{
	phd_ctx *ctx;
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res;
	int rc;

	setenv("PHDEPLOY_PLUGIN_PATH", "", 1);
	ctx = ctx_with_secret();
	tap_ok(phd_secret_get(ctx, "db", "password", NULL, NULL) == 0, "the test secret is in the store");

	{
		const char *argv[] = { "sh", "-c", "read s; echo out $s; echo err $s >&2; echo drop me; exit 3", NULL };
		spec.argv = argv;
		spec.stdin_data = SECRET "\n";
		spec.stdin_len = strlen(SECRET) + 1;
		spec.flags = PHD_EXEC_CAPTURE_STDOUT | PHD_EXEC_CAPTURE_STDERR | PHD_EXEC_EMIT;
		spec.on_line = drop_second;
		seen.text[0] = '\0';
		rc = phd_exec_run(ctx, &spec, &res);
		tap_is_int(rc, 0, "a child that ran returns 0 from the runner");
		tap_is_int(res.exit_code, 3, "its exit status is reported");
		tap_is_str(res.out, "out ****\n", "captured stdout is redacted, dropped lines gone");
		tap_is_str(res.err, "err ****\n", "captured stderr is redacted");
		tap_unlike(seen.text, SECRET, "emitted lines never hold the secret");
		tap_like(seen.text, "out ****", "emitted lines are the redacted ones");
		tap_unlike(seen.text, "drop me", "a line the filter drops is not emitted");
		phd_exec_result_clear(&res);
		spec.on_line = NULL;
		spec.stdin_data = NULL;
		spec.stdin_len = 0;
	}
	{
		const char *argv[] = { "echo", "--password=" SECRET, NULL };
		spec.argv = argv;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_is_int(rc, PHD_EINVAL, "a secret on the command line is refused");
		tap_like(phd_ctx_errmsg(ctx), "secrets go on stdin only", "and the message says why");
		tap_unlike(phd_ctx_errmsg(ctx), SECRET, "without repeating the secret");
		phd_exec_result_clear(&res);
	}
	{
		const char *argv[] = { "sh", "-c", "env", NULL };
		setenv("SOME_DB_PASSWORD", SECRET, 1);
		setenv("HARMLESS_VAR", "visible", 1);
		spec.argv = argv;
		spec.flags = PHD_EXEC_CAPTURE_STDOUT;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_unlike(res.out, "SOME_DB_PASSWORD", "a variable holding a secret is withheld from the child");
		tap_like(res.out, "HARMLESS_VAR=visible", "other variables pass through");
		phd_exec_result_clear(&res);
		unsetenv("SOME_DB_PASSWORD");
	}
	{
		const char *argv[] = { "cat", NULL };
		spec.argv = argv;
		spec.stdin_data = SECRET "\n";
		spec.stdin_len = strlen(SECRET) + 1;
		spec.flags = PHD_EXEC_RAW_STDOUT;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_ok(rc == 0 && res.out && !strcmp(res.out, SECRET "\n"),
		       "stdin reaches the child; RAW_STDOUT returns it unredacted");
		phd_exec_result_clear(&res);
		spec.flags = PHD_EXEC_CAPTURE_STDOUT;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_is_str(res.out, "****\n", "the same output captured normally is redacted");
		phd_exec_result_clear(&res);
		spec.stdin_data = NULL;
		spec.stdin_len = 0;
	}
	{
		/* a child that ignores TERM: killed after the grace period */
		const char *argv[] = { "sh", "-c", "echo started; sleep 30", NULL };
		spec.argv = argv;
		spec.timeout_ms = 300;
		spec.flags = PHD_EXEC_CAPTURE_STDOUT;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_is_int(rc, PHD_ETIMEOUT, "a child past its deadline is stopped");
		tap_ok(res.timed_out && res.term_signal == SIGTERM, "with SIGTERM first");
		tap_ok(res.ms >= 300 && res.ms < 5000, "within its deadline plus a little (%lld ms)", res.ms);
		tap_like(res.out, "started", "output before the deadline is kept");
		phd_exec_result_clear(&res);
	}
	{
		const char *argv[] = { "sh", "-c", "trap '' TERM; echo x; while :; do sleep 0.1; done", NULL };
		spec.argv = argv;
		spec.timeout_ms = 200;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_ok(rc == PHD_ETIMEOUT && res.term_signal == SIGKILL,
		       "a child that ignores SIGTERM is killed (signal %d)", res.term_signal);
		phd_exec_result_clear(&res);
		spec.timeout_ms = 0;
	}
	{
		/* interruption is forwarded as SIGINT to the child, which may stop
		 * cleanly.  Its own context: the flag stays raised until the next
		 * phd_run(), and would stop every later child of this one */
		const char *argv[] = { "sh", "-c", "trap 'echo got INT; exit 130' INT; echo ready; while :; do sleep 0.05; done", NULL };
		phd_ctx *ictx = ctx_with_secret();
		spec.argv = argv;
		spec.flags = PHD_EXEC_CAPTURE_STDOUT;
		spec.on_line = interrupt_when_ready;
		spec.payload = ictx;
		rc = phd_exec_run(ictx, &spec, &res);
		spec.on_line = NULL;
		tap_is_int(rc, PHD_EINTR, "an interrupted run returns PHD_EINTR");
		tap_ok(res.interrupted, "the result records the interruption");
		tap_ok(res.exit_code == 130 || res.term_signal == SIGINT,
		       "the child got SIGINT (exit %d, signal %d)", res.exit_code, res.term_signal);
		phd_exec_result_clear(&res);
		phd_ctx_free(ictx);
	}
	{
		/* found before spawning: under valgrind posix_spawn cannot report a
		 * failed exec, the child would just exit 127 */
		const char *argv[] = { "/nonexistent/helm", "version", NULL };
		const char *argv2[] = { "phd-no-such-program", NULL };
		spec.argv = argv;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_is_int(rc, PHD_ENOTFOUND, "a missing program is PHD_ENOTFOUND");
		tap_like(phd_ctx_errmsg(ctx), "/nonexistent/helm", "the message names it");
		phd_exec_result_clear(&res);
		spec.argv = argv2;
		rc = phd_exec_run(ctx, &spec, &res);
		tap_is_int(rc, PHD_ENOTFOUND, "a program not in PATH is PHD_ENOTFOUND");
		tap_like(phd_ctx_errmsg(ctx), "not found in PATH", "the message says where it looked");
		phd_exec_result_clear(&res);
	}
	{
		/* a host that ignores SIGCHLD: the kernel reaps the child, its exit
		 * status is gone, and that must not pass for a success */
		const char *argv[] = { "sh", "-c", "exit 3", NULL };
		struct sigaction ign, old;
		memset(&ign, 0, sizeof ign);
		ign.sa_handler = SIG_IGN;
		sigaction(SIGCHLD, &ign, &old);
		spec.argv = argv;
		spec.flags = 0;
		rc = phd_exec_run(ctx, &spec, &res);
		sigaction(SIGCHLD, &old, NULL);
		tap_is_int(rc, PHD_ECHILD, "an exit status lost to SIG_IGN on SIGCHLD is PHD_ECHILD");
		tap_is_int(res.exit_code, -1, "and no exit code is made up");
		tap_like(phd_ctx_errmsg(ctx), "SIGCHLD is ignored", "the message says why");
		phd_exec_result_clear(&res);
		rc = phd_exec_run(ctx, &spec, &res);
		tap_ok(rc == 0 && res.exit_code == 3,
		       "with SIGCHLD's default action back, the status is read again (%d)",
		       res.exit_code);
		phd_exec_result_clear(&res);
	}
	phd_ctx_free(ctx);
	return tap_done();
}
