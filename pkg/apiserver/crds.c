/* CustomResourceDefinitions in the API server: what kube-apiextensions-apiserver's
 * naming, establishing and finalizer controllers do, done synchronously with the
 * write of a definition so the new kind is served by the very next request.
 * Deleting a definition's objects (the customresourcecleanup finalizer) is the
 * controller manager's job (pkg/controller/crd.c), through the API. */
#include <errno.h>
#include <string.h>
#include "internal.h"

static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

/* Every stored definition, parsed (owned array of owned trees). */
static int load_all(struct mk_apiserver *srv, cJSON ***ret, size_t *ret_n, struct mk_error **err)
{
	*ret = mk_stored_objects_load(srv, "customresourcedefinitions", "", ret_n, err);
	return *ret ? 0 : -1;
}

/* The definitions older than crd (creation time, then name): they win a name
 * conflict, as in kube's naming controller. */
static size_t older_than(cJSON *const *all, size_t n, const cJSON *crd, cJSON **out)
{
	const char *ts = mk_json_get_string(crd, "metadata.creationTimestamp");
	const char *name = mk_json_get_string(crd, "metadata.name");
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *ots = mk_json_get_string(all[i], "metadata.creationTimestamp");
		const char *on = mk_json_get_string(all[i], "metadata.name");
		if (!ots || !on || (name && !strcmp(on, name)))
			continue;
		int c = ts ? strcmp(ots, ts) : -1;
		if (c < 0 || (c == 0 && name && strcmp(on, name) < 0))
			out[k++] = all[i];
	}
	return k;
}

void mk_crds_prepare(struct mk_apiserver *srv, cJSON *crd, bool create)
{
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON **all = NULL;
	size_t n = 0;

	if (create) {
		cJSON *md = mk_json_ensure_object(crd, "metadata");
		cJSON *fs = cJSON_GetObjectItem(md, "finalizers");
		const cJSON *it;
		bool have = false;
		if (!cJSON_IsArray(fs)) {
			fs = cJSON_CreateArray();
			mk_json_set(md, "finalizers", fs);
		}
		cJSON_ArrayForEach(it, fs)
			have |= cJSON_IsString(it) && !strcmp(it->valuestring, MK_API_CRD_CLEANUP_FINALIZER);
		if (!have)
			cJSON_AddItemToArray(fs, cJSON_CreateString(MK_API_CRD_CLEANUP_FINALIZER));
	}
	if (load_all(srv, &all, &n, &err) < 0)
		return; /* the sync after the write computes it */
	cJSON **older = mk_malloc0(sizeof(*older) * (n + 1));
	size_t k = older_than(all, n, crd, older);
	mk_api_crd_status(crd, older, k);
	free(older);
	mk_stored_objects_free(all, n);
}

int mk_crds_sync(struct mk_apiserver *srv, struct mk_error **err)
{
	cJSON **all = NULL;
	size_t n = 0;

	pthread_mutex_lock(&sync_lock);
	if (load_all(srv, &all, &n, err) < 0) {
		pthread_mutex_unlock(&sync_lock);
		return -1;
	}
	cJSON **older = mk_malloc0(sizeof(*older) * (n + 1));
	for (size_t i = 0; i < n; i++) {
		_cleanup_cjson_ cJSON *want = cJSON_Duplicate(all[i], 1);
		size_t k = older_than(all, n, all[i], older);
		mk_api_crd_status(want, older, k);
		if (cJSON_Compare(want, all[i], 1))
			continue;
		/* a conflict here means someone else wrote it: their write syncs again */
		_cleanup_error_ struct mk_error *e = NULL;
		uint64_t rv = strtoull(mk_json_get_string(all[i], "metadata.resourceVersion") ?: "0", NULL, 10);
		if (mk_store_update(srv->store, "customresourcedefinitions", "",
				    mk_json_get_string(all[i], "metadata.name"), rv, want, NULL, NULL,
				    &e) == 0) {
			cJSON_Delete(all[i]);
			all[i] = TAKE_PTR(want);
		}
	}
	free(older);
	mk_api_crd_registry_set(all, n);
	mk_stored_objects_free(all, n);
	pthread_mutex_unlock(&sync_lock);
	return 0;
}
