/* The agent's life cycle: start (runtime, images, network, node registration,
 * pod informer, workers, heartbeat, exit watcher, streaming server), stop, and
 * small helpers shared by the package. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "internal.h"
#include "minik8s/dns.h"
#include "minik8s/proxy.h"
#include "minik8s/netpol.h"
#include "stream.h"

int64_t agent_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void agent_time_ns_format(int64_t ns, char *buf, size_t size)
{
	mk_time_format((time_t)(ns / 1000000000), buf, size);
}

void agent_event(struct mk_agent *a, const cJSON *pod, const char *type, const char *reason,
		 const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* list items carry no kind: build the reference ourselves */
	_cleanup_cjson_ cJSON *ref = cJSON_CreateObject();
	cJSON_AddStringToObject(ref, "apiVersion", "v1");
	cJSON_AddStringToObject(ref, "kind", "Pod");
	cJSON *md = cJSON_AddObjectToObject(ref, "metadata");
	static const char *const keys[] = { "name", "namespace", "uid", "resourceVersion" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
		char path[64];
		snprintf(path, sizeof(path), "metadata.%s", keys[i]);
		const char *v = mk_json_get_string(pod, path);
		if (v)
			cJSON_AddStringToObject(md, keys[i], v);
	}
	mk_event_record(a->rec, AGENT_COMPONENT, ref, type, reason, "%s", msg);
}

int64_t mk_agent_quantity_parse(const char *s, int milli)
{
	static const struct {
		const char *sfx;
		double mul;
	} sfx[] = {
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 },
		{ "Ti", 1099511627776.0 }, { "Pi", 1125899906842624.0 }, { "Ei", 1152921504606846976.0 },
		{ "n", 1e-9 }, { "u", 1e-6 }, { "m", 1e-3 }, { "k", 1e3 }, { "M", 1e6 },
		{ "G", 1e9 }, { "T", 1e12 }, { "P", 1e15 }, { "E", 1e18 }, { "", 1.0 },
	};
	char *end;
	if (!s || !*s)
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 0 || isnan(v))
		return -1;
	for (size_t i = 0; i < MK_ARRAY_SIZE(sfx); i++) {
		if (strcmp(end, sfx[i].sfx))
			continue;
		double r = ceil(v * sfx[i].mul * milli - 1e-9);
		if (r > 9.2e18)
			return -1;
		return (int64_t)r;
	}
	return -1;
}

uint64_t mk_agent_backoff_ms(unsigned restarts, unsigned base_ms, unsigned max_ms)
{
	if (restarts <= 1)
		return 0;
	uint64_t d = base_ms;
	for (unsigned i = 2; i < restarts && d < max_ms; i++)
		d *= 2;
	return d > max_ms ? max_ms : d;
}

const char *mk_agent_pod_cidr(const struct mk_agent *a)
{
	return a->pod_cidr;
}

/* ---- threads ------------------------------------------------------------------ */

static bool is_stopping(struct mk_agent *a)
{
	pthread_mutex_lock(&a->mu);
	bool s = a->stopping;
	pthread_mutex_unlock(&a->mu);
	return s;
}

static void *worker_main(void *arg)
{
	struct mk_agent *a = arg;
	char *key;
	while (mk_workqueue_get(a->q, -1, &key) == 1) {
		int r = agent_pod_sync(a, key);
		if (r < 0 && !is_stopping(a))
			mk_workqueue_add_rate_limited(a->q, key);
		else
			mk_workqueue_forget(a->q, key);
		mk_workqueue_done(a->q, key);
		free(key);
	}
	return NULL;
}

static void enqueue_all(struct mk_agent *a)
{
	struct mk_object **objs = NULL;
	size_t n = mk_informer_list(a->pods, &objs);
	for (size_t i = 0; i < n; i++) {
		const char *uid = mk_json_get_string(objs[i]->json, "metadata.uid");
		if (uid)
			mk_workqueue_add(a->q, uid);
	}
	mk_object_list_free(objs, n);
	/* pods that vanished from the cache but still have state here */
	pthread_mutex_lock(&a->mu);
	for (struct pod_state *s = a->states; s; s = s->next)
		mk_workqueue_add(a->q, s->uid);
	pthread_mutex_unlock(&a->mu);
}

static void *heartbeat_main(void *arg)
{
	struct mk_agent *a = arg;
	int64_t next_hb = agent_now_ms(); /* the lease at once, then every heartbeat */
	int64_t next_status = agent_now_ms() + AGENT_STATUS_REPORT_MS;
	int64_t next_resync = agent_now_ms() + a->resync_ms;

	pthread_mutex_lock(&a->mu);
	while (!a->stopping) {
		int64_t now = agent_now_ms();
		int64_t due = next_hb < next_resync ? next_hb : next_resync;
		if (next_status < due)
			due = next_status;
		if (now < due) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ms = due - now;
			ts.tv_sec += ms / 1000;
			ts.tv_nsec += (ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&a->cond, &a->mu, &ts);
			continue;
		}
		pthread_mutex_unlock(&a->mu);
		if (now >= next_hb) {
			_cleanup_error_ struct mk_error *err = NULL;
			if (agent_node_lease_renew(a, &err) < 0)
				mk_log(MK_LOG_WARN, "agent", "node lease: %s", err->msg);
			next_hb = agent_now_ms() + a->heartbeat_ms;
		}
		if (now >= next_status) {
			_cleanup_error_ struct mk_error *err = NULL;
			if (agent_node_heartbeat(a, &err) < 0)
				mk_log(MK_LOG_WARN, "agent", "node status: %s", err->msg);
			next_status = agent_now_ms() + AGENT_STATUS_REPORT_MS;
		}
		if (now >= next_resync) {
			enqueue_all(a);
			agent_pvc_resync(a);
			agent_volumes_gc(a);
			next_resync = agent_now_ms() + a->resync_ms;
		}
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static void on_pod(const struct mk_object *old_obj, const struct mk_object *new_obj, void *userdata)
{
	struct mk_agent *a = userdata;
	const struct mk_object *o = new_obj ? new_obj : old_obj;
	const char *uid = mk_json_get_string(o->json, "metadata.uid");
	if (uid)
		mk_workqueue_add(a->q, uid);
	/* a pod replaced under the same name: the old uid needs its teardown too */
	if (old_obj && new_obj) {
		const char *ou = mk_json_get_string(old_obj->json, "metadata.uid");
		if (ou && uid && strcmp(ou, uid))
			mk_workqueue_add(a->q, ou);
	}
}

/* Stream server: current and previous runtime container of NS/POD/CONTAINER. */
static int stream_resolve(void *userdata, const char *ns, const char *pod, const char *container,
			  char **ret_current, char **ret_previous, struct mk_error **err)
{
	struct mk_agent *a = userdata;
	_cleanup_free_ char *key = mk_strdup_printf("%s/%s", ns, pod);
	struct mk_object *o = mk_informer_get(a->pods, key);
	const char *uid = o ? mk_json_get_string(o->json, "metadata.uid") : NULL;
	int r = -1;

	if (!uid) {
		mk_object_unref(o);
		return mk_error_set(err, ENOENT, "pod \"%s\" not found on node \"%s\"", pod,
				    a->node_name);
	}
	pthread_mutex_lock(&a->mu);
	for (struct pod_state *s = a->states; s; s = s->next) {
		if (strcmp(s->uid, uid))
			continue;
		for (size_t i = 0; i < s->n; i++) {
			if (strcmp(s->c[i].name, container))
				continue;
			*ret_current = mk_strdup(s->c[i].cid);
			*ret_previous = mk_strdup(s->c[i].prev_cid);
			r = 0;
		}
	}
	pthread_mutex_unlock(&a->mu);
	mk_object_unref(o);
	if (r < 0)
		mk_error_set(err, ENOENT, "container \"%s\" in pod \"%s\" is not available", container,
			     pod);
	return r;
}

/* Stream server, port-forward: the pod's uid and network namespace path (NULL for
 * hostNetwork pods: the node's). The pod must have its sandbox on this node. */
static int stream_resolve_netns(void *userdata, const char *ns, const char *pod, char **ret_uid,
				char **ret_netns, struct mk_error **err)
{
	struct mk_agent *a = userdata;
	_cleanup_free_ char *key = mk_strdup_printf("%s/%s", ns, pod);
	struct mk_object *o = mk_informer_get(a->pods, key);
	const char *uid = o ? mk_json_get_string(o->json, "metadata.uid") : NULL;
	bool known = false;

	if (uid) {
		pthread_mutex_lock(&a->mu);
		for (struct pod_state *s = a->states; s && !known; s = s->next)
			known = !strcmp(s->uid, uid);
		pthread_mutex_unlock(&a->mu);
	}
	if (!known) {
		mk_object_unref(o);
		return mk_error_set(err, ENOENT, "pod \"%s\" not found on node \"%s\"", pod,
				    a->node_name);
	}
	char name[64];
	agent_netns_name(uid, name);
	*ret_netns = agent_host_network(o->json) ? NULL
						 : mk_strdup_printf("%s/%s", a->netns_dir, name);
	*ret_uid = mk_strdup(uid);
	mk_object_unref(o);
	return 0;
}

/* Stream server, /metrics/resource: every container of the node's pods that has a
 * runtime container (the runtime says whether it still runs). */
static int stream_list_containers(void *userdata, struct mk_agent_stream_container **ret,
				  size_t *ret_n, struct mk_error **err)
{
	struct mk_agent *a = userdata;
	size_t n = 0, cap = 0;
	struct mk_agent_stream_container *v = NULL;

	pthread_mutex_lock(&a->mu);
	for (struct pod_state *s = a->states; s; s = s->next) {
		if (s->torn_down)
			continue;
		for (size_t i = 0; i < s->n; i++) {
			if (!s->c[i].cid)
				continue;
			MK_GROW(v, cap, n + 1);
			v[n++] = (struct mk_agent_stream_container){
				.ns = mk_strdup(s->ns), .pod = mk_strdup(s->name),
				.container = mk_strdup(s->c[i].name), .cid = mk_strdup(s->c[i].cid)
			};
		}
	}
	pthread_mutex_unlock(&a->mu);
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- start / stop ------------------------------------------------------------- */

static char *dup_or(const char *s, const char *def)
{
	return mk_strdup(s && *s ? s : def);
}

static int setup_network(struct mk_agent *a, struct mk_error **err)
{
	_cleanup_free_ char *ipam_dir = mk_strdup_printf("%s/ipam", a->data_dir);
	_cleanup_free_ char *ipam_path = mk_strdup_printf("%s/pods.ipam", ipam_dir);
	char addr[MK_NET_CIDR_STRLEN + 8];

	if (mk_fs_mkdir_p(ipam_dir, 0700, err) < 0)
		return -1;
	if (mk_net_ipam_open(ipam_path, a->pod_cidr, &a->ipam, err) < 0) {
		if (!err || !*err || (*err)->code != EINVAL)
			return -1;
		/* the node got another CIDR (it was deleted and re-created): the old
		 * allocations are meaningless now; the pods they belonged to are gone */
		mk_log(MK_LOG_WARN, "agent", "%s; starting a new address allocator for %s",
		       (*err)->msg, a->pod_cidr);
		mk_error_free(err);
		unlink(ipam_path);
		if (mk_net_ipam_open(ipam_path, a->pod_cidr, &a->ipam, err) < 0)
			return -1;
	}
	mk_net_ipam_gateway(a->ipam, a->gateway, &a->prefix);
	snprintf(addr, sizeof(addr), "%s/%d", a->gateway, a->prefix);
	if (mk_net_sock_open(-1, &a->node_sock, err) < 0)
		return -1;
	if (mk_net_bridge_ensure(a->node_sock, a->bridge, addr, err) < 0)
		return mk_error_wrap(err, "bridge '%s'", a->bridge);
	/* routing between pods and out of the node; masquerade is the proxy's job */
	if (mk_net_sysctl_write(-1, "net/ipv4/ip_forward", "1", err) < 0)
		return -1;
	return 0;
}

/* The node's data plane beside the pods: routes to the other nodes' pod CIDRs
 * (routes.c), the ClusterIP balancer and the cluster DNS responder, all API
 * clients fed by informers. The responder answers on the
 * kube-dns ClusterIP, which is made an address of this node (a dummy link, or lo
 * where the kernel has no dummy driver), so pods reach the responder of their own
 * node without DNAT; the balancer leaves that service alone. */
static int agent_dataplane_start(struct mk_agent *a, const struct mk_agent_options *o,
				 struct mk_error **err)
{
	if (!o->disable_dns) {
		char ifname[32];
		const char *listen[] = { a->cluster_dns, NULL };
		struct mk_dns_options d = {
			.server = { .listen = listen, .port = 53, .netns_fd = -1 },
			.domain = a->cluster_domain,
			.ns_address = a->cluster_dns,
		};
		_cleanup_free_ char *addr = mk_strdup_printf("%s/32", a->cluster_dns);
		int r = mk_dns_dummy_ensure(-1, "mkdns0", addr, ifname, err);
		if (r < 0)
			return mk_error_wrap(err, "agent: cluster DNS address");
		a->dns_addr_added = true;
		if (mk_dns_start(a->c, &d, &a->dns, err) < 0)
			return mk_error_wrap(err, "agent: cluster DNS");
	}
	if (agent_routes_start(a, o->cluster_cidr ? o->cluster_cidr : "10.244.0.0/16", err) < 0)
		return -1;
	if (!o->disable_proxy) {
		_cleanup_free_ char *lbstate = mk_strdup_printf("%s/lb-addresses", a->run_dir);
		struct mk_proxy_runner_options p = {
			.proxy = { .netns_fd = -1,
				   .cluster_cidr = o->cluster_cidr ? o->cluster_cidr : "10.244.0.0/16",
				   .bridge = a->bridge },
			.node_name = a->node_name,
			.node_ip = a->node_ip,
			.lb_state_file = lbstate,
			.socklb_cgroup_parent = o->disable_socket_lb ? NULL : a->cgroup_parent,
		};
		if (mk_proxy_start(a->c, &p, &a->proxy, err) < 0)
			return mk_error_wrap(err, "agent: service balancer");
	}
	if (!o->disable_network_policy) {
		struct mk_netpol_runner_options np = {
			.np = { .netns_fd = -1,
				.cluster_cidr = o->cluster_cidr ? o->cluster_cidr : "10.244.0.0/16",
				.bridge = a->bridge },
			.node_name = a->node_name,
		};
		if (mk_netpol_start(a->c, &np, &a->netpol, err) < 0)
			return mk_error_wrap(err, "agent: network policy");
	}
	return 0;
}

/* Stops both; the nft table and the DNS address stay for the next agent (down
 * removes them). */
static void agent_dataplane_stop(struct mk_agent *a)
{
	agent_routes_stop(a);
	mk_proxy_stop(a->proxy);
	a->proxy = NULL;
	mk_netpol_stop(a->netpol);
	a->netpol = NULL;
	mk_dns_stop(a->dns);
	a->dns = NULL;
}

/* A new agent with its options copied, defaults filled in; nothing started. */
static struct mk_agent *agent_new(struct mk_client *c, const struct mk_agent_options *o)
{
	struct mk_agent *a = mk_malloc0(sizeof(*a));
	a->c = c;
	a->epfd = a->wakefd = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cond, NULL);
	pthread_mutex_init(&a->watch_mu, NULL);
	a->node_name = mk_strdup(o->node_name);
	a->node_ip = mk_strdup(o->node_ip);
	a->data_dir = dup_or(o->data_dir, MK_AGENT_DEFAULT_DATA_DIR);
	a->run_dir = dup_or(o->run_dir, MK_AGENT_DEFAULT_RUN_DIR);
	a->netns_dir = o->netns_dir && *o->netns_dir ? mk_strdup(o->netns_dir)
						     : mk_strdup_printf("%s/netns", a->run_dir);
	a->cgroup_parent = dup_or(o->cgroup_parent, MK_AGENT_DEFAULT_CGROUP_PARENT);
	a->bridge = dup_or(o->bridge, MK_NET_BRIDGE_DEFAULT);
	a->cluster_dns = dup_or(o->cluster_dns, MK_AGENT_DEFAULT_CLUSTER_DNS);
	a->cluster_domain = dup_or(o->cluster_domain, MK_AGENT_DEFAULT_CLUSTER_DOMAIN);
	if (o->registries_config) {
		a->registries_config = mk_strdup(o->registries_config);
	} else {
		_cleanup_free_ char *def = mk_strdup_printf("%s/registries.yaml", a->data_dir);
		if (access(def, F_OK) == 0)
			a->registries_config = TAKE_PTR(def);
	}
	a->images_dir = o->images_dir ? mk_strdup(o->images_dir)
				      : mk_strdup_printf("%s/agent/images", a->data_dir);
	a->backoff_base_ms = o->backoff_base_ms ? o->backoff_base_ms : 10000;
	a->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 300000;
	if (a->backoff_max_ms < a->backoff_base_ms)
		a->backoff_max_ms = a->backoff_base_ms;
	a->heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms : 10000;
	a->resync_ms = o->resync_ms ? o->resync_ms : 10000;
	/* most of a pod start is waiting on runc, the shim and the API: many pods
	 * at once, not a few waves of 8 */
	a->workers = o->workers ? o->workers : 32;
	return a;
}

/* The container runtime (and the reaper of its processes), the node's data and
 * run dirs and the image store, with the image archives of images_dir imported
 * (a failed import is only logged). */
static int agent_runtime_open(struct mk_agent *a, const struct mk_agent_options *o,
			      struct mk_error **err)
{
	_cleanup_free_ char *runc_root = mk_strdup_printf("%s/runc", a->run_dir);
	_cleanup_free_ char *state = mk_strdup_printf("%s/containers", a->run_dir);
	_cleanup_free_ char *images = mk_strdup_printf("%s/images", a->data_dir);
	_cleanup_free_ char *pods = mk_strdup_printf("%s/pods", a->data_dir);

	if (mk_runtime_subreaper_init(err) < 0 || mk_runtime_reaper_start(err) < 0)
		return -1;
	if (mk_fs_mkdir_p(a->data_dir, 0700, err) < 0 || mk_fs_mkdir_p(pods, 0700, err) < 0 ||
	    mk_fs_mkdir_p(a->run_dir, 0700, err) < 0)
		return -1;
	struct mk_runtime_config rc = { .runc_path = o->runc_path, .root_dir = runc_root,
					.state_dir = state, .cgroup_parent = a->cgroup_parent };
	if (mk_runtime_new(&rc, &a->rt, err) < 0)
		return -1;
	if (mk_image_store_open(images, &a->images, err) < 0)
		return -1;
	_cleanup_error_ struct mk_error *e = NULL;
	int n = 0;
	if (mk_image_import_dir(a->images, a->images_dir, &n, &e) < 0)
		mk_log(MK_LOG_WARN, "agent", "importing '%s': %s", a->images_dir, e->msg);
	else if (n)
		mk_log(MK_LOG_INFO, "agent", "imported %d image archive(s) from '%s'", n,
		       a->images_dir);
	return 0;
}

/* The work queue, the event recorder and the informer of the pods bound to this
 * node, started and synced (30 s at most). */
static int agent_pods_watch(struct mk_agent *a, struct mk_error **err)
{
	_cleanup_free_ char *esc = mk_client_escape(a->node_name);
	_cleanup_free_ char *path =
		mk_strdup_printf("/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", esc);

	a->q = mk_workqueue_new(100, a->backoff_max_ms);
	a->rec = mk_event_recorder_new(a->c);
	a->pods = mk_informer_new(a->c, path);
	mk_informer_add_index(a->pods, "uid", mk_index_uid);
	mk_informer_add_handler(a->pods, on_pod, a);
	if (mk_informer_start(a->pods, err) < 0)
		return -1;
	if (!mk_informer_wait_synced(a->pods, 30000))
		return mk_error_set(err, ETIMEDOUT,
				    "agent: the pod list did not arrive within 30 s");
	return 0;
}

/* The pod workers and the heartbeat thread; a->workers is lowered to the
 * number that started when one fails, so stop joins only those. */
static int agent_threads_start(struct mk_agent *a, struct mk_error **err)
{
	a->worker_threads = mk_malloc0(a->workers * sizeof(pthread_t));
	for (unsigned i = 0; i < a->workers; i++) {
		int r = pthread_create(&a->worker_threads[i], NULL, worker_main, a);
		if (r) {
			a->workers = i;
			return mk_error_errno(err, r, "agent: worker thread");
		}
	}
	int r = pthread_create(&a->heartbeat_thread, NULL, heartbeat_main, a);
	if (r)
		return mk_error_errno(err, r, "agent: heartbeat thread");
	a->heartbeat_started = true;
	return 0;
}

/* The streaming server (logs, exec, attach, port-forward, metrics) when a client
 * CA is given; a failure is logged and the agent runs without it. */
static void agent_stream_start(struct mk_agent *a, const struct mk_agent_options *o)
{
	if (o->disable_stream || !o->stream_client_ca)
		return;
	_cleanup_free_ char *crt = mk_strdup_printf("%s/agent/serving.crt", a->data_dir);
	_cleanup_free_ char *key = mk_strdup_printf("%s/agent/serving.key", a->data_dir);
	_cleanup_free_ char *dir = mk_strdup_printf("%s/agent", a->data_dir);
	_cleanup_error_ struct mk_error *e = NULL;
	struct mk_agent_stream *s = NULL;
	struct mk_agent_stream_options so = {
		.bind_address = o->stream_address,
		.port = o->stream_port,
		.tls_cert_file = crt,
		.tls_key_file = key,
		.client_ca_file = o->stream_client_ca,
		.runtime = a->rt,
		.resolve = stream_resolve,
		.resolve_netns = stream_resolve_netns,
		.list_containers = stream_list_containers,
		.resolve_userdata = a,
		.dns_address = o->disable_dns ? NULL : a->cluster_dns,
	};
	if (mk_fs_mkdir_p(dir, 0700, &e) < 0 || mk_agent_stream_start(&so, &s, &e) < 0)
		mk_log(MK_LOG_WARN, "agent", "log/exec server: %s", e->msg);
	a->stream = s;
}

int mk_agent_start(struct mk_client *c, const struct mk_agent_options *o, struct mk_agent **ret,
		   struct mk_error **err)
{
	if (!o || !o->node_name || !*o->node_name)
		return mk_error_set(err, EINVAL, "agent: a node name is required");
	if (agent_overlay_validate(o, err) < 0)
		return -1;
	struct mk_agent *a = agent_new(c, o);

	if (agent_runtime_open(a, o, err) < 0)
		goto fail;
	if (agent_node_register(a, err) < 0 || agent_pvc_start(a, err) < 0)
		goto fail;
	if (setup_network(a, err) < 0)
		goto fail;
	if (agent_overlay_init(a, o, err) < 0)
		goto fail;
	if (agent_pods_watch(a, err) < 0)
		goto fail;
	if (agent_volumes_start(a, err) < 0)
		goto fail;
	if (agent_svcenv_start(a, err) < 0)
		goto fail;
	/* what an earlier agent left: adopt it for live pods, remove the rest */
	agent_reconcile(a);
	if (agent_watcher_start(a, err) < 0)
		goto fail;
	if (agent_threads_start(a, err) < 0)
		goto fail;
	enqueue_all(a);
	agent_stream_start(a, o);
	if (agent_dataplane_start(a, o, err) < 0)
		goto fail;
	*ret = a;
	return 0;
fail:
	mk_agent_stop(a);
	return -1;
}

void mk_agent_stop(struct mk_agent *a)
{
	if (!a)
		return;
	agent_dataplane_stop(a);
	agent_overlay_free(a);
	mk_agent_stream_stop(a->stream);
	pthread_mutex_lock(&a->mu);
	a->stopping = true;
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->mu);
	if (a->pods)
		mk_informer_stop(a->pods);
	if (a->q)
		mk_workqueue_shutdown(a->q);
	for (unsigned i = 0; a->worker_threads && i < a->workers; i++)
		pthread_join(a->worker_threads[i], NULL);
	if (a->heartbeat_started)
		pthread_join(a->heartbeat_thread, NULL);
	agent_volumes_stop(a); /* after the workers: they read its caches */
	agent_svcenv_stop(a);
	agent_watcher_stop(a);
	agent_pvc_stop(a);
	mk_event_recorder_free(a->rec);
	mk_informer_free(a->pods);
	mk_workqueue_free(a->q);
	while (a->states) {
		struct pod_state *s = a->states;
		a->states = s->next;
		agent_pod_state_free(s);
	}
	mk_runtime_container_list_free(a->adopt, a->n_adopt);
	mk_net_ipam_free(a->ipam);
	mk_net_sock_free(a->node_sock);
	mk_image_store_free(a->images);
	mk_runtime_free(a->rt);
	cJSON_Delete(a->node_static);
	free(a->worker_threads);
	free(a->pod_cidr);
	free(a->ready_since);
	free(a->node_name);
	free(a->node_ip);
	free(a->data_dir);
	free(a->run_dir);
	free(a->netns_dir);
	free(a->cgroup_parent);
	free(a->bridge);
	free(a->cluster_dns);
	free(a->cluster_domain);
	free(a->registries_config);
	free(a->images_dir);
	pthread_mutex_destroy(&a->watch_mu);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
