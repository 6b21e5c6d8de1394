/* Container lifecycle over runc: create (through the shim), start, status, kill,
 * stop, wait, delete, list. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "internal.h"

#define RUNC_TIMEOUT_MS 30000

static int check_id(const char *id, struct mk_error **err)
{
	if (!rt_id_valid(id))
		return mk_error_set(err, EINVAL, "invalid container id '%s'", id ? id : "");
	return 0;
}

static char *cgroups_path(struct mk_runtime *rt, const char *id)
{
	return mk_strdup_printf("%s/%s", rt->cgroup_parent, id);
}

/* The bundle, then the shim, which runs `runc create`, or `runc run --detach`
 * when start (one runc exec instead of two). */
static int create(struct mk_runtime *rt, const struct mk_runtime_container_spec *spec, bool start,
		  struct mk_error **err)
{
	_cleanup_cjson_ cJSON *config = NULL;
	_cleanup_cjson_str_ char *text = NULL;
	_cleanup_free_ char *dir = NULL, *cfg_path = NULL, *created = NULL, *cg = NULL;
	pid_t shim;

	if (!spec || check_id(spec->id, err) < 0)
		return -1;
	cg = cgroups_path(rt, spec->id);
	if (mk_runtime_spec_generate(spec, cg, &config, err) < 0)
		return -1;
	dir = rt_ctr_path(rt, spec->id, NULL);
	/* mkdir (not -p) claims the id atomically */
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return mk_error_set(err, EEXIST, "container '%s' already exists", spec->id);
		return mk_error_errno(err, errno, "create '%s'", dir);
	}
	text = cJSON_Print(config);
	cfg_path = rt_ctr_path(rt, spec->id, "config.json");
	created = rt_ctr_path(rt, spec->id, "created");
	/* STATE/<id> describes processes, which no crash of the machine leaves
	 * behind: its files are renamed into place (an agent that crashes never reads
	 * half of one) but not fsynced */
	if (!text || mk_fs_write_file_nosync(cfg_path, text, strlen(text), 0600, err) < 0 ||
	    rt_write_i64(created, rt_now_ns(), err) < 0)
		goto fail;
	if (rt_shim_spawn(rt, spec->id, spec->tty, start,
			  !spec->open_stdin ? RT_STDIN_NONE
			  : spec->stdin_once ? RT_STDIN_ONCE
					     : RT_STDIN_OPEN,
			  &shim, err) < 0)
		goto fail;
	return 0;

fail:
	if (err && !*err)
		mk_error_set(err, ENOMEM, "container '%s': print config", spec->id);
	/* runc cleans up after a failed create; a shim that died midway may not have */
	rt_runc(rt, (const char *const[]){ "delete", "--force", spec->id, NULL }, NULL,
		RUNC_TIMEOUT_MS, NULL);
	rt_rm_rf(dir, NULL);
	return -1;
}

int mk_runtime_container_create(struct mk_runtime *rt, const struct mk_runtime_container_spec *spec,
				struct mk_error **err)
{
	return create(rt, spec, false, err);
}

int mk_runtime_container_start(struct mk_runtime *rt, const char *id, struct mk_error **err)
{
	if (check_id(id, err) < 0)
		return -1;
	_cleanup_free_ char *started = rt_ctr_path(rt, id, "started");
	int64_t now = rt_now_ns();
	if (rt_runc(rt, (const char *const[]){ "start", id, NULL }, NULL, RUNC_TIMEOUT_MS, err) < 0)
		return -1;
	return rt_write_i64(started, now, err);
}

int mk_runtime_container_run(struct mk_runtime *rt, const struct mk_runtime_container_spec *spec,
			     struct mk_error **err)
{
	/* taken before: no later than the process's start, so never after its end */
	int64_t now = rt_now_ns();
	if (create(rt, spec, true, err) < 0)
		return -1;
	_cleanup_free_ char *started = rt_ctr_path(rt, spec->id, "started");
	if (rt_write_i64(started, now, err) < 0) {
		mk_runtime_container_delete(rt, spec->id, NULL);
		return -1;
	}
	return 0;
}

static enum mk_runtime_state parse_state(const char *s)
{
	if (!s)
		return MK_RUNTIME_STATE_UNKNOWN;
	if (!strcmp(s, "created") || !strcmp(s, "creating"))
		return MK_RUNTIME_STATE_CREATED;
	if (!strcmp(s, "running"))
		return MK_RUNTIME_STATE_RUNNING;
	if (!strcmp(s, "paused") || !strcmp(s, "pausing"))
		return MK_RUNTIME_STATE_PAUSED;
	if (!strcmp(s, "stopped"))
		return MK_RUNTIME_STATE_EXITED;
	return MK_RUNTIME_STATE_UNKNOWN;
}

/* Reads STATE/<id>/exit into st; 0 if present. */
static int read_exit(struct mk_runtime *rt, const char *id, struct mk_runtime_container_status *st)
{
	_cleanup_free_ char *path = rt_ctr_path(rt, id, "exit");
	_cleanup_free_ char *data = NULL;
	_cleanup_cjson_ cJSON *j = NULL;

	if (mk_fs_read_file(path, &data, NULL, NULL) < 0 || !(j = cJSON_Parse(data)))
		return -1;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "exitCode");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "signal");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "finishedAt");
	st->exit_code = cJSON_IsNumber(c) ? c->valueint : -1;
	st->signal = cJSON_IsNumber(s) ? s->valueint : 0;
	st->finished_ns = cJSON_IsNumber(f) ? (int64_t)f->valuedouble : 0;
	st->oom_killed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "oomKilled"));
	return 0;
}

/* runc state; *ret_json owned. ENOENT if runc does not know id. */
static int runc_state(struct mk_runtime *rt, const char *id, cJSON **ret_json, struct mk_error **err)
{
	_cleanup_free_ char *out = NULL;
	if (rt_runc(rt, (const char *const[]){ "state", id, NULL }, &out, RUNC_TIMEOUT_MS, err) < 0)
		return -1;
	cJSON *j = cJSON_Parse(out);
	if (!j)
		return mk_error_set(err, EIO, "runc state '%s': unparsable output", id);
	*ret_json = j;
	return 0;
}

/* True when pid runs (not a zombie) as a child of parent: from /proc/PID/stat,
 * "pid (comm) state ppid ...". */
static bool proc_running_child_of(pid_t pid, pid_t parent)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	char state;
	int ppid;
	if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2)
		return false;
	return state != 'Z' && state != 'X' && state != 'x' && ppid == (int)parent;
}

int mk_runtime_container_status_get(struct mk_runtime *rt, const char *id,
				    struct mk_runtime_container_status *ret, struct mk_error **err)
{
	struct mk_runtime_container_status st = { 0 };
	_cleanup_free_ char *dir = NULL, *created = NULL, *started = NULL;
	struct stat sb;

	if (check_id(id, err) < 0)
		return -1;
	dir = rt_ctr_path(rt, id, NULL);
	created = rt_ctr_path(rt, id, "created");
	started = rt_ctr_path(rt, id, "started");
	bool have_dir = stat(dir, &sb) == 0;
	st.created_ns = rt_read_i64(created);
	st.started_ns = rt_read_i64(started);
	st.shim_pid = rt_shim_pid(rt, id);
	st.exit_code = -1;

	/* the shim's record is final: no need to ask runc */
	if (read_exit(rt, id, &st) == 0) {
		st.state = MK_RUNTIME_STATE_EXITED;
		*ret = st;
		return 0;
	}
	/* started, no exit recorded, and init alive under its shim (which reaps it
	 * and records its exit the moment it dies): running, as runc would say,
	 * without running runc (nothing here pauses containers) */
	if (st.started_ns > 0 && st.shim_pid > 0) {
		_cleanup_free_ char *pid_file = rt_ctr_path(rt, id, "init.pid");
		pid_t init = (pid_t)rt_read_i64(pid_file);
		if (init > 0 && proc_running_child_of(init, st.shim_pid)) {
			st.state = MK_RUNTIME_STATE_RUNNING;
			st.pid = init;
			*ret = st;
			return 0;
		}
	}
	_cleanup_cjson_ cJSON *j = NULL;
	struct mk_error *e = NULL;
	if (runc_state(rt, id, &j, &e) < 0) {
		if (e->code == ENOENT && have_dir) {
			mk_error_free(&e);
			st.state = MK_RUNTIME_STATE_UNKNOWN;
			*ret = st;
			return 0;
		}
		if (err && !*err)
			*err = e;
		else
			mk_error_free(&e);
		return -1;
	}
	st.state = parse_state(mk_json_get_string(j, "status"));
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
	if (st.state != MK_RUNTIME_STATE_EXITED && cJSON_IsNumber(pid))
		st.pid = (pid_t)pid->valuedouble;
	if (st.state == MK_RUNTIME_STATE_EXITED && read_exit(rt, id, &st) < 0) {
		/* the shim may be writing the record right now */
		if (st.shim_pid) {
			_cleanup_close_ int fd = (int)syscall(SYS_pidfd_open, st.shim_pid, 0);
			if (fd >= 0 && rt_pidfd_wait(fd, 3000) > 0)
				read_exit(rt, id, &st);
		}
	}
	*ret = st;
	return 0;
}

int mk_runtime_container_kill(struct mk_runtime *rt, const char *id, int sig, struct mk_error **err)
{
	char num[16];
	if (check_id(id, err) < 0)
		return -1;
	snprintf(num, sizeof(num), "%d", sig);
	return rt_runc(rt, (const char *const[]){ "kill", id, num, NULL }, NULL, RUNC_TIMEOUT_MS, err);
}

int mk_runtime_container_wait(struct mk_runtime *rt, const char *id, int timeout_ms,
			      struct mk_error **err)
{
	struct mk_runtime_container_status st;
	_cleanup_close_ int fd = -1;

	if (mk_runtime_container_status_get(rt, id, &st, err) < 0)
		return -1;
	if (st.state == MK_RUNTIME_STATE_EXITED || st.state == MK_RUNTIME_STATE_UNKNOWN)
		return 0;
	/* the shim exits right after recording the exit; without a shim (it was
	 * killed) watch init itself */
	pid_t pid = st.shim_pid ? st.shim_pid : st.pid;
	fd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	if (fd < 0) {
		if (errno == ESRCH)
			return 0; /* gone between status and here */
		return mk_error_errno(err, errno, "container '%s': pidfd_open(%d)", id, (int)pid);
	}
	int r = rt_pidfd_wait(fd, timeout_ms);
	if (r < 0)
		return mk_error_errno(err, errno, "container '%s': wait", id);
	if (r == 0)
		return mk_error_set(err, ETIMEDOUT, "container '%s' still running after %d ms", id,
				    timeout_ms);
	if (pid == st.shim_pid) {
		/* reap our own child at once (the pidfd pins the right process) */
		siginfo_t si;
		waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG);
	}
	return 0;
}

int mk_runtime_container_stop(struct mk_runtime *rt, const char *id, int grace_seconds,
			      struct mk_runtime_container_status *ret, struct mk_error **err)
{
	struct mk_runtime_container_status st;
	struct mk_error *e = NULL;

	if (mk_runtime_container_status_get(rt, id, &st, err) < 0)
		return -1;
	if (st.state == MK_RUNTIME_STATE_RUNNING || st.state == MK_RUNTIME_STATE_PAUSED) {
		/* a kill racing with the exit fails with "not running": fine */
		if (mk_runtime_container_kill(rt, id, SIGTERM, &e) < 0)
			mk_error_free(&e);
		if (mk_runtime_container_wait(rt, id, grace_seconds > 0 ? grace_seconds * 1000 : 0, &e) < 0) {
			if (e->code != ETIMEDOUT) {
				if (err && !*err)
					*err = e;
				else
					mk_error_free(&e);
				return -1;
			}
			mk_error_free(&e);
			if (mk_runtime_container_kill(rt, id, SIGKILL, &e) < 0)
				mk_error_free(&e);
			if (mk_runtime_container_wait(rt, id, 30000, err) < 0)
				return -1;
		}
	} else if (st.state == MK_RUNTIME_STATE_CREATED) {
		/* never started: SIGKILL is the only way out of runc's exec fifo wait */
		if (mk_runtime_container_kill(rt, id, SIGKILL, &e) < 0)
			mk_error_free(&e);
		if (mk_runtime_container_wait(rt, id, 30000, err) < 0)
			return -1;
	}
	if (ret)
		return mk_runtime_container_status_get(rt, id, ret, err);
	return 0;
}

int mk_runtime_container_delete(struct mk_runtime *rt, const char *id, struct mk_error **err)
{
	_cleanup_free_ char *dir = NULL;
	struct mk_error *e = NULL;
	struct stat sb;
	bool known = false;

	if (check_id(id, err) < 0)
		return -1;
	dir = rt_ctr_path(rt, id, NULL);
	pid_t shim = rt_shim_pid(rt, id);
	_cleanup_close_ int shim_fd = shim > 0 ? (int)syscall(SYS_pidfd_open, shim, 0) : -1;
	_cleanup_free_ char *runc_dir = mk_strdup_printf("%s/%s", rt->root, id);
	/* runc delete --force succeeds for unknown ids: find out before */
	known = stat(runc_dir, &sb) == 0;
	/* nothing of it anywhere (the agent clears an id before it creates it): no
	 * runc to run, which costs a fork, an exec and runc's start-up */
	if (!known && shim <= 0 && lstat(dir, &sb) < 0 && errno == ENOENT)
		return mk_error_set(err, ENOENT, "container '%s' not found", id);

	if (rt_runc(rt, (const char *const[]){ "delete", "--force", id, NULL }, NULL,
		    RUNC_TIMEOUT_MS, &e) < 0) {
		if (e->code != ENOENT) {
			if (err && !*err)
				*err = e;
			else
				mk_error_free(&e);
			return -1;
		}
		mk_error_free(&e);
	}
	if (shim_fd >= 0) {
		/* the shim records the exit and drains the pipes, then exits */
		if (rt_pidfd_wait(shim_fd, 5000) == 0) {
			syscall(SYS_pidfd_send_signal, shim_fd, SIGKILL, NULL, 0);
			rt_pidfd_wait(shim_fd, 5000);
		}
		siginfo_t si;
		waitid(P_PIDFD, (id_t)shim_fd, &si, WEXITED | WNOHANG);
	}
	if (stat(dir, &sb) == 0) {
		known = true;
		if (rt_rm_rf(dir, err) < 0)
			return -1;
	}
	if (!known)
		return mk_error_set(err, ENOENT, "container '%s' not found", id);
	return 0;
}

static void add_info(struct mk_runtime_container_info **list, size_t *n, size_t *cap,
		     struct mk_runtime_container_info info)
{
	MK_GROW(*list, *cap, *n + 1);
	(*list)[(*n)++] = info;
}

int mk_runtime_container_list(struct mk_runtime *rt, struct mk_runtime_container_info **ret,
			      size_t *ret_n, struct mk_error **err)
{
	_cleanup_free_ char *out = NULL;
	_cleanup_cjson_ cJSON *arr = NULL;
	struct mk_runtime_container_info *list = NULL;
	size_t n = 0, cap = 0;
	const cJSON *c;

	if (rt_runc(rt, (const char *const[]){ "list", "--format", "json", NULL }, &out,
		    RUNC_TIMEOUT_MS, err) < 0)
		return -1;
	arr = cJSON_Parse(out);
	/* runc prints "null" for an empty root */
	if (!arr || (!cJSON_IsArray(arr) && !cJSON_IsNull(arr)))
		return mk_error_set(err, EIO, "runc list: unparsable output");
	cJSON *items = cJSON_IsArray(arr) ? arr : NULL;
	cJSON_ArrayForEach(c, items)
	{
		const char *id = mk_json_get_string(c, "id");
		if (!id)
			continue;
		struct mk_runtime_container_info info = { 0 };
		info.id = mk_strdup(id);
		info.state = parse_state(mk_json_get_string(c, "status"));
		const cJSON *pid = cJSON_GetObjectItemCaseSensitive(c, "pid");
		info.pid = cJSON_IsNumber(pid) ? (pid_t)pid->valuedouble : 0;
		info.bundle = mk_strdup(mk_json_get_string(c, "bundle"));
		const cJSON *a = cJSON_GetObjectItemCaseSensitive(c, "annotations");
		info.annotations = cJSON_IsObject(a) ? cJSON_Duplicate(a, 1) : NULL;
		add_info(&list, &n, &cap, info);
	}
	/* directories runc does not know: leftovers to delete */
	DIR *d = opendir(rt->state);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (!rt_id_valid(de->d_name))
				continue;
			bool seen = false;
			for (size_t i = 0; i < n && !seen; i++)
				seen = !strcmp(list[i].id, de->d_name);
			if (seen)
				continue;
			struct mk_runtime_container_info info = { .id = mk_strdup(de->d_name) };
			add_info(&list, &n, &cap, info);
		}
		closedir(d);
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

void mk_runtime_container_list_free(struct mk_runtime_container_info *list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++) {
		free(list[i].id);
		free(list[i].bundle);
		cJSON_Delete(list[i].annotations);
	}
	free(list);
}

/* The mount points of the cgroup hierarchies (v1 controllers and/or v2). */
static int cgroup_roots(char ***ret, struct mk_error **err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	size_t n = 0;
	char **v = mk_malloc0(64 * sizeof(char *));

	if (!f) {
		free(v);
		return mk_error_errno(err, errno, "open /proc/self/mountinfo");
	}
	while (fgets(line, sizeof(line), f) && n < 63) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPER */
		char root[1024], mp[1024];
		char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", root, mp) != 2)
			continue;
		if (!mk_str_has_prefix(dash + 3, "cgroup ") && !mk_str_has_prefix(dash + 3, "cgroup2 "))
			continue;
		v[n++] = mk_strdup(mp);
	}
	*ret = v;
	return 0;
}

/* This process' cgroup path in the hierarchy mounted at mp (for relative parents). */
static char *own_cgroup(const char *mp)
{
	_cleanup_free_ char *data = NULL;
	if (mk_fs_read_file("/proc/self/cgroup", &data, NULL, NULL) < 0)
		return NULL;
	/* match the hierarchy by its controllers: the mount point's last component
	 * ("memory", "cpu,cpuacct", "unified" for v2, "systemd" for name=systemd) */
	const char *base = strrchr(mp, '/');
	base = base ? base + 1 : mp;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':');
		char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1;
		bool v2 = ctrls[0] == '\0';
		if ((v2 && (!strcmp(base, "unified") || !strcmp(base, "cgroup"))) ||
		    (!v2 && (!strcmp(ctrls, base) ||
			     (mk_str_has_prefix(ctrls, "name=") && !strcmp(ctrls + 5, base)))))
			return mk_strdup(c2 + 1);
	}
	return NULL;
}

int mk_runtime_cgroup_parent_remove(struct mk_runtime *rt, struct mk_error **err)
{
	char **roots = NULL;

	if (cgroup_roots(&roots, err) < 0)
		return -1;
	for (size_t i = 0; roots[i]; i++) {
		_cleanup_free_ char *base = NULL;
		if (rt->cgroup_parent[0] == '/') {
			base = mk_strdup(roots[i]);
		} else {
			_cleanup_free_ char *own = own_cgroup(roots[i]);
			if (!own)
				continue;
			base = mk_strdup_printf("%s%s", roots[i], strcmp(own, "/") ? own : "");
		}
		/* remove PARENT's directories deepest first; non-empty ones stay */
		_cleanup_free_ char *rel = mk_strdup(rt->cgroup_parent[0] == '/' ? rt->cgroup_parent + 1
										   : rt->cgroup_parent);
		for (;;) {
			_cleanup_free_ char *path = mk_strdup_printf("%s/%s", base, rel);
			if (rmdir(path) < 0 && errno != ENOENT)
				break;
			char *slash = strrchr(rel, '/');
			if (!slash)
				break;
			*slash = '\0';
		}
	}
	mk_strv_free(roots);
	return 0;
}
