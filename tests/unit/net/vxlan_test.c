/* VXLAN links, permanent neighbours and FDB entries (flannel's vxlan backend state),
 * onlink routes, the address owner lookup and the link kind probe, on real links
 * inside namespaces of their own; and TCP between two namespaces through the
 * tunnel only. */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include "helpers.h"

/* a veth pair in one namespace standing in for the underlay: NAME with ADDR */
static void underlay(struct mk_net_sock *s, int fd, const char *name, const char *peer_name,
		     int peer_fd, const char *addr, const char *peer_addr,
		     struct mk_net_sock *ps)
{
	struct mk_error *err = NULL;
	struct mk_net_veth_config vc = { .name = name, .peer_name = peer_name,
					 .peer_netns_fd = peer_fd };
	ck_ok(mk_net_veth_create(s, &vc, &err), &err);
	ck_ok(mk_net_addr_add(s, name, addr, &err), &err);
	ck_ok(mk_net_link_set_up(s, name, &err), &err);
	if (ps) {
		ck_ok(mk_net_addr_add(ps, peer_name, peer_addr, &err), &err);
		ck_ok(mk_net_link_set_up(ps, peer_name, &err), &err);
	}
	(void)fd;
}

static int count_entry(const struct mk_net_neigh *v, size_t n, const char *ip, const char *mac)
{
	int c = 0;
	for (size_t i = 0; i < n; i++)
		c += !strcmp(v[i].ip, ip) && !strcmp(v[i].mac, mac);
	return c;
}

START_TEST(test_vxlan_state)
{
	struct mk_error *err = NULL;
	char node[64], mac[MK_NET_MAC_STRLEN], mac2[MK_NET_MAC_STRLEN], ifname[MK_NET_IFNAMSIZ];
	int nfd = make_netns("mkt-vx", node);
	struct mk_net_sock *s = open_sock(nfd);
	struct mk_net_neigh *v = NULL;
	size_t n = 0;
	unsigned mtu = 0;
	int prefix = 0;

	underlay(s, nfd, "ul0", "ul1", -1, "192.168.210.1/24", NULL, NULL);
	ck_ok(mk_net_addr_owner(s, "192.168.210.1", ifname, &prefix, &mtu, &err), &err);
	ck_assert_str_eq(ifname, "ul0");
	ck_assert_int_eq(prefix, 24);
	ck_assert_uint_eq(mtu, 1500);
	ck_assert_int_lt(mk_net_addr_owner(s, "192.168.210.9", NULL, NULL, NULL, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);

	struct mk_net_vxlan_config c = { .name = "mk-vxlan", .vni = 1, .port = 8472,
					 .local = "192.168.210.1", .dev = "ul0", .mtu = 1450 };
	ck_ok(mk_net_vxlan_ensure(s, &c, mac, &err), &err);
	ck_assert_int_eq(strlen(mac), 17);
	ck_ok(mk_net_addr_owner(s, "192.168.210.1", NULL, NULL, NULL, &err), &err);
	/* idempotent: the same link, the same MAC */
	ck_ok(mk_net_vxlan_ensure(s, &c, mac2, &err), &err);
	ck_assert_str_eq(mac, mac2);
	/* another local address: made again */
	ck_ok(mk_net_addr_add(s, "ul0", "192.168.210.2/24", &err), &err);
	c.local = "192.168.210.2";
	ck_ok(mk_net_vxlan_ensure(s, &c, mac2, &err), &err);
	ck_assert_str_ne(mac, mac2);
	/* bad settings */
	struct mk_net_vxlan_config bad = c;
	bad.vni = 0;
	ck_assert_int_lt(mk_net_vxlan_ensure(s, &bad, NULL, &err), 0);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);

	/* neighbours */
	ck_ok(mk_net_neigh_replace(s, "mk-vxlan", "10.244.2.0", "02:00:00:00:02:00", &err), &err);
	ck_ok(mk_net_neigh_replace(s, "mk-vxlan", "10.244.2.0", "02:00:00:00:02:01", &err), &err);
	ck_ok(mk_net_neigh_replace(s, "mk-vxlan", "10.244.3.0", "02:00:00:00:03:00", &err), &err);
	ck_ok(mk_net_neigh_list(s, "mk-vxlan", &v, &n, &err), &err);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(count_entry(v, n, "10.244.2.0", "02:00:00:00:02:01"), 1);
	ck_assert_int_eq(count_entry(v, n, "10.244.3.0", "02:00:00:00:03:00"), 1);
	free(v);
	ck_assert_int_eq(mk_net_neigh_delete(s, "mk-vxlan", "10.244.3.0", &err), 1);
	ck_assert_int_eq(mk_net_neigh_delete(s, "mk-vxlan", "10.244.3.0", &err), 0);
	ck_assert_int_lt(mk_net_neigh_replace(s, "mk-vxlan", "10.244.4.0", "zz", &err), 0);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);

	/* FDB */
	ck_ok(mk_net_fdb_replace(s, "mk-vxlan", "02:00:00:00:02:01", "172.31.2.10", &err), &err);
	ck_ok(mk_net_fdb_replace(s, "mk-vxlan", "02:00:00:00:03:00", "172.31.3.10", &err), &err);
	ck_ok(mk_net_fdb_list(s, "mk-vxlan", &v, &n, &err), &err);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(count_entry(v, n, "172.31.2.10", "02:00:00:00:02:01"), 1);
	ck_assert_int_eq(count_entry(v, n, "172.31.3.10", "02:00:00:00:03:00"), 1);
	free(v);
	ck_assert_int_eq(mk_net_fdb_delete(s, "mk-vxlan", "02:00:00:00:03:00", "172.31.3.10", &err), 1);
	ck_assert_int_eq(mk_net_fdb_delete(s, "mk-vxlan", "02:00:00:00:03:00", "172.31.3.10", &err), 0);
	ck_ok(mk_net_fdb_list(s, "mk-vxlan", &v, &n, &err), &err);
	ck_assert_uint_eq(n, 1);
	free(v);

	/* onlink route via an address of no subnet of the link */
	ck_assert_int_lt(mk_net_route_replace(s, "10.244.2.0/24", "10.244.2.0", "mk-vxlan", &err), 0);
	mk_error_free(&err);
	ck_ok(mk_net_route_replace_onlink(s, "10.244.2.0/24", "10.244.2.0", "mk-vxlan", &err), &err);
	struct mk_net_route *r = NULL;
	size_t nr = 0;
	int found = 0;
	ck_ok(mk_net_route_list(s, &r, &nr, &err), &err);
	for (size_t i = 0; i < nr; i++)
		found += !strcmp(r[i].dst, "10.244.2.0/24") && !strcmp(r[i].gw, "10.244.2.0") &&
			 !strcmp(r[i].ifname, "mk-vxlan");
	free(r);
	ck_assert_int_eq(found, 1);

	/* link kinds: a bridge needs no settings; wireguard may or may not exist */
	ck_assert_int_eq(mk_net_link_kind_supported(s, "bridge", &err), 1);
	int wg = mk_net_link_kind_supported(s, "wireguard", &err);
	ck_assert_msg(wg == 0 || wg == 1, "wireguard probe: %s", err ? err->msg : "?");
	ck_assert_int_eq(mk_net_link_kind_supported(s, "no-such-kind", &err), 0);
	ck_assert_int_eq(mk_net_link_exists(s, "mk-probe0", &err), 0);

	ck_assert_int_eq(mk_net_link_delete(s, "mk-vxlan", &err), 1);
	mk_net_sock_free(s);
	close(nfd);
	mk_net_netns_delete(g_run_dir, node, NULL);
}
END_TEST

/* two nodes, each with a VTEP address on mk-vxlan; TCP between the VTEP addresses
 * works through the static entries only (learning off: no FDB entry, no traffic) */
START_TEST(test_vxlan_traffic)
{
	struct mk_error *err = NULL;
	char n1[64], n2[64], m1[MK_NET_MAC_STRLEN], m2[MK_NET_MAC_STRLEN];
	int f1 = make_netns("mkt-vx1", n1), f2 = make_netns("mkt-vx2", n2);
	struct mk_net_sock *s1 = open_sock(f1), *s2 = open_sock(f2);

	underlay(s1, f1, "eth0", "eth0", f2, "192.168.211.1/24", "192.168.211.2/24", s2);
	struct mk_net_vxlan_config c1 = { .name = "mk-vxlan", .vni = 1, .port = 8472,
					  .local = "192.168.211.1", .dev = "eth0" };
	struct mk_net_vxlan_config c2 = c1;
	c2.local = "192.168.211.2";
	ck_ok(mk_net_vxlan_ensure(s1, &c1, m1, &err), &err);
	ck_ok(mk_net_vxlan_ensure(s2, &c2, m2, &err), &err);
	ck_ok(mk_net_addr_add(s1, "mk-vxlan", "10.244.1.0/32", &err), &err);
	ck_ok(mk_net_addr_add(s2, "mk-vxlan", "10.244.2.0/32", &err), &err);
	ck_ok(mk_net_route_replace_onlink(s1, "10.244.2.0/24", "10.244.2.0", "mk-vxlan", &err), &err);
	ck_ok(mk_net_route_replace_onlink(s2, "10.244.1.0/24", "10.244.1.0", "mk-vxlan", &err), &err);
	ck_ok(mk_net_neigh_replace(s1, "mk-vxlan", "10.244.2.0", m2, &err), &err);
	ck_ok(mk_net_neigh_replace(s2, "mk-vxlan", "10.244.1.0", m1, &err), &err);

	pid_t srv = echo_server_start(f2, "10.244.2.0", 9001);
	/* no FDB entries yet: the frames have nowhere to go */
	ck_assert_int_ne(tcp_probe(f1, "10.244.2.0", 9001, 500), 0);
	ck_ok(mk_net_fdb_replace(s1, "mk-vxlan", m2, "192.168.211.2", &err), &err);
	ck_ok(mk_net_fdb_replace(s2, "mk-vxlan", m1, "192.168.211.1", &err), &err);
	ck_assert_int_eq(tcp_probe(f1, "10.244.2.0", 9001, 3000), 0);
	echo_server_stop(srv);

	mk_net_sock_free(s1);
	mk_net_sock_free(s2);
	close(f1);
	close(f2);
	mk_net_netns_delete(g_run_dir, n1, NULL);
	mk_net_netns_delete(g_run_dir, n2, NULL);
}
END_TEST

Suite *vxlan_suite(void)
{
	Suite *s = suite_create("vxlan");
	TCase *tc = tcase_create("vxlan");

	tcase_add_unchecked_fixture(tc, net_fixture_setup, net_fixture_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vxlan_state);
	tcase_add_test(tc, test_vxlan_traffic);
	suite_add_tcase(s, tc);
	return s;
}
