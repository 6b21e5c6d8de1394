/* Watch: the in-memory ring of recent events and watchers reading it.
 *
 * Revisions are consecutive (every successful write takes the next one and records
 * exactly one event), so the event at revision rv lives in ring[rv % ring_cap].
 * A watcher is a position (the last revision it has seen); it reads the ring under
 * ev_lock, or the events table when it is behind the ring but still inside the
 * kept window (see internal.h). Engine-independent: the history comes from the
 * backend (backend.h, ops.events). */
#include <errno.h>
#include <string.h>
#include "internal.h"

struct mk_store_watch {
	struct mk_store *s;
	char *resource, *ns; /* NULL: any */
	uint64_t pos;	     /* last revision delivered or skipped; under ev_lock */
	int cancelled;	     /* under ev_lock */
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

void store_events_publish(struct mk_store *s, struct mk_store_event **evs, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&s->ev_lock);
	for (size_t i = 0; i < n; i++)
		ring_append(s, evs[i]);
	pthread_cond_broadcast(&s->ev_cond);
	pthread_mutex_unlock(&s->ev_lock);
}

size_t store_events_publish_next(struct mk_store *s, struct mk_store_event **evs, size_t n)
{
	size_t done = 0;
	pthread_mutex_lock(&s->ev_lock);
	for (size_t i = 0; i < n; i++) {
		if (evs[i]->rv == s->rev + 1) {
			ring_append(s, evs[i]);
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
	*ret = w;
	return 0;
}

static int matches(const struct mk_store_watch *w, const struct mk_store_event *ev)
{
	return (!w->resource || strcmp(w->resource, ev->resource) == 0) &&
	       (!w->ns || strcmp(w->ns, ev->ns) == 0);
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
			if (matches(w, ev)) {
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
				if (matches(w, ev)) {
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
		if (timeout_ms < 0)
			pthread_cond_wait(&s->ev_cond, &s->ev_lock);
		else if (pthread_cond_timedwait(&s->ev_cond, &s->ev_lock, &deadline) == ETIMEDOUT)
			timed_out = 1; /* look once more, then report the timeout */
	}
}

void mk_store_watch_cancel(struct mk_store_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->s->ev_lock);
	w->cancelled = 1;
	pthread_cond_broadcast(&w->s->ev_cond);
	pthread_mutex_unlock(&w->s->ev_lock);
}

void mk_store_watch_free(struct mk_store_watch *w)
{
	if (!w)
		return;
	pend_clear(w);
	free(w->pend);
	free(w->resource);
	free(w->ns);
	store_unref(w->s);
	free(w);
}
