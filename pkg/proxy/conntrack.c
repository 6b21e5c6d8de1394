/* Stale UDP flows: a UDP "connection" to a removed endpoint lives in conntrack
 * as long as the client keeps sending, so its packets would keep going to the
 * dead endpoint. After the rules stop choosing the endpoint we delete, over
 * ctnetlink, every UDP entry whose reply comes from it and that was DNATed
 * (kube-proxy does the same with conntrack -D). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "internal.h"

struct tuple {
	uint32_t src, dst;
	uint16_t sport, dport; /* network order */
	uint8_t proto;
};

struct dump_ctx {
	const struct mk_proxy_endpoint *eps;
	size_t n;
	struct tuple *del;
	size_t ndel, cap;
};

static int parse_tuple(const struct nlattr *nest, struct tuple *t)
{
	const struct nlattr *a, *b;
	memset(t, 0, sizeof(*t));
	mnl_attr_for_each_nested(a, nest)
	{
		switch (mnl_attr_get_type(a)) {
		case CTA_TUPLE_IP:
			mnl_attr_for_each_nested(b, a)
			{
				if (mnl_attr_get_type(b) == CTA_IP_V4_SRC)
					t->src = mnl_attr_get_u32(b);
				else if (mnl_attr_get_type(b) == CTA_IP_V4_DST)
					t->dst = mnl_attr_get_u32(b);
			}
			break;
		case CTA_TUPLE_PROTO:
			mnl_attr_for_each_nested(b, a)
			{
				if (mnl_attr_get_type(b) == CTA_PROTO_NUM)
					t->proto = mnl_attr_get_u8(b);
				else if (mnl_attr_get_type(b) == CTA_PROTO_SRC_PORT)
					t->sport = mnl_attr_get_u16(b);
				else if (mnl_attr_get_type(b) == CTA_PROTO_DST_PORT)
					t->dport = mnl_attr_get_u16(b);
			}
			break;
		}
	}
	return 0;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	struct tuple orig = { 0 }, reply = { 0 };
	bool ho = false, hr = false;
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
	{
		if (mnl_attr_get_type(a) == CTA_TUPLE_ORIG)
			ho = parse_tuple(a, &orig) == 0;
		else if (mnl_attr_get_type(a) == CTA_TUPLE_REPLY)
			hr = parse_tuple(a, &reply) == 0;
	}
	if (!ho || !hr || orig.proto != IPPROTO_UDP)
		return MNL_CB_OK;
	for (size_t i = 0; i < c->n; i++) {
		if (reply.src != c->eps[i].ip || reply.sport != htons(c->eps[i].port))
			continue;
		if (orig.dst == reply.src && orig.dport == reply.sport)
			break; /* not DNATed: a direct flow to the pod, not ours */
		MK_GROW(c->del, c->cap, c->ndel + 1);
		c->del[c->ndel++] = orig;
		break;
	}
	return MNL_CB_OK;
}

static void put_tuple(struct nlmsghdr *nlh, const struct tuple *t)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, t->src);
	mnl_attr_put_u32(nlh, CTA_IP_V4_DST, t->dst);
	mnl_attr_nest_end(nlh, ip);
	struct nlattr *pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, t->sport);
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, t->dport);
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, n);
}

struct nlmsghdr *proxy_ct_header(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = AF_INET;
	g->version = NFNETLINK_V0;
	g->res_id = 0;
	return nlh;
}

/* Receives until the answer to seq is complete (DONE or an ack). */
static int ct_recv(struct mnl_socket *nl, uint32_t seq, mnl_cb_t cb, void *data, struct mk_error **err)
{
	char buf[32768];
	uint32_t portid = mnl_socket_get_portid(nl);
	for (;;) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl), .events = POLLIN };
		int r = poll(&pfd, 1, 5000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return mk_error_set(err, ETIMEDOUT, "conntrack: no answer from the kernel");
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return mk_error_errno(err, errno, "conntrack receive");
		r = mnl_cb_run(buf, n, seq, portid, cb, data);
		if (r < 0) {
			if (errno == ENOENT)
				return 0; /* already gone */
			return mk_error_errno(err, errno, "conntrack");
		}
		if (r == MNL_CB_STOP)
			return 0;
	}
}

int proxy_ct_flush_udp_endpoints(struct mnl_socket *nl, const struct mk_proxy_endpoint *eps,
				 size_t n, struct mk_error **err)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	static uint32_t seq;
	struct dump_ctx c = { .eps = eps, .n = n };
	uint32_t s = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED) + (uint32_t)time(NULL);
	struct nlmsghdr *nlh = proxy_ct_header(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, s);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return mk_error_errno(err, errno, "conntrack dump");
	if (ct_recv(nl, s, dump_cb, &c, err) < 0) {
		free(c.del);
		return -1;
	}
	int deleted = 0;
	for (size_t i = 0; i < c.ndel; i++) {
		s++;
		nlh = proxy_ct_header(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, s);
		put_tuple(nlh, &c.del[i]);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
			free(c.del);
			return mk_error_errno(err, errno, "conntrack delete");
		}
		if (ct_recv(nl, s, NULL, NULL, err) < 0) {
			free(c.del);
			return -1;
		}
		deleted++;
	}
	free(c.del);
	return deleted;
}
