/* The kube plugin's Secret manifest and key-name template, checked against
 * real kubectl offline: kubectl parses the manifest we send on stdin and
 * produces the same Secret from the same bytes itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../../plugins/kube/kube.h"
#include "../tap/tap.h"

static void b64_is(const char *in, size_t len, const char *want)
{
	struct kube_wbuf b = { NULL, 0, 0, 0 };

	kube_base64_put(&b, (const unsigned char *)in, len);
	tap_is_str(b.p ? b.p : "", want, "base64 of %zu bytes is %s", len, want);
	kube_wbuf_free(&b);
}

/* Output of a command run without a shell-visible secret (test values). */
static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];
	FILE *m;

	if (!p)
		return NULL;
	m = open_memstream(&buf, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	if (pclose(p) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static const char *field(json_t *o, const char *a, const char *b)
{
	json_t *x = json_object_get(o, a);
	if (b)
		x = json_object_get(x, b);
	return json_string_value(x) ? json_string_value(x) : "";
}

int main(void)
{
	static const unsigned char bin[] = { 0x00, 0xff, 0x10, '\n', '"', 0x80 };
	struct phd_secret_kv kv[] = {
		{ "postgresql-password", (const unsigned char *)"s3cr\"et\\pw", 10 },
		{ "odd.key_2", bin, sizeof(bin) },
	};
	struct phd_secret_view v = { "posthog-postgres", "posthog", NULL, "t", 2, kv };
	struct kube_wbuf m = { NULL, 0, 0, 0 };
	const char *tools = tap_env("PHD_TOOLS", "");
	char kubectl[1024], cmd[4096];
	json_t *doc, *ours, *theirs;
	json_error_t jerr;
	char *path, *out;

	b64_is("", 0, "");
	b64_is("f", 1, "Zg==");
	b64_is("fo", 2, "Zm8=");
	b64_is("foo", 3, "Zm9v");
	b64_is("foobar", 6, "Zm9vYmFy");
	b64_is((const char *)bin, sizeof(bin), "AP8QCiKA");

	tap_is_int(kube_secret_manifest(&m, &v, "posthog"), 0, "manifest built");
	doc = json_loadb(m.p, m.len, 0, &jerr);
	tap_ok(doc != NULL, "manifest is JSON (%s)", doc ? "ok" : jerr.text);
	tap_is_str(field(doc, "kind", NULL), "Secret", "kind Secret");
	tap_is_str(field(doc, "apiVersion", NULL), "v1", "apiVersion v1");
	tap_is_str(field(doc, "type", NULL), "Opaque", "type defaults to Opaque");
	tap_is_str(field(doc, "metadata", "namespace"), "posthog", "namespace set");
	tap_is_str(field(doc, "data", "postgresql-password"), "czNjciJldFxwdw==",
		   "value with quote and backslash is base64, not escaped text");
	tap_unlike(m.p, "s3cr", "the plain value is nowhere in the manifest");
	json_decref(doc);

	/* A manifest far larger than the first allocation still comes out whole. */
	{
		static unsigned char big[100000];
		struct phd_secret_kv bkv = { "big", big, sizeof(big) };
		struct phd_secret_view bv = { "big", "ns", "Opaque", "t", 1, &bkv };
		struct kube_wbuf bb = { NULL, 0, 0, 0 };
		memset(big, 'x', sizeof(big));
		kube_secret_manifest(&bb, &bv, "ns");
		doc = json_loadb(bb.p, bb.len, 0, &jerr);
		tap_is_int((long long)strlen(field(doc, "data", "big")), (sizeof(big) + 2) / 3 * 4,
			   "a 100 kB value is encoded whole across buffer growth");
		json_decref(doc);
		kube_wbuf_free(&bb);
	}

	snprintf(kubectl, sizeof(kubectl), "%s/kubectl", tools);
	if (!*tools || access(kubectl, X_OK) != 0) {
		tap_skip(4, "real kubectl not found in $PHD_TOOLS (scripts/fetch-tools)");
		kube_wbuf_free(&m);
		return tap_done();
	}
	path = tap_write_file("secret.json", m.p, m.len);
	free(tap_write_file("pw", (const char *)kv[0].value, kv[0].len));
	free(tap_write_file("bin", (const char *)bin, sizeof(bin)));
	/* Offline: no kubeconfig, no server.  `patch --local` parses the file
	 * as a Kubernetes object; `create secret --dry-run=client` builds the
	 * Secret kubectl itself would send from the same bytes. */
	snprintf(cmd, sizeof(cmd), "KUBECONFIG=/nonexistent '%s' patch --local -f '%s' -p '{}' -o json",
		 kubectl, path);
	out = run(cmd);
	ours = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	tap_ok(ours != NULL, "real kubectl reads the manifest offline");
	snprintf(cmd, sizeof(cmd), "cd '%s' && KUBECONFIG=/nonexistent '%s' create secret generic "
		 "posthog-postgres -n posthog --from-file=postgresql-password=pw "
		 "--from-file=odd.key_2=bin --dry-run=client -o json", tap_tmpdir(), kubectl);
	out = run(cmd);
	theirs = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	tap_ok(theirs && ours && json_equal(json_object_get(ours, "data"),
					    json_object_get(theirs, "data")) &&
	       !strcmp(field(ours, "metadata", "name"), field(theirs, "metadata", "name")) &&
	       !strcmp(field(ours, "metadata", "namespace"), field(theirs, "metadata", "namespace")) &&
	       /* kubectl leaves type out: the API server defaults it to Opaque */
	       !strcmp(field(ours, "type", NULL), *field(theirs, "type", NULL) ?
		       field(theirs, "type", NULL) : "Opaque"),
	       "our Secret equals kubectl's own for the same bytes (name, namespace, type, data)");
	json_decref(ours);
	json_decref(theirs);

	/* The key-name template the plugin passes to `kubectl get secret`. */
	snprintf(cmd, sizeof(cmd), "cd '%s' && KUBECONFIG=/nonexistent '%s' create secret generic x "
		 "--from-file=zeta=pw --from-file=alpha=bin --dry-run=client -o '%s'",
		 tap_tmpdir(), kubectl, KUBE_KEYS_TEMPLATE);
	out = run(cmd);
	tap_is_str(out ? out : "(failed)", "alpha\nzeta\n",
		   "real kubectl prints only the key names, sorted, one a line, with our template");
	tap_ok(out && !strstr(out, "czNj") && !strstr(out, "s3cr"), "and no value");
	free(out);
	kube_wbuf_free(&m);
	free(path);
	return tap_done();
}
