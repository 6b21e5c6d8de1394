/* The store package's Check runner. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

Suite *object_suite(void);
Suite *watch_suite(void);
Suite *concurrency_suite(void);
Suite *seal_suite(void);
Suite *shared_suite(void);

int main(void)
{
	const char *ep = getenv("MINIK8S_TEST_STORE_ENDPOINT");
	SRunner *sr = srunner_create(object_suite());
	srunner_add_suite(sr, watch_suite());
	srunner_add_suite(sr, concurrency_suite());
	/* the seal suite reads the SQLite file itself to prove no plain text is left;
	 * with an endpoint it still runs, on SQLite (said here, not skipped silently) */
	if (ep && *ep)
		printf("store tests on %s (the seal suite on SQLite: it inspects the file)\n",
		       "MINIK8S_TEST_STORE_ENDPOINT");
	srunner_add_suite(sr, seal_suite());
	/* stores sharing one datastore: only with an endpoint (a server locks its
	 * SQLite data dir, so SQLite never has two writers) */
	if (ep && *ep)
		srunner_add_suite(sr, shared_suite());
	else
		printf("store-shared: runs with MINIK8S_TEST_STORE_ENDPOINT "
		       "(tests/e2e/store_postgres_unit.sh)\n");
	srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, default normal */
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
