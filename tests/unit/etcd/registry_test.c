/* The registry layer: kube-apiserver's key layout, objects stored without their
 * resourceVersion, watch events as Kubernetes tells them, whole ranges at a revision,
 * the multi-server compactor. */
#include <string.h>
#include "helpers.h"

static void key_is(const char *resource, const char *ns, const char *name, const char *want)
{
	char *k = mk_etcd_registry_key("/registry", resource, ns, name);
	ck_assert_str_eq(k, want);
	if (name) {
		char *r = NULL, *n = NULL, *nm = NULL;
		struct mk_error *e = NULL;
		ck_ok(mk_etcd_registry_key_parse("/registry/", k, &r, &n, &nm, &e), e);
		ck_assert_str_eq(r, resource);
		ck_assert_str_eq(n, ns ? ns : "");
		ck_assert_str_eq(nm, name);
		free(r);
		free(n);
		free(nm);
	}
	free(k);
}

START_TEST(test_registry_keys)
{
	key_is("pods", "default", "web", "/registry/pods/default/web");
	key_is("deployments", "kube-system", "dns", "/registry/deployments/kube-system/dns");
	key_is("namespaces", "", "default", "/registry/namespaces/default");
	key_is("nodes", NULL, "n1", "/registry/minions/n1");
	key_is("services", "default", "kubernetes", "/registry/services/specs/default/kubernetes");
	key_is("endpoints", "default", "kubernetes",
	       "/registry/services/endpoints/default/kubernetes");
	key_is("ingresses", "a", "b", "/registry/ingress/a/b");
	key_is("customresourcedefinitions", "", "widgets.example.com",
	       "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com");
	key_is("widgets.example.com", "team", "w1", "/registry/example.com/widgets/team/w1");
	key_is("clusterwidgets.example.com", "", "c1", "/registry/example.com/clusterwidgets/c1");
	/* collections */
	key_is("pods", "default", NULL, "/registry/pods/default/");
	key_is("pods", NULL, NULL, "/registry/pods/");
	key_is("services", NULL, NULL, "/registry/services/specs/");
	key_is("widgets.example.com", NULL, NULL, "/registry/example.com/widgets/");
	/* another prefix (--etcd-prefix) */
	char *k = mk_etcd_registry_key("/c2/", "pods", "a", "b");
	ck_assert_str_eq(k, "/c2/pods/a/b");
	free(k);

	char *r = NULL, *n = NULL, *nm = NULL;
	struct mk_error *e = NULL;
	static const char *const bad[] = {
		"/other/pods/a/b", "/registryx/pods/a", "/registry/pods", "/registry/pods/",
		"/registry/pods/a/b/c", "/registry/pods//b", "/registry//a",
		"/registry/example.com/widgets", "/registry/services/specs/",
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
		mk_error_free(&e);
		ck_assert_msg(mk_etcd_registry_key_parse("/registry", bad[i], &r, &n, &nm, &e) < 0,
			      "'%s' parsed", bad[i]);
		ck_assert_int_eq(e->code, EINVAL);
	}
	mk_error_free(&e);
}
END_TEST

START_TEST(test_object_codec)
{
	struct mk_error *e = NULL;
	const char *obj = "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"resourceVersion\":\"17\"},"
			  "\"spec\":{}}";
	char *stored = NULL, *served = NULL;
	size_t len = 0;
	ck_ok(mk_etcd_object_encode(obj, strlen(obj), &stored, &len, &e), e);
	ck_assert_str_eq(stored, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{}}");
	ck_assert_uint_eq(len, strlen(stored));
	ck_ok(mk_etcd_object_decode(stored, len, 42, &served, &e), e);
	ck_assert_str_eq(served, "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\","
				 "\"resourceVersion\":\"42\"},\"spec\":{}}");
	free(stored);
	free(served);
	ck_fails(mk_etcd_object_encode("[1]", 3, &stored, NULL, &e), e, EINVAL);
	ck_fails(mk_etcd_object_encode("{", 1, &stored, NULL, &e), e, EINVAL);
	ck_fails(mk_etcd_object_decode("nope", 4, 1, &served, &e), e, EIO);
}
END_TEST

static void put_obj(struct mk_etcd *c, const char *key, const char *name, const char *v,
		    int64_t expect, int64_t *ret_rev)
{
	struct mk_error *e = NULL;
	char *json = mk_strdup_printf("{\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"9\"},"
				      "\"data\":{\"v\":\"%s\"}}",
				      name, v);
	char *stored = NULL;
	size_t len;
	ck_ok(mk_etcd_object_encode(json, strlen(json), &stored, &len, &e), e);
	ck_ok(mk_etcd_cas_put(c, key, stored, len, expect, 0, ret_rev, NULL, &e), e);
	free(stored);
	free(json);
}

START_TEST(test_object_events)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	const char *prefix = "/t/reg1";
	char *coll = mk_etcd_registry_key(prefix, "configmaps", NULL, NULL);
	char *end = mk_etcd_prefix_end(coll);
	char *key = mk_etcd_registry_key(prefix, "configmaps", "ns1", "cm");
	struct mk_etcd_watch *w = NULL;
	ck_ok(mk_etcd_watch_new(c, coll, end, 0, MK_ETCD_WATCH_PREV_KV, &w, &e), e);
	int64_t r1, r2, r3;
	put_obj(c, key, "cm", "one", 0, &r1);
	put_obj(c, key, "cm", "two", r1, &r2);
	ck_ok(mk_etcd_cas_delete(c, key, r2, NULL, &r3, NULL, &e), e);
	struct mk_etcd_object_event ev[3];
	int n = 0;
	while (n < 3) {
		struct mk_etcd_watch_batch b = { 0 };
		int r = mk_etcd_watch_next(w, 30000, &b, &e);
		ck_assert_msg(r == 1, "watch: %d %s", r, e ? e->msg : "");
		for (size_t i = 0; i < b.n; i++) {
			ck_assert_int_lt(n, 3);
			ck_ok(mk_etcd_object_event_from(prefix, &b.events[i], &ev[n++], &e), e);
		}
		mk_etcd_watch_batch_release(&b);
	}
	ck_assert_int_eq(ev[0].type, MK_ETCD_OBJECT_ADDED);
	ck_assert_int_eq(ev[0].rv, r1);
	ck_assert_str_eq(ev[0].resource, "configmaps");
	ck_assert_str_eq(ev[0].ns, "ns1");
	ck_assert_str_eq(ev[0].name, "cm");
	char *want = mk_strdup_printf("{\"metadata\":{\"name\":\"cm\",\"resourceVersion\":\"%lld\"},"
				      "\"data\":{\"v\":\"one\"}}",
				      (long long)r1);
	ck_assert_str_eq(ev[0].json, want);
	free(want);
	ck_assert_ptr_null(ev[0].old_json);
	ck_assert_int_eq(ev[1].type, MK_ETCD_OBJECT_MODIFIED);
	ck_assert_int_eq(ev[1].rv, r2);
	ck_assert_ptr_nonnull(strstr(ev[1].json, "\"two\""));
	/* the object before, at its own revision */
	want = mk_strdup_printf("\"resourceVersion\":\"%lld\"", (long long)r1);
	ck_assert_ptr_nonnull(strstr(ev[1].old_json, want));
	ck_assert_ptr_nonnull(strstr(ev[1].old_json, "\"one\""));
	free(want);
	/* DELETED: the last state at the revision of the deletion */
	ck_assert_int_eq(ev[2].type, MK_ETCD_OBJECT_DELETED);
	ck_assert_int_eq(ev[2].rv, r3);
	want = mk_strdup_printf("\"resourceVersion\":\"%lld\"", (long long)r3);
	ck_assert_ptr_nonnull(strstr(ev[2].json, want));
	ck_assert_ptr_nonnull(strstr(ev[2].json, "\"two\""));
	free(want);
	for (int i = 0; i < 3; i++)
		mk_etcd_object_event_release(&ev[i]);
	mk_etcd_watch_free(w);

	/* a delete seen without its previous pair cannot be told */
	struct mk_etcd_event bare = { .type = MK_ETCD_EVENT_DELETE,
				      .kv = { .key = key, .mod_revision = r3 } };
	struct mk_etcd_object_event o;
	ck_fails(mk_etcd_object_event_from(prefix, &bare, &o, &e), e, EINVAL);
	bare.kv.key = "/elsewhere/x";
	ck_fails(mk_etcd_object_event_from(prefix, &bare, &o, &e), e, EINVAL);
	free(key);
	free(coll);
	free(end);
	mk_etcd_free(c);
}
END_TEST

START_TEST(test_range_all)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	const char *prefix = "/t/reg2";
	char *coll = mk_etcd_registry_key(prefix, "pods", NULL, NULL);
	char *end = mk_etcd_prefix_end(coll);
	char key_ns[8];
	int64_t rev = 0;
	for (int i = 0; i < 37; i++) {
		char name[16];
		snprintf(key_ns, sizeof(key_ns), "ns%d", i % 3);
		snprintf(name, sizeof(name), "p%02d", i);
		char *key = mk_etcd_registry_key(prefix, "pods", key_ns, name);
		put_obj(c, key, name, "x", 0, &rev);
		free(key);
	}
	/* after the revision read at: not in the list at it */
	char *late = mk_etcd_registry_key(prefix, "pods", "ns0", "late");
	put_obj(c, late, "late", "x", 0, NULL);
	free(late);
	struct mk_etcd_range r = { 0 };
	ck_ok(mk_etcd_range_all(c, coll, end, rev, 7, &r, &e), e);
	ck_assert_uint_eq(r.n, 37);
	ck_assert_int_eq(r.revision, rev);
	for (size_t i = 1; i < r.n; i++)
		ck_assert_msg(strcmp(r.kvs[i - 1].key, r.kvs[i].key) < 0, "order at %zu", i);
	mk_etcd_range_release(&r);
	/* the newest, in one namespace, pages of 1 */
	char *ns0 = mk_etcd_registry_key(prefix, "pods", "ns0", NULL);
	char *ns0_end = mk_etcd_prefix_end(ns0);
	ck_ok(mk_etcd_range_all(c, ns0, ns0_end, 0, 1, &r, &e), e);
	ck_assert_uint_eq(r.n, 14); /* 13 of the 37, and "late" */
	ck_assert_int_gt(r.revision, rev);
	ck_assert_str_eq(r.kvs[0].key, "/t/reg2/pods/ns0/late");
	mk_etcd_range_release(&r);
	/* empty */
	ck_ok(mk_etcd_range_all(c, "/t/reg2/none/", "/t/reg2/none0", 0, 0, &r, &e), e);
	ck_assert_uint_eq(r.n, 0);
	mk_etcd_range_release(&r);
	free(ns0);
	free(ns0_end);
	free(coll);
	free(end);
	mk_etcd_free(c);
}
END_TEST

/* In the compaction suite: compacts the shared member. */
START_TEST(test_compact_step_two_servers)
{
	struct mk_etcd *a = client_new(NULL), *b = client_new(NULL);
	struct mk_error *e = NULL;
	const char *key = "/t/compact_rev_key";
	int64_t ca = 0, ra = 0, cb = 0, rb = 0, done = -1;
	/* round 1: a records the revision; b follows a's clock */
	ck_ok(mk_etcd_compact_step(a, key, &ca, &ra, &done, &e), e);
	ck_assert_int_eq(done, 0);
	ck_assert_int_eq(ca, 1);
	ck_ok(mk_etcd_compact_step(b, key, &cb, &rb, &done, &e), e);
	ck_assert_int_eq(done, 0);
	ck_assert_int_eq(cb, 1);
	int64_t seen = ra, w;
	ck_ok(mk_etcd_put(a, "/t/cstep", "1", 1, 0, &w, &e), e);
	/* round 2: one of them (a, first) compacts to what it saw in round 1 */
	ck_ok(mk_etcd_compact_step(a, key, &ca, &ra, &done, &e), e);
	ck_assert_int_eq(done, seen);
	ck_ok(mk_etcd_compact_step(b, key, &cb, &rb, &done, &e), e);
	ck_assert_int_eq(done, 0);
	ck_assert_int_eq(cb, 2);
	struct mk_etcd_range_options o = { .revision = seen - 1 };
	struct mk_etcd_range r = { 0 };
	ck_fails(mk_etcd_range(a, "/t/cstep", &o, &r, &e), e, ERANGE);
	o.revision = w;
	ck_ok(mk_etcd_range(a, "/t/cstep", &o, &r, &e), e);
	mk_etcd_range_release(&r);
	/* round 3: b's turn now that it follows the clock */
	ck_ok(mk_etcd_compact_step(b, key, &cb, &rb, &done, &e), e);
	ck_assert_int_gt(done, seen);
	mk_etcd_free(a);
	mk_etcd_free(b);
}
END_TEST

Suite *etcd_registry_suite(void)
{
	Suite *s = suite_create("etcd_registry");
	TCase *tc = tcase_create("registry");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registry_keys);
	tcase_add_test(tc, test_object_codec);
	tcase_add_test(tc, test_object_events);
	tcase_add_test(tc, test_range_all);
	suite_add_tcase(s, tc);
	return s;
}

TCase *etcd_compact_step_tcase(void)
{
	TCase *tc = tcase_create("compact_step");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_compact_step_two_servers);
	return tc;
}
