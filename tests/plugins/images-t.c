/* The images plugin's offline parts: image references as docker
 * normalises them (and refuses), docker-style auths, the images known to
 * be gone, the values key that sets an image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "values-ctx.h"
#include "images.h"

static void ref_is(const char *in, const char *reg, const char *host, const char *repo,
		   const char *tag, const char *digest)
{
	struct oci_ref r;
	char err[128] = "";

	if (oci_ref_parse(&r, in, err, sizeof(err))) {
		tap_ok(0, "%s parses (%s)", in, err);
		return;
	}
	tap_ok(!strcmp(r.registry, reg) && !strcmp(r.host, host) && !strcmp(r.repo, repo) &&
	       !strcmp(r.tag ? r.tag : "-", tag) && !strcmp(r.digest ? r.digest : "-", digest),
	       "%s: registry %s (API %s), repository %s, tag %s", in, r.registry, r.host, r.repo,
	       r.tag ? r.tag : "-");
	oci_ref_free(&r);
}

static void ref_bad(const char *in, const char *why)
{
	struct oci_ref r;
	char err[128] = "";
	int rc = oci_ref_parse(&r, in, err, sizeof(err));

	tap_ok(rc == -1 && strstr(err, why), "\"%s\" is refused: %s", in, err);
}

static int lookup(const char *json, const char *registry, char **u, char **p)
{
	return oci_auth_lookup(json, strlen(json), registry, u, p);
}

static const char *key_of(phd_ctx *ctx, const char *image, char *buf, size_t len)
{
	struct oci_ref r;
	const phd_node *where;
	const char *k;
	char err[128];

	if (oci_ref_parse(&r, image, err, sizeof(err)))
		return "(bad)";
	k = img_values_key(phd_ctx_values(ctx), &r, &where, buf, len);
	oci_ref_free(&r);
	return k ? k : "(none)";
}

static const char *gone(const char *image, char *fix, size_t len)
{
	struct oci_ref r;
	char err[128];
	const char *why;

	*fix = '\0';
	if (oci_ref_parse(&r, image, err, sizeof(err)))
		return NULL;
	why = img_gone(&r, fix, len);
	oci_ref_free(&r);
	return why;
}

int main(void)
{
	const char *d = "sha256:33a76600441b96ea90386cf1347d6a0eee908a76a9424bc3650e5efa7640b4dc";
	char buf[256], fix[128], *u = NULL, *p = NULL, in[200];
	phd_ctx *ctx;

	ref_is("busybox:1.34", "docker.io", "registry-1.docker.io", "library/busybox", "1.34", "-");
	ref_is("posthog/posthog", "docker.io", "registry-1.docker.io", "posthog/posthog", "latest",
	       "-");
	ref_is("docker.io/bitnami/zookeeper:3.7.0-debian-10-r70", "docker.io",
	       "registry-1.docker.io", "bitnami/zookeeper", "3.7.0-debian-10-r70", "-");
	ref_is("index.docker.io/library/redis", "docker.io", "registry-1.docker.io",
	       "library/redis", "latest", "-");
	ref_is("127.0.0.1:5000/phd/app:v1", "127.0.0.1:5000", "127.0.0.1:5000", "phd/app", "v1",
	       "-");
	ref_is("localhost/app", "localhost", "localhost", "app", "latest", "-");
	snprintf(in, sizeof(in), "ghcr.io/org/img@%s", d);
	ref_is(in, "ghcr.io", "ghcr.io", "org/img", "-", d);
	snprintf(in, sizeof(in), "quay.io/org/img:v2@%s", d);
	ref_is(in, "quay.io", "quay.io", "org/img", "v2", d);
	ref_bad("", "not an image reference");
	ref_bad("Posthog/Posthog:1", "lowercase");
	ref_bad("app:-bad", "the tag");
	ref_bad("app@sha256:1234", "sha256:<64 hex>");
	ref_bad("host:5000:6000/app", "HOST:PORT");
	ref_bad("reg.io/app:1/b", "':' inside the repository path");
	ref_bad("a//b", "lowercase");
	ref_bad("app with space", "not an image reference");

	tap_is_int(lookup("{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"cGhkOnMzY3I6ZXQ=\"}}}",
			  "127.0.0.1:5000", &u, &p), 0,
		   "a .dockerconfigjson auth for the registry is found");
	tap_ok(u && p && !strcmp(u, "phd") && !strcmp(p, "s3cr:et"),
	       "auth: base64 user:password, a ':' in the password kept");
	oci_free_secret(u);
	oci_free_secret(p);
	tap_is_int(lookup("{\"auths\":{\"https://index.docker.io/v1/\":{\"username\":\"u\","
			  "\"password\":\"pw\"}}}", "docker.io", &u, &p), 0,
		   "Docker Hub's legacy key names docker.io; username/password are read");
	oci_free_secret(u);
	oci_free_secret(p);
	tap_is_int(lookup("{\"auths\":{\"other:5000\":{\"auth\":\"cGhkOnB3\"}}}",
			  "127.0.0.1:5000", &u, &p), -1, "another registry's auth is not used");
	tap_is_int(lookup("{\"auths\":{\"r\":{\"auth\":\"!!!!\"}}}", "r", &u, &p), -1,
		   "bad base64 is no credential");
	tap_is_int(lookup("not json", "r", &u, &p), -1, "not JSON: no credential");

	tap_like(gone("bitnami/pgbouncer:1.18.0", fix, sizeof(fix)), "withdrew",
		 "bitnami/pgbouncer:1.18.0 is withdrawn");
	tap_is_str(fix, "bitnamilegacy/pgbouncer", "... and lives on under bitnamilegacy/");
	tap_ok(gone("bitnami/redis:latest", fix, sizeof(fix)) == NULL,
	       "bitnami/*:latest is not among the withdrawn versioned tags");
	tap_ok(gone("bitnamilegacy/zookeeper:3.7.0-debian-10-r70", fix, sizeof(fix)) == NULL,
	       "bitnamilegacy/zookeeper is not withdrawn");
	tap_like(gone("gcr.io/heptio-images/eventrouter:v0.3", fix, sizeof(fix)),
		 "no longer serves", "gcr.io/heptio-images no longer serves");
	tap_ok(gone("ghcr.io/bitnami/redis:7", fix, sizeof(fix)) == NULL,
	       "bitnami/ on another registry is not Docker Hub's");

	ctx = values_ctx("zookeeper:\n  image:\n    registry: docker.io\n"
			  "    repository: bitnamilegacy/zookeeper\n    tag: 3.7.0-debian-10-r70\n"
			  "apps:\n  - image: reg.example.com/a/b:1\n  - image: reg.example.com/a/b:2\n");
	tap_is_str(key_of(ctx, "docker.io/bitnamilegacy/zookeeper:3.7.0-debian-10-r70", buf,
			  sizeof(buf)), "zookeeper.image.repository",
		   "the user's values key of an image (registry, repository, tag beside it)");
	tap_is_str(key_of(ctx, "docker.io/bitnamilegacy/zookeeper:3.8", buf, sizeof(buf)),
		   "(none)", "a repository: whose tag: is another image's is not its key");
	tap_is_str(key_of(ctx, "reg.example.com/a/b:2", buf, sizeof(buf)), "apps[1].image",
		   "a scalar image in a list: its key as --set writes it");
	tap_is_str(key_of(ctx, "bitnami/pgbouncer:1.18.0", buf, sizeof(buf)),
		   "pgbouncer.image.repository", "the chart's default: its values key");
	tap_is_str(key_of(ctx, "busybox:1.34", buf, sizeof(buf)), "busybox.image",
		   "busybox is set by the scalar busybox.image");
	tap_ok(img_chart_prefix("zookeeper.image.repository") && !img_chart_prefix("image.repository"),
	       "validate covers zookeeper.image, not the PostHog image");
	phd_ctx_free(ctx);
	return tap_done();
}
