/* Watch against a real etcd: events in order with their revisions, resume from a
 * revision, cancel from another thread, timeouts. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "helpers.h"

/* Collects events from w until n are seen (bounded by a 30 s wait per batch). */
static size_t collect(struct mk_etcd_watch *w, struct mk_etcd_event *out, size_t n)
{
	size_t got = 0;
	struct mk_error *e = NULL;
	while (got < n) {
		struct mk_etcd_watch_batch b = { 0 };
		int r = mk_etcd_watch_next(w, 30000, &b, &e);
		ck_assert_msg(r == 1, "watch next after %zu events: %d %s", got, r, e ? e->msg : "");
		ck_assert_uint_gt(b.n, 0);
		for (size_t i = 0; i < b.n; i++) {
			ck_assert_msg(got < n, "more events than written");
			out[got++] = b.events[i];
			memset(&b.events[i], 0, sizeof(b.events[i]));
		}
		mk_etcd_watch_batch_release(&b);
	}
	return got;
}

static void events_release(struct mk_etcd_event *ev, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		mk_etcd_kv_release(&ev[i].kv);
		mk_etcd_kv_release(&ev[i].prev_kv);
	}
}

START_TEST(test_watch_order)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	char *end = mk_etcd_prefix_end("/t/watch/");
	struct mk_etcd_watch *w = NULL;
	/* from the next revision on */
	ck_ok(mk_etcd_watch_new(c, "/t/watch/", end, 0, MK_ETCD_WATCH_PREV_KV, &w, &e), e);
	int64_t revs[21];
	char key[64], val[16];
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "/t/watch/k%d", i % 5);
		snprintf(val, sizeof(val), "v%d", i);
		ck_ok(mk_etcd_put(c, key, val, strlen(val), 0, &revs[i], &e), e);
	}
	/* outside the range: not seen */
	ck_ok(mk_etcd_put(c, "/t/watcher", "x", 1, 0, NULL, &e), e);
	ck_ok(mk_etcd_cas_delete(c, "/t/watch/k0", 0, NULL, &revs[20], NULL, &e), e);
	struct mk_etcd_event ev[21];
	collect(w, ev, 21);
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "/t/watch/k%d", i % 5);
		snprintf(val, sizeof(val), "v%d", i);
		ck_assert_int_eq(ev[i].type, MK_ETCD_EVENT_PUT);
		ck_assert_str_eq(ev[i].kv.key, key);
		ck_assert_str_eq(ev[i].kv.value, val);
		ck_assert_int_eq(ev[i].kv.mod_revision, revs[i]);
		if (i < 5) {
			ck_assert_ptr_null(ev[i].prev_kv.key);
		} else {
			snprintf(val, sizeof(val), "v%d", i - 5);
			ck_assert_str_eq(ev[i].prev_kv.value, val);
		}
	}
	ck_assert_int_eq(ev[20].type, MK_ETCD_EVENT_DELETE);
	ck_assert_str_eq(ev[20].kv.key, "/t/watch/k0");
	ck_assert_int_eq(ev[20].kv.mod_revision, revs[20]);
	ck_assert_str_eq(ev[20].prev_kv.value, "v15");
	events_release(ev, 21);
	/* nothing more: a timeout */
	struct mk_etcd_watch_batch b = { 0 };
	ck_assert_int_eq(mk_etcd_watch_next(w, 200, &b, &e), 0);
	mk_etcd_watch_free(w);

	/* resumed from a revision: exactly the events from there on, in order */
	ck_ok(mk_etcd_watch_new(c, "/t/watch/", end, revs[12], 0, &w, &e), e);
	collect(w, ev, 9);
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(ev[i].kv.mod_revision, revs[12 + i]);
	ck_assert_ptr_null(ev[0].prev_kv.key); /* without MK_ETCD_WATCH_PREV_KV */
	events_release(ev, 9);
	mk_etcd_watch_free(w);

	/* one key */
	ck_ok(mk_etcd_watch_new(c, "/t/watch/k3", NULL, revs[0], 0, &w, &e), e);
	collect(w, ev, 4);
	ck_assert_int_eq(ev[0].kv.mod_revision, revs[3]);
	ck_assert_int_eq(ev[3].kv.mod_revision, revs[18]);
	events_release(ev, 4);
	mk_etcd_watch_free(w);
	free(end);
	mk_etcd_free(c);
}
END_TEST

struct canceler {
	struct mk_etcd_watch *w;
};

static void *cancel_later(void *arg)
{
	struct canceler *cc = arg;
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	mk_etcd_watch_cancel(cc->w);
	return NULL;
}

START_TEST(test_watch_cancel)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	struct mk_etcd_watch *w = NULL;
	ck_ok(mk_etcd_watch_new(c, "/t/cancel/", NULL, 0, 0, &w, &e), e);
	struct canceler cc = { w };
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &cc), 0);
	struct mk_etcd_watch_batch b = { 0 };
	/* no timeout: only the cancel ends it */
	ck_fails(mk_etcd_watch_next(w, -1, &b, &e), e, ECANCELED);
	pthread_join(th, NULL);
	ck_fails(mk_etcd_watch_next(w, 100, &b, &e), e, ECANCELED);
	mk_etcd_watch_free(w);
	ck_fails(mk_etcd_watch_new(c, "/t/cancel/", NULL, -1, 0, &w, &e), e, EINVAL);
	mk_etcd_free(c);
}
END_TEST

Suite *etcd_watch_suite(void)
{
	Suite *s = suite_create("etcd_watch");
	TCase *tc = tcase_create("watch");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_watch_order);
	tcase_add_test(tc, test_watch_cancel);
	suite_add_tcase(s, tc);
	return s;
}
