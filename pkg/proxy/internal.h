/* Private to pkg/proxy. */
#ifndef MINIK8S_PROXY_INTERNAL_H
#define MINIK8S_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

#include "minik8s/proxy.h"

/* ---- netlink batch (nft.c) ------------------------------------------------------
 * One growable buffer holding BATCH_BEGIN, the messages and BATCH_END: the
 * whole transaction is sent with one sendmsg so the kernel applies it
 * atomically. Set elements are packed, up to ELEMS_PER_MSG per message, into
 * one message per consecutive (set, operation) run. */

enum elem_op { ELEM_ADD, ELEM_DEL };

struct nbatch {
	struct mk_nlbuf buf;
	uint32_t first_seq;
	struct mk_proxy_stats *st;
	/* the open element message, if any */
	struct nlmsghdr *el_nlh;	/* offset-based: data may move, see nft.c */
	size_t el_off;
	struct nlattr *el_nest;
	size_t el_nest_off;
	const char *el_set;
	enum elem_op el_op;
	unsigned el_count;
};

void nbatch_init(struct nbatch *b, struct mk_proxy_stats *st);
void nbatch_release(struct nbatch *b);
void nbatch_begin(struct nbatch *b);
void nbatch_end(struct nbatch *b);

/* Table and base objects. */
void nbatch_table(struct nbatch *b, bool del);
/* Regular chain (hook NULL) or base chain "type nat hook HOOK priority PRIO". */
void nbatch_chain(struct nbatch *b, const char *name, int hooknum, int prio, bool del);
void nbatch_sets(struct nbatch *b);

/* Rules. */
struct nftnl_rule;
struct nftnl_rule *rule_new(const char *chain);
void nbatch_rule(struct nbatch *b, struct nftnl_rule *r); /* consumes r */
void rule_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg);
void rule_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg);
void rule_meta_set(struct nftnl_rule *r, uint32_t key, uint32_t sreg);
void rule_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len);
void rule_bitwise(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg, uint32_t len, const void *mask,
		  const void *xor);
void rule_lookup(struct nftnl_rule *r, const char *set, uint32_t sreg, int dreg);
void rule_imm_verdict(struct nftnl_rule *r, int verdict, const char *chain);
void rule_imm_data(struct nftnl_rule *r, uint32_t dreg, const void *data, uint32_t len);
void rule_numgen(struct nftnl_rule *r, uint32_t dreg, uint32_t mod);
void rule_dynset(struct nftnl_rule *r, const char *set, uint32_t op, uint32_t sreg_key, int sreg_data,
		 uint64_t timeout_ms);
void rule_dnat(struct nftnl_rule *r, uint32_t reg_addr, uint32_t reg_proto);
void rule_masq(struct nftnl_rule *r);
void rule_reject(struct nftnl_rule *r, uint32_t type, uint8_t code);
void rule_fib_daddr_type(struct nftnl_rule *r, uint32_t dreg);
void rule_fib_saddr_type(struct nftnl_rule *r, uint32_t dreg);
void rule_ct(struct nftnl_rule *r, uint32_t key, uint32_t dreg);

/* Elements: key/data are raw register images. chain != NULL: data is "goto chain". */
void nbatch_elem(struct nbatch *b, enum elem_op op, const char *set, const void *key, size_t klen,
		 const void *data, size_t dlen, const char *chain);
/* Closes the open element message (done by the other nbatch_ calls). */
void nbatch_elem_flush(struct nbatch *b);

/* Sends the batch on nl and waits for the kernel's verdict. */
int nbatch_send(struct nbatch *b, struct mnl_socket *nl, struct mk_error **err);


/* Runs fn(arg) with the calling thread inside the netns of opts; 0 or -1. */
int proxy_in_netns(const struct mk_proxy_options *opts, int (*fn)(void *), void *arg,
		   struct mk_error **err);

/* conntrack.c: deletes UDP conntrack entries whose reply comes from one of
 * eps (an endpoint, DNATed to). Returns the number deleted or -1. */
int proxy_ct_flush_udp_endpoints(struct mnl_socket *nl, const struct mk_proxy_endpoint *eps,
				 size_t n, struct mk_error **err);
/* conntrack.c: a ctnetlink request header (IPv4) of type (IPCTNL_MSG_CT_*)
 * with flags besides NLM_F_REQUEST, at the start of buf. */
struct nlmsghdr *proxy_ct_header(char *buf, uint16_t type, uint16_t flags, uint32_t seq);

static inline void mk_proxy_service_freep(struct mk_proxy_service **s)
{
	mk_proxy_service_free(*s);
}

/* proxy.c: netlink port id of the proxy's nftables socket (0 in dry-run), so
 * that the monitor can tell our own changes from someone else's. */
uint32_t proxy_nl_portid(const struct mk_proxy *p);
const struct mk_proxy_options *proxy_options(const struct mk_proxy *p);

/* Registers (32-bit slots) used by our rules. */
#define R(n) (NFT_REG32_00 + (n))

/* health.c: the health check node ports of Local services (a thread). */
struct proxy_health;
struct proxy_health *proxy_health_new(const struct mk_proxy_options *opts, struct mk_error **err);
/* Serves count on port for service key (port 0: stop serving it). */
int proxy_health_set(struct proxy_health *h, const char *key, uint16_t port, size_t count,
		     struct mk_error **err);
void proxy_health_free(struct proxy_health *h); /* accepts NULL */

/* lbaddr.c: LoadBalancer pool addresses this node holds (one thread: the
 * runner's worker). */
struct proxy_lbaddr;
struct proxy_lbaddr *proxy_lbaddr_new(const char *node, const char *node_ip, const char *state_file,
				      struct mk_error **err);
/* Records what service key (JSON borrowed; NULL: gone) asks of this node. */
void proxy_lbaddr_note(struct proxy_lbaddr *l, const char *key, const cJSON *svc);
/* Adds, announces and removes interface addresses to match the notes. */
int proxy_lbaddr_sync(struct proxy_lbaddr *l, struct mk_error **err);
void proxy_lbaddr_free(struct proxy_lbaddr *l); /* accepts NULL */

#define ELEMS_PER_MSG 256
#define NODEPORT_MARK 0x4000u

#endif
