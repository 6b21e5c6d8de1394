/* Containers for real: runc, the shim, logs, exit codes, stop/kill, exec (pipes
 * and tty), adoption by a new runtime handle, delete, network namespaces. */
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "helpers.h"

#define V(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *base;
static char *dir, *rootfs;
static struct mk_runtime *rt;
static char netns_name[32];

static void cleanup_all(void)
{
	mk_runtime_reaper_stop();
	if (rt) {
		mk_runtime_free(rt);
		rt = NULL;
	}
	if (dir) {
		rt_test_clean_runtime(dir, base);
		for (int i = 0; i < 20 && mk_runtime_reap_orphans() > 0; i++)
			;
		free(dir);
		dir = NULL;
	}
	if (netns_name[0]) {
		int st;
		mk_runtime_command_run((const char *const[]){ "ip", "netns", "delete", netns_name, NULL },
				       10000, &st, NULL);
		netns_name[0] = '\0';
	}
	free(rootfs);
	rootfs = NULL;
}

static void setup(void)
{
	base = getenv("MKRT_TEST_BASE");
	ck_assert_ptr_nonnull(base);
	char hex[7];
	mk_random_hex(hex, 3);
	dir = mk_strdup_printf("%s/t%s", base, hex);
	rootfs = mk_strdup_printf("%s/rootfs", base);
	/* what the agent does: subreaper plus the reaper thread */
	ck_assert_int_eq(mk_runtime_subreaper_init(NULL), 0);
	ck_assert_int_eq(mk_runtime_reaper_start(NULL), 0);
	rt = rt_test_open(dir, base);
	ck_assert_ptr_nonnull(rt);
}

static void teardown(void)
{
	cleanup_all();
}

static struct mk_runtime_container_spec spec_for(const char *id, const char *const *args)
{
	struct mk_runtime_container_spec s = { .id = id, .rootfs = rootfs, .args = args };
	return s;
}

#define OK(expr)                                                                   \
	do {                                                                       \
		struct mk_error *_e = NULL;                                        \
		int _r = (expr);                                                   \
		ck_assert_msg(_r >= 0, "%s: %s", #expr, _e ? _e->msg : "?");       \
	} while (0)
/* the expression must pass &_e as its error argument */

static struct mk_runtime_container_status status_of(const char *id)
{
	struct mk_runtime_container_status st;
	OK(mk_runtime_container_status_get(rt, id, &st, &_e));
	return st;
}

START_TEST(test_run_exit_code_and_log)
{
	_cleanup_free_ char *id = rt_test_id("exit3");
	_cleanup_free_ char *hosts = mk_strdup_printf("%s/hosts", dir);
	ck_assert_int_eq(mk_fs_write_file(hosts, "10.0.0.7 mk-test-host\n", 22, 0644, NULL), 0);
	struct mk_runtime_mount m[] = { { hosts, "/etc/hosts", true } };
	struct mk_runtime_container_spec s = spec_for(
		id, V("sh", "-c",
		      "echo hello out; echo oops >&2; cat /etc/hosts; echo $FOO; hostname;"
		      " echo x >/etc/hosts || echo hosts-readonly;"
		      " cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exit 3"));
	s.env = V("FOO=bar");
	s.hostname = "h-one";
	s.mounts = m;
	s.n_mounts = 1;
	s.memory_limit = 64 << 20;
	OK(mk_runtime_container_create(rt, &s, &_e));
	struct mk_runtime_container_status st = status_of(id);
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_CREATED);
	ck_assert_int_gt(st.pid, 0);
	ck_assert_int_gt(st.shim_pid, 0);
	OK(mk_runtime_container_start(rt, id, &_e));
	OK(mk_runtime_container_wait(rt, id, 10000, &_e));
	st = status_of(id);
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_EXITED);
	ck_assert_int_eq(st.exit_code, 3);
	ck_assert_int_eq(st.signal, 0);
	ck_assert_int_gt(st.started_ns, 0);
	ck_assert_int_ge(st.finished_ns, st.started_ns);
	ck_assert_int_ge(st.started_ns, st.created_ns);
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	_cleanup_free_ char *log = NULL;
	ck_assert_int_eq(mk_fs_read_file(path, &log, NULL, NULL), 0);
	ck_assert_msg(strstr(log, "Z stdout F hello out\n"), "log: %s", log);
	ck_assert_msg(strstr(log, "Z stderr F oops\n"), "log: %s", log);
	ck_assert_msg(strstr(log, "stdout F 10.0.0.7 mk-test-host\n"), "log: %s", log);
	ck_assert_msg(strstr(log, "stdout F bar\n"), "log: %s", log);
	ck_assert_msg(strstr(log, "stdout F h-one\n"), "log: %s", log);
	ck_assert_msg(strstr(log, "stdout F hosts-readonly\n"), "log: %s", log);
	ck_assert_msg(strstr(log, "stdout F 67108864\n"), "log: %s", log);
	/* every line parses */
	char *save = NULL;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct mk_runtime_log_line l;
		ck_assert_int_eq(mk_runtime_log_line_parse(line, strlen(line), &l, NULL), 0);
	}
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

START_TEST(test_stop_sigterm)
{
	_cleanup_free_ char *id = rt_test_id("term");
	struct mk_runtime_container_spec s =
		spec_for(id, V("sh", "-c", "trap 'echo got-term; exit 42' TERM; echo ready; sleep 1000 & wait"));
	OK(mk_runtime_container_run(rt, &s, &_e));
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	free(rt_test_wait_file(path, "ready", 5000));
	struct mk_runtime_container_status st = status_of(id);
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_RUNNING);
	ck_assert_int_gt(st.pid, 0);
	uint64_t t0 = mk_time_mono_ns();
	OK(mk_runtime_container_stop(rt, id, 20, &st, &_e));
	/* exited through its handler, well before the grace period */
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_EXITED);
	ck_assert_int_eq(st.exit_code, 42);
	ck_assert_int_eq(st.signal, 0);
	ck_assert_uint_lt(mk_time_mono_ns() - t0, 15000000000ull);
	_cleanup_free_ char *log = rt_test_wait_file(path, "got-term", 1000);
	ck_assert_ptr_nonnull(log);
	/* stop on an exited container is fine */
	OK(mk_runtime_container_stop(rt, id, 1, NULL, &_e));
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

START_TEST(test_stop_sigkill_after_grace)
{
	_cleanup_free_ char *id = rt_test_id("kill");
	struct mk_runtime_container_spec s =
		spec_for(id, V("sh", "-c", "trap '' TERM; echo ready; while true; do sleep 1; done"));
	OK(mk_runtime_container_run(rt, &s, &_e));
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	free(rt_test_wait_file(path, "ready", 5000));
	uint64_t t0 = mk_time_mono_ns();
	struct mk_runtime_container_status st;
	OK(mk_runtime_container_stop(rt, id, 1, &st, &_e));
	ck_assert_uint_ge(mk_time_mono_ns() - t0, 1000000000ull); /* waited the grace */
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_EXITED);
	ck_assert_int_eq(st.signal, SIGKILL);
	ck_assert_int_eq(st.exit_code, 137);
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

/* Reads fd until EOF (bounded) into an owned string. */
static char *read_all(int fd, int timeout_ms)
{
	struct mk_buf b;
	mk_buf_init(&b);
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	while (mk_time_mono_ns() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break; /* EOF, or EIO on a pty master whose slave closed */
		mk_buf_append(&b, buf, (size_t)n);
	}
	if (!b.data)
		mk_buf_append(&b, "", 0);
	return mk_buf_steal(&b);
}

/* Reads from fd until needle appears (bounded); returns everything read, owned. */
static char *read_until(int fd, const char *needle, int timeout_ms)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_append(&b, "", 0);
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	while (!strstr(b.data, needle) && mk_time_mono_ns() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 100) <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		mk_buf_append(&b, buf, (size_t)n);
	}
	return mk_buf_steal(&b);
}

START_TEST(test_exec)
{
	_cleanup_free_ char *id = rt_test_id("exec");
	struct mk_runtime_container_spec s = spec_for(id, V("sleep", "1000"));
	s.env = V("FROM_CONTAINER=yes");
	OK(mk_runtime_container_run(rt, &s, &_e));
	struct mk_runtime_exec *e = NULL;
	int code = -1;

	/* echo hi -> "hi", exit 0; the container's env is inherited */
	struct mk_runtime_exec_spec es = { .args = V("sh", "-c", "echo hi; echo $FROM_CONTAINER $X >&2"),
					   .env = V("X=1") };
	OK(mk_runtime_exec_start(rt, id, &es, &e, &_e));
	ck_assert_int_lt(mk_runtime_exec_fd(e, MK_RUNTIME_EXEC_FD_PTY), 0);
	_cleanup_free_ char *out = read_all(mk_runtime_exec_fd(e, MK_RUNTIME_EXEC_FD_STDOUT), 5000);
	_cleanup_free_ char *errout = read_all(mk_runtime_exec_fd(e, MK_RUNTIME_EXEC_FD_STDERR), 5000);
	OK(mk_runtime_exec_wait(e, 5000, &code, &_e));
	ck_assert_str_eq(out, "hi\n");
	ck_assert_str_eq(errout, "yes 1\n");
	ck_assert_int_eq(code, 0);
	mk_runtime_exec_free(e);

	/* exit 5 -> 5 */
	struct mk_runtime_exec_spec es5 = { .args = V("sh", "-c", "exit 5") };
	OK(mk_runtime_exec_start(rt, id, &es5, &e, &_e));
	OK(mk_runtime_exec_wait(e, 5000, &code, &_e));
	ck_assert_int_eq(code, 5);
	mk_runtime_exec_free(e);

	/* stdin through, EOF by closing it */
	struct mk_runtime_exec_spec ec = { .args = V("sh", "-c", "tr a-z A-Z"), .stdin = true };
	OK(mk_runtime_exec_start(rt, id, &ec, &e, &_e));
	ck_assert_int_eq(write(mk_runtime_exec_fd(e, MK_RUNTIME_EXEC_FD_STDIN), "abc\n", 4), 4);
	mk_runtime_exec_close_fd(e, MK_RUNTIME_EXEC_FD_STDIN);
	_cleanup_free_ char *up = read_all(mk_runtime_exec_fd(e, MK_RUNTIME_EXEC_FD_STDOUT), 5000);
	OK(mk_runtime_exec_wait(e, 5000, &code, &_e));
	ck_assert_str_eq(up, "ABC\n");
	ck_assert_int_eq(code, 0);
	mk_runtime_exec_free(e);

	/* a wait that times out, then free kills the process */
	struct mk_runtime_exec_spec el = { .args = V("sleep", "1000") };
	OK(mk_runtime_exec_start(rt, id, &el, &e, &_e));
	struct mk_error *err = NULL;
	ck_assert_int_lt(mk_runtime_exec_wait(e, 100, &code, &err), 0);
	ck_assert_int_eq(err->code, ETIMEDOUT);
	mk_error_free(&err);
	mk_runtime_exec_free(e);

	OK(mk_runtime_container_delete(rt, id, &_e));
	/* exec into a container that is gone */
	ck_assert_int_lt(mk_runtime_exec_start(rt, id, &es5, &e, &err), 0);
	mk_error_free(&err);
}
END_TEST

START_TEST(test_exec_tty)
{
	_cleanup_free_ char *id = rt_test_id("tty");
	struct mk_runtime_container_spec s = spec_for(id, V("sleep", "1000"));
	OK(mk_runtime_container_run(rt, &s, &_e));
	struct mk_runtime_exec *e = NULL;
	int code = -1;
	struct mk_runtime_exec_spec es = {
		.args = V("sh", "-c", "tty; stty size; read line; echo got:$line; stty size; exit 4"),
		.tty = true, .rows = 30, .cols = 100,
	};
	OK(mk_runtime_exec_start(rt, id, &es, &e, &_e));
	int pty = mk_runtime_exec_fd(e, MK_RUNTIME_EXEC_FD_PTY);
	ck_assert_int_ge(pty, 0);
	ck_assert_int_lt(mk_runtime_exec_fd(e, MK_RUNTIME_EXEC_FD_STDOUT), 0);
	_cleanup_free_ char *first = read_until(pty, "30 100", 5000);
	ck_assert_msg(strstr(first, "/dev/pts/"), "pty output: %s", first);
	ck_assert_msg(strstr(first, "30 100"), "pty output: %s", first);
	OK(mk_runtime_exec_resize(e, 40, 120, &_e));
	ck_assert_int_eq(write(pty, "ping\n", 5), 5);
	_cleanup_free_ char *rest = read_all(pty, 5000);
	ck_assert_msg(strstr(rest, "got:ping"), "pty output: %s", rest);
	ck_assert_msg(strstr(rest, "40 120"), "pty output: %s", rest);
	OK(mk_runtime_exec_wait(e, 5000, &code, &_e));
	ck_assert_int_eq(code, 4);
	mk_runtime_exec_free(e);
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

START_TEST(test_tty_container_logs)
{
	_cleanup_free_ char *id = rt_test_id("ttyc");
	struct mk_runtime_container_spec s = spec_for(id, V("sh", "-c", "tty; echo on-a-tty; exit 0"));
	s.tty = true;
	OK(mk_runtime_container_run(rt, &s, &_e));
	OK(mk_runtime_container_wait(rt, id, 10000, &_e));
	ck_assert_int_eq(status_of(id).exit_code, 0);
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	_cleanup_free_ char *log = rt_test_wait_file(path, "stdout F on-a-tty\n", 1000);
	ck_assert_ptr_nonnull(log);
	ck_assert(strstr(log, "stdout F /dev/pts/"));
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

static int count_lines(const char *path)
{
	_cleanup_free_ char *data = NULL;
	int n = 0;
	if (mk_fs_read_file(path, &data, NULL, NULL) < 0)
		return 0;
	for (char *p = data; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/* PPid from /proc/PID/status; 0 if unreadable */
static pid_t ppid_of(pid_t pid)
{
	_cleanup_free_ char *path = mk_strdup_printf("/proc/%d/status", (int)pid);
	_cleanup_free_ char *data = NULL;
	if (mk_fs_read_file(path, &data, NULL, NULL) < 0)
		return 0;
	const char *p = strstr(data, "\nPPid:");
	return p ? (pid_t)atoi(p + 6) : 0;
}

/* The executable a process runs: the base name of /proc/PID/exe; owned */
static char *exe_name_of(pid_t pid)
{
	char link[64], target[4096];
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return mk_strdup("");
	target[n] = '\0';
	const char *slash = strrchr(target, '/');
	return mk_strdup(slash ? slash + 1 : target);
}

START_TEST(test_adoption_after_agent_restart)
{
	_cleanup_free_ char *id = rt_test_id("adopt");
	struct mk_runtime_kv ann[] = { { "io.kubernetes.pod.uid", "uid-123" } };
	struct mk_runtime_container_spec s = spec_for(
		id, V("sh", "-c", "trap 'exit 0' TERM; while true; do echo tick; sleep 0.1; done"));
	s.annotations = ann;
	s.n_annotations = 1;
	OK(mk_runtime_container_run(rt, &s, &_e));
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	free(rt_test_wait_file(path, "tick", 5000));
	pid_t shim = status_of(id).shim_pid;
	ck_assert_int_gt(shim, 0);

	/* the "agent" forgets everything and comes back with a new handle */
	mk_runtime_free(rt);
	rt = rt_test_open(dir, base);
	ck_assert_ptr_nonnull(rt);
	struct mk_runtime_container_info *list = NULL;
	size_t n = 0;
	OK(mk_runtime_container_list(rt, &list, &n, &_e));
	bool found = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].id, id))
			continue;
		found = true;
		ck_assert_int_eq(list[i].state, MK_RUNTIME_STATE_RUNNING);
		ck_assert_int_gt(list[i].pid, 0);
		ck_assert_ptr_nonnull(list[i].bundle);
		const char *uid = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(list[i].annotations, "io.kubernetes.pod.uid"));
		ck_assert_str_eq((uid ? uid : ""), "uid-123");
	}
	mk_runtime_container_list_free(list, n);
	ck_assert(found);
	struct mk_runtime_container_status st = status_of(id);
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_RUNNING);
	ck_assert_int_eq(st.shim_pid, shim);
	_cleanup_free_ char *exe = exe_name_of(shim);
	ck_assert_str_eq(exe, "minik8s-shim");
	ck_assert_int_eq(ppid_of(st.pid), shim);
	/* the shim keeps logging */
	int before = count_lines(path), after = before;
	for (int i = 0; i < 100 && after < before + 3; i++) {
		usleep(50000);
		after = count_lines(path);
	}
	ck_assert_int_ge(after, before + 3);
	OK(mk_runtime_container_stop(rt, id, 10, &st, &_e));
	ck_assert_int_eq(st.exit_code, 0);
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

/* The container's cgroup directory in the pids hierarchy, from /proc/PID/cgroup. */
static char *pids_cgroup_dir(pid_t pid)
{
	_cleanup_free_ char *path = mk_strdup_printf("/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *data = NULL;
	if (mk_fs_read_file(path, &data, NULL, NULL) < 0)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c = strstr(line, ":pids:");
		if (c)
			return mk_strdup_printf("/sys/fs/cgroup/pids%s", c + 6);
		if (!strncmp(line, "0::", 3) && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
			return mk_strdup_printf("/sys/fs/cgroup%s", line + 3);
	}
	return NULL;
}

/* The container's init is a child of the minik8s-shim executable (not of this
 * test binary re-executed, nor of runc), in a session of its own. */
START_TEST(test_shim_is_the_parent)
{
	_cleanup_free_ char *id = rt_test_id("parent");
	struct mk_runtime_container_spec s = spec_for(id, V("sleep", "100"));
	OK(mk_runtime_container_run(rt, &s, &_e));
	struct mk_runtime_container_status st = status_of(id);
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_RUNNING);
	ck_assert_int_gt(st.shim_pid, 0);
	ck_assert_int_eq(ppid_of(st.pid), st.shim_pid);
	_cleanup_free_ char *exe = exe_name_of(st.shim_pid);
	ck_assert_str_eq(exe, "minik8s-shim");
	ck_assert_int_eq(getsid(st.shim_pid), st.shim_pid);
	/* and the shim is ours: this process started it */
	ck_assert_int_eq(ppid_of(st.shim_pid), getpid());
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

/* Without a shim executable (MINIK8S_SHIM names a missing file) a create fails
 * with ENOENT and a message that says what is missing; nothing is left. */
START_TEST(test_no_shim_executable)
{
	struct mk_error *err = NULL;
	_cleanup_free_ char *id = rt_test_id("noshim");
	_cleanup_free_ char *missing = mk_strdup_printf("%s/no-such-shim", dir);
	setenv(RT_SHIM_PATH_ENV, missing, 1);
	struct mk_runtime *rt2 = rt_test_open(dir, base);
	unsetenv(RT_SHIM_PATH_ENV);
	ck_assert_ptr_nonnull(rt2);
	struct mk_runtime_container_spec s = spec_for(id, V("sleep", "100"));
	ck_assert_int_lt(mk_runtime_container_create(rt2, &s, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	ck_assert_msg(strstr(err->msg, "minik8s-shim"), "%s", err->msg);
	mk_error_free(&err);
	mk_runtime_free(rt2);
	struct mk_runtime_container_info *list = NULL;
	size_t n = 0;
	OK(mk_runtime_container_list(rt, &list, &n, &_e));
	ck_assert_uint_eq(n, 0);
	mk_runtime_container_list_free(list, n);
}
END_TEST

START_TEST(test_delete_removes_everything)
{
	_cleanup_free_ char *id = rt_test_id("del");
	struct mk_runtime_container_spec s = spec_for(id, V("sleep", "1000"));
	OK(mk_runtime_container_run(rt, &s, &_e));
	struct mk_runtime_container_status st = status_of(id);
	ck_assert_int_eq(st.state, MK_RUNTIME_STATE_RUNNING);
	_cleanup_free_ char *cg = pids_cgroup_dir(st.pid);
	ck_assert_ptr_nonnull(cg);
	ck_assert_msg(strstr(cg, id), "cgroup %s", cg);
	ck_assert_int_eq(access(cg, F_OK), 0);
	_cleanup_free_ char *bundle = mk_strdup_printf("%s/s/%s", dir, id);
	_cleanup_free_ char *rstate = mk_strdup_printf("%s/r/%s", dir, id);
	ck_assert_int_eq(access(bundle, F_OK), 0);
	ck_assert_int_eq(access(rstate, F_OK), 0);
	pid_t shim = st.shim_pid, init = st.pid;

	OK(mk_runtime_container_delete(rt, id, &_e));
	ck_assert_int_ne(access(bundle, F_OK), 0);
	ck_assert_int_ne(access(rstate, F_OK), 0);
	ck_assert_int_ne(access(cg, F_OK), 0);
	ck_assert_int_ne(kill(init, 0), 0);
	ck_assert_int_ne(kill(shim, 0), 0); /* gone and reaped */
	struct mk_error *err = NULL;
	ck_assert_int_lt(mk_runtime_container_status_get(rt, id, &st, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	ck_assert_int_lt(mk_runtime_container_delete(rt, id, &err), 0);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);

	/* a container that was created but never started */
	_cleanup_free_ char *id2 = rt_test_id("del2");
	struct mk_runtime_container_spec s2 = spec_for(id2, V("sleep", "1000"));
	OK(mk_runtime_container_create(rt, &s2, &_e));
	OK(mk_runtime_container_delete(rt, id2, &_e));
	struct mk_runtime_container_info *list = NULL;
	size_t n = 0;
	OK(mk_runtime_container_list(rt, &list, &n, &_e));
	ck_assert_uint_eq(n, 0);
	mk_runtime_container_list_free(list, n);
}
END_TEST

START_TEST(test_create_errors)
{
	struct mk_error *err = NULL;
	_cleanup_free_ char *id = rt_test_id("bad");
	/* runc fails: the rootfs does not exist; nothing is left behind */
	struct mk_runtime_container_spec s = spec_for(id, V("sh"));
	s.rootfs = "/nonexistent/rootfs";
	ck_assert_int_lt(mk_runtime_container_create(rt, &s, &err), 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err->msg, "runc create"), "%s", err->msg);
	mk_error_free(&err);
	_cleanup_free_ char *bundle = mk_strdup_printf("%s/s/%s", dir, id);
	ck_assert_int_ne(access(bundle, F_OK), 0);
	/* the command does not exist in the image: run (create and start in one
	 * runc exec) fails, nothing is left behind */
	struct mk_runtime_container_spec s2 = spec_for(id, V("/no/such/binary"));
	ck_assert_int_lt(mk_runtime_container_run(rt, &s2, &err), 0);
	mk_error_free(&err);
	ck_assert_int_ne(access(bundle, F_OK), 0);
	/* an id in use */
	struct mk_runtime_container_spec s3 = spec_for(id, V("sleep", "100"));
	OK(mk_runtime_container_create(rt, &s3, &_e));
	ck_assert_int_lt(mk_runtime_container_create(rt, &s3, &err), 0);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);
	OK(mk_runtime_container_delete(rt, id, &_e));
	struct mk_runtime_container_info *list = NULL;
	size_t n = 0;
	OK(mk_runtime_container_list(rt, &list, &n, &_e));
	ck_assert_uint_eq(n, 0);
	mk_runtime_container_list_free(list, n);
}
END_TEST

START_TEST(test_netns_join)
{
	char hex[7];
	mk_random_hex(hex, 3);
	snprintf(netns_name, sizeof(netns_name), "mkrt-%s", hex);
	/* a failed assertion _exits without teardown: main's sweep deletes the
	 * namespaces recorded here */
	_cleanup_free_ char *mark = mk_strdup_printf("%s/netns-%s", base, netns_name);
	ck_assert_int_eq(mk_fs_write_file(mark, "", 0, 0600, NULL), 0);
	/* not system(): the reaper thread would take its child's status */
	int st = -1;
	OK(mk_runtime_command_run((const char *const[]){ "ip", "netns", "add", netns_name, NULL }, 10000,
				  &st, &_e));
	ck_assert_int_eq(st, 0);
	_cleanup_free_ char *nspath = mk_strdup_printf("/run/netns/%s", netns_name);
	struct stat ns;
	ck_assert_int_eq(stat(nspath, &ns), 0);
	_cleanup_free_ char *id = rt_test_id("ns");
	struct mk_runtime_container_spec s =
		spec_for(id, V("sh", "-c", "readlink /proc/self/ns/net; ip link 2>&1 | grep -c ': lo'"));
	s.netns_path = nspath;
	OK(mk_runtime_container_run(rt, &s, &_e));
	OK(mk_runtime_container_wait(rt, id, 10000, &_e));
	ck_assert_int_eq(status_of(id).exit_code, 0);
	char want[64];
	snprintf(want, sizeof(want), "stdout F net:[%lu]\n", (unsigned long)ns.st_ino);
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	_cleanup_free_ char *log = rt_test_wait_file(path, want, 1000);
	ck_assert_msg(log, "want %s", want);
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

/* Last: nothing of ours is left (processes, zombies, runc state of earlier tests). */
START_TEST(test_zz_nothing_left)
{
	pid_t runner = getppid();
	DIR *d = opendir("/proc");
	struct dirent *de;
	int strays = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid_t pid = atoi(de->d_name);
		if (pid == getpid())
			continue;
		char p[64], buf[4096];
		snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *q = strrchr(buf, ')'), state = '?';
		int ppid = 0;
		if (q)
			sscanf(q + 1, " %c %d", &state, &ppid);
		bool ours = ppid == runner;
		/* anything running with our base dir on its command line or as its root */
		snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			for (ssize_t i = 0; i < n; i++)
				if (!buf[i])
					buf[i] = ' ';
			buf[n > 0 ? n : 0] = '\0';
			if (strstr(buf, base))
				ours = true;
		}
		snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
		n = readlink(p, buf, sizeof(buf) - 1);
		if (n > 0) {
			buf[n] = '\0';
			if (mk_str_has_prefix(buf, base))
				ours = true;
		}
		if (ours) {
			fprintf(stderr, "stray process %d (state %c, ppid %d)\n", (int)pid, state, ppid);
			strays++;
		}
	}
	closedir(d);
	ck_assert_int_eq(strays, 0);
	/* every earlier test's runc root is empty */
	d = opendir(base);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		if (de->d_name[0] != 't' || !strcmp(de->d_name + 1, strrchr(dir, '/') + 2))
			continue;
		_cleanup_free_ char *r = mk_strdup_printf("%s/%s/r", base, de->d_name);
		DIR *rd = opendir(r);
		struct dirent *e2;
		int entries = 0;
		while (rd && (e2 = readdir(rd)))
			if (e2->d_name[0] != '.')
				entries++;
		if (rd)
			closedir(rd);
		ck_assert_msg(entries == 0, "runc root %s not empty", r);
	}
	closedir(d);
}
END_TEST

/* Reads attach messages for up to timeout_ms, appending stdout/stderr payloads to
 * *acc, until *acc contains want (or, want NULL, the shim closes the socket).
 * Returns 1 found / closed, 0 timed out. */
static int attach_read(int fd, struct mk_buf *acc, const char *want, int timeout_ms)
{
	uint64_t end = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	char msg[MK_RUNTIME_ATTACH_MAX_MSG];

	for (;;) {
		if (want && acc->len && memmem(acc->data, acc->len, want, strlen(want)))
			return 1;
		uint64_t now = mk_time_mono_ns();
		if (now >= end)
			return 0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)((end - now) / 1000000) + 1) <= 0)
			continue;
		ssize_t n = recv(fd, msg, sizeof(msg), 0);
		if (n <= 0)
			return want ? 0 : 1;
		ck_assert(msg[0] == MK_RUNTIME_ATTACH_STDOUT || msg[0] == MK_RUNTIME_ATTACH_STDERR);
		mk_buf_append(acc, msg + 1, (size_t)n - 1);
	}
}

static void attach_write(int fd, uint8_t type, const void *data, size_t len)
{
	char msg[256];
	msg[0] = (char)type;
	if (len) /* a close frame has no data (NULL): memcpy must not see it */
		memcpy(msg + 1, data, len);
	ck_assert_int_eq(send(fd, msg, len + 1, MSG_NOSIGNAL), (ssize_t)len + 1);
}

START_TEST(test_attach_stdin_once)
{
	_cleanup_free_ char *id = rt_test_id("att");
	struct mk_runtime_container_spec s =
		spec_for(id, V("sh", "-c", "while read l; do echo in:$l; done; echo done"));
	s.open_stdin = true;
	s.stdin_once = true;
	OK(mk_runtime_container_run(rt, &s, &_e));
	int a = -1, b = -1;
	OK(mk_runtime_attach_open(rt, id, &a, &_e));
	OK(mk_runtime_attach_open(rt, id, &b, &_e));
	struct mk_buf out_a, out_b;
	mk_buf_init(&out_a);
	mk_buf_init(&out_b);
	/* the shim accepts in its loop: the first line may race the second
	 * client's accept, so wait for both to see the answer to a later line */
	attach_write(a, MK_RUNTIME_ATTACH_STDIN, "one\n", 4);
	ck_assert_msg(attach_read(a, &out_a, "in:one\n", 10000), "a: %.*s", (int)out_a.len,
		      out_a.data);
	attach_write(a, MK_RUNTIME_ATTACH_STDIN, "two\n", 4);
	ck_assert_msg(attach_read(a, &out_a, "in:two\n", 10000), "a: %.*s", (int)out_a.len,
		      out_a.data);
	ck_assert_msg(attach_read(b, &out_b, "in:two\n", 10000), "b: %.*s", (int)out_b.len,
		      out_b.data);
	/* stdinOnce: the end of a client's stdin is the process' EOF */
	attach_write(a, MK_RUNTIME_ATTACH_STDIN_EOF, NULL, 0);
	ck_assert_msg(attach_read(a, &out_a, "done\n", 10000), "a: %.*s", (int)out_a.len,
		      out_a.data);
	/* the container ended: the shim closes every connection */
	ck_assert(attach_read(a, &out_a, NULL, 10000));
	ck_assert(attach_read(b, &out_b, NULL, 10000));
	OK(mk_runtime_container_wait(rt, id, 10000, &_e));
	ck_assert_int_eq(status_of(id).exit_code, 0);
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	_cleanup_free_ char *log = rt_test_wait_file(path, "stdout F done\n", 1000);
	ck_assert_ptr_nonnull(log);
	ck_assert(strstr(log, "stdout F in:one\n"));
	close(a);
	close(b);
	mk_buf_release(&out_a);
	mk_buf_release(&out_b);
	/* no socket once the container is gone */
	ck_assert_int_lt(mk_runtime_attach_open(rt, id, &a, NULL), 0);
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

START_TEST(test_attach_tty_resize)
{
	_cleanup_free_ char *id = rt_test_id("atty");
	struct mk_runtime_container_spec s =
		spec_for(id, V("sh", "-c", "read l; stty size; echo got:$l; exit 3"));
	s.open_stdin = true;
	s.tty = true;
	OK(mk_runtime_container_run(rt, &s, &_e));
	int a = -1;
	OK(mk_runtime_attach_open(rt, id, &a, &_e));
	uint16_t rc[2] = { 33, 77 };
	attach_write(a, MK_RUNTIME_ATTACH_RESIZE, rc, sizeof(rc));
	attach_write(a, MK_RUNTIME_ATTACH_STDIN, "x\n", 2);
	struct mk_buf out;
	mk_buf_init(&out);
	ck_assert_msg(attach_read(a, &out, "got:x", 10000), "out: %.*s", (int)out.len, out.data);
	ck_assert_msg(memmem(out.data, out.len, "33 77", 5), "out: %.*s", (int)out.len, out.data);
	ck_assert(attach_read(a, &out, NULL, 10000));
	OK(mk_runtime_container_wait(rt, id, 10000, &_e));
	ck_assert_int_eq(status_of(id).exit_code, 3);
	close(a);
	mk_buf_release(&out);
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

START_TEST(test_attach_without_stdin)
{
	/* no stdin: the process reads EOF at once; input from attach is dropped */
	_cleanup_free_ char *id = rt_test_id("anos");
	struct mk_runtime_container_spec s =
		spec_for(id, V("sh", "-c", "read l || echo eof; exec sleep 1000"));
	OK(mk_runtime_container_run(rt, &s, &_e));
	_cleanup_free_ char *path = mk_runtime_container_log_path(rt, id);
	_cleanup_free_ char *log = rt_test_wait_file(path, "stdout F eof\n", 5000);
	ck_assert_ptr_nonnull(log);
	int a = -1;
	OK(mk_runtime_attach_open(rt, id, &a, &_e));
	attach_write(a, MK_RUNTIME_ATTACH_STDIN, "ignored\n", 8);
	OK(mk_runtime_container_stop(rt, id, 1, NULL, &_e));
	struct mk_buf out;
	mk_buf_init(&out);
	ck_assert(attach_read(a, &out, NULL, 10000));
	close(a);
	mk_buf_release(&out);
	OK(mk_runtime_container_delete(rt, id, &_e));
}
END_TEST

Suite *runtime_container_suite(void)
{
	Suite *s = suite_create("runtime-container");
	TCase *tc = tcase_create("container");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_run_exit_code_and_log);
	tcase_add_test(tc, test_stop_sigterm);
	tcase_add_test(tc, test_stop_sigkill_after_grace);
	tcase_add_test(tc, test_exec);
	tcase_add_test(tc, test_exec_tty);
	tcase_add_test(tc, test_tty_container_logs);
	tcase_add_test(tc, test_attach_stdin_once);
	tcase_add_test(tc, test_attach_tty_resize);
	tcase_add_test(tc, test_attach_without_stdin);
	tcase_add_test(tc, test_adoption_after_agent_restart);
	tcase_add_test(tc, test_shim_is_the_parent);
	tcase_add_test(tc, test_no_shim_executable);
	tcase_add_test(tc, test_delete_removes_everything);
	tcase_add_test(tc, test_create_errors);
	tcase_add_test(tc, test_netns_join);
	tcase_add_test(tc, test_zz_nothing_left);
	suite_add_tcase(s, tc);
	return s;
}
