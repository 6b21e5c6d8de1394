/* The scheduler: given nodes (labels, taints, cordon) and pending pods, each pod is
 * bound to a node it fits (nodeSelector, NoSchedule taints unless tolerated,
 * unschedulable unless tolerated), replicas spread over the nodes, and a pod that
 * fits nowhere gets PodScheduled=False / Unschedulable. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

static bool bound(const cJSON *pod, const void *unused)
{
	const char *n = mk_json_get_string(pod, "spec.nodeName");
	return n && *n;
}

static bool unschedulable(const cJSON *pod, const void *unused)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
	{
		if (!strcmp(mk_json_get_string(c, "type"), "PodScheduled"))
			return !strcmp(mk_json_get_string(c, "status"), "False") &&
			       !strcmp(mk_json_get_string(c, "reason") ?: "", "Unschedulable");
	}
	return false;
}

static void pod(const char *name, const char *extra_spec)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
				   "\"labels\":{\"app\":\"s\"}},\"spec\":{%s%s\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}",
				   name, extra_spec ? extra_spec : "", extra_spec ? "," : "");
	fx_create("/api/v1/namespaces/default/pods", j);
	free(j);
}

static char *node_of(const char *name)
{
	char *path = mk_strdup_printf("/api/v1/namespaces/default/pods/%s", name);
	cJSON *p = fx_wait(path, bound, NULL, "spec.nodeName set");
	char *n = mk_strdup(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);
	free(path);
	return n;
}

START_TEST(test_scheduler_filters_and_spreads)
{
	fx_node("ssd", "{\"disk\":\"ssd\"}", NULL);
	fx_node("plain", NULL, NULL);
	fx_node("gpu", "{\"gpu\":\"yes\"}", "[{\"key\":\"dedicated\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]");
	fx_node("cordoned", NULL, NULL);
	fx_patch("/api/v1/nodes/cordoned", "{\"spec\":{\"unschedulable\":true}}");

	pod("want-ssd", "\"nodeSelector\":{\"disk\":\"ssd\"}");
	pod("want-gpu-tolerates", "\"nodeSelector\":{\"gpu\":\"yes\"},\"tolerations\":[{\"key\":\"dedicated\","
				  "\"operator\":\"Equal\",\"value\":\"gpu\",\"effect\":\"NoSchedule\"}]");
	pod("want-gpu-no-toleration", "\"nodeSelector\":{\"gpu\":\"yes\"}");
	char name[32];
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "free-%d", i);
		pod(name, NULL);
	}

	char *n = node_of("want-ssd");
	ck_assert_str_eq(n, "ssd");
	free(n);
	n = node_of("want-gpu-tolerates");
	ck_assert_str_eq(n, "gpu");
	free(n);
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/pods/want-gpu-no-toleration", unschedulable, NULL,
			     "PodScheduled=False/Unschedulable"));
	cJSON *p = fx_get("/api/v1/namespaces/default/pods/want-gpu-no-toleration");
	ck_assert_ptr_null(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);

	/* the six free pods go only to the untainted, schedulable nodes, spread */
	int on_ssd = 0, on_plain = 0;
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "free-%d", i);
		n = node_of(name);
		ck_assert_msg(!strcmp(n, "ssd") || !strcmp(n, "plain"), "%s bound to %s", name, n);
		on_ssd += !strcmp(n, "ssd");
		on_plain += !strcmp(n, "plain");
		free(n);
	}
	ck_assert_int_ge(on_ssd, 2);
	ck_assert_int_ge(on_plain, 2);
}
END_TEST

static bool too_many_pods(const cJSON *pod, const void *unused)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, "status.conditions"))
	{
		if (!strcmp(mk_json_get_string(c, "type"), "PodScheduled"))
			return strstr(mk_json_get_string(c, "message") ?: "", "1 Too many pods") != NULL;
	}
	return false;
}

/* The node's capacity comes from the cached totals: a pod that fits nowhere
 * waits in the unschedulable set and is bound once a bound pod is deleted. */
START_TEST(test_scheduler_deleted_pod_frees_capacity)
{
	fx_node("one", NULL, NULL);
	fx_patch("/api/v1/nodes/one/status", "{\"status\":{\"allocatable\":{\"pods\":\"1\",\"cpu\":\"1\"}}}");
	pod("first", NULL);
	char *n = node_of("first");
	ck_assert_str_eq(n, "one");
	free(n);
	pod("second", NULL);
	cJSON *p = fx_wait("/api/v1/namespaces/default/pods/second", too_many_pods, NULL,
			   "PodScheduled=False: 0/1 nodes are available: 1 Too many pods");
	ck_assert_ptr_null(mk_json_get_string(p, "spec.nodeName"));
	cJSON_Delete(p);

	/* deleting first (at once: no kubelet here to finish a graceful delete) frees
	 * the node: second goes back from the unschedulable set */
	_cleanup_error_ struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_delete(fx_cli, "/api/v1/namespaces/default/pods/first?gracePeriodSeconds=0",
					  NULL, NULL, &err), 0);
	cJSON *gone = fx_get("/api/v1/namespaces/default/pods/first");
	ck_assert_ptr_null(gone);
	n = node_of("second");
	ck_assert_str_eq(n, "one");
	free(n);
}
END_TEST

Suite *scheduler_suite(void)
{
	Suite *s = suite_create("scheduler");
	TCase *tc = tcase_create("scheduler");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_scheduler_filters_and_spreads);
	tcase_add_test(tc, test_scheduler_deleted_pod_frees_capacity);
	suite_add_tcase(s, tc);
	return s;
}
