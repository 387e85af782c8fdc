#include "ha-util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap/tap.h"

static char *dup0(const char *s)
{
	return s ? strdup(s) : NULL;
}

void hfs_add(struct hfs *l, const char *rule, int sev, const char *object, const char *key,
	     const char *file, unsigned line, const char *msg)
{
	struct hf *f;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct hf *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			abort();
		l->v = v;
		l->cap = cap;
	}
	f = &l->v[l->n++];
	f->rule = dup0(rule);
	f->object = dup0(object);
	f->key = dup0(key);
	f->file = dup0(file);
	f->msg = dup0(msg);
	f->sev = sev;
	f->line = line;
}

void hfs_clear(struct hfs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].rule);
		free(l->v[i].object);
		free(l->v[i].key);
		free(l->v[i].file);
		free(l->v[i].msg);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

void hfs_from_ctx(struct hfs *l, const phd_ctx *ctx)
{
	size_t i, n = phd_ctx_finding_count(ctx);

	for (i = 0; i < n; i++) {
		const struct phd_finding *f = phd_ctx_finding(ctx, i);
		hfs_add(l, f->rule, f->severity, f->object, f->values_key, f->file, f->line,
			f->message);
	}
}

static int matches(const struct hf *f, const char *rule, const char *object, int sev)
{
	if (rule && (!f->rule || strcmp(f->rule, rule) != 0))
		return 0;
	if (object && (!f->object || strcmp(f->object, object) != 0))
		return 0;
	return sev < 0 || f->sev == sev;
}

size_t hfs_count(const struct hfs *l, const char *rule, const char *object, int sev)
{
	size_t i, n = 0;

	for (i = 0; i < l->n; i++)
		n += matches(&l->v[i], rule, object, sev);
	return n;
}

const struct hf *hfs_find(const struct hfs *l, const char *rule, const char *object)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (matches(&l->v[i], rule, object, -1))
			return &l->v[i];
	return NULL;
}

size_t hfs_at_sev(const struct hfs *l, int sev)
{
	return hfs_count(l, NULL, NULL, sev);
}

void hfs_dump(const struct hfs *l, const char *title)
{
	static const char *const sev[] = { "off", "info", "warn", "error" };
	size_t i;

	tap_diag("%s: %zu finding(s)", title, l->n);
	for (i = 0; i < l->n; i++) {
		const struct hf *f = &l->v[i];
		tap_diag("  %s %s %s [%s] %s:%u %s", sev[f->sev & 3], f->rule, f->object ? f->object : "-",
			 f->key ? f->key : "-", f->file ? f->file : "-", f->line, f->msg);
	}
}

const char *ha_chart(void)
{
	static char path[1024];
	const char *dir = getenv("PHD_FIXTURES");

	if (!dir)
		return NULL;
	snprintf(path, sizeof path, "%s/posthog-30.46.0.tgz", dir);
	return access(path, R_OK) == 0 ? path : NULL;
}

const char *ha_tool(const char *name)
{
	static char path[2][1024];
	static int k;
	const char *dir = getenv("PHD_TOOLS");
	char *p = path[k++ & 1];

	if (!dir)
		return NULL;
	snprintf(p, sizeof path[0], "%s/%s", dir, name);
	return access(p, X_OK) == 0 ? p : NULL;
}

const char *ha_src(const char *rel)
{
	static char path[1024];
	const char *top = getenv("top_srcdir");

	snprintf(path, sizeof path, "%s/%s", top ? top : ".", rel);
	return path;
}

char *ha_render(const char *helm, const char *values_path, size_t *len)
{
	char out[1024];
	const char *argv[] = { helm, "template", "posthog", ha_chart(), "-n", "posthog", "-f",
			       values_path, NULL };
	pid_t pid;
	int fd, st;

	snprintf(out, sizeof out, "%s/render-XXXXXX", tap_tmpdir());
	if ((fd = mkstemp(out)) < 0)
		return NULL;
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		if (devnull >= 0)
			dup2(devnull, 2);
		execv(helm, (char *const *)argv);
		_exit(127);
	}
	close(fd);
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return NULL;
	return tap_slurp(out, len);
}
