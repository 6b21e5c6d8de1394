/* The backend that carries pod traffic between nodes, after flannel (the CNI k3s
 * embeds) and k3s' --flannel-backend:
 *
 *   host-gw  a route per peer: its pod CIDR via its InternalIP. Works only when
 *            the peers share an L2 segment; a peer that is not on-link gets a
 *            warning (log and a Node event) and no route.
 *   vxlan    a VXLAN device mk-vxlan (VNI 1, UDP 8472, learning off, local =
 *            the underlay address, flannel's flannel.1) carries everything. Its
 *            address is the .0 of this node's pod CIDR (/32: the VTEP address).
 *            Per peer: route PEER_CIDR via PEER_VTEP dev mk-vxlan onlink, a
 *            permanent neighbour PEER_VTEP -> PEER_VTEP_MAC and an FDB entry
 *            PEER_VTEP_MAC -> PEER_PUBLIC_IP (flannel's vxlan_network.go).
 *            Pods get the underlay MTU minus 50 (VXLAN's outer IPv4+UDP+VXLAN+
 *            Ethernet headers), as flannel's subnet.env says.
 *   (default) vxlan with flannel's DirectRouting: a peer on the same subnet as
 *            this node's underlay address gets the plain host-gw route, the
 *            others go through mk-vxlan (created when a first peer needs it).
 *   none     no cross-node routes at all (the user brings a CNI).
 *   wireguard-native is refused at start: this kernel has no WireGuard (the
 *            probe link cannot be created) and the backend is not implemented.
 *
 * The choice: the agent's --flannel-backend, else the cluster's, which the
 * server's own agent publishes on its Node as flannel's net-conf.json
 * (annotation minik8s.io/flannel-net-conf: {"Network":..,"Backend":{"Type":..,
 * "DirectRouting":..}}), else the default. Each node publishes flannel's own
 * annotations: flannel.alpha.coreos.com/backend-type, backend-data
 * ({"VNI":1,"VtepMAC":".."} for vxlan) and public-ip; peers read the VTEP MAC
 * and underlay address from them. routes.c applies all of it, level-triggered. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include "internal.h"

#define ANN_BACKEND_TYPE "flannel.alpha.coreos.com/backend-type"
#define ANN_BACKEND_DATA "flannel.alpha.coreos.com/backend-data"
#define ANN_PUBLIC_IP "flannel.alpha.coreos.com/public-ip"
#define ANN_SUBNET_MANAGER "flannel.alpha.coreos.com/kube-subnet-manager"
#define ANN_NET_CONF "minik8s.io/flannel-net-conf"
#define VXLAN_VNI 1
#define VXLAN_PORT 8472
#define VXLAN_OVERHEAD 50

struct agent_overlay {
	enum agent_backend backend;
	bool direct_routing; /* vxlan only to peers off this node's subnet */
	char iface[MK_NET_IFNAMSIZ];
	char local[MK_NET_IP_STRLEN];
	uint32_t net, mask; /* the underlay subnet, host order */
	unsigned underlay_mtu;
	char vtep[MK_NET_CIDR_STRLEN]; /* "10.244.1.0/32" */
	pthread_mutex_t mu;	       /* guards what follows */
	char mac[MK_NET_MAC_STRLEN];   /* mk-vxlan's, once it exists */
	bool mac_published;
	char **warned; /* "peer ip" keys already warned about */
	size_t n_warned;
};

static const char *backend_name(enum agent_backend b)
{
	return b == AGENT_BACKEND_VXLAN ? "vxlan" : b == AGENT_BACKEND_HOST_GW ? "host-gw" : "none";
}

static int backend_parse(const char *s, enum agent_backend *ret, struct mk_error **err)
{
	if (!strcmp(s, "vxlan"))
		*ret = AGENT_BACKEND_VXLAN;
	else if (!strcmp(s, "host-gw"))
		*ret = AGENT_BACKEND_HOST_GW;
	else if (!strcmp(s, "none"))
		*ret = AGENT_BACKEND_NONE;
	else
		return mk_error_set(err, EINVAL,
				    "unknown flannel backend '%s' (vxlan, host-gw, none, "
				    "wireguard-native)",
				    s);
	return 0;
}

int agent_overlay_validate(const struct mk_agent_options *o, struct mk_error **err)
{
	enum agent_backend b;
	if (!o->flannel_backend)
		return 0;
	if (!strcmp(o->flannel_backend, "wireguard-native")) {
		struct mk_net_sock *s = NULL;
		int r;
		if (mk_net_sock_open(-1, &s, err) < 0)
			return -1;
		r = mk_net_link_kind_supported(s, "wireguard", err);
		mk_net_sock_free(s);
		if (r < 0)
			return mk_error_wrap(err, "flannel backend 'wireguard-native'");
		if (!r)
			return mk_error_set(err, EOPNOTSUPP,
					    "flannel backend 'wireguard-native': this kernel has no "
					    "WireGuard (a wireguard link cannot be created: Unknown "
					    "device type); use vxlan or host-gw");
		return mk_error_set(err, EOPNOTSUPP,
				    "flannel backend 'wireguard-native' is not implemented by "
				    "minik8s; use vxlan or host-gw");
	}
	return backend_parse(o->flannel_backend, &b, err);
}

int mk_agent_options_check(const struct mk_agent_options *o, struct mk_error **err)
{
	return agent_overlay_validate(o, err);
}

static const char *annotation(const cJSON *node, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(mk_json_get(node, "metadata.annotations"),
							  key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* the cluster's choice, from the net-conf a node (the server's) publishes */
static void follow_cluster(struct mk_agent *a, struct agent_overlay *ov)
{
	_cleanup_cjson_ cJSON *list = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	const cJSON *n;

	if (mk_client_get(a->c, "/api/v1/nodes", &list, &e) < 0) {
		mk_log(MK_LOG_WARN, "agent", "flannel: reading the cluster's backend: %s", e->msg);
		return;
	}
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(list, "items"))
	{
		const char *conf = annotation(n, ANN_NET_CONF);
		_cleanup_cjson_ cJSON *j = conf ? cJSON_Parse(conf) : NULL;
		const char *type = mk_json_get_string(j, "Backend.Type");
		enum agent_backend b;
		if (!type || backend_parse(type, &b, NULL) < 0)
			continue;
		ov->backend = b;
		ov->direct_routing = cJSON_IsTrue(mk_json_get(j, "Backend.DirectRouting"));
		mk_log(MK_LOG_INFO, "agent", "flannel: following the cluster's backend %s%s (node %s)",
		       type, ov->direct_routing ? " with direct routing" : "",
		       mk_json_get_string(n, "metadata.name"));
		return;
	}
}

static int underlay(struct mk_agent *a, const struct mk_agent_options *o, struct agent_overlay *ov,
		    struct mk_error **err)
{
	int prefix = 32;
	struct in_addr in;

	if (o->flannel_iface) {
		char **addrs = NULL;
		size_t n = 0;
		if (mk_net_addr_list(a->node_sock, o->flannel_iface, &addrs, &n, err) < 0)
			return mk_error_wrap(err, "--flannel-iface '%s'", o->flannel_iface);
		if (n)
			sscanf(addrs[0], "%15[0-9.]/%d", ov->local, &prefix);
		for (size_t i = 0; i < n; i++)
			free(addrs[i]);
		free(addrs);
		if (!n)
			return mk_error_set(err, ENOENT, "--flannel-iface '%s' has no IPv4 address",
					    o->flannel_iface);
		snprintf(ov->iface, sizeof(ov->iface), "%s", o->flannel_iface);
		_cleanup_error_ struct mk_error *e = NULL;
		mk_net_addr_owner(a->node_sock, ov->local, NULL, NULL, &ov->underlay_mtu, &e);
	} else {
		snprintf(ov->local, sizeof(ov->local), "%s", a->node_ip);
		if (mk_net_addr_owner(a->node_sock, a->node_ip, ov->iface, &prefix, &ov->underlay_mtu,
				      err) < 0)
			return mk_error_wrap(err, "flannel: the underlay of node address %s",
					     a->node_ip);
	}
	if (inet_pton(AF_INET, ov->local, &in) != 1)
		return mk_error_set(err, EINVAL, "flannel: bad underlay address '%s'", ov->local);
	ov->mask = prefix ? ~0u << (32 - prefix) : 0;
	ov->net = ntohl(in.s_addr) & ov->mask;
	return 0;
}

static int publish(struct mk_agent *a, struct agent_overlay *ov, bool net_conf, const char *cidr,
		   struct mk_error **err)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"),
					     "annotations");
	_cleanup_free_ char *esc = mk_client_escape(a->node_name);
	_cleanup_free_ char *path = mk_strdup_printf("/api/v1/nodes/%s", esc);

	cJSON_AddStringToObject(ann, ANN_BACKEND_TYPE, backend_name(ov->backend));
	cJSON_AddStringToObject(ann, ANN_PUBLIC_IP, ov->local);
	cJSON_AddStringToObject(ann, ANN_SUBNET_MANAGER, "true");
	if (ov->mac[0]) {
		_cleanup_free_ char *d =
			mk_strdup_printf("{\"VNI\":%d,\"VtepMAC\":\"%s\"}", VXLAN_VNI, ov->mac);
		cJSON_AddStringToObject(ann, ANN_BACKEND_DATA, d);
	} else {
		cJSON_AddStringToObject(ann, ANN_BACKEND_DATA, "null");
	}
	if (net_conf) {
		_cleanup_free_ char *c = mk_strdup_printf(
			"{\"Network\":\"%s\",\"Backend\":{\"Type\":\"%s\",\"DirectRouting\":%s}}", cidr,
			backend_name(ov->backend), ov->direct_routing ? "true" : "false");
		cJSON_AddStringToObject(ann, ANN_NET_CONF, c);
	}
	if (mk_client_patch(a->c, path, "application/merge-patch+json", patch, NULL, err) < 0)
		return mk_error_wrap(err, "flannel: annotate node '%s'", a->node_name);
	return 0;
}

int agent_overlay_init(struct mk_agent *a, const struct mk_agent_options *o, struct mk_error **err)
{
	struct agent_overlay *ov = mk_malloc0(sizeof(*ov));
	const char *cidr = o->cluster_cidr ? o->cluster_cidr : "10.244.0.0/16";

	pthread_mutex_init(&ov->mu, NULL);
	a->overlay = ov;
	ov->backend = AGENT_BACKEND_VXLAN;
	ov->direct_routing = true;
	if (o->flannel_backend) {
		if (backend_parse(o->flannel_backend, &ov->backend, err) < 0)
			return -1;
		ov->direct_routing = false;
	} else if (!o->flannel_publish) {
		follow_cluster(a, ov);
	}
	if (underlay(a, o, ov, err) < 0) {
		if (o->flannel_backend || !err || !*err)
			return -1;
		/* the default backend on a node whose address is not one of its own
		 * (a NAT'd VM, a test): every peer is taken as on-link, as before */
		mk_log(MK_LOG_WARN, "agent", "%s; direct routes only", (*err)->msg);
		mk_error_free(err);
		ov->direct_routing = true;
		ov->mask = ov->net = 0;
		ov->underlay_mtu = 0;
	}
	if (!strcmp(ov->iface, "lo"))
		ov->underlay_mtu = 0; /* a node alone on loopback: no peers, no tunnel MTU */
	/* the VTEP address: the network address of the node's pod CIDR */
	snprintf(ov->vtep, sizeof(ov->vtep), "%s", a->pod_cidr);
	char *slash = strchr(ov->vtep, '/');
	if (slash)
		strcpy(slash, "/32");
	if (ov->backend == AGENT_BACKEND_VXLAN && ov->underlay_mtu > VXLAN_OVERHEAD)
		a->pod_mtu = ov->underlay_mtu - VXLAN_OVERHEAD;
	mk_log(MK_LOG_INFO, "agent",
	       "flannel: backend %s%s, underlay %s (%s, mtu %u), pod mtu %u", backend_name(ov->backend),
	       ov->backend == AGENT_BACKEND_VXLAN && ov->direct_routing ? " with direct routing" : "",
	       ov->iface[0] ? ov->iface : "?", ov->local, ov->underlay_mtu, a->pod_mtu);
	/* a forced vxlan node has its device (and its MAC to publish) from the start */
	if (ov->backend == AGENT_BACKEND_VXLAN && !ov->direct_routing &&
	    agent_overlay_vxlan_ensure(a, err) < 0)
		return -1;
	if (publish(a, ov, o->flannel_publish, cidr, err) < 0)
		return -1;
	ov->mac_published = ov->mac[0] != '\0';
	return 0;
}

void agent_overlay_free(struct mk_agent *a)
{
	struct agent_overlay *ov = a->overlay;
	if (!ov)
		return;
	for (size_t i = 0; i < ov->n_warned; i++)
		free(ov->warned[i]);
	free(ov->warned);
	pthread_mutex_destroy(&ov->mu);
	free(ov);
	a->overlay = NULL;
}

bool agent_overlay_routes_managed(struct mk_agent *a)
{
	return a->overlay && a->overlay->backend != AGENT_BACKEND_NONE;
}

enum agent_peer_path agent_overlay_peer_path(struct mk_agent *a, const char *ip)
{
	struct agent_overlay *ov = a->overlay;
	struct in_addr in;
	bool onlink;

	if (!ov || ov->backend == AGENT_BACKEND_NONE || !ip || inet_pton(AF_INET, ip, &in) != 1)
		return AGENT_PEER_SKIP;
	onlink = (ntohl(in.s_addr) & ov->mask) == ov->net;
	if (ov->backend == AGENT_BACKEND_HOST_GW)
		return onlink ? AGENT_PEER_DIRECT : AGENT_PEER_UNREACHABLE;
	return onlink && ov->direct_routing ? AGENT_PEER_DIRECT : AGENT_PEER_VXLAN;
}

int agent_overlay_peer_vtep(const cJSON *node, const char *cidr, char vtep[MK_NET_IP_STRLEN],
			    char mac[MK_NET_MAC_STRLEN], char pub[MK_NET_IP_STRLEN])
{
	const char *data = annotation(node, ANN_BACKEND_DATA);
	const char *ip = annotation(node, ANN_PUBLIC_IP);
	_cleanup_cjson_ cJSON *j = data ? cJSON_Parse(data) : NULL;
	const char *m = mk_json_get_string(j, "VtepMAC");
	struct in_addr in;

	if (!m || strlen(m) != 17 || !ip || inet_pton(AF_INET, ip, &in) != 1 ||
	    sscanf(cidr, "%15[0-9.]", vtep) != 1)
		return -1;
	snprintf(mac, MK_NET_MAC_STRLEN, "%s", m);
	snprintf(pub, MK_NET_IP_STRLEN, "%s", ip);
	return 0;
}

int agent_overlay_vxlan_ensure(struct mk_agent *a, struct mk_error **err)
{
	struct agent_overlay *ov = a->overlay;
	char mac[MK_NET_MAC_STRLEN];
	struct mk_net_vxlan_config c = {
		.name = AGENT_VXLAN_DEV,
		.vni = VXLAN_VNI,
		.port = VXLAN_PORT,
		.local = ov->local,
		.dev = ov->iface[0] ? ov->iface : NULL,
		.mtu = ov->underlay_mtu > VXLAN_OVERHEAD ? ov->underlay_mtu - VXLAN_OVERHEAD : 0,
	};
	bool publish_now;

	if (mk_net_vxlan_ensure(a->node_sock, &c, mac, err) < 0 ||
	    mk_net_addr_add(a->node_sock, AGENT_VXLAN_DEV, ov->vtep, err) < 0)
		return mk_error_wrap(err, "flannel: vxlan device");
	pthread_mutex_lock(&ov->mu);
	publish_now = strcmp(ov->mac, mac) || !ov->mac_published;
	if (strcmp(ov->mac, mac))
		mk_log(MK_LOG_INFO, "agent", "flannel: %s up (vni %d, port %d, local %s, mac %s)",
		       AGENT_VXLAN_DEV, VXLAN_VNI, VXLAN_PORT, ov->local, mac);
	snprintf(ov->mac, sizeof(ov->mac), "%s", mac);
	pthread_mutex_unlock(&ov->mu);
	/* before init finished, init publishes; afterwards the routes thread does */
	if (publish_now && a->routes) {
		if (publish(a, ov, false, NULL, err) < 0)
			return -1;
		pthread_mutex_lock(&ov->mu);
		ov->mac_published = true;
		pthread_mutex_unlock(&ov->mu);
	}
	return 0;
}

void agent_overlay_warn_once(struct mk_agent *a, const char *peer, const char *ip)
{
	struct agent_overlay *ov = a->overlay;
	_cleanup_free_ char *key = mk_strdup_printf("%s %s", peer, ip);

	pthread_mutex_lock(&ov->mu);
	for (size_t i = 0; i < ov->n_warned; i++)
		if (!strcmp(ov->warned[i], key)) {
			pthread_mutex_unlock(&ov->mu);
			return;
		}
	size_t cap = ov->n_warned;
	MK_GROW(ov->warned, cap, ov->n_warned + 1);
	ov->warned[ov->n_warned++] = TAKE_PTR(key);
	pthread_mutex_unlock(&ov->mu);

	char msg[512];
	snprintf(msg, sizeof(msg),
		 "flannel backend host-gw: node %s (%s) is not on-link from %s (%s): no route to its "
		 "pods; use --flannel-backend=vxlan for nodes on different networks",
		 peer, ip, ov->iface, ov->local);
	mk_log(MK_LOG_ERROR, "agent", "%s", msg);
	if (a->rec) {
		_cleanup_cjson_ cJSON *ref = cJSON_CreateObject();
		cJSON_AddStringToObject(ref, "apiVersion", "v1");
		cJSON_AddStringToObject(ref, "kind", "Node");
		cJSON *md = cJSON_AddObjectToObject(ref, "metadata");
		cJSON_AddStringToObject(md, "name", a->node_name);
		cJSON_AddStringToObject(md, "uid", a->node_name);
		mk_event_record(a->rec, AGENT_COMPONENT, ref, "Warning", "HostGwPeerNotOnLink", "%s", msg);
	}
}
