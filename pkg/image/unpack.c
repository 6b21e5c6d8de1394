/* Safe layer extraction. libarchive only reads (and decompresses) the layer; every
 * file is written by us relative to a directory fd, each parent resolved with
 * openat2(RESOLVE_IN_ROOT) so that symlinks planted by this or any other layer
 * resolve inside the layer root, and the leaf created with *at() calls that do
 * not follow it. Whiteouts become overlayfs whiteouts
 * (Documentation/filesystems/overlayfs.rst: "whiteouts and opaque directories"). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "internal.h"

int img_open_in_root(int root_fd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	return (int)syscall(SYS_openat2, root_fd, *path ? path : ".", &how, sizeof(how));
}

int img_remove_tree_at(int parent, const char *name)
{
	struct stat st;
	int fd;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(parent, name, 0);
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (img_remove_tree_at(dirfd(d), de->d_name) < 0)
			r = -1;
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
		r = -1;
	return r;
}

int img_remove_tree(const char *path)
{
	return img_remove_tree_at(AT_FDCWD, path);
}

/* Normalises an archive path: strips "/" and "./", drops "." components,
 * refuses "..". Returns an owned string ("" for the root) or NULL. */
static char *sanitize(const char *p)
{
	struct mk_buf b;
	const char *c = p;

	mk_buf_init(&b);
	mk_buf_append(&b, "", 0);
	while (*c) {
		const char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (n == 2 && !strncmp(c, "..", 2)) {
			mk_buf_release(&b);
			return NULL;
		}
		if (n > 0 && !(n == 1 && c[0] == '.')) {
			if (b.len)
				mk_buf_append(&b, "/", 1);
			mk_buf_append(&b, c, n);
		}
		if (!e)
			break;
		c = e + 1;
	}
	return mk_buf_steal(&b);
}

/* Splits "a/b/c" into dir "a/b" (owned) and base pointer "c" inside path. */
static char *split(const char *path, const char **base)
{
	const char *s = strrchr(path, '/');
	if (!s) {
		*base = path;
		return mk_strdup("");
	}
	*base = s + 1;
	return strndup(path, (size_t)(s - path));
}

/* O_PATH fd of directory path inside root, creating missing directories
 * (0755, root-owned: a later entry for them sets their metadata). */
static int ensure_dir(int root_fd, const char *path, int depth)
{
	int fd = img_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
	const char *base;
	_cleanup_free_ char *parent = NULL;
	_cleanup_close_ int pfd = -1;

	if (fd >= 0 || errno != ENOENT || !*path || depth > 256)
		return fd;
	parent = split(path, &base);
	pfd = ensure_dir(root_fd, parent, depth + 1);
	if (pfd < 0)
		return -1;
	if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
		return -1;
	return img_open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
}

struct extract {
	int root_fd;
	int flags;
	struct archive *outer; /* decompression stage (raw format) */
	struct sha256 hash;
	char buf[128 * 1024];
};

static la_ssize_t inner_read(struct archive *a, void *data, const void **out)
{
	struct extract *x = data;
	la_ssize_t n = archive_read_data(x->outer, x->buf, sizeof(x->buf));
	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(x->outer));
		return -1;
	}
	img_sha256_update(&x->hash, x->buf, (size_t)n);
	*out = x->buf;
	return n;
}

/* name NULL: dirfd itself */
static int set_times(int dirfd, const char *name, struct archive_entry *e, int flags)
{
	struct timespec ts[2];
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	ts[0] = ts[1];
	return name ? utimensat(dirfd, name, ts, flags) : futimens(dirfd, ts);
}

static void apply_xattrs(int fd, struct archive_entry *e)
{
	const char *name;
	const void *value;
	size_t size;

	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
		/* trusted.* would let a layer steer overlayfs (opaque, redirect, metacopy) */
		if (strncmp(name, "user.", 5) && strcmp(name, "security.capability"))
			continue;
		(void)fsetxattr(fd, name, value, size, 0);
	}
}

static int write_file(struct extract *x, struct archive *a, int pfd, const char *base,
		      struct archive_entry *e, const char *path, struct mk_error **err)
{
	_cleanup_close_ int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
					0600);
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	if (fd < 0)
		return mk_error_errno(err, errno, "create '%s'", path);
	while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
		size_t done = 0;
		while (done < size) {
			ssize_t n = pwrite(fd, (const char *)buf + done, size - done, off + (off_t)done);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return mk_error_errno(err, errno, "write '%s'", path);
			}
			done += (size_t)n;
		}
	}
	if (r != ARCHIVE_EOF)
		return mk_error_set(err, EIO, "read '%s' from layer: %s", path, archive_error_string(a));
	if (ftruncate(fd, archive_entry_size(e)) < 0)
		return mk_error_errno(err, errno, "truncate '%s'", path);
	if (!(x->flags & EXTRACT_GENERIC)) {
		if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
			return mk_error_errno(err, errno, "chown '%s'", path);
		apply_xattrs(fd, e);
		if (fchmod(fd, archive_entry_perm(e)) < 0)
			return mk_error_errno(err, errno, "chmod '%s'", path);
	} else if (fchmod(fd, archive_entry_perm(e) & 0755) < 0) {
		return mk_error_errno(err, errno, "chmod '%s'", path);
	}
	set_times(fd, NULL, e, 0);
	return 0;
}

/* An overlayfs whiteout entry: .wh..wh..opq marks its directory opaque, .wh.NAME
 * becomes a 0/0 character device NAME; other .wh..wh. entries are metadata. 1
 * when e was one (handled), 0 when not, -1 with err. */
static int extract_whiteout(struct extract *x, struct archive_entry *e, const char *path,
			    struct mk_error **err)
{
	_cleanup_free_ char *target = NULL, *dir = NULL;
	_cleanup_close_ int pfd = -1;
	const char *base;
	enum mk_image_whiteout w = mk_image_whiteout_classify(path, &target);

	if (w == MK_IMAGE_WHITEOUT_META)
		return 1;
	if (w == MK_IMAGE_WHITEOUT_OPAQUE) {
		_cleanup_close_ int dfd = ensure_dir(x->root_fd, target, 0);
		_cleanup_close_ int rfd = -1;
		if (dfd < 0)
			return mk_error_errno(err, errno, "opaque dir '%s'", target);
		rfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0 || fsetxattr(rfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return mk_error_errno(err, errno, "mark '%s' opaque", target);
		return 1;
	}
	if (w != MK_IMAGE_WHITEOUT_FILE)
		return 0;
	dir = split(target, &base);
	pfd = ensure_dir(x->root_fd, dir, 0);
	if (pfd < 0)
		return mk_error_errno(err, errno, "whiteout '%s'", target);
	img_remove_tree_at(pfd, base);
	if (mknodat(pfd, base, S_IFCHR | 0, makedev(0, 0)) < 0)
		return mk_error_errno(err, errno, "whiteout '%s'", target);
	fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		 AT_SYMLINK_NOFOLLOW);
	return 1;
}

/* A hard link to an earlier entry of the layer, both resolved inside the root. */
static int make_hardlink(struct extract *x, int pfd, const char *base, const char *path,
			 const char *hardlink, struct mk_error **err)
{
	_cleanup_free_ char *t = sanitize(hardlink), *tdir = NULL;
	_cleanup_close_ int tfd = -1;
	const char *tbase;

	if (!t || !*t)
		return mk_error_set(err, EPERM, "hard link '%s' -> '%s' refers outside the layer",
				    path, hardlink);
	tdir = split(t, &tbase);
	tfd = img_open_in_root(x->root_fd, tdir, O_PATH | O_DIRECTORY, 0);
	if (tfd < 0 || linkat(tfd, tbase, pfd, base, 0) < 0)
		return mk_error_errno(err, errno, "hard link '%s' -> '%s'", path, hardlink);
	return 0;
}

static int make_dir(struct extract *x, int pfd, const char *base, struct archive_entry *e,
		    const char *path, struct mk_error **err)
{
	_cleanup_close_ int dfd = -1;
	int generic = x->flags & EXTRACT_GENERIC;

	if (mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
		return mk_error_errno(err, errno, "mkdir '%s'", path);
	dfd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return mk_error_errno(err, errno, "open '%s'", path);
	if (!generic) {
		if (fchown(dfd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
			return mk_error_errno(err, errno, "chown '%s'", path);
		apply_xattrs(dfd, e);
	}
	if (fchmod(dfd, generic ? 0755 : archive_entry_perm(e)) < 0)
		return mk_error_errno(err, errno, "chmod '%s'", path);
	set_times(dfd, NULL, e, 0);
	return 0;
}

static int make_symlink(struct extract *x, int pfd, const char *base, struct archive_entry *e,
			const char *path, struct mk_error **err)
{
	const char *t = archive_entry_symlink(e);

	/* the target is stored verbatim: it is data, resolved in the container */
	if (!t || symlinkat(t, pfd, base) < 0)
		return mk_error_errno(err, errno, "symlink '%s'", path);
	if (!(x->flags & EXTRACT_GENERIC))
		fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
			 AT_SYMLINK_NOFOLLOW);
	set_times(pfd, base, e, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* Character and block devices and FIFOs (skipped when unprivileged: generic). */
static int make_node(struct extract *x, int pfd, const char *base, struct archive_entry *e,
		     const char *path, struct mk_error **err)
{
	if (x->flags & EXTRACT_GENERIC)
		return 0;
	if (mknodat(pfd, base, archive_entry_filetype(e) | archive_entry_perm(e),
		    archive_entry_rdev(e)) < 0)
		return mk_error_errno(err, errno, "mknod '%s'", path);
	fchownat(pfd, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		 AT_SYMLINK_NOFOLLOW);
	fchmodat(pfd, base, archive_entry_perm(e), 0);
	set_times(pfd, base, e, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int extract_entry(struct extract *x, struct archive *a, struct archive_entry *e,
			 struct mk_error **err)
{
	const char *raw = archive_entry_pathname(e);
	_cleanup_free_ char *path = NULL, *dir = NULL;
	_cleanup_close_ int pfd = -1;
	const char *base;
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	struct stat st;

	if (!raw)
		return mk_error_set(err, EINVAL, "layer entry without a name");
	path = sanitize(raw);
	if (!path)
		return mk_error_set(err, EPERM, "layer entry '%s' refers outside the layer", raw);
	if (!*path)
		return 0; /* the root itself: its metadata is ours */
	if (!(x->flags & EXTRACT_GENERIC) && (x->flags & EXTRACT_OVERLAY_WHITEOUTS)) {
		int w = extract_whiteout(x, e, path, err);
		if (w != 0)
			return w < 0 ? -1 : 0;
	}

	/* whatever is at the path goes, but a directory stays for a directory */
	dir = split(path, &base);
	pfd = ensure_dir(x->root_fd, dir, 0);
	if (pfd < 0)
		return mk_error_errno(err, errno, "parent directory of '%s'", path);
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    !(S_ISDIR(st.st_mode) && type == AE_IFDIR && !hardlink)) {
		if (img_remove_tree_at(pfd, base) < 0)
			return mk_error_errno(err, errno, "replace '%s'", path);
	}
	if (hardlink)
		return make_hardlink(x, pfd, base, path, hardlink, err);
	switch (type) {
	case AE_IFREG:
		return write_file(x, a, pfd, base, e, path, err);
	case AE_IFDIR:
		return make_dir(x, pfd, base, e, path, err);
	case AE_IFLNK:
		return make_symlink(x, pfd, base, e, path, err);
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		return make_node(x, pfd, base, e, path, err);
	default:
		return 0; /* sockets and unknown types are not part of images */
	}
}

int img_extract_archive(const char *archive_path, int root_fd, int flags, char ret_diff_id[72],
		    struct mk_error **err)
{
	struct extract *x = mk_malloc0(sizeof(*x));
	struct archive *inner = NULL;
	struct archive_entry *e;
	int r = -1, ar;

	x->root_fd = root_fd;
	x->flags = flags;
	if (img_sha256_init(&x->hash) < 0) {
		free(x);
		return mk_error_set(err, EIO, "sha256 unavailable");
	}
	x->outer = archive_read_new();
	archive_read_support_filter_all(x->outer);
	archive_read_support_format_raw(x->outer);
	if (archive_read_open_filename(x->outer, archive_path, 128 * 1024) != ARCHIVE_OK ||
	    archive_read_next_header(x->outer, &e) != ARCHIVE_OK) {
		mk_error_set(err, EIO, "open layer '%s': %s", archive_path,
			     archive_error_string(x->outer));
		goto out;
	}
	inner = archive_read_new();
	archive_read_support_format_tar(inner);
	if (archive_read_open(inner, x, NULL, inner_read, NULL) != ARCHIVE_OK) {
		mk_error_set(err, EIO, "read layer '%s': %s", archive_path, archive_error_string(inner));
		goto out;
	}
	for (int count = 0;; count++) {
		ar = archive_read_next_header(inner, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar == ARCHIVE_WARN)
			ar = ARCHIVE_OK;
		if (ar != ARCHIVE_OK) {
			mk_error_set(err, EIO, "read layer '%s': %s", archive_path,
				     archive_error_string(inner));
			goto out;
		}
		if (count > 1000000) {
			mk_error_set(err, E2BIG, "layer '%s' has too many entries", archive_path);
			goto out;
		}
		if (extract_entry(x, inner, e, err) < 0) {
			mk_error_wrap(err, "layer '%s'", archive_path);
			goto out;
		}
	}
	/* the diff id covers the whole uncompressed stream, padding included */
	for (;;) {
		la_ssize_t n = archive_read_data(x->outer, x->buf, sizeof(x->buf));
		if (n < 0) {
			mk_error_set(err, EIO, "read layer '%s': %s", archive_path,
				     archive_error_string(x->outer));
			goto out;
		}
		if (n == 0)
			break;
		img_sha256_update(&x->hash, x->buf, (size_t)n);
	}
	img_sha256_final(&x->hash, ret_diff_id);
	r = 0;
out:
	if (r < 0)
		img_sha256_abort(&x->hash);
	if (inner)
		archive_read_free(inner);
	archive_read_free(x->outer);
	free(x);
	return r;
}

int mk_image_layer_unpack(const char *layer_path, const char *dest, const char *expected_diff_id,
			  char ret_diff_id[72], struct mk_error **err)
{
	_cleanup_close_ int root_fd = -1;
	char diff_id[72];

	if (mkdir(dest, 0755) < 0)
		return mk_error_errno(err, errno, "mkdir '%s'", dest);
	chmod(dest, 0755);
	root_fd = open(dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0) {
		int e = errno;
		rmdir(dest);
		return mk_error_errno(err, e, "open '%s'", dest);
	}
	if (img_extract_archive(layer_path, root_fd, EXTRACT_OVERLAY_WHITEOUTS, diff_id, err) < 0)
		goto fail;
	if (expected_diff_id && strcmp(diff_id, expected_diff_id) != 0) {
		mk_error_set(err, EILSEQ, "layer '%s': diff id mismatch: got %s, want %s", layer_path,
			     diff_id, expected_diff_id);
		goto fail;
	}
	if (ret_diff_id)
		memcpy(ret_diff_id, diff_id, 72);
	return 0;
fail:
	img_remove_tree(dest);
	return -1;
}
