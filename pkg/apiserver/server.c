/* The daemon: libmicrohttpd in thread-per-connection mode (kubectl opens several
 * keep-alive connections at once and watch streams block their connection's
 * thread), TLS, connection admission (pkg/util/connguard.c: anonymous sockets
 * cannot crowd out authenticated clients), request bodies with a size limit, the
 * request log, and the server's lifecycle. A finished request goes to
 * mk_request_dispatch (router.c); replies are built with http.c's helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "internal.h"
#include "metrics.h"

#define DEFAULT_MAX_BODY (3u * 1024 * 1024) /* kube-apiserver's request limit */
/* Limits of the request line and headers. libmicrohttpd answers requests that do
 * not fit its per-connection memory pool itself, with an HTML page (414 or 431):
 * the pool (MHD_POOL_BYTES) is made larger than these limits so that requests
 * between the limit and the pool reach on_request, which answers with a Status.
 * Only a request beyond the pool still gets libmicrohttpd's page. Every connection
 * holds a pool (and libmicrohttpd touches all of it over a keep-alive connection's
 * life), so it stays small: with 1,000 hollow nodes' watch and status connections a
 * 256 KiB pool cost ~200 MB of the server's RSS. */
#define MAX_URI_BYTES (32u * 1024)
#define MAX_HEADER_BYTES (32u * 1024)
#define MHD_POOL_BYTES ((size_t)(MAX_URI_BYTES + MAX_HEADER_BYTES + 32u * 1024))

/* ---- libmicrohttpd glue ----------------------------------------------------- */

/* Connection admission (connguard.h): an authenticated request makes its
 * connection trusted; an anonymous one (/healthz, /cacerts, a 401) is answered
 * and its connection closed, so it holds no slot past its reply. false: the
 * trusted budget is full, rep holds the 429. */
static bool admit(struct mk_request *req, struct mk_reply *rep)
{
	struct mk_apiserver *srv = req->srv;

	mk_connguard_mhd_request_begin(srv->guard, req->conn);
	if (mk_request_authenticate(req) == MK_CALLER_NONE) {
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
	mk_request_dispatch(req, &rep);
	enum MHD_Result r = send_reply(req, conn, &rep);
	free(rep.body);
	free(rep.warning);
	return r;
}

/* Frees what a request owns (its body, route and identity), not req itself: the
 * HTTP path (below) and the in-process one (local.c) share it. */
void mk_request_release_fields(struct mk_request *req)
{
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
	mk_request_release_fields(req);
	free(req);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	mk_logv(MK_LOG_DEBUG, "apiserver", fmt, ap);
}

/* The server's settings from opts (defaults filled in) and the files they name. */
static int server_configure(struct mk_apiserver *srv, const struct mk_apiserver_options *opts,
			    struct mk_error **err)
{
	srv->service_cidr = mk_strdup(opts->service_cidr ? opts->service_cidr : "10.96.0.0/12");
	if (mk_services_parse_cidr(srv->service_cidr, &srv->svc_base, &srv->svc_size) < 0)
		return mk_error_set(err, EINVAL, "invalid service CIDR '%s' (want an IPv4 a.b.c.d/8..30)",
				    srv->service_cidr);
	srv->cluster_cidr = mk_strdup(opts->cluster_cidr ? opts->cluster_cidr : "10.244.0.0/16");
	if (mk_services_parse_cidr(srv->cluster_cidr, &srv->cluster_base, &srv->cluster_size) < 0 ||
	    srv->cluster_size < 256)
		return mk_error_set(err, EINVAL, "invalid cluster CIDR '%s' (want an IPv4 a.b.c.d/8..23)",
				    srv->cluster_cidr);
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
	if (opts->ca_file && mk_fs_read_file(opts->ca_file, &srv->ca_pem, NULL, err) < 0)
		return -1;
	srv->kubelet_client_cert = mk_strdup(opts->kubelet_client_cert_file);
	srv->kubelet_client_key = mk_strdup(opts->kubelet_client_key_file);
	srv->max_body = opts->max_body_bytes ? opts->max_body_bytes : DEFAULT_MAX_BODY;
	if (opts->sa_key_file && mk_satoken_key_load(opts->sa_key_file, &srv->sa_key, err) < 0)
		return -1;
	return 0;
}

/* Tokens, the bootstrap objects, the service allocator's repair, RBAC, metrics. */
static int server_load_state(struct mk_apiserver *srv, const struct mk_apiserver_options *opts,
			     struct mk_error **err)
{
	if (opts->token_auth_file && mk_rbac_token_file_load(srv, opts->token_auth_file, err) < 0)
		return -1;
	if (mk_apiserver_bootstrap(srv, err) < 0 || mk_services_repair(srv, err) < 0 ||
	    mk_rbac_start(srv, err) < 0)
		return -1;
	return mk_metrics_start(srv, opts->metrics_resolution_ms, &srv->metrics, err);
}

/* Connection admission, TLS and the libmicrohttpd daemon listening on sin. */
static int server_listen(struct mk_apiserver *srv, const struct mk_apiserver_options *opts,
			 const struct sockaddr_in *sin, struct mk_error **err)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_UPGRADE;
	if (opts->tls_cert_file) {
		if (mk_fs_read_file(opts->tls_cert_file, &srv->tls_cert, NULL, err) < 0 ||
		    mk_fs_read_file(opts->tls_key_file, &srv->tls_key, NULL, err) < 0)
			return -1;
		flags |= MHD_USE_TLS;
	}
	/* admission (connguard.h): anonymous connections (idle sockets, slow TLS
	 * handshakes, slow headers) get their own budget, the quietest of the oldest
	 * dropped first, and 10 s to send an authenticated request; authenticated ones get the rest and
	 * a 90 s keep-alive idle timeout (streams and upgrades excepted) */
	struct mk_connguard_options go = { .max_trusted = opts->max_connections };
	if (mk_connguard_new(&go, &srv->guard, err) < 0)
		return -1;
	mk_connguard_get_options(srv->guard, &go);
	mk_connguard_raise_nofile(srv->guard);
	srv->max_trusted = go.max_trusted;
	srv->daemon = MHD_start_daemon(
		flags, opts->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, sin,
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
		return mk_error_errno(err, e ? e : EADDRINUSE, "listen on %s:%u",
				      opts->bind_address ? opts->bind_address : "0.0.0.0",
				      (unsigned)opts->port);
	}
	return 0;
}

int mk_apiserver_start(const struct mk_apiserver_options *opts, struct mk_store *store,
		       struct mk_apiserver **ret, struct mk_error **err)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(opts->port) };
	struct mk_apiserver *srv;

	if (inet_pton(AF_INET, opts->bind_address ? opts->bind_address : "0.0.0.0",
		      &sin.sin_addr) != 1)
		return mk_error_set(err, EINVAL, "invalid bind address '%s'", opts->bind_address);
	if (!opts->admin_token || !*opts->admin_token)
		return mk_error_set(err, EINVAL, "an admin token is required");
	srv = mk_malloc0(sizeof(*srv));
	srv->store = store;
	if (server_configure(srv, opts, err) < 0)
		goto fail;
	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->cred_lock, NULL);
	if (server_load_state(srv, opts, err) < 0 ||
	    mk_listcache_new(store, &srv->listcache, err) < 0 ||
	    server_listen(srv, opts, &sin, err) < 0)
		goto fail;
	*ret = srv;
	return 0;
fail:
	mk_apiserver_free(srv);
	return -1;
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
	mk_listcache_free(srv->listcache); /* after the connection threads too */
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
