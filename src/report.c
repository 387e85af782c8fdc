/* The run's findings for the tools people already read them in: SARIF
 * 2.1.0 for code-scanning views, JUnit XML for CI test reports.  Both are
 * written once, at the end, from phd_ctx_finding(); each finding is at its
 * file:line when it has one. */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"

/* A position a file viewer can open: a real path, line 1 or more.  "--set
 * a=b" (line 0) and <stdin> are command-line positions, said in the text. */
static int has_file(const struct phd_finding *f)
{
	return f->file && f->line > 0 && f->file[0] != '<';
}

/* A relative URI reference for a path: unreserved characters as they are,
 * the rest percent-encoded. */
static char *path_uri(const char *path)
{
	static const char keep[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789-._~/";
	char *out = malloc(strlen(path) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (strchr(keep, *p))
			*o++ = (char)*p;
		else
			o += sprintf(o, "%%%02X", *p);
	}
	*o = '\0';
	return out;
}

static const char *sarif_level(int sev)
{
	return sev == PHD_SEV_ERROR ? "error" : sev == PHD_SEV_WARN ? "warning" : "note";
}

/* object: message (position; set key): the text line of a finding. */
static char *finding_text(const struct phd_finding *f)
{
	char pos[4200] = "", *s = NULL;
	int r;

	if (has_file(f))
		snprintf(pos, sizeof pos, "%s:%u:%u", f->file, f->line, f->column);
	else if (f->file)
		snprintf(pos, sizeof pos, "%s", f->file);
	r = asprintf(&s, "%s: %s%s%s%s%s%s", f->object ? f->object : "-",
		     f->message ? f->message : "", *pos || f->values_key ? " (" : "", pos,
		     f->values_key ? (*pos ? "; set " : "set ") : "",
		     f->values_key ? f->values_key : "", *pos || f->values_key ? ")" : "");
	return r < 0 ? NULL : s;
}

static json_t *sarif_result(const struct phd_finding *f, size_t rule_index)
{
	json_t *r = json_object(), *locs = json_array();
	char *text = finding_text(f);

	json_object_set_new(r, "ruleId", json_string(f->rule ? f->rule : "unknown"));
	json_object_set_new(r, "ruleIndex", json_integer((json_int_t)rule_index));
	json_object_set_new(r, "level", json_string(sarif_level(f->severity)));
	json_object_set_new(r, "message", json_pack("{s:s}", "text", text ? text : ""));
	free(text);
	if (has_file(f)) {
		char *uri = path_uri(f->file);
		json_t *region = json_pack("{s:i}", "startLine", (int)f->line);
		if (f->column)
			json_object_set_new(region, "startColumn", json_integer(f->column));
		json_array_append_new(locs, json_pack("{s:{s:{s:s}, s:o}}", "physicalLocation",
						      "artifactLocation", "uri", uri ? uri : "",
						      "region", region));
		free(uri);
	}
	if (f->object)
		json_array_append_new(locs, json_pack("{s:[{s:s}]}", "logicalLocations",
						      "fullyQualifiedName", f->object));
	json_object_set_new(r, "locations", locs);
	return r;
}

static int write_sarif(phd_ctx *ctx, FILE *out)
{
	json_t *rules = json_array(), *results = json_array(), *log;
	size_t n = phd_ctx_finding_count(ctx);
	char *s;

	for (size_t i = 0; i < n; i++) {
		const struct phd_finding *f = phd_ctx_finding(ctx, i);
		const char *id = f->rule ? f->rule : "unknown";
		size_t k;
		for (k = 0; k < json_array_size(rules); k++)
			if (!strcmp(json_string_value(json_object_get(json_array_get(rules, k), "id")),
				    id))
				break;
		if (k == json_array_size(rules))
			json_array_append_new(rules, json_pack("{s:s, s:{s:s}}", "id", id, "help",
							       "text", "phdeploy explain RULE"));
		json_array_append_new(results, sarif_result(f, k));
	}
	log = json_pack("{s:s, s:s, s:[{s:{s:{s:s, s:s, s:s, s:o}}, s:o}]}",
			"$schema", "https://json.schemastore.org/sarif-2.1.0.json",
			"version", "2.1.0", "runs", "tool", "driver", "name", "phdeploy",
			"version", PACKAGE_VERSION, "informationUri",
			"https://github.com/PostHog/charts-clickhouse", "rules", rules,
			"results", results);
	if (!log || !(s = json_dumps(log, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
		json_decref(log);
		return -1;
	}
	fprintf(out, "%s\n", s);
	free(s);
	json_decref(log);
	return 0;
}

static void xml_text(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default:
			/* XML 1.0 has no other control characters */
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, out);
		}
	}
}

/* One testsuite per phase that ran: a testcase for the phase itself
 * (failed when the phase failed) and one per finding (failed at severity
 * error, the text as output otherwise). */
static void junit_finding(FILE *out, const struct phd_finding *f)
{
	const char *tag = f->severity == PHD_SEV_ERROR ? "failure" : "system-out";
	char *text = finding_text(f);

	fputs("    <testcase classname=\"", out);
	xml_text(out, f->rule);
	fputs("\" name=\"", out);
	xml_text(out, f->object ? f->object : "-");
	if (f->file) {
		fputs("\" file=\"", out);
		xml_text(out, f->file);
		if (f->line)
			fprintf(out, "\" line=\"%u", f->line);
	}
	fprintf(out, "\">\n      <%s", tag);
	if (f->severity == PHD_SEV_ERROR) {
		fputs(" message=\"", out);
		xml_text(out, text);
		fputs("\" type=\"error\"", out);
	}
	fputs(">", out);
	xml_text(out, text);
	fprintf(out, "</%s>\n    </testcase>\n", tag);
	free(text);
}

static int write_junit(phd_ctx *ctx, FILE *out)
{
	size_t n = phd_ctx_finding_count(ctx);

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"phdeploy\">\n", out);
	for (int p = 0; p < PHD_PHASE_COUNT; p++) {
		int st = phd_ctx_phase_status(ctx, p);
		size_t cases = 1, failures = st == PHD_STATUS_FAILED;
		if (st == PHD_STATUS_NOTRUN)
			continue;
		for (size_t i = 0; i < n; i++) {
			const struct phd_finding *f = phd_ctx_finding(ctx, i);
			cases += f->phase == p;
			failures += f->phase == p && f->severity == PHD_SEV_ERROR;
		}
		fprintf(out, "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" "
			"time=\"%.3f\">\n", phd_phase_name(p), cases, failures,
			(double)phd_ctx_phase_ms(ctx, p) / 1000);
		fprintf(out, "    <testcase classname=\"phase\" name=\"%s\">", phd_phase_name(p));
		if (st == PHD_STATUS_FAILED) {
			fputs("<failure message=\"", out);
			xml_text(out, phd_ctx_phase_message(ctx, p));
			fputs("\"/>", out);
		} else if (st == PHD_STATUS_SKIPPED) {
			fputs("<skipped/>", out);
		}
		fputs("</testcase>\n", out);
		for (size_t i = 0; i < n; i++)
			if (phd_ctx_finding(ctx, i)->phase == p)
				junit_finding(out, phd_ctx_finding(ctx, i));
		fputs("  </testsuite>\n", out);
	}
	fputs("</testsuites>\n", out);
	return 0;
}

int report_write(phd_ctx *ctx, int format, FILE *out)
{
	return format == OUT_FORMAT_SARIF ? write_sarif(ctx, out)
	       : format == OUT_FORMAT_JUNIT ? write_junit(ctx, out) : 0;
}
