/* A non-blocking TCP client with optional TLS (OpenSSL), every step bound
 * by one absolute deadline: the transport of the checks that speak their
 * service's protocol themselves (redis: RESP, kafka: the racks probe).
 * Compiled into each plugin that uses it, nothing exported. */
#ifndef PHD_NETCONN_H
#define PHD_NETCONN_H

#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "deadline.h"

struct phd_net {
	int fd;                    /* -1 when not connected */
	SSL_CTX *sslctx;
	SSL *ssl;                  /* NULL: plain TCP */
	long long deadline;        /* absolute, phd_dl_now_ms() clock */
};

/* Why connect or the handshake failed: callers phrase it for their
 * service, detail is the system's or OpenSSL's words. */
enum phd_net_fail {
	PHD_NET_RESOLVE = 1,       /* the name does not resolve (detail: gai) */
	PHD_NET_TIMEOUT,           /* nothing answered before the deadline */
	PHD_NET_REFUSED,           /* nothing listens */
	PHD_NET_CONNECT,           /* another socket error (detail: strerror) */
	PHD_NET_TLS_SETUP,         /* OpenSSL could not be set up */
	PHD_NET_TLS_CA,            /* the CA file cannot be loaded (detail) */
	PHD_NET_TLS_TIMEOUT,       /* the handshake did not finish in time */
	PHD_NET_TLS_UNTRUSTED,     /* the peer's certificate failed (detail) */
	PHD_NET_TLS_FAILED,        /* the handshake failed (detail, or "") */
};
struct phd_net_error {
	int fail;                  /* enum phd_net_fail */
	char detail[256];
};

void phd_net_init(struct phd_net *n, long long deadline);
/* Connect to host:port over every address it resolves to in turn, each
 * with its share of the time left (one that drops packets must not eat the
 * next one's time).  0, or -1 with *err set.  TCP_NODELAY is on. */
int phd_net_connect(struct phd_net *n, const char *host, int port, struct phd_net_error *err);
/* TLS 1.2 or newer over the connection, verifying the peer against the CA
 * file ca (NULL: the system's) and against host (a name, or an IP
 * address).  0, or -1 with *err set. */
int phd_net_tls(struct phd_net *n, const char *host, const char *ca, struct phd_net_error *err);
/* Write all of buf: 0, PHD_ETIMEOUT, PHD_EIO. */
int phd_net_write(struct phd_net *n, const void *buf, size_t len);
/* Read what is there (at most len, at least 1 byte): the count, or
 * PHD_ETIMEOUT, PHD_EIO (closed, reset, TLS error). */
ssize_t phd_net_read(struct phd_net *n, void *buf, size_t len);
/* Read exactly len bytes: 0, PHD_ETIMEOUT, PHD_EIO. */
int phd_net_read_full(struct phd_net *n, void *buf, size_t len);
/* Close and free; n may be closed again. */
void phd_net_close(struct phd_net *n);

#endif
