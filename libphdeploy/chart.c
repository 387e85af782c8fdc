/* The chart the repo phase resolved: published by the plugin that fetched
 * it (the helm plugin), read by render/deploy, the journal and
 * applications.  The core keeps its own copies, so what the journal
 * records is exactly what helm was handed. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "phd-private.h"

struct phd_chart_rec {
	struct phd_chart_ref pub;
	char *name, *chart_version, *digest, *archive;
	char *line;   /* the event's one-line summary */
};

void phd_chart_free(phd_ctx *ctx)
{
	struct phd_chart_rec *r = ctx->resolved;

	if (!r)
		return;
	free(r->name);
	free(r->chart_version);
	free(r->digest);
	free(r->archive);
	free(r->line);
	free(r);
	ctx->resolved = NULL;
}

static int digest_ok(const char *d)
{
	if (strncmp(d, "sha256:", 7))
		return 0;
	d += 7;
	for (int i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)d[i]))
			return 0;
	return d[64] == '\0';
}

static const char *source_name(int source)
{
	switch (source) {
	case PHD_CHART_REPO: return "repo";
	case PHD_CHART_FILE: return "file";
	case PHD_CHART_DIR: return "dir";
	case PHD_CHART_OCI: return "oci";
	default: return NULL;
	}
}

PHD_EXTERN int phd_ctx_set_chart_resolved(phd_ctx *ctx, const struct phd_chart_ref *ref)
{
	struct phd_chart_rec *r;
	struct phd_event ev;

	if (!ctx)
		return PHD_EINVAL;
	if (!ref) {
		phd_chart_free(ctx);
		return 0;
	}
	if (ref->version != PHD_CHART_REF_VERSION || !source_name(ref->source) ||
	    !ref->archive || !*ref->archive)
		return phd_set_error(ctx, PHD_EINVAL, "chart: resolved chart without an archive path, "
				     "or of an unknown source or struct version");
	if (ref->digest && !digest_ok(ref->digest))
		return phd_set_error(ctx, PHD_EINVAL, "chart: digest \"%.80s\" is not sha256:<64 hex "
				     "digits>", ref->digest);
	if (!(r = calloc(1, sizeof *r)))
		return PHD_ENOMEM;
	r->name = ref->name ? strdup(ref->name) : NULL;
	r->chart_version = ref->chart_version ? strdup(ref->chart_version) : NULL;
	r->digest = ref->digest ? strdup(ref->digest) : NULL;
	r->archive = strdup(ref->archive);
	r->line = phd_asprintf("%s %s%s%s (%s: %s)", ref->name ? ref->name : "chart",
			       ref->chart_version ? ref->chart_version : "(version unknown)",
			       ref->digest ? " " : "", ref->digest ? ref->digest : "",
			       source_name(ref->source), ref->archive);
	r->pub.version = PHD_CHART_REF_VERSION;
	r->pub.source = ref->source;
	r->pub.name = r->name;
	r->pub.chart_version = r->chart_version;
	r->pub.digest = r->digest;
	r->pub.archive = r->archive;
	phd_chart_free(ctx);
	ctx->resolved = r;
	if ((ref->name && !r->name) || (ref->chart_version && !r->chart_version) ||
	    (ref->digest && !r->digest) || !r->archive || !r->line) {
		phd_chart_free(ctx);
		return PHD_ENOMEM;
	}
	memset(&ev, 0, sizeof ev);
	ev.type = PHD_EV_CHART;
	ev.phase = ctx->running_phase;
	ev.name = r->name;
	ev.message = r->line;
	ev.file = r->archive;
	phd_emit(ctx, &ev);
	return 0;
}

PHD_EXTERN int phd_ctx_chart_resolved(const phd_ctx *ctx, const struct phd_chart_ref **out)
{
	if (!out)
		return PHD_EINVAL;
	*out = NULL;
	if (!ctx)
		return PHD_EINVAL;
	/* phase.c clears the statuses at every run: a chart published by an
	 * earlier run is not this run's */
	if (!ctx->resolved || (ctx->status[PHD_PHASE_REPO] != PHD_STATUS_OK &&
			       ctx->running_phase != PHD_PHASE_REPO))
		return PHD_ENOTFOUND;
	*out = &ctx->resolved->pub;
	return 0;
}
