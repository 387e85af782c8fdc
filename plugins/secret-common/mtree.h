/* A bounded YAML loader (libyaml events → a small tree with positions)
 * for documents that hold secrets: every scalar copy is wiped on free,
 * libyaml's own buffers are wiped before they are released, aliases are
 * refused and depth and node count are capped. */
#ifndef PHD_SECRET_MTREE_H
#define PHD_SECRET_MTREE_H

#include <stddef.h>

#define MT_MAX_DEPTH 32
#define MT_MAX_NODES 100000

enum { MT_SCALAR = 1, MT_SEQ, MT_MAP };

struct mt_node {
	int type;
	char *s;                 /* scalar text, NUL-terminated, wiped on free */
	size_t len;
	int plain;               /* plain (unquoted) scalar: may be a YAML null */
	unsigned line, col;      /* 1-based */
	struct mt_node **kid;    /* seq: items; map: key, value, key, value... */
	size_t n, cap;
};

/* Per-document callback: root is NULL for an empty document.  Return 0 to
 * go on, anything else stops the load and is returned by mt_load. */
typedef int (*mt_doc_fn)(const struct mt_node *root, void *payload);

struct mt_error {
	char msg[256];
	unsigned line, col;
};

/* Returns 0, the callback's code, or -1 with err filled (syntax, alias,
 * limits, memory). */
int mt_load(const char *buf, size_t len, mt_doc_fn fn, void *payload,
	    struct mt_error *err);

/* Value of key in a mapping (NULL when absent or not a mapping). */
const struct mt_node *mt_get(const struct mt_node *map, const char *key);
/* Whether a scalar is a YAML null (~, null, empty plain). */
int mt_is_null(const struct mt_node *n);

#endif
