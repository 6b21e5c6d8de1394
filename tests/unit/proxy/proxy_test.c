/* pkg/proxy unit tests: the JSON model, and the batches a change produces
 * (dry-run proxies: batches are built and counted, nothing is sent). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/proxy.h"

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	ck_assert_ptr_nonnull(j);
	return j;
}

static uint32_t ip(const char *s)
{
	struct in_addr a;
	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

START_TEST(model_basic)
{
	cJSON *svc = J("{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"type\":\"NodePort\","
		       "\"clusterIP\":\"10.96.0.10\",\"sessionAffinity\":\"ClientIP\",\"ports\":["
		       "{\"name\":\"http\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080},"
		       "{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}]}}");
	cJSON *ep = J("{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.3\"},{\"ip\":\"10.244.1.2\"}],"
		      "\"notReadyAddresses\":[{\"ip\":\"10.244.1.9\"}],"
		      "\"ports\":[{\"name\":\"http\",\"port\":8080},{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"}]},"
		      "{\"addresses\":[{\"ip\":\"10.244.1.2\"},{\"ip\":\"fd00::1\"}],\"ports\":[{\"name\":\"http\",\"port\":8080}]}]}");
	struct mk_proxy_service *s = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_proxy_service_from_json(svc, ep, &s, &err), 0);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->key, "default/web");
	ck_assert_uint_eq(s->cluster_ip, ip("10.96.0.10"));
	ck_assert_uint_eq(s->affinity_timeout, 10800);
	ck_assert_uint_eq(s->n_ports, 2);
	ck_assert_uint_eq(s->ports[0].protocol, IPPROTO_TCP);
	ck_assert_uint_eq(s->ports[0].node_port, 30080);
	/* sorted, deduplicated, not-ready and IPv6 left out */
	ck_assert_uint_eq(s->ports[0].n_endpoints, 2);
	ck_assert_uint_eq(s->ports[0].endpoints[0].ip, ip("10.244.1.2"));
	ck_assert_uint_eq(s->ports[0].endpoints[1].ip, ip("10.244.1.3"));
	ck_assert_uint_eq(s->ports[0].endpoints[0].port, 8080);
	ck_assert_uint_eq(s->ports[1].protocol, IPPROTO_UDP);
	ck_assert_uint_eq(s->ports[1].n_endpoints, 2);
	ck_assert_uint_eq(s->ports[1].endpoints[0].port, 5353);
	struct mk_proxy_service *d = mk_proxy_service_dup(s);
	ck_assert(mk_proxy_service_equal(s, d));
	d->ports[1].endpoints[0].port = 1;
	ck_assert(!mk_proxy_service_equal(s, d));
	mk_proxy_service_free(d);
	mk_proxy_service_free(s);
	cJSON_Delete(svc);
	cJSON_Delete(ep);
}
END_TEST

START_TEST(model_not_proxied_and_bad)
{
	struct mk_proxy_service *s = (void *)1;
	struct mk_error *err = NULL;
	cJSON *headless = J("{\"metadata\":{\"name\":\"h\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}}");
	ck_assert_int_eq(mk_proxy_service_from_json(headless, NULL, &s, &err), 0);
	ck_assert_ptr_null(s);
	cJSON *ext = J("{\"metadata\":{\"name\":\"e\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"x.org\"}}");
	ck_assert_int_eq(mk_proxy_service_from_json(ext, NULL, &s, &err), 0);
	ck_assert_ptr_null(s);
	cJSON *bad = J("{\"metadata\":{\"name\":\"b\"},\"spec\":{\"clusterIP\":\"10.96.0.3\",\"ports\":[{\"port\":70000}]}}");
	ck_assert_int_eq(mk_proxy_service_from_json(bad, NULL, &s, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	cJSON *badproto = J("{\"metadata\":{\"name\":\"b\"},\"spec\":{\"clusterIP\":\"10.96.0.3\",\"ports\":[{\"port\":7,\"protocol\":\"ICMP\"}]}}");
	ck_assert_int_eq(mk_proxy_service_from_json(badproto, NULL, &s, &err), -1);
	mk_error_free(&err);
	/* no endpoints: the port is there with 0 endpoints (rejected) */
	cJSON *noep = J("{\"metadata\":{\"name\":\"z\",\"namespace\":\"n\"},\"spec\":{\"clusterIP\":\"10.96.0.4\",\"ports\":[{\"port\":80}],"
			"\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":60}}}}");
	ck_assert_int_eq(mk_proxy_service_from_json(noep, NULL, &s, &err), 0);
	ck_assert_uint_eq(s->ports[0].n_endpoints, 0);
	ck_assert_uint_eq(s->affinity_timeout, 60);
	mk_proxy_service_free(s);
	cJSON_Delete(headless);
	cJSON_Delete(ext);
	cJSON_Delete(bad);
	cJSON_Delete(badproto);
	cJSON_Delete(noep);
}
END_TEST

static struct mk_proxy_service *synth(size_t i, size_t n, uint32_t first_ep)
{
	struct mk_proxy_service *s = mk_malloc0(sizeof(*s));
	s->key = mk_strdup_printf("ns/s%zu", i);
	s->cluster_ip = htonl(0x0a600000u + 1 + (uint32_t)i);
	s->n_ports = 1;
	s->ports = mk_malloc0(sizeof(*s->ports));
	s->ports[0].name = mk_strdup("");
	s->ports[0].protocol = IPPROTO_TCP;
	s->ports[0].port = 80;
	s->ports[0].n_endpoints = n;
	s->ports[0].endpoints = mk_malloc0((n ? n : 1) * sizeof(struct mk_proxy_endpoint));
	for (size_t j = 0; j < n; j++)
		s->ports[0].endpoints[j] = (struct mk_proxy_endpoint){ htonl(0x0af40000u + first_ep + (uint32_t)j), 8080 };
	return s;
}

static struct mk_proxy *dry(void)
{
	struct mk_proxy_options o = { .netns_fd = -1, .dry_run = true, .cluster_cidr = "10.244.0.0/16", .bridge = "mk0" };
	struct mk_proxy *p = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_proxy_new(&o, &p, &err), 0);
	return p;
}

START_TEST(batch_counts_at_10k)
{
	struct mk_proxy *p = dry();
	struct mk_error *err = NULL;
	struct mk_proxy_desired d;
	mk_proxy_desired_init(&d);
	for (size_t i = 0; i < 10000; i++)
		mk_proxy_desired_add(&d, synth(i, 3, (uint32_t)i * 3 + 2));
	ck_assert_int_eq(mk_proxy_sync_full(p, &d, &err), 0);
	const struct mk_proxy_stats *st = mk_proxy_last_stats(p);
	ck_assert_uint_eq(st->elems_added, 10000 + 30000); /* vmap + endpoints */
	ck_assert_uint_eq(st->chains_added, 6 + 1);	   /* static + one lb_3 */
	ck_assert_uint_lt(st->messages, 200);
	ck_assert_uint_eq(mk_proxy_service_count(p), 10000);

	/* one endpoint replaced: the slot is rewritten, nothing else */
	struct mk_proxy_service *s = synth(5000, 3, 200000);
	s->ports[0].endpoints[0] = d.services[5000]->ports[0].endpoints[0];
	s->ports[0].endpoints[1] = d.services[5000]->ports[0].endpoints[1];
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->elems_added, 1);
	ck_assert_uint_eq(st->messages, 2);
	ck_assert_uint_eq(st->chains_added, 0);
	mk_proxy_service_free(s);

	/* one endpoint removed: last slot moves into the hole, dispatch -> lb_2 (new chain) */
	s = synth(6000, 3, 6000 * 3 + 2);
	s->ports[0].endpoints[0] = s->ports[0].endpoints[2];
	s->ports[0].n_endpoints = 2;
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_le(st->elems_deleted, 3);
	ck_assert_uint_le(st->elems_added, 2);
	ck_assert_uint_eq(st->chains_added, 1);
	ck_assert_uint_eq(st->chains_deleted, 0);
	ck_assert_uint_le(st->messages, 8);
	ck_assert_uint_lt(st->bytes, 2048);
	mk_proxy_service_free(s);

	/* back to 3: lb_2 has no user any more and is deleted in the same batch */
	s = synth(6000, 3, 6000 * 3 + 2);
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_eq(st->chains_deleted, 1);
	ck_assert_uint_eq(st->elems_added, 2); /* the endpoint + the vmap element */
	mk_proxy_service_free(s);

	/* no change: no batch */
	s = synth(6000, 3, 6000 * 3 + 2);
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_eq(st->messages, 0);
	mk_proxy_service_free(s);

	/* delete a service: its 1 + 3 elements */
	ck_assert_int_eq(mk_proxy_apply_change(p, "ns/s7", NULL, &err), 0);
	ck_assert_uint_eq(st->elems_deleted, 4);
	ck_assert_uint_eq(mk_proxy_service_count(p), 9999);
	mk_proxy_desired_release(&d);
	mk_proxy_free(p);
}
END_TEST

START_TEST(batch_zero_and_affinity)
{
	struct mk_proxy *p = dry();
	struct mk_error *err = NULL;
	struct mk_proxy_desired d;
	mk_proxy_desired_init(&d);
	struct mk_proxy_service *a = synth(1, 2, 10);
	a->affinity_timeout = 30;
	a->ports[0].node_port = 30001;
	mk_proxy_desired_add(&d, a);
	mk_proxy_desired_add(&d, synth(2, 0, 0));
	ck_assert_int_eq(mk_proxy_sync_full(p, &d, &err), 0);
	const struct mk_proxy_stats *st = mk_proxy_last_stats(p);
	/* a: svc + np + 2x2 ep + 2x2 epset; empty service: one vmap element -> reject */
	ck_assert_uint_eq(st->elems_added, 2 + 4 + 4 + 1);
	ck_assert_uint_eq(st->chains_added, 6 + 2); /* lba_2_30, npa_2_30 */
	/* the empty service gets an endpoint */
	struct mk_proxy_service *s = synth(2, 1, 50);
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_eq(st->elems_added, 2);
	ck_assert_uint_eq(st->elems_deleted, 1);
	mk_proxy_service_free(s);
	/* ClientIP affinity with a 60 s timeout: lb_1 gives way to lba_1_60 */
	s = synth(2, 1, 50);
	s->affinity_timeout = 60;
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_eq(st->chains_added, 1);
	ck_assert_uint_eq(st->chains_deleted, 1);
	ck_assert_uint_eq(st->elems_added, 1 + 1 + 1); /* endpoint, epset, vmap */
	mk_proxy_service_free(s);
	/* key mismatch is refused */
	s = synth(3, 1, 50);
	ck_assert_int_eq(mk_proxy_apply_change(p, "ns/other", s, &err), -1);
	mk_error_free(&err);
	mk_proxy_service_free(s);
	/* duplicate frontends in a full sync: the later port is skipped, not fatal */
	struct mk_proxy_service *dup = synth(1, 1, 99);
	free(dup->key);
	dup->key = mk_strdup("ns/dup");
	mk_proxy_desired_add(&d, dup);
	ck_assert_int_eq(mk_proxy_sync_full(p, &d, &err), 0);
	mk_proxy_desired_release(&d);
	mk_proxy_free(p);
}
END_TEST

/* LoadBalancer ingress addresses, the Local traffic policies and the health
 * check port, for the proxy of node n1 */
START_TEST(model_lb_local)
{
	cJSON *svc = J("{\"metadata\":{\"namespace\":\"d\",\"name\":\"lb\"},\"spec\":{\"type\":\"LoadBalancer\","
		       "\"clusterIP\":\"10.96.0.20\",\"externalTrafficPolicy\":\"Local\",\"internalTrafficPolicy\":\"Local\","
		       "\"healthCheckNodePort\":31000,\"ports\":[{\"port\":80,\"nodePort\":30080}]},"
		       "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.168.1.12\",\"ipMode\":\"VIP\"},"
		       "{\"ip\":\"192.168.1.11\"},{\"hostname\":\"x.example\"},{\"ip\":\"192.168.1.14\",\"ipMode\":\"Proxy\"},{\"ip\":\"192.168.1.12\"},{\"ip\":\"fd00::1\"}]}}}");
	cJSON *ep = J("{\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.3\",\"nodeName\":\"n1\"},"
		      "{\"ip\":\"10.244.2.3\",\"nodeName\":\"n2\"},{\"ip\":\"10.244.1.2\",\"nodeName\":\"n1\"}],"
		      "\"notReadyAddresses\":[{\"ip\":\"10.244.1.9\",\"nodeName\":\"n1\"}],\"ports\":[{\"port\":8080}]}]}");
	struct mk_proxy_service *s = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_proxy_service_from_json_node(svc, ep, "n1", &s, &err), 0);
	ck_assert_uint_eq(s->n_lb_ips, 2); /* IPv4 only, sorted, once each */
	ck_assert_uint_eq(s->lb_ips[0], ip("192.168.1.11"));
	ck_assert_uint_eq(s->lb_ips[1], ip("192.168.1.12"));
	ck_assert(s->ext_local);
	ck_assert(s->int_local);
	ck_assert_uint_eq(s->health_port, 31000);
	ck_assert_uint_eq(s->ports[0].n_endpoints, 3);
	ck_assert_uint_eq(s->ports[0].n_local, 2);
	ck_assert_uint_eq(s->ports[0].local[0].ip, ip("10.244.1.2"));
	ck_assert_uint_eq(mk_proxy_service_local_count(s), 2);
	struct mk_proxy_service *d = mk_proxy_service_dup(s);
	ck_assert(mk_proxy_service_equal(s, d));
	d->lb_ips[1] = ip("192.168.1.13");
	ck_assert(!mk_proxy_service_equal(s, d));
	mk_proxy_service_free(d);
	mk_proxy_service_free(s);
	/* node n3 has none of them */
	ck_assert_int_eq(mk_proxy_service_from_json_node(svc, ep, "n3", &s, &err), 0);
	ck_assert_uint_eq(s->ports[0].n_local, 0);
	ck_assert_uint_eq(mk_proxy_service_local_count(s), 0);
	mk_proxy_service_free(s);
	/* without a node nothing is local, so the policies are not applied */
	ck_assert_int_eq(mk_proxy_service_from_json(svc, ep, &s, &err), 0);
	ck_assert(!s->ext_local && !s->int_local);
	mk_proxy_service_free(s);
	/* a ClusterIP service has no LB addresses, whatever its status says */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(svc, "spec"), "type", cJSON_CreateString("ClusterIP"));
	ck_assert_int_eq(mk_proxy_service_from_json_node(svc, ep, "n1", &s, &err), 0);
	ck_assert_uint_eq(s->n_lb_ips, 0);
	ck_assert(!s->ext_local);
	ck_assert_uint_eq(s->health_port, 0);
	mk_proxy_service_free(s);
	cJSON_Delete(svc);
	cJSON_Delete(ep);
}
END_TEST

/* s0 with endpoints .1 (local) and .2, a NodePort and two LB addresses */
static struct mk_proxy_service *lbsvc(bool ext_local, size_t n_lb, size_t n_local)
{
	struct mk_proxy_service *s = synth(0, 2, 1);
	s->ports[0].node_port = 30080;
	s->ports[0].n_local = n_local;
	s->ports[0].local = mk_malloc0(sizeof(struct mk_proxy_endpoint));
	s->ports[0].local[0] = s->ports[0].endpoints[0];
	s->ext_local = ext_local;
	s->n_lb_ips = n_lb;
	s->lb_ips = mk_malloc0(3 * sizeof(uint32_t));
	s->lb_ips[0] = ip("192.168.1.11");
	s->lb_ips[1] = ip("192.168.1.12");
	s->lb_ips[2] = ip("192.168.1.13");
	return s;
}

START_TEST(batch_lb_and_local)
{
	struct mk_proxy *p = dry();
	struct mk_error *err = NULL;
	struct mk_proxy_desired d;
	mk_proxy_desired_init(&d);
	mk_proxy_desired_add(&d, lbsvc(false, 2, 1));
	ck_assert_int_eq(mk_proxy_sync_full(p, &d, &err), 0);
	const struct mk_proxy_stats *st = mk_proxy_last_stats(p);
	/* 4 frontends (clusterIP, NodePort, 2 LB) x (2 endpoints + 1 vmap) */
	ck_assert_uint_eq(st->elems_added, 4 * 3);
	ck_assert_uint_eq(st->chains_added, 6 + 3); /* lb_2, np_2, xl_2 (marked) */
	mk_proxy_desired_release(&d);

	/* Local: the external frontends get the local endpoint only, unmarked chains */
	struct mk_proxy_service *s = lbsvc(true, 2, 1);
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	/* the port changed frontends: re-added, the external ones with 1 endpoint,
	 * each with a twin for traffic from inside with both (in the scv map) */
	ck_assert_uint_eq(st->elems_added, 3 + 3 * 2 + 3 * 3);
	ck_assert_uint_eq(st->elems_deleted, 4 * 3);
	/* lb_2 again (port re-added), nl_1, lb_1, the twins' scz_2 and sc_2 */
	ck_assert_uint_eq(st->chains_added, 5);
	ck_assert_uint_eq(st->chains_deleted, 3); /* lb_2, np_2, xl_2 */
	mk_proxy_service_free(s);

	/* the local endpoint goes away: the external frontends drop (vmap -> drop),
	 * their twins keep both endpoints */
	s = lbsvc(true, 2, 0);
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_eq(st->elems_deleted, 3 + 3); /* endpoints, vmap elements */
	ck_assert_uint_eq(st->elems_added, 3);	     /* vmap elements to drop */
	ck_assert_uint_eq(st->chains_deleted, 2);    /* nl_1, lb_1 */
	mk_proxy_service_free(s);

	/* a third LB address: only the port's frontends change */
	s = lbsvc(true, 3, 1);
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	ck_assert_uint_eq(st->elems_added, 3 + 4 * 2 + 4 * 3);
	mk_proxy_service_free(s);
	ck_assert_uint_eq(mk_proxy_service_count(p), 1);

	/* internalTrafficPolicy Local with endpoints elsewhere only: clusterIP drops */
	s = lbsvc(true, 3, 0);
	s->int_local = true;
	ck_assert_int_eq(mk_proxy_apply_change(p, s->key, s, &err), 0);
	mk_proxy_service_free(s);
	ck_assert_int_eq(mk_proxy_apply_change(p, "ns/s0", NULL, &err), 0);
	/* 5 vmap elements (clusterIP, NodePort, 3 LB), 4 twins' (2 endpoints + vmap) */
	ck_assert_uint_eq(st->elems_deleted, 5 + 4 * 3);
	ck_assert_uint_eq(mk_proxy_service_count(p), 0);

	/* two services on one LB address and port in a full sync: the later is skipped */
	mk_proxy_desired_init(&d);
	mk_proxy_desired_add(&d, lbsvc(false, 1, 1));
	struct mk_proxy_service *o = synth(1, 1, 9);
	o->n_lb_ips = 1;
	o->lb_ips = mk_malloc0(sizeof(uint32_t));
	o->lb_ips[0] = ip("192.168.1.11");
	mk_proxy_desired_add(&d, o);
	ck_assert_int_eq(mk_proxy_sync_full(p, &d, &err), 0);
	ck_assert_uint_eq(st->elems_added, 3 * 3);
	mk_proxy_desired_release(&d);
	mk_proxy_free(p);
}
END_TEST

TCase *socklb_tcase(void); /* socklb_test.c */

int main(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("model");
	tcase_add_test(tc, model_basic);
	tcase_add_test(tc, model_not_proxied_and_bad);
	tcase_add_test(tc, model_lb_local);
	suite_add_tcase(s, tc);
	tc = tcase_create("batch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, batch_counts_at_10k);
	tcase_add_test(tc, batch_zero_and_affinity);
	tcase_add_test(tc, batch_lb_and_local);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, socklb_tcase());
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
