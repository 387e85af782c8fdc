/* phdeploy.yaml as the core reads it, through the public API: the
 * documented example loads; every malformed config is refused with exit
 * code 3 and a file:line:column that points at the culprit; a failed load
 * leaves one failed journal record and no lock holder behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "input.h"

/* DESIGN.md's example, minus plugins.load (that would need a plugin). */
static const char example_yaml[] =
	"release: posthog\n"
	"namespace: posthog\n"
	"chart:\n"
	"  name: posthog/posthog\n"
	"  repo: { name: posthog, url: https://posthog.github.io/charts-clickhouse/ }\n"
	"  version: 30.46.0\n"
	"values: [values.yaml]\n"
	"kube: { context: prod, version: \"1.29\" }\n"
	"helm: { timeout: 30m, wait: true, wait_for_jobs: true, atomic: false, debug: false }\n"
	"secrets:\n"
	"  - { provider: file, path: postgres.secret.yaml }\n"
	"  - { provider: file, path: redis.secret.yaml }\n"
	"checks:\n"
	"  postgres: { required: true, timeout: 5s }\n"
	"  kafka:    { required: true, timeout: 5s, min_brokers: 3 }\n"
	"  redis:    { required: true, timeout: 5s }\n"
	"rules: { replicas: error, probes: error, pdb: warn }\n"
	"hooks:\n"
	"  deploy:\n"
	"    pre:  [ { run: [./notify, start], on_failure: warn } ]\n"
	"    fail: [ { run: [./page-oncall] } ]\n"
	"rollback: { on_failure: true }\n";

static char *in_dir(const char *dir, const char *name, const char *text)
{
	char rel[256];
	char sub[512];
	snprintf(sub, sizeof sub, "%s/%s", tap_tmpdir(), dir);
	mkdir(sub, 0700);
	snprintf(rel, sizeof rel, "%s/%s", dir, name);
	return input_write(rel, text, 0);
}

static void test_example_loads(void)
{
	char *cfg = in_dir("example", "phdeploy.yaml", example_yaml);
	char *vals = in_dir("example", "values.yaml", "web:\n  replicas: 2\n");
	char *other = in_dir("example", "other.yaml", "web:\n  replicas: 7\n");
	const char *opt_values[] = { other };
	const phd_node *n;
	struct input_run r;

	input_with_plugins = 2;  /* its checks: need the plugins that provide them */
	input_run(&r, cfg, NULL, 0);
	input_with_plugins = 0;
	if (!tap_is_int(r.rc, 0, "the documented example phdeploy.yaml loads"))
		tap_diag("errmsg: %s", r.msg);
	tap_is_str(phd_ctx_release(r.ctx), "posthog", "the release comes from the config");
	tap_is_str(phd_ctx_chart(r.ctx), "posthog/posthog", "the chart name comes from chart.name");
	n = phd_node_get(phd_ctx_values(r.ctx), "web.replicas");
	tap_is_str(phd_node_str(n), "2", "values files are read relative to the config's folder");
	tap_is_str(phd_node_file(n), vals, "the values node names the values file");
	n = phd_node_get(phd_ctx_config(r.ctx), "checks.kafka.min_brokers");
	tap_is_str(phd_node_str(n), "3", "a plugin-owned key under checks is kept");
	tap_is_int(phd_node_line(n), 15, "the config node knows its line");
	{
		int ma = 0, mi = 0;
		tap_ok(phd_ctx_kube_version(r.ctx, &ma, &mi) == 0 && ma == 1 && mi == 29,
		       "kube.version \"1.29\" is parsed at load: %d.%d", ma, mi);
	}
	input_run_free(&r);

	input_run(&r, cfg, opt_values, 1);
	tap_is_str(phd_node_str(phd_node_get(phd_ctx_values(r.ctx), "web.replicas")), "7",
		   "values files given as options replace the config's list");
	input_run_free(&r);
	free(cfg);
	free(vals);
	free(other);
}

/* The one parser of kube.version: every form helm's --kube-version takes. */
static void test_kube_versions(void)
{
	static const struct {
		const char *text;
		int major, minor;
	} good[] = {
		{ "1.29", 1, 29 }, { "v1.29", 1, 29 }, { "1.29.3", 1, 29 },
		{ "v1.30.2-eks-1", 1, 30 }, { "\"1.9\"", 1, 9 }, { "1.31.0+k3s1", 1, 31 },
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		char yaml[128];
		char *cfg;
		struct input_run r;
		int ma = 0, mi = 0;

		snprintf(yaml, sizeof yaml, "kube: { version: %s }\n", good[i].text);
		cfg = in_dir("kv", "phdeploy.yaml", yaml);
		input_run(&r, cfg, NULL, 0);
		tap_ok(r.rc == 0 && phd_ctx_kube_version(r.ctx, &ma, &mi) == 0 &&
		       ma == good[i].major && mi == good[i].minor,
		       "kube.version %s is %d.%d (got %d.%d)", good[i].text, good[i].major,
		       good[i].minor, ma, mi);
		input_run_free(&r);
		free(cfg);
	}
	{
		char *cfg = in_dir("kv", "phdeploy.yaml", "release: posthog\n");
		struct input_run r;
		int ma = 7;

		input_run(&r, cfg, NULL, 0);
		tap_ok(phd_ctx_kube_version(r.ctx, &ma, NULL) == PHD_ENOTFOUND && ma == 7,
		       "an unset kube.version is PHD_ENOTFOUND and leaves the outputs alone");
		input_run_free(&r);
		free(cfg);
	}
}

static const struct input_bad bad_configs[] = {
	/* YAML that does not parse */
	{ "an unclosed flow mapping", "release: posthog\nchart: {name: posthog/posthog\n", 0,
	  "3:1", "flow mapping" },
	{ "a key indented less than its siblings",
	  "release: posthog\nchart:\n  name: x\n version: 1\n", 0, "4:2", "block mapping" },
	{ "a tab used for indentation", "release: posthog\nchart:\n\tname: x\n", 0, "3:1",
	  "cannot start any token" },
	{ "an unterminated quoted string", "release: \"posthog\nnamespace: x\n", 0, "3:1",
	  "quoted scalar" },
	{ "two YAML documents", "release: a\n---\nnamespace: b\n", 0, "2:1",
	  "more than one YAML document" },
	{ "a duplicate key", "release: a\nnamespace: b\nrelease: c\n", 0, "3:1",
	  "duplicate key 'release'" },
	{ "a NUL byte inside a quoted scalar", "release: \"post\\0hog\"\n", 0, "1:10", "NUL byte" },
	{ "a raw NUL byte", "release: post\0hog\n", 18, "1:14", "not UTF-8" },
	{ "invalid UTF-8 after valid text", "release: posthog\nnamespace: \xff\xfe\n", 0, "2:12",
	  "not UTF-8" },
	{ "an alias of an unknown anchor", "release: *nope\n", 0, "1:10", "unknown alias" },
	/* the wrong shape */
	{ "a list at the top", "- release\n- posthog\n", 0, "1:1",
	  "must be a mapping at the top, not a list" },
	{ "a scalar at the top", "posthog\n", 0, "1:1", "not a scalar" },
	{ "no content at all", "", 0, "1:1", "empty configuration" },
	{ "only a comment", "# nothing here\n", 0, "1:1", "empty configuration" },
	/* wrong types */
	{ "release given as a list", "release: [a]\n", 0, "1:10", "'release' must be a string" },
	{ "values given as a mapping", "values: {a: b}\n", 0, "1:9",
	  "'values' must be a list of strings" },
	{ "a check timeout that is not a duration", "checks:\n  postgres:\n    timeout: soon\n", 0,
	  "3:14", "must be a duration" },
	{ "a check timeout of nan", "checks:\n  postgres:\n    timeout: nan\n", 0, "3:14",
	  "must be a duration" },
	{ "rollback.on_failure that is not a bool", "rollback:\n  on_failure: maybe\n", 0, "2:15",
	  "'rollback.on_failure' must be true or false" },
	{ "a kube.version with junk after the minor", "kube:\n  version: 1.29abc\n", 0, "2:12",
	  "kube.version '1.29abc' is not a Kubernetes version" },
	{ "a kube.version without a minor", "kube: { version: \"1.\" }\n", 0, "1:18",
	  "not a Kubernetes version (like 1.29, v1.29 or 1.29.3)" },
	{ "a kube.version that is a word", "kube: { version: latest }\n", 0, "1:18",
	  "kube.version 'latest'" },
	{ "a kube.version 1.29+ (no patch before the suffix)", "kube: { version: 1.29+ }\n", 0,
	  "1:18", "kube.version '1.29+'" },
	{ "a rule severity that does not exist", "rules:\n  replicas: fatal\n", 0, "2:13",
	  "one of off, info, warn, error" },
	{ "a secrets entry that is a scalar", "secrets: [x]\n", 0, "1:11",
	  "secrets[0] must be a mapping" },
	{ "a secrets entry without a provider", "secrets:\n  - path: pg.secret.yaml\n", 0, "2:5",
	  "secrets[0] has no 'provider'" },
	{ "a hook without run", "hooks:\n  deploy:\n    pre:\n      - name: notify\n", 0, "4:9",
	  "a hook needs 'run" },
	{ "a hook whose on_failure is neither abort nor warn",
	  "hooks:\n  deploy:\n    pre:\n      - run: [./notify]\n        on_failure: ignore\n", 0,
	  "5:21", "'abort' or 'warn', not 'ignore'" },
	{ "a hook list that is a scalar", "hooks:\n  deploy:\n    pre: ./notify\n", 0, "3:10",
	  "must be a list" },
	{ "hooks for a phase that does not exist",
	  "hooks:\n  deplyo:\n    pre:\n      - run: [./notify]\n", 0, "2:3",
	  "unknown phase 'deplyo'" },
	/* unknown keys, with a suggestion, pointing at the key */
	{ "a misspelt top-level key", "relase: posthog\n", 0, "1:1",
	  "unknown key 'relase' (did you mean 'release'?)" },
	{ "a misspelt key whose value is a block", "relase:\n  x: 1\n", 0, "1:1",
	  "did you mean 'release'" },
	{ "a misspelt key inside chart", "chart:\n  nmae: posthog/posthog\n", 0, "2:3",
	  "did you mean 'name'" },
	/* names Kubernetes and helm would refuse */
	{ "a release name with capitals and '_'", "release: Post_Hog\n", 0, "1:10",
	  "not a valid release name" },
	{ "a release name of 54 characters",
	  "release: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0, "1:10",
	  "not a valid release name" },
	{ "a namespace with a dot", "namespace: post.hog\n", 0, "1:12", "not a valid namespace" },
	{ "a namespace ending in '-'", "namespace: posthog-\n", 0, "1:12",
	  "not a valid namespace" },
};

static void test_binary_junk(void)
{
	unsigned char junk[2048];
	char *path;
	struct input_run r;

	input_junk(junk, sizeof junk, 88172645u);
	junk[3] = 0;
	junk[9] = 0xfe;
	path = input_write("junk-config.bin", (const char *)junk, sizeof junk);
	input_run(&r, path, NULL, 0);
	input_expect_refused("a config of binary junk", r.exit_code, r.msg, path, NULL, "UTF-8");
	input_run_free(&r);
	free(path);
}

static void test_files_that_are_not_there(void)
{
	char missing[512], dir[512];
	char *cfg;
	struct input_run r;

	snprintf(missing, sizeof missing, "%s/no-such-phdeploy.yaml", tap_tmpdir());
	input_run(&r, missing, NULL, 0);
	input_expect_refused("a missing explicit config file", r.exit_code, r.msg, missing, "",
			     "not found");
	input_run_free(&r);

	snprintf(dir, sizeof dir, "%s/config.d", tap_tmpdir());
	mkdir(dir, 0700);
	input_run(&r, dir, NULL, 0);
	input_expect_refused("a config file that is a directory", r.exit_code, r.msg, dir, "",
			     "directory");
	input_run_free(&r);

	/* the operator must learn which line of the config names the file */
	cfg = input_write("lists-missing.yaml", "release: posthog\nvalues: [missing-values.yaml]\n",
			  0);
	input_run(&r, cfg, NULL, 0);
	input_expect_refused("a config listing a missing values file", r.exit_code, r.msg, cfg,
			     "2:10", "missing-values.yaml");
	tap_like(r.msg, "not found", "a missing values file is reported as not found");
	input_run_free(&r);
	free(cfg);
}

static void test_huge_config(void)
{
	char path[512];
	struct input_child c;
	int fd;

	snprintf(path, sizeof path, "%s/huge-config.yaml", tap_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 100LL << 20) != 0) {
		tap_skip(5, "cannot create a sparse file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	input_run_child(&c, path, NULL, 0, input_deadline(3000));
	tap_ok(c.finished, "a 100 MiB config is answered within 3 s");
	input_expect_refused("a 100 MiB config", c.exit_code, c.msg, path, "1:1", "larger than");
}

/* After merging, every value is positioned where it was set: the file that
 * won for a leaf set twice, the first file for a leaf only it sets, and in
 * a map merged from several files each leaf keeps its own file.  Findings
 * take these positions, so they point at the value that is in effect. */
static void expect_at(const phd_node *values, const char *key, const char *val,
		      const char *file, unsigned line, unsigned col, const char *what)
{
	const phd_node *n = phd_node_get(values, key);
	char want[1024], got[1024];

	snprintf(want, sizeof want, "%s=%s at %s:%u:%u", key, val, file, line, col);
	snprintf(got, sizeof got, "%s=%s at %s:%u:%u", key, n ? phd_node_str(n) : "(none)",
		 n ? phd_node_file(n) : "-", phd_node_line(n), phd_node_column(n));
	tap_is_str(got, want, "merged values: %s", what);
}

static void test_merged_positions(void)
{
	struct { char s[4096]; } big;
	char *a = in_dir("merged", "a.yaml",
			 "web:\n  replicacount: 1\n  image: {tag: a1}\nworker:\n  replicacount: 3\n");
	char *b = in_dir("merged", "b.yaml",
			 "# the second file\nweb:\n    replicacount: 2\n    pdb: {enabled: true}\n");
	char *c, *d;
	const char *files[4];
	struct input_run r;
	size_t len = 0;

	/* a top-level map large enough to be merged through its key index */
	for (int i = 0; i < 20; i++)
		len += (size_t)snprintf(big.s + len, sizeof big.s - len, "k%02d: %d\n", i, i);
	snprintf(big.s + len, sizeof big.s - len, "worker:\n  hpa: {enabled: true}\n");
	c = in_dir("merged", "c.yaml", big.s);
	d = in_dir("merged", "d.yaml", "web: {image: null}\n");
	files[0] = a;
	files[1] = b;
	files[2] = c;
	files[3] = d;
	input_run(&r, NULL, files, 3);
	if (!tap_is_int(r.rc, 0, "three values files load"))
		tap_diag("errmsg: %s", r.msg);
	expect_at(phd_ctx_values(r.ctx), "web.replicacount", "2", b, 3, 19,
		  "a leaf set in two files points at the later file");
	expect_at(phd_ctx_values(r.ctx), "web.image.tag", "a1", a, 3, 16,
		  "a leaf only the first file sets keeps its place there");
	expect_at(phd_ctx_values(r.ctx), "web.pdb.enabled", "true", b, 4, 20,
		  "a leaf the second file adds to a merged map points there");
	expect_at(phd_ctx_values(r.ctx), "worker.replicacount", "3", a, 5, 17,
		  "through an indexed merge, the first file's leaf keeps its place");
	expect_at(phd_ctx_values(r.ctx), "worker.hpa.enabled", "true", c, 22, 18,
		  "through an indexed merge, the later file's leaf points there");
	input_run_free(&r);

	files[0] = b;
	files[1] = a;
	input_run(&r, NULL, files, 2);
	expect_at(phd_ctx_values(r.ctx), "web.replicacount", "1", a, 2, 17,
		  "in the other order the other file wins, and is named");
	input_run_free(&r);

	files[0] = a;
	files[1] = d;
	input_run(&r, NULL, files, 2);
	tap_ok(r.rc == 0 && !phd_node_get(phd_ctx_values(r.ctx), "web.image") &&
	       phd_node_get(phd_ctx_values(r.ctx), "web.replicacount"),
	       "a null in a later file deletes the key, as helm does");
	input_run_free(&r);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* Names given as options get the same checks as names in the config, but
 * as a usage error (exit 2, phdeploy(1)) from phd_ctx_new, before any input
 * is read; an application that goes on anyway is still refused. */
static void test_bad_names_as_options(void)
{
	static const struct {
		const char *release, *ns, *needle;
	} cases[] = {
		{ "Bad_Name", NULL, "not a valid release name" },
		{ NULL, "post.hog", "not a valid namespace" },
		{ NULL, "-posthog", "not a valid namespace" },
		{ "a..b", NULL, "not a valid release name" },
		{ "a.-b", NULL, "not a valid release name" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct phd_options o = PHD_OPTIONS_INIT;
		phd_ctx *ctx = NULL;
		int rc;

		o.flags = PHD_OPT_NO_CONFIG;
		o.release = cases[i].release;
		o.namespace_ = cases[i].ns;
		rc = phd_ctx_new(&ctx, &o);
		tap_is_int(rc, PHD_EINVAL, "option %s '%s' is refused by phd_ctx_new",
			   cases[i].release ? "--release" : "--namespace",
			   cases[i].release ? cases[i].release : cases[i].ns);
		tap_is_int(phd_exit_code(ctx, rc), 2, "... as a usage error (exit code 2)");
		tap_like(phd_ctx_errmsg(ctx), cases[i].needle, "option '%s': the error says '%s'",
			 cases[i].release ? cases[i].release : cases[i].ns, cases[i].needle);
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
		tap_ok(rc == PHD_EINVAL && strstr(phd_ctx_errmsg(ctx), cases[i].needle),
		       "a run on that context anyway is refused too");
		phd_ctx_free(ctx);
	}
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* A failed load is recorded once in $PHDEPLOY_STATE_DIR, leaves no lock
 * holder, runs nothing. */
static void expect_failed_load_recorded(const char *what, const char *cfg,
					const char *const *values, size_t nvalues,
					const char *where)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	char state[512], journal[600], lock[700];
	char *text, *saved = strdup(getenv("PHDEPLOY_STATE_DIR"));
	struct stat st;
	phd_ctx *ctx = NULL;
	int rc;

	snprintf(state, sizeof state, "%s/state-%s", tap_tmpdir(), what);
	snprintf(journal, sizeof journal, "%s/journal.jsonl", state);
	snprintf(lock, sizeof lock, "%s/locks/posthog.posthog.lock", state);

	o.config_path = cfg;
	o.values = values;
	o.nvalues = nvalues;
	setenv("PHDEPLOY_STATE_DIR", state, 1);
	phd_ctx_new(&ctx, &o);
	/* a deploy would take the lock; the bad input must stop it first */
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_DEPLOY));
	tap_is_int(phd_exit_code(ctx, rc), 3, "%s: the deploy is refused with exit code 3", what);
	tap_is_int(phd_ctx_failed_phase(ctx), PHD_PHASE_VALIDATE, "%s: validate failed", what);
	tap_is_int(phd_ctx_phase_status(ctx, PHD_PHASE_REPO), PHD_STATUS_NOTRUN,
		   "%s: repo did not run", what);
	tap_is_int(phd_ctx_phase_status(ctx, PHD_PHASE_DEPLOY), PHD_STATUS_NOTRUN,
		   "%s: deploy did not run", what);
	text = tap_slurp(journal, NULL);
	tap_is_int((long long)count_lines(text), 1, "%s: the journal has one record", what);
	tap_like(text, "\"outcome\":\"failed\"", "%s: the record says failed", what);
	tap_like(text, "\"exit\":3", "%s: the record has exit code 3", what);
	tap_like(text, "\"failed_phase\":\"validate\"", "%s: the record names validate", what);
	tap_like(text, "{\"phase\":\"validate\",\"status\":\"failed\"",
		 "%s: the record lists validate as failed", what);
	tap_like(text, where, "%s: the record carries the positioned error", what);
	tap_ok(stat(lock, &st) != 0 || st.st_size == 0, "%s: no lock holder is left behind",
	       what);
	free(text);
	phd_ctx_free(ctx);
	setenv("PHDEPLOY_STATE_DIR", saved, 1);
	free(saved);
}

static void test_failed_load_leaves_nothing(void)
{
	char *cfg = input_write("journal-bad.yaml",
				"release: posthog\nrollback: {on_failure: maybe}\n", 0);
	char *good = input_write("journal-good.yaml", "release: posthog\n", 0);
	char *vbad = input_write("journal-values.yaml", "web: {replicas: 1\n", 0);
	char *vok = input_write("journal-values-ok.yaml", "web: {replicas: 1}\n", 0);
	const char *values[] = { vok, vbad };
	char where[600];

	snprintf(where, sizeof where, "%s:2:24: ", cfg);
	expect_failed_load_recorded("bad-config", cfg, NULL, 0, where);
	snprintf(where, sizeof where, "%s:2:1: ", vbad);
	expect_failed_load_recorded("bad-values", good, values, 2, where);
	free(cfg);
	free(good);
	free(vbad);
	free(vok);
}

/* The lock is taken only after the input loaded; a run that took it and
 * then failed must release it for the next run. */
static void test_lock_released_after_failure(void)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	char state[512], lock[700];
	char *cfg = input_write("lock.yaml", "release: posthog\nnamespace: posthog\n", 0);
	struct stat st;
	phd_ctx *ctx = NULL;
	int rc;

	snprintf(state, sizeof state, "%s/state-lock", tap_tmpdir());
	snprintf(lock, sizeof lock, "%s/locks/posthog.posthog.lock", state);
	o.config_path = cfg;
	o.state_dir = state;
	phd_ctx_new(&ctx, &o);
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_DEPLOY));
	tap_ok(rc != 0 && phd_exit_code(ctx, rc) != 12,
	       "a deploy without plugins fails, but not on the lock (exit %d)",
	       phd_exit_code(ctx, rc));
	tap_ok(stat(lock, &st) == 0 && st.st_size == 0,
	       "the lock file it took is left with no holder");
	rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_DEPLOY));
	tap_ok(phd_exit_code(ctx, rc) != 12, "a second run takes the lock again");
	phd_ctx_free(ctx);
	free(cfg);
}

/* Keys the bundled plugins declare: a typo is refused by validate, with
 * the position and the nearest known name, before any phase runs. */
static const struct input_bad bad_plugin_keys[] = {
	{ "a misspelt check key", "checks:\n  postgres: { timout: 5s }\n", 0, "2:15",
	  "unknown key in checks.postgres 'timout' (did you mean 'timeout'?)" },
	{ "a misspelt key of the postgres plugin", "checks:\n  postgres: { sslmod: disable }\n",
	  0, "2:15", "did you mean 'sslmode'?" },
	{ "a value outside the declared set", "checks:\n  postgres: { sslmode: sometimes }\n",
	  0, "2:24", "must be one of disable|allow|prefer|require|verify-ca|verify-full" },
	{ "a redis tls setting that is not a boolean", "checks:\n  redis: { tls: maybe }\n", 0,
	  "2:17", "checks.redis.tls must be true or false, not 'maybe'" },
	{ "a misspelt rule id", "rules: { image-pined: off }\n", 0, "1:10",
	  "unknown rule id in rules 'image-pined' (did you mean 'image-pinned'?)" },
	{ "an exemption of an unknown rule",
	  "exemptions:\n  - { rule: probe, object: Deployment/x, reason: r }\n", 0, "2:13",
	  "unknown rule id in exemptions 'probe' (did you mean 'probes'?)" },
	{ "an exemption without a reason", "exemptions:\n  - { rule: probes }\n", 0, NULL,
	  "needs a 'rule' and a 'reason'" },
	{ "a check no plugin provides", "checks:\n  postgress: { required: true }\n", 0, "2:3",
	  "unknown check (no loaded plugin provides it) 'postgress' (did you mean 'postgres'?)" },
	{ "a secrets entry with an unknown provider", "secrets:\n  - { provider: fiel }\n", 0,
	  "2:17", "unknown secret provider 'fiel' (did you mean 'file'?)" },
	{ "a secrets entry without its path", "secrets:\n  - { provider: file }\n", 0, NULL,
	  "the key 'path' is required" },
	{ "a misspelt key of the helm plugin", "helm: { timout: 5m }\n", 0, "1:9",
	  "did you mean 'timeout'?" },
	{ "a misspelt key of the kube plugin", "kube: { server_sde: true }\n", 0, "1:9",
	  "did you mean 'server_side'?" },
	{ "a wrong type for a declared key", "checks:\n  kafka: { min_brokers: three }\n", 0,
	  "2:25", "checks.kafka.min_brokers must be an integer" },
};

int main(void)
{
	input_setup();
	test_example_loads();
	test_merged_positions();
	input_expect_all_refused(bad_configs, sizeof bad_configs / sizeof *bad_configs, 1);
	input_with_plugins = 1;
	input_expect_all_refused(bad_plugin_keys, sizeof bad_plugin_keys / sizeof *bad_plugin_keys,
				 1);
	input_with_plugins = 0;
	test_binary_junk();
	test_files_that_are_not_there();
	test_huge_config();
	test_bad_names_as_options();
	test_kube_versions();
	test_failed_load_leaves_nothing();
	test_lock_released_after_failure();
	return tap_done();
}
