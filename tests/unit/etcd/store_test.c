/* The store on its etcd backend (pkg/store/etcd.c) against the real etcd: objects
 * under kube-apiserver's keys with resourceVersion = mod_revision, compare-and-swap
 * conflicts, lists, two stores on one etcd (two servers) seeing each other's
 * writes through the watch feed, reopen, compaction. */
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "minik8s/store.h"

static struct mk_store *store_on(const char *prefix, size_t window)
{
	char *ep = mk_strdup_printf("%s%s", etcd_shared->client_url[0], prefix);
	struct mk_store_options o = { .endpoint = ep, .event_window = window };
	struct mk_store *s = NULL;
	struct mk_error *e = NULL;
	ck_assert_msg(mk_store_open(&o, &s, &e) == 0, "open %s: %s", ep, e ? e->msg : "?");
	free(ep);
	return s;
}

static cJSON *pod(const char *name, const char *v)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "kind", "Pod");
	cJSON *m = cJSON_AddObjectToObject(o, "metadata");
	cJSON_AddStringToObject(m, "name", name);
	cJSON_AddStringToObject(m, "namespace", "default");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "spec"), "v", v);
	return o;
}

static char *rv_str(uint64_t rv)
{
	return mk_strdup_printf("\"resourceVersion\":\"%llu\"", (unsigned long long)rv);
}

START_TEST(test_store_objects)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "/st1-%d", (int)getpid());
	struct mk_store *s = store_on(prefix, 0);
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	char *json = NULL;
	uint64_t rv1 = 0, rv2 = 0, rvd = 0, rv = 0;
	cJSON *o = pod("web", "1");
	ck_ok(mk_store_create(s, "pods", "default", "web", o, &json, &rv1, &e), e);
	char *want = rv_str(rv1);
	ck_assert_ptr_nonnull(strstr(json, want));
	free(want);
	free(json);
	/* in etcd: kube-apiserver's key, mod_revision = resourceVersion, stored without it */
	char *key = mk_strdup_printf("%s/pods/default/web", prefix);
	struct mk_etcd_kv kv = { 0 };
	ck_ok(mk_etcd_get(c, key, &kv, NULL, &e), e);
	ck_assert_int_eq(kv.mod_revision, (int64_t)rv1);
	ck_assert_ptr_null(strstr(kv.value, "resourceVersion"));
	ck_assert_ptr_nonnull(strstr(kv.value, "\"web\""));
	mk_etcd_kv_release(&kv);
	ck_assert_uint_ge(mk_store_revision(s), rv1);
	/* get */
	ck_ok(mk_store_get(s, "pods", "default", "web", &json, &rv, &e), e);
	ck_assert_uint_eq(rv, rv1);
	want = rv_str(rv1);
	ck_assert_ptr_nonnull(strstr(json, want));
	free(want);
	free(json);
	/* create again */
	ck_fails(mk_store_create(s, "pods", "default", "web", o, NULL, NULL, &e), e, EEXIST);
	/* update: stale, right, unconditional */
	cJSON_Delete(o);
	o = pod("web", "2");
	ck_fails(mk_store_update(s, "pods", "default", "web", rv1 + 1000, o, NULL, NULL, &e), e,
		 ESTALE);
	ck_ok(mk_store_update(s, "pods", "default", "web", rv1, o, NULL, &rv2, &e), e);
	ck_assert_uint_gt(rv2, rv1);
	ck_fails(mk_store_update(s, "pods", "default", "web", rv1, o, NULL, NULL, &e), e, ESTALE);
	ck_ok(mk_store_update(s, "pods", "default", "web", 0, o, NULL, &rv2, &e), e);
	ck_fails(mk_store_update(s, "pods", "default", "none", 0, o, NULL, NULL, &e), e, ENOENT);
	cJSON_Delete(o);
	/* list: this collection only, its namespace only, with a filter */
	o = pod("api", "x");
	ck_ok(mk_store_create(s, "pods", "default", "api", o, NULL, NULL, &e), e);
	ck_ok(mk_store_create(s, "pods", "other", "db", o, NULL, NULL, &e), e);
	ck_ok(mk_store_create(s, "podtemplates", "default", "t", o, NULL, NULL, &e), e);
	ck_ok(mk_store_create(s, "nodes", "", "n1", o, NULL, &rv, &e), e);
	cJSON_Delete(o);
	struct mk_store_list l = { 0 };
	ck_ok(mk_store_list(s, "pods", "default", NULL, NULL, &l, &e), e);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_ptr_nonnull(strstr(l.items[0], "\"api\""));
	ck_assert_ptr_nonnull(strstr(l.items[1], "\"web\""));
	ck_assert_uint_ge(l.rv, rv);
	mk_store_list_release(&l);
	ck_ok(mk_store_list(s, "pods", NULL, NULL, NULL, &l, &e), e);
	ck_assert_uint_eq(l.n, 3);
	mk_store_list_release(&l);
	ck_ok(mk_store_list(s, "nodes", NULL, NULL, NULL, &l, &e), e);
	ck_assert_uint_eq(l.n, 1);
	mk_store_list_release(&l);
	char *nkey = mk_strdup_printf("%s/minions/n1", prefix);
	ck_ok(mk_etcd_get(c, nkey, NULL, NULL, &e), e);
	free(nkey);
	/* delete: stale, right (the last state at the deletion's revision), gone */
	ck_fails(mk_store_delete(s, "pods", "default", "web", rv1, NULL, NULL, &e), e, ESTALE);
	ck_ok(mk_store_delete(s, "pods", "default", "web", rv2, &json, &rvd, &e), e);
	ck_assert_uint_gt(rvd, rv2);
	want = rv_str(rvd);
	ck_assert_ptr_nonnull(strstr(json, want));
	ck_assert_ptr_nonnull(strstr(json, "\"2\""));
	free(want);
	free(json);
	ck_fails(mk_store_get(s, "pods", "default", "web", &json, NULL, &e), e, ENOENT);
	ck_fails(mk_store_delete(s, "pods", "default", "web", 0, NULL, NULL, &e), e, ENOENT);
	ck_fails(mk_etcd_get(c, key, NULL, NULL, &e), e, ENOENT);
	free(key);
	mk_etcd_free(c);
	mk_store_free(s);
}
END_TEST

static struct mk_store_event *next_event(struct mk_store_watch *w)
{
	struct mk_store_event *ev = NULL;
	struct mk_error *e = NULL;
	int r = mk_store_watch_next(w, 30000, &ev, &e);
	ck_assert_msg(r == 1, "watch next: %d %s", r, e ? e->msg : "");
	return ev;
}

START_TEST(test_store_two_servers)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "/st2-%d", (int)getpid());
	/* two servers on one etcd */
	struct mk_store *a = store_on(prefix, 0), *b = store_on(prefix, 0);
	struct mk_error *e = NULL;
	struct mk_store_watch *w = NULL;
	ck_ok(mk_store_watch_new(b, "pods", NULL, mk_store_revision(b), &w, &e), e);
	uint64_t r1, r2, r3;
	cJSON *o = pod("web", "1");
	ck_ok(mk_store_create(a, "pods", "default", "web", o, NULL, &r1, &e), e);
	cJSON_Delete(o);
	o = pod("web", "2");
	ck_ok(mk_store_update(a, "pods", "default", "web", r1, o, NULL, &r2, &e), e);
	/* b's writes conflict with a's by revision */
	ck_fails(mk_store_update(b, "pods", "default", "web", r1, o, NULL, NULL, &e), e, ESTALE);
	cJSON_Delete(o);
	ck_ok(mk_store_delete(a, "pods", "default", "web", r2, NULL, &r3, &e), e);
	/* b's watchers see a's writes, with a's revisions, in order */
	struct mk_store_event *ev = next_event(w);
	ck_assert_int_eq(ev->type, MK_STORE_ADDED);
	ck_assert_uint_eq(ev->rv, r1);
	ck_assert_str_eq(ev->resource, "pods");
	ck_assert_str_eq(ev->ns, "default");
	ck_assert_str_eq(ev->name, "web");
	mk_store_event_unref(ev);
	ev = next_event(w);
	ck_assert_int_eq(ev->type, MK_STORE_MODIFIED);
	ck_assert_uint_eq(ev->rv, r2);
	ck_assert_ptr_nonnull(ev->old_json);
	ck_assert_ptr_nonnull(strstr(ev->old_json, "\"1\""));
	mk_store_event_unref(ev);
	ev = next_event(w);
	ck_assert_int_eq(ev->type, MK_STORE_DELETED);
	ck_assert_uint_eq(ev->rv, r3);
	char *want = rv_str(r3);
	ck_assert_ptr_nonnull(strstr(ev->json, want));
	free(want);
	mk_store_event_unref(ev);
	ck_assert_uint_ge(mk_store_revision(b), r3);
	mk_store_watch_free(w);

	/* a server opened later resumes a watch from the history in etcd */
	struct mk_store *c = store_on(prefix, 0);
	ck_ok(mk_store_watch_new(c, "pods", "default", r1, &w, &e), e);
	ev = next_event(w);
	ck_assert_uint_eq(ev->rv, r2);
	mk_store_event_unref(ev);
	ev = next_event(w);
	ck_assert_uint_eq(ev->rv, r3);
	ck_assert_int_eq(ev->type, MK_STORE_DELETED);
	mk_store_event_unref(ev);
	mk_store_watch_free(w);
	mk_store_free(c);
	mk_store_free(a);
	mk_store_free(b);
}
END_TEST

/* In the compaction suite: compacts the shared member. */
START_TEST(test_store_compaction)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "/st3-%d", (int)getpid());
	struct mk_store *s = store_on(prefix, 5);
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	uint64_t first = 0, rv = 0;
	cJSON *o = pod("p", "0");
	ck_ok(mk_store_create(s, "pods", "default", "p", o, NULL, &first, &e), e);
	rv = first;
	for (int i = 1; i <= 20; i++)
		ck_ok(mk_store_update(s, "pods", "default", "p", rv, o, NULL, &rv, &e), e);
	cJSON_Delete(o);
	/* the feed compacts etcd to the newest revision minus the window: bounded wait */
	char *key = mk_strdup_printf("%s/pods/default/p", prefix);
	struct mk_etcd_range_options ro = { .revision = (int64_t)first };
	struct mk_etcd_range r = { 0 };
	int compacted = 0;
	for (int t = 0; t < 300 && !compacted; t++) {
		mk_error_free(&e);
		if (mk_etcd_range(c, key, &ro, &r, &e) < 0 && e->code == ERANGE)
			compacted = 1;
		mk_etcd_range_release(&r);
		if (!compacted)
			usleep(100 * 1000);
	}
	ck_assert_msg(compacted, "etcd history at %llu was not compacted",
		      (unsigned long long)first);
	mk_error_free(&e);
	/* a watch from before: 410 (ERANGE) */
	struct mk_store_watch *w = NULL;
	struct mk_store_event *ev = NULL;
	if (mk_store_watch_new(s, "pods", NULL, first, &w, &e) == 0) {
		ck_assert_int_lt(mk_store_watch_next(w, 30000, &ev, &e), 0);
		mk_store_watch_free(w);
	}
	ck_assert_int_eq(mk_error_code(e), ERANGE);
	mk_error_free(&e);
	/* the newest state is there; reopened, too */
	char *json = NULL;
	uint64_t got = 0;
	ck_ok(mk_store_get(s, "pods", "default", "p", &json, &got, &e), e);
	ck_assert_uint_eq(got, rv);
	free(json);
	mk_store_free(s);
	s = store_on(prefix, 5);
	ck_ok(mk_store_get(s, "pods", "default", "p", &json, &got, &e), e);
	ck_assert_uint_eq(got, rv);
	free(json);
	mk_store_free(s);
	free(key);
	mk_etcd_free(c);
}
END_TEST

Suite *etcd_store_suite(void)
{
	Suite *s = suite_create("etcd_store");
	TCase *tc = tcase_create("store");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_store_objects);
	tcase_add_test(tc, test_store_two_servers);
	suite_add_tcase(s, tc);
	return s;
}

TCase *etcd_store_compaction_tcase(void)
{
	TCase *tc = tcase_create("store_compaction");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_store_compaction);
	return tc;
}
