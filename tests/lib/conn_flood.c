/* conn_flood: a connection-exhaustion attacker for the tests and benchmarks.
 *
 * Opens connections to HOST:PORT and holds them the ways a slowloris client does:
 *   --idle N          connect and send nothing
 *   --slow-tls N      send a TLS record header announcing a ClientHello, then one
 *                     byte of it every --trickle-ms (a handshake that never ends)
 *   --slow-headers N  send "GET / HTTP/1.1" and then one header byte every
 *                     --trickle-ms (with --tls: after a real TLS handshake)
 * With --refill it reopens the connections the server closes, at most --rate new
 * connections a second (also the pace of the first opening). Everything is
 * bounded: --duration seconds (default 60, at most 900), --max-connects connects
 * in all (default 20 x the target); all sockets are closed at exit (also on
 * SIGTERM/SIGINT). Raises RLIMIT_NOFILE as far as the target needs.
 *
 * --ready-file F is written ("open N") once every connection has been tried
 * and none is still connecting (or 10 s passed), so a test knows the attack is
 * in place. At exit one line goes to stdout:
 *   connects=N established=N closed_by_peer=N open=N
 * Targets are restricted to 127.0.0.0/8 (run it inside a network namespace of
 * the test's own to attack a server there). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/gnutls.h>

enum kind { K_IDLE, K_SLOW_TLS, K_SLOW_HDR };
enum state { S_FREE, S_CONNECTING, S_OPEN };

struct conn {
	enum kind kind;
	enum state state;
	int fd;
	gnutls_session_t tls;
	uint64_t next_trickle_ms;
	unsigned sent;
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct sockaddr_in target;
static bool use_tls;
static unsigned trickle_ms = 2000;
static gnutls_certificate_credentials_t creds;
static unsigned long n_connects, n_established, n_closed_by_peer;

static void conn_close(struct conn *c)
{
	if (c->tls) {
		gnutls_deinit(c->tls);
		c->tls = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = S_FREE;
}

static bool conn_start(struct conn *c)
{
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return false;
	n_connects++;
	c->sent = 0;
	if (connect(c->fd, (struct sockaddr *)&target, sizeof(target)) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return false;
	}
	c->state = S_CONNECTING;
	return true;
}

static const char hello_hdr[] = { 0x16, 0x03, 0x01, 0x02, 0x00 }; /* handshake, 512 bytes */
static const char req_line[] = "GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\n";

static int send_bytes(struct conn *c, const void *p, size_t n)
{
	if (c->tls) {
		ssize_t r = gnutls_record_send(c->tls, p, n);
		return r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ? 0 : r < 0 ? -1 : 0;
	}
	ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	return r < 0 && errno != EAGAIN && errno != EINTR ? -1 : 0;
}

/* The connection is up: send what its kind sends first. */
static int conn_opened(struct conn *c)
{
	n_established++;
	c->state = S_OPEN;
	c->next_trickle_ms = now_ms() + trickle_ms;
	if (c->kind == K_SLOW_TLS)
		return send_bytes(c, hello_hdr, sizeof(hello_hdr));
	if (c->kind != K_SLOW_HDR)
		return 0;
	if (use_tls) {
		/* a real handshake, blocking with a bound, then back to non-blocking */
		struct timeval tv = { 3, 0 };
		int fl = fcntl(c->fd, F_GETFL);
		fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (gnutls_init(&c->tls, GNUTLS_CLIENT) < 0)
			return -1;
		gnutls_set_default_priority(c->tls);
		gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE, creds);
		gnutls_transport_set_int(c->tls, c->fd);
		int r;
		do
			r = gnutls_handshake(c->tls);
		while (r < 0 && !gnutls_error_is_fatal(r) && r != GNUTLS_E_AGAIN);
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
		if (r < 0)
			return -1;
	}
	return send_bytes(c, req_line, sizeof(req_line) - 1);
}

static int trickle(struct conn *c)
{
	static const char hdr[] = "X-Slow: a\r\n";
	c->next_trickle_ms = now_ms() + trickle_ms;
	if (c->kind == K_SLOW_TLS) {
		char b = 0;
		if (c->sent >= 500)
			return 0; /* stay one byte short of a ClientHello */
		c->sent++;
		return send_bytes(c, &b, 1);
	}
	if (c->kind == K_SLOW_HDR) {
		char b = hdr[c->sent++ % (sizeof(hdr) - 1)];
		return send_bytes(c, &b, 1);
	}
	return 0;
}

/* Data or EOF from the server: true if the connection is gone. */
static bool peer_closed(struct conn *c)
{
	char buf[4096];

	if (c->tls) {
		ssize_t r = gnutls_record_recv(c->tls, buf, sizeof(buf));
		return r == 0 || (r < 0 && r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED &&
				  gnutls_error_is_fatal((int)r));
	}
	ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	return r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
}

static void usage(void)
{
	fprintf(stderr, "usage: conn_flood --port PORT [--host 127.0.0.1] [--idle N] [--slow-tls N]\n"
			"       [--slow-headers N] [--tls] [--refill] [--rate PER_S] [--trickle-ms MS]\n"
			"       [--duration S] [--max-connects N] [--ready-file FILE]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", 1, 0, 'h' },	     { "port", 1, 0, 'p' },	    { "idle", 1, 0, 'i' },
		{ "slow-tls", 1, 0, 's' },   { "slow-headers", 1, 0, 'H' }, { "tls", 0, 0, 't' },
		{ "refill", 0, 0, 'r' },     { "rate", 1, 0, 'R' },	    { "trickle-ms", 1, 0, 'k' },
		{ "duration", 1, 0, 'd' },   { "max-connects", 1, 0, 'm' }, { "ready-file", 1, 0, 'f' },
		{ 0, 0, 0, 0 } };
	const char *host = "127.0.0.1", *ready_file = NULL;
	unsigned n_kind[3] = { 0, 0, 0 }, rate = 1000, duration = 60, port = 0;
	unsigned long max_connects = 0;
	bool refill = false, ready = false;
	int o;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'h': host = optarg; break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'i': n_kind[K_IDLE] = (unsigned)atoi(optarg); break;
		case 's': n_kind[K_SLOW_TLS] = (unsigned)atoi(optarg); break;
		case 'H': n_kind[K_SLOW_HDR] = (unsigned)atoi(optarg); break;
		case 't': use_tls = true; break;
		case 'r': refill = true; break;
		case 'R': rate = (unsigned)atoi(optarg); break;
		case 'k': trickle_ms = (unsigned)atoi(optarg); break;
		case 'd': duration = (unsigned)atoi(optarg); break;
		case 'm': max_connects = strtoul(optarg, NULL, 10); break;
		case 'f': ready_file = optarg; break;
		default: usage();
		}
	}
	unsigned total = n_kind[0] + n_kind[1] + n_kind[2];
	if (!port || port > 65535 || !total || total > 100000 || !rate || duration > 900 ||
	    !trickle_ms)
		usage();
	if (!duration)
		duration = 60;
	if (!max_connects)
		max_connects = 20ul * total;
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &target.sin_addr) != 1)
		usage();
	if ((ntohl(target.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "conn_flood: only loopback targets (127.0.0.0/8)\n");
		return 2;
	}

	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < total + 64) {
		rl.rlim_cur = total + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur; /* root may raise the hard limit */
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			perror("conn_flood: setrlimit RLIMIT_NOFILE");
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	gnutls_global_init();
	gnutls_certificate_allocate_credentials(&creds);

	struct conn *cs = calloc(total, sizeof(*cs));
	struct pollfd *pf = calloc(total, sizeof(*pf));
	int *pi = calloc(total, sizeof(*pi));
	if (!cs || !pf || !pi)
		return 1;
	for (unsigned i = 0, k = 0; k < 3; k++)
		for (unsigned j = 0; j < n_kind[k]; j++, i++)
			cs[i] = (struct conn){ .kind = (enum kind)k, .state = S_FREE, .fd = -1 };

	uint64_t start = now_ms(), end = start + (uint64_t)duration * 1000, budget_t = start;
	double budget = 0;
	bool first_round = true;
	while (!stop && now_ms() < end) {
		uint64_t t = now_ms();
		/* token bucket: at most rate new connections a second */
		budget += (double)(t - budget_t) * rate / 1000.0;
		if (budget > rate / 10.0 + 1)
			budget = rate / 10.0 + 1;
		budget_t = t;
		unsigned open = 0, pending = 0;
		for (unsigned i = 0; i < total; i++) {
			struct conn *c = &cs[i];
			if (c->state == S_FREE && (first_round || refill) && budget >= 1 &&
			    n_connects < max_connects) {
				budget -= 1;
				conn_start(c);
			}
			if (c->state == S_OPEN && t >= c->next_trickle_ms && trickle(c) < 0) {
				n_closed_by_peer++;
				conn_close(c);
			}
			open += c->state == S_OPEN;
			pending += c->state == S_CONNECTING;
		}
		/* the first round is over when every slot was tried and none is still
		 * connecting (or after 10 s: a full accept queue keeps SYNs waiting) */
		if (first_round && n_connects >= total && (!pending || t - start > 10000))
			first_round = false;
		if (!ready && ready_file && !first_round) {
			FILE *f = fopen(ready_file, "w");
			if (f) {
				fprintf(f, "open %u\n", open);
				fclose(f);
			}
			ready = true;
		}
		int np = 0;
		for (unsigned i = 0; i < total; i++) {
			if (cs[i].state == S_FREE)
				continue;
			pf[np] = (struct pollfd){ cs[i].fd,
						  cs[i].state == S_CONNECTING ? POLLOUT : POLLIN, 0 };
			pi[np++] = (int)i;
		}
		int r = poll(pf, (nfds_t)np, 50);
		if (r < 0 && errno != EINTR)
			break;
		for (int k = 0; r > 0 && k < np; k++) {
			struct conn *c = &cs[pi[k]];
			if (!pf[k].revents)
				continue;
			if (c->state == S_CONNECTING) {
				int e = 0;
				socklen_t l = sizeof(e);
				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &l);
				if (e || conn_opened(c) < 0) {
					if (!e)
						n_closed_by_peer++;
					conn_close(c);
				}
			} else if (peer_closed(c)) {
				n_closed_by_peer++;
				conn_close(c);
			}
		}
	}
	unsigned open = 0;
	for (unsigned i = 0; i < total; i++) {
		open += cs[i].state == S_OPEN;
		if (cs[i].state != S_FREE)
			conn_close(&cs[i]);
	}
	printf("connects=%lu established=%lu closed_by_peer=%lu open=%u\n", n_connects,
	       n_established, n_closed_by_peer, open);
	free(cs);
	free(pf);
	free(pi);
	gnutls_certificate_free_credentials(creds);
	gnutls_global_deinit();
	return 0;
}
