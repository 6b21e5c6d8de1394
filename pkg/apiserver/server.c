/* The HTTP layer: libmicrohttpd in thread-per-connection mode (kubectl opens several
 * keep-alive connections at once and watch streams block their connection's thread),
 * connection admission (pkg/util/connguard.c: anonymous sockets cannot crowd out
 * authenticated clients), bearer-token authentication, request bodies with a size
 * limit, routing of the Kubernetes paths, and Status replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "metrics.h"

#define DEFAULT_MAX_BODY (3u * 1024 * 1024) /* kube-apiserver's request limit */
/* Limits of the request line and headers. libmicrohttpd answers requests that do
 * not fit its per-connection memory pool itself, with an HTML page (414 or 431):
 * the pool (MHD_POOL_BYTES) is made larger than these limits so that requests
 * between the limit and the pool reach on_request, which answers with a Status.
 * Only a request beyond the pool still gets libmicrohttpd's page. */
#define MAX_URI_BYTES (64u * 1024)
#define MAX_HEADER_BYTES (64u * 1024)
#define MHD_POOL_BYTES ((size_t)(MAX_URI_BYTES + MAX_HEADER_BYTES + 128u * 1024))

/* ---- replies ---------------------------------------------------------------- */

void mk_reply_json_text(struct mk_reply *rep, unsigned code, char *owned_text)
{
	free(rep->body);
	rep->code = code;
	rep->body = owned_text;
	rep->body_len = 0;
	rep->content_type = "application/json";
}

void mk_reply_json(struct mk_reply *rep, unsigned code, const cJSON *obj)
{
	mk_reply_json_text(rep, code, cJSON_PrintUnformatted(obj));
}

void mk_reply_status(struct mk_reply *rep, int code, const char *kind, const char *name,
		     const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	_cleanup_cjson_ cJSON *st =
		mk_api_status_new(code, mk_api_status_reason(code), msg, kind, name, NULL);
	free(msg);
	mk_reply_json(rep, (unsigned)code, st);
}

void mk_reply_error(struct mk_reply *rep, const struct mk_api_resource *r, const char *name,
		    const struct mk_error *err)
{
	const char *kind = r ? r->name : "";
	const char *group = r && r->group[0] ? r->group : NULL;
	_cleanup_free_ char *qual = group ? mk_strdup_printf("%s.%s", kind, group) : mk_strdup(kind);

	switch (err->code) {
	case ENOENT:
		mk_reply_status(rep, 404, kind, name, "%s \"%s\" not found", qual, name ? name : "");
		break;
	case EEXIST: {
		_cleanup_cjson_ cJSON *st = mk_api_status_new(
			409, "AlreadyExists", NULL, kind, name, NULL);
		_cleanup_free_ char *m =
			mk_strdup_printf("%s \"%s\" already exists", qual, name ? name : "");
		mk_json_set_string(st, "message", m);
		mk_reply_json(rep, 409, st);
		break;
	}
	case ESTALE:
		mk_reply_status(rep, 409, kind, name,
				"Operation cannot be fulfilled on %s \"%s\": the object has been "
				"modified; please apply your changes to the latest version and try again",
				qual, name ? name : "");
		break;
	case ERANGE:
		mk_reply_status(rep, 410, NULL, NULL, "%s", err->msg);
		break;
	default:
		if (err->code >= 400 && err->code < 600)
			mk_reply_status(rep, err->code, kind, name, "%s", err->msg);
		else {
			/* the storage failed (disk full, I/O error): the client gets the
			 * Status, the operator a log line saying why */
			mk_log(MK_LOG_ERROR, "apiserver", "%s%s%s: %s", qual, name ? "/" : "",
			       name ? name : "", err->msg);
			mk_reply_status(rep, 500, kind, name, "%s", err->msg);
		}
	}
}

const char *mk_request_arg(struct mk_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

bool mk_request_bool(struct mk_request *req, const char *key)
{
	const char *v = NULL;

	/* "?watch" (no value) is present, and true, as in kube-apiserver */
	if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key),
					      &v, NULL) != MHD_YES)
		return false;
	return mk_api_query_bool(v ? v : "");
}

const char *mk_request_header(struct mk_request *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

bool mk_request_wants_table(struct mk_request *req)
{
	const char *a = mk_request_header(req, "Accept");
	return a && strstr(a, "as=Table") && strstr(a, "g=meta.k8s.io");
}

/* ---- routing ---------------------------------------------------------------- */

/* Splits the path into at most 8 segments (in place); returns the count, -1 if more. */
static int split_path(char *p, char **seg, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *tok = strtok_r(p, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return -1;
		seg[n++] = tok;
	}
	return n;
}

/* Resolves /api/v1/... and /apis/GROUP/VERSION/... into req->res/ns/name/sub.
 * Returns 0 if resolved, 404 if the path names nothing we serve. */
static int route_resource(struct mk_request *req, char **seg, int n)
{
	const char *group, *version;
	int i;

	if (n >= 2 && !strcmp(seg[0], "api")) {
		group = "";
		version = seg[1];
		i = 2;
	} else if (n >= 3 && !strcmp(seg[0], "apis")) {
		group = seg[1];
		version = seg[2];
		i = 3;
	} else
		return 404;
	if (i >= n)
		return 404;

	/* /namespaces/NS/RESOURCE/... when RESOURCE is a namespaced resource */
	if (!strcmp(seg[i], "namespaces") && n - i >= 3) {
		const struct mk_api_resource *r = mk_api_resource_find(group, version, seg[i + 2]);
		if (r && r->namespaced) {
			if (n - i > 5)
				return 404;
			req->res = r;
			req->ns = mk_strdup(seg[i + 1]);
			req->name = n - i >= 4 ? mk_strdup(seg[i + 3]) : NULL;
			req->sub = n - i >= 5 ? mk_strdup(seg[i + 4]) : NULL;
			return 0;
		}
	}
	const struct mk_api_resource *r = mk_api_resource_find(group, version, seg[i]);
	if (!r || n - i > 3)
		return 404;
	req->res = r;
	req->name = n - i >= 2 ? mk_strdup(seg[i + 1]) : NULL;
	req->sub = n - i >= 3 ? mk_strdup(seg[i + 2]) : NULL;
	/* a namespaced resource addressed without namespace: list across namespaces only */
	if (r->namespaced && req->name)
		return 404;
	return 0;
}

static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char diff = 0;
	if (la != lb)
		return false;
	for (size_t i = 0; i < la; i++) /* constant time */
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* A service account token (satoken.c): remembered on req, so the second look
 * (admit, then dispatch) costs nothing. */
static enum mk_caller authenticate_sa(struct mk_request *req, const char *token)
{
	struct mk_apiserver *srv = req->srv;
	_cleanup_error_ struct mk_error *err = NULL;

	if (req->sa_name)
		return MK_CALLER_SA;
	pthread_mutex_lock(&srv->lock);
	struct mk_satoken_key *k = srv->sa_key;
	pthread_mutex_unlock(&srv->lock);
	if (!k || !mk_satoken_looks_like(token))
		return MK_CALLER_NONE;
	if (mk_satoken_authenticate(k, srv->store, token, time(NULL), MK_SATOKEN_API_AUDIENCE,
				    &req->sa_ns, &req->sa_name, &err) < 0) {
		mk_log(MK_LOG_DEBUG, "apiserver", "service account token refused: %s", err->msg);
		return MK_CALLER_NONE;
	}
	req->sa_user = mk_strdup_printf("system:serviceaccount:%s:%s", req->sa_ns, req->sa_name);
	return MK_CALLER_SA;
}

static enum mk_caller authenticate(struct mk_request *req)
{
	const char *h = mk_request_header(req, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7))
		return MK_CALLER_NONE;
	h += 7;
	while (*h == ' ')
		h++;
	if (secret_equal(h, req->srv->admin_token))
		return MK_CALLER_ADMIN;
	/* the join token only bootstraps: it asks for a node credential (nodecred.c) */
	if (req->srv->node_token && secret_equal(h, req->srv->node_token))
		return MK_CALLER_BOOTSTRAP;
	if (req->node_name)
		return MK_CALLER_NODE;
	if (mk_nodecred_authenticate(req->srv, h, &req->node_name)) {
		req->node_user = mk_strdup_printf("system:node:%s", req->node_name);
		return MK_CALLER_NODE;
	}
	/* --token-auth-file users */
	if (req->srv->ntoken_users && !req->token_user)
		req->token_user = mk_rbac_token_user(req->srv, h);
	if (req->token_user)
		return MK_CALLER_USER;
	return authenticate_sa(req, h);
}

/* The node branch of the authorizer (the Node authorizer, nodeauthz.c); the admin
 * may do everything. Service accounts, users and the join token are RBAC's
 * (mk_authz_request, rbac_policy.c): false here. */
bool mk_authz_allowed(enum mk_caller who, const struct mk_authz_attrs *a)
{
	if (who == MK_CALLER_ADMIN)
		return true;
	if (who != MK_CALLER_NODE)
		return false;
	const char *why;
	_cleanup_free_ char *owned = NULL;
	return mk_nodeauthz_allowed(a, &why, &owned);
}

/* The Kubernetes verb of a request: reads are get (list and watch are reads too). */
static const char *request_verb(struct mk_request *req)
{
	const char *m = req->method;
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return "get";
	if (!strcmp(m, "POST"))
		return "create";
	if (!strcmp(m, "PUT"))
		return "update";
	if (!strcmp(m, "PATCH"))
		return "patch";
	if (!strcmp(m, "DELETE"))
		return req->name ? "delete" : "deletecollection";
	return m;
}

/* The Node authorizer on a routed request; on refusal fills rep (403). A list or
 * watch with fieldSelector=metadata.name=X is a get of X there, as kube-apiserver's
 * RequestInfo makes it. */
static bool node_may(struct mk_request *req, struct mk_reply *rep)
{
	const char *verb = request_verb(req), *name = req->name;
	const char *fs = mk_request_arg(req, "fieldSelector");
	if (!strcmp(verb, "get") && !name)
		verb = mk_request_bool(req, "watch") ? "watch" : "list";
	if (!name && fs && mk_str_has_prefix(fs, "metadata.name=") && fs[14] &&
	    !strpbrk(fs + 14, ",=!"))
		name = fs + 14;
	struct mk_authz_attrs a = { .verb = verb,
				    .resource = req->res ? req->res->name : NULL,
				    .sub = req->sub,
				    .name = name,
				    .ns = req->ns,
				    .node = req->node_name,
				    .store = req->srv->store };
	const char *why;
	_cleanup_free_ char *owned = NULL;
	if (mk_nodeauthz_allowed(&a, &why, &owned))
		return true;
	mk_nodeauthz_forbid(req, rep, verb, why);
	return false;
}

static void dispatch(struct mk_request *req, struct mk_reply *rep)
{
	char *seg[8];
	_cleanup_free_ char *path = mk_strdup(req->url);
	int n;

	if (!strcmp(req->url, "/healthz") || !strcmp(req->url, "/readyz") ||
	    !strcmp(req->url, "/livez")) {
		rep->code = 200;
		rep->body = mk_strdup("ok");
		rep->content_type = "text/plain; charset=utf-8";
		return;
	}
	/* the CA is public: joining agents fetch it and check it against the hash in
	 * their join token (k3s's /cacerts) */
	if (!strcmp(req->url, "/cacerts") && req->srv->ca_pem) {
		rep->code = 200;
		rep->body = mk_strdup(req->srv->ca_pem);
		rep->content_type = "application/x-pem-file";
		return;
	}
	/* the /ui/ page itself is public; what it reads needs the token (ui.c) */
	if (mk_ui_static(req, rep))
		return;
	enum mk_caller who = authenticate(req);
	req->caller = who;
	if (who == MK_CALLER_NONE) {
		mk_reply_status(rep, 401, NULL, NULL, "Unauthorized");
		return;
	}
	/* the identity (user, groups) after impersonation: what kubectl auth whoami
	 * shows (authreview.c), RBAC decides on and the request log names */
	if (mk_rbac_identify(req, rep) < 0) {
		req->user = req->ui.name;
		return;
	}
	req->user = req->ui.name;
	who = req->caller;
	if (req->too_large) {
		mk_reply_status(rep, 413, NULL, NULL,
				"the request body is larger than the limit of %zu bytes",
				req->srv->max_body);
		return;
	}
	/* service accounts and users: RBAC on every request, before any handler (nodes:
	 * the Node authorizer below; the join token: discovery, self review and its
	 * node credential only) */
	if (who == MK_CALLER_SA || who == MK_CALLER_USER) {
		_cleanup_free_ char *scratch = NULL;
		struct mk_authz_attrs a;
		mk_authz_attrs_from_request(req->method, req->url, mk_request_bool(req, "watch"),
					    &scratch, &a);
		if (!mk_authz_request(req, &a, NULL)) {
			mk_rbac_forbid(req, rep, &a);
			return;
		}
	}
	if (mk_discovery_handle(req, req->url, rep))
		return;
	if (mk_authreview_handle(req, rep))
		return;
	if (mk_nodecred_handle(req, rep))
		return;
	/* the join token may do nothing else */
	if (who == MK_CALLER_BOOTSTRAP) {
		mk_reply_status(rep, 403, NULL, NULL,
				"forbidden: User \"system:bootstrap:node-join\" cannot %s path \"%s\": "
				"the join token may only ask for a node credential (POST %s)",
				request_verb(req), req->url, MK_NODECRED_PATH);
		return;
	}
	if (mk_ui_handle(req, rep)) /* /ui/api/trace (ui.c) */
		return;
	if (mk_metrics_handle(req, rep)) /* metrics.k8s.io: answered, never stored */
		return;
	/* services|pods/NAME/proxy/PATH: any depth, any method (proxy_http.c) */
	if (mk_proxy_http_match(req->url)) {
		/* as the node authorizer: proxying is not a node's business */
		if (who == MK_CALLER_NODE)
			mk_reply_status(rep, 403, NULL, NULL,
					"forbidden: User \"%s\" may not use the proxy subresources: "
					"no relationship found between node '%s' and this object",
					req->node_user, req->node_name);
		else
			mk_proxy_http_handle(req, rep);
		return;
	}
	n = split_path(path, seg, 8);
	if (n < 0 || route_resource(req, seg, n) != 0) {
		mk_reply_status(rep, 404, NULL, NULL, "the server could not find the requested resource");
		return;
	}
	if (who == MK_CALLER_NODE && !node_may(req, rep))
		return;
	mk_resource_handle(req, rep);
}

/* ---- libmicrohttpd glue ----------------------------------------------------- */

/* Connection admission (connguard.h): an authenticated request makes its
 * connection trusted; an anonymous one (/healthz, /cacerts, a 401) is answered
 * and its connection closed, so it holds no slot past its reply. false: the
 * trusted budget is full, rep holds the 429. */
static bool admit(struct mk_request *req, struct mk_reply *rep)
{
	struct mk_apiserver *srv = req->srv;

	mk_connguard_mhd_request_begin(srv->guard, req->conn);
	if (authenticate(req) == MK_CALLER_NONE) {
		req->close_after = true;
		return true;
	}
	if (mk_connguard_conn_trust(srv->guard, mk_connguard_mhd_conn(req->conn)))
		return true;
	req->close_after = true;
	mk_reply_status(rep, 429, NULL, NULL,
			"too many connections from authenticated clients (limit %u), retry later",
			srv->max_trusted);
	return false;
}

static enum MHD_Result send_reply(struct mk_request *req, struct MHD_Connection *conn,
				  struct mk_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rep->stream) {
		resp = rep->stream;
	} else {
		char *b = rep->body ? rep->body : mk_strdup("");
		/* never emit invalid UTF-8 in JSON (a name from the URL echoed in a Status,
		 * say): Go's encoder writes U+FFFD for it, and clients reject the rest */
		size_t len = rep->body_len ? rep->body_len : strlen(b);
		if (rep->content_type && strstr(rep->content_type, "json") && !mk_utf8_valid(b, len)) {
			char *fixed = mk_utf8_sanitize(b, len, NULL);
			free(b);
			b = fixed;
			len = strlen(b);
		}
		resp = MHD_create_response_from_buffer(len, b, MHD_RESPMEM_MUST_FREE);
		rep->body = NULL;
		if (!resp) {
			free(b);
			return MHD_NO;
		}
	}
	if (rep->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
	if (rep->warning)
		MHD_add_response_header(resp, "Warning", rep->warning);
	if (req && req->close_after)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (rep->code == 429)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (req)
		mk_connguard_mhd_reply(req->srv->guard, conn, rep->code, rep->stream != NULL);
	if (req)
		req->code = rep->code; /* for the request log (-v 4) */
	ret = MHD_queue_response(conn, rep->code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result add_kv_len(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	size_t *n = cls;
	(void)kind;
	*n += strlen(key ? key : "") + strlen(value ? value : "") + 4; /* "k: v\r\n", "k=v&" */
	return MHD_YES;
}

/* 414 or 431 with a Status when the request line or the headers are over the limits
 * (Go's http.Server, in front of kube-apiserver, has one such limit, 1 MiB). */
static bool request_too_big(struct MHD_Connection *conn, const char *url, struct mk_reply *rep)
{
	size_t uri = strlen(url), hdr = 0;

	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_kv_len, &uri);
	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_kv_len, &hdr);
	if (uri > MAX_URI_BYTES)
		mk_reply_status(rep, 414, NULL, NULL,
				"the request URI is longer than the limit of %u bytes", MAX_URI_BYTES);
	else if (uri + hdr > MAX_HEADER_BYTES)
		mk_reply_status(rep, 431, NULL, NULL,
				"the request line and headers are larger than the limit of %u bytes",
				MAX_HEADER_BYTES);
	else
		return false;
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct mk_apiserver *srv = cls;
	struct mk_request *req = *con_cls;
	struct mk_reply rep = { 0 };

	if (!req) {
		req = mk_malloc0(sizeof(*req));
		req->srv = srv;
		req->conn = conn;
		req->method = method;
		req->url = url;
		req->start_us = (int64_t)(mk_time_mono_ns() / 1000);
		mk_buf_init(&req->body);
		*con_cls = req;
		if (!admit(req, &rep)) {
			req->started = true;
			return send_reply(req, conn, &rep);
		}
		if (request_too_big(conn, url, &rep)) {
			req->started = true;
			return send_reply(req, conn, &rep);
		}
		/* refuse an announced oversized body before reading it */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > srv->max_body) {
			req->too_large = true;
			mk_reply_status(&rep, 413, NULL, NULL,
					"the request body is larger than the limit of %zu bytes",
					srv->max_body);
			req->started = true;
			return send_reply(req, conn, &rep);
		}
		return MHD_YES;
	}
	if (req->started) { /* already answered (oversized); drain */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (req->body.len + *upload_data_size > srv->max_body)
			req->too_large = true;
		else
			mk_buf_append(&req->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	req->started = true;
	dispatch(req, &rep);
	enum MHD_Result r = send_reply(req, conn, &rep);
	free(rep.body);
	free(rep.warning);
	return r;
}

/* The request log at -v 4, one line per finished request as kube-apiserver's httplog
 * writes it: verb, URI, status, latency, user, client address. Long-running requests
 * (watch, exec, logs -f) are logged when they end. */
static void log_request(struct mk_request *req, struct MHD_Connection *conn,
			enum MHD_RequestTerminationCode toe)
{
	char addr[INET6_ADDRSTRLEN] = "?";
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof(addr));
	}
	int64_t us = (int64_t)(mk_time_mono_ns() / 1000) - req->start_us;
	mk_log(MK_LOG_INFO, "apiserver", "HTTP verb=%s URI=\"%s\" resp=%u latency=%lld.%03lldms user=%s srcIP=%s%s",
	       req->method, req->url, req->code, (long long)(us / 1000), (long long)(us % 1000),
	       req->user ? req->user : "system:anonymous", addr,
	       toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct mk_request *req = *con_cls;
	if (!req)
		return;
	if (mk_log_v(4) && req->code)
		log_request(req, conn, toe);
	mk_connguard_request_end(req->srv->guard, mk_connguard_mhd_conn(conn));
	mk_buf_release(&req->body);
	free(req->ns);
	free(req->name);
	free(req->sub);
	free(req->sa_ns);
	free(req->sa_name);
	free(req->sa_user);
	free(req->node_name);
	free(req->node_user);
	mk_user_info_release(&req->ui);
	free(req);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	mk_logv(MK_LOG_DEBUG, "apiserver", fmt, ap);
}

int mk_apiserver_start(const struct mk_apiserver_options *opts, struct mk_store *store,
		       struct mk_apiserver **ret, struct mk_error **err)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(opts->port) };
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
	struct mk_apiserver *srv;

	if (inet_pton(AF_INET, opts->bind_address ? opts->bind_address : "0.0.0.0",
		      &sin.sin_addr) != 1)
		return mk_error_set(err, EINVAL, "invalid bind address '%s'", opts->bind_address);
	if (!opts->admin_token || !*opts->admin_token)
		return mk_error_set(err, EINVAL, "an admin token is required");
	srv = mk_malloc0(sizeof(*srv));
	srv->store = store;
	srv->service_cidr = mk_strdup(opts->service_cidr ? opts->service_cidr : "10.96.0.0/12");
	if (mk_services_parse_cidr(srv->service_cidr, &srv->svc_base, &srv->svc_size) < 0) {
		mk_error_set(err, EINVAL, "invalid service CIDR '%s' (want an IPv4 a.b.c.d/8..30)",
			     srv->service_cidr);
		mk_apiserver_free(srv);
		return -1;
	}
	srv->cluster_cidr = mk_strdup(opts->cluster_cidr ? opts->cluster_cidr : "10.244.0.0/16");
	if (mk_services_parse_cidr(srv->cluster_cidr, &srv->cluster_base, &srv->cluster_size) < 0 ||
	    srv->cluster_size < 256) {
		mk_error_set(err, EINVAL, "invalid cluster CIDR '%s' (want an IPv4 a.b.c.d/8..23)",
			     srv->cluster_cidr);
		mk_apiserver_free(srv);
		return -1;
	}
	srv->port = opts->port;
	if (opts->cluster_dns) {
		srv->cluster_dns = mk_strdup(opts->cluster_dns);
	} else {
		struct in_addr a = { .s_addr = htonl(srv->svc_base + 10) };
		char b[16];
		inet_ntop(AF_INET, &a, b, sizeof(b));
		srv->cluster_dns = mk_strdup(b);
	}
	srv->namespace_controller = opts->namespace_controller;
	srv->advertise_address = mk_strdup(
		opts->advertise_address ? opts->advertise_address
		: (!opts->bind_address || !strcmp(opts->bind_address, "0.0.0.0")) ? "127.0.0.1"
										 : opts->bind_address);
	srv->admin_token = mk_strdup(opts->admin_token);
	srv->node_token = mk_strdup(opts->node_token);
	if (opts->ca_file && mk_fs_read_file(opts->ca_file, &srv->ca_pem, NULL, err) < 0) {
		mk_apiserver_free(srv);
		return -1;
	}
	srv->kubelet_client_cert = mk_strdup(opts->kubelet_client_cert_file);
	srv->kubelet_client_key = mk_strdup(opts->kubelet_client_key_file);
	srv->max_body = opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BODY;
	if (opts->sa_key_file && mk_satoken_key_load(opts->sa_key_file, &srv->sa_key, err) < 0) {
		mk_apiserver_free(srv);
		return -1;
	}
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->cred_lock, NULL);
	if (opts->token_auth_file && mk_rbac_token_file_load(srv, opts->token_auth_file, err) < 0) {
		mk_apiserver_free(srv);
		return -1;
	}
	if (mk_apiserver_bootstrap(srv, err) < 0 || mk_services_repair(srv, err) < 0 ||
	    mk_rbac_start(srv, err) < 0) {
		mk_apiserver_free(srv);
		return -1;
	}
	if (mk_metrics_start(srv, opts->metrics_resolution_ms, &srv->metrics, err) < 0) {
		mk_apiserver_free(srv);
		return -1;
	}
	if (opts->tls_cert_file) {
		if (mk_fs_read_file(opts->tls_cert_file, &srv->tls_cert, NULL, err) < 0 ||
		    mk_fs_read_file(opts->tls_key_file, &srv->tls_key, NULL, err) < 0) {
			mk_apiserver_free(srv);
			return -1;
		}
		flags |= MHD_USE_TLS;
	}
	/* admission (connguard.h): anonymous connections (idle sockets, slow TLS
	 * handshakes, slow headers) get their own budget, the quietest of the oldest
	 * dropped first, and 10 s to send an authenticated request; authenticated ones get the rest and
	 * a 90 s keep-alive idle timeout (streams and upgrades excepted) */
	struct mk_connguard_options go = { .max_trusted = opts->max_connections };
	if (mk_connguard_new(&go, &srv->guard, err) < 0) {
		mk_apiserver_free(srv);
		return -1;
	}
	mk_connguard_get_options(srv->guard, &go);
	mk_connguard_raise_nofile(srv->guard);
	srv->max_trusted = go.max_trusted;
	srv->daemon = MHD_start_daemon(
		flags, opts->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &sin,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
		mk_connguard_mhd_notify, srv->guard, MHD_OPTION_CONNECTION_LIMIT,
		mk_connguard_mhd_connection_limit(srv->guard), MHD_OPTION_CONNECTION_TIMEOUT,
		go.idle_timeout_ms / 1000u,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, MHD_POOL_BYTES, /* see MAX_URI_BYTES */
		/* no MHD_OPTION_LISTENING_ADDRESS_REUSE (SO_REUSEPORT): a second server on the
		 * port must fail; MHD sets SO_REUSEADDR by default, enough for TIME_WAIT */
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
		srv->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->tls_cert,
		MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key, MHD_OPTION_END);
	if (!srv->daemon) {
		int e = errno;
		mk_apiserver_free(srv);
		return mk_error_errno(err, e ? e : EADDRINUSE, "listen on %s:%u",
				      opts->bind_address ? opts->bind_address : "0.0.0.0",
				      (unsigned)opts->port);
	}
	*ret = srv;
	return 0;
}

void mk_apiserver_free(struct mk_apiserver *srv)
{
	if (!srv)
		return;
	if (srv->daemon) {
		/* stop accepting, end watch streams, then wait for connection threads */
		MHD_quiesce_daemon(srv->daemon);
		mk_watch_cancel_all(srv);
		mk_proxy_cancel_all(srv);
		mk_portforward_cancel_all(srv);
		MHD_stop_daemon(srv->daemon);
	}
	/* after the connection threads, which read its figures; before the store goes */
	mk_metrics_free(srv->metrics);
	mk_connguard_free(srv->guard); /* after the daemon: it reports closes to the guard */
	mk_rbac_free(srv);
	pthread_mutex_destroy(&srv->lock);
	pthread_mutex_destroy(&srv->cred_lock);
	free(srv->admin_token);
	free(srv->node_token);
	mk_satoken_key_free(srv->sa_key);
	free(srv->ca_pem);
	free(srv->kubelet_client_cert);
	free(srv->kubelet_client_key);
	free(srv->service_cidr);
	free(srv->cluster_cidr);
	free(srv->cluster_dns);
	free(srv->advertise_address);
	free(srv->tls_cert);
	free(srv->tls_key);
	free(srv);
}
