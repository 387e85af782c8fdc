/* A chart repository's index.yaml (plugins/helm/index.c), then the
 * version resolution that reads the parsed entries. */
#include "fuzz/fuzz.h"
#include "helm-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const want[] = { NULL, "30.46.0", "1.0.0-rc.1", "2.x" };
	const struct helm_index_entry *e;
	struct helm_index idx;
	char err[512];

	if (helm_index_parse(&idx, (const char *)data, size, "posthog", "index.yaml", err,
			     sizeof err) != 0)
		return 0;
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		helm_index_resolve(&idx, want[i], 0, &e, err, sizeof err);
		helm_index_resolve(&idx, want[i], 1, &e, err, sizeof err);
	}
	helm_index_free(&idx);
	return 0;
}
