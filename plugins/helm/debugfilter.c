/* The --debug redactor.  `helm upgrade --debug` prints, after the release
 * summary, USER-SUPPLIED VALUES and COMPUTED VALUES (every password put in
 * a values file) and HOOKS/MANIFEST (Secrets with their data).  The core's
 * redactor masks the secrets it knows; this line filter drops what it
 * cannot know: both values sections, and the data of every manifest
 * document that is a Secret or not yet known not to be one (a template
 * may put data: before kind:).  State lives in struct helm_filter, one per
 * helm call. */
#include <ctype.h>
#include <string.h>

#include "helm-private.h"

enum { SEC_NONE = 0, SEC_VALUES, SEC_MANIFEST, SEC_NOTES };

static int is_line(const char *line, const char *want)
{
	size_t n = strlen(want);

	if (strncmp(line, want, n))
		return 0;
	for (line += n; *line; line++)
		if (!isspace((unsigned char)*line))
			return 0;
	return 1;
}

static int indent_of(const char *s)
{
	int n = 0;
	while (s[n] == ' ' || s[n] == '\t')
		n++;
	return n;
}

static int blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/* A top-level key "key:" (optionally quoted); returns what follows the
 * colon, or NULL when line is not that key. */
static const char *top_key(const char *line, const char *key)
{
	size_t n = strlen(key);
	char q = 0;

	if (*line == '"' || *line == '\'')
		q = *line++;
	if (strncmp(line, key, n))
		return NULL;
	line += n;
	if (q && *line++ != q)
		return NULL;
	if (*line != ':')
		return NULL;
	return line + 1;
}

static int rest_empty(const char *rest)
{
	while (*rest == ' ' || *rest == '\t')
		rest++;
	return !*rest || *rest == '#';
}

static int kind_is_secret(const char *rest)
{
	char v[64];
	size_t n = 0;

	while (*rest == ' ' || *rest == '\t' || *rest == '"' || *rest == '\'')
		rest++;
	while (*rest && !isspace((unsigned char)*rest) && *rest != '"' && *rest != '\'' &&
	       n + 1 < sizeof(v))
		v[n++] = *rest++;
	v[n] = '\0';
	return !strcmp(v, "Secret");
}

static int manifest_line(struct helm_filter *f, const char *line)
{
	const char *rest;

	if (f->in_data) {
		if (blank(line) || indent_of(line) > f->data_indent)
			return 1;
		f->in_data = 0;
	}
	if (!strncmp(line, "---", 3) && (!line[3] || isspace((unsigned char)line[3]))) {
		f->doc_secret = 0;
		return 0;
	}
	if ((rest = top_key(line, "kind"))) {
		f->doc_secret = kind_is_secret(rest) ? 1 : -1;
		return 0;
	}
	if (f->doc_secret >= 0 &&
	    ((rest = top_key(line, "data")) || (rest = top_key(line, "stringData")))) {
		if (!rest_empty(rest))
			return 1;   /* flow mapping on the same line: drop it whole */
		f->in_data = 1;
		f->data_indent = 0;
	}
	return 0;
}

int helm_filter_line(struct helm_filter *f, int stream, const char *line)
{
	int drop = 0;

	if (stream != 1)
		return 0;
	if (is_line(line, "USER-SUPPLIED VALUES:") || is_line(line, "COMPUTED VALUES:")) {
		f->section = SEC_VALUES;
		return 0;
	}
	if (is_line(line, "HOOKS:") || is_line(line, "MANIFEST:")) {
		f->section = SEC_MANIFEST;
		f->doc_secret = 0;
		f->in_data = 0;
		return 0;
	}
	if (is_line(line, "NOTES:")) {
		f->section = SEC_NOTES;
		return 0;
	}
	if (f->section == SEC_VALUES)
		drop = 1;
	else if (f->section == SEC_MANIFEST)
		drop = manifest_line(f, line);
	if (drop)
		f->dropped++;
	return drop;
}
