/* overlayfs rootfs per container: the image's unpacked layers as lowerdirs (top
 * first), the container's own upper and work dirs. */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include "internal.h"

/* overlayfs splits lowerdir on ':' and ',' and treats '\' as escape */
static int path_ok(const char *p)
{
	return !strpbrk(p, ":,\\");
}

int mk_image_rootfs_mount(struct mk_image_store *s, const char *image_ref,
			  const char *container_dir, char **ret_rootfs, struct mk_error **err)
{
	char **diff_ids = NULL;
	_cleanup_free_ char *upper = mk_strdup_printf("%s/upper", container_dir);
	_cleanup_free_ char *work = mk_strdup_printf("%s/work", container_dir);
	_cleanup_free_ char *rootfs = mk_strdup_printf("%s/rootfs", container_dir);
	struct mk_buf opts;
	size_t n = 0;
	int r = -1;

	if (img_store_image_layers(s, image_ref, &diff_ids, err) < 0)
		return -1;
	for (n = 0; diff_ids[n]; n++)
		;
	if (n == 0) {
		mk_strv_free(diff_ids);
		return mk_error_set(err, EINVAL, "image '%s' has no layers", image_ref);
	}
	if (!path_ok(s->dir) || !path_ok(container_dir)) {
		mk_strv_free(diff_ids);
		return mk_error_set(err, EINVAL, "overlay paths must not contain ':', ',' or '\\'");
	}
	mk_buf_init(&opts);
	mk_buf_puts(&opts, "lowerdir=");
	for (size_t i = n; i-- > 0;) {
		_cleanup_free_ char *l = img_store_layer_path(s, diff_ids[i]);
		if (access(l, F_OK) < 0) {
			mk_error_errno(err, errno, "layer '%s' of image '%s'", l, image_ref);
			goto out;
		}
		mk_buf_printf(&opts, "%s%s", l, i ? ":" : "");
	}
	mk_buf_printf(&opts, ",upperdir=%s,workdir=%s", upper, work);
	if (opts.len >= 4096) {
		/* mount(2) copies at most one page of options */
		mk_error_set(err, E2BIG, "image '%s' has too many layers for one overlay mount (%zu)",
			     image_ref, n);
		goto out;
	}
	if (mk_fs_mkdir_p(upper, 0755, err) < 0 || mk_fs_mkdir_p(work, 0700, err) < 0 ||
	    mk_fs_mkdir_p(rootfs, 0755, err) < 0)
		goto out;
	{
		struct stat a, b;
		if (stat(rootfs, &a) == 0 && stat(container_dir, &b) == 0 && a.st_dev != b.st_dev) {
			mk_error_set(err, EBUSY, "'%s' is already mounted", rootfs);
			goto out;
		}
	}
	if (mount("overlay", rootfs, "overlay", 0, opts.data) < 0) {
		mk_error_errno(err, errno, "mount overlay on '%s'", rootfs);
		goto out;
	}
	if (ret_rootfs)
		*ret_rootfs = TAKE_PTR(rootfs);
	r = 0;
out:
	mk_buf_release(&opts);
	mk_strv_free(diff_ids);
	return r;
}

int mk_image_rootfs_unmount(const char *container_dir, int remove, struct mk_error **err)
{
	_cleanup_free_ char *rootfs = mk_strdup_printf("%s/rootfs", container_dir);
	static const char *dirs[] = { "rootfs", "upper", "work" };

	/* a stacked mount (mounted twice by mistake) unmounts layer by layer */
	for (int i = 0; i < 8; i++) {
		if (umount2(rootfs, UMOUNT_NOFOLLOW) == 0)
			continue;
		if (errno == EINVAL || errno == ENOENT)
			break; /* not a mount point (any more) */
		if (errno == EBUSY && umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
			continue;
		return mk_error_errno(err, errno, "unmount '%s'", rootfs);
	}
	if (!remove)
		return 0;
	for (size_t i = 0; i < MK_ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *p = mk_strdup_printf("%s/%s", container_dir, dirs[i]);
		if (img_remove_tree(p) < 0 && errno != ENOENT)
			return mk_error_errno(err, errno, "remove '%s'", p);
	}
	return 0;
}
