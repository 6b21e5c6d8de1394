/* Job and CronJob through the generic entry points: defaults (the generated
 * selector and labels), validation with field paths (restart policy, Indexed mode,
 * the immutable fields, schedules and time zones), Table cells as kubectl prints. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"

static const struct mk_api_resource *res(const char *plural)
{
	const struct mk_api_resource *r = mk_api_resource_find("batch", "v1", plural);
	ck_assert_ptr_nonnull(r);
	return r;
}

static cJSON *parse(const char *json)
{
	cJSON *o = cJSON_Parse(json);
	ck_assert_msg(o != NULL, "bad json %s", json);
	return o;
}

/* the fields of the causes, space separated (owned) */
static char *fields(const struct mk_api_resource *r, const cJSON *obj, const cJSON *old)
{
	cJSON *causes = NULL;
	struct mk_buf b;
	mk_buf_init(&b);
	if (mk_api_validate(r, obj, old, &causes) == 0)
		return mk_buf_steal(&b);
	const cJSON *c;
	cJSON_ArrayForEach(c, causes)
		mk_buf_printf(&b, "%s%s", b.len ? " " : "", mk_json_get_string(c, "field"));
	cJSON_Delete(causes);
	return mk_buf_steal(&b);
}

static const char *label(const cJSON *obj, const char *path, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(mk_json_get(obj, path), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

#define UID "0b6c0f5e-7e43-4c1f-9d0a-1d2b3c4d5e6f"
#define JOB(spec)                                                                                \
	"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"pi\",\"namespace\":" \
	"\"default\",\"uid\":\"" UID "\"},\"spec\":" spec "}"
#define TMPL(restart)                                                                  \
	"\"template\":{\"spec\":{\"restartPolicy\":\"" restart "\",\"containers\":[{\"name\":" \
	"\"c\",\"image\":\"busybox\"}]}}"

START_TEST(test_job_defaults)
{
	cJSON *j = parse(JOB("{" TMPL("Never") "}"));
	mk_api_default(res("jobs"), j);
	ck_assert_int_eq(mk_json_get(j, "spec.completions")->valueint, 1);
	ck_assert_int_eq(mk_json_get(j, "spec.parallelism")->valueint, 1);
	ck_assert_int_eq(mk_json_get(j, "spec.backoffLimit")->valueint, 6);
	ck_assert_str_eq(mk_json_get_string(j, "spec.completionMode"), "NonIndexed");
	ck_assert_str_eq(mk_json_get_string(j, "spec.podReplacementPolicy"), "TerminatingOrFailed");
	ck_assert(cJSON_IsFalse(mk_json_get(j, "spec.suspend")));
	ck_assert_str_eq(label(j, "spec.selector.matchLabels", "batch.kubernetes.io/controller-uid"), UID);
	ck_assert_str_eq(label(j, "spec.template.metadata.labels", "batch.kubernetes.io/controller-uid"), UID);
	ck_assert_str_eq(label(j, "spec.template.metadata.labels", "controller-uid"), UID);
	ck_assert_str_eq(label(j, "spec.template.metadata.labels", "batch.kubernetes.io/job-name"), "pi");
	ck_assert_str_eq(label(j, "spec.template.metadata.labels", "job-name"), "pi");
	ck_assert_str_eq(label(j, "metadata.labels", "job-name"), "pi");
	ck_assert_str_eq(mk_json_get_string(j, "spec.template.spec.dnsPolicy"), "ClusterFirst");
	char *f = fields(res("jobs"), j, NULL);
	ck_assert_str_eq(f, "");
	free(f);
	cJSON_Delete(j);

	/* parallelism alone: completions stays unset */
	j = parse(JOB("{\"parallelism\":3," TMPL("OnFailure") "}"));
	mk_api_default(res("jobs"), j);
	ck_assert_ptr_null(mk_json_get(j, "spec.completions"));
	cJSON_Delete(j);

	/* a manual selector is kept as given */
	j = parse(JOB("{\"manualSelector\":true,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
		      "\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},\"spec\":{\"restartPolicy\":\"Never\","
		      "\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}}"));
	mk_api_default(res("jobs"), j);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(j, "spec.selector.matchLabels")), 1);
	ck_assert_ptr_null(label(j, "spec.template.metadata.labels", "job-name"));
	f = fields(res("jobs"), j, NULL);
	ck_assert_str_eq(f, "");
	free(f);
	cJSON_Delete(j);
}
END_TEST

static void job_fields_are(const char *json, const char *want)
{
	cJSON *j = parse(json);
	mk_api_default(res("jobs"), j);
	char *f = fields(res("jobs"), j, NULL);
	ck_assert_msg(!strcmp(f, want), "%s: got '%s', want '%s'", json, f, want);
	free(f);
	cJSON_Delete(j);
}

START_TEST(test_job_validation)
{
	/* restartPolicy defaults to Always, which a job refuses */
	job_fields_are(JOB("{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}"),
		       "spec.template.spec.restartPolicy");
	job_fields_are(JOB("{" TMPL("Always") "}"), "spec.template.spec.restartPolicy");
	job_fields_are(JOB("{\"completionMode\":\"Indexed\",\"parallelism\":2," TMPL("Never") "}"),
		       "spec.completions");
	job_fields_are(JOB("{\"completionMode\":\"Sometimes\"," TMPL("Never") "}"), "spec.completionMode");
	job_fields_are(JOB("{\"parallelism\":-1,\"backoffLimit\":-2,\"activeDeadlineSeconds\":-3,"
			   "\"ttlSecondsAfterFinished\":-4," TMPL("Never") "}"),
		       "spec.parallelism spec.activeDeadlineSeconds spec.backoffLimit spec.ttlSecondsAfterFinished");
	job_fields_are(JOB("{\"completionMode\":\"Indexed\",\"completions\":100001," TMPL("Never") "}"),
		       "spec.completions");
	/* podFailurePolicy: Never only, rules well formed */
	job_fields_are(JOB("{\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":"
			   "{\"operator\":\"In\",\"values\":[1,2]}},{\"action\":\"Ignore\",\"onPodConditions\":"
			   "[{\"type\":\"DisruptionTarget\"}]}]}," TMPL("Never") "}"),
		       "");
	job_fields_are(JOB("{\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":"
			   "{\"operator\":\"In\",\"values\":[1]}}]}," TMPL("OnFailure") "}"),
		       "spec.template.spec.restartPolicy");
	job_fields_are(JOB("{\"podFailurePolicy\":{\"rules\":["
			   "{\"action\":\"Explode\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[1]}},"
			   "{\"action\":\"Count\",\"onExitCodes\":{\"operator\":\"Maybe\",\"values\":[0,3,2,2]}},"
			   "{\"action\":\"Count\"},"
			   "{\"action\":\"Ignore\",\"onPodConditions\":[{\"type\":\"X\",\"status\":\"Perhaps\"}]}]},"
			   "\"podReplacementPolicy\":\"TerminatingOrFailed\"," TMPL("Never") "}"),
		       "spec.podFailurePolicy.rules[0].action spec.podFailurePolicy.rules[1].onExitCodes.operator "
		       "spec.podFailurePolicy.rules[1].onExitCodes.values[2] spec.podFailurePolicy.rules[1].onExitCodes.values[3] "
		       "spec.podFailurePolicy.rules[2] spec.podFailurePolicy.rules[3].onPodConditions[0].status "
		       "spec.podReplacementPolicy");
	job_fields_are(JOB("{\"podFailurePolicy\":{\"rules\":[{\"action\":\"FailJob\",\"onExitCodes\":"
			   "{\"operator\":\"In\",\"values\":[0]}}]}," TMPL("Never") "}"),
		       "spec.podFailurePolicy.rules[0].onExitCodes.values[0]");
	/* a given selector without manualSelector is not the generated one */
	job_fields_are(JOB("{\"selector\":{\"matchLabels\":{\"batch.kubernetes.io/controller-uid\":\"other\"}},"
			   TMPL("Never") "}"),
		       "spec.template.metadata.labels spec.selector.matchLabels");
}
END_TEST

START_TEST(test_job_update)
{
	cJSON *old = parse(JOB("{\"completionMode\":\"Indexed\",\"completions\":4,\"parallelism\":4," TMPL("Never") "}"));
	mk_api_default(res("jobs"), old);
	/* parallelism and suspend may change */
	cJSON *j = cJSON_Duplicate(old, 1);
	mk_json_set(mk_json_get(j, "spec"), "parallelism", cJSON_CreateNumber(2));
	mk_json_set(mk_json_get(j, "spec"), "suspend", cJSON_CreateTrue());
	char *f = fields(res("jobs"), j, old);
	ck_assert_str_eq(f, "");
	free(f);
	cJSON_Delete(j);
	/* template, completionMode: immutable; completions alone too */
	j = cJSON_Duplicate(old, 1);
	mk_json_set_string(cJSON_GetArrayItem(mk_json_get(j, "spec.template.spec.containers"), 0), "image", "other");
	mk_json_set(mk_json_get(j, "spec"), "completions", cJSON_CreateNumber(5));
	f = fields(res("jobs"), j, old);
	ck_assert_str_eq(f, "spec.template spec.completions");
	free(f);
	cJSON_Delete(j);
	/* an Indexed job scales completions with parallelism (elastic) */
	j = cJSON_Duplicate(old, 1);
	mk_json_set(mk_json_get(j, "spec"), "completions", cJSON_CreateNumber(6));
	mk_json_set(mk_json_get(j, "spec"), "parallelism", cJSON_CreateNumber(6));
	f = fields(res("jobs"), j, old);
	ck_assert_str_eq(f, "");
	free(f);
	cJSON_Delete(j);
	cJSON_Delete(old);
}
END_TEST

#define CJ(name, sched, extra)                                                                      \
	"{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"" name "\","         \
	"\"namespace\":\"default\"},\"spec\":{\"schedule\":\"" sched "\"" extra ",\"jobTemplate\":{\"spec\":{" \
	TMPL("OnFailure") "}}}}"

static void cj_fields_are(const char *json, const char *want)
{
	cJSON *j = parse(json);
	mk_api_default(res("cronjobs"), j);
	char *f = fields(res("cronjobs"), j, NULL);
	ck_assert_msg(!strcmp(f, want), "%s: got '%s', want '%s'", json, f, want);
	free(f);
	cJSON_Delete(j);
}

START_TEST(test_cronjob_defaults_and_validation)
{
	cJSON *j = parse(CJ("tick", "*/5 * * * *", ""));
	mk_api_default(res("cronjobs"), j);
	ck_assert_str_eq(mk_json_get_string(j, "spec.concurrencyPolicy"), "Allow");
	ck_assert_int_eq(mk_json_get(j, "spec.successfulJobsHistoryLimit")->valueint, 3);
	ck_assert_int_eq(mk_json_get(j, "spec.failedJobsHistoryLimit")->valueint, 1);
	ck_assert(cJSON_IsFalse(mk_json_get(j, "spec.suspend")));
	/* SetDefaults_Job is not applied to the template */
	ck_assert_ptr_null(mk_json_get(j, "spec.jobTemplate.spec.completions"));
	ck_assert_str_eq(mk_json_get_string(j, "spec.jobTemplate.spec.template.spec.dnsPolicy"), "ClusterFirst");
	cJSON_Delete(j);

	cj_fields_are(CJ("tick", "@daily", ",\"timeZone\":\"Europe/Berlin\""), "");
	cj_fields_are(CJ("tick", "0 0 * * * *", ""), "spec.schedule");
	cj_fields_are(CJ("tick", "@fortnightly", ""), "spec.schedule");
	cj_fields_are(CJ("tick", "TZ=UTC 0 * * * *", ""), "spec.schedule");
	cj_fields_are(CJ("tick", "", ""), "spec.schedule");
	cj_fields_are(CJ("tick", "@hourly", ",\"timeZone\":\"Mars/Olympus\""), "spec.timeZone");
	cj_fields_are(CJ("tick", "@hourly", ",\"timeZone\":\"Local\""), "spec.timeZone");
	cj_fields_are(CJ("tick", "@hourly", ",\"concurrencyPolicy\":\"Sometimes\""), "spec.concurrencyPolicy");
	cj_fields_are(CJ("tick", "@hourly", ",\"startingDeadlineSeconds\":-1,\"failedJobsHistoryLimit\":-1"),
		      "spec.startingDeadlineSeconds spec.failedJobsHistoryLimit");
	cj_fields_are(CJ("a-name-that-is-far-too-long-for-the-jobs-it-would-create", "@hourly", ""),
		      "metadata.name");
	cj_fields_are("{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"x\","
		      "\"namespace\":\"default\"},\"spec\":{\"schedule\":\"@hourly\",\"jobTemplate\":{\"spec\":{"
		      "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}}}",
		      "spec.jobTemplate.spec.template.spec.restartPolicy");
}
END_TEST

static char *row(const char *plural, const char *json, time_t now)
{
	cJSON *t = mk_api_table_new(res(plural), true);
	cJSON *o = parse(json);
	mk_api_table_add_row(t, res(plural), o, now);
	struct mk_buf b;
	mk_buf_init(&b);
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(t, "rows"), 0), "cells"))
	{
		if (cJSON_IsString(c))
			mk_buf_printf(&b, "%s|", c->valuestring);
		else
			mk_buf_printf(&b, "%g|", c->valuedouble);
	}
	cJSON_Delete(o);
	cJSON_Delete(t);
	return mk_buf_steal(&b);
}

START_TEST(test_batch_tables)
{
	time_t now = mk_time_parse("2026-01-01T00:10:00Z");
	char *r = row("jobs",
		      "{\"metadata\":{\"name\":\"pi\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
		      "\"spec\":{\"completions\":5,\"parallelism\":2,\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
		      "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}},"
		      "\"status\":{\"succeeded\":5,\"startTime\":\"2026-01-01T00:00:01Z\",\"completionTime\":"
		      "\"2026-01-01T00:00:45Z\",\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}",
		      now);
	ck_assert_str_eq(r, "pi|Complete|5/5|44s|10m|c|busybox|a=b|");
	free(r);
	r = row("jobs",
		"{\"metadata\":{\"name\":\"w\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
		"\"spec\":{\"parallelism\":3,\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}},"
		"\"status\":{\"succeeded\":1,\"startTime\":\"2026-01-01T00:05:00Z\"}}",
		now);
	ck_assert_str_eq(r, "w|Running|1/1 of 3|5m|10m|c|x|<none>|");
	free(r);
	r = row("cronjobs",
		"{\"metadata\":{\"name\":\"tick\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},"
		"\"spec\":{\"schedule\":\"*/1 * * * *\",\"suspend\":false,\"jobTemplate\":{\"spec\":{\"template\":"
		"{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}},"
		"\"status\":{\"active\":[{\"name\":\"a\"}],\"lastScheduleTime\":\"2026-01-01T00:09:00Z\"}}",
		now);
	ck_assert_str_eq(r, "tick|*/1 * * * *|<none>|False|1|60s|10m|c|x|<none>|");
	free(r);
}
END_TEST

Suite *batch_suite(void)
{
	Suite *s = suite_create("batch");
	TCase *tc = tcase_create("batch");
	tcase_add_test(tc, test_job_defaults);
	tcase_add_test(tc, test_job_validation);
	tcase_add_test(tc, test_job_update);
	tcase_add_test(tc, test_cronjob_defaults_and_validation);
	tcase_add_test(tc, test_batch_tables);
	suite_add_tcase(s, tc);
	return s;
}
