/* phdeploy — the command-line client of libphdeploy.  It uses the public
 * API only: parse options, map a verb to phases, print events, exit with
 * the documented code. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>
#include <phdeploy/plugin.h>

#include "output.h"

#define EXIT_USAGE 2

static phd_ctx *g_ctx;

static void on_signal(int sig)
{
	(void)sig;
	if (g_ctx)
		phd_ctx_interrupt(g_ctx);
}

static void usage(FILE *f)
{
	fputs("Usage: phdeploy [OPTION]... VERB\n"
	      "Deploy PostHog to Kubernetes with its Helm chart, highly available and safely.\n"
	      "\n"
	      "Verbs:\n"
	      "  validate    check phdeploy.yaml and the values (HA rules)\n"
	      "  secrets     provide the Secrets, cross-check and apply them before the chart\n"
	      "  preflight   check RDS PostgreSQL, MSK Kafka, ElastiCache Redis in parallel\n"
	      "  repo        resolve and verify the chart\n"
	      "  render      render the chart (manifests on stdout) and check them\n"
	      "  plan        every phase up to deploy; the deploy is shown, not performed\n"
	      "  deploy      the whole pipeline\n"
	      "  verify      check the live release\n"
	      "  rollback    roll back to the last good revision\n"
	      "  status      summarize the release\n"
	      "  plugins     list the loaded plugins\n"
	      "\n"
	      "Options:\n"
	      "  -c, --config FILE       configuration (default ./phdeploy.yaml)\n"
	      "  -f, --values FILE       values file (repeatable; replaces the config's list)\n"
	      "  -n, --namespace NS      Kubernetes namespace\n"
	      "  -r, --release NAME      Helm release name\n"
	      "      --chart REF         repo/name, a .tgz, a directory or oci://...\n"
	      "      --chart-version V   chart version to pin\n"
	      "      --kube-context CTX  kubeconfig context\n"
	      "      --only PHASE,...    run only these phases\n"
	      "      --skip PHASE,...    leave these phases out\n"
	      "      --helm PATH         helm binary (also PHDEPLOY_HELM)\n"
	      "      --kubectl PATH      kubectl binary (also PHDEPLOY_KUBECTL)\n"
	      "  -o, --output text|json  JSON: one event per line on stdout\n"
	      "      --dry-run           show what would change, change nothing\n"
	      "  -v, --verbose           more detail (repeat for debug)\n"
	      "  -q, --quiet             only failures\n"
	      "      --version           print the version and exit\n"
	      "  -h, --help              print this help and exit\n"
	      "\n"
	      "Exit status: 0 ok, 1 internal error, 2 usage, 3 validate, 4 secrets,\n"
	      "5 preflight, 6 repo, 7 render, 8 deploy failed, 9 deploy timed out,\n"
	      "10 verify, 11 rolled back after a failure, 12 another run holds the lock.\n"
	      "See phdeploy(1), phdeploy.yaml(5).\n", f);
}

static int parse_phases(const char *list, unsigned *mask)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int rc = 0;
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int p = phd_phase_from_name(tok);
		if (p < 0) {
			fprintf(stderr, "phdeploy: unknown phase '%s' (validate, secrets, preflight, "
				"repo, render, deploy, verify, rollback)\n", tok);
			rc = -1;
			break;
		}
		*mask |= PHD_PHASE_BIT(p);
	}
	free(copy);
	return rc;
}

static unsigned verb_mask(const char *verb, unsigned *flags)
{
	unsigned upto_deploy = 0;
	for (int p = 0; p <= PHD_PHASE_DEPLOY; p++)
		upto_deploy |= PHD_PHASE_BIT(p);
	if (!strcmp(verb, "plan")) {
		*flags |= PHD_OPT_PLAN;
		return upto_deploy;
	}
	if (!strcmp(verb, "deploy"))
		return upto_deploy | PHD_PHASE_BIT(PHD_PHASE_VERIFY);
	{
		int p = phd_phase_from_name(verb);
		return p < 0 ? 0 : PHD_PHASE_BIT(p);
	}
}

static int cmd_plugins(phd_ctx *ctx, struct out *o)
{
	int rc = phd_ctx_load(ctx);
	if (rc) {
		int code = rc == PHD_EPLUGIN || rc == PHD_EABI ? 1 : 3;
		out_error(o, code, phd_ctx_errmsg(ctx));
		return code;
	}
	for (size_t i = 0; i < phd_ctx_plugin_count(ctx); i++) {
		const struct phd_plugin_info *pi = phd_ctx_plugin(ctx, i);
		if (o->json)
			printf("{\"event\":\"plugin\",\"name\":\"%s\",\"version\":\"%s\","
			       "\"abi\":\"%u.%u\",\"path\":\"%s\",\"provides\":\"%s\"}\n", pi->name,
			       pi->version, pi->abi_major, pi->abi_minor, pi->path, pi->provides);
		else
			printf("%-14s %-8s ABI %u.%u  %s\n    %s\n", pi->name, pi->version,
			       pi->abi_major, pi->abi_minor, pi->provides, pi->path);
	}
	if (phd_ctx_plugin_count(ctx) == 0)
		out_log(PHD_LOG_WARN, "no plugins loaded (PHDEPLOY_PLUGIN_PATH, plugins.path)", o);
	return 0;
}

static int cmd_status(phd_ctx *ctx, struct out *o)
{
	char *json = NULL;
	int rc = phd_status(ctx, &json);
	if (rc) {
		int code = rc == PHD_ENOPROVIDER ? 1 : 8;
		out_error(o, code, phd_ctx_errmsg(ctx));
		return code;
	}
	if (o->json)
		printf("{\"event\":\"status\",\"release\":%s}\n", json ? json : "null");
	else
		printf("%s\n", json ? json : "");
	free(json);
	return 0;
}

/* What the command line asks for. */
struct cli {
	struct phd_options opts;
	const char **values;
	unsigned only, skip;
	int json, verbosity;
	const char *verb;
};

#define CLI_CONTINUE (-1)

/* Options into cli.  Returns CLI_CONTINUE, or the exit status when done
 * already (--help, --version: 0; a usage error: 2). */
static int parse_args(int argc, char **argv, struct cli *cli)
{
	enum { O_CHART = 256, O_CHART_VERSION, O_ONLY, O_SKIP, O_HELM, O_KUBECTL,
	       O_DRY_RUN, O_VERSION, O_KUBE_CONTEXT };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "values", required_argument, NULL, 'f' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "release", required_argument, NULL, 'r' },
		{ "chart", required_argument, NULL, O_CHART },
		{ "chart-version", required_argument, NULL, O_CHART_VERSION },
		{ "kube-context", required_argument, NULL, O_KUBE_CONTEXT },
		{ "only", required_argument, NULL, O_ONLY },
		{ "skip", required_argument, NULL, O_SKIP },
		{ "helm", required_argument, NULL, O_HELM },
		{ "kubectl", required_argument, NULL, O_KUBECTL },
		{ "output", required_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct phd_options *opts = &cli->opts;
	size_t nvalues = 0;
	int c;

	while ((c = getopt_long(argc, argv, "c:f:n:r:o:vqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opts->config_path = optarg; break;
		case 'f': cli->values[nvalues++] = optarg; break;
		case 'n': opts->namespace_ = optarg; break;
		case 'r': opts->release = optarg; break;
		case O_CHART: opts->chart = optarg; break;
		case O_CHART_VERSION: opts->chart_version = optarg; break;
		case O_KUBE_CONTEXT: opts->kube_context = optarg; break;
		case O_ONLY:
			if (parse_phases(optarg, &cli->only))
				return EXIT_USAGE;
			break;
		case O_SKIP:
			if (parse_phases(optarg, &cli->skip))
				return EXIT_USAGE;
			break;
		case O_HELM: opts->helm_path = optarg; break;
		case O_KUBECTL: opts->kubectl_path = optarg; break;
		case 'o':
			if (!strcmp(optarg, "json"))
				cli->json = 1;
			else if (strcmp(optarg, "text")) {
				fprintf(stderr, "phdeploy: --output takes text or json, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case O_DRY_RUN: opts->flags |= PHD_OPT_DRY_RUN; break;
		case 'v': cli->verbosity++; break;
		case 'q': cli->verbosity = -1; break;
		case O_VERSION:
			printf("phdeploy %s (libphdeploy %s, plugin ABI %d.%d)\n", PACKAGE_VERSION,
			       phd_version(), PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'phdeploy --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, optind >= argc ? "phdeploy: missing VERB\n"
			: "phdeploy: one VERB only, got '%s' after it\n",
			optind < argc - 1 ? argv[optind + 1] : "");
		fprintf(stderr, "Try 'phdeploy --help'.\n");
		return EXIT_USAGE;
	}
	cli->verb = argv[optind];
	opts->values = cli->values;
	opts->nvalues = nvalues;
	opts->verbosity = cli->verbosity;
	return CLI_CONTINUE;
}

/* The phases the verb runs, narrowed by --only and --skip; 0 for the verbs
 * that run no phase.  Returns CLI_CONTINUE or EXIT_USAGE. */
static int phases_of(struct cli *cli, unsigned *mask)
{
	*mask = 0;
	if (!strcmp(cli->verb, "plugins") || !strcmp(cli->verb, "status"))
		return CLI_CONTINUE;
	*mask = verb_mask(cli->verb, &cli->opts.flags);
	if (!*mask) {
		fprintf(stderr, "phdeploy: unknown verb '%s'\nTry 'phdeploy --help'.\n", cli->verb);
		return EXIT_USAGE;
	}
	if (cli->only)
		*mask = cli->only;
	*mask &= ~cli->skip;
	if (!*mask) {
		fprintf(stderr, "phdeploy: --skip leaves no phase to run\n");
		return EXIT_USAGE;
	}
	return CLI_CONTINUE;
}

/* The context, its output callbacks, and Ctrl-C forwarded to it.  Returns
 * CLI_CONTINUE, or the exit status of a refused option (2) or a failure. */
static int open_ctx(const struct cli *cli, struct out *o, phd_ctx **out)
{
	struct sigaction sa;
	int rc = phd_ctx_new(out, &cli->opts);

	if (rc) {
		int code = rc == PHD_EINVAL ? EXIT_USAGE : 1;
		out_error(o, code, phd_ctx_errmsg(*out));
		phd_ctx_free(*out);
		*out = NULL;
		return code;
	}
	phd_ctx_set_log(*out, out_log, o);
	o->ctx = *out;
	phd_ctx_set_event_cb(*out, out_event, o);
	g_ctx = *out;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* past a file size limit (ulimit -f) a write must fail with EFBIG and
	 * be reported, not kill the run between two steps */
	signal(SIGXFSZ, SIG_IGN);
	return CLI_CONTINUE;
}

/* Run the phases; render alone in text mode prints the manifests. */
static int cmd_run(phd_ctx *ctx, const struct cli *cli, struct out *o, unsigned mask)
{
	int rc = phd_run(ctx, mask);
	int code = phd_exit_code(ctx, rc);
	int plan = (cli->opts.flags & PHD_OPT_PLAN) != 0;

	if (rc == 0 && !cli->json && (mask & PHD_PHASE_BIT(PHD_PHASE_RENDER)) && !plan &&
	    !strcmp(cli->verb, "render")) {
		size_t len;
		const char *m = phd_rendered(ctx, &len);
		if (m)
			fwrite(m, 1, len, stdout);
	}
	if (rc)
		out_error(o, code, phd_ctx_errmsg(ctx));
	else if (!cli->json && cli->verbosity >= 0 && plan)
		fprintf(stderr, "phdeploy: plan complete: nothing was changed\n");
	return code;
}

int main(int argc, char **argv)
{
	struct cli cli = { .opts = PHD_OPTIONS_INIT };
	struct out o;
	phd_ctx *ctx = NULL;
	unsigned mask = 0;
	int code;

	cli.values = calloc((size_t)argc + 1, sizeof *cli.values);
	if (!cli.values)
		return 1;
	if ((code = parse_args(argc, argv, &cli)) == CLI_CONTINUE)
		code = phases_of(&cli, &mask);
	if (code == CLI_CONTINUE) {
		out_init(&o, cli.json, cli.verbosity);
		code = open_ctx(&cli, &o, &ctx);
	}
	free(cli.values); /* the context has its own copy */
	if (code != CLI_CONTINUE)
		return code;
	if (!strcmp(cli.verb, "plugins"))
		code = cmd_plugins(ctx, &o);
	else if (!strcmp(cli.verb, "status"))
		code = cmd_status(ctx, &o);
	else
		code = cmd_run(ctx, &cli, &o, mask);
	g_ctx = NULL;
	phd_ctx_free(ctx);
	return code;
}
