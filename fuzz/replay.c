/* Replays a fuzz target's corpus without libFuzzer: every file of
 * $top_srcdir/fuzz/corpus/FUZZ_TARGET (or of the files and directories
 * given as arguments) goes through LLVMFuzzerTestOneInput once.  A crash,
 * a sanitizer report or a hang is the failure; surviving is the pass. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"
#include "tap/tap.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET names the corpus directory"
#endif

__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		tap_ok(0, "%s: cannot open", path);
		return;
	}
	for (;;) {
		size_t r;
		if (len == cap) {
			unsigned char *nb = realloc(buf, cap = cap ? cap * 2 : 4096);
			if (!nb)
				abort();
			buf = nb;
		}
		if ((r = fread(buf + len, 1, cap - len, f)) == 0)
			break;
		len += r;
	}
	fclose(f);
	/* an exact-size copy, so that ASan sees a read past the input's end */
	{
		unsigned char *exact = malloc(len ? len : 1);
		if (!exact)
			abort();
		memcpy(exact, buf, len);
		free(buf);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	tap_ok(1, "%s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
}

static void replay(const char *path)
{
	struct stat st;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	DIR *d;

	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	if (!(d = opendir(path))) {
		tap_ok(0, "%s: cannot read the corpus directory", path);
		return;
	}
	while ((de = readdir(d))) {
		char **nn;
		if (de->d_name[0] == '.')
			continue;
		if (!(nn = realloc(names, (n + 1) * sizeof *names)) ||
		    !(nn[n] = malloc(strlen(path) + strlen(de->d_name) + 2)))
			abort();
		names = nn;
		sprintf(names[n++], "%s/%s", path, de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		replay_file(names[i]);
		free(names[i]);
	}
	free(names);
	if (n == 0)
		tap_ok(0, "%s: empty corpus", path);
}

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay(argv[i]);
	} else {
		const char *top = getenv("top_srcdir");
		char dir[4096];
		snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", top ? top : ".", FUZZ_TARGET);
		replay(dir);
	}
	return tap_done();
}
