/* Kubernetes Secret manifests (YAML, several documents) → secret sink.
 * Shared by secret-file (files) and secret-exec (format: secret-yaml). */
#ifndef PHD_SECRET_MANIFEST_H
#define PHD_SECRET_MANIFEST_H

#include <stddef.h>
#include <phdeploy/plugin.h>

/* Where each Secret name was last defined (file:line:column), kept in the
 * provider's userdata: the store's origin names only the secrets entry,
 * and a repeated name must be reported with both manifest positions. */
struct sm_memo;
struct sm_memo *sm_memo_new(void);
void sm_memo_free(void *memo);  /* a phd_destroy_fn */
/* Register provider fn under name with a fresh memo as its userdata. */
int sm_register(phd_plugin *p, const char *plugin, const char *name,
		phd_secret_provider_fn fn);

struct sm_source {
	const char *plugin;     /* "secret-file": prefix of messages */
	const char *origin;     /* "postgres.secret.yaml", "stdout of sops" */
	const phd_node *where;  /* the secrets entry (phd_secret_add's where) */
	struct sm_memo *memo;   /* may be NULL */
};

/* Parse buf (at most SC_MAX_INPUT bytes) and add every Secret it defines.
 * Refuses anything but `apiVersion: v1, kind: Secret` in the release
 * namespace, duplicate Secret names (in buf and in the store), bad keys and
 * bad base64, with origin:line:column.  Every copy of a value it makes is
 * wiped; libyaml's buffers too.  buf itself is the caller's to wipe. */
int sm_parse(phd_ctx *ctx, phd_secret_sink *sink, const struct sm_source *src,
	     const char *buf, size_t len);

#endif
