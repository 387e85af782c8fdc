/* See values-ctx.h. */
#include <stdlib.h>
#include <string.h>

#include "../tap/tap.h"
#include "values-ctx.h"

phd_ctx *values_ctx(const char *text)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	char *vals = tap_write_file("values.yaml", text, strlen(text));
	const char *list[1];
	phd_ctx *ctx = NULL;

	list[0] = vals;
	o.flags = PHD_OPT_NO_CONFIG | PHD_OPT_NO_JOURNAL;
	o.values = list;
	o.nvalues = 1;
	phd_ctx_new(&ctx, &o);
	phd_ctx_load(ctx);
	free(vals);
	return ctx;
}
