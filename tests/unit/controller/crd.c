/* CustomResourceDefinitions with the controller manager on a real API server: the
 * kind is served as soon as the definition is created, its objects are
 * garbage-collected by their ownerReferences (an informer made at run time), and
 * deleting the definition deletes its objects first (the cleanup finalizer),
 * then the definition. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

#define CRDS "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
#define GADGETS "/apis/test.example.com/v1/namespaces/default/gadgets"

static void make_crd(void)
{
	fx_create(CRDS,
		  "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		  "\"metadata\":{\"name\":\"gadgets.test.example.com\"},\"spec\":{\"group\":\"test.example.com\","
		  "\"scope\":\"Namespaced\",\"names\":{\"plural\":\"gadgets\",\"kind\":\"Gadget\"},"
		  "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"schema\":{\"openAPIV3Schema\":"
		  "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":"
		  "{\"size\":{\"type\":\"integer\"}}}}}}}]}}");
}

static bool gone(const cJSON *obj, const void *unused)
{
	(void)unused;
	return obj == NULL;
}

static bool present(const cJSON *obj, const void *unused)
{
	(void)unused;
	return obj != NULL;
}

START_TEST(test_crd_served_and_cleaned_up)
{
	make_crd();
	/* served by the time the create returned */
	cJSON *l = fx_get(GADGETS);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(mk_json_get_string(l, "kind"), "GadgetList");
	cJSON_Delete(l);
	fx_create(GADGETS, "{\"apiVersion\":\"test.example.com/v1\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"g1\"},"
			   "\"spec\":{\"size\":1}}");
	cJSON *crd = fx_get(CRDS "/gadgets.test.example.com");
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(crd, "metadata.finalizers"), 0)->valuestring,
			 MK_API_CRD_CLEANUP_FINALIZER);
	cJSON_Delete(crd);

	struct mk_error *err = NULL;
	if (mk_client_delete(fx_cli, CRDS "/gadgets.test.example.com", NULL, NULL, &err) < 0)
		ck_abort_msg("delete: %s", err->msg);
	cJSON_Delete(fx_wait(CRDS "/gadgets.test.example.com", gone, NULL, "definition deleted"));
	/* its objects went before it, and the kind is no longer served */
	ck_assert_ptr_null(fx_get(GADGETS "/g1"));
	ck_assert_ptr_null(mk_api_resource_find("test.example.com", "v1", "gadgets"));
}
END_TEST

START_TEST(test_crd_objects_garbage_collected)
{
	make_crd();
	fx_create("/api/v1/namespaces/default/configmaps",
		  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"owner\"}}");
	cJSON *cm = fx_get("/api/v1/namespaces/default/configmaps/owner");
	char *j = mk_strdup_printf(
		"{\"apiVersion\":\"test.example.com/v1\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"owned\","
		"\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner\",\"uid\":\"%s\"}]}}",
		mk_json_get_string(cm, "metadata.uid"));
	cJSON_Delete(cm);
	fx_create(GADGETS, j);
	free(j);
	cJSON_Delete(fx_wait(GADGETS "/owned", present, NULL, "created"));
	struct mk_error *err = NULL;
	if (mk_client_delete(fx_cli, "/api/v1/namespaces/default/configmaps/owner", NULL, NULL, &err) < 0)
		ck_abort_msg("delete: %s", err->msg);
	cJSON_Delete(fx_wait(GADGETS "/owned", gone, NULL, "custom dependent collected"));
}
END_TEST

Suite *crd_suite(void)
{
	Suite *s = suite_create("crd");
	TCase *tc = tcase_create("crd");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_crd_served_and_cleaned_up);
	tcase_add_test(tc, test_crd_objects_garbage_collected);
	suite_add_tcase(s, tc);
	return s;
}
