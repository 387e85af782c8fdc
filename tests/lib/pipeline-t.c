/* The phase pipeline: order, subsets, read-only dependencies, hooks (pre
 * failure aborts, warn goes on, fail hooks run), rollback policy, checks in
 * children (parallel, deadline, crash), validators with rules: and
 * exemptions, results through the API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"

struct rec {
	char order[4096];
	int fail_phase;       /* handler of this phase fails */
	int pre_fail_phase;   /* a plugin pre hook of this phase fails */
	int dry_seen;
	int read_fail_phase;  /* handler of this phase fails when only reading */
	int verify_rc;        /* what a failing verify returns (default EFAILED) */
	unsigned render_asked;/* phd_ctx_run_phases() seen by the render handler */
};

/* Records "phase" for APPLY, "phase(r)" for READ, "phase(s)" for SHOW. */
static int handler(phd_ctx *ctx, int phase, int mode, void *ud)
{
	struct rec *r = ud;
	strcat(r->order, phd_phase_name(phase));
	strcat(r->order, mode == PHD_MODE_READ ? "(r) " : mode == PHD_MODE_SHOW ? "(s) " : " ");
	if (phd_ctx_dry_run(ctx))
		r->dry_seen = 1;
	if (phase == PHD_PHASE_RENDER)
		r->render_asked = phd_ctx_run_phases(ctx);
	if (mode == PHD_MODE_READ && phase == r->read_fail_phase)
		return phd_set_error(ctx, PHD_EFAILED, "%s refused before changing anything",
				     phd_phase_name(phase));
	if (phase == PHD_PHASE_DEPLOY && mode == PHD_MODE_APPLY)
		phd_ctx_set_release_changed(ctx);
	if (phase == PHD_PHASE_VERIFY && phase == r->fail_phase && r->verify_rc)
		return phd_set_error(ctx, r->verify_rc, "the cluster cannot be read");
	if (phase == PHD_PHASE_RENDER) {
		static const char m[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
					"---\nkind: List\nitems:\n- {kind: Pod, metadata: {name: p1}}\n"
					"- {kind: Pod, metadata: {name: p2}}\n";
		phd_set_documents(ctx, phase, m, sizeof m - 1, "test render");
	}
	if (phase == r->fail_phase)
		return phd_set_error(ctx, PHD_EFAILED, "%s handler failed on purpose",
				     phd_phase_name(phase));
	return 0;
}

/* The secrets handler: "apply-secrets" when deploy applies them. */
static int secrets_handler(phd_ctx *ctx, int phase, int mode, void *ud)
{
	struct rec *r = ud;
	if (phase == PHD_PHASE_DEPLOY) {
		strcat(r->order, mode == PHD_MODE_SHOW ? "apply-secrets(s) " : "apply-secrets ");
		return 0;
	}
	return handler(ctx, phase, mode, ud);
}

static int hook(phd_ctx *ctx, int phase, int when, int outcome, void *ud)
{
	struct rec *r = ud;
	char buf[64];
	(void)ctx;
	snprintf(buf, sizeof buf, "%s.%s(%d) ", phd_phase_name(phase),
		 when == PHD_HOOK_PRE ? "pre" : when == PHD_HOOK_POST ? "post" : "fail",
		 outcome != 0);
	strcat(r->order, buf);
	if (when == PHD_HOOK_PRE && phase == r->pre_fail_phase)
		return PHD_EFAILED;
	return 0;
}

static size_t docs_seen;
static int count_docs(phd_validation *v, void *ud)
{
	(void)ud;
	docs_seen = phd_validation_doc_count(v);
	for (size_t i = 0; i < docs_seen; i++)
		if (!phd_node_get(phd_validation_doc(v, i), "kind"))
			return PHD_EINTERNAL;
	return 0;
}

static void diag_order(const struct rec *r)
{
	printf("# order: %s\n", r->order);
}

static phd_ctx *make(const char *yaml, struct rec *r, unsigned flags, int with_plugin_dir)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	phd_ctx *ctx;
	phd_plugin *p;
	char *cfg = tap_write_file("phdeploy.yaml", yaml, strlen(yaml));
	o.config_path = cfg;
	o.flags = flags | PHD_OPT_NO_JOURNAL;
	if (with_plugin_dir)
		o.plugin_path = getenv("PHD_TEST_PLUGINS");
	phd_ctx_new(&ctx, &o);
	free(cfg);
	if (r && phd_ctx_add_plugin(&p, ctx, "rec", "1") == 0) {
		for (int ph = PHD_PHASE_SECRETS; ph < PHD_PHASE_COUNT; ph++) {
			if (ph != PHD_PHASE_PREFLIGHT)
				phd_register_phase_handler(p, ph, ph == PHD_PHASE_SECRETS ?
							   secrets_handler : handler, r, NULL);
		}
		for (int ph = 0; ph < PHD_PHASE_COUNT; ph++)
			for (int w = PHD_HOOK_PRE; w <= PHD_HOOK_FAIL; w++)
				phd_register_hook(p, ph, w, hook, r, NULL);
		phd_register_validator(p, "count", PHD_PHASE_RENDER, count_docs, NULL, NULL);
	}
	return ctx;
}

static const char *base = "release: posthog\nnamespace: posthog\n";

/* Post hooks of validate: the first interrupts the run (as a signal
 * would), the others count how many still ran. */
static int interrupting_hook(phd_ctx *ctx, int phase, int when, int outcome, void *ud)
{
	(void)phase; (void)when; (void)outcome; (void)ud;
	phd_ctx_interrupt(ctx);
	return 0;
}

static int counting_hook(phd_ctx *ctx, int phase, int when, int outcome, void *ud)
{
	(void)ctx; (void)phase; (void)when; (void)outcome;
	(*(int *)ud)++;
	return 0;
}

int main(void)
{
	struct rec r;
	phd_ctx *ctx;
	int rc;
	char yaml[2048];
	unsigned all_but_rb = PHD_PHASES_ALL & ~PHD_PHASE_BIT(PHD_PHASE_ROLLBACK) &
			      ~PHD_PHASE_BIT(PHD_PHASE_PREFLIGHT);

	/* in-process and test plugins only: bundled rules would judge these configs */
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1);

	/* order */
	memset(&r, 0, sizeof r);
	r.fail_phase = -1;
	r.pre_fail_phase = -1;
	ctx = make(base, &r, 0, 0);
	rc = phd_run(ctx, all_but_rb);
	tap_is_int(rc, 0, "a full run without preflight succeeds");
	tap_like(r.order, "secrets.pre(0) secrets(r) secrets.post(0) repo.pre(0) repo repo.post(0) "
		 "render.pre(0) render render.post(0) deploy.pre(0) deploy(r) apply-secrets deploy "
		 "deploy.post(0) "
		 "verify.pre(0) verify verify.post(0)", "phases and hooks run in pipeline order");
	tap_like(r.order, "validate.pre(0) validate.post(0) secrets", "validate runs first");
	tap_unlike(r.order, "rollback", "rollback does not run after a success");
	tap_is_int(phd_ctx_phase_status(ctx, PHD_PHASE_DEPLOY), PHD_STATUS_OK,
		   "the deploy phase reports ok");
	tap_is_int(phd_ctx_phase_status(ctx, PHD_PHASE_PREFLIGHT), PHD_STATUS_NOTRUN,
		   "a phase left out reports notrun");
	tap_is_int((long long)docs_seen, 3, "render validators see documents, empty ones "
		   "dropped and a List flattened");
	phd_ctx_free(ctx);

	/* subset with read-only dependency: render needs repo, hooks only for asked phases */
	memset(&r, 0, sizeof r);
	r.fail_phase = r.pre_fail_phase = -1;
	ctx = make(base, &r, 0, 0);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_RENDER));
	tap_is_int(rc, 0, "render alone runs");
	tap_like(r.order, "repo(r) render.pre(0) render", "render reads the repo phase first");
	tap_unlike(r.order, "repo.pre", "a dependency phase runs without its hooks");
	tap_unlike(r.order, "secrets", "render does not touch secrets");
	tap_unlike(r.order, "deploy", "render does not deploy");
	phd_ctx_free(ctx);

	/* a failing pre hook aborts */
	memset(&r, 0, sizeof r);
	r.fail_phase = -1;
	r.pre_fail_phase = PHD_PHASE_DEPLOY;
	ctx = make(base, &r, 0, 0);
	rc = phd_run(ctx, all_but_rb);
	tap_is_int(rc, PHD_EFAILED, "a failing pre hook fails the run");
	tap_is_int(phd_ctx_failed_phase(ctx), PHD_PHASE_DEPLOY, "the failed phase is deploy");
	tap_like(r.order, "deploy.pre(0) deploy.fail(1)", "the fail hooks run after it");
	tap_unlike(r.order, "deploy deploy", "the deploy body never runs");
	tap_unlike(r.order, "verify", "later phases never run");
	tap_is_int(phd_exit_code(ctx, rc), 8, "exit code 8 for a failed deploy phase");
	tap_like(phd_ctx_phase_message(ctx, PHD_PHASE_DEPLOY), "stopped the run",
		 "the failed phase keeps its message");
	tap_ok(phd_ctx_phase_message(ctx, PHD_PHASE_RENDER) == NULL,
	       "a phase that passed has no message");
	phd_ctx_free(ctx);

	/* a failing config hook with on_failure: warn goes on; abort stops */
	snprintf(yaml, sizeof yaml, "%shooks:\n  repo:\n    pre:\n      - {run: [false], on_failure: warn}\n", base);
	memset(&r, 0, sizeof r);
	r.fail_phase = r.pre_fail_phase = -1;
	ctx = make(yaml, &r, 0, 0);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_REPO));
	tap_is_int(rc, 0, "a failing hook marked on_failure: warn does not stop the run");
	phd_ctx_free(ctx);
	snprintf(yaml, sizeof yaml, "%shooks:\n  repo:\n    pre:\n      - {run: [false]}\n", base);
	memset(&r, 0, sizeof r);
	r.fail_phase = r.pre_fail_phase = -1;
	ctx = make(yaml, &r, 0, 0);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_REPO));
	tap_is_int(rc, PHD_EFAILED, "a failing config pre hook stops the run");
	tap_like(phd_ctx_errmsg(ctx), "phdeploy.yaml:6:9:", "the message points at the hook");
	tap_unlike(r.order, "repo repo", "the phase body did not run");
	tap_is_int(phd_exit_code(ctx, rc), 6, "exit code of the repo phase");
	phd_ctx_free(ctx);

	/* hook environment: phase, release, outcome; never a secret */
	{
		char *out = tap_write_file("hook.out", "", 0);
		snprintf(yaml, sizeof yaml,
			 "%shooks:\n  deploy:\n    fail:\n      - run: [sh, -c, 'env | grep ^PHD_ | sort > %s']\n",
			 base, out);
		memset(&r, 0, sizeof r);
		r.pre_fail_phase = -1;
		r.fail_phase = PHD_PHASE_DEPLOY;
		ctx = make(yaml, &r, 0, 0);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_DEPLOY));
		tap_is_int(rc, PHD_EFAILED, "a failing deploy handler fails the run");
		{
			char *env = tap_slurp(out, NULL);
			tap_like(env, "PHD_PHASE=deploy", "the fail hook sees PHD_PHASE");
			tap_like(env, "PHD_OUTCOME=failed", "the fail hook sees PHD_OUTCOME=failed");
			tap_like(env, "PHD_RELEASE=posthog", "the fail hook sees PHD_RELEASE");
			tap_like(env, "PHD_NAMESPACE=posthog", "the fail hook sees PHD_NAMESPACE");
			tap_like(env, "PHD_HOOK=fail", "the fail hook sees PHD_HOOK");
			free(env);
		}
		tap_like(phd_ctx_errmsg(ctx), "deploy handler failed on purpose",
			 "the phase's own error survives its fail hooks");
		phd_ctx_free(ctx);
		free(out);
	}

	/* rollback policy */
	snprintf(yaml, sizeof yaml, "%srollback: {on_failure: true}\n", base);
	memset(&r, 0, sizeof r);
	r.pre_fail_phase = -1;
	r.fail_phase = PHD_PHASE_VERIFY;
	ctx = make(yaml, &r, 0, 0);
	rc = phd_run(ctx, all_but_rb);
	tap_is_int(rc, PHD_EROLLEDBACK, "a failed verify with rollback.on_failure rolls back");
	tap_like(r.order, "verify.fail(1) rollback.pre(0) rollback", "rollback runs after the fail hooks");
	tap_is_int(phd_exit_code(ctx, rc), 11, "exit code 11 after a rollback");
	tap_like(phd_ctx_errmsg(ctx), "migrations are not undone", "the caveat is stated");
	phd_ctx_free(ctx);

	memset(&r, 0, sizeof r);
	r.pre_fail_phase = -1;
	r.fail_phase = PHD_PHASE_DEPLOY;
	ctx = make(base, &r, 0, 0);
	rc = phd_run(ctx, all_but_rb);
	tap_unlike(r.order, "rollback", "without the policy there is no rollback");
	tap_is_int(phd_exit_code(ctx, rc), 8, "and the exit code is 8");
	phd_ctx_free(ctx);

	/* nothing touches the cluster before every check passed, and a refusal
	 * is never rolled back: a refusal in each phase before helm upgrade */
	{
		static const int refusing[] = { PHD_PHASE_SECRETS, PHD_PHASE_REPO,
						PHD_PHASE_RENDER, PHD_PHASE_DEPLOY };
		snprintf(yaml, sizeof yaml, "%srollback: {on_failure: true}\n", base);
		for (size_t i = 0; i < sizeof refusing / sizeof refusing[0]; i++) {
			memset(&r, 0, sizeof r);
			r.pre_fail_phase = -1;
			r.fail_phase = -1;
			r.read_fail_phase = refusing[i];
			if (refusing[i] != PHD_PHASE_SECRETS && refusing[i] != PHD_PHASE_DEPLOY) {
				r.read_fail_phase = -1;
				r.fail_phase = refusing[i];
			}
			ctx = make(yaml, &r, 0, 0);
			rc = phd_run(ctx, all_but_rb);
			tap_ok(rc != 0 && !strstr(r.order, "apply-secrets") &&
			       !strstr(r.order, "deploy "), "a refusal in %s applies no Secret and "
			       "upgrades nothing", phd_phase_name(refusing[i]));
			diag_order(&r);
			tap_unlike(r.order, "rollback", "a refusal in %s is not rolled back",
				   phd_phase_name(refusing[i]));
			phd_ctx_free(ctx);
		}
	}

	/* the secrets verb alone applies */
	memset(&r, 0, sizeof r);
	r.pre_fail_phase = r.fail_phase = r.read_fail_phase = -1;
	ctx = make(base, &r, 0, 0);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
	tap_ok(rc == 0 && strstr(r.order, "secrets.pre(0) secrets secrets.post(0)") != NULL,
	       "the secrets verb alone applies them in the secrets phase");
	phd_ctx_free(ctx);

	/* plan shows secrets before the chart, changes nothing */
	memset(&r, 0, sizeof r);
	r.pre_fail_phase = r.fail_phase = r.read_fail_phase = -1;
	ctx = make(base, &r, PHD_OPT_PLAN, 0);
	rc = phd_run(ctx, all_but_rb);
	tap_like(r.order, "deploy(r) apply-secrets(s) deploy(s)",
		 "a plan shows the Secrets' apply, then the upgrade");
	phd_ctx_free(ctx);

	/* verify alone is read-only: never rolled back */
	snprintf(yaml, sizeof yaml, "%srollback: {on_failure: true}\n", base);
	memset(&r, 0, sizeof r);
	r.pre_fail_phase = r.read_fail_phase = -1;
	r.fail_phase = PHD_PHASE_VERIFY;
	ctx = make(yaml, &r, 0, 0);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VERIFY));
	tap_unlike(r.order, "rollback", "verify alone with rollback.on_failure rolls nothing back");
	tap_is_int(phd_exit_code(ctx, rc), 10, "... and exits 10");
	phd_ctx_free(ctx);

	/* a cluster that cannot be read: state unknown, nothing changed */
	memset(&r, 0, sizeof r);
	r.pre_fail_phase = r.read_fail_phase = -1;
	r.fail_phase = PHD_PHASE_VERIFY;
	r.verify_rc = PHD_EUNREACHABLE;
	ctx = make(yaml, &r, 0, 0);
	rc = phd_run(ctx, all_but_rb);
	tap_unlike(r.order, "rollback", "an unreadable cluster after deploy is not rolled back");
	tap_is_int(phd_exit_code(ctx, rc), 10, "... the state is unknown: exit 10");
	tap_like(phd_ctx_errmsg(ctx), "cannot be read", "... and the message says why");
	phd_ctx_free(ctx);

	/* dry run / plan */
	memset(&r, 0, sizeof r);
	r.fail_phase = r.pre_fail_phase = -1;
	ctx = make(base, &r, PHD_OPT_PLAN, 0);
	rc = phd_run(ctx, all_but_rb);
	tap_ok(rc == 0 && r.dry_seen, "handlers see phd_ctx_dry_run() in a plan");
	phd_ctx_free(ctx);

	/* what the run was asked for, as a render validator reading the
	 * cluster needs it: a plain render is not the render of a deploy */
	memset(&r, 0, sizeof r);
	r.fail_phase = r.pre_fail_phase = r.read_fail_phase = -1;
	ctx = make(base, &r, 0, 0);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_RENDER));
	tap_ok(rc == 0 && r.render_asked == PHD_PHASE_BIT(PHD_PHASE_RENDER),
	       "phd_ctx_run_phases() in a render: the render alone (not the repo it needs)");
	tap_is_int(phd_ctx_run_phases(ctx), 0, "phd_ctx_run_phases() is 0 after the run");
	rc = phd_run(ctx, all_but_rb);
	tap_ok(rc == 0 && (r.render_asked & PHD_PHASE_BIT(PHD_PHASE_DEPLOY)),
	       "phd_ctx_run_phases() in the render of a deploy includes deploy");
	phd_ctx_free(ctx);
	tap_is_int(phd_ctx_run_phases(NULL), 0, "phd_ctx_run_phases(NULL) is 0");

	/* no handler: a clear failure, never a pretend success */
	ctx = make(base, NULL, 0, 0);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_DEPLOY));
	tap_is_int(rc, PHD_ENOPROVIDER, "a phase with no plugin fails");
	tap_like(phd_ctx_errmsg(ctx), "no loaded plugin handles this phase", "and says why");
	phd_ctx_free(ctx);

	/* checks in children: ok, ignore, fail, crash, hang (deadline) */
	if (!getenv("PHD_TEST_PLUGINS")) {
		tap_skip(12, "PHD_TEST_PLUGINS not set");
	} else {
		static const char *const modes[] = { "ok", "ignore", "fail", "crash", "hang" };
		static const int want[] = { PHD_STATUS_OK, PHD_STATUS_SKIPPED, PHD_STATUS_FAILED,
					    PHD_STATUS_FAILED, PHD_STATUS_FAILED };
		static const char *const msg[] = { "reachable", "nothing to check", "said no",
						   "crashed", "deadline" };
		setenv("PHDEPLOY_PLUGIN_PATH", "", 1);
		for (int i = 0; i < 5; i++) {
			const struct phd_check_result *c;
			snprintf(yaml, sizeof yaml,
				 "%splugins:\n  load: [%s/good.so]\n  config: {good: {check: %s}}\n"
				 "checks:\n  good: {timeout: %s}\n", base, getenv("PHD_TEST_PLUGINS"),
				 modes[i], i == 4 ? "300ms" : "10s"); /* a sanitizer's crash report takes a while */
			ctx = make(yaml, NULL, 0, 0);
			rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_PREFLIGHT));
			c = phd_ctx_check(ctx, 0);
			tap_ok(c && c->status == want[i], "a check that is '%s' reports %s", modes[i],
			       phd_status_name(want[i]));
			tap_like(c ? c->message : NULL, msg[i], "... with a message that says so");
			if (i == 4)
				tap_ok(c && c->ms >= 300 && c->ms < 3000,
				       "a hanging check costs its deadline, not more (%lld ms)",
				       c ? c->ms : -1);
			if (i == 3)
				tap_is_int(phd_exit_code(ctx, rc), 5,
					   "a crashed required check fails preflight (exit 5)");
			phd_ctx_free(ctx);
		}
	}

	/* validators: rules: severity, exemptions, finding positions */
	{
		char *vals = tap_write_file("values.yaml", "cloud: aws\ntestfinding: true\n", 29);
		const struct phd_finding *f;
		snprintf(yaml, sizeof yaml, "%svalues: [%s]\nplugins:\n  load: [%s/good.so]\n", base,
			 vals, getenv("PHD_TEST_PLUGINS"));
		ctx = make(yaml, NULL, 0, 0);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
		f = phd_ctx_finding(ctx, 0);
		tap_is_int(rc, PHD_EFAILED, "an error finding fails validate");
		tap_is_int(phd_exit_code(ctx, rc), 3, "exit code 3");
		tap_ok(f && f->line == 2 && f->column == 14 && f->file && strstr(f->file, "values.yaml"),
		       "the finding points at values.yaml:2:14");
		tap_is_str(f ? f->values_key : NULL, "testfinding", "the finding names the values key");
		phd_ctx_free(ctx);

		snprintf(yaml, sizeof yaml, "%svalues: [%s]\nplugins:\n  load: [%s/good.so]\n"
			 "rules: {test-rule: warn}\n", base, vals, getenv("PHD_TEST_PLUGINS"));
		ctx = make(yaml, NULL, 0, 0);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
		f = phd_ctx_finding(ctx, 0);
		tap_ok(rc == 0 && f && f->severity == PHD_SEV_WARN,
		       "rules: lowers a rule to warn and the phase passes");
		phd_ctx_free(ctx);

		snprintf(yaml, sizeof yaml, "%svalues: [%s]\nplugins:\n  load: [%s/good.so]\n"
			 "exemptions:\n  - {rule: test-rule, object: 'Values/*', reason: known and accepted}\n",
			 base, vals, getenv("PHD_TEST_PLUGINS"));
		ctx = make(yaml, NULL, 0, 0);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
		f = phd_ctx_finding(ctx, 0);
		tap_ok(rc == 0 && f && f->severity == PHD_SEV_INFO,
		       "an exemption turns the finding into info");
		tap_like(f ? f->message : NULL, "known and accepted", "and records the reason");
		phd_ctx_free(ctx);

		{
			char *pv = tap_write_file("prefixed.yaml", "testfinding: prefixed\n", 22);
			static const char *const want[] = { "Values/a: set once", "Values/a: set again",
							     "Values/b: set once", "Values/b:no space" };
			snprintf(yaml, sizeof yaml, "%svalues: [%s]\nplugins:\n  load: [%s/good.so]\n",
				 base, pv, getenv("PHD_TEST_PLUGINS"));
			ctx = make(yaml, NULL, 0, 0);
			rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
			tap_ok(rc == 0 && phd_ctx_finding_count(ctx) == 4,
			       "four findings whose messages start with their object");
			for (size_t i = 0; i < 4; i++) {
				f = phd_ctx_finding(ctx, i);
				tap_is_str(f ? f->message : NULL, want[i], "finding %zu keeps its whole message", i);
				tap_ok(f && f == phd_ctx_finding(ctx, i) && f->message == phd_ctx_finding(ctx, i)->message,
				       "... the same, asked again");
			}
			phd_ctx_free(ctx);
			free(pv);
		}

		snprintf(yaml, sizeof yaml, "%svalues: [%s]\nplugins:\n  load: [%s/good.so]\n"
			 "rules: {test-rule: off}\n", base, vals, getenv("PHD_TEST_PLUGINS"));
		ctx = make(yaml, NULL, 0, 0);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
		tap_ok(rc == 0 && phd_ctx_finding_count(ctx) == 0, "rules: off silences a rule");
		phd_ctx_free(ctx);
		free(vals);
	}

	/* secrets: providers, redaction of everything that leaves */
	{
		const unsigned char *v;
		size_t len;
		snprintf(yaml, sizeof yaml, "%splugins:\n  load: [%s/good.so]\nsecrets:\n"
			 "  - {provider: good, value: s3cr3t-Pa55word}\n", base,
			 getenv("PHD_TEST_PLUGINS"));
		ctx = make(yaml, NULL, 0, 0);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_PREFLIGHT) |
			     PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
		tap_ok(phd_secret_get(ctx, "good-secret", "password", &v, &len) == 0 && len == 15 &&
		       !memcmp(v, "s3cr3t-Pa55word", 15), "preflight reads secrets through providers");
		tap_ok(phd_ctx_phase_status(ctx, PHD_PHASE_SECRETS) == PHD_STATUS_OK,
		       "the secrets phase ran read-only (no apply handler needed)");
		{
			char *red = phd_redact(ctx, "pw=s3cr3t-Pa55word b64=czNjcjN0LVBhNTV3b3Jk");
			tap_is_str(red, "pw=**** b64=****", "the redactor masks the value and its base64");
			free(red);
		}
		phd_ctx_free(ctx);

		snprintf(yaml, sizeof yaml, "%ssecrets:\n  - {provider: nope}\n", base);
		ctx = make(yaml, NULL, 0, 0);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_SECRETS));
		tap_is_int(phd_exit_code(ctx, rc), 3, "an unknown secret provider fails validate (exit 3)");
		tap_like(phd_ctx_errmsg(ctx), "phdeploy.yaml:4:16: unknown secret provider 'nope'",
			 "the message points at the entry");
		phd_ctx_free(ctx);
	}

	/* a signal between plugins' hooks stops the list, post hooks too */
	{
		int later = 0;
		phd_plugin *p;
		ctx = make(base, NULL, 0, 0);
		if (phd_ctx_add_plugin(&p, ctx, "stopper", "1") == 0) {
			phd_register_hook(p, PHD_PHASE_VALIDATE, PHD_HOOK_POST, interrupting_hook,
					  NULL, NULL);
			for (int i = 0; i < 5; i++)
				phd_register_hook(p, PHD_PHASE_VALIDATE, PHD_HOOK_POST, counting_hook,
						  &later, NULL);
		}
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
		tap_is_int(rc, PHD_EINTR, "an interrupt during post hooks ends the run interrupted");
		tap_is_int(later, 0, "... and none of the plugin hooks after it runs");
		phd_ctx_free(ctx);
	}

	/* the forms children print a secret in: a connection string
	 * percent-encodes it, JSON escapes it (go also escapes < > &) */
	{
		static const char pw[] = "PgZq7Leak-Alpha+9/x=\"<&";
		char *red;
		ctx = make(base, NULL, 0, 0);
		tap_is_int(phd_redact_add(ctx, pw, sizeof pw - 1), 0, "a secret with + / = \" < &");
		red = phd_redact(ctx, "url=postgres://posthog:PgZq7Leak-Alpha%2B9%2Fx%3D%22%3C%26@db "
				 "lc=PgZq7Leak-Alpha%2b9%2fx%3d%22%3c%26 "
				 "json={\"p\":\"PgZq7Leak-Alpha+9/x=\\\"<&\"} "
				 "go={\"p\":\"PgZq7Leak-Alpha+9/x=\\\"\\u003c\\u0026\"}");
		tap_is_str(red, "url=postgres://posthog:****@db lc=**** json={\"p\":\"****\"} "
			   "go={\"p\":\"****\"}",
			   "the redactor masks its percent-encoded and JSON-escaped forms");
		free(red);
		phd_ctx_free(ctx);
	}
	{
		/* phd_take_documents: the buffer becomes the rendered text; a
		 * refused stream or another phase frees it (valgrind: no leak) */
		static const char m[] = "kind: ConfigMap\nmetadata: {name: a}\n";
		char *buf = malloc(64);
		size_t len = 0;
		ctx = make(base, NULL, 0, 0);
		memcpy(buf, m, sizeof m);
		tap_is_int(phd_take_documents(ctx, PHD_PHASE_RENDER, buf, sizeof m - 1, "taken"), 0,
			   "a taken stream parses");
		tap_is_str(phd_rendered(ctx, &len), m, "and is the rendered text");
		tap_is_int((long long)len, (long long)(sizeof m - 1), "of its length");
		buf = strdup("a: [\n");
		tap_is_int(phd_take_documents(ctx, PHD_PHASE_RENDER, buf, strlen(buf), "broken"),
			   PHD_ESYNTAX, "a taken malformed stream is refused");
		tap_like(phd_ctx_errmsg(ctx), "broken:", "at its position");
		tap_is_str(phd_rendered(ctx, NULL), m, "and the text before stays");
		tap_is_int(phd_take_documents(ctx, PHD_PHASE_VERIFY, strdup("kind: Pod\n"), 10,
					      "live"), 0, "a verify stream is taken too");
		tap_is_str(phd_rendered(ctx, NULL), m, "without changing the rendered text");
		phd_ctx_free(ctx);
	}
	return tap_done();
}
