/* Non-blocking TCP + TLS with one deadline; see netconn.h. */
#include "netconn.h"

#include "deadline.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <phdeploy/phdeploy.h>

void phd_net_init(struct phd_net *n, long long deadline)
{
	memset(n, 0, sizeof *n);
	n->fd = -1;
	n->deadline = deadline;
}

static int fail(struct phd_net_error *err, int why, const char *detail)
{
	err->fail = why;
	snprintf(err->detail, sizeof err->detail, "%s", detail ? detail : "");
	return -1;
}

int phd_net_connect(struct phd_net *n, const char *host, int port, struct phd_net_error *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	int e = 0, timed_out = 0, rc, one = 1, naddr = 0;
	char ps[8];

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(ps, sizeof ps, "%d", port);
	if ((rc = getaddrinfo(host, ps, &hints, &res)) != 0)
		return fail(err, PHD_NET_RESOLVE, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next)
		naddr++;
	for (ai = res; ai && n->fd < 0 && phd_dl_left_ms(n->deadline) > 0;
	     ai = ai->ai_next, naddr--) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		long long step = phd_dl_now_ms() + phd_dl_left_ms(n->deadline) / naddr;
		socklen_t len = sizeof e;

		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
			e = errno;
		} else if ((rc = phd_dl_wait(fd, POLLOUT, step)) <= 0) {
			timed_out |= rc == 0;
			e = rc == 0 ? ETIMEDOUT : errno;
		} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e == 0) {
			n->fd = fd;
			continue;
		}
		close(fd);
	}
	freeaddrinfo(res);
	if (n->fd >= 0) {
		setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		return 0;
	}
	if (timed_out || !e)
		return fail(err, PHD_NET_TIMEOUT, NULL);
	return fail(err, e == ECONNREFUSED ? PHD_NET_REFUSED : PHD_NET_CONNECT, strerror(e));
}

/* Wait for what OpenSSL asks for: 1 go on, 0 deadline, -1 a real error. */
static int ssl_wait(struct phd_net *n, int r)
{
	switch (SSL_get_error(n->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return phd_dl_wait(n->fd, POLLIN, n->deadline) > 0 ? 1 : 0;
	case SSL_ERROR_WANT_WRITE:
		return phd_dl_wait(n->fd, POLLOUT, n->deadline) > 0 ? 1 : 0;
	default:
		return -1;
	}
}

int phd_net_tls(struct phd_net *n, const char *host, const char *ca, struct phd_net_error *err)
{
	unsigned char addr[16];
	unsigned long e;
	char why[256];
	int r, w;

	ERR_clear_error();
	n->sslctx = SSL_CTX_new(TLS_client_method());
	if (!n->sslctx || !SSL_CTX_set_min_proto_version(n->sslctx, TLS1_2_VERSION))
		return fail(err, PHD_NET_TLS_SETUP, NULL);
	SSL_CTX_set_verify(n->sslctx, SSL_VERIFY_PEER, NULL);
	if (ca ? SSL_CTX_load_verify_locations(n->sslctx, ca, NULL) != 1
	       : SSL_CTX_set_default_verify_paths(n->sslctx) != 1) {
		ERR_error_string_n(ERR_get_error(), why, sizeof why);
		return fail(err, PHD_NET_TLS_CA, why);
	}
	n->ssl = SSL_new(n->sslctx);
	if (!n->ssl || SSL_set_fd(n->ssl, n->fd) != 1)
		return fail(err, PHD_NET_TLS_SETUP, NULL);
	/* the certificate must name the host we were given: an IP or a name */
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(n->ssl), host);
	} else if (SSL_set_tlsext_host_name(n->ssl, host) != 1 || SSL_set1_host(n->ssl, host) != 1) {
		return fail(err, PHD_NET_TLS_SETUP, NULL);
	}
	while ((r = SSL_connect(n->ssl)) != 1) {
		if ((w = ssl_wait(n, r)) > 0)
			continue;
		if (w == 0)
			return fail(err, PHD_NET_TLS_TIMEOUT, NULL);
		if (SSL_get_verify_result(n->ssl) != X509_V_OK)
			return fail(err, PHD_NET_TLS_UNTRUSTED,
				    X509_verify_cert_error_string(SSL_get_verify_result(n->ssl)));
		e = ERR_get_error();
		if (e)
			ERR_error_string_n(e, why, sizeof why);
		ERR_clear_error();
		return fail(err, PHD_NET_TLS_FAILED, e ? why : NULL);
	}
	return 0;
}

int phd_net_write(struct phd_net *n, const void *buf, size_t len)
{
	const char *p = buf;
	size_t off = 0;

	while (off < len) {
		ssize_t k;
		int w;

		if (n->ssl) {
			k = SSL_write(n->ssl, p + off, (int)(len - off > INT_MAX ? INT_MAX : len - off));
			if (k > 0) {
				off += (size_t)k;
				continue;
			}
			w = ssl_wait(n, (int)k);
		} else {
			k = send(n->fd, p + off, len - off, MSG_NOSIGNAL);
			if (k > 0) {
				off += (size_t)k;
				continue;
			}
			if (k < 0 && errno != EAGAIN && errno != EINTR)
				return PHD_EIO;
			w = phd_dl_wait(n->fd, POLLOUT, n->deadline) > 0 ? 1 : 0;
		}
		if (w <= 0)
			return w == 0 ? PHD_ETIMEOUT : PHD_EIO;
	}
	return 0;
}

ssize_t phd_net_read(struct phd_net *n, void *buf, size_t len)
{
	for (;;) {
		ssize_t k;
		int w;

		if (n->ssl) {
			k = SSL_read(n->ssl, buf, (int)(len > INT_MAX ? INT_MAX : len));
			if (k > 0)
				return k;
			w = ssl_wait(n, (int)k);
		} else {
			k = recv(n->fd, buf, len, 0);
			if (k > 0)
				return k;
			if (k == 0 || (errno != EAGAIN && errno != EINTR))
				return PHD_EIO;
			w = phd_dl_wait(n->fd, POLLIN, n->deadline) > 0 ? 1 : 0;
		}
		if (w <= 0)
			return w == 0 ? PHD_ETIMEOUT : PHD_EIO;
	}
}

int phd_net_read_full(struct phd_net *n, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t k = phd_net_read(n, p, len);

		if (k < 0)
			return (int)k;
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

void phd_net_close(struct phd_net *n)
{
	if (n->ssl)
		SSL_free(n->ssl);
	if (n->sslctx)
		SSL_CTX_free(n->sslctx);
	if (n->fd >= 0)
		close(n->fd);
	n->ssl = NULL;
	n->sslctx = NULL;
	n->fd = -1;
}
