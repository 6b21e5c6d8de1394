/* The runtime package's Check runner. Runs as root with the real runc.
 * Builds one busybox rootfs for every test (tests/lib/mkrootfs.sh) under a base
 * temp dir, runs the suites, then sweeps whatever a crashed test left behind. */
#include <check.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include "helpers.h"

Suite *runtime_spec_suite(void);
Suite *runtime_container_suite(void);

int main(void)
{
	char exe[PATH_MAX], cmd[PATH_MAX * 2 + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return EXIT_FAILURE;
	exe[n] = '\0';
	char base[] = "/tmp/mkrt.XXXXXX";
	if (!mkdtemp(base))
		return EXIT_FAILURE;
	/* orphans of crashed tests (shims, containers) come back to us */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	/* build/tests/unit-runtime -> tests/lib/mkrootfs.sh */
	snprintf(cmd, sizeof(cmd), "%s/../../tests/lib/mkrootfs.sh %s/rootfs >/dev/null", dirname(exe), base);
	if (system(cmd) != 0) {
		fprintf(stderr, "mkrootfs failed: %s\n", cmd);
		rt_test_sweep(base);
		return EXIT_FAILURE;
	}
	setenv("MKRT_TEST_BASE", base, 1);

	SRunner *sr = srunner_create(runtime_spec_suite());
	srunner_add_suite(sr, runtime_container_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (rt_test_sweep(base) != 0) {
		fprintf(stderr, "sweep found leftovers\n");
		failed++;
	}
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
