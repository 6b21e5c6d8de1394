/* Private to the streaming server files (stream*.c). */
#ifndef MINIK8S_AGENT_STREAM_INTERNAL_H
#define MINIK8S_AGENT_STREAM_INTERNAL_H

#include <gnutls/x509.h>
#include <pthread.h>
#include <microhttpd.h>
#include "stream.h"
#include "minik8s/connguard.h"

struct mk_agent_stream {
	struct MHD_Daemon *daemon;
	struct mk_runtime *rt;
	mk_agent_stream_resolve_fn resolve;
	mk_agent_stream_netns_fn resolve_netns; /* NULL: no port-forward */
	mk_agent_stream_list_fn list_containers; /* NULL: no container metrics */
	void *resolve_userdata;
	char *dns_address; /* the node's cluster DNS address (trace); NULL: none */
	char *client_cn;
	char *cert_pem, *key_pem, *ca_pem; /* kept alive for MHD */
	unsigned max_sessions;
	struct mk_connguard *guard; /* connection admission (connguard.h) */
	unsigned max_trusted;	    /* its budget of API server connections */

	pthread_mutex_t lock;	/* guards the fields below */
	pthread_cond_t cond;	/* signalled when sessions drops */
	unsigned sessions;	/* exec sessions and log streams running */
	bool stopping;
	struct stream_upgraded *upgraded; /* running exec and port-forward sessions,
					   * to wake on stop */
};

/* The part of an upgraded connection's session (exec, attach, port-forward) the
 * server runs: embedded first in the session. After the 101 reply stream.c
 * starts a thread that calls run, links the session into srv->upgraded while it
 * runs (stopping the server writes wake[1]), then closes the connection and
 * calls free. */
struct stream_upgraded {
	struct mk_agent_stream *srv;
	void (*run)(struct stream_upgraded *u);
	void (*free)(struct stream_upgraded *u); /* frees the whole session */
	struct MHD_UpgradeResponseHandle *urh;
	int sock;
	int wake[2];	  /* written to end the session (server stopping) */
	struct mk_buf in; /* bytes from the client not parsed yet */
	struct stream_upgraded *next;
};

/* A request of the server (MHD's per-request context). */
struct stream_request {
	struct mk_agent_stream *srv;
	struct MHD_Connection *conn;
	char *ns, *pod, *container; /* from the path */
	struct stream_upgraded *upgraded; /* a session waiting for its upgrade */
	bool attach;                /* /attach: the exec handler attaches instead */
	bool close_after;	    /* not the API server: close after the reply */
	bool streaming;		    /* the reply is a log stream (no inactivity timeout) */
};

/* A reply to queue: either a ready response or an error Status. */
struct stream_reply {
	unsigned code;
	struct MHD_Response *resp; /* owned until queued */
};

/* Fills rep with a Status error (JSON). */
void stream_reply_status(struct stream_reply *rep, unsigned code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Takes a session slot; false (and a 429 reply) when all are in use or stopping. */
bool stream_session_get(struct mk_agent_stream *s, struct stream_reply *rep);
void stream_session_put(struct mk_agent_stream *s);
/* Sets up u (no pipe yet) for a session of s; run and free as described above. */
void stream_upgraded_init(struct stream_upgraded *u, struct mk_agent_stream *s,
			  void (*run)(struct stream_upgraded *), void (*free)(struct stream_upgraded *));
/* Releases what stream_upgraded_init and _reply made (the session's free calls it). */
void stream_upgraded_release(struct stream_upgraded *u);
/* The 101 reply that hands the connection to u once sent (req owns u until then);
 * -1 with rep filled (or no response) on failure, u then still the caller's. */
int stream_upgraded_reply(struct stream_request *req, struct stream_upgraded *u,
			  struct stream_reply *rep);
/* Wakes every upgraded session so it ends (server stopping); lock held. */
void stream_upgraded_cancel_all_locked(struct mk_agent_stream *s);
/* True when the query parameter key is "true" / "1". */
bool stream_arg_bool(struct MHD_Connection *conn, const char *key);

/* stream_logs.c */
void stream_logs_handle(struct stream_request *req, struct stream_reply *rep);
/* An RFC 3339 time (optional fraction up to ns, Z or an offset) in ns since the
 * epoch; -1 when malformed. */
int64_t stream_time_parse_ns(const char *s, size_t len);
/* A log time printed as Go's RFC3339Nano (kubelet's timestamps): of a "...Z"
 * time t[0..len), print *ret_head bytes, then t from the returned offset (the
 * zone); trailing zeros of the fraction are dropped, the dot too when nothing
 * is left. Other forms are printed whole. */
size_t stream_time_trim_nano(const char *t, size_t len, size_t *ret_head);
/* stream_exec.c */
void stream_exec_handle(struct stream_request *req, struct stream_reply *rep);

/* stream_portforward.c: true (and ns/pod set) for /portForward/NS/POD[/UID] */
bool stream_portforward_match(struct stream_request *req, const char *url);
void stream_portforward_handle(struct stream_request *req, struct stream_reply *rep);

/* stream_metrics.c: GET /metrics/resource (Prometheus text) */
void stream_metrics_handle(struct stream_request *req, struct stream_reply *rep);

/* stream_trace.c: GET /trace/service (this node's proxy state and DNS answer) */
void stream_trace_handle(struct stream_request *req, struct stream_reply *rep);

/* stream_tls.c: a self-signed serving certificate for host (an IP or a name). */
int stream_tls_self_signed(const char *host, char **ret_cert_pem, char **ret_key_pem,
			   struct mk_error **err);
/* true when crt's extended key usage allows TLS client authentication (clientAuth) */
bool stream_tls_is_client_cert(gnutls_x509_crt_t crt);

#endif
