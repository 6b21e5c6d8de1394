/* Health check node ports, as kube-proxy serves them: for every LoadBalancer
 * service with externalTrafficPolicy Local, an HTTP server on
 * spec.healthCheckNodePort of every node that answers
 *   200 {"service":{"namespace":NS,"name":NAME},"localEndpoints":N,"serviceProxyHealthy":true}
 * when N (the ready endpoints on this node) > 0, 503 with the same body
 * otherwise, so that an external balancer sends traffic only to nodes that
 * keep it. One thread, poll() over the listening sockets; each request is read
 * (bounded in size and time) and answered, then the connection is closed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "internal.h"

#define HC_MAX 4096		/* services with a health check port per node */
#define HC_READ_MS 1000		/* a client gets this long to send its request */

struct hc_svc {
	char *key;
	uint16_t port;
	size_t count;
	int fd;
};

struct proxy_health {
	struct mk_proxy_options opts; /* netns for the sockets (borrowed strings) */
	pthread_mutex_t mu;	      /* guards v, n */
	struct hc_svc *v;
	size_t n, cap;
	int wakefd;
	bool stop;
	pthread_t th;
	bool started;
};

struct listen_args {
	uint16_t port;
	int fd;
};

static int open_listener(void *arg)
{
	struct listen_args *a = arg;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(a->port) };
	int one = 1;
	a->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (a->fd < 0)
		return -1;
	setsockopt(a->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(a->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(a->fd, 64) < 0) {
		int e = errno;
		close(a->fd);
		a->fd = -1;
		errno = e;
		return -1;
	}
	return 0;
}

static void answer(int cfd, const char *key, size_t count)
{
	char req[2048];
	size_t got = 0;
	uint64_t end = mk_time_mono_ms() + HC_READ_MS;
	/* read the request head (its content does not matter, as in kube-proxy) */
	while (got < sizeof(req) - 1) {
		uint64_t now = mk_time_mono_ms();
		if (now >= end)
			return;
		struct pollfd pfd = { .fd = cfd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			return;
		ssize_t n = recv(cfd, req + got, sizeof(req) - 1 - got, 0);
		if (n <= 0)
			return;
		got += (size_t)n;
		req[got] = 0;
		if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
			break;
	}
	const char *slash = strchr(key, '/');
	int nslen = slash ? (int)(slash - key) : 0;
	const char *name = slash ? slash + 1 : key;
	char body[512], head[256];
	int bl = snprintf(body, sizeof(body),
			  "{\"service\":{\"namespace\":\"%.*s\",\"name\":\"%s\"},\"localEndpoints\":%zu,"
			  "\"serviceProxyHealthy\":true}\n",
			  nslen, key, name, count);
	int hl = snprintf(head, sizeof(head),
			  "HTTP/1.1 %s\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
			  "Content-Length: %d\r\nConnection: close\r\n\r\n",
			  count ? "200 OK" : "503 Service Unavailable", bl);
	if (send(cfd, head, (size_t)hl, MSG_NOSIGNAL) == hl)
		(void)!send(cfd, body, (size_t)bl, MSG_NOSIGNAL);
}

static void *health_main(void *arg)
{
	struct proxy_health *h = arg;
	for (;;) {
		pthread_mutex_lock(&h->mu);
		if (h->stop) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		size_t n = h->n;
		struct pollfd *pfd = mk_malloc0((n + 1) * sizeof(*pfd));
		pfd[0] = (struct pollfd){ .fd = h->wakefd, .events = POLLIN };
		for (size_t i = 0; i < n; i++)
			pfd[i + 1] = (struct pollfd){ .fd = h->v[i].fd, .events = POLLIN };
		pthread_mutex_unlock(&h->mu);
		int r = poll(pfd, n + 1, -1);
		if (r < 0 && errno != EINTR) {
			free(pfd);
			break;
		}
		if (pfd[0].revents) {
			uint64_t v;
			(void)!read(h->wakefd, &v, sizeof(v));
		}
		for (size_t i = 0; r > 0 && i < n; i++) {
			if (!(pfd[i + 1].revents & POLLIN))
				continue;
			int cfd = accept4(pfd[i + 1].fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0)
				continue;
			/* the count and key as they are now (the list may have changed) */
			char *key = NULL;
			size_t count = 0;
			pthread_mutex_lock(&h->mu);
			for (size_t j = 0; j < h->n; j++)
				if (h->v[j].fd == pfd[i + 1].fd) {
					key = mk_strdup(h->v[j].key);
					count = h->v[j].count;
				}
			pthread_mutex_unlock(&h->mu);
			if (key)
				answer(cfd, key, count);
			free(key);
			close(cfd);
		}
		free(pfd);
	}
	return NULL;
}

struct proxy_health *proxy_health_new(const struct mk_proxy_options *opts, struct mk_error **err)
{
	struct proxy_health *h = mk_malloc0(sizeof(*h));
	h->opts = *opts;
	pthread_mutex_init(&h->mu, NULL);
	h->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->wakefd < 0) {
		mk_error_errno(err, errno, "eventfd");
		proxy_health_free(h);
		return NULL;
	}
	if (pthread_create(&h->th, NULL, health_main, h)) {
		mk_error_set(err, EAGAIN, "health check thread");
		proxy_health_free(h);
		return NULL;
	}
	h->started = true;
	return h;
}

static void wake(struct proxy_health *h)
{
	uint64_t one = 1;
	(void)!write(h->wakefd, &one, sizeof(one));
}

int proxy_health_set(struct proxy_health *h, const char *key, uint16_t port, size_t count,
		     struct mk_error **err)
{
	int ret = 0;
	pthread_mutex_lock(&h->mu);
	size_t i;
	for (i = 0; i < h->n; i++)
		if (!strcmp(h->v[i].key, key))
			break;
	if (i < h->n && (port == 0 || h->v[i].port != port)) {
		close(h->v[i].fd);
		free(h->v[i].key);
		h->v[i] = h->v[--h->n];
		i = h->n;
	}
	if (port && i == h->n) {
		struct listen_args a = { .port = port, .fd = -1 };
		if (h->n >= HC_MAX) {
			ret = mk_error_set(err, ENOSPC, "more than %d health check ports", HC_MAX);
		} else if (proxy_in_netns(&h->opts, open_listener, &a, err) < 0) {
			if (!err || !*err)
				mk_error_errno(err, errno, "listen on health check port %u", port);
			ret = -1;
		} else {
			MK_GROW(h->v, h->cap, h->n + 1);
			h->v[h->n++] = (struct hc_svc){ .key = mk_strdup(key), .port = port, .fd = a.fd };
		}
	}
	if (port && i < h->n)
		h->v[i].count = count;
	pthread_mutex_unlock(&h->mu);
	wake(h);
	return ret;
}

void proxy_health_free(struct proxy_health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_mutex_unlock(&h->mu);
	if (h->wakefd >= 0)
		wake(h);
	if (h->started)
		pthread_join(h->th, NULL);
	for (size_t i = 0; i < h->n; i++) {
		close(h->v[i].fd);
		free(h->v[i].key);
	}
	free(h->v);
	if (h->wakefd >= 0)
		close(h->wakefd);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
