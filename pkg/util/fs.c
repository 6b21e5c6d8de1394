#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
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
static int write_file(const char *path, const void *data, size_t len, mode_t mode, bool sync,
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
	if ((sync && fsync(fd) < 0) || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		return mk_error_errno(err, e, "write '%s'", path);
	}
	if (!sync)
		return 0;
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

int mk_fs_write_file(const char *path, const void *data, size_t len, mode_t mode,
		     struct mk_error **err)
{
	return write_file(path, data, len, mode, true, err);
}

/* The same rename, without the fsyncs: readers never see a partial file, but a
 * crash of the machine may lose it. */
int mk_fs_write_file_nosync(const char *path, const void *data, size_t len, mode_t mode,
			    struct mk_error **err)
{
	return write_file(path, data, len, mode, false, err);
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

/* The holder's pid written in a lock file, or 0 when unreadable. */
static pid_t lock_file_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	long v = strtol(buf, NULL, 10);
	return v > 0 && v < (1L << 22) ? (pid_t)v : 0;
}

/* flock(2), not fcntl locks: the lock belongs to the open file description, so
 * threads of this process cannot lose it by closing another descriptor of the
 * file, and the kernel drops it when the process dies however it dies, so a
 * crash never leaves a stale lock behind (only a stale pid in the file). */
int mk_fs_dir_lock(const char *dir, const char *what, int *ret_fd, struct mk_error **err)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/lock", dir);
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

	if (fd < 0)
		return mk_error_errno(err, errno, "open '%s'", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e != EWOULDBLOCK)
			return mk_error_errno(err, e, "lock '%s'", path);
		pid_t holder = lock_file_pid(fd);
		if (holder)
			return mk_error_set(err, EBUSY, "%s %s is in use by pid %d", what, dir,
					    (int)holder);
		return mk_error_set(err, EBUSY, "%s %s is in use by another process", what, dir);
	}
	char line[32];
	int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)n, 0) != n)
		return mk_error_errno(err, errno, "write '%s'", path);
	*ret_fd = fd;
	fd = -1;
	return 0;
}

/* The lock's holder from /proc/locks (by device and inode), which only reads: a
 * probe with flock(LOCK_SH) would hold the lock for a moment and could make a
 * starting server fail. */
pid_t mk_fs_dir_lock_holder(const char *dir)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/lock", dir);
	_cleanup_fclose_ FILE *f = NULL;
	struct stat st;
	char line[256];

	if (stat(path, &st) < 0 || !(f = fopen("/proc/locks", "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char type[16], mode[16];
		unsigned maj, min;
		unsigned long long ino;
		int pid;
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (hex major:minor) */
		if (sscanf(line, "%*d: %15s %*s %15s %d %x:%x:%llu", type, mode, &pid, &maj, &min,
			   &ino) != 6 || strcmp(type, "FLOCK") || strcmp(mode, "WRITE"))
			continue;
		if (ino == (unsigned long long)st.st_ino && maj == major(st.st_dev) &&
		    min == minor(st.st_dev) && pid > 0)
			return (pid_t)pid;
	}
	return 0;
}
