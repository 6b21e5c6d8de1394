#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include "minik8s/util.h"
#include "testserver.h"

static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void serve_conn(struct ts *t, int c)
{
	char buf[32768];
	size_t have = 0;
	for (;;) {
		char *end;
		while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
			struct pollfd p = { .fd = c, .events = POLLIN };
			if (poll(&p, 1, 10000) <= 0)
				return;
			ssize_t r = recv(c, buf + have, sizeof(buf) - 1 - have, 0);
			if (r <= 0)
				return;
			have += (size_t)r;
			buf[have] = '\0';
		}
		size_t hlen = (size_t)(end - buf) + 4;
		size_t clen = 0;
		char *cl = strcasestr(buf, "\r\ncontent-length:");
		if (cl && cl < end)
			clen = strtoul(cl + 17, NULL, 10);
		while (have < hlen + clen) {
			ssize_t r = recv(c, buf + have, sizeof(buf) - 1 - have, 0);
			if (r <= 0)
				return;
			have += (size_t)r;
		}
		char method[16] = "", target[4096] = "";
		sscanf(buf, "%15s %4095s", method, target);
		snprintf(t->last_target, sizeof(t->last_target), "%s", target);
		snprintf(t->last_headers, sizeof(t->last_headers), "%.*s", (int)hlen, buf);
		snprintf(t->last_body, sizeof(t->last_body), "%.*s", (int)clen, buf + hlen);
		struct ts_reply rep = { .status = 200, .content_type = "application/json" };
		t->handler(t, method, target, t->last_headers, t->last_body, &rep);
		__atomic_fetch_add(&t->requests, 1, __ATOMIC_SEQ_CST);
		struct mk_buf out;
		mk_buf_init(&out);
		mk_buf_printf(&out, "HTTP/1.1 %d X\r\nContent-Type: %s\r\n", rep.status,
			      rep.content_type);
		if (rep.chunked) {
			mk_buf_puts(&out, "Transfer-Encoding: chunked\r\n\r\n");
			bool ok = write_all(c, out.data, out.len);
			mk_buf_release(&out);
			for (const char *const *ch = rep.chunks; ok && ch && *ch; ch++) {
				char hdr[32];
				snprintf(hdr, sizeof(hdr), "%zx\r\n", strlen(*ch));
				ok = write_all(c, hdr, strlen(hdr)) && write_all(c, *ch, strlen(*ch)) &&
				     write_all(c, "\r\n", 2);
				if (rep.delay_ms)
					usleep((useconds_t)rep.delay_ms * 1000);
			}
			if (!ok)
				return;
			if (rep.hold_open) {
				/* until the client goes away (bounded) */
				struct pollfd p = { .fd = c, .events = POLLIN };
				for (int i = 0; i < 200; i++) {
					if (poll(&p, 1, 100) > 0) {
						char x[256];
						if (recv(c, x, sizeof(x), 0) <= 0)
							return;
					}
				}
				return;
			}
			write_all(c, "0\r\n\r\n", 5);
		} else {
			struct mk_buf body;
			mk_buf_init(&body);
			for (const char *const *ch = rep.chunks; ch && *ch; ch++)
				mk_buf_puts(&body, *ch);
			mk_buf_printf(&out, "Content-Length: %zu\r\n\r\n", body.len);
			if (body.len)
				mk_buf_append(&out, body.data, body.len);
			bool ok = write_all(c, out.data, out.len);
			mk_buf_release(&out);
			mk_buf_release(&body);
			if (!ok)
				return;
		}
		memmove(buf, buf + hlen + clen, have - hlen - clen);
		have -= hlen + clen;
	}
}

struct conn {
	struct ts *t;
	int fd;
};

static void *conn_main(void *p)
{
	struct conn *cn = p;
	serve_conn(cn->t, cn->fd);
	close(cn->fd);
	__atomic_fetch_sub(&cn->t->active, 1, __ATOMIC_SEQ_CST);
	free(cn);
	return NULL;
}

static void *run(void *p)
{
	struct ts *t = p;
	for (;;) {
		int c = accept(t->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		__atomic_fetch_add(&t->connections, 1, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&t->active, 1, __ATOMIC_SEQ_CST);
		struct conn *cn = mk_malloc0(sizeof(*cn));
		cn->t = t;
		cn->fd = c;
		pthread_t th;
		pthread_create(&th, NULL, conn_main, cn);
		pthread_detach(th);
	}
}

void ts_start(struct ts *t, ts_handler h, void *userdata)
{
	memset(t, 0, sizeof(*t));
	t->handler = h;
	t->userdata = userdata;
	t->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (bind(t->fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(t->fd, 8) < 0 ||
	    getsockname(t->fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	t->port = ntohs(a.sin_port);
	pthread_create(&t->th, NULL, run, t);
}

void ts_stop(struct ts *t)
{
	shutdown(t->fd, SHUT_RDWR);
	close(t->fd);
	pthread_join(t->th, NULL);
	/* connection threads end when their clients leave (bounded by poll timeouts) */
	for (int i = 0; i < 300 && __atomic_load_n(&t->active, __ATOMIC_SEQ_CST) > 0; i++)
		usleep(100000);
}

char *ts_url(struct ts *t)
{
	return mk_strdup_printf("http://127.0.0.1:%d", t->port);
}
