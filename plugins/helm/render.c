/* render phase: helm template with the deploy's values, version and
 * namespace, through the PDB post-render step when it applies.
 *
 * The post-render step is the small program phdeploy-postrender
 * (pkglibexecdir; found next to the plugin in the build tree).  Helm 3
 * takes it as `--post-renderer /path`; Helm 4 only takes the name of a
 * postrenderer/v1 plugin, so a one-file plugin pointing at the same
 * program is written into a private HELM_PLUGINS inside the run's tmpdir. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helm-private.h"

#define RENDER_TIMEOUT_MS (5LL * 60 * 1000)
#define PR_NAME "phdeploy-postrender"

static const char anchor = 0;   /* an address inside this shared object */

static char *exec_at(const char *dir, const char *rel)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", dir, rel) < 0)
		return NULL;
	if (access(p, X_OK) == 0) {
		char *real = realpath(p, NULL);
		if (real) {
			free(p);
			return real;
		}
		return p;
	}
	free(p);
	return NULL;
}

char *helm_postrender_path(void)
{
	const char *env = getenv("PHDEPLOY_POSTRENDER");
	Dl_info info;
	char *found = NULL;

	if (env && *env)
		return access(env, X_OK) == 0 ? strdup(env) : NULL;
	/* build tree: plugins/helm/.libs/helm.so next to plugins/helm/phdeploy-postrender */
	if (dladdr(&anchor, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
		char *dir = strdup(info.dli_fname);
		if (dir) {
			*strrchr(dir, '/') = '\0';
			if (!(found = exec_at(dir, "../" PR_NAME)))
				found = exec_at(dir, PR_NAME);
			free(dir);
		}
	}
#ifdef PHD_POSTRENDER_PATH
	if (!found && access(PHD_POSTRENDER_PATH, X_OK) == 0)
		found = strdup(PHD_POSTRENDER_PATH);
#endif
	return found;
}

static int mkdir_p(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	return -1;
}

/* YAML double-quoted scalar for a path. */
static int write_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	return fputc('"', f) == EOF ? -1 : 0;
}

static int write_helm4_plugin(phd_ctx *ctx, const char *root, const char *exe)
{
	char *dir = NULL, *file = NULL;
	FILE *f = NULL;
	int rc = PHD_EIO, fd;

	if (asprintf(&dir, "%s/" PR_NAME, root) < 0 || asprintf(&file, "%s/plugin.yaml", dir) < 0)
		goto out;
	if (mkdir_p(root) || mkdir_p(dir))
		goto out;
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	fputs("# written by phdeploy's helm plugin for this run only\n"
	      "apiVersion: v1\n"
	      "type: postrenderer/v1\n"
	      "name: " PR_NAME "\n"
	      "version: 1.0.0\n"
	      "runtime: subprocess\n"
	      "runtimeConfig:\n"
	      "  platformCommand:\n"
	      "    - command: ", f);
	write_quoted(f, exe);
	fputc('\n', f);
	rc = fclose(f) == 0 ? 0 : PHD_EIO;
out:
	if (rc)
		phd_set_error(ctx, rc, "%s: cannot write the Helm 4 post-renderer plugin in %s: %s",
			      HELM_PLUGIN, root, strerror(errno));
	free(dir);
	free(file);
	return rc;
}

int helm_post_renderer(struct helm *h, phd_ctx *ctx, char **out, char **env_out)
{
	char *exe;
	int rc;

	*out = NULL;
	if (env_out)
		*env_out = NULL;
	if (!helm_post_render_wanted(h, ctx))
		return 0;
	if (!(exe = helm_postrender_path()))
		return phd_set_error(ctx, PHD_ENOTFOUND, "%s: the PDB post-render step is needed "
				     "(zookeeper.replicaCount > 1) but %s was not found; set "
				     "PHDEPLOY_POSTRENDER or helm.post_render: false", HELM_PLUGIN,
				     PR_NAME);
	if (h->major < 4) {
		*out = exe;
		return 0;
	}
	if (!h->pr_plugins) {
		const char *tmp = phd_ctx_tmpdir(ctx);
		char *root = NULL;
		if (!tmp || asprintf(&root, "%s/helm-plugins", tmp) < 0) {
			free(exe);
			return phd_set_error(ctx, PHD_EIO, "%s: no run directory for the "
					     "post-renderer plugin", HELM_PLUGIN);
		}
		if ((rc = write_helm4_plugin(ctx, root, exe))) {
			free(root);
			free(exe);
			return rc;
		}
		h->pr_plugins = root;
	}
	free(exe);
	if (!(*out = strdup(PR_NAME)))
		return PHD_ENOMEM;
	if (env_out && asprintf(env_out, "HELM_PLUGINS=%s", h->pr_plugins) < 0) {
		free(*out);
		*out = NULL;
		return PHD_ENOMEM;
	}
	return 0;
}

/* The values key a template error is about (helm: "at <.Values.a.b>"), and
 * where the user set it or its nearest ancestor: the key to change. */
static char *values_hint(phd_ctx *ctx, const struct helm_watch *w)
{
	const phd_node *values = phd_ctx_values(ctx), *n = NULL;
	char key[256], *hint = NULL, *dot;
	const char *at = NULL;
	size_t i, len = 0;
	int rc;

	for (i = 0; !at && i < w->nquoted; i++)
		if ((at = strstr(w->quoted[i], "<.Values.")) || (at = strstr(w->quoted[i], "<$.Values.")))
			at = strstr(at, "Values.") + 7;
	if (!at)
		return NULL;
	while (len + 1 < sizeof key && at[len] && at[len] != '>' && at[len] != ' ')
		len++;
	memcpy(key, at, len);
	key[len] = '\0';
	for (;;) {
		if ((n = phd_node_get(values, key)) || !(dot = strrchr(key, '.')))
			break;
		*dot = '\0';
	}
	if (n && strlen(key) == len)
		rc = asprintf(&hint, "the key to change: %s, set at %s:%u:%u", key,
			      phd_node_file(n) ? phd_node_file(n) : "values", phd_node_line(n),
			      phd_node_column(n));
	else if (n)
		rc = asprintf(&hint, "the key to change: %.*s (its parent %s is set at %s:%u:%u)",
			      (int)len, at, key, phd_node_file(n) ? phd_node_file(n) : "values",
			      phd_node_line(n), phd_node_column(n));
	else
		rc = asprintf(&hint, "the key to change: %.*s (the chart's default)", (int)len, at);
	if (rc < 0)
		hint = NULL;
	return hint;
}

int helm_render_phase(phd_ctx *ctx, int phase, int mode, void *userdata)
{
	struct helm *h = userdata;
	struct phd_exec_result res = { 0 };
	struct helm_watch w = { .log_stderr = 1 };
	struct strv sv = { 0 };
	char *pr = NULL, *env = NULL, *origin = NULL, *hint = NULL;
	const char *v;
	int rc;

	(void)mode;  /* the same in every mode; dry runs show, below */

	if (!phd_ctx_chart(ctx) || !phd_ctx_release(ctx) || !phd_ctx_namespace(ctx))
		return phd_set_error(ctx, PHD_EINVAL, "%s: render needs a chart, a release and a "
				     "namespace (chart.name / --chart)", HELM_PLUGIN);
	if ((rc = helm_major(h, ctx)) || (rc = helm_post_renderer(h, ctx, &pr, &env)))
		return rc;
	helm_argv_template(&sv, h, ctx, pr);
	/* stdout is the manifests: captured for the core, never shown as output */
	rc = helm_run(ctx, phase, &sv, env, PHD_EXEC_CAPTURE_STDOUT, RENDER_TIMEOUT_MS, &w, &res);
	if (rc == 0 && res.exit_code != 0 && w.cls == HELM_FAIL_OTHER)
		w.cls = HELM_FAIL_RENDER;   /* helm template fails only on the chart */
	if (rc == 0 && res.exit_code != 0)
		hint = values_hint(ctx, &w);
	if ((rc = helm_fail(ctx, "helm template", rc, &res, &w, hint)))
		goto out;
	v = helm_chart_version(h, ctx);
	if (asprintf(&origin, "helm template %s%s%s", phd_ctx_chart(ctx), v ? "@" : "",
		     v ? v : "") < 0)
		origin = NULL;
	phd_log(ctx, PHD_LOG_INFO, "%s: rendered %s with Helm %d in %lld ms%s", HELM_PLUGIN,
		phd_ctx_chart(ctx), h->major, res.ms,
		pr ? " (post-render: PodDisruptionBudget policy/v1beta1 -> policy/v1)" : "");
	/* the captured stream is handed over, not copied: a large release
	 * is then held once, as the text render prints */
	if (res.out) {
		rc = phd_take_documents(ctx, PHD_PHASE_RENDER, res.out, res.out_len,
					origin ? origin : "helm template");
		res.out = NULL;
		res.out_len = 0;
	} else {
		rc = phd_set_documents(ctx, PHD_PHASE_RENDER, "", 0,
				       origin ? origin : "helm template");
	}
out:
	phd_exec_result_clear(&res);
	helm_watch_free(&w);
	strv_free(&sv);
	free(origin);
	free(hint);
	free(pr);
	free(env);
	return rc;
}
