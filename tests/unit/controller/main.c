/* Unit tests of the controller package: one Check runner for its suites. */
#include <check.h>
#include <stdlib.h>

Suite *helpers_suite(void);
Suite *manager_suite(void);
Suite *scheduler_suite(void);
Suite *endpoints_suite(void);
Suite *gc_suite(void);
Suite *deployment_suite(void);
Suite *endpointslice_suite(void);
Suite *nodelifecycle_suite(void);
Suite *daemonset_suite(void);
Suite *job_suite(void);
Suite *statefulset_suite(void);
Suite *pv_suite(void);
Suite *crd_suite(void);
Suite *resourcequota_suite(void);
Suite *servicelb_suite(void);
Suite *schedqueue_suite(void);

int main(void)
{
	Suite *(*ctors[])(void) = { helpers_suite, manager_suite, scheduler_suite, endpoints_suite,
				     gc_suite, deployment_suite, endpointslice_suite,
				     nodelifecycle_suite, daemonset_suite, job_suite,
				     statefulset_suite, pv_suite, crd_suite,
				     resourcequota_suite, servicelb_suite, schedqueue_suite };
	SRunner *sr = srunner_create(NULL);
	for (size_t i = 0; i < sizeof(ctors) / sizeof(ctors[0]); i++)
		srunner_add_suite(sr, ctors[i]());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
