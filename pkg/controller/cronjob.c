/* CronJob controller (batch/v1), after kube-controller-manager's cronjob v2
 * controller: at each scheduled time (read in spec.timeZone) it creates the Job
 * NAME-<scheduled time in minutes since the epoch> from the job template, owned by
 * the CronJob and annotated batch.kubernetes.io/cronjob-scheduled-timestamp. Of the
 * runs missed since the last one (or creation) only the most recent starts, and
 * only within startingDeadlineSeconds; more than 100 missed gives a warning event.
 * concurrencyPolicy Forbid skips a run while a job is active, Replace deletes the
 * active ones first. Finished jobs beyond the history limits are deleted (oldest
 * first). status.active lists the running jobs; lastScheduleTime and
 * lastSuccessfulTime follow. The controller wakes itself for the next run with a
 * delayed requeue. */
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "cronjob-controller"
#define MAX_MISSED 100

static char *owner_key(const cJSON *obj)
{
	const cJSON *r = mk_api_controller_ref(obj);
	const char *k = mk_json_get_string(r, "kind"), *name = mk_json_get_string(r, "name");
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	if (!r || !k || strcmp(k, "CronJob") || !name || !ns)
		return NULL;
	return mk_strdup_printf("%s/%s", ns, name);
}

static void on_job(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	_cleanup_free_ char *ok = old ? owner_key(old->json) : NULL;
	_cleanup_free_ char *nk = new ? owner_key(new->json) : NULL;
	if (ok)
		mk_workqueue_add(ctl->cronjob.q, ok);
	if (nk && (!ok || strcmp(ok, nk)))
		mk_workqueue_add(ctl->cronjob.q, nk);
}

static void on_cronjob(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (new)
		mk_workqueue_add(ctl->cronjob.q, new->key);
}

void cronjob_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_JOBS], on_job, ctl);
	mk_informer_add_handler(ctl->inf[CTL_CRONJOBS], on_cronjob, ctl);
}

static time_t ts_at(const cJSON *obj, const char *path)
{
	const char *s = mk_json_get_string(obj, path);
	time_t t = s ? mk_time_parse(s) : (time_t)-1;
	return t == (time_t)-1 ? 0 : t;
}

/* "Complete" or "Failed" when the job finished, else NULL. */
static const char *job_finished(const cJSON *job)
{
	static const char *const types[] = { "Complete", "Failed" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(types); i++) {
		const char *s = mk_json_get_string(find_condition(job, types[i]), "status");
		if (s && !strcmp(s, "True"))
			return types[i];
	}
	return NULL;
}

/* The most recent scheduled time in (earliest, now], or 0; *ret_missed counts
 * them (up to MAX_MISSED + 1), *ret_next is the first one after now (-1: none). */
int64_t mk_controller_cron_most_recent(const struct mk_cron *c, const struct mk_tz *tz,
				       int64_t earliest, int64_t now, int *ret_missed,
				       int64_t *ret_next)
{
	int missed = 0;
	int64_t last = 0, t = mk_cron_next(c, tz, earliest);
	while (t >= 0 && t <= now && missed <= MAX_MISSED) {
		missed++;
		last = t;
		t = mk_cron_next(c, tz, t);
	}
	if (t >= 0 && t <= now) {
		/* too many to walk: find the latest one by growing windows back from now */
		for (int64_t w = 61; w < now - earliest + 61; w *= 2) {
			int64_t from = now - w > earliest ? now - w : earliest;
			int64_t u = mk_cron_next(c, tz, from);
			if (u < 0 || u > now)
				continue;
			while (u >= 0 && u <= now) {
				last = u;
				u = mk_cron_next(c, tz, u);
			}
			break;
		}
		t = mk_cron_next(c, tz, now);
	}
	*ret_missed = missed;
	*ret_next = t;
	return last;
}

static int delete_job(struct mk_controllers *ctl, const cJSON *cj, const cJSON *job)
{
	const char *name = mk_json_get_string(job, "metadata.name");
	_cleanup_free_ char *path = mk_client_resource_path("batch/v1", "jobs",
					     mk_json_get_string(job, "metadata.namespace"), name, NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_delete(ctl->c, path, "Background", NULL, &err) < 0) {
		if (mk_error_code(err) == 404)
			return 0;
		mk_event_record(ctl->rec, COMPONENT, cj, "Warning", "FailedDelete",
				"Deleted job: %s", err->msg);
		return -1;
	}
	mk_event_record(ctl->rec, COMPONENT, cj, "Normal", "SuccessfulDelete", "Deleted job %s", name);
	return 0;
}

static int cmp_oldest_first(const void *a, const void *b)
{
	const cJSON *ja = (*(struct mk_object *const *)a)->json, *jb = (*(struct mk_object *const *)b)->json;
	time_t ta = ts_at(ja, "status.startTime"), tb = ts_at(jb, "status.startTime");
	if (!ta)
		ta = ts_at(ja, "metadata.creationTimestamp");
	if (!tb)
		tb = ts_at(jb, "metadata.creationTimestamp");
	if (ta != tb)
		return ta < tb ? -1 : 1;
	return strcmp(mk_json_get_string(ja, "metadata.name"), mk_json_get_string(jb, "metadata.name"));
}

/* Deletes the oldest finished jobs of kind want ("Complete"/"Failed") over limit. */
static int prune(struct mk_controllers *ctl, const cJSON *cj, struct mk_object **jobs, size_t n,
		 const char *want, const char *limit_key)
{
	const cJSON *l = mk_json_get(cj, limit_key);
	if (!cJSON_IsNumber(l))
		return 0;
	struct mk_object **fin = mk_malloc0((n + 1) * sizeof(*fin));
	size_t nf = 0;
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		const char *f = job_finished(jobs[i]->json);
		if (f && !strcmp(f, want) && !has_deletion(jobs[i]->json))
			fin[nf++] = jobs[i];
	}
	qsort(fin, nf, sizeof(*fin), cmp_oldest_first);
	for (size_t i = 0; (int)(nf - i) > l->valueint; i++)
		if (delete_job(ctl, cj, fin[i]->json) < 0)
			ret = -1;
	free(fin);
	return ret;
}

static cJSON *job_ref(const cJSON *job)
{
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "kind", "Job");
	cJSON_AddStringToObject(r, "namespace", mk_json_get_string(job, "metadata.namespace"));
	cJSON_AddStringToObject(r, "name", mk_json_get_string(job, "metadata.name"));
	cJSON_AddStringToObject(r, "uid", mk_json_get_string(job, "metadata.uid"));
	cJSON_AddStringToObject(r, "apiVersion", "batch/v1");
	const char *rv = mk_json_get_string(job, "metadata.resourceVersion");
	if (rv)
		cJSON_AddStringToObject(r, "resourceVersion", rv);
	return r;
}

/* RFC 3339 of t in zone tz, with its offset ("2026-03-29T03:00:00+02:00"). */
static void format_local(const struct mk_tz *tz, int64_t t, char buf[40])
{
	int32_t off = mk_tz_offset(tz, t);
	int64_t l = t + off, days = l / 86400 - (l % 86400 < 0), sec = l - days * 86400;
	int64_t y;
	int m, d;
	mk_civil_from_days(days, &y, &m, &d);
	if (off == 0) {
		snprintf(buf, 40, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d, (int)(sec / 3600),
			 (int)(sec / 60 % 60), (int)(sec % 60));
		return;
	}
	int a = off < 0 ? -off : off;
	snprintf(buf, 40, "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (long long)y, m, d,
		 (int)(sec / 3600), (int)(sec / 60 % 60), (int)(sec % 60), off < 0 ? '-' : '+',
		 a / 3600, a / 60 % 60);
}

static cJSON *job_from_template(const cJSON *cj, const char *name, const char *sched_ts)
{
	const cJSON *jt = mk_json_get(cj, "spec.jobTemplate");
	cJSON *job = cJSON_CreateObject();
	cJSON_AddStringToObject(job, "apiVersion", "batch/v1");
	cJSON_AddStringToObject(job, "kind", "Job");
	cJSON *md = cJSON_AddObjectToObject(job, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", mk_json_get_string(cj, "metadata.namespace"));
	const cJSON *v = mk_json_get(jt, "metadata.labels");
	if (cJSON_IsObject(v))
		cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(v, 1));
	v = mk_json_get(jt, "metadata.annotations");
	cJSON *ann = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(md, "annotations", ann);
	mk_json_set_string(ann, "batch.kubernetes.io/cronjob-scheduled-timestamp", sched_ts);
	cJSON *ref = controller_ref_new(cj);
	mk_json_set_string(ref, "apiVersion", "batch/v1");
	mk_json_set_string(ref, "kind", "CronJob");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"), ref);
	v = cJSON_GetObjectItem(jt, "spec");
	cJSON_AddItemToObject(job, "spec", cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
	return job;
}

static int write_status(struct mk_controllers *ctl, const cJSON *cj, const cJSON *status)
{
	return ctl_status_update(ctl, CTL_CRONJOBS, "batch/v1", "cronjobs", cj, status);
}

/* Creates the job of the run at when and records it in status. */
static int start_run(struct mk_controllers *ctl, const cJSON *cj, const struct mk_tz *tz,
		     int64_t when, cJSON *status, cJSON *active)
{
	_cleanup_free_ char *name = mk_strdup_printf("%s-%lld", mk_json_get_string(cj, "metadata.name"),
						     (long long)(when / 60));
	char sched_ts[40], b[32];
	format_local(tz, when, sched_ts);
	_cleanup_cjson_ cJSON *job = job_from_template(cj, name, sched_ts);
	_cleanup_free_ char *path = mk_client_resource_path("batch/v1", "jobs",
					     mk_json_get_string(cj, "metadata.namespace"), NULL, NULL);
	_cleanup_cjson_ cJSON *created = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_create(ctl->c, path, job, &created, &err) < 0) {
		if (mk_error_code(err) != 409) {
			mk_event_record(ctl->rec, COMPONENT, cj, "Warning", "FailedCreate",
					"Error creating job: %s", err->msg);
			return -1;
		}
		/* made already (a retry after a failed status write): it is in active */
	} else {
		mk_informer_assume(ctl->inf[CTL_JOBS], created);
		cJSON_AddItemToArray(active, job_ref(created));
		mk_event_record(ctl->rec, COMPONENT, cj, "Normal", "SuccessfulCreate", "Created job %s", name);
	}
	mk_time_format((time_t)when, b, sizeof(b));
	mk_json_set_string(status, "lastScheduleTime", b);
	return 0;
}

/* The status to write: a copy of the current one with active rebuilt from the
 * unfinished jobs (their count in *ret_nactive) and lastSuccessfulTime raised to
 * the newest completed job. */
static cJSON *status_from_jobs(const cJSON *cj, struct mk_object **jobs, size_t n, size_t *ret_nactive)
{
	cJSON *status = cJSON_Duplicate(cJSON_GetObjectItem(cj, "status"), 1);
	if (!cJSON_IsObject(status)) {
		cJSON_Delete(status);
		status = cJSON_CreateObject();
	}
	cJSON *active = cJSON_CreateArray();
	mk_json_set(status, "active", active);
	time_t last_ok = ts_at(status, "lastSuccessfulTime");
	size_t nactive = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *j = jobs[i]->json;
		const char *f = job_finished(j);
		if (!f) {
			if (!has_deletion(j)) {
				cJSON_AddItemToArray(active, job_ref(j));
				nactive++;
			}
			continue;
		}
		time_t ct = ts_at(j, "status.completionTime");
		if (!strcmp(f, "Complete") && ct > last_ok) {
			char b[32];
			mk_time_format(ct, b, sizeof(b));
			mk_json_set_string(status, "lastSuccessfulTime", b);
			last_ok = ct;
		}
	}
	*ret_nactive = nactive;
	return status;
}

/* The most recent schedule time not yet run (0: none, or the schedule or time zone
 * does not parse, told in an event); the key comes back at the next one. The
 * loaded time zone in *ret_tz. */
static int64_t schedule_due(struct mk_controllers *ctl, const cJSON *cj, const char *key,
			    const cJSON *status, time_t now, struct mk_tz **ret_tz)
{
	const cJSON *spec = cJSON_GetObjectItem(cj, "spec");
	struct mk_cron sched;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_cron_parse(mk_json_get_string(spec, "schedule"), &sched, &err) < 0) {
		mk_event_record(ctl->rec, COMPONENT, cj, "Warning", "UnparseableSchedule",
				"unparseable schedule: %s", err->msg);
		return 0;
	}
	if (mk_tz_load(mk_json_get_string(spec, "timeZone"), ret_tz, &err) < 0) {
		mk_event_record(ctl->rec, COMPONENT, cj, "Warning", "UnknownTimeZone", "invalid timeZone: %s",
				err->msg);
		return 0;
	}
	time_t earliest = ts_at(status, "lastScheduleTime");
	if (!earliest)
		earliest = ts_at(cj, "metadata.creationTimestamp");
	const cJSON *sds = cJSON_GetObjectItem(spec, "startingDeadlineSeconds");
	if (cJSON_IsNumber(sds) && now - (time_t)sds->valuedouble > earliest)
		earliest = now - (time_t)sds->valuedouble;
	int missed;
	int64_t next;
	int64_t when = mk_controller_cron_most_recent(&sched, *ret_tz, earliest, now, &missed, &next);
	if (next >= 0)
		mk_workqueue_add_after(ctl->cronjob.q, key, (uint64_t)(next - now) * 1000 + 100);
	if (when && missed > MAX_MISSED)
		mk_event_record(ctl->rec, COMPONENT, cj, "Warning", "TooManyMissedTimes",
				"too many missed start times: %d or more; check the clock, or set or lower "
				".spec.startingDeadlineSeconds",
				MAX_MISSED + 1);
	return when;
}

/* The run at when, as spec.concurrencyPolicy says: Forbid waits while a job is
 * active (as upstream: it starts later if still within the deadline), Replace
 * deletes the active jobs first. */
static int run_by_policy(struct mk_controllers *ctl, const cJSON *cj, struct mk_object **jobs, size_t n,
			 size_t nactive, const struct mk_tz *tz, int64_t when, cJSON *status)
{
	int ret = 0;
	const char *policy = mk_json_get_string(cj, "spec.concurrencyPolicy");
	if (policy && !strcmp(policy, "Forbid") && nactive > 0) {
		mk_event_record(ctl->rec, COMPONENT, cj, "Normal", "JobAlreadyActive",
				"Not starting job because prior execution is running and concurrency policy is Forbid");
		return 0;
	}
	if (policy && !strcmp(policy, "Replace")) {
		for (size_t i = 0; i < n; i++)
			if (!job_finished(jobs[i]->json) && !has_deletion(jobs[i]->json) &&
			    delete_job(ctl, cj, jobs[i]->json) < 0)
				ret = -1;
		mk_json_set(status, "active", cJSON_CreateArray());
	}
	if (start_run(ctl, cj, tz, when, status, cJSON_GetObjectItem(status, "active")) < 0)
		ret = -1;
	return ret;
}

int cronjob_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *co = mk_informer_get(ctl->inf[CTL_CRONJOBS], key);
	if (!co)
		return 0;
	const cJSON *cj = co->json;
	if (has_deletion(cj)) {
		mk_object_unref(co);
		return 0;
	}
	int ret = 0;
	time_t now = time(NULL);
	struct mk_object **jobs;
	size_t n = mk_informer_by_index(ctl->inf[CTL_JOBS], "ctl", mk_json_get_string(cj, "metadata.uid"),
					&jobs);
	size_t nactive;
	_cleanup_cjson_ cJSON *status = status_from_jobs(cj, jobs, n, &nactive);
	if (prune(ctl, cj, jobs, n, "Complete", "spec.successfulJobsHistoryLimit") < 0 ||
	    prune(ctl, cj, jobs, n, "Failed", "spec.failedJobsHistoryLimit") < 0)
		ret = -1;

	struct mk_tz *tz = NULL;
	if (!cJSON_IsTrue(mk_json_get(cj, "spec.suspend"))) {
		int64_t when = schedule_due(ctl, cj, key, status, now, &tz);
		if (when && run_by_policy(ctl, cj, jobs, n, nactive, tz, when, status) < 0)
			ret = -1;
	}

	if (cJSON_GetArraySize(cJSON_GetObjectItem(status, "active")) == 0)
		cJSON_DeleteItemFromObject(status, "active");
	if (write_status(ctl, cj, status) < 0)
		ret = -1;
	mk_tz_free(tz);
	mk_object_list_free(jobs, n);
	mk_object_unref(co);
	return ret;
}
