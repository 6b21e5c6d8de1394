/* pods/log and pods/exec: proxied to the streaming server of the pod's node agent
 * (kubelet's :10250 role, pkg/agent/stream.h), as kube-apiserver does.
 *
 * The node is found from the pod's spec.nodeName; its address is the Node's
 * InternalIP and port status.daemonEndpoints.kubeletEndpoint.Port. We present
 * the API server's client certificate (CN minik8s-apiserver, signed by the
 * cluster CA); the agent's serving certificate is self-signed and not verified,
 * like kube-apiserver without --kubelet-certificate-authority.
 *
 * Logs stream through a chunked response fed by a curl multi handle. Exec is a
 * WebSocket (v5.channel.k8s.io): we make the agent's handshake first (so its
 * errors reach the client as HTTP errors), answer the client's upgrade, and then
 * relay bytes both ways untouched: the client's masked frames are valid client
 * frames for the agent, the agent's unmasked frames valid server frames for the
 * client. pods/attach goes the same way to the agent's /attach. The client's
 * Sec-WebSocket-Protocol list is passed on, so the agent picks the channel
 * protocol (v5 down to channel.k8s.io, minik8s/ws.h) and we answer with its
 * choice, as kube-apiserver's upgrade-aware proxy does for kubelet. Dialling,
 * the handshake's plumbing and the relay are agent_relay.c's, shared with
 * port-forward. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <curl/curl.h>
#include "agent_relay.h"
#include "minik8s/ws.h"
#include "minik8s/agent.h"

#define HANDSHAKE_TIMEOUT_MS 30000
#define MAX_ERROR_BODY (64 * 1024)
#define LOG_BUF_HIGH (1024 * 1024)
#define MAX_EXEC_SESSIONS 256


/* ---- the pod's node ------------------------------------------------------------- */

struct target {
	char *base;	 /* "https://IP:PORT" */
	char *container;
};

static void target_release(struct target *t)
{
	free(t->base);
	free(t->container);
}

static const cJSON *find_container(const cJSON *pod, const char *name)
{
	static const char *const lists[] = { "spec.containers", "spec.initContainers",
					     "spec.ephemeralContainers" };
	return mk_json_find_named(pod, lists, MK_ARRAY_SIZE(lists), name);
}

/* Resolves pod -> container -> node address. On failure fills rep, returns -1. */
static int resolve_target(struct mk_request *req, struct mk_reply *rep, struct target *t,
			  cJSON **ret_pod)
{
	struct mk_apiserver *srv = req->srv;
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;

	if (!srv->kubelet_client_cert || !srv->kubelet_client_key) {
		mk_reply_status(rep, 503, "pods", req->name,
				"pods/%s is served by the node agent, and this API server has no "
				"client certificate for agents", req->sub);
		return -1;
	}
	if (mk_store_get(srv->store, "pods", req->ns, req->name, &json, NULL, &err) < 0) {
		mk_reply_error(rep, req->res, req->name, err);
		return -1;
	}
	_cleanup_cjson_ cJSON *pod = cJSON_Parse(json);
	if (!pod) {
		mk_reply_status(rep, 500, "pods", req->name, "stored pod does not parse");
		return -1;
	}
	const char *c = mk_request_arg(req, "container");
	if (!c || !*c) {
		const cJSON *list = mk_json_get(pod, "spec.containers");
		int n = cJSON_GetArraySize(list);
		if (n == 1) {
			c = mk_json_get_string(cJSON_GetArrayItem(list, 0), "name");
		} else {
			struct mk_buf b;
			mk_buf_init(&b);
			const cJSON *it;
			cJSON_ArrayForEach(it, list)
			{
				const char *nm = mk_json_get_string(it, "name");
				mk_buf_printf(&b, "%s%s", b.len ? " " : "", nm ? nm : "");
			}
			mk_reply_status(rep, 400, "pods", req->name,
					"a container name must be specified for pod %s, choose one of: [%s]",
					req->name, b.data ? b.data : "");
			mk_buf_release(&b);
			return -1;
		}
	}
	if (!c || !find_container(pod, c)) {
		mk_reply_status(rep, 400, "pods", req->name, "container %s is not valid for pod %s",
				c ? c : "", req->name);
		return -1;
	}
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	if (!node || !*node) {
		mk_reply_status(rep, 400, "pods", req->name, "pod %s does not have a host assigned",
				req->name);
		return -1;
	}
	if (agent_relay_node_base(srv, node, rep, &t->base) < 0)
		return -1;
	t->container = mk_strdup(c);
	if (ret_pod)
		*ret_pod = TAKE_PTR(pod);
	return 0;
}

/* Appends "&key=value" (escaped) for each query parameter in keys that is present. */
struct query_copy {
	struct mk_buf *b;
	const char *const *keys;
};

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct query_copy *q = cls;

	for (const char *const *k = q->keys; *k; k++) {
		if (strcmp(*k, key))
			continue;
		/* booleans reach the agent as kube-apiserver read them ("True", "yes",
		 * "?follow" are true), spelled as the agent expects them */
		static const char *const bools[] = { "follow", "previous", "timestamps", "stdin",
						     "stdout", "stderr", "tty", NULL };
		for (const char *const *b = bools; *b; b++)
			if (!strcmp(*b, key))
				value = mk_api_query_bool(value ? value : "") ? "true" : "false";
		char *ek = curl_easy_escape(NULL, key, 0);
		char *ev = curl_easy_escape(NULL, value ? value : "", 0);
		mk_buf_printf(q->b, "%s%s=%s", q->b->len && !strchr(q->b->data, '?') ? "?" : "&", ek,
			      ev);
		curl_free(ek);
		curl_free(ev);
	}
	return MHD_YES;
}

static char *agent_url(struct mk_request *req, const struct target *t, const char *what,
		       const char *const *keys)
{
	struct mk_buf b;
	char *ens = curl_easy_escape(NULL, req->ns, 0), *epod = curl_easy_escape(NULL, req->name, 0),
	     *ec = curl_easy_escape(NULL, t->container, 0);

	mk_buf_init(&b);
	mk_buf_printf(&b, "%s/%s/%s/%s/%s", t->base, what, ens, epod, ec);
	curl_free(ens);
	curl_free(epod);
	curl_free(ec);
	size_t before = b.len;
	struct query_copy q = { &b, keys };
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, copy_arg, &q);
	if (b.len > before)
		b.data[before] = '?';
	return mk_buf_steal(&b);
}

static bool server_stopping(struct mk_apiserver *srv)
{
	pthread_mutex_lock(&srv->lock);
	bool s = srv->stopping;
	pthread_mutex_unlock(&srv->lock);
	return s;
}

/* ---- logs --------------------------------------------------------------------- */

struct log_proxy {
	struct mk_apiserver *srv;
	CURLM *multi;
	CURL *easy;
	struct mk_buf buf;
	size_t off;
	bool headers_done, done, paused;
	CURLcode result;
	int client_fd;
};

static size_t lp_header(char *data, size_t size, size_t n, void *ud)
{
	struct log_proxy *lp = ud;
	size_t len = size * n;
	long code = 0;

	if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		curl_easy_getinfo(lp->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200) /* not an interim 1xx */
			lp->headers_done = true;
	}
	return len;
}

static size_t lp_write(char *data, size_t size, size_t n, void *ud)
{
	struct log_proxy *lp = ud;
	size_t len = size * n;

	if (lp->buf.len - lp->off > LOG_BUF_HIGH) {
		lp->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	mk_buf_append(&lp->buf, data, len);
	return len;
}

static void lp_free(void *cls)
{
	struct log_proxy *lp = cls;
	if (!lp)
		return;
	if (lp->multi && lp->easy)
		curl_multi_remove_handle(lp->multi, lp->easy);
	if (lp->easy)
		curl_easy_cleanup(lp->easy);
	if (lp->multi)
		curl_multi_cleanup(lp->multi);
	mk_buf_release(&lp->buf);
	free(lp);
}

/* Runs the transfer for at most timeout_ms or until something happened. */
static void lp_step(struct log_proxy *lp, int timeout_ms)
{
	int running = 0, msgs;
	CURLMsg *m;

	curl_multi_perform(lp->multi, &running);
	while ((m = curl_multi_info_read(lp->multi, &msgs)))
		if (m->msg == CURLMSG_DONE) {
			lp->done = true;
			lp->result = m->data.result;
		}
	if (!lp->done && running && lp->buf.len == lp->off)
		curl_multi_poll(lp->multi, NULL, 0, timeout_ms, NULL);
}

static bool lp_client_gone(struct log_proxy *lp)
{
	struct pollfd p = { .fd = lp->client_fd, .events = POLLRDHUP };
	return lp->client_fd >= 0 && poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static ssize_t lp_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct log_proxy *lp = cls;

	while (lp->off >= lp->buf.len) {
		lp->buf.len = 0;
		lp->off = 0;
		if (lp->paused) {
			lp->paused = false;
			curl_easy_pause(lp->easy, CURLPAUSE_CONT);
		}
		if (lp->done)
			return lp->result == CURLE_OK ? MHD_CONTENT_READER_END_OF_STREAM
						      : MHD_CONTENT_READER_END_WITH_ERROR;
		if (server_stopping(lp->srv) || lp_client_gone(lp))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		lp_step(lp, 1000);
	}
	size_t n = lp->buf.len - lp->off;
	if (n > max)
		n = max;
	memcpy(out, lp->buf.data + lp->off, n);
	lp->off += n;
	return (ssize_t)n;
}

/* An integer query parameter: 0 absent, 1 set (*ret), -1 not an integer. */
static int int_arg(struct mk_request *req, const char *key, long long *ret)
{
	const char *v = mk_request_arg(req, key);
	char *end;

	if (!v || !*v)
		return 0;
	errno = 0;
	long long x = strtoll(v, &end, 10);
	if (errno || *end)
		return -1;
	*ret = x;
	return 1;
}

/* PodLogOptions as kube-apiserver checks them: a value that does not parse is
 * 400 BadRequest, a value out of range 422 Invalid with the field in its cause.
 * Fills rep and returns -1 when the options are refused. */
static int check_log_options(struct mk_request *req, struct mk_reply *rep)
{
	static const char *const ints[] = { "tailLines", "limitBytes", "sinceSeconds" };
	long long v[3] = { 0, 0, 0 };
	int set[3];
	const char *since_time = mk_request_arg(req, "sinceTime");

	for (size_t i = 0; i < MK_ARRAY_SIZE(ints); i++) {
		set[i] = int_arg(req, ints[i], &v[i]);
		if (set[i] < 0) {
			mk_reply_status(rep, 400, "pods", req->name,
					"invalid %s \"%s\": not an integer", ints[i],
					mk_request_arg(req, ints[i]));
			return -1;
		}
	}
	if (since_time && *since_time && mk_time_parse(since_time) == (time_t)-1) {
		mk_reply_status(rep, 400, "pods", req->name,
				"invalid sinceTime \"%s\": parsing time as RFC 3339 failed", since_time);
		return -1;
	}
	cJSON *causes = cJSON_CreateArray();
	if (set[0] && v[0] < 0)
		mk_api_cause_add(causes, "FieldValueInvalid", "tailLines",
				 "Invalid value: %lld: must be greater than or equal to 0", v[0]);
	if (set[1] && v[1] < 1)
		mk_api_cause_add(causes, "FieldValueInvalid", "limitBytes",
				 "Invalid value: %lld: must be greater than 0", v[1]);
	if (set[2] && since_time && *since_time)
		mk_api_cause_add(causes, "FieldValueForbidden", "",
				 "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified");
	else if (set[2] && v[2] < 1)
		mk_api_cause_add(causes, "FieldValueInvalid", "sinceSeconds",
				 "Invalid value: %lld: must be greater than 0", v[2]);
	int n = cJSON_GetArraySize(causes);
	if (n == 0) {
		cJSON_Delete(causes);
		return 0;
	}
	struct mk_buf m;
	mk_buf_init(&m);
	mk_buf_printf(&m, "PodLogOptions \"%s\" is invalid: %s", req->name, n > 1 ? "[" : "");
	for (int i = 0; i < n; i++) {
		const cJSON *c = cJSON_GetArrayItem(causes, i);
		const char *f = mk_json_get_string(c, "field");
		mk_buf_printf(&m, "%s%s%s%s", i ? ", " : "", f && *f ? f : "", f && *f ? ": " : "",
			      mk_json_get_string(c, "message"));
	}
	if (n > 1)
		mk_buf_puts(&m, "]");
	_cleanup_cjson_ cJSON *st =
		mk_api_status_new(422, "Invalid", m.data, "PodLogOptions", req->name, causes);
	mk_buf_release(&m);
	mk_reply_json(rep, 422, st);
	return -1;
}

void mk_proxy_pod_log(struct mk_request *req, struct mk_reply *rep)
{
	static const char *const keys[] = { "follow",	  "tailLines",	  "previous",  "timestamps",
					    "limitBytes", "sinceSeconds", "sinceTime", NULL };
	struct target t = { 0 };

	if (strcmp(req->method, "GET")) {
		mk_reply_status(rep, 405, "pods", req->name, "method %s not allowed on pods/log",
				req->method);
		return;
	}
	if (check_log_options(req, rep) < 0 || resolve_target(req, rep, &t, NULL) < 0)
		return;
	_cleanup_free_ char *url = agent_url(req, &t, "containerLogs", keys);
	target_release(&t);

	struct log_proxy *lp = mk_malloc0(sizeof(*lp));
	lp->srv = req->srv;
	lp->client_fd = -1;
	mk_buf_init(&lp->buf);
	lp->easy = agent_relay_curl(req->srv, url);
	lp->multi = curl_multi_init();
	if (!lp->easy || !lp->multi) {
		lp_free(lp);
		mk_reply_status(rep, 500, "pods", req->name, "out of memory");
		return;
	}
	curl_easy_setopt(lp->easy, CURLOPT_HEADERFUNCTION, lp_header);
	curl_easy_setopt(lp->easy, CURLOPT_HEADERDATA, lp);
	curl_easy_setopt(lp->easy, CURLOPT_WRITEFUNCTION, lp_write);
	curl_easy_setopt(lp->easy, CURLOPT_WRITEDATA, lp);
	curl_multi_add_handle(lp->multi, lp->easy);

	uint64_t deadline = mk_time_mono_ns() + (uint64_t)HANDSHAKE_TIMEOUT_MS * 1000000;
	while (!lp->headers_done && !lp->done && mk_time_mono_ns() < deadline)
		lp_step(lp, 200);
	if (!lp->headers_done && !lp->done) {
		lp_free(lp);
		mk_reply_status(rep, 504, "pods", req->name,
				"the node agent did not answer pods/log in time");
		return;
	}
	if (lp->done && !lp->headers_done) {
		mk_reply_status(rep, 500, "pods", req->name, "error talking to the node agent: %s",
				curl_easy_strerror(lp->result));
		lp_free(lp);
		return;
	}
	long code = 0;
	curl_easy_getinfo(lp->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		while (!lp->done && lp->buf.len < MAX_ERROR_BODY && mk_time_mono_ns() < deadline)
			lp_step(lp, 200);
		agent_relay_reply_error(rep, code, lp->buf.data, lp->buf.len, req->name);
		lp_free(lp);
		return;
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		lp->client_fd = ci->connect_fd;
	rep->stream = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, lp_reader, lp,
							lp_free);
	if (!rep->stream) {
		lp_free(lp);
		mk_reply_status(rep, 500, "pods", req->name, "out of memory");
		return;
	}
	rep->code = 200;
	rep->content_type = "text/plain";
}

/* ---- exec ---------------------------------------------------------------------- */

struct exec_proxy {
	struct agent_relay r; /* first: the relay's ops get &ep->r */
};

static void ep_free(struct agent_relay *r)
{
	struct exec_proxy *ep = (struct exec_proxy *)r;
	agent_relay_release(&ep->r);
	free(ep);
}

static const struct agent_relay_ops exec_ops = { .free = ep_free };

/* Sessions of every API server in this process, so that stopping one ends its own. */
static struct agent_relay_set sessions = AGENT_RELAY_SET_INIT(MAX_EXEC_SESSIONS);

/* What the client asked for is an exec/attach this server serves: a WebSocket
 * GET with a channel protocol we know. Otherwise fills rep and returns -1. */
static int exec_check_upgrade(struct mk_request *req, struct mk_reply *rep, const char *what)
{
	const char *upgrade = mk_request_header(req, "Upgrade");
	const char *key = mk_request_header(req, "Sec-WebSocket-Key");
	const char *proto = mk_request_header(req, "Sec-WebSocket-Protocol");

	if (!mk_ws_header_has_token(upgrade, "websocket", true) || !key) {
		if (upgrade && !strncasecmp(upgrade, "SPDY", 4))
			mk_reply_status(rep, 400, "pods", req->name,
					"SPDY is not supported by minik8s: %s needs a WebSocket upgrade "
					"with protocol %s (kubectl 1.30 or newer)", what, MK_WS_PROTOCOL_V5);
		else
			mk_reply_status(rep, 400, "pods", req->name,
					"Upgrade request required: %s needs a WebSocket upgrade with "
					"protocol %s", what, MK_WS_PROTOCOL_V5);
		return -1;
	}
	if (strcmp(req->method, "GET")) {
		mk_reply_status(rep, 405, "pods", req->name,
				"a WebSocket upgrade must use GET, not %s", req->method);
		return -1;
	}
	if (mk_ws_proto_select(proto) < 0) {
		mk_reply_status(rep, 400, "pods", req->name,
				"unsupported WebSocket subprotocol %s: served are %s, v4.channel.k8s.io, "
				"v4.base64.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, "
				"channel.k8s.io, base64.channel.k8s.io",
				proto, MK_WS_PROTOCOL_V5);
		return -1;
	}
	return 0;
}

/* Resolves the pod and its agent's URL for what; the pod's own errors first
 * (kubectl shows the answer to its SPDY fallback). -1 with rep filled. */
static int exec_target(struct mk_request *req, struct mk_reply *rep, bool attach,
		       char **ret_base, char **ret_url)
{
	static const char *const exec_keys[] = { "command", "stdin", "stdout", "stderr", "tty", NULL };
	static const char *const attach_keys[] = { "stdin", "stdout", "stderr", "tty", NULL };
	const char *what = attach ? "attach" : "exec";
	struct target t = { 0 };
	_cleanup_cjson_ cJSON *pod = NULL;

	if (resolve_target(req, rep, &t, &pod) < 0)
		return -1;
	const char *phase = mk_json_get_string(pod, "status.phase");
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
		mk_reply_status(rep, 400, "pods", req->name,
				attach ? "cannot attach a container in a completed pod; current phase is %s"
				       : "cannot exec into a container in a completed pod; current phase is %s",
				phase);
		target_release(&t);
		return -1;
	}
	if (exec_check_upgrade(req, rep, what) < 0) {
		target_release(&t);
		return -1;
	}
	*ret_url = agent_url(req, &t, what, attach ? attach_keys : exec_keys);
	*ret_base = TAKE_PTR(t.base);
	target_release(&t);
	return 0;
}

/* The agent's WebSocket handshake on behalf of the client (its key, so the accept
 * values agree, and its protocol list, so the agent chooses). On a refusal or an
 * answer the client cannot take, fills rep and returns -1; else the agent's
 * protocol is in agent_proto ("" for none). */
static int exec_agent_handshake(struct mk_request *req, struct mk_reply *rep, struct exec_proxy *ep,
				const char *base, const char *url, const char *what,
				char *agent_proto, size_t proto_size)
{
	const char *key = mk_request_header(req, "Sec-WebSocket-Key");
	const char *proto = mk_request_header(req, "Sec-WebSocket-Protocol");
	/* passed on to the agent: no CR/LF can be in a header value MHD parsed */
	_cleanup_free_ char *proto_line =
		proto && *proto ? mk_strdup_printf("Sec-WebSocket-Protocol: %s\r\n", proto) : mk_strdup("");
	_cleanup_free_ char *hs = mk_strdup_printf(
		"GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
		"%sUser-Agent: minik8s-apiserver\r\n\r\n",
		url + strlen(base), base + strlen("https://"), key, proto_line);
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)HANDSHAKE_TIMEOUT_MS * 1000000;
	ssize_t head_len;

	if (agent_relay_send_all(&ep->r, hs, strlen(hs)) < 0 ||
	    (head_len = agent_relay_read_head(&ep->r, deadline, 0)) < 0) {
		mk_reply_status(rep, 500, "pods", req->name,
				"error talking to the node agent: no valid reply to the %s upgrade", what);
		return -1;
	}
	int code = 0;
	if (sscanf(ep->r.to_client.data, "HTTP/1.%*d %d", &code) != 1)
		code = 0;
	if (code != 101) {
		agent_relay_reply_refusal(&ep->r, (size_t)head_len, code, deadline, rep, req->name);
		return -1;
	}
	/* the agent's choice must be one the client offered (none when it offered none) */
	agent_proto[0] = '\0';
	bool has_proto = agent_relay_head_value(ep->r.to_client.data, (size_t)head_len,
						"Sec-WebSocket-Protocol", agent_proto, proto_size);
	if (has_proto ? !mk_ws_header_has_token(proto, agent_proto, false) : (proto && *proto)) {
		mk_reply_status(rep, 500, "pods", req->name,
				"the node agent answered with another WebSocket subprotocol");
		return -1;
	}
	/* keep only the frames that followed the agent's head */
	agent_relay_drop_head(&ep->r, (size_t)head_len);
	return 0;
}

void mk_proxy_pod_exec(struct mk_request *req, struct mk_reply *rep)
{
	bool attach = !strcmp(req->sub, "attach");
	const char *what = attach ? "attach" : "exec";
	_cleanup_free_ char *base = NULL, *url = NULL;
	char agent_proto[128];

	if (exec_target(req, rep, attach, &base, &url) < 0)
		return;
	if (agent_relay_set_full(&sessions)) {
		mk_reply_status(rep, 429, "pods", req->name, "too many exec sessions (limit %d)",
				MAX_EXEC_SESSIONS);
		return;
	}
	struct exec_proxy *ep = mk_malloc0(sizeof(*ep));
	if (agent_relay_init(&ep->r, req->srv, &sessions, &exec_ops) < 0) {
		ep_free(&ep->r);
		mk_reply_status(rep, 500, "pods", req->name, "out of resources");
		return;
	}
	if (agent_relay_dial(&ep->r, base, rep, req->name) < 0 ||
	    exec_agent_handshake(req, rep, ep, base, url, what, agent_proto, sizeof(agent_proto)) < 0) {
		ep_free(&ep->r);
		return;
	}
	struct MHD_Response *resp = agent_relay_response(&ep->r);
	if (!resp) {
		ep_free(&ep->r);
		mk_reply_status(rep, 500, "pods", req->name, "out of memory");
		return;
	}
	_cleanup_free_ char *accept = mk_ws_accept_key(mk_request_header(req, "Sec-WebSocket-Key"));
	MHD_add_response_header(resp, "Upgrade", "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	if (*agent_proto)
		MHD_add_response_header(resp, "Sec-WebSocket-Protocol", agent_proto);
	agent_relay_set_add(&ep->r);
	rep->stream = resp;
	rep->code = MHD_HTTP_SWITCHING_PROTOCOLS;
	rep->content_type = NULL;
}

void mk_proxy_cancel_all(struct mk_apiserver *srv)
{
	agent_relay_set_cancel(&sessions, srv);
}
