/* phdeploy.yaml and the values files: read, check the core's part of the
 * schema, merge the values the way helm does.  Every error points at
 * file:line:column. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phd-private.h"

enum kind { K_STR, K_BOOL, K_DUR, K_MAP, K_SEQ, K_STRSEQ, K_SEV, K_ANY };

struct field {
	const char *key;
	enum kind kind;
	const struct field *sub;   /* for K_MAP with a known schema */
	int open;                  /* K_MAP: other keys allowed (plugin-owned) */
};

static const struct field f_repo[] = {
	{ "name", K_STR, NULL, 0 }, { "url", K_STR, NULL, 0 }, { "index", K_STR, NULL, 0 },
	{ NULL, 0, NULL, 0 }
};
static const struct field f_chart[] = {
	{ "name", K_STR, NULL, 0 }, { "repo", K_MAP, f_repo, 0 }, { "version", K_STR, NULL, 0 },
	{ "allow_prerelease", K_BOOL, NULL, 0 }, { NULL, 0, NULL, 0 }
};
static const struct field f_kube[] = {
	{ "context", K_STR, NULL, 0 }, { "version", K_STR, NULL, 0 },
	{ "kubectl", K_STR, NULL, 0 }, { NULL, 0, NULL, 0 }
};
static const struct field f_rollback[] = {
	{ "on_failure", K_BOOL, NULL, 0 }, { NULL, 0, NULL, 0 }
};
static const struct field f_plugins[] = {
	{ "path", K_STRSEQ, NULL, 0 }, { "load", K_STRSEQ, NULL, 0 },
	{ "disable", K_STRSEQ, NULL, 0 }, { "config", K_MAP, NULL, 1 }, { NULL, 0, NULL, 0 }
};
static const struct field f_top[] = {
	{ "release", K_STR, NULL, 0 }, { "namespace", K_STR, NULL, 0 },
	{ "chart", K_ANY, NULL, 0 }, { "values", K_ANY, NULL, 0 },
	/* kube: is the core's and the kube plugin's (declared keys) */
	{ "kube", K_MAP, f_kube, 1 }, { "helm", K_MAP, NULL, 1 },
	{ "secrets", K_SEQ, NULL, 0 }, { "checks", K_MAP, NULL, 1 },
	{ "rules", K_MAP, NULL, 1 }, { "hooks", K_MAP, NULL, 1 },
	{ "rollback", K_MAP, f_rollback, 0 }, { "plugins", K_MAP, f_plugins, 0 },
	{ "exemptions", K_SEQ, NULL, 0 }, { "state_dir", K_STR, NULL, 0 },
	{ NULL, 0, NULL, 0 }
};

static const char *type_name(const phd_node *n)
{
	switch (phd_node_type(n)) {
	case PHD_NODE_SCALAR: return "a scalar";
	case PHD_NODE_SEQ: return "a list";
	case PHD_NODE_MAP: return "a mapping";
	default: return "null";
	}
}

#define bad phd_config_error
int phd_config_error(phd_ctx *ctx, int code, const phd_node *n, const char *fmt, ...)
{
	struct phd_buf b = { 0 };
	va_list ap;
	va_start(ap, fmt);
	phd_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	phd_set_error(ctx, code, "%s:%u:%u: %s", phd_node_file(n), phd_node_line(n),
		      phd_node_column(n), b.s ? b.s : "invalid");
	phd_buf_free(&b);
	return code;
}

static int check_kind(phd_ctx *ctx, const char *path, const phd_node *n, enum kind k)
{
	long long ms;
	int bv;
	switch (k) {
	case K_STR:
		if (n->type != PHD_NODE_SCALAR)
			return bad(ctx, PHD_ETYPE, n, "'%s' must be a string, not %s", path,
				   type_name(n));
		return 0;
	case K_BOOL:
		if (phd_node_bool(n, &bv) != 0)
			return bad(ctx, PHD_ETYPE, n, "'%s' must be true or false, not '%s'", path,
				   n->type == PHD_NODE_SCALAR ? n->str : type_name(n));
		return 0;
	case K_DUR:
		if (phd_node_duration_ms(n, &ms) != 0)
			return bad(ctx, PHD_ETYPE, n,
				   "'%s' must be a duration like 30s, 5m or 1h, not '%s'", path,
				   n->type == PHD_NODE_SCALAR ? n->str : type_name(n));
		return 0;
	case K_SEV:
		if (n->type != PHD_NODE_SCALAR ||
		    (strcmp(n->str, "off") && strcmp(n->str, "info") && strcmp(n->str, "warn") &&
		     strcmp(n->str, "error")))
			return bad(ctx, PHD_ETYPE, n,
				   "'%s' must be one of off, info, warn, error, not '%s'", path,
				   n->type == PHD_NODE_SCALAR ? n->str : type_name(n));
		return 0;
	case K_MAP:
		if (n->type != PHD_NODE_MAP)
			return bad(ctx, PHD_ETYPE, n, "'%s' must be a mapping, not %s", path,
				   type_name(n));
		return 0;
	case K_SEQ:
		if (n->type != PHD_NODE_SEQ)
			return bad(ctx, PHD_ETYPE, n, "'%s' must be a list, not %s", path,
				   type_name(n));
		return 0;
	case K_STRSEQ:
		if (n->type != PHD_NODE_SEQ)
			return bad(ctx, PHD_ETYPE, n, "'%s' must be a list of strings, not %s", path,
				   type_name(n));
		for (size_t i = 0; i < n->n; i++)
			if (n->kids[i]->type != PHD_NODE_SCALAR)
				return bad(ctx, PHD_ETYPE, n->kids[i],
					   "'%s[%zu]' must be a string, not %s", path, i,
					   type_name(n->kids[i]));
		return 0;
	default:
		return 0;
	}
}

static int unknown_key(phd_ctx *ctx, const phd_node *map, size_t i, const char *where,
		       const struct field *fields)
{
	const char *best = NULL;
	size_t bestd = 3;
	const phd_node *kn = map->knodes ? map->knodes[i] : map->kids[i];
	for (const struct field *f = fields; f && f->key; f++) {
		size_t d = phd_levenshtein(map->keys[i], f->key);
		if (d < bestd) {
			bestd = d;
			best = f->key;
		}
	}
	if (best)
		return bad(ctx, PHD_EINVAL, kn, "unknown key '%s'%s%s (did you mean '%s'?)",
			   map->keys[i], *where ? " in " : "", where, best);
	return bad(ctx, PHD_EINVAL, kn, "unknown key '%s'%s%s", map->keys[i],
		   *where ? " in " : "", where);
}

static int check_map(phd_ctx *ctx, const char *path, const phd_node *map,
		     const struct field *fields, int open)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct field *f;
		const phd_node *v = map->kids[i];
		char *sub;
		int rc = 0;
		for (f = fields; f && f->key; f++)
			if (!strcmp(f->key, map->keys[i]))
				break;
		if (!f || !f->key) {
			if (open)
				continue;
			return unknown_key(ctx, map, i, path, fields);
		}
		sub = *path ? phd_asprintf("%s.%s", path, f->key) : strdup(f->key);
		if (!sub)
			return PHD_ENOMEM;
		if (v->type == PHD_NODE_NULL && f->kind != K_BOOL && f->kind != K_STR)
			rc = 0; /* an empty section is allowed */
		else
			rc = check_kind(ctx, sub, v, f->kind);
		if (!rc && f->kind == K_MAP && (f->sub || !f->open) && v->type == PHD_NODE_MAP)
			rc = check_map(ctx, sub, v, f->sub, f->open);
		free(sub);
		if (rc)
			return rc;
	}
	return 0;
}

/* Helm's rule: a DNS-1123 subdomain short enough (53) to leave room for
 * the suffixes the chart appends to it in object names. */
int phd_valid_release(const char *s)
{
	return phd_is_dns1123_subdomain(s) && strlen(s) <= 53;
}

/* Digits at *s (at least one) into *out, at most max. */
static int version_part(const char **s, int max, int *out)
{
	long v = 0;

	if (**s < '0' || **s > '9')
		return 0;
	for (; **s >= '0' && **s <= '9'; (*s)++)
		if ((v = v * 10 + (**s - '0')) > max)
			return 0;
	*out = (int)v;
	return 1;
}

/* kube.version as helm's --kube-version takes it: [v]MAJOR.MINOR, or with
 * .PATCH and then a semver pre-release or build ("v1.30.2-eks-1").  Only
 * major and minor matter to the rules; this is the one parser of it. */
static int parse_kube_version(const char *s, int *major, int *minor)
{
	int patch;

	if (*s == 'v')
		s++;
	if (!version_part(&s, 99, major) || *major < 1 || *s++ != '.' ||
	    !version_part(&s, 999, minor))
		return 0;
	if (!*s)
		return 1;
	if (*s++ != '.' || !version_part(&s, 99999, &patch))
		return 0;
	if (*s == '-' || *s == '+') {
		if (!*++s)
			return 0;
		for (; *s; s++)
			if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
			      (*s >= 'A' && *s <= 'Z') || *s == '.' || *s == '-' || *s == '+'))
				return 0;
	}
	return !*s;
}

static int check_kube_version(phd_ctx *ctx, const phd_node *cfg)
{
	const phd_node *n = phd_node_get(cfg, "kube.version");

	ctx->kube_major = ctx->kube_minor = 0;
	if (!n || n->type == PHD_NODE_NULL)
		return 0;
	if (!n->str || !parse_kube_version(n->str, &ctx->kube_major, &ctx->kube_minor)) {
		ctx->kube_major = ctx->kube_minor = 0;
		return bad(ctx, PHD_EINVAL, n,
			   "kube.version '%s' is not a Kubernetes version (like 1.29, v1.29 or "
			   "1.29.3)", n->str ? n->str : "");
	}
	return 0;
}

static int check_sections(phd_ctx *ctx, const phd_node *cfg)
{
	const phd_node *n;
	int rc;

	if ((n = phd_node_child(cfg, "release")) && !phd_valid_release(n->str))
		return bad(ctx, PHD_EINVAL, n,
			   "release '%s' is not a valid release name (lowercase letters, digits, "
			   "'-' and '.', at most 53 characters)", n->str);
	if ((n = phd_node_child(cfg, "namespace")) && !phd_is_dns1123_label(n->str))
		return bad(ctx, PHD_EINVAL, n,
			   "namespace '%s' is not a valid namespace (DNS-1123 label)", n->str);
	if ((rc = check_kube_version(ctx, cfg)) != 0)
		return rc;
	if ((n = phd_node_child(cfg, "chart")) && n->type != PHD_NODE_NULL) {
		if (n->type == PHD_NODE_MAP) {
			if ((rc = check_map(ctx, "chart", n, f_chart, 0)) != 0)
				return rc;
			if (!phd_node_child(n, "name"))
				return bad(ctx, PHD_EINVAL, n, "'chart' needs a 'name'%s", "");
		} else if ((rc = check_kind(ctx, "chart", n, K_STR)) != 0) {
			return rc;
		}
	}
	if ((n = phd_node_child(cfg, "values")) && n->type != PHD_NODE_NULL &&
	    n->type != PHD_NODE_SCALAR && (rc = check_kind(ctx, "values", n, K_STRSEQ)) != 0)
		return rc;
	if ((n = phd_node_child(cfg, "secrets")) && n->type == PHD_NODE_SEQ) {
		for (size_t i = 0; i < n->n; i++) {
			const phd_node *e = n->kids[i];
			if (e->type != PHD_NODE_MAP)
				return bad(ctx, PHD_ETYPE, e,
					   "secrets[%zu] must be a mapping with a 'provider'", i);
			if (!phd_node_str(phd_node_child(e, "provider")))
				return bad(ctx, PHD_EINVAL, e, "secrets[%zu] has no 'provider'", i);
		}
	}
	if ((n = phd_node_child(cfg, "checks")) && n->type == PHD_NODE_MAP) {
		static const struct field f_check[] = {
			{ "required", K_BOOL, NULL, 0 }, { "timeout", K_DUR, NULL, 0 },
			{ "enabled", K_BOOL, NULL, 0 }, { NULL, 0, NULL, 0 }
		};
		for (size_t i = 0; i < n->n; i++) {
			char *p = phd_asprintf("checks.%s", n->keys[i]);
			rc = n->kids[i]->type == PHD_NODE_NULL ? 0
				: check_kind(ctx, p, n->kids[i], K_MAP);
			if (!rc && n->kids[i]->type == PHD_NODE_MAP)
				rc = check_map(ctx, p, n->kids[i], f_check, 1);
			free(p);
			if (rc)
				return rc;
		}
	}
	if ((n = phd_node_child(cfg, "rules")) && n->type == PHD_NODE_MAP) {
		for (size_t i = 0; i < n->n; i++) {
			char *p = phd_asprintf("rules.%s", n->keys[i]);
			rc = check_kind(ctx, p, n->kids[i], K_SEV);
			free(p);
			if (rc)
				return rc;
		}
	}
	if ((n = phd_node_child(cfg, "exemptions")) && n->type == PHD_NODE_SEQ) {
		static const struct field f_ex[] = {
			{ "rule", K_STR, NULL, 0 }, { "object", K_STR, NULL, 0 },
			{ "reason", K_STR, NULL, 0 }, { NULL, 0, NULL, 0 }
		};
		for (size_t i = 0; i < n->n; i++) {
			const phd_node *e = n->kids[i];
			if ((rc = check_kind(ctx, "exemptions[]", e, K_MAP)) != 0 ||
			    (rc = check_map(ctx, "exemptions[]", e, f_ex, 0)) != 0)
				return rc;
			if (!phd_node_child(e, "rule") || !phd_node_child(e, "reason"))
				return bad(ctx, PHD_EINVAL, e,
					   "an exemption needs a 'rule' and a 'reason'%s", "");
		}
	}
	if ((n = phd_node_child(cfg, "hooks")) && n->type == PHD_NODE_MAP) {
		static const struct field f_when[] = {
			{ "pre", K_SEQ, NULL, 0 }, { "post", K_SEQ, NULL, 0 },
			{ "fail", K_SEQ, NULL, 0 }, { NULL, 0, NULL, 0 }
		};
		static const struct field f_hook[] = {
			{ "run", K_STRSEQ, NULL, 0 }, { "on_failure", K_STR, NULL, 0 },
			{ "timeout", K_DUR, NULL, 0 }, { "name", K_STR, NULL, 0 },
			{ NULL, 0, NULL, 0 }
		};
		for (size_t i = 0; i < n->n; i++) {
			const phd_node *ph = n->kids[i];
			if (phd_phase_from_name(n->keys[i]) < 0)
				return bad(ctx, PHD_EINVAL, n->knodes ? n->knodes[i] : ph,
					   "hooks: unknown phase '%s' (validate, secrets, preflight, "
					   "repo, render, deploy, verify, rollback)", n->keys[i]);
			if ((rc = check_kind(ctx, "hooks.<phase>", ph, K_MAP)) != 0 ||
			    (rc = check_map(ctx, "hooks.<phase>", ph, f_when, 0)) != 0)
				return rc;
			for (size_t w = 0; w < ph->n; w++) {
				const phd_node *list = ph->kids[w];
				for (size_t h = 0; h < phd_node_len(list); h++) {
					const phd_node *hk = list->kids[h];
					const phd_node *run, *of;
					if ((rc = check_kind(ctx, "hook", hk, K_MAP)) != 0 ||
					    (rc = check_map(ctx, "hook", hk, f_hook, 0)) != 0)
						return rc;
					run = phd_node_child(hk, "run");
					if (!run || run->n == 0)
						return bad(ctx, PHD_EINVAL, hk,
							   "a hook needs 'run: [command, args...]'%s", "");
					of = phd_node_child(hk, "on_failure");
					if (of && strcmp(of->str, "abort") && strcmp(of->str, "warn"))
						return bad(ctx, PHD_EINVAL, of,
							   "on_failure must be 'abort' or 'warn', not '%s'",
							   of->str);
				}
			}
		}
	}
	return 0;
}

static const char *cfg_str(const phd_node *cfg, const char *path)
{
	return phd_node_str(phd_node_get(cfg, path));
}

static int set_str(char **dst, const char *opt, const char *cfg, const char *env,
		   const char *dflt)
{
	const char *v = opt && *opt ? opt : cfg && *cfg ? cfg : env && *env ? env : dflt;
	free(*dst);
	*dst = v ? strdup(v) : NULL;
	return v && !*dst ? PHD_ENOMEM : 0;
}

/* "-f -": standard input, read once (bounded like a file), kept in the
 * run's private directory for helm, which cannot read it a second time.
 * Positions name it <stdin>. */
static int read_stdin_values(phd_ctx *ctx, char **path, char **buf, size_t *len)
{
	const char *dir;
	char *copy;
	int rc;

	if (ctx->stdin_read)
		return phd_set_error(ctx, PHD_EINVAL, "-f -: standard input can be read once only");
	ctx->stdin_read = 1;
	/* stdin is a pipe or a terminal by design: read it, bounded */
	rc = phd_read_fd(STDIN_FILENO, PHD_MAX_CONFIG_BYTES, buf, len);
	if (rc == PHD_ETOOBIG)
		return phd_set_error(ctx, rc, "<stdin>:1:1: values larger than 16 MiB");
	if (rc)
		return phd_set_error(ctx, rc, "<stdin>: cannot read values: %s", strerror(errno));
	if (!(dir = phd_ctx_tmpdir(ctx)) || !(copy = phd_path_join(dir, "stdin-values.yaml")))
		rc = phd_set_error(ctx, PHD_EIO, "<stdin>: no private directory to keep the values");
	else if ((rc = phd_write_file(copy, *buf, *len, 0600)) != 0)
		rc = phd_set_error(ctx, rc, "%s: cannot keep the values of <stdin>", copy);
	if (rc) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	free(*path);
	*path = copy;
	return 0;
}

/* Merge one tree over the values so far. */
static int merge_values(phd_ctx *ctx, const phd_node *top)
{
	if (!ctx->values) {
		ctx->values = top;
		return 0;
	}
	ctx->values = phd_doc_merge(ctx->arena, ctx->values, top);
	return ctx->values ? 0 : PHD_ENOMEM;
}

/* from: the config's list entry that named the file (NULL for -f).
 * *path may be replaced (stdin: the private copy helm is given). */
static int load_values(phd_ctx *ctx, char **path, int kind, const phd_node *from)
{
	struct phd_docset *ds;
	char *buf, *err = NULL;
	const char *name = *path;
	size_t len;
	int rc;

	if (kind != PHD_VALUES_FILE) {
		const phd_node *top;
		const char *origin;
		if ((rc = phd_setvalues_parse(ctx, ctx->arena, kind, *path, &origin, &top)) != 0)
			return rc;
		return merge_values(ctx, top);
	}
	if (!strcmp(*path, "-")) {
		if ((rc = read_stdin_values(ctx, path, &buf, &len)) != 0)
			return rc;
		name = "<stdin>";
	} else {
		rc = phd_read_file(*path, PHD_MAX_CONFIG_BYTES, &buf, &len);
	}

	if (rc == PHD_ENOTFOUND && from)
		return bad(ctx, rc, from, "values file %s not found", name);
	if (rc == PHD_ENOTFOUND)
		return phd_set_error(ctx, rc, "%s: values file not found", name);
	if (rc == PHD_ETOOBIG)
		return phd_set_error(ctx, rc, "%s:1:1: values file larger than 16 MiB", name);
	if (rc == PHD_EINVAL && from)
		return bad(ctx, rc, from, "values file %s is %s, not a regular file", name,
			   phd_path_kind(*path));
	if (rc == PHD_EINVAL)
		return phd_set_error(ctx, rc, "%s:1:1: values file is %s, not a regular file", name,
				     phd_path_kind(*path));
	if (rc && from) {
		const char *why = strerror(errno);
		return bad(ctx, rc, from, "cannot read values file %s: %s", name, why);
	}
	if (rc)
		return phd_set_error(ctx, rc, "%s: cannot read values file: %s", name,
				     strerror(errno));
	ds = calloc(1, sizeof *ds);
	if (!ds) {
		free(buf);
		return PHD_ENOMEM;
	}
	rc = phd_doc_parse(ds, name, buf, len, 0, &err);
	free(buf);
	if (rc) {
		free(ds);
		phd_set_error(ctx, rc, "%s", err ? err : phd_strerror(rc));
		free(err);
		return rc;
	}
	if (phd_vec_push(&ctx->values_ds, ds)) {
		phd_docset_free(ds);
		free(ds);
		return PHD_ENOMEM;
	}
	if (ds->ndocs == 0 || ds->docs[0]->type == PHD_NODE_NULL)
		return 0; /* an empty values file is allowed, as in helm */
	if (ds->docs[0]->type != PHD_NODE_MAP)
		return bad(ctx, PHD_ETYPE, ds->docs[0],
			   "a values file must be a mapping at the top, not %s",
			   type_name(ds->docs[0]));
	return merge_values(ctx, ds->docs[0]);
}

static int read_config(phd_ctx *ctx)
{
	char *buf, *err = NULL;
	size_t len;
	const char *path = ctx->opt.config_path;
	int explicit = path != NULL, rc;

	if (ctx->opt.flags & PHD_OPT_NO_CONFIG)
		return 0;
	if (!path)
		path = "phdeploy.yaml";
	rc = phd_read_file(path, PHD_MAX_CONFIG_BYTES, &buf, &len);
	if (rc == PHD_ENOTFOUND && !explicit)
		return 0;
	if (rc == PHD_ENOTFOUND)
		return phd_set_error(ctx, rc, "%s: config file not found", path);
	if (rc == PHD_ETOOBIG)
		return phd_set_error(ctx, rc, "%s:1:1: config file larger than 16 MiB", path);
	if (rc == PHD_EINVAL)
		return phd_set_error(ctx, rc, "%s:1:1: config file is %s, not a regular file", path,
				     phd_path_kind(path));
	if (rc)
		return phd_set_error(ctx, rc, "%s: cannot read config file: %s", path,
				     strerror(errno));
	rc = phd_doc_parse(&ctx->config_ds, path, buf, len, 0, &err);
	free(buf);
	if (rc) {
		phd_set_error(ctx, rc, "%s", err ? err : phd_strerror(rc));
		free(err);
		return rc;
	}
	if (ctx->config_ds.ndocs == 0 || ctx->config_ds.docs[0]->type == PHD_NODE_NULL)
		return phd_set_error(ctx, PHD_ESYNTAX,
				     "%s:1:1: empty configuration file (expected a mapping with "
				     "release, chart, values...)", path);
	if (ctx->config_ds.docs[0]->type != PHD_NODE_MAP)
		return bad(ctx, PHD_ETYPE, ctx->config_ds.docs[0],
			   "the configuration must be a mapping at the top, not %s",
			   type_name(ctx->config_ds.docs[0]));
	ctx->config = ctx->config_ds.docs[0];
	ctx->config_path = strdup(path);
	ctx->config_dir = phd_dirname(path);
	if (!ctx->config_path || !ctx->config_dir)
		return PHD_ENOMEM;
	if ((rc = check_map(ctx, "", ctx->config, f_top, 1)) != 0)
		return rc;
	return check_sections(ctx, ctx->config);
}

int phd_config_load(phd_ctx *ctx)
{
	const phd_node *cfg, *vals, *chart;
	const char *chart_name;
	int rc;

	if ((rc = read_config(ctx)) != 0)
		return rc;
	cfg = ctx->config;
	chart = phd_node_child(cfg, "chart");
	chart_name = chart && chart->type == PHD_NODE_MAP ? cfg_str(chart, "name")
							  : phd_node_str(chart);
	if (set_str(&ctx->release, ctx->opt.release, cfg_str(cfg, "release"), NULL, "posthog") ||
	    set_str(&ctx->namespace_, ctx->opt.namespace_, cfg_str(cfg, "namespace"), NULL,
		    "posthog") ||
	    set_str(&ctx->chart, ctx->opt.chart, chart_name, NULL, "posthog/posthog") ||
	    set_str(&ctx->chart_version, ctx->opt.chart_version,
		    chart && chart->type == PHD_NODE_MAP ? cfg_str(chart, "version") : NULL, NULL,
		    NULL) ||
	    set_str(&ctx->helm, ctx->opt.helm_path, NULL, getenv("PHDEPLOY_HELM"), "helm") ||
	    set_str(&ctx->kubectl, ctx->opt.kubectl_path, cfg_str(cfg, "kube.kubectl"),
		    getenv("PHDEPLOY_KUBECTL"), "kubectl") ||
	    set_str(&ctx->kube_context, ctx->opt.kube_context, cfg_str(cfg, "kube.context"),
		    NULL, NULL))
		return PHD_ENOMEM;
	if ((rc = phd_check_option_names(ctx)) != 0)
		return rc;

	/* values: the options' list replaces the config's */
	vals = phd_node_child(cfg, "values");
	if (ctx->opt.nvalues) {
		ctx->values_files = calloc(ctx->opt.nvalues, sizeof(char *));
		ctx->values_kinds = calloc(ctx->opt.nvalues, sizeof(int));
		if (!ctx->values_files || !ctx->values_kinds)
			return PHD_ENOMEM;
		for (size_t i = 0; i < ctx->opt.nvalues; i++) {
			ctx->values_kinds[i] = ctx->opt_kinds ? ctx->opt_kinds[i] : PHD_VALUES_FILE;
			if (!(ctx->values_files[ctx->nvalues++] = strdup(ctx->opt.values[i])))
				return PHD_ENOMEM;
		}
	} else if (vals && vals->type != PHD_NODE_NULL) {
		size_t n = vals->type == PHD_NODE_SCALAR ? 1 : vals->n;
		ctx->values_files = calloc(n ? n : 1, sizeof(char *));
		if (!ctx->values_files)
			return PHD_ENOMEM;
		for (size_t i = 0; i < n; i++) {
			const phd_node *v = vals->type == PHD_NODE_SCALAR ? vals : vals->kids[i];
			if (!(ctx->values_files[ctx->nvalues++] = phd_path_join(ctx->config_dir,
										v->str)))
				return PHD_ENOMEM;
		}
	}
	for (size_t i = 0; i < ctx->nvalues; i++) {
		const phd_node *from = NULL;
		if (!ctx->opt.nvalues && vals)
			from = vals->type == PHD_NODE_SCALAR ? vals : vals->kids[i];
		if ((rc = load_values(ctx, &ctx->values_files[i], phd_ctx_values_kind(ctx, i),
				      from)) != 0)
			return rc;
	}
	if (!ctx->values)
		ctx->values = ctx->empty_map;
	return 0;
}

int phd_config_core_key(const char *key)
{
	for (const struct field *f = f_top; f->key; f++)
		if (!strcmp(f->key, key))
			return 1;
	return 0;
}

int phd_config_unknown_top(phd_ctx *ctx, size_t i)
{
	return unknown_key(ctx, ctx->config, i, "", f_top);
}
