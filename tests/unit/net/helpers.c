#include <arpa/inet.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include "helpers.h"

char g_run_dir[256];
char g_tmp[200];

void net_fixture_setup(void)
{
	strcpy(g_tmp, "/tmp/mk-net-test.XXXXXX");
	if (!mkdtemp(g_tmp))
		abort();
	snprintf(g_run_dir, sizeof(g_run_dir), "%s/netns", g_tmp);
	/* echo servers of a test that dies are re-parented here, not to PID 1
	 * (which does not reap), so the teardown can kill and reap them */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(p);
	return 0;
}

/* Between test cases the runner has no test child left: whatever child we still
 * have is an orphan of a crashed test. */
static void reap_orphans(void)
{
	char path[64], buf[4096];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "re");
	if (!f)
		return;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n")) {
		pid_t pid = (pid_t)atoi(tok);
		if (pid > 0 && kill(pid, SIGKILL) == 0)
			waitpid(pid, NULL, 0);
	}
}

void net_fixture_teardown(void)
{
	char **names = NULL;
	struct mk_error *err = NULL;

	if (mk_net_netns_list(g_run_dir, &names, NULL, &err) == 0) {
		for (char **p = names; *p; p++)
			mk_net_netns_delete(g_run_dir, *p, NULL);
		mk_strv_free(names);
	}
	mk_error_free(&err);
	mk_net_netns_dir_unmount(g_run_dir, NULL);
	reap_orphans();
	nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int make_netns(const char *prefix, char name_out[64])
{
	static int seq;
	struct mk_error *err = NULL;
	int fd = -1;

	snprintf(name_out, 64, "%s-%d-%d", prefix, (int)getpid(), seq++);
	ck_ok(mk_net_netns_create(g_run_dir, name_out, &fd, &err), &err);
	return fd;
}

struct mk_net_sock *open_sock(int ns_fd)
{
	struct mk_net_sock *s = NULL;
	struct mk_error *err = NULL;

	ck_ok(mk_net_sock_open(ns_fd, &s, &err), &err);
	return s;
}

static void echo_child(int ns_fd, const char *ip, int port, int ready_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct pollfd pfd;
	char buf[64];
	int one = 1, ls, c;
	ssize_t n;

	alarm(10); /* never outlive the test */
	if (setns(ns_fd, CLONE_NEWNET) < 0)
		_exit(2);
	inet_pton(AF_INET, ip, &sa.sin_addr);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4) < 0)
		_exit(3);
	if (write(ready_fd, "r", 1) != 1)
		_exit(4);
	close(ready_fd);
	for (;;) {
		pfd = (struct pollfd){ .fd = ls, .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0)
			_exit(5);
		c = accept(ls, NULL, NULL);
		if (c < 0)
			_exit(6);
		n = read(c, buf, sizeof(buf));
		if (n > 0 && write(c, buf, (size_t)n) != n)
			_exit(7);
		close(c);
	}
}

pid_t echo_server_start(int ns_fd, const char *ip, int port)
{
	int p[2];
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		echo_child(ns_fd, ip, port, p[1]);
		_exit(0);
	}
	close(p[1]);
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, 5000) == 1 && read(p[0], &c, 1) == 1,
		      "echo server on %s:%d did not start", ip, port);
	close(p[0]);
	return pid;
}

void echo_server_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

struct probe {
	const char *ip;
	int port, timeout_ms, result;
};

static int probe_fn(void *userdata, struct mk_error **err)
{
	struct probe *p = userdata;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->port) };
	struct pollfd pfd;
	char buf[16] = { 0 };
	int fd, e = 0;
	socklen_t el = sizeof(e);
	ssize_t n;

	inet_pton(AF_INET, p->ip, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		p->result = errno;
		return 0;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		p->result = errno;
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pfd, 1, p->timeout_ms) != 1) {
		p->result = ETIMEDOUT;
		goto out;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
	if (e) {
		p->result = e;
		goto out;
	}
	if (write(fd, "mk-ping", 7) != 7) {
		p->result = errno;
		goto out;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, p->timeout_ms) != 1) {
		p->result = ETIMEDOUT;
		goto out;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	p->result = (n == 7 && !strcmp(buf, "mk-ping")) ? 0 : EPROTO;
out:
	close(fd);
	return 0;
}

int tcp_probe(int ns_fd, const char *ip, int port, int timeout_ms)
{
	struct probe p = { .ip = ip, .port = port, .timeout_ms = timeout_ms, .result = -1 };
	struct mk_error *err = NULL;

	ck_ok(mk_net_netns_run(ns_fd, probe_fn, &p, &err), &err);
	return p.result;
}
