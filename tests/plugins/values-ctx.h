/* A context holding only a values file written from text (no config, no
 * journal), for tests of code that reads values keys. */
#ifndef PHD_TEST_VALUES_CTX_H
#define PHD_TEST_VALUES_CTX_H

#include <phdeploy/phdeploy.h>

/* Loaded context (free with phd_ctx_free); NULL when it cannot be made. */
phd_ctx *values_ctx(const char *text);

#endif
