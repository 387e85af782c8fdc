/* index.yaml without libyaml, for the block style helm writes (Go's YAML
 * encoder: two-space indents, sequences at their key's indent, one-line
 * scalars, block scalars for long text).  libyaml's event parser spends
 * ~50 ms on the real 2.5 MB index; this reads it line by line in a few.
 *
 * It accepts a file only when every line is in that subset, where the
 * structure follows from the indentation alone: anything else (flow
 * collections, anchors, tags, multi-line or escaped quoted scalars, tabs,
 * document markers, a line it cannot place) makes it answer HELM_FAST_NO,
 * and the caller parses with libyaml, which also words the errors.  So
 * what it accepts is read the same as libyaml reads it; tests/plugins/
 * helm-t compares both on the real index. */
#include <stdlib.h>
#include <string.h>

#include "helm-private.h"

#define FAST_MAX_DEPTH 64

struct level {
	int indent;
	int seq;          /* 1: block sequence, 0: mapping */
	int role;         /* what this collection is, below */
};
enum { R_OTHER, R_ROOT, R_ENTRIES, R_VERSIONS, R_ENTRY, R_URLS };

struct fast {
	const char *p, *end;
	struct level st[FAST_MAX_DEPTH];
	int depth;
	struct helm_index *idx;
	const char *chart;
	struct helm_index_entry cur;   /* the entry being read */
	int in_entry, seen_entries;
	/* a key whose value is on the following lines */
	int pending, pending_indent, pending_role;
	/* the first url of the current entry was taken */
	int url_taken;
};

/* Plain scalars helm writes for these fields: no indicator first, no
 * ": " or " #" inside, no trailing ':'.  *out gets the text without
 * trailing blanks (or an empty string). */
static int plain_ok(const char *s, size_t n)
{
	if (!n)
		return 1;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':' && (i + 1 == n || s[i + 1] == ' '))
			return 0;
		if (s[i] == '#' && i && s[i - 1] == ' ')
			return 0;
		if (s[i] == '\t' || (unsigned char)s[i] < 0x20)
			return 0;
	}
	return 1;
}

/* A value after "key: " up to the line end e: the scalar's text in
 * [*vs, *ve), or *block = 1 for a block scalar header.  0 when it is not in
 * the subset. */
/* A YAML escape at c (after the backslash) that libyaml accepts; its length
 * after the backslash, 0 when it is not one. */
static int escape_len(const char *c, const char *e)
{
	int hex;

	if (c >= e)
		return 0;   /* a backslash that ends the line */
	hex = *c == 'x' ? 2 : *c == 'u' ? 4 : *c == 'U' ? 8 : 0;
	if (!hex)
		return strchr("0abtnvfre \"/\\N_LP", *c) && *c ? 1 : 0;
	if (e - c <= hex)
		return 0;
	unsigned long cp = 0;
	for (int i = 1; i <= hex; i++) {
		if (!c[i] || !strchr("0123456789abcdefABCDEF", c[i]))
			return 0;
		cp = cp * 16 + (unsigned long)(c[i] <= '9' ? c[i] - '0' : (c[i] | 0x20) - 'a' + 10);
	}
	/* libyaml refuses surrogates and what is past Unicode */
	if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return hex + 1;
}

/* *escaped: a double-quoted value holds escapes (only its raw text is at
 * hand: the fields kept must have none). */
static int value(const char *s, const char *e, const char **vs, const char **ve, int *block,
		 int *escaped)
{
	*block = 0;
	*escaped = 0;
	while (e > s && e[-1] == ' ')
		e--;
	if (s == e) {
		*vs = *ve = s;
		return 1;
	}
	if (*s == '|' || *s == '>') {
		/* "|", "|-", "|+" and the same with '>': no indentation digit */
		if (e - s > 2 || (e - s == 2 && s[1] != '-' && s[1] != '+'))
			return 0;
		*block = 1;
		return 1;
	}
	if (*s == '"' || *s == '\'') {
		char q = *s;
		const char *c = s + 1;
		for (; c < e; c++) {
			if (*c == '\\' && q == '"') {
				int n = escape_len(c + 1, e);
				if (!n)
					return 0;
				*escaped = 1;
				c += n;
				continue;
			}
			if (*c == q) {
				if (q == '\'' && c + 1 < e && c[1] == '\'')
					return 0;   /* '' inside: leave it to libyaml */
				break;
			}
		}
		if (c >= e || c + 1 != e)
			return 0;   /* not closed on this line, or text after it */
		*vs = s + 1;
		*ve = c;
		return 1;
	}
	if (!plain_ok(s, (size_t)(e - s)))
		return 0;
	*vs = s;
	*ve = e;
	return 1;
}

static char *dup_range(const char *s, const char *e)
{
	char *o = malloc((size_t)(e - s) + 1);

	if (o) {
		memcpy(o, s, (size_t)(e - s));
		o[e - s] = '\0';
	}
	return o;
}

/* The entry being read is complete: keep it as the libyaml path does. */
static int entry_end(struct fast *f)
{
	struct helm_index *idx = f->idx;

	if (!f->in_entry)
		return 0;
	f->in_entry = 0;
	f->url_taken = 0;
	if (!f->cur.version || semver_parse(&f->cur.sv, f->cur.version)) {
		idx->skipped++;
		helm_index_entry_clear(&f->cur);
		return 0;
	}
	switch (helm_index_add(idx, &f->cur)) {
	case 0:
		return 0;
	case PHD_ENOMEM:
		return PHD_ENOMEM;
	default:
		return -1;   /* too many: libyaml says so, with a position */
	}
}

/* Close collections deeper than indent (or, for a sequence item at that
 * indent, keep the sequence).  Returns 0 or -1 (not in the subset). */
static int pop_to(struct fast *f, int indent, int item)
{
	while (f->depth > 0) {
		struct level *t = &f->st[f->depth - 1];
		if (t->indent < indent || (t->indent == indent && (t->seq == item)))
			break;
		if (t->role == R_ENTRY && entry_end(f))
			return -1;
		f->depth--;
	}
	if (!f->depth)
		return -1;
	return f->st[f->depth - 1].indent == indent &&
	       f->st[f->depth - 1].seq == item ? 0 : -1;
}

static int push(struct fast *f, int indent, int seq, int role)
{
	if (f->depth >= FAST_MAX_DEPTH)
		return -1;
	f->st[f->depth].indent = indent;
	f->st[f->depth].seq = seq;
	f->st[f->depth].role = role;
	f->depth++;
	if (role == R_ENTRY) {
		f->in_entry = 1;
		f->url_taken = 0;
	}
	return 0;
}

/* Role of a mapping or sequence opened under a key of a collection with
 * role parent. */
static int child_role(struct fast *f, int parent, const char *k, size_t kl)
{
	if (parent == R_ROOT && kl == 7 && !memcmp(k, "entries", 7)) {
		f->seen_entries = 1;
		return R_ENTRIES;
	}
	if (parent == R_ENTRIES && kl == strlen(f->chart) && !memcmp(k, f->chart, kl))
		return R_VERSIONS;
	if (parent == R_ENTRY && kl == 4 && !memcmp(k, "urls", 4))
		return R_URLS;
	return R_OTHER;
}

static int is_field(const char *k, size_t kl)
{
	return (kl == 7 && (!memcmp(k, "version", 7) || !memcmp(k, "created", 7))) ||
	       (kl == 6 && !memcmp(k, "digest", 6)) || (kl == 10 && !memcmp(k, "appVersion", 10)) ||
	       (kl == 4 && !memcmp(k, "urls", 4));
}

/* key: value of an entry, the value a scalar on this line. */
static int field(struct fast *f, const char *k, size_t kl, const char *vs, const char *ve)
{
	char **slot;

	if (kl == 7 && !memcmp(k, "version", 7))
		slot = &f->cur.version;
	else if (kl == 6 && !memcmp(k, "digest", 6))
		slot = &f->cur.digest;
	else if (kl == 10 && !memcmp(k, "appVersion", 10))
		slot = &f->cur.app_version;
	else if (kl == 7 && !memcmp(k, "created", 7))
		slot = &f->cur.created;
	else
		return -1;   /* urls: as a scalar: libyaml's error */
	free(*slot);
	return (*slot = dup_range(vs, ve)) ? 0 : PHD_ENOMEM;
}

/* Skips a block scalar's lines: blank, or at least as indented as its
 * first line, which is deeper than parent.  -1 for a line in between
 * (libyaml's error). */
static int skip_block(struct fast *f, int parent)
{
	int content = -1;

	while (f->p < f->end) {
		const char *l = f->p, *nl = memchr(l, '\n', (size_t)(f->end - l));
		const char *e = nl ? nl : f->end;
		int ind = 0;
		while (l + ind < e && l[ind] == ' ')
			ind++;
		if (l + ind < e) {
			if (ind <= parent)
				return 0;
			if (content < 0)
				content = ind;
			else if (ind < content)
				return -1;
		}
		f->p = nl ? nl + 1 : f->end;
	}
	return 0;
}

/* One "key: value" (after any "- ") at column ind of the current mapping. */
static int key_line(struct fast *f, const char *s, const char *e, int ind)
{
	const char *colon, *rest, *vs, *ve;
	int block, esc, role = f->st[f->depth - 1].role;
	size_t kl;

	for (colon = s; colon < e && *colon != ':'; colon++)
		if (*colon == ' ' || *colon == '"' || *colon == '\'' || *colon == '#')
			return -1;
	if (colon == s || colon >= e || (colon + 1 < e && colon[1] != ' '))
		return -1;
	kl = (size_t)(colon - s);
	if (!plain_ok(s, kl))
		return -1;
	for (rest = colon + 1; rest < e && *rest == ' '; rest++)
		;
	if (rest == e) {
		/* nothing after "key:": a collection follows, or it is null */
		if (role == R_ENTRIES)
			f->idx->charts++;
		f->pending = 1;
		f->pending_indent = ind;
		f->pending_role = child_role(f, role, s, kl);
		/* a field with no scalar: libyaml's error or its empty string */
		return role == R_ENTRY && f->pending_role != R_URLS && is_field(s, kl) ? -1 : 0;
	}
	if (e - rest >= 2 && (!memcmp(rest, "[]", 2) || !memcmp(rest, "{}", 2))) {
		/* an empty collection (urls: [] keeps no URL); more is flow style */
		const char *t = rest + 2;
		while (t < e && *t == ' ')
			t++;
		if (t != e || role == R_ROOT || role == R_ENTRIES ||
		    (role == R_ENTRY && is_field(s, kl) && (kl != 4 || *rest != '[')))
			return -1;
		return 0;
	}
	if (!value(rest, e, &vs, &ve, &block, &esc))
		return -1;
	/* a scalar where a collection belongs, a kept field as a block or
	 * with escapes: libyaml */
	if (role == R_ENTRIES || (role == R_ROOT && kl == 7 && !memcmp(s, "entries", 7)) ||
	    (role == R_ENTRY && (block || esc) && is_field(s, kl)))
		return -1;
	if (block)
		return skip_block(f, ind);
	if (*rest != '"' && *rest != '\'' && (*vs == '{' || *vs == '['))
		return -1;
	return role == R_ENTRY && is_field(s, kl) ? field(f, s, kl, vs, ve) : 0;
}

static int line(struct fast *f, const char *l, const char *e)
{
	const char *s = l, *vs, *ve;
	int ind, block, esc, role;

	while (s < e && *s == ' ')
		s++;
	if (s == e || *s == '#')
		return 0;            /* blank or comment */
	if (memchr(l, '\t', (size_t)(e - l)) || memchr(l, '\r', (size_t)(e - l)))
		return -1;
	ind = (int)(s - l);
	if (ind == 0 && (e - s >= 3) && (!memcmp(s, "---", 3) || !memcmp(s, "...", 3)))
		return -1;
	if (*s == '-' && (s + 1 == e || s[1] == ' ')) {
		/* a sequence item: a new sequence under a pending key (at its
		 * column or deeper), or the next item of the current one */
		if (f->pending && ind >= f->pending_indent) {
			if (f->pending_role == R_ENTRIES || push(f, ind, 1, f->pending_role))
				return -1;
			f->pending = 0;
		} else if ((f->pending && f->pending_role != R_OTHER) ||
			   (f->pending = 0, pop_to(f, ind, 1))) {
			return -1;
		}
		for (s++; s < e && *s == ' '; s++)
			;
		if (s == e || (*s == '-' && (s + 1 == e || s[1] == ' ')))
			return -1;   /* "-" alone or "- - x": nested block items */
		role = f->st[f->depth - 1].role;
		{
			const char *c = s;
			while (c < e && *c != ':' && *c != ' ' && *c != '"' && *c != '\'')
				c++;
			if (c < e && *c == ':' && (c + 1 == e || c[1] == ' ')) {
				/* "- key: value": a mapping item at the key's column */
				if (role == R_URLS || push(f, (int)(s - l), 0,
							  role == R_VERSIONS ? R_ENTRY : R_OTHER))
					return -1;
				return key_line(f, s, e, (int)(s - l));
			}
		}
		if (role == R_VERSIONS || !value(s, e, &vs, &ve, &block, &esc) ||
		    ((block || esc) && role == R_URLS))
			return -1;   /* a version that is no mapping: libyaml's error */
		if (block)
			return skip_block(f, ind);
		if (*s != '"' && *s != '\'' && (*vs == '{' || *vs == '['))
			return -1;
		if (role == R_URLS && !f->url_taken) {
			f->url_taken = 1;
			free(f->cur.url);
			return (f->cur.url = dup_range(vs, ve)) ? 0 : PHD_ENOMEM;
		}
		return 0;
	}
	if (f->pending && ind > f->pending_indent) {
		/* a mapping under the pending key */
		if (f->pending_role == R_URLS || f->pending_role == R_VERSIONS ||
		    push(f, ind, 0, f->pending_role))
			return -1;   /* urls / versions as a mapping: libyaml's error */
		f->pending = 0;
	} else {
		/* "key:" then a line back out: that key was null */
		if (f->pending && f->pending_role != R_OTHER)
			return -1;
		f->pending = 0;
		if (pop_to(f, ind, 0))
			return -1;
	}
	return key_line(f, s, e, ind);
}

int helm_index_parse_fast(struct helm_index *idx, const char *buf, size_t len,
			  const char *chart)
{
	struct fast f = { .p = buf, .end = buf + len, .idx = idx, .chart = chart };
	int rc = 0;

	memset(idx, 0, sizeof(*idx));
	/* printable ASCII and newlines only: no encoding to check, no tabs or
	 * carriage returns, no control characters libyaml would refuse */
	for (size_t i = 0; i < len; i++)
		if ((buf[i] < 0x20 || buf[i] > 0x7e) && buf[i] != '\n')
			return HELM_FAST_NO;
	if (!len)
		return HELM_FAST_NO;
	if (push(&f, 0, 0, R_ROOT))
		return HELM_FAST_NO;
	while (f.p < f.end && rc == 0) {
		const char *nl = memchr(f.p, '\n', (size_t)(f.end - f.p));
		const char *l = f.p, *e = nl ? nl : f.end;
		f.p = nl ? nl + 1 : f.end;
		rc = line(&f, l, e);
	}
	/* the root mapping must start at column 0 and a pending key is a null */
	while (rc == 0 && f.depth > 0) {
		if (f.st[f.depth - 1].role == R_ENTRY && (rc = entry_end(&f)))
			break;
		f.depth--;
	}
	if (rc == 0 && (!f.seen_entries || (f.pending && f.pending_role != R_OTHER)))
		rc = -1;
	helm_index_entry_clear(&f.cur);
	if (rc) {
		helm_index_free(idx);
		return rc == PHD_ENOMEM ? PHD_ENOMEM : HELM_FAST_NO;
	}
	helm_index_sort(idx);
	return 0;
}
