/* Shared AWS credentials/config files (INI). */
#ifndef PHD_COMMON_AWS_PROFILE_H
#define PHD_COMMON_AWS_PROFILE_H

#include "aws.h"

/* $env, else $HOME/.aws/base. */
void aws_file_path(char *out, size_t n, const char *env, const char *base);
/* Values of keys (NULL-ended) in section (config_style: "[profile x]" and
 * "[default]").  vals[i] malloc'd or NULL; free with sc_free_str.  Returns
 * 1 when the section exists, 0 when it (or the file) does not, <0 error. */
int aws_ini_lookup(const char *path, const char *section, int config_style,
		   const char *const *keys, char **vals);
/* A whole small file into wiped memory (bounded by SC_MAX_INPUT). */
int aws_read_file(const char *path, struct sc_buf *b);

#endif
