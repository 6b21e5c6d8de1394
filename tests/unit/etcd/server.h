/* Test helper: real etcd members (Debian's etcd-server) on 127.0.0.1 free ports, data
 * in a temp dir of their own, stopped by PID. A cluster of 1 or 3 members, plain or
 * TLS (client certificates required). */
#ifndef MK_TEST_ETCD_SERVER_H
#define MK_TEST_ETCD_SERVER_H

#include <stdbool.h>
#include <sys/types.h>

#define ETCD_TEST_MAX_MEMBERS 3

/* set while no test runs (the helpers then exit with a message on failure) */
extern bool etcd_test_outside_tests;

struct etcd_test_cluster {
	int n;
	char *dir;		/* temp dir: member data dirs, logs, certificates */
	bool tls;
	pid_t pid[ETCD_TEST_MAX_MEMBERS];
	int client_port[ETCD_TEST_MAX_MEMBERS], peer_port[ETCD_TEST_MAX_MEMBERS];
	char *client_url[ETCD_TEST_MAX_MEMBERS];
	const char *endpoints[ETCD_TEST_MAX_MEMBERS + 1]; /* NULL-terminated client URLs */
	/* TLS: files under dir */
	char *ca, *client_cert, *client_key;
};

/* Starts n members (1..3) and waits until each answers; aborts the test on failure.
 * tls: https client URLs, certificates made with openssl under dir. */
struct etcd_test_cluster *etcd_test_cluster_start(int n, bool tls);
/* Kills member i (SIGKILL) and reaps it. */
void etcd_test_member_kill(struct etcd_test_cluster *cl, int i);
/* Starts member i again on its data dir and ports, and waits until it answers. */
void etcd_test_member_restart(struct etcd_test_cluster *cl, int i);
/* Kills every member, removes dir, frees cl. Accepts NULL. */
void etcd_test_cluster_stop(struct etcd_test_cluster *cl);
/* A 127.0.0.1 TCP port nobody listens on right now. */
int etcd_test_free_port(void);

#endif
