/* The responder's sockets and threads.
 *
 * UDP: one thread per worker, each with its own SO_REUSEPORT socket per listen
 * address, so the kernel spreads clients over the workers with no shared queue;
 * packets move in batches with recvmmsg/sendmmsg. Answers come from the zone
 * under its read lock; forwarded queries are handed to the forwarder thread.
 * A wildcard IPv4 listen address uses IP_PKTINFO so answers leave from the
 * address the query was sent to.
 *
 * TCP (RFC 7766 two-byte length framing, pipelined queries answered in order):
 * an acceptor thread and one thread per connection, at most max_tcp_conns at a
 * time, each closed after tcp_idle_ms without a query or when a query does not
 * arrive whole within the same time. When all are taken, a new connection is not
 * refused: the connection that has been waiting longest is dropped to make room
 * (one that never sent a whole query first), as RFC 7766 section 6.2.2 allows
 * under pressure, so idle or slow clients cannot lock out everyone else. A
 * connection between reading a query and writing its answer is never dropped. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <arpa/inet.h>
#include "internal.h"

#define MAX_LISTEN 8
#define BATCH 32
#define MAX_WORKERS 64

struct listen_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	bool wildcard4;
};

struct udp_worker {
	struct mk_dns_server *s;
	int fds[MAX_LISTEN];
	bool pktinfo[MAX_LISTEN];
	pthread_t thread;
	bool started;
	uint64_t queries, formerr, dropped, forwarded;
};

struct mk_dns_server {
	struct mk_dns_zone *zone;
	struct listen_addr la[MAX_LISTEN];
	int nla;
	uint16_t port;
	int evfd;
	bool stop;
	struct udp_worker *w;
	int nw;
	struct dns_forwarder *fwd;
	/* TCP */
	int tcp_fds[MAX_LISTEN];
	pthread_t acceptor;
	bool acceptor_started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct tcp_conn *conns; /* 2 x max_conns slots: live ones and dropped ones closing */
	unsigned max_conns, nconns, live, idle_ms;
	uint64_t tcp_queries;
};

static int bind_socket(struct mk_dns_server *s, int netns_fd, const struct listen_addr *la,
		       int type, struct mk_error **err)
{
	int one = 1;
	char host[64];
	struct sockaddr_storage sa = la->sa;
	int fd = dns_socket(netns_fd, sa.ss_family, type, err);

	if (fd < 0)
		return -1;
	if (sa.ss_family == AF_INET)
		((struct sockaddr_in *)&sa)->sin_port = htons(s->port);
	else
		((struct sockaddr_in6 *)&sa)->sin6_port = htons(s->port);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((type & 0xf) == SOCK_DGRAM) {
		/* a burst deeper than the default queue is dropped by the kernel
		 * before we see it: ask for 4 MiB (FORCE works for root, else the
		 * kernel clamps to rmem_max) */
		int rcv = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	}
	if (sa.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (la->wildcard4 && (type & 0xf) == SOCK_DGRAM)
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, la->len) < 0) {
		int e = errno;
		close(fd);
		inet_ntop(sa.ss_family,
			  sa.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&sa)->sin_addr
						  : (void *)&((struct sockaddr_in6 *)&sa)->sin6_addr,
			  host, sizeof(host));
		return mk_error_errno(err, e, "dns: bind %s port %u", host, s->port);
	}
	if (s->port == 0) {
		socklen_t l = sizeof(sa);
		getsockname(fd, (struct sockaddr *)&sa, &l);
		s->port = ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
							: ((struct sockaddr_in6 *)&sa)->sin6_port);
	}
	return fd;
}

/* ---- UDP ---------------------------------------------------------------------------- */

struct batch {
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iin[BATCH], iout[BATCH];
	struct sockaddr_storage peer[BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} cin[BATCH], cout[BATCH];
	uint8_t qbuf[BATCH][MK_DNS_UDP_MAX];
	uint8_t abuf[BATCH][MK_DNS_UDP_MAX];
};

static const struct in_pktinfo *get_pktinfo(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			return (const struct in_pktinfo *)CMSG_DATA(c);
	return NULL;
}

/* The receive side of a batch: every slot's buffer, peer and (with pi) control. */
static void batch_arm(struct batch *b, bool pi)
{
	for (int i = 0; i < BATCH; i++) {
		b->iin[i] = (struct iovec){ b->qbuf[i], MK_DNS_UDP_MAX };
		b->in[i].msg_hdr = (struct msghdr){ .msg_name = &b->peer[i],
						    .msg_namelen = sizeof(b->peer[i]),
						    .msg_iov = &b->iin[i],
						    .msg_iovlen = 1 };
		if (pi) {
			b->in[i].msg_hdr.msg_control = b->cin[i].buf;
			b->in[i].msg_hdr.msg_controllen = sizeof(b->cin[i].buf);
		}
	}
}

/* Reply slot nout (alen bytes in abuf[nout]) to query i's peer, sent from the
 * address the query came to (pinfo) so multi-homed listeners answer right. */
static void batch_reply(struct batch *b, int nout, int i, size_t alen, const struct msghdr *mh,
			const struct in_pktinfo *pinfo)
{
	b->iout[nout] = (struct iovec){ b->abuf[nout], alen };
	b->out[nout].msg_hdr = (struct msghdr){ .msg_name = &b->peer[i],
						.msg_namelen = mh->msg_namelen,
						.msg_iov = &b->iout[nout],
						.msg_iovlen = 1 };
	if (!pinfo)
		return;
	struct msghdr *oh = &b->out[nout].msg_hdr;
	memset(&b->cout[nout], 0, sizeof(b->cout[nout]));
	oh->msg_control = b->cout[nout].buf;
	oh->msg_controllen = sizeof(b->cout[nout].buf);
	struct cmsghdr *c = CMSG_FIRSTHDR(oh);
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo o = { 0 };
	o.ipi_spec_dst = pinfo->ipi_addr;
	memcpy(CMSG_DATA(c), &o, sizeof(o));
}

static void batch_send(int fd, struct batch *b, int nout)
{
	for (int sent = 0; sent < nout;) {
		int r = sendmmsg(fd, b->out + sent, nout - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r <= 0) {
			/* a full socket buffer or an unreachable peer: UDP drops */
			sent++;
			continue;
		}
		sent += r;
	}
}

static void udp_serve(struct udp_worker *w, int li, struct batch *b)
{
	struct mk_dns_server *s = w->s;
	int fd = w->fds[li];
	bool pi = w->pktinfo[li];
	bool can_fwd = dns_forwarder_has_upstreams(s->fwd);

	for (int round = 0; round < 64; round++) {
		batch_arm(b, pi);
		int n = recvmmsg(fd, b->in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		int nout = 0;
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &b->in[i].msg_hdr;
			size_t len = b->in[i].msg_len, alen = 0;
			w->queries++;
			if (mh->msg_flags & MSG_TRUNC) {
				w->dropped++; /* larger than any query we accept */
				continue;
			}
			const struct in_pktinfo *pinfo = pi ? get_pktinfo(mh) : NULL;
			enum mk_dns_action a = mk_dns_zone_answer(s->zone, b->qbuf[i], len, false,
								  can_fwd, b->abuf[nout], &alen);
			if (a == MK_DNS_ACTION_FORWARD) {
				w->forwarded++;
				if (dns_forwarder_submit(s->fwd, b->qbuf[i], len, fd,
							 (struct sockaddr *)&b->peer[i], mh->msg_namelen,
							 pinfo) == 0)
					continue;
				alen = mk_dns_error_response(b->qbuf[i], len, MK_DNS_RCODE_SERVFAIL,
							     b->abuf[nout], MK_DNS_UDP_MAX);
				a = alen ? MK_DNS_ACTION_REPLY : MK_DNS_ACTION_DROP;
			}
			if (a != MK_DNS_ACTION_REPLY) {
				w->dropped++;
				continue;
			}
			if (alen >= 4 && (b->abuf[nout][3] & 0xf) == MK_DNS_RCODE_FORMERR)
				w->formerr++;
			batch_reply(b, nout, i, alen, mh, pinfo);
			nout++;
		}
		batch_send(fd, b, nout);
		if (n < BATCH)
			return;
	}
}

static void *udp_thread(void *arg)
{
	struct udp_worker *w = arg;
	struct mk_dns_server *s = w->s;
	struct batch *b = mk_malloc0(sizeof(*b));
	struct pollfd pfd[MAX_LISTEN + 1];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < s->nla; i++)
			pfd[i] = (struct pollfd){ w->fds[i], POLLIN, 0 };
		pfd[s->nla] = (struct pollfd){ s->evfd, POLLIN, 0 };
		if (poll(pfd, s->nla + 1, -1) < 0 && errno != EINTR)
			break;
		if (pfd[s->nla].revents)
			break;
		for (int i = 0; i < s->nla; i++)
			if (pfd[i].revents & POLLIN)
				udp_serve(w, i, b);
	}
	free(b);
	return NULL;
}

/* ---- TCP ------------------------------------------------------------------------------ */

struct tcp_conn {
	int fd;		   /* -1: free slot */
	uint64_t since_ns; /* accepted, or last answer written */
	bool busy;	   /* a query read, its answer not written yet */
	bool answered;	   /* at least one query answered */
	bool dropped;	   /* shut down to make room; its thread is ending */
};

struct conn_arg {
	struct mk_dns_server *s;
	int fd, slot;
};

static void conn_mark(struct mk_dns_server *s, int slot, bool busy)
{
	pthread_mutex_lock(&s->mu);
	s->conns[slot].busy = busy;
	if (!busy) {
		s->conns[slot].answered = true;
		s->conns[slot].since_ns = mk_time_mono_ns();
	}
	pthread_mutex_unlock(&s->mu);
}

/* Drops the connection waiting longest, one that never had an answer first (the
 * caller holds mu). false: every connection is busy answering. */
static bool evict_locked(struct mk_dns_server *s)
{
	struct tcp_conn *v = NULL;

	for (unsigned k = 0; k < 2 * s->max_conns; k++) {
		struct tcp_conn *c = &s->conns[k];
		if (c->fd < 0 || c->dropped || c->busy)
			continue;
		if (!v || (v->answered && !c->answered) ||
		    (v->answered == c->answered && c->since_ns < v->since_ns))
			v = c;
	}
	if (!v)
		return false;
	v->dropped = true;
	s->live--;
	shutdown(v->fd, SHUT_RDWR);
	return true;
}

static void *conn_thread(void *arg)
{
	struct conn_arg *ca = arg;
	struct mk_dns_server *s = ca->s;
	int fd = ca->fd;
	uint8_t *q = malloc(MK_DNS_TCP_MAX), *a = malloc(MK_DNS_TCP_MAX + 2);
	bool can_fwd = dns_forwarder_has_upstreams(s->fwd);

	while (q && a && !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		uint8_t lb[2];
		uint64_t deadline = mk_time_mono_ns() + (uint64_t)s->idle_ms * 1000000;
		if (!dns_io_full(fd, lb, 2, false, deadline))
			break;
		size_t len = rd16(lb), alen = 0;
		if (len < 12 || !dns_io_full(fd, q, len, false, deadline))
			break;
		__atomic_add_fetch(&s->tcp_queries, 1, __ATOMIC_RELAXED);
		conn_mark(s, ca->slot, true);
		enum mk_dns_action act = mk_dns_zone_answer(s->zone, q, len, true, can_fwd, a + 2, &alen);
		if (act == MK_DNS_ACTION_FORWARD) {
			alen = dns_forward_sync(s->fwd, q, len, a + 2, MK_DNS_TCP_MAX);
			if (!alen)
				alen = mk_dns_error_response(q, len, MK_DNS_RCODE_SERVFAIL, a + 2,
							     MK_DNS_TCP_MAX);
			act = alen ? MK_DNS_ACTION_REPLY : MK_DNS_ACTION_DROP;
		}
		if (act != MK_DNS_ACTION_REPLY)
			break; /* nothing sensible to say: close */
		wr16(a, (uint16_t)alen);
		if (!dns_io_full(fd, a, alen + 2, true, mk_time_mono_ns() + (uint64_t)s->idle_ms * 1000000))
			break;
		conn_mark(s, ca->slot, false);
	}
	free(q);
	free(a);
	pthread_mutex_lock(&s->mu);
	close(fd);
	if (!s->conns[ca->slot].dropped)
		s->live--;
	s->conns[ca->slot] = (struct tcp_conn){ .fd = -1 };
	s->nconns--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	free(ca);
	return NULL;
}

static void *acceptor_thread(void *arg)
{
	struct mk_dns_server *s = arg;
	struct pollfd pfd[MAX_LISTEN + 1];

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < s->nla; i++)
			pfd[i] = (struct pollfd){ s->tcp_fds[i], POLLIN, 0 };
		pfd[s->nla] = (struct pollfd){ s->evfd, POLLIN, 0 };
		if (poll(pfd, s->nla + 1, -1) < 0 && errno != EINTR)
			break;
		if (pfd[s->nla].revents)
			break;
		for (int i = 0; i < s->nla; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			int fd = accept4(s->tcp_fds[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			pthread_mutex_lock(&s->mu);
			int slot = -1;
			if (s->live < s->max_conns || evict_locked(s))
				for (unsigned k = 0; k < 2 * s->max_conns; k++)
					if (s->conns[k].fd < 0) {
						slot = (int)k;
						break;
					}
			if (slot < 0) {
				pthread_mutex_unlock(&s->mu);
				close(fd); /* over the limit */
				continue;
			}
			struct conn_arg *ca = mk_malloc0(sizeof(*ca));
			*ca = (struct conn_arg){ s, fd, slot };
			pthread_t t;
			pthread_attr_t at;
			pthread_attr_init(&at);
			pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
			pthread_attr_setstacksize(&at, 256 * 1024);
			if (pthread_create(&t, &at, conn_thread, ca) != 0) {
				close(fd);
				free(ca);
			} else {
				s->conns[slot] = (struct tcp_conn){ .fd = fd,
								    .since_ns = mk_time_mono_ns() };
				s->nconns++;
				s->live++;
			}
			pthread_attr_destroy(&at);
			pthread_mutex_unlock(&s->mu);
		}
	}
	return NULL;
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static int parse_listen(const char *addr, struct listen_addr *la)
{
	memset(la, 0, sizeof(*la));
	struct sockaddr_in *a4 = (struct sockaddr_in *)&la->sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&la->sa;
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		la->len = sizeof(*a4);
		la->wildcard4 = a4->sin_addr.s_addr == INADDR_ANY;
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		la->len = sizeof(*a6);
		return 0;
	}
	return -1;
}

/* The steps of mk_dns_server_start: the server with its limits and empty slots,
 * its listen addresses, its sockets, then its threads. Every step leaves s
 * fit for mk_dns_server_stop, which undoes what was done. */

static struct mk_dns_server *server_new(struct mk_dns_zone *zone,
					const struct mk_dns_server_options *opts)
{
	struct mk_dns_server *s = mk_malloc0(sizeof(*s));
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	s->zone = zone;
	s->evfd = -1;
	s->port = opts->port ? opts->port : 53;
	s->nw = opts->workers > 0 ? opts->workers : ncpu > 0 ? (int)ncpu : 1;
	if (s->nw > MAX_WORKERS)
		s->nw = MAX_WORKERS;
	s->max_conns = opts->max_tcp_conns ? opts->max_tcp_conns : 64;
	s->idle_ms = opts->tcp_idle_ms ? opts->tcp_idle_ms : 10000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->conns = mk_malloc0(2 * s->max_conns * sizeof(*s->conns));
	for (unsigned i = 0; i < 2 * s->max_conns; i++)
		s->conns[i].fd = -1;
	for (int i = 0; i < MAX_LISTEN; i++)
		s->tcp_fds[i] = -1;
	s->w = mk_malloc0(s->nw * sizeof(*s->w));
	for (int k = 0; k < s->nw; k++)
		for (int i = 0; i < MAX_LISTEN; i++)
			s->w[k].fds[i] = -1;
	if (opts->port == 0)
		s->port = 0; /* tests: an ephemeral port, shared by every socket */
	return s;
}

static int server_parse_listen(struct mk_dns_server *s, const char *const *addrs,
			       struct mk_error **err)
{
	for (; *addrs; addrs++) {
		if (s->nla >= MAX_LISTEN)
			return mk_error_set(err, EINVAL, "dns: more than %d listen addresses", MAX_LISTEN);
		if (parse_listen(*addrs, &s->la[s->nla]) < 0)
			return mk_error_set(err, EINVAL, "dns: invalid listen address '%s'", *addrs);
		s->nla++;
	}
	if (s->nla == 0)
		return mk_error_set(err, EINVAL, "dns: no listen address");
	return 0;
}

/* A TCP listener per address (unless no_tcp), and per worker a UDP socket per
 * address (SO_REUSEPORT spreads the queries over the workers). */
static int server_bind(struct mk_dns_server *s, const struct mk_dns_server_options *opts,
		       struct mk_error **err)
{
	/* TCP first: with port 0 it picks the port the UDP sockets then share */
	for (int i = 0; i < s->nla && !opts->no_tcp; i++) {
		s->tcp_fds[i] = bind_socket(s, opts->netns_fd, &s->la[i], SOCK_STREAM | SOCK_NONBLOCK, err);
		if (s->tcp_fds[i] < 0)
			return -1;
		if (listen(s->tcp_fds[i], 128) < 0)
			return mk_error_errno(err, errno, "dns: listen");
	}
	for (int k = 0; k < s->nw; k++)
		for (int i = 0; i < s->nla; i++) {
			s->w[k].fds[i] = bind_socket(s, opts->netns_fd, &s->la[i], SOCK_DGRAM | SOCK_NONBLOCK, err);
			if (s->w[k].fds[i] < 0)
				return -1;
			s->w[k].pktinfo[i] = s->la[i].wildcard4;
		}
	return 0;
}

/* The forwarder, the UDP workers and the TCP acceptor. */
static int server_start_threads(struct mk_dns_server *s, const struct mk_dns_server_options *opts,
				struct mk_error **err)
{
	struct dns_forwarder_options fo = { opts->upstreams, opts->forward_timeout_ms,
					    opts->forward_tries, opts->max_pending };
	if (dns_forwarder_new(&fo, opts->netns_fd, &s->fwd, err) < 0)
		return -1;
	s->evfd = dns_eventfd(err);
	if (s->evfd < 0)
		return -1;
	for (int k = 0; k < s->nw; k++) {
		s->w[k].s = s;
		if (pthread_create(&s->w[k].thread, NULL, udp_thread, &s->w[k]) != 0)
			return mk_error_set(err, EAGAIN, "dns: cannot start a worker thread");
		s->w[k].started = true;
	}
	if (!opts->no_tcp) {
		if (pthread_create(&s->acceptor, NULL, acceptor_thread, s) != 0)
			return mk_error_set(err, EAGAIN, "dns: cannot start the TCP thread");
		s->acceptor_started = true;
	}
	return 0;
}

int mk_dns_server_start(struct mk_dns_zone *zone, const struct mk_dns_server_options *opts,
			struct mk_dns_server **ret, struct mk_error **err)
{
	static const char *const def_listen[] = { "127.0.0.1", NULL };
	struct mk_dns_server *s = server_new(zone, opts);

	if (server_parse_listen(s, opts->listen ? opts->listen : def_listen, err) < 0 ||
	    server_bind(s, opts, err) < 0 || server_start_threads(s, opts, err) < 0) {
		mk_dns_server_stop(s);
		return -1;
	}
	*ret = s;
	return 0;
}

uint16_t mk_dns_server_port(const struct mk_dns_server *s) { return s->port; }

void mk_dns_server_stop(struct mk_dns_server *s)
{
	if (!s)
		return;
	__atomic_store_n(&s->stop, true, __ATOMIC_RELEASE);
	dns_eventfd_kick(s->evfd);
	for (int k = 0; k < s->nw; k++)
		if (s->w[k].started)
			pthread_join(s->w[k].thread, NULL);
	if (s->acceptor_started)
		pthread_join(s->acceptor, NULL);
	/* wake the connection threads and wait for them (bounded by their
	 * in-flight forward, at most timeout x tries) */
	pthread_mutex_lock(&s->mu);
	for (unsigned i = 0; i < 2 * s->max_conns; i++)
		if (s->conns[i].fd >= 0)
			shutdown(s->conns[i].fd, SHUT_RDWR);
	while (s->nconns > 0)
		pthread_cond_wait(&s->cond, &s->mu);
	pthread_mutex_unlock(&s->mu);
	dns_forwarder_free(s->fwd);
	for (int k = 0; k < s->nw; k++)
		dns_close_fds(s->w[k].fds, MAX_LISTEN);
	dns_close_fds(s->tcp_fds, MAX_LISTEN);
	mk_closep(&s->evfd);
	free(s->w);
	free(s->conns);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void mk_dns_server_get_stats(struct mk_dns_server *s, struct mk_dns_server_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (int k = 0; k < s->nw; k++) {
		ret->udp_queries += __atomic_load_n(&s->w[k].queries, __ATOMIC_RELAXED);
		ret->formerr += __atomic_load_n(&s->w[k].formerr, __ATOMIC_RELAXED);
		ret->dropped += __atomic_load_n(&s->w[k].dropped, __ATOMIC_RELAXED);
	}
	ret->tcp_queries = __atomic_load_n(&s->tcp_queries, __ATOMIC_RELAXED);
	dns_forwarder_stats(s->fwd, &ret->forwarded, &ret->forward_fail);
}
