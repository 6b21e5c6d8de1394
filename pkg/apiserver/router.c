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

/* ---- authorization ------------------------------------------------------------- */

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

/* The 403 of a node request the chain refused, in the Node authorizer's words
 * (kube-apiserver's), which says why it found no relationship. */
static void node_forbid(struct mk_request *req, struct mk_reply *rep, const struct mk_authz_attrs *a)
{
	struct mk_authz_attrs na = *a;
	const char *why;
	_cleanup_free_ char *owned = NULL;

	if (mk_proxy_http_match(req->url)) { /* proxying is not a node's business */
		mk_reply_status(rep, 403, NULL, NULL,
				"forbidden: User \"%s\" may not use the proxy subresources: "
				"no relationship found between node '%s' and this object",
				req->node_user, req->node_name);
		return;
	}
	na.node = req->node_name;
	na.store = req->srv->store;
	mk_nodeauthz_allowed(&na, &why, &owned);
	mk_nodeauthz_forbid(req, rep, a->verb, why);
}

/* The one authorization of a request, before any handler: its attributes
 * (kube's RequestInfo) built once, then the chain mk_authz_request runs (the
 * admin; the Node authorizer, allow or no opinion; RBAC). The join token is not
 * authorized here: it may only ask for its node credential (the gate in
 * mk_request_dispatch). false with the 403 in rep. */
static bool authorize(struct mk_request *req, struct mk_reply *rep)
{
	_cleanup_free_ char *scratch = NULL;
	struct mk_authz_attrs a;

	if (req->caller == MK_CALLER_BOOTSTRAP)
		return true;
	mk_authz_attrs_from_request(req->method, req->url, mk_request_bool(req, "watch"), &scratch,
				    &a);
	/* for the Node authorizer a list or watch with fieldSelector=metadata.name=X is
	 * a get of X, as kube-apiserver's RequestInfo makes it */
	const char *fs = mk_request_arg(req, "fieldSelector");
	if (req->caller == MK_CALLER_NODE && a.resource && !a.name && fs &&
	    mk_str_has_prefix(fs, "metadata.name=") && fs[14] && !strpbrk(fs + 14, ",=!"))
		a.name = fs + 14;
	if (mk_authz_request(req, &a, NULL))
		return true;
	if (req->caller == MK_CALLER_NODE)
		node_forbid(req, rep, &a);
	else
		mk_rbac_forbid(req, rep, &a);
	return false;
}

/* ---- dispatch ------------------------------------------------------------------ */

/* The paths answered before authentication: health, the CA (joining agents fetch
 * it and check it against the hash in their join token, as k3s's /cacerts), and
 * the /ui/ page itself (what it reads needs the token, ui.c). */
static bool public_handle(struct mk_request *req, struct mk_reply *rep)
{
	if (!strcmp(req->url, "/healthz") || !strcmp(req->url, "/readyz") ||
	    !strcmp(req->url, "/livez")) {
		rep->code = 200;
		rep->body = mk_strdup("ok");
		rep->content_type = "text/plain; charset=utf-8";
		return true;
	}
	if (!strcmp(req->url, "/cacerts") && req->srv->ca_pem) {
		rep->code = 200;
		rep->body = mk_strdup(req->srv->ca_pem);
		rep->content_type = "application/x-pem-file";
		return true;
	}
	return mk_ui_static(req, rep);
}

/* Who calls and as whom (after impersonation: what kubectl auth whoami shows,
 * authreview.c, what RBAC decides on and the request log names); false with
 * rep filled. */
static bool identify(struct mk_request *req, struct mk_reply *rep)
{
	req->caller = mk_request_authenticate(req);
	if (req->caller == MK_CALLER_NONE) {
		mk_reply_status(rep, 401, NULL, NULL, "Unauthorized");
		return false;
	}
	int r = mk_rbac_identify(req, rep);
	req->user = req->ui.name;
	if (r < 0)
		return false;
	if (req->too_large) {
		mk_reply_status(rep, 413, NULL, NULL,
				"the request body is larger than the limit of %zu bytes",
				req->srv->max_body);
		return false;
	}
	return true;
}

/* The paths that are not resources of pkg/api's table; true when answered. */
static bool nonresource_handle(struct mk_request *req, struct mk_reply *rep)
{
	if (mk_discovery_handle(req, req->url, rep) || mk_authreview_handle(req, rep) ||
	    mk_nodecred_handle(req, rep))
		return true;
	/* the join token may do nothing else */
	if (req->caller == MK_CALLER_BOOTSTRAP) {
		mk_reply_status(rep, 403, NULL, NULL,
				"forbidden: User \"system:bootstrap:node-join\" cannot %s path \"%s\": "
				"the join token may only ask for a node credential (POST %s)",
				!strcmp(req->method, "GET") || !strcmp(req->method, "HEAD")
					? "get" : mk_request_verb(req, true),
				req->url, MK_NODECRED_PATH);
		return true;
	}
	/* /ui/api/trace (ui.c); metrics.k8s.io: answered, never stored */
	if (mk_ui_handle(req, rep) || mk_metrics_handle(req, rep))
		return true;
	/* services|pods/NAME/proxy/PATH: any depth, any method (proxy_http.c) */
	if (mk_proxy_http_match(req->url)) {
		mk_proxy_http_handle(req, rep);
		return true;
	}
	return false;
}

void mk_request_dispatch(struct mk_request *req, struct mk_reply *rep)
{
	char *seg[8];
	_cleanup_free_ char *path = mk_strdup(req->url);

	if (public_handle(req, rep) || !identify(req, rep))
		return;
	/* resolved first, for the words of a node's 403 (the proxy paths are not) */
	int n = mk_proxy_http_match(req->url) ? -1 : split_path(path, seg, 8);
	bool routed = n >= 0 && route_resource(req, seg, n) == 0;
	if (!authorize(req, rep) || nonresource_handle(req, rep))
		return;
	if (!routed) {
		mk_reply_status(rep, 404, NULL, NULL, "the server could not find the requested resource");
		return;
	}
	mk_resource_handle(req, rep);
}
