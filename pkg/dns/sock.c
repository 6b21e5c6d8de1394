/* Sockets in the node's network namespace: created on a short-lived thread that
 * joined it (mk_net_netns_run), so no thread of ours ever changes namespace. */
#include <errno.h>
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
