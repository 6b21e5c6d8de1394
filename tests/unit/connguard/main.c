/* The connection guard's Check runner (pkg/util/connguard.c). */
#include <check.h>
#include <stdlib.h>

Suite *connguard_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(connguard_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
