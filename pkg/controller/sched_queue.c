/* The scheduling queue, after kube-scheduler's PriorityQueue
 * (pkg/scheduler/backend/queue/scheduling_queue.go):
 *   - activeQ: pods ready to be tried, a binary heap ordered by spec.priority
 *     (higher first), then by arrival (FIFO within a priority; a pod that failed
 *     counts as arriving when it failed, as kube's queue timestamp); O(log n);
 *   - backoffQ: pods that failed and wait out their back-off, a heap ordered by
 *     the time the back-off ends (1 s doubled per attempt up to 10 s, kube's
 *     podInitialBackoffDuration and podMaxBackoffDuration);
 *   - unschedulablePods: pods that fit nowhere; they stay there until an event that
 *     may make them fit (a node added or changed, a bound pod gone) moves them all
 *     back (to backoffQ while their back-off runs, else to activeQ), or until they
 *     have waited 5 minutes there (podMaxInUnschedulablePodsDuration).
 * A pod being tried is "in flight": a move event or an update of the pod while it
 * is tried sends it to backoffQ instead of unschedulablePods if it fails (kube's
 * moveRequestCycle), so the event is not lost. No operation walks every pod: the
 * unschedulable ones are a list in the order they entered it, so a move event walks
 * only them and the 5-minute flush only those at its head that are due (with tens of
 * thousands of pods pending, a walk of every pod each second held the lock the
 * informer's handlers wait on). Locking: one mutex and condition inside. */
#include <errno.h>
#include <string.h>
#include "internal.h"

enum where { Q_NONE, Q_ACTIVE, Q_BACKOFF, Q_UNSCHED, Q_INFLIGHT };

struct qentry {
	char *key;
	int32_t prio;
	uint64_t seq;		/* order of arrival, or of the last failure */
	uint64_t backoff_end;	/* ms: when the back-off of the last failure ends */
	uint64_t unsched_since; /* ms: when it entered unschedulablePods */
	unsigned attempts;	/* failed attempts since the last success */
	enum where where;
	size_t hidx;  /* index in its heap */
	struct qentry *uprev, *unext; /* in unschedulablePods: the list, oldest first */
	bool moved;   /* in flight: an event or an update came meanwhile */
	bool deleted; /* in flight: the pod went away meanwhile */
};

struct heap {
	struct qentry **v;
	size_t n, cap;
	bool (*less)(const struct qentry *a, const struct qentry *b);
};

struct sched_queue {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct mk_hmap entries; /* key -> struct qentry (every pod the queue knows) */
	struct heap active, backoff;
	size_t nunsched;
	struct qentry *uhead, *utail; /* unschedulablePods, by unsched_since */
	uint64_t seq;
	uint64_t cycle;		     /* scheduling cycles started (pops) */
	uint64_t move_cycle;	     /* the cycle current when the last move event came */
	bool shutdown;
	uint64_t (*now)(void *ud);
	void *now_ud;
};

#define BACKOFF_INITIAL_MS 1000
#define BACKOFF_MAX_MS 10000
#define UNSCHED_MAX_MS (5 * 60 * 1000)

/* ---- heaps -------------------------------------------------------------------------- */

static bool active_less(const struct qentry *a, const struct qentry *b)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return a->seq < b->seq;
}

static bool backoff_less(const struct qentry *a, const struct qentry *b)
{
	if (a->backoff_end != b->backoff_end)
		return a->backoff_end < b->backoff_end;
	return a->seq < b->seq;
}

static void heap_set(struct heap *h, size_t i, struct qentry *e)
{
	h->v[i] = e;
	e->hidx = i;
}

static void heap_up(struct heap *h, size_t i)
{
	struct qentry *e = h->v[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!h->less(e, h->v[p]))
			break;
		heap_set(h, i, h->v[p]);
		i = p;
	}
	heap_set(h, i, e);
}

static void heap_down(struct heap *h, size_t i)
{
	struct qentry *e = h->v[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->less(h->v[c + 1], h->v[c]))
			c++;
		if (!h->less(h->v[c], e))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	heap_set(h, i, e);
}

static void heap_push(struct heap *h, struct qentry *e)
{
	MK_GROW(h->v, h->cap, h->n + 1);
	heap_set(h, h->n++, e);
	heap_up(h, h->n - 1);
}

static void heap_remove(struct heap *h, struct qentry *e)
{
	size_t i = e->hidx;
	struct qentry *last = h->v[--h->n];
	if (i == h->n)
		return;
	heap_set(h, i, last);
	heap_up(h, i);
	heap_down(h, last->hidx);
}

/* ---- moves between the queues (locked) -------------------------------------------------- */

static void unlink_entry(struct sched_queue *q, struct qentry *e);

static void unsched_unlink(struct sched_queue *q, struct qentry *e)
{
	if (e->uprev)
		e->uprev->unext = e->unext;
	else
		q->uhead = e->unext;
	if (e->unext)
		e->unext->uprev = e->uprev;
	else
		q->utail = e->uprev;
	e->uprev = e->unext = NULL;
	q->nunsched--;
}

/* To unschedulablePods, at the tail: the list stays in unsched_since order. */
static void to_unsched(struct sched_queue *q, struct qentry *e, uint64_t now)
{
	unlink_entry(q, e);
	e->where = Q_UNSCHED;
	e->unsched_since = now;
	e->uprev = q->utail;
	e->unext = NULL;
	if (q->utail)
		q->utail->unext = e;
	else
		q->uhead = e;
	q->utail = e;
	q->nunsched++;
}

static void unlink_entry(struct sched_queue *q, struct qentry *e)
{
	if (e->where == Q_ACTIVE)
		heap_remove(&q->active, e);
	else if (e->where == Q_BACKOFF)
		heap_remove(&q->backoff, e);
	else if (e->where == Q_UNSCHED)
		unsched_unlink(q, e);
	e->where = Q_NONE;
}

static void to_active(struct sched_queue *q, struct qentry *e)
{
	unlink_entry(q, e);
	e->where = Q_ACTIVE;
	heap_push(&q->active, e);
	pthread_cond_signal(&q->cond);
}

/* To backoffQ while its back-off runs, else to activeQ. */
static void to_backoff_or_active(struct sched_queue *q, struct qentry *e, uint64_t now)
{
	if (e->backoff_end <= now) {
		to_active(q, e);
		return;
	}
	unlink_entry(q, e);
	e->where = Q_BACKOFF;
	heap_push(&q->backoff, e);
	pthread_cond_signal(&q->cond); /* the waiter may need an earlier deadline */
}

static void entry_free(void *v)
{
	struct qentry *e = v;
	if (e) {
		free(e->key);
		free(e);
	}
}

static void drop(struct sched_queue *q, struct qentry *e)
{
	unlink_entry(q, e);
	mk_hmap_del(&q->entries, e->key);
	entry_free(e);
}

/* Back-offs that ended go to activeQ, pods unschedulable for too long too. */
static void flush(struct sched_queue *q, uint64_t now)
{
	while (q->backoff.n && q->backoff.v[0]->backoff_end <= now)
		to_active(q, q->backoff.v[0]);
}

static uint64_t clock_mono(void *ud)
{
	return mk_time_mono_ms();
}

/* ---- API ------------------------------------------------------------------------------- */

struct sched_queue *sched_queue_new(void)
{
	struct sched_queue *q = mk_malloc0(sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	mk_hmap_init(&q->entries);
	q->active.less = active_less;
	q->backoff.less = backoff_less;
	q->now = clock_mono;
	return q;
}

void sched_queue_free(struct sched_queue *q)
{
	if (!q)
		return;
	mk_hmap_release(&q->entries, entry_free);
	free(q->active.v);
	free(q->backoff.v);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

void sched_queue_set_clock(struct sched_queue *q, uint64_t (*now)(void *ud), void *ud)
{
	q->now = now;
	q->now_ud = ud;
}

void sched_queue_add(struct sched_queue *q, const char *key, int32_t priority)
{
	pthread_mutex_lock(&q->mu);
	uint64_t now = q->now(q->now_ud);
	struct qentry *e = mk_hmap_get(&q->entries, key);
	if (!e) {
		e = mk_malloc0(sizeof(*e));
		e->key = mk_strdup(key);
		e->prio = priority;
		e->seq = ++q->seq;
		mk_hmap_put(&q->entries, key, e);
		to_active(q, e);
	} else if (e->where == Q_INFLIGHT) {
		e->prio = priority;
		e->moved = true; /* the pod changed while it was tried: try it again */
	} else if (e->where == Q_UNSCHED) {
		/* an update may make it fit (kube: isPodUpdated) */
		e->prio = priority;
		to_backoff_or_active(q, e, now);
	} else if (e->where == Q_ACTIVE && e->prio != priority) {
		heap_remove(&q->active, e);
		e->prio = priority;
		heap_push(&q->active, e);
	} else {
		e->prio = priority;
	}
	pthread_mutex_unlock(&q->mu);
}

/* Locked: a failed attempt; the back-off doubles per attempt, 1 s to 10 s. Among
 * equal priorities, pods go back in the order they failed (kube's queue timestamp). */
static void backoff_start(struct sched_queue *q, struct qentry *e, uint64_t now)
{
	e->seq = ++q->seq;
	e->attempts++;
	uint64_t d = BACKOFF_INITIAL_MS;
	for (unsigned i = 1; i < e->attempts && d < BACKOFF_MAX_MS; i++)
		d *= 2;
	e->backoff_end = now + (d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS);
}

void sched_queue_add_failed(struct sched_queue *q, const char *key, int32_t priority)
{
	pthread_mutex_lock(&q->mu);
	uint64_t now = q->now(q->now_ud);
	struct qentry *e = mk_hmap_get(&q->entries, key);
	if (!e) {
		e = mk_malloc0(sizeof(*e));
		e->key = mk_strdup(key);
		mk_hmap_put(&q->entries, key, e);
	}
	e->prio = priority;
	if (e->where == Q_INFLIGHT) {
		e->moved = true;
	} else if (e->where != Q_ACTIVE && e->where != Q_BACKOFF) {
		backoff_start(q, e, now);
		to_backoff_or_active(q, e, now);
	}
	pthread_mutex_unlock(&q->mu);
}

void sched_queue_delete(struct sched_queue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct qentry *e = mk_hmap_get(&q->entries, key);
	if (e && e->where == Q_INFLIGHT)
		e->deleted = true;
	else if (e)
		drop(q, e);
	pthread_mutex_unlock(&q->mu);
}

void sched_queue_move_all(struct sched_queue *q)
{
	pthread_mutex_lock(&q->mu);
	uint64_t now = q->now(q->now_ud);
	q->move_cycle = q->cycle;
	while (q->uhead)
		to_backoff_or_active(q, q->uhead, now);
	/* pods in flight learn of the event through the move cycle */
	pthread_mutex_unlock(&q->mu);
}

/* Pods unschedulable for longer than UNSCHED_MAX_MS go back (kube flushes them
 * every 30 s): the due ones are at the head of the list, so this costs what it
 * moves. */
static void flush_unschedulable(struct sched_queue *q, uint64_t now)
{
	while (q->uhead && now >= q->uhead->unsched_since &&
	       now - q->uhead->unsched_since >= UNSCHED_MAX_MS)
		to_backoff_or_active(q, q->uhead, now);
}

int sched_queue_pop(struct sched_queue *q, int timeout_ms, char **ret_key, uint64_t *ret_cycle)
{
	int ret = 0;
	pthread_mutex_lock(&q->mu);
	uint64_t start = q->now(q->now_ud);
	for (;;) {
		uint64_t now = q->now(q->now_ud);
		flush(q, now);
		flush_unschedulable(q, now);
		if (q->shutdown) {
			ret = -1;
			break;
		}
		if (q->active.n) {
			struct qentry *e = q->active.v[0];
			unlink_entry(q, e);
			e->where = Q_INFLIGHT;
			e->moved = e->deleted = false;
			*ret_key = mk_strdup(e->key);
			*ret_cycle = ++q->cycle;
			ret = 1;
			break;
		}
		if (timeout_ms >= 0 && now - start >= (uint64_t)timeout_ms)
			break;
		/* sleep until a push, the first back-off's end, or at most a second */
		uint64_t wait = 1000;
		if (q->backoff.n && q->backoff.v[0]->backoff_end - now < wait)
			wait = q->backoff.v[0]->backoff_end - now;
		if (timeout_ms >= 0 && start + (uint64_t)timeout_ms - now < wait)
			wait = start + (uint64_t)timeout_ms - now;
		struct timespec ts;
		mk_time_mono_deadline(&ts, wait ? wait : 1);
		pthread_cond_timedwait(&q->cond, &q->mu, &ts);
	}
	pthread_mutex_unlock(&q->mu);
	return ret;
}

void sched_queue_done(struct sched_queue *q, const char *key, uint64_t cycle,
		      enum sched_outcome outcome)
{
	pthread_mutex_lock(&q->mu);
	uint64_t now = q->now(q->now_ud);
	struct qentry *e = mk_hmap_get(&q->entries, key);
	if (!e || e->where != Q_INFLIGHT)
		goto out;
	if (e->deleted || outcome == SCHED_DONE) {
		drop(q, e);
		goto out;
	}
	backoff_start(q, e, now);
	if (outcome == SCHED_UNSCHEDULABLE && !e->moved && q->move_cycle < cycle) {
		to_unsched(q, e, now);
	} else {
		/* an error, or an event came while it was tried: retry after the back-off */
		to_backoff_or_active(q, e, now);
	}
out:
	pthread_mutex_unlock(&q->mu);
}

void sched_queue_shutdown(struct sched_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

void sched_queue_counts(struct sched_queue *q, size_t *ret_active, size_t *ret_backoff,
			size_t *ret_unsched)
{
	pthread_mutex_lock(&q->mu);
	*ret_active = q->active.n;
	*ret_backoff = q->backoff.n;
	*ret_unsched = q->nunsched;
	pthread_mutex_unlock(&q->mu);
}
