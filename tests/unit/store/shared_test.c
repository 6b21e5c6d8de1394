/* Several stores on one shared datastore (what several servers on one PostgreSQL
 * database are): one revision sequence, compare-and-swap across them, and each
 * one's watches see the others' writes, in order, without holes. Runs only with
 * MINIK8S_TEST_STORE_ENDPOINT (an SQLite file has one writer process: the server
 * locks its data dir). */
#include <pthread.h>
#include "helpers.h"

#define SH_WRITERS 4
#define SH_PER_WRITER 40

static struct mk_store_event *next_ev(struct mk_store_watch *w)
{
	struct mk_store_event *ev = NULL;
	struct mk_error *err = NULL;
	int r = mk_store_watch_next(w, 20000, &ev, &err);
	ck_assert_msg(r == 1, "watch_next returned %d: %s", r, err ? err->msg : "timeout");
	return ev;
}

START_TEST(test_shared_cas_and_watch)
{
	char *dir = tmpdir_new();
	char *path = mk_strdup_printf("%s/shared.db", dir);
	struct mk_store *a = store_open_at(path, 0), *b = store_open_at(path, 0);
	struct mk_store_watch *wa = NULL, *wb = NULL;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_store_watch_new(a, "configmaps", NULL, mk_store_revision(a), &wa, &err), 0);
	ck_assert_int_eq(mk_store_watch_new(b, "configmaps", NULL, mk_store_revision(b), &wb, &err), 0);
	uint64_t rv1 = must_create(a, "configmaps", "default", "cm", "one");
	struct mk_store_event *ev = next_ev(wb); /* written through a, seen through b */
	ck_assert_uint_eq(ev->rv, rv1);
	ck_assert_int_eq(ev->type, MK_STORE_ADDED);
	mk_store_event_unref(ev);
	ev = next_ev(wa);
	ck_assert_uint_eq(ev->rv, rv1);
	mk_store_event_unref(ev);

	/* b creates the same name: refused; b updates at rv1: accepted; a at rv1: stale */
	cJSON *o = make_obj("cm", "default", "two");
	ck_assert_int_eq(mk_store_create(b, "configmaps", "default", "cm", o, NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);
	uint64_t rv2 = 0;
	ck_assert_int_eq(mk_store_update(b, "configmaps", "default", "cm", rv1, o, NULL, &rv2, &err), 0);
	ck_assert_uint_gt(rv2, rv1);
	cJSON_Delete(o);
	o = make_obj("cm", "default", "three");
	ck_assert_int_eq(mk_store_update(a, "configmaps", "default", "cm", rv1, o, NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, ESTALE);
	mk_error_free(&err);
	cJSON_Delete(o);
	ev = next_ev(wa); /* b's update, through a's feed, with the state before it */
	ck_assert_uint_eq(ev->rv, rv2);
	ck_assert_int_eq(ev->type, MK_STORE_MODIFIED);
	ck_assert_ptr_nonnull(strstr(ev->json, "\"two\""));
	ck_assert_ptr_nonnull(ev->old_json);
	ck_assert_ptr_nonnull(strstr(ev->old_json, "\"one\""));
	mk_store_event_unref(ev);
	ev = next_ev(wb);
	ck_assert_uint_eq(ev->rv, rv2);
	mk_store_event_unref(ev);

	/* a reads b's write; a deletes; b no longer finds it */
	char *json = NULL;
	uint64_t got = 0;
	ck_assert_int_eq(mk_store_get(a, "configmaps", "default", "cm", &json, &got, &err), 0);
	ck_assert_uint_eq(got, rv2);
	free(json);
	ck_assert_int_eq(mk_store_delete(a, "configmaps", "default", "cm", rv2, NULL, NULL, &err), 0);
	ck_assert_int_eq(mk_store_get(b, "configmaps", "default", "cm", NULL, NULL, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	ev = next_ev(wb);
	ck_assert_int_eq(ev->type, MK_STORE_DELETED);
	mk_store_event_unref(ev);

	mk_store_watch_free(wa);
	mk_store_watch_free(wb);
	mk_store_free(a);
	mk_store_free(b);
	free(path);
	tmpdir_remove(dir);
}
END_TEST

struct sh_writer {
	struct mk_store *s;
	int id, failures;
};

static void *sh_create(void *arg)
{
	struct sh_writer *w = arg;
	for (int i = 0; i < SH_PER_WRITER; i++) {
		char name[32];
		struct mk_error *err = NULL;
		snprintf(name, sizeof(name), "s%d-%03d", w->id, i);
		cJSON *o = make_obj(name, "default", NULL);
		if (mk_store_create(w->s, "pods", "default", name, o, NULL, NULL, &err) < 0) {
			w->failures++;
			mk_error_free(&err);
		}
		cJSON_Delete(o);
	}
	return NULL;
}

/* Writers on both stores at once: every watcher on either sees every revision once,
 * consecutively, and both lists agree. */
START_TEST(test_shared_concurrent_one_sequence)
{
	char *dir = tmpdir_new();
	char *path = mk_strdup_printf("%s/shared2.db", dir);
	struct mk_store *st[2] = { store_open_at(path, 0), store_open_at(path, 0) };
	struct mk_store_watch *w[2] = { NULL, NULL };
	struct mk_error *err = NULL;
	uint64_t start = mk_store_revision(st[0]);

	ck_assert_uint_eq(start, mk_store_revision(st[1]));
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(mk_store_watch_new(st[i], NULL, NULL, start, &w[i], &err), 0);
	pthread_t th[SH_WRITERS];
	struct sh_writer ws[SH_WRITERS];
	for (int i = 0; i < SH_WRITERS; i++) {
		ws[i] = (struct sh_writer){ .s = st[i % 2], .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, sh_create, &ws[i]), 0);
	}
	for (int i = 0; i < SH_WRITERS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(ws[i].failures, 0);
	}
	const uint64_t total = SH_WRITERS * SH_PER_WRITER;
	for (int i = 0; i < 2; i++) {
		for (uint64_t rv = start + 1; rv <= start + total; rv++) {
			struct mk_store_event *ev = next_ev(w[i]);
			ck_assert_uint_eq(ev->rv, rv);
			ck_assert_int_eq(ev->type, MK_STORE_ADDED);
			mk_store_event_unref(ev);
		}
		struct mk_store_list l = { 0 };
		ck_assert_int_eq(mk_store_list(st[i], "pods", "default", NULL, NULL, &l, &err), 0);
		ck_assert_uint_eq(l.n, total);
		ck_assert_uint_eq(l.rv, start + total);
		mk_store_list_release(&l);
		mk_store_watch_free(w[i]);
	}
	mk_store_free(st[0]);
	mk_store_free(st[1]);
	free(path);
	tmpdir_remove(dir);
}
END_TEST

Suite *shared_suite(void)
{
	Suite *su = suite_create("store-shared");
	TCase *tc = tcase_create("shared");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_shared_cas_and_watch);
	tcase_add_test(tc, test_shared_concurrent_one_sequence);
	suite_add_tcase(su, tc);
	return su;
}
