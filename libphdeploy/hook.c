/* Hooks: C callbacks registered by plugins, then commands from the config
 * (argv, no shell, a deadline, the phase/release/outcome in the
 * environment — never a secret). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

static const char *const when_names[] = { "pre", "post", "fail" };

static void emit_hook(phd_ctx *ctx, int phase, const char *name, int ok, long long ms,
		      const char *msg)
{
	phd_emit_simple(ctx, PHD_EV_HOOK, phase, ok ? PHD_STATUS_OK : PHD_STATUS_FAILED, ms, name,
			msg);
}

static int run_config_hook(phd_ctx *ctx, int phase, int when, int outcome, const phd_node *h,
			   size_t idx)
{
	const phd_node *run = phd_node_child(h, "run");
	const char *of = phd_node_str(phd_node_child(h, "on_failure"));
	const char *label = phd_node_str(phd_node_child(h, "name"));
	int warn_only = of && !strcmp(of, "warn");
	size_t n = phd_node_len(run);
	const char **argv = calloc(n + 1, sizeof *argv);
	char *env[6] = { 0 };
	char *name;
	long long timeout = 60000;
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res;
	int rc, ok;

	if (!argv)
		return PHD_ENOMEM;
	for (size_t i = 0; i < n; i++)
		argv[i] = phd_node_str(phd_node_at(run, i));
	if (phd_ctx_dry_run(ctx)) {
		/* a plan shows its commands: a hook may page someone or notify */
		struct phd_buf b = { 0 };
		phd_buf_printf(&b, "hook %s.%s:", phd_phase_name(phase), when_names[when]);
		for (size_t i = 0; i < n; i++)
			phd_buf_printf(&b, " %s", argv[i]);
		phd_emit_simple(ctx, PHD_EV_COMMAND, phase, 0, 0, "hook", b.s);
		phd_buf_free(&b);
		free(argv);
		return 0;
	}
	phd_node_duration_ms(phd_node_child(h, "timeout"), &timeout);
	name = label ? phd_asprintf("%s.%s:%s", phd_phase_name(phase), when_names[when], label)
		     : phd_asprintf("%s.%s[%zu]", phd_phase_name(phase), when_names[when], idx);
	env[0] = phd_asprintf("PHD_PHASE=%s", phd_phase_name(phase));
	env[1] = phd_asprintf("PHD_RELEASE=%s", phd_ctx_release(ctx));
	env[2] = phd_asprintf("PHD_NAMESPACE=%s", phd_ctx_namespace(ctx));
	env[3] = phd_asprintf("PHD_OUTCOME=%s", when == PHD_HOOK_PRE ? "pending"
				     : outcome == 0 ? "ok" : "failed");
	env[4] = phd_asprintf("PHD_HOOK=%s", when_names[when]);
	spec.argv = argv;
	spec.env = (const char *const *)env;
	spec.timeout_ms = timeout;
	spec.flags = PHD_EXEC_EMIT;
	rc = phd_exec_run(ctx, &spec, &res);
	ok = rc == 0 && res.exit_code == 0;
	{
		char *msg = rc ? strdup(phd_ctx_errmsg(ctx))
			: res.exit_code == 0 ? strdup("ok")
			: res.term_signal ? phd_asprintf("killed by signal %d", res.term_signal)
			: phd_asprintf("exit status %d", res.exit_code);
		emit_hook(ctx, phase, name, ok, res.ms, msg);
		if (!ok && warn_only)
			phd_log(ctx, PHD_LOG_WARN, "hook %s failed (%s); on_failure: warn, going on",
				name, msg ? msg : "?");
		else if (!ok)
			phd_set_error(ctx, PHD_EFAILED, "%s:%u:%u: hook %s failed: %s",
				      phd_node_file(h), phd_node_line(h), phd_node_column(h), name,
				      msg ? msg : "?");
		free(msg);
	}
	phd_exec_result_clear(&res);
	for (int i = 0; i < 5; i++)
		free(env[i]);
	free(argv);
	free(name);
	if (ok || warn_only)
		return 0;
	return rc == PHD_EINTR ? PHD_EINTR : PHD_EFAILED;
}

struct hook_call {
	int phase, when, outcome;
};

static int invoke_hook(phd_ctx *ctx, struct phd_reg *r, void *arg)
{
	const struct hook_call *c = arg;
	char *name = phd_asprintf("%s.%s:%s", phd_phase_name(c->phase), when_names[c->when],
				  r->plugin->name);
	long long t0 = phd_now_ms();
	int rc;

	/* plugins' hooks stop at a signal as the config's do */
	if (ctx->interrupted) {
		free(name);
		return phd_set_error(ctx, PHD_EINTR, "%s.%s hooks: interrupted",
				     phd_phase_name(c->phase), when_names[c->when]);
	}
	rc = ((phd_hook_fn)r->fn)(ctx, c->phase, c->when, c->outcome, r->userdata);

	emit_hook(ctx, c->phase, name ? name : "hook", rc == 0, phd_now_ms() - t0,
		  rc == 0 ? "ok" : (ctx->errmsg && *ctx->errmsg ? ctx->errmsg : phd_strerror(rc)));
	if (rc && rc != PHD_EINTR) {
		char *why = phd_err_save(ctx);
		phd_set_error(ctx, PHD_EFAILED, "hook %s %s: %s", name ? name : "",
			      c->when == PHD_HOOK_PRE ? "stopped the run" : "failed",
			      why && *why ? why : phd_strerror(rc));
		free(why);
		rc = PHD_EFAILED;
	}
	free(name);
	return rc;
}

int phd_hooks_run(phd_ctx *ctx, int phase, int when, int outcome)
{
	struct hook_call c = { phase, when, outcome };
	const phd_node *list;
	int rc;

	rc = phd_dispatch(ctx, PHD_REG_HOOK, phase, when, invoke_hook, &c, NULL);
	if (rc)
		return rc;
	list = phd_node_child(phd_node_child(phd_node_child(ctx->config, "hooks"),
					     phd_phase_name(phase)), when_names[when]);
	for (size_t i = 0; i < phd_node_len(list); i++) {
		/* a signal ends the list between hooks, post hooks too: a stop
		 * asked for must not wait for hundreds more commands */
		if (ctx->interrupted)
			return phd_set_error(ctx, PHD_EINTR, "%s.%s hooks: interrupted, %zu of %zu "
					     "not run", phd_phase_name(phase), when_names[when],
					     phd_node_len(list) - i, phd_node_len(list));
		rc = run_config_hook(ctx, phase, when, outcome, phd_node_at(list, i), i);
		/* post/fail hooks all run; only a failing pre hook stops the run */
		if (rc && (when == PHD_HOOK_PRE || rc == PHD_EINTR))
			return rc;
	}
	return 0;
}
