/* phdeploy init: a starting configuration, HA values for the AWS layout and
 * Secret templates.  The texts are examples/ as built into the binary
 * (scripts/embed-files.awk), the same files the README and the tests use. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"

static const struct file {
	const char *name, *text;
} files[] = {
#include "src/init-files.h"
	{ NULL, NULL }
};

/* DIR and its parents, like mkdir -p. */
static int make_dir(const char *dir)
{
	char *copy = strdup(dir);
	int rc = 0;

	if (!copy)
		return -1;
	for (char *p = copy + 1; ; p++) {
		if (*p && *p != '/')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(copy, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*p = c;
		if (!c || rc)
			break;
	}
	free(copy);
	return rc;
}

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;
	return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

/* Secret templates are 0600 from the start: they are where the real
 * passwords will be typed. */
static int write_one(const char *path, const char *text, int force)
{
	mode_t mode = strstr(path, ".secret.yaml") ? 0600 : 0644;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (force ? O_TRUNC : O_EXCL), mode);
	size_t len = strlen(text), off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

int cmd_init(const char *dir, int force, int json)
{
	size_t existing = 0;

	if (!dir)
		dir = ".";
	/* all or nothing: refuse before writing the first file */
	for (const struct file *f = files; f->name && !force; f++) {
		char *p = path_in(dir, f->name);
		if (p && access(p, F_OK) == 0) {
			fprintf(stderr, "phdeploy: init: %s exists\n", p);
			existing++;
		}
		free(p);
	}
	if (existing) {
		fprintf(stderr, "phdeploy: init: nothing written; --force replaces the %zu existing "
			"file%s\n", existing, existing == 1 ? "" : "s");
		return 2;
	}
	if (make_dir(dir) != 0) {
		fprintf(stderr, "phdeploy: init: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (const struct file *f = files; f->name; f++) {
		char *p = path_in(dir, f->name);
		if (!p || write_one(p, f->text, force) != 0) {
			fprintf(stderr, "phdeploy: init: cannot write %s: %s\n", p ? p : f->name,
				strerror(errno));
			free(p);
			return 1;
		}
		if (json) {
			json_t *j = json_pack("{s:s, s:s}", "event", "file", "path", p);
			char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
			if (s)
				puts(s);
			free(s);
			json_decref(j);
		} else {
			printf("wrote %s\n", p);
		}
		free(p);
	}
	if (!json)
		printf("\nNext: replace the host names in %s/values.yaml and the CHANGE-ME "
		       "placeholders in the *.secret.yaml files, then\n"
		       "  phdeploy -c %s/phdeploy.yaml validate\n"
		       "  phdeploy -c %s/phdeploy.yaml plan\n", dir, dir, dir);
	return 0;
}
