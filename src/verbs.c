/* The verbs and options phdeploy knows, as one table: `help`, `VERB
 * --help`, the usage text and the did-you-mean suggestions all read it, so
 * a verb added here is documented everywhere the CLI speaks of it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verbs.h"

/* opts: the long names of the options that matter to the verb, besides
 * the ones every verb takes (-c, -o, -v, -q, -h). */
static const struct verb verbs[] = {
	{ "init", "write a starting phdeploy.yaml, HA values and Secret templates", "force",
	  "phdeploy init posthog-prod" },
	{ "validate", "check phdeploy.yaml and the values (HA rules)",
	  "values set set-string set-file namespace release",
	  "phdeploy validate -f values.yaml --set web.replicacount=3" },
	{ "secrets", "provide, cross-check and apply the Secrets",
	  "values namespace release kube-context kubectl dry-run",
	  "phdeploy secrets --dry-run" },
	{ "preflight", "check RDS PostgreSQL, MSK Kafka, ElastiCache Redis in parallel",
	  "values set set-string set-file namespace release",
	  "phdeploy preflight -v" },
	{ "repo", "resolve and verify the chart", "chart chart-version helm",
	  "phdeploy repo --chart posthog/posthog --chart-version 30.46.0" },
	{ "render", "render the chart (manifests on stdout) and check them",
	  "values set set-string set-file namespace release chart chart-version helm",
	  "phdeploy render -f - < values.yaml > manifests.yaml" },
	{ "plan", "every phase up to deploy; the deploy is shown, not performed",
	  "values set set-string set-file namespace release chart chart-version kube-context "
	  "helm kubectl only skip",
	  "phdeploy plan -f values.yaml" },
	{ "diff", "what a deploy would change: the render against the release and the live objects",
	  "values set set-string set-file namespace release chart chart-version kube-context "
	  "helm kubectl exit-code",
	  "phdeploy diff --exit-code -f values.yaml" },
	{ "deploy", "the whole pipeline (asks first on a terminal)",
	  "values set set-string set-file namespace release chart chart-version kube-context "
	  "helm kubectl only skip dry-run yes",
	  "phdeploy deploy --kube-context prod --yes" },
	{ "verify", "check the live release", "namespace release kube-context kubectl helm",
	  "phdeploy verify -n posthog" },
	{ "rollback", "roll back to the last good revision, or to --to-revision N",
	  "namespace release kube-context helm to-revision dry-run yes",
	  "phdeploy rollback --to-revision 3 --yes" },
	{ "migrate-release", "rewrite removed APIs in the deployed release's stored manifest",
	  "namespace release kube-context kubectl undo dry-run yes",
	  "phdeploy migrate-release --dry-run" },
	{ "history", "list the release's revisions", "namespace release kube-context helm",
	  "phdeploy history -o json" },
	{ "status", "summarize the release", "namespace release kube-context helm",
	  "phdeploy status -o json" },
	{ "plugins", "list the loaded plugins", "", "phdeploy plugins -o json" },
	{ "doctor", "check helm, kubectl, the kube context, the chart and the config",
	  "values set set-string set-file namespace release chart chart-version kube-context "
	  "helm kubectl",
	  "phdeploy doctor --kube-context prod" },
	{ "explain", "what an exit status or a rule id means and how to fix it", "",
	  "phdeploy explain 5; phdeploy explain posthog-external" },
	{ "help", "this help, or a verb's", "", "phdeploy help deploy" },
	{ NULL, NULL, NULL, NULL }
};

/* Every option, as --help shows it.  name is the long name (NULL: none). */
static const struct optdoc {
	const char *name, *usage, *help;
} optdocs[] = {
	{ "config", "-c, --config FILE", "configuration (default ./phdeploy.yaml)" },
	{ "values", "-f, --values FILE", "values file, - for stdin (repeatable; replaces the "
	  "config's list)" },
	{ "set", "    --set K=V,...", "set values as helm does (repeatable, in order with -f)" },
	{ "set-string", "    --set-string K=V", "like --set, the value always a string" },
	{ "set-file", "    --set-file K=PATH", "like --set, the value read from a file" },
	{ "namespace", "-n, --namespace NS", "Kubernetes namespace" },
	{ "release", "-r, --release NAME", "Helm release name" },
	{ "chart", "    --chart REF", "repo/name, a .tgz, a directory or oci://..." },
	{ "chart-version", "    --chart-version V", "chart version to pin" },
	{ "kube-context", "    --kube-context CTX", "kubeconfig context" },
	{ "only", "    --only PHASE,...", "run only these phases" },
	{ "skip", "    --skip PHASE,...", "leave these phases out" },
	{ "helm", "    --helm PATH", "helm binary (also PHDEPLOY_HELM)" },
	{ "kubectl", "    --kubectl PATH", "kubectl binary (also PHDEPLOY_KUBECTL)" },
	{ "yes", "-y, --yes", "do not ask before changing the cluster" },
	{ "output", "-o, --output FORMAT", "text, json (events), sarif or junit (findings)" },
	{ "dry-run", "    --dry-run", "show what would change, change nothing" },
	{ "exit-code", "    --exit-code", "diff: exit 14 when there are changes (as git diff)" },
	{ "force", "    --force", "init: replace existing files" },
	{ "to-revision", "    --to-revision N", "rollback: to this revision (phdeploy history)" },
	{ "undo", "    --undo", "migrate-release: put the backed-up record back" },
	{ "verbose", "-v, --verbose", "more detail (repeat for debug)" },
	{ "quiet", "-q, --quiet", "only failures" },
	{ "version", "    --version", "print the version and exit" },
	{ "help", "-h, --help", "print this help and exit" },
	{ NULL, NULL, NULL }
};

static const char *const common_opts[] = { "config", "output", "verbose", "quiet", "help", NULL };

const struct verb *verb_find(const char *name)
{
	for (const struct verb *v = verbs; v->name; v++)
		if (!strcmp(v->name, name))
			return v;
	return NULL;
}

/* Edit distance counting a swap of neighbours as one edit ("plna" is one
 * from "plan"): the typo people make most.  Names only: short strings. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[32][32];

	if (la >= 32 || lb >= 32)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/* The nearest of names[] within a third of the word's length (at least 1,
 * at most 3 edits), or NULL: a guess further off would mislead. */
const char *name_suggest(const char *word, const char *const *names, size_t n)
{
	size_t best = (size_t)-1, limit = strlen(word) / 3;
	const char *pick = NULL;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(word, names[i]);
		if (d < best) {
			best = d;
			pick = names[i];
		}
	}
	return best <= limit ? pick : NULL;
}

const char *verb_suggest(const char *word)
{
	const char *names[sizeof verbs / sizeof verbs[0]];
	size_t n = 0;

	for (const struct verb *v = verbs; v->name; v++)
		names[n++] = v->name;
	return name_suggest(word, names, n);
}

const char *option_suggest(const char *word)
{
	const char *names[sizeof optdocs / sizeof optdocs[0]];
	size_t n = 0;

	while (*word == '-')
		word++;
	for (const struct optdoc *o = optdocs; o->name; o++)
		names[n++] = o->name;
	{
		char buf[64];
		size_t len = strcspn(word, "=");
		if (len >= sizeof buf)
			return NULL;
		memcpy(buf, word, len);
		buf[len] = '\0';
		return name_suggest(buf, names, n);
	}
}

static void print_opt(FILE *f, const char *name)
{
	for (const struct optdoc *o = optdocs; o->name; o++)
		if (!strcmp(o->name, name)) {
			fprintf(f, "  %-24s%s\n", o->usage, o->help);
			return;
		}
}

void verb_help(FILE *f, const struct verb *v)
{
	char *copy = strdup(v->opts), *save = NULL;

	fprintf(f, "Usage: phdeploy [OPTION]... %s%s\n%s.\n\nOptions:\n", v->name,
		!strcmp(v->name, "explain") ? " EXIT_CODE|RULE_ID"
		: !strcmp(v->name, "help") ? " [VERB]"
		: !strcmp(v->name, "init") ? " [DIR]" : "", v->summary);
	for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save))
		print_opt(f, t);
	free(copy);
	for (size_t i = 0; common_opts[i]; i++)
		print_opt(f, common_opts[i]);
	fprintf(f, "\nExample:\n  %s\n\nSee phdeploy(1).\n", v->example);
}

void usage(FILE *f)
{
	fputs("Usage: phdeploy [OPTION]... VERB\n"
	      "Deploy PostHog to Kubernetes with its Helm chart, highly available and safely.\n"
	      "\nVerbs:\n", f);
	for (const struct verb *v = verbs; v->name; v++)
		fprintf(f, "  %-10s  %s\n", v->name, v->summary);
	fputs("\nOptions:\n", f);
	for (const struct optdoc *o = optdocs; o->name; o++)
		fprintf(f, "  %-24s%s\n", o->usage, o->help);
	fputs("\n"
	      "Exit status: 0 ok, 1 internal error, 2 usage, 3 validate, 4 secrets,\n"
	      "5 preflight, 6 repo, 7 render, 8 deploy failed, 9 deploy timed out,\n"
	      "10 verify, 11 rolled back after a failure, 12 another run holds the lock,\n"
	      "13 not confirmed, 14 diff --exit-code found changes, 15 diff could not\n"
	      "read the cluster, 16 doctor found a problem.  'phdeploy explain CODE' says more.\n"
	      "'phdeploy help VERB' shows a verb's options and an example.\n"
	      "See phdeploy(1), phdeploy.yaml(5).\n", f);
}
