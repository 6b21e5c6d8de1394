/* The agent's streaming server: libmicrohttpd over TLS in thread-per-connection
 * mode (log streams block their connection's thread; exec, attach and
 * port-forward sessions run in a thread of their own after the upgrade, through
 * one struct stream_upgraded each). Only the API server may use
 * it: the client certificate must chain to the cluster CA and carry the API
 * server's common name. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "stream_internal.h"

#define DEFAULT_MAX_SESSIONS 64

void stream_reply_status(struct stream_reply *rep, unsigned code, const char *fmt, ...)
{
	static const struct {
		unsigned code;
		const char *reason;
	} reasons[] = { { 400, "BadRequest" }, { 401, "Unauthorized" }, { 403, "Forbidden" },
			{ 404, "NotFound" },   { 405, "MethodNotAllowed" }, { 429, "TooManyRequests" },
			{ 500, "InternalError" }, { 503, "ServiceUnavailable" } };
	const char *reason = "InternalError";
	char *msg = NULL;
	va_list ap;

	for (size_t i = 0; i < MK_ARRAY_SIZE(reasons); i++)
		if (reasons[i].code == code)
			reason = reasons[i].reason;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	_cleanup_cjson_ cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddItemToObject(st, "metadata", cJSON_CreateObject());
	cJSON_AddStringToObject(st, "status", "Failure");
	cJSON_AddStringToObject(st, "message", msg);
	cJSON_AddStringToObject(st, "reason", reason);
	cJSON_AddNumberToObject(st, "code", code);
	free(msg);
	char *body = cJSON_PrintUnformatted(st);
	if (rep->resp)
		MHD_destroy_response(rep->resp);
	rep->code = code;
	rep->resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	cJSON_free(body);
	if (rep->resp)
		MHD_add_response_header(rep->resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
}

bool stream_session_get(struct mk_agent_stream *s, struct stream_reply *rep)
{
	bool ok;

	pthread_mutex_lock(&s->lock);
	ok = !s->stopping && s->sessions < s->max_sessions;
	if (ok)
		s->sessions++;
	pthread_mutex_unlock(&s->lock);
	if (!ok)
		stream_reply_status(rep, 429, "too many streaming sessions (limit %u)", s->max_sessions);
	return ok;
}

void stream_session_put(struct mk_agent_stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->sessions--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

bool stream_arg_bool(struct MHD_Connection *conn, const char *key)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
	return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "True"));
}

/* ---- upgraded connections: exec, attach, port-forward sessions ------------------- */

void stream_upgraded_init(struct stream_upgraded *u, struct mk_agent_stream *s,
			  void (*run)(struct stream_upgraded *), void (*free)(struct stream_upgraded *))
{
	u->srv = s;
	u->run = run;
	u->free = free;
	u->sock = -1;
	u->wake[0] = u->wake[1] = -1;
	mk_buf_init(&u->in);
}

void stream_upgraded_release(struct stream_upgraded *u)
{
	mk_buf_release(&u->in);
	if (u->wake[0] >= 0)
		close(u->wake[0]);
	if (u->wake[1] >= 0)
		close(u->wake[1]);
}

void stream_upgraded_cancel_all_locked(struct mk_agent_stream *s)
{
	for (struct stream_upgraded *u = s->upgraded; u; u = u->next)
		if (write(u->wake[1], "x", 1) < 0) {
			/* the pipe is full: it is being woken already */
		}
}

static void upgraded_unlink(struct mk_agent_stream *s, struct stream_upgraded *u)
{
	pthread_mutex_lock(&s->lock);
	for (struct stream_upgraded **pp = &s->upgraded; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

static void *upgraded_thread(void *arg)
{
	struct stream_upgraded *u = arg;
	struct mk_agent_stream *s = u->srv;

	u->run(u);
	MHD_upgrade_action(u->urh, MHD_UPGRADE_ACTION_CLOSE);
	upgraded_unlink(s, u);
	u->free(u);
	stream_session_put(s);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
		       const char *extra_in, size_t extra_in_size, MHD_socket sock,
		       struct MHD_UpgradeResponseHandle *urh)
{
	struct stream_request *req = con_cls;
	struct mk_agent_stream *s = cls;
	struct stream_upgraded *u = req ? TAKE_PTR(req->upgraded) : NULL;
	struct stream_reply dummy = { 0 };
	pthread_attr_t attr;
	pthread_t t;

	if (!u || !stream_session_get(s, &dummy)) {
		if (dummy.resp)
			MHD_destroy_response(dummy.resp);
		if (u)
			u->free(u);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	u->urh = urh;
	u->sock = sock;
	if (extra_in_size)
		mk_buf_append(&u->in, extra_in, extra_in_size);
	/* this runs in the connection's thread, which forwards the TLS bytes only
	 * after we return: the session needs a thread of its own */
	pthread_mutex_lock(&s->lock);
	u->next = s->upgraded;
	s->upgraded = u;
	pthread_mutex_unlock(&s->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, upgraded_thread, u) != 0) {
		upgraded_unlink(s, u);
		u->free(u);
		stream_session_put(s);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	}
	pthread_attr_destroy(&attr);
}

int stream_upgraded_reply(struct stream_request *req, struct stream_upgraded *u,
			  struct stream_reply *rep)
{
	if (pipe2(u->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		stream_reply_status(rep, 500, "pipe: %s", strerror(errno));
		return -1;
	}
	rep->resp = MHD_create_response_for_upgrade(on_upgrade, req->srv);
	if (!rep->resp)
		return -1;
	rep->code = MHD_HTTP_SWITCHING_PROTOCOLS;
	req->upgraded = u;
	return 0;
}

/* 0 when the peer's certificate chains to our CA and names the API server; else
 * the HTTP code to refuse with (401: no or untrusted certificate, 403: another
 * identity) and a message. */
static unsigned check_client(struct mk_agent_stream *s, struct MHD_Connection *conn,
			     char *msg, size_t msg_size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t session;
	const gnutls_datum_t *peers;
	unsigned n = 0, status = 0;
	gnutls_x509_crt_t crt = NULL;
	char cn[256];
	size_t cn_len = sizeof(cn);

	if (!ci || !ci->tls_session) {
		snprintf(msg, msg_size, "a TLS client certificate is required");
		return 401;
	}
	session = (gnutls_session_t)ci->tls_session;
	peers = gnutls_certificate_get_peers(session, &n);
	if (!peers || n == 0) {
		snprintf(msg, msg_size, "a TLS client certificate is required");
		return 401;
	}
	if (gnutls_certificate_verify_peers2(session, &status) < 0 || status != 0) {
		snprintf(msg, msg_size, "the client certificate is not signed by the cluster CA");
		return 401;
	}
	if (gnutls_x509_crt_init(&crt) < 0)
		return 500;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_len) < 0) {
		gnutls_x509_crt_deinit(crt);
		snprintf(msg, msg_size, "the client certificate has no common name");
		return 403;
	}
	/* a cluster-CA certificate made for something else (a serving certificate, the
	 * CA itself) does not authenticate a client, whatever its name */
	if (!stream_tls_is_client_cert(crt)) {
		gnutls_x509_crt_deinit(crt);
		snprintf(msg, msg_size, "the client certificate is not valid for client "
					"authentication (no clientAuth extended key usage)");
		return 401;
	}
	gnutls_x509_crt_deinit(crt);
	if (strcmp(cn, s->client_cn) != 0) {
		snprintf(msg, msg_size, "user \"%.64s\" cannot use the node's streaming API", cn);
		return 403;
	}
	return 0;
}

/* "/containerLogs/NS/POD/CONTAINER", "/exec/NS/POD/CONTAINER" or
 * "/attach/NS/POD/CONTAINER": 1 = logs, 2 = exec, 3 = attach, 0 = anything else. */
static int route(struct stream_request *req, const char *url)
{
	_cleanup_free_ char *p = mk_strdup(url);
	char *seg[5], *save = NULL;
	int n = 0;

	for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 5)
			return 0;
		seg[n++] = t;
	}
	if (n != 4)
		return 0;
	int kind = !strcmp(seg[0], "containerLogs") ? 1
		   : !strcmp(seg[0], "exec")	    ? 2
		   : !strcmp(seg[0], "attach")	    ? 3
						    : 0;
	if (!kind)
		return 0;
	for (int i = 1; i < 4; i++)
		if (!*seg[i] || strlen(seg[i]) > 253)
			return 0;
	req->ns = mk_strdup(seg[1]);
	req->pod = mk_strdup(seg[2]);
	req->container = mk_strdup(seg[3]);
	return kind;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct mk_agent_stream *s = cls;
	struct stream_request *req = *con_cls;
	struct stream_reply rep = { 0 };
	char msg[256];
	unsigned code;

	if (!req) {
		req = mk_malloc0(sizeof(*req));
		req->srv = s;
		req->conn = conn;
		*con_cls = req;
		/* admission (connguard.h): the API server's certificate makes the
		 * connection trusted; anyone else is answered and disconnected */
		mk_connguard_mhd_request_begin(s->guard, conn);
		if (check_client(s, conn, msg, sizeof(msg)) != 0) {
			req->close_after = true;
		} else if (!mk_connguard_conn_trust(s->guard, mk_connguard_mhd_conn(conn))) {
			req->close_after = true;
			stream_reply_status(&rep, 429, "too many connections (limit %u)",
					    s->max_trusted);
			goto queue;
		}
		return MHD_YES;
	}
	if (*upload_data_size) { /* no request here has a body */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if ((code = check_client(s, conn, msg, sizeof(msg))) != 0) {
		stream_reply_status(&rep, code, "%s", msg);
	} else if (!strcmp(url, "/metrics/resource")) {
		if (strcmp(method, "GET") && strcmp(method, "HEAD"))
			stream_reply_status(&rep, 405, "method %s not allowed", method);
		else
			stream_metrics_handle(req, &rep);
	} else if (!strcmp(url, "/trace/service")) {
		if (strcmp(method, "GET"))
			stream_reply_status(&rep, 405, "method %s not allowed", method);
		else
			stream_trace_handle(req, &rep);
	} else if (stream_portforward_match(req, url)) {
		if (strcmp(method, "GET") && strcmp(method, "POST"))
			stream_reply_status(&rep, 405, "method %s not allowed", method);
		else
			stream_portforward_handle(req, &rep);
	} else {
		int kind = route(req, url);
		if (!kind)
			stream_reply_status(&rep, 404, "the server could not find the requested resource");
		else if (strcmp(method, "GET") && strcmp(method, "POST"))
			stream_reply_status(&rep, 405, "method %s not allowed", method);
		else if (kind == 1) {
			stream_logs_handle(req, &rep);
			req->streaming = rep.code == 200; /* log follow may be quiet for long */
		} else {
			req->attach = kind == 3;
			stream_exec_handle(req, &rep);
		}
	}
queue:
	if (!rep.resp)
		return MHD_NO;
	if (req->close_after)
		MHD_add_response_header(rep.resp, MHD_HTTP_HEADER_CONNECTION, "close");
	mk_connguard_mhd_reply(s->guard, conn, rep.code,
			       rep.code == MHD_HTTP_SWITCHING_PROTOCOLS || req->streaming);
	enum MHD_Result r = MHD_queue_response(conn, rep.code, rep.resp);
	MHD_destroy_response(rep.resp);
	return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct stream_request *req = *con_cls;

	if (!req)
		return;
	mk_connguard_request_end(req->srv->guard, mk_connguard_mhd_conn(conn));
	free(req->ns);
	free(req->pod);
	free(req->container);
	if (req->upgraded)
		req->upgraded->free(req->upgraded);
	free(req);
	*con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	mk_logv(MK_LOG_DEBUG, "agent-stream", fmt, ap);
}

/* Loads the serving pair, or makes a self-signed one (written to the paths when
 * they are given but do not exist yet). */
static int load_serving(struct mk_agent_stream *s, const struct mk_agent_stream_options *o,
			const char *host, struct mk_error **err)
{
	if (o->tls_cert_file && o->tls_key_file && access(o->tls_cert_file, F_OK) == 0) {
		if (mk_fs_read_file(o->tls_cert_file, &s->cert_pem, NULL, err) < 0 ||
		    mk_fs_read_file(o->tls_key_file, &s->key_pem, NULL, err) < 0)
			return -1;
		return 0;
	}
	if (stream_tls_self_signed(host, &s->cert_pem, &s->key_pem, err) < 0)
		return -1;
	if (o->tls_cert_file && o->tls_key_file) {
		if (mk_fs_write_file(o->tls_key_file, s->key_pem, strlen(s->key_pem), 0600, err) < 0 ||
		    mk_fs_write_file(o->tls_cert_file, s->cert_pem, strlen(s->cert_pem), 0644,
				     err) < 0)
			return -1;
	}
	return 0;
}

int mk_agent_stream_start(const struct mk_agent_stream_options *opts,
			  struct mk_agent_stream **ret, struct mk_error **err)
{
	const char *bind = opts->bind_address ? opts->bind_address : "0.0.0.0";
	uint16_t port = opts->port ? opts->port : MK_AGENT_STREAM_DEFAULT_PORT;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_USE_TLS |
			 MHD_ALLOW_UPGRADE;
	struct mk_agent_stream *s;

	if (inet_pton(AF_INET, bind, &sin.sin_addr) != 1)
		return mk_error_set(err, EINVAL, "invalid bind address '%s'", bind);
	if (!opts->runtime || !opts->resolve)
		return mk_error_set(err, EINVAL, "agent stream server: runtime and resolver required");
	if (!opts->client_ca_file)
		return mk_error_set(err, EINVAL, "agent stream server: a client CA is required");
	s = mk_malloc0(sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->rt = opts->runtime;
	s->resolve = opts->resolve;
	s->resolve_userdata = opts->resolve_userdata;
	s->resolve_netns = opts->resolve_netns;
	s->list_containers = opts->list_containers;
	s->dns_address = opts->dns_address ? mk_strdup(opts->dns_address) : NULL;
	s->client_cn = mk_strdup(opts->client_cn ? opts->client_cn : MK_AGENT_STREAM_CLIENT_CN);
	s->max_sessions = opts->max_sessions ? opts->max_sessions : DEFAULT_MAX_SESSIONS;
	if (mk_fs_read_file(opts->client_ca_file, &s->ca_pem, NULL, err) < 0 ||
	    load_serving(s, opts, strcmp(bind, "0.0.0.0") ? bind : NULL, err) < 0) {
		mk_agent_stream_stop(s);
		return -1;
	}
	/* only the API server is a legitimate client: a small trusted budget, and
	 * everyone else (idle sockets, slow TLS handshakes) in the pending budget,
	 * the quietest of the oldest dropped first, 10 s to present the
	 * certificate and a request */
	struct mk_connguard_options go = { .max_trusted = 256, .max_pending = 128 };
	if (mk_connguard_new(&go, &s->guard, err) < 0) {
		mk_agent_stream_stop(s);
		return -1;
	}
	mk_connguard_get_options(s->guard, &go);
	mk_connguard_raise_nofile(s->guard);
	s->max_trusted = go.max_trusted;
	s->daemon = MHD_start_daemon(
		flags, port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sin,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
		mk_connguard_mhd_notify, s->guard, MHD_OPTION_CONNECTION_LIMIT,
		mk_connguard_mhd_connection_limit(s->guard), MHD_OPTION_CONNECTION_TIMEOUT,
		go.idle_timeout_ms / 1000u, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
		MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
		MHD_OPTION_HTTPS_MEM_TRUST, s->ca_pem, MHD_OPTION_END);
	if (!s->daemon) {
		int e = errno;
		mk_agent_stream_stop(s);
		return mk_error_errno(err, e ? e : EADDRINUSE, "agent stream server: listen on %s:%u",
				      bind, (unsigned)port);
	}
	*ret = s;
	return 0;
}

void mk_agent_stream_stop(struct mk_agent_stream *s)
{
	if (!s)
		return;
	if (s->daemon) {
		MHD_quiesce_daemon(s->daemon);
		/* end exec sessions and log streams; upgraded connections must be closed
		 * by us before MHD_stop_daemon */
		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		stream_upgraded_cancel_all_locked(s);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 15;
		while (s->sessions > 0)
			if (pthread_cond_timedwait(&s->cond, &s->lock, &until) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&s->lock);
		MHD_stop_daemon(s->daemon);
	}
	mk_connguard_free(s->guard); /* after the daemon: it reports closes to the guard */
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->client_cn);
	free(s->dns_address);
	free(s->cert_pem);
	if (s->key_pem) {
		explicit_bzero(s->key_pem, strlen(s->key_pem));
		free(s->key_pem);
	}
	free(s->ca_pem);
	free(s);
}
