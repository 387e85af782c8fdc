/* The images plugin: every image the release will pull exists in its
 * registry, resolved to a digest, before the deploy.  See phdeploy-images(7).
 *
 *  - validate (offline): the chart's images the values enable, against
 *    the images known to be gone (withdrawn bitnami/ tags, gcr.io/heptio);
 *  - render: every image of the rendered manifests, asked of its registry
 *    (OCI distribution API, libcurl) under one deadline.  The check sits in
 *    render because only the rendered release knows every image: preflight
 *    runs before the chart is fetched and rendered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "images.h"

#define IMG_TIMEOUT_MS 30000LL
#define IMG_MAX_CONCURRENT 4

/* ---- configuration ---------------------------------------------------------- */

static int cfg_err(phd_ctx *ctx, const phd_node *n, const char *what)
{
	return phd_set_error(ctx, PHD_EINVAL, "%s:%u:%u: %s: %s",
			     phd_node_file(n) ? phd_node_file(n) : "config", phd_node_line(n),
			     phd_node_column(n), IMG_PLUGIN, what);
}

static void strs_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void cfg_free(void *p)
{
	struct img_cfg *c = p;

	if (!c)
		return;
	strs_free(c->platforms);
	strs_free(c->certs_dirs);
	free(c->reg);
	free(c);
}

static int str_list(phd_ctx *ctx, const phd_node *n, const char *const *def, char ***out,
		    const char *what)
{
	size_t len = n ? phd_node_len(n) : 0, i;
	char **v;

	if (n && phd_node_type(n) != PHD_NODE_SEQ)
		return cfg_err(ctx, n, what);
	if (!n)
		for (len = 0; def[len]; len++)
			;
	if (!(v = calloc(len + 1, sizeof(*v))))
		return PHD_ENOMEM;
	*out = v;
	for (i = 0; i < len; i++) {
		const char *s = n ? phd_node_str(phd_node_at(n, i)) : def[i];
		if (!s || !*s)
			return cfg_err(ctx, n ? phd_node_at(n, i) : n, what);
		if (!(v[i] = strdup(s)))
			return PHD_ENOMEM;
	}
	return 0;
}

static int read_registries(phd_ctx *ctx, struct img_cfg *c, const phd_node *regs)
{
	if (!regs)
		return 0;
	if (phd_node_type(regs) != PHD_NODE_MAP)
		return cfg_err(ctx, regs, "registries: expected a mapping of HOST[:PORT] to "
			       "{ ca, insecure, max_concurrent, ecr_region }");
	if (!(c->reg = calloc(phd_node_len(regs) + 1, sizeof(*c->reg))))
		return PHD_ENOMEM;
	for (size_t i = 0; i < phd_node_len(regs); i++) {
		const phd_node *e = phd_node_at(regs, i);
		struct img_registry_cfg *r = &c->reg[c->nreg++];
		r->host = phd_node_key_at(regs, i);
		if (phd_node_type(e) == PHD_NODE_NULL)
			continue;
		if (phd_node_type(e) != PHD_NODE_MAP)
			return cfg_err(ctx, e, "registries.HOST: expected { ca, insecure, "
				       "max_concurrent, ecr_region }");
		for (size_t k = 0; k < phd_node_len(e); k++) {
			const char *key = phd_node_key_at(e, k);
			const phd_node *v = phd_node_at(e, k);
			if (!strcmp(key, "ca")) {
				if (!(r->ca = phd_node_str(v)) || !*r->ca)
					return cfg_err(ctx, v, "registries.HOST.ca: expected a file");
			} else if (!strcmp(key, "insecure")) {
				if (phd_node_bool(v, &r->insecure))
					return cfg_err(ctx, v, "registries.HOST.insecure: expected true "
						       "or false");
			} else if (!strcmp(key, "ecr_region")) {
				if (!(r->ecr_region = phd_node_str(v)) || !*r->ecr_region)
					return cfg_err(ctx, v, "registries.HOST.ecr_region: expected "
						       "a region such as eu-west-1");
			} else if (!strcmp(key, "max_concurrent")) {
				if (phd_node_int(v, &r->max_concurrent) || r->max_concurrent < 1 ||
				    r->max_concurrent > 32)
					return cfg_err(ctx, v, "registries.HOST.max_concurrent: "
						       "expected 1 to 32");
			} else {
				return cfg_err(ctx, v, "registries.HOST: unknown key (ca, insecure, "
					       "max_concurrent, ecr_region)");
			}
		}
	}
	return 0;
}

/* Off switch for machines that must not talk to registries (a CI without
 * network access): the environment overrides images.resolve. */
static void resolve_from_env(struct img_cfg *c)
{
	const char *e = getenv("PHDEPLOY_IMAGES_RESOLVE");

	if (!e || !*e)
		return;
	c->resolve = !(!strcmp(e, "0") || !strcasecmp(e, "false") || !strcasecmp(e, "no") ||
		       !strcasecmp(e, "off"));
}

static int read_config(phd_ctx *ctx, struct img_cfg *c, const phd_node *cfg)
{
	static const char *const def_platforms[] = { "linux/amd64", NULL };
	static const char *const def_certs[] = { "/etc/docker/certs.d", "/etc/containers/certs.d",
						 NULL };
	const phd_node *n;
	int rc;

	c->resolve = 1;
	c->timeout_ms = IMG_TIMEOUT_MS;
	c->max_concurrent = IMG_MAX_CONCURRENT;
	if (cfg && phd_node_type(cfg) != PHD_NODE_NULL && phd_node_type(cfg) != PHD_NODE_MAP)
		return cfg_err(ctx, cfg, "the images section must be a mapping");
	if (phd_node_type(cfg) != PHD_NODE_MAP)
		cfg = NULL;
	if ((n = phd_node_get(cfg, "resolve")) && phd_node_bool(n, &c->resolve))
		return cfg_err(ctx, n, "resolve: expected true or false");
	if ((n = phd_node_get(cfg, "node_platforms")) && phd_node_bool(n, &c->node_platforms))
		return cfg_err(ctx, n, "node_platforms: expected true or false");
	if ((n = phd_node_get(cfg, "timeout")) &&
	    (phd_node_duration_ms(n, &c->timeout_ms) || c->timeout_ms <= 0))
		return cfg_err(ctx, n, "timeout: expected a duration such as 30s");
	if ((n = phd_node_get(cfg, "max_concurrent")) &&
	    (phd_node_int(n, &c->max_concurrent) || c->max_concurrent < 1 ||
	     c->max_concurrent > 32))
		return cfg_err(ctx, n, "max_concurrent: expected 1 to 32");
	if ((rc = str_list(ctx, phd_node_get(cfg, "platforms"), def_platforms, &c->platforms,
			   "platforms: expected a list such as [linux/amd64, linux/arm64]")) ||
	    (rc = str_list(ctx, phd_node_get(cfg, "certs_dirs"), def_certs, &c->certs_dirs,
			   "certs_dirs: expected a list of directories")))
		return rc;
	for (size_t i = 0; c->platforms[i]; i++) {
		const char *p = c->platforms[i], *s = strchr(p, '/');
		if (!s || s == p || !s[1])
			return cfg_err(ctx, phd_node_at(phd_node_get(cfg, "platforms"), i),
				       "platforms: expected OS/ARCH[/VARIANT] such as linux/arm64");
	}
	if ((rc = read_registries(ctx, c, phd_node_get(cfg, "registries"))))
		return rc;
	resolve_from_env(c);
	return 0;
}

/* ---- validate: the chart's images, offline --------------------------------------- */

static const char *val_str(const phd_node *values, const char *prefix, const char *leaf,
			   const phd_node **node)
{
	char key[256];

	snprintf(key, sizeof(key), "%s.%s", prefix, leaf);
	*node = phd_node_get(values, key);
	return phd_node_str(*node);
}

static int chart_applies(phd_ctx *ctx)
{
	const char *chart = phd_ctx_chart(ctx);

	return !chart || strstr(chart, "posthog") != NULL;
}

static int on_values(phd_validation *v, void *ud)
{
	phd_ctx *ctx = phd_validation_ctx(v);
	const phd_node *values = phd_ctx_values(ctx);

	(void)ud;
	if (!chart_applies(ctx))
		return PHD_EIGNORE;
	for (size_t i = 0; img_chart_images[i].prefix; i++) {
		const struct img_chart_image *ci = &img_chart_images[i];
		const phd_node *rn, *gn, *tn;
		const char *repo = val_str(values, ci->prefix, "repository", &rn);
		const char *reg = val_str(values, ci->prefix, "registry", &gn);
		const char *tag = val_str(values, ci->prefix, "tag", &tn);
		char full[512], fix[256], key[256], tagkey[256];
		const char *why;
		struct oci_ref r;
		int on = ci->toggle_default;

		if (ci->toggle && phd_node_bool(phd_node_get(values, ci->toggle), &on))
			on = ci->toggle_default;
		if (!on)
			continue;
		snprintf(full, sizeof(full), "%s/%s:%s", reg && *reg ? reg : ci->registry,
			 repo && *repo ? repo : ci->repository, tag && *tag ? tag : ci->tag);
		if (oci_ref_parse(&r, full, fix, sizeof(fix)))
			continue;   /* the render phase names a bad reference */
		snprintf(key, sizeof(key), "%s.repository", ci->prefix);
		snprintf(tagkey, sizeof(tagkey), "%s.tag", ci->prefix);
		if ((why = img_gone(&r, fix, sizeof(fix))))
			phd_validation_report(v, "image-withdrawn", PHD_SEV_WARN, key,
					      rn ? rn : gn ? gn : tn, key,
					      "%s/%s:%s%s: %s; use %s (same tag) or a mirror that "
					      "still has it", r.registry, r.repo, r.tag,
					      rn || gn || tn ? "" : " (the chart's default)", why, fix);
		oci_ref_free(&r);
	}
	return 0;
}

/* ---- render: every image, through its registry --------------------------------- */

struct run {
	phd_validation *v;
	const struct img_cfg *cfg;
	char **platforms;          /* the nodes', or cfg's (borrowed then) */
	char **own_platforms;      /* the nodes' (owned) */
	struct img_uses uses;
	struct img_job *jobs;
	size_t njobs;
};

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->njobs; i++) {
		oci_ref_free(&r->jobs[i].ref);
		free(r->jobs[i].name);
		oci_free_secret(r->jobs[i].user);
		oci_free_secret(r->jobs[i].pass);
		oci_manifest_clear(&r->jobs[i].m);
	}
	free(r->jobs);
	img_uses_free(&r->uses);
	strs_free(r->own_platforms);
}

/* Basic credentials for an image from the imagePullSecrets of the object
 * that pulls it, read from the secret store (never logged: the password
 * is registered with the redactor at once). */
static void find_creds(struct run *r, struct img_job *j, size_t use)
{
	phd_ctx *ctx = phd_validation_ctx(r->v);
	const struct img_use *u = &r->uses.u[use];

	for (size_t k = 0; u->pull_secrets[k] && !j->user; k++) {
		const unsigned char *val;
		size_t len;
		if (phd_secret_get(ctx, u->pull_secrets[k], ".dockerconfigjson", &val, &len)) {
			phd_log(ctx, PHD_LOG_DEBUG, "%s: imagePullSecret %s of %s is not in "
				"phdeploy's secrets: %s is asked anonymously", IMG_PLUGIN,
				u->pull_secrets[k], u->object, u->image);
			continue;
		}
		if (!oci_auth_lookup((const char *)val, len, j->ref.registry, &j->user, &j->pass)) {
			phd_redact_add(ctx, j->pass, strlen(j->pass));
			snprintf(j->cred_origin, sizeof(j->cred_origin), "imagePullSecret %s",
				 u->pull_secrets[k]);
		}
	}
}

/* One job per image and credentials: the same image pulled with two
 * pull secrets is asked twice, each answer its own. */
static int add_job(struct run *r, size_t use, struct oci_ref *ref)
{
	struct img_job *j = &r->jobs[r->njobs];

	memset(j, 0, sizeof(*j));
	j->ref = *ref;
	memset(ref, 0, sizeof(*ref));
	j->first_use = use;
	j->nuses = 1;
	if (!(j->name = oci_ref_str(&j->ref))) {
		oci_ref_free(&j->ref);
		return PHD_ENOMEM;
	}
	find_creds(r, j, use);
	for (size_t i = 0; i < r->njobs; i++) {
		const struct img_job *o = &r->jobs[i];
		if (strcmp(o->name, j->name) || strcmp(o->cred_origin, j->cred_origin))
			continue;
		r->jobs[i].nuses++;
		oci_ref_free(&j->ref);
		free(j->name);
		oci_free_secret(j->user);
		oci_free_secret(j->pass);
		memset(j, 0, sizeof(*j));
		return 0;
	}
	r->njobs++;
	return 0;
}

/* ECR registries: one GetAuthorizationToken per registry, for the jobs
 * that no pull secret gave credentials to.  A failed login is each job's
 * answer (image-denied), not the run's error. */
static void ecr_creds(struct run *r)
{
	phd_ctx *ctx = phd_validation_ctx(r->v);

	for (size_t i = 0; i < r->njobs; i++) {
		struct img_job *j = &r->jobs[i];
		const char *reg = j->ref.registry, *rg = NULL;
		char region[64], *user = NULL, *pass = NULL;
		int rc, seen = 0, need = 0;

		for (size_t k = 0; k < r->cfg->nreg && !rg; k++)
			if (!strcmp(r->cfg->reg[k].host, reg))
				rg = r->cfg->reg[k].ecr_region;
		if (!rg && !img_ecr_region(reg, region, sizeof(region)))
			rg = region;
		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(r->jobs[k].ref.registry, reg);
		for (size_t k = i; k < r->njobs && !need; k++)
			need = !strcmp(r->jobs[k].ref.registry, reg) && !r->jobs[k].user;
		if (!rg || seen || !need)
			continue;
		rc = img_ecr_login(ctx, reg, rg, r->cfg->timeout_ms, &user, &pass);
		for (size_t k = i; k < r->njobs; k++) {
			struct img_job *o = &r->jobs[k];
			if (strcmp(o->ref.registry, reg) || o->user)
				continue;
			if (rc) {
				o->m.status = OCI_DENIED;
				snprintf(o->m.msg, sizeof(o->m.msg), "no ECR token: %s",
					 phd_ctx_errmsg(ctx));
				continue;
			}
			o->user = strdup(user);
			o->pass = strdup(pass);
			snprintf(o->cred_origin, sizeof(o->cred_origin), "an ECR token");
		}
		oci_free_secret(user);
		oci_free_secret(pass);
	}
}

/* Offline checks of one image: a reference that parses, not known gone
 * (unless validate named it already through its values key). */
static int check_offline(struct run *r, size_t use, struct oci_ref *ref)
{
	const struct img_use *u = &r->uses.u[use];
	char err[256], fix[256];
	const char *why;

	if (oci_ref_parse(ref, u->image, err, sizeof(err))) {
		phd_validation_report(r->v, "image-invalid", PHD_SEV_ERROR, u->object, u->where,
				      u->values_key, "image \"%s\" is not a valid reference: %s",
				      u->image, err);
		return -1;
	}
	if ((why = img_gone(ref, fix, sizeof(fix))) && !img_chart_prefix(u->values_key))
		phd_validation_report(r->v, "image-withdrawn", PHD_SEV_WARN, u->object, u->where,
				      u->values_key, "%s: %s; use %s", u->image, why, fix);
	return 0;
}

static void platform_check(struct run *r, const struct img_job *j, const struct img_use *u)
{
	char have[512] = "";
	size_t hl = 0;

	if (!j->m.is_index)
		return;
	for (size_t i = 0; i < j->m.nplat && hl < sizeof(have) - 40; i++)
		hl += (size_t)snprintf(have + hl, sizeof(have) - hl, "%s%s/%s%s%s", i ? ", " : "",
				       j->m.plat[i].os, j->m.plat[i].arch,
				       *j->m.plat[i].variant ? "/" : "", j->m.plat[i].variant);
	for (size_t p = 0; r->platforms[p]; p++) {
		char os[32] = "", arch[32] = "", var[16] = "";
		int found = 0;
		sscanf(r->platforms[p], "%31[^/]/%31[^/]/%15s", os, arch, var);
		for (size_t i = 0; i < j->m.nplat && !found; i++)
			found = !strcmp(j->m.plat[i].os, os) && !strcmp(j->m.plat[i].arch, arch) &&
				(!*var || !strcmp(j->m.plat[i].variant, var));
		if (!found)
			phd_validation_report(r->v, "image-platform", PHD_SEV_ERROR, u->object,
					      u->where, u->values_key, "%s (%s) has no %s image: "
					      "the index offers %s; the nodes could not run it",
					      j->name, j->m.digest, r->platforms[p],
					      *have ? have : "no platform");
	}
}

static void report_job(struct run *r, const struct img_job *j)
{
	const struct img_use *u = &r->uses.u[j->first_use];
	char also[64] = "", cred[160] = "";
	const char *rule = NULL;
	int sev = PHD_SEV_ERROR;

	if (j->nuses > 1)
		snprintf(also, sizeof(also), " (and %zu more objects)", j->nuses - 1);
	if (*j->cred_origin)
		snprintf(cred, sizeof(cred), " (asked with %s)", j->cred_origin);
	switch (j->m.status) {
	case OCI_OK:
		phd_validation_report(r->v, "image-resolved", PHD_SEV_INFO, u->object, u->where,
				      u->values_key, "%s/%s@%s is %s%s", j->ref.registry,
				      j->ref.repo, j->m.digest, j->name, also);
		if (!j->ref.digest)
			phd_validation_report(r->v, "image-digest", PHD_SEV_OFF, u->object, u->where,
					      u->values_key, "%s is not pinned by digest: pin it "
					      "as %s/%s@%s", u->image, j->ref.registry, j->ref.repo,
					      j->m.digest);
		platform_check(r, j, u);
		return;
	case OCI_NO_TAG:
	case OCI_NO_REPO:
		rule = "image-missing";
		break;
	case OCI_DENIED:
		rule = "image-denied";
		break;
	case OCI_UNREACHABLE:
	case OCI_TIMEOUT:
		rule = "image-unreachable";
		sev = PHD_SEV_WARN;
		break;
	case OCI_INTERRUPTED:
		return;
	default:
		rule = "image-registry";
		break;
	}
	phd_validation_report(r->v, rule, sev, u->object, u->where, u->values_key,
			      "%s%s%s: %s", u->image, also, cred, j->m.msg);
}

static int on_manifests(phd_validation *v, void *ud)
{
	phd_ctx *ctx = phd_validation_ctx(v);
	struct run r = { v, ud, NULL, NULL, { 0 }, NULL, 0 };
	size_t n = phd_validation_doc_count(v);
	const phd_node **docs = calloc(n ? n : 1, sizeof(*docs));
	int rc;

	if (!docs)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", IMG_PLUGIN);
	for (size_t i = 0; i < n; i++)
		docs[i] = phd_validation_doc(v, i);
	rc = img_collect(&r.uses, docs, n, phd_ctx_values(ctx));
	free(docs);
	if (rc || !(r.jobs = calloc(r.uses.n ? r.uses.n : 1, sizeof(*r.jobs)))) {
		run_free(&r);
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", IMG_PLUGIN);
	}
	for (size_t i = 0; i < r.uses.n; i++) {
		struct oci_ref ref;
		if (check_offline(&r, i, &ref))
			continue;
		if ((rc = add_job(&r, i, &ref))) {
			run_free(&r);
			return phd_set_error(ctx, rc, "%s: out of memory", IMG_PLUGIN);
		}
	}
	if (!r.cfg->resolve) {
		phd_log(ctx, PHD_LOG_INFO, "%s: %zu images in the release, not asked of their "
			"registries (images.resolve is off)", IMG_PLUGIN, r.njobs);
		run_free(&r);
		return 0;
	}
	phd_log(ctx, PHD_LOG_INFO, "%s: resolving %zu images through their registries",
		IMG_PLUGIN, r.njobs);
	ecr_creds(&r);
	r.platforms = r.cfg->platforms;
	if (r.cfg->node_platforms && (r.own_platforms = img_node_platforms(ctx)))
		r.platforms = r.own_platforms;
	if ((rc = img_resolve_all(ctx, r.cfg, r.jobs, r.njobs))) {
		run_free(&r);
		return rc;
	}
	for (size_t i = 0; i < r.njobs; i++)
		report_job(&r, &r.jobs[i]);
	rc = phd_ctx_interrupted(ctx) ? phd_set_error(ctx, PHD_EINTR, "%s: interrupted",
						      IMG_PLUGIN) : 0;
	run_free(&r);
	return rc;
}

/* ---- registration ----------------------------------------------------------------- */

static const struct phd_config_key img_keys[] = {
	{ "resolve", PHD_CFG_BOOL, 0, NULL, "ask the registries in render (default true)" },
	{ "timeout", PHD_CFG_DURATION, 0, NULL, "deadline of all registry requests (30s)" },
	{ "max_concurrent", PHD_CFG_INT, 0, NULL, "requests in flight per registry (4)" },
	{ "platforms", PHD_CFG_LIST, 0, NULL, "the nodes' OS/ARCH (default [linux/amd64])" },
	{ "node_platforms", PHD_CFG_BOOL, 0, NULL, "read the platforms from the nodes (kubectl)" },
	{ "certs_dirs", PHD_CFG_LIST, 0, NULL, "where HOST:PORT/ca.crt is looked for" },
	{ "registries", PHD_CFG_MAP, 0, NULL,
	  "HOST[:PORT]: { ca, insecure, max_concurrent, ecr_region }" },
	PHD_CONFIG_END
};

static const struct {
	const char *id;
	int sev;
	const char *summary;
} img_rules[] = {
	{ "image-withdrawn", PHD_SEV_WARN, "an image known to be gone (offline)" },
	{ "image-invalid", PHD_SEV_ERROR, "an image that is not a valid reference" },
	{ "image-missing", PHD_SEV_ERROR, "the registry has no such tag or repository" },
	{ "image-denied", PHD_SEV_ERROR, "the registry refuses the credentials (or has no such "
	  "repository)" },
	{ "image-unreachable", PHD_SEV_WARN, "the registry did not answer before the deadline" },
	{ "image-registry", PHD_SEV_ERROR, "the registry answered nonsense" },
	{ "image-platform", PHD_SEV_ERROR, "the image index lacks the nodes' platform" },
	{ "image-digest", PHD_SEV_OFF, "an image not pinned by @sha256: digest" },
	{ "image-resolved", PHD_SEV_INFO, "the digest an image resolved to" },
};

static int init(phd_plugin *p, const phd_node *config)
{
	phd_ctx *ctx = phd_plugin_ctx(p);
	struct img_cfg *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: out of memory", IMG_PLUGIN);
	if ((rc = read_config(ctx, c, config))) {
		cfg_free(c);
		return rc;
	}
	/* one configuration for both validators, freed once with the plugin */
	if ((rc = phd_plugin_set_data(p, c, cfg_free)) ||
	    (rc = phd_plugin_declare_config(p, NULL, img_keys)))
		return rc;
	for (size_t i = 0; i < sizeof(img_rules) / sizeof(img_rules[0]); i++)
		if ((rc = phd_plugin_declare_rule(p, img_rules[i].id, img_rules[i].sev,
						  img_rules[i].summary)))
			return rc;
	if ((rc = phd_register_validator(p, "images-values", PHD_PHASE_VALIDATE, on_values, c,
					 NULL)))
		return rc;
	return phd_register_validator(p, "images-rendered", PHD_PHASE_RENDER, on_manifests, c,
				      NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("images", "1.0", init, NULL);
