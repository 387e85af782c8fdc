/* A chart repository's index.yaml (plugins/helm/index.c), then the
 * version resolution that reads the parsed entries.  Where the line-based
 * fast path (indexfast.c) takes an input, libyaml must read the same
 * entries from it: the fast path is only a shortcut. */
#include "fuzz/fuzz.h"
#include "helm-private.h"

static int same_str(const char *a, const char *b)
{
	return !a == !b && (!a || !strcmp(a, b));
}

static void same_index(const struct helm_index *a, const struct helm_index *b)
{
	if (a->n != b->n || a->charts != b->charts || a->skipped != b->skipped)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		const struct helm_index_entry *x = &a->e[i], *y = &b->e[i];
		if (!same_str(x->version, y->version) || !same_str(x->digest, y->digest) ||
		    !same_str(x->app_version, y->app_version) || !same_str(x->created, y->created) ||
		    !same_str(x->url, y->url))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const want[] = { NULL, "30.46.0", "1.0.0-rc.1", "2.x" };
	const struct helm_index_entry *e;
	struct helm_index idx, slow;
	char err[512];
	int rc;

	rc = helm_index_parse_fast(&idx, (const char *)data, size, "posthog");
	if (rc == 0) {
		if (helm_index_parse_yaml(&slow, (const char *)data, size, "posthog", "index.yaml",
					  err, sizeof err) != 0)
			abort();   /* the fast path took what libyaml refuses */
		same_index(&idx, &slow);
		helm_index_free(&slow);
		helm_index_free(&idx);
	} else if (rc != HELM_FAST_NO) {
		return 0;
	}
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
