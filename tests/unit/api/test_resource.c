/* Resource registry, Status objects and defaulting. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

static cJSON *parse(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "bad test JSON: %s", s);
	return j;
}

static const struct mk_api_resource *res(const char *gv, const char *kind)
{
	const struct mk_api_resource *r = mk_api_resource_by_kind(gv, kind);
	ck_assert_ptr_nonnull(r);
	return r;
}

static void assert_str(const cJSON *obj, const char *path, const char *want)
{
	const char *got = mk_json_get_string(obj, path);
	ck_assert_msg(got != NULL, "%s missing", path);
	ck_assert_str_eq(got, want);
}

static void assert_num(const cJSON *obj, const char *path, double want)
{
	const cJSON *j = mk_json_get(obj, path);
	ck_assert_msg(cJSON_IsNumber(j), "%s missing or not a number", path);
	ck_assert_msg(j->valuedouble == want, "%s = %g, want %g", path, j->valuedouble, want);
}

/* ---- registry ---------------------------------------------------------------- */

START_TEST(test_resources_batch)
{
	const struct mk_api_resource *j = mk_api_resource_find("batch", "v1", "jobs");
	const struct mk_api_resource *c = mk_api_resource_find("batch", "v1", "cronjobs");
	ck_assert_ptr_nonnull(j);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(j->kind, "Job");
	ck_assert_ptr_null(j->short_names);
	ck_assert_str_eq(c->short_names[0], "cj");
	ck_assert(j->namespaced && c->namespaced && j->has_status && c->has_status);
	ck_assert(!j->has_scale && !c->has_scale);
	ck_assert_ptr_eq(mk_api_resource_by_kind("batch/v1", "CronJob"), c);
}
END_TEST

START_TEST(test_resources_order_and_facts)
{
	static const char *const names[] = { "namespaces", "pods", "services", "endpoints",
					      "nodes", "events", "deployments", "replicasets",
					      "endpointslices", "leases", "daemonsets", "configmaps",
					      "secrets" };
	size_t n = 0;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	/* the first kinds in this order; kinds added later follow them */
	ck_assert_uint_ge(n, 10);
	for (size_t i = 0; i < n; i++) {
		if (i < MK_ARRAY_SIZE(names))
			ck_assert_str_eq(rs[i].name, names[i]);
		ck_assert_ptr_nonnull(rs[i].verbs);
		size_t v = 0;
		while (rs[i].verbs[v])
			v++;
		ck_assert_uint_eq(v, 8);
		ck_assert_str_eq(rs[i].verbs[2], "deletecollection");
		if (i < 8) /* the core and apps kinds have short names */
			ck_assert_ptr_nonnull(rs[i].short_names);
	}
	ck_assert_ptr_null(rs[8].short_names);
	ck_assert_str_eq(rs[8].group_version, "discovery.k8s.io/v1");
	ck_assert(!rs[0].namespaced); /* namespaces */
	ck_assert(!rs[4].namespaced); /* nodes */
	ck_assert(rs[1].namespaced && rs[5].namespaced && rs[6].namespaced);
	ck_assert(rs[0].has_status && rs[1].has_status && rs[2].has_status && rs[4].has_status);
	ck_assert(!rs[3].has_status && !rs[5].has_status);
	ck_assert(rs[6].has_scale && rs[7].has_scale && !rs[1].has_scale);
	ck_assert_str_eq(rs[6].group, "apps");
	ck_assert_str_eq(rs[6].group_version, "apps/v1");
	ck_assert_str_eq(rs[1].group, "");
	ck_assert_str_eq(rs[1].group_version, "v1");
	ck_assert_str_eq(rs[6].short_names[0], "deploy");
	ck_assert_str_eq(rs[3].short_names[0], "ep");
	ck_assert_str_eq(rs[3].singular, "endpoints");
	ck_assert_str_eq(rs[2].singular, "service");
	const struct mk_api_resource *sts = mk_api_resource_find("apps", "v1", "statefulsets");
	ck_assert_ptr_nonnull(sts);
	ck_assert_str_eq(sts->short_names[0], "sts");
	ck_assert(sts->namespaced && sts->has_status && sts->has_scale);
}
END_TEST

START_TEST(test_resource_find)
{
	const struct mk_api_resource *r = mk_api_resource_find("", "v1", "pods");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->kind, "Pod");
	r = mk_api_resource_find("apps", "v1", "replicasets");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->kind, "ReplicaSet");
	ck_assert_ptr_null(mk_api_resource_find("", "v1", "deployments"));
	ck_assert_ptr_null(mk_api_resource_find("apps", "v1", "pods"));
	ck_assert_ptr_null(mk_api_resource_find("", "v2", "pods"));
	ck_assert_ptr_null(mk_api_resource_find("", "v1", "pod"));
	ck_assert_ptr_nonnull(mk_api_resource_find(NULL, "v1", "nodes"));
}
END_TEST

START_TEST(test_resource_by_kind)
{
	const struct mk_api_resource *r = mk_api_resource_by_kind("apps/v1", "Deployment");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "deployments");
	r = mk_api_resource_by_kind("v1", "Namespace");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "namespaces");
	ck_assert_ptr_null(mk_api_resource_by_kind("v1", "Deployment"));
	ck_assert_ptr_null(mk_api_resource_by_kind("apps/v1", "Pod"));
	ck_assert_ptr_null(mk_api_resource_by_kind("v1", "pod"));
	ck_assert_ptr_null(mk_api_resource_by_kind(NULL, "Pod"));
}
END_TEST

/* ---- Status ---------------------------------------------------------------------- */

START_TEST(test_status_not_found)
{
	cJSON *st = mk_api_status_new(404, mk_api_status_reason(404), "pods \"nope\" not found",
				      "pods", "nope", NULL);
	assert_str(st, "kind", "Status");
	assert_str(st, "apiVersion", "v1");
	ck_assert(cJSON_IsObject(mk_json_get(st, "metadata")));
	assert_str(st, "status", "Failure");
	assert_str(st, "message", "pods \"nope\" not found");
	assert_str(st, "reason", "NotFound");
	assert_num(st, "code", 404);
	assert_str(st, "details.name", "nope");
	assert_str(st, "details.kind", "pods");
	ck_assert_ptr_null(mk_json_get(st, "details.causes"));
	cJSON_Delete(st);
}
END_TEST

START_TEST(test_status_without_details)
{
	cJSON *st = mk_api_status_new(400, "BadRequest", "bad", NULL, NULL, NULL);
	ck_assert_ptr_null(mk_json_get(st, "details"));
	assert_num(st, "code", 400);
	cJSON_Delete(st);
}
END_TEST

START_TEST(test_status_invalid_with_causes)
{
	cJSON *causes = cJSON_CreateArray();
	mk_api_cause_add(causes, "FieldValueRequired", "spec.containers[0].image", "Required value");
	mk_api_cause_add(causes, "FieldValueInvalid", "metadata.name", "Invalid value: \"%s\": %d",
			 "Foo", 42);
	cJSON *st = mk_api_status_new(422, mk_api_status_reason(422), "Pod \"x\" is invalid", "Pod",
				      "x", causes);
	assert_str(st, "reason", "Invalid");
	cJSON *c = mk_json_get(st, "details.causes");
	ck_assert_int_eq(cJSON_GetArraySize(c), 2);
	assert_str(cJSON_GetArrayItem(c, 0), "reason", "FieldValueRequired");
	assert_str(cJSON_GetArrayItem(c, 0), "field", "spec.containers[0].image");
	assert_str(cJSON_GetArrayItem(c, 0), "message", "Required value");
	assert_str(cJSON_GetArrayItem(c, 1), "message", "Invalid value: \"Foo\": 42");
	cJSON_Delete(st);
}
END_TEST

START_TEST(test_status_reasons)
{
	static const struct {
		int code;
		const char *reason;
	} t[] = { { 400, "BadRequest" },	    { 401, "Unauthorized" },
		  { 403, "Forbidden" },		    { 404, "NotFound" },
		  { 405, "MethodNotAllowed" },	    { 406, "NotAcceptable" },
		  { 409, "Conflict" },		    { 410, "Expired" },
		  { 413, "RequestEntityTooLarge" }, { 415, "UnsupportedMediaType" },
		  { 422, "Invalid" },		    { 429, "TooManyRequests" },
		  { 500, "InternalError" },	    { 503, "ServiceUnavailable" } };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_str_eq(mk_api_status_reason(t[i].code), t[i].reason);
}
END_TEST

/* ---- defaults ----------------------------------------------------------------------- */

START_TEST(test_default_pod_kubectl_run)
{
	/* the body of `kubectl run jumpbox --image=nginx` */
	cJSON *p = parse("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"jumpbox\","
			 "\"creationTimestamp\":null,\"labels\":{\"run\":\"jumpbox\"}},\"spec\":{"
			 "\"containers\":[{\"name\":\"jumpbox\",\"image\":\"nginx\",\"resources\":{},"
			 "\"ports\":[{\"containerPort\":80}]}],\"restartPolicy\":\"Always\","
			 "\"dnsPolicy\":\"ClusterFirst\"},\"status\":{}}");
	mk_api_default(res("v1", "Pod"), p);
	assert_str(p, "spec.restartPolicy", "Always");
	assert_str(p, "spec.dnsPolicy", "ClusterFirst");
	assert_num(p, "spec.terminationGracePeriodSeconds", 30);
	assert_str(p, "spec.schedulerName", "default-scheduler");
	ck_assert(cJSON_IsObject(mk_json_get(p, "spec.securityContext")));
	ck_assert(cJSON_IsTrue(mk_json_get(p, "spec.enableServiceLinks")));
	cJSON *c = cJSON_GetArrayItem(mk_json_get(p, "spec.containers"), 0);
	assert_str(c, "imagePullPolicy", "Always");
	assert_str(c, "terminationMessagePath", "/dev/termination-log");
	assert_str(c, "terminationMessagePolicy", "File");
	assert_str(cJSON_GetArrayItem(mk_json_get(c, "ports"), 0), "protocol", "TCP");
	ck_assert_ptr_null(mk_json_get(cJSON_GetArrayItem(mk_json_get(c, "ports"), 0), "hostPort"));
	assert_str(p, "status.phase", "Pending");
	assert_str(p, "status.qosClass", "BestEffort");
	cJSON_Delete(p);
}
END_TEST

START_TEST(test_default_pod_keeps_explicit_values)
{
	cJSON *p = parse("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"restartPolicy\":\"Never\","
			 "\"dnsPolicy\":\"Default\",\"terminationGracePeriodSeconds\":0,"
			 "\"enableServiceLinks\":false,\"containers\":[{\"name\":\"a\",\"image\":"
			 "\"nginx:1.26\",\"imagePullPolicy\":\"Never\",\"ports\":[{\"containerPort\":"
			 "53,\"protocol\":\"UDP\"}]}]},\"status\":{\"phase\":\"Running\"}}");
	mk_api_default(res("v1", "Pod"), p);
	assert_str(p, "spec.restartPolicy", "Never");
	assert_str(p, "spec.dnsPolicy", "Default");
	assert_num(p, "spec.terminationGracePeriodSeconds", 0);
	ck_assert(cJSON_IsFalse(mk_json_get(p, "spec.enableServiceLinks")));
	cJSON *c = cJSON_GetArrayItem(mk_json_get(p, "spec.containers"), 0);
	assert_str(c, "imagePullPolicy", "Never");
	assert_str(cJSON_GetArrayItem(mk_json_get(c, "ports"), 0), "protocol", "UDP");
	assert_str(p, "status.phase", "Running");
	cJSON_Delete(p);
}
END_TEST

START_TEST(test_default_image_pull_policy)
{
	static const struct {
		const char *image, *policy;
	} t[] = {
		{ "nginx", "Always" },
		{ "nginx:latest", "Always" },
		{ "nginx:1.26", "IfNotPresent" },
		{ "localhost:5000/busybox", "Always" },
		{ "localhost:5000/busybox:v1", "IfNotPresent" },
		{ "127.0.0.1:5000/a/b:latest", "Always" },
		{ "nginx@sha256:0123456789abcdef", "IfNotPresent" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cJSON *p = cJSON_CreateObject();
		cJSON *spec = cJSON_AddObjectToObject(p, "spec");
		cJSON *cs = cJSON_AddArrayToObject(spec, "containers");
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "name", "c");
		cJSON_AddStringToObject(c, "image", t[i].image);
		cJSON_AddItemToArray(cs, c);
		cJSON *init = cJSON_AddArrayToObject(spec, "initContainers");
		cJSON_AddItemToArray(init, cJSON_Duplicate(c, 1));
		mk_api_default(res("v1", "Pod"), p);
		ck_assert_msg(strcmp(mk_json_get_string(c, "imagePullPolicy"), t[i].policy) == 0,
			      "%s: got %s", t[i].image, mk_json_get_string(c, "imagePullPolicy"));
		assert_str(cJSON_GetArrayItem(init, 0), "imagePullPolicy", t[i].policy);
		cJSON_Delete(p);
	}
}
END_TEST

START_TEST(test_default_pod_resources_probes_volumes)
{
	cJSON *p = parse("{\"spec\":{\"hostNetwork\":true,\"containers\":[{\"name\":\"a\",\"image\":\"x:1\","
			 "\"ports\":[{\"containerPort\":8080}],"
			 "\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}},"
			 "\"env\":[{\"name\":\"N\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.name\"}}}],"
			 "\"livenessProbe\":{\"httpGet\":{\"port\":8080}}}],"
			 "\"volumes\":[{\"name\":\"v\"},{\"name\":\"cm\",\"configMap\":{\"name\":\"c\"}}]}}");
	mk_api_default(res("v1", "Pod"), p);
	cJSON *c = cJSON_GetArrayItem(mk_json_get(p, "spec.containers"), 0);
	assert_str(c, "resources.requests.cpu", "1");
	assert_str(c, "resources.requests.memory", "1Gi");
	assert_num(cJSON_GetArrayItem(mk_json_get(c, "ports"), 0), "hostPort", 8080);
	assert_str(cJSON_GetArrayItem(mk_json_get(c, "env"), 0), "valueFrom.fieldRef.apiVersion", "v1");
	assert_num(c, "livenessProbe.timeoutSeconds", 1);
	assert_num(c, "livenessProbe.periodSeconds", 10);
	assert_num(c, "livenessProbe.successThreshold", 1);
	assert_num(c, "livenessProbe.failureThreshold", 3);
	assert_str(c, "livenessProbe.httpGet.path", "/");
	assert_str(c, "livenessProbe.httpGet.scheme", "HTTP");
	cJSON *vols = mk_json_get(p, "spec.volumes");
	ck_assert(cJSON_IsObject(mk_json_get(cJSON_GetArrayItem(vols, 0), "emptyDir")));
	ck_assert_ptr_null(mk_json_get(cJSON_GetArrayItem(vols, 1), "emptyDir"));
	assert_num(cJSON_GetArrayItem(vols, 1), "configMap.defaultMode", 420);
	assert_str(p, "status.qosClass", "Guaranteed");
	cJSON_Delete(p);
}
END_TEST

START_TEST(test_default_pod_qos_burstable)
{
	cJSON *p = parse("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\","
			 "\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}}");
	mk_api_default(res("v1", "Pod"), p);
	assert_str(p, "status.qosClass", "Burstable");
	cJSON_Delete(p);
}
END_TEST

START_TEST(test_default_service)
{
	cJSON *s = parse("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"selector\":{\"app\":\"web\"},"
			 "\"ports\":[{\"port\":80},{\"name\":\"b\",\"port\":81,\"targetPort\":\"http\","
			 "\"protocol\":\"UDP\"},{\"port\":82,\"targetPort\":0}]}}");
	mk_api_default(res("v1", "Service"), s);
	assert_str(s, "spec.type", "ClusterIP");
	assert_str(s, "spec.sessionAffinity", "None");
	assert_str(s, "spec.internalTrafficPolicy", "Cluster");
	assert_str(s, "spec.ipFamilyPolicy", "SingleStack");
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(s, "spec.ipFamilies"), 0)->valuestring, "IPv4");
	ck_assert_ptr_null(mk_json_get(s, "spec.externalTrafficPolicy"));
	ck_assert_ptr_null(mk_json_get(s, "spec.clusterIPs"));
	cJSON *ports = mk_json_get(s, "spec.ports");
	assert_str(cJSON_GetArrayItem(ports, 0), "protocol", "TCP");
	assert_num(cJSON_GetArrayItem(ports, 0), "targetPort", 80);
	assert_str(cJSON_GetArrayItem(ports, 1), "protocol", "UDP");
	assert_str(cJSON_GetArrayItem(ports, 1), "targetPort", "http");
	assert_num(cJSON_GetArrayItem(ports, 2), "targetPort", 82);
	ck_assert(cJSON_IsObject(mk_json_get(s, "status.loadBalancer")));
	cJSON_Delete(s);
}
END_TEST

START_TEST(test_default_service_nodeport_and_cluster_ip)
{
	cJSON *s = parse("{\"spec\":{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.7\","
			 "\"sessionAffinity\":\"ClientIP\",\"ports\":[{\"port\":80}]}}");
	mk_api_default(res("v1", "Service"), s);
	assert_str(s, "spec.externalTrafficPolicy", "Cluster");
	assert_num(s, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 10800);
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(s, "spec.clusterIPs"), 0)->valuestring,
			 "10.96.0.7");
	cJSON_Delete(s);

	s = parse("{\"spec\":{\"type\":\"LoadBalancer\",\"clusterIPs\":[\"10.96.0.9\"],\"ports\":[{\"port\":80}]}}");
	mk_api_default(res("v1", "Service"), s);
	assert_str(s, "spec.clusterIP", "10.96.0.9");
	ck_assert(cJSON_IsTrue(mk_json_get(s, "spec.allocateLoadBalancerNodePorts")));
	cJSON_Delete(s);

	s = parse("{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.com\"}}");
	mk_api_default(res("v1", "Service"), s);
	ck_assert_ptr_null(mk_json_get(s, "spec.ipFamilyPolicy"));
	ck_assert_ptr_null(mk_json_get(s, "spec.internalTrafficPolicy"));
	cJSON_Delete(s);
}
END_TEST

START_TEST(test_default_deployment)
{
	cJSON *d = parse("{\"metadata\":{\"name\":\"web\"},\"spec\":{\"selector\":{\"matchLabels\":"
			 "{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
			 "\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.26\"}]}}}}");
	mk_api_default(res("apps/v1", "Deployment"), d);
	assert_num(d, "spec.replicas", 1);
	assert_str(d, "spec.strategy.type", "RollingUpdate");
	assert_str(d, "spec.strategy.rollingUpdate.maxUnavailable", "25%");
	assert_str(d, "spec.strategy.rollingUpdate.maxSurge", "25%");
	assert_num(d, "spec.revisionHistoryLimit", 10);
	assert_num(d, "spec.progressDeadlineSeconds", 600);
	assert_str(d, "spec.template.spec.restartPolicy", "Always");
	assert_str(d, "spec.template.spec.dnsPolicy", "ClusterFirst");
	assert_num(d, "spec.template.spec.terminationGracePeriodSeconds", 30);
	/* enableServiceLinks is a Pod default, not a template default */
	ck_assert_ptr_null(mk_json_get(d, "spec.template.spec.enableServiceLinks"));
	cJSON *c = cJSON_GetArrayItem(mk_json_get(d, "spec.template.spec.containers"), 0);
	assert_str(c, "imagePullPolicy", "IfNotPresent");
	assert_str(c, "terminationMessagePath", "/dev/termination-log");
	/* apps/v1 never defaults the selector from the template labels */
	cJSON *d2 = parse("{\"spec\":{\"template\":{\"metadata\":{\"labels\":{\"app\":\"x\"}}}}}");
	mk_api_default(res("apps/v1", "Deployment"), d2);
	ck_assert_ptr_null(mk_json_get(d2, "spec.selector"));
	cJSON_Delete(d2);
	cJSON_Delete(d);
}
END_TEST

START_TEST(test_default_deployment_explicit)
{
	cJSON *d = parse("{\"spec\":{\"replicas\":0,\"strategy\":{\"type\":\"Recreate\"},"
			 "\"revisionHistoryLimit\":2}}");
	mk_api_default(res("apps/v1", "Deployment"), d);
	assert_num(d, "spec.replicas", 0);
	assert_str(d, "spec.strategy.type", "Recreate");
	ck_assert_ptr_null(mk_json_get(d, "spec.strategy.rollingUpdate"));
	assert_num(d, "spec.revisionHistoryLimit", 2);
	cJSON_Delete(d);

	d = parse("{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":1}}}}");
	mk_api_default(res("apps/v1", "Deployment"), d);
	assert_num(d, "spec.strategy.rollingUpdate.maxSurge", 1);
	assert_str(d, "spec.strategy.rollingUpdate.maxUnavailable", "25%");
	cJSON_Delete(d);
}
END_TEST

START_TEST(test_default_replicaset)
{
	cJSON *d = parse("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\","
			 "\"image\":\"busybox\",\"ports\":[{\"containerPort\":1}]}]}}}}");
	mk_api_default(res("apps/v1", "ReplicaSet"), d);
	assert_num(d, "spec.replicas", 1);
	ck_assert_ptr_null(mk_json_get(d, "spec.strategy"));
	assert_str(d, "spec.template.spec.restartPolicy", "Always");
	cJSON *c = cJSON_GetArrayItem(mk_json_get(d, "spec.template.spec.containers"), 0);
	assert_str(c, "imagePullPolicy", "Always");
	assert_str(cJSON_GetArrayItem(mk_json_get(c, "ports"), 0), "protocol", "TCP");
	cJSON_Delete(d);
}
END_TEST

START_TEST(test_default_namespace)
{
	cJSON *n = parse("{\"metadata\":{\"name\":\"myns\"}}");
	mk_api_default(res("v1", "Namespace"), n);
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(n, "spec.finalizers"), 0)->valuestring,
			 "kubernetes");
	assert_str(n, "status.phase", "Active");
	cJSON *l = mk_json_get(n, "metadata.labels");
	ck_assert_str_eq(cJSON_GetObjectItem(l, "kubernetes.io/metadata.name")->valuestring, "myns");
	cJSON_Delete(n);

	n = parse("{\"metadata\":{\"name\":\"x\"},\"status\":{\"phase\":\"Terminating\"}}");
	mk_api_default(res("v1", "Namespace"), n);
	assert_str(n, "status.phase", "Terminating");
	cJSON_Delete(n);
}
END_TEST

START_TEST(test_default_node_endpoints_event)
{
	cJSON *n = parse("{\"metadata\":{\"name\":\"n1\"},\"status\":{\"capacity\":{\"cpu\":\"4\"}}}");
	mk_api_default(res("v1", "Node"), n);
	assert_str(n, "status.allocatable.cpu", "4");
	cJSON_Delete(n);

	cJSON *e = parse("{\"subsets\":[{\"addresses\":[{\"ip\":\"10.0.0.1\"}],\"ports\":[{\"port\":80},"
			 "{\"port\":53,\"protocol\":\"UDP\"}]}]}");
	mk_api_default(res("v1", "Endpoints"), e);
	cJSON *ports = mk_json_get(cJSON_GetArrayItem(mk_json_get(e, "subsets"), 0), "ports");
	assert_str(cJSON_GetArrayItem(ports, 0), "protocol", "TCP");
	assert_str(cJSON_GetArrayItem(ports, 1), "protocol", "UDP");
	cJSON_Delete(e);

	cJSON *ev = parse("{\"metadata\":{\"name\":\"e\"},\"reason\":\"Started\"}");
	cJSON *copy = cJSON_Duplicate(ev, 1);
	mk_api_default(res("v1", "Event"), ev);
	ck_assert(cJSON_Compare(ev, copy, 1));
	cJSON_Delete(ev);
	cJSON_Delete(copy);
}
END_TEST

Suite *resource_suite(void)
{
	Suite *s = suite_create("api-resource");
	TCase *tc = tcase_create("registry");
	tcase_add_test(tc, test_resources_order_and_facts);
	tcase_add_test(tc, test_resources_batch);
	tcase_add_test(tc, test_resource_find);
	tcase_add_test(tc, test_resource_by_kind);
	suite_add_tcase(s, tc);

	tc = tcase_create("status");
	tcase_add_test(tc, test_status_not_found);
	tcase_add_test(tc, test_status_without_details);
	tcase_add_test(tc, test_status_invalid_with_causes);
	tcase_add_test(tc, test_status_reasons);
	suite_add_tcase(s, tc);

	tc = tcase_create("defaults");
	tcase_add_test(tc, test_default_pod_kubectl_run);
	tcase_add_test(tc, test_default_pod_keeps_explicit_values);
	tcase_add_test(tc, test_default_image_pull_policy);
	tcase_add_test(tc, test_default_pod_resources_probes_volumes);
	tcase_add_test(tc, test_default_pod_qos_burstable);
	tcase_add_test(tc, test_default_service);
	tcase_add_test(tc, test_default_service_nodeport_and_cluster_ip);
	tcase_add_test(tc, test_default_deployment);
	tcase_add_test(tc, test_default_deployment_explicit);
	tcase_add_test(tc, test_default_replicaset);
	tcase_add_test(tc, test_default_namespace);
	tcase_add_test(tc, test_default_node_endpoints_event);
	suite_add_tcase(s, tc);
	return s;
}
