/* Scheduler: binds pending pods to Ready, schedulable nodes that match their
 * nodeSelector and required node affinity and whose NoSchedule/NoExecute taints
 * they tolerate. Among the feasible nodes: fewest pods of the same controller
 * first (spread replicas), then fewest pods, then name. Binds are remembered
 * ("assumed") until the cache shows them, so a burst of pods is spread correctly
 * before the watch catches up. Unschedulable pods get PodScheduled=False and a
 * FailedScheduling event; they are retried whenever a node changes. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "default-scheduler"

static bool pod_wants_scheduling(const cJSON *pod)
{
	const char *node = mk_json_get_string(pod, "spec.nodeName");
	const char *sn = mk_json_get_string(pod, "spec.schedulerName");
	const char *phase = mk_json_get_string(pod, "status.phase");
	if (node && *node)
		return false;
	if (sn && *sn && strcmp(sn, "default-scheduler"))
		return false;
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	return !has_deletion(pod);
}

static void requeue_pending(struct mk_controllers *ctl);

static bool pod_frees_node(const struct mk_object *old, const struct mk_object *new)
{
	/* a bound pod that goes away or terminates gives its requests back */
	const char *node = old ? mk_json_get_string(old->json, "spec.nodeName") : NULL;
	if (!node || !*node)
		return false;
	if (!new)
		return true;
	const char *op = mk_json_get_string(old->json, "status.phase");
	const char *np = mk_json_get_string(new->json, "status.phase");
	bool was = op && (!strcmp(op, "Succeeded") || !strcmp(op, "Failed"));
	bool is = np && (!strcmp(np, "Succeeded") || !strcmp(np, "Failed"));
	return is && !was;
}

static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const struct mk_object *o = new ? new : old;
	if (new && pod_wants_scheduling(new->json)) {
		mk_workqueue_add(ctl->sched.q, new->key);
		return;
	}
	/* bound or gone: the cache now knows what we assumed */
	pthread_mutex_lock(&ctl->mu);
	free(mk_hmap_del(&ctl->assumed, o->key));
	pthread_mutex_unlock(&ctl->mu);
	if (pod_frees_node(old, new))
		requeue_pending(ctl); /* pods that did not fit may fit now */
}

static bool node_sched_changed(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return true;
	const char *paths[] = { "spec.unschedulable", "spec.taints", "metadata.labels",
				"status.allocatable" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(paths); i++)
		if (!cJSON_Compare(mk_json_get(a, paths[i]), mk_json_get(b, paths[i]), 1))
			return true;
	const char *ra = mk_json_get_string(find_condition(a, "Ready"), "status");
	const char *rb = mk_json_get_string(find_condition(b, "Ready"), "status");
	return !ra || !rb || strcmp(ra, rb);
}

static void requeue_pending(struct mk_controllers *ctl)
{
	struct mk_object **pods;
	size_t n = mk_informer_by_index(ctl->inf[CTL_PODS], "node", "", &pods);
	for (size_t i = 0; i < n; i++)
		if (pod_wants_scheduling(pods[i]->json))
			mk_workqueue_add(ctl->sched.q, pods[i]->key);
	mk_object_list_free(pods, n);
}

static void on_node(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (!new || !node_sched_changed(old ? old->json : NULL, new->json))
		return;
	struct mk_object **pods;
	size_t n = mk_informer_by_index(ctl->inf[CTL_PODS], "node", "", &pods);
	for (size_t i = 0; i < n; i++)
		if (pod_wants_scheduling(pods[i]->json))
			mk_workqueue_add(ctl->sched.q, pods[i]->key);
	mk_object_list_free(pods, n);
}

void sched_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_NODES], on_node, ctl);
}

/* ---- feasibility ------------------------------------------------------------------- */

static bool tolerates(const cJSON *pod, const char *key, const char *value, const char *effect)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(pod, "spec.tolerations"))
	{
		const char *tk = mk_json_get_string(t, "key");
		const char *op = mk_json_get_string(t, "operator");
		const char *tv = mk_json_get_string(t, "value");
		const char *te = mk_json_get_string(t, "effect");
		bool exists = op && !strcmp(op, "Exists");
		if (te && *te && strcmp(te, effect))
			continue;
		if (tk && *tk && strcmp(tk, key))
			continue;
		if ((!tk || !*tk) && !exists)
			continue;
		if (exists || !strcmp(tv ? tv : "", value ? value : ""))
			return true;
	}
	return false;
}

/* Reason a node cannot take pod (static or in buf), or NULL if it can. Filters
 * run in kube-scheduler's order: NodeUnschedulable, TaintToleration, NodeAffinity. */
static const char *infeasible(const cJSON *pod, const cJSON *node, char *buf, size_t size)
{
	if (cJSON_IsTrue(mk_json_get(node, "spec.unschedulable")) &&
	    !tolerates(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule"))
		return "node(s) were unschedulable";
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(node, "spec.taints"))
	{
		const char *k = mk_json_get_string(t, "key");
		const char *v = mk_json_get_string(t, "value");
		const char *e = mk_json_get_string(t, "effect");
		if (!k || !e || !strcmp(e, "PreferNoSchedule"))
			continue;
		if (!tolerates(pod, k, v ? v : "", e)) {
			snprintf(buf, size, "node(s) had untolerated taint {%s: %s}", k, v ? v : "");
			return buf;
		}
	}
	const char *ready = mk_json_get_string(find_condition(node, "Ready"), "status");
	if ((!ready || strcmp(ready, "True")) &&
	    !tolerates(pod, "node.kubernetes.io/not-ready", "", "NoSchedule"))
		return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }";
	/* nodeSelector and required node affinity (DaemonSet pods pin their node
	 * through matchFields metadata.name) */
	if (!mk_controller_node_affinity_matches(mk_json_get(pod, "spec"), node))
		return "node(s) didn't match Pod's node affinity/selector";
	return NULL;
}

struct reason_count {
	char reason[200];
	int n;
};

static void reason_add(struct reason_count *rc, int *nr, int max, const char *why)
{
	int j;
	for (j = 0; j < *nr; j++)
		if (!strcmp(rc[j].reason, why))
			break;
	if (j == *nr && *nr < max) {
		snprintf(rc[*nr].reason, sizeof(rc[*nr].reason), "%s", why);
		rc[(*nr)++].n = 0;
	}
	if (j < *nr)
		rc[j].n++;
}

/* NodeResourcesFit (sched_fit.c), after the filters of infeasible(): the node's
 * allocatable cpu, memory and pod count must hold the pod's requests beside those
 * of the pods bound to node name and those assumed onto it (pending: the unbound
 * pods); reasons as mk_controller_sched_fit. */
static int node_fit(struct mk_controllers *ctl, const cJSON *pod, const cJSON *node,
		    const char *name, struct mk_object **pending, size_t np, const char *reasons[3])
{
	struct mk_object **bound;
	size_t nb = mk_informer_by_index(ctl->inf[CTL_PODS], "node", name, &bound);
	const cJSON **v = mk_malloc0((nb + np + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < nb; i++)
		v[n++] = bound[i]->json;
	pthread_mutex_lock(&ctl->mu);
	for (size_t i = 0; i < np; i++) {
		const char *an = mk_hmap_get(&ctl->assumed, pending[i]->key);
		if (an && !strcmp(an, name))
			v[n++] = pending[i]->json;
	}
	pthread_mutex_unlock(&ctl->mu);
	int r = mk_controller_sched_fit(pod, node, v, n, reasons);
	free(v);
	mk_object_list_free(bound, nb);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *failure_message(struct reason_count *rc, int nr, size_t nnodes)
{
	struct mk_buf b;
	char **parts = mk_malloc0(((size_t)nr + 1) * sizeof(char *));
	for (int i = 0; i < nr; i++)
		parts[i] = mk_strdup_printf("%d %s", rc[i].n, rc[i].reason);
	qsort(parts, (size_t)nr, sizeof(char *), cmp_str);
	mk_buf_init(&b);
	if (nnodes == 0)
		mk_buf_puts(&b, "no nodes available to schedule pods");
	else
		mk_buf_printf(&b, "0/%zu nodes are available", nnodes);
	for (int i = 0; i < nr; i++) {
		mk_buf_printf(&b, "%s%s", i ? ", " : ": ", parts[i]);
		free(parts[i]);
	}
	mk_buf_puts(&b, ".");
	free(parts);
	return mk_buf_steal(&b);
}

/* ---- status ------------------------------------------------------------------------ */

static void set_scheduled_condition(struct mk_controllers *ctl, const cJSON *pod, bool ok,
				    const char *message)
{
	cJSON *cur = find_condition(pod, "PodScheduled");
	const char *want = ok ? "True" : "False";
	const char *cs = mk_json_get_string(cur, "status");
	const char *cm = mk_json_get_string(cur, "message");
	if (cs && !strcmp(cs, want) && (ok || (cm && !strcmp(cm, message))))
		return;
	char ts[32];
	now_rfc3339(ts);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *conds = cJSON_AddArrayToObject(cJSON_AddObjectToObject(patch, "status"), "conditions");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "PodScheduled");
	cJSON_AddStringToObject(c, "status", want);
	cJSON_AddNullToObject(c, "lastProbeTime");
	cJSON_AddStringToObject(c, "lastTransitionTime", ts);
	if (!ok) {
		cJSON_AddStringToObject(c, "reason", "Unschedulable");
		cJSON_AddStringToObject(c, "message", message);
	}
	cJSON_AddItemToArray(conds, c);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", mk_json_get_string(pod, "metadata.namespace"),
					     mk_json_get_string(pod, "metadata.name"), "status");
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/strategic-merge-patch+json", patch, NULL,
			    &err) < 0)
		mk_log(MK_LOG_DEBUG, COMPONENT, "pod status %s: %s", path, err->msg);
}

/* ---- scheduling ------------------------------------------------------------------------ */

/* Binds pod to node_name: PATCH spec.nodeName, then PodScheduled=True. */
static int bind(struct mk_controllers *ctl, const char *key, const cJSON *pod, const char *best)
{
	const char *pns = mk_json_get_string(pod, "metadata.namespace");
	const char *pname = mk_json_get_string(pod, "metadata.name");
	_cleanup_free_ char *node_name = mk_strdup(best);
	pthread_mutex_lock(&ctl->mu);
	free(mk_hmap_put(&ctl->assumed, key, mk_strdup(node_name)));
	pthread_mutex_unlock(&ctl->mu);

	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(patch, "spec"), "nodeName", node_name);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", pns, pname, NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, NULL, &err) < 0) {
		pthread_mutex_lock(&ctl->mu);
		free(mk_hmap_del(&ctl->assumed, key));
		pthread_mutex_unlock(&ctl->mu);
		if (mk_error_code(err) == 404 || mk_error_code(err) == 409 || mk_error_code(err) == 422)
			return 0; /* gone, or bound by someone else: the cache will tell */
		mk_log(MK_LOG_DEBUG, COMPONENT, "bind %s: %s", key, err->msg);
		return -1;
	}
	set_scheduled_condition(ctl, pod, true, NULL);
	mk_event_record(ctl->rec, COMPONENT, pod, "Normal", "Scheduled",
			"Successfully assigned %s/%s to %s", pns, pname, node_name);
	return 0;
}

int sched_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *po = mk_informer_get(ctl->inf[CTL_PODS], key);
	if (!po)
		return 0;
	const cJSON *pod = po->json;
	pthread_mutex_lock(&ctl->mu);
	bool assumed = mk_hmap_has(&ctl->assumed, key);
	pthread_mutex_unlock(&ctl->mu);
	if (!pod_wants_scheduling(pod) || assumed) {
		mk_object_unref(po);
		return 0;
	}

	struct mk_object **nodes;
	size_t nn = mk_informer_list(ctl->inf[CTL_NODES], &nodes);
	struct reason_count rc[16];
	int nr = 0;
	const char *best = NULL;
	long best_same = 0, best_load = 0;
	const cJSON *cref = mk_api_controller_ref(pod);
	const char *owner_uid = cref ? mk_json_get_string(cref, "uid") : NULL;

	/* pods of the same owner per node, including binds not yet in the cache */
	struct mk_object **siblings = NULL;
	size_t ns = owner_uid ? mk_informer_by_index(ctl->inf[CTL_PODS], "ctl", owner_uid, &siblings) : 0;
	struct mk_object **pending;
	size_t np = mk_informer_by_index(ctl->inf[CTL_PODS], "node", "", &pending);

	for (size_t i = 0; i < nn; i++) {
		const cJSON *node = nodes[i]->json;
		const char *name = mk_json_get_string(node, "metadata.name");
		char buf[200];
		const char *why = infeasible(pod, node, buf, sizeof(buf));
		if (why) {
			reason_add(rc, &nr, (int)MK_ARRAY_SIZE(rc), why);
			continue;
		}
		const char *fit[3];
		int nf = node_fit(ctl, pod, node, name, pending, np, fit);
		for (int k = 0; k < nf; k++)
			reason_add(rc, &nr, (int)MK_ARRAY_SIZE(rc), fit[k]);
		if (nf)
			continue;
		long load = (long)mk_informer_index_count(ctl->inf[CTL_PODS], "node", name), same = 0;
		pthread_mutex_lock(&ctl->mu);
		for (size_t k = 0; k < np; k++) {
			const char *an = mk_hmap_get(&ctl->assumed, pending[k]->key);
			if (an && !strcmp(an, name))
				load++;
		}
		for (size_t k = 0; k < ns; k++) {
			const char *pn = mk_json_get_string(siblings[k]->json, "spec.nodeName");
			if (!pn || !*pn)
				pn = mk_hmap_get(&ctl->assumed, siblings[k]->key);
			if (pn && !strcmp(pn, name))
				same++;
		}
		pthread_mutex_unlock(&ctl->mu);
		if (!best || same < best_same || (same == best_same && load < best_load) ||
		    (same == best_same && load == best_load && strcmp(name, best) < 0)) {
			best = name;
			best_same = same;
			best_load = load;
		}
	}
	mk_object_list_free(siblings, ns);
	mk_object_list_free(pending, np);

	int ret = 0;
	if (!best) {
		_cleanup_free_ char *msg = failure_message(rc, nr, nn);
		set_scheduled_condition(ctl, pod, false, msg);
		mk_event_record(ctl->rec, COMPONENT, pod, "Warning", "FailedScheduling", "%s", msg);
		goto out;
	}

	ret = bind(ctl, key, pod, best);
out:
	mk_object_list_free(nodes, nn);
	mk_object_unref(po);
	return ret;
}
