/* Cross-node pod routes: every other node's pod CIDR via that node's InternalIP,
 * so pods reach pods on other nodes when the nodes share an L2 network (the
 * Vagrant lab, the namespaces of the multi-node test). Level-triggered: a thread
 * recomputes the wanted routes from the Node informer whenever a node changes
 * (and every 30 s), replaces missing or wrong ones and deletes routes into the
 * cluster CIDR that no node claims any more. Device routes (a bridge of this
 * node, or of another agent sharing the namespace) are never touched. Nodes on
 * different L2 segments would need an overlay (VXLAN), which is not done yet. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "internal.h"

#define ROUTES_RESYNC_MS 30000

struct agent_routes {
	struct mk_agent *a;
	struct mk_informer *nodes;
	uint32_t base, mask; /* cluster CIDR, host order */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool dirty, stop;
};

static int parse_cidr(const char *s, uint32_t *ret_base, uint32_t *ret_mask)
{
	char ip[32];
	const char *slash = strchr(s, '/');
	struct in_addr in;
	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	int bits = atoi(slash + 1);
	if (bits < 0 || bits > 32 || inet_pton(AF_INET, ip, &in) != 1)
		return -1;
	*ret_mask = bits ? ~0u << (32 - bits) : 0;
	*ret_base = ntohl(in.s_addr) & *ret_mask;
	return 0;
}

bool agent_cidr_within(const char *outer, const char *inner)
{
	uint32_t ob, om, ib, im;
	return parse_cidr(outer, &ob, &om) == 0 && parse_cidr(inner, &ib, &im) == 0 && im >= om &&
	       (ib & om) == ob;
}

static bool in_cluster(const struct agent_routes *r, const char *cidr)
{
	uint32_t b, m;
	return parse_cidr(cidr, &b, &m) == 0 && m >= r->mask && (b & r->mask) == r->base;
}

static const char *internal_ip(const cJSON *node)
{
	cJSON *addr;
	cJSON_ArrayForEach(addr, mk_json_get(node, "status.addresses"))
	{
		const char *t = mk_json_get_string(addr, "type");
		if (t && !strcmp(t, "InternalIP"))
			return mk_json_get_string(addr, "address");
	}
	return NULL;
}

static void reconcile(struct agent_routes *r)
{
	struct mk_agent *a = r->a;
	struct mk_object **nodes = NULL;
	struct mk_net_route *routes = NULL;
	size_t nn = mk_informer_list(r->nodes, &nodes), nr = 0;
	_cleanup_error_ struct mk_error *err = NULL;

	if (mk_net_route_list(a->node_sock, &routes, &nr, &err) < 0) {
		mk_log(MK_LOG_WARN, "agent", "routes: %s", err->msg);
		mk_object_list_free(nodes, nn);
		return;
	}
	/* wanted: other nodes' CIDRs via their addresses */
	for (size_t i = 0; i < nn; i++) {
		const cJSON *n = nodes[i]->json;
		const char *name = mk_json_get_string(n, "metadata.name");
		const char *cidr = mk_json_get_string(n, "spec.podCIDR");
		const char *ip = internal_ip(n);
		if (!name || !cidr || !ip || !strcmp(name, a->node_name) || !in_cluster(r, cidr) ||
		    (a->pod_cidr && !strcmp(cidr, a->pod_cidr)))
			continue;
		bool ok = false, device = false;
		for (size_t j = 0; j < nr; j++) {
			if (strcmp(routes[j].dst, cidr))
				continue;
			device = !routes[j].gw[0];
			ok = !strcmp(routes[j].gw, ip);
		}
		if (ok || device)
			continue;
		_cleanup_error_ struct mk_error *e = NULL;
		if (mk_net_route_replace(a->node_sock, cidr, ip, NULL, &e) < 0)
			mk_log(MK_LOG_WARN, "agent", "route %s via %s (node %s): %s", cidr, ip, name,
			       e->msg);
		else
			mk_log(MK_LOG_INFO, "agent", "route %s via %s (node %s)", cidr, ip, name);
	}
	/* unwanted: gateway routes into the cluster CIDR that no other node claims */
	for (size_t j = 0; j < nr; j++) {
		bool wanted = false;
		if (!routes[j].gw[0] || !in_cluster(r, routes[j].dst))
			continue;
		for (size_t i = 0; i < nn && !wanted; i++) {
			const char *cidr = mk_json_get_string(nodes[i]->json, "spec.podCIDR");
			const char *name = mk_json_get_string(nodes[i]->json, "metadata.name");
			wanted = cidr && name && strcmp(name, a->node_name) && !strcmp(cidr, routes[j].dst);
		}
		if (wanted)
			continue;
		_cleanup_error_ struct mk_error *e = NULL;
		if (mk_net_route_delete(a->node_sock, routes[j].dst, &e) < 0)
			mk_log(MK_LOG_WARN, "agent", "remove route %s: %s", routes[j].dst, e->msg);
	}
	free(routes);
	mk_object_list_free(nodes, nn);
}

static void *routes_main(void *arg)
{
	struct agent_routes *r = arg;

	mk_informer_wait_synced(r->nodes, 30000);
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		r->dirty = false;
		pthread_mutex_unlock(&r->mu);
		reconcile(r);
		pthread_mutex_lock(&r->mu);
		if (r->dirty || r->stop)
			continue;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ROUTES_RESYNC_MS / 1000;
		while (!r->dirty && !r->stop)
			if (pthread_cond_timedwait(&r->cond, &r->mu, &ts) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static void on_node(const struct mk_object *old_obj, const struct mk_object *new_obj,
		    void *userdata)
{
	struct agent_routes *r = userdata;
	pthread_mutex_lock(&r->mu);
	r->dirty = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

int agent_routes_start(struct mk_agent *a, const char *cluster_cidr, struct mk_error **err)
{
	struct agent_routes *r = mk_malloc0(sizeof(*r));

	r->a = a;
	if (parse_cidr(cluster_cidr, &r->base, &r->mask) < 0) {
		free(r);
		return mk_error_set(err, EINVAL, "agent: invalid cluster CIDR '%s'", cluster_cidr);
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->nodes = mk_informer_new(a->c, "/api/v1/nodes");
	mk_informer_add_handler(r->nodes, on_node, r);
	a->routes = r;
	if (mk_informer_start(r->nodes, err) < 0)
		return mk_error_wrap(err, "agent: node informer");
	int rc = pthread_create(&r->thread, NULL, routes_main, r);
	if (rc)
		return mk_error_errno(err, rc, "agent: routes thread");
	r->started = true;
	return 0;
}

void agent_routes_stop(struct mk_agent *a)
{
	struct agent_routes *r = a->routes;
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	if (r->started)
		pthread_join(r->thread, NULL);
	mk_informer_free(r->nodes);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r);
	a->routes = NULL;
}
