/* Cross-node pod routes, as the backend overlay.c chose says: every other node's
 * pod CIDR via that node's InternalIP when it is on-link (host-gw, and vxlan's
 * direct routing: the Vagrant lab, the namespaces of the multi-node test), or via
 * the peer's VTEP on mk-vxlan with the neighbour and FDB entries that go with it
 * (vxlan: nodes on different networks); nothing for backend none. Level-triggered:
 * a thread recomputes the wanted state from the Node informer whenever a node
 * changes (and every 30 s), replaces missing or wrong routes, neighbours and FDB
 * entries and deletes routes into the cluster CIDR, and mk-vxlan entries, that no
 * peer is given any more. Device routes (a bridge of this node, or of another
 * agent sharing the namespace) are never touched. */
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

/* one peer's wanted state */
struct peer {
	const char *name, *cidr;
	char gw[MK_NET_IP_STRLEN];	/* next hop: InternalIP (direct) or VTEP (vxlan) */
	bool vxlan;
	char mac[MK_NET_MAC_STRLEN];	/* vxlan: the peer's VTEP MAC */
	char pub[MK_NET_IP_STRLEN];	/* vxlan: the peer's underlay address */
};

static bool route_ok(const struct mk_net_route *routes, size_t nr, const struct peer *p,
		     bool *ret_device)
{
	bool ok = false;
	*ret_device = false;
	for (size_t j = 0; j < nr; j++) {
		if (strcmp(routes[j].dst, p->cidr))
			continue;
		*ret_device = !routes[j].gw[0];
		ok = !strcmp(routes[j].gw, p->gw) &&
		     (!p->vxlan || !strcmp(routes[j].ifname, AGENT_VXLAN_DEV));
	}
	return ok;
}

/* mk-vxlan's neighbours and FDB entries: exactly one of each per vxlan peer */
static void reconcile_vxlan(struct mk_agent *a, const struct peer *peers, size_t np)
{
	struct mk_net_neigh *v = NULL;
	size_t n = 0;
	_cleanup_error_ struct mk_error *err = NULL;

	for (size_t i = 0; i < np; i++) {
		_cleanup_error_ struct mk_error *e = NULL;
		if (!peers[i].vxlan)
			continue;
		if (mk_net_neigh_replace(a->node_sock, AGENT_VXLAN_DEV, peers[i].gw, peers[i].mac, &e) < 0 ||
		    mk_net_fdb_replace(a->node_sock, AGENT_VXLAN_DEV, peers[i].mac, peers[i].pub, &e) < 0)
			mk_log(MK_LOG_WARN, "agent", "vxlan peer %s: %s", peers[i].name, e->msg);
	}
	if (mk_net_neigh_list(a->node_sock, AGENT_VXLAN_DEV, &v, &n, &err) == 0) {
		for (size_t j = 0; j < n; j++) {
			bool wanted = false;
			for (size_t i = 0; i < np && !wanted; i++)
				wanted = peers[i].vxlan && !strcmp(peers[i].gw, v[j].ip) &&
					 !strcmp(peers[i].mac, v[j].mac);
			if (!wanted)
				mk_net_neigh_delete(a->node_sock, AGENT_VXLAN_DEV, v[j].ip, NULL);
		}
		free(v);
	}
	v = NULL;
	n = 0;
	if (mk_net_fdb_list(a->node_sock, AGENT_VXLAN_DEV, &v, &n, &err) == 0) {
		for (size_t j = 0; j < n; j++) {
			bool wanted = false;
			for (size_t i = 0; i < np && !wanted; i++)
				wanted = peers[i].vxlan && !strcmp(peers[i].pub, v[j].ip) &&
					 !strcmp(peers[i].mac, v[j].mac);
			if (!wanted)
				mk_net_fdb_delete(a->node_sock, AGENT_VXLAN_DEV, v[j].mac, v[j].ip, NULL);
		}
		free(v);
	}
}

/* The wanted state of node n into *p: false when n is no peer (this node, no
 * address or CIDR, a CIDR outside the cluster's or ours, a backend that skips it,
 * unreachable, or a vxlan peer without a published VTEP yet). *need_vxlan is set
 * for a vxlan peer, published or not. */
static bool peer_from_node(struct agent_routes *r, const cJSON *n, struct peer *p,
			   bool *need_vxlan)
{
	struct mk_agent *a = r->a;
	const char *name = mk_json_get_string(n, "metadata.name");
	const char *cidr = mk_json_get_string(n, "spec.podCIDR");
	const char *ip = internal_ip(n);
	if (!name || !cidr || !ip || !strcmp(name, a->node_name) || !in_cluster(r, cidr) ||
	    (a->pod_cidr && !strcmp(cidr, a->pod_cidr)))
		return false;
	p->name = name;
	p->cidr = cidr;
	switch (agent_overlay_peer_path(a, ip)) {
	case AGENT_PEER_SKIP:
		return false;
	case AGENT_PEER_UNREACHABLE:
		agent_overlay_warn_once(a, name, ip);
		return false;
	case AGENT_PEER_DIRECT:
		snprintf(p->gw, sizeof(p->gw), "%s", ip);
		break;
	case AGENT_PEER_VXLAN:
		/* our device (and its published MAC) first: the peer waits for it
		 * as we wait for its */
		*need_vxlan = true;
		if (agent_overlay_peer_vtep(n, cidr, p->gw, p->mac, p->pub) < 0) {
			mk_log(MK_LOG_DEBUG, "agent", "vxlan peer %s: no VTEP published yet", name);
			return false;
		}
		p->vxlan = true;
		break;
	}
	return true;
}

/* Missing or wrong routes to the peers replaced (a device route is left alone;
 * vxlan ones wait for the device). */
static void routes_apply(struct mk_agent *a, const struct peer *peers, size_t np,
			 const struct mk_net_route *routes, size_t nr, bool vxlan_ready)
{
	for (size_t i = 0; i < np; i++) {
		const struct peer *p = &peers[i];
		bool device;
		if (route_ok(routes, nr, p, &device) || device || (p->vxlan && !vxlan_ready))
			continue;
		_cleanup_error_ struct mk_error *e = NULL;
		int rc = p->vxlan ? mk_net_route_replace_onlink(a->node_sock, p->cidr, p->gw,
								AGENT_VXLAN_DEV, &e)
				  : mk_net_route_replace(a->node_sock, p->cidr, p->gw, NULL, &e);
		if (rc < 0)
			mk_log(MK_LOG_WARN, "agent", "route %s via %s%s (node %s): %s", p->cidr, p->gw,
			       p->vxlan ? " dev " AGENT_VXLAN_DEV : "", p->name, e->msg);
		else
			mk_log(MK_LOG_INFO, "agent", "route %s via %s%s (node %s)", p->cidr, p->gw,
			       p->vxlan ? " dev " AGENT_VXLAN_DEV " onlink" : "", p->name);
	}
}

/* Unwanted: gateway routes into the cluster CIDR that no peer is given. */
static void routes_prune(struct agent_routes *r, const struct peer *peers, size_t np,
			 const struct mk_net_route *routes, size_t nr)
{
	for (size_t j = 0; j < nr; j++) {
		bool wanted = false;
		if (!routes[j].gw[0] || !in_cluster(r, routes[j].dst))
			continue;
		for (size_t i = 0; i < np && !wanted; i++)
			wanted = !strcmp(peers[i].cidr, routes[j].dst);
		if (wanted)
			continue;
		_cleanup_error_ struct mk_error *e = NULL;
		if (mk_net_route_delete(r->a->node_sock, routes[j].dst, &e) < 0)
			mk_log(MK_LOG_WARN, "agent", "remove route %s: %s", routes[j].dst, e->msg);
	}
}

static void reconcile(struct agent_routes *r)
{
	struct mk_agent *a = r->a;
	struct mk_object **nodes = NULL;
	struct mk_net_route *routes = NULL;
	size_t nn = mk_informer_list(r->nodes, &nodes), nr = 0, np = 0;
	struct peer *peers = mk_malloc0((nn ? nn : 1) * sizeof(*peers));
	bool need_vxlan = false, vxlan_ready = false;
	_cleanup_error_ struct mk_error *err = NULL;

	if (!agent_overlay_routes_managed(a))
		goto out; /* backend none: the routes are someone else's */
	if (mk_net_route_list(a->node_sock, &routes, &nr, &err) < 0) {
		mk_log(MK_LOG_WARN, "agent", "routes: %s", err->msg);
		goto out;
	}
	/* wanted: other nodes' CIDRs via their addresses, or via mk-vxlan */
	for (size_t i = 0; i < nn; i++)
		if (peer_from_node(r, nodes[i]->json, &peers[np], &need_vxlan))
			np++;
	if (need_vxlan) {
		_cleanup_error_ struct mk_error *e = NULL;
		vxlan_ready = agent_overlay_vxlan_ensure(a, &e) == 0;
		if (!vxlan_ready)
			mk_log(MK_LOG_WARN, "agent", "%s", e->msg);
		else
			reconcile_vxlan(a, peers, np);
	} else if (mk_net_link_exists(a->node_sock, AGENT_VXLAN_DEV, NULL) == 1) {
		reconcile_vxlan(a, peers, 0); /* peers gone: their entries go */
	}
	routes_apply(a, peers, np, routes, nr, vxlan_ready);
	routes_prune(r, peers, np, routes, nr);
out:
	free(peers);
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
