/* The CLI's verbs and options: help texts and did-you-mean. */
#ifndef PHDEPLOY_VERBS_H
#define PHDEPLOY_VERBS_H

#include <stdio.h>

struct verb {
	const char *name, *summary;
	const char *opts;    /* long option names, space-separated */
	const char *example;
};

/* NULL when name is no verb. */
const struct verb *verb_find(const char *name);
/* The verb or option nearest to a misspelt word (static), or NULL. */
const char *verb_suggest(const char *word);
const char *option_suggest(const char *word);
/* The nearest of names[] to word, or NULL when none is near enough. */
const char *name_suggest(const char *word, const char *const *names, size_t n);
void verb_help(FILE *f, const struct verb *v);
void usage(FILE *f);

#endif
