/* Container start latency through pkg/runtime (bundle + shim + runc create + runc
 * start) beside plain `runc run -d` of the same config (the anchor), and the time
 * until the exit of /bin/true is recorded beside a foreground `runc run`
 * (anchor: ~72 ms measured for /bin/true). Medians over N runs.
 * Usage: runtime_bench ROOTFS [N] (default 20, max 200). Needs root and runc. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "minik8s/runtime.h"

extern char **environ;

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run(const char *const argv[])
{
	pid_t pid;
	int st = 0;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	mk_runtime_children_lock();
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	if (r == 0)
		mk_runtime_child_register(pid);
	mk_runtime_children_unlock();
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	waitpid(pid, &st, 0);
	mk_runtime_child_unregister(pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static double ms_since(uint64_t t0)
{
	return (double)(mk_time_mono_ns() - t0) / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: runtime_bench ROOTFS [N]\n");
		return 2;
	}
	const char *rootfs = argv[1];
	int n = argc > 2 ? atoi(argv[2]) : 20;
	if (n < 1 || n > 200)
		n = 20;
	char base[] = "/tmp/mkrt-bench.XXXXXX";
	if (!mkdtemp(base))
		return 1;
	struct mk_error *err = NULL;
	if (mk_runtime_subreaper_init(&err) < 0 || mk_runtime_reaper_start(&err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		return 1;
	}
	char root[96], state[96], root2[96], bundle[96], cfg_path[128];
	snprintf(root, sizeof(root), "%s/r", base);
	snprintf(state, sizeof(state), "%s/s", base);
	snprintf(root2, sizeof(root2), "%s/r2", base);
	snprintf(bundle, sizeof(bundle), "%s/b", base);
	snprintf(cfg_path, sizeof(cfg_path), "%s/config.json", bundle);
	char cg[64];
	snprintf(cg, sizeof(cg), "mkrt-bench-%s", strrchr(base, '.') + 1);
	struct mk_runtime_config cfg = { .root_dir = root, .state_dir = state, .cgroup_parent = cg };
	struct mk_runtime *rt = NULL;
	if (mk_runtime_new(&cfg, &rt, &err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		return 1;
	}
	double *start = calloc((size_t)n, sizeof(double)), *done = calloc((size_t)n, sizeof(double));
	double *a_start = calloc((size_t)n, sizeof(double)), *a_done = calloc((size_t)n, sizeof(double));
	const char *const args[] = { "true", NULL };
	int rc = 0;

	/* through the driver */
	for (int i = 0; i < n && rc == 0; i++) {
		char id[32];
		snprintf(id, sizeof(id), "b%d", i);
		struct mk_runtime_container_spec spec = { .id = id, .rootfs = rootfs, .args = args };
		uint64_t t0 = mk_time_mono_ns();
		if (mk_runtime_container_run(rt, &spec, &err) < 0 ||
		    (start[i] = ms_since(t0), mk_runtime_container_wait(rt, id, 10000, &err) < 0)) {
			fprintf(stderr, "driver: %s\n", err->msg);
			rc = 1;
		}
		done[i] = ms_since(t0);
		mk_runtime_container_delete(rt, id, NULL);
	}

	/* the anchor: runc itself on the same config */
	mkdir(bundle, 0700);
	struct mk_runtime_container_spec spec = { .id = "anchor", .rootfs = rootfs, .args = args };
	cJSON *c = NULL;
	char cgp[96];
	snprintf(cgp, sizeof(cgp), "%s/anchor", cg);
	if (rc == 0 && mk_runtime_spec_generate(&spec, cgp, &c, &err) == 0) {
		char *text = cJSON_Print(c);
		mk_fs_write_file(cfg_path, text, strlen(text), 0600, NULL);
		cJSON_free(text);
		cJSON_Delete(c);
	}
	for (int i = 0; i < n && rc == 0; i++) {
		const char *const rd[] = { "runc", "--root", root2, "run", "-d", "-b", bundle, "anchor", NULL };
		const char *const del[] = { "runc", "--root", root2, "delete", "--force", "anchor", NULL };
		const char *const fg[] = { "runc", "--root", root2, "run", "-b", bundle, "anchor", NULL };
		uint64_t t0 = mk_time_mono_ns();
		if (run(rd) != 0) {
			fprintf(stderr, "runc run -d failed\n");
			rc = 1;
		}
		a_start[i] = ms_since(t0);
		run(del);
		t0 = mk_time_mono_ns();
		run(fg);
		a_done[i] = ms_since(t0);
		run(del);
	}
	if (rc == 0) {
		printf("container start (create+start, returns running), %d runs:\n", n);
		printf("  pkg/runtime run        median %6.1f ms\n", median(start, n));
		printf("  runc run -d (anchor)   median %6.1f ms\n", median(a_start, n));
		printf("/bin/true until its exit is recorded:\n");
		printf("  pkg/runtime run+wait   median %6.1f ms\n", median(done, n));
		printf("  runc run (anchor)      median %6.1f ms   (measured before: ~72 ms)\n",
		       median(a_done, n));
	}
	mk_runtime_cgroup_parent_remove(rt, NULL);
	mk_runtime_free(rt);
	mk_runtime_reaper_stop();
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
