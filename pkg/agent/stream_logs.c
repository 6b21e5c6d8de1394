/* GET /containerLogs/NS/POD/CONTAINER: the container's CRI log files (the
 * rotated container.log.1, then container.log) turned back into the bytes the
 * container wrote, like kubelet's ReadLogs: "F" lines end with a newline, "P"
 * lines continue; timestamps=true prefixes each line with its time (RFC 3339
 * with nanoseconds, trailing zeros dropped, as Go's RFC3339Nano that kubelet
 * prints); tailLines counts log lines from the end; sinceSeconds / sinceTime
 * skip lines written before that time (after the tail is taken, as kubelet's
 * ReadLogs); limitBytes ends the stream after that many bytes. With
 * follow=true the stream continues as the container writes (inotify on the
 * container directory, rotation followed by inode) and ends once the container
 * has exited and its log is drained, or when the client goes away. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include "stream_internal.h"

#define READ_CHUNK (64 * 1024)
#define MAX_LINE (1024 * 1024) /* a longer unterminated line is passed through raw */

struct log_stream {
	struct mk_agent_stream *srv;
	char *path, *rotated, *exit_path;
	int fd;		/* file being read */
	bool reading_rotated;
	ino_t cur_ino;	/* inode of container.log when we opened it */
	struct mk_buf line;
	struct mk_buf out;
	size_t out_off;
	bool follow, timestamps;
	bool line_start; /* the next record starts a line (the last was not "P") */
	int64_t since_ns; /* skip records older than this (ns since the epoch); 0: none */
	int64_t limit;	/* bytes left; -1: unlimited */
	int inotify;
	int client_fd;
	bool done;
};

static void log_stream_free(void *cls)
{
	struct log_stream *ls = cls;

	if (!ls)
		return;
	if (ls->fd >= 0)
		close(ls->fd);
	if (ls->inotify >= 0)
		close(ls->inotify);
	mk_buf_release(&ls->line);
	mk_buf_release(&ls->out);
	struct mk_agent_stream *s = ls->srv;
	free(ls->path);
	free(ls->rotated);
	free(ls->exit_path);
	free(ls);
	if (s)
		stream_session_put(s);
}

/* An RFC 3339 time with an optional fraction (up to 9 digits) in ns since the
 * epoch; -1 when malformed. */
int64_t stream_time_parse_ns(const char *s, size_t len)
{
	char buf[64];

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	time_t t = mk_time_parse(buf);
	if (t == (time_t)-1)
		return -1;
	int64_t ns = 0;
	const char *dot = strchr(buf, '.');
	if (dot) {
		int digits = 0;
		for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				ns = ns * 10 + (*p - '0');
		for (; digits < 9; digits++)
			ns *= 10;
	}
	return (int64_t)t * 1000000000 + ns;
}

/* Go's RFC3339Nano, which kubelet prints, drops trailing zeros of the fraction
 * (and the dot when nothing is left): of a "...Z" time t[0..len), *ret_head bytes
 * before the zone are printed, then the zone from the returned offset. Other
 * forms are printed whole. */
size_t stream_time_trim_nano(const char *t, size_t len, size_t *ret_head)
{
	const char *dot = len ? memchr(t, '.', len) : NULL;

	*ret_head = len;
	if (!dot || t[len - 1] != 'Z')
		return len;
	size_t z = len - 1, head = z, frac = (size_t)(dot - t) + 1;
	while (head > frac && t[head - 1] == '0')
		head--;
	if (head == frac)
		head--; /* only zeros: no fraction at all */
	*ret_head = head;
	return z;
}

/* One file line (without '\n') to output bytes. */
static void emit_line(struct log_stream *ls, const char *l, size_t len)
{
	struct mk_runtime_log_line pl;
	struct mk_error *e = NULL;

	if (mk_runtime_log_line_parse(l, len, &pl, &e) < 0) {
		/* not CRI (a log written by something else): pass it through */
		mk_error_free(&e);
		if (ls->since_ns)
			return; /* no time to compare: kubelet skips what it cannot parse */
		mk_buf_append(&ls->out, l, len);
		mk_buf_append(&ls->out, "\n", 1);
		return;
	}
	if (ls->since_ns) {
		int64_t t = stream_time_parse_ns(pl.time, pl.time_len);
		if (t < ls->since_ns)
			return;
	}
	if (ls->timestamps && ls->line_start) {
		size_t head, zone = stream_time_trim_nano(pl.time, pl.time_len, &head);
		mk_buf_append(&ls->out, pl.time, head);
		mk_buf_append(&ls->out, pl.time + zone, pl.time_len - zone);
		mk_buf_append(&ls->out, " ", 1);
	}
	mk_buf_append(&ls->out, pl.content, pl.content_len);
	if (!pl.partial)
		mk_buf_append(&ls->out, "\n", 1);
	ls->line_start = !pl.partial;
}

/* Splits data into lines, emitting complete ones; keeps the rest in ls->line. */
static void feed(struct log_stream *ls, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		if (!nl) {
			mk_buf_append(&ls->line, data, len);
			if (ls->line.len > MAX_LINE) {
				mk_buf_append(&ls->out, ls->line.data, ls->line.len);
				ls->line.len = 0;
			}
			return;
		}
		size_t n = (size_t)(nl - data);
		if (ls->line.len) {
			mk_buf_append(&ls->line, data, n);
			emit_line(ls, ls->line.data, ls->line.len);
			ls->line.len = 0;
		} else {
			emit_line(ls, data, n);
		}
		data += n + 1;
		len -= n + 1;
	}
}

static int open_current(struct log_stream *ls, off_t offset)
{
	struct stat st;
	int fd = open(ls->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || lseek(fd, offset, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	if (ls->fd >= 0)
		close(ls->fd);
	ls->fd = fd;
	ls->cur_ino = st.st_ino;
	ls->reading_rotated = false;
	return 0;
}

/* Reads what is there. Returns 1 if bytes were read, 0 at the end of the
 * current file (nothing more for now), -1 on errors. */
static int read_some(struct log_stream *ls)
{
	char buf[READ_CHUNK];

	for (;;) {
		if (ls->fd < 0) {
			if (open_current(ls, 0) < 0)
				return errno == ENOENT ? 0 : -1;
		}
		ssize_t n = read(ls->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n > 0) {
			feed(ls, buf, (size_t)n);
			return 1;
		}
		if (ls->reading_rotated) {
			/* the rotated file is done: on to the current one */
			close(ls->fd);
			ls->fd = -1;
			ls->reading_rotated = false;
			continue;
		}
		/* end of the current file: was it rotated away meanwhile? */
		struct stat st;
		if (stat(ls->path, &st) == 0 && st.st_ino != ls->cur_ino) {
			close(ls->fd);
			ls->fd = -1;
			continue;
		}
		return 0;
	}
}

/* Number of bytes at the end of data[0..len) holding its last *n lines; *n is
 * decremented by the lines found (to continue in an older file). */
static size_t tail_bytes(const char *data, size_t len, long *n)
{
	size_t i = len;

	if (*n <= 0 || len == 0)
		return 0;
	/* a final line without its newline (being written) counts as a line */
	if (data[i - 1] == '\n')
		i--;
	for (; i > 0; i--) {
		if (data[i - 1] == '\n' && --(*n) == 0)
			return len - i;
	}
	(*n)--; /* the file's first line */
	return len;
}

/* Positions the stream at the start of the last n lines of rotated+current. */
static int seek_tail(struct log_stream *ls, long n)
{
	_cleanup_free_ char *cur = NULL, *rot = NULL;
	size_t cur_len = 0, rot_len = 0;
	struct mk_error *e = NULL;

	if (open_current(ls, 0) < 0) {
		if (errno == ENOENT)
			return 0;
		return -1;
	}
	if (mk_fs_read_file(ls->path, &cur, &cur_len, &e) < 0) {
		mk_error_free(&e);
		return -1;
	}
	long left = n;
	size_t keep = n == 0 ? 0 : tail_bytes(cur, cur_len, &left);
	if (left > 0 && mk_fs_read_file(ls->rotated, &rot, &rot_len, &e) == 0) {
		size_t rkeep = tail_bytes(rot, rot_len, &left);
		feed(ls, rot + rot_len - rkeep, rkeep);
	}
	mk_error_free(&e);
	if (lseek(ls->fd, (off_t)(cur_len - keep), SEEK_SET) < 0)
		return -1;
	return 0;
}

static bool client_gone(struct log_stream *ls)
{
	struct pollfd p = { .fd = ls->client_fd, .events = POLLRDHUP };
	if (ls->client_fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Waits for the log to change, the client to leave or a second to pass. */
static void wait_change(struct log_stream *ls)
{
	struct pollfd p[2] = { { .fd = ls->inotify, .events = POLLIN },
			       { .fd = ls->client_fd, .events = POLLRDHUP } };
	char buf[4096];

	if (poll(p, 2, 1000) > 0 && (p[0].revents & POLLIN))
		while (read(ls->inotify, buf, sizeof(buf)) > 0)
			;
}

static ssize_t log_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct log_stream *ls = cls;

	/* limitBytes reached: the end (returning 0 bytes would have MHD call again) */
	if (ls->limit == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	while (ls->out_off >= ls->out.len) {
		ls->out.len = 0;
		ls->out_off = 0;
		if (ls->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		int r = read_some(ls);
		if (r < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (r > 0)
			continue;
		if (!ls->follow) {
			ls->done = true;
			continue;
		}
		/* follow: the container's exit is recorded after its last log line */
		if (access(ls->exit_path, F_OK) == 0) {
			while ((r = read_some(ls)) > 0)
				;
			ls->done = true;
			continue;
		}
		pthread_mutex_lock(&ls->srv->lock);
		bool stopping = ls->srv->stopping;
		pthread_mutex_unlock(&ls->srv->lock);
		if (stopping || client_gone(ls))
			return MHD_CONTENT_READER_END_WITH_ERROR;
		wait_change(ls);
	}
	size_t n = ls->out.len - ls->out_off;
	if (n > max)
		n = max;
	if (ls->limit >= 0 && (int64_t)n > ls->limit)
		n = (size_t)ls->limit;
	memcpy(buf, ls->out.data + ls->out_off, n);
	ls->out_off += n;
	if (ls->limit >= 0)
		ls->limit -= (int64_t)n;
	return (ssize_t)n;
}

static bool parse_int_arg(struct MHD_Connection *conn, const char *key, long *ret, bool *set)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
	char *end;

	*set = false;
	if (!v || !*v)
		return true;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (errno || *end)
		return false;
	*ret = x;
	*set = true;
	return true;
}

/* The query of a log request, checked as kube-apiserver's PodLogOptions validation. */
struct log_query {
	bool previous, follow, timestamps;
	long tail;	  /* tailLines; -1: all */
	long limit;	  /* limitBytes; -1: none */
	int64_t since_ns; /* sinceSeconds or sinceTime; 0: from the start */
};

/* sinceSeconds or sinceTime as ns since the epoch (at least 1) in q; -1 with rep
 * filled when malformed. */
static int since_parse(struct MHD_Connection *conn, struct log_query *q, struct stream_reply *rep)
{
	long since_s = 0;
	bool since_s_set;
	const char *since_time = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sinceTime");
	if (!parse_int_arg(conn, "sinceSeconds", &since_s, &since_s_set) ||
	    (since_s_set && since_s < 1)) {
		stream_reply_status(rep, 400, "invalid sinceSeconds: must be greater than 0");
		return -1;
	}
	if (since_time && *since_time && since_s_set) {
		stream_reply_status(rep, 400,
				    "at most one of `sinceTime` or `sinceSeconds` may be specified");
		return -1;
	}
	if (since_s_set) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		q->since_ns = ((int64_t)now.tv_sec - since_s) * 1000000000 + now.tv_nsec;
		if (q->since_ns <= 0)
			q->since_ns = 1;
	} else if (since_time && *since_time) {
		q->since_ns = stream_time_parse_ns(since_time, strlen(since_time));
		if (q->since_ns < 0) {
			stream_reply_status(rep, 400, "invalid sinceTime \"%.64s\": not an RFC 3339 time",
					    since_time);
			return -1;
		}
		if (q->since_ns == 0)
			q->since_ns = 1;
	}
	return 0;
}

static int log_query_parse(struct MHD_Connection *conn, struct log_query *q,
			   struct stream_reply *rep)
{
	bool tail_set, limit_set;
	*q = (struct log_query){ .tail = -1, .limit = -1 };
	q->previous = stream_arg_bool(conn, "previous");
	/* a previous instance has exited: never wait for it */
	q->follow = stream_arg_bool(conn, "follow") && !q->previous;
	q->timestamps = stream_arg_bool(conn, "timestamps");
	if (!parse_int_arg(conn, "tailLines", &q->tail, &tail_set) || (tail_set && q->tail < 0)) {
		stream_reply_status(rep, 400, "invalid tailLines: must be a non-negative integer");
		return -1;
	}
	if (!parse_int_arg(conn, "limitBytes", &q->limit, &limit_set) ||
	    (limit_set && q->limit < 1)) {
		stream_reply_status(rep, 400, "invalid limitBytes: must be greater than 0");
		return -1;
	}
	if (!tail_set)
		q->tail = -1;
	if (!limit_set)
		q->limit = -1;
	return since_parse(conn, q, rep);
}

/* The stream of container instance id's log; NULL with rep filled on failure. */
static struct log_stream *log_stream_new(struct stream_request *req, const char *id,
					 const struct log_query *q, struct stream_reply *rep)
{
	struct mk_agent_stream *s = req->srv;
	struct log_stream *ls = mk_malloc0(sizeof(*ls));
	ls->srv = s;
	ls->fd = -1;
	ls->inotify = -1;
	ls->client_fd = -1;
	mk_buf_init(&ls->line);
	mk_buf_init(&ls->out);
	ls->path = mk_runtime_container_log_path(s->rt, id);
	ls->rotated = mk_strdup_printf("%s.1", ls->path);
	_cleanup_free_ char *dir = mk_strdup(ls->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	ls->exit_path = mk_strdup_printf("%s/exit", dir);
	ls->follow = q->follow;
	if (ls->follow) {
		ls->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ls->inotify < 0 ||
		    inotify_add_watch(ls->inotify, dir,
				      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
			stream_reply_status(rep, 500, "inotify on '%s': %s", dir, strerror(errno));
			log_stream_free(ls);
			return NULL;
		}
	}
	ls->timestamps = q->timestamps;
	ls->line_start = true;
	ls->since_ns = q->since_ns;
	ls->limit = q->limit;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		ls->client_fd = ci->connect_fd;
	return ls;
}

/* Where the stream starts: tailLines back, or the whole log, the rotated file first. */
static int log_stream_seek(struct log_stream *ls, long tail)
{
	if (tail >= 0)
		return seek_tail(ls, tail);
	int r = open_current(ls, 0);
	if (r < 0 && errno == ENOENT)
		r = 0;
	int rfd = open(ls->rotated, O_RDONLY | O_CLOEXEC);
	if (rfd >= 0) {
		/* read the rotated file now, then continue with the current one */
		char buf[READ_CHUNK];
		ssize_t n;
		while ((n = read(rfd, buf, sizeof(buf))) > 0)
			feed(ls, buf, (size_t)n);
		close(rfd);
	}
	return r;
}

void stream_logs_handle(struct stream_request *req, struct stream_reply *rep)
{
	struct mk_agent_stream *s = req->srv;
	_cleanup_free_ char *cur = NULL, *prev = NULL;
	struct mk_error *err = NULL;
	struct log_query q;

	if (log_query_parse(req->conn, &q, rep) < 0)
		return;
	if (s->resolve(s->resolve_userdata, req->ns, req->pod, req->container, &cur, &prev, &err) < 0) {
		stream_reply_status(rep, err->code == ENOENT ? 404 : 500, "%s", err->msg);
		mk_error_free(&err);
		return;
	}
	const char *id = q.previous ? prev : cur;
	if (!id) {
		if (q.previous)
			stream_reply_status(rep, 400,
					    "previous terminated container \"%s\" in pod \"%s\" not found",
					    req->container, req->pod);
		else
			stream_reply_status(rep, 400,
					    "container \"%s\" in pod \"%s\" is waiting to start",
					    req->container, req->pod);
		return;
	}
	if (!stream_session_get(s, rep))
		return;
	struct log_stream *ls = log_stream_new(req, id, &q, rep);
	if (!ls)
		return;
	if (log_stream_seek(ls, q.tail) < 0) {
		stream_reply_status(rep, 500, "read log of container \"%s\": %s", req->container,
				    strerror(errno));
		log_stream_free(ls);
		return;
	}
	rep->resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, log_reader, ls,
						      log_stream_free);
	if (!rep->resp) {
		log_stream_free(ls);
		return;
	}
	rep->code = 200;
	MHD_add_response_header(rep->resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
}
