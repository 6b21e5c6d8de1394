/* Admission arithmetic: canonical quantities, LimitRange defaults, validation and
 * the LimitRanger's defaults and checks (upstream's words), what objects count
 * against a ResourceQuota and its admission check. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

static const struct mk_api_resource *res(const char *gv, const char *kind)
{
	const struct mk_api_resource *r = mk_api_resource_by_kind(gv, kind);
	ck_assert_ptr_nonnull(r);
	return r;
}

START_TEST(test_quantity_format)
{
	struct {
		int64_t milli;
		bool bin;
		const char *want;
	} cases[] = { { 0, false, "0" },	   { 1500, false, "1500m" },
		      { 1000, false, "1" },	   { 2000000, false, "2k" },
		      { 500, true, "500m" },	   { 1073741824000LL, true, "1Gi" },
		      { 1610612736000LL, true, "1536Mi" }, { 1000000, true, "1k" }, { 1500000, true, "1500" },
		      { 1048576000, true, "1Mi" }, { -2000, false, "-2" } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char b[32];
		mk_api_quantity_format(cases[i].milli, cases[i].bin, b, sizeof(b));
		ck_assert_str_eq(b, cases[i].want);
	}
	char b[32];
	cJSON *q = cJSON_CreateString("0.5");
	mk_api_quantity_canonical(q, b, sizeof(b));
	ck_assert_str_eq(b, "500m");
	cJSON_SetValuestring(q, "1024Mi");
	mk_api_quantity_canonical(q, b, sizeof(b));
	ck_assert_str_eq(b, "1Gi");
	cJSON_SetValuestring(q, "1000m");
	mk_api_quantity_canonical(q, b, sizeof(b));
	ck_assert_str_eq(b, "1");
	cJSON_Delete(q);
}
END_TEST

START_TEST(test_rl_add)
{
	cJSON *a = cJSON_Parse("{\"cpu\":\"500m\",\"memory\":\"1Gi\"}");
	cJSON *b = cJSON_Parse("{\"cpu\":\"0.5\",\"memory\":\"512Mi\",\"pods\":\"1\"}");
	mk_api_rl_add(a, b);
	ck_assert_str_eq(mk_json_get_string(a, "cpu"), "1");
	ck_assert_str_eq(mk_json_get_string(a, "memory"), "1536Mi");
	ck_assert_str_eq(mk_json_get_string(a, "pods"), "1");
	cJSON_Delete(a);
	cJSON_Delete(b);
}
END_TEST

#define LR(items) "{\"apiVersion\":\"v1\",\"kind\":\"LimitRange\",\"metadata\":{\"name\":\"lr\",\"namespace\":\"n\"},\"spec\":{\"limits\":[" items "]}}"

START_TEST(test_limitrange_defaults)
{
	cJSON *lr = cJSON_Parse(LR("{\"type\":\"Container\",\"max\":{\"cpu\":\"1\"},\"min\":{\"memory\":\"64Mi\"},"
				   "\"default\":{\"memory\":\"128Mi\"}}"));
	mk_api_default(res("v1", "LimitRange"), lr);
	cJSON *it = cJSON_GetArrayItem(mk_json_get(lr, "spec.limits"), 0);
	/* default limit from max; default request from default, else min */
	ck_assert_str_eq(mk_json_get_string(it, "default.cpu"), "1");
	ck_assert_str_eq(mk_json_get_string(it, "defaultRequest.cpu"), "1");
	ck_assert_str_eq(mk_json_get_string(it, "defaultRequest.memory"), "128Mi");
	cJSON_Delete(lr);
}
END_TEST

static char *causes_of(const char *json)
{
	cJSON *o = cJSON_Parse(json), *causes = NULL;
	const struct mk_api_resource *r = mk_api_resource_by_kind(mk_json_get_string(o, "apiVersion"),
								   mk_json_get_string(o, "kind"));
	mk_api_default(r, o);
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	if (mk_api_validate(r, o, NULL, &causes) < 0) {
		const cJSON *c;
		cJSON_ArrayForEach(c, causes)
			mk_buf_printf(&b, "%s%s: %s", b.len ? " | " : "", mk_json_get_string(c, "field"),
				      mk_json_get_string(c, "message"));
	}
	cJSON_Delete(causes);
	cJSON_Delete(o);
	return mk_buf_steal(&b);
}

#define EXPECT_CAUSES(json, want)                                                          \
	do {                                                                               \
		char *got_ = causes_of(json);                                              \
		ck_assert_msg(strstr(got_, want) != NULL, "got '%s', want '%s'", got_, want); \
		free(got_);                                                                \
	} while (0)

START_TEST(test_limitrange_validate)
{
	EXPECT_CAUSES(LR("{\"type\":\"Container\",\"min\":{\"cpu\":\"1\"},\"max\":{\"cpu\":\"500m\"}}"),
		      "spec.limits[0].min[cpu]: Invalid value: \"1\": min value 1 is greater than max value 500m");
	EXPECT_CAUSES(LR("{\"type\":\"Container\",\"default\":{\"cpu\":\"500m\"},\"defaultRequest\":{\"cpu\":\"800m\"}}"),
		      "spec.limits[0].defaultRequest[cpu]: Invalid value: \"800m\": default request value 800m is greater than default limit value 500m");
	EXPECT_CAUSES(LR("{\"type\":\"Pod\",\"default\":{\"cpu\":\"1\"}}"),
		      "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'");
	EXPECT_CAUSES(LR("{\"type\":\"Container\",\"max\":{\"cpu\":\"1\"}},{\"type\":\"Container\"}"),
		      "spec.limits[1].type: Duplicate value: \"Container\"");
	EXPECT_CAUSES(LR("{\"type\":\"Pod\",\"maxLimitRequestRatio\":{\"cpu\":\"800m\"}}"),
		      "spec.limits[0].maxLimitRequestRatio[cpu]: Invalid value: \"800m\": ratio 800m is less than 1");
	EXPECT_CAUSES(LR("{\"type\":\"Container\",\"max\":{\"memory\":\"2Gi\"},\"min\":{\"memory\":\"512Mi\"},"
			 "\"maxLimitRequestRatio\":{\"memory\":\"10\"}}"),
		      "ratio 10 is greater than max/min = 4.000000");
	EXPECT_CAUSES(LR("{\"type\":\"PersistentVolumeClaim\",\"max\":{\"cpu\":\"1\"}}"),
		      "spec.limits[0].limits: Required value: either minimum or maximum storage value is required");
	EXPECT_CAUSES(LR("{\"type\":\"Widget\"}"), "spec.limits[0].type: Invalid value: \"Widget\"");
	char *ok = causes_of(LR("{\"type\":\"Container\",\"max\":{\"cpu\":\"1\"},\"min\":{\"cpu\":\"100m\"}}"));
	ck_assert_str_eq(ok, "");
	free(ok);
}
END_TEST

static char *admit_pod(const char *lr_json, const char *containers, char **ret_resources)
{
	cJSON *lr = cJSON_Parse(lr_json);
	mk_api_default(res("v1", "LimitRange"), lr);
	char *pj = mk_strdup_printf("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":%s}}", containers);
	cJSON *pod = cJSON_Parse(pj);
	free(pj);
	ck_assert_ptr_nonnull(pod);
	mk_api_default(res("v1", "Pod"), pod);
	const cJSON *lrs[] = { lr };
	char *msg = NULL;
	int rc = mk_api_limitranges_admit_pod(lrs, 1, pod, &msg);
	ck_assert_int_eq(rc < 0, msg != NULL);
	if (ret_resources)
		*ret_resources = cJSON_PrintUnformatted(
			mk_json_get(cJSON_GetArrayItem(mk_json_get(pod, "spec.containers"), 0), "resources"));
	cJSON_Delete(pod);
	cJSON_Delete(lr);
	return msg ? msg : mk_strdup("");
}

START_TEST(test_limitranger_pod)
{
	const char *lr = LR("{\"type\":\"Container\",\"max\":{\"cpu\":\"500m\",\"memory\":\"256Mi\"},"
			    "\"default\":{\"cpu\":\"200m\"},\"defaultRequest\":{\"cpu\":\"100m\"}}");
	char *r = NULL, *m;
	/* defaults: limits from default (memory from max), requests from defaultRequest
	 * (memory from the default limit) */
	m = admit_pod(lr, "[{\"name\":\"a\",\"image\":\"x\"}]", &r);
	ck_assert_str_eq(m, "");
	ck_assert_str_eq(r, "{\"limits\":{\"cpu\":\"200m\",\"memory\":\"256Mi\"},\"requests\":{\"cpu\":\"100m\",\"memory\":\"256Mi\"}}");
	free(m);
	free(r);
	/* a limit alone: the request follows it (pod defaults), so no defaultRequest */
	m = admit_pod(lr, "[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"300m\"}}}]", &r);
	ck_assert_str_eq(m, "");
	ck_assert_str_eq(r, "{\"limits\":{\"cpu\":\"300m\",\"memory\":\"256Mi\"},\"requests\":{\"cpu\":\"300m\",\"memory\":\"256Mi\"}}");
	free(m);
	free(r);
	m = admit_pod(lr, "[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"1\"}}}]", NULL);
	ck_assert_str_eq(m, "maximum cpu usage per Container is 500m, but limit is 1");
	free(m);
	m = admit_pod(lr, "[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]", NULL);
	ck_assert_str_eq(m, "[maximum cpu usage per Container is 500m, but limit is 1, maximum memory usage per Container is 256Mi, but limit is 1Gi]");
	free(m);
	/* min without a request to compare */
	m = admit_pod(LR("{\"type\":\"Container\",\"min\":{\"memory\":\"64Mi\"},\"defaultRequest\":{\"memory\":\"32Mi\"}}"),
		      "[{\"name\":\"a\",\"image\":\"x\"}]", NULL);
	ck_assert_str_eq(m, "minimum memory usage per Container is 64Mi, but request is 32Mi");
	free(m);
	/* ratio */
	m = admit_pod(LR("{\"type\":\"Container\",\"maxLimitRequestRatio\":{\"cpu\":\"2\"}}"),
		      "[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"requests\":{\"cpu\":\"100m\"},\"limits\":{\"cpu\":\"300m\"}}}]", NULL);
	ck_assert_str_eq(m, "cpu max limit to request ratio per Container is 2, but provided ratio is 3.000000");
	free(m);
	/* Pod type: the containers summed */
	m = admit_pod(LR("{\"type\":\"Pod\",\"max\":{\"cpu\":\"1\"}}"),
		      "[{\"name\":\"a\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"600m\"}}},"
		      "{\"name\":\"b\",\"image\":\"x\",\"resources\":{\"limits\":{\"cpu\":\"600m\"}}}]", NULL);
	ck_assert_str_eq(m, "maximum cpu usage per Pod is 1, but limit is 1200m");
	free(m);
	m = admit_pod(LR("{\"type\":\"Pod\",\"max\":{\"cpu\":\"1\"}}"), "[{\"name\":\"a\",\"image\":\"x\"}]", NULL);
	ck_assert_str_eq(m, "maximum cpu usage per Pod is 1.  No limit is specified");
	free(m);
}
END_TEST

START_TEST(test_limitranger_pvc)
{
	cJSON *lr = cJSON_Parse(LR("{\"type\":\"PersistentVolumeClaim\",\"min\":{\"storage\":\"1Gi\"},\"max\":{\"storage\":\"2Gi\"}}"));
	const cJSON *lrs[] = { lr };
	cJSON *pvc = cJSON_Parse("{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"3Gi\"}}}}");
	char *m = NULL;
	ck_assert_int_eq(mk_api_limitranges_admit_pvc(lrs, 1, pvc, &m), -1);
	ck_assert_str_eq(m, "maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 3Gi");
	free(m);
	m = NULL;
	mk_json_set_string(mk_json_get(pvc, "spec.resources.requests"), "storage", "512Mi");
	ck_assert_int_eq(mk_api_limitranges_admit_pvc(lrs, 1, pvc, &m), -1);
	ck_assert_str_eq(m, "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 512Mi");
	free(m);
	m = NULL;
	mk_json_set_string(mk_json_get(pvc, "spec.resources.requests"), "storage", "1536Mi");
	ck_assert_int_eq(mk_api_limitranges_admit_pvc(lrs, 1, pvc, &m), 0);
	cJSON_Delete(pvc);
	cJSON_Delete(lr);
}
END_TEST

START_TEST(test_quota_usage)
{
	cJSON *pod = cJSON_Parse("{\"spec\":{\"containers\":[{\"name\":\"a\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"},"
				 "\"limits\":{\"cpu\":\"500m\"}}},{\"name\":\"b\",\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"64Mi\"}}}],"
				 "\"initContainers\":[{\"name\":\"i\",\"resources\":{\"requests\":{\"cpu\":\"2\"}}}]},\"status\":{\"phase\":\"Running\"}}");
	cJSON *u = mk_api_quota_usage("pods", "", pod);
	char *s = cJSON_PrintUnformatted(u);
	/* the init container's 2 CPUs outweigh the app containers' 500m */
	ck_assert_str_eq(s, "{\"count/pods\":\"1\",\"pods\":\"1\",\"cpu\":\"2\",\"requests.cpu\":\"2\",\"limits.cpu\":\"500m\","
			    "\"memory\":\"128Mi\",\"requests.memory\":\"128Mi\"}");
	free(s);
	cJSON_Delete(u);
	/* a finished pod only counts as an object */
	mk_json_set_string(cJSON_GetObjectItem(pod, "status"), "phase", "Succeeded");
	u = mk_api_quota_usage("pods", "", pod);
	s = cJSON_PrintUnformatted(u);
	ck_assert_str_eq(s, "{\"count/pods\":\"1\"}");
	free(s);
	cJSON_Delete(u);
	cJSON_Delete(pod);
	cJSON *svc = cJSON_Parse("{\"spec\":{\"type\":\"NodePort\",\"ports\":[{\"port\":80},{\"port\":443}]}}");
	u = mk_api_quota_usage("services", "", svc);
	s = cJSON_PrintUnformatted(u);
	ck_assert_str_eq(s, "{\"count/services\":\"1\",\"services\":\"1\",\"services.loadbalancers\":\"0\",\"services.nodeports\":\"2\"}");
	free(s);
	cJSON_Delete(u);
	cJSON_Delete(svc);
	u = mk_api_quota_usage("deployments", "apps", NULL);
	s = cJSON_PrintUnformatted(u);
	ck_assert_str_eq(s, "{\"count/deployments.apps\":\"1\"}");
	free(s);
	cJSON_Delete(u);
	ck_assert(mk_api_quota_tracks("count/deployments.apps", "deployments", "apps"));
	ck_assert(!mk_api_quota_tracks("pods", "deployments", "apps"));
	ck_assert(mk_api_quota_tracks("limits.memory", "pods", ""));
	ck_assert(mk_api_quota_tracks("gold.storageclass.storage.k8s.io/requests.storage", "persistentvolumeclaims", ""));
}
END_TEST

static char *quota_admit(const char *quota, const char *pod, char **ret_used)
{
	cJSON *q = cJSON_Parse(quota), *p = cJSON_Parse(pod), *used = NULL;
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_nonnull(p);
	char *msg = NULL;
	int rc = mk_api_quota_admit(q, "pods", "", p, &used, &msg);
	ck_assert_int_eq(rc < 0, msg != NULL);
	if (ret_used)
		*ret_used = used ? cJSON_PrintUnformatted(used) : mk_strdup("");
	cJSON_Delete(used);
	cJSON_Delete(q);
	cJSON_Delete(p);
	return msg ? msg : mk_strdup("");
}

#define Q(hard, used) "{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":" hard "},\"status\":{\"hard\":" hard ",\"used\":" used "}}"
#define POD(res) "{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c1\",\"resources\":" res "}]}}"

START_TEST(test_quota_admit)
{
	char *u = NULL, *m;
	m = quota_admit(Q("{\"pods\":\"2\"}", "{\"pods\":\"1\"}"), POD("{}"), &u);
	ck_assert_str_eq(m, "");
	ck_assert_str_eq(u, "{\"pods\":\"2\"}");
	free(m);
	free(u);
	m = quota_admit(Q("{\"pods\":\"2\"}", "{\"pods\":\"2\"}"), POD("{}"), NULL);
	ck_assert_str_eq(m, "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2");
	free(m);
	m = quota_admit(Q("{\"pods\":\"5\",\"limits.cpu\":\"2\",\"requests.memory\":\"1Gi\"}",
			  "{\"pods\":\"0\",\"limits.cpu\":\"0\",\"requests.memory\":\"0\"}"),
			POD("{\"requests\":{\"cpu\":\"1\"}}"), NULL);
	ck_assert_str_eq(m, "failed quota: q: must specify limits.cpu for: c1; requests.memory for: c1");
	free(m);
	m = quota_admit(Q("{\"requests.memory\":\"1Gi\"}", "{\"requests.memory\":\"768Mi\"}"),
			POD("{\"requests\":{\"memory\":\"512Mi\"}}"), NULL);
	ck_assert_str_eq(m, "exceeded quota: q, requested: requests.memory=512Mi, used: requests.memory=768Mi, limited: requests.memory=1Gi");
	free(m);
	/* not yet seen by the controller: no status, no restriction */
	m = quota_admit("{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":{\"pods\":\"0\"}}}", POD("{}"), &u);
	ck_assert_str_eq(m, "");
	ck_assert_str_eq(u, "");
	free(m);
	free(u);
	m = quota_admit("{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":{\"pods\":\"1\"}},\"status\":{\"hard\":{\"pods\":\"1\"}}}",
			POD("{}"), NULL);
	ck_assert_str_eq(m, "status unknown for quota: q, resources: pods");
	free(m);
	/* a BestEffort quota ignores a pod with requests */
	m = quota_admit("{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":{\"pods\":\"0\"},\"scopes\":[\"BestEffort\"]},"
			"\"status\":{\"hard\":{\"pods\":\"0\"},\"used\":{\"pods\":\"0\"}}}",
			POD("{\"requests\":{\"cpu\":\"1\"}}"), &u);
	ck_assert_str_eq(m, "");
	ck_assert_str_eq(u, "");
	free(m);
	free(u);
	m = quota_admit("{\"metadata\":{\"name\":\"q\"},\"spec\":{\"hard\":{\"pods\":\"0\"},\"scopes\":[\"BestEffort\"]},"
			"\"status\":{\"hard\":{\"pods\":\"0\"},\"used\":{\"pods\":\"0\"}}}",
			POD("{}"), NULL);
	ck_assert_str_eq(m, "exceeded quota: q, requested: pods=1, used: pods=0, limited: pods=0");
	free(m);
}
END_TEST

START_TEST(test_quota_admit_update)
{
	cJSON *q = cJSON_Parse(Q("{\"services.nodeports\":\"1\"}", "{\"services.nodeports\":\"0\"}"));
	cJSON *old = cJSON_Parse("{\"metadata\":{\"name\":\"s\"},\"spec\":{\"type\":\"ClusterIP\",\"ports\":[{\"port\":80},{\"port\":443}]}}");
	cJSON *obj = cJSON_Duplicate(old, 1), *used = NULL;
	char *m = NULL;
	/* an unchanged service is charged nothing */
	ck_assert_int_eq(mk_api_quota_admit_update(q, "services", "", obj, old, &used, &m), 0);
	ck_assert_ptr_null(used);
	mk_json_set_string(cJSON_GetObjectItem(obj, "spec"), "type", "NodePort");
	ck_assert_int_eq(mk_api_quota_admit_update(q, "services", "", obj, old, &used, &m), -1);
	ck_assert_str_eq(m, "exceeded quota: q, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1");
	free(m);
	cJSON_Delete(obj);
	cJSON_Delete(old);
	cJSON_Delete(q);
}
END_TEST

START_TEST(test_quota_validate_and_cells)
{
	EXPECT_CAUSES("{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},"
		      "\"spec\":{\"hard\":{\"pods\":\"-1\"}}}",
		      "spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0");
	EXPECT_CAUSES("{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},"
		      "\"spec\":{\"hard\":{\"pods\":\"1.5\"}}}",
		      "spec.hard[pods]: Invalid value: \"1.5\": must be an integer");
	EXPECT_CAUSES("{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},"
		      "\"spec\":{\"hard\":{\"widgets\":\"1\"}}}",
		      "spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource for quota");
	EXPECT_CAUSES("{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\",\"namespace\":\"n\"},"
		      "\"spec\":{\"hard\":{\"pods\":\"1\"},\"scopes\":[\"Terminating\",\"NotTerminating\"]}}",
		      "spec.scopes: Invalid value: ");
	cJSON *q = cJSON_Parse("{\"metadata\":{\"name\":\"q\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
			       "\"spec\":{\"hard\":{\"pods\":\"2\",\"limits.cpu\":\"2\",\"requests.cpu\":\"1\"}},"
			       "\"status\":{\"hard\":{\"pods\":\"2\",\"limits.cpu\":\"2\",\"requests.cpu\":\"1\"},"
			       "\"used\":{\"pods\":\"1\",\"limits.cpu\":\"500m\"}}}");
	cJSON *t = mk_api_table_new(res("v1", "ResourceQuota"), true);
	mk_api_table_add_row(t, res("v1", "ResourceQuota"), q, 0);
	cJSON *cells = mk_json_get(cJSON_GetArrayItem(mk_json_get(t, "rows"), 0), "cells");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 2)->valuestring, "pods: 1/2, requests.cpu: 0/1");
	ck_assert_str_eq(cJSON_GetArrayItem(cells, 3)->valuestring, "limits.cpu: 500m/2");
	cJSON_Delete(t);
	cJSON_Delete(q);
}
END_TEST

Suite *admission_suite(void)
{
	Suite *s = suite_create("admission");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_quantity_format);
	tcase_add_test(tc, test_rl_add);
	tcase_add_test(tc, test_limitrange_defaults);
	tcase_add_test(tc, test_limitrange_validate);
	tcase_add_test(tc, test_limitranger_pod);
	tcase_add_test(tc, test_limitranger_pvc);
	tcase_add_test(tc, test_quota_usage);
	tcase_add_test(tc, test_quota_admit);
	tcase_add_test(tc, test_quota_admit_update);
	tcase_add_test(tc, test_quota_validate_and_cells);
	suite_add_tcase(s, tc);
	return s;
}
