/* The store package's Check runner. */
#include <check.h>
#include <stdlib.h>

Suite *object_suite(void);
Suite *watch_suite(void);
Suite *concurrency_suite(void);
Suite *seal_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(object_suite());
	srunner_add_suite(sr, watch_suite());
	srunner_add_suite(sr, concurrency_suite());
	srunner_add_suite(sr, seal_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
