/* ReplicaSet controller: keeps spec.replicas pods matching the selector,
 * owned through a controller ownerReference. Creates pods from the template
 * (generateName "<rs>-") in slow-start batches, deletes the least valuable pods
 * first (unbound, pending, not ready, newest), adopts matching orphans and
 * releases owned pods that stop matching, writes status through /status.
 * Expectations (client-go's ControllerExpectations) hold further creates and
 * deletes until the cache has seen the previous ones. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "replicaset-controller"
#define EXPECT_TTL_MS 60000
#define BURST 500

static char *ref_key(const cJSON *obj, const char *kind)
{
	const cJSON *r = mk_api_controller_ref(obj);
	const char *k = mk_json_get_string(r, "kind");
	const char *name = mk_json_get_string(r, "name");
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	if (!r || !k || strcmp(k, kind) || !name || !ns)
		return NULL;
	return mk_strdup_printf("%s/%s", ns, name);
}

/* ---- expectations ---------------------------------------------------------------- */

static void expect_set(struct mk_controllers *ctl, const char *key, int adds, int dels)
{
	pthread_mutex_lock(&ctl->mu);
	struct expectation *e = mk_hmap_get(&ctl->expect, key);
	if (!e) {
		e = mk_malloc0(sizeof(*e));
		mk_hmap_put(&ctl->expect, key, e);
	}
	e->adds = adds;
	e->dels = dels;
	e->stamp_ms = mk_time_mono_ms();
	pthread_mutex_unlock(&ctl->mu);
}

static void expect_lower(struct mk_controllers *ctl, const char *key, int adds, int dels)
{
	pthread_mutex_lock(&ctl->mu);
	struct expectation *e = mk_hmap_get(&ctl->expect, key);
	if (e) {
		e->adds -= adds;
		e->dels -= dels;
	}
	pthread_mutex_unlock(&ctl->mu);
}

void rs_expect_observed(struct mk_controllers *ctl, const char *rs_key, bool add)
{
	expect_lower(ctl, rs_key, add ? 1 : 0, add ? 0 : 1);
}

static bool expect_satisfied(struct mk_controllers *ctl, const char *key)
{
	pthread_mutex_lock(&ctl->mu);
	struct expectation *e = mk_hmap_get(&ctl->expect, key);
	bool ok = !e || (e->adds <= 0 && e->dels <= 0) || mk_time_mono_ms() - e->stamp_ms > EXPECT_TTL_MS;
	pthread_mutex_unlock(&ctl->mu);
	return ok;
}

static void expect_delete(struct mk_controllers *ctl, const char *key)
{
	pthread_mutex_lock(&ctl->mu);
	free(mk_hmap_del(&ctl->expect, key));
	pthread_mutex_unlock(&ctl->mu);
}

/* ---- handlers ---------------------------------------------------------------------- */

static void enqueue_matching_rs(struct mk_controllers *ctl, const cJSON *pod)
{
	struct mk_object **rss;
	size_t n = mk_informer_by_index(ctl->inf[CTL_RS], "ns",
					mk_json_get_string(pod, "metadata.namespace"), &rss);
	for (size_t i = 0; i < n; i++) {
		struct mk_label_selector *sel = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_label_selector_from_json(mk_json_get(rss[i]->json, "spec.selector"), &sel,
						&err) == 0 &&
		    !mk_label_selector_empty(sel) &&
		    mk_label_selector_matches(sel, mk_json_get(pod, "metadata.labels")))
			mk_workqueue_add(ctl->rs.q, rss[i]->key);
		mk_label_selector_free(sel);
	}
	mk_object_list_free(rss, n);
}

static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	_cleanup_free_ char *ok = old ? ref_key(old->json, "ReplicaSet") : NULL;
	_cleanup_free_ char *nk = new ? ref_key(new->json, "ReplicaSet") : NULL;

	if (!old && nk) {
		rs_expect_observed(ctl, nk, true);
		if (has_deletion(new->json))
			rs_expect_observed(ctl, nk, false);
	} else if (old && !new && ok) {
		if (!has_deletion(old->json))
			rs_expect_observed(ctl, ok, false);
	} else if (old && new && nk && !has_deletion(old->json) && has_deletion(new->json)) {
		rs_expect_observed(ctl, nk, false);
	}
	if (ok)
		mk_workqueue_add(ctl->rs.q, ok);
	if (nk && (!ok || strcmp(ok, nk)))
		mk_workqueue_add(ctl->rs.q, nk);
	/* orphans (or pods whose labels changed) may be adopted by a matching set */
	if (new && !nk && (!old || !cJSON_Compare(mk_json_get(old->json, "metadata.labels"),
						  mk_json_get(new->json, "metadata.labels"), 1) ||
			   ok))
		enqueue_matching_rs(ctl, new->json);
}

static void on_rs(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (!new) {
		expect_delete(ctl, old->key);
		return;
	}
	mk_workqueue_add(ctl->rs.q, new->key);
}

void rs_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_RS], on_rs, ctl);
}

/* ---- pod ranking (kube's ActivePodsWithRanks, simplified) -------------------------- */

static bool pod_active(const cJSON *pod)
{
	const char *phase = mk_json_get_string(pod, "status.phase");
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	return !has_deletion(pod);
}

static int phase_rank(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	if (!p || !strcmp(p, "Pending"))
		return 0;
	if (!strcmp(p, "Unknown"))
		return 1;
	return 2;
}

static time_t ts_of(const cJSON *obj, const char *path)
{
	const char *s = mk_json_get_string(obj, path);
	time_t t = s ? mk_time_parse(s) : -1;
	return t < 0 ? 0 : t;
}

/* Negative when a should be deleted before b. */
static int cmp_delete_first(const void *pa, const void *pb)
{
	const cJSON *a = (*(struct mk_object *const *)pa)->json;
	const cJSON *b = (*(struct mk_object *const *)pb)->json;
	const char *na = mk_json_get_string(a, "spec.nodeName"), *nb = mk_json_get_string(b, "spec.nodeName");
	bool ba = na && *na, bb = nb && *nb;
	if (ba != bb)
		return ba ? 1 : -1;
	int pa_ = phase_rank(a), pb_ = phase_rank(b);
	if (pa_ != pb_)
		return pa_ - pb_;
	bool ra = mk_controller_pod_ready(a), rb = mk_controller_pod_ready(b);
	if (ra != rb)
		return ra ? 1 : -1;
	if (ra) {
		time_t ta = ts_of(find_condition(a, "Ready"), "lastTransitionTime");
		time_t tb = ts_of(find_condition(b, "Ready"), "lastTransitionTime");
		if (ta != tb)
			return ta > tb ? -1 : 1;
	}
	time_t ca = ts_of(a, "metadata.creationTimestamp"), cb = ts_of(b, "metadata.creationTimestamp");
	if (ca != cb)
		return ca > cb ? -1 : 1;
	return strcmp(mk_json_get_string(b, "metadata.name"), mk_json_get_string(a, "metadata.name"));
}

/* ---- writes -------------------------------------------------------------------------- */

static cJSON *pod_from_template(const cJSON *rs)
{
	cJSON *pod = cJSON_CreateObject();
	const cJSON *tmpl = mk_json_get(rs, "spec.template");
	cJSON_AddStringToObject(pod, "apiVersion", "v1");
	cJSON_AddStringToObject(pod, "kind", "Pod");
	cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
	_cleanup_free_ char *gen = mk_strdup_printf("%s-", mk_json_get_string(rs, "metadata.name"));
	cJSON_AddStringToObject(md, "generateName", gen);
	cJSON_AddStringToObject(md, "namespace", mk_json_get_string(rs, "metadata.namespace"));
	const cJSON *v = mk_json_get(tmpl, "metadata.labels");
	if (v)
		cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(v, 1));
	v = mk_json_get(tmpl, "metadata.annotations");
	if (v)
		cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(v, 1));
	cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
	cJSON *ref = controller_ref_new(rs);
	mk_json_set_string(ref, "apiVersion", "apps/v1");
	mk_json_set_string(ref, "kind", "ReplicaSet");
	cJSON_AddItemToArray(refs, ref);
	v = cJSON_GetObjectItem(tmpl, "spec");
	cJSON_AddItemToObject(pod, "spec", v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
	return pod;
}

/* *ret_err (owned) gets the first create error's message, for the ReplicaFailure
 * condition */
static int create_pods(struct mk_controllers *ctl, const char *key, const cJSON *rs, int count,
		       char **ret_err)
{
	const char *ns = mk_json_get_string(rs, "metadata.namespace");
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", ns, NULL, NULL);
	_cleanup_cjson_ cJSON *pod = pod_from_template(rs);
	int done = 0, failed = 0;

	if (count > BURST)
		count = BURST;
	expect_set(ctl, key, count, 0);
	/* slow start: 1, 2, 4, ... so that a failing template costs one request */
	for (int batch = 1; done < count; batch *= 2) {
		int n = count - done < batch ? count - done : batch, ok = 0;
		for (int i = 0; i < n; i++) {
			_cleanup_cjson_ cJSON *created = NULL;
			_cleanup_error_ struct mk_error *err = NULL;
			if (mk_client_create(ctl->c, path, pod, &created, &err) < 0) {
				expect_lower(ctl, key, 1, 0);
				failed++;
				/* as upstream: no event when the namespace is going away (the
				 * NamespaceTerminating 403); a quota's 403 is one */
				if (!(mk_error_code(err) == 403 &&
				      strstr(err->msg, "because it is being terminated")))
					mk_event_record(ctl->rec, COMPONENT, rs, "Warning", "FailedCreate",
							"Error creating: %s", err->msg);
				if (!*ret_err)
					*ret_err = mk_strdup(err->msg);
				continue;
			}
			ok++;
			mk_event_record(ctl->rec, COMPONENT, rs, "Normal", "SuccessfulCreate",
					"Created pod: %s", mk_json_get_string(created, "metadata.name"));
		}
		done += n;
		if (ok < n) {
			/* the rest of this burst is skipped: expect none of it */
			expect_lower(ctl, key, count - done, 0);
			break;
		}
	}
	return failed ? -1 : 0;
}

static int delete_pods(struct mk_controllers *ctl, const char *key, const cJSON *rs,
		       struct mk_object **pods, int count)
{
	int failed = 0;
	expect_set(ctl, key, 0, count);
	for (int i = 0; i < count; i++) {
		const cJSON *p = pods[i]->json;
		const char *name = mk_json_get_string(p, "metadata.name");
		_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", mk_json_get_string(p, "metadata.namespace"),
						     name, NULL);
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_delete(ctl->c, path, NULL, NULL, &err) < 0) {
			expect_lower(ctl, key, 0, 1);
			if (mk_error_code(err) != 404) {
				failed++;
				mk_event_record(ctl->rec, COMPONENT, rs, "Warning", "FailedDelete",
						"Error deleting: %s", err->msg);
			}
			continue;
		}
		mk_event_record(ctl->rec, COMPONENT, rs, "Normal", "SuccessfulDelete", "Deleted pod: %s",
				name);
	}
	return failed ? -1 : 0;
}

/* Adds (adopt) or removes (release) rs as the controller of pod. */
static int set_owner(struct mk_controllers *ctl, const cJSON *rs, const cJSON *pod, bool adopt)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *refs = cJSON_AddArrayToObject(cJSON_AddObjectToObject(patch, "metadata"), "ownerReferences");
	if (adopt) {
		cJSON *ref = controller_ref_new(rs);
		mk_json_set_string(ref, "apiVersion", "apps/v1");
		mk_json_set_string(ref, "kind", "ReplicaSet");
		cJSON_AddItemToArray(refs, ref);
	} else {
		cJSON *del = cJSON_CreateObject();
		cJSON_AddStringToObject(del, "$patch", "delete");
		cJSON_AddStringToObject(del, "uid", mk_json_get_string(rs, "metadata.uid"));
		cJSON_AddItemToArray(refs, del);
	}
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", mk_json_get_string(pod, "metadata.namespace"),
					     mk_json_get_string(pod, "metadata.name"), NULL);
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/strategic-merge-patch+json", patch, &res,
			    &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(ctl->inf[CTL_PODS], res);
	return 1;
}

/* ---- status ------------------------------------------------------------------------------ */

/* The ReplicaFailure condition as upstream's calculateStatus: set (reason
 * FailedCreate / FailedDelete, the error's message) when managing the replicas
 * failed and it is not there yet, removed when managing them worked. NULL: no
 * change; else the new conditions array (owned). */
static cJSON *failure_conditions(const cJSON *rs, const char *manage_err, int diff)
{
	const cJSON *conds = mk_json_get(rs, "status.conditions"), *c;
	const cJSON *cur = find_condition(rs, "ReplicaFailure");
	if ((manage_err && cur) || (!manage_err && !cur))
		return NULL;
	cJSON *out = cJSON_CreateArray();
	cJSON_ArrayForEach(c, conds)
	{
		const char *t = mk_json_get_string(c, "type");
		if (!t || strcmp(t, "ReplicaFailure"))
			cJSON_AddItemToArray(out, cJSON_Duplicate(c, 1));
	}
	if (manage_err) {
		char ts[32];
		now_rfc3339(ts);
		cJSON *nc = cJSON_CreateObject();
		cJSON_AddStringToObject(nc, "type", "ReplicaFailure");
		cJSON_AddStringToObject(nc, "status", "True");
		cJSON_AddStringToObject(nc, "lastTransitionTime", ts);
		cJSON_AddStringToObject(nc, "reason", diff < 0 ? "FailedCreate" : "FailedDelete");
		cJSON_AddStringToObject(nc, "message", manage_err);
		cJSON_AddItemToArray(out, nc);
	}
	return out;
}

static int update_status(struct mk_controllers *ctl, const cJSON *rs, struct mk_object **pods,
			 size_t n, const char *manage_err, int diff, uint64_t *ret_requeue_ms)
{
	const cJSON *tlabels = mk_json_get(rs, "spec.template.metadata.labels");
	int min_ready = json_int(rs, "spec.minReadySeconds", 0);
	time_t now = time(NULL);
	int replicas = 0, labeled = 0, ready = 0, available = 0;
	*ret_requeue_ms = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *p = pods[i]->json;
		replicas++;
		if (labels_match_map(tlabels, mk_json_get(p, "metadata.labels")))
			labeled++;
		if (!mk_controller_pod_ready(p))
			continue;
		ready++;
		time_t since = ts_of(find_condition(p, "Ready"), "lastTransitionTime");
		if (min_ready <= 0 || (since && since + min_ready <= now)) {
			available++;
		} else {
			uint64_t wait = (uint64_t)(since + min_ready - now) * 1000 + 100;
			if (!*ret_requeue_ms || wait < *ret_requeue_ms)
				*ret_requeue_ms = wait;
		}
	}
	const cJSON *st = cJSON_GetObjectItem(rs, "status");
	int gen = json_int(rs, "metadata.generation", 0);
	_cleanup_cjson_ cJSON *conds = failure_conditions(rs, manage_err, diff);
	if (!conds && json_int(st, "replicas", 0) == replicas &&
	    json_int(st, "fullyLabeledReplicas", 0) == labeled &&
	    json_int(st, "readyReplicas", 0) == ready &&
	    json_int(st, "availableReplicas", 0) == available &&
	    json_int(st, "observedGeneration", 0) == gen && mk_json_get(st, "replicas"))
		return 0;
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *s = cJSON_AddObjectToObject(patch, "status");
	cJSON_AddNumberToObject(s, "replicas", replicas);
	cJSON_AddNumberToObject(s, "fullyLabeledReplicas", labeled);
	cJSON_AddNumberToObject(s, "readyReplicas", ready);
	cJSON_AddNumberToObject(s, "availableReplicas", available);
	cJSON_AddNumberToObject(s, "observedGeneration", gen);
	if (conds)
		cJSON_AddItemToObject(s, "conditions", cJSON_Duplicate(conds, 1));
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "replicasets",
					     mk_json_get_string(rs, "metadata.namespace"),
					     mk_json_get_string(rs, "metadata.name"), "status");
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(ctl->inf[CTL_RS], res);
	return 0;
}

/* ---- sync ------------------------------------------------------------------------------- */

int rs_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *ro = mk_informer_get(ctl->inf[CTL_RS], key);
	if (!ro) {
		expect_delete(ctl, key);
		return 0;
	}
	const cJSON *rs = ro->json;
	const char *uid = mk_json_get_string(rs, "metadata.uid");
	const char *ns = mk_json_get_string(rs, "metadata.namespace");
	bool deleting = has_deletion(rs);
	struct mk_label_selector *sel = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	int ret = 0;
	/* decide before reading the pods: what the cache shows then includes what we expect */
	bool satisfied = expect_satisfied(ctl, key);

	if (mk_label_selector_from_json(mk_json_get(rs, "spec.selector"), &sel, &err) < 0 ||
	    mk_label_selector_empty(sel)) {
		mk_label_selector_free(sel);
		mk_object_unref(ro);
		return 0; /* invalid selector: validation should have refused it */
	}

	struct mk_object **owned, **orphans;
	size_t no = mk_informer_by_index(ctl->inf[CTL_PODS], "ctl", uid, &owned);
	size_t nor = deleting ? 0 : mk_informer_by_index(ctl->inf[CTL_PODS], "orphan", ns, &orphans);
	struct mk_object **active = mk_malloc0((no + nor + 1) * sizeof(*active));
	size_t na = 0;

	for (size_t i = 0; i < no; i++) {
		const cJSON *p = owned[i]->json;
		if (!mk_label_selector_matches(sel, mk_json_get(p, "metadata.labels"))) {
			if (!deleting && set_owner(ctl, rs, p, false) < 0)
				ret = -1;
			continue;
		}
		if (pod_active(p))
			active[na++] = mk_object_ref(owned[i]);
	}
	for (size_t i = 0; i < nor; i++) {
		const cJSON *p = orphans[i]->json;
		if (!pod_active(p) || !mk_label_selector_matches(sel, mk_json_get(p, "metadata.labels")))
			continue;
		int r = set_owner(ctl, rs, p, true);
		if (r < 0)
			ret = -1;
		else if (r > 0)
			active[na++] = mk_object_ref(orphans[i]);
	}
	mk_object_list_free(owned, no);
	if (nor)
		mk_object_list_free(orphans, nor);
	mk_label_selector_free(sel);

	int want = json_int(rs, "spec.replicas", 1);
	int diff = (int)na - want;
	_cleanup_free_ char *manage_err = NULL;
	if (satisfied && !deleting && diff < 0) {
		if (create_pods(ctl, key, rs, -diff, &manage_err) < 0)
			ret = -1;
	} else if (satisfied && !deleting && diff > 0) {
		qsort(active, na, sizeof(*active), cmp_delete_first);
		if (delete_pods(ctl, key, rs, active, diff) < 0)
			ret = -1;
	}
	uint64_t requeue = 0;
	if (update_status(ctl, rs, active, na, manage_err, diff, &requeue) < 0)
		ret = -1;
	if (requeue)
		mk_workqueue_add_after(ctl->rs.q, key, requeue);
	mk_object_list_free(active, na);
	mk_object_unref(ro);
	return ret;
}
