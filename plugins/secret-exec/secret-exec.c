/* secret-exec: Secrets from a command's stdout (sops -d, pass, a vault
 * CLI): `{provider: exec, run: [sops, -d, x.enc.yaml], format: secret-yaml}`.
 * stdout is read unredacted into wiped memory and never logged; stderr is
 * shown only once the values are known to the redactor.
 * See phdeploy-secret-exec(7). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <phdeploy/plugin.h>

#include "../secret-common/common.h"
#include "../secret-common/jsonmap.h"
#include "../secret-common/manifest.h"

#define PLUGIN "secret-exec"
#define MAX_ARGS 256
#define DEFAULT_TIMEOUT_MS 30000

enum format { F_SECRET_YAML, F_JSON, F_RAW };


struct job {
	const phd_node *entry;
	const char *argv[MAX_ARGS + 1];
	enum format fmt;
	const char *name, *key;
	const phd_node *keys;
	long long timeout_ms;
	int chomp;
	const char *prog; /* basename of argv[0], for messages */
	char label[128];  /* "sops stdout" */
};

static int parse_run(phd_ctx *ctx, struct job *j)
{
	const phd_node *run = phd_node_get(j->entry, "run");
	struct sc_pos pos;
	size_t i, n;

	if (!run)
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: the entry needs \"run:\" "
				     "(a list: [command, arg...])", sc_pos(&pos, j->entry), PLUGIN);
	n = phd_node_len(run);
	if (phd_node_type(run) != PHD_NODE_SEQ || n == 0 || n > MAX_ARGS)
		return phd_set_error(ctx, PHD_ETYPE,
				     "%s: %s: \"run:\" must be a list of 1 to %d strings "
				     "(no shell is used)", sc_pos(&pos, run), PLUGIN, MAX_ARGS);
	for (i = 0; i < n; i++) {
		const char *a = phd_node_str(phd_node_at(run, i));

		if (!a || (i == 0 && !*a))
			return phd_set_error(ctx, PHD_ETYPE, "%s: %s: run[%zu] must be a string",
					     sc_pos(&pos, phd_node_at(run, i)), PLUGIN, i);
		j->argv[i] = a;
	}
	j->argv[n] = NULL;
	j->prog = strrchr(j->argv[0], '/') ? strrchr(j->argv[0], '/') + 1 : j->argv[0];
	snprintf(j->label, sizeof j->label, "%s stdout", j->prog);
	return 0;
}

static const struct phd_config_key entry_keys[] = {
	{ "run", PHD_CFG_LIST, PHD_CFG_REQUIRED, NULL, "[COMMAND, ARG, ...]" },
	{ "format", PHD_CFG_ENUM, 0, "secret-yaml|json|raw", "what the command prints" },
	{ "name", PHD_CFG_STRING, 0, NULL, "the Secret's name (json, raw)" },
	{ "key", PHD_CFG_STRING, 0, NULL, "the key (raw)" },
	{ "keys", PHD_CFG_MAP, 0, NULL, "{KEY: FIELD, ...} (json)" },
	{ "type", PHD_CFG_STRING, 0, NULL, "the Secret's type" },
	{ "chomp", PHD_CFG_BOOL, 0, NULL, "drop one trailing newline (raw)" },
	{ "timeout", PHD_CFG_DURATION, 0, NULL, "the command's deadline" },
	PHD_CONFIG_END
};

static int parse_entry(phd_ctx *ctx, struct job *j)
{
	const char *fmt;
	const phd_node *n;
	struct sc_pos pos;
	int rc;

	if ((rc = sc_check_entry(ctx, PLUGIN, j->entry, entry_keys)) || (rc = parse_run(ctx, j)) ||
	    (rc = sc_get_str(ctx, PLUGIN, j->entry, "format", 0, &fmt)) ||
	    (rc = sc_get_timeout(ctx, PLUGIN, j->entry, "timeout", DEFAULT_TIMEOUT_MS,
				 &j->timeout_ms)))
		return rc;
	if (!fmt || strcmp(fmt, "secret-yaml") == 0)
		j->fmt = F_SECRET_YAML;
	else if (strcmp(fmt, "json") == 0)
		j->fmt = F_JSON;
	else if (strcmp(fmt, "raw") == 0)
		j->fmt = F_RAW;
	else
		return phd_set_error(ctx, PHD_EINVAL,
				     "%s: %s: format \"%s\" is not secret-yaml, json or raw",
				     sc_pos(&pos, phd_node_get(j->entry, "format")), PLUGIN, fmt);
	if (j->fmt == F_SECRET_YAML) {
		/* the manifests name their Secrets themselves */
		static const char *const not_here[] = { "name", "key", "keys", "type", "chomp" };
		size_t i;

		for (i = 0; i < sizeof not_here / sizeof *not_here; i++)
			if ((n = phd_node_get(j->entry, not_here[i])))
				return phd_set_error(ctx, PHD_EINVAL,
						     "%s: %s: \"%s:\" does not apply to format "
						     "secret-yaml (the manifests say it)",
						     sc_pos(&pos, n), PLUGIN, not_here[i]);
		return 0;
	}
	if ((rc = sc_get_str(ctx, PLUGIN, j->entry, "name", 1, &j->name)))
		return rc;
	if (!phd_is_dns1123_subdomain(j->name))
		return phd_set_error(ctx, PHD_EINVAL,
				     "%s: %s: \"%s\" is not a valid Secret name (lowercase RFC 1123 "
				     "subdomain)", sc_pos(&pos, phd_node_get(j->entry, "name")),
				     PLUGIN, j->name);
	if (j->fmt == F_JSON) {
		if ((n = phd_node_get(j->entry, "key")) || (n = phd_node_get(j->entry, "chomp")))
			return phd_set_error(ctx, PHD_EINVAL,
					     "%s: %s: \"key:\"/\"chomp:\" apply to format raw only "
					     "(json uses keys:)", sc_pos(&pos, n), PLUGIN);
		return sc_get_keymap(ctx, PLUGIN, j->entry, "keys", 0, &j->keys);
	}
	if ((n = phd_node_get(j->entry, "keys")))
		return phd_set_error(ctx, PHD_EINVAL,
				     "%s: %s: \"keys:\" does not apply to format raw (use key:)",
				     sc_pos(&pos, n), PLUGIN);
	if ((rc = sc_get_str(ctx, PLUGIN, j->entry, "key", 1, &j->key)))
		return rc;
	if (!sc_valid_key(j->key, strlen(j->key)))
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: \"%s\" is not a valid Secret key",
				     sc_pos(&pos, phd_node_get(j->entry, "key")), PLUGIN, j->key);
	j->chomp = 1;
	if ((n = phd_node_get(j->entry, "chomp")) && phd_node_bool(n, &j->chomp))
		return phd_set_error(ctx, PHD_ETYPE, "%s: %s: \"chomp:\" must be a boolean",
				     sc_pos(&pos, n), PLUGIN);
	return 0;
}

/* The last non-empty line of the (redacted) stderr, for the error. */
static void last_line(char *out, size_t n, const char *err, size_t len)
{
	size_t end = len, start;

	while (end && (err[end - 1] == '\n' || err[end - 1] == '\r'))
		end--;
	start = end;
	while (start && err[start - 1] != '\n')
		start--;
	if (end - start > n - 1)
		end = start + n - 1;
	snprintf(out, n, "%.*s", (int)(end - start), err + start);
}

static int run_failed(phd_ctx *ctx, const struct job *j, int rc,
		      const struct phd_exec_result *res)
{
	char tail[256] = "";
	struct sc_pos pos;
	const phd_node *at = phd_node_get(j->entry, "run");

	if (res->err)
		last_line(tail, sizeof tail, res->err, res->err_len);
	if (rc == PHD_ETIMEOUT || res->timed_out)
		return phd_set_error(ctx, PHD_ETIMEOUT,
				     "%s: %s: %s did not finish within %lld ms and was killed",
				     sc_pos(&pos, at), PLUGIN, j->prog, j->timeout_ms);
	if (rc == PHD_ENOTFOUND)
		return phd_set_error(ctx, PHD_ENOTFOUND, "%s: %s: cannot run %s (not found)",
				     sc_pos(&pos, at), PLUGIN, j->argv[0]);
	if (rc == PHD_ETOOBIG)
		return phd_set_error(ctx, PHD_ETOOBIG, "%s: %s: %s printed more than the %u-byte "
				     "limit and was stopped", sc_pos(&pos, at), PLUGIN, j->prog,
				     SC_MAX_INPUT);
	if (rc)
		return phd_set_error(ctx, rc, "%s: %s: running %s failed: %s", sc_pos(&pos, at),
				     PLUGIN, j->prog, phd_strerror(rc));
	if (res->term_signal)
		return phd_set_error(ctx, PHD_ECHILD, "%s: %s: %s was killed by signal %d%s%s",
				     sc_pos(&pos, at), PLUGIN, j->prog, res->term_signal,
				     *tail ? ": " : "", tail);
	/* 127: the spawn emulation of some tools (valgrind) reports a missing
	 * program this way instead of failing posix_spawn */
	return phd_set_error(ctx, PHD_ECHILD, "%s: %s: %s exited with status %d%s%s%s",
			     sc_pos(&pos, at), PLUGIN, j->prog, res->exit_code,
			     res->exit_code == 127 ? " (cannot run it?)" : "",
			     *tail ? ": " : "", tail);
}

static int use_output(phd_ctx *ctx, phd_secret_sink *sink, const struct job *j,
		      const char *out, size_t len)
{
	char origin[700];
	struct sc_pos pos;
	int rc;

	sc_pos(&pos, j->entry);
	if (len > SC_MAX_INPUT)
		return phd_set_error(ctx, PHD_ETOOBIG, "%s: %s: %s is over the %u-byte limit",
				     pos.s, PLUGIN, j->label, SC_MAX_INPUT);
	if (j->fmt == F_SECRET_YAML) {
		struct sm_source src = { PLUGIN, origin, j->entry };

		snprintf(origin, sizeof origin, "%s: %s", pos.s, j->label);
		return sm_parse(ctx, sink, &src, out, len);
	}
	if ((rc = phd_secret_declare(sink, j->name, pos.s)))
		return rc;
	if (j->fmt == F_JSON) {
		struct jm_source src = { PLUGIN, j->label, j->entry, j->name, j->keys };

		rc = jm_add(ctx, sink, &src, out, len);
	} else {
		if (j->chomp && len && out[len - 1] == '\n')
			len -= (len > 1 && out[len - 2] == '\r') ? 2 : 1;
		if (len == 0)
			return phd_set_error(ctx, PHD_EINVAL, "%s: %s: %s is empty", pos.s, PLUGIN,
					     j->label);
		rc = phd_secret_add(sink, j->name, j->key, out, len, j->entry);
		if (rc)
			return phd_set_error(ctx, rc, "%s: %s: cannot add key \"%s\" to Secret \"%s\"",
					     pos.s, PLUGIN, j->key, j->name);
	}
	return rc ? rc : sc_forward_type(ctx, PLUGIN, sink, j->entry, j->name);
}

/* Only now, with every value registered, can stderr be shown redacted. */
static void show_stderr(phd_ctx *ctx, const struct job *j, const char *err, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t e = i;

		while (e < len && err[e] != '\n')
			e++;
		if (e > i)
			phd_log(ctx, PHD_LOG_INFO, "%s: %s: %.*s", PLUGIN, j->prog,
				(int)(e - i), err + i);
		i = e + 1;
	}
}

static int provide(phd_ctx *ctx, const phd_node *entry, phd_secret_sink *sink,
		   void *userdata)
{
	struct phd_exec spec = PHD_EXEC_INIT;
	struct phd_exec_result res;
	struct job j;
	int rc;

	memset(&j, 0, sizeof j);
	(void)userdata;
	memset(&res, 0, sizeof res);
	j.entry = entry;
	if ((rc = parse_entry(ctx, &j)))
		return rc;
	spec.flags = PHD_EXEC_RAW_STDOUT | PHD_EXEC_CAPTURE_STDERR;
	spec.argv = j.argv;
	spec.timeout_ms = j.timeout_ms;
	rc = phd_exec_run(ctx, &spec, &res);
	if (rc || res.exit_code != 0 || res.term_signal || res.timed_out)
		rc = run_failed(ctx, &j, rc, &res);
	else
		rc = use_output(ctx, sink, &j, res.out ? res.out : "", res.out_len);
	if (rc == 0 && res.err)
		show_stderr(ctx, &j, res.err, res.err_len);
	phd_exec_result_clear(&res);
	return rc;
}

static int init(phd_plugin *p, const phd_node *config)
{
	(void)config;
	return sc_register(p, "exec", provide, entry_keys);
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("secret-exec", "2.0", init, NULL);
