/* Removing a node from this machine (`minik8s down`): everything an agent made in
 * the kernel and under its run directory, whether or not an agent still knows
 * about it — containers and their shims, overlay and namespace mounts, pod
 * network namespaces (their veths go with them), the bridge, the cluster DNS
 * address, the nftables table, routes to other nodes, the VXLAN device mk-vxlan,
 * the cgroup parent, and the run directory. Each step goes on after a failure;
 * the first error is reported. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include "internal.h"
#include "minik8s/dns.h"
#include "minik8s/proxy.h"
#include "minik8s/netpol.h"

static void keep_first(struct mk_error **err, struct mk_error **e)
{
	if (*e && err && !*err)
		*err = *e;
	else
		mk_error_free(e);
	*e = NULL;
}

/* Mount points under prefix, deepest first (reverse /proc order). */
static void unmount_under(const char *prefix, struct mk_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], *mps[1024];
	size_t n = 0, plen = strlen(prefix);

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n < MK_ARRAY_SIZE(mps)) {
		char mp[2048];
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %*s %*s %2047s", mp) != 1)
			continue;
		if (!strncmp(mp, prefix, plen) && (mp[plen] == '/' || !mp[plen]))
			mps[n++] = mk_strdup(mp);
	}
	while (n--) {
		if (umount2(mps[n], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			mk_error_errno(err, errno, "unmount '%s'", mps[n]);
		free(mps[n]);
	}
}

/* Containers (runc delete --force kills them; their shims then exit) and the
 * cgroup parent. */
static void containers_remove(const struct mk_agent_options *o, const char *run,
			      struct mk_error **err)
{
	_cleanup_free_ char *runc_root = mk_strdup_printf("%s/runc", run);
	_cleanup_free_ char *state = mk_strdup_printf("%s/containers", run);
	struct mk_error *e = NULL;
	struct mk_runtime *rt = NULL;
	struct mk_runtime_config rc = { .runc_path = o->runc_path, .root_dir = runc_root,
					.state_dir = state,
					.cgroup_parent = o->cgroup_parent ? o->cgroup_parent
									  : MK_AGENT_DEFAULT_CGROUP_PARENT };
	if (access(runc_root, F_OK) == 0 && mk_runtime_new(&rc, &rt, &e) == 0) {
		struct mk_runtime_container_info *list = NULL;
		size_t n = 0;
		if (mk_runtime_container_list(rt, &list, &n, &e) == 0) {
			for (size_t i = 0; i < n; i++) {
				if (list[i].pid > 0)
					kill(list[i].pid, SIGKILL);
				if (mk_runtime_container_delete(rt, list[i].id, &e) < 0)
					keep_first(err, &e);
			}
			mk_runtime_container_list_free(list, n);
		}
		keep_first(err, &e);
		if (mk_runtime_cgroup_parent_remove(rt, &e) < 0)
			keep_first(err, &e);
		mk_runtime_free(rt);
	}
	keep_first(err, &e);
}

/* Pod network namespaces (their veths die with them), then the mount of the
 * namespace dir; a dir that is not there is no error. */
static void netns_remove(const char *netns, struct mk_error **err)
{
	struct mk_error *e = NULL;
	char **names = NULL;
	size_t nn = 0;
	if (mk_net_netns_list(netns, &names, &nn, &e) == 0) {
		for (size_t i = 0; i < nn; i++) {
			if (mk_net_netns_delete(netns, names[i], &e) < 0)
				keep_first(err, &e);
			free(names[i]);
		}
		free(names);
	}
	if (e && e->code == ENOENT)
		mk_error_free(&e);
	keep_first(err, &e);
	mk_net_netns_dir_unmount(netns, &e);
	if (e && e->code == ENOENT)
		mk_error_free(&e);
	keep_first(err, &e);
}

/* The node's bridge, the VXLAN device (its routes, neighbours and FDB entries
 * go with it) and the gateway routes into the cluster CIDR that routes.c added. */
static void links_remove(const struct mk_agent_options *o, struct mk_error **err)
{
	struct mk_error *e = NULL;
	struct mk_net_sock *s = NULL;
	if (mk_net_sock_open(-1, &s, &e) == 0) {
		if (mk_net_bridge_delete(s, o->bridge ? o->bridge : "mk0", &e) < 0 && e &&
		    e->code == ENODEV)
			mk_error_free(&e);
		keep_first(err, &e);
		if (mk_net_link_delete(s, AGENT_VXLAN_DEV, &e) < 0)
			keep_first(err, &e);
		struct mk_net_route *routes = NULL;
		size_t nr = 0;
		const char *cc = o->cluster_cidr ? o->cluster_cidr : "10.244.0.0/16";
		if (mk_net_route_list(s, &routes, &nr, &e) == 0) {
			for (size_t i = 0; i < nr; i++)
				if (routes[i].gw[0] && agent_cidr_within(cc, routes[i].dst) &&
				    mk_net_route_delete(s, routes[i].dst, &e) < 0)
					keep_first(err, &e);
			free(routes);
		}
		keep_first(err, &e);
		mk_net_sock_free(s);
	}
	keep_first(err, &e);
}

/* The cluster DNS address, the LoadBalancer pool addresses the balancer added to
 * the node's interface, and the balancer's and the network policy's nft tables. */
static void dataplane_remove(const struct mk_agent_options *o, const char *run,
			     struct mk_error **err)
{
	struct mk_error *e = NULL;
	_cleanup_free_ char *dnsaddr = mk_strdup_printf(
		"%s/32", o->cluster_dns ? o->cluster_dns : MK_AGENT_DEFAULT_CLUSTER_DNS);
	if (mk_dns_dummy_delete(-1, "mkdns0", dnsaddr, &e) < 0)
		keep_first(err, &e);
	_cleanup_free_ char *lbstate = mk_strdup_printf("%s/lb-addresses", run);
	if (mk_proxy_lb_addresses_remove(lbstate, &e) < 0)
		keep_first(err, &e);
	struct mk_proxy_options po = { .netns_fd = -1 };
	if (mk_proxy_remove(&po, &e) < 0)
		keep_first(err, &e);
	struct mk_netpol_options npo = { .netns_fd = -1 };
	if (mk_netpol_remove(&npo, &e) < 0)
		keep_first(err, &e);
}

/* Mounts left under the run dir, then the run dir itself (never "/"). */
static void run_dir_remove(const char *run, struct mk_error **err)
{
	struct mk_error *e = NULL;
	unmount_under(run, err);
	if (!strcmp(run, "/"))
		return;
	int status = 0;
	if (mk_runtime_command_run((const char *const[]){ "rm", "-rf", "--", run, NULL }, 30000,
				   &status, &e) < 0)
		keep_first(err, &e);
	else if (status)
		mk_error_set(err, EIO, "rm -rf '%s' failed (status %d)", run, status);
}

int mk_agent_node_teardown(const struct mk_agent_options *o, struct mk_error **err)
{
	const char *run = o->run_dir ? o->run_dir : MK_AGENT_DEFAULT_RUN_DIR;
	const char *data = o->data_dir ? o->data_dir : MK_AGENT_DEFAULT_DATA_DIR;
	_cleanup_free_ char *netns = o->netns_dir ? mk_strdup(o->netns_dir)
						 : mk_strdup_printf("%s/netns", run);
	_cleanup_free_ char *pods = mk_strdup_printf("%s/pods", data);

	containers_remove(o, run, err);
	/* overlay rootfs mounts of the pods */
	unmount_under(pods, err);
	netns_remove(netns, err);
	links_remove(o, err);
	dataplane_remove(o, run, err);
	run_dir_remove(run, err);
	return err && *err ? -1 : 0;
}
