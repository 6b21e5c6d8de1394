/* Container logs in the CRI format the kubelet writes and `kubectl logs` reads:
 *   TIMESTAMP STREAM TAG CONTENT
 * with TIMESTAMP RFC 3339 with nanoseconds, STREAM stdout|stderr and TAG "F" for a
 * full line or "P" for a partial one (a line longer than the buffer, continued in
 * the next record). https://github.com/kubernetes/design-proposals-archive/blob/main/node/kubelet-cri-logging.md
 * The writer runs in the shim; the file is rotated at a size cap, one old file
 * (container.log.1) kept. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include "internal.h"

int rt_log_open(struct rt_log *l, const char *path, size_t max)
{
	struct stat st;

	memset(l, 0, sizeof(*l));
	l->path = mk_strdup(path);
	l->path_old = mk_strdup_printf("%s.1", path);
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

int mk_runtime_log_line_parse(const char *line, size_t len, struct mk_runtime_log_line *ret,
			      struct mk_error **err)
{
	const char *end = line + len, *p, *sp;
	struct mk_runtime_log_line r = { 0 };

	if (len > 0 && line[len - 1] == '\n')
		end--;
	sp = memchr(line, ' ', (size_t)(end - line));
	if (!sp || sp == line)
		return mk_error_set(err, EINVAL, "log line: no timestamp");
	r.time = line;
	r.time_len = (size_t)(sp - line);
	p = sp + 1;
	if (end - p >= 7 && !memcmp(p, "stdout ", 7))
		r.is_stderr = false;
	else if (end - p >= 7 && !memcmp(p, "stderr ", 7))
		r.is_stderr = true;
	else
		return mk_error_set(err, EINVAL, "log line: bad stream");
	p += 7;
	if (end - p < 1 || (*p != 'F' && *p != 'P'))
		return mk_error_set(err, EINVAL, "log line: bad tag");
	r.partial = *p == 'P';
	p++;
	if (p < end) {
		if (*p != ' ')
			return mk_error_set(err, EINVAL, "log line: bad tag");
		p++;
	}
	r.content = p;
	r.content_len = (size_t)(end - p);
	*ret = r;
	return 0;
}
