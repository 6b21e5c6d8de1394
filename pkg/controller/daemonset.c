/* DaemonSet controller: one pod of the template on every node that should run it
 * (mk_controller_daemon_should_run: spec.nodeName, nodeSelector, required node
 * affinity, NoSchedule/NoExecute taints against the template's tolerations plus
 * the ones every daemon pod gets, as upstream's AddOrUpdateDaemonPodTolerations).
 *
 * Pods are made as upstream has since 1.12: not bound here, but pinned by a
 * required node affinity term matchFields metadata.name In [node] and placed by
 * the scheduler. Each pod carries the label controller-revision-hash, the hash of
 * the template (mk_controller_template_hash with status.collisionCount); no
 * ControllerRevision objects are kept, so the hash label is what tells an
 * up-to-date pod from an old one.
 *
 * Per node (upstream's podsShouldBeOnNode): a missing pod is created; failed pods
 * are deleted (and so replaced); pods on a node that should no longer run them
 * (untolerated NoExecute taint, labels no longer matching, node gone) are
 * deleted; extra pods are deleted, oldest kept (with maxSurge: the new pod is kept
 * beside one old pod until it is available, then the old one goes).
 * RollingUpdate: without maxSurge, old available pods are deleted while fewer
 * than maxUnavailable nodes are without an available pod (an old pod that is not
 * available is deleted at once), and their nodes get a new pod once the old is
 * terminating; with maxSurge, up to maxSurge nodes get the new pod beside the old
 * one. OnDelete: only deleted pods are replaced (by the current template).
 * Status (the counts kubectl's DESIRED..AVAILABLE and `rollout status` read) is
 * computed on every sync and written through /status when it changed.
 *
 * Orphan pods matching the selector are adopted (an ownerReference patch with
 * the resourceVersion as precondition) and owned pods relabelled out of it are
 * released, as upstream's ControllerRefManager; an adopted pod without the
 * current hash is an old pod to the rolling update.
 *
 * Pods this controller deleted are remembered (uid, in ctl->expect under
 * "ds-del|") until the cache shows them terminating or gone, and created pods are
 * put into the cache at once (mk_informer_assume), so a sync right after its own
 * writes neither creates twice nor counts a deleted pod. */
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "daemonset-controller"
#define HASH_LABEL "controller-revision-hash"
#define DEL_TTL_MS 60000

/* ---- deletions issued, not yet seen ------------------------------------------------- */

static void del_mark(struct mk_controllers *ctl, const char *uid)
{
	_cleanup_free_ char *k = mk_strdup_printf("ds-del|%s", uid);
	struct expectation *e = mk_malloc0(sizeof(*e));
	e->dels = 1;
	e->stamp_ms = mk_time_mono_ms();
	pthread_mutex_lock(&ctl->mu);
	free(mk_hmap_put(&ctl->expect, k, e));
	pthread_mutex_unlock(&ctl->mu);
}

static void del_seen(struct mk_controllers *ctl, const char *uid)
{
	_cleanup_free_ char *k = mk_strdup_printf("ds-del|%s", uid);
	pthread_mutex_lock(&ctl->mu);
	free(mk_hmap_del(&ctl->expect, k));
	pthread_mutex_unlock(&ctl->mu);
}

static bool del_pending(struct mk_controllers *ctl, const char *uid)
{
	_cleanup_free_ char *k = mk_strdup_printf("ds-del|%s", uid);
	pthread_mutex_lock(&ctl->mu);
	struct expectation *e = mk_hmap_get(&ctl->expect, k);
	bool pending = e && mk_time_mono_ms() - e->stamp_ms < DEL_TTL_MS;
	pthread_mutex_unlock(&ctl->mu);
	return pending;
}

/* ---- handlers ------------------------------------------------------------------------ */

static char *ds_key_of(const cJSON *pod)
{
	const cJSON *r = mk_api_controller_ref(pod);
	const char *k = mk_json_get_string(r, "kind");
	const char *name = mk_json_get_string(r, "name");
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	if (!r || !k || strcmp(k, "DaemonSet") || !name || !ns)
		return NULL;
	return mk_strdup_printf("%s/%s", ns, name);
}

/* An orphan pod (or one whose labels changed) may be adopted by a DaemonSet whose
 * selector matches it. */
static void enqueue_matching(struct mk_controllers *ctl, const cJSON *pod)
{
	struct mk_object **dss;
	size_t n = mk_informer_by_index(ctl->inf[CTL_DS], "ns",
					mk_json_get_string(pod, "metadata.namespace"), &dss);
	for (size_t i = 0; i < n; i++) {
		struct mk_label_selector *sel = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_label_selector_from_json(mk_json_get(dss[i]->json, "spec.selector"), &sel,
						&err) == 0 &&
		    !mk_label_selector_empty(sel) &&
		    mk_label_selector_matches(sel, mk_json_get(pod, "metadata.labels")))
			mk_workqueue_add(ctl->ds.q, dss[i]->key);
		mk_label_selector_free(sel);
	}
	mk_object_list_free(dss, n);
}

static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	_cleanup_free_ char *ok = old ? ds_key_of(old->json) : NULL;
	_cleanup_free_ char *nk = new ? ds_key_of(new->json) : NULL;
	if (new && !mk_api_controller_ref(new->json) && !has_deletion(new->json) &&
	    (!old || ok || !cJSON_Compare(mk_json_get(old->json, "metadata.labels"),
					  mk_json_get(new->json, "metadata.labels"), 1)))
		enqueue_matching(ctl, new->json);
	if (!ok && !nk)
		return;
	const cJSON *o = new ? new->json : old->json;
	if (!new || has_deletion(new->json)) {
		const char *uid = mk_json_get_string(o, "metadata.uid");
		if (uid)
			del_seen(ctl, uid);
	}
	if (ok)
		mk_workqueue_add(ctl->ds.q, ok);
	if (nk && (!ok || strcmp(ok, nk)))
		mk_workqueue_add(ctl->ds.q, nk);
}

static void on_ds(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	(void)old;
	if (new)
		mk_workqueue_add(ctl->ds.q, new->key);
}

/* What decides where daemon pods run changed (or the node came or went). */
static bool node_changed(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return true;
	const char *paths[] = { "spec.unschedulable", "spec.taints", "metadata.labels" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(paths); i++)
		if (!cJSON_Compare(mk_json_get(a, paths[i]), mk_json_get(b, paths[i]), 1))
			return true;
	const char *ra = mk_json_get_string(find_condition(a, "Ready"), "status");
	const char *rb = mk_json_get_string(find_condition(b, "Ready"), "status");
	return !ra != !rb || (ra && strcmp(ra, rb));
}

static void on_node(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (!node_changed(old ? old->json : NULL, new ? new->json : NULL))
		return;
	struct mk_object **dss;
	size_t n = mk_informer_list(ctl->inf[CTL_DS], &dss);
	for (size_t i = 0; i < n; i++)
		mk_workqueue_add(ctl->ds.q, dss[i]->key);
	mk_object_list_free(dss, n);
}

void ds_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_DS], on_ds, ctl);
	mk_informer_add_handler(ctl->inf[CTL_NODES], on_node, ctl);
}

/* ---- the daemon pod ------------------------------------------------------------------- */

/* The tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations):
 * it stays through not-ready/unreachable, and is placed on nodes under pressure
 * and on cordoned nodes. */
static const struct {
	const char *key, *effect;
	bool host_network_only;
} daemon_tolerations[] = {
	{ "node.kubernetes.io/not-ready", "NoExecute", false },
	{ "node.kubernetes.io/unreachable", "NoExecute", false },
	{ "node.kubernetes.io/disk-pressure", "NoSchedule", false },
	{ "node.kubernetes.io/memory-pressure", "NoSchedule", false },
	{ "node.kubernetes.io/pid-pressure", "NoSchedule", false },
	{ "node.kubernetes.io/unschedulable", "NoSchedule", false },
	{ "node.kubernetes.io/network-unavailable", "NoSchedule", true },
};

/* The template's pod spec with the daemon tolerations added (owned). */
static cJSON *daemon_pod_spec(const cJSON *ds)
{
	const cJSON *ts = mk_json_get(ds, "spec.template.spec");
	cJSON *spec = cJSON_IsObject(ts) ? cJSON_Duplicate(ts, 1) : cJSON_CreateObject();
	cJSON *tols = cJSON_GetObjectItem(spec, "tolerations");
	if (!cJSON_IsArray(tols)) {
		cJSON_DeleteItemFromObject(spec, "tolerations");
		tols = cJSON_AddArrayToObject(spec, "tolerations");
	}
	bool host_net = cJSON_IsTrue(cJSON_GetObjectItem(spec, "hostNetwork"));
	for (size_t i = 0; i < MK_ARRAY_SIZE(daemon_tolerations); i++) {
		if (daemon_tolerations[i].host_network_only && !host_net)
			continue;
		bool have = false;
		const cJSON *t;
		cJSON_ArrayForEach(t, tols)
		{
			const char *k = mk_json_get_string(t, "key");
			const char *e = mk_json_get_string(t, "effect");
			const char *op = mk_json_get_string(t, "operator");
			if (k && e && op && !strcmp(k, daemon_tolerations[i].key) &&
			    !strcmp(e, daemon_tolerations[i].effect) && !strcmp(op, "Exists"))
				have = true;
		}
		if (have)
			continue;
		cJSON *t2 = cJSON_CreateObject();
		cJSON_AddStringToObject(t2, "key", daemon_tolerations[i].key);
		cJSON_AddStringToObject(t2, "operator", "Exists");
		cJSON_AddStringToObject(t2, "effect", daemon_tolerations[i].effect);
		cJSON_AddItemToArray(tols, t2);
	}
	return spec;
}

/* The required node affinity, replaced by the one term that pins node (upstream's
 * ReplaceDaemonSetPodNodeNameNodeAffinity; the node was checked against the
 * template's own terms already). */
static void pin_to_node(cJSON *spec, const char *node)
{
	cJSON *aff = cJSON_GetObjectItem(spec, "affinity");
	if (!cJSON_IsObject(aff)) {
		cJSON_DeleteItemFromObject(spec, "affinity");
		aff = cJSON_AddObjectToObject(spec, "affinity");
	}
	cJSON *na = cJSON_GetObjectItem(aff, "nodeAffinity");
	if (!cJSON_IsObject(na)) {
		cJSON_DeleteItemFromObject(aff, "nodeAffinity");
		na = cJSON_AddObjectToObject(aff, "nodeAffinity");
	}
	cJSON_DeleteItemFromObject(na, "requiredDuringSchedulingIgnoredDuringExecution");
	cJSON *req = cJSON_AddObjectToObject(na, "requiredDuringSchedulingIgnoredDuringExecution");
	cJSON *term = cJSON_CreateObject();
	cJSON *mf = cJSON_AddArrayToObject(term, "matchFields");
	cJSON *r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "key", "metadata.name");
	cJSON_AddStringToObject(r, "operator", "In");
	cJSON_AddItemToObject(r, "values", cJSON_CreateStringArray(&node, 1));
	cJSON_AddItemToArray(mf, r);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "nodeSelectorTerms"), term);
}

/* The node a daemon pod is for: spec.nodeName once bound, else the node its
 * affinity pins (upstream's GetTargetNodeName). Borrowed or NULL. */
static const char *target_node(const cJSON *pod)
{
	const char *n = mk_json_get_string(pod, "spec.nodeName");
	if (n && *n)
		return n;
	const cJSON *req = mk_json_get(pod, "spec.affinity.nodeAffinity");
	req = cJSON_GetObjectItem(req, "requiredDuringSchedulingIgnoredDuringExecution");
	const cJSON *term, *f;
	cJSON_ArrayForEach(term, cJSON_GetObjectItem(req, "nodeSelectorTerms"))
	{
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(term, "matchFields"))
		{
			const char *k = mk_json_get_string(f, "key");
			const char *op = mk_json_get_string(f, "operator");
			const cJSON *v = cJSON_GetObjectItem(f, "values");
			if (k && op && !strcmp(k, "metadata.name") && !strcmp(op, "In") &&
			    cJSON_GetArraySize(v) == 1 && cJSON_IsString(cJSON_GetArrayItem(v, 0)))
				return cJSON_GetArrayItem(v, 0)->valuestring;
		}
	}
	return NULL;
}

/* The pod's controller-revision-hash label, "" when it has none (an adopted pod). */
static const char *pod_hash(const cJSON *pod)
{
	const cJSON *h = cJSON_GetObjectItem(mk_json_get(pod, "metadata.labels"), HASH_LABEL);
	return cJSON_IsString(h) ? h->valuestring : "";
}

static time_t ts_of(const cJSON *obj, const char *path)
{
	const char *s = mk_json_get_string(obj, path);
	time_t t = s ? mk_time_parse(s) : -1;
	return t < 0 ? 0 : t;
}

/* Ready for min_ready seconds; else *wait_ms (if not NULL and the pod is ready)
 * is lowered to when it will be. */
static bool pod_available(const cJSON *pod, int min_ready, time_t now, uint64_t *wait_ms)
{
	if (!mk_controller_pod_ready(pod))
		return false;
	if (min_ready <= 0)
		return true;
	time_t since = ts_of(find_condition(pod, "Ready"), "lastTransitionTime");
	if (since && since + min_ready <= now)
		return true;
	uint64_t w = (uint64_t)(since ? since + min_ready - now : min_ready) * 1000 + 100;
	if (wait_ms && (!*wait_ms || w < *wait_ms))
		*wait_ms = w;
	return false;
}

/* Oldest first (creation time, then name), as upstream keeps the oldest pod. */
static int cmp_oldest(const void *pa, const void *pb)
{
	const cJSON *a = (*(struct mk_object *const *)pa)->json;
	const cJSON *b = (*(struct mk_object *const *)pb)->json;
	time_t ca = ts_of(a, "metadata.creationTimestamp"), cb = ts_of(b, "metadata.creationTimestamp");
	if (ca != cb)
		return ca < cb ? -1 : 1;
	return strcmp(mk_json_get_string(a, "metadata.name") ?: "",
		      mk_json_get_string(b, "metadata.name") ?: "");
}

/* ---- writes -------------------------------------------------------------------------- */

struct ds_ctx {
	struct mk_controllers *ctl;
	const cJSON *ds;
	const cJSON *spec; /* daemon_pod_spec */
	const char *hash;
	int failed;	   /* writes that failed (the key is retried) */
};

static int create_pod(struct ds_ctx *x, const char *node)
{
	const cJSON *ds = x->ds;
	const char *ns = mk_json_get_string(ds, "metadata.namespace");
	_cleanup_cjson_ cJSON *pod = cJSON_CreateObject();
	cJSON_AddStringToObject(pod, "apiVersion", "v1");
	cJSON_AddStringToObject(pod, "kind", "Pod");
	cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
	_cleanup_free_ char *gen = mk_strdup_printf("%s-", mk_json_get_string(ds, "metadata.name"));
	cJSON_AddStringToObject(md, "generateName", gen);
	cJSON_AddStringToObject(md, "namespace", ns);
	const cJSON *v = mk_json_get(ds, "spec.template.metadata.labels");
	cJSON *labels = cJSON_IsObject(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	mk_json_set_string(labels, HASH_LABEL, x->hash);
	cJSON_AddItemToObject(md, "labels", labels);
	v = mk_json_get(ds, "spec.template.metadata.annotations");
	if (cJSON_IsObject(v))
		cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(v, 1));
	cJSON *ref = controller_ref_new(ds);
	mk_json_set_string(ref, "apiVersion", "apps/v1");
	mk_json_set_string(ref, "kind", "DaemonSet");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"), ref);
	cJSON *spec = cJSON_Duplicate(x->spec, 1);
	pin_to_node(spec, node);
	cJSON_AddItemToObject(pod, "spec", spec);

	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", ns, NULL, NULL);
	_cleanup_cjson_ cJSON *created = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_create(x->ctl->c, path, pod, &created, &err) < 0) {
		/* no event only for the NamespaceTerminating 403 (a quota's 403 is one) */
		if (!(mk_error_code(err) == 403 &&
		      strstr(err->msg, "because it is being terminated"))) {
			x->failed++;
			mk_event_record(x->ctl->rec, COMPONENT, ds, "Warning", "FailedCreate",
					"Error creating: %s", err->msg);
		}
		return -1;
	}
	mk_informer_assume(x->ctl->inf[CTL_PODS], created);
	mk_event_record(x->ctl->rec, COMPONENT, ds, "Normal", "SuccessfulCreate", "Created pod: %s",
			mk_json_get_string(created, "metadata.name"));
	return 0;
}

static void delete_pod(struct ds_ctx *x, const cJSON *pod)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	const char *uid = mk_json_get_string(pod, "metadata.uid");
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods",
		mk_json_get_string(pod, "metadata.namespace"), name, NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (uid)
		del_mark(x->ctl, uid);
	if (mk_client_delete(x->ctl->c, path, NULL, NULL, &err) < 0) {
		if (uid)
			del_seen(x->ctl, uid);
		if (mk_error_code(err) != 404) {
			x->failed++;
			mk_event_record(x->ctl->rec, COMPONENT, x->ds, "Warning", "FailedDelete",
					"Error deleting: %s", err->msg);
		}
		return;
	}
	mk_event_record(x->ctl->rec, COMPONENT, x->ds, "Normal", "SuccessfulDelete", "Deleted pod: %s",
			name);
}

/* Makes ds the controller of the orphan pod (adopt) or drops it from the pod's
 * owners (release), as upstream's ControllerRefManager. 1 done, 0 gone, -1 failed. */
static int set_owner(struct ds_ctx *x, const cJSON *pod, bool adopt)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
	if (adopt) {
		cJSON *ref = controller_ref_new(x->ds);
		mk_json_set_string(ref, "apiVersion", "apps/v1");
		mk_json_set_string(ref, "kind", "DaemonSet");
		cJSON_AddItemToArray(refs, ref);
	} else {
		cJSON *del = cJSON_CreateObject();
		cJSON_AddStringToObject(del, "$patch", "delete");
		cJSON_AddStringToObject(del, "uid", mk_json_get_string(x->ds, "metadata.uid"));
		cJSON_AddItemToArray(refs, del);
	}
	/* only the version looked at: a pod another controller adopted meanwhile
	 * makes this a conflict instead of a second controller reference */
	cJSON_AddStringToObject(md, "resourceVersion", mk_json_get_string(pod, "metadata.resourceVersion"));
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods",
		mk_json_get_string(pod, "metadata.namespace"), mk_json_get_string(pod, "metadata.name"), NULL);
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(x->ctl->c, path, "application/strategic-merge-patch+json", patch, &res,
			    &err) < 0) {
		if (mk_error_code(err) == 404 || mk_error_code(err) == 409)
			return 0; /* gone or changed: the next sync looks again */
		x->failed++;
		return -1;
	}
	mk_informer_assume(x->ctl->inf[CTL_PODS], res);
	return 1;
}

/* ---- status ------------------------------------------------------------------------------ */

struct ds_counts {
	int desired, current, misscheduled, ready, updated, available;
};

static int write_status(struct mk_controllers *ctl, const cJSON *ds, const struct ds_counts *c)
{
	const cJSON *st = cJSON_GetObjectItem(ds, "status");
	int gen = json_int(ds, "metadata.generation", 0);
	struct {
		const char *key;
		int v;
	} f[] = {
		{ "desiredNumberScheduled", c->desired },
		{ "currentNumberScheduled", c->current },
		{ "numberMisscheduled", c->misscheduled },
		{ "numberReady", c->ready },
		{ "updatedNumberScheduled", c->updated },
		{ "numberAvailable", c->available },
		{ "numberUnavailable", c->desired - c->available > 0 ? c->desired - c->available : 0 },
		{ "observedGeneration", gen },
	};
	bool same = true;
	for (size_t i = 0; i < MK_ARRAY_SIZE(f); i++)
		if (!cJSON_IsNumber(cJSON_GetObjectItem(st, f[i].key)) || json_int(st, f[i].key, 0) != f[i].v)
			same = false;
	if (same)
		return 0;
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *s = cJSON_AddObjectToObject(patch, "status");
	for (size_t i = 0; i < MK_ARRAY_SIZE(f); i++)
		cJSON_AddNumberToObject(s, f[i].key, f[i].v);
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "daemonsets",
		mk_json_get_string(ds, "metadata.namespace"), mk_json_get_string(ds, "metadata.name"),
		"status");
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(ctl->inf[CTL_DS], res);
	return 0;
}

/* ---- sync ------------------------------------------------------------------------------- */

/* One node's view: whether it should run the pod, and its live daemon pods. */
struct node_view {
	const char *name;
	bool run, cont;
	struct mk_object **pods; /* live (not terminating, not failed), oldest first; refs */
	size_t n;
};

static bool pod_live(struct mk_controllers *ctl, const cJSON *pod)
{
	const char *uid = mk_json_get_string(pod, "metadata.uid");
	return !has_deletion(pod) && !(uid && del_pending(ctl, uid));
}

static bool pod_finished(const cJSON *pod)
{
	const char *phase = mk_json_get_string(pod, "status.phase");
	return phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"));
}

/* The state one sync passes between its steps, beside the write context. */
struct ds_pass {
	struct ds_ctx x;
	const cJSON *ds;
	struct mk_label_selector *sel;
	int min_ready;
	time_t now;
	uint64_t wait_ms; /* soonest a pod becomes available: the sync to come back at */
	struct mk_object **pods; /* ours, refs */
	size_t np;
	struct node_view *nv; /* one per node */
	size_t nn;
	bool rolling;
	int max_surge, max_unavail;
};

/* Ours: owned pods still matching the selector (the others are released) and live
 * orphans that match (adopted); into p->pods. */
static void pods_claim(struct ds_pass *p)
{
	struct mk_controllers *ctl = p->x.ctl;
	struct mk_object **owned, **orphans;
	size_t no = mk_informer_by_index(ctl->inf[CTL_PODS], "ctl",
					 mk_json_get_string(p->ds, "metadata.uid"), &owned);
	size_t nor = mk_informer_by_index(ctl->inf[CTL_PODS], "orphan",
					  mk_json_get_string(p->ds, "metadata.namespace"), &orphans);
	p->pods = mk_malloc0((no + nor + 1) * sizeof(*p->pods));
	p->np = 0;
	for (size_t k = 0; k < no; k++) {
		if (mk_label_selector_matches(p->sel, mk_json_get(owned[k]->json, "metadata.labels")))
			p->pods[p->np++] = mk_object_ref(owned[k]);
		else
			set_owner(&p->x, owned[k]->json, false);
	}
	for (size_t k = 0; k < nor; k++) {
		const cJSON *o = orphans[k]->json;
		if (!has_deletion(o) && !pod_finished(o) &&
		    mk_label_selector_matches(p->sel, mk_json_get(o, "metadata.labels")) &&
		    set_owner(&p->x, o, true) > 0)
			p->pods[p->np++] = mk_object_ref(orphans[k]);
	}
	mk_object_list_free(owned, no);
	mk_object_list_free(orphans, nor);
}

/* One view per node (whether it should run the pod), then our pods filed under
 * their node: the node of each pod (index, -1 none), counted, then filed. Pods for
 * a node that does not exist and failed pods are deleted on the way. */
static void nodes_view(struct ds_pass *p, struct mk_object **nodes)
{
	size_t nn = p->nn;
	struct node_view *nv = p->nv = mk_malloc0((nn + 1) * sizeof(*nv));
	long *node_of = mk_malloc0((p->np + 1) * sizeof(*node_of));
	struct mk_hmap by_name;
	mk_hmap_init(&by_name);
	for (size_t i = 0; i < nn; i++) {
		nv[i].name = mk_json_get_string(nodes[i]->json, "metadata.name");
		nv[i].run = mk_controller_daemon_should_run(p->x.spec, nodes[i]->json, &nv[i].cont);
		if (nv[i].name)
			mk_hmap_put(&by_name, nv[i].name, &nv[i]);
	}
	size_t *count = mk_malloc0((nn + 1) * sizeof(*count));
	for (size_t k = 0; k < p->np; k++) {
		const char *tn = target_node(p->pods[k]->json);
		struct node_view *v = tn ? mk_hmap_get(&by_name, tn) : NULL;
		node_of[k] = v ? v - nv : -1;
		if (v)
			count[v - nv]++;
	}
	for (size_t i = 0; i < nn; i++)
		nv[i].pods = mk_malloc0((count[i] + 1) * sizeof(*nv[i].pods));
	free(count);
	mk_hmap_release(&by_name, NULL);
	for (size_t k = 0; k < p->np; k++) {
		const cJSON *pod = p->pods[k]->json;
		if (node_of[k] < 0) {
			/* for a node that does not exist (any more): it can never run there */
			if (pod_live(p->x.ctl, pod))
				delete_pod(&p->x, pod);
			continue;
		}
		struct node_view *v = &nv[node_of[k]];
		if (!pod_live(p->x.ctl, pod))
			continue; /* terminating: its node gets the replacement already */
		if (pod_finished(pod))
			delete_pod(&p->x, pod); /* a failed daemon pod is deleted and so replaced */
		else
			v->pods[v->n++] = mk_object_ref(p->pods[k]);
	}
	free(node_of);
}

/* spec.updateStrategy: the type, maxSurge and maxUnavailable against the desired
 * count (at least one of them non-zero). */
static void strategy_read(struct ds_pass *p)
{
	const char *stype = mk_json_get_string(p->ds, "spec.updateStrategy.type");
	p->rolling = !stype || !strcmp(stype, "RollingUpdate");
	int desired = 0;
	for (size_t i = 0; i < p->nn; i++)
		desired += p->nv[i].run;
	const cJSON *ru = mk_json_get(p->ds, "spec.updateStrategy.rollingUpdate");
	p->max_surge = p->rolling ? mk_controller_int_or_percent(cJSON_GetObjectItem(ru, "maxSurge"),
								 desired, true, 0) : 0;
	p->max_unavail = mk_controller_int_or_percent(cJSON_GetObjectItem(ru, "maxUnavailable"),
						      desired, true, 0);
	if (p->max_surge < 0)
		p->max_surge = 0;
	if (p->max_unavail < 0)
		p->max_unavail = 0;
	if (p->max_surge == 0 && p->max_unavail == 0)
		p->max_unavail = 1;
}

/* Several pods on a node: without surge, the oldest only (upstream's
 * podsShouldBeOnNode); with surge, the oldest available new pod alone, or, while no
 * new one is available yet, the oldest new beside the oldest old; with no new pod,
 * the oldest. The others are deleted. */
static void node_trim_extra(struct ds_pass *p, struct node_view *v)
{
	long keep_new = -1, keep_old = -1, avail_new = -1;
	for (size_t k = 0; k < v->n; k++) {
		const cJSON *pod = v->pods[k]->json;
		bool is_new = !strcmp(pod_hash(pod), p->x.hash);
		if (is_new && keep_new < 0)
			keep_new = (long)k;
		if (is_new && avail_new < 0 && pod_available(pod, p->min_ready, p->now, &p->wait_ms))
			avail_new = (long)k;
		if (!is_new && keep_old < 0)
			keep_old = (long)k;
	}
	if (p->max_surge == 0) {
		keep_new = -1;
		keep_old = 0; /* index 0: the oldest, new or old */
	} else if (avail_new >= 0) {
		keep_new = avail_new;
		keep_old = -1;
	} else if (keep_new < 0) {
		keep_old = 0;
	}
	size_t w = 0;
	for (size_t k = 0; k < v->n; k++) {
		if ((long)k == keep_new || (long)k == keep_old) {
			v->pods[w++] = v->pods[k];
			continue;
		}
		delete_pod(&p->x, v->pods[k]->json);
		mk_object_unref(v->pods[k]);
	}
	v->n = w;
}

/* Per node: create missing, delete extra or misplaced. */
static void nodes_reconcile(struct ds_pass *p)
{
	for (size_t i = 0; i < p->nn; i++) {
		struct node_view *v = &p->nv[i];
		if (v->n > 1)
			qsort(v->pods, v->n, sizeof(*v->pods), cmp_oldest);
		if (!v->cont) {
			for (size_t k = 0; k < v->n; k++) {
				delete_pod(&p->x, v->pods[k]->json);
				mk_object_unref(v->pods[k]);
			}
			v->n = 0;
			continue;
		}
		if (v->n == 0) {
			/* (the new pod is counted on the next sync, from the cache) */
			if (v->run)
				create_pod(&p->x, v->name);
			continue;
		}
		if (v->n > 1)
			node_trim_extra(p, v);
	}
}

/* Rolling update, first pass over one node: counts it busy (already without an
 * available pod / already surging) or files it as a candidate; 1 busy, 0 not. */
static int rolling_node(struct ds_pass *p, struct node_view *v, struct node_view **cand, size_t *nc)
{
	const cJSON *newp = NULL, *oldp = NULL;
	for (size_t k = 0; k < v->n; k++) {
		const cJSON *pod = v->pods[k]->json;
		if (!strcmp(pod_hash(pod), p->x.hash))
			newp = newp ? newp : pod;
		else
			oldp = oldp ? oldp : pod;
	}
	if (p->max_surge == 0) {
		if (!newp && !oldp)
			return v->run;
		if (oldp && !newp) {
			if (!pod_available(oldp, p->min_ready, p->now, &p->wait_ms)) {
				/* not available anyway: replaced at once */
				delete_pod(&p->x, oldp);
				return 1;
			}
			cand[(*nc)++] = v;
			return 0;
		}
		return newp && !pod_available(newp, p->min_ready, p->now, &p->wait_ms);
	}
	if (oldp && newp)
		return 1; /* surging: the old goes once the new is available */
	if (oldp && v->run) {
		if (!pod_available(oldp, p->min_ready, p->now, &p->wait_ms))
			return create_pod(&p->x, v->name) == 0;
		cand[(*nc)++] = v;
	}
	return 0;
}

/* Rolling update: candidates (nodes with an old available pod only) are replaced
 * while the budget (maxUnavailable, or maxSurge with surge) minus the busy nodes
 * lasts. */
static void rolling_update(struct ds_pass *p)
{
	int busy = 0;
	struct node_view **cand = mk_malloc0((p->nn + 1) * sizeof(*cand));
	size_t nc = 0;
	for (size_t i = 0; i < p->nn; i++) {
		struct node_view *v = &p->nv[i];
		if (v->run || v->cont)
			busy += rolling_node(p, v, cand, &nc);
	}
	int budget = (p->max_surge == 0 ? p->max_unavail : p->max_surge) - busy;
	for (size_t c = 0; c < nc && budget > 0; c++) {
		struct node_view *v = cand[c];
		if (p->max_surge == 0) {
			for (size_t k = 0; k < v->n; k++)
				delete_pod(&p->x, v->pods[k]->json);
		} else if (create_pod(&p->x, v->name) < 0) {
			continue;
		}
		budget--;
	}
	free(cand);
}

/* Status, from what the cache showed at the start. */
static void status_count(struct ds_pass *p, struct ds_counts *cnt)
{
	for (size_t i = 0; i < p->nn; i++) {
		struct node_view *v = &p->nv[i];
		if (v->run)
			cnt->desired++;
		if (v->n == 0)
			continue;
		if (!v->run) {
			cnt->misscheduled++;
			continue;
		}
		cnt->current++;
		const cJSON *pod = v->pods[0]->json; /* the oldest, as upstream counts */
		if (!strcmp(pod_hash(pod), p->x.hash))
			cnt->updated++;
		if (mk_controller_pod_ready(pod))
			cnt->ready++;
		if (pod_available(pod, p->min_ready, p->now, &p->wait_ms))
			cnt->available++;
	}
}

static void pass_release(struct ds_pass *p)
{
	for (size_t i = 0; i < p->nn; i++) {
		for (size_t k = 0; k < p->nv[i].n; k++)
			mk_object_unref(p->nv[i].pods[k]);
		free(p->nv[i].pods);
	}
	free(p->nv);
	mk_object_list_free(p->pods, p->np);
}

int ds_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *dso = mk_informer_get(ctl->inf[CTL_DS], key);
	if (!dso)
		return 0;
	const cJSON *ds = dso->json;
	struct mk_label_selector *sel = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (has_deletion(ds) ||
	    mk_label_selector_from_json(mk_json_get(ds, "spec.selector"), &sel, &err) < 0 ||
	    mk_label_selector_empty(sel)) {
		/* being deleted (the garbage collector takes the pods), or a selector
		 * validation should have refused */
		mk_label_selector_free(sel);
		mk_object_unref(dso);
		return 0;
	}

	char hash[11];
	mk_controller_template_hash(mk_json_get(ds, "spec.template"),
				    (uint32_t)json_int(ds, "status.collisionCount", 0), hash);
	_cleanup_cjson_ cJSON *spec = daemon_pod_spec(ds);
	struct ds_pass p = {
		.x = { .ctl = ctl, .ds = ds, .spec = spec, .hash = hash },
		.ds = ds,
		.sel = sel,
		.min_ready = json_int(ds, "spec.minReadySeconds", 0),
		.now = time(NULL),
	};
	struct mk_object **nodes;
	p.nn = mk_informer_list(ctl->inf[CTL_NODES], &nodes);
	pods_claim(&p);
	nodes_view(&p, nodes);
	strategy_read(&p);
	nodes_reconcile(&p);
	if (p.rolling)
		rolling_update(&p);

	struct ds_counts cnt = { 0 };
	status_count(&p, &cnt);
	int ret = p.x.failed ? -1 : 0;
	if (write_status(ctl, ds, &cnt) < 0)
		ret = -1;
	if (p.wait_ms)
		mk_workqueue_add_after(ctl->ds.q, key, p.wait_ms);

	pass_release(&p);
	mk_object_list_free(nodes, p.nn);
	mk_label_selector_free(sel);
	mk_object_unref(dso);
	return ret;
}
