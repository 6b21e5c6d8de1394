/* What a pod spec asks of the node and the scheduler: resource quantities, QoS
 * class, pod requests and the scheduler's fit check (api, controller), the
 * securityContext resolution, cgroup limits and node allocatable (agent), and the
 * OCI config they produce (runtime). All pure: no runc, no server. */
#include <check.h>
#include <stdlib.h>

Suite *quantity_suite(void);
Suite *security_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(quantity_suite());
	srunner_add_suite(sr, security_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
