/* repo phase: make the chart resolvable and pin it.
 *  - repo/name: helm repo add + update, the version resolved from the
 *    repository's index.yaml (pre-releases refused unless asked for,
 *    unknown versions answered with the nearest ones), the chart pulled into
 *    the run's tmpdir and checked against the index's sha256 digest;
 *  - a local .tgz or directory: no network at all, the pin checked against
 *    its Chart.yaml;
 *  - oci://: helm resolves it at deploy; only the pin is checked for. */
#include <dirent.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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

static int resolve(struct helm *h, phd_ctx *ctx, const struct repo_cfg *rc, char **digest)
{
	const char *pin = phd_ctx_chart_version(ctx);
	const struct helm_index_entry *e;
	struct helm_index idx;
	char *src = index_source(rc), *buf = NULL, err[512];
	size_t len = 0;
	int r;

	*digest = NULL;
	if (!src) {
		phd_log(ctx, PHD_LOG_WARN, "%s: repository %s is not configured (chart.repo.url): "
			"helm must already know it, and the version is not checked against its index",
			HELM_PLUGIN, rc->repo);
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
	} else {
		if (!pin)
			phd_log(ctx, PHD_LOG_WARN, "%s: chart version not pinned: using %s, the newest "
				"%sversion; pin it with chart.version: %s", HELM_PLUGIN, e->version,
				rc->allow_pre ? "" : "stable ", e->version);
		phd_log(ctx, PHD_LOG_INFO, "%s: %s/%s %s (app %s, %s) from %s (%zu versions)",
			HELM_PLUGIN, rc->repo, rc->name, e->version,
			e->app_version ? e->app_version : "?", e->created ? e->created : "?", src,
			idx.n);
		free(h->version);
		h->version = strdup(e->version);
		*digest = e->digest ? strdup(e->digest) : NULL;
		if (!h->version)
			r = PHD_ENOMEM;
	}
	helm_index_free(&idx);
out:
	free(buf);
	free(src);
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

static char *find_tgz(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *found = NULL;

	if (!d)
		return NULL;
	while ((de = readdir(d)) && !found) {
		size_t n = strlen(de->d_name);
		if (n > 4 && !strcmp(de->d_name + n - 4, ".tgz") &&
		    asprintf(&found, "%s/%s", dir, de->d_name) < 0)
			found = NULL;
	}
	closedir(d);
	return found;
}

static int verify_digest(phd_ctx *ctx, const char *dir, const char *want)
{
	char hex[65], *tgz = find_tgz(dir);
	int rc = 0;

	if (!tgz)
		return phd_set_error(ctx, PHD_EFAILED, "%s: helm pull left no chart in %s",
				     HELM_PLUGIN, dir);
	if (helm_sha256_file(tgz, hex, sizeof(hex)))
		rc = phd_set_error(ctx, PHD_EIO, "%s: cannot hash %s", HELM_PLUGIN, tgz);
	else if (!want)
		phd_log(ctx, PHD_LOG_WARN, "%s: the index gives no digest for %s: not verified",
			HELM_PLUGIN, tgz);
	else if (strcasecmp(hex, want))
		rc = phd_set_error(ctx, PHD_EFAILED, "%s: digest mismatch for %s: the index says "
				   "sha256 %s, the downloaded file is %s; the repository (or "
				   "something between) serves another chart than it lists; refusing it",
				   HELM_PLUGIN, strrchr(tgz, '/') + 1, want, hex);
	else
		phd_log(ctx, PHD_LOG_INFO, "%s: %s matches the index digest (sha256 %.12s...)",
			HELM_PLUGIN, strrchr(tgz, '/') + 1, hex);
	free(tgz);
	return rc;
}

static int repo_chart(struct helm *h, phd_ctx *ctx, int phase, struct repo_cfg *rc)
{
	struct strv add = { 0 }, upd = { 0 }, pull = { 0 };
	struct phd_exec_result res = { 0 };
	char *digest = NULL, *dir = NULL;
	const char *v;
	int r;

	if ((r = resolve(h, ctx, rc, &digest)))
		return r;
	v = helm_chart_version(h, ctx);
	if (rc->url) {
		helm_argv_start(&add, ctx);
		strv_add(&add, "repo");
		strv_add(&add, "add");
		strv_add(&add, rc->repo);
		strv_add(&add, rc->url);
	}
	helm_argv_start(&upd, ctx);
	strv_add(&upd, "repo");
	strv_add(&upd, "update");
	strv_add(&upd, rc->repo);
	if (asprintf(&dir, "%s/chart-pull", phd_ctx_tmpdir(ctx) ? phd_ctx_tmpdir(ctx) : ".") < 0) {
		dir = NULL;
		r = PHD_ENOMEM;
		goto out;
	}
	helm_argv_start(&pull, ctx);
	strv_add(&pull, "pull");
	strv_add(&pull, phd_ctx_chart(ctx));
	if (v) {
		strv_add(&pull, "--version");
		strv_add(&pull, v);
	}
	strv_add(&pull, "--destination");
	strv_add(&pull, dir);
	if (phd_ctx_dry_run(ctx)) {
		if (rc->url)
			helm_emit_command(ctx, phase, &add, NULL);
		helm_emit_command(ctx, phase, &upd, NULL);
		helm_emit_command(ctx, phase, &pull, NULL);
		goto out;
	}
	if (rc->url && (r = run_step(ctx, phase, &add, "helm repo add", PHD_EXEC_EMIT, &res)))
		goto out;
	phd_exec_result_clear(&res);
	if ((r = run_step(ctx, phase, &upd, "helm repo update", PHD_EXEC_EMIT, &res)))
		goto out;
	phd_exec_result_clear(&res);
	if (mkdir(dir, 0700)) {
		r = phd_set_error(ctx, PHD_EIO, "%s: cannot create %s", HELM_PLUGIN, dir);
		goto out;
	}
	if ((r = run_step(ctx, phase, &pull, "helm pull", PHD_EXEC_EMIT, &res)))
		goto out;
	r = verify_digest(ctx, dir, digest);
out:
	phd_exec_result_clear(&res);
	strv_free(&add);
	strv_free(&upd);
	strv_free(&pull);
	free(digest);
	free(dir);
	return r;
}

/* The version: line of helm show chart (Chart.yaml). */
static int local_chart(struct helm *h, phd_ctx *ctx, int phase, const char *chart)
{
	struct strv sv = { 0 };
	struct phd_exec_result res = { 0 };
	const char *pin = phd_ctx_chart_version(ctx);
	char got[128] = "";
	struct stat st;
	int r;

	if (stat(chart, &st))
		return phd_set_error(ctx, PHD_ENOTFOUND, "%s: local chart %s does not exist",
				     HELM_PLUGIN, chart);
	if (!pin) {
		/* nothing to compare: spare a helm run (it costs more than the render) */
		phd_log(ctx, PHD_LOG_INFO, "%s: local chart %s (offline: no repository)", HELM_PLUGIN,
			chart);
		return 0;
	}
	helm_argv_start(&sv, ctx);
	strv_add(&sv, "show");
	strv_add(&sv, "chart");
	strv_add(&sv, chart);
	r = run_step(ctx, phase, &sv, "helm show chart", PHD_EXEC_CAPTURE_STDOUT |
		     PHD_EXEC_CAPTURE_STDERR, &res);
	if (!r) {
		const char *p = res.out;
		while (p && *p) {
			if (!strncmp(p, "version:", 8)) {
				sscanf(p + 8, " %127[^ \t\r\n]", got);
				break;
			}
			p = strchr(p, '\n');
			p = p ? p + 1 : NULL;
		}
		/* Chart.yaml may quote it */
		if (got[0] == '"' || got[0] == '\'') {
			size_t n = strlen(got);
			memmove(got, got + 1, n);
			if (n > 1 && (got[n - 2] == '"' || got[n - 2] == '\''))
				got[n - 2] = '\0';
		}
		if (strcmp(pin, got))
			r = phd_set_error(ctx, PHD_EINVAL, "%s: local chart %s is version %s but "
					  "chart.version pins %s", HELM_PLUGIN, chart,
					  *got ? got : "(none)", pin);
		else
			phd_log(ctx, PHD_LOG_INFO, "%s: local chart %s, version %s (offline: no "
				"repository)", HELM_PLUGIN, chart, *got ? got : "?");
	}
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
	if (helm_chart_is_local(chart))
		return local_chart(h, ctx, phase, chart);
	if (!strncmp(chart, "oci://", 6)) {
		if (!phd_ctx_chart_version(ctx))
			phd_log(ctx, PHD_LOG_WARN, "%s: %s is not pinned: helm takes the newest tag; "
				"set chart.version", HELM_PLUGIN, chart);
		return 0;
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
		r = repo_chart(h, ctx, phase, &rc);
	free(ref);
	return r;
}
