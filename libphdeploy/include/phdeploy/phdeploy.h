/* libphdeploy — deploy PostHog to Kubernetes with its Helm chart, safely.
 *
 * Application API.  Conventions (see libphdeploy(3)):
 *  - functions return 0 or a negative PHD_E* code; phd_strerror() gives static
 *    text, phd_ctx_errmsg() the detailed message of the last failure;
 *  - out-parameters come first, callback payloads last;
 *  - every returned pointer states its owner and lifetime in the comment above
 *    the function;
 *  - a phd_ctx is used from one thread at a time; different contexts are
 *    independent.  The library never prints, exits or aborts.
 */
#ifndef PHDEPLOY_PHDEPLOY_H
#define PHDEPLOY_PHDEPLOY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PHD_BUILDING_LIBRARY) && defined(__GNUC__)
#define PHD_EXTERN __attribute__((visibility("default")))
#else
#define PHD_EXTERN
#endif

#if defined(__GNUC__)
#define PHD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define PHD_VPRINTF(f) __attribute__((format(printf, f, 0)))
#else
#define PHD_PRINTF(f, a)
#define PHD_VPRINTF(f)
#endif

#define PHD_VERSION_MAJOR 0
#define PHD_VERSION_MINOR 3
#define PHD_VERSION_PATCH 0
#define PHD_VERSION_STRING "0.3.0"
#define PHD_VERSION_NUM \
	((PHD_VERSION_MAJOR << 16) | (PHD_VERSION_MINOR << 8) | PHD_VERSION_PATCH)

/* The version of the library actually loaded (static string). */
PHD_EXTERN const char *phd_version(void);

/* ---- error codes --------------------------------------------------- */

enum phd_error {
	PHD_OK = 0,
	PHD_EINTERNAL = -1,   /* a bug or an impossible state */
	PHD_ENOMEM = -2,      /* out of memory */
	PHD_EINVAL = -3,      /* bad argument or usage */
	PHD_EIO = -4,         /* reading or writing a file failed */
	PHD_ESYNTAX = -5,     /* malformed YAML/JSON input */
	PHD_ETYPE = -6,       /* a value of the wrong type */
	PHD_ENOTFOUND = -7,   /* a key, file, plugin or object is missing */
	PHD_ETOOBIG = -8,     /* input over a size or depth limit */
	PHD_EPLUGIN = -9,     /* a plugin failed or answered nonsense */
	PHD_EABI = -10,       /* a plugin built for another ABI */
	PHD_ETIMEOUT = -11,   /* a deadline passed */
	PHD_ECHILD = -12,     /* a child process failed */
	PHD_EINTR = -13,      /* interrupted by SIGINT/SIGTERM */
	PHD_ELOCKED = -14,    /* another run holds the release lock */
	PHD_EFAILED = -15,    /* a phase failed (findings, checks, helm) */
	PHD_ENOPROVIDER = -16,/* no plugin provides what a phase needs */
	PHD_EROLLEDBACK = -17,/* a failure was followed by a rollback */
	PHD_EIGNORE = -18,    /* plugin result: not applicable (like PAM_IGNORE) */
	PHD_EUNREACHABLE = -19 /* the cluster could not be read: state unknown */
};

/* Static, never NULL. */
PHD_EXTERN const char *phd_strerror(int code);

/* ---- phases -------------------------------------------------------- */

enum phd_phase {
	PHD_PHASE_VALIDATE = 0,
	PHD_PHASE_SECRETS,
	PHD_PHASE_PREFLIGHT,
	PHD_PHASE_REPO,
	PHD_PHASE_RENDER,
	PHD_PHASE_DEPLOY,
	PHD_PHASE_VERIFY,
	PHD_PHASE_ROLLBACK,
	PHD_PHASE_COUNT
};
#define PHD_PHASE_BIT(p) (1u << (p))
#define PHD_PHASES_ALL ((1u << PHD_PHASE_COUNT) - 1u)

/* Static name ("validate", ...), or NULL for an out-of-range phase. */
PHD_EXTERN const char *phd_phase_name(int phase);
/* Phase index for a name, or PHD_ENOTFOUND. */
PHD_EXTERN int phd_phase_from_name(const char *name);

enum phd_status {
	PHD_STATUS_NOTRUN = 0,
	PHD_STATUS_OK,
	PHD_STATUS_FAILED,
	PHD_STATUS_SKIPPED
};
/* Static ("notrun", "ok", "failed", "skipped"). */
PHD_EXTERN const char *phd_status_name(int status);

enum phd_severity {
	PHD_SEV_OFF = 0,
	PHD_SEV_INFO,
	PHD_SEV_WARN,
	PHD_SEV_ERROR
};
/* Static ("off", "info", "warn", "error"). */
PHD_EXTERN const char *phd_severity_name(int severity);

/* ---- YAML document tree -------------------------------------------- */

/* A read-only node of a loaded YAML document.  Nodes are owned by the
 * context (or the plugin call) that handed them out and live as long as it. */
typedef struct phd_node phd_node;

enum phd_node_type {
	PHD_NODE_NULL = 0,
	PHD_NODE_SCALAR,
	PHD_NODE_SEQ,
	PHD_NODE_MAP
};

/* Look up a dotted path below node: "externalKafka.brokers[0]".  A key
 * that contains a dot can be quoted: 'web."a.b"'.  NULL when absent. */
PHD_EXTERN const phd_node *phd_node_get(const phd_node *node, const char *path);
PHD_EXTERN int phd_node_type(const phd_node *node);
/* Scalar text (borrowed), NULL for non-scalars and NULL nodes. */
PHD_EXTERN const char *phd_node_str(const phd_node *node);
/* Typed readers: 0, PHD_ENOTFOUND (node NULL) or PHD_ETYPE. */
PHD_EXTERN int phd_node_bool(const phd_node *node, int *out);
PHD_EXTERN int phd_node_int(const phd_node *node, long long *out);
/* "30m", "5s", "250ms", "1h", or a bare number of seconds. */
PHD_EXTERN int phd_node_duration_ms(const phd_node *node, long long *out_ms);
/* Children of a sequence or mapping; 0 for scalars. */
PHD_EXTERN size_t phd_node_len(const phd_node *node);
PHD_EXTERN const phd_node *phd_node_at(const phd_node *node, size_t i);
/* Key of the i-th entry of a mapping (borrowed), NULL otherwise. */
PHD_EXTERN const char *phd_node_key_at(const phd_node *node, size_t i);
/* Where the node was read (borrowed file name, 1-based line/column). */
PHD_EXTERN const char *phd_node_file(const phd_node *node);
PHD_EXTERN unsigned phd_node_line(const phd_node *node);
PHD_EXTERN unsigned phd_node_column(const phd_node *node);

/* ---- context ------------------------------------------------------- */

typedef struct phd_ctx phd_ctx;

#define PHD_OPT_DRY_RUN     0x01u /* show what would change, change nothing */
#define PHD_OPT_NO_CONFIG   0x02u /* do not read a config file */
#define PHD_OPT_NO_JOURNAL  0x04u /* do not append to the journal */
#define PHD_OPT_NO_LOCK     0x08u /* do not take the release lock */
#define PHD_OPT_PLAN        0x10u /* run up to deploy; show the deploy */

#define PHD_OPTIONS_VERSION 1
struct phd_options {
	unsigned version;            /* PHD_OPTIONS_VERSION */
	unsigned flags;              /* PHD_OPT_* */
	const char *config_path;     /* NULL: ./phdeploy.yaml if it exists */
	const char *const *values;   /* values files; override config's list */
	size_t nvalues;
	const char *release;         /* override config */
	const char *namespace_;
	const char *chart;           /* repo/name, .tgz, directory, oci://… */
	const char *chart_version;
	const char *helm_path;       /* NULL: $PHDEPLOY_HELM, then "helm" */
	const char *kubectl_path;    /* NULL: $PHDEPLOY_KUBECTL, then "kubectl" */
	const char *kube_context;
	const char *state_dir;       /* NULL: $PHDEPLOY_STATE_DIR, XDG */
	const char *plugin_path;     /* extra ':'-separated plugin dirs */
	int verbosity;               /* 0 normal, <0 quiet, >0 verbose */
};
#define PHD_OPTIONS_INIT { PHD_OPTIONS_VERSION, 0, NULL, NULL, 0, NULL, NULL, \
	NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 }

/* Create a context.  Options are copied.  On failure *out is still a
 * context (unless PHD_ENOMEM) whose errmsg says why; free it. */
PHD_EXTERN int phd_ctx_new(phd_ctx **out, const struct phd_options *opts);
PHD_EXTERN void phd_ctx_free(phd_ctx *ctx);

/* Where values come from, in the order helm applies them. */
enum phd_values_kind {
	PHD_VALUES_FILE = 0,     /* a values file; "-" reads standard input once */
	PHD_VALUES_SET,          /* helm --set a.b=v,c=w (typed values) */
	PHD_VALUES_SET_STRING,   /* helm --set-string (string values) */
	PHD_VALUES_SET_FILE      /* helm --set-file a.b=path (the file's text) */
};
/* Append a values source after opts.values, before phd_ctx_load.  Like
 * opts.values the sources replace the config's values list.  arg is
 * copied.  PHD_EINVAL for a bad kind or once the values are loaded. */
PHD_EXTERN int phd_ctx_add_values(phd_ctx *ctx, int kind, const char *arg);

/* Detailed message of the last failure on ctx, borrowed until the next
 * call on ctx.  Never NULL (empty string when nothing failed). */
PHD_EXTERN const char *phd_ctx_errmsg(const phd_ctx *ctx);

/* Read the config file and the values files, and load the plugins.
 * Idempotent; phd_run() calls it when needed. */
PHD_EXTERN int phd_ctx_load(phd_ctx *ctx);

/* Trees after phd_ctx_load (borrowed, ctx-owned): config (NULL when no
 * file was read) and the merged values (later files override earlier). */
PHD_EXTERN const phd_node *phd_ctx_config(const phd_ctx *ctx);
PHD_EXTERN const phd_node *phd_ctx_values(const phd_ctx *ctx);
/* Effective release, namespace, chart reference (borrowed). */
PHD_EXTERN const char *phd_ctx_release(const phd_ctx *ctx);
PHD_EXTERN const char *phd_ctx_namespace(const phd_ctx *ctx);
PHD_EXTERN const char *phd_ctx_chart(const phd_ctx *ctx);

/* ---- logging and events -------------------------------------------- */

enum phd_log_level {
	PHD_LOG_ERROR = 0,
	PHD_LOG_WARN,
	PHD_LOG_INFO,
	PHD_LOG_DEBUG
};

/* msg is already redacted; borrowed for the duration of the call. */
typedef void (*phd_log_fn)(int level, const char *msg, void *payload);
PHD_EXTERN void phd_ctx_set_log(phd_ctx *ctx, phd_log_fn fn, void *payload);

enum phd_event_type {
	PHD_EV_PHASE_START = 1,
	PHD_EV_PHASE_END,
	PHD_EV_FINDING,
	PHD_EV_CHECK,
	PHD_EV_HOOK,
	PHD_EV_OUTPUT,    /* a (redacted) line printed by a child */
	PHD_EV_PROGRESS,  /* a phase is still waiting: what and for how long */
	PHD_EV_COMMAND,   /* a command that would run (plan, dry-run) */
	PHD_EV_RUN_END,
	PHD_EV_CHART      /* the repo phase resolved the chart: see phd_ctx_chart_resolved() */
};

/* All strings are borrowed for the duration of the callback and already
 * redacted; fields that do not apply to a type are NULL / 0. */
struct phd_event {
	int type;                /* PHD_EV_* */
	int phase;               /* PHD_PHASE_* or -1 */
	int status;              /* PHD_STATUS_* (phase end, check, hook) */
	int severity;            /* PHD_SEV_* (finding, check) */
	long long ms;            /* duration or elapsed time */
	const char *name;        /* rule id, check name, hook name, stream */
	const char *object;      /* finding: kind/name[/container] */
	const char *message;     /* human text; OUTPUT: the line */
	const char *file;        /* where the finding comes from, if known */
	unsigned line, column;
	const char *values_key;  /* finding: values key that fixes it */
	int code;                /* RUN_END: exit-style PHD_E* of the run */
};
typedef void (*phd_event_fn)(const struct phd_event *ev, void *payload);
PHD_EXTERN void phd_ctx_set_event_cb(phd_ctx *ctx, phd_event_fn fn, void *payload);

/* ---- running ------------------------------------------------------- */

/* Run the phases in mask (PHD_PHASE_BIT()s) in pipeline order.  Phases not
 * in the mask but needed by one in it are "read" without side effects
 * (e.g. preflight resolves secrets without applying them).  Returns 0 or
 * the failing phase's code; phd_ctx_failed_phase() tells which. */
PHD_EXTERN int phd_run(phd_ctx *ctx, unsigned mask);

/* Ask a running phd_run to stop (async-signal-safe).  Running children get
 * the interruption as SIGINT, then TERM and KILL if they linger. */
PHD_EXTERN void phd_ctx_interrupt(phd_ctx *ctx);
/* Whether phd_ctx_interrupt() was called during this run (plugins poll it
 * in long operations of their own, e.g. network calls). */
PHD_EXTERN int phd_ctx_interrupted(const phd_ctx *ctx);

/* The release's current state through the helm plugin, as a JSON text
 * (caller frees with free()). */
PHD_EXTERN int phd_status(phd_ctx *ctx, char **out_json);
/* What phd_run_action() asks of an action. */
#define PHD_ACTION_UNDO 0x01u /* put back what the action changed last */
/* Run the action a plugin registered as name (phd_register_action) with
 * flags (PHD_ACTION_*): config and values loaded, the release lock taken
 * unless a dry run, one journal line.  PHD_ENOPROVIDER when no loaded
 * plugin provides it. */
PHD_EXTERN int phd_run_action(phd_ctx *ctx, const char *name, unsigned flags);

/* The revision the rollback phase rolls back to (rollback --to-revision):
 * 1 or more; 0 (the default) lets the handler pick the last good one.
 * PHD_EINVAL for a negative revision. */
PHD_EXTERN int phd_ctx_set_rollback_revision(phd_ctx *ctx, long long revision);

/* ---- results ------------------------------------------------------- */

PHD_EXTERN int phd_ctx_phase_status(const phd_ctx *ctx, int phase);
PHD_EXTERN long long phd_ctx_phase_ms(const phd_ctx *ctx, int phase);
/* Why the phase failed (redacted; borrowed until the next phd_run or
 * phd_ctx_free), or NULL when it passed, was skipped or did not run. */
PHD_EXTERN const char *phd_ctx_phase_message(const phd_ctx *ctx, int phase);
/* The phase that failed the last run, or -1. */
PHD_EXTERN int phd_ctx_failed_phase(const phd_ctx *ctx);
/* Whether the failed deploy failed by timing out. */
PHD_EXTERN int phd_ctx_timed_out(const phd_ctx *ctx);

struct phd_finding {
	const char *rule;
	int severity;
	int phase;
	const char *object;
	const char *message;
	const char *values_key;  /* may be NULL */
	const char *file;        /* may be NULL */
	unsigned line, column;
};
PHD_EXTERN size_t phd_ctx_finding_count(const phd_ctx *ctx);
/* Borrowed, valid until the next phd_run or phd_ctx_free. */
PHD_EXTERN const struct phd_finding *phd_ctx_finding(const phd_ctx *ctx, size_t i);

struct phd_check_result {
	const char *name;
	int status;              /* PHD_STATUS_OK / FAILED / SKIPPED */
	int required;
	long long ms;
	const char *message;
};
PHD_EXTERN size_t phd_ctx_check_count(const phd_ctx *ctx);
PHD_EXTERN const struct phd_check_result *phd_ctx_check(const phd_ctx *ctx, size_t i);

/* ---- plugins (introspection) --------------------------------------- */

struct phd_plugin_info {
	const char *name;
	const char *version;
	const char *path;
	unsigned abi_major, abi_minor;
	const char *provides;   /* "secret:file check:postgres hook:deploy.pre" */
};
PHD_EXTERN size_t phd_ctx_plugin_count(const phd_ctx *ctx);
PHD_EXTERN const struct phd_plugin_info *phd_ctx_plugin(const phd_ctx *ctx, size_t i);

/* Exit status phdeploy(1) uses for a phd_run() result (0..12). */
PHD_EXTERN int phd_exit_code(const phd_ctx *ctx, int rc);

/* ---- the resolved chart -------------------------------------------- */

enum phd_chart_source {
	PHD_CHART_REPO = 1,  /* downloaded from a chart repository, digest verified */
	PHD_CHART_FILE,      /* a local .tgz */
	PHD_CHART_DIR,       /* a local chart directory (no digest) */
	PHD_CHART_OCI        /* pulled from an OCI registry (oci://), layer digest verified */
};

#define PHD_CHART_REF_VERSION 1
struct phd_chart_ref {
	unsigned version;        /* PHD_CHART_REF_VERSION */
	int source;              /* PHD_CHART_* */
	const char *name;        /* chart name ("posthog"); NULL when unknown */
	const char *chart_version; /* "30.46.0"; NULL when unknown */
	const char *digest;      /* "sha256:<64 hex>" of the archive; NULL for a directory */
	const char *archive;     /* local path helm is given (.tgz or directory) */
};
#define PHD_CHART_REF_INIT { PHD_CHART_REF_VERSION, 0, NULL, NULL, NULL, NULL }

/* The chart the last run's repo phase resolved: the archive that render
 * and deploy hand to helm, its version and digest.  *out is borrowed,
 * valid until the next phd_run() or phd_ctx_free().  PHD_ENOTFOUND when
 * the repo phase has not succeeded in this run or published nothing (an
 * oci:// chart, a repository helm is left to resolve). */
PHD_EXTERN int phd_ctx_chart_resolved(const phd_ctx *ctx, const struct phd_chart_ref **out);

#ifdef __cplusplus
}
#endif
#endif
