/* `helm history -o json` (plugins/helm/release.c) and what is read from
 * the parsed revisions. */
#include "fuzz/fuzz.h"
#include "helm-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct helm_history h;
	char err[512];

	if (helm_history_parse(&h, (const char *)data, size, err, sizeof err) != 0)
		return 0;
	helm_history_state(&h);
	helm_rollback_target(&h);
	helm_history_free(&h);
	return 0;
}
