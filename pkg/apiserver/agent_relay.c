/* The upgraded connection between a client and a node agent (agent_relay.h):
 * exec, attach and port-forward dial, handshake and relay through here. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include "agent_relay.h"
#include "minik8s/agent.h"
#include "minik8s/client.h"

#define CONNECT_TIMEOUT_S 10
#define MAX_HEAD (16 * 1024)
#define MAX_ERROR_BODY (64 * 1024)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_ALL); }

int agent_relay_init(struct agent_relay *r, struct mk_apiserver *srv, struct agent_relay_set *set,
		     const struct agent_relay_ops *ops)
{
	r->srv = srv;
	r->set = set;
	r->ops = ops;
	r->client_fd = -1;
	r->wake[0] = r->wake[1] = -1;
	mk_buf_init(&r->to_client);
	mk_buf_init(&r->to_agent);
	return pipe2(r->wake, O_CLOEXEC | O_NONBLOCK);
}

void agent_relay_release(struct agent_relay *r)
{
	if (r->agent)
		curl_easy_cleanup(r->agent);
	r->agent = NULL;
	mk_buf_release(&r->to_client);
	mk_buf_release(&r->to_agent);
	if (r->wake[0] >= 0)
		close(r->wake[0]);
	if (r->wake[1] >= 0)
		close(r->wake[1]);
	r->wake[0] = r->wake[1] = -1;
}

/* ---- the set of sessions ------------------------------------------------------------ */

bool agent_relay_set_full(struct agent_relay_set *set)
{
	pthread_mutex_lock(&set->lock);
	bool full = set->n >= set->max;
	pthread_mutex_unlock(&set->lock);
	return full;
}

void agent_relay_set_add(struct agent_relay *r)
{
	struct agent_relay_set *set = r->set;
	pthread_mutex_lock(&set->lock);
	r->next = set->list;
	set->list = r;
	set->n++;
	pthread_mutex_unlock(&set->lock);
}

/* Takes r out of its set; the caller holds the set's lock. */
static void set_unlink_locked(struct agent_relay *r)
{
	struct agent_relay_set *set = r->set;
	for (struct agent_relay **pp = &set->list; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			set->n--;
			break;
		}
}

static void set_unlink(struct agent_relay *r)
{
	struct agent_relay_set *set = r->set;
	pthread_mutex_lock(&set->lock);
	set_unlink_locked(r);
	pthread_cond_broadcast(&set->cond);
	pthread_mutex_unlock(&set->lock);
}

void agent_relay_set_cancel(struct agent_relay_set *set, struct mk_apiserver *srv)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&set->lock);
	for (;;) {
		bool any = false;
		for (struct agent_relay *r = set->list, *next; r; r = next) {
			next = r->next;
			if (r->srv != srv)
				continue;
			if (!r->started) {
				/* the upgrade never happened (client gone): nothing runs it */
				set_unlink_locked(r);
				r->ops->free(r);
				continue;
			}
			any = true;
			if (write(r->wake[1], "x", 1) < 0) {
				/* full: already woken */
			}
		}
		if (!any || pthread_cond_timedwait(&set->cond, &set->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&set->lock);
}

/* ---- the agent's handshake ---------------------------------------------------------- */

CURL *agent_relay_curl(struct mk_apiserver *srv, const char *url)
{
	pthread_once(&curl_once, curl_init);
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_SSLCERT, srv->kubelet_client_cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, srv->kubelet_client_key);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	return h;
}

int agent_relay_dial(struct agent_relay *r, const char *base, struct mk_reply *rep,
		     const char *name)
{
	r->agent = agent_relay_curl(r->srv, base);
	if (!r->agent) {
		mk_reply_status(rep, 500, "pods", name, "out of resources");
		return -1;
	}
	curl_easy_setopt(r->agent, CURLOPT_CONNECT_ONLY, 1L);
	CURLcode cr = curl_easy_perform(r->agent);
	if (cr == CURLE_OK)
		cr = curl_easy_getinfo(r->agent, CURLINFO_ACTIVESOCKET, &r->agent_fd);
	if (cr != CURLE_OK) {
		mk_reply_status(rep, 500, "pods", name, "error dialing backend: %s",
				curl_easy_strerror(cr));
		return -1;
	}
	return 0;
}

int agent_relay_send_all(struct agent_relay *r, const char *data, size_t len)
{
	return mk_io_write_all(mk_io_curl_send, r->agent, r->agent_fd, data, len, 30000);
}

ssize_t agent_relay_read_head(struct agent_relay *r, uint64_t deadline, size_t want_body)
{
	char buf[4096];
	ssize_t head = -1;

	for (;;) {
		if (head < 0) {
			char *end = r->to_client.len ? memmem(r->to_client.data, r->to_client.len,
							      "\r\n\r\n", 4)
						     : NULL;
			if (end)
				head = end + 4 - r->to_client.data;
			else if (r->to_client.len > MAX_HEAD)
				return -1;
		}
		if (head >= 0 && (r->to_client.len - (size_t)head >= want_body))
			return head;
		size_t n = 0;
		CURLcode c = curl_easy_recv(r->agent, buf, sizeof(buf), &n);
		if (c == CURLE_AGAIN) {
			uint64_t now = mk_time_mono_ns();
			if (now >= deadline)
				return head;
			struct pollfd p = { .fd = r->agent_fd, .events = POLLIN };
			poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
			continue;
		}
		if (c != CURLE_OK || n == 0)
			return head;
		mk_buf_append(&r->to_client, buf, n);
	}
}

bool agent_relay_head_value(const char *head, size_t len, const char *name, char *out,
			    size_t size)
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

void agent_relay_drop_head(struct agent_relay *r, size_t head_len)
{
	memmove(r->to_client.data, r->to_client.data + head_len, r->to_client.len - head_len);
	r->to_client.len -= head_len;
}

/* ---- the relay ---------------------------------------------------------------------- */

struct relay_state {
	char buf[32 * 1024];
	bool client_eof, agent_eof;
};

/* Agent -> to_client, while there is room. */
static void pull_agent(struct agent_relay *r, struct relay_state *st)
{
	while (!st->agent_eof && r->to_client.len - r->client_off < AGENT_RELAY_BUF_CAP) {
		size_t n = 0;
		CURLcode c = curl_easy_recv(r->agent, st->buf, sizeof(st->buf), &n);
		if (c == CURLE_AGAIN)
			break;
		if (c != CURLE_OK || n == 0) {
			st->agent_eof = true;
			if (r->ops->agent_ended)
				r->ops->agent_ended(r);
			break;
		}
		if (r->ops->from_agent)
			r->ops->from_agent(r, st->buf, n);
		else
			mk_buf_append(&r->to_client, st->buf, n);
	}
}

/* to_client -> client. -1: the client is gone. */
static int push_client(struct agent_relay *r)
{
	return mk_io_flush(mk_io_sock_send, &r->client_fd, &r->to_client, &r->client_off);
}

/* Client -> to_agent, while there is room. */
static void pull_client(struct agent_relay *r, struct relay_state *st)
{
	while (!st->client_eof && r->to_agent.len - r->agent_off < AGENT_RELAY_BUF_CAP) {
		ssize_t n = recv(r->client_fd, st->buf, sizeof(st->buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			st->client_eof = true;
			break;
		}
		if (!r->ops->from_client) {
			mk_buf_append(&r->to_agent, st->buf, (size_t)n);
		} else if (r->ops->from_client(r, st->buf, (size_t)n) < 0) {
			st->client_eof = true;
			break;
		}
	}
}

/* to_agent -> agent. -1: the agent is gone. */
static int push_agent(struct agent_relay *r)
{
	return mk_io_flush(mk_io_curl_send, r->agent, &r->to_agent, &r->agent_off);
}

/* Waits for either side (or the server stopping). -1: stop. */
static int wait_sides(struct agent_relay *r, const struct relay_state *st)
{
	struct pollfd p[3] = { { .fd = r->wake[0], .events = POLLIN },
			       { .fd = r->client_fd, .events = 0 },
			       { .fd = r->agent_fd, .events = 0 } };
	if (!st->client_eof && r->to_agent.len < AGENT_RELAY_BUF_CAP)
		p[1].events |= POLLIN;
	if (r->to_client.len)
		p[1].events |= POLLOUT;
	if (!st->agent_eof && r->to_client.len < AGENT_RELAY_BUF_CAP)
		p[2].events |= POLLIN;
	if (r->to_agent.len)
		p[2].events |= POLLOUT;
	int n = poll(p, 3, -1);
	if (n < 0 && errno != EINTR)
		return -1;
	if (n > 0 && p[0].revents)
		return -1; /* server stopping */
	return 0;
}

/* Relays until either side closes. Non-blocking both ways with bounded buffers,
 * so neither side can stall the other direction. */
static void relay(struct agent_relay *r)
{
	struct relay_state st = { .client_eof = false, .agent_eof = false };

	fcntl(r->client_fd, F_SETFL, fcntl(r->client_fd, F_GETFL) | O_NONBLOCK);
	if (r->ops->start && r->ops->start(r) < 0)
		st.client_eof = true;
	for (;;) {
		/* the agent side first: TLS may hold decrypted bytes poll cannot see */
		pull_agent(r, &st);
		if (push_client(r) < 0)
			return;
		pull_client(r, &st);
		if (push_agent(r) < 0)
			return;
		/* a side that ended: deliver what it sent, then stop */
		if (st.agent_eof && r->to_client.len == 0)
			return;
		if (st.client_eof && r->to_agent.len == 0 &&
		    (!r->ops->flush_client_on_client_end || r->to_client.len == 0))
			return;
		if (wait_sides(r, &st) < 0)
			return;
	}
}

static void *relay_thread(void *arg)
{
	struct agent_relay *r = arg;

	relay(r);
	MHD_upgrade_action(r->urh, MHD_UPGRADE_ACTION_CLOSE);
	set_unlink(r);
	r->ops->free(r);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
		       const char *extra_in, size_t extra_in_size, MHD_socket sock,
		       struct MHD_UpgradeResponseHandle *urh)
{
	struct agent_relay *r = cls;
	pthread_attr_t attr;
	pthread_t t;

	r->client_fd = sock;
	r->urh = urh;
	r->started = true;
	if (extra_in_size)
		mk_buf_append(&r->to_agent, extra_in, extra_in_size);
	/* called in the connection's thread, which forwards TLS only after we return */
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, relay_thread, r) != 0) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		set_unlink(r);
		r->ops->free(r);
	}
	pthread_attr_destroy(&attr);
}

struct MHD_Response *agent_relay_response(struct agent_relay *r)
{
	return MHD_create_response_for_upgrade(on_upgrade, r);
}

void agent_relay_reply_error(struct mk_reply *rep, long code, const char *body, size_t len,
			     const char *name)
{
	_cleanup_cjson_ cJSON *st = body && len ? cJSON_ParseWithLength(body, len) : NULL;
	const char *kind = st ? mk_json_get_string(st, "kind") : NULL;

	if (code < 400 || code > 599)
		code = 502;
	if (kind && !strcmp(kind, "Status")) {
		mk_reply_json(rep, (unsigned)code, st);
		return;
	}
	mk_reply_status(rep, (int)code, "pods", name, "%.*s", (int)(len > 512 ? 512 : len),
			body ? body : "");
}

void agent_relay_reply_refusal(struct agent_relay *r, size_t head_len, int code,
			       uint64_t deadline, struct mk_reply *rep, const char *name)
{
	char cl[32];
	size_t want = agent_relay_head_value(r->to_client.data, head_len, "Content-Length", cl,
					     sizeof(cl))
			      ? (size_t)strtoul(cl, NULL, 10)
			      : MAX_ERROR_BODY;
	if (want > MAX_ERROR_BODY)
		want = MAX_ERROR_BODY;
	agent_relay_read_head(r, deadline, want);
	agent_relay_reply_error(rep, code, r->to_client.data + head_len,
				r->to_client.len - head_len, name);
}

/* ---- where a node's agent listens ------------------------------------------------- */

char *agent_node_base(const cJSON *node, bool ipv4_only)
{
	const char *ip = NULL;
	const cJSON *a;
	cJSON_ArrayForEach(a, mk_json_get(node, "status.addresses"))
	{
		const char *type = mk_json_get_string(a, "type");
		if (type && !strcmp(type, "InternalIP")) {
			ip = mk_json_get_string(a, "address");
			break;
		}
	}
	if (!ip || !*ip || (ipv4_only && strchr(ip, ':')))
		return NULL;
	const cJSON *port = mk_json_get(node, "status.daemonEndpoints.kubeletEndpoint.Port");
	int p = cJSON_IsNumber(port) && port->valueint > 0 && port->valueint < 65536
			? port->valueint
			: MK_AGENT_STREAM_DEFAULT_PORT;
	return strchr(ip, ':') ? mk_strdup_printf("https://[%s]:%d", ip, p)
			       : mk_strdup_printf("https://%s:%d", ip, p);
}

int agent_relay_node_base(struct mk_apiserver *srv, const char *node, struct mk_reply *rep,
			  char **ret_base)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;

	if (mk_store_get(srv->store, "nodes", "", node, &json, NULL, &err) < 0) {
		mk_reply_status(rep, err->code == ENOENT ? 404 : 500, "nodes", node,
				"nodes \"%s\" not found", node);
		return -1;
	}
	_cleanup_cjson_ cJSON *nobj = cJSON_Parse(json);
	char *base = agent_node_base(nobj, false);
	if (!base) {
		mk_reply_status(rep, 503, "nodes", node, "node %s has no InternalIP address", node);
		return -1;
	}
	*ret_base = base;
	return 0;
}
