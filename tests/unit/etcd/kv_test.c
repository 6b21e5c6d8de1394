/* Key-value calls against a real etcd: put/get, range at a revision with paging,
 * compare-and-swap conflicts, deletes, transactions, leases, compaction. */
#include <string.h>
#include "helpers.h"

START_TEST(test_endpoints_parse)
{
	char **v = NULL;
	struct mk_error *e = NULL;
	ck_ok(mk_etcd_endpoints_parse(" http://127.0.0.1:2379/ ,https://10.0.0.2:2379", &v, &e), e);
	ck_assert_int_eq(mk_strv_len(v), 2);
	ck_assert_str_eq(v[0], "http://127.0.0.1:2379");
	ck_assert_str_eq(v[1], "https://10.0.0.2:2379");
	mk_strv_free(v);
	v = NULL;
	ck_fails(mk_etcd_endpoints_parse("", &v, &e), e, EINVAL);
	ck_fails(mk_etcd_endpoints_parse(",", &v, &e), e, EINVAL);
	ck_fails(mk_etcd_endpoints_parse("http://a:1,unix:///x", &v, &e), e, EINVAL);
	ck_fails(mk_etcd_endpoints_parse("postgres://a:1", &v, &e), e, EINVAL);
	ck_fails(mk_etcd_endpoints_parse("http://", &v, &e), e, EINVAL);
	ck_fails(mk_etcd_endpoints_parse("http://a:1/path", &v, &e), e, EINVAL);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(test_prefix_end)
{
	char *p = mk_etcd_prefix_end("/registry/pods/");
	ck_assert_str_eq(p, "/registry/pods0"); /* '/' + 1 */
	free(p);
	p = mk_etcd_prefix_end("a\xff");
	ck_assert_str_eq(p, "b");
	free(p);
	p = mk_etcd_prefix_end("\xff\xff");
	ck_assert_str_eq(p, "");
	free(p);
}
END_TEST

START_TEST(test_put_get)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	int64_t rev1 = 0, rev2 = 0, rev = 0;
	ck_ok(mk_etcd_put(c, "/t/putget/a", "hello", 5, 0, &rev1, &e), e);
	ck_assert_int_gt(rev1, 0);
	/* a value with a NUL byte and bytes that are not UTF-8 */
	static const char bin[] = { 'x', 0, '\xff', '\x80', 'y' };
	ck_ok(mk_etcd_put(c, "/t/putget/a", bin, sizeof(bin), 0, &rev2, &e), e);
	ck_assert_int_eq(rev2, rev1 + 1);
	struct mk_etcd_kv kv = { 0 };
	ck_ok(mk_etcd_get(c, "/t/putget/a", &kv, &rev, &e), e);
	ck_assert_str_eq(kv.key, "/t/putget/a");
	ck_assert_uint_eq(kv.value_len, sizeof(bin));
	ck_assert_mem_eq(kv.value, bin, sizeof(bin));
	ck_assert_int_eq(kv.create_revision, rev1);
	ck_assert_int_eq(kv.mod_revision, rev2);
	ck_assert_int_eq(kv.version, 2);
	ck_assert_int_ge(rev, rev2);
	mk_etcd_kv_release(&kv);
	ck_fails(mk_etcd_get(c, "/t/putget/missing", &kv, NULL, &e), e, ENOENT);
	/* an empty value is a value */
	ck_ok(mk_etcd_put(c, "/t/putget/empty", "", 0, 0, NULL, &e), e);
	ck_ok(mk_etcd_get(c, "/t/putget/empty", &kv, NULL, &e), e);
	ck_assert_uint_eq(kv.value_len, 0);
	ck_assert_str_eq(kv.value, "");
	mk_etcd_kv_release(&kv);
	mk_etcd_free(c);
}
END_TEST

START_TEST(test_range_paging_at_revision)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	char key[64], val[16];
	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "/t/page/k%02d", i);
		snprintf(val, sizeof(val), "v%d", i);
		ck_ok(mk_etcd_put(c, key, val, strlen(val), 0, NULL, &e), e);
	}
	/* a key outside the prefix, just after it in key order */
	ck_ok(mk_etcd_put(c, "/t/page0", "x", 1, 0, NULL, &e), e);
	char *end = mk_etcd_prefix_end("/t/page/");
	struct mk_etcd_range_options o = { .range_end = end, .limit = 10 };
	struct mk_etcd_range r = { 0 };
	ck_ok(mk_etcd_range(c, "/t/page/", &o, &r, &e), e);
	ck_assert_uint_eq(r.n, 10);
	ck_assert(r.more);
	ck_assert_int_eq(r.count, 25);
	int64_t at = r.revision;
	/* pages after the first are read at the first one's revision: a write in
	 * between is not seen, as a paged list of kube-apiserver */
	ck_ok(mk_etcd_put(c, "/t/page/k10", "changed", 7, 0, NULL, &e), e);
	ck_ok(mk_etcd_put(c, "/t/page/k99", "new", 3, 0, NULL, &e), e);
	int seen = 0;
	for (int page = 0; page < 10; page++) {
		for (size_t i = 0; i < r.n; i++) {
			/* the next page starts at the last key of this one: skip it */
			if (page && i == 0)
				continue;
			snprintf(key, sizeof(key), "/t/page/k%02d", seen);
			snprintf(val, sizeof(val), "v%d", seen);
			ck_assert_str_eq(r.kvs[i].key, key);
			ck_assert_str_eq(r.kvs[i].value, val);
			seen++;
		}
		if (!r.more)
			break;
		char *next = mk_strdup(r.kvs[r.n - 1].key);
		mk_etcd_range_release(&r);
		o.revision = at;
		o.limit = 11;
		ck_ok(mk_etcd_range(c, next, &o, &r, &e), e);
		free(next);
		ck_assert_int_eq(r.revision >= at, 1);
	}
	mk_etcd_range_release(&r);
	ck_assert_int_eq(seen, 25);
	/* the newest state has the writes */
	o = (struct mk_etcd_range_options){ .range_end = end, .count_only = true };
	ck_ok(mk_etcd_range(c, "/t/page/", &o, &r, &e), e);
	ck_assert_int_eq(r.count, 26);
	ck_assert_uint_eq(r.n, 0);
	mk_etcd_range_release(&r);
	/* keys_only */
	o = (struct mk_etcd_range_options){ .range_end = end, .keys_only = true, .limit = 1 };
	ck_ok(mk_etcd_range(c, "/t/page/", &o, &r, &e), e);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.kvs[0].key, "/t/page/k00");
	ck_assert_uint_eq(r.kvs[0].value_len, 0);
	mk_etcd_range_release(&r);
	/* a revision in the future */
	o = (struct mk_etcd_range_options){ .range_end = end, .revision = at + 1000000 };
	ck_fails(mk_etcd_range(c, "/t/page/", &o, &r, &e), e, EOVERFLOW);
	free(end);
	mk_etcd_free(c);
}
END_TEST

START_TEST(test_read_old_revision)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	int64_t r1, r2;
	ck_ok(mk_etcd_put(c, "/t/old/k", "one", 3, 0, &r1, &e), e);
	ck_ok(mk_etcd_put(c, "/t/old/k", "two", 3, 0, &r2, &e), e);
	struct mk_etcd_range_options o = { .revision = r1 };
	struct mk_etcd_range r = { 0 };
	ck_ok(mk_etcd_range(c, "/t/old/k", &o, &r, &e), e);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.kvs[0].value, "one");
	ck_assert_int_eq(r.kvs[0].mod_revision, r1);
	mk_etcd_range_release(&r);
	o.revision = r2;
	ck_ok(mk_etcd_range(c, "/t/old/k", &o, &r, &e), e);
	ck_assert_str_eq(r.kvs[0].value, "two");
	mk_etcd_range_release(&r);
	mk_etcd_free(c);
}
END_TEST

START_TEST(test_cas)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	struct mk_etcd_kv cur = { 0 }, prev = { 0 };
	int64_t r1, r2, rd;
	const char *k = "/registry/pods/default/cas";
	ck_ok(mk_etcd_cas_put(c, k, "v1", 2, 0, 0, &r1, NULL, &e), e);
	/* a second create: EEXIST, with the pair that is there */
	ck_fails(mk_etcd_cas_put(c, k, "v1b", 3, 0, 0, NULL, &cur, &e), e, EEXIST);
	ck_assert_int_eq(cur.mod_revision, r1);
	ck_assert_str_eq(cur.value, "v1");
	mk_etcd_kv_release(&cur);
	ck_ok(mk_etcd_cas_put(c, k, "v2", 2, r1, 0, &r2, NULL, &e), e);
	ck_assert_int_gt(r2, r1);
	/* an update from a stale read loses */
	ck_fails(mk_etcd_cas_put(c, k, "v3", 2, r1, 0, NULL, &cur, &e), e, ESTALE);
	ck_assert_int_eq(cur.mod_revision, r2);
	ck_assert_str_eq(cur.value, "v2");
	mk_etcd_kv_release(&cur);
	struct mk_etcd_kv kv = { 0 };
	ck_ok(mk_etcd_get(c, k, &kv, NULL, &e), e);
	ck_assert_str_eq(kv.value, "v2");
	mk_etcd_kv_release(&kv);
	/* update and delete of a key that is not there */
	ck_fails(mk_etcd_cas_put(c, "/registry/pods/default/none", "x", 1, 5, 0, NULL, &cur, &e),
		 e, ENOENT);
	ck_assert_ptr_null(cur.key);
	ck_fails(mk_etcd_cas_delete(c, "/registry/pods/default/none", 0, NULL, NULL, NULL, &e), e,
		 ENOENT);
	/* a stale delete loses; the right one returns the last state */
	ck_fails(mk_etcd_cas_delete(c, k, r1, NULL, NULL, &cur, &e), e, ESTALE);
	ck_assert_int_eq(cur.mod_revision, r2);
	mk_etcd_kv_release(&cur);
	ck_ok(mk_etcd_cas_delete(c, k, r2, &prev, &rd, NULL, &e), e);
	ck_assert_str_eq(prev.value, "v2");
	ck_assert_int_eq(prev.mod_revision, r2);
	ck_assert_int_gt(rd, r2);
	mk_etcd_kv_release(&prev);
	ck_fails(mk_etcd_get(c, k, NULL, NULL, &e), e, ENOENT);
	ck_fails(mk_etcd_cas_delete(c, k, r2, NULL, NULL, NULL, &e), e, ENOENT);
	/* created again: a new create_revision; delete without a precondition */
	ck_ok(mk_etcd_cas_put(c, k, "again", 5, 0, 0, &r1, NULL, &e), e);
	ck_assert_int_gt(r1, rd);
	ck_ok(mk_etcd_cas_delete(c, k, 0, &prev, NULL, NULL, &e), e);
	ck_assert_str_eq(prev.value, "again");
	ck_assert_int_eq(prev.create_revision, r1);
	mk_etcd_kv_release(&prev);
	ck_fails(mk_etcd_cas_put(c, k, "x", 1, -1, 0, NULL, NULL, &e), e, EINVAL);
	mk_etcd_free(c);
}
END_TEST

START_TEST(test_delete_range_and_txn)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	ck_ok(mk_etcd_put(c, "/t/del/a", "1", 1, 0, NULL, &e), e);
	ck_ok(mk_etcd_put(c, "/t/del/b", "2", 1, 0, NULL, &e), e);
	ck_ok(mk_etcd_put(c, "/t/del/c", "3", 1, 0, NULL, &e), e);
	ck_ok(mk_etcd_put(c, "/t/dem", "keep", 4, 0, NULL, &e), e);
	/* [a, c): two keys */
	int64_t n = 0, rev = 0;
	ck_ok(mk_etcd_delete_range(c, "/t/del/a", "/t/del/c", &n, &rev, &e), e);
	ck_assert_int_eq(n, 2);
	ck_ok(mk_etcd_delete_range(c, "/t/del/a", NULL, &n, NULL, &e), e);
	ck_assert_int_eq(n, 0);
	char *end = mk_etcd_prefix_end("/t/del/");
	ck_ok(mk_etcd_delete_range(c, "/t/del/", end, &n, NULL, &e), e);
	ck_assert_int_eq(n, 1);
	free(end);
	ck_ok(mk_etcd_get(c, "/t/dem", NULL, NULL, &e), e);

	/* txn: compare on value and version; two puts, a range and a delete (etcd
	 * refuses a key written twice in one transaction) */
	struct mk_etcd_compare cmp[] = {
		{ .key = "/t/dem", .target = MK_ETCD_CMP_VALUE, .result = MK_ETCD_CMP_EQUAL,
		  .value = "keep", .value_len = 4 },
		{ .key = "/t/dem", .target = MK_ETCD_CMP_VERSION, .result = MK_ETCD_CMP_GREATER,
		  .number = 0 },
	};
	struct mk_etcd_op ok_ops[] = {
		{ .type = MK_ETCD_OP_PUT, .key = "/t/txn/x", .value = "X", .value_len = 1 },
		{ .type = MK_ETCD_OP_PUT, .key = "/t/dem", .value = "kept", .value_len = 4,
		  .prev_kv = true },
		{ .type = MK_ETCD_OP_RANGE, .key = "/t/txn/x" },
		{ .type = MK_ETCD_OP_DELETE, .key = "/t/txn/y", .prev_kv = true },
	};
	struct mk_etcd_op bad_ops[] = { { .type = MK_ETCD_OP_RANGE, .key = "/t/dem" } };
	ck_ok(mk_etcd_put(c, "/t/txn/y", "Y", 1, 0, NULL, &e), e);
	struct mk_etcd_txn t = { 0 };
	ck_ok(mk_etcd_txn(c, cmp, 2, ok_ops, 4, bad_ops, 1, &t, &e), e);
	ck_assert(t.succeeded);
	ck_assert_uint_eq(t.n, 4);
	ck_assert_int_eq(t.results[0].type, MK_ETCD_OP_PUT);
	ck_assert_uint_eq(t.results[1].range.n, 1);
	ck_assert_str_eq(t.results[1].range.kvs[0].value, "keep");
	ck_assert_uint_eq(t.results[2].range.n, 1);
	ck_assert_str_eq(t.results[2].range.kvs[0].value, "X");
	ck_assert_int_eq(t.results[3].deleted, 1);
	ck_assert_str_eq(t.results[3].range.kvs[0].value, "Y");
	/* one transaction, one revision */
	int64_t trev = t.revision;
	mk_etcd_txn_release(&t);
	struct mk_etcd_kv kv = { 0 };
	ck_ok(mk_etcd_get(c, "/t/dem", &kv, NULL, &e), e);
	ck_assert_int_eq(kv.mod_revision, trev);
	mk_etcd_kv_release(&kv);
	/* the same compare fails now: the failure branch runs */
	ck_ok(mk_etcd_txn(c, cmp, 2, ok_ops, 4, bad_ops, 1, &t, &e), e);
	ck_assert(!t.succeeded);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_str_eq(t.results[0].range.kvs[0].value, "kept");
	mk_etcd_txn_release(&t);
	ck_fails(mk_etcd_get(c, "/t/txn/y", NULL, NULL, &e), e, ENOENT);
	ck_ok(mk_etcd_get(c, "/t/txn/x", NULL, NULL, &e), e);
	/* bad input never reaches etcd */
	struct mk_etcd_op nokey = { .type = MK_ETCD_OP_PUT };
	ck_fails(mk_etcd_txn(c, NULL, 0, &nokey, 1, NULL, 0, &t, &e), e, EINVAL);
	mk_etcd_free(c);
}
END_TEST

START_TEST(test_lease)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	int64_t id = 0, ttl = 0;
	ck_ok(mk_etcd_lease_grant(c, 30, &id, &ttl, &e), e);
	ck_assert_int_ne(id, 0);
	ck_assert_int_eq(ttl, 30);
	ck_ok(mk_etcd_put(c, "/t/lease/k", "v", 1, id, NULL, &e), e);
	struct mk_etcd_kv kv = { 0 };
	ck_ok(mk_etcd_get(c, "/t/lease/k", &kv, NULL, &e), e);
	ck_assert_int_eq(kv.lease, id);
	mk_etcd_kv_release(&kv);
	ck_ok(mk_etcd_lease_keepalive(c, id, &ttl, &e), e);
	ck_assert_int_eq(ttl, 30);
	ck_ok(mk_etcd_lease_ttl(c, id, &ttl, &e), e);
	ck_assert(ttl > 0 && ttl <= 30);
	/* revoking deletes the keys attached */
	ck_ok(mk_etcd_lease_revoke(c, id, &e), e);
	ck_fails(mk_etcd_get(c, "/t/lease/k", NULL, NULL, &e), e, ENOENT);
	ck_fails(mk_etcd_lease_keepalive(c, id, NULL, &e), e, ENOENT);
	ck_fails(mk_etcd_lease_ttl(c, id, &ttl, &e), e, ENOENT);
	ck_fails(mk_etcd_lease_revoke(c, id, &e), e, ENOENT);
	/* a put on a lease that does not exist */
	ck_fails(mk_etcd_put(c, "/t/lease/k", "v", 1, id, NULL, &e), e, ENOENT);
	ck_fails(mk_etcd_lease_grant(c, 0, &id, NULL, &e), e, EINVAL);
	mk_etcd_free(c);
}
END_TEST

/* Runs last in the suite: compaction removes history every other test may read. */
START_TEST(test_compaction)
{
	struct mk_etcd *c = client_new(NULL);
	struct mk_error *e = NULL;
	int64_t r1, r2, r3;
	ck_ok(mk_etcd_put(c, "/t/compact/k", "1", 1, 0, &r1, &e), e);
	ck_ok(mk_etcd_put(c, "/t/compact/k", "2", 1, 0, &r2, &e), e);
	ck_ok(mk_etcd_put(c, "/t/compact/k", "3", 1, 0, &r3, &e), e);
	ck_ok(mk_etcd_compact(c, r2, true, &e), e);
	struct mk_etcd_range_options o = { .revision = r1 };
	struct mk_etcd_range r = { 0 };
	/* the error the store maps to 410 Gone */
	ck_fails(mk_etcd_range(c, "/t/compact/k", &o, &r, &e), e, ERANGE);
	o.revision = r2;
	ck_ok(mk_etcd_range(c, "/t/compact/k", &o, &r, &e), e);
	ck_assert_str_eq(r.kvs[0].value, "2");
	mk_etcd_range_release(&r);
	/* compacting again at the same or an older revision */
	ck_fails(mk_etcd_compact(c, r1, false, &e), e, ERANGE);
	ck_fails(mk_etcd_compact(c, 0, false, &e), e, EINVAL);
	/* a watch from a compacted revision ends with ERANGE and tells the oldest left */
	struct mk_etcd_watch *w = NULL;
	ck_ok(mk_etcd_watch_new(c, "/t/compact/k", NULL, r1, 0, &w, &e), e);
	struct mk_etcd_watch_batch b = { 0 };
	ck_fails(mk_etcd_watch_next(w, 20000, &b, &e), e, ERANGE);
	ck_assert_int_eq(mk_etcd_watch_compact_revision(w), r2);
	mk_etcd_watch_free(w);
	/* from the compact revision on, the history is there */
	ck_ok(mk_etcd_watch_new(c, "/t/compact/k", NULL, r2, 0, &w, &e), e);
	int r_ = mk_etcd_watch_next(w, 20000, &b, &e);
	ck_assert_msg(r_ == 1, "watch next: %d %s", r_, e ? e->msg : "");
	ck_assert_uint_ge(b.n, 1);
	ck_assert_int_eq(b.events[0].kv.mod_revision, r2);
	mk_etcd_watch_batch_release(&b);
	mk_etcd_watch_free(w);
	(void)r3;
	mk_etcd_free(c);
}
END_TEST

Suite *etcd_kv_suite(void)
{
	Suite *s = suite_create("etcd_kv");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, test_endpoints_parse);
	tcase_add_test(tc, test_prefix_end);
	suite_add_tcase(s, tc);
	tc = tcase_create("kv");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_range_paging_at_revision);
	tcase_add_test(tc, test_read_old_revision);
	tcase_add_test(tc, test_cas);
	tcase_add_test(tc, test_delete_range_and_txn);
	tcase_add_test(tc, test_lease);
	suite_add_tcase(s, tc);
	return s;
}

/* the compaction test, run after the watch suite (main.c adds it last) */
Suite *etcd_compaction_suite(void)
{
	Suite *s = suite_create("etcd_compaction");
	TCase *tc = tcase_create("compaction");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_compaction);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, etcd_compact_step_tcase());
	suite_add_tcase(s, etcd_store_compaction_tcase());
	return s;
}
