/* The controller manager and the ReplicaSet controller against a real API server
 * on an in-memory store: given a ReplicaSet, exactly its replicas are created
 * (no duplicates once the caches settle), its status follows, and the manager
 * stops promptly. */
#include <check.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/api.h"
#include "fixture.h"

static int count_owned_pods(const char *kind, const char *prefix)
{
	cJSON *list = fx_get("/api/v1/namespaces/default/pods?labelSelector=app%3Drs");
	int n = 0;
	cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		const cJSON *ref = mk_api_controller_ref(it);
		if (ref && !strcmp(mk_json_get_string(ref, "kind"), kind) &&
		    !strncmp(mk_json_get_string(it, "metadata.name"), prefix, strlen(prefix)))
			n++;
	}
	cJSON_Delete(list);
	return n;
}

static bool status_replicas_is(const cJSON *rs, const void *want)
{
	const cJSON *v = mk_json_get(rs, "status.replicas");
	return cJSON_IsNumber(v) && v->valueint == *(const int *)want;
}

START_TEST(test_replicaset_creates_exactly_its_replicas)
{
	fx_create("/apis/apps/v1/namespaces/default/replicasets",
		  "{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"metadata\":{\"name\":\"rs\"},"
		  "\"spec\":{\"replicas\":4,\"selector\":{\"matchLabels\":{\"app\":\"rs\"}},"
		  "\"template\":{\"metadata\":{\"labels\":{\"app\":\"rs\"}},\"spec\":{\"containers\":"
		  "[{\"name\":\"c\",\"image\":\"x\"}]}}}}");
	int n = 0;
	for (int i = 0; i < 200 && (n = count_owned_pods("ReplicaSet", "rs-")) != 4; i++)
		usleep(50000);
	ck_assert_int_eq(n, 4);
	/* no duplicates after the caches settle */
	usleep(300000);
	ck_assert_int_eq(count_owned_pods("ReplicaSet", "rs-"), 4);
	int want = 4;
	cJSON_Delete(fx_wait("/apis/apps/v1/namespaces/default/replicasets/rs", status_replicas_is, &want,
			     "status.replicas == 4"));
	/* scale down: the surplus goes */
	fx_patch("/apis/apps/v1/namespaces/default/replicasets/rs", "{\"spec\":{\"replicas\":1}}");
	want = 1;
	cJSON_Delete(fx_wait("/apis/apps/v1/namespaces/default/replicasets/rs", status_replicas_is, &want,
			     "status.replicas == 1"));
	ck_assert_int_le(count_owned_pods("ReplicaSet", "rs-"), 1);

	uint64_t t0 = mk_time_mono_ns();
	mk_controllers_stop(fx_ctl);
	fx_ctl = NULL;
	ck_assert_uint_lt((mk_time_mono_ns() - t0) / 1000000, 3000);
}
END_TEST

TCase *leader_tcase(void); /* leader.c */

Suite *manager_suite(void)
{
	Suite *s = suite_create("manager");
	TCase *tc = tcase_create("replicaset");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_replicaset_creates_exactly_its_replicas);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, leader_tcase());
	return s;
}
