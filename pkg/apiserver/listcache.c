/* The list cache: every resource's objects as the store's watch feed leaves them,
 * so that lists are answered from memory, as kube-apiserver's watch cache answers
 * them (staging/src/k8s.io/apiserver/pkg/storage/cacher):
 *
 *  - one thread follows the store's events for every resource and applies each
 *    to the cache of its resource; the cache's revision is the last event applied
 *    (every write takes the next global revision, so a list from the cache at
 *    revision R is the collection as the store held it at R);
 *  - a resource is cached from its first list on: a store list at revision L,
 *    then the events after L that the thread has already passed, read back from
 *    the store's event ring;
 *  - a list waits, bounded, until the cache has caught up with the revision the
 *    request needs (the store's current one for a consistent read, as
 *    ConsistentListFromCache does; N for resourceVersion=N NotOlderThan; none for
 *    resourceVersion=0), then takes a reference on each object's bytes under the
 *    lock and writes the response from them as MHD asks for it: nothing is
 *    copied, and memory does not grow with the list beyond one pointer an item.
 *
 * The stored bytes of an object are kept once (struct lc_obj, reference
 * counted) and shared by the cache and every response still writing them; the
 * fieldsV1 of its managedFields entries, most of a pod's text and alike across
 * the pods of one template, are kept once in the process (struct lc_piece) and
 * put back into the text as it is written: lists return the stored bytes. When
 * the thread falls out of the store's event window it drops every resource's
 * cache; the next list of each fills it again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include "internal.h"
#include "minik8s/store.h"

/* How long a list waits for the cache to reach the revision it needs (the
 * cacher's 3 s for a too large resourceVersion). */
#define WAIT_MS 3000

/* Pieces of text many objects carry alike, kept once: the fieldsV1 of each
 * metadata.managedFields entry (~1-3 KB for a pod, alike for every pod of one
 * template and manager, while the entry's time differs), cut into chunks at
 * points the content chooses (after a "}," whose preceding bytes hash right), so
 * that what differs between objects (a pod's kube-api-access-xxxxx volume, one
 * name in 2.3 KB) is one chunk of its own and the chunks around it are shared.
 * Content-addressed, so a process-wide table; a piece lives while an object
 * holds it. */
#define PIECE_MIN 64	/* smaller values are kept inline: not worth a table entry */
#define CHUNK_MIN 64	/* a chunk is cut no sooner */
#define CHUNK_MAX 256	/* and at the first "}," after this */
#define MAX_SEGS 32

struct lc_piece {
	int refs; /* under piece_lock */
	uint32_t len;
	char text[]; /* NUL-terminated: the table's key */
};

static pthread_mutex_t piece_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mk_hmap pieces; /* text (borrowed from the piece) -> struct lc_piece */

static uint64_t piece_hash(const void *k)
{
	return mk_fnv1a64_str(k);
}

static bool piece_equal(const void *a, const void *b)
{
	return !strcmp(a, b);
}

static const struct mk_hmap_type piece_key = { .hash = piece_hash, .equal = piece_equal };
/* a resource's table borrows its keys from the objects (the same hash and order) */
static const struct mk_hmap_type obj_key = { .hash = piece_hash, .equal = piece_equal };

/* The piece with the len bytes at p (a reference). */
static struct lc_piece *piece_get(const char *p, size_t len)
{
	struct lc_piece *n = mk_malloc0(sizeof(*n) + len + 1);
	n->refs = 1;
	n->len = (uint32_t)len;
	memcpy(n->text, p, len);
	pthread_mutex_lock(&piece_lock);
	if (!pieces.type)
		mk_hmap_init_type(&pieces, &piece_key);
	struct lc_piece *have = mk_hmap_get(&pieces, n->text);
	if (have) {
		have->refs++;
		free(n);
		n = have;
	} else {
		mk_hmap_put(&pieces, n->text, n);
	}
	pthread_mutex_unlock(&piece_lock);
	return n;
}

/* Under the lock: a lookup must not find a piece whose last reference is going. */
static void piece_unref(struct lc_piece *p)
{
	pthread_mutex_lock(&piece_lock);
	bool last = --p->refs == 0;
	if (last)
		mk_hmap_del(&pieces, p->text);
	pthread_mutex_unlock(&piece_lock);
	if (last)
		free(p);
}

size_t mk_listcache_pieces(void)
{
	pthread_mutex_lock(&piece_lock);
	size_t n = pieces.n;
	pthread_mutex_unlock(&piece_lock);
	return n;
}

/* ---- finding the pieces in an object's text ------------------------------------ */

static size_t skip_ws(const char *s, size_t i, size_t n)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* s[i] is '"': the index after the closing quote, or n. */
static size_t skip_string(const char *s, size_t i, size_t n)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n;
}

/* The index after the value at i, or n when it does not end. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
	if (i < n && s[i] == '"')
		return skip_string(s, i, n);
	if (i < n && (s[i] == '{' || s[i] == '[')) {
		int depth = 0;
		while (i < n) {
			if (s[i] == '"') {
				i = skip_string(s, i, n);
				continue;
			}
			if (s[i] == '{' || s[i] == '[')
				depth++;
			else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
				return i + 1;
			i++;
		}
		return n;
	}
	while (i < n && s[i] != ',' && s[i] != '}' && s[i] != ']')
		i++;
	return i;
}

/* s[i] is '{': the index of the value of member name, or 0. */
static size_t member(const char *s, size_t i, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (i >= n || s[i] != '{')
		return 0;
	for (i = skip_ws(s, i + 1, n); i < n && s[i] == '"';) {
		size_t k = i, end = skip_string(s, i, n);
		bool match = end - k == nl + 2 && !memcmp(s + k + 1, name, nl);
		i = skip_ws(s, end, n);
		if (i >= n || s[i] != ':')
			return 0;
		i = skip_ws(s, i + 1, n);
		if (match)
			return i;
		i = skip_ws(s, skip_value(s, i, n), n);
		if (i >= n || s[i] != ',')
			return 0;
		i = skip_ws(s, i + 1, n);
	}
	return 0;
}

/* Whether a chunk that started at from may end after the "}," at i. */
static bool cut_here(const char *s, size_t from, size_t i)
{
	if (s[i] != '}' || s[i + 1] != ',' || i + 2 - from < CHUNK_MIN)
		return false;
	return i + 2 - from >= CHUNK_MAX || (mk_fnv1a64(s + i - 8, 8) & 1) == 0;
}

/* Cuts [v, ve) into chunks, appended to r from k (at most MAX_SEGS); the new k. */
static int chunk(const char *s, size_t v, size_t ve, size_t (*r)[2], int k)
{
	size_t from = v;
	for (size_t i = v + CHUNK_MIN; i + 1 < ve && k < MAX_SEGS - 1; i++)
		if (cut_here(s, from, i)) {
			r[k][0] = from;
			r[k++][1] = i + 2;
			from = i + 2;
		}
	if (k < MAX_SEGS) {
		r[k][0] = from;
		r[k++][1] = ve;
	}
	return k;
}

/* The [start, end) ranges of the chunks of the fieldsV1 values of
 * metadata.managedFields in s, in order; how many (at most MAX_SEGS). */
static int find_pieces(const char *s, size_t n, size_t (*r)[2])
{
	size_t meta = member(s, skip_ws(s, 0, n), n, "metadata");
	size_t mf = meta ? member(s, meta, n, "managedFields") : 0;
	int k = 0;
	if (!mf || s[mf] != '[')
		return 0;
	for (size_t i = skip_ws(s, mf + 1, n); i < n && s[i] == '{' && k < MAX_SEGS;) {
		size_t end = skip_value(s, i, n), v = member(s, i, end, "fieldsV1");
		if (v && s[v] == '{') {
			size_t ve = skip_value(s, v, end);
			if (ve - v >= PIECE_MIN && ve < end)
				k = chunk(s, v, ve, r, k);
		}
		i = skip_ws(s, end, n);
		if (i >= n || s[i] != ',')
			break;
		i = skip_ws(s, i + 1, n);
	}
	return k;
}

/* ---- cached objects ------------------------------------------------------------ */

/* One object's stored bytes: its text without its pieces (json) and the pieces,
 * each at its offset in json; the whole text is json with each piece put back.
 * json is, when the text has no pieces, the text of the store event that created
 * the object (a reference on the event, no copy) or what the first list found
 * (taken over); otherwise a copy in the object's own allocation. */
struct lc_seg {
	uint32_t at; /* in json */
	struct lc_piece *p;
};

struct lc_obj {
	int refs;
	uint32_t len;  /* of the whole text */
	uint32_t jlen; /* of json */
	uint8_t nseg;
	bool owned; /* json is a string of its own (free it) */
	char *key;  /* "ns\x01name", in the allocation: strcmp order is the store's (namespace, name) order */
	const char *json;
	struct mk_store_event *ev; /* json's owner, or NULL */
	struct lc_seg seg[];
};

/* The object ns/name of text (len bytes): ev (referenced) or owned (taken over)
 * holds text unless the object keeps its own copy. */
static struct lc_obj *obj_make(const char *ns, const char *name, const char *text, size_t len,
			       struct mk_store_event *ev, char *owned)
{
	size_t r[MAX_SEGS][2], cut = 0;
	int k = find_pieces(text, len, r);
	for (int i = 0; i < k; i++)
		cut += r[i][1] - r[i][0];
	size_t kl = strlen(ns ? ns : "") + 1 + strlen(name ? name : "") + 1;
	size_t jl = k ? len - cut + 1 : 0;
	struct lc_obj *o = mk_malloc0(sizeof(*o) + k * sizeof(o->seg[0]) + kl + jl);
	o->refs = 1;
	o->len = (uint32_t)len;
	o->nseg = (uint8_t)k;
	o->key = (char *)&o->seg[k];
	snprintf(o->key, kl, "%s\x01%s", ns ? ns : "", name ? name : "");
	if (!k) {
		if (!ev && !owned)
			text = owned = mk_strdup(text);
		o->jlen = (uint32_t)len;
		o->json = text;
		o->ev = ev ? mk_store_event_ref(ev) : NULL;
		o->owned = owned != NULL;
		return o;
	}
	char *j = o->key + kl;
	size_t from = 0, w = 0;
	for (int i = 0; i < k; i++) {
		memcpy(j + w, text + from, r[i][0] - from);
		w += r[i][0] - from;
		o->seg[i].at = (uint32_t)w;
		o->seg[i].p = piece_get(text + r[i][0], r[i][1] - r[i][0]);
		from = r[i][1];
	}
	memcpy(j + w, text + from, len - from);
	j[len - cut] = '\0';
	o->json = j;
	o->jlen = (uint32_t)(len - cut);
	free(owned);
	return o;
}

/* json (owned) of the object ns/name */
static struct lc_obj *obj_new(const char *ns, const char *name, char *json)
{
	return obj_make(ns, name, json, strlen(json), NULL, json);
}

/* the object an event left */
static struct lc_obj *obj_from_event(struct mk_store_event *ev)
{
	return obj_make(ev->ns, ev->name, ev->json, strlen(ev->json), ev, NULL);
}

/* Copies up to max bytes of o's whole text from off into buf; how many. */
static size_t obj_read(const struct lc_obj *o, size_t off, char *buf, size_t max)
{
	size_t w = 0, v = 0, jp = 0;
	for (int k = 0; k <= o->nseg && w < max; k++) {
		size_t at = k < o->nseg ? o->seg[k].at : o->jlen;
		const char *part[2] = { o->json + jp, k < o->nseg ? o->seg[k].p->text : NULL };
		size_t plen[2] = { at - jp, k < o->nseg ? o->seg[k].p->len : 0 };
		for (int h = 0; h < 2 && w < max; h++) {
			if (off < v + plen[h]) {
				size_t c = v + plen[h] - off;
				c = c < max - w ? c : max - w;
				memcpy(buf + w, part[h] + (off - v), c);
				w += c;
				off += c;
			}
			v += plen[h];
		}
		jp = at;
	}
	return w;
}

/* o's whole text, owned */
static char *obj_text(const struct lc_obj *o)
{
	char *t = mk_malloc0((size_t)o->len + 1);
	obj_read(o, 0, t, o->len);
	return t;
}

static bool obj_matches(const struct lc_obj *o, const struct mk_list_selectors *f)
{
	/* the field selector's text prefilter first, on json without its pieces: they
	 * are managedFields' fieldsV1, whose keys ("f:nodeName", "k:{\"name\":...}")
	 * never read as a "key":"value" pair, so it misses nothing; a node's list of its
	 * pods (spec.nodeName=NAME) then parses only that node's pods, not every pod */
	if (f->fields && !mk_field_selector_may_match_text(f->fields, o->json))
		return false;
	if (!o->nseg)
		return mk_list_selectors_match(o->json, (void *)f);
	_cleanup_free_ char *t = obj_text(o);
	return mk_list_selectors_match(t, (void *)f);
}

static struct lc_obj *obj_ref(struct lc_obj *o)
{
	__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
	return o;
}

static void obj_unref(void *p)
{
	struct lc_obj *o = p;
	if (!o || __atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (int i = 0; i < o->nseg; i++)
		piece_unref(o->seg[i].p);
	if (o->ev)
		mk_store_event_unref(o->ev);
	if (o->owned)
		free((char *)o->json);
	free(o);
}

struct rcache {
	struct mk_hmap objs; /* key (borrowed from the object) -> struct lc_obj */
	uint64_t base;	     /* events up to base are in objs; the thread applies later ones */
};

/* A paged list's collection as its first page saw it (kube-apiserver 1.33's
 * snapshots for pagination): each next page is a binary search and its items,
 * not the store's whole list rebuilt at the token's revision (60 pages of 30,000
 * pods took 186 s that way, 3 s a page). Kept LC_SNAP_IDLE_S after its last page;
 * at most LC_SNAPS, the least recently used goes first. */
#define LC_SNAPS 8
#define LC_SNAP_IDLE_S 30
struct lc_snap {
	char *resource, *ns; /* NULL: a free slot */
	uint64_t rv;
	struct lc_obj **objs; /* references, sorted by key */
	size_t n;
	uint64_t used_ns;
};

struct mk_listcache {
	struct mk_store *store;
	pthread_mutex_t snap_lock; /* guards snaps */
	struct lc_snap snaps[LC_SNAPS];
	pthread_mutex_t lock;
	pthread_cond_t cond; /* rev moved */
	uint64_t rev;	     /* every event up to rev has been seen */
	struct mk_hmap res;  /* resource (store name) -> struct rcache */
	struct mk_store_watch *w;
	pthread_t thread;
	bool started;
	bool dead; /* the thread stopped following the store: the store answers */
};

static void rcache_free(void *p)
{
	struct rcache *c = p;
	if (!c)
		return;
	mk_hmap_release(&c->objs, obj_unref);
	free(c);
}

/* Caller holds lc->lock. */
static void apply(struct rcache *c, struct mk_store_event *ev)
{
	if (ev->type == MK_STORE_DELETED) {
		_cleanup_free_ char *key = mk_strdup_printf("%s\x01%s", ev->ns ? ev->ns : "",
							    ev->name ? ev->name : "");
		obj_unref(mk_hmap_del(&c->objs, key));
		return;
	}
	/* an update's event also holds the state before it: copy its text rather
	 * than keep both alive for as long as the object is cached */
	struct lc_obj *o = ev->old_json ? obj_make(ev->ns, ev->name, ev->json, strlen(ev->json), NULL, NULL)
					: obj_from_event(ev);
	obj_unref(mk_hmap_put(&c->objs, o->key, o));
}

/* (Re)starts following the store after its current revision. Caller holds the
 * lock or is the only thread. */
static int follow(struct mk_listcache *lc, struct mk_error **err)
{
	uint64_t rv = mk_store_revision(lc->store);
	if (mk_store_watch_new(lc->store, NULL, NULL, rv, &lc->w, err) < 0)
		return -1;
	lc->rev = rv;
	return 0;
}

static void *run(void *arg)
{
	struct mk_listcache *lc = arg;

	for (;;) {
		_cleanup_error_ struct mk_error *err = NULL;
		struct mk_store_event *ev = NULL;
		int rc = mk_store_watch_next(lc->w, -1, &ev, &err);
		if (rc < 0 && mk_error_code(err) == ECANCELED) {
			pthread_mutex_lock(&lc->lock);
			lc->dead = true;
			pthread_cond_broadcast(&lc->cond);
			pthread_mutex_unlock(&lc->lock);
			break;
		}
		pthread_mutex_lock(&lc->lock);
		if (rc < 0) {
			/* out of the event window: what is cached can no longer be
			 * brought up to date; start again from now, empty */
			mk_hmap_release(&lc->res, rcache_free);
			mk_hmap_init(&lc->res);
			mk_store_watch_free(lc->w);
			lc->w = NULL;
			mk_error_free(&err);
			if (follow(lc, &err) < 0) {
				lc->dead = true;
				pthread_cond_broadcast(&lc->cond);
				pthread_mutex_unlock(&lc->lock);
				break;
			}
		} else if (rc > 0) {
			struct rcache *c = mk_hmap_get(&lc->res, ev->resource);
			if (c && ev->rv > c->base)
				apply(c, ev);
			if (ev->rv > lc->rev)
				lc->rev = ev->rv;
		}
		pthread_cond_broadcast(&lc->cond);
		pthread_mutex_unlock(&lc->lock);
		mk_store_event_unref(ev);
	}
	return NULL;
}

int mk_listcache_new(struct mk_store *store, struct mk_listcache **ret, struct mk_error **err)
{
	struct mk_listcache *lc = mk_malloc0(sizeof(*lc));
	pthread_condattr_t ca;

	lc->store = store;
	pthread_mutex_init(&lc->lock, NULL);
	pthread_mutex_init(&lc->snap_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lc->cond, &ca);
	pthread_condattr_destroy(&ca);
	mk_hmap_init(&lc->res);
	if (follow(lc, err) < 0)
		goto fail;
	int r = pthread_create(&lc->thread, NULL, run, lc);
	if (r != 0) {
		mk_error_set(err, r, "list cache: start thread: %s", strerror(r));
		goto fail;
	}
	lc->started = true;
	*ret = lc;
	return 0;
fail:
	mk_listcache_free(lc);
	return -1;
}

static void snap_clear(struct lc_snap *sn)
{
	for (size_t i = 0; i < sn->n; i++)
		obj_unref(sn->objs[i]);
	free(sn->objs);
	free(sn->resource);
	free(sn->ns);
	*sn = (struct lc_snap){ 0 };
}

/* Keeps objs (n references, sorted; taken over) as the list of resource in ns at
 * rv, in place of the least recently used snapshot. */
static void snap_keep(struct mk_listcache *lc, const char *resource, const char *ns, uint64_t rv,
		      struct lc_obj **objs, size_t n)
{
	uint64_t now = mk_time_mono_ns();
	pthread_mutex_lock(&lc->snap_lock);
	struct lc_snap *sn = &lc->snaps[0];
	for (size_t i = 0; i < LC_SNAPS; i++) {
		struct lc_snap *x = &lc->snaps[i];
		if (x->resource && now - x->used_ns > LC_SNAP_IDLE_S * 1000000000ull)
			snap_clear(x);
		if (x->used_ns < sn->used_ns)
			sn = x;
	}
	snap_clear(sn);
	*sn = (struct lc_snap){ .resource = mk_strdup(resource), .ns = mk_strdup(ns ? ns : ""),
				.rv = rv, .objs = objs, .n = n, .used_ns = now };
	pthread_mutex_unlock(&lc->snap_lock);
}

void mk_listcache_free(struct mk_listcache *lc)
{
	if (!lc)
		return;
	if (lc->started) {
		mk_store_watch_cancel(lc->w);
		pthread_join(lc->thread, NULL);
	}
	mk_store_watch_free(lc->w);
	mk_hmap_release(&lc->res, rcache_free);
	for (size_t i = 0; i < LC_SNAPS; i++)
		snap_clear(&lc->snaps[i]);
	pthread_mutex_destroy(&lc->snap_lock);
	pthread_mutex_destroy(&lc->lock);
	pthread_cond_destroy(&lc->cond);
	free(lc);
}

/* Waits (lock held) until the cache has seen revision rv; false on timeout. */
static bool wait_rev(struct mk_listcache *lc, uint64_t rv, int timeout_ms)
{
	struct timespec deadline;
	mk_time_mono_deadline(&deadline, (uint64_t)timeout_ms);
	while (lc->rev < rv && !lc->dead) {
		if (pthread_cond_timedwait(&lc->cond, &lc->lock, &deadline) == ETIMEDOUT)
			return lc->rev >= rv;
	}
	return true;
}

/* The cache of resource, filled from the store on first use; NULL (the caller
 * lists from the store) if it could not be. Caller holds lc->lock; it is
 * released while the store lists. */
static struct rcache *rcache_get(struct mk_listcache *lc, const char *resource)
{
	if (lc->dead)
		return NULL;
	struct rcache *c = mk_hmap_get(&lc->res, resource);
	if (c)
		return c;

	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_store_list l = { 0 };
	pthread_mutex_unlock(&lc->lock);
	int rc = mk_store_list(lc->store, resource, NULL, NULL, NULL, &l, &err);
	struct rcache *n = NULL;
	if (rc == 0) {
		n = mk_malloc0(sizeof(*n));
		mk_hmap_init_type(&n->objs, &obj_key);
		n->base = l.rv;
		for (size_t i = 0; i < l.n; i++) {
			_cleanup_cjson_ cJSON *o = cJSON_Parse(l.items[i]);
			const char *ns = mk_json_get_string(o, "metadata.namespace");
			const char *name = mk_json_get_string(o, "metadata.name");
			struct lc_obj *ob = obj_new(ns, name, l.items[i]);
			l.items[i] = NULL; /* taken over */
			obj_unref(mk_hmap_put(&n->objs, ob->key, ob));
		}
		mk_store_list_release(&l);
	}
	pthread_mutex_lock(&lc->lock);
	if (!n || lc->dead) {
		rcache_free(n);
		return NULL;
	}
	if ((c = mk_hmap_get(&lc->res, resource))) {
		rcache_free(n); /* another list filled it meanwhile */
		return c;
	}
	/* the events of resource after the list that the thread has passed over */
	if (lc->rev > n->base) {
		struct mk_store_watch *w = NULL;
		if (mk_store_watch_new(lc->store, resource, NULL, n->base, &w, &err) < 0) {
			rcache_free(n);
			return NULL;
		}
		for (;;) {
			struct mk_store_event *ev = NULL;
			int r = mk_store_watch_next(w, 0, &ev, &err);
			if (r < 0) {
				mk_store_watch_free(w);
				rcache_free(n);
				return NULL;
			}
			if (r == 0 || ev->rv > lc->rev) {
				mk_store_event_unref(ev);
				break;
			}
			apply(n, ev);
			mk_store_event_unref(ev);
		}
		mk_store_watch_free(w);
		n->base = lc->rev;
	}
	mk_hmap_put(&lc->res, resource, n);
	return n;
}

static int cmp_obj(const void *a, const void *b)
{
	return strcmp((*(struct lc_obj *const *)a)->key, (*(struct lc_obj *const *)b)->key);
}

/* ---- the streamed response ---------------------------------------------------- */

/* A list body written as MHD asks for it: head, items joined by commas, tail.
 * The items are either cache objects (objs, a reference each) or store texts
 * (strs, owned); each is let go as soon as it has been written. */
struct lstream {
	char *head;
	size_t head_len;
	struct lc_obj **objs;
	char **strs;
	size_t n, i, off;	/* item i, its bytes from off */
	bool comma;		/* the comma before item i is still to write */
	size_t tail_off;	/* bytes of "]}" written */
	size_t head_off;
};

/* Copies up to max bytes of item i from s->off into buf; how many, and whether
 * the item is done. */
static size_t item_read(struct lstream *s, size_t i, char *buf, size_t max, bool *done)
{
	if (s->objs) {
		size_t k = obj_read(s->objs[i], s->off, buf, max);
		*done = s->off + k == s->objs[i]->len;
		return k;
	}
	size_t len = strlen(s->strs[i] + s->off), k = len < max ? len : max;
	memcpy(buf, s->strs[i] + s->off, k);
	*done = k == len;
	return k;
}

static void item_drop(struct lstream *s, size_t i)
{
	if (s->objs) {
		obj_unref(s->objs[i]);
		s->objs[i] = NULL;
	} else {
		free(s->strs[i]);
		s->strs[i] = NULL;
	}
}

static ssize_t lstream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct lstream *s = cls;
	size_t w = 0;
	(void)pos;

	while (w < max) {
		if (s->head_off < s->head_len) {
			size_t k = s->head_len - s->head_off;
			k = k < max - w ? k : max - w;
			memcpy(buf + w, s->head + s->head_off, k);
			s->head_off += k;
			w += k;
			continue;
		}
		if (s->i < s->n) {
			if (s->comma) {
				buf[w++] = ',';
				s->comma = false;
				continue;
			}
			bool done;
			size_t k = item_read(s, s->i, buf + w, max - w, &done);
			s->off += k;
			w += k;
			if (done) {
				item_drop(s, s->i);
				s->i++;
				s->off = 0;
				s->comma = s->i < s->n;
			}
			continue;
		}
		static const char tail[] = "]}";
		if (s->tail_off < 2) {
			buf[w++] = tail[s->tail_off++];
			continue;
		}
		break;
	}
	if (w == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return (ssize_t)w;
}

static void lstream_free(void *cls)
{
	struct lstream *s = cls;
	for (size_t i = s->i; i < s->n; i++)
		item_drop(s, i);
	free(s->objs);
	free(s->strs);
	free(s->head);
	free(s);
}

/* Replies 200 with the list: head (owned) then the n items of objs or strs (the
 * array and what it holds are taken over). */
static void reply_stream(struct mk_reply *rep, char *head, struct lc_obj **objs, char **strs,
			 size_t n)
{
	struct lstream *s = mk_malloc0(sizeof(*s));
	s->head = head;
	s->head_len = strlen(head);
	s->objs = objs;
	s->strs = strs;
	s->n = n;
	free(rep->body);
	rep->body = NULL;
	rep->code = 200;
	rep->content_type = "application/json";
	if (rep->buffered) { /* an in-process request: the whole body at once */
		struct mk_buf b;
		char chunk[64 * 1024];
		ssize_t got;
		mk_buf_init(&b);
		while ((got = lstream_read(s, 0, chunk, sizeof(chunk))) > 0)
			mk_buf_append(&b, chunk, (size_t)got);
		lstream_free(s);
		rep->body = mk_buf_steal(&b);
		return;
	}
	rep->stream = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, lstream_read,
							s, lstream_free);
	if (!rep->stream) {
		lstream_free(s);
		mk_reply_status(rep, 500, NULL, NULL, "cannot create the list response");
	}
}

static char *list_head(const struct mk_api_resource *r, uint64_t rv, const char *next,
		       long remaining)
{
	if (!next)
		return mk_strdup_printf("{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":"
					"{\"resourceVersion\":\"%llu\"},\"items\":[",
					r->kind, r->group_version, (unsigned long long)rv);
	if (remaining < 0)
		return mk_strdup_printf("{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":"
					"{\"resourceVersion\":\"%llu\",\"continue\":\"%s\"},"
					"\"items\":[",
					r->kind, r->group_version, (unsigned long long)rv, next);
	return mk_strdup_printf("{\"kind\":\"%sList\",\"apiVersion\":\"%s\",\"metadata\":"
				"{\"resourceVersion\":\"%llu\",\"continue\":\"%s\","
				"\"remainingItemCount\":%ld},\"items\":[",
				r->kind, r->group_version, (unsigned long long)rv, next, remaining);
}

void mk_list_reply_stream(struct mk_reply *rep, const struct mk_api_resource *r,
			  struct mk_store_list *l, const char *next, long remaining)
{
	char *head = list_head(r, l->rv, next, remaining);
	char **strs = l->items;
	size_t n = l->n;
	l->items = NULL;
	l->n = 0;
	reply_stream(rep, head, NULL, strs, n);
}

/* ---- lists ---------------------------------------------------------------------- */

static void page_reply(struct mk_listcache *lc, struct mk_reply *rep, const struct mk_api_resource *r,
		       const char *resource, const char *ns, const struct mk_list_selectors *f,
		       long limit, uint64_t rv, struct lc_obj **objs, size_t n, size_t from,
		       bool first, bool table);

int mk_listcache_list(struct mk_request *req, struct mk_reply *rep,
		      const struct mk_api_resource *r, const char *ns,
		      const struct mk_list_selectors *f, uint64_t min_rv, bool consistent)
{
	struct mk_listcache *lc = req->srv->listcache;
	const char *resource = mk_api_resource_store(r);
	const char *lim = mk_request_arg(req, "limit");
	long limit = lim && *lim ? strtol(lim, NULL, 10) : 0;

	if (!lc)
		return 0;
	if (consistent)
		min_rv = mk_store_revision(req->srv->store);
	pthread_mutex_lock(&lc->lock);
	if (min_rv && !wait_rev(lc, min_rv, WAIT_MS)) {
		uint64_t cur = lc->rev;
		bool dead = lc->dead;
		pthread_mutex_unlock(&lc->lock);
		if (consistent || dead)
			return 0; /* the store answers instead */
		mk_list_reply_too_large(rep, min_rv, cur);
		return 1;
	}
	struct rcache *c = rcache_get(lc, resource);
	if (!c) {
		pthread_mutex_unlock(&lc->lock);
		return 0;
	}
	uint64_t rv = lc->rev;
	size_t n = 0, plen = ns && *ns ? strlen(ns) : 0;
	struct lc_obj **objs = mk_malloc0(sizeof(*objs) * (c->objs.n + 1));
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&c->objs, &it))) {
		struct lc_obj *o = e->val;
		if (plen && (strncmp(o->key, ns, plen) != 0 || o->key[plen] != '\x01'))
			continue;
		objs[n++] = obj_ref(o);
	}
	pthread_mutex_unlock(&lc->lock);

	qsort(objs, n, sizeof(*objs), cmp_obj);
	page_reply(lc, rep, r, resource, ns, f, limit, rv, objs, n, 0, true, mk_request_wants_table(req));
	return 1;
}

/* Replies with the page of sorted objs (n references) from index from: at most
 * limit items (0: all) that pass f. first: objs are a first page's, taken over
 * (kept as the list's snapshot when a next page follows); else a snapshot's,
 * borrowed. */
static void page_reply(struct mk_listcache *lc, struct mk_reply *rep, const struct mk_api_resource *r,
		       const char *resource, const char *ns, const struct mk_list_selectors *f,
		       long limit, uint64_t rv, struct lc_obj **objs, size_t n, size_t from,
		       bool first, bool table)
{
	bool filtered = f->labels || f->fields;
	size_t cap = limit > 0 && (size_t)limit < n - from ? (size_t)limit : n - from;
	struct lc_obj **page = mk_malloc0(sizeof(*page) * (cap + 1));
	size_t k = 0, i = from;
	bool more = false;
	for (; i < n; i++) {
		if (filtered && !obj_matches(objs[i], f))
			continue;
		if (limit > 0 && k == (size_t)limit) {
			more = true; /* one more matches: there is a next page */
			break;
		}
		page[k++] = obj_ref(objs[i]);
	}
	_cleanup_free_ char *next = more ? mk_list_token_encode(rv, page[k - 1]->key) : NULL;
	/* remainingItemCount: what follows the page, when no selector filters it */
	long remaining = next && !filtered ? (long)(n - i) : -1;
	if (table) { /* the rows are made from the texts */
		struct mk_store_list l = { .items = mk_malloc0(sizeof(char *) * (k + 1)), .n = k,
					   .rv = rv };
		for (size_t j = 0; j < k; j++) {
			l.items[j] = obj_text(page[j]);
			obj_unref(page[j]);
		}
		free(page);
		mk_list_reply_table(rep, r, &l, next, remaining);
	} else {
		reply_stream(rep, list_head(r, rv, next, remaining), page, NULL, k);
	}
	if (!first)
		return;
	if (next) {
		snap_keep(lc, resource, ns, rv, objs, n);
		return;
	}
	for (size_t j = 0; j < n; j++)
		obj_unref(objs[j]);
	free(objs);
}

int mk_listcache_continue(struct mk_request *req, struct mk_reply *rep,
			  const struct mk_api_resource *r, const char *ns,
			  const struct mk_list_selectors *f)
{
	struct mk_listcache *lc = req->srv->listcache;
	const char *resource = mk_api_resource_store(r);
	const char *lim = mk_request_arg(req, "limit");
	long limit = lim && *lim ? strtol(lim, NULL, 10) : 0;
	uint64_t rv;
	_cleanup_free_ char *start = NULL;

	if (!lc || mk_list_token_decode(mk_request_arg(req, "continue"), &rv, &start) < 0)
		return 0; /* the store's paging answers a bad token (400) */
	pthread_mutex_lock(&lc->snap_lock);
	struct lc_snap *sn = NULL;
	for (size_t i = 0; i < LC_SNAPS && !sn; i++) {
		struct lc_snap *x = &lc->snaps[i];
		if (x->resource && x->rv == rv && !strcmp(x->resource, resource) &&
		    !strcmp(x->ns, ns ? ns : ""))
			sn = x;
	}
	if (!sn) {
		pthread_mutex_unlock(&lc->snap_lock);
		return 0;
	}
	sn->used_ns = mk_time_mono_ns();
	/* the first key after start */
	size_t lo = 0, hi = sn->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(sn->objs[mid]->key, start) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the page's references are taken under the lock; the snapshot may go after */
	page_reply(lc, rep, r, resource, ns, f, limit, rv, sn->objs, sn->n, lo, false,
		   mk_request_wants_table(req));
	pthread_mutex_unlock(&lc->snap_lock);
	return 1;
}

/* ---- reads for admission ------------------------------------------------------------ */

/* Takes the lock with resource's cache up to date with every write of it the store
 * has acknowledged (read-your-writes within the server); NULL (lock released)
 * when it cannot be. */
static struct rcache *current(struct mk_listcache *lc, const char *resource)
{
	uint64_t need = mk_store_resource_revision(lc->store, resource);
	pthread_mutex_lock(&lc->lock);
	struct rcache *c = wait_rev(lc, need, WAIT_MS) ? rcache_get(lc, resource) : NULL;
	if (!c)
		pthread_mutex_unlock(&lc->lock);
	return c;
}

int mk_listcache_get(struct mk_apiserver *srv, const char *resource, const char *ns,
		     const char *name, char **ret_json)
{
	struct mk_listcache *lc = srv->listcache;
	struct rcache *c = lc ? current(lc, resource) : NULL;
	if (!c)
		return 0;
	_cleanup_free_ char *key = mk_strdup_printf("%s\x01%s", ns ? ns : "", name);
	struct lc_obj *o = mk_hmap_get(&c->objs, key);
	if (o)
		obj_ref(o);
	pthread_mutex_unlock(&lc->lock);
	char *json = o ? obj_text(o) : NULL; /* copied outside the lock */
	obj_unref(o);
	if (!json)
		return -1;
	*ret_json = json;
	return 1;
}

int mk_listcache_load(struct mk_apiserver *srv, const char *resource, const char *ns,
		      struct mk_store_list *ret)
{
	struct mk_listcache *lc = srv->listcache;
	struct rcache *c = lc ? current(lc, resource) : NULL;
	if (!c)
		return 0;
	size_t plen = strlen(ns ? ns : ""), n = 0;
	struct lc_obj **objs = NULL;
	size_t cap = 0;
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&c->objs, &it))) {
		struct lc_obj *o = e->val;
		if (strncmp(o->key, ns ? ns : "", plen) != 0 || o->key[plen] != '\x01')
			continue;
		MK_GROW(objs, cap, n + 1);
		objs[n++] = obj_ref(o);
	}
	ret->rv = lc->rev;
	pthread_mutex_unlock(&lc->lock);
	/* in the store's (namespace, name) order */
	if (n > 1)
		qsort(objs, n, sizeof(*objs), cmp_obj);
	ret->items = mk_malloc0(sizeof(char *) * (n + 1));
	for (size_t i = 0; i < n; i++) {
		ret->items[i] = obj_text(objs[i]);
		obj_unref(objs[i]);
	}
	free(objs);
	ret->n = n;
	return 1;
}
