/* phdeploy.yaml past the YAML parser (libphdeploy/config.c): the schema
 * check of every section, release and namespace rules, kube.version, and
 * the env provider's prescan.  The library is compiled in statically
 * (fuzz/libcore.la) to reach phd_config_load without loading plugins; the
 * values files the input names are replaced by one empty file. */
#include <stdio.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "phd-private.h"

static char dir[2048], cfg[4096], values[4096];

static void cleanup(void)
{
	unlink(cfg);
	unlink(values);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof dir, "%s/phd-fuzz-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(cfg, sizeof cfg, "%s/phdeploy.yaml", dir);
	snprintf(values, sizeof values, "%s/values.yaml", dir);
	if (!(f = fopen(values, "w")) || fclose(f) != 0)
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	const char *vals[1] = { values };
	phd_ctx *ctx = NULL;
	FILE *f = fopen(cfg, "w");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	o.flags = PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK | PHD_OPT_DRY_RUN;
	o.config_path = cfg;
	o.values = vals;
	o.nvalues = 1;
	if (phd_ctx_new(&ctx, &o) == 0 && phd_config_load(ctx) == 0)
		phd_secrets_env_prescan(ctx);
	phd_ctx_free(ctx);
	return 0;
}
