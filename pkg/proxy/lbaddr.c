/* LoadBalancer pool addresses held by this node (servicelb.c picks the node
 * and names it in the service's MK_SERVICELB_NODE_ANN annotation): each is
 * added as a /32 to the interface that has the node's address, and announced
 * with gratuitous ARP (a request and a reply, both with the address as sender
 * and target, as `arping -U` and `arping -A` send them) so that neighbours
 * move it to this node's MAC at once; the kernel answers later ARP requests
 * for it by itself. An address this node no longer holds is removed; so is a
 * /32 on that interface that is some service's LoadBalancer address without
 * being ours (left by an earlier run, before the address moved). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "minik8s/net.h"
#include "internal.h"

struct held {
	char *key;
	uint32_t ip;
};

struct proxy_lbaddr {
	char *node, *state;
	uint32_t node_ip;
	char ifname[IF_NAMESIZE];
	struct mk_net_sock *ns;
	struct held *v; /* desired: (service, address) pairs this node holds */
	size_t n, cap;
	uint32_t *all; /* every service's LB address seen (stale ones are removed) */
	size_t nall, capall;
	uint32_t *inst; /* what we added */
	size_t ninst, capinst;
};

static void push_u32(uint32_t **arr, size_t *n, size_t *cap, uint32_t v)
{
	for (size_t i = 0; i < *n; i++)
		if ((*arr)[i] == v)
			return;
	MK_GROW(*arr, *cap, *n + 1);
	(*arr)[(*n)++] = v;
}

/* The interface that has ip (network order) into name; -1 when none. */
static int iface_of(uint32_t ip, char name[IF_NAMESIZE])
{
	struct ifaddrs *ifa, *i;
	int r = -1;
	if (getifaddrs(&ifa) < 0)
		return -1;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == ip) {
			snprintf(name, IF_NAMESIZE, "%s", i->ifa_name);
			r = 0;
			break;
		}
	freeifaddrs(ifa);
	return r;
}

/* Calls fn(ifname, "a.b.c.d/32", arg) for each line of the state file. */
static void state_each(const char *path, void (*fn)(const char *, const char *, void *), void *arg)
{
	_cleanup_free_ char *data = NULL;
	struct mk_error *e = NULL;
	if (!path || mk_fs_read_file(path, &data, NULL, &e) < 0) {
		mk_error_free(&e);
		return;
	}
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = 0;
		fn(line, sp + 1, arg);
	}
}

static void note_recorded(const char *ifname, const char *cidr, void *arg)
{
	struct proxy_lbaddr *l = arg;
	char ip[16];
	struct in_addr a;
	const char *slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = 0;
	if (inet_pton(AF_INET, ip, &a) == 1 && (!l->ifname[0] || !strcmp(ifname, l->ifname)))
		push_u32(&l->inst, &l->ninst, &l->capinst, a.s_addr);
}

static void save_state(struct proxy_lbaddr *l)
{
	if (!l->state)
		return;
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "%s", "");
	for (size_t i = 0; i < l->ninst; i++) {
		char ip[16];
		inet_ntop(AF_INET, &l->inst[i], ip, sizeof(ip));
		mk_buf_printf(&b, "%s %s/32\n", l->ifname, ip);
	}
	struct mk_error *e = NULL;
	if (mk_fs_write_file(l->state, b.data, b.len, 0600, &e) < 0) {
		mk_log(MK_LOG_WARN, "proxy", "record load balancer addresses: %s", e->msg);
		mk_error_free(&e);
	}
	mk_buf_release(&b);
}

static void remove_recorded(const char *ifname, const char *cidr, void *arg)
{
	struct mk_net_sock *ns = arg;
	struct mk_error *e = NULL;
	if (mk_net_addr_delete(ns, ifname, cidr, &e) < 0)
		mk_error_free(&e); /* the interface may be gone with its namespace */
}

int mk_proxy_lb_addresses_remove(const char *state_file, struct mk_error **err)
{
	if (access(state_file, F_OK) < 0)
		return 0;
	struct mk_net_sock *ns = NULL;
	if (mk_net_sock_open(-1, &ns, err) < 0)
		return -1;
	state_each(state_file, remove_recorded, ns);
	mk_net_sock_free(ns);
	if (unlink(state_file) < 0 && errno != ENOENT)
		return mk_error_errno(err, errno, "remove '%s'", state_file);
	return 0;
}

struct proxy_lbaddr *proxy_lbaddr_new(const char *node, const char *node_ip, const char *state_file,
				      struct mk_error **err)
{
	struct in_addr a;
	if (!node || !node_ip || inet_pton(AF_INET, node_ip, &a) != 1) {
		mk_error_set(err, EINVAL, "load balancer addresses: need the node name and IPv4 address");
		return NULL;
	}
	struct proxy_lbaddr *l = mk_malloc0(sizeof(*l));
	l->node = mk_strdup(node);
	l->node_ip = a.s_addr;
	l->state = state_file ? mk_strdup(state_file) : NULL;
	/* what an earlier run added: removed at the first sync unless held */
	iface_of(l->node_ip, l->ifname);
	state_each(l->state, note_recorded, l);
	if (mk_net_sock_open(-1, &l->ns, err) < 0) {
		proxy_lbaddr_free(l);
		return NULL;
	}
	return l;
}

void proxy_lbaddr_free(struct proxy_lbaddr *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	free(l->all);
	free(l->inst);
	mk_net_sock_free(l->ns);
	free(l->node);
	free(l->state);
	free(l);
}

void proxy_lbaddr_note(struct proxy_lbaddr *l, const char *key, const cJSON *svc)
{
	for (size_t i = 0; i < l->n;)
		if (!strcmp(l->v[i].key, key)) {
			free(l->v[i].key);
			l->v[i] = l->v[--l->n];
		} else {
			i++;
		}
	const char *type = svc ? mk_json_get_string(svc, "spec.type") : NULL;
	if (!type || strcmp(type, "LoadBalancer"))
		return;
	const char *holder = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(mk_json_get(svc, "metadata.annotations"), MK_SERVICELB_NODE_ANN));
	const cJSON *e;
	cJSON_ArrayForEach(e, mk_json_get(svc, "status.loadBalancer.ingress"))
	{
		const char *ip = mk_json_get_string(e, "ip");
		struct in_addr a;
		if (!ip || inet_pton(AF_INET, ip, &a) != 1 || a.s_addr == l->node_ip)
			continue;
		push_u32(&l->all, &l->nall, &l->capall, a.s_addr);
		if (!holder || strcmp(holder, l->node))
			continue;
		MK_GROW(l->v, l->cap, l->n + 1);
		l->v[l->n++] = (struct held){ .key = mk_strdup(key), .ip = a.s_addr };
	}
}

static bool wanted(const struct proxy_lbaddr *l, uint32_t ip)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].ip == ip)
			return true;
	return false;
}

/* Gratuitous ARP for ip on ifname: a broadcast request and reply. */
static int garp(const char *ifname, uint32_t ip, struct mk_error **err)
{
	_cleanup_close_ int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return mk_error_errno(err, errno, "packet socket");
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return mk_error_errno(err, errno, "hardware address of '%s'", ifname);
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex)
		return mk_error_errno(err, errno, "interface '%s'", ifname);
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				  .sll_ifindex = ifindex, .sll_halen = ETH_ALEN };
	memset(to.sll_addr, 0xff, ETH_ALEN);
	for (int op = ARPOP_REQUEST; op <= ARPOP_REPLY; op++) {
		struct ether_arp p = { 0 };
		p.ea_hdr.ar_hrd = htons(ARPHRD_ETHER);
		p.ea_hdr.ar_pro = htons(ETH_P_IP);
		p.ea_hdr.ar_hln = ETH_ALEN;
		p.ea_hdr.ar_pln = 4;
		p.ea_hdr.ar_op = htons((uint16_t)op);
		memcpy(p.arp_sha, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
		memcpy(p.arp_spa, &ip, 4);
		if (op == ARPOP_REPLY)
			memset(p.arp_tha, 0xff, ETH_ALEN);
		memcpy(p.arp_tpa, &ip, 4);
		if (sendto(fd, &p, sizeof(p), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			return mk_error_errno(err, errno, "send gratuitous ARP on '%s'", ifname);
	}
	return 0;
}

/* The steps of proxy_lbaddr_sync, against the interface's addresses (addrs):
 * forget what we added and the interface lost, release what we no longer hold,
 * then add and announce what we hold. */

static bool u32_has(const uint32_t *v, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* What we think we added but the interface lacks (a reboot, someone's
 * `ip addr del`) is added again by lbaddr_hold. */
static void lbaddr_forget_missing(struct proxy_lbaddr *l, char **addrs, size_t na)
{
	for (size_t j = 0; j < l->ninst;) {
		char cidr[24], ipb[16];
		bool present = false;
		inet_ntop(AF_INET, &l->inst[j], ipb, sizeof(ipb));
		snprintf(cidr, sizeof(cidr), "%s/32", ipb);
		for (size_t i = 0; i < na && !present; i++)
			present = !strcmp(addrs[i], cidr);
		if (present)
			j++;
		else
			l->inst[j] = l->inst[--l->ninst];
	}
}

/* remove: ours or some service's address, /32, not held any more; *changed:
 * whether what we added changed */
static int lbaddr_release(struct proxy_lbaddr *l, char **addrs, size_t na, bool *changed,
			  struct mk_error **err)
{
	int ret = 0;
	for (size_t i = 0; i < na; i++) {
		char ipb[16];
		const char *slash = strchr(addrs[i], '/');
		struct in_addr a;
		if (!slash || strcmp(slash, "/32") || (size_t)(slash - addrs[i]) >= sizeof(ipb))
			continue;
		memcpy(ipb, addrs[i], (size_t)(slash - addrs[i]));
		ipb[slash - addrs[i]] = 0;
		if (inet_pton(AF_INET, ipb, &a) != 1 || wanted(l, a.s_addr))
			continue;
		if (!u32_has(l->all, l->nall, a.s_addr) && !u32_has(l->inst, l->ninst, a.s_addr))
			continue;
		if (mk_net_addr_delete(l->ns, l->ifname, addrs[i], err) < 0) {
			ret = -1;
			break;
		}
		mk_log(MK_LOG_INFO, "proxy", "load balancer address %s released", ipb);
	}
	size_t before = l->ninst;
	for (size_t j = 0; j < l->ninst;)
		if (!wanted(l, l->inst[j]))
			l->inst[j] = l->inst[--l->ninst];
		else
			j++;
	*changed = before != l->ninst;
	return ret;
}

/* add: what we hold and have not added yet (announced once, when added) */
static int lbaddr_hold(struct proxy_lbaddr *l, bool *changed, struct mk_error **err)
{
	for (size_t i = 0; i < l->n; i++) {
		char cidr[24], ipb[16];
		if (u32_has(l->inst, l->ninst, l->v[i].ip))
			continue;
		inet_ntop(AF_INET, &l->v[i].ip, ipb, sizeof(ipb));
		snprintf(cidr, sizeof(cidr), "%s/32", ipb);
		if (mk_net_addr_add(l->ns, l->ifname, cidr, err) < 0)
			return -1;
		push_u32(&l->inst, &l->ninst, &l->capinst, l->v[i].ip);
		*changed = true;
		struct mk_error *e = NULL;
		if (garp(l->ifname, l->v[i].ip, &e) < 0) {
			/* the address works; neighbours learn it when they ask */
			mk_log(MK_LOG_WARN, "proxy", "announce %s: %s", ipb, e->msg);
			mk_error_free(&e);
		}
		mk_log(MK_LOG_INFO, "proxy", "load balancer address %s held on %s", ipb, l->ifname);
	}
	return 0;
}

int proxy_lbaddr_sync(struct proxy_lbaddr *l, struct mk_error **err)
{
	if (!l->ifname[0] && iface_of(l->node_ip, l->ifname) < 0)
		return l->n ? mk_error_set(err, ENODEV, "no interface has the node address") : 0;
	_cleanup_strv_ char **addrs = NULL;
	size_t na = 0;
	bool changed = false;
	if (mk_net_addr_list(l->ns, l->ifname, &addrs, &na, err) < 0)
		return -1;
	lbaddr_forget_missing(l, addrs, na);
	int ret = lbaddr_release(l, addrs, na, &changed, err);
	if (ret == 0)
		ret = lbaddr_hold(l, &changed, err);
	if (changed)
		save_state(l);
	return ret;
}
