/* minik8s net: the node's pod network over rtnetlink (libnl-3, libnl-route-3).
 *
 * Objects: named network namespaces (as `ip netns` keeps them: a bind mount of a
 * namespace file under a run directory), bridges, veth pairs, IPv4 addresses and
 * routes, VXLAN links with their neighbour and FDB entries, per-namespace sysctls,
 * and a per-node IPAM file.
 *
 * "Node as a network namespace": every netlink operation goes through a
 * struct mk_net_sock, a route socket bound to one network namespace (the caller's,
 * or any namespace given by fd). Several agents on one machine, and the tests,
 * run each node's bridge inside a namespace of its own this way. Opening a socket
 * in another namespace happens in a short-lived thread that setns()es, so the
 * calling thread never changes namespace.
 *
 * Addresses are IPv4 text: "10.244.1.5" or, where a prefix is needed,
 * "10.244.1.5/24".
 *
 * Error codes (struct mk_error.code) are errno values: ENODEV no such link,
 * EEXIST exists (or exists with another type), ENOENT no such namespace/route/owner,
 * EINVAL bad argument, ENOSPC IPAM range exhausted, ETIMEDOUT IPAM lock not
 * obtained in time, EPERM not root, EIO anything else from the kernel.
 *
 * Nothing here prints or exits. */
#ifndef MINIK8S_NET_H
#define MINIK8S_NET_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include "minik8s/util.h"

#define MK_NET_NETNS_RUN_DIR "/run/netns" /* what iproute2 uses */
#define MK_NET_BRIDGE_DEFAULT "mk0"
#define MK_NET_IP_STRLEN 16	    /* "255.255.255.255" + NUL */
#define MK_NET_CIDR_STRLEN 19	    /* "255.255.255.255/32" + NUL */
#define MK_NET_IFNAMSIZ IFNAMSIZ    /* 16: 15 chars + NUL */

/* ---- network namespaces --------------------------------------------------- */

/* Creates the named namespace RUN_DIR/NAME (run_dir NULL = /run/netns) the way
 * `ip netns add` does: a new namespace (unshare in a dedicated thread) bind-mounted
 * onto an empty file. RUN_DIR is created if needed and made a shared mount point
 * (bind-mounted onto itself first if it is not a mount point), as iproute2 does, so
 * a later delete unmounts the namespace in every mount namespace that copied it.
 * EEXIST if NAME exists. If ret_fd is not NULL, *ret_fd is an O_CLOEXEC fd of the
 * new namespace (owned; close()). */
int mk_net_netns_create(const char *run_dir, const char *name, int *ret_fd,
			struct mk_error **err);
/* Opens RUN_DIR/NAME; *ret_fd owned (close()). ENOENT if absent, EINVAL if the
 * file is not a mounted namespace (a leftover of an interrupted create). */
int mk_net_netns_open(const char *run_dir, const char *name, int *ret_fd,
		      struct mk_error **err);
/* Unmounts (MNT_DETACH) and unlinks RUN_DIR/NAME. Returns 1 if it existed, 0 if
 * not. The namespace itself lives on while a process or an open fd holds it; its
 * links (bridge, veth ends) go away with its last reference. */
int mk_net_netns_delete(const char *run_dir, const char *name, struct mk_error **err);
/* Names in RUN_DIR (sorted). *ret_names is a NULL-terminated owned array of owned
 * strings (free each, then the array); a missing RUN_DIR gives an empty list. */
int mk_net_netns_list(const char *run_dir, char ***ret_names, size_t *ret_n,
		      struct mk_error **err);
/* Undoes what create did to RUN_DIR itself: unmounts the self bind mount (and
 * with it any namespace still mounted below). For tests and `minik8s down`
 * with a private run dir; returns 1 if something was unmounted, 0 if not. */
int mk_net_netns_dir_unmount(const char *run_dir, struct mk_error **err);

/* A function run inside a namespace. Returns < 0 (with *err set) on failure. */
typedef int (*mk_net_netns_fn)(void *userdata, struct mk_error **err);
/* Runs fn in a dedicated thread that joined netns_fd (setns CLONE_NEWNET), waits
 * for it and returns its result. netns_fd < 0 runs it in the caller's namespace
 * (still on the dedicated thread). The calling thread never changes namespace.
 * fn must not create threads it expects to stay in the namespace past return. */
int mk_net_netns_run(int netns_fd, mk_net_netns_fn fn, void *userdata, struct mk_error **err);

/* ---- netlink socket bound to a namespace --------------------------------- */

/* Opaque. Safe to share between threads (operations are serialised by a mutex). */
struct mk_net_sock;
/* Opens a route netlink socket in netns_fd (< 0: the caller's namespace). The fd is
 * duplicated; the caller keeps its own. *ret owned (mk_net_sock_free). */
int mk_net_sock_open(int netns_fd, struct mk_net_sock **ret, struct mk_error **err);
void mk_net_sock_free(struct mk_net_sock *s); /* accepts NULL */
/* The socket's namespace fd (borrowed; valid until mk_net_sock_free), or -1 if it
 * was opened in the caller's namespace. */
int mk_net_sock_netns_fd(const struct mk_net_sock *s);

/* ---- links ---------------------------------------------------------------- */

/* *ret_ifindex = index of NAME; ENODEV if absent. */
int mk_net_link_ifindex(struct mk_net_sock *s, const char *name, int *ret_ifindex,
			struct mk_error **err);
/* 1 if NAME exists, 0 if not, < 0 on error. */
int mk_net_link_exists(struct mk_net_sock *s, const char *name, struct mk_error **err);
/* Sets IFF_UP on NAME (no-op if already up). */
int mk_net_link_set_up(struct mk_net_sock *s, const char *name, struct mk_error **err);
/* Deletes NAME; 1 if deleted, 0 if it did not exist. */
int mk_net_link_delete(struct mk_net_sock *s, const char *name, struct mk_error **err);

/* ---- bridge --------------------------------------------------------------- */

/* Makes sure bridge NAME exists, is up and has exactly the IPv4 address ADDR
 * ("10.244.1.1/24"; NULL = leave addresses alone): creates it if missing, removes
 * other IPv4 addresses, adds ADDR if missing. Idempotent. EEXIST if NAME exists
 * and is not a bridge. */
int mk_net_bridge_ensure(struct mk_net_sock *s, const char *name, const char *addr,
			 struct mk_error **err);
/* Deletes bridge NAME (its ports stay, detached); 1 if deleted, 0 if absent,
 * EEXIST if NAME is not a bridge. */
int mk_net_bridge_delete(struct mk_net_sock *s, const char *name, struct mk_error **err);

/* ---- veth ----------------------------------------------------------------- */

struct mk_net_veth_config {
	const char *name;      /* end in the socket's namespace (<= 15 chars) */
	const char *peer_name; /* other end's name, in peer_netns_fd ("eth0") */
	int peer_netns_fd;     /* namespace of the other end; < 0 = the socket's */
	const char *master;    /* bridge to attach NAME to, or NULL */
	unsigned mtu;	       /* both ends; 0 = kernel default */
};
/* Creates the pair in one RTM_NEWLINK: NAME up (and attached to master), the peer
 * created directly in its namespace (so "eth0" never clashes with the node's own
 * eth0), left down. EEXIST if NAME exists. */
int mk_net_veth_create(struct mk_net_sock *s, const struct mk_net_veth_config *c,
		       struct mk_error **err);
/* Deletes veth NAME (the kernel deletes its peer too); 1 if deleted, 0 if absent,
 * EEXIST if NAME is not a veth. */
int mk_net_veth_delete(struct mk_net_sock *s, const char *name, struct mk_error **err);
/* Deterministic host-side name for a pod/container id: "mk" + 11 hex chars of a
 * 64-bit FNV-1a hash of the id (13 chars), so a restarted agent finds its veths. */
void mk_net_veth_name(const char *id, char out[MK_NET_IFNAMSIZ]);
/* Veths attached to bridge BRIDGE (sorted names). *ret_names: NULL-terminated owned
 * array of owned strings. ENODEV if the bridge does not exist. */
int mk_net_veth_list(struct mk_net_sock *s, const char *bridge, char ***ret_names,
		     size_t *ret_n, struct mk_error **err);

/* ---- addresses -------------------------------------------------------------- */

/* Adds ADDR ("a.b.c.d/len") to IFNAME; an identical address already there is fine. */
int mk_net_addr_add(struct mk_net_sock *s, const char *ifname, const char *addr,
		    struct mk_error **err);
/* Removes ADDR from IFNAME; 1 if removed, 0 if it was not there. */
int mk_net_addr_delete(struct mk_net_sock *s, const char *ifname, const char *addr,
		       struct mk_error **err);
/* IPv4 addresses of IFNAME as "a.b.c.d/len" (kernel order). Same ownership as
 * mk_net_netns_list. */
int mk_net_addr_list(struct mk_net_sock *s, const char *ifname, char ***ret_addrs,
		     size_t *ret_n, struct mk_error **err);

/* ---- routes (IPv4, main table) ------------------------------------------------ */

/* DST is "a.b.c.d/len" or "default". GW is a next hop ("10.0.0.2") or NULL for a
 * device route; IFNAME may be NULL when GW is given (the kernel finds the link). */
int mk_net_route_add(struct mk_net_sock *s, const char *dst, const char *gw,
		     const char *ifname, struct mk_error **err); /* EEXIST if present */
int mk_net_route_replace(struct mk_net_sock *s, const char *dst, const char *gw,
			 const char *ifname, struct mk_error **err); /* add or change */
/* Deletes the route to DST (any next hop); 1 if deleted, 0 if absent. */
int mk_net_route_delete(struct mk_net_sock *s, const char *dst, struct mk_error **err);

struct mk_net_route {
	char dst[MK_NET_CIDR_STRLEN]; /* "a.b.c.d/len", "0.0.0.0/0" for default */
	char gw[MK_NET_IP_STRLEN];    /* "" for a device route */
	char ifname[MK_NET_IFNAMSIZ]; /* "" if the route has no output link */
};
/* Unicast IPv4 routes of the main table. *ret owned (free()). */
int mk_net_route_list(struct mk_net_sock *s, struct mk_net_route **ret, size_t *ret_n,
		      struct mk_error **err);

/* Replaces the route to DST with "via GW dev IFNAME onlink": the gateway need not
 * be in a subnet of IFNAME (flannel's vxlan routes: a peer's pod CIDR via the
 * peer's VTEP address on the VXLAN device). */
int mk_net_route_replace_onlink(struct mk_net_sock *s, const char *dst, const char *gw,
				const char *ifname, struct mk_error **err);

/* ---- VXLAN, neighbours, FDB (flannel's vxlan backend; vxlan.c) ---------------- */

#define MK_NET_MAC_STRLEN 18 /* "aa:bb:cc:dd:ee:ff" + NUL */

struct mk_net_vxlan_config {
	const char *name;  /* "mk-vxlan" */
	uint32_t vni;	   /* VXLAN network identifier (flannel: 1) */
	uint16_t port;	   /* UDP destination port (flannel: 8472) */
	const char *local; /* underlay source address "172.31.1.10" */
	const char *dev;   /* underlay link the tunnel is bound to, or NULL */
	unsigned mtu;	   /* 0: the kernel's choice (underlay MTU - 50) */
};
/* Makes sure VXLAN link NAME exists with this VNI, port, local address and
 * learning off, and is up; a link of that name with other settings (or of another
 * type) is deleted and created again. ret_mac (may be NULL) receives its MAC.
 * Idempotent. */
int mk_net_vxlan_ensure(struct mk_net_sock *s, const struct mk_net_vxlan_config *c,
			char ret_mac[MK_NET_MAC_STRLEN], struct mk_error **err);

/* A permanent entry: an IPv4 neighbour (IP -> MAC) or an FDB entry (MAC -> remote
 * underlay IP) of a link. */
struct mk_net_neigh {
	char ip[MK_NET_IP_STRLEN];
	char mac[MK_NET_MAC_STRLEN];
};
/* `ip neigh replace IP lladdr MAC dev IFNAME nud permanent`. */
int mk_net_neigh_replace(struct mk_net_sock *s, const char *ifname, const char *ip,
			 const char *mac, struct mk_error **err);
/* Deletes the neighbour IP of IFNAME; 1 if deleted, 0 if absent. */
int mk_net_neigh_delete(struct mk_net_sock *s, const char *ifname, const char *ip,
			struct mk_error **err);
/* Permanent IPv4 neighbours of IFNAME. *ret owned (free()). */
int mk_net_neigh_list(struct mk_net_sock *s, const char *ifname, struct mk_net_neigh **ret,
		      size_t *ret_n, struct mk_error **err);
/* `bridge fdb replace MAC dev IFNAME dst IP self permanent`. */
int mk_net_fdb_replace(struct mk_net_sock *s, const char *ifname, const char *mac,
		       const char *ip, struct mk_error **err);
/* Deletes the FDB entry MAC -> IP of IFNAME; 1 if deleted, 0 if absent. */
int mk_net_fdb_delete(struct mk_net_sock *s, const char *ifname, const char *mac,
		      const char *ip, struct mk_error **err);
/* FDB entries of IFNAME that have a remote IPv4 address. *ret owned (free()). */
int mk_net_fdb_list(struct mk_net_sock *s, const char *ifname, struct mk_net_neigh **ret,
		    size_t *ret_n, struct mk_error **err);

/* The link that carries IPv4 address IP: its name, the address's prefix length and
 * the link's MTU (each output may be NULL). ENOENT if no link has it. */
int mk_net_addr_owner(struct mk_net_sock *s, const char *ip, char ret_ifname[MK_NET_IFNAMSIZ],
		      int *ret_prefix, unsigned *ret_mtu, struct mk_error **err);
/* Whether the kernel can create links of KIND ("wireguard"): creates and deletes
 * a probe link. 1 yes, 0 no (the kernel's "Unknown device type"), < 0 on error. */
int mk_net_link_kind_supported(struct mk_net_sock *s, const char *kind, struct mk_error **err);

/* ---- sysctls (network ones are per namespace) --------------------------------- */

/* KEY is a path under /proc/sys that starts with "net/", e.g. "net/ipv4/ip_forward"
 * or "net/ipv4/conf/mk0/forwarding"; netns_fd < 0 = the caller's namespace.
 * Written/read from a thread inside the namespace, since /proc/sys/net shows the
 * namespace of the reading thread. */
int mk_net_sysctl_write(int netns_fd, const char *key, const char *value,
			struct mk_error **err);
/* *ret_value owned, trailing newline removed. */
int mk_net_sysctl_read(int netns_fd, const char *key, char **ret_value, struct mk_error **err);

/* ---- pod attach (the agent's one call per pod) -------------------------------- */

struct mk_net_pod_config {
	const char *id;	     /* pod uid: names the host-side veth (mk_net_veth_name) */
	int netns_fd;	     /* the pod's namespace */
	const char *bridge;  /* bridge in the socket's namespace ("mk0") */
	const char *ifname;  /* pod-side name; NULL = "eth0" */
	const char *address; /* pod address with prefix, "10.244.1.5/24" */
	const char *gateway; /* default route via (the bridge address), or NULL */
	unsigned mtu;	     /* 0 = kernel default */
};
/* Wires a pod: veth pair (host end on the bridge, up), pod end renamed IFNAME in
 * the pod namespace with ADDRESS, lo and IFNAME up, default route via GATEWAY.
 * A leftover host-side veth of the same id (a crashed earlier attempt) is deleted
 * first; to adopt a working pod after an agent restart, check mk_net_link_exists
 * on the name instead of calling this. On failure, the veth is removed again.
 * ret_host_ifname (may be NULL) receives the host-side name. */
int mk_net_pod_attach(struct mk_net_sock *node, const struct mk_net_pod_config *c,
		      char ret_host_ifname[MK_NET_IFNAMSIZ], struct mk_error **err);
/* Removes the pod's veth pair; 1 if it existed, 0 if not. */
int mk_net_pod_detach(struct mk_net_sock *node, const char *id, struct mk_error **err);

/* ---- IPAM: per-node IPv4 allocator over the node's pod CIDR -------------------- */

/* State lives in one file (e.g. STATE_DIR/ipam/pods.ipam), rewritten atomically
 * under an flock(2) on PATH.lock, so several processes may share it and a restart
 * loses nothing. Addresses are keyed by owner (pod uid): allocate is idempotent per
 * owner. Network address, the first host address (the gateway, on the bridge) and
 * broadcast are never handed out; allocation is next-fit over a bitmap, so a
 * released address is reused only after the rest of the range. Prefix 16..30.
 * A handle is thread-safe; its view is refreshed from the file on every call. */
struct mk_net_ipam;
/* Opens PATH for CIDR ("10.244.1.0/24"; host bits must be zero), creating it if
 * missing. EINVAL if the file exists with another CIDR or is malformed. *ret owned
 * (mk_net_ipam_free). */
int mk_net_ipam_open(const char *path, const char *cidr, struct mk_net_ipam **ret,
		     struct mk_error **err);
void mk_net_ipam_free(struct mk_net_ipam *ipam); /* accepts NULL */
/* Gateway (first host address) and prefix length of the range, e.g. "10.244.1.1", 24. */
void mk_net_ipam_gateway(const struct mk_net_ipam *ipam, char out[MK_NET_IP_STRLEN],
			 int *ret_prefix);
/* Address of OWNER (printable, no spaces, 1..253 chars): the one it has, or a new
 * one. ENOSPC when the range is full. */
int mk_net_ipam_allocate(struct mk_net_ipam *ipam, const char *owner,
			 char ret_ip[MK_NET_IP_STRLEN], struct mk_error **err);
/* 1 and the address if OWNER has one, 0 if not. */
int mk_net_ipam_lookup(struct mk_net_ipam *ipam, const char *owner,
		       char ret_ip[MK_NET_IP_STRLEN], struct mk_error **err);
/* Frees OWNER's address; 1 if it had one, 0 if not. */
int mk_net_ipam_release(struct mk_net_ipam *ipam, const char *owner, struct mk_error **err);

struct mk_net_ipam_entry {
	char ip[MK_NET_IP_STRLEN];
	char *owner; /* owned */
};
/* All allocations in address order. Release with mk_net_ipam_entries_free. */
int mk_net_ipam_list(struct mk_net_ipam *ipam, struct mk_net_ipam_entry **ret, size_t *ret_n,
		     struct mk_error **err);
void mk_net_ipam_entries_free(struct mk_net_ipam_entry *e, size_t n);

/* Frees a NULL-terminated array of strings as returned by the *_list calls above. */

#endif
