/* One call per pod: veth pair, address, lo and eth0 up, default route. */
#include <errno.h>
#include <string.h>
#include <netlink/errno.h>
#include "internal.h"

static int configure_pod_side(const struct mk_net_pod_config *c, const char *ifname,
			      struct mk_error **err)
{
	struct mk_net_sock *ps = NULL;
	_cleanup_link_ struct rtnl_link *l = NULL;
	struct in_addr a;
	int prefix, r = -1;

	if (parse_ipv4(c->address, 1, &a, &prefix, err) < 0)
		return -1;
	if (mk_net_sock_open(c->netns_fd, &ps, err) < 0)
		return mk_error_wrap(err, "pod network namespace");
	pthread_mutex_lock(&ps->lock);
	if (link_set_up_locked(ps, "lo", err) < 0 || link_get(ps, ifname, &l, err) < 0 ||
	    addr_add_locked(ps, rtnl_link_get_ifindex(l), a, prefix, err) < 0 ||
	    link_set_up_locked(ps, ifname, err) < 0)
		goto out;
	if (c->gateway &&
	    route_modify_locked(ps, "default", c->gateway, ifname, NLM_F_REPLACE, err) < 0)
		goto out;
	r = 0;
out:
	pthread_mutex_unlock(&ps->lock);
	mk_net_sock_free(ps);
	return r;
}

/* The node's socket is locked for the node-side steps only (the leftover's
 * removal, the veth's creation): the pod side goes over a socket of the pod's own
 * namespace, so the pods of a burst configure theirs in parallel. */
static int veth_replace(struct mk_net_sock *node, const struct mk_net_pod_config *c,
			const char *host, const char *ifname, struct mk_error **err)
{
	struct mk_net_veth_config vc = { .name = host, .peer_name = ifname,
					 .peer_netns_fd = c->netns_fd, .master = c->bridge,
					 .mtu = c->mtu };
	SOCK_LOCK(node);

	if (link_delete_locked(node, host, "veth", err) < 0)
		return mk_error_wrap(err, "pod network '%s': remove leftover veth", c->id);
	if (veth_create_locked(node, &vc, err) < 0)
		return mk_error_wrap(err, "pod network '%s'", c->id);
	return 0;
}

int mk_net_pod_attach(struct mk_net_sock *node, const struct mk_net_pod_config *c,
		      char ret_host_ifname[MK_NET_IFNAMSIZ], struct mk_error **err)
{
	const char *ifname = c->ifname ? c->ifname : "eth0";
	char host[MK_NET_IFNAMSIZ];
	struct in_addr tmp;

	if (!c->id || !*c->id)
		return mk_error_set(err, EINVAL, "pod network: empty id");
	if (c->netns_fd < 0)
		return mk_error_set(err, EINVAL, "pod network '%s': no namespace", c->id);
	if (parse_ipv4(c->address, 1, &tmp, NULL, err) < 0 ||
	    (c->gateway && parse_ipv4(c->gateway, 0, &tmp, NULL, err) < 0))
		return mk_error_wrap(err, "pod network '%s'", c->id);
	mk_net_veth_name(c->id, host);
	if (veth_replace(node, c, host, ifname, err) < 0)
		return -1;
	if (configure_pod_side(c, ifname, err) < 0) {
		pthread_mutex_lock(&node->lock);
		link_delete_locked(node, host, NULL, NULL);
		pthread_mutex_unlock(&node->lock);
		return mk_error_wrap(err, "pod network '%s'", c->id);
	}
	if (ret_host_ifname)
		memcpy(ret_host_ifname, host, MK_NET_IFNAMSIZ);
	return 0;
}

int mk_net_pod_detach(struct mk_net_sock *node, const char *id, struct mk_error **err)
{
	char host[MK_NET_IFNAMSIZ];
	SOCK_LOCK(node);

	if (!id || !*id)
		return mk_error_set(err, EINVAL, "pod network: empty id");
	mk_net_veth_name(id, host);
	return link_delete_locked(node, host, "veth", err);
}
