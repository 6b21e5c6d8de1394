/* Connection admission for the HTTP servers (the API server on 6443, the agent's
 * streaming server on 10250): what a client that has not yet shown who it is may
 * hold, so idle sockets, slow TLS handshakes and slow request headers cannot
 * take every connection slot away from authenticated clients.
 *
 * Every accepted connection starts "pending". It becomes "trusted" when a request
 * arrives whose credentials the server accepts (bearer token, client
 * certificate). Pending connections have their own budget, globally and per
 * client address; when it is full a pending connection is dropped to make room
 * for the new one: among the oldest, the one whose peer has been quiet longest
 * (the attacker's sockets are older and idle or trickling; a legitimate client
 * is busy with its handshake and headers for milliseconds), and none may stay
 * pending longer than a deadline (TLS handshake plus request headers). Trusted connections have a separate budget and an idle
 * timeout between requests; a request in progress is never cut here (watches,
 * log streams and upgraded exec sessions end on their own terms).
 *
 * Connections are dropped with shutdown(2) on their socket, which wakes their
 * thread; the server then closes them as if the peer had gone. */
#ifndef MINIK8S_CONNGUARD_H
#define MINIK8S_CONNGUARD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "minik8s/util.h"

#define MK_CONNGUARD_DEFAULT_MAX_PENDING 256
#define MK_CONNGUARD_DEFAULT_MAX_TRUSTED 1024
#define MK_CONNGUARD_DEFAULT_PENDING_TIMEOUT_MS 10000
#define MK_CONNGUARD_DEFAULT_IDLE_TIMEOUT_MS 90000

struct mk_connguard_options {
	unsigned max_pending;	     /* pending connections, all clients; 0: default */
	unsigned max_pending_per_ip; /* pending from one address; 0: max_pending / 2 */
	unsigned max_trusted;	     /* trusted connections; 0: default */
	unsigned pending_timeout_ms; /* accept -> first trusted request; 0: default */
	unsigned idle_timeout_ms;    /* trusted, between requests; 0: default */
};

struct mk_connguard_stats {
	unsigned pending, trusted;	/* now */
	uint64_t evicted;		/* pending dropped to make room */
	uint64_t timed_out;		/* pending past the deadline, trusted idle too long */
	uint64_t refused;		/* trust refused: trusted budget full */
};

struct mk_connguard;
struct mk_connguard_conn;

/* Starts the guard and its timer thread. *ret is owned by the caller
 * (mk_connguard_free, after the server using it has stopped). */
int mk_connguard_new(const struct mk_connguard_options *opts, struct mk_connguard **ret,
		     struct mk_error **err);
void mk_connguard_free(struct mk_connguard *g);
/* The effective limits (defaults filled in). */
void mk_connguard_get_options(const struct mk_connguard *g, struct mk_connguard_options *ret);
void mk_connguard_get_stats(struct mk_connguard *g, struct mk_connguard_stats *ret);

/* An accepted connection on socket fd from addr (may be NULL). Makes room in the
 * pending budgets by dropping pending connections (see above). The entry is owned
 * by the guard until mk_connguard_conn_remove, which the server calls before it
 * closes fd (the guard may shutdown(fd) until then). */
struct mk_connguard_conn *mk_connguard_conn_add(struct mk_connguard *g, int fd,
						const struct sockaddr *addr, socklen_t addrlen);
void mk_connguard_conn_remove(struct mk_connguard *g, struct mk_connguard_conn *c);
/* The connection's client proved who it is. false: the trusted budget is full
 * (answer 429 and close the connection). Trusting twice is a no-op. */
bool mk_connguard_conn_trust(struct mk_connguard *g, struct mk_connguard_conn *c);
bool mk_connguard_conn_is_trusted(struct mk_connguard *g, struct mk_connguard_conn *c);
/* A request starts / ends on the connection (a trusted connection is idle between). */
void mk_connguard_request_begin(struct mk_connguard *g, struct mk_connguard_conn *c);
void mk_connguard_request_end(struct mk_connguard *g, struct mk_connguard_conn *c);
/* The connection left HTTP (WebSocket upgrade): never idle again. */
void mk_connguard_conn_upgraded(struct mk_connguard *g, struct mk_connguard_conn *c);

/* ---- libmicrohttpd glue ----------------------------------------------------------
 * Pass mk_connguard_mhd_notify with the guard as MHD_OPTION_NOTIFY_CONNECTION. */
void mk_connguard_mhd_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			     enum MHD_ConnectionNotificationCode toe);
/* The guard entry of an MHD connection (borrowed; NULL if none). */
struct mk_connguard_conn *mk_connguard_mhd_conn(struct MHD_Connection *conn);
/* The MHD connection limit that goes with the guard's budgets: trusted plus twice
 * the pending budget (room for dropped connections still closing). */
unsigned mk_connguard_mhd_connection_limit(const struct mk_connguard *g);
/* Raises the process' soft RLIMIT_NOFILE (never above the hard limit) so that
 * limit, plus room for everything else, fits: systemd's default soft limit of
 * 1,024 would otherwise fail accept() before the budgets matter. */
void mk_connguard_raise_nofile(const struct mk_connguard *g);
/* Call at the first callback of each request: marks it begun and, when the
 * previous request was a stream, restores the daemon's inactivity timeout. */
void mk_connguard_mhd_request_begin(struct mk_connguard *g, struct MHD_Connection *conn);
/* Call before queueing a reply: a streaming reply (watch, log follow) turns the
 * inactivity timeout off for this request; a 101 (upgrade) marks the connection
 * upgraded. The daemon's MHD_OPTION_CONNECTION_TIMEOUT must be the guard's idle
 * timeout (in seconds). */
void mk_connguard_mhd_reply(struct mk_connguard *g, struct MHD_Connection *conn, unsigned code,
			    bool streaming);

#endif
