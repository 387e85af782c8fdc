/* The configuration plugins declared (phd_plugin_declare_config and
 * phd_plugin_declare_rule), checked against the whole phdeploy.yaml before
 * any phase runs: a typo in a key a plugin owns, a rule id, a check name or
 * a secrets: entry is a validate failure with file:line:column and the
 * nearest known name, never a silent default. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

/* Keys of checks.NAME that the core reads for every check. */
static const struct phd_config_key core_check_keys[] = {
	{ "required", PHD_CFG_BOOL, 0, NULL, "a failure fails preflight (default true)" },
	{ "timeout", PHD_CFG_DURATION, 0, NULL, "the check's deadline" },
	{ "enabled", PHD_CFG_BOOL, 0, NULL, "run the check at all (default true)" },
	PHD_CONFIG_END
};
/* Keys of a secrets: entry the core reads. */
static const struct phd_config_key core_secret_keys[] = {
	{ "provider", PHD_CFG_STRING, PHD_CFG_REQUIRED, NULL, "the secret provider" },
	PHD_CONFIG_END
};
/* Keys of kube: the core reads; the kube plugin declares the rest. */
static const struct phd_config_key core_kube_keys[] = {
	{ "context", PHD_CFG_STRING, 0, NULL, NULL },
	{ "version", PHD_CFG_STRING, 0, NULL, NULL },
	{ "kubectl", PHD_CFG_STRING, 0, NULL, NULL },
	PHD_CONFIG_END
};
/* (config.c already requires rule and reason) */
static const struct phd_config_key exemption_keys[] = {
	{ "rule", PHD_CFG_STRING, 0, NULL, "a rule id or *" },
	{ "object", PHD_CFG_STRING, 0, NULL, "Kind/name glob" },
	{ "reason", PHD_CFG_STRING, 0, NULL, "why it is accepted" },
	PHD_CONFIG_END
};

#define MAX_TABLES 16
struct tables {
	const struct phd_config_key *t[MAX_TABLES];
	size_t n;
};

static void tables_add(struct tables *ts, const struct phd_config_key *t)
{
	if (t && ts->n < MAX_TABLES)
		ts->t[ts->n++] = t;
}

#define err_at phd_config_error

/* A list of known names for messages, and the nearest one to a typo. */
struct names {
	struct phd_buf all;
	const char *best;
	size_t bestd;
	const char *want;
};

static void names_add(struct names *nm, const char *name)
{
	size_t d;
	if (!name)
		return;
	phd_buf_printf(&nm->all, "%s%s", nm->all.len ? ", " : "", name);
	d = phd_levenshtein(nm->want, name);
	if (d < nm->bestd) {
		nm->bestd = d;
		nm->best = name;
	}
}

static int unknown(phd_ctx *ctx, const phd_node *at, const char *what, struct names *nm)
{
	int rc;
	if (nm->best)
		rc = err_at(ctx, PHD_EINVAL, at, "unknown %s '%s' (did you mean '%s'?)", what,
			    nm->want, nm->best);
	else
		rc = err_at(ctx, PHD_EINVAL, at, "unknown %s '%s' (known: %s)", what, nm->want,
			    nm->all.s ? nm->all.s : "none");
	phd_buf_free(&nm->all);
	return rc;
}

static int type_ok(const struct phd_config_key *k, const phd_node *v)
{
	long long x;
	int b;
	switch (k->type) {
	case PHD_CFG_STRING: return phd_node_type(v) == PHD_NODE_SCALAR;
	case PHD_CFG_BOOL: return phd_node_bool(v, &b) == 0;
	case PHD_CFG_INT: return phd_node_int(v, &x) == 0;
	case PHD_CFG_DURATION: return phd_node_duration_ms(v, &x) == 0 && x >= 0;
	case PHD_CFG_LIST: {
		if (phd_node_type(v) != PHD_NODE_SEQ)
			return 0;
		for (size_t i = 0; i < phd_node_len(v); i++)
			if (phd_node_type(phd_node_at(v, i)) != PHD_NODE_SCALAR)
				return 0;
		return 1;
	}
	case PHD_CFG_MAP: return phd_node_type(v) == PHD_NODE_MAP;
	case PHD_CFG_ENUM: {
		const char *s = phd_node_str(v), *a = k->allowed;
		size_t n = s ? strlen(s) : 0;
		while (s && a && *a) {
			const char *bar = strchr(a, '|');
			size_t len = bar ? (size_t)(bar - a) : strlen(a);
			if (len == n && !strncmp(a, s, n))
				return 1;
			a = bar ? bar + 1 : NULL;
		}
		return 0;
	}
	default: return 1;
	}
}

static const char *type_text(const struct phd_config_key *k)
{
	switch (k->type) {
	case PHD_CFG_STRING: return "a string";
	case PHD_CFG_BOOL: return "true or false";
	case PHD_CFG_INT: return "an integer";
	case PHD_CFG_DURATION: return "a duration such as 30s, 5m or 1h";
	case PHD_CFG_LIST: return "a list of strings";
	case PHD_CFG_MAP: return "a mapping";
	default: return "a value";
	}
}

static const struct phd_config_key *find_key(const struct tables *ts, const char *name)
{
	for (size_t t = 0; t < ts->n; t++)
		for (const struct phd_config_key *k = ts->t[t]; k->name; k++)
			if (!strcmp(k->name, name))
				return k;
	return NULL;
}

/* Check map (at path) against the key tables: unknown keys, types,
 * required keys. */
static int check_keys(phd_ctx *ctx, const char *path, const phd_node *map,
		      const struct tables *ts)
{
	if (phd_node_type(map) == PHD_NODE_NULL)
		map = NULL;
	else if (phd_node_type(map) != PHD_NODE_MAP)
		return err_at(ctx, PHD_ETYPE, map, "'%s' must be a mapping", path);
	for (size_t i = 0; i < phd_node_len(map); i++) {
		const char *key = phd_node_key_at(map, i);
		const phd_node *v = phd_node_at(map, i);
		const struct phd_config_key *k = find_key(ts, key);
		if (!k) {
			struct names nm = { { 0 }, NULL, 3, key };
			const phd_node *kn = map->knodes ? map->knodes[i] : v;
			for (size_t t = 0; t < ts->n; t++)
				for (const struct phd_config_key *d = ts->t[t]; d->name; d++)
					names_add(&nm, d->name);
			{
				char *what = phd_asprintf("key in %s", path);
				int rc = unknown(ctx, kn, what ? what : "key", &nm);
				free(what);
				return rc;
			}
		}
		if (phd_node_type(v) == PHD_NODE_NULL && k->type != PHD_CFG_BOOL &&
		    !(k->flags & PHD_CFG_REQUIRED))
			continue;
		if (!type_ok(k, v)) {
			if (k->type == PHD_CFG_ENUM)
				return err_at(ctx, PHD_ETYPE, v, "%s.%s must be one of %s, not '%s'",
					      path, key, k->allowed,
					      phd_node_str(v) ? phd_node_str(v) : "a non-scalar");
			return err_at(ctx, PHD_ETYPE, v, "%s.%s must be %s%s%s%s", path, key,
				      type_text(k), phd_node_str(v) ? ", not '" : "",
				      phd_node_str(v) ? phd_node_str(v) : "",
				      phd_node_str(v) ? "'" : "");
		}
	}
	for (size_t t = 0; t < ts->n; t++)
		for (const struct phd_config_key *k = ts->t[t]; k->name; k++)
			if ((k->flags & PHD_CFG_REQUIRED) && !phd_node_child(map, k->name))
				return err_at(ctx, PHD_EINVAL, map, "%s: the key '%s' is required%s%s%s",
					      path, k->name, k->doc ? " (" : "",
					      k->doc ? k->doc : "", k->doc ? ")" : "");
	return 0;
}

/* Declarations of scope by every plugin, into ts; 1 when any plugin
 * declared that scope. */
static int collect(phd_ctx *ctx, const char *scope, const struct phd_plugin *only,
		   struct tables *ts)
{
	int any = 0;
	for (size_t i = 0; i < ctx->plugins.n; i++) {
		const struct phd_plugin *p = ctx->plugins.v[i];
		if (only && p != only)
			continue;
		for (size_t d = 0; d < p->decls.n; d++) {
			const struct phd_decl *decl = p->decls.v[d];
			if (!strcmp(decl->scope, scope)) {
				tables_add(ts, decl->keys);
				any = 1;
			}
		}
	}
	return any;
}

/* A plugin's own section: the top-level key named like it, or
 * plugins.config.NAME.  A plugin that declared nothing owns its section
 * unchecked (ABI 2.0 plugins of other sites may not declare). */
static int check_own_section(phd_ctx *ctx, const char *path, const char *name,
			     const phd_node *sec)
{
	struct phd_plugin *p = phd_plugin_find(ctx, name);
	struct tables ts = { { 0 }, 0 };
	if (!p)
		return 1;  /* not a plugin's */
	/* a core section a plugin extends keeps the core's own keys */
	if (!strcmp(path, "kube"))
		tables_add(&ts, core_kube_keys);
	if (!collect(ctx, "", p, &ts))
		return 0;
	return check_keys(ctx, path, sec, &ts);
}

static int check_checks(phd_ctx *ctx)
{
	const phd_node *checks = phd_node_child(ctx->config, "checks");
	for (size_t i = 0; i < phd_node_len(checks); i++) {
		const char *name = phd_node_key_at(checks, i);
		const phd_node *cc = phd_node_at(checks, i);
		struct phd_reg *r = name ? phd_dispatch_find(ctx, PHD_REG_CHECK, name) : NULL;
		struct tables ts = { { 0 }, 0 };
		char *scope, *path;
		int rc;
		int req = 1;
		if (!r) {
			const struct phd_vec *l = phd_dispatch_list(ctx, PHD_REG_CHECK,
								    PHD_PHASE_PREFLIGHT);
			struct names nm = { { 0 }, NULL, 3, name };
			for (size_t k = 0; k < l->n; k++)
				names_add(&nm, ((struct phd_reg *)l->v[k])->name);
			return unknown(ctx, checks->knodes ? checks->knodes[i] : cc,
				       "check (no loaded plugin provides it)", &nm);
		}
		tables_add(&ts, core_check_keys);
		scope = phd_asprintf("checks.%s", name);
		path = scope;
		if (!scope)
			return PHD_ENOMEM;
		if (collect(ctx, scope, r->plugin, &ts) || phd_node_type(cc) != PHD_NODE_MAP)
			rc = check_keys(ctx, path, cc, &ts);
		else
			rc = 0;
		free(scope);
		if (rc)
			return rc;
		phd_node_bool(phd_node_child(cc, "required"), &req);
		r->control = req ? PHD_CTL_REQUIRED : PHD_CTL_OPTIONAL;
	}
	return 0;
}

static int check_secrets(phd_ctx *ctx)
{
	const phd_node *list = phd_node_child(ctx->config, "secrets");
	for (size_t i = 0; i < phd_node_len(list); i++) {
		const phd_node *e = phd_node_at(list, i);
		const phd_node *pn = phd_node_child(e, "provider");
		const char *prov = phd_node_str(pn);
		struct phd_reg *r;
		struct tables ts = { { 0 }, 0 };
		char *scope, *path;
		int rc;
		if (phd_node_type(e) != PHD_NODE_MAP)
			return err_at(ctx, PHD_ETYPE, e, "secrets[%zu] must be a mapping such as "
				      "{ provider: file, path: x.secret.yaml }", i);
		if (!prov)
			return err_at(ctx, PHD_EINVAL, e, "secrets[%zu]: the key 'provider' is "
				      "required", i);
		r = phd_dispatch_find(ctx, PHD_REG_PROVIDER, prov);
		if (!r) {
			const struct phd_vec *l = phd_dispatch_list(ctx, PHD_REG_PROVIDER, -1);
			struct names nm = { { 0 }, NULL, 3, prov };
			for (size_t k = 0; k < l->n; k++)
				names_add(&nm, ((struct phd_reg *)l->v[k])->name);
			return unknown(ctx, pn, "secret provider", &nm);
		}
		tables_add(&ts, core_secret_keys);
		scope = phd_asprintf("secrets.%s", prov);
		path = phd_asprintf("secrets[%zu]", i);
		rc = !scope || !path ? PHD_ENOMEM
		     : collect(ctx, scope, r->plugin, &ts) ? check_keys(ctx, path, e, &ts) : 0;
		free(scope);
		free(path);
		if (rc)
			return rc;
	}
	return 0;
}

/* Rule ids: every declared rule, and every check's name (a check's notes
 * are findings under its name). */
static int rule_known(phd_ctx *ctx, const char *id, struct names *nm)
{
	const struct phd_vec *l = phd_dispatch_list(ctx, PHD_REG_CHECK, PHD_PHASE_PREFLIGHT);
	int found = 0;
	for (size_t i = 0; i < ctx->plugins.n; i++) {
		const struct phd_plugin *p = ctx->plugins.v[i];
		for (size_t k = 0; k < p->rules.n; k++) {
			const struct phd_rule_decl *r = p->rules.v[k];
			found |= !strcmp(r->id, id);
			if (nm)
				names_add(nm, r->id);
		}
	}
	for (size_t k = 0; k < l->n; k++) {
		const char *name = ((struct phd_reg *)l->v[k])->name;
		found |= !strcmp(name, id);
		if (nm)
			names_add(nm, name);
	}
	return found;
}

static int any_rules_declared(phd_ctx *ctx)
{
	for (size_t i = 0; i < ctx->plugins.n; i++)
		if (((struct phd_plugin *)ctx->plugins.v[i])->rules.n)
			return 1;
	return 0;
}

static int check_rule_id(phd_ctx *ctx, const char *id, const phd_node *at, const char *what)
{
	struct names nm = { { 0 }, NULL, 3, id };
	if (rule_known(ctx, id, NULL))
		return 0;
	rule_known(ctx, id, &nm);
	return unknown(ctx, at, what, &nm);
}

static int check_rules(phd_ctx *ctx)
{
	const phd_node *rules = phd_node_child(ctx->config, "rules");
	const phd_node *ex = phd_node_child(ctx->config, "exemptions");
	int known = any_rules_declared(ctx);
	int rc;

	for (size_t i = 0; known && i < phd_node_len(rules); i++) {
		const phd_node *kn = rules->knodes ? rules->knodes[i] : phd_node_at(rules, i);
		if ((rc = check_rule_id(ctx, phd_node_key_at(rules, i), kn, "rule id in rules")))
			return rc;
	}
	for (size_t i = 0; i < phd_node_len(ex); i++) {
		const phd_node *e = phd_node_at(ex, i);
		const phd_node *rn = phd_node_child(e, "rule");
		struct tables ts = { { 0 }, 0 };
		char *path = phd_asprintf("exemptions[%zu]", i);
		tables_add(&ts, exemption_keys);
		rc = path ? check_keys(ctx, path, e, &ts) : PHD_ENOMEM;
		free(path);
		if (rc)
			return rc;
		if (known && strcmp(phd_node_str(rn), "*") &&
		    (rc = check_rule_id(ctx, phd_node_str(rn), rn, "rule id in exemptions")))
			return rc;
	}
	return 0;
}

int phd_config_check_declared(phd_ctx *ctx)
{
	const phd_node *cfg = ctx->config;
	const phd_node *pc = phd_node_get(cfg, "plugins.config");
	int rc;

	for (size_t i = 0; i < phd_node_len(cfg); i++) {
		const char *key = phd_node_key_at(cfg, i);
		rc = check_own_section(ctx, key, key, phd_node_at(cfg, i));
		if (rc == 1 && !phd_config_core_key(key))
			return phd_config_unknown_top(ctx, i);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < phd_node_len(pc); i++) {
		const char *key = phd_node_key_at(pc, i);
		char *path = phd_asprintf("plugins.config.%s", key);
		rc = path ? check_own_section(ctx, path, key, phd_node_at(pc, i)) : PHD_ENOMEM;
		free(path);
		if (rc == 1)
			return err_at(ctx, PHD_EINVAL, pc->knodes ? pc->knodes[i] : pc,
				      "plugins.config.%s: no loaded plugin is named '%s'", key, key);
		if (rc < 0)
			return rc;
	}
	if ((rc = check_checks(ctx)) || (rc = check_secrets(ctx)) || (rc = check_rules(ctx)))
		return rc;
	return 0;
}
