#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include "minik8s/util.h"

int mk_fs_mkdir_p(const char *path, mode_t mode, struct mk_error **err)
{
	_cleanup_free_ char *p = mk_strdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return mk_error_errno(err, errno, "mkdir '%s'", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return mk_error_errno(err, errno, "mkdir '%s'", p);
	return 0;
}

int mk_fs_write_file(const char *path, const void *data, size_t len, mode_t mode,
		     struct mk_error **err)
{
	_cleanup_free_ char *tmp = mk_strdup_printf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t off = 0;

	if (fd < 0)
		return mk_error_errno(err, errno, "open '%s'", tmp);
	if (fchmod(fd, mode) < 0)
		return mk_error_errno(err, errno, "chmod '%s'", tmp);
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			unlink(tmp);
			return mk_error_errno(err, e, "write '%s'", tmp);
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return mk_error_errno(err, e, "write '%s'", path);
	}
	return 0;
}

int mk_fs_read_file(const char *path, char **ret_data, size_t *ret_len, struct mk_error **err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct mk_buf b;
	char chunk[65536];

	if (fd < 0)
		return mk_error_errno(err, errno, "open '%s'", path);
	mk_buf_init(&b);
	mk_buf_append(&b, "", 0);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			mk_buf_release(&b);
			return mk_error_errno(err, e, "read '%s'", path);
		}
		if (n == 0)
			break;
		mk_buf_append(&b, chunk, (size_t)n);
	}
	if (ret_len)
		*ret_len = b.len;
	*ret_data = mk_buf_steal(&b);
	return 0;
}
