/* Attach: the client side of the shim's attach socket (include/minik8s/runtime.h).
 * The socket path can be longer than sun_path allows (state dir + a 64-byte id),
 * so both ends name it through /proc/self/fd/N of the container directory, the
 * way conmon does. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "internal.h"

int mk_runtime_attach_open(struct mk_runtime *rt, const char *id, int *ret_fd,
			   struct mk_error **err)
{
	struct sockaddr_un sa;
	_cleanup_close_ int dirfd = -1, fd = -1;

	if (!rt_id_valid(id))
		return mk_error_set(err, EINVAL, "invalid container id '%s'", id);
	_cleanup_free_ char *dir = rt_ctr_path(rt, id, NULL);
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return mk_error_errno(err, errno == ENOENT ? ENOENT : errno, "open '%s'", dir);
	rt_attach_sockaddr(dirfd, &sa);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mk_error_errno(err, errno, "attach socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		/* no socket: an older shim, or the container has exited */
		return mk_error_errno(err, (e == ENOENT || e == ECONNREFUSED) ? ENOENT : e,
				      "attach to container '%s'", id);
	}
	*ret_fd = fd;
	fd = -1;
	return 0;
}
