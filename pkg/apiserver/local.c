/* The in-process transport (mk_apiserver_local_attach): the server's own clients
 * (the controllers, the scheduler, leader election) send their requests straight
 * into the router, without a socket, TLS or HTTP parsing. A request is built as
 * libmicrohttpd would hand it over (path and query percent-decoded, headers with
 * the client's bearer token, User-Agent, Accept and Content-Type) and goes through
 * the same mk_request_dispatch: authentication, impersonation, authorization
 * (RBAC, the Node authorizer), admission and the handlers, nothing bypassed. A
 * watch reads the stream's lines as the watch code makes them (watch.c) instead
 * of through a chunked response. Paths that need a connection (pods/exec, attach,
 * portforward, log, the proxy paths) are refused: the server's clients use none. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "minik8s/client.h"

struct kv {
	char *key, *value; /* value NULL: "?key" without "=" */
};

struct mk_local_req {
	struct kv *args;
	size_t nargs, cap;
	struct kv hdrs[5];
	size_t nhdrs;
};

bool mk_local_arg(const struct mk_local_req *l, const char *key, const char **ret_value)
{
	for (size_t i = 0; l && i < l->nargs; i++)
		if (!strcmp(l->args[i].key, key)) {
			*ret_value = l->args[i].value;
			return true;
		}
	return false;
}

const char *mk_local_header(const struct mk_local_req *l, const char *key)
{
	for (size_t i = 0; l && i < l->nhdrs; i++)
		if (!strcasecmp(l->hdrs[i].key, key))
			return l->hdrs[i].value;
	return NULL;
}

void mk_local_args_each(const struct mk_local_req *l,
			void (*fn)(void *cls, const char *key, const char *value), void *cls)
{
	for (size_t i = 0; l && i < l->nargs; i++)
		fn(cls, l->args[i].key, l->args[i].value);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %XX decoded in place (and '+' as a space when plus), as libmicrohttpd does */
static void unescape(char *s, bool plus)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		int h, l;
		if (*p == '%' && (h = hexval(p[1])) >= 0 && (l = hexval(p[2])) >= 0) {
			*o++ = (char)(h * 16 + l);
			p += 2;
		} else {
			*o++ = plus && *p == '+' ? ' ' : *p;
		}
	}
	*o = '\0';
}

static void parse_query(struct mk_local_req *l, const char *q)
{
	_cleanup_free_ char *copy = mk_strdup(q);
	char *save = NULL;
	for (char *tok = strtok_r(copy, "&", &save); tok; tok = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		if (l->nargs == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 8;
			struct kv *n = mk_malloc0(l->cap * sizeof(*n));
			if (l->nargs)
				memcpy(n, l->args, l->nargs * sizeof(*n));
			free(l->args);
			l->args = n;
		}
		struct kv *a = &l->args[l->nargs++];
		a->key = mk_strdup(tok);
		unescape(a->key, true);
		a->value = eq ? mk_strdup(eq + 1) : NULL;
		if (a->value)
			unescape(a->value, true);
	}
}

static void add_header(struct mk_local_req *l, const char *key, char *owned_value)
{
	if (!owned_value || l->nhdrs == sizeof(l->hdrs) / sizeof(l->hdrs[0])) {
		free(owned_value);
		return;
	}
	l->hdrs[l->nhdrs].key = mk_strdup(key);
	l->hdrs[l->nhdrs++].value = owned_value;
}

static void local_req_release(struct mk_local_req *l)
{
	for (size_t i = 0; i < l->nargs; i++) {
		free(l->args[i].key);
		free(l->args[i].value);
	}
	free(l->args);
	for (size_t i = 0; i < l->nhdrs; i++) {
		free(l->hdrs[i].key);
		free(l->hdrs[i].value);
	}
}

/* The subresources and paths that need a connection of their own. */
static bool needs_connection(const char *url)
{
	static const char *const subs[] = { "/exec", "/attach", "/portforward", "/log" };
	if (mk_proxy_http_match(url))
		return true;
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (mk_str_has_suffix(url, subs[i]) && strstr(url, "/pods/"))
			return true;
	return false;
}

/* One in-process request: req filled as on_request would fill it (server.c). */
struct local_call {
	struct mk_request req;
	struct mk_local_req l;
	char *url;
};

static int call_init(struct local_call *lc, struct mk_apiserver *srv,
		     const struct mk_client_config *cfg, const char *method, const char *path,
		     const char *accept, const char *content_type, const char *body, size_t body_len,
		     struct mk_error **err)
{
	const char *q = strchr(path, '?');

	memset(lc, 0, sizeof(*lc));
	lc->url = mk_strdup(path);
	if (q)
		lc->url[q - path] = '\0';
	unescape(lc->url, false);
	if (q)
		parse_query(&lc->l, q + 1);
	if (cfg->token && *cfg->token)
		add_header(&lc->l, "Authorization", mk_strdup_printf("Bearer %s", cfg->token));
	add_header(&lc->l, "User-Agent",
		   mk_strdup(cfg->user_agent ? cfg->user_agent : "minik8s/0.1.0"));
	add_header(&lc->l, "Accept", mk_strdup(accept ? accept : "application/json"));
	if (content_type)
		add_header(&lc->l, "Content-Type", mk_strdup(content_type));
	lc->req.srv = srv;
	lc->req.method = method;
	lc->req.url = lc->url;
	lc->req.local = &lc->l;
	lc->req.start_us = (int64_t)(mk_time_mono_ns() / 1000);
	mk_buf_init(&lc->req.body);
	if (body) {
		if (body_len > srv->max_body)
			lc->req.too_large = true;
		else
			mk_buf_append(&lc->req.body, body, body_len);
	}
	if (needs_connection(lc->url))
		return mk_error_set(err, EPROTONOSUPPORT,
				    "%s '%s': not served by the in-process transport", method, path);
	return 0;
}

static void call_release(struct local_call *lc)
{
	struct mk_request *req = &lc->req;

	if (mk_log_v(4) && req->code) {
		int64_t us = (int64_t)(mk_time_mono_ns() / 1000) - req->start_us;
		mk_log(MK_LOG_INFO, "apiserver",
		       "HTTP verb=%s URI=\"%s\" resp=%u latency=%lld.%03lldms user=%s srcIP=in-process",
		       req->method, req->url, req->code, (long long)(us / 1000),
		       (long long)(us % 1000), req->user ? req->user : "system:anonymous");
	}
	mk_request_release_fields(req);
	local_req_release(&lc->l);
	free(lc->url);
}

/* rep's answer into res (rep's body taken), as the HTTP client would see it */
static void reply_to_response(struct mk_reply *rep, struct mk_client_response *res)
{
	char *b = rep->body ? rep->body : mk_strdup("");
	size_t len = rep->body_len ? rep->body_len : strlen(b);

	rep->body = NULL;
	/* as send_reply: never invalid UTF-8 in JSON */
	if (rep->content_type && strstr(rep->content_type, "json") && !mk_utf8_valid(b, len)) {
		char *fixed = mk_utf8_sanitize(b, len, NULL);
		free(b);
		b = fixed;
		len = strlen(b);
	}
	memset(res, 0, sizeof(*res));
	res->code = rep->code;
	res->content_type = mk_strdup(rep->content_type);
	res->body = b;
	res->body_len = len;
	if (len > 0 && (!res->content_type || strstr(res->content_type, "json")))
		res->json = cJSON_ParseWithLength(b, len);
}

static void reply_release(struct mk_reply *rep)
{
	free(rep->body);
	free(rep->warning);
	if (rep->stream) /* no path served here makes one; never left dangling */
		MHD_destroy_response(rep->stream);
	mk_watch_local_free(rep->local_watch);
	memset(rep, 0, sizeof(*rep));
}

static int local_request(void *ud, const struct mk_client_config *cfg,
			 const struct mk_client_request *creq, struct mk_client_response *res,
			 struct mk_error **err)
{
	struct local_call lc;
	struct mk_reply rep = { .buffered = true };
	const char *method = creq->method ? creq->method : "GET";
	const char *ctype = creq->content_type;
	size_t blen = creq->body ? (creq->body_len ? creq->body_len : strlen(creq->body)) : 0;
	int ret = 0;

	if (creq->body && !ctype)
		ctype = "application/json";
	if (call_init(&lc, ud, cfg, method, creq->path, creq->accept, ctype, creq->body, blen,
		      err) < 0) {
		ret = -1;
		goto out;
	}
	lc.req.started = true;
	mk_request_dispatch(&lc.req, &rep);
	lc.req.code = rep.code;
	if (rep.stream || rep.local_watch) {
		ret = mk_error_set(err, EPROTONOSUPPORT,
				   "%s '%s': a stream is not served by the in-process transport",
				   method, creq->path);
		goto out;
	}
	reply_to_response(&rep, res);
	if (!strcmp(method, "HEAD")) { /* as curl: no body */
		free(res->body);
		res->body = mk_strdup("");
		res->body_len = 0;
		cJSON_Delete(res->json);
		res->json = NULL;
	}
out:
	reply_release(&rep);
	call_release(&lc);
	return ret;
}

static void wake(void *ud)
{
	mk_watch_local_cancel(ud);
}

static int local_watch(void *ud, const struct mk_client_config *cfg, struct mk_client_watch *w,
		       const char *path, const char *accept, struct mk_client_response *res,
		       mk_client_bytes_fn fn, void *fn_ud, struct mk_error **err)
{
	struct local_call lc;
	struct mk_reply rep = { .buffered = true };
	int ret = 0;

	if (call_init(&lc, ud, cfg, "GET", path, accept, NULL, NULL, 0, err) < 0) {
		ret = -1;
		goto out;
	}
	lc.req.started = true;
	mk_request_dispatch(&lc.req, &rep);
	lc.req.code = rep.code;
	if (!rep.local_watch) { /* an error answer (403, 410, 400), or a plain one */
		if (rep.stream) {
			ret = mk_error_set(err, EPROTONOSUPPORT,
					   "GET '%s': a stream is not served by the in-process transport",
					   path);
			goto out;
		}
		reply_to_response(&rep, res);
		goto out;
	}
	memset(res, 0, sizeof(*res));
	res->code = rep.code;
	res->content_type = mk_strdup(rep.content_type);
	mk_client_watch_set_waker(w, wake, rep.local_watch);
	const char *data;
	size_t len;
	while (mk_watch_local_next(rep.local_watch, &data, &len) > 0)
		if (fn(data, len, fn_ud) < 0)
			break;
	mk_client_watch_set_waker(w, NULL, NULL);
out:
	reply_release(&rep);
	call_release(&lc);
	return ret;
}

static const struct mk_client_transport local_transport = {
	.request = local_request,
	.watch = local_watch,
};

void mk_apiserver_local_attach(struct mk_apiserver *srv, struct mk_client *c)
{
	mk_client_set_transport(c, &local_transport, srv);
}
