/* The node-local address of the cluster DNS: a dummy link carrying the kube-dns
 * ClusterIP (10.96.0.10/32) in the node's namespace, so that pods of this node
 * reach the responder bound to that address directly (no DNAT, no proxy rule).
 * Addresses and link state go through the pkg/net helpers; only the dummy link
 * type itself is created here. */
#include <errno.h>
#include <string.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include "internal.h"
#include "minik8s/net.h"

struct dummy_args {
	const char *ifname;
};

static int create_dummy(void *userdata, struct mk_error **err)
{
	struct dummy_args *a = userdata;
	struct nl_sock *nl = nl_socket_alloc();
	struct rtnl_link *l = NULL, *cur = NULL;
	int r, ret = -1;

	if (!nl)
		return mk_error_set(err, ENOMEM, "dns: allocate netlink socket");
	if ((r = nl_connect(nl, NETLINK_ROUTE)) < 0) {
		mk_error_set(err, EIO, "dns: netlink connect: %s", nl_geterror(r));
		goto out;
	}
	r = rtnl_link_get_kernel(nl, 0, a->ifname, &cur);
	if (r == 0) {
		const char *type = rtnl_link_get_type(cur);
		if (!type || strcmp(type, "dummy") != 0) {
			mk_error_set(err, EEXIST, "link '%s' exists and is not a dummy", a->ifname);
			goto out;
		}
		ret = 0;
		goto out;
	}
	l = rtnl_link_alloc();
	if (!l) {
		mk_error_set(err, ENOMEM, "dns: allocate link");
		goto out;
	}
	rtnl_link_set_name(l, a->ifname);
	if ((r = rtnl_link_set_type(l, "dummy")) < 0) {
		mk_error_set(err, EIO, "dns: dummy link type: %s", nl_geterror(r));
		goto out;
	}
	r = rtnl_link_add(nl, l, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0 && r != -NLE_EXIST) {
		mk_error_set(err, r == -NLE_PERM ? EPERM : r == -NLE_OPNOTSUPP ? EOPNOTSUPP : EIO,
			     "create dummy link '%s': %s",
			     a->ifname, nl_geterror(r));
		goto out;
	}
	ret = 0;
out:
	if (cur)
		rtnl_link_put(cur);
	if (l)
		rtnl_link_put(l);
	nl_socket_free(nl);
	return ret;
}

int mk_dns_dummy_ensure(int netns_fd, const char *ifname, const char *addr, char *ret_ifname,
			struct mk_error **err)
{
	struct dummy_args a = { ifname };
	struct mk_net_sock *s = NULL;
	struct mk_error *e = NULL;
	const char *use = ifname;
	int r;

	if (!ifname || !*ifname || strlen(ifname) >= MK_NET_IFNAMSIZ)
		return mk_error_set(err, EINVAL, "invalid link name '%s'", ifname ? ifname : "");
	if (mk_net_netns_run(netns_fd, create_dummy, &a, &e) < 0) {
		if (e->code != EOPNOTSUPP) {
			if (err && !*err)
				*err = e;
			else
				mk_error_free(&e);
			return -1;
		}
		/* no dummy driver in this kernel: the namespace's loopback
		 * carries the address just as well */
		mk_error_free(&e);
		use = "lo";
	}
	if (mk_net_sock_open(netns_fd, &s, err) < 0)
		return -1;
	r = mk_net_link_set_up(s, use, err);
	if (r == 0 && addr)
		r = mk_net_addr_add(s, use, addr, err);
	mk_net_sock_free(s);
	if (r == 0 && ret_ifname)
		snprintf(ret_ifname, MK_NET_IFNAMSIZ, "%s", use);
	return r;
}

int mk_dns_dummy_delete(int netns_fd, const char *ifname, const char *addr,
			struct mk_error **err)
{
	struct mk_net_sock *s = NULL;
	int r;
	if (mk_net_sock_open(netns_fd, &s, err) < 0)
		return -1;
	r = mk_net_link_exists(s, ifname, err);
	if (r == 1)
		r = mk_net_link_delete(s, ifname, err);
	else if (r == 0 && addr)
		r = mk_net_addr_delete(s, "lo", addr, err);
	mk_net_sock_free(s);
	return r;
}
