/* A small bounded XML reader for the answers of the AWS query protocol
 * (RDS, ElastiCache, EC2): elements and text only, the five predefined
 * entities, character references and CDATA sections; attributes, comments
 * and processing instructions are skipped.  No DTD (no entity expansion),
 * depth, element count and text size capped, never a read past the n bytes
 * given: a hostile answer cannot blow up. */
#include "aws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XML_MAX_DEPTH 64
#define XML_MAX_NODES 200000

struct parser {
	const char *start, *p, *end;
	size_t nodes;
	char *err;
	size_t errlen;
};

/* The first occurrence of the NUL-free needle in [p, end), or NULL. */
static const char *find(const char *p, const char *end, const char *needle)
{
	return p < end ? memmem(p, (size_t)(end - p), needle, strlen(needle)) : NULL;
}

static int fail(struct parser *ps, const char *what)
{
	snprintf(ps->err, ps->errlen, "%s at byte %zu", what, (size_t)(ps->p - ps->start));
	return -1;
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':';
}

/* Text with entities decoded, appended to b. */
static int add_text(struct parser *ps, struct sc_buf *b, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *amp = memchr(s + i, '&', n - i);
		size_t run = amp ? (size_t)(amp - (s + i)) : n - i;
		static const struct { const char *e; char c; } ents[] = {
			{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' },
			{ "apos;", '\'' }
		};
		size_t k;

		if (sc_buf_add(b, s + i, run))
			return fail(ps, "answer too large");
		i += run;
		if (!amp)
			break;
		i++;
		for (k = 0; k < 5; k++) {
			size_t el = strlen(ents[k].e);

			if (n - i >= el && !memcmp(s + i, ents[k].e, el)) {
				if (sc_buf_add(b, &ents[k].c, 1))
					return fail(ps, "answer too large");
				i += el;
				break;
			}
		}
		if (k < 5)
			continue;
		if (i < n && s[i] == '#') {
			unsigned long v;
			char *e, tmp[16];
			size_t tl = 0;

			while (i + 1 + tl < n && tl < sizeof tmp - 1 && s[i + 1 + tl] != ';') {
				tmp[tl] = s[i + 1 + tl];
				tl++;
			}
			tmp[tl] = '\0';
			v = tmp[0] == 'x' ? strtoul(tmp + 1, &e, 16) : strtoul(tmp, &e, 10);
			/* digits only (strtoul would take spaces and signs), up to ';' */
			if (i + 1 + tl >= n || s[i + 1 + tl] != ';' || *e || tl == 0 ||
			    (tmp[0] == 'x' ? tl < 2 || strspn(tmp + 1, "0123456789abcdefABCDEF") != tl - 1
					   : strspn(tmp, "0123456789") != tl) ||
			    v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
				return fail(ps, "bad character reference");
			{
				char u[4];
				size_t ul;

				if (v < 0x80) { u[0] = (char)v; ul = 1; }
				else if (v < 0x800) { u[0] = (char)(0xC0 | (v >> 6)); u[1] = (char)(0x80 | (v & 63)); ul = 2; }
				else if (v < 0x10000) { u[0] = (char)(0xE0 | (v >> 12)); u[1] = (char)(0x80 | ((v >> 6) & 63)); u[2] = (char)(0x80 | (v & 63)); ul = 3; }
				else { u[0] = (char)(0xF0 | (v >> 18)); u[1] = (char)(0x80 | ((v >> 12) & 63)); u[2] = (char)(0x80 | ((v >> 6) & 63)); u[3] = (char)(0x80 | (v & 63)); ul = 4; }
				if (sc_buf_add(b, u, ul))
					return fail(ps, "answer too large");
			}
			i += tl + 2;
			continue;
		}
		return fail(ps, "unknown entity");
	}
	return 0;
}

/* Skip <?...?>, <!--...-->, <!DOCTYPE> (refused: no DTDs) */
static int skip_misc(struct parser *ps)
{
	for (;;) {
		while (ps->p < ps->end && strchr(" \t\r\n", *ps->p))
			ps->p++;
		if (ps->end - ps->p >= 2 && !memcmp(ps->p, "<?", 2)) {
			const char *e = find(ps->p + 2, ps->end, "?>");

			if (!e)
				return fail(ps, "unterminated processing instruction");
			ps->p = e + 2;
		} else if (ps->end - ps->p >= 4 && !memcmp(ps->p, "<!--", 4)) {
			const char *e = find(ps->p + 4, ps->end, "-->");

			if (!e)
				return fail(ps, "unterminated comment");
			ps->p = e + 3;
		} else if (ps->end - ps->p >= 2 && !memcmp(ps->p, "<!", 2)) {
			return fail(ps, "DTD not accepted");
		} else {
			return 0;
		}
	}
}

static struct aws_xml *element(struct parser *ps, int depth)
{
	struct aws_xml *n, **tail;
	struct sc_buf text = { 0 };
	const char *s;

	if (depth > XML_MAX_DEPTH) {
		fail(ps, "nesting too deep");
		return NULL;
	}
	if (++ps->nodes > XML_MAX_NODES) {
		fail(ps, "too many elements");
		return NULL;
	}
	if (ps->p >= ps->end || *ps->p != '<') {
		fail(ps, "expected an element");
		return NULL;
	}
	s = ++ps->p;
	while (ps->p < ps->end && name_char(*ps->p))
		ps->p++;
	if (ps->p == s) {
		fail(ps, "element without a name");
		return NULL;
	}
	if (!(n = calloc(1, sizeof *n)) || !(n->name = strndup(s, (size_t)(ps->p - s)))) {
		free(n);
		fail(ps, "out of memory");
		return NULL;
	}
	/* attributes: skipped, quoted values may hold '>' */
	while (ps->p < ps->end && *ps->p != '>' && *ps->p != '/') {
		if (*ps->p == '"' || *ps->p == '\'') {
			const char *q = memchr(ps->p + 1, *ps->p, (size_t)(ps->end - ps->p - 1));

			if (!q)
				break;
			ps->p = q;
		}
		ps->p++;
	}
	if (ps->p >= ps->end)
		goto bad_eof;
	if (*ps->p == '/') {
		if (ps->p + 1 >= ps->end || ps->p[1] != '>')
			goto bad_tag;
		ps->p += 2;
		n->text = strdup("");
		return n->text ? n : (aws_xml_free(n), NULL);
	}
	ps->p++;
	tail = &n->child;
	for (;;) {
		const char *lt = memchr(ps->p, '<', (size_t)(ps->end - ps->p));

		if (!lt)
			goto bad_eof;
		if (add_text(ps, &text, ps->p, (size_t)(lt - ps->p)))
			goto out;
		ps->p = lt;
		if (ps->end - ps->p >= 2 && ps->p[1] == '/') {
			size_t nl = strlen(n->name);

			if ((size_t)(ps->end - ps->p) < nl + 3 || memcmp(ps->p + 2, n->name, nl) ||
			    ps->p[2 + nl] != '>') {
				fail(ps, "mismatched closing tag");
				goto out;
			}
			ps->p += nl + 3;
			break;
		}
		if (ps->end - ps->p >= 9 && !memcmp(ps->p, "<![CDATA[", 9)) {
			/* its text as written: no entities, no markup */
			const char *e = find(ps->p + 9, ps->end, "]]>");

			if (!e) {
				fail(ps, "unterminated CDATA section");
				goto out;
			}
			if (sc_buf_add(&text, ps->p + 9, (size_t)(e - ps->p - 9))) {
				fail(ps, "answer too large");
				goto out;
			}
			ps->p = e + 3;
			continue;
		}
		if (ps->end - ps->p >= 2 && (ps->p[1] == '?' || ps->p[1] == '!')) {
			if (skip_misc(ps))
				goto out;
			continue;
		}
		if (!(*tail = element(ps, depth + 1)))
			goto out;
		tail = &(*tail)->next;
	}
	if (sc_buf_terminate(&text) || !(n->text = strdup(text.p ? (char *)text.p : ""))) {
		fail(ps, "out of memory");
		goto out;
	}
	sc_buf_wipe(&text);
	return n;
bad_tag:
	fail(ps, "malformed tag");
	goto out;
bad_eof:
	fail(ps, "the document ends inside an element");
out:
	sc_buf_wipe(&text);
	aws_xml_free(n);
	return NULL;
}

struct aws_xml *aws_xml_parse(const char *s, size_t n, char *err, size_t errlen)
{
	struct parser ps = { s, s, s + n, 0, err, errlen };
	struct aws_xml *root;

	if (skip_misc(&ps))
		return NULL;
	if (!(root = element(&ps, 0)))
		return NULL;
	if (skip_misc(&ps) || ps.p != ps.end) {
		if (ps.p != ps.end)
			fail(&ps, "text after the document element");
		aws_xml_free(root);
		return NULL;
	}
	return root;
}

void aws_xml_free(struct aws_xml *n)
{
	while (n) {
		struct aws_xml *next = n->next;

		aws_xml_free(n->child);
		free(n->name);
		free(n->text);
		free(n);
		n = next;
	}
}

const struct aws_xml *aws_xml_get(const struct aws_xml *n, const char *path)
{
	while (n && path && *path) {
		size_t l = strcspn(path, "/");
		const struct aws_xml *c;

		for (c = n->child; c; c = c->next)
			if (strlen(c->name) == l && !memcmp(c->name, path, l))
				break;
		n = c;
		path += l;
		if (*path == '/')
			path++;
	}
	return n;
}

const char *aws_xml_text(const struct aws_xml *n, const char *path)
{
	n = aws_xml_get(n, path);
	return n && n->text && *n->text ? n->text : NULL;
}
