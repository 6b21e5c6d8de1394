/* Writing to non-blocking connections (util.h, "io"): the one write-all loop and
 * the one "flush what the socket takes" loop of the project. The transport is a
 * "send some" function, so a plain socket and a libcurl CONNECT_ONLY handle (TLS
 * to a node agent, kubectl exec's upgraded connection: mk_io_curl_send in
 * pkg/client, which links libcurl; pkg/util does not) share them. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include "minik8s/util.h"

int mk_io_sock_send(void *ctx, const void *data, size_t len, size_t *ret_n)
{
	int fd = *(const int *)ctx;

	for (;;) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return MK_IO_AGAIN;
		if (n <= 0)
			return -1;
		*ret_n = (size_t)n;
		return 0;
	}
}

int mk_io_write_all(mk_io_send_fn send_some, void *ctx, int fd, const void *data, size_t len,
		    int timeout_ms)
{
	const char *p = data;

	while (len) {
		size_t n = 0;
		int r = send_some(ctx, p, len, &n);
		if (r == MK_IO_AGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, timeout_ms) <= 0)
				return -1;
			continue;
		}
		if (r < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int mk_io_flush(mk_io_send_fn send_some, void *ctx, struct mk_buf *b, size_t *off)
{
	while (*off < b->len) {
		size_t n = 0;
		int r = send_some(ctx, b->data + *off, b->len - *off, &n);
		if (r == MK_IO_AGAIN)
			break;
		if (r < 0)
			return -1;
		*off += n;
	}
	if (*off == b->len)
		b->len = *off = 0;
	return 0;
}
