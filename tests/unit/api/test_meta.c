/* meta.c: the finalizer reader and the skeleton of server-made objects. */
#include <check.h>
#include <string.h>
#include <time.h>
#include "minik8s/api.h"

START_TEST(object_new_namespaced)
{
	time_t before = time(NULL);
	cJSON *o = mk_api_object_new("v1", "ConfigMap", "kube-system", "kube-root-ca.crt");
	time_t after = time(NULL);
	ck_assert_str_eq(mk_json_get_string(o, "apiVersion"), "v1");
	ck_assert_str_eq(mk_json_get_string(o, "kind"), "ConfigMap");
	ck_assert_str_eq(mk_json_get_string(o, "metadata.name"), "kube-root-ca.crt");
	ck_assert_str_eq(mk_json_get_string(o, "metadata.namespace"), "kube-system");
	/* apiVersion, kind, metadata first, as the server writes objects */
	ck_assert_str_eq(o->child->string, "apiVersion");
	ck_assert_str_eq(o->child->next->string, "kind");
	ck_assert_str_eq(o->child->next->next->string, "metadata");
	const char *uid = mk_json_get_string(o, "metadata.uid");
	ck_assert_ptr_nonnull(uid);
	ck_assert_uint_eq(strlen(uid), 36);
	ck_assert_int_eq(uid[14], '4'); /* a version 4 UUID */
	const char *ts = mk_json_get_string(o, "metadata.creationTimestamp");
	ck_assert_ptr_nonnull(ts);
	struct tm tm = { 0 };
	const char *end = strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	ck_assert_msg(end && !*end, "creationTimestamp '%s' is not RFC 3339 UTC", ts);
	time_t t = timegm(&tm);
	ck_assert(t >= before && t <= after);
	cJSON_Delete(o);
}
END_TEST

START_TEST(object_new_cluster_scoped)
{
	cJSON *a = mk_api_object_new("v1", "Namespace", NULL, "default");
	cJSON *b = mk_api_object_new("v1", "Namespace", NULL, "default");
	ck_assert_ptr_null(mk_json_get(a, "metadata.namespace"));
	ck_assert_str_eq(mk_json_get_string(a, "metadata.name"), "default");
	/* every object gets its own uid */
	ck_assert_str_ne(mk_json_get_string(a, "metadata.uid"), mk_json_get_string(b, "metadata.uid"));
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(a, "metadata")), 3);
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

START_TEST(finalizer_has)
{
	cJSON *o = cJSON_Parse("{\"metadata\":{\"finalizers\":[\"orphan\",1,\"x/y\"]}}");
	ck_assert(mk_api_finalizer_has(o, "orphan"));
	ck_assert(mk_api_finalizer_has(o, "x/y"));
	ck_assert(!mk_api_finalizer_has(o, "foregroundDeletion"));
	ck_assert(!mk_api_finalizer_has(NULL, "orphan"));
	cJSON_Delete(o);
}
END_TEST

Suite *meta_suite(void)
{
	Suite *s = suite_create("meta");
	TCase *tc = tcase_create("meta");
	tcase_add_test(tc, object_new_namespaced);
	tcase_add_test(tc, object_new_cluster_scoped);
	tcase_add_test(tc, finalizer_has);
	suite_add_tcase(s, tc);
	return s;
}
