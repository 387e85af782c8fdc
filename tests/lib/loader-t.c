/* The plugin loader against real shared objects: a good plugin, an ABI
 * major mismatch, a newer minor, a missing descriptor, a failing init and
 * a mangled descriptor — each refused with the file and versions named. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"

static const char *dir;

static int load_with(const char *plugin, phd_ctx **out, const char *extra)
{
	char yaml[1024], *cfg;
	struct phd_options o = PHD_OPTIONS_INIT;
	snprintf(yaml, sizeof yaml, "plugins:\n  load: [%s/%s.so]\n%s", dir, plugin,
		 extra ? extra : "");
	cfg = tap_write_file("phdeploy.yaml", yaml, strlen(yaml));
	o.config_path = cfg;
	o.flags = PHD_OPT_NO_JOURNAL;
	phd_ctx_new(out, &o);
	free(cfg);
	return phd_ctx_load(*out);
}


/* The search path a load by name went through, as its error lists it: the
 * part of the message after "not found in ". */
static char *searched(const char *env, const char *opt_path)
{
	static const char yaml[] = "plugins:\n  load: [nosuch]\n";
	struct phd_options o = PHD_OPTIONS_INIT;
	phd_ctx *ctx = NULL;
	char *cfg = tap_write_file("phdeploy.yaml", yaml, strlen(yaml)), *r = NULL;
	const char *m;

	if (env)
		setenv("PHDEPLOY_PLUGIN_PATH", env, 1);
	else
		unsetenv("PHDEPLOY_PLUGIN_PATH");
	o.config_path = cfg;
	o.plugin_path = opt_path;
	o.flags = PHD_OPT_NO_JOURNAL;
	phd_ctx_new(&ctx, &o);
	if (phd_ctx_load(ctx) == PHD_ENOTFOUND &&
	    (m = strstr(phd_ctx_errmsg(ctx), "not found in ")))
		r = strdup(m + strlen("not found in "));
	phd_ctx_free(ctx);
	free(cfg);
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1);
	return r;
}

static int has_plugins(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *e;
	int found = 0;

	while (dh && !found && (e = readdir(dh)) != NULL)
		found = strstr(e->d_name, ".so") != NULL;
	if (dh)
		closedir(dh);
	return found;
}

/* How options.plugin_path, PHDEPLOY_PLUGIN_PATH and the installed
 * directory combine (phdeploy-plugin(7), SEARCH PATH). */
static void test_search_path(void)
{
	static const struct {
		const char *env, *opt, *want, *what;
	} cases[] = {
		{ NULL, NULL, PHD_PLUGINDIR, "unset: the installed directory alone" },
		{ "/t/a:/t/b", NULL, "/t/a:/t/b", "a set variable replaces the installed directory" },
		{ "/t/a:", NULL, "/t/a:" PHD_PLUGINDIR,
		  "a trailing empty component puts the installed directory last" },
		{ ":/t/a", NULL, PHD_PLUGINDIR ":/t/a",
		  "a leading empty component puts it first" },
		{ "/t/a::/t/b:", NULL, "/t/a:" PHD_PLUGINDIR ":/t/b",
		  "an empty component stands for it once" },
		{ NULL, "/t/o", "/t/o:" PHD_PLUGINDIR,
		  "options.plugin_path comes first, the installed directory after it" },
		{ "/t/e", "/t/o", "/t/o:/t/e", "options first, then the variable, nothing installed" },
		{ "", "/t/o", "/t/o", "an empty variable names no directory" },
		{ "", NULL, "(no directory: PHDEPLOY_PLUGIN_PATH is empty)",
		  "an empty variable and no option: nothing is searched, and the error says so" },
	};
	int installed = has_plugins(PHD_PLUGINDIR);

	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *got;

		if (installed && strstr(cases[i].want, PHD_PLUGINDIR)) {
			/* its plugins would load (or fail) before the name is looked up */
			tap_skip(1, "%s holds plugins: search path: %s", PHD_PLUGINDIR,
				 cases[i].what);
			continue;
		}
		got = searched(cases[i].env, cases[i].opt);
		tap_is_str(got, cases[i].want, "search path: %s", cases[i].what);
		free(got);
	}
}

int main(void)
{
	phd_ctx *ctx;
	int rc;
	const struct phd_plugin_info *pi;
	char want[160];

	dir = getenv("PHD_TEST_PLUGINS");
	if (!dir)
		tap_skip_all("PHD_TEST_PLUGINS is not set (run through make check)");
	setenv("PHDEPLOY_PLUGIN_PATH", "", 1); /* only the test plugins, nothing installed */
	test_search_path();

	rc = load_with("good", &ctx, "plugins:\n  config:\n    good: {check: ok}\n");
	/* the YAML above has two 'plugins' keys: a duplicate must be refused */
	tap_is_int(rc, PHD_ESYNTAX, "a duplicate top-level key is a syntax error");
	tap_like(phd_ctx_errmsg(ctx), "duplicate key 'plugins'", "the message names the key");
	phd_ctx_free(ctx);

	rc = load_with("good", &ctx, NULL);
	tap_is_int(rc, 0, "a good plugin loads");
	tap_is_int((long long)phd_ctx_plugin_count(ctx), 1, "exactly one plugin is loaded");
	pi = phd_ctx_plugin(ctx, 0);
	tap_is_str(pi ? pi->name : NULL, "good", "its descriptor name is reported");
	tap_is_str(pi ? pi->version : NULL, "1.2.3", "its version is reported");
	tap_ok(pi && pi->abi_major == PHD_PLUGIN_ABI_MAJOR && pi->abi_minor == PHD_PLUGIN_ABI_MINOR,
	       "its ABI version is reported");
	tap_like(pi ? pi->provides : NULL, "check:good", "what it provides lists its check");
	tap_like(pi ? pi->provides : NULL, "secret:good", "... and its secret provider");
	tap_like(pi ? pi->provides : NULL, "validator:good", "... and its validator");
	phd_ctx_free(ctx);

	{
		char mark[4096];
		snprintf(mark, sizeof mark, "%s/ctor-ran", tap_tmpdir());
		setenv("PHD_TEST_CTOR_MARK", mark, 1);
		rc = load_with("abi-major", &ctx, NULL);
		unsetenv("PHD_TEST_CTOR_MARK");
		tap_ok(access(mark, F_OK) != 0,
		       "its ABI is read from the file: refused before any of its code ran "
		       "(its constructor did not)");
	}
	tap_is_int(rc, PHD_EABI, "a plugin built for another ABI major is refused");
	tap_like(phd_ctx_errmsg(ctx), "abi-major.so", "the message names the file");
	snprintf(want, sizeof want, "plugin ABI %d.0", PHD_PLUGIN_ABI_MAJOR + 1);
	tap_like(phd_ctx_errmsg(ctx), want, "the message gives the plugin's ABI");
	snprintf(want, sizeof want, "speaks ABI %d.%d", PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR);
	tap_like(phd_ctx_errmsg(ctx), want, "the message gives the host's ABI");
	tap_is_int(phd_exit_code(ctx, rc), 1, "a broken plugin is an internal error (exit 1)");
	phd_ctx_free(ctx);

	rc = load_with("abi-newer", &ctx, NULL);
	tap_is_int(rc, PHD_EABI, "a plugin needing a newer ABI minor is refused");
	snprintf(want, sizeof want, "needs ABI %d.%d", PHD_PLUGIN_ABI_MAJOR,
		 PHD_PLUGIN_ABI_MINOR + 1);
	tap_like(phd_ctx_errmsg(ctx), want, "the message names the minor it needs");

	tap_like(phd_ctx_errmsg(ctx), "abi-newer.so", "the message names the file");
	phd_ctx_free(ctx);

	rc = load_with("abi-old", &ctx, NULL);
	tap_is_int(rc, PHD_EABI, "a plugin built for ABI 1 (handlers without a mode) is refused");
	snprintf(want, sizeof want, "plugin ABI 1.0, this libphdeploy speaks ABI %d.%d",
		 PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR);
	tap_like(phd_ctx_errmsg(ctx), want, "the message names both versions");
	phd_ctx_free(ctx);

	rc = load_with("nosym", &ctx, NULL);
	tap_is_int(rc, PHD_EABI, "a shared object without a descriptor is refused");
	tap_like(phd_ctx_errmsg(ctx), "exports no 'phd_plugin_desc'", "the message says why");
	phd_ctx_free(ctx);

	rc = load_with("initfail", &ctx, NULL);
	tap_is_int(rc, PHD_EPLUGIN, "a plugin whose init fails is refused");
	tap_like(phd_ctx_errmsg(ctx), "plugin 'initfail'", "the message names the plugin");
	tap_like(phd_ctx_errmsg(ctx), "the site database is down",
		 "the message keeps the plugin's own reason");
	tap_is_int((long long)phd_ctx_plugin_count(ctx), 0, "nothing of it stays loaded");
	phd_ctx_free(ctx);

	rc = load_with("mangled", &ctx, NULL);
	tap_is_int(rc, PHD_EABI, "a mangled descriptor is refused");
	tap_like(phd_ctx_errmsg(ctx), "mangled plugin descriptor", "the message says so");
	phd_ctx_free(ctx);

	rc = load_with("does-not-exist", &ctx, NULL);
	tap_is_int(rc, PHD_EPLUGIN, "a missing plugin file is refused");
	tap_like(phd_ctx_errmsg(ctx), "does-not-exist.so", "the message names the path");
	phd_ctx_free(ctx);

	{
		/* loading by name through PHDEPLOY_PLUGIN_PATH autoloads every .so there,
		 * so a broken one in the path is a loud error, not a silent skip */
		struct phd_options o = PHD_OPTIONS_INIT;
		o.flags = PHD_OPT_NO_CONFIG | PHD_OPT_NO_JOURNAL;
		o.plugin_path = dir;
		phd_ctx_new(&ctx, &o);
		rc = phd_ctx_load(ctx);
		tap_ok(rc == PHD_EABI || rc == PHD_EPLUGIN,
		       "a search directory holding a broken plugin fails the load");
		phd_ctx_free(ctx);
	}
	{
		phd_plugin *p = NULL;
		struct phd_options o = PHD_OPTIONS_INIT;
		o.flags = PHD_OPT_NO_CONFIG | PHD_OPT_NO_JOURNAL;
		phd_ctx_new(&ctx, &o);
		tap_is_int(phd_ctx_add_plugin(&p, ctx, "Not Valid", "1"), PHD_EINVAL,
			   "an in-process plugin needs a valid name");
		tap_is_int(phd_ctx_add_plugin(&p, ctx, "site", "1"), 0,
			   "an application can add an in-process plugin");
		tap_is_int(phd_ctx_add_plugin(&p, ctx, "site", "1"), PHD_EINVAL,
			   "two plugins cannot share a name");
		phd_ctx_free(ctx);
	}
	return tap_done();
}
