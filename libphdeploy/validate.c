/* Validators and findings.  Severity comes from `rules:` in the config,
 * then exemptions (`exemptions: [{rule, object, reason}]`) turn a finding
 * into info with the recorded reason. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

struct phd_validation {
	phd_ctx *ctx;
	int phase;
	struct phd_docset *docs;
	int errors;
};

int phd_rule_severity(phd_ctx *ctx, const char *rule, int dflt)
{
	const char *s = phd_node_str(phd_node_child(phd_node_child(ctx->config, "rules"), rule));
	if (!s)
		return dflt;
	if (!strcmp(s, "off"))
		return PHD_SEV_OFF;
	if (!strcmp(s, "info"))
		return PHD_SEV_INFO;
	if (!strcmp(s, "warn"))
		return PHD_SEV_WARN;
	return PHD_SEV_ERROR;
}

/* Distinct finding texts kept in ctx->ftexts; past this many the rest are
 * copied, so findings with unique messages do not grow the table forever. */
#define FTEXTS_MAX 16384

/* s kept in the findings' arena, once per distinct text (NULL stays NULL) */
static const char *finding_text(phd_ctx *ctx, const char *s)
{
	size_t v;
	const char *t;
	if (!s)
		return NULL;
	if (phd_strset_get(&ctx->ftexts, s, &v))
		return (const char *)(uintptr_t)v;
	if (!(t = phd_arena_strdup(ctx->farena, s)))
		return NULL;
	if (ctx->ftexts.n < FTEXTS_MAX && phd_strset_put(&ctx->ftexts, t, (size_t)(uintptr_t)t))
		return NULL;
	return t;
}

int phd_finding_add(phd_ctx *ctx, int phase, const char *rule, int sev, const char *object,
		    const phd_node *where, const char *values_key, const char *message)
{
	struct phd_finding_rec *f;
	struct phd_event e;
	const char *why;
	char *msg = NULL, *obj, *red;

	sev = phd_rule_severity(ctx, rule, sev);
	if (sev == PHD_SEV_OFF)
		return sev;
	why = phd_node_str(phd_node_child(phd_exemption_find(ctx, rule, object), "reason"));
	if (why && sev > PHD_SEV_INFO) {
		sev = PHD_SEV_INFO;
		msg = phd_asprintf("%s (exempted: %s)", message, why);
	}
	/* findings live in one arena: a large stream brings a few per object,
	 * and a block each with its own copies was mostly repeated text */
	obj = object ? phd_redact(ctx, object) : NULL;
	red = phd_redact(ctx, msg ? msg : message);
	free(msg);
	if (!ctx->farena && !(ctx->farena = phd_arena_new()))
		goto out;
	f = phd_arena_take(ctx->farena, sizeof *f, _Alignof(struct phd_finding_rec));
	if (!f)
		goto out;
	memset(f, 0, sizeof *f);
	f->pub.rule = finding_text(ctx, rule);
	f->pub.severity = sev;
	f->pub.phase = phase;
	/* objects are mostly distinct: not hashed, only the last one reused */
	if (obj && ctx->last_object && !strcmp(obj, ctx->last_object))
		f->pub.object = ctx->last_object;
	else if (obj && (f->pub.object = phd_arena_strdup(ctx->farena, obj)) != NULL)
		ctx->last_object = f->pub.object;
	/* the ha rules start a message with its object: the rest is shared,
	 * and the whole is put together only when a report asks for it */
	if (red && f->pub.object && !strncmp(red, f->pub.object, strlen(f->pub.object)) &&
	    !strncmp(red + strlen(f->pub.object), ": ", 2)) {
		if (!(f->tail = finding_text(ctx, red + strlen(f->pub.object) + 2)))
			goto out;
	} else if (red && !(f->pub.message = finding_text(ctx, red))) {
		goto out;
	}
	f->pub.values_key = finding_text(ctx, values_key);
	f->pub.file = finding_text(ctx, phd_node_file(where));
	f->pub.line = phd_node_line(where);
	f->pub.column = phd_node_column(where);
	if ((rule && !f->pub.rule) || (obj && !f->pub.object) ||
	    (values_key && !f->pub.values_key) || (phd_node_file(where) && !f->pub.file) ||
	    phd_vec_push(&ctx->findings, f))
		goto out;
	memset(&e, 0, sizeof e);
	e.type = PHD_EV_FINDING;
	e.phase = phase;
	e.severity = sev;
	e.name = f->pub.rule;
	e.object = f->pub.object;
	e.message = red;
	e.file = f->pub.file;
	e.line = f->pub.line;
	e.column = f->pub.column;
	e.values_key = f->pub.values_key;
	phd_emit(ctx, &e);
out:
	free(obj);
	free(red);
	return sev;
}

PHD_EXTERN phd_ctx *phd_validation_ctx(phd_validation *v)
{
	return v ? v->ctx : NULL;
}

PHD_EXTERN int phd_validation_phase(phd_validation *v)
{
	return v ? v->phase : -1;
}

PHD_EXTERN size_t phd_validation_doc_count(phd_validation *v)
{
	return v && v->docs ? v->docs->ndocs : 0;
}

PHD_EXTERN const phd_node *phd_validation_doc(phd_validation *v, size_t i)
{
	return i < phd_validation_doc_count(v) ? v->docs->docs[i] : NULL;
}

PHD_EXTERN int phd_validation_report(phd_validation *v, const char *rule, int default_sev,
				     const char *object, const phd_node *where,
				     const char *values_key, const char *fmt, ...)
{
	struct phd_buf b = { 0 };
	va_list ap;
	int sev;
	if (!v || !rule || !fmt)
		return PHD_SEV_OFF;
	va_start(ap, fmt);
	phd_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	sev = phd_finding_add(v->ctx, v->phase, rule, default_sev, object, where, values_key,
			      b.s ? b.s : "");
	phd_buf_free(&b);
	if (sev == PHD_SEV_ERROR)
		v->errors++;
	return sev;
}

static int invoke_validator(phd_ctx *ctx, struct phd_reg *r, void *arg)
{
	(void)ctx;
	return ((phd_validator_fn)r->fn)(arg, r->userdata);
}

int phd_validators_run(phd_ctx *ctx, int phase)
{
	struct phd_validation v = { ctx, phase, phase == PHD_PHASE_VALIDATE ? NULL : &ctx->docs[phase], 0 };
	int rc = phd_dispatch(ctx, PHD_REG_VALIDATOR, phase, -1, invoke_validator, &v, NULL);

	if (rc)
		return rc;
	if (v.errors)
		return phd_set_error(ctx, PHD_EFAILED, "%s: %d finding%s at severity error",
				     phd_phase_name(phase), v.errors, v.errors > 1 ? "s" : "");
	return 0;
}

/* kubectl answers with `kind: List`; validators want one object each. */
static int flatten_lists(struct phd_docset *ds)
{
	size_t total = 0, k = 0;
	struct phd_node **nd;
	for (size_t i = 0; i < ds->ndocs; i++) {
		const phd_node *items = phd_node_child(ds->docs[i], "items");
		const char *kind = phd_node_str(phd_node_child(ds->docs[i], "kind"));
		total += kind && !strcmp(kind, "List") && phd_node_type(items) == PHD_NODE_SEQ
			 ? phd_node_len(items) : 1;
	}
	if (total == ds->ndocs)
		return 0;
	nd = malloc((total ? total : 1) * sizeof *nd);
	if (!nd)
		return PHD_ENOMEM;
	for (size_t i = 0; i < ds->ndocs; i++) {
		const phd_node *items = phd_node_child(ds->docs[i], "items");
		const char *kind = phd_node_str(phd_node_child(ds->docs[i], "kind"));
		if (kind && !strcmp(kind, "List") && phd_node_type(items) == PHD_NODE_SEQ)
			for (size_t j = 0; j < phd_node_len(items); j++)
				nd[k++] = (struct phd_node *)phd_node_at(items, j);
		else
			nd[k++] = ds->docs[i];
	}
	free(ds->docs);
	ds->docs = nd;
	ds->ndocs = k;
	return 0;
}

/* owned: buf itself (malloc'd, len + 1 bytes or more), freed here or kept
 * as the rendered text; NULL: buf is the caller's and is copied. */
static int set_documents(phd_ctx *ctx, int phase, const char *buf, size_t len,
			 const char *origin, char *owned)
{
	struct phd_docset ds, kept;
	char *err = NULL;
	int rc;
	size_t k = 0;

	if (!ctx || !buf || phase < 0 || phase >= PHD_PHASE_COUNT) {
		free(owned);
		return PHD_EINVAL;
	}
	if (len > PHD_MAX_STREAM_BYTES) {
		free(owned);
		return phd_set_error(ctx, PHD_ETOOBIG, "%s: manifest stream larger than 256 MiB",
				     origin ? origin : "documents");
	}
	rc = phd_doc_parse(&ds, origin ? origin : "documents", buf, len, 1, &err);
	if (rc) {
		free(owned);
		phd_set_error(ctx, rc, "%s", err ? err : phd_strerror(rc));
		free(err);
		return rc;
	}
	/* empty documents (helm prints them for disabled templates) carry nothing */
	kept = ds;
	for (size_t i = 0; i < ds.ndocs; i++)
		if (phd_node_type(ds.docs[i]) != PHD_NODE_NULL)
			ds.docs[k++] = ds.docs[i];
	kept.ndocs = k;
	if ((rc = flatten_lists(&kept)) != 0) {
		free(owned);
		phd_docset_free(&kept);
		return rc;
	}
	phd_docset_free(&ctx->docs[phase]);
	ctx->docs[phase] = kept;
	if (phase != PHD_PHASE_RENDER) {
		free(owned);
		return 0;
	}
	if (owned) {
		/* the slack of a doubling buffer goes back (an mmap'd block
		 * shrinks in place) */
		char *fit = realloc(owned, len + 1);
		if (fit)
			owned = fit;
	} else if (!(owned = malloc(len + 1))) {
		return PHD_ENOMEM;
	} else {
		memcpy(owned, buf, len);
	}
	owned[len] = '\0';
	free(ctx->rendered);
	ctx->rendered = owned;
	ctx->rendered_len = len;
	return 0;
}

PHD_EXTERN int phd_set_documents(phd_ctx *ctx, int phase, const char *buf, size_t len,
				 const char *origin)
{
	return set_documents(ctx, phase, buf, len, origin, NULL);
}

PHD_EXTERN int phd_take_documents(phd_ctx *ctx, int phase, char *buf, size_t len,
				  const char *origin)
{
	return set_documents(ctx, phase, buf, len, origin, buf);
}

PHD_EXTERN const char *phd_rendered(const phd_ctx *ctx, size_t *len)
{
	if (len)
		*len = ctx && ctx->rendered ? ctx->rendered_len : 0;
	return ctx ? ctx->rendered : NULL;
}
