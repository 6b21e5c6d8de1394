/* batch/v1 Job: defaults as SetDefaults_Job (parallelism and completions 1 when
 * both unset, backoffLimit 6, completionMode NonIndexed, suspend false,
 * podReplacementPolicy TerminatingOrFailed), the generated selector of the job
 * strategy (batch.kubernetes.io/controller-uid=<uid> and the job-name and
 * controller-uid labels, new and legacy, on the template) unless manualSelector,
 * validation as pkg/apis/batch/validation with the immutable fields on update, and
 * the columns of kube-apiserver's printer (STATUS COMPLETIONS DURATION). */
#include <string.h>
#include "internal.h"

#define UID_LABEL "batch.kubernetes.io/controller-uid"
#define NAME_LABEL "batch.kubernetes.io/job-name"
#define LEGACY_UID_LABEL "controller-uid"
#define LEGACY_NAME_LABEL "job-name"
#define MAX_INDEXED 100000

static const char *const job_restart[] = { "OnFailure", "Never", NULL };
static const char *const completion_modes[] = { "NonIndexed", "Indexed", NULL };
static const char *const replacement_policies[] = { "TerminatingOrFailed", "Failed", NULL };

static cJSON *child(cJSON *obj, const char *key)
{
	cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsObject(c))
		return c;
	if (c && !cJSON_IsNull(c))
		return NULL; /* a wrong type: left for validation */
	c = cJSON_CreateObject();
	mk_json_set(obj, key, c);
	return c;
}

static void set_default_label(cJSON *labels, const char *k, const char *v)
{
	if (!cJSON_GetObjectItemCaseSensitive(labels, k))
		cJSON_AddStringToObject(labels, k, v);
}

/* SetDefaults_Job applies to Jobs only: a CronJob's jobTemplate gets the pod
 * template defaults alone (kind_cronjob.c). */
static void job_defaults(cJSON *obj)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	if (!cJSON_IsObject(spec))
		return;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(spec, "completions");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(spec, "parallelism");
	if ((!c || cJSON_IsNull(c)) && (!p || cJSON_IsNull(p)))
		mk_json_set(spec, "completions", cJSON_CreateNumber(1));
	mk_api_json_default(spec, "parallelism", cJSON_CreateNumber(1));
	mk_api_json_default(spec, "backoffLimit", cJSON_CreateNumber(6));
	mk_api_json_default(spec, "completionMode", cJSON_CreateString("NonIndexed"));
	mk_api_json_default(spec, "suspend", cJSON_CreateFalse());
	cJSON *pfp = cJSON_GetObjectItemCaseSensitive(spec, "podFailurePolicy");
	bool have_pfp = cJSON_IsObject(pfp);
	/* with a pod failure policy, pods are replaced once failed only */
	mk_api_json_default(spec, "podReplacementPolicy",
			    cJSON_CreateString(have_pfp ? "Failed" : "TerminatingOrFailed"));
	cJSON *rule, *rules = have_pfp ? cJSON_GetObjectItemCaseSensitive(pfp, "rules") : NULL;
	cJSON_ArrayForEach(rule, rules)
	{
		cJSON *pat;
		cJSON_ArrayForEach(pat, cJSON_GetObjectItemCaseSensitive(rule, "onPodConditions"))
			if (cJSON_IsObject(pat) && mk_api_json_str_empty(pat, "status"))
				mk_json_set_string(pat, "status", "True");
	}

	cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(spec, "template");
	if (!cJSON_IsObject(tmpl))
		return;
	mk_api_default_pod_template(tmpl);
	cJSON *md = child(obj, "metadata"), *tmd = child(tmpl, "metadata");
	if (!md || !tmd)
		return;
	/* the job takes the template's labels when it has none (SetDefaults_Job) */
	const cJSON *tl = cJSON_GetObjectItemCaseSensitive(tmd, "labels");
	bool copy_labels = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(md, "labels")) == 0;
	if (copy_labels && cJSON_IsObject(tl) && cJSON_GetArraySize(tl) > 0) {
		mk_json_set(md, "labels", cJSON_Duplicate(tl, 1));
		copy_labels = false;
	}
	/* the generated selector (the job strategy's generateSelector) */
	const char *uid = mk_json_get_string(md, "uid");
	const char *name = mk_json_get_string(md, "name");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "manualSelector")) || !uid || !*uid ||
	    !name)
		return;
	cJSON *labels = child(tmd, "labels");
	if (!labels)
		return;
	set_default_label(labels, LEGACY_UID_LABEL, uid);
	set_default_label(labels, UID_LABEL, uid);
	set_default_label(labels, LEGACY_NAME_LABEL, name);
	set_default_label(labels, NAME_LABEL, name);
	cJSON *sel = child(spec, "selector");
	cJSON *ml = sel ? child(sel, "matchLabels") : NULL;
	if (ml)
		set_default_label(ml, UID_LABEL, uid);
	/* a job read back is defaulted again: then the generated labels are copied too */
	if (copy_labels)
		mk_json_set(md, "labels", cJSON_Duplicate(labels, 1));
}

static const char *const pfp_actions[] = { "Count", "FailIndex", "FailJob", "Ignore", NULL };
static const char *const pfp_operators[] = { "In", "NotIn", NULL };
static const char *const cond_statuses[] = { "False", "True", "Unknown", NULL };

static bool in_set(const char *s, const char *const *set)
{
	for (size_t i = 0; s && set[i]; i++)
		if (!strcmp(s, set[i]))
			return true;
	return false;
}

/* onExitCodes: an operator (In, NotIn), 1..255 ascending distinct integer values,
 * no 0 for In. */
static void validate_pfp_exit_codes(cJSON *causes, const cJSON *ec, const char *b)
{
	char f[400];
	const char *op = mk_json_get_string(ec, "operator");
	snprintf(f, sizeof(f), "%s.onExitCodes.operator", b);
	if (!op || !*op)
		mk_api_v_required(causes, f, NULL);
	else if (!in_set(op, pfp_operators))
		mk_api_v_not_supported(causes, f, op, pfp_operators);
	const cJSON *vals = cJSON_GetObjectItemCaseSensitive(ec, "values");
	int nv = cJSON_GetArraySize(vals);
	snprintf(f, sizeof(f), "%s.onExitCodes.values", b);
	if (nv == 0)
		mk_api_v_required(causes, f, "at least one value is required");
	else if (nv > 255)
		mk_api_v_too_many(causes, f, nv, 255);
	double prev = -1e18;
	for (int k = 0; k < nv && nv <= 255; k++) {
		const cJSON *v = cJSON_GetArrayItem(vals, k);
		snprintf(f, sizeof(f), "%s.onExitCodes.values[%d]", b, k);
		if (!cJSON_IsNumber(v) || v->valuedouble != (double)(int)v->valuedouble) {
			mk_api_v_invalid(causes, f, v, "must be an integer");
			continue;
		}
		if (op && !strcmp(op, "In") && v->valueint == 0)
			mk_api_v_invalid(causes, f, v, "must not be 0 for the In operator");
		if (v->valuedouble == prev)
			mk_api_v_duplicate(causes, f, v);
		else if (v->valuedouble < prev)
			mk_api_v_invalid(causes, f, v, "must be ordered");
		prev = v->valuedouble;
	}
}

/* onPodConditions: up to 20 patterns, each a label-key type and a status. */
static void validate_pfp_conditions(cJSON *causes, const cJSON *pc, const char *b)
{
	char f[400];
	int np = cJSON_GetArraySize(pc);
	snprintf(f, sizeof(f), "%s.onPodConditions", b);
	if (np > 20) {
		mk_api_v_too_many(causes, f, np, 20);
		return;
	}
	for (int k = 0; k < np; k++) {
		const cJSON *pat = cJSON_GetArrayItem(pc, k);
		const char *t = mk_json_get_string(pat, "type");
		const char *st = mk_json_get_string(pat, "status");
		snprintf(f, sizeof(f), "%s.onPodConditions[%d].type", b, k);
		if (!t || !*t)
			mk_api_v_required(causes, f, NULL);
		else if (mk_api_check_label_key(t))
			mk_api_v_invalid(causes, f, cJSON_GetObjectItemCaseSensitive(pat, "type"),
					 mk_api_check_label_key(t));
		snprintf(f, sizeof(f), "%s.onPodConditions[%d].status", b, k);
		if (!in_set(st, cond_statuses))
			mk_api_v_not_supported(causes, f, st ? st : "", cond_statuses);
	}
}

/* validatePodFailurePolicy: up to 20 rules, each with an action and exactly one of
 * onExitCodes (In/NotIn, 1..255 ascending distinct values, no 0 for In) and
 * onPodConditions (up to 20 patterns). */
static void validate_pfp(cJSON *causes, const cJSON *pfp, const char *prefix)
{
	char f[400], b[300];
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(pfp, "rules");
	int n = cJSON_GetArraySize(rules);
	snprintf(f, sizeof(f), "%s.rules", prefix);
	if (n > 20) {
		mk_api_v_too_many(causes, f, n, 20);
		return;
	}
	for (int i = 0; i < n; i++) {
		const cJSON *r = cJSON_GetArrayItem(rules, i);
		snprintf(b, sizeof(b), "%s.rules[%d]", prefix, i);
		const char *action = mk_json_get_string(r, "action");
		snprintf(f, sizeof(f), "%s.action", b);
		if (!action || !*action)
			mk_api_v_required(causes, f, NULL);
		else if (!in_set(action, pfp_actions))
			mk_api_v_not_supported(causes, f, action, pfp_actions);
		else if (!strcmp(action, "FailIndex"))
			mk_api_v_invalid(causes, f, cJSON_GetObjectItemCaseSensitive(r, "action"),
					 "can only be used when backoffLimitPerIndex is set");
		const cJSON *ec = cJSON_GetObjectItemCaseSensitive(r, "onExitCodes");
		const cJSON *pc = cJSON_GetObjectItemCaseSensitive(r, "onPodConditions");
		bool has_ec = cJSON_IsObject(ec), has_pc = cJSON_GetArraySize(pc) > 0;
		if (has_ec == has_pc) {
			mk_api_v_invalid(causes, b, r,
					 has_ec ? "specifying both OnExitCodes and OnPodConditions is not supported"
						: "specifying one of OnExitCodes and OnPodConditions is required");
			continue;
		}
		if (has_ec)
			validate_pfp_exit_codes(causes, ec, b);
		else
			validate_pfp_conditions(causes, pc, b);
	}
}

static bool int_field(cJSON *causes, const cJSON *spec, const char *key, const char *field,
		      long long min, long long *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(spec, key);
	if (!v || cJSON_IsNull(v))
		return false;
	if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble) {
		mk_api_v_invalid(causes, field, v, "must be an integer");
		return false;
	}
	if (v->valuedouble < (double)min) {
		mk_api_v_invalid(causes, field, v,
				 min > 0 ? "must be greater than 0" : "must be greater than or equal to 0");
		return false;
	}
	if (ret)
		*ret = (long long)v->valuedouble;
	return true;
}

/* ValidateJobSpec: prefix "spec" for a Job, "spec.jobTemplate.spec" for a CronJob
 * (whose template has no generated selector, so none is required). */
void mk_api_v_job_spec(cJSON *causes, const cJSON *spec, const char *prefix, bool is_job)
{
	char f[256];
	long long completions = -1, parallelism = -1;
#define F(suffix) (snprintf(f, sizeof(f), "%s.%s", prefix, suffix), f)
	if (!cJSON_IsObject(spec)) {
		mk_api_v_required(causes, prefix, NULL);
		return;
	}
	int_field(causes, spec, "parallelism", F("parallelism"), 0, &parallelism);
	bool have_c = int_field(causes, spec, "completions", F("completions"), 0, &completions);
	int_field(causes, spec, "activeDeadlineSeconds", F("activeDeadlineSeconds"), 0, NULL);
	int_field(causes, spec, "backoffLimit", F("backoffLimit"), 0, NULL);
	int_field(causes, spec, "ttlSecondsAfterFinished", F("ttlSecondsAfterFinished"), 0, NULL);

	const char *mode = mk_json_get_string(spec, "completionMode");
	if (mode && !mk_api_json_str_empty(spec, "completionMode")) {
		bool ok = false;
		for (size_t i = 0; completion_modes[i]; i++)
			ok |= !strcmp(mode, completion_modes[i]);
		if (!ok)
			mk_api_v_not_supported(causes, F("completionMode"), mode, completion_modes);
		else if (!strcmp(mode, "Indexed")) {
			if (!have_c)
				mk_api_v_required(causes, F("completions"), "when completion mode is Indexed");
			else if (completions > MAX_INDEXED)
				mk_api_v_invalid(causes, F("completions"),
						 cJSON_GetObjectItemCaseSensitive(spec, "completions"),
						 "must be less than or equal to 100000 when completion mode is Indexed");
			if (parallelism > MAX_INDEXED)
				mk_api_v_invalid(causes, F("parallelism"),
						 cJSON_GetObjectItemCaseSensitive(spec, "parallelism"),
						 "must be less than or equal to 100000 when completion mode is Indexed");
		}
	}
	const char *rp = mk_json_get_string(spec, "podReplacementPolicy");
	if (rp && *rp && strcmp(rp, replacement_policies[0]) && strcmp(rp, replacement_policies[1]))
		mk_api_v_not_supported(causes, F("podReplacementPolicy"), rp, replacement_policies);

	const cJSON *pfp = cJSON_GetObjectItemCaseSensitive(spec, "podFailurePolicy");
	bool have_pfp = pfp && !cJSON_IsNull(pfp);
	if (have_pfp) {
		validate_pfp(causes, pfp, F("podFailurePolicy"));
		if (rp && *rp && strcmp(rp, "Failed"))
			mk_api_v_not_supported(causes, F("podReplacementPolicy"), rp,
					       (const char *const[]){ "Failed", NULL });
	}

	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(spec, "selector");
	const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(spec, "template");
	bool sel_ok = false;
	if (sel && !cJSON_IsNull(sel))
		sel_ok = mk_api_v_label_selector(causes, sel, F("selector"));
	else if (is_job)
		mk_api_v_required(causes, F("selector"), NULL);

	snprintf(f, sizeof(f), "%s.template", prefix);
	mk_api_v_pod_template(causes, tmpl, f, (const char *const[]){ "Always", "OnFailure", "Never", NULL });
	if (!cJSON_IsObject(tmpl))
		return;
	const cJSON *tl = mk_json_get(tmpl, "metadata.labels");
	if (sel_ok && !mk_api_selector_matches_json(sel, tl)) {
		_cleanup_cjson_ cJSON *empty = cJSON_CreateObject();
		mk_api_v_invalid(causes, F("template.metadata.labels"), tl ? tl : empty,
				 "`selector` does not match template `labels`");
	}
	const char *restart = mk_json_get_string(tmpl, "spec.restartPolicy");
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(tmpl, "spec")) &&
	    (!restart || (strcmp(restart, "OnFailure") && strcmp(restart, "Never"))))
		mk_api_v_not_supported(causes, F("template.spec.restartPolicy"), restart ? restart : "",
				       job_restart);
	else if (have_pfp && restart && strcmp(restart, "Never"))
		mk_api_v_invalid(causes, F("template.spec.restartPolicy"),
				 mk_json_get(tmpl, "spec.restartPolicy"),
				 "only \"Never\" is supported when podFailurePolicy is specified");
#undef F
}

/* ValidateGeneratedSelector: without manualSelector, the selector and the template
 * labels must be the generated ones. */
static void validate_generated(cJSON *causes, const cJSON *obj)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const char *uid = mk_json_get_string(obj, "metadata.uid");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "manualSelector")) || !uid || !*uid)
		return;
	const cJSON *tl = mk_json_get(spec, "template.metadata.labels");
	const char *v = mk_json_get_string(tl, LEGACY_UID_LABEL);
	const cJSON *vj = cJSON_GetObjectItemCaseSensitive(tl, UID_LABEL);
	if (!cJSON_IsString(vj) || strcmp(vj->valuestring, uid) || (v && strcmp(v, uid)))
		mk_api_v_invalid(causes, "spec.template.metadata.labels", tl,
				 "must be '" UID_LABEL "=<job uid>' when the selector is generated");
	const cJSON *ml = mk_json_get(spec, "selector.matchLabels");
	const cJSON *sv = cJSON_GetObjectItemCaseSensitive(ml, UID_LABEL);
	if (cJSON_GetObjectItemCaseSensitive(spec, "selector") &&
	    (!cJSON_IsString(sv) || strcmp(sv->valuestring, uid))) {
		_cleanup_cjson_ cJSON *empty = cJSON_CreateObject();
		mk_api_v_invalid(causes, "spec.selector.matchLabels", ml ? ml : empty,
				 "`selector` not auto-generated");
	}
}

static void validate_update(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *ospec = cJSON_GetObjectItemCaseSensitive(old, "spec");
	static const char *const fixed[] = { "selector", "template", "completionMode",
					     "podFailurePolicy", "manualSelector" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(fixed); i++) {
		char f[64];
		snprintf(f, sizeof(f), "spec.%s", fixed[i]);
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(spec, fixed[i]);
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(ospec, fixed[i]);
		if ((a || b) && !(a && b && cJSON_Compare(a, b, 1))) {
			_cleanup_cjson_ cJSON *null = cJSON_CreateNull();
			mk_api_v_immutable(causes, f, a ? a : null, b ? b : null);
		}
	}
	/* completions: fixed, except that an Indexed job may scale completions and
	 * parallelism together (elastic Indexed jobs) */
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(spec, "completions");
	const cJSON *oc = cJSON_GetObjectItemCaseSensitive(ospec, "completions");
	if ((c || oc) && !(c && oc && cJSON_Compare(c, oc, 1))) {
		const char *mode = mk_json_get_string(spec, "completionMode");
		bool elastic = mode && !strcmp(mode, "Indexed") && cJSON_IsNumber(c) &&
			       cJSON_Compare(c, cJSON_GetObjectItemCaseSensitive(spec, "parallelism"), 1);
		if (!elastic) {
			_cleanup_cjson_ cJSON *null = cJSON_CreateNull();
			mk_api_v_immutable(causes, "spec.completions", c ? c : null, oc ? oc : null);
		}
	}
}

static void job_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	mk_api_v_job_spec(causes, spec, "spec", true);
	if (!old)
		validate_generated(causes, obj);
	else
		validate_update(causes, obj, old);
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Status", "string", "", "Status of the job: Running, Complete, Failed, Suspended or Terminating.", 0 },
	{ "Completions", "string", "", "Successful pods out of those needed.", 0 },
	{ "Duration", "string", "", "Time the job ran (to its completion, or so far).", 0 },
	MK_API_AGE_COL,
	{ "Containers", "string", "", "Names of the containers in the pod template.", 1 },
	{ "Images", "string", "", "Images of the containers in the pod template.", 1 },
	{ "Selector", "string", "", "Label selector of the job's pods.", 1 },
};

static bool cond_true(const cJSON *obj, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(obj, "status.conditions"))
	{
		const char *t = mk_json_get_string(c, "type"), *s = mk_json_get_string(c, "status");
		if (t && s && !strcmp(t, type) && !strcmp(s, "True"))
			return true;
	}
	return false;
}

static void job_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	char buf[64];
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	const char *status = cond_true(obj, "Complete")		? "Complete"
			     : cond_true(obj, "Failed")		? "Failed"
			     : mk_json_get(obj, "metadata.deletionTimestamp") ? "Terminating"
			     : cond_true(obj, "Suspended")	? "Suspended"
			     : cond_true(obj, "FailureTarget")	? "FailureTarget"
			     : cond_true(obj, "SuccessCriteriaMet") ? "SuccessCriteriaMet"
								 : "Running";
	mk_api_cell_str(cells, status);
	long long succeeded = (long long)mk_api_json_number(obj, "status.succeeded", 0);
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(spec, "completions");
	long long par = (long long)mk_api_json_number(spec, "parallelism", 0);
	if (cJSON_IsNumber(c))
		snprintf(buf, sizeof(buf), "%lld/%lld", succeeded, (long long)c->valuedouble);
	else if (par > 1)
		snprintf(buf, sizeof(buf), "%lld/1 of %lld", succeeded, par);
	else
		snprintf(buf, sizeof(buf), "%lld/1", succeeded);
	mk_api_cell_str(cells, buf);
	const char *st = mk_json_get_string(obj, "status.startTime");
	const char *ct = mk_json_get_string(obj, "status.completionTime");
	time_t s = st ? mk_time_parse(st) : (time_t)-1, e = ct ? mk_time_parse(ct) : (time_t)-1;
	buf[0] = '\0';
	if (s != (time_t)-1) {
		int64_t d = (e != (time_t)-1 ? e : now) - s;
		mk_time_human_duration(d < 0 ? 0 : d, buf, sizeof(buf));
	}
	mk_api_cell_str(cells, buf);
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_api_cell_workload_wide(cells, spec);
}

const struct mk_api_kind_ops mk_api_job_ops = {
	.defaults = job_defaults,
	.validate = job_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = job_cells,
};
