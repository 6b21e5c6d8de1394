/* Scheduler: binds pending pods to Ready, schedulable nodes that match their
 * nodeSelector and required node affinity and whose NoSchedule/NoExecute taints
 * they tolerate, and whose volumes they can reach (below). Among the feasible nodes: fewest pods of the same controller
 * first (spread replicas), then fewest pods, then name. Binds are remembered
 * ("assumed") until the cache shows them, so a burst of pods is spread correctly
 * before the watch catches up. Unschedulable pods get PodScheduled=False and a
 * FailedScheduling event; they are retried whenever a node changes. Volumes (kube-scheduler's
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
	if (new && node_sched_changed(old ? old->json : NULL, new->json))
		requeue_pending(ctl);
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
				mk_workqueue_add(ctl->sched.q, pods[i]->key);
		}
	}
	mk_object_list_free(pods, n);
}

void sched_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_NODES], on_node, ctl);
	mk_informer_add_handler(ctl->inf[CTL_PVC], on_claim, ctl);
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

/* The pods assumed onto one node (bound by us, not yet seen bound in the cache). */
struct node_assumed {
	struct mk_object **pods;
	size_t n, cap;
	long same; /* pods of the pass's owner on the node, bound or assumed */
};

static void node_assumed_free(void *v)
{
	struct node_assumed *na = v;
	mk_object_list_free(na->pods, na->n);
	free(na);
}

static struct node_assumed *node_assumed_of(struct mk_hmap *by_node, const char *node)
{
	struct node_assumed *na = mk_hmap_get(by_node, node);
	if (!na) {
		na = mk_malloc0(sizeof(*na));
		mk_hmap_put(by_node, node, na);
	}
	return na;
}

/* Groups the assumed pods by node, once per pass: the assumed set is small (binds
 * on their way to the cache), so a pass costs O(assumed + nodes), not
 * O(nodes x pending pods). Keys and nodes are copied under the lock, the pods
 * read from the informer after it (no lock order between the two). */
static void assumed_by_node(struct mk_controllers *ctl, struct mk_hmap *by_node)
{
	char **keys = NULL, **nodes = NULL;
	size_t n = 0, kcap = 0, ncap = 0;
	pthread_mutex_lock(&ctl->mu);
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&ctl->assumed, &it))) {
		MK_GROW(keys, kcap, n + 1);
		MK_GROW(nodes, ncap, n + 1);
		keys[n] = mk_strdup(e->key);
		nodes[n++] = mk_strdup(e->val);
	}
	pthread_mutex_unlock(&ctl->mu);
	for (size_t i = 0; i < n; i++) {
		struct mk_object *o = mk_informer_get(ctl->inf[CTL_PODS], keys[i]);
		if (o) {
			struct node_assumed *na = node_assumed_of(by_node, nodes[i]);
			MK_GROW(na->pods, na->cap, na->n + 1);
			na->pods[na->n++] = o;
		}
		free(keys[i]);
		free(nodes[i]);
	}
	free(keys);
	free(nodes);
}

/* NodeResourcesFit (sched_fit.c), after the filters of infeasible(): the node's
 * allocatable cpu, memory and pod count must hold the pod's requests beside those
 * of the pods bound to node name and those assumed onto it (na, may be NULL);
 * reasons as mk_controller_sched_fit. */
static int node_fit(struct mk_controllers *ctl, const cJSON *pod, const cJSON *node,
		    const char *name, const struct node_assumed *na, const char *reasons[3])
{
	struct mk_object **bound;
	size_t nb = mk_informer_by_index(ctl->inf[CTL_PODS], "node", name, &bound);
	size_t nassumed = na ? na->n : 0;
	const cJSON **v = mk_malloc0((nb + nassumed + 1) * sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < nb; i++)
		v[n++] = bound[i]->json;
	for (size_t i = 0; i < nassumed; i++)
		v[n++] = na->pods[i]->json;
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

/* Assumes pod onto node_name and hands the bind to the binder workers: the
 * scheduling worker goes on with the next pod while the write is made. */
static int bind(struct mk_controllers *ctl, const char *key, const char *best)
{
	pthread_mutex_lock(&ctl->mu);
	free(mk_hmap_put(&ctl->assumed, key, mk_strdup(best)));
	pthread_mutex_unlock(&ctl->mu);
	mk_workqueue_add(ctl->bind.q, key);
	return 0;
}

/* A binder worker: PATCH spec.nodeName to the assumed node, then PodScheduled=True.
 * A failed bind forgets the assumption and gives the pod back to the scheduler. */
int sched_bind_sync(struct mk_controllers *ctl, const char *key)
{
	pthread_mutex_lock(&ctl->mu);
	const char *an = mk_hmap_get(&ctl->assumed, key);
	_cleanup_free_ char *node_name = an ? mk_strdup(an) : NULL;
	pthread_mutex_unlock(&ctl->mu);
	struct mk_object *po = mk_informer_get(ctl->inf[CTL_PODS], key);
	if (!node_name || !po) {
		mk_object_unref(po);
		return 0; /* bound already (the cache dropped the assumption) or gone */
	}
	const cJSON *pod = po->json;
	const char *pns = mk_json_get_string(pod, "metadata.namespace");
	const char *pname = mk_json_get_string(pod, "metadata.name");
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(patch, "spec"), "nodeName", node_name);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", pns, pname, NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	int ret = 0;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, NULL, &err) < 0) {
		pthread_mutex_lock(&ctl->mu);
		free(mk_hmap_del(&ctl->assumed, key));
		pthread_mutex_unlock(&ctl->mu);
		/* gone, or bound by someone else: the cache will tell; else schedule again */
		if (mk_error_code(err) != 404 && mk_error_code(err) != 409 && mk_error_code(err) != 422) {
			mk_log(MK_LOG_DEBUG, COMPONENT, "bind %s: %s", key, err->msg);
			mk_workqueue_add_rate_limited(ctl->sched.q, key);
		}
		goto out;
	}
	set_scheduled_condition(ctl, pod, true, NULL);
	mk_event_record(ctl->rec, COMPONENT, pod, "Normal", "Scheduled",
			"Successfully assigned %s/%s to %s", pns, pname, node_name);
out:
	mk_object_unref(po);
	return ret;
}

/* The state one scheduling pass looks at for every node. */
struct sched_pass {
	struct mk_controllers *ctl;
	const cJSON *pod;
	struct pod_claims pc;
	struct mk_hmap by_node; /* node name -> struct node_assumed (assumed pods, same-owner count) */
	struct reason_count rc[16]; /* why nodes were refused */
	int nr;
};

/* Whether node can take the pod: the filters, the node affinity of its bound
 * volumes, the node already selected for a delayed claim (a claim already given a
 * node is provisioned there), then resources and ports; the refusals are counted. */
static bool node_feasible(struct sched_pass *p, const cJSON *node, const char *name)
{
	char buf[200];
	const char *why = infeasible(p->pod, node, buf, sizeof(buf));
	for (size_t k = 0; !why && k < p->pc.nbound; k++)
		if (!pv_node_ok(p->pc.bound[k]->json, node))
			why = "node(s) had volume node affinity conflict";
	for (size_t k = 0; !why && k < p->pc.ndelayed; k++) {
		const char *sel = selected_node(p->pc.delayed[k]->json);
		if (sel && strcmp(sel, name))
			why = "node(s) did not match the node selected for its volume";
	}
	if (why) {
		reason_add(p->rc, &p->nr, (int)MK_ARRAY_SIZE(p->rc), why);
		return false;
	}
	const char *fit[3];
	int nf = node_fit(p->ctl, p->pod, node, name, mk_hmap_get(&p->by_node, name), fit);
	for (int k = 0; k < nf; k++)
		reason_add(p->rc, &p->nr, (int)MK_ARRAY_SIZE(p->rc), fit[k]);
	return nf == 0;
}

/* The node's load (its pods, binds not yet in the cache included) and the pods of
 * the same owner on it (*ret_same). */
static long node_load(struct sched_pass *p, const char *name, long *ret_same)
{
	const struct node_assumed *na = mk_hmap_get(&p->by_node, name);
	*ret_same = na ? na->same : 0;
	return (long)mk_informer_index_count(p->ctl->inf[CTL_PODS], "node", name) + (na ? (long)na->n : 0);
}

/* Counts the pods of owner_uid per node (bound, or assumed), once per pass. */
static void siblings_by_node(struct sched_pass *p, const char *owner_uid)
{
	struct mk_controllers *ctl = p->ctl;
	struct mk_object **sib;
	size_t ns = mk_informer_by_index(ctl->inf[CTL_PODS], "ctl", owner_uid, &sib);
	for (size_t k = 0; k < ns; k++) {
		const char *pn = mk_json_get_string(sib[k]->json, "spec.nodeName");
		_cleanup_free_ char *an = NULL;
		if (!pn || !*pn) {
			pthread_mutex_lock(&ctl->mu);
			const char *a = mk_hmap_get(&ctl->assumed, sib[k]->key);
			an = a ? mk_strdup(a) : NULL;
			pthread_mutex_unlock(&ctl->mu);
			pn = an;
		}
		if (pn && *pn)
			node_assumed_of(&p->by_node, pn)->same++;
	}
	mk_object_list_free(sib, ns);
}

/* The feasible node with the fewest pods of the same owner, then the lowest load,
 * then the first name; NULL when none fits (a claim problem: none looked at). */
static const char *node_pick(struct sched_pass *p, struct mk_object **nodes, size_t nn)
{
	const char *best = NULL;
	long best_same = 0, best_load = 0;
	if (p->pc.why[0])
		return NULL;
	for (size_t i = 0; i < nn; i++) {
		const cJSON *node = nodes[i]->json;
		const char *name = mk_json_get_string(node, "metadata.name");
		if (!node_feasible(p, node, name))
			continue;
		long same, load = node_load(p, name, &same);
		if (!best || same < best_same || (same == best_same && load < best_load) ||
		    (same == best_same && load == best_load && strcmp(name, best) < 0)) {
			best = name;
			best_same = same;
			best_load = load;
		}
	}
	return best;
}

/* PodScheduled=False and a FailedScheduling event saying why. */
static void unschedulable_report(struct sched_pass *p, size_t nn)
{
	_cleanup_free_ char *msg = NULL;
	if (p->pc.why[0])
		msg = nn ? mk_strdup_printf("0/%zu nodes are available: %s.", nn, p->pc.why)
			 : mk_strdup_printf("no nodes available to schedule pods: %s.", p->pc.why);
	else
		msg = failure_message(p->rc, p->nr, nn);
	set_scheduled_condition(p->ctl, p->pod, false, msg);
	mk_event_record(p->ctl->rec, COMPONENT, p->pod, "Warning", "FailedScheduling", "%s", msg);
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

	struct sched_pass p = { .ctl = ctl, .pod = pod };
	struct mk_object **nodes;
	size_t nn = mk_informer_list(ctl->inf[CTL_NODES], &nodes);
	const cJSON *cref = mk_api_controller_ref(pod);
	const char *owner_uid = cref ? mk_json_get_string(cref, "uid") : NULL;
	mk_hmap_init(&p.by_node);
	assumed_by_node(ctl, &p.by_node);
	if (owner_uid)
		siblings_by_node(&p, owner_uid);
	pod_claims_load(ctl, pod, &p.pc);
	const char *best = node_pick(&p, nodes, nn); /* a name inside nodes[] */
	mk_hmap_release(&p.by_node, node_assumed_free);

	int ret = 0;
	if (!best)
		unschedulable_report(&p, nn);
	else if (p.pc.ndelayed)
		/* volumes first: the claim handler brings the pod back once they are bound */
		ret = select_node_for_claims(ctl, &p.pc, best);
	else
		ret = bind(ctl, key, best);
	pod_claims_release(&p.pc);
	mk_object_list_free(nodes, nn);
	mk_object_unref(po);
	return ret;
}
