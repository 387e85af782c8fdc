/* Secret manifests (plugins/secret-common/manifest.c): what secret-file
 * reads from a *.secret.yaml and secret-exec from sops' output, added to a
 * fresh context's secrets.  Nothing the input declares may stay unmasked:
 * every value added is in the redactor (checked on the error message). */
#include "fuzz/fuzz.h"
#include "phd-private.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	phd_ctx *ctx = fuzz_ctx_new();
	struct phd_secret_sink sink = { ctx, "file", NULL };
	struct sm_source src = { "secret-file", "fuzz.secret.yaml", NULL };

	sm_parse(ctx, &sink, &src, (const char *)data, size);
	/* each value added is registered: a long enough one never shows */
	for (size_t i = 0; i < phd_secret_count(ctx); i++) {
		const struct phd_secret_view *s = phd_secret_at(ctx, i);
		for (size_t k = 0; s && k < s->nkeys; k++) {
			const struct phd_secret_kv *kv = &s->kv[k];
			if (kv->len >= 8 && !memchr(kv->value, 0, kv->len)) {
				char *plain = strndup((const char *)kv->value, kv->len);
				char *red = plain ? phd_redact(ctx, plain) : NULL;
				if (!plain || !red || strstr(red, plain))
					abort();
				free(plain);
				free(red);
			}
		}
	}
	phd_ctx_free(ctx);
	return 0;
}
