/* Bounded libyaml loader for secret-bearing documents.  Why not libyaml's
 * document API: it has no depth limit, expands nothing we could cap, and
 * its node buffers cannot be wiped through the public API. */
#include "mtree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct loader {
	struct mt_node *stack[MT_MAX_DEPTH + 1];
	size_t depth;
	size_t nodes;
	struct mt_node *root;
	struct mt_error *err;
};

static void node_free(struct mt_node *n)
{
	size_t i;

	if (!n)
		return;
	for (i = 0; i < n->n; i++)
		node_free(n->kid[i]);
	free(n->kid);
	if (n->s) {
		explicit_bzero(n->s, n->len);
		free(n->s);
	}
	free(n);
}

static int fail(struct loader *l, const yaml_mark_t *m, const char *msg)
{
	snprintf(l->err->msg, sizeof l->err->msg, "%s", msg);
	l->err->line = (unsigned)m->line + 1;
	l->err->col = (unsigned)m->column + 1;
	return -1;
}

static int attach(struct loader *l, struct mt_node *n, const yaml_mark_t *m)
{
	struct mt_node *parent = l->depth ? l->stack[l->depth - 1] : NULL;

	if (++l->nodes > MT_MAX_NODES) {
		node_free(n);
		return fail(l, m, "too many YAML nodes");
	}
	if (!parent) {
		if (l->root) { /* cannot happen with libyaml; be safe */
			node_free(n);
			return fail(l, m, "more than one root node");
		}
		l->root = n;
		return 0;
	}
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct mt_node **k = realloc(parent->kid, cap * sizeof *k);

		if (!k) {
			node_free(n);
			return fail(l, m, "out of memory");
		}
		parent->kid = k;
		parent->cap = cap;
	}
	parent->kid[parent->n++] = n;
	return 0;
}

static struct mt_node *new_node(int type, const yaml_mark_t *m)
{
	struct mt_node *n = calloc(1, sizeof *n);

	if (n) {
		n->type = type;
		n->line = (unsigned)m->line + 1;
		n->col = (unsigned)m->column + 1;
	}
	return n;
}

static int on_scalar(struct loader *l, yaml_event_t *ev)
{
	struct mt_node *parent = l->depth ? l->stack[l->depth - 1] : NULL;
	struct mt_node *n = new_node(MT_SCALAR, &ev->start_mark);

	if (!n)
		return fail(l, &ev->start_mark, "out of memory");
	n->s = malloc(ev->data.scalar.length + 1);
	if (!n->s) {
		free(n);
		return fail(l, &ev->start_mark, "out of memory");
	}
	memcpy(n->s, ev->data.scalar.value, ev->data.scalar.length);
	n->s[ev->data.scalar.length] = '\0';
	n->len = ev->data.scalar.length;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	/* a mapping key is a scalar at an even position */
	if (parent && parent->type == MT_MAP && parent->n % 2 == 0 && strlen(n->s) != n->len) {
		node_free(n);
		return fail(l, &ev->start_mark, "a mapping key contains a NUL character");
	}
	return attach(l, n, &ev->start_mark);
}

static int on_collection(struct loader *l, yaml_event_t *ev, int type)
{
	struct mt_node *parent = l->depth ? l->stack[l->depth - 1] : NULL;
	struct mt_node *n;

	if (parent && parent->type == MT_MAP && parent->n % 2 == 0)
		return fail(l, &ev->start_mark, "a mapping key must be a plain string");
	if (l->depth >= MT_MAX_DEPTH)
		return fail(l, &ev->start_mark, "YAML nested too deeply");
	n = new_node(type, &ev->start_mark);
	if (!n)
		return fail(l, &ev->start_mark, "out of memory");
	if (attach(l, n, &ev->start_mark))
		return -1;
	l->stack[l->depth++] = n;
	return 0;
}

/* libyaml frees its buffers without clearing them: clear what may hold
 * secret text (input copies, queued tokens) first. */
static void wipe_parser(yaml_parser_t *p)
{
	yaml_token_t *t;

	if (p->buffer.start)
		explicit_bzero(p->buffer.start, (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start)
		explicit_bzero(p->raw_buffer.start,
			       (size_t)(p->raw_buffer.end - p->raw_buffer.start));
	for (t = p->tokens.head; t && t != p->tokens.tail; t++)
		if (t->type == YAML_SCALAR_TOKEN && t->data.scalar.value)
			explicit_bzero(t->data.scalar.value, t->data.scalar.length);
}

static void wipe_event(yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value)
		explicit_bzero(ev->data.scalar.value, ev->data.scalar.length);
	yaml_event_delete(ev);
}

static int step(struct loader *l, yaml_event_t *ev, mt_doc_fn fn, void *payload)
{
	int rc;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		l->root = NULL;
		l->nodes = 0;
		return 0;
	case YAML_DOCUMENT_END_EVENT:
		rc = fn(l->root, payload);
		node_free(l->root);
		l->root = NULL;
		return rc;
	case YAML_ALIAS_EVENT:
		return fail(l, &ev->start_mark, "YAML aliases are not allowed here");
	case YAML_SCALAR_EVENT:
		return on_scalar(l, ev);
	case YAML_SEQUENCE_START_EVENT:
		return on_collection(l, ev, MT_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_collection(l, ev, MT_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (l->depth)
			l->depth--;
		return 0;
	default:
		return 0;
	}
}

int mt_load(const char *buf, size_t len, mt_doc_fn fn, void *payload,
	    struct mt_error *err)
{
	struct loader l;
	yaml_parser_t p;
	int rc = 0, done = 0;

	memset(&l, 0, sizeof l);
	l.err = err;
	memset(err, 0, sizeof *err);
	if (!yaml_parser_initialize(&p)) {
		snprintf(err->msg, sizeof err->msg, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	while (!done && rc == 0) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err->msg, sizeof err->msg, "YAML: %s%s%s",
				 p.problem ? p.problem : "syntax error",
				 p.context ? " " : "", p.context ? p.context : "");
			err->line = (unsigned)p.problem_mark.line + 1;
			err->col = (unsigned)p.problem_mark.column + 1;
			rc = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = step(&l, &ev, fn, payload);
		wipe_event(&ev);
	}
	node_free(l.root);
	wipe_parser(&p);
	yaml_parser_delete(&p);
	return rc;
}

const struct mt_node *mt_get(const struct mt_node *map, const char *key)
{
	size_t i;

	if (!map || map->type != MT_MAP)
		return NULL;
	for (i = 0; i + 1 < map->n; i += 2)
		if (map->kid[i]->type == MT_SCALAR && strcmp(map->kid[i]->s, key) == 0)
			return map->kid[i + 1];
	return NULL;
}

int mt_is_null(const struct mt_node *n)
{
	if (!n)
		return 1;
	if (n->type != MT_SCALAR || !n->plain)
		return 0;
	return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
	       strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}
