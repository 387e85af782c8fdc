/* Helpers shared by the ha plugin's tests: a finding list, and rendering
 * the real chart with the real helm. */
#ifndef HA_UTIL_H
#define HA_UTIL_H

#include <stddef.h>
#include <phdeploy/phdeploy.h>

struct hf {
	char *rule, *object, *msg, *key, *file;
	int sev;
	unsigned line;
};
struct hfs {
	struct hf *v;
	size_t n, cap;
};

void hfs_add(struct hfs *l, const char *rule, int sev, const char *object, const char *key,
	     const char *file, unsigned line, const char *msg);
void hfs_clear(struct hfs *l);
/* Copy the findings of a context. */
void hfs_from_ctx(struct hfs *l, const phd_ctx *ctx);
/* Findings with this rule (and object, exact, unless NULL; sev unless -1). */
size_t hfs_count(const struct hfs *l, const char *rule, const char *object, int sev);
const struct hf *hfs_find(const struct hfs *l, const char *rule, const char *object);
size_t hfs_at_sev(const struct hfs *l, int sev);
/* Print the findings as TAP diagnostics. */
void hfs_dump(const struct hfs *l, const char *title);

/* $PHD_FIXTURES/posthog-30.46.0.tgz when it exists, else NULL. */
const char *ha_chart(void);
/* $PHD_TOOLS/<name> when executable, else NULL. */
const char *ha_tool(const char *name);
/* helm template posthog CHART -n posthog -f values: stdout (malloc'd). */
char *ha_render(const char *helm, const char *values_path, size_t *len);
/* $top_srcdir/<rel> (static buffer). */
const char *ha_src(const char *rel);

#endif
