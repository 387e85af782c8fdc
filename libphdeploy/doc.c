/* YAML document trees.  libyaml's event parser builds read-only trees in an
 * arena; every node remembers file:line:column so that any later message
 * (validators, secret cross-checks) can point at the input. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "phd-private.h"

/* ---- arena ---- */
struct phd_chunk {
	struct phd_chunk *next;
	size_t used, size;
	max_align_t data[];
};
struct cstore;
struct phd_arena {
	struct phd_chunk *head;
	struct cstore *cs;    /* compact nodes (below) */
};

static void slabs_free(struct phd_arena *a);

struct phd_arena *phd_arena_new(void)
{
	return calloc(1, sizeof(struct phd_arena));
}

void phd_arena_free(struct phd_arena *a)
{
	if (!a)
		return;
	for (struct phd_chunk *c = a->head, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	slabs_free(a);
	free(a);
}

/* n bytes at a multiple of align (a power of two, at most max_align_t's):
 * nodes and pointer arrays take 8, strings 1, so a stream of short
 * scalars does not pay 16-byte rounding on each. */
void *phd_arena_take(struct phd_arena *a, size_t n, size_t align)
{
	struct phd_chunk *c = a->head;
	size_t at;

	if (c) {
		at = (c->used + align - 1) & ~(align - 1);
		if (at <= c->size && c->size - at >= n) {
			c->used = at + n;
			return (char *)c->data + at;
		}
	}
	{
		size_t size = n > 65536 ? n : 65536;
		struct phd_chunk *nc = malloc(sizeof *nc + size);
		if (!nc)
			return NULL;
		nc->size = size;
		if (c && n > 65536) { /* keep the current chunk in front */
			nc->next = c->next;
			c->next = nc;
			nc->used = n;
			return nc->data;
		}
		nc->used = n;
		nc->next = c;
		a->head = nc;
		return nc->data;
	}
}

void *phd_arena_alloc(struct phd_arena *a, size_t n)
{
	return phd_arena_take(a, n, sizeof(max_align_t));
}

const char *phd_arena_strdup(struct phd_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = phd_arena_take(a, n, 1);
	if (p)
		memcpy(p, s, n);
	return p;
}

static const char *arena_strndup(struct phd_arena *a, const char *s, size_t n)
{
	char *p = phd_arena_take(a, n + 1, 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* ---- compact nodes: manifest streams ---- */

/* A manifest stream has millions of nodes: 12 bytes each instead of
 * phd_node's 64.  A node holds its position and one 32-bit reference: a
 * scalar's text (up to 3 bytes: in the reference itself), a collection's
 * block.  A block is the reference of its shape (the child count and a
 * map's keys, kept once per distinct key list: manifests repeat a few
 * hundred), then the children side by side, so a child costs no pointer
 * and phd_node_at() hands out stable addresses into it.  Everything lies in
 * 1 MiB slabs aligned to 1 MiB, whose header names the file and holds the
 * table a reference indexes (slab, then 4-byte unit within it).  Byte 0 is
 * never 0: struct phd_node's is its compact byte, 0. */
struct phd_cnode {
	unsigned char tag;      /* CN_* | type << 2 | plain << 5 */
	unsigned char col[3];   /* little-endian; CN_BIGCOL: in the arena's table */
	uint32_t line;
	uint32_t ref;           /* 0: an empty collection */
};
#define CN_DIRECT 1   /* block: shape ref, then struct phd_cnode[n]; a text */
#define CN_INDIRECT 2 /* too many children for a slab: shape ref, then refs */
#define CN_INLINE 3   /* a scalar whose text is the ref's bytes */
#define CN_BIGCOL 0xFFFFFFu /* a column past 2^24 - 2 (a line longer than 16 MiB) */

_Static_assert(sizeof(struct phd_cnode) == 12, "compact nodes are 12 bytes");
_Static_assert(offsetof(struct phd_cnode, tag) == 0 && offsetof(struct phd_node, compact) == 0,
	       "byte 0 tells the layouts apart");
_Static_assert(PHD_NODE_MAP < 8, "a node's type fits in 3 bits");

/* A shape: what the children of a collection are. */
struct cshape {
	uint32_t n;
	uint32_t map;
	const char *keys[];     /* maps: n keys */
};

#define SLAB ((size_t)1 << 20)
#define SLABS_MAX 16384       /* a reference: 14 bits of slab, 18 of 4-byte unit */
#define REF_UNIT_BITS 18
struct slab {
	char **tab;               /* the arena's slabs, by number */
	struct phd_arena *a;
	const char *file;
	uint32_t idx, used;
};

/* a column past CN_BIGCOL - 1, by its node's reference (unique to it) */
struct bigcols {
	uint32_t *k, *v;
	size_t n, cap;
};

struct cstore {
	char **tab;               /* SLABS_MAX entries, allocated once */
	uint32_t ntab;
	struct slab *cur;         /* the slab being filled */
	struct bigcols big;
};

static void slabs_free(struct phd_arena *a)
{
	struct cstore *cs = a->cs;
	if (!cs)
		return;
	for (uint32_t i = 0; i < cs->ntab; i++)
		free(cs->tab[i]);
	free(cs->tab);
	free(cs->big.k);
	free(cs->big.v);
	free(cs);
}

/* n bytes at a multiple of align (4 or 8) from the current slab, or a new
 * one; more than a slab holds gets a block of its own (never nodes: their
 * slab is found by masking their address).  *ref names it. */
static void *slab_take(struct phd_arena *a, const char *file, size_t n, size_t align,
		       uint32_t *ref)
{
	struct cstore *cs = a->cs;
	struct slab *s;
	size_t at;

	if (!cs) {
		if (!(cs = calloc(1, sizeof *cs)))
			return NULL;
		/* never moves: every slab's header points at it */
		if (!(cs->tab = calloc(SLABS_MAX, sizeof *cs->tab))) {
			free(cs);
			return NULL;
		}
		a->cs = cs;
	}
	s = cs->cur;
	at = s ? (s->used + align - 1) & ~(align - 1) : 0;
	if (!s || at > SLAB || SLAB - at < n) {
		int big = n > SLAB - sizeof *s;
		if (cs->ntab == SLABS_MAX)
			return NULL;
		/* only the pages written become resident */
		s = big ? malloc(sizeof *s + n) : aligned_alloc(SLAB, SLAB);
		if (!s)
			return NULL;
		s->tab = cs->tab;
		s->a = a;
		s->file = file;
		s->idx = cs->ntab;
		s->used = (uint32_t)sizeof *s;
		cs->tab[cs->ntab++] = (char *)s;
		at = sizeof *s;
		if (big) {
			*ref = s->idx << REF_UNIT_BITS | (uint32_t)(at >> 2);
			return (char *)s + at;
		}
		cs->cur = s;
	}
	s->used = (uint32_t)(at + n);
	*ref = s->idx << REF_UNIT_BITS | (uint32_t)(at >> 2);
	return (char *)s + at;
}

static const void *deref(char *const *tab, uint32_t ref)
{
	return tab[ref >> REF_UNIT_BITS] + ((size_t)(ref & ((1u << REF_UNIT_BITS) - 1)) << 2);
}

static const struct slab *slab_of(const struct phd_cnode *c)
{
	return (const struct slab *)((uintptr_t)c & ~(uintptr_t)(SLAB - 1));
}

static int bigcol_put(struct phd_arena *a, uint32_t ref, uint32_t col)
{
	struct bigcols *b = &a->cs->big;
	size_t i;
	if (2 * (b->n + 1) > b->cap) {
		struct bigcols nb = { NULL, NULL, 0, b->cap ? b->cap * 2 : 16 };
		if (!(nb.k = calloc(nb.cap, sizeof *nb.k)) || !(nb.v = calloc(nb.cap, sizeof *nb.v))) {
			free(nb.k);
			return PHD_ENOMEM;
		}
		for (size_t j = 0; j < b->cap; j++) {
			if (!b->k[j])
				continue;
			for (i = b->k[j] * 2654435761u & (nb.cap - 1); nb.k[i]; i = (i + 1) & (nb.cap - 1))
				;
			nb.k[i] = b->k[j];
			nb.v[i] = b->v[j];
		}
		nb.n = b->n;
		free(b->k);
		free(b->v);
		*b = nb;
	}
	for (i = ref * 2654435761u & (b->cap - 1); b->k[i] && b->k[i] != ref; i = (i + 1) & (b->cap - 1))
		;
	if (!b->k[i])
		b->n++;
	b->k[i] = ref;
	b->v[i] = col;
	return 0;
}

static uint32_t bigcol_get(const struct phd_arena *a, uint32_t ref)
{
	const struct bigcols *b = &a->cs->big;
	for (size_t i = ref * 2654435761u & (b->cap - 1); b->k[i]; i = (i + 1) & (b->cap - 1))
		if (b->k[i] == ref)
			return b->v[i];
	return 0;
}

static int is_compact(const phd_node *n)
{
	return ((const unsigned char *)n)[offsetof(struct phd_node, compact)] != 0;
}

static const struct phd_cnode *cnode(const phd_node *n)
{
	return (const struct phd_cnode *)(const void *)n;
}

static int ckind(const struct phd_cnode *c)
{
	return c->tag & 3;
}

static int ctype(const struct phd_cnode *c)
{
	return c->tag >> 2 & 7;
}

static int cplain(const struct phd_cnode *c)
{
	return c->tag >> 5 & 1;
}

static void cset_col(struct phd_cnode *c, uint32_t col)
{
	if (col > CN_BIGCOL)
		col = CN_BIGCOL;
	c->col[0] = (unsigned char)col;
	c->col[1] = (unsigned char)(col >> 8);
	c->col[2] = (unsigned char)(col >> 16);
}

/* the column; a by-value copy (while parsing) names its arena */
static uint32_t ccol(const struct phd_arena *a, const struct phd_cnode *c)
{
	uint32_t col = c->col[0] | (uint32_t)c->col[1] << 8 | (uint32_t)c->col[2] << 16;
	if (col != CN_BIGCOL)
		return col;
	return bigcol_get(a ? a : slab_of(c)->a, c->ref);
}

/* tab: the arena's slab table (slab_of(c)->tab for a node in a slab) */
static const struct cshape *cshape(char *const *tab, const struct phd_cnode *c)
{
	return c->ref ? deref(tab, *(const uint32_t *)deref(tab, c->ref)) : NULL;
}

static size_t clen(char *const *tab, const struct phd_cnode *c)
{
	const struct cshape *sh = cshape(tab, c);
	return sh ? sh->n : 0;
}

static const struct phd_cnode *ckid(char *const *tab, const struct phd_cnode *c, size_t i)
{
	const uint32_t *b = deref(tab, c->ref);
	return ckind(c) == CN_INDIRECT ? deref(tab, b[1 + i])
				       : (const struct phd_cnode *)(const void *)(b + 1) + i;
}

static const char *cstr(char *const *tab, const struct phd_cnode *c)
{
	return ckind(c) == CN_INLINE ? (const char *)&c->ref : deref(tab, c->ref);
}

static const char *cfile(const struct phd_cnode *c)
{
	return slab_of(c)->file;
}

/* A growable array of compact nodes (a frame's children, by value). */
struct cvec {
	struct phd_cnode *v;
	size_t n, cap;
};

static int cvec_push(struct cvec *cv, const struct phd_cnode *c)
{
	if (cv->n == cv->cap) {
		size_t cap = cv->cap ? cv->cap * 2 : 16;
		struct phd_cnode *nv = realloc(cv->v, cap * sizeof *nv);
		if (!nv)
			return PHD_ENOMEM;
		cv->v = nv;
		cv->cap = cap;
	}
	cv->v[cv->n++] = *c;
	return 0;
}

/* ---- parser ---- */
struct frame {
	struct phd_node *node;
	struct phd_cnode cn;      /* compact: the collection being built */
	uint32_t col;             /* compact: its column (cn's may be CN_BIGCOL) */
	size_t w;                 /* compact: its weight */
	struct cvec ckids;        /* compact: its children */
	struct cvec cmerges;      /* compact: maps merged with "<<" */
	struct phd_vec kids;
	struct phd_vec keys;      /* maps: keys (const char *) */
	struct phd_vec keynodes;  /* maps: key nodes, for positions */
	struct phd_vec merges;    /* maps: nodes merged with "<<" */
	struct phd_strset index;  /* maps: key -> position, once large */
	const char *anchor;
	int want_key;             /* maps: next scalar is a key */
	int merge_key;            /* maps: the last key was a plain "<<" */
};

struct anchor {
	const char *name;
	struct phd_node *node;
	struct phd_cnode cn;      /* compact: the node, by value */
	size_t w;                 /* compact: its weight */
};

#define INDEX_FROM 16 /* mappings this large get a key index */

/* Position of key among the frame's keys, or -1. */
static long frame_find(struct frame *f, const char *key)
{
	size_t at;
	if (f->index.cap)
		return phd_strset_get(&f->index, key, &at) ? (long)at : -1;
	for (size_t i = 0; i < f->keys.n; i++)
		if (((const char *)f->keys.v[i])[0] == key[0] && !strcmp(f->keys.v[i], key))
			return (long)i;
	return -1;
}

static int frame_index(struct frame *f)
{
	size_t i = f->index.cap ? f->keys.n - 1 : 0;
	if (f->keys.n < INDEX_FROM)
		return 0;
	for (; i < f->keys.n; i++)
		if (phd_strset_put(&f->index, f->keys.v[i], i))
			return PHD_ENOMEM;
	return 0;
}

struct parser {
	struct phd_arena *a;
	const char *name;
	struct frame *st;
	size_t depth, cap;
	size_t used;              /* frames ever initialised (their vectors kept) */
	struct anchor *anchors;
	size_t nanchors, capanchors;
	struct phd_strset anchor_index;
	size_t weight, max_weight;
	char *err;
	int code;
	/* manifest streams: compact nodes, and keys keep their text but no
	 * node (a node per key was a third of the tree; only configuration
	 * errors point at keys, and phd_node's users fall back to the value's
	 * position); key texts are shared (a stream repeats a few hundred) */
	int compact;
	struct phd_strset keytexts;
	uint32_t *shapes;         /* shape references, by hash (0: free) */
	size_t nshapes, capshapes;
};

static int perr(struct parser *p, int code, unsigned line, unsigned col, const char *fmt, ...)
	PHD_PRINTF(5, 6);
static int perr(struct parser *p, int code, unsigned line, unsigned col, const char *fmt, ...)
{
	if (!p->err) {
		struct phd_buf b = { 0 };
		va_list ap;
		va_start(ap, fmt);
		phd_buf_vprintf(&b, fmt, ap);
		va_end(ap);
		p->err = phd_asprintf("%s:%u:%u: %s", p->name, line, col, b.s ? b.s : "error");
		phd_buf_free(&b);
		p->code = code;
	}
	return code;
}

static struct phd_node *new_node(struct parser *p, int type, const yaml_mark_t *m)
{
	struct phd_node *n = phd_arena_take(p->a, sizeof *n, _Alignof(struct phd_node));
	if (!n)
		return NULL;
	memset(n, 0, sizeof *n);
	n->type = type;
	n->file = p->name;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	n->weight = 1;
	return n;
}

/* The anchor's slot (a new one or the one it redefines), or NULL. */
static struct anchor *anchor_slot(struct parser *p, const char *anchor)
{
	size_t at;
	if (phd_strset_get(&p->anchor_index, anchor, &at))
		return &p->anchors[at];
	if (p->nanchors == p->capanchors) {
		size_t cap = p->capanchors ? p->capanchors * 2 : 16;
		struct anchor *na = realloc(p->anchors, cap * sizeof *na);
		if (!na)
			return NULL;
		p->anchors = na;
		p->capanchors = cap;
	}
	memset(&p->anchors[p->nanchors], 0, sizeof p->anchors[p->nanchors]);
	p->anchors[p->nanchors].name = phd_arena_strdup(p->a, anchor);
	if (!p->anchors[p->nanchors].name ||
	    phd_strset_put(&p->anchor_index, p->anchors[p->nanchors].name, p->nanchors))
		return NULL;
	return &p->anchors[p->nanchors++];
}

static int remember_anchor(struct parser *p, const char *anchor, struct phd_node *n)
{
	struct anchor *slot;
	if (!anchor)
		return 0;
	if (!(slot = anchor_slot(p, anchor)))
		return PHD_ENOMEM;
	slot->node = n;
	return 0;
}

static int add_weight_at(struct parser *p, size_t w, unsigned line, unsigned col)
{
	p->weight += w;
	if (p->weight > p->max_weight)
		return perr(p, PHD_ETOOBIG, line, col,
			    "document too large: more than %zu nodes (aliases expanded)",
			    p->max_weight);
	return 0;
}

static int add_weight(struct parser *p, struct phd_node *n)
{
	return add_weight_at(p, n->weight, n->line, n->col);
}

/* The next key of the map on top of the stack, at line:col. */
static int add_key(struct parser *p, struct frame *f, const char *key, int plain,
		   unsigned line, unsigned col)
{
	if (frame_find(f, key) >= 0)
		return perr(p, PHD_ESYNTAX, line, col, "duplicate key '%s' in this mapping", key);
	if (phd_vec_push(&f->keys, (void *)key) || frame_index(f))
		return PHD_ENOMEM;
	f->want_key = 0;
	f->merge_key = plain && key[0] == '<' && !strcmp(key, "<<");
	return 0;
}

/* A "<<" key's value came: the key goes (merged entries are added when the
 * mapping closes). */
static int drop_merge_key(struct frame *f)
{
	f->keys.n--;
	if (f->keynodes.n)
		f->keynodes.n--;
	phd_strset_free(&f->index); /* rebuilt without the '<<' key */
	return frame_index(f);
}

/* Attach a finished node to the frame on top of the stack (or to docs). */
static int attach(struct parser *p, struct phd_node *n, struct phd_vec *docs)
{
	struct frame *f;
	int rc;
	if (p->depth == 0)
		return phd_vec_push(docs, n);
	f = &p->st[p->depth - 1];
	f->node->weight += n->weight;
	if (f->node->type == PHD_NODE_SEQ)
		return phd_vec_push(&f->kids, n);
	if (f->want_key) {
		if (n->type != PHD_NODE_SCALAR && n->type != PHD_NODE_NULL)
			return perr(p, PHD_ESYNTAX, n->line, n->col,
				    "only scalar mapping keys are supported");
		if ((rc = add_key(p, f, n->str, n->plain, n->line, n->col)) != 0)
			return rc;
		return phd_vec_push(&f->keynodes, n);
	}
	f->want_key = 1;
	if (f->merge_key && (n->type == PHD_NODE_MAP || n->type == PHD_NODE_SEQ)) {
		if (drop_merge_key(f))
			return PHD_ENOMEM;
		if (n->type == PHD_NODE_MAP)
			return phd_vec_push(&f->merges, n);
		for (size_t i = 0; i < n->n; i++) {
			if (n->kids[i]->type != PHD_NODE_MAP)
				return perr(p, PHD_ESYNTAX, n->line, n->col,
					    "'<<' takes a mapping or a list of mappings");
			if (phd_vec_push(&f->merges, n->kids[i]))
				return PHD_ENOMEM;
		}
		return 0;
	}
	return phd_vec_push(&f->kids, n);
}

/* The next frame on the stack, its vectors kept from an earlier use. */
static struct frame *next_frame(struct parser *p, const yaml_mark_t *m)
{
	if (p->depth >= PHD_MAX_DEPTH) {
		perr(p, PHD_ETOOBIG, (unsigned)m->line + 1, (unsigned)m->column + 1,
		     "nesting deeper than 128 levels");
		return NULL;
	}
	if (p->depth == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct frame *ns = realloc(p->st, cap * sizeof *ns);   /* frames move: vectors stay */
		if (!ns) {
			p->code = PHD_ENOMEM;
			return NULL;
		}
		p->st = ns;
		p->cap = cap;
	}
	if (p->depth == p->used) {   /* a level never reached before */
		memset(&p->st[p->depth], 0, sizeof p->st[p->depth]);
		p->used++;
	}
	return &p->st[p->depth];
}

static int push_frame(struct parser *p, struct phd_node *n, const char *anchor,
		      const yaml_mark_t *m)
{
	struct frame *f = next_frame(p, m);
	if (!f)
		return p->code;
	f->node = n;
	f->want_key = n->type == PHD_NODE_MAP;
	f->anchor = anchor ? phd_arena_strdup(p->a, anchor) : NULL;
	p->depth++;
	return 0;
}

static void frame_free(struct frame *f)
{
	free(f->ckids.v);
	free(f->cmerges.v);
	phd_vec_free(&f->kids, NULL);
	phd_vec_free(&f->keys, NULL);
	phd_vec_free(&f->keynodes, NULL);
	phd_vec_free(&f->merges, NULL);
	phd_strset_free(&f->index);
}

/* A closed frame keeps its vectors for the next collection at its depth:
 * a manifest stream opens millions of small collections, and a malloc,
 * realloc and free each was a fifth of the parse. */
static void frame_reset(struct frame *f)
{
	f->kids.n = f->keys.n = f->keynodes.n = f->merges.n = 0;
	f->ckids.n = f->cmerges.n = 0;
	f->w = 0;
	f->merge_key = 0;
	if (f->index.cap)
		phd_strset_free(&f->index);
	f->anchor = NULL;
}

static int pop_frame(struct parser *p, struct phd_vec *docs)
{
	struct frame *f = &p->st[--p->depth];
	struct phd_node *n = f->node;
	int rc;

	/* merged entries come after explicit ones and never override them */
	for (size_t m = 0; m < f->merges.n; m++) {
		const struct phd_node *src = f->merges.v[m];
		for (size_t i = 0; i < src->n; i++) {
			if (frame_find(f, src->keys[i]) >= 0)
				continue;
			if (phd_vec_push(&f->keys, (void *)src->keys[i]) ||
			    phd_vec_push(&f->keynodes, src->knodes ? src->knodes[i]
								   : src->kids[i]) ||
			    phd_vec_push(&f->kids, src->kids[i])) {
				frame_reset(f);
				return PHD_ENOMEM;
			}
			if (frame_index(f)) {
				frame_reset(f);
				return PHD_ENOMEM;
			}
			n->weight += src->kids[i]->weight;
		}
	}
	n->n = f->kids.n;
	if (n->n) {
		n->kids = phd_arena_take(p->a, n->n * sizeof *n->kids, _Alignof(struct phd_node *));
		if (!n->kids) {
			frame_reset(f);
			return PHD_ENOMEM;
		}
		memcpy(n->kids, f->kids.v, n->n * sizeof *n->kids);
		if (n->type == PHD_NODE_MAP) {
			n->keys = phd_arena_take(p->a, n->n * sizeof *n->keys, _Alignof(const char *));
			if (!n->keys) {
				frame_reset(f);
				return PHD_ENOMEM;
			}
			memcpy(n->keys, f->keys.v, n->n * sizeof *n->keys);
			n->knodes = phd_arena_take(p->a, n->n * sizeof *n->knodes,
					       _Alignof(struct phd_node *));
			if (!n->knodes) {
				frame_reset(f);
				return PHD_ENOMEM;
			}
			memcpy(n->knodes, f->keynodes.v, n->n * sizeof *n->knodes);
		}
	}
	rc = remember_anchor(p, f->anchor, n);
	frame_reset(f);
	if (rc)
		return rc;
	if ((rc = add_weight(p, n)) != 0)
		return rc;
	return attach(p, n, docs);
}

static int is_null_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	/* most plain scalars: one byte says they are not null */
	if (*v && *v != '~' && *v != 'n' && *v != 'N')
		return 0;
	if (ev->data.scalar.tag && strcmp((const char *)ev->data.scalar.tag, "!") != 0 &&
	    strcmp((const char *)ev->data.scalar.tag, YAML_NULL_TAG) != 0)
		return 0;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static int on_event(struct parser *p, yaml_event_t *ev, struct phd_vec *docs)
{
	struct phd_node *n;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = new_node(p, is_null_scalar(ev) ? PHD_NODE_NULL : PHD_NODE_SCALAR,
			     &ev->start_mark);
		if (!n)
			return PHD_ENOMEM;
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->str = arena_strndup(p->a, (const char *)ev->data.scalar.value,
				       ev->data.scalar.length);
		if (!n->str)
			return PHD_ENOMEM;
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
			return perr(p, PHD_ESYNTAX, n->line, n->col,
				    "NUL byte inside a scalar");
		if (remember_anchor(p, (const char *)ev->data.scalar.anchor, n))
			return PHD_ENOMEM;
		if (add_weight(p, n))
			return p->code;
		return attach(p, n, docs);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		n = new_node(p, ev->type == YAML_SEQUENCE_START_EVENT ? PHD_NODE_SEQ : PHD_NODE_MAP,
			     &ev->start_mark);
		if (!n)
			return PHD_ENOMEM;
		return push_frame(p, n, (const char *)(ev->type == YAML_SEQUENCE_START_EVENT
						       ? ev->data.sequence_start.anchor
						       : ev->data.mapping_start.anchor), &ev->start_mark);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return pop_frame(p, docs);
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		size_t at;
		if (phd_strset_get(&p->anchor_index, name, &at)) {
			struct phd_node *target = p->anchors[at].node;
			if (add_weight(p, target))
				return p->code;
			return attach(p, target, docs);
		}
		return perr(p, PHD_ESYNTAX, (unsigned)ev->start_mark.line + 1,
			    (unsigned)ev->start_mark.column + 1, "unknown alias '*%s'", name);
	}
	default:
		return 0;
	}
}

/* ---- compact parse (manifest streams) ---- */

/* Keys share their text; past this many distinct ones the rest are copied,
 * so a stream of unique keys does not grow the table without bound.  The
 * same for shapes. */
#define KEYTEXTS_MAX 16384
#define SHAPES_MAX 65536

static const char *key_text(struct parser *p, const char *s, size_t len)
{
	size_t v;
	const char *t;
	if (phd_strset_get(&p->keytexts, s, &v))
		return (const char *)(uintptr_t)v;
	t = arena_strndup(p->a, s, len);
	if (t && p->keytexts.n < KEYTEXTS_MAX &&
	    phd_strset_put(&p->keytexts, t, (size_t)(uintptr_t)t))
		return NULL;
	return t;
}

static size_t shape_hash(int map, size_t n, const char *const *keys)
{
	size_t h = n * 2 + (size_t)map;
	for (size_t i = 0; map && i < n; i++)
		h = (h ^ (size_t)(uintptr_t)keys[i]) * 0x100000001b3u;
	return h ^ h >> 29;
}

/* The reference of the shape of n children (a map's keys: keys), kept once
 * per distinct one; 0: no memory. */
static uint32_t shape_ref(struct parser *p, int map, size_t n, const char *const *keys)
{
	char *const *tab;
	size_t h = shape_hash(map, n, map ? keys : NULL), i;
	struct cshape *sh;
	uint32_t ref;

	if (2 * (p->nshapes + 1) > p->capshapes && p->nshapes < SHAPES_MAX) {
		size_t cap = p->capshapes ? p->capshapes * 2 : 1024;
		uint32_t *ns = calloc(cap, sizeof *ns);
		if (!ns)
			return 0;
		tab = p->a->cs ? p->a->cs->tab : NULL;
		for (size_t j = 0; j < p->capshapes; j++) {
			const struct cshape *o;
			if (!p->shapes[j])
				continue;
			o = deref(tab, p->shapes[j]);
			for (i = shape_hash((int)o->map, o->n, o->keys) & (cap - 1); ns[i];
			     i = (i + 1) & (cap - 1))
				;
			ns[i] = p->shapes[j];
		}
		free(p->shapes);
		p->shapes = ns;
		p->capshapes = cap;
	}
	tab = p->a->cs ? p->a->cs->tab : NULL;
	for (i = h & (p->capshapes - 1); p->capshapes && p->shapes[i]; i = (i + 1) & (p->capshapes - 1)) {
		const struct cshape *o = deref(tab, p->shapes[i]);
		if (o->n == n && o->map == (uint32_t)map &&
		    (!map || !n || !memcmp(o->keys, keys, n * sizeof *keys)))
			return p->shapes[i];
	}
	if (!(sh = slab_take(p->a, p->name, sizeof *sh + (map ? n * sizeof *keys : 0),
			     _Alignof(struct cshape), &ref)))
		return 0;
	sh->n = (uint32_t)n;
	sh->map = (uint32_t)map;
	if (map && n)
		memcpy(sh->keys, keys, n * sizeof *keys);
	if (p->capshapes && 2 * (p->nshapes + 1) <= p->capshapes) {
		p->shapes[i] = ref;
		p->nshapes++;
	}
	return ref;
}

static int remember_canchor(struct parser *p, const char *anchor, const struct phd_cnode *c,
			    size_t w)
{
	struct anchor *slot;
	if (!anchor)
		return 0;
	if (!(slot = anchor_slot(p, anchor)))
		return PHD_ENOMEM;
	slot->cn = *c;
	slot->w = w;
	return 0;
}

/* A finished node (by value: its children are final) to the frame on top
 * of the stack, or as a document. */
static int cattach(struct parser *p, const struct phd_cnode *c, size_t w, struct phd_vec *docs)
{
	struct frame *f;
	char *const *tab = p->a->cs ? p->a->cs->tab : NULL;
	int type = ctype(c);

	if (p->depth == 0) {
		uint32_t ref;
		struct phd_cnode *root = slab_take(p->a, p->name, sizeof *root, 4, &ref);
		if (!root)
			return PHD_ENOMEM;
		*root = *c;
		return phd_vec_push(docs, root);
	}
	f = &p->st[p->depth - 1];
	f->w += w;
	if (ctype(&f->cn) == PHD_NODE_SEQ)
		return cvec_push(&f->ckids, c);
	if (f->want_key) {   /* an anchored key, an alias or a collection */
		const char *s, *t;
		if (type != PHD_NODE_SCALAR && type != PHD_NODE_NULL)
			return perr(p, PHD_ESYNTAX, c->line, ccol(p->a, c),
				    "only scalar mapping keys are supported");
		s = cstr(tab, c);   /* an inline text lives in this copy: keep it */
		if (!(t = key_text(p, s, strlen(s))))
			return PHD_ENOMEM;
		return add_key(p, f, t, cplain(c), c->line, ccol(p->a, c));
	}
	f->want_key = 1;
	/* a merge's weight is counted once, with its value, above */
	if (f->merge_key && (type == PHD_NODE_MAP || type == PHD_NODE_SEQ)) {
		size_t n = clen(tab, c);
		if (drop_merge_key(f))
			return PHD_ENOMEM;
		if (type == PHD_NODE_MAP)
			return cvec_push(&f->cmerges, c);
		for (size_t i = 0; i < n; i++) {
			if (ctype(ckid(tab, c, i)) != PHD_NODE_MAP)
				return perr(p, PHD_ESYNTAX, c->line, ccol(p->a, c),
					    "'<<' takes a mapping or a list of mappings");
			if (cvec_push(&f->cmerges, ckid(tab, c, i)))
				return PHD_ENOMEM;
		}
		return 0;
	}
	return cvec_push(&f->ckids, c);
}

/* The frame's children into one block of a slab (or, too many for one,
 * each on its own behind a reference). */
static int cblock(struct parser *p, struct frame *f, struct phd_cnode *c)
{
	size_t n = f->ckids.n;
	int map = ctype(c) == PHD_NODE_MAP;
	uint32_t sref, *b;

	c->ref = 0;
	if (!n && f->col < CN_BIGCOL)
		return 0;    /* no block: nothing to point at */
	if (!(sref = shape_ref(p, map, n, (const char *const *)f->keys.v)))
		return PHD_ENOMEM;
	if (sizeof *b + n * sizeof *f->ckids.v <= SLAB - sizeof(struct slab)) {
		if (!(b = slab_take(p->a, p->name, sizeof *b + n * sizeof *f->ckids.v, 4, &c->ref)))
			return PHD_ENOMEM;
		b[0] = sref;
		if (n)
			memcpy(b + 1, f->ckids.v, n * sizeof *f->ckids.v);
		c->tag = (unsigned char)((c->tag & ~3) | CN_DIRECT);
		return 0;
	}
	if (!(b = slab_take(p->a, p->name, (n + 1) * sizeof *b, 4, &c->ref)))
		return PHD_ENOMEM;
	b[0] = sref;
	for (size_t i = 0; i < n; i++) {
		struct phd_cnode *k = slab_take(p->a, p->name, sizeof *k, 4, &b[1 + i]);
		if (!k)
			return PHD_ENOMEM;
		*k = f->ckids.v[i];
	}
	c->tag = (unsigned char)((c->tag & ~3) | CN_INDIRECT);
	return 0;
}

static int pop_cframe(struct parser *p, struct phd_vec *docs)
{
	struct frame *f = &p->st[--p->depth];
	struct phd_cnode c = f->cn;
	size_t w = f->w + 1;
	const char *anchor = f->anchor;
	uint32_t col = f->col;
	char *const *tab = p->a->cs ? p->a->cs->tab : NULL;
	int rc = 0;

	/* merged entries come after explicit ones and never override them */
	for (size_t m = 0; m < f->cmerges.n && !rc; m++) {
		const struct phd_cnode *src = &f->cmerges.v[m];
		const struct cshape *sh = cshape(tab, src);
		for (size_t i = 0; sh && i < sh->n && !rc; i++) {
			if (frame_find(f, sh->keys[i]) >= 0)
				continue;
			if (phd_vec_push(&f->keys, (void *)sh->keys[i]) ||
			    cvec_push(&f->ckids, ckid(tab, src, i)) || frame_index(f))
				rc = PHD_ENOMEM;
		}
	}
	if (!rc)
		rc = cblock(p, f, &c);
	if (!rc && col >= CN_BIGCOL)
		rc = bigcol_put(p->a, c.ref, col);
	frame_reset(f);
	if (rc || (rc = remember_canchor(p, anchor, &c, w)) != 0 ||
	    (rc = add_weight_at(p, w, c.line, col)) != 0)
		return rc;
	return cattach(p, &c, w, docs);
}

static int on_cevent(struct parser *p, yaml_event_t *ev, struct phd_vec *docs)
{
	struct phd_cnode c;
	struct frame *f = p->depth ? &p->st[p->depth - 1] : NULL;
	uint32_t col = (uint32_t)ev->start_mark.column + 1;
	int rc;

	memset(&c, 0, sizeof c);
	c.line = (uint32_t)ev->start_mark.line + 1;
	cset_col(&c, col);
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *v = (const char *)ev->data.scalar.value;
		size_t len = ev->data.scalar.length;
		int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		c.tag = (unsigned char)((is_null_scalar(ev) ? PHD_NODE_NULL : PHD_NODE_SCALAR) << 2 |
					plain << 5);
		if (memchr(v, '\0', len))
			return perr(p, PHD_ESYNTAX, c.line, col, "NUL byte inside a scalar");
		if (f && f->want_key && !ev->data.scalar.anchor) {
			/* a key: its text, no node */
			const char *t = key_text(p, v, len);
			if (!t)
				return PHD_ENOMEM;
			if ((rc = add_weight_at(p, 1, c.line, col)) != 0)
				return rc;
			f->w++;
			return add_key(p, f, t, plain, c.line, col);
		}
		if (len < sizeof c.ref && col < CN_BIGCOL) {
			c.tag |= CN_INLINE;
			memcpy(&c.ref, v, len);   /* the rest stays 0: its NUL */
		} else {
			char *t = slab_take(p->a, p->name, len + 1, 4, &c.ref);
			if (!t)
				return PHD_ENOMEM;
			memcpy(t, v, len);
			t[len] = '\0';
			c.tag |= CN_DIRECT;
			if (col >= CN_BIGCOL && bigcol_put(p->a, c.ref, col))
				return PHD_ENOMEM;
		}
		if (remember_canchor(p, (const char *)ev->data.scalar.anchor, &c, 1))
			return PHD_ENOMEM;
		if ((rc = add_weight_at(p, 1, c.line, col)) != 0)
			return rc;
		return cattach(p, &c, 1, docs);
	}
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		const char *anchor = (const char *)(ev->type == YAML_SEQUENCE_START_EVENT
						    ? ev->data.sequence_start.anchor
						    : ev->data.mapping_start.anchor);
		int type = ev->type == YAML_SEQUENCE_START_EVENT ? PHD_NODE_SEQ : PHD_NODE_MAP;
		if (!(f = next_frame(p, &ev->start_mark)))
			return p->code;
		c.tag = (unsigned char)(type << 2 | CN_DIRECT);
		f->cn = c;
		f->col = col;
		f->w = 0;
		f->want_key = type == PHD_NODE_MAP;
		f->anchor = anchor ? phd_arena_strdup(p->a, anchor) : NULL;
		if (anchor && !f->anchor)
			return PHD_ENOMEM;
		p->depth++;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return pop_cframe(p, docs);
	case YAML_ALIAS_EVENT: {
		size_t at;
		if (phd_strset_get(&p->anchor_index, (const char *)ev->data.alias.anchor, &at)) {
			struct phd_cnode target = p->anchors[at].cn;
			size_t w = p->anchors[at].w;
			if ((rc = add_weight_at(p, w, c.line, col)) != 0)
				return rc;
			return cattach(p, &target, w, docs);
		}
		return perr(p, PHD_ESYNTAX, c.line, col, "unknown alias '*%s'",
			    (const char *)ev->data.alias.anchor);
	}
	default:
		return 0;
	}
}

int phd_doc_parse(struct phd_docset *ds, const char *name, const char *buf, size_t len,
		  int multi, char **err)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	struct parser p;
	struct phd_vec docs = { 0 };
	int rc = 0, done = 0;

	*err = NULL;
	memset(ds, 0, sizeof *ds);
	memset(&p, 0, sizeof p);
	ds->arena = p.a = phd_arena_new();
	if (!p.a)
		return PHD_ENOMEM;
	/* without aliases a node needs at least one byte of input; aliases may
	 * expand, but only to a bounded multiple of what was read */
	p.max_weight = PHD_MAX_NODES + len;
	p.compact = multi;
	p.name = phd_arena_strdup(p.a, name);
	if (!p.name || !yaml_parser_initialize(&yp)) {
		phd_arena_free(p.a);
		ds->arena = NULL;
		return PHD_ENOMEM;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)buf, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&yp, &ev)) {
			const yaml_mark_t *m = &yp.problem_mark;
			char *what = phd_asprintf("%s%s%s", yp.problem ? yp.problem : "malformed YAML",
						  yp.context ? " " : "",
						  yp.context ? yp.context : "");
			if (yp.error == YAML_READER_ERROR) {
				/* libyaml gives only a byte offset for bad encoding */
				size_t off = yp.problem_offset < len ? yp.problem_offset : len;
				unsigned line = 1, col = 1;
				for (size_t i = 0; i < off; i++) {
					if (buf[i] == '\n') {
						line++;
						col = 1;
					} else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
						col++;
					}
				}
				p.err = phd_asprintf("%s:%u:%u: %s at byte %zu (not UTF-8 text?)",
						     p.name, line, col,
						     yp.problem ? yp.problem : "unreadable input", off);
				p.code = rc = PHD_ESYNTAX;
			} else {
				rc = perr(&p, PHD_ESYNTAX, (unsigned)m->line + 1,
					  (unsigned)m->column + 1, "%s", what);
			}
			free(what);
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT)
			done = 1;
		if (ev.type == YAML_DOCUMENT_START_EVENT && !multi && docs.n > 0)
			rc = perr(&p, PHD_ESYNTAX, (unsigned)ev.start_mark.line + 1,
				  (unsigned)ev.start_mark.column + 1,
				  "more than one YAML document in this file");
		if (rc == 0)
			rc = p.compact ? on_cevent(&p, &ev, &docs) : on_event(&p, &ev, &docs);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&yp);
	while (p.used > 0)
		frame_free(&p.st[--p.used]);
	free(p.st);
	free(p.anchors);
	phd_strset_free(&p.anchor_index);
	phd_strset_free(&p.keytexts);
	free(p.shapes);
	if (rc && !p.err)
		p.err = phd_asprintf("%s: %s", p.name, phd_strerror(rc));
	if (rc) {
		phd_vec_free(&docs, NULL);
		phd_arena_free(p.a);
		ds->arena = NULL;
		*err = p.err;
		return p.code ? p.code : rc;
	}
	ds->docs = (struct phd_node **)docs.v;
	ds->ndocs = docs.n;
	return 0;
}

void phd_docset_free(struct phd_docset *ds)
{
	free(ds->docs);
	phd_arena_free(ds->arena);
	memset(ds, 0, sizeof *ds);
}

/* ---- merge ---- */

/* Key lookup that stays linear-time overall for large maps. */
static const struct phd_node *lookup(const struct phd_node *map, const struct phd_strset *ix,
				     const char *key, size_t *at)
{
	size_t i;
	if (ix->cap) {
		if (!phd_strset_get(ix, key, &i))
			return NULL;
	} else {
		for (i = 0; i < map->n; i++)
			if (!strcmp(map->keys[i], key))
				break;
		if (i == map->n)
			return NULL;
	}
	if (at)
		*at = i;
	return map->kids[i];
}

static int index_map(struct phd_strset *ix, const struct phd_node *map)
{
	if (map->n < INDEX_FROM)
		return 0;
	for (size_t i = 0; i < map->n; i++)
		if (phd_strset_put(ix, map->keys[i], i))
			return PHD_ENOMEM;
	return 0;
}

struct phd_node *phd_doc_merge(struct phd_arena *a, const struct phd_node *base,
			       const struct phd_node *over)
{
	struct phd_node *n;
	size_t cap, k = 0;
	struct phd_strset bix = { 0 }, oix = { 0 };

	/* values trees only: a manifest stream's compact nodes are never merged */
	if (!base || !over || is_compact(base) || is_compact(over) ||
	    base->type != PHD_NODE_MAP || over->type != PHD_NODE_MAP)
		return (struct phd_node *)over;
	n = phd_arena_alloc(a, sizeof *n);
	if (!n)
		return NULL;
	*n = *over;
	cap = base->n + over->n;
	n->keys = cap ? phd_arena_alloc(a, cap * sizeof *n->keys) : NULL;
	n->kids = cap ? phd_arena_alloc(a, cap * sizeof *n->kids) : NULL;
	n->knodes = cap ? phd_arena_alloc(a, cap * sizeof *n->knodes) : NULL;
	if ((cap && (!n->keys || !n->kids || !n->knodes)) || index_map(&bix, base) ||
	    index_map(&oix, over)) {
		n = NULL;
		goto out;
	}
	for (size_t i = 0; i < base->n; i++) {
		size_t oat = 0;
		const phd_node *o = lookup(over, &oix, base->keys[i], &oat);
		struct phd_node *v = base->kids[i];
		if (o) {
			if (o->type == PHD_NODE_NULL)
				continue; /* helm: null deletes the key */
			v = phd_doc_merge(a, base->kids[i], o);
			if (!v) {
				n = NULL;
				goto out;
			}
		}
		n->keys[k] = base->keys[i];
		n->knodes[k] = o && over->knodes ? over->knodes[oat]
			       : base->knodes ? base->knodes[i] : v;
		n->kids[k++] = v;
	}
	for (size_t i = 0; i < over->n; i++) {
		if (lookup(base, &bix, over->keys[i], NULL))
			continue;
		n->keys[k] = over->keys[i];
		n->knodes[k] = over->knodes ? over->knodes[i] : over->kids[i];
		n->kids[k++] = over->kids[i];
	}
	n->n = k;
out:
	phd_strset_free(&bix);
	phd_strset_free(&oix);
	return n;
}

/* ---- accessors: either layout ---- */
static int ntype(const phd_node *n)
{
	return is_compact(n) ? ctype(cnode(n)) : n->type;
}

const phd_node *phd_node_child(const phd_node *n, const char *key)
{
	if (!n || ntype(n) != PHD_NODE_MAP)
		return NULL;
	/* the first byte settles most misses without a call */
	if (is_compact(n)) {
		const struct phd_cnode *c = cnode(n);
		char *const *tab = slab_of(c)->tab;
		const struct cshape *sh = cshape(tab, c);
		for (size_t i = 0; sh && i < sh->n; i++)
			if (sh->keys[i][0] == key[0] && !strcmp(sh->keys[i], key))
				return (const phd_node *)(const void *)ckid(tab, c, i);
		return NULL;
	}
	for (size_t i = 0; i < n->n; i++)
		if (n->keys[i][0] == key[0] && !strcmp(n->keys[i], key))
			return n->kids[i];
	return NULL;
}

PHD_EXTERN const phd_node *phd_node_get(const phd_node *node, const char *path)
{
	char seg[256];
	const char *s = path;

	if (!node || !path)
		return NULL;
	while (*s && node) {
		size_t n = 0;
		if (*s == '[') {
			char *end;
			unsigned long idx = strtoul(s + 1, &end, 10);
			if (end == s + 1 || *end != ']' || ntype(node) != PHD_NODE_SEQ)
				return NULL;
			node = phd_node_at(node, idx);
			s = end + 1;
		} else {
			if (*s == '"') {
				s++;
				while (*s && *s != '"' && n < sizeof seg - 1)
					seg[n++] = *s++;
				if (*s != '"')
					return NULL;
				s++;
			} else {
				while (*s && *s != '.' && *s != '[' && n < sizeof seg - 1)
					seg[n++] = *s++;
				if (*s && *s != '.' && *s != '[')
					return NULL; /* a key longer than any we look up */
			}
			seg[n] = '\0';
			node = phd_node_child(node, seg);
		}
		if (*s == '.')
			s++;
	}
	return node;
}

PHD_EXTERN int phd_node_type(const phd_node *node)
{
	return node ? ntype(node) : PHD_NODE_NULL;
}

PHD_EXTERN const char *phd_node_str(const phd_node *node)
{
	if (!node || ntype(node) != PHD_NODE_SCALAR)
		return NULL;
	return is_compact(node) ? cstr(slab_of(cnode(node))->tab, cnode(node)) : node->str;
}

PHD_EXTERN int phd_node_bool(const phd_node *node, int *out)
{
	static const char *const t[] = { "true", "True", "TRUE", "yes", "Yes", "on", "On" };
	static const char *const f[] = { "false", "False", "FALSE", "no", "No", "off", "Off" };
	const char *str = phd_node_str(node);
	if (phd_node_type(node) == PHD_NODE_NULL)
		return PHD_ENOTFOUND;
	if (!str)
		return PHD_ETYPE;
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		if (!strcmp(str, t[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(str, f[i])) {
			*out = 0;
			return 0;
		}
	}
	return PHD_ETYPE;
}

PHD_EXTERN int phd_node_int(const phd_node *node, long long *out)
{
	const char *str = phd_node_str(node);
	char *end;
	long long v;
	if (phd_node_type(node) == PHD_NODE_NULL)
		return PHD_ENOTFOUND;
	if (!str || !*str)
		return PHD_ETYPE;
	errno = 0;
	v = strtoll(str, &end, 10);
	if (*end || errno == ERANGE)
		return PHD_ETYPE;
	*out = v;
	return 0;
}

PHD_EXTERN int phd_node_duration_ms(const phd_node *node, long long *out_ms)
{
	const char *s = phd_node_str(node);
	long long total = 0;
	if (phd_node_type(node) == PHD_NODE_NULL)
		return PHD_ENOTFOUND;
	if (!s || !*s)
		return PHD_ETYPE;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		long long mult;
		if (end == s || !(v >= 0)) /* also NaN */
			return PHD_ETYPE;
		s = end;
		if (!strncmp(s, "ms", 2)) {
			mult = 1;
			s += 2;
		} else if (*s == 's') {
			mult = 1000;
			s++;
		} else if (*s == 'm') {
			mult = 60000;
			s++;
		} else if (*s == 'h') {
			mult = 3600000;
			s++;
		} else if (*s == '\0' && s == end && total == 0) {
			mult = 1000; /* bare number: seconds */
		} else {
			return PHD_ETYPE;
		}
		if (v * (double)mult > 1e15)
			return PHD_ETYPE;
		total += (long long)(v * (double)mult);
	}
	*out_ms = total;
	return 0;
}

PHD_EXTERN size_t phd_node_len(const phd_node *node)
{
	int t = node ? ntype(node) : PHD_NODE_NULL;
	if (t != PHD_NODE_SEQ && t != PHD_NODE_MAP)
		return 0;
	return is_compact(node) ? clen(slab_of(cnode(node))->tab, cnode(node)) : node->n;
}

PHD_EXTERN const phd_node *phd_node_at(const phd_node *node, size_t i)
{
	if (i >= phd_node_len(node))
		return NULL;
	return is_compact(node)
	       ? (const phd_node *)(const void *)ckid(slab_of(cnode(node))->tab, cnode(node), i)
	       : node->kids[i];
}

PHD_EXTERN const char *phd_node_key_at(const phd_node *node, size_t i)
{
	if (phd_node_type(node) != PHD_NODE_MAP || i >= phd_node_len(node))
		return NULL;
	return is_compact(node) ? cshape(slab_of(cnode(node))->tab, cnode(node))->keys[i]
				: node->keys[i];
}

PHD_EXTERN const char *phd_node_file(const phd_node *node)
{
	if (!node)
		return NULL;
	return is_compact(node) ? cfile(cnode(node)) : node->file;
}

PHD_EXTERN unsigned phd_node_line(const phd_node *node)
{
	if (!node)
		return 0;
	return is_compact(node) ? cnode(node)->line : node->line;
}

PHD_EXTERN unsigned phd_node_column(const phd_node *node)
{
	if (!node)
		return 0;
	return is_compact(node) ? ccol(NULL, cnode(node)) : node->col;
}

char *phd_node_pos(const phd_node *n)
{
	const char *file = phd_node_file(n);
	if (!n)
		return strdup("(unknown position)");
	return phd_asprintf("%s:%u:%u", file ? file : "?", phd_node_line(n), phd_node_column(n));
}

int phd_node_truthy(const phd_node *n, int dflt)
{
	int v;
	return phd_node_bool(n, &v) == 0 ? v : dflt;
}
