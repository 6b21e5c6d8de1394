/* CustomResourceDefinition cleanup, as kube-apiextensions' finalizer controller:
 * a definition being deleted (deletionTimestamp) that still carries the
 * customresourcecleanup.apiextensions.k8s.io finalizer has every object of its
 * kind deleted (across namespaces, through the API, so the objects' own
 * finalizers and the garbage collector act as for any delete); while some remain
 * it looks again after a second; then it drops its finalizer and the API server
 * deletes the definition, which stops the kind being served. The API server sets
 * the Terminating condition (pkg/apiserver/crds.c).
 *
 * It also gives the garbage collector an informer per established definition
 * (its storage version, across namespaces), so custom objects are collected by
 * their ownerReferences and can own objects, as kinds known at build time. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define RETRY_MS 1000

static bool has_cleanup_finalizer(const cJSON *crd)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(crd, "metadata.finalizers"))
		if (cJSON_IsString(it) && !strcmp(it->valuestring, MK_API_CRD_CLEANUP_FINALIZER))
			return true;
	return false;
}

static void on_crd(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	(void)old;
	if (new)
		mk_workqueue_add(ctl->crd.q, new->key);
}

void crd_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_CRD], on_crd, ctl);
}

/* The storage version of the definition (its objects are listed there). */
static const char *storage_version(const cJSON *crd)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, mk_json_get(crd, "spec.versions"))
		if (cJSON_IsTrue(cJSON_GetObjectItem(v, "storage")))
			return mk_json_get_string(v, "name");
	return NULL;
}

/* Deletes every object of the kind; how many remain (-1 on error). */
static int purge(struct mk_controllers *ctl, const cJSON *crd)
{
	const char *group = mk_json_get_string(crd, "spec.group");
	const char *plural = mk_json_get_string(crd, "status.acceptedNames.plural");
	const char *ver = storage_version(crd);
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_cjson_ cJSON *list = NULL;

	if (!group || !plural || !*plural || !ver)
		return 0; /* never served: nothing can exist */
	_cleanup_free_ char *gv = mk_strdup_printf("%s/%s", group, ver);
	_cleanup_free_ char *path = mk_client_resource_path(gv, plural, NULL, NULL, NULL);
	long code = delete_collection(ctl, path);
	if (code < 0)
		return -1;
	if (code == 404) /* no longer served */
		return 0;
	if (code >= 400)
		return -1;
	if (mk_client_get(ctl->c, path, &list, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	return cJSON_GetArraySize(cJSON_GetObjectItem(list, "items"));
}

static int finalize(struct mk_controllers *ctl, const cJSON *crd)
{
	_cleanup_cjson_ cJSON *body = cJSON_Duplicate(crd, 1);
	cJSON *fins = cJSON_CreateArray();
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(crd, "metadata.finalizers"))
		if (cJSON_IsString(it) && strcmp(it->valuestring, MK_API_CRD_CLEANUP_FINALIZER))
			cJSON_AddItemToArray(fins, cJSON_CreateString(it->valuestring));
	mk_json_set(mk_json_ensure_object(body, "metadata"), "finalizers", fins);
	_cleanup_free_ char *path = mk_client_resource_path(
		"apiextensions.k8s.io/v1", "customresourcedefinitions", NULL,
		mk_json_get_string(crd, "metadata.name"), NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_update(ctl->c, path, body, NULL, &err) < 0 && mk_error_code(err) != 404)
		return -1;
	return 0;
}

static bool established(const cJSON *crd)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(crd, "status.conditions"))
	{
		const char *t = mk_json_get_string(c, "type"), *st = mk_json_get_string(c, "status");
		if (t && st && !strcmp(t, "Established"))
			return !strcmp(st, "True");
	}
	return false;
}

/* The dynamic informer of the definition (by uid), made and started if needed;
 * with stop, the existing one is stopped instead. */
static void dyn_informer(struct mk_controllers *ctl, const cJSON *crd, bool stop)
{
	const char *uid = mk_json_get_string(crd, "metadata.uid");
	const char *group = mk_json_get_string(crd, "spec.group");
	const char *plural = mk_json_get_string(crd, "status.acceptedNames.plural");
	const char *ver = storage_version(crd);
	const char *scope = mk_json_get_string(crd, "spec.scope");

	if (!uid || !group || !plural || !*plural || !ver)
		return;
	pthread_mutex_lock(&ctl->dyn_mu);
	for (size_t i = 0; i < ctl->ndyn; i++) {
		if (strcmp(ctl->dyn[i].crd_uid, uid))
			continue;
		if (stop && !ctl->dyn[i].stopped) {
			ctl->dyn[i].stopped = true;
			mk_informer_stop(ctl->dyn[i].inf);
		}
		pthread_mutex_unlock(&ctl->dyn_mu);
		return;
	}
	if (stop || ctl->ndyn == CTL_MAX_DYN) {
		if (!stop)
			mk_log(MK_LOG_WARN, "controllers",
			       "garbage collector: more than %d custom kinds, '%s.%s' not watched",
			       CTL_MAX_DYN, plural, group);
		pthread_mutex_unlock(&ctl->dyn_mu);
		return;
	}
	size_t i = ctl->ndyn;
	struct ctl_dyn_informer *d = &ctl->dyn[i];
	d->gv = mk_strdup_printf("%s/%s", group, ver);
	d->resource = mk_strdup(plural);
	d->crd_uid = mk_strdup(uid);
	d->namespaced = scope && !strcmp(scope, "Namespaced");
	_cleanup_free_ char *path = mk_client_resource_path(d->gv, d->resource, NULL, NULL, NULL);
	d->inf = mk_informer_new(ctl->c, path);
	mk_informer_strip_managed_fields(d->inf);
	mk_informer_share_strings(d->inf);
	mk_informer_add_index(d->inf, "uid", mk_index_uid);
	mk_informer_add_index(d->inf, "owner", mk_index_owner_uid);
	mk_informer_add_index(d->inf, "ns", mk_index_namespace);
	ctl->dyn_src[i].ctl = ctl;
	ctl->dyn_src[i].idx = CTL_NINF + (int)i;
	gc_watch_informer(ctl, d->inf, &ctl->dyn_src[i]);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_informer_start(d->inf, &err) < 0)
		mk_log(MK_LOG_WARN, "controllers", "informer of %s: %s", path, err->msg);
	/* published once complete: the garbage collector reads the count */
	__atomic_store_n(&ctl->ndyn, i + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ctl->dyn_mu);
}

int crd_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *o = mk_informer_get(ctl->inf[CTL_CRD], key);
	int ret = 0;
	if (!o)
		return 0;
	if (!has_deletion(o->json) && established(o->json))
		dyn_informer(ctl, o->json, false);
	if (!has_deletion(o->json) || !has_cleanup_finalizer(o->json))
		goto out;
	int left = purge(ctl, o->json);
	if (left > 0) {
		mk_workqueue_add_after(ctl->crd.q, key, RETRY_MS); /* until the objects are gone */
	} else if (left < 0) {
		ret = -1;
	} else {
		ret = finalize(ctl, o->json);
		if (ret == 0)
			dyn_informer(ctl, o->json, true);
	}
out:
	mk_object_unref(o);
	return ret;
}
