/* Output of the phdeploy CLI: text (terminal or plain) or JSON lines. */
#ifndef PHDEPLOY_OUTPUT_H
#define PHDEPLOY_OUTPUT_H

#include <phdeploy/phdeploy.h>

enum { OUT_FORMAT_TEXT, OUT_FORMAT_JSON, OUT_FORMAT_SARIF, OUT_FORMAT_JUNIT };

struct out {
	int json;        /* --output json */
	int plan;        /* a plan: the deploy phase is shown, not done */
	int diff;        /* the diff verb: its dry-run commands are not shown */
	int tty;         /* stderr is a terminal that takes control sequences */
	int color;       /* tty and no NO_COLOR */
	int verbosity;   /* -q: -1, -v: 1.. */
	int show_output; /* print child output lines */
	int progress_shown;
	phd_ctx *ctx;    /* for what an event only announces (the resolved chart) */
	/* a check's notes, held until its result line so that a failure is
	 * said once, under the check's name (text mode) */
	struct held_note { char *check, *text; int severity; } *held;
	size_t nheld;
};

void out_init(struct out *o, int json, int verbosity);
void out_event(const struct phd_event *ev, void *payload);
void out_log(int level, const char *msg, void *payload);
/* A final error line (text) or event (json). */
void out_error(struct out *o, int exit_code, const char *msg);
/* Print what is still held (call before exiting). */
void out_flush(struct out *o);

#endif
