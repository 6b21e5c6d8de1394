/* The EndpointSlice controller: given a Service and pods, slices labelled with
 * the service's name and owned by it list every matching pod with an IP and its
 * conditions; more than 100 endpoints spill into a second slice; pods that go
 * leave; a service without endpoints keeps an empty placeholder; slices follow
 * the service's deletion. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

#define SLICES "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb"

static void pod(const char *name, const char *ip, bool ready)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
				   "\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
				   "\"image\":\"x\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]}}",
				   name);
	fx_create("/api/v1/namespaces/default/pods", j);
	free(j);
	fx_pod_running("default", name, ip, ready);
}

struct want {
	int slices;    /* number of slices */
	int endpoints; /* endpoints over all slices */
	int ready;     /* of which ready */
};

static bool slices_are(const cJSON *list, const void *arg)
{
	const struct want *w = arg;
	const cJSON *items = cJSON_GetObjectItem(list, "items"), *s, *ep;
	int n = 0, ready = 0;
	if (cJSON_GetArraySize(items) != w->slices)
		return false;
	cJSON_ArrayForEach(s, items)
	{
		cJSON_ArrayForEach(ep, cJSON_GetObjectItem(s, "endpoints"))
		{
			n++;
			ready += cJSON_IsTrue(mk_json_get(ep, "conditions.ready"));
		}
	}
	return n == w->endpoints && ready == w->ready;
}

START_TEST(test_slices_follow_pods)
{
	fx_create("/api/v1/namespaces/default/services",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"labels\":{\"tier\":\"front\"}},"
		  "\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"http\"}]}}");
	/* no pods yet: one empty placeholder slice */
	struct want w0 = { 1, 0, 0 };
	cJSON_Delete(fx_wait(SLICES, slices_are, &w0, "one placeholder slice"));

	pod("a", "10.244.0.21", true);
	pod("b", "10.244.0.22", false);
	struct want w1 = { 1, 2, 1 };
	cJSON *list = fx_wait(SLICES, slices_are, &w1, "a ready, b not ready");
	const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
	ck_assert_str_eq(mk_json_get_string(s, "addressType"), "IPv4");
	const cJSON *labels = mk_json_get(s, "metadata.labels");
	ck_assert_str_eq(cJSON_GetObjectItem(labels, "endpointslice.kubernetes.io/managed-by")->valuestring,
			 "endpointslice-controller.k8s.io");
	ck_assert_str_eq(cJSON_GetObjectItem(labels, "tier")->valuestring, "front");
	ck_assert_str_eq(mk_json_get_string(mk_api_controller_ref(s), "kind"), "Service");
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "ports"), 0);
	ck_assert_int_eq(mk_json_get(p, "port")->valueint, 8080);
	ck_assert_str_eq(mk_json_get_string(p, "name"), "http");
	const cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "endpoints"), 0);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(e0, "addresses"), 0)->valuestring, "10.244.0.21");
	ck_assert_str_eq(mk_json_get_string(e0, "targetRef.name"), "a");
	cJSON_Delete(list);

	/* 120 more pods: two slices, none over 100 */
	char name[16], ip[32];
	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		snprintf(ip, sizeof(ip), "10.244.1.%d", i + 1);
		pod(name, ip, true);
	}
	struct want w2 = { 2, 122, 121 };
	list = fx_wait(SLICES, slices_are, &w2, "122 endpoints in 2 slices");
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
		ck_assert_int_le(cJSON_GetArraySize(cJSON_GetObjectItem(it, "endpoints")), 100);
	cJSON_Delete(list);

	/* the pods go: back to one slice holding a and b */
	struct mk_error *err = NULL;
	for (int i = 0; i < 120; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/api/v1/namespaces/default/pods/p%d?gracePeriodSeconds=0", i);
		ck_assert_int_eq(mk_client_delete(fx_cli, path, NULL, NULL, &err), 0);
	}
	cJSON_Delete(fx_wait(SLICES, slices_are, &w1, "back to a and b"));

	/* the service goes: so do its slices */
	ck_assert_int_eq(mk_client_delete(fx_cli, "/api/v1/namespaces/default/services/web", NULL, NULL, &err), 0);
	struct want none = { 0, 0, 0 };
	cJSON_Delete(fx_wait(SLICES, slices_are, &none, "no slices"));
}
END_TEST

Suite *endpointslice_suite(void)
{
	Suite *s = suite_create("endpointslice");
	TCase *tc = tcase_create("endpointslice");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_slices_follow_pods);
	suite_add_tcase(s, tc);
	return s;
}
