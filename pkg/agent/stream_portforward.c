/* GET|POST /portForward/NS/POD: the kubelet's port-forward, in two protocols.
 *
 *  - WebSocket, subprotocol v4.channel.k8s.io (the Python client; `?ports=80,8080`
 *    or repeated `ports`): per requested port k, channel 2k carries data both ways
 *    and channel 2k+1 errors from us; the first frame we send on each channel is
 *    the port as 2 bytes little-endian. Each port gets one TCP connection, made at
 *    once; when all of them ended we close the WebSocket (1000).
 *  - SPDY/3.1 upgrade with X-Stream-Protocol-Version portforward.k8s.io (kubectl,
 *    through the API server, which unwraps the WebSocket tunnel kubectl 1.31+
 *    speaks): every forwarded connection is a pair of streams opened by the
 *    client with headers streamType=error|data, port and requestID; we reply to
 *    each stream, dial when the pair is complete, relay the data stream, and end
 *    both streams with FIN when the pod's side closed. A dial error is written on
 *    the error stream, worded as kubelet (with containerd) words it.
 *
 * The TCP connection goes to localhost:PORT inside the pod's network namespace
 * (IPv4, then IPv6, as containerd does), made from a short-lived thread that
 * joined the namespace (mk_net_netns_run) - the thread-level equivalent of the
 * kubelet's nsenter. One thread per session relays everything with poll. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include "minik8s/net.h"
#include "minik8s/spdy.h"
#include "stream_internal.h"

#define MAX_PORTS 16	      /* WebSocket: ports per session */
#define MAX_CONNS 128	      /* SPDY: concurrent forwarded connections per session */
#define BUF_CAP (256 * 1024)  /* per direction before we stop reading */
#define CHUNK (32 * 1024)
#define FLUSH_WAIT_MS 5000

enum { PF_WS = 1, PF_SPDY = 2 };

struct pf_conn {
	uint16_t port;
	int fd;			/* to the pod; -1 before the dial and after the end */
	char *request_id;	/* SPDY */
	uint32_t data_id, error_id;
	int index;		/* WebSocket: the port's index */
	struct mk_buf to_pod;
	size_t to_pod_off;
	bool client_fin, shut_wr, done;
	struct pf_conn *next;
};

struct stream_pf {
	struct stream_upgraded u; /* first: the server runs the session through it */
	int proto;
	char *pod, *uid, *netns_path;
	int netns_fd;		/* -1: the node's namespace (hostNetwork pods) */
	uint16_t ports[MAX_PORTS];
	size_t n_ports;

	struct mk_buf out;
	size_t out_off;
	struct mk_spdy_zlib z;
	struct pf_conn *conns;
	unsigned n_conns;
	bool goaway;
};

static void conn_free(struct pf_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->request_id);
	mk_buf_release(&c->to_pod);
	free(c);
}

static void stream_portforward_free(struct stream_pf *p)
{
	if (!p)
		return;
	for (struct pf_conn *c = p->conns, *n; c; c = n) {
		n = c->next;
		conn_free(c);
	}
	mk_spdy_zlib_release(&p->z);
	stream_upgraded_release(&p->u);
	mk_buf_release(&p->out);
	if (p->netns_fd >= 0)
		close(p->netns_fd);
	free(p->pod);
	free(p->uid);
	free(p->netns_path);
	free(p);
}

static void pf_free(struct stream_upgraded *u)
{
	stream_portforward_free((struct stream_pf *)u);
}

/* ---- dialing in the pod's namespace ------------------------------------------ */

struct dial {
	uint16_t port;
	int fd;
	int err4, err6;
};

static int dial_one(int family, uint16_t port, int *ret_errno)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;

	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*ret_errno = errno;
		return -1;
	}
	/* loopback: a blocking connect answers at once (refused or accepted) */
	if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
		*ret_errno = errno;
		close(fd);
		return -1;
	}
	return fd;
}

static int dial_fn(void *userdata, struct mk_error **err)
{
	struct dial *d = userdata;

	d->fd = dial_one(AF_INET, d->port, &d->err4);
	if (d->fd < 0)
		d->fd = dial_one(AF_INET6, d->port, &d->err6);
	return 0;
}

/* Go's wording of an errno ("connection refused") */
static char *go_strerror(int e)
{
	char *s = mk_strdup(strerror(e));
	if (*s)
		s[0] = (char)tolower((unsigned char)s[0]);
	return s;
}

/* Connects c to its port in the pod. On failure returns the message for the
 * error channel (owned). */
static char *conn_dial(struct stream_pf *p, struct pf_conn *c)
{
	struct dial d = { .port = c->port, .fd = -1 };
	struct mk_error *err = NULL;
	const char *nspath = p->netns_path ? p->netns_path : "(the node's)";

	if (mk_net_netns_run(p->netns_fd, dial_fn, &d, &err) < 0) {
		char *m = mk_strdup_printf(
			"error forwarding port %u to pod %s, uid : failed to execute portforward in "
			"network namespace \"%s\": %s",
			c->port, p->uid, nspath, err->msg);
		mk_error_free(&err);
		return m;
	}
	if (d.fd < 0) {
		_cleanup_free_ char *e4 = go_strerror(d.err4), *e6 = go_strerror(d.err6);
		return mk_strdup_printf(
			"error forwarding port %u to pod %s, uid : failed to execute portforward in "
			"network namespace \"%s\": failed to connect to localhost:%u inside namespace "
			"\"%s\", IPv4: dial tcp4 127.0.0.1:%u: connect: %s IPv6 dial tcp6 [::1]:%u: "
			"connect: %s ",
			c->port, p->uid, nspath, c->port, nspath, c->port, e4, c->port, e6);
	}
	fcntl(d.fd, F_SETFL, fcntl(d.fd, F_GETFL) | O_NONBLOCK);
	c->fd = d.fd;
	return NULL;
}

static struct pf_conn *conn_new(struct stream_pf *p, uint16_t port)
{
	struct pf_conn *c = mk_malloc0(sizeof(*c));
	c->port = port;
	c->fd = -1;
	mk_buf_init(&c->to_pod);
	c->next = p->conns;
	p->conns = c;
	p->n_conns++;
	return c;
}

static void conn_remove(struct stream_pf *p, struct pf_conn *c)
{
	for (struct pf_conn **pp = &p->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			p->n_conns--;
			break;
		}
	conn_free(c);
}

/* ---- WebSocket v4 ------------------------------------------------------------- */

static void ws_channel(struct stream_pf *p, uint8_t ch, const void *data, size_t len)
{
	mk_ws_channel_append(&p->out, ch, data, len, NULL);
}

static void ws_start(struct stream_pf *p)
{
	for (size_t i = 0; i < p->n_ports; i++) {
		uint8_t le[2] = { (uint8_t)p->ports[i], (uint8_t)(p->ports[i] >> 8) };
		struct pf_conn *c = conn_new(p, p->ports[i]);
		c->index = (int)i;
		ws_channel(p, (uint8_t)(2 * i), le, 2);
		ws_channel(p, (uint8_t)(2 * i + 1), le, 2);
		_cleanup_free_ char *msg = conn_dial(p, c);
		if (msg) {
			ws_channel(p, (uint8_t)(2 * i + 1), msg, strlen(msg));
			c->done = true;
		}
	}
}

/* One frame from the client; -1 ends the session. */
static int ws_frame(struct stream_pf *p, struct mk_ws_frame *f)
{
	switch (f->opcode) {
	case MK_WS_OP_PING:
		mk_ws_frame_append(&p->out, MK_WS_OP_PONG, f->payload, f->len, NULL);
		return 0;
	case MK_WS_OP_PONG:
		return 0;
	case MK_WS_OP_CLOSE:
		return -1;
	default:
		break;
	}
	if (f->len == 0)
		return 0;
	uint8_t ch = f->payload[0];
	if (ch % 2) /* error channels are ours to write */
		return 0;
	for (struct pf_conn *c = p->conns; c; c = c->next)
		if (c->index == ch / 2 && !c->done && !c->client_fin)
			mk_buf_append(&c->to_pod, f->payload + 1, f->len - 1);
	return 0;
}

/* ---- SPDY --------------------------------------------------------------------- */

static struct pf_conn *spdy_conn_by_stream(struct stream_pf *p, uint32_t id)
{
	for (struct pf_conn *c = p->conns; c; c = c->next)
		if (c->data_id == id || c->error_id == id)
			return c;
	return NULL;
}

/* Ends a pair: optional message on the error stream, FIN on both. */
static void spdy_conn_end(struct stream_pf *p, struct pf_conn *c, const char *msg)
{
	if (c->error_id) {
		if (msg)
			mk_spdy_data_append(&p->out, c->error_id, msg, strlen(msg), false);
		mk_spdy_data_append(&p->out, c->error_id, NULL, 0, true);
	}
	if (c->data_id)
		mk_spdy_data_append(&p->out, c->data_id, NULL, 0, true);
	conn_remove(p, c);
}

static int spdy_syn_stream(struct stream_pf *p, const struct mk_spdy_frame *f)
{
	struct mk_spdy_header *h = NULL;
	size_t n = 0;
	struct mk_error *err = NULL;

	if (mk_spdy_headers_decode(&p->z, f->data, f->len, &h, &n, &err) < 0) {
		/* the compression state is lost: the connection cannot go on */
		mk_log(MK_LOG_DEBUG, "agent-stream", "portforward: %s", err->msg);
		mk_error_free(&err);
		return -1;
	}
	const char *type = mk_spdy_header_get(h, n, "streamtype");
	const char *port_s = mk_spdy_header_get(h, n, "port");
	const char *rid = mk_spdy_header_get(h, n, "requestid");
	uint32_t id = f->stream_id;

	if (!type || (strcmp(type, "data") && strcmp(type, "error"))) {
		mk_spdy_rst_stream_append(&p->out, id, MK_SPDY_PROTOCOL_ERROR);
		mk_spdy_headers_free(h, n);
		return 0;
	}
	mk_spdy_syn_reply_append(&p->z, &p->out, id, NULL, NULL, 0, false);
	struct pf_conn *c = NULL;
	for (c = p->conns; c; c = c->next)
		if (!strcmp(c->request_id, rid ? rid : ""))
			break;
	if (!c) {
		if (p->n_conns >= MAX_CONNS) {
			mk_spdy_rst_stream_append(&p->out, id, MK_SPDY_REFUSED_STREAM);
			mk_spdy_headers_free(h, n);
			return 0;
		}
		char *end = NULL;
		long port = port_s ? strtol(port_s, &end, 10) : 0;
		c = conn_new(p, port > 0 && port < 65536 && end && !*end ? (uint16_t)port : 0);
		c->request_id = mk_strdup(rid ? rid : "");
	}
	if (!strcmp(type, "data"))
		c->data_id = id;
	else
		c->error_id = id;
	if (f->flags & MK_SPDY_FLAG_FIN && !strcmp(type, "data"))
		c->client_fin = true;
	mk_spdy_headers_free(h, n);
	if (!c->data_id || !c->error_id)
		return 0;
	if (c->port == 0) {
		spdy_conn_end(p, c, port_s ? "invalid port" : "port is required");
		return 0;
	}
	_cleanup_free_ char *msg = conn_dial(p, c);
	if (msg)
		spdy_conn_end(p, c, msg);
	return 0;
}

static int spdy_frame(struct stream_pf *p, const struct mk_spdy_frame *f)
{
	struct pf_conn *c;

	if (!f->control) {
		c = spdy_conn_by_stream(p, f->stream_id);
		if (!c || c->error_id == f->stream_id)
			return 0; /* the error stream is ours to write */
		if (!c->client_fin)
			mk_buf_append(&c->to_pod, f->data, f->len);
		if (f->flags & MK_SPDY_FLAG_FIN)
			c->client_fin = true;
		return 0;
	}
	switch (f->type) {
	case MK_SPDY_SYN_STREAM:
		return spdy_syn_stream(p, f);
	case MK_SPDY_SYN_REPLY:
	case MK_SPDY_HEADERS: {
		/* not expected from a client, but the block must go through zlib */
		struct mk_spdy_header *h = NULL;
		size_t n = 0;
		struct mk_error *err = NULL;
		if (mk_spdy_headers_decode(&p->z, f->data, f->len, &h, &n, &err) < 0) {
			mk_error_free(&err);
			return -1;
		}
		mk_spdy_headers_free(h, n);
		return 0;
	}
	case MK_SPDY_RST_STREAM:
		if ((c = spdy_conn_by_stream(p, f->stream_id)))
			conn_remove(p, c);
		return 0;
	case MK_SPDY_PING:
		mk_spdy_ping_append(&p->out, f->stream_id);
		return 0;
	case MK_SPDY_GOAWAY:
		p->goaway = true;
		return -1;
	default: /* SETTINGS, WINDOW_UPDATE: spdystream has no flow control */
		return 0;
	}
}

/* ---- the session loop --------------------------------------------------------- */

static int process_input(struct stream_pf *p)
{
	size_t off = 0;
	int r = 0;

	while (off < p->u.in.len) {
		struct mk_error *err = NULL;
		ssize_t n;
		if (p->proto == PF_WS) {
			struct mk_ws_frame f;
			n = mk_ws_frame_parse((uint8_t *)p->u.in.data + off, p->u.in.len - off,
					      MK_WS_MAX_PAYLOAD, 1, &f, &err);
			if (n > 0 && ws_frame(p, &f) < 0)
				r = -1;
		} else {
			struct mk_spdy_frame f;
			n = mk_spdy_frame_parse((uint8_t *)p->u.in.data + off, p->u.in.len - off,
						MK_SPDY_MAX_PAYLOAD, &f, &err);
			if (n > 0 && spdy_frame(p, &f) < 0)
				r = -1;
		}
		if (n < 0) {
			mk_log(MK_LOG_DEBUG, "agent-stream", "portforward: %s", err->msg);
			mk_error_free(&err);
			r = -1;
		}
		if (n <= 0 || r < 0)
			break;
		off += (size_t)n;
	}
	memmove(p->u.in.data, p->u.in.data + off, p->u.in.len - off);
	p->u.in.len -= off;
	return r;
}

static bool pod_backlog(struct stream_pf *p)
{
	for (struct pf_conn *c = p->conns; c; c = c->next)
		if (c->to_pod.len - c->to_pod_off > BUF_CAP)
			return true;
	return false;
}

/* Writes what the pod connections can take; half-closes after the client's FIN. */
static void flush_to_pods(struct stream_pf *p)
{
	for (struct pf_conn *c = p->conns; c; c = c->next) {
		if (c->fd < 0)
			continue;
		while (c->to_pod_off < c->to_pod.len) {
			ssize_t n = send(c->fd, c->to_pod.data + c->to_pod_off,
					 c->to_pod.len - c->to_pod_off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				if (n < 0 && errno != EAGAIN) /* the pod reset it: drop the rest */
					c->to_pod_off = c->to_pod.len;
				break;
			}
			c->to_pod_off += (size_t)n;
		}
		if (c->to_pod_off == c->to_pod.len)
			c->to_pod.len = c->to_pod_off = 0;
		if (c->client_fin && !c->shut_wr && c->to_pod.len == 0) {
			shutdown(c->fd, SHUT_WR);
			c->shut_wr = true;
		}
	}
}

/* Reads from one pod connection into frames; at its end, ends the pair. */
static void read_pod(struct stream_pf *p, struct pf_conn *c)
{
	char buf[CHUNK];

	while (p->out.len - p->out_off < BUF_CAP) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (p->proto == PF_SPDY) {
				spdy_conn_end(p, c, NULL);
			} else {
				close(c->fd);
				c->fd = -1;
				c->done = true;
			}
			return;
		}
		if (p->proto == PF_SPDY)
			mk_spdy_data_append(&p->out, c->data_id, buf, (size_t)n, false);
		else
			ws_channel(p, (uint8_t)(2 * c->index), buf, (size_t)n);
	}
}

static int flush_out(struct stream_pf *p)
{
	return mk_io_flush(mk_io_sock_send, &p->u.sock, &p->out, &p->out_off);
}

static bool ws_all_done(struct stream_pf *p)
{
	for (struct pf_conn *c = p->conns; c; c = c->next)
		if (!c->done)
			return false;
	return true;
}

/* long on purpose: the session's one poll loop, read top to bottom */
static void run_session(struct stream_upgraded *u)
{
	struct stream_pf *p = (struct stream_pf *)u;
	char buf[CHUNK];
	struct pollfd *fds = NULL;
	struct pf_conn **owners = NULL;
	size_t fds_cap = 0, owners_cap = 0;
	bool closing = false;
	uint64_t close_deadline = 0;

	fcntl(p->u.sock, F_SETFL, fcntl(p->u.sock, F_GETFL) | O_NONBLOCK);
	if (p->proto == PF_WS)
		ws_start(p);
	for (;;) {
		if (p->proto == PF_WS && !closing && ws_all_done(p)) {
			static const uint8_t normal[2] = { 0x03, 0xe8 }; /* 1000 */
			mk_ws_frame_append(&p->out, MK_WS_OP_CLOSE, normal, sizeof(normal), NULL);
			closing = true;
			close_deadline = mk_time_mono_ns() + (uint64_t)FLUSH_WAIT_MS * 1000000;
		}
		if (flush_out(p) < 0)
			break;
		if (closing && (p->out.len == 0 || mk_time_mono_ns() > close_deadline))
			break;
		flush_to_pods(p);

		MK_GROW(fds, fds_cap, 2 + p->n_conns);
		MK_GROW(owners, owners_cap, 2 + p->n_conns);
		size_t nf = 0;
		fds[nf++] = (struct pollfd){ .fd = p->u.wake[0], .events = POLLIN };
		fds[nf] = (struct pollfd){ .fd = p->u.sock, .events = 0 };
		if (!closing && !pod_backlog(p))
			fds[nf].events |= POLLIN;
		if (p->out.len)
			fds[nf].events |= POLLOUT;
		nf++;
		for (struct pf_conn *c = p->conns; c; c = c->next) {
			if (c->fd < 0)
				continue;
			owners[nf] = c;
			fds[nf] = (struct pollfd){ .fd = c->fd, .events = 0 };
			if (p->out.len - p->out_off < BUF_CAP)
				fds[nf].events |= POLLIN;
			if (c->to_pod.len)
				fds[nf].events |= POLLOUT;
			nf++;
		}
		int n = poll(fds, nf, closing ? 200 : -1);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (fds[0].revents)
			break; /* server stopping */
		/* the pods first: reading the client may remove connections */
		for (size_t i = 2; i < nf; i++)
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				struct pf_conn *c = owners[i];
				bool alive = false;
				for (struct pf_conn *k = p->conns; k; k = k->next)
					alive |= k == c;
				if (alive && c->fd >= 0)
					read_pod(p, c);
			}
		if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(p->u.sock, buf, sizeof(buf), 0);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
				break;
			if (r > 0) {
				mk_buf_append(&p->u.in, buf, (size_t)r);
				if (process_input(p) < 0) {
					flush_out(p);
					break;
				}
			}
		}
	}
	free(fds);
	free(owners);
}

/* ---- the request -------------------------------------------------------------- */

struct port_collect {
	struct stream_pf *p;
	char bad[64];
};

static enum MHD_Result collect_ports(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct port_collect *pc = cls;

	if (strcmp(key, "ports") || !value)
		return MHD_YES;
	_cleanup_free_ char *v = mk_strdup(value);
	char *save = NULL;
	for (char *t = strtok_r(v, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *end = NULL;
		long port = strtol(t, &end, 10);
		if (!*t || *end || port <= 0 || port > 65535 || pc->p->n_ports >= MAX_PORTS) {
			snprintf(pc->bad, sizeof(pc->bad), "%.32s", t);
			return MHD_NO;
		}
		pc->p->ports[pc->p->n_ports++] = (uint16_t)port;
	}
	return MHD_YES;
}

bool stream_portforward_match(struct stream_request *req, const char *url)
{
	_cleanup_free_ char *u = mk_strdup(url);
	char *seg[4], *save = NULL;
	int n = 0;

	for (char *t = strtok_r(u, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 4)
			return false;
		seg[n++] = t;
	}
	/* kubelet also serves /portForward/NS/POD/UID; the UID is not needed here */
	if ((n != 3 && n != 4) || strcmp(seg[0], "portForward"))
		return false;
	for (int i = 1; i < n; i++)
		if (strlen(seg[i]) > 253)
			return false;
	req->ns = mk_strdup(seg[1]);
	req->pod = mk_strdup(seg[2]);
	return true;
}

/* The protocol the client asks for: PF_WS or PF_SPDY; -1 with rep filled when
 * neither is asked for as served. */
static int pf_protocol(struct MHD_Connection *conn, struct stream_reply *rep)
{
	const char *upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *proto =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	const char *spdy_proto =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Stream-Protocol-Version");

	if (mk_ws_header_has_token(upgrade, "websocket", true) && key) {
		if (!mk_ws_header_has_token(proto, MK_WS_PROTOCOL_V4, false)) {
			stream_reply_status(rep, 400,
					    "unsupported WebSocket subprotocol: only %s is served",
					    MK_WS_PROTOCOL_V4);
			return -1;
		}
		return PF_WS;
	}
	if (upgrade && !strncasecmp(upgrade, "SPDY/3.1", 8)) {
		if (spdy_proto && !mk_ws_header_has_token(spdy_proto, MK_SPDY_PORTFORWARD_PROTOCOL,
							  false)) {
			stream_reply_status(rep, 403, "unable to upgrade: no common protocols: "
					    "only %s is served", MK_SPDY_PORTFORWARD_PROTOCOL);
			return -1;
		}
		return PF_SPDY;
	}
	stream_reply_status(rep, 400,
			    "Upgrade request required: port-forward needs a WebSocket (%s) "
			    "or SPDY/3.1 (%s) upgrade", MK_WS_PROTOCOL_V4,
			    MK_SPDY_PORTFORWARD_PROTOCOL);
	return -1;
}

void stream_portforward_handle(struct stream_request *req, struct stream_reply *rep)
{
	struct mk_agent_stream *s = req->srv;
	struct MHD_Connection *conn = req->conn;
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	_cleanup_free_ char *netns = NULL, *uid = NULL;
	struct mk_error *err = NULL;
	int kind = pf_protocol(conn, rep);

	if (kind < 0)
		return;
	if (!s->resolve_netns) {
		stream_reply_status(rep, 404, "port-forward is not served by this node");
		return;
	}
	struct stream_pf *p = mk_malloc0(sizeof(*p));
	stream_upgraded_init(&p->u, s, run_session, pf_free);
	p->proto = kind;
	p->netns_fd = -1;
	mk_buf_init(&p->out);
	mk_spdy_zlib_init(&p->z);
	if (kind == PF_WS) {
		struct port_collect pc = { .p = p };
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_ports, &pc);
		if (pc.bad[0] || p->n_ports == 0) {
			if (pc.bad[0])
				stream_reply_status(rep, 400, "invalid port %s (at most %d ports of "
						    "1-65535)", pc.bad, MAX_PORTS);
			else
				stream_reply_status(rep, 400, "query parameter \"port\" is required");
			stream_portforward_free(p);
			return;
		}
	}
	if (s->resolve_netns(s->resolve_userdata, req->ns, req->pod, &uid, &netns, &err) < 0) {
		stream_reply_status(rep, err->code == ENOENT ? 404 : 500, "%s", err->msg);
		mk_error_free(&err);
		stream_portforward_free(p);
		return;
	}
	if (netns && (p->netns_fd = open(netns, O_RDONLY | O_CLOEXEC)) < 0) {
		stream_reply_status(rep, 500, "open network namespace '%s': %s", netns,
				    strerror(errno));
		stream_portforward_free(p);
		return;
	}
	p->pod = mk_strdup(req->pod);
	p->uid = TAKE_PTR(uid);
	p->netns_path = TAKE_PTR(netns);
	if (stream_upgraded_reply(req, &p->u, rep) < 0) {
		stream_portforward_free(p);
		return;
	}
	if (kind == PF_WS) {
		_cleanup_free_ char *accept = mk_ws_accept_key(key);
		MHD_add_response_header(rep->resp, "Upgrade", "websocket");
		MHD_add_response_header(rep->resp, "Sec-WebSocket-Accept", accept);
		MHD_add_response_header(rep->resp, "Sec-WebSocket-Protocol", MK_WS_PROTOCOL_V4);
	} else {
		MHD_add_response_header(rep->resp, "Upgrade", MK_SPDY_UPGRADE);
		MHD_add_response_header(rep->resp, "X-Stream-Protocol-Version",
					MK_SPDY_PORTFORWARD_PROTOCOL);
	}
}
