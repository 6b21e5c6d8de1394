/* Storage at the API server: the built-in StorageClass "local-path" created at
 * start (as k3s ships it, the default class), and the DefaultStorageClass
 * admission step, which gives a claim created without spec.storageClassName the
 * default class (kube-apiserver's plugin/pkg/admission/storage/storageclass/setdefault). */
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/store.h"
#include "internal.h"

int mk_storage_default_class(struct mk_apiserver *srv, cJSON *pvc, struct mk_error **err)
{
	cJSON *spec = cJSON_GetObjectItemCaseSensitive(pvc, "spec");
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(spec, "storageClassName");
	struct mk_store_list l = { 0 };
	_cleanup_free_ char *best = NULL, *best_ts = NULL;

	/* "" asks for no class; only an absent class gets the default */
	if (!cJSON_IsObject(spec) || (sc && !cJSON_IsNull(sc)))
		return 0;
	if (mk_store_list(srv->store, "storageclasses", "", NULL, NULL, &l, err) < 0)
		return -1;
	/* with several defaults, the newest wins (as since Kubernetes 1.26) */
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_cjson_ cJSON *o = cJSON_Parse(l.items[i]);
		if (!o || !mk_api_storageclass_is_default(o))
			continue;
		const char *ts = mk_json_get_string(o, "metadata.creationTimestamp");
		const char *name = mk_json_get_string(o, "metadata.name");
		if (!name)
			continue;
		if (!best || (ts && best_ts && strcmp(ts, best_ts) > 0) ||
		    (ts && best_ts && !strcmp(ts, best_ts) && strcmp(name, best) < 0)) {
			free(best);
			free(best_ts);
			best = mk_strdup(name);
			best_ts = mk_strdup(ts ? ts : "");
		}
	}
	mk_store_list_release(&l);
	if (best)
		mk_json_set_string(spec, "storageClassName", best);
	return 0;
}

/* Appends finalizer f to obj's metadata.finalizers unless there. */
static void add_finalizer(cJSON *obj, const char *f)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON *fs = cJSON_GetObjectItemCaseSensitive(md, "finalizers"), *it;
	if (!cJSON_IsObject(md))
		return;
	if (!cJSON_IsArray(fs)) {
		fs = cJSON_CreateArray();
		mk_json_set(md, "finalizers", fs);
	}
	cJSON_ArrayForEach(it, fs)
		if (cJSON_IsString(it) && !strcmp(it->valuestring, f))
			return;
	cJSON_AddItemToArray(fs, cJSON_CreateString(f));
}

int mk_storage_admit(struct mk_apiserver *srv, const struct mk_api_resource *r, cJSON *obj,
		     struct mk_error **err)
{
	if (!strcmp(r->name, "persistentvolumeclaims")) {
		/* the StorageObjectInUseProtection plugin: a claim in use by a pod is
		 * removed only once no pod uses it (pkg/controller/pv.c drops it) */
		add_finalizer(obj, "kubernetes.io/pvc-protection");
		return mk_storage_default_class(srv, obj, err);
	}
	if (!strcmp(r->name, "persistentvolumes"))
		add_finalizer(obj, "kubernetes.io/pv-protection"); /* removed once not Bound */
	return 0;
}

int mk_storage_bootstrap(struct mk_apiserver *srv, struct mk_error **err)
{
	const struct mk_api_resource *r = mk_api_resource_find("storage.k8s.io", "v1", "storageclasses");
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *e = NULL;

	if (mk_store_get(srv->store, "storageclasses", "", MK_API_LOCAL_PATH_CLASS, &json, NULL, &e) == 0)
		return 0;
	if (e->code != ENOENT)
		return mk_error_set(err, e->code, "%s", e->msg);
	_cleanup_cjson_ cJSON *sc =
		mk_api_object_new("storage.k8s.io/v1", "StorageClass", NULL, MK_API_LOCAL_PATH_CLASS);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_GetObjectItem(sc, "metadata"), "annotations"),
				"storageclass.kubernetes.io/is-default-class", "true");
	cJSON_AddStringToObject(sc, "provisioner", MK_API_LOCAL_PATH_PROVISIONER);
	cJSON_AddStringToObject(sc, "reclaimPolicy", "Delete");
	cJSON_AddStringToObject(sc, "volumeBindingMode", "WaitForFirstConsumer");
	mk_api_default(r, sc);
	if (mk_store_create(srv->store, "storageclasses", "", MK_API_LOCAL_PATH_CLASS, sc, NULL,
			    NULL, err) < 0 && (*err)->code != EEXIST)
		return mk_error_wrap(err, "storage class '%s'", MK_API_LOCAL_PATH_CLASS);
	mk_error_free(err);
	return 0;
}
