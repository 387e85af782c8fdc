/* Internal helpers shared by the secret-* plugins.  Compiled into each
 * plugin (listed in every local.am), never exported: the plugins are linked
 * with -export-symbols-regex '^phd_plugin_desc$'. */
#ifndef PHD_SECRET_COMMON_H
#define PHD_SECRET_COMMON_H

#include <stddef.h>
#include <phdeploy/plugin.h>

/* Largest secret file / command output / HTTP answer we read: Kubernetes
 * caps a Secret at 1 MiB, anything bigger is a mistake or an attack. */
#define SC_MAX_INPUT (1024u * 1024u)

/* "file:line:column" of a config node, for messages. */
struct sc_pos { char s[512]; };
const char *sc_pos(struct sc_pos *p, const phd_node *n);

/* A growable byte buffer whose old copies are wiped when it grows (realloc
 * would leave them behind) and which refuses to grow past max. */
struct sc_buf {
	unsigned char *p;
	size_t len, cap, max;
};
/* 0, PHD_ENOMEM, or PHD_ETOOBIG past b->max (0 means SC_MAX_INPUT). */
int sc_buf_add(struct sc_buf *b, const void *data, size_t n);
/* Keeps a NUL after the data (not counted in len). */
int sc_buf_terminate(struct sc_buf *b);
void sc_buf_wipe(struct sc_buf *b);
/* Wipe and free a NUL-terminated string (NULL is fine). */
void sc_free_str(char *s);

/* Read a whole regular file into b (wiped memory), refusing it unread when
 * it is over b->max.  0, PHD_ENOTFOUND, PHD_EIO (*err: errno, EINVAL for
 * not a regular file), PHD_ETOOBIG, PHD_ENOMEM. */
int sc_read_file(const char *path, struct sc_buf *b, int *err);

/* The entry must be a mapping whose keys are all in allowed (NULL-ended);
 * "provider" is always allowed.  Error names the plugin and the position. */
/* Declare the keys of a secrets: entry with provider: name (validate checks
 * them), then register the provider. */
int sc_register(phd_plugin *p, const char *name, phd_secret_provider_fn fn,
		const struct phd_config_key *entry_keys);
int sc_check_entry(phd_ctx *ctx, const char *plugin, const phd_node *entry,
		   const struct phd_config_key *allowed);
/* A non-empty scalar entry[key]; *out NULL when absent and !required. */
int sc_get_str(phd_ctx *ctx, const char *plugin, const phd_node *entry,
	       const char *key, int required, const char **out);
/* entry[key] as a duration (default when absent), > 0. */
int sc_get_timeout(phd_ctx *ctx, const char *plugin, const phd_node *entry,
		   const char *key, long long def_ms, long long *out_ms);
/* A mapping of NAME: scalar (keys: {k: v}); non-empty; each key a valid
 * Secret key.  *out NULL when absent and !required. */
int sc_get_keymap(phd_ctx *ctx, const char *plugin, const phd_node *entry,
		  const char *key, int required, const phd_node **out);

/* A Secret data key (names: phd_is_dns1123_subdomain). */
int sc_valid_key(const char *s, size_t len);

/* Strict standard base64 (padding required; '\n' and '\r' skipped, as
 * Kubernetes does).  out needs (inlen / 4) * 3 + 3 bytes.  Returns 0, or -1
 * with *bad the 0-based offset of the first offending character. */
int sc_b64_decode(unsigned char *out, size_t *outlen, const char *in, size_t inlen,
		  size_t *bad);

/* Forward entry `type:` (if any) to the sink for secret name. */
int sc_forward_type(phd_ctx *ctx, const char *plugin, phd_secret_sink *sink,
		    const phd_node *entry, const char *name);

#endif
