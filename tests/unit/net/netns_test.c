/* Named namespaces, running code inside one, per-namespace sysctls. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include "helpers.h"

static int list_has(const char *name)
{
	char **v = NULL;
	struct mk_error *err = NULL;
	int found = 0;

	ck_ok(mk_net_netns_list(g_run_dir, &v, NULL, &err), &err);
	for (char **p = v; *p; p++)
		found |= !strcmp(*p, name);
	mk_strv_free(v);
	return found;
}

static ino_t self_netns_ino(void)
{
	struct stat st;
	ck_assert_int_eq(stat("/proc/thread-self/ns/net", &st), 0);
	return st.st_ino;
}

static int ino_fn(void *userdata, struct mk_error **err)
{
	struct stat st;
	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return mk_error_errno(err, errno, "stat");
	*(ino_t *)userdata = st.st_ino;
	return 7;
}

static int fail_fn(void *userdata, struct mk_error **err)
{
	return mk_error_set(err, EBADMSG, "inner failure %s", (const char *)userdata);
}

START_TEST(test_netns_lifecycle)
{
	struct mk_error *err = NULL;
	char name[64];
	struct stat st;
	ino_t before = self_netns_ino(), inside = 0;
	int fd = make_netns("mkt-ns", name), fd2 = -1;

	ck_assert_int_ge(fd, 0);
	ck_assert(list_has(name));
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_ne(st.st_ino, before); /* a new namespace */

	/* create twice: EEXIST, the first stays usable */
	ck_assert_int_eq(mk_net_netns_create(g_run_dir, name, NULL, &err), -1);
	ck_assert_int_eq(err->code, EEXIST);
	mk_error_free(&err);

	ck_ok(mk_net_netns_open(g_run_dir, name, &fd2, &err), &err);
	struct stat st2;
	ck_assert_int_eq(fstat(fd2, &st2), 0);
	ck_assert_uint_eq(st2.st_ino, st.st_ino);
	close(fd2);

	/* run inside: the function sees the namespace, the caller does not move */
	ck_assert_int_eq(mk_net_netns_run(fd, ino_fn, &inside, &err), 7);
	ck_assert_uint_eq(inside, st.st_ino);
	ck_assert_uint_eq(self_netns_ino(), before);
	ck_assert_int_eq(mk_net_netns_run(fd, fail_fn, "x", &err), -1);
	ck_assert_int_eq(err->code, EBADMSG);
	ck_assert_str_eq(err->msg, "inner failure x");
	mk_error_free(&err);

	ck_assert_int_eq(mk_net_netns_delete(g_run_dir, name, &err), 1);
	ck_assert(!list_has(name));
	ck_assert_int_eq(mk_net_netns_open(g_run_dir, name, &fd2, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	ck_assert_int_eq(mk_net_netns_delete(g_run_dir, name, &err), 0);
	close(fd);
}
END_TEST

START_TEST(test_netns_leftover_and_bad_names)
{
	struct mk_error *err = NULL;
	char name[64];
	int fd;

	/* make sure the dir exists (and is prepared) by creating one namespace */
	close(make_netns("mkt-prep", name));
	/* an empty file, as an interrupted create leaves it */
	char *path = mk_strdup_printf("%s/leftover", g_run_dir);
	int f = open(path, O_CREAT | O_WRONLY, 0);
	ck_assert_int_ge(f, 0);
	close(f);
	ck_assert(list_has("leftover"));
	ck_assert_int_eq(mk_net_netns_open(g_run_dir, "leftover", &fd, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	ck_assert_int_eq(mk_net_netns_delete(g_run_dir, "leftover", &err), 1);
	ck_assert(access(path, F_OK) < 0);
	free(path);

	const char *bad[] = { "", ".", "..", "a/b" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(mk_net_netns_create(g_run_dir, bad[i], NULL, &err), -1);
		ck_assert_int_eq(err->code, EINVAL);
		mk_error_free(&err);
	}
	/* a missing run dir lists as empty */
	char **v = NULL;
	size_t n = 99;
	ck_ok(mk_net_netns_list("/nonexistent/mk-net", &v, &n, &err), &err);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(v[0]);
	mk_strv_free(v);
}
END_TEST

START_TEST(test_sysctl_per_netns)
{
	struct mk_error *err = NULL;
	char n1[64], n2[64];
	int a = make_netns("mkt-sysa", n1), b = make_netns("mkt-sysb", n2);
	char *host_before = NULL, *host_after = NULL, *v = NULL;

	ck_ok(mk_net_sysctl_read(-1, "net/ipv4/ip_forward", &host_before, &err), &err);
	ck_ok(mk_net_sysctl_write(a, "net/ipv4/ip_forward", "1", &err), &err);
	ck_ok(mk_net_sysctl_read(a, "net/ipv4/ip_forward", &v, &err), &err);
	ck_assert_str_eq(v, "1");
	free(v);
	ck_ok(mk_net_sysctl_read(b, "net/ipv4/ip_forward", &v, &err), &err);
	ck_assert_str_eq(v, "0"); /* the other namespace is untouched */
	free(v);
	ck_ok(mk_net_sysctl_write(a, "net/ipv4/conf/lo/forwarding", "0", &err), &err);
	ck_ok(mk_net_sysctl_read(a, "net/ipv4/conf/lo/forwarding", &v, &err), &err);
	ck_assert_str_eq(v, "0");
	free(v);
	ck_ok(mk_net_sysctl_read(-1, "net/ipv4/ip_forward", &host_after, &err), &err);
	ck_assert_str_eq(host_after, host_before);

	const char *bad[] = { "kernel/hostname", "net/../kernel/x", "/net/ipv4/ip_forward",
			      "net/ipv4/ip forward" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(mk_net_sysctl_write(a, bad[i], "1", &err), -1);
		ck_assert_int_eq(err->code, EINVAL);
		mk_error_free(&err);
	}
	ck_assert_int_eq(mk_net_sysctl_read(a, "net/ipv4/no_such_knob", &v, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
	free(host_before);
	free(host_after);
	close(a);
	close(b);
	mk_net_netns_delete(g_run_dir, n1, NULL);
	mk_net_netns_delete(g_run_dir, n2, NULL);
}
END_TEST

Suite *netns_suite(void)
{
	Suite *s = suite_create("netns");
	TCase *tc = tcase_create("netns");

	tcase_add_unchecked_fixture(tc, net_fixture_setup, net_fixture_teardown);
	tcase_add_test(tc, test_netns_lifecycle);
	tcase_add_test(tc, test_netns_leftover_and_bad_names);
	tcase_add_test(tc, test_sysctl_per_netns);
	suite_add_tcase(s, tc);
	return s;
}
