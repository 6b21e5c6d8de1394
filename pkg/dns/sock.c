/* Sockets in the node's network namespace: created on a short-lived thread that
 * joined it (mk_net_netns_run), so no thread of ours ever changes namespace.
 * Also the descriptor chores the server and the forwarder share: the eventfd
 * that stops a thread, closing a set of descriptors, and whole reads and writes
 * on a stream socket under a deadline (DNS over TCP). */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "internal.h"
#include "minik8s/net.h"

struct sock_args {
	int domain, type, fd;
};

static int make_socket(void *userdata, struct mk_error **err)
{
	struct sock_args *a = userdata;
	a->fd = socket(a->domain, a->type | SOCK_CLOEXEC, 0);
	if (a->fd < 0)
		return mk_error_errno(err, errno, "dns: socket");
	return 0;
}

int dns_socket(int netns_fd, int domain, int type, struct mk_error **err)
{
	struct sock_args a = { domain, type, -1 };
	if (netns_fd < 0) {
		if (make_socket(&a, err) < 0)
			return -1;
		return a.fd;
	}
	if (mk_net_netns_run(netns_fd, make_socket, &a, err) < 0)
		return -1;
	return a.fd;
}

int dns_eventfd(struct mk_error **err)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return mk_error_errno(err, errno, "dns: eventfd");
	return fd;
}

void dns_eventfd_kick(int evfd)
{
	uint64_t one = 1;
	if (evfd >= 0 && write(evfd, &one, sizeof(one)) < 0) {
		/* cannot happen on an eventfd below its maximum */
	}
}

void dns_close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Waits until fd is ready for ev (or hung up, or in error: the caller's next
 * read or write says which) before the deadline. */
static bool wait_fd(int fd, short ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = mk_time_mono_ns();
		if (now >= deadline)
			return false;
		struct pollfd p = { fd, ev, 0 };
		int r = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		return r == 1 && (p.revents & (ev | POLLHUP | POLLERR));
	}
}

bool dns_io_full(int fd, void *buf, size_t n, bool wr, uint64_t deadline)
{
	size_t done = 0;
	while (done < n) {
		if (!wait_fd(fd, wr ? POLLOUT : POLLIN, deadline))
			return false;
		ssize_t r = wr ? send(fd, (char *)buf + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT)
			       : recv(fd, (char *)buf + done, n - done, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return false;
		done += r;
	}
	return true;
}
