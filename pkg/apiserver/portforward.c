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
 * The agent is reached like exec (proxy.c): TLS to the node's kubelet endpoint
 * with the API server's client certificate. One thread per session relays with
 * bounded buffers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include "internal.h"
#include "minik8s/agent.h"
#include "minik8s/spdy.h"
#include "minik8s/ws.h"

#define CONNECT_TIMEOUT_S 10
#define HANDSHAKE_TIMEOUT_MS 30000
#define MAX_HEAD (16 * 1024)
#define MAX_ERROR_BODY (64 * 1024)
#define RELAY_BUF_CAP (256 * 1024)
#define MAX_SESSIONS 256
#define TUNNEL_CHUNK (32 * 1024)

enum pf_mode {
	PF_WS_V4 = 1,	/* WebSocket both sides, relayed untouched */
	PF_WS_TUNNEL,	/* WebSocket (SPDY inside) to the client, SPDY to the agent */
	PF_SPDY,	/* SPDY both sides, relayed untouched */
};

struct pf_session {
	struct mk_apiserver *srv;
	enum pf_mode mode;
	CURL *agent;
	curl_socket_t agent_fd;
	int client_fd;
	struct MHD_UpgradeResponseHandle *urh;
	struct mk_buf to_client, to_agent, from_client; /* from_client: unparsed frames */
	size_t client_off, agent_off;
	int wake[2];
	bool started;
	struct pf_session *next;
};

static pthread_mutex_t sessions_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sessions_cond = PTHREAD_COND_INITIALIZER;
static struct pf_session *sessions;
static unsigned n_sessions;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_ALL); }

static void pf_free(struct pf_session *s)
{
	if (!s)
		return;
	if (s->agent)
		curl_easy_cleanup(s->agent);
	mk_buf_release(&s->to_client);
	mk_buf_release(&s->to_agent);
	mk_buf_release(&s->from_client);
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	free(s);
}

static void pf_unlink(struct pf_session *s)
{
	pthread_mutex_lock(&sessions_lock);
	for (struct pf_session **pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			n_sessions--;
			break;
		}
	pthread_cond_broadcast(&sessions_cond);
	pthread_mutex_unlock(&sessions_lock);
}

/* ---- the pod's node --------------------------------------------------------------- */

int mk_portforward_agent_base(struct mk_apiserver *srv, const char *ns, const char *name,
			      struct mk_reply *rep, char **ret_base)
{
	_cleanup_free_ char *json = NULL, *node_json = NULL;
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
	if (mk_store_get(srv->store, "nodes", "", node, &node_json, NULL, &err) < 0) {
		mk_reply_status(rep, err->code == ENOENT ? 404 : 500, "nodes", node,
				"nodes \"%s\" not found", node);
		return -1;
	}
	_cleanup_cjson_ cJSON *nobj = cJSON_Parse(node_json);
	const char *ip = NULL;
	const cJSON *a;
	cJSON_ArrayForEach(a, mk_json_get(nobj, "status.addresses"))
	{
		const char *type = mk_json_get_string(a, "type");
		if (type && !strcmp(type, "InternalIP")) {
			ip = mk_json_get_string(a, "address");
			break;
		}
	}
	if (!ip) {
		mk_reply_status(rep, 503, "nodes", node, "node %s has no InternalIP address", node);
		return -1;
	}
	const cJSON *port = mk_json_get(nobj, "status.daemonEndpoints.kubeletEndpoint.Port");
	int p = cJSON_IsNumber(port) && port->valueint > 0 && port->valueint < 65536
			? port->valueint
			: MK_AGENT_STREAM_DEFAULT_PORT;
	*ret_base = strchr(ip, ':') ? mk_strdup_printf("https://[%s]:%d", ip, p)
				    : mk_strdup_printf("https://%s:%d", ip, p);
	return 0;
}

/* ---- the agent's handshake ---------------------------------------------------------- */

static int agent_send_all(struct pf_session *s, const char *data, size_t len)
{
	while (len) {
		size_t n = 0;
		CURLcode r = curl_easy_send(s->agent, data, len, &n);
		if (r == CURLE_AGAIN) {
			struct pollfd p = { .fd = s->agent_fd, .events = POLLOUT };
			if (poll(&p, 1, 30000) <= 0)
				return -1;
			continue;
		}
		if (r != CURLE_OK)
			return -1;
		data += n;
		len -= n;
	}
	return 0;
}

/* Reads until the end of the agent's response head (kept in to_client with any
 * bytes after it); returns the head's length or -1. */
static ssize_t agent_read_head(struct pf_session *s, uint64_t deadline, size_t want_body)
{
	char buf[4096];
	ssize_t head = -1;

	for (;;) {
		if (head < 0) {
			char *end = s->to_client.len ? memmem(s->to_client.data, s->to_client.len,
							      "\r\n\r\n", 4)
						     : NULL;
			if (end)
				head = end + 4 - s->to_client.data;
			else if (s->to_client.len > MAX_HEAD)
				return -1;
		}
		if (head >= 0 && (s->to_client.len - (size_t)head >= want_body))
			return head;
		size_t n = 0;
		CURLcode r = curl_easy_recv(s->agent, buf, sizeof(buf), &n);
		if (r == CURLE_AGAIN) {
			uint64_t now = mk_time_mono_ns();
			if (now >= deadline)
				return head;
			struct pollfd p = { .fd = s->agent_fd, .events = POLLIN };
			poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
			continue;
		}
		if (r != CURLE_OK || n == 0)
			return head;
		mk_buf_append(&s->to_client, buf, n);
	}
}

static bool head_value(const char *head, size_t len, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + len;

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			size_t vl = (size_t)(eol - v);
			if (vl >= size)
				vl = size - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return true;
		}
		p = eol + 2;
	}
	return false;
}

/* ---- the relay -------------------------------------------------------------------- */

/* Tunnel mode: turns complete client frames in from_client into SPDY bytes for
 * the agent (and pongs / close replies for the client). -1: the tunnel ended. */
static int tunnel_unwrap(struct pf_session *s)
{
	size_t off = 0;
	int r = 0;

	while (off < s->from_client.len) {
		struct mk_ws_frame f;
		struct mk_error *err = NULL;
		ssize_t n = mk_ws_frame_parse((uint8_t *)s->from_client.data + off,
					      s->from_client.len - off, MK_WS_MAX_PAYLOAD, 1, &f, &err);
		if (n < 0) {
			mk_error_free(&err);
			r = -1;
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (f.opcode == MK_WS_OP_PING) {
			mk_ws_frame_append(&s->to_client, MK_WS_OP_PONG, f.payload, f.len, NULL);
		} else if (f.opcode == MK_WS_OP_CLOSE) {
			static const uint8_t normal[2] = { 0x03, 0xe8 };
			mk_ws_frame_append(&s->to_client, MK_WS_OP_CLOSE, normal, sizeof(normal),
					   NULL);
			r = -1;
			break;
		} else if (f.opcode == MK_WS_OP_BINARY || f.opcode == MK_WS_OP_CONT) {
			mk_buf_append(&s->to_agent, f.payload, f.len);
		} else if (f.opcode == MK_WS_OP_TEXT) {
			r = -1; /* the tunnel carries binary messages only */
			break;
		}
	}
	memmove(s->from_client.data, s->from_client.data + off, s->from_client.len - off);
	s->from_client.len -= off;
	return r;
}

/* Appends agent bytes for the client: as they are, or wrapped in binary frames. */
static void to_client_append(struct pf_session *s, const char *data, size_t len)
{
	if (s->mode != PF_WS_TUNNEL) {
		mk_buf_append(&s->to_client, data, len);
		return;
	}
	while (len) {
		size_t n = len > TUNNEL_CHUNK ? TUNNEL_CHUNK : len;
		mk_ws_frame_append(&s->to_client, MK_WS_OP_BINARY, data, n, NULL);
		data += n;
		len -= n;
	}
}

static void relay(struct pf_session *s)
{
	char buf[32 * 1024];
	bool client_eof = false, agent_eof = false, tunnel_closed = false;

	fcntl(s->client_fd, F_SETFL, fcntl(s->client_fd, F_GETFL) | O_NONBLOCK);
	if (s->mode == PF_WS_TUNNEL && s->to_agent.len) {
		/* bytes that came with the client's handshake are frames too */
		mk_buf_append(&s->from_client, s->to_agent.data, s->to_agent.len);
		s->to_agent.len = 0;
		if (tunnel_unwrap(s) < 0)
			tunnel_closed = client_eof = true;
	}
	if (s->mode == PF_WS_TUNNEL && s->to_client.len) {
		/* the agent's first SPDY bytes, read with its handshake: wrap them */
		struct mk_buf raw = s->to_client;
		mk_buf_init(&s->to_client);
		to_client_append(s, raw.data, raw.len);
		mk_buf_release(&raw);
	}
	for (;;) {
		/* the agent side first: TLS may hold decrypted bytes poll cannot see */
		while (!agent_eof && s->to_client.len - s->client_off < RELAY_BUF_CAP) {
			size_t n = 0;
			CURLcode r = curl_easy_recv(s->agent, buf, sizeof(buf), &n);
			if (r == CURLE_AGAIN)
				break;
			if (r != CURLE_OK || n == 0) {
				agent_eof = true;
				if (s->mode == PF_WS_TUNNEL && !tunnel_closed) {
					static const uint8_t normal[2] = { 0x03, 0xe8 };
					mk_ws_frame_append(&s->to_client, MK_WS_OP_CLOSE, normal,
							   sizeof(normal), NULL);
				}
				break;
			}
			to_client_append(s, buf, n);
		}
		while (s->client_off < s->to_client.len) {
			ssize_t n = send(s->client_fd, s->to_client.data + s->client_off,
					 s->to_client.len - s->client_off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0)
				return;
			s->client_off += (size_t)n;
		}
		if (s->client_off == s->to_client.len)
			s->to_client.len = s->client_off = 0;
		while (!client_eof && s->to_agent.len - s->agent_off < RELAY_BUF_CAP) {
			ssize_t n = recv(s->client_fd, buf, sizeof(buf), 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				client_eof = true;
				break;
			}
			if (s->mode == PF_WS_TUNNEL) {
				mk_buf_append(&s->from_client, buf, (size_t)n);
				if (tunnel_unwrap(s) < 0) {
					client_eof = tunnel_closed = true;
					break;
				}
			} else {
				mk_buf_append(&s->to_agent, buf, (size_t)n);
			}
		}
		while (s->agent_off < s->to_agent.len) {
			size_t n = 0;
			CURLcode r = curl_easy_send(s->agent, s->to_agent.data + s->agent_off,
						    s->to_agent.len - s->agent_off, &n);
			if (r == CURLE_AGAIN)
				break;
			if (r != CURLE_OK)
				return;
			s->agent_off += n;
		}
		if (s->agent_off == s->to_agent.len)
			s->to_agent.len = s->agent_off = 0;
		/* a side that ended: deliver what it sent, then stop */
		if ((agent_eof && s->to_client.len == 0) || (client_eof && s->to_agent.len == 0 &&
							     s->to_client.len == 0))
			return;

		struct pollfd p[3] = { { .fd = s->wake[0], .events = POLLIN },
				       { .fd = s->client_fd, .events = 0 },
				       { .fd = s->agent_fd, .events = 0 } };
		if (!client_eof && s->to_agent.len < RELAY_BUF_CAP)
			p[1].events |= POLLIN;
		if (s->to_client.len)
			p[1].events |= POLLOUT;
		if (!agent_eof && s->to_client.len < RELAY_BUF_CAP)
			p[2].events |= POLLIN;
		if (s->to_agent.len)
			p[2].events |= POLLOUT;
		int n = poll(p, 3, -1);
		if (n < 0 && errno != EINTR)
			return;
		if (n > 0 && p[0].revents)
			return; /* server stopping */
	}
}

static void *relay_thread(void *arg)
{
	struct pf_session *s = arg;

	relay(s);
	MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
	pf_unlink(s);
	pf_free(s);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
		       const char *extra_in, size_t extra_in_size, MHD_socket sock,
		       struct MHD_UpgradeResponseHandle *urh)
{
	struct pf_session *s = cls;
	pthread_attr_t attr;
	pthread_t t;

	s->client_fd = sock;
	s->urh = urh;
	s->started = true;
	if (extra_in_size)
		mk_buf_append(&s->to_agent, extra_in, extra_in_size);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, relay_thread, s) != 0) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		pf_unlink(s);
		pf_free(s);
	}
	pthread_attr_destroy(&attr);
}

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

void mk_proxy_pod_portforward(struct mk_request *req, struct mk_reply *rep)
{
	struct mk_apiserver *srv = req->srv;
	const char *upgrade = mk_request_header(req, "Upgrade");
	const char *key = mk_request_header(req, "Sec-WebSocket-Key");
	const char *proto = mk_request_header(req, "Sec-WebSocket-Protocol");
	const char *spdy_proto = mk_request_header(req, "X-Stream-Protocol-Version");
	enum pf_mode mode;
	_cleanup_free_ char *base = NULL;

	/* the pod's errors first, as kube-apiserver (kubectl shows them) */
	if (mk_portforward_agent_base(srv, req->ns, req->name, rep, &base) < 0)
		return;
	if (mk_ws_header_has_token(upgrade, "websocket", true) && key) {
		if (mk_ws_header_has_token(proto, MK_SPDY_WS_TUNNEL_PROTOCOL, false))
			mode = PF_WS_TUNNEL;
		else if (mk_ws_header_has_token(proto, MK_WS_PROTOCOL_V4, false))
			mode = PF_WS_V4;
		else {
			mk_reply_status(rep, 400, "pods", req->name,
					"unsupported WebSocket subprotocol %s: port-forward serves %s "
					"and %s", proto ? proto : "(none)", MK_SPDY_WS_TUNNEL_PROTOCOL,
					MK_WS_PROTOCOL_V4);
			return;
		}
		if (strcmp(req->method, "GET")) {
			mk_reply_status(rep, 405, "pods", req->name,
					"a WebSocket upgrade must use GET, not %s", req->method);
			return;
		}
	} else if (upgrade && !strncasecmp(upgrade, MK_SPDY_UPGRADE, strlen(MK_SPDY_UPGRADE))) {
		if (spdy_proto &&
		    !mk_ws_header_has_token(spdy_proto, MK_SPDY_PORTFORWARD_PROTOCOL, false)) {
			mk_reply_status(rep, 403, "pods", req->name,
					"unable to upgrade: no common protocols (port-forward serves %s)",
					MK_SPDY_PORTFORWARD_PROTOCOL);
			return;
		}
		mode = PF_SPDY;
	} else {
		mk_reply_status(rep, 400, "pods", req->name,
				"Upgrade request required: port-forward needs a WebSocket (%s or "
				"%s) or SPDY/3.1 upgrade", MK_SPDY_WS_TUNNEL_PROTOCOL,
				MK_WS_PROTOCOL_V4);
		return;
	}
	pthread_mutex_lock(&sessions_lock);
	bool full = n_sessions >= MAX_SESSIONS;
	pthread_mutex_unlock(&sessions_lock);
	if (full) {
		mk_reply_status(rep, 429, "pods", req->name,
				"too many port-forward sessions (limit %d)", MAX_SESSIONS);
		return;
	}

	struct mk_buf path;
	char *ens = curl_easy_escape(NULL, req->ns, 0), *epod = curl_easy_escape(NULL, req->name, 0);
	mk_buf_init(&path);
	mk_buf_printf(&path, "/portForward/%s/%s", ens, epod);
	curl_free(ens);
	curl_free(epod);
	if (mode == PF_WS_V4)
		MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, copy_ports, &path);

	struct pf_session *s = mk_malloc0(sizeof(*s));
	s->srv = srv;
	s->mode = mode;
	s->client_fd = -1;
	s->wake[0] = s->wake[1] = -1;
	mk_buf_init(&s->to_client);
	mk_buf_init(&s->to_agent);
	mk_buf_init(&s->from_client);
	pthread_once(&curl_once, curl_init);
	s->agent = curl_easy_init();
	if (!s->agent || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		mk_buf_release(&path);
		pf_free(s);
		mk_reply_status(rep, 500, "pods", req->name, "out of resources");
		return;
	}
	curl_easy_setopt(s->agent, CURLOPT_URL, base);
	curl_easy_setopt(s->agent, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->agent, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(s->agent, CURLOPT_SSLCERT, srv->kubelet_client_cert);
	curl_easy_setopt(s->agent, CURLOPT_SSLKEY, srv->kubelet_client_key);
	curl_easy_setopt(s->agent, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(s->agent, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(s->agent, CURLOPT_CONNECT_ONLY, 1L);
	CURLcode cr = curl_easy_perform(s->agent);
	if (cr == CURLE_OK)
		cr = curl_easy_getinfo(s->agent, CURLINFO_ACTIVESOCKET, &s->agent_fd);
	if (cr != CURLE_OK) {
		mk_reply_status(rep, 500, "pods", req->name, "error dialing backend: %s",
				curl_easy_strerror(cr));
		mk_buf_release(&path);
		pf_free(s);
		return;
	}
	_cleanup_free_ char *hs =
		mode == PF_WS_V4
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
	if (agent_send_all(s, hs, strlen(hs)) < 0 || (head_len = agent_read_head(s, deadline, 0)) < 0) {
		mk_reply_status(rep, 500, "pods", req->name,
				"error talking to the node agent: no valid reply to the port-forward "
				"upgrade");
		pf_free(s);
		return;
	}
	int code = 0;
	if (sscanf(s->to_client.data, "HTTP/1.%*d %d", &code) != 1)
		code = 0;
	if (code != 101) {
		char cl[32];
		size_t want = head_value(s->to_client.data, (size_t)head_len, "Content-Length", cl,
					 sizeof(cl))
				      ? (size_t)strtoul(cl, NULL, 10)
				      : MAX_ERROR_BODY;
		if (want > MAX_ERROR_BODY)
			want = MAX_ERROR_BODY;
		agent_read_head(s, mk_time_mono_ns() + 5000000000ull, want);
		const char *body = s->to_client.data + head_len;
		size_t blen = s->to_client.len - (size_t)head_len;
		_cleanup_cjson_ cJSON *st = blen ? cJSON_ParseWithLength(body, blen) : NULL;
		const char *kind = st ? mk_json_get_string(st, "kind") : NULL;
		if (kind && !strcmp(kind, "Status"))
			mk_reply_json(rep, code >= 400 && code <= 599 ? (unsigned)code : 502, st);
		else
			mk_reply_status(rep, code >= 400 && code <= 599 ? code : 502, "pods",
					req->name, "%.*s", (int)(blen > 512 ? 512 : blen), body);
		pf_free(s);
		return;
	}
	/* keep only what followed the agent's head */
	memmove(s->to_client.data, s->to_client.data + head_len, s->to_client.len - (size_t)head_len);
	s->to_client.len -= (size_t)head_len;

	struct MHD_Response *resp = MHD_create_response_for_upgrade(on_upgrade, s);
	if (!resp) {
		pf_free(s);
		mk_reply_status(rep, 500, "pods", req->name, "out of memory");
		return;
	}
	if (mode == PF_SPDY) {
		MHD_add_response_header(resp, "Upgrade", MK_SPDY_UPGRADE);
		MHD_add_response_header(resp, "X-Stream-Protocol-Version",
					MK_SPDY_PORTFORWARD_PROTOCOL);
	} else {
		_cleanup_free_ char *accept = mk_ws_accept_key(key);
		MHD_add_response_header(resp, "Upgrade", "websocket");
		MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
		MHD_add_response_header(resp, "Sec-WebSocket-Protocol",
					mode == PF_WS_V4 ? MK_WS_PROTOCOL_V4
							 : MK_SPDY_WS_TUNNEL_PROTOCOL);
	}
	pthread_mutex_lock(&sessions_lock);
	s->next = sessions;
	sessions = s;
	n_sessions++;
	pthread_mutex_unlock(&sessions_lock);
	rep->stream = resp;
	rep->code = MHD_HTTP_SWITCHING_PROTOCOLS;
	rep->content_type = NULL;
}

void mk_portforward_cancel_all(struct mk_apiserver *srv)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&sessions_lock);
	for (;;) {
		bool any = false;
		for (struct pf_session *s = sessions, *next; s; s = next) {
			next = s->next;
			if (s->srv != srv)
				continue;
			if (!s->started) {
				for (struct pf_session **pp = &sessions; *pp; pp = &(*pp)->next)
					if (*pp == s) {
						*pp = s->next;
						n_sessions--;
						break;
					}
				pf_free(s);
				continue;
			}
			any = true;
			if (write(s->wake[1], "x", 1) < 0) {
				/* full: already woken */
			}
		}
		if (!any || pthread_cond_timedwait(&sessions_cond, &sessions_lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&sessions_lock);
}
