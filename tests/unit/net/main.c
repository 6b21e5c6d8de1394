/* The net package's Check runner. Runs as root: real namespaces, links, routes. */
#include <check.h>
#include <stdlib.h>

Suite *netns_suite(void);
Suite *link_suite(void);
Suite *ipam_suite(void);
Suite *vxlan_suite(void);

int main(void)
{
	SRunner *sr = srunner_create(netns_suite());
	srunner_add_suite(sr, link_suite());
	srunner_add_suite(sr, ipam_suite());
	srunner_add_suite(sr, vxlan_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
