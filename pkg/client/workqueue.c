/* A work queue with client-go's semantics (k8s.io/client-go/util/workqueue):
 * dirty set (dedup of queued keys), processing set (one worker per key), re-add
 * while processing (handed out again after done), delayed adds kept in a
 * min-heap and moved to the queue by whichever worker is waiting (its timed
 * wait ends at the earliest deadline), per-key exponential backoff. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <stdlib.h>
#include "minik8s/client.h"

#define SET ((void *)1)

struct delayed {
	uint64_t at;
	char *key;
};

struct mk_workqueue {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char **fifo;		/* [head, tail) ready keys, owned */
	size_t head, tail, cap;
	struct mk_hmap dirty, processing;
	struct mk_hmap delayed;	/* key -> (uintptr_t) deadline of its live heap entry */
	struct delayed *heap;
	size_t heap_n, heap_cap;
	struct mk_hmap failures;	/* key -> (uintptr_t) count */
	unsigned base_ms, max_ms;
	bool shutting_down;
};

struct mk_workqueue *mk_workqueue_new(unsigned base_delay_ms, unsigned max_delay_ms)
{
	struct mk_workqueue *q = mk_malloc0(sizeof(*q));
	pthread_mutex_init(&q->mu, NULL);
	mk_time_cond_init(&q->cond);
	mk_hmap_init(&q->dirty);
	mk_hmap_init(&q->processing);
	mk_hmap_init(&q->delayed);
	mk_hmap_init(&q->failures);
	q->base_ms = base_delay_ms ? base_delay_ms : 5;
	q->max_ms = max_delay_ms ? max_delay_ms : 60000;
	return q;
}

void mk_workqueue_free(struct mk_workqueue *q)
{
	if (!q)
		return;
	for (size_t i = q->head; i < q->tail; i++)
		free(q->fifo[i]);
	free(q->fifo);
	for (size_t i = 0; i < q->heap_n; i++)
		free(q->heap[i].key);
	free(q->heap);
	mk_hmap_release(&q->dirty, NULL);
	mk_hmap_release(&q->processing, NULL);
	mk_hmap_release(&q->delayed, NULL);
	mk_hmap_release(&q->failures, NULL);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

static void fifo_push(struct mk_workqueue *q, const char *key)
{
	if (q->tail == q->cap) {
		if (q->head > 0) {
			memmove(q->fifo, q->fifo + q->head, (q->tail - q->head) * sizeof(char *));
			q->tail -= q->head;
			q->head = 0;
		}
		MK_GROW(q->fifo, q->cap, q->tail + 1);
	}
	q->fifo[q->tail++] = mk_strdup(key);
}

/* Caller holds mu. */
static void add_locked(struct mk_workqueue *q, const char *key)
{
	if (q->shutting_down || mk_hmap_has(&q->dirty, key))
		return;
	mk_hmap_put(&q->dirty, key, SET);
	if (mk_hmap_has(&q->processing, key))
		return;
	fifo_push(q, key);
	pthread_cond_signal(&q->cond);
}

void mk_workqueue_add(struct mk_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	add_locked(q, key);
	pthread_mutex_unlock(&q->mu);
}

static void heap_swap(struct delayed *a, struct delayed *b)
{
	struct delayed t = *a;
	*a = *b;
	*b = t;
}

static void heap_push(struct mk_workqueue *q, uint64_t at, const char *key)
{
	MK_GROW(q->heap, q->heap_cap, q->heap_n + 1);
	size_t i = q->heap_n++;
	q->heap[i].at = at;
	q->heap[i].key = mk_strdup(key);
	while (i > 0 && q->heap[(i - 1) / 2].at > q->heap[i].at) {
		heap_swap(&q->heap[(i - 1) / 2], &q->heap[i]);
		i = (i - 1) / 2;
	}
}

static struct delayed heap_pop(struct mk_workqueue *q)
{
	struct delayed top = q->heap[0];
	q->heap[0] = q->heap[--q->heap_n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->heap_n && q->heap[l].at < q->heap[m].at)
			m = l;
		if (r < q->heap_n && q->heap[r].at < q->heap[m].at)
			m = r;
		if (m == i)
			break;
		heap_swap(&q->heap[i], &q->heap[m]);
		i = m;
	}
	return top;
}

void mk_workqueue_add_after(struct mk_workqueue *q, const char *key, uint64_t delay_ms)
{
	if (delay_ms == 0) {
		mk_workqueue_add(q, key);
		return;
	}
	uint64_t at = mk_time_mono_ms() + delay_ms;
	pthread_mutex_lock(&q->mu);
	if (!q->shutting_down) {
		struct mk_hmap_entry *e = mk_hmap_find(&q->delayed, key);
		/* an earlier pending deadline for the key wins */
		if (!e || (uint64_t)(uintptr_t)e->val > at) {
			mk_hmap_put(&q->delayed, key, (void *)(uintptr_t)at);
			heap_push(q, at, key);
			pthread_cond_broadcast(&q->cond); /* waiters recompute their deadline */
		}
	}
	pthread_mutex_unlock(&q->mu);
}

void mk_workqueue_add_rate_limited(struct mk_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	uintptr_t n = (uintptr_t)mk_hmap_get(&q->failures, key);
	mk_hmap_put(&q->failures, key, (void *)(n + 1));
	pthread_mutex_unlock(&q->mu);
	uint64_t d = q->base_ms;
	for (uintptr_t i = 0; i < n && d < q->max_ms; i++)
		d *= 2;
	if (d > q->max_ms)
		d = q->max_ms;
	mk_workqueue_add_after(q, key, d);
}

void mk_workqueue_forget(struct mk_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	mk_hmap_del(&q->failures, key);
	pthread_mutex_unlock(&q->mu);
}

unsigned mk_workqueue_num_requeues(struct mk_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	unsigned n = (unsigned)(uintptr_t)mk_hmap_get(&q->failures, key);
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Moves due delayed keys to the queue; returns ms until the next deadline (or
 * UINT64_MAX). Caller holds mu. */
static uint64_t promote_due(struct mk_workqueue *q)
{
	uint64_t now = mk_time_mono_ms();
	while (q->heap_n > 0) {
		if (q->heap[0].at > now)
			return q->heap[0].at - now;
		struct delayed d = heap_pop(q);
		struct mk_hmap_entry *e = mk_hmap_find(&q->delayed, d.key);
		if (e && (uint64_t)(uintptr_t)e->val == d.at) {
			mk_hmap_del(&q->delayed, d.key);
			add_locked(q, d.key);
		}
		free(d.key);
	}
	return UINT64_MAX;
}

int mk_workqueue_get(struct mk_workqueue *q, int timeout_ms, char **ret_key)
{
	uint64_t end = timeout_ms >= 0 ? mk_time_mono_ms() + (uint64_t)timeout_ms : UINT64_MAX;
	int rc;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->shutting_down) {
			rc = -1;
			break;
		}
		uint64_t next = promote_due(q);
		if (q->head < q->tail) {
			char *key = q->fifo[q->head++];
			if (q->head == q->tail)
				q->head = q->tail = 0;
			mk_hmap_put(&q->processing, key, SET);
			mk_hmap_del(&q->dirty, key);
			*ret_key = key;
			rc = 1;
			break;
		}
		uint64_t now = mk_time_mono_ms();
		if (now >= end) {
			rc = 0;
			break;
		}
		uint64_t wait = end - now;
		if (next < wait)
			wait = next;
		if (wait == UINT64_MAX) {
			pthread_cond_wait(&q->cond, &q->mu);
		} else {
			struct timespec ts;
			mk_time_mono_deadline(&ts, wait);
			pthread_cond_timedwait(&q->cond, &q->mu, &ts);
		}
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void mk_workqueue_done(struct mk_workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	mk_hmap_del(&q->processing, key);
	if (mk_hmap_has(&q->dirty, key) && !q->shutting_down) {
		fifo_push(q, key);
		pthread_cond_signal(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
}

void mk_workqueue_shutdown(struct mk_workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutting_down = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

void mk_client_stop_signal(pthread_mutex_t *mu, pthread_cond_t *cond, bool *stopping)
{
	pthread_mutex_lock(mu);
	*stopping = true;
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(mu);
}

size_t mk_workqueue_len(struct mk_workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->tail - q->head;
	pthread_mutex_unlock(&q->mu);
	return n;
}
