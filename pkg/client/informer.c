/* Informer: list + watch into an indexed cache, with handlers (client-go's
 * SharedIndexInformer, one thread per informer). */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include "minik8s/api.h"
#include "minik8s/client.h"

#define MAX_INDEXES 8
#define MAX_HANDLERS 32
#define MAX_INDEX_VALUES 16
#define WATCH_TIMEOUT_S 300
/* Parsed trees an informer keeps beside the text, for the objects read or
 * changed first: readers of a small cache (a controller syncing a few hundred
 * pods over and over) do not parse at every call, and a large one costs at most
 * this many trees (~12 KB for a pod). */
#define MAX_TREES 512

struct index {
	char *name;
	mk_informer_index_fn fn;
	struct mk_hmap values; /* value -> its keys (struct keys) */
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
	struct mk_hmap items; /* key (borrowed from the entry) -> struct entry * */
	struct index idx[MAX_INDEXES];
	int nidx;
	struct handler h[MAX_HANDLERS];
	int nh;
	bool synced, stopping, started, joined;
	bool strip_managed; /* metadata.managedFields dropped from cached objects */
	size_t ntrees;	    /* entries in items with a tree; under mu */
	size_t max_trees;   /* bound on ntrees (MAX_TREES unless set) */
	pthread_t thread;
	struct mk_client_watch *w;
};

static uint64_t obj_rv(const cJSON *obj)
{
	const char *s = mk_json_get_string(obj, "metadata.resourceVersion");
	return s ? strtoull(s, NULL, 10) : 0;
}

/* ---- objects -------------------------------------------------------------- */

/* A cached object is not a cJSON tree (~150 nodes of ~80 bytes for a pod) but
 * its compact JSON text, with its key and the values it has in each index (so
 * that an update or a delete leaves the old index sets without parsing the old
 * text), in one allocation. Readers get a tree parsed from the text at the call
 * (mk_informer_get/_list/_by_index); handlers get the tree decoded from the
 * watch event and, for the old object of an update or delete, one parsed from
 * the cached text. Entries are immutable and reference counted so that readers
 * parse outside the cache lock. */
struct entry {
	int refs;		     /* atomic */
	uint64_t rv;		     /* metadata.resourceVersion */
	uint32_t text;		     /* offset of the text in data (after the key) */
	uint32_t len;		     /* of the text, without its NUL */
	uint8_t nvals[MAX_INDEXES];  /* values per index */
	struct mk_object *obj;	     /* its parsed tree (a ref), or NULL; set once, under mu */
	char data[];		     /* key NUL, text NUL, each index's values NUL-terminated */
};

/* index sets tag a borrowed key's low bit (keys_of) */
_Static_assert(offsetof(struct entry, data) % 2 == 0, "entry keys are 2-aligned");

/* The items table borrows its keys from the entries (the key moves with the
 * entry on update); so do the index sets. */
static uint64_t key_hash(const void *k)
{
	return mk_fnv1a64_str(k);
}

static bool key_equal(const void *a, const void *b)
{
	return !strcmp(a, b);
}

static const struct mk_hmap_type borrowed_key = { .hash = key_hash, .equal = key_equal };

static struct entry *entry_ref(struct entry *e)
{
	if (e)
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	return e;
}

static void entry_unref(struct entry *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		mk_object_unref(e->obj);
		free(e);
	}
}

static const char *entry_key(const struct entry *e)
{
	return e->data;
}

/* The first value of index i (the others follow, each after the previous NUL). */
static const char *entry_vals(const struct entry *e, int i)
{
	const char *p = e->data + e->text + e->len + 1;
	for (int k = 0; k < i; k++)
		for (int j = 0; j < e->nvals[k]; j++)
			p += strlen(p) + 1;
	return p;
}

/* The entry for json (borrowed) under key: its text and index values. */
static struct entry *entry_new(struct mk_informer *inf, const char *key, const cJSON *json)
{
	_cleanup_cjson_str_ char *text = cJSON_PrintUnformatted(json);
	char *vals[MAX_INDEXES][MAX_INDEX_VALUES];
	int nv[MAX_INDEXES];
	size_t kl = strlen(key), tl = text ? strlen(text) : 0, vl = 0;
	for (int i = 0; i < inf->nidx; i++) {
		nv[i] = inf->idx[i].fn(json, vals[i], MAX_INDEX_VALUES);
		for (int j = 0; j < nv[i]; j++)
			vl += strlen(vals[i][j]) + 1;
	}
	struct entry *e = mk_malloc0(sizeof(*e) + kl + 1 + tl + 1 + vl);
	e->refs = 1;
	e->rv = obj_rv(json);
	e->text = (uint32_t)kl + 1;
	e->len = (uint32_t)tl;
	memcpy(e->data, key, kl + 1);
	if (text)
		memcpy(e->data + e->text, text, tl + 1);
	char *p = e->data + e->text + tl + 1;
	for (int i = 0; i < inf->nidx; i++) {
		e->nvals[i] = (uint8_t)nv[i];
		for (int j = 0; j < nv[i]; j++) {
			size_t l = strlen(vals[i][j]) + 1;
			memcpy(p, vals[i][j], l);
			p += l;
			free(vals[i][j]);
		}
	}
	return e;
}

static struct mk_object *object_new(cJSON *json, const char *key)
{
	struct mk_object *o = mk_malloc0(sizeof(*o));
	o->json = json;
	o->key = mk_strdup(key);
	o->refs = 1;
	return o;
}

/* A fresh object (refs 1) parsed from e's text; NULL if it does not parse. */
static struct mk_object *entry_parse(const struct entry *e)
{
	cJSON *json = cJSON_ParseWithLength(e->data + e->text, e->len);
	return json ? object_new(json, entry_key(e)) : NULL;
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

/* The keys of the objects with one value of an index: a set, or, for the
 * usual single object (an index by uid: one per object), the key itself with
 * the low bit set, without a table of its own (~250 bytes an object). Keys are
 * borrowed from the entries, which are at least 2-aligned. */
typedef void *keys_t;

static bool keys_single(keys_t k)
{
	return (uintptr_t)k & 1;
}

static const char *keys_one(keys_t k)
{
	return (const char *)((uintptr_t)k & ~(uintptr_t)1);
}

static keys_t keys_of(const char *key)
{
	return (keys_t)((uintptr_t)key | 1);
}

static size_t keys_count(keys_t k)
{
	return !k ? 0 : keys_single(k) ? 1 : ((struct mk_hmap *)k)->n;
}

static void free_keyset(void *p)
{
	if (!p || keys_single(p))
		return;
	mk_hmap_release(p, NULL);
	free(p);
}

/* Adds key (borrowed) to value v of ix; an equal key already there is
 * replaced so that it points into the newer entry. */
static void keys_add(struct index *ix, const char *v, const char *key)
{
	keys_t k = mk_hmap_get(&ix->values, v);
	if (!k || (keys_single(k) && !strcmp(keys_one(k), key))) {
		mk_hmap_put(&ix->values, v, keys_of(key));
		return;
	}
	if (keys_single(k)) {
		struct mk_hmap *set = mk_malloc0(sizeof(*set));
		mk_hmap_init_type(set, &borrowed_key);
		mk_hmap_put(set, keys_one(k), (void *)1);
		mk_hmap_put(&ix->values, v, set);
		k = set;
	}
	mk_hmap_put(k, key, (void *)1);
}

static void keys_del(struct index *ix, const char *v, const char *key)
{
	keys_t k = mk_hmap_get(&ix->values, v);
	if (!k)
		return;
	if (keys_single(k)) {
		if (!strcmp(keys_one(k), key))
			mk_hmap_del(&ix->values, v);
		return;
	}
	mk_hmap_del(k, key);
	if (((struct mk_hmap *)k)->n > 1)
		return;
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e = mk_hmap_iter_next(k, &it);
	if (e)
		mk_hmap_put(&ix->values, v, keys_of(e->key));
	else
		mk_hmap_del(&ix->values, v);
	free_keyset(k);
}

/* Moves key from old's index values to new's (either may be NULL). The sets
 * borrow key from the entry: values new shares with old are put again so that
 * they point into new. Caller holds mu. */
static void index_update(struct mk_informer *inf, const struct entry *old, const struct entry *new)
{
	for (int i = 0; i < inf->nidx; i++) {
		struct index *ix = &inf->idx[i];
		const char *v = old ? entry_vals(old, i) : NULL;
		for (int j = 0; old && j < old->nvals[i]; j++, v += strlen(v) + 1)
			keys_del(ix, v, entry_key(old));
		v = new ? entry_vals(new, i) : NULL;
		for (int j = 0; new && j < new->nvals[i]; j++, v += strlen(v) + 1)
			keys_add(ix, v, entry_key(new));
	}
}

/* Lets e keep o (a ref taken) while the informer keeps fewer than MAX_TREES and
 * e is the cached version. Caller holds mu. */
static void keep_tree(struct mk_informer *inf, struct entry *e, struct mk_object *o)
{
	if (o && !e->obj && inf->ntrees < inf->max_trees && mk_hmap_get(&inf->items, entry_key(e)) == e) {
		e->obj = mk_object_ref(o);
		inf->ntrees++;
	}
}

/* e leaves the cache. Caller holds mu. */
static void forget_tree(struct mk_informer *inf, struct entry *e)
{
	if (e && e->obj)
		inf->ntrees--;
}

/* A ref to e's object: its kept tree, or one parsed now (kept if there is room). */
static struct mk_object *entry_object(struct mk_informer *inf, struct entry *e)
{
	pthread_mutex_lock(&inf->mu);
	struct mk_object *o = mk_object_ref(e->obj);
	pthread_mutex_unlock(&inf->mu);
	if (o)
		return o;
	o = entry_parse(e);
	pthread_mutex_lock(&inf->mu);
	keep_tree(inf, e, o);
	pthread_mutex_unlock(&inf->mu);
	return o;
}

/* Whether a cached version of key is at least as new as rv. Caller holds mu. */
static bool cached_newer(struct mk_informer *inf, const char *key, uint64_t rv)
{
	struct entry *old = mk_hmap_get(&inf->items, key);
	return old && rv && old->rv >= rv;
}

static void dispatch(struct mk_informer *inf, const struct mk_object *old,
		     const struct mk_object *new)
{
	for (int i = 0; i < inf->nh; i++)
		inf->h[i].fn(old, new, inf->h[i].userdata);
}

/* Runs the handlers for a change from old (an entry, may be NULL) to new (a
 * tree, moved in, which entry ne may keep; NULL for a delete). */
static void notify(struct mk_informer *inf, struct entry *old, cJSON *new, struct entry *ne,
		   const char *key)
{
	struct mk_object *n = new ? object_new(new, key) : NULL;
	if (n) {
		pthread_mutex_lock(&inf->mu);
		keep_tree(inf, ne, n);
		pthread_mutex_unlock(&inf->mu);
	}
	if (!inf->nh) {
		mk_object_unref(n);
		return;
	}
	struct mk_object *o = NULL;
	if (old) {
		pthread_mutex_lock(&inf->mu);
		o = mk_object_ref(old->obj);
		pthread_mutex_unlock(&inf->mu);
		if (!o)
			o = entry_parse(old);
	}
	if (n || o)
		dispatch(inf, o, n);
	mk_object_unref(o);
	mk_object_unref(n);
}

/* Upserts obj (moved in) unless the cache has it at the same or a newer
 * resourceVersion, and runs handlers. */
static void upsert(struct mk_informer *inf, cJSON *obj)
{
	if (!obj)
		return;
	if (inf->strip_managed)
		cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
							"managedFields");
	_cleanup_free_ char *key = mk_object_key(obj);
	uint64_t rv = obj_rv(obj);
	pthread_mutex_lock(&inf->mu);
	bool skip = cached_newer(inf, key, rv);
	pthread_mutex_unlock(&inf->mu);
	if (skip) {
		cJSON_Delete(obj);
		return;
	}
	struct entry *e = entry_new(inf, key, obj), *old = NULL;
	pthread_mutex_lock(&inf->mu);
	skip = cached_newer(inf, key, rv); /* mk_informer_assume from another thread */
	if (!skip) {
		old = mk_hmap_put(&inf->items, entry_key(e), e);
		forget_tree(inf, old);
		index_update(inf, old, e);
	}
	pthread_mutex_unlock(&inf->mu);
	if (skip) {
		entry_unref(e);
		cJSON_Delete(obj);
		return;
	}
	notify(inf, old, obj, e, key);
	entry_unref(old);
}

static void remove_key(struct mk_informer *inf, const char *key)
{
	pthread_mutex_lock(&inf->mu);
	struct entry *old = mk_hmap_del(&inf->items, key);
	forget_tree(inf, old);
	if (old)
		index_update(inf, old, NULL);
	pthread_mutex_unlock(&inf->mu);
	if (old) {
		notify(inf, old, NULL, NULL, key);
		entry_unref(old);
	}
}

void mk_informer_strip_managed_fields(struct mk_informer *inf)
{
	inf->strip_managed = true;
}

void mk_informer_set_max_trees(struct mk_informer *inf, size_t n)
{
	inf->max_trees = n;
}

void mk_informer_share_strings(struct mk_informer *inf)
{
	(void)inf; /* the cache holds text, not trees: nothing left to share */
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
	mk_hmap_init_type(&inf->items, &borrowed_key);
	inf->max_trees = MAX_TREES;
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
	entry_unref(p);
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
	struct entry *e = entry_ref(mk_hmap_get(&inf->items, key));
	pthread_mutex_unlock(&inf->mu);
	if (!e)
		return NULL;
	struct mk_object *o = entry_object(inf, e);
	entry_unref(e);
	return o;
}

/* Objects parsed from es[0..n) (refs dropped), in an owned array. */
static size_t parse_all(struct mk_informer *inf, struct entry **es, size_t n, struct mk_object ***ret)
{
	struct mk_object **a = mk_malloc0((n + 1) * sizeof(*a));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if ((a[k] = entry_object(inf, es[i])))
			k++;
		entry_unref(es[i]);
	}
	free(es);
	*ret = a;
	return k;
}

size_t mk_informer_list(struct mk_informer *inf, struct mk_object ***ret)
{
	pthread_mutex_lock(&inf->mu);
	size_t n = 0;
	struct entry **es = mk_malloc0((inf->items.n + 1) * sizeof(*es));
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&inf->items, &it)))
		es[n++] = entry_ref(e->val);
	pthread_mutex_unlock(&inf->mu);
	return parse_all(inf, es, n, ret);
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
	struct entry **es = NULL;
	size_t n = 0;
	*ret = NULL;
	if (!ix || !value)
		return 0;
	pthread_mutex_lock(&inf->mu);
	keys_t k = mk_hmap_get(&ix->values, value);
	if (keys_count(k)) {
		es = mk_malloc0(keys_count(k) * sizeof(*es));
		struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
		struct mk_hmap_entry *e;
		struct entry *o;
		if (keys_single(k) && (o = mk_hmap_get(&inf->items, keys_one(k))))
			es[n++] = entry_ref(o);
		while (!keys_single(k) && (e = mk_hmap_iter_next(k, &it)))
			if ((o = mk_hmap_get(&inf->items, e->key)))
				es[n++] = entry_ref(o);
	}
	pthread_mutex_unlock(&inf->mu);
	if (!es)
		return 0;
	n = parse_all(inf, es, n, ret);
	if (!n) {
		free(*ret);
		*ret = NULL;
	}
	return n;
}

size_t mk_informer_index_count(struct mk_informer *inf, const char *index, const char *value)
{
	struct index *ix = find_index(inf, index);
	if (!ix || !value)
		return 0;
	pthread_mutex_lock(&inf->mu);
	size_t n = keys_count(mk_hmap_get(&ix->values, value));
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
