/* The TCP+TLS client the redis and kafka checks share
 * (plugins/common/netconn.c): failures are told apart, every wait stops at
 * the one deadline, reads and writes go through whole.  The peers are
 * sockets of this process on loopback. */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <phdeploy/phdeploy.h>

#include "../tap/tap.h"
#include "check-harness.h"
#include "netconn.h"

/* A listening socket on 127.0.0.1; its port in *port. */
static int listener(int *port)
{
	int fd = ch_listener(4, port);

	if (fd < 0) {
		printf("Bail out! cannot listen on loopback\n");
		_exit(1);
	}
	return fd;
}

int main(void)
{
	struct phd_net n;
	struct phd_net_error e;
	char buf[16];
	long long t0;
	int lfd, port, peer;

	/* nothing listens: a port that was just closed */
	lfd = listener(&port);
	close(lfd);
	phd_net_init(&n, phd_dl_now_ms() + 2000);
	tap_ok(phd_net_connect(&n, "127.0.0.1", port, &e) == -1 && e.fail == PHD_NET_REFUSED,
	       "a closed port is 'refused', not a timeout");
	phd_net_close(&n);

	phd_net_init(&n, phd_dl_now_ms() + 2000);
	tap_ok(phd_net_connect(&n, "no-such-host.invalid", 6379, &e) == -1 &&
	       e.fail == PHD_NET_RESOLVE && e.detail[0], "a name that does not resolve says so (%s)",
	       e.detail);
	phd_net_close(&n);

	lfd = listener(&port);
	phd_net_init(&n, phd_dl_now_ms() + 300);
	tap_ok(phd_net_connect(&n, "localhost", port, &e) == 0, "connects by name to a listener");
	peer = accept(lfd, NULL, NULL);
	tap_ok(phd_net_write(&n, "PING\r\n", 6) == 0 && peer >= 0 &&
	       read(peer, buf, sizeof buf) == 6 && !memcmp(buf, "PING\r\n", 6),
	       "a write arrives whole");
	if (write(peer, "+PO", 3) != 3 || write(peer, "NG\r\n", 4) != 4)
		tap_diag("short write to the client");
	memset(buf, 0, sizeof buf);
	tap_ok(phd_net_read_full(&n, buf, 7) == 0 && !strcmp(buf, "+PONG\r\n"),
	       "read_full joins what arrives in pieces");
	t0 = phd_dl_now_ms();
	tap_is_int(phd_net_read(&n, buf, sizeof buf), PHD_ETIMEOUT,
		   "a peer that stays silent is a timeout");
	tap_ok(phd_dl_now_ms() - t0 < 1000, "and the wait ends at the deadline");
	close(peer);
	n.deadline = phd_dl_now_ms() + 1000;
	tap_is_int(phd_net_read(&n, buf, sizeof buf), PHD_EIO, "a peer that closes is PHD_EIO");
	phd_net_close(&n);
	phd_net_close(&n);
	tap_ok(n.fd == -1 && n.ssl == NULL, "closing twice is harmless");

	/* TLS against a peer that accepts and says nothing: the handshake waits
	 * for the deadline, then reports a handshake timeout */
	phd_net_init(&n, phd_dl_now_ms() + 300);
	tap_ok(phd_net_connect(&n, "127.0.0.1", port, &e) == 0, "connects again");
	peer = accept(lfd, NULL, NULL);
	tap_ok(phd_net_tls(&n, "127.0.0.1", NULL, &e) == -1 && e.fail == PHD_NET_TLS_TIMEOUT,
	       "a peer silent during the TLS handshake is a handshake timeout");
	phd_net_close(&n);
	close(peer);

	/* a plain-text peer that hangs up: a failed handshake, not a timeout */
	phd_net_init(&n, phd_dl_now_ms() + 2000);
	phd_net_connect(&n, "127.0.0.1", port, &e);
	peer = accept(lfd, NULL, NULL);
	if (write(peer, "-ERR\r\n", 6) != 6)
		tap_diag("short write to the client");
	close(peer);
	tap_ok(phd_net_tls(&n, "127.0.0.1", NULL, &e) == -1 && e.fail == PHD_NET_TLS_FAILED,
	       "a peer that does not speak TLS fails the handshake (%s)", e.detail);
	phd_net_close(&n);

	phd_net_init(&n, phd_dl_now_ms() + 2000);
	phd_net_connect(&n, "127.0.0.1", port, &e);
	tap_ok(phd_net_tls(&n, "127.0.0.1", "/nonexistent/ca.pem", &e) == -1 &&
	       e.fail == PHD_NET_TLS_CA, "a CA file that cannot be read is said before connecting");
	phd_net_close(&n);
	close(lfd);
	return tap_done();
}
