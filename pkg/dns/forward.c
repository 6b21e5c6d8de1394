/* Forwarder: names outside the cluster zone go to the node's upstream
 * resolvers. UDP clients are served asynchronously by one thread: each query
 * gets a fresh random upstream ID in a bounded pending table, is sent to the
 * next upstream on every retry, and the answer whose ID, source address and
 * question match is relayed with the client's ID; when every try timed out the
 * client gets SERVFAIL. TCP clients (already on a thread of their own) forward
 * synchronously: UDP first, TCP to the same upstream when the answer is
 * truncated. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include "internal.h"

#define MAX_UP 8
#define TICK_MS 20

struct pending {
	bool used;
	uint16_t up_id, client_id;
	unsigned tries, up;
	uint64_t deadline;
	int reply_fd;
	struct sockaddr_storage client;
	socklen_t clen;
	bool has_pi;
	struct in_pktinfo pi;
	size_t qlen;
	uint8_t q[MK_DNS_UDP_MAX];
};

struct dns_forwarder {
	struct sockaddr_storage up[MAX_UP];
	socklen_t uplen[MAX_UP];
	unsigned nup;
	int netns_fd;
	int sock[2]; /* AF_INET, AF_INET6 (-1 when no upstream of that family) */
	int evfd;
	unsigned timeout_ms, tries, max_pending;
	pthread_mutex_t mu;
	struct pending *p;
	uint32_t *by_id; /* upstream id -> slot + 1 */
	unsigned npending, next_up;
	uint64_t rng;
	bool stop, started;
	pthread_t thread;
	uint64_t ok, fail;
};

static uint16_t rand16(struct dns_forwarder *f)
{
	/* xorshift64*, seeded from getrandom: IDs need to be unpredictable to an
	 * off-path attacker, not cryptographic (the source port is random too) */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return (uint16_t)((f->rng * 2685821657736338717ull) >> 48);
}

static int sock_for(struct dns_forwarder *f, unsigned up)
{
	return f->sock[f->up[up].ss_family == AF_INET6];
}

/* The question of a response matches the query's (case-insensitively). */
static bool same_question(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint8_t wa[MK_DNS_NAME_MAX], wb[MK_DNS_NAME_MAX];
	size_t la, lb, ea, eb;
	if (alen < 12 || blen < 12 || rd16(a + 4) != 1 || rd16(b + 4) != 1)
		return false;
	if (dns_name_unpack(a, alen, 12, wa, &la, &ea, true) < 0 ||
	    dns_name_unpack(b, blen, 12, wb, &lb, &eb, true) < 0)
		return false;
	return la == lb && memcmp(wa, wb, la) == 0 && ea + 4 <= alen && eb + 4 <= blen &&
	       memcmp(a + ea, b + eb, 4) == 0;
}

static void send_to_client(struct pending *p, const uint8_t *msg, size_t len)
{
	struct iovec iov = { (void *)msg, len };
	union {
		char buf[CMSG_SPACE(sizeof(struct in_pktinfo))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = { .msg_name = &p->client, .msg_namelen = p->clen,
			     .msg_iov = &iov, .msg_iovlen = 1 };
	if (p->has_pi) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
		memcpy(CMSG_DATA(c), &p->pi, sizeof(p->pi));
	}
	sendmsg(p->reply_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void slot_free(struct dns_forwarder *f, struct pending *p)
{
	f->by_id[p->up_id] = 0;
	p->used = false;
	f->npending--;
}

static void send_upstream(struct dns_forwarder *f, struct pending *p)
{
	wr16(p->q, p->up_id);
	sendto(sock_for(f, p->up), p->q, p->qlen, MSG_DONTWAIT | MSG_NOSIGNAL,
	       (struct sockaddr *)&f->up[p->up], f->uplen[p->up]);
	p->deadline = mk_time_mono_ns() + (uint64_t)f->timeout_ms * 1000000;
}

static void fail_slot(struct dns_forwarder *f, struct pending *p)
{
	uint8_t out[MK_DNS_UDP_MAX];
	wr16(p->q, p->client_id);
	size_t n = mk_dns_error_response(p->q, p->qlen, MK_DNS_RCODE_SERVFAIL, out, sizeof(out));
	if (n)
		send_to_client(p, out, n);
	f->fail++;
	slot_free(f, p);
}

static void handle_answer(struct dns_forwarder *f, int fd)
{
	uint8_t buf[MK_DNS_TCP_MAX];
	struct sockaddr_storage from;
	for (int i = 0; i < 64; i++) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (n < 12 || !(rd16(buf + 2) & MK_DNS_FLAG_QR))
			continue;
		pthread_mutex_lock(&f->mu);
		uint32_t slot = f->by_id[rd16(buf)];
		struct pending *p = slot ? &f->p[slot - 1] : NULL;
		if (p && dns_sockaddr_equal((struct sockaddr *)&from, (struct sockaddr *)&f->up[p->up]) &&
		    same_question(buf, n, p->q, p->qlen)) {
			wr16(buf, p->client_id);
			send_to_client(p, buf, n);
			f->ok++;
			slot_free(f, p);
		}
		pthread_mutex_unlock(&f->mu);
	}
}

static void expire(struct dns_forwarder *f)
{
	uint64_t now = mk_time_mono_ns();
	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; i < f->max_pending && f->npending; i++) {
		struct pending *p = &f->p[i];
		if (!p->used || p->deadline > now)
			continue;
		if (++p->tries >= f->tries) {
			fail_slot(f, p);
			continue;
		}
		p->up = (p->up + 1) % f->nup;
		send_upstream(f, p);
	}
	pthread_mutex_unlock(&f->mu);
}

static void *forwarder_thread(void *arg)
{
	struct dns_forwarder *f = arg;
	uint64_t last = mk_time_mono_ns();
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd pfd[3] = { { f->evfd, POLLIN, 0 }, { f->sock[0], POLLIN, 0 },
					 { f->sock[1], POLLIN, 0 } };
		int r = poll(pfd, 3, TICK_MS);
		if (r > 0) {
			for (int i = 1; i < 3; i++)
				if (pfd[i].revents & POLLIN)
					handle_answer(f, pfd[i].fd);
		}
		uint64_t now = mk_time_mono_ns();
		if (now - last >= TICK_MS * 1000000ull) {
			last = now;
			expire(f);
		}
	}
	return NULL;
}

int dns_forwarder_new(const struct dns_forwarder_options *o, int netns_fd,
		      struct dns_forwarder **ret, struct mk_error **err)
{
	struct dns_forwarder *f = mk_malloc0(sizeof(*f));
	f->sock[0] = f->sock[1] = f->evfd = -1;
	f->netns_fd = netns_fd;
	f->timeout_ms = o->timeout_ms ? o->timeout_ms : 2000;
	f->tries = o->tries ? o->tries : 2;
	f->max_pending = o->max_pending ? o->max_pending : 1024;
	if (f->max_pending > 65536)
		f->max_pending = 65536;
	pthread_mutex_init(&f->mu, NULL);
	mk_random_bytes(&f->rng, sizeof(f->rng));
	f->rng |= 1;
	for (const char *const *u = o->upstreams; u && *u; u++) {
		if (f->nup >= MAX_UP)
			break;
		if (dns_parse_hostport(*u, 53, &f->up[f->nup], &f->uplen[f->nup]) < 0) {
			mk_error_set(err, EINVAL, "dns: invalid upstream '%s'", *u);
			goto fail;
		}
		f->nup++;
	}
	*ret = f;
	if (f->nup == 0)
		return 0;
	for (unsigned i = 0; i < f->nup; i++) {
		int fam = f->up[i].ss_family, k = fam == AF_INET6;
		if (f->sock[k] >= 0)
			continue;
		f->sock[k] = dns_socket(netns_fd, fam, SOCK_DGRAM | SOCK_NONBLOCK, err);
		if (f->sock[k] < 0)
			goto fail;
	}
	f->p = mk_malloc0(f->max_pending * sizeof(*f->p));
	f->by_id = mk_malloc0(65536 * sizeof(*f->by_id));
	f->evfd = dns_eventfd(err);
	if (f->evfd < 0)
		goto fail;
	if (pthread_create(&f->thread, NULL, forwarder_thread, f) != 0) {
		mk_error_set(err, EAGAIN, "dns: cannot start the forwarder thread");
		goto fail;
	}
	f->started = true;
	return 0;
fail:
	*ret = NULL;
	dns_forwarder_free(f);
	return -1;
}

void dns_forwarder_free(struct dns_forwarder *f)
{
	if (!f)
		return;
	if (f->started) {
		__atomic_store_n(&f->stop, true, __ATOMIC_RELEASE);
		dns_eventfd_kick(f->evfd);
		pthread_join(f->thread, NULL);
	}
	dns_close_fds(f->sock, 2);
	mk_closep(&f->evfd);
	free(f->p);
	free(f->by_id);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

bool dns_forwarder_has_upstreams(const struct dns_forwarder *f) { return f && f->nup > 0; }

void dns_forwarder_stats(struct dns_forwarder *f, uint64_t *ret_ok, uint64_t *ret_fail)
{
	if (!f) {
		*ret_ok = *ret_fail = 0;
		return;
	}
	pthread_mutex_lock(&f->mu);
	*ret_ok = f->ok;
	*ret_fail = f->fail;
	pthread_mutex_unlock(&f->mu);
}

int dns_forwarder_submit(struct dns_forwarder *f, const uint8_t *q, size_t qlen, int reply_fd,
			 const struct sockaddr *client, socklen_t clen,
			 const struct in_pktinfo *pktinfo)
{
	if (!dns_forwarder_has_upstreams(f) || qlen < 12 || qlen > MK_DNS_UDP_MAX ||
	    clen > sizeof(struct sockaddr_storage))
		return -1;
	pthread_mutex_lock(&f->mu);
	if (f->npending >= f->max_pending) {
		pthread_mutex_unlock(&f->mu);
		return -1;
	}
	struct pending *p = NULL;
	for (unsigned i = 0; i < f->max_pending; i++) {
		/* a rotating start keeps the scan short while the table is sparse */
		unsigned k = (f->next_up + i) % f->max_pending;
		if (!f->p[k].used) {
			p = &f->p[k];
			f->next_up = k + 1;
			break;
		}
	}
	uint16_t id;
	do
		id = rand16(f);
	while (f->by_id[id]);
	p->used = true;
	p->up_id = id;
	p->client_id = rd16(q);
	p->tries = 0;
	p->up = rand16(f) % f->nup;
	p->reply_fd = reply_fd;
	memcpy(&p->client, client, clen);
	p->clen = clen;
	p->has_pi = pktinfo != NULL;
	if (pktinfo)
		p->pi = *pktinfo;
	memcpy(p->q, q, qlen);
	p->qlen = qlen;
	f->by_id[id] = (uint32_t)(p - f->p) + 1;
	f->npending++;
	send_upstream(f, p);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

/* ---- synchronous path (TCP clients) ---------------------------------------------- */

static bool io_wait(int fd, short ev, uint64_t deadline)
{
	uint64_t now = mk_time_mono_ns();
	if (now >= deadline)
		return false;
	struct pollfd p = { fd, ev, 0 };
	return poll(&p, 1, (int)((deadline - now) / 1000000) + 1) == 1 && (p.revents & ev);
}

static size_t try_tcp(struct dns_forwarder *f, unsigned up, const uint8_t *q, size_t qlen,
		      uint8_t *out, size_t outsz, uint64_t deadline)
{
	_cleanup_close_ int fd = dns_socket(f->netns_fd, f->up[up].ss_family,
					    SOCK_STREAM | SOCK_NONBLOCK, NULL);
	uint8_t len[2];
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&f->up[up], f->uplen[up]) < 0 && errno != EINPROGRESS)
		return 0;
	wr16(len, (uint16_t)qlen);
	if (!dns_io_full(fd, len, 2, true, deadline) || !dns_io_full(fd, (void *)q, qlen, true, deadline) ||
	    !dns_io_full(fd, len, 2, false, deadline))
		return 0;
	size_t n = rd16(len);
	if (n < 12 || n > outsz || !dns_io_full(fd, out, n, false, deadline))
		return 0;
	return n;
}

size_t dns_forward_sync(struct dns_forwarder *f, const uint8_t *q, size_t qlen, uint8_t *out,
			size_t outsz)
{
	uint8_t *mq;
	if (!dns_forwarder_has_upstreams(f) || qlen < 12 || qlen > MK_DNS_TCP_MAX)
		return 0;
	mq = mk_malloc0(qlen);
	memcpy(mq, q, qlen);
	uint16_t client_id = rd16(q);
	pthread_mutex_lock(&f->mu);
	unsigned up = rand16(f) % f->nup;
	pthread_mutex_unlock(&f->mu);
	size_t result = 0;
	for (unsigned t = 0; t < f->tries && !result; t++, up = (up + 1) % f->nup) {
		pthread_mutex_lock(&f->mu);
		uint16_t id = rand16(f);
		pthread_mutex_unlock(&f->mu);
		wr16(mq, id);
		uint64_t deadline = mk_time_mono_ns() + (uint64_t)f->timeout_ms * 1000000;
		size_t n = 0;
		if (qlen <= MK_DNS_UDP_MAX) {
			_cleanup_close_ int fd = dns_socket(f->netns_fd, f->up[up].ss_family,
							    SOCK_DGRAM | SOCK_NONBLOCK, NULL);
			if (fd < 0 ||
			    connect(fd, (struct sockaddr *)&f->up[up], f->uplen[up]) < 0 ||
			    send(fd, mq, qlen, MSG_NOSIGNAL) < 0)
				continue;
			while (io_wait(fd, POLLIN, deadline)) {
				ssize_t r = recv(fd, out, outsz, MSG_DONTWAIT);
				if (r >= 12 && rd16(out) == id && (rd16(out + 2) & MK_DNS_FLAG_QR) &&
				    same_question(out, r, mq, qlen)) {
					n = r;
					break;
				}
			}
		}
		if (qlen > MK_DNS_UDP_MAX || (n && (rd16(out + 2) & MK_DNS_FLAG_TC))) {
			n = try_tcp(f, up, mq, qlen, out, outsz, deadline);
			if (n && (rd16(out) != id || !same_question(out, n, mq, qlen)))
				n = 0;
		}
		if (n) {
			wr16(out, client_id);
			result = n;
		}
	}
	free(mq);
	pthread_mutex_lock(&f->mu);
	if (result)
		f->ok++;
	else
		f->fail++;
	pthread_mutex_unlock(&f->mu);
	return result;
}
