/* Connection admission: budgets and deadlines for pending and trusted connections
 * (see include/minik8s/connguard.h for the model).
 *
 * Why not libmicrohttpd's own options: MHD_OPTION_CONNECTION_TIMEOUT is an
 * inactivity timeout (a client sending one header byte every few seconds never
 * reaches it), MHD_OPTION_PER_IP_CONNECTION_LIMIT refuses the newcomer (the
 * legitimate client) rather than an old idle socket, and it cannot tell an
 * authenticated client from an unknown one. So the servers keep thread-per-
 * connection (watches and log streams block their thread) with a connection
 * limit of trusted + 2 x pending, and this module decides which connections to
 * drop: it sees every connection through MHD_OPTION_NOTIFY_CONNECTION (STARTED
 * comes before the connection's thread runs, CLOSED before MHD closes the
 * socket), so a shutdown(2) under our lock always hits the right socket. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "minik8s/connguard.h"

#define TICK_MS 250
#define EVICT_SAMPLE 16 /* pending connections looked at per eviction */

struct mk_connguard_conn {
	struct mk_connguard_conn *prev, *next; /* accept order: oldest first */
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t accepted_ns;
	uint64_t idle_since_ns; /* trusted: when the last request ended */
	bool trusted;
	bool busy;	   /* a request in progress */
	bool upgraded;	   /* left HTTP: never idle */
	bool dropped;	   /* shut down by us, waiting for the server to close it */
	bool stream_timeout_off; /* MHD inactivity timeout turned off for a stream */
};

struct mk_connguard {
	struct mk_connguard_options o;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	bool stop;
	pthread_t timer;
	struct mk_connguard_conn *head, *tail;
	unsigned pending, trusted; /* live (not dropped) connections */
	uint64_t evicted, timed_out, refused;
};

static bool same_host(const struct mk_connguard_conn *a, const struct mk_connguard_conn *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET)
		return ((const struct sockaddr_in *)&a->addr)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&b->addr)->sin_addr.s_addr;
	if (a->addr.ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)&a->addr)->sin6_addr,
			       &((const struct sockaddr_in6 *)&b->addr)->sin6_addr,
			       sizeof(struct in6_addr));
	return a->addrlen == 0 && b->addrlen == 0; /* unknown peers share one budget */
}

/* Shuts the connection's socket down (its thread sees EOF and the server closes
 * it); called with the lock held, so the entry (and fd) is still registered. */
static void drop_locked(struct mk_connguard *g, struct mk_connguard_conn *c)
{
	if (c->dropped)
		return;
	c->dropped = true;
	if (c->trusted)
		g->trusted--;
	else
		g->pending--;
	shutdown(c->fd, SHUT_RDWR);
}

/* How long the peer has sent nothing: the kernel's tcpi_last_data_recv (since
 * the handshake when nothing came yet), or the age for a non-TCP socket. */
static uint64_t quiet_ms(const struct mk_connguard_conn *c, uint64_t now)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    len >= offsetof(struct tcp_info, tcpi_last_data_recv) + sizeof(ti.tcpi_last_data_recv))
		return ti.tcpi_last_data_recv;
	return (now - c->accepted_ns) / 1000000u;
}

/* Drops a pending connection (of c's host when per_host), never c: among the
 * EVICT_SAMPLE oldest, the one that has been quiet longest. Oldest-first alone
 * would let an attacker that reconnects fast push a legitimate client out while
 * its TLS handshake is still running; that client is sending, the attacker's
 * sockets are idle or trickle a byte now and then. */
static bool evict_pending_locked(struct mk_connguard *g, struct mk_connguard_conn *c,
					bool per_host)
{
	struct mk_connguard_conn *victim = NULL;
	uint64_t now = mk_time_mono_ns(), victim_quiet = 0;
	unsigned seen = 0;

	for (struct mk_connguard_conn *p = g->head; p && seen < EVICT_SAMPLE; p = p->next) {
		if (p == c || p->dropped || p->trusted || (per_host && !same_host(p, c)))
			continue;
		uint64_t q = quiet_ms(p, now);
		if (!victim || q > victim_quiet) {
			victim = p;
			victim_quiet = q;
		}
		seen++;
	}
	if (!victim)
		return false;
	drop_locked(g, victim);
	g->evicted++;
	return true;
}

static void *timer_main(void *arg)
{
	struct mk_connguard *g = arg;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		struct timespec until;
		mk_time_mono_deadline(&until, TICK_MS);
		pthread_cond_timedwait(&g->cond, &g->lock, &until);
		if (g->stop)
			break;
		uint64_t now = mk_time_mono_ns();
		uint64_t pend_ns = (uint64_t)g->o.pending_timeout_ms * 1000000u;
		uint64_t idle_ns = (uint64_t)g->o.idle_timeout_ms * 1000000u;
		for (struct mk_connguard_conn *c = g->head; c; c = c->next) {
			if (c->dropped || c->upgraded)
				continue;
			if ((!c->trusted && now - c->accepted_ns >= pend_ns) ||
			    (c->trusted && !c->busy && now - c->idle_since_ns >= idle_ns)) {
				drop_locked(g, c);
				g->timed_out++;
			}
		}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int mk_connguard_new(const struct mk_connguard_options *opts, struct mk_connguard **ret,
		     struct mk_error **err)
{
	struct mk_connguard *g = mk_malloc0(sizeof(*g));
	pthread_condattr_t ca;

	if (opts)
		g->o = *opts;
	if (!g->o.max_pending)
		g->o.max_pending = MK_CONNGUARD_DEFAULT_MAX_PENDING;
	if (!g->o.max_pending_per_ip)
		g->o.max_pending_per_ip = g->o.max_pending > 1 ? g->o.max_pending / 2 : 1;
	if (!g->o.max_trusted)
		g->o.max_trusted = MK_CONNGUARD_DEFAULT_MAX_TRUSTED;
	if (!g->o.pending_timeout_ms)
		g->o.pending_timeout_ms = MK_CONNGUARD_DEFAULT_PENDING_TIMEOUT_MS;
	if (!g->o.idle_timeout_ms)
		g->o.idle_timeout_ms = MK_CONNGUARD_DEFAULT_IDLE_TIMEOUT_MS;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cond, &ca);
	pthread_condattr_destroy(&ca);
	int r = pthread_create(&g->timer, NULL, timer_main, g);
	if (r != 0) {
		pthread_cond_destroy(&g->cond);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return mk_error_set(err, r, "connection guard: cannot start its timer thread");
	}
	*ret = g;
	return 0;
}

void mk_connguard_free(struct mk_connguard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->timer, NULL);
	/* the server has stopped: entries left over were never removed by it */
	for (struct mk_connguard_conn *c = g->head, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void mk_connguard_get_options(const struct mk_connguard *g, struct mk_connguard_options *ret)
{
	*ret = g->o;
}

void mk_connguard_get_stats(struct mk_connguard *g, struct mk_connguard_stats *ret)
{
	pthread_mutex_lock(&g->lock);
	*ret = (struct mk_connguard_stats){ .pending = g->pending,
					    .trusted = g->trusted,
					    .evicted = g->evicted,
					    .timed_out = g->timed_out,
					    .refused = g->refused };
	pthread_mutex_unlock(&g->lock);
}

struct mk_connguard_conn *mk_connguard_conn_add(struct mk_connguard *g, int fd,
						const struct sockaddr *addr, socklen_t addrlen)
{
	struct mk_connguard_conn *c = mk_malloc0(sizeof(*c));
	unsigned same = 0;

	c->fd = fd;
	if (addr && addrlen > 0 && addrlen <= sizeof(c->addr)) {
		memcpy(&c->addr, addr, addrlen);
		c->addrlen = addrlen;
	}
	c->accepted_ns = mk_time_mono_ns();
	pthread_mutex_lock(&g->lock);
	c->prev = g->tail;
	if (g->tail)
		g->tail->next = c;
	else
		g->head = c;
	g->tail = c;
	g->pending++;
	for (struct mk_connguard_conn *p = g->head; p; p = p->next)
		if (!p->dropped && !p->trusted && same_host(p, c))
			same++;
	/* the host's own budget first, so one address cannot crowd out the others */
	while (same > g->o.max_pending_per_ip && evict_pending_locked(g, c, true))
		same--;
	while (g->pending > g->o.max_pending && evict_pending_locked(g, c, false))
		;
	pthread_mutex_unlock(&g->lock);
	return c;
}

void mk_connguard_conn_remove(struct mk_connguard *g, struct mk_connguard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	if (!c->dropped) {
		if (c->trusted)
			g->trusted--;
		else
			g->pending--;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		g->tail = c->prev;
	pthread_mutex_unlock(&g->lock);
	free(c);
}

bool mk_connguard_conn_trust(struct mk_connguard *g, struct mk_connguard_conn *c)
{
	bool ok = true;

	if (!c)
		return true; /* not guarded (added before the guard existed): nothing to count */
	pthread_mutex_lock(&g->lock);
	if (!c->trusted && !c->dropped) {
		if (g->trusted >= g->o.max_trusted) {
			ok = false;
			g->refused++;
		} else {
			c->trusted = true;
			g->pending--;
			g->trusted++;
			c->idle_since_ns = mk_time_mono_ns();
		}
	}
	pthread_mutex_unlock(&g->lock);
	return ok;
}

bool mk_connguard_conn_is_trusted(struct mk_connguard *g, struct mk_connguard_conn *c)
{
	bool t;

	if (!c)
		return false;
	pthread_mutex_lock(&g->lock);
	t = c->trusted;
	pthread_mutex_unlock(&g->lock);
	return t;
}

void mk_connguard_request_begin(struct mk_connguard *g, struct mk_connguard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	c->busy = true;
	pthread_mutex_unlock(&g->lock);
}

void mk_connguard_request_end(struct mk_connguard *g, struct mk_connguard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	c->busy = false;
	c->idle_since_ns = mk_time_mono_ns();
	pthread_mutex_unlock(&g->lock);
}

void mk_connguard_conn_upgraded(struct mk_connguard *g, struct mk_connguard_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	c->upgraded = true;
	pthread_mutex_unlock(&g->lock);
}

/* ---- libmicrohttpd glue ---------------------------------------------------------- */

void mk_connguard_mhd_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			     enum MHD_ConnectionNotificationCode toe)
{
	struct mk_connguard *g = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ai =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = ai ? ai->client_addr : NULL;
		socklen_t len = !sa ? 0
				: sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
				: sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							    : 0;
		if (!fi)
			return;
		*socket_context = mk_connguard_conn_add(g, fi->connect_fd, len ? sa : NULL, len);
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		mk_connguard_conn_remove(g, *socket_context);
		*socket_context = NULL;
	}
}

struct mk_connguard_conn *mk_connguard_mhd_conn(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

unsigned mk_connguard_mhd_connection_limit(const struct mk_connguard *g)
{
	return g->o.max_trusted + 2 * g->o.max_pending;
}

void mk_connguard_raise_nofile(const struct mk_connguard *g)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)mk_connguard_mhd_connection_limit(g) + 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the hard limit is the admin's */
}

void mk_connguard_mhd_request_begin(struct mk_connguard *g, struct MHD_Connection *conn)
{
	struct mk_connguard_conn *c = mk_connguard_mhd_conn(conn);
	bool restore;

	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	c->busy = true;
	restore = c->stream_timeout_off;
	c->stream_timeout_off = false;
	pthread_mutex_unlock(&g->lock);
	if (restore)
		MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
					  g->o.idle_timeout_ms / 1000u);
}

void mk_connguard_mhd_reply(struct mk_connguard *g, struct MHD_Connection *conn, unsigned code,
			    bool streaming)
{
	struct mk_connguard_conn *c = mk_connguard_mhd_conn(conn);

	if (!streaming || !c)
		return;
	/* a watch may send nothing for minutes and an exec session may sit idle:
	 * their own deadlines end them, not the keep-alive timeout */
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	pthread_mutex_lock(&g->lock);
	if (code == MHD_HTTP_SWITCHING_PROTOCOLS)
		c->upgraded = true;
	else
		c->stream_timeout_off = true;
	pthread_mutex_unlock(&g->lock);
}
