/* Exemptions (`exemptions: [{rule, object, reason}]`): the one matcher, used
 * by the core on every finding and by plugins that report unused ones. */
#include "config.h"

#include <fnmatch.h>
#include <string.h>

#include "phd-private.h"

/* Kind/name also covers that object's containers: Kind/name/container. */
static int covers(const char *pattern, const char *object)
{
	size_t n = strlen(pattern);
	return strncmp(pattern, object, n) == 0 && object[n] == '/';
}

PHD_EXTERN const phd_node *phd_exemption_find(const phd_ctx *ctx, const char *rule,
					      const char *object)
{
	const phd_node *ex;

	if (!ctx || !rule)
		return NULL;
	ex = phd_node_child(ctx->config, "exemptions");
	for (size_t i = 0; i < phd_node_len(ex); i++) {
		const phd_node *e = phd_node_at(ex, i);
		const char *r = phd_node_str(phd_node_child(e, "rule"));
		const char *o = phd_node_str(phd_node_child(e, "object"));
		if (!r || (strcmp(r, rule) && strcmp(r, "*")))
			continue;
		if (o && (!object || (fnmatch(o, object, 0) != 0 && !covers(o, object))))
			continue;
		return e;
	}
	return NULL;
}
