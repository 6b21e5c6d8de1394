/* kubectl exec [-i] [-t] POD [-c C] -- CMD...: a WebSocket (v5.channel.k8s.io)
 * to .../pods/POD/exec over a raw libcurl connection (CONNECT_ONLY; the
 * installed libcurl has no WebSocket API). The terminal goes raw with -t, and
 * its size follows SIGWINCH on channel 4. The exit code is the remote one. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include "commands.h"
#include "kubectl.h"
#include "kubectl_stream.h"
#include "minik8s/ws.h"

static const char EXEC_HELP[] =
	"Execute a command in a container.\n\n"
	"Examples:\n"
	"  minik8s kubectl exec web -- date\n"
	"  minik8s kubectl exec -it web -c nginx -- sh\n\n"
	"Options:\n"
	"  -c, --container C   the container (needed when the pod has several)\n"
	"  -i, --stdin         pass stdin to the container\n"
	"  -t, --tty           stdin is a TTY\n"
	"  -q, --quiet         only print output from the remote session\n\n"
	"Usage:\n  minik8s kubectl exec (POD | TYPE/NAME) [-c CONTAINER] [flags] -- COMMAND [args...]\n";

#define STDIN_CHUNK (32 * 1024 - 1) /* one client frame, as kubectl */

static int winch_pipe[2] = { -1, -1 };

static void on_winch(int sig)
{
	int saved = errno;
	if (write(winch_pipe[1], "w", 1) < 0) {
		/* full: a resize is pending anyway */
	}
	errno = saved;
}

struct session {
	CURL *c;
	curl_socket_t fd;
	struct mk_buf in;
	bool tty;
	int exit_code; /* -1 until a status arrived */
	bool closed;   /* close frame received */
	char *error;   /* a Failure status that is not an exit code */
};

static int send_all(struct session *s, const void *data, size_t len)
{
	return mk_io_write_all(mk_io_curl_send, s->c, s->fd, data, len, 30000);
}

static int send_frame(struct session *s, int opcode, int channel, const void *data, size_t len)
{
	uint8_t mask[4];
	struct mk_buf b;

	mk_random_bytes(mask, sizeof(mask));
	mk_buf_init(&b);
	if (channel >= 0)
		mk_ws_channel_append(&b, (uint8_t)channel, data, len, mask);
	else
		mk_ws_frame_append(&b, opcode, data, len, mask);
	int r = send_all(s, b.data, b.len);
	mk_buf_release(&b);
	return r;
}

static void send_size(struct session *s)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0)
		return;
	_cleanup_free_ char *j = mk_strdup_printf("{\"Width\":%u,\"Height\":%u}", ws.ws_col, ws.ws_row);
	send_frame(s, MK_WS_OP_BINARY, MK_WS_CH_RESIZE, j, strlen(j));
}

static void handle_status(struct session *s, const char *json, size_t len)
{
	_cleanup_cjson_ cJSON *st = cJSON_ParseWithLength(json, len);
	const char *status = st ? mk_json_get_string(st, "status") : NULL;

	if (status && !strcmp(status, "Success")) {
		s->exit_code = 0;
		return;
	}
	const char *reason = mk_json_get_string(st, "reason");
	if (reason && !strcmp(reason, "NonZeroExitCode")) {
		const cJSON *c;
		cJSON_ArrayForEach(c, mk_json_get(st, "details.causes"))
		{
			const char *r = mk_json_get_string(c, "reason");
			const char *m = mk_json_get_string(c, "message");
			if (r && m && !strcmp(r, "ExitCode")) {
				s->exit_code = atoi(m);
				return;
			}
		}
	}
	const char *msg = st ? mk_json_get_string(st, "message") : NULL;
	free(s->error);
	s->error = mk_strdup(msg ? msg : "command failed");
	s->exit_code = 1;
}

/* One server frame: a pong, the close reply, or a channel's bytes. > 0: closed. */
static int handle_frame(void *ctx, struct mk_ws_frame *f)
{
	struct session *s = ctx;

	if (f->opcode == MK_WS_OP_PING) {
		send_frame(s, MK_WS_OP_PONG, -1, f->payload, f->len);
	} else if (f->opcode == MK_WS_OP_CLOSE) {
		static const uint8_t normal[2] = { 0x03, 0xe8 };
		send_frame(s, MK_WS_OP_CLOSE, -1, normal, sizeof(normal));
		s->closed = true;
		return 1;
	} else if ((f->opcode == MK_WS_OP_BINARY || f->opcode == MK_WS_OP_TEXT) && f->len) {
		const char *d = (const char *)f->payload + 1;
		size_t dl = f->len - 1;
		FILE *out = NULL;
		switch (f->payload[0]) {
		case MK_WS_CH_STDOUT:
			out = stdout;
			break;
		case MK_WS_CH_STDERR:
			out = stderr;
			break;
		case MK_WS_CH_STATUS:
			handle_status(s, d, dl);
			break;
		}
		if (out) {
			fwrite(d, 1, dl, out);
			fflush(out);
		}
	}
	return 0;
}

/* Handles the complete frames in s->in. -1 on a protocol error. */
static int process(struct session *s)
{
	_cleanup_error_ struct mk_error *err = NULL;

	if (mk_ws_frames_consume(&s->in, MK_WS_MAX_PAYLOAD, 0, handle_frame, s, &err) < 0) {
		fprintf(stderr, "error: %s\n", err->msg);
		return -1;
	}
	return 0;
}

/* The upgrade: returns 0 when switched; else prints the error, returns 1. */
static int handshake(struct session *s, struct kubectl *k, const char *path)
{
	const struct mk_client_config *cfg = mk_client_get_config(k->client);
	_cleanup_free_ char *key = mk_ws_new_key();
	const char *host = strstr(cfg->server, "://");
	host = host ? host + 3 : cfg->server;
	_cleanup_free_ char *auth =
		cfg->token ? mk_strdup_printf("Authorization: Bearer %s\r\n", cfg->token) : mk_strdup("");
	_cleanup_free_ char *req = mk_strdup_printf(
		"GET %s HTTP/1.1\r\nHost: %s\r\n%sUser-Agent: minik8s-kubectl\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
		path, host, auth, key, MK_WS_PROTOCOL_V5);
	if (send_all(s, req, strlen(req)) < 0) {
		fprintf(stderr, "error: sending the exec request failed\n");
		return 1;
	}
	char buf[4096], *end = NULL;
	while (!(end = s->in.len ? memmem(s->in.data, s->in.len, "\r\n\r\n", 4) : NULL)) {
		size_t n = 0;
		CURLcode r = curl_easy_recv(s->c, buf, sizeof(buf), &n);
		if (r == CURLE_AGAIN) {
			struct pollfd p = { .fd = s->fd, .events = POLLIN };
			if (poll(&p, 1, 60000) <= 0)
				break;
			continue;
		}
		if (r != CURLE_OK || n == 0 || s->in.len > 64 * 1024)
			break;
		mk_buf_append(&s->in, buf, n);
	}
	if (!end) {
		fprintf(stderr, "error: no valid reply to the exec request\n");
		return 1;
	}
	size_t head = (size_t)(end + 4 - s->in.data);
	int code = 0;
	sscanf(s->in.data, "HTTP/1.%*d %d", &code);
	if (code != 101) {
		/* the Status body; read what else comes (Content-Length bounded) */
		const char *cl = strcasestr(s->in.data, "\r\nContent-Length:");
		size_t want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		for (int i = 0; i < 100 && s->in.len - head < want; i++) {
			size_t n = 0;
			CURLcode r = curl_easy_recv(s->c, buf, sizeof(buf), &n);
			if (r == CURLE_AGAIN) {
				struct pollfd p = { .fd = s->fd, .events = POLLIN };
				poll(&p, 1, 100);
				continue;
			}
			if (r != CURLE_OK || n == 0)
				break;
			mk_buf_append(&s->in, buf, n);
		}
		return kubectl_stream_error(code ? code : 500, s->in.data + head, s->in.len - head);
	}
	_cleanup_free_ char *accept = mk_ws_accept_key(key);
	*end = '\0';
	if (!strcasestr(s->in.data, accept) || !strcasestr(s->in.data, MK_WS_PROTOCOL_V5)) {
		fprintf(stderr, "error: the server answered the upgrade with another protocol\n");
		return 1;
	}
	memmove(s->in.data, s->in.data + head, s->in.len - head);
	s->in.len -= head;
	return 0;
}

static int run(struct session *s, bool want_stdin)
{
	char buf[STDIN_CHUNK];
	bool stdin_open = want_stdin;

	if (s->tty)
		send_size(s);
	if (process(s) < 0)
		return -1;
	while (!s->closed) {
		/* TLS may hold decrypted bytes that poll cannot see: drain first */
		for (;;) {
			size_t n = 0;
			CURLcode r = curl_easy_recv(s->c, buf, sizeof(buf), &n);
			if (r == CURLE_AGAIN)
				break;
			if (r != CURLE_OK || n == 0)
				return -1; /* ended without a close frame */
			mk_buf_append(&s->in, buf, n);
			if (process(s) < 0)
				return -1;
			if (s->closed)
				return 0;
		}
		struct pollfd p[3] = { { .fd = s->fd, .events = POLLIN },
				       { .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
				       { .fd = winch_pipe[0], .events = POLLIN } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[2].revents & POLLIN) {
			char w[64];
			while (read(winch_pipe[0], w, sizeof(w)) > 0)
				;
			send_size(s);
		}
		if (p[1].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				stdin_open = false;
				/* stdin closed: channel 255 with the channel number */
				uint8_t ch = MK_WS_CH_STDIN;
				if (send_frame(s, MK_WS_OP_BINARY, MK_WS_CH_CLOSE, &ch, 1) < 0)
					return -1;
			} else if (send_frame(s, MK_WS_OP_BINARY, MK_WS_CH_STDIN, buf, (size_t)n) < 0) {
				return -1;
			}
		}
	}
	return 0;
}

/* /api/v1/namespaces/NS/pods/POD/exec?command=...: owned. */
static char *exec_path(struct kubectl *k, const char *pod, const struct kargs *a,
		       const char *container, bool want_stdin, bool tty)
{
	struct mk_buf q;

	mk_buf_init(&q);
	for (int i = 0; i < a->ndash; i++) {
		char *e = mk_client_escape(a->dash[i]);
		mk_buf_printf(&q, "%scommand=%s", i ? "&" : "?", e);
		free(e);
	}
	if (container) {
		char *e = mk_client_escape(container);
		mk_buf_printf(&q, "&container=%s", e);
		free(e);
	}
	mk_buf_printf(&q, "%s&stdout=true%s%s", want_stdin ? "&stdin=true" : "",
		      tty ? "" : "&stderr=true", tty ? "&tty=true" : "");
	_cleanup_free_ char *epod = mk_client_escape(pod);
	char *path = mk_strdup_printf("/api/v1/namespaces/%s/pods/%s/exec%s", k->ns, epod, q.data);
	mk_buf_release(&q);
	return path;
}

/* The session with the terminal in raw mode for a tty (and SIGWINCH forwarded). */
static int run_terminal(struct session *s, bool want_stdin)
{
	struct termios saved;
	bool raw = false;

	if (pipe2(winch_pipe, O_CLOEXEC | O_NONBLOCK) == 0 && s->tty) {
		struct sigaction sa = { .sa_handler = on_winch, .sa_flags = SA_RESTART };
		sigaction(SIGWINCH, &sa, NULL);
	}
	if (s->tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	int ok = run(s, want_stdin);
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return ok;
}

/* kubectl's exit status for the session's end: the command's exit code. */
static int session_result(const struct session *s, int ok, bool quiet)
{
	if (ok < 0 && !s->closed) {
		fprintf(stderr, "error: the exec stream ended without a close frame\n");
		return 1;
	}
	if (s->error) {
		fprintf(stderr, "error: %s\n", s->error);
		return 1;
	}
	if (s->exit_code > 0) {
		if (!quiet)
			fprintf(stderr, "command terminated with exit code %d\n", s->exit_code);
		return s->exit_code;
	}
	return 0;
}

int kubectl_exec(struct kubectl *k, int argc, char **argv)
{
	bool help, want_stdin = false, tty = false, quiet = false;
	const char *container = NULL;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "container", 'c', KF_STRING, &container, NULL },
		{ "stdin", 'i', KF_BOOL, &want_stdin, NULL },
		{ "tty", 't', KF_BOOL, &tty, NULL },
		{ "quiet", 'q', KF_BOOL, &quiet, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int r = kflags_parse("kubectl exec", argc, argv, flags, &help, &a);
	if (r)
		return r;
	if (help) {
		fputs(EXEC_HELP, stdout);
		kargs_release(&a);
		return 0;
	}
	if (a.n != 1 || !a.has_dash || a.ndash < 1) {
		kargs_release(&a);
		return cmd_usage_error("kubectl exec",
				       "expected 'exec POD -- COMMAND [args...]'; POD and COMMAND are required");
	}
	const char *pod = a.v[0];
	if (!strncmp(pod, "pod/", 4) || !strncmp(pod, "pods/", 5) || !strncmp(pod, "po/", 3))
		pod = strchr(pod, '/') + 1;
	bool local_tty = isatty(STDIN_FILENO);
	if (tty && !(want_stdin && local_tty)) {
		if (!quiet)
			fprintf(stderr, "Unable to use a TTY - %s\n",
				want_stdin ? "input is not a terminal or the right kind of file"
					   : "container did not allocate one");
		tty = false;
	}
	if (kubectl_connect(k)) {
		kargs_release(&a);
		return 1;
	}
	_cleanup_free_ char *path = exec_path(k, pod, &a, container, want_stdin, tty);
	kargs_release(&a);

	struct session s = { .exit_code = -1, .tty = tty };
	struct curl_slist *hdrs = NULL;
	mk_buf_init(&s.in);
	s.c = kubectl_stream_curl(k, "/", &hdrs);
	if (!s.c)
		return 1;
	curl_easy_setopt(s.c, CURLOPT_CONNECT_ONLY, 1L);
	CURLcode cr = curl_easy_perform(s.c);
	if (cr == CURLE_OK)
		cr = curl_easy_getinfo(s.c, CURLINFO_ACTIVESOCKET, &s.fd);
	int rc = 1;
	if (cr != CURLE_OK)
		fprintf(stderr, "error: %s\n", curl_easy_strerror(cr));
	else if (handshake(&s, k, path) == 0)
		rc = session_result(&s, run_terminal(&s, want_stdin), quiet);
	free(s.error);
	mk_buf_release(&s.in);
	curl_easy_cleanup(s.c);
	curl_slist_free_all(hdrs);
	return rc;
}
