/* The node bridge (mk0): created up, with a fixed MAC address and exactly one IPv4
 * address, the gateway of the node's pod CIDR. */
#include <errno.h>
#include <string.h>
#include <netlink/errno.h>
#include <netlink/route/link/bridge.h>
#include "internal.h"

static int bridge_get_or_create(struct mk_net_sock *s, const char *name, struct rtnl_link **ret,
				struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	const char *type;
	int r;

	if (link_get(s, name, &l, &e) == 0) {
		type = rtnl_link_get_type(l);
		if (!type || strcmp(type, "bridge"))
			return mk_error_set(err, EEXIST, "link '%s' exists and is a %s, not a bridge",
					    name, type ? type : "device");
		*ret = TAKE_PTR(l);
		return 0;
	}
	if (e->code != ENODEV) {
		error_move(err, &e);
		return -1;
	}
	l = rtnl_link_bridge_alloc();
	if (!l)
		return mk_error_set(err, ENOMEM, "allocate bridge");
	rtnl_link_set_name(l, name);
	rtnl_link_set_flags(l, IFF_UP);
	r = rtnl_link_add(s->nl, l, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0 && r != -NLE_EXIST) /* EXIST: another agent thread won the race */
		return nl_error(err, r, "create bridge '%s'", name);
	rtnl_link_put(TAKE_PTR(l));
	if (link_get(s, name, &l, err) < 0)
		return -1;
	*ret = TAKE_PTR(l);
	return 0;
}

/* A bridge whose address was never set takes the lowest MAC of its ports, so it
 * changes whenever that port goes: every pod then holds the gateway's old MAC in
 * its ARP cache and loses its traffic for seconds. Setting the current address
 * (the random one of a new bridge) pins it; doing it again changes nothing. */
static int bridge_pin_mac_locked(struct mk_net_sock *s, struct rtnl_link *l, const char *name,
				 struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *change = NULL;
	struct nl_addr *mac = rtnl_link_get_addr(l);
	int r;

	if (!mac)
		return mk_error_set(err, EINVAL, "bridge '%s' has no MAC address", name);
	change = rtnl_link_alloc();
	if (!change)
		return mk_error_set(err, ENOMEM, "allocate link");
	rtnl_link_set_addr(change, mac);
	r = rtnl_link_change(s->nl, l, change, 0);
	if (r < 0)
		return nl_error(err, r, "pin the MAC address of bridge '%s'", name);
	return 0;
}

int mk_net_bridge_ensure(struct mk_net_sock *s, const char *name, const char *addr,
			 struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_free_ struct ipv4_prefix *have = NULL;
	struct in_addr want;
	int prefix = 0, ifindex, found = 0;
	size_t n = 0;
	SOCK_LOCK(s);

	if (check_ifname(name, err) < 0)
		return -1;
	if (addr && parse_ipv4(addr, 1, &want, &prefix, err) < 0)
		return -1;
	if (bridge_get_or_create(s, name, &l, err) < 0)
		return -1;
	if (bridge_pin_mac_locked(s, l, name, err) < 0)
		return -1;
	ifindex = rtnl_link_get_ifindex(l);
	if (!(rtnl_link_get_flags(l) & IFF_UP) && link_set_up_locked(s, name, err) < 0)
		return -1;
	if (!addr)
		return 0;
	if (addr_list_locked(s, ifindex, &have, &n, err) < 0)
		return mk_error_wrap(err, "bridge '%s'", name);
	/* remove wrong addresses first: deleting a primary address also drops the
	 * secondaries of its subnet, which could include the one we add */
	for (size_t i = 0; i < n; i++) {
		if (have[i].addr.s_addr == want.s_addr && have[i].prefix == prefix) {
			found = 1;
			continue;
		}
		if (addr_delete_locked(s, ifindex, have[i].addr, have[i].prefix, err) < 0)
			return mk_error_wrap(err, "bridge '%s'", name);
	}
	if (!found && addr_add_locked(s, ifindex, want, prefix, err) < 0)
		return mk_error_wrap(err, "bridge '%s'", name);
	return 0;
}

int mk_net_bridge_delete(struct mk_net_sock *s, const char *name, struct mk_error **err)
{
	SOCK_LOCK(s);
	return link_delete_locked(s, name, "bridge", err);
}
