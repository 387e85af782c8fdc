/* Loading a repository index (libcurl for URLs, plain reads for paths) and
 * hashing a downloaded chart. */
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

struct membuf {
	char *p;
	size_t len, cap, max;
	int too_big;
	phd_ctx *ctx;
};

/* Ctrl-C reaches the core, not curl: poll it while the index downloads. */
static int on_progress(void *payload, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct membuf *b = payload;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return phd_ctx_interrupted(b->ctx);
}

static size_t on_data(char *data, size_t size, size_t n, void *payload)
{
	struct membuf *b = payload;
	size_t add = size * n;

	if (add > b->max - b->len) {
		b->too_big = 1;
		return 0;   /* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (b->len + add + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1 << 16;
		char *np;
		while (cap < b->len + add + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np)
			return 0;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

static int fetch_url(phd_ctx *ctx, const char *url, size_t max, char **buf, size_t *len)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct membuf b = { .max = max, .ctx = ctx };
	CURL *c = curl_easy_init();
	CURLcode cc;

	if (!c)
		return phd_set_error(ctx, PHD_ENOMEM, "%s: cannot start libcurl", HELM_PLUGIN);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, FETCH_CONNECT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, FETCH_TOTAL_S);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "libphdeploy-helm/" PHD_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &b);
	cc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (b.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		free(b.p);
		return phd_set_error(ctx, PHD_ETOOBIG, "%s: %s is larger than %zu MB; refusing it",
				     HELM_PLUGIN, url, max >> 20);
	}
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		free(b.p);
		return phd_set_error(ctx, PHD_EINTR, "%s: fetching %s interrupted", HELM_PLUGIN, url);
	}
	if (cc != CURLE_OK) {
		free(b.p);
		return phd_set_error(ctx, PHD_EIO, "%s: cannot fetch %s: %s", HELM_PLUGIN, url,
				     *errbuf ? errbuf : curl_easy_strerror(cc));
	}
	if (!b.p && !(b.p = calloc(1, 1)))
		return PHD_ENOMEM;
	*buf = b.p;
	*len = b.len;
	return 0;
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
			for (unsigned i = 0; i < mdlen; i++)
				snprintf(hex + 2 * i, 3, "%02x", md[i]);
			rc = 0;
		}
	}
	EVP_MD_CTX_free(mc);
	close(fd);
	return rc;
}
