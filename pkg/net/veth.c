/* veth pairs: the pod end is created directly in the pod's namespace
 * (VETH_INFO_PEER carries IFLA_NET_NS_FD), so it never exists in the node's. */
#include <errno.h>
#include <string.h>
#include <netlink/errno.h>
#include <netlink/route/link/veth.h>
#include "internal.h"

int veth_create_locked(struct mk_net_sock *s, const struct mk_net_veth_config *c,
		       struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL, *peer = NULL, *master = NULL;
	int r;

	if (check_ifname(c->name, err) < 0 || check_ifname(c->peer_name, err) < 0)
		return -1;
	if (c->master && link_get(s, c->master, &master, err) < 0)
		return mk_error_wrap(err, "veth '%s' master", c->name);
	l = rtnl_link_veth_alloc();
	if (!l)
		return mk_error_set(err, ENOMEM, "allocate veth");
	rtnl_link_set_name(l, c->name);
	rtnl_link_set_flags(l, IFF_UP);
	if (master)
		rtnl_link_set_master(l, rtnl_link_get_ifindex(master));
	if (c->mtu)
		rtnl_link_set_mtu(l, c->mtu);
	peer = rtnl_link_veth_get_peer(l); /* a new reference */
	rtnl_link_set_name(peer, c->peer_name);
	if (c->peer_netns_fd >= 0)
		rtnl_link_set_ns_fd(peer, c->peer_netns_fd);
	if (c->mtu)
		rtnl_link_set_mtu(peer, c->mtu);
	r = rtnl_link_add(s->nl, l, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return nl_error(err, r, "create veth '%s' (peer '%s')", c->name, c->peer_name);
	return 0;
}

int mk_net_veth_create(struct mk_net_sock *s, const struct mk_net_veth_config *c,
		       struct mk_error **err)
{
	SOCK_LOCK(s);
	return veth_create_locked(s, c, err);
}

int mk_net_veth_delete(struct mk_net_sock *s, const char *name, struct mk_error **err)
{
	SOCK_LOCK(s);
	return link_delete_locked(s, name, "veth", err);
}

void mk_net_veth_name(const char *id, char out[MK_NET_IFNAMSIZ])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a 64 */

	for (const unsigned char *p = (const unsigned char *)id; p && *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	/* top 44 bits = 11 hex digits; "mk" + 11 = 13 chars, under IFNAMSIZ - 1 */
	snprintf(out, MK_NET_IFNAMSIZ, "mk%011llx", (unsigned long long)(h >> 20));
}

int mk_net_veth_list(struct mk_net_sock *s, const char *bridge, char ***ret_names,
		     size_t *ret_n, struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *br = NULL;
	_cleanup_cache_ struct nl_cache *cache = NULL;
	char **v = NULL;
	size_t n = 0;
	int r, brindex;
	SOCK_LOCK(s);

	if (link_get(s, bridge, &br, err) < 0)
		return -1;
	brindex = rtnl_link_get_ifindex(br);
	r = rtnl_link_alloc_cache(s->nl, AF_UNSPEC, &cache);
	if (r < 0)
		return nl_error(err, r, "list links");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *type = rtnl_link_get_type(l);

		if (rtnl_link_get_master(l) != brindex || !type || strcmp(type, "veth"))
			continue;
		mk_strv_push(&v, &n, mk_strdup(rtnl_link_get_name(l)));
	}
	if (!v)
		v = mk_malloc0(sizeof(char *));
	qsort(v, n, sizeof(char *), strv_cmp);
	*ret_names = v;
	if (ret_n)
		*ret_n = n;
	return 0;
}
