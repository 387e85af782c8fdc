/* The ha plugin: HA validators on the values (validate phase), on the
 * rendered manifests (render) and on the live objects (verify).  See
 * phdeploy-ha(7).
 *
 *   ha:
 *     posthog: auto            # the PostHog values rules: auto | true | false
 *     min_replicas: 2
 *
 * Severities (`rules:`) and exemptions (`exemptions:`) are applied by the
 * core to every finding; this plugin only reports exemptions of its rules
 * that match nothing, which usually means a renamed object.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exempt.h"

struct ha_cfg {
	int posthog;               /* -1 auto, 0 off, 1 on */
	long long min_replicas;
};

/* ---- configuration ---------------------------------------------------- */

static int bad(phd_ctx *ctx, const phd_node *n, const char *fmt, const char *what)
{
	return phd_set_error(ctx, PHD_EINVAL, "%s:%u:%u: ha: %s %s",
			     phd_node_file(n) ? phd_node_file(n) : "config", phd_node_line(n),
			     phd_node_column(n), fmt, what);
}

static int read_config(phd_ctx *ctx, struct ha_cfg *c, const phd_node *cfg)
{
	const phd_node *n;
	const char *s;
	size_t i;

	if (!cfg || phd_node_type(cfg) == PHD_NODE_NULL)
		return 0;
	if (phd_node_type(cfg) != PHD_NODE_MAP)
		return bad(ctx, cfg, "the ha section must be a", "mapping");
	for (i = 0; i < phd_node_len(cfg); i++) {
		const char *k = phd_node_key_at(cfg, i);
		if (k && strcmp(k, "exempt") == 0)
			return bad(ctx, phd_node_at(cfg, i), "exemptions are not kept here: use the "
				   "top-level", "exemptions: [{rule, object, reason}]");
		if (k && strcmp(k, "posthog") != 0 && strcmp(k, "min_replicas") != 0)
			return bad(ctx, phd_node_at(cfg, i), "unknown key", k);
	}
	if ((n = phd_node_get(cfg, "posthog"))) {
		int b;
		s = phd_node_str(n);
		if (s && strcmp(s, "auto") == 0)
			c->posthog = -1;
		else if (phd_node_bool(n, &b) == 0)
			c->posthog = b;
		else
			return bad(ctx, n, "posthog must be auto, true or false, not", s ? s : "that");
	}
	if ((n = phd_node_get(cfg, "min_replicas")) &&
	    (phd_node_int(n, &c->min_replicas) < 0 || c->min_replicas < 1 || c->min_replicas > 1000))
		return bad(ctx, n, "min_replicas must be a count from 1 to 1000, not",
			   phd_node_str(n) ? phd_node_str(n) : "that");
	return 0;
}

/* ---- one validator run ---------------------------------------------------- */

struct run {
	struct ha_sink sink;       /* first: the rules see only this */
	phd_validation *v;
	struct ha_exempt *ex;      /* the config's exemptions of this plugin's rules */
	size_t nex;
	size_t *hits;              /* per exemption, this run */
};

static void forward(struct ha_sink *s, const char *rule, int sev, const char *object,
		    const phd_node *where, const char *values_key, const char *msg)
{
	struct run *r = (struct run *)s;
	const phd_node *e = phd_exemption_find(phd_validation_ctx(r->v), rule, object);

	/* the core's matcher: an exemption counts as used exactly when it applies */
	for (size_t i = 0; e && i < r->nex; i++)
		if (r->ex[i].where == e)
			r->hits[i]++;
	phd_validation_report(r->v, rule, sev, object, where, values_key, "%s", msg);
}

/* The exemptions naming one of this plugin's rules (the core checked
 * their shape when it read the config). */
static int read_exemptions(struct run *r, phd_ctx *ctx)
{
	const phd_node *list = phd_node_get(phd_ctx_config(ctx), "exemptions");
	size_t i, n = phd_node_type(list) == PHD_NODE_SEQ ? phd_node_len(list) : 0;

	r->ex = calloc(n ? n : 1, sizeof *r->ex);
	r->hits = calloc(n ? n : 1, sizeof *r->hits);
	if (!r->ex || !r->hits)
		return PHD_ENOMEM;
	for (i = 0; i < n; i++) {
		const phd_node *e = phd_node_at(list, i);
		const char *rule = phd_node_str(phd_node_get(e, "rule"));
		if (!rule || !ha_rule_known(rule))
			continue;
		r->ex[r->nex].rule = rule;
		r->ex[r->nex].object = phd_node_str(phd_node_get(e, "object"));
		r->ex[r->nex].where = e;
		r->nex++;
	}
	return 0;
}

static void opts_from_ctx(phd_validation *v, const struct ha_cfg *cfg, struct ha_opts *o)
{
	phd_ctx *ctx = phd_validation_ctx(v);

	memset(o, 0, sizeof *o);
	o->values = phd_ctx_values(ctx);
	o->release = phd_ctx_release(ctx);
	o->namespace_ = phd_ctx_namespace(ctx);
	o->min_replicas = cfg->min_replicas;
	o->chart_version = phd_ctx_chart_version(ctx);
	/* a config key that changes what is rendered: findings it causes name it */
	o->post_render = phd_node_get(phd_ctx_config(ctx), "helm.post_render");
	/* the core checked its form when it loaded the config */
	o->kube_where = phd_node_get(phd_ctx_config(ctx), "kube.version");
	if (phd_ctx_kube_version(ctx, &o->kube_major, &o->kube_minor) != 0)
		o->kube_major = o->kube_minor = 0;
}

/* Exemptions that matched nothing point at renamed objects or stale
 * config.  Checked where their rule runs: posthog-* rules on the values,
 * the others on the rendered manifests (rollout only runs live). */
static void report_unused(struct run *r, int values_phase)
{
	size_t i;

	for (i = 0; i < r->nex; i++) {
		const struct ha_exempt *x = &r->ex[i];
		int posthog_rule = strncmp(x->rule, "posthog-", 8) == 0;
		if (r->hits[i] || strcmp(x->rule, "rollout") == 0 || posthog_rule != values_phase)
			continue;
		phd_validation_report(r->v, "exempt-unused", PHD_SEV_WARN, x->object, x->where, NULL,
				      "the exemption of %s for %s matched no finding: is the object "
				      "right?  Rendered names carry the release "
				      "(Deployment/posthog-worker-default) and container findings "
				      "add the container (Deployment/NAME/CONTAINER)", x->rule,
				      x->object ? x->object : "every object");
	}
}

static int posthog_applies(const struct ha_cfg *cfg, phd_ctx *ctx)
{
	const char *chart = phd_ctx_chart(ctx);

	if (cfg->posthog >= 0)
		return cfg->posthog;
	return !chart || strstr(chart, "posthog") != NULL;
}

static int run_validator(phd_validation *v, const struct ha_cfg *cfg, int phase)
{
	struct run r;
	struct ha_opts o;
	const phd_node **docs = NULL;
	size_t i, n = 0;
	int rc = 0;

	memset(&r, 0, sizeof r);
	r.sink.report = forward;
	r.v = v;
	opts_from_ctx(v, cfg, &o);
	if (read_exemptions(&r, phd_validation_ctx(v)) < 0) {
		free(r.ex);
		free(r.hits);
		return phd_set_error(phd_validation_ctx(v), PHD_ENOMEM, "ha: out of memory");
	}
	if (phase == PHD_PHASE_VALIDATE) {
		if (posthog_applies(cfg, phd_validation_ctx(v))) {
			ha_values_check(&r.sink, &o);
			report_unused(&r, 1);
		}
	} else {
		n = phd_validation_doc_count(v);
		if (!(docs = calloc(n ? n : 1, sizeof *docs))) {
			free(r.ex);
			free(r.hits);
			return phd_set_error(phd_validation_ctx(v), PHD_ENOMEM, "ha: out of memory");
		}
		for (i = 0; i < n; i++)
			docs[i] = phd_validation_doc(v, i);
		rc = ha_manifest_check(&r.sink, &o, docs, n, phase == PHD_PHASE_VERIFY);
		if (rc == 0 && phase == PHD_PHASE_RENDER)
			report_unused(&r, 0);
	}
	if (rc == 0 && r.sink.broken)
		rc = PHD_ENOMEM;
	free(docs);
	free(r.ex);
	free(r.hits);
	if (rc < 0)
		return phd_set_error(phd_validation_ctx(v), rc, "ha: out of memory while validating");
	return 0;
}

static int on_values(phd_validation *v, void *ud)
{
	return run_validator(v, ud, PHD_PHASE_VALIDATE);
}

static int on_manifests(phd_validation *v, void *ud)
{
	return run_validator(v, ud, phd_validation_phase(v));
}

static const struct phd_config_key ha_keys[] = {
	{ "posthog", PHD_CFG_ENUM, 0, "auto|true|false|yes|no|on|off",
	  "run the PostHog values rules" },
	{ "min_replicas", PHD_CFG_INT, 0, NULL, "replicas every workload needs (default 2)" },
	PHD_CONFIG_END
};

/* Rules whose default is below error; every other id of ha_rule_ids is an
 * error by default (see phdeploy-ha(7)). */
static int default_severity(const char *id)
{
	static const char *const warn[] = { "pdb", "spread", "resources", "posthog-redis-tls",
					    "posthog-postgres-tls", "exempt-unused", NULL };
	for (size_t i = 0; warn[i]; i++)
		if (!strcmp(warn[i], id))
			return PHD_SEV_WARN;
	return PHD_SEV_ERROR;
}

static int init(phd_plugin *p, const phd_node *config)
{
	phd_ctx *ctx = phd_plugin_ctx(p);
	struct ha_cfg *c = calloc(1, sizeof *c);
	int rc;

	if (!c)
		return phd_set_error(ctx, PHD_ENOMEM, "ha: out of memory");
	c->posthog = -1;
	c->min_replicas = 2;
	if ((rc = read_config(ctx, c, config)) < 0) {
		free(c);
		return rc;
	}
	/* one configuration for the three validators, freed once with the plugin */
	if ((rc = phd_plugin_set_data(p, c, free)) < 0 ||
	    (rc = phd_plugin_declare_config(p, NULL, ha_keys)) < 0)
		return rc;
	for (size_t i = 0; ha_rule_ids[i]; i++)
		if ((rc = phd_plugin_declare_rule(p, ha_rule_ids[i],
						  default_severity(ha_rule_ids[i]), NULL)) < 0)
			return rc;
	if ((rc = phd_register_validator(p, "ha-values", PHD_PHASE_VALIDATE, on_values, c,
					 NULL)) < 0 ||
	    (rc = phd_register_validator(p, "ha-manifests", PHD_PHASE_RENDER, on_manifests, c,
					 NULL)) < 0)
		return rc;
	return phd_register_validator(p, "ha-live", PHD_PHASE_VERIFY, on_manifests, c, NULL);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("ha", "2.0", init, NULL);
