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
	struct stream_upgraded u; /* first: the server runs the session through it */
	char *id, *container;
	char **argv;
	bool want_stdin, want_stdout, want_stderr, tty;
	enum mk_ws_proto proto;
	bool attach;   /* attach to the container's process instead of exec */
	int attach_fd; /* the shim's attach socket (seqpacket) */
	bool attach_eof_sent;

	/* running session */
	struct mk_buf pending_stdin;
	size_t pending_off;
	bool stdin_eof; /* the client closed stdin: close it once pending is written */
	bool client_closed;
	struct mk_runtime_exec *e;
};

static void stream_exec_free(struct stream_exec *x)
{
	if (!x)
		return;
	if (x->argv)
		for (char **a = x->argv; *a; a++)
			free(*a);
	free(x->argv);
	free(x->id);
	free(x->container);
	stream_upgraded_release(&x->u);
	mk_buf_release(&x->pending_stdin);
	if (x->attach_fd >= 0)
		close(x->attach_fd);
	free(x);
}

static void exec_free(struct stream_upgraded *u)
{
	stream_exec_free((struct stream_exec *)u);
}

/* Writes all of data to the (non-blocking) socket; -1 when the peer is gone. */
static int sock_write_all(int fd, const void *data, size_t len)
{
	return mk_io_write_all(mk_io_sock_send, &fd, fd, data, len, 30000);
}

static int send_channel(struct stream_exec *x, uint8_t ch, const void *data, size_t len)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_ws_proto_channel_append(&b, x->proto, ch, data, len, NULL);
	int r = sock_write_all(x->u.sock, b.data, b.len);
	mk_buf_release(&b);
	return r;
}

static int send_control(struct stream_exec *x, int opcode, const void *data, size_t len)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_ws_frame_append(&b, opcode, data, len, NULL);
	int r = sock_write_all(x->u.sock, b.data, b.len);
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

struct input_ctx {
	struct stream_exec *x;
	int *cur_channel;
};

static int input_frame(void *ctx, struct mk_ws_frame *f)
{
	struct input_ctx *in = ctx;
	return handle_frame(in->x, f, in->cur_channel) < 0 ? -1 : 0;
}

/* Parses and handles every complete frame in x->u.in. */
static int process_input(struct stream_exec *x, int *cur_channel)
{
	struct input_ctx in = { x, cur_channel };
	struct mk_error *err = NULL;

	if (mk_ws_frames_consume(&x->u.in, MK_WS_MAX_PAYLOAD, 1, input_frame, &in, &err) < 0) {
		if (err)
			mk_log(MK_LOG_DEBUG, "agent-stream", "exec: %s", err->msg);
		mk_error_free(&err);
		return -1;
	}
	return 0;
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
		struct pollfd p = { .fd = x->u.sock, .events = POLLIN };
		if (poll(&p, 1, (int)((end - now) / 1000000) + 1) <= 0)
			break;
		char buf[4096];
		ssize_t n = recv(x->u.sock, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		mk_buf_append(&x->u.in, buf, (size_t)n);
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

/* Reads what the client sent and handles its frames; -1 when the client is gone
 * or the session must end. */
static int client_read(struct stream_exec *x, int *cur_channel)
{
	char buf[64 * 1024];
	ssize_t r = recv(x->u.sock, buf, sizeof(buf), 0);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		x->client_closed = true;
		return -1;
	}
	if (r > 0) {
		mk_buf_append(&x->u.in, buf, (size_t)r);
		if (process_input(x, cur_channel) < 0)
			return -1;
	}
	return 0;
}

/* Attach: relays between the client and the shim's attach socket until the
 * container's output ends (the shim closes the socket), then Success, as
 * kubelet reports a finished attach. */
static void run_attach(struct stream_exec *x)
{
	int cur_channel = -1;

	set_nonblock(x->u.sock);
	if (x->u.in.len && process_input(x, &cur_channel) < 0)
		goto end;
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = x->u.wake[0], .events = POLLIN },
			{ .fd = x->u.sock, .events = POLLIN },
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
		if (p[1].revents && client_read(x, &cur_channel) < 0)
			goto end;
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

/* The exec'd process's outputs, as exec_relay forwards them. */
struct exec_io {
	int out_fd, err_fd; /* the pty, or stdout and stderr; -1: none */
	bool out_open, err_open;
	int cur_channel; /* the channel of a fragmented client message (process_input) */
};

/* Starts the process; -1 (the failure sent to the client) when it cannot be. */
static int exec_start(struct stream_exec *x, struct exec_io *io)
{
	struct mk_error *err = NULL;
	struct mk_runtime_exec_spec spec = {
		.args = (const char *const *)x->argv,
		.tty = x->tty,
		.stdin = x->want_stdin,
	};
	if (mk_runtime_exec_start(x->u.srv->rt, x->id, &spec, &x->e, &err) < 0) {
		send_failure(x, "InternalError", 500, err->msg);
		mk_error_free(&err);
		return -1;
	}
	io->out_fd = mk_runtime_exec_fd(x->e, x->tty ? MK_RUNTIME_EXEC_FD_PTY
						     : MK_RUNTIME_EXEC_FD_STDOUT);
	io->err_fd = x->tty ? -1 : mk_runtime_exec_fd(x->e, MK_RUNTIME_EXEC_FD_STDERR);
	set_nonblock(io->out_fd);
	set_nonblock(io->err_fd);
	set_nonblock(stdin_fd(x));
	if (!x->want_stdin && !x->tty)
		mk_runtime_exec_close_fd(x->e, MK_RUNTIME_EXEC_FD_STDIN);
	io->out_open = io->out_fd >= 0;
	io->err_open = io->err_fd >= 0;
	return 0;
}

/* One chunk of an output to its channel, if there is one; *open false at its end. */
static int output_step(struct stream_exec *x, int fd, uint8_t ch, bool want, bool *open)
{
	int r = pump_output(x, fd, ch, want);
	if (r > 0)
		*open = false;
	return r < 0 ? -1 : 0;
}

/* After the exit: what the process wrote before it is in the pipe; sent without
 * waiting for descendants that keep the pipe open. */
static int output_drain(struct stream_exec *x, int fd, uint8_t ch, bool want, bool open)
{
	int r = 0;
	while (open && r == 0)
		if ((r = pump_output(x, fd, ch, want)) == 1)
			open = false;
	return r < 0 ? -1 : 0;
}

/* Relays stdin from the client and the outputs to it until the process exits
 * (its status sent: 0) or the session must end at once (-1). */
static int exec_relay(struct stream_exec *x, struct exec_io *io)
{
	bool want_out = x->want_stdout || x->tty;
	for (;;) {
		struct pollfd p[5];
		int np = 0, i_sock = -1, i_out = -1, i_err = -1, exit_code = -1;
		bool pending = x->pending_off < x->pending_stdin.len;
		struct mk_error *err = NULL;

		p[np++] = (struct pollfd){ .fd = x->u.wake[0], .events = POLLIN };
		if (!pending) {
			i_sock = np;
			p[np++] = (struct pollfd){ .fd = x->u.sock, .events = POLLIN };
		} else if (stdin_fd(x) >= 0) {
			p[np++] = (struct pollfd){ .fd = stdin_fd(x), .events = POLLOUT };
		}
		if (io->out_open) {
			i_out = np;
			p[np++] = (struct pollfd){ .fd = io->out_fd, .events = POLLIN };
		}
		if (io->err_open) {
			i_err = np;
			p[np++] = (struct pollfd){ .fd = io->err_fd, .events = POLLIN };
		}
		/* outputs closed: the process is ending, look for its exit often */
		int n = poll(p, (nfds_t)np, (io->out_open || io->err_open) ? 500 : 50);
		if (n < 0 && errno != EINTR)
			return 0;
		if (n > 0 && p[0].revents)
			return -1; /* server stopping */
		if (i_sock >= 0 && p[i_sock].revents && client_read(x, &io->cur_channel) < 0)
			return -1;
		if (x->pending_off < x->pending_stdin.len || x->stdin_eof)
			flush_stdin(x);
		if (i_out >= 0 && p[i_out].revents &&
		    output_step(x, io->out_fd, MK_WS_CH_STDOUT, want_out, &io->out_open) < 0)
			return -1;
		if (i_err >= 0 && p[i_err].revents &&
		    output_step(x, io->err_fd, MK_WS_CH_STDERR, x->want_stderr, &io->err_open) < 0)
			return -1;
		bool exited = mk_runtime_exec_wait(x->e, 0, &exit_code, &err) == 0;
		mk_error_free(&err);
		if (!exited)
			continue;
		if (output_drain(x, io->out_fd, MK_WS_CH_STDOUT, want_out, io->out_open) < 0 ||
		    output_drain(x, io->err_fd, MK_WS_CH_STDERR, x->want_stderr, io->err_open) < 0)
			return -1;
		send_exit_status(x, exit_code);
		return 0;
	}
}

static void run_session(struct stream_upgraded *u)
{
	struct stream_exec *x = (struct stream_exec *)u;
	struct exec_io io = { .cur_channel = -1 };

	if (x->attach) {
		run_attach(x);
		return;
	}
	set_nonblock(x->u.sock);
	if (exec_start(x, &io) == 0) {
		/* frames that arrived with the upgrade request */
		if (x->u.in.len && process_input(x, &io.cur_channel) < 0)
			goto end;
		if (exec_relay(x, &io) < 0)
			goto end;
	}
	static const uint8_t normal[2] = { 0x03, 0xe8 }; /* 1000 */
	if (send_control(x, MK_WS_OP_CLOSE, normal, sizeof(normal)) == 0)
		await_close(x);
end:
	mk_runtime_exec_free(x->e); /* kills the process if it still runs */
	x->e = NULL;
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
	stream_upgraded_init(&x->u, s, run_session, exec_free);
	x->attach_fd = -1;
	x->proto = (enum mk_ws_proto)wsp;
	x->attach = req->attach;
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
	if (stream_upgraded_reply(req, &x->u, rep) < 0) {
		stream_exec_free(x);
		return;
	}
	_cleanup_free_ char *accept = mk_ws_accept_key(key);
	MHD_add_response_header(rep->resp, "Upgrade", "websocket");
	MHD_add_response_header(rep->resp, "Sec-WebSocket-Accept", accept);
	if (x->proto != MK_WS_PROTO_NONE)
		MHD_add_response_header(rep->resp, "Sec-WebSocket-Protocol",
					mk_ws_proto_name(x->proto));
}
