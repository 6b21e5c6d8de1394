/* The per-resource server strategies (pkg/apiserver/strategy*.c): the lookup by
 * resource, and one hook of each kind, on real resource rows and objects. */
#include <check.h>
#include "../../../pkg/apiserver/internal.h"

static const struct mk_server_strategy *of(const char *group, const char *version,
					   const char *resource)
{
	const struct mk_api_resource *r = mk_api_resource_find(group, version, resource);
	ck_assert_ptr_nonnull(r);
	return mk_strategy_of(r);
}

START_TEST(strategy_lookup)
{
	ck_assert_ptr_eq(of("", "v1", "pods"), &mk_strategy_pods);
	ck_assert_ptr_eq(of("", "v1", "services"), &mk_strategy_services);
	ck_assert_ptr_eq(of("", "v1", "nodes"), &mk_strategy_nodes);
	ck_assert_ptr_eq(of("", "v1", "namespaces"), &mk_strategy_namespaces);
	ck_assert_ptr_eq(of("", "v1", "configmaps"), &mk_strategy_configmaps);
	ck_assert_ptr_eq(of("", "v1", "persistentvolumeclaims"), &mk_strategy_pvcs);
	ck_assert(of("", "v1", "persistentvolumeclaims")->quota_on_update);
	ck_assert(!of("", "v1", "configmaps")->quota_on_update);
	ck_assert_ptr_eq(of("rbac.authorization.k8s.io", "v1", "clusterroles"),
			 &mk_strategy_clusterroles);
	ck_assert_ptr_eq(of("apiextensions.k8s.io", "v1", "customresourcedefinitions"),
			 &mk_strategy_crds);
	/* a kind without server-side behaviour gets a strategy with no hooks */
	const struct mk_server_strategy *d = of("apps", "v1", "deployments");
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_null(d->admit);
	ck_assert_ptr_null(d->reserve);
	ck_assert_ptr_null(d->written);
	ck_assert_ptr_null(d->subresources);
	ck_assert_ptr_null(mk_strategy_subresource(d, "log"));
	ck_assert_ptr_null(mk_strategy_of(NULL)->holds);
	/* field selectors: the kind's own list */
	const char *const *fs = of("apps", "v1", "replicasets")->field_selectors;
	ck_assert_str_eq(fs[0], "status.replicas");
	ck_assert_ptr_null(fs[1]);
}
END_TEST

START_TEST(strategy_subresources)
{
	const struct mk_subresource *log = mk_strategy_subresource(&mk_strategy_pods, "log");
	ck_assert_ptr_nonnull(log);
	ck_assert(log->handle == mk_proxy_pod_log);
	ck_assert_ptr_null(mk_strategy_subresource(&mk_strategy_pods, "finalize"));
	const struct mk_subresource *ec =
		mk_strategy_subresource(&mk_strategy_pods, "ephemeralcontainers");
	ck_assert(mk_subresource_serves(ec, "PATCH"));
	ck_assert(mk_subresource_serves(ec, "GET"));
	ck_assert(!mk_subresource_serves(ec, "POST"));
	ck_assert(!mk_subresource_serves(ec, "DELETE"));
	const struct mk_subresource *fin =
		mk_strategy_subresource(&mk_strategy_namespaces, "finalize");
	ck_assert(mk_subresource_serves(fin, "PUT"));
	ck_assert(!mk_subresource_serves(fin, "PATCH"));
	ck_assert(!mk_subresource_serves(fin, "PU"));
	/* finalize writes spec.finalizers and nothing else */
	cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"finalizers\":"
				 "[\"kubernetes\"]},\"status\":{\"phase\":\"Terminating\"}}");
	cJSON *sent = cJSON_Parse("{\"metadata\":{\"name\":\"b\"},\"spec\":{\"finalizers\":[]},"
				  "\"status\":{\"phase\":\"Active\"}}");
	fin->write(obj, sent);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(obj, "spec.finalizers")), 0);
	ck_assert_str_eq(mk_json_get_string(obj, "metadata.name"), "a");
	ck_assert_str_eq(mk_json_get_string(obj, "status.phase"), "Terminating");
	cJSON_Delete(obj);
	cJSON_Delete(sent);
}
END_TEST

START_TEST(strategy_pod_deletion)
{
	cJSON *pod = cJSON_Parse("{\"spec\":{\"nodeName\":\"n1\","
				 "\"terminationGracePeriodSeconds\":10},\"metadata\":{}}");
	ck_assert_int_eq(mk_strategy_pods.delete_grace(pod, -1), 10);
	ck_assert_int_eq(mk_strategy_pods.delete_grace(pod, 3), 3);
	ck_assert(mk_strategy_pods.holds(pod)); /* no grace set yet */
	mk_json_set(cJSON_GetObjectItem(pod, "metadata"), "deletionGracePeriodSeconds",
		    cJSON_CreateNumber(0));
	ck_assert(!mk_strategy_pods.holds(pod));
	cJSON_Delete(pod);
	cJSON *unbound = cJSON_Parse("{\"spec\":{}}");
	ck_assert_int_eq(mk_strategy_pods.delete_grace(unbound, -1), 0);
	cJSON_Delete(unbound);
}
END_TEST

START_TEST(strategy_namespace_deletion)
{
	cJSON *ns = cJSON_Parse("{\"spec\":{\"finalizers\":[\"kubernetes\"]}}");
	ck_assert(mk_strategy_namespaces.holds(ns));
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(ns, "spec"), "finalizers");
	ck_assert(!mk_strategy_namespaces.holds(ns));
	cJSON_Delete(ns);

	struct mk_request req = { .name = (char *)"kube-system" };
	struct mk_reply rep = { 0 };
	ck_assert_int_eq(mk_strategy_namespaces.delete_refuse(&req, &rep), -1);
	ck_assert_uint_eq(rep.code, 403);
	ck_assert_ptr_nonnull(strstr(rep.body, "may not be deleted"));
	free(rep.body);
	rep = (struct mk_reply){ 0 };
	req.name = (char *)"team-a";
	ck_assert_int_eq(mk_strategy_namespaces.delete_refuse(&req, &rep), 0);
	ck_assert_ptr_null(rep.body);
	ck_assert(mk_strategy_namespaces.no_delete_collection);
}
END_TEST

START_TEST(strategy_service_update_keeps_addresses)
{
	cJSON *old = cJSON_Parse("{\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.7\","
				 "\"clusterIPs\":[\"10.96.0.7\"],\"ports\":[{\"port\":80,"
				 "\"nodePort\":30080}]}}");
	cJSON *obj = cJSON_Parse("{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80}]}}");
	mk_strategy_services.update_prepare(old, obj);
	ck_assert_str_eq(mk_json_get_string(obj, "spec.clusterIP"), "10.96.0.7");
	cJSON *np = cJSON_GetObjectItem(cJSON_GetArrayItem(mk_json_get(obj, "spec.ports"), 0),
					"nodePort");
	ck_assert(cJSON_IsNumber(np) && np->valueint == 30080);
	cJSON_Delete(obj);
	/* a change to ClusterIP drops the node port the client sent back */
	obj = cJSON_Parse("{\"spec\":{\"type\":\"ClusterIP\",\"ports\":[{\"port\":80,"
			  "\"nodePort\":30080}]}}");
	mk_strategy_services.update_prepare(old, obj);
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(mk_json_get(obj, "spec.ports"), 0),
					       "nodePort"));
	cJSON_Delete(obj);
	cJSON_Delete(old);
}
END_TEST

START_TEST(strategy_pod_update_keeps_ephemeral)
{
	cJSON *old = cJSON_Parse("{\"spec\":{\"ephemeralContainers\":[{\"name\":\"dbg\"}]}}");
	cJSON *obj = cJSON_Parse("{\"spec\":{\"ephemeralContainers\":[{\"name\":\"other\"}]}}");
	mk_strategy_pods.update_prepare(old, obj);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(obj,
						"spec.ephemeralContainers"), 0), "name"), "dbg");
	cJSON_Delete(obj);
	cJSON_Delete(old);
}
END_TEST

Suite *strategy_suite(void)
{
	Suite *s = suite_create("strategy");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, strategy_lookup);
	tcase_add_test(tc, strategy_subresources);
	tcase_add_test(tc, strategy_pod_deletion);
	tcase_add_test(tc, strategy_namespace_deletion);
	tcase_add_test(tc, strategy_service_update_keeps_addresses);
	tcase_add_test(tc, strategy_pod_update_keeps_ephemeral);
	suite_add_tcase(s, tc);
	return s;
}
