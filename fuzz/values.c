/* Values files and phdeploy.yaml as YAML (libphdeploy/doc.c): parse as a
 * single document and as a stream, merge the first document onto itself
 * (Helm's merge) and ask every top-level node for its position. */
#include "fuzz/fuzz.h"
#include "phd-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phd_docset ds;
	char *err = NULL;

	for (int multi = 0; multi <= 1; multi++) {
		if (phd_doc_parse(&ds, "values.yaml", (const char *)data, size, multi, &err) != 0) {
			free(err);
			continue;
		}
		if (ds.ndocs && ds.docs[0]) {
			/* a stream's nodes are compact: the accessors read both */
			const struct phd_node *root = ds.docs[0];
			phd_doc_merge(ds.arena, root, root);
			for (size_t i = 0; i < phd_node_len(root); i++) {
				free(phd_node_pos(phd_node_at(root, i)));
				if (phd_node_key_at(root, i))
					phd_node_child(root, phd_node_key_at(root, i));
				phd_node_truthy(phd_node_at(root, i), 0);
				phd_node_get(root, "[0].a");
			}
		}
		phd_docset_free(&ds);
	}
	return 0;
}
