/* secret-env: a Secret built from named environment variables
 * (`{provider: env, name: posthog-redis, keys: {redis-password: REDIS_PASSWORD}}`).
 * Messages name the variable, never its value.  See phdeploy-secret-env(7). */
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../secret-common/common.h"

#define PLUGIN "secret-env"


static int valid_var(const char *s)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static const struct phd_config_key entry_keys[] = {
	{ "name", PHD_CFG_STRING, PHD_CFG_REQUIRED, NULL, "the Secret's name" },
	{ "keys", PHD_CFG_MAP, PHD_CFG_REQUIRED, NULL, "{KEY: VARIABLE, ...}" },
	{ "type", PHD_CFG_STRING, 0, NULL, "the Secret's type" },
	{ "allow_empty", PHD_CFG_BOOL, 0, NULL, "accept empty variables" },
	PHD_CONFIG_END
};

static int provide(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink,
		   void *userdata)
{
	const phd_node *keys, *n;
	const char *name;
	struct sc_pos pos;
	int allow_empty = 0, rc;
	size_t i;

	(void)userdata;
	if ((rc = sc_check_entry(ctx, PLUGIN, entry, entry_keys)) ||
	    (rc = sc_get_str(ctx, PLUGIN, entry, "name", 1, &name)) ||
	    (rc = sc_get_keymap(ctx, PLUGIN, entry, "keys", 1, &keys)))
		return rc;
	if (!phd_is_dns1123_subdomain(name))
		return phd_set_error(ctx, PHD_EINVAL,
				     "%s: %s: \"%s\" is not a valid Secret name (lowercase RFC 1123 "
				     "subdomain)", sc_pos(&pos, phd_node_get(entry, "name")), PLUGIN,
				     name);
	if ((n = phd_node_get(entry, "allow_empty")) && phd_node_bool(n, &allow_empty))
		return phd_set_error(ctx, PHD_ETYPE, "%s: %s: \"allow_empty:\" must be a boolean",
				     sc_pos(&pos, n), PLUGIN);
	/* check every variable before adding any: no half-built Secret */
	for (i = 0; i < phd_node_len(keys); i++) {
		const phd_node *v = phd_node_at(keys, i);
		const char *var = phd_node_str(v), *val;

		if (!valid_var(var))
			return phd_set_error(ctx, PHD_EINVAL,
					     "%s: %s: \"%s\" is not an environment variable name",
					     sc_pos(&pos, v), PLUGIN, var);
		val = getenv(var);
		if (!val)
			return phd_set_error(ctx, PHD_ENOTFOUND,
					     "%s: %s: environment variable %s is not set "
					     "(Secret %s, key %s)", sc_pos(&pos, v), PLUGIN, var, name,
					     phd_node_key_at(keys, i));
		if (!*val && !allow_empty)
			return phd_set_error(ctx, PHD_EINVAL,
					     "%s: %s: environment variable %s is empty "
					     "(Secret %s, key %s; allow_empty: true accepts it)",
					     sc_pos(&pos, v), PLUGIN, var, name,
					     phd_node_key_at(keys, i));
	}
	if ((rc = phd_secret_declare(sink, name, sc_pos(&pos, phd_node_get(entry, "name")))))
		return rc;
	for (i = 0; i < phd_node_len(keys); i++) {
		const char *key = phd_node_key_at(keys, i);
		const char *val = getenv(phd_node_str(phd_node_at(keys, i)));

		rc = phd_secret_add(sink, name, key, val, strlen(val), phd_node_at(keys, i));
		if (rc)
			return phd_set_error(ctx, rc, "%s: %s: cannot add key \"%s\" to Secret \"%s\"",
					     sc_pos(&pos, phd_node_at(keys, i)), PLUGIN, key, name);
	}
	return sc_forward_type(ctx, PLUGIN, sink, entry, name);
}

static int init(phd_plugin *p, const phd_node *config)
{
	(void)config;
	return sc_register(p, "env", provide, entry_keys);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("secret-env", "2.0", init, NULL);
