/* The secret store.  Values live in memory that is wiped on free; each is
 * registered with the redactor the moment it arrives. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

static void secret_free(void *p)
{
	struct phd_secret *s = p;
	for (size_t i = 0; i < s->view.nkeys; i++) {
		phd_wipe((void *)s->kv[i].value, s->kv[i].len);
		free((void *)s->kv[i].value);
		free((char *)s->kv[i].key);
	}
	free(s->kv);
	free(s->name);
	free(s->type);
	free(s->origin);
	free(s);
}

void phd_secrets_free(phd_ctx *ctx)
{
	phd_vec_free(&ctx->secrets, secret_free);
	ctx->secrets_resolved = 0;
}

static struct phd_secret *find_secret(const phd_ctx *ctx, const char *name)
{
	for (size_t i = 0; i < ctx->secrets.n; i++) {
		struct phd_secret *s = ctx->secrets.v[i];
		if (!strcmp(s->name, name))
			return s;
	}
	return NULL;
}

static int valid_key(const char *k)
{
	size_t n = k ? strlen(k) : 0;
	if (n == 0 || n > 253)
		return 0;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
		      (*k >= '0' && *k <= '9') || *k == '-' || *k == '_' || *k == '.'))
			return 0;
	return 1;
}

static char *origin_of(const struct phd_secret_sink *sink, const phd_node *where)
{
	const phd_node *n = where ? where : sink->entry;
	if (n && phd_node_file(n))
		return phd_asprintf("%s:%u:%u", phd_node_file(n), phd_node_line(n),
				    phd_node_column(n));
	return phd_asprintf("provider %s", sink->provider);
}

/* Who provides a Secret: its secrets: entry (a sink without one, itself). */
static const void *owner_of(const struct phd_secret_sink *sink)
{
	return sink->entry ? (const void *)sink->entry : (const void *)sink;
}

/* The one rule for a Secret name given twice, whoever gives it: two
 * entries (of one provider or two) never merge into one Secret. */
static int provided_twice(phd_ctx *ctx, const struct phd_secret *s, const char *here)
{
	return phd_set_error(ctx, PHD_EINVAL, "%s: Secret \"%s\" is provided twice (first at %s)",
			     here, s->name, s->origin);
}

/* Start the Secret name at origin (owned by the new record). */
static int secret_new(phd_ctx *ctx, const struct phd_secret_sink *sink, const char *name,
		      char *origin, struct phd_secret **out)
{
	struct phd_secret *s = calloc(1, sizeof *s);

	if (!s || !(s->name = strdup(name)) || !(s->type = strdup("Opaque")) || !origin) {
		free(origin);
		if (s)
			secret_free(s);
		return PHD_ENOMEM;
	}
	s->origin = origin;
	s->owner = owner_of(sink);
	if (phd_vec_push(&ctx->secrets, s)) {
		secret_free(s);
		return PHD_ENOMEM;
	}
	*out = s;
	return 0;
}

static int check_name(const struct phd_secret_sink *sink, const char *secret_name)
{
	if (!phd_is_dns1123_subdomain(secret_name))
		return phd_set_error(sink->ctx, PHD_EINVAL,
				     "provider '%s': '%s' is not a valid Secret name (DNS-1123 "
				     "subdomain)", sink->provider,
				     secret_name ? secret_name : "(null)");
	return 0;
}

PHD_EXTERN int phd_secret_declare(phd_secret_sink *sink, const char *secret_name,
				  const char *origin)
{
	struct phd_secret *s;
	char *here;
	int rc;

	if (!sink || !sink->ctx)
		return PHD_EINVAL;
	if ((rc = check_name(sink, secret_name)) != 0)
		return rc;
	here = origin ? strdup(origin) : origin_of(sink, NULL);
	if (!here)
		return PHD_ENOMEM;
	if ((s = find_secret(sink->ctx, secret_name)) != NULL) {
		rc = provided_twice(sink->ctx, s, here);
		free(here);
		return rc;
	}
	return secret_new(sink->ctx, sink, secret_name, here, &s);
}

PHD_EXTERN int phd_secret_add(phd_secret_sink *sink, const char *secret_name, const char *key,
			      const void *value, size_t len, const phd_node *where)
{
	phd_ctx *ctx;
	struct phd_secret *s;
	unsigned char *copy;
	int rc;

	if (!sink || !sink->ctx)
		return PHD_EINVAL;
	ctx = sink->ctx;
	/* register first: even a refused value must never be printed */
	if (value && len && (rc = phd_redact_add(ctx, value, len)) != 0)
		return rc;
	if (value && len && (rc = phd_redactor_add(&ctx->env_scrub, value, len)) != 0)
		return rc;
	if ((rc = check_name(sink, secret_name)) != 0)
		return rc;
	if (!valid_key(key))
		return phd_set_error(ctx, PHD_EINVAL,
				     "provider '%s': Secret '%s': '%s' is not a valid key "
				     "(letters, digits, '-', '_', '.')", sink->provider, secret_name,
				     key ? key : "(null)");
	if (!value && len)
		return PHD_EINVAL;
	if (len && len < PHD_REDACT_MIN) {
		/* not masked (see PHD_REDACT_MIN): say so, naming never the value */
		char *here = origin_of(sink, where);
		phd_log(ctx, PHD_LOG_WARN, "%s: Secret '%s' key '%s': the value is shorter than "
			"%d bytes, too short to mask safely, so it is not hidden in output; "
			"use a longer secret", here ? here : sink->provider, secret_name, key,
			PHD_REDACT_MIN);
		free(here);
	}
	s = find_secret(ctx, secret_name);
	if (!s && (rc = secret_new(ctx, sink, secret_name, origin_of(sink, where), &s)) != 0)
		return rc;
	if (s->owner != owner_of(sink)) {
		char *here = origin_of(sink, where);
		rc = here ? provided_twice(ctx, s, here) : PHD_ENOMEM;
		free(here);
		return rc;
	}
	for (size_t i = 0; i < s->view.nkeys; i++)
		if (!strcmp(s->kv[i].key, key)) {
			char *here = origin_of(sink, where);
			rc = phd_set_error(ctx, PHD_EINVAL,
					   "%s: Secret '%s' key '%s' is provided twice (first at %s)",
					   here ? here : sink->provider, secret_name, key, s->origin);
			free(here);
			return rc;
		}
	if (s->view.nkeys == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		struct phd_secret_kv *nkv = realloc(s->kv, cap * sizeof *nkv);
		if (!nkv)
			return PHD_ENOMEM;
		s->kv = nkv;
		s->cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return PHD_ENOMEM;
	if (len)
		memcpy(copy, value, len);
	copy[len] = '\0';
	s->kv[s->view.nkeys].key = strdup(key);
	if (!s->kv[s->view.nkeys].key) {
		phd_wipe(copy, len);
		free(copy);
		return PHD_ENOMEM;
	}
	s->kv[s->view.nkeys].value = copy;
	s->kv[s->view.nkeys].len = len;
	s->view.nkeys++;
	return 0;
}

PHD_EXTERN int phd_secret_set_type(phd_secret_sink *sink, const char *secret_name,
				   const char *type)
{
	struct phd_secret *s;
	char *t;
	if (!sink || !type || !*type)
		return PHD_EINVAL;
	s = find_secret(sink->ctx, secret_name);
	if (!s)
		return phd_set_error(sink->ctx, PHD_ENOTFOUND,
				     "provider '%s': set the type after adding a key to '%s'",
				     sink->provider, secret_name);
	if (s->owner != owner_of(sink))
		return phd_set_error(sink->ctx, PHD_EINVAL,
				     "provider '%s': Secret '%s' is provided at %s, not here",
				     sink->provider, secret_name, s->origin);
	t = strdup(type);
	if (!t)
		return PHD_ENOMEM;
	free(s->type);
	s->type = t;
	return 0;
}

PHD_EXTERN size_t phd_secret_count(const phd_ctx *ctx)
{
	return ctx ? ctx->secrets.n : 0;
}

PHD_EXTERN const struct phd_secret_view *phd_secret_at(const phd_ctx *ctx, size_t i)
{
	struct phd_secret *s;
	if (!ctx || i >= ctx->secrets.n)
		return NULL;
	s = ctx->secrets.v[i];
	s->view.name = s->name;
	s->view.namespace_ = ctx->namespace_;
	s->view.type = s->type;
	s->view.origin = s->origin;
	s->view.kv = s->kv;
	return &s->view;
}

PHD_EXTERN int phd_secret_get(const phd_ctx *ctx, const char *secret_name, const char *key,
			      const unsigned char **value, size_t *len)
{
	struct phd_secret *s;
	if (!ctx || !secret_name || !key)
		return PHD_EINVAL;
	s = find_secret(ctx, secret_name);
	for (size_t i = 0; s && i < s->view.nkeys; i++)
		if (!strcmp(s->kv[i].key, key)) {
			if (value)
				*value = s->kv[i].value;
			if (len)
				*len = s->kv[i].len;
			return 0;
		}
	return PHD_ENOTFOUND;
}

int phd_secrets_in(const phd_ctx *ctx, const char *s)
{
	return phd_redactor_hits(&ctx->env_scrub, s);
}

/* The env provider's values are in our own environment from the start,
 * but become known secrets only in the secrets phase: hooks, helm and
 * the post-renderer run before it (validate, render) and would inherit
 * them.  So the variables that `{provider: env}` entries name are
 * withheld from every child and masked from the moment the config is
 * loaded. */
int phd_secrets_env_prescan(phd_ctx *ctx)
{
	const phd_node *list = phd_node_child(ctx->config, "secrets");
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < phd_node_len(list); i++) {
		const phd_node *e = phd_node_at(list, i);
		const char *prov = phd_node_str(phd_node_child(e, "provider"));
		const phd_node *keys = phd_node_child(e, "keys");

		if (!prov || strcmp(prov, "env") != 0 || !keys || keys->type != PHD_NODE_MAP)
			continue;
		for (size_t k = 0; rc == 0 && k < keys->n; k++) {
			const char *var = phd_node_str(keys->kids[k]);
			const char *val = var ? getenv(var) : NULL;
			if (!val || !*val)
				continue;
			rc = phd_redact_add(ctx, val, strlen(val));
			if (rc == 0)
				rc = phd_redactor_add(&ctx->env_scrub, val, strlen(val));
		}
	}
	return rc;
}

int phd_secrets_resolve(phd_ctx *ctx)
{
	const phd_node *list = phd_node_child(ctx->config, "secrets");
	int rc = 0;

	if (ctx->secrets_resolved)
		return 0;
	for (size_t i = 0; rc == 0 && i < phd_node_len(list); i++) {
		const phd_node *e = phd_node_at(list, i);
		const char *prov = phd_node_str(phd_node_child(e, "provider"));
		struct phd_reg *r = prov ? phd_dispatch_find(ctx, PHD_REG_PROVIDER, prov) : NULL;
		struct phd_secret_sink sink = { ctx, prov, e };
		if (!r) {
			struct phd_buf have = { 0 };
			const struct phd_vec *l = phd_dispatch_list(ctx, PHD_REG_PROVIDER, -1);
			for (size_t k = 0; k < l->n; k++)
				phd_buf_printf(&have, "%s%s", have.len ? ", " : "",
					       ((struct phd_reg *)l->v[k])->name);
			rc = phd_set_error(ctx, PHD_ENOPROVIDER,
					   "%s:%u:%u: no plugin provides secret provider '%s' "
					   "(loaded providers: %s)", phd_node_file(e), phd_node_line(e),
					   phd_node_column(e), prov ? prov : "?",
					   have.s ? have.s : "none");
			phd_buf_free(&have);
			break;
		}
		phd_err_clear(ctx);
		rc = ((phd_secret_provider_fn)r->fn)(ctx, e, &sink, r->userdata);
		if (rc) {
			if (!ctx->errmsg || !*ctx->errmsg)
				phd_set_error(ctx, rc, "%s:%u: secret provider '%s' failed: %s",
					      phd_node_file(e), phd_node_line(e), prov,
					      phd_strerror(rc));
			rc = rc == PHD_EIGNORE ? 0 : rc;
		}
	}
	if (rc == 0)
		ctx->secrets_resolved = 1;
	return rc;
}
