/* The programmer: what is in the kernel (a record per service), full syncs and
 * incremental changes computed against that record. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/rtnetlink.h>
#include <linux/icmp.h>
#include <libnftnl/rule.h>

#include "internal.h"

/* A chain shared by every frontend with N endpoints (and affinity timeout T)
 * of one kind: lb_N (clusterIP and Local LB addresses: key daddr), np_N
 * (NodePorts: key address 0, marked for masquerade), xl_N (LB addresses: key
 * daddr, marked), nl_N (Local NodePorts: key 0, not marked); with affinity
 * lba_N_T and so on. Created with its first user, deleted with its last. */
struct chainref {
	char name[40];
	bool zero_key, mark, sc;
	uint32_t n, aff;
	unsigned refs;
	struct chainref *next;
};

/* One programmed frontend of a service port: clusterIP:port, 0:nodePort or
 * lbIP:port, with its own endpoints (all, or the node's own under a Local
 * traffic policy). */
struct fstate {
	uint32_t ip;		/* key address; 0 for the NodePort */
	uint16_t port;
	bool np;		/* in the np map (else svc, svx or scv: vmap_of) */
	bool ext;		/* NodePort or LB address (masqueraded unless local) */
	bool local;		/* Local policy: the node's endpoints, client address kept */
	bool sc;		/* the twin of a Local external frontend for traffic from
				 * inside (pods, the node): every endpoint, as kube-proxy
				 * short-circuits it; in the scv map, its endpoints at
				 * index SC_INDEX + i, without affinity */
	const char *empty;	/* verdict chain without endpoints: "reject" or "drop" */
	size_t n;		/* endpoints, in kernel index order */
	struct mk_proxy_endpoint *slots;
	struct chainref *c;	/* NULL: goto empty */
};

/* One programmed service port. */
struct pstate {
	uint8_t proto;
	uint16_t port, node_port;
	size_t nfe;
	struct fstate *fe;
};

struct sstate {
	char *key;
	uint32_t cip, aff;
	size_t n_ports;
	struct pstate *ports;
};

struct mk_proxy {
	struct mk_proxy_options opts;
	char *netns_path, *cidr, *bridge;
	uint32_t cidr_net, cidr_mask; /* network order */
	struct mnl_socket *nl, *ct;
	uint32_t seq;
	struct mk_hmap svcs; /* service key -> struct sstate */
	struct chainref *chains;
	bool stale;
	bool defer_elems; /* full sync: port_add leaves the elements to emit_all */
	struct mk_proxy_stats stats;
	/* removed UDP endpoints of the change being built */
	struct mk_proxy_endpoint *gone;
	size_t n_gone, cap_gone;
};

/* ---- netns --------------------------------------------------------------------- */

int proxy_in_netns(const struct mk_proxy_options *opts, int (*fn)(void *), void *arg,
		   struct mk_error **err)
{
	_cleanup_close_ int own = -1;
	int target = opts->netns_fd;
	if (target < 0 && opts->netns_path) {
		own = open(opts->netns_path, O_RDONLY | O_CLOEXEC);
		if (own < 0)
			return mk_error_errno(err, errno, "open netns '%s'", opts->netns_path);
		target = own;
	}
	if (target < 0)
		return fn(arg);
	_cleanup_close_ int saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0)
		return mk_error_errno(err, errno, "open '/proc/thread-self/ns/net'");
	if (setns(target, CLONE_NEWNET) < 0)
		return mk_error_errno(err, errno, "enter netns");
	int r = fn(arg);
	if (setns(saved, CLONE_NEWNET) < 0)
		abort(); /* a thread left in the wrong netns would program the wrong node */
	return r;
}

struct open_args {
	struct mnl_socket *nl, *ct;
	bool bridge;
};

/* With br_netfilter loaded (by anyone: the module is global, its sysctls are
 * per netns and default to 1), frames between ports of our bridge go through
 * the IPv4 hooks at the bridge layer: a hairpin connection is then DNATed
 * there and dropped by the bridge (a frame never leaves by its ingress port).
 * We turn that off in the node's netns only, so that service traffic is
 * always routed and masqueraded by our postrouting rule, whatever the host
 * has loaded. */
static void bridge_nf_off(void)
{
	int fd = open("/proc/sys/net/bridge/bridge-nf-call-iptables", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* no br_netfilter: nothing to do */
	if (write(fd, "0\n", 2) != 2) {
		/* read-only /proc/sys: hairpin may fail, everything else works */
	}
	close(fd);
}

/* A connection from 127.0.0.1 to a NodePort is DNATed to an endpoint elsewhere:
 * the route for a loopback source out of a real interface is refused unless
 * route_localnet is on (kube-proxy sets it for the same reason). Set in the node's
 * netns only; the masquerade of NodePort traffic replaces the source before the
 * packet leaves, and the conntrack of the node keeps remote 127.0.0.0/8 out. */
static void localnet_on(void)
{
	int fd = open("/proc/sys/net/ipv4/conf/all/route_localnet", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, "1\n", 2) != 2) {
		/* read-only /proc/sys: NodePorts on 127.0.0.1 stay refused */
	}
	close(fd);
}

static int open_sockets(void *arg)
{
	struct open_args *a = arg;
	if (a->bridge) { /* a node's balancer */
		bridge_nf_off();
		localnet_on();
	}
	a->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	a->ct = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!a->nl || !a->ct || mnl_socket_bind(a->nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_bind(a->ct, 0, MNL_SOCKET_AUTOPID) < 0)
		return -1;
	int one = 1;
	setsockopt(mnl_socket_get_fd(a->nl), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(mnl_socket_get_fd(a->ct), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

static int parse_cidr(const char *s, uint32_t *net, uint32_t *mask)
{
	char ip[32];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, slash - s);
	ip[slash - s] = 0;
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	struct in_addr in;
	if (*end || bits < 1 || bits > 32 || inet_pton(AF_INET, ip, &in) != 1)
		return -1;
	*mask = htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits));
	*net = in.s_addr & *mask;
	return 0;
}

int mk_proxy_new(const struct mk_proxy_options *opts, struct mk_proxy **ret, struct mk_error **err)
{
	struct mk_proxy *p = mk_malloc0(sizeof(*p));
	p->opts = *opts;
	p->netns_path = mk_strdup(opts->netns_path);
	p->cidr = mk_strdup(opts->cluster_cidr);
	p->bridge = mk_strdup(opts->bridge);
	p->opts.netns_path = p->netns_path;
	p->opts.cluster_cidr = p->cidr;
	p->opts.bridge = p->bridge;
	p->opts.netns_fd = -1;
	mk_hmap_init(&p->svcs);
	p->seq = (uint32_t)time(NULL) << 8;
	p->stale = true;
	if (p->cidr && parse_cidr(p->cidr, &p->cidr_net, &p->cidr_mask) < 0) {
		mk_error_set(err, EINVAL, "bad cluster CIDR '%s'", p->cidr);
		goto fail;
	}
	if (p->bridge && strlen(p->bridge) >= IFNAMSIZ) {
		mk_error_set(err, EINVAL, "bad bridge name '%s'", p->bridge);
		goto fail;
	}
	if (!opts->dry_run) {
		if (opts->netns_fd >= 0) {
			/* keep our own handle: the caller's fd is only borrowed */
			p->opts.netns_fd = fcntl(opts->netns_fd, F_DUPFD_CLOEXEC, 3);
			if (p->opts.netns_fd < 0) {
				mk_error_errno(err, errno, "dup netns fd");
				goto fail;
			}
		}
		struct open_args a = { .bridge = p->bridge != NULL };
		int r = proxy_in_netns(&p->opts, open_sockets, &a, err);
		p->nl = a.nl;
		p->ct = a.ct;
		if (r < 0) {
			if (!err || !*err)
				mk_error_errno(err, errno, "open netfilter netlink sockets");
			goto fail;
		}
	}
	*ret = p;
	return 0;
fail:
	mk_proxy_free(p);
	return -1;
}

static void port_free(struct pstate *ps)
{
	for (size_t k = 0; k < ps->nfe; k++)
		free(ps->fe[k].slots);
	free(ps->fe);
	ps->fe = NULL;
	ps->nfe = 0;
}

static void svc_free(struct sstate *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_ports; i++)
		port_free(&st->ports[i]);
	free(st->ports);
	free(st->key);
	free(st);
}

static void svc_free_v(void *v)
{
	svc_free(v);
}

static void state_clear(struct mk_proxy *p)
{
	mk_hmap_release(&p->svcs, svc_free_v);
	mk_hmap_init(&p->svcs);
	struct chainref *c = p->chains, *next;
	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	p->chains = NULL;
}

void mk_proxy_free(struct mk_proxy *p)
{
	if (!p)
		return;
	state_clear(p);
	mk_hmap_release(&p->svcs, NULL);
	if (p->nl)
		mnl_socket_close(p->nl);
	if (p->ct)
		mnl_socket_close(p->ct);
	if (p->opts.netns_fd >= 0)
		close(p->opts.netns_fd);
	free(p->gone);
	free(p->netns_path);
	free(p->cidr);
	free(p->bridge);
	free(p);
}

const struct mk_proxy_stats *mk_proxy_last_stats(const struct mk_proxy *p)
{
	return &p->stats;
}

size_t mk_proxy_service_count(const struct mk_proxy *p)
{
	return p->svcs.n;
}

int mk_proxy_table_exists(struct mk_proxy *p, struct mk_error **err)
{
	if (!p->nl)
		return mk_error_set(err, EINVAL, "dry-run proxy has no kernel");
	return mk_nft_table_exists(p->nl, ++p->seq, NFPROTO_IPV4, MK_PROXY_TABLE, err);
}

#define SC_INDEX 0x80000000u

/* ---- rules of the static chains and the lb chains ----------------------------------- */

static void load_frontend(struct nftnl_rule *r, bool nodeport, bool saddr)
{
	static const uint32_t zero = 0;
	if (saddr)
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R(0));
	if (nodeport)
		rule_imm_data(r, R(1), &zero, 4);
	else
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R(1));
	rule_meta(r, NFT_META_L4PROTO, R(2));
	rule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(3));
}

static void add_lb_rules(struct nbatch *b, const struct chainref *c)
{
	struct nftnl_rule *r;
	if (c->mark) {
		/* mark for masquerade in postrouting: the endpoint may be on another
		 * node, whose reply must come back through us */
		uint32_t mask = ~NODEPORT_MARK, xor = NODEPORT_MARK;
		r = rule_new(c->name);
		rule_meta(r, NFT_META_MARK, R(7));
		rule_bitwise(r, R(7), R(7), 4, &mask, &xor);
		rule_meta_set(r, NFT_META_MARK, R(7));
		nbatch_rule(b, r);
	}
	if (c->aff) {
		uint64_t tmo = (uint64_t)c->aff * 1000;
		/* A: a remembered endpoint that is still one of the service's */
		r = rule_new(c->name);
		load_frontend(r, c->zero_key, true);
		rule_lookup(r, "aff", R(0), R(4));
		rule_lookup(r, "epset", R(1), -1);
		rule_dynset(r, "aff", NFT_DYNSET_OP_UPDATE, R(0), R(4), tmo);
		rule_dnat(r, R(4), R(5));
		nbatch_rule(b, r);
		/* B: pick one at random and remember it (replacing a stale choice) */
		r = rule_new(c->name);
		load_frontend(r, c->zero_key, true);
		rule_numgen(r, R(4), c->n);
		rule_lookup(r, "ep", R(1), R(5));
		/* maps want an (initialised) data register even to delete */
		rule_dynset(r, "aff", NFT_DYNSET_OP_DELETE, R(0), R(5), 0);
		rule_dynset(r, "aff", NFT_DYNSET_OP_UPDATE, R(0), R(5), tmo);
		rule_dnat(r, R(5), R(6));
		nbatch_rule(b, r);
	}
	/* random endpoint (the affinity map may be full) */
	r = rule_new(c->name);
	load_frontend(r, c->zero_key, false);
	rule_numgen(r, R(4), c->n);
	if (c->sc) {
		uint32_t all = 0xffffffffu, hi = SC_INDEX;
		rule_bitwise(r, R(4), R(4), 4, &all, &hi);
	}
	rule_lookup(r, "ep", R(1), R(5));
	rule_dnat(r, R(5), R(6));
	nbatch_rule(b, r);
}

static void jump_rule(struct nbatch *b, const char *chain, const char *to)
{
	struct nftnl_rule *r = rule_new(chain);
	rule_imm_verdict(r, NFT_JUMP, to);
	nbatch_rule(b, r);
}

static void ifname_cmp(struct nftnl_rule *r, uint32_t key, uint32_t op, const char *name)
{
	char buf[IFNAMSIZ] = { 0 };
	strncpy(buf, name, IFNAMSIZ - 1);
	rule_meta(r, key, R(1));
	rule_cmp(r, R(1), op, buf, IFNAMSIZ);
}

static void add_services(struct mk_proxy *p, struct nbatch *b);
static void add_reject_drop(struct nbatch *b);
static void add_dstnat(struct nbatch *b);
static void add_postrouting(struct mk_proxy *p, struct nbatch *b);

/* The table's sets, base chains and their rules, reject and drop. */
static void add_static(struct mk_proxy *p, struct nbatch *b)
{
	nbatch_sets(b);
	nbatch_chain(b, "services", -1, 0, false);
	nbatch_chain(b, "reject", -1, 0, false);
	nbatch_chain(b, "drop", -1, 0, false);
	nbatch_chain(b, "prerouting", NF_INET_PRE_ROUTING, -100 /* dstnat */, false);
	nbatch_chain(b, "output", NF_INET_LOCAL_OUT, -100 /* dstnat */, false);
	nbatch_chain(b, "postrouting", NF_INET_POST_ROUTING, 100 /* srcnat */, false);
	add_services(p, b);
	add_reject_drop(b);
	add_dstnat(b);
	add_postrouting(p, b);
}

static void add_services(struct mk_proxy *p, struct nbatch *b)
{
	struct nftnl_rule *r;
	/* from inside (a pod of the cluster CIDR, or the node itself) to an
	 * external frontend of a Local service: every endpoint, as kube-proxy
	 * short-circuits it (the Local policy is for traffic from outside):
	 *   [ip saddr CIDR | fib saddr type local] ip daddr . l4proto . th dport vmap @scv
	 *   [same] fib daddr type local ip daddr != 127.0.0.0/8 0 . l4proto . th dport vmap @scv */
	uint32_t local = RTN_LOCAL, m8 = htonl(0xff000000u), zero = 0, lo = htonl(0x7f000000u);
	/* first, the ClusterIPs (the data path's hot case: one lookup, no fib):
	 * ip daddr . meta l4proto . th dport vmap @svc; its keys are in no other map */
	r = rule_new("services");
	load_frontend(r, false, false);
	rule_lookup(r, "svc", R(1), NFT_REG_VERDICT);
	nbatch_rule(b, r);
	for (int from = p->cidr ? 0 : 1; from < 2; from++)
		for (int np = 0; np < 2; np++) {
			r = rule_new("services");
			if (from == 0) {
				rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R(0));
				rule_bitwise(r, R(0), R(0), 4, &p->cidr_mask, &zero);
				rule_cmp(r, R(0), NFT_CMP_EQ, &p->cidr_net, 4);
			} else {
				rule_fib_saddr_type(r, R(0));
				rule_cmp(r, R(0), NFT_CMP_EQ, &local, 4);
			}
			if (np) {
				rule_fib_daddr_type(r, R(0));
				rule_cmp(r, R(0), NFT_CMP_EQ, &local, 4);
				rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R(1));
				rule_bitwise(r, R(1), R(1), 4, &m8, &zero);
				rule_cmp(r, R(1), NFT_CMP_NEQ, &lo, 4);
			}
			load_frontend(r, np, false);
			rule_lookup(r, "scv", R(1), NFT_REG_VERDICT);
			nbatch_rule(b, r);
		}
	/* the external addresses of Local services, after their twins in scv:
	 * ip daddr . meta l4proto . th dport vmap @svx */
	r = rule_new("services");
	load_frontend(r, false, false);
	rule_lookup(r, "svx", R(1), NFT_REG_VERDICT);
	nbatch_rule(b, r);
	/* fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @np */
	r = rule_new("services");
	rule_fib_daddr_type(r, R(0));
	rule_cmp(r, R(0), NFT_CMP_EQ, &local, 4);
	rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R(1));
	rule_bitwise(r, R(1), R(1), 4, &m8, &zero);
	rule_cmp(r, R(1), NFT_CMP_NEQ, &lo, 4);
	rule_meta(r, NFT_META_L4PROTO, R(2));
	rule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(3));
	rule_lookup(r, "np", R(2), NFT_REG_VERDICT);
	nbatch_rule(b, r);
}

static void add_reject_drop(struct nbatch *b)
{
	struct nftnl_rule *r;
	/* reject: tcp reset, else icmp port unreachable */
	uint8_t tcp = IPPROTO_TCP;
	r = rule_new("reject");
	rule_meta(r, NFT_META_L4PROTO, R(0));
	rule_cmp(r, R(0), NFT_CMP_EQ, &tcp, 1);
	rule_reject(r, NFT_REJECT_TCP_RST, 0);
	nbatch_rule(b, r);
	r = rule_new("reject");
	rule_reject(r, NFT_REJECT_ICMP_UNREACH, ICMP_PORT_UNREACH);
	nbatch_rule(b, r);
	/* drop: a Local traffic policy with endpoints, none of them on this node
	 * (kube-proxy drops these, where it rejects a service without endpoints) */
	r = rule_new("drop");
	rule_imm_verdict(r, NF_DROP, NULL);
	nbatch_rule(b, r);
}

static void add_dstnat(struct nbatch *b)
{
	struct nftnl_rule *r;
	uint32_t m8 = htonl(0xff000000u), zero = 0, lo = htonl(0x7f000000u);
	jump_rule(b, "prerouting", "services");
	/* output: ip daddr 127.0.0.0/8 meta l4proto . th dport vmap @np -- a NodePort on
	 * the node's own loopback, as kube-proxy's iptables mode accepts it (with
	 * route_localnet on, see localnet_on; np_* chains mark it for masquerade, so
	 * the endpoint answers the node's address and conntrack maps the reply back).
	 * Only in output: a packet from outside for 127.0.0.0/8 never gets here. */
	r = rule_new("output");
	rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R(1));
	rule_bitwise(r, R(1), R(1), 4, &m8, &zero);
	rule_cmp(r, R(1), NFT_CMP_EQ, &lo, 4);
	rule_meta(r, NFT_META_L4PROTO, R(2));
	rule_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R(3));
	rule_lookup(r, "np", R(2), NFT_REG_VERDICT);
	nbatch_rule(b, r);
	jump_rule(b, "output", "services");
}

static void add_postrouting(struct mk_proxy *p, struct nbatch *b)
{
	struct nftnl_rule *r;
	uint32_t zero = 0;
	/* postrouting 1: NodePort traffic (marked in np_*), mark cleared */
	uint32_t mark = NODEPORT_MARK, nmark = ~NODEPORT_MARK;
	r = rule_new("postrouting");
	rule_meta(r, NFT_META_MARK, R(0));
	rule_bitwise(r, R(0), R(0), 4, &mark, &zero);
	rule_cmp(r, R(0), NFT_CMP_NEQ, &zero, 4);
	rule_meta(r, NFT_META_MARK, R(0));
	rule_bitwise(r, R(0), R(0), 4, &nmark, &zero);
	rule_meta_set(r, NFT_META_MARK, R(0));
	rule_masq(r);
	nbatch_rule(b, r);
	if (p->bridge) {
		/* 2: DNATed traffic leaving by the bridge it came from: the reply of a
		 * same-node endpoint would go back over the bridge, past our
		 * conntrack (no br_netfilter), so make the endpoint answer us */
		uint32_t dnat = IPS_DST_NAT;
		r = rule_new("postrouting");
		rule_ct(r, NFT_CT_STATUS, R(0));
		rule_bitwise(r, R(0), R(0), 4, &dnat, &zero);
		rule_cmp(r, R(0), NFT_CMP_NEQ, &zero, 4);
		ifname_cmp(r, NFT_META_IIFNAME, NFT_CMP_EQ, p->bridge);
		ifname_cmp(r, NFT_META_OIFNAME, NFT_CMP_EQ, p->bridge);
		rule_masq(r);
		nbatch_rule(b, r);
	}
	if (p->cidr) {
		/* 3: pod egress: ip saddr CIDR ip daddr != CIDR oifname != BRIDGE masquerade */
		r = rule_new("postrouting");
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, R(0));
		rule_bitwise(r, R(0), R(0), 4, &p->cidr_mask, &zero);
		rule_cmp(r, R(0), NFT_CMP_EQ, &p->cidr_net, 4);
		rule_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R(0));
		rule_bitwise(r, R(0), R(0), 4, &p->cidr_mask, &zero);
		rule_cmp(r, R(0), NFT_CMP_NEQ, &p->cidr_net, 4);
		if (p->bridge)
			ifname_cmp(r, NFT_META_OIFNAME, NFT_CMP_NEQ, p->bridge);
		rule_masq(r);
		nbatch_rule(b, r);
	}
}

static struct chainref *chain_get(struct mk_proxy *p, struct nbatch *b, bool zero_key, bool mark,
				  bool sc, uint32_t n, uint32_t aff)
{
	static const char *const kinds[2][2] = { { "lb", "xl" }, { "nl", "np" } };
	if (n == 0)
		return NULL;
	struct chainref *c;
	for (c = p->chains; c; c = c->next)
		if (c->zero_key == zero_key && c->mark == mark && c->sc == sc && c->n == n && c->aff == aff)
			break;
	if (!c) {
		const char *k = sc ? (zero_key ? "scz" : "sc") : kinds[zero_key][mark];
		c = mk_malloc0(sizeof(*c));
		c->zero_key = zero_key;
		c->mark = mark;
		c->sc = sc;
		c->n = n;
		c->aff = aff;
		if (aff)
			snprintf(c->name, sizeof(c->name), "%sa_%u_%u", k, n, aff);
		else
			snprintf(c->name, sizeof(c->name), "%s_%u", k, n);
		c->next = p->chains;
		p->chains = c;
	}
	if (c->refs++ == 0) {
		nbatch_chain(b, c->name, -1, 0, false);
		add_lb_rules(b, c);
	}
	return c;
}

/* After the elements that point at c were deleted in this batch. */
static void chain_put(struct mk_proxy *p, struct nbatch *b, struct chainref *c)
{
	if (!c || --c->refs > 0)
		return;
	nbatch_chain(b, c->name, -1, 0, true);
	for (struct chainref **pp = &p->chains; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c);
}

static struct chainref *fe_chain(struct mk_proxy *p, struct nbatch *b, const struct fstate *fs,
				 size_t n, uint32_t aff)
{
	if (fs->sc)
		return chain_get(p, b, fs->np, false, true, (uint32_t)n, 0);
	return chain_get(p, b, fs->np, fs->ext && !fs->local, false, (uint32_t)n, aff);
}

/* ---- elements ------------------------------------------------------------------------- */

static void key_svc(uint8_t k[12], uint32_t ip, uint8_t proto, uint16_t port)
{
	uint16_t be = htons(port);
	memset(k, 0, 12);
	memcpy(k, &ip, 4);
	k[4] = proto;
	memcpy(k + 8, &be, 2);
}

static void key_ep(uint8_t k[16], uint32_t ip, uint8_t proto, uint16_t port, uint32_t idx)
{
	key_svc(k, ip, proto, port);
	memcpy(k + 12, &idx, 4); /* numgen writes host order */
}

static void data_ep(uint8_t d[8], const struct mk_proxy_endpoint *e)
{
	uint16_t be = htons(e->port);
	memset(d, 0, 8);
	memcpy(d, &e->ip, 4);
	memcpy(d + 4, &be, 2);
}

static void key_epset(uint8_t k[20], uint32_t ip, uint8_t proto, uint16_t port,
		      const struct mk_proxy_endpoint *e)
{
	key_svc(k, ip, proto, port);
	data_ep(k + 12, e);
}

/* What a frontend should be: computed from the model for one service port. */
struct fwant {
	uint32_t ip;
	uint16_t port;
	bool np, ext, local, sc;
	const char *empty;
	size_t n;
	const struct mk_proxy_endpoint *eps; /* borrowed from the model */
};

#define MAX_FE(s) (2 * (2 + (s)->n_lb_ips))

/* The frontends of port dp of s, in a fixed order: clusterIP:port, 0:nodePort
 * (with a NodePort), then every LB address:port. want has MAX_FE(s) slots. */
static size_t want_fes(const struct mk_proxy_service *s, const struct mk_proxy_port *dp,
		       struct fwant *want)
{
	size_t n = 0;
	/* Local with endpoints elsewhere only: drop; no endpoint at all: reject */
	const char *lempty = dp->n_endpoints ? "drop" : "reject";
	want[n++] = (struct fwant){ .ip = s->cluster_ip, .port = dp->port, .local = s->int_local,
				    .empty = s->int_local ? lempty : "reject",
				    .n = s->int_local ? dp->n_local : dp->n_endpoints,
				    .eps = s->int_local ? dp->local : dp->endpoints };
	struct fwant ext = { .ext = true, .local = s->ext_local,
			     .empty = s->ext_local ? lempty : "reject",
			     .n = s->ext_local ? dp->n_local : dp->n_endpoints,
			     .eps = s->ext_local ? dp->local : dp->endpoints };
	/* a Local external frontend's twin for traffic from inside the cluster */
	struct fwant twin = { .ext = true, .sc = true, .empty = "reject", .n = dp->n_endpoints,
			      .eps = dp->endpoints };
	if (dp->node_port) {
		want[n] = ext;
		want[n].np = true;
		want[n++].port = dp->node_port;
		if (s->ext_local) {
			want[n] = twin;
			want[n].np = true;
			want[n++].port = dp->node_port;
		}
	}
	for (size_t i = 0; i < s->n_lb_ips; i++) {
		want[n] = ext;
		want[n].ip = s->lb_ips[i];
		want[n++].port = dp->port;
		if (s->ext_local) {
			want[n] = twin;
			want[n].ip = s->lb_ips[i];
			want[n++].port = dp->port;
		}
	}
	return n;
}

static bool same_fe(const struct fstate *f, const struct fwant *w)
{
	return f->ip == w->ip && f->port == w->port && f->np == w->np && f->ext == w->ext &&
	       f->local == w->local && f->sc == w->sc;
}

static void ep_elem(struct nbatch *b, enum elem_op op, const struct fstate *f, uint8_t proto,
		    uint32_t idx, const struct mk_proxy_endpoint *e)
{
	uint8_t k[16], d[8];
	key_ep(k, f->ip, proto, f->port, f->sc ? idx | SC_INDEX : idx);
	data_ep(d, e);
	nbatch_elem(b, op, "ep", k, 16, d, 8, NULL);
}

static void epset_elem(struct nbatch *b, enum elem_op op, const struct fstate *f, uint8_t proto,
		       const struct mk_proxy_endpoint *e)
{
	uint8_t k[20];
	key_epset(k, f->ip, proto, f->port, e);
	nbatch_elem(b, op, "epset", k, 20, NULL, 0, NULL);
}

/* The verdict map of a frontend: svc is looked up first in chain services, so it
 * holds only keys that no scv element shares (ClusterIPs, and the external
 * addresses of Cluster-policy services); svx, looked up after scv, the external
 * addresses of Local services, whose twins in scv win for traffic from inside. */
static const char *vmap_of(const struct fstate *f)
{
	if (f->sc) /* scv key: address (0 for a NodePort) . l4proto . port */
		return "scv";
	if (f->np) /* np key: l4proto . nodePort (an svc key without its address) */
		return "np";
	return f->ext && f->local ? "svx" : "svc";
}

static void vmap_elem(struct nbatch *b, enum elem_op op, uint8_t proto, const struct fstate *f)
{
	uint8_t k[12];
	key_svc(k, f->ip, proto, f->port);
	const char *map = vmap_of(f);
	bool np = !strcmp(map, "np");
	nbatch_elem(b, op, map, np ? k + 4 : k, np ? 8 : 12, NULL, 0, f->c ? f->c->name : f->empty);
}

static void note_gone(struct mk_proxy *p, uint8_t proto, const struct mk_proxy_endpoint *e)
{
	if (proto != IPPROTO_UDP)
		return;
	MK_GROW(p->gone, p->cap_gone, p->n_gone + 1);
	p->gone[p->n_gone++] = *e;
}

static void fe_add(struct mk_proxy *p, struct nbatch *b, uint8_t proto, uint32_t aff,
		   struct fstate *fs, const struct fwant *w)
{
	*fs = (struct fstate){ .ip = w->ip, .port = w->port, .np = w->np, .ext = w->ext,
			       .local = w->local, .sc = w->sc, .empty = w->empty, .n = w->n };
	if (fs->sc)
		aff = 0;
	if (fs->n) {
		fs->slots = mk_malloc0(fs->n * sizeof(*fs->slots));
		memcpy(fs->slots, w->eps, fs->n * sizeof(*fs->slots));
	}
	fs->c = fe_chain(p, b, fs, fs->n, aff);
	if (p->defer_elems)
		return; /* a full sync emits elements set by set afterwards */
	for (size_t j = 0; j < fs->n; j++)
		ep_elem(b, ELEM_ADD, fs, proto, (uint32_t)j, &fs->slots[j]);
	if (aff)
		for (size_t j = 0; j < fs->n; j++)
			epset_elem(b, ELEM_ADD, fs, proto, &fs->slots[j]);
	vmap_elem(b, ELEM_ADD, proto, fs);
}

static void fe_del(struct mk_proxy *p, struct nbatch *b, uint8_t proto, uint32_t aff,
		   struct fstate *fs)
{
	if (fs->sc)
		aff = 0;
	vmap_elem(b, ELEM_DEL, proto, fs);
	for (size_t j = 0; j < fs->n; j++)
		ep_elem(b, ELEM_DEL, fs, proto, (uint32_t)j, &fs->slots[j]);
	if (aff)
		for (size_t j = 0; j < fs->n; j++)
			epset_elem(b, ELEM_DEL, fs, proto, &fs->slots[j]);
	for (size_t j = 0; j < fs->n; j++)
		note_gone(p, proto, &fs->slots[j]);
	chain_put(p, b, fs->c);
	fs->c = NULL;
	free(fs->slots);
	fs->slots = NULL;
	fs->n = 0;
}

static int ep_cmp(const void *a, const void *b)
{
	const struct mk_proxy_endpoint *x = a, *y = b;
	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static bool ep_in(const struct mk_proxy_endpoint *sorted, size_t n, const struct mk_proxy_endpoint *e)
{
	return n && bsearch(e, sorted, n, sizeof(*sorted), ep_cmp) != NULL;
}

/* Moves the endpoints of fs to those of w touching as few index slots as
 * possible: removed endpoints' slots are refilled by added ones, left-over
 * holes are filled from the tail, the rest is appended. */
static void fe_update(struct mk_proxy *p, struct nbatch *b, uint8_t proto, uint32_t aff,
		      struct fstate *fs, const struct fwant *w)
{
	size_t n = fs->n, m = w->n, cap = n > m ? n : m;
	_cleanup_free_ struct mk_proxy_endpoint *want = NULL, *have = NULL, *added = NULL;
	_cleanup_free_ bool *changed = NULL;
	_cleanup_free_ size_t *holes = NULL;
	struct mk_proxy_endpoint *t = mk_malloc0((cap ? cap : 1) * sizeof(*t));

	if (fs->sc)
		aff = 0;
	/* w->eps is sorted by (host-order ip, port); re-sort copies by our order */
	want = mk_malloc0((m ? m : 1) * sizeof(*want));
	if (m) /* memcpy from NULL is undefined even for 0 bytes (UBSan) */
		memcpy(want, w->eps, m * sizeof(*want));
	qsort(want, m, sizeof(*want), ep_cmp);
	have = mk_malloc0((n ? n : 1) * sizeof(*have));
	if (n)
		memcpy(have, fs->slots, n * sizeof(*have));
	qsort(have, n, sizeof(*have), ep_cmp);
	added = mk_malloc0((m ? m : 1) * sizeof(*added));
	size_t na = 0, nh = 0, ai = 0;
	for (size_t i = 0; i < m; i++)
		if (!ep_in(have, n, &want[i]))
			added[na++] = want[i];
	changed = mk_malloc0((cap ? cap : 1) * sizeof(*changed));
	holes = mk_malloc0((n ? n : 1) * sizeof(*holes));
	if (n)
		memcpy(t, fs->slots, n * sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		if (ep_in(want, m, &fs->slots[i]))
			continue;
		note_gone(p, proto, &fs->slots[i]);
		if (aff)
			epset_elem(b, ELEM_DEL, fs, proto, &fs->slots[i]);
		if (ai < na) {
			t[i] = added[ai++];
			changed[i] = true;
		} else {
			holes[nh++] = i;
		}
	}
	size_t size = n;
	for (size_t h = nh; h-- > 0;) {
		if (holes[h] != size - 1) {
			t[holes[h]] = t[size - 1];
			changed[holes[h]] = true;
		}
		size--;
	}
	for (; ai < na; ai++) {
		t[size] = added[ai];
		changed[size++] = true;
	}
	if (aff)
		for (size_t i = 0; i < na; i++)
			epset_elem(b, ELEM_ADD, fs, proto, &added[i]);
	/* deletes first (one message), then adds */
	for (size_t i = 0; i < n; i++)
		if (i >= size || changed[i])
			ep_elem(b, ELEM_DEL, fs, proto, (uint32_t)i, &fs->slots[i]);
	for (size_t i = 0; i < size; i++)
		if (i >= n || changed[i])
			ep_elem(b, ELEM_ADD, fs, proto, (uint32_t)i, &t[i]);
	free(fs->slots);
	fs->slots = t;
	if (size != n || (size == 0 && strcmp(fs->empty, w->empty) != 0)) {
		struct chainref *old = fs->c;
		vmap_elem(b, ELEM_DEL, proto, fs);
		fs->n = size;
		fs->empty = w->empty;
		fs->c = fe_chain(p, b, fs, size, aff);
		vmap_elem(b, ELEM_ADD, proto, fs);
		chain_put(p, b, old);
	}
	fs->empty = w->empty;
}

static void port_add(struct mk_proxy *p, struct nbatch *b, const struct mk_proxy_service *s,
		     struct pstate *ps, const struct mk_proxy_port *dp)
{
	struct fwant want[MAX_FE(s)];
	ps->proto = dp->protocol;
	ps->port = dp->port;
	ps->node_port = dp->node_port;
	ps->nfe = want_fes(s, dp, want);
	ps->fe = mk_malloc0(ps->nfe * sizeof(*ps->fe));
	for (size_t k = 0; k < ps->nfe; k++)
		fe_add(p, b, ps->proto, s->affinity_timeout, &ps->fe[k], &want[k]);
}

static void port_del(struct mk_proxy *p, struct nbatch *b, uint32_t aff, struct pstate *ps)
{
	for (size_t k = 0; k < ps->nfe; k++)
		fe_del(p, b, ps->proto, aff, &ps->fe[k]);
	port_free(ps);
}

/* true when ps has the frontends s wants for dp (then only endpoints change) */
static bool port_same_fes(const struct mk_proxy_service *s, const struct pstate *ps,
			  const struct mk_proxy_port *dp)
{
	struct fwant want[MAX_FE(s)];
	size_t n = want_fes(s, dp, want);
	if (n != ps->nfe)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!same_fe(&ps->fe[k], &want[k]))
			return false;
	return true;
}

static void port_update(struct mk_proxy *p, struct nbatch *b, const struct mk_proxy_service *s,
			struct pstate *ps, const struct mk_proxy_port *dp)
{
	struct fwant want[MAX_FE(s)];
	size_t n = want_fes(s, dp, want);
	for (size_t k = 0; k < n; k++)
		fe_update(p, b, ps->proto, s->affinity_timeout, &ps->fe[k], &want[k]);
}

static struct sstate *svc_add(struct mk_proxy *p, struct nbatch *b, const struct mk_proxy_service *s)
{
	struct sstate *st = mk_malloc0(sizeof(*st));
	st->key = mk_strdup(s->key);
	st->cip = s->cluster_ip;
	st->aff = s->affinity_timeout;
	st->n_ports = s->n_ports;
	st->ports = s->n_ports ? mk_malloc0(s->n_ports * sizeof(*st->ports)) : NULL;
	for (size_t i = 0; i < s->n_ports; i++)
		port_add(p, b, s, &st->ports[i], &s->ports[i]);
	return st;
}

static void svc_del(struct mk_proxy *p, struct nbatch *b, struct sstate *st)
{
	for (size_t i = 0; i < st->n_ports; i++)
		port_del(p, b, st->aff, &st->ports[i]);
	free(st->ports);
	st->ports = NULL;
	st->n_ports = 0;
}

/* ---- operations ----------------------------------------------------------------------- */

static int send_batch(struct mk_proxy *p, struct nbatch *b, struct mk_error **err)
{
	if (p->opts.dry_run)
		return 0;
	return nbatch_send(b, p->nl, err);
}

static void emit_port(struct nbatch *b, int pass, const struct sstate *st, const struct pstate *ps)
{
	for (size_t k = 0; k < ps->nfe; k++) {
		const struct fstate *f = &ps->fe[k];
		if (pass >= 2) {
			if ((pass == 2) == !strcmp(vmap_of(f), "svc"))
				vmap_elem(b, ELEM_ADD, ps->proto, f);
			continue;
		}
		if (pass == 1 && (!st->aff || f->sc))
			continue;
		for (size_t e = 0; e < f->n; e++) {
			if (pass == 0)
				ep_elem(b, ELEM_ADD, f, ps->proto, (uint32_t)e, &f->slots[e]);
			else
				epset_elem(b, ELEM_ADD, f, ps->proto, &f->slots[e]);
		}
	}
}

/* All elements of the recorded state, grouped by set so that they pack into
 * few messages. */
static void emit_all(struct mk_proxy *p, struct nbatch *b)
{
	/* 0: ep, 1: epset, 2: map svc, 3: the other verdict maps */
	for (int pass = 0; pass < 4; pass++)
		for (struct mk_hmap_iter it = MK_HMAP_ITER_INIT; mk_hmap_iter_next(&p->svcs, &it);) {
			const struct sstate *st = it.e->val;
			for (size_t j = 0; j < st->n_ports; j++)
				emit_port(b, pass, st, &st->ports[j]);
		}
}

static uint64_t fe_key(const struct fwant *w, uint8_t proto)
{
	if (w->sc)
		return ((uint64_t)1 << 58) | ((uint64_t)w->ip << 24) | ((uint64_t)proto << 16) | w->port;
	if (w->np)
		return ((uint64_t)1 << 56) | ((uint64_t)proto << 16) | w->port;
	return ((uint64_t)w->ip << 24) | ((uint64_t)proto << 16) | w->port | ((uint64_t)1 << 57);
}

static bool seen_has(const uint64_t *seen, size_t cap, uint64_t k)
{
	for (size_t h = (k * 0x9E3779B97F4A7C15ull) >> 20;; h++) {
		uint64_t e = seen[h & (cap - 1)];
		if (e == 0)
			return false;
		if (e == k)
			return true;
	}
}

/* Frontend conflicts (two services on one clusterIP:port, LB address:port or
 * NodePort) would make the whole batch fail: the API server's allocator and
 * the servicelb controller prevent them, a full sync skips the later ports so
 * that one bad object cannot stop every update. seen: open addressing table
 * sized at least 4x the frontends. */
static bool conflicts(const struct mk_proxy_service *s, const struct mk_proxy_port *pt, uint64_t *seen,
		      size_t capseen)
{
	struct fwant want[MAX_FE(s)];
	size_t n = want_fes(s, pt, want);
	for (size_t j = 0; j < n; j++)
		if (seen_has(seen, capseen, fe_key(&want[j], pt->protocol)))
			return true;
	for (size_t j = 0; j < n; j++) {
		uint64_t k = fe_key(&want[j], pt->protocol);
		if (seen_has(seen, capseen, k))
			continue; /* twice in one port (an LB address equal to the clusterIP) */
		size_t h = (k * 0x9E3779B97F4A7C15ull) >> 20;
		while (seen[h & (capseen - 1)])
			h++;
		seen[h & (capseen - 1)] = k;
	}
	return false;
}

int mk_proxy_sync_full(struct mk_proxy *p, const struct mk_proxy_desired *d, struct mk_error **err)
{
	struct nbatch b;
	size_t nfes = 0;
	for (size_t i = 0; i < d->n; i++)
		nfes += d->services[i]->n_ports * MAX_FE(d->services[i]);
	size_t capseen = 64;
	while (capseen < nfes * 4)
		capseen *= 2;
	_cleanup_free_ uint64_t *seen = mk_malloc0(capseen * sizeof(*seen));

	state_clear(p);
	p->n_gone = 0;
	p->defer_elems = true;
	nbatch_init(&b, &p->stats);
	nbatch_begin(&b);
	/* add + delete + add: the delete cannot fail on a missing table, and
	 * the kernel swaps the old table for the new one atomically */
	nbatch_table(&b, false);
	nbatch_table(&b, true);
	nbatch_table(&b, false);
	add_static(p, &b);
	for (size_t i = 0; i < d->n; i++) {
		const struct mk_proxy_service *s = d->services[i];
		if (mk_hmap_has(&p->svcs, s->key))
			continue; /* duplicate key: first wins */
		_cleanup_(mk_proxy_service_freep) struct mk_proxy_service *ok = mk_proxy_service_dup(s);
		size_t w = 0;
		for (size_t j = 0; j < ok->n_ports; j++) {
			if (conflicts(ok, &ok->ports[j], seen, capseen)) {
				free(ok->ports[j].name);
				free(ok->ports[j].endpoints);
				free(ok->ports[j].local);
				continue;
			}
			ok->ports[w++] = ok->ports[j];
		}
		ok->n_ports = w;
		struct sstate *st = svc_add(p, &b, ok);
		mk_hmap_put(&p->svcs, st->key, st);
	}
	p->defer_elems = false;
	emit_all(p, &b);
	nbatch_end(&b);
	int r = send_batch(p, &b, err);
	nbatch_release(&b);
	if (r < 0) {
		state_clear(p);
		p->stale = true;
		return mk_error_wrap(err, "full sync of %zu services", d->n);
	}
	p->stale = false;
	return 0;
}

static bool same_port(const struct pstate *a, const struct mk_proxy_port *b)
{
	return a->proto == b->protocol && a->port == b->port && a->node_port == b->node_port;
}

int mk_proxy_apply_change(struct mk_proxy *p, const char *key, const struct mk_proxy_service *svc,
			  struct mk_error **err)
{
	if (p->stale)
		return mk_error_set(err, ESTALE, "proxy state is stale: a full sync is needed");
	if (svc && strcmp(svc->key, key) != 0)
		return mk_error_set(err, EINVAL, "service key '%s' does not match '%s'", svc->key, key);
	struct sstate *old = mk_hmap_get(&p->svcs, key);
	struct nbatch b;
	nbatch_init(&b, &p->stats);
	p->n_gone = 0;
	if (!old && !svc)
		return 0;
	nbatch_begin(&b);
	if (old && svc && old->cip == svc->cluster_ip && old->aff == svc->affinity_timeout) {
		/* port by port; ports that changed identity (or frontends: LB
		 * addresses, traffic policies) are removed and re-added */
		struct pstate *np = svc->n_ports ? mk_malloc0(svc->n_ports * sizeof(*np)) : NULL;
		bool *used = mk_malloc0((old->n_ports ? old->n_ports : 1) * sizeof(*used));
		bool *found = mk_malloc0((svc->n_ports ? svc->n_ports : 1) * sizeof(*found));
		for (size_t i = 0; i < svc->n_ports; i++)
			for (size_t j = 0; j < old->n_ports; j++)
				if (!used[j] && same_port(&old->ports[j], &svc->ports[i]) &&
				    port_same_fes(svc, &old->ports[j], &svc->ports[i])) {
					used[j] = found[i] = true;
					np[i] = old->ports[j];
					break;
				}
		for (size_t j = 0; j < old->n_ports; j++)
			if (!used[j])
				port_del(p, &b, old->aff, &old->ports[j]);
		for (size_t i = 0; i < svc->n_ports; i++) {
			if (found[i])
				port_update(p, &b, svc, &np[i], &svc->ports[i]);
			else
				port_add(p, &b, svc, &np[i], &svc->ports[i]);
		}
		free(old->ports);
		old->ports = np;
		old->n_ports = svc->n_ports;
		free(used);
		free(found);
	} else {
		if (old) {
			svc_del(p, &b, old);
			mk_hmap_del(&p->svcs, key);
			svc_free(old);
		}
		if (svc) {
			struct sstate *st = svc_add(p, &b, svc);
			mk_hmap_put(&p->svcs, st->key, st);
		}
	}
	nbatch_end(&b);
	if (b.st->messages == 0) {
		nbatch_release(&b);
		return 0;
	}
	int r = send_batch(p, &b, err);
	nbatch_release(&b);
	if (r < 0) {
		p->stale = true;
		return mk_error_wrap(err, "update service '%s'", key);
	}
	if (p->n_gone && p->ct) {
		struct mk_error *cterr = NULL;
		int n = proxy_ct_flush_udp_endpoints(p->ct, p->gone, p->n_gone, &cterr);
		if (n < 0) {
			/* the rules are right; stale UDP flows only age out slower */
			mk_log(MK_LOG_WARN, "proxy", "flush conntrack: %s", cterr->msg);
			mk_error_free(&cterr);
		} else {
			p->stats.ct_deleted = (unsigned)n;
		}
	}
	return 0;
}

/* ---- removal ------------------------------------------------------------------------------ */

struct remove_args {
	struct mk_error **err;
};

static int do_remove(void *arg)
{
	struct remove_args *a = arg;
	struct mk_proxy_stats st;
	struct nbatch b;
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		if (nl)
			mnl_socket_close(nl);
		return mk_error_errno(a->err, e, "open netfilter netlink socket");
	}
	nbatch_init(&b, &st);
	nbatch_begin(&b);
	nbatch_table(&b, false);
	nbatch_table(&b, true);
	nbatch_end(&b);
	int r = nbatch_send(&b, nl, a->err);
	nbatch_release(&b);
	mnl_socket_close(nl);
	return r;
}

int mk_proxy_remove(const struct mk_proxy_options *opts, struct mk_error **err)
{
	struct remove_args a = { err };
	if (proxy_in_netns(opts, do_remove, &a, err) < 0)
		return mk_error_wrap(err, "remove nftables table '%s'", MK_PROXY_TABLE);
	return 0;
}

uint32_t proxy_nl_portid(const struct mk_proxy *p)
{
	return p->nl ? mnl_socket_get_portid(p->nl) : 0;
}

const struct mk_proxy_options *proxy_options(const struct mk_proxy *p)
{
	return &p->opts;
}
