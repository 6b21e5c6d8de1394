/* Node lifecycle controller: watches node heartbeats (the renewTime of the
 * node's Lease in kube-node-lease, which agents renew every heartbeat, and the
 * Ready condition's lastHeartbeatTime, which they post less often). A node whose heartbeat has not changed for the grace
 * period gets Ready=Unknown (NodeStatusUnknown) and the taints
 * node.kubernetes.io/unreachable NoSchedule+NoExecute; a node reporting
 * Ready=False gets node.kubernetes.io/not-ready. Once a node has not been
 * Ready for the eviction timeout (since the condition's lastTransitionTime),
 * its pods are deleted so that their controllers replace them elsewhere, except
 * those tolerating its NoExecute taints without tolerationSeconds (DaemonSet
 * pods; a pod with tolerationSeconds goes at the eviction timeout). A node that
 * is Ready again loses those taints.
 *
 * Time is measured on this side, as kube's node controller does: a heartbeat
 * is "seen" when its value changes, so clock skew between nodes and a restart
 * of the controller (every node gets a fresh grace) cannot evict by mistake.
 * Timers are work-queue delays per node: no polling loop. */
#include <string.h>
#include "internal.h"

#define COMPONENT "node-controller"
#define UNREACHABLE "node.kubernetes.io/unreachable"
#define NOT_READY "node.kubernetes.io/not-ready"

struct node_health {
	char hb[96];
	uint64_t observed_ms;
};

static void on_node(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (!new) {
		pthread_mutex_lock(&ctl->mu);
		free(mk_hmap_del(&ctl->node_seen, old->key));
		pthread_mutex_unlock(&ctl->mu);
		return;
	}
	mk_workqueue_add(ctl->node.q, new->key);
}

/* A lease is named after its node. */
static void on_lease(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (new)
		mk_workqueue_add(ctl->node.q, mk_json_get_string(new->json, "metadata.name"));
}

void node_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_NODES], on_node, ctl);
	mk_informer_add_handler(ctl->inf[CTL_LEASE], on_lease, ctl);
}

static bool has_taint(const cJSON *node, const char *key, const char *effect)
{
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(node, "spec.taints"))
	{
		const char *k = mk_json_get_string(t, "key"), *e = mk_json_get_string(t, "effect");
		if (k && e && !strcmp(k, key) && !strcmp(e, effect))
			return true;
	}
	return false;
}

/* Sets the taints: want_key (both effects) present, the other lifecycle key absent
 * (want_key NULL: neither). */
static int set_taints(struct mk_controllers *ctl, const cJSON *node, const char *want_key)
{
	const char *keys[] = { UNREACHABLE, NOT_READY };
	bool ok = true;
	for (size_t i = 0; i < 2; i++) {
		bool want = want_key && !strcmp(keys[i], want_key);
		if (has_taint(node, keys[i], "NoSchedule") != want || has_taint(node, keys[i], "NoExecute") != want)
			ok = false;
	}
	if (ok)
		return 0;
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(cJSON_AddObjectToObject(patch, "spec"), "taints");
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(node, "spec.taints"))
	{
		const char *k = mk_json_get_string(t, "key");
		if (k && (!strcmp(k, UNREACHABLE) || !strcmp(k, NOT_READY)))
			continue;
		cJSON_AddItemToArray(list, cJSON_Duplicate(t, 1));
	}
	if (want_key) {
		char ts[32];
		now_rfc3339(ts);
		const char *effects[] = { "NoSchedule", "NoExecute" };
		for (size_t i = 0; i < 2; i++) {
			cJSON *n = cJSON_CreateObject();
			cJSON_AddStringToObject(n, "key", want_key);
			cJSON_AddStringToObject(n, "effect", effects[i]);
			if (i == 1)
				cJSON_AddStringToObject(n, "timeAdded", ts);
			cJSON_AddItemToArray(list, n);
		}
	}
	_cleanup_free_ char *path = mk_client_resource_path("v1", "nodes", NULL, mk_json_get_string(node, "metadata.name"), NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, NULL, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	return 0;
}

static int mark_unknown(struct mk_controllers *ctl, const cJSON *node, const cJSON *ready)
{
	char ts[32];
	now_rfc3339(ts);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *conds = cJSON_AddArrayToObject(cJSON_AddObjectToObject(patch, "status"), "conditions");
	/* every condition the agent reported becomes Unknown, as kube does */
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(node, "status.conditions"))
	{
		cJSON *n = cJSON_Duplicate(c, 1);
		const char *s = mk_json_get_string(c, "status");
		mk_json_set_string(n, "status", "Unknown");
		mk_json_set_string(n, "reason", "NodeStatusUnknown");
		mk_json_set_string(n, "message", "Kubelet stopped posting node status.");
		if (!s || strcmp(s, "Unknown"))
			mk_json_set_string(n, "lastTransitionTime", ts);
		cJSON_AddItemToArray(conds, n);
	}
	if (!ready) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "type", "Ready");
		cJSON_AddStringToObject(n, "status", "Unknown");
		cJSON_AddStringToObject(n, "reason", "NodeStatusNeverUpdated");
		cJSON_AddStringToObject(n, "message", "Kubelet never posted node status.");
		cJSON_AddStringToObject(n, "lastHeartbeatTime", ts);
		cJSON_AddStringToObject(n, "lastTransitionTime", ts);
		cJSON_AddItemToArray(conds, n);
	}
	_cleanup_free_ char *path = mk_client_resource_path("v1", "nodes", NULL, mk_json_get_string(node, "metadata.name"), "status");
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/strategic-merge-patch+json", patch, NULL, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_event_record(ctl->rec, COMPONENT, node, "Normal", "NodeNotReady",
			"Node %s status is now: NodeNotReady", mk_json_get_string(node, "metadata.name"));
	return 0;
}

/* true when pod tolerates, for good (no tolerationSeconds), every NoExecute taint
 * of node and the lifecycle taint (key) the node has or is about to get: the taint
 * manager leaves such pods (DaemonSet pods tolerate not-ready and unreachable). */
static bool tolerates_no_execute(const cJSON *pod, const cJSON *node, const char *key)
{
	_cleanup_cjson_ cJSON *forever = cJSON_CreateArray();
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(pod, "spec.tolerations"))
		if (!cJSON_IsNumber(cJSON_GetObjectItem(t, "tolerationSeconds")))
			cJSON_AddItemToArray(forever, cJSON_Duplicate(t, 1));
	if (cJSON_GetArraySize(forever) == 0)
		return false;
	_cleanup_cjson_ cJSON *lifecycle = cJSON_CreateObject();
	cJSON_AddStringToObject(lifecycle, "key", key);
	cJSON_AddStringToObject(lifecycle, "effect", "NoExecute");
	if (!mk_controller_tolerates_taint(forever, lifecycle))
		return false;
	cJSON_ArrayForEach(t, mk_json_get(node, "spec.taints"))
	{
		const char *e = mk_json_get_string(t, "effect");
		if (e && !strcmp(e, "NoExecute") && !mk_controller_tolerates_taint(forever, t))
			return false;
	}
	return true;
}

static int evict_pods(struct mk_controllers *ctl, const char *node_name, const cJSON *node,
		      const char *taint_key)
{
	struct mk_object **pods;
	size_t n = mk_informer_by_index(ctl->inf[CTL_PODS], "node", node_name, &pods);
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *p = pods[i]->json;
		if (has_deletion(p) || tolerates_no_execute(p, node, taint_key))
			continue;
		_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", mk_json_get_string(p, "metadata.namespace"),
						     mk_json_get_string(p, "metadata.name"), NULL);
		/* the node is gone: nobody will confirm a graceful stop */
		struct mk_client_request req = { .method = "DELETE", .path = path,
						  .body = "{\"gracePeriodSeconds\":0}" };
		struct mk_client_response res = { 0 };
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_do(ctl->c, &req, &res, &err) < 0 || (res.code >= 400 && res.code != 404)) {
			ret = -1;
		} else if (res.code < 300) {
			mk_event_record(ctl->rec, COMPONENT, p, "Normal", "TaintManagerEviction",
					"Marking for deletion Pod %s/%s", mk_json_get_string(p, "metadata.namespace"),
					mk_json_get_string(p, "metadata.name"));
		}
		mk_client_response_release(&res);
	}
	mk_object_list_free(pods, n);
	return ret;
}

int node_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *o = mk_informer_get(ctl->inf[CTL_NODES], key);
	if (!o)
		return 0;
	const cJSON *node = o->json;
	const cJSON *ready = find_condition(node, "Ready");
	const char *status = mk_json_get_string(ready, "status");
	/* the heartbeat: either the status's or the lease's changing counts */
	_cleanup_free_ char *lease_key = mk_strdup_printf("kube-node-lease/%s", key);
	struct mk_object *lease = mk_informer_get(ctl->inf[CTL_LEASE], lease_key);
	char hb[96];
	snprintf(hb, sizeof(hb), "%s|%s", mk_json_get_string(ready, "lastHeartbeatTime") ?: "",
		 lease ? mk_json_get_string(lease->json, "spec.renewTime") ?: "" : "");
	mk_object_unref(lease);
	uint64_t now = mk_time_mono_ms(), grace = ctl->opts.node_monitor_grace_ms;
	uint64_t evict = ctl->opts.pod_eviction_timeout_ms;
	int ret = 0;

	pthread_mutex_lock(&ctl->mu);
	struct node_health *h = mk_hmap_get(&ctl->node_seen, key);
	if (!h) {
		h = mk_malloc0(sizeof(*h));
		snprintf(h->hb, sizeof(h->hb), "%s", hb);
		h->observed_ms = now;
		mk_hmap_put(&ctl->node_seen, key, h);
	} else if (strcmp(h->hb, hb)) {
		snprintf(h->hb, sizeof(h->hb), "%s", hb);
		h->observed_ms = now;
	}
	uint64_t age = now - h->observed_ms;
	pthread_mutex_unlock(&ctl->mu);

	bool is_true = status && !strcmp(status, "True");
	bool is_false = status && !strcmp(status, "False");
	if ((is_true || is_false || !ready) && age >= grace) {
		/* silent for the grace period */
		if (mark_unknown(ctl, node, ready) < 0 || set_taints(ctl, node, UNREACHABLE) < 0)
			ret = -1;
		mk_workqueue_add_after(ctl->node.q, key, evict);
		goto out;
	}
	if (is_true) {
		if (set_taints(ctl, node, NULL) < 0)
			ret = -1;
		mk_workqueue_add_after(ctl->node.q, key, grace - age + 10);
		goto out;
	}
	/* not ready (False reported, or Unknown set by us) */
	if (set_taints(ctl, node, is_false ? NOT_READY : UNREACHABLE) < 0)
		ret = -1;
	if (is_false)
		mk_workqueue_add_after(ctl->node.q, key, grace - age + 10);
	const char *lt = mk_json_get_string(ready, "lastTransitionTime");
	time_t since = lt ? mk_time_parse(lt) : -1;
	time_t wall = time(NULL);
	if (since < 0) {
		mk_workqueue_add_after(ctl->node.q, key, evict);
		goto out;
	}
	uint64_t down_ms = wall > since ? (uint64_t)(wall - since) * 1000 : 0;
	/* the condition's time has second precision: count from the controller's view too */
	if (down_ms >= evict && age >= evict / 2) {
		if (evict_pods(ctl, key, node, is_false ? NOT_READY : UNREACHABLE) < 0)
			ret = -1;
		/* pods bound there later (by another scheduler) go too */
		mk_workqueue_add_after(ctl->node.q, key, evict);
	} else {
		uint64_t left = down_ms >= evict ? 1000 : evict - down_ms;
		mk_workqueue_add_after(ctl->node.q, key, left + 10);
	}
out:
	mk_object_unref(o);
	return ret;
}
