/* Helpers shared by the dependency checks; see depcheck.h. */
#include "depcheck.h"
#include "deadline.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SKIP_ENV "SKIP_SERVICE_VERSION_REQUIREMENTS"

const char *phd_dc_at(const phd_node *n, char *buf, size_t len)
{
	const char *file = n ? phd_node_file(n) : NULL;

	if (!n)
		snprintf(buf, len, "chart default");
	else
		snprintf(buf, len, "%s:%u:%u", file ? file : "values", phd_node_line(n),
			 phd_node_column(n));
	return buf;
}

void phd_dc_init(struct phd_dc *dc, phd_check *chk, const char *name)
{
	long long left = phd_check_remaining_ms(chk);
	long long margin;

	dc->chk = chk;
	dc->name = name;
	dc->values = phd_ctx_values(phd_check_ctx(dc->chk));
	dc->errors = 0;
	dc->first[0] = '\0';
	dc->ep_key = dc->ep_port_key = NULL;
	dc->ep_node = NULL;
	dc->ep_nhosts = 0;
	if (left <= 0)
		left = 10000;
	/* keep time to report what timed out before the core kills us: a
	 * fifth of the deadline (at most 500 ms), enough on a loaded machine
	 * or under a sanitizer */
	margin = left / 5 < 500 ? left / 5 : 500;
	dc->deadline = phd_dl_now_ms() + left - margin;
}

long long phd_dc_left(const struct phd_dc *dc)
{
	return phd_dl_left_ms(dc->deadline);
}

int phd_dc_wait(const struct phd_dc *dc, int fd, short events)
{
	return phd_dl_wait(fd, events, dc->deadline);
}

static long long dc_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long phd_dc_rtt(struct phd_dc *dc, int (*probe)(void *arg), void *arg, const char *what,
		     long long warn_ms)
{
	long long v[3], lo, hi, mid;
	int i;

	for (i = 0; i < 3; i++) {
		long long t0 = dc_now_us();

		if (probe(arg) != 0)
			return -1;
		v[i] = dc_now_us() - t0;
	}
	lo = v[0] < v[1] ? v[0] : v[1];
	hi = v[0] < v[1] ? v[1] : v[0];
	mid = v[2] < lo ? lo : v[2] > hi ? hi : v[2];
	phd_dc_note(dc, mid > warn_ms * 1000 ? PHD_SEV_WARN : PHD_SEV_INFO,
		    "round trip %.1f ms (median of 3 %s; warning above %lld ms, "
		    "checks.%s.max_latency)", mid / 1000.0, what, warn_ms, dc->name);
	return mid;
}

void phd_dc_note(struct phd_dc *dc, int severity, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (severity == PHD_SEV_ERROR && dc->ep_key && !strstr(msg, dc->ep_key)) {
		for (size_t i = 0; i < dc->ep_nhosts; i++) {
			size_t len = strlen(msg);
			char at[300];
			if (!strstr(msg, dc->ep_hosts[i]))
				continue;
			snprintf(msg + len, sizeof msg - len, " [the endpoint is %s (%s)%s%s]",
				 dc->ep_key, phd_dc_at(dc->ep_node, at, sizeof at),
				 dc->ep_port_key ? " and " : "",
				 dc->ep_port_key ? dc->ep_port_key : "");
			break;
		}
	}
	phd_check_note(dc->chk, severity, "%s", msg);
	if (severity == PHD_SEV_ERROR && dc->errors++ == 0)
		snprintf(dc->first, sizeof dc->first, "%s", msg);
}

void phd_dc_set_endpoint(struct phd_dc *dc, const char *key, const char *port_key,
			 const phd_node *node)
{
	dc->ep_key = key;
	dc->ep_port_key = port_key;
	dc->ep_node = node;
	dc->ep_nhosts = 0;
}

void phd_dc_add_host(struct phd_dc *dc, const char *host)
{
	if (host && *host && dc->ep_nhosts < sizeof dc->ep_hosts / sizeof dc->ep_hosts[0])
		dc->ep_hosts[dc->ep_nhosts++] = host;
}

const char *phd_dc_str(const phd_node *values, const char *path)
{
	const char *s = phd_node_str(phd_node_get(values, path));

	return s && *s ? s : NULL;
}

int phd_dc_bool(struct phd_dc *dc, const phd_node *base, const char *path, int dflt)
{
	const phd_node *n = phd_node_get(base, path);
	char at[300];
	int b;

	if (!n || phd_node_type(n) == PHD_NODE_NULL)
		return dflt;
	if (phd_node_bool(n, &b) == 0)
		return b;
	phd_dc_note(dc, PHD_SEV_ERROR, "%s (%s) must be true or false", path,
		       phd_dc_at(n, at, sizeof at));
	return dflt;
}

int phd_dc_port(struct phd_dc *dc, const phd_node *values, const char *path, int dflt, int *out)
{
	const phd_node *n = phd_node_get(values, path);
	long long v;
	char at[300];

	*out = dflt;
	if (!n || phd_node_type(n) == PHD_NODE_NULL)
		return 0;
	if (phd_node_int(n, &v) != 0 || v < 1 || v > 65535) {
		phd_dc_note(dc, PHD_SEV_ERROR, "%s (%s) is not a port number (1-65535)", path,
			       phd_dc_at(n, at, sizeof at));
		return -1;
	}
	*out = (int)v;
	return 0;
}

const char *phd_dc_file(struct phd_dc *dc, const phd_node *cfg, const char *key)
{
	const char *path = phd_dc_str(cfg, key);
	char at[300];

	if (path && access(path, R_OK) != 0)
		phd_dc_note(dc, PHD_SEV_ERROR, "checks.%s.%s (%s): cannot read %s: %s", dc->name, key,
			    phd_dc_at(phd_node_get(cfg, key), at, sizeof at), path, strerror(errno));
	return path;
}

long long phd_dc_duration(struct phd_dc *dc, const phd_node *cfg, const char *key,
			  long long dflt)
{
	const phd_node *n = phd_node_get(cfg, key);
	long long ms = dflt;
	char at[300];

	if (n && phd_node_duration_ms(n, &ms) != 0) {
		phd_dc_note(dc, PHD_SEV_ERROR, "checks.%s.%s (%s) is not a duration (\"50ms\", \"1s\")",
			    dc->name, key, phd_dc_at(n, at, sizeof at));
		ms = dflt;
	}
	return ms;
}

int phd_dc_external_host(struct phd_dc *dc, const struct phd_cv_service *svc, const char **host)
{
	char key[64], at[300];
	int on;

	snprintf(key, sizeof key, "%s.enabled", svc->internal);
	on = phd_dc_bool(dc, dc->values, key, 1);
	*host = phd_dc_str(dc->values, svc->host);
	if (!*host && on) {
		phd_check_summary(dc->chk, "%s: the chart runs its own %s, nothing external to "
				  "check", key, svc->what);
		return PHD_EIGNORE;
	}
	if (!*host) {
		phd_dc_note(dc, PHD_SEV_ERROR,
			    "%s is false (%s) but %s is not set: the chart has no %s to connect to; "
			    "set it to the %s endpoint", key,
			    phd_dc_at(phd_node_get(dc->values, key), at, sizeof at), svc->host,
			    svc->what, svc->aws);
		return PHD_EFAILED;
	}
	if (on)
		phd_dc_note(dc, PHD_SEV_WARN,
			    "%s is set (%s) but %s is not false: the chart refuses mixed settings; "
			    "set %s: false", svc->host,
			    phd_dc_at(phd_node_get(dc->values, svc->host), at, sizeof at), key, key);
	return 0;
}

int phd_dc_endpoint(struct phd_dc *dc, const struct phd_cv_service *svc, const char **host,
		    int *port, struct phd_dc_password *pw, int *have_pw)
{
	int rc = phd_dc_external_host(dc, svc, host);

	*have_pw = 0;
	if (rc != 0)
		return rc;
	phd_dc_set_endpoint(dc, svc->host, svc->port, phd_node_get(dc->values, svc->host));
	phd_dc_add_host(dc, *host);
	if (phd_dc_port(dc, dc->values, svc->port, svc->default_port, port) != 0)
		return PHD_EFAILED;
	rc = phd_dc_password_get(dc, svc, pw);
	if (rc == PHD_ENOTFOUND)
		return 0;
	*have_pw = rc == 0;
	return rc;
}

const char *phd_dc_password_hint(const struct phd_cv_service *svc, char *buf, size_t len)
{
	const struct phd_cv_secret *sec = phd_cv_secret(svc->password);

	if (!sec)
		snprintf(buf, len, "a Secret");
	else if (sec->keys[0].def)
		snprintf(buf, len, "%s (and %s, default %s)", sec->name_path, sec->keys[0].path,
			 sec->keys[0].def);
	else
		snprintf(buf, len, "%s and %s", sec->name_path, sec->keys[0].path);
	return buf;
}

int phd_dc_password_get(struct phd_dc *dc, const struct phd_cv_service *svc,
			struct phd_dc_password *out)
{
	const struct phd_cv_secret *sec = phd_cv_secret(svc->password);
	const char *name_path = sec ? sec->name_path : NULL;
	const char *key_path = sec ? sec->keys[0].path : NULL;
	const char *inl_path = sec ? sec->inline_paths[0] : NULL;
	const phd_node *name_n = name_path ? phd_node_get(dc->values, name_path) : NULL;
	const phd_node *key_n = key_path ? phd_node_get(dc->values, key_path) : NULL;
	const phd_node *inl_n = inl_path ? phd_node_get(dc->values, inl_path) : NULL;
	const char *name = name_path ? phd_dc_str(dc->values, name_path) : NULL;
	const char *key = key_path ? phd_dc_str(dc->values, key_path) : NULL;
	const char *inl = inl_path ? phd_dc_str(dc->values, inl_path) : NULL;
	char at[300], at2[300];

	memset(out, 0, sizeof *out);
	if (name) {
		if (!key)
			key = sec->keys[0].def;
		if (!key) {
			phd_dc_note(dc, PHD_SEV_ERROR,
				       "%s (%s) is set without %s: the chart has no default key and "
				       "fails to render; set %s (the %s endpoint is %s)",
				       name_path, phd_dc_at(name_n, at, sizeof at), key_path, key_path,
				       svc->what, svc->host);
			return PHD_EINVAL;
		}
		if (phd_secret_get(phd_check_ctx(dc->chk), name, key, &out->value, &out->len) != 0) {
			phd_dc_note(dc, PHD_SEV_ERROR,
				       "Secret \"%s\" key \"%s\" (%s at %s) is not provided by any "
				       "`secrets:` entry: add it to a secret provider",
				       name, key, name_path,
				       phd_dc_at(key_n ? key_n : name_n, at, sizeof at));
			return PHD_EFAILED;
		}
		snprintf(out->origin, sizeof out->origin, "Secret %s key %s", name, key);
		if (inl)
			phd_dc_note(dc, PHD_SEV_WARN,
				       "%s (%s) is set as well as %s (%s): remove the inline "
				       "password, it is stored in helm's release history",
				       inl_path, phd_dc_at(inl_n, at, sizeof at),
				       name_path, phd_dc_at(name_n, at2, sizeof at2));
		return 0;
	}
	if (inl) {
		out->value = (const unsigned char *)inl;
		out->len = strlen(inl);
		/* the core redacts secrets from the store; an inline one it cannot know */
		phd_redact_add(phd_check_ctx(dc->chk), inl, out->len);
		snprintf(out->origin, sizeof out->origin, "%s", inl_path);
		phd_dc_note(dc, PHD_SEV_WARN,
			       "inline secret: %s (%s) puts the password in the values file and "
			       "helm's release history; use %s with a Secret instead",
			       inl_path, phd_dc_at(inl_n, at, sizeof at), name_path);
		return 0;
	}
	return PHD_ENOTFOUND;
}

int phd_dc_version_parse(const char *s, int v[3])
{
	int i = 0;

	v[0] = v[1] = v[2] = 0;
	while (s && *s && (*s < '0' || *s > '9'))
		s++;
	if (!s || !*s)
		return -1;
	while (i < 3) {
		char *end;
		long n = strtol(s, &end, 10);

		if (end == s || n < 0 || n > 1000000)
			break;
		v[i++] = (int)n;
		if (*end != '.')
			break;
		s = end + 1;
	}
	return i ? 0 : -1;
}

int phd_dc_version_cmp(const int a[3], const int b[3])
{
	int i;

	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* PostHog reads the flag with str_to_bool */
static int dc_truthy(const char *s)
{
	static const char *const yes[] = { "1", "y", "yes", "t", "true", "on", NULL };
	int i;

	for (i = 0; s && yes[i]; i++)
		if (!strcasecmp(s, yes[i]))
			return 1;
	return 0;
}

/* The Django workloads that run PostHog's start-up version check, and the
 * env lists the chart gives each, in order ("a|b": a when non-empty, else b). */
struct dc_workload {
	const char *name;
	const char *enabled;
	int enabled_default;
	const char *env[3];
};
static const struct dc_workload dc_workloads[] = {
	{ "web", "web.enabled", 1, { "env", "web.env", NULL } },
	{ "events", "events.enabled", 1, { "env", "events.env|web.env", NULL } },
	{ "decide", "decide.enabled", 0, { "env", "decide.env|web.env", NULL } },
	{ "recordings", "recordings.enabled", 0, { "env", "recordings.env|web.env", NULL } },
	{ "worker", "worker.enabled", 1, { "env", "worker.env", NULL } },
	{ "migrate job", "migrate.enabled", 1, { "env", "worker.env", "hooks.migrate.env" } },
	{ "wait-for-migrations init containers", NULL, 1, { "env", NULL, NULL } },
	{ "toolbox", "toolbox.enabled", 0, { "env", "toolbox.env", NULL } },
	{ "temporalPyWorker", "temporalPyWorker.enabled", 0, { "env", "temporalPyWorker.env", NULL } },
};

static const phd_node *dc_env_list(const phd_node *values, const char *spec)
{
	char first[64];
	const char *bar = strchr(spec, '|');
	const phd_node *n;

	if (!bar)
		return phd_node_get(values, spec);
	snprintf(first, sizeof first, "%.*s", (int)(bar - spec), spec);
	n = phd_node_get(values, first);
	if (phd_node_type(n) == PHD_NODE_SEQ && phd_node_len(n) > 0)
		return n;
	return phd_node_get(values, bar + 1);
}

/* 1 when the workload ends up with the flag on (the last entry wins, like
 * Kubernetes); *where: the entry that decided. */
static int dc_workload_skips(const phd_node *values, const struct dc_workload *w,
			     const phd_node **where)
{
	int on = 0, i;
	size_t j;

	for (i = 0; i < 3 && w->env[i]; i++) {
		const phd_node *list = dc_env_list(values, w->env[i]);

		for (j = 0; j < phd_node_len(list) && phd_node_type(list) == PHD_NODE_SEQ; j++) {
			const phd_node *e = phd_node_at(list, j);
			const char *name = phd_node_str(phd_node_get(e, "name"));

			if (!name || strcmp(name, SKIP_ENV))
				continue;
			/* a valueFrom cannot be read here: assume it says yes */
			on = phd_node_get(e, "valueFrom") ? 1
				: dc_truthy(phd_node_str(phd_node_get(e, "value")));
			*where = e;
		}
	}
	return on;
}

int phd_dc_version_report(struct phd_dc *dc, const char *service,
			  const char *version, const char *min, const char *max)
{
	int v[3], lo[3], hi[3];
	size_t i, nrun = 0, nskip = 0;
	char missing[512] = "", at[300];
	const phd_node *where = NULL;

	if (phd_dc_version_parse(version, v) != 0) {
		phd_dc_note(dc, PHD_SEV_WARN, "cannot read the %s version from \"%s\"", service,
			       version);
		return 0;
	}
	phd_dc_version_parse(min, lo);
	phd_dc_version_parse(max, hi);
	if (phd_dc_version_cmp(v, lo) < 0) {
		phd_dc_note(dc, PHD_SEV_ERROR,
			       "%s %s is below PostHog's accepted range (>=%s,<=%s): upgrade the "
			       "server (SKIP_SERVICE_VERSION_REQUIREMENTS only hides this)",
			       service, version, min, max);
		return 1;
	}
	if (phd_dc_version_cmp(v, hi) <= 0) {
		phd_dc_note(dc, PHD_SEV_INFO, "%s %s is within PostHog's accepted range (>=%s,<=%s)",
			       service, version, min, max);
		return 0;
	}
	for (i = 0; i < sizeof dc_workloads / sizeof dc_workloads[0]; i++) {
		const struct dc_workload *w = &dc_workloads[i];
		const phd_node *wh = NULL;

		if (w->enabled && !phd_dc_bool(dc, dc->values, w->enabled, w->enabled_default))
			continue;
		nrun++;
		if (dc_workload_skips(dc->values, w, &wh)) {
			nskip++;
			if (!where)
				where = wh;
		} else {
			size_t used = strlen(missing);
			snprintf(missing + used, sizeof missing - used, "%s%s", used ? ", " : "",
				 w->name);
		}
	}
	if (nrun && nskip == nrun) {
		phd_dc_note(dc, PHD_SEV_INFO,
			       "%s %s is above PostHog's accepted range (>=%s,<=%s); "
			       SKIP_ENV "=1 is set (%s) for every PostHog workload, so PostHog "
			       "starts anyway", service, version, min, max,
			       phd_dc_at(where, at, sizeof at));
		return 0;
	}
	if (nskip == 0) {
		phd_dc_note(dc, PHD_SEV_ERROR,
			       "%s %s is above PostHog's accepted range (>=%s,<=%s): PostHog exits at "
			       "start-up unless the values set " SKIP_ENV "=1, and they do not; add "
			       "`env: [{name: " SKIP_ENV ", value: \"1\"}]` at the top level of the "
			       "values", service, version, min, max);
		return 1;
	}
	phd_dc_note(dc, PHD_SEV_ERROR,
		       "%s %s is above PostHog's accepted range (>=%s,<=%s): " SKIP_ENV "=1 is set "
		       "(%s) but not for: %s; those exit at start-up. Set it in the top-level `env:` "
		       "and do not override it per component", service, version, min, max,
		       phd_dc_at(where, at, sizeof at), missing);
	return 1;
}
