/* StatefulSet through the generic entry points: defaults as apps/v1's
 * SetDefaults_StatefulSet, validation with field paths (the pod template checked
 * with the claim templates as volumes), the immutable spec fields on update,
 * Table cells as kubectl prints them. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

static const struct mk_api_resource *sts(void)
{
	return mk_api_resource_find("apps", "v1", "statefulsets");
}

static cJSON *parse(const char *json)
{
	cJSON *o = cJSON_Parse(json);
	ck_assert_ptr_nonnull(o);
	return o;
}

static char *fields(cJSON *causes)
{
	struct mk_buf b;
	const cJSON *c;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	cJSON_ArrayForEach(c, causes)
		mk_buf_printf(&b, "%s%s", b.len ? " " : "", mk_json_get_string(c, "field"));
	return mk_buf_steal(&b);
}

#define GOOD                                                                                       \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"web\","          \
	"\"namespace\":\"default\"},\"spec\":{\"serviceName\":\"nginx\",\"selector\":{\"matchLabels\":"   \
	"{\"app\":\"nginx\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"nginx\"}},\"spec\":"     \
	"{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.27\",\"volumeMounts\":[{\"name\":"     \
	"\"www\",\"mountPath\":\"/usr/share/nginx/html\"}]}]}},\"volumeClaimTemplates\":[{\"metadata\":" \
	"{\"name\":\"www\"},\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":"  \
	"{\"storage\":\"1Gi\"}}}}]}}"

static double num(const cJSON *o, const char *path)
{
	const cJSON *j = mk_json_get(o, path);
	ck_assert_msg(cJSON_IsNumber(j), "%s missing", path);
	return j->valuedouble;
}

START_TEST(test_sts_defaults_and_valid)
{
	ck_assert_ptr_nonnull(sts());
	cJSON *o = parse(GOOD);
	mk_api_default(sts(), o);
	ck_assert_str_eq(mk_json_get_string(o, "spec.podManagementPolicy"), "OrderedReady");
	ck_assert_str_eq(mk_json_get_string(o, "spec.updateStrategy.type"), "RollingUpdate");
	ck_assert(num(o, "spec.updateStrategy.rollingUpdate.partition") == 0);
	ck_assert(num(o, "spec.replicas") == 1);
	ck_assert(num(o, "spec.revisionHistoryLimit") == 10);
	ck_assert_str_eq(mk_json_get_string(o, "spec.persistentVolumeClaimRetentionPolicy.whenDeleted"), "Retain");
	ck_assert_str_eq(mk_json_get_string(o, "spec.persistentVolumeClaimRetentionPolicy.whenScaled"), "Retain");
	/* the template's pod spec is defaulted too */
	ck_assert_str_eq(mk_json_get_string(o, "spec.template.spec.restartPolicy"), "Always");
	cJSON *causes = NULL;
	/* the mount of "www" is the claim template's volume: valid */
	ck_assert_int_eq(mk_api_validate(sts(), o, NULL, &causes), 0);

	/* OnDelete keeps no rollingUpdate */
	cJSON *d = parse("{\"spec\":{\"updateStrategy\":{\"type\":\"OnDelete\"}}}");
	mk_api_default(sts(), d);
	ck_assert_ptr_null(mk_json_get(d, "spec.updateStrategy.rollingUpdate"));
	cJSON_Delete(d);
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_sts_invalid_fields)
{
	cJSON *o = parse(GOOD);
	mk_api_default(sts(), o);
	cJSON *spec = cJSON_GetObjectItem(o, "spec");
	cJSON_ReplaceItemInObject(spec, "podManagementPolicy", cJSON_CreateString("Sometimes"));
	cJSON_ReplaceItemInObject(spec, "replicas", cJSON_CreateNumber(-1));
	mk_json_set(spec, "updateStrategy", parse("{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":-2}}"));
	mk_json_set(spec, "persistentVolumeClaimRetentionPolicy", parse("{\"whenDeleted\":\"Keep\"}"));
	mk_json_set(spec, "volumeClaimTemplates", parse("[{\"metadata\":{\"name\":\"data\"},\"spec\":{}}]"));
	cJSON_ReplaceItemInObject(mk_json_get(spec, "selector"), "matchLabels", parse("{\"app\":\"other\"}"));
	cJSON *causes = NULL;
	ck_assert_int_eq(mk_api_validate(sts(), o, NULL, &causes), -1);
	char *f = fields(causes);
	ck_assert_str_eq(f, "spec.podManagementPolicy spec.updateStrategy.rollingUpdate.partition "
			    "spec.persistentVolumeClaimRetentionPolicy.whenDeleted spec.replicas "
			    "spec.volumeClaimTemplates[0].spec.accessModes "
			    "spec.volumeClaimTemplates[0].spec.resources[storage] "
			    "spec.template.metadata.labels spec.template.spec.containers[0].volumeMounts[0].name");
	free(f);
	cJSON_Delete(causes);
	cJSON_Delete(o);

	/* restartPolicy other than Always, activeDeadlineSeconds, bad update type */
	o = parse(GOOD);
	mk_api_default(sts(), o);
	mk_json_set_string(mk_json_get(o, "spec.template.spec"), "restartPolicy", "Never");
	mk_json_set(mk_json_get(o, "spec.template.spec"), "activeDeadlineSeconds", cJSON_CreateNumber(5));
	mk_json_set(cJSON_GetObjectItem(o, "spec"), "updateStrategy", parse("{\"type\":\"Sometimes\"}"));
	causes = NULL;
	ck_assert_int_eq(mk_api_validate(sts(), o, NULL, &causes), -1);
	f = fields(causes);
	ck_assert_str_eq(f, "spec.updateStrategy spec.template.spec.restartPolicy "
			    "spec.template.spec.activeDeadlineSeconds");
	free(f);
	cJSON_Delete(causes);
	cJSON_Delete(o);
}
END_TEST

START_TEST(test_sts_update_immutable)
{
	cJSON *old = parse(GOOD), *upd = parse(GOOD);
	mk_api_default(sts(), old);
	mk_api_default(sts(), upd);
	cJSON *spec = cJSON_GetObjectItem(upd, "spec");
	/* the mutable fields may change */
	cJSON_ReplaceItemInObject(spec, "replicas", cJSON_CreateNumber(5));
	mk_json_set(spec, "updateStrategy", parse("{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":2}}"));
	cJSON_ReplaceItemInObject(spec, "revisionHistoryLimit", cJSON_CreateNumber(3));
	mk_json_set(spec, "minReadySeconds", cJSON_CreateNumber(4));
	mk_json_set(spec, "ordinals", parse("{\"start\":1}"));
	cJSON *causes = NULL;
	ck_assert_int_eq(mk_api_validate(sts(), upd, old, &causes), 0);
	/* the others may not */
	mk_json_set_string(spec, "serviceName", "other");
	ck_assert_int_eq(mk_api_validate(sts(), upd, old, &causes), -1);
	const cJSON *c = cJSON_GetArrayItem(causes, 0);
	ck_assert_int_eq(cJSON_GetArraySize(causes), 1);
	ck_assert_str_eq(mk_json_get_string(c, "field"), "spec");
	ck_assert_str_eq(mk_json_get_string(c, "reason"), "FieldValueForbidden");
	ck_assert_ptr_nonnull(strstr(mk_json_get_string(c, "message"),
				     "updates to statefulset spec for fields other than 'replicas'"));
	cJSON_Delete(causes);
	cJSON_Delete(upd);
	cJSON_Delete(old);
}
END_TEST

START_TEST(test_sts_table)
{
	cJSON *o = parse(GOOD);
	mk_api_default(sts(), o);
	mk_json_set(o, "status", parse("{\"replicas\":1,\"readyReplicas\":1}"));
	cJSON *t = mk_api_table_new(sts(), true);
	mk_api_table_add_row(t, sts(), o, false);
	const cJSON *cols = cJSON_GetObjectItem(t, "columnDefinitions");
	ck_assert_int_eq(cJSON_GetArraySize(cols), 5);
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cols, 1), "name"), "Ready");
	ck_assert_int_eq((int)num(cJSON_GetArrayItem(cols, 3), "priority"), 1);
	const cJSON *cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 0)->valuestring, "web");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 1)->valuestring, "1/1");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 3)->valuestring, "nginx");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 4)->valuestring, "nginx:1.27");
	cJSON_Delete(t);
	cJSON_Delete(o);
}
END_TEST

Suite *statefulset_suite(void)
{
	Suite *s = suite_create("statefulset");
	TCase *tc = tcase_create("statefulset");
	tcase_add_test(tc, test_sts_defaults_and_valid);
	tcase_add_test(tc, test_sts_invalid_fields);
	tcase_add_test(tc, test_sts_update_immutable);
	tcase_add_test(tc, test_sts_table);
	suite_add_tcase(s, tc);
	return s;
}
