/* Read-only view of what the proxy programmed for one ClusterIP, straight from
 * the kernel (minik8s trace): the elements of map svc and map ep whose key
 * starts with the address, each ep element with its counter (the set has a
 * "counter" expression: nft.c), and the conntrack entries DNATed from the
 * address to each endpoint. Everything over netlink (NFT_MSG_GETSETELEM and a
 * ctnetlink dump), nothing parsed from `nft` text. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <libnftnl/set.h>
#include <libnftnl/expr.h>
#include <libnftnl/common.h>

#include "internal.h"

#define DUMP_TIMEOUT_MS 5000
#define MAX_CT_SEEN 100000 /* conntrack entries looked at, at most */

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "TCP" : p == IPPROTO_UDP ? "UDP" : p == IPPROTO_SCTP ? "SCTP" : "?";
}

static void put_ip(cJSON *o, const char *key, uint32_t ip)
{
	char buf[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ip, buf, sizeof(buf));
	cJSON_AddStringToObject(o, key, buf);
}

/* Receives the answers to seq until DONE or an error; cb sees each message.
 * 0 done, 1 the object does not exist (ENOENT), -1 with *err. */
static int recv_all(struct mnl_socket *nl, uint32_t seq, mnl_cb_t cb, void *data, const char *what,
		    struct mk_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE * 4];
	uint32_t portid = mnl_socket_get_portid(nl);
	for (;;) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		int r = poll(&pfd, 1, DUMP_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return mk_error_set(err, ETIMEDOUT, "%s: no answer from the kernel", what);
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return mk_error_errno(err, errno, "%s", what);
		r = mnl_cb_run(buf, n, seq, portid, cb, data);
		if (r < 0 && errno == ENOENT)
			return 1;
		if (r < 0)
			return mk_error_errno(err, errno, "%s", what);
		if (r == MNL_CB_STOP)
			return 0;
	}
}

struct elems_ctx {
	struct nftnl_set *s;
};

static int elems_cb(const struct nlmsghdr *nlh, void *data)
{
	struct elems_ctx *c = data;
	if (nftnl_set_elems_nlmsg_parse(nlh, c->s) < 0)
		return MNL_CB_ERROR;
	return MNL_CB_OK;
}

/* All elements of set name in our table (*ret owned), or *ret NULL when the
 * table or the set does not exist. */
static int get_elems(struct mnl_socket *nl, const char *name, struct nftnl_set **ret, struct mk_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	static uint32_t seqgen;
	uint32_t seq = __atomic_add_fetch(&seqgen, 1, __ATOMIC_RELAXED) + (uint32_t)time(NULL);
	struct nftnl_set *s = nftnl_set_alloc();
	if (!s)
		abort();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, MK_PROXY_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_IPV4);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_IPV4,
						     NLM_F_DUMP | NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		nftnl_set_free(s);
		return mk_error_errno(err, errno, "nftables: dump set '%s'", name);
	}
	struct elems_ctx c = { .s = s };
	int r = recv_all(nl, seq, elems_cb, &c, "nftables: dump set elements", err);
	if (r != 0) {
		nftnl_set_free(s);
		*ret = NULL;
		return r < 0 ? -1 : 0;
	}
	*ret = s;
	return 0;
}

static int counter_cb(struct nftnl_expr *e, void *data)
{
	uint64_t *pb = data;
	const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	if (n && !strcmp(n, "counter")) {
		pb[0] = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		pb[1] = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		pb[2] = 1;
	}
	return 0;
}

/* ---- conntrack: active DNATed flows per endpoint ---------------------------- */

struct ct_flow {
	uint32_t odst, rsrc; /* original destination, reply source (the endpoint) */
	uint16_t odport, rsport; /* network order */
	uint8_t proto;
	uint64_t packets, bytes; /* both directions, when accounting is on */
	bool acct;
};

struct ct_ctx {
	uint32_t ip;
	struct ct_flow *v;
	size_t n, cap, seen;
};

static void ct_tuple(const struct nlattr *nest, uint32_t *src, uint32_t *dst, uint16_t *sport,
		     uint16_t *dport, uint8_t *proto)
{
	const struct nlattr *a, *b;
	mnl_attr_for_each_nested(a, nest)
	{
		if (mnl_attr_get_type(a) == CTA_TUPLE_IP) {
			mnl_attr_for_each_nested(b, a)
			{
				if (mnl_attr_get_type(b) == CTA_IP_V4_SRC)
					*src = mnl_attr_get_u32(b);
				else if (mnl_attr_get_type(b) == CTA_IP_V4_DST)
					*dst = mnl_attr_get_u32(b);
			}
		} else if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO) {
			mnl_attr_for_each_nested(b, a)
			{
				if (mnl_attr_get_type(b) == CTA_PROTO_NUM)
					*proto = mnl_attr_get_u8(b);
				else if (mnl_attr_get_type(b) == CTA_PROTO_SRC_PORT)
					*sport = mnl_attr_get_u16(b);
				else if (mnl_attr_get_type(b) == CTA_PROTO_DST_PORT)
					*dport = mnl_attr_get_u16(b);
			}
		}
	}
}

static void ct_counters(const struct nlattr *nest, struct ct_flow *f)
{
	const struct nlattr *a;
	mnl_attr_for_each_nested(a, nest)
	{
		if (mnl_attr_get_type(a) == CTA_COUNTERS_PACKETS)
			f->packets += be64toh(mnl_attr_get_u64(a));
		else if (mnl_attr_get_type(a) == CTA_COUNTERS_BYTES)
			f->bytes += be64toh(mnl_attr_get_u64(a));
	}
	f->acct = true;
}

static int ct_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_ctx *c = data;
	struct ct_flow f = { 0 };
	uint32_t osrc = 0, rdst = 0;
	uint16_t osport = 0, rdport = 0;
	uint8_t rproto = 0;
	const struct nlattr *a;
	if (++c->seen > MAX_CT_SEEN)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		switch (mnl_attr_get_type(a)) {
		case CTA_TUPLE_ORIG:
			ct_tuple(a, &osrc, &f.odst, &osport, &f.odport, &f.proto);
			break;
		case CTA_TUPLE_REPLY:
			ct_tuple(a, &f.rsrc, &rdst, &f.rsport, &rdport, &rproto);
			break;
		case CTA_COUNTERS_ORIG:
		case CTA_COUNTERS_REPLY:
			ct_counters(a, &f);
			break;
		}
	}
	if (f.odst != c->ip || (f.odst == f.rsrc && f.odport == f.rsport))
		return MNL_CB_OK; /* not to this address, or not DNATed */
	MK_GROW(c->v, c->cap, c->n + 1);
	c->v[c->n++] = f;
	return MNL_CB_OK;
}

static int ct_dump(struct mnl_socket *nl, struct ct_ctx *c, struct mk_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	static uint32_t seqgen;
	uint32_t seq = __atomic_add_fetch(&seqgen, 1, __ATOMIC_RELAXED) + (uint32_t)time(NULL);
	struct nlmsghdr *nlh = proxy_ct_header(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return mk_error_errno(err, errno, "conntrack dump");
	return recv_all(nl, seq, ct_cb, c, "conntrack dump", err) < 0 ? -1 : 0;
}

/* ---- the view ------------------------------------------------------------------ */

static void mnl_closep(struct mnl_socket **nl)
{
	if (*nl)
		mnl_socket_close(*nl);
}

/* The elements of map svc for cluster_ip, into fronts. */
static void add_frontends(cJSON *fronts, struct nftnl_set *svc, uint32_t cluster_ip)
{
	struct nftnl_set_elems_iter *it;
	if (svc && (it = nftnl_set_elems_iter_create(svc))) {
		for (struct nftnl_set_elem *e = nftnl_set_elems_iter_next(it); e;
		     e = nftnl_set_elems_iter_next(it)) {
			uint32_t klen = 0;
			const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
			if (!k || klen != 12 || memcmp(k, &cluster_ip, 4))
				continue;
			uint16_t port;
			memcpy(&port, k + 8, 2);
			cJSON *f = cJSON_CreateObject();
			cJSON_AddStringToObject(f, "protocol", proto_name(k[4]));
			cJSON_AddNumberToObject(f, "port", ntohs(port));
			const char *chain = nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
			cJSON_AddStringToObject(f, "verdict", "goto");
			cJSON_AddStringToObject(f, "chain", chain ? chain : "");
			cJSON_AddItemToArray(fronts, f);
		}
		nftnl_set_elems_iter_destroy(it);
	}
}

/* The elements of map ep for cluster_ip, with their counters and the
 * connections conntrack has to each, into eps. */
static void add_endpoints(cJSON *eps, struct nftnl_set *ep, const struct ct_ctx *cc, uint32_t cluster_ip)
{
	struct nftnl_set_elems_iter *it;
	if (ep && (it = nftnl_set_elems_iter_create(ep))) {
		for (struct nftnl_set_elem *e = nftnl_set_elems_iter_next(it); e;
		     e = nftnl_set_elems_iter_next(it)) {
			uint32_t klen = 0, dlen = 0;
			const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
			const uint8_t *d = nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen);
			if (!k || klen != 16 || !d || dlen < 6 || memcmp(k, &cluster_ip, 4))
				continue;
			uint16_t port, eport;
			uint32_t idx, eip;
			memcpy(&port, k + 8, 2);
			memcpy(&idx, k + 12, 4);
			memcpy(&eip, d, 4);
			memcpy(&eport, d + 4, 2);
			uint64_t pb[3] = { 0 };
			nftnl_set_elem_expr_foreach(e, counter_cb, pb);
			cJSON *x = cJSON_CreateObject();
			cJSON_AddStringToObject(x, "protocol", proto_name(k[4]));
			cJSON_AddNumberToObject(x, "port", ntohs(port));
			cJSON_AddNumberToObject(x, "index", idx);
			put_ip(x, "ip", eip);
			cJSON_AddNumberToObject(x, "targetPort", ntohs(eport));
			if (pb[2]) {
				cJSON_AddNumberToObject(x, "connections", (double)pb[0]);
				cJSON_AddNumberToObject(x, "firstPacketBytes", (double)pb[1]);
			}
			unsigned active = 0;
			uint64_t packets = 0, bytes = 0;
			bool acct = false;
			for (size_t i = 0; i < cc->n; i++) {
				const struct ct_flow *f = &cc->v[i];
				if (f->proto != k[4] || f->odport != port || f->rsrc != eip ||
				    f->rsport != eport)
					continue;
				active++;
				packets += f->packets;
				bytes += f->bytes;
				acct |= f->acct;
			}
			cJSON_AddNumberToObject(x, "activeConnections", active);
			if (acct) { /* net.netfilter.nf_conntrack_acct on */
				cJSON_AddNumberToObject(x, "activePackets", (double)packets);
				cJSON_AddNumberToObject(x, "activeBytes", (double)bytes);
			}
			cJSON_AddItemToArray(eps, x);
		}
		nftnl_set_elems_iter_destroy(it);
	}
}

int mk_proxy_kernel_read(uint32_t cluster_ip, cJSON **ret, struct mk_error **err)
{
	__attribute__((cleanup(mnl_closep))) struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return mk_error_errno(err, errno, "open nftables netlink socket");
	__attribute__((cleanup(mnl_closep))) struct mnl_socket *ct = mnl_socket_open(NETLINK_NETFILTER);
	if (!ct || mnl_socket_bind(ct, 0, MNL_SOCKET_AUTOPID) < 0)
		return mk_error_errno(err, errno, "open conntrack netlink socket");

	struct nftnl_set *svc = NULL, *ep = NULL;
	struct ct_ctx cc = { .ip = cluster_ip };
	if (get_elems(nl, "svc", &svc, err) < 0 || get_elems(nl, "ep", &ep, err) < 0 ||
	    ct_dump(ct, &cc, err) < 0) {
		nftnl_set_free(svc);
		nftnl_set_free(ep);
		free(cc.v);
		return -1;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "table", "ip " MK_PROXY_TABLE);
	cJSON_AddBoolToObject(o, "present", svc && ep);
	put_ip(o, "clusterIP", cluster_ip);
	cJSON *fronts = cJSON_AddArrayToObject(o, "frontends");
	cJSON *eps = cJSON_AddArrayToObject(o, "endpoints");
	add_frontends(fronts, svc, cluster_ip);
	add_endpoints(eps, ep, &cc, cluster_ip);
	nftnl_set_free(svc);
	nftnl_set_free(ep);
	free(cc.v);
	*ret = o;
	return 0;
}
