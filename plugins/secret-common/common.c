/* Helpers shared by the secret-* plugins: positions, entry checks, names,
 * base64, wiped buffers. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *sc_pos(struct sc_pos *p, const phd_node *n)
{
	const char *f = n ? phd_node_file(n) : NULL;

	if (!f)
		snprintf(p->s, sizeof p->s, "%s", "<config>");
	else
		snprintf(p->s, sizeof p->s, "%s:%u:%u", f, phd_node_line(n),
			 phd_node_column(n));
	return p->s;
}

int sc_buf_add(struct sc_buf *b, const void *data, size_t n)
{
	size_t max = b->max ? b->max : SC_MAX_INPUT;

	if (n > max - b->len)
		return PHD_ETOOBIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		unsigned char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = malloc(cap);
		if (!p)
			return PHD_ENOMEM;
		if (b->p) {
			memcpy(p, b->p, b->len);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int sc_buf_terminate(struct sc_buf *b)
{
	return sc_buf_add(b, "", 0);
}

void sc_buf_wipe(struct sc_buf *b)
{
	if (b->p) {
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

void sc_free_str(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The same table the plugin declares to validate: an entry handed over
 * directly through the API is held to it too. */
static int allowed_key(const char *k, const struct phd_config_key *allowed)
{
	if (strcmp(k, "provider") == 0)
		return 1;
	for (; allowed->name; allowed++)
		if (strcmp(k, allowed->name) == 0)
			return 1;
	return 0;
}

int sc_check_entry(phd_ctx *ctx, const char *plugin, const phd_node *entry,
		   const struct phd_config_key *allowed)
{
	struct sc_pos pos;
	size_t i;

	if (phd_node_type(entry) != PHD_NODE_MAP)
		return phd_set_error(ctx, PHD_ETYPE, "%s: %s: a secrets entry must be a mapping",
				     sc_pos(&pos, entry), plugin);
	for (i = 0; i < phd_node_len(entry); i++) {
		const char *k = phd_node_key_at(entry, i);

		if (!allowed_key(k, allowed))
			return phd_set_error(ctx, PHD_EINVAL,
					     "%s: %s: unknown key \"%s\" in a secrets entry",
					     sc_pos(&pos, phd_node_at(entry, i)), plugin, k);
	}
	return 0;
}

int sc_get_str(phd_ctx *ctx, const char *plugin, const phd_node *entry,
	       const char *key, int required, const char **out)
{
	const phd_node *n = phd_node_get(entry, key);
	struct sc_pos pos;
	const char *s;

	*out = NULL;
	if (!n) {
		if (!required)
			return 0;
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: the entry needs \"%s:\"",
				     sc_pos(&pos, entry), plugin, key);
	}
	s = phd_node_str(n);
	if (!s || !*s)
		return phd_set_error(ctx, PHD_ETYPE, "%s: %s: \"%s:\" must be a non-empty string",
				     sc_pos(&pos, n), plugin, key);
	*out = s;
	return 0;
}

int sc_get_timeout(phd_ctx *ctx, const char *plugin, const phd_node *entry,
		   const char *key, long long def_ms, long long *out_ms)
{
	const phd_node *n = phd_node_get(entry, key);
	struct sc_pos pos;

	*out_ms = def_ms;
	if (!n)
		return 0;
	if (phd_node_duration_ms(n, out_ms) != 0 || *out_ms <= 0)
		return phd_set_error(ctx, PHD_ETYPE,
				     "%s: %s: \"%s:\" must be a positive duration (30s, 2m, 500ms)",
				     sc_pos(&pos, n), plugin, key);
	return 0;
}

int sc_get_keymap(phd_ctx *ctx, const char *plugin, const phd_node *entry,
		  const char *key, int required, const phd_node **out)
{
	const phd_node *m = phd_node_get(entry, key);
	struct sc_pos pos;
	size_t i;

	*out = NULL;
	if (!m) {
		if (!required)
			return 0;
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s: the entry needs \"%s:\"",
				     sc_pos(&pos, entry), plugin, key);
	}
	if (phd_node_type(m) != PHD_NODE_MAP || phd_node_len(m) == 0)
		return phd_set_error(ctx, PHD_ETYPE,
				     "%s: %s: \"%s:\" must be a non-empty mapping of Secret key to name",
				     sc_pos(&pos, m), plugin, key);
	for (i = 0; i < phd_node_len(m); i++) {
		const char *k = phd_node_key_at(m, i);
		const char *v = phd_node_str(phd_node_at(m, i));

		if (!sc_valid_key(k, strlen(k)))
			return phd_set_error(ctx, PHD_EINVAL,
					     "%s: %s: \"%s\" is not a valid Secret key "
					     "(letters, digits, '-', '_', '.')",
					     sc_pos(&pos, phd_node_at(m, i)), plugin, k);
		if (!v || !*v)
			return phd_set_error(ctx, PHD_ETYPE,
					     "%s: %s: %s.%s must be a non-empty string",
					     sc_pos(&pos, phd_node_at(m, i)), plugin, key, k);
	}
	*out = m;
	return 0;
}

int sc_valid_key(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 253 || strlen(s) != len)
		return 0;
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int sc_b64_decode(unsigned char *out, size_t *outlen, const char *in, size_t inlen,
		  size_t *bad)
{
	unsigned acc = 0;
	size_t i, n = 0, q = 0, pad = 0, last = 0;
	int done = 0;

	for (i = 0; i < inlen; i++) {
		char c = in[i];
		int v = 0;

		if (c == '\n' || c == '\r')
			continue;
		last = i;
		if (done)
			goto bad; /* data after the padded last quantum */
		if (c == '=') {
			if (q < 2) /* padding only in the last two places */
				goto bad;
			pad++;
		} else {
			if (pad)
				goto bad;
			v = b64_value(c);
			if (v < 0)
				goto bad;
		}
		acc = (acc << 6) | (unsigned)v;
		if (++q < 4)
			continue;
		out[n++] = (unsigned char)(acc >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(acc >> 8);
		if (pad < 1)
			out[n++] = (unsigned char)acc;
		done = pad > 0;
		acc = 0;
		q = 0;
	}
	explicit_bzero(&acc, sizeof acc);
	if (q != 0) {
		/* truncated: point just past the last character */
		*bad = inlen ? last + 1 : 0;
		return -1;
	}
	*outlen = n;
	return 0;
bad:
	explicit_bzero(&acc, sizeof acc);
	*bad = i;
	return -1;
}

int sc_forward_type(phd_ctx *ctx, const char *plugin, phd_secret_sink *sink,
		    const phd_node *entry, const char *name)
{
	const char *type;
	struct sc_pos pos;
	int rc = sc_get_str(ctx, plugin, entry, "type", 0, &type);

	if (rc || !type)
		return rc;
	rc = phd_secret_set_type(sink, name, type);
	if (rc)
		return phd_set_error(ctx, rc, "%s: %s: cannot set type \"%s\" of Secret \"%s\"",
				     sc_pos(&pos, phd_node_get(entry, "type")), plugin, type,
				     name);
	return 0;
}

int sc_read_file(const char *path, struct sc_buf *b, int *err)
{
	char chunk[4096];
	struct stat st;
	ssize_t r;
	int fd, rc = 0;

	*err = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		*err = errno;
		return errno == ENOENT ? PHD_ENOTFOUND : PHD_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*err = EINVAL;
		return PHD_EIO;
	}
	if ((unsigned long long)st.st_size > (b->max ? b->max : SC_MAX_INPUT)) {
		close(fd);
		return PHD_ETOOBIG;
	}
	while (rc == 0 && (r = read(fd, chunk, sizeof chunk)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			*err = errno;
		rc = r < 0 ? PHD_EIO : sc_buf_add(b, chunk, (size_t)r);
	}
	explicit_bzero(chunk, sizeof chunk);
	close(fd);
	return rc ? rc : sc_buf_terminate(b);
}

int sc_register(phd_plugin *p, const char *name, phd_secret_provider_fn fn,
		const struct phd_config_key *entry_keys)
{
	char scope[80];
	int rc;

	snprintf(scope, sizeof scope, "secrets.%s", name);
	if ((rc = phd_plugin_declare_config(p, scope, entry_keys)))
		return rc;
	return phd_register_secret_provider(p, name, fn, NULL, NULL);
}
