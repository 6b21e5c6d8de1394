/* Failover against real etcd members: a dead endpoint first in the list, a member of
 * a 3-member cluster killed under a client and a watch, TLS client certificates. */
#include <string.h>
#include <unistd.h>
#include "helpers.h"
#include "minik8s/store.h"

START_TEST(test_dead_endpoint_first)
{
	char *dead = mk_strdup_printf("http://127.0.0.1:%d", etcd_test_free_port());
	const char *eps[] = { dead, etcd_shared->client_url[0], NULL };
	struct mk_etcd *c = client_new(eps);
	struct mk_error *e = NULL;
	int64_t rev = 0;
	ck_ok(mk_etcd_put(c, "/t/failover/a", "1", 1, 0, &rev, &e), e);
	/* the client stays on the member that answered */
	ck_assert_str_eq(mk_etcd_endpoint_current(c), etcd_shared->client_url[0]);
	struct mk_etcd_kv kv = { 0 };
	ck_ok(mk_etcd_get(c, "/t/failover/a", &kv, NULL, &e), e);
	ck_assert_int_eq(kv.mod_revision, rev);
	mk_etcd_kv_release(&kv);
	mk_etcd_free(c);

	/* a watch fails over too */
	c = client_new(eps);
	struct mk_etcd_watch *w = NULL;
	ck_ok(mk_etcd_watch_new(c, "/t/failover/a", NULL, rev, 0, &w, &e), e);
	struct mk_etcd_watch_batch b = { 0 };
	int r = mk_etcd_watch_next(w, 30000, &b, &e);
	ck_assert_msg(r == 1, "watch next: %d %s", r, e ? e->msg : "");
	ck_assert_int_eq(b.events[0].kv.mod_revision, rev);
	mk_etcd_watch_batch_release(&b);
	mk_etcd_watch_free(w);
	mk_etcd_free(c);

	/* no endpoint at all */
	char *dead2 = mk_strdup_printf("http://127.0.0.1:%d", etcd_test_free_port());
	const char *none[] = { dead, dead2, NULL };
	c = client_new(none);
	ck_fails(mk_etcd_get(c, "/t/failover/a", NULL, NULL, &e), e, ECONNREFUSED);
	ck_fails(mk_etcd_put(c, "/t/failover/a", "1", 1, 0, NULL, &e), e, ECONNREFUSED);
	ck_fails(mk_etcd_watch_new(c, "/t/failover/a", NULL, 0, 0, &w, &e), e, ECONNREFUSED);
	mk_etcd_free(c);
	free(dead);
	free(dead2);
}
END_TEST

static int member_of(struct etcd_test_cluster *cl, const char *url)
{
	for (int i = 0; i < cl->n; i++)
		if (!strcmp(cl->client_url[i], url))
			return i;
	ck_abort_msg("endpoint %s is no member", url);
	return -1;
}

START_TEST(test_cluster_member_killed)
{
	struct etcd_test_cluster *cl = etcd_test_cluster_start(3, false);
	struct mk_etcd *c = client_new(cl->endpoints);
	struct mk_error *e = NULL;
	char *end = mk_etcd_prefix_end("/t/ha/");
	struct mk_etcd_watch *w = NULL;
	ck_ok(mk_etcd_watch_new(c, "/t/ha/", end, 0, 0, &w, &e), e);
	int64_t revs[6];
	ck_ok(mk_etcd_cas_put(c, "/t/ha/0", "0", 1, 0, 0, &revs[0], NULL, &e), e);
	ck_ok(mk_etcd_cas_put(c, "/t/ha/1", "1", 1, 0, 0, &revs[1], NULL, &e), e);
	struct mk_etcd_watch_batch b = { 0 };
	int seen = 0;
	while (seen < 2) {
		int r = mk_etcd_watch_next(w, 30000, &b, &e);
		ck_assert_msg(r == 1, "watch next: %d %s", r, e ? e->msg : "");
		for (size_t i = 0; i < b.n; i++)
			ck_assert_int_eq(b.events[i].kv.mod_revision, revs[seen++]);
		mk_etcd_watch_batch_release(&b);
	}
	/* kill the member the client (and its watch) talk to */
	int victim = member_of(cl, mk_etcd_endpoint_current(c));
	etcd_test_member_kill(cl, victim);
	/* writes go to another member; the two left keep the quorum. A write may
	 * meet "no leader" while the two elect one (the victim may have led): retried
	 * on the next member, bounded */
	for (int i = 2; i < 4; i++) {
		char key[32];
		snprintf(key, sizeof(key), "/t/ha/%d", i);
		int r = -1;
		for (int t = 0; t < 100 && r < 0; t++) {
			mk_error_free(&e);
			r = mk_etcd_cas_put(c, key, "x", 1, 0, 0, &revs[i], NULL, &e);
			if (r < 0) {
				ck_assert_msg(e->code == EAGAIN || e->code == ETIMEDOUT ||
						      e->code == ECONNREFUSED,
					      "put %s: %s", key, e->msg);
				struct timespec ts = { 0, 200 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
		}
		ck_assert_msg(r == 0, "put %s after the kill: %s", key, e ? e->msg : "");
	}
	ck_assert_int_ne(member_of(cl, mk_etcd_endpoint_current(c)), victim);
	/* the watch resumes on another member after the last event it delivered:
	 * the two new events, none lost, none twice */
	while (seen < 4) {
		int r = mk_etcd_watch_next(w, 30000, &b, &e);
		ck_assert_msg(r == 1, "watch next after the kill: %d %s", r, e ? e->msg : "");
		for (size_t i = 0; i < b.n; i++) {
			ck_assert_msg(seen < 4, "an event twice or more");
			ck_assert_int_eq(b.events[i].kv.mod_revision, revs[seen++]);
		}
		mk_etcd_watch_batch_release(&b);
	}
	ck_assert_int_eq(mk_etcd_watch_next(w, 300, &b, &e), 0);
	/* the member comes back with every write (raft catches it up) */
	etcd_test_member_restart(cl, victim);
	const char *only[] = { cl->client_url[victim], NULL };
	struct mk_etcd *c2 = client_new(only);
	struct mk_etcd_range_options o = { .range_end = end };
	struct mk_etcd_range r = { 0 };
	ck_ok(mk_etcd_range(c2, "/t/ha/", &o, &r, &e), e);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_int_eq(r.kvs[3].mod_revision, revs[3]);
	mk_etcd_range_release(&r);
	mk_etcd_free(c2);
	mk_etcd_watch_free(w);
	free(end);
	mk_etcd_free(c);
	etcd_test_cluster_stop(cl);
}
END_TEST

START_TEST(test_tls_client_cert)
{
	struct etcd_test_cluster *cl = etcd_test_cluster_start(1, true);
	struct mk_error *e = NULL;
	struct mk_etcd_options o = { .endpoints = cl->endpoints, .timeout_ms = 15000,
				     .cafile = cl->ca, .certfile = cl->client_cert,
				     .keyfile = cl->client_key };
	struct mk_etcd *c = NULL;
	ck_ok(mk_etcd_new(&o, &c, &e), e);
	int64_t rev;
	ck_ok(mk_etcd_put(c, "/t/tls/k", "secret", 6, 0, &rev, &e), e);
	struct mk_etcd_kv kv = { 0 };
	ck_ok(mk_etcd_get(c, "/t/tls/k", &kv, NULL, &e), e);
	ck_assert_str_eq(kv.value, "secret");
	mk_etcd_kv_release(&kv);
	struct mk_etcd_watch *w = NULL;
	ck_ok(mk_etcd_watch_new(c, "/t/tls/k", NULL, rev, 0, &w, &e), e);
	struct mk_etcd_watch_batch b = { 0 };
	ck_assert_int_eq(mk_etcd_watch_next(w, 30000, &b, &e), 1);
	ck_assert_int_eq(b.events[0].kv.mod_revision, rev);
	mk_etcd_watch_batch_release(&b);
	mk_etcd_watch_free(w);
	mk_etcd_free(c);

	/* without a client certificate: etcd's --client-cert-auth refuses */
	o.certfile = o.keyfile = NULL;
	ck_ok(mk_etcd_new(&o, &c, &e), e);
	mk_error_free(&e);
	ck_assert_int_lt(mk_etcd_get(c, "/t/tls/k", NULL, NULL, &e), 0);
	ck_assert_int_ne(e->code, ENOENT);
	mk_error_free(&e);
	mk_etcd_free(c);
	/* without the CA: the member's certificate is not trusted */
	o.cafile = NULL;
	o.certfile = cl->client_cert;
	o.keyfile = cl->client_key;
	ck_ok(mk_etcd_new(&o, &c, &e), e);
	mk_error_free(&e);
	ck_assert_int_lt(mk_etcd_get(c, "/t/tls/k", NULL, NULL, &e), 0);
	ck_assert_int_ne(e->code, ENOENT);
	mk_error_free(&e);
	mk_etcd_free(c);
	etcd_test_cluster_stop(cl);
}
END_TEST

/* The store on a 3-member cluster: the member it talks to (the first) is killed;
 * writes go on through the others and the watch feed resumes without a loss. */
START_TEST(test_store_member_killed)
{
	struct etcd_test_cluster *cl = etcd_test_cluster_start(3, false);
	char *ep = mk_strdup_printf("%s,%s,%s", cl->client_url[0], cl->client_url[1],
				    cl->client_url[2]);
	struct mk_store_options o = { .endpoint = ep };
	struct mk_store *s = NULL;
	struct mk_error *e = NULL;
	ck_ok(mk_store_open(&o, &s, &e), e);
	struct mk_store_watch *w = NULL;
	ck_ok(mk_store_watch_new(s, "configmaps", NULL, mk_store_revision(s), &w, &e), e);
	uint64_t rvs[4];
	for (int i = 0; i < 4; i++) {
		if (i == 2)
			etcd_test_member_kill(cl, 0);
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		cJSON *obj = cJSON_Parse("{\"kind\":\"ConfigMap\",\"metadata\":{}}");
		int r = -1;
		/* while the two left elect a leader (the killed one may have led), a write
		 * may fail: again, bounded; one that did land answers EEXIST */
		for (int t = 0; t < 100 && r < 0; t++) {
			mk_error_free(&e);
			r = mk_store_create(s, "configmaps", "default", name, obj, NULL, &rvs[i], &e);
			if (r < 0 && t > 0 && e->code == EEXIST) {
				mk_error_free(&e);
				r = mk_store_get(s, "configmaps", "default", name, NULL, &rvs[i], &e);
				ck_assert_msg(r == 0, "get %s: %s", name, e ? e->msg : "");
			}
			if (r < 0) {
				ck_assert_msg(e->code == EIO, "create %s: %s", name, e->msg);
				usleep(200 * 1000);
			}
		}
		ck_assert_msg(r == 0, "create %s: %s", name, e ? e->msg : "");
		cJSON_Delete(obj);
	}
	for (int i = 0; i < 4; i++) {
		struct mk_store_event *ev = NULL;
		int r = mk_store_watch_next(w, 30000, &ev, &e);
		ck_assert_msg(r == 1, "watch next %d: %d %s", i, r, e ? e->msg : "");
		ck_assert_int_eq(ev->type, MK_STORE_ADDED);
		ck_assert_uint_eq(ev->rv, rvs[i]);
		mk_store_event_unref(ev);
	}
	mk_store_watch_free(w);
	struct mk_store_list l = { 0 };
	ck_ok(mk_store_list(s, "configmaps", NULL, NULL, NULL, &l, &e), e);
	ck_assert_uint_eq(l.n, 4);
	mk_store_list_release(&l);
	mk_store_free(s);
	free(ep);
	etcd_test_cluster_stop(cl);
}
END_TEST

Suite *etcd_failover_suite(void)
{
	Suite *s = suite_create("etcd_failover");
	TCase *tc = tcase_create("failover");
	/* three members to start and one to restart on a loaded machine */
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, test_dead_endpoint_first);
	tcase_add_test(tc, test_cluster_member_killed);
	tcase_add_test(tc, test_tls_client_cert);
	tcase_add_test(tc, test_store_member_killed);
	suite_add_tcase(s, tc);
	return s;
}
