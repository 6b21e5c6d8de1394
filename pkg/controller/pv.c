/* Persistent volumes: the binder (kube's pkg/controller/volume/persistentvolume)
 * and the built-in local-path provisioner (k3s's rancher.io/local-path).
 *
 * Claims (queue "pvc", key ns/name):
 *  - bound (spec.volumeName set): the volume's claimRef and phase are completed,
 *    then the claim's annotations (pv.kubernetes.io/bind-completed) and status
 *    (Bound, capacity, access modes); a claim whose volume is gone is Lost.
 *  - unbound: a volume reserved for it (claimRef naming it) or the smallest
 *    Available volume of its class that has its access modes, volume mode, size
 *    and selector is bound to it. For a WaitForFirstConsumer class this waits for
 *    the scheduler's volume.kubernetes.io/selected-node annotation, and the volume
 *    must be reachable from that node. Otherwise, for the local-path class, a
 *    volume is provisioned: PV pvc-<claim uid>, a hostPath directory
 *    <dir>/pvc-<uid>_<ns>_<name> on the selected node (any Ready node for an
 *    Immediate class), where <dir> is what the node's agent publishes in the
 *    minik8s.io/local-path-dir annotation (DATA_DIR/storage), with node affinity
 *    to that node and the class's reclaim policy.
 * Volumes (queue "pv", key name): Available when free, Bound when their claim
 *  holds them, Released when the claim they were bound to is gone. A Released
 *  volume with reclaim policy Delete is deleted; a provisioned one carries the
 *  finalizer minik8s.io/local-path-cleanup, which the agent of its node removes
 *  once it has removed the directory (pkg/agent/pvc.c), so the volume goes only
 *  after its data. Retain keeps a Released volume and its data; Recycle is
 *  deprecated and not supported (Failed).
 * Protection (the finalizers the API server adds at create): a claim being deleted
 *  loses kubernetes.io/pvc-protection once no pod that has not terminated uses it
 *  (the cache, then a live list, says so); a volume being deleted loses
 *  kubernetes.io/pv-protection once it is not Bound. */
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "persistentvolume-controller"
#define PROVISIONER_COMPONENT MK_API_LOCAL_PATH_PROVISIONER
#define ANN_BIND_COMPLETED "pv.kubernetes.io/bind-completed"
#define ANN_BOUND_BY_CONTROLLER "pv.kubernetes.io/bound-by-controller"
#define ANN_PROVISIONED_BY "pv.kubernetes.io/provisioned-by"
#define ANN_STORAGE_PROVISIONER "volume.kubernetes.io/storage-provisioner"
#define ANN_BETA_STORAGE_PROVISIONER "volume.beta.kubernetes.io/storage-provisioner"

static const char *str(const cJSON *obj, const char *path)
{
	const char *s = mk_json_get_string(obj, path);
	return s ? s : "";
}

static const char *ann(const cJSON *obj, const char *key)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(mk_json_get(obj, "metadata.annotations"), key);
	return cJSON_IsString(a) ? a->valuestring : NULL;
}

static char *claim_key(const cJSON *pv)
{
	const char *ns = mk_json_get_string(pv, "spec.claimRef.namespace");
	const char *name = mk_json_get_string(pv, "spec.claimRef.name");
	if (!ns || !name || !*name)
		return NULL;
	return mk_strdup_printf("%s/%s", ns, name);
}

/* ---- handlers ------------------------------------------------------------------- */

static void on_pvc(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const struct mk_object *o = new ? new : old;
	mk_workqueue_add(ctl->pvc.q, o->key);
	/* a claim that went away releases its volume */
	const char *vn = mk_json_get_string(o->json, "spec.volumeName");
	if (vn && *vn)
		mk_workqueue_add(ctl->pv.q, vn);
}

/* Every claim not bound yet is looked at again. */
static void requeue_waiting_claims(struct mk_controllers *ctl)
{
	struct mk_object **cs;
	size_t n = mk_informer_list(ctl->inf[CTL_PVC], &cs);
	for (size_t i = 0; i < n; i++)
		if (!*str(cs[i]->json, "spec.volumeName"))
			mk_workqueue_add(ctl->pvc.q, cs[i]->key);
	mk_object_list_free(cs, n);
}

static void on_pv(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const struct mk_object *o = new ? new : old;
	mk_workqueue_add(ctl->pv.q, o->key);
	_cleanup_free_ char *ck = claim_key(o->json);
	if (ck)
		mk_workqueue_add(ctl->pvc.q, ck);
	/* a volume that became free may suit a waiting claim */
	if (new && !ck)
		requeue_waiting_claims(ctl);
}

/* A node that appears or changes may be where a waiting claim can be provisioned. */
static void on_node(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (!new || (old && cJSON_Compare(mk_json_get(old->json, "metadata.annotations"),
					  mk_json_get(new->json, "metadata.annotations"), 1) &&
		     !strcmp(str(find_condition(old->json, "Ready"), "status"),
			     str(find_condition(new->json, "Ready"), "status"))))
		return;
	requeue_waiting_claims(ctl);
}

/* A pod that changes or goes may free a claim being deleted (pvc-protection). */
static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	const struct mk_object *o = new ? new : old;
	const char *ns = mk_json_get_string(o->json, "metadata.namespace");
	const cJSON *v;
	cJSON_ArrayForEach(v, mk_json_get(o->json, "spec.volumes"))
	{
		const char *cn = mk_json_get_string(v, "persistentVolumeClaim.claimName");
		if (!cn || !ns)
			continue;
		_cleanup_free_ char *key = mk_strdup_printf("%s/%s", ns, cn);
		struct mk_object *co = mk_informer_get(ctl->inf[CTL_PVC], key);
		if (co && has_deletion(co->json))
			mk_workqueue_add(ctl->pvc.q, key);
		mk_object_unref(co);
	}
}

void pv_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_PVC], on_pvc, ctl);
	mk_informer_add_handler(ctl->inf[CTL_PV], on_pv, ctl);
	mk_informer_add_handler(ctl->inf[CTL_NODES], on_node, ctl);
}

/* ---- matching ---------------------------------------------------------------------- */

static bool has_string(const cJSON *arr, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, s))
			return true;
	return false;
}

/* One node selector requirement against node (labels, or metadata.name for fields). */
static bool requirement_holds(const cJSON *req, const cJSON *node, bool field)
{
	const char *key = str(req, "key"), *op = str(req, "operator"), *val = NULL;
	const cJSON *values = cJSON_GetObjectItemCaseSensitive(req, "values");
	if (field) {
		if (!strcmp(key, "metadata.name"))
			val = mk_json_get_string(node, "metadata.name");
	} else {
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(mk_json_get(node, "metadata.labels"), key);
		val = cJSON_IsString(l) ? l->valuestring : NULL;
	}
	if (!strcmp(op, "In"))
		return val && has_string(values, val);
	if (!strcmp(op, "NotIn"))
		return !val || !has_string(values, val);
	if (!strcmp(op, "Exists"))
		return val != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return val == NULL;
	if (!strcmp(op, "Gt") || !strcmp(op, "Lt")) {
		const cJSON *v0 = cJSON_GetArrayItem(values, 0);
		if (!val || !cJSON_IsString(v0))
			return false;
		long long a = strtoll(val, NULL, 10), b = strtoll(v0->valuestring, NULL, 10);
		return op[0] == 'G' ? a > b : a < b;
	}
	return false;
}

bool pv_node_ok(const cJSON *pv, const cJSON *node)
{
	const cJSON *terms = mk_json_get(pv, "spec.nodeAffinity.required.nodeSelectorTerms");
	const cJSON *t;
	if (!cJSON_IsArray(terms))
		return true;
	if (!node)
		return false;
	cJSON_ArrayForEach(t, terms)
	{
		bool ok = true;
		const cJSON *r;
		int n = 0;
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(t, "matchExpressions"))
		{
			ok = ok && requirement_holds(r, node, false);
			n++;
		}
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(t, "matchFields"))
		{
			ok = ok && requirement_holds(r, node, true);
			n++;
		}
		if (ok && n > 0) /* an empty term matches nothing */
			return true;
	}
	return false;
}

static bool modes_cover(const cJSON *have, const cJSON *want)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, want)
		if (cJSON_IsString(m) && !has_string(have, m->valuestring))
			return false;
	return true;
}

static const char *volume_mode(const cJSON *obj)
{
	const char *m = mk_json_get_string(obj, "spec.volumeMode");
	return m && *m ? m : "Filesystem";
}

/* Whether pv could be bound to claim (ignoring whom it is reserved for). */
static bool volume_fits(const cJSON *pv, const cJSON *claim, const cJSON *node)
{
	if (has_deletion(pv))
		return false;
	const char *phase = str(pv, "status.phase");
	if (!strcmp(phase, "Released") || !strcmp(phase, "Failed"))
		return false;
	if (strcmp(str(pv, "spec.storageClassName"), str(claim, "spec.storageClassName")))
		return false;
	if (strcmp(volume_mode(pv), volume_mode(claim)))
		return false;
	if (!modes_cover(mk_json_get(pv, "spec.accessModes"), mk_json_get(claim, "spec.accessModes")))
		return false;
	int64_t have = mk_api_quantity_value(mk_json_get(pv, "spec.capacity.storage"));
	int64_t want = mk_api_quantity_value(mk_json_get(claim, "spec.resources.requests.storage"));
	if (have < 0 || want < 0 || have < want)
		return false;
	const cJSON *sel = mk_json_get(claim, "spec.selector");
	if (sel) {
		struct mk_label_selector *ls = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		bool ok = mk_label_selector_from_json(sel, &ls, &err) == 0 &&
			  mk_label_selector_matches(ls, mk_json_get(pv, "metadata.labels"));
		mk_label_selector_free(ls);
		if (!ok)
			return false;
	}
	return !node || pv_node_ok(pv, node);
}

/* claimRef of pv names claim (same uid, or no uid yet). */
static bool reserved_for(const cJSON *pv, const cJSON *claim)
{
	const cJSON *cr = mk_json_get(pv, "spec.claimRef");
	if (!cJSON_IsObject(cr))
		return false;
	if (strcmp(str(cr, "name"), str(claim, "metadata.name")) ||
	    strcmp(str(cr, "namespace"), str(claim, "metadata.namespace")))
		return false;
	const char *uid = mk_json_get_string(cr, "uid");
	return !uid || !*uid || !strcmp(uid, str(claim, "metadata.uid"));
}

/* The volume for an unbound claim: one reserved for it, else the smallest fit. */
static struct mk_object *find_volume(struct mk_controllers *ctl, const cJSON *claim, const cJSON *node)
{
	struct mk_object **pvs, *best = NULL;
	size_t n = mk_informer_list(ctl->inf[CTL_PV], &pvs);
	int64_t best_size = 0;
	for (size_t i = 0; i < n; i++) {
		const cJSON *pv = pvs[i]->json;
		if (reserved_for(pv, claim) && !has_deletion(pv)) {
			mk_object_unref(best);
			best = mk_object_ref(pvs[i]);
			break;
		}
		if (cJSON_IsObject(mk_json_get(pv, "spec.claimRef")) || !volume_fits(pv, claim, node))
			continue;
		int64_t size = mk_api_quantity_value(mk_json_get(pv, "spec.capacity.storage"));
		if (!best || size < best_size) {
			mk_object_unref(best);
			best = mk_object_ref(pvs[i]);
			best_size = size;
		}
	}
	mk_object_list_free(pvs, n);
	return best;
}

/* ---- writes ------------------------------------------------------------------------ */

static int patch(struct mk_controllers *ctl, const char *resource, const char *ns, const char *name,
		 const char *sub, cJSON *body)
{
	_cleanup_free_ char *path = mk_client_resource_path("v1", resource, ns, name, sub);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", body, NULL, &err) < 0) {
		mk_log(MK_LOG_DEBUG, COMPONENT, "patch %s: %s", path, err->msg);
		return mk_error_code(err) == 404 ? 0 : -1;
	}
	return 0;
}

static int set_phase(struct mk_controllers *ctl, const char *resource, const cJSON *obj,
		     const char *phase, const char *reason, const char *message)
{
	if (!strcmp(str(obj, "status.phase"), phase) && !strcmp(str(obj, "status.reason"), reason ? reason : ""))
		return 0;
	_cleanup_cjson_ cJSON *p = cJSON_CreateObject();
	cJSON *st = cJSON_AddObjectToObject(p, "status");
	cJSON_AddStringToObject(st, "phase", phase);
	if (!strcmp(resource, "persistentvolumes")) {
		char ts[32];
		now_rfc3339(ts);
		cJSON_AddStringToObject(st, "lastPhaseTransitionTime", ts);
		if (reason)
			cJSON_AddStringToObject(st, "reason", reason);
		else
			cJSON_AddNullToObject(st, "reason");
		if (message)
			cJSON_AddStringToObject(st, "message", message);
		else
			cJSON_AddNullToObject(st, "message");
	}
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	return patch(ctl, resource, ns, str(obj, "metadata.name"), "status", p);
}

/* Binds pv and claim: the volume's claimRef, its phase, the claim's volumeName and
 * annotations, the claim's status; each step only when not done yet. */
static int bind(struct mk_controllers *ctl, const cJSON *pv, const cJSON *claim, bool by_controller)
{
	const char *ns = str(claim, "metadata.namespace"), *cname = str(claim, "metadata.name");
	const char *pvname = str(pv, "metadata.name");

	if (strcmp(str(pv, "spec.claimRef.uid"), str(claim, "metadata.uid"))) {
		_cleanup_cjson_ cJSON *p = cJSON_CreateObject();
		cJSON *cr = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "spec"), "claimRef");
		cJSON_AddStringToObject(cr, "kind", "PersistentVolumeClaim");
		cJSON_AddStringToObject(cr, "namespace", ns);
		cJSON_AddStringToObject(cr, "name", cname);
		cJSON_AddStringToObject(cr, "uid", str(claim, "metadata.uid"));
		cJSON_AddStringToObject(cr, "apiVersion", "v1");
		cJSON_AddStringToObject(cr, "resourceVersion", str(claim, "metadata.resourceVersion"));
		if (by_controller && !cJSON_IsObject(mk_json_get(pv, "spec.claimRef")))
			cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"),
									"annotations"),
						ANN_BOUND_BY_CONTROLLER, "yes");
		if (patch(ctl, "persistentvolumes", NULL, pvname, NULL, p) < 0)
			return -1;
	}
	if (set_phase(ctl, "persistentvolumes", pv, "Bound", NULL, NULL) < 0)
		return -1;
	if (strcmp(str(claim, "spec.volumeName"), pvname) ||
	    !ann(claim, ANN_BIND_COMPLETED)) {
		_cleanup_cjson_ cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "spec"), "volumeName", pvname);
		cJSON *a = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
		cJSON_AddStringToObject(a, ANN_BIND_COMPLETED, "yes");
		if (by_controller)
			cJSON_AddStringToObject(a, ANN_BOUND_BY_CONTROLLER, "yes");
		if (patch(ctl, "persistentvolumeclaims", ns, cname, NULL, p) < 0)
			return -1;
	}
	const cJSON *cap = mk_json_get(pv, "spec.capacity");
	const cJSON *modes = mk_json_get(pv, "spec.accessModes");
	if (strcmp(str(claim, "status.phase"), "Bound") ||
	    !cJSON_Compare(mk_json_get(claim, "status.capacity"), cap, 1) ||
	    !cJSON_Compare(mk_json_get(claim, "status.accessModes"), modes, 1)) {
		_cleanup_cjson_ cJSON *p = cJSON_CreateObject();
		cJSON *st = cJSON_AddObjectToObject(p, "status");
		cJSON_AddStringToObject(st, "phase", "Bound");
		cJSON_AddItemToObject(st, "capacity", cap ? cJSON_Duplicate(cap, 1) : cJSON_CreateObject());
		cJSON_AddItemToObject(st, "accessModes",
				      modes ? cJSON_Duplicate(modes, 1) : cJSON_CreateArray());
		if (patch(ctl, "persistentvolumeclaims", ns, cname, "status", p) < 0)
			return -1;
		mk_log(MK_LOG_DEBUG, COMPONENT, "claim %s/%s bound to volume %s", ns, cname, pvname);
	}
	return 0;
}

static struct mk_object *node_get(struct mk_controllers *ctl, const char *name)
{
	return name && *name ? mk_informer_get(ctl->inf[CTL_NODES], name) : NULL;
}

static bool node_ready(const cJSON *node)
{
	return !strcmp(str(find_condition(node, "Ready"), "status"), "True") &&
	       !cJSON_IsTrue(mk_json_get(node, "spec.unschedulable"));
}

/* A Ready node that publishes its local-path directory, for an Immediate claim:
 * the first by name. NULL if none (owned). */
static struct mk_object *pick_node(struct mk_controllers *ctl)
{
	struct mk_object **nodes, *best = NULL;
	size_t n = mk_informer_list(ctl->inf[CTL_NODES], &nodes);
	for (size_t i = 0; i < n; i++) {
		if (!node_ready(nodes[i]->json) || !ann(nodes[i]->json, MK_API_LOCAL_PATH_DIR_ANN))
			continue;
		if (!best || strcmp(nodes[i]->key, best->key) < 0) {
			mk_object_unref(best);
			best = mk_object_ref(nodes[i]);
		}
	}
	mk_object_list_free(nodes, n);
	return best;
}

/* Creates the volume for claim on node (local-path). */
static int provision(struct mk_controllers *ctl, const cJSON *claim, const cJSON *sc, const cJSON *node)
{
	const char *uid = str(claim, "metadata.uid"), *ns = str(claim, "metadata.namespace");
	const char *cname = str(claim, "metadata.name"), *nname = str(node, "metadata.name");
	const char *dir = ann(node, MK_API_LOCAL_PATH_DIR_ANN);
	const char *policy = mk_json_get_string(sc, "reclaimPolicy");
	_cleanup_free_ char *pvname = mk_strdup_printf("pvc-%s", uid);
	_cleanup_error_ struct mk_error *err = NULL;

	if (!dir || dir[0] != '/') {
		mk_event_record(ctl->rec, PROVISIONER_COMPONENT, claim, "Warning", "ProvisioningFailed",
				"node \"%s\" does not publish its local-path directory (annotation %s)",
				nname, MK_API_LOCAL_PATH_DIR_ANN);
		return 0; /* the node handler retries when the node changes */
	}
	_cleanup_cjson_ cJSON *pv = cJSON_CreateObject();
	cJSON_AddStringToObject(pv, "apiVersion", "v1");
	cJSON_AddStringToObject(pv, "kind", "PersistentVolume");
	cJSON *md = cJSON_AddObjectToObject(pv, "metadata");
	cJSON_AddStringToObject(md, "name", pvname);
	cJSON *a = cJSON_AddObjectToObject(md, "annotations");
	cJSON_AddStringToObject(a, ANN_PROVISIONED_BY, MK_API_LOCAL_PATH_PROVISIONER);
	cJSON_AddStringToObject(a, "local.path.provisioner/selected-node", nname);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "finalizers"),
			     cJSON_CreateString(MK_API_LOCAL_PATH_FINALIZER));
	cJSON *spec = cJSON_AddObjectToObject(pv, "spec");
	cJSON_AddItemToObject(cJSON_AddObjectToObject(spec, "capacity"), "storage",
			      cJSON_Duplicate(mk_json_get(claim, "spec.resources.requests.storage"), 1));
	cJSON_AddItemToObject(spec, "accessModes", cJSON_Duplicate(mk_json_get(claim, "spec.accessModes"), 1));
	cJSON_AddStringToObject(spec, "persistentVolumeReclaimPolicy", policy ? policy : "Delete");
	cJSON_AddStringToObject(spec, "storageClassName", str(sc, "metadata.name"));
	cJSON_AddStringToObject(spec, "volumeMode", "Filesystem");
	cJSON *hp = cJSON_AddObjectToObject(spec, "hostPath");
	_cleanup_free_ char *path = mk_strdup_printf("%s/%s_%s_%s", dir, pvname, ns, cname);
	cJSON_AddStringToObject(hp, "path", path);
	cJSON_AddStringToObject(hp, "type", "DirectoryOrCreate");
	cJSON *term = cJSON_CreateObject();
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "key", "kubernetes.io/hostname");
	cJSON_AddStringToObject(req, "operator", "In");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "values"), cJSON_CreateString(nname));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(term, "matchExpressions"), req);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "nodeAffinity"),
									     "required"),
						    "nodeSelectorTerms"),
			     term);
	cJSON *cr = cJSON_AddObjectToObject(spec, "claimRef");
	cJSON_AddStringToObject(cr, "kind", "PersistentVolumeClaim");
	cJSON_AddStringToObject(cr, "namespace", ns);
	cJSON_AddStringToObject(cr, "name", cname);
	cJSON_AddStringToObject(cr, "uid", uid);
	cJSON_AddStringToObject(cr, "apiVersion", "v1");
	cJSON_AddStringToObject(cr, "resourceVersion", str(claim, "metadata.resourceVersion"));

	if (mk_client_create(ctl->c, "/api/v1/persistentvolumes", pv, NULL, &err) < 0) {
		if (mk_error_code(err) == 409)
			return 0; /* made by an earlier pass: the cache will show it */
		mk_event_record(ctl->rec, PROVISIONER_COMPONENT, claim, "Warning", "ProvisioningFailed",
				"failed to provision volume with StorageClass \"%s\": %s",
				str(sc, "metadata.name"), err->msg);
		return -1;
	}
	mk_event_record(ctl->rec, PROVISIONER_COMPONENT, claim, "Normal", "ProvisioningSucceeded",
			"Successfully provisioned volume %s", pvname);
	return 0;
}

/* ---- protection finalizers ---------------------------------------------------------- */


/* Removes finalizer f of obj (guarded by its resourceVersion). */
static int drop_finalizer(struct mk_controllers *ctl, const char *resource, const cJSON *obj,
			  const char *f)
{
	_cleanup_cjson_ cJSON *p = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(p, "metadata");
	cJSON *fs = cJSON_AddArrayToObject(md, "finalizers");
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(obj, "metadata.finalizers"))
		if (cJSON_IsString(it) && strcmp(it->valuestring, f))
			cJSON_AddItemToArray(fs, cJSON_CreateString(it->valuestring));
	cJSON_AddStringToObject(md, "resourceVersion", str(obj, "metadata.resourceVersion"));
	return patch(ctl, resource, mk_json_get_string(obj, "metadata.namespace"),
		     str(obj, "metadata.name"), NULL, p);
}

/* Whether a pod of the list (a JSON array) that has not terminated uses the claim. */
static bool pods_use(const cJSON *pods, const char *claim)
{
	const cJSON *p, *v;
	cJSON_ArrayForEach(p, pods)
	{
		const char *phase = str(p, "status.phase");
		if (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))
			continue;
		cJSON_ArrayForEach(v, mk_json_get(p, "spec.volumes"))
		{
			const char *cn = mk_json_get_string(v, "persistentVolumeClaim.claimName");
			if (cn && !strcmp(cn, claim))
				return true;
		}
	}
	return false;
}

/* kubernetes.io/pvc-protection: a claim being deleted goes once no pod uses it,
 * as the cache says and then a live list confirms (kube's pvcprotection). */
static int unprotect_claim(struct mk_controllers *ctl, const cJSON *claim)
{
	const char *ns = str(claim, "metadata.namespace"), *name = str(claim, "metadata.name");
	struct mk_object **pods;
	size_t n = mk_informer_by_index(ctl->inf[CTL_PODS], "ns", ns, &pods);
	_cleanup_cjson_ cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemReferenceToArray(arr, pods[i]->json);
	bool used = pods_use(arr, name);
	cJSON_Delete(TAKE_PTR(arr));
	mk_object_list_free(pods, n);
	if (used)
		return 0; /* the pod handler brings the claim back */
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", ns, NULL, NULL);
	_cleanup_cjson_ cJSON *live = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_get(ctl->c, path, &live, &err) < 0)
		return -1;
	if (pods_use(cJSON_GetObjectItem(live, "items"), name))
		return 0;
	return drop_finalizer(ctl, "persistentvolumeclaims", claim, "kubernetes.io/pvc-protection");
}

/* ---- claims ---------------------------------------------------------------------- */

static int sync_bound_claim(struct mk_controllers *ctl, const cJSON *claim, const char *vn)
{
	struct mk_object *po = mk_informer_get(ctl->inf[CTL_PV], vn);
	int r = 0;
	if (!po) {
		if (!strcmp(str(claim, "status.phase"), "Bound")) {
			mk_event_record(ctl->rec, COMPONENT, claim, "Warning", "ClaimLost",
					"Bound claim has lost its PersistentVolume. Data on the volume is lost!");
			return set_phase(ctl, "persistentvolumeclaims", claim, "Lost", NULL, NULL);
		}
		return 0;
	}
	const cJSON *pv = po->json;
	if (!cJSON_IsObject(mk_json_get(pv, "spec.claimRef")) || reserved_for(pv, claim))
		r = bind(ctl, pv, claim, false);
	else
		mk_event_record(ctl->rec, COMPONENT, claim, "Warning", "FailedBinding",
				"volume \"%s\" already bound to a different claim.", vn);
	mk_object_unref(po);
	return r;
}

/* Whether the claim's class is provisioned here (the local-path provisioner); if
 * not, an event says why it waits: no class, an unknown class, or an external
 * provisioner's class. */
static bool provisioned_here(struct mk_controllers *ctl, const cJSON *claim, const char *cls,
			     const struct mk_object *sco)
{
	if (!*cls) {
		mk_event_record(ctl->rec, COMPONENT, claim, "Normal", "FailedBinding",
				"no persistent volumes available for this claim and no storage class is set");
		return false;
	}
	if (!sco) {
		mk_event_record(ctl->rec, COMPONENT, claim, "Warning", "ProvisioningFailed",
				"storageclass.storage.k8s.io \"%s\" not found", cls);
		return false;
	}
	if (strcmp(str(sco->json, "provisioner"), MK_API_LOCAL_PATH_PROVISIONER)) {
		mk_event_record(ctl->rec, COMPONENT, claim, "Normal", "ExternalProvisioning",
				"Waiting for a volume to be created either by the external provisioner "
				"'%s' or manually by the system administrator.",
				str(sco->json, "provisioner"));
		return false;
	}
	return true;
}

/* The claim says who provisions it (both annotations, as upstream). */
static int provisioner_annotate(struct mk_controllers *ctl, const cJSON *claim)
{
	_cleanup_cjson_ cJSON *p = cJSON_CreateObject();
	cJSON *a = cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"), "annotations");
	cJSON_AddStringToObject(a, ANN_STORAGE_PROVISIONER, MK_API_LOCAL_PATH_PROVISIONER);
	cJSON_AddStringToObject(a, ANN_BETA_STORAGE_PROVISIONER, MK_API_LOCAL_PATH_PROVISIONER);
	return patch(ctl, "persistentvolumeclaims", str(claim, "metadata.namespace"),
		     str(claim, "metadata.name"), NULL, p);
}

int pvc_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *co = mk_informer_get(ctl->inf[CTL_PVC], key);
	struct mk_object *sco = NULL, *nodeo = NULL, *pvo = NULL;
	int r = 0;
	if (!co)
		return 0;
	const cJSON *claim = co->json;
	if (has_deletion(claim)) {
		if (mk_api_finalizer_has(claim, "kubernetes.io/pvc-protection"))
			r = unprotect_claim(ctl, claim);
		goto out;
	}
	const char *vn = mk_json_get_string(claim, "spec.volumeName");
	if (vn && *vn) {
		r = sync_bound_claim(ctl, claim, vn);
		goto out;
	}
	const char *cls = str(claim, "spec.storageClassName");
	sco = *cls ? mk_informer_get(ctl->inf[CTL_SC], cls) : NULL;
	bool wffc = sco && !strcmp(str(sco->json, "volumeBindingMode"), "WaitForFirstConsumer");
	const char *sel = ann(claim, MK_API_SELECTED_NODE_ANN);
	nodeo = node_get(ctl, sel);
	if (wffc && !sel) {
		mk_event_record(ctl->rec, COMPONENT, claim, "Normal", "WaitForFirstConsumer",
				"waiting for first consumer to be created before binding");
		goto out;
	}
	pvo = find_volume(ctl, claim, wffc ? (nodeo ? nodeo->json : NULL) : NULL);
	if (pvo) {
		r = bind(ctl, pvo->json, claim, true);
		goto out;
	}
	if (!provisioned_here(ctl, claim, cls, sco))
		goto out;
	if (!wffc && !nodeo)
		nodeo = pick_node(ctl);
	if (!nodeo) {
		mk_event_record(ctl->rec, PROVISIONER_COMPONENT, claim, "Warning", "ProvisioningFailed",
				"no Ready node to provision the volume on");
		goto out;
	}
	if (strcmp(str(claim, "spec.volumeMode"), "Block") == 0) {
		mk_event_record(ctl->rec, PROVISIONER_COMPONENT, claim, "Warning", "ProvisioningFailed",
				"the local-path provisioner only supports volumeMode Filesystem");
		goto out;
	}
	if (!ann(claim, ANN_STORAGE_PROVISIONER) && provisioner_annotate(ctl, claim) < 0) {
		r = -1;
		goto out;
	}
	r = provision(ctl, claim, sco->json, nodeo->json);
out:
	mk_object_unref(pvo);
	mk_object_unref(nodeo);
	mk_object_unref(sco);
	mk_object_unref(co);
	return r;
}

/* ---- volumes ---------------------------------------------------------------------- */

/* The claim is gone (or is another object of the same name): Released, then the
 * reclaim policy. */
static int release(struct mk_controllers *ctl, const cJSON *pv)
{
	const char *name = str(pv, "metadata.name");
	const char *policy = str(pv, "spec.persistentVolumeReclaimPolicy");
	if (!strcmp(policy, "Recycle"))
		return set_phase(ctl, "persistentvolumes", pv, "Failed", "VolumeFailedRecycle",
				 "recycling is not supported: use Delete or Retain");
	if (set_phase(ctl, "persistentvolumes", pv, "Released", NULL, NULL) < 0)
		return -1;
	if (strcmp(policy, "Delete"))
		return 0; /* Retain: the data stays until an administrator acts */
	/* the agent of the volume's node removes a provisioned volume's directory and
	 * then its finalizer; other volumes go at once */
	_cleanup_free_ char *path = mk_client_resource_path("v1", "persistentvolumes", NULL, name, NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_delete(ctl->c, path, NULL, NULL, &err) < 0 && mk_error_code(err) != 404) {
		mk_log(MK_LOG_DEBUG, COMPONENT, "delete %s: %s", path, err->msg);
		return -1;
	}
	return 0;
}

int pv_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *po = mk_informer_get(ctl->inf[CTL_PV], key);
	int r = 0;
	if (!po)
		return 0;
	const cJSON *pv = po->json;
	_cleanup_free_ char *ck = claim_key(pv);
	if (has_deletion(pv)) {
		/* kubernetes.io/pv-protection: a volume being deleted goes once it is not
		 * Bound (its claim released it) */
		bool bound = !strcmp(str(pv, "status.phase"), "Bound");
		if (bound && ck) {
			struct mk_object *co = mk_informer_get(ctl->inf[CTL_PVC], ck);
			if (!co || strcmp(str(co->json, "metadata.uid"), str(pv, "spec.claimRef.uid")))
				r = set_phase(ctl, "persistentvolumes", pv, "Released", NULL, NULL);
			mk_object_unref(co);
		} else if (mk_api_finalizer_has(pv, "kubernetes.io/pv-protection") && !bound) {
			r = drop_finalizer(ctl, "persistentvolumes", pv, "kubernetes.io/pv-protection");
		}
		goto out;
	}
	if (!ck) {
		r = set_phase(ctl, "persistentvolumes", pv, "Available", NULL, NULL);
		goto out;
	}
	const char *cuid = str(pv, "spec.claimRef.uid");
	struct mk_object *co = mk_informer_get(ctl->inf[CTL_PVC], ck);
	bool same = co && (!*cuid || !strcmp(cuid, str(co->json, "metadata.uid")));
	if (!same && *cuid) {
		/* confirm with the server before releasing: the cache may lag */
		_cleanup_free_ char *ns = NULL, *name = NULL;
		split_key(ck, &ns, &name);
		_cleanup_free_ char *path = mk_client_resource_path("v1", "persistentvolumeclaims", ns, name, NULL);
		_cleanup_cjson_ cJSON *live = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_get(ctl->c, path, &live, &err) < 0 && mk_error_code(err) != 404) {
			mk_object_unref(co);
			r = -1;
			goto out;
		}
		if (live && !strcmp(cuid, str(live, "metadata.uid"))) {
			mk_object_unref(co);
			goto out; /* still there: the cache will catch up */
		}
		r = release(ctl, pv);
	} else if (!same) {
		/* reserved for a claim that does not exist yet */
		r = set_phase(ctl, "persistentvolumes", pv, "Available", NULL, NULL);
	} else {
		const char *cvn = str(co->json, "spec.volumeName");
		if (!strcmp(cvn, str(pv, "metadata.name")))
			r = set_phase(ctl, "persistentvolumes", pv, "Bound", NULL, NULL);
		else if (*cvn && ann(pv, ANN_BOUND_BY_CONTROLLER)) {
			/* the claim took another volume: give this one back */
			_cleanup_cjson_ cJSON *p = cJSON_Parse("{\"spec\":{\"claimRef\":null}}");
			r = patch(ctl, "persistentvolumes", NULL, str(pv, "metadata.name"), NULL, p);
		} else if (!*cvn && !*cuid) {
			r = set_phase(ctl, "persistentvolumes", pv, "Available", NULL, NULL);
		}
	}
	mk_object_unref(co);
out:
	mk_object_unref(po);
	return r;
}
