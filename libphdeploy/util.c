/* Small helpers: growable buffers and arrays, files, strings. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "phd-private.h"

int phd_buf_add(struct phd_buf *b, const void *p, size_t n)
{
	if (b->cap - b->len <= n) {
		size_t cap = b->cap ? b->cap : 256;
		char *ns;
		while (cap - b->len <= n) {
			if (cap > SIZE_MAX / 2)
				return PHD_ENOMEM;
			cap *= 2;
		}
		ns = realloc(b->s, cap);
		if (!ns)
			return PHD_ENOMEM;
		b->s = ns;
		b->cap = cap;
	}
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int phd_buf_puts(struct phd_buf *b, const char *s)
{
	return phd_buf_add(b, s, strlen(s));
}

int phd_buf_vprintf(struct phd_buf *b, const char *fmt, va_list ap)
{
	char small[512];
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(small, sizeof small, fmt, aq);
	va_end(aq);
	if (n < 0)
		return PHD_EINVAL;
	if ((size_t)n < sizeof small)
		return phd_buf_add(b, small, (size_t)n);
	{
		char *big = malloc((size_t)n + 1);
		int rc;
		if (!big)
			return PHD_ENOMEM;
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		rc = phd_buf_add(b, big, (size_t)n);
		free(big);
		return rc;
	}
}

int phd_buf_printf(struct phd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = phd_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

int phd_buf_json_str(struct phd_buf *b, const char *s)
{
	int rc = phd_buf_add(b, "\"", 1);
	for (; rc == 0 && s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			rc = phd_buf_add(b, e, 2);
		} else if (c == '\n') {
			rc = phd_buf_add(b, "\\n", 2);
		} else if (c == '\t') {
			rc = phd_buf_add(b, "\\t", 2);
		} else if (c < 0x20) {
			rc = phd_buf_printf(b, "\\u%04x", c);
		} else {
			rc = phd_buf_add(b, s, 1);
		}
	}
	return rc ? rc : phd_buf_add(b, "\"", 1);
}

void phd_buf_free(struct phd_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

void phd_buf_wipe(struct phd_buf *b)
{
	if (b->s)
		phd_wipe(b->s, b->cap);
	phd_buf_free(b);
}

char *phd_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *phd_strndup(const char *s, size_t n)
{
	return strndup(s, n);
}

char *phd_asprintf(const char *fmt, ...)
{
	struct phd_buf b = { 0 };
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = phd_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (rc) {
		phd_buf_free(&b);
		return NULL;
	}
	if (!b.s)
		return strdup("");
	return b.s;
}

long long phd_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *phd_path_join(const char *dir, const char *name)
{
	if (!dir || !*dir || name[0] == '/')
		return strdup(name);
	return phd_asprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
}

char *phd_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

const char *phd_path_kind(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return "unreadable";
	return S_ISREG(st.st_mode) ? "a regular file" : S_ISDIR(st.st_mode) ? "a directory"
		: S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a character device"
		: S_ISBLK(st.st_mode) ? "a block device" : S_ISSOCK(st.st_mode) ? "a socket"
		: "not a regular file";
}

int phd_read_fd(int fd, size_t limit, char **out, size_t *len)
{
	struct phd_buf b = { 0 };
	char chunk[65536];

	*out = NULL;
	*len = 0;
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			phd_buf_free(&b);
			errno = e;
			return PHD_EIO;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > limit) {
			phd_buf_free(&b);
			return PHD_ETOOBIG;
		}
		if (phd_buf_add(&b, chunk, (size_t)r)) {
			phd_buf_free(&b);
			return PHD_ENOMEM;
		}
	}
	if (!b.s && phd_buf_add(&b, "", 0))
		return PHD_ENOMEM;
	*out = b.s;
	*len = b.len;
	return 0;
}

int phd_read_file(const char *path, size_t limit, char **out, size_t *len)
{
	struct stat st;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int rc;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT ? PHD_ENOTFOUND : PHD_EIO;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return PHD_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		return PHD_EINVAL;
	}
	if ((unsigned long long)st.st_size > limit) {
		close(fd);
		return PHD_ETOOBIG;
	}
	rc = phd_read_fd(fd, limit, out, len);
	close(fd);
	return rc;
}

int phd_mkdir_p(const char *path, mode_t mode)
{
	char *p = strdup(path);
	int rc = 0;
	if (!p)
		return PHD_ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			rc = PHD_EIO;
		*s = '/';
		if (rc)
			break;
	}
	if (!rc && mkdir(p, mode) != 0 && errno != EEXIST)
		rc = PHD_EIO;
	free(p);
	return rc;
}

int phd_rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : PHD_EIO;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) == 0 ? 0 : PHD_EIO;
	d = opendir(path);
	if (!d)
		return PHD_EIO;
	while ((e = readdir(d)) != NULL) {
		char *sub;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		sub = phd_path_join(path, e->d_name);
		if (sub) {
			phd_rm_rf(sub);
			free(sub);
		}
	}
	closedir(d);
	return rmdir(path) == 0 ? 0 : PHD_EIO;
}

/* Kubernetes' IsDNS1123Subdomain: labels of [a-z0-9-] that start and end
 * alphanumeric, joined by single dots, 253 characters at most.  Kubernetes
 * limits only the whole name, not each label, and so do we. */
PHD_EXTERN int phd_is_dns1123_subdomain(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		/* a label starts and ends alnum: nothing but alnum next to a dot or the ends */
		int edge = i == 0 || i == n - 1 || s[i - 1] == '.' || s[i + 1] == '.';

		if (!alnum && !(c == '-' || c == '.'))
			return 0;
		if (edge && !alnum)
			return 0;
	}
	return 1;
}

/* Kubernetes' IsDNS1123Label (namespaces): one label, 63 at most. */
PHD_EXTERN int phd_is_dns1123_label(const char *s)
{
	return phd_is_dns1123_subdomain(s) && strlen(s) <= 63 && !strchr(s, '.');
}

size_t phd_levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[64];
	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

char *phd_base64(const unsigned char *p, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t olen = 4 * ((n + 2) / 3);
	char *out = malloc(olen + 1), *o = out;
	size_t i;
	if (!out)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*o++ = tbl[v >> 18 & 63];
		*o++ = tbl[v >> 12 & 63];
		*o++ = tbl[v >> 6 & 63];
		*o++ = tbl[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);
		*o++ = tbl[v >> 18 & 63];
		*o++ = tbl[v >> 12 & 63];
		*o++ = i + 1 < n ? tbl[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

int phd_vec_push(struct phd_vec *vec, void *p)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? vec->cap * 2 : 8;
		void **nv = realloc(vec->v, cap * sizeof *nv);
		if (!nv)
			return PHD_ENOMEM;
		vec->v = nv;
		vec->cap = cap;
	}
	vec->v[vec->n++] = p;
	return 0;
}

void phd_vec_free(struct phd_vec *vec, void (*fr)(void *))
{
	if (fr)
		for (size_t i = 0; i < vec->n; i++)
			fr(vec->v[i]);
	free(vec->v);
	vec->v = NULL;
	vec->n = vec->cap = 0;
}

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

int phd_strset_put(struct phd_strset *s, const char *key, size_t val)
{
	size_t i;
	if (2 * (s->n + 1) > s->cap) {
		struct phd_strset big = { s->cap ? s->cap * 2 : 32, 0, NULL, NULL };
		big.k = calloc(big.cap, sizeof *big.k);
		big.v = calloc(big.cap, sizeof *big.v);
		if (!big.k || !big.v) {
			free(big.k);
			free(big.v);
			return PHD_ENOMEM;
		}
		for (size_t j = 0; j < s->cap; j++)
			if (s->k[j])
				phd_strset_put(&big, s->k[j], s->v[j]);
		phd_strset_free(s);
		*s = big;
	}
	for (i = str_hash(key) & (s->cap - 1); s->k[i]; i = (i + 1) & (s->cap - 1))
		if (!strcmp(s->k[i], key)) {
			s->v[i] = val;
			return 0;
		}
	s->k[i] = key;
	s->v[i] = val;
	s->n++;
	return 0;
}

int phd_strset_get(const struct phd_strset *s, const char *key, size_t *val)
{
	if (!s->cap)
		return 0;
	for (size_t i = str_hash(key) & (s->cap - 1); s->k[i]; i = (i + 1) & (s->cap - 1))
		if (!strcmp(s->k[i], key)) {
			if (val)
				*val = s->v[i];
			return 1;
		}
	return 0;
}

void phd_strset_free(struct phd_strset *s)
{
	free(s->k);
	free(s->v);
	memset(s, 0, sizeof *s);
}

int phd_write_file(const char *path, const void *buf, size_t len, int mode)
{
	const char *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0)
		return PHD_EIO;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			unlink(path);
			return PHD_EIO;
		}
		p += w;
		len -= (size_t)w;
	}
	return close(fd) ? PHD_EIO : 0;
}

int phd_tmpdir_check(phd_ctx *ctx)
{
	const char *env = getenv("TMPDIR");
	const char *dir = env && *env ? env : "/tmp";
	struct stat st;

	/* helm, the post-renderer and our own temp files live there: say so
	 * now, by name, rather than at render with a message about a file */
	if (stat(dir, &st) != 0)
		return phd_set_error(ctx, PHD_EIO, "%s%s: temporary directory: %s",
				     env && *env ? "TMPDIR=" : "", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return phd_set_error(ctx, PHD_EIO, "%s%s: temporary directory is %s",
				     env && *env ? "TMPDIR=" : "", dir, phd_path_kind(dir));
	if (access(dir, W_OK | X_OK) != 0)
		return phd_set_error(ctx, PHD_EIO, "%s%s: temporary directory is not writable: %s",
				     env && *env ? "TMPDIR=" : "", dir, strerror(errno));
	return 0;
}
