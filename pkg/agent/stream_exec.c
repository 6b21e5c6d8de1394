/* GET /exec/NS/POD/CONTAINER and /attach/NS/POD/CONTAINER over WebSocket, in
 * any of the channel protocols (v5 down to channel.k8s.io, base64 too; see
 * minik8s/ws.h): the upgrade, then one thread per session relaying between the
 * frames and the exec'd process (pipes, or a pty with tty=true) or the
 * container's shim (attach: its stdin and the output it broadcasts), with
 * resize, stdin EOF, ping/pong, and at the end the status on channel 3 followed
 * by a close frame.
 *
 * Flow control: stdin bytes are written without blocking; while some are
 * pending we stop reading frames, so a process that does not read its stdin
 * slows the client down instead of filling our memory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include "stream_internal.h"

#define MAX_ARGS 1024
#define OUT_CHUNK (32 * 1024 - 1) /* one frame of output; kubectl's frame size */
#define CLOSE_WAIT_MS 5000

struct stream_exec {
	struct mk_agent_stream *srv;
	char *id, *container;
	char **argv;
	bool want_stdin, want_stdout, want_stderr, tty;
	enum mk_ws_proto proto;
	bool attach;   /* attach to the container's process instead of exec */
	int attach_fd; /* the shim's attach socket (seqpacket) */
	bool attach_eof_sent;

	/* running session */
	struct MHD_UpgradeResponseHandle *urh;
	int sock;
	int wake[2]; /* written to end the session (server stopping) */
	struct mk_buf in;  /* bytes from the client not parsed yet */
	struct mk_buf pending_stdin;
	size_t pending_off;
	bool stdin_eof; /* the client closed stdin: close it once pending is written */
	bool client_closed;
	struct mk_runtime_exec *e;
	struct stream_exec *next;
};

void stream_exec_free(struct stream_exec *x)
{
	if (!x)
		return;
	if (x->argv)
		for (char **a = x->argv; *a; a++)
			free(*a);
	free(x->argv);
	free(x->id);
	free(x->container);
	mk_buf_release(&x->in);
	mk_buf_release(&x->pending_stdin);
	if (x->wake[0] >= 0)
		close(x->wake[0]);
	if (x->wake[1] >= 0)
		close(x->wake[1]);
	if (x->attach_fd >= 0)
		close(x->attach_fd);
	free(x);
}

void stream_exec_cancel_all_locked(struct mk_agent_stream *s)
{
	for (struct stream_exec *x = s->execs; x; x = x->next)
		if (write(x->wake[1], "x", 1) < 0) {
			/* the pipe is full: it is being woken already */
		}
}

/* Writes all of data to the (non-blocking) socket; -1 when the peer is gone. */
static int sock_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, 30000) <= 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_channel(struct stream_exec *x, uint8_t ch, const void *data, size_t len)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_ws_proto_channel_append(&b, x->proto, ch, data, len, NULL);
	int r = sock_write_all(x->sock, b.data, b.len);
	mk_buf_release(&b);
	return r;
}

static int send_control(struct stream_exec *x, int opcode, const void *data, size_t len)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_ws_frame_append(&b, opcode, data, len, NULL);
	int r = sock_write_all(x->sock, b.data, b.len);
	mk_buf_release(&b);
	return r;
}

static int stdin_fd(struct stream_exec *x)
{
	if (x->attach)
		return x->attach_fd;
	return mk_runtime_exec_fd(x->e, x->tty ? MK_RUNTIME_EXEC_FD_PTY : MK_RUNTIME_EXEC_FD_STDIN);
}

/* Sends one message to the shim's attach socket; -1 with EAGAIN when full. */
static ssize_t attach_send(struct stream_exec *x, uint8_t type, const void *data, size_t len)
{
	char msg[MK_RUNTIME_ATTACH_MAX_MSG];

	if (len > sizeof(msg) - 1)
		len = sizeof(msg) - 1;
	msg[0] = (char)type;
	if (len)
		memcpy(msg + 1, data, len);
	ssize_t n;
	do
		n = send(x->attach_fd, msg, len + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : (ssize_t)len;
}

/* The shim closes a stdinOnce container's stdin when its attach client's stdin
 * ends: tell it once, at EOF or when the session ends. */
static void attach_stdin_eof(struct stream_exec *x)
{
	if (!x->attach || !x->want_stdin || x->attach_eof_sent || x->attach_fd < 0)
		return;
	x->attach_eof_sent = true;
	struct pollfd p = { .fd = x->attach_fd, .events = POLLOUT };
	if (attach_send(x, MK_RUNTIME_ATTACH_STDIN_EOF, NULL, 0) < 0 && errno == EAGAIN &&
	    poll(&p, 1, 1000) > 0)
		attach_send(x, MK_RUNTIME_ATTACH_STDIN_EOF, NULL, 0);
}

/* One complete frame from the client. Returns -1 when the session must end. */
static int handle_frame(struct stream_exec *x, struct mk_ws_frame *f, int *cur_channel)
{
	switch (f->opcode) {
	case MK_WS_OP_PING:
		return send_control(x, MK_WS_OP_PONG, f->payload, f->len);
	case MK_WS_OP_PONG:
		return 0;
	case MK_WS_OP_CLOSE:
		x->client_closed = true;
		return -1;
	case MK_WS_OP_TEXT:
	case MK_WS_OP_BINARY:
	case MK_WS_OP_CONT:
		break;
	}
	const uint8_t *p = f->payload;
	size_t len = f->len;
	_cleanup_free_ void *decoded = NULL;
	int ch;
	if (f->opcode == MK_WS_OP_CONT) {
		/* a continuation carries no channel byte; base64 messages are decoded
		 * whole, so fragments of them are not taken */
		if (mk_ws_proto_is_base64(x->proto))
			return 0;
		ch = *cur_channel;
	} else {
		uint8_t c;
		int r = mk_ws_proto_channel_decode(x->proto, f->payload, f->len, &c, &p, &len,
						   &decoded);
		if (r < 0) {
			mk_log(MK_LOG_DEBUG, "agent-stream", "exec: malformed %s message",
			       mk_ws_proto_name(x->proto));
			return -1;
		}
		if (r > 0)
			return 0;
		ch = c;
		*cur_channel = f->fin ? -1 : ch;
	}
	switch (ch) {
	case MK_WS_CH_STDIN:
		if (x->want_stdin && !x->stdin_eof && stdin_fd(x) >= 0)
			mk_buf_append(&x->pending_stdin, p, len);
		break;
	case MK_WS_CH_RESIZE: {
		unsigned short cols, rows;
		/* kubectl sends 0x0 when its own output is not a terminal */
		if (x->tty && mk_ws_resize_parse((const char *)p, len, &cols, &rows) == 0 && cols &&
		    rows) {
			struct mk_error *err = NULL;
			if (x->attach) {
				uint16_t rc[2] = { rows, cols };
				attach_send(x, MK_RUNTIME_ATTACH_RESIZE, rc, sizeof(rc));
			} else if (mk_runtime_exec_resize(x->e, rows, cols, &err) < 0) {
				mk_error_free(&err);
			}
		}
		break;
	}
	case MK_WS_CH_CLOSE:
		/* v5 only: older protocols have no channel 255. In tty mode kubectl
		 * sends ^D instead; a closed pty would hang up */
		if (x->proto == MK_WS_PROTO_V5 && len >= 1 && p[0] == MK_WS_CH_STDIN &&
		    (!x->tty || x->attach))
			x->stdin_eof = true;
		break;
	default:
		break;
	}
	return 0;
}

/* Parses and handles every complete frame in x->in. */
static int process_input(struct stream_exec *x, int *cur_channel)
{
	size_t off = 0;
	int r = 0;

	while (off < x->in.len) {
		struct mk_ws_frame f;
		struct mk_error *err = NULL;
		ssize_t n = mk_ws_frame_parse((uint8_t *)x->in.data + off, x->in.len - off,
					      MK_WS_MAX_PAYLOAD, 1, &f, &err);
		if (n < 0) {
			mk_log(MK_LOG_DEBUG, "agent-stream", "exec: %s", err->msg);
			mk_error_free(&err);
			r = -1;
			break;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (handle_frame(x, &f, cur_channel) < 0) {
			r = -1;
			break;
		}
	}
	memmove(x->in.data, x->in.data + off, x->in.len - off);
	x->in.len -= off;
	return r;
}

/* Writes pending stdin; closes stdin after EOF once everything is written. */
static void flush_stdin(struct stream_exec *x)
{
	int fd = stdin_fd(x);

	while (fd >= 0 && x->pending_off < x->pending_stdin.len) {
		ssize_t n = x->attach ? attach_send(x, MK_RUNTIME_ATTACH_STDIN,
						    x->pending_stdin.data + x->pending_off,
						    x->pending_stdin.len - x->pending_off)
				      : write(fd, x->pending_stdin.data + x->pending_off,
					      x->pending_stdin.len - x->pending_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* the process closed its stdin: drop the rest */
			x->pending_off = x->pending_stdin.len;
			break;
		}
		x->pending_off += (size_t)n;
	}
	x->pending_stdin.len = 0;
	x->pending_off = 0;
	if (x->stdin_eof && x->attach)
		attach_stdin_eof(x);
	else if (x->stdin_eof && !x->tty && fd >= 0)
		mk_runtime_exec_close_fd(x->e, MK_RUNTIME_EXEC_FD_STDIN);
}

/* Reads one chunk of output from fd and sends it on ch. 0 = sent, 2 = nothing
 * there, 1 = end of file, -1 = client gone. */
static int pump_output(struct stream_exec *x, int fd, uint8_t ch, bool want)
{
	char buf[OUT_CHUNK];
	ssize_t n;

	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 2;
	if (n <= 0) /* EOF, or EIO from a pty whose other side is closed */
		return 1;
	if (!want)
		return 0;
	return send_channel(x, ch, buf, (size_t)n) < 0 ? -1 : 0;
}

static void set_nonblock(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* After our close frame: wait a little for the client's, as RFC 6455 asks. */
static void await_close(struct stream_exec *x)
{
	uint64_t end = mk_time_mono_ns() + (uint64_t)CLOSE_WAIT_MS * 1000000;
	int cur = -1;

	while (!x->client_closed) {
		uint64_t now = mk_time_mono_ns();
		if (now >= end)
			break;
		struct pollfd p = { .fd = x->sock, .events = POLLIN };
		if (poll(&p, 1, (int)((end - now) / 1000000) + 1) <= 0)
			break;
		char buf[4096];
		ssize_t n = recv(x->sock, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		mk_buf_append(&x->in, buf, (size_t)n);
		x->pending_stdin.len = 0; /* ignore data now */
		x->stdin_eof = true;
		if (process_input(x, &cur) < 0)
			break;
	}
}

/* The error channel's message for a failure Status: the JSON for v4 and v5,
 * its message text for older protocols (kubelet's v1 status writer). */
static void send_failure(struct stream_exec *x, const char *reason, int code, const char *msg)
{
	if (!mk_ws_proto_status_json(x->proto)) {
		send_channel(x, MK_WS_CH_STATUS, msg, strlen(msg));
		return;
	}
	_cleanup_cjson_ cJSON *st = cJSON_CreateObject();
	cJSON_AddItemToObject(st, "metadata", cJSON_CreateObject());
	cJSON_AddStringToObject(st, "status", "Failure");
	cJSON_AddStringToObject(st, "message", msg);
	cJSON_AddStringToObject(st, "reason", reason);
	cJSON_AddNumberToObject(st, "code", code);
	_cleanup_cjson_str_ char *txt = cJSON_PrintUnformatted(st);
	send_channel(x, MK_WS_CH_STATUS, txt, strlen(txt));
}

static void send_exit_status(struct stream_exec *x, int exit_code)
{
	_cleanup_free_ char *st = mk_ws_proto_exit_status(x->proto, exit_code);
	if (st)
		send_channel(x, MK_WS_CH_STATUS, st, strlen(st));
}

/* Attach: relays between the client and the shim's attach socket until the
 * container's output ends (the shim closes the socket), then Success, as
 * kubelet reports a finished attach. */
static void run_attach(struct stream_exec *x)
{
	int cur_channel = -1;

	set_nonblock(x->sock);
	if (x->in.len && process_input(x, &cur_channel) < 0)
		goto end;
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = x->wake[0], .events = POLLIN },
			{ .fd = x->sock, .events = POLLIN },
			{ .fd = x->attach_fd, .events = POLLIN },
		};
		if (x->pending_off < x->pending_stdin.len) {
			p[1].events = 0; /* flow control: the shim takes stdin first */
			p[2].events |= POLLOUT;
		}
		int n = poll(p, 3, -1);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && p[0].revents)
			goto end;
		if (p[1].revents) {
			char buf[64 * 1024];
			ssize_t r = recv(x->sock, buf, sizeof(buf), 0);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				x->client_closed = true;
				goto end;
			}
			if (r > 0) {
				mk_buf_append(&x->in, buf, (size_t)r);
				if (process_input(x, &cur_channel) < 0)
					goto end;
			}
		}
		if (x->pending_off < x->pending_stdin.len || x->stdin_eof)
			flush_stdin(x);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			char msg[MK_RUNTIME_ATTACH_MAX_MSG];
			ssize_t r = recv(x->attach_fd, msg, sizeof(msg), MSG_DONTWAIT);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) { /* the container ended */
				send_exit_status(x, 0);
				break;
			}
			uint8_t type = (uint8_t)msg[0];
			bool want = type == MK_RUNTIME_ATTACH_STDOUT ? (x->want_stdout || x->tty)
				    : type == MK_RUNTIME_ATTACH_STDERR ? x->want_stderr
								       : false;
			if (want && r > 1 && send_channel(x, type, msg + 1, (size_t)r - 1) < 0)
				goto end;
		}
	}
	{
		static const uint8_t normal[2] = { 0x03, 0xe8 }; /* 1000 */
		if (send_control(x, MK_WS_OP_CLOSE, normal, sizeof(normal)) == 0)
			await_close(x);
	}
end:
	attach_stdin_eof(x);
}

static void run_session(struct stream_exec *x)
{
	struct mk_error *err = NULL;
	int cur_channel = -1, exit_code = -1;
	const char *const *args = (const char *const *)x->argv;
	struct mk_runtime_exec_spec spec = {
		.args = args,
		.tty = x->tty,
		.stdin = x->want_stdin,
	};

	if (x->attach) {
		run_attach(x);
		return;
	}
	set_nonblock(x->sock);
	if (mk_runtime_exec_start(x->srv->rt, x->id, &spec, &x->e, &err) < 0) {
		send_failure(x, "InternalError", 500, err->msg);
		mk_error_free(&err);
		goto close;
	}
	int out_fd = mk_runtime_exec_fd(x->e, x->tty ? MK_RUNTIME_EXEC_FD_PTY
						      : MK_RUNTIME_EXEC_FD_STDOUT);
	int err_fd = x->tty ? -1 : mk_runtime_exec_fd(x->e, MK_RUNTIME_EXEC_FD_STDERR);
	set_nonblock(out_fd);
	set_nonblock(err_fd);
	set_nonblock(stdin_fd(x));
	if (!x->want_stdin && !x->tty)
		mk_runtime_exec_close_fd(x->e, MK_RUNTIME_EXEC_FD_STDIN);
	bool out_open = out_fd >= 0, err_open = err_fd >= 0, exited = false;

	/* frames that arrived with the upgrade request */
	if (x->in.len && process_input(x, &cur_channel) < 0)
		goto end;
	for (;;) {
		struct pollfd p[5];
		int np = 0, i_sock = -1, i_out = -1, i_err = -1;
		bool pending = x->pending_off < x->pending_stdin.len;

		p[np] = (struct pollfd){ .fd = x->wake[0], .events = POLLIN };
		np++;
		if (!pending) {
			i_sock = np;
			p[np++] = (struct pollfd){ .fd = x->sock, .events = POLLIN };
		} else if (stdin_fd(x) >= 0) {
			p[np++] = (struct pollfd){ .fd = stdin_fd(x), .events = POLLOUT };
		}
		if (out_open) {
			i_out = np;
			p[np++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
		}
		if (err_open) {
			i_err = np;
			p[np++] = (struct pollfd){ .fd = err_fd, .events = POLLIN };
		}
		/* outputs closed: the process is ending, look for its exit often */
		int timeout = (out_open || err_open) ? 500 : 50;
		int n = poll(p, (nfds_t)np, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && p[0].revents)
			goto end; /* server stopping */
		if (i_sock >= 0 && p[i_sock].revents) {
			char buf[64 * 1024];
			ssize_t r = recv(x->sock, buf, sizeof(buf), 0);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				x->client_closed = true;
				goto end;
			}
			if (r > 0) {
				mk_buf_append(&x->in, buf, (size_t)r);
				if (process_input(x, &cur_channel) < 0)
					goto end;
			}
		}
		if (x->pending_off < x->pending_stdin.len || x->stdin_eof)
			flush_stdin(x);
		if (i_out >= 0 && p[i_out].revents) {
			int r = pump_output(x, out_fd, MK_WS_CH_STDOUT, x->want_stdout || x->tty);
			if (r < 0)
				goto end;
			if (r > 0)
				out_open = false;
		}
		if (i_err >= 0 && p[i_err].revents) {
			int r = pump_output(x, err_fd, MK_WS_CH_STDERR, x->want_stderr);
			if (r < 0)
				goto end;
			if (r > 0)
				err_open = false;
		}
		if (!exited && mk_runtime_exec_wait(x->e, 0, &exit_code, &err) == 0)
			exited = true;
		mk_error_free(&err);
		if (exited) {
			/* what the process wrote before it exited is in the pipes: send it,
			 * without waiting for descendants that keep them open */
			int r = 0;
			while (out_open && r == 0)
				if ((r = pump_output(x, out_fd, MK_WS_CH_STDOUT,
						     x->want_stdout || x->tty)) == 1)
					out_open = false;
			if (r < 0)
				goto end;
			r = 0;
			while (err_open && r == 0)
				if ((r = pump_output(x, err_fd, MK_WS_CH_STDERR, x->want_stderr)) == 1)
					err_open = false;
			if (r < 0)
				goto end;
			send_exit_status(x, exit_code);
			break;
		}
	}
close: {
	static const uint8_t normal[2] = { 0x03, 0xe8 }; /* 1000 */
	if (send_control(x, MK_WS_OP_CLOSE, normal, sizeof(normal)) == 0)
		await_close(x);
}
end:
	mk_runtime_exec_free(x->e); /* kills the process if it still runs */
	x->e = NULL;
}

static void *session_thread(void *arg)
{
	struct stream_exec *x = arg;
	struct mk_agent_stream *s = x->srv;

	run_session(x);
	MHD_upgrade_action(x->urh, MHD_UPGRADE_ACTION_CLOSE);
	pthread_mutex_lock(&s->lock);
	for (struct stream_exec **pp = &s->execs; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	stream_exec_free(x);
	stream_session_put(s);
	return NULL;
}

static void on_upgrade(void *cls, struct MHD_Connection *conn, void *con_cls,
		       const char *extra_in, size_t extra_in_size, MHD_socket sock,
		       struct MHD_UpgradeResponseHandle *urh)
{
	struct stream_request *req = con_cls;
	struct mk_agent_stream *s = cls;
	struct stream_exec *x = req ? TAKE_PTR(req->exec) : NULL;
	struct stream_reply dummy = { 0 };
	pthread_attr_t attr;
	pthread_t t;

	if (!x || !stream_session_get(s, &dummy)) {
		if (dummy.resp)
			MHD_destroy_response(dummy.resp);
		stream_exec_free(x);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	x->urh = urh;
	x->sock = sock;
	if (extra_in_size)
		mk_buf_append(&x->in, extra_in, extra_in_size);
	/* this runs in the connection's thread, which forwards the TLS bytes only
	 * after we return: the session needs a thread of its own */
	pthread_mutex_lock(&s->lock);
	x->next = s->execs;
	s->execs = x;
	pthread_mutex_unlock(&s->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, session_thread, x) != 0) {
		pthread_mutex_lock(&s->lock);
		s->execs = x->next;
		pthread_mutex_unlock(&s->lock);
		stream_exec_free(x);
		stream_session_put(s);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	}
	pthread_attr_destroy(&attr);
}

struct argv_collect {
	char **v;
	size_t n;
	bool too_many;
};

static enum MHD_Result collect_command(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	struct argv_collect *c = cls;

	if (strcmp(key, "command") || !value)
		return MHD_YES;
	if (c->n >= MAX_ARGS) {
		c->too_many = true;
		return MHD_NO;
	}
	c->v[c->n++] = mk_strdup(value);
	return MHD_YES;
}

void stream_exec_handle(struct stream_request *req, struct stream_reply *rep)
{
	struct mk_agent_stream *s = req->srv;
	struct MHD_Connection *conn = req->conn;
	const char *upgrade = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	const char *proto =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
	_cleanup_free_ char *cur = NULL, *prev = NULL;
	struct mk_error *err = NULL;

	const char *what = req->attach ? "attach" : "exec";
	if (!mk_ws_header_has_token(upgrade, "websocket", true) || !key) {
		stream_reply_status(rep, 400,
				    "%s needs a WebSocket upgrade with protocol %s (SPDY is not "
				    "supported)", what, MK_WS_PROTOCOL_V5);
		return;
	}
	int wsp = mk_ws_proto_select(proto);
	if (wsp < 0) {
		stream_reply_status(rep, 400,
				    "unsupported WebSocket subprotocol: served are %s, v4.channel.k8s.io, "
				    "v4.base64.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, "
				    "channel.k8s.io, base64.channel.k8s.io", MK_WS_PROTOCOL_V5);
		return;
	}
	struct stream_exec *x = mk_malloc0(sizeof(*x));
	x->srv = s;
	x->sock = -1;
	x->attach_fd = -1;
	x->wake[0] = x->wake[1] = -1;
	x->proto = (enum mk_ws_proto)wsp;
	x->attach = req->attach;
	mk_buf_init(&x->in);
	mk_buf_init(&x->pending_stdin);
	x->want_stdin = stream_arg_bool(conn, "stdin");
	x->want_stdout = stream_arg_bool(conn, "stdout");
	x->want_stderr = stream_arg_bool(conn, "stderr");
	x->tty = stream_arg_bool(conn, "tty");
	x->container = mk_strdup(req->container);
	struct argv_collect c = { .v = mk_malloc0(sizeof(char *) * (MAX_ARGS + 1)) };
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_command, &c);
	x->argv = c.v;
	if (c.too_many || (c.n == 0 && !x->attach)) {
		stream_reply_status(rep, 400, c.n ? "too many command arguments (limit %d)"
						  : "you must specify at least 1 command (limit %d)",
				    MAX_ARGS);
		stream_exec_free(x);
		return;
	}
	if (s->resolve(s->resolve_userdata, req->ns, req->pod, req->container, &cur, &prev, &err) < 0) {
		stream_reply_status(rep, err->code == ENOENT ? 404 : 500, "%s", err->msg);
		mk_error_free(&err);
		stream_exec_free(x);
		return;
	}
	struct mk_runtime_container_status st;
	if (!cur || mk_runtime_container_status_get(s->rt, cur, &st, &err) < 0 ||
	    st.state != MK_RUNTIME_STATE_RUNNING) {
		mk_error_free(&err);
		stream_reply_status(rep, 404, "container not found (\"%s\")", req->container);
		stream_exec_free(x);
		return;
	}
	x->id = TAKE_PTR(cur);
	if (x->attach && mk_runtime_attach_open(s->rt, x->id, &x->attach_fd, &err) < 0) {
		stream_reply_status(rep, err->code == ENOENT ? 404 : 500, "attach to container \"%s\": %s",
				    req->container, err->msg);
		mk_error_free(&err);
		stream_exec_free(x);
		return;
	}
	if (pipe2(x->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		stream_reply_status(rep, 500, "pipe: %s", strerror(errno));
		stream_exec_free(x);
		return;
	}
	rep->resp = MHD_create_response_for_upgrade(on_upgrade, s);
	if (!rep->resp) {
		stream_exec_free(x);
		return;
	}
	_cleanup_free_ char *accept = mk_ws_accept_key(key);
	MHD_add_response_header(rep->resp, "Upgrade", "websocket");
	MHD_add_response_header(rep->resp, "Sec-WebSocket-Accept", accept);
	if (x->proto != MK_WS_PROTO_NONE)
		MHD_add_response_header(rep->resp, "Sec-WebSocket-Protocol",
					mk_ws_proto_name(x->proto));
	rep->code = MHD_HTTP_SWITCHING_PROTOCOLS;
	req->exec = x;
}
