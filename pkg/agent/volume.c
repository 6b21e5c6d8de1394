/* Pod volumes the agent makes beyond plain directories:
 *   - configMap, secret, downwardAPI and projected volumes: files written with the
 *     kubelet's atomic writer layout (mk_agent_volume_write_atomic), refreshed on
 *     every sync of the pod. Each ConfigMap and Secret a pod's volumes use is
 *     watched alone (list+watch with fieldSelector=metadata.name=NAME, the
 *     kubelet's Watch change detection strategy; the Node authorizer lets a node
 *     read only the objects its pods reference), and the watch enqueues the pods
 *     that use the object when it changes, so an edit reaches the running
 *     containers within a second or so. A watch no pod needs any more ends at the
 *     next resync. Secret and projected volumes live on a tmpfs, as the kubelet
 *     keeps secrets off the disk;
 *   - emptyDir with medium Memory: a tmpfs sized by sizeLimit (the kernel's
 *     default, half of RAM, without one). sizeLimit on a disk emptyDir is not
 *     enforced: the kubelet evicts the pod when it is exceeded, we have no
 *     eviction manager yet;
 *   - subPath mounts: the sub-path is opened with openat2(RESOLVE_BENEATH), so
 *     neither ".." nor a symlink can lead outside the volume: such a path is
 *     refused, as the kubelet refuses it (RESOLVE_IN_ROOT, which pkg/image uses
 *     for layers, would instead read an absolute symlink inside the volume and
 *     mount something else than the pod named), and the opened file
 *     itself is bind-mounted (through /proc/self/fd) onto a host path of the pod,
 *     which the runtime then mounts into the container (the kubelet's safe
 *     subpath approach). Like in Kubernetes a subPath mount of a configMap file
 *     keeps the content it had when the container started.
 * Everything mounted here lies under the pod's directory and is unmounted by
 * agent_volumes_unmount on teardown (also for pods an earlier agent left). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"

#define DATA_LINK "..data"
#define DATA_TMP "..data_tmp"
#define MAX_FILES 1024

/* ---- the atomic writer (pure file system) ------------------------------------------- */

const char *mk_agent_volume_path_check(const char *path)
{
	if (!path || !*path)
		return "must not be empty";
	if (path[0] == '/')
		return "must be a relative path";
	if (mk_str_has_prefix(path, ".."))
		return "must not start with '..'";
	for (const char *p = path; *p;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && !strncmp(p, "..", 2))
			return "must not contain '..'";
		if (n == 0 || (n == 1 && *p == '.'))
			return "must not contain empty or '.' elements";
		p += n;
		if (*p == '/')
			p++;
	}
	return NULL;
}

static size_t first_len(const char *path)
{
	const char *s = strchr(path, '/');
	return s ? (size_t)(s - path) : strlen(path);
}

/* Number of regular files below dirfd (recursively); -1 if something else is there. */
static long count_files(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	long n = 0;
	if (!d) {
		close(dirfd);
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(d)) && n >= 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat sb;
		if (fstatat(dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			n = -1;
		} else if (S_ISREG(sb.st_mode)) {
			n++;
		} else if (S_ISDIR(sb.st_mode)) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			long k = fd < 0 ? -1 : count_files(fd);
			n = k < 0 ? -1 : n + k;
		} else {
			n = -1;
		}
	}
	closedir(d);
	return n;
}

/* true if the directory old (a child of dfd) holds exactly files[0..n) */
static bool same_payload(int dfd, const char *old, const struct mk_agent_volume_file *files,
			 size_t n, long gid)
{
	_cleanup_close_ int ofd = openat(dfd, old, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ofd < 0)
		return false;
	int cfd = dup(ofd);
	if (cfd < 0 || count_files(cfd) != (long)n)
		return false;
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int fd = openat(ofd, files[i].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
		    (size_t)sb.st_size != files[i].len || (sb.st_mode & 07777) != files[i].mode ||
		    (gid >= 0 && sb.st_gid != (gid_t)gid))
			return false;
		_cleanup_free_ char *buf = mk_malloc0(files[i].len + 1);
		size_t got = 0;
		while (got < files[i].len) {
			ssize_t r = read(fd, buf + got, files[i].len - got);
			if (r <= 0)
				return false;
			got += (size_t)r;
		}
		if (files[i].len && memcmp(buf, files[i].data, files[i].len))
			return false;
	}
	return true;
}

/* Creates the parent directories of path below dirfd (0755). */
static int mkdir_parents(int dirfd, const char *path, long gid)
{
	_cleanup_free_ char *p = mk_strdup(path);
	for (char *s = strchr(p, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdirat(dirfd, p, 0755) < 0) {
			if (errno != EEXIST)
				return -1;
		} else if (gid >= 0 &&
			   fchownat(dirfd, p, (uid_t)-1, (gid_t)gid, AT_SYMLINK_NOFOLLOW) < 0) {
			return -1;
		}
		*s = '/';
	}
	return 0;
}

static int write_at(int dirfd, const struct mk_agent_volume_file *f, long gid)
{
	if (mkdir_parents(dirfd, f->path, gid) < 0)
		return -1;
	_cleanup_close_ int fd =
		openat(dirfd, f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < f->len;) {
		ssize_t r = write(fd, (const char *)f->data + off, f->len - off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)r;
	}
	if (gid >= 0 && fchown(fd, (uid_t)-1, (gid_t)gid) < 0)
		return -1;
	return fchmod(fd, f->mode & 0777);
}

static bool is_timestamped(const char *name)
{
	return mk_str_has_prefix(name, "..") && name[2] >= '0' && name[2] <= '9';
}

/* Every path relative, clean and given once, every mode in range. */
static int files_validate(const struct mk_agent_volume_file *files, size_t n,
			  struct mk_error **err)
{
	for (size_t i = 0; i < n; i++) {
		const char *why = mk_agent_volume_path_check(files[i].path);
		if (why)
			return mk_error_set(err, EINVAL, "path \"%s\": %s", files[i].path ? files[i].path : "",
					    why);
		if (files[i].mode > 0777)
			return mk_error_set(err, EINVAL, "path \"%s\": mode %o out of range",
					    files[i].path, files[i].mode);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(files[i].path, files[j].path))
				return mk_error_set(err, EINVAL, "path \"%s\" given twice",
						    files[i].path);
	}
	return 0;
}

/* A new generation of dir (dfd): a timestamped directory holding every file,
 * complete before ..data is swapped to it in one rename(2). Its name goes to
 * ret_name (size bytes); on failure nothing of it is left. */
static int generation_write(const char *dir, int dfd, const struct mk_agent_volume_file *files,
			    size_t n, long gid, char *ret_name, size_t size, struct mk_error **err)
{
	char name[80];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(name, sizeof(name), "..%Y_%m_%d_%H_%M_%S.", &tm);
	snprintf(name + k, sizeof(name) - k, "%09ldXXXXXX", ts.tv_nsec);
	_cleanup_free_ char *tmpl = mk_strdup_printf("%s/%s", dir, name);
	if (!mkdtemp(tmpl))
		return mk_error_errno(err, errno, "mkdtemp in '%s'", dir);
	const char *nn = strrchr(tmpl, '/') + 1;
	_cleanup_close_ int nfd = openat(dfd, nn, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (nfd < 0 || fchmod(nfd, 0755) < 0 ||
	    (gid >= 0 && fchown(nfd, (uid_t)-1, (gid_t)gid) < 0)) {
		mk_error_errno(err, errno, "open '%s'", tmpl);
		agent_rm_rf(tmpl);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (write_at(nfd, &files[i], gid) < 0) {
			mk_error_errno(err, errno, "write '%s/%s'", tmpl, files[i].path);
			agent_rm_rf(tmpl);
			return -1;
		}
	/* the swap: rename(2) replaces ..data in one step */
	unlinkat(dfd, DATA_TMP, 0);
	if (symlinkat(nn, dfd, DATA_TMP) < 0 || renameat(dfd, DATA_TMP, dfd, DATA_LINK) < 0) {
		mk_error_errno(err, errno, "swap '%s/%s'", dir, DATA_LINK);
		agent_rm_rf(tmpl);
		return -1;
	}
	snprintf(ret_name, size, "%s", nn);
	return 0;
}

/* The top-level names: KEY -> ..data/KEY, replacing whatever else is there;
 * *changed set when one was (re)made. */
static int user_links_ensure(const char *dir, int dfd, const struct mk_agent_volume_file *files,
			     size_t n, bool *changed, struct mk_error **err)
{
	for (size_t i = 0; i < n; i++) {
		size_t fl = first_len(files[i].path);
		_cleanup_free_ char *top = strndup(files[i].path, fl);
		_cleanup_free_ char *target = mk_strdup_printf(DATA_LINK "/%s", top);
		char cur[512];
		ssize_t cl = readlinkat(dfd, top, cur, sizeof(cur) - 1);
		if (cl >= 0) {
			cur[cl] = '\0';
			if (!strcmp(cur, target))
				continue;
			unlinkat(dfd, top, 0);
		} else if (errno != ENOENT) {
			/* a file or directory where our symlink belongs: not ours to keep */
			struct stat sb;
			if (fstatat(dfd, top, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
				_cleanup_free_ char *p = mk_strdup_printf("%s/%s", dir, top);
				agent_rm_rf(p);
			}
		}
		if (symlinkat(target, dfd, top) < 0 && errno != EEXIST)
			return mk_error_errno(err, errno, "symlink '%s/%s'", dir, top);
		*changed = true;
	}
	return 0;
}

/* Removes the generations other than current and the top-level symlinks no file
 * names any more; *changed set when a symlink went. */
static int stale_remove(const char *dir, int dfd, const struct mk_agent_volume_file *files,
			size_t n, const char *current, bool *changed, struct mk_error **err)
{
	int cfd = dup(dfd);
	DIR *d = cfd >= 0 ? fdopendir(cfd) : NULL;
	if (!d) {
		if (cfd >= 0)
			close(cfd);
		return mk_error_errno(err, errno, "read '%s'", dir);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, DATA_LINK))
			continue;
		if (is_timestamped(nm)) {
			if (strcmp(nm, current)) {
				_cleanup_free_ char *p = mk_strdup_printf("%s/%s", dir, nm);
				agent_rm_rf(p);
			}
			continue;
		}
		if (mk_str_has_prefix(nm, ".."))
			continue;
		bool keep = false;
		for (size_t i = 0; i < n && !keep; i++)
			keep = first_len(files[i].path) == strlen(nm) &&
			       !strncmp(files[i].path, nm, strlen(nm));
		if (!keep) {
			struct stat sb;
			if (fstatat(dfd, nm, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode)) {
				unlinkat(dfd, nm, 0);
				*changed = true;
			}
		}
	}
	closedir(d);
	return 0;
}

int mk_agent_volume_write_atomic(const char *dir, const struct mk_agent_volume_file *files,
				 size_t n, long gid, bool *ret_changed, struct mk_error **err)
{
	char old[256] = "";
	bool changed = false;

	if (n > MAX_FILES)
		return mk_error_set(err, E2BIG, "volume '%s': more than %d files", dir, MAX_FILES);
	if (files_validate(files, n, err) < 0)
		return -1;
	if (mk_fs_mkdir_p(dir, 0755, err) < 0)
		return -1;
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return mk_error_errno(err, errno, "open '%s'", dir);
	ssize_t ol = readlinkat(dfd, DATA_LINK, old, sizeof(old) - 1);
	old[ol > 0 ? ol : 0] = '\0';

	if (!old[0] || !same_payload(dfd, old, files, n, gid)) {
		/* the new one is the current one from now on */
		if (generation_write(dir, dfd, files, n, gid, old, sizeof(old), err) < 0)
			return -1;
		changed = true;
	}
	if (user_links_ensure(dir, dfd, files, n, &changed, err) < 0)
		return -1;
	if (stale_remove(dir, dfd, files, n, old, &changed, err) < 0)
		return -1;
	if (ret_changed)
		*ret_changed = changed;
	return 0;
}

/* ---- downward API formatting ----------------------------------------------------------- */

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static void quote_go(struct mk_buf *b, const char *s)
{
	mk_buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': mk_buf_puts(b, "\\\""); break;
		case '\\': mk_buf_puts(b, "\\\\"); break;
		case '\a': mk_buf_puts(b, "\\a"); break;
		case '\b': mk_buf_puts(b, "\\b"); break;
		case '\f': mk_buf_puts(b, "\\f"); break;
		case '\n': mk_buf_puts(b, "\\n"); break;
		case '\r': mk_buf_puts(b, "\\r"); break;
		case '\t': mk_buf_puts(b, "\\t"); break;
		case '\v': mk_buf_puts(b, "\\v"); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				mk_buf_printf(b, "\\x%02x", *p);
			else
				mk_buf_append(b, (const char *)p, 1);
		}
	}
	mk_buf_puts(b, "\"");
}

char *mk_agent_volume_map_format(const cJSON *map)
{
	struct mk_buf b;
	const cJSON *it;
	size_t n = 0, k = 0;
	mk_buf_init(&b);
	cJSON_ArrayForEach(it, map)
		n++;
	const char **keys = mk_malloc0((n + 1) * sizeof(*keys));
	cJSON_ArrayForEach(it, map)
		if (it->string && cJSON_IsString(it))
			keys[k++] = it->string;
	qsort(keys, k, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < k; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(map, keys[i]);
		mk_buf_printf(&b, "%s%s=", i ? "\n" : "", keys[i]);
		quote_go(&b, v->valuestring);
	}
	free(keys);
	if (!b.data)
		mk_buf_puts(&b, "");
	return mk_buf_steal(&b);
}

/* ---- payloads ------------------------------------------------------------------------ */

struct payload {
	struct mk_agent_volume_file *f;
	char **owned; /* f[i].path and f[i].data as allocated here */
	size_t n;
	size_t f_cap, owned_cap; /* allocated elements of f and owned */
};

static void payload_add(struct payload *p, const char *path, char *data, size_t len,
			unsigned mode)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->f[i].path, path)) {
			/* a later source of a projected volume wins, as in the kubelet */
			free(p->owned[2 * i + 1]);
			p->owned[2 * i + 1] = data;
			p->f[i].data = data;
			p->f[i].len = len;
			p->f[i].mode = mode;
			return;
		}
	MK_GROW(p->f, p->f_cap, p->n + 1);
	MK_GROW(p->owned, p->owned_cap, 2 * (p->n + 1));
	char *pp = mk_strdup(path);
	p->owned[2 * p->n] = pp;
	p->owned[2 * p->n + 1] = data;
	p->f[p->n++] = (struct mk_agent_volume_file){ pp, data, len, mode };
}

static void payload_release(struct payload *p)
{
	for (size_t i = 0; i < 2 * p->n; i++)
		free(p->owned[i]);
	free(p->owned);
	free(p->f);
	memset(p, 0, sizeof(*p));
}

/* mode field of an item or a volume: 0..0777, else def (-1: invalid) */
static int mode_of(const cJSON *obj, const char *key, unsigned def, unsigned *ret)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!m || cJSON_IsNull(m)) {
		*ret = def;
		return 0;
	}
	if (!cJSON_IsNumber(m) || m->valuedouble < 0 || m->valuedouble > 0777)
		return -1;
	*ret = (unsigned)m->valuedouble;
	return 0;
}

static int source_get(struct mk_agent *a, bool secret, const char *ns, const char *name,
		      bool *ret_synced, struct mk_object **ret, struct mk_error **err);

/* A configMap or secret source (volume or projection) into p. */
static int source_object(struct mk_agent *a, const char *ns, const char *vname, const cJSON *src,
			 bool secret, const char *name_key, unsigned defmode, struct payload *p,
			 struct mk_error **err)
{
	const char *kind = secret ? "secret" : "configmap";
	const char *name = mk_json_get_string(src, name_key);
	bool optional = cJSON_IsTrue(cJSON_GetObjectItem(src, "optional"));
	const cJSON *items = cJSON_GetObjectItem(src, "items");

	if (!name || !*name)
		return mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume \"%s\" : "
				    "%s name is empty", vname, kind);
	bool synced = false;
	struct mk_object *o = NULL;
	if (source_get(a, secret, ns, name, &synced, &o, err) < 0)
		return mk_error_wrap(err, "MountVolume.SetUp failed for volume \"%s\"", vname);
	if (!synced)
		return mk_error_set(err, EAGAIN, "MountVolume.SetUp failed for volume \"%s\" : "
				    "%s \"%s\": not read yet", vname, kind, name);
	if (!o) {
		if (optional)
			return 0;
		return mk_error_set(err, EAGAIN, "MountVolume.SetUp failed for volume \"%s\" : "
				    "%s \"%s\" not found", vname, kind, name);
	}
	int r = 0;
	if (cJSON_GetArraySize(items) > 0) {
		const cJSON *it;
		size_t i = 0;
		cJSON_ArrayForEach(it, items)
		{
			const char *k = mk_json_get_string(it, "key");
			const char *path = mk_json_get_string(it, "path");
			unsigned mode;
			size_t len = 0;
			if (!k || !path || mode_of(it, "mode", defmode, &mode) < 0) {
				r = mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume \"%s\" : "
						 "items[%zu]: key, path and a mode in 0..0777 are needed",
						 vname, i);
				break;
			}
			char *data = agent_object_value(o->json, secret, k, &len);
			if (!data) {
				if (optional)
					continue;
				r = mk_error_set(err, EAGAIN, "MountVolume.SetUp failed for volume \"%s\" : "
						 "%s references non-existent %s key: %s", vname,
						 kind, secret ? "secret" : "config", k);
				break;
			}
			payload_add(p, path, data, len, mode);
			i++;
		}
	} else {
		static const char *const maps[] = { "data", "binaryData" };
		for (size_t m = 0; m < (secret ? 1 : 2); m++) {
			const cJSON *kv;
			cJSON_ArrayForEach(kv, cJSON_GetObjectItem(o->json, maps[m]))
			{
				size_t len = 0;
				char *data = kv->string ? agent_object_value(o->json, secret,
									     kv->string, &len)
							: NULL;
				if (data)
					payload_add(p, kv->string, data, len, defmode);
			}
		}
	}
	mk_object_unref(o);
	return r;
}

static const cJSON *find_container(const cJSON *pod, const char *name)
{
	static const char *const lists[] = { "spec.containers", "spec.initContainers" };
	return mk_json_find_named(pod, lists, MK_ARRAY_SIZE(lists), name);
}

/* resourceFieldRef: the container's value divided by divisor, rounded up; a
 * missing limit is the node's allocatable amount (kubelet's behaviour). */
static char *resource_value(struct mk_agent *a, const cJSON *pod, const cJSON *ref,
			    struct mk_error **err)
{
	const char *cn = mk_json_get_string(ref, "containerName");
	const char *res = mk_json_get_string(ref, "resource");
	const char *div = mk_json_get_string(ref, "divisor");
	const cJSON *c = find_container(pod, cn);
	if (!c || !res) {
		mk_error_set(err, EINVAL, "resourceFieldRef: container \"%s\" not found",
			     cn ? cn : "");
		return NULL;
	}
	bool cpu = !strcmp(res, "limits.cpu") || !strcmp(res, "requests.cpu");
	bool mem = !strcmp(res, "limits.memory") || !strcmp(res, "requests.memory");
	bool eph = !strcmp(res, "limits.ephemeral-storage") ||
		   !strcmp(res, "requests.ephemeral-storage");
	if (!cpu && !mem && !eph) {
		mk_error_set(err, EINVAL, "resourceFieldRef: unsupported resource \"%s\"", res);
		return NULL;
	}
	int milli = cpu ? 1000 : 1;
	char path[96];
	snprintf(path, sizeof(path), "resources.%s", res);
	int64_t v = mk_agent_quantity_parse(mk_json_get_string(c, path), milli);
	if (v < 0 && mk_str_has_prefix(res, "limits.")) {
		if (cpu) {
			v = sysconf(_SC_NPROCESSORS_ONLN) * 1000;
		} else if (mem) {
			v = (int64_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
		} else {
			struct statvfs sv;
			v = statvfs(a->data_dir, &sv) == 0 ? (int64_t)(sv.f_blocks * sv.f_frsize) : 0;
		}
	}
	if (v < 0)
		v = 0;
	int64_t d = div && *div ? mk_agent_quantity_parse(div, milli) : milli;
	if (d <= 0) {
		mk_error_set(err, EINVAL, "resourceFieldRef: bad divisor \"%s\"", div ? div : "");
		return NULL;
	}
	return mk_strdup_printf("%lld", (long long)((v + d - 1) / d));
}

static int source_downward(struct mk_agent *a, const cJSON *pod, const char *vname,
			   const cJSON *items, unsigned defmode, struct payload *p,
			   struct mk_error **err)
{
	const cJSON *it;
	size_t i = 0;
	cJSON_ArrayForEach(it, items)
	{
		const char *path = mk_json_get_string(it, "path");
		const char *fp = mk_json_get_string(it, "fieldRef.fieldPath");
		const cJSON *rf = cJSON_GetObjectItem(it, "resourceFieldRef");
		unsigned mode;
		char *val = NULL;
		if (!path || mode_of(it, "mode", defmode, &mode) < 0)
			return mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume \"%s\" : "
					    "items[%zu]: a path and a mode in 0..0777 are needed",
					    vname, i);
		if (fp && (!strcmp(fp, "metadata.name") || !strcmp(fp, "metadata.namespace") ||
			   !strcmp(fp, "metadata.uid"))) {
			const char *s = mk_json_get_string(pod, fp);
			val = mk_strdup(s ? s : "");
		} else if (fp && (!strcmp(fp, "metadata.labels") ||
				  !strcmp(fp, "metadata.annotations"))) {
			val = mk_agent_volume_map_format(mk_json_get(pod, fp));
		} else if (fp && (mk_str_has_prefix(fp, "metadata.labels['") ||
				  mk_str_has_prefix(fp, "metadata.annotations['"))) {
			const char *q = strchr(fp, '\'') + 1;
			const char *e = strchr(q, '\'');
			if (!e || strcmp(e, "']"))
				return mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume "
						    "\"%s\" : bad fieldPath \"%s\"", vname, fp);
			_cleanup_free_ char *k = strndup(q, (size_t)(e - q));
			const cJSON *m = mk_json_get(pod, mk_str_has_prefix(fp, "metadata.labels")
								  ? "metadata.labels"
								  : "metadata.annotations");
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
			val = mk_strdup(cJSON_IsString(v) ? v->valuestring : "");
		} else if (fp) {
			return mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume \"%s\" : "
					    "unsupported fieldPath \"%s\"", vname, fp);
		} else if (rf) {
			val = resource_value(a, pod, rf, err);
			if (!val)
				return mk_error_wrap(err, "MountVolume.SetUp failed for volume \"%s\"",
						     vname);
		} else {
			return mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume \"%s\" : "
					    "items[%zu]: fieldRef or resourceFieldRef is needed",
					    vname, i);
		}
		payload_add(p, path, val, strlen(val), mode);
		i++;
	}
	return 0;
}

/* ---- service account tokens ------------------------------------------------------------ */

/* A token the agent got for a pod through TokenRequest, bound to the pod; asked
 * for again once 80% of its lifetime has passed (the kubelet's token manager),
 * which the agent's periodic resync of every pod notices in time (600 s is the
 * shortest lifetime; the resync runs every few seconds). */
struct agent_sa_token {
	struct agent_sa_token *next;
	char *key;		/* "SA\nAUDIENCE\nSECONDS" */
	char *token;
	int64_t issued_ms, expires_ms; /* wall ms */
};

void agent_sa_tokens_free(struct agent_sa_token *t)
{
	while (t) {
		struct agent_sa_token *n = t->next;
		free(t->key);
		if (t->token)
			explicit_bzero(t->token, strlen(t->token));
		free(t->token);
		free(t);
		t = n;
	}
}

bool mk_agent_volume_token_due(int64_t issued_ms, int64_t expires_ms, int64_t now_ms)
{
	int64_t life = expires_ms - issued_ms;
	return life <= 0 || now_ms >= issued_ms + life / 10 * 8 ||
	       now_ms >= issued_ms + 24LL * 3600 * 1000;
}

static int source_sa_token(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			   const char *vname, const cJSON *src, unsigned defmode, struct payload *p,
			   struct mk_error **err)
{
	const char *path = mk_json_get_string(src, "path");
	const char *aud = mk_json_get_string(src, "audience");
	const cJSON *es = cJSON_GetObjectItem(src, "expirationSeconds");
	const char *sa = mk_json_get_string(pod, "spec.serviceAccountName");
	long long secs = cJSON_IsNumber(es) ? (long long)es->valuedouble : 3600;
	int64_t now = agent_now_ms();

	if (!path || !*path)
		return mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume \"%s\" : "
				    "serviceAccountToken: a path is needed", vname);
	if (!sa || !*sa)
		sa = "default";
	_cleanup_free_ char *key = mk_strdup_printf("%s\n%s\n%lld", sa, aud ? aud : "", secs);
	struct agent_sa_token *t;
	for (t = st->tokens; t; t = t->next)
		if (!strcmp(t->key, key))
			break;
	if (!t || mk_agent_volume_token_due(t->issued_ms, t->expires_ms, now)) {
		_cleanup_cjson_ cJSON *body = cJSON_CreateObject();
		_cleanup_cjson_ cJSON *resp = NULL;
		cJSON_AddStringToObject(body, "apiVersion", "authentication.k8s.io/v1");
		cJSON_AddStringToObject(body, "kind", "TokenRequest");
		cJSON *spec = cJSON_AddObjectToObject(body, "spec");
		cJSON *al = cJSON_AddArrayToObject(spec, "audiences");
		if (aud && *aud)
			cJSON_AddItemToArray(al, cJSON_CreateString(aud));
		cJSON_AddNumberToObject(spec, "expirationSeconds", (double)secs);
		cJSON *b = cJSON_AddObjectToObject(spec, "boundObjectRef");
		cJSON_AddStringToObject(b, "kind", "Pod");
		cJSON_AddStringToObject(b, "apiVersion", "v1");
		cJSON_AddStringToObject(b, "name", st->name);
		cJSON_AddStringToObject(b, "uid", st->uid);
		_cleanup_free_ char *url = mk_strdup_printf("/api/v1/namespaces/%s/serviceaccounts/%s/token",
							    st->ns, sa);
		if (mk_client_create(a->c, url, body, &resp, err) < 0) {
			/* a token still valid is kept until it can be replaced */
			if (t && now < t->expires_ms) {
				mk_error_free(err);
				goto have;
			}
			return mk_error_wrap(err, "MountVolume.SetUp failed for volume \"%s\" : "
					     "failed to fetch token", vname);
		}
		const char *tok = mk_json_get_string(resp, "status.token");
		const char *exp = mk_json_get_string(resp, "status.expirationTimestamp");
		time_t e = exp ? mk_time_parse(exp) : 0;
		if (!tok || !*tok || e <= 0)
			return mk_error_set(err, EIO, "MountVolume.SetUp failed for volume \"%s\" : "
					    "the TokenRequest answer holds no token", vname);
		if (!t) {
			t = mk_malloc0(sizeof(*t));
			t->key = TAKE_PTR(key);
			t->next = st->tokens;
			st->tokens = t;
		}
		free(t->token);
		t->token = mk_strdup(tok);
		t->issued_ms = now;
		t->expires_ms = (int64_t)e * 1000;
	}
have:
	payload_add(p, path, mk_strdup(t->token), strlen(t->token), defmode);
	return 0;
}

/* ---- mounts ------------------------------------------------------------------------- */

static bool is_mount_point(const char *path)
{
	struct statx sx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
	    (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
	struct stat a, b;
	_cleanup_free_ char *parent = mk_strdup_printf("%s/..", path);
	return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static int tmpfs_ensure(const char *path, const char *mode, int64_t size, struct mk_error **err)
{
	if (mk_fs_mkdir_p(path, 0755, err) < 0)
		return -1;
	if (is_mount_point(path))
		return 0;
	char opts[64];
	if (size > 0)
		snprintf(opts, sizeof(opts), "mode=%s,size=%lld", mode, (long long)size);
	else
		snprintf(opts, sizeof(opts), "mode=%s", mode);
	if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return mk_error_errno(err, errno, "mount tmpfs on '%s'", path);
	return 0;
}

int agent_volume_empty_dir(struct mk_agent *a, const cJSON *vol, const char *path,
			   struct mk_error **err)
{
	const char *medium = mk_json_get_string(vol, "emptyDir.medium");
	if (!medium || !*medium)
		return 0; /* on disk; sizeLimit is not enforced (no eviction manager) */
	if (strcmp(medium, "Memory"))
		return mk_error_set(err, EINVAL, "emptyDir medium \"%s\" is not supported", medium);
	const char *sl = mk_json_get_string(vol, "emptyDir.sizeLimit");
	int64_t size = sl ? mk_agent_quantity_parse(sl, 1) : 0;
	if (size < 0)
		return mk_error_set(err, EINVAL, "emptyDir sizeLimit \"%s\" is not a quantity", sl);
	if (tmpfs_ensure(path, "0777", size, err) < 0)
		return -1;
	return 0;
}

static void unmount_all(const char *path)
{
	/* stacked mounts: take them all off */
	for (int i = 0; i < 16 && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
		;
}

void agent_volumes_unmount(struct mk_agent *a, const char *uid)
{
	_cleanup_free_ char *prefix = agent_pod_dir(a, uid);
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	char **mps = NULL;
	size_t n = 0, plen = strlen(prefix);
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[2048];
		if (sscanf(line, "%*s %*s %*s %*s %2047s", mp) != 1)
			continue;
		/* rootfs overlays are the image package's (unmounted before) */
		if (strncmp(mp, prefix, plen) || mp[plen] != '/' ||
		    strstr(mp + plen, "/containers/"))
			continue;
		mk_strv_push(&mps, &n, mk_strdup(mp));
	}
	while (n--) {
		unmount_all(mps[n]);
		free(mps[n]);
	}
	free(mps);
}

/* The kubelet's checks of a subPath: relative, no ".." element. */
static int subpath_check(const char *sub, struct mk_error **err)
{
	if (sub[0] == '/')
		return mk_error_set(err, EINVAL, "subPath \"%s\" must be a relative path", sub);
	for (const char *p = sub; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2))
			return mk_error_set(err, EINVAL, "subPath \"%s\" must not contain '..'", sub);
		p += n;
		if (*p)
			p++;
	}
	return 0;
}

/* Makes the missing directories of sub under root, one element at a time, each
 * parent opened beneath the volume again (how); stops at the first failure,
 * which the caller's next open reports. */
static void subpath_mkdirs(int root, const char *sub, const struct open_how *how)
{
	_cleanup_free_ char *p = mk_strdup(sub);
	for (char *s = p;; s++) {
		bool last = !*s;
		if (*s != '/' && !last)
			continue;
		*s = '\0';
		char *slash = strrchr(p, '/');
		const char *base = slash ? slash + 1 : p;
		_cleanup_close_ int par = -1;
		if (slash) {
			*slash = '\0';
			par = (int)syscall(SYS_openat2, root, p, how, sizeof(*how));
			*slash = '/';
		} else {
			par = dup(root);
		}
		if (par < 0)
			break;
		if (*base && mkdirat(par, base, 0777) < 0 && errno != EEXIST)
			break;
		if (last)
			break;
		*s = '/';
	}
}

/* An O_PATH descriptor of sub inside the volume at vol_path, resolved beneath it
 * (a symlink out of the volume is EPERM); a missing sub-path is made a
 * directory. Its stat goes to ret_st. */
static int subpath_open(const char *vol_path, const char *sub, int *ret_fd, struct stat *ret_st,
			struct mk_error **err)
{
	_cleanup_close_ int root = open(vol_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return mk_error_errno(err, errno, "open volume '%s'", vol_path);
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, root, sub, &how, sizeof(how));
	if (fd < 0 && errno == ENOENT) {
		subpath_mkdirs(root, sub, &how);
		fd = (int)syscall(SYS_openat2, root, sub, &how, sizeof(how));
	}
	if (fd < 0) {
		if (errno == EXDEV || errno == ELOOP)
			return mk_error_set(err, EPERM, "subPath \"%s\" resolves outside the volume",
					    sub);
		return mk_error_errno(err, errno, "subPath \"%s\"", sub);
	}
	_cleanup_close_ int sfd = fd;
	if (fstat(sfd, ret_st) < 0)
		return mk_error_errno(err, errno, "subPath \"%s\"", sub);
	if (!S_ISDIR(ret_st->st_mode) && !S_ISREG(ret_st->st_mode))
		return mk_error_set(err, EINVAL, "subPath \"%s\" is neither a file nor a directory",
				    sub);
	*ret_fd = sfd;
	sfd = -1; /* handed out */
	return 0;
}

/* The mount point target, unmounted, of the kind (directory or file) the
 * sub-path is; one of the other kind is replaced. */
static int subpath_target_prepare(const char *target, bool is_dir, struct mk_error **err)
{
	unmount_all(target);
	struct stat tb;
	if (lstat(target, &tb) == 0 && (S_ISDIR(tb.st_mode) != is_dir)) {
		if (S_ISDIR(tb.st_mode) ? rmdir(target) : unlink(target))
			return mk_error_errno(err, errno, "remove '%s'", target);
	}
	if (is_dir) {
		if (mkdir(target, 0750) < 0 && errno != EEXIST)
			return mk_error_errno(err, errno, "mkdir '%s'", target);
	} else {
		int t = open(target, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
		if (t < 0)
			return mk_error_errno(err, errno, "create '%s'", target);
		close(t);
	}
	return 0;
}

int agent_volume_subpath(struct mk_agent *a, const char *uid, const char *ctr, size_t idx,
			 const char *vol_path, const char *sub, char **ret_path,
			 struct mk_error **err)
{
	_cleanup_close_ int sfd = -1;
	struct stat sb;
	if (subpath_check(sub, err) < 0 || subpath_open(vol_path, sub, &sfd, &sb, err) < 0)
		return -1;

	_cleanup_free_ char *pdir = agent_pod_dir(a, uid);
	_cleanup_free_ char *dir = mk_strdup_printf("%s/volume-subpaths/%s", pdir, ctr);
	_cleanup_free_ char *target = mk_strdup_printf("%s/%zu", dir, idx);
	if (mk_fs_mkdir_p(dir, 0750, err) < 0)
		return -1;
	if (subpath_target_prepare(target, S_ISDIR(sb.st_mode), err) < 0)
		return -1;
	char src[64];
	snprintf(src, sizeof(src), "/proc/self/fd/%d", sfd);
	if (mount(src, target, NULL, MS_BIND, NULL) < 0)
		return mk_error_errno(err, errno, "bind subPath \"%s\" on '%s'", sub, target);
	*ret_path = TAKE_PTR(target);
	return 0;
}

/* ---- the volumes ------------------------------------------------------------------------ */

bool agent_volume_is_projected(const cJSON *vol)
{
	return cJSON_GetObjectItem(vol, "configMap") || cJSON_GetObjectItem(vol, "secret") ||
	       cJSON_GetObjectItem(vol, "downwardAPI") || cJSON_GetObjectItem(vol, "projected");
}

/* The sources of a projected volume (src) into p, in order (a later file of the
 * same path wins). */
static int projected_sources(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			     const char *vname, const cJSON *src, unsigned defmode,
			     struct payload *p, struct mk_error **err)
{
	const cJSON *s;
	int r = 0;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(src, "sources"))
	{
		const cJSON *x;
		if ((x = cJSON_GetObjectItem(s, "configMap")))
			r = source_object(a, st->ns, vname, x, false, "name", defmode, p, err);
		else if ((x = cJSON_GetObjectItem(s, "secret")))
			r = source_object(a, st->ns, vname, x, true, "name", defmode, p, err);
		else if ((x = cJSON_GetObjectItem(s, "downwardAPI")))
			r = source_downward(a, pod, vname, cJSON_GetObjectItem(x, "items"), defmode,
					    p, err);
		else if ((x = cJSON_GetObjectItem(s, "serviceAccountToken")))
			r = source_sa_token(a, st, pod, vname, x, defmode, p, err);
		else if (cJSON_GetObjectItem(s, "clusterTrustBundle"))
			r = mk_error_set(err, EINVAL, "MountVolume.SetUp failed for volume "
					 "\"%s\" : clusterTrustBundle projections are not "
					 "supported", vname);
		if (r < 0)
			break;
	}
	return r;
}

/* The files of volume vol (configMap, secret, downwardAPI or projected) into p;
 * *ret_tmpfs: whether they belong on a tmpfs (secrets and projections, which may
 * hold tokens). */
static int volume_payload(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			  const cJSON *vol, const char *vname, struct payload *p, bool *ret_tmpfs,
			  struct mk_error **err)
{
	const cJSON *src;
	unsigned defmode = 0644;

	*ret_tmpfs = false;
	if ((src = cJSON_GetObjectItem(vol, "configMap"))) {
		if (mode_of(src, "defaultMode", 0644, &defmode) < 0)
			goto bad_mode;
		return source_object(a, st->ns, vname, src, false, "name", defmode, p, err);
	} else if ((src = cJSON_GetObjectItem(vol, "secret"))) {
		*ret_tmpfs = true;
		if (mode_of(src, "defaultMode", 0644, &defmode) < 0)
			goto bad_mode;
		return source_object(a, st->ns, vname, src, true, "secretName", defmode, p, err);
	} else if ((src = cJSON_GetObjectItem(vol, "downwardAPI"))) {
		if (mode_of(src, "defaultMode", 0644, &defmode) < 0)
			goto bad_mode;
		return source_downward(a, pod, vname, cJSON_GetObjectItem(src, "items"), defmode, p,
				       err);
	} else if ((src = cJSON_GetObjectItem(vol, "projected"))) {
		*ret_tmpfs = true;
		if (mode_of(src, "defaultMode", 0644, &defmode) < 0)
			goto bad_mode;
		return projected_sources(a, st, pod, vname, src, defmode, p, err);
	}
	return mk_error_set(err, EINVAL, "volume \"%s\": not a projected volume", vname);
bad_mode:
	return mk_error_set(err, EINVAL, "volume \"%s\": defaultMode must be in 0..0777", vname);
}

int agent_volume_project(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			 const cJSON *vol, char **ret_path, struct mk_error **err)
{
	const char *vname = mk_json_get_string(vol, "name");
	_cleanup_free_ char *pdir = NULL, *dir = NULL;
	struct payload p = { 0 };
	bool tmpfs = false;
	int r = volume_payload(a, st, pod, vol, vname, &p, &tmpfs, err);
	if (r < 0)
		goto out;

	pdir = agent_pod_dir(a, st->uid);
	dir = mk_strdup_printf("%s/volumes/%s", pdir, vname);
	if (tmpfs && (r = tmpfs_ensure(dir, "0755", 0, err)) < 0)
		goto out;
	/* fsGroup: the files belong to that group and are group-readable (kubelet's
	 * SetVolumeOwnership for read-only volumes), here at every write so that an
	 * update keeps them so */
	const cJSON *fsg = mk_json_get(pod, "spec.securityContext.fsGroup");
	long gid = cJSON_IsNumber(fsg) && fsg->valuedouble >= 0 ? (long)fsg->valuedouble : -1;
	for (size_t i = 0; gid >= 0 && i < p.n; i++)
		p.f[i].mode |= 0440;
	bool changed = false;
	r = mk_agent_volume_write_atomic(dir, p.f, p.n, gid, &changed, err);
	if (r < 0) {
		mk_error_wrap(err, "MountVolume.SetUp failed for volume \"%s\"", vname);
		goto out;
	}
	if (ret_path)
		*ret_path = TAKE_PTR(dir);
out:
	payload_release(&p);
	return r;
}

void agent_volumes_refresh(struct mk_agent *a, struct pod_state *st, const cJSON *pod)
{
	const cJSON *v;
	_cleanup_free_ char *pdir = agent_pod_dir(a, st->uid);
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
	{
		const char *name = mk_json_get_string(v, "name");
		if (!name || !agent_volume_is_projected(v))
			continue;
		/* only what a container start set up; a missing object keeps the old files */
		_cleanup_free_ char *link = mk_strdup_printf("%s/volumes/%s/" DATA_LINK, pdir, name);
		struct stat sb;
		if (lstat(link, &sb) < 0)
			continue;
		_cleanup_error_ struct mk_error *e = NULL;
		if (agent_volume_project(a, st, pod, v, NULL, &e) < 0 && e->code != EAGAIN)
			mk_log(MK_LOG_DEBUG, "agent", "pod %s/%s volume %s: %s", st->ns, st->name,
			       name, e->msg);
	}
}

/* ---- ConfigMap / Secret watches ----------------------------------------------------- */

struct agent_source {
	bool secret;
	char *ns, *name;
	struct mk_informer *inf; /* the object alone */
	struct agent_source *next;
};

static bool pod_uses(const cJSON *pod, bool secret, const char *name)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
	{
		const char *n = secret ? mk_json_get_string(v, "secret.secretName")
				       : mk_json_get_string(v, "configMap.name");
		if (n && !strcmp(n, name))
			return true;
		const cJSON *s;
		cJSON_ArrayForEach(s, mk_json_get(v, "projected.sources"))
		{
			n = mk_json_get_string(s, secret ? "secret.name" : "configMap.name");
			if (n && !strcmp(n, name))
				return true;
		}
	}
	return false;
}

static void on_source(struct mk_agent *a, const struct mk_object *old_obj,
		      const struct mk_object *new_obj, bool secret)
{
	const struct mk_object *o = new_obj ? new_obj : old_obj;
	const char *ns = mk_json_get_string(o->json, "metadata.namespace");
	const char *name = mk_json_get_string(o->json, "metadata.name");
	if (!ns || !name)
		return;
	struct mk_object **pods = NULL;
	size_t n = mk_informer_list(a->pods, &pods);
	for (size_t i = 0; i < n; i++) {
		const char *pns = mk_json_get_string(pods[i]->json, "metadata.namespace");
		const char *uid = mk_json_get_string(pods[i]->json, "metadata.uid");
		if (uid && pns && !strcmp(pns, ns) && pod_uses(pods[i]->json, secret, name))
			mk_workqueue_add(a->q, uid);
	}
	mk_object_list_free(pods, n);
}

static void on_configmap(const struct mk_object *o, const struct mk_object *n, void *ud)
{
	on_source(ud, o, n, false);
}

static void on_secret(const struct mk_object *o, const struct mk_object *n, void *ud)
{
	on_source(ud, o, n, true);
}

/* The cached ns/name (*ret a reference, NULL when it does not exist) once its watch
 * has listed it (*ret_synced); the watch starts at the first ask. */
static int source_get(struct mk_agent *a, bool secret, const char *ns, const char *name,
		      bool *ret_synced, struct mk_object **ret, struct mk_error **err)
{
	struct agent_source *s;
	int r = 0;

	*ret = NULL;
	*ret_synced = false;
	pthread_mutex_lock(&a->src_mu);
	for (s = a->sources; s; s = s->next)
		if (s->secret == secret && !strcmp(s->ns, ns) && !strcmp(s->name, name))
			break;
	if (!s) {
		_cleanup_free_ char *ens = mk_client_escape(ns), *ename = mk_client_escape(name);
		_cleanup_free_ char *path = mk_strdup_printf(
			"/api/v1/namespaces/%s/%s?fieldSelector=metadata.name%%3D%s", ens,
			secret ? "secrets" : "configmaps", ename);
		s = mk_malloc0(sizeof(*s));
		s->secret = secret;
		s->ns = mk_strdup(ns);
		s->name = mk_strdup(name);
		s->inf = mk_informer_new(a->c, path);
		mk_informer_add_handler(s->inf, secret ? on_secret : on_configmap, a);
		if (mk_informer_start(s->inf, err) < 0) {
			mk_informer_free(s->inf);
			free(s->ns);
			free(s->name);
			free(s);
			r = -1;
			goto out;
		}
		s->next = a->sources;
		a->sources = s;
	}
	if (mk_informer_has_synced(s->inf)) {
		_cleanup_free_ char *key = mk_strdup_printf("%s/%s", ns, name);
		*ret_synced = true;
		*ret = mk_informer_get(s->inf, key);
	}
out:
	pthread_mutex_unlock(&a->src_mu);
	return r;
}

static void source_free(struct agent_source *s)
{
	mk_informer_stop(s->inf);
	mk_informer_free(s->inf);
	free(s->ns);
	free(s->name);
	free(s);
}

void agent_volumes_gc(struct mk_agent *a)
{
	struct agent_source *drop = NULL, **pp;
	struct mk_object **pods = NULL;
	size_t n = mk_informer_list(a->pods, &pods);

	pthread_mutex_lock(&a->src_mu);
	pp = &a->sources;
	while (*pp) {
		struct agent_source *s = *pp;
		bool used = false;
		for (size_t i = 0; i < n && !used; i++) {
			const char *pns = mk_json_get_string(pods[i]->json, "metadata.namespace");
			used = pns && !strcmp(pns, s->ns) && pod_uses(pods[i]->json, s->secret, s->name);
		}
		if (used) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		s->next = drop;
		drop = s;
	}
	pthread_mutex_unlock(&a->src_mu);
	mk_object_list_free(pods, n);
	/* stopped outside the lock: a stopping watch may be running its handler */
	while (drop) {
		struct agent_source *next = drop->next;
		source_free(drop);
		drop = next;
	}
}

int agent_volumes_start(struct mk_agent *a, struct mk_error **err)
{
	pthread_mutex_init(&a->src_mu, NULL);
	a->sources = NULL;
	return 0;
}

void agent_volumes_stop(struct mk_agent *a)
{
	pthread_mutex_lock(&a->src_mu);
	struct agent_source *s = a->sources;
	a->sources = NULL;
	pthread_mutex_unlock(&a->src_mu);
	while (s) {
		struct agent_source *next = s->next;
		source_free(s);
		s = next;
	}
}
