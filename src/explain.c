/* phdeploy explain: the man pages' own entries for an exit status or a
 * rule id.  The table is generated at build time from man/phdeploy.1 (EXIT
 * STATUS) and man/phdeploy-*.7 (FINDINGS) by scripts/man2explain.awk, so
 * the pages stay the one source of these texts. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "verbs.h"

static const struct entry {
	const char *topic, *page, *text;
} entries[] = {
#include "src/explain-table.h"
	{ NULL, NULL, NULL }
};

/* Print text folded at 76 columns, indented. */
static void fold(const char *text)
{
	size_t col = 0;

	while (*text) {
		size_t w = strcspn(text, " ");
		if (col && col + 1 + w > 76) {
			fputs("\n   ", stdout);
			col = 0;
		}
		printf(" %.*s", (int)w, text);
		col += w + 1;
		text += w;
		text += strspn(text, " ");
	}
	putchar('\n');
}

int cmd_explain(const char *topic)
{
	const char *names[sizeof entries / sizeof entries[0]], *near;
	size_t n = 0, shown = 0;

	for (const struct entry *e = entries; e->topic; e++) {
		names[n++] = e->topic;
		if (strcmp(e->topic, topic))
			continue;
		printf("%s%s (%s):\n", topic[0] >= '0' && topic[0] <= '9' ? "exit status " : "",
		       topic, e->page);
		fold(e->text);
		shown++;
	}
	if (shown)
		return 0;
	near = name_suggest(topic, names, n);
	fprintf(stderr, "phdeploy: nothing to explain for '%s'%s%s%s\n"
		"Try an exit status (0 to 16) or a rule id from a finding's [brackets].\n", topic,
		near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
	return 2;
}
