/* Hollow nodes: see include/minik8s/hollow.h.
 *
 * Shape: nodes are registered by a few threads in parallel (each registration is
 * four requests: credential, Node, Node status, Lease); each node then has its
 * own client (its credential) and its own pod informer. Informer handlers only
 * enqueue "INDEX/ns/name" on the work queue of the node's worker (a node is always
 * one worker's, so its client keeps one keep-alive connection for its pod writes,
 * beside its watch and its Lease's: a client holds a connection per thread that
 * used it, and any worker writing for any node held up to 4 + 2 a node, past the
 * server's connection limit at 1,000 nodes); the worker writes the pod status or
 * deletes the pod. One thread renews the Leases, spread evenly over the
 * period. Pod addresses come from the node's pod CIDR, host numbers 2..254 (.1 is
 * the bridge address a real node keeps), recycled when pods go. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "minik8s/agent.h"
#include "minik8s/hollow.h"
#include "internal.h"

#define HOLLOW_HOSTS 253 /* .2 .. .254 of the pod CIDR */
#define REGISTER_THREADS 32 /* registrations are durable writes: many in flight share a commit */

struct hollow_node {
	struct mk_hollow *h;
	unsigned idx;
	char *name;
	struct mk_client_config *cfg;
	struct mk_client *c;
	struct mk_informer *pods;
	uint32_t cidr_base;		/* host order */
	pthread_mutex_t mu;		/* ips, used */
	struct mk_hmap ips;		/* "ns/name" -> struct pod_ip */
	uint8_t used[HOLLOW_HOSTS];
	unsigned next;			/* next host number to try */
};

struct hollow_worker {
	struct mk_hollow *h;
	struct mk_workqueue *q;
	pthread_t thread;
};

struct pod_ip {
	char uid[64];
	unsigned host; /* 0 .. HOLLOW_HOSTS-1 */
	bool reported; /* Running written for this uid */
};

struct mk_hollow {
	struct mk_hollow_options o;
	char *prefix, *node_ip, *cred_dir;
	const struct mk_client_config *bootstrap; /* during start only */
	struct hollow_node *nodes;
	unsigned n;
	struct hollow_worker *workers; /* node idx % nworkers is workers[that]'s */
	unsigned nworkers, nstarted;
	pthread_t lease_thread;
	bool lease_started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	atomic_uint registered, next_reg;
	atomic_uint_fast64_t running, deleted, renewals, errors;
	char *reg_error; /* first registration failure */
};

static const char *go_arch(void)
{
	static struct utsname u;
	if (!u.machine[0])
		uname(&u);
	return agent_go_arch(u.machine);
}

/* ---- registration ------------------------------------------------------------ */

static cJSON *node_status(struct mk_hollow *h)
{
	char now[32];
	mk_time_format(time(NULL), now, sizeof(now));
	cJSON *st = cJSON_CreateObject();
	char pods[16];
	snprintf(pods, sizeof(pods), "%u", h->o.max_pods);
	const char *cap[][2] = { { "cpu", "4" }, { "memory", "8Gi" }, { "pods", pods },
				 { "ephemeral-storage", "50Gi" } };
	cJSON *c = cJSON_AddObjectToObject(st, "capacity");
	cJSON *a = cJSON_AddObjectToObject(st, "allocatable");
	for (size_t i = 0; i < sizeof(cap) / sizeof(cap[0]); i++) {
		cJSON_AddStringToObject(c, cap[i][0], cap[i][1]);
		cJSON_AddStringToObject(a, cap[i][0], cap[i][1]);
	}
	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	const char *cs[][4] = {
		{ "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available" },
		{ "DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure" },
		{ "PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available" },
		{ "Ready", "True", "KubeletReady", "hollow node (minik8s agent --hollow): runs no containers" },
	};
	for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "type", cs[i][0]);
		cJSON_AddStringToObject(x, "status", cs[i][1]);
		cJSON_AddStringToObject(x, "reason", cs[i][2]);
		cJSON_AddStringToObject(x, "message", cs[i][3]);
		cJSON_AddStringToObject(x, "lastHeartbeatTime", now);
		cJSON_AddStringToObject(x, "lastTransitionTime", now);
		cJSON_AddItemToArray(conds, x);
	}
	cJSON *addrs = cJSON_AddArrayToObject(st, "addresses");
	cJSON *ip = cJSON_CreateObject();
	cJSON_AddStringToObject(ip, "type", "InternalIP");
	cJSON_AddStringToObject(ip, "address", h->node_ip);
	cJSON_AddItemToArray(addrs, ip);
	cJSON *info = cJSON_AddObjectToObject(st, "nodeInfo");
	cJSON_AddStringToObject(info, "kubeletVersion", MK_AGENT_KUBELET_VERSION);
	cJSON_AddStringToObject(info, "kubeProxyVersion", MK_AGENT_KUBELET_VERSION);
	cJSON_AddStringToObject(info, "containerRuntimeVersion", "hollow://0");
	cJSON_AddStringToObject(info, "osImage", "minik8s hollow node");
	cJSON_AddStringToObject(info, "operatingSystem", "linux");
	cJSON_AddStringToObject(info, "architecture", go_arch());
	return st;
}

static cJSON *node_object(struct hollow_node *n)
{
	cJSON *node = agent_node_object_new(n->name, go_arch());
	cJSON_AddStringToObject(mk_json_get(node, "metadata.labels"), MK_HOLLOW_LABEL, "true");
	cJSON_AddObjectToObject(node, "spec");
	cJSON_AddItemToObject(node, "status", node_status(n->h));
	return node;
}

static int parse_cidr_base(const char *cidr, uint32_t *ret)
{
	char ip[32];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	struct in_addr in;
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return -1;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1 || atoi(slash + 1) > 24)
		return -1;
	*ret = ntohl(in.s_addr);
	return 0;
}

/* The Node (created, or read back when it exists), its status and podCIDR. */
static int node_register(struct hollow_node *n, struct mk_error **err)
{
	_cleanup_free_ char *esc = mk_client_escape(n->name);
	_cleanup_free_ char *path = mk_strdup_printf("/api/v1/nodes/%s", esc);
	_cleanup_cjson_ cJSON *obj = node_object(n), *node = NULL;
	if (mk_client_create(n->c, "/api/v1/nodes", obj, &node, err) < 0) {
		if ((*err)->code != 409)
			return mk_error_wrap(err, "register node '%s'", n->name);
		mk_error_free(err);
		if (mk_client_get(n->c, path, &node, err) < 0)
			return mk_error_wrap(err, "node '%s'", n->name);
	}
	const char *cidr = mk_json_get_string(node, "spec.podCIDR");
	if (parse_cidr_base(cidr, &n->cidr_base) < 0)
		return mk_error_set(err, EINVAL, "node '%s' has no usable spec.podCIDR ('%s'): a hollow "
				    "node needs a /24 or larger (raise the server's --cluster-cidr "
				    "for more nodes)", n->name, cidr ? cidr : "");
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", node_status(n->h));
	_cleanup_free_ char *spath = mk_strdup_printf("%s/status", path);
	if (mk_client_patch(n->c, spath, "application/merge-patch+json", patch, NULL, err) < 0)
		return mk_error_wrap(err, "node '%s' status", n->name);
	return 0;
}

static int lease_renew(struct hollow_node *n, struct mk_error **err)
{
	char now[64];
	mk_time_micro_now(now, sizeof(now));
	_cleanup_free_ char *esc = mk_client_escape(n->name);
	_cleanup_free_ char *path =
		mk_strdup_printf("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s", esc);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(patch, "spec"), "renewTime", now);
	if (mk_client_patch(n->c, path, "application/merge-patch+json", patch, NULL, err) == 0)
		return 0;
	if ((*err)->code != 404)
		return -1;
	mk_error_free(err);
	_cleanup_cjson_ cJSON *lease = cJSON_CreateObject();
	cJSON_AddStringToObject(lease, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(lease, "kind", "Lease");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(lease, "metadata"), "name", n->name);
	cJSON *spec = cJSON_AddObjectToObject(lease, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", n->name);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", 40);
	cJSON_AddStringToObject(spec, "renewTime", now);
	if (mk_client_create(n->c, "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
			     lease, NULL, err) < 0 && (*err)->code != 409)
		return -1;
	mk_error_free(err);
	return 0;
}

static void on_pod(const struct mk_object *old_obj, const struct mk_object *new_obj, void *ud)
{
	struct hollow_node *n = ud;
	const struct mk_object *o = new_obj ? new_obj : old_obj;
	_cleanup_free_ char *key = mk_strdup_printf("%u/%s", n->idx, o->key);
	mk_workqueue_add(n->h->workers[n->idx % n->h->nworkers].q, key);
}

static int node_start(struct hollow_node *n, struct mk_error **err)
{
	struct mk_hollow *h = n->h;
	n->cfg = mk_client_config_dup(h->bootstrap);
	_cleanup_free_ char *cred = mk_strdup_printf("%s/%s.credential", h->cred_dir, n->name);
	if (mk_client_node_credential(n->cfg, n->name, cred, err) < 0 ||
	    mk_client_new(n->cfg, &n->c, err) < 0 || node_register(n, err) < 0 ||
	    lease_renew(n, err) < 0)
		return -1;
	_cleanup_free_ char *esc = mk_client_escape(n->name);
	_cleanup_free_ char *path = mk_strdup_printf("/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", esc);
	n->pods = mk_informer_new(n->c, path);
	mk_informer_add_handler(n->pods, on_pod, n);
	if (mk_informer_start(n->pods, err) < 0)
		return -1;
	if (mk_informer_wait_synced(n->pods, 60000) != 1)
		return mk_error_set(err, ETIMEDOUT, "node '%s': pod list did not complete", n->name);
	return 0;
}

static void *register_main(void *arg)
{
	struct mk_hollow *h = arg;
	for (;;) {
		unsigned i = atomic_fetch_add(&h->next_reg, 1);
		if (i >= h->n)
			return NULL;
		pthread_mutex_lock(&h->mu);
		bool failed = h->reg_error != NULL;
		pthread_mutex_unlock(&h->mu);
		if (failed)
			return NULL;
		_cleanup_error_ struct mk_error *e = NULL;
		if (node_start(&h->nodes[i], &e) < 0) {
			pthread_mutex_lock(&h->mu);
			if (!h->reg_error)
				h->reg_error = mk_strdup(e->msg);
			pthread_mutex_unlock(&h->mu);
			return NULL;
		}
		atomic_fetch_add(&h->registered, 1);
	}
}

/* ---- pods ---------------------------------------------------------------------- */

/* The pod's address (allocated on first sight, kept per ns/name and uid). */
static bool pod_ip(struct hollow_node *n, const char *key, const char *uid, char *buf, size_t size)
{
	pthread_mutex_lock(&n->mu);
	struct pod_ip *p = mk_hmap_get(&n->ips, key);
	if (p && strcmp(p->uid, uid)) {
		n->used[p->host] = 0;
		free(mk_hmap_del(&n->ips, key));
		p = NULL;
	}
	if (!p) {
		for (unsigned k = 0; k < HOLLOW_HOSTS; k++) {
			unsigned host = (n->next + k) % HOLLOW_HOSTS;
			if (n->used[host])
				continue;
			p = mk_malloc0(sizeof(*p));
			snprintf(p->uid, sizeof(p->uid), "%s", uid);
			p->host = host;
			n->used[host] = 1;
			n->next = host + 1;
			mk_hmap_put(&n->ips, key, p);
			break;
		}
	}
	if (p) {
		struct in_addr in = { .s_addr = htonl(n->cidr_base + 2 + p->host) };
		inet_ntop(AF_INET, &in, buf, (socklen_t)size);
	}
	pthread_mutex_unlock(&n->mu);
	return p != NULL;
}

/* Whether Running was written for this pod's uid (the informer may show the pod
 * once more before its own write comes back); with mark, records it. */
static bool pod_reported(struct hollow_node *n, const char *key, const cJSON *pod, bool mark)
{
	const char *uid = mk_json_get_string(pod, "metadata.uid") ?: "";
	pthread_mutex_lock(&n->mu);
	struct pod_ip *p = mk_hmap_get(&n->ips, key);
	bool was = p && !strcmp(p->uid, uid) && p->reported;
	if (p && mark && !strcmp(p->uid, uid))
		p->reported = true;
	pthread_mutex_unlock(&n->mu);
	return was;
}

static void pod_ip_release(struct hollow_node *n, const char *key)
{
	pthread_mutex_lock(&n->mu);
	struct pod_ip *p = mk_hmap_del(&n->ips, key);
	if (p)
		n->used[p->host] = 0;
	free(p);
	pthread_mutex_unlock(&n->mu);
}

static cJSON *condition(const char *type, const char *now)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", "True");
	cJSON_AddStringToObject(c, "lastTransitionTime", now);
	return c;
}

static cJSON *container_statuses(const cJSON *list, const char *uid, bool init, const char *now)
{
	cJSON *out = cJSON_CreateArray();
	const cJSON *c;
	cJSON_ArrayForEach(c, list)
	{
		const char *name = mk_json_get_string(c, "name") ?: "";
		cJSON *s = cJSON_CreateObject();
		cJSON_AddStringToObject(s, "name", name);
		cJSON_AddStringToObject(s, "image", mk_json_get_string(c, "image") ?: "");
		cJSON_AddStringToObject(s, "imageID", "");
		_cleanup_free_ char *id = mk_strdup_printf("hollow://%s-%s", uid, name);
		cJSON_AddStringToObject(s, "containerID", id);
		cJSON_AddNumberToObject(s, "restartCount", 0);
		cJSON *state = cJSON_AddObjectToObject(s, "state");
		if (init) {
			cJSON *t = cJSON_AddObjectToObject(state, "terminated");
			cJSON_AddNumberToObject(t, "exitCode", 0);
			cJSON_AddStringToObject(t, "reason", "Completed");
			cJSON_AddStringToObject(t, "startedAt", now);
			cJSON_AddStringToObject(t, "finishedAt", now);
		} else {
			cJSON_AddStringToObject(cJSON_AddObjectToObject(state, "running"), "startedAt", now);
		}
		cJSON_AddBoolToObject(s, "ready", !init);
		cJSON_AddBoolToObject(s, "started", !init);
		cJSON_AddItemToArray(out, s);
	}
	return out;
}

static bool is_running(const cJSON *pod)
{
	const char *phase = mk_json_get_string(pod, "status.phase");
	return phase && !strcmp(phase, "Running") && mk_json_get_string(pod, "status.podIP");
}

static int pod_report_running(struct hollow_node *n, const cJSON *pod, const char *key,
			      struct mk_error **err)
{
	const char *uid = mk_json_get_string(pod, "metadata.uid") ?: "";
	char ip[INET_ADDRSTRLEN], now[32];
	if (!pod_ip(n, key, uid, ip, sizeof(ip)))
		return mk_error_set(err, ENOSPC, "node '%s': no pod address left", n->name);
	mk_time_format(time(NULL), now, sizeof(now));
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *st = cJSON_AddObjectToObject(patch, "status");
	cJSON_AddStringToObject(st, "phase", "Running");
	cJSON_AddStringToObject(st, "hostIP", n->h->node_ip);
	cJSON_AddStringToObject(st, "podIP", ip);
	cJSON *ips = cJSON_AddArrayToObject(st, "podIPs");
	cJSON *one = cJSON_CreateObject();
	cJSON_AddStringToObject(one, "ip", ip);
	cJSON_AddItemToArray(ips, one);
	cJSON_AddStringToObject(st, "startTime", now);
	cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
	const char *types[] = { "PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
				"PodScheduled" };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		cJSON_AddItemToArray(conds, condition(types[i], now));
	cJSON_AddItemToObject(st, "containerStatuses",
			      container_statuses(mk_json_get(pod, "spec.containers"), uid, false, now));
	if (mk_json_get(pod, "spec.initContainers"))
		cJSON_AddItemToObject(st, "initContainerStatuses",
				      container_statuses(mk_json_get(pod, "spec.initContainers"), uid,
							 true, now));
	_cleanup_free_ char *path = mk_client_resource_path(
		"v1", "pods", mk_json_get_string(pod, "metadata.namespace"),
		mk_json_get_string(pod, "metadata.name"), "status");
	return mk_client_patch(n->c, path, "application/strategic-merge-patch+json", patch, NULL, err);
}

static int pod_delete(struct hollow_node *n, const cJSON *pod, struct mk_error **err)
{
	_cleanup_free_ char *path = mk_client_resource_path(
		"v1", "pods", mk_json_get_string(pod, "metadata.namespace"),
		mk_json_get_string(pod, "metadata.name"), NULL);
	_cleanup_free_ char *body = mk_strdup_printf(
		"{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0,"
		"\"preconditions\":{\"uid\":\"%s\"}}", mk_json_get_string(pod, "metadata.uid") ?: "");
	struct mk_client_request req = { .method = "DELETE", .path = path, .body = body };
	struct mk_client_response res = { 0 };
	if (mk_client_do(n->c, &req, &res, err) < 0)
		return -1;
	int r = 0;
	if (res.code >= 400 && res.code != 404 && res.code != 409)
		r = mk_client_response_error(&res, err);
	mk_client_response_release(&res);
	return r;
}

/* One pod key "INDEX/ns/name": report it Running, or delete it when marked. */
static int pod_sync(struct mk_hollow *h, const char *qkey)
{
	char *end;
	unsigned long idx = strtoul(qkey, &end, 10);
	if (*end != '/' || idx >= h->n)
		return 0;
	struct hollow_node *n = &h->nodes[idx];
	const char *key = end + 1;
	struct mk_object *o = mk_informer_get(n->pods, key);
	if (!o) {
		pod_ip_release(n, key);
		return 0;
	}
	_cleanup_error_ struct mk_error *e = NULL;
	int r = 0;
	if (mk_json_get(o->json, "metadata.deletionTimestamp")) {
		r = pod_delete(n, o->json, &e);
		if (r == 0)
			atomic_fetch_add(&h->deleted, 1);
	} else if (!is_running(o->json) && !pod_reported(n, key, o->json, false)) {
		r = pod_report_running(n, o->json, key, &e);
		if (r == 0 && !pod_reported(n, key, o->json, true))
			atomic_fetch_add(&h->running, 1);
		else if (e->code == 404)
			r = 0;
	}
	if (r < 0) {
		atomic_fetch_add(&h->errors, 1);
		mk_log(MK_LOG_DEBUG, "hollow", "pod %s on %s: %s", key, n->name, e->msg);
	}
	mk_object_unref(o);
	return r;
}

static void *worker_main(void *arg)
{
	struct hollow_worker *w = arg;
	char *key;
	while (mk_workqueue_get(w->q, -1, &key) == 1) {
		if (pod_sync(w->h, key) < 0)
			mk_workqueue_add_rate_limited(w->q, key);
		else
			mk_workqueue_forget(w->q, key);
		mk_workqueue_done(w->q, key);
		free(key);
	}
	return NULL;
}

/* ---- leases -------------------------------------------------------------------- */

static void *lease_main(void *arg)
{
	struct mk_hollow *h = arg;
	uint64_t step = h->o.heartbeat_ms * 1000ull / h->n; /* µs between two renewals */
	pthread_mutex_lock(&h->mu);
	for (unsigned i = 0; !h->stop; i = (i + 1) % h->n) {
		struct timespec ts;
		mk_time_mono_deadline(&ts, step / 1000 ? step / 1000 : 1);
		while (!h->stop && pthread_cond_timedwait(&h->cond, &h->mu, &ts) != ETIMEDOUT)
			;
		if (h->stop)
			break;
		pthread_mutex_unlock(&h->mu);
		_cleanup_error_ struct mk_error *e = NULL;
		if (lease_renew(&h->nodes[i], &e) < 0) {
			atomic_fetch_add(&h->errors, 1);
			mk_log(MK_LOG_WARN, "hollow", "lease of %s: %s", h->nodes[i].name, e->msg);
		} else {
			atomic_fetch_add(&h->renewals, 1);
		}
		pthread_mutex_lock(&h->mu);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* ---- life cycle ------------------------------------------------------------------ */

int mk_hollow_start(const struct mk_client_config *bootstrap, const struct mk_hollow_options *o,
		    struct mk_hollow **ret, struct mk_error **err)
{
	if (!o->count)
		return mk_error_set(err, EINVAL, "hollow nodes: count must be at least 1");
	if (!o->cred_dir)
		return mk_error_set(err, EINVAL, "hollow nodes: a credential directory is required");
	struct mk_hollow *h = mk_malloc0(sizeof(*h));
	h->o = *o;
	h->prefix = mk_strdup(o->prefix ? o->prefix : "hollow");
	h->node_ip = mk_strdup(o->node_ip ? o->node_ip : "127.0.0.1");
	h->cred_dir = mk_strdup(o->cred_dir);
	h->o.heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : 10000;
	h->o.max_pods = o->max_pods ? o->max_pods : MK_AGENT_MAX_PODS;
	h->nworkers = o->workers ? o->workers : 4;
	h->bootstrap = bootstrap;
	pthread_mutex_init(&h->mu, NULL);
	mk_time_cond_init(&h->cond);
	h->workers = mk_malloc0(h->nworkers * sizeof(*h->workers));
	for (unsigned i = 0; i < h->nworkers; i++) {
		h->workers[i].h = h;
		h->workers[i].q = mk_workqueue_new(100, 5000);
	}
	h->n = o->count;
	h->nodes = mk_malloc0(h->n * sizeof(*h->nodes));
	for (unsigned i = 0; i < h->n; i++) {
		struct hollow_node *n = &h->nodes[i];
		n->h = h;
		n->idx = i;
		n->name = mk_strdup_printf("%s-%u", h->prefix, i);
		pthread_mutex_init(&n->mu, NULL);
		mk_hmap_init(&n->ips);
	}
	*ret = h;
	if (mk_fs_mkdir_p(h->cred_dir, 0700, err) < 0)
		goto fail;
	for (; h->nstarted < h->nworkers; h->nstarted++) {
		struct hollow_worker *w = &h->workers[h->nstarted];
		int r = pthread_create(&w->thread, NULL, worker_main, w);
		if (r) {
			mk_error_errno(err, r, "hollow nodes: worker thread");
			goto fail;
		}
	}
	pthread_t reg[REGISTER_THREADS];
	unsigned nreg = 0;
	for (; nreg < REGISTER_THREADS && nreg < h->n; nreg++)
		if (pthread_create(&reg[nreg], NULL, register_main, h))
			break;
	for (unsigned i = 0; i < nreg; i++)
		pthread_join(reg[i], NULL);
	h->bootstrap = NULL;
	if (h->reg_error || atomic_load(&h->registered) != h->n) {
		mk_error_set(err, EIO, "hollow nodes: %s", h->reg_error ? h->reg_error : "registration stopped");
		goto fail;
	}
	if (pthread_create(&h->lease_thread, NULL, lease_main, h) == 0)
		h->lease_started = true;
	return 0;
fail:
	mk_hollow_stop(h);
	*ret = NULL;
	return -1;
}

void mk_hollow_get_stats(struct mk_hollow *h, struct mk_hollow_stats *ret)
{
	ret->nodes = atomic_load(&h->registered);
	ret->pods_running = atomic_load(&h->running);
	ret->pods_deleted = atomic_load(&h->deleted);
	ret->lease_renewals = atomic_load(&h->renewals);
	ret->write_errors = atomic_load(&h->errors);
}

static void free_ip(void *p)
{
	free(p);
}

void mk_hollow_stop(struct mk_hollow *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->mu);
	if (h->lease_started)
		pthread_join(h->lease_thread, NULL);
	for (unsigned i = 0; i < h->n; i++)
		mk_informer_stop(h->nodes[i].pods);
	for (unsigned i = 0; i < h->nworkers; i++)
		mk_workqueue_shutdown(h->workers[i].q);
	for (unsigned i = 0; i < h->nstarted; i++)
		pthread_join(h->workers[i].thread, NULL);
	for (unsigned i = 0; i < h->n; i++) {
		struct hollow_node *n = &h->nodes[i];
		mk_informer_free(n->pods);
		mk_client_free(n->c);
		mk_client_config_free(n->cfg);
		mk_hmap_release(&n->ips, free_ip);
		pthread_mutex_destroy(&n->mu);
		free(n->name);
	}
	for (unsigned i = 0; i < h->nworkers; i++)
		mk_workqueue_free(h->workers[i].q);
	free(h->nodes);
	free(h->workers);
	free(h->prefix);
	free(h->node_ip);
	free(h->cred_dir);
	free(h->reg_error);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cond);
	free(h);
}
