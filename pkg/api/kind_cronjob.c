/* batch/v1 CronJob: defaults as SetDefaults_CronJob (concurrencyPolicy Allow,
 * suspend false, history limits 3 and 1; the job template's pod template gets the
 * pod defaults), validation as pkg/apis/batch/validation (a parsable five-field
 * schedule without TZ=, a time zone of the tz database, a name that leaves room
 * for the job names, the job template's spec), and kube-apiserver's columns. */
#include <string.h>
#include "internal.h"

#define MAX_NAME 52 /* 63 minus the 11 characters of "-<minutes>" job suffixes */

static const char *const policies[] = { "Allow", "Forbid", "Replace", NULL };

static void cronjob_defaults(cJSON *obj)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec))
		return;
	mk_api_json_default(spec, "concurrencyPolicy", cJSON_CreateString("Allow"));
	mk_api_json_default(spec, "suspend", cJSON_CreateFalse());
	mk_api_json_default(spec, "successfulJobsHistoryLimit", cJSON_CreateNumber(3));
	mk_api_json_default(spec, "failedJobsHistoryLimit", cJSON_CreateNumber(1));
	mk_api_default_pod_template(mk_json_get(spec, "jobTemplate.spec.template"));
}

static void cronjob_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (name && strlen(name) > MAX_NAME)
		mk_api_v_invalid(causes, "metadata.name", mk_json_get(obj, "metadata.name"),
				 "must be no more than 52 characters");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec)) {
		mk_api_v_required(causes, "spec", NULL);
		return;
	}
	const cJSON *sched = cJSON_GetObjectItemCaseSensitive(spec, "schedule");
	if (!cJSON_IsString(sched) || !sched->valuestring[0]) {
		mk_api_v_required(causes, "spec.schedule", NULL);
	} else {
		struct mk_cron c;
		_cleanup_error_ struct mk_error *err = NULL;
		if (strstr(sched->valuestring, "TZ="))
			mk_api_v_invalid(causes, "spec.schedule", sched,
					 "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
		else if (mk_cron_parse(sched->valuestring, &c, &err) < 0)
			mk_api_v_invalid(causes, "spec.schedule", sched, err->msg);
	}
	const cJSON *tz = cJSON_GetObjectItemCaseSensitive(spec, "timeZone");
	if (tz && !cJSON_IsNull(tz)) {
		struct mk_tz *z = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		if (!cJSON_IsString(tz) || !tz->valuestring[0])
			mk_api_v_invalid(causes, "spec.timeZone", tz, "timeZone must be nil or non-empty string");
		else if (!strcasecmp(tz->valuestring, "Local"))
			mk_api_v_invalid(causes, "spec.timeZone", tz,
					 "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones");
		else if (mk_tz_load(tz->valuestring, &z, &err) < 0)
			mk_api_v_invalid(causes, "spec.timeZone", tz, err->msg);
		mk_tz_free(z);
	}
	const char *pol = mk_json_get_string(spec, "concurrencyPolicy");
	bool pol_ok = false;
	for (size_t i = 0; pol && policies[i]; i++)
		pol_ok |= !strcmp(pol, policies[i]);
	if (!pol || !*pol)
		mk_api_v_required(causes, "spec.concurrencyPolicy", NULL);
	else if (!pol_ok)
		mk_api_v_not_supported(causes, "spec.concurrencyPolicy", pol, policies);
	mk_api_v_non_negative(causes, spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds");
	mk_api_v_non_negative(causes, spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit");
	mk_api_v_non_negative(causes, spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit");
	const cJSON *jt = cJSON_GetObjectItemCaseSensitive(spec, "jobTemplate");
	if (!cJSON_IsObject(jt)) {
		mk_api_v_required(causes, "spec.jobTemplate", NULL);
		return;
	}
	mk_api_v_job_spec(causes, cJSON_GetObjectItemCaseSensitive(jt, "spec"), "spec.jobTemplate.spec",
			  false);
	(void)old;
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Schedule", "string", "", "The cron schedule of the jobs.", 0 },
	{ "Timezone", "string", "", "The time zone the schedule is read in.", 0 },
	{ "Suspend", "boolean", "", "Whether further runs are suspended.", 0 },
	{ "Active", "integer", "", "Jobs of this cron job that are running.", 0 },
	{ "Last Schedule", "date", "", "Time since a job was last scheduled.", 0 },
	MK_API_AGE_COL,
	{ "Containers", "string", "", "Names of the containers in the job template.", 1 },
	{ "Images", "string", "", "Images of the containers in the job template.", 1 },
	{ "Selector", "string", "", "Label selector of the job template.", 1 },
};

static void cronjob_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	mk_api_cell_str(cells, mk_json_get_string(spec, "schedule"));
	const char *tz = mk_json_get_string(spec, "timeZone");
	mk_api_cell_str(cells, tz ? tz : "<none>");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(spec, "suspend");
	mk_api_cell_str(cells, cJSON_IsBool(s) ? (cJSON_IsTrue(s) ? "True" : "False") : "<unset>");
	mk_api_cell_int(cells, cJSON_GetArraySize(mk_json_get(obj, "status.active")));
	const char *last = mk_json_get_string(obj, "status.lastScheduleTime");
	if (last)
		mk_api_cell_age(cells, last, now);
	else
		mk_api_cell_str(cells, "<none>");
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_api_cell_workload_wide(cells, mk_json_get(spec, "jobTemplate.spec"));
}

const struct mk_api_kind_ops mk_api_cronjob_ops = {
	.defaults = cronjob_defaults,
	.validate = cronjob_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = cronjob_cells,
};
