/* The ResourceQuota controller: status.hard follows spec.hard, status.used counts
 * what the namespace holds (pods charged at admission by the API server), and
 * usage comes back when pods are deleted or finish; a ReplicaSet past its quota
 * gets the ReplicaFailure condition. Real API server, real controllers. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

#define QUOTA "/api/v1/namespaces/default/resourcequotas/q"
#define PODS "/api/v1/namespaces/default/pods"

static bool str_at(const cJSON *obj, const void *arg)
{
	const char *eq = strchr(arg, '=');
	char path[128];
	snprintf(path, sizeof(path), "%.*s", (int)(eq - (const char *)arg), (const char *)arg);
	const char *v = mk_json_get_string(obj, path);
	return v && !strcmp(v, eq + 1);
}

static void pod(const char *name)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},"
				   "\"spec\":{\"nodeSelector\":{\"nowhere\":\"x\"},"
				   "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}", name);
	fx_create(PODS, j);
	free(j);
}

START_TEST(test_quota_status)
{
	fx_create("/api/v1/namespaces/default/resourcequotas",
		  "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\"},"
		  "\"spec\":{\"hard\":{\"pods\":\"3\",\"count/deployments.apps\":\"2\",\"services\":\"4\"}}}");
	cJSON_Delete(fx_wait(QUOTA, str_at, "status.hard.pods=3", "status.hard filled"));
	cJSON *q = fx_wait(QUOTA, str_at, "status.used.pods=0", "status.used filled");
	ck_assert_str_eq(mk_json_get_string(q, "status.used.count/deployments\\.apps") ?: "0", "0");
	cJSON_Delete(q);
	pod("a");
	pod("b");
	/* charged at admission, before the controller looks */
	q = fx_get(QUOTA);
	ck_assert_str_eq(mk_json_get_string(q, "status.used.pods"), "2");
	cJSON_Delete(q);
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_delete(fx_cli, PODS "/a", NULL, NULL, &err), 0);
	cJSON_Delete(fx_wait(QUOTA, str_at, "status.used.pods=1", "a deleted pod gives its unit back"));
	fx_patch(PODS "/b/status", "{\"status\":{\"phase\":\"Failed\"}}");
	cJSON_Delete(fx_wait(QUOTA, str_at, "status.used.pods=0", "a finished pod uses nothing"));
	fx_patch(QUOTA, "{\"spec\":{\"hard\":{\"pods\":\"5\"}}}");
	cJSON_Delete(fx_wait(QUOTA, str_at, "status.hard.pods=5", "status.hard follows spec.hard"));
	fx_create("/api/v1/namespaces/default/services",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"s\"},"
		  "\"spec\":{\"ports\":[{\"port\":80}]}}");
	/* the "kubernetes" service of the namespace, and s charged at admission */
	q = fx_get(QUOTA);
	ck_assert_str_eq(mk_json_get_string(q, "status.used.services"), "2");
	cJSON_Delete(q);
}
END_TEST

static bool replica_failure(const cJSON *rs, const void *unused)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(rs, "status.conditions"))
	{
		const char *t = mk_json_get_string(c, "type"), *m = mk_json_get_string(c, "message");
		if (t && !strcmp(t, "ReplicaFailure") && m &&
		    strstr(m, "is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"))
			return !strcmp(mk_json_get_string(c, "reason"), "FailedCreate");
	}
	return false;
}

START_TEST(test_quota_replicaset)
{
	fx_create("/api/v1/namespaces/default/resourcequotas",
		  "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\"},"
		  "\"spec\":{\"hard\":{\"pods\":\"1\"}}}");
	cJSON_Delete(fx_wait(QUOTA, str_at, "status.used.pods=0", "status.used filled"));
	fx_create("/apis/apps/v1/namespaces/default/replicasets",
		  "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"r\"},"
		  "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
		  "\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{"
		  "\"nodeSelector\":{\"nowhere\":\"x\"},\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}");
	cJSON_Delete(fx_wait("/apis/apps/v1/namespaces/default/replicasets/r", replica_failure, NULL,
			     "ReplicaFailure condition with the quota's message"));
	cJSON *l = fx_get(PODS);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(l, "items")), 1);
	cJSON_Delete(l);
}
END_TEST

Suite *resourcequota_suite(void)
{
	Suite *s = suite_create("resourcequota");
	TCase *tc = tcase_create("controller");
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_quota_status);
	tcase_add_test(tc, test_quota_replicaset);
	suite_add_tcase(s, tc);
	return s;
}
