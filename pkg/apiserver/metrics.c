/* metrics.k8s.io/v1beta1: metrics-server built into the API server (metrics.h).
 *
 * A scraper thread lists the Ready nodes from the store once per resolution and
 * fetches every agent's /metrics/resource at once (a curl multi handle; the API
 * server's client certificate, as for logs and exec in proxy.c), then computes each
 * node's usage from its last two scrapes (metrics_calc.c). A node that fails a
 * scrape or is not Ready loses its figures until it has two good scrapes again.
 *
 * Requests: GET of nodes (NodeMetrics, cluster-scoped) and pods (PodMetrics,
 * namespaced, or across namespaces), single or listed, with labelSelector and
 * fieldSelector (metadata.name, metadata.namespace), as metrics-server serves
 * them: items list objects that exist and have figures (pods: in phase Running),
 * metadata with the object's name, namespace and labels and creationTimestamp
 * "now"; any other verb, watch included, is a 405. JSON, or the Table kubectl get
 * asks for (metrics-server's columns: Name, cpu, memory, Window); a client asking
 * for protobuf (kubectl top) gets JSON, which client-go decodes by its
 * Content-Type. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "agent_relay.h"
#include "metrics.h"
#include "minik8s/agent.h"

#define CONNECT_TIMEOUT_MS 5000
#define MAX_SCRAPE_BYTES (16u * 1024 * 1024)
#define MAX_NODES_PER_ROUND 5000

struct node_state {
	char *name;
	struct mk_metrics_batch last;	    /* scraper thread only */
	struct mk_metrics_node_usage usage; /* under lock */
	bool has_usage;
};

struct mk_metrics {
	struct mk_apiserver *srv;
	unsigned resolution_ms;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards nodes, stopping */
	pthread_cond_t cond;
	bool stopping;
	struct node_state *nodes;
	size_t n, cap;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- scraping ------------------------------------------------------------------ */

struct target {
	char *node, *url;
	CURL *h;
	struct mk_buf body;
	bool too_big, done;
	long code;
	CURLcode result;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct target *t = ud;
	if (t->body.len + size * n > MAX_SCRAPE_BYTES) {
		t->too_big = true;
		return 0;
	}
	mk_buf_append(&t->body, data, size * n);
	return size * n;
}

static bool node_ready(const cJSON *node)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(node, "status.conditions"))
	{
		const char *type = mk_json_get_string(c, "type");
		const char *st = mk_json_get_string(c, "status");
		if (type && !strcmp(type, "Ready"))
			return st && !strcmp(st, "True");
	}
	return false;
}

/* https://InternalIP:kubeletPort/metrics/resource, or NULL */
static char *node_url(const cJSON *node)
{
	_cleanup_free_ char *base = agent_node_base(node, false);
	return base ? mk_strdup_printf("%s/metrics/resource", base) : NULL;
}

static bool stopping(struct mk_metrics *m)
{
	pthread_mutex_lock(&m->lock);
	bool s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static struct node_state *find_node(struct mk_metrics *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->nodes[i].name, name))
			return &m->nodes[i];
	return NULL;
}

static void node_state_release(struct node_state *s)
{
	free(s->name);
	mk_metrics_batch_release(&s->last);
	mk_metrics_node_usage_release(&s->usage);
}

/* The Ready nodes to scrape this round (at most MAX_NODES_PER_ROUND), into *ret
 * (owned, release with targets_free); their count. */
static size_t targets_list(struct mk_metrics *m, struct target **ret)
{
	struct mk_store_list l = {0};
	_cleanup_error_ struct mk_error *err = NULL;
	size_t nt = 0;

	*ret = NULL;
	if (mk_store_list(m->srv->store, "nodes", "", NULL, NULL, &l, &err) < 0) {
		mk_log(MK_LOG_WARN, "metrics", "list nodes: %s", err->msg);
		return 0;
	}
	struct target *t = mk_malloc0((l.n ? l.n : 1) * sizeof(*t));
	for (size_t i = 0; i < l.n && nt < MAX_NODES_PER_ROUND; i++) {
		_cleanup_cjson_ cJSON *node = cJSON_Parse(l.items[i]);
		const char *name = mk_json_get_string(node, "metadata.name");
		char *url = node && name && node_ready(node) ? node_url(node) : NULL;
		if (!url)
			continue;
		t[nt].node = mk_strdup(name);
		t[nt].url = url;
		mk_buf_init(&t[nt].body);
		nt++;
	}
	mk_store_list_release(&l);
	*ret = t;
	return nt;
}

/* Scrapes all targets at once on multi, each bounded by most of a resolution
 * (metrics-server: 90 %); a target's done, result and code say how it went. */
static void targets_fetch(struct mk_metrics *m, CURLM *multi, struct target *t, size_t nt)
{
	struct mk_apiserver *srv = m->srv;
	long timeout = (long)m->resolution_ms * 9 / 10;
	if (timeout < 1000)
		timeout = 1000;
	for (size_t i = 0; i < nt; i++) {
		CURL *h = curl_easy_init();
		if (!h)
			continue;
		curl_easy_setopt(h, CURLOPT_URL, t[i].url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
		curl_easy_setopt(h, CURLOPT_SSLCERT, srv->kubelet_client_cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, srv->kubelet_client_key);
		/* the agent's serving certificate is self-signed (see proxy.c) */
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &t[i]);
		curl_easy_setopt(h, CURLOPT_PRIVATE, &t[i]);
		t[i].h = h;
		curl_multi_add_handle(multi, h);
	}
	int running = 1;
	while (running && !stopping(m)) {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct target *x = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			x->done = true;
			x->result = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &x->code);
		}
		if (running)
			curl_multi_poll(multi, NULL, 0, 200, NULL);
	}
}

/* The node states from the scraped targets (parsed and computed outside the
 * lock; the states' batches are ours), into next; their count. */
static size_t states_build(struct mk_metrics *m, struct target *t, size_t nt,
			   struct node_state *next)
{
	size_t nn = 0;
	for (size_t i = 0; i < nt; i++) {
		struct target *x = &t[i];
		struct mk_metrics_batch b = {0};
		_cleanup_error_ struct mk_error *perr = NULL;
		if (!x->done || x->result != CURLE_OK || x->code != 200 || x->too_big) {
			mk_log(MK_LOG_DEBUG, "metrics", "scrape of node %s failed: %s", x->node,
			       x->too_big	       ? "reply too large"
			       : !x->done	       ? "not finished"
			       : x->result != CURLE_OK ? curl_easy_strerror(x->result)
						       : "HTTP error");
			continue;
		}
		if (mk_metrics_parse(x->body.data ? x->body.data : "", x->body.len, now_ms(), &b,
				     &perr) < 0) {
			mk_log(MK_LOG_WARN, "metrics", "node %s: %s", x->node, perr->msg);
			continue;
		}
		struct node_state *s = &next[nn++];
		s->name = mk_strdup(x->node);
		pthread_mutex_lock(&m->lock);
		struct node_state *old = find_node(m, x->node);
		pthread_mutex_unlock(&m->lock);
		/* only this thread changes old->last, so reading it unlocked is fine */
		mk_metrics_compute(old ? &old->last : NULL, &b, m->resolution_ms, &s->usage);
		s->has_usage = true;
		s->last = b;
	}
	return nn;
}

static void targets_free(CURLM *multi, struct target *t, size_t nt)
{
	for (size_t i = 0; i < nt; i++) {
		if (t[i].h) {
			curl_multi_remove_handle(multi, t[i].h);
			curl_easy_cleanup(t[i].h);
		}
		free(t[i].node);
		free(t[i].url);
		mk_buf_release(&t[i].body);
	}
	free(t);
}

/* One round: scrape every Ready node, then replace the node states. */
static void scrape_round(struct mk_metrics *m)
{
	struct target *t;
	size_t nt = targets_list(m, &t);
	if (!t)
		return;
	CURLM *multi = curl_multi_init();
	if (multi)
		targets_fetch(m, multi, t, nt);
	struct node_state *next = mk_malloc0((nt ? nt : 1) * sizeof(*next));
	size_t nn = states_build(m, t, nt, next);
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		node_state_release(&m->nodes[i]);
	free(m->nodes);
	m->nodes = next;
	m->n = m->cap = nn;
	pthread_mutex_unlock(&m->lock);
	targets_free(multi, t, nt);
	if (multi)
		curl_multi_cleanup(multi);
}

static void *scraper(void *arg)
{
	struct mk_metrics *m = arg;

	for (;;) {
		uint64_t start = mk_time_mono_ms();
		scrape_round(m);
		uint64_t spent = mk_time_mono_ms() - start;
		struct timespec until;
		mk_time_mono_deadline(&until,
				      spent < m->resolution_ms ? m->resolution_ms - spent : 0);
		pthread_mutex_lock(&m->lock);
		while (!m->stopping &&
		       pthread_cond_timedwait(&m->cond, &m->lock, &until) != ETIMEDOUT)
			;
		bool stop = m->stopping;
		pthread_mutex_unlock(&m->lock);
		if (stop)
			break;
	}
	return NULL;
}

int mk_metrics_start(struct mk_apiserver *srv, unsigned resolution_ms, struct mk_metrics **ret,
		     struct mk_error **err)
{
	struct mk_metrics *m = mk_malloc0(sizeof(*m));

	m->srv = srv;
	m->resolution_ms = resolution_ms ? resolution_ms : MK_METRICS_DEFAULT_RESOLUTION_MS;
	pthread_mutex_init(&m->lock, NULL);
	mk_time_cond_init(&m->cond);
	if (srv->kubelet_client_cert && srv->kubelet_client_key) {
		pthread_once(&curl_once, curl_init);
		int r = pthread_create(&m->thread, NULL, scraper, m);
		if (r) {
			mk_metrics_free(m);
			return mk_error_errno(err, r, "metrics: start the scraper thread");
		}
		m->started = true;
	}
	*ret = m;
	return 0;
}

void mk_metrics_free(struct mk_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->started)
		pthread_join(m->thread, NULL);
	for (size_t i = 0; i < m->n; i++)
		node_state_release(&m->nodes[i]);
	free(m->nodes);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}

/* ---- objects ------------------------------------------------------------------- */

static void add_time(cJSON *o, const char *key, int64_t ms)
{
	char b[32];
	mk_time_format((time_t)(ms / 1000), b, sizeof(b));
	cJSON_AddStringToObject(o, key, b);
}

static void add_window(cJSON *o, int64_t ms)
{
	char b[48];
	mk_metrics_duration(ms, b, sizeof(b));
	cJSON_AddStringToObject(o, "window", b);
}

static cJSON *usage_json(uint64_t cpu, uint64_t mem)
{
	cJSON *u = cJSON_CreateObject();
	char b[48];
	mk_metrics_quantity_cpu(cpu, b, sizeof(b));
	cJSON_AddStringToObject(u, "cpu", b);
	mk_metrics_quantity_bytes(mem, b, sizeof(b));
	cJSON_AddStringToObject(u, "memory", b);
	return u;
}

/* metadata as metrics-server fills it: name, namespace, labels of the object, and
 * the time of the answer as creationTimestamp */
static cJSON *meta_json(const cJSON *obj, bool namespaced)
{
	cJSON *md = cJSON_CreateObject();
	cJSON_AddStringToObject(md, "name", mk_json_get_string(obj, "metadata.name"));
	if (namespaced)
		cJSON_AddStringToObject(md, "namespace",
					mk_json_get_string(obj, "metadata.namespace"));
	add_time(md, "creationTimestamp", now_ms());
	const cJSON *labels = mk_json_get(obj, "metadata.labels");
	if (cJSON_IsObject(labels) && labels->child)
		cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(labels, true));
	return md;
}

/* A row of the Table form (metrics-server's columns: Name, cpu, memory, Window). */
struct totals {
	uint64_t cpu, mem;
	int64_t window_ms;
};

/* NodeMetrics of node (the stored Node), or NULL when it has no figures; *t set. */
static cJSON *node_metrics(struct mk_metrics *m, const cJSON *node, struct totals *t)
{
	const char *name = mk_json_get_string(node, "metadata.name");
	cJSON *o = NULL;

	pthread_mutex_lock(&m->lock);
	struct node_state *s = name ? find_node(m, name) : NULL;
	if (s && s->has_usage && s->usage.has_node) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", "NodeMetrics");
		cJSON_AddStringToObject(o, "apiVersion", MK_METRICS_GROUP_VERSION);
		cJSON_AddItemToObject(o, "metadata", meta_json(node, false));
		add_time(o, "timestamp", s->usage.node.ts_ms);
		add_window(o, s->usage.node.window_ms);
		cJSON_AddItemToObject(
		    o, "usage", usage_json(s->usage.node.cpu_nanocores, s->usage.node.mem_bytes));
		*t = (struct totals){.cpu = s->usage.node.cpu_nanocores,
				     .mem = s->usage.node.mem_bytes,
				     .window_ms = s->usage.node.window_ms};
	}
	pthread_mutex_unlock(&m->lock);
	return o;
}

/* PodMetrics of pod (the stored Pod), or NULL when it has none (not Running, no
 * node, no figures for every container yet). */
static cJSON *pod_metrics(struct mk_metrics *m, const cJSON *pod, struct totals *t)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	const char *phase = mk_json_get_string(pod, "status.phase");
	cJSON *o = NULL;

	if (!name || !ns || !node || !phase || strcmp(phase, "Running"))
		return NULL;
	pthread_mutex_lock(&m->lock);
	struct node_state *s = find_node(m, node);
	for (size_t i = 0; s && s->has_usage && i < s->usage.npods && !o; i++) {
		const struct mk_metrics_pod_usage *p = &s->usage.pods[i];
		if (strcmp(p->ns, ns) || strcmp(p->pod, name))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", "PodMetrics");
		cJSON_AddStringToObject(o, "apiVersion", MK_METRICS_GROUP_VERSION);
		cJSON_AddItemToObject(o, "metadata", meta_json(pod, true));
		add_time(o, "timestamp", p->ts_ms);
		add_window(o, p->window_ms);
		cJSON *cs = cJSON_AddArrayToObject(o, "containers");
		*t = (struct totals){.window_ms = p->window_ms};
		for (size_t k = 0; k < p->n; k++) {
			t->cpu += p->c[k].u.cpu_nanocores;
			t->mem += p->c[k].u.mem_bytes;
			cJSON *c = cJSON_CreateObject();
			cJSON_AddStringToObject(c, "name", p->c[k].name);
			cJSON_AddItemToObject(
			    c, "usage", usage_json(p->c[k].u.cpu_nanocores, p->c[k].u.mem_bytes));
			cJSON_AddItemToArray(cs, c);
		}
	}
	pthread_mutex_unlock(&m->lock);
	return o;
}

/* ---- requests ------------------------------------------------------------------ */

/* labelSelector and fieldSelector (metrics-server matches the object metadata's
 * name and namespace only); -1 with rep filled on a bad one */
static int parse_selectors(struct mk_request *req, struct mk_reply *rep,
			   struct mk_list_selectors *f)
{
	_cleanup_error_ struct mk_error *err = NULL;
	const char *ls = mk_request_arg(req, "labelSelector");
	const char *fs = mk_request_arg(req, "fieldSelector");

	if (ls && *ls && mk_label_selector_parse(ls, &f->labels, &err) < 0) {
		mk_reply_status(rep, 400, NULL, NULL, "unable to parse labelSelector: %s",
				err->msg);
		return -1;
	}
	if (fs && *fs) {
		_cleanup_free_ char *copy = mk_strdup(fs);
		char *save = NULL;
		for (char *term = strtok_r(copy, ",", &save); term;
		     term = strtok_r(NULL, ",", &save)) {
			term[strcspn(term, "!=")] = '\0';
			while (*term == ' ')
				term++;
			size_t l = strlen(term);
			while (l && term[l - 1] == ' ')
				term[--l] = '\0';
			if (strcmp(term, "metadata.name") && strcmp(term, "metadata.namespace")) {
				mk_reply_status(rep, 400, NULL, NULL,
						"field label not supported: %s", term);
				return -1;
			}
		}
		if (mk_field_selector_parse(fs, &f->fields, &err) < 0) {
			mk_reply_status(rep, 400, NULL, NULL, "unable to parse fieldSelector: %s",
					err->msg);
			return -1;
		}
	}
	return 0;
}

static void selectors_release(struct mk_list_selectors *f)
{
	mk_label_selector_free(f->labels);
	mk_field_selector_free(f->fields);
}

/* The Table form kubectl get asks for (metrics-server's columns); rows take
 * the items (moved in) with their totals. */
static cJSON *table_new(void)
{
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "kind", "Table");
	cJSON_AddStringToObject(t, "apiVersion", "meta.k8s.io/v1");
	cJSON_AddItemToObject(t, "metadata", cJSON_CreateObject());
	cJSON *cols = cJSON_AddArrayToObject(t, "columnDefinitions");
	static const char *const names[][2] = {
	    {"Name", "name"}, {"cpu", "quantity"}, {"memory", "quantity"}, {"Window", "duration"}};
	for (size_t i = 0; i < MK_ARRAY_SIZE(names); i++) {
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "name", names[i][0]);
		cJSON_AddStringToObject(c, "type", "string");
		cJSON_AddStringToObject(c, "format", names[i][1]);
		cJSON_AddStringToObject(c, "description", i ? "" : "Name of the resource");
		cJSON_AddNumberToObject(c, "priority", 0);
		cJSON_AddItemToArray(cols, c);
	}
	cJSON_AddArrayToObject(t, "rows");
	return t;
}

static void table_add(cJSON *table, cJSON *item, const struct totals *tot)
{
	cJSON *row = cJSON_CreateObject(), *cells = cJSON_AddArrayToObject(row, "cells");
	char b[48];
	cJSON_AddItemToArray(cells, cJSON_CreateString(mk_json_get_string(item, "metadata.name")));
	mk_metrics_quantity_cpu(tot->cpu, b, sizeof(b));
	cJSON_AddItemToArray(cells, cJSON_CreateString(b));
	mk_metrics_quantity_bytes(tot->mem, b, sizeof(b));
	cJSON_AddItemToArray(cells, cJSON_CreateString(b));
	mk_metrics_duration(tot->window_ms, b, sizeof(b));
	cJSON_AddItemToArray(cells, cJSON_CreateString(b));
	cJSON *obj = cJSON_AddObjectToObject(row, "object");
	cJSON_AddStringToObject(obj, "kind", "PartialObjectMetadata");
	cJSON_AddStringToObject(obj, "apiVersion", "meta.k8s.io/v1");
	cJSON_AddItemToObject(obj, "metadata", cJSON_DetachItemFromObject(item, "metadata"));
	cJSON_AddItemToArray(cJSON_GetObjectItem(table, "rows"), row);
	cJSON_Delete(item);
}

static void reply_list(struct mk_request *req, struct mk_reply *rep, bool pods, const char *ns)
{
	struct mk_metrics *m = req->srv->metrics;
	struct mk_list_selectors f = {0};
	struct mk_store_list l = {0};
	_cleanup_error_ struct mk_error *err = NULL;

	if (parse_selectors(req, rep, &f) < 0) {
		selectors_release(&f);
		return;
	}
	int r = mk_store_list(req->srv->store, pods ? "pods" : "nodes", pods ? ns : "",
			      f.labels || f.fields ? mk_list_selectors_match : NULL, &f, &l, &err);
	selectors_release(&f);
	if (r < 0) {
		mk_reply_error(rep, NULL, NULL, err);
		return;
	}
	bool table = mk_request_wants_table(req);
	_cleanup_cjson_ cJSON *list = table ? table_new() : cJSON_CreateObject();
	if (!table) {
		cJSON_AddStringToObject(list, "kind", pods ? "PodMetricsList" : "NodeMetricsList");
		cJSON_AddStringToObject(list, "apiVersion", MK_METRICS_GROUP_VERSION);
		cJSON_AddItemToObject(list, "metadata", cJSON_CreateObject());
		cJSON_AddArrayToObject(list, "items");
	}
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_cjson_ cJSON *obj = cJSON_Parse(l.items[i]);
		struct totals tot = {0};
		cJSON *item =
		    obj ? (pods ? pod_metrics(m, obj, &tot) : node_metrics(m, obj, &tot)) : NULL;
		if (item && table)
			table_add(list, item, &tot);
		else if (item)
			cJSON_AddItemToArray(cJSON_GetObjectItem(list, "items"), item);
	}
	mk_store_list_release(&l);
	mk_reply_json(rep, 200, list);
}

static void reply_get(struct mk_request *req, struct mk_reply *rep, bool pods, const char *ns,
		      const char *name)
{
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_cjson_ cJSON *item = NULL;
	struct totals tot = {0};

	if (mk_store_get(req->srv->store, pods ? "pods" : "nodes", pods ? ns : "", name, &json,
			 NULL, &err) < 0 &&
	    err->code != ENOENT) {
		mk_reply_error(rep, NULL, name, err);
		return;
	}
	if (json) {
		_cleanup_cjson_ cJSON *obj = cJSON_Parse(json);
		item = obj ? (pods ? pod_metrics(req->srv->metrics, obj, &tot)
				   : node_metrics(req->srv->metrics, obj, &tot))
			   : NULL;
	}
	if (!item) {
		/* metrics-server names a pod's figures NAMESPACE/NAME */
		_cleanup_free_ char *id =
		    pods ? mk_strdup_printf("%s/%s", ns, name) : mk_strdup(name);
		mk_reply_status(rep, 404, pods ? "podmetrics" : "nodemetrics", id,
				"%s.metrics.k8s.io \"%s\" not found",
				pods ? "podmetrics" : "nodemetrics", id);
		return;
	}
	if (mk_request_wants_table(req)) {
		_cleanup_cjson_ cJSON *t = table_new();
		table_add(t, TAKE_PTR(item), &tot);
		mk_reply_json(rep, 200, t);
		return;
	}
	mk_reply_json(rep, 200, item);
}

bool mk_metrics_handle(struct mk_request *req, struct mk_reply *rep)
{
	static const char prefix[] = "/apis/" MK_METRICS_GROUP_VERSION "/";
	char *seg[6];
	int n = 0;

	if (strncmp(req->url, prefix, sizeof(prefix) - 1))
		return false;
	_cleanup_free_ char *path = mk_strdup(req->url + sizeof(prefix) - 1);
	char *save = NULL;
	for (char *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 5) {
			n = -1;
			break;
		}
		seg[n++] = t;
	}
	const char *ns = NULL, *name = NULL;
	bool pods;
	if (n >= 1 && n <= 2 && !strcmp(seg[0], "nodes")) {
		pods = false;
		name = n == 2 ? seg[1] : NULL;
	} else if (n == 1 && !strcmp(seg[0], "pods")) {
		pods = true;
	} else if (n >= 3 && n <= 4 && !strcmp(seg[0], "namespaces") && !strcmp(seg[2], "pods")) {
		pods = true;
		ns = seg[1];
		name = n == 4 ? seg[3] : NULL;
	} else {
		mk_reply_status(rep, 404, NULL, NULL,
				"the server could not find the requested resource");
		return true;
	}
	const char *resource = pods ? "pods" : "nodes";
	const char *verb = mk_request_verb(req, !name);
	struct mk_authz_attrs a = {.verb = verb, .resource = resource, .name = name, .ns = ns,
				   .group = "metrics.k8s.io"};
	if (!mk_authz_request(req, &a, NULL)) {
		mk_reply_status(rep, 403, resource, name,
				"%s.metrics.k8s.io%s%s is forbidden: %s may not %s it", resource,
				name ? " " : "", name ? name : "",
				req->user ? req->user : "this user", verb);
		return true;
	}
	if (strcmp(verb, "get") && strcmp(verb, "list")) {
		/* kube-apiserver's answer for a verb the storage does not implement */
		mk_reply_status(rep, 405, resource, name,
				"the server does not allow this method on the requested resource");
		return true;
	}
	if (name)
		reply_get(req, rep, pods, ns, name);
	else
		reply_list(req, rep, pods, ns);
	return true;
}

/* ---- discovery ----------------------------------------------------------------- */

static cJSON *group_json(void)
{
	cJSON *g = cJSON_CreateObject(), *v = cJSON_CreateObject();
	cJSON_AddStringToObject(g, "name", MK_METRICS_GROUP);
	cJSON_AddStringToObject(v, "groupVersion", MK_METRICS_GROUP_VERSION);
	cJSON_AddStringToObject(v, "version", MK_METRICS_VERSION);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(g, "versions"), cJSON_Duplicate(v, true));
	cJSON_AddItemToObject(g, "preferredVersion", v);
	return g;
}

cJSON *mk_metrics_discovery_group(void)
{
	return group_json();
}

static const struct {
	const char *name, *kind, *list_kind;
	bool namespaced;
} metrics_resources[] = {
    {"nodes", "NodeMetrics", "NodeMetricsList", false},
    {"pods", "PodMetrics", "PodMetricsList", true},
};

static cJSON *resource_list(void)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "kind", "APIResourceList");
	cJSON_AddStringToObject(doc, "apiVersion", "v1");
	cJSON_AddStringToObject(doc, "groupVersion", MK_METRICS_GROUP_VERSION);
	cJSON *arr = cJSON_AddArrayToObject(doc, "resources");
	for (size_t i = 0; i < MK_ARRAY_SIZE(metrics_resources); i++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", metrics_resources[i].name);
		cJSON_AddStringToObject(e, "singularName", "");
		cJSON_AddBoolToObject(e, "namespaced", metrics_resources[i].namespaced);
		cJSON_AddStringToObject(e, "kind", metrics_resources[i].kind);
		cJSON *verbs = cJSON_AddArrayToObject(e, "verbs");
		cJSON_AddItemToArray(verbs, cJSON_CreateString("get"));
		cJSON_AddItemToArray(verbs, cJSON_CreateString("list"));
		cJSON_AddItemToArray(arr, e);
	}
	return doc;
}

static cJSON *gvk_json(const char *kind)
{
	cJSON *gvk = cJSON_CreateObject();
	cJSON_AddStringToObject(gvk, "group", MK_METRICS_GROUP);
	cJSON_AddStringToObject(gvk, "version", MK_METRICS_VERSION);
	cJSON_AddStringToObject(gvk, "kind", kind);
	return gvk;
}

/* OpenAPI v3 of the group: get and list paths and every schema (kubectl explain) */
static cJSON *openapi_doc(void)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "openapi", "3.0.0");
	cJSON *info = cJSON_AddObjectToObject(doc, "info");
	cJSON_AddStringToObject(info, "title", "Kubernetes");
	cJSON_AddStringToObject(info, "version", MK_METRICS_VERSION);
	cJSON *paths = cJSON_AddObjectToObject(doc, "paths");
	for (size_t i = 0; i < MK_ARRAY_SIZE(metrics_resources); i++) {
		const char *r = metrics_resources[i].name;
		_cleanup_free_ char *base =
		    metrics_resources[i].namespaced
			? mk_strdup_printf("/apis/%s/namespaces/{namespace}/%s",
					   MK_METRICS_GROUP_VERSION, r)
			: mk_strdup_printf("/apis/%s/%s", MK_METRICS_GROUP_VERSION, r);
		_cleanup_free_ char *one = mk_strdup_printf("%s/{name}", base);
		const char *ps[] = {base, one};
		for (size_t k = 0; k < 2; k++) {
			cJSON *item = cJSON_CreateObject(),
			      *op = cJSON_AddObjectToObject(item, "get");
			cJSON_AddStringToObject(op, "x-kubernetes-action", k ? "get" : "list");
			cJSON_AddItemToObject(op, "x-kubernetes-group-version-kind",
					      gvk_json(k ? metrics_resources[i].kind
							 : metrics_resources[i].list_kind));
			cJSON_AddItemToObject(cJSON_AddObjectToObject(op, "responses"), "200",
					      cJSON_Parse("{\"description\":\"OK\"}"));
			cJSON_AddItemToObject(paths, ps[k], item);
		}
	}
	cJSON *comp = cJSON_AddObjectToObject(doc, "components");
	cJSON_AddItemToObject(comp, "schemas", mk_api_schema_v3_components());
	return doc;
}

char *mk_metrics_openapi_url(void)
{
	_cleanup_cjson_ cJSON *doc = openapi_doc();
	char *text = cJSON_PrintUnformatted(doc), hash[65];
	mk_sha256_hex(text, strlen(text), hash);
	cJSON_free(text);
	return mk_strdup_printf("/openapi/v3/%s?hash=%.32s", MK_METRICS_OPENAPI_KEY, hash);
}

bool mk_metrics_discovery_handle(struct mk_request *req, const char *path, struct mk_reply *rep)
{
	_cleanup_cjson_ cJSON *doc = NULL;

	if (!strcmp(path, "/apis/" MK_METRICS_GROUP) ||
	    !strcmp(path, "/apis/" MK_METRICS_GROUP "/")) {
		doc = group_json();
		cJSON_AddStringToObject(doc, "kind", "APIGroup");
		cJSON_AddStringToObject(doc, "apiVersion", "v1");
	} else if (!strcmp(path, "/apis/" MK_METRICS_GROUP_VERSION) ||
		   !strcmp(path, "/apis/" MK_METRICS_GROUP_VERSION "/")) {
		doc = resource_list();
	} else if (!strcmp(path, "/openapi/v3/" MK_METRICS_OPENAPI_KEY)) {
		doc = openapi_doc();
	} else {
		return false;
	}
	mk_discovery_reply(req, rep, path, doc);
	return true;
}
