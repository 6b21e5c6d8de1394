/* Scheduler: binds pending pods to Ready, schedulable nodes that match their
 * nodeSelector and required node affinity and whose NoSchedule/NoExecute taints
 * they tolerate, that have room for their requests, and whose volumes they can
 * reach (below). Among the feasible nodes: fewest pods of the same controller
 * first (spread replicas), then fewest pods, then name. Pending pods wait in the
 * scheduling queue (sched_queue.c: priority, then arrival; back-off; the
 * unschedulable set), and nodes are judged from the cache's per-node totals
 * (sched_cache.c), so one decision costs O(nodes) and never walks the pods. Binds
 * are remembered ("assumed") in the cache until the informer shows them, so a
 * burst of pods is spread correctly before the watch catches up. Unschedulable
 * pods get PodScheduled=False and a FailedScheduling event, written apart from the
 * decisions by one reporter paced as kube-scheduler's API client
 * (SCHED_REPORT_QPS): a decision only leaves the pod's latest words for it, so a
 * flood of pods that fit nowhere neither holds the decisions to a durable commit
 * each nor takes the API's writes from its clients; the reports trail, each pod's
 * latest only, and the status write carries the pod's resourceVersion, so a pod
 * placed meanwhile keeps its PodScheduled=True. They are tried again
 * when a node is added or changes or a bound pod goes away. Volumes (kube-scheduler's
 * VolumeBinding, simplified): a pod whose claim is missing or being deleted, or
 * whose Immediate claim is unbound, fits nowhere (the message names the claim); a
 * bound claim's volume node affinity filters nodes; for unbound WaitForFirstConsumer
 * claims the chosen node is written to the claims (volume.kubernetes.io/selected-node)
 * and the pod is bound once the provisioner has bound them (a claim change requeues
 * the pods using it). */
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

static int32_t pod_priority(const cJSON *pod)
{
	return (int32_t)json_int(pod, "spec.priority", 0);
}

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
	bool wants = new && pod_wants_scheduling(new->json);
	/* bound or gone: the cache now knows what we assumed */
	sched_cache_pod_update(ctl->scache, o->key, old ? old->json : NULL, new ? new->json : NULL,
			       !wants);
	if (wants) {
		/* the scheduler's own status writes (PodScheduled=False) change no
		 * placement: only a new pod or a spec or label change requeues (kube's
		 * isPodUpdated) */
		if (!old || !pod_wants_scheduling(old->json) ||
		    !cJSON_Compare(mk_json_get(old->json, "spec"), mk_json_get(new->json, "spec"), 1) ||
		    !cJSON_Compare(mk_json_get(old->json, "metadata.labels"),
				   mk_json_get(new->json, "metadata.labels"), 1))
			sched_queue_add(ctl->sq, new->key, pod_priority(new->json));
		return;
	}
	sched_queue_delete(ctl->sq, o->key);
	if (pod_frees_node(old, new))
		sched_queue_move_all(ctl->sq); /* pods that did not fit may fit now */
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

static void on_node(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	sched_cache_node_update(ctl->scache, old, new);
	if (new && node_sched_changed(old ? old->json : NULL, new->json))
		sched_queue_move_all(ctl->sq);
}

/* A claim that appears, binds or changes: the unbound pods of its namespace using it. */
static void on_claim(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const struct mk_object *o = new ? new : old;
	const char *ns = mk_json_get_string(o->json, "metadata.namespace");
	const char *name = mk_json_get_string(o->json, "metadata.name");
	struct mk_object **pods;
	size_t n = mk_informer_by_index(ctl->inf[CTL_PODS], "node", "", &pods);
	for (size_t i = 0; ns && name && i < n; i++) {
		const cJSON *v;
		if (!pod_wants_scheduling(pods[i]->json) ||
		    strcmp(mk_json_get_string(pods[i]->json, "metadata.namespace") ?: "", ns))
			continue;
		cJSON_ArrayForEach(v, mk_json_get(pods[i]->json, "spec.volumes"))
		{
			const char *cn = mk_json_get_string(v, "persistentVolumeClaim.claimName");
			if (cn && !strcmp(cn, name))
				sched_queue_add(ctl->sq, pods[i]->key, pod_priority(pods[i]->json));
		}
	}
	mk_object_list_free(pods, n);
}

void sched_setup(struct mk_controllers *ctl)
{
	ctl->sq = sched_queue_new();
	ctl->scache = sched_cache_new();
	ctl->sched.run = sched_main;
	ctl->sched.shutdown = sched_shutdown;
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_NODES], on_node, ctl);
	mk_informer_add_handler(ctl->inf[CTL_PVC], on_claim, ctl);
}

void sched_shutdown(struct ctl_loop *l)
{
	if (l->ctl->sq)
		sched_queue_shutdown(l->ctl->sq);
}

void sched_release(struct mk_controllers *ctl)
{
	sched_queue_free(ctl->sq);
	ctl->sq = NULL;
	sched_cache_free(ctl->scache);
	ctl->scache = NULL;
}

/* ---- volumes (kube-scheduler's VolumeBinding filter, simplified) ----------------------- */

#define MAX_CLAIMS 16
struct pod_claims {
	struct mk_object *bound[MAX_CLAIMS];   /* volumes of bound claims: their node affinity filters */
	size_t nbound;
	struct mk_object *delayed[MAX_CLAIMS]; /* unbound WaitForFirstConsumer claims */
	size_t ndelayed;
	char why[300];			       /* set: no node can take the pod now */
};

/* The node the scheduler chose for a delayed claim, or NULL. */
static const char *selected_node(const cJSON *claim)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(mk_json_get(claim, "metadata.annotations"),
							  MK_API_SELECTED_NODE_ANN);
	return cJSON_IsString(a) && a->valuestring[0] ? a->valuestring : NULL;
}

static void pod_claims_release(struct pod_claims *pc)
{
	for (size_t i = 0; i < pc->nbound; i++)
		mk_object_unref(pc->bound[i]);
	for (size_t i = 0; i < pc->ndelayed; i++)
		mk_object_unref(pc->delayed[i]);
}

static void pod_claims_load(struct mk_controllers *ctl, const cJSON *pod, struct pod_claims *pc)
{
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const cJSON *v;
	memset(pc, 0, sizeof(*pc));
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
	{
		const char *cn = mk_json_get_string(v, "persistentVolumeClaim.claimName");
		if (!cn || pc->why[0])
			continue;
		_cleanup_free_ char *key = mk_strdup_printf("%s/%s", ns ? ns : "", cn);
		struct mk_object *co = mk_informer_get(ctl->inf[CTL_PVC], key);
		if (!co) {
			snprintf(pc->why, sizeof(pc->why), "persistentvolumeclaim \"%s\" not found", cn);
			continue;
		}
		if (has_deletion(co->json)) {
			snprintf(pc->why, sizeof(pc->why), "persistentvolumeclaim \"%s\" is being deleted", cn);
			mk_object_unref(co);
			continue;
		}
		const char *vn = mk_json_get_string(co->json, "spec.volumeName");
		if (vn && *vn) {
			struct mk_object *pv = mk_informer_get(ctl->inf[CTL_PV], vn);
			if (!pv)
				snprintf(pc->why, sizeof(pc->why), "persistentvolume \"%s\" not found", vn);
			else if (pc->nbound < MAX_CLAIMS)
				pc->bound[pc->nbound++] = pv;
			else
				mk_object_unref(pv);
			mk_object_unref(co);
			continue;
		}
		const char *cls = mk_json_get_string(co->json, "spec.storageClassName");
		struct mk_object *sc = cls && *cls ? mk_informer_get(ctl->inf[CTL_SC], cls) : NULL;
		const char *mode = sc ? mk_json_get_string(sc->json, "volumeBindingMode") : NULL;
		if (mode && !strcmp(mode, "WaitForFirstConsumer") && pc->ndelayed < MAX_CLAIMS)
			pc->delayed[pc->ndelayed++] = mk_object_ref(co);
		else
			snprintf(pc->why, sizeof(pc->why), "pod has unbound immediate PersistentVolumeClaims");
		mk_object_unref(sc);
		mk_object_unref(co);
	}
}

/* Writes the chosen node to the delayed claims that have none yet; the pod is bound
 * once the provisioner has bound them (the claim handler requeues it). */
static int select_node_for_claims(struct mk_controllers *ctl, const struct pod_claims *pc,
				  const char *node)
{
	for (size_t i = 0; i < pc->ndelayed; i++) {
		const cJSON *c = pc->delayed[i]->json;
		if (selected_node(c))
			continue;
		_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
		cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"),
								"annotations"),
					MK_API_SELECTED_NODE_ANN, node);
		_cleanup_free_ char *path = mk_client_resource_path(
			"v1", "persistentvolumeclaims", mk_json_get_string(c, "metadata.namespace"),
			mk_json_get_string(c, "metadata.name"), NULL);
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, NULL, &err) < 0 &&
		    mk_error_code(err) != 404) {
			mk_log(MK_LOG_DEBUG, COMPONENT, "claim %s: %s", path, err->msg);
			return -1;
		}
	}
	return 0;
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
 * run in kube-scheduler's order: NodeUnschedulable, TaintToleration, NodeAffinity;
 * readiness and cordon come parsed from the cache. */
static const char *infeasible(const cJSON *pod, const struct sched_node *n, bool affinity,
			      char *buf, size_t size)
{
	if (n->unschedulable && !tolerates(pod, "node.kubernetes.io/unschedulable", "", "NoSchedule"))
		return "node(s) were unschedulable";
	const cJSON *t;
	cJSON_ArrayForEach(t, n->taints)
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
	if (!n->ready && !tolerates(pod, "node.kubernetes.io/not-ready", "", "NoSchedule"))
		return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }";
	/* nodeSelector and required node affinity (DaemonSet pods pin their node
	 * through matchFields metadata.name), when the pod has either */
	if (affinity && !mk_controller_node_affinity_matches(mk_json_get(pod, "spec"), n->obj->json))
		return "node(s) didn't match Pod's node affinity/selector";
	return NULL;
}

struct reason_count {
	char reason[200];
	const char *lit; /* the string literal it came from, or NULL */
	int n;
};

/* Counts why; lit: why is a string literal, compared by address first (hundreds
 * of nodes give the same one in a decision). */
static void reason_add(struct reason_count *rc, int *nr, int max, const char *why, bool lit)
{
	int j = *nr;
	for (int k = 0; lit && k < *nr; k++)
		if (rc[k].lit == why) {
			j = k;
			break;
		}
	if (j == *nr)
		for (j = 0; j < *nr; j++)
			if (!strcmp(rc[j].reason, why))
				break;
	if (j == *nr && *nr < max) {
		snprintf(rc[*nr].reason, sizeof(rc[*nr].reason), "%s", why);
		rc[*nr].lit = lit ? why : NULL;
		rc[(*nr)++].n = 0;
	}
	if (j < *nr)
		rc[j].n++;
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

/* PodScheduled=False, Unschedulable, with message (PodScheduled=True is the
 * server's, with the binding). Nothing is written when it says so already.
 * -1 when the pod changed since it was read (409), else 0 (errors logged). */
static int set_unschedulable(struct mk_controllers *ctl, const cJSON *pod, const char *message)
{
	cJSON *cur = find_condition(pod, "PodScheduled");
	const char *cs = mk_json_get_string(cur, "status");
	const char *cm = mk_json_get_string(cur, "message");
	if (cs && !strcmp(cs, "False") && cm && !strcmp(cm, message))
		return 0;
	char ts[32];
	now_rfc3339(ts);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	/* the pod as read: a pod bound meanwhile keeps its PodScheduled=True (409) */
	cJSON_AddStringToObject(cJSON_AddObjectToObject(patch, "metadata"), "resourceVersion",
				mk_json_get_string(pod, "metadata.resourceVersion"));
	cJSON *conds = cJSON_AddArrayToObject(cJSON_AddObjectToObject(patch, "status"), "conditions");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "PodScheduled");
	cJSON_AddStringToObject(c, "status", "False");
	cJSON_AddNullToObject(c, "lastProbeTime");
	cJSON_AddStringToObject(c, "lastTransitionTime", ts);
	cJSON_AddStringToObject(c, "reason", "Unschedulable");
	cJSON_AddStringToObject(c, "message", message);
	cJSON_AddItemToArray(conds, c);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", mk_json_get_string(pod, "metadata.namespace"),
					     mk_json_get_string(pod, "metadata.name"), "status");
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/strategic-merge-patch+json", patch, NULL,
			    &err) < 0) {
		mk_log(MK_LOG_DEBUG, COMPONENT, "pod status %s: %s", path, err->msg);
		return err->code == 409 ? -1 : 0;
	}
	return 0;
}

/* ---- scheduling ------------------------------------------------------------------------ */

/* Assumes pod onto node best and hands the bind to the binder workers: the
 * scheduling thread goes on with the next pod while the write is made. */
static void bind(struct mk_controllers *ctl, const char *key, const cJSON *pod, const char *best)
{
	sched_cache_assume(ctl->scache, key, pod, best);
	mk_workqueue_add(ctl->bind.q, key);
}

/* A binder worker: POST pods/NAME/binding to the assumed node, as kube-scheduler's
 * DefaultBinder: the server sets spec.nodeName and PodScheduled=True in one write
 * and refuses (409) a pod bound already or being deleted. The Binding carries the
 * pod's uid as a precondition, so a pod deleted and made again under the same
 * name is not bound by a decision made for the old one. A failed bind forgets
 * the assumption and gives the pod back to the scheduler. */
int sched_bind_sync(struct mk_controllers *ctl, const char *key)
{
	_cleanup_free_ char *node_name = sched_cache_assumed_node(ctl->scache, key);
	struct mk_object *po = mk_informer_get(ctl->inf[CTL_PODS], key);
	if (!node_name || !po) {
		mk_object_unref(po);
		return 0; /* bound already (the cache dropped the assumption) or gone */
	}
	const cJSON *pod = po->json;
	const char *pns = mk_json_get_string(pod, "metadata.namespace");
	const char *pname = mk_json_get_string(pod, "metadata.name");
	const char *uid = mk_json_get_string(pod, "metadata.uid");
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "apiVersion", "v1");
	cJSON_AddStringToObject(b, "kind", "Binding");
	cJSON *md = cJSON_AddObjectToObject(b, "metadata");
	cJSON_AddStringToObject(md, "name", pname ? pname : "");
	cJSON_AddStringToObject(md, "namespace", pns ? pns : "");
	if (uid)
		cJSON_AddStringToObject(md, "uid", uid);
	cJSON *t = cJSON_AddObjectToObject(b, "target");
	cJSON_AddStringToObject(t, "apiVersion", "v1");
	cJSON_AddStringToObject(t, "kind", "Node");
	cJSON_AddStringToObject(t, "name", node_name);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", pns, pname, "binding");
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_create(ctl->c, path, b, NULL, &err) < 0) {
		sched_cache_forget(ctl->scache, key);
		/* gone, or bound by someone else: the cache will tell; else schedule again
		 * after a back-off */
		if (mk_error_code(err) != 404 && mk_error_code(err) != 409 && mk_error_code(err) != 422) {
			mk_log(MK_LOG_DEBUG, COMPONENT, "bind %s: %s", key, err->msg);
			sched_queue_add_failed(ctl->sq, key, pod_priority(pod));
		}
		goto out;
	}
	mk_event_record(ctl->rec, COMPONENT, pod, "Normal", "Scheduled",
			"Successfully assigned %s/%s to %s", pns, pname, node_name);
out:
	mk_object_unref(po);
	return 0;
}

/* The state one scheduling decision looks at for every node. */
struct sched_pass {
	struct sched_cache *cache;
	const cJSON *pod;
	const char *owner_uid; /* its controller's, or NULL */
	int64_t cpu, mem;      /* its requests */
	bool affinity;	       /* it has a nodeSelector or a required node affinity */
	struct pod_claims pc;
	struct reason_count rc[16]; /* why nodes were refused */
	int nr;
};

/* Whether node n can take the pod: the filters, the node affinity of its bound
 * volumes, the node already selected for a delayed claim (a claim already given a
 * node is provisioned there), then resources from the cached totals; the
 * refusals are counted. */
static bool node_feasible(struct sched_pass *p, const struct sched_node *n)
{
	char buf[200];
	const char *why = infeasible(p->pod, n, p->affinity, buf, sizeof(buf));
	for (size_t k = 0; !why && k < p->pc.nbound; k++)
		if (!pv_node_ok(p->pc.bound[k]->json, n->obj->json))
			why = "node(s) had volume node affinity conflict";
	for (size_t k = 0; !why && k < p->pc.ndelayed; k++) {
		const char *sel = selected_node(p->pc.delayed[k]->json);
		if (sel && strcmp(sel, n->name))
			why = "node(s) did not match the node selected for its volume";
	}
	if (why) {
		reason_add(p->rc, &p->nr, (int)MK_ARRAY_SIZE(p->rc), why, why != buf);
		return false;
	}
	const char *fit[3];
	int nf = sched_node_fit(n, p->cpu, p->mem, fit);
	for (int k = 0; k < nf; k++)
		reason_add(p->rc, &p->nr, (int)MK_ARRAY_SIZE(p->rc), fit[k], true);
	return nf == 0;
}

/* What a decision reads of its pod once, not per node. */
static void pass_init(struct sched_pass *p)
{
	const cJSON *spec = mk_json_get(p->pod, "spec");
	mk_api_pod_requests(spec, &p->cpu, &p->mem);
	const cJSON *na = mk_json_get(spec, "affinity.nodeAffinity");
	p->affinity = cJSON_GetObjectItemCaseSensitive(spec, "nodeSelector") ||
		      cJSON_GetObjectItemCaseSensitive(na, "requiredDuringSchedulingIgnoredDuringExecution");
}

/* The feasible node with the fewest pods of the same owner, then the fewest pods
 * (binds not yet in the informer included), then the first name: its name (owned),
 * or NULL when none fits (a claim problem: none looked at). *ret_nn: the nodes. */
static char *node_pick(struct sched_pass *p, size_t *ret_nn)
{
	const struct sched_node *best = NULL;
	long best_same = 0;
	struct sched_node *const *nodes;
	char *ret = NULL;
	sched_cache_lock(p->cache);
	size_t nn = sched_cache_nodes(p->cache, &nodes), nsame;
	const long *same_by_id = sched_cache_owner_counts(p->cache, p->owner_uid, &nsame);
	for (size_t i = 0; !p->pc.why[0] && i < nn; i++) {
		const struct sched_node *n = nodes[i];
		if (!node_feasible(p, n))
			continue;
		long same = n->id < nsame ? same_by_id[n->id] : 0;
		/* nodes come in name order: the first of equals is the first name */
		if (!best || same < best_same || (same == best_same && n->npods < best->npods)) {
			best = n;
			best_same = same;
		}
	}
	if (best)
		ret = mk_strdup(best->name);
	sched_cache_unlock(p->cache);
	*ret_nn = nn;
	return ret;
}

/* The message of a pod that fits nowhere (owned). */
static char *unschedulable_message(struct sched_pass *p, size_t nn)
{
	if (p->pc.why[0])
		return nn ? mk_strdup_printf("0/%zu nodes are available: %s.", nn, p->pc.why)
			  : mk_strdup_printf("no nodes available to schedule pods: %s.", p->pc.why);
	return failure_message(p->rc, p->nr, nn);
}

char *sched_pick_node(struct sched_cache *c, const cJSON *pod, char **ret_why)
{
	const cJSON *cref = mk_api_controller_ref(pod);
	struct sched_pass p = { .cache = c, .pod = pod,
				.owner_uid = cref ? mk_json_get_string(cref, "uid") : NULL };
	pass_init(&p);
	size_t nn;
	char *best = node_pick(&p, &nn);
	if (!best && ret_why)
		*ret_why = unschedulable_message(&p, nn);
	return best;
}

/* Leaves the report of pod key, unschedulable, for the reporter. */
static void unschedulable_report(struct mk_controllers *ctl, struct sched_pass *p, size_t nn,
				 const char *key)
{
	_cleanup_free_ char *msg = unschedulable_message(p, nn);
	sched_cache_report_put(ctl->scache, key, msg);
	mk_workqueue_add(ctl->sreport.q, key);
}

/* Waits for a token of the reporter's bucket (SCHED_REPORT_QPS, SCHED_REPORT_BURST). */
static void report_pace(struct mk_controllers *ctl)
{
	uint64_t now = mk_time_mono_ns();
	if (!ctl->sreport_last_ns)
		ctl->sreport_tokens = SCHED_REPORT_BURST;
	else
		ctl->sreport_tokens += (double)(now - ctl->sreport_last_ns) / 1e9 * SCHED_REPORT_QPS;
	if (ctl->sreport_tokens > SCHED_REPORT_BURST)
		ctl->sreport_tokens = SCHED_REPORT_BURST;
	ctl->sreport_last_ns = now;
	if (ctl->sreport_tokens < 1) {
		uint64_t wait_ns = (uint64_t)((1 - ctl->sreport_tokens) / SCHED_REPORT_QPS * 1e9);
		struct timespec ts = { wait_ns / 1000000000u, wait_ns % 1000000000u };
		nanosleep(&ts, NULL);
		ctl->sreport_last_ns = mk_time_mono_ns();
		ctl->sreport_tokens = 1;
	}
	ctl->sreport_tokens -= 1;
}

/* The reporter: PodScheduled=False and a FailedScheduling event saying why, unless
 * the pod went away or was placed meanwhile. */
int sched_report_sync(struct mk_controllers *ctl, const char *key)
{
	_cleanup_free_ char *msg = sched_cache_report_take(ctl->scache, key);
	if (!msg)
		return 0;
	struct mk_object *po = mk_informer_get(ctl->inf[CTL_PODS], key);
	_cleanup_free_ char *assumed = sched_cache_assumed_node(ctl->scache, key);
	int ret = 0;
	if (po && pod_wants_scheduling(po->json) && !assumed) {
		report_pace(ctl);
		if (set_unschedulable(ctl, po->json, msg) < 0) {
			/* changed since the informer's copy: again once it shows the change,
			 * unless a newer decision left its own words meanwhile */
			sched_cache_report_put_new(ctl->scache, key, msg);
			ret = -1;
		} else {
			mk_event_record(ctl->rec, COMPONENT, po->json, "Warning", "FailedScheduling", "%s",
					msg);
		}
	}
	mk_object_unref(po);
	return ret;
}

/* One scheduling decision for pod key: 0 placed (or nothing to do), 1 it fits
 * nowhere (its report is left for the reporter), -1 an error (try again after a
 * back-off). */
int sched_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *po = mk_informer_get(ctl->inf[CTL_PODS], key);
	if (!po)
		return 0;
	const cJSON *pod = po->json;
	_cleanup_free_ char *assumed = sched_cache_assumed_node(ctl->scache, key);
	if (!pod_wants_scheduling(pod) || assumed) {
		mk_object_unref(po);
		return 0;
	}

	const cJSON *cref = mk_api_controller_ref(pod);
	struct sched_pass p = { .cache = ctl->scache, .pod = pod,
				.owner_uid = cref ? mk_json_get_string(cref, "uid") : NULL };
	pass_init(&p);
	pod_claims_load(ctl, pod, &p.pc);
	size_t nn;
	_cleanup_free_ char *best = node_pick(&p, &nn);

	int ret = 0;
	if (!best) {
		unschedulable_report(ctl, &p, nn, key);
		ret = 1;
	} else if (p.pc.ndelayed) {
		/* volumes first: the claim handler brings the pod back once they are bound */
		ret = select_node_for_claims(ctl, &p.pc, best);
	} else {
		bind(ctl, key, pod, best);
	}
	pod_claims_release(&p.pc);
	mk_object_unref(po);
	return ret;
}

/* The scheduling thread: one decision at a time, as kube-scheduler's
 * scheduleOne, fed by the scheduling queue. */
void *sched_main(void *arg)
{
	struct ctl_loop *l = arg;
	struct mk_controllers *ctl = l->ctl;
	char *key;
	uint64_t cycle;
	while (sched_queue_pop(ctl->sq, -1, &key, &cycle) == 1) {
		int r = sched_sync(ctl, key);
		sched_queue_done(ctl->sq, key, cycle,
				 r < 0 ? SCHED_ERROR : r > 0 ? SCHED_UNSCHEDULABLE : SCHED_DONE);
		free(key);
	}
	return NULL;
}
