/* phdeploy.yaml past the YAML parser (libphdeploy/config.c): the schema
 * check of every section, release and namespace rules, kube.version, and
 * the env provider's prescan.  The library is compiled in statically
 * (fuzz/libcore.la) to reach phd_config_load without loading plugins; the
 * values files the input names are replaced by one empty file.  Both are
 * memory files (memfd): a file on disk cost a truncate and its block
 * discards per input, most of the target's time. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "phd-private.h"

static char cfg[64], values[64];
static int cfg_fd = -1;

static void memory_file(const char *name, char *path, size_t len, int *fdp)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	if (fdp)
		*fdp = fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memory_file("phdeploy.yaml", cfg, sizeof cfg, &cfg_fd);
	memory_file("values.yaml", values, sizeof values, NULL);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	const char *vals[1] = { values };
	phd_ctx *ctx = NULL;

	if (ftruncate(cfg_fd, 0) != 0 || (size && pwrite(cfg_fd, data, size, 0) != (ssize_t)size))
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
