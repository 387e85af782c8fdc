/* Loading a repository index (libcurl for URLs, plain reads for paths and
 * plain file:// URLs), downloading a chart archive (libcurl, or a copy for
 * file://, hashed while it is written) and hashing a local chart. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "helm-private.h"

#define FETCH_CONNECT_S 30L
#define FETCH_TOTAL_S 300L

/* One transfer: into memory (an index) or into a file hashed on the way
 * (a chart archive), bounded either way. */
struct xfer {
	phd_ctx *ctx;
	size_t len, max;
	int too_big, io_err;
	char *p;             /* memory sink */
	size_t cap;
	int fd;              /* file sink when >= 0 */
	EVP_MD_CTX *md;
};

/* Ctrl-C reaches the core, not curl: poll it while a transfer runs. */
static int on_progress(void *payload, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = payload;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return phd_ctx_interrupted(x->ctx);
}

static size_t to_file(struct xfer *x, const char *data, size_t add)
{
	size_t off = 0;

	if (!EVP_DigestUpdate(x->md, data, add)) {
		x->io_err = ENOMEM;
		return 0;
	}
	while (off < add) {
		ssize_t w = write(x->fd, data + off, add - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			x->io_err = w < 0 ? errno : EIO;
			return 0;
		}
		off += (size_t)w;
	}
	return add;
}

static size_t on_data(char *data, size_t size, size_t n, void *payload)
{
	struct xfer *x = payload;
	size_t add = size * n;

	if (add > x->max - x->len) {
		x->too_big = 1;
		return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (x->fd >= 0) {
		if (to_file(x, data, add) != add)
			return 0;
		x->len += add;
		return add;
	}
	if (x->len + add + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 1 << 16;
		char *np;
		while (cap < x->len + add + 1)
			cap *= 2;
		np = realloc(x->p, cap);
		if (!np)
			return 0;
		x->p = np;
		x->cap = cap;
	}
	memcpy(x->p + x->len, data, add);
	x->len += add;
	x->p[x->len] = '\0';
	return add;
}

/* what: "index", "chart archive" (for messages).  file:// only when
 * allow_file: an index fetched over the network must not make us read
 * local files. */
static int transfer(phd_ctx *ctx, const char *what, const char *url, int allow_file,
		    struct xfer *x)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = curl_easy_init();
	CURLcode cc;

	if (!c)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: cannot start libcurl", HELM_PLUGIN);
	if (!allow_file && !strncmp(url, "file:", 5)) {
		curl_easy_cleanup(c);
		return phd_set_error(ctx, PHD_EINVAL, "%s: %s URL %s is a local file but the "
				     "index came from the network; refusing it", HELM_PLUGIN, what,
				     url);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, allow_file ? "http,https,file" : "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, FETCH_CONNECT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, FETCH_TOTAL_S);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "libphdeploy-helm/" PHD_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	cc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED)
		return phd_set_error(ctx, PHD_ETOOBIG, "%s: %s %s is larger than %zu MB; refusing it",
				     HELM_PLUGIN, what, url, x->max >> 20);
	if (cc == CURLE_ABORTED_BY_CALLBACK)
		return phd_set_error(ctx, PHD_EINTR, "%s: fetching %s %s interrupted", HELM_PLUGIN,
				     what, url);
	if (x->io_err)
		return phd_set_error(ctx, PHD_EIO, "%s: cannot store %s %s: %s", HELM_PLUGIN, what,
				     url, strerror(x->io_err));
	if (cc != CURLE_OK)
		return phd_set_error(ctx, PHD_EIO, "%s: cannot fetch %s %s: %s", HELM_PLUGIN, what,
				     url, *errbuf ? errbuf : curl_easy_strerror(cc));
	return 0;
}

/* The path of a plain file:// URL (no host, no %-escapes, query or
 * fragment), read directly: libcurl and its library tree load only for
 * what needs them.  NULL: leave the URL to libcurl. */
static const char *file_path(const char *url)
{
	const char *p;

	if (!strncmp(url, "file:///", 8))
		p = url + 7;
	else if (!strncmp(url, "file://localhost/", 17))
		p = url + 16;
	else
		return NULL;
	return strpbrk(p, "%?#") ? NULL : p;
}

/* A local archive copied into x's file, hashed on the way, bounded and
 * interruptible like a transfer. */
static int copy_file(phd_ctx *ctx, const char *url, const char *path, struct xfer *x)
{
	char chunk[1 << 16];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = phd_set_error(ctx, PHD_EIO, "%s: cannot fetch chart archive %s: %s", HELM_PLUGIN,
				   url, fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = phd_set_error(ctx, PHD_EIO, "%s: cannot fetch chart archive %s: %s",
					   HELM_PLUGIN, url, strerror(errno));
			break;
		}
		if (r == 0)
			break;
		if (phd_ctx_interrupted(ctx)) {
			rc = phd_set_error(ctx, PHD_EINTR, "%s: fetching chart archive %s interrupted",
					   HELM_PLUGIN, url);
			break;
		}
		if ((size_t)r > x->max - x->len) {
			rc = phd_set_error(ctx, PHD_ETOOBIG, "%s: chart archive %s is larger than %zu MB; "
					   "refusing it", HELM_PLUGIN, url, x->max >> 20);
			break;
		}
		if (to_file(x, chunk, (size_t)r) != (size_t)r) {
			rc = phd_set_error(ctx, PHD_EIO, "%s: cannot store chart archive %s: %s",
					   HELM_PLUGIN, url, strerror(x->io_err));
			break;
		}
		x->len += (size_t)r;
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

static int fetch_url(phd_ctx *ctx, const char *url, size_t max, char **buf, size_t *len)
{
	struct xfer x = { .ctx = ctx, .max = max, .fd = -1 };
	int rc = transfer(ctx, "index", url, 1, &x);

	if (rc) {
		free(x.p);
		return rc;
	}
	if (!x.p && !(x.p = calloc(1, 1)))
		return PHD_ENOMEM;
	*buf = x.p;
	*len = x.len;
	return 0;
}

static void hex_of(const unsigned char *md, unsigned mdlen, char *hex)
{
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

int helm_download(phd_ctx *ctx, const char *url, int allow_file, const char *path, size_t max,
		  char *hex, size_t hexlen)
{
	struct xfer x = { .ctx = ctx, .max = max, .fd = -1 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int rc;

	if (hexlen < 65)
		return PHD_EINVAL;
	/* the run's own directory: a file left by an earlier run of this
	 * context is replaced, a symlink planted there is not followed */
	unlink(path);
	x.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (x.fd < 0)
		return phd_set_error(ctx, PHD_EIO, "%s: cannot create %s: %s", HELM_PLUGIN, path,
				     strerror(errno));
	if (!(x.md = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(x.md, EVP_sha256(), NULL)) {
		rc = PHD_ENOMEM;
		goto out;
	}
	if ((rc = allow_file && file_path(url) ? copy_file(ctx, url, file_path(url), &x)
					       : transfer(ctx, "chart archive", url, allow_file, &x)))
		goto out;
	if (!EVP_DigestFinal_ex(x.md, md, &mdlen) || mdlen != 32) {
		rc = phd_set_error(ctx, PHD_EINTERNAL, "%s: sha256 failed", HELM_PLUGIN);
		goto out;
	}
	hex_of(md, mdlen, hex);
	if (close(x.fd)) {
		x.fd = -1;
		rc = phd_set_error(ctx, PHD_EIO, "%s: cannot store %s: %s", HELM_PLUGIN, path,
				   strerror(errno));
		goto out;
	}
	x.fd = -1;
out:
	if (x.fd >= 0)
		close(x.fd);
	EVP_MD_CTX_free(x.md);
	if (rc)
		unlink(path);   /* no partial archive for anything to pick up */
	return rc;
}

char *helm_url_resolve(const char *base, const char *ref)
{
	CURLU *u;
	char *got = NULL, *out = NULL;

	if (!base || !ref || !*ref)
		return NULL;
	if (strstr(ref, "://"))
		return strdup(ref);
	/* a plain name next to a plain file:// base, as libcurl would join it */
	if (file_path(base) && !strpbrk(ref, "%?#:") && ref[0] != '/' && ref[0] != '.' &&
	    !strstr(ref, "/.") && !strstr(ref, "//")) {
		size_t n = (size_t)(strrchr(base, '/') - base) + 1;
		if (asprintf(&out, "%.*s%s", (int)n, base, ref) < 0)
			return NULL;
		return out;
	}
	if (!(u = curl_url()))
		return NULL;
	/* a relative URL set on a handle holding a URL is resolved against it */
	if (!curl_url_set(u, CURLUPART_URL, base, 0) && !curl_url_set(u, CURLUPART_URL, ref, 0) &&
	    !curl_url_get(u, CURLUPART_URL, &got, 0)) {
		out = strdup(got);
		curl_free(got);
	}
	curl_url_cleanup(u);
	return out;
}

static int read_path(phd_ctx *ctx, const char *path, size_t max, char **buf, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return phd_set_error(ctx, PHD_EIO, "%s: cannot open index %s: %s", HELM_PLUGIN, path,
				     strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return phd_set_error(ctx, PHD_EIO, "%s: index %s is not a regular file", HELM_PLUGIN,
				     path);
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return phd_set_error(ctx, PHD_ETOOBIG, "%s: index %s is %lld bytes, over the %zu MB "
				     "limit", HELM_PLUGIN, path, (long long)st.st_size, max >> 20);
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		close(fd);
		return PHD_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != (size_t)st.st_size) {
		free(p);
		return phd_set_error(ctx, PHD_EIO, "%s: short read on index %s", HELM_PLUGIN, path);
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
}

int helm_index_fetch(phd_ctx *ctx, const char *src, size_t max, char **buf, size_t *len)
{
	*buf = NULL;
	*len = 0;
	if (file_path(src))
		return read_path(ctx, file_path(src), max, buf, len);
	if (!strncmp(src, "http://", 7) || !strncmp(src, "https://", 8) ||
	    !strncmp(src, "file://", 7))
		return fetch_url(ctx, src, max, buf, len);
	return read_path(ctx, src, max, buf, len);
}

int helm_sha256_file(const char *path, char *hex, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE], chunk[1 << 16];
	unsigned mdlen = 0;
	int fd, rc = PHD_EIO;
	EVP_MD_CTX *mc;

	if (len < 65)
		return PHD_EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return PHD_EIO;
	mc = EVP_MD_CTX_new();
	if (mc && EVP_DigestInit_ex(mc, EVP_sha256(), NULL)) {
		ssize_t r;
		while ((r = read(fd, chunk, sizeof(chunk))) > 0 || (r < 0 && errno == EINTR))
			if (r > 0 && !EVP_DigestUpdate(mc, chunk, (size_t)r))
				break;
		if (r == 0 && EVP_DigestFinal_ex(mc, md, &mdlen) && mdlen == 32) {
			hex_of(md, mdlen, hex);
			rc = 0;
		}
	}
	EVP_MD_CTX_free(mc);
	close(fd);
	return rc;
}
