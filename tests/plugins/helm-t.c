/* The helm plugin's internals: versions and the real repository index,
 * archive URLs and downloads, the repo phase publishing the verified
 * archive, command lines for Helm 3 and 4 (run against the real binaries),
 * the --debug redactor, failure classes, the post-render helper. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap/tap.h"
#include "helm-private.h"

static char fixtures_index[4096], fixtures_chart[4096];
static int have_fixtures;

static void check_semver(void)
{
	static const char *const order[] = { "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
					     "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
					     "30.45.0", "30.46.0-9a71d6834b3b6cb2a8262122d15e18bf119f5a54",
					     "30.46.0", "v30.46.1+build.5" };
	struct semver a, b;
	int sorted = 1;

	for (size_t i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++) {
		if (semver_parse(&a, order[i]) || semver_parse(&b, order[i + 1]) ||
		    semver_cmp(&a, &b) >= 0) {
			tap_diag("%s !< %s", order[i], order[i + 1]);
			sorted = 0;
		}
	}
	tap_ok(sorted, "semver: pre-releases sort before their release, numeric ids numerically");
	tap_ok(semver_parse(&a, "30.46") != 0 && semver_parse(&a, "^30.0.0") != 0 &&
	       semver_parse(&a, "01.2.3") != 0 && semver_parse(&a, "1.2.3-") != 0,
	       "semver: ranges, short and malformed versions are not versions");
}

static void check_real_index(void)
{
	const struct helm_index_entry *e;
	struct helm_index idx;
	char err[512], *buf;
	size_t len;
	int rc;

	if (!have_fixtures) {
		tap_skip(8, "no fixtures at $PHD_FIXTURES (the real index.yaml)");
		return;
	}
	buf = tap_slurp(fixtures_index, &len);
	rc = helm_index_parse(&idx, buf, len, "posthog", "index.yaml", err, sizeof(err));
	tap_is_int(rc, 0, "the real 2.5 MB index parses");
	tap_is_int((long long)idx.n, 737, "all 737 posthog entries are read");
	rc = helm_index_resolve(&idx, "30.46.0", 0, &e, err, sizeof(err));
	tap_ok(rc == 0 && e && !strcmp(e->digest, "799704229a4e1cae3a24c2d601f0ab48fe1455608546a8242b63c327d187ff97"),
	       "30.46.0 resolves with the index's sha256 digest");
	rc = helm_index_resolve(&idx, NULL, 0, &e, err, sizeof(err));
	tap_ok(rc == 0 && e && !strcmp(e->version, "30.46.0"),
	       "no pin resolves to the newest stable version (30.46.0)");
	rc = helm_index_resolve(&idx, "30.46.1", 0, &e, err, sizeof(err));
	tap_is_int(rc, PHD_ENOTFOUND, "an unknown version is not found");
	tap_like(err, "30.46.1 not found; nearest: 30.46.0, 30.45.0",
		 "... and the nearest existing versions are named");
	rc = helm_index_resolve(&idx, "30.46.0-9a71d6834b3b6cb2a8262122d15e18bf119f5a54", 0, &e,
				err, sizeof(err));
	tap_ok(rc == PHD_EINVAL && strstr(err, "allow_prerelease"),
	       "a pre-release pin is refused unless chart.allow_prerelease");
	rc = helm_index_resolve(&idx, "30.46.0-9a71d6834b3b6cb2a8262122d15e18bf119f5a54", 1, &e,
				err, sizeof(err));
	tap_ok(rc == 0 && e && e->sv.pre, "... and accepted with it");
	helm_index_free(&idx);
	free(buf);
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Both parses of text agree: entries (in order), charts, skipped. */
static int same_index(const char *text, size_t len, const char *chart, int *fast_took)
{
	struct helm_index f, y;
	char err[512];
	int rf, ry, same;

	rf = helm_index_parse_fast(&f, text, len, chart);
	ry = helm_index_parse_yaml(&y, text, len, chart, "t.yaml", err, sizeof(err));
	*fast_took = rf == 0;
	if (rf == HELM_FAST_NO)
		same = 1;   /* not its subset: libyaml reads it, nothing to compare */
	else
		same = rf == 0 && ry == 0 && f.n == y.n && f.charts == y.charts &&
		       f.skipped == y.skipped;
	for (size_t i = 0; same && rf == 0 && i < f.n; i++)
		same = same_str(f.e[i].version, y.e[i].version) &&
		       same_str(f.e[i].digest, y.e[i].digest) &&
		       same_str(f.e[i].app_version, y.e[i].app_version) &&
		       same_str(f.e[i].created, y.e[i].created) && same_str(f.e[i].url, y.e[i].url);
	if (!same)
		tap_diag("fast %d (%zu entries, %zu charts, %zu skipped), libyaml %d (%zu, %zu, %zu): %s",
			 rf, rf ? 0 : f.n, rf ? 0 : f.charts, rf ? 0 : f.skipped, ry, y.n, y.charts,
			 y.skipped, ry ? err : "");
	if (rf == 0)
		helm_index_free(&f);
	if (ry == 0)
		helm_index_free(&y);
	return same;
}

static void check_fast_index(void)
{
	/* in the subset, each read as libyaml reads it */
	static const char *const in[] = {
		"apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n    digest: \"ab\"\n"
		"    urls:\n    - 'https://x/a.tgz'\n    - b\n    description: |\n      text: here\n\n"
		"      - more\n    appVersion: 1\n  - created: \"2024\"\n    version: 2.0.0-rc.1\n"
		"  other:\n  - version: 9.9.9\n    dependencies:\n    - name: x\n      version: 1\n"
		"generated: \"now\"\n",
		"entries:\n    posthog:\n        -   version: 1.0.0\n            urls:\n"
		"                - u\n# a comment\n\n        -   version: not-semver\n",
		"apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n    version: 1.0.1\n"
		"    keywords:\n    - a\n    urls: []\n",
	};
	/* outside it, so libyaml reads them (or refuses them, positioned) */
	static const char *const out[] = {
		"apiVersion: v1\nentries:\n  posthog:\n  - version: \"1.0\\u0030\"\n",
		"apiVersion: v1\nentries:\n  posthog:\n  - version: &v 1.0.0\n  - version: *v\n",
		"apiVersion: v1\nentries:\n  posthog:\n  - {version: 1.0.0}\n",
		"apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n\turls: []\n",
		"apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n      continued\n",
		"apiVersion: v1\nentries:\n  posthog:\n  - version:\n      - 1.0.0\n",
		"apiVersion: v1\nentries:\n  posthog: 1\n",
		"apiVersion: v1\nentries:\n  posthog:\n    version: 1.0.0\n",
		"apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n    urls:\n      x: y\n",
		"---\napiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n",
		"  apiVersion: v1\nentries: {}\n",
		("apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n    description: |\n"
		 "        deep\n      shallow\n"),
	};
	int ok_in = 1, ok_out = 1, took;
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		if (!same_index(in[i], strlen(in[i]), "posthog", &took) || !took) {
			tap_diag("in[%zu] %s", i, took ? "differs" : "was not taken by the fast path");
			ok_in = 0;
		}
	}
	tap_ok(ok_in, "index fast path: helm's block style is read as libyaml reads it");
	for (i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		if (!same_index(out[i], strlen(out[i]), "posthog", &took) || took) {
			tap_diag("out[%zu] %s", i, took ? "was taken by the fast path" : "differs");
			ok_out = 0;
		}
	}
	tap_ok(ok_out, "... escapes, anchors, flow, tabs, continuations, wrong shapes go to libyaml");
	if (!have_fixtures) {
		tap_skip(1, "no fixtures at $PHD_FIXTURES (the real index.yaml)");
	} else {
		size_t len;
		char *buf = tap_slurp(fixtures_index, &len);
		tap_ok(same_index(buf, len, "posthog", &took) && took,
		       "... and the real index takes it, every entry the same as libyaml's");
		free(buf);
	}
}

static void check_bad_index(phd_ctx *ctx)
{
	static const char broken[] = "apiVersion: v1\nentries:\n  posthog:\n  - version: 1.0.0\n"
				     "    urls: [a, b\n";
	static const char shape[] = "apiVersion: v1\nentries: [1, 2]\n";
	static const char nested[] = "apiVersion: v1\nentries:\n  posthog:\n  - created: {a: b}\n"
				     "    version: 1.0.0\n";
	struct helm_index idx;
	char err[512], *big, *buf = NULL, url[4200];
	size_t len = 0;
	int rc, fd;

	rc = helm_index_parse(&idx, broken, sizeof(broken) - 1, "posthog", "idx.yaml", err,
			      sizeof(err));
	tap_is_int(rc, PHD_ESYNTAX, "malformed index YAML is a syntax error");
	tap_like(err, "idx.yaml:6:1: malformed index YAML", "... positioned at line and column");
	rc = helm_index_parse(&idx, shape, sizeof(shape) - 1, "posthog", "idx.yaml", err,
			      sizeof(err));
	tap_ok(rc == PHD_ESYNTAX && strstr(err, "idx.yaml:2:10: expected entries: to be a mapping"),
	       "an index of the wrong shape is refused at the offending node");
	/* the key named in the message belongs to an event already freed when
	 * the value turns out not to be a scalar (ASan: heap-use-after-free) */
	rc = helm_index_parse(&idx, nested, sizeof(nested) - 1, "posthog", "idx.yaml", err,
			      sizeof(err));
	tap_is_int(rc, PHD_ESYNTAX, "created: {a: b} in an entry is a syntax error");
	tap_is_str(err, "idx.yaml:4:14: created is not a scalar",
		   "... naming the key, not freed memory");
	big = tap_write_file("big-index.yaml", "", 0);
	fd = big ? open(big, O_WRONLY) : -1;
	tap_ok(fd >= 0 && ftruncate(fd, (off_t)HELM_INDEX_MAX + 1) == 0, "a sparse 64 MB+ index");
	if (fd >= 0)
		close(fd);
	rc = helm_index_fetch(ctx, big, HELM_INDEX_MAX, &buf, &len);
	tap_is_int(rc, PHD_ETOOBIG, "an index over 64 MB is refused before it is read");
	free(buf);
	buf = NULL;
	if (!have_fixtures) {
		tap_skip(1, "no fixtures");
	} else {
		snprintf(url, sizeof(url), "file://%s", fixtures_index);
		rc = helm_index_fetch(ctx, url, HELM_INDEX_MAX, &buf, &len);
		tap_ok(rc == 0 && len > 2000000, "a file:// index is read (as a plain path: no libcurl)");
	}
	free(buf);
	free(big);
}

static void check_url_resolve(void)
{
	static const struct { const char *base, *ref, *want; } cases[] = {
		{ "https://h/charts/", "posthog-1.0.0.tgz", "https://h/charts/posthog-1.0.0.tgz" },
		{ "https://h/charts/index.yaml", "a/b.tgz", "https://h/charts/a/b.tgz" },
		{ "https://h/charts/", "/dl/x.tgz", "https://h/dl/x.tgz" },
		{ "https://h/charts/", "../x.tgz", "https://h/x.tgz" },
		{ "https://h/charts/", "https://o.example/r/x.tgz", "https://o.example/r/x.tgz" },
		{ "file:///srv/repo/index.yaml", "x.tgz", "file:///srv/repo/x.tgz" },
	};
	int good = 1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = helm_url_resolve(cases[i].base, cases[i].ref);
		if (!got || strcmp(got, cases[i].want)) {
			good = 0;
			tap_diag("%s + %s -> %s, want %s", cases[i].base, cases[i].ref,
				 got ? got : "(null)", cases[i].want);
		}
		free(got);
	}
	tap_ok(good, "archive URLs: relative ones resolve against the repository, absolute ones stay");
	tap_ok(helm_url_resolve("https://h/", "") == NULL, "an empty archive URL does not resolve");
}

/* Downloads through libcurl: bounded, interruptible, nothing left behind. */
static void check_download(const struct phd_options *base)
{
	struct phd_options o = *base;
	char url[4200], path[4200], hex[65], want[65];
	phd_ctx *ctx = NULL;
	struct stat st;
	int rc;

	if (!have_fixtures) {
		tap_skip(5, "no fixtures");
		return;
	}
	o.chart = fixtures_chart;
	if (phd_ctx_new(&ctx, &o)) {
		tap_ok(0, "a context for the downloads");
		phd_ctx_free(ctx);
		return;
	}
	snprintf(url, sizeof(url), "file://%s", fixtures_chart);
	snprintf(path, sizeof(path), "%s/dl.tgz", phd_ctx_tmpdir(ctx));
	rc = helm_download(ctx, url, 1, path, HELM_CHART_MAX, hex, sizeof(hex));
	helm_sha256_file(fixtures_chart, want, sizeof(want));
	tap_ok(rc == 0 && !strcmp(hex, want), "a download is hashed as it is written (sha256 %.12s...)",
	       hex);
	rc = helm_download(ctx, url, 1, path, 4096, hex, sizeof(hex));
	tap_ok(rc == PHD_ETOOBIG && stat(path, &st) != 0,
	       "an archive over the bound is refused and nothing is left (the earlier file replaced)");
	tap_like(phd_ctx_errmsg(ctx), "larger than 0 MB", "... saying so");
	rc = helm_download(ctx, url, 0, path, HELM_CHART_MAX, hex, sizeof(hex));
	tap_ok(rc == PHD_EINVAL && stat(path, &st) != 0,
	       "a file:// URL is refused when the index came from the network");
	phd_ctx_interrupt(ctx);
	rc = helm_download(ctx, url, 1, path, HELM_CHART_MAX, hex, sizeof(hex));
	tap_ok(rc == PHD_EINTR && stat(path, &st) != 0,
	       "an interrupt stops a download; no partial archive stays");
	phd_ctx_free(ctx);
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc;

	if (!f)
		return -1;
	rc = fputs(text, f) < 0;
	return fclose(f) || rc ? -1 : 0;
}

/* The repo phase through phd_run: a repository whose index lists the
 * fixture under charts/, the archive downloaded, verified, published and
 * named by the upgrade line. */
static void check_repo_phase(const struct phd_options *base)
{
	struct phd_options o = *base;
	const struct phd_chart_ref *c = NULL;
	struct helm h = { 0 };
	struct strv sv = { 0 };
	char dir[4096], p[4200], cfg[4300], text[8192], sum[65], got[65];
	phd_ctx *ctx = NULL;
	phd_plugin *pl;
	int rc;

	if (!have_fixtures) {
		tap_skip(4, "no fixtures");
		return;
	}
	helm_sha256_file(fixtures_chart, sum, sizeof(sum));
	snprintf(dir, sizeof(dir), "%s/repo", tap_tmpdir());
	snprintf(p, sizeof(p), "%s/charts", dir);
	mkdir(dir, 0700);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/charts/posthog-30.46.0.tgz", dir);
	if (symlink(fixtures_chart, p) && errno != EEXIST)
		tap_diag("symlink %s: %s", p, strerror(errno));
	snprintf(text, sizeof(text), "apiVersion: v1\nentries:\n  posthog:\n  - version: 30.46.0\n"
		 "    digest: %s\n    urls: [charts/posthog-30.46.0.tgz]\n", sum);
	snprintf(p, sizeof(p), "%s/index.yaml", dir);
	write_text(p, text);
	snprintf(cfg, sizeof(cfg), "%s/repo.yaml", tap_tmpdir());
	snprintf(text, sizeof(text), "release: posthog\nnamespace: posthog\nchart:\n"
		 "  name: posthog/posthog\n  version: 30.46.0\n  repo: { name: posthog, url: "
		 "\"file://%s\" }\n", dir);
	write_text(cfg, text);
	o.flags &= ~PHD_OPT_NO_CONFIG;
	o.config_path = cfg;
	/* the helm plugin's repo handler alone: the HA rules judge no values here */
	unsetenv("PHDEPLOY_PLUGIN_PATH");
	o.chart = NULL;
	o.chart_version = NULL;
	helm_config_parse(&h, NULL, NULL);
	h.major = 4;
	if (phd_ctx_new(&ctx, &o) || phd_ctx_add_plugin(&pl, ctx, "helm-repo", "1") ||
	    phd_register_phase_handler(pl, PHD_PHASE_REPO, helm_repo_phase, &h, NULL)) {
		tap_ok(0, "a context for the repo phase: %s", ctx ? phd_ctx_errmsg(ctx) : "oom");
		phd_ctx_free(ctx);
		return;
	}
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_REPO));
	tap_is_int(rc, 0, "repo phase: a file:// repository, the archive under charts/ (%s)",
		   phd_ctx_errmsg(ctx));
	rc = phd_ctx_chart_resolved(ctx, &c);
	snprintf(p, sizeof(p), "sha256:%s", sum);
	tap_ok(rc == 0 && c->source == PHD_CHART_REPO && c->name && !strcmp(c->name, "posthog") &&
	       c->chart_version && !strcmp(c->chart_version, "30.46.0") && c->digest &&
	       !strcmp(c->digest, p),
	       "phd_ctx_chart_resolved: the repository's chart, its version and the verified digest");
	tap_ok(rc == 0 && !strncmp(c->archive, phd_ctx_tmpdir(ctx), strlen(phd_ctx_tmpdir(ctx))) &&
	       helm_sha256_file(c->archive, got, sizeof(got)) == 0 && !strcmp(got, sum),
	       "... its archive is in the run's private directory and is the verified file");
	if (rc == 0) {
		char *line;
		helm_argv_upgrade(&sv, &h, ctx, NULL);
		line = strv_join(&sv);
		snprintf(p, sizeof(p), " posthog %s --wait=watcher", c->archive);
		tap_ok(line && strstr(line, p) && !strstr(line, "posthog/posthog") &&
		       !strstr(line, "--version"),
		       "the upgrade line names that archive, not posthog/posthog, and no --version");
		free(line);
		strv_free(&sv);
	} else {
		tap_skip(1, "nothing resolved");
	}
	free(h.version);
	phd_ctx_free(ctx);
}

static char *joined(struct strv *sv)
{
	char *s = strv_join(sv);
	strv_free(sv);
	return s;
}

static void check_argv(phd_ctx *ctx, const char *values)
{
	struct helm h = { 0 };
	struct strv sv = { 0 };
	char want[4096], *got;

	helm_config_parse(&h, ctx, NULL);
	h.major = 3;
	helm_argv_upgrade(&sv, &h, ctx, NULL);
	got = joined(&sv);
	snprintf(want, sizeof(want), "helm upgrade --install -f %s --timeout 30m --create-namespace "
		 "--namespace posthog posthog posthog/posthog --wait --wait-for-jobs --debug "
		 "--version 30.46.0 --kube-context prod", values);
	tap_is_str(got, want, "Helm 3 default: the manual procedure's flags plus --version");
	free(got);
	h.major = 4;
	helm_argv_upgrade(&sv, &h, ctx, NULL);
	got = joined(&sv);
	tap_like(got, " --wait=watcher --wait-for-jobs --debug --version 30.46.0",
		 "Helm 4: --wait=watcher with --wait-for-jobs");
	free(got);
	h.atomic = 1;
	h.timeout_ms = 90LL * 60 * 1000;
	helm_argv_upgrade(&sv, &h, ctx, "phdeploy-postrender");
	got = joined(&sv);
	tap_ok(strstr(got, " --rollback-on-failure") && !strstr(got, "--atomic") &&
	       strstr(got, "--timeout 1h30m ") && strstr(got, "--post-renderer phdeploy-postrender"),
	       "Helm 4: atomic is --rollback-on-failure, timeouts in Go form, post-renderer by name");
	free(got);
	h.major = 3;
	h.wait = h.wait_for_jobs = h.debug = 0;
	helm_argv_upgrade(&sv, &h, ctx, NULL);
	got = joined(&sv);
	tap_ok(strstr(got, " --atomic") && !strstr(got, "--wait") && !strstr(got, "--debug"),
	       "Helm 3: atomic is --atomic; wait and debug off drop their flags");
	free(got);
	helm_argv_rollback(&sv, &h, ctx, "4");
	got = joined(&sv);
	tap_is_str(got, "helm rollback posthog 4 --namespace posthog --wait --timeout 1h30m "
		   "--kube-context prod", "rollback: revision, namespace, --wait, the timeout");
	free(got);
	helm_argv_template(&sv, &h, ctx, NULL);
	got = joined(&sv);
	snprintf(want, sizeof(want), "helm template posthog posthog/posthog --namespace posthog "
		 "-f %s --version 30.46.0", values);
	tap_is_str(got, want, "template: same values, version and namespace");
	free(got);
}

/* One helm --debug upgrade transcript (stdout) with what must never show. */
static const char *const transcript[] = {
	"NAME: posthog", "STATUS: deployed", "USER-SUPPLIED VALUES:",
	"externalPostgresql:", "  postgresqlPassword: hunter2-values", "COMPUTED VALUES:",
	"cloud: aws", "redis:", "  password: hunter2-computed", "", "HOOKS:", "---",
	"# Source: posthog/templates/x.yaml", "apiVersion: v1", "data:",
	"  early: aHVudGVyMi1lYXJseQ==", "kind: Secret", "MANIFEST:", "---",
	"apiVersion: v1", "kind: Secret", "metadata:", "  name: posthog", "stringData:",
	"  password: hunter2-stringdata", "  multi: |", "    hunter2-block", "type: Opaque",
	"---", "apiVersion: v1", "kind: ConfigMap", "data:", "  config.yaml: keep-me",
	"---", "kind: Secret", "data: {password: aHVudGVyMi1mbG93}", "NOTES:", "CHART NAME: posthog",
	NULL
};

static void check_filter(void)
{
	struct helm_filter f = { 0 };
	char shown[4096] = "";
	unsigned dropped = 0;

	for (size_t i = 0; transcript[i]; i++) {
		if (helm_filter_line(&f, 1, transcript[i])) {
			dropped++;
		} else {
			strcat(shown, transcript[i]);
			strcat(shown, "\n");
		}
	}
	tap_unlike(shown, "hunter2", "no values or Secret data line survives the redactor");
	tap_unlike(shown, "aHVudGVy", "... nor their base64 (data: before kind: included)");
	tap_like(shown, "USER-SUPPLIED VALUES:\nCOMPUTED VALUES:\nHOOKS:",
		 "section headers stay, so the reader sees something was withheld");
	tap_like(shown, "kind: ConfigMap\ndata:\n  config.yaml: keep-me",
		 "a ConfigMap's data is kept");
	tap_like(shown, "type: Opaque\n", "manifest lines after a dropped block are kept");
	tap_like(shown, "NOTES:\nCHART NAME: posthog", "NOTES are kept");
	tap_ok(!helm_filter_line(&f, 2, "  postgresqlPassword: on-stderr"),
	       "stderr is not section-filtered (helm prints no values there)");
	tap_is_int(dropped, (long long)f.dropped, "dropped lines are counted");
}

static void check_classify(void)
{
	/* what real helm 4.1.4 (h4) and 3.17.2 (h3) print against tests/bin/kube-api
	 * (tests/cli/helm-deploy.sh proves each end to end) */
	static const struct { const char *line; int cls; } cases[] = {
		/* --wait timing out: h4 names the resource, h3 only the deadline */
		{ "Error: resource Deployment/nr4/posthog-web not ready. status: InProgress, "
		  "message: Available: 0/1", HELM_FAIL_OTHER },
		{ "context deadline exceeded", HELM_FAIL_TIMEOUT },
		{ "Error: context deadline exceeded", HELM_FAIL_TIMEOUT },
		{ "Error: UPGRADE FAILED: timed out waiting for the condition", HELM_FAIL_TIMEOUT },
		/* the migrate Job failing */
		{ "Error: resource Job/jf4/posthog-migrate-2026-12-06-01-58-18 not ready. status: "
		  "Failed, message: Job Failed. failed: 7/1", HELM_FAIL_JOB },
		{ "Error: job is failed: jf3/posthog-migrate-2026-12-06-01-58-18", HELM_FAIL_JOB },
		{ "Error received when checking status of resource posthog-migrate-2026. Error: "
		  "'job is failed: jf3/posthog-migrate-2026', Resource details: 'Resource: "
		  "\"batch/v1, Resource=jobs\"'", HELM_FAIL_JOB },
		{ "  Warning  BackoffLimitExceeded  job/posthog-migrate", HELM_FAIL_JOB },
		{ "Error: execution error at (posthog/templates/error-on-invalid-values.yaml:5:4): ",
		  HELM_FAIL_RENDER },
		{ "==== INVALID VALUES ====", HELM_FAIL_RENDER },
		/* API faults, both majors */
		{ "Error: query: failed to query with labels: secrets is forbidden: User "
		  "\"stand-in\" cannot list resource \"secrets\" in API group \"\" in the "
		  "namespace \"f\"", HELM_FAIL_CLUSTER },
		{ "Error: kubernetes cluster unreachable: the server has asked for the client to "
		  "provide credentials", HELM_FAIL_CLUSTER },
		{ "Error: Kubernetes cluster unreachable: the server has asked for the client to "
		  "provide credentials", HELM_FAIL_CLUSTER },
		{ "Error: query: failed to query with labels: Internal error occurred: injected fault "
		  "(stand-in scenario fail_500 GET /api/v1/namespaces/*/secrets)", HELM_FAIL_CLUSTER },
		{ "Error: kubernetes cluster unreachable: context \"missing\" does not exist",
		  HELM_FAIL_CLUSTER },
		{ "Error: Kubernetes cluster unreachable: context \"missing\" does not exist",
		  HELM_FAIL_CLUSTER },
		{ "Error: kubernetes cluster unreachable: Get \"http://localhost:8080/version\": dial "
		  "tcp 127.0.0.1:8080: connect: connection refused", HELM_FAIL_CLUSTER },
		{ "Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress",
		  HELM_FAIL_PENDING },
		{ "level=DEBUG msg=\"waiting for resource\" name=posthog-web", HELM_FAIL_OTHER },
	};
	int good = 1;
	char buf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (helm_classify_line(cases[i].line) != cases[i].cls) {
			tap_diag("%s -> %d, want %d", cases[i].line, helm_classify_line(cases[i].line),
				 cases[i].cls);
			good = 0;
		}
	}
	tap_ok(good, "failure lines of Helm 3 and 4 fall in the right class");
	{
		struct helm_watch w = { 0 };
		helm_watch_line(2, "Release posthog has been cancelled.", &w);
		tap_ok(!w.cancelled, "helm's cancel notice is not taken from stderr");
		helm_watch_line(1, "Release posthog has been cancelled.", &w);
		tap_ok(w.cancelled, "... but from stdout, where helm's SIGINT handler prints it");
		helm_watch_free(&w);
	}
	tap_is_str(helm_progress_text("wait.go:48: 2024-02-12 14:20:05.9 +0000 UTC m=+4.8 [debug] "
				      "beginning wait for 87 resources with timeout of 30m0s",
				      buf, sizeof(buf)),
		   "beginning wait for 87 resources with timeout of 30m0s",
		   "Helm 3 wait lines become progress text");
	tap_is_str(helm_progress_text("level=DEBUG msg=\"waiting for resource\" namespace=posthog "
				      "name=posthog-web kind=Deployment", buf, sizeof(buf)),
		   "waiting for resource namespace=posthog name=posthog-web kind=Deployment",
		   "Helm 4 wait lines become progress text");
}

static void check_postrender(phd_ctx *ctx)
{
	static const char in[] = "---\n# Source: z/pdb.yaml\napiVersion: policy/v1beta1\n"
				 "kind: PodDisruptionBudget\nmetadata:\n  name: zk\n---\n"
				 "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\n";
	char *path = helm_postrender_path();
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res = { 0 };
	const char *argv[] = { path, NULL };

	tap_ok(path != NULL, "phdeploy-postrender is found (%s)", path ? path : "-");
	if (!path) {
		tap_skip(1, "no post-render helper");
		return;
	}
	spec.flags = PHD_EXEC_CAPTURE_STDOUT;
	spec.argv = argv;
	spec.stdin_data = in;
	spec.stdin_len = sizeof(in) - 1;
	spec.timeout_ms = 10000;
	tap_ok(phd_exec_run(ctx, &spec, &res) == 0 && res.exit_code == 0 && res.out &&
	       !strcmp(res.out, "---\n# Source: z/pdb.yaml\napiVersion: policy/v1\n"
		       "kind: PodDisruptionBudget\nmetadata:\n  name: zk\n---\n"
		       "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\n"),
	       "the PDB moves to policy/v1, everything else is kept byte for byte");
	phd_exec_result_clear(&res);
	free(path);
}

/* Run a real helm with the plugin's own deploy argv; returns its output. */
static int run_real(phd_ctx *ctx, const char *helm, int major, int install, const char *env,
		    const char *pr, char **out)
{
	struct helm h = { 0 };
	struct strv sv = { 0 }, run = { 0 };
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res = { 0 };
	const char *envv[3] = { "KUBECONFIG=/nonexistent/kubeconfig", env, NULL };
	int rc;

	helm_config_parse(&h, ctx, NULL);
	h.major = major;
	helm_argv_upgrade(&sv, &h, ctx, pr);
	strv_add(&run, helm);
	for (size_t i = 1; i < sv.n; i++) {
		if (install && !strcmp(sv.v[i], "upgrade"))
			strv_add(&run, "install");
		else if (install && !strcmp(sv.v[i], "--install"))
			continue;
		else if (!strcmp(sv.v[i], "--kube-context") && i + 1 < sv.n)
			i++;   /* no kubeconfig here holds that context */
		else
			strv_add(&run, sv.v[i]);
	}
	if (install)
		strv_add(&run, "--dry-run=client");
	spec.flags = PHD_EXEC_CAPTURE_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.argv = strv_argv(&run);
	spec.env = envv;
	spec.timeout_ms = 120000;
	rc = phd_exec_run(ctx, &spec, &res);
	if (rc == 0)
		rc = res.exit_code;
	if (asprintf(out, "%s\n%s", res.out ? res.out : "", res.err ? res.err : "") < 0)
		*out = NULL;
	phd_exec_result_clear(&res);
	strv_free(&sv);
	strv_free(&run);
	return rc;
}

static void check_real_helm(phd_ctx *ctx)
{
	const char *tools = tap_env("PHD_TOOLS", "");
	char helm4[4096], helm3[4096], *out = NULL, *pr = NULL, *env = NULL;
	struct helm h = { 0 };
	int rc;

	snprintf(helm4, sizeof(helm4), "%s/helm4", tools);
	snprintf(helm3, sizeof(helm3), "%s/helm3", tools);
	if (!have_fixtures || access(helm4, X_OK) || access(helm3, X_OK)) {
		tap_skip(6, "needs $PHD_TOOLS/helm4, helm3 (scripts/fetch-tools) and the chart fixture");
		return;
	}
	helm_config_parse(&h, ctx, NULL);
	h.major = 4;
	h.post_render = HELM_PR_ALWAYS;
	rc = helm_post_renderer(&h, ctx, &pr, &env);
	tap_ok(rc == 0 && pr && env && !strncmp(env, "HELM_PLUGINS=", 13),
	       "Helm 4 post-renderer: a private plugin dir in the run's tmpdir");
	rc = run_real(ctx, helm4, 4, 1, env, pr, &out);
	tap_is_int(rc, 0, "real helm 4 install --dry-run=client accepts the plugin's argv");
	tap_ok(out && strstr(out, "STATUS: pending-install") &&
	       strstr(out, "apiVersion: policy/v1\nkind: PodDisruptionBudget") &&
	       !strstr(out, "policy/v1beta1"),
	       "... renders the real chart through the postrenderer/v1 plugin (PDB is policy/v1)");
	if (rc)
		tap_diag("%.2000s", out ? out : "");
	free(out);
	rc = run_real(ctx, helm4, 4, 0, env, pr, &out);
	tap_ok(rc != 0 && out && strstr(out, "cluster unreachable") && !strstr(out, "unknown flag"),
	       "real helm 4 parses the full upgrade argv and stops only at the missing cluster");
	free(out);
	free(pr);
	free(env);
	pr = helm_postrender_path();
	rc = run_real(ctx, helm3, 3, 0, NULL, pr, &out);
	tap_ok(rc != 0 && out && strstr(out, "cluster unreachable") && !strstr(out, "unknown flag"),
	       "real helm 3 parses the full upgrade argv and stops only at the missing cluster");
	free(out);
	rc = run_real(ctx, helm3, 3, 1, NULL, pr, &out);
	tap_ok(rc != 0 && out && !strstr(out, "unknown flag") && !strstr(out, "invalid argument"),
	       "real helm 3 install accepts the flags (its dry run needs a cluster)");
	free(out);
	free(h.pr_plugins);
	free(pr);
}

/* The stored manifest read by lines (storedapis.c): kind, API and name of
 * each document with the apiVersion's byte range, whatever the quoting;
 * nested names and documents without a kind do not count. */
static void check_manifest_objects(void)
{
	static const char m[] =
		"# before the first document\n"
		"---\n# Source: posthog/charts/zookeeper/templates/poddisruptionbudget.yaml\n"
		"apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n"
		"  labels:\n    name: not-this\n  name: posthog-posthog-zookeeper\n"
		"spec:\n  maxUnavailable: 1\n"
		"---\n# Source: only a comment\n"
		"--- # a document after a comment\n"
		"apiVersion: \"apps/v1\"\r\nkind: 'Deployment'\r\nmetadata:\r\n"
		"  name: web # the web pods\r\n"
		"---\ndata:\n  x: |\n    ---\n    apiVersion: v9\n"
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flow}\n";
	struct helm_mobjs objs;
	const struct helm_removed *r;
	char junk[512];

	tap_is_int(helm_manifest_objects(m, sizeof(m) - 1, &objs), 0, "a stored manifest is read");
	tap_is_int((long long)objs.n, 3, "three documents name a kind (comments only: none)");
	if (objs.n == 3) {
		tap_is_str(objs.v[0].kind, "PodDisruptionBudget", "the kind");
		tap_is_str(objs.v[0].gv, "policy/v1beta1", "its API");
		tap_is_str(objs.v[0].name, "posthog-posthog-zookeeper",
			   "metadata.name, not a label called name");
		tap_ok(objs.v[0].av_end - objs.v[0].av == 14 &&
		       !memcmp(m + objs.v[0].av, "policy/v1beta1", 14),
		       "the apiVersion's bytes are located for the rewrite");
		tap_ok(!strncmp(m + objs.v[0].doc, "---\n# Source: posthog/charts/zoo", 32) &&
		       !strncmp(m + objs.v[0].doc_end, "---\n# Source: only", 18),
		       "the document's range, from its --- line to the next");
		tap_ok(!strcmp(objs.v[1].gv, "apps/v1") && !strcmp(objs.v[1].kind, "Deployment") &&
		       !strcmp(objs.v[1].name, "web"),
		       "quotes, CRLF and a trailing comment are not part of the values");
		tap_ok(!strcmp(objs.v[2].gv, "v1") && !objs.v[2].name[0],
		       "an indented --- in a block scalar starts no document; a flow-style "
		       "metadata has no name found (it is only reported)");
	}
	helm_mobjs_free(&objs);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 37 + 11);
	tap_is_int(helm_manifest_objects(junk, sizeof(junk), &objs), 0, "bytes that are no YAML");
	tap_is_int((long long)objs.n, 0, "... name no object and do not crash");
	helm_mobjs_free(&objs);
	r = helm_removed_find("policy/v1beta1", "PodDisruptionBudget");
	tap_ok(r && !strcmp(r->to, "policy/v1") && !strcmp(r->removed_in, "1.25"),
	       "policy/v1beta1 PodDisruptionBudget: policy/v1 since 1.25");
	r = helm_removed_find("policy/v1beta1", "PodSecurityPolicy");
	tap_ok(r && !r->to, "policy/v1beta1 PodSecurityPolicy: removed without a replacement");
	tap_ok(!helm_removed_find("policy/v1", "PodDisruptionBudget") &&
	       !helm_removed_find("extensions/v1beta1", "Pod"), "served APIs are no removals");
}

int main(void)
{
	const char *fx = tap_env("PHD_FIXTURES", "");
	struct phd_options o = PHD_OPTIONS_INIT;
	const char *values_list[1];
	char *values;
	phd_ctx *ctx = NULL;

	snprintf(fixtures_index, sizeof(fixtures_index), "%s/charts-clickhouse-index.yaml", fx);
	snprintf(fixtures_chart, sizeof(fixtures_chart), "%s/posthog-30.46.0.tgz", fx);
	have_fixtures = *fx && access(fixtures_index, R_OK) == 0 && access(fixtures_chart, R_OK) == 0;

	check_semver();
	check_real_index();
	check_fast_index();
	check_filter();
	check_classify();
	check_manifest_objects();

	values = tap_write_file("values.yaml", "cloud: aws\n", 11);
	values_list[0] = values;
	o.flags = PHD_OPT_NO_CONFIG | PHD_OPT_NO_JOURNAL | PHD_OPT_NO_LOCK;
	o.values = values_list;
	o.nvalues = 1;
	o.release = "posthog";
	o.namespace_ = "posthog";
	o.chart = "posthog/posthog";
	o.chart_version = "30.46.0";
	o.helm_path = "helm";
	o.kube_context = "prod";
	if (phd_ctx_new(&ctx, &o) || phd_ctx_load(ctx)) {
		tap_diag("context: %s", ctx ? phd_ctx_errmsg(ctx) : "out of memory");
		tap_ok(0, "a context for the command-line tests");
		phd_ctx_free(ctx);
		return tap_done();
	}
	check_bad_index(ctx);
	check_url_resolve();
	check_download(&o);
	check_repo_phase(&o);
	check_argv(ctx, phd_ctx_values_file(ctx, 0));
	check_postrender(ctx);
	phd_ctx_free(ctx);

	/* the real-helm checks render the real chart with the test's HA values */
	{
		char tv[4096];
		const char *top = tap_env("top_srcdir", ".");
		snprintf(tv, sizeof(tv), "%s/tests/data/helm/values.yaml", top);
		values_list[0] = tv;
		o.chart = fixtures_chart;
		o.chart_version = NULL;
		ctx = NULL;
		if (phd_ctx_new(&ctx, &o) == 0 && phd_ctx_load(ctx) == 0)
			check_real_helm(ctx);
		else
			tap_ok(0, "a context for the real-helm tests: %s",
			       ctx ? phd_ctx_errmsg(ctx) : "out of memory");
		phd_ctx_free(ctx);
	}
	free(values);
	return tap_done();
}
