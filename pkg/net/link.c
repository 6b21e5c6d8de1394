/* Links: lookups by name straight from the kernel (RTM_GETLINK with IFLA_IFNAME,
 * no full dump), up, delete. */
#include <errno.h>
#include <string.h>
#include <netlink/errno.h>
#include "internal.h"

int link_get(struct mk_net_sock *s, const char *name, struct rtnl_link **ret,
	     struct mk_error **err)
{
	struct rtnl_link *l = NULL;
	int r;

	if (check_ifname(name, err) < 0)
		return -1;
	r = rtnl_link_get_kernel(s->nl, 0, name, &l);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return mk_error_set(err, ENODEV, "link '%s' not found", name);
	if (r < 0)
		return nl_error(err, r, "get link '%s'", name);
	*ret = l;
	return 0;
}

int mk_net_link_ifindex(struct mk_net_sock *s, const char *name, int *ret_ifindex,
			struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	SOCK_LOCK(s);

	if (link_get(s, name, &l, err) < 0)
		return -1;
	*ret_ifindex = rtnl_link_get_ifindex(l);
	return 0;
}

int mk_net_link_exists(struct mk_net_sock *s, const char *name, struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	SOCK_LOCK(s);

	if (link_get(s, name, &l, &e) == 0)
		return 1;
	if (e->code == ENODEV)
		return 0;
	error_move(err, &e);
	return -1;
}

int link_set_up_locked(struct mk_net_sock *s, const char *name, struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL, *change = NULL;
	int r;

	if (link_get(s, name, &l, err) < 0)
		return -1;
	if (rtnl_link_get_flags(l) & IFF_UP)
		return 0;
	change = rtnl_link_alloc();
	if (!change)
		return mk_error_set(err, ENOMEM, "allocate link");
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(s->nl, l, change, 0);
	if (r < 0)
		return nl_error(err, r, "set link '%s' up", name);
	return 0;
}

int mk_net_link_set_up(struct mk_net_sock *s, const char *name, struct mk_error **err)
{
	SOCK_LOCK(s);
	return link_set_up_locked(s, name, err);
}

int link_delete_locked(struct mk_net_sock *s, const char *name, const char *want_type,
		       struct mk_error **err)
{
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	const char *type;
	int r;

	if (link_get(s, name, &l, &e) < 0) {
		if (e->code == ENODEV)
			return 0;
		error_move(err, &e);
		return -1;
	}
	type = rtnl_link_get_type(l);
	if (want_type && (!type || strcmp(type, want_type)))
		return mk_error_set(err, EEXIST, "link '%s' is a %s, not a %s", name,
				    type ? type : "device", want_type);
	r = rtnl_link_delete(s->nl, l);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV)
		return 0; /* went away meanwhile (peer of a deleted veth) */
	if (r < 0)
		return nl_error(err, r, "delete link '%s'", name);
	return 1;
}

int mk_net_link_delete(struct mk_net_sock *s, const char *name, struct mk_error **err)
{
	SOCK_LOCK(s);
	return link_delete_locked(s, name, NULL, err);
}
