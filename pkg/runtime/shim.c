/* The agent's side of the per-container shim: starts the minik8s-shim
 * executable (cmd/minik8s-shim, a small libc-only program found beside the
 * minik8s executable, or at $MINIK8S_SHIM) in a session of its own, with the
 * report pipe as fd 3, and waits for its "ok PID" or "error MESSAGE"; reads
 * back the shim's pid record. What the shim does is described in
 * cmd/minik8s-shim/main.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "internal.h"

extern char **environ;

/* ---- agent side ------------------------------------------------------------- */

static int read_sync(int fd, struct mk_buf *b, int timeout_ms)
{
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	for (;;) {
		uint64_t now = mk_time_mono_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int r = poll(&p, 1, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		char tmp[1024];
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (b->len < 65536)
			mk_buf_append(b, tmp, (size_t)n);
	}
}

/* Starts the shim executable in a session of its own: stdio /dev/null,
 * sync_w as fd RT_SHIM_SYNC_FD, nothing else inherited, default signals. The
 * pidfd is opened before the reaper can reap the shim and free its pid. */
static int shim_start(const char *exe, char **argv, int devnull, int sync_w, pid_t *ret_pid,
		      int *ret_pidfd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, devnull, 0);
	posix_spawn_file_actions_adddup2(&fa, devnull, 1);
	posix_spawn_file_actions_adddup2(&fa, devnull, 2);
	posix_spawn_file_actions_adddup2(&fa, sync_w, RT_SHIM_SYNC_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, RT_SHIM_SYNC_FD + 1);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSID);
	mk_runtime_children_lock();
	r = posix_spawn(ret_pid, exe, &fa, &attr, argv, environ);
	if (r == 0)
		*ret_pidfd = (int)syscall(SYS_pidfd_open, *ret_pid, 0);
	mk_runtime_children_unlock();
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return r;
}

/* The shim's report on the sync pipe: "ok PID" (0), "error MSG", nothing (it
 * exited), or no report within 60 s (killed). Closes sync_r. A shim that failed
 * is reaped. */
static int shim_report(const char *id, pid_t pid, int pidfd, int sync_r, struct mk_error **err)
{
	struct mk_buf b;
	int r;

	mk_buf_init(&b);
	r = read_sync(sync_r, &b, 60000);
	close(sync_r);
	if (r == 0 && mk_str_has_prefix(b.data ? b.data : "", "ok ")) {
		mk_buf_release(&b);
		return 0;
	}
	if (r == -ETIMEDOUT) {
		kill(pid, SIGKILL);
		r = mk_error_set(err, ETIMEDOUT, "container '%s': shim did not report in 60 s", id);
	} else if (b.len && mk_str_has_prefix(b.data, "error ")) {
		size_t n = strlen(b.data);
		while (n > 0 && b.data[n - 1] == '\n')
			b.data[--n] = '\0';
		r = mk_error_set(err, EIO, "container '%s': %s", id, b.data + 6);
	} else {
		r = mk_error_set(err, EIO, "container '%s': shim exited without reporting", id);
	}
	mk_buf_release(&b);
	/* the shim exits after reporting an error: reap it here */
	if (pidfd >= 0 && rt_pidfd_wait(pidfd, 5000) > 0) {
		siginfo_t si;
		waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
	}
	return r;
}

int rt_shim_spawn(struct mk_runtime *rt, const char *id, bool tty, bool start, int stdin_mode,
		  pid_t *ret_pid, struct mk_error **err)
{
	int sync[2] = { -1, -1 };
	_cleanup_close_ int devnull = -1, pidfd = -1;
	char logmax[32], stdin_arg[4];
	pid_t pid = -1;
	int r;

	snprintf(logmax, sizeof(logmax), "%zu", rt->log_max);
	snprintf(stdin_arg, sizeof(stdin_arg), "%d", stdin_mode);
	char *argv[] = { RT_SHIM_NAME, rt->runc, rt->root, rt->state, (char *)id, logmax,
			 tty ? "1" : "0", stdin_arg, start ? "1" : "0", NULL };

	if (!rt->shim)
		return mk_error_set(err, ENOENT,
				    "container '%s': no " RT_SHIM_NAME " executable beside this one "
				    "(install it with minik8s, or set " RT_SHIM_PATH_ENV ")", id);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return mk_error_errno(err, errno, "open /dev/null");
	/* keep the pipe's ends above 3 so the dup2 to fd 3 always clears FD_CLOEXEC */
	if (pipe2(sync, O_CLOEXEC) < 0)
		return mk_error_errno(err, errno, "shim: pipe");
	r = shim_start(rt->shim, argv, devnull, sync[1], &pid, &pidfd);
	close(sync[1]);
	if (r != 0) {
		close(sync[0]);
		return mk_error_errno(err, r, "spawn shim for '%s'", id);
	}
	r = shim_report(id, pid, pidfd, sync[0], err);
	if (r == 0)
		*ret_pid = pid;
	return r;
}

pid_t rt_shim_pid(struct mk_runtime *rt, const char *id)
{
	_cleanup_free_ char *path = rt_ctr_path(rt, id, "shim");
	_cleanup_free_ char *data = NULL;
	_cleanup_cjson_ cJSON *j = NULL;

	if (mk_fs_read_file(path, &data, NULL, NULL) < 0 || !(j = cJSON_Parse(data)))
		return 0;
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pid");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "starttime");
	if (!cJSON_IsNumber(p) || !cJSON_IsNumber(st) || p->valuedouble <= 0)
		return 0;
	pid_t pid = (pid_t)p->valuedouble;
	/* the pid may have been reused since: check the process start time */
	if (rt_proc_starttime(pid) != (unsigned long long)st->valuedouble)
		return 0;
	return pid;
}

