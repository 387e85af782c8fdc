/* libFuzzer entry points of the fuzz targets.  The same target links
 * either libFuzzer (configure --enable-fuzz; `make fuzz`) or replay.c,
 * which feeds it every file of fuzz/corpus/<target>/ as a TAP test. */
#ifndef PHD_FUZZ_H
#define PHD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional (weak in replay.c): once before the first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A NUL-terminated copy of the input (the parsers of C strings need one);
 * aborts on ENOMEM, which libFuzzer then reports. */
#include <stdlib.h>
#include <string.h>
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#include <phdeploy/phdeploy.h>
/* A context without config, journal or lock, for parsers that log,
 * emit events or add secrets through one.  A parser that adds secrets
 * gets a fresh one per input (fuzz_ctx_new), so that nothing accumulates. */
static inline phd_ctx *fuzz_ctx_new(void)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	phd_ctx *ctx = NULL;

	o.flags = PHD_OPT_NO_CONFIG | PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK | PHD_OPT_DRY_RUN;
	o.release = "posthog";
	o.namespace_ = "posthog";
	if (phd_ctx_new(&ctx, &o) != 0 || !ctx)
		abort();
	return ctx;
}

static inline phd_ctx *fuzz_ctx(void)
{
	static phd_ctx *ctx;

	if (!ctx)
		ctx = fuzz_ctx_new();
	return ctx;
}

#endif
