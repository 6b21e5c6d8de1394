/* Shared by the plain-libc TCP benchmarks (bench/overlay/tput.c,
 * bench/proxy/connrate.c): the monotonic clock in seconds, and a server that
 * accepts connections one at a time and hands each to a function.
 * Header-only: the Makefile builds every bench/<name>/<file>.c as a program of its
 * own; plain libc, since these run inside the namespaces of pods. */
#ifndef MINIK8S_BENCH_SOCK_H
#define MINIK8S_BENCH_SOCK_H

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Listens on 0.0.0.0:port and calls handle on each accepted connection (handle
 * closes it). Returns 1 (after perror, prefixed by who) only on an error. */
static inline int bench_serve(int port, int backlog, const char *who, void (*handle)(int c))
{
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, backlog) < 0) {
		perror(who);
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("accept");
			return 1;
		}
		handle(c);
	}
}

#endif
