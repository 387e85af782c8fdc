/* The context: options, loaded trees, plugins, results. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phd-private.h"

static char *dup_opt(const char *s, int *oom)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = 1;
	return d;
}

/* Names given as options are refused by phd_ctx_new, a usage error before
 * any input is read (the same names in phdeploy.yaml fail validate); the
 * load checks again for an application that went on after that error. */
int phd_check_option_names(phd_ctx *ctx)
{
	const char *rel = ctx->opt.release, *ns = ctx->opt.namespace_;

	if (rel && !phd_valid_release(rel))
		return phd_set_error(ctx, PHD_EINVAL, "release '%s' is not a valid release name "
				     "(lowercase letters, digits, '-' and '.', at most 53 "
				     "characters)", rel);
	if (ns && !phd_is_dns1123_label(ns))
		return phd_set_error(ctx, PHD_EINVAL,
				     "namespace '%s' is not a valid namespace (DNS-1123 label)", ns);
	return 0;
}

PHD_EXTERN int phd_ctx_new(phd_ctx **out, const struct phd_options *opts)
{
	phd_ctx *ctx;
	int oom = 0;
	struct phd_node *empty;

	if (!out)
		return PHD_EINVAL;
	*out = NULL;
	ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return PHD_ENOMEM;
	ctx->failed_phase = -1;
	ctx->running_phase = -1;
	ctx->lock_fd = -1;
	ctx->arena = phd_arena_new();
	if (!ctx->arena) {
		free(ctx);
		return PHD_ENOMEM;
	}
	empty = phd_arena_alloc(ctx->arena, sizeof *empty);
	if (!empty) {
		phd_arena_free(ctx->arena);
		free(ctx);
		return PHD_ENOMEM;
	}
	memset(empty, 0, sizeof *empty);
	empty->type = PHD_NODE_MAP;
	empty->file = "(no values)";
	ctx->empty_map = empty;
	*out = ctx;
	if (!opts) {
		ctx->opt.version = PHD_OPTIONS_VERSION;
		return 0;
	}
	if (opts->version != PHD_OPTIONS_VERSION)
		return phd_set_error(ctx, PHD_EINVAL,
				     "struct phd_options version %u is not supported (expected %u)",
				     opts->version, PHD_OPTIONS_VERSION);
	ctx->opt = *opts;
	ctx->opt.config_path = dup_opt(opts->config_path, &oom);
	ctx->opt.release = dup_opt(opts->release, &oom);
	ctx->opt.namespace_ = dup_opt(opts->namespace_, &oom);
	ctx->opt.chart = dup_opt(opts->chart, &oom);
	ctx->opt.chart_version = dup_opt(opts->chart_version, &oom);
	ctx->opt.helm_path = dup_opt(opts->helm_path, &oom);
	ctx->opt.kubectl_path = dup_opt(opts->kubectl_path, &oom);
	ctx->opt.kube_context = dup_opt(opts->kube_context, &oom);
	ctx->opt.state_dir = dup_opt(opts->state_dir, &oom);
	ctx->opt.plugin_path = dup_opt(opts->plugin_path, &oom);
	ctx->opt.values = NULL;
	ctx->opt.nvalues = 0;
	if (opts->nvalues) {
		char **v = calloc(opts->nvalues, sizeof *v);
		if (!v)
			oom = 1;
		for (size_t i = 0; v && i < opts->nvalues; i++)
			v[i] = dup_opt(opts->values[i], &oom);
		ctx->opt.values = (const char *const *)v;
		ctx->opt.nvalues = v ? opts->nvalues : 0;
	}
	if (oom)
		return phd_set_error(ctx, PHD_ENOMEM, "out of memory");
	return phd_check_option_names(ctx);
}

static void free_values_ds(void *p)
{
	phd_docset_free(p);
	free(p);
}

void phd_findings_clear(phd_ctx *ctx)
{
	phd_vec_free(&ctx->findings, NULL);   /* the findings are in farena */
	phd_arena_free(ctx->farena);
	ctx->farena = NULL;
	phd_strset_free(&ctx->ftexts);
	ctx->last_object = NULL;
}

static void free_check(void *p)
{
	struct phd_check_rec *c = p;
	free((char *)c->pub.name);
	free((char *)c->pub.message);
	free(c);
}

void phd_checks_clear(phd_ctx *ctx)
{
	phd_vec_free(&ctx->checks, free_check);
}

PHD_EXTERN void phd_ctx_free(phd_ctx *ctx)
{
	if (!ctx)
		return;
	phd_lock_release(ctx);
	phd_plugins_unload(ctx);
	phd_secrets_free(ctx);
	phd_redactor_free(&ctx->redact);
	phd_redactor_free(&ctx->env_scrub);
	phd_findings_clear(ctx);
	phd_checks_clear(ctx);
	for (int i = 0; i < PHD_PHASE_COUNT; i++) {
		phd_docset_free(&ctx->docs[i]);
		free(ctx->phase_msg[i]);
	}
	free(ctx->rendered);
	phd_chart_free(ctx);
	phd_docset_free(&ctx->config_ds);
	phd_vec_free(&ctx->values_ds, free_values_ds);
	phd_arena_free(ctx->arena);
	if (ctx->tmpdir) {
		if (!ctx->tmpdir_kept)
			phd_rm_rf(ctx->tmpdir);
		free(ctx->tmpdir);
	}
	for (size_t i = 0; i < ctx->nvalues; i++)
		free(ctx->values_files[i]);
	free(ctx->values_files);
	free(ctx->values_kinds);
	free(ctx->opt_kinds);
	free(ctx->config_path);
	free(ctx->config_dir);
	free(ctx->release);
	free(ctx->namespace_);
	free(ctx->chart);
	free(ctx->chart_version);
	free(ctx->helm);
	free(ctx->kubectl);
	free(ctx->kube_context);
	free(ctx->state_dir);
	free((char *)ctx->opt.config_path);
	free((char *)ctx->opt.release);
	free((char *)ctx->opt.namespace_);
	free((char *)ctx->opt.chart);
	free((char *)ctx->opt.chart_version);
	free((char *)ctx->opt.helm_path);
	free((char *)ctx->opt.kubectl_path);
	free((char *)ctx->opt.kube_context);
	free((char *)ctx->opt.state_dir);
	free((char *)ctx->opt.plugin_path);
	for (size_t i = 0; i < ctx->opt.nvalues; i++)
		free((char *)ctx->opt.values[i]);
	free((void *)ctx->opt.values);
	free(ctx->errmsg);
	free(ctx);
}

PHD_EXTERN int phd_ctx_load(phd_ctx *ctx)
{
	int rc;
	if (!ctx)
		return PHD_EINVAL;
	if (ctx->loaded)
		return ctx->load_rc;
	ctx->loaded = 1;
	rc = phd_config_load(ctx);
	if (rc == 0)
		rc = phd_secrets_env_prescan(ctx);
	if (rc == 0)
		rc = phd_plugins_load(ctx);
	if (rc == 0)
		rc = phd_config_check_declared(ctx);
	ctx->load_rc = rc;
	return rc;
}

PHD_EXTERN const phd_node *phd_ctx_config(const phd_ctx *ctx)
{
	return ctx ? ctx->config : NULL;
}

PHD_EXTERN const phd_node *phd_ctx_values(const phd_ctx *ctx)
{
	return ctx ? (ctx->values ? ctx->values : ctx->empty_map) : NULL;
}

PHD_EXTERN const char *phd_ctx_release(const phd_ctx *ctx)
{
	return ctx ? (ctx->release ? ctx->release : ctx->opt.release) : NULL;
}

PHD_EXTERN const char *phd_ctx_namespace(const phd_ctx *ctx)
{
	return ctx ? (ctx->namespace_ ? ctx->namespace_ : ctx->opt.namespace_) : NULL;
}

PHD_EXTERN const char *phd_ctx_chart(const phd_ctx *ctx)
{
	return ctx ? ctx->chart : NULL;
}

PHD_EXTERN const char *phd_ctx_chart_version(const phd_ctx *ctx)
{
	return ctx ? ctx->chart_version : NULL;
}

PHD_EXTERN const char *phd_ctx_helm(const phd_ctx *ctx)
{
	return ctx ? ctx->helm : NULL;
}

PHD_EXTERN const char *phd_ctx_kubectl(const phd_ctx *ctx)
{
	return ctx ? ctx->kubectl : NULL;
}

PHD_EXTERN const char *phd_ctx_kube_context(const phd_ctx *ctx)
{
	return ctx ? ctx->kube_context : NULL;
}

PHD_EXTERN int phd_ctx_kube_version(const phd_ctx *ctx, int *major, int *minor)
{
	if (!ctx || !ctx->kube_major)
		return PHD_ENOTFOUND;
	if (major)
		*major = ctx->kube_major;
	if (minor)
		*minor = ctx->kube_minor;
	return 0;
}

PHD_EXTERN size_t phd_ctx_values_count(const phd_ctx *ctx)
{
	return ctx ? ctx->nvalues : 0;
}

PHD_EXTERN const char *phd_ctx_values_file(const phd_ctx *ctx, size_t i)
{
	return ctx && i < ctx->nvalues ? ctx->values_files[i] : NULL;
}

PHD_EXTERN int phd_ctx_values_kind(const phd_ctx *ctx, size_t i)
{
	return ctx && i < ctx->nvalues && ctx->values_kinds ? ctx->values_kinds[i]
	       : PHD_VALUES_FILE;
}

PHD_EXTERN int phd_ctx_add_values(phd_ctx *ctx, int kind, const char *arg)
{
	size_t n;
	char **v;
	int *k;

	if (!ctx || !arg || kind < PHD_VALUES_FILE || kind > PHD_VALUES_SET_FILE)
		return ctx ? phd_set_error(ctx, PHD_EINVAL, "phd_ctx_add_values: bad kind or "
					   "argument") : PHD_EINVAL;
	if (ctx->values_files)
		return phd_set_error(ctx, PHD_EINVAL, "phd_ctx_add_values: the values are "
				     "loaded already");
	n = ctx->opt.nvalues;
	if (!(v = realloc((char **)ctx->opt.values, (n + 1) * sizeof *v)))
		return phd_set_error(ctx, PHD_ENOMEM, "out of memory");
	ctx->opt.values = (const char *const *)v;
	if (!(k = realloc(ctx->opt_kinds, (n + 1) * sizeof *k)))
		return phd_set_error(ctx, PHD_ENOMEM, "out of memory");
	if (!ctx->opt_kinds)
		for (size_t i = 0; i < n; i++)
			k[i] = PHD_VALUES_FILE;
	ctx->opt_kinds = k;
	if (!(v[n] = strdup(arg)))
		return phd_set_error(ctx, PHD_ENOMEM, "out of memory");
	k[n] = kind;
	ctx->opt.nvalues = n + 1;
	return 0;
}

PHD_EXTERN int phd_ctx_dry_run(const phd_ctx *ctx)
{
	return ctx && (ctx->opt.flags & (PHD_OPT_DRY_RUN | PHD_OPT_PLAN)) != 0;
}

PHD_EXTERN unsigned phd_ctx_run_phases(const phd_ctx *ctx)
{
	return ctx ? ctx->run_mask : 0;
}

PHD_EXTERN void phd_ctx_set_timed_out(phd_ctx *ctx)
{
	if (ctx)
		ctx->timed_out = 1;
}

PHD_EXTERN void phd_ctx_interrupt(phd_ctx *ctx)
{
	if (ctx)
		ctx->interrupted = 1;
}

PHD_EXTERN int phd_ctx_interrupted(const phd_ctx *ctx)
{
	return ctx ? ctx->interrupted != 0 : 0;
}

PHD_EXTERN const char *phd_ctx_tmpdir(phd_ctx *ctx)
{
	char tmpl[4096];
	const char *base;
	if (!ctx)
		return NULL;
	if (ctx->tmpdir)
		return ctx->tmpdir;
	/* a plan prints commands to run by hand later: the files they name
	 * (the chart archive, values read from stdin, helm 4's post-renderer
	 * plugin) stay in the state directory until the next plan */
	if ((ctx->opt.flags & PHD_OPT_PLAN) && ctx->release && ctx->namespace_ &&
	    phd_ctx_state_dir(ctx)) {
		char *dir = phd_asprintf("%s/plan/%s.%s", phd_ctx_state_dir(ctx), ctx->namespace_,
					 ctx->release);
		if (dir && (phd_rm_rf(dir), phd_mkdir_p(dir, 0700)) == 0) {
			ctx->tmpdir = dir;
			ctx->tmpdir_kept = 1;
			return ctx->tmpdir;
		}
		free(dir);
	}
	base = getenv("TMPDIR");
	snprintf(tmpl, sizeof tmpl, "%s/phdeploy-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpl))
		return NULL;
	ctx->tmpdir = strdup(tmpl);
	return ctx->tmpdir;
}

const char *phd_ctx_state_dir(phd_ctx *ctx)
{
	const char *e;
	if (ctx->state_dir)
		return ctx->state_dir;
	if (ctx->opt.state_dir)
		ctx->state_dir = strdup(ctx->opt.state_dir);
	else if (phd_node_str(phd_node_child(ctx->config, "state_dir")))
		ctx->state_dir = phd_path_join(ctx->config_dir,
					       phd_node_str(phd_node_child(ctx->config, "state_dir")));
	else if ((e = getenv("PHDEPLOY_STATE_DIR")) && *e)
		ctx->state_dir = strdup(e);
	else if ((e = getenv("XDG_STATE_HOME")) && *e)
		ctx->state_dir = phd_asprintf("%s/phdeploy", e);
	else if ((e = getenv("HOME")) && *e)
		ctx->state_dir = phd_asprintf("%s/.local/state/phdeploy", e);
	else
		ctx->state_dir = strdup("/tmp/phdeploy-state");
	return ctx->state_dir;
}

PHD_EXTERN int phd_ctx_phase_status(const phd_ctx *ctx, int phase)
{
	if (!ctx || phase < 0 || phase >= PHD_PHASE_COUNT)
		return PHD_STATUS_NOTRUN;
	return ctx->status[phase];
}

PHD_EXTERN long long phd_ctx_phase_ms(const phd_ctx *ctx, int phase)
{
	if (!ctx || phase < 0 || phase >= PHD_PHASE_COUNT)
		return 0;
	return ctx->ms[phase];
}

PHD_EXTERN const char *phd_ctx_phase_message(const phd_ctx *ctx, int phase)
{
	if (!ctx || phase < 0 || phase >= PHD_PHASE_COUNT)
		return NULL;
	return ctx->phase_msg[phase];
}

PHD_EXTERN int phd_ctx_failed_phase(const phd_ctx *ctx)
{
	return ctx ? ctx->failed_phase : -1;
}

PHD_EXTERN int phd_ctx_timed_out(const phd_ctx *ctx)
{
	return ctx ? ctx->timed_out : 0;
}

PHD_EXTERN size_t phd_ctx_finding_count(const phd_ctx *ctx)
{
	return ctx ? ctx->findings.n : 0;
}

PHD_EXTERN const struct phd_finding *phd_ctx_finding(const phd_ctx *ctx, size_t i)
{
	struct phd_finding_rec *f;
	if (!ctx || i >= ctx->findings.n)
		return NULL;
	f = ctx->findings.v[i];
	if (!f->pub.message && f->tail) {
		/* put together once, in the findings' arena: valid as long as
		 * the finding (out of memory: the part after the object) */
		size_t no = strlen(f->pub.object), nt = strlen(f->tail);
		char *m = phd_arena_take(ctx->farena, no + 2 + nt + 1, 1);
		if (m) {
			memcpy(m, f->pub.object, no);
			memcpy(m + no, ": ", 2);
			memcpy(m + no + 2, f->tail, nt + 1);
		}
		f->pub.message = m ? m : f->tail;
	}
	return &f->pub;
}

PHD_EXTERN size_t phd_ctx_check_count(const phd_ctx *ctx)
{
	return ctx ? ctx->checks.n : 0;
}

PHD_EXTERN const struct phd_check_result *phd_ctx_check(const phd_ctx *ctx, size_t i)
{
	if (!ctx || i >= ctx->checks.n)
		return NULL;
	return &((struct phd_check_rec *)ctx->checks.v[i])->pub;
}

PHD_EXTERN size_t phd_ctx_plugin_count(const phd_ctx *ctx)
{
	return ctx ? ctx->plugins.n : 0;
}

PHD_EXTERN const struct phd_plugin_info *phd_ctx_plugin(const phd_ctx *ctx, size_t i)
{
	struct phd_plugin *p;
	if (!ctx || i >= ctx->plugins.n)
		return NULL;
	p = ctx->plugins.v[i];
	p->info.provides = p->provides.s ? p->provides.s : "";
	return &p->info;
}
