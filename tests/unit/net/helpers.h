/* Shared fixtures for the net tests: a private netns run dir under /tmp, swept
 * by the parent (unchecked teardown) even when a forked test crashes. */
#ifndef NET_TEST_HELPERS_H
#define NET_TEST_HELPERS_H

#include <check.h>
#include <errno.h>
#include "minik8s/net.h"

extern char g_tmp[200];     /* temp dir of the test case, removed by the teardown */
extern char g_run_dir[256]; /* TMP/netns, set by net_fixture_setup */

/* unchecked fixtures (parent): temp run dir; sweep every namespace left in it,
 * unmount it, kill orphaned children, remove TMP */
void net_fixture_setup(void);
void net_fixture_teardown(void);

/* A namespace NAME-PID-SEQ created in g_run_dir; returns its fd (test fails on
 * error). Deleted by the sweep if the test does not. */
int make_netns(const char *prefix, char name_out[64]);
/* Route socket in ns (fails the test on error). */
struct mk_net_sock *open_sock(int ns_fd);

/* Forks a child in ns_fd that accepts one TCP connection on ip:port and echoes
 * what it reads; returns once it listens. The child exits within 10 s anyway. */
pid_t echo_server_start(int ns_fd, const char *ip, int port);
void echo_server_stop(pid_t pid);
/* From a thread inside ns_fd, connects to ip:port, sends a message and checks the
 * echo. 0 on success, else an errno (ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH...). */
int tcp_probe(int ns_fd, const char *ip, int port, int timeout_ms);

#define ck_ok(expr, errp)                                                          \
	do {                                                                       \
		int _r = (expr);                                                   \
		ck_assert_msg(_r >= 0, "%s failed: %s", #expr,                     \
			      *(errp) ? (*(errp))->msg : "(no error)");            \
	} while (0)

#endif
