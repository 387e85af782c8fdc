/* What kubectl answers the kube plugin (plugins/kube): `get -o json`
 * Lists that verify filters to the release's objects and their pods
 * (owner references, pod-template-hash), and the Secret key names the
 * cross-check reads (kube_keys_has).  The plugin's statics are compiled in. */
#include "fuzz/fuzz.h"
#include "verify.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = { "Deployment", "StatefulSet", "Pod", "Service" };
	json_t *list, *kept;
	char *text;

	text = fuzz_strndup(data, size);
	kube_keys_has(text, "postgresql-password");
	kube_keys_has(text, "");
	free(text);
	list = json_loadb((const char *)data, size, 0, NULL);
	if (!list)
		return 0;
	if (json_is_array(json_object_get(list, "items")) && (kept = json_array())) {
		select_items(list, "posthog", kept);
		for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
			count_kind(kept, kinds[i]);
		json_decref(kept);
	}
	json_decref(list);
	return 0;
}
