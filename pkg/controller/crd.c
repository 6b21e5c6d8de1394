/* CustomResourceDefinition cleanup, as kube-apiextensions' finalizer controller:
 * a definition being deleted (deletionTimestamp) that still carries the
 * customresourcecleanup.apiextensions.k8s.io finalizer has every object of its
 * kind deleted (across namespaces, through the API, so the objects' own
 * finalizers and the garbage collector act as for any delete); while some remain
 * it looks again after a second; then it drops its finalizer and the API server
 * deletes the definition, which stops the kind being served. The API server sets
 * the Terminating condition (pkg/apiserver/crds.c). */
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
	if (new && has_deletion(new->json) && has_cleanup_finalizer(new->json))
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
	_cleanup_free_ char *dpath = mk_strdup_printf("%s?propagationPolicy=Background", path);
	struct mk_client_request req = { .method = "DELETE", .path = dpath };
	struct mk_client_response res = { 0 };
	if (mk_client_do(ctl->c, &req, &res, &err) < 0)
		return -1;
	long code = res.code;
	mk_client_response_release(&res);
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

int crd_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *o = mk_informer_get(ctl->inf[CTL_CRD], key);
	int ret = 0;
	if (!o)
		return 0;
	if (!has_deletion(o->json) || !has_cleanup_finalizer(o->json))
		goto out;
	int left = purge(ctl, o->json);
	if (left < 0) {
		ret = -1;
		goto out;
	}
	if (left > 0) {
		mk_workqueue_add_after(ctl->crd.q, key, RETRY_MS);
		goto out;
	}
	ret = finalize(ctl, o->json);
out:
	mk_object_unref(o);
	return ret;
}
