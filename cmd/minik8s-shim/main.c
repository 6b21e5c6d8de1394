/* minik8s-shim: the per-container shim (conmon's job), a small executable of
 * its own (libc and pkg/runtime/shimlib.c only) that the agent starts for each
 * container (pkg/runtime/shim.c; it is found beside the minik8s executable).
 *
 * The shim
 *   - lives in its own session (the agent's signals and exit do not reach it),
 *   - is the child subreaper of the container's init (runc create's child is
 *     reparented to it when runc exits), so it gets the exit status,
 *   - runs `runc create` (or `runc run --detach`) with its stdout/stderr pipes
 *     as the container's stdio
 *     (or receives the pty master over --console-socket for a tty container),
 *   - reports "ok PID" or "error MESSAGE" on fd 3 to the agent,
 *   - keeps the container's stdin open when the pod asks for it (stdin: true; a
 *     pipe, or the pty), closing it after the first attach for stdinOnce,
 *   - serves attach clients on STATE/<id>/attach: a copy of the output as it
 *     is read, their input to the stdin, resize for a pty,
 *   - copies the container's output into the CRI log with rotation,
 *   - writes STATE/<id>/exit when init exits and its output is drained, then exits.
 * shim_main reads as those steps: shim_setup, stdio_prepare, runc_create_spawn,
 * runc_create_wait, created_collect, output_copy, write_exit.
 *
 * Usage (by the agent only): minik8s-shim RUNC ROOT STATE ID LOG_MAX TTY STDIN START,
 * with the report pipe as fd 3 (START 1: `runc run --detach` instead of `runc
 * create`, the agent's create and start in one runc exec). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include "../../pkg/runtime/internal.h"

extern char **environ;

/* attach clients at once; more are refused (closed at once) */
#define SHIM_MAX_CLIENTS 16
/* how long a client that does not read its output may stall the container's */
#define SHIM_CLIENT_STALL_MS 2000

struct reaped {
	pid_t pid;
	int status;
};

struct shim {
	const char *runc, *root, *state;
	size_t log_max;
	const char *id;
	char *dir;
	int sfd; /* signalfd for SIGCHLD */
	struct reaped reaped[16];
	size_t n_reaped;
	int stdin_mode;  /* RT_STDIN_* */
	int stdin_fd;    /* where attach clients' input goes (pipe or pty); -1 none */
	bool tty;
	bool start;	 /* `runc run --detach`: created and started in one runc exec */
	int listen_fd;   /* the attach socket; -1 none */
	struct attach_client {
		int fd;
		char *pending; /* stdin bytes not written yet (we stop reading it meanwhile) */
		size_t len, off;
		bool eof;      /* its stdin ended: close the container's after pending */
	} clients[SHIM_MAX_CLIENTS];
	size_t n_clients;

	/* the container's stdio, as runc create gets it */
	struct {
		int out[2], err[2], in[2]; /* pipes (no tty); -1: none */
		int devnull;
		int console_listen, console_conn; /* the console socket (tty) */
		char *console_path;
		int master; /* the pty master runc sends; -1 until then */
	} io;
	char *pid_file; /* runc create writes init's pid there */
	pid_t runc_pid, init_pid;
	struct rt_log log; /* the CRI log of the output */
};

static void shim_reap(struct shim *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (s->n_reaped == MK_ARRAY_SIZE(s->reaped))
			memmove(s->reaped, s->reaped + 1, sizeof(s->reaped) - sizeof(s->reaped[0]));
		else
			s->n_reaped++;
		s->reaped[s->n_reaped - 1] = (struct reaped){ pid, status };
	}
}

static bool shim_find(struct shim *s, pid_t pid, int *status)
{
	for (size_t i = 0; i < s->n_reaped; i++)
		if (s->reaped[i].pid == pid) {
			*status = s->reaped[i].status;
			return true;
		}
	return false;
}

static void drain_signalfd(int sfd)
{
	struct signalfd_siginfo si;
	while (read(sfd, &si, sizeof(si)) == sizeof(si))
		;
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (write(RT_SHIM_SYNC_FD, buf, (size_t)n) < 0) {
		/* the agent went away: nothing to tell */
	}
	close(RT_SHIM_SYNC_FD);
}

/* The string value of "key" in one line of runc's JSON log (logrus writes flat
 * objects of string values), unescaped; owned, NULL if absent. */
static char *json_line_string(const char *line, const char *key)
{
	char pat[32];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(line, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	char *out = malloc(strlen(p) * 3 + 1), *o = out;
	if (!out)
		abort();
	for (; *p && *p != '"'; p++) {
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		switch (*++p) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u': {
			unsigned v = 0;
			int k;
			for (k = 1; k <= 4 && isxdigit((unsigned char)p[k]); k++)
				v = v * 16 + (unsigned)(isdigit((unsigned char)p[k])
								? p[k] - '0'
								: tolower((unsigned char)p[k]) - 'a' + 10);
			p += k - 1;
			/* UTF-8 of a BMP code point (a surrogate half comes out as is) */
			if (v < 0x80) {
				*o++ = (char)v;
			} else if (v < 0x800) {
				*o++ = (char)(0xc0 | (v >> 6));
				*o++ = (char)(0x80 | (v & 0x3f));
			} else {
				*o++ = (char)(0xe0 | (v >> 12));
				*o++ = (char)(0x80 | ((v >> 6) & 0x3f));
				*o++ = (char)(0x80 | (v & 0x3f));
			}
			break;
		}
		case '\0': p--; break; /* a line cut after a backslash */
		default: *o++ = *p; break; /* \" \\ \/ */
		}
	}
	*o = '\0';
	return out;
}

/* The last error runc logged (its --log file, JSON lines), or a fallback. Owned. */
static char *runc_error(struct shim *s, const char *fallback)
{
	_cleanup_free_ char *path = rt_strdup_printf("%s/runc.log", s->dir);
	_cleanup_free_ char *data = rt_file_read(path);
	char *last = NULL;

	if (data) {
		char *save = NULL;
		for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			_cleanup_free_ char *lvl = json_line_string(line, "level");
			char *msg = json_line_string(line, "msg");
			if (lvl && msg && (!strcmp(lvl, "error") || !strcmp(lvl, "fatal"))) {
				free(last);
				last = msg;
			} else {
				free(msg);
			}
		}
	}
	return last ? last : rt_strdup_printf("%s", fallback);
}

static void write_exit(struct shim *s, int status, bool oom)
{
	int code = -1, sig = 0;
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status)) {
		sig = WTERMSIG(status);
		code = 128 + sig;
	}
	char buf[160];
	int n = snprintf(buf, sizeof(buf),
			 "{\"exitCode\":%d,\"signal\":%d,\"finishedAt\":%lld%s}\n", code, sig,
			 (long long)rt_now_ns(), oom ? ",\"oomKilled\":true" : "");
	_cleanup_free_ char *path = rt_strdup_printf("%s/exit", s->dir);
	rt_file_write_atomic(path, buf, (size_t)n, true);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A fresh unix socket in the state dir, listening, for runc to send the pty
 * master on (--console-socket); -1 with errno. */
static int console_socket(struct shim *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char rnd[8];
	char hex[17];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -1;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	_cleanup_free_ char *path = rt_strdup_printf("%s/.cs-%s.sock", s->state, hex);
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 1) < 0) {
		int e = errno;
		unlink(path);
		close(fd);
		errno = e;
		return -1;
	}
	s->io.console_path = TAKE_PTR(path);
	s->io.console_listen = fd;
	return 0;
}

/* ---- attach (the shim's end; the client's is pkg/runtime/attach.c) ---------------- */

static int attach_listen(struct shim *s)
{
	struct sockaddr_un sa;
	_cleanup_close_ int dirfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd;

	if (dirfd < 0)
		return -1;
	rt_attach_sockaddr(dirfd, &sa);
	unlink(sa.sun_path); /* a stale socket of a shim that died */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0600) < 0 ||
	    listen(fd, SHIM_MAX_CLIENTS) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	s->listen_fd = fd;
	return 0;
}

static bool attach_pending(struct shim *s)
{
	for (size_t i = 0; i < s->n_clients; i++)
		if (s->clients[i].len)
			return true;
	return false;
}

static void attach_drop(struct shim *s, size_t i)
{
	close(s->clients[i].fd);
	free(s->clients[i].pending);
	s->clients[i] = s->clients[--s->n_clients];
}

static void stdin_close(struct shim *s)
{
	/* stdinOnce: the process sees EOF. A pty stays open: it is the output too
	 * (containerd does not close a tty's stdin either) */
	if (s->stdin_fd >= 0 && !s->tty) {
		close(s->stdin_fd);
		s->stdin_fd = -1;
	}
}

/* Writes what clients queued for the stdin, in order; a client whose bytes
 * are all written is read again. */
static void attach_flush(struct shim *s)
{
	for (size_t i = 0; i < s->n_clients; i++) {
		struct attach_client *c = &s->clients[i];
		while (c->off < c->len && s->stdin_fd >= 0) {
			ssize_t n = write(s->stdin_fd, c->pending + c->off, c->len - c->off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return; /* keep the order: later clients wait too */
			if (n <= 0) { /* the process closed its stdin */
				c->off = c->len;
				break;
			}
			c->off += (size_t)n;
		}
		if (c->off < c->len && s->stdin_fd < 0)
			c->off = c->len; /* nowhere to write: drop */
		if (c->off == c->len) {
			free(c->pending);
			c->pending = NULL;
			c->len = c->off = 0;
			if (c->eof) {
				c->eof = false;
				if (s->stdin_mode == RT_STDIN_ONCE)
					stdin_close(s);
			}
		}
	}
}

static void attach_client_read(struct shim *s, size_t i)
{
	struct attach_client *c = &s->clients[i];
	char buf[MK_RUNTIME_ATTACH_MAX_MSG];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		attach_drop(s, i);
		return;
	}
	switch ((uint8_t)buf[0]) {
	case MK_RUNTIME_ATTACH_STDIN:
		if (s->stdin_fd < 0 || n == 1)
			break;
		c->pending = malloc((size_t)n - 1);
		if (!c->pending)
			abort();
		memcpy(c->pending, buf + 1, (size_t)n - 1);
		c->len = (size_t)n - 1;
		c->off = 0;
		attach_flush(s);
		break;
	case MK_RUNTIME_ATTACH_STDIN_EOF:
		c->eof = true;
		if (!c->len) {
			c->eof = false;
			if (s->stdin_mode == RT_STDIN_ONCE)
				stdin_close(s);
		}
		break;
	case MK_RUNTIME_ATTACH_RESIZE:
		if (s->tty && n == 5 && s->stdin_fd >= 0) {
			uint16_t rc[2];
			memcpy(rc, buf + 1, sizeof(rc));
			struct winsize ws = { .ws_row = rc[0], .ws_col = rc[1] };
			if (ws.ws_row && ws.ws_col)
				ioctl(s->stdin_fd, TIOCSWINSZ, &ws);
		}
		break;
	default:
		break;
	}
}

static void attach_accept(struct shim *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (s->n_clients == SHIM_MAX_CLIENTS) {
		close(fd);
		return;
	}
	s->clients[s->n_clients++] = (struct attach_client){ .fd = fd };
}

/* Sends output to every client, one message per chunk. A client that does not
 * take it within SHIM_CLIENT_STALL_MS is dropped: the container must not block
 * on a stuck reader. */
static void attach_broadcast(struct shim *s, uint8_t type, const char *data, size_t len)
{
	char msg[MK_RUNTIME_ATTACH_MAX_MSG];

	while (len > 0) {
		size_t n = len < sizeof(msg) - 1 ? len : sizeof(msg) - 1;
		msg[0] = (char)type;
		memcpy(msg + 1, data, n);
		for (size_t i = s->n_clients; i-- > 0;) {
			for (;;) {
				ssize_t w = send(s->clients[i].fd, msg, n + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w >= 0)
					break;
				struct pollfd p = { .fd = s->clients[i].fd, .events = POLLOUT };
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN || poll(&p, 1, SHIM_CLIENT_STALL_MS) <= 0) {
					attach_drop(s, i);
					break;
				}
			}
		}
		data += n;
		len -= n;
	}
}

/* The container is gone: clients see the end of their connection. */
static void attach_shutdown(struct shim *s)
{
	while (s->n_clients)
		attach_drop(s, s->n_clients - 1);
	if (s->listen_fd >= 0) {
		_cleanup_close_ int dirfd = open(s->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		struct sockaddr_un sa;
		if (dirfd >= 0) {
			rt_attach_sockaddr(dirfd, &sa);
			unlink(sa.sun_path);
		}
		close(s->listen_fd);
		s->listen_fd = -1;
	}
}

/* ---- the shim's life, step by step ------------------------------------------ */

/* Arguments, process setup (own name, subreaper, SIGCHLD as a signalfd), who we
 * are for an agent that restarts, and the log; 0, or the exit code. */
static int shim_setup(struct shim *s, int argc, char **argv)
{
	sigset_t mask;
	if (argc != 9) {
		report("error shim: bad arguments");
		return 2;
	}
	s->runc = argv[1];
	s->root = argv[2];
	s->state = argv[3];
	s->id = argv[4];
	s->log_max = (size_t)strtoull(argv[5], NULL, 10);
	s->tty = !strcmp(argv[6], "1");
	s->stdin_mode = atoi(argv[7]);
	s->start = !strcmp(argv[8], "1");
	s->dir = rt_strdup_printf("%s/%s", s->state, s->id);

	prctl(PR_SET_NAME, "minik8s-shim", 0, 0, 0);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		report("error shim: PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return 1;
	}
	if (chdir("/") < 0) {
		/* stay where we are */
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	s->io.devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s->sfd < 0 || s->io.devnull < 0) {
		report("error shim: signalfd: %s", strerror(errno));
		return 1;
	}

	/* who we are, for an agent that restarts (pid + start time against reuse) */
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "{\"pid\":%d,\"starttime\":%llu}\n", (int)getpid(),
			 rt_proc_starttime(getpid()));
	_cleanup_free_ char *path = rt_strdup_printf("%s/shim", s->dir);
	/* no fsync: it names a process, which no crash of the machine leaves behind */
	if (rt_file_write_atomic(path, buf, (size_t)n, false) < 0) {
		report("error shim: write '%s': %s", path, strerror(errno));
		return 1;
	}
	_cleanup_free_ char *log_path = rt_strdup_printf("%s/container.log", s->dir);
	if (rt_log_open(&s->log, log_path, s->log_max) < 0) {
		report("error shim: open '%s': %s", log_path, strerror(errno));
		return 1;
	}
	return 0;
}

/* The container's stdio: a console socket for runc to send the pty master on,
 * or pipes; and the attach socket. */
static int stdio_prepare(struct shim *s)
{
	if (s->tty) {
		if (console_socket(s) < 0) {
			report("error shim: console socket in '%s': %s", s->state, strerror(errno));
			return -1;
		}
	} else if (pipe2(s->io.out, O_CLOEXEC) < 0 || pipe2(s->io.err, O_CLOEXEC) < 0 ||
		   (s->stdin_mode != RT_STDIN_NONE && pipe2(s->io.in, O_CLOEXEC) < 0)) {
		report("error shim: pipe: %s", strerror(errno));
		return -1;
	}
	if (attach_listen(s) < 0) {
		report("error shim: attach socket: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* runc create: its stdio becomes the container's stdio (pass-through). */
static int runc_create_spawn(struct shim *s)
{
	_cleanup_free_ char *runc_log = rt_strdup_printf("%s/runc.log", s->dir);
	const char *rargv[16];
	size_t n = 0;
	rargv[n++] = s->runc;
	rargv[n++] = "--root";
	rargv[n++] = s->root;
	rargv[n++] = "--log";
	rargv[n++] = runc_log;
	rargv[n++] = "--log-format";
	rargv[n++] = "json";
	rargv[n++] = s->start ? "run" : "create";
	if (s->start)
		rargv[n++] = "--detach";
	rargv[n++] = "--bundle";
	rargv[n++] = s->dir;
	rargv[n++] = "--pid-file";
	rargv[n++] = s->pid_file;
	if (s->tty) {
		rargv[n++] = "--console-socket";
		rargv[n++] = s->io.console_path;
	}
	rargv[n++] = s->id;
	rargv[n] = NULL;

	int devnull = s->io.devnull;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	/* stdin: Kubernetes' stdin=true keeps a pipe open for attach (the pty is
	 * the stdin of a tty container) */
	posix_spawn_file_actions_adddup2(&fa, s->io.in[0] >= 0 ? s->io.in[0] : devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, s->tty ? devnull : s->io.out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, s->tty ? devnull : s->io.err[1], 2);
	posix_spawnattr_t attr;
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	int r = posix_spawnp(&s->runc_pid, s->runc, &fa, &attr, (char *const *)rargv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (!s->tty) {
		close(s->io.out[1]);
		close(s->io.err[1]);
	}
	if (s->io.in[0] >= 0)
		close(s->io.in[0]);
	s->stdin_fd = s->io.in[1];
	if (r != 0) {
		report("error run '%s': %s", s->runc, strerror(r));
		return -1;
	}
	return 0;
}

/* One step of taking the pty master from runc: accept its connection, then
 * receive the fd on it. -1 when the receive failed. */
static int console_step(struct shim *s)
{
	if (s->io.console_conn < 0) {
		s->io.console_conn = accept4(s->io.console_listen, NULL, NULL, SOCK_CLOEXEC);
		return 0;
	}
	s->io.master = rt_recv_fd(s->io.console_conn);
	close(s->io.console_conn);
	s->io.console_conn = -1;
	return s->io.master < 0 ? -1 : 0;
}

/* Waits for runc create to exit (the console connection accepted meanwhile);
 * its exit status in *status. */
static void runc_create_wait(struct shim *s, int *status)
{
	for (int rounds = 0;; rounds++) {
		shim_reap(s);
		if (shim_find(s, s->runc_pid, status))
			break;
		struct pollfd p[2] = {
			{ .fd = s->sfd, .events = POLLIN },
			{ .fd = s->io.console_conn >= 0 ? s->io.console_conn : s->io.console_listen,
			  .events = POLLIN },
		};
		int np = (s->tty && s->io.master < 0) ? 2 : 1;
		if (poll(p, (nfds_t)np, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			drain_signalfd(s->sfd);
		if (np == 2 && p[1].revents && console_step(s) < 0)
			break;
		if (rounds > 600) { /* runc create hung for 10 min */
			kill(s->runc_pid, SIGKILL);
		}
	}
}

/* runc created the container: the pty master it may still hold in the socket,
 * init's pid, the stdin for attach; -1 (reported) when something is missing. */
static int created_collect(struct shim *s, int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		const char *verb = s->start ? "runc run" : "runc create";
		_cleanup_free_ char *msg = runc_error(s, "runc failed");
		report("error %s: %s", verb, msg);
		if (s->io.console_path)
			unlink(s->io.console_path);
		return -1;
	}
	int conn = s->io.console_conn, listen_fd = s->io.console_listen;
	if (s->tty && s->io.master < 0) {
		/* runc sent the master before exiting: it waits in the socket */
		struct pollfd p = { .fd = conn >= 0 ? conn : listen_fd, .events = POLLIN };
		if (conn < 0 && poll(&p, 1, 1000) > 0)
			conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		p.fd = conn;
		if (conn >= 0 && poll(&p, 1, 1000) > 0)
			s->io.master = rt_recv_fd(conn);
	}
	if (conn >= 0)
		close(conn);
	if (listen_fd >= 0)
		close(listen_fd);
	s->io.console_conn = s->io.console_listen = -1;
	if (s->io.console_path)
		unlink(s->io.console_path);
	s->init_pid = (pid_t)rt_read_i64(s->pid_file);
	if (s->init_pid <= 0 || (s->tty && s->io.master < 0)) {
		report("error shim: %s", s->init_pid <= 0 ? "no init pid from runc create"
							  : "no console from runc create");
		return -1;
	}
	if (s->tty && s->stdin_mode != RT_STDIN_NONE)
		s->stdin_fd = s->io.master;
	if (s->stdin_fd >= 0)
		fcntl(s->stdin_fd, F_SETFL, fcntl(s->stdin_fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

/* A read of output stream i (0 stdout or the pty, 1 stderr) into the log and to
 * the attach clients; the stream closed at its end. */
static void output_read(struct shim *s, int fds[2], int i)
{
	char buf[65536];
	ssize_t got = read(fds[i], buf, sizeof(buf));
	if (got > 0) {
		rt_log_feed(&s->log, i, buf, (size_t)got);
		attach_broadcast(s, i ? MK_RUNTIME_ATTACH_STDERR : MK_RUNTIME_ATTACH_STDOUT, buf,
				 (size_t)got);
	} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
		/* EOF, or EIO from a pty master once the slave side closed */
		rt_log_flush(&s->log, i);
		if (fds[i] == s->stdin_fd)
			s->stdin_fd = -1;
		close(fds[i]);
		fds[i] = -1;
	}
}

/* Copies the output until init exited and every stream is closed, serving the
 * attach clients meanwhile; init's wait status in *status. */
static void output_copy(struct shim *s, int *status)
{
	int fds[2] = { s->tty ? s->io.master : s->io.out[0], s->tty ? -1 : s->io.err[0] };
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	bool exited = shim_find(s, s->init_pid, status);
	uint64_t drain_deadline = 0;
	for (;;) {
		if (exited && !drain_deadline)
			/* processes in the container's pid namespace die with init: their
			 * pipe ends close at once; do not hang on a stray holder */
			drain_deadline = mono_ns() + 2000000000ull;
		if (exited && ((fds[0] < 0 && fds[1] < 0) || mono_ns() >= drain_deadline))
			break;
		struct pollfd p[5 + SHIM_MAX_CLIENTS] = {
			{ .fd = s->sfd, .events = POLLIN },
			{ .fd = fds[0], .events = POLLIN },
			{ .fd = fds[1], .events = POLLIN },
			{ .fd = s->listen_fd, .events = POLLIN },
			{ .fd = attach_pending(s) ? s->stdin_fd : -1, .events = POLLOUT },
		};
		for (size_t i = 0; i < s->n_clients; i++)
			p[5 + i] = (struct pollfd){ .fd = s->clients[i].fd,
						    .events = s->clients[i].len ? 0 : POLLIN };
		int pr = poll(p, 5 + s->n_clients, exited ? 100 : -1);
		if (pr < 0 && errno != EINTR)
			break;
		if (p[0].revents) {
			drain_signalfd(s->sfd);
			shim_reap(s);
			if (!exited)
				exited = shim_find(s, s->init_pid, status);
		}
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0 && p[i + 1].revents)
				output_read(s, fds, i);
		/* clients: input first (it may queue stdin), then new connections;
		 * walk backwards since a client that leaves is replaced by the last */
		for (size_t i = s->n_clients; i-- > 0;)
			if (p[5 + i].revents)
				attach_client_read(s, i);
		if (p[4].revents)
			attach_flush(s);
		if (p[3].revents)
			attach_accept(s);
	}
}

static int shim_main(int argc, char **argv)
{
	struct shim s = { .stdin_fd = -1, .listen_fd = -1,
			  .io = { .out = { -1, -1 }, .err = { -1, -1 }, .in = { -1, -1 },
				  .console_listen = -1, .console_conn = -1, .master = -1 } };
	int status = 0;
	int r = shim_setup(&s, argc, argv);
	if (r)
		return r;
	s.pid_file = rt_strdup_printf("%s/init.pid", s.dir);
	if (stdio_prepare(&s) < 0 || runc_create_spawn(&s) < 0)
		return 1;
	runc_create_wait(&s, &status);
	if (created_collect(&s, status) < 0)
		return 1;
	/* the OOM kill counter of the container's memory cgroup, before and after */
	_cleanup_free_ char *oom_file = rt_cgroup_oom_file(s.init_pid);
	int64_t oom_base = rt_cgroup_oom_kills(oom_file);
	if (s.start && oom_base > 0)
		oom_base = 0; /* running already: a kill since counts (the cgroup is new) */
	report("ok %d\n", (int)s.init_pid);

	output_copy(&s, &status);
	attach_shutdown(&s);
	rt_log_flush(&s.log, 0);
	rt_log_flush(&s.log, 1);
	rt_log_close(&s.log);
	int64_t oom_now = rt_cgroup_oom_kills(oom_file);
	write_exit(&s, status, oom_base >= 0 && oom_now > oom_base);
	return 0;
}

int main(int argc, char **argv)
{
	return shim_main(argc, argv);
}
