/* The trace view (pkg/trace): Service + EndpointSlices + nodes' kernel dumps -> rows. */
#include <check.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "minik8s/trace.h"
#include "minik8s/util.h"

static const char *SVC =
	"{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
	"\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.20\",\"ports\":["
	"{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080},"
	"{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53,\"targetPort\":\"dns\"}]}}";

/* two slices: one pod ready on node1 serving both ports, one not ready on node2
 * (http only); a slice port of another name is not the service port's */
static const char *SLICES =
	"[{\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080},"
	"{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":5353}],"
	"\"endpoints\":[{\"addresses\":[\"10.244.1.5\"],\"nodeName\":\"node1\","
	"\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-a\"}}]},"
	"{\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080},"
	"{\"name\":\"other\",\"protocol\":\"UDP\",\"port\":53}],"
	"\"endpoints\":[{\"addresses\":[\"10.244.2.7\"],\"nodeName\":\"node2\","
	"\"conditions\":{\"ready\":false},\"targetRef\":{\"kind\":\"Pod\",\"name\":\"web-b\"}}]}]";

/* node1 programmed the ready endpoint (and counted), node2 the same with other
 * counts plus a stale element of another service port; node3 is unreachable */
static const char *NODES =
	"{\"node1\":{\"kernel\":{\"present\":true,"
	"\"frontends\":[{\"protocol\":\"TCP\",\"port\":80,\"chain\":\"lb_1\"},"
	"{\"protocol\":\"UDP\",\"port\":53,\"chain\":\"lb_1\"}],"
	"\"endpoints\":[{\"protocol\":\"TCP\",\"port\":80,\"index\":0,\"ip\":\"10.244.1.5\","
	"\"targetPort\":8080,\"connections\":7,\"activeConnections\":1},"
	"{\"protocol\":\"UDP\",\"port\":53,\"index\":0,\"ip\":\"10.244.1.5\",\"targetPort\":5353,"
	"\"connections\":2,\"activeConnections\":0}]},"
	"\"dns\":{\"server\":\"10.96.0.10\",\"rcode\":\"NOERROR\",\"answers\":[\"10.96.0.20\"]}},"
	"\"node2\":{\"kernel\":{\"present\":true,"
	"\"frontends\":[{\"protocol\":\"TCP\",\"port\":80,\"chain\":\"lb_1\"}],"
	"\"endpoints\":[{\"protocol\":\"TCP\",\"port\":80,\"index\":0,\"ip\":\"10.244.1.5\","
	"\"targetPort\":8080,\"connections\":5,\"activeConnections\":2},"
	"{\"protocol\":\"TCP\",\"port\":81,\"index\":0,\"ip\":\"10.244.1.5\","
	"\"targetPort\":8080,\"connections\":100}]}},"
	"\"node3\":{\"error\":\"agent unreachable\"}}";

/* a dotted path whose numeric segments index arrays */
static const cJSON *at(const cJSON *o, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	char *save = NULL;
	for (char *t = strtok_r(buf, ".", &save); t && o; t = strtok_r(NULL, ".", &save)) {
		if (*t >= '0' && *t <= '9')
			o = cJSON_GetArrayItem(o, atoi(t));
		else
			o = cJSON_GetObjectItemCaseSensitive(o, t);
	}
	return o;
}

static cJSON *build(const char *svc, const char *slices, const char *nodes)
{
	_cleanup_cjson_ cJSON *s = cJSON_Parse(svc);
	_cleanup_cjson_ cJSON *sl = slices ? cJSON_Parse(slices) : NULL;
	_cleanup_cjson_ cJSON *n = nodes ? cJSON_Parse(nodes) : NULL;
	ck_assert_ptr_nonnull(s);
	return mk_trace_build(s, sl, n);
}

static double num(const cJSON *o, const char *path)
{
	const cJSON *n = at(o, path);
	ck_assert_msg(cJSON_IsNumber(n), "%s is not a number", path);
	return n->valuedouble;
}

static const char *str(const cJSON *o, const char *path)
{
	const char *s = cJSON_IsString(at(o, path)) ? at(o, path)->valuestring : NULL;
	ck_assert_msg(s != NULL, "%s is not a string", path);
	return s;
}

START_TEST(rows_and_counters)
{
	_cleanup_cjson_ cJSON *v = build(SVC, SLICES, NODES);
	ck_assert_str_eq(str(v, "service.name"), "web");
	ck_assert_str_eq(str(v, "service.clusterIP"), "10.96.0.20");
	ck_assert_str_eq(str(v, "dnsName"), "web.shop.svc.cluster.local");
	/* the first node that asked its DNS */
	ck_assert_str_eq(str(v, "dns.node"), "node1");
	ck_assert_str_eq(str(v, "dns.answers.0"), "10.96.0.20");

	const cJSON *nodes = at(v, "nodes");
	ck_assert_int_eq(cJSON_GetArraySize(nodes), 3);
	ck_assert(cJSON_IsTrue(at(v, "nodes.0.reachable")));
	ck_assert(cJSON_IsTrue(at(v, "nodes.0.tablePresent")));
	ck_assert(cJSON_IsFalse(at(v, "nodes.2.reachable")));
	ck_assert_str_eq(str(v, "nodes.2.error"), "agent unreachable");

	const cJSON *http = at(v, "ports.0");
	ck_assert_str_eq(str(http, "name"), "http");
	ck_assert_int_eq((int)num(http, "nodePort"), 30080);
	ck_assert_int_eq(cJSON_GetArraySize(at(http, "frontends")), 2);
	ck_assert_str_eq(str(http, "frontends.1.node"), "node2");
	ck_assert_int_eq(cJSON_GetArraySize(at(http, "endpoints")), 2);
	/* the ready endpoint: counters summed over node1 and node2, not the port 81 one */
	const cJSON *a = at(http, "endpoints.0");
	ck_assert_str_eq(str(a, "pod"), "web-a");
	ck_assert_str_eq(str(a, "node"), "node1");
	ck_assert_int_eq((int)num(a, "port"), 8080);
	ck_assert(cJSON_IsTrue(at(a, "ready")));
	ck_assert(cJSON_IsTrue(at(a, "programmed")));
	ck_assert_int_eq((int)num(a, "connections"), 12);
	ck_assert_int_eq((int)num(a, "activeConnections"), 3);
	ck_assert_int_eq(cJSON_GetArraySize(at(a, "perNode")), 2);
	ck_assert_int_eq((int)num(a, "perNode.1.connections"), 5);
	/* the not-ready endpoint: shown, not programmed, no counts */
	const cJSON *b = at(http, "endpoints.1");
	ck_assert_str_eq(str(b, "pod"), "web-b");
	ck_assert(cJSON_IsFalse(at(b, "ready")));
	ck_assert(cJSON_IsFalse(at(b, "programmed")));
	ck_assert_int_eq((int)num(b, "connections"), 0);

	/* UDP port: named targetPort kept, only the slice whose port name matches */
	const cJSON *dns = at(v, "ports.1");
	ck_assert_str_eq(str(dns, "targetPort"), "dns");
	ck_assert_int_eq(cJSON_GetArraySize(at(dns, "endpoints")), 1);
	ck_assert_int_eq((int)num(dns, "endpoints.0.port"), 5353);
	ck_assert_int_eq((int)num(dns, "endpoints.0.connections"), 2);
	ck_assert_int_eq(cJSON_GetArraySize(at(dns, "frontends")), 1);
	ck_assert_str_eq(str(v, "networkPolicy"), "not evaluated");
}
END_TEST

START_TEST(no_slices_no_nodes)
{
	_cleanup_cjson_ cJSON *v = build(SVC, NULL, NULL);
	ck_assert(cJSON_IsNull(at(v, "dns")));
	ck_assert_int_eq(cJSON_GetArraySize(at(v, "nodes")), 0);
	ck_assert_int_eq(cJSON_GetArraySize(at(v, "ports")), 2);
	ck_assert_int_eq(cJSON_GetArraySize(at(v, "ports.0.endpoints")), 0);
	ck_assert_int_eq(cJSON_GetArraySize(at(v, "ports.0.frontends")), 0);
	/* a bare service: defaults, no crash */
	_cleanup_cjson_ cJSON *w = build("{}", "[{\"endpoints\":5}]", "{\"n\":3}");
	ck_assert_str_eq(str(w, "service.namespace"), "default");
	ck_assert_str_eq(str(w, "service.type"), "ClusterIP");
	ck_assert_int_eq(cJSON_GetArraySize(at(w, "ports")), 0);
	ck_assert(cJSON_IsFalse(at(w, "nodes.0.tablePresent")));
}
END_TEST

/* node1 also balances its pods' connections in the socket LB: those count apart
 * (socketConnections) and in the total, and the port says which node does it */
START_TEST(socket_lb_counted)
{
	_cleanup_cjson_ cJSON *n = cJSON_Parse(NODES);
	_cleanup_cjson_ cJSON *slb = cJSON_Parse(
		"{\"attached\":true,\"cgroup\":\"/sys/fs/cgroup/unified/minik8s\","
		"\"frontends\":[{\"protocol\":\"TCP\",\"port\":80,\"endpoints\":1}],"
		"\"endpoints\":[{\"protocol\":\"TCP\",\"port\":80,\"ip\":\"10.244.1.5\","
		"\"targetPort\":8080,\"connections\":30},"
		"{\"protocol\":\"TCP\",\"port\":81,\"ip\":\"10.244.1.5\",\"targetPort\":8080,"
		"\"connections\":100}]}");
	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_nonnull(slb);
	cJSON_AddItemToObject((cJSON *)at(n, "node1.kernel"), "socketLB", cJSON_Duplicate(slb, 1));
	_cleanup_cjson_ cJSON *s = cJSON_Parse(SVC);
	_cleanup_cjson_ cJSON *sl = cJSON_Parse(SLICES);
	_cleanup_cjson_ cJSON *v = mk_trace_build(s, sl, n);
	const cJSON *a = at(v, "ports.0.endpoints.0");
	ck_assert_int_eq((int)num(a, "natConnections"), 12);
	ck_assert_int_eq((int)num(a, "socketConnections"), 30);
	ck_assert_int_eq((int)num(a, "connections"), 42);
	ck_assert_int_eq(cJSON_GetArraySize(at(v, "ports.0.socketLB")), 1);
	ck_assert_str_eq(str(v, "ports.0.socketLB.0.node"), "node1");
	ck_assert_int_eq((int)num(v, "ports.0.socketLB.0.endpoints"), 1);
	ck_assert_str_eq(str(v, "ports.0.socketLB.0.cgroup"), "/sys/fs/cgroup/unified/minik8s");
	/* the UDP port is not in node1's socket LB: nothing counted there */
	ck_assert_int_eq(cJSON_GetArraySize(at(v, "ports.1.socketLB")), 0);
	ck_assert_int_eq((int)num(v, "ports.1.endpoints.0.socketConnections"), 0);
	ck_assert_int_eq((int)num(v, "ports.1.endpoints.0.connections"), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("model");
	tcase_add_test(tc, rows_and_counters);
	tcase_add_test(tc, no_slices_no_nodes);
	tcase_add_test(tc, socket_lb_counted);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
