/* Bridge, veth, addresses, routes and pod attach on real links, each test inside
 * namespaces of its own ("node" and "pod" namespaces under the temp run dir). */
#include <string.h>
#include <stdlib.h>
#include "helpers.h"

static void expect_strv(char **v, const char *const *want, size_t n)
{
	size_t i = 0;
	for (; v[i]; i++) {
		ck_assert_msg(i < n, "unexpected extra entry '%s'", v[i]);
		ck_assert_str_eq(v[i], want[i]);
	}
	ck_assert_uint_eq(i, n);
}

static void expect_addrs(struct mk_net_sock *s, const char *ifname, const char *const *want,
			 size_t n)
{
	char **v = NULL;
	struct mk_error *err = NULL;

	ck_ok(mk_net_addr_list(s, ifname, &v, NULL, &err), &err);
	expect_strv(v, want, n);
	mk_strv_free(v);
}

/* the route to dst in s: 1 and *ret filled if found */
static int find_route(struct mk_net_sock *s, const char *dst, struct mk_net_route *ret)
{
	struct mk_net_route *v = NULL;
	struct mk_error *err = NULL;
	size_t n = 0;
	int found = 0;

	ck_ok(mk_net_route_list(s, &v, &n, &err), &err);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].dst, dst)) {
			*ret = v[i];
			found = 1;
		}
	free(v);
	return found;
}

START_TEST(test_bridge_ensure)
{
	struct mk_error *err = NULL;
	char node[64];
	int nfd = make_netns("mkt-node", node);
	struct mk_net_sock *s = open_sock(nfd);

	ck_assert_int_eq(mk_net_link_exists(s, "mk0", &err), 0);
	ck_ok(mk_net_bridge_ensure(s, "mk0", "10.244.1.1/24", &err), &err);
	ck_assert_int_eq(mk_net_link_exists(s, "mk0", &err), 1);
	expect_addrs(s, "mk0", (const char *[]){ "10.244.1.1/24" }, 1);
	/* idempotent */
	ck_ok(mk_net_bridge_ensure(s, "mk0", "10.244.1.1/24", &err), &err);
	expect_addrs(s, "mk0", (const char *[]){ "10.244.1.1/24" }, 1);
	/* a wrong or extra address is fixed */
	ck_ok(mk_net_addr_add(s, "mk0", "10.244.1.77/24", &err), &err);
	ck_ok(mk_net_addr_add(s, "mk0", "10.244.1.77/24", &err), &err); /* add is idempotent */
	expect_addrs(s, "mk0", (const char *[]){ "10.244.1.1/24", "10.244.1.77/24" }, 2);
	ck_ok(mk_net_bridge_ensure(s, "mk0", "10.244.9.1/24", &err), &err);
	expect_addrs(s, "mk0", (const char *[]){ "10.244.9.1/24" }, 1);
	ck_assert_int_eq(mk_net_addr_delete(s, "mk0", "10.244.9.1/24", &err), 1);
	ck_assert_int_eq(mk_net_addr_delete(s, "mk0", "10.244.9.1/24", &err), 0);
	expect_addrs(s, "mk0", NULL, 0);
	ck_ok(mk_net_bridge_ensure(s, "mk0", "10.244.1.1/24", &err), &err);
	expect_addrs(s, "mk0", (const char *[]){ "10.244.1.1/24" }, 1);

	/* a non-bridge under the name is not taken over */
	struct mk_net_veth_config vc = { .name = "vt0", .peer_name = "vt0p", .peer_netns_fd = -1 };
	ck_ok(mk_net_veth_create(s, &vc, &err), &err);
	ck_assert_int_eq(mk_net_bridge_ensure(s, "vt0", "10.1.0.1/24", &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);
	ck_assert_int_eq(mk_net_bridge_delete(s, "vt0", &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);

	/* bad input */
	ck_assert_int_eq(mk_net_bridge_ensure(s, "mk0", "10.244.1.1", &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	ck_assert_int_eq(mk_net_bridge_ensure(s, "a-name-longer-than-15", NULL, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	ck_assert_int_eq(mk_net_addr_add(s, "nosuch0", "10.1.1.1/24", &err), -1);
	ck_assert_int_eq(err->code, ENODEV);
	mk_error_free(&err);

	ck_assert_int_eq(mk_net_bridge_delete(s, "mk0", &err), 1);
	ck_assert_int_eq(mk_net_bridge_delete(s, "mk0", &err), 0);
	ck_assert_int_eq(mk_net_link_exists(s, "mk0", &err), 0);
	mk_net_sock_free(s);
	close(nfd);
	mk_net_netns_delete(g_run_dir, node, NULL);
}
END_TEST

START_TEST(test_veth_and_routes)
{
	struct mk_error *err = NULL;
	char node[64], other[64];
	int nfd = make_netns("mkt-node", node), ofd = make_netns("mkt-other", other);
	struct mk_net_sock *s = open_sock(nfd), *os = open_sock(ofd);
	struct mk_net_route rt;
	char **v = NULL;
	int idx = 0;

	ck_ok(mk_net_bridge_ensure(s, "mk0", "10.244.1.1/24", &err), &err);
	struct mk_net_veth_config a = { .name = "vta", .peer_name = "vtap", .peer_netns_fd = -1,
					.master = "mk0", .mtu = 1400 };
	struct mk_net_veth_config b = { .name = "vtb", .peer_name = "eth0", .peer_netns_fd = ofd,
					.master = "mk0" };
	ck_ok(mk_net_veth_create(s, &a, &err), &err);
	ck_ok(mk_net_veth_create(s, &b, &err), &err);
	ck_assert_int_eq(mk_net_veth_create(s, &b, &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);
	/* b's peer went straight to the other namespace */
	ck_assert_int_eq(mk_net_link_exists(s, "eth0", &err), 0);
	ck_assert_int_eq(mk_net_link_exists(os, "eth0", &err), 1);
	ck_ok(mk_net_link_ifindex(os, "eth0", &idx, &err), &err);
	ck_assert_int_gt(idx, 1);
	ck_ok(mk_net_veth_list(s, "mk0", &v, NULL, &err), &err);
	expect_strv(v, (const char *[]){ "vta", "vtb" }, 2);
	mk_strv_free(v);

	/* deleting one end (the peer) removes both */
	ck_assert_int_eq(mk_net_veth_delete(s, "vtap", &err), 1);
	ck_assert_int_eq(mk_net_link_exists(s, "vta", &err), 0);
	ck_assert_int_eq(mk_net_veth_delete(s, "vta", &err), 0);
	ck_assert_int_eq(mk_net_veth_delete(s, "mk0", &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);
	ck_ok(mk_net_veth_list(s, "mk0", &v, NULL, &err), &err);
	expect_strv(v, (const char *[]){ "vtb" }, 1);
	mk_strv_free(v);
	ck_assert_int_eq(mk_net_veth_list(s, "nosuch0", &v, NULL, &err), -1);
	ck_assert_int_eq(err->code, ENODEV);
	mk_error_free(&err);

	/* routes: add, add again, replace, delete */
	ck_ok(mk_net_route_add(s, "10.250.0.0/16", "10.244.1.50", NULL, &err), &err);
	ck_assert(find_route(s, "10.250.0.0/16", &rt));
	ck_assert_str_eq(rt.gw, "10.244.1.50");
	ck_assert_str_eq(rt.ifname, "mk0");
	ck_assert_int_eq(mk_net_route_add(s, "10.250.0.0/16", "10.244.1.50", NULL, &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);
	ck_ok(mk_net_route_replace(s, "10.250.0.0/16", "10.244.1.60", "mk0", &err), &err);
	ck_assert(find_route(s, "10.250.0.0/16", &rt));
	ck_assert_str_eq(rt.gw, "10.244.1.60");
	ck_ok(mk_net_route_replace(s, "10.251.0.0/16", NULL, "mk0", &err), &err);
	ck_assert(find_route(s, "10.251.0.0/16", &rt));
	ck_assert_str_eq(rt.gw, "");
	ck_assert_str_eq(rt.ifname, "mk0");
	ck_ok(mk_net_route_replace(s, "default", "10.244.1.254", NULL, &err), &err);
	ck_assert(find_route(s, "0.0.0.0/0", &rt));
	ck_assert_str_eq(rt.gw, "10.244.1.254");
	ck_assert_int_eq(mk_net_route_delete(s, "10.250.0.0/16", &err), 1);
	ck_assert_int_eq(mk_net_route_delete(s, "10.250.0.0/16", &err), 0);
	ck_assert(!find_route(s, "10.250.0.0/16", &rt));
	ck_assert_int_eq(mk_net_route_delete(s, "default", &err), 1);
	ck_assert(!find_route(s, "0.0.0.0/0", &rt));
	ck_assert(find_route(s, "10.251.0.0/16", &rt)); /* the others stay */
	/* unreachable gateway, bad input */
	ck_assert_int_eq(mk_net_route_add(s, "10.252.0.0/16", "192.0.2.1", NULL, &err), -1);
	mk_error_free(&err);
	ck_assert_int_eq(mk_net_route_add(s, "10.252.0.0/33", "10.244.1.2", NULL, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	ck_assert_int_eq(mk_net_route_add(s, "10.252.0.0/16", NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);

	mk_net_sock_free(s);
	mk_net_sock_free(os);
	close(nfd);
	close(ofd);
	mk_net_netns_delete(g_run_dir, node, NULL);
	mk_net_netns_delete(g_run_dir, other, NULL);
}
END_TEST

START_TEST(test_veth_name)
{
	char a[MK_NET_IFNAMSIZ], b[MK_NET_IFNAMSIZ], c[MK_NET_IFNAMSIZ];

	mk_net_veth_name("6f1c2b1e-0b0a-4c8e-9d59-3f1d5c8e2a10", a);
	mk_net_veth_name("6f1c2b1e-0b0a-4c8e-9d59-3f1d5c8e2a10", b);
	mk_net_veth_name("6f1c2b1e-0b0a-4c8e-9d59-3f1d5c8e2a11", c);
	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, c);
	ck_assert_uint_eq(strlen(a), 13);
	ck_assert(!strncmp(a, "mk", 2));
	ck_assert_uint_eq(strspn(a + 2, "0123456789abcdef"), 11);
}
END_TEST

struct pod {
	char ns[64], host[MK_NET_IFNAMSIZ], ip[MK_NET_IP_STRLEN], cidr[MK_NET_CIDR_STRLEN];
	const char *uid;
	int fd;
};

static void attach_pod(struct mk_net_sock *node, struct mk_net_ipam *ipam, struct pod *p,
		       const char *uid)
{
	struct mk_error *err = NULL;
	char gw[MK_NET_IP_STRLEN], want[MK_NET_IFNAMSIZ];
	int prefix;

	p->uid = uid;
	p->fd = make_netns("mkt-pod", p->ns);
	ck_ok(mk_net_ipam_allocate(ipam, uid, p->ip, &err), &err);
	mk_net_ipam_gateway(ipam, gw, &prefix);
	snprintf(p->cidr, sizeof(p->cidr), "%s/%d", p->ip, prefix);
	struct mk_net_pod_config c = { .id = uid, .netns_fd = p->fd, .bridge = "mk0",
				       .address = p->cidr, .gateway = gw };
	ck_ok(mk_net_pod_attach(node, &c, p->host, &err), &err);
	mk_net_veth_name(uid, want);
	ck_assert_str_eq(p->host, want);
}

START_TEST(test_pod_traffic)
{
	struct mk_error *err = NULL;
	char node[64], gw[MK_NET_IP_STRLEN], bridge_cidr[MK_NET_CIDR_STRLEN];
	int nfd = make_netns("mkt-node", node), prefix;
	struct mk_net_sock *s = open_sock(nfd), *host = open_sock(-1);
	struct mk_net_ipam *ipam = NULL;
	struct pod a, b;
	struct mk_net_route rt;
	char **v = NULL;
	pid_t srv;

	char *ipam_path = mk_strdup_printf("%s/pods-%d.ipam", g_tmp, (int)getpid());
	ck_ok(mk_net_ipam_open(ipam_path, "10.244.1.0/24", &ipam, &err), &err);
	mk_net_ipam_gateway(ipam, gw, &prefix);
	snprintf(bridge_cidr, sizeof(bridge_cidr), "%s/%d", gw, prefix);
	ck_ok(mk_net_bridge_ensure(s, "mk0", bridge_cidr, &err), &err);

	attach_pod(s, ipam, &a, "uid-pod-a");
	attach_pod(s, ipam, &b, "uid-pod-b");
	ck_assert_str_eq(a.ip, "10.244.1.2");
	ck_assert_str_eq(b.ip, "10.244.1.3");

	/* what the kernel now holds */
	ck_ok(mk_net_veth_list(s, "mk0", &v, NULL, &err), &err);
	const char *want[2] = { a.host, b.host };
	if (strcmp(want[0], want[1]) > 0) {
		want[0] = b.host;
		want[1] = a.host;
	}
	expect_strv(v, want, 2);
	mk_strv_free(v);
	struct mk_net_sock *as = open_sock(a.fd), *bs = open_sock(b.fd);
	expect_addrs(as, "eth0", (const char *[]){ "10.244.1.2/24" }, 1);
	expect_addrs(as, "lo", (const char *[]){ "127.0.0.1/8" }, 1); /* lo is up */
	ck_assert(find_route(as, "0.0.0.0/0", &rt));
	ck_assert_str_eq(rt.gw, "10.244.1.1");
	ck_assert_str_eq(rt.ifname, "eth0");
	/* nothing leaked into the host's namespace */
	ck_assert_int_eq(mk_net_link_exists(host, a.host, &err), 0);
	ck_assert_int_eq(mk_net_link_exists(host, b.host, &err), 0);

	/* real traffic: pod A -> pod B, pod A -> bridge (node) */
	srv = echo_server_start(b.fd, b.ip, 8080);
	ck_assert_int_eq(tcp_probe(a.fd, b.ip, 8080, 3000), 0);
	echo_server_stop(srv);
	srv = echo_server_start(nfd, gw, 8081);
	ck_assert_int_eq(tcp_probe(a.fd, gw, 8081, 3000), 0);
	ck_assert_int_eq(tcp_probe(b.fd, gw, 8081, 3000), 0);
	echo_server_stop(srv);
	/* loopback inside the pod works (lo up) */
	srv = echo_server_start(a.fd, "127.0.0.1", 8082);
	ck_assert_int_eq(tcp_probe(a.fd, "127.0.0.1", 8082, 3000), 0);
	echo_server_stop(srv);

	/* detach B: its veth pair is gone on both sides, and so is the path */
	ck_assert_int_eq(mk_net_pod_detach(s, b.uid, &err), 1);
	ck_assert_int_eq(mk_net_pod_detach(s, b.uid, &err), 0);
	ck_assert_int_eq(mk_net_link_exists(s, b.host, &err), 0);
	ck_assert_int_eq(mk_net_link_exists(bs, "eth0", &err), 0);
	ck_ok(mk_net_veth_list(s, "mk0", &v, NULL, &err), &err);
	expect_strv(v, (const char *[]){ a.host }, 1);
	mk_strv_free(v);
	srv = echo_server_start(b.fd, "127.0.0.1", 8080); /* B still alive, unreachable */
	ck_assert_int_ne(tcp_probe(a.fd, b.ip, 8080, 500), 0);
	echo_server_stop(srv);
	ck_assert_int_eq(mk_net_ipam_release(ipam, b.uid, &err), 1);

	/* attaching A again replaces its pair and it works again */
	struct mk_net_pod_config c = { .id = a.uid, .netns_fd = a.fd, .bridge = "mk0",
				       .address = a.cidr, .gateway = gw };
	ck_ok(mk_net_pod_attach(s, &c, NULL, &err), &err);
	srv = echo_server_start(nfd, gw, 8083);
	ck_assert_int_eq(tcp_probe(a.fd, gw, 8083, 3000), 0);
	echo_server_stop(srv);
	/* a failing attach leaves no veth behind (bad gateway: unreachable) */
	struct mk_net_pod_config bad = { .id = "uid-bad", .netns_fd = b.fd, .bridge = "mk0",
					 .address = "10.244.1.9/24", .gateway = "192.0.2.1" };
	char badname[MK_NET_IFNAMSIZ];
	ck_assert_int_eq(mk_net_pod_attach(s, &bad, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err->msg, "uid-bad"));
	mk_error_free(&err);
	mk_net_veth_name("uid-bad", badname);
	ck_assert_int_eq(mk_net_link_exists(s, badname, &err), 0);
	ck_assert_int_eq(mk_net_link_exists(bs, "eth0", &err), 0);

	mk_net_sock_free(as);
	mk_net_sock_free(bs);
	mk_net_sock_free(s);
	mk_net_sock_free(host);
	mk_net_ipam_free(ipam);
	free(ipam_path);
	close(a.fd);
	close(b.fd);
	close(nfd);
	mk_net_netns_delete(g_run_dir, a.ns, NULL);
	mk_net_netns_delete(g_run_dir, b.ns, NULL);
	mk_net_netns_delete(g_run_dir, node, NULL);
}
END_TEST

/* Two nodes (namespaces) joined by a veth "wire", one pod each: pod traffic
 * crosses nodes through routes to the other node's pod CIDR, and only once
 * forwarding is enabled on both. */
START_TEST(test_cross_node)
{
	struct mk_error *err = NULL;
	char n1[64], n2[64], p1[64], p2[64];
	int f1 = make_netns("mkt-node1", n1), f2 = make_netns("mkt-node2", n2);
	int q1 = make_netns("mkt-pod1", p1), q2 = make_netns("mkt-pod2", p2);
	struct mk_net_sock *s1 = open_sock(f1), *s2 = open_sock(f2);
	pid_t srv;

	ck_ok(mk_net_bridge_ensure(s1, "mk0", "10.244.1.1/24", &err), &err);
	ck_ok(mk_net_bridge_ensure(s2, "mk0", "10.244.2.1/24", &err), &err);
	struct mk_net_veth_config wire = { .name = "up0", .peer_name = "up0", .peer_netns_fd = f2 };
	ck_ok(mk_net_veth_create(s1, &wire, &err), &err);
	ck_ok(mk_net_addr_add(s1, "up0", "192.168.200.1/30", &err), &err);
	ck_ok(mk_net_addr_add(s2, "up0", "192.168.200.2/30", &err), &err);
	ck_ok(mk_net_link_set_up(s2, "up0", &err), &err);
	ck_ok(mk_net_route_replace(s1, "10.244.2.0/24", "192.168.200.2", NULL, &err), &err);
	ck_ok(mk_net_route_replace(s2, "10.244.1.0/24", "192.168.200.1", "up0", &err), &err);
	struct mk_net_pod_config c1 = { .id = "x1", .netns_fd = q1, .bridge = "mk0",
					.address = "10.244.1.2/24", .gateway = "10.244.1.1" };
	struct mk_net_pod_config c2 = { .id = "x2", .netns_fd = q2, .bridge = "mk0",
					.address = "10.244.2.2/24", .gateway = "10.244.2.1" };
	ck_ok(mk_net_pod_attach(s1, &c1, NULL, &err), &err);
	ck_ok(mk_net_pod_attach(s2, &c2, NULL, &err), &err);

	srv = echo_server_start(q2, "10.244.2.2", 9000);
	/* new namespaces start with forwarding off: the first node drops the packet */
	ck_assert_int_ne(tcp_probe(q1, "10.244.2.2", 9000, 500), 0);
	ck_ok(mk_net_sysctl_write(f1, "net/ipv4/ip_forward", "1", &err), &err);
	ck_ok(mk_net_sysctl_write(f2, "net/ipv4/ip_forward", "1", &err), &err);
	ck_assert_int_eq(tcp_probe(q1, "10.244.2.2", 9000, 3000), 0);
	/* without the route back, replies cannot return */
	ck_assert_int_eq(mk_net_route_delete(s2, "10.244.1.0/24", &err), 1);
	ck_assert_int_ne(tcp_probe(q1, "10.244.2.2", 9000, 500), 0);
	ck_ok(mk_net_route_add(s2, "10.244.1.0/24", "192.168.200.1", NULL, &err), &err);
	ck_assert_int_eq(tcp_probe(q1, "10.244.2.2", 9000, 3000), 0);
	echo_server_stop(srv);

	mk_net_sock_free(s1);
	mk_net_sock_free(s2);
	close(f1);
	close(f2);
	close(q1);
	close(q2);
	mk_net_netns_delete(g_run_dir, n1, NULL);
	mk_net_netns_delete(g_run_dir, n2, NULL);
	mk_net_netns_delete(g_run_dir, p1, NULL);
	mk_net_netns_delete(g_run_dir, p2, NULL);
}
END_TEST

Suite *link_suite(void)
{
	Suite *s = suite_create("link");
	TCase *tc = tcase_create("link");

	tcase_add_unchecked_fixture(tc, net_fixture_setup, net_fixture_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bridge_ensure);
	tcase_add_test(tc, test_veth_and_routes);
	tcase_add_test(tc, test_veth_name);
	tcase_add_test(tc, test_pod_traffic);
	tcase_add_test(tc, test_cross_node);
	suite_add_tcase(s, tc);
	return s;
}
