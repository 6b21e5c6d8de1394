/* tput: TCP bulk throughput, for the overlay benchmark (pod to pod across nodes).
 *   tput serve PORT            accept connections one at a time, read and discard
 *   tput client IP PORT MS     one connection, write 128 KiB buffers for MS ms;
 *                              prints "MB/s N" (10^6 bytes per second)
 * Plain libc: runs inside `nsenter --net=...` of a pod's namespace. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "../lib/sock.h"

#define BUF (128 * 1024)

/* read and discard until the client's EOF */
static void drain(int c)
{
	static char buf[BUF];

	while (read(c, buf, sizeof(buf)) > 0)
		;
	close(c);
}

static int client(const char *ip, int port, int ms)
{
	static char buf[BUF];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM, 0);
	double t0, end, sent = 0;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 || s < 0)
		return 2;
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("tput connect");
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	t0 = bench_now();
	end = t0 + ms / 1000.0;
	while (bench_now() < end) {
		ssize_t w = write(s, buf, sizeof(buf));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("tput write");
			return 1;
		}
		sent += (double)w;
	}
	printf("MB/s %.1f\n", sent / (bench_now() - t0) / 1e6);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return bench_serve(atoi(argv[2]), 16, "tput serve", drain);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: tput serve PORT | tput client IP PORT MS\n");
	return 2;
}
