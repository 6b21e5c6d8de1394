/* Resource usage of containers and of the node, as the kubelet's /metrics/resource
 * reports them (through cAdvisor): cumulative CPU time and the memory working set.
 *
 * A container's cgroups are found from its init process (/proc/PID/cgroup, paths
 * relative to our cgroup namespace, as mountinfo's roots), never guessed from the
 * cgroup parent: runc resolves relative parents its own way (and strips
 * "init.scope" on cgroup v2). Each hierarchy's path must end in the container id,
 * so a recycled pid or a process outside the container's cgroup gives nothing.
 *
 *   cgroup v2: cpu.stat usage_usec (present whether or not the cpu controller is
 *              enabled); memory.current minus memory.stat inactive_file
 *   cgroup v1: cpuacct.usage (ns); memory.usage_in_bytes minus memory.stat
 *              total_inactive_file
 * The working set never goes below 0 (cAdvisor's rule). On a hybrid host (v1
 * controllers beside an empty unified hierarchy) the v2 files are tried first and
 * the v1 ones fill what v2 lacks.
 *
 * The node: /proc/stat's first line (user+nice+system+irq+softirq+steal, in clock
 * ticks) and /proc/meminfo (MemTotal - MemFree - Inactive(file)), which is how
 * runc computes the root cgroup's figures for the kubelet on cgroup v2. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

bool mk_runtime_stats_flat_get(const char *text, const char *key, uint64_t *ret)
{
	size_t kl = strlen(key);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, kl) || (l[kl] != ' ' && l[kl] != '\t' && l[kl] != ':'))
			continue;
		const char *v = l + kl + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char *end;
		errno = 0;
		unsigned long long n = strtoull(v, &end, 10);
		if (end == v || errno)
			return false;
		*ret = n;
		return true;
	}
	return false;
}

uint64_t mk_runtime_stats_working_set(uint64_t usage, uint64_t inactive_file)
{
	return usage > inactive_file ? usage - inactive_file : 0;
}

int mk_runtime_stats_proc_stat_cpu_ns(const char *text, long ticks_per_s, uint64_t *ret)
{
	unsigned long long v[8] = {0};

	if (!text || strncmp(text, "cpu ", 4) || ticks_per_s <= 0)
		return -EINVAL;
	/* user nice system idle iowait irq softirq steal: busy = all but idle, iowait */
	if (sscanf(text + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 4)
		return -EINVAL;
	unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	*ret = (uint64_t)(busy / (unsigned long long)ticks_per_s) * 1000000000ULL +
	       (uint64_t)(busy % (unsigned long long)ticks_per_s) * 1000000000ULL /
		   (uint64_t)ticks_per_s;
	return 0;
}

int mk_runtime_stats_meminfo_working_set(const char *text, uint64_t *ret)
{
	uint64_t total, free_kb, inactive;

	if (!text || !mk_runtime_stats_flat_get(text, "MemTotal", &total) ||
	    !mk_runtime_stats_flat_get(text, "MemFree", &free_kb) ||
	    !mk_runtime_stats_flat_get(text, "Inactive(file)", &inactive))
		return -EINVAL;
	*ret = mk_runtime_stats_working_set(total > free_kb ? (total - free_kb) * 1024 : 0,
					    inactive * 1024);
	return 0;
}

int mk_runtime_node_stats_get(struct mk_runtime_stats *ret, struct mk_error **err)
{
	_cleanup_free_ char *stat = NULL, *mem = NULL;
	struct mk_runtime_stats s = {0};

	if (mk_fs_read_file("/proc/stat", &stat, NULL, err) < 0 ||
	    mk_fs_read_file("/proc/meminfo", &mem, NULL, err) < 0)
		return -1;
	s.timestamp_ns = wall_ns();
	if (mk_runtime_stats_proc_stat_cpu_ns(stat, sysconf(_SC_CLK_TCK), &s.cpu_usage_ns) < 0)
		return mk_error_set(err, EINVAL, "cannot parse the cpu line of /proc/stat");
	if (mk_runtime_stats_meminfo_working_set(mem, &s.memory_working_set) < 0)
		return mk_error_set(err, EINVAL, "cannot parse /proc/meminfo");
	s.has_cpu = s.has_memory = true;
	*ret = s;
	return 0;
}

/* ---- containers ------------------------------------------------------------------ */

char *mk_runtime_stats_cgroup_dir(const char *mountinfo, const char *ctrl, const char *cg)
{
	_cleanup_free_ char *copy = mk_strdup(mountinfo);
	char *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPER */
		char root[1024], mp[1024], fstype[32], super[512];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mp) != 2 ||
		    sscanf(dash + 3, "%31s %*s %511s", fstype, super) != 2)
			continue;
		if (ctrl ? strcmp(fstype, "cgroup") : strcmp(fstype, "cgroup2"))
			continue;
		if (ctrl) {
			bool found = false;
			char *s2 = NULL;
			for (char *o = strtok_r(super, ",", &s2); o && !found;
			     o = strtok_r(NULL, ",", &s2))
				found = !strcmp(o, ctrl);
			if (!found)
				continue;
		}
		/* the mount shows ROOT of the hierarchy at MOUNTPOINT */
		size_t rl = strcmp(root, "/") ? strlen(root) : 0;
		if (rl && (strncmp(cg, root, rl) || (cg[rl] && cg[rl] != '/')))
			continue;
		return mk_strdup_printf("%s%s", mp, cg + rl);
	}
	return NULL;
}

/* true when the last component of path is id */
static bool ends_with_id(const char *path, const char *id)
{
	const char *slash = strrchr(path, '/');
	return slash && !strcmp(slash + 1, id);
}

static bool read_u64_file(const char *dir, const char *name, uint64_t *ret)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/%s", dir, name), *text = NULL;
	if (mk_fs_read_file(path, &text, NULL, NULL) < 0)
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (end == text || errno)
		return false;
	*ret = v;
	return true;
}

static bool read_flat(const char *dir, const char *name, const char *key, uint64_t *ret)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/%s", dir, name), *text = NULL;
	return mk_fs_read_file(path, &text, NULL, NULL) == 0 &&
	       mk_runtime_stats_flat_get(text, key, ret);
}

int mk_runtime_container_stats_get(struct mk_runtime *rt, const char *id,
				   struct mk_runtime_stats *ret, struct mk_error **err)
{
	_cleanup_free_ char *pid_file = NULL, *started = NULL, *exited = NULL;
	_cleanup_free_ char *cgroups = NULL, *proc = NULL, *mountinfo = NULL;
	struct mk_runtime_stats s = {0};

	if (!rt_id_valid(id))
		return mk_error_set(err, EINVAL, "invalid container id '%s'", id ? id : "");
	pid_file = rt_ctr_path(rt, id, "init.pid");
	exited = rt_ctr_path(rt, id, "exit");
	started = rt_ctr_path(rt, id, "started");
	pid_t pid = (pid_t)rt_read_i64(pid_file);
	s.started_ns = rt_read_i64(started);
	if (pid <= 0 || !s.started_ns || access(exited, F_OK) == 0)
		return mk_error_set(err, ENOENT, "container '%s' is not running", id);
	proc = mk_strdup_printf("/proc/%d/cgroup", (int)pid);
	if (mk_fs_read_file(proc, &cgroups, NULL, NULL) < 0 ||
	    mk_fs_read_file("/proc/self/mountinfo", &mountinfo, NULL, err) < 0)
		return mk_error_set(err, ENOENT, "container '%s' is not running", id);
	s.timestamp_ns = wall_ns();

	char *save = NULL;
	for (char *line = strtok_r(cgroups, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		/* HIERARCHY-ID:CONTROLLERS:PATH; v2 is "0::PATH" */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1, *cg = c2 + 1;
		if (!ends_with_id(cg, id))
			continue;
		if (!*ctrls) {
			_cleanup_free_ char *d = mk_runtime_stats_cgroup_dir(mountinfo, NULL, cg);
			uint64_t usec, cur, inactive;
			if (!d)
				continue;
			if (!s.has_cpu && read_flat(d, "cpu.stat", "usage_usec", &usec)) {
				s.cpu_usage_ns = usec * 1000;
				s.has_cpu = true;
			}
			if (!s.has_memory && read_u64_file(d, "memory.current", &cur) &&
			    read_flat(d, "memory.stat", "inactive_file", &inactive)) {
				s.memory_working_set = mk_runtime_stats_working_set(cur, inactive);
				s.has_memory = true;
			}
			continue;
		}
		_cleanup_free_ char *list = mk_strdup(ctrls);
		char *s2 = NULL;
		for (char *ctl = strtok_r(list, ",", &s2); ctl; ctl = strtok_r(NULL, ",", &s2)) {
			if (!strcmp(ctl, "cpuacct") && !s.has_cpu) {
				_cleanup_free_ char *d =
				    mk_runtime_stats_cgroup_dir(mountinfo, "cpuacct", cg);
				uint64_t ns;
				if (d && read_u64_file(d, "cpuacct.usage", &ns)) {
					s.cpu_usage_ns = ns;
					s.has_cpu = true;
				}
			} else if (!strcmp(ctl, "memory") && !s.has_memory) {
				_cleanup_free_ char *d =
				    mk_runtime_stats_cgroup_dir(mountinfo, "memory", cg);
				uint64_t usage, inactive;
				if (d && read_u64_file(d, "memory.usage_in_bytes", &usage) &&
				    read_flat(d, "memory.stat", "total_inactive_file", &inactive)) {
					s.memory_working_set =
					    mk_runtime_stats_working_set(usage, inactive);
					s.has_memory = true;
				}
			}
		}
	}
	/* the pid may have been recycled since: the container must still be running */
	if (access(exited, F_OK) == 0 || (!s.has_cpu && !s.has_memory))
		return mk_error_set(err, ENOENT, "container '%s' has no cgroup figures", id);
	*ret = s;
	return 0;
}
