/* phdeploy-postrender: helm post-renderer used by phdeploy's helm plugin.
 *
 * Reads helm's rendered manifests on stdin and writes them to stdout with
 * every `apiVersion: policy/v1beta1` PodDisruptionBudget turned into
 * `policy/v1` (removed in Kubernetes 1.25; the PostHog chart's ZooKeeper
 * subchart hard-codes it).  The spec fields the chart sets (selector,
 * minAvailable/maxUnavailable) mean the same in both versions.  Text is
 * kept byte for byte otherwise: no YAML round trip, comments and order
 * stay.  No library, so the build tree's copy runs without a wrapper. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT ((size_t)512 << 20)

int postrender_filter(FILE *out, const char *buf, size_t len, unsigned *rewrites);

#ifndef PHD_POSTRENDER_NO_MAIN
static char *read_all(FILE *in, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t r;
		if (n == cap) {
			char *nb;
			if (cap >= MAX_INPUT) {
				fprintf(stderr, "phdeploy-postrender: input over %zu MB\n", MAX_INPUT >> 20);
				free(buf);
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = fread(buf + n, 1, cap - n, in);
		n += r;
		if (r == 0) {
			if (ferror(in)) {
				free(buf);
				return NULL;
			}
			break;
		}
	}
	*len = n;
	return buf;
}

#endif

static int is_separator(const char *l, size_t n)
{
	return n >= 3 && !memcmp(l, "---", 3) && (n == 3 || l[3] == ' ' || l[3] == '\t' ||
						   l[3] == '\r' || l[3] == '#');
}

/* Value of a top-level `key:` line with quotes and trailing blanks or a
 * comment stripped, into v; 0 when the line is not that key. */
static int top_value(const char *l, size_t n, const char *key, char *v, size_t vlen)
{
	size_t k = strlen(key), i, o = 0;

	if (n <= k || memcmp(l, key, k) || l[k] != ':')
		return 0;
	for (i = k + 1; i < n && (l[i] == ' ' || l[i] == '\t'); i++)
		;
	if (i < n && (l[i] == '"' || l[i] == '\''))
		i++;
	for (; i < n && o + 1 < vlen; i++) {
		char c = l[i];
		if (c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '\r' || c == '#')
			break;
		v[o++] = c;
	}
	v[o] = '\0';
	return 1;
}

/* Writes buf[from, to) (one document) with the rewrite applied. */
static int emit_doc(FILE *out, const char *buf, size_t from, size_t to, unsigned *rewrites)
{
	char v[64];
	size_t api_at = (size_t)-1, api_end = 0, p;
	int pdb = 0, beta = 0;

	for (p = from; p < to;) {
		const char *nl = memchr(buf + p, '\n', to - p);
		size_t e = nl ? (size_t)(nl - buf) : to;
		if (top_value(buf + p, e - p, "kind", v, sizeof(v)))
			pdb = !strcmp(v, "PodDisruptionBudget");
		else if (top_value(buf + p, e - p, "apiVersion", v, sizeof(v))) {
			beta = !strcmp(v, "policy/v1beta1");
			api_at = p;
			api_end = e;
		}
		p = nl ? e + 1 : to;
	}
	if (!(pdb && beta)) {
		return fwrite(buf + from, 1, to - from, out) == to - from ? 0 : -1;
	}
	(*rewrites)++;
	if (fwrite(buf + from, 1, api_at - from, out) != api_at - from ||
	    fputs("apiVersion: policy/v1", out) == EOF)
		return -1;
	if (api_end > api_at && buf[api_end - 1] == '\r')
		fputc('\r', out);
	return fwrite(buf + api_end, 1, to - api_end, out) == to - api_end ? 0 : -1;
}

/* The rewrite of a whole stream held in buf; a document runs up to (not
 * including) the next separator line.  -1 when out fails. */
int postrender_filter(FILE *out, const char *buf, size_t len, unsigned *rewrites)
{
	size_t from = 0, p = 0;

	while (p < len) {
		const char *nl = memchr(buf + p, '\n', len - p);
		size_t e = nl ? (size_t)(nl - buf) : len;
		if (p > from && is_separator(buf + p, e - p)) {
			if (emit_doc(out, buf, from, p, rewrites))
				return -1;
			from = p;
		}
		p = nl ? e + 1 : len;
	}
	if (from < len && emit_doc(out, buf, from, len, rewrites))
		return -1;
	return 0;
}

#ifndef PHD_POSTRENDER_NO_MAIN
int main(int argc, char **argv)
{
	size_t len = 0;
	unsigned rewrites = 0;
	char *buf;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: phdeploy-postrender < manifests > manifests\n"
		     "Rewrites policy/v1beta1 PodDisruptionBudgets to policy/v1 (helm post-renderer).");
		return 0;
	}
	if (!(buf = read_all(stdin, &len))) {
		fprintf(stderr, "phdeploy-postrender: cannot read the manifests\n");
		return 1;
	}
	if (postrender_filter(stdout, buf, len, &rewrites))
		goto fail;
	free(buf);
	if (fflush(stdout) == EOF)
		goto fail_nobuf;
	if (getenv("PHDEPLOY_POSTRENDER_VERBOSE"))
		fprintf(stderr, "phdeploy-postrender: %u PodDisruptionBudget(s) moved to policy/v1\n",
			rewrites);
	return 0;
fail:
	free(buf);
fail_nobuf:
	fprintf(stderr, "phdeploy-postrender: cannot write the manifests\n");
	return 1;
}
#endif
