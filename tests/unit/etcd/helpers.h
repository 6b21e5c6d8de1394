/* Shared by the etcd tests: the suite's single-member etcd and a client to it. */
#ifndef MK_TEST_ETCD_HELPERS_H
#define MK_TEST_ETCD_HELPERS_H

#include <check.h>
#include <errno.h>
#include "minik8s/etcd.h"
#include "server.h"

/* started once by main.c (unchecked fixture), shared by the kv and watch tests */
extern struct etcd_test_cluster *etcd_shared;

/* A client to the given endpoints (NULL: the shared member). */
static inline struct mk_etcd *client_new(const char *const *endpoints)
{
	struct mk_etcd_options o = { .endpoints = endpoints ? endpoints : etcd_shared->endpoints,
				     .timeout_ms = 15000 };
	struct mk_etcd *c = NULL;
	struct mk_error *err = NULL;
	ck_assert_msg(mk_etcd_new(&o, &c, &err) == 0, "client: %s", err ? err->msg : "?");
	return c;
}

/* expr (which uses &e) succeeds */
#define ck_ok(expr, e)                                                                      \
	do {                                                                                \
		mk_error_free(&(e));                                                        \
		int _r = (expr);                                                            \
		ck_assert_msg(_r >= 0, "%s: %s", #expr, (e) ? (e)->msg : "?");              \
	} while (0)

/* expr (which uses &e) fails with code */
#define ck_fails(expr, e, want)                                                             \
	do {                                                                                \
		mk_error_free(&(e));                                                        \
		int _r = (expr);                                                            \
		ck_assert_msg(_r < 0, "%s succeeded", #expr);                               \
		ck_assert_msg((e) && (e)->code == (want), "%s: code %d (%s), want %d", #expr, \
			      (e) ? (e)->code : 0, (e) ? (e)->msg : "", (want));            \
		mk_error_free(&(e));                                                        \
	} while (0)

Suite *etcd_kv_suite(void);
Suite *etcd_watch_suite(void);
Suite *etcd_failover_suite(void);
Suite *etcd_compaction_suite(void);
Suite *etcd_registry_suite(void);
TCase *etcd_compact_step_tcase(void);
Suite *etcd_store_suite(void);
TCase *etcd_store_compaction_tcase(void);

#endif
