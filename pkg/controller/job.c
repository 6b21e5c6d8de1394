/* Job controller (batch/v1), after kube-controller-manager's job controller:
 * keeps min(parallelism, what remains) pods of the template running, owned through
 * a controller ownerReference; counts succeeded and failed pods (finished pods stay
 * until the Job goes, as upstream); NonIndexed jobs end when completions pods
 * succeeded, Indexed ones when every index 0..completions-1 has a succeeded pod
 * (each pod carries its index in the annotation and label
 * batch.kubernetes.io/job-completion-index, the hostname JOB-INDEX and the env var
 * JOB_COMPLETION_INDEX); backoffLimit counts failed pods, and container restarts
 * under restartPolicy OnFailure; activeDeadlineSeconds and suspend stop the
 * active pods; ttlSecondsAfterFinished deletes a finished job (foreground, as the
 * TTL-after-finished controller does, so the GC takes its pods first). Status goes
 * through /status. Expectations hold further creates until the cache saw ours. */
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "job-controller"
#define EXPECT_TTL_MS 60000
#define BURST 500
#define INDEX_KEY "batch.kubernetes.io/job-completion-index"

/* ---- expectations (in ctl->expect under "job:" keys) ---------------------------- */

static char *exp_key(const char *key)
{
	return mk_strdup_printf("job:%s", key);
}

static void expect_add(struct mk_controllers *ctl, const char *key, int adds, int dels)
{
	_cleanup_free_ char *k = exp_key(key);
	pthread_mutex_lock(&ctl->mu);
	struct expectation *e = mk_hmap_get(&ctl->expect, k);
	if (!e) {
		e = mk_malloc0(sizeof(*e));
		mk_hmap_put(&ctl->expect, k, e);
	}
	e->adds += adds;
	e->dels += dels;
	e->stamp_ms = mk_time_mono_ms();
	pthread_mutex_unlock(&ctl->mu);
}

static bool expect_satisfied(struct mk_controllers *ctl, const char *key)
{
	_cleanup_free_ char *k = exp_key(key);
	pthread_mutex_lock(&ctl->mu);
	struct expectation *e = mk_hmap_get(&ctl->expect, k);
	bool ok = !e || (e->adds <= 0 && e->dels <= 0) || mk_time_mono_ms() - e->stamp_ms > EXPECT_TTL_MS;
	if (e && ok) {
		e->adds = 0;
		e->dels = 0;
	}
	pthread_mutex_unlock(&ctl->mu);
	return ok;
}

static void expect_delete(struct mk_controllers *ctl, const char *key)
{
	_cleanup_free_ char *k = exp_key(key);
	pthread_mutex_lock(&ctl->mu);
	free(mk_hmap_del(&ctl->expect, k));
	pthread_mutex_unlock(&ctl->mu);
}

/* ---- handlers -------------------------------------------------------------------- */

static char *job_ref_key(const cJSON *obj, const char *kind)
{
	const cJSON *r = mk_api_controller_ref(obj);
	const char *k = mk_json_get_string(r, "kind"), *name = mk_json_get_string(r, "name");
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	if (!r || !k || strcmp(k, kind) || !name || !ns)
		return NULL;
	return mk_strdup_printf("%s/%s", ns, name);
}

static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	_cleanup_free_ char *ok = old ? job_ref_key(old->json, "Job") : NULL;
	_cleanup_free_ char *nk = new ? job_ref_key(new->json, "Job") : NULL;
	if (!old && nk)
		expect_add(ctl, nk, -1, 0);
	else if (old && !new && ok && !has_deletion(old->json))
		expect_add(ctl, ok, 0, -1);
	else if (old && new && nk && !has_deletion(old->json) && has_deletion(new->json))
		expect_add(ctl, nk, 0, -1);
	if (ok)
		mk_workqueue_add(ctl->job.q, ok);
	if (nk && (!ok || strcmp(ok, nk)))
		mk_workqueue_add(ctl->job.q, nk);
}

static void on_job(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (!new) {
		expect_delete(ctl, old->key);
		return;
	}
	mk_workqueue_add(ctl->job.q, new->key);
}

void job_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_JOBS], on_job, ctl);
}

/* ---- helpers ----------------------------------------------------------------------- */

static const char *phase_of(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	return p ? p : "Pending";
}

static time_t ts_at(const cJSON *obj, const char *path)
{
	const char *s = mk_json_get_string(obj, path);
	time_t t = s ? mk_time_parse(s) : (time_t)-1;
	return t == (time_t)-1 ? 0 : t;
}

static bool cond_true(const cJSON *job, const char *type)
{
	const cJSON *c = find_condition(job, type);
	const char *s = mk_json_get_string(c, "status");
	return s && !strcmp(s, "True");
}

/* Index of an Indexed job's pod from its annotation, or -1. */
static int pod_index(const cJSON *pod, int completions)
{
	const cJSON *ann = mk_json_get(pod, "metadata.annotations");
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(ann, INDEX_KEY);
	if (!cJSON_IsString(a) || !a->valuestring[0])
		return -1;
	char *end;
	long i = strtol(a->valuestring, &end, 10);
	return *end || i < 0 || i >= completions ? -1 : (int)i;
}

/* "1,3-5,7" from the set bits of done[0..n) (upstream's form: pairs as "a,b"). */
static char *format_indexes(const bool *done, int n)
{
	struct mk_buf b;
	mk_buf_init(&b);
	for (int i = 0; i < n;) {
		if (!done[i]) {
			i++;
			continue;
		}
		int j = i;
		while (j + 1 < n && done[j + 1])
			j++;
		const char *sep = b.len ? "," : "";
		if (j == i)
			mk_buf_printf(&b, "%s%d", sep, i);
		else if (j == i + 1)
			mk_buf_printf(&b, "%s%d,%d", sep, i, j);
		else
			mk_buf_printf(&b, "%s%d-%d", sep, i, j);
		i = j + 1;
	}
	char *s = mk_strdup(b.len ? b.data : "");
	mk_buf_release(&b);
	return s;
}

static int restarts_of(const cJSON *pod)
{
	int n = 0;
	const char *lists[] = { "status.containerStatuses", "status.initContainerStatuses" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(lists); i++) {
		const cJSON *cs;
		cJSON_ArrayForEach(cs, mk_json_get(pod, lists[i]))
			n += json_int(cs, "restartCount", 0);
	}
	return n;
}

/* When a finished pod's last container finished (its creation when unknown). */
static time_t finish_time(const cJSON *pod)
{
	time_t t = 0;
	const cJSON *cs;
	cJSON_ArrayForEach(cs, mk_json_get(pod, "status.containerStatuses"))
	{
		time_t f = ts_at(cs, "state.terminated.finishedAt");
		if (f > t)
			t = f;
	}
	return t ? t : ts_at(pod, "metadata.creationTimestamp");
}

/* The pod failure back-off of the job controller: 10 s doubled for each further
 * failure, at most 6 min, from the newest failure. */
static uint64_t failure_backoff_ms(int failures)
{
	uint64_t ms = 10000;
	for (int i = 1; i < failures && ms < 360000; i++)
		ms *= 2;
	return ms > 360000 ? 360000 : ms;
}

/* ---- writes -------------------------------------------------------------------------- */

static void add_index_env(cJSON *containers)
{
	cJSON *c;
	cJSON_ArrayForEach(c, containers)
	{
		cJSON *env = cJSON_GetObjectItem(c, "env");
		if (!cJSON_IsArray(env)) {
			env = cJSON_CreateArray();
			mk_json_set(c, "env", env);
		}
		cJSON *e;
		bool have = false;
		cJSON_ArrayForEach(e, env)
			have |= !strcmp(mk_json_get_string(e, "name") ? mk_json_get_string(e, "name") : "",
					"JOB_COMPLETION_INDEX");
		if (have)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", "JOB_COMPLETION_INDEX");
		cJSON *fr = cJSON_AddObjectToObject(cJSON_AddObjectToObject(e, "valueFrom"), "fieldRef");
		cJSON_AddStringToObject(fr, "fieldPath", "metadata.annotations['" INDEX_KEY "']");
		cJSON_AddItemToArray(env, e);
	}
}

static cJSON *pod_for(const cJSON *job, int index)
{
	const cJSON *tmpl = mk_json_get(job, "spec.template");
	const char *name = mk_json_get_string(job, "metadata.name");
	char idx[16];
	snprintf(idx, sizeof(idx), "%d", index);
	cJSON *pod = cJSON_CreateObject();
	cJSON_AddStringToObject(pod, "apiVersion", "v1");
	cJSON_AddStringToObject(pod, "kind", "Pod");
	cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
	_cleanup_free_ char *gen = index >= 0 ? mk_strdup_printf("%s-%d-", name, index)
					      : mk_strdup_printf("%s-", name);
	cJSON_AddStringToObject(md, "generateName", gen);
	cJSON_AddStringToObject(md, "namespace", mk_json_get_string(job, "metadata.namespace"));
	const cJSON *v = mk_json_get(tmpl, "metadata.labels");
	cJSON *labels = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(md, "labels", labels);
	v = mk_json_get(tmpl, "metadata.annotations");
	cJSON *ann = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(md, "annotations", ann);
	cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
	cJSON *ref = controller_ref_new(job);
	mk_json_set_string(ref, "apiVersion", "batch/v1");
	mk_json_set_string(ref, "kind", "Job");
	cJSON_AddItemToArray(refs, ref);
	v = cJSON_GetObjectItem(tmpl, "spec");
	cJSON *spec = v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(pod, "spec", spec);
	if (index >= 0) {
		mk_json_set_string(ann, INDEX_KEY, idx);
		mk_json_set_string(labels, INDEX_KEY, idx);
		const char *h = mk_json_get_string(spec, "hostname");
		if (!h || !*h) {
			_cleanup_free_ char *host = mk_strdup_printf("%s-%d", name, index);
			mk_json_set_string(spec, "hostname", host);
		}
		add_index_env(cJSON_GetObjectItem(spec, "containers"));
		add_index_env(cJSON_GetObjectItem(spec, "initContainers"));
	}
	return pod;
}

static int create_pod(struct mk_controllers *ctl, const char *key, const cJSON *job, int index)
{
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods",
					     mk_json_get_string(job, "metadata.namespace"), NULL, NULL);
	_cleanup_cjson_ cJSON *pod = pod_for(job, index);
	_cleanup_cjson_ cJSON *created = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	expect_add(ctl, key, 1, 0);
	if (mk_client_create(ctl->c, path, pod, &created, &err) < 0) {
		expect_add(ctl, key, -1, 0);
		/* no event only for the NamespaceTerminating 403 (a quota's 403 is one) */
		if (!(mk_error_code(err) == 403 && strstr(err->msg, "because it is being terminated")))
			mk_event_record(ctl->rec, COMPONENT, job, "Warning", "FailedCreate",
					"Error creating: %s", err->msg);
		return -1;
	}
	mk_event_record(ctl->rec, COMPONENT, job, "Normal", "SuccessfulCreate", "Created pod: %s",
			mk_json_get_string(created, "metadata.name"));
	return 0;
}

static int delete_pod(struct mk_controllers *ctl, const char *key, const cJSON *job, const cJSON *pod)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods",
					     mk_json_get_string(pod, "metadata.namespace"), name, NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	expect_add(ctl, key, 0, 1);
	if (mk_client_delete(ctl->c, path, NULL, NULL, &err) < 0) {
		expect_add(ctl, key, 0, -1);
		if (mk_error_code(err) == 404)
			return 0;
		mk_event_record(ctl->rec, COMPONENT, job, "Warning", "FailedDelete", "Error deleting: %s",
				err->msg);
		return -1;
	}
	mk_event_record(ctl->rec, COMPONENT, job, "Normal", "SuccessfulDelete", "Deleted pod: %s", name);
	return 0;
}

/* Sets condition type of conds to status (reason, message), keeping
 * lastTransitionTime when the status does not change. */
static void set_condition(cJSON *conds, const char *type, const char *status, const char *reason,
			  const char *message, const char *now)
{
	cJSON *c;
	cJSON_ArrayForEach(c, conds)
	{
		const char *t = mk_json_get_string(c, "type");
		if (!t || strcmp(t, type))
			continue;
		const char *s = mk_json_get_string(c, "status");
		if (!s || strcmp(s, status))
			mk_json_set_string(c, "lastTransitionTime", now);
		mk_json_set_string(c, "status", status);
		mk_json_set_string(c, "reason", reason);
		mk_json_set_string(c, "message", message);
		mk_json_set_string(c, "lastProbeTime", now);
		return;
	}
	c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status);
	cJSON_AddStringToObject(c, "lastProbeTime", now);
	cJSON_AddStringToObject(c, "lastTransitionTime", now);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	cJSON_AddItemToArray(conds, c);
}

static int write_status(struct mk_controllers *ctl, const cJSON *job, const cJSON *status)
{
	return ctl_status_update(ctl, CTL_JOBS, "batch/v1", "jobs", job, status);
}

static int ttl_delete(struct mk_controllers *ctl, const cJSON *job, const char *key, time_t finished)
{
	const cJSON *ttl = mk_json_get(job, "spec.ttlSecondsAfterFinished");
	if (!cJSON_IsNumber(ttl) || has_deletion(job))
		return 0;
	time_t now = time(NULL), at = finished + (time_t)ttl->valuedouble;
	if (now < at) {
		mk_workqueue_add_after(ctl->job.q, key, (uint64_t)(at - now) * 1000 + 200);
		return 0;
	}
	_cleanup_free_ char *path = mk_client_resource_path("batch/v1", "jobs",
					     mk_json_get_string(job, "metadata.namespace"),
					     mk_json_get_string(job, "metadata.name"), NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_delete(ctl->c, path, "Foreground", NULL, &err) < 0 && mk_error_code(err) != 404)
		return -1;
	return 0;
}

/* ---- sync ------------------------------------------------------------------------------ */

struct job_pods {
	struct mk_object **all;
	size_t n;
	const cJSON **active; /* running or pending, not being deleted */
	size_t nactive;
	int succeeded, failed, terminating, ready, restarts;
	time_t last_failure; /* when the newest failed pod finished */
	char fail_job_msg[256]; /* a podFailurePolicy FailJob rule matched: why */
};

static void job_pods_release(struct job_pods *p)
{
	mk_object_list_free(p->all, p->n);
	free(p->active);
}

static bool exit_code_in(int code, const cJSON *values)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, values)
		if (cJSON_IsNumber(v) && v->valueint == code)
			return true;
	return false;
}

/* The first container of pod (init containers too) terminated with a non-zero exit
 * code satisfying req, or NULL; its code in *ret_code. */
static const cJSON *exit_code_match(const cJSON *pod, const cJSON *req, int *ret_code)
{
	const char *name = mk_json_get_string(req, "containerName");
	const char *op = mk_json_get_string(req, "operator");
	const cJSON *values = cJSON_GetObjectItem(req, "values");
	const char *lists[] = { "status.initContainerStatuses", "status.containerStatuses" };
	if (!op)
		return NULL;
	for (size_t i = 0; i < MK_ARRAY_SIZE(lists); i++) {
		const cJSON *cs;
		cJSON_ArrayForEach(cs, mk_json_get(pod, lists[i]))
		{
			const cJSON *ec = mk_json_get(cs, "state.terminated.exitCode");
			const char *cn = mk_json_get_string(cs, "name");
			if (!cJSON_IsNumber(ec) || ec->valueint == 0 || (name && (!cn || strcmp(name, cn))))
				continue;
			bool in = exit_code_in(ec->valueint, values);
			if ((!strcmp(op, "In") && in) || (!strcmp(op, "NotIn") && !in)) {
				*ret_code = ec->valueint;
				return cs;
			}
		}
	}
	return NULL;
}

/* The action of the first spec.podFailurePolicy rule that matches the failed pod
 * ("FailJob", "Ignore", "Count"), or NULL; for FailJob, why in msg. */
static const char *pfp_action(const cJSON *job, const cJSON *pod, char *msg, size_t n)
{
	const cJSON *rules = mk_json_get(job, "spec.podFailurePolicy.rules");
	const char *pns = mk_json_get_string(pod, "metadata.namespace");
	const char *pname = mk_json_get_string(pod, "metadata.name");
	int i = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, rules)
	{
		const char *action = mk_json_get_string(r, "action");
		const cJSON *ec = cJSON_GetObjectItem(r, "onExitCodes");
		int code = 0;
		const cJSON *cs = cJSON_IsObject(ec) ? exit_code_match(pod, ec, &code) : NULL;
		if (cs) {
			snprintf(msg, n, "Container %s for pod %s/%s failed with exit code %d matching %s rule at index %d",
				 mk_json_get_string(cs, "name"), pns, pname, code, action, i);
			return action;
		}
		const cJSON *pat;
		cJSON_ArrayForEach(pat, cJSON_GetObjectItem(r, "onPodConditions"))
		{
			const char *t = mk_json_get_string(pat, "type"), *st = mk_json_get_string(pat, "status");
			const cJSON *c = t ? find_condition(pod, t) : NULL;
			const char *cst = mk_json_get_string(c, "status");
			if (c && cst && !strcmp(cst, st ? st : "True")) {
				snprintf(msg, n, "Pod %s/%s has condition %s matching %s rule at index %d", pns, pname,
					 t, action, i);
				return action;
			}
		}
		i++;
	}
	return NULL;
}

static void collect(struct mk_controllers *ctl, const cJSON *job, struct job_pods *p)
{
	memset(p, 0, sizeof(*p));
	struct mk_label_selector *sel = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_label_selector_from_json(mk_json_get(job, "spec.selector"), &sel, &err) < 0)
		sel = NULL;
	p->n = mk_informer_by_index(ctl->inf[CTL_PODS], "ctl", mk_json_get_string(job, "metadata.uid"),
				    &p->all);
	p->active = mk_malloc0((p->n + 1) * sizeof(*p->active));
	for (size_t i = 0; i < p->n; i++) {
		const cJSON *pod = p->all[i]->json;
		if (sel && !mk_label_selector_matches(sel, mk_json_get(pod, "metadata.labels")))
			continue;
		const char *ph = phase_of(pod);
		if (!strcmp(ph, "Succeeded"))
			p->succeeded++;
		else if (!strcmp(ph, "Failed")) {
			char msg[256];
			const char *action = pfp_action(job, pod, msg, sizeof(msg));
			if (action && !strcmp(action, "Ignore"))
				continue; /* does not count against backoffLimit */
			if (action && !strcmp(action, "FailJob") && !p->fail_job_msg[0])
				snprintf(p->fail_job_msg, sizeof(p->fail_job_msg), "%s", msg);
			p->failed++;
			time_t t = finish_time(pod);
			if (t > p->last_failure)
				p->last_failure = t;
		}
		else if (has_deletion(pod))
			p->terminating++;
		else {
			p->active[p->nactive++] = pod;
			p->restarts += restarts_of(pod);
			if (mk_controller_pod_ready(pod))
				p->ready++;
		}
	}
	mk_label_selector_free(sel);
}

static int cmp_newest_first(const void *a, const void *b)
{
	const cJSON *pa = *(const cJSON *const *)a, *pb = *(const cJSON *const *)b;
	time_t ta = ts_at(pa, "metadata.creationTimestamp"), tb = ts_at(pb, "metadata.creationTimestamp");
	if (ta != tb)
		return ta > tb ? -1 : 1;
	return strcmp(mk_json_get_string(pb, "metadata.name"), mk_json_get_string(pa, "metadata.name"));
}

/* The state one sync passes between its steps. */
struct job_pass {
	struct mk_controllers *ctl;
	const char *key;
	const cJSON *job, *spec;
	struct job_pods p;
	cJSON *status, *conds; /* the status to write (a copy), its conditions */
	time_t now;
	char now_s[32];
	/* spec */
	bool indexed, have_c, on_failure, replace_on_failed_only;
	int completions, parallelism, backoff;
	/* results: finished pods are kept, so counting them is the record */
	bool *done; /* indexed: per index, whether a pod of it succeeded */
	int ndone, succeeded, failed;
	int ret;
};

static void spec_read(struct job_pass *x)
{
	const cJSON *spec = x->spec;
	const char *mode = mk_json_get_string(spec, "completionMode");
	x->indexed = mode && !strcmp(mode, "Indexed");
	const cJSON *cj = cJSON_GetObjectItem(spec, "completions");
	x->have_c = cJSON_IsNumber(cj);
	x->completions = x->have_c ? cj->valueint : 1;
	x->parallelism = json_int(spec, "parallelism", 1);
	x->backoff = json_int(spec, "backoffLimit", 6);
	const char *restart = mk_json_get_string(spec, "template.spec.restartPolicy");
	x->on_failure = restart && !strcmp(restart, "OnFailure");
	const char *rp = mk_json_get_string(spec, "podReplacementPolicy");
	x->replace_on_failed_only = rp && !strcmp(rp, "Failed");
}

/* The status to write starts as a copy of the current one, with a conditions array. */
static void status_start(struct job_pass *x)
{
	x->status = cJSON_Duplicate(cJSON_GetObjectItem(x->job, "status"), 1);
	if (!cJSON_IsObject(x->status)) {
		cJSON_Delete(x->status);
		x->status = cJSON_CreateObject();
	}
	x->conds = cJSON_GetObjectItem(x->status, "conditions");
	if (!cJSON_IsArray(x->conds)) {
		x->conds = cJSON_CreateArray();
		mk_json_set(x->status, "conditions", x->conds);
	}
}

/* Succeeded and failed counts (indexed: the succeeded indexes), never below what
 * was already reported (a pod removed by hand does not undo its result). */
static void results_count(struct job_pass *x)
{
	x->succeeded = x->p.succeeded;
	x->failed = x->p.failed;
	if (x->indexed) {
		x->done = mk_malloc0((size_t)(x->completions > 0 ? x->completions : 1) * sizeof(*x->done));
		for (size_t i = 0; i < x->p.n; i++) {
			int ix = pod_index(x->p.all[i]->json, x->completions);
			if (ix >= 0 && !strcmp(phase_of(x->p.all[i]->json), "Succeeded") && !x->done[ix]) {
				x->done[ix] = true;
				x->ndone++;
			}
		}
		x->succeeded = x->ndone;
	}
	if (x->succeeded < json_int(x->status, "succeeded", 0) && !x->indexed)
		x->succeeded = json_int(x->status, "succeeded", 0);
	if (x->failed < json_int(x->status, "failed", 0))
		x->failed = json_int(x->status, "failed", 0);
}

static void pod_delete(struct job_pass *x, const cJSON *pod)
{
	if (delete_pod(x->ctl, x->key, x->job, pod) < 0)
		x->ret = -1;
}

/* Every active pod deleted; none counted active or ready any more. */
static void active_stop(struct job_pass *x)
{
	for (size_t i = 0; i < x->p.nactive; i++)
		pod_delete(x, x->p.active[i]);
	x->p.nactive = 0;
	x->p.ready = 0;
}

/* A finished job: what it still runs is stopped, and its TTL applies. */
static void finished_sync(struct job_pass *x)
{
	active_stop(x);
	time_t fin = ts_at(x->status, "completionTime");
	if (!fin)
		fin = ts_at(find_condition(x->job, "Failed"), "lastTransitionTime");
	if (ttl_delete(x->ctl, x->job, x->key, fin ? fin : x->now) < 0)
		x->ret = -1;
}

/* spec.suspend: the pods are stopped and startTime reset, so the deadline counts
 * from the resume; the Suspended condition follows. true when suspended. */
static bool suspend_sync(struct job_pass *x)
{
	bool was_suspended = cond_true(x->job, "Suspended");
	if (cJSON_IsTrue(cJSON_GetObjectItem(x->spec, "suspend"))) {
		active_stop(x);
		cJSON_DeleteItemFromObject(x->status, "startTime");
		if (!was_suspended) {
			set_condition(x->conds, "Suspended", "True", "JobSuspended", "Job suspended", x->now_s);
			mk_event_record(x->ctl->rec, COMPONENT, x->job, "Normal", "Suspended", "Job suspended");
		}
		return true;
	}
	if (was_suspended) {
		set_condition(x->conds, "Suspended", "False", "JobResumed", "Job resumed", x->now_s);
		mk_event_record(x->ctl->rec, COMPONENT, x->job, "Normal", "Resumed", "Job resumed");
	}
	if (!mk_json_get_string(x->status, "startTime"))
		mk_json_set_string(x->status, "startTime", x->now_s);
	return false;
}

/* Failure: a podFailurePolicy FailJob rule, the backoff limit, the deadline (or the
 * sync to come back when it passes). true when the job failed. */
static bool failure_sync(struct job_pass *x)
{
	const char *fail_reason = NULL, *fail_msg = NULL;
	if (x->p.fail_job_msg[0]) {
		fail_reason = "PodFailurePolicy";
		fail_msg = x->p.fail_job_msg;
	} else if (x->failed > x->backoff ||
		   (x->on_failure && (x->backoff == 0 ? x->p.restarts > 0 : x->p.restarts >= x->backoff))) {
		fail_reason = "BackoffLimitExceeded";
		fail_msg = "Job has reached the specified backoff limit";
	}
	const cJSON *ads = cJSON_GetObjectItem(x->spec, "activeDeadlineSeconds");
	if (!fail_reason && cJSON_IsNumber(ads)) {
		time_t start = ts_at(x->status, "startTime");
		time_t end = start + (time_t)ads->valuedouble;
		if (start && x->now >= end) {
			fail_reason = "DeadlineExceeded";
			fail_msg = "Job was active longer than specified deadline";
		} else if (start) {
			mk_workqueue_add_after(x->ctl->job.q, x->key, (uint64_t)(end - x->now) * 1000 + 200);
		}
	}
	if (!fail_reason)
		return false;
	active_stop(x);
	set_condition(x->conds, "FailureTarget", "True", fail_reason, fail_msg, x->now_s);
	set_condition(x->conds, "Failed", "True", fail_reason, fail_msg, x->now_s);
	mk_event_record(x->ctl->rec, COMPONENT, x->job, "Warning", fail_reason, "%s", fail_msg);
	return true;
}

/* Success: enough completions (without completions: one success and nothing
 * active). true when the job completed. */
static bool success_sync(struct job_pass *x)
{
	bool complete = x->indexed  ? x->ndone >= x->completions
			: x->have_c ? x->succeeded >= x->completions
				    : x->succeeded > 0 && x->p.nactive == 0;
	if (!complete)
		return false;
	active_stop(x);
	set_condition(x->conds, "SuccessCriteriaMet", "True", "CompletionsReached",
		      "Reached expected number of succeeded pods", x->now_s);
	set_condition(x->conds, "Complete", "True", "CompletionsReached",
		      "Reached expected number of succeeded pods", x->now_s);
	mk_json_set_string(x->status, "completionTime", x->now_s);
	mk_event_record(x->ctl->rec, COMPONENT, x->job, "Normal", "Completed", "Job completed");
	return true;
}

/* Indexed: one active pod per pending index, lowest first; duplicates go. */
static void scale_indexed(struct job_pass *x, int busy)
{
	bool *held = mk_malloc0((size_t)x->completions * sizeof(*held));
	for (size_t i = 0; i < x->p.nactive; i++) {
		int ix = pod_index(x->p.active[i], x->completions);
		if (ix < 0 || x->done[ix] || held[ix]) {
			pod_delete(x, x->p.active[i]);
			busy--;
			continue;
		}
		held[ix] = true;
	}
	int created = 0;
	for (int ix = 0; ix < x->completions && busy + created < x->parallelism && created < BURST; ix++) {
		if (x->done[ix] || held[ix])
			continue;
		if (create_pod(x->ctl, x->key, x->job, ix) < 0) {
			x->ret = -1;
			break;
		}
		created++;
	}
	free(held);
}

/* NonIndexed: as many active pods as parallelism and the remaining completions
 * allow, the newest deleted first. */
static void scale_plain(struct job_pass *x, int busy)
{
	int remaining = x->have_c ? x->completions - x->succeeded : (x->succeeded > 0 ? 0 : x->parallelism);
	int want = x->parallelism < remaining ? x->parallelism : remaining;
	if (want < 0)
		want = 0;
	if (busy < want) {
		int n = want - busy > BURST ? BURST : want - busy;
		for (int i = 0; i < n; i++)
			if (create_pod(x->ctl, x->key, x->job, -1) < 0) {
				x->ret = -1;
				break;
			}
	} else if ((int)x->p.nactive > want) {
		qsort(x->p.active, x->p.nactive, sizeof(*x->p.active), cmp_newest_first);
		for (size_t i = 0; i < x->p.nactive - (size_t)want; i++)
			pod_delete(x, x->p.active[i]);
	}
}

/* The pods to run, once the expectations are met and after the back-off of the
 * newest failure. */
static void pods_scale(struct job_pass *x, bool satisfied)
{
	if (satisfied && x->p.failed > 0) {
		uint64_t wait = failure_backoff_ms(x->p.failed);
		int64_t left = ((int64_t)x->p.last_failure * 1000 + (int64_t)wait) - (int64_t)x->now * 1000;
		if (left > 0) {
			mk_workqueue_add_after(x->ctl->job.q, x->key, (uint64_t)left + 100);
			satisfied = false;
		}
	}
	if (!satisfied)
		return;
	int busy = (int)x->p.nactive + (x->replace_on_failed_only ? x->p.terminating : 0);
	if (x->indexed)
		scale_indexed(x, busy);
	else
		scale_plain(x, busy);
}

static void status_finish(struct job_pass *x)
{
	cJSON *status = x->status;
	cJSON_DeleteItemFromObject(status, "active");
	cJSON_AddNumberToObject(status, "active", (double)x->p.nactive);
	mk_json_set(status, "succeeded", cJSON_CreateNumber(x->succeeded));
	mk_json_set(status, "failed", cJSON_CreateNumber(x->failed));
	mk_json_set(status, "terminating", cJSON_CreateNumber(x->p.terminating));
	mk_json_set(status, "ready", cJSON_CreateNumber(x->p.ready));
	mk_json_set(status, "uncountedTerminatedPods", cJSON_CreateObject());
	if (x->indexed) {
		_cleanup_free_ char *ci = format_indexes(x->done, x->completions);
		mk_json_set_string(status, "completedIndexes", ci);
	}
	if (cJSON_GetArraySize(x->conds) == 0)
		cJSON_DeleteItemFromObject(status, "conditions");
	if (write_status(x->ctl, x->job, status) < 0)
		x->ret = -1;
}

int job_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *jo = mk_informer_get(ctl->inf[CTL_JOBS], key);
	if (!jo) {
		expect_delete(ctl, key);
		return 0;
	}
	if (has_deletion(jo->json)) {
		mk_object_unref(jo);
		return 0;
	}
	struct job_pass x = {
		.ctl = ctl, .key = key, .job = jo->json,
		.spec = cJSON_GetObjectItem(jo->json, "spec"),
		.now = time(NULL),
	};
	now_rfc3339(x.now_s);
	bool finished = cond_true(x.job, "Complete") || cond_true(x.job, "Failed");
	bool satisfied = expect_satisfied(ctl, key);
	collect(ctl, x.job, &x.p);
	status_start(&x);
	spec_read(&x);
	results_count(&x);

	if (finished) {
		finished_sync(&x);
	} else {
		if (!suspend_sync(&x) && !failure_sync(&x) && !success_sync(&x))
			pods_scale(&x, satisfied);
		status_finish(&x);
	}
	free(x.done);
	cJSON_Delete(x.status);
	job_pods_release(&x.p);
	mk_object_unref(jo);
	return x.ret;
}
