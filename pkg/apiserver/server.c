/* The HTTP layer: libmicrohttpd in thread-per-connection mode (kubectl opens several
 * keep-alive connections at once and watch streams block their connection's thread),
 * bearer-token authentication, request bodies with a size limit, routing of the
 * Kubernetes paths, and Status replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

#define DEFAULT_MAX_BODY (3u * 1024 * 1024) /* kube-apiserver's request limit */

/* ---- replies ---------------------------------------------------------------- */

void mk_reply_json_text(struct mk_reply *rep, unsigned code, char *owned_text)
{
	free(rep->body);
	rep->code = code;
	rep->body = owned_text;
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

/* Who is calling: the admin token, the node join token, or nobody. */
enum caller { CALLER_NONE, CALLER_ADMIN, CALLER_NODE };

static enum caller authenticate(struct mk_request *req)
{
	const char *h = mk_request_header(req, "Authorization");

	if (!h || strncasecmp(h, "Bearer ", 7))
		return CALLER_NONE;
	h += 7;
	while (*h == ' ')
		h++;
	if (secret_equal(h, req->srv->admin_token))
		return CALLER_ADMIN;
	if (req->srv->node_token && secret_equal(h, req->srv->node_token))
		return CALLER_NODE;
	return CALLER_NONE;
}

/* What the node join token may do (the node authorizer's idea, simplified): read
 * everything, write its Node, pod status and pod deletion (the agent finishes
 * graceful deletes), and events. Anything else is the admin's. */
static bool node_may(struct mk_request *req)
{
	const char *m = req->method;
	const char *r = req->res ? req->res->name : "";

	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return true;
	if (!req->res)
		return false;
	if (!strcmp(r, "nodes") || !strcmp(r, "events"))
		return true;
	if (!strcmp(r, "pods"))
		return (req->sub && !strcmp(req->sub, "status") && strcmp(m, "POST")) ||
		       (!strcmp(m, "DELETE") && req->name);
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
	enum caller who = authenticate(req);
	if (who == CALLER_NONE) {
		mk_reply_status(rep, 401, NULL, NULL, "Unauthorized");
		return;
	}
	if (req->too_large) {
		mk_reply_status(rep, 413, NULL, NULL,
				"the request body is larger than the limit of %zu bytes",
				req->srv->max_body);
		return;
	}
	if (mk_discovery_handle(req, req->url, rep))
		return;
	n = split_path(path, seg, 8);
	if (n < 0 || route_resource(req, seg, n) != 0) {
		mk_reply_status(rep, 404, NULL, NULL, "the server could not find the requested resource");
		return;
	}
	if (who == CALLER_NODE && !node_may(req)) {
		mk_reply_status(rep, 403, req->res ? req->res->name : NULL, req->name,
				"%s is forbidden: the node token may not %s %s%s%s",
				req->res ? req->res->name : req->url, req->method,
				req->res ? req->res->name : req->url, req->sub ? "/" : "",
				req->sub ? req->sub : "");
		return;
	}
	mk_resource_handle(req, rep);
}

/* ---- libmicrohttpd glue ----------------------------------------------------- */

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct mk_reply *rep)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (rep->stream) {
		resp = rep->stream;
	} else {
		char *b = rep->body ? rep->body : mk_strdup("");
		resp = MHD_create_response_from_buffer(strlen(b), b, MHD_RESPMEM_MUST_FREE);
		rep->body = NULL;
		if (!resp) {
			free(b);
			return MHD_NO;
		}
	}
	if (rep->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
	MHD_add_response_header(resp, "Cache-Control", "no-cache, private");
	ret = MHD_queue_response(conn, rep->code, resp);
	MHD_destroy_response(resp);
	return ret;
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
		mk_buf_init(&req->body);
		*con_cls = req;
		/* refuse an announced oversized body before reading it */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > srv->max_body) {
			req->too_large = true;
			mk_reply_status(&rep, 413, NULL, NULL,
					"the request body is larger than the limit of %zu bytes",
					srv->max_body);
			req->started = true;
			return send_reply(conn, &rep);
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
	enum MHD_Result r = send_reply(conn, &rep);
	free(rep.body);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct mk_request *req = *con_cls;
	if (!req)
		return;
	mk_buf_release(&req->body);
	free(req->ns);
	free(req->name);
	free(req->sub);
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
	pthread_mutex_init(&srv->lock, NULL);
	if (mk_apiserver_bootstrap(srv, err) < 0 || mk_services_repair(srv, err) < 0) {
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
	srv->daemon = MHD_start_daemon(
		flags, opts->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &sin,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_LIMIT,
		opts->max_connections ? opts->max_connections : 1024u,
		MHD_OPTION_CONNECTION_TIMEOUT, 300u,
		/* a restart must get its port back at once, whatever TIME_WAIT holds */
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
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
		MHD_stop_daemon(srv->daemon);
	}
	pthread_mutex_destroy(&srv->lock);
	free(srv->admin_token);
	free(srv->node_token);
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
