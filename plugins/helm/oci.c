/* oci:// charts: the manifest of chart.version's tag, its chart layer
 * (application/vnd.cncf.helm.chart.content.v1.tar+gzip) downloaded into the
 * run's directory and checked against its sha256 digest, with helm's
 * registry login (registry/config.json) honoured.  The OCI client is the
 * one the images plugin uses (plugins/common/oci.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "deadline.h"
#include "helm-private.h"
#include "oci.h"

#define HELM_CHART_LAYER "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
#define OCI_TIMEOUT_MS (5LL * 60 * 1000)
#define REGISTRY_CONFIG_MAX ((size_t)1 << 20)

/* Where `helm registry login` writes: $HELM_REGISTRY_CONFIG, else
 * $XDG_CONFIG_HOME/helm/registry/config.json, else ~/.config/... */
static char *registry_config_path(void)
{
	const char *e = getenv("HELM_REGISTRY_CONFIG"), *x = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char *p = NULL;

	if (e && *e)
		return strdup(e);
	if (x && *x) {
		if (asprintf(&p, "%s/helm/registry/config.json", x) < 0)
			return NULL;
		return p;
	}
	if (home && *home && asprintf(&p, "%s/.config/helm/registry/config.json", home) >= 0)
		return p;
	return NULL;
}

static void login_creds(phd_ctx *ctx, const char *registry, char **user, char **pass)
{
	char *path = registry_config_path(), *buf = NULL;
	size_t len = 0;
	FILE *f = path ? fopen(path, "re") : NULL;

	*user = *pass = NULL;
	if (f && (buf = calloc(1, REGISTRY_CONFIG_MAX + 1)))
		len = fread(buf, 1, REGISTRY_CONFIG_MAX + 1, f);
	if (f)
		fclose(f);
	if (buf && len && len <= REGISTRY_CONFIG_MAX &&
	    !oci_auth_lookup(buf, len, registry, user, pass)) {
		phd_redact_add(ctx, *pass, strlen(*pass));
		phd_log(ctx, PHD_LOG_DEBUG, "%s: %s: credentials of helm registry login (%s)",
			HELM_PLUGIN, registry, path);
	}
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	free(path);
}

static int interrupted(void *payload)
{
	return phd_ctx_interrupted(payload);
}

/* The chart layer of a helm chart manifest: its digest, or NULL. */
static const char *chart_layer(json_t *man, json_int_t *size)
{
	json_t *layers = json_object_get(man, "layers"), *l;
	size_t i;

	json_array_foreach(layers, i, l) {
		const char *mt = json_string_value(json_object_get(l, "mediaType"));
		if (mt && !strcmp(mt, HELM_CHART_LAYER)) {
			*size = json_integer_value(json_object_get(l, "size"));
			return json_string_value(json_object_get(l, "digest"));
		}
	}
	return NULL;
}

static int status_error(phd_ctx *ctx, const char *chart, const char *version, int st,
			const char *msg)
{
	int code = st == OCI_NO_TAG || st == OCI_NO_REPO ? PHD_ENOTFOUND :
		   st == OCI_INTERRUPTED ? PHD_EINTR : st == OCI_TIMEOUT ? PHD_ETIMEOUT : PHD_EIO;

	return phd_set_error(ctx, code, "%s: chart %s %s: %s (%s)", HELM_PLUGIN, chart, version,
			     msg, oci_status_name(st));
}

int helm_oci_fetch(phd_ctx *ctx, const char *chart, const char *version, const char *path,
		   char *hex, size_t hexlen)
{
	static const char *const certs_dirs[] = { "/etc/docker/certs.d",
						  "/etc/containers/certs.d", NULL };
	struct oci_conn c = { 0 };
	struct oci_manifest m;
	struct oci_ref ref;
	char *s = NULL, *ca = NULL, *user = NULL, *pass = NULL, err[256], msg[512];
	const char *layer;
	json_int_t size = 0;
	json_t *man = NULL;
	int rc, st;

	if (hexlen < 65)
		return PHD_EINVAL;
	/* OCI tags cannot hold '+': helm pushes 1.2.3+build as 1.2.3_build */
	if (asprintf(&s, "%s:%s", chart + 6, version) < 0)
		return PHD_ENOMEM;
	for (char *p = strrchr(s, ':'); *p; p++)
		if (*p == '+')
			*p = '_';
	rc = oci_ref_parse(&ref, s, err, sizeof(err));
	free(s);
	if (rc)
		return phd_set_error(ctx, PHD_EINVAL, "%s: chart %s version %s: %s", HELM_PLUGIN,
				     chart, version, err);
	/* helm (Go) takes extra CAs from SSL_CERT_FILE: so do we */
	if ((ca = oci_certs_d_ca(certs_dirs, ref.registry)))
		c.cafile = ca;
	else if (getenv("SSL_CERT_FILE") && *getenv("SSL_CERT_FILE"))
		c.cafile = getenv("SSL_CERT_FILE");
	login_creds(ctx, ref.registry, &user, &pass);
	c.user = user;
	c.pass = pass;
	c.deadline = phd_dl_now_ms() + OCI_TIMEOUT_MS;
	c.user_agent = "libphdeploy-helm/" PHD_VERSION_STRING;
	c.interrupted = interrupted;
	c.payload = ctx;
	if ((st = oci_manifest_get(&c, &ref, 1, &m))) {
		rc = status_error(ctx, chart, version, st, m.msg);
		goto out;
	}
	if (!(man = json_loadb(m.body, m.len, 0, NULL)) || !(layer = chart_layer(man, &size))) {
		rc = phd_set_error(ctx, PHD_EINVAL, "%s: %s:%s (%s) is not a helm chart: its "
				   "manifest has no %s layer", HELM_PLUGIN, chart, version, m.digest,
				   HELM_CHART_LAYER);
		goto out;
	}
	if (size < 0 || (unsigned long long)size > HELM_CHART_MAX) {
		rc = phd_set_error(ctx, PHD_ETOOBIG, "%s: chart %s %s: its layer is %lld bytes, over "
				   "the %zu MB limit", HELM_PLUGIN, chart, version, (long long)size,
				   HELM_CHART_MAX >> 20);
		goto out;
	}
	if ((st = oci_blob_get(&c, &ref, layer, path, HELM_CHART_MAX, msg, sizeof(msg)))) {
		rc = status_error(ctx, chart, version, st, msg);
		goto out;
	}
	snprintf(hex, hexlen, "%s", layer + 7);
	phd_log(ctx, PHD_LOG_INFO, "%s: %s:%s (manifest %s) pulled, its chart layer matches "
		"sha256 %.12s...", HELM_PLUGIN, chart, version, m.digest, hex);
	rc = 0;
out:
	json_decref(man);
	oci_manifest_clear(&m);
	oci_ref_free(&ref);
	oci_free_secret(user);
	oci_free_secret(pass);
	free(ca);
	return rc;
}
