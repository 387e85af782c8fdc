/* Objects compared the way an operator reads a change: manifests (YAML
 * streams) as JSON, a live object cut down to the fields the manifest
 * sets, checksum annotations set apart, and a unified diff of two texts. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "kube.h"
#include "objdiff.h"
#include "predict.h"

/* ---- YAML to JSON ------------------------------------------------------ */

/* A plain scalar typed as YAML 1.1's core schema would (what helm's
 * manifests and `kubectl -o json` agree on); a quoted one is a string. */
static json_t *scalar_json(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;
	char *end;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(s, n->data.scalar.length);
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null"))
		return json_null();
	if (!strcmp(s, "true") || !strcmp(s, "True"))
		return json_true();
	if (!strcmp(s, "false") || !strcmp(s, "False"))
		return json_false();
	if ((isdigit((unsigned char)*s) || (*s == '-' && isdigit((unsigned char)s[1])))) {
		long long v = strtoll(s, &end, 10);
		if (!*end)
			return json_integer(v);
		double d = strtod(s, &end);
		if (!*end && strspn(s, "-0123456789.eE+") == strlen(s))
			return json_real(d);
	}
	return json_stringn(s, n->data.scalar.length);
}

static json_t *node_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
	json_t *j;

	if (!n || depth > 64)
		return NULL;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return scalar_json(n);
	case YAML_SEQUENCE_NODE:
		j = json_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     j && it < n->data.sequence.items.top; it++) {
			json_t *v = node_json(doc, yaml_document_get_node(doc, *it), depth + 1);
			if (!v || json_array_append_new(j, v)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	case YAML_MAPPING_NODE:
		j = json_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     j && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_t *v;
			if (!k || k->type != YAML_SCALAR_NODE)
				continue;
			v = node_json(doc, yaml_document_get_node(doc, p->value), depth + 1);
			if (!v || json_object_set_new(j, (const char *)k->data.scalar.value, v)) {
				json_decref(j);
				return NULL;
			}
		}
		return j;
	default:
		return NULL;
	}
}

json_t *kube_yaml_objects(const char *text, size_t len, char *err, size_t errcap)
{
	yaml_parser_t parser;
	json_t *out = json_array();

	if (!out || !yaml_parser_initialize(&parser)) {
		snprintf(err, errcap, "out of memory");
		json_decref(out);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		yaml_document_t doc;
		yaml_node_t *root;
		json_t *o;

		if (!yaml_parser_load(&parser, &doc)) {
			snprintf(err, errcap, "line %zu: %s", parser.problem_mark.line + 1,
				 parser.problem ? parser.problem : "bad YAML");
			json_decref(out);
			out = NULL;
			break;
		}
		root = yaml_document_get_root_node(&doc);
		if (!root) {
			yaml_document_delete(&doc);
			break;  /* end of the stream */
		}
		o = node_json(&doc, root, 0);
		yaml_document_delete(&doc);
		/* `kind: List` (kubectl's and some charts') holds the objects */
		if (json_is_object(o) && json_is_array(json_object_get(o, "items")) &&
		    !strcmp(kube_jstr(o, "kind"), "List"))
			json_array_extend(out, json_object_get(o, "items"));
		else if (json_is_object(o) && *kube_jstr(o, "kind"))
			json_array_append(out, o);
		json_decref(o);
	}
	yaml_parser_delete(&parser);
	return out;
}

const char *kube_jstr(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

/* ---- identity ---------------------------------------------------------- */

size_t kube_volatile_name(const char *name)
{
	static const char shape[] = "-dddd-dd-dd-dd-dd-dd";
	size_t n = strlen(name), l = sizeof shape - 1;

	if (n <= l)
		return 0;
	for (size_t i = 0; i < l; i++) {
		char c = name[n - l + i];
		if (shape[i] == 'd' ? !isdigit((unsigned char)c) : c != '-')
			return 0;
	}
	return n - l;
}

char *kube_obj_key(json_t *obj, const char *release)
{
	const char *name = kube_jstr(json_object_get(obj, "metadata"), "name");
	size_t stem = kube_volatile_name(name);
	char *key = NULL;

	(void)release;
	/* the chart stamps its Jobs' names with the render time (the migrate
	 * Job RELEASE-migrate-YYYY-MM-DD-HH-MM-SS): every render names them
	 * anew, so each is matched as one object */
	if (stem && !strcmp(kube_jstr(obj, "kind"), "Job")) {
		if (asprintf(&key, "Job/%.*s-*", (int)stem, name) < 0)
			key = NULL;
	} else if (asprintf(&key, "%s/%s", kube_jstr(obj, "kind"), name) < 0) {
		key = NULL;
	}
	return key;
}

/* ---- comparing --------------------------------------------------------- */

/* A scalar's text: the manifest's `cpu: 1` and the server's "1" are one
 * value. */
static char *scalar_text(json_t *v)
{
	char *s = NULL;

	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v)) {
		if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0)
			s = NULL;
		return s;
	}
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static int scalar_same(json_t *a, json_t *b)
{
	char *x, *y;
	int same;

	if (json_equal(a, b))
		return 1;
	if (json_is_object(a) || json_is_array(a) || json_is_object(b) || json_is_array(b))
		return 0;
	x = scalar_text(a);
	y = scalar_text(b);
	same = x && y && !strcmp(x, y);
	free(x);
	free(y);
	return same;
}

/* The API server writes quantities in their canonical form: a manifest's
 * `cpu: 0.5` reads back "500m", `memory: 1024Mi` "1Gi". */
static int quantity_same(json_t *a, json_t *b)
{
	long long x, y;

	return kube_quantity_json(a, &x) == 0 && kube_quantity_json(b, &y) == 0 && x == y;
}

/* Maps whose values are quantities (a container's resources, a quota's). */
static int quantity_map(const char *key)
{
	return !strcmp(key, "requests") || !strcmp(key, "limits") || !strcmp(key, "hard");
}

static json_t *project(json_t *want, json_t *live, int quantities)
{
	if (json_is_object(want) && json_is_object(live)) {
		json_t *out = json_object(), *v;
		const char *k;
		json_object_foreach(want, k, v) {
			json_t *l = json_object_get(live, k);
			if (l)
				json_object_set_new(out, k, project(v, l, quantities || quantity_map(k)));
		}
		return out;
	}
	if (json_is_array(want) && json_is_array(live) &&
	    json_array_size(want) == json_array_size(live)) {
		json_t *out = json_array(), *v;
		size_t i;
		json_array_foreach(want, i, v)
			json_array_append_new(out, project(v, json_array_get(live, i), 0));
		return out;
	}
	/* equal scalars take the manifest's spelling: no false change */
	if (scalar_same(want, live) || (quantities && quantity_same(want, live)))
		return json_incref(want);
	return json_deep_copy(live);
}

json_t *kube_project(json_t *want, json_t *live)
{
	return project(want, live, 0);
}

int kube_same(json_t *a, json_t *b)
{
	if (!a || !b)
		return a == b;
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach(a, k, v)
			if (!kube_same(v, json_object_get(b, k)))
				return 0;
		return 1;
	}
	if (json_is_array(a) && json_is_array(b)) {
		json_t *v;
		size_t i;
		if (json_array_size(a) != json_array_size(b))
			return 0;
		json_array_foreach(a, i, v)
			if (!kube_same(v, json_array_get(b, i)))
				return 0;
		return 1;
	}
	return a && b && scalar_same(a, b);
}

static void walk(json_t *a, json_t *b, const char *prefix, kube_diff_fn fn, void *arg)
{
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;
		json_object_foreach(a, k, v) {
			char p[512];
			snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k);
			walk(v, json_object_get(b, k), p, fn, arg);
		}
		json_object_foreach(b, k, v) {
			char p[512];
			if (json_object_get(a, k))
				continue;
			snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k);
			fn(p, NULL, v, arg);
		}
		return;
	}
	/* lists of one length element by element (a container's field, not
	 * the whole container list); of two lengths, whole */
	if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
		json_t *v;
		size_t i;
		json_array_foreach(a, i, v) {
			char p[512];
			snprintf(p, sizeof p, "%s[%zu]", prefix, i);
			walk(v, json_array_get(b, i), p, fn, arg);
		}
		return;
	}
	if (!kube_same(a, b))
		fn(prefix, a, b, arg);
}

void kube_diff_walk(json_t *a, json_t *b, kube_diff_fn fn, void *arg)
{
	walk(a, b, "", fn, arg);
}

struct paths {
	FILE *f;
	int n;
};

static void add_path(const char *path, json_t *a, json_t *b, void *arg)
{
	struct paths *p = arg;

	(void)a;
	(void)b;
	if (p->n++ < 8)
		fprintf(p->f, "%s%s", p->n > 1 ? ", " : "", *path ? path : "(the object)");
}

char *kube_changed_fields(json_t *have, json_t *want)
{
	char *buf = NULL;
	size_t len = 0;
	struct paths p = { open_memstream(&buf, &len), 0 };

	if (!p.f)
		return NULL;
	kube_diff_walk(have, want, add_path, &p);
	if (p.n > 8)
		fprintf(p.f, " and %d more", p.n - 8);
	fclose(p.f);
	return buf;
}

static void take_checksums(json_t *ann, const char *where, json_t *out)
{
	const char *k;
	json_t *v;
	void *tmp;

	if (!json_is_object(ann))
		return;
	json_object_foreach_safe(ann, tmp, k, v) {
		char path[512];
		if (strncmp(k, "checksum/", 9))
			continue;
		snprintf(path, sizeof path, "%s%s", where, k);
		json_object_set(out, path, v);
		json_object_del(ann, k);
	}
}

json_t *kube_take_checksums(json_t *obj)
{
	json_t *out = json_object();
	json_t *tmpl = json_object_get(json_object_get(obj, "spec"), "template");

	take_checksums(json_object_get(json_object_get(obj, "metadata"), "annotations"), "", out);
	take_checksums(json_object_get(json_object_get(tmpl, "metadata"), "annotations"),
		       "pod template ", out);
	return out;
}

char *kube_checksum_changes(json_t *want, json_t *have)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char *k;
	json_t *v;
	int n = 0;

	if (!f)
		return NULL;
	json_object_foreach(want, k, v)
		if (!kube_same(v, json_object_get(have, k)))
			fprintf(f, "%s%s", n++ ? ", " : "", k);
	json_object_foreach(have, k, v)
		if (!json_object_get(want, k))
			fprintf(f, "%s%s", n++ ? ", " : "", k);
	fclose(f);
	if (!n) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- unified diff ------------------------------------------------------ */

struct lines {
	const char **v;
	size_t *len;
	size_t n;
};

static int split_lines(const char *s, struct lines *l)
{
	size_t cap = 1;

	for (const char *p = s; *p; p++)
		cap += *p == '\n';
	l->v = calloc(cap, sizeof *l->v);
	l->len = calloc(cap, sizeof *l->len);
	l->n = 0;
	if (!l->v || !l->len)
		return -1;
	while (*s) {
		size_t n = strcspn(s, "\n");
		l->v[l->n] = s;
		l->len[l->n++] = n;
		s += n + (s[n] == '\n');
	}
	return 0;
}

static int line_eq(const struct lines *a, size_t i, const struct lines *b, size_t j)
{
	return a->len[i] == b->len[j] && !memcmp(a->v[i], b->v[j], a->len[i]);
}

/* Objects are a few hundred lines: the LCS table stays small; past the
 * cap the whole texts are shown as replaced. */
#define UDIFF_MAX_CELLS 16000000u
#define UDIFF_CONTEXT 3

char *kube_udiff(const char *a, const char *b, const char *label_a, const char *label_b)
{
	struct lines la = { 0 }, lb = { 0 };
	unsigned *t = NULL;
	char *ops = NULL, *buf = NULL;
	size_t *ia = NULL, *ib = NULL, nops = 0, len = 0;
	FILE *f = NULL;

	if (split_lines(a, &la) || split_lines(b, &lb))
		goto out;
	ops = malloc(la.n + lb.n + 1);
	ia = malloc((la.n + lb.n + 1) * sizeof *ia);
	ib = malloc((la.n + lb.n + 1) * sizeof *ib);
	if (!ops || !ia || !ib)
		goto out;
	if ((la.n + 1) * (lb.n + 1) <= UDIFF_MAX_CELLS)
		t = calloc((la.n + 1) * (lb.n + 1), sizeof *t);
	if (t) {
		size_t w = lb.n + 1, i = 0, j = 0;
		for (size_t x = la.n; x-- > 0;)
			for (size_t y = lb.n; y-- > 0;)
				t[x * w + y] = line_eq(&la, x, &lb, y) ? t[(x + 1) * w + y + 1] + 1
					       : t[(x + 1) * w + y] > t[x * w + y + 1]
					       ? t[(x + 1) * w + y] : t[x * w + y + 1];
		while (i < la.n || j < lb.n) {
			if (i < la.n && j < lb.n && line_eq(&la, i, &lb, j)) {
				ops[nops] = ' '; ia[nops] = i++; ib[nops++] = j++;
			} else if (i < la.n && (j == lb.n || t[(i + 1) * w + j] >= t[i * w + j + 1])) {
				ops[nops] = '-'; ia[nops] = i++; ib[nops++] = j;
			} else {
				ops[nops] = '+'; ia[nops] = i; ib[nops++] = j++;
			}
		}
	} else {
		for (size_t i = 0; i < la.n; i++) {
			ops[nops] = '-'; ia[nops] = i; ib[nops++] = 0;
		}
		for (size_t j = 0; j < lb.n; j++) {
			ops[nops] = '+'; ia[nops] = la.n; ib[nops++] = j;
		}
	}
	if (!(f = open_memstream(&buf, &len)))
		goto out;
	fprintf(f, "--- %s\n+++ %s\n", label_a, label_b);
	for (size_t k = 0; k < nops;) {
		size_t start, end, na = 0, nb = 0;
		if (ops[k] == ' ') {
			k++;
			continue;
		}
		/* a hunk: this change and the ones within two contexts of it */
		start = k > UDIFF_CONTEXT ? k - UDIFF_CONTEXT : 0;
		end = k;
		for (size_t q = k; q < nops && q <= end + 2 * UDIFF_CONTEXT; q++)
			if (ops[q] != ' ')
				end = q;
		end = end + UDIFF_CONTEXT + 1 < nops ? end + UDIFF_CONTEXT + 1 : nops;
		for (size_t q = start; q < end; q++) {
			na += ops[q] != '+';
			nb += ops[q] != '-';
		}
		fprintf(f, "@@ -%zu,%zu +%zu,%zu @@\n", ia[start] + (na > 0), na,
			ib[start] + (nb > 0), nb);
		for (size_t q = start; q < end; q++) {
			if (ops[q] == '+')
				fprintf(f, "+%.*s\n", (int)lb.len[ib[q]], lb.v[ib[q]]);
			else
				fprintf(f, "%c%.*s\n", ops[q], (int)la.len[ia[q]], la.v[ia[q]]);
		}
		k = end;
	}
	if (fclose(f)) {
		free(buf);
		buf = NULL;
	}
out:
	free(t);
	free(ops);
	free(ia);
	free(ib);
	free(la.v);
	free(la.len);
	free(lb.v);
	free(lb.len);
	return buf;
}

char *kube_obj_text(json_t *obj)
{
	return json_dumps(obj, JSON_INDENT(2) | JSON_SORT_KEYS);
}

/* ---- reading the release and the Secrets ------------------------------ */

char *kube_helm_get(phd_ctx *ctx, const struct kube_conf *cf, const char *release,
		    const char *ns, const char *what, const char *fmt, const char *who,
		    int *notfound)
{
	const char *argv[12];
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res;
	char kctx[300];
	char *out = NULL;
	size_t n = 0;

	*notfound = 0;
	argv[n++] = phd_ctx_helm(ctx) ? phd_ctx_helm(ctx) : "helm";
	argv[n++] = "get";
	argv[n++] = what;
	argv[n++] = release;
	argv[n++] = "-n";
	argv[n++] = ns;
	if (fmt) {
		argv[n++] = "-o";
		argv[n++] = fmt;
	}
	if (phd_ctx_kube_context(ctx) && *phd_ctx_kube_context(ctx)) {
		snprintf(kctx, sizeof kctx, "--kube-context=%s", phd_ctx_kube_context(ctx));
		argv[n++] = kctx;
	}
	argv[n] = NULL;
	spec.argv = argv;
	/* the stored manifest holds the chart's own Secrets: kept out of the
	 * redactor's copies, masked by the callers before anything is reported */
	spec.flags = PHD_EXEC_RAW_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.timeout_ms = cf->timeout_ms;
	if (phd_exec_run(ctx, &spec, &res) < 0) {
		phd_log(ctx, PHD_LOG_WARN, "kube: %s: cannot run helm: %s", who,
			phd_ctx_errmsg(ctx));
	} else if (res.exit_code != 0) {
		if (res.err && memmem(res.err, res.err_len, "not found", 9))
			*notfound = 1;
		else
			phd_log(ctx, PHD_LOG_WARN, "kube: %s: `helm get %s %s` exited %d: %.*s",
				who, what, release, res.exit_code, (int)(res.err_len > 300 ? 300
				: res.err_len), res.err ? res.err : "");
	} else {
		out = strndup(res.out ? res.out : "", res.out_len);
	}
	phd_exec_result_clear(&res);
	return out;
}

json_t *kube_by_key(json_t *list, const char *release)
{
	json_t *map = json_object(), *o;
	size_t i;

	json_array_foreach(list, i, o) {
		char *k;
		/* hooks run on every upgrade and are not in the stored manifest */
		if (*kube_jstr(json_object_get(json_object_get(o, "metadata"), "annotations"),
			       "helm.sh/hook"))
			continue;
		k = kube_obj_key(o, release);
		if (k)
			json_object_set(map, k, o);
		free(k);
	}
	return map;
}

static void put_b64_string(struct kube_wbuf *b, json_t *v, int encode)
{
	const char *s = json_string_value(v);
	if (!s)
		return;
	if (encode)
		kube_base64_put(b, (const unsigned char *)s, strlen(s));
	else
		kube_wbuf_put(b, s, strlen(s));
}

void kube_secret_desired(json_t *secret, struct kube_wbuf *b)
{
	const char *dk;
	json_t *v;

	json_object_foreach(json_object_get(secret, "data"), dk, v) {
		kube_wbuf_put(b, dk, strlen(dk));
		kube_wbuf_put(b, "=", 1);
		put_b64_string(b, v, 0);
		kube_wbuf_put(b, "\n", 1);
	}
	json_object_foreach(json_object_get(secret, "stringData"), dk, v) {
		kube_wbuf_put(b, dk, strlen(dk));
		kube_wbuf_put(b, "=", 1);
		put_b64_string(b, v, 1);
		kube_wbuf_put(b, "\n", 1);
	}
}

/* Per Secret a "NAME/" line, then "NAME/KEY=BASE64" per key; kubectl
 * answers several names with a List, one with the object itself. */
#define SECRETS_TEMPLATE "go-template={{define \"s\"}}{{$n := .metadata.name}}{{$n}}/{{\"\\n\"}}" \
	"{{range $k, $v := .data}}{{$n}}/{{$k}}={{$v}}{{\"\\n\"}}{{end}}{{end}}" \
	"{{if .items}}{{range .items}}{{template \"s\" .}}{{end}}{{else}}{{template \"s\" .}}{{end}}"

int kube_secrets_read(phd_ctx *ctx, const struct kube_conf *cf, const char *ns, json_t *objs,
		      const char *const more[], size_t nmore, struct phd_exec_result *res)
{
	struct kube_argv a;
	const char *k;
	json_t *o;
	size_t n = nmore;
	int rc;

	memset(res, 0, sizeof *res);
	json_object_foreach(objs, k, o)
		n += !strcmp(kube_jstr(o, "kind"), "Secret");
	if (n == 0)
		return 0;
	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, "secret");
	json_object_foreach(objs, k, o)
		if (!strcmp(kube_jstr(o, "kind"), "Secret"))
			kube_argv_add(&a, kube_jstr(json_object_get(o, "metadata"), "name"));
	for (size_t i = 0; i < nmore; i++)
		kube_argv_add(&a, more[i]);
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, ns);
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, SECRETS_TEMPLATE);
	/* values compared in wiped memory; only key names leave */
	rc = kube_run(ctx, cf, &a, NULL, 0, PHD_EXEC_RAW_STDOUT, res);
	/* a Secret that does not exist is only absent from the answer */
	if (rc == 0 && res->exit_code != 0 && !kube_is_notfound(res))
		rc = kube_fail(ctx, PHD_EUNREACHABLE, &a, res, "cannot read the Secrets");
	kube_argv_free(&a);
	if (rc < 0)
		phd_exec_result_clear(res);
	return rc;
}

/* The line of list that is pfx followed by key and then '=' or the end of
 * the line; its value (after '=') in *v, *vl long.  NULL when absent. */
static const char *kv_find(const char *list, size_t len, const char *pfx, const char *key,
			   size_t kl, const char **v, size_t *vl)
{
	size_t pl = strlen(pfx);

	for (const char *p = list, *end = list + len; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (l >= pl + kl && !memcmp(p, pfx, pl) && !memcmp(p + pl, key, kl) &&
		    (l == pl + kl || p[pl + kl] == '=')) {
			*v = l > pl + kl ? p + pl + kl + 1 : p + l;
			*vl = l > pl + kl ? l - pl - kl - 1 : 0;
			return p;
		}
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* Each "KEY=V" line of a under apfx (the marker line of an empty key left
 * out) whose key b lacks under bpfx ("key K absent"), or, with differs,
 * whose value differs; into f, counting from n. */
static int kv_compare(FILE *f, const char *a, size_t alen, const char *apfx, const char *b,
		      size_t blen, const char *bpfx, const char *absent, const char *differs,
		      int n)
{
	size_t pl = strlen(apfx);

	for (const char *p = a, *end = a + alen; p && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), kl;
		const char *bv, *key = p + pl;
		size_t vl;
		p = nl ? nl + 1 : NULL;
		if (l <= pl || memcmp(key - pl, apfx, pl))
			continue;
		kl = strcspn(key, "=\n");
		if (kl > l - pl)
			kl = l - pl;
		if (!kv_find(b, blen, bpfx, key, kl, &bv, &vl))
			fprintf(f, "%skey %.*s %s", n++ ? ", " : "", (int)kl, key, absent);
		else if (differs && (vl != l - pl - kl - 1 || memcmp(bv, key + kl + 1, vl)))
			fprintf(f, "%skey %.*s %s", n++ ? ", " : "", (int)kl, key, differs);
	}
	return n;
}

int kube_secret_compare(const struct phd_exec_result *live, const char *name,
			const struct kube_wbuf *desired, const char *extra, int *exists,
			char **changes)
{
	const char *out = live->out ? live->out : "", *d = desired->p ? desired->p : "", *v;
	char pfx[300], *buf = NULL;
	size_t len = 0, vl;
	FILE *f;
	int n;

	*changes = NULL;
	snprintf(pfx, sizeof pfx, "%s/", name);
	*exists = kv_find(out, live->out_len, pfx, "", 0, &v, &vl) != NULL;
	if (!*exists)
		return 0;
	if (!(f = open_memstream(&buf, &len)))
		return PHD_ENOMEM;
	n = kv_compare(f, d, desired->len, "", out, live->out_len, pfx, "added", "changed", 0);
	if (extra)
		n = kv_compare(f, out, live->out_len, pfx, d, desired->len, "", extra, NULL, n);
	fclose(f);
	if (n)
		*changes = buf;
	else
		free(buf);
	return 0;
}
