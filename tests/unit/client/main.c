/* The client package's Check suite runner. */
#include <check.h>
#include <stdlib.h>

Suite *yaml_suite(void) __attribute__((weak));
Suite *kubeconfig_suite(void) __attribute__((weak));
Suite *watch_suite(void) __attribute__((weak));
Suite *request_suite(void) __attribute__((weak));
Suite *workqueue_suite(void) __attribute__((weak));
Suite *informer_suite(void) __attribute__((weak));
Suite *failover_suite(void) __attribute__((weak));
Suite *events_suite(void) __attribute__((weak));

int main(void)
{
	Suite *(*ctors[])(void) = { yaml_suite, kubeconfig_suite, watch_suite, request_suite,
				     workqueue_suite, informer_suite, failover_suite, events_suite };
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
