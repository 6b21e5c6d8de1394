/* The programmer: a ruleset -> tables `inet minik8s-netpol` (the verdicts) and
 * `bridge minik8s-netpol` (diverting pod-to-pod frames to the routed path), over
 * netlink in one transaction per change. See include/minik8s/netpol.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <linux/netfilter_bridge.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/common.h>

#include "minik8s/netpol.h"
#include "minik8s/proxy.h"

#define R(n) (NFT_REG32_00 + (n))
#define ELEMS_PER_MSG 512
#define RESERVE (ELEMS_PER_MSG * 64 + 8192)
#define NF_CT_EST_REL ((1u << 1) | (1u << 2)) /* NF_CT_STATE_BIT(ESTABLISHED|RELATED) */

struct mk_netpol {
	struct mk_netpol_options opts;
	char *cluster_cidr, *bridge, *netns_path;
	struct mnl_socket *nl;
	uint32_t seq;
	bool programmed;
	struct mk_netpol_ruleset last; /* what the kernel has, when programmed */
	uint32_t last_net, last_mask;
	uint8_t last_mac[6];
	struct mk_netpol_stats st;
};

/* ---- batch buffer ------------------------------------------------------------- */

struct nb {
	struct mk_nlbuf buf; /* include/minik8s/proxy.h */
	struct mk_netpol_stats *st;
};

static void commit(struct nb *b, struct nlmsghdr *nlh)
{
	mk_nlbuf_commit(&b->buf, nlh);
	b->st->messages++;
}

static struct nlmsghdr *hdr(struct nb *b, uint16_t type, uint16_t family, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(mk_nlbuf_reserve(&b->buf, RESERVE), type, family, flags, b->buf.seq++);
}

static void put_table(struct nb *b, uint16_t family, bool del)
{
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, MK_NETPOL_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
	struct nlmsghdr *nlh = hdr(b, del ? NFT_MSG_DELTABLE : NFT_MSG_NEWTABLE, family,
				   del ? 0 : NLM_F_CREATE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	commit(b, nlh);
}

static void put_chain(struct nb *b, uint16_t family, const char *name, int hook, int prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, MK_NETPOL_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
	if (hook >= 0) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWCHAIN, family, NLM_F_CREATE);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	commit(b, nlh);
}

/* nft's datatype numbers, so that `nft list table inet minik8s-netpol` reads well */
#define T_IPV4 7
#define T_PROTO 12
#define T_SERVICE 13

static void put_set(struct nb *b, const struct mk_netpol_set *s, uint32_t id)
{
	struct nftnl_set *x = nftnl_set_alloc();
	nftnl_set_set_str(x, NFTNL_SET_TABLE, MK_NETPOL_TABLE);
	nftnl_set_set_str(x, NFTNL_SET_NAME, s->name);
	nftnl_set_set_u32(x, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(x, NFTNL_SET_ID, id);
	if (s->type == MK_NETPOL_SET_ADDR_PORT) {
		nftnl_set_set_u32(x, NFTNL_SET_KEY_TYPE, (((T_IPV4 << 6) | T_PROTO) << 6) | T_SERVICE);
		nftnl_set_set_u32(x, NFTNL_SET_KEY_LEN, 12);
		nftnl_set_set_u32(x, NFTNL_SET_FLAGS, 0);
	} else {
		nftnl_set_set_u32(x, NFTNL_SET_KEY_TYPE, T_IPV4);
		nftnl_set_set_u32(x, NFTNL_SET_KEY_LEN, 4);
		nftnl_set_set_u32(x, NFTNL_SET_FLAGS,
				  s->type == MK_NETPOL_SET_RANGES ? NFT_SET_INTERVAL : 0);
	}
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, x);
	nftnl_set_free(x);
	commit(b, nlh);
}

/* ---- raw elements ----------------------------------------------------------------- */

struct relem {
	uint8_t key[12];
	uint8_t klen;
	uint8_t end; /* NFT_SET_ELEM_INTERVAL_END */
};

static int cmp_relem(const struct relem *a, const struct relem *b)
{
	int r = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
	if (r)
		return r;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	return (int)a->end - (int)b->end;
}

/* The set's elements as the kernel holds them, in cmp_relem order (the model's
 * order is numeric, and the keys are big-endian, so it is the same). */
static struct relem *raw_elems(const struct mk_netpol_set *s, size_t *ret_n)
{
	struct relem *e = calloc(s->n * 2 + 1, sizeof(*e));
	if (!e)
		abort();
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++) {
		uint32_t a;
		switch (s->type) {
		case MK_NETPOL_SET_ADDR:
			a = htonl(s->addrs[i]);
			memcpy(e[n].key, &a, 4);
			e[n++].klen = 4;
			break;
		case MK_NETPOL_SET_ADDR_PORT: {
			a = htonl(s->aps[i].addr);
			uint16_t p = htons(s->aps[i].port);
			memcpy(e[n].key, &a, 4);
			e[n].key[4] = s->aps[i].proto;
			memcpy(e[n].key + 8, &p, 2);
			e[n++].klen = 12;
			break;
		}
		case MK_NETPOL_SET_RANGES:
			a = htonl(s->ranges[i].lo);
			memcpy(e[n].key, &a, 4);
			e[n++].klen = 4;
			if (s->ranges[i].hi != UINT32_MAX) {
				a = htonl(s->ranges[i].hi + 1);
				memcpy(e[n].key, &a, 4);
				e[n].klen = 4;
				e[n++].end = 1;
			}
			break;
		}
	}
	*ret_n = n;
	return e;
}

struct elmsg {
	size_t off, nest_off;
	unsigned count;
	bool open;
};

static void el_flush(struct nb *b, struct elmsg *m)
{
	if (!m->open)
		return;
	struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf.data + m->off);
	mnl_attr_nest_end(nlh, (struct nlattr *)(b->buf.data + m->nest_off));
	commit(b, nlh);
	m->open = false;
}

static void el_put(struct nb *b, struct elmsg *m, bool add, const char *set, const struct relem *e)
{
	if (m->open && m->count >= ELEMS_PER_MSG)
		el_flush(b, m);
	if (!m->open) {
		struct nlmsghdr *nlh = hdr(b, add ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM,
					   NFPROTO_INET, add ? NLM_F_CREATE : 0);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, MK_NETPOL_TABLE);
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
		struct nlattr *nest = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
		m->off = (char *)nlh - b->buf.data;
		m->nest_off = (char *)nest - b->buf.data;
		m->count = 0;
		m->open = true;
	}
	struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf.data + m->off);
	struct nlattr *el = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	struct nlattr *k = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_KEY);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, e->klen, e->key);
	mnl_attr_nest_end(nlh, k);
	if (e->end)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(NFT_SET_ELEM_INTERVAL_END));
	mnl_attr_nest_end(nlh, el);
	m->count++;
	if (add)
		b->st->elems_added++;
	else
		b->st->elems_deleted++;
}

/* Elements of want not in have are added, of have not in want deleted
 * (deletions first: intervals must not overlap at any point). have NULL: all added. */
static void put_elem_diff(struct nb *b, const struct mk_netpol_set *want, const struct mk_netpol_set *have)
{
	size_t nw = 0, nh = 0;
	struct relem *w = raw_elems(want, &nw);
	struct relem *h = have ? raw_elems(have, &nh) : NULL;
	struct elmsg m = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		size_t i = 0, j = 0;
		while (i < nw || j < nh) {
			int c = i >= nw ? 1 : j >= nh ? -1 : cmp_relem(&w[i], &h[j]);
			if (c == 0) {
				i++, j++;
			} else if (c < 0) {
				if (pass == 1)
					el_put(b, &m, true, want->name, &w[i]);
				i++;
			} else {
				if (pass == 0)
					el_put(b, &m, false, want->name, &h[j]);
				j++;
			}
		}
		el_flush(b, &m);
	}
	free(w);
	free(h);
}

/* ---- rules ------------------------------------------------------------------------- */

static struct nftnl_expr *ex(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);
	if (!e)
		abort();
	nftnl_rule_add_expr(r, e);
	return e;
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = ex(r, "payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
}

static void e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = ex(r, "meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void e_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = ex(r, "cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_lookup(struct nftnl_rule *r, const char *set, uint32_t sreg)
{
	struct nftnl_expr *e = ex(r, "lookup");
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
}

static void e_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = ex(r, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

static void e_imm(struct nftnl_rule *r, uint32_t dreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = ex(r, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, dreg);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
}

static struct nftnl_rule *rule_new(uint16_t family, const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	if (!r)
		abort();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, MK_NETPOL_TABLE);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	return r;
}

static void put_rule(struct nb *b, uint16_t family, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh = hdr(b, NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	commit(b, nlh);
	b->st->rules_added++;
}

/* ip saddr (12) or daddr (16) into reg */
static void e_addr(struct nftnl_rule *r, bool src, uint32_t reg)
{
	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, src ? 12 : 16, 4, reg);
}

/* The head of forward and input: non-IPv4 and replies pass, isolated pods are
 * judged. */
static void put_base_rules(struct nb *b, const char *chain, bool ingress)
{
	struct nftnl_rule *r = rule_new(NFPROTO_INET, chain);
	uint8_t v4 = NFPROTO_IPV4;
	e_meta(r, NFT_META_NFPROTO, R(0));
	e_cmp(r, R(0), NFT_CMP_NEQ, &v4, 1);
	e_verdict(r, NF_ACCEPT, NULL);
	put_rule(b, NFPROTO_INET, r);

	r = rule_new(NFPROTO_INET, chain);
	struct nftnl_expr *e = ex(r, "ct");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, R(0));
	uint32_t mask = NF_CT_EST_REL, zero = 0;
	e = ex(r, "bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, R(0));
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, R(0));
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	e_cmp(r, R(0), NFT_CMP_NEQ, &zero, 4);
	e_verdict(r, NF_ACCEPT, NULL);
	put_rule(b, NFPROTO_INET, r);

	r = rule_new(NFPROTO_INET, chain);
	e_addr(r, true, R(0));
	e_lookup(r, "egr_iso", R(0));
	e_verdict(r, NFT_JUMP, "egress");
	put_rule(b, NFPROTO_INET, r);

	if (ingress) {
		r = rule_new(NFPROTO_INET, chain);
		e_addr(r, false, R(0));
		e_lookup(r, "ing_iso", R(0));
		e_verdict(r, NFT_JUMP, "ingress");
		put_rule(b, NFPROTO_INET, r);
	}
}

static void put_policy_rule(struct nb *b, const struct mk_netpol_ruleset *rs, const struct mk_netpol_rule *pr)
{
	const char *chain = pr->egress ? "egress" : "ingress";
	struct nftnl_rule *r = rule_new(NFPROTO_INET, chain);
	e_addr(r, pr->egress, R(0));
	e_lookup(r, rs->sets[pr->subject].name, R(0));
	if (pr->peer >= 0) {
		e_addr(r, !pr->egress, R(0));
		e_lookup(r, rs->sets[pr->peer].name, R(0));
	}
	if (pr->proto) {
		e_meta(r, NFT_META_L4PROTO, R(1));
		e_cmp(r, R(1), NFT_CMP_EQ, &pr->proto, 1);
		if (pr->named >= 0) {
			e_addr(r, false, R(0));
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(2));
			e_lookup(r, rs->sets[pr->named].name, R(0));
		} else if (pr->port_lo != 0 || pr->port_hi != 65535) {
			uint16_t lo = htons(pr->port_lo), hi = htons(pr->port_hi);
			e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(2));
			if (lo == hi) {
				e_cmp(r, R(2), NFT_CMP_EQ, &lo, 2);
			} else {
				e_cmp(r, R(2), NFT_CMP_GTE, &lo, 2);
				e_cmp(r, R(2), NFT_CMP_LTE, &hi, 2);
			}
		}
	}
	e_verdict(r, pr->egress ? NFT_RETURN : NF_ACCEPT, NULL);
	put_rule(b, NFPROTO_INET, r);
}

/* bridge prerouting: unicast IPv4 frames within the bridge's subnet (the node's
 * pod CIDR) that the bridge would forward to another port go up to the node instead
 * (destination MAC := the bridge's, packet type host), to be routed, tracked
 * and judged in forward. */
static void put_bridge(struct nb *b, uint32_t net, uint32_t mask, const uint8_t mac[6])
{
	put_table(b, NFPROTO_BRIDGE, false);
	put_table(b, NFPROTO_BRIDGE, true);
	put_table(b, NFPROTO_BRIDGE, false);
	put_chain(b, NFPROTO_BRIDGE, "prerouting", NF_BR_PRE_ROUTING, 0);
	struct nftnl_rule *r = rule_new(NFPROTO_BRIDGE, "prerouting");
	uint16_t ip = htons(ETH_P_IP);
	uint8_t other = PACKET_OTHERHOST, host = PACKET_HOST;
	e_meta(r, NFT_META_PROTOCOL, R(0));
	e_cmp(r, R(0), NFT_CMP_EQ, &ip, 2);
	e_meta(r, NFT_META_PKTTYPE, R(0));
	e_cmp(r, R(0), NFT_CMP_EQ, &other, 1);
	uint32_t nmask = htonl(mask), nnet = htonl(net), zero = 0;
	for (int src = 1; src >= 0; src--) {
		e_addr(r, src, R(0));
		struct nftnl_expr *e = ex(r, "bitwise");
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, R(0));
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, R(0));
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &nmask, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
		e_cmp(r, R(0), NFT_CMP_EQ, &nnet, 4);
	}
	uint8_t macbuf[8] = { 0 };
	memcpy(macbuf, mac, 6);
	e_imm(r, R(0), macbuf, 6);
	struct nftnl_expr *e = ex(r, "payload");
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, R(0));
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_LL_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 0);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 6);
	e_imm(r, R(2), &host, 1);
	e = ex(r, "meta");
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_PKTTYPE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, R(2));
	put_rule(b, NFPROTO_BRIDGE, r);
}

static void put_full(struct nb *b, const struct mk_netpol_ruleset *rs, uint32_t net, uint32_t mask,
		     const uint8_t mac[6])
{
	/* add + delete + add: replaces whatever an earlier agent left, atomically */
	put_table(b, NFPROTO_INET, false);
	put_table(b, NFPROTO_INET, true);
	put_table(b, NFPROTO_INET, false);
	put_chain(b, NFPROTO_INET, "ingress", -1, 0);
	put_chain(b, NFPROTO_INET, "egress", -1, 0);
	put_chain(b, NFPROTO_INET, "forward", NF_INET_FORWARD, 0);
	put_chain(b, NFPROTO_INET, "input", NF_INET_LOCAL_IN, 0);
	for (size_t i = 0; i < rs->nsets; i++) {
		put_set(b, &rs->sets[i], (uint32_t)i + 1);
		put_elem_diff(b, &rs->sets[i], NULL);
	}
	for (size_t i = 0; i < rs->nrules; i++)
		put_policy_rule(b, rs, &rs->rules[i]);
	for (int eg = 0; eg < 2; eg++) {
		struct nftnl_rule *r = rule_new(NFPROTO_INET, eg ? "egress" : "ingress");
		e_verdict(r, NF_DROP, NULL);
		put_rule(b, NFPROTO_INET, r);
	}
	put_base_rules(b, "forward", true);
	put_base_rules(b, "input", false);
	put_bridge(b, net, mask, mac);
}

/* ---- sending ------------------------------------------------------------------------ */

static int send_batch(struct mk_netpol *np, struct nb *b, struct mk_error **err)
{
	np->st.bytes = b->buf.len;
	if (np->opts.dry_run)
		return 0;
	int fd = mnl_socket_get_fd(np->nl);
	int sz = (int)(b->buf.len + 65536);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	if (mnl_socket_sendto(np->nl, b->buf.data, b->buf.len) < 0)
		return mk_error_errno(err, errno, "send nftables batch (%zu bytes)", b->buf.len);
	/* the kernel processes the batch inside sendmsg and queues an error per
	 * failed message; a GETGEN with an ack, answered after them, marks the end */
	char buf[MNL_SOCKET_BUFFER_SIZE];
	uint32_t gseq = ++np->seq + 0x40000000u;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, gseq);
	if (mnl_socket_sendto(np->nl, nlh, nlh->nlmsg_len) < 0)
		return mk_error_errno(err, errno, "send nftables getgen");
	int first = 0;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = poll(&pfd, 1, 30000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return mk_error_set(err, ETIMEDOUT, "nftables batch: no answer from the kernel");
		ssize_t n = mnl_socket_recvfrom(np->nl, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return mk_error_errno(err, errno, "receive nftables answers");
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; mnl_nlmsg_ok(h, (int)n);
		     h = mnl_nlmsg_next(h, (int *)&n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
			if (h->nlmsg_seq == gseq) {
				if (first)
					return mk_error_errno(err, first, "nftables batch rejected");
				return 0;
			}
			if (e->error && !first)
				first = -e->error;
		}
	}
}

/* ---- netns, bridge address ------------------------------------------------------------ */

static int in_netns(const struct mk_netpol_options *o, int (*fn)(void *), void *arg, struct mk_error **err)
{
	int own = -1, target = o->netns_fd;
	if (target < 0 && o->netns_path) {
		own = open(o->netns_path, O_RDONLY | O_CLOEXEC);
		if (own < 0)
			return mk_error_errno(err, errno, "open netns '%s'", o->netns_path);
		target = own;
	}
	if (target < 0)
		return fn(arg);
	int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0) {
		if (own >= 0)
			close(own);
		return mk_error_errno(err, errno, "open '/proc/thread-self/ns/net'");
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		int e = errno;
		close(saved);
		if (own >= 0)
			close(own);
		return mk_error_errno(err, e, "enter netns");
	}
	int r = fn(arg);
	if (setns(saved, CLONE_NEWNET) < 0)
		abort(); /* a thread left in the wrong netns would program the wrong node */
	close(saved);
	if (own >= 0)
		close(own);
	return r;
}

struct open_arg {
	struct mk_netpol *np;
	const char *ifname;
	uint8_t mac[6];
	bool found;
	uint32_t net, mask; /* the bridge's IPv4 subnet (host order); mask 0: none */
};

static int open_nl(void *arg)
{
	struct mk_netpol *np = arg;
	np->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!np->nl || mnl_socket_bind(np->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	return 0;
}

static int read_mac(void *arg)
{
	struct open_arg *a = arg;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", a->ifname);
	int r = ioctl(fd, SIOCGIFHWADDR, &ifr);
	if (r == 0) {
		memcpy(a->mac, ifr.ifr_hwaddr.sa_data, 6);
		a->found = true;
		struct ifreq ia = ifr, im = ifr;
		if (ioctl(fd, SIOCGIFADDR, &ia) == 0 && ioctl(fd, SIOCGIFNETMASK, &im) == 0) {
			a->mask = ntohl(((struct sockaddr_in *)&im.ifr_netmask)->sin_addr.s_addr);
			a->net = ntohl(((struct sockaddr_in *)&ia.ifr_addr)->sin_addr.s_addr) & a->mask;
		}
	}
	close(fd);
	return 0;
}

static int parse_cidr4(const char *s, uint32_t *net, uint32_t *mask)
{
	char ip[32];
	const char *slash = s ? strchr(s, '/') : NULL;
	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	struct in_addr a;
	int plen = atoi(slash + 1);
	if (inet_pton(AF_INET, ip, &a) != 1 || plen < 0 || plen > 32)
		return -1;
	*mask = plen ? ~0u << (32 - plen) : 0;
	*net = ntohl(a.s_addr) & *mask;
	return 0;
}

/* ---- public ----------------------------------------------------------------------------- */

int mk_netpol_new(const struct mk_netpol_options *opts, struct mk_netpol **ret, struct mk_error **err)
{
	struct mk_netpol *np = mk_malloc0(sizeof(*np));
	np->opts = *opts;
	np->cluster_cidr = mk_strdup(opts->cluster_cidr ? opts->cluster_cidr : "10.244.0.0/16");
	np->bridge = mk_strdup(opts->bridge ? opts->bridge : "mk0");
	np->netns_path = opts->netns_path ? mk_strdup(opts->netns_path) : NULL;
	np->opts.cluster_cidr = np->cluster_cidr;
	np->opts.bridge = np->bridge;
	np->opts.netns_path = np->netns_path;
	np->seq = (uint32_t)time(NULL);
	uint32_t net, mask;
	if (parse_cidr4(np->cluster_cidr, &net, &mask) < 0) {
		mk_error_set(err, EINVAL, "netpol: bad cluster CIDR '%s'", np->cluster_cidr);
		mk_netpol_free(np);
		return -1;
	}
	if (!opts->dry_run && in_netns(&np->opts, open_nl, np, err) < 0) {
		if (!err || !*err)
			mk_error_errno(err, errno, "open netfilter netlink socket");
		mk_netpol_free(np);
		return -1;
	}
	*ret = np;
	return 0;
}

void mk_netpol_free(struct mk_netpol *np)
{
	if (!np)
		return;
	if (np->nl)
		mnl_socket_close(np->nl);
	mk_netpol_ruleset_release(&np->last);
	free(np->cluster_cidr);
	free(np->bridge);
	free(np->netns_path);
	free(np);
}

void mk_netpol_invalidate(struct mk_netpol *np)
{
	np->programmed = false;
}

const struct mk_netpol_stats *mk_netpol_last_stats(const struct mk_netpol *np)
{
	return &np->st;
}

static void *memdup(const void *p, size_t n)
{
	void *d = malloc(n);
	if (!d)
		abort();
	return memcpy(d, p, n);
}

static void set_copy(struct mk_netpol_set *d, const struct mk_netpol_set *s)
{
	*d = *s;
	size_t n = s->n ? s->n : 1;
	d->addrs = NULL;
	d->ranges = NULL;
	d->aps = NULL;
	if (s->addrs)
		d->addrs = memdup(s->addrs, n * sizeof(*s->addrs));
	if (s->ranges)
		d->ranges = memdup(s->ranges, n * sizeof(*s->ranges));
	if (s->aps)
		d->aps = memdup(s->aps, n * sizeof(*s->aps));
}

static void ruleset_copy(struct mk_netpol_ruleset *d, const struct mk_netpol_ruleset *s)
{
	d->nsets = s->nsets;
	d->nrules = s->nrules;
	d->sets = calloc(s->nsets ? s->nsets : 1, sizeof(*d->sets));
	d->rules = calloc(s->nrules ? s->nrules : 1, sizeof(*d->rules));
	if (!d->sets || !d->rules)
		abort();
	for (size_t i = 0; i < s->nsets; i++)
		set_copy(&d->sets[i], &s->sets[i]);
	for (size_t i = 0; i < s->nrules; i++) {
		d->rules[i] = s->rules[i];
		d->rules[i].origin = s->rules[i].origin ? mk_strdup(s->rules[i].origin) : NULL;
	}
}

int mk_netpol_apply(struct mk_netpol *np, const struct mk_netpol_ruleset *rs, struct mk_error **err)
{
	uint32_t net = 0, mask = 0;
	parse_cidr4(np->cluster_cidr, &net, &mask);
	struct open_arg a = { .np = np, .ifname = np->bridge };
	if (!np->opts.dry_run && in_netns(&np->opts, read_mac, &a, err) < 0)
		return -1;
	if (!a.found && !np->opts.dry_run)
		return mk_error_set(err, ENODEV, "netpol: bridge '%s' not found", np->bridge);
	/* divert only what this bridge forwards between its own ports: its subnet
	 * (the node's pod CIDR), else the cluster CIDR */
	if (a.mask) {
		net = a.net;
		mask = a.mask;
	}
	struct nb b = { .buf.seq = np->seq, .st = &np->st };
	memset(&np->st, 0, sizeof(np->st));
	bool full = !np->programmed || !mk_netpol_ruleset_same_shape(&np->last, rs) ||
		    np->last_net != net || np->last_mask != mask || memcmp(np->last_mac, a.mac, 6);
	np->st.full = full;
	mk_nlbuf_batch_begin(&b.buf);
	if (full) {
		put_full(&b, rs, net, mask, a.mac);
	} else {
		/* a set the model did not touch since the last apply keeps its gen */
		for (size_t i = 0; i < rs->nsets; i++)
			if (!rs->sets[i].gen || rs->sets[i].gen != np->last.sets[i].gen)
				put_elem_diff(&b, &rs->sets[i], &np->last.sets[i]);
	}
	unsigned msgs = np->st.messages;
	mk_nlbuf_batch_end(&b.buf);
	np->seq = b.buf.seq;
	int r = 0;
	if (msgs > 0)
		r = send_batch(np, &b, err);
	mk_nlbuf_release(&b.buf);
	if (r < 0) {
		np->programmed = false; /* the kernel kept its state; converge with a full batch */
		return -1;
	}
	if (full) {
		mk_netpol_ruleset_release(&np->last);
		ruleset_copy(&np->last, rs);
	} else {
		for (size_t i = 0; i < rs->nsets; i++) {
			struct mk_netpol_set *l = &np->last.sets[i];
			if (rs->sets[i].gen && rs->sets[i].gen == l->gen)
				continue;
			free(l->addrs);
			free(l->ranges);
			free(l->aps);
			set_copy(l, &rs->sets[i]);
		}
	}
	np->last_net = net;
	np->last_mask = mask;
	memcpy(np->last_mac, a.mac, 6);
	np->programmed = true;
	return 0;
}

int mk_netpol_table_exists(struct mk_netpol *np, struct mk_error **err)
{
	if (np->opts.dry_run)
		return np->programmed;
	int a = mk_nft_table_exists(np->nl, ++np->seq, NFPROTO_INET, MK_NETPOL_TABLE, err);
	if (a <= 0)
		return a;
	return mk_nft_table_exists(np->nl, ++np->seq, NFPROTO_BRIDGE, MK_NETPOL_TABLE, err);
}

struct remove_arg {
	struct mk_error **err;
};

static int do_remove(void *arg)
{
	struct remove_arg *ra = arg;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		if (nl)
			mnl_socket_close(nl);
		return mk_error_errno(ra->err, errno, "open netfilter netlink socket");
	}
	struct mk_netpol np = { .nl = nl, .seq = (uint32_t)time(NULL) };
	struct nb b = { .buf.seq = np.seq, .st = &np.st };
	mk_nlbuf_batch_begin(&b.buf);
	/* add then delete: no error when the table is absent */
	put_table(&b, NFPROTO_INET, false);
	put_table(&b, NFPROTO_INET, true);
	put_table(&b, NFPROTO_BRIDGE, false);
	put_table(&b, NFPROTO_BRIDGE, true);
	mk_nlbuf_batch_end(&b.buf);
	np.seq = b.buf.seq;
	int r = send_batch(&np, &b, ra->err);
	mk_nlbuf_release(&b.buf);
	mnl_socket_close(nl);
	return r;
}

int mk_netpol_remove(const struct mk_netpol_options *opts, struct mk_error **err)
{
	struct remove_arg ra = { err };
	return in_netns(opts, do_remove, &ra, err);
}
