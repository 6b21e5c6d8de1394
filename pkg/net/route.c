/* IPv4 routes in the main table: pod CIDRs of other nodes via their node address,
 * and the pods' default route. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include "internal.h"

static int parse_dst(const char *dst, struct in_addr *a, int *prefix, struct mk_error **err)
{
	if (dst && !strcmp(dst, "default")) {
		a->s_addr = 0;
		*prefix = 0;
		return 0;
	}
	return parse_ipv4(dst, 1, a, prefix, err);
}

static int route_modify_nh_locked(struct mk_net_sock *s, const char *dst, const char *gw,
				  const char *ifname, int flags, unsigned nh_flags,
				  struct mk_error **err)
{
	_cleanup_route_ struct rtnl_route *rt = NULL;
	_cleanup_nladdr_ struct nl_addr *dst_addr = NULL, *gw_addr = NULL;
	_cleanup_link_ struct rtnl_link *l = NULL;
	struct rtnl_nexthop *nh;
	struct in_addr d, g;
	int prefix, r;

	if (parse_dst(dst, &d, &prefix, err) < 0)
		return -1;
	if (!gw && !ifname)
		return mk_error_set(err, EINVAL, "route to '%s' needs a gateway or a link", dst);
	if (gw && parse_ipv4(gw, 0, &g, NULL, err) < 0)
		return -1;
	if (ifname && link_get(s, ifname, &l, err) < 0)
		return mk_error_wrap(err, "route to '%s'", dst);
	if (make_nladdr(d, prefix, &dst_addr, err) < 0)
		return -1;
	rt = rtnl_route_alloc();
	nh = rtnl_route_nh_alloc();
	if (!rt || !nh) {
		if (nh)
			rtnl_route_nh_free(nh);
		return mk_error_set(err, ENOMEM, "allocate route");
	}
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, RTPROT_STATIC);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_scope(rt, gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
	r = rtnl_route_set_dst(rt, dst_addr);
	if (r < 0) {
		rtnl_route_nh_free(nh);
		return nl_error(err, r, "route to '%s'", dst);
	}
	if (gw) {
		if (make_nladdr(g, -1, &gw_addr, err) < 0) {
			rtnl_route_nh_free(nh);
			return -1;
		}
		rtnl_route_nh_set_gateway(nh, gw_addr);
	}
	if (l)
		rtnl_route_nh_set_ifindex(nh, rtnl_link_get_ifindex(l));
	if (nh_flags)
		rtnl_route_nh_set_flags(nh, nh_flags);
	rtnl_route_add_nexthop(rt, nh); /* rt owns nh */
	r = rtnl_route_add(s->nl, rt, flags);
	if (r < 0)
		return nl_error(err, r, "%s route to '%s'%s%s",
				flags & NLM_F_REPLACE ? "replace" : "add", dst, gw ? " via " : "",
				gw ? gw : "");
	return 0;
}

int route_modify_locked(struct mk_net_sock *s, const char *dst, const char *gw,
			const char *ifname, int flags, struct mk_error **err)
{
	return route_modify_nh_locked(s, dst, gw, ifname, flags, 0, err);
}

int mk_net_route_replace_onlink(struct mk_net_sock *s, const char *dst, const char *gw,
				const char *ifname, struct mk_error **err)
{
	SOCK_LOCK(s);
	if (!gw || !ifname)
		return mk_error_set(err, EINVAL, "onlink route to '%s' needs a gateway and a link",
				    dst);
	return route_modify_nh_locked(s, dst, gw, ifname, NLM_F_REPLACE, RTNH_F_ONLINK, err);
}

int mk_net_route_add(struct mk_net_sock *s, const char *dst, const char *gw,
		     const char *ifname, struct mk_error **err)
{
	SOCK_LOCK(s);
	return route_modify_locked(s, dst, gw, ifname, NLM_F_EXCL, err);
}

int mk_net_route_replace(struct mk_net_sock *s, const char *dst, const char *gw,
			 const char *ifname, struct mk_error **err)
{
	SOCK_LOCK(s);
	return route_modify_locked(s, dst, gw, ifname, NLM_F_REPLACE, err);
}

/* dst of a dumped route as (address, prefix); the default route may come without
 * an RTA_DST. */
static void route_dst(struct rtnl_route *rt, struct in_addr *a, int *prefix)
{
	struct nl_addr *d = rtnl_route_get_dst(rt);

	a->s_addr = 0;
	*prefix = 0;
	if (!d)
		return;
	if (nl_addr_get_len(d) == sizeof(*a))
		memcpy(a, nl_addr_get_binary_addr(d), sizeof(*a));
	*prefix = nl_addr_get_prefixlen(d);
}

static int is_main_unicast(struct rtnl_route *rt)
{
	return rtnl_route_get_family(rt) == AF_INET && rtnl_route_get_table(rt) == RT_TABLE_MAIN &&
	       rtnl_route_get_type(rt) == RTN_UNICAST;
}

int mk_net_route_delete(struct mk_net_sock *s, const char *dst, struct mk_error **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	struct in_addr want;
	int prefix, r;
	SOCK_LOCK(s);

	if (parse_dst(dst, &want, &prefix, err) < 0)
		return -1;
	/* delete the kernel's own object: it carries the scope and next hops the
	 * kernel matches on, whatever they were when the route was added */
	r = rtnl_route_alloc_cache(s->nl, AF_INET, 0, &cache);
	if (r < 0)
		return nl_error(err, r, "list routes");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct in_addr a;
		int p;

		if (!is_main_unicast(rt))
			continue;
		route_dst(rt, &a, &p);
		if (a.s_addr != want.s_addr || p != prefix)
			continue;
		r = rtnl_route_delete(s->nl, rt, 0);
		if (r == -NLE_OBJ_NOTFOUND)
			return 0;
		if (r < 0)
			return nl_error(err, r, "delete route to '%s'", dst);
		return 1;
	}
	return 0;
}

int mk_net_route_list(struct mk_net_sock *s, struct mk_net_route **ret, size_t *ret_n,
		      struct mk_error **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL, *links = NULL;
	struct mk_net_route *v = NULL;
	size_t n = 0, cap = 0;
	int r;
	SOCK_LOCK(s);

	r = rtnl_route_alloc_cache(s->nl, AF_INET, 0, &cache);
	if (r < 0)
		return nl_error(err, r, "list routes");
	/* ifindexes belong to the socket's namespace: resolve names there too */
	r = rtnl_link_alloc_cache(s->nl, AF_UNSPEC, &links);
	if (r < 0)
		return nl_error(err, r, "list links");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh;
		struct mk_net_route *e;
		struct in_addr a;
		char ip[MK_NET_IP_STRLEN];
		int p;

		if (!is_main_unicast(rt))
			continue;
		MK_GROW(v, cap, n + 1);
		e = &v[n++];
		memset(e, 0, sizeof(*e));
		route_dst(rt, &a, &p);
		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		snprintf(e->dst, sizeof(e->dst), "%s/%d", ip, p);
		nh = rtnl_route_nexthop_n(rt, 0);
		if (nh) {
			struct nl_addr *g = rtnl_route_nh_get_gateway(nh);
			if (g && nl_addr_get_len(g) == sizeof(struct in_addr))
				inet_ntop(AF_INET, nl_addr_get_binary_addr(g), e->gw, sizeof(e->gw));
			if (rtnl_route_nh_get_ifindex(nh) > 0)
				rtnl_link_i2name(links, rtnl_route_nh_get_ifindex(nh), e->ifname,
						 sizeof(e->ifname));
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
