/* phdeploy doctor: is this machine ready to deploy?  helm, kubectl, the
 * kube context and its cluster, the chart and the config, each checked
 * without running a phase that could change anything (the config check is
 * the validate phase, which reads only).  The chart repository's index is
 * read with the helm plugin's own index code (fetch.c, index.c, semver.c
 * are compiled in), so doctor and the repo phase cannot disagree. */
#include "config.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>
#include <phdeploy/plugin.h>

#include "cmds.h"
#include "helm-private.h"

#define DOCTOR_TOOL_MS 10000LL    /* helm/kubectl answering about themselves */
#define DOCTOR_CLUSTER_S 5        /* the API server's answer: a short wait */
#define DOCTOR_REPO_S 15           /* the index: 2.5 MB for PostHog's repository */
#define DOCTOR_POSTHOG_REPO "https://posthog.github.io/charts-clickhouse/"

enum { D_OK, D_WARN, D_FAIL };

struct doctor {
	phd_ctx *ctx;
	int json, worst;
	int kubectl_ok;          /* the context and cluster need it */
	char *context;        /* the context used (the option or current-context) */
};

/* One item: "ok   helm      v4.1.0 ..." and, when not ok, the fix. */
static void item(struct doctor *d, int status, const char *name, const char *fix,
		 const char *fmt, ...) PHD_PRINTF(5, 6);
static void item(struct doctor *d, int status, const char *name, const char *fix,
		 const char *fmt, ...)
{
	static const char *const words[] = { "ok", "warn", "fail" };
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	if (status > d->worst)
		d->worst = status;
	if (d->json) {
		json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "event", "doctor", "item", name,
				      "status", words[status], "message", msg, "fix",
				      status == D_OK ? NULL : fix);
		char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (t)
			puts(t);
		free(t);
		json_decref(j);
	} else if (status == D_OK || !fix) {
		printf("%-4s  %-9s %s\n", words[status], name, msg);
	} else {
		printf("%-4s  %-9s %s; fix: %s\n", words[status], name, msg, fix);
	}
	fflush(stdout);
}

/* Run argv with a deadline, stdout and stderr captured.  0 when it ran;
 * PHD_ENOTFOUND when argv[0] is not there; PHD_ETIMEOUT. */
static int run(struct doctor *d, const char *const *argv, long long ms,
	       struct phd_exec_result *res)
{
	struct phd_exec spec = PHD_EXEC_INIT;

	spec.argv = argv;
	spec.flags = PHD_EXEC_CAPTURE_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.timeout_ms = ms;
	return phd_exec_run(d->ctx, &spec, res);
}

/* The last non-empty line a tool wrote on stderr (what it complains of). */
static const char *last_line(const struct phd_exec_result *res, char *buf, size_t len)
{
	const char *s = res->err && *res->err ? res->err : res->out ? res->out : "";
	const char *end = s + strlen(s), *start;

	while (end > s && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	for (start = end; start > s && start[-1] != '\n'; start--)
		;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
	return *buf ? buf : "no message";
}

/* Run a tool's version command (argv[0] the tool): 0 when it ran and
 * exited 0, else the item failed, with install_fix when it is missing. */
static int tool_version(struct doctor *d, const char *name, const char *const *argv,
			const char *install_fix, struct phd_exec_result *res)
{
	char line[256];
	int rc = run(d, argv, DOCTOR_TOOL_MS, res);

	if (rc == PHD_ENOTFOUND)
		item(d, D_FAIL, name, install_fix, "%s: not found", argv[0]);
	else if (rc || res->exit_code)
		item(d, D_FAIL, name, "run it by hand: it must print its version",
		     "%s %s failed: %s", argv[0], argv[1],
		     rc ? phd_strerror(rc) : last_line(res, line, sizeof line));
	return rc || res->exit_code ? -1 : 0;
}

static void check_helm(struct doctor *d)
{
	const char *helm = phd_ctx_helm(d->ctx);
	const char *argv[] = { helm, "version", "--short", NULL };
	struct phd_exec_result res;
	unsigned major = 0, minor = 0, patch = 0;
	char line[256];

	if (tool_version(d, "helm", argv, "install helm 3.7+ or 4 (https://helm.sh/docs/intro/"
			 "install/), or name it with --helm PATH or PHDEPLOY_HELM", &res)) {
		phd_exec_result_clear(&res);
		return;
	}
	if (sscanf(res.out ? res.out : "", "v%u.%u.%u", &major, &minor, &patch) < 2)
		item(d, D_FAIL, "helm", "name a helm binary with --helm PATH",
		     "%s: cannot read a version in \"%s\"", helm, last_line(&res, line, sizeof line));
	else if (major == 3 && minor < 7)
		item(d, D_FAIL, "helm", "install helm 3.7 or later, or helm 4",
		     "%s is helm %u.%u.%u: older than 3.7", helm, major, minor, patch);
	else if (major != 3 && major != 4)
		item(d, D_FAIL, "helm", "install helm 3.7+ or 4",
		     "%s is helm %u.%u.%u: major version %u is not supported", helm, major, minor,
		     patch, major);
	else
		item(d, D_OK, "helm", NULL, "%s: helm %u.%u.%u (helm %u)", helm, major, minor, patch,
		     major);
	phd_exec_result_clear(&res);
}

/* gitVersion of obj[key] in kubectl's version JSON, or NULL. */
static const char *git_version(json_t *j, const char *key)
{
	return json_string_value(json_object_get(json_object_get(j, key), "gitVersion"));
}

static void check_kubectl(struct doctor *d)
{
	const char *kubectl = phd_ctx_kubectl(d->ctx);
	const char *argv[] = { kubectl, "version", "--client", "-o", "json", NULL };
	struct phd_exec_result res;
	json_t *j = NULL;

	if (tool_version(d, "kubectl", argv, "install kubectl (https://kubernetes.io/docs/tasks/"
			 "tools/), or name it with --kubectl PATH or PHDEPLOY_KUBECTL", &res)) {
		phd_exec_result_clear(&res);
		return;
	}
	j = json_loads(res.out ? res.out : "", 0, NULL);
	if (!git_version(j, "clientVersion")) {
		item(d, D_FAIL, "kubectl", "name a kubectl binary with --kubectl PATH",
		     "%s: no clientVersion in its version output", kubectl);
	} else {
		d->kubectl_ok = 1;
		item(d, D_OK, "kubectl", NULL, "%s: kubectl %s", kubectl,
		     git_version(j, "clientVersion"));
	}
	json_decref(j);
	phd_exec_result_clear(&res);
}

/* The context exists in the kubeconfig, then its API server answers. */
static void check_context(struct doctor *d)
{
	const char *kubectl = phd_ctx_kubectl(d->ctx), *want = phd_ctx_kube_context(d->ctx);
	const char *names[] = { kubectl, "config", "get-contexts", "-o", "name", NULL };
	const char *current[] = { kubectl, "config", "current-context", NULL };
	struct phd_exec_result res;
	char line[256];
	int found = 0, rc;

	if (!d->kubectl_ok) {
		item(d, D_FAIL, "context", "fix kubectl first", "not checked: kubectl does not run");
		return;
	}
	if (!want) {
		rc = run(d, current, DOCTOR_TOOL_MS, &res);
		if (!rc && !res.exit_code && res.out && *res.out) {
			res.out[strcspn(res.out, "\r\n")] = '\0';
			d->context = strdup(res.out);
		}
		phd_exec_result_clear(&res);
		if (!d->context) {
			item(d, D_FAIL, "context", "name one with --kube-context or kube.context, or "
			     "run kubectl config use-context NAME",
			     "no kube context named and the kubeconfig has no current context");
			return;
		}
	} else if (!(d->context = strdup(want))) {
		return;
	}
	rc = run(d, names, DOCTOR_TOOL_MS, &res);
	if (!rc && !res.exit_code && res.out)
		for (char *save = NULL, *t = strtok_r(res.out, "\n", &save); t && !found;
		     t = strtok_r(NULL, "\n", &save))
			found = !strcmp(t, d->context);
	if (rc || res.exit_code)
		item(d, D_FAIL, "context", "check KUBECONFIG and the kubeconfig file",
		     "kubectl config get-contexts failed: %s",
		     rc ? phd_strerror(rc) : last_line(&res, line, sizeof line));
	else if (!found)
		item(d, D_FAIL, "context", "kubectl config get-contexts lists the contexts; name one "
		     "with --kube-context or kube.context (KUBECONFIG picks the file)",
		     "context \"%s\" is not in the kubeconfig", d->context);
	else
		item(d, D_OK, "context", NULL, "context \"%s\" is in the kubeconfig%s", d->context,
		     want ? "" : " (its current context)");
	phd_exec_result_clear(&res);
	if (!found) {
		free(d->context);
		d->context = NULL;
	}
}

static void check_cluster(struct doctor *d)
{
	char ctxarg[320], timeout[32], line[256];
	const char *argv[] = { phd_ctx_kubectl(d->ctx), ctxarg, timeout, "version", "-o", "json",
			       NULL };
	struct phd_exec_result res;
	json_t *j = NULL;
	int rc;

	if (!d->context) {
		item(d, D_FAIL, "cluster", "fix the kube context first",
		     "not checked: no usable kube context");
		return;
	}
	snprintf(ctxarg, sizeof ctxarg, "--context=%s", d->context);
	snprintf(timeout, sizeof timeout, "--request-timeout=%ds", DOCTOR_CLUSTER_S);
	/* kubectl's own timeout first; ours a little later in case it hangs
	 * outside the request (an exec credential plugin) */
	rc = run(d, argv, (DOCTOR_CLUSTER_S + 3) * 1000LL, &res);
	if (!rc && !res.exit_code)
		j = json_loads(res.out ? res.out : "", 0, NULL);
	if (rc == PHD_ETIMEOUT || (!rc && res.timed_out))
		item(d, D_FAIL, "cluster", "check the network path to the API server (VPN, "
		     "bastion, security groups) and the credentials' helper",
		     "context \"%s\": no answer within %d s", d->context, DOCTOR_CLUSTER_S + 3);
	else if (rc || res.exit_code || !git_version(j, "serverVersion"))
		item(d, D_FAIL, "cluster", "check the network path to the API server (VPN, "
		     "bastion, security groups) and the credentials (kubectl get --raw /version)",
		     "context \"%s\": the API server does not answer: %s", d->context,
		     rc ? phd_strerror(rc) : last_line(&res, line, sizeof line));
	else
		item(d, D_OK, "cluster", NULL, "context \"%s\": Kubernetes %s answers", d->context,
		     git_version(j, "serverVersion"));
	json_decref(j);
	phd_exec_result_clear(&res);
}

/* Where the repository's index is: chart.repo.index, chart.repo.url with
 * index.yaml, or PostHog's repository for "posthog/...".  malloc'd. */
static char *index_location(phd_ctx *ctx, const char *repo)
{
	const phd_node *chart = phd_node_get(phd_ctx_config(ctx), "chart");
	const char *index = NULL, *url = NULL;
	char *out = NULL;
	struct stat st;

	if (phd_node_type(chart) == PHD_NODE_MAP) {
		index = phd_node_str(phd_node_get(chart, "repo.index"));
		url = phd_node_str(phd_node_get(chart, "repo.url"));
	}
	if (index && index[0] != '/' && !strstr(index, "://") &&
	    phd_node_file(phd_node_get(chart, "repo.index"))) {
		/* relative to the config file, as the repo phase reads it */
		const char *cf = phd_node_file(phd_node_get(chart, "repo.index"));
		const char *slash = strrchr(cf, '/');
		if (slash && asprintf(&out, "%.*s/%s", (int)(slash - cf), cf, index) < 0)
			out = NULL;
		return slash ? out : strdup(index);
	}
	if (index)
		return strdup(index);
	if (!url && !strcmp(repo, "posthog"))
		url = DOCTOR_POSTHOG_REPO;
	if (!url || !*url)
		return NULL;
	if (!strncmp(url, "file://", 7) && !stat(url + 7, &st) && S_ISREG(st.st_mode))
		return strdup(url);
	if (asprintf(&out, "%s%sindex.yaml", url, url[strlen(url) - 1] == '/' ? "" : "/") < 0)
		return NULL;
	return out;
}

/* The index fetch has no deadline of its own short enough for a doctor:
 * an alarm interrupts the context, which the transfer polls. */
static phd_ctx *volatile alarm_ctx;
static volatile sig_atomic_t alarm_fired;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
	if (alarm_ctx)
		phd_ctx_interrupt(alarm_ctx);
}

static int fetch_index(struct doctor *d, const char *src, char **buf, size_t *len)
{
	struct sigaction sa, old;
	int rc;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	alarm_ctx = d->ctx;
	alarm_fired = 0;
	sigaction(SIGALRM, &sa, &old);
	alarm(DOCTOR_REPO_S);
	rc = helm_index_fetch(d->ctx, src, HELM_INDEX_MAX, buf, len);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	alarm_ctx = NULL;
	return rc;
}

static void check_repo_chart(struct doctor *d, const char *chart)
{
	const char *slash = strchr(chart, '/'), *want = phd_ctx_chart_version(d->ctx);
	const struct helm_index_entry *e;
	struct helm_index idx;
	char repo[128], err[512], *src, *buf = NULL;
	size_t len = 0;
	int allow_pre = 0, rc;

	memset(&idx, 0, sizeof idx);
	snprintf(repo, sizeof repo, "%.*s", (int)(slash - chart), chart);
	phd_node_bool(phd_node_get(phd_ctx_config(d->ctx), "chart.allow_prerelease"), &allow_pre);
	if (!(src = index_location(d->ctx, repo))) {
		item(d, D_FAIL, "chart", "set chart.repo.url in phdeploy.yaml",
		     "%s: no URL known for repository \"%s\"", chart, repo);
		return;
	}
	if ((rc = fetch_index(d, src, &buf, &len)) && alarm_fired) {
		item(d, D_FAIL, "chart", "check that the repository answers from here (proxy, "
		     "firewall) and is not overloaded", "%s: no complete answer within %d s",
		     src, DOCTOR_REPO_S);
	} else if (rc) {
		item(d, D_FAIL, "chart", "check chart.repo.url and that the repository answers "
		     "from here (proxy, firewall)", "%s", phd_ctx_errmsg(d->ctx));
	} else if ((rc = helm_index_parse(&idx, buf, len, slash + 1, src, err, sizeof err))) {
		item(d, D_FAIL, "chart", "check chart.repo.url: it must serve a helm repository "
		     "index.yaml", "%s", err);
	} else if (!idx.n) {
		item(d, D_FAIL, "chart", "check the chart name (repo/name) against the repository",
		     "%s: the repository's index has no chart \"%s\"", src, slash + 1);
	} else if ((rc = helm_index_resolve(&idx, want, allow_pre, &e, err, sizeof err))) {
		item(d, D_FAIL, "chart", "pin a version the repository lists (chart.version or "
		     "--chart-version)", "%s: %s", chart, err);
	} else if (!want) {
		item(d, D_WARN, "chart", "pin the version you tested (chart.version or "
		     "--chart-version): a new chart release would be deployed as it appears",
		     "%s: not pinned; the repository's newest is %s", chart, e->version);
	} else {
		item(d, D_OK, "chart", NULL, "%s %s is in the repository (%s)", chart, e->version, src);
	}
	helm_index_free(&idx);
	free(buf);
	free(src);
}

/* A local .tgz or chart directory: readable, with a Chart.yaml. */
static void check_local_chart(struct doctor *d, const char *chart)
{
	struct stat st;
	char *cy = NULL;
	int fd;

	if (stat(chart, &st)) {
		item(d, D_FAIL, "chart", "name an existing .tgz or chart directory with --chart or "
		     "chart.name", "%s: no such file or directory", chart);
		return;
	}
	if (S_ISDIR(st.st_mode) && asprintf(&cy, "%s/Chart.yaml", chart) < 0)
		cy = NULL;
	fd = open(cy ? cy : chart, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		item(d, D_FAIL, "chart", "make the chart readable, or name another with --chart",
		     "%s%s: cannot be read", chart, cy ? "/Chart.yaml" : "");
	else if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		item(d, D_FAIL, "chart", "name a .tgz or a chart directory", "%s: not a file",
		     chart);
	else
		item(d, D_OK, "chart", NULL, "%s: a local chart, readable", chart);
	if (fd >= 0)
		close(fd);
	free(cy);
}

static void check_chart(struct doctor *d)
{
	const char *chart = phd_ctx_chart(d->ctx);
	struct stat st;
	size_t n;

	if (!chart) {
		item(d, D_FAIL, "chart", "set chart.name or --chart", "no chart configured");
		return;
	}
	n = strlen(chart);
	if (!strncmp(chart, "oci://", 6))
		item(d, D_WARN, "chart", "run phdeploy repo: it pulls the chart from the registry",
		     "%s: an OCI chart; doctor does not contact registries", chart);
	else if (!stat(chart, &st) || chart[0] == '/' || chart[0] == '.' ||
		 (n > 4 && !strcmp(chart + n - 4, ".tgz")) || !strchr(chart, '/'))
		check_local_chart(d, chart);
	else
		check_repo_chart(d, chart);
}

/* The config loads (plugins included) and the validate phase passes. */
static int check_config(struct doctor *d)
{
	int rc = phd_ctx_load(d->ctx);
	size_t errors = 0;
	const struct phd_finding *first = NULL;

	if (rc) {
		item(d, D_FAIL, "config", "fix the file at the position named (phdeploy.yaml(5))",
		     "%s", phd_ctx_errmsg(d->ctx));
		return rc;
	}
	/* the findings are summed up here, not streamed */
	phd_ctx_set_event_cb(d->ctx, NULL, NULL);
	rc = phd_run(d->ctx, PHD_PHASE_BIT(PHD_PHASE_VALIDATE));
	for (size_t i = 0; i < phd_ctx_finding_count(d->ctx); i++) {
		const struct phd_finding *f = phd_ctx_finding(d->ctx, i);
		if (f->severity >= PHD_SEV_ERROR && !errors++)
			first = f;
	}
	if (rc && first) {
		char where[320] = "";
		if (first->file)
			snprintf(where, sizeof where, "%s:%u:%u: ", first->file, first->line,
				 first->column);
		item(d, D_FAIL, "config", "run phdeploy validate for every finding; phdeploy "
		     "explain RULE says why it matters", "validate: %zu error%s: %s%s (%s)",
		     errors, errors == 1 ? "" : "s, the first", where, first->message, first->rule);
	}
	else if (rc)
		item(d, D_FAIL, "config", "run phdeploy validate", "%s", phd_ctx_errmsg(d->ctx));
	else
		item(d, D_OK, "config", NULL, "loads and validates (release %s, namespace %s)",
		     phd_ctx_release(d->ctx), phd_ctx_namespace(d->ctx));
	return 0;
}

int cmd_doctor(phd_ctx *ctx, int json)
{
	struct doctor d = { .ctx = ctx, .json = json };
	int loaded = check_config(&d) == 0;

	check_helm(&d);
	check_kubectl(&d);
	check_context(&d);
	check_cluster(&d);
	if (loaded)
		check_chart(&d);
	else
		item(&d, D_FAIL, "chart", "fix the config first", "not checked: the config does "
		     "not load");
	free(d.context);
	return d.worst == D_OK ? 0 : EXIT_DOCTOR;
}
