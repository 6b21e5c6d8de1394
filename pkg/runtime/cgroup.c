/* What the runtime reads back from a container's cgroup: the hierarchy in use
 * and the kernel's OOM kill counter (memory.events "oom_kill" on v2,
 * memory.oom_control "oom_kill" on v1), which tells an OOM-killed container from
 * one killed by a signal someone sent (containerd's TaskOOM, the kubelet's
 * OOMKilled reason). */
#include <errno.h>
#include <string.h>
#include <sys/vfs.h>
#include "internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

bool mk_runtime_cgroup2_unified(void)
{
	struct statfs sf;
	return statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
}

char *rt_cgroup_oom_file(pid_t pid)
{
	char path[64];
	_cleanup_free_ char *data = NULL;
	bool v2 = mk_runtime_cgroup2_unified();
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (mk_fs_read_file(path, &data, NULL, NULL) < 0)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "hierarchy-ID:controllers:path" */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || strstr(c2 + 1, ".."))
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1, *cg = c2 + 1;
		if (v2 && !strcmp(line, "0") && !*ctrls)
			return mk_strdup_printf("/sys/fs/cgroup%s/memory.events", cg);
		if (!v2) {
			_cleanup_free_ char *cs = mk_strdup(ctrls);
			char *s2 = NULL;
			for (char *t = strtok_r(cs, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
				if (!strcmp(t, "memory"))
					return mk_strdup_printf(
					    "/sys/fs/cgroup/memory%s/memory.oom_control", cg);
		}
	}
	return NULL;
}

int64_t rt_cgroup_oom_kills(const char *file)
{
	_cleanup_free_ char *data = NULL;
	if (!file || mk_fs_read_file(file, &data, NULL, NULL) < 0)
		return -1;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long long v;
		if (sscanf(line, "oom_kill %lld", &v) == 1)
			return v;
	}
	return -1;
}
