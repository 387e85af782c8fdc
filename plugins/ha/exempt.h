/* Exemptions (the core's top-level `exemptions:`, read here only to find
 * stale ones) and the plugin's rule ids (report.c). */
#ifndef PHD_HA_EXEMPT_H
#define PHD_HA_EXEMPT_H

#include "ha.h"

struct ha_exempt {             /* borrowed from the config tree */
	const char *rule;      /* a rule id or "*" */
	const char *object;    /* fnmatch glob over the finding's object; NULL: all */
	const phd_node *where; /* the entry, for messages */
};

/* Index of the first exemption covering rule/object, or -1, with the
 * core's semantics (first match, fnmatch without flags). */
long ha_exempt_find(const struct ha_exempt *ex, size_t n, const char *rule, const char *object);

extern const char *const ha_rule_ids[];   /* NULL-terminated */
int ha_rule_known(const char *rule);

#endif
