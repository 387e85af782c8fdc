/* Flat JSON object → Secret keys, wiping jansson's copies afterwards. */
#include "jsonmap.h"

#include <string.h>

#include "common.h"

const char *jm_error_text(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_out_of_memory: return "out of memory";
	case json_error_stack_overflow: return "nested too deeply";
	case json_error_invalid_utf8: return "invalid UTF-8";
	case json_error_premature_end_of_input: return "unexpected end of input";
	case json_error_end_of_input_expected: return "text after the JSON value";
	case json_error_null_character: return "NUL character in a string";
	case json_error_null_byte_in_key: return "NUL character in a key";
	case json_error_duplicate_key: return "duplicate key";
	case json_error_numeric_overflow: return "number out of range";
	case json_error_invalid_syntax: return "invalid syntax";
	default: return "malformed JSON";
	}
}

void jm_wipe_decref(json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (!v)
		return;
	if (json_is_string(v)) {
		/* jansson's own buffer; the value is ours until decref */
		explicit_bzero((char *)json_string_value(v), json_string_length(v));
	} else if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			jm_wipe_decref(json_incref(x));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			jm_wipe_decref(json_incref(x));
	}
	json_decref(v);
}

static int add_field(phd_ctx *ctx, phd_secret_sink *sink, const struct jm_source *src,
		     const char *key, const char *field, json_t *val, const phd_node *at)
{
	struct sc_pos pos;
	int rc;

	if (!val)
		return phd_set_error(ctx, PHD_ENOTFOUND,
				     "%s: %s: %s has no field \"%s\" (for key %s of Secret %s)",
				     sc_pos(&pos, at), src->plugin, src->origin, field, key,
				     src->name);
	if (!json_is_string(val))
		return phd_set_error(ctx, PHD_ETYPE,
				     "%s: %s: field \"%s\" of %s is not a string",
				     sc_pos(&pos, at), src->plugin, field, src->origin);
	rc = phd_secret_add(sink, src->name, key, json_string_value(val),
			    json_string_length(val), src->where);
	if (rc)
		return phd_set_error(ctx, rc, "%s: %s: cannot add key \"%s\" to Secret \"%s\"",
				     sc_pos(&pos, at), src->plugin, key, src->name);
	return 0;
}

static int add_all(phd_ctx *ctx, phd_secret_sink *sink, const struct jm_source *src,
		   json_t *root)
{
	struct sc_pos pos;
	const char *k;
	json_t *v;
	int rc;

	if (json_object_size(root) == 0)
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: %s is an empty object",
				     sc_pos(&pos, src->where), src->plugin, src->origin);
	/* check every field first: no half-built Secret */
	json_object_foreach(root, k, v) {
		if (!sc_valid_key(k, strlen(k)))
			return phd_set_error(ctx, PHD_EINVAL,
					     "%s: %s: field \"%s\" of %s is not a valid Secret key "
					     "(map it with keys:)", sc_pos(&pos, src->where),
					     src->plugin, k, src->origin);
		if (!json_is_string(v))
			return phd_set_error(ctx, PHD_ETYPE,
					     "%s: %s: field \"%s\" of %s is not a string",
					     sc_pos(&pos, src->where), src->plugin, k, src->origin);
	}
	json_object_foreach(root, k, v)
		if ((rc = add_field(ctx, sink, src, k, k, v, src->where)))
			return rc;
	return 0;
}

int jm_add(phd_ctx *ctx, phd_secret_sink *sink, const struct jm_source *src,
	   const char *buf, size_t len)
{
	json_error_t jerr;
	struct sc_pos pos;
	json_t *root;
	size_t i;
	int rc = 0;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return phd_set_error(ctx, PHD_ESYNTAX, "%s: %s: %s:%d:%d: not valid JSON (%s)",
				     sc_pos(&pos, src->where), src->plugin, src->origin,
				     jerr.line, jerr.column, jm_error_text(&jerr));
	if (!json_is_object(root)) {
		rc = phd_set_error(ctx, PHD_ETYPE, "%s: %s: %s is not a JSON object",
				   sc_pos(&pos, src->where), src->plugin, src->origin);
	} else if (!src->keys) {
		rc = add_all(ctx, sink, src, root);
	} else {
		for (i = 0; i < phd_node_len(src->keys) && !rc; i++) {
			const phd_node *f = phd_node_at(src->keys, i);
			const char *field = phd_node_str(f);

			if (!json_is_string(json_object_get(root, field)))
				rc = add_field(ctx, sink, src, phd_node_key_at(src->keys, i), field,
					       json_object_get(root, field), f);
		}
		for (i = 0; i < phd_node_len(src->keys) && !rc; i++) {
			const phd_node *f = phd_node_at(src->keys, i);

			rc = add_field(ctx, sink, src, phd_node_key_at(src->keys, i),
				       phd_node_str(f), json_object_get(root, phd_node_str(f)), f);
		}
	}
	jm_wipe_decref(root);
	return rc;
}
