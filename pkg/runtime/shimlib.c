/* Helpers of the runtime that the minik8s-shim binary links too
 * (cmd/minik8s-shim): libc only, so the shim stays a small executable that
 * needs nothing of the agent's libraries. The agent's side of the package uses
 * the same functions from libminik8s.a. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include "internal.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

char *rt_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort(); /* out of memory, as mk_malloc0 */
	return s;
}

char *rt_file_read(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *data = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			char *d = realloc(data, cap);
			if (!d)
				abort();
			data = d;
		}
		ssize_t n = read(fd, data + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(data);
			return NULL;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	return data;
}

int rt_file_write_atomic(const char *path, const char *data, size_t len, bool durable)
{
	_cleanup_free_ char *tmp = rt_strdup_printf("%s.tmp.XXXXXX", path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) < 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if ((durable && fsync(fd) < 0) || rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:;
	int e = errno;
	unlink(tmp);
	errno = e;
	return -1;
}

int64_t rt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t rt_read_i64(const char *path)
{
	_cleanup_free_ char *data = rt_file_read(path);
	char *end;
	long long v;

	if (!data)
		return 0;
	errno = 0;
	v = strtoll(data, &end, 10);
	if (errno || end == data)
		return 0;
	return v;
}


unsigned long long rt_proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long st = 0;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and parentheses: fields start after the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	/* p is at the space before field 3 (state); each step moves to the space
	 * before the next field: 19 steps reach the one before starttime (22) */
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st;
}


int rt_recv_fd(int sock)
{
	char data[256];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	ssize_t n;
	int fd = -1;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *fds = (int *)CMSG_DATA(c);
		for (size_t i = 0; i < nfds; i++) {
			if (fd < 0)
				fd = fds[i];
			else
				close(fds[i]); /* only one is expected */
		}
	}
	if (fd < 0)
		errno = EBADMSG;
	return fd;
}

int rt_attach_sockaddr(int dirfd, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/attach", dirfd);
	return 0;
}


char *rt_cgroup_oom_file(pid_t pid)
{
	char path[64];
	struct statfs sf;
	bool v2 = statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *data = rt_file_read(path);
	if (!data)
		return NULL;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "hierarchy-ID:controllers:path" */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || strstr(c2 + 1, ".."))
			continue;
		*c2 = '\0';
		const char *ctrls = c1 + 1, *cg = c2 + 1;
		if (v2 && !strcmp(line, "0") && !*ctrls)
			return rt_strdup_printf("/sys/fs/cgroup%s/memory.events", cg);
		if (!v2) {
			_cleanup_free_ char *cs = rt_strdup_printf("%s", ctrls);
			char *s2 = NULL;
			for (char *t = strtok_r(cs, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
				if (!strcmp(t, "memory"))
					return rt_strdup_printf(
					    "/sys/fs/cgroup/memory%s/memory.oom_control", cg);
		}
	}
	return NULL;
}

int64_t rt_cgroup_oom_kills(const char *file)
{
	_cleanup_free_ char *data = file ? rt_file_read(file) : NULL;
	if (!data)
		return -1;
	char *save = NULL;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long long v;
		if (sscanf(line, "oom_kill %lld", &v) == 1)
			return v;
	}
	return -1;
}

int rt_log_open(struct rt_log *l, const char *path, size_t max)
{
	struct stat st;

	memset(l, 0, sizeof(*l));
	l->path = rt_strdup_printf("%s", path);
	l->path_old = rt_strdup_printf("%s.1", path);
	l->max = max < 4096 ? 4096 : max;
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -1;
	l->size = fstat(l->fd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

void rt_log_close(struct rt_log *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->path);
	free(l->path_old);
	l->path = l->path_old = NULL;
}

static void rotate(struct rt_log *l)
{
	/* rename first so a reader never sees the current file vanish without a
	 * successor for long: the new file is created right after */
	if (rename(l->path, l->path_old) < 0)
		return;
	int fd = open(l->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return;
	close(l->fd);
	l->fd = fd;
	l->size = 0;
}

static void write_record(struct rt_log *l, int stream, bool partial, const char *data, size_t len)
{
	char ts[64];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(ts + n, sizeof(ts) - n, ".%09ldZ %s %s ", now.tv_nsec,
			      stream ? "stderr" : "stdout", partial ? "P" : "F");
	size_t total = n + len + 1;
	if (l->size > 0 && l->size + total > l->max)
		rotate(l);
	struct iovec iov[3] = { { ts, n }, { (void *)data, len }, { "\n", 1 } };
	/* one writev per record: readers see whole records, the file is O_APPEND */
	ssize_t w;
	do
		w = writev(l->fd, iov, 3);
	while (w < 0 && errno == EINTR);
	if (w > 0)
		l->size += (size_t)w;
}

void rt_log_feed(struct rt_log *l, int stream, const char *data, size_t len)
{
	struct rt_log_stream *s = &l->streams[stream ? 1 : 0];

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (s->len + take >= sizeof(s->buf)) {
			/* longer than a record may be: emit a partial record */
			size_t room = sizeof(s->buf) - s->len;
			memcpy(s->buf + s->len, data, room);
			write_record(l, stream, true, s->buf, sizeof(s->buf));
			s->len = 0;
			data += room;
			len -= room;
			continue;
		}
		memcpy(s->buf + s->len, data, take);
		s->len += take;
		data += take;
		len -= take;
		if (nl) {
			size_t n = s->len;
			if (n > 0 && s->buf[n - 1] == '\r')
				n--; /* a tty's CRLF */
			write_record(l, stream, false, s->buf, n);
			s->len = 0;
			data++;
			len--;
		}
	}
}

void rt_log_flush(struct rt_log *l, int stream)
{
	struct rt_log_stream *s = &l->streams[stream ? 1 : 0];
	if (s->len > 0)
		write_record(l, stream, false, s->buf, s->len);
	s->len = 0;
}

