/* A local chart's Chart.yaml read in-process: a directory's file, or the
 * top-level <dir>/Chart.yaml entry of a .tgz (gzip + ustar/pax, as helm
 * package writes it, Chart.yaml first).  Saves `helm show chart` (a helm
 * start-up, ~100 ms) on every run with a local chart; anything it cannot
 * read returns -1 and the caller asks helm, whose error then says why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "helm-private.h"

#define META_MAX ((size_t)1 << 20)           /* a Chart.yaml */
#define SCAN_MAX ((unsigned long long)256 << 20)  /* tar bytes read looking for it */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rbe");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	if ((buf = malloc(META_MAX + 1))) {
		n = fread(buf, 1, META_MAX + 1, f);
		if (n > META_MAX || ferror(f)) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

static int gz_full(gzFile z, void *buf, unsigned len)
{
	return gzread(z, buf, len) == (int)len ? 0 : -1;
}

/* An ustar size field (octal, or base-256 when the high bit is set). */
static int tar_size(const unsigned char *h, unsigned long long *out)
{
	unsigned long long v = 0;

	if (h[124] & 0x80) {
		for (int i = 1; i < 12; i++) {
			if (v >> 55)
				return -1;
			v = v << 8 | h[124 + i];
		}
	} else {
		int i = 0;
		while (i < 12 && h[124 + i] == ' ')
			i++;
		for (; i < 12 && h[124 + i] >= '0' && h[124 + i] <= '7'; i++)
			v = v * 8 + (unsigned)(h[124 + i] - '0');
	}
	*out = v;
	return 0;
}

/* "<one directory>/Chart.yaml": the chart's, not a subchart's. */
static int is_top_chart_yaml(const unsigned char *h)
{
	char name[260];   /* 155 + '/' + 100 + NUL */
	const char *slash;

	if (h[345] && !memcmp(h + 257, "ustar", 5))  /* ustar prefix + "/" + name */
		snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345,
			 (const char *)h);
	else
		snprintf(name, sizeof name, "%.100s", (const char *)h);
	slash = strchr(name, '/');
	return slash && slash > name && !strcmp(slash, "/Chart.yaml");
}

static char *read_tgz(const char *path)
{
	unsigned char h[512];
	unsigned long long seen = 0, size, skip;
	char *out = NULL;
	gzFile z = gzopen(path, "rbe");

	if (!z)
		return NULL;
	gzbuffer(z, 1 << 16);
	while (seen < SCAN_MAX && gz_full(z, h, sizeof h) == 0 && h[0]) {
		if (tar_size(h, &size))
			break;
		skip = (size + 511) & ~511ULL;
		seen += 512 + skip;
		if ((h[156] == '0' || h[156] == '\0') && is_top_chart_yaml(h)) {
			if (size > META_MAX || !(out = malloc(size + 1)))
				break;
			if (gz_full(z, out, (unsigned)size)) {
				free(out);
				out = NULL;
				break;
			}
			out[size] = '\0';
			break;
		}
		if (skip && gzseek(z, (z_off_t)skip, SEEK_CUR) < 0)
			break;
	}
	gzclose(z);
	return out;
}

char *helm_chart_yaml(const char *chart, int dir)
{
	char *p = NULL, *out;

	if (!dir)
		return read_tgz(chart);
	if (asprintf(&p, "%s/Chart.yaml", chart) < 0)
		return NULL;
	out = read_file(p);
	free(p);
	return out;
}
