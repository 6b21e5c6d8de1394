/* Test helper: real etcd members; see server.h. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "minik8s/etcd.h"
#include "server.h"

bool etcd_test_outside_tests;

/* ck_assert_msg inside a test; outside (the runner starting the shared member)
 * a message and exit, which Check cannot report */
#define must(cond, ...)                                                                     \
	do {                                                                                \
		if (cond)                                                                   \
			break;                                                              \
		if (etcd_test_outside_tests) {                                              \
			fprintf(stderr, "etcd test helper: " __VA_ARGS__);                   \
			fprintf(stderr, "\n");                                              \
			exit(1);                                                            \
		}                                                                           \
		ck_abort_msg(__VA_ARGS__);                                                  \
	} while (0)

int etcd_test_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	must(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	must(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind: %s", strerror(errno));
	socklen_t len = sizeof(a);
	must(getsockname(fd, (struct sockaddr *)&a, &len) == 0, "getsockname: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void certs_make(struct etcd_test_cluster *cl)
{
	/* one CA; the members' certificate for 127.0.0.1; a client certificate */
	char *cmd = mk_strdup_printf(
		"set -e; cd '%s'; (K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
		"openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=etcd-test-ca;"
		"printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' >srv.ext;"
		"printf 'extendedKeyUsage=clientAuth\\n' >cli.ext;"
		"for w in srv cli; do openssl req $K -keyout $w.key -out $w.csr -subj /CN=etcd-$w;"
		" openssl x509 -req -in $w.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
		" -out $w.crt -days 2 -extfile $w.ext; done) >openssl.log 2>&1",
		cl->dir);
	int r = system(cmd);
	free(cmd);
	must(r == 0, "openssl could not make the test certificates");
	cl->ca = mk_strdup_printf("%s/ca.crt", cl->dir);
	cl->client_cert = mk_strdup_printf("%s/cli.crt", cl->dir);
	cl->client_key = mk_strdup_printf("%s/cli.key", cl->dir);
}

static void member_spawn(struct etcd_test_cluster *cl, int i)
{
	char name[16], data[512], log[512], listen_peer[64], initial[512] = "";
	snprintf(name, sizeof(name), "m%d", i);
	snprintf(data, sizeof(data), "%s/%s.etcd", cl->dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", cl->dir, name);
	snprintf(listen_peer, sizeof(listen_peer), "http://127.0.0.1:%d", cl->peer_port[i]);
	for (int k = 0; k < cl->n; k++) {
		size_t len = strlen(initial);
		snprintf(initial + len, sizeof(initial) - len, "%sm%d=http://127.0.0.1:%d",
			 k ? "," : "", k, cl->peer_port[k]);
	}
	char *srv_cert = mk_strdup_printf("%s/srv.crt", cl->dir);
	char *srv_key = mk_strdup_printf("%s/srv.key", cl->dir);
	const char *argv[32];
	int a = 0;
	argv[a++] = "etcd";
	argv[a++] = "--name";
	argv[a++] = name;
	argv[a++] = "--data-dir";
	argv[a++] = data;
	argv[a++] = "--listen-client-urls";
	argv[a++] = cl->client_url[i];
	argv[a++] = "--advertise-client-urls";
	argv[a++] = cl->client_url[i];
	argv[a++] = "--listen-peer-urls";
	argv[a++] = listen_peer;
	argv[a++] = "--initial-advertise-peer-urls";
	argv[a++] = listen_peer;
	argv[a++] = "--initial-cluster";
	argv[a++] = initial;
	argv[a++] = "--initial-cluster-token";
	argv[a++] = cl->dir; /* unique: members of other tests never join */
	/* slower than the defaults (100/1000 ms): the test machine is loaded, and a
	 * leader lost to a late heartbeat would make a test flaky, not stricter */
	argv[a++] = "--heartbeat-interval=250";
	argv[a++] = "--election-timeout=2500";
	if (cl->tls) {
		argv[a++] = "--cert-file";
		argv[a++] = srv_cert;
		argv[a++] = "--key-file";
		argv[a++] = srv_key;
		argv[a++] = "--trusted-ca-file";
		argv[a++] = cl->ca;
		argv[a++] = "--client-cert-auth";
	}
	argv[a] = NULL;
	pid_t pid = fork();
	must(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* never outlive the test process that started it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp("etcd", (char *const *)argv);
		_exit(127);
	}
	free(srv_cert);
	free(srv_key);
	cl->pid[i] = pid;
}

/* Waits until member i answers a read (a quorum read: the cluster has a leader). */
static void member_wait(struct etcd_test_cluster *cl, int i)
{
	const char *eps[] = { cl->client_url[i], NULL };
	struct mk_etcd_options o = { .endpoints = eps, .timeout_ms = 2000,
				     .cafile = cl->ca, .certfile = cl->client_cert,
				     .keyfile = cl->client_key };
	struct mk_etcd *c = NULL;
	must(mk_etcd_new(&o, &c, NULL) == 0, "etcd client");
	struct mk_error *err = NULL;
	int ok = 0;
	/* bounded: 60 s, generous for a loaded machine */
	for (int t = 0; t < 600 && !ok; t++) {
		mk_error_free(&err);
		int r = mk_etcd_get(c, "/health-probe", NULL, NULL, &err);
		if (r == 0 || mk_error_code(err) == ENOENT) {
			ok = 1;
			break;
		}
		int st;
		if (waitpid(cl->pid[i], &st, WNOHANG) == cl->pid[i]) {
			cl->pid[i] = 0;
			break;
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	mk_etcd_free(c);
	must(ok, "etcd member %d (%s) did not come up: %s (log %s/m%d.log)", i,
		      cl->client_url[i], err ? err->msg : "exited", cl->dir, i);
	mk_error_free(&err);
}

struct etcd_test_cluster *etcd_test_cluster_start(int n, bool tls)
{
	must(n >= 1 && n <= ETCD_TEST_MAX_MEMBERS, "%d members", n);
	struct etcd_test_cluster *cl = mk_malloc0(sizeof(*cl));
	cl->n = n;
	cl->tls = tls;
	cl->dir = mk_strdup("/tmp/mk-etcd-test.XXXXXX");
	must(mkdtemp(cl->dir), "mkdtemp: %s", strerror(errno));
	if (tls)
		certs_make(cl);
	for (int i = 0; i < n; i++) {
		cl->client_port[i] = etcd_test_free_port();
		cl->peer_port[i] = etcd_test_free_port();
		cl->client_url[i] = mk_strdup_printf("%s://127.0.0.1:%d", tls ? "https" : "http",
						     cl->client_port[i]);
		cl->endpoints[i] = cl->client_url[i];
	}
	for (int i = 0; i < n; i++)
		member_spawn(cl, i);
	for (int i = 0; i < n; i++)
		member_wait(cl, i);
	return cl;
}

void etcd_test_member_kill(struct etcd_test_cluster *cl, int i)
{
	if (cl->pid[i] > 0) {
		kill(cl->pid[i], SIGKILL);
		waitpid(cl->pid[i], NULL, 0);
	}
	cl->pid[i] = 0;
}

void etcd_test_member_restart(struct etcd_test_cluster *cl, int i)
{
	etcd_test_member_kill(cl, i);
	member_spawn(cl, i);
	member_wait(cl, i);
}

void etcd_test_cluster_stop(struct etcd_test_cluster *cl)
{
	if (!cl)
		return;
	for (int i = 0; i < cl->n; i++) {
		etcd_test_member_kill(cl, i);
		free(cl->client_url[i]);
	}
	if (cl->dir && !getenv("MK_ETCD_TEST_KEEP"))
		nftw(cl->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(cl->dir);
	free(cl->ca);
	free(cl->client_cert);
	free(cl->client_key);
	free(cl);
}
