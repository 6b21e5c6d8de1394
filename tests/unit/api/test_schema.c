/* The schema source and the documents generated from it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

START_TEST(schema_every_kind)
{
	struct mk_error *err = NULL;
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);

	ck_assert_msg(mk_api_schema_check(&err) == 0, "%s", err ? err->msg : "");
	ck_assert_uint_gt(n, 0);
	_cleanup_cjson_ cJSON *comp = mk_api_schema_v3_components();
	for (size_t i = 0; i < n; i++) {
		const char *name = mk_api_schema_kind_name(rs[i].group, rs[i].version, rs[i].kind);
		ck_assert_msg(name, "no schema for %s", rs[i].kind);
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(comp, name);
		ck_assert_ptr_nonnull(s);
		const cJSON *gvk = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "x-kubernetes-group-version-kind"), 0);
		ck_assert_str_eq(mk_json_get_string(gvk, "kind"), rs[i].kind);
		ck_assert_str_eq(mk_json_get_string(gvk, "group"), rs[i].group);
		ck_assert_ptr_nonnull(mk_json_get(s, "properties.metadata"));
	}
	ck_assert_ptr_nonnull(mk_api_schema_kind_name("authorization.k8s.io", "v1",
						      "SelfSubjectAccessReview"));
	ck_assert_ptr_nonnull(mk_api_schema_kind_name("authentication.k8s.io", "v1",
						      "SelfSubjectReview"));
	ck_assert_ptr_null(mk_api_schema_kind_name("", "v1", "Foo"));
}
END_TEST

START_TEST(schema_field_lookup)
{
	char *t = mk_api_schema_field_type("", "v1", "Pod", "spec.containers");
	ck_assert_str_eq(t, "[]io.k8s.api.core.v1.Container");
	free(t);
	t = mk_api_schema_field_type("", "v1", "Pod", "spec.containers.ports.containerPort");
	ck_assert_str_eq(t, "int32");
	free(t);
	t = mk_api_schema_field_type("apps", "v1", "Deployment", "spec.template.metadata.labels");
	ck_assert_str_eq(t, "map[]string");
	free(t);
	t = mk_api_schema_field_type("apps", "v1", "Deployment", "spec.strategy.rollingUpdate.maxSurge");
	ck_assert_str_eq(t, "io.k8s.apimachinery.pkg.util.intstr.IntOrString");
	free(t);
	ck_assert_ptr_null(mk_api_schema_field_type("", "v1", "Pod", "spec.containerz"));
	ck_assert_ptr_null(mk_api_schema_field_type("", "v1", "Pod", "metadata.name.x"));
}
END_TEST

START_TEST(schema_v3_field_shapes)
{
	_cleanup_cjson_ cJSON *comp = mk_api_schema_v3_components();
	const cJSON *pod = cJSON_GetObjectItemCaseSensitive(comp, "io.k8s.api.core.v1.PodSpec");
	const cJSON *c = mk_json_get(pod, "properties.containers");
	ck_assert_str_eq(mk_json_get_string(c, "type"), "array");
	ck_assert_str_eq(mk_json_get_string(c, "items.$ref"),
			 "#/components/schemas/io.k8s.api.core.v1.Container");
	ck_assert_str_eq(mk_json_get_string(c, "x-kubernetes-patch-merge-key"), "name");
	ck_assert_str_eq(mk_json_get_string(c, "x-kubernetes-patch-strategy"), "merge");
	ck_assert_str_eq(mk_json_get_string(c, "x-kubernetes-list-type"), "map");
	ck_assert(strlen(mk_json_get_string(c, "description")) > 10);
	const cJSON *req = cJSON_GetObjectItem(pod, "required");
	ck_assert_str_eq(cJSON_GetArrayItem(req, 0)->valuestring, "containers");
	const cJSON *sc = mk_json_get(pod, "properties.securityContext.allOf");
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(sc, 0), "$ref"),
			 "#/components/schemas/io.k8s.api.core.v1.PodSecurityContext");
	_cleanup_cjson_ cJSON *v2 = mk_api_schema_v2_document();
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(mk_json_get(v2, "definitions"),
							  "io.k8s.api.apps.v1.DeploymentSpec");
	ck_assert_str_eq(mk_json_get_string(d, "properties.template.$ref"),
			 "#/definitions/io.k8s.api.core.v1.PodTemplateSpec");
}
END_TEST

START_TEST(schema_v2_protobuf)
{
	_cleanup_cjson_ cJSON *v2 = mk_api_schema_v2_document();
	char *pb = NULL;
	size_t len = 0;
	ck_assert_int_eq(mk_api_schema_v2_protobuf(v2, &pb, &len, NULL), 0);
	/* field 1 (swagger) comes first: tag 0x0a, length 3, "2.0" */
	ck_assert_uint_gt(len, 1000);
	ck_assert_int_eq((unsigned char)pb[0], 0x0a);
	ck_assert_int_eq(pb[1], 3);
	ck_assert(!memcmp(pb + 2, "2.0", 3));
	ck_assert_ptr_nonnull(memmem(pb, len, "io.k8s.api.core.v1.Pod", 22));
	ck_assert_ptr_nonnull(memmem(pb, len, "x-kubernetes-group-version-kind", 31));
	free(pb);
}
END_TEST

START_TEST(schema_unknown_fields)
{
	_cleanup_cjson_ cJSON *pod = cJSON_Parse(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\",\"labels\":"
		"{\"x\":\"y\"},\"bogus\":1},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
		"\"i\",\"imagePullPolicyy\":\"Always\",\"resources\":{\"limits\":{\"cpu\":\"1\"}}},"
		"{\"name\":\"d\",\"ports\":[{\"containerPort\":80,\"nam\":\"x\"}]}],"
		"\"affinity\":{\"anything\":{}}},\"extra\":true}");
	_cleanup_cjson_ cJSON *u = mk_api_schema_unknown_fields("", "v1", "Pod", pod);
	_cleanup_free_ char *s = cJSON_PrintUnformatted(u);
	ck_assert_str_eq(s, "[\"metadata.bogus\",\"spec.containers[0].imagePullPolicyy\","
			    "\"spec.containers[1].ports[0].nam\",\"extra\"]");
	_cleanup_cjson_ cJSON *ok = cJSON_Parse(
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\"},"
		"\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":"
		"{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
		"\"image\":\"i\"}]}}}}");
	_cleanup_cjson_ cJSON *u2 = mk_api_schema_unknown_fields("apps", "v1", "Deployment", ok);
	ck_assert_int_eq(cJSON_GetArraySize(u2), 0);
}
END_TEST

Suite *schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("schema");
	tcase_add_test(tc, schema_every_kind);
	tcase_add_test(tc, schema_field_lookup);
	tcase_add_test(tc, schema_v3_field_shapes);
	tcase_add_test(tc, schema_v2_protobuf);
	tcase_add_test(tc, schema_unknown_fields);
	suite_add_tcase(s, tc);
	return s;
}
