/* Secret manifests as JSON, written into memory that is wiped before it is
 * released.  jansson is not used here: its strings live in heap blocks
 * that it frees without wiping, and these hold the base64 of secret values.
 * Names and keys are not secret but are escaped all the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"

void kube_wbuf_put(struct kube_wbuf *b, const void *data, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;
		while (cap < b->len + len + 1) {
			if (cap > SIZE_MAX / 2) {
				b->failed = 1;
				return;
			}
			cap *= 2;
		}
		/* Not realloc: the old block must be wiped, not just released. */
		np = malloc(cap);
		if (!np) {
			b->failed = 1;
			return;
		}
		if (b->p) {
			memcpy(np, b->p, b->len);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void put_str(struct kube_wbuf *b, const char *s)
{
	kube_wbuf_put(b, s, strlen(s));
}

void kube_wbuf_free(struct kube_wbuf *b)
{
	if (b->p) {
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* A JSON string literal. */
static void put_json_str(struct kube_wbuf *b, const char *s)
{
	kube_wbuf_put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			kube_wbuf_put(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			kube_wbuf_put(b, esc, 6);
		} else {
			kube_wbuf_put(b, p, 1);
		}
	}
	kube_wbuf_put(b, "\"", 1);
}

void kube_base64_put(struct kube_wbuf *b, const unsigned char *in, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;
		size_t rest = len - i;
		if (rest > 1)
			v |= (unsigned)in[i + 1] << 8;
		if (rest > 2)
			v |= in[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = rest > 1 ? tab[(v >> 6) & 63] : '=';
		q[3] = rest > 2 ? tab[v & 63] : '=';
		kube_wbuf_put(b, q, 4);
	}
	explicit_bzero(q, sizeof(q));
}

int kube_secret_manifest(struct kube_wbuf *b, const struct phd_secret_view *s,
			 const char *ns)
{
	put_str(b, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":");
	put_json_str(b, s->name);
	put_str(b, ",\"namespace\":");
	put_json_str(b, ns);
	put_str(b, ",\"labels\":{\"app.kubernetes.io/managed-by\":\"phdeploy\"}},\"type\":");
	put_json_str(b, s->type && *s->type ? s->type : "Opaque");
	put_str(b, ",\"data\":{");
	for (size_t i = 0; i < s->nkeys; i++) {
		if (i)
			put_str(b, ",");
		put_json_str(b, s->kv[i].key);
		put_str(b, ":\"");
		kube_base64_put(b, s->kv[i].value, s->kv[i].len);
		put_str(b, "\"");
	}
	put_str(b, "}}\n");
	return b->failed ? PHD_ENOMEM : 0;
}
