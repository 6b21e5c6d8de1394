/* Network sysctls. /proc/sys/net shows the network namespace of the thread that
 * looks the file up, so reads and writes happen on a thread inside the target
 * namespace (mk_net_netns_run). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include "internal.h"

struct sysctl_op {
	const char *key;
	const char *value; /* write if not NULL */
	char *result;	   /* read result, owned */
};

static int check_key(const char *key, struct mk_error **err)
{
	if (!key || strncmp(key, "net/", 4) || strstr(key, "..") || strstr(key, "//") ||
	    strlen(key) > 200 || strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					     "0123456789_-./@") != strlen(key))
		return mk_error_set(err, EINVAL, "invalid network sysctl '%s'", key ? key : "");
	return 0;
}

static int sysctl_fn(void *userdata, struct mk_error **err)
{
	struct sysctl_op *op = userdata;
	_cleanup_free_ char *path = mk_strdup_printf("/proc/sys/%s", op->key);
	_cleanup_close_ int fd = -1;
	char buf[4096];
	ssize_t n;

	if (op->value) {
		size_t len = strlen(op->value);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return mk_error_errno(err, errno, "open '%s'", path);
		n = write(fd, op->value, len);
		if (n < 0)
			return mk_error_errno(err, errno, "write '%s' to '%s'", op->value, path);
		if ((size_t)n != len)
			return mk_error_set(err, EIO, "short write to '%s'", path);
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mk_error_errno(err, errno, "open '%s'", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return mk_error_errno(err, errno, "read '%s'", path);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	op->result = mk_strdup(buf);
	return 0;
}

int mk_net_sysctl_write(int netns_fd, const char *key, const char *value,
			struct mk_error **err)
{
	struct sysctl_op op = { .key = key, .value = value };

	if (check_key(key, err) < 0)
		return -1;
	if (!value)
		return mk_error_set(err, EINVAL, "no value for sysctl '%s'", key);
	if (netns_fd < 0)
		return sysctl_fn(&op, err);
	return mk_net_netns_run(netns_fd, sysctl_fn, &op, err);
}

int mk_net_sysctl_read(int netns_fd, const char *key, char **ret_value, struct mk_error **err)
{
	struct sysctl_op op = { .key = key };
	int r;

	if (check_key(key, err) < 0)
		return -1;
	r = netns_fd < 0 ? sysctl_fn(&op, err) : mk_net_netns_run(netns_fd, sysctl_fn, &op, err);
	if (r < 0)
		return -1;
	*ret_value = op.result;
	return 0;
}
