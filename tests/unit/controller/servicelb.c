/* The servicelb controller against a real API server: node-address mode (the
 * Ready nodes' InternalIPs, a port already served by an older service stays
 * pending, loadBalancerClass left alone, type change clears the status) and pool
 * mode (spec.loadBalancerIP honoured, lowest free address otherwise, a full pool
 * leaves the service pending until an address is released, the holder node
 * moves when it goes NotReady). */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/proxy.h"
#include "fixture.h"

static void node(const char *name, const char *ip, bool ready)
{
	char *path = mk_strdup_printf("/api/v1/nodes/%s/status", name);
	char *j = mk_strdup_printf("{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"%s\"},"
				   "{\"type\":\"Hostname\",\"address\":\"%s\"}],"
				   "\"conditions\":[{\"type\":\"Ready\",\"status\":\"%s\"}]}}",
				   ip, name, ready ? "True" : "False");
	fx_patch(path, j);
	free(j);
	free(path);
}

static void lbsvc(const char *name, int port, const char *extra)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"%s\"},"
				   "\"spec\":{\"type\":\"LoadBalancer\",\"selector\":{\"app\":\"x\"},"
				   "\"ports\":[{\"port\":%d}]%s}}",
				   name, port, extra ? extra : "");
	fx_create("/api/v1/namespaces/default/services", j);
	free(j);
}

/* "ip,ip" of status.loadBalancer.ingress ("" without) */
static char *ingress(const cJSON *svc)
{
	struct mk_buf b;
	mk_buf_init(&b);
	const cJSON *e;
	mk_buf_printf(&b, "%s", "");
	cJSON_ArrayForEach(e, mk_json_get(svc, "status.loadBalancer.ingress"))
	{
		mk_buf_printf(&b, "%s%s", b.len ? "," : "", mk_json_get_string(e, "ip"));
	}
	return mk_buf_steal(&b);
}

static bool ingress_is(const cJSON *svc, const void *want)
{
	if (!svc)
		return false;
	char *got = ingress(svc);
	bool ok = !strcmp(got, want);
	free(got);
	return ok;
}

static const char *holder(const cJSON *svc)
{
	return cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(mk_json_get(svc, "metadata.annotations"), MK_SERVICELB_NODE_ANN));
}

static bool held_by(const cJSON *svc, const void *want)
{
	const char *h = svc ? holder(svc) : NULL;
	return want ? h && !strcmp(h, want) : svc && !h;
}

static bool has_holder(const cJSON *svc, const void *unused)
{
	return svc && holder(svc);
}

static int json_num(const cJSON *o, const char *path)
{
	const cJSON *v = mk_json_get(o, path);
	return cJSON_IsNumber(v) ? v->valueint : -1;
}

#define SVC(n) "/api/v1/namespaces/default/services/" n

START_TEST(test_node_addresses)
{
	fx_node("n1", NULL, NULL);
	fx_node("n2", NULL, NULL);
	node("n1", "10.0.0.2", true);
	node("n2", "10.0.0.1", true);
	lbsvc("a", 80, NULL);
	cJSON *s = fx_wait(SVC("a"), ingress_is, "10.0.0.1,10.0.0.2", "both nodes' addresses, sorted");
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(s, "status.loadBalancer.ingress"), 0),
					    "ipMode"),
			 "VIP");
	ck_assert_ptr_null(holder(s));
	cJSON_Delete(s);
	/* a node goes NotReady: its address leaves */
	node("n2", "10.0.0.1", false);
	cJSON_Delete(fx_wait(SVC("a"), ingress_is, "10.0.0.2", "only the Ready node"));
	node("n2", "10.0.0.1", true);
	cJSON_Delete(fx_wait(SVC("a"), ingress_is, "10.0.0.1,10.0.0.2", "back"));
	/* port 80 is taken on the node addresses: b waits; c on 81 does not */
	lbsvc("b", 80, NULL);
	lbsvc("c", 81, NULL);
	cJSON_Delete(fx_wait(SVC("c"), ingress_is, "10.0.0.1,10.0.0.2", "c on another port"));
	s = fx_get(SVC("b"));
	ck_assert(ingress_is(s, ""));
	cJSON_Delete(s);
	/* another implementation's class: left alone */
	lbsvc("d", 82, ",\"loadBalancerClass\":\"example.com/lb\"");
	/* a gets a ClusterIP type (the node ports and LoadBalancer fields go with
	 * the old type, as kube-apiserver drops them): its status is cleared and b
	 * takes port 80 */
	fx_patch(SVC("a"), "{\"spec\":{\"type\":\"ClusterIP\"}}");
	cJSON_Delete(fx_wait(SVC("a"), ingress_is, "", "a cleared"));
	cJSON_Delete(fx_wait(SVC("b"), ingress_is, "10.0.0.1,10.0.0.2", "b gets the nodes"));
	s = fx_get(SVC("d"));
	ck_assert(ingress_is(s, ""));
	cJSON_Delete(s);
	/* a ClusterIP service made a LoadBalancer: node port allocated, addresses */
	fx_create("/api/v1/namespaces/default/services",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"e\"},"
		  "\"spec\":{\"selector\":{\"app\":\"x\"},\"ports\":[{\"port\":83}]}}");
	fx_patch(SVC("e"), "{\"spec\":{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Local\"}}");
	s = fx_wait(SVC("e"), ingress_is, "10.0.0.1,10.0.0.2", "e gets the nodes");
	int np = json_num(cJSON_GetArrayItem(mk_json_get(s, "spec.ports"), 0), "nodePort");
	int hc = json_num(s, "spec.healthCheckNodePort");
	ck_assert_int_ge(np, 30000);
	ck_assert_int_le(np, 32767);
	ck_assert_int_ge(hc, 30000);
	ck_assert_int_ne(hc, np);
	cJSON_Delete(s);
}
END_TEST

START_TEST(test_pool)
{
	fx_node("n1", NULL, NULL);
	fx_node("n2", NULL, NULL);
	node("n1", "10.0.0.2", true);
	node("n2", "10.0.0.1", true);
	/* a /29: .1 to .6 usable */
	lbsvc("p", 80, ",\"loadBalancerIP\":\"10.1.0.5\"");
	cJSON_Delete(fx_wait(SVC("p"), ingress_is, "10.1.0.5", "the requested address"));
	cJSON *s = fx_wait(SVC("p"), has_holder, NULL, "a holder node");
	const char *h = holder(s);
	ck_assert(h && (!strcmp(h, "n1") || !strcmp(h, "n2")));
	char *first = mk_strdup(h);
	cJSON_Delete(s);
	lbsvc("q", 80, ",\"loadBalancerIP\":\"10.9.9.9\""); /* outside the pool: ignored */
	cJSON_Delete(fx_wait(SVC("q"), ingress_is, "10.1.0.1", "the lowest free address"));
	lbsvc("r", 80, ",\"loadBalancerIP\":\"10.1.0.5\""); /* taken: the next free one */
	cJSON_Delete(fx_wait(SVC("r"), ingress_is, "10.1.0.2", "the next free one"));
	lbsvc("s3", 80, NULL);
	lbsvc("s4", 80, NULL);
	lbsvc("s6", 80, NULL);
	cJSON_Delete(fx_wait(SVC("s6"), ingress_is, "10.1.0.6", "the last one"));
	lbsvc("full", 80, NULL);
	s = fx_get(SVC("full"));
	ck_assert(ingress_is(s, ""));
	cJSON_Delete(s);
	/* deleting q releases 10.1.0.1 to the waiting service */
	ck_assert_int_eq(mk_client_delete(fx_cli, SVC("q"), NULL, NULL, NULL), 0);
	cJSON_Delete(fx_wait(SVC("full"), ingress_is, "10.1.0.1", "the released address"));
	/* the holder of p goes NotReady: the other node holds it; no Ready node: none */
	const char *other = strcmp(first, "n1") ? "n1" : "n2";
	node(first, strcmp(first, "n1") ? "10.0.0.1" : "10.0.0.2", false);
	cJSON_Delete(fx_wait(SVC("p"), held_by, other, "the holder moves"));
	node(other, strcmp(other, "n1") ? "10.0.0.1" : "10.0.0.2", false);
	cJSON_Delete(fx_wait(SVC("p"), held_by, NULL, "no Ready node holds it"));
	s = fx_get(SVC("p"));
	ck_assert(ingress_is(s, "10.1.0.5")); /* the address stays allocated */
	cJSON_Delete(s);
	free(first);
}
END_TEST

static void setup_pool(void)
{
	struct mk_controllers_options o = { .workers = 2, .lb_pool = "10.1.0.0/29" };
	fx_setup_controllers_with(&o);
}

Suite *servicelb_suite(void)
{
	Suite *s = suite_create("servicelb");
	TCase *tc = tcase_create("nodes");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_node_addresses);
	suite_add_tcase(s, tc);
	tc = tcase_create("pool");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup_pool, fx_teardown);
	tcase_add_test(tc, test_pool);
	suite_add_tcase(s, tc);
	return s;
}
