/*
 * echo-server: the ClusterIP lab's echo app (the lab's "php-echo").
 *
 * Answers every GET (and HEAD) with one line naming where it runs:
 *
 *     node=<NODE_IP> pod=<POD_IP> name=<POD_NAME>
 *
 * and every UDP datagram to the same port with that same line (for the lab's UDP
 * services; a UDP port that cannot be bound is reported and the HTTP side runs on).
 *
 * NODE_IP, POD_IP and POD_NAME come from the environment (the manifest sets them
 * through the downward API: status.hostIP, status.podIP, metadata.name). When unset,
 * POD_NAME falls back to the hostname, POD_IP to the first non-loopback address of
 * the container and NODE_IP to "unknown".
 *
 * Environment: PORT (default 80), LISTEN_ADDR (default "::" dual-stack, falling back
 * to 0.0.0.0 where IPv6 is off). No dependencies; build it static:
 *
 *     cc -static -O2 -o echo-server echo-server.c
 *
 * One thread, non-blocking sockets and ppoll(): many concurrent connections (up to
 * MAX_CONNS), HTTP/1.1 keep-alive and pipelining, every request and idle time bounded.
 * SIGTERM/SIGINT: stop accepting, finish the replies under way (at most
 * DRAIN_MS), exit 0 — what a pod's graceful termination expects.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1024
#define IN_MAX 8192 /* request line + headers; larger requests get 431 */
#define OUT_MAX 2048
#define IDLE_MS 30000 /* keep-alive and slow-client limit */
#define DRAIN_MS 5000
#define LINGER_MS 2000 /* after an error reply, read what the client still sends */

struct conn {
	int fd;
	size_t in_len;
	size_t out_len, out_off;
	bool close_after; /* close once out is flushed */
	bool eof;	  /* the peer finished sending: answer what is complete, then close */
	bool lingering;	  /* reply sent and write side shut: discard input until EOF */
	long long last_ms;
	char in[IN_MAX];
	char out[OUT_MAX];
};

static volatile sig_atomic_t stop_signal;
static struct conn *conns[MAX_CONNS];
static size_t nconns;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

/* first non-loopback address that is up: IPv4 preferred, else global IPv6 */
static bool first_address(char *buf, size_t len)
{
	struct ifaddrs *ifa, *i;
	bool found = false;
	int pass;

	if (getifaddrs(&ifa) < 0)
		return false;
	for (pass = 0; pass < 2 && !found; pass++) {
		for (i = ifa; i && !found; i = i->ifa_next) {
			if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
				continue;
			if (pass == 0 && i->ifa_addr->sa_family == AF_INET) {
				const struct sockaddr_in *s = (const void *)i->ifa_addr;
				found = inet_ntop(AF_INET, &s->sin_addr, buf, (socklen_t)len) != NULL;
			} else if (pass == 1 && i->ifa_addr->sa_family == AF_INET6) {
				const struct sockaddr_in6 *s = (const void *)i->ifa_addr;
				if (IN6_IS_ADDR_LINKLOCAL(&s->sin6_addr))
					continue;
				found = inet_ntop(AF_INET6, &s->sin6_addr, buf, (socklen_t)len) != NULL;
			}
		}
	}
	freeifaddrs(ifa);
	return found;
}

/* the reply line; recomputed per request so a late address or rename shows */
static int identity_line(char *buf, size_t len)
{
	char host[256] = "unknown", addr[INET6_ADDRSTRLEN] = "unknown";
	const char *node = env_or_null("NODE_IP"), *pod = env_or_null("POD_IP");
	const char *name = env_or_null("POD_NAME");

	if (!name) {
		if (gethostname(host, sizeof(host) - 1) < 0)
			strcpy(host, "unknown");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	if (!pod) {
		first_address(addr, sizeof(addr));
		pod = addr;
	}
	return snprintf(buf, len, "node=%s pod=%s name=%s\n", node ? node : "unknown", pod, name);
}

static void conn_close(size_t idx)
{
	close(conns[idx]->fd);
	free(conns[idx]);
	conns[idx] = conns[--nconns];
	conns[nconns] = NULL;
}

static void reply(struct conn *c, int code, const char *reason, const char *body, bool head, bool keep)
{
	size_t blen = strlen(body);
	int n;

	n = snprintf(c->out, sizeof(c->out),
		     "HTTP/1.1 %d %s\r\n"
		     "Server: minik8s-echo\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Content-Length: %zu\r\n"
		     "%s"
		     "Connection: %s\r\n\r\n%s",
		     code, reason, blen, code == 405 ? "Allow: GET, HEAD\r\n" : "", keep ? "keep-alive" : "close",
		     head ? "" : body);
	if (n < 0 || (size_t)n >= sizeof(c->out)) {
		/* cannot happen with our bodies; answer something valid anyway */
		n = snprintf(c->out, sizeof(c->out),
			     "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		keep = false;
	}
	c->out_len = (size_t)n;
	c->out_off = 0;
	c->close_after = !keep;
}

/* case-insensitive header lookup inside [hdrs, end): value trimmed into val */
static bool header_value(const char *hdrs, const char *end, const char *name, char *val, size_t vlen)
{
	size_t nlen = strlen(name);
	const char *p = hdrs;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		if ((size_t)(le - p) > nlen && !strncasecmp(p, name, nlen) && p[nlen] == ':') {
			const char *v = p + nlen + 1, *ve = le;
			size_t n;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			n = (size_t)(ve - v) < vlen - 1 ? (size_t)(ve - v) : vlen - 1;
			memcpy(val, v, n);
			val[n] = '\0';
			return true;
		}
		p = le + 1;
	}
	return false;
}

static bool is_token_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/*
 * Parses one complete request at the start of c->in (headers end at `hdr_end`,
 * `consumed` bytes long) and queues its reply.
 */
static void handle_request(struct conn *c, const char *hdr_end, size_t consumed, bool draining)
{
	char method[16], version[16], val[64], line[512];
	const char *p = c->in, *eol = memchr(c->in, '\n', (size_t)(hdr_end - c->in));
	size_t mlen = 0;
	bool http11, keep, head;

	(void)consumed;
	if (!eol)
		eol = hdr_end;
	/* request line: METHOD SP TARGET SP HTTP/1.x */
	while (p < eol && is_token_char(*p) && mlen < sizeof(method) - 1)
		method[mlen++] = *p++;
	method[mlen] = '\0';
	if (!mlen || p >= eol || *p != ' ')
		goto bad;
	p++;
	const char *target = p;
	while (p < eol && *p != ' ')
		p++;
	if (p == target || p >= eol || (*target != '/' && *target != '*' && *target != 'h'))
		goto bad;
	p++;
	size_t vl = (size_t)(eol - p);
	if (vl && p[vl - 1] == '\r')
		vl--;
	if (vl != 8 || vl >= sizeof(version))
		goto bad;
	memcpy(version, p, vl);
	version[vl] = '\0';
	if (strcmp(version, "HTTP/1.1") && strcmp(version, "HTTP/1.0"))
		goto bad;
	http11 = !strcmp(version, "HTTP/1.1");

	keep = http11;
	if (header_value(eol + 1, hdr_end, "Connection", val, sizeof(val))) {
		if (!strcasecmp(val, "close"))
			keep = false;
		else if (!strcasecmp(val, "keep-alive"))
			keep = true;
	}
	/* bodies are not read: a request announcing one ends the connection after the reply */
	if (header_value(eol + 1, hdr_end, "Transfer-Encoding", val, sizeof(val)) ||
	    (header_value(eol + 1, hdr_end, "Content-Length", val, sizeof(val)) && strcmp(val, "0")))
		keep = false;
	if (draining)
		keep = false;

	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		reply(c, 405, "Method Not Allowed", "method not allowed: use GET\n", false, false);
		return;
	}
	identity_line(line, sizeof(line));
	reply(c, 200, "OK", line, head, keep);
	return;
bad:
	reply(c, 400, "Bad Request", "bad request\n", false, false);
}

/* queue the reply to the next complete request in c->in, if any and none is pending */
static void process_input(struct conn *c, bool draining)
{
	char *end;
	size_t consumed;

	if (c->out_len || c->close_after || !c->in_len)
		return;
	end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (end) {
		consumed = (size_t)(end - c->in) + 4;
	} else {
		end = memmem(c->in, c->in_len, "\n\n", 2);
		if (!end) {
			if (c->in_len == sizeof(c->in))
				reply(c, 431, "Request Header Fields Too Large", "request headers too large\n", false,
				      false);
			return;
		}
		consumed = (size_t)(end - c->in) + 2;
	}
	handle_request(c, end, consumed, draining);
	memmove(c->in, c->in + consumed, c->in_len - consumed);
	c->in_len -= consumed;
}

/* returns false when the connection is finished (close it) */
static bool conn_io(struct conn *c, short revents, bool draining)
{
	if (revents & (POLLERR | POLLNVAL))
		return false;
	if (c->lingering) {
		/* closing with unread input would reset the connection and the client
		 * could lose the reply: read until the client closes, then close */
		char sink[4096];
		ssize_t n = recv(c->fd, sink, sizeof(sink), 0);
		return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
	}
	if ((revents & (POLLIN | POLLHUP)) && !c->close_after && !c->eof && c->in_len < sizeof(c->in)) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
		if (n == 0)
			c->eof = true;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return false;
		if (n > 0) {
			c->in_len += (size_t)n;
			c->last_ms = now_ms();
		}
	}
	for (;;) {
		process_input(c, draining);
		if (c->out_off >= c->out_len)
			return !c->eof;
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return true;
			return false;
		}
		c->out_off += (size_t)n;
		c->last_ms = now_ms();
		if (c->out_off < c->out_len)
			return true;
		c->out_len = c->out_off = 0;
		if (c->close_after) {
			if (c->eof || shutdown(c->fd, SHUT_WR) < 0)
				return false;
			c->lingering = true;
			c->last_ms = now_ms();
			return true;
		}
	}
	return true;
}

/* the listening socket (SOCK_STREAM) or the datagram socket (SOCK_DGRAM) */
static int listen_on(int type, const char *addr, int port, char *desc, size_t dlen)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in s4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, zero = 0, fd = -1;
	bool v6;

	if (addr && inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
		v6 = false;
	} else if (addr && inet_pton(AF_INET6, addr, &s6.sin6_addr) == 1) {
		v6 = true;
	} else if (addr) {
		fprintf(stderr, "echo-server: LISTEN_ADDR '%s' is not an IP address\n", addr);
		return -1;
	} else {
		/* default: dual-stack ::, or 0.0.0.0 where the kernel has no IPv6 */
		v6 = true;
		s6.sin6_addr = in6addr_any;
		s4.sin_addr.s_addr = htonl(INADDR_ANY);
	}
	if (v6) {
		fd = socket(AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 && !addr)
			v6 = false;
	}
	if (!v6)
		fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("echo-server: socket");
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if ((v6 ? bind(fd, (struct sockaddr *)&s6, sizeof(s6)) : bind(fd, (struct sockaddr *)&s4, sizeof(s4))) <
		    0 ||
	    (type == SOCK_STREAM && listen(fd, 512) < 0)) {
		fprintf(stderr, "echo-server: listen on %s %s port %d: %s\n", addr ? addr : (v6 ? "::" : "0.0.0.0"),
			type == SOCK_STREAM ? "TCP" : "UDP", port, strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(desc, dlen, v6 ? "[%s]:%d" : "%s:%d", addr ? addr : (v6 ? "::" : "0.0.0.0"), port);
	return fd;
}

/* answers the datagrams waiting on the UDP socket (a bounded batch per call) */
static void udp_answer(int ufd)
{
	struct sockaddr_storage from;
	char buf[512], line[512];
	int i, len;

	for (i = 0; i < 64; i++) {
		socklen_t flen = sizeof(from);
		if (recvfrom(ufd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&from, &flen) < 0)
			return;
		len = identity_line(line, sizeof(line));
		if (len > 0 && (size_t)len < sizeof(line))
			sendto(ufd, line, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&from, flen);
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: echo-server\n\n"
		   "Answers every HTTP GET with 'node=NODE_IP pod=POD_IP name=POD_NAME',\n"
		   "and every UDP datagram to the same port with the same line.\n\n"
		   "Environment:\n"
		   "  PORT         port to listen on (default 80)\n"
		   "  LISTEN_ADDR  address to listen on (default :: and 0.0.0.0)\n"
		   "  NODE_IP      the node's IP (downward API status.hostIP; default \"unknown\")\n"
		   "  POD_IP       the pod's IP (status.podIP; default: first non-loopback address)\n"
		   "  POD_NAME     the pod's name (metadata.name; default: the hostname)\n");
}

int main(int argc, char **argv)
{
	static struct pollfd pfds[MAX_CONNS + 2];
	const char *port_s = env_or_null("PORT");
	char desc[128], udesc[128], line[512], *endp;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, orig;
	long long drain_until = 0, accept_pause_until = 0;
	long port = 80;
	int lfd, ufd;

	if (argc > 1) {
		bool help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	if (port_s) {
		errno = 0;
		port = strtol(port_s, &endp, 10);
		if (errno || *endp || port < 1 || port > 65535) {
			fprintf(stderr, "echo-server: PORT '%s' is not a port number (1-65535)\n", port_s);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* signals are delivered only inside ppoll, so none is lost between checks */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);

	lfd = listen_on(SOCK_STREAM, env_or_null("LISTEN_ADDR"), (int)port, desc, sizeof(desc));
	if (lfd < 0)
		return 1;
	ufd = listen_on(SOCK_DGRAM, env_or_null("LISTEN_ADDR"), (int)port, udesc, sizeof(udesc));
	identity_line(line, sizeof(line));
	printf("echo-server: listening on %s (TCP%s), answering %s", desc, ufd >= 0 ? " and UDP" : "", line);

	for (;;) {
		long long now = now_ms();
		int timeout = 1000, n;
		size_t i, np = 0;
		bool draining = lfd < 0;

		if (stop_signal && lfd >= 0) {
			printf("echo-server: %s, finishing %zu connection(s)\n", strsignal(stop_signal), nconns);
			close(lfd);
			lfd = -1;
			if (ufd >= 0)
				close(ufd);
			ufd = -1;
			draining = true;
			drain_until = now + DRAIN_MS;
			/* idle keep-alive connections have nothing to finish */
			for (i = nconns; i-- > 0;)
				if (!conns[i]->in_len && !conns[i]->out_len)
					conn_close(i);
		}
		if (draining && (!nconns || now >= drain_until))
			break;
		/* idle and slow clients */
		for (i = nconns; i-- > 0;)
			if (now - conns[i]->last_ms > (conns[i]->lingering ? LINGER_MS : IDLE_MS))
				conn_close(i);

		if (lfd >= 0 && nconns < MAX_CONNS && now >= accept_pause_until)
			pfds[np++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (i = 0; i < nconns; i++) {
			short ev = conns[i]->out_off < conns[i]->out_len ? POLLOUT : 0;
			if (conns[i]->lingering ||
			    (!conns[i]->close_after && !conns[i]->eof && conns[i]->in_len < IN_MAX))
				ev |= POLLIN;
			pfds[np++] = (struct pollfd){ .fd = conns[i]->fd, .events = ev };
		}
		size_t upos = np;
		if (ufd >= 0)
			pfds[np++] = (struct pollfd){ .fd = ufd, .events = POLLIN };
		if (accept_pause_until > now)
			timeout = (int)(accept_pause_until - now);
		struct timespec ts = { timeout / 1000, (long)(timeout % 1000) * 1000000L };
		n = ppoll(pfds, np, &ts, &orig);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("echo-server: poll");
			return 1;
		}
		if (ufd >= 0 && (pfds[upos].revents & POLLIN))
			udp_answer(ufd);
		/* connections first (pfds order matches conns until the accept below) */
		size_t base = (lfd >= 0 && upos > nconns) ? 1 : 0;
		for (i = nconns; i-- > 0;) {
			short re = pfds[base + i].revents;
			if (re && !conn_io(conns[i], re, draining))
				conn_close(i);
		}
		if (base && (pfds[0].revents & POLLIN)) {
			while (nconns < MAX_CONNS) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				if (cfd < 0) {
					if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
						accept_pause_until = now_ms() + 100; /* let connections finish */
					break;
				}
				struct conn *c = calloc(1, sizeof(*c));
				if (!c) {
					close(cfd);
					break;
				}
				c->fd = cfd;
				c->last_ms = now_ms();
				conns[nconns++] = c;
			}
		}
	}
	while (nconns)
		conn_close(nconns - 1);
	if (lfd >= 0)
		close(lfd);
	if (ufd >= 0)
		close(ufd);
	printf("echo-server: stopped\n");
	return 0;
}
