/* Turns library events into what an operator reads at 3 a.m.: on a
 * terminal a live progress line per phase and one result line each; without
 * a terminal plain lines; with --output json one JSON object per line on
 * stdout and nothing else there. */
#include "config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"

void out_init(struct out *o, int json, int verbosity)
{
	const char *nc = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	memset(o, 0, sizeof *o);
	o->json = json;
	o->verbosity = verbosity;
	/* the progress line rewrites itself with \r\033[K: only on a terminal
	 * that understands it (TERM=dumb is Emacs' shell, a CI log viewer) */
	o->tty = isatty(2) && term && *term && strcmp(term, "dumb");
	o->color = o->tty && !(nc && *nc);
	o->show_output = verbosity >= 0;
}

static const char *col(const struct out *o, const char *c)
{
	return o->color ? c : "";
}

static void clear_progress(struct out *o)
{
	if (o->progress_shown) {
		fputs("\r\033[K", stderr);
		o->progress_shown = 0;
	}
}

static const char *source_name(int source)
{
	switch (source) {
	case PHD_CHART_REPO: return "repo";
	case PHD_CHART_FILE: return "file";
	case PHD_CHART_DIR: return "dir";
	case PHD_CHART_OCI: return "oci";
	default: return "unknown";
	}
}

static json_t *json_opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void json_chart(json_t *j, const struct out *o)
{
	const struct phd_chart_ref *c;

	if (!o->ctx || phd_ctx_chart_resolved(o->ctx, &c))
		return;
	json_object_set_new(j, "name", json_opt_str(c->name));
	json_object_set_new(j, "version", json_opt_str(c->chart_version));
	json_object_set_new(j, "digest", json_opt_str(c->digest));
	json_object_set_new(j, "archive", json_string(c->archive));
	json_object_set_new(j, "source", json_string(source_name(c->source)));
}

static void json_event(const struct phd_event *ev, const struct out *o)
{
	static const char *const types[] = {
		"", "phase_start", "phase_end", "finding", "check", "hook", "output", "progress",
		"command", "run_end", "chart"
	};
	json_t *j = json_object();
	char *s;
	if (!j)
		return;
	json_object_set_new(j, "event", json_string(ev->type > 0 && ev->type <= PHD_EV_CHART
						     ? types[ev->type] : "unknown"));
	if (ev->phase >= 0 && phd_phase_name(ev->phase))
		json_object_set_new(j, "phase", json_string(phd_phase_name(ev->phase)));
	switch (ev->type) {
	case PHD_EV_PHASE_END:
		json_object_set_new(j, "status", json_string(phd_status_name(ev->status)));
		json_object_set_new(j, "ms", json_integer(ev->ms));
		if (ev->message)
			json_object_set_new(j, "message", json_string(ev->message));
		break;
	case PHD_EV_FINDING:
		json_object_set_new(j, "rule", json_string(ev->name ? ev->name : ""));
		json_object_set_new(j, "severity", json_string(phd_severity_name(ev->severity)));
		json_object_set_new(j, "object", json_string(ev->object ? ev->object : ""));
		json_object_set_new(j, "message", json_string(ev->message ? ev->message : ""));
		if (ev->values_key)
			json_object_set_new(j, "values_key", json_string(ev->values_key));
		if (ev->file) {
			json_object_set_new(j, "file", json_string(ev->file));
			json_object_set_new(j, "line", json_integer(ev->line));
			json_object_set_new(j, "column", json_integer(ev->column));
		}
		break;
	case PHD_EV_CHECK:
		json_object_set_new(j, "check", json_string(ev->name ? ev->name : ""));
		json_object_set_new(j, "status", json_string(phd_status_name(ev->status)));
		json_object_set_new(j, "message", json_string(ev->message ? ev->message : ""));
		json_object_set_new(j, "ms", json_integer(ev->ms));
		json_object_set_new(j, "severity", json_string(phd_severity_name(ev->severity)));
		break;
	case PHD_EV_HOOK:
		json_object_set_new(j, "hook", json_string(ev->name ? ev->name : ""));
		json_object_set_new(j, "status", json_string(phd_status_name(ev->status)));
		json_object_set_new(j, "message", json_string(ev->message ? ev->message : ""));
		json_object_set_new(j, "ms", json_integer(ev->ms));
		break;
	case PHD_EV_OUTPUT:
		json_object_set_new(j, "stream", json_string(ev->name ? ev->name : ""));
		json_object_set_new(j, "line", json_string(ev->message ? ev->message : ""));
		break;
	case PHD_EV_PROGRESS:
		json_object_set_new(j, "ms", json_integer(ev->ms));
		json_object_set_new(j, "message", json_string(ev->message ? ev->message : ""));
		break;
	case PHD_EV_COMMAND:
		json_object_set_new(j, "command", json_string(ev->message ? ev->message : ""));
		break;
	case PHD_EV_RUN_END:
		json_object_set_new(j, "status", json_string(phd_status_name(ev->status)));
		if (ev->message)
			json_object_set_new(j, "message", json_string(ev->message));
		break;
	case PHD_EV_CHART:
		json_chart(j, o);
		break;
	default:
		if (ev->name)
			json_object_set_new(j, "name", json_string(ev->name));
		break;
	}
	s = json_dumps(j, JSON_COMPACT);
	if (s) {
		fputs(s, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		free(s);
	}
	json_decref(j);
}

static const char *sev_mark(const struct out *o, int sev)
{
	switch (sev) {
	case PHD_SEV_ERROR: return o->color ? "\033[31merror\033[0m" : "error";
	case PHD_SEV_WARN: return o->color ? "\033[33mwarn\033[0m" : "warn";
	default: return "info";
	}
}

/* Text lines stay readable in a terminal or a CI log: text after prefix is
 * folded at WRAP_COLUMNS, continuation lines indented by indent. */
#define WRAP_COLUMNS 100

static void print_wrapped(const char *prefix, size_t prefix_cols, const char *text,
			  size_t indent)
{
	size_t col = prefix_cols;
	int first = 1;

	fputs(prefix, stderr);
	while (*text) {
		size_t w = strcspn(text, " ");
		if (!first && col + 1 + w > WRAP_COLUMNS) {
			fprintf(stderr, "\n%*s", (int)indent, "");
			col = indent;
		} else {
			fputc(' ', stderr);
			col++;
		}
		fprintf(stderr, "%.*s", (int)w, text);
		col += w;
		first = 0;
		text += w;
		text += strspn(text, " ");
	}
	fputc('\n', stderr);
}

static void hold_note(struct out *o, const struct phd_event *ev, const char *msg)
{
	struct held_note *n = realloc(o->held, (o->nheld + 1) * sizeof *n);
	if (!n)
		return;
	o->held = n;
	n += o->nheld;
	n->check = strdup(ev->name);
	n->text = strdup(msg);
	n->severity = ev->severity;
	if (n->check && n->text) {
		o->nheld++;
	} else {
		free(n->check);
		free(n->text);
	}
}

/* The notes of check name (all when NULL) that its result line did not
 * already say (skip), under it. */
static void release_notes(struct out *o, const char *name, const char *skip)
{
	size_t keep = 0;

	for (size_t i = 0; i < o->nheld; i++) {
		struct held_note *n = &o->held[i];
		if (name && strcmp(n->check, name)) {
			o->held[keep++] = *n;
			continue;
		}
		if (!(skip && !strcmp(n->text, skip)) &&
		    (n->severity > PHD_SEV_INFO || o->verbosity > 0) &&
		    (n->severity == PHD_SEV_ERROR || o->verbosity >= 0)) {
			char prefix[64];
			snprintf(prefix, sizeof prefix, "        %s:", sev_mark(o, n->severity));
			print_wrapped(prefix, 9 + strlen(phd_severity_name(n->severity)), n->text,
				      10);
		}
		free(n->check);
		free(n->text);
	}
	o->nheld = keep;
}

void out_flush(struct out *o)
{
	release_notes(o, NULL, NULL);
	free(o->held);
	o->held = NULL;
}

void out_event(const struct phd_event *ev, void *payload)
{
	struct out *o = payload;
	const char *ok = o->tty ? "\xe2\x9c\x93" : "ok";
	const char *bad = o->tty ? "\xe2\x9c\x97" : "FAILED";

	if (o->json) {
		if (ev->type == PHD_EV_PROGRESS && ev->name && !strcmp(ev->name, "tick"))
			return; /* ticks are for terminals */
		if (o->diff && ev->type == PHD_EV_COMMAND)
			return; /* a diff runs nothing: no "would run" */
		json_event(ev, o);
		return;
	}
	switch (ev->type) {
	case PHD_EV_PHASE_START:
		if (o->tty) {
			fprintf(stderr, "\r\033[K%s…%s %s", col(o, "\033[2m"), col(o, "\033[0m"),
				ev->name);
			o->progress_shown = 1;
		} else if (o->verbosity > 0) {
			fprintf(stderr, "phdeploy: %s: starting%s%s\n", ev->name,
				ev->message ? " " : "", ev->message ? ev->message : "");
		}
		break;
	case PHD_EV_PHASE_END:
		clear_progress(o);
		if (o->verbosity < 0 && ev->status != PHD_STATUS_FAILED)
			break;
		/* a plan's deploy passed by showing its commands: not "ok" */
		if (o->plan && ev->phase == PHD_PHASE_DEPLOY && ev->status == PHD_STATUS_OK) {
			fprintf(stderr, "- %-9s %6.1fs  shown, not run\n", "deploy",
				(double)ev->ms / 1000.0);
			break;
		}
		fprintf(stderr, "%s%s%s %-9s %6.1fs%s\n",
			col(o, ev->status == PHD_STATUS_FAILED ? "\033[31m" : "\033[32m"),
			ev->status == PHD_STATUS_FAILED ? bad
			: ev->status == PHD_STATUS_SKIPPED ? "-" : ok, col(o, "\033[0m"),
			phd_phase_name(ev->phase) ? phd_phase_name(ev->phase) : "?",
			(double)ev->ms / 1000.0,
			ev->status == PHD_STATUS_SKIPPED ? "  skipped" : "");
		break;
	case PHD_EV_FINDING: {
		const char *msg = ev->message ? ev->message : "";
		size_t ol = ev->object ? strlen(ev->object) : 0;
		/* rules often start their message with the object: say it once */
		if (ol && !strncmp(msg, ev->object, ol) && msg[ol] == ':' && msg[ol + 1] == ' ')
			msg += ol + 2;
		clear_progress(o);
		if (o->verbosity < 0 && ev->severity < PHD_SEV_ERROR)
			break;
		/* what a deploy would change is the point of plan and diff */
		if (ev->severity == PHD_SEV_INFO && o->verbosity <= 0 &&
		    !(ev->name && !strcmp(ev->name, "diff")))
			break;
		if (strchr(msg, '\n')) {
			/* a diff: the first line as a finding, the rest verbatim */
			const char *nl = strchr(msg, '\n');
			fprintf(stderr, "  %s [%s] %s: %.*s\n", sev_mark(o, ev->severity), ev->name,
				ev->object ? ev->object : "-", (int)(nl - msg), msg);
			for (const char *p = nl + 1; *p;) {
				size_t l = strcspn(p, "\n");
				fprintf(stderr, "      %.*s\n", (int)l, p);
				p += l + (p[l] == '\n');
			}
			break;
		}
		/* a check's note: said with the check's result line */
		if (ev->object && !strncmp(ev->object, "check/", 6) && ev->name &&
		    !strcmp(ev->object + 6, ev->name)) {
			hold_note(o, ev, msg);
			break;
		}
		if (ev->file && !ev->line) /* a command-line position: "--set a=b" */
			fprintf(stderr, "  %s [%s] %s: %s (%s%s%s)\n", sev_mark(o, ev->severity),
				ev->name, ev->object ? ev->object : "-", msg, ev->file,
				ev->values_key ? "; set " : "", ev->values_key ? ev->values_key : "");
		else if (ev->file)
			fprintf(stderr, "  %s [%s] %s: %s (%s:%u:%u%s%s)\n", sev_mark(o, ev->severity),
				ev->name, ev->object ? ev->object : "-", msg, ev->file,
				ev->line, ev->column, ev->values_key ? "; set " : "",
				ev->values_key ? ev->values_key : "");
		else
			fprintf(stderr, "  %s [%s] %s: %s%s%s%s\n", sev_mark(o, ev->severity), ev->name,
				ev->object ? ev->object : "-", msg,
				ev->values_key ? " (set " : "", ev->values_key ? ev->values_key : "",
				ev->values_key ? ")" : "");
		break;
	}
	case PHD_EV_CHECK: {
		const char *mark = ev->status == PHD_STATUS_FAILED ? bad
				   : ev->status == PHD_STATUS_SKIPPED ? "-" : ok;
		char prefix[128], plain[128];
		clear_progress(o);
		snprintf(prefix, sizeof prefix, "  %s%s%s %-10s %5lldms ",
			 col(o, ev->status == PHD_STATUS_FAILED ? "\033[31m" : "\033[32m"), mark,
			 col(o, "\033[0m"), ev->name ? ev->name : "", ev->ms);
		/* its width in columns: a terminal's mark is one cell */
		snprintf(plain, sizeof plain, "  %s %-10s %5lldms ", o->tty ? "x" : mark,
			 ev->name ? ev->name : "", ev->ms);
		print_wrapped(prefix, strlen(plain), ev->message ? ev->message : "", 8);
		release_notes(o, ev->name, ev->message);
		break;
	}
	case PHD_EV_HOOK:
		if (o->verbosity > 0 || ev->status == PHD_STATUS_FAILED) {
			clear_progress(o);
			fprintf(stderr, "  hook %s: %s\n", ev->name, ev->message ? ev->message : "");
		}
		break;
	case PHD_EV_OUTPUT:
		if (!o->show_output)
			break;
		clear_progress(o);
		fprintf(stderr, "  | %s\n", ev->message ? ev->message : "");
		break;
	case PHD_EV_PROGRESS:
		if (o->tty) {
			fprintf(stderr, "\r\033[K%s… %s %llds: %s%s",
				col(o, "\033[2m"), phd_phase_name(ev->phase) ? phd_phase_name(ev->phase)
				: "", ev->ms / 1000, ev->message ? ev->message : "", col(o, "\033[0m"));
			o->progress_shown = 1;
		} else if (!(ev->name && !strcmp(ev->name, "tick")) && ev->message) {
			fprintf(stderr, "  … %s (%llds)\n", ev->message, ev->ms / 1000);
		}
		break;
	case PHD_EV_COMMAND:
		if (o->diff)
			break;
		clear_progress(o);
		fprintf(stderr, "  would run: %s\n", ev->message ? ev->message : "");
		break;
	case PHD_EV_CHART:
		/* which chart helm gets, once, even without -v: it is what gets deployed */
		if (o->verbosity < 0)
			break;
		clear_progress(o);
		fprintf(stderr, "  chart %s\n", ev->message ? ev->message : "");
		break;
	default:
		break;
	}
	fflush(stderr);
}

/* One JSON line on stdout, the only thing written there in JSON mode. */
static void json_line(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s) {
		puts(s);
		fflush(stdout);
		free(s);
	}
	json_decref(j);
}

void out_log(int level, const char *msg, void *payload)
{
	struct out *o = payload;
	static const char *const names[] = { "error", "warning", "info", "debug" };
	if (level == PHD_LOG_DEBUG && o->verbosity < 2)
		return;
	if (level == PHD_LOG_INFO && o->verbosity < 1)
		return;
	if (level == PHD_LOG_WARN && o->verbosity < 0)
		return;
	/* a CI reading stdout sees every warning the terminal would */
	if (o->json && level == PHD_LOG_WARN)
		json_line(json_pack("{s:s, s:s}", "event", "warning", "message", msg ? msg : ""));
	clear_progress(o);
	fprintf(stderr, "phdeploy: %s: %s\n", names[level >= 0 && level <= 3 ? level : 3], msg);
	fflush(stderr);
}

void out_error(struct out *o, int exit_code, const char *msg)
{
	if (o->json)
		json_line(json_pack("{s:s, s:i, s:s}", "event", "error", "exit", exit_code,
				    "message", msg ? msg : ""));
	clear_progress(o);
	fprintf(stderr, "phdeploy: %s\n", msg && *msg ? msg : "failed");
}
