/* Running kubectl: argv building, errors that name the command, reading a
 * Secret's key names. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

void kube_argv_init(struct kube_argv *a, phd_ctx *ctx)
{
	const char *kctx = phd_ctx_kube_context(ctx);
	const char *kubectl = phd_ctx_kubectl(ctx);

	memset(a, 0, sizeof(*a));
	kube_argv_add(a, kubectl && *kubectl ? kubectl : "kubectl");
	if (kctx && *kctx)
		kube_argv_addf(a, "--context=%s", kctx);
}

void kube_argv_add(struct kube_argv *a, const char *arg)
{
	if (!arg || a->n >= KUBE_ARGV_MAX) {
		a->overflow = 1;
		return;
	}
	a->v[a->n++] = arg;
	a->v[a->n] = NULL;
}

void kube_argv_addf(struct kube_argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (a->nown >= sizeof(a->own) / sizeof(a->own[0])) {
		a->overflow = 1;
		return;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		a->overflow = 1;
		return;
	}
	a->own[a->nown++] = s;
	kube_argv_add(a, s);
}

void kube_argv_free(struct kube_argv *a)
{
	for (size_t i = 0; i < a->nown; i++)
		free(a->own[i]);
	memset(a, 0, sizeof(*a));
}

/* Shell-like rendering, quoting only what needs it (for humans; never run). */
char *kube_argv_line(const struct kube_argv *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		const char *s = a->v[i];
		int plain = *s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					      "0123456789-_=.,/:@%+") == strlen(s);
		if (i)
			fputc(' ', f);
		if (plain) {
			fputs(s, f);
			continue;
		}
		fputc('\'', f);
		for (; *s; s++) {
			if (*s == '\'')
				fputs("'\\''", f);
			else
				fputc(*s, f);
		}
		fputc('\'', f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

int kube_run(phd_ctx *ctx, const struct kube_conf *cf, struct kube_argv *a,
	     const void *stdin_data, size_t stdin_len, unsigned extra_flags,
	     struct phd_exec_result *res)
{
	struct phd_exec spec = PHD_EXEC_INIT;
	char *line;
	int rc;

	memset(res, 0, sizeof(*res));
	if (a->overflow)
		return phd_set_error(ctx, PHD_EINTERNAL, "kube: kubectl command line too long");
	spec.flags = PHD_EXEC_CAPTURE_STDERR | extra_flags;
	if (!(extra_flags & PHD_EXEC_RAW_STDOUT))
		spec.flags |= PHD_EXEC_CAPTURE_STDOUT;
	spec.argv = a->v;
	spec.stdin_data = stdin_data;
	spec.stdin_len = stdin_len;
	spec.timeout_ms = cf->timeout_ms;
	line = kube_argv_line(a);
	phd_log(ctx, PHD_LOG_DEBUG, "kube: running %s", line ? line : a->v[0]);
	rc = phd_exec_run(ctx, &spec, res);
	if (rc == PHD_ENOTFOUND)
		rc = phd_set_error(ctx, rc, "kube: cannot run kubectl '%s' (set --kubectl or "
				   "PHDEPLOY_KUBECTL)", a->v[0]);
	else if (rc == PHD_ETIMEOUT || (rc == 0 && res->timed_out))
		rc = phd_set_error(ctx, PHD_ETIMEOUT, "kube: `%s` did not finish within %lld ms",
				   line ? line : a->v[0], cf->timeout_ms);
	else if (rc == PHD_EINTR || (rc == 0 && res->interrupted))
		rc = phd_set_error(ctx, PHD_EINTR, "kube: `%s` interrupted", line ? line : a->v[0]);
	else if (rc < 0)
		rc = phd_set_error(ctx, rc, "kube: cannot run `%s`: %s", line ? line : a->v[0],
				   phd_ctx_errmsg(ctx));
	free(line);
	return rc;
}

/* klog's "E1125 11:44:52.695269   14260 memcache.go:265] ..." lines repeat
 * what kubectl's own last line says more plainly. */
static int klog_line(const char *p, size_t len)
{
	return len > 22 && strchr("EWIF", p[0]) && p[1] >= '0' && p[1] <= '9' &&
	       p[5] == ' ' && p[8] == ':' && p[11] == ':' && memchr(p, ']', len) != NULL;
}

static void put_line(char *out, size_t cap, size_t *n, const char *p, size_t len)
{
	if (*n && *n + 1 < cap)
		out[(*n)++] = ' ';
	for (size_t i = 0; i < len && *n + 1 < cap; i++)
		out[(*n)++] = (p[i] == '\r' || p[i] == '\t') ? ' ' : p[i];
	out[*n] = '\0';
}

/* kubectl's stderr on one line, trimmed: its own messages, or the last
 * log line when that is all there is. */
static void stderr_excerpt(const struct phd_exec_result *res, char *out, size_t cap)
{
	const char *p = res->err, *end = res->err + res->err_len, *last = NULL, *prev = NULL;
	size_t n = 0, last_len = 0, prev_len = 0;

	out[0] = '\0';
	if (!res->err)
		return;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (len && klog_line(p, len)) {
			last = p;
			last_len = len;
		} else if (len && !(len == prev_len && !memcmp(p, prev, len))) {
			/* kubectl repeats "connection refused" once per retry */
			put_line(out, cap, &n, p, len);
			prev = p;
			prev_len = len;
		}
		p += len + 1;
	}
	if (!n && last)
		put_line(out, cap, &n, last, last_len);
	if (n + 1 >= cap && cap > 4)
		memcpy(out + cap - 4, "...", 4);
}

int kube_fail(phd_ctx *ctx, int code, const struct kube_argv *a,
	      const struct phd_exec_result *res, const char *what)
{
	char err[600];
	char *line = kube_argv_line(a);

	stderr_excerpt(res, err, sizeof(err));
	if (res->exit_code < 0)
		phd_set_error(ctx, code, "kube: %s: `%s` killed by signal %d", what,
			      line ? line : a->v[0], res->term_signal);
	else
		phd_set_error(ctx, code, "kube: %s: `%s` exited %d%s%s", what,
			      line ? line : a->v[0], res->exit_code, *err ? ": " : "", err);
	free(line);
	return code;
}

/* What kubectl and client-go print when no API server answered (kubectl
 * 1.33 against tests/bin/kube-api): a kubeconfig without the context
 * ("context was not found for specified context: X", with -o json
 * `context "X" does not exist`) or otherwise unusable, connection refused,
 * DNS, TLS, an exec credential plugin or a deadline ("Unable to connect to
 * the server: ..."); 401, where no list at all can be read, goes with them. */
static const char *const no_answer[] = {
	"Error in configuration", "invalid configuration", "error loading config file",
	"context was not found", "\" does not exist", "The connection to the server",
	"Unable to connect to the server", "dial tcp", "i/o timeout", "no such host",
	"context deadline exceeded", "Client.Timeout exceeded", "TLS handshake",
	"connection reset by peer", "You must be logged in to the server",
};

int kube_unreachable(int rc, const char *err, size_t len)
{
	if (rc == PHD_ETIMEOUT || rc == PHD_ENOTFOUND || rc == PHD_EINTR)
		return 1;
	/* the server's own answers first: they may quote a dial error of a
	 * webhook or an aggregated API behind it */
	if (!err || memmem(err, len, "Error from server", 17))
		return 0;
	for (size_t i = 0; i < sizeof no_answer / sizeof no_answer[0]; i++)
		if (memmem(err, len, no_answer[i], strlen(no_answer[i])))
			return 1;
	return 0;
}

int kube_is_notfound(const struct phd_exec_result *res)
{
	return res->err && memmem(res->err, res->err_len, "(NotFound)", 10) != NULL;
}

int kube_secret_keys(phd_ctx *ctx, const struct kube_conf *cf, const char *ns,
		     const char *name, char **keys)
{
	struct kube_argv a;
	struct phd_exec_result res;
	int rc;

	*keys = NULL;
	kube_argv_init(&a, ctx);
	kube_argv_add(&a, "get");
	kube_argv_add(&a, "secret");
	kube_argv_add(&a, name);
	kube_argv_add(&a, "-n");
	kube_argv_add(&a, ns);
	/* Only the key names leave kubectl: values never reach this process. */
	kube_argv_add(&a, "-o");
	kube_argv_add(&a, KUBE_KEYS_TEMPLATE);
	rc = kube_run(ctx, cf, &a, NULL, 0, PHD_EXEC_RAW_STDOUT, &res);
	if (rc == 0 && res.exit_code != 0) {
		if (kube_is_notfound(&res))
			rc = 0;
		else
			rc = kube_fail(ctx, PHD_EFAILED, &a, &res, "cannot read Secret key names");
	} else if (rc == 0) {
		*keys = strndup(res.out ? res.out : "", res.out ? res.out_len : 0);
		if (!*keys)
			rc = phd_set_error(ctx, PHD_ENOMEM, "kube: out of memory");
	}
	phd_exec_result_clear(&res);
	kube_argv_free(&a);
	return rc;
}

int kube_keys_has(const char *keys, const char *key)
{
	size_t kl = strlen(key);

	for (const char *p = keys; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		if (l == kl && memcmp(p, key, kl) == 0)
			return 1;
		p = nl ? nl + 1 : p + l;
	}
	return 0;
}

void kube_emit_command(phd_ctx *ctx, int phase, const char *line)
{
	struct phd_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = PHD_EV_COMMAND;
	ev.phase = phase;
	ev.message = line;
	phd_emit(ctx, &ev);
}

void kube_pos(const phd_node *n, char *buf, size_t cap)
{
	const char *f = n ? phd_node_file(n) : NULL;

	if (f)
		snprintf(buf, cap, "%s:%u:%u", f, phd_node_line(n), phd_node_column(n));
	else
		snprintf(buf, cap, "values");
}
