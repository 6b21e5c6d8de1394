/* VXLAN links and the static forwarding state flannel's vxlan backend keeps on them:
 * per peer a permanent neighbour (the peer's VTEP address -> the peer's VTEP MAC)
 * and an FDB entry (that MAC -> the peer's underlay address). Learning is off, so
 * the kernel never floods or learns: only what is written here is reachable
 * (flannel's pkg/backend/vxlan, vxlan_network.go). Also the lookups the agent
 * needs around it: which link carries the node's address, and whether the kernel
 * knows a link kind at all. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <netlink/errno.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include "internal.h"

static inline void rtnl_neigh_putp(struct rtnl_neigh **n) { if (*n) rtnl_neigh_put(*n); }
#define _cleanup_neigh_ _cleanup_(rtnl_neigh_putp)

static int parse_mac(const char *mac, struct nl_addr **ret, struct mk_error **err)
{
	struct nl_addr *a = NULL;
	int r = nl_addr_parse(mac, AF_LLC, &a);
	if (r < 0 || nl_addr_get_len(a) != 6) {
		if (a)
			nl_addr_put(a);
		return mk_error_set(err, EINVAL, "invalid MAC address '%s'", mac ? mac : "");
	}
	*ret = a;
	return 0;
}

static void format_mac(struct nl_addr *a, char out[MK_NET_MAC_STRLEN])
{
	const unsigned char *b = nl_addr_get_binary_addr(a);
	out[0] = '\0';
	if (nl_addr_get_len(a) == 6)
		snprintf(out, MK_NET_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2],
			 b[3], b[4], b[5]);
}

static void format_ip(struct nl_addr *a, char out[MK_NET_IP_STRLEN])
{
	out[0] = '\0';
	if (a && nl_addr_get_len(a) == sizeof(struct in_addr))
		inet_ntop(AF_INET, nl_addr_get_binary_addr(a), out, MK_NET_IP_STRLEN);
}

static int ip_nladdr(const char *ip, struct nl_addr **ret, struct mk_error **err)
{
	struct in_addr a;
	if (parse_ipv4(ip, 0, &a, NULL, err) < 0)
		return -1;
	return make_nladdr(a, -1, ret, err);
}

/* whether link l is a vxlan with exactly the wanted settings */
static bool vxlan_matches(struct rtnl_link *l, const struct mk_net_vxlan_config *c,
			  struct in_addr local, int dev_ifindex)
{
	const char *type = rtnl_link_get_type(l);
	struct nl_addr *a = NULL;
	uint32_t id = 0, port = 0, link = 0;
	bool ok;

	if (!type || strcmp(type, "vxlan"))
		return false;
	if (rtnl_link_vxlan_get_id(l, &id) < 0 || id != c->vni)
		return false;
	if (rtnl_link_vxlan_get_port(l, &port) < 0 || port != c->port) /* libnl: host order */
		return false;
	if (rtnl_link_vxlan_get_learning(l) != 0)
		return false;
	if (dev_ifindex > 0 && (rtnl_link_vxlan_get_link(l, &link) < 0 || (int)link != dev_ifindex))
		return false;
	if (rtnl_link_vxlan_get_local(l, &a) < 0 || !a)
		return false;
	ok = nl_addr_get_len(a) == sizeof(local) &&
	     !memcmp(nl_addr_get_binary_addr(a), &local, sizeof(local));
	nl_addr_put(a);
	return ok;
}

int mk_net_vxlan_ensure(struct mk_net_sock *s, const struct mk_net_vxlan_config *c,
			char ret_mac[MK_NET_MAC_STRLEN], struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *cur = NULL, *nl = NULL, *dev = NULL;
	_cleanup_nladdr_ struct nl_addr *local_addr = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	struct in_addr local;
	int dev_ifindex = 0, r;
	SOCK_LOCK(s);

	if (!c || check_ifname(c->name, err) < 0)
		return -1;
	if (!c->vni || c->vni > 0xffffff || !c->port)
		return mk_error_set(err, EINVAL, "vxlan '%s': invalid VNI %u or port %u", c->name,
				    c->vni, c->port);
	if (!c->local || parse_ipv4(c->local, 0, &local, NULL, err) < 0)
		return mk_error_wrap(err, "vxlan '%s' local address", c->name);
	if (c->dev) {
		if (link_get(s, c->dev, &dev, err) < 0)
			return mk_error_wrap(err, "vxlan '%s' underlay", c->name);
		dev_ifindex = rtnl_link_get_ifindex(dev);
	}
	if (link_get(s, c->name, &cur, &e) == 0) {
		if (vxlan_matches(cur, c, local, dev_ifindex))
			goto up;
		/* another kind of link, or a tunnel with other settings: start over */
		rtnl_link_put(cur);
		cur = NULL;
		if (link_delete_locked(s, c->name, NULL, err) < 0)
			return -1;
	} else if (e->code != ENODEV) {
		error_move(err, &e);
		return -1;
	}
	mk_error_free(&e);
	nl = rtnl_link_vxlan_alloc();
	if (!nl)
		return mk_error_set(err, ENOMEM, "allocate vxlan link");
	rtnl_link_set_name(nl, c->name);
	if (make_nladdr(local, -1, &local_addr, err) < 0)
		return -1;
	if ((r = rtnl_link_vxlan_set_id(nl, c->vni)) < 0 ||
	    (r = rtnl_link_vxlan_set_port(nl, c->port)) < 0 ||
	    (r = rtnl_link_vxlan_set_local(nl, local_addr)) < 0 ||
	    (r = rtnl_link_vxlan_set_learning(nl, 0)) < 0 ||
	    (dev_ifindex > 0 && (r = rtnl_link_vxlan_set_link(nl, (uint32_t)dev_ifindex)) < 0))
		return nl_error(err, r, "vxlan '%s' settings", c->name);
	if (c->mtu)
		rtnl_link_set_mtu(nl, c->mtu);
	r = rtnl_link_add(s->nl, nl, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return nl_error(err, r, "create vxlan '%s' (vni %u, port %u, local %s)", c->name,
				c->vni, c->port, c->local);
	if (link_get(s, c->name, &cur, err) < 0)
		return -1;
up:
	if (c->mtu && rtnl_link_get_mtu(cur) != c->mtu) {
		_cleanup_link_ struct rtnl_link *change = rtnl_link_alloc();
		if (!change)
			return mk_error_set(err, ENOMEM, "allocate link");
		rtnl_link_set_mtu(change, c->mtu);
		r = rtnl_link_change(s->nl, cur, change, 0);
		if (r < 0)
			return nl_error(err, r, "set mtu %u on '%s'", c->mtu, c->name);
	}
	if (link_set_up_locked(s, c->name, err) < 0)
		return -1;
	if (ret_mac) {
		struct nl_addr *mac = rtnl_link_get_addr(cur);
		if (!mac)
			return mk_error_set(err, EIO, "vxlan '%s' has no MAC address", c->name);
		format_mac(mac, ret_mac);
	}
	return 0;
}

/* a neighbour object for IFNAME: family AF_INET (ARP) or AF_BRIDGE (FDB) */
static int neigh_build(struct mk_net_sock *s, const char *ifname, int family, const char *ip,
		       const char *mac, struct rtnl_neigh **ret, struct mk_error **err)
{
	_cleanup_neigh_ struct rtnl_neigh *n = rtnl_neigh_alloc();
	_cleanup_nladdr_ struct nl_addr *dst = NULL, *ll = NULL;
	_cleanup_link_ struct rtnl_link *l = NULL;
	int r;

	if (!n)
		return mk_error_set(err, ENOMEM, "allocate neighbour");
	if (link_get(s, ifname, &l, err) < 0)
		return -1;
	rtnl_neigh_set_ifindex(n, rtnl_link_get_ifindex(l));
	/* the destination first: libnl refuses an IPv4 dst on an AF_BRIDGE object,
	 * and an FDB entry's NDA_DST is the remote's IPv4 address */
	if (ip) {
		if (ip_nladdr(ip, &dst, err) < 0)
			return -1;
		r = rtnl_neigh_set_dst(n, dst);
		if (r < 0)
			return nl_error(err, r, "neighbour %s", ip);
	}
	rtnl_neigh_set_family(n, family);
	if (mac) {
		if (parse_mac(mac, &ll, err) < 0)
			return -1;
		rtnl_neigh_set_lladdr(n, ll);
	}
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	if (family == AF_BRIDGE)
		rtnl_neigh_set_flags(n, NTF_SELF);
	*ret = TAKE_PTR(n);
	return 0;
}

int mk_net_neigh_replace(struct mk_net_sock *s, const char *ifname, const char *ip,
			 const char *mac, struct mk_error **err)
{
	_cleanup_neigh_ struct rtnl_neigh *n = NULL;
	int r;
	SOCK_LOCK(s);

	if (!ip || !mac)
		return mk_error_set(err, EINVAL, "neighbour needs an address and a MAC");
	if (neigh_build(s, ifname, AF_INET, ip, mac, &n, err) < 0)
		return -1;
	r = rtnl_neigh_add(s->nl, n, NLM_F_CREATE | NLM_F_REPLACE);
	if (r < 0)
		return nl_error(err, r, "neighbour %s lladdr %s dev '%s'", ip, mac, ifname);
	return 0;
}

int mk_net_neigh_delete(struct mk_net_sock *s, const char *ifname, const char *ip,
			struct mk_error **err)
{
	_cleanup_neigh_ struct rtnl_neigh *n = NULL;
	int r;
	SOCK_LOCK(s);

	if (neigh_build(s, ifname, AF_INET, ip, NULL, &n, err) < 0)
		return -1;
	r = rtnl_neigh_delete(s->nl, n, 0);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NOADDR)
		return 0;
	if (r < 0)
		return nl_error(err, r, "delete neighbour %s dev '%s'", ip, ifname);
	return 1;
}

int mk_net_fdb_replace(struct mk_net_sock *s, const char *ifname, const char *mac,
		       const char *ip, struct mk_error **err)
{
	_cleanup_neigh_ struct rtnl_neigh *n = NULL;
	int r;
	SOCK_LOCK(s);

	if (!ip || !mac)
		return mk_error_set(err, EINVAL, "fdb entry needs a MAC and a remote address");
	if (neigh_build(s, ifname, AF_BRIDGE, ip, mac, &n, err) < 0)
		return -1;
	r = rtnl_neigh_add(s->nl, n, NLM_F_CREATE | NLM_F_REPLACE);
	if (r < 0)
		return nl_error(err, r, "fdb %s dst %s dev '%s'", mac, ip, ifname);
	return 0;
}

int mk_net_fdb_delete(struct mk_net_sock *s, const char *ifname, const char *mac,
		      const char *ip, struct mk_error **err)
{
	_cleanup_neigh_ struct rtnl_neigh *n = NULL;
	int r;
	SOCK_LOCK(s);

	if (neigh_build(s, ifname, AF_BRIDGE, ip, mac, &n, err) < 0)
		return -1;
	r = rtnl_neigh_delete(s->nl, n, 0);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NOADDR)
		return 0;
	if (r < 0)
		return nl_error(err, r, "delete fdb %s dev '%s'", mac, ifname);
	return 1;
}

/* permanent entries of IFNAME from a dump of FAMILY's neighbour table */
static int neigh_list(struct mk_net_sock *s, const char *ifname, int family,
		      struct mk_net_neigh **ret, size_t *ret_n, struct mk_error **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	_cleanup_link_ struct rtnl_link *l = NULL;
	struct mk_net_neigh *v = NULL;
	size_t n = 0, cap = 0;
	int r, ifindex;
	SOCK_LOCK(s);

	if (link_get(s, ifname, &l, err) < 0)
		return -1;
	ifindex = rtnl_link_get_ifindex(l);
	r = rtnl_neigh_alloc_cache_flags(s->nl, &cache,
					 family == AF_BRIDGE ? NL_CACHE_AF_ITER : 0);
	if (r < 0)
		return nl_error(err, r, "list neighbours");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_neigh *ne = (struct rtnl_neigh *)o;
		struct nl_addr *ll = rtnl_neigh_get_lladdr(ne);
		char ip[MK_NET_IP_STRLEN];

		if (rtnl_neigh_get_ifindex(ne) != ifindex || rtnl_neigh_get_family(ne) != family ||
		    !ll || !(rtnl_neigh_get_state(ne) & NUD_PERMANENT))
			continue;
		format_ip(rtnl_neigh_get_dst(ne), ip);
		if (!ip[0])
			continue;
		MK_GROW(v, cap, n + 1);
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].ip, sizeof(v[n].ip), "%s", ip);
		format_mac(ll, v[n].mac);
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int mk_net_neigh_list(struct mk_net_sock *s, const char *ifname, struct mk_net_neigh **ret,
		      size_t *ret_n, struct mk_error **err)
{
	return neigh_list(s, ifname, AF_INET, ret, ret_n, err);
}

int mk_net_fdb_list(struct mk_net_sock *s, const char *ifname, struct mk_net_neigh **ret,
		    size_t *ret_n, struct mk_error **err)
{
	return neigh_list(s, ifname, AF_BRIDGE, ret, ret_n, err);
}

int mk_net_addr_owner(struct mk_net_sock *s, const char *ip, char ret_ifname[MK_NET_IFNAMSIZ],
		      int *ret_prefix, unsigned *ret_mtu, struct mk_error **err)
{
	_cleanup_cache_ struct nl_cache *addrs = NULL, *links = NULL;
	struct in_addr want;
	int r;
	SOCK_LOCK(s);

	if (parse_ipv4(ip, 0, &want, NULL, err) < 0)
		return -1;
	r = rtnl_addr_alloc_cache(s->nl, &addrs);
	if (r < 0)
		return nl_error(err, r, "list addresses");
	r = rtnl_link_alloc_cache(s->nl, AF_UNSPEC, &links);
	if (r < 0)
		return nl_error(err, r, "list links");
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		struct rtnl_link *l;

		if (rtnl_addr_get_family(a) != AF_INET || !local ||
		    nl_addr_get_len(local) != sizeof(want) ||
		    memcmp(nl_addr_get_binary_addr(local), &want, sizeof(want)))
			continue;
		l = rtnl_link_get(links, rtnl_addr_get_ifindex(a));
		if (!l)
			continue;
		if (ret_ifname)
			snprintf(ret_ifname, MK_NET_IFNAMSIZ, "%s", rtnl_link_get_name(l));
		if (ret_mtu)
			*ret_mtu = rtnl_link_get_mtu(l);
		if (ret_prefix)
			*ret_prefix = rtnl_addr_get_prefixlen(a);
		rtnl_link_put(l);
		return 0;
	}
	return mk_error_set(err, ENOENT, "no link has the address %s", ip);
}

int mk_net_link_kind_supported(struct mk_net_sock *s, const char *kind, struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
	const char *probe = "mk-probe0";
	int r;
	SOCK_LOCK(s);

	if (!l)
		return mk_error_set(err, ENOMEM, "allocate link");
	rtnl_link_set_name(l, probe);
	r = rtnl_link_set_type(l, kind);
	if (r < 0 && r != -NLE_OPNOTSUPP)
		return nl_error(err, r, "link type '%s'", kind);
	r = rtnl_link_add(s->nl, l, NLM_F_CREATE | NLM_F_EXCL);
	/* the kernel answers an unknown IFLA_INFO_KIND with EOPNOTSUPP
	 * ("Unknown device type") once no module of that name can be loaded */
	if (r == -NLE_OPNOTSUPP || r == -NLE_NOATTR)
		return 0;
	if (r < 0 && r != -NLE_EXIST)
		return nl_error(err, r, "probe link type '%s'", kind);
	if (link_delete_locked(s, probe, NULL, err) < 0)
		return -1;
	return 1;
}
