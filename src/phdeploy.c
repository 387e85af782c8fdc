/* phdeploy — the command-line client of libphdeploy.  It uses the public
 * API only: parse options, map a verb to phases, print events, exit with
 * the documented code. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>
#include <phdeploy/plugin.h>

#include "cmds.h"
#include "output.h"
#include "verbs.h"

#define EXIT_USAGE 2
#define EXIT_NOT_CONFIRMED 13 /* the prompt was not answered yes */
#define EXIT_DIFF_CHANGES 14  /* diff --exit-code: the deploy would change something */
#define EXIT_DIFF_UNREAD 15   /* diff: the release or the cluster could not be read */

static phd_ctx *g_ctx;

static void on_signal(int sig)
{
	(void)sig;
	if (g_ctx)
		phd_ctx_interrupt(g_ctx);
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
	/* a diff renders as a dry run does (the kube plugin compares under a
	 * dry run) and never reaches deploy: nothing is written */
	if (!strcmp(verb, "diff")) {
		*flags |= PHD_OPT_DRY_RUN;
		return PHD_PHASE_BIT(PHD_PHASE_VALIDATE) | PHD_PHASE_BIT(PHD_PHASE_SECRETS) |
		       PHD_PHASE_BIT(PHD_PHASE_REPO) | PHD_PHASE_BIT(PHD_PHASE_RENDER);
	}
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

/* The summary the helm plugin gives, as lines an operator reads. */
static void print_status(const char *text)
{
	static const char *const fields[][2] = {
		{ "release", "release" }, { "namespace", "namespace" }, { "state", "state" },
		{ "revision", "revision" }, { "chart", "chart" }, { "chart_version", "chart version" },
		{ "app_version", "app version" }, { "last_deployed", "last deployed" },
		{ "last_deployed_revision", "last good revision" }, { "description", "description" }
	};
	json_t *j = json_loads(text ? text : "", 0, NULL);

	if (!json_is_object(j)) {
		printf("%s\n", text ? text : "");
		json_decref(j);
		return;
	}
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		json_t *v = json_object_get(j, fields[i][0]);
		if (json_is_string(v))
			printf("%-20s%s\n", fields[i][1], json_string_value(v));
		else if (json_is_integer(v))
			printf("%-20s%lld\n", fields[i][1], (long long)json_integer_value(v));
	}
	json_decref(j);
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
		print_status(json);
	free(json);
	return 0;
}

/* The release's revisions (the helm plugin's status summary has them),
 * oldest first: a table, or one JSON event with the array. */
static int cmd_history(phd_ctx *ctx, struct out *o)
{
	char *text = NULL;
	json_t *j, *revs, *r;
	size_t i;
	int rc = phd_status(ctx, &text);

	if (rc) {
		int code = rc == PHD_ENOPROVIDER ? 1 : 8;
		out_error(o, code, phd_ctx_errmsg(ctx));
		return code;
	}
	j = json_loads(text ? text : "", 0, NULL);
	free(text);
	revs = json_object_get(j, "history");
	if (o->json) {
		json_t *ev = json_pack("{s:s, s:s?, s:s?, s:O}", "event", "history", "release",
				       phd_ctx_release(ctx), "namespace", phd_ctx_namespace(ctx),
				       "revisions", json_is_array(revs) ? revs : json_array());
		char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
		if (line)
			puts(line);
		free(line);
		json_decref(ev);
	} else if (!json_array_size(revs)) {
		printf("release %s in namespace %s: no revisions (%s)\n", phd_ctx_release(ctx),
		       phd_ctx_namespace(ctx), json_string_value(json_object_get(j, "state"))
		       ? json_string_value(json_object_get(j, "state")) : "no history");
	} else {
		printf("%-9s %-26s %-16s %-20s %-12s %s\n", "REVISION", "UPDATED", "STATUS", "CHART",
		       "APP VERSION", "DESCRIPTION");
		json_array_foreach(revs, i, r) {
			printf("%-9lld %-26.26s %-16s %-20s %-12s %s\n",
			       (long long)json_integer_value(json_object_get(r, "revision")),
			       json_string_value(json_object_get(r, "updated")),
			       json_string_value(json_object_get(r, "status")),
			       json_string_value(json_object_get(r, "chart")),
			       json_string_value(json_object_get(r, "app_version")),
			       json_string_value(json_object_get(r, "description")));
		}
	}
	json_decref(j);
	return 0;
}

/* What the command line asks for. */
struct cli {
	struct phd_options opts;
	struct valsrc { int kind; const char *arg; } *vals; /* -f, --set*: in order */
	size_t nvals;
	unsigned only, skip;
	int format, verbosity, help, yes, force, exit_code, undo;
	long long to_revision;      /* rollback --to-revision; 0: the last good one */
	const char *verb;
	char **args;                /* the verb's operands */
	int nargs;
};

#define CLI_CONTINUE (-1)

static int bad_usage(const char *verb)
{
	fprintf(stderr, "Try 'phdeploy %s%s--help'.\n", verb ? verb : "", verb ? " " : "");
	return EXIT_USAGE;
}

/* An option getopt refused: say which, and the nearest one we know. */
static int unknown_option(char **argv, int c)
{
	const char *word = argv[optind - 1], *near;

	if (c == ':') {
		fprintf(stderr, "phdeploy: option '%s' needs an argument\n", word);
		return bad_usage(NULL);
	}
	if (optopt && optopt != '-') {
		fprintf(stderr, "phdeploy: unknown option '-%c'\n", optopt);
		return bad_usage(NULL);
	}
	near = option_suggest(word);
	if (near)
		fprintf(stderr, "phdeploy: unknown option '%s'; did you mean '--%s'?\n", word, near);
	else
		fprintf(stderr, "phdeploy: unknown option '%s'\n", word);
	return bad_usage(NULL);
}

static int parse_output(const char *arg, int *format)
{
	static const char *const names[] = { "text", "json", "sarif", "junit" };
	for (int i = 0; i < 4; i++)
		if (!strcmp(arg, names[i])) {
			*format = i;
			return 0;
		}
	fprintf(stderr, "phdeploy: --output takes text, json, sarif or junit, not '%s'\n", arg);
	return EXIT_USAGE;
}

/* Options into cli.  Returns CLI_CONTINUE, or the exit status when done
 * already (--help, --version: 0; a usage error: 2). */
static int parse_args(int argc, char **argv, struct cli *cli)
{
	enum { O_CHART = 256, O_CHART_VERSION, O_ONLY, O_SKIP, O_HELM, O_KUBECTL,
	       O_DRY_RUN, O_VERSION, O_KUBE_CONTEXT, O_SET, O_SET_STRING, O_SET_FILE,
	       O_FORCE, O_TO_REVISION, O_EXIT_CODE, O_UNDO };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "values", required_argument, NULL, 'f' },
		{ "set", required_argument, NULL, O_SET },
		{ "set-string", required_argument, NULL, O_SET_STRING },
		{ "set-file", required_argument, NULL, O_SET_FILE },
		{ "namespace", required_argument, NULL, 'n' },
		{ "release", required_argument, NULL, 'r' },
		{ "chart", required_argument, NULL, O_CHART },
		{ "chart-version", required_argument, NULL, O_CHART_VERSION },
		{ "kube-context", required_argument, NULL, O_KUBE_CONTEXT },
		{ "only", required_argument, NULL, O_ONLY },
		{ "skip", required_argument, NULL, O_SKIP },
		{ "helm", required_argument, NULL, O_HELM },
		{ "kubectl", required_argument, NULL, O_KUBECTL },
		{ "yes", no_argument, NULL, 'y' },
		{ "output", required_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "force", no_argument, NULL, O_FORCE },
		{ "exit-code", no_argument, NULL, O_EXIT_CODE },
		{ "undo", no_argument, NULL, O_UNDO },
		{ "to-revision", required_argument, NULL, O_TO_REVISION },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "version", no_argument, NULL, O_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct phd_options *opts = &cli->opts;
	const struct verb *v;
	int c;

	opterr = 0; /* our messages suggest the option meant */
	while ((c = getopt_long(argc, argv, ":c:f:n:r:o:yvqh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': opts->config_path = optarg; break;
		case 'f':
			cli->vals[cli->nvals++] = (struct valsrc){ PHD_VALUES_FILE, optarg };
			break;
		case O_SET:
			cli->vals[cli->nvals++] = (struct valsrc){ PHD_VALUES_SET, optarg };
			break;
		case O_SET_STRING:
			cli->vals[cli->nvals++] = (struct valsrc){ PHD_VALUES_SET_STRING, optarg };
			break;
		case O_SET_FILE:
			cli->vals[cli->nvals++] = (struct valsrc){ PHD_VALUES_SET_FILE, optarg };
			break;
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
		case 'y': cli->yes = 1; break;
		case 'o':
			if (parse_output(optarg, &cli->format))
				return EXIT_USAGE;
			break;
		case O_DRY_RUN: opts->flags |= PHD_OPT_DRY_RUN; break;
		case O_FORCE: cli->force = 1; break;
		case O_EXIT_CODE: cli->exit_code = 1; break;
		case O_UNDO: cli->undo = 1; break;
		case O_TO_REVISION: {
			char *end;
			errno = 0;
			cli->to_revision = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg || cli->to_revision < 1) {
				fprintf(stderr, "phdeploy: --to-revision takes a revision number "
					"(1 or more), not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'v': cli->verbosity++; break;
		case 'q': cli->verbosity = -1; break;
		case O_VERSION:
			printf("phdeploy %s (libphdeploy %s, plugin ABI %d.%d)\n", PACKAGE_VERSION,
			       phd_version(), PHD_PLUGIN_ABI_MAJOR, PHD_PLUGIN_ABI_MINOR);
			return 0;
		case 'h': cli->help = 1; break;
		default:
			return unknown_option(argv, c);
		}
	}
	cli->verb = optind < argc ? argv[optind] : NULL;
	cli->args = argv + optind + (optind < argc);
	cli->nargs = argc - optind - (optind < argc);
	if (cli->help || (cli->verb && !strcmp(cli->verb, "help"))) {
		const char *topic = cli->help ? cli->verb : cli->nargs ? cli->args[0] : NULL;
		if (!topic) {
			usage(stdout);
			return 0;
		}
		if (!(v = verb_find(topic))) {
			const char *near = verb_suggest(topic);
			fprintf(stderr, "phdeploy: unknown verb '%s'%s%s%s\n", topic,
				near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
			return bad_usage(NULL);
		}
		verb_help(stdout, v);
		return 0;
	}
	if (!cli->verb) {
		fprintf(stderr, "phdeploy: missing VERB\n");
		return bad_usage(NULL);
	}
	if (!(v = verb_find(cli->verb))) {
		const char *near = verb_suggest(cli->verb);
		fprintf(stderr, "phdeploy: unknown verb '%s'%s%s%s\n", cli->verb,
			near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
		return bad_usage(NULL);
	}
	if (cli->nargs > !strcmp(cli->verb, "explain") + !strcmp(cli->verb, "init")) {
		fprintf(stderr, "phdeploy: one VERB only, got '%s' after it\n",
			cli->args[cli->nargs - 1]);
		return bad_usage(cli->verb);
	}
	if (cli->to_revision && strcmp(cli->verb, "rollback")) {
		fprintf(stderr, "phdeploy: --to-revision is for rollback, not %s\n", cli->verb);
		return bad_usage(cli->verb);
	}
	if (cli->exit_code && strcmp(cli->verb, "diff")) {
		fprintf(stderr, "phdeploy: --exit-code is for diff, not %s\n", cli->verb);
		return bad_usage(cli->verb);
	}
	if (cli->undo && strcmp(cli->verb, "migrate-release")) {
		fprintf(stderr, "phdeploy: --undo is for migrate-release, not %s\n", cli->verb);
		return bad_usage(cli->verb);
	}
	if (!strcmp(cli->verb, "explain") && cli->nargs != 1) {
		fprintf(stderr, "phdeploy: explain needs an exit status or a rule id\n");
		return bad_usage(cli->verb);
	}
	opts->verbosity = cli->verbosity;
	return CLI_CONTINUE;
}

/* The verbs that run no phase. */
static int phaseless(const char *verb)
{
	static const char *const names[] = { "plugins", "status", "explain", "init", "history",
					     "doctor", "migrate-release", NULL };
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(verb, names[i]))
			return 1;
	return 0;
}

/* The phases the verb runs, narrowed by --only and --skip; 0 for the verbs
 * that run no phase.  Returns CLI_CONTINUE or EXIT_USAGE. */
static int phases_of(struct cli *cli, unsigned *mask)
{
	*mask = 0;
	if (phaseless(cli->verb))
		return CLI_CONTINUE;
	*mask = verb_mask(cli->verb, &cli->opts.flags);
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
	for (size_t i = 0; i < cli->nvals; i++)
		if ((rc = phd_ctx_add_values(*out, cli->vals[i].kind, cli->vals[i].arg)) != 0) {
			out_error(o, rc == PHD_EINVAL ? EXIT_USAGE : 1, phd_ctx_errmsg(*out));
			phd_ctx_free(*out);
			*out = NULL;
			return rc == PHD_EINVAL ? EXIT_USAGE : 1;
		}
	if (cli->to_revision)
		phd_ctx_set_rollback_revision(*out, cli->to_revision);
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

/* The API server the kube context points at, from kubectl's view of the
 * kubeconfig (free()), or NULL when kubectl cannot say. */
static char *cluster_server(phd_ctx *ctx)
{
	const char *argv[8];
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res;
	char *server = NULL;
	size_t n = 0;

	argv[n++] = phd_ctx_kubectl(ctx);
	argv[n++] = "config";
	argv[n++] = "view";
	argv[n++] = "--minify";
	argv[n++] = "-o";
	argv[n++] = "jsonpath={.clusters[0].cluster.server}";
	argv[n] = NULL;
	if (phd_ctx_kube_context(ctx)) { /* --context=X as one word keeps argv short */
		static char buf[512];
		snprintf(buf, sizeof buf, "--context=%s", phd_ctx_kube_context(ctx));
		argv[n++] = buf;
		argv[n] = NULL;
	}
	spec.argv = argv;
	spec.flags = PHD_EXEC_CAPTURE_STDOUT;
	spec.timeout_ms = 10000;
	if (phd_exec_run(ctx, &spec, &res) == 0 && res.exit_code == 0 && res.out && *res.out)
		server = strdup(res.out);
	phd_exec_result_clear(&res);
	if (server)
		server[strcspn(server, "\r\n")] = '\0';
	return server;
}

/* Say what a deploy or rollback is about to change, then, on a terminal
 * and without --yes, ask.  Returns CLI_CONTINUE, 13 when not confirmed, or
 * the load failure's status. */
static int confirm_target(phd_ctx *ctx, const struct cli *cli, struct out *o)
{
	char *server, answer[16] = "";
	const char *ctxname, *version;
	int rc = phd_ctx_load(ctx);

	if (rc)
		return CLI_CONTINUE; /* phd_run reports it, with its exit status */
	server = cluster_server(ctx);
	ctxname = phd_ctx_kube_context(ctx);
	version = phd_ctx_chart_version(ctx);
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s?}", "event", "target",
				      "verb", cli->verb, "kube_context", ctxname, "server", server,
				      "namespace", phd_ctx_namespace(ctx), "release",
				      phd_ctx_release(ctx), "chart", phd_ctx_chart(ctx),
				      "chart_version", version);
		char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (t)
			printf("%s\n", t);
		fflush(stdout);
		free(t);
		json_decref(j);
	}
	fprintf(stderr, "phdeploy: %s target\n"
		"  kube context   %s\n  cluster        %s\n  namespace      %s\n"
		"  release        %s\n  chart          %s %s\n", cli->verb,
		ctxname ? ctxname : "(the kubeconfig's current context)",
		server ? server : "(unknown: kubectl config view gave nothing)",
		phd_ctx_namespace(ctx), phd_ctx_release(ctx), phd_ctx_chart(ctx),
		version ? version : strcmp(cli->verb, "deploy") ? "" : "(newest)");
	if (!strcmp(cli->verb, "migrate-release"))
		fprintf(stderr, "  rewrite        %s\n", cli->undo ? "put the backed-up release "
			"record back" : "the deployed revision's removed APIs (backed up first)");
	if (!strcmp(cli->verb, "rollback")) {
		if (cli->to_revision)
			fprintf(stderr, "  to revision    %lld\n", cli->to_revision);
		else
			fprintf(stderr, "  to revision    the last good one\n");
	}
	free(server);
	/* in CI nobody can answer: the target is in the log, go on */
	if (cli->yes || !isatty(0) || !isatty(2))
		return CLI_CONTINUE;
	fprintf(stderr, "Proceed with %s? [y/N] ", cli->verb);
	fflush(stderr);
	if (!fgets(answer, sizeof answer, stdin))
		answer[0] = '\0';
	answer[strcspn(answer, "\r\n")] = '\0';
	if (!strcasecmp(answer, "y") || !strcasecmp(answer, "yes"))
		return CLI_CONTINUE;
	out_error(o, EXIT_NOT_CONFIRMED, "not confirmed: nothing was changed");
	return EXIT_NOT_CONFIRMED;
}

/* A diff's exit status: the kube plugin's summary finding (object
 * release/NAME) says the comparison was made; other diff findings are
 * changes.  0, 14 (changes, with --exit-code) or 15 (nothing compared). */
static int diff_status(phd_ctx *ctx, const struct cli *cli, struct out *o)
{
	size_t changes = 0;
	int summary = 0;

	for (size_t i = 0; i < phd_ctx_finding_count(ctx); i++) {
		const struct phd_finding *f = phd_ctx_finding(ctx, i);
		if (!f->rule || strcmp(f->rule, "diff"))
			continue;
		if (f->object && !strncmp(f->object, "release/", 8))
			summary = 1;
		else
			changes++;
	}
	if (!summary) {
		out_error(o, EXIT_DIFF_UNREAD, "diff: the release and the live objects could not be "
			  "read (see the warnings above; is the kube plugin loaded and the cluster "
			  "reachable?)");
		return EXIT_DIFF_UNREAD;
	}
	if (cli->format != OUT_FORMAT_JSON && cli->verbosity >= 0)
		fprintf(stderr, "phdeploy: diff: %zu object(s) or value set(s) would change; "
			"nothing was changed\n", changes);
	return changes && cli->exit_code ? EXIT_DIFF_CHANGES : 0;
}

/* migrate-release: the helm plugin's action, after the target is shown
 * (and confirmed).  0, 2 (usage), 12 (locked), 13 (not confirmed), or 8:
 * the record was not changed or not restored (the message says which). */
static int cmd_migrate(phd_ctx *ctx, const struct cli *cli, struct out *o)
{
	int rc, code;

	if ((rc = phd_ctx_load(ctx))) {
		code = rc == PHD_EPLUGIN || rc == PHD_EABI || rc == PHD_ENOMEM ? 1 : 3;
		out_error(o, code, phd_ctx_errmsg(ctx));
		return code;
	}
	if (!(cli->opts.flags & PHD_OPT_DRY_RUN) &&
	    (code = confirm_target(ctx, cli, o)) != CLI_CONTINUE)
		return code;
	rc = phd_run_action(ctx, "migrate-release", cli->undo ? PHD_ACTION_UNDO : 0);
	if (!rc)
		return 0;
	code = rc == PHD_ELOCKED ? 12 : rc == PHD_EINVAL ? EXIT_USAGE
	       : rc == PHD_ENOPROVIDER || rc == PHD_EPLUGIN || rc == PHD_EABI ? 1 : 8;
	out_error(o, code, phd_ctx_errmsg(ctx));
	return code;
}

/* Run the phases; render alone in text mode prints the manifests. */
static int cmd_run(phd_ctx *ctx, const struct cli *cli, struct out *o, unsigned mask)
{
	int plan = (cli->opts.flags & PHD_OPT_PLAN) != 0, rc, code;

	if ((!strcmp(cli->verb, "deploy") || !strcmp(cli->verb, "rollback")) &&
	    !(cli->opts.flags & PHD_OPT_DRY_RUN) &&
	    (code = confirm_target(ctx, cli, o)) != CLI_CONTINUE)
		return code;
	rc = phd_run(ctx, mask);
	code = phd_exit_code(ctx, rc);

	if (rc == 0 && cli->format == OUT_FORMAT_TEXT && (mask & PHD_PHASE_BIT(PHD_PHASE_RENDER)) && !plan &&
	    !strcmp(cli->verb, "render")) {
		size_t len;
		const char *m = phd_rendered(ctx, &len);
		if (m)
			fwrite(m, 1, len, stdout);
	}
	if (report_write(ctx, cli->format, stdout))
		out_log(PHD_LOG_ERROR, "cannot write the report (out of memory)", o);
	if (rc)
		out_error(o, code, phd_ctx_errmsg(ctx));
	else if (!strcmp(cli->verb, "diff"))
		code = diff_status(ctx, cli, o);
	else if (cli->format != OUT_FORMAT_JSON && cli->verbosity >= 0 && plan)
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

	cli.vals = calloc((size_t)argc + 1, sizeof *cli.vals);
	if (!cli.vals)
		return 1;
	if ((code = parse_args(argc, argv, &cli)) == CLI_CONTINUE)
		code = phases_of(&cli, &mask);
	if (code == CLI_CONTINUE && !strcmp(cli.verb, "explain"))
		code = cmd_explain(cli.args[0]);
	if (code == CLI_CONTINUE && !strcmp(cli.verb, "init"))
		code = cmd_init(cli.nargs ? cli.args[0] : NULL, cli.force,
				cli.format == OUT_FORMAT_JSON);
	if (code == CLI_CONTINUE) {
		out_init(&o, cli.format == OUT_FORMAT_JSON, cli.verbosity);
		o.plan = (cli.opts.flags & PHD_OPT_PLAN) != 0;
		o.diff = !strcmp(cli.verb, "diff");
		code = open_ctx(&cli, &o, &ctx);
	}
	free(cli.vals); /* the context has its own copy */
	if (code != CLI_CONTINUE)
		return code;
	if (!strcmp(cli.verb, "plugins"))
		code = cmd_plugins(ctx, &o);
	else if (!strcmp(cli.verb, "status"))
		code = cmd_status(ctx, &o);
	else if (!strcmp(cli.verb, "history"))
		code = cmd_history(ctx, &o);
	else if (!strcmp(cli.verb, "doctor"))
		code = cmd_doctor(ctx, o.json);
	else if (!strcmp(cli.verb, "migrate-release"))
		code = cmd_migrate(ctx, &cli, &o);
	else
		code = cmd_run(ctx, &cli, &o, mask);
	out_flush(&o);
	g_ctx = NULL;
	phd_ctx_free(ctx);
	return code;
}
