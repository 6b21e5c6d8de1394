/* Concurrent writers through the group committer. */
#include <pthread.h>
#include "helpers.h"

#define WRITERS 16
#define PER_WRITER 200

struct writer {
	struct mk_store *s;
	int id;
	uint64_t rvs[PER_WRITER];
	int failures;
};

static void *create_many(void *arg)
{
	struct writer *w = arg;
	for (int i = 0; i < PER_WRITER; i++) {
		char name[32];
		struct mk_error *err = NULL;
		snprintf(name, sizeof(name), "w%02d-%04d", w->id, i);
		cJSON *o = make_obj(name, "default", NULL);
		char *json = NULL;
		if (mk_store_create(w->s, "pods", "default", name, o, &json, &w->rvs[i], &err) < 0) {
			w->failures++;
			mk_error_free(&err);
		} else {
			/* the returned text carries this request's own revision */
			char num[24], want[48];
			snprintf(num, sizeof(num), "%llu", (unsigned long long)w->rvs[i]);
			snprintf(want, sizeof(want), "\"resourceVersion\":\"%s\"", num);
			if (!strstr(json, want) || strcmp(rv_of(o), num) != 0)
				w->failures++;
		}
		free(json);
		cJSON_Delete(o);
	}
	return NULL;
}

START_TEST(test_concurrent_creates)
{
	char *dir = tmpdir_new();
	char *path = mk_strdup_printf("%s/state.db", dir);
	struct mk_store *s = store_open_at(path, 0);
	static struct writer ws[WRITERS];
	pthread_t t[WRITERS];
	struct mk_store_watch *w = NULL;
	struct mk_error *err = NULL;
	static unsigned char seen[WRITERS * PER_WRITER + 1];

	uint64_t base = mk_store_revision(s);
	ck_assert_int_eq(mk_store_watch_new(s, NULL, NULL, 0, &w, &err), 0);
	for (int i = 0; i < WRITERS; i++) {
		ws[i] = (struct writer){ .s = s, .id = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, create_many, &ws[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);

	/* every write got its own revision, and together they are exactly base+1..base+N */
	for (int i = 0; i < WRITERS; i++) {
		ck_assert_int_eq(ws[i].failures, 0);
		for (int j = 0; j < PER_WRITER; j++) {
			ck_assert_uint_gt(ws[i].rvs[j], base);
			uint64_t rv = ws[i].rvs[j] - base;
			ck_assert_uint_ge(rv, 1);
			ck_assert_uint_le(rv, WRITERS * PER_WRITER);
			ck_assert_int_eq(seen[rv], 0);
			seen[rv] = 1;
			/* one writer's revisions increase */
			if (j)
				ck_assert_uint_gt(ws[i].rvs[j], ws[i].rvs[j - 1]);
		}
	}
	ck_assert_uint_eq(mk_store_revision(s), R(WRITERS * PER_WRITER));

	/* the watcher saw every event once, in revision order */
	for (uint64_t rv = 1; rv <= WRITERS * PER_WRITER; rv++) {
		struct mk_store_event *ev = NULL;
		ck_assert_int_eq(mk_store_watch_next(w, 5000, &ev, &err), 1);
		ck_assert_uint_eq(ev->rv, R(rv));
		mk_store_event_unref(ev);
	}
	mk_store_watch_free(w);
	mk_store_free(s);

	/* nothing lost: all there after reopening */
	s = store_open_at(path, 0);
	struct mk_store_list l = { 0 };
	ck_assert_int_eq(mk_store_list(s, "pods", "default", NULL, NULL, &l, &err), 0);
	ck_assert_uint_eq(l.n, WRITERS * PER_WRITER);
	ck_assert_uint_eq(l.rv, R(WRITERS * PER_WRITER));
	mk_store_list_release(&l);
	mk_store_free(s);
	free(path);
	tmpdir_remove(dir);
}
END_TEST

/* Read-modify-write with optimistic concurrency: conflicts are reported, and with
 * retries no increment is lost. */
struct incr {
	struct mk_store *s;
	int conflicts;
};

#define INCREMENTS 50

static void *increment(void *arg)
{
	struct incr *in = arg;
	for (int i = 0; i < INCREMENTS; i++) {
		for (int attempt = 0; attempt < 10000; attempt++) {
			struct mk_error *err = NULL;
			char *json = NULL;
			uint64_t rv = 0;
			ck_assert_int_eq(mk_store_get(in->s, "configmaps", "default", "counter", &json,
						      &rv, &err),
					 0);
			cJSON *o = cJSON_Parse(json);
			free(json);
			cJSON *n = cJSON_GetObjectItem(o, "n");
			cJSON_SetNumberValue(n, n->valuedouble + 1);
			int r = mk_store_update(in->s, "configmaps", "default", "counter", rv, o, NULL,
						NULL, &err);
			cJSON_Delete(o);
			if (r == 0)
				break;
			ck_assert_int_eq(err->code, ESTALE);
			in->conflicts++;
			mk_error_free(&err);
		}
	}
	return NULL;
}

START_TEST(test_optimistic_increments)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct incr in[8];
	pthread_t t[8];
	struct mk_error *err = NULL;
	uint64_t base = mk_store_revision(s);
	cJSON *o = make_obj("counter", "default", NULL);
	cJSON_AddNumberToObject(o, "n", 0);
	ck_assert_int_eq(mk_store_create(s, "configmaps", "default", "counter", o, NULL, NULL, &err),
			 0);
	cJSON_Delete(o);

	for (int i = 0; i < 8; i++) {
		in[i] = (struct incr){ .s = s };
		ck_assert_int_eq(pthread_create(&t[i], NULL, increment, &in[i]), 0);
	}
	int conflicts = 0;
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		conflicts += in[i].conflicts;
	}
	char *json = NULL;
	uint64_t rv = 0;
	ck_assert_int_eq(mk_store_get(s, "configmaps", "default", "counter", &json, &rv, &err), 0);
	o = cJSON_Parse(json);
	ck_assert_int_eq((int)cJSON_GetObjectItem(o, "n")->valuedouble, 8 * INCREMENTS);
	/* one revision per successful write, none for the rejected ones */
	ck_assert_uint_eq(rv, R(1 + 8 * INCREMENTS));
	ck_assert_uint_eq(mk_store_revision(s), R(1 + 8 * INCREMENTS));
	cJSON_Delete(o);
	free(json);
	mk_store_free(s);
}
END_TEST

/* A batch that mixes failing and succeeding requests: failures do not abort the
 * others and take no revision. */
struct dup {
	struct mk_store *s;
	int ok, exists;
};

static void *create_dups(void *arg)
{
	struct dup *d = arg;
	for (int i = 0; i < 100; i++) {
		char name[32];
		struct mk_error *err = NULL;
		snprintf(name, sizeof(name), "shared-%d", i);
		cJSON *o = make_obj(name, "default", NULL);
		if (mk_store_create(d->s, "pods", "default", name, o, NULL, NULL, &err) == 0)
			d->ok++;
		else if (err->code == EEXIST)
			d->exists++;
		mk_error_free(&err);
		cJSON_Delete(o);
	}
	return NULL;
}

START_TEST(test_concurrent_conflicting_creates)
{
	struct mk_store *s = store_open_at(":memory:", 0);
	struct dup d[8];
	pthread_t t[8];
	int ok = 0, exists = 0;
	uint64_t base = mk_store_revision(s);

	for (int i = 0; i < 8; i++) {
		d[i] = (struct dup){ .s = s };
		ck_assert_int_eq(pthread_create(&t[i], NULL, create_dups, &d[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		ok += d[i].ok;
		exists += d[i].exists;
	}
	ck_assert_int_eq(ok, 100);
	ck_assert_int_eq(exists, 700);
	ck_assert_uint_eq(mk_store_revision(s), R(100));
	mk_store_free(s);
}
END_TEST

Suite *concurrency_suite(void)
{
	Suite *su = suite_create("store-concurrency");
	TCase *tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_concurrent_creates);
	tcase_add_test(tc, test_optimistic_increments);
	tcase_add_test(tc, test_concurrent_conflicting_creates);
	suite_add_tcase(su, tc);
	return su;
}
