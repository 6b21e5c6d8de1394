/* pods/portforward: proxied to the /portForward endpoint of the pod's node agent
 * (pkg/agent/stream_portforward.c), as kube-apiserver proxies it to the kubelet.
 *
 * Three ways in, as kube-apiserver 1.31+ serves them:
 *  - WebSocket with subprotocol v4.channel.k8s.io (the Python client): the agent
 *    speaks the same protocol, so after both handshakes the bytes are relayed
 *    untouched (the client's masked frames are valid client frames for the agent).
 *  - WebSocket with subprotocol SPDY/3.1+portforward.k8s.io (kubectl 1.31+): the
 *    binary messages carry a SPDY/3.1 byte stream. We unwrap it and talk plain
 *    SPDY to the agent (Upgrade: SPDY/3.1, X-Stream-Protocol-Version:
 *    portforward.k8s.io), wrapping the agent's bytes into binary messages -
 *    kube-apiserver's tunneling handler does the same towards the kubelet.
 *  - a plain Upgrade: SPDY/3.1 (kubectl's fallback): relayed untouched.
 *
 * The agent is reached like exec (proxy.c), through agent_relay.c: TLS to the
 * node's kubelet endpoint with the API server's client certificate, one thread
 * per session relaying with bounded buffers; the tunnel's framing is this
 * file's relay ops. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include "agent_relay.h"
#include "minik8s/agent.h"
#include "minik8s/spdy.h"
#include "minik8s/ws.h"

#define HANDSHAKE_TIMEOUT_MS 30000
#define MAX_SESSIONS 256
#define TUNNEL_CHUNK (32 * 1024)

enum pf_mode {
	PF_WS_V4 = 1,	/* WebSocket both sides, relayed untouched */
	PF_WS_TUNNEL,	/* WebSocket (SPDY inside) to the client, SPDY to the agent */
	PF_SPDY,	/* SPDY both sides, relayed untouched */
};

struct pf_session {
	struct agent_relay r; /* first: the relay's ops get &s->r */
	enum pf_mode mode;
	struct mk_buf from_client; /* tunnel: client frames not parsed yet */
	bool tunnel_closed;	   /* tunnel: the client's close was answered */
};

static void pf_free(struct agent_relay *r)
{
	struct pf_session *s = (struct pf_session *)r;
	agent_relay_release(&s->r);
	mk_buf_release(&s->from_client);
	free(s);
}

static struct agent_relay_set sessions = AGENT_RELAY_SET_INIT(MAX_SESSIONS);

/* ---- the pod's node --------------------------------------------------------------- */

int mk_portforward_agent_base(struct mk_apiserver *srv, const char *ns, const char *name,
			      struct mk_reply *rep, char **ret_base)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;

	if (!srv->kubelet_client_cert || !srv->kubelet_client_key) {
		mk_reply_status(rep, 503, "pods", name,
				"pods/portforward is served by the node agent, and this API server "
				"has no client certificate for agents");
		return -1;
	}
	if (mk_store_get(srv->store, "pods", ns, name, &json, NULL, &err) < 0) {
		if (err->code == ENOENT)
			mk_reply_status(rep, 404, "pods", name, "pods \"%s\" not found", name);
		else
			mk_reply_status(rep, 500, "pods", name, "%s", err->msg);
		return -1;
	}
	_cleanup_cjson_ cJSON *pod = cJSON_Parse(json);
	const char *node = pod ? mk_json_get_string(pod, "spec.nodeName") : NULL;
	if (!node || !*node) {
		mk_reply_status(rep, 400, "pods", name, "pod %s does not have a host assigned", name);
		return -1;
	}
	return agent_relay_node_base(srv, node, rep, ret_base);
}

/* ---- the relay -------------------------------------------------------------------- */

/* One client frame of the tunnel: data for the agent, or a pong / close reply
 * for the client. -1: the tunnel ended. */
static int tunnel_frame(void *ctx, struct mk_ws_frame *f)
{
	struct pf_session *s = ctx;

	if (f->opcode == MK_WS_OP_PING) {
		mk_ws_frame_append(&s->r.to_client, MK_WS_OP_PONG, f->payload, f->len, NULL);
	} else if (f->opcode == MK_WS_OP_CLOSE) {
		static const uint8_t normal[2] = { 0x03, 0xe8 };
		mk_ws_frame_append(&s->r.to_client, MK_WS_OP_CLOSE, normal, sizeof(normal), NULL);
		return -1;
	} else if (f->opcode == MK_WS_OP_BINARY || f->opcode == MK_WS_OP_CONT) {
		mk_buf_append(&s->r.to_agent, f->payload, f->len);
	} else if (f->opcode == MK_WS_OP_TEXT) {
		return -1; /* the tunnel carries binary messages only */
	}
	return 0;
}

/* Tunnel mode: turns complete client frames in from_client into SPDY bytes for
 * the agent (and pongs / close replies for the client). -1: the tunnel ended. */
static int tunnel_unwrap(struct pf_session *s)
{
	_cleanup_error_ struct mk_error *err = NULL;

	return mk_ws_frames_consume(&s->from_client, MK_WS_MAX_PAYLOAD, 1, tunnel_frame, s, &err);
}

/* Appends agent bytes for the client: as they are, or wrapped in binary frames. */
static void to_client_append(struct pf_session *s, const char *data, size_t len)
{
	if (s->mode != PF_WS_TUNNEL) {
		mk_buf_append(&s->r.to_client, data, len);
		return;
	}
	while (len) {
		size_t n = len > TUNNEL_CHUNK ? TUNNEL_CHUNK : len;
		mk_ws_frame_append(&s->r.to_client, MK_WS_OP_BINARY, data, n, NULL);
		data += n;
		len -= n;
	}
}

/* The tunnel's start: bytes that came with the client's handshake are frames
 * too, and the agent's first SPDY bytes (read with its handshake) get wrapped. */
static int tunnel_start(struct agent_relay *r)
{
	struct pf_session *s = (struct pf_session *)r;
	int rc = 0;

	if (s->r.to_agent.len) {
		mk_buf_append(&s->from_client, s->r.to_agent.data, s->r.to_agent.len);
		s->r.to_agent.len = 0;
		if (tunnel_unwrap(s) < 0) {
			s->tunnel_closed = true;
			rc = -1;
		}
	}
	if (s->r.to_client.len) {
		struct mk_buf raw = s->r.to_client;
		mk_buf_init(&s->r.to_client);
		to_client_append(s, raw.data, raw.len);
		mk_buf_release(&raw);
	}
	return rc;
}

static void tunnel_from_agent(struct agent_relay *r, const char *data, size_t len)
{
	to_client_append((struct pf_session *)r, data, len);
}

static int tunnel_from_client(struct agent_relay *r, const char *data, size_t len)
{
	struct pf_session *s = (struct pf_session *)r;

	mk_buf_append(&s->from_client, data, len);
	if (tunnel_unwrap(s) < 0) {
		s->tunnel_closed = true;
		return -1;
	}
	return 0;
}

/* The agent closed: a normal close for the client, unless it closed first. */
static void tunnel_agent_ended(struct agent_relay *r)
{
	struct pf_session *s = (struct pf_session *)r;
	static const uint8_t normal[2] = { 0x03, 0xe8 };

	if (!s->tunnel_closed)
		mk_ws_frame_append(&s->r.to_client, MK_WS_OP_CLOSE, normal, sizeof(normal), NULL);
}

/* Both untouched modes relay bytes as they are; the tunnel wraps and unwraps.
 * Either way, what the agent sent is delivered before a client's end stops it. */
static const struct agent_relay_ops plain_ops = {
	.free = pf_free,
	.flush_client_on_client_end = true,
};
static const struct agent_relay_ops tunnel_ops = {
	.start = tunnel_start,
	.from_agent = tunnel_from_agent,
	.from_client = tunnel_from_client,
	.agent_ended = tunnel_agent_ended,
	.free = pf_free,
	.flush_client_on_client_end = true,
};

/* ---- the request ------------------------------------------------------------------- */

static enum MHD_Result copy_ports(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct mk_buf *b = cls;

	if (strcmp(key, "ports") || !value)
		return MHD_YES;
	char *ev = curl_easy_escape(NULL, value, 0);
	mk_buf_printf(b, "%sports=%s", strchr(b->data, '?') ? "&" : "?", ev);
	curl_free(ev);
	return MHD_YES;
}

/* The client's upgrade, as kube-apiserver serves port-forward: a WebSocket GET
 * with the tunnel or v4 protocol, or SPDY/3.1. -1 with rep filled otherwise. */
static int pf_choose_mode(struct mk_request *req, struct mk_reply *rep, enum pf_mode *ret_mode)
{
	const char *upgrade = mk_request_header(req, "Upgrade");
	const char *key = mk_request_header(req, "Sec-WebSocket-Key");
	const char *proto = mk_request_header(req, "Sec-WebSocket-Protocol");
	const char *spdy_proto = mk_request_header(req, "X-Stream-Protocol-Version");

	if (mk_ws_header_has_token(upgrade, "websocket", true) && key) {
		if (mk_ws_header_has_token(proto, MK_SPDY_WS_TUNNEL_PROTOCOL, false))
			*ret_mode = PF_WS_TUNNEL;
		else if (mk_ws_header_has_token(proto, MK_WS_PROTOCOL_V4, false))
			*ret_mode = PF_WS_V4;
		else {
			mk_reply_status(rep, 400, "pods", req->name,
					"unsupported WebSocket subprotocol %s: port-forward serves %s "
					"and %s", proto ? proto : "(none)", MK_SPDY_WS_TUNNEL_PROTOCOL,
					MK_WS_PROTOCOL_V4);
			return -1;
		}
		if (strcmp(req->method, "GET")) {
			mk_reply_status(rep, 405, "pods", req->name,
					"a WebSocket upgrade must use GET, not %s", req->method);
			return -1;
		}
		return 0;
	}
	if (upgrade && !strncasecmp(upgrade, MK_SPDY_UPGRADE, strlen(MK_SPDY_UPGRADE))) {
		if (spdy_proto &&
		    !mk_ws_header_has_token(spdy_proto, MK_SPDY_PORTFORWARD_PROTOCOL, false)) {
			mk_reply_status(rep, 403, "pods", req->name,
					"unable to upgrade: no common protocols (port-forward serves %s)",
					MK_SPDY_PORTFORWARD_PROTOCOL);
			return -1;
		}
		*ret_mode = PF_SPDY;
		return 0;
	}
	mk_reply_status(rep, 400, "pods", req->name,
			"Upgrade request required: port-forward needs a WebSocket (%s or "
			"%s) or SPDY/3.1 upgrade", MK_SPDY_WS_TUNNEL_PROTOCOL,
			MK_WS_PROTOCOL_V4);
	return -1;
}

/* The agent's handshake: WebSocket v4 passed on with the client's key and ports,
 * or SPDY (the client's SPDY, or the SPDY inside the tunnel). -1 with rep filled. */
static int pf_agent_handshake(struct mk_request *req, struct mk_reply *rep, struct pf_session *s,
			      const char *base)
{
	const char *key = mk_request_header(req, "Sec-WebSocket-Key");
	struct mk_buf path;
	char *ens = curl_easy_escape(NULL, req->ns, 0), *epod = curl_easy_escape(NULL, req->name, 0);
	mk_buf_init(&path);
	mk_buf_printf(&path, "/portForward/%s/%s", ens, epod);
	curl_free(ens);
	curl_free(epod);
	if (s->mode == PF_WS_V4)
		MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, copy_ports, &path);
	_cleanup_free_ char *hs =
		s->mode == PF_WS_V4
			? mk_strdup_printf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
					   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
					   "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n"
					   "User-Agent: minik8s-apiserver\r\n\r\n",
					   path.data, base + strlen("https://"), key, MK_WS_PROTOCOL_V4)
			: mk_strdup_printf("POST %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\n"
					   "Upgrade: %s\r\nX-Stream-Protocol-Version: %s\r\n"
					   "Content-Length: 0\r\nUser-Agent: minik8s-apiserver\r\n\r\n",
					   path.data, base + strlen("https://"), MK_SPDY_UPGRADE,
					   MK_SPDY_PORTFORWARD_PROTOCOL);
	mk_buf_release(&path);
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)HANDSHAKE_TIMEOUT_MS * 1000000;
	ssize_t head_len;
	if (agent_relay_send_all(&s->r, hs, strlen(hs)) < 0 ||
	    (head_len = agent_relay_read_head(&s->r, deadline, 0)) < 0) {
		mk_reply_status(rep, 500, "pods", req->name,
				"error talking to the node agent: no valid reply to the port-forward "
				"upgrade");
		return -1;
	}
	int code = 0;
	if (sscanf(s->r.to_client.data, "HTTP/1.%*d %d", &code) != 1)
		code = 0;
	if (code != 101) {
		agent_relay_reply_refusal(&s->r, (size_t)head_len, code,
					  mk_time_mono_ns() + 5000000000ull, rep, req->name);
		return -1;
	}
	/* keep only what followed the agent's head */
	agent_relay_drop_head(&s->r, (size_t)head_len);
	return 0;
}

/* The 101 for the client, in the protocol it chose. NULL: out of memory. */
static struct MHD_Response *pf_response(struct mk_request *req, struct pf_session *s)
{
	struct MHD_Response *resp = agent_relay_response(&s->r);
	if (!resp)
		return NULL;
	if (s->mode == PF_SPDY) {
		MHD_add_response_header(resp, "Upgrade", MK_SPDY_UPGRADE);
		MHD_add_response_header(resp, "X-Stream-Protocol-Version",
					MK_SPDY_PORTFORWARD_PROTOCOL);
	} else {
		_cleanup_free_ char *accept =
			mk_ws_accept_key(mk_request_header(req, "Sec-WebSocket-Key"));
		MHD_add_response_header(resp, "Upgrade", "websocket");
		MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
		MHD_add_response_header(resp, "Sec-WebSocket-Protocol",
					s->mode == PF_WS_V4 ? MK_WS_PROTOCOL_V4
							    : MK_SPDY_WS_TUNNEL_PROTOCOL);
	}
	return resp;
}

void mk_proxy_pod_portforward(struct mk_request *req, struct mk_reply *rep)
{
	enum pf_mode mode;
	_cleanup_free_ char *base = NULL;

	/* the pod's errors first, as kube-apiserver (kubectl shows them) */
	if (mk_portforward_agent_base(req->srv, req->ns, req->name, rep, &base) < 0)
		return;
	if (pf_choose_mode(req, rep, &mode) < 0)
		return;
	if (agent_relay_set_full(&sessions)) {
		mk_reply_status(rep, 429, "pods", req->name,
				"too many port-forward sessions (limit %d)", MAX_SESSIONS);
		return;
	}
	struct pf_session *s = mk_malloc0(sizeof(*s));
	s->mode = mode;
	mk_buf_init(&s->from_client);
	if (agent_relay_init(&s->r, req->srv, &sessions,
			     mode == PF_WS_TUNNEL ? &tunnel_ops : &plain_ops) < 0) {
		pf_free(&s->r);
		mk_reply_status(rep, 500, "pods", req->name, "out of resources");
		return;
	}
	if (agent_relay_dial(&s->r, base, rep, req->name) < 0 ||
	    pf_agent_handshake(req, rep, s, base) < 0) {
		pf_free(&s->r);
		return;
	}
	struct MHD_Response *resp = pf_response(req, s);
	if (!resp) {
		pf_free(&s->r);
		mk_reply_status(rep, 500, "pods", req->name, "out of memory");
		return;
	}
	agent_relay_set_add(&s->r);
	rep->stream = resp;
	rep->code = MHD_HTTP_SWITCHING_PROTOCOLS;
	rep->content_type = NULL;
}

void mk_portforward_cancel_all(struct mk_apiserver *srv)
{
	agent_relay_set_cancel(&sessions, srv);
}
