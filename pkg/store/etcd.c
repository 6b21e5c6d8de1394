/* The etcd backend (--datastore-endpoint http(s)://HOST:2379[,...]): objects under
 * kube-apiserver's key layout (pkg/etcd/registry.c), resourceVersion = the key's
 * mod_revision, writes as compare-and-swap transactions (create: create_revision
 * == 0; update and delete: mod_revision == the expected one), lists read in pages
 * at one revision, and the watch feed from etcd's own watch on the whole prefix, so
 * the writes of every server sharing the etcd cluster reach this one's watchers.
 *
 * The target is the endpoint list; a path on the first endpoint is the key prefix
 * (http://127.0.0.1:2379/c2 keeps the objects under /c2; default /registry, as
 * kube-apiserver's --etcd-prefix).
 *
 * Revisions: the store's core wants them without holes; etcd has one revision for
 * its whole keyspace, so the etcd cluster must be this cluster's alone (unlike
 * kube-apiserver, whose watch cache takes revisions with gaps). A hole (a write
 * elsewhere in the keyspace)
 * empties the in-memory ring: watchers behind it get 410 and list again.
 *
 * Compaction: the feed compacts etcd's history to the newest revision minus the
 * window once it is two windows long (each server does it; etcd refuses a second
 * compaction at the same revision, which is harmless). */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include "minik8s/etcd.h"
#include "internal.h"

struct store_etcd {
	struct mk_etcd *c;
	char *prefix;	  /* "/registry" */
	char *all, *all_end; /* the range of every object: "/registry/", "/registry0" */
	pthread_t feed;
	int feed_started;
	pthread_mutex_t lock; /* guards w and stop */
	struct mk_etcd_watch *w;
	int stop;
	uint64_t compacted_to;
};

/* A failed write, worded as the SQLite backend words it (callers match the text). */
static void write_fail(struct store_req *q, const struct mk_error *e, int64_t cur_rv)
{
	_cleanup_free_ char *key = store_key(q->resource, q->ns, q->name);
	int code = e ? e->code : EIO;
	switch (code) {
	case ENOENT:
		req_fail(q, code, mk_strdup_printf("object '%s' not found", key));
		break;
	case EEXIST:
		req_fail(q, code, mk_strdup_printf("object '%s' already exists", key));
		break;
	case ESTALE:
		req_fail(q, code,
			 mk_strdup_printf("object '%s' has been modified: resourceVersion is %lld, "
					  "not %llu",
					  key, (long long)cur_rv, (unsigned long long)q->expect_rv));
		break;
	default:
		req_fail(q, EIO, mk_strdup_printf("store: etcd: %s", e ? e->msg : "write failed"));
	}
}

/* The served JSON of a stored value: unsealed, resourceVersion = rv. */
static int value_open(struct mk_store *s, const char *resource, const char *ns, const char *name,
		      const char *value, size_t len, int64_t rv, char **ret, struct mk_error **err)
{
	_cleanup_free_ char *plain = NULL;
	_cleanup_free_ char *text = mk_strdup_printf("%.*s", (int)len, value);
	if (store_unseal(s, resource, ns, name, text, &plain, err) < 0)
		return -1;
	return mk_etcd_object_decode(plain, strlen(plain), rv, ret, err);
}

/* A store event of an etcd watch event (NULL with *err on failure). */
static struct mk_store_event *event_from(struct mk_store *s, const struct mk_etcd_event *e,
					 struct mk_error **err)
{
	struct store_etcd *d = s->be;
	_cleanup_free_ char *res = NULL, *ns = NULL, *name = NULL, *json = NULL, *old = NULL;
	if (mk_etcd_registry_key_parse(d->prefix, e->kv.key, &res, &ns, &name, err) < 0)
		return NULL;
	enum mk_store_event_type type;
	int64_t rv = e->kv.mod_revision;
	if (e->type == MK_ETCD_EVENT_DELETE) {
		type = MK_STORE_DELETED;
		if (!e->prev_kv.key) {
			mk_error_set(err, EIO, "etcd delete of '%s' without its last state",
				     e->kv.key);
			return NULL;
		}
		if (value_open(s, res, ns, name, e->prev_kv.value, e->prev_kv.value_len, rv, &json,
			       err) < 0)
			return NULL;
	} else {
		type = e->kv.create_revision == e->kv.mod_revision ? MK_STORE_ADDED
								   : MK_STORE_MODIFIED;
		if (value_open(s, res, ns, name, e->kv.value, e->kv.value_len, rv, &json, err) < 0)
			return NULL;
		if (type == MK_STORE_MODIFIED && e->prev_kv.key &&
		    value_open(s, res, ns, name, e->prev_kv.value, e->prev_kv.value_len,
			       e->prev_kv.mod_revision, &old, err) < 0)
			return NULL;
	}
	struct mk_store_event *ev =
		store_event_new((uint64_t)rv, type, res, ns, name, TAKE_PTR(json));
	ev->old_json = TAKE_PTR(old);
	return ev;
}

/* ---- writes (committer thread) -------------------------------------------------- */

/* The stored form of q's object: without its resourceVersion, sealed if configured. */
static char *value_of(struct mk_store *s, struct store_req *q, size_t *ret_len,
		      struct mk_error **err)
{
	_cleanup_free_ char *json = store_splice_rv(q, 0), *plain = NULL;
	size_t len;
	if (mk_etcd_object_encode(json, strlen(json), &plain, &len, err) < 0)
		return NULL;
	char *sealed = store_seal(s, q->resource, q->ns, q->name, plain);
	if (sealed) {
		*ret_len = strlen(sealed);
		return sealed;
	}
	*ret_len = len;
	return TAKE_PTR(plain);
}

static void write_one(struct mk_store *s, struct store_req *q)
{
	struct store_etcd *d = s->be;
	_cleanup_error_ struct mk_error *e = NULL;
	_cleanup_free_ char *key = mk_etcd_registry_key(d->prefix, q->resource, q->ns, q->name);
	int64_t rv = 0;
	if (q->op == STORE_OP_DELETE) {
		struct mk_etcd_kv prev = { 0 }, cur = { 0 };
		if (mk_etcd_cas_delete(d->c, key, (int64_t)q->expect_rv, &prev, &rv, &cur, &e) < 0) {
			write_fail(q, e, cur.mod_revision);
			mk_etcd_kv_release(&cur);
			return;
		}
		_cleanup_free_ char *plain = NULL, *text = mk_strdup_printf(
								 "%.*s", (int)prev.value_len, prev.value);
		mk_etcd_kv_release(&prev);
		char *json = NULL;
		if (store_unseal(s, q->resource, q->ns, q->name, text, &plain, &e) < 0 ||
		    !(json = store_deleted_json(plain, (uint64_t)rv))) {
			req_fail(q, EIO, mk_strdup_printf("store: deleted object '%s' is not JSON", key));
			return;
		}
		q->rv = (uint64_t)rv;
		q->ev = store_event_new(q->rv, MK_STORE_DELETED, q->resource, q->ns, q->name, json);
		return;
	}
	size_t len = 0;
	_cleanup_free_ char *value = value_of(s, q, &len, &e);
	if (!value) {
		write_fail(q, e, 0);
		return;
	}
	int64_t expect = (int64_t)q->expect_rv;
	int r = -1;
	struct mk_etcd_kv now = { 0 };
	if (q->op == STORE_OP_CREATE) {
		r = mk_etcd_cas_put(d->c, key, value, len, 0, 0, &rv, &now, &e);
	} else {
		/* an update without a precondition: compare-and-swap on the revision
		 * read, again when another writer came in between (bounded) */
		for (int attempt = 0; attempt < 16; attempt++) {
			struct mk_etcd_kv cur = { 0 };
			mk_error_free(&e);
			if (!q->expect_rv && mk_etcd_get(d->c, key, &cur, NULL, &e) < 0)
				break;
			if (!q->expect_rv)
				expect = cur.mod_revision;
			mk_etcd_kv_release(&cur);
			mk_etcd_kv_release(&now);
			r = mk_etcd_cas_put(d->c, key, value, len, expect, 0, &rv, &now, &e);
			if (r == 0 || q->expect_rv || e->code != ESTALE)
				break;
		}
	}
	if (r < 0) {
		write_fail(q, e, now.mod_revision);
		mk_etcd_kv_release(&now);
		return;
	}
	mk_etcd_kv_release(&now);
	q->rv = (uint64_t)rv;
	q->ev = store_event_new(q->rv, q->op == STORE_OP_CREATE ? MK_STORE_ADDED : MK_STORE_MODIFIED,
				q->resource, q->ns, q->name, store_splice_rv(q, q->rv));
}

static void etcd_write_batch(struct mk_store *s, struct store_req **reqs, size_t n)
{
	/* one compare-and-swap transaction per object: a conflict fails that
	 * request alone */
	for (size_t i = 0; i < n; i++)
		write_one(s, reqs[i]);
	for (size_t i = 0; i < n; i++)
		if (!reqs[i]->code && reqs[i]->rv > s->committed)
			s->committed = reqs[i]->rv;
}

/* ---- reads ---------------------------------------------------------------------- */

static int etcd_get(struct mk_store *s, const char *resource, const char *ns, const char *name,
		    char **ret_json, uint64_t *ret_rv, struct mk_error **err)
{
	struct store_etcd *d = s->be;
	_cleanup_free_ char *key = mk_etcd_registry_key(d->prefix, resource, ns, name);
	struct mk_etcd_kv kv = { 0 };
	_cleanup_error_ struct mk_error *e = NULL;
	if (mk_etcd_get(d->c, key, &kv, NULL, &e) < 0) {
		_cleanup_free_ char *k = store_key(resource, ns, name);
		if (e->code == ENOENT)
			return mk_error_set(err, ENOENT, "object '%s' not found", k);
		return mk_error_set(err, EIO, "store: etcd: %s", e->msg);
	}
	int r = 0;
	if (ret_json)
		r = value_open(s, resource, ns, name, kv.value, kv.value_len, kv.mod_revision,
			       ret_json, err);
	if (r == 0 && ret_rv)
		*ret_rv = (uint64_t)kv.mod_revision;
	mk_etcd_kv_release(&kv);
	return r;
}

/* rev 0: the newest; else etcd's range at that revision (kube-apiserver's list with
 * resourceVersionMatch=Exact), ERANGE when compacted, EOVERFLOW in the future */
static int etcd_list_rev(struct mk_store *s, const char *resource, const char *ns, uint64_t rev,
			 mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
			 struct mk_error **err)
{
	struct store_etcd *d = s->be;
	_cleanup_free_ char *from = mk_etcd_registry_key(d->prefix, resource, ns, NULL);
	_cleanup_free_ char *end = mk_etcd_prefix_end(from);
	struct mk_etcd_range r = { 0 };
	if (mk_etcd_range_all(d->c, from, end, (int64_t)rev, 500, &r, err) < 0) {
		if (err && *err && rev && (*err)->code == ERANGE) {
			/* kube-apiserver's words for it */
			_cleanup_free_ char *why = TAKE_PTR((*err)->msg);
			(*err)->msg = mk_strdup_printf("too old resource version: %llu (%s)",
						       (unsigned long long)rev, why ? why : "");
		} else if (err && *err && (!rev || (*err)->code != EOVERFLOW)) {
			(*err)->code = EIO;
		}
		return -1;
	}
	/* a range's header has the revision now, not the one read at */
	struct mk_store_list l = { .rv = rev ? rev : (uint64_t)r.revision };
	if (r.n)
		l.items = mk_malloc0(r.n * sizeof(*l.items));
	for (size_t i = 0; i < r.n; i++) {
		_cleanup_free_ char *res = NULL, *ins = NULL, *name = NULL;
		char *json = NULL;
		/* a deeper key under a cluster-scoped collection is none of its objects */
		if (mk_etcd_registry_key_parse(d->prefix, r.kvs[i].key, &res, &ins, &name, NULL) < 0 ||
		    strcmp(res, resource))
			continue;
		if (value_open(s, res, ins, name, r.kvs[i].value, r.kvs[i].value_len,
			       r.kvs[i].mod_revision, &json, err) < 0) {
			mk_store_list_release(&l);
			mk_etcd_range_release(&r);
			return -1;
		}
		if (filter && !filter(json, userdata)) {
			free(json);
			continue;
		}
		l.items[l.n++] = json;
	}
	mk_etcd_range_release(&r);
	*ret = l;
	return 0;
}

static int etcd_list(struct mk_store *s, const char *resource, const char *ns,
		     mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		     struct mk_error **err)
{
	return etcd_list_rev(s, resource, ns, 0, filter, userdata, ret, err);
}

static int etcd_list_at(struct mk_store *s, const char *resource, const char *ns, uint64_t rev,
			mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
			struct mk_error **err)
{
	return etcd_list_rev(s, resource, ns, rev, filter, userdata, ret, err);
}

/* The store revision now (a count-only read of the objects' range). */
static int current_rev(struct store_etcd *d, int64_t *ret, struct mk_error **err)
{
	struct mk_etcd_range_options o = { .range_end = d->all_end, .count_only = true };
	struct mk_etcd_range r = { 0 };
	if (mk_etcd_range(d->c, d->all, &o, &r, err) < 0)
		return -1;
	*ret = r.revision;
	mk_etcd_range_release(&r);
	return 0;
}

/* etcd's history after `after`, read with a watch from after + 1 up to below - 1 (or
 * the revision now); a compacted start gives no event (the core then answers 410). */
static int etcd_events(struct mk_store *s, uint64_t after, uint64_t below, size_t max,
		       struct mk_store_event **out, size_t *ret_n, struct mk_error **err)
{
	struct store_etcd *d = s->be;
	int64_t now = 0;
	*ret_n = 0;
	if (current_rev(d, &now, err) < 0)
		return -1;
	int64_t upper = below ? (int64_t)below - 1 : now;
	if (upper > now)
		upper = now;
	if (upper <= (int64_t)after || !max)
		return 0;
	struct mk_etcd_watch *w = NULL;
	if (mk_etcd_watch_new(d->c, d->all, d->all_end, (int64_t)after + 1, MK_ETCD_WATCH_PREV_KV,
			      &w, err) < 0)
		return -1;
	size_t n = 0;
	int64_t last = (int64_t)after;
	int r = 0, idle = 0;
	while (n < max && last < upper) {
		struct mk_etcd_watch_batch b = { 0 };
		struct mk_error *e = NULL;
		/* a hole at the end of the range (a write outside the prefix) would
		 * leave no event to wait for: bounded. Before the first event, longer
		 * (up to 3 s): a loaded etcd may be slow to send the history (its
		 * unsynced watchers are served by a loop every 100 ms), and no event at
		 * all reads as compacted (410) to the core. A hole costs that wait: the
		 * etcd must hold this cluster's keys only (README, "Datastore") */
		r = mk_etcd_watch_next(w, 500, &b, &e);
		if (r == 0 && n == 0 && ++idle < 6)
			continue;
		if (r <= 0) {
			bool compacted = r < 0 && e->code == ERANGE;
			if (r < 0 && !compacted && err && !*err)
				*err = TAKE_PTR(e);
			mk_error_free(&e);
			r = r < 0 && !compacted ? -1 : 0;
			break;
		}
		for (size_t i = 0; i < b.n && n < max; i++) {
			if (b.events[i].kv.mod_revision > upper)
				break;
			struct mk_error *te = NULL;
			struct mk_store_event *ev = event_from(s, &b.events[i], &te);
			last = b.events[i].kv.mod_revision;
			/* a key that is no object: a hole the core sees as such */
			mk_error_free(&te);
			if (ev)
				out[n++] = ev;
		}
		if (b.n && b.events[b.n - 1].kv.mod_revision >= upper)
			last = upper;
		mk_etcd_watch_batch_release(&b);
		if (r < 0)
			break;
	}
	mk_etcd_watch_free(w);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			mk_store_event_unref(out[i]);
		return -1;
	}
	*ret_n = n;
	return 0;
}

/* ---- the feed ---------------------------------------------------------------------- */

static bool feed_stopping(struct store_etcd *d)
{
	pthread_mutex_lock(&d->lock);
	bool stop = d->stop;
	pthread_mutex_unlock(&d->lock);
	return stop;
}

static void feed_sleep(struct store_etcd *d, int ms)
{
	for (int i = 0; i < ms / 50 && !feed_stopping(d); i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static void feed_compact(struct mk_store *s)
{
	struct store_etcd *d = s->be;
	uint64_t rev = __atomic_load_n(&s->rev, __ATOMIC_ACQUIRE);
	if (rev <= 2 * s->window || rev - s->window < d->compacted_to + s->window)
		return;
	uint64_t to = rev - s->window;
	struct mk_error *e = NULL;
	/* ERANGE: compacted there already, by another server */
	if (mk_etcd_compact(d->c, (int64_t)to, false, &e) == 0 || e->code == ERANGE) {
		d->compacted_to = to;
		__atomic_store_n(&s->compacted, to, __ATOMIC_RELEASE);
	}
	mk_error_free(&e);
}

static void *feed_main(void *arg)
{
	struct mk_store *s = arg;
	struct store_etcd *d = s->be;
	int64_t from = (int64_t)__atomic_load_n(&s->rev, __ATOMIC_ACQUIRE) + 1;
	while (!feed_stopping(d)) {
		struct mk_error *e = NULL;
		if (!d->w) {
			struct mk_etcd_watch *w = NULL;
			if (mk_etcd_watch_new(d->c, d->all, d->all_end, from, MK_ETCD_WATCH_PREV_KV,
					      &w, &e) < 0) {
				mk_error_free(&e);
				feed_sleep(d, 1000);
				continue;
			}
			pthread_mutex_lock(&d->lock);
			d->w = w;
			pthread_mutex_unlock(&d->lock);
		}
		struct mk_etcd_watch_batch b = { 0 };
		int r = mk_etcd_watch_next(d->w, 1000, &b, &e);
		if (r < 0) {
			if (e->code == ERANGE) {
				/* fell behind etcd's compaction: start over from now */
				int64_t now = 0;
				if (current_rev(d, &now, NULL) == 0) {
					store_events_reset(s, (uint64_t)now);
					from = now + 1;
				}
			}
			mk_error_free(&e);
			pthread_mutex_lock(&d->lock);
			struct mk_etcd_watch *w = d->w;
			d->w = NULL;
			pthread_mutex_unlock(&d->lock);
			mk_etcd_watch_free(w);
			continue;
		}
		if (r == 0)
			continue;
		struct mk_store_event *evs[64];
		size_t nev = 0;
		for (size_t i = 0; i < b.n; i++) {
			uint64_t rv = (uint64_t)b.events[i].kv.mod_revision;
			from = b.events[i].kv.mod_revision + 1;
			uint64_t cur = __atomic_load_n(&s->rev, __ATOMIC_ACQUIRE);
			if (rv <= cur)
				continue;
			struct mk_store_event *ev = event_from(s, &b.events[i], &e);
			mk_error_free(&e);
			if (!ev)
				continue; /* not an object: a hole, below */
			if (rv != cur + 1 + nev) {
				store_events_publish(s, evs, nev);
				nev = 0;
				store_events_reset(s, rv - 1);
			}
			evs[nev++] = ev;
			if (nev == MK_ARRAY_SIZE(evs)) {
				store_events_publish(s, evs, nev);
				nev = 0;
			}
		}
		store_events_publish(s, evs, nev);
		mk_etcd_watch_batch_release(&b);
		feed_compact(s);
	}
	return NULL;
}

/* ---- open / close ---------------------------------------------------------------- */

static void etcd_close(struct mk_store *s)
{
	struct store_etcd *d = s->be;
	if (!d)
		return;
	if (d->feed_started) {
		pthread_mutex_lock(&d->lock);
		d->stop = 1;
		if (d->w)
			mk_etcd_watch_cancel(d->w);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->feed, NULL);
	}
	mk_etcd_watch_free(d->w);
	mk_etcd_free(d->c);
	pthread_mutex_destroy(&d->lock);
	free(d->prefix);
	free(d->all);
	free(d->all_end);
	free(d);
	s->be = NULL;
}

static int etcd_open(struct mk_store *s, const char *target, struct mk_error **err)
{
	/* a path on the first endpoint is the key prefix */
	_cleanup_free_ char *list = mk_strdup(target), *prefix = NULL;
	char *scheme_end = strstr(list, "://");
	char *comma = strchr(list, ',');
	char *slash = scheme_end ? strchr(scheme_end + 3, '/') : NULL;
	if (slash && (!comma || slash < comma)) {
		size_t plen = strcspn(slash, ",");
		prefix = mk_strdup_printf("%.*s", (int)plen, slash);
		memmove(slash, slash + plen, strlen(slash + plen) + 1);
	}
	while (prefix && strlen(prefix) > 1 && prefix[strlen(prefix) - 1] == '/')
		prefix[strlen(prefix) - 1] = 0;
	if (!prefix || !strcmp(prefix, "/"))
		free(prefix), prefix = mk_strdup("/registry");
	_cleanup_strv_ char **eps = NULL;
	if (mk_etcd_endpoints_parse(list, &eps, err) < 0)
		return mk_error_wrap(err, "store");
	struct mk_etcd_options o = { .endpoints = (const char *const *)eps,
				     .cafile = s->datastore_cafile,
				     .certfile = s->datastore_certfile,
				     .keyfile = s->datastore_keyfile };
	struct store_etcd *d = mk_malloc0(sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->prefix = TAKE_PTR(prefix);
	d->all = mk_strdup_printf("%s/", d->prefix);
	d->all_end = mk_etcd_prefix_end(d->all);
	s->be = d;
	int64_t now = 0;
	if (mk_etcd_new(&o, &d->c, err) < 0 || current_rev(d, &now, err) < 0) {
		etcd_close(s);
		return mk_error_wrap(err, "store: etcd '%s'", target);
	}
	s->committed = (uint64_t)now;
	s->compacted = 0;
	return 0;
}

/* The feed, once the core has loaded its ring: it publishes after s->rev. */
static int etcd_start(struct mk_store *s, struct mk_error **err)
{
	struct store_etcd *d = s->be;
	if (pthread_create(&d->feed, NULL, feed_main, s) != 0)
		return mk_error_set(err, EIO, "store: etcd: cannot start the watch feed");
	d->feed_started = 1;
	return 0;
}

const struct store_backend store_backend_etcd = {
	.name = "etcd",
	.open = etcd_open,
	.start = etcd_start,
	.close = etcd_close,
	.write_batch = etcd_write_batch,
	.get = etcd_get,
	.list = etcd_list,
	.list_at = etcd_list_at,
	.events = etcd_events,
	.publishes_on_commit = 0,
};
