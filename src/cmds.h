/* The verbs that are more than a phd_run(): one function each. */
#ifndef PHDEPLOY_CMDS_H
#define PHDEPLOY_CMDS_H

#include <stdio.h>

#include <phdeploy/phdeploy.h>

#include "output.h"

/* The findings of the run as SARIF 2.1.0 or JUnit XML on out. */
int report_write(phd_ctx *ctx, int format, FILE *out);
/* What an exit status or a rule id means and how to fix it: 0, or 2 when
 * the topic is unknown. */
int cmd_explain(const char *topic);

/* Write the starting files into dir (NULL: "."): 0, 2 when one exists and
 * force is 0 (nothing written), 1 when a file cannot be written. */
int cmd_init(const char *dir, int force, int json);

/* The exit status of a doctor that found a problem (a warning or a
 * failure): phdeploy(1) EXIT STATUS. */
#define EXIT_DOCTOR 16

/* Check helm, kubectl, the kube context and its cluster, the chart and
 * the config (loaded and validated), one line per item: 0 when all are
 * ok, else EXIT_DOCTOR. */
int cmd_doctor(phd_ctx *ctx, int json);

#endif
