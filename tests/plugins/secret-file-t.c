/* secret-file: Secrets read from Kubernetes Secret manifests on disk, and
 * every kind of bad manifest refused with file:line:column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "secret-t.h"

#define ENTRY "secrets:\n  - {provider: file, path: bad.secret.yaml}\n"
#define HDR "apiVersion: v1\nkind: Secret\n"

struct bad {
	const char *what;
	const char *text;
	const char *pos;    /* "L:C" inside bad.secret.yaml */
	const char *words;
};

static const struct bad bads[] = {
	{ "a ConfigMap is refused", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
	  "data: {a: YQ==}\n", "2:7", "kind \"ConfigMap\" is not a Secret" },
	{ "apiVersion other than v1 is refused", "apiVersion: v2\nkind: Secret\n"
	  "metadata: {name: x}\nstringData: {a: b}\n", "1:13", "\"apiVersion:\" must be v1" },
	{ "a missing kind is refused", "apiVersion: v1\nmetadata: {name: x}\n"
	  "stringData: {a: b}\n", "1:1", "missing \"kind:\"" },
	{ "another namespace is refused", HDR "metadata:\n  name: x\n  namespace: default\n"
	  "stringData: {a: b}\n", "5:14", "namespace \"default\" is not the release namespace "
	  "\"posthog\"" },
	{ "bad base64 is refused", HDR "metadata: {name: x}\ndata:\n  password: \"abc$def\"\n",
	  "5:13", "data.password is not valid base64 (at character 4)" },
	{ "truncated base64 is refused", HDR "metadata: {name: x}\ndata:\n  password: YWJjZA\n",
	  "5:13", "data.password is not valid base64" },
	{ "a YAML syntax error is positioned", HDR "metadata: {name: x}\nstringData:\n"
	  "  a: b\n   c: d\n", "6:5", "YAML: mapping values are not allowed" },
	{ "an invalid key is refused", HDR "metadata: {name: x}\nstringData:\n  \"bad key!\": v\n",
	  "5:3", "\"bad key!\" is not a valid Secret key" },
	{ "a Secret without a name is refused", HDR "metadata:\n  namespace: posthog\n"
	  "stringData: {a: b}\n", "4:3", "missing \"name:\"" },
	{ "an invalid Secret name is refused", HDR "metadata: {name: Posthog_PG}\n"
	  "stringData: {a: b}\n", "3:18", "\"Posthog_PG\" is not a valid Secret name" },
	{ "a mapping as a value is refused", HDR "metadata: {name: x}\nstringData:\n  a:\n"
	  "    nested: 1\n", "6:5", "stringData.a must be a string" },
	{ "a key without a value is refused", HDR "metadata: {name: x}\ndata:\n  a:\n",
	  "5:3", "data.a has no value" },
	{ "a duplicate key is refused", HDR "metadata: {name: x}\nstringData:\n  a: one\n"
	  "  a: two\n", "6:3", "duplicate key \"a\" (first at line:column 5:3)" },
	{ "a key in data and stringData is refused", HDR "metadata: {name: x}\n"
	  "data: {a: YQ==}\nstringData: {a: b}\n", "5:14",
	  "key \"a\" is in both stringData and data (data at 4:8)" },
	{ "an unknown field is refused", HDR "metadata: {name: x}\nstringData: {a: b}\n"
	  "spec: {}\n", "5:1", "unknown field \"spec\"" },
	{ "a YAML alias is refused", HDR "metadata: {name: x}\nstringData:\n  a: &p one\n"
	  "  b: *p\n", "6:6", "YAML aliases are not allowed" },
	{ "a document that is a list is refused", "- apiVersion: v1\n", "1:1",
	  "a Secret manifest must be a mapping" },
	{ "a Secret without data is refused", HDR "metadata: {name: x}\n", "3:18",
	  "Secret \"x\" has no data and no stringData" },
};

static void malformed(void)
{
	size_t i;

	for (i = 0; i < sizeof bads / sizeof *bads; i++) {
		const char *dir = st_dir();
		char want[4200];
		struct st_run r;

		st_file(dir, "bad.secret.yaml", bads[i].text);
		st_run(&r, dir, ENTRY);
		snprintf(want, sizeof want, "%s/bad.secret.yaml:%s: secret-file: %s", dir,
			 bads[i].pos, bads[i].words);
		tap_like(r.err, want, "%s (%s)", bads[i].what, bads[i].pos);
		st_done(&r);
	}
}

/* The core's one rule for a name given twice, within a file as across
 * entries (across_files). */
static void twice_in_one_file(void)
{
	const char *dir = st_dir();
	char want[4200];
	struct st_run r;

	st_file(dir, "bad.secret.yaml", HDR "metadata: {name: dup}\nstringData: {a: b}\n---\n"
		HDR "metadata: {name: dup}\nstringData: {c: d}\n");
	st_run(&r, dir, ENTRY);
	snprintf(want, sizeof want, "%s/bad.secret.yaml:8:18: Secret \"dup\" is provided twice "
		 "(first at %s/bad.secret.yaml:3:18)", dir, dir);
	tap_like(r.err, want, "the same Secret twice in a file is refused with both positions");
	st_done(&r);
}

static void too_deep_and_too_big(void)
{
	char text[400], *big;
	const char *dir = st_dir();
	struct st_run r;
	int i, n;

	n = snprintf(text, sizeof text, HDR "metadata: {name: x}\nstringData: {a: ");
	for (i = 0; i < 40; i++)
		text[n++] = '[';
	text[n] = '\0';
	strcat(text, "\n");
	st_file(dir, "bad.secret.yaml", text);
	st_run(&r, dir, ENTRY);
	tap_like(r.err, "bad.secret.yaml:4:", "deep nesting is positioned");
	tap_like(r.err, "nested too deeply", "... and refused as too deep");
	st_done(&r);

	dir = st_dir();
	big = malloc(1100000);
	memset(big, '#', 1099999);
	big[1099999] = '\0';
	st_file(dir, "bad.secret.yaml", big);
	free(big);
	st_run(&r, dir, ENTRY);
	tap_like(r.err, "over the 1048576-byte limit", "a file over 1 MiB is refused unread");
	st_done(&r);
}

static void config_errors(void)
{
	const char *dir = st_dir();
	struct st_run r;

	st_run(&r, dir, ENTRY);
	tap_like(r.err, "phdeploy.yaml:4:28: secret-file: cannot open", "a missing file names "
		 "the entry's position");
	tap_like(r.err, "bad.secret.yaml: No such file", "... and the file");
	st_done(&r);

	dir = st_dir();
	st_file(dir, "bad.secret.yaml", "# only a comment\n---\n");
	st_run(&r, dir, ENTRY);
	tap_like(r.err, "bad.secret.yaml: secret-file: no Secret in it", "a file without a "
		 "Secret is refused");
	st_done(&r);

	dir = st_dir();
	st_run(&r, dir, "secrets:\n  - {provider: file, pth: x.yaml}\n");
	tap_like(r.err, "phdeploy.yaml:4:22: unknown key in secrets[0] 'pth' (did you mean 'path'?)",
		 "a mistyped entry key is refused with its position");
	st_done(&r);
}

static const char postgres[] =
	"# the RDS password\n"
	"apiVersion: v1\n"
	"kind: Secret\n"
	"metadata:\n"
	"  name: posthog-postgres\n"
	"  namespace: posthog\n"
	"type: Opaque\n"
	"data:\n"
	"  postgresql-password: Zm9vLWJhci1iYXo=\n"
	"  binary: AAEC/w==\n"
	"  wrapped: |\n"
	"    d3I0cHBlZC12\n"
	"    NGx1ZQ==\n"
	"stringData:\n"
	"  postgresql-user: \"posthog\"\n"
	"  empty: \"\"\n";

static const char multi[] =
	"---\n"
	"apiVersion: v1\n"
	"kind: Secret\n"
	"metadata: {name: posthog-redis}\n"
	"stringData: {redis-password: \"r3dis pass: #1\"}\n"
	"---\n"
	"---\n"
	"apiVersion: v1\n"
	"kind: Secret\n"
	"metadata:\n"
	"  name: posthog-clickhouse\n"
	"type: kubernetes.io/basic-auth\n"
	"stringData:\n"
	"  username: admin\n"
	"  password: |-\n"
	"    line one\n"
	"    line two\n"
	"...\n";

static const struct phd_secret_view *find(const phd_ctx *ctx, const char *name)
{
	size_t i;

	for (i = 0; i < phd_secret_count(ctx); i++)
		if (strcmp(phd_secret_at(ctx, i)->name, name) == 0)
			return phd_secret_at(ctx, i);
	return NULL;
}

static void good(void)
{
	const char *dir = st_dir();
	const struct phd_secret_view *v;
	const unsigned char *val;
	size_t len;
	struct st_run r;

	st_file(dir, "postgres.secret.yaml", postgres);
	st_file(dir, "redis.secret.yaml", multi);
	st_run(&r, dir, "secrets:\n  - {provider: file, path: postgres.secret.yaml}\n"
			"  - {provider: file, path: redis.secret.yaml}\n");
	tap_is_int(r.rc, 0, "good manifests load");
	tap_is_int((long long)phd_secret_count(r.ctx), 3, "three Secrets from two files");
	st_is(&r, "posthog-postgres", "postgresql-password", "foo-bar-baz",
	      "data is base64-decoded");
	st_is(&r, "posthog-postgres", "postgresql-user", "posthog", "stringData is taken as is");
	st_is(&r, "posthog-postgres", "wrapped", "wr4pped-v4lue", "base64 over several lines decodes");
	st_is(&r, "posthog-postgres", "empty", "", "an empty string is a value");
	tap_ok(phd_secret_get(r.ctx, "posthog-postgres", "binary", &val, &len) == 0 &&
	       len == 4 && memcmp(val, "\x00\x01\x02\xff", 4) == 0,
	       "binary data survives, NUL bytes included");
	st_is(&r, "posthog-redis", "redis-password", "r3dis pass: #1",
	      "a quoted value with ': #' is one string");
	st_is(&r, "posthog-clickhouse", "password", "line one\nline two",
	      "a block scalar keeps its newline");
	v = find(r.ctx, "posthog-clickhouse");
	tap_is_str(v ? v->type : NULL, "kubernetes.io/basic-auth", "type: is forwarded");
	tap_is_str(v ? v->namespace_ : NULL, "posthog", "a Secret without namespace gets the "
		   "release's");
	v = find(r.ctx, "posthog-postgres");
	tap_is_int(v ? (long long)v->nkeys : -1, 5, "posthog-postgres has its five keys");
	tap_unlike(r.out, "foo-bar-baz", "no value in the log");
	st_done(&r);
}

/* A manifest every user can read still loads, with a warning naming it;
 * one only its owner reads gets none. */
static void world_readable(void)
{
	const char *dir = st_dir();
	char path[4096];
	struct st_run r;

	st_file(dir, "postgres.secret.yaml", postgres);
	snprintf(path, sizeof path, "%s/postgres.secret.yaml", dir);
	chmod(path, 0644);
	st_run(&r, dir, "secrets:\n  - {provider: file, path: postgres.secret.yaml}\n");
	tap_is_int(r.rc, 0, "a world-readable manifest loads");
	tap_like(r.out, "postgres.secret.yaml is readable by every user (mode 0644); chmod 600 it",
		 "... with a warning naming it and its mode");
	st_done(&r);
	chmod(path, 0600);
	st_run(&r, dir, "secrets:\n  - {provider: file, path: postgres.secret.yaml}\n");
	tap_unlike(r.out, "readable by every user", "a mode 0600 manifest gets no warning");
	st_done(&r);
}

static void across_files(void)
{
	const char *dir = st_dir();
	struct st_run r;

	st_file(dir, "a.secret.yaml", HDR "metadata: {name: same}\nstringData: {a: b}\n");
	st_file(dir, "b.secret.yaml", HDR "metadata: {name: same}\nstringData: {c: d}\n");
	st_run(&r, dir, "secrets:\n  - {provider: file, path: a.secret.yaml}\n"
			"  - {provider: file, path: b.secret.yaml}\n");
	tap_ok(r.rc != 0, "the same Secret name in two files fails");
	tap_like(r.err, "b.secret.yaml:3:18: Secret \"same\" is provided twice (first at ",
		 "the second file is named with its position");
	tap_like(r.err, "a.secret.yaml:3:18", "... and the first one too");
	tap_is_int(phd_exit_code(r.ctx, r.rc), 4, "a secrets failure exits 4");
	st_done(&r);
}

static void examples(void)
{
	const char *src = tap_env("top_srcdir", ".");
	char body[8192];
	const unsigned char *v;
	struct st_run r;
	size_t n;

	snprintf(body, sizeof body,
		 "secrets:\n"
		 "  - {provider: file, path: %s/examples/postgres.secret.yaml}\n"
		 "  - {provider: file, path: %s/examples/redis.secret.yaml}\n"
		 "  - {provider: file, path: %s/examples/posthog.secret.yaml}\n", src, src, src);
	st_run(&r, st_dir(), body);
	tap_is_int(r.rc, 0, "the example secret files load");
	tap_ok(phd_secret_get(r.ctx, "posthog-postgres", "postgresql-password", &v, &n) == 0 &&
	       phd_secret_get(r.ctx, "posthog-redis", "redis-password", &v, &n) == 0 &&
	       phd_secret_get(r.ctx, "posthog-secret", "posthog-secret", &v, &n) == 0 &&
	       phd_secret_get(r.ctx, "posthog-clickhouse", "admin-password", &v, &n) == 0,
	       "they hold the keys values.yaml references");
	st_done(&r);
}

int main(void)
{
	st_init();
	good();
	world_readable();
	across_files();
	examples();
	malformed();
	twice_in_one_file();
	too_deep_and_too_big();
	config_errors();
	return tap_done();
}
