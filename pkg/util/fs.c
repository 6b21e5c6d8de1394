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

/* The temp file gets a unique name (mkostemp), so threads or processes writing the
 * same path at once do not truncate each other's temp file; the directory is
 * fsynced after the rename so the new name survives a crash too. */
int mk_fs_write_file(const char *path, const void *data, size_t len, mode_t mode,
		     struct mk_error **err)
{
	_cleanup_free_ char *tmp = mk_strdup_printf("%s.tmp.XXXXXX", path);
	_cleanup_free_ char *dir = mk_strdup(path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	_cleanup_close_ int dfd = -1;
	size_t off = 0;
	char *slash;
	int e;

	if (fd < 0)
		return mk_error_errno(err, errno, "create temporary file for '%s'", path);
	if (fchmod(fd, mode) < 0) {
		e = errno;
		unlink(tmp);
		return mk_error_errno(err, e, "chmod '%s'", tmp);
	}
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			unlink(tmp);
			return mk_error_errno(err, e, "write '%s'", tmp);
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		return mk_error_errno(err, e, "write '%s'", path);
	}
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0)
		return mk_error_errno(err, errno, "sync directory of '%s'", path);
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
