/* repo phase: resolve the chart to one local archive and publish it
 * (phd_ctx_set_chart_resolved) for render, deploy and the journal.
 *  - repo/name: the repository's index.yaml fetched with libcurl, the
 *    version resolved from it (pre-releases refused unless asked for,
 *    unknown versions answered with the nearest ones), the archive
 *    downloaded into the run's tmpdir and checked against the index's
 *    sha256 digest.  helm's own repository list and cache are neither read
 *    nor written: no `helm repo add`, no `helm repo update`;
 *  - a local .tgz or directory: no network at all, name and version read
 *    with helm show chart and the pin checked against them, a .tgz hashed;
 *  - oci://: with chart.version, the manifest of that tag and its chart
 *    layer pulled from the registry (oci.c), the layer's sha256 checked;
 *    without a pin helm resolves the newest tag itself. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helm-private.h"

#define REPO_TIMEOUT_MS (5LL * 60 * 1000)
#define POSTHOG_REPO_URL "https://posthog.github.io/charts-clickhouse/"

struct repo_cfg {
	const char *repo, *name;        /* from "repo/name" */
	const char *url, *index;
	const phd_node *name_node, *index_node;
	int allow_pre;
};

static int node_error(phd_ctx *ctx, const phd_node *n, const char *fmt, ...) PHD_PRINTF(3, 4);
static int node_error(phd_ctx *ctx, const phd_node *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return phd_set_error(ctx, PHD_EINVAL, "%s:%u:%u: %s", phd_node_file(n), phd_node_line(n),
			     phd_node_column(n), msg);
}

static int read_cfg(phd_ctx *ctx, struct repo_cfg *rc)
{
	const phd_node *chart = phd_node_get(phd_ctx_config(ctx), "chart");
	const phd_node *ap = phd_node_get(chart, "allow_prerelease");

	if (phd_node_type(chart) != PHD_NODE_MAP)
		chart = NULL;
	if (ap && phd_node_bool(ap, &rc->allow_pre))
		return node_error(ctx, ap, "chart.allow_prerelease: expected true or false");
	rc->name_node = phd_node_get(chart, "repo.name");
	rc->url = phd_node_str(phd_node_get(chart, "repo.url"));
	rc->index_node = phd_node_get(chart, "repo.index");
	rc->index = phd_node_str(rc->index_node);
	if (rc->name_node && strcmp(phd_node_str(rc->name_node) ? phd_node_str(rc->name_node) : "",
				    rc->repo))
		return node_error(ctx, rc->name_node, "chart.repo.name is \"%s\" but the chart "
				  "reference names repository \"%s\"",
				  phd_node_str(rc->name_node) ? phd_node_str(rc->name_node) : "",
				  rc->repo);
	if (!rc->url && !strcmp(rc->repo, "posthog"))
		rc->url = POSTHOG_REPO_URL;
	return 0;
}

/* A relative chart.repo.index is relative to the config file. */
static char *index_source(const struct repo_cfg *rc)
{
	struct stat st;
	char *out = NULL;

	if (rc->index && rc->index[0] != '/' && strncmp(rc->index, "file://", 7) &&
	    phd_node_file(rc->index_node) && strchr(phd_node_file(rc->index_node), '/')) {
		char *f = strdup(phd_node_file(rc->index_node));
		if (f && asprintf(&out, "%s/%s", dirname(f), rc->index) < 0)
			out = NULL;
		free(f);
		return out;
	}
	if (rc->index)
		return strdup(rc->index);
	if (!rc->url)
		return NULL;
	/* file:// may name the index file itself (a test fixture, a mirror) */
	if (!strncmp(rc->url, "file://", 7) && !stat(rc->url + 7, &st) && S_ISREG(st.st_mode))
		return strdup(rc->url);
	if (asprintf(&out, "%s%sindex.yaml", rc->url,
		     rc->url[strlen(rc->url) - 1] == '/' ? "" : "/") < 0)
		return NULL;
	return out;
}

/* Relative archive URLs are resolved as helm does: against the
 * repository URL taken as a directory.  An index named on its own
 * (chart.repo.index, or a file:// URL naming the index file) is its own
 * base; a plain path becomes a file:// URL. */
static char *archive_base(const struct repo_cfg *rc, const char *src)
{
	char *out = NULL, *real;

	if (rc->url && !rc->index && strcmp(src, rc->url)) {
		size_t n = strlen(rc->url);
		if (asprintf(&out, "%s%s", rc->url, n && rc->url[n - 1] == '/' ? "" : "/") < 0)
			return NULL;
		return out;
	}
	if (strstr(src, "://"))
		return strdup(src);
	if (!(real = realpath(src, NULL)))
		return NULL;
	if (asprintf(&out, "file://%s", real) < 0)
		out = NULL;
	free(real);
	return out;
}

/* <name>-<version>.tgz in the run's tmpdir; the version comes from an
 * untrusted index, so nothing but [A-Za-z0-9._+-] reaches the name. */
static char *archive_path(phd_ctx *ctx, const char *name, const char *version)
{
	const char *tmp = phd_ctx_tmpdir(ctx);
	char *p = NULL, *base;

	if (!tmp || asprintf(&p, "%s/%s-%s.tgz", tmp, name, version) < 0)
		return NULL;
	for (base = p + strlen(tmp) + 1; *base; base++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-",
			    *base))
			*base = '_';
	return p;
}

static int is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* Download e's archive and check it against the index digest. */
static int download(phd_ctx *ctx, const struct repo_cfg *rc, const char *src,
		    const struct helm_index_entry *e, char **path_out, char *hex, size_t hexlen)
{
	const char *want = e->digest;
	char *base = NULL, *url = NULL, *path = NULL;
	int r;

	*path_out = NULL;
	if (!e->url)
		return phd_set_error(ctx, PHD_ENOTFOUND, "%s: chart %s/%s %s in %s lists no "
				     "archive URL (urls:)", HELM_PLUGIN, rc->repo, rc->name,
				     e->version, src);
	base = archive_base(rc, src);
	url = base ? helm_url_resolve(base, e->url) : NULL;
	if (!url) {
		r = phd_set_error(ctx, PHD_EINVAL, "%s: chart %s/%s %s in %s: cannot resolve the "
				  "archive URL \"%s\"", HELM_PLUGIN, rc->repo, rc->name, e->version,
				  src, e->url);
		goto out;
	}
	if (!(path = archive_path(ctx, rc->name, e->version))) {
		r = phd_set_error(ctx, PHD_EIO, "%s: no run directory for the chart archive",
				  HELM_PLUGIN);
		goto out;
	}
	/* a network index may not send us to local files */
	if ((r = helm_download(ctx, url, !is_url(src), path, HELM_CHART_MAX, hex, hexlen)))
		goto out;
	if (want && !strncmp(want, "sha256:", 7))
		want += 7;
	if (!want || !*want) {
		phd_log(ctx, PHD_LOG_WARN, "%s: the index gives no digest for %s/%s %s: the archive "
			"(sha256 %s) is not verified", HELM_PLUGIN, rc->repo, rc->name, e->version,
			hex);
	} else if (strcasecmp(hex, want)) {
		unlink(path);
		r = phd_set_error(ctx, PHD_EFAILED, "%s: digest mismatch for %s: the index %s says "
				  "sha256 %s, the archive downloaded from %s is %s; the repository "
				  "(or something between) serves another chart than it lists; "
				  "refusing it", HELM_PLUGIN, strrchr(path, '/') + 1, src, want, url,
				  hex);
		goto out;
	} else {
		phd_log(ctx, PHD_LOG_INFO, "%s: %s from %s matches the index digest (sha256 %.12s...)",
			HELM_PLUGIN, strrchr(path, '/') + 1, url, hex);
	}
	*path_out = path;
	path = NULL;
out:
	free(base);
	free(url);
	free(path);
	return r;
}

static int publish(phd_ctx *ctx, int source, const char *name, const char *version,
		   const char *hex, const char *archive)
{
	struct phd_chart_ref ref = PHD_CHART_REF_INIT;
	char digest[80];

	ref.source = source;
	ref.name = name && *name ? name : NULL;
	ref.chart_version = version && *version ? version : NULL;
	if (hex) {
		snprintf(digest, sizeof(digest), "sha256:%s", hex);
		ref.digest = digest;
	}
	ref.archive = archive;
	return phd_ctx_set_chart_resolved(ctx, &ref);
}

static int repo_chart(struct helm *h, phd_ctx *ctx, const struct repo_cfg *rc)
{
	const char *pin = phd_ctx_chart_version(ctx);
	const struct helm_index_entry *e;
	struct helm_index idx;
	char *src = index_source(rc), *buf = NULL, *path = NULL, err[512], hex[65];
	size_t len = 0;
	int r;

	if (!src) {
		phd_log(ctx, PHD_LOG_WARN, "%s: repository %s is not configured (chart.repo.url): "
			"helm must already know it, and neither the version nor the digest is "
			"checked", HELM_PLUGIN, rc->repo);
		return 0;
	}
	if ((r = helm_index_fetch(ctx, src, HELM_INDEX_MAX, &buf, &len)))
		goto out;
	if ((r = helm_index_parse(&idx, buf, len, rc->name, src, err, sizeof(err)))) {
		r = phd_set_error(ctx, r, "%s: %s", HELM_PLUGIN, err);
		goto out;
	}
	if ((r = helm_index_resolve(&idx, pin, rc->allow_pre, &e, err, sizeof(err)))) {
		r = phd_set_error(ctx, r, "%s: chart %s/%s in %s: %s", HELM_PLUGIN, rc->repo,
				  rc->name, src, err);
		goto done;
	}
	if (!pin)
		phd_log(ctx, PHD_LOG_WARN, "%s: chart version not pinned: using %s, the newest "
			"%sversion; pin it with chart.version: %s", HELM_PLUGIN, e->version,
			rc->allow_pre ? "" : "stable ", e->version);
	phd_log(ctx, PHD_LOG_INFO, "%s: %s/%s %s (app %s, %s) from %s (%zu versions)",
		HELM_PLUGIN, rc->repo, rc->name, e->version,
		e->app_version ? e->app_version : "?", e->created ? e->created : "?", src, idx.n);
	free(h->version);
	if (!(h->version = strdup(e->version))) {
		r = PHD_ENOMEM;
		goto done;
	}
	if (!(r = download(ctx, rc, src, e, &path, hex, sizeof(hex))))
		r = publish(ctx, PHD_CHART_REPO, rc->name, e->version, hex, path);
done:
	helm_index_free(&idx);
out:
	free(path);
	free(buf);
	free(src);
	return r;
}

/* oci://host/path/name at chart.version: pulled and verified (oci.c). */
static int oci_chart(struct helm *h, phd_ctx *ctx, const char *chart)
{
	const char *pin = phd_ctx_chart_version(ctx), *name = strrchr(chart, '/') + 1;
	char *path = archive_path(ctx, name, pin), hex[65];
	int r;

	if (!path)
		return phd_set_error(ctx, PHD_EIO, "%s: no run directory for the chart archive",
				     HELM_PLUGIN);
	if (!(r = helm_oci_fetch(ctx, chart, pin, path, hex, sizeof(hex)))) {
		free(h->version);
		if (!(h->version = strdup(pin)))
			r = PHD_ENOMEM;
		else
			r = publish(ctx, PHD_CHART_OCI, name, pin, hex, path);
	}
	free(path);
	return r;
}

static int run_step(phd_ctx *ctx, int phase, struct strv *sv, const char *what, unsigned flags,
		    struct phd_exec_result *res)
{
	struct helm_watch w = { 0 };
	int rc = helm_run(ctx, phase, sv, NULL, flags, REPO_TIMEOUT_MS, &w, res);

	rc = helm_fail(ctx, what, rc, res, &w, NULL);
	helm_watch_free(&w);
	return rc;
}

/* A top-level "key: value" of Chart.yaml as helm show chart prints it
 * (unquoted). */
static void chart_field(const char *yaml, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key), n = 0;
	const char *p = yaml;

	*out = '\0';
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			p += kl + 1;
			p += strspn(p, " \t");
			n = strcspn(p, " \t\r\n");
			if (n >= len)
				n = len - 1;
			memcpy(out, p, n);
			out[n] = '\0';
			break;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	/* Chart.yaml may quote it */
	if (n > 1 && (out[0] == '"' || out[0] == '\'') && out[n - 1] == out[0]) {
		memmove(out, out + 1, n - 2);
		out[n - 2] = '\0';
	}
}

/* Name and version from Chart.yaml (helm show chart when it cannot be
 * read in-process), the pin checked,
 * a .tgz hashed: the record then says what a local chart was. */
static int local_chart(struct helm *h, phd_ctx *ctx, int phase, const char *chart)
{
	struct strv sv = { 0 };
	struct phd_exec_result res = { 0 };
	const char *pin = phd_ctx_chart_version(ctx);
	char name[128] = "", got[128] = "", hex[65], *meta;
	struct stat st;
	int r, dir;

	if (stat(chart, &st))
		return phd_set_error(ctx, PHD_ENOTFOUND, "%s: local chart %s does not exist",
				     HELM_PLUGIN, chart);
	dir = S_ISDIR(st.st_mode);
	if (!dir && helm_sha256_file(chart, hex, sizeof(hex)))
		return phd_set_error(ctx, PHD_EIO, "%s: cannot read local chart %s: %s",
				     HELM_PLUGIN, chart, strerror(errno));
	/* read in-process; helm show chart only for what that cannot read */
	if ((meta = helm_chart_yaml(chart, dir))) {
		chart_field(meta, "name", name, sizeof(name));
		chart_field(meta, "version", got, sizeof(got));
		free(meta);
	}
	if (!*name || !*got) {
		helm_argv_start(&sv, ctx);
		strv_add(&sv, "show");
		strv_add(&sv, "chart");
		strv_add(&sv, chart);
		r = run_step(ctx, phase, &sv, "helm show chart", PHD_EXEC_CAPTURE_STDOUT |
			     PHD_EXEC_CAPTURE_STDERR, &res);
		if (r)
			goto out;
		chart_field(res.out ? res.out : "", "name", name, sizeof(name));
		chart_field(res.out ? res.out : "", "version", got, sizeof(got));
	}
	if (pin && strcmp(pin, got)) {
		r = phd_set_error(ctx, PHD_EINVAL, "%s: local chart %s is version %s but "
				  "chart.version pins %s", HELM_PLUGIN, chart, *got ? got : "(none)",
				  pin);
		goto out;
	}
	phd_log(ctx, PHD_LOG_INFO, "%s: local chart %s, version %s (offline: no repository)",
		HELM_PLUGIN, chart, *got ? got : "?");
	r = publish(ctx, dir ? PHD_CHART_DIR : PHD_CHART_FILE, name, got, dir ? NULL : hex, chart);
out:
	(void)h;
	phd_exec_result_clear(&res);
	strv_free(&sv);
	return r;
}

int helm_repo_phase(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	struct helm *h = userdata;
	const char *chart = phd_ctx_chart(ctx);
	struct repo_cfg rc = { 0 };
	char *ref;
	int r;

	(void)mode;  /* the same in every mode; dry runs show, below */

	if (!chart || !*chart)
		return phd_set_error(ctx, PHD_EINVAL, "%s: no chart: set chart.name or --chart",
				     HELM_PLUGIN);
	phd_ctx_set_chart_resolved(ctx, NULL);   /* nothing of an earlier run */
	if (helm_chart_is_local(chart))
		return local_chart(h, ctx, phase, chart);
	if (!strncmp(chart, "oci://", 6)) {
		if (!phd_ctx_chart_version(ctx)) {
			phd_log(ctx, PHD_LOG_WARN, "%s: %s is not pinned: helm takes the newest tag "
				"and nothing is verified; set chart.version", HELM_PLUGIN, chart);
			return 0;
		}
		return oci_chart(h, ctx, chart);
	}
	if (!strchr(chart, '/') || strchr(chart, '/') != strrchr(chart, '/'))
		return phd_set_error(ctx, PHD_EINVAL, "%s: chart %s is none of repo/name, a local "
				     ".tgz or directory, oci://...", HELM_PLUGIN, chart);
	if (!(ref = strdup(chart)))
		return PHD_ENOMEM;
	rc.name = strchr(ref, '/') + 1;
	*strchr(ref, '/') = '\0';
	rc.repo = ref;
	if (!(r = read_cfg(ctx, &rc)))
		r = repo_chart(h, ctx, &rc);
	free(ref);
	return r;
}
