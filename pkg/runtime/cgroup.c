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

