/* Routing of a request, once its body is in: the public paths (health, /cacerts,
 * the /ui/ page), authentication and identity, the authorizer chain, then the
 * non-resource handlers (discovery, reviews, node credentials, metrics, proxy)
 * and the resource paths /api/v1/... and /apis/GROUP/VERSION/... resolved to
 * req->res/ns/name/sub for handlers.c. */
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "metrics.h"

/* ---- authentication ------------------------------------------------------------ */

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

enum mk_caller mk_request_authenticate(struct mk_request *req)
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

/* ---- routing ------------------------------------------------------------------- */

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

void mk_request_dispatch(struct mk_request *req, struct mk_reply *rep)
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
	enum mk_caller who = mk_request_authenticate(req);
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

