/* The proxy subresources, as kube-apiserver serves them:
 *
 *   /api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy[/PATH]
 *   /api/v1/namespaces/NS/pods/[SCHEME:]NAME[:PORT]/proxy[/PATH]
 *
 * SCHEME is http (default) or https (the backend's certificate is not verified,
 * as kube-apiserver's proxy transport does not). A service PORT is a port name or
 * number of the Service; the request goes to a ready address of its Endpoints
 * with the matching endpoint port (a random one, as kube-apiserver picks). A pod
 * PORT is a number (or a container port name); without one, the pod's first
 * declared container port; the request goes to the pod IP.
 *
 * We dial the pod IP directly, as kube-apiserver does: `minik8s up` gives the
 * server's node a route to every node's pod CIDR, and HTTP semantics (methods,
 * bodies, chunking, keep-alive towards the backend) are then simply curl's. Going
 * through the agent like port-forward would add a second hop for nothing when
 * the routes exist.
 *
 * What passes through: the method, the path, the query, the request headers but
 * hop-by-hop ones and Authorization (kube-apiserver's authentication filter
 * removes it), the request body (buffered up to the server's body limit: request
 * bodies are read whole by server.c), the status, the response headers but
 * hop-by-hop ones, and the response body as it streams. Location headers that
 * point at the backend (or are absolute paths) are rewritten to go through the
 * proxy path again, as kube-apiserver's proxy transport does; unlike it we do not
 * rewrite links inside HTML bodies. An empty PATH is redirected (301) to ".../".
 * Upgrades (WebSocket through the proxy) are not served. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include "internal.h"

#define HEADERS_TIMEOUT_MS 30000
#define BUF_HIGH (1024 * 1024)
#define MAX_RESP_HEADERS 100

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_ALL); }

struct target {
	char *kind;   /* "services" | "pods" */
	char *ns;
	char *id;     /* [scheme:]name[:port] */
	char *rest;   /* after /proxy: "" or "/..." */
	char *prefix; /* the request path up to and including /proxy */
};

static void target_release(struct target *t)
{
	free(t->kind);
	free(t->ns);
	free(t->id);
	free(t->rest);
	free(t->prefix);
}

/* Splits /api/v1/namespaces/NS/KIND/ID/proxy[/REST]; false if url is not one. */
static bool parse_url(const char *url, struct target *t)
{
	static const char pre[] = "/api/v1/namespaces/";
	const char *p, *e;

	if (strncmp(url, pre, sizeof(pre) - 1))
		return false;
	p = url + sizeof(pre) - 1;
	const char *seg[3];
	size_t len[3];
	for (int i = 0; i < 3; i++) {
		e = strchr(p, '/');
		if (!e || e == p)
			return false;
		seg[i] = p;
		len[i] = (size_t)(e - p);
		p = e + 1;
	}
	/* p: "proxy" then nothing, or "/..." */
	if (strncmp(p, "proxy", 5) || (p[5] && p[5] != '/'))
		return false;
	if (!((len[1] == 8 && !strncmp(seg[1], "services", 8)) ||
	      (len[1] == 4 && !strncmp(seg[1], "pods", 4))))
		return false;
	t->ns = strndup(seg[0], len[0]);
	t->kind = strndup(seg[1], len[1]);
	t->id = strndup(seg[2], len[2]);
	t->rest = mk_strdup(p + 5);
	t->prefix = strndup(url, (size_t)(p + 5 - url));
	return true;
}

bool mk_proxy_http_match(const char *url)
{
	struct target t = { 0 };
	bool ok = parse_url(url, &t);
	target_release(&t);
	return ok;
}

/* ---- where to ------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* "[scheme:]name[:port]" as kube's SplitSchemeNamePort. */
bool mk_proxy_http_split_id(const char *id, char **scheme, char **name, char **port)
{
	_cleanup_free_ char *c = mk_strdup(id);
	char *parts[4];
	int n = 0;
	char *p = c;

	for (;;) {
		if (n == 3)
			return false;
		parts[n++] = p;
		char *colon = strchr(p, ':');
		if (!colon)
			break;
		*colon = '\0';
		p = colon + 1;
	}
	const char *s = "", *nm, *pt = "";
	if (n == 1)
		nm = parts[0];
	else if (n == 2)
		nm = parts[0], pt = parts[1];
	else
		s = parts[0], nm = parts[1], pt = parts[2];
	if (!*nm || (*s && strcmp(s, "http") && strcmp(s, "https")))
		return false;
	*scheme = mk_strdup(*s ? s : "http");
	*name = mk_strdup(nm);
	*port = mk_strdup(pt);
	return true;
}

static int get_object(struct mk_apiserver *srv, const char *res, const char *ns, const char *name,
		      struct mk_reply *rep, cJSON **ret)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;

	if (mk_store_get(srv->store, res, ns, name, &json, NULL, &err) < 0) {
		if (err->code == ENOENT)
			mk_reply_status(rep, 404, res, name, "%s \"%s\" not found", res, name);
		else
			mk_reply_status(rep, 500, res, name, "%s", err->msg);
		return -1;
	}
	*ret = cJSON_Parse(json);
	if (!*ret) {
		mk_reply_status(rep, 500, res, name, "stored object does not parse");
		return -1;
	}
	return 0;
}

/* host:port of a ready endpoint of the service (kube's service ResourceLocation). */
static int service_location(struct mk_apiserver *srv, const char *ns, const char *id,
			    const char *name, const char *port, struct mk_reply *rep, char **ret)
{
	_cleanup_cjson_ cJSON *svc = NULL, *eps = NULL;
	_cleanup_free_ char *port_name = mk_strdup(port);

	if (get_object(srv, "services", ns, name, rep, &svc) < 0)
		return -1;
	if (all_digits(port)) {
		long num = strtol(port, NULL, 10);
		const cJSON *sp;
		bool found = false;
		cJSON_ArrayForEach(sp, mk_json_get(svc, "spec.ports"))
		{
			const cJSON *pn = cJSON_GetObjectItem(sp, "port");
			if (cJSON_IsNumber(pn) && pn->valueint == num) {
				const char *nm = mk_json_get_string(sp, "name");
				free(port_name);
				port_name = mk_strdup(nm ? nm : "");
				found = true;
				break;
			}
		}
		if (!found) {
			mk_reply_status(rep, 503, "services", name,
					"no service port %ld found for service \"%s\"", num, name);
			return -1;
		}
	}
	_cleanup_free_ char *ej = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_store_get(srv->store, "endpoints", ns, name, &ej, NULL, &err) == 0)
		eps = cJSON_Parse(ej);
	const cJSON *subsets = eps ? mk_json_get(eps, "subsets") : NULL;
	int nsub = cJSON_GetArraySize(subsets);
	if (nsub == 0) {
		mk_reply_status(rep, 503, "services", name, "no endpoints available for service \"%s\"",
				name);
		return -1;
	}
	uint32_t seed;
	mk_random_bytes(&seed, sizeof(seed));
	for (int si = 0; si < nsub; si++) {
		const cJSON *ss = cJSON_GetArrayItem(subsets, (int)((seed + (uint32_t)si) % (uint32_t)nsub));
		const cJSON *addrs = cJSON_GetObjectItem(ss, "addresses");
		int na = cJSON_GetArraySize(addrs);
		if (na == 0)
			continue;
		const cJSON *ep;
		cJSON_ArrayForEach(ep, cJSON_GetObjectItem(ss, "ports"))
		{
			const char *pn = mk_json_get_string(ep, "name");
			const cJSON *num = cJSON_GetObjectItem(ep, "port");
			if (strcmp(pn ? pn : "", port_name) || !cJSON_IsNumber(num))
				continue;
			const char *ip = mk_json_get_string(
				cJSON_GetArrayItem(addrs, (int)((seed >> 8) % (uint32_t)na)), "ip");
			if (!ip)
				continue;
			*ret = strchr(ip, ':') ? mk_strdup_printf("[%s]:%d", ip, num->valueint)
					       : mk_strdup_printf("%s:%d", ip, num->valueint);
			return 0;
		}
	}
	mk_reply_status(rep, 503, "services", name, "no endpoints available for service \"%s\"", id);
	return -1;
}

/* host[:port] of the pod (kube's pod ResourceLocation). */
static int pod_location(struct mk_apiserver *srv, const char *ns, const char *name,
			const char *port, struct mk_reply *rep, char **ret)
{
	_cleanup_cjson_ cJSON *pod = NULL;
	_cleanup_free_ char *p = mk_strdup(port);

	if (get_object(srv, "pods", ns, name, rep, &pod) < 0)
		return -1;
	const cJSON *c, *cp;
	if (!*p) {
		cJSON_ArrayForEach(c, mk_json_get(pod, "spec.containers"))
		{
			const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(c, "ports"), 0);
			const cJSON *num = first ? cJSON_GetObjectItem(first, "containerPort") : NULL;
			if (cJSON_IsNumber(num)) {
				free(p);
				p = mk_strdup_printf("%d", num->valueint);
				break;
			}
		}
	} else if (!all_digits(p)) {
		bool found = false;
		cJSON_ArrayForEach(c, mk_json_get(pod, "spec.containers"))
		cJSON_ArrayForEach(cp, cJSON_GetObjectItem(c, "ports"))
		{
			const char *pn = mk_json_get_string(cp, "name");
			const cJSON *num = cJSON_GetObjectItem(cp, "containerPort");
			if (!found && pn && !strcmp(pn, p) && cJSON_IsNumber(num)) {
				free(p);
				p = mk_strdup_printf("%d", num->valueint);
				found = true;
			}
		}
		if (!found) {
			mk_reply_status(rep, 400, "pods", name, "pod %s has no container port named %s",
					name, port);
			return -1;
		}
	} else if (strtol(p, NULL, 10) < 1 || strtol(p, NULL, 10) > 65535) {
		mk_reply_status(rep, 400, "pods", name, "invalid port %s", p);
		return -1;
	}
	const char *ip = mk_json_get_string(pod, "status.podIP");
	if (!ip || !*ip) {
		mk_reply_status(rep, 503, "pods", name, "pod %s has no IP address yet", name);
		return -1;
	}
	bool v6 = strchr(ip, ':');
	if (!*p)
		*ret = v6 ? mk_strdup_printf("[%s]", ip) : mk_strdup(ip);
	else
		*ret = v6 ? mk_strdup_printf("[%s]:%s", ip, p) : mk_strdup_printf("%s:%s", ip, p);
	return 0;
}

/* ---- the request to the backend --------------------------------------------------- */

static bool hop_by_hop(const char *name)
{
	static const char *const hop[] = { "Connection", "Keep-Alive", "Proxy-Connection",
					   "Proxy-Authenticate", "Proxy-Authorization", "Te",
					   "Trailer", "Transfer-Encoding", "Upgrade" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(hop); i++)
		if (!strcasecmp(name, hop[i]))
			return true;
	return false;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct curl_slist **l = cls;

	if (hop_by_hop(key) || !strcasecmp(key, "Authorization") ||
	    !strcasecmp(key, "Content-Length") || !strcasecmp(key, "Expect") ||
	    !strcasecmp(key, "X-Forwarded-For"))
		return MHD_YES;
	_cleanup_free_ char *h = mk_strdup_printf("%s: %s", key, value ? value : "");
	struct curl_slist *n = curl_slist_append(*l, h);
	if (n)
		*l = n;
	return MHD_YES;
}

/* Percent-encodes what a URL path may not hold as is (MHD hands us the path
 * decoded). */
static void append_path(struct mk_buf *b, const char *p)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || strchr("/-._~!$&'()*+,;=:@%", c))
			mk_buf_append(b, p, 1);
		else
			mk_buf_printf(b, "%%%02X", c);
	}
}

static enum MHD_Result copy_query(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	struct mk_buf *b = cls;
	char *ek = curl_easy_escape(NULL, key, 0);

	mk_buf_printf(b, "%s%s", b->len ? "&" : "", ek);
	if (value) {
		char *ev = curl_easy_escape(NULL, value, 0);
		mk_buf_printf(b, "=%s", ev);
		curl_free(ev);
	}
	curl_free(ek);
	return MHD_YES;
}

struct http_proxy {
	struct mk_apiserver *srv;
	CURLM *multi;
	CURL *easy;
	struct curl_slist *req_headers;
	char *body;			/* request body (owned copy for curl) */
	struct mk_buf buf;
	size_t off;
	bool headers_done, done, paused;
	CURLcode result;
	char *resp_headers[MAX_RESP_HEADERS]; /* "Name: value" of the final response */
	size_t n_resp_headers;
	int client_fd;
};

static void hp_free(void *cls)
{
	struct http_proxy *hp = cls;
	if (!hp)
		return;
	if (hp->multi && hp->easy)
		curl_multi_remove_handle(hp->multi, hp->easy);
	if (hp->easy)
		curl_easy_cleanup(hp->easy);
	if (hp->multi)
		curl_multi_cleanup(hp->multi);
	curl_slist_free_all(hp->req_headers);
	free(hp->body);
	for (size_t i = 0; i < hp->n_resp_headers; i++)
		free(hp->resp_headers[i]);
	mk_buf_release(&hp->buf);
	free(hp);
}

static size_t hp_header(char *data, size_t size, size_t n, void *ud)
{
	struct http_proxy *hp = ud;
	size_t len = size * n;

	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* a new status line: an interim 1xx came before, forget its headers */
		for (size_t i = 0; i < hp->n_resp_headers; i++)
			free(hp->resp_headers[i]);
		hp->n_resp_headers = 0;
		return len;
	}
	if (len <= 2 && (data[0] == '\r' || data[0] == '\n')) {
		long code = 0;
		curl_easy_getinfo(hp->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code >= 200)
			hp->headers_done = true;
		return len;
	}
	while (len && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (hp->n_resp_headers < MAX_RESP_HEADERS && memchr(data, ':', len))
		hp->resp_headers[hp->n_resp_headers++] = strndup(data, len);
	return size * n;
}

static size_t hp_write(char *data, size_t size, size_t n, void *ud)
{
	struct http_proxy *hp = ud;
	size_t len = size * n;

	if (hp->buf.len - hp->off > BUF_HIGH) {
		hp->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	mk_buf_append(&hp->buf, data, len);
	return len;
}

static void hp_step(struct http_proxy *hp, int timeout_ms)
{
	int running = 0, msgs;
	CURLMsg *m;

	curl_multi_perform(hp->multi, &running);
	while ((m = curl_multi_info_read(hp->multi, &msgs)))
		if (m->msg == CURLMSG_DONE) {
			hp->done = true;
			hp->result = m->data.result;
		}
	if (!hp->done && running && hp->buf.len == hp->off)
		curl_multi_poll(hp->multi, NULL, 0, timeout_ms, NULL);
}

static bool hp_stopping(struct http_proxy *hp)
{
	pthread_mutex_lock(&hp->srv->lock);
	bool s = hp->srv->stopping;
	pthread_mutex_unlock(&hp->srv->lock);
	if (s)
		return true;
	struct pollfd p = { .fd = hp->client_fd, .events = POLLRDHUP };
	return hp->client_fd >= 0 && poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static ssize_t hp_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_proxy *hp = cls;

	while (hp->off >= hp->buf.len) {
		hp->buf.len = 0;
		hp->off = 0;
		if (hp->paused) {
			hp->paused = false;
			curl_easy_pause(hp->easy, CURLPAUSE_CONT);
		}
		if (hp->done)
			return hp->result == CURLE_OK ? MHD_CONTENT_READER_END_OF_STREAM
						      : MHD_CONTENT_READER_END_WITH_ERROR;
		if (hp_stopping(hp))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		hp_step(hp, 1000);
	}
	size_t n = hp->buf.len - hp->off;
	if (n > max)
		n = max;
	memcpy(out, hp->buf.data + hp->off, n);
	hp->off += n;
	return (ssize_t)n;
}

/* kube's proxy transport rewriteURL: a Location at the backend (or an absolute
 * path) goes back through the proxy prefix on the host the client asked. */
char *mk_proxy_http_rewrite_location(const char *loc, const char *backend, const char *req_host,
				     const char *prefix)
{
	const char *path = loc;
	if (strstr(loc, "://")) {
		const char *h = strstr(loc, "://") + 3;
		const char *slash = strchr(h, '/');
		size_t hl = slash ? (size_t)(slash - h) : strlen(h);
		bool same = (strlen(backend) == hl && !strncmp(h, backend, hl)) ||
			    (req_host && strlen(req_host) == hl && !strncmp(h, req_host, hl));
		if (!same)
			return NULL;
		path = slash ? slash : "/";
	} else if (loc[0] != '/' || loc[1] == '/') {
		return NULL; /* relative, or scheme-relative to another host */
	}
	if (!strncmp(path, prefix, strlen(prefix)))
		return req_host ? mk_strdup_printf("https://%s%s", req_host, path) : mk_strdup(path);
	return req_host ? mk_strdup_printf("https://%s%s%s", req_host, prefix, path)
			: mk_strdup_printf("%s%s", prefix, path);
}

/* kube-apiserver's redirect for an empty path (kubernetes issue 4958). */
static void reply_redirect(struct mk_request *req, struct mk_reply *rep, const struct mk_buf *query)
{
	_cleanup_free_ char *loc = mk_strdup_printf("%s/%s%s", req->url, query->len ? "?" : "",
						     query->len ? query->data : "");
	rep->stream = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	if (rep->stream) {
		MHD_add_response_header(rep->stream, "Location", loc);
		rep->code = 301;
		rep->content_type = NULL;
	} else {
		mk_reply_status(rep, 500, NULL, NULL, "out of memory");
	}
}

/* The client's request headers for the backend, with X-Forwarded-For; curl's own
 * defaults are suppressed ("Name:") so only the client's go. */
static void hp_request_headers(struct mk_request *req, struct http_proxy *hp)
{
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, copy_header, &hp->req_headers);
	hp->req_headers = curl_slist_append(hp->req_headers, "Expect:");
	if (!mk_request_header(req, "Accept"))
		hp->req_headers = curl_slist_append(hp->req_headers, "Accept:");
	if (!mk_request_header(req, "User-Agent"))
		hp->req_headers = curl_slist_append(hp->req_headers, "User-Agent:");
	if (!mk_request_header(req, "Content-Type"))
		hp->req_headers = curl_slist_append(hp->req_headers, "Content-Type:");
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &((struct sockaddr_in *)ci->client_addr)->sin_addr, ip, sizeof(ip));
		const char *prior = mk_request_header(req, "X-Forwarded-For");
		_cleanup_free_ char *xff = prior ? mk_strdup_printf("X-Forwarded-For: %s, %s", prior, ip)
						 : mk_strdup_printf("X-Forwarded-For: %s", ip);
		hp->req_headers = curl_slist_append(hp->req_headers, xff);
	}
	curl_easy_setopt(hp->easy, CURLOPT_HTTPHEADER, hp->req_headers);
}

/* The backend request for url, same method and body as the client's, started on
 * its own multi handle. NULL when out of memory. */
static struct http_proxy *hp_start(struct mk_request *req, const char *url)
{
	pthread_once(&curl_once, curl_init);
	struct http_proxy *hp = mk_malloc0(sizeof(*hp));
	hp->srv = req->srv;
	hp->client_fd = -1;
	mk_buf_init(&hp->buf);
	hp->easy = curl_easy_init();
	hp->multi = curl_multi_init();
	if (!hp->easy || !hp->multi) {
		hp_free(hp);
		return NULL;
	}
	CURL *h = hp->easy;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, hp_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, hp);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, hp_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, hp);
	if (!strcmp(req->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(req->method, "GET"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body.len || !strcmp(req->method, "POST") || !strcmp(req->method, "PUT") ||
	    !strcmp(req->method, "PATCH")) {
		hp->body = mk_malloc0(req->body.len + 1);
		if (req->body.len)
			memcpy(hp->body, req->body.data, req->body.len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, hp->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body.len);
		if (strcmp(req->method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	hp_request_headers(req, hp);
	curl_multi_add_handle(hp->multi, h);
	return hp;
}

/* The backend's response headers onto resp, but for hop-by-hop ones, its length
 * and date (MHD's own); a Location is rewritten to go through the proxy. */
static void copy_response_headers(struct mk_request *req, struct http_proxy *hp,
				  struct MHD_Response *resp, const char *hostport,
				  const char *prefix)
{
	const char *req_host = mk_request_header(req, "Host");
	for (size_t i = 0; i < hp->n_resp_headers; i++) {
		char *line = hp->resp_headers[i];
		char *colon = strchr(line, ':');
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (hop_by_hop(line) || !strcasecmp(line, "Content-Length") ||
		    !strcasecmp(line, "Date")) {
			*colon = ':';
			continue;
		}
		_cleanup_free_ char *nl = !strcasecmp(line, "Location")
						  ? mk_proxy_http_rewrite_location(v, hostport, req_host,
										 prefix)
						  : NULL;
		MHD_add_response_header(resp, line, nl ? nl : v);
		*colon = ':';
	}
}

/* The client's response once the backend's headers are in: its body streams from
 * hp (the response then owns hp), or none for HEAD. NULL when out of memory. */
static struct MHD_Response *hp_response(struct mk_request *req, struct http_proxy *hp)
{
	long long clen = -1;
	for (size_t i = 0; i < hp->n_resp_headers; i++)
		if (!strncasecmp(hp->resp_headers[i], "Content-Length:", 15))
			clen = strtoll(hp->resp_headers[i] + 15, NULL, 10);
	const union MHD_ConnectionInfo *fdi =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (fdi)
		hp->client_fd = fdi->connect_fd;
	if (!strcmp(req->method, "HEAD"))
		return MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	return MHD_create_response_from_callback(clen >= 0 ? (uint64_t)clen : MHD_SIZE_UNKNOWN,
						 32 * 1024, hp_reader, hp, hp_free);
}

/* Waits up to HEADERS_TIMEOUT_MS for the backend's response head; -1 with a 503
 * (unreachable) or 504 (too slow) in rep. */
static int hp_wait_headers(struct http_proxy *hp, struct mk_reply *rep, const char *kind,
			   const char *name)
{
	const char *what = !strcmp(kind, "services") ? "service" : "pod";
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)HEADERS_TIMEOUT_MS * 1000000;
	while (!hp->headers_done && !hp->done && mk_time_mono_ns() < deadline)
		hp_step(hp, 200);
	if (hp->headers_done)
		return 0;
	if (hp->done)
		mk_reply_status(rep, 503, kind, name, "error trying to reach %s: %s", what,
				curl_easy_strerror(hp->result));
	else
		mk_reply_status(rep, 504, kind, name, "the %s did not answer in time", what);
	return -1;
}

void mk_proxy_http_handle(struct mk_request *req, struct mk_reply *rep)
{
	struct mk_apiserver *srv = req->srv;
	struct target t = { 0 };
	_cleanup_free_ char *scheme = NULL, *name = NULL, *port = NULL, *hostport = NULL;

	if (!parse_url(req->url, &t)) {
		mk_reply_status(rep, 404, NULL, NULL, "the server could not find the requested resource");
		return;
	}
	bool svc = !strcmp(t.kind, "services");
	if (!mk_proxy_http_split_id(t.id, &scheme, &name, &port)) {
		mk_reply_status(rep, 400, t.kind, t.id, "invalid %s request \"%s\"",
				svc ? "service" : "pod", t.id);
		target_release(&t);
		return;
	}
	int r = svc ? service_location(srv, t.ns, t.id, name, port, rep, &hostport)
		    : pod_location(srv, t.ns, name, port, rep, &hostport);
	if (r < 0) {
		target_release(&t);
		return;
	}
	struct mk_buf query;
	mk_buf_init(&query);
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, copy_query, &query);
	if (!*t.rest) {
		reply_redirect(req, rep, &query);
		mk_buf_release(&query);
		target_release(&t);
		return;
	}

	struct mk_buf url;
	mk_buf_init(&url);
	mk_buf_printf(&url, "%s://%s", scheme, hostport);
	append_path(&url, t.rest);
	if (query.len)
		mk_buf_printf(&url, "?%s", query.data);
	mk_buf_release(&query);
	struct http_proxy *hp = hp_start(req, url.data);
	mk_buf_release(&url);
	if (!hp) {
		target_release(&t);
		mk_reply_status(rep, 500, NULL, NULL, "out of memory");
		return;
	}

	if (hp_wait_headers(hp, rep, t.kind, name) < 0) {
		hp_free(hp);
		target_release(&t);
		return;
	}
	long code = 0;
	curl_easy_getinfo(hp->easy, CURLINFO_RESPONSE_CODE, &code);
	bool head = !strcmp(req->method, "HEAD");
	struct MHD_Response *resp = hp_response(req, hp);
	if (!resp) {
		if (head)
			hp_free(hp);
		target_release(&t);
		mk_reply_status(rep, 500, NULL, NULL, "out of memory");
		return;
	}
	copy_response_headers(req, hp, resp, hostport, t.prefix);
	if (head)
		hp_free(hp); /* else the response owns it */
	target_release(&t);
	rep->stream = resp;
	rep->code = (unsigned)code;
	rep->content_type = NULL;
}
