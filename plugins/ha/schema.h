/* The values schema of a chart version (generated tables in plugins/ha/schema/,
 * see its README.md) and the rules that check the user's values against it. */
#ifndef PHD_HA_SCHEMA_H
#define PHD_HA_SCHEMA_H

#include <stddef.h>
#include <phdeploy/plugin.h>

/* The shape a key must have for the chart's templates. */
enum ha_shape {
	HA_SHAPE_MAP,          /* fields are read from it, or Kubernetes needs a mapping */
	HA_SHAPE_LIST,         /* ranged over or placed where Kubernetes needs a list */
	HA_SHAPE_COLLECTION,   /* ranged over: a list or a mapping */
	HA_SHAPE_SCALAR        /* printed, compared, required */
};

/* What the template cited does with the key (for the message). */
enum ha_use {
	HA_USE_DEFAULT,        /* no template reads it by name: the chart default's shape */
	HA_USE_RANGE, HA_USE_TOYAML, HA_USE_REQUIRED, HA_USE_COMPARE, HA_USE_PRINT,
	HA_USE_FIELD
};

struct ha_schema_key {
	const char *path;      /* dotted; "[]" stands for any list item: worker.consumers[] */
	int shape;             /* enum ha_shape */
	int use;               /* enum ha_use */
	const char *where;     /* "templates/FILE:LINE" of that use, NULL for HA_USE_DEFAULT */
};

/* One entry of a list the chart pre-fills. */
struct ha_schema_list {
	const char *path;
	const char *id_key;    /* the field that names an entry; "=" the scalar itself,
				  "*" the entry's only key */
	const char *id;
	int carries;           /* the entry sets something (not a null placeholder) */
	const char *entry;     /* the entry in flow YAML, NULL when too long to quote */
	int sev;               /* of dropping entries of this list (the notes file) */
	const char *why;       /* what dropping them costs, NULL: not known */
};

struct ha_schema {
	const char *chart, *version;
	const struct ha_schema_key *keys;   /* sorted by path (strcmp) */
	size_t nkeys;
	const struct ha_schema_list *lists; /* grouped by path */
	size_t nlists;
};

extern const struct ha_schema ha_schema_posthog_30_46_0;

/* The schema of that chart version, NULL when the tree holds none. */
const struct ha_schema *ha_schema_find(const char *chart, const char *version);
const struct ha_schema_key *ha_schema_key(const struct ha_schema *sc, const char *path);

#endif
