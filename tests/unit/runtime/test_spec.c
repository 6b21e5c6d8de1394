/* Pure tests: command/args merge, OCI config generation, CRI log format and
 * rotation, the child reaper. */
#include "helpers.h"

#define V(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define EMPTY ((const char *const[]){ NULL })

static char *joined(char **v)
{
	struct mk_buf b;
	mk_buf_init(&b);
	for (size_t i = 0; v && v[i]; i++)
		mk_buf_printf(&b, "%s%s", i ? "|" : "", v[i]);
	return mk_buf_steal(&b);
}

START_TEST(test_args_merge_table)
{
	const struct {
		const char *const *ep, *const *cmd, *const *command, *const *args;
		const char *want; /* NULL: EINVAL */
	} cases[] = {
		/* image only */
		{ V("/ep"), V("c1", "c2"), NULL, NULL, "/ep|c1|c2" },
		{ NULL, V("sh"), NULL, NULL, "sh" },
		{ V("/ep"), NULL, NULL, NULL, "/ep" },
		/* args replaces CMD, keeps ENTRYPOINT */
		{ V("/ep"), V("c1"), NULL, V("a1", "a2"), "/ep|a1|a2" },
		{ NULL, V("c1"), NULL, V("a1"), "a1" },
		/* command replaces ENTRYPOINT and drops CMD */
		{ V("/ep"), V("c1"), V("/bin/x"), NULL, "/bin/x" },
		{ V("/ep"), V("c1"), V("/bin/x"), EMPTY, "/bin/x" },
		/* both */
		{ V("/ep"), V("c1"), V("/bin/x", "-v"), V("a1"), "/bin/x|-v|a1" },
		/* empty lists mean unset */
		{ V("/ep"), V("c1"), EMPTY, EMPTY, "/ep|c1" },
		{ EMPTY, V("c1"), EMPTY, V("a1"), "a1" },
		/* nothing at all */
		{ NULL, NULL, NULL, NULL, NULL },
		{ EMPTY, EMPTY, EMPTY, EMPTY, NULL },
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		char **argv = NULL;
		struct mk_error *err = NULL;
		int r = mk_runtime_args_merge(cases[i].ep, cases[i].cmd, cases[i].command, cases[i].args,
					      &argv, &err);
		if (!cases[i].want) {
			ck_assert_msg(r < 0 && err && err->code == EINVAL, "case %zu: want EINVAL", i);
			mk_error_free(&err);
			continue;
		}
		ck_assert_msg(r == 0, "case %zu: %s", i, err ? err->msg : "");
		_cleanup_free_ char *got = joined(argv);
		ck_assert_msg(!strcmp(got, cases[i].want), "case %zu: got %s want %s", i, got, cases[i].want);
		mk_strv_free(argv);
	}
}
END_TEST

static bool array_has(const cJSON *a, const char *s)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, a)
	{
		if (cJSON_IsString(e) && !strcmp(e->valuestring, s))
			return true;
	}
	return false;
}

START_TEST(test_spec_generate)
{
	struct mk_runtime_mount mounts[] = { { "/tmp/pod/hosts", "/etc/hosts", true } };
	struct mk_runtime_kv ann[] = { { "io.kubernetes.pod.name", "web-1" } };
	struct mk_runtime_container_spec spec = {
		.id = "c1", .rootfs = "/var/lib/x/rootfs", .args = V("nginx", "-g", "daemon off;"),
		.env = V("A=1", "PATH=/bin"), .cwd = "/srv", .uid = 101, .gid = 102,
		.hostname = "web-1", .netns_path = "/run/netns/pod1", .mounts = mounts, .n_mounts = 1,
		.memory_limit = 64 << 20, .cpu_shares = 512, .cpu_quota = 50000, .pids_limit = 100,
		.annotations = ann, .n_annotations = 1,
	};
	cJSON *c = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_runtime_spec_generate(&spec, "mk/c1", &c, &err), 0);
	ck_assert(cJSON_IsFalse(mk_json_get(c, "process.terminal")));
	ck_assert_str_eq(mk_json_get_string(c, "root.path"), "/var/lib/x/rootfs");
	ck_assert(cJSON_IsFalse(mk_json_get(c, "root.readonly")));
	ck_assert_int_eq((int)mk_json_get(c, "process.user.uid")->valuedouble, 101);
	ck_assert_int_eq((int)mk_json_get(c, "process.user.gid")->valuedouble, 102);
	ck_assert_str_eq(mk_json_get_string(c, "process.cwd"), "/srv");
	ck_assert_str_eq(mk_json_get_string(c, "hostname"), "web-1");
	ck_assert_str_eq(mk_json_get_string(c, "linux.cgroupsPath"), "mk/c1");
	cJSON *env = mk_json_get(c, "process.env");
	ck_assert(array_has(env, "A=1") && array_has(env, "PATH=/bin"));
	ck_assert_int_eq(cJSON_GetArraySize(env), 2); /* the given PATH wins */
	ck_assert(array_has(mk_json_get(c, "process.capabilities.bounding"), "CAP_NET_BIND_SERVICE"));
	ck_assert(!array_has(mk_json_get(c, "process.capabilities.bounding"), "CAP_SYS_ADMIN"));
	ck_assert(array_has(mk_json_get(c, "linux.maskedPaths"), "/proc/kcore"));
	ck_assert(array_has(mk_json_get(c, "linux.readonlyPaths"), "/proc/sys"));
	ck_assert_int_eq((int)mk_json_get(c, "linux.resources.memory.limit")->valuedouble, 64 << 20);
	ck_assert_int_eq((int)mk_json_get(c, "linux.resources.cpu.period")->valuedouble, 100000);
	ck_assert_int_eq((int)mk_json_get(c, "linux.resources.pids.limit")->valuedouble, 100);
	const char *pod = cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(mk_json_get(c, "annotations"), "io.kubernetes.pod.name"));
	ck_assert_str_eq((pod ? pod : ""), "web-1");
	bool netns = false;
	const cJSON *ns;
	cJSON_ArrayForEach(ns, mk_json_get(c, "linux.namespaces"))
	{
		if (!strcmp(mk_json_get_string(ns, "type"), "network"))
			netns = mk_json_get_string(ns, "path") &&
				!strcmp(mk_json_get_string(ns, "path"), "/run/netns/pod1");
	}
	ck_assert(netns);
	const cJSON *m, *hosts = NULL;
	int n_default = 0;
	cJSON_ArrayForEach(m, mk_json_get(c, "mounts"))
	{
		const char *dst = mk_json_get_string(m, "destination");
		if (!strcmp(dst, "/etc/hosts"))
			hosts = m;
		if (!strcmp(dst, "/proc") || !strcmp(dst, "/dev") || !strcmp(dst, "/dev/pts") ||
		    !strcmp(dst, "/dev/shm") || !strcmp(dst, "/dev/mqueue") || !strcmp(dst, "/sys") ||
		    !strcmp(dst, "/sys/fs/cgroup"))
			n_default++;
	}
	ck_assert_int_eq(n_default, 7);
	ck_assert_ptr_nonnull(hosts);
	ck_assert_str_eq(mk_json_get_string(hosts, "type"), "bind");
	ck_assert(array_has(mk_json_get(hosts, "options"), "ro"));
	cJSON_Delete(c);

	/* tty, defaults, no netns path */
	struct mk_runtime_container_spec s2 = { .id = "c2", .rootfs = "/r", .args = V("sh"), .tty = true };
	ck_assert_int_eq(mk_runtime_spec_generate(&s2, NULL, &c, &err), 0);
	ck_assert(cJSON_IsTrue(mk_json_get(c, "process.terminal")));
	ck_assert(array_has(mk_json_get(c, "process.env"), "TERM=xterm"));
	ck_assert_str_eq(mk_json_get_string(c, "hostname"), "c2");
	ck_assert_ptr_null(mk_json_get(c, "linux.cgroupsPath"));
	ck_assert_ptr_null(mk_json_get(c, "linux.resources.memory"));
	cJSON_ArrayForEach(ns, mk_json_get(c, "linux.namespaces"))
		ck_assert_ptr_null(mk_json_get(ns, "path"));
	cJSON_Delete(c);

	/* invalid specs */
	const char *bad_ids[] = { "", "-x", "a/b", "a b", "..", NULL };
	for (size_t i = 0; bad_ids[i]; i++) {
		struct mk_runtime_container_spec s = { .id = bad_ids[i], .rootfs = "/r", .args = V("sh") };
		ck_assert_int_lt(mk_runtime_spec_generate(&s, NULL, &c, &err), 0);
		ck_assert_int_eq(err->code, EINVAL);
		mk_error_free(&err);
	}
	struct mk_runtime_container_spec s3 = { .id = "ok", .rootfs = "rel", .args = V("sh") };
	ck_assert_int_lt(mk_runtime_spec_generate(&s3, NULL, &c, &err), 0);
	mk_error_free(&err);
	s3.rootfs = "/r";
	s3.args = EMPTY;
	ck_assert_int_lt(mk_runtime_spec_generate(&s3, NULL, &c, &err), 0);
	mk_error_free(&err);
	s3.args = V("sh");
	s3.env = V("NOEQUALS");
	ck_assert_int_lt(mk_runtime_spec_generate(&s3, NULL, &c, &err), 0);
	mk_error_free(&err);
}
END_TEST


/* An ephemeral container with a target joins its pid and ipc namespaces. */
START_TEST(test_spec_join_namespaces)
{
	struct mk_runtime_container_spec spec = {
		.id = "dbg", .rootfs = "/r", .args = V("sh"), .netns_path = "/run/netns/pod1",
		.pidns_path = "/proc/42/ns/pid", .ipcns_path = "/proc/42/ns/ipc",
	};
	cJSON *c = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_runtime_spec_generate(&spec, NULL, &c, &err), 0);
	const cJSON *ns;
	int joined = 0, fresh = 0;
	cJSON_ArrayForEach(ns, mk_json_get(c, "linux.namespaces"))
	{
		const char *t = mk_json_get_string(ns, "type"), *path = mk_json_get_string(ns, "path");
		if (!strcmp(t, "pid"))
			joined += path && !strcmp(path, "/proc/42/ns/pid");
		else if (!strcmp(t, "ipc"))
			joined += path && !strcmp(path, "/proc/42/ns/ipc");
		else if (!strcmp(t, "uts") || !strcmp(t, "mount"))
			fresh += !path;
	}
	ck_assert_int_eq(joined, 2);
	ck_assert_int_eq(fresh, 2);
	cJSON_Delete(c);
	spec.pidns_path = "proc/42/ns/pid";
	ck_assert_int_eq(mk_runtime_spec_generate(&spec, NULL, &c, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
}
END_TEST

START_TEST(test_exec_process_json)
{
	struct mk_runtime_container_spec spec = { .id = "c1", .rootfs = "/r", .args = V("sleep", "1"),
						  .env = V("A=1", "B=2"), .cwd = "/w", .uid = 7 };
	cJSON *c = NULL;
	_cleanup_free_ char *json = NULL;
	ck_assert_int_eq(mk_runtime_spec_generate(&spec, NULL, &c, NULL), 0);
	struct mk_runtime_exec_spec es = { .args = V("sh", "-c", "id"), .env = V("B=3", "C=4"),
					   .tty = true, .rows = 30, .cols = 100 };
	ck_assert_int_eq(rt_exec_process_json(c, &es, &json, NULL), 0);
	cJSON *p = cJSON_Parse(json);
	ck_assert_str_eq(cJSON_GetArrayItem(mk_json_get(p, "args"), 2)->valuestring, "id");
	ck_assert(cJSON_IsTrue(mk_json_get(p, "terminal")));
	ck_assert_int_eq((int)mk_json_get(p, "consoleSize.height")->valuedouble, 30);
	ck_assert_int_eq((int)mk_json_get(p, "user.uid")->valuedouble, 7);
	ck_assert_str_eq(mk_json_get_string(p, "cwd"), "/w");
	cJSON *env = mk_json_get(p, "env");
	ck_assert(array_has(env, "A=1") && array_has(env, "B=3") && array_has(env, "C=4"));
	ck_assert(!array_has(env, "B=2"));
	cJSON_Delete(p);
	cJSON_Delete(c);
}
END_TEST

START_TEST(test_log_parse)
{
	struct mk_runtime_log_line l;
	const char *s = "2026-11-26T08:00:00.000000001Z stderr P part of it\n";
	ck_assert_int_eq(mk_runtime_log_line_parse(s, strlen(s), &l, NULL), 0);
	ck_assert(l.is_stderr && l.partial);
	ck_assert_int_eq((int)l.time_len, 30);
	ck_assert_int_eq((int)l.content_len, 10);
	ck_assert(!memcmp(l.content, "part of it", 10));
	s = "2026-11-26T08:00:00.000000001Z stdout F";
	ck_assert_int_eq(mk_runtime_log_line_parse(s, strlen(s), &l, NULL), 0);
	ck_assert(!l.is_stderr && !l.partial && l.content_len == 0);
	const char *bad[] = { "", "nospace", "t stdin F x", "t stdout X x", "t stdout Fx", NULL };
	for (size_t i = 0; bad[i]; i++) {
		struct mk_error *err = NULL;
		ck_assert_msg(mk_runtime_log_line_parse(bad[i], strlen(bad[i]), &l, &err) < 0, "%s", bad[i]);
		mk_error_free(&err);
	}
}
END_TEST

START_TEST(test_log_writer_rotation)
{
	char dir[] = "/tmp/mkrt-log.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	_cleanup_free_ char *path = mk_strdup_printf("%s/container.log", dir);
	_cleanup_free_ char *old = mk_strdup_printf("%s/container.log.1", dir);
	struct rt_log log;
	ck_assert_int_eq(rt_log_open(&log, path, 8192), 0);
	/* a split line joins into one record; CRLF loses its CR */
	rt_log_feed(&log, 0, "hel", 3);
	rt_log_feed(&log, 0, "lo\r\nsecond\n", 11);
	rt_log_feed(&log, 1, "err\n", 4);
	rt_log_feed(&log, 0, "tail", 4);
	rt_log_flush(&log, 0);
	_cleanup_free_ char *data = NULL;
	ck_assert_int_eq(mk_fs_read_file(path, &data, NULL, NULL), 0);
	char *save = NULL;
	const char *want[][2] = { { "stdout F", "hello" }, { "stdout F", "second" },
				  { "stderr F", "err" }, { "stdout F", "tail" } };
	size_t i = 0;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		struct mk_runtime_log_line l;
		ck_assert_uint_lt(i, 4);
		ck_assert_int_eq(mk_runtime_log_line_parse(line, strlen(line), &l, NULL), 0);
		ck_assert(strstr(line, want[i][0]));
		ck_assert_int_eq((int)l.content_len, (int)strlen(want[i][1]));
		ck_assert(!memcmp(l.content, want[i][1], l.content_len));
		ck_assert_int_eq(l.time[4], '-');
		ck_assert_int_eq(l.time[l.time_len - 1], 'Z');
	}
	ck_assert_uint_eq(i, 4);
	/* a 40000-byte line becomes P, P, F records; then rotation keeps the size capped */
	char *big = mk_malloc0(40001);
	memset(big, 'x', 40000);
	big[39999] = '\n';
	rt_log_close(&log);
	ck_assert_int_eq(rt_log_open(&log, path, 20000), 0);
	rt_log_feed(&log, 0, big, 40000);
	for (int k = 0; k < 500; k++)
		rt_log_feed(&log, 1, "0123456789012345678901234567890123456789\n", 41);
	rt_log_close(&log);
	free(big);
	struct stat a, b;
	ck_assert_int_eq(stat(path, &a), 0);
	ck_assert_int_eq(stat(old, &b), 0);
	ck_assert_int_le(a.st_size, 20000);
	ck_assert_int_le(b.st_size, 20000 + 16384 + 64);
	rt_rm_rf(dir, NULL);
}
END_TEST

START_TEST(test_reaper)
{
	ck_assert_int_eq(mk_runtime_subreaper_init(NULL), 0);
	/* a registered child keeps its status for its owner */
	mk_runtime_children_lock();
	pid_t owned = fork();
	if (owned == 0)
		_exit(7);
	mk_runtime_child_register(owned);
	mk_runtime_children_unlock();
	/* an orphan: child forks a grandchild and exits; the grandchild comes to us */
	pid_t mid = fork();
	if (mid == 0) {
		if (fork() == 0) {
			usleep(100000);
			_exit(0);
		}
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(mid, &st, 0), mid);
	usleep(300000); /* owned exited, the grandchild too */
	int reaped = 0;
	for (int i = 0; i < 50 && reaped == 0; i++) {
		reaped += mk_runtime_reap_orphans();
		if (!reaped)
			usleep(20000);
	}
	ck_assert_int_eq(reaped, 1);
	ck_assert_int_eq(waitpid(owned, &st, 0), owned);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	mk_runtime_child_unregister(owned);
	ck_assert_int_eq(mk_runtime_reap_orphans(), 0);

	/* the SIGCHLD thread reaps orphans without being asked */
	ck_assert_int_eq(mk_runtime_reaper_start(NULL), 0);
	ck_assert_int_eq(mk_runtime_reaper_start(NULL), 0);
	mid = fork();
	if (mid == 0) {
		if (fork() == 0)
			_exit(0);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(mid, &st, 0), mid);
	bool gone = false;
	for (int i = 0; i < 100 && !gone; i++) {
		usleep(20000);
		siginfo_t si;
		/* WNOWAIT: look, do not reap ourselves */
		gone = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
	}
	mk_runtime_reaper_stop();
	ck_assert_msg(gone, "orphan not reaped by the reaper thread");
}
END_TEST

Suite *runtime_spec_suite(void)
{
	Suite *s = suite_create("runtime-spec");
	TCase *tc = tcase_create("spec");
	tcase_add_test(tc, test_args_merge_table);
	tcase_add_test(tc, test_spec_generate);
	tcase_add_test(tc, test_spec_join_namespaces);
	tcase_add_test(tc, test_exec_process_json);
	tcase_add_test(tc, test_log_parse);
	tcase_add_test(tc, test_log_writer_rotation);
	tcase_add_test(tc, test_reaper);
	suite_add_tcase(s, tc);
	return s;
}
