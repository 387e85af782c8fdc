/* What helm prints, line by line: the --debug filter that drops Secret
 * data, the failure classifier and the progress reader of --wait
 * (plugins/helm/debugfilter.c, classify.c).  The first byte picks the
 * stream of each line, so stdout and stderr interleave as they do. */
#include "fuzz/fuzz.h"
#include "helm-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct helm_watch w = { .ctx = fuzz_ctx(), .log_stderr = 1 };
	char *text, *line, *save = NULL, buf[256];
	int stream;

	if (size < 1)
		return 0;
	stream = data[0] & 1 ? 2 : 1;
	text = fuzz_strndup(data + 1, size - 1);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		helm_watch_line(stream, line, &w);
		helm_classify_line(line);
		helm_progress_text(line, buf, sizeof buf);
		if (line[0] == '\x01')
			stream = 3 - stream;
	}
	free(helm_watch_quote(&w));
	helm_failure_name(w.cls);
	helm_watch_free(&w);
	free(text);
	return 0;
}
