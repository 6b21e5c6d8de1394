/* Quantities (resource.Quantity), QoS (GetPodQOS), pod requests (PodRequests) and
 * the scheduler's NodeResourcesFit. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/controller.h"

static int64_t milli(const char *s)
{
	int64_t v = -12345;
	struct mk_error *err = NULL;
	ck_assert_msg(mk_api_quantity_parse(s, &v, &err) == 0, "parse '%s': %s", s,
		      err ? err->msg : "");
	return v;
}

START_TEST(quantity_suffixes)
{
	ck_assert_int_eq(milli("500m"), 500);
	ck_assert_int_eq(milli("1"), 1000);
	ck_assert_int_eq(milli("0.1"), 100);
	ck_assert_int_eq(milli(".5"), 500);
	ck_assert_int_eq(milli("2."), 2000);
	ck_assert_int_eq(milli("1k"), 1000000);
	ck_assert_int_eq(milli("1Ki"), 1024000);
	ck_assert_int_eq(milli("128Mi"), 128LL * 1024 * 1024 * 1000);
	ck_assert_int_eq(milli("1M"), 1000000000LL);
	ck_assert_int_eq(milli("1G"), 1000000000000LL);
	ck_assert_int_eq(milli("1Gi"), 1073741824000LL);
	ck_assert_int_eq(milli("1.5Gi"), 1610612736000LL);
	ck_assert_int_eq(milli("2T"), 2000000000000000LL);
	ck_assert_int_eq(milli("1Ti"), 1099511627776000LL);
	ck_assert_int_eq(milli("100n"), 1); /* rounded up */
	ck_assert_int_eq(milli("1u"), 1);
	ck_assert_int_eq(milli("1500u"), 2);
	ck_assert_int_eq(milli("0"), 0);
	ck_assert_int_eq(milli("0m"), 0);
	ck_assert_int_eq(milli("+3"), 3000);
	ck_assert_int_eq(milli("-250m"), -250);
}
END_TEST

START_TEST(quantity_exponent)
{
	ck_assert_int_eq(milli("1e3"), 1000000);
	ck_assert_int_eq(milli("1E3"), 1000000);
	ck_assert_int_eq(milli("5e-1"), 500);
	ck_assert_int_eq(milli("12e+2"), 1200000);
	ck_assert_int_eq(milli("1e-3"), 1);
	ck_assert_int_eq(milli("1e-4"), 1); /* up */
	/* saturates instead of overflowing */
	ck_assert_int_eq(milli("1e30"), INT64_MAX);
	ck_assert_int_eq(milli("100Ei"), INT64_MAX);
	ck_assert_int_eq(milli("9999999999999999999999999999"), INT64_MAX);
}
END_TEST

START_TEST(quantity_value)
{
	int64_t v;
	ck_assert_int_eq(mk_api_quantity_parse_value("64Mi", &v, NULL), 0);
	ck_assert_int_eq(v, 67108864);
	ck_assert_int_eq(mk_api_quantity_parse_value("100m", &v, NULL), 0);
	ck_assert_int_eq(v, 1); /* Value() rounds up */
	ck_assert_int_eq(mk_api_quantity_parse_value("24104532Ki", &v, NULL), 0);
	ck_assert_int_eq(v, 24104532LL * 1024);
}
END_TEST

START_TEST(quantity_bad)
{
	static const char *const bad[] = {"",	 "m",	"Mi",	"1Qi",	 "1 Mi", "1mm",
					  "1e",	 "1e+", "--1",	"1.2.3", ".",	 "1KI",
					  "1ki", "abc", "1e3m", "0x10"};
	for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
		int64_t v = 77;
		struct mk_error *err = NULL;
		ck_assert_msg(mk_api_quantity_parse(bad[i], &v, &err) < 0, "'%s' parsed", bad[i]);
		ck_assert_int_eq(err->code, EINVAL);
		ck_assert_int_eq(v, 77);
		mk_error_free(&err);
	}
	ck_assert_int_lt(mk_api_quantity_parse(NULL, &(int64_t){0}, NULL), 0);
}
END_TEST

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "bad JSON in test: %s", s);
	return j;
}

START_TEST(qos_classes)
{
	static const struct {
		const char *spec, *want;
	} cases[] = {
	    {"{\"containers\":[{\"name\":\"a\"}]}", "BestEffort"},
	    {"{\"containers\":[{\"name\":\"a\",\"resources\":{}}]}", "BestEffort"},
	    /* zero quantities do not count */
	    {"{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"0\"}}}]}", "BestEffort"},
	    /* other resources do not count */
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"ephemeral-storage\":\"1Gi\"}}}]}",
	     "BestEffort"},
	    {"{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\"}}}]}", "Burstable"},
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
	     "\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}",
	     "Guaranteed"},
	    /* equal quantities written differently */
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
	     "\"requests\":{\"cpu\":\"1000m\",\"memory\":\"1024Mi\"}}}]}",
	     "Guaranteed"},
	    /* limits without requests: as upstream, not Guaranteed by itself (the
	     * API's defaults copy limits into requests before the class is taken) */
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}",
	     "Burstable"},
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"},"
	     "\"requests\":{\"cpu\":\"500m\",\"memory\":\"1Gi\"}}}]}",
	     "Burstable"},
	    /* memory limit only: not every container limits both */
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"memory\":\"1Gi\"}}}]}", "Burstable"},
	    /* one guaranteed container, one without resources */
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},{}]"
	     "}",
	     "Burstable"},
	    /* init containers count too */
	    {"{\"initContainers\":[{\"resources\":{\"requests\":{\"memory\":\"1Mi\"}}}],"
	     "\"containers\":[{}]}",
	     "Burstable"},
	    {"{\"initContainers\":[{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1Mi\"},"
	     "\"requests\":{\"cpu\":\"1\",\"memory\":\"1Mi\"}}}],"
	     "\"containers\":[{\"resources\":{\"limits\":{\"cpu\":\"2\",\"memory\":\"2Mi\"},"
	     "\"requests\":{\"cpu\":\"2\",\"memory\":\"2Mi\"}}}]}",
	     "Guaranteed"},
	    /* numbers as quantities */
	    {"{\"containers\":[{\"resources\":{\"limits\":{\"cpu\":2,\"memory\":1048576},"
	     "\"requests\":{\"cpu\":\"2\",\"memory\":\"1Mi\"}}}]}",
	     "Guaranteed"},
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		cJSON *spec = J(cases[i].spec);
		ck_assert_msg(!strcmp(mk_api_pod_qos_class(spec), cases[i].want),
			      "case %zu: %s, want %s", i, mk_api_pod_qos_class(spec),
			      cases[i].want);
		cJSON_Delete(spec);
	}
}
END_TEST

START_TEST(pod_requests)
{
	int64_t cpu, mem;
	cJSON *s = J(
	    "{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"1Mi\"}}},"
	    "{\"resources\":{\"requests\":{\"cpu\":\"200m\"}}}]}");
	mk_api_pod_requests(s, &cpu, &mem);
	ck_assert_int_eq(cpu, 300);
	ck_assert_int_eq(mem, 1048576);
	cJSON_Delete(s);
	/* the largest init container wins over the sum of the apps */
	s = J("{\"initContainers\":[{\"resources\":{\"requests\":{\"cpu\":\"1\"}}},"
	      "{\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}],"
	      "\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"1Mi\"}}}"
	      "]}");
	mk_api_pod_requests(s, &cpu, &mem);
	ck_assert_int_eq(cpu, 1000);
	ck_assert_int_eq(mem, 1073741824);
	cJSON_Delete(s);
	/* sidecars run beside the apps and beside the init containers after them */
	s = J("{\"initContainers\":[{\"restartPolicy\":\"Always\",\"resources\":{\"requests\":{"
	      "\"cpu\":\"500m\"}}},"
	      "{\"resources\":{\"requests\":{\"cpu\":\"1\"}}}],"
	      "\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"200m\"}}}],"
	      "\"overhead\":{\"cpu\":\"10m\"}}");
	mk_api_pod_requests(s, &cpu, &mem);
	ck_assert_int_eq(cpu, 1510); /* max(500+200, 500+1000) + 10 */
	ck_assert_int_eq(mem, 0);
	cJSON_Delete(s);
}
END_TEST

START_TEST(sched_fit)
{
	cJSON *node =
	    J("{\"status\":{\"allocatable\":{\"cpu\":\"2\",\"memory\":\"1Gi\",\"pods\":\"3\"}}}");
	cJSON *p1 = J("{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1500m\","
		      "\"memory\":\"512Mi\"}}}]}}");
	cJSON *done =
	    J("{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"2\"}}}]},"
	      "\"status\":{\"phase\":\"Succeeded\"}}");
	cJSON *small = J("{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":"
			 "\"500m\",\"memory\":\"512Mi\"}}}]}}");
	cJSON *big = J("{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"501m\","
		       "\"memory\":\"513Mi\"}}}]}}");
	cJSON *none = J("{\"spec\":{\"containers\":[{}]}}");
	const char *r[3];
	const cJSON *bound[] = {p1, done};

	/* exactly what is left fits; terminated pods do not count */
	ck_assert_int_eq(mk_controller_sched_fit(small, node, bound, 2, r), 0);
	ck_assert_int_eq(mk_controller_sched_fit(big, node, bound, 2, r), 2);
	ck_assert_str_eq(r[0], "Insufficient cpu");
	ck_assert_str_eq(r[1], "Insufficient memory");
	/* on an empty node the big one fits */
	ck_assert_int_eq(mk_controller_sched_fit(big, node, NULL, 0, r), 0);
	/* pod count: 3 allowed */
	const cJSON *three[] = {none, none, none};
	ck_assert_int_eq(mk_controller_sched_fit(none, node, three, 3, r), 1);
	ck_assert_str_eq(r[0], "Too many pods");
	ck_assert_int_eq(mk_controller_sched_fit(none, node, three, 2, r), 0);
	/* a pod without requests fits a full node */
	const cJSON *full[] = {p1, small};
	ck_assert_int_eq(mk_controller_sched_fit(none, node, full, 2, r), 0);
	/* a node without allocatable is not limited */
	cJSON *bare = J("{\"status\":{}}");
	ck_assert_int_eq(mk_controller_sched_fit(big, bare, full, 2, r), 0);
	cJSON_Delete(bare);
	cJSON *nodes[] = {node, p1, done, small, big, none};
	for (size_t i = 0; i < MK_ARRAY_SIZE(nodes); i++)
		cJSON_Delete(nodes[i]);
}
END_TEST

/* the causes of validating a pod with this spec, as "field|message;..." ("" valid) */
static char *validate_pod(const char *spec)
{
	_cleanup_free_ char *doc =
	    mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
			     "\"metadata\":{\"name\":\"p\",\"namespace\":\"default\"},"
			     "\"spec\":%s}",
			     spec);
	cJSON *o = J(doc), *causes = NULL;
	struct mk_buf b;
	mk_buf_init(&b);
	mk_api_default(mk_api_resource_by_kind("v1", "Pod"), o);
	if (mk_api_validate(mk_api_resource_by_kind("v1", "Pod"), o, NULL, &causes) < 0) {
		const cJSON *c;
		cJSON_ArrayForEach(c, causes)
		    mk_buf_printf(&b, "%s%s|%s", b.len ? ";" : "", mk_json_get_string(c, "field"),
				  mk_json_get_string(c, "message"));
	}
	cJSON_Delete(causes);
	cJSON_Delete(o);
	if (!b.data)
		mk_buf_puts(&b, "");
	return mk_buf_steal(&b);
}

#define CTR(x) "{\"containers\":[{\"name\":\"c\",\"image\":\"i\"," x "}]}"

START_TEST(validation)
{
	static const struct {
		const char *spec, *want;
	} cases[] = {
	    {CTR("\"resources\":{\"limits\":{\"cpu\":\"1\"},\"requests\":{\"cpu\":\"500m\"}}"), ""},
	    {CTR("\"resources\":{\"limits\":{\"cpu\":\"1\"},\"requests\":{\"cpu\":\"2\"}}"),
	     "spec.containers[0].resources.requests[cpu]|Invalid value: \"2\": must be less than "
	     "or "
	     "equal to cpu limit of 1"},
	    {CTR("\"resources\":{\"limits\":{\"memory\":\"lots\"}}"),
	     "spec.containers[0].resources.limits[memory]|Invalid value: \"lots\": quantities must "
	     "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
	    {CTR("\"resources\":{\"requests\":{\"memory\":\"-1Mi\"}}"),
	     "spec.containers[0].resources.requests[memory]|Invalid value: \"-1Mi\": must be "
	     "greater "
	     "than or equal to 0"},
	    {CTR("\"securityContext\":{\"runAsUser\":-5}"),
	     "spec.containers[0].securityContext.runAsUser|Invalid value: -5: must be between 0 "
	     "and "
	     "2147483647, inclusive"},
	    {CTR("\"securityContext\":{\"privileged\":true,\"allowPrivilegeEscalation\":false}"),
	     "spec.containers[0].securityContext|"},
	    {"{\"securityContext\":{\"fsGroup\":-1},\"containers\":[{\"name\":\"c\",\"image\":"
	     "\"i\"}]}",
	     "spec.securityContext.fsGroup|Invalid value: -1: must be between 0 and 2147483647, "
	     "inclusive"},
	    {"{\"securityContext\":{\"runAsUser\":1000,\"fsGroup\":2000,\"supplementalGroups\":[1,"
	     "2]},"
	     "\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"securityContext\":{"
	     "\"capabilities\":"
	     "{\"drop\":[\"ALL\"]},\"readOnlyRootFilesystem\":true}}]}",
	     ""},
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *got = validate_pod(cases[i].spec);
		ck_assert_msg(!strncmp(got, cases[i].want, strlen(cases[i].want)) &&
				  (cases[i].want[0] || !got[0]),
			      "case %zu: got '%s', want '%s'", i, got, cases[i].want);
	}
}
END_TEST

Suite *quantity_suite(void)
{
	Suite *s = suite_create("quantity");
	TCase *tc = tcase_create("quantity");
	tcase_add_test(tc, quantity_suffixes);
	tcase_add_test(tc, quantity_exponent);
	tcase_add_test(tc, quantity_value);
	tcase_add_test(tc, quantity_bad);
	tcase_add_test(tc, qos_classes);
	tcase_add_test(tc, pod_requests);
	tcase_add_test(tc, sched_fit);
	tcase_add_test(tc, validation);
	suite_add_tcase(s, tc);
	return s;
}
