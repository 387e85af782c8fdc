/* The core's YAML trees, seen through the public API: path look-ups and
 * typed readers with exact positions, helm-style merging of values files,
 * anchors and merge keys, and values files that must be refused (malformed,
 * oversized, hostile) quickly, with a position and without a crash. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>
#include <phdeploy/plugin.h>

#include "../tap/tap.h"
#include "input.h"

#define MiB (1024LL * 1024)

static const char lookup_yaml[] =
	"# values for the look-up tests\n"              /* 1 */
	"externalPostgresql:\n"                          /* 2 */
	"  postgresqlHost: db.example.internal\n"        /* 3 */
	"  postgresqlPort: 5432\n"                       /* 4 */
	"externalKafka:\n"                               /* 5 */
	"  brokers:\n"                                   /* 6 */
	"    - b-1.kafka.internal:9092\n"                /* 7 */
	"    - \"b-2.kafka.internal:9092\"\n"            /* 8 */
	"web:\n"                                         /* 9 */
	"  \"a.b\": dotted\n"                            /* 10 */
	"  'c.d': {e: deep}\n"                           /* 11 */
	"  replicas: 3\n"                                /* 12 */
	"  enabled: yes\n"                               /* 13 */
	"  timeout: 1m30s\n"                             /* 14 */
	"  huge: 99999999999999999999\n"                 /* 15 */
	"nothing: ~\n";                                  /* 16 */

static void is_at(const phd_node *n, const char *file, unsigned line, unsigned col,
		  const char *what)
{
	char want[64], got[64];
	snprintf(want, sizeof want, "%u:%u", line, col);
	snprintf(got, sizeof got, "%u:%u", phd_node_line(n), phd_node_column(n));
	tap_is_str(got, want, "%s is read at line:column %s", what, want);
	tap_is_str(phd_node_file(n), file, "%s names the file it came from", what);
}

static void test_lookups(void)
{
	char *path = input_write("lookup.yaml", lookup_yaml, 0);
	const char *files[] = { path };
	struct input_run r;
	const phd_node *v, *n;
	long long i = 0;
	int b = -1;

	input_run(&r, NULL, files, 1);
	tap_is_int(r.rc, 0, "a well-formed values file loads");
	v = phd_ctx_values(r.ctx);

	n = phd_node_get(v, "externalPostgresql.postgresqlHost");
	tap_is_str(phd_node_str(n), "db.example.internal", "a dotted path finds a nested scalar");
	is_at(n, path, 3, 19, "externalPostgresql.postgresqlHost");
	is_at(phd_node_get(v, "externalPostgresql.postgresqlPort"), path, 4, 19,
	      "externalPostgresql.postgresqlPort");

	n = phd_node_get(v, "externalKafka.brokers");
	tap_is_int(phd_node_type(n), PHD_NODE_SEQ, "a block list is a sequence node");
	tap_is_int((long long)phd_node_len(n), 2, "the sequence has its two entries");
	is_at(n, path, 7, 5, "externalKafka.brokers");
	tap_is_str(phd_node_str(phd_node_get(v, "externalKafka.brokers[1]")),
		   "b-2.kafka.internal:9092", "a list index reaches the second entry");
	is_at(phd_node_get(v, "externalKafka.brokers[1]"), path, 8, 7, "externalKafka.brokers[1]");
	tap_ok(phd_node_at(n, 1) == phd_node_get(v, "externalKafka.brokers[1]"),
	       "phd_node_at and an index path give the same node");
	tap_ok(phd_node_at(n, 2) == NULL, "phd_node_at past the end is NULL");
	tap_ok(phd_node_key_at(n, 0) == NULL, "a sequence has no keys");

	n = phd_node_get(v, "web.\"a.b\"");
	tap_is_str(phd_node_str(n), "dotted", "a quoted path segment finds a key with a dot");
	is_at(n, path, 10, 10, "web.\"a.b\"");
	n = phd_node_get(v, "web.\"c.d\".e");
	tap_is_str(phd_node_str(n), "deep", "the path goes on after a quoted segment");
	is_at(n, path, 11, 14, "web.\"c.d\".e");
	tap_is_str(phd_node_key_at(phd_node_get(v, "web"), 0), "a.b",
		   "mapping keys keep their order and text");

	tap_is_int(phd_node_int(phd_node_get(v, "web.replicas"), &i), 0, "an integer reads");
	tap_is_int(i, 3, "the integer has its value");
	tap_is_int(phd_node_int(phd_node_get(v, "externalPostgresql.postgresqlHost"), &i),
		   PHD_ETYPE, "a host name is not an integer");
	tap_is_int(phd_node_int(phd_node_get(v, "web.huge"), &i), PHD_ETYPE,
		   "an integer beyond 64 bits is refused, not clamped");
	tap_is_int(phd_node_bool(phd_node_get(v, "web.enabled"), &b), 0, "'yes' reads as a bool");
	tap_is_int(b, 1, "'yes' is true");
	tap_is_int(phd_node_bool(phd_node_get(v, "web.replicas"), &b), PHD_ETYPE,
		   "a number is not a bool");
	tap_is_int(phd_node_duration_ms(phd_node_get(v, "web.timeout"), &i), 0,
		   "'1m30s' reads as a duration");
	tap_is_int(i, 90000, "'1m30s' is 90000 ms");
	tap_is_int(phd_node_duration_ms(phd_node_get(v, "web.replicas"), &i), 0,
		   "a bare number reads as a duration");
	tap_is_int(i, 3000, "a bare number is seconds");

	n = phd_node_get(v, "nothing");
	tap_is_int(phd_node_type(n), PHD_NODE_NULL, "'~' is a null node");
	tap_ok(phd_node_str(n) == NULL, "a null node has no text");
	tap_is_int(phd_node_int(n, &i), PHD_ENOTFOUND, "reading a null as an integer: not found");
	tap_is_int(phd_node_int(phd_node_get(v, "absent"), &i), PHD_ENOTFOUND,
		   "reading an absent node: not found");

	{
		static const char *const missing[] = {
			"externalPostgresql.postgresqlUser", "externalKafka.brokers[2]",
			"externalKafka.brokers[-1]", "externalKafka.brokers[x]",
			"externalKafka.brokers.0", "web.replicas.more", "web[0]", "web.a.b",
			"web.\"a.b", "nope.deeper.still"
		};
		for (size_t k = 0; k < sizeof missing / sizeof *missing; k++)
			tap_ok(phd_node_get(v, missing[k]) == NULL, "missing path %s is NULL",
			       missing[k]);
	}
	tap_ok(phd_node_get(NULL, "web") == NULL, "a look-up below NULL is NULL");
	tap_ok(phd_node_get(v, NULL) == NULL, "a NULL path is NULL");
	input_run_free(&r);
	free(path);
}

/* A path segment longer than the look-up's buffer must not be cut into a
 * different, existing key. */
static void test_long_segment(void)
{
	char yaml[1024], key[512];
	char *path;
	const char *files[1];
	struct input_run r;

	memset(key, 'a', 300);
	key[300] = '\0';
	snprintf(yaml, sizeof yaml, "%.255s:\n  %.45s: wrong\n", key, key);
	path = input_write("longkey.yaml", yaml, 0);
	files[0] = path;
	input_run(&r, NULL, files, 1);
	tap_is_int(r.rc, 0, "a values file with a 255-character key loads");
	tap_ok(phd_node_get(phd_ctx_values(r.ctx), key) == NULL,
	       "a 300-character path segment finds nothing rather than a truncated key");
	input_run_free(&r);
	free(path);
}

static const char base_yaml[] =
	"web:\n"                         /* 1 */
	"  replicas: 1\n"                /* 2 */
	"  image: posthog/posthog\n"     /* 3 */
	"  env:\n"                       /* 4 */
	"    - a\n"                      /* 5 */
	"    - b\n"                      /* 6 */
	"worker:\n"                      /* 7 */
	"  replicas: 1\n"                /* 8 */
	"redis:\n"                       /* 9 */
	"  enabled: true\n"              /* 10 */
	"  password: base-pw\n"          /* 11 */
	"kept: from-base\n"              /* 12 */
	"replaced: {a: 1}\n";            /* 13 */
static const char over_yaml[] =
	"web:\n"                         /* 1 */
	"  replicas: 3\n"                /* 2 */
	"  env:\n"                       /* 3 */
	"    - c\n"                      /* 4 */
	"worker: null\n"                 /* 5 */
	"redis:\n"                       /* 6 */
	"  password: ~\n"                /* 7 */
	"  enabled: false\n"             /* 8 */
	"replaced: scalar\n"             /* 9 */
	"added: from-over\n";            /* 10 */
static const char third_yaml[] =
	"web:\n"
	"  replicas: 5\n";

static void test_merge(void)
{
	char *base = input_write("base.yaml", base_yaml, 0);
	char *over = input_write("over.yaml", over_yaml, 0);
	char *third = input_write("third.yaml", third_yaml, 0);
	const char *two[] = { base, over }, *three[] = { base, over, third };
	const char *reversed[] = { over, base };
	const phd_node *v;
	struct input_run r;

	input_run(&r, NULL, two, 2);
	tap_is_int(r.rc, 0, "two values files load");
	v = phd_ctx_values(r.ctx);
	tap_is_str(phd_node_str(phd_node_get(v, "web.replicas")), "3",
		   "a later file overrides a scalar of an earlier one");
	is_at(phd_node_get(v, "web.replicas"), over, 2, 13, "an overridden key");
	tap_is_str(phd_node_str(phd_node_get(v, "web.image")), "posthog/posthog",
		   "maps merge recursively: a key only the earlier file sets is kept");
	is_at(phd_node_get(v, "web.image"), base, 3, 10, "a kept key");
	tap_is_int((long long)phd_node_len(phd_node_get(v, "web.env")), 1,
		   "a list is replaced, not appended to");
	tap_is_str(phd_node_str(phd_node_get(v, "web.env[0]")), "c", "the list is the later one");
	is_at(phd_node_get(v, "web.env[0]"), over, 4, 7, "an entry of a replaced list");
	tap_ok(phd_node_get(v, "worker") == NULL, "'key: null' in a later file deletes the key");
	tap_ok(phd_node_get(v, "redis.password") == NULL, "a nested 'key: ~' deletes the key");
	tap_is_str(phd_node_str(phd_node_get(v, "redis.enabled")), "false",
		   "a sibling of a deleted key is still merged");
	tap_is_str(phd_node_str(phd_node_get(v, "kept")), "from-base",
		   "a top-level key only the earlier file has is kept");
	is_at(phd_node_get(v, "kept"), base, 12, 7, "a kept top-level key");
	tap_is_str(phd_node_str(phd_node_get(v, "replaced")), "scalar",
		   "a scalar replaces a mapping");
	tap_is_str(phd_node_str(phd_node_get(v, "added")), "from-over",
		   "a key only the later file has is added");
	is_at(phd_node_get(v, "added"), over, 10, 8, "an added key");
	input_run_free(&r);

	input_run(&r, NULL, three, 3);
	v = phd_ctx_values(r.ctx);
	tap_is_str(phd_node_str(phd_node_get(v, "web.replicas")), "5",
		   "the last of three files wins");
	is_at(phd_node_get(v, "web.replicas"), third, 2, 13, "a key set by the third file");
	tap_is_str(phd_node_str(phd_node_get(v, "web.image")), "posthog/posthog",
		   "a key set only by the first of three files survives");
	input_run_free(&r);

	input_run(&r, NULL, reversed, 2);
	v = phd_ctx_values(r.ctx);
	tap_is_str(phd_node_str(phd_node_get(v, "web.replicas")), "1",
		   "the order of the files decides which value wins");
	tap_is_str(phd_node_str(phd_node_get(v, "worker.replicas")), "1",
		   "a mapping of a later file replaces an earlier null");
	input_run_free(&r);
	free(base);
	free(over);
	free(third);
}

static const char anchors_yaml[] =
	"defaults: &defaults\n"                          /* 1 */
	"  replicas: 2\n"                                /* 2 */
	"  image: posthog\n"                             /* 3 */
	"extra: &extra {image: other, tier: gold}\n"     /* 4 */
	"web:\n"                                         /* 5 */
	"  <<: *defaults\n"                              /* 6 */
	"  replicas: 4\n"                                /* 7 */
	"early:\n"                                       /* 8 */
	"  replicas: 5\n"                                /* 9 */
	"  <<: *defaults\n"                              /* 10 */
	"both:\n"                                        /* 11 */
	"  <<: [*defaults, *extra]\n"                    /* 12 */
	"ports: &ports [80, 443]\n"                      /* 13 */
	"copy: *ports\n"                                 /* 14 */
	"literal:\n"                                     /* 15 */
	"  \"<<\": not-a-merge\n";                       /* 16 */

static void test_anchors(void)
{
	char *path = input_write("anchors.yaml", anchors_yaml, 0);
	const char *files[] = { path };
	const phd_node *v;
	struct input_run r;

	input_run(&r, NULL, files, 1);
	tap_is_int(r.rc, 0, "a values file with anchors, aliases and '<<' loads");
	v = phd_ctx_values(r.ctx);
	tap_is_str(phd_node_str(phd_node_get(v, "web.replicas")), "4",
		   "an explicit key wins over one merged with '<<'");
	tap_is_str(phd_node_str(phd_node_get(v, "web.image")), "posthog",
		   "'<<: *alias' merges the anchored mapping's keys");
	is_at(phd_node_get(v, "web.image"), path, 3, 10, "a merged key (where the anchor set it)");
	tap_is_int((long long)phd_node_len(phd_node_get(v, "web")), 2,
		   "the merge key itself is not a key of the result");
	tap_is_str(phd_node_str(phd_node_get(v, "early.replicas")), "5",
		   "an explicit key before '<<' also wins");
	tap_is_str(phd_node_str(phd_node_get(v, "both.image")), "posthog",
		   "in '<<: [a, b]' the first mapping wins");
	tap_is_str(phd_node_str(phd_node_get(v, "both.tier")), "gold",
		   "in '<<: [a, b]' keys only the second has are merged");
	tap_is_str(phd_node_str(phd_node_get(v, "copy[1]")), "443",
		   "an alias of a sequence reads like the anchored one");
	tap_ok(phd_node_get(v, "copy") == phd_node_get(v, "ports"),
	       "an alias shares the anchored node");
	tap_is_str(phd_node_key_at(phd_node_get(v, "literal"), 0), "<<",
		   "a quoted \"<<\" is an ordinary key");
	tap_is_str(phd_node_str(phd_node_get(v, "literal.\"<<\"")), "not-a-merge",
		   "the ordinary \"<<\" key keeps its value");
	input_run_free(&r);
	free(path);
}

/* Values files that must be refused with a position. */
static const struct input_bad bad_values[] = {
	{ "an unclosed flow sequence", "web:\n  env: [a, b\n", 0, "3:1", "flow sequence" },
	{ "an unclosed flow mapping", "web: {replicas: 1\n", 0, "2:1", "flow mapping" },
	{ "a key indented less than its siblings", "web:\n  replicas: 1\n image: x\n", 0,
	  "3:2", "block mapping" },
	{ "a tab used for indentation", "web:\n\treplicas: 1\n", 0, "2:1",
	  "cannot start any token" },
	{ "an unterminated double-quoted string", "web:\n  image: \"posthog\n", 0, "3:1",
	  "quoted scalar" },
	{ "two documents", "a: 1\n---\nb: 2\n", 0, "2:1", "more than one YAML document" },
	{ "a list at the top", "- a\n- b\n", 0, "1:1", "must be a mapping at the top, not a list" },
	{ "a scalar at the top", "posthog\n", 0, "1:1", "must be a mapping at the top, not a scalar" },
	{ "a NUL byte inside a quoted scalar", "web:\n  image: \"post\\0hog\"\n", 0, "2:10",
	  "NUL byte" },
	{ "a raw NUL byte", "web: post\0hog\n", 14, "1:10", "not UTF-8" },
	{ "a duplicate key in a nested mapping", "web:\n  replicas: 1\n  replicas: 2\n", 0, "3:3",
	  "duplicate key 'replicas'" },
	{ "an alias of an unknown anchor", "web:\n  image: *nope\n", 0, "2:10",
	  "unknown alias '*nope'" },
	{ "'<<' with a list holding a scalar", "b: &b {x: 1}\na:\n  <<: [*b, 3]\n", 0, "3:7",
	  "'<<' takes a mapping" },
	{ "a mapping used as a key", "? {a: 1}\n: b\n", 0, "1:3", "only scalar mapping keys" },
	{ "invalid UTF-8 after valid text", "a: 1\nb: \xff\n", 0, "2:4", "not UTF-8" },
};

static void test_binary_junk(void)
{
	unsigned char junk[4096];
	char *path;
	const char *files[1];
	struct input_run r;

	input_junk(junk, sizeof junk, 1);
	junk[0] = 0xff;   /* invalid UTF-8 */
	junk[17] = 0;     /* and a NUL */
	path = input_write("junk.bin", (const char *)junk, sizeof junk);
	files[0] = path;
	input_run(&r, NULL, files, 1);
	input_expect_refused("a values file of binary junk", r.exit_code, r.msg, path, NULL,
			     "not UTF-8");
	input_run_free(&r);
	free(path);
}

static void test_empty_values_accepted(void)
{
	static const char *const texts[] = { "", "# only a comment\n", "---\n", "~\n" };
	static const char *const names[] = { "zero bytes", "a comment", "'---'", "'~'" };
	for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
		char name[32];
		char *path;
		const char *files[2];
		struct input_run r;

		snprintf(name, sizeof name, "empty-%zu.yaml", i);
		path = input_write(name, texts[i], 0);
		files[0] = path;
		files[1] = path;
		input_run(&r, NULL, files, 2);
		tap_is_int(r.rc, 0, "an empty values file (%s) is accepted, as helm does", names[i]);
		tap_is_int(phd_node_type(phd_ctx_values(r.ctx)), PHD_NODE_MAP,
			   "empty values (%s) read as an empty mapping", names[i]);
		input_run_free(&r);
		free(path);
	}
}

static void test_not_a_file(void)
{
	char dir[512], missing[512];
	const char *files[1];
	struct input_run r;

	snprintf(dir, sizeof dir, "%s/values.d", tap_tmpdir());
	mkdir(dir, 0700);
	files[0] = dir;
	input_run(&r, NULL, files, 1);
	input_expect_refused("a values file that is a directory", r.exit_code, r.msg, dir, "",
			     "directory");
	input_run_free(&r);

	snprintf(missing, sizeof missing, "%s/no-such-values.yaml", tap_tmpdir());
	files[0] = missing;
	input_run(&r, NULL, files, 1);
	input_expect_refused("a missing values file", r.exit_code, r.msg, missing, "",
			     "not found");
	input_run_free(&r);
}

/* Refused within the deadline, with "needle" in the message. */
static void expect_refused_quickly(const char *what, const char *path, long long deadline,
				   const char *pos, const char *needle)
{
	const char *files[] = { path };
	struct input_child c;

	input_run_child(&c, NULL, files, 1, input_deadline(deadline));
	if (!tap_ok(c.finished, "%s: answered within %lld ms", what, deadline))
		tap_diag("took %lld ms; %s", c.ms, c.signal ? strsignal(c.signal) : "exited");
	input_expect_refused(what, c.exit_code, c.msg, path, pos, needle);
}

static void test_huge_file(void)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/huge.yaml", tap_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	/* sparse: 100 MiB that cost no disk, ending in a real line */
	if (fd < 0 || pwrite(fd, "a: 1\n", 5, 100 * MiB - 5) != 5) {
		tap_skip(4, "cannot create a sparse file: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	expect_refused_quickly("a 100 MiB values file", path, 3000, "1:1", "larger than");
}

/* A FIFO has no size to look at and may never end (or never get a
 * writer): it is refused as input at once, whatever is behind it. */
static void test_huge_stream(void)
{
	char path[512];
	int res[2];
	long long written = -1;
	pid_t writer;

	snprintf(path, sizeof path, "%s/stream.yaml", tap_tmpdir());
	if (mkfifo(path, 0600) != 0 || pipe(res) != 0) {
		tap_skip(6, "cannot create a FIFO: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	writer = fork();
	if (writer == 0) {
		static char chunk[65536];
		long long total = 0;
		int fd;
		signal(SIGPIPE, SIG_IGN);
		memset(chunk, 'x', sizeof chunk);
		close(res[0]);
		fd = open(path, O_WRONLY);
		while (fd >= 0 && total < 100 * MiB) {
			ssize_t w = write(fd, chunk, sizeof chunk);
			if (w <= 0)
				break;
			total += w;
		}
		if (write(res[1], &total, sizeof total) < 0)
			_exit(1);
		_exit(0);
	}
	close(res[1]);
	expect_refused_quickly("a 100 MiB values stream", path, 5000, NULL,
			       "is a FIFO, not a regular file");
	/* the reader is gone: the writer ends on EPIPE; if it was never
	 * opened it is blocked and gets killed */
	kill(writer, SIGTERM);
	if (read(res[0], &written, sizeof written) != (ssize_t)sizeof written)
		written = -1;
	waitpid(writer, NULL, 0);
	close(res[0]);
	/* -1: the writer was still waiting to open the FIFO when it was
	 * stopped, which also means nothing read the stream to its end */
	if (!tap_ok(written < 100 * MiB,
		    "the stream was not read to its end (the core stopped at its limit)"))
		tap_diag("writer wrote %lld bytes", written);

	/* no writer at all: opening it for reading must not wait for one */
	snprintf(path, sizeof path, "%s/nowriter.yaml", tap_tmpdir());
	if (mkfifo(path, 0600) != 0) {
		tap_skip(1, "cannot create a FIFO: %s", strerror(errno));
		return;
	}
	expect_refused_quickly("a values FIFO without a writer", path, 3000, NULL,
			       "is a FIFO, not a regular file");
	unlink(path);
	expect_refused_quickly("a character device as values", "/dev/zero", 3000, NULL,
			       "is a character device, not a regular file");
}

static void test_deep_nesting(void)
{
	size_t n = 10000, levels = 1000, len = 0;
	char *flow = malloc(2 * n + 16), *block, *path;

	/* 10,000 nested flow sequences: level 129 (the map is level 1) is refused */
	len = (size_t)sprintf(flow, "a: ");
	memset(flow + len, '[', n);
	memset(flow + len + n, ']', n);
	strcpy(flow + len + 2 * n, "\n");
	path = input_write("deep-flow.yaml", flow, 0);
	expect_refused_quickly("10,000 nested flow sequences", path, 3000, "1:131",
			       "nesting deeper");
	free(path);
	free(flow);

	/* 1,000 nested block mappings, two spaces a level */
	block = malloc(levels * (2 * levels + 8));
	len = 0;
	for (size_t l = 0; l < levels; l++) {
		memset(block + len, ' ', 2 * l);
		len += 2 * l;
		len += (size_t)sprintf(block + len, l + 1 < levels ? "k:\n" : "k: 1\n");
	}
	path = input_write("deep-block.yaml", block, len);
	expect_refused_quickly("1,000 nested block mappings", path, 3000, "129:257",
			       "nesting deeper");
	free(path);
	free(block);
}

static void test_alias_bomb(void)
{
	static const char bomb[] =
		"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	char *path = input_write("bomb.yaml", bomb, 0);
	expect_refused_quickly("a billion-laughs alias bomb", path, 3000, NULL, "too large");
	free(path);
}

/* Inputs well under the size limit must load in time linear-ish in their
 * size: a flat mapping of many keys, many anchors and aliases. */
static void test_wide_inputs(void)
{
	size_t n = 100000, len = 0;
	char *text = malloc(n * 48 + 64), *path;
	const char *files[1];
	struct input_child c;

	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "k%07zu: %zu\n", i, i);
	path = input_write("wide-keys.yaml", text, len);
	files[0] = path;
	input_run_child(&c, NULL, files, 1, input_deadline(5000));
	if (!tap_ok(c.finished && c.exit_code == 0,
		    "a mapping of 100,000 keys (1.2 MB) loads within 5 s"))
		tap_diag("took %lld ms, %s, exit %d: %s", c.ms,
			 c.signal ? strsignal(c.signal) : "exited", c.exit_code, c.msg);
	free(path);

	len = (size_t)sprintf(text, "anchors: [");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "&a%zu %zu, ", i, i);
	len += (size_t)sprintf(text + len, "0]\naliases: [");
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "*a%zu, ", i);
	len += (size_t)sprintf(text + len, "0]\n");
	path = input_write("wide-anchors.yaml", text, len);
	files[0] = path;
	input_run_child(&c, NULL, files, 1, input_deadline(5000));
	if (!tap_ok(c.finished && c.exit_code == 0,
		    "100,000 anchors and 100,000 aliases (2 MB) load within 5 s"))
		tap_diag("took %lld ms, %s, exit %d: %s", c.ms,
			 c.signal ? strsignal(c.signal) : "exited", c.exit_code, c.msg);
	free(path);
	free(text);
}

/* ---- a manifest stream (phd_set_documents): the same accessors ---- */
static const char stream_yaml[] =
	"---\n"                                           /* 1 */
	"# Source: a.yaml\n"                              /* 2 */
	"kind: ConfigMap\n"                               /* 3 */
	"metadata:\n"                                     /* 4 */
	"  name: one\n"                                   /* 5 */
	"  labels: &l {app: x, tier: web}\n"              /* 6 */
	"data: {k: \"v\", \"null\": ~, n: 3, on: yes}\n"  /* 7 */
	"list: [a, b, {c: d}]\n"                          /* 8 */
	"---\n"                                           /* 9 */
	"---\n"                                           /* 10 */
	"kind: Deployment\n"                              /* 11 */
	"metadata: {name: two, labels: *l}\n"             /* 12 */
	"spec:\n"                                         /* 13 */
	"  base: &b {x: 1, y: 2}\n"                       /* 14 */
	"  merged: {y: 3, <<: *b}\n";                     /* 15 */

struct stream_case {
	char *text;
	size_t len;
	void (*check)(phd_validation *v);
};

static int stream_repo(phd_ctx *ctx, int phase, int mode, void *ud)
{
	(void)ctx, (void)phase, (void)mode, (void)ud;
	return PHD_EIGNORE;
}

static int stream_render(phd_ctx *ctx, int phase, int mode, void *ud)
{
	struct stream_case *c = ud;
	(void)mode;
	return phd_set_documents(ctx, phase, c->text, c->len, "test stream");
}

static int stream_check(phd_validation *v, void *ud)
{
	((struct stream_case *)ud)->check(v);
	return 0;
}

static void run_stream(struct stream_case *c)
{
	struct phd_options o = PHD_OPTIONS_INIT;
	phd_ctx *ctx = NULL;
	phd_plugin *p = NULL;
	int rc;

	o.flags = PHD_OPT_NO_CONFIG | PHD_OPT_NO_JOURNAL;
	rc = phd_ctx_new(&ctx, &o);
	if (rc == 0)
		rc = phd_ctx_add_plugin(&p, ctx, "stream", "1");
	if (rc == 0)
		rc = phd_register_phase_handler(p, PHD_PHASE_REPO, stream_repo, NULL, NULL);
	if (rc == 0)
		rc = phd_register_phase_handler(p, PHD_PHASE_RENDER, stream_render, c, NULL);
	if (rc == 0)
		rc = phd_register_validator(p, "look", PHD_PHASE_RENDER, stream_check, c, NULL);
	if (rc == 0)
		rc = phd_run(ctx, PHD_PHASE_BIT(PHD_PHASE_RENDER));
	tap_is_int(rc, 0, "the stream renders (%s)", ctx ? phd_ctx_errmsg(ctx) : "");
	phd_ctx_free(ctx);
}

static void look_small(phd_validation *v)
{
	const phd_node *d0 = phd_validation_doc(v, 0), *d1 = phd_validation_doc(v, 1);
	const phd_node *list, *merged, *n;
	long long i = 0;
	int b = 0;

	tap_is_int((long long)phd_validation_doc_count(v), 2, "two documents, the empty one left out");
	is_at(d0, "test stream", 3, 1, "a document");
	n = phd_node_get(d0, "metadata.name");
	tap_is_str(phd_node_str(n), "one", "a nested scalar");
	is_at(n, "test stream", 5, 9, "a nested scalar");
	tap_is_str(phd_node_key_at(d0, 1), "metadata", "keys in their order");
	tap_ok(phd_node_key_at(d0, 4) == NULL, "no key past the end");
	tap_is_int(phd_node_type(phd_node_get(d0, "data.\"null\"")), PHD_NODE_NULL,
		   "a null value under a quoted key");
	tap_ok(phd_node_str(phd_node_get(d0, "data.\"null\"")) == NULL, "has no text");
	tap_is_str(phd_node_str(phd_node_get(d0, "data.k")), "v", "a quoted scalar");
	tap_ok(phd_node_int(phd_node_get(d0, "data.n"), &i) == 0 && i == 3, "an integer");
	tap_ok(phd_node_bool(phd_node_get(d0, "data.on"), &b) == 0 && b == 1, "a boolean");
	list = phd_node_get(d0, "list");
	tap_is_int(phd_node_type(list), PHD_NODE_SEQ, "a sequence");
	tap_is_int((long long)phd_node_len(list), 3, "of three");
	tap_ok(phd_node_at(list, 2) == phd_node_at(list, 2) && phd_node_at(list, 3) == NULL,
	       "an item's handle is the same each time, none past the end");
	n = phd_node_get(d0, "list[2].c");
	tap_is_str(phd_node_str(n), "d", "an item's key by path");
	is_at(n, "test stream", 8, 18, "an item's value");
	n = phd_node_get(d1, "metadata.labels.tier");
	tap_is_str(phd_node_str(n), "web", "an alias into the first document");
	is_at(n, "test stream", 6, 29, "an aliased value (at its anchor)");
	merged = phd_node_get(d1, "spec.merged");
	tap_is_int((long long)phd_node_len(merged), 2, "a '<<' merge adds the missing keys");
	tap_is_str(phd_node_str(phd_node_get(merged, "y")), "3", "and keeps the explicit ones");
	tap_is_str(phd_node_str(phd_node_get(merged, "x")), "1", "the merged key's value");
	tap_is_str(phd_node_key_at(merged, 1), "x", "merged keys after the explicit ones");
}

/* Wider than one slab of nodes: the children are reached through
 * references, and their list and the map's keys are blocks of their own. */
#define WIDE 300000
static void look_wide(phd_validation *v)
{
	const phd_node *d = phd_validation_doc(v, 0);
	const phd_node *seq = phd_node_get(d, "s"), *map = phd_node_get(d, "m");
	char want[32], last[32];

	snprintf(last, sizeof last, "%d", WIDE - 1);
	tap_is_int((long long)phd_node_len(seq), WIDE, "a sequence of %d items", WIDE);
	tap_is_str(phd_node_str(phd_node_at(seq, WIDE - 1)), last, "its last item");
	is_at(phd_node_at(seq, WIDE - 1), "test stream", WIDE + 1, 3, "its last item");
	tap_is_int((long long)phd_node_len(map), WIDE, "a mapping of %d keys", WIDE);
	snprintf(want, sizeof want, "k%d", WIDE - 1);
	tap_is_str(phd_node_key_at(map, WIDE - 1), want, "its last key");
	tap_is_str(phd_node_str(phd_node_get(map, want)), last, "its last value by key");
	is_at(phd_node_get(map, want), "test stream", 2 * WIDE + 2, 3 + (unsigned)strlen(want) + 2,
	      "its last value");
	tap_is_str(phd_node_str(phd_node_get(map, "k7")), "7", "a short value, kept in its node");
}

/* A line longer than 16 MiB: columns past 2^24 are kept aside, by node. */
#define LONGLINE ((size_t)17 << 20)
static void look_long_line(phd_validation *v)
{
	const phd_node *d = phd_validation_doc(v, 0);
	const phd_node *l = phd_node_get(d, "l");
	size_t n = phd_node_len(l);
	unsigned base = (unsigned)(LONGLINE / 3 - 1) * 3 + 5;   /* "l: [" and the x's */

	tap_is_int((long long)n, (long long)(LONGLINE / 3 - 1) + 4, "a flow list on one long line");
	is_at(phd_node_at(l, 0), "test stream", 1, 5, "its first item");
	is_at(phd_node_at(l, n - 4), "test stream", 1, base, "a short scalar past 2^24 columns");
	tap_is_str(phd_node_str(phd_node_at(l, n - 4)), "ab", "and its text");
	is_at(phd_node_at(l, n - 3), "test stream", 1, base + 4, "an empty list past 2^24 columns");
	is_at(phd_node_at(l, n - 2), "test stream", 1, base + 8, "a mapping past 2^24 columns");
	is_at(phd_node_get(phd_node_at(l, n - 2), "k"), "test stream", 1, base + 12,
	      "its value");
	is_at(phd_node_at(l, n - 1), "test stream", 1, base + 16, "an empty mapping too");
	is_at(phd_node_get(d, "after"), "test stream", 2, 8, "and the next line is itself again");
}

static void test_stream(void)
{
	struct stream_case c = { (char *)stream_yaml, sizeof stream_yaml - 1, look_small };
	size_t cap = (size_t)WIDE * 32 + 64, len = 0;

	run_stream(&c);
	c.text = malloc(cap);
	len += (size_t)snprintf(c.text + len, cap - len, "s:\n");
	for (int i = 0; i < WIDE; i++)
		len += (size_t)snprintf(c.text + len, cap - len, "- %d\n", i);
	len += (size_t)snprintf(c.text + len, cap - len, "m:\n");
	for (int i = 0; i < WIDE; i++)
		len += (size_t)snprintf(c.text + len, cap - len, "  k%d: %d\n", i, i);
	c.len = len;
	c.check = look_wide;
	run_stream(&c);
	free(c.text);

	c.text = malloc(LONGLINE + 64);
	memcpy(c.text, "l: [", 4);
	len = 4;
	for (size_t i = 0; i < LONGLINE / 3 - 1; i++, len += 3)
		memcpy(c.text + len, "x, ", 3);
	len += (size_t)snprintf(c.text + len, 64, "ab, [], {k: v}, {}]\nafter: 1\n");
	c.len = len;
	c.check = look_long_line;
	run_stream(&c);
	free(c.text);
}

int main(void)
{
	input_setup();
	test_lookups();
	test_long_segment();
	test_merge();
	test_anchors();
	input_expect_all_refused(bad_values, sizeof bad_values / sizeof *bad_values, 0);
	test_binary_junk();
	test_empty_values_accepted();
	test_not_a_file();
	test_huge_file();
	test_huge_stream();
	test_deep_nesting();
	test_alias_bomb();
	test_wide_inputs();
	test_stream();
	return tap_done();
}
