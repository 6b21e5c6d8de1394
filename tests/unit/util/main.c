/* The util package's Check runner. */
#include <check.h>
#include <stdlib.h>

Suite *util_suite(void);
Suite *collections_suite(void);
Suite *cron_suite(void);
Suite *io_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(util_suite());
	srunner_add_suite(sr, collections_suite());
	srunner_add_suite(sr, cron_suite());
	srunner_add_suite(sr, io_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
