/* The Job and CronJob controllers against a real API server: an Indexed job runs
 * parallelism pods with their index (annotation, label, hostname, env) and
 * completes once every index succeeded; a failing job with backoffLimit 0 fails
 * with BackoffLimitExceeded; a suspended job runs nothing until resumed; a
 * CronJob with a missed run creates the job of the latest one (name, annotation,
 * owner, status.active and lastScheduleTime) and prunes finished jobs beyond its
 * history limit. The test plays the node agent by writing pod phases. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

#define PODS "/api/v1/namespaces/default/pods"
#define JOBS "/apis/batch/v1/namespaces/default/jobs"
#define CJS "/apis/batch/v1/namespaces/default/cronjobs"

struct want_pods {
	int active; /* pods not Succeeded/Failed and not being deleted */
	int total;  /* -1: any */
};

static int count_active(const cJSON *list)
{
	int n = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		const char *ph = mk_json_get_string(it, "status.phase");
		if (mk_json_get(it, "metadata.deletionTimestamp") || (ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"))))
			continue;
		n++;
	}
	return n;
}

static bool pods_state(const cJSON *list, const void *arg)
{
	const struct want_pods *w = arg;
	return count_active(list) == w->active &&
	       (w->total < 0 || cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")) == w->total);
}

static bool job_condition(const cJSON *job, const void *arg)
{
	const char *type = arg;
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(job, "status.conditions"))
	{
		const char *t = mk_json_get_string(c, "type"), *s = mk_json_get_string(c, "status");
		if (t && s && !strcmp(t, type) && !strcmp(s, "True"))
			return true;
	}
	return false;
}

/* map lookups by key (keys have dots: not mk_json_get paths) */
static const char *map_str(const cJSON *obj, const char *map, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(mk_json_get(obj, map), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *ann(const cJSON *obj, const char *key)
{
	return map_str(obj, "metadata.annotations", key);
}

static void set_phase(const cJSON *pod, const char *phase, int code)
{
	char *path = mk_strdup_printf(PODS "/%s/status", mk_json_get_string(pod, "metadata.name"));
	char *j = mk_strdup_printf("{\"status\":{\"phase\":\"%s\",\"containerStatuses\":[{\"name\":\"c\","
				   "\"ready\":false,\"restartCount\":0,\"image\":\"x\",\"imageID\":\"\","
				   "\"state\":{\"terminated\":{\"exitCode\":%d,\"reason\":\"%s\"}}}]}}",
				   phase, code, code ? "Error" : "Completed");
	fx_patch(path, j);
	free(j);
	free(path);
}

#define JOB_TMPL                                                                                \
	"\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\"," \
	"\"image\":\"x:1\"}]}}"

START_TEST(test_job_indexed_completes)
{
	fx_create(JOBS, "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"ix\"},"
			"\"spec\":{\"completions\":3,\"parallelism\":2,\"completionMode\":\"Indexed\"," JOB_TMPL "}}");
	struct want_pods w2 = { 2, 2 };
	cJSON *list = fx_wait(PODS, pods_state, &w2, "two pods of the indexed job");
	bool seen[3] = { false, false, false };
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
	{
		const char *ix = ann(p, "batch.kubernetes.io/job-completion-index");
		ck_assert_ptr_nonnull(ix);
		int i = atoi(ix);
		ck_assert(i >= 0 && i < 2);
		seen[i] = true;
		char *host = mk_strdup_printf("ix-%d", i);
		ck_assert_str_eq(mk_json_get_string(p, "spec.hostname"), host);
		free(host);
		ck_assert_str_eq(map_str(p, "metadata.labels", "batch.kubernetes.io/job-completion-index"), ix);
		ck_assert_str_eq(map_str(p, "metadata.labels", "batch.kubernetes.io/job-name"), "ix");
		const cJSON *env = cJSON_GetArrayItem(mk_json_get(cJSON_GetArrayItem(mk_json_get(p, "spec.containers"), 0), "env"), 0);
		ck_assert_str_eq(mk_json_get_string(env, "name"), "JOB_COMPLETION_INDEX");
		ck_assert_str_eq(mk_json_get_string(env, "valueFrom.fieldRef.fieldPath"),
				 "metadata.annotations['batch.kubernetes.io/job-completion-index']");
		const cJSON *ref = mk_api_controller_ref(p);
		ck_assert_str_eq(mk_json_get_string(ref, "kind"), "Job");
		ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(ref, "blockOwnerDeletion")));
	}
	ck_assert(seen[0] && seen[1]);
	/* index 0 succeeds: index 2 starts, index 1 still runs */
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
		if (!strcmp(ann(p, "batch.kubernetes.io/job-completion-index"), "0"))
			set_phase(p, "Succeeded", 0);
	cJSON_Delete(list);
	struct want_pods w3 = { 2, 3 };
	list = fx_wait(PODS, pods_state, &w3, "index 2 started after index 0 succeeded");
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(list, "items"))
		if (strcmp(ann(p, "batch.kubernetes.io/job-completion-index"), "0"))
			set_phase(p, "Succeeded", 0);
	cJSON_Delete(list);
	cJSON *job = fx_wait(JOBS "/ix", job_condition, "Complete", "job Complete");
	ck_assert_int_eq(mk_json_get(job, "status.succeeded")->valueint, 3);
	ck_assert_str_eq(mk_json_get_string(job, "status.completedIndexes"), "0-2");
	ck_assert_ptr_nonnull(mk_json_get_string(job, "status.completionTime"));
	cJSON_Delete(job);
	/* finished pods are kept */
	list = fx_get(PODS);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")), 3);
	cJSON_Delete(list);
}
END_TEST

START_TEST(test_job_backoff_limit)
{
	fx_create(JOBS, "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"bad\"},"
			"\"spec\":{\"backoffLimit\":0," JOB_TMPL "}}");
	struct want_pods w1 = { 1, 1 };
	cJSON *list = fx_wait(PODS, pods_state, &w1, "one pod");
	set_phase(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0), "Failed", 3);
	cJSON_Delete(list);
	cJSON *job = fx_wait(JOBS "/bad", job_condition, "Failed", "job Failed");
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(job, "status.conditions"))
		if (!strcmp(mk_json_get_string(c, "type"), "Failed"))
			ck_assert_str_eq(mk_json_get_string(c, "reason"), "BackoffLimitExceeded");
	ck_assert_int_eq(mk_json_get(job, "status.failed")->valueint, 1);
	ck_assert_int_eq(mk_json_get(job, "status.active")->valueint, 0);
	cJSON_Delete(job);
	/* no replacement pod */
	list = fx_get(PODS);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")), 1);
	cJSON_Delete(list);
}
END_TEST

static const cJSON *condition_of(const cJSON *job, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(job, "status.conditions"))
		if (!strcmp(mk_json_get_string(c, "type"), type))
			return c;
	return NULL;
}

static const cJSON *active_pod(const cJSON *list)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(list, "items"))
	{
		const char *ph = mk_json_get_string(it, "status.phase");
		if (!ph || (strcmp(ph, "Succeeded") && strcmp(ph, "Failed")))
			return it;
	}
	return NULL;
}

START_TEST(test_job_pod_failure_policy)
{
	fx_create(JOBS, "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"pfp\"},"
			"\"spec\":{\"backoffLimit\":0,\"podFailurePolicy\":{\"rules\":["
			"{\"action\":\"FailJob\",\"onExitCodes\":{\"containerName\":\"c\",\"operator\":\"In\",\"values\":[42]}},"
			"{\"action\":\"Ignore\",\"onExitCodes\":{\"operator\":\"In\",\"values\":[7,8]}}]},"
			JOB_TMPL "}}");
	cJSON *job = fx_get(JOBS "/pfp");
	ck_assert_str_eq(mk_json_get_string(job, "spec.podReplacementPolicy"), "Failed");
	cJSON_Delete(job);
	struct want_pods w1 = { 1, 1 };
	cJSON *list = fx_wait(PODS, pods_state, &w1, "one pod");
	/* exit 7: ignored, so backoffLimit 0 is not reached and a new pod comes */
	set_phase(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0), "Failed", 7);
	cJSON_Delete(list);
	struct want_pods w2 = { 1, 2 };
	list = fx_wait(PODS, pods_state, &w2, "a replacement for the ignored failure");
	job = fx_get(JOBS "/pfp");
	ck_assert(!job_condition(job, "Failed"));
	ck_assert_int_eq(mk_json_get(job, "status.failed")->valueint, 0);
	cJSON_Delete(job);
	/* exit 42 in container c: the job fails at once */
	set_phase(active_pod(list), "Failed", 42);
	cJSON_Delete(list);
	job = fx_wait(JOBS "/pfp", job_condition, "Failed", "job Failed by the policy");
	const cJSON *c = condition_of(job, "Failed");
	ck_assert_str_eq(mk_json_get_string(c, "reason"), "PodFailurePolicy");
	ck_assert_msg(strstr(mk_json_get_string(c, "message"), "failed with exit code 42 matching FailJob rule at index 0"),
		      "message %s", mk_json_get_string(c, "message"));
	cJSON_Delete(job);
}
END_TEST

static bool resumed(const cJSON *job, const void *arg)
{
	(void)arg;
	const cJSON *c = condition_of(job, "Suspended");
	return c && !strcmp(mk_json_get_string(c, "status"), "False") &&
	       !strcmp(mk_json_get_string(c, "reason"), "JobResumed") &&
	       mk_json_get_string(job, "status.startTime");
}

START_TEST(test_job_suspend)
{
	fx_create(JOBS, "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"s\"},"
			"\"spec\":{\"suspend\":true,\"parallelism\":2,\"completions\":4," JOB_TMPL "}}");
	cJSON *sj = fx_wait(JOBS "/s", job_condition, "Suspended", "job Suspended");
	ck_assert_ptr_null(mk_json_get(sj, "status.startTime")); /* not started while suspended */
	cJSON_Delete(sj);
	cJSON *list = fx_get(PODS);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")), 0);
	cJSON_Delete(list);
	fx_patch(JOBS "/s", "{\"spec\":{\"suspend\":false}}");
	struct want_pods w2 = { 2, 2 };
	cJSON_Delete(fx_wait(PODS, pods_state, &w2, "two pods after resume"));
	cJSON_Delete(fx_wait(JOBS "/s", resumed, NULL, "Suspended False and a startTime"));
}
END_TEST

static bool has_items(const cJSON *list, const void *arg)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(list, "items")) == *(const int *)arg;
}

static bool cj_scheduled(const cJSON *cj, const void *arg)
{
	return cJSON_GetArraySize(mk_json_get(cj, "status.active")) == 1 &&
	       mk_json_get_string(cj, "status.lastScheduleTime");
}

START_TEST(test_cronjob_missed_run_and_history)
{
	fx_create(CJS, "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cj\"},"
		       "\"spec\":{\"schedule\":\"0 * * * *\",\"timeZone\":\"Asia/Kolkata\",\"successfulJobsHistoryLimit\":1,"
		       "\"jobTemplate\":{\"metadata\":{\"labels\":{\"from\":\"cj\"}},\"spec\":{" JOB_TMPL "}}}}");
	cJSON *cj = fx_get(CJS "/cj");
	/* a run missed: the last one is said to be 3 hours ago; in Kolkata (+05:30) hourly
	 * runs fall at :30 UTC */
	time_t now = time(NULL);
	char ts[32];
	mk_time_format(now - 3 * 3600, ts, sizeof(ts));
	char *st = mk_strdup_printf("{\"status\":{\"lastScheduleTime\":\"%s\"}}", ts);
	fx_patch(CJS "/cj/status", st);
	free(st);
	cJSON_Delete(cj);
	cj = fx_wait(CJS "/cj", cj_scheduled, NULL, "a job started for the missed run");
	time_t last = mk_time_parse(mk_json_get_string(cj, "status.lastScheduleTime"));
	ck_assert_int_eq(last % 3600, 1800);
	ck_assert(last <= now && last > now - 3600);
	const char *jname = mk_json_get_string(cJSON_GetArrayItem(mk_json_get(cj, "status.active"), 0), "name");
	char *want = mk_strdup_printf("cj-%lld", (long long)(last / 60));
	ck_assert_str_eq(jname, want);
	char *jpath = mk_strdup_printf(JOBS "/%s", want);
	cJSON *job = fx_get(jpath);
	ck_assert_ptr_nonnull(job);
	ck_assert_str_eq(mk_json_get_string(mk_api_controller_ref(job), "name"), "cj");
	ck_assert_str_eq(mk_json_get_string(mk_json_get(job, "metadata.labels"), "from"), "cj");
	/* the scheduled time in the zone, with its offset */
	const char *sched = ann(job, "batch.kubernetes.io/cronjob-scheduled-timestamp");
	ck_assert_ptr_nonnull(sched);
	ck_assert_msg(strstr(sched, ":00:00+05:30"), "scheduled timestamp %s", sched);
	ck_assert_int_eq(mk_time_parse(sched), last);
	cJSON_Delete(job);
	cJSON_Delete(cj);

	/* history: two more finished jobs of the cron job; only the newest successful stays */
	cj = fx_get(CJS "/cj");
	const char *uid = mk_json_get_string(cj, "metadata.uid");
	for (int i = 0; i < 2; i++) {
		char *body = mk_strdup_printf(
			"{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"old-%d\","
			"\"ownerReferences\":[{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"name\":\"cj\","
			"\"uid\":\"%s\",\"controller\":true}]},\"spec\":{\"suspend\":true," JOB_TMPL "}}",
			i, uid);
		fx_create(JOBS, body);
		free(body);
		char *p = mk_strdup_printf(JOBS "/old-%d/status", i);
		char *s = mk_strdup_printf("{\"status\":{\"startTime\":\"2026-01-0%dT00:00:00Z\","
					   "\"completionTime\":\"2026-01-0%dT00:01:00Z\",\"succeeded\":1,"
					   "\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}",
					   i + 1, i + 1);
		fx_patch(p, s);
		free(p);
		free(s);
	}
	int one = 2; /* the running job and old-1 */
	cJSON *jobs = fx_wait(JOBS, has_items, &one, "the oldest finished job pruned");
	cJSON *left = fx_get(JOBS "/old-1");
	ck_assert_ptr_nonnull(left);
	cJSON_Delete(left);
	cJSON_Delete(jobs);
	cJSON_Delete(cj);
	free(jpath);
	free(want);
}
END_TEST

static bool has_event(const cJSON *list, const void *arg)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(list, "items"))
		if (!strcmp(mk_json_get_string(e, "reason"), (const char *)arg))
			return true;
	return false;
}

static void set_last_schedule(const char *path, time_t t)
{
	char ts[32];
	mk_time_format(t, ts, sizeof(ts));
	char *st = mk_strdup_printf("{\"status\":{\"lastScheduleTime\":\"%s\"}}", ts);
	fx_patch(path, st);
	free(st);
}

static bool other_uid(const cJSON *job, const void *arg)
{
	const char *uid = mk_json_get_string(job, "metadata.uid");
	return uid && strcmp(uid, (const char *)arg);
}

START_TEST(test_cronjob_concurrency)
{
	fx_create(CJS, "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",\"metadata\":{\"name\":\"cc\"},"
		       "\"spec\":{\"schedule\":\"0 * * * *\",\"concurrencyPolicy\":\"Forbid\","
		       "\"jobTemplate\":{\"spec\":{" JOB_TMPL "}}}}");
	time_t now = time(NULL);
	set_last_schedule(CJS "/cc/status", now - 3 * 3600);
	cJSON *cj = fx_wait(CJS "/cc", cj_scheduled, NULL, "the first run");
	char *name = mk_strdup(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(cj, "status.active"), 0), "name"));
	char *path = mk_strdup_printf(JOBS "/%s", name);
	cJSON *j1 = fx_get(path);
	char *uid1 = mk_strdup(mk_json_get_string(j1, "metadata.uid"));
	cJSON_Delete(j1);
	cJSON_Delete(cj);
	/* Forbid: the run is due again while the first job runs: skipped */
	set_last_schedule(CJS "/cc/status", now - 3 * 3600);
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/events", has_event, "JobAlreadyActive",
			     "a JobAlreadyActive event"));
	cJSON *jobs = fx_get(JOBS);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(jobs, "items")), 1);
	cJSON_Delete(jobs);
	/* Replace: the running job is deleted and the run starts anew */
	fx_patch(CJS "/cc", "{\"spec\":{\"concurrencyPolicy\":\"Replace\"}}");
	cJSON *j2 = fx_wait(path, other_uid, uid1, "a new job in place of the running one");
	cJSON_Delete(j2);
	free(uid1);
	free(path);
	free(name);
}
END_TEST

Suite *job_suite(void)
{
	Suite *s = suite_create("job");
	TCase *tc = tcase_create("job");
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_job_indexed_completes);
	tcase_add_test(tc, test_job_backoff_limit);
	tcase_add_test(tc, test_job_suspend);
	tcase_add_test(tc, test_job_pod_failure_policy);
	tcase_add_test(tc, test_cronjob_concurrency);
	tcase_add_test(tc, test_cronjob_missed_run_and_history);
	suite_add_tcase(s, tc);
	return s;
}
