/* kube plugin internals: shared between its source files only. */
#ifndef PHD_KUBE_H
#define PHD_KUBE_H

#include <stddef.h>

#include <jansson.h>

#include <phdeploy/plugin.h>

/* The plugin's configuration (`kube:` in phdeploy.yaml), owned by the
 * registrations as their userdata. */
enum kube_ssa { KUBE_SSA_AUTO = 0, KUBE_SSA_ON, KUBE_SSA_OFF };
struct kube_conf {
	int server_side;         /* KUBE_SSA_*: server-side apply policy */
	long long timeout_ms;    /* deadline of one kubectl call */
	int read_nodes;          /* verify also reads nodes (zone labels) */
};

/* ---- kubectl invocations (kubectl.c) ---------------------------------- */

/* An argv: kubectl [--context=C] ARGS...  Arguments are borrowed, except
 * those added with kube_argv_addf (freed by kube_argv_free). */
/* room for one argument per Secret of a namespace in the read-back */
#define KUBE_ARGV_MAX 256
struct kube_argv {
	const char *v[KUBE_ARGV_MAX + 1];
	size_t n;
	char *own[8];
	size_t nown;
	int overflow;
};
void kube_argv_init(struct kube_argv *a, phd_ctx *ctx);
void kube_argv_add(struct kube_argv *a, const char *arg);
void kube_argv_addf(struct kube_argv *a, const char *fmt, ...) PHD_PRINTF(2, 3);
void kube_argv_free(struct kube_argv *a);
/* The argv as one line for messages and COMMAND events (malloc'd). */
char *kube_argv_line(const struct kube_argv *a);

/* Run kubectl; captures stdout and stderr.  Returns 0 when it ran (look
 * at res->exit_code), or a PHD_E* code with the error set. */
int kube_run(phd_ctx *ctx, const struct kube_conf *cf, struct kube_argv *a,
	     const void *stdin_data, size_t stdin_len, unsigned extra_flags,
	     struct phd_exec_result *res);
/* Set the context's error for a kubectl call that exited non-zero,
 * naming the command and quoting its (redacted) stderr. */
int kube_fail(phd_ctx *ctx, int code, const struct kube_argv *a,
	      const struct phd_exec_result *res, const char *what);
/* A PHD_EV_COMMAND event: what would run (dry run / plan). */
void kube_emit_command(phd_ctx *ctx, int phase, const char *line);
/* "file:line:column" of a values node (or "values"). */
void kube_pos(const phd_node *n, char *buf, size_t cap);
/* Whether a kubectl call that failed got no answer from any API server,
 * so that every other call would fail alike: it could not run or finish
 * in time (rc PHD_ETIMEOUT, PHD_ENOTFOUND, PHD_EINTR), or err (its stderr,
 * or the message kube_fail made of it) says no context, no connection, no
 * TLS or credentials, a deadline.  0 for the server's refusals ("Error
 * from server (Forbidden)": one list) and anything unknown.  The one
 * judgement of reachability in the plugin: verify, the predictions. */
int kube_unreachable(int rc, const char *err, size_t len);
/* Whether stderr is the API server's NotFound answer. */
int kube_is_notfound(const struct phd_exec_result *res);

/* Key names of Secret name in ns as a '\n'-separated list (malloc'd) in
 * *keys; *keys NULL when the Secret does not exist.  Values never leave
 * kubectl: a go-template prints only the names. */
int kube_secret_keys(phd_ctx *ctx, const struct kube_conf *cf, const char *ns,
		     const char *name, char **keys);
/* Whether key is one line of a kube_secret_keys() list. */
int kube_keys_has(const char *keys, const char *key);
#define KUBE_KEYS_TEMPLATE "go-template={{range $k, $v := .data}}{{$k}}{{\"\\n\"}}{{end}}"
/* NAME/KEY lines of one Secret or of a List of them (kubectl get with
 * several names answers a List, with one the object itself). */
#define KUBE_NAMED_KEYS_TEMPLATE "go-template={{define \"k\"}}{{$n := .metadata.name}}" \
	"{{range $k, $v := .data}}{{$n}}/{{$k}}{{\"\\n\"}}{{end}}{{end}}" \
	"{{if .items}}{{range .items}}{{template \"k\" .}}{{end}}{{else}}{{template \"k\" .}}{{end}}"

/* ---- Secret manifests (manifest.c) ------------------------------------ */

/* A byte buffer whose every allocation is wiped before it is released. */
struct kube_wbuf {
	char *p;
	size_t len, cap;
	int failed;
};
void kube_wbuf_put(struct kube_wbuf *b, const void *data, size_t len);
void kube_wbuf_free(struct kube_wbuf *b);

/* The Secret as one JSON object (apiVersion v1, kind Secret, data in
 * base64) in b.  Returns 0 or PHD_ENOMEM. */
int kube_secret_manifest(struct kube_wbuf *b, const struct phd_secret_view *s,
			 const char *ns);
/* Standard base64 (with padding) of len bytes appended to b. */
void kube_base64_put(struct kube_wbuf *b, const unsigned char *in, size_t len);

/* ---- the values' Secret references (refs.c) --------------------------- */

struct kube_ref {
	const char *secret;       /* Secret name (borrowed from the values) */
	const char *key;          /* key wanted, NULL: only the Secret */
	const char *values_key;   /* values path naming the Secret */
	const phd_node *where;    /* node naming the Secret */
};
struct kube_refs {
	struct kube_ref *v;
	size_t n, cap;
	char **owned;             /* strings the refs point to */
	size_t nowned;
};
/* Collect every Secret/key the values make the chart read.  Problems that
 * the values alone show (a key that is required but unset) are logged as
 * errors and counted in *bad. */
int kube_refs_collect(phd_ctx *ctx, const phd_node *values, struct kube_refs *refs,
		      size_t *bad);
void kube_refs_free(struct kube_refs *refs);

/* VALIDATE-phase validator: passwords written inline in the values. */
int kube_inline_secret_validator(phd_validation *v, void *userdata);

/* ---- phase handlers ----------------------------------------------------- */
int kube_secrets_phase(phd_ctx *ctx, int phase, int mode, void *userdata);
int kube_verify_phase(phd_ctx *ctx, int phase, int mode, void *userdata);
/* RENDER-phase validator `diff` (plan, diff, --dry-run): the render
 * against the stored release and the live objects (diff.c). */
int kube_diff_validator(phd_validation *v, void *userdata);

/* Whether a live pod belongs to one of workloads (a JSON array of
 * Deployment/StatefulSet objects): owned by the StatefulSet, or by a
 * ReplicaSet of the Deployment (verify.c). */
int kube_owned_pod(json_t *pod, json_t *workloads);

/* VERIFY-phase validator `drift`: live objects against the release's
 * stored manifest (drift.c). */
int kube_drift_validator(phd_validation *v, void *userdata);

/* VERIFY-phase validator: every workload rolled out and ready. */
int kube_rollout_validator(phd_validation *v, void *userdata);

#endif
