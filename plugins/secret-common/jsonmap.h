/* A flat JSON object of key → string mapped to the keys of one Secret.
 * Shared by secret-exec (format: json) and secret-aws (SecretString). */
#ifndef PHD_SECRET_JSONMAP_H
#define PHD_SECRET_JSONMAP_H

#include <stddef.h>
#include <jansson.h>
#include <phdeploy/plugin.h>

struct jm_source {
	const char *plugin;     /* message prefix */
	const char *origin;     /* what the JSON is: "sops stdout", "SecretString of x" */
	const phd_node *where;  /* the secrets entry */
	const char *name;       /* Secret to fill */
	const phd_node *keys;   /* {secret-key: json-field}, or NULL: every field */
};

/* Parse buf and add the mapped fields to Secret src->name.  Fields must be
 * strings; with keys NULL every field name must be a valid Secret key.
 * Messages give origin:line:column and field names, never values. */
int jm_add(phd_ctx *ctx, phd_secret_sink *sink, const struct jm_source *src,
	   const char *buf, size_t len);

/* Fixed text for a jansson error (its own text may quote the input). */
const char *jm_error_text(const json_error_t *e);

/* Overwrite every string in v (recursively), then drop the reference:
 * jansson frees without clearing. */
void jm_wipe_decref(json_t *v);

#endif
