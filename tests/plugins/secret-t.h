/* Shared harness of the secret-* plugin tests: write a phdeploy.yaml with
 * `secrets:` entries into a fresh directory, run the secrets phase as a dry
 * run through the public API, collect log lines and events. */
#ifndef PHD_SECRET_T_H
#define PHD_SECRET_T_H

#include <stddef.h>
#include <phdeploy/phdeploy.h>

struct st_run {
	phd_ctx *ctx;
	int rc;
	const char *err;   /* phd_ctx_errmsg after the run */
	char *out;         /* every log line and event message, '\n'-separated */
	size_t out_len, out_cap;
};

/* Keep only the secret-* plugins of PHDEPLOY_PLUGIN_PATH: these tests are
 * about the providers, not the kube plugin that applies them. */
void st_init(void);
/* A fresh directory under the test's temp dir (static storage, replaced by
 * the next call). */
const char *st_dir(void);
/* Write dir/name. */
void st_file(const char *dir, const char *name, const char *text);
/* Write dir/phdeploy.yaml as "release: posthog\nnamespace: posthog\n" +
 * body, run PHD_PHASE_SECRETS with PHD_OPT_DRY_RUN (an in-process handler
 * stands in for the kube plugin's apply).  Returns r->rc. */
int st_run(struct st_run *r, const char *dir, const char *body);
void st_done(struct st_run *r);
/* The value of name/key as a NUL-terminated copy (malloc'd) or NULL. */
char *st_value(const phd_ctx *ctx, const char *name, const char *key);
/* TAP: name/key has exactly want. */
int st_is(const struct st_run *r, const char *name, const char *key, const char *want,
	  const char *desc);
/* Whether needle occurs in hay[0..len). */
int st_contains(const char *hay, size_t len, const char *needle);

#endif
