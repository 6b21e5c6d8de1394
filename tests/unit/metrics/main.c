/* metrics.k8s.io's pure parts: the Prometheus text parser, rates between two
 * scrapes, Quantity/Duration spellings (pkg/apiserver/metrics_calc.c), and the
 * cgroup and /proc parsers behind the agent's figures (pkg/runtime/stats.c). */
#include <check.h>
#include <stdlib.h>

Suite *metrics_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
