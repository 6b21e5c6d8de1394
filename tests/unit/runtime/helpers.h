/* Helpers shared by the runtime tests: per-test runtimes under the base dir made
 * by main.c, unique ids, bounded waits on files, and the final sweep. */
#ifndef MK_TEST_RUNTIME_HELPERS_H
#define MK_TEST_RUNTIME_HELPERS_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "minik8s/runtime.h"
#include "../../../pkg/runtime/internal.h"

/* cgroup parent of every test container: relative to our own cgroup, unique per run */
static inline char *rt_test_cgroup_parent(const char *base)
{
	return mk_strdup_printf("mkrt-%s", strrchr(base, '.') + 1);
}

static inline struct mk_runtime *rt_test_open(const char *dir, const char *base)
{
	_cleanup_free_ char *root = mk_strdup_printf("%s/r", dir);
	_cleanup_free_ char *state = mk_strdup_printf("%s/s", dir);
	_cleanup_free_ char *cg = rt_test_cgroup_parent(base);
	struct mk_runtime_config cfg = { .root_dir = root, .state_dir = state, .cgroup_parent = cg,
					 .log_max_bytes = 1 << 20 };
	struct mk_runtime *rt = NULL;
	struct mk_error *err = NULL;
	if (mk_runtime_new(&cfg, &rt, &err) < 0) {
		fprintf(stderr, "mk_runtime_new: %s\n", err->msg);
		mk_error_free(&err);
		return NULL;
	}
	return rt;
}

/* Force-deletes every container of the runtime in dir. Returns how many. */
static inline int rt_test_clean_runtime(const char *dir, const char *base)
{
	struct mk_runtime *rt = rt_test_open(dir, base);
	struct mk_runtime_container_info *list = NULL;
	size_t n = 0;
	struct mk_error *err = NULL;
	if (!rt)
		return 0;
	if (mk_runtime_container_list(rt, &list, &n, &err) < 0)
		mk_error_free(&err);
	for (size_t i = 0; i < n; i++) {
		/* kill a shim that outlived its container's runc state, too */
		pid_t shim = rt_shim_pid(rt, list[i].id);
		if (mk_runtime_container_delete(rt, list[i].id, &err) < 0)
			mk_error_free(&err);
		if (shim > 0 && rt_proc_starttime(shim))
			kill(shim, SIGKILL);
	}
	mk_runtime_container_list_free(list, n);
	mk_runtime_free(rt);
	return (int)n;
}

/* Deletes leftovers of every test under base, the cgroup parent and base itself;
 * reaps orphans. Returns the number of leftovers found (0 = clean). */
static inline int rt_test_sweep(const char *base)
{
	int found = 0;
	DIR *d = opendir(base);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!strncmp(de->d_name, "netns-", 6)) {
			/* a namespace a test made; usually gone already */
			char cmd[128];
			snprintf(cmd, sizeof(cmd), "ip netns delete %.60s 2>/dev/null", de->d_name + 6);
			if (system(cmd) == 0)
				found++;
			continue;
		}
		if (strncmp(de->d_name, "t", 1) != 0)
			continue;
		_cleanup_free_ char *dir = mk_strdup_printf("%s/%s", base, de->d_name);
		found += rt_test_clean_runtime(dir, base);
	}
	if (d)
		closedir(d);
	_cleanup_free_ char *tmp = mk_strdup_printf("%s/t-sweep", base);
	struct mk_runtime *rt = rt_test_open(tmp, base);
	if (rt) {
		mk_runtime_cgroup_parent_remove(rt, NULL);
		mk_runtime_free(rt);
	}
	for (int i = 0; i < 50 && mk_runtime_reap_orphans() > 0; i++)
		;
	rt_rm_rf(base, NULL);
	return found;
}

/* A unique container id */
static inline char *rt_test_id(const char *prefix)
{
	char hex[9];
	mk_random_hex(hex, 4);
	return mk_strdup_printf("%s-%s", prefix, hex);
}

/* Waits up to timeout_ms until the file contains needle; returns the content or NULL. */
static inline char *rt_test_wait_file(const char *path, const char *needle, int timeout_ms)
{
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	do {
		char *data = NULL;
		if (mk_fs_read_file(path, &data, NULL, NULL) == 0) {
			if (strstr(data, needle))
				return data;
			free(data);
		}
		usleep(20000);
	} while (mk_time_mono_ns() < deadline);
	return NULL;
}

#endif
