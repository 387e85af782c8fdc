/* What the PostHog chart (30.46.0) pulls by default, through which values
 * keys, and which images the world has taken away since. */
#include <stdio.h>
#include <string.h>

#include "images.h"

/* The images the values enable and that are known to be gone (or whose
 * values key a finding must name); checked offline in validate. */
const struct img_chart_image img_chart_images[] = {
	{ "zookeeper.image", "docker.io", "bitnami/zookeeper", "3.7.0-debian-10-r70",
	  "zookeeper.enabled", 1 },
	{ "pgbouncer.image", "docker.io", "bitnami/pgbouncer", "1.18.0", NULL, 1 },
	{ "kafka.image", "docker.io", "bitnami/kafka", "2.8.1-debian-10-r99", "kafka.enabled", 1 },
	{ "redis.image", "docker.io", "bitnami/redis", "6.2.7-debian-10-r0", "redis.enabled", 1 },
	{ "postgresql.image", "docker.io", "bitnami/postgresql", "11.7.0-debian-10-r9",
	  "postgresql.enabled", 1 },
	{ "minio.image", "docker.io", "bitnami/minio", "2022.5.8-debian-10-r0", "minio.enabled", 0 },
	{ "eventrouter.image", "gcr.io", "heptio-images/eventrouter", "v0.3",
	  "eventrouter.enabled", 0 },
	{ NULL, NULL, NULL, NULL, NULL, 0 }
};

/* Chart defaults of the other images, for naming the values key of a
 * rendered image the user did not set. */
static const struct {
	const char *repo, *prefix;
} chart_keys[] = {
	{ "posthog/posthog", "image.repository" },
	{ "bitnami/zookeeper", "zookeeper.image.repository" },
	{ "bitnami/pgbouncer", "pgbouncer.image.repository" },
	{ "prometheuscommunity/pgbouncer-exporter", "pgbouncer.exporter.image.repository" },
	{ "clickhouse/clickhouse-server", "clickhouse.image.repository" },
	{ "altinity/clickhouse-backup", "clickhouse.backup.image.repository" },
	{ "gcr.io/heptio-images/eventrouter", "eventrouter.image.repository" },
	{ "library/busybox", "busybox.image" },
	{ "bitnami/kafka", "kafka.image.repository" },
	{ "bitnami/redis", "redis.image.repository" },
	{ "bitnami/postgresql", "postgresql.image.repository" },
	{ "bitnami/minio", "minio.image.repository" },
	{ "bitnami/minio-client", "minio.clientImage.repository" },
	{ "bitnami/bitnami-shell", "zookeeper.volumePermissions.image.repository" },
	{ NULL, NULL }
};

int img_chart_prefix(const char *key)
{
	for (size_t i = 0; key && img_chart_images[i].prefix; i++) {
		size_t n = strlen(img_chart_images[i].prefix);
		if (!strncmp(img_chart_images[i].prefix, key, n) && key[n] == '.')
			return 1;
	}
	return 0;
}

/* "bitnami/zookeeper" for docker.io, "gcr.io/heptio-images/eventrouter"
 * elsewhere: how values files write repositories. */
static void short_repo(const struct oci_ref *ref, char *buf, size_t len)
{
	if (!strcmp(ref->registry, "docker.io"))
		snprintf(buf, len, "%s", ref->repo);
	else
		snprintf(buf, len, "%s/%s", ref->registry, ref->repo);
}

/* exact: the whole reference must match (a scalar image: names its tag
 * too), else the registry and repository (a repository: key, whose tag is
 * a key of its own). */
static int same_image(const char *value, const struct oci_ref *ref, int exact)
{
	struct oci_ref v;
	char err[128];
	int same;

	if (!value || oci_ref_parse(&v, value, err, sizeof(err)))
		return 0;
	same = !strcmp(v.registry, ref->registry) && !strcmp(v.repo, ref->repo);
	if (same && exact)
		same = !strcmp(v.tag ? v.tag : "", ref->tag ? ref->tag : "") &&
		       !strcmp(v.digest ? v.digest : "", ref->digest ? ref->digest : "");
	oci_ref_free(&v);
	return same;
}

struct walk {
	const struct oci_ref *ref;
	char *buf;
	size_t len;
	const phd_node *where;
	int depth;
};

static int walk(struct walk *w, const phd_node *n, const char *path);

static int visit(struct walk *w, const phd_node *parent, const char *k, const phd_node *c,
		 const char *sub)
{
	if (k && !strcmp(k, "repository") && phd_node_str(c)) {
		const char *reg = phd_node_str(phd_node_get(parent, "registry"));
		const char *tag = phd_node_str(phd_node_get(parent, "tag"));
		char full[600];
		snprintf(full, sizeof(full), "%s%s%s", reg ? reg : "", reg ? "/" : "",
			 phd_node_str(c));
		/* a tag: beside it must be the image's */
		if (same_image(full, w->ref, 0) &&
		    (!tag || !*tag || !w->ref->tag || !strcmp(tag, w->ref->tag))) {
			snprintf(w->buf, w->len, "%s", sub);
			w->where = c;
			return 1;
		}
	}
	if (k && !strcmp(k, "image") && phd_node_type(c) == PHD_NODE_SCALAR &&
	    same_image(phd_node_str(c), w->ref, 1)) {
		snprintf(w->buf, w->len, "%s", sub);
		w->where = c;
		return 1;
	}
	return walk(w, c, sub);
}

/* The user's values: a map with `repository:` (plus `registry:`, `tag:`)
 * or a scalar `image:` naming the same image; lists as helm's --set
 * writes them (apps[0].image). */
static int walk(struct walk *w, const phd_node *n, const char *path)
{
	char sub[512];
	int found = 0;

	if (w->depth > 12)
		return 0;
	w->depth++;
	if (phd_node_type(n) == PHD_NODE_MAP) {
		for (size_t i = 0; i < phd_node_len(n) && !found; i++) {
			const char *k = phd_node_key_at(n, i);
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k ? k : "");
			found = visit(w, n, k, phd_node_at(n, i), sub);
		}
	} else if (phd_node_type(n) == PHD_NODE_SEQ) {
		for (size_t i = 0; i < phd_node_len(n) && !found; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			found = walk(w, phd_node_at(n, i), sub);
		}
	}
	w->depth--;
	return found;
}

const char *img_values_key(const phd_node *values, const struct oci_ref *ref,
			   const phd_node **where, char *buf, size_t len)
{
	struct walk w = { ref, buf, len, NULL, 0 };
	char repo[512];

	*where = NULL;
	if (walk(&w, values, "")) {
		*where = w.where;
		return buf;
	}
	short_repo(ref, repo, sizeof(repo));
	for (size_t i = 0; chart_keys[i].repo; i++)
		if (!strcmp(chart_keys[i].repo, repo)) {
			snprintf(buf, len, "%s", chart_keys[i].prefix);
			return buf;
		}
	return NULL;
}

const char *img_gone(const struct oci_ref *ref, char *fix, size_t fixlen)
{
	/* Bitnami withdrew every versioned tag of its docker.io/bitnami images in 2025;
	 * the same tags live on under bitnamilegacy/ (no more updates). */
	if (!strcmp(ref->registry, "docker.io") && !strncmp(ref->repo, "bitnami/", 8) &&
	    ref->tag && strcmp(ref->tag, "latest")) {
		snprintf(fix, fixlen, "bitnamilegacy/%s", ref->repo + 8);
		return "Bitnami withdrew its versioned tags from docker.io/bitnami in 2025";
	}
	/* Container Registry stopped serving gcr.io in 2025, and Heptio's
	 * project bucket with it. */
	if (!strcmp(ref->registry, "gcr.io") && !strncmp(ref->repo, "heptio-images/", 14)) {
		snprintf(fix, fixlen, "a maintained build of %s", ref->repo + 14);
		return "gcr.io/heptio-images no longer serves images";
	}
	return NULL;
}
