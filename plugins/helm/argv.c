/* helm command lines, built for the detected major version.  The default
 * deploy line is the manual procedure's, flag for flag:
 *   helm upgrade --install -f values.yaml --timeout 30m --create-namespace \
 *       --namespace posthog posthog posthog/posthog --wait --wait-for-jobs --debug
 * except that the chart is the archive the repo phase downloaded and
 * verified (helm would fetch posthog/posthog again, unverified).  Only
 * argv: nothing here ever holds a secret. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helm-private.h"

void strv_add(struct strv *sv, const char *s)
{
	char *d;

	if (sv->oom)
		return;
	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 16;
		char **nv = realloc(sv->v, cap * sizeof(*nv));
		if (!nv) {
			sv->oom = 1;
			return;
		}
		sv->v = nv;
		sv->cap = cap;
	}
	if (!(d = strdup(s ? s : ""))) {
		sv->oom = 1;
		return;
	}
	sv->v[sv->n++] = d;
	sv->v[sv->n] = NULL;
}

void strv_addf(struct strv *sv, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		sv->oom = 1;
		return;
	}
	strv_add(sv, s);
	free(s);
}

void strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

const char *const *strv_argv(struct strv *sv)
{
	return (const char *const *)sv->v;
}

static int plain(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_./:=@%+,-", *s))
			return 0;
	return 1;
}

char *strv_join(const struct strv *sv)
{
	size_t len = 1;
	char *out, *o;

	for (size_t i = 0; i < sv->n; i++)
		len += 4 * strlen(sv->v[i]) + 3;
	if (!(out = o = malloc(len)))
		return NULL;
	for (size_t i = 0; i < sv->n; i++) {
		const char *s = sv->v[i];
		if (i)
			*o++ = ' ';
		if (plain(s)) {
			o = stpcpy(o, s);
			continue;
		}
		*o++ = '\'';
		for (; *s; s++) {
			if (*s == '\'')
				o = stpcpy(o, "'\\''");
			else
				*o++ = *s;
		}
		*o++ = '\'';
	}
	*o = '\0';
	return out;
}

void helm_fmt_duration(char *buf, size_t len, long long ms)
{
	long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
	size_t o = 0;

	buf[0] = '\0';
	if (h)
		o += (size_t)snprintf(buf + o, len - o, "%lldh", h);
	if (m && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%lldm", m);
	if (s && o < len)
		o += (size_t)snprintf(buf + o, len - o, "%llds", s);
	if ((rest || !o) && o < len)
		snprintf(buf + o, len - o, "%lldms", rest);
}

void helm_argv_start(struct strv *sv, phd_ctx *ctx)
{
	const char *helm = phd_ctx_helm(ctx);
	strv_add(sv, helm && *helm ? helm : "helm");
}

/* Values files and --set* in the order given: helm applies them so. */
static void add_values(struct strv *sv, phd_ctx *ctx)
{
	static const char *const flag[] = { "-f", "--set", "--set-string", "--set-file" };
	size_t n = phd_ctx_values_count(ctx);
	for (size_t i = 0; i < n; i++) {
		int k = phd_ctx_values_kind(ctx, i);
		strv_add(sv, flag[k >= 0 && k <= PHD_VALUES_SET_FILE ? k : 0]);
		strv_add(sv, phd_ctx_values_file(ctx, i));
	}
}

const char *helm_chart_arg(phd_ctx *ctx)
{
	const struct phd_chart_ref *ref;

	if (phd_ctx_chart_resolved(ctx, &ref) == 0)
		return ref->archive;
	return phd_ctx_chart(ctx);
}

static void add_version(struct strv *sv, const struct helm *h, phd_ctx *ctx)
{
	const char *v = helm_chart_version((struct helm *)h, ctx);

	/* helm ignores --version for a local chart; showing it would mislead */
	if (v && *v && !helm_chart_is_local(helm_chart_arg(ctx))) {
		strv_add(sv, "--version");
		strv_add(sv, v);
	}
}

static void add_wait(struct strv *sv, const struct helm *h, int jobs)
{
	if (!h->wait)
		return;
	if (h->major >= 4)
		strv_addf(sv, "--wait=%s", h->wait_strategy);
	else
		strv_add(sv, "--wait");
	if (jobs && h->wait_for_jobs)
		strv_add(sv, "--wait-for-jobs");
}

static void add_kube_context(struct strv *sv, phd_ctx *ctx)
{
	const char *kc = phd_ctx_kube_context(ctx);
	if (kc && *kc) {
		strv_add(sv, "--kube-context");
		strv_add(sv, kc);
	}
}

void helm_argv_upgrade(struct strv *sv, const struct helm *h, phd_ctx *ctx,
		       const char *post_renderer)
{
	char t[32];

	helm_fmt_duration(t, sizeof(t), h->timeout_ms);
	helm_argv_start(sv, ctx);
	strv_add(sv, "upgrade");
	strv_add(sv, "--install");
	add_values(sv, ctx);
	strv_add(sv, "--timeout");
	strv_add(sv, t);
	if (h->create_namespace)
		strv_add(sv, "--create-namespace");
	strv_add(sv, "--namespace");
	strv_add(sv, phd_ctx_namespace(ctx));
	strv_add(sv, phd_ctx_release(ctx));
	strv_add(sv, helm_chart_arg(ctx));
	add_wait(sv, h, 1);
	if (h->debug)
		strv_add(sv, "--debug");
	add_version(sv, h, ctx);
	if (h->atomic)
		strv_add(sv, h->major >= 4 ? "--rollback-on-failure" : "--atomic");
	add_kube_context(sv, ctx);
	if (post_renderer) {
		strv_add(sv, "--post-renderer");
		strv_add(sv, post_renderer);
	}
}

void helm_argv_template(struct strv *sv, const struct helm *h, phd_ctx *ctx,
			const char *post_renderer)
{
	const phd_node *kv = phd_node_get(phd_ctx_config(ctx), "kube.version");

	helm_argv_start(sv, ctx);
	strv_add(sv, "template");
	strv_add(sv, phd_ctx_release(ctx));
	strv_add(sv, helm_chart_arg(ctx));
	strv_add(sv, "--namespace");
	strv_add(sv, phd_ctx_namespace(ctx));
	add_values(sv, ctx);
	add_version(sv, h, ctx);
	if (phd_node_str(kv)) {
		strv_add(sv, "--kube-version");
		strv_add(sv, phd_node_str(kv));
	}
	if (post_renderer) {
		strv_add(sv, "--post-renderer");
		strv_add(sv, post_renderer);
	}
}

void helm_argv_rollback(struct strv *sv, const struct helm *h, phd_ctx *ctx,
			const char *revision)
{
	char t[32];

	helm_fmt_duration(t, sizeof(t), h->timeout_ms);
	helm_argv_start(sv, ctx);
	strv_add(sv, "rollback");
	strv_add(sv, phd_ctx_release(ctx));
	strv_add(sv, revision);
	strv_add(sv, "--namespace");
	strv_add(sv, phd_ctx_namespace(ctx));
	/* a rollback re-applies an older revision's manifests: wait for them
	 * like a deploy so "rolled back" means running again */
	if (h->major >= 4)
		strv_addf(sv, "--wait=%s", h->wait_strategy);
	else
		strv_add(sv, "--wait");
	strv_add(sv, "--timeout");
	strv_add(sv, t);
	if (h->debug)
		strv_add(sv, "--debug");
	add_kube_context(sv, ctx);
}
