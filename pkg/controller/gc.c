/* Garbage collector: cascading deletion by ownerReferences, driven by the
 * shared informers (kube's pkg/controller/garbagecollector without its graph:
 * the "owner" index of every cache answers "who depends on uid X").
 *
 *  - dependent keys "d|<informer>|<ns/name>": an object with ownerReferences.
 *    If none of its owners exists any more (checked in the cache, then with a
 *    live GET before acting), it is deleted (background); dangling references
 *    next to live owners are removed; if every live owner is being deleted in
 *    the foreground, the dependent is deleted in the foreground too.
 *  - owner keys "o|<informer>|<ns/name>": an object being deleted
 *    (deletionTimestamp) with finalizer "orphan" (its dependents lose their
 *    reference to it, then the finalizer is removed) or "foregroundDeletion"
 *    (its dependents are deleted; once none that blocks owner deletion is
 *    left, the finalizer is removed and the API server deletes it).
 */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

/* What each shared informer lists: group/version and resource (for writes). */
static const struct {
	const char *gv, *resource;
} inf_resource[CTL_NINF] = {
	[CTL_PODS] = { "v1", "pods" },
	[CTL_NODES] = { "v1", "nodes" },
	[CTL_RS] = { "apps/v1", "replicasets" },
	[CTL_DEPLOY] = { "apps/v1", "deployments" },
	[CTL_SVC] = { "v1", "services" },
	[CTL_EP] = { "v1", "endpoints" },
	[CTL_NS] = { "v1", "namespaces" },
	[CTL_SLICE] = { "discovery.k8s.io/v1", "endpointslices" },
	[CTL_LEASE] = { "coordination.k8s.io/v1", "leases" },
	[CTL_DS] = { "apps/v1", "daemonsets" },
	[CTL_CM] = { "v1", "configmaps" },
	[CTL_SECRET] = { "v1", "secrets" },
	[CTL_JOBS] = { "batch/v1", "jobs" },
	[CTL_CRONJOBS] = { "batch/v1", "cronjobs" },
	[CTL_PV] = { "v1", "persistentvolumes" },
	[CTL_PVC] = { "v1", "persistentvolumeclaims" },
	[CTL_SC] = { "storage.k8s.io/v1", "storageclasses" },
	[CTL_STS] = { "apps/v1", "statefulsets" },
	[CTL_CR] = { "apps/v1", "controllerrevisions" },
	[CTL_CRD] = { "apiextensions.k8s.io/v1", "customresourcedefinitions" },
	[CTL_QUOTA] = { "v1", "resourcequotas" },
};

/* Informers: the CTL_* ones, then those of custom kinds (crd.c), CTL_NINF + i. */
static int ninf(struct mk_controllers *ctl)
{
	return CTL_NINF + (int)__atomic_load_n(&ctl->ndyn, __ATOMIC_ACQUIRE);
}

static struct mk_informer *inf_at(struct mk_controllers *ctl, int idx)
{
	return idx < CTL_NINF ? ctl->inf[idx] : ctl->dyn[idx - CTL_NINF].inf;
}

static const char *gv_at(struct mk_controllers *ctl, int idx)
{
	return idx < CTL_NINF ? inf_resource[idx].gv : ctl->dyn[idx - CTL_NINF].gv;
}

static const char *resource_at(struct mk_controllers *ctl, int idx)
{
	return idx < CTL_NINF ? inf_resource[idx].resource : ctl->dyn[idx - CTL_NINF].resource;
}

static int informer_for(struct mk_controllers *ctl, const struct mk_api_resource *r)
{
	int n = ninf(ctl);
	for (int i = 0; i < n; i++) {
		if (i >= CTL_NINF && ctl->dyn[i - CTL_NINF].stopped)
			continue;
		/* a custom kind's informer lists the storage version: any version's
		 * owner reference finds it by group and resource */
		if (i >= CTL_NINF && r->crd && !strcmp(resource_at(ctl, i), r->name) &&
		    !strncmp(gv_at(ctl, i), r->group, strlen(r->group)) && gv_at(ctl, i)[strlen(r->group)] == '/')
			return i;
		if (!strcmp(resource_at(ctl, i), r->name) && !strcmp(gv_at(ctl, i), r->group_version))
			return i;
	}
	return -1;
}


static void enqueue(struct mk_controllers *ctl, char t, int idx, const char *key)
{
	_cleanup_free_ char *k = mk_strdup_printf("%c|%d|%s", t, idx, key);
	mk_workqueue_add(ctl->gc.q, k);
}

/* Every owner (by uid, across the caches) of obj that is being deleted. */
static void enqueue_deleting_owners(struct mk_controllers *ctl, const cJSON *obj)
{
	const cJSON *ref;
	cJSON_ArrayForEach(ref, mk_json_get(obj, "metadata.ownerReferences"))
	{
		const char *uid = mk_json_get_string(ref, "uid");
		for (int i = 0, ni = ninf(ctl); uid && i < ni; i++) {
			struct mk_object **os;
			size_t n = mk_informer_by_index(inf_at(ctl, i), "uid", uid, &os);
			for (size_t j = 0; j < n; j++)
				if (has_deletion(os[j]->json))
					enqueue(ctl, 'o', i, os[j]->key);
			mk_object_list_free(os, n);
		}
	}
}

static void on_change(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct gc_source *src = ud;
	struct mk_controllers *ctl = src->ctl;

	if (new) {
		const cJSON *refs = mk_json_get(new->json, "metadata.ownerReferences");
		if (cJSON_GetArraySize(refs) &&
		    (!old || !cJSON_Compare(refs, mk_json_get(old->json, "metadata.ownerReferences"), 1)))
			enqueue(ctl, 'd', src->idx, new->key);
		if (has_deletion(new->json) && (mk_api_finalizer_has(new->json, "orphan") ||
						mk_api_finalizer_has(new->json, "foregroundDeletion")))
			enqueue(ctl, 'o', src->idx, new->key);
		if (old && (has_deletion(new->json) ||
			    !cJSON_Compare(refs, mk_json_get(old->json, "metadata.ownerReferences"), 1)))
			enqueue_deleting_owners(ctl, old->json);
		return;
	}
	/* deleted: its dependents may be dangling now, its owners may be done waiting */
	const char *uid = mk_json_get_string(old->json, "metadata.uid");
	for (int i = 0, ni = ninf(ctl); uid && i < ni; i++) {
		struct mk_object **deps;
		size_t n = mk_informer_by_index(inf_at(ctl, i), "owner", uid, &deps);
		for (size_t j = 0; j < n; j++)
			enqueue(ctl, 'd', i, deps[j]->key);
		mk_object_list_free(deps, n);
	}
	enqueue_deleting_owners(ctl, old->json);
}

void gc_setup(struct mk_controllers *ctl)
{
	for (int i = 0; i < CTL_NINF; i++) {
		ctl->gc_src[i].ctl = ctl;
		ctl->gc_src[i].idx = i;
		mk_informer_add_handler(ctl->inf[i], on_change, &ctl->gc_src[i]);
	}
}

void gc_watch_informer(struct mk_controllers *ctl, struct mk_informer *inf, struct gc_source *src)
{
	(void)ctl;
	mk_informer_add_handler(inf, on_change, src);
}

/* ---- writes -------------------------------------------------------------------------- */

static char *object_path(struct mk_controllers *ctl, const cJSON *obj, int idx)
{
	return mk_client_resource_path(gv_at(ctl, idx), resource_at(ctl, idx),
			mk_json_get_string(obj, "metadata.namespace"),
			mk_json_get_string(obj, "metadata.name"), NULL);
}

static int delete_obj(struct mk_controllers *ctl, const cJSON *obj, int idx, const char *policy)
{
	_cleanup_free_ char *path = object_path(ctl, obj, idx);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_delete(ctl->c, path, policy, NULL, &err) < 0 && mk_error_code(err) != 404)
		return -1;
	return 0;
}

/* Patches obj (of informer idx) with patch of type content_type; gone already is fine. */
static int patch_object(struct mk_controllers *ctl, const cJSON *obj, int idx,
			const char *content_type, const cJSON *patch)
{
	_cleanup_free_ char *path = object_path(ctl, obj, idx);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, content_type, patch, NULL, &err) < 0 &&
	    mk_error_code(err) != 404)
		return -1;
	return 0;
}

/* Removes the ownerReferences with the given uids (n of them). */
static int remove_refs(struct mk_controllers *ctl, const cJSON *obj, int idx, const char **uids,
		       size_t n)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
	if (idx >= CTL_NINF) {
		/* custom kinds take no strategic merge patch: the remaining list, as a
		 * compare-and-swap on the resourceVersion */
		const cJSON *r;
		cJSON_AddStringToObject(md, "resourceVersion", mk_json_get_string(obj, "metadata.resourceVersion"));
		cJSON_ArrayForEach(r, mk_json_get(obj, "metadata.ownerReferences"))
		{
			bool drop = false;
			for (size_t i = 0; i < n; i++)
				drop |= mk_json_get_string(r, "uid") && !strcmp(mk_json_get_string(r, "uid"), uids[i]);
			if (!drop)
				cJSON_AddItemToArray(refs, cJSON_Duplicate(r, 1));
		}
		_cleanup_free_ char *path = object_path(ctl, obj, idx);
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, NULL, &err) < 0 &&
		    mk_error_code(err) != 404)
			return -1;
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "$patch", "delete");
		cJSON_AddStringToObject(d, "uid", uids[i]);
		cJSON_AddItemToArray(refs, d);
	}
	return patch_object(ctl, obj, idx, "application/strategic-merge-patch+json", patch);
}

static int remove_finalizer(struct mk_controllers *ctl, const cJSON *obj, int idx, const char *f)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
	/* the resourceVersion makes this a compare-and-swap of the finalizer list */
	cJSON_AddStringToObject(md, "resourceVersion", mk_json_get_string(obj, "metadata.resourceVersion"));
	cJSON *list = cJSON_AddArrayToObject(md, "finalizers");
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(obj, "metadata.finalizers"))
		if (cJSON_IsString(it) && strcmp(it->valuestring, f))
			cJSON_AddItemToArray(list, cJSON_CreateString(it->valuestring));
	return patch_object(ctl, obj, idx, "application/merge-patch+json", patch);
}

/* ---- owners ------------------------------------------------------------------------------ */

enum owner_state { OWNER_GONE, OWNER_ALIVE, OWNER_FOREGROUND };

static enum owner_state owner_state(struct mk_controllers *ctl, const cJSON *dep, const cJSON *ref,
				    int *err_out)
{
	const char *uid = mk_json_get_string(ref, "uid");
	const struct mk_api_resource *r = mk_api_resource_by_kind(mk_json_get_string(ref, "apiVersion"),
								  mk_json_get_string(ref, "kind"));
	if (!r || !uid)
		return OWNER_ALIVE; /* a kind we do not serve: never collect on its account */
	int idx = informer_for(ctl, r);
	_cleanup_cjson_ cJSON *live = NULL;
	const cJSON *owner = NULL;
	struct mk_object *o = NULL;
	if (idx >= 0) {
		struct mk_object **os;
		size_t n = mk_informer_by_index(inf_at(ctl, idx), "uid", uid, &os);
		if (n)
			o = mk_object_ref(os[0]);
		mk_object_list_free(os, n);
	}
	if (o) {
		owner = o->json;
	} else {
		/* absent from the cache, which may lag: ask the API server */
		_cleanup_error_ struct mk_error *err = NULL;
		_cleanup_free_ char *path = mk_client_resource_path(r->group_version, r->name,
						     r->namespaced ? mk_json_get_string(dep, "metadata.namespace") : NULL,
						     mk_json_get_string(ref, "name"), NULL);
		if (mk_client_get(ctl->c, path, &live, &err) < 0) {
			if (mk_error_code(err) == 404)
				return OWNER_GONE;
			*err_out = 1;
			return OWNER_ALIVE;
		}
		const char *luid = mk_json_get_string(live, "metadata.uid");
		if (!luid || strcmp(luid, uid))
			return OWNER_GONE;
		owner = live;
	}
	enum owner_state st = has_deletion(owner) && mk_api_finalizer_has(owner, "foregroundDeletion")
				      ? OWNER_FOREGROUND
				      : OWNER_ALIVE;
	mk_object_unref(o);
	return st;
}

/* obj (of informer idx) has ownerReferences: delete it when its owners are gone
 * (Background) or all deleting in the foreground, or drop the references gone. */
static int sync_dependent(struct mk_controllers *ctl, int idx, const cJSON *obj)
{
	const cJSON *refs = mk_json_get(obj, "metadata.ownerReferences"), *ref;
	size_t n = (size_t)cJSON_GetArraySize(refs), ngone = 0, nalive = 0, nfg = 0;
	const char **gone = mk_malloc0((n + 1) * sizeof(char *));
	int fail = 0, ret = 0;

	cJSON_ArrayForEach(ref, refs)
	{
		switch (owner_state(ctl, obj, ref, &fail)) {
		case OWNER_GONE:
			gone[ngone++] = mk_json_get_string(ref, "uid");
			break;
		case OWNER_FOREGROUND:
			nfg++;
			break;
		default:
			nalive++;
		}
	}
	if (fail)
		ret = -1;
	else if (n && ngone == n && !has_deletion(obj))
		ret = delete_obj(ctl, obj, idx, "Background");
	else if (n && nalive == 0 && nfg > 0 && !has_deletion(obj))
		ret = delete_obj(ctl, obj, idx, "Foreground");
	else if (ngone && nalive + nfg > 0)
		ret = remove_refs(ctl, obj, idx, gone, ngone);
	free(gone);
	return ret;
}

/* obj (of informer idx) is being deleted with the orphan or foregroundDeletion
 * finalizer: orphan or delete its dependents, then drop the finalizer. */
static int sync_owner(struct mk_controllers *ctl, int idx, const cJSON *obj)
{
	const char *uid = mk_json_get_string(obj, "metadata.uid");
	int ret = 0;
	if (!has_deletion(obj) || !uid)
		return 0;
	bool orphan = mk_api_finalizer_has(obj, "orphan");
	bool fg = mk_api_finalizer_has(obj, "foregroundDeletion");
	size_t blocking = 0;
	for (int i = 0, ni = ninf(ctl); i < ni; i++) {
		struct mk_object **deps;
		size_t n = mk_informer_by_index(inf_at(ctl, i), "owner", uid, &deps);
		for (size_t j = 0; j < n; j++) {
			const cJSON *dep = deps[j]->json;
			if (orphan) {
				if (remove_refs(ctl, dep, i, &uid, 1) < 0)
					ret = -1;
				continue;
			}
			if (!fg)
				continue;
			const cJSON *ref;
			bool blocks = false;
			cJSON_ArrayForEach(ref, mk_json_get(dep, "metadata.ownerReferences"))
			{
				const char *ru = mk_json_get_string(ref, "uid");
				if (ru && !strcmp(ru, uid) &&
				    cJSON_IsTrue(cJSON_GetObjectItem(ref, "blockOwnerDeletion")))
					blocks = true;
			}
			if (blocks)
				blocking++;
			if (!has_deletion(dep) && delete_obj(ctl, dep, i, "Foreground") < 0)
				ret = -1;
		}
		mk_object_list_free(deps, n);
	}
	if (ret < 0)
		return ret;
	if (orphan)
		return remove_finalizer(ctl, obj, idx, "orphan");
	if (fg && blocking == 0)
		return remove_finalizer(ctl, obj, idx, "foregroundDeletion");
	return 0;
}

int gc_sync(struct mk_controllers *ctl, const char *key)
{
	char t;
	int idx, off = 0;
	if (sscanf(key, "%c|%d|%n", &t, &idx, &off) < 2 || !off || idx < 0 || idx >= ninf(ctl))
		return 0;
	struct mk_object *o = mk_informer_get(inf_at(ctl, idx), key + off);
	if (!o)
		return 0;
	int r = t == 'd' ? sync_dependent(ctl, idx, o->json) : sync_owner(ctl, idx, o->json);
	mk_object_unref(o);
	return r;
}
