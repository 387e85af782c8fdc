/* libphdeploy plugin ABI.  See phdeploy-plugin(7).
 *
 * A plugin is a shared object exporting exactly one symbol, the descriptor:
 *
 *   static int init(phd_plugin *p, const phd_node *config);
 *   PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
 *       PHD_PLUGIN_DEFINE("postgres", "1.0", init, NULL);
 *
 * The descriptor's first three fields (ABI major, minor, struct size) protect
 * the rest: the host refuses a plugin whose major differs from its own or
 * whose minor is newer.  Minor bumps only append fields or functions.
 *
 * Rules: no static mutable state (use userdata), never print (phd_log and
 * phd_set_error on the handle you are given), every registration takes a
 * destructor called exactly once for its userdata.
 */
#ifndef PHDEPLOY_PLUGIN_H
#define PHDEPLOY_PLUGIN_H

#include <phdeploy/phdeploy.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI 2.0: phase handlers are told the run's mode (apply, read, show) and
 * Secrets are applied at the start of deploy, not in the secrets phase; a
 * 1.x plugin would apply in a read-only run, so it is refused.  Bump rule:
 * the major when a plugin built for the old value cannot work correctly,
 * the minor when functions or trailing fields are only added. */
#define PHD_PLUGIN_ABI_MAJOR 2
#define PHD_PLUGIN_ABI_MINOR 1

typedef struct phd_plugin phd_plugin;

/* Called at load with the plugin's config subtree (may be NULL): the
 * top-level key named like the plugin ("helm:", "kube:") or else
 * plugins.config.<name>.  Return 0, or a PHD_E* code after phd_set_error. */
typedef int (*phd_plugin_init_fn)(phd_plugin *p, const phd_node *config);
/* Called once before unload, after every destructor. */
typedef void (*phd_plugin_fini_fn)(phd_plugin *p);

struct phd_plugin_desc {
	uint16_t abi_major;        /* PHD_PLUGIN_ABI_MAJOR at build time */
	uint16_t abi_minor;        /* PHD_PLUGIN_ABI_MINOR at build time */
	uint32_t struct_size;      /* sizeof(struct phd_plugin_desc) */
	const char *name;          /* [a-z0-9-]+, unique */
	const char *version;       /* the plugin's own version */
	phd_plugin_init_fn init;
	phd_plugin_fini_fn fini;   /* may be NULL */
	void *reserved[8];         /* zero; room for growth */
};

#if defined(__GNUC__)
#define PHD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PHD_PLUGIN_EXPORT
#endif

#define PHD_PLUGIN_DEFINE(name, version, init, fini) \
	{ PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR, \
	  (uint32_t)sizeof(struct phd_plugin_desc), (name), (version), \
	  (init), (fini), { 0 } }

#define PHD_PLUGIN_SYMBOL "phd_plugin_desc"

typedef void (*phd_destroy_fn)(void *userdata);

/* The context a plugin runs in (borrowed, lives as long as the plugin). */
PHD_EXTERN phd_ctx *phd_plugin_ctx(phd_plugin *p);
PHD_EXTERN const char *phd_plugin_name(const phd_plugin *p);

/* Per-plugin data shared by all of a plugin's registrations (as PAM's
 * pam_set_data): destroy runs exactly once, after every registration's own
 * destructor and before fini.  Setting it again destroys the old data. */
PHD_EXTERN int phd_plugin_set_data(phd_plugin *p, void *data, phd_destroy_fn destroy);
PHD_EXTERN void *phd_plugin_data(const phd_plugin *p);

/* ---- configuration the plugin owns ------------------------------------ */

enum phd_cfg_type {
	PHD_CFG_STRING = 1,  /* a scalar */
	PHD_CFG_BOOL,        /* true/false/yes/no/on/off */
	PHD_CFG_INT,         /* an integer */
	PHD_CFG_DURATION,    /* 30s, 5m, 250ms, 1h */
	PHD_CFG_ENUM,        /* one of allowed ("a|b|c", compared as text) */
	PHD_CFG_LIST,        /* a list of scalars */
	PHD_CFG_MAP,         /* a mapping, contents not checked */
	PHD_CFG_ANY          /* anything */
};
#define PHD_CFG_REQUIRED 0x01u
struct phd_config_key {
	const char *name;      /* key below the scope; NULL ends the table */
	int type;              /* PHD_CFG_* */
	unsigned flags;        /* PHD_CFG_REQUIRED */
	const char *allowed;   /* PHD_CFG_ENUM: "a|b|c" */
	const char *doc;       /* one line, shown in errors; may be NULL */
};
#define PHD_CONFIG_END { NULL, 0, 0, NULL, NULL }

/* Declare the keys of a config subtree this plugin reads; validate checks
 * the whole file against every declaration before any phase runs (unknown
 * key with a did-you-mean, wrong type, missing required key, exit 3).
 * scope: NULL or "" for the plugin's own section (the top-level key named
 * like the plugin, or plugins.config.<name>); "checks.NAME" for a check it
 * registered; "secrets.NAME" for the entries of a secret provider it
 * registered (provider: is the core's).  keys is borrowed: a static table. */
PHD_EXTERN int phd_plugin_declare_config(phd_plugin *p, const char *scope,
					 const struct phd_config_key *keys);

/* Declare a rule id the plugin's validators report, so `rules:` and
 * `exemptions:` naming an unknown id fail validate.  Strings borrowed. */
PHD_EXTERN int phd_plugin_declare_rule(phd_plugin *p, const char *id, int default_severity,
				       const char *summary);

/* An application can register callbacks without a shared object: this
 * creates an in-process plugin named name (owned by ctx). */
PHD_EXTERN int phd_ctx_add_plugin(phd_plugin **out, phd_ctx *ctx, const char *name,
				  const char *version);

/* ---- logging and errors (plugins and core alike) ------------------- */

/* Messages are redacted before they reach the application's callback. */
PHD_EXTERN void phd_log(phd_ctx *ctx, int level, const char *fmt, ...) PHD_PRINTF(3, 4);
PHD_EXTERN void phd_logv(phd_ctx *ctx, int level, const char *fmt, va_list ap) PHD_VPRINTF(3);
/* Set the context's detailed message; returns code for `return phd_set_error(...)`. */
PHD_EXTERN int phd_set_error(phd_ctx *ctx, int code, const char *fmt, ...) PHD_PRINTF(3, 4);
/* Emit an event (phase, message...) to the application; strings redacted. */
PHD_EXTERN void phd_emit(phd_ctx *ctx, const struct phd_event *ev);

/* ---- secrets ------------------------------------------------------- */

typedef struct phd_secret_sink phd_secret_sink;

/* Provide the Secrets described by entry (one item of `secrets:` in the
 * config: { provider: NAME, ... }) through phd_secret_add. */
typedef int (*phd_secret_provider_fn)(phd_ctx *ctx, const phd_node *entry,
				      phd_secret_sink *sink, void *userdata);
PHD_EXTERN int phd_register_secret_provider(phd_plugin *p, const char *name,
					    phd_secret_provider_fn fn, void *userdata,
					    phd_destroy_fn destroy);

/* Add key=value to the Secret secret_name.  The value is copied into wiped
 * memory and registered with the redactor at once (also its base64 form).
 * where: the node it came from (for messages), may be NULL.
 * PHD_EINVAL for a duplicate key or a name that is not a DNS-1123 name. */
PHD_EXTERN int phd_secret_add(phd_secret_sink *sink, const char *secret_name,
			      const char *key, const void *value, size_t len,
			      const phd_node *where);
/* Labels/type of the Secret (optional; type defaults to "Opaque"). */
PHD_EXTERN int phd_secret_set_type(phd_secret_sink *sink, const char *secret_name,
				   const char *type);

struct phd_secret_kv {
	const char *key;
	const unsigned char *value;  /* wiped on free; never log it */
	size_t len;
};
struct phd_secret_view {
	const char *name;
	const char *namespace_;
	const char *type;
	const char *origin;          /* "postgres.secret.yaml:3" or provider name */
	size_t nkeys;
	const struct phd_secret_kv *kv;
};
/* The secrets store after the secrets phase (borrowed, ctx-owned). */
PHD_EXTERN size_t phd_secret_count(const phd_ctx *ctx);
PHD_EXTERN const struct phd_secret_view *phd_secret_at(const phd_ctx *ctx, size_t i);
/* Borrow one value; PHD_ENOTFOUND when the secret or key is unknown. */
PHD_EXTERN int phd_secret_get(const phd_ctx *ctx, const char *secret_name,
			      const char *key, const unsigned char **value, size_t *len);
/* Register any other sensitive bytes with the redactor. */
PHD_EXTERN int phd_redact_add(phd_ctx *ctx, const void *value, size_t len);
/* Redacted copy of s (caller frees). */
PHD_EXTERN char *phd_redact(const phd_ctx *ctx, const char *s);

/* ---- checks (preflight) -------------------------------------------- */

typedef struct phd_check phd_check;

/* Runs in its own child process with a deadline: it may block, but must
 * report through phd_check_* only.  Return 0 (ok), PHD_EIGNORE (not
 * applicable: nothing to check), or a negative code (failed). */
typedef int (*phd_check_fn)(phd_check *chk, void *userdata);
PHD_EXTERN int phd_register_check(phd_plugin *p, const char *name, phd_check_fn fn,
				  void *userdata, phd_destroy_fn destroy);

PHD_EXTERN phd_ctx *phd_check_ctx(phd_check *chk);
/* checks.<name> from the config (may be NULL). */
PHD_EXTERN const phd_node *phd_check_config(phd_check *chk);
/* Milliseconds left before the check is killed. */
PHD_EXTERN long long phd_check_remaining_ms(phd_check *chk);
/* The one-line summary shown for the check (last call wins). */
PHD_EXTERN void phd_check_summary(phd_check *chk, const char *fmt, ...) PHD_PRINTF(2, 3);
/* A detail line: severity PHD_SEV_*; errors make the check fail. */
PHD_EXTERN void phd_check_note(phd_check *chk, int severity, const char *fmt, ...)
	PHD_PRINTF(3, 4);

/* ---- validators ---------------------------------------------------- */

typedef struct phd_validation phd_validation;

/* phase: PHD_PHASE_VALIDATE (values), PHD_PHASE_RENDER (rendered
 * manifests) or PHD_PHASE_VERIFY (live objects). */
typedef int (*phd_validator_fn)(phd_validation *v, void *userdata);
PHD_EXTERN int phd_register_validator(phd_plugin *p, const char *name, int phase,
				      phd_validator_fn fn, void *userdata,
				      phd_destroy_fn destroy);

PHD_EXTERN phd_ctx *phd_validation_ctx(phd_validation *v);
PHD_EXTERN int phd_validation_phase(phd_validation *v);
/* Documents under validation (manifests or live objects), borrowed. */
PHD_EXTERN size_t phd_validation_doc_count(phd_validation *v);
PHD_EXTERN const phd_node *phd_validation_doc(phd_validation *v, size_t i);
/* Report a finding.  The severity comes from `rules: { rule: sev }` in the
 * config when set there, else default_sev; exemptions apply.  where gives
 * the position (may be NULL), values_key the key that fixes it (may be
 * NULL).  Returns the effective severity. */
PHD_EXTERN int phd_validation_report(phd_validation *v, const char *rule, int default_sev,
				     const char *object, const phd_node *where,
				     const char *values_key, const char *fmt, ...)
	PHD_PRINTF(7, 8);

/* ---- phase handlers (helm, kube) ------------------------------------ */

/* How a handler is called.  APPLY: the phase was asked for and may change
 * the cluster.  READ: a later phase needs its result; change nothing (the
 * secrets handlers cross-check, they do not apply).  SHOW: a plan or dry
 * run; emit PHD_EV_COMMAND events for what APPLY would run.  The secrets
 * handlers are called twice in a deploy: READ in the secrets phase, then
 * APPLY (or SHOW) at the start of deploy, after every check has passed. */
enum phd_mode { PHD_MODE_APPLY = 0, PHD_MODE_READ, PHD_MODE_SHOW };

/* Does the work of a phase: secrets (cross-check; apply in APPLY mode),
 * repo, render, deploy, verify (collect live objects), rollback.  Return 0,
 * PHD_EIGNORE (nothing to do), or a PHD_E* code.  A verify handler returns
 * PHD_EUNREACHABLE when the cluster could not be read (state unknown). */
typedef int (*phd_phase_fn)(phd_ctx *ctx, int phase, int mode, void *userdata);
PHD_EXTERN int phd_register_phase_handler(phd_plugin *p, int phase, phd_phase_fn fn,
					  void *userdata, phd_destroy_fn destroy);

/* `phdeploy status`: write a JSON summary (malloc'd) to *out_json. */
typedef int (*phd_status_fn)(phd_ctx *ctx, char **out_json, void *userdata);
PHD_EXTERN int phd_register_status(phd_plugin *p, phd_status_fn fn, void *userdata,
				   phd_destroy_fn destroy);

/* A render/verify handler hands over a YAML (or JSON) multi-document
 * stream; the core parses it once for the validators.  origin names it. */
PHD_EXTERN int phd_set_documents(phd_ctx *ctx, int phase, const char *buf, size_t len,
				 const char *origin);
/* The same, taking buf (malloc'd, at least len + 1 bytes) instead of
 * copying it: a large stream is not held twice.  Freed by the core, also
 * on error. */
PHD_EXTERN int phd_take_documents(phd_ctx *ctx, int phase, char *buf, size_t len,
				  const char *origin);
/* The rendered manifests as text (borrowed), for `render` output. */
PHD_EXTERN const char *phd_rendered(const phd_ctx *ctx, size_t *len);
/* Whether the run is a dry run / plan (show, do not change). */
PHD_EXTERN int phd_ctx_dry_run(const phd_ctx *ctx);
/* The phases the running phd_run() was asked for (PHD_PHASE_BIT()s, not
 * the ones added because a later phase needs them); 0 outside a run. */
PHD_EXTERN unsigned phd_ctx_run_phases(const phd_ctx *ctx);
/* Effective tool paths: helm, kubectl (borrowed). */
PHD_EXTERN const char *phd_ctx_helm(const phd_ctx *ctx);
PHD_EXTERN const char *phd_ctx_kubectl(const phd_ctx *ctx);
PHD_EXTERN const char *phd_ctx_kube_context(const phd_ctx *ctx);
PHD_EXTERN const char *phd_ctx_chart_version(const phd_ctx *ctx);
/* Values files in helm order (borrowed). */
PHD_EXTERN size_t phd_ctx_values_count(const phd_ctx *ctx);
PHD_EXTERN const char *phd_ctx_values_file(const phd_ctx *ctx, size_t i);
/* PHD_VALUES_* of the i-th source: for PHD_VALUES_FILE phd_ctx_values_file()
 * is a path, otherwise the --set argument ("a.b=v") to pass with that flag. */
PHD_EXTERN int phd_ctx_values_kind(const phd_ctx *ctx, size_t i);
/* Mark the deploy failure as a timeout (exit 9). */
PHD_EXTERN void phd_ctx_set_timed_out(phd_ctx *ctx);
/* A deploy handler calls this right before it starts changing the release
 * (helm upgrade): only then may a failure of this run be rolled back. */
PHD_EXTERN void phd_ctx_set_release_changed(phd_ctx *ctx);
/* The revision asked for with phd_ctx_set_rollback_revision(), or 0: the
 * rollback handler then picks the last good revision itself. */
PHD_EXTERN long long phd_ctx_rollback_revision(const phd_ctx *ctx);
/* A scratch directory private to this run (0700, removed at free; a
 * plan's is the state directory's plan/NAMESPACE.RELEASE, kept). */
PHD_EXTERN const char *phd_ctx_tmpdir(phd_ctx *ctx);
/* The state directory (journal, locks; kept between runs), not created
 * here: for a file a later run or an operator must find again. */
PHD_EXTERN const char *phd_ctx_state_dir(phd_ctx *ctx);
/* Publish the chart the repo phase resolved (strings copied; ref NULL
 * forgets it) and emit a PHD_EV_CHART event.  PHD_EINVAL for a missing
 * archive, an unknown source or a digest that is not "sha256:<64 hex>". */
PHD_EXTERN int phd_ctx_set_chart_resolved(phd_ctx *ctx, const struct phd_chart_ref *ref);

/* ---- actions: verbs outside the pipeline (ABI 2.1) ----------------- */

/* An operation a verb runs on its own, under the release lock
 * (`phdeploy migrate-release`).  mode: PHD_MODE_APPLY, or PHD_MODE_SHOW
 * under a dry run (say what would change, change nothing). */
typedef int (*phd_action_fn)(phd_ctx *ctx, int mode, unsigned flags, void *userdata);
PHD_EXTERN int phd_register_action(phd_plugin *p, const char *name, phd_action_fn fn,
				   void *userdata, phd_destroy_fn destroy);

/* ---- hooks --------------------------------------------------------- */

enum phd_hook_when { PHD_HOOK_PRE = 0, PHD_HOOK_POST, PHD_HOOK_FAIL };

/* outcome: 0 for pre, the phase's result code for post/fail.  A pre hook
 * that returns non-zero stops the run. */
typedef int (*phd_hook_fn)(phd_ctx *ctx, int phase, int when, int outcome, void *userdata);
PHD_EXTERN int phd_register_hook(phd_plugin *p, int phase, int when, phd_hook_fn fn,
				 void *userdata, phd_destroy_fn destroy);

/* ---- child processes ---------------------------------------------- */

#define PHD_EXEC_CAPTURE_STDOUT 0x01u /* collect stdout (redacted) */
#define PHD_EXEC_CAPTURE_STDERR 0x02u /* collect stderr (redacted) */
#define PHD_EXEC_EMIT           0x04u /* emit kept lines as OUTPUT events */
#define PHD_EXEC_RAW_STDOUT     0x08u /* stdout unredacted, in wiped memory */

/* Called for each line (redacted, without '\n'); return 1 to drop it from
 * events/capture, 0 to keep it.  stream: 1 stdout, 2 stderr. */
typedef int (*phd_line_fn)(int stream, const char *line, void *payload);

#define PHD_EXEC_VERSION 1
struct phd_exec {
	unsigned version;          /* PHD_EXEC_VERSION */
	unsigned flags;            /* PHD_EXEC_* */
	const char *const *argv;   /* argv[0] searched in PATH; never a secret */
	const char *const *env;    /* extra NAME=value entries, never a secret */
	const void *stdin_data;    /* may hold secrets; NULL: /dev/null */
	size_t stdin_len;
	long long timeout_ms;      /* 0: none; then TERM, 5 s later KILL */
	phd_line_fn on_line;
	void *payload;
};
#define PHD_EXEC_INIT { PHD_EXEC_VERSION, 0, NULL, NULL, NULL, 0, 0, NULL, NULL }

struct phd_exec_result {
	int exit_code;             /* -1 when killed by a signal */
	int term_signal;           /* 0 unless killed */
	int timed_out;
	int interrupted;           /* phd_ctx_interrupt() during the run */
	long long ms;
	char *out; size_t out_len; /* PHD_EXEC_CAPTURE_STDOUT / RAW_STDOUT */
	char *err; size_t err_len; /* PHD_EXEC_CAPTURE_STDERR */
};

/* Run a child: posix_spawn, no shell.  Returns 0 when it ran (look at
 * res->exit_code), PHD_ENOTFOUND when argv[0] is not found, PHD_ECHILD when
 * it cannot run or its exit status was lost (SIGCHLD ignored), PHD_ETIMEOUT,
 * PHD_EINTR.  Always call phd_exec_result_clear(). */
PHD_EXTERN int phd_exec_run(phd_ctx *ctx, const struct phd_exec *spec,
			    struct phd_exec_result *res);
PHD_EXTERN void phd_exec_result_clear(struct phd_exec_result *res);

/* ---- shared rules (one implementation for core and plugins) ----------- */

/* 1 when s is a Kubernetes object name (RFC 1123 subdomain: Secrets,
 * ConfigMaps): dot-separated labels of [a-z0-9-] that start and end
 * alphanumeric, 253 characters at most; else 0. */
PHD_EXTERN int phd_is_dns1123_subdomain(const char *s);
/* 1 when s is an RFC 1123 label (a namespace): no dots, 63 at most. */
PHD_EXTERN int phd_is_dns1123_label(const char *s);

/* Declare that this secrets entry provides the Secret secret_name, defined
 * at origin ("file:line:column", copied; NULL: the entry's position).  A
 * name that another entry, or this one before, declared or added is
 * refused with PHD_EINVAL naming both positions; phd_secret_add declares a
 * new name itself, and refuses a name another entry provides. */
PHD_EXTERN int phd_secret_declare(phd_secret_sink *sink, const char *secret_name,
				  const char *origin);

/* kube.version from the config, parsed once at load: 0 with *major and
 * *minor set (either may be NULL), PHD_ENOTFOUND when it is not set. */
PHD_EXTERN int phd_ctx_kube_version(const phd_ctx *ctx, int *major, int *minor);

/* The first entry of the config's `exemptions:` that covers a finding of
 * rule on object (the rule or "*"; object by fnmatch glob, and Kind/name
 * covers Kind/name/container), borrowed from the config; NULL: none.  The
 * core applies it to every finding; a plugin uses it to tell which
 * exemptions matched. */
PHD_EXTERN const phd_node *phd_exemption_find(const phd_ctx *ctx, const char *rule,
					      const char *object);

#ifdef __cplusplus
}
#endif
#endif
