/* Informer: list + watch into an indexed cache, with handlers (client-go's
 * SharedIndexInformer, one thread per informer). */
#include <errno.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include "minik8s/api.h"
#include "minik8s/client.h"

#define MAX_INDEXES 8
#define MAX_HANDLERS 32
#define MAX_INDEX_VALUES 16
#define WATCH_TIMEOUT_S 300

struct index {
	char *name;
	mk_informer_index_fn fn;
	struct mk_hmap values; /* value -> struct mk_hmap * (set of keys) */
};

struct handler {
	mk_informer_handler_fn fn;
	void *userdata;
};

struct mk_informer {
	struct mk_client *c;
	char *path;
	pthread_mutex_t mu; /* guards items, indexes, synced, stopping */
	pthread_cond_t cond;
	struct mk_hmap items; /* key -> struct mk_object * */
	struct index idx[MAX_INDEXES];
	int nidx;
	struct handler h[MAX_HANDLERS];
	int nh;
	bool synced, stopping, started, joined;
	bool strip_managed; /* metadata.managedFields dropped from cached objects */
	bool share_strings; /* keys and short values of cached objects interned */
	pthread_t thread;
	struct mk_client_watch *w;
};

/* ---- objects -------------------------------------------------------------- */

/* Shared strings of cached trees (mk_informer_share_strings): one process-wide
 * table, never freed (copies of cached trees keep pointing at its keys), bounded
 * in entries so that unique values cannot grow it without end. */
#define INTERN_MAX_ENTRIES 65536
#define INTERN_MAX_VALUE 16
static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mk_hmap intern_tab;
static bool intern_ready;

static char *intern(const char *s)
{
	char *r = NULL;
	pthread_mutex_lock(&intern_mu);
	if (!intern_ready) {
		mk_hmap_init(&intern_tab);
		intern_ready = true;
	}
	struct mk_hmap_entry *e = mk_hmap_find(&intern_tab, s);
	if (!e && intern_tab.n < INTERN_MAX_ENTRIES) {
		mk_hmap_put(&intern_tab, s, (void *)1);
		e = mk_hmap_find(&intern_tab, s);
	}
	if (e)
		r = e->key;
	pthread_mutex_unlock(&intern_mu);
	return r;
}

/* Every member name, and every string value of at most INTERN_MAX_VALUE bytes,
 * of the immutable tree o becomes a pointer into the table, flagged so that
 * cJSON_Delete does not free it (cJSON_StringIsConst for names, cJSON_IsReference
 * for values; cJSON_Duplicate makes owned copies of the values). A pod's tree is
 * ~150 names and ~60 short values: each was a malloc of its own. */
static void share_strings(cJSON *o)
{
	for (cJSON *it = o; it; it = it->next) {
		char *p;
		if (it->string && !(it->type & cJSON_StringIsConst) && (p = intern(it->string))) {
			cJSON_free(it->string);
			it->string = p;
			it->type |= cJSON_StringIsConst;
		}
		if (cJSON_IsString(it) && !(it->type & cJSON_IsReference) && it->valuestring &&
		    strlen(it->valuestring) <= INTERN_MAX_VALUE && (p = intern(it->valuestring))) {
			cJSON_free(it->valuestring);
			it->valuestring = p;
			it->type |= cJSON_IsReference;
		}
		if (it->child && !(it->type & cJSON_IsReference))
			share_strings(it->child);
	}
}

static struct mk_object *object_new(cJSON *json)
{
	struct mk_object *o = mk_malloc0(sizeof(*o));
	o->json = json;
	o->key = mk_object_key(json);
	o->refs = 1;
	return o;
}

struct mk_object *mk_object_ref(struct mk_object *o)
{
	if (o)
		__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
	return o;
}

void mk_object_unref(struct mk_object *o)
{
	if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	cJSON_Delete(o->json);
	free(o->key);
	free(o);
}

void mk_object_list_free(struct mk_object **objs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mk_object_unref(objs[i]);
	free(objs);
}

char *mk_object_key(const cJSON *obj)
{
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (ns && *ns)
		return mk_strdup_printf("%s/%s", ns, name ? name : "");
	return mk_strdup(name ? name : "");
}

static uint64_t obj_rv(const cJSON *obj)
{
	const char *s = mk_json_get_string(obj, "metadata.resourceVersion");
	return s ? strtoull(s, NULL, 10) : 0;
}

/* ---- index functions ------------------------------------------------------------ */

static int one(char **values, int max, const char *v)
{
	if (!v || max < 1)
		return 0;
	values[0] = mk_strdup(v);
	return 1;
}

int mk_index_namespace(const cJSON *obj, char **values, int max)
{
	return one(values, max, mk_json_get_string(obj, "metadata.namespace"));
}

int mk_index_uid(const cJSON *obj, char **values, int max)
{
	return one(values, max, mk_json_get_string(obj, "metadata.uid"));
}

int mk_index_owner_uid(const cJSON *obj, char **values, int max)
{
	int n = 0;
	const cJSON *r;
	cJSON_ArrayForEach(r, mk_json_get(obj, "metadata.ownerReferences"))
	{
		const char *uid = mk_json_get_string(r, "uid");
		if (uid && n < max)
			values[n++] = mk_strdup(uid);
	}
	return n;
}

int mk_index_controller_uid(const cJSON *obj, char **values, int max)
{
	const cJSON *r = mk_api_controller_ref(obj);
	return r ? one(values, max, mk_json_get_string(r, "uid")) : 0;
}

int mk_index_pod_node(const cJSON *obj, char **values, int max)
{
	const char *n = mk_json_get_string(obj, "spec.nodeName");
	return one(values, max, n ? n : "");
}

/* ---- cache ------------------------------------------------------------------------ */

static void free_keyset(void *p)
{
	struct mk_hmap *s = p;
	mk_hmap_release(s, NULL);
	free(s);
}

static void index_update(struct mk_informer *inf, const char *key, const cJSON *old,
			 const cJSON *new)
{
	for (int i = 0; i < inf->nidx; i++) {
		struct index *ix = &inf->idx[i];
		char *ov[MAX_INDEX_VALUES], *nv[MAX_INDEX_VALUES];
		int on = old ? ix->fn(old, ov, MAX_INDEX_VALUES) : 0;
		int nn = new ? ix->fn(new, nv, MAX_INDEX_VALUES) : 0;
		for (int j = 0; j < on; j++) {
			struct mk_hmap *set = mk_hmap_get(&ix->values, ov[j]);
			if (set) {
				mk_hmap_del(set, key);
				if (!set->n)
					free_keyset(mk_hmap_del(&ix->values, ov[j]));
			}
			free(ov[j]);
		}
		for (int j = 0; j < nn; j++) {
			struct mk_hmap *set = mk_hmap_get(&ix->values, nv[j]);
			if (!set) {
				set = mk_malloc0(sizeof(*set));
				mk_hmap_put(&ix->values, nv[j], set);
			}
			mk_hmap_put(set, key, (void *)1);
			free(nv[j]);
		}
	}
}

/* Stores obj (moved in). Returns the previous object (a ref the caller drops) and
 * *ret_new (borrowed ref held by the cache; caller gets its own ref), or sets
 * *ret_skip when obj is not newer than the cached version. Caller holds mu. */
static struct mk_object *cache_put(struct mk_informer *inf, cJSON *json, struct mk_object **ret_new,
				   bool *ret_skip)
{
	struct mk_object *o = object_new(json);
	struct mk_object *old = mk_hmap_get(&inf->items, o->key);
	uint64_t nrv = obj_rv(json);
	*ret_skip = false;
	if (old && nrv && obj_rv(old->json) >= nrv) {
		*ret_skip = true;
		mk_object_unref(o);
		*ret_new = NULL;
		return NULL;
	}
	mk_hmap_put(&inf->items, o->key, o);
	index_update(inf, o->key, old ? old->json : NULL, json);
	*ret_new = mk_object_ref(o);
	return old;
}

static struct mk_object *cache_del(struct mk_informer *inf, const char *key)
{
	struct mk_object *old = mk_hmap_del(&inf->items, key);
	if (old)
		index_update(inf, key, old->json, NULL);
	return old;
}

static void dispatch(struct mk_informer *inf, const struct mk_object *old,
		     const struct mk_object *new)
{
	for (int i = 0; i < inf->nh; i++)
		inf->h[i].fn(old, new, inf->h[i].userdata);
}

/* Upserts obj (moved in) and runs handlers. */
static void upsert(struct mk_informer *inf, cJSON *obj)
{
	struct mk_object *nw = NULL, *old;
	bool skip;

	if (inf->strip_managed)
		cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
							"managedFields");
	if (inf->share_strings && obj)
		share_strings(obj->child);
	pthread_mutex_lock(&inf->mu);
	old = cache_put(inf, obj, &nw, &skip);
	pthread_mutex_unlock(&inf->mu);
	if (skip)
		return;
	dispatch(inf, old, nw);
	mk_object_unref(old);
	mk_object_unref(nw);
}

static void remove_key(struct mk_informer *inf, const char *key)
{
	pthread_mutex_lock(&inf->mu);
	struct mk_object *old = cache_del(inf, key);
	pthread_mutex_unlock(&inf->mu);
	if (old) {
		dispatch(inf, old, NULL);
		mk_object_unref(old);
	}
}

void mk_informer_strip_managed_fields(struct mk_informer *inf)
{
	inf->strip_managed = true;
}

void mk_informer_share_strings(struct mk_informer *inf)
{
	inf->share_strings = true;
}

void mk_informer_assume(struct mk_informer *inf, const cJSON *obj)
{
	if (obj && mk_json_get_string(obj, "metadata.name"))
		upsert(inf, cJSON_Duplicate(obj, 1));
}

/* ---- the thread ------------------------------------------------------------------- */

static int on_event(const char *type, const cJSON *object, void *userdata)
{
	struct mk_informer *inf = userdata;
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")) {
		/* the decoded event's object becomes the cached one: no copy */
		cJSON *own = mk_client_watch_take_object(inf->w);
		upsert(inf, own ? own : cJSON_Duplicate(object, 1));
	} else if (!strcmp(type, "DELETED")) {
		_cleanup_free_ char *key = mk_object_key(object);
		remove_key(inf, key);
	}
	return 0;
}

/* Lists and replaces the cache; *ret_rv owned. */
static int relist(struct mk_informer *inf, char **ret_rv, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *list = NULL;
	if (mk_client_get(inf->c, inf->path, &list, err) < 0)
		return -1;
	const char *rv = mk_json_get_string(list, "metadata.resourceVersion");
	cJSON *items = cJSON_GetObjectItem(list, "items"), *it;
	struct mk_hmap seen;
	mk_hmap_init(&seen);
	cJSON_ArrayForEach(it, items)
	{
		_cleanup_free_ char *key = mk_object_key(it);
		mk_hmap_put(&seen, key, (void *)1);
	}
	/* deletes first: objects gone while the watch was down */
	char **gone = NULL;
	size_t ngone = 0;
	pthread_mutex_lock(&inf->mu);
	struct mk_hmap_iter iter = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	if (inf->items.n) {
		gone = mk_malloc0(inf->items.n * sizeof(char *));
		while ((e = mk_hmap_iter_next(&inf->items, &iter)))
			if (!mk_hmap_has(&seen, e->key))
				gone[ngone++] = mk_strdup(e->key);
	}
	pthread_mutex_unlock(&inf->mu);
	mk_hmap_release(&seen, NULL);
	for (size_t i = 0; i < ngone; i++) {
		remove_key(inf, gone[i]);
		free(gone[i]);
	}
	free(gone);
	while (cJSON_GetArraySize(items) > 0)
		upsert(inf, cJSON_DetachItemFromArray(items, 0));
	*ret_rv = mk_strdup(rv ? rv : "");
	return 0;
}

static bool wait_stop(struct mk_informer *inf, uint64_t ms)
{
	struct timespec ts;
	mk_time_mono_deadline(&ts, ms);
	pthread_mutex_lock(&inf->mu);
	while (!inf->stopping) {
		if (pthread_cond_timedwait(&inf->cond, &inf->mu, &ts) == ETIMEDOUT)
			break;
	}
	bool s = inf->stopping;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

static bool stopping(struct mk_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	bool s = inf->stopping;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

static void *informer_main(void *arg)
{
	struct mk_informer *inf = arg;
	char *rv = NULL;
	uint64_t backoff = 100;

	while (!stopping(inf)) {
		_cleanup_error_ struct mk_error *err = NULL;
		if (!rv) {
			if (relist(inf, &rv, &err) < 0) {
				mk_log(MK_LOG_DEBUG, "informer", "list '%s': %s", inf->path, err->msg);
				if (wait_stop(inf, backoff))
					break;
				backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
				continue;
			}
			pthread_mutex_lock(&inf->mu);
			inf->synced = true;
			pthread_cond_broadcast(&inf->cond);
			pthread_mutex_unlock(&inf->mu);
		}
		int r = mk_client_watch_run(inf->c, inf->w, inf->path, rv, WATCH_TIMEOUT_S, NULL,
					    on_event, inf, &err);
		if (stopping(inf))
			break;
		const char *wrv = mk_client_watch_resource_version(inf->w);
		if (wrv && *wrv && strcmp(wrv, rv)) {
			free(rv);
			rv = mk_strdup(wrv);
		}
		if (r == 0) {
			backoff = 100;
			continue;
		}
		if (mk_error_code(err) == 410 || mk_error_code(err) == ERANGE) {
			/* too old: start over from a fresh list */
			free(rv);
			rv = NULL;
			continue;
		}
		mk_log(MK_LOG_DEBUG, "informer", "watch '%s': %s", inf->path, err ? err->msg : "?");
		if (mk_error_code(err) >= 400) {
			/* an ERROR event or an error status: the stream's position is not
			 * trustworthy, start over from a list (after the backoff) */
			free(rv);
			rv = NULL;
		}
		if (wait_stop(inf, backoff))
			break;
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
	free(rv);
	return NULL;
}

/* ---- public ------------------------------------------------------------------------ */

struct mk_informer *mk_informer_new(struct mk_client *c, const char *path)
{
	struct mk_informer *inf = mk_malloc0(sizeof(*inf));
	inf->c = c;
	inf->path = mk_strdup(path);
	pthread_mutex_init(&inf->mu, NULL);
	mk_time_cond_init(&inf->cond);
	mk_hmap_init(&inf->items);
	inf->w = mk_client_watch_new();
	return inf;
}

void mk_informer_add_index(struct mk_informer *inf, const char *name, mk_informer_index_fn fn)
{
	if (inf->nidx == MAX_INDEXES || inf->started)
		abort();
	inf->idx[inf->nidx].name = mk_strdup(name);
	inf->idx[inf->nidx].fn = fn;
	mk_hmap_init(&inf->idx[inf->nidx].values);
	inf->nidx++;
}

void mk_informer_add_handler(struct mk_informer *inf, mk_informer_handler_fn fn, void *userdata)
{
	if (inf->nh == MAX_HANDLERS || inf->started)
		abort();
	inf->h[inf->nh].fn = fn;
	inf->h[inf->nh].userdata = userdata;
	inf->nh++;
}

int mk_informer_start(struct mk_informer *inf, struct mk_error **err)
{
	int r = pthread_create(&inf->thread, NULL, informer_main, inf);
	if (r)
		return mk_error_errno(err, r, "informer '%s': thread", inf->path);
	inf->started = true;
	return 0;
}

int mk_informer_wait_synced(struct mk_informer *inf, int timeout_ms)
{
	struct timespec ts;
	mk_time_mono_deadline(&ts, timeout_ms < 0 ? 0 : (uint64_t)timeout_ms);
	pthread_mutex_lock(&inf->mu);
	while (!inf->synced && !inf->stopping) {
		if (pthread_cond_timedwait(&inf->cond, &inf->mu, &ts) == ETIMEDOUT)
			break;
	}
	int s = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

bool mk_informer_has_synced(struct mk_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	bool s = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return s;
}

void mk_informer_stop(struct mk_informer *inf)
{
	if (!inf)
		return;
	mk_client_stop_signal(&inf->mu, &inf->cond, &inf->stopping);
	mk_client_watch_cancel(inf->w);
	if (inf->started && !inf->joined) {
		pthread_join(inf->thread, NULL);
		inf->joined = true;
	}
}

static void unref_val(void *p)
{
	mk_object_unref(p);
}

void mk_informer_free(struct mk_informer *inf)
{
	if (!inf)
		return;
	mk_informer_stop(inf);
	for (int i = 0; i < inf->nidx; i++) {
		mk_hmap_release(&inf->idx[i].values, free_keyset);
		free(inf->idx[i].name);
	}
	mk_hmap_release(&inf->items, unref_val);
	mk_client_watch_free(inf->w);
	pthread_cond_destroy(&inf->cond);
	pthread_mutex_destroy(&inf->mu);
	free(inf->path);
	free(inf);
}

struct mk_object *mk_informer_get(struct mk_informer *inf, const char *key)
{
	pthread_mutex_lock(&inf->mu);
	struct mk_object *o = mk_object_ref(mk_hmap_get(&inf->items, key));
	pthread_mutex_unlock(&inf->mu);
	return o;
}

size_t mk_informer_list(struct mk_informer *inf, struct mk_object ***ret)
{
	pthread_mutex_lock(&inf->mu);
	size_t n = 0;
	struct mk_object **a = mk_malloc0((inf->items.n + 1) * sizeof(*a));
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&inf->items, &it)))
		a[n++] = mk_object_ref(e->val);
	pthread_mutex_unlock(&inf->mu);
	*ret = a;
	return n;
}

static struct index *find_index(struct mk_informer *inf, const char *name)
{
	for (int i = 0; i < inf->nidx; i++)
		if (!strcmp(inf->idx[i].name, name))
			return &inf->idx[i];
	return NULL;
}

size_t mk_informer_by_index(struct mk_informer *inf, const char *index, const char *value,
			    struct mk_object ***ret)
{
	struct index *ix = find_index(inf, index);
	size_t n = 0;
	*ret = NULL;
	if (!ix || !value)
		return 0;
	pthread_mutex_lock(&inf->mu);
	struct mk_hmap *set = mk_hmap_get(&ix->values, value);
	if (set && set->n) {
		struct mk_object **a = mk_malloc0(set->n * sizeof(*a));
		struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
		struct mk_hmap_entry *e;
		while ((e = mk_hmap_iter_next(set, &it))) {
			struct mk_object *o = mk_hmap_get(&inf->items, e->key);
			if (o)
				a[n++] = mk_object_ref(o);
		}
		*ret = a;
	}
	pthread_mutex_unlock(&inf->mu);
	return n;
}

size_t mk_informer_index_count(struct mk_informer *inf, const char *index, const char *value)
{
	struct index *ix = find_index(inf, index);
	if (!ix || !value)
		return 0;
	pthread_mutex_lock(&inf->mu);
	struct mk_hmap *set = mk_hmap_get(&ix->values, value);
	size_t n = set ? set->n : 0;
	pthread_mutex_unlock(&inf->mu);
	return n;
}

size_t mk_informer_len(struct mk_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	size_t n = inf->items.n;
	pthread_mutex_unlock(&inf->mu);
	return n;
}

int mk_index_slice_service(const cJSON *obj, char **values, int max)
{
	const cJSON *svc = cJSON_GetObjectItem(mk_json_get(obj, "metadata.labels"), "kubernetes.io/service-name");
	if (max < 1 || !cJSON_IsString(svc) || !svc->valuestring[0])
		return 0;
	values[0] = mk_strdup_printf("%s/%s", mk_json_get_string(obj, "metadata.namespace") ?: "",
				     svc->valuestring);
	return 1;
}
