/* The data path view: GET /ui/api/trace?namespace=NS&service=NAME computes
 * what `minik8s trace` and the /ui/ page show (pkg/trace): the Service and its
 * EndpointSlices from the store, and from every node's agent (its :10250
 * server, with the API server's client certificate, as for logs and metrics)
 * the kernel state the node's proxy programmed for the ClusterIP with its
 * per-endpoint counters, and its embedded DNS's answer for the name. Agents are
 * asked all at once, each bounded in time; an unreachable node is a row with
 * its error, not a failure of the whole view. */
#include <errno.h>
#include <string.h>
#include <curl/curl.h>
#include "agent_relay.h"
#include "minik8s/agent.h"
#include "minik8s/trace.h"

#define AGENT_TIMEOUT_MS 4000
#define MAX_AGENT_BODY (1024 * 1024)
#define MAX_NODES 256

struct fetch {
	char *node, *url;
	struct mk_buf body;
	bool too_big;
	CURL *h;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct fetch *f = ud;
	if (f->body.len + sz * n > MAX_AGENT_BODY) {
		f->too_big = true;
		return 0;
	}
	mk_buf_append(&f->body, p, sz * n);
	return sz * n;
}

/* Starts the request to one node's agent (stored Node JSON) on m; f->node stays
 * NULL for a node without a name, f->h NULL for one without an IPv4 InternalIP. */
static void fetch_start(struct mk_apiserver *srv, CURLM *m, struct fetch *f, const char *node_json,
			const char *cip, const char *qname)
{
	_cleanup_cjson_ cJSON *node = cJSON_Parse(node_json);
	const char *name = mk_json_get_string(node, "metadata.name");
	if (!name)
		return;
	f->node = mk_strdup(name);
	_cleanup_free_ char *base = agent_node_base(node, true);
	if (!base)
		return;
	f->url = mk_strdup_printf("%s/trace/service?ip=%s&name=%s", base, cip, qname);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, f->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)AGENT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_SSLCERT, srv->kubelet_client_cert);
	curl_easy_setopt(h, CURLOPT_SSLKEY, srv->kubelet_client_key);
	/* the agent's serving certificate is self-signed (see proxy.c) */
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	f->h = h;
	curl_multi_add_handle(m, h);
}

/* The agent's answer for the node of f, or {"error"}; ends f's request. */
static cJSON *fetch_answer(CURLM *m, struct fetch *f)
{
	cJSON *ans = NULL;
	long code = 0;
	if (!f->h) {
		ans = cJSON_CreateObject();
		cJSON_AddStringToObject(ans, "error", "the node has no InternalIP (IPv4)");
		return ans;
	}
	curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &code);
	mk_buf_append(&f->body, "", 1);
	if (code == 200)
		ans = cJSON_Parse(f->body.data);
	if (!cJSON_IsObject(ans)) {
		cJSON_Delete(ans);
		ans = cJSON_CreateObject();
		_cleanup_free_ char *e = f->too_big ? mk_strdup("answer too large")
					 : code	     ? mk_strdup_printf("agent answered %ld", code)
						     : mk_strdup("agent unreachable");
		cJSON_AddStringToObject(ans, "error", e);
	} else if (mk_json_get_string(ans, "kernelError")) {
		cJSON_AddStringToObject(ans, "error", mk_json_get_string(ans, "kernelError"));
	}
	curl_multi_remove_handle(m, f->h);
	curl_easy_cleanup(f->h);
	return ans;
}

/* node name -> the agent's answer (or {"error"}) for every node, asked in parallel */
static cJSON *ask_agents(struct mk_apiserver *srv, const char *cip, const char *dns_name)
{
	cJSON *out = cJSON_CreateObject();
	struct mk_store_list l = { 0 };
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_store_list(srv->store, "nodes", "", NULL, NULL, &l, &err) < 0)
		return out;
	size_t n = l.n < MAX_NODES ? l.n : MAX_NODES;
	struct fetch *f = mk_malloc0((n ? n : 1) * sizeof(*f));
	CURLM *m = curl_multi_init();
	_cleanup_free_ char *qname = curl_easy_escape(NULL, dns_name, 0);
	for (size_t i = 0; i < n; i++)
		fetch_start(srv, m, &f[i], l.items[i], cip, qname);
	int running = 1;
	while (running) {
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		if (running)
			curl_multi_poll(m, NULL, 0, 200, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		if (!f[i].node)
			continue;
		cJSON_AddItemToObject(out, f[i].node, fetch_answer(m, &f[i]));
		free(f[i].node);
		free(f[i].url);
		mk_buf_release(&f[i].body);
	}
	curl_multi_cleanup(m);
	free(f);
	mk_store_list_release(&l);
	return out;
}

static int slice_of(const char *json, void *ud)
{
	_cleanup_cjson_ cJSON *o = cJSON_Parse(json);
	const cJSON *labels = mk_json_get(o, "metadata.labels");
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(labels, "kubernetes.io/service-name");
	return cJSON_IsString(x) && !strcmp(x->valuestring, ud);
}

static void trace(struct mk_request *req, struct mk_reply *rep)
{
	const char *ns = mk_request_arg(req, "namespace");
	const char *name = mk_request_arg(req, "service");
	if (!ns || !*ns)
		ns = "default";
	if (!name || !*name) {
		mk_reply_status(rep, 400, NULL, NULL, "query parameter service is required");
		return;
	}
	_cleanup_free_ char *svc_json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_store_get(req->srv->store, "services", ns, name, &svc_json, NULL, &err) < 0) {
		if (err && err->code == ENOENT)
			mk_reply_status(rep, 404, "services", name, "services \"%s\" not found", name);
		else
			mk_reply_status(rep, 500, NULL, NULL, "%s", err ? err->msg : "store");
		return;
	}
	_cleanup_cjson_ cJSON *svc = cJSON_Parse(svc_json);
	struct mk_store_list l = { 0 };
	if (mk_store_list(req->srv->store, "endpointslices", ns, slice_of, (void *)name, &l, &err) < 0) {
		mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
		return;
	}
	_cleanup_cjson_ cJSON *slices = cJSON_CreateArray();
	for (size_t i = 0; i < l.n; i++) {
		cJSON *s = cJSON_Parse(l.items[i]);
		if (s)
			cJSON_AddItemToArray(slices, s);
	}
	mk_store_list_release(&l);
	const char *cip = mk_json_get_string(svc, "spec.clusterIP");
	_cleanup_free_ char *dn = mk_trace_dns_name(ns, name);
	_cleanup_cjson_ cJSON *nodes = NULL;
	if (cip && strcmp(cip, "None") && strchr(cip, '.'))
		nodes = ask_agents(req->srv, cip, dn);
	_cleanup_cjson_ cJSON *view = mk_trace_build(svc, slices, nodes);
	mk_reply_json(rep, 200, view);
}

/* ui_assets.c */
extern const char mk_ui_index_html[], mk_ui_app_js[], mk_ui_app_css[];

/* No inline script or style, nothing from elsewhere: the page talks to this
 * server only, with the token it keeps in sessionStorage (data: images: the
 * empty favicon that keeps the browser from asking for /favicon.ico). */
#define UI_CSP                                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "     \
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

bool mk_ui_static(struct mk_request *req, struct mk_reply *rep)
{
	const char *url = req->url;
	const char *body = NULL, *type = NULL;
	if (strncmp(url, "/ui", 3) || !strncmp(url, "/ui/api/", 8))
		return false;
	if (!strcmp(url, "/ui") || !strcmp(url, "/ui/") || !strcmp(url, "/ui/index.html")) {
		body = mk_ui_index_html;
		type = "text/html; charset=utf-8";
	} else if (!strcmp(url, "/ui/app.js")) {
		body = mk_ui_app_js;
		type = "text/javascript; charset=utf-8";
	} else if (!strcmp(url, "/ui/app.css")) {
		body = mk_ui_app_css;
		type = "text/css; charset=utf-8";
	} else {
		return false;
	}
	if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
		mk_reply_status(rep, 405, NULL, NULL, "method %s not allowed", req->method);
		return true;
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_PERSISTENT);
	if (!r)
		return false;
	MHD_add_response_header(r, "Content-Security-Policy", UI_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	rep->code = 200;
	rep->content_type = type;
	rep->stream = r;
	return true;
}

bool mk_ui_handle(struct mk_request *req, struct mk_reply *rep)
{
	const char *url = req->url;
	if (strncmp(url, "/ui/api/", 8))
		return false;
	if (req->caller != MK_CALLER_ADMIN) {
		mk_reply_status(rep, 403, NULL, NULL, "%s is forbidden: only the cluster admin may "
				"trace the data path", url);
		return true;
	}
	if (strcmp(req->method, "GET")) {
		mk_reply_status(rep, 405, NULL, NULL, "method %s not allowed", req->method);
		return true;
	}
	if (!strcmp(url, "/ui/api/trace"))
		trace(req, rep);
	else
		mk_reply_status(rep, 404, NULL, NULL, "the server could not find the requested resource");
	return true;
}
