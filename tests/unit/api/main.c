/* The api package's Check suite runner. Each test file defines one suite
 * constructor; they are weak here so test files can land independently. */
#include <check.h>
#include <stdlib.h>

Suite *patch_suite(void) __attribute__((weak));
Suite *selector_suite(void) __attribute__((weak));
Suite *resource_suite(void) __attribute__((weak));
Suite *validate_suite(void) __attribute__((weak));
Suite *table_suite(void) __attribute__((weak));
Suite *protobuf_suite(void) __attribute__((weak));
Suite *endpointslice_suite(void) __attribute__((weak));
Suite *query_suite(void) __attribute__((weak));
Suite *schema_suite(void) __attribute__((weak));
Suite *dedupe_suite(void) __attribute__((weak));
Suite *daemonset_suite(void) __attribute__((weak));
Suite *config_suite(void) __attribute__((weak));
Suite *batch_suite(void) __attribute__((weak));
Suite *statefulset_suite(void) __attribute__((weak));
Suite *storage_suite(void) __attribute__((weak));
Suite *crd_schema_suite(void) __attribute__((weak));
Suite *ssa_suite(void) __attribute__((weak));
Suite *admission_suite(void) __attribute__((weak));
Suite *meta_suite(void) __attribute__((weak));

int main(void)
{
	Suite *(*ctors[])(void) = { patch_suite, selector_suite, resource_suite,
				    validate_suite, table_suite, protobuf_suite,
				    endpointslice_suite, query_suite, schema_suite, dedupe_suite,
				    daemonset_suite, config_suite, batch_suite,
				    statefulset_suite, storage_suite, crd_schema_suite,
				    ssa_suite, admission_suite, meta_suite };
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
