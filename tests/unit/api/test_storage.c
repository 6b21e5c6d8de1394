/* PersistentVolume, PersistentVolumeClaim and StorageClass: defaults, validation
 * (field paths and reasons as kube-apiserver's), update rules and Table cells;
 * resource.Quantity values. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

static const struct mk_api_resource *res(const char *gv, const char *kind)
{
	const struct mk_api_resource *r = mk_api_resource_by_kind(gv, kind);
	ck_assert_ptr_nonnull(r);
	return r;
}

/* "field:reason field:reason ..." of the causes (or "" when valid). */
static char *causes_of(const char *gv, const char *kind, const char *json, const char *old_json)
{
	cJSON *o = cJSON_Parse(json), *old = old_json ? cJSON_Parse(old_json) : NULL, *causes = NULL;
	ck_assert_ptr_nonnull(o);
	const struct mk_api_resource *r = res(gv, kind);
	mk_api_default(r, o);
	if (old)
		mk_api_default(r, old);
	struct mk_buf b;
	mk_buf_init(&b);
	if (mk_api_validate(r, o, old, &causes) < 0) {
		const cJSON *c;
		cJSON_ArrayForEach(c, causes)
			mk_buf_printf(&b, "%s%s:%s", b.len ? " " : "", mk_json_get_string(c, "field"),
				      mk_json_get_string(c, "reason"));
	}
	char *s = mk_strdup(b.data ? b.data : "");
	mk_buf_release(&b);
	cJSON_Delete(causes);
	cJSON_Delete(o);
	cJSON_Delete(old);
	return s;
}

#define EXPECT_CAUSES(gv, kind, json, old, want)                    \
	do {                                                        \
		char *got_ = causes_of(gv, kind, json, old);         \
		ck_assert_msg(!strcmp(got_, want), "got '%s', want '%s'", got_, want); \
		free(got_);                                         \
	} while (0)

#define PVC_MD "\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"metadata\":{\"name\":\"c\",\"namespace\":\"default\"}"
#define PV_MD "\"apiVersion\":\"v1\",\"kind\":\"PersistentVolume\",\"metadata\":{\"name\":\"v\"}"
#define SC_MD "\"apiVersion\":\"storage.k8s.io/v1\",\"kind\":\"StorageClass\",\"metadata\":{\"name\":\"s\"}"

START_TEST(test_quantity)
{
	struct {
		const char *s;
		int64_t v;
	} cases[] = { { "1Gi", 1073741824LL }, { "500M", 500000000LL }, { "2", 2 }, { "1.5Ki", 1536 },
		      { "1e3", 1000 }, { "0", 0 }, { "10m", 1 }, { "abc", -1 }, { "1Gb", -1 }, { "", -1 },
		      { "1 Gi", -1 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *q = cJSON_CreateString(cases[i].s);
		ck_assert_msg(mk_api_quantity_value(q) == cases[i].v, "%s: %lld", cases[i].s,
			      (long long)mk_api_quantity_value(q));
		cJSON_Delete(q);
	}
	cJSON *n = cJSON_CreateNumber(42);
	ck_assert_int_eq(mk_api_quantity_value(n), 42);
	cJSON_Delete(n);
}
END_TEST

START_TEST(test_pvc_defaults_and_validation)
{
	cJSON *o = cJSON_Parse("{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],"
			       "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}");
	mk_api_default(res("v1", "PersistentVolumeClaim"), o);
	ck_assert_str_eq(mk_json_get_string(o, "spec.volumeMode"), "Filesystem");
	ck_assert_str_eq(mk_json_get_string(o, "status.phase"), "Pending");
	cJSON_Delete(o);

	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}",
		      NULL, "");
	EXPECT_CAUSES("v1", "PersistentVolumeClaim", "{" PVC_MD ",\"spec\":{}}", NULL,
		      "spec.accessModes:FieldValueRequired spec.resources[storage]:FieldValueRequired");
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteSometimes\"],\"volumeMode\":\"Raw\","
		      "\"storageClassName\":\"Bad_Name\",\"resources\":{\"requests\":{\"storage\":\"0\"}}}}",
		      NULL,
		      "spec.accessModes:FieldValueNotSupported spec.resources.requests[storage]:FieldValueInvalid "
		      "spec.storageClassName:FieldValueInvalid spec.volumeMode:FieldValueNotSupported");
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOncePod\",\"ReadWriteOnce\"],"
		      "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}",
		      NULL, "spec.accessModes:FieldValueForbidden");
}
END_TEST

START_TEST(test_pvc_update_rules)
{
	const char *old = "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"a\","
			  "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}";
	/* the binder sets volumeName once */
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"a\","
		      "\"volumeName\":\"pv1\",\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}",
		      old, "");
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteMany\"],\"storageClassName\":\"a\","
		      "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}}}",
		      old, "spec:FieldValueForbidden");
	/* a bigger request: only once bound */
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"a\","
		      "\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}}}",
		      old, "spec:FieldValueForbidden");
	const char *bound_old = "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"a\","
				"\"volumeName\":\"pv1\",\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}},"
				"\"status\":{\"phase\":\"Bound\"}}";
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"a\","
		      "\"volumeName\":\"pv1\",\"resources\":{\"requests\":{\"storage\":\"2Gi\"}}},\"status\":{\"phase\":\"Bound\"}}",
		      bound_old, "");
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"a\","
		      "\"volumeName\":\"pv1\",\"resources\":{\"requests\":{\"storage\":\"512Mi\"}}},\"status\":{\"phase\":\"Bound\"}}",
		      bound_old, "spec.resources.requests.storage:FieldValueForbidden");
	/* volumeName, once set, stays */
	EXPECT_CAUSES("v1", "PersistentVolumeClaim",
		      "{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"a\","
		      "\"volumeName\":\"pv2\",\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}},\"status\":{\"phase\":\"Bound\"}}",
		      bound_old, "spec:FieldValueForbidden");
}
END_TEST

START_TEST(test_pv_validation)
{
	cJSON *o = cJSON_Parse("{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},"
			       "\"accessModes\":[\"ReadWriteOnce\"],\"hostPath\":{\"path\":\"/x\"}}}");
	mk_api_default(res("v1", "PersistentVolume"), o);
	ck_assert_str_eq(mk_json_get_string(o, "spec.persistentVolumeReclaimPolicy"), "Retain");
	ck_assert_str_eq(mk_json_get_string(o, "spec.volumeMode"), "Filesystem");
	ck_assert_str_eq(mk_json_get_string(o, "status.phase"), "Pending");
	cJSON_Delete(o);

	EXPECT_CAUSES("v1", "PersistentVolume", "{" PV_MD ",\"spec\":{}}", NULL,
		      "spec.capacity:FieldValueRequired spec.accessModes:FieldValueRequired spec:FieldValueRequired");
	EXPECT_CAUSES("v1", "PersistentVolume",
		      "{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},\"accessModes\":[\"ReadWriteOnce\"],"
		      "\"persistentVolumeReclaimPolicy\":\"Shred\",\"hostPath\":{\"path\":\"rel/../x\"},"
		      "\"nfs\":{\"server\":\"a\",\"path\":\"/\"}}}",
		      NULL,
		      "spec.persistentVolumeReclaimPolicy:FieldValueNotSupported spec.nfs:FieldValueForbidden "
		      "spec.hostPath.path:FieldValueInvalid");
	EXPECT_CAUSES("v1", "PersistentVolume",
		      "{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},\"accessModes\":[\"ReadWriteOnce\"],"
		      "\"local\":{\"path\":\"/mnt/d\"}}}",
		      NULL, "spec.nodeAffinity:FieldValueRequired");
	EXPECT_CAUSES("v1", "PersistentVolume",
		      "{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},\"accessModes\":[\"ReadWriteOnce\"],"
		      "\"local\":{\"path\":\"/mnt/d\"},\"nodeAffinity\":{\"required\":{\"nodeSelectorTerms\":[{"
		      "\"matchExpressions\":[{\"key\":\"kubernetes.io/hostname\",\"operator\":\"Near\"}]}]}}}}",
		      NULL, "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].operator:FieldValueInvalid");
	/* the source is immutable; the status is not */
	const char *old = "{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},\"accessModes\":[\"ReadWriteOnce\"],"
			  "\"hostPath\":{\"path\":\"/x\"}}}";
	EXPECT_CAUSES("v1", "PersistentVolume",
		      "{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"1Gi\"},\"accessModes\":[\"ReadWriteOnce\"],"
		      "\"hostPath\":{\"path\":\"/y\"}}}",
		      old, "spec.persistentvolumesource:FieldValueForbidden");
	EXPECT_CAUSES("v1", "PersistentVolume",
		      "{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"2Gi\"},\"accessModes\":[\"ReadWriteOnce\"],"
		      "\"hostPath\":{\"path\":\"/x\"}},\"status\":{\"phase\":\"Bound\"}}",
		      old, "");
}
END_TEST

START_TEST(test_storageclass)
{
	cJSON *o = cJSON_Parse("{" SC_MD ",\"provisioner\":\"example.com/x\"}");
	mk_api_default(res("storage.k8s.io/v1", "StorageClass"), o);
	ck_assert_str_eq(mk_json_get_string(o, "reclaimPolicy"), "Delete");
	ck_assert_str_eq(mk_json_get_string(o, "volumeBindingMode"), "Immediate");
	ck_assert(!mk_api_storageclass_is_default(o));
	cJSON_Delete(o);
	EXPECT_CAUSES("storage.k8s.io/v1", "StorageClass",
		      "{" SC_MD ",\"reclaimPolicy\":\"Recycle\",\"volumeBindingMode\":\"Later\"}", NULL,
		      "provisioner:FieldValueRequired reclaimPolicy:FieldValueNotSupported "
		      "volumeBindingMode:FieldValueNotSupported");
	const char *old = "{" SC_MD ",\"provisioner\":\"example.com/x\"}";
	EXPECT_CAUSES("storage.k8s.io/v1", "StorageClass",
		      "{" SC_MD ",\"provisioner\":\"example.com/x\",\"allowVolumeExpansion\":true}", old, "");
	EXPECT_CAUSES("storage.k8s.io/v1", "StorageClass",
		      "{" SC_MD ",\"provisioner\":\"example.com/y\",\"parameters\":{\"k\":\"v\"},"
		      "\"volumeBindingMode\":\"WaitForFirstConsumer\"}",
		      old, "parameters:FieldValueForbidden provisioner:FieldValueForbidden volumeBindingMode:FieldValueInvalid");

	/* Table: "(default)" after the default class's name */
	cJSON *sc = cJSON_Parse("{" SC_MD ",\"provisioner\":\"rancher.io/local-path\",\"reclaimPolicy\":\"Delete\","
				"\"volumeBindingMode\":\"WaitForFirstConsumer\"}");
	cJSON_AddItemToObject(cJSON_GetObjectItem(sc, "metadata"), "annotations",
			      cJSON_Parse("{\"storageclass.kubernetes.io/is-default-class\":\"true\"}"));
	const struct mk_api_resource *r = res("storage.k8s.io/v1", "StorageClass");
	cJSON *t = mk_api_table_new(r, true);
	mk_api_table_add_row(t, r, sc, time(NULL));
	const cJSON *cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 0)->valuestring, "s (default)");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 3)->valuestring, "WaitForFirstConsumer");
	ck_assert(cJSON_IsFalse(cJSON_GetArrayItem(cells, 4)));
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "columnDefinitions"), 4), "name"),
			 "AllowVolumeExpansion");
	cJSON_Delete(t);
	cJSON_Delete(sc);
}
END_TEST

START_TEST(test_pv_pvc_tables)
{
	const struct mk_api_resource *r = res("v1", "PersistentVolume");
	cJSON *pv = cJSON_Parse("{" PV_MD ",\"spec\":{\"capacity\":{\"storage\":\"2Gi\"},"
				"\"accessModes\":[\"ReadOnlyMany\",\"ReadWriteOnce\"],\"hostPath\":{\"path\":\"/x\"},"
				"\"persistentVolumeReclaimPolicy\":\"Delete\",\"storageClassName\":\"local-path\","
				"\"claimRef\":{\"namespace\":\"ns\",\"name\":\"c\"}},\"status\":{\"phase\":\"Bound\"}}");
	cJSON *t = mk_api_table_new(r, true);
	mk_api_table_add_row(t, r, pv, time(NULL));
	const cJSON *cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	const char *want[] = { "v", "2Gi", "RWO,ROX", "Delete", "Bound", "ns/c", "local-path", "<unset>", "" };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_str_eq(cJSON_GetArrayItem(cells, (int)i)->valuestring, want[i]);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(t, "columnDefinitions")), 11);
	cJSON_Delete(t);
	cJSON_Delete(pv);

	r = res("v1", "PersistentVolumeClaim");
	cJSON *c = cJSON_Parse("{" PVC_MD ",\"spec\":{\"accessModes\":[\"ReadWriteOnce\"],\"storageClassName\":\"local-path\","
			       "\"resources\":{\"requests\":{\"storage\":\"1Gi\"}}},\"status\":{\"phase\":\"Pending\"}}");
	t = mk_api_table_new(r, true);
	mk_api_table_add_row(t, r, c, time(NULL));
	cells = mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells");
	const char *want2[] = { "c", "Pending", "", "", "", "local-path", "<unset>" };
	for (size_t i = 0; i < sizeof(want2) / sizeof(want2[0]); i++)
		ck_assert_str_eq(cJSON_GetArrayItem(cells, (int)i)->valuestring, want2[i]);
	cJSON_Delete(t);
	cJSON_Delete(c);
}
END_TEST

Suite *storage_suite(void)
{
	Suite *s = suite_create("storage");
	TCase *tc = tcase_create("storage");
	tcase_add_test(tc, test_quantity);
	tcase_add_test(tc, test_pvc_defaults_and_validation);
	tcase_add_test(tc, test_pvc_update_rules);
	tcase_add_test(tc, test_pv_validation);
	tcase_add_test(tc, test_storageclass);
	tcase_add_test(tc, test_pv_pvc_tables);
	suite_add_tcase(s, tc);
	return s;
}
