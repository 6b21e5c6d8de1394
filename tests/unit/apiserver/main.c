/* The apiserver package's Check suite runner. Each test file defines one suite
 * constructor; they are weak here so test files can land independently. */
#include <check.h>
#include <stdlib.h>

Suite *certs_suite(void) __attribute__((weak));
Suite *routes_suite(void) __attribute__((weak));
Suite *server_suite(void) __attribute__((weak));
Suite *authz_suite(void) __attribute__((weak));
Suite *satoken_suite(void) __attribute__((weak));
Suite *nodeauthz_suite(void) __attribute__((weak));
Suite *rbac_suite(void) __attribute__((weak));
Suite *rbac_server_suite(void) __attribute__((weak));
Suite *strategy_suite(void) __attribute__((weak));
Suite *cluster_suite(void) __attribute__((weak));
Suite *local_suite(void) __attribute__((weak));
Suite *listcache_suite(void) __attribute__((weak));

int main(void)
{
	Suite *(*ctors[])(void) = { certs_suite, routes_suite, server_suite,
				    authz_suite, satoken_suite, nodeauthz_suite,
				    rbac_suite, rbac_server_suite, strategy_suite,
				    cluster_suite, local_suite, listcache_suite };
	SRunner *sr = NULL;
	for (size_t i = 0; i < sizeof(ctors) / sizeof(ctors[0]); i++) {
		if (!ctors[i])
			continue;
		if (!sr)
			sr = srunner_create(ctors[i]());
		else
			srunner_add_suite(sr, ctors[i]());
	}
	if (!sr)
		return 1;
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
