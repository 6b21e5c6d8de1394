/* IPAM: allocation order, idempotency, exhaustion, persistence, processes. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "helpers.h"

static char base[64], dir[96], path[128];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p) < 0 ? 0 : 0;
}

/* parent (unchecked): one base dir per test case, removed even if a test died */
static void ipam_base_setup(void)
{
	strcpy(base, "/tmp/mk-ipam-test.XXXXXX");
	if (!mkdtemp(base))
		abort();
}

static void ipam_base_teardown(void)
{
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void ipam_setup(void)
{
	static int seq;
	snprintf(dir, sizeof(dir), "%s/t%d-%d", base, (int)getpid(), seq++);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/pods.ipam", dir);
}

static void ipam_teardown(void)
{
	char lock[160];
	snprintf(lock, sizeof(lock), "%s.lock", path);
	unlink(path);
	unlink(lock);
	rmdir(dir);
}

static struct mk_net_ipam *open_ipam(const char *cidr)
{
	struct mk_net_ipam *p = NULL;
	struct mk_error *err = NULL;
	ck_ok(mk_net_ipam_open(path, cidr, &p, &err), &err);
	return p;
}

static void alloc_eq(struct mk_net_ipam *p, const char *owner, const char *want)
{
	struct mk_error *err = NULL;
	char ip[MK_NET_IP_STRLEN];
	ck_ok(mk_net_ipam_allocate(p, owner, ip, &err), &err);
	ck_assert_str_eq(ip, want);
}

START_TEST(test_ipam_basic)
{
	struct mk_net_ipam *p = open_ipam("10.244.1.0/24");
	struct mk_error *err = NULL;
	char ip[MK_NET_IP_STRLEN], gw[MK_NET_IP_STRLEN];
	int prefix = 0;

	mk_net_ipam_gateway(p, gw, &prefix);
	ck_assert_str_eq(gw, "10.244.1.1");
	ck_assert_int_eq(prefix, 24);
	alloc_eq(p, "pod-a", "10.244.1.2");
	alloc_eq(p, "pod-b", "10.244.1.3");
	alloc_eq(p, "pod-a", "10.244.1.2"); /* idempotent per owner */
	ck_assert_int_eq(mk_net_ipam_lookup(p, "pod-b", ip, &err), 1);
	ck_assert_str_eq(ip, "10.244.1.3");
	ck_assert_int_eq(mk_net_ipam_lookup(p, "pod-z", ip, &err), 0);
	ck_assert_int_eq(mk_net_ipam_release(p, "pod-a", &err), 1);
	ck_assert_int_eq(mk_net_ipam_release(p, "pod-a", &err), 0);
	/* next-fit: the released .2 is not reused right away */
	alloc_eq(p, "pod-c", "10.244.1.4");
	alloc_eq(p, "pod-a", "10.244.1.5");

	struct mk_net_ipam_entry *e = NULL;
	size_t n = 0;
	ck_ok(mk_net_ipam_list(p, &e, &n, &err), &err);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(e[0].ip, "10.244.1.3");
	ck_assert_str_eq(e[0].owner, "pod-b");
	ck_assert_str_eq(e[1].ip, "10.244.1.4");
	ck_assert_str_eq(e[2].owner, "pod-a");
	mk_net_ipam_entries_free(e, n);

	const char *bad_owners[] = { "", "has space", "tab\there", "new\nline" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(bad_owners); i++) {
		ck_assert_int_eq(mk_net_ipam_allocate(p, bad_owners[i], ip, &err), -1);
		ck_assert_int_eq(err->code, EINVAL);
		mk_error_free(&err);
	}
	mk_net_ipam_free(p);
}
END_TEST

START_TEST(test_ipam_bad_ranges)
{
	struct mk_net_ipam *p = NULL;
	struct mk_error *err = NULL;
	const char *bad[] = { "10.244.1.1/24", "10.0.0.0/8", "10.244.1.0/31", "10.244.1.0",
			      "300.1.1.0/24", "10.244.1.0/abc" };

	for (size_t i = 0; i < MK_ARRAY_SIZE(bad); i++) {
		ck_assert_int_eq(mk_net_ipam_open(path, bad[i], &p, &err), -1);
		ck_assert_int_eq(err->code, EINVAL);
		mk_error_free(&err);
	}
	/* an existing file for another range is refused, not overwritten */
	p = open_ipam("10.244.1.0/24");
	alloc_eq(p, "keep", "10.244.1.2");
	mk_net_ipam_free(p);
	ck_assert_int_eq(mk_net_ipam_open(path, "10.244.2.0/24", &p, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	/* a corrupt file is reported */
	char *data = NULL;
	size_t len;
	ck_ok(mk_fs_read_file(path, &data, &len, &err), &err);
	char *broken = mk_strdup_printf("%s10.244.1.2 twice\n", data);
	ck_ok(mk_fs_write_file(path, broken, strlen(broken), 0644, &err), &err);
	ck_assert_int_eq(mk_net_ipam_open(path, "10.244.1.0/24", &p, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	ck_assert_ptr_nonnull(strstr(err->msg, "line 6"));
	mk_error_free(&err);
	ck_ok(mk_fs_write_file(path, data, len, 0644, &err), &err);
	p = open_ipam("10.244.1.0/24");
	alloc_eq(p, "keep", "10.244.1.2");
	mk_net_ipam_free(p);
	free(broken);
	free(data);
}
END_TEST

START_TEST(test_ipam_exhaustion_and_wrap)
{
	struct mk_net_ipam *p = open_ipam("10.244.1.0/28"); /* hosts .2 .. .14 */
	struct mk_error *err = NULL;
	char ip[MK_NET_IP_STRLEN], owner[32], want[32];

	for (int i = 2; i <= 14; i++) {
		snprintf(owner, sizeof(owner), "o%d", i);
		snprintf(want, sizeof(want), "10.244.1.%d", i);
		alloc_eq(p, owner, want);
	}
	ck_assert_int_eq(mk_net_ipam_allocate(p, "one-too-many", ip, &err), -1);
	ck_assert_int_eq(err->code, ENOSPC);
	mk_error_free(&err);
	alloc_eq(p, "o7", "10.244.1.7"); /* existing owners still get theirs */
	ck_assert_int_eq(mk_net_ipam_release(p, "o5", &err), 1);
	ck_assert_int_eq(mk_net_ipam_release(p, "o9", &err), 1);
	/* the cursor wrapped past .14: first free from the start */
	alloc_eq(p, "n1", "10.244.1.5");
	alloc_eq(p, "n2", "10.244.1.9");
	ck_assert_int_eq(mk_net_ipam_allocate(p, "n3", ip, &err), -1);
	ck_assert_int_eq(err->code, ENOSPC);
	mk_error_free(&err);
	mk_net_ipam_free(p);

	/* /30: exactly one pod address */
	ipam_teardown();
	ipam_setup();
	p = open_ipam("10.9.0.4/30");
	alloc_eq(p, "only", "10.9.0.6");
	ck_assert_int_eq(mk_net_ipam_allocate(p, "second", ip, &err), -1);
	ck_assert_int_eq(err->code, ENOSPC);
	mk_error_free(&err);
	mk_net_ipam_free(p);
}
END_TEST

START_TEST(test_ipam_persistence)
{
	struct mk_net_ipam *p = open_ipam("10.244.3.0/24"), *q;
	struct mk_error *err = NULL;
	char ip[MK_NET_IP_STRLEN];

	alloc_eq(p, "a", "10.244.3.2");
	alloc_eq(p, "b", "10.244.3.3");
	alloc_eq(p, "c", "10.244.3.4");
	ck_assert_int_eq(mk_net_ipam_release(p, "a", &err), 1);
	/* a second handle sees the first's writes and vice versa */
	q = open_ipam("10.244.3.0/24");
	ck_assert_int_eq(mk_net_ipam_lookup(q, "b", ip, &err), 1);
	ck_assert_str_eq(ip, "10.244.3.3");
	alloc_eq(q, "d", "10.244.3.5");
	alloc_eq(p, "e", "10.244.3.6"); /* p reloads: does not hand out .5 again */
	ck_assert_int_eq(mk_net_ipam_release(q, "b", &err), 1);
	ck_assert_int_eq(mk_net_ipam_lookup(p, "b", ip, &err), 0);
	mk_net_ipam_free(p);
	mk_net_ipam_free(q);

	/* reopen ("agent restart"): allocations and the cursor survive */
	p = open_ipam("10.244.3.0/24");
	alloc_eq(p, "c", "10.244.3.4");
	alloc_eq(p, "d", "10.244.3.5");
	alloc_eq(p, "f", "10.244.3.7");
	struct mk_net_ipam_entry *e = NULL;
	size_t n = 0;
	ck_ok(mk_net_ipam_list(p, &e, &n, &err), &err);
	ck_assert_uint_eq(n, 4);
	mk_net_ipam_entries_free(e, n);
	mk_net_ipam_free(p);
}
END_TEST

/* Several processes allocate from one file at once: no address twice, every
 * allocation kept, one shared owner gets one address. */
START_TEST(test_ipam_processes)
{
	enum { PROCS = 6, PER = 30 };
	struct mk_net_ipam *p = open_ipam("10.244.4.0/24");
	struct mk_error *err = NULL;
	char shared_ip[MK_NET_IP_STRLEN];
	pid_t pids[PROCS];

	mk_net_ipam_free(p);
	for (int i = 0; i < PROCS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct mk_net_ipam *c = NULL;
			struct mk_error *e = NULL;
			char ip[MK_NET_IP_STRLEN], owner[32];
			if (mk_net_ipam_open(path, "10.244.4.0/24", &c, &e) < 0)
				_exit(10);
			for (int k = 0; k < PER; k++) {
				snprintf(owner, sizeof(owner), "p%d-o%d", i, k);
				if (mk_net_ipam_allocate(c, owner, ip, &e) < 0)
					_exit(11);
				if (k % 10 == 5 && mk_net_ipam_allocate(c, "shared", ip, &e) < 0)
					_exit(12);
			}
			mk_net_ipam_free(c);
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++) {
		int st = 0;
		ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d status %d", i, st);
	}
	p = open_ipam("10.244.4.0/24");
	struct mk_net_ipam_entry *e = NULL;
	size_t n = 0;
	ck_ok(mk_net_ipam_list(p, &e, &n, &err), &err);
	ck_assert_uint_eq(n, PROCS * PER + 1);
	for (size_t i = 1; i < n; i++) /* address order, strictly increasing: unique */
		ck_assert_int_lt(inet_network(e[i - 1].ip), inet_network(e[i].ip));
	for (int i = 0; i < PROCS; i++)
		for (int k = 0; k < PER; k++) {
			char owner[32], ip[MK_NET_IP_STRLEN];
			snprintf(owner, sizeof(owner), "p%d-o%d", i, k);
			ck_assert_int_eq(mk_net_ipam_lookup(p, owner, ip, &err), 1);
		}
	ck_assert_int_eq(mk_net_ipam_lookup(p, "shared", shared_ip, &err), 1);
	mk_net_ipam_entries_free(e, n);
	mk_net_ipam_free(p);
}
END_TEST

/* Threads of one handle (group commit: their changes share rewrites) and another
 * process at once: every allocation is unique and in the file when they return,
 * releases too. */
struct ipam_thread_arg {
	struct mk_net_ipam *p;
	int i, failures;
};

static void *ipam_thread(void *arg)
{
	struct ipam_thread_arg *t = arg;
	struct mk_error *e = NULL;
	char ip[MK_NET_IP_STRLEN], owner[32];
	for (int k = 0; k < 20; k++) {
		snprintf(owner, sizeof(owner), "t%d-o%d", t->i, k);
		if (mk_net_ipam_allocate(t->p, owner, ip, &e) < 0)
			t->failures++;
		mk_error_free(&e);
		if (k % 4 == 3) { /* every fourth released again at once */
			if (mk_net_ipam_release(t->p, owner, &e) != 1)
				t->failures++;
			mk_error_free(&e);
		}
	}
	return NULL;
}

START_TEST(test_ipam_threads)
{
	enum { THREADS = 12 };
	struct mk_net_ipam *p = open_ipam("10.244.6.0/23");
	struct mk_error *err = NULL;
	struct ipam_thread_arg args[THREADS];
	pthread_t th[THREADS];
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) { /* another process, its own handle, meanwhile */
		struct mk_net_ipam *c = NULL;
		struct mk_error *e = NULL;
		char ip[MK_NET_IP_STRLEN], owner[32];
		if (mk_net_ipam_open(path, "10.244.6.0/23", &c, &e) < 0)
			_exit(10);
		for (int k = 0; k < 40; k++) {
			snprintf(owner, sizeof(owner), "proc-o%d", k);
			if (mk_net_ipam_allocate(c, owner, ip, &e) < 0)
				_exit(11);
		}
		mk_net_ipam_free(c);
		_exit(0);
	}
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct ipam_thread_arg){ .p = p, .i = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, ipam_thread, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].failures, 0);
	}
	int st = 0;
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	mk_net_ipam_free(p);
	p = open_ipam("10.244.6.0/23"); /* what the file holds */
	struct mk_net_ipam_entry *e = NULL;
	size_t n = 0;
	ck_ok(mk_net_ipam_list(p, &e, &n, &err), &err);
	ck_assert_uint_eq(n, THREADS * 15 + 40);
	for (size_t i = 1; i < n; i++) /* address order, strictly increasing: unique */
		ck_assert_int_lt(inet_network(e[i - 1].ip), inet_network(e[i].ip));
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < 20; k++) {
			char owner[32], ip[MK_NET_IP_STRLEN];
			snprintf(owner, sizeof(owner), "t%d-o%d", i, k);
			ck_assert_int_eq(mk_net_ipam_lookup(p, owner, ip, &err), k % 4 != 3);
		}
	mk_net_ipam_entries_free(e, n);
	mk_net_ipam_free(p);
}
END_TEST

/* A large range fills and drains without quadratic cost and the index stays right
 * through many releases (backward-shift deletion). */
START_TEST(test_ipam_large_range)
{
	struct mk_net_ipam *p = open_ipam("10.250.0.0/22"); /* 1024 - network, gateway, broadcast */
	struct mk_error *err = NULL;
	char ip[MK_NET_IP_STRLEN], owner[32];

	for (int i = 0; i < 1021; i++) {
		snprintf(owner, sizeof(owner), "o%d", i);
		ck_ok(mk_net_ipam_allocate(p, owner, ip, &err), &err);
	}
	ck_assert_int_eq(mk_net_ipam_allocate(p, "extra", ip, &err), -1);
	ck_assert_int_eq(err->code, ENOSPC);
	mk_error_free(&err);
	for (int i = 0; i < 1021; i += 2) {
		snprintf(owner, sizeof(owner), "o%d", i);
		ck_assert_int_eq(mk_net_ipam_release(p, owner, &err), 1);
	}
	for (int i = 0; i < 1021; i++) {
		snprintf(owner, sizeof(owner), "o%d", i);
		ck_assert_int_eq(mk_net_ipam_lookup(p, owner, ip, &err), i % 2);
	}
	mk_net_ipam_free(p);
	p = open_ipam("10.250.0.0/22");
	snprintf(owner, sizeof(owner), "o%d", 1019);
	ck_assert_int_eq(mk_net_ipam_lookup(p, owner, ip, &err), 1);
	ck_assert_str_eq(ip, "10.250.3.253");
	mk_net_ipam_free(p);
}
END_TEST

Suite *ipam_suite(void)
{
	Suite *s = suite_create("ipam");
	TCase *tc = tcase_create("ipam");

	tcase_add_unchecked_fixture(tc, ipam_base_setup, ipam_base_teardown);
	tcase_add_checked_fixture(tc, ipam_setup, ipam_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ipam_basic);
	tcase_add_test(tc, test_ipam_bad_ranges);
	tcase_add_test(tc, test_ipam_exhaustion_and_wrap);
	tcase_add_test(tc, test_ipam_persistence);
	tcase_add_test(tc, test_ipam_processes);
	tcase_add_test(tc, test_ipam_threads);
	tcase_add_test(tc, test_ipam_large_range);
	suite_add_tcase(s, tc);
	return s;
}
