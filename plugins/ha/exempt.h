/* Exemptions (the core's top-level `exemptions:`, read here only to find
 * stale ones; phd_exemption_find matches them) and the plugin's rule ids
 * (report.c). */
#ifndef PHD_HA_EXEMPT_H
#define PHD_HA_EXEMPT_H

#include "ha.h"

struct ha_exempt {             /* borrowed from the config tree */
	const char *rule;      /* a rule id or "*" */
	const char *object;    /* fnmatch glob over the finding's object; NULL: all */
	const phd_node *where; /* the entry, for messages */
};

extern const char *const ha_rule_ids[];   /* NULL-terminated */
int ha_rule_known(const char *rule);

#endif
