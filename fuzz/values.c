/* Values files and phdeploy.yaml as YAML (libphdeploy/doc.c): parse as a
 * single document and as a stream, merge the first document onto itself
 * (Helm's merge) and ask every top-level node for its position.  A stream
 * is parsed into compact nodes, a single document into full ones: where
 * both parse one document, the two trees must read the same through the
 * accessors (types, texts, keys in order, positions). */
#include "fuzz/fuzz.h"
#include "phd-private.h"

static void same(const phd_node *a, const phd_node *b, int depth)
{
	const char *sa = phd_node_str(a), *sb = phd_node_str(b);

	if (phd_node_type(a) != phd_node_type(b) || phd_node_len(a) != phd_node_len(b) ||
	    phd_node_line(a) != phd_node_line(b) || phd_node_column(a) != phd_node_column(b) ||
	    strcmp(phd_node_file(a), phd_node_file(b)) || !sa != !sb || (sa && strcmp(sa, sb)))
		abort();
	if (depth > PHD_MAX_DEPTH)
		return;
	for (size_t i = 0; i < phd_node_len(a); i++) {
		const char *ka = phd_node_key_at(a, i), *kb = phd_node_key_at(b, i);
		if (!ka != !kb || (ka && (strcmp(ka, kb) || phd_node_child(a, ka) != phd_node_at(a, i))))
			abort();
		same(phd_node_at(a, i), phd_node_at(b, i), depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct phd_docset ds[2];
	char *err = NULL;
	int ok[2];

	for (int multi = 0; multi <= 1; multi++) {
		ok[multi] = phd_doc_parse(&ds[multi], "values.yaml", (const char *)data, size, multi,
					  &err) == 0;
		if (!ok[multi]) {
			free(err);
			continue;
		}
		if (ds[multi].ndocs && ds[multi].docs[0]) {
			/* a stream's nodes are compact: the accessors read both */
			const struct phd_node *root = ds[multi].docs[0];
			phd_doc_merge(ds[multi].arena, root, root);
			for (size_t i = 0; i < phd_node_len(root); i++) {
				free(phd_node_pos(phd_node_at(root, i)));
				if (phd_node_key_at(root, i))
					phd_node_child(root, phd_node_key_at(root, i));
				phd_node_truthy(phd_node_at(root, i), 0);
				phd_node_get(root, "[0].a");
			}
		}
	}
	/* a single document parses the same both ways (aliases may repeat
	 * subtrees: the depth bound keeps the walk's time linear enough) */
	if (ok[0] && ok[1] && ds[0].ndocs == 1 && ds[1].ndocs == 1)
		same(ds[0].docs[0], ds[1].docs[0], 0);
	for (int multi = 0; multi <= 1; multi++)
		if (ok[multi])
			phd_docset_free(&ds[multi]);
	return 0;
}
