/* Formatting findings for the sink, and the rule ids. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exempt.h"

void ha_report(struct ha_sink *s, const char *rule, int sev, const char *object,
	       const phd_node *where, const char *values_key, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		s->broken = 1;
		return;
	}
	s->report(s, rule, sev, object, where, values_key, msg);
	free(msg);
}

/* Every rule id the plugin reports: exemptions and `rules:` name these. */
const char *const ha_rule_ids[] = {
	"replicas", "probes", "pdb", "pdb-policy", "spread", "resources", "image-pinned", "removed-api",
	"manifest", "rollout", "exempt-unused",
	"posthog-external-mixed", "posthog-external", "posthog-legacy-values",
	"posthog-plugins-conflict", "posthog-existing-secret", "posthog-cloud",
	"posthog-zookeeper", "posthog-redis-tls", "posthog-kafka-sasl", "posthog-kafka-msk",
	"posthog-version-check", "posthog-values-shape", "posthog-list-override",
	"posthog-postgres-tls", NULL
};

int ha_rule_known(const char *rule)
{
	size_t i;

	for (i = 0; ha_rule_ids[i]; i++)
		if (strcmp(ha_rule_ids[i], rule) == 0)
			return 1;
	return 0;
}
