/* IPv4 addresses on links (RTM_NEWADDR / RTM_DELADDR / dump). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <netlink/errno.h>
#include "internal.h"

static int build_addr(int ifindex, struct in_addr a, int prefix, struct rtnl_addr **ret,
		      struct mk_error **err)
{
	_cleanup_rtaddr_ struct rtnl_addr *ra = rtnl_addr_alloc();
	_cleanup_nladdr_ struct nl_addr *local = NULL, *brd = NULL;
	int r;

	if (!ra)
		return mk_error_set(err, ENOMEM, "allocate address");
	if (make_nladdr(a, prefix, &local, err) < 0)
		return -1;
	rtnl_addr_set_ifindex(ra, ifindex);
	r = rtnl_addr_set_local(ra, local);
	if (r < 0)
		return nl_error(err, r, "set address");
	rtnl_addr_set_prefixlen(ra, prefix);
	if (prefix <= 30) {
		/* what `ip addr add A/N brd +` sets */
		struct in_addr b = { a.s_addr | htonl(prefix == 0 ? 0xffffffffu : (1u << (32 - prefix)) - 1) };
		if (make_nladdr(b, -1, &brd, err) < 0)
			return -1;
		rtnl_addr_set_broadcast(ra, brd);
	}
	*ret = TAKE_PTR(ra);
	return 0;
}

static void format_cidr(struct in_addr a, int prefix, char out[MK_NET_CIDR_STRLEN])
{
	char ip[MK_NET_IP_STRLEN];

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(out, MK_NET_CIDR_STRLEN, "%s/%d", ip, prefix);
}

/* RTM_NEWADDR (add) or RTM_DELADDR. Adding an address the link has, or deleting
 * one it has not, is no error (0); a deleted address returns 1. */
static int addr_change(struct mk_net_sock *s, int ifindex, struct in_addr a, int prefix, bool add,
		       struct mk_error **err)
{
	_cleanup_rtaddr_ struct rtnl_addr *ra = NULL;
	char cidr[MK_NET_CIDR_STRLEN];
	int r;

	if (build_addr(ifindex, a, prefix, &ra, err) < 0)
		return -1;
	r = add ? rtnl_addr_add(s->nl, ra, 0) : rtnl_addr_delete(s->nl, ra, 0);
	if (add ? r == -NLE_EXIST : (r == -NLE_NOADDR || r == -NLE_OBJ_NOTFOUND))
		return 0;
	if (r < 0) {
		format_cidr(a, prefix, cidr);
		return add ? nl_error(err, r, "add address %s to link %d", cidr, ifindex)
			   : nl_error(err, r, "delete address %s from link %d", cidr, ifindex);
	}
	return add ? 0 : 1;
}

int addr_add_locked(struct mk_net_sock *s, int ifindex, struct in_addr a, int prefix,
		    struct mk_error **err)
{
	return addr_change(s, ifindex, a, prefix, true, err);
}

int addr_delete_locked(struct mk_net_sock *s, int ifindex, struct in_addr a, int prefix,
		       struct mk_error **err)
{
	return addr_change(s, ifindex, a, prefix, false, err);
}

int addr_list_locked(struct mk_net_sock *s, int ifindex, struct ipv4_prefix **ret,
		     size_t *ret_n, struct mk_error **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	struct ipv4_prefix *v = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = rtnl_addr_alloc_cache(s->nl, &cache);
	if (r < 0)
		return nl_error(err, r, "list addresses");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(ra);

		if (rtnl_addr_get_ifindex(ra) != ifindex || rtnl_addr_get_family(ra) != AF_INET ||
		    !local || nl_addr_get_len(local) != sizeof(struct in_addr))
			continue;
		MK_GROW(v, cap, n + 1);
		memcpy(&v[n].addr, nl_addr_get_binary_addr(local), sizeof(struct in_addr));
		v[n].prefix = rtnl_addr_get_prefixlen(ra);
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int resolve(struct mk_net_sock *s, const char *ifname, const char *addr, int *ret_ifindex,
		   struct in_addr *a, int *prefix, struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;

	if (parse_ipv4(addr, 1, a, prefix, err) < 0)
		return -1;
	if (link_get(s, ifname, &l, err) < 0)
		return -1;
	*ret_ifindex = rtnl_link_get_ifindex(l);
	return 0;
}

int mk_net_addr_add(struct mk_net_sock *s, const char *ifname, const char *addr,
		    struct mk_error **err)
{
	struct in_addr a;
	int ifindex, prefix;
	SOCK_LOCK(s);

	if (resolve(s, ifname, addr, &ifindex, &a, &prefix, err) < 0)
		return -1;
	if (addr_add_locked(s, ifindex, a, prefix, err) < 0)
		return mk_error_wrap(err, "link '%s'", ifname);
	return 0;
}

int mk_net_addr_delete(struct mk_net_sock *s, const char *ifname, const char *addr,
		       struct mk_error **err)
{
	struct in_addr a;
	int ifindex, prefix, r;
	SOCK_LOCK(s);

	if (resolve(s, ifname, addr, &ifindex, &a, &prefix, err) < 0)
		return -1;
	r = addr_delete_locked(s, ifindex, a, prefix, err);
	if (r < 0)
		return mk_error_wrap(err, "link '%s'", ifname);
	return r;
}

int mk_net_addr_list(struct mk_net_sock *s, const char *ifname, char ***ret_addrs,
		     size_t *ret_n, struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_free_ struct ipv4_prefix *v = NULL;
	char **out = NULL;
	size_t n = 0, k = 0;
	SOCK_LOCK(s);

	if (link_get(s, ifname, &l, err) < 0)
		return -1;
	if (addr_list_locked(s, rtnl_link_get_ifindex(l), &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char cidr[MK_NET_CIDR_STRLEN];
		format_cidr(v[i].addr, v[i].prefix, cidr);
		mk_strv_push(&out, &k, mk_strdup(cidr));
	}
	if (!out)
		out = mk_malloc0(sizeof(char *));
	*ret_addrs = out;
	if (ret_n)
		*ret_n = k;
	return 0;
}
