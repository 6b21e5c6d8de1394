/* Processes in running containers (`runc exec`), the backend of kubectl exec.
 *
 * Without a tty runc runs in the foreground: the pipes we give it are passed
 * through to the process, and runc exits with the process' exit code (128+N for
 * signal N). With a tty runc would need a terminal of its own in the foreground,
 * so it runs detached (-d) with --console-socket: we receive the pty master with
 * SCM_RIGHTS and, being the child subreaper, inherit the process when runc exits
 * and wait for it ourselves. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include "internal.h"


struct mk_runtime_exec {
	pid_t pid;  /* what we wait for: runc (no tty) or the process itself (tty) */
	int pidfd;
	int fds[4];
	bool tty, waited;
	int exit_code;
	char *process_path, *pid_path;
};

static void exec_files_remove(struct mk_runtime_exec *e)
{
	if (e->process_path)
		unlink(e->process_path);
	if (e->pid_path)
		unlink(e->pid_path);
}

void mk_runtime_exec_free(struct mk_runtime_exec *e)
{
	if (!e)
		return;
	if (!e->waited && e->pid > 0) {
		/* kill the process itself first (runc forwards no SIGKILL); once runc
		 * is gone it is our child (we are the subreaper) and must be reaped
		 * here: a pid namespace's init cannot finish exiting while one of its
		 * processes is an unreaped zombie */
		pid_t proc = e->pid_path && !e->tty ? (pid_t)rt_read_i64(e->pid_path) : 0;
		int proc_fd = proc > 0 ? (int)syscall(SYS_pidfd_open, proc, 0) : -1;
		if (proc_fd >= 0)
			syscall(SYS_pidfd_send_signal, proc_fd, SIGKILL, NULL, 0);
		if (e->pidfd >= 0) {
			syscall(SYS_pidfd_send_signal, e->pidfd, SIGKILL, NULL, 0);
			if (rt_pidfd_wait(e->pidfd, 5000) > 0) {
				siginfo_t si;
				waitid(P_PIDFD, (id_t)e->pidfd, &si, WEXITED | WNOHANG);
			}
		}
		mk_runtime_child_unregister(e->pid);
		if (proc_fd >= 0) {
			if (rt_pidfd_wait(proc_fd, 5000) > 0) {
				siginfo_t si;
				waitid(P_PIDFD, (id_t)proc_fd, &si, WEXITED | WNOHANG);
			}
			close(proc_fd);
		}
	}
	for (int i = 0; i < 4; i++)
		if (e->fds[i] >= 0)
			close(e->fds[i]);
	if (e->pidfd >= 0)
		close(e->pidfd);
	exec_files_remove(e);
	free(e->process_path);
	free(e->pid_path);
	free(e);
}

int mk_runtime_exec_fd(const struct mk_runtime_exec *e, int which)
{
	if (!e || which < 0 || which > MK_RUNTIME_EXEC_FD_PTY)
		return -1;
	return e->fds[which];
}

void mk_runtime_exec_close_fd(struct mk_runtime_exec *e, int which)
{
	if (!e || which < 0 || which > MK_RUNTIME_EXEC_FD_PTY || e->fds[which] < 0)
		return;
	close(e->fds[which]);
	e->fds[which] = -1;
}

int mk_runtime_exec_resize(struct mk_runtime_exec *e, unsigned short rows, unsigned short cols,
			   struct mk_error **err)
{
	if (!e || e->fds[MK_RUNTIME_EXEC_FD_PTY] < 0)
		return mk_error_set(err, EINVAL, "exec: resize without a tty");
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	/* the kernel sends SIGWINCH to the pty's foreground process group */
	if (ioctl(e->fds[MK_RUNTIME_EXEC_FD_PTY], TIOCSWINSZ, &ws) < 0)
		return mk_error_errno(err, errno, "exec: TIOCSWINSZ");
	return 0;
}

int mk_runtime_exec_wait(struct mk_runtime_exec *e, int timeout_ms, int *ret_exit_code,
			 struct mk_error **err)
{
	siginfo_t si;

	if (e->waited) {
		*ret_exit_code = e->exit_code;
		return 0;
	}
	int r = rt_pidfd_wait(e->pidfd, timeout_ms);
	if (r < 0)
		return mk_error_errno(err, errno, "exec: wait");
	if (r == 0)
		return mk_error_set(err, ETIMEDOUT, "exec: process still running after %d ms", timeout_ms);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)e->pidfd, &si, WEXITED) < 0)
		return mk_error_errno(err, errno, "exec: waitid");
	mk_runtime_child_unregister(e->pid);
	e->waited = true;
	if (si.si_code == CLD_EXITED)
		e->exit_code = si.si_status;
	else
		e->exit_code = 128 + si.si_status;
	exec_files_remove(e);
	*ret_exit_code = e->exit_code;
	return 0;
}

/* runc exec --detach --tty: runc's run and the pty master it sends on the
 * console socket. */
struct console_wait {
	pid_t runc_pid;
	int runc_pidfd, listen_fd;
	int conn;   /* runc's connection to the console socket, -1 before */
	int master; /* the pty master received on it, -1 before */
	int status; /* runc's wait status, once runc_done */
	bool runc_done;
};

/* runc exited: reaps it; when it succeeded but the master has not come yet, gives
 * the connection runc made before exiting (queued) a moment. false: stop. */
static bool console_runc_exited(struct console_wait *w, struct pollfd *sock)
{
	w->runc_done = true;
	waitpid(w->runc_pid, &w->status, 0);
	mk_runtime_child_unregister(w->runc_pid);
	if (!WIFEXITED(w->status) || WEXITSTATUS(w->status) != 0)
		return false;
	if (w->master < 0 && !(sock->revents & POLLIN)) {
		struct pollfd q = *sock;
		if (poll(&q, 1, 1000) <= 0)
			return false;
		sock->revents = q.revents;
	}
	return true;
}

/* The console socket is readable: accepts runc's connection, or receives the
 * master on it (at once when runc is done: it sent it before exiting). false: stop. */
static bool console_receive(struct console_wait *w)
{
	if (w->conn < 0) {
		w->conn = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (w->conn < 0)
			return false;
		if (!w->runc_done)
			return true;
		struct pollfd q = { .fd = w->conn, .events = POLLIN };
		if (poll(&q, 1, 1000) <= 0)
			return false;
	}
	w->master = rt_recv_fd(w->conn);
	return w->master >= 0;
}

/* Receives the master while runc runs; runc exits once the process started.
 * Gives up (runc killed) after 30 s. */
static void console_await(struct console_wait *w)
{
	uint64_t deadline = mk_time_mono_ns() + 30000000000ull;

	while (!w->runc_done || w->master < 0) {
		struct pollfd p[2] = { { .fd = w->runc_pidfd, .events = POLLIN },
				       { .fd = w->conn >= 0 ? w->conn : w->listen_fd,
					 .events = POLLIN } };
		if (mk_time_mono_ns() > deadline) {
			kill(w->runc_pid, SIGKILL);
			return;
		}
		if (poll(p, w->master < 0 ? 2 : 1, 1000) < 0 && errno != EINTR)
			return;
		if (p[0].revents && !w->runc_done && !console_runc_exited(w, &p[1]))
			return;
		if (w->master < 0 && (p[1].revents & POLLIN) && !console_receive(w))
			return;
	}
}

static int exec_tty(struct mk_runtime *rt, const char *id, struct mk_runtime_exec *e,
		    struct mk_error **err)
{
	_cleanup_free_ char *sock_path = NULL;
	_cleanup_close_ int listen_fd = -1, devnull = -1, runc_pidfd = -1;
	struct console_wait w = { .conn = -1, .master = -1 };
	int r = -1;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return mk_error_errno(err, errno, "open /dev/null");
	if (rt_console_socket(rt, &sock_path, &listen_fd, err) < 0)
		return -1;
	const char *argv[] = { rt->runc, "--root", rt->root, "exec", "--detach", "--tty",
			       "--console-socket", sock_path, "--pid-file", e->pid_path,
			       "--process", e->process_path, id, NULL };
	/* the process becomes our child when runc exits: hold the children lock
	 * until its pid is registered so the reaper cannot take its status */
	mk_runtime_children_lock();
	if (rt_runc_spawn(rt, argv, devnull, devnull, devnull, &w.runc_pid, &runc_pidfd, err) < 0)
		goto out;
	w.runc_pidfd = runc_pidfd;
	w.listen_fd = listen_fd;
	console_await(&w);
	if (!w.runc_done) {
		waitpid(w.runc_pid, &w.status, 0);
		mk_runtime_child_unregister(w.runc_pid);
		mk_error_set(err, ETIMEDOUT, "exec in '%s': runc exec did not finish", id);
		goto out;
	}
	if (!WIFEXITED(w.status) || WEXITSTATUS(w.status) != 0 || w.master < 0) {
		mk_error_set(err, EIO, "exec in '%s': runc exec failed (status %d)%s", id, w.status,
			     w.master < 0 ? ", no console received" : "");
		goto out;
	}
	e->pid = (pid_t)rt_read_i64(e->pid_path);
	e->pidfd = e->pid > 0 ? (int)syscall(SYS_pidfd_open, e->pid, 0) : -1;
	if (e->pidfd < 0) {
		mk_error_errno(err, e->pid > 0 ? errno : ENOENT, "exec in '%s': process pid", id);
		goto out;
	}
	mk_runtime_child_register(e->pid);
	e->fds[MK_RUNTIME_EXEC_FD_PTY] = w.master;
	w.master = -1;
	r = 0;
out:
	mk_runtime_children_unlock();
	if (w.master >= 0)
		close(w.master);
	if (w.conn >= 0)
		close(w.conn);
	unlink(sock_path);
	return r;
}

static int exec_pipes(struct mk_runtime *rt, const char *id, const struct mk_runtime_exec_spec *spec,
		      struct mk_runtime_exec *e, struct mk_error **err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int r = -1;

	if ((spec->stdin ? pipe2(in, O_CLOEXEC) : (in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC))) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		mk_error_errno(err, errno, "exec: pipe");
		goto out;
	}
	const char *argv[] = { rt->runc, "--root", rt->root, "exec", "--pid-file", e->pid_path,
			       "--process", e->process_path, id, NULL };
	if (rt_runc_spawn(rt, argv, in[0], out[1], errp[1], &e->pid, &e->pidfd, err) < 0)
		goto out;
	if (e->pidfd < 0) {
		mk_error_errno(err, errno, "exec: pidfd_open");
		kill(e->pid, SIGKILL);
		waitpid(e->pid, NULL, 0);
		mk_runtime_child_unregister(e->pid);
		e->pid = 0;
		goto out;
	}
	e->fds[MK_RUNTIME_EXEC_FD_STDIN] = in[1];
	e->fds[MK_RUNTIME_EXEC_FD_STDOUT] = out[0];
	e->fds[MK_RUNTIME_EXEC_FD_STDERR] = errp[0];
	in[1] = out[0] = errp[0] = -1;
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return r;
}

int mk_runtime_exec_start(struct mk_runtime *rt, const char *id,
			  const struct mk_runtime_exec_spec *spec, struct mk_runtime_exec **ret,
			  struct mk_error **err)
{
	struct mk_runtime_container_status st;
	_cleanup_free_ char *cfg_path = NULL, *cfg_text = NULL, *proc_json = NULL;
	_cleanup_cjson_ cJSON *cfg = NULL;
	char hex[17];

	if (!spec)
		return mk_error_set(err, EINVAL, "exec: no spec");
	if (spec->tty) {
		int on = 0;
		if (prctl(PR_GET_CHILD_SUBREAPER, &on, 0, 0, 0) < 0 || !on)
			return mk_error_set(err, EINVAL,
					    "exec with a tty needs the caller to be a child subreaper");
	}
	if (mk_runtime_container_status_get(rt, id, &st, err) < 0)
		return -1;
	if (st.state != MK_RUNTIME_STATE_RUNNING)
		return mk_error_set(err, EINVAL, "container '%s' is not running (%s)", id,
				    mk_runtime_state_name(st.state));
	cfg_path = rt_ctr_path(rt, id, "config.json");
	if (mk_fs_read_file(cfg_path, &cfg_text, NULL, err) < 0)
		return -1;
	if (!(cfg = cJSON_Parse(cfg_text)))
		return mk_error_set(err, EIO, "exec: unparsable '%s'", cfg_path);
	if (rt_exec_process_json(cfg, spec, &proc_json, err) < 0)
		return -1;

	struct mk_runtime_exec *e = mk_malloc0(sizeof(*e));
	e->pidfd = -1;
	for (int i = 0; i < 4; i++)
		e->fds[i] = -1;
	e->tty = spec->tty;
	mk_random_hex(hex, 8);
	_cleanup_free_ char *name = mk_strdup_printf("exec-%s.json", hex);
	_cleanup_free_ char *pname = mk_strdup_printf("exec-%s.pid", hex);
	e->process_path = rt_ctr_path(rt, id, name);
	e->pid_path = rt_ctr_path(rt, id, pname);
	if (mk_fs_write_file(e->process_path, proc_json, strlen(proc_json), 0600, err) < 0) {
		free(e->process_path);
		e->process_path = NULL;
		mk_runtime_exec_free(e);
		return -1;
	}
	if ((spec->tty ? exec_tty(rt, id, e, err) : exec_pipes(rt, id, spec, e, err)) < 0) {
		e->waited = e->pid <= 0;
		mk_runtime_exec_free(e);
		return -1;
	}
	*ret = e;
	return 0;
}
