/* Internals of the helm plugin shared between its files (not installed). */
#ifndef PHD_HELM_PRIVATE_H
#define PHD_HELM_PRIVATE_H

#include <stddef.h>
#include <phdeploy/plugin.h>

/* The plugin's name, used in every message it writes. */
#define HELM_PLUGIN "helm"

/* Bounds on what helm or a repository may hand us. */
#define HELM_INDEX_MAX ((size_t)64 << 20)   /* index.yaml */
#define HELM_JSON_MAX ((size_t)256 << 20)   /* helm status -o json (holds the chart) */
#define HELM_CHART_MAX ((size_t)32 << 20)   /* a chart archive (PostHog's is 1 MB) */
#define HELM_QUOTE_LINES 8                   /* helm lines quoted in an error */

enum helm_post_render { HELM_PR_AUTO = 0, HELM_PR_ALWAYS, HELM_PR_NEVER };

/* Per-context plugin state: the parsed `helm:` config plus what earlier
 * phases found (helm major version, resolved chart version).  Shared by
 * every registration of one load: the plugin's data (phd_plugin_set_data),
 * freed once with the plugin. */
struct helm {
	phd_plugin *plugin;
	/* config */
	long long timeout_ms;
	int wait, wait_for_jobs, atomic, debug, create_namespace, recover_pending;
	char wait_strategy[16];   /* Helm 4 --wait=<strategy> */
	int post_render;          /* enum helm_post_render */
	/* learned while running */
	int major;                /* 3 or 4; 0 until detected */
	char *version;            /* chart version resolved by the repo phase */
	char *pr_plugins;         /* Helm 4: private HELM_PLUGINS dir, once made */
};

/* ---- a growable argv ------------------------------------------------ */
struct strv {
	char **v;
	size_t n, cap;
	int oom;
};
void strv_add(struct strv *sv, const char *s);
void strv_addf(struct strv *sv, const char *fmt, ...) PHD_PRINTF(2, 3);
void strv_free(struct strv *sv);
/* NULL-terminated view of sv (owned by sv). */
const char *const *strv_argv(struct strv *sv);
/* One shell-quoted line for display (malloc'd). */
char *strv_join(const struct strv *sv);

/* "30m", "1h30m", "45s", "250ms" (Go durations helm accepts); buf >= 32. */
void helm_fmt_duration(char *buf, size_t len, long long ms);

/* ---- config, version, running helm ---------------------------------- */
int helm_config_parse(struct helm *h, phd_ctx *ctx, const phd_node *cfg);
/* Detect and cache helm's major version (3 or 4). */
int helm_major(struct helm *h, phd_ctx *ctx);
/* helm's major (3, 4) and minor (-1: not recorded) from the Go build info
 * embedded in the binary exe (buildinfo.c); -1 when it cannot tell (not a
 * Go binary, Helm 3 older than 3.7...): then run helm version. */
int helm_buildinfo_version(const char *exe, int *major, int *minor);
/* exe as execvp finds it (malloc'd), NULL when not found. */
char *helm_exe_path(const char *helm);
/* A local chart's Chart.yaml text (malloc'd) read without helm: dir/Chart.yaml
 * or the .tgz's top-level one; NULL when it cannot (chartmeta.c). */
char *helm_chart_yaml(const char *chart, int dir);
/* Whether the PDB post-render step applies to this run. */
int helm_post_render_wanted(struct helm *h, phd_ctx *ctx);
/* The chart version to use: the resolved one, else the configured pin
 * (borrowed, may be NULL). */
const char *helm_chart_version(struct helm *h, phd_ctx *ctx);
/* Whether chart is a local .tgz or directory (no repo, no network). */
int helm_chart_is_local(const char *chart);
/* Emit one PHD_EV_COMMAND event for argv (plan / dry run). */
void helm_emit_command(phd_ctx *ctx, int phase, struct strv *argv, const char *env_note);

/* ---- argv builders (argv.c) ----------------------------------------- */
/* The chart helm is given: the archive the repo phase resolved, else the
 * configured reference (oci://, a repository helm resolves itself). */
const char *helm_chart_arg(phd_ctx *ctx);
/* "helm" + global flags every command gets. */
void helm_argv_start(struct strv *sv, phd_ctx *ctx);
/* helm upgrade --install ... for the detected major version.
 * post_renderer: NULL, an executable (3) or a plugin name (4). */
void helm_argv_upgrade(struct strv *sv, const struct helm *h, phd_ctx *ctx,
		       const char *post_renderer);
void helm_argv_template(struct strv *sv, const struct helm *h, phd_ctx *ctx,
			const char *post_renderer);
void helm_argv_rollback(struct strv *sv, const struct helm *h, phd_ctx *ctx,
			const char *revision);

/* ---- the --debug redactor (debugfilter.c) ---------------------------- */
struct helm_filter {
	int section;         /* which helm --debug section stdout is in */
	int doc_secret;      /* current manifest document: 1 Secret, 0 unknown, -1 other */
	int in_data;         /* inside a data:/stringData: block being dropped */
	int data_indent;
	unsigned long dropped;
};
/* Returns 1 when the stdout line must not be shown. */
int helm_filter_line(struct helm_filter *f, int stream, const char *line);

/* ---- post-render (render.c) ----------------------------------------- */
/* Prepare the post-renderer for h->major: *out is an executable path (3)
 * or a plugin name (4, with *env_out "HELM_PLUGINS=dir", malloc'd).  *out
 * is NULL when the step does not apply. */
int helm_post_renderer(struct helm *h, phd_ctx *ctx, char **out, char **env_out);
/* Where phdeploy-postrender lives (malloc'd) or NULL. */
char *helm_postrender_path(void);

/* ---- release state (release.c) --------------------------------------- */
struct helm_rev {
	long long revision;
	char status[32];
	char chart[128];
	char app_version[64];
	char updated[64];
	char description[128];
};
struct helm_history {
	struct helm_rev *revs;   /* oldest first */
	size_t n;
	int not_found;           /* the release does not exist */
};
/* doing: what the query is for, for the error message ("checking ... before
 * the upgrade"). */
int helm_history_get(struct helm *h, phd_ctx *ctx, const char *doing, struct helm_history *out);
void helm_history_free(struct helm_history *hist);
int helm_history_parse(struct helm_history *out, const char *json, size_t len,
		       char *err, size_t errlen);
/* The revision to roll back to (0 when there is none). */
long long helm_rollback_target(const struct helm_history *hist);
/* Newest status ("deployed", "pending-upgrade"...) or NULL. */
const char *helm_history_state(const struct helm_history *hist);
int helm_status_json(phd_ctx *ctx, char **out, void *userdata);
int helm_rollback_phase(phd_ctx *ctx, int phase, int mode, void *userdata);
/* Stop (or, with recover_pending, repair) a release stuck in pending-*. */
int helm_check_pending(struct helm *h, phd_ctx *ctx);
/* After `helm rollback` to target failed on the stuck revision: 0 when the
 * release can be upgraded now (helm recorded its failure, or the stuck
 * record was backed up under the state dir and deleted). */
int helm_recover_after_rollback(struct helm *h, phd_ctx *ctx, const struct helm_rev *stuck,
				long long target);

/* ---- kubectl, and the state kept for release-record edits (kubectl.c) -- */
#define HELM_KUBECTL_TIMEOUT_MS (2LL * 60 * 1000)
/* kubectl [--context C] --namespace NS: the caller adds the rest. */
void helm_kubectl_argv(struct strv *sv, phd_ctx *ctx);
/* Run it (stderr captured; in, when not NULL, on stdin: the only way a
 * release record's bytes reach kubectl).  timeout_ms 0: the default.  0
 * when it exited 0, else the error is set naming `what`. */
int helm_kubectl(phd_ctx *ctx, struct strv *sv, const void *in, size_t inlen, unsigned flags,
		 long long timeout_ms, const char *what, struct phd_exec_result *res);
/* STATE/helm, made 0700 (the backups hold the release's values);
 * malloc'd, NULL when there is no state directory. */
char *helm_state_dir(phd_ctx *ctx);
/* Append obj (consumed) as one JSON line to STATE/helm/file, with the
 * time, release and namespace: what was done and how to undo it, never
 * values. */
struct json_t;
void helm_note(phd_ctx *ctx, const char *file, struct json_t *obj);
/* Server-set metadata dropped from a Secret read with kubectl, so it can
 * be written again; resourceVersion kept when keep_rv (a replace then
 * fails if the object changed since it was read). */
void helm_record_strip(struct json_t *obj, int keep_rv);
/* A Secret as `kubectl get -o json` printed it, made creatable again (no
 * server-set metadata), written 0600 to a new file under STATE/helm;
 * path gets its name. */
int helm_record_save(phd_ctx *ctx, const char *json, size_t len, const char *name,
		     char *path, size_t pathlen);

/* ---- stored manifest against served APIs (storedapis.c) ------------- */
/* A removed API: kind under gv is gone since Kubernetes removed_in; to is
 * its replacement (NULL: none). */
struct helm_removed {
	const char *gv, *kind, *to, *removed_in;
};
const struct helm_removed *helm_removed_find(const char *gv, const char *kind);
/* One object of a manifest, with byte offsets into the text. */
struct helm_mobj {
	char gv[128], kind[64], name[254];
	size_t doc, doc_end;      /* the document, from its "---" line */
	size_t av, av_end;        /* the apiVersion's value */
};
struct helm_mobjs {
	struct helm_mobj *v;
	size_t n;
};
/* The objects of a multi-document manifest as helm stores it (top-level
 * keys at column 0, metadata.name two spaces in).  0 or PHD_ENOMEM. */
int helm_manifest_objects(const char *m, size_t len, struct helm_mobjs *out);
void helm_mobjs_free(struct helm_mobjs *objs);
/* The cluster's discovery, read once (kubectl api-versions). */
struct helm_served {
	phd_ctx *ctx;
	long long timeout_ms;
	char *gvs;                /* '\n'-separated group versions */
};
int helm_served_read(phd_ctx *ctx, long long timeout_ms, struct helm_served *s);
void helm_served_free(struct helm_served *s);
/* 1 when the cluster serves kind under gv, 0 when not, -1: cannot tell. */
int helm_served(struct helm_served *s, const char *gv, const char *kind);
struct helm_unserved {
	const struct helm_mobj *obj;       /* borrowed from the helm_mobjs */
	const struct helm_removed *known;  /* NULL: not a known removal */
	int to_served;                     /* the replacement is served */
};
/* Every object of objs the cluster does not serve (*out malloc'd). */
int helm_unserved_find(struct helm_served *s, const struct helm_mobjs *objs,
		       struct helm_unserved **out, size_t *n);
/* "Kind/name is GV, removed in ...: remedy" */
void helm_unserved_describe(const struct helm_unserved *u, char *buf, size_t cap);
/* Register the preflight check `stored-release`. */
int helm_stored_register(phd_plugin *p);
/* Register the action `migrate-release` (migrate.c). */
int helm_migrate_register(phd_plugin *p);

/* ---- chart repository index (semver.c, index.c, fetch.c) ------------ */
struct semver {
	unsigned long long major, minor, patch;
	const char *pre;          /* after '-', up to '+' (pre_len bytes); NULL when stable */
	size_t pre_len;
};
/* Parse "1.2.3", "v1.2.3-rc.1+build"; 0 or PHD_EINVAL.  pre points into s. */
int semver_parse(struct semver *out, const char *s);
int semver_cmp(const struct semver *a, const struct semver *b);

struct helm_index_entry {
	char *version, *digest, *app_version, *created, *url;
	struct semver sv;         /* sv.pre points into version */
};
struct helm_index {
	struct helm_index_entry *e;   /* entries of the wanted chart, sorted newest first */
	size_t n, cap;
	size_t charts;                /* charts listed in the index */
	size_t skipped;               /* entries whose version is not semver */
};
/* Parse an index.yaml held in buf (streaming, bounded).  Messages name
 * origin:line:column.  0, PHD_ESYNTAX, PHD_ETOOBIG, PHD_ENOMEM. */
int helm_index_parse(struct helm_index *idx, const char *buf, size_t len,
		     const char *chart, const char *origin, char *err, size_t errlen);
void helm_index_free(struct helm_index *idx);
/* The same without libyaml, for the block style helm writes (indexfast.c):
 * 0, PHD_ENOMEM, or HELM_FAST_NO when the text is
 * outside that subset: then helm_index_parse's libyaml path reads it. */
#define HELM_FAST_NO 1
/* Append e (moved: *e is zeroed); PHD_ETOOBIG past the entry bound. */
int helm_index_add(struct helm_index *idx, struct helm_index_entry *e);
void helm_index_entry_clear(struct helm_index_entry *e);
/* Newest first, as both parses leave the entries. */
void helm_index_sort(struct helm_index *idx);
int helm_index_parse_fast(struct helm_index *idx, const char *buf, size_t len,
			  const char *chart);
/* helm_index_parse with libyaml only (for tests comparing both). */
int helm_index_parse_yaml(struct helm_index *idx, const char *buf, size_t len,
			  const char *chart, const char *origin, char *err, size_t errlen);
/* want NULL: newest stable (newest at all with allow_pre).  0,
 * PHD_ENOTFOUND (err lists the nearest versions), PHD_EINVAL (a
 * pre-release without allow_pre). */
int helm_index_resolve(const struct helm_index *idx, const char *want, int allow_pre,
		       const struct helm_index_entry **out, char *err, size_t errlen);
/* Load an index from a path or a file://, http:// or https:// URL into
 * memory (malloc'd, NUL-terminated), refusing more than max bytes. */
int helm_index_fetch(phd_ctx *ctx, const char *src, size_t max, char **buf, size_t *len);
/* Download url into path (created 0600, replacing a file left there),
 * refusing more than max bytes; hex gets the sha256 of what was written.
 * file:// only with allow_file.  Removes path on failure; stops on
 * phd_ctx_interrupted (PHD_EINTR). */
int helm_download(phd_ctx *ctx, const char *url, int allow_file, const char *path, size_t max,
		  char *hex, size_t hexlen);
/* ref resolved against base (RFC 3986; absolute refs as they are);
 * malloc'd, NULL when it cannot be resolved. */
char *helm_url_resolve(const char *base, const char *ref);
/* Pull oci://... at version into path (0600), its chart layer's sha256
 * checked (hex gets it); helm's registry login is used (oci.c). */
int helm_oci_fetch(phd_ctx *ctx, const char *chart, const char *version, const char *path,
		   char *hex, size_t hexlen);
/* sha256 of a file as lowercase hex (buf >= 65). */
int helm_sha256_file(const char *path, char *hex, size_t len);

/* ---- phases --------------------------------------------------------- */
int helm_repo_phase(phd_ctx *ctx, int phase, int mode, void *userdata);
int helm_render_phase(phd_ctx *ctx, int phase, int mode, void *userdata);
int helm_deploy_phase(phd_ctx *ctx, int phase, int mode, void *userdata);

/* ---- running helm (run.c) ------------------------------------------ */
struct helm_watch;
/* Run argv with w watching every line (w is set up here). */
int helm_run(phd_ctx *ctx, int phase, struct strv *sv, const char *env, unsigned flags,
	     long long timeout_ms, struct helm_watch *w, struct phd_exec_result *res);
/* 0 when helm ran and exited 0; else sets the error (what failed, the
 * failure class, hint, helm's key lines) and returns the code:
 * PHD_ETIMEOUT for a timeout, PHD_EUNREACHABLE when the API could not be
 * read or refused (the release's state is unknown: nothing is rolled back),
 * else PHD_EFAILED. */
int helm_fail(phd_ctx *ctx, const char *what, int rc, const struct phd_exec_result *res,
	      const struct helm_watch *w, const char *hint);

/* ---- failure classification (classify.c) ----------------------------- */
enum helm_failure {
	HELM_FAIL_OTHER = 0,
	HELM_FAIL_TIMEOUT,
	HELM_FAIL_JOB,
	HELM_FAIL_RENDER,
	HELM_FAIL_CLUSTER,
	HELM_FAIL_PENDING
};
struct helm_watch {
	phd_ctx *ctx;
	struct helm_filter filter;
	int phase;
	long long start_ms;
	long long last_progress_ms;
	char last_progress[256];
	char *quoted[HELM_QUOTE_LINES]; /* key lines, already redacted */
	size_t nquoted;
	char *last_err;                 /* last stderr line as a fallback */
	int cls;                        /* strongest enum helm_failure seen */
	int in_invalid;                 /* inside the chart's INVALID VALUES block */
	int log_stderr;                 /* log helm's stderr (when it is not emitted) */
	size_t cont;                    /* 1 + the quoted "Error:" line that indented
					   lines continue (Helm 4), 0: none (run.c) */
	int cancelled;                  /* helm said "Release NAME has been cancelled." */
};
int helm_watch_line(int stream, const char *line, void *payload);
void helm_watch_free(struct helm_watch *w);
int helm_classify_line(const char *line);
const char *helm_failure_name(int cls);
/* Progress text for a helm --debug wait line, or NULL (static buffer in w). */
const char *helm_progress_text(const char *line, char *buf, size_t len);
/* Builds the quoted-lines block of an error message (malloc'd). */
char *helm_watch_quote(const struct helm_watch *w);
long long helm_now_ms(void);

#endif
