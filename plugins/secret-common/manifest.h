/* Kubernetes Secret manifests (YAML, several documents) → secret sink.
 * Shared by secret-file (files) and secret-exec (format: secret-yaml). */
#ifndef PHD_SECRET_MANIFEST_H
#define PHD_SECRET_MANIFEST_H

#include <stddef.h>
#include <phdeploy/plugin.h>

struct sm_source {
	const char *plugin;     /* "secret-file": prefix of messages */
	const char *origin;     /* "postgres.secret.yaml", "stdout of sops" */
	const phd_node *where;  /* the secrets entry (phd_secret_add's where) */
};

/* Parse buf (at most SC_MAX_INPUT bytes) and add every Secret it defines.
 * Refuses anything but `apiVersion: v1, kind: Secret` in the release
 * namespace, duplicate Secret names (phd_secret_declare), bad keys and
 * bad base64, with origin:line:column.  Every copy of a value it makes is
 * wiped; libyaml's buffers too.  buf itself is the caller's to wipe. */
int sm_parse(phd_ctx *ctx, phd_secret_sink *sink, const struct sm_source *src,
	     const char *buf, size_t len);

#endif
