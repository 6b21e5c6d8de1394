/* nftables over netlink: one growable transaction buffer, libnftnl for tables,
 * chains, sets and rules, hand-packed set elements (they are most of a batch:
 * building them straight into the buffer keeps a 40,000-element sync cheap). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/common.h>

#include "internal.h"

#define MSG_RESERVE (ELEMS_PER_MSG * 256 + 4096) /* room guaranteed before one message */

/* ---- the shared buffer (include/minik8s/proxy.h) --------------------------------- */

char *mk_nlbuf_reserve(struct mk_nlbuf *b, size_t need)
{
	if (b->len + need > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + need)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (!b->data)
			abort();
		memset(b->data + b->cap, 0, cap - b->cap);
		b->cap = cap;
	}
	return b->data + b->len;
}

void mk_nlbuf_commit(struct mk_nlbuf *b, const struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void mk_nlbuf_batch_begin(struct mk_nlbuf *b)
{
	mk_nlbuf_commit(b, nftnl_batch_begin(mk_nlbuf_reserve(b, 4096), b->seq++));
}

void mk_nlbuf_batch_end(struct mk_nlbuf *b)
{
	mk_nlbuf_commit(b, nftnl_batch_end(mk_nlbuf_reserve(b, 4096), b->seq++));
}

void mk_nlbuf_release(struct mk_nlbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- the proxy's batch ------------------------------------------------------------ */

void nbatch_init(struct nbatch *b, struct mk_proxy_stats *st)
{
	memset(b, 0, sizeof(*b));
	b->st = st;
	memset(st, 0, sizeof(*st));
	b->buf.seq = (uint32_t)time(NULL);
}

void nbatch_release(struct nbatch *b)
{
	mk_nlbuf_release(&b->buf);
}

static void commit_msg(struct nbatch *b, struct nlmsghdr *nlh, bool counted)
{
	mk_nlbuf_commit(&b->buf, nlh);
	if (counted)
		b->st->messages++;
}

void nbatch_begin(struct nbatch *b)
{
	mk_nlbuf_batch_begin(&b->buf);
	b->first_seq = b->buf.seq;
}

void nbatch_end(struct nbatch *b)
{
	nbatch_elem_flush(b);
	mk_nlbuf_batch_end(&b->buf);
	b->st->bytes = b->buf.len;
}

static struct nlmsghdr *hdr(struct nbatch *b, uint16_t type, uint16_t flags)
{
	nbatch_elem_flush(b);
	return nftnl_nlmsg_build_hdr(mk_nlbuf_reserve(&b->buf, MSG_RESERVE), type, NFPROTO_IPV4,
				     flags | NLM_F_ACK, b->buf.seq++);
}

void nbatch_table(struct nbatch *b, bool del)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, MK_PROXY_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_IPV4);
	struct nlmsghdr *nlh = hdr(b, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE, del ? 0 : NLM_F_CREATE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	commit_msg(b, nlh, true);
}

void nbatch_chain(struct nbatch *b, const char *name, int hooknum, int prio, bool del)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, MK_PROXY_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_IPV4);
	if (!del && hooknum >= 0) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hooknum);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	struct nlmsghdr *nlh = hdr(b, del ? NFT_MSG_DELCHAIN : NFT_MSG_NEWCHAIN, del ? 0 : NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	commit_msg(b, nlh, true);
	if (del)
		b->st->chains_deleted++;
	else
		b->st->chains_added++;
}

/* nft's encoding of concatenated datatypes (6 bits per type), so that
 * `nft list table ip minik8s` can show our maps. */
#define T_IPV4 7
#define T_PROTO 12
#define T_SERVICE 13
#define T_MARK 19
#define CAT2(a, b) (((a) << 6) | (b))
#define CAT3(a, b, c) ((CAT2(a, b) << 6) | (c))
#define CAT4(a, b, c, d) ((CAT3(a, b, c) << 6) | (d))
#define CAT5(a, b, c, d, e) ((CAT4(a, b, c, d) << 6) | (e))

static void put_set(struct nbatch *b, const char *name, uint32_t flags, uint32_t ktype, uint32_t klen,
		    uint32_t dtype, uint32_t dlen, uint32_t size)
{
	static uint32_t set_id = 1;
	struct nftnl_set *s = nftnl_set_alloc();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, MK_PROXY_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_IPV4);
	nftnl_set_set_u32(s, NFTNL_SET_ID, __atomic_fetch_add(&set_id, 1, __ATOMIC_RELAXED));
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ktype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, klen);
	if (flags & NFT_SET_MAP) {
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, dtype);
		nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, dlen);
	}
	if (size)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
	if (flags & NFT_SET_EXPR) {
		/* "counter" in the set's definition: the kernel gives every element
		 * its own counter, bumped when a lookup matches it (minik8s trace) */
		struct nftnl_expr *c = nftnl_expr_alloc("counter");
		if (!c)
			abort();
		nftnl_set_add_expr(s, c);
	}
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWSET, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	commit_msg(b, nlh, true);
}

void nbatch_sets(struct nbatch *b)
{
	/* clusterIP . l4proto . port : verdict */
	put_set(b, "svc", NFT_SET_MAP, CAT3(T_IPV4, T_PROTO, T_SERVICE), 12, NFT_DATA_VERDICT, 0, 0);
	/* the same for the external addresses of Local services (svc holds no key
	 * of scv, so that it can be looked up first) */
	put_set(b, "svx", NFT_SET_MAP, CAT3(T_IPV4, T_PROTO, T_SERVICE), 12, NFT_DATA_VERDICT, 0, 0);
	/* the same for traffic from the cluster's pods or the node itself to the
	 * external frontends of Local services (address 0 for NodePorts) */
	put_set(b, "scv", NFT_SET_MAP, CAT3(T_IPV4, T_PROTO, T_SERVICE), 12, NFT_DATA_VERDICT, 0, 0);
	/* l4proto . nodePort : verdict */
	put_set(b, "np", NFT_SET_MAP, CAT2(T_PROTO, T_SERVICE), 8, NFT_DATA_VERDICT, 0, 0);
	/* ip . l4proto . port . index : endpoint ip . port, each element with a
	 * counter; the lookup runs in nat chains, which see the first packet of a
	 * connection only, so it counts the connections sent to that endpoint */
	put_set(b, "ep", NFT_SET_MAP | NFT_SET_EXPR, CAT4(T_IPV4, T_PROTO, T_SERVICE, T_MARK), 16,
		CAT2(T_IPV4, T_SERVICE), 8, 0);
	/* ip . l4proto . port . endpoint ip . endpoint port: current endpoints of
	 * services with affinity (validates remembered choices) */
	put_set(b, "epset", 0, CAT5(T_IPV4, T_PROTO, T_SERVICE, T_IPV4, T_SERVICE), 20, 0, 0, 0);
	/* client . ip . l4proto . port : endpoint ip . port, filled by the packet path */
	put_set(b, "aff", NFT_SET_MAP | NFT_SET_TIMEOUT | NFT_SET_EVAL,
		CAT4(T_IPV4, T_IPV4, T_PROTO, T_SERVICE), 16, CAT2(T_IPV4, T_SERVICE), 8, 65536);
}

/* ---- rules ------------------------------------------------------------------ */

struct nftnl_rule *rule_new(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		abort();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, MK_PROXY_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	return r;
}

void nbatch_rule(struct nbatch *b, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	commit_msg(b, nlh, true);
	b->st->rules_added++;
}

static struct nftnl_expr *expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (!e)
		abort();
	nftnl_rule_add_expr(r, e);
	return e;
}

void rule_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

void rule_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

void rule_meta_set(struct nftnl_rule *r, uint32_t key, uint32_t sreg)
{
	struct nftnl_expr *e = expr(r, "meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, sreg);
}

void rule_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(r, "cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

void rule_bitwise(struct nftnl_rule *r, uint32_t sreg, uint32_t dreg, uint32_t len, const void *mask,
		  const void *xor)
{
	struct nftnl_expr *e = expr(r, "bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
}

void rule_lookup(struct nftnl_rule *r, const char *set, uint32_t sreg, int dreg)
{
	struct nftnl_expr *e = expr(r, "lookup");
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
}

void rule_imm_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = expr(r, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

void rule_imm_data(struct nftnl_rule *r, uint32_t dreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr(r, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
}

void rule_numgen(struct nftnl_rule *r, uint32_t dreg, uint32_t mod)
{
	struct nftnl_expr *e = expr(r, "numgen");
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, mod);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
}

void rule_dynset(struct nftnl_rule *r, const char *set, uint32_t op, uint32_t sreg_key, int sreg_data,
		 uint64_t timeout_ms)
{
	struct nftnl_expr *e = expr(r, "dynset");
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, op);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg_key);
	if (sreg_data >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_DATA, (uint32_t)sreg_data);
	if (timeout_ms)
		nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, timeout_ms);
}

void rule_dnat(struct nftnl_rule *r, uint32_t reg_addr, uint32_t reg_proto)
{
	struct nftnl_expr *e = expr(r, "nat");
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, reg_addr);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_proto);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MAX, reg_proto);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS,
			   NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
}

void rule_masq(struct nftnl_rule *r)
{
	struct nftnl_expr *e = expr(r, "masq");
	nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
}

void rule_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = expr(r, "reject");
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
}

void rule_fib_daddr_type(struct nftnl_rule *r, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "fib");
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
}

void rule_fib_saddr_type(struct nftnl_rule *r, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "fib");
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, dreg);
}

void rule_ct(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "ct");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, dreg);
}

/* ---- elements --------------------------------------------------------------- */

void nbatch_elem_flush(struct nbatch *b)
{
	if (!b->el_set)
		return;
	struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf.data + b->el_off);
	mnl_attr_nest_end(nlh, (struct nlattr *)(b->buf.data + b->el_nest_off));
	b->el_set = NULL;
	commit_msg(b, nlh, true);
}

void nbatch_elem(struct nbatch *b, enum elem_op op, const char *set, const void *key, size_t klen,
		 const void *data, size_t dlen, const char *chain)
{
	if (b->el_set && (b->el_op != op || strcmp(b->el_set, set) != 0 || b->el_count >= ELEMS_PER_MSG))
		nbatch_elem_flush(b);
	if (!b->el_set) {
		/* a new NEWSETELEM/DELSETELEM message; one element needs < 256 bytes,
		 * so MSG_RESERVE covers a full message and the buffer cannot move
		 * while it is open */
		struct nlmsghdr *nlh = hdr(b, op == ELEM_ADD ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
					   op == ELEM_ADD ? NLM_F_CREATE : 0);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, MK_PROXY_TABLE);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
		struct nlattr *nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		b->el_off = (char *)nlh - b->buf.data;
		b->el_nest_off = (char *)nest - b->buf.data;
		b->el_set = set;
		b->el_op = op;
		b->el_count = 0;
	}
	struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf.data + b->el_off);
	struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	struct nlattr *k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, klen, key);
	mnl_attr_nest_end(nlh, k);
	if (op == ELEM_ADD && chain) {
		struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
		struct nlattr *v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
		mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)NFT_GOTO));
		mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, chain);
		mnl_attr_nest_end(nlh, v);
		mnl_attr_nest_end(nlh, d);
	} else if (op == ELEM_ADD && data) {
		struct nlattr *d = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_DATA);
		mnl_attr_put(nlh, NFTA_DATA_VALUE, dlen, data);
		mnl_attr_nest_end(nlh, d);
	}
	mnl_attr_nest_end(nlh, el);
	b->el_count++;
	if (op == ELEM_ADD)
		b->st->elems_added++;
	else
		b->st->elems_deleted++;
}

/* ---- sending ------------------------------------------------------------------ */

static int ensure_bufsize(struct mnl_socket *nl, int opt, size_t want)
{
	int cur = 0;
	socklen_t l = sizeof(cur);
	int fd = mnl_socket_get_fd(nl);
	if (getsockopt(fd, SOL_SOCKET, opt == SO_SNDBUFFORCE ? SO_SNDBUF : SO_RCVBUF, &cur, &l) == 0 &&
	    (size_t)cur >= want * 2)
		return 0;
	int v = want > INT32_MAX / 2 ? INT32_MAX / 2 : (int)want;
	return setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

int nbatch_send(struct nbatch *b, struct mnl_socket *nl, struct mk_error **err)
{
	unsigned expected = b->buf.seq - 1 - b->first_seq; /* acked messages */
	uint32_t last = b->buf.seq - 2;			  /* seq of the last acked message */
	int first_err = 0;
	uint32_t err_seq = 0;
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];

	ensure_bufsize(nl, SO_SNDBUFFORCE, b->buf.len + 65536);
	ensure_bufsize(nl, SO_RCVBUFFORCE, 1 << 22);
	if (mnl_socket_sendto(nl, b->buf.data, b->buf.len) < 0)
		return mk_error_errno(err, errno, "send nftables batch (%zu bytes)", b->buf.len);
	if (expected == 0)
		return 0;
	unsigned got = 0;
	bool done = false;
	while (!done) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		int r = poll(&pfd, 1, first_err ? 200 : 30000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (first_err)
				break;
			return mk_error_set(err, ETIMEDOUT, "nftables batch: no answer from the kernel");
		}
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mk_error_errno(err, errno, "receive nftables acks");
		}
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, (int)n);
		     nlh = mnl_nlmsg_next(nlh, (int *)&n)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			got++;
			if (e->error && !first_err) {
				first_err = -e->error;
				err_seq = nlh->nlmsg_seq;
			}
			if (nlh->nlmsg_seq == last || got >= expected)
				done = true;
		}
	}
	if (first_err)
		return mk_error_errno(err, first_err, "nftables batch rejected (message %u of %u)",
				      err_seq - b->first_seq + 1, expected);
	return 0;
}

int mk_nft_table_exists(struct mnl_socket *nl, uint32_t seq, uint16_t family, const char *table,
			struct mk_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, NLM_F_ACK, seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return mk_error_errno(err, errno, "send nftables gettable '%s'", table);
	int found = 0;
	for (;;) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		if (poll(&pfd, 1, 5000) <= 0)
			return mk_error_set(err, ETIMEDOUT, "nftables gettable '%s': no answer", table);
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return mk_error_errno(err, errno, "receive nftables gettable '%s'", table);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)n);
		     h = mnl_nlmsg_next(h, (int *)&n)) {
			if (h->nlmsg_seq != seq)
				continue; /* a late answer to something else */
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
				if (e->error == 0)
					return found;
				if (e->error == -ENOENT)
					return 0;
				return mk_error_errno(err, -e->error, "nftables gettable '%s'", table);
			}
			found = 1;
		}
	}
}
