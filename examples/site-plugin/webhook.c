/* webhook: tell a chat or incident tool how a phase ended.
 *
 *   webhook:
 *     url: https://hooks.example.com/services/T000/B000/XXXX
 *     phases: [deploy, verify, rollback]   # the default
 *     timeout: 5s                          # the default
 *
 * `post` and `fail` hooks on each phase POST one JSON object:
 *   {"release":"posthog","namespace":"posthog","phase":"deploy","outcome":"ok"}
 * and, for a failure, "outcome":"failed" with "error": the library's static
 * text for the code.  Never a secret: no values, no messages, no output.
 * The URL itself is treated as one (chat webhooks carry their token in
 * it): it is registered with the redactor and never appears in a message.
 * A dry run / plan posts nothing and shows the request as a command event.
 * A failed POST fails the hook (reported as an event and a warning); it
 * never changes the phase's outcome.
 *
 * Written against the installed <phdeploy/plugin.h> and libcurl only. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <phdeploy/plugin.h>

#define DEFAULT_TIMEOUT_MS 5000

struct notifier {
	char *url;
	long long timeout_ms;
};

static void notifier_free(void *p)
{
	struct notifier *n = p;
	if (n) {
		free(n->url);
		free(n);
	}
}

/* JSON string body of s (names are DNS-1123 here; escape anyway). */
static void json_str(char *out, size_t size, const char *s)
{
	size_t o = 0;
	for (; s && *s && o + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(out + o, size - o, "\\%c", c);
		else if (c < 0x20)
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
	(void)data;
	(void)ud;
	return size * n; /* plugins never print: curl would write the reply to stdout */
}

static int progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt; (void)dn; (void)ut; (void)un;
	return phd_ctx_interrupted(ud) ? 1 : 0; /* non-zero aborts the transfer */
}

static int post(phd_ctx *ctx, const struct notifier *n, const char *body)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = NULL;
	char err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode cc;

	if (!c)
		return phd_set_error(ctx, PHD_ENOMEM, "webhook: cannot create a curl handle");
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, n->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "phdeploy-webhook/1.0");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)n->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, ctx);
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK)
		return phd_set_error(ctx, cc == CURLE_OPERATION_TIMEDOUT ? PHD_ETIMEOUT : PHD_EIO,
				     "webhook: POST failed: %s", err[0] ? err : curl_easy_strerror(cc));
	if (status < 200 || status > 299)
		return phd_set_error(ctx, PHD_EIO, "webhook: the receiver answered HTTP %ld", status);
	return 0;
}

static int on_end(phd_ctx *ctx, int phase, int when, int outcome, void *ud)
{
	const struct notifier *n = ud;
	char rel[256], ns[256], body[1024];
	struct phd_event ev;

	json_str(rel, sizeof rel, phd_ctx_release(ctx));
	json_str(ns, sizeof ns, phd_ctx_namespace(ctx));
	if (when == PHD_HOOK_FAIL)
		snprintf(body, sizeof body, "{\"release\":\"%s\",\"namespace\":\"%s\",\"phase\":\"%s\","
			 "\"outcome\":\"failed\",\"error\":\"%s\"}", rel, ns, phd_phase_name(phase),
			 phd_strerror(outcome ? outcome : PHD_EFAILED));
	else
		snprintf(body, sizeof body, "{\"release\":\"%s\",\"namespace\":\"%s\",\"phase\":\"%s\","
			 "\"outcome\":\"ok\"}", rel, ns, phd_phase_name(phase));
	if (!phd_ctx_dry_run(ctx))
		return post(ctx, n, body);
	memset(&ev, 0, sizeof ev);
	ev.type = PHD_EV_COMMAND;
	ev.phase = phase;
	ev.name = "webhook";
	ev.message = body;
	phd_emit(ctx, &ev);
	return 0;
}

static int bad(phd_ctx *ctx, const phd_node *n, const char *what)
{
	return phd_set_error(ctx, PHD_EINVAL, "%s:%u:%u: webhook: %s", phd_node_file(n),
			     phd_node_line(n), phd_node_column(n), what);
}

static int read_config(phd_ctx *ctx, const phd_node *cfg, struct notifier *n)
{
	const phd_node *url = phd_node_get(cfg, "url");
	const phd_node *t = phd_node_get(cfg, "timeout");
	const char *u = phd_node_str(url);

	for (size_t i = 0; i < phd_node_len(cfg); i++) {
		const char *k = phd_node_key_at(cfg, i);
		if (!k || (strcmp(k, "url") && strcmp(k, "phases") && strcmp(k, "timeout")))
			return bad(ctx, phd_node_at(cfg, i), "unknown key (url, phases, timeout)");
	}
	if (!u || (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)))
		return bad(ctx, url ? url : cfg, "url must be an http:// or https:// URL");
	n->timeout_ms = DEFAULT_TIMEOUT_MS;
	if (t && (phd_node_duration_ms(t, &n->timeout_ms) != 0 || n->timeout_ms <= 0))
		return bad(ctx, t, "timeout is a duration like 5s");
	if (!(n->url = strdup(u)))
		return PHD_ENOMEM;
	/* mask it everywhere from now on: the token is in the path */
	return phd_redact_add(ctx, u, strlen(u));
}

static const struct phd_config_key webhook_keys[] = {
	{ "url", PHD_CFG_STRING, PHD_CFG_REQUIRED, NULL, "where to POST" },
	{ "phases", PHD_CFG_LIST, 0, NULL, "phases to report" },
	{ "timeout", PHD_CFG_DURATION, 0, NULL, "deadline of each POST" },
	PHD_CONFIG_END
};

static int init(phd_plugin *p, const phd_node *config)
{
	static const int dflt[] = { PHD_PHASE_DEPLOY, PHD_PHASE_VERIFY, PHD_PHASE_ROLLBACK };
	phd_ctx *ctx = phd_plugin_ctx(p);
	const phd_node *phases;
	struct notifier *n;
	int ph[PHD_PHASE_COUNT];
	size_t count;
	int rc;

	if (!config) {
		phd_log(ctx, PHD_LOG_DEBUG, "webhook: no webhook: section, not notifying");
		return 0;
	}
	if (phd_node_type(config) != PHD_NODE_MAP)
		return bad(ctx, config, "expected a mapping with url, phases, timeout");
	phases = phd_node_get(config, "phases");
	if (phases && phd_node_type(phases) != PHD_NODE_SEQ)
		return bad(ctx, phases, "phases must be a list of phase names");
	count = phases ? phd_node_len(phases) : 3;
	if (count > PHD_PHASE_COUNT)
		return bad(ctx, phases, "too many entries in phases");
	for (size_t i = 0; i < count; i++) {
		const phd_node *e = phases ? phd_node_at(phases, i) : NULL;
		ph[i] = e ? phd_phase_from_name(phd_node_str(e)) : dflt[i];
		if (ph[i] < 0)
			return bad(ctx, e, "unknown phase in phases");
	}
	if (!(n = calloc(1, sizeof *n)))
		return PHD_ENOMEM;
	if ((rc = read_config(ctx, config, n)) != 0 || count == 0) {
		notifier_free(n);
		return rc;
	}
	/* one notifier for every hook: the plugin's data, freed once with it */
	if ((rc = phd_plugin_set_data(p, n, notifier_free)) != 0 ||
	    (rc = phd_plugin_declare_config(p, NULL, webhook_keys)) != 0)
		return rc;
	for (size_t i = 0; i < count; i++)
		if ((rc = phd_register_hook(p, ph[i], PHD_HOOK_POST, on_end, n, NULL)) != 0 ||
		    (rc = phd_register_hook(p, ph[i], PHD_HOOK_FAIL, on_end, n, NULL)) != 0)
			return rc;
	return 0;
}

PHD_PLUGIN_EXPORT const struct phd_plugin_desc phd_plugin_desc =
	PHD_PLUGIN_DEFINE("webhook", "2.0", init, NULL);
