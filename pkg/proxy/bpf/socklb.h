/* Map layout shared by the socket LB's eBPF program (socklb.bpf.c) and its
 * loader (pkg/proxy/socklb.c). Addresses and ports in network byte order,
 * as struct bpf_sock_addr carries them. */
#ifndef MINIK8S_PROXY_SOCKLB_H
#define MINIK8S_PROXY_SOCKLB_H

#include <linux/types.h>

#define MK_SOCKLB_MAX_FRONTENDS 65536
#define MK_SOCKLB_MAX_BACKENDS 262144
#define MK_SOCKLB_MAX_REV 65536

/* a ClusterIP frontend: ip . protocol . port (map svc of the nft engine) */
struct mk_socklb_fe_key {
	__u32 ip;
	__u16 port;
	__u8 proto;
	__u8 pad;
};

struct mk_socklb_fe_val {
	__u32 count; /* endpoints, at indices 0 .. count-1 in mk_slb_be */
	__u32 pad;
};

/* one endpoint of a frontend (map ep of the nft engine) */
struct mk_socklb_be_key {
	__u32 ip;
	__u16 port;
	__u8 proto;
	__u8 pad;
	__u32 index;
};

struct mk_socklb_be_val {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

struct mk_socklb_cnt_key {
	__u32 fe_ip;
	__u16 fe_port;
	__u8 proto;
	__u8 pad;
	__u32 ep_ip;
	__u16 ep_port;
	__u16 pad2;
};

struct mk_socklb_rev_key {
	__u64 cookie;
	__u32 ip;
	__u16 port;
	__u16 pad;
};

struct mk_socklb_rev_val {
	__u32 ip;
	__u16 port;
	__u16 pad;
};

#endif
