/* Child reaping for a process that is a child subreaper (PR_SET_CHILD_SUBREAPER):
 * container processes and exec'd processes whose parents exit become our children,
 * and PID 1 on the target VMs does not reap anything.
 *
 * waitpid(-1) would steal exit statuses that other code waits for (runc
 * invocations, exec sessions), so the reaper walks our children
 * (/proc/self/task/<tid>/children, or all of /proc when that file is missing) and
 * reaps only pids nobody registered. Code that forks a child it waits for holds
 * the children lock (shared) from before the fork until the pid is registered;
 * the reaper holds it exclusively during a pass, so it never sees such a child
 * unregistered. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "internal.h"

static pthread_rwlock_t children_lock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *registry;
static size_t registry_n, registry_cap;

int mk_runtime_subreaper_init(struct mk_error **err)
{
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return mk_error_errno(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
	return 0;
}

void mk_runtime_children_lock(void)
{
	pthread_rwlock_rdlock(&children_lock);
}

void mk_runtime_children_unlock(void)
{
	pthread_rwlock_unlock(&children_lock);
}

void mk_runtime_child_register(pid_t pid)
{
	pthread_mutex_lock(&registry_lock);
	MK_GROW(registry, registry_cap, registry_n + 1);
	registry[registry_n++] = pid;
	pthread_mutex_unlock(&registry_lock);
}

void mk_runtime_child_unregister(pid_t pid)
{
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_n; i++)
		if (registry[i] == pid) {
			registry[i] = registry[--registry_n];
			break;
		}
	pthread_mutex_unlock(&registry_lock);
}

static bool registered(pid_t pid)
{
	bool found = false;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < registry_n && !found; i++)
		found = registry[i] == pid;
	pthread_mutex_unlock(&registry_lock);
	return found;
}

static int try_reap(pid_t pid)
{
	siginfo_t si;

	if (pid <= 0 || registered(pid))
		return 0;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == pid)
		return 1;
	return 0;
}

/* Children listed in /proc/self/task/<tid>/children (CONFIG_PROC_CHILDREN). */
static int reap_from_children_files(int *reaped)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;

	if (access("/proc/thread-self/children", R_OK) < 0) {
		if (d)
			closedir(d);
		return -1; /* kernel without CONFIG_PROC_CHILDREN */
	}
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[300], buf[8192];
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* a thread that just exited */
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* a very long list is truncated at the last full pid: later passes see the rest */
		char *save = NULL;
		for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
			*reaped += try_reap((pid_t)atoi(tok));
	}
	closedir(d);
	return 0;
}

/* Fallback: every process whose parent is us. */
static void reap_from_proc(int *reaped)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		char *p = strrchr(buf, ')');
		int ppid = 0;
		char st;
		if (p && sscanf(p + 1, " %c %d", &st, &ppid) == 2 && ppid == self)
			*reaped += try_reap((pid_t)atoi(de->d_name));
	}
	closedir(d);
}

int mk_runtime_reap_orphans(void)
{
	int reaped = 0;

	pthread_rwlock_wrlock(&children_lock);
	if (reap_from_children_files(&reaped) < 0)
		reap_from_proc(&reaped);
	pthread_rwlock_unlock(&children_lock);
	return reaped;
}

extern char **environ;

int mk_runtime_command_run(const char *const *argv, int timeout_ms, int *ret_status,
			   struct mk_error **err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	siginfo_t si;
	pid_t pid;
	int pidfd = -1;

	if (!argv || !argv[0])
		return mk_error_set(err, EINVAL, "command: empty argv");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	mk_runtime_children_lock();
	int r = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	if (r == 0) {
		mk_runtime_child_register(pid);
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	}
	mk_runtime_children_unlock();
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return mk_error_errno(err, r, "run '%s'", argv[0]);
	bool timed_out = false;
	if (pidfd >= 0 && rt_pidfd_wait(pidfd, timeout_ms) == 0) {
		timed_out = true;
		kill(pid, SIGKILL);
	}
	if (pidfd >= 0)
		close(pidfd);
	memset(&si, 0, sizeof(si));
	while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0 && errno == EINTR)
		;
	mk_runtime_child_unregister(pid);
	if (timed_out)
		return mk_error_set(err, ETIMEDOUT, "'%s' timed out after %d ms", argv[0], timeout_ms);
	*ret_status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	return 0;
}

/* ---- reaper thread ---------------------------------------------------------- */

static pthread_mutex_t reaper_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t reaper_thread;
static bool reaper_running;
static int sigchld_efd = -1;  /* written by the signal handler */
static int stop_efd = -1;

static void on_sigchld(int sig)
{
	int saved = errno;
	uint64_t one = 1;
	(void)sig;
	if (sigchld_efd >= 0 && write(sigchld_efd, &one, sizeof(one)) < 0) {
		/* counter full: a wakeup is pending anyway */
	}
	errno = saved;
}

static void *reaper_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2] = { { .fd = sigchld_efd, .events = POLLIN },
				       { .fd = stop_efd, .events = POLLIN } };
		/* SIGCHLD wakes us; the timeout only covers a signal lost to a handler
		 * someone else installed */
		int r = poll(p, 2, 5000);
		if (r < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents) {
			uint64_t v;
			if (read(sigchld_efd, &v, sizeof(v)) < 0) {
				/* nothing pending */
			}
		}
		mk_runtime_reap_orphans();
	}
	return NULL;
}

int mk_runtime_reaper_start(struct mk_error **err)
{
	struct sigaction sa;
	int r = 0;

	pthread_mutex_lock(&reaper_lock);
	if (reaper_running)
		goto out;
	if (sigchld_efd < 0)
		sigchld_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sigchld_efd < 0 || stop_efd < 0) {
		r = mk_error_errno(err, errno, "reaper: eventfd");
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGCHLD, &sa, NULL) < 0) {
		r = mk_error_errno(err, errno, "reaper: sigaction(SIGCHLD)");
		goto out;
	}
	int e = pthread_create(&reaper_thread, NULL, reaper_main, NULL);
	if (e) {
		r = mk_error_errno(err, e, "reaper: pthread_create");
		goto out;
	}
	reaper_running = true;
out:
	if (r < 0 && stop_efd >= 0) {
		close(stop_efd);
		stop_efd = -1;
	}
	pthread_mutex_unlock(&reaper_lock);
	return r;
}

void mk_runtime_reaper_stop(void)
{
	uint64_t one = 1;

	pthread_mutex_lock(&reaper_lock);
	if (reaper_running) {
		if (write(stop_efd, &one, sizeof(one)) < 0) {
			/* cannot fail on a fresh eventfd */
		}
		pthread_join(reaper_thread, NULL);
		close(stop_efd);
		stop_efd = -1;
		reaper_running = false;
	}
	pthread_mutex_unlock(&reaper_lock);
}
