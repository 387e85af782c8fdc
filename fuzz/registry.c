/* Registry answers (plugins/common/oci.c: the images plugin's manifests,
 * helm's oci:// charts): an HTTP answer's header lines and body as libcurl
 * hands them over (Content-Type, Docker-Content-Digest, WWW-Authenticate,
 * the bounded body sink), a Bearer challenge to the token URL, the token
 * answer's JSON, a manifest or index (its platforms), an error body and a
 * tag list, a docker config.json's auths, an image reference.  First
 * byte: which one.  oci.c's statics are compiled in. */
#include "fuzz/fuzz.h"
#include "../plugins/common/oci.c"

static const struct oci_conn secure = { 0 }, insecure = { .insecure = 1 };

/* A challenge's token URL: from its realm, which it starts with, and
 * never over plain http unless the registry is insecure. */
static void challenge(const char *ch)
{
	for (int k = 0; k < 2; k++) {
		const struct oci_conn *c = k ? &insecure : &secure;
		char *realm = NULL, *url = NULL, msg[256];
		if (token_url(c, ch, "library/busybox", &realm, &url, msg, sizeof msg) == OCI_OK) {
			if (!realm || !url || strncmp(url, realm, strlen(realm)) ||
			    (!c->insecure && strncmp(url, "https://", 8)))
				abort();
		} else if (realm || url || !*msg) {
			abort();
		}
		free(realm);
		free(url);
	}
}

/* What a manifest GET's body is read for: an index's platforms, an
 * error's code, a tag list. */
static void body(const char *p, size_t len)
{
	struct oci_manifest m;
	char code[64], tags[512];

	memset(&m, 0, sizeof m);
	if (!(m.body = malloc(len + 1)))
		abort();
	memcpy(m.body, p, len);
	m.body[len] = '\0';
	m.len = len;
	if (parse_platforms(&m) == 0 && m.nplat > 1024)
		abort();
	oci_manifest_clear(&m);
	error_code(p, len, code, sizeof code);
	some_tags(p, len, tags, sizeof tags);
}

/* Header lines up to an empty one, then the body in pieces into a sink
 * smaller than some inputs. */
static void answer(char *s, size_t n)
{
	struct answer a;
	size_t off = 0;

	memset(&a, 0, sizeof a);
	a.fd = -1;
	a.max = 1024;
	while (off < n) {
		size_t ll = strcspn(s + off, "\n");
		char *line;
		if (off + ll < n)
			ll++;                       /* with its '\n', as libcurl gives it */
		if (ll <= 2 && (s[off] == '\n' || s[off] == '\r')) {
			off += ll;
			break;
		}
		/* an exact-size copy: a read past the line is a report */
		if (!(line = malloc(ll ? ll : 1)))
			abort();
		memcpy(line, s + off, ll);
		if (on_header(line, 1, ll, &a) != ll)
			abort();
		free(line);
		off += ll;
	}
	if (strchr(a.ctype, ';'))
		abort();
	is_index_type(a.ctype);
	while (off < n && !a.too_big) {
		size_t piece = n - off < 97 ? n - off : 97;
		if (on_body(s + off, 1, piece, &a) == 0 && !a.too_big)
			abort();
		off += piece;
	}
	if (a.len > a.max)
		abort();
	if (a.p)
		body(a.p, a.len);
	if (a.challenge && !strncasecmp(a.challenge, "Bearer", 6))
		challenge(a.challenge);
	answer_clear(&a);
}

/* A reference's string parses back to itself. */
static void reference(const char *s)
{
	struct oci_ref r, back;
	char err[128], *str, *again;

	if (oci_ref_parse(&r, s, err, sizeof err) != 0)
		return;
	if (!(str = oci_ref_str(&r)))
		abort();
	if (oci_ref_parse(&back, str, err, sizeof err) != 0 || !(again = oci_ref_str(&back)) ||
	    strcmp(str, again))
		abort();
	free(again);
	free(str);
	oci_ref_free(&back);
	oci_ref_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const registries[] = { "docker.io", "ghcr.io", "127.0.0.1:5000" };
	char *s, *auth, *user, *pass;

	if (size < 1)
		return 0;
	s = fuzz_strndup(data + 1, size - 1);
	switch (data[0] % 6) {
	case 0:
		answer(s, size - 1);
		break;
	case 1:
		challenge(s);
		break;
	case 2:
		if (token_header(s, size - 1, &auth) == 0) {
			if (strpbrk(auth, "\r\n") || strncmp(auth, "Authorization: Bearer ", 22))
				abort();
			oci_free_secret(auth);
		}
		break;
	case 3:
		body(s, size - 1);
		break;
	case 4:
		for (size_t i = 0; i < sizeof registries / sizeof *registries; i++)
			if (oci_auth_lookup(s, size - 1, registries[i], &user, &pass) == 0) {
				if (!user || !pass || !*user)
					abort();
				oci_free_secret(user);
				oci_free_secret(pass);
			}
		break;
	default:
		reference(s);
		break;
	}
	free(s);
	return 0;
}
