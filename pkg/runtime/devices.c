/* The host's devices for a privileged container, as containerd gives them
 * (oci.WithHostDevices over runc's devices.HostDevices): every character and
 * block device under /dev, except the console and the directories that are
 * mounted per container (pts, shm, mqueue, fd). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "internal.h"

static void walk(cJSON *out, const char *dir, int depth)
{
	static const char *const skip_dirs[] = {"pts",	"shm",	       "fd",   "mqueue",
						".lxc", ".lxd-mounts", ".udev"};
	if (depth > 4 || cJSON_GetArraySize(out) > 4096)
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		if (!strcmp(n, ".") || !strcmp(n, ".."))
			continue;
		_cleanup_free_ char *path = mk_strdup_printf("%s/%s", dir, n);
		struct stat st;
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			bool skip = false;
			for (size_t i = 0; i < MK_ARRAY_SIZE(skip_dirs); i++)
				if (!strcmp(n, skip_dirs[i]))
					skip = true;
			if (!skip)
				walk(out, path, depth + 1);
			continue;
		}
		if ((!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) || !strcmp(n, "console"))
			continue;
		cJSON *dev = cJSON_CreateObject();
		cJSON_AddStringToObject(dev, "path", path);
		cJSON_AddStringToObject(dev, "type", S_ISCHR(st.st_mode) ? "c" : "b");
		cJSON_AddNumberToObject(dev, "major", major(st.st_rdev));
		cJSON_AddNumberToObject(dev, "minor", minor(st.st_rdev));
		cJSON_AddNumberToObject(dev, "fileMode", st.st_mode & 07777);
		cJSON_AddNumberToObject(dev, "uid", st.st_uid);
		cJSON_AddNumberToObject(dev, "gid", st.st_gid);
		cJSON_AddItemToArray(out, dev);
	}
	closedir(d);
}

cJSON *rt_host_devices(void)
{
	cJSON *out = cJSON_CreateArray();
	walk(out, "/dev", 0);
	return out;
}
