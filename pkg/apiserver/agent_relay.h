/* The upgraded connection between a client and a node agent, shared by
 * pods/exec, pods/attach (proxy.c) and pods/portforward (portforward.c): dial the
 * agent with the API server's client certificate, make the agent's handshake,
 * answer the client's upgrade, then relay bytes both ways in a thread of its own
 * with bounded buffers. The sessions of one kind are kept in a set, so stopping
 * an API server ends its own and a client cannot open more than the set's limit.
 *
 * A session struct embeds struct agent_relay as its first member (the ops get
 * the relay and cast it back); its ops say how bytes are transformed (the
 * port-forward WebSocket tunnel wraps and unwraps frames) and how it is freed. */
#ifndef MK_APISERVER_AGENT_RELAY_H
#define MK_APISERVER_AGENT_RELAY_H

#include <curl/curl.h>
#include "internal.h"

#define AGENT_RELAY_BUF_CAP (256 * 1024)

struct agent_relay;

struct agent_relay_ops {
	/* before the loop, in the relay's thread (may be NULL); < 0: the client
	 * ended already */
	int (*start)(struct agent_relay *r);
	/* bytes read from the agent, for to_client; NULL: appended as they are */
	void (*from_agent)(struct agent_relay *r, const char *data, size_t len);
	/* bytes read from the client, for to_agent; NULL: appended as they are.
	 * < 0: the client ended the stream */
	int (*from_client)(struct agent_relay *r, const char *data, size_t len);
	/* the agent closed (may be NULL) */
	void (*agent_ended)(struct agent_relay *r);
	/* frees the session that embeds r (agent_relay_release is its part) */
	void (*free)(struct agent_relay *r);
	/* after the client ended, stop only once to_client is delivered too */
	bool flush_client_on_client_end;
};

struct agent_relay_set {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct agent_relay *list;
	unsigned n, max;
};
#define AGENT_RELAY_SET_INIT(limit)                                                  \
	{ PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, (limit) }

struct agent_relay {
	struct mk_apiserver *srv;
	const struct agent_relay_ops *ops;
	struct agent_relay_set *set;
	CURL *agent;
	curl_socket_t agent_fd;
	int client_fd;
	struct MHD_UpgradeResponseHandle *urh;
	struct mk_buf to_client, to_agent;
	size_t client_off, agent_off;
	int wake[2];
	bool started;
	struct agent_relay *next;
};

/* Sets r up (buffers, wake pipe) for srv. -1 when out of resources. */
int agent_relay_init(struct agent_relay *r, struct mk_apiserver *srv, struct agent_relay_set *set,
		     const struct agent_relay_ops *ops);
void agent_relay_release(struct agent_relay *r);
/* Is the set at its limit? */
bool agent_relay_set_full(struct agent_relay_set *set);
/* A curl handle for the agent at url with the API server's client certificate. */
CURL *agent_relay_curl(struct mk_apiserver *srv, const char *url);
/* Connects r->agent (connect only). On failure fills rep and returns -1. */
int agent_relay_dial(struct agent_relay *r, const char *base, struct mk_reply *rep,
		     const char *name);
/* Sends data to the agent, blocking up to 30 s per stall (the handshake only). */
int agent_relay_send_all(struct agent_relay *r, const char *data, size_t len);
/* Reads into to_client until the end of the agent's response head and want_body
 * bytes after it, or the deadline; returns the head's length or -1. */
ssize_t agent_relay_read_head(struct agent_relay *r, uint64_t deadline, size_t want_body);
/* Value of header name in an HTTP head (first match), into out. */
bool agent_relay_head_value(const char *head, size_t len, const char *name, char *out,
			    size_t size);
/* Drops the agent's head from to_client, keeping what followed it. */
void agent_relay_drop_head(struct agent_relay *r, size_t head_len);
/* An agent's error reply to the client: its Status when it sent one. */
void agent_relay_reply_error(struct mk_reply *rep, long code, const char *body, size_t len,
			     const char *name);
/* The agent answered its handshake with code (not 101): reads the body it sent
 * (up to its Content-Length, 64 KiB, or the deadline) and replies with it. */
void agent_relay_reply_refusal(struct agent_relay *r, size_t head_len, int code,
			       uint64_t deadline, struct mk_reply *rep, const char *name);
/* "https://IP:PORT" of the node's agent (owned): its InternalIP (IPv6 in
 * brackets) and kubelet endpoint port (MK_AGENT_STREAM_DEFAULT_PORT if unset).
 * NULL without an InternalIP, or with an IPv6 one when ipv4_only. */
char *agent_node_base(const cJSON *node, bool ipv4_only);
/* The same for the stored Node named node; on failure fills rep (404/503). */
int agent_relay_node_base(struct mk_apiserver *srv, const char *node, struct mk_reply *rep,
			  char **ret_base);
/* The upgrade response that starts the relay once MHD hands over the socket.
 * NULL when out of memory (the caller still owns r). */
struct MHD_Response *agent_relay_response(struct agent_relay *r);
/* Registers r in its set (after the response was made). */
void agent_relay_set_add(struct agent_relay *r);
/* Ends every session of srv in set, waiting up to 10 s (server stopping). */
void agent_relay_set_cancel(struct agent_relay_set *set, struct mk_apiserver *srv);

#endif
