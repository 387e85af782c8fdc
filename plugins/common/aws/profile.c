/* The shared credentials and config files (~/.aws/credentials,
 * ~/.aws/config): INI sections "[name]" in the first, "[profile name]" or
 * "[default]" in the second.  Read into wiped memory, bounded. */
#include "profile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_small(const char *path, struct sc_buf *b)
{
	int err;

	return sc_read_file(path, b, &err);
}

int aws_read_file(const char *path, struct sc_buf *b)
{
	return read_small(path, b);
}

void aws_file_path(char *out, size_t n, const char *env, const char *base)
{
	const char *v = getenv(env), *home = getenv("HOME");

	if (v && *v)
		snprintf(out, n, "%s", v);
	else
		snprintf(out, n, "%s/.aws/%s", home && *home ? home : "", base);
}

static char *trim(char *s, char *end)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* Is this "[...]" header the section we want? */
static int header_matches(char *h, const char *section, int config_style)
{
	char *name = trim(h, h + strlen(h));

	if (!config_style)
		return strcmp(name, section) == 0;
	if (strcmp(section, "default") == 0 && strcmp(name, "default") == 0)
		return 1;
	if (strncmp(name, "profile", 7) != 0 || !isspace((unsigned char)name[7]))
		return 0;
	return strcmp(trim(name + 8, name + strlen(name)), section) == 0;
}

int aws_ini_lookup(const char *path, const char *section, int config_style,
		   const char *const *keys, char **vals)
{
	struct sc_buf b = { 0 };
	char *line, *next;
	int in = 0, found = 0, rc;
	size_t i;

	for (i = 0; keys[i]; i++)
		vals[i] = NULL;
	rc = read_small(path, &b);
	if (rc)
		return rc == PHD_ENOTFOUND ? 0 : rc;
	for (line = (char *)b.p; line && *line; line = next) {
		char *eq, *k;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line = trim(line, line + strlen(line));
		if (*line == '#' || *line == ';' || !*line)
			continue;
		if (*line == '[') {
			char *close = strchr(line, ']');

			if (close)
				*close = '\0';
			in = close && header_matches(line + 1, section, config_style);
			found |= in;
			continue;
		}
		if (!in || !(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		k = trim(line, eq);
		for (i = 0; keys[i]; i++)
			if (strcmp(k, keys[i]) == 0 && !vals[i]) {
				char *v = trim(eq + 1, eq + 1 + strlen(eq + 1));

				vals[i] = strdup(v);
				if (!vals[i])
					rc = PHD_ENOMEM;
			}
	}
	sc_buf_wipe(&b);
	if (rc) {
		for (i = 0; keys[i]; i++) {
			sc_free_str(vals[i]);
			vals[i] = NULL;
		}
		return rc;
	}
	return found;
}

char *aws_profile_region(const char *profile)
{
	static const char *const keys[] = { "region", NULL };
	char path[4096], *vals[1];

	aws_file_path(path, sizeof path, "AWS_CONFIG_FILE", "config");
	if (aws_ini_lookup(path, profile, 1, keys, vals) <= 0)
		return NULL;
	return vals[0];
}
