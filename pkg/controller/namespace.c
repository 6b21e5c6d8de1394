/* Namespace controller: a namespace being deleted (deletionTimestamp, phase
 * Terminating, finalizer "kubernetes" in spec.finalizers) has all its content
 * deleted, collection by collection; while anything remains (objects held by
 * their own finalizers) it retries after a second; then it removes its
 * finalizer through PUT /api/v1/namespaces/NAME/finalize and the API server
 * deletes the namespace. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define RETRY_MS 1000

static void on_ns(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (new && has_deletion(new->json))
		mk_workqueue_add(ctl->ns.q, new->key);
}

void ns_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_NS], on_ns, ctl);
}

static bool has_kubernetes_finalizer(const cJSON *ns)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(ns, "spec.finalizers"))
		if (cJSON_IsString(it) && !strcmp(it->valuestring, "kubernetes"))
			return true;
	return false;
}

/* Deletes every namespaced object in ns; returns how many remain (or -1). */
static int purge(struct mk_controllers *ctl, const char *ns)
{
	size_t n;
	const struct mk_api_resource *rs = mk_api_resources(&n);
	int remaining = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rs[i].namespaced)
			continue;
		_cleanup_free_ char *path = mk_client_resource_path(rs[i].group_version, rs[i].name, ns, NULL, NULL);
		_cleanup_error_ struct mk_error *err = NULL;
		_cleanup_cjson_ cJSON *list = NULL;
		long code = delete_collection(ctl, path);
		if (code < 0 || (code >= 400 && code != 404 && code != 405))
			return -1;
		if (mk_client_get(ctl->c, path, &list, &err) < 0)
			return -1;
		remaining += cJSON_GetArraySize(cJSON_GetObjectItem(list, "items"));
	}
	return remaining;
}

static int finalize(struct mk_controllers *ctl, const cJSON *ns)
{
	_cleanup_cjson_ cJSON *body = cJSON_Duplicate(ns, 1);
	cJSON *fins = cJSON_CreateArray();
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(ns, "spec.finalizers"))
		if (cJSON_IsString(it) && strcmp(it->valuestring, "kubernetes"))
			cJSON_AddItemToArray(fins, cJSON_CreateString(it->valuestring));
	mk_json_set(mk_json_ensure_object(body, "spec"), "finalizers", fins);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "namespaces", NULL,
					     mk_json_get_string(ns, "metadata.name"), "finalize");
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_update(ctl->c, path, body, NULL, &err) < 0 && mk_error_code(err) != 404)
		return -1;
	return 0;
}

int ns_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *o = mk_informer_get(ctl->inf[CTL_NS], key);
	if (!o)
		return 0;
	int ret = 0;
	if (!has_deletion(o->json) || !has_kubernetes_finalizer(o->json))
		goto out;
	int left = purge(ctl, key);
	if (left > 0)
		mk_workqueue_add_after(ctl->ns.q, key, RETRY_MS); /* until the contents are gone */
	else
		ret = left < 0 ? -1 : finalize(ctl, o->json);
out:
	mk_object_unref(o);
	return ret;
}
