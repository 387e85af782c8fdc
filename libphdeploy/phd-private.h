/* Internals shared between the core's source files.  Not installed. */
#ifndef PHD_PRIVATE_H
#define PHD_PRIVATE_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>

#include "phdeploy/phdeploy.h"
#include "phdeploy/plugin.h"

#define PHD_HIDDEN __attribute__((visibility("hidden")))

/* Limits on untrusted input. */
#define PHD_MAX_CONFIG_BYTES   (16u << 20)   /* config and values files */
#define PHD_MAX_STREAM_BYTES   (256u << 20)  /* rendered/live manifest streams */
#define PHD_MAX_DEPTH          128
#define PHD_MAX_NODES          (8u << 20)    /* per parse, aliases included */
#define PHD_MAX_CAPTURE        (512u << 20)  /* captured child output */
/* raw (secret) stdout: a Kubernetes Secret holds at most 1 MiB */
#define PHD_MAX_RAW            (1u << 20)
#define PHD_MAX_LINE           (64u << 10)
/* Secret values shorter than this are not masked: "on" or "a1" would
 * mangle every line of output while hiding next to nothing.  They are still
 * stored and used; phd_secret_add warns, naming the Secret and key. */
#define PHD_REDACT_MIN         4
#define PHD_CHECK_MAX_REPORT   (64u << 10)

/* ---- util.c ---- */
struct phd_buf {
	char *s;
	size_t len, cap;
};
PHD_HIDDEN int phd_buf_add(struct phd_buf *b, const void *p, size_t n);
PHD_HIDDEN int phd_buf_puts(struct phd_buf *b, const char *s);
PHD_HIDDEN int phd_buf_printf(struct phd_buf *b, const char *fmt, ...) PHD_PRINTF(2, 3);
PHD_HIDDEN int phd_buf_vprintf(struct phd_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* JSON string literal with quotes. */
PHD_HIDDEN int phd_buf_json_str(struct phd_buf *b, const char *s);
PHD_HIDDEN void phd_buf_free(struct phd_buf *b);
/* Wipe then free. */
PHD_HIDDEN void phd_buf_wipe(struct phd_buf *b);
PHD_HIDDEN char *phd_strdup(const char *s);
PHD_HIDDEN char *phd_strndup(const char *s, size_t n);
PHD_HIDDEN char *phd_asprintf(const char *fmt, ...) PHD_PRINTF(1, 2);
PHD_HIDDEN long long phd_now_ms(void);
PHD_HIDDEN char *phd_path_join(const char *dir, const char *name);
PHD_HIDDEN char *phd_dirname(const char *path);
/* Read a whole regular file with a limit; PHD_ENOTFOUND, PHD_EIO,
 * PHD_ETOOBIG, PHD_EINVAL for anything else (FIFO, device, directory:
 * never opened for reading in a way that could block). */
PHD_HIDDEN int phd_read_file(const char *path, size_t limit, char **out, size_t *len);
/* Read fd to its end, at most limit bytes (PHD_ETOOBIG past it): for a
 * pipe the user hands over on purpose, as `-f -`. */
PHD_HIDDEN int phd_read_fd(int fd, size_t limit, char **out, size_t *len);
/* A new file (O_EXCL, no symlink followed) holding buf; removed on failure. */
PHD_HIDDEN int phd_write_file(const char *path, const void *buf, size_t len, int mode);
/* "a FIFO", "a directory", "a character device"... for messages. */
PHD_HIDDEN const char *phd_path_kind(const char *path);
/* $TMPDIR (or /tmp) is a writable directory, or an error naming it. */
PHD_HIDDEN int phd_tmpdir_check(phd_ctx *ctx);
PHD_HIDDEN int phd_mkdir_p(const char *path, mode_t mode);
PHD_HIDDEN int phd_rm_rf(const char *path);
PHD_HIDDEN int phd_check_option_names(phd_ctx *ctx); /* ctx.c: -r/-n, PHD_EINVAL */
/* config.c: a DNS-1123 subdomain of at most 53 characters (helm) */
PHD_HIDDEN int phd_valid_release(const char *s);
PHD_HIDDEN size_t phd_levenshtein(const char *a, const char *b);
PHD_HIDDEN char *phd_base64(const unsigned char *p, size_t n);

/* A growable array of pointers. */
struct phd_vec {
	void **v;
	size_t n, cap;
};
PHD_HIDDEN int phd_vec_push(struct phd_vec *vec, void *p);
PHD_HIDDEN void phd_vec_free(struct phd_vec *vec, void (*fr)(void *));

/* A string -> index hash (keys borrowed), for large mappings and anchors:
 * hostile input must not make loading quadratic. */
struct phd_strset {
	size_t cap, n;
	const char **k;
	size_t *v;
};
/* Insert or replace; returns PHD_ENOMEM or 0. */
PHD_HIDDEN int phd_strset_put(struct phd_strset *s, const char *key, size_t val);
/* 1 and *val when found, else 0. */
PHD_HIDDEN int phd_strset_get(const struct phd_strset *s, const char *key, size_t *val);
PHD_HIDDEN void phd_strset_free(struct phd_strset *s);

/* ---- doc.c: YAML document trees with positions ---- */
struct phd_arena;

/* Configuration and values files (and --set): a node each, key nodes kept
 * for the positions of configuration errors.  Manifest streams are parsed
 * into the compact nodes of doc.c instead (struct phd_cnode); byte 0 tells
 * them apart, and the phd_node_* accessors read either.
 * Code outside doc.c touches the members of configuration and values trees
 * only. */
struct phd_node {
	unsigned char compact; /* 0 here, first: see struct phd_cnode */
	unsigned char type;
	unsigned char plain; /* scalar was unquoted */
	/* nodes below, aliases expanded (billion laughs); bounded by the
	 * parse's PHD_MAX_NODES + its length (< 2^32) */
	uint32_t weight;
	const char *str;    /* scalar text */
	size_t n;           /* children */
	const char **keys;  /* map keys (n), NULL for sequences */
	struct phd_node **knodes; /* map keys as nodes, for their positions */
	struct phd_node **kids;
	const char *file;
	unsigned line, col;
};                          /* 64 bytes */

/* A set of parsed documents sharing one arena. */
struct phd_docset {
	struct phd_arena *arena;
	struct phd_node **docs;
	size_t ndocs;
};

/* Parse buf into docs.  name: the file name used in positions.  On error
 * returns a PHD_E* code and sets *err to "name:line:col: message" (malloc'd). */
PHD_HIDDEN int phd_doc_parse(struct phd_docset *ds, const char *name, const char *buf,
			     size_t len, int multi, char **err);
PHD_HIDDEN void phd_docset_free(struct phd_docset *ds);
PHD_HIDDEN struct phd_arena *phd_arena_new(void);
PHD_HIDDEN void phd_arena_free(struct phd_arena *a);
PHD_HIDDEN void *phd_arena_alloc(struct phd_arena *a, size_t n);
/* n bytes at a multiple of align (a power of two, at most max_align_t's) */
PHD_HIDDEN void *phd_arena_take(struct phd_arena *a, size_t n, size_t align);
PHD_HIDDEN const char *phd_arena_strdup(struct phd_arena *a, const char *s);
/* Helm-style merge of over onto base: maps merge, others replace, null deletes. */
/* One --set/--set-string/--set-file argument as a values tree in a,
 * positioned at *out_origin ("--set a=b", line 0). */
PHD_HIDDEN int phd_setvalues_parse(phd_ctx *ctx, struct phd_arena *a, int kind,
				   const char *arg, const char **out_origin,
				   const phd_node **out);
PHD_HIDDEN struct phd_node *phd_doc_merge(struct phd_arena *a, const struct phd_node *base,
					  const struct phd_node *over);
/* Node lookup of a direct key. */
PHD_HIDDEN const phd_node *phd_node_child(const phd_node *n, const char *key);
/* "file:line:col" of a node (static buffer per call site is not allowed: malloc'd). */
PHD_HIDDEN char *phd_node_pos(const phd_node *n);
/* Truthy scalar? (true/yes/on/1) with default when absent. */
PHD_HIDDEN int phd_node_truthy(const phd_node *n, int dflt);

/* ---- redact.c ---- */
struct phd_redactor {
	unsigned char **vals;
	size_t *lens;
	size_t n, cap;
};
PHD_HIDDEN int phd_redactor_add(struct phd_redactor *r, const void *v, size_t len);
/* The value and its base64, percent-encoded and JSON-escaped forms. */
PHD_HIDDEN int phd_redactor_add_forms(struct phd_redactor *r, const void *v, size_t len);
/* Returns a malloc'd redacted copy (NULL on ENOMEM). */
PHD_HIDDEN char *phd_redactor_apply(const struct phd_redactor *r, const char *s, size_t len,
				    size_t *outlen);
/* Whether s contains a registered value. */
PHD_HIDDEN int phd_redactor_hits(const struct phd_redactor *r, const char *s);
PHD_HIDDEN void phd_redactor_free(struct phd_redactor *r);
PHD_HIDDEN void phd_wipe(void *p, size_t n);

/* ---- registrations (plugin.c) ---- */
enum phd_reg_kind {
	PHD_REG_PROVIDER = 1,
	PHD_REG_CHECK,
	PHD_REG_VALIDATOR,
	PHD_REG_HANDLER,
	PHD_REG_STATUS,
	PHD_REG_HOOK,
	PHD_REG_ACTION,
	PHD_REG_KINDS
};
/* Control flags, as PAM's: what a failing registration does to its phase. */
enum phd_control { PHD_CTL_REQUIRED = 0, PHD_CTL_OPTIONAL, PHD_CTL_ADVISORY };
struct phd_reg {
	int kind;
	const char *kind_name;    /* "check", "hook", ... for messages */
	char *name;
	int phase;
	int when;
	int control;              /* PHD_CTL_* */
	void (*fn)(void);
	void *userdata;
	phd_destroy_fn destroy;
	struct phd_plugin *plugin;
};

/* A config subtree a plugin declared (phd_plugin_declare_config). */
struct phd_decl {
	char *scope;              /* "" own section, "checks.NAME", "secrets.NAME" */
	const struct phd_config_key *keys;
};
struct phd_rule_decl {
	const char *id, *summary;
	int severity;
};

struct phd_plugin {
	phd_ctx *ctx;
	void *dl;                 /* NULL for in-process plugins */
	const struct phd_plugin_desc *desc;
	struct phd_plugin_info info;
	char *name, *version, *path;
	struct phd_buf provides;
	void *data;               /* phd_plugin_set_data */
	phd_destroy_fn data_destroy;
	struct phd_vec decls;     /* struct phd_decl * */
	struct phd_vec rules;     /* struct phd_rule_decl * */
};

/* ---- dispatch.c: the one dispatcher ---- */
typedef int (*phd_invoke_fn)(phd_ctx *ctx, struct phd_reg *r, void *arg);
/* Run the registrations of kind for phase (when >= 0: hooks of that point)
 * under their control flags.  *ran: how many ran and were applicable. */
PHD_HIDDEN int phd_dispatch(phd_ctx *ctx, int kind, int phase, int when, phd_invoke_fn invoke,
			    void *arg, size_t *ran);
/* The control rule alone, for results gathered elsewhere (forked checks). */
PHD_HIDDEN int phd_dispatch_outcome(phd_ctx *ctx, const struct phd_reg *r, int phase, int rc);
/* Registrations of kind for phase (-1: of no phase), in load order. */
PHD_HIDDEN const struct phd_vec *phd_dispatch_list(phd_ctx *ctx, int kind, int phase);
PHD_HIDDEN struct phd_reg *phd_dispatch_find(phd_ctx *ctx, int kind, const char *name);
PHD_HIDDEN void phd_dispatch_invalidate(phd_ctx *ctx);
/* The context's message, saved across work that may overwrite it. */
PHD_HIDDEN void phd_err_clear(phd_ctx *ctx);
PHD_HIDDEN char *phd_err_save(const phd_ctx *ctx);
/* Puts saved (taken over) back as the message; returns code. */
PHD_HIDDEN int phd_err_restore(phd_ctx *ctx, char *saved, int code);

/* ---- secret.c ---- */
struct phd_secret {
	struct phd_secret_view view;
	struct phd_secret_kv *kv;
	size_t cap;
	char *name, *type, *origin;
	const void *owner;            /* the sink's entry that provides it */
};
struct phd_secret_sink {
	phd_ctx *ctx;
	const char *provider;
	const phd_node *entry;
};
PHD_HIDDEN void phd_secrets_free(phd_ctx *ctx);
/* Run every provider of the config's `secrets:` list. */
PHD_HIDDEN int phd_secrets_env_prescan(phd_ctx *ctx);
PHD_HIDDEN int phd_secrets_resolve(phd_ctx *ctx);
/* Does the environment value contain a secret-store value? */
PHD_HIDDEN int phd_secrets_in(const phd_ctx *ctx, const char *s);

/* ---- results ---- */
struct phd_finding_rec {
	struct phd_finding pub;   /* in ctx->farena, its strings too */
	/* A message "OBJECT: TAIL" keeps only its shared TAIL: pub.message
	 * stays NULL until phd_ctx_finding() first hands the finding out. */
	const char *tail;
};
struct phd_check_rec {
	struct phd_check_result pub;
};

/* ---- the context ---- */
struct phd_ctx {
	struct phd_options opt;
	char *errmsg;

	phd_log_fn log_fn;
	void *log_payload;
	phd_event_fn ev_fn;
	void *ev_payload;

	int loaded;
	int load_rc;
	struct phd_arena *arena;      /* merged values, copies */
	struct phd_docset config_ds;
	const phd_node *config;
	struct phd_vec values_ds;     /* struct phd_docset * */
	const phd_node *values;
	const phd_node *empty_map;

	char *config_path, *config_dir;
	char *release, *namespace_, *chart, *chart_version;
	char *helm, *kubectl, *kube_context;
	int kube_major, kube_minor;   /* kube.version; 0.0 when unset */
	char **values_files;
	int *values_kinds;            /* PHD_VALUES_* of each, parallel */
	size_t nvalues;
	int *opt_kinds;               /* of opt.values; NULL: all files */
	int stdin_read;               /* "-f -" given: stdin is read once */

	struct phd_vec plugins;       /* struct phd_plugin * */
	struct phd_vec infos;         /* struct phd_plugin_info * (views) */
	struct phd_vec regs;          /* struct phd_reg * */
	struct phd_vec table[PHD_REG_KINDS][PHD_PHASE_COUNT + 1]; /* dispatch.c */
	int table_ok;
	int release_changed;          /* this run started changing the release */
	unsigned run_mask;            /* phases the running phd_run() was asked for */
	long long rollback_revision;  /* phd_ctx_set_rollback_revision(); 0: automatic */
	const char *action;           /* phd_run_action()'s name while it runs (journal) */
	unsigned action_flags;        /* and its PHD_ACTION_* */

	struct phd_vec secrets;       /* struct phd_secret * */
	int secrets_resolved;
	struct phd_redactor redact;   /* every sensitive value */
	struct phd_redactor env_scrub;/* secret-store values: never in child env */

	int status[PHD_PHASE_COUNT];
	long long ms[PHD_PHASE_COUNT];
	char *phase_msg[PHD_PHASE_COUNT];
	int failed_phase;
	int timed_out;
	int running_phase;
	struct phd_vec findings;      /* struct phd_finding_rec * */
	/* the findings and their texts: rule ids, files, values keys and most
	 * messages repeat over thousands of findings and are kept once */
	struct phd_arena *farena;
	struct phd_strset ftexts;     /* text -> its copy in farena */
	const char *last_object;      /* an object's findings come together */
	struct phd_vec checks;        /* struct phd_check_rec * */

	struct phd_docset docs[PHD_PHASE_COUNT];
	char *rendered;
	size_t rendered_len;

	char *tmpdir;
	int tmpdir_kept;                /* a plan's: left for its printed commands */
	volatile sig_atomic_t interrupted;
	int lock_fd;
	char *state_dir;

	struct phd_check *in_check;   /* set in a check's child process */
	struct phd_chart_rec *resolved; /* chart.c: what the repo phase resolved */
};

/* ctx.c */
/* chart.c */
PHD_HIDDEN void phd_chart_free(phd_ctx *ctx);
/* config.c */
PHD_HIDDEN int phd_config_load(phd_ctx *ctx);
/* Every declared plugin key, rule id, check and secrets entry (exit 3). */
PHD_HIDDEN int phd_config_check_declared(phd_ctx *ctx);
/* A top-level key of the core's schema? */
PHD_HIDDEN int phd_config_core_key(const char *key);
PHD_HIDDEN int phd_config_unknown_top(phd_ctx *ctx, size_t i);
/* Sets "file:line:col: message" at node n; returns code. */
PHD_HIDDEN int phd_config_error(phd_ctx *ctx, int code, const phd_node *n, const char *fmt, ...)
	PHD_PRINTF(4, 5);
/* plugin.c: a loaded plugin by name, or NULL */
PHD_HIDDEN struct phd_plugin *phd_plugin_find(phd_ctx *ctx, const char *name);
/* plugin.c */
PHD_HIDDEN int phd_plugins_load(phd_ctx *ctx);
PHD_HIDDEN void phd_plugins_unload(phd_ctx *ctx);
PHD_HIDDEN const phd_node *phd_plugin_config(phd_ctx *ctx, const char *name);
/* log.c */
PHD_HIDDEN void phd_emit_simple(phd_ctx *ctx, int type, int phase, int status, long long ms,
				const char *name, const char *message);
/* check.c */
PHD_HIDDEN int phd_checks_run(phd_ctx *ctx);
PHD_HIDDEN void phd_check_child_log(phd_ctx *ctx, int level, const char *msg);
/* In a check's process: pgid (a child phd_exec_run started) is running
 * (alive 1) or was reaped (0); the check ends those groups when it is
 * stopped.  A no-op outside a check. */
PHD_HIDDEN void phd_check_track_group(phd_ctx *ctx, pid_t pgid, int alive);
/* validate.c */
/* Record a finding (strings copied, redacted) and emit its event.
 * Returns the severity after rules: and exemptions applied. */
PHD_HIDDEN int phd_finding_add(phd_ctx *ctx, int phase, const char *rule, int sev,
			       const char *object, const phd_node *where,
			       const char *values_key, const char *message);
PHD_HIDDEN int phd_validators_run(phd_ctx *ctx, int phase);
PHD_HIDDEN void phd_findings_clear(phd_ctx *ctx);
PHD_HIDDEN void phd_checks_clear(phd_ctx *ctx);
PHD_HIDDEN int phd_rule_severity(phd_ctx *ctx, const char *rule, int dflt);
/* hook.c */
PHD_HIDDEN int phd_hooks_run(phd_ctx *ctx, int phase, int when, int outcome);
/* journal.c, lock.c */
PHD_HIDDEN int phd_journal_append(phd_ctx *ctx, unsigned mask, int rc);
/* A journal path that exists but is no regular file refuses the run
 * before it starts (a FIFO would block its end). */
PHD_HIDDEN int phd_journal_check(phd_ctx *ctx);
PHD_HIDDEN int phd_lock_take(phd_ctx *ctx);
PHD_HIDDEN void phd_lock_release(phd_ctx *ctx);
/* Record (pid > 0) or forget (0) the child the lock holder runs. */
PHD_HIDDEN void phd_lock_note_child(phd_ctx *ctx, pid_t pid, const char *what);
/* exec.c: build the child environment (scrubbed) */
PHD_HIDDEN char **phd_exec_env(phd_ctx *ctx, const char *const *extra);

#endif
