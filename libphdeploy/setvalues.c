/* --set, --set-string and --set-file as values trees, so the rules see
 * what helm will get.  The syntax is helm's: "a.b=v,c[1]=w,d={x,y}", with
 * '\' escaping ',', '.', '=', '[' and '{'.  --set types the value as helm
 * does (true/false, integers, null), --set-string never, --set-file reads
 * the value from a file.  Every node is positioned at the option itself
 * ("--set a.b=v", line 0): a finding names the argument to change. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

struct setp {
	phd_ctx *ctx;
	struct phd_arena *a;
	int kind;
	const char *origin;  /* "--set a=b": the position of every node */
	const char *s;       /* the argument, walked */
};

static struct phd_node *node(struct setp *p, int type)
{
	struct phd_node *n = phd_arena_alloc(p->a, sizeof *n);
	if (n) {
		memset(n, 0, sizeof *n);
		n->type = type;
		n->file = p->origin;
		n->weight = 1;
	}
	return n;
}

static int bad(struct setp *p, const char *what)
{
	return phd_set_error(p->ctx, PHD_EINVAL, "%s: %s", p->origin, what);
}

/* The text up to an unescaped stop character, unescaped; NULL on OOM. */
static char *token(struct setp *p, const char *stops)
{
	struct phd_buf b = { 0 };
	char *out;

	for (; *p->s && !strchr(stops, *p->s); p->s++) {
		if (*p->s == '\\' && p->s[1])
			p->s++;
		if (phd_buf_add(&b, p->s, 1))
			goto oom;
	}
	if (phd_buf_add(&b, "", 1))
		goto oom;
	out = strdup(b.s);
	phd_buf_free(&b);
	return out;
oom:
	phd_buf_free(&b);
	return NULL;
}

static int is_int(const char *v)
{
	const char *d = v + (*v == '-');
	if (!*d || (*d == '0' && d[1]))
		return 0;
	return strspn(d, "0123456789") == strlen(d);
}

/* One scalar value of the kind's type. */
static int scalar(struct setp *p, const char *text, struct phd_node **out)
{
	char *buf = NULL;
	size_t len;
	int rc;

	if (p->kind == PHD_VALUES_SET && !strcmp(text, "null"))
		return (*out = node(p, PHD_NODE_NULL)) ? 0 : PHD_ENOMEM;
	if (!(*out = node(p, PHD_NODE_SCALAR)))
		return PHD_ENOMEM;
	if (p->kind == PHD_VALUES_SET_FILE) {
		rc = phd_read_file(text, PHD_MAX_CONFIG_BYTES, &buf, &len);
		if (rc == PHD_ETOOBIG)
			return bad(p, "the file is larger than 16 MiB");
		if (rc)
			return phd_set_error(p->ctx, rc, "%s: cannot read %s: %s", p->origin, text,
					     rc == PHD_ENOTFOUND ? "no such file" : strerror(errno));
		if (memchr(buf, '\0', len)) {
			free(buf);
			return bad(p, "the file holds a NUL byte: not text");
		}
		(*out)->str = phd_arena_strdup(p->a, buf);
		free(buf);
	} else {
		(*out)->str = phd_arena_strdup(p->a, text);
		(*out)->plain = p->kind == PHD_VALUES_SET &&
				(!strcmp(text, "true") || !strcmp(text, "false") || is_int(text));
	}
	return (*out)->str ? 0 : PHD_ENOMEM;
}

/* The value after '=': a scalar, or {a,b} as a list. */
static int value(struct setp *p, struct phd_node **out)
{
	struct phd_node *items[256];
	size_t n = 0;
	char *t;
	int rc;

	if (*p->s != '{' || p->kind == PHD_VALUES_SET_FILE) {
		if (!(t = token(p, ",")))
			return PHD_ENOMEM;
		rc = scalar(p, t, out);
		free(t);
		return rc;
	}
	p->s++;
	while (*p->s != '}') {
		if (!*p->s)
			return bad(p, "a list '{' without its '}'");
		if (n == sizeof items / sizeof items[0])
			return bad(p, "more than 256 list items");
		if (!(t = token(p, ",}")))
			return PHD_ENOMEM;
		rc = scalar(p, t, &items[n++]);
		free(t);
		if (rc)
			return rc;
		if (*p->s == ',')
			p->s++;
	}
	p->s++;
	if (!(*out = node(p, PHD_NODE_SEQ)))
		return PHD_ENOMEM;
	(*out)->n = n;
	if (n && !((*out)->kids = phd_arena_alloc(p->a, n * sizeof *items)))
		return PHD_ENOMEM;
	if (n)
		memcpy((*out)->kids, items, n * sizeof *items);
	(*out)->weight = n + 1;
	return 0;
}

/* Wrap leaf under key: "name" or "name[i][j]". */
static int wrap(struct setp *p, char *key, struct phd_node **leaf)
{
	char *br = strchr(key, '[');

	while (br) { /* innermost index last: wrap from the right */
		char *last = strrchr(key, '['), *end;
		long i = strtol(last + 1, &end, 10);
		struct phd_node *seq;
		if (end == last + 1 || *end != ']' || end[1] || i < 0 || i > 65535)
			return bad(p, "an index must be [0] to [65535]");
		if (!(seq = node(p, PHD_NODE_SEQ)) ||
		    !(seq->kids = phd_arena_alloc(p->a, (size_t)(i + 1) * sizeof *seq->kids)))
			return PHD_ENOMEM;
		for (long k = 0; k < i; k++)
			if (!(seq->kids[k] = node(p, PHD_NODE_NULL)))
				return PHD_ENOMEM;
		seq->kids[i] = *leaf;
		seq->n = (size_t)i + 1;
		seq->weight = (*leaf)->weight + seq->n;
		*leaf = seq;
		*last = '\0';
		br = last == br ? NULL : br;
	}
	if (!*key)
		return bad(p, "an empty key");
	{
		struct phd_node *map = node(p, PHD_NODE_MAP);
		if (!map || !(map->keys = phd_arena_alloc(p->a, sizeof *map->keys)) ||
		    !(map->kids = phd_arena_alloc(p->a, sizeof *map->kids)) ||
		    !(map->knodes = phd_arena_alloc(p->a, sizeof *map->knodes)) ||
		    !(map->knodes[0] = node(p, PHD_NODE_SCALAR)) ||
		    !(map->keys[0] = map->knodes[0]->str = phd_arena_strdup(p->a, key)))
			return PHD_ENOMEM;
		map->n = 1;
		map->kids[0] = *leaf;
		map->weight = (*leaf)->weight + 1;
		*leaf = map;
	}
	return 0;
}

/* One "a.b[0].c=v": the chain of maps down to the value. */
static int assignment(struct setp *p, struct phd_node **out)
{
	char *parts[64];
	size_t n = 0;
	int rc = 0;

	for (;;) {
		if (n == sizeof parts / sizeof parts[0]) {
			rc = bad(p, "a key deeper than 64 levels");
			goto done;
		}
		if (!(parts[n++] = token(p, ".=,"))) {
			rc = PHD_ENOMEM;
			goto done;
		}
		if (*p->s != '.')
			break;
		p->s++;
	}
	if (*p->s != '=') {
		rc = bad(p, "a key without '=value'");
		goto done;
	}
	p->s++;
	if ((rc = value(p, out)) != 0)
		goto done;
	for (size_t i = n; i-- > 0 && !rc;)
		rc = wrap(p, parts[i], out);
done:
	for (size_t i = 0; i < n; i++)
		free(parts[i]);
	return rc;
}

int phd_setvalues_parse(phd_ctx *ctx, struct phd_arena *a, int kind, const char *arg,
			const char **out_origin, const phd_node **out)
{
	static const char *const flag[] = { "-f", "--set", "--set-string", "--set-file" };
	struct setp p = { ctx, a, kind, NULL, arg };
	struct phd_node *acc = NULL, *one;
	size_t olen = strlen(arg) + 16;
	char *origin = phd_arena_alloc(a, olen);
	int rc;

	if (!origin)
		return PHD_ENOMEM;
	snprintf(origin, olen, "%s %s", flag[kind], arg);
	p.origin = *out_origin = origin;
	while (*p.s) {
		if ((rc = assignment(&p, &one)) != 0)
			return rc;
		if (!(acc = acc ? phd_doc_merge(a, acc, one) : one))
			return PHD_ENOMEM;
		if (*p.s == ',')
			p.s++;
		else if (*p.s)
			return bad(&p, "expected ',' after a value");
	}
	if (!acc)
		return bad(&p, "nothing to set");
	*out = acc;
	return 0;
}
