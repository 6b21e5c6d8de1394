/* The runtime handle and helpers shared by the package: running runc, paths,
 * small state files, console sockets, careful recursive removal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "internal.h"

extern char **environ;

/* The shim executable: $MINIK8S_SHIM, else minik8s-shim beside the running
 * executable, else in a directory above it (the build tree's tests and benches
 * run from build/tests/ and build/bench/NAME/, the shim is build/minik8s-shim).
 * Owned; NULL if there is none. */
static char *shim_locate(void)
{
	const char *env = getenv(RT_SHIM_PATH_ENV);
	char exe[4096];

	if (env && env[0] == '/')
		return access(env, X_OK) == 0 ? mk_strdup(env) : NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return NULL;
		*slash = '\0';
		char *p = mk_strdup_printf("%s/" RT_SHIM_NAME, exe);
		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/* "runc" looked up in PATH once, so neither the agent nor each shim walks PATH
 * on every exec of it; "runc" itself when PATH has none (the exec then fails
 * with the usual error). Owned. */
static char *runc_locate(void)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = mk_strdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue;
		char *p = mk_strdup_printf("%s/runc", d);
		struct stat sb;
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return mk_strdup("runc");
}

int mk_runtime_new(const struct mk_runtime_config *cfg, struct mk_runtime **ret,
		   struct mk_error **err)
{
	if (!cfg || !cfg->root_dir || !cfg->state_dir || cfg->root_dir[0] != '/' ||
	    cfg->state_dir[0] != '/')
		return mk_error_set(err, EINVAL, "runtime: root_dir and state_dir must be absolute paths");
	if (strlen(cfg->state_dir) > 80)
		return mk_error_set(err, ENAMETOOLONG, "runtime: state dir '%s' longer than 80 bytes",
				    cfg->state_dir);
	if (cfg->cgroup_parent && (!cfg->cgroup_parent[0] || strstr(cfg->cgroup_parent, "..")))
		return mk_error_set(err, EINVAL, "runtime: bad cgroup parent '%s'", cfg->cgroup_parent);
	if (mk_fs_mkdir_p(cfg->root_dir, 0700, err) < 0 || mk_fs_mkdir_p(cfg->state_dir, 0700, err) < 0)
		return -1;
	struct mk_runtime *rt = mk_malloc0(sizeof(*rt));
	rt->runc = cfg->runc_path ? mk_strdup(cfg->runc_path) : runc_locate();
	rt->root = mk_strdup(cfg->root_dir);
	rt->state = mk_strdup(cfg->state_dir);
	rt->cgroup_parent = mk_strdup(cfg->cgroup_parent ? cfg->cgroup_parent : "minik8s");
	/* strip trailing slashes so PARENT/<id> is well formed */
	for (size_t n = strlen(rt->cgroup_parent); n > 1 && rt->cgroup_parent[n - 1] == '/'; n--)
		rt->cgroup_parent[n - 1] = '\0';
	rt->log_max = cfg->log_max_bytes ? cfg->log_max_bytes : RT_DEFAULT_LOG_MAX;
	rt->shim = shim_locate();
	*ret = rt;
	return 0;
}

void mk_runtime_free(struct mk_runtime *rt)
{
	if (!rt)
		return;
	free(rt->runc);
	free(rt->root);
	free(rt->state);
	free(rt->cgroup_parent);
	free(rt->shim);
	free(rt);
}

int rt_id_valid(const char *id)
{
	size_t n;

	if (!id || !id[0] || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z') ||
			       (id[0] >= '0' && id[0] <= '9')))
		return 0;
	for (n = 0; id[n]; n++) {
		char c = id[n];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return n <= 64;
}

char *rt_ctr_path(struct mk_runtime *rt, const char *id, const char *name)
{
	if (name)
		return mk_strdup_printf("%s/%s/%s", rt->state, id, name);
	return mk_strdup_printf("%s/%s", rt->state, id);
}

char *mk_runtime_container_log_path(struct mk_runtime *rt, const char *id)
{
	return rt_ctr_path(rt, id, "container.log");
}

int rt_write_i64(const char *path, int64_t v, struct mk_error **err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)v);
	return mk_fs_write_file_nosync(path, buf, (size_t)n, 0600, err);
}

int rt_pidfd_wait(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	uint64_t deadline = timeout_ms < 0 ? 0 : mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;

	for (;;) {
		int left = -1;
		if (timeout_ms >= 0) {
			uint64_t now = mk_time_mono_ns();
			left = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		}
		int r = poll(&p, 1, left);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Reads fds[0..n) until EOF on all of them; appends to bufs. Returns 0, or -1
 * when the deadline passes first. */
static int drain(int *fds, struct mk_buf *bufs, int n, int timeout_ms)
{
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	int open_fds = n;

	while (open_fds > 0) {
		struct pollfd p[3];
		int idx[3], k = 0;
		for (int i = 0; i < n; i++)
			if (fds[i] >= 0) {
				p[k] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
				idx[k++] = i;
			}
		uint64_t now = mk_time_mono_ns();
		if (now >= deadline)
			return -1;
		int r = poll(p, (nfds_t)k, (int)((deadline - now) / 1000000) + 1);
		if (r < 0 && errno != EINTR)
			return -1;
		for (int j = 0; r > 0 && j < k; j++) {
			if (!p[j].revents)
				continue;
			char tmp[4096];
			ssize_t got = read(p[j].fd, tmp, sizeof(tmp));
			if (got > 0) {
				/* runc output is small; cap what a broken runc could make us hold */
				if (bufs[idx[j]].len < (1u << 20))
					mk_buf_append(&bufs[idx[j]], tmp, (size_t)got);
			} else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(fds[idx[j]]);
				fds[idx[j]] = -1;
				open_fds--;
			}
		}
	}
	return 0;
}

static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

int rt_runc_spawn(struct mk_runtime *rt, const char *const *argv, int in, int out, int errfd,
		      pid_t *ret_pid, int *ret_pidfd, struct mk_error **err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	mk_runtime_children_lock();
	int r = posix_spawnp(&pid, rt->runc, &fa, &attr, (char *const *)argv, environ);
	if (r == 0) {
		mk_runtime_child_register(pid);
		*ret_pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	}
	mk_runtime_children_unlock();
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return mk_error_errno(err, r, "run '%s'", rt->runc);
	*ret_pid = pid;
	return 0;
}

/* runc's end: its output drained into bufs (stdout, stderr) within timeout_ms,
 * then the process reaped into *ret_status, killed first when it is late. 1 when
 * it timed out. Closes fds. */
static int runc_collect(pid_t pid, int pidfd, int fds[2], struct mk_buf bufs[2], int timeout_ms,
			int *ret_status)
{
	int timed_out = drain(fds, bufs, 2, timeout_ms) < 0;

	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (timed_out || (pidfd >= 0 && rt_pidfd_wait(pidfd, timed_out ? 0 : timeout_ms) == 0)) {
		timed_out = 1;
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, ret_status, 0) < 0 && errno == EINTR)
		;
	mk_runtime_child_unregister(pid);
	return timed_out;
}

/* The error of a runc that failed: its stderr, ENOENT for a missing container. */
static int runc_failed(const char *verb, struct mk_buf *errout, struct mk_error **err)
{
	chomp(errout->data ? errout->data : (char *)"");
	const char *msg = errout->len ? errout->data : "no error output";
	/* runc's "container does not exist" message is the one callers test for */
	int code = strstr(msg, "does not exist") || strstr(msg, "not exist") ? ENOENT : EIO;
	return mk_error_set(err, code, "runc %s: %s", verb, msg);
}

int rt_runc(struct mk_runtime *rt, const char *const *args, char **ret_out, int timeout_ms,
	    struct mk_error **err)
{
	const char *argv[32];
	size_t n = 0;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	_cleanup_close_ int devnull = -1, pidfd = -1;
	pid_t pid = -1;
	int r, status = 0;
	struct mk_buf bufs[2];

	argv[n++] = rt->runc;
	argv[n++] = "--root";
	argv[n++] = rt->root;
	for (size_t i = 0; args[i] && n < MK_ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = mk_error_errno(err, errno, "runc %s: pipe", args[0]);
		goto fail_pipes;
	}
	r = rt_runc_spawn(rt, argv, devnull, out[1], errp[1], &pid, &pidfd, err);
	close(out[1]);
	close(errp[1]);
	out[1] = errp[1] = -1;
	if (r < 0)
		goto fail_pipes;

	mk_buf_init(&bufs[0]);
	mk_buf_init(&bufs[1]);
	int fds[2] = { out[0], errp[0] };
	out[0] = errp[0] = -1;
	if (runc_collect(pid, pidfd, fds, bufs, timeout_ms, &status)) {
		r = mk_error_set(err, ETIMEDOUT, "runc %s: timed out after %d ms", args[0], timeout_ms);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = runc_failed(args[0], &bufs[1], err);
	} else {
		r = 0;
		if (ret_out)
			*ret_out = mk_buf_steal(&bufs[0]);
	}
	mk_buf_release(&bufs[0]);
	mk_buf_release(&bufs[1]);
	return r;

fail_pipes:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return r;
}

int rt_console_socket(struct mk_runtime *rt, char **ret_path, int *ret_fd, struct mk_error **err)
{
	char hex[17];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;

	mk_random_hex(hex, 8);
	_cleanup_free_ char *path = mk_strdup_printf("%s/.cs-%s.sock", rt->state, hex);
	if (strlen(path) >= sizeof(sa.sun_path))
		return mk_error_set(err, ENAMETOOLONG, "console socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return mk_error_errno(err, errno, "console socket");
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return mk_error_errno(err, errno, "bind '%s'", path);
	chmod(path, 0600);
	if (listen(fd, 1) < 0) {
		int e = errno;
		unlink(path);
		return mk_error_errno(err, e, "listen '%s'", path);
	}
	*ret_path = TAKE_PTR(path);
	*ret_fd = fd;
	fd = -1;
	return 0;
}

static int rm_at(int dfd, const char *name, dev_t dev, int depth)
{
	struct stat st;

	if (depth > 64)
		return -ELOOP;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EXDEV; /* a mount point (rootfs, bind mount): never descend */
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	int r = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int q = rm_at(dirfd(d), de->d_name, dev, depth + 1);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (r < 0)
		return r;
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
}

int rt_rm_rf(const char *path, struct mk_error **err)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : mk_error_errno(err, errno, "stat '%s'", path);
	int r = rm_at(AT_FDCWD, path, st.st_dev, 0);
	if (r < 0)
		return mk_error_errno(err, -r, "remove '%s'", path);
	return 0;
}

const char *mk_runtime_state_name(enum mk_runtime_state s)
{
	switch (s) {
	case MK_RUNTIME_STATE_CREATED: return "created";
	case MK_RUNTIME_STATE_RUNNING: return "running";
	case MK_RUNTIME_STATE_PAUSED: return "paused";
	case MK_RUNTIME_STATE_EXITED: return "exited";
	default: return "unknown";
	}
}
