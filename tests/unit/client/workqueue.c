/* Work queue semantics (client-go's): dedup, one worker per key, re-add while
 * processing, delayed adds, rate limiting, shutdown. */
#include <check.h>
#include <pthread.h>
#include <string.h>
#include "minik8s/client.h"

static char *get_now(struct mk_workqueue *q)
{
	char *k = NULL;
	ck_assert_int_eq(mk_workqueue_get(q, 0, &k), 1);
	return k;
}

START_TEST(test_dedup_and_order)
{
	struct mk_workqueue *q = mk_workqueue_new(0, 0);
	mk_workqueue_add(q, "a");
	mk_workqueue_add(q, "b");
	mk_workqueue_add(q, "a");
	ck_assert_uint_eq(mk_workqueue_len(q), 2);
	char *k = get_now(q);
	ck_assert_str_eq(k, "a");
	mk_workqueue_done(q, k);
	free(k);
	k = get_now(q);
	ck_assert_str_eq(k, "b");
	mk_workqueue_done(q, k);
	free(k);
	char *none = NULL;
	ck_assert_int_eq(mk_workqueue_get(q, 0, &none), 0);
	ck_assert_ptr_null(none);
	mk_workqueue_free(q);
}
END_TEST

START_TEST(test_processing_not_handed_twice)
{
	struct mk_workqueue *q = mk_workqueue_new(0, 0);
	mk_workqueue_add(q, "a");
	char *k = get_now(q);
	/* re-added while processing: not handed out until done */
	mk_workqueue_add(q, "a");
	mk_workqueue_add(q, "a");
	char *other = NULL;
	ck_assert_int_eq(mk_workqueue_get(q, 20, &other), 0);
	mk_workqueue_done(q, k);
	free(k);
	k = get_now(q);
	ck_assert_str_eq(k, "a");
	mk_workqueue_done(q, k);
	free(k);
	ck_assert_int_eq(mk_workqueue_get(q, 0, &other), 0);
	mk_workqueue_free(q);
}
END_TEST

START_TEST(test_done_without_readd)
{
	struct mk_workqueue *q = mk_workqueue_new(0, 0);
	mk_workqueue_add(q, "a");
	char *k = get_now(q), *other = NULL;
	mk_workqueue_done(q, k);
	free(k);
	ck_assert_int_eq(mk_workqueue_get(q, 10, &other), 0);
	mk_workqueue_free(q);
}
END_TEST

START_TEST(test_add_after)
{
	struct mk_workqueue *q = mk_workqueue_new(0, 0);
	uint64_t t0 = mk_time_mono_ns();
	mk_workqueue_add_after(q, "late", 150);
	mk_workqueue_add_after(q, "early", 50);
	/* an earlier deadline for the same key wins; a later one is ignored */
	mk_workqueue_add_after(q, "late", 400);
	ck_assert_uint_eq(mk_workqueue_len(q), 0);
	char *k = NULL;
	ck_assert_int_eq(mk_workqueue_get(q, 2000, &k), 1);
	ck_assert_str_eq(k, "early");
	uint64_t t1 = mk_time_mono_ns();
	ck_assert_uint_ge((t1 - t0) / 1000000, 45);
	mk_workqueue_done(q, k);
	free(k);
	ck_assert_int_eq(mk_workqueue_get(q, 2000, &k), 1);
	ck_assert_str_eq(k, "late");
	uint64_t t2 = mk_time_mono_ns();
	ck_assert_uint_ge((t2 - t0) / 1000000, 145);
	ck_assert_uint_lt((t2 - t0) / 1000000, 390);
	mk_workqueue_done(q, k);
	free(k);
	mk_workqueue_free(q);
}
END_TEST

START_TEST(test_rate_limited)
{
	struct mk_workqueue *q = mk_workqueue_new(20, 80);
	char *k = NULL;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t t0 = mk_time_mono_ns();
		mk_workqueue_add_rate_limited(q, "x");
		ck_assert_uint_eq(mk_workqueue_num_requeues(q, "x"), i + 1);
		ck_assert_int_eq(mk_workqueue_get(q, 2000, &k), 1);
		uint64_t ms = (mk_time_mono_ns() - t0) / 1000000;
		unsigned want = 20u << i;
		if (want > 80)
			want = 80;
		ck_assert_uint_ge(ms, want - 5);
		mk_workqueue_done(q, k);
		free(k);
	}
	mk_workqueue_forget(q, "x");
	ck_assert_uint_eq(mk_workqueue_num_requeues(q, "x"), 0);
	mk_workqueue_free(q);
}
END_TEST

struct waiter {
	struct mk_workqueue *q;
	int rc;
	char *key;
};

static void *wait_main(void *p)
{
	struct waiter *w = p;
	w->rc = mk_workqueue_get(w->q, -1, &w->key);
	return NULL;
}

START_TEST(test_blocking_get_woken_by_add_and_shutdown)
{
	struct mk_workqueue *q = mk_workqueue_new(0, 0);
	struct waiter w = { .q = q, .rc = 99 };
	pthread_t th;
	pthread_create(&th, NULL, wait_main, &w);
	usleep(20000);
	mk_workqueue_add(q, "k");
	pthread_join(th, NULL);
	ck_assert_int_eq(w.rc, 1);
	ck_assert_str_eq(w.key, "k");
	mk_workqueue_done(q, w.key);
	free(w.key);

	struct waiter w2 = { .q = q, .rc = 99 };
	pthread_create(&th, NULL, wait_main, &w2);
	usleep(20000);
	mk_workqueue_shutdown(q);
	pthread_join(th, NULL);
	ck_assert_int_eq(w2.rc, -1);
	mk_workqueue_add(q, "ignored");
	ck_assert_uint_eq(mk_workqueue_len(q), 0);
	mk_workqueue_free(q);
}
END_TEST

/* Many workers, many keys: no key is ever processed by two workers at once. */
struct stress {
	struct mk_workqueue *q;
	pthread_mutex_t mu;
	int busy[16];
	int violations, processed;
	int stop; /* set by the producer once the queue has drained */
};

/* Nothing queued and no key being processed (a key re-added while processing is
 * queued again by its done, so both must be seen empty). */
static bool stress_idle(struct stress *s)
{
	pthread_mutex_lock(&s->mu);
	bool busy = false;
	for (int i = 0; i < 16; i++)
		busy = busy || s->busy[i];
	pthread_mutex_unlock(&s->mu);
	return !busy && mk_workqueue_len(s->q) == 0;
}

static void *stress_worker(void *p)
{
	struct stress *s = p;
	char *k;
	/* a worker that times out waiting keeps waiting until stop: on a loaded
	 * machine the producer may start later than the workers' first wait ends */
	for (;;) {
		int rc = mk_workqueue_get(s->q, 50, &k);
		if (rc < 0 || (rc == 0 && __atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)))
			break;
		if (rc == 0)
			continue;
		int i = atoi(k);
		pthread_mutex_lock(&s->mu);
		if (s->busy[i])
			s->violations++;
		s->busy[i] = 1;
		s->processed++;
		pthread_mutex_unlock(&s->mu);
		usleep(200);
		pthread_mutex_lock(&s->mu);
		s->busy[i] = 0;
		pthread_mutex_unlock(&s->mu);
		mk_workqueue_done(s->q, k);
		free(k);
	}
	return NULL;
}

START_TEST(test_concurrent_exclusive)
{
	struct stress s = { .q = mk_workqueue_new(0, 0) };
	pthread_mutex_init(&s.mu, NULL);
	pthread_t th[8];
	for (int i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, stress_worker, &s);
	for (int n = 0; n < 2000; n++) {
		char k[8];
		snprintf(k, sizeof(k), "%d", n % 16);
		mk_workqueue_add(s.q, k);
		if (n % 50 == 0)
			usleep(500);
	}
	/* drained: idle twice, 100 ms apart (bounded: 60 s) */
	for (int tries = 0, idle = 0; idle < 2 && tries < 600; tries++) {
		idle = stress_idle(&s) ? idle + 1 : 0;
		usleep(100 * 1000);
	}
	__atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(s.violations, 0);
	ck_assert_int_gt(s.processed, 16);
	ck_assert_int_le(s.processed, 2000);
	ck_assert_uint_eq(mk_workqueue_len(s.q), 0);
	mk_workqueue_free(s.q);
}
END_TEST

Suite *workqueue_suite(void)
{
	Suite *s = suite_create("workqueue");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_dedup_and_order);
	tcase_add_test(tc, test_processing_not_handed_twice);
	tcase_add_test(tc, test_done_without_readd);
	tcase_add_test(tc, test_add_after);
	tcase_add_test(tc, test_rate_limited);
	tcase_add_test(tc, test_blocking_get_woken_by_add_and_shutdown);
	tcase_add_test(tc, test_concurrent_exclusive);
	suite_add_tcase(s, tc);
	return s;
}
