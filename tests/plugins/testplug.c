/* Test plugins for the loader, built in several variants from one source:
 * good, abi-major, abi-newer, nosym, initfail, mangled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include <phdeploy/plugin.h>

#if defined(VARIANT_GOOD)

struct mode {
	char check[16];
	char run[256];   /* check "exec": a shell command the check runs and waits for */
	char action_file[256]; /* the action "good-action" writes how it was asked here */
};

static void mode_free(void *p)
{
	free(p);
}

static int check(phd_check *chk, void *ud)
{
	const struct mode *m = ud;
	if (!strcmp(m->check, "hang")) {
		for (;;)
			pause();
	}
	if (!strcmp(m->check, "exec")) {
		/* a check that waits on a child of its own, as one running
		 * kubectl does: the child must end with the check */
		const char *argv[] = { "sh", "-c", m->run, NULL };
		struct phd_exec spec = PHD_EXEC_INIT;
		struct phd_exec_result res;
		spec.argv = argv;
		phd_exec_run(phd_check_ctx(chk), &spec, &res);
		phd_exec_result_clear(&res);
		phd_check_summary(chk, "the command ended");
		return 0;
	}
	if (!strcmp(m->check, "crash"))
		raise(SIGSEGV);
	if (!strcmp(m->check, "ignore")) {
		phd_check_summary(chk, "nothing to check here");
		return PHD_EIGNORE;
	}
	if (!strcmp(m->check, "fail")) {
		phd_check_note(chk, PHD_SEV_ERROR, "the service said no");
		return PHD_EFAILED;
	}
	phd_check_note(chk, PHD_SEV_INFO, "answered in time");
	phd_check_summary(chk, "reachable, %lld ms left", phd_check_remaining_ms(chk) > 0 ? 1LL : 0LL);
	return 0;
}

static int validator(phd_validation *v, void *ud)
{
	const phd_node *n = phd_node_get(phd_ctx_values(phd_validation_ctx(v)), "testfinding");
	(void)ud;
	if (phd_node_str(n) && !strcmp(phd_node_str(n), "true"))
		phd_validation_report(v, "test-rule", PHD_SEV_ERROR, "Values/testfinding", n,
				      "testfinding", "testfinding is set");
	/* messages that start with their object (as the ha rules' do): the
	 * core keeps their shared rest once and puts them together on demand */
	if (phd_node_str(n) && !strcmp(phd_node_str(n), "prefixed"))
		for (int i = 0; i < 4; i++) {
			const char *obj = i < 2 ? "Values/a" : "Values/b";
			phd_validation_report(v, "test-rule", PHD_SEV_WARN, obj, n, NULL,
					      i == 3 ? "%s:no space" : "%s: set %s", obj,
					      i == 1 ? "again" : "once");
		}
	return 0;
}

static int provider(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink, void *ud)
{
	const char *v = phd_node_str(phd_node_get(entry, "value"));
	(void)ctx; (void)ud;
	return phd_secret_add(sink, "good-secret", "password", v, strlen(v), entry);
}

/* An action (phd_run_action) that records its mode and flags, or fails
 * when it has no file to write to. */
static int action(phd_ctx *ctx, int mode, unsigned flags, void *ud)
{
	const struct mode *m = ud;
	FILE *f;

	if (!m->action_file[0])
		return phd_set_error(ctx, PHD_EFAILED, "good-action: no action_file configured");
	if (!(f = fopen(m->action_file, "w")))
		return phd_set_error(ctx, PHD_EIO, "good-action: cannot write %s", m->action_file);
	fprintf(f, "%s%s\n", mode == PHD_MODE_SHOW ? "show" : "apply",
		flags & PHD_ACTION_UNDO ? " undo" : "");
	return fclose(f) ? PHD_EIO : 0;
}

static int init(phd_plugin *p, const phd_node *config)
{
	struct mode *m = calloc(1, sizeof *m);
	const char *c = phd_node_str(phd_node_get(config, "check"));
	if (!m)
		return PHD_ENOMEM;
	strncpy(m->check, c ? c : "ok", sizeof m->check - 1);
	c = phd_node_str(phd_node_get(config, "run"));
	strncpy(m->run, c ? c : "true", sizeof m->run - 1);
	c = phd_node_str(phd_node_get(config, "action_file"));
	strncpy(m->action_file, c ? c : "", sizeof m->action_file - 1);
	if (phd_plugin_set_data(p, m, mode_free) ||
	    phd_register_check(p, "good", check, m, NULL) ||
	    phd_register_action(p, "good-action", action, m, NULL) ||
	    phd_register_validator(p, "good", PHD_PHASE_VALIDATE, validator, NULL, NULL) ||
	    phd_register_secret_provider(p, "good", provider, NULL, NULL))
		return PHD_EPLUGIN;
	return 0;
}
PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("good", "1.2.3", init, NULL);

#elif defined(VARIANT_ABI_MAJOR)
#include <fcntl.h>
/* dlopen runs this: the loader must refuse the plugin before (loader-t) */
__attribute__((constructor)) static void mark(void)
{
	const char *m = getenv("PHD_TEST_CTOR_MARK");
	int fd = m ? open(m, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) : -1;
	if (fd >= 0)
		close(fd);
}
static int init(phd_plugin *p, const phd_node *c) { (void)p; (void)c; return 0; }
PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc = {
	PHD_PLUGIN_ABI_MAJOR + 1, 0, sizeof(struct phd_plugin_desc), "abi-major", "1", init, NULL, { 0 }
};

#elif defined(VARIANT_ABI_OLD)
/* a plugin of ABI 1.0: its phase handlers took no mode and would apply
 * Secrets in a read-only run, so ABI 2 refuses it */
static int init(phd_plugin *p, const phd_node *c) { (void)p; (void)c; return 0; }
PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc = {
	1, 0, sizeof(struct phd_plugin_desc), "abi-old", "1", init, NULL, { 0 }
};

#elif defined(VARIANT_ABI_NEWER)
static int init(phd_plugin *p, const phd_node *c) { (void)p; (void)c; return 0; }
PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc = {
	PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR + 1, sizeof(struct phd_plugin_desc),
	"abi-newer", "1", init, NULL, { 0 }
};

#elif defined(VARIANT_NOSYM)
PHD_PLUGIN_EXPORT int phd_not_a_descriptor = 1;

#elif defined(VARIANT_INITFAIL)
static int init(phd_plugin *p, const phd_node *c)
{
	(void)c;
	return phd_set_error(phd_plugin_ctx(p), PHD_EPLUGIN, "initfail: the site database is down");
}
PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("initfail", "1", init, NULL);

#elif defined(VARIANT_MANGLED)
PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc = {
	PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR, 12, "Bad Name!", NULL, NULL, NULL, { 0 }
};
#endif
