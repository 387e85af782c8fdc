/* mock-kafka: a Kafka cluster speaking the real protocol on loopback, from
 * librdkafka's mock cluster.  The kafka check's tests, the bench and the
 * quickstart use it as the MSK stand-in.
 *
 *   mock-kafka [--brokers N] [--racks a,b,c] [--topics t1,t2]
 *              [--partitions N] [--down ID[,ID]] [--rtt-ms MS] [--no-stdin]
 *
 * Prints the bootstrap servers on one line on stdout, then stays up until
 * stdin reaches end-of-file (or, with --no-stdin, forever) or SIGTERM /
 * SIGINT / SIGHUP arrives.  Broker ids are 1..N.  Racks are assigned in
 * order and the list repeats: "--racks a" puts every broker on rack a.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ITEMS 64

struct opts {
	int brokers;
	int partitions;
	int rtt_ms;
	int no_stdin;
	char *racks[MAX_ITEMS];
	int nracks;
	char *topics[MAX_ITEMS];
	int ntopics;
	int down[MAX_ITEMS];
	int ndown;
};

static void usage(FILE *f)
{
	fputs("usage: mock-kafka [--brokers N] [--racks a,b,c] [--topics t1,t2]\n"
	      "                  [--partitions N] [--down ID[,ID...]] [--rtt-ms MS]\n"
	      "                  [--no-stdin]\n"
	      "Prints the bootstrap servers, runs until stdin closes or SIGTERM.\n",
	      f);
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "mock-kafka: %s: '%s' is not a number in %d..%d\n",
			what, s, lo, hi);
		exit(2);
	}
	return (int)v;
}

/* Split a comma list in place into out[]; empty items are refused. */
static int split(char *s, char **out, const char *what)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == MAX_ITEMS) {
			fprintf(stderr, "mock-kafka: %s: more than %d items\n", what,
				MAX_ITEMS);
			exit(2);
		}
		out[n++] = tok;
	}
	if (n == 0) {
		fprintf(stderr, "mock-kafka: %s: empty list\n", what);
		exit(2);
	}
	return n;
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "brokers", required_argument, NULL, 'b' },
		{ "racks", required_argument, NULL, 'r' },
		{ "topics", required_argument, NULL, 't' },
		{ "partitions", required_argument, NULL, 'p' },
		{ "down", required_argument, NULL, 'd' },
		{ "rtt-ms", required_argument, NULL, 'l' },
		{ "no-stdin", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char *ids[MAX_ITEMS];
	int c, i, n;

	while ((c = getopt_long(argc, argv, "b:r:t:p:d:l:nh", longopts, NULL)) != -1) {
		switch (c) {
		case 'b': o->brokers = parse_int(optarg, 1, MAX_ITEMS, "--brokers"); break;
		case 'r': o->nracks = split(optarg, o->racks, "--racks"); break;
		case 't': o->ntopics = split(optarg, o->topics, "--topics"); break;
		case 'p': o->partitions = parse_int(optarg, 1, 1000, "--partitions"); break;
		case 'l': o->rtt_ms = parse_int(optarg, 0, 3600000, "--rtt-ms"); break;
		case 'n': o->no_stdin = 1; break;
		case 'd':
			n = split(optarg, ids, "--down");
			for (i = 0; i < n && o->ndown < MAX_ITEMS; i++)
				o->down[o->ndown++] = parse_int(ids[i], 1, MAX_ITEMS, "--down");
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc) {
		usage(stderr);
		exit(2);
	}
	for (i = 0; i < o->ndown; i++)
		if (o->down[i] > o->brokers) {
			fprintf(stderr, "mock-kafka: --down %d: only %d brokers\n",
				o->down[i], o->brokers);
			exit(2);
		}
}

/* librdkafka's own log lines: keep errors on stderr, drop the chatter. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 3)
		fprintf(stderr, "mock-kafka: %s: %s\n", fac, buf);
}

static int shape_cluster(rd_kafka_mock_cluster_t *mc, const struct opts *o)
{
	int i, rf = o->brokers < 3 ? o->brokers : 3;
	rd_kafka_resp_err_t err;

	for (i = 1; o->nracks > 0 && i <= o->brokers; i++)
		if ((err = rd_kafka_mock_broker_set_rack(mc, i, o->racks[(i - 1) % o->nracks]))) {
			fprintf(stderr, "mock-kafka: rack of broker %d: %s\n", i,
				rd_kafka_err2str(err));
			return -1;
		}
	for (i = 0; i < o->ntopics; i++)
		if ((err = rd_kafka_mock_topic_create(mc, o->topics[i], o->partitions, rf))) {
			fprintf(stderr, "mock-kafka: topic %s: %s\n", o->topics[i],
				rd_kafka_err2str(err));
			return -1;
		}
	if (o->rtt_ms > 0 && (err = rd_kafka_mock_broker_set_rtt(mc, -1, o->rtt_ms))) {
		fprintf(stderr, "mock-kafka: rtt: %s\n", rd_kafka_err2str(err));
		return -1;
	}
	for (i = 0; i < o->ndown; i++)
		if ((err = rd_kafka_mock_broker_set_down(mc, o->down[i]))) {
			fprintf(stderr, "mock-kafka: down %d: %s\n", o->down[i],
				rd_kafka_err2str(err));
			return -1;
		}
	return 0;
}

/* Block until stdin closes or a terminating signal arrives. */
static void wait_for_end(int sfd, int watch_stdin)
{
	struct pollfd pfd[2] = { { sfd, POLLIN, 0 }, { 0, POLLIN, 0 } };
	char buf[256];

	for (;;) {
		if (poll(pfd, watch_stdin ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (pfd[0].revents)
			return;
		if (pfd[1].revents) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				return;
		}
	}
}

int main(int argc, char **argv)
{
	struct opts o = { .brokers = 3, .partitions = 1 };
	char errstr[512];
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	sigset_t set;
	int sfd, rc = 0;

	parse_args(&o, argc, argv);

	/* Block the signals before librdkafka starts threads, so they all
	 * inherit the mask and only the signalfd sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
		perror("mock-kafka: signalfd");
		return 1;
	}

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, log_cb);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, "mock-kafka: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, o.brokers);
	if (!mc) {
		fprintf(stderr, "mock-kafka: cannot create the mock cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	if (shape_cluster(mc, &o) == 0) {
		printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
		fflush(stdout);
		wait_for_end(sfd, !o.no_stdin);
	} else {
		rc = 1;
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	close(sfd);
	return rc;
}
