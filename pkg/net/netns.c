/* Named network namespaces, kept the way iproute2's `ip netns` keeps them: a
 * namespace file bind-mounted onto RUN_DIR/NAME (ip/ipnetns.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "internal.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static const char *run_dir_or_default(const char *run_dir)
{
	return run_dir && *run_dir ? run_dir : MK_NET_NETNS_RUN_DIR;
}

static int check_name(const char *name, struct mk_error **err)
{
	if (!name || !*name || strlen(name) > 200 || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return mk_error_set(err, EINVAL, "invalid network namespace name '%s'",
				    name ? name : "");
	return 0;
}

/* ---- running code inside a namespace -------------------------------------- */

struct run_ctx {
	int fd;
	mk_net_netns_fn fn;
	void *userdata;
	int ret;
	struct mk_error *err;
};

static void *run_thread(void *p)
{
	struct run_ctx *c = p;

	/* The network namespace is per thread: setns here moves only this thread,
	 * which exits afterwards, so no other thread ever sees the change. */
	if (c->fd >= 0 && setns(c->fd, CLONE_NEWNET) < 0) {
		c->ret = mk_error_errno(&c->err, errno, "setns into network namespace");
		return NULL;
	}
	c->ret = c->fn(c->userdata, &c->err);
	if (c->ret < 0 && !c->err)
		mk_error_set(&c->err, EIO, "function in network namespace failed");
	return NULL;
}

int mk_net_netns_run(int netns_fd, mk_net_netns_fn fn, void *userdata, struct mk_error **err)
{
	struct run_ctx c = { .fd = netns_fd, .fn = fn, .userdata = userdata };
	pthread_t t;
	int r;

	r = pthread_create(&t, NULL, run_thread, &c);
	if (r != 0)
		return mk_error_errno(err, r, "create thread for network namespace");
	pthread_join(t, NULL);
	if (c.err) {
		if (err && !*err)
			*err = c.err;
		else
			mk_error_free(&c.err);
	}
	return c.ret < 0 ? -1 : c.ret;
}

/* ---- create / open / delete / list ------------------------------------------ */

/* iproute2 makes the run directory a shared mount point so that an unmount done by
 * `delete` propagates to copies of the mount in mount namespaces created later
 * (containers), instead of leaving them pinning the namespace. */
static int prepare_run_dir(const char *dir, struct mk_error **err)
{
	if (mk_fs_mkdir_p(dir, 0755, err) < 0)
		return -1;
	if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0)
		return 0;
	if (errno != EINVAL)
		return mk_error_errno(err, errno, "make '%s' a shared mount", dir);
	/* not a mount point yet: bind it onto itself, then share it */
	if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0)
		return mk_error_errno(err, errno, "bind mount '%s' onto itself", dir);
	if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) < 0)
		return mk_error_errno(err, errno, "make '%s' a shared mount", dir);
	return 0;
}

static int create_fn(void *userdata, struct mk_error **err)
{
	const char *path = userdata;

	if (unshare(CLONE_NEWNET) < 0)
		return mk_error_errno(err, errno, "unshare network namespace");
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL) < 0)
		return mk_error_errno(err, errno, "bind mount network namespace onto '%s'", path);
	return 0;
}

int mk_net_netns_create(const char *run_dir, const char *name, int *ret_fd,
			struct mk_error **err)
{
	const char *dir = run_dir_or_default(run_dir);
	_cleanup_free_ char *path = NULL;
	int fd;

	if (check_name(name, err) < 0)
		return -1;
	if (prepare_run_dir(dir, err) < 0)
		return -1;
	path = mk_strdup_printf("%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0)
		return mk_error_errno(err, errno, "create network namespace '%s'", path);
	close(fd);
	if (mk_net_netns_run(-1, create_fn, path, err) < 0) {
		unlink(path);
		return -1;
	}
	if (ret_fd) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			umount2(path, MNT_DETACH);
			unlink(path);
			return mk_error_errno(err, e, "open '%s'", path);
		}
		*ret_fd = fd;
	}
	return 0;
}

int mk_net_netns_open(const char *run_dir, const char *name, int *ret_fd,
		      struct mk_error **err)
{
	_cleanup_free_ char *path = NULL;
	struct statfs st;
	int fd;

	if (check_name(name, err) < 0)
		return -1;
	path = mk_strdup_printf("%s/%s", run_dir_or_default(run_dir), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return mk_error_errno(err, errno, "open network namespace '%s'", path);
	if (fstatfs(fd, &st) < 0 || st.f_type != NSFS_MAGIC) {
		close(fd);
		return mk_error_set(err, EINVAL, "'%s' is not a mounted network namespace", path);
	}
	*ret_fd = fd;
	return 0;
}

int mk_net_netns_delete(const char *run_dir, const char *name, struct mk_error **err)
{
	_cleanup_free_ char *path = NULL;

	if (check_name(name, err) < 0)
		return -1;
	path = mk_strdup_printf("%s/%s", run_dir_or_default(run_dir), name);
	/* EINVAL: not mounted (leftover of an interrupted create), still unlink it */
	if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
		return mk_error_errno(err, errno, "unmount '%s'", path);
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return 0;
		return mk_error_errno(err, errno, "remove '%s'", path);
	}
	return 1;
}

int mk_net_netns_list(const char *run_dir, char ***ret_names, size_t *ret_n,
		      struct mk_error **err)
{
	const char *dir = run_dir_or_default(run_dir);
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t n = 0;
	struct dirent *de;

	if (!d && errno != ENOENT)
		return mk_error_errno(err, errno, "open '%s'", dir);
	while (d && (de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		mk_strv_push(&v, &n, mk_strdup(de->d_name));
	}
	if (d)
		closedir(d);
	if (!v)
		v = mk_malloc0(sizeof(char *));
	qsort(v, n, sizeof(char *), strv_cmp);
	*ret_names = v;
	if (ret_n)
		*ret_n = n;
	return 0;
}

int mk_net_netns_dir_unmount(const char *run_dir, struct mk_error **err)
{
	const char *dir = run_dir_or_default(run_dir);
	int done = 0;

	/* a race between two first creates can stack two bind mounts: undo all */
	for (int i = 0; i < 16; i++) {
		if (umount2(dir, MNT_DETACH) == 0) {
			done = 1;
			continue;
		}
		if (errno == EINVAL || errno == ENOENT)
			break;
		return mk_error_errno(err, errno, "unmount '%s'", dir);
	}
	return done;
}
