/* connrate: new TCP connections per second, for the proxy data-path benchmark.
 *   connrate serve PORT            accept, close, repeat (server closes first)
 *   connrate client IP PORT MS     sequential connect + wait for EOF + close,
 *                                  for MS milliseconds; prints "conns/s N"
 *   connrate compare SLICES MS IP:PORT...
 *                                  the targets in turn, MS milliseconds each, SLICES
 *                                  times over: on a busy machine the load drifts, and
 *                                  interleaving gives every target the same share of
 *                                  it; prints "conns/s N" per target and its ratio to
 *                                  the first. A target IP:PORT@DIR runs its slices
 *                                  with this process moved into cgroup2 directory DIR
 *                                  (sockets take the cgroup they are created in: the
 *                                  socket LB's programs apply or not, slice by slice)
 * Plain libc: runs inside `ip netns exec`. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "../lib/sock.h"

/* the server closes first */
static void close_conn(int c)
{
	close(c);
}

/* connect, wait for the server's EOF, close with RST; until `end` */
static void run_until(const struct sockaddr_in *a, double end, long *n, long *fails)
{
	while (bench_now() < end) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		struct linger lg = { 1, 0 }; /* RST on close: no TIME_WAIT pile-up */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(c, (const struct sockaddr *)a, sizeof(*a)) == 0) {
			char b;
			if (read(c, &b, 1) == 0)
				(*n)++;
			else
				(*fails)++;
		} else {
			(*fails)++;
		}
		close(c);
		if (*fails > 1000)
			break;
	}
}

static int client(const char *ip, int port, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return 2;
	long n = 0, fails = 0;
	double t0 = bench_now();
	run_until(&a, t0 + ms / 1000.0, &n, &fails);
	double dt = bench_now() - t0;
	printf("conns/s %.0f (%ld in %.2fs, %ld failed)\n", n / dt, n, dt, fails);
	return fails > n / 100 ? 1 : 0;
}

#define MAX_TARGETS 8

/* moves this process into cgroup2 directory dir (NULL: stay) */
static int enter_cgroup(const char *dir)
{
	if (!dir)
		return 0;
	char path[512];
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = fprintf(f, "%d\n", (int)getpid()) > 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int compare(int slices, int ms, int nt, char **targets)
{
	struct sockaddr_in a[MAX_TARGETS];
	const char *cg[MAX_TARGETS] = { 0 };
	long n[MAX_TARGETS] = { 0 }, fails[MAX_TARGETS] = { 0 };
	double busy[MAX_TARGETS] = { 0 };
	if (nt < 1 || nt > MAX_TARGETS || slices < 1 || ms < 1)
		return 2;
	for (int i = 0; i < nt; i++) {
		char ip[64];
		char *at = strchr(targets[i], '@');
		if (at) {
			cg[i] = at + 1;
			*at = '\0';
		}
		const char *colon = strrchr(targets[i], ':');
		if (!colon || (size_t)(colon - targets[i]) >= sizeof(ip))
			return 2;
		memcpy(ip, targets[i], colon - targets[i]);
		ip[colon - targets[i]] = 0;
		a[i] = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(atoi(colon + 1)) };
		if (inet_pton(AF_INET, ip, &a[i].sin_addr) != 1)
			return 2;
	}
	for (int s = 0; s < slices; s++)
		for (int i = 0; i < nt; i++) {
			if (enter_cgroup(cg[i]) < 0) {
				fprintf(stderr, "connrate: cannot enter cgroup '%s'\n", cg[i]);
				return 2;
			}
			double t0 = bench_now();
			run_until(&a[i], t0 + ms / 1000.0, &n[i], &fails[i]);
			busy[i] += bench_now() - t0;
		}
	int rc = 0;
	for (int i = 0; i < nt; i++) {
		double r = n[i] / busy[i], r0 = n[0] / busy[0];
		const char *base = cg[i] && strrchr(cg[i], '/') ? strrchr(cg[i], '/') + 1 : cg[i];
		printf("%s%s%s conns/s %.0f (%ld in %.2fs, %ld failed) ratio %.1f %%\n", targets[i],
		       base ? "@" : "", base ? base : "", r, n[i], busy[i], fails[i],
		       r0 > 0 ? 100 * r / r0 : 0);
		if (fails[i] > n[i] / 100)
			rc = 1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return bench_serve(atoi(argv[2]), 4096, "connrate serve", close_conn);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "compare"))
		return compare(atoi(argv[2]), atoi(argv[3]), argc - 4, argv + 4);
	fprintf(stderr, "usage: connrate serve PORT | connrate client IP PORT MS | "
			"connrate compare SLICES MS IP:PORT...\n");
	return 2;
}
