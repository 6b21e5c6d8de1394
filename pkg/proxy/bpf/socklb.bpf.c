/* Socket-level ClusterIP balancing (the eBPF side; pkg/proxy/socklb.c loads it).
 * Attached to the pods' cgroup2 subtree, it rewrites a connect() (TCP and
 * connected UDP) or an unconnected UDP sendmsg() to a ClusterIP:port into one of
 * the service's endpoints, picked at random, before the socket has sent a
 * packet: the traffic then goes straight to the pod, with no conntrack DNAT or
 * masquerade on the node. recvmsg() and getpeername() turn the endpoint's
 * address back into the ClusterIP the application asked for (as Cilium's
 * socket LB does), so the rewrite is invisible to the application.
 *
 * The maps mirror the nft engine's map svc / map ep (same keys: address,
 * protocol, port and an index) and are written by the proxy from the same
 * endpoint data; a service missing here (affinity, SCTP, no endpoints) is
 * simply not rewritten and the nft path handles it. Built with
 * clang -target bpf; maps and layout are shared with socklb.c through
 * pkg/proxy/bpf/socklb.h. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "socklb.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MK_SOCKLB_MAX_FRONTENDS);
	__type(key, struct mk_socklb_fe_key);
	__type(value, struct mk_socklb_fe_val);
} mk_slb_fe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MK_SOCKLB_MAX_BACKENDS);
	__type(key, struct mk_socklb_be_key);
	__type(value, struct mk_socklb_be_val);
} mk_slb_be SEC(".maps");

/* connections per (frontend, endpoint): what `minik8s trace` reads */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MK_SOCKLB_MAX_BACKENDS);
	__type(key, struct mk_socklb_cnt_key);
	__type(value, __u64);
} mk_slb_cnt SEC(".maps");

/* socket cookie + endpoint -> the ClusterIP it stands for (recvmsg,
 * getpeername); LRU: cookies are never reused, old entries just age out */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MK_SOCKLB_MAX_REV);
	__type(key, struct mk_socklb_rev_key);
	__type(value, struct mk_socklb_rev_val);
} mk_slb_rev SEC(".maps");

/* Rewrites ctx's destination when it is a frontend of ours; 1 if it did. */
static __always_inline int balance(struct bpf_sock_addr *ctx)
{
	struct mk_socklb_fe_key fk = {
		.ip = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
		.proto = (__u8)ctx->protocol,
	};
	struct mk_socklb_fe_val *fv = bpf_map_lookup_elem(&mk_slb_fe, &fk);
	if (!fv || fv->count == 0)
		return 0;
	struct mk_socklb_be_key bk = { .ip = fk.ip, .port = fk.port, .proto = fk.proto };
	bk.index = bpf_get_prandom_u32() % fv->count;
	struct mk_socklb_be_val *bv = bpf_map_lookup_elem(&mk_slb_be, &bk);
	if (!bv)
		return 0; /* mid-update: leave it to the nft path */
	struct mk_socklb_rev_key rk = {
		.cookie = bpf_get_socket_cookie(ctx), .ip = bv->ip, .port = bv->port };
	struct mk_socklb_rev_val rv = { .ip = fk.ip, .port = fk.port };
	bpf_map_update_elem(&mk_slb_rev, &rk, &rv, BPF_ANY);
	struct mk_socklb_cnt_key ck = { .fe_ip = fk.ip, .fe_port = fk.port, .proto = fk.proto,
					.ep_ip = bv->ip, .ep_port = bv->port };
	__u64 *n = bpf_map_lookup_elem(&mk_slb_cnt, &ck);
	if (n)
		__sync_fetch_and_add(n, 1);
	ctx->user_ip4 = bv->ip;
	ctx->user_port = bv->port;
	return 1;
}

/* Turns an endpoint's address back into the ClusterIP for this socket. */
static __always_inline void reverse(struct bpf_sock_addr *ctx)
{
	struct mk_socklb_rev_key rk = {
		.cookie = bpf_get_socket_cookie(ctx),
		.ip = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
	};
	struct mk_socklb_rev_val *rv = bpf_map_lookup_elem(&mk_slb_rev, &rk);
	if (!rv)
		return;
	ctx->user_ip4 = rv->ip;
	ctx->user_port = rv->port;
}

SEC("cgroup/connect4")
int mk_slb_connect4(struct bpf_sock_addr *ctx)
{
	balance(ctx);
	return 1;
}

SEC("cgroup/sendmsg4")
int mk_slb_sendmsg4(struct bpf_sock_addr *ctx)
{
	balance(ctx);
	return 1;
}

SEC("cgroup/recvmsg4")
int mk_slb_recvmsg4(struct bpf_sock_addr *ctx)
{
	reverse(ctx);
	return 1;
}

SEC("cgroup/getpeername4")
int mk_slb_getpeername4(struct bpf_sock_addr *ctx)
{
	reverse(ctx);
	return 1;
}
