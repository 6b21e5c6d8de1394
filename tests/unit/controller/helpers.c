/* Pure helpers: template hash, IntOrString percentages, canonical JSON, durations. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/controller.h"

START_TEST(test_template_hash)
{
	cJSON *a = cJSON_Parse("{\"metadata\":{\"labels\":{\"app\":\"web\",\"x\":\"y\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}");
	/* the same object with keys in another order */
	cJSON *b = cJSON_Parse("{\"spec\":{\"containers\":[{\"image\":\"nginx\",\"name\":\"c\"}]},"
			       "\"metadata\":{\"labels\":{\"x\":\"y\",\"app\":\"web\"}}}");
	cJSON *c = cJSON_Parse("{\"metadata\":{\"labels\":{\"app\":\"web\",\"x\":\"y\"}},"
			       "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx:2\"}]}}");
	char ha[11], hb[11], hc[11], hcol[11];
	mk_controller_template_hash(a, 0, ha);
	mk_controller_template_hash(b, 0, hb);
	mk_controller_template_hash(c, 0, hc);
	mk_controller_template_hash(a, 1, hcol);
	ck_assert_str_eq(ha, hb);
	ck_assert_str_ne(ha, hc);
	ck_assert_str_ne(ha, hcol);
	ck_assert_uint_ge(strlen(ha), 1);
	ck_assert_uint_le(strlen(ha), 10);
	ck_assert_uint_eq(strspn(ha, "bcdfghjklmnpqrstvwxz2456789"), strlen(ha));
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}
END_TEST

START_TEST(test_int_or_percent)
{
	cJSON *p25 = cJSON_CreateString("25%"), *n2 = cJSON_CreateNumber(2);
	cJSON *bad = cJSON_CreateString("x%"), *neg = cJSON_CreateString("-5%");
	/* maxSurge rounds up, maxUnavailable down, as Kubernetes */
	ck_assert_int_eq(mk_controller_int_or_percent(p25, 3, true, 0), 1);
	ck_assert_int_eq(mk_controller_int_or_percent(p25, 3, false, 0), 0);
	ck_assert_int_eq(mk_controller_int_or_percent(p25, 10, true, 0), 3);
	ck_assert_int_eq(mk_controller_int_or_percent(p25, 10, false, 0), 2);
	ck_assert_int_eq(mk_controller_int_or_percent(n2, 10, false, 0), 2);
	ck_assert_int_eq(mk_controller_int_or_percent(NULL, 4, true, 25), 1);
	ck_assert_int_eq(mk_controller_int_or_percent(bad, 4, true, 25), -1);
	ck_assert_int_eq(mk_controller_int_or_percent(neg, 4, true, 25), -1);
	cJSON_Delete(p25);
	cJSON_Delete(n2);
	cJSON_Delete(bad);
	cJSON_Delete(neg);
}
END_TEST

START_TEST(test_canonical_json)
{
	cJSON *v = cJSON_Parse("{\"b\":[1,2.5,\"x\\\"y\"],\"a\":{\"d\":null,\"c\":true}}");
	struct mk_buf b;
	mk_buf_init(&b);
	mk_json_canonical(v, &b);
	ck_assert_str_eq(b.data, "{\"a\":{\"c\":true,\"d\":null},\"b\":[1,2.5,\"x\\\"y\"]}");
	mk_buf_release(&b);
	cJSON_Delete(v);
}
END_TEST

START_TEST(test_parse_duration)
{
	unsigned ms = 0;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_time_parse_duration("3s", &ms, NULL), 0);
	ck_assert_uint_eq(ms, 3000);
	ck_assert_int_eq(mk_time_parse_duration("500ms", &ms, NULL), 0);
	ck_assert_uint_eq(ms, 500);
	ck_assert_int_eq(mk_time_parse_duration("5m", &ms, NULL), 0);
	ck_assert_uint_eq(ms, 300000);
	ck_assert_int_eq(mk_time_parse_duration("40", &ms, NULL), 0);
	ck_assert_uint_eq(ms, 40000);
	ck_assert_int_eq(mk_time_parse_duration("1.5s", &ms, NULL), 0);
	ck_assert_uint_eq(ms, 1500);
	ck_assert_int_eq(mk_time_parse_duration("3x", &ms, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	ck_assert_int_eq(mk_time_parse_duration("", &ms, &err), -1);
	mk_error_free(&err);
}
END_TEST

START_TEST(test_pod_ready_and_controller_ref)
{
	cJSON *p = cJSON_Parse("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\"},{\"uid\":\"2\",\"controller\":true}]},"
			       "\"status\":{\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},"
			       "{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	ck_assert(mk_controller_pod_ready(p));
	ck_assert_str_eq(mk_json_get_string(mk_api_controller_ref(p), "uid"), "2");
	cJSON *q = cJSON_Parse("{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}]}}");
	ck_assert(!mk_controller_pod_ready(q));
	ck_assert_ptr_null(mk_api_controller_ref(q));
	cJSON_Delete(p);
	cJSON_Delete(q);
}
END_TEST

START_TEST(test_index_functions)
{
	cJSON *p = cJSON_Parse("{\"metadata\":{\"namespace\":\"ns\",\"uid\":\"u\",\"ownerReferences\":"
			       "[{\"uid\":\"o1\"},{\"uid\":\"o2\",\"controller\":true}]},\"spec\":{}}");
	char *v[4];
	ck_assert_int_eq(mk_index_owner_uid(p, v, 4), 2);
	ck_assert_str_eq(v[0], "o1");
	ck_assert_str_eq(v[1], "o2");
	free(v[0]);
	free(v[1]);
	ck_assert_int_eq(mk_index_controller_uid(p, v, 4), 1);
	ck_assert_str_eq(v[0], "o2");
	free(v[0]);
	ck_assert_int_eq(mk_index_pod_node(p, v, 4), 1);
	ck_assert_str_eq(v[0], ""); /* unbound */
	free(v[0]);
	char *key = mk_object_key(p);
	ck_assert_str_eq(key, "ns/");
	free(key);
	cJSON_Delete(p);
}
END_TEST

Suite *helpers_suite(void)
{
	Suite *s = suite_create("helpers");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_template_hash);
	tcase_add_test(tc, test_int_or_percent);
	tcase_add_test(tc, test_canonical_json);
	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_pod_ready_and_controller_ref);
	tcase_add_test(tc, test_index_functions);
	suite_add_tcase(s, tc);
	return s;
}
