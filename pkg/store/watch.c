/* Watch: the in-memory ring of recent events and watchers reading it.
 *
 * Revisions are consecutive (every successful write takes the next one and records
 * exactly one event), so the event at revision rv lives in ring[rv % ring_cap].
 * A watcher is a position (the last revision it has seen); it reads the ring under
 * ev_lock, or the events table when it is behind the ring but still inside the
 * kept window (see internal.h). Engine-independent: the history comes from the
 * backend (backend.h, ops.events). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

enum watch_hint { HINT_NONE, HINT_NAME, HINT_KEY };

struct mk_store_watch {
	struct mk_store *s;
	char *resource, *ns; /* NULL: any */
	uint64_t pos;	     /* last revision delivered or skipped; under ev_lock */
	int cancelled;	     /* under ev_lock */
	/* the hint (mk_store_watch_hint_*): set before the first next, then read-only */
	enum watch_hint hint;
	char *hint_key, *hint_value;
	char *wkey; /* the waiter list it sleeps on (s->waitq) */
	/* under ev_lock: while waiting, the watcher is on its list in s->waitq and on
	 * s->waiting; wake_rv is the first revision it was woken for (0: none) */
	pthread_cond_t cond;
	int waiting;
	uint64_t wake_rv;
	struct mk_store_watch *qnext, **qprev;
	struct mk_store_watch *anext, **aprev;
	/* events read from the table for a watcher behind the ring (owner thread only) */
	struct mk_store_event **pend;
	size_t npend, ipend;
};

struct mk_store_event *store_event_new(uint64_t rv, enum mk_store_event_type type,
				       const char *resource, const char *ns, const char *name,
				       char *json)
{
	struct mk_store_event *ev = mk_malloc0(sizeof(*ev));
	ev->rv = rv;
	ev->type = type;
	ev->resource = mk_strdup(resource);
	ev->ns = mk_strdup(ns);
	ev->name = mk_strdup(name);
	ev->json = json;
	ev->refs = 1;
	return ev;
}

struct mk_store_event *store_event_ref(struct mk_store_event *ev)
{
	__atomic_add_fetch(&ev->refs, 1, __ATOMIC_RELAXED);
	return ev;
}

struct mk_store_event *mk_store_event_ref(struct mk_store_event *ev)
{
	return store_event_ref(ev);
}

void mk_store_event_unref(struct mk_store_event *ev)
{
	if (!ev || __atomic_sub_fetch(&ev->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(ev->resource);
	free(ev->ns);
	free(ev->name);
	free(ev->json);
	free(ev->old_json);
	free(ev);
}

const char *mk_store_event_type_name(enum mk_store_event_type t)
{
	switch (t) {
	case MK_STORE_ADDED:
		return "ADDED";
	case MK_STORE_MODIFIED:
		return "MODIFIED";
	case MK_STORE_DELETED:
		return "DELETED";
	}
	return "UNKNOWN";
}

static size_t event_bytes(const struct mk_store_event *ev)
{
	return (ev->json ? strlen(ev->json) : 0) + (ev->old_json ? strlen(ev->old_json) : 0);
}

/* Empties the slot of revision rv. Caller holds ev_lock (or is the only thread). */
static void ring_drop(struct mk_store *s, uint64_t rv)
{
	struct mk_store_event **slot = &s->ring[rv % s->ring_cap];
	if (*slot) {
		s->ring_bytes -= event_bytes(*slot);
		mk_store_event_unref(*slot);
		*slot = NULL;
	}
}

/* Caller holds ev_lock (or is the only thread, at open). */
static void ring_append(struct mk_store *s, struct mk_store_event *ev)
{
	ring_drop(s, ev->rv);
	s->ring[ev->rv % s->ring_cap] = ev;
	s->ring_bytes += event_bytes(ev);
	struct mk_hmap_entry *e = mk_hmap_find(&s->res_rev, ev->resource);
	if (e)
		e->val = (void *)(uintptr_t)ev->rv;
	else
		mk_hmap_put(&s->res_rev, ev->resource, (void *)(uintptr_t)ev->rv);
	if (ev->rv >= s->ring_cap && s->ring_first < ev->rv - s->ring_cap + 1)
		s->ring_first = ev->rv - s->ring_cap + 1;
	/* over its bytes: the oldest go (watchers behind read them from the backend) */
	while (s->ring_bytes > s->ring_bytes_max && s->ring_first < ev->rv)
		ring_drop(s, s->ring_first++);
	__atomic_store_n(&s->rev, ev->rv, __ATOMIC_RELEASE);
}

/* ---- targeted wakeups --------------------------------------------------------
 * Each watcher sleeps on its own condition variable, on one waiter list keyed by
 * what it wants (s->waitq): "*" (any resource), "r<US>RESOURCE", or with a hint
 * "n<US>RESOURCE<US>NAME" / "k<US>RESOURCE<US>KEY<US>VALUE". A publication looks
 * up the lists its events can interest and wakes only those: one shared condvar
 * woke every watch thread for every event (at 1,000 hollow nodes, ~1,000 pod
 * watches each woken to drop the other nodes' pods). The lists are a superset of
 * interest, never less: the namespace is left to the watcher, and an event whose
 * hinted value cannot be read plainly wakes every watcher of that key. */
#define US "\x1f"

struct waitq {
	struct mk_store_watch *head;
};

/* The next occurrence of the key "key": in json after *p: 1 with its string value
 * in v/len, 0 when there is none, -1 when the value is not a plain string (null, a
 * number, an object, escapes). Keys inside strings are escaped (\"key\") and so
 * never taken; whitespace around the colon is allowed. Like the API's text
 * prefilter, it relies on keys being written unescaped (cJSON prints them so). */
static int next_value(const char *json, const char **p, const char *key, size_t kl,
		      const char **v, size_t *len)
{
	for (const char *k; (k = strstr(*p, key));) {
		*p = k + kl;
		if (k == json || k[-1] != '"' || k[kl] != '"')
			continue;
		const char *c = k + kl + 1;
		while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
			c++;
		if (*c != ':')
			continue;
		c++;
		while (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')
			c++;
		if (*c != '"')
			return -1;
		const char *e = ++c;
		while (*e && *e != '"' && *e != '\\')
			e++;
		if (*e != '"')
			return -1;
		*v = c;
		*len = (size_t)(e - c);
		*p = e;
		return 1;
	}
	return 0;
}

/* json may hold key: value (or a value it cannot read plainly) */
static int text_may_have(const char *json, const char *key, const char *value)
{
	size_t kl = strlen(key), vl = strlen(value), len;
	const char *p = json, *v;
	int r;

	if (!json)
		return 0;
	while ((r = next_value(json, &p, key, kl, &v, &len)) != 0)
		if (r < 0 || (len == vl && memcmp(v, value, vl) == 0))
			return 1;
	return 0;
}

static int matches(const struct mk_store_watch *w, const struct mk_store_event *ev)
{
	return (!w->resource || strcmp(w->resource, ev->resource) == 0) &&
	       (!w->ns || strcmp(w->ns, ev->ns) == 0);
}

/* What the watch returns: its resource and namespace, and the hint's superset. */
static int interested(const struct mk_store_watch *w, const struct mk_store_event *ev)
{
	if (!matches(w, ev))
		return 0;
	switch (w->hint) {
	case HINT_NAME:
		return !ev->name || strcmp(ev->name, w->hint_value) == 0;
	case HINT_KEY:
		return text_may_have(ev->json, w->hint_key, w->hint_value) ||
		       text_may_have(ev->old_json, w->hint_key, w->hint_value);
	default:
		return 1;
	}
}

static char *wait_key(const struct mk_store_watch *w)
{
	if (!w->resource)
		return mk_strdup("*");
	switch (w->hint) {
	case HINT_NAME:
		return mk_strdup_printf("n" US "%s" US "%s", w->resource, w->hint_value);
	case HINT_KEY:
		return mk_strdup_printf("k" US "%s" US "%s" US "%s", w->resource, w->hint_key,
					w->hint_value);
	default:
		return mk_strdup_printf("r" US "%s", w->resource);
	}
}

static void wake(struct mk_store_watch *w, uint64_t rv)
{
	if (w->wake_rv)
		return; /* signalled already; the first revision is what it resumes at */
	w->wake_rv = rv;
	pthread_cond_signal(&w->cond);
}

static void wake_list(struct mk_store *s, const char *key, uint64_t rv)
{
	struct waitq *q = mk_hmap_get(&s->waitq, key);
	for (struct mk_store_watch *w = q ? q->head : NULL; w; w = w->qnext)
		wake(w, rv);
}

static void wake_keyf(struct mk_store *s, uint64_t rv, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void wake_keyf(struct mk_store *s, uint64_t rv, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(buf)) {
		wake_list(s, buf, rv);
		return;
	}
	char *big = mk_malloc0((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	wake_list(s, big, rv);
	free(big);
}

/* The value of a hinted event could not be read: every watcher of that kind of
 * hint (and key) on the resource. */
static void wake_hinted(struct mk_store *s, const struct mk_store_event *ev, enum watch_hint h,
			const char *key)
{
	for (struct mk_store_watch *w = s->waiting; w; w = w->anext)
		if (w->hint == h && w->resource && !strcmp(w->resource, ev->resource) &&
		    (!key || !strcmp(w->hint_key, key)))
			wake(w, ev->rv);
}

static void wake_text(struct mk_store *s, const struct mk_store_event *ev, const char *key,
		      const char *json)
{
	size_t kl = strlen(key), len;
	const char *p = json, *v;
	int r;

	if (!json)
		return;
	while ((r = next_value(json, &p, key, kl, &v, &len)) > 0)
		wake_keyf(s, ev->rv, "k" US "%s" US "%s" US "%.*s", ev->resource, key, (int)len, v);
	if (r < 0)
		wake_hinted(s, ev, HINT_KEY, key);
}

/* Wakes the watchers ev may interest. Caller holds ev_lock. */
static void wake_for(struct mk_store *s, const struct mk_store_event *ev)
{
	if (!s->waiting)
		return;
	wake_list(s, "*", ev->rv);
	wake_keyf(s, ev->rv, "r" US "%s", ev->resource);
	if (s->n_name_hints && ev->name)
		wake_keyf(s, ev->rv, "n" US "%s" US "%s", ev->resource, ev->name);
	else if (s->n_name_hints)
		wake_hinted(s, ev, HINT_NAME, NULL);
	for (size_t i = 0; i < s->n_hint_keys; i++) {
		wake_text(s, ev, s->hint_keys[i].key, ev->json);
		wake_text(s, ev, s->hint_keys[i].key, ev->old_json);
	}
}

/* Every waiting watcher, to look again from rv (reset, close). Caller holds ev_lock. */
void store_watches_wake_all(struct mk_store *s, uint64_t rv)
{
	for (struct mk_store_watch *w = s->waiting; w; w = w->anext)
		wake(w, rv);
}

/* Caller holds ev_lock; w->pos == s->rev (everything published from now on
 * passes through wake_for while it is listed). */
static void wait_begin(struct mk_store *s, struct mk_store_watch *w)
{
	if (!w->wkey)
		w->wkey = wait_key(w);
	struct waitq *q = mk_hmap_get(&s->waitq, w->wkey);
	if (!q) {
		q = mk_malloc0(sizeof(*q));
		mk_hmap_put(&s->waitq, w->wkey, q);
	}
	w->qnext = q->head;
	if (q->head)
		q->head->qprev = &w->qnext;
	q->head = w;
	w->qprev = &q->head;
	w->anext = s->waiting;
	if (s->waiting)
		s->waiting->aprev = &w->anext;
	s->waiting = w;
	w->aprev = &s->waiting;
	w->waiting = 1;
	w->wake_rv = 0;
}

static void wait_end(struct mk_store *s, struct mk_store_watch *w)
{
	*w->qprev = w->qnext;
	if (w->qnext)
		w->qnext->qprev = w->qprev;
	*w->aprev = w->anext;
	if (w->anext)
		w->anext->aprev = w->aprev;
	struct waitq *q = mk_hmap_get(&s->waitq, w->wkey);
	if (q && !q->head)
		free(mk_hmap_del(&s->waitq, w->wkey));
	w->waiting = 0;
	/* nothing published while it was listed interested it before wake_rv: skip
	 * it unread (so a quiet watcher neither scans nor falls behind the ring) */
	uint64_t seen = w->wake_rv ? w->wake_rv - 1 : s->rev;
	if (seen > w->pos)
		w->pos = seen;
}

void store_events_publish(struct mk_store *s, struct mk_store_event **evs, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&s->ev_lock);
	for (size_t i = 0; i < n; i++) {
		ring_append(s, evs[i]);
		wake_for(s, evs[i]);
	}
	pthread_cond_broadcast(&s->ev_cond); /* store_wait_rev */
	pthread_mutex_unlock(&s->ev_lock);
}

size_t store_events_publish_next(struct mk_store *s, struct mk_store_event **evs, size_t n)
{
	size_t done = 0;
	pthread_mutex_lock(&s->ev_lock);
	for (size_t i = 0; i < n; i++) {
		if (evs[i]->rv == s->rev + 1) {
			ring_append(s, evs[i]);
			wake_for(s, evs[i]);
			done++;
		} else {
			mk_store_event_unref(evs[i]); /* published already, or after a hole */
		}
	}
	if (done)
		pthread_cond_broadcast(&s->ev_cond);
	pthread_mutex_unlock(&s->ev_lock);
	return done;
}

void store_events_reset(struct mk_store *s, uint64_t rev)
{
	pthread_mutex_lock(&s->ev_lock);
	if (rev > s->rev) {
		store_watches_wake_all(s, s->rev + 1);
		for (uint64_t i = s->ring_first; i <= s->rev; i++)
			ring_drop(s, i);
		s->ring_first = rev + 1;
		s->res_rev_floor = rev; /* any resource may have changed up to rev */
		__atomic_store_n(&s->rev, rev, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&s->ev_cond);
	}
	pthread_mutex_unlock(&s->ev_lock);
}

int store_events_load(struct mk_store *s, struct mk_error **err)
{
	uint64_t rev = s->committed;
	size_t cap = MK_STORE_DB_FETCH;
	struct mk_store_event **buf;

	s->ring_cap = s->window < MK_STORE_RING_MAX ? s->window : MK_STORE_RING_MAX;
	s->ring = mk_malloc0(s->ring_cap * sizeof(*s->ring));
	s->ring_first = rev + 1;
	s->rev = rev;
	s->res_rev_floor = rev;
	if (rev == 0)
		return 0;

	buf = mk_malloc0(cap * sizeof(*buf));
	uint64_t after = rev > s->ring_cap ? rev - s->ring_cap : 0;
	for (;;) {
		size_t n = 0;
		if (s->ops->events(s, after, rev + 1, cap, buf, &n, err) < 0) {
			free(buf);
			return mk_error_wrap(err, "load events");
		}
		for (size_t i = 0; i < n; i++) {
			uint64_t rv = buf[i]->rv;
			/* keep only a gap-free run that ends at rev */
			if (rv != s->rev + 1 && s->ring_first <= s->rev) {
				for (uint64_t j = s->ring_first; j <= s->rev; j++)
					ring_drop(s, j);
			}
			if (s->ring_first > s->rev || rv != s->rev + 1)
				s->ring_first = rv;
			ring_append(s, buf[i]);
		}
		if (n < cap)
			break;
		after = buf[n - 1]->rv;
	}
	free(buf);
	if (s->rev != rev) {
		/* the newest events are missing: serve none from memory */
		for (uint64_t i = s->ring_first; i <= s->rev; i++)
			ring_drop(s, i);
		s->rev = rev;
		s->ring_first = rev + 1;
	}
	return 0;
}

int store_wait_rev(struct mk_store *s, uint64_t rv, int timeout_ms)
{
	struct timespec deadline;
	int r = 0;

	mk_time_mono_deadline(&deadline, timeout_ms > 0 ? (uint64_t)timeout_ms : 0);
	pthread_mutex_lock(&s->ev_lock);
	while (s->rev < rv && !s->closing && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&s->ev_cond, &s->ev_lock, &deadline);
	r = s->rev >= rv ? 0 : -1;
	pthread_mutex_unlock(&s->ev_lock);
	return r;
}

uint64_t mk_store_resource_revision(struct mk_store *s, const char *resource)
{
	pthread_mutex_lock(&s->ev_lock);
	uint64_t rv = (uint64_t)(uintptr_t)mk_hmap_get(&s->res_rev, resource);
	if (rv < s->res_rev_floor)
		rv = s->res_rev_floor;
	pthread_mutex_unlock(&s->ev_lock);
	return rv;
}

void mk_store_ring_usage(struct mk_store *s, size_t *ret_events, size_t *ret_bytes)
{
	pthread_mutex_lock(&s->ev_lock);
	*ret_events = s->ring_first <= s->rev ? (size_t)(s->rev - s->ring_first + 1) : 0;
	*ret_bytes = s->ring_bytes;
	pthread_mutex_unlock(&s->ev_lock);
}

void store_events_release(struct mk_store *s)
{
	if (!s->ring)
		return;
	for (size_t i = 0; i < s->ring_cap; i++)
		mk_store_event_unref(s->ring[i]);
	free(s->ring);
	s->ring = NULL;
	mk_hmap_release(&s->waitq, free); /* empty: watches are freed before */
	for (size_t i = 0; i < s->n_hint_keys; i++)
		free(s->hint_keys[i].key);
	free(s->hint_keys);
	s->hint_keys = NULL;
	s->n_hint_keys = 0;
}

/* ---- watches -------------------------------------------------------------- */

static uint64_t oldest_kept(struct mk_store *s, uint64_t rev)
{
	return rev > s->window ? rev - s->window + 1 : 1;
}

int mk_store_watch_new(struct mk_store *s, const char *resource, const char *ns,
		       uint64_t after_rv, struct mk_store_watch **ret, struct mk_error **err)
{
	struct mk_store_watch *w;
	uint64_t pos;

	pthread_mutex_lock(&s->ev_lock);
	if (s->closing) {
		pthread_mutex_unlock(&s->ev_lock);
		return mk_error_set(err, ECANCELED, "store is closing");
	}
	pos = after_rv ? after_rv : s->rev;
	if (pos + 1 < oldest_kept(s, s->rev)) {
		uint64_t oldest = oldest_kept(s, s->rev);
		pthread_mutex_unlock(&s->ev_lock);
		return mk_error_set(err, ERANGE,
				    "watch revision %llu is too old: oldest kept revision is %llu",
				    (unsigned long long)after_rv, (unsigned long long)oldest);
	}
	w = mk_malloc0(sizeof(*w));
	w->s = s;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	w->resource = mk_strdup(resource);
	w->ns = mk_strdup(ns);
	w->pos = pos;
	pthread_mutex_unlock(&s->ev_lock);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* mk_time_mono_deadline */
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	*ret = w;
	return 0;
}

/* A hint fits a waiter key: a value free of the key separator (others stay
 * unhinted, which only costs wakeups). */
static bool hint_usable(const struct mk_store_watch *w, const char *value)
{
	return w->resource && w->hint == HINT_NONE && value && *value && !strchr(value, US[0]);
}

void mk_store_watch_hint_name(struct mk_store_watch *w, const char *name)
{
	if (!hint_usable(w, name))
		return;
	pthread_mutex_lock(&w->s->ev_lock);
	w->hint = HINT_NAME;
	w->hint_value = mk_strdup(name);
	w->s->n_name_hints++;
	pthread_mutex_unlock(&w->s->ev_lock);
}

void mk_store_watch_hint_key(struct mk_store_watch *w, const char *key, const char *value)
{
	struct mk_store *s = w->s;
	size_t i;

	if (!hint_usable(w, value) || !key || !*key || strchr(key, US[0]) || strchr(key, '"') ||
	    strchr(key, '\\'))
		return;
	pthread_mutex_lock(&s->ev_lock);
	w->hint = HINT_KEY;
	w->hint_key = mk_strdup(key);
	w->hint_value = mk_strdup(value);
	for (i = 0; i < s->n_hint_keys && strcmp(s->hint_keys[i].key, key); i++)
		;
	if (i == s->n_hint_keys) {
		struct store_hint_key *keys = mk_malloc0((i + 1) * sizeof(*keys));
		if (i)
			memcpy(keys, s->hint_keys, i * sizeof(*keys));
		free(s->hint_keys);
		s->hint_keys = keys;
		s->hint_keys[i].key = mk_strdup(key);
		s->hint_keys[i].refs = 0;
		s->n_hint_keys++;
	}
	s->hint_keys[i].refs++;
	pthread_mutex_unlock(&s->ev_lock);
}

/* Forgets w's hint in the store's counts. */
static void hint_drop(struct mk_store_watch *w)
{
	struct mk_store *s = w->s;

	pthread_mutex_lock(&s->ev_lock);
	if (w->hint == HINT_NAME)
		s->n_name_hints--;
	for (size_t i = 0; w->hint == HINT_KEY && i < s->n_hint_keys; i++) {
		if (strcmp(s->hint_keys[i].key, w->hint_key))
			continue;
		if (--s->hint_keys[i].refs == 0) {
			free(s->hint_keys[i].key);
			s->hint_keys[i] = s->hint_keys[--s->n_hint_keys];
		}
		break;
	}
	pthread_mutex_unlock(&s->ev_lock);
}

static void pend_clear(struct mk_store_watch *w)
{
	for (size_t i = w->ipend; i < w->npend; i++)
		mk_store_event_unref(w->pend[i]);
	w->npend = w->ipend = 0;
}

/* Reads events pos+1 .. below `below` from the backend (called without ev_lock). */
static int fetch_from_table(struct mk_store_watch *w, uint64_t pos, uint64_t below,
			    struct mk_error **err)
{
	struct mk_store *s = w->s;
	size_t n = 0, keep = 0;

	if (!w->pend)
		w->pend = mk_malloc0(MK_STORE_DB_FETCH * sizeof(*w->pend));
	w->npend = w->ipend = 0;
	if (s->ops->events(s, pos, below, MK_STORE_DB_FETCH, w->pend, &n, err) < 0)
		return -1;
	/* keep the run that starts at pos + 1; a hole means compacted under us */
	while (keep < n && w->pend[keep]->rv == pos + 1 + keep)
		keep++;
	for (size_t i = keep; i < n; i++)
		mk_store_event_unref(w->pend[i]);
	w->npend = keep;
	if (w->npend == 0)
		return mk_error_set(err, ERANGE,
				    "watch revision %llu is too old: its events were compacted",
				    (unsigned long long)pos);
	return 0;
}

int mk_store_watch_next(struct mk_store_watch *w, int timeout_ms, struct mk_store_event **ret_ev,
			struct mk_error **err)
{
	struct mk_store *s = w->s;
	struct timespec deadline;
	int timed_out = 0;

	if (timeout_ms > 0)
		mk_time_mono_deadline(&deadline, (uint64_t)timeout_ms);

	pthread_mutex_lock(&s->ev_lock);
	for (;;) {
		if (w->cancelled || s->closing) {
			pthread_mutex_unlock(&s->ev_lock);
			return mk_error_set(err, ECANCELED,
					    w->cancelled ? "watch cancelled" : "store is closing");
		}
		while (w->ipend < w->npend) {
			struct mk_store_event *ev = w->pend[w->ipend++];
			w->pos = ev->rv;
			if (interested(w, ev)) {
				pthread_mutex_unlock(&s->ev_lock);
				*ret_ev = ev;
				return 1;
			}
			mk_store_event_unref(ev);
		}
		if (w->pos < s->rev) {
			if (w->pos + 1 < oldest_kept(s, s->rev)) {
				uint64_t pos = w->pos, oldest = oldest_kept(s, s->rev);
				pthread_mutex_unlock(&s->ev_lock);
				return mk_error_set(err, ERANGE,
						    "watcher at revision %llu fell behind the kept "
						    "window (oldest kept revision is %llu)",
						    (unsigned long long)pos,
						    (unsigned long long)oldest);
			}
			if (w->pos + 1 >= s->ring_first) {
				struct mk_store_event *ev = s->ring[(w->pos + 1) % s->ring_cap];
				w->pos++;
				if (interested(w, ev)) {
					store_event_ref(ev);
					pthread_mutex_unlock(&s->ev_lock);
					*ret_ev = ev;
					return 1;
				}
				continue;
			}
			uint64_t pos = w->pos, below = s->ring_first;
			pthread_mutex_unlock(&s->ev_lock);
			if (fetch_from_table(w, pos, below, err) < 0)
				return -1;
			pthread_mutex_lock(&s->ev_lock);
			continue;
		}
		if (timeout_ms == 0 || timed_out) {
			pthread_mutex_unlock(&s->ev_lock);
			return 0;
		}
		wait_begin(s, w);
		if (timeout_ms < 0)
			pthread_cond_wait(&w->cond, &s->ev_lock);
		else if (pthread_cond_timedwait(&w->cond, &s->ev_lock, &deadline) == ETIMEDOUT)
			timed_out = 1; /* look once more, then report the timeout */
		wait_end(s, w);
	}
}

void mk_store_watch_cancel(struct mk_store_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->s->ev_lock);
	w->cancelled = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->s->ev_lock);
}

void mk_store_watch_free(struct mk_store_watch *w)
{
	if (!w)
		return;
	hint_drop(w);
	pend_clear(w);
	free(w->pend);
	pthread_cond_destroy(&w->cond);
	free(w->hint_key);
	free(w->hint_value);
	free(w->wkey);
	free(w->resource);
	free(w->ns);
	store_unref(w->s);
	free(w);
}
