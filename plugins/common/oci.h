/* A client of the OCI distribution API (libcurl): image references,
 * manifests (HEAD and bounded GET), blobs, the registries' auth flows
 * (anonymous or basic bearer tokens from a WWW-Authenticate challenge,
 * basic auth) and where a registry's CA is found.  Used by the images
 * plugin (every image of the release) and the helm plugin (oci:// charts).
 * Compiled into each plugin that uses it, nothing exported.  Nothing here
 * touches a phd_ctx: the images plugin calls it from worker threads. */
#ifndef PHD_OCI_H
#define PHD_OCI_H

#include <stddef.h>

/* What a manifest GET may bring (an index of a few hundred platforms is
 * far below): anything bigger is refused unread. */
#define OCI_MANIFEST_MAX ((size_t)4 << 20)
/* A token answer. */
#define OCI_TOKEN_MAX ((size_t)64 << 10)

/* docker.io/library/busybox:1.34 after docker's normalisation. */
struct oci_ref {
	char *registry;   /* "docker.io", "ghcr.io", "127.0.0.1:5000" */
	char *host;       /* API host[:port]: docker.io's is registry-1.docker.io */
	char *repo;       /* "library/busybox" */
	char *tag;        /* "1.34", "latest" when neither tag nor digest; NULL with a digest only */
	char *digest;     /* "sha256:<64 hex>" or NULL */
};
/* Parse s (an image as a pod spec names it, or a chart reference without
 * its oci:// prefix).  0, or -1 with err set (no allocation left). */
int oci_ref_parse(struct oci_ref *r, const char *s, char *err, size_t errlen);
void oci_ref_free(struct oci_ref *r);
/* registry/repo[:tag][@digest] (malloc'd). */
char *oci_ref_str(const struct oci_ref *r);

/* How to reach one registry. */
struct oci_conn {
	const char *cafile;        /* CA bundle, NULL: the system's */
	int insecure;              /* plain http allowed (config only) */
	const char *user;          /* basic credentials or NULL (never logged) */
	const char *pass;
	long long deadline;        /* absolute, phd_dl_now_ms() clock */
	const char *user_agent;
	int (*interrupted)(void *payload);   /* may be NULL: abort when it returns 1 */
	void *payload;
};

enum oci_status {
	OCI_OK = 0,
	OCI_NO_TAG,          /* the repository exists, not the tag/digest */
	OCI_NO_REPO,         /* the registry does not know the repository */
	OCI_DENIED,          /* 401/403 with whatever credentials we had */
	OCI_UNREACHABLE,     /* DNS, connect, TLS */
	OCI_TIMEOUT,         /* the deadline passed */
	OCI_BAD_ANSWER,      /* too big, not a manifest, a redirect loop, 5xx */
	OCI_INTERRUPTED
};
const char *oci_status_name(int st);

struct oci_platform {
	char os[32], arch[32], variant[16];
};

struct oci_manifest {
	int status;                    /* enum oci_status */
	long http;                     /* last HTTP status (0: none) */
	char digest[80];               /* sha256:<hex> of the manifest */
	char media_type[128];
	int is_index;                  /* an OCI index / docker manifest list */
	struct oci_platform *plat;     /* an index's platforms (malloc'd) */
	size_t nplat;
	char *body;                    /* with want_body: the manifest (malloc'd) */
	size_t len;
	char msg[512];                 /* why, when status != OCI_OK */
};
/* HEAD the manifest of ref (its digest when it has one, else its tag);
 * an index is fetched too (bounded) for its platforms, and so is any
 * manifest with want_body.  Returns m->status. */
int oci_manifest_get(const struct oci_conn *c, const struct oci_ref *ref, int want_body,
		     struct oci_manifest *m);
void oci_manifest_clear(struct oci_manifest *m);

/* Download blob digest ("sha256:...") of ref's repository into path
 * (created 0600), refusing more than max bytes and checking its sha256.
 * Returns an enum oci_status; msg says why. */
int oci_blob_get(const struct oci_conn *c, const struct oci_ref *ref, const char *digest,
		 const char *path, size_t max, char *msg, size_t msglen);

/* The CA docker and containerd use for host ("HOST:PORT" or "HOST"):
 * <dir>/<host>/ca.crt for each dir of dirs (NULL-ended), malloc'd or NULL. */
char *oci_certs_d_ca(const char *const *dirs, const char *host);

/* user:pass from a docker-style config.json's auths (helm's registry
 * login, a .dockerconfigjson imagePullSecret) for registry: 0 with *user
 * and *pass malloc'd (wipe them), -1 when none applies. */
int oci_auth_lookup(const char *json, size_t len, const char *registry, char **user,
		    char **pass);

/* Wipe and free a string. */
void oci_free_secret(char *s);

#endif
