/* The etcd package's Check runner: the client against a real etcd (Debian's
 * etcd-server), started by the tests on free 127.0.0.1 ports and stopped by PID. */
#include <stdlib.h>
#include "helpers.h"

struct etcd_test_cluster *etcd_shared;

static void shared_start(void)
{
	etcd_test_outside_tests = true;
	etcd_shared = etcd_test_cluster_start(1, false);
	etcd_test_outside_tests = false;
}
static void shared_stop(void)
{
	etcd_test_cluster_stop(etcd_shared);
	etcd_shared = NULL;
}

int main(void)
{
	Suite *kv = etcd_kv_suite(), *watch = etcd_watch_suite();
	SRunner *sr = srunner_create(kv);
	srunner_add_suite(sr, watch);
	srunner_add_suite(sr, etcd_registry_suite());
	srunner_add_suite(sr, etcd_store_suite());
	srunner_add_suite(sr, etcd_failover_suite());
	srunner_add_suite(sr, etcd_compaction_suite());
	/* one member for the kv and watch tests: started in the runner's process
	 * before the (forked) tests, stopped after them */
	shared_start();
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	shared_stop();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
