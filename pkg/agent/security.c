/* A container's securityContext as the kubelet and containerd's CRI plugin turn
 * it into an OCI process: the effective context (the container's fields over the
 * pod's, securitycontext.DetermineEffectiveSecurityContext), the user and groups
 * (runAsUser, runAsGroup, the image's /etc/passwd and /etc/group,
 * supplementalGroups, fsGroup), the runAsNonRoot check (kubelet's
 * verifyRunAsNonRoot), capabilities (containerd's default set, add/drop with
 * "ALL"), privileged, allowPrivilegeEscalation (no_new_privs) and
 * readOnlyRootFilesystem. Also fsGroup's volume ownership (kubelet's
 * SetVolumeOwnership). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

/* containerd's (and Docker's) default set */
static const char *const default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

/* Every capability Linux knows (capability.h, up to CAP_CHECKPOINT_RESTORE):
 * what "ALL" and privileged give */
static const char *const all_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
    NULL,
};

const char *const *mk_agent_caps_default(void)
{
	return default_caps;
}

const char *const *mk_agent_caps_all(void)
{
	return all_caps;
}

/* The capabilities this process can hand out (its bounding set), as containerd
 * gives a privileged container the capabilities it has itself: a container
 * runtime inside a restricted sandbox cannot grant more. All if unreadable. */
static uint64_t own_bounding_set(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long v;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapBnd: %llx", &v) == 1)
			return v;
	return UINT64_MAX;
}

/* The field of the effective context: the container's, else the pod's (only the
 * fields both levels have are looked up at the pod level). */
static const cJSON *eff(const cJSON *pod, const cJSON *c, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(c, "securityContext"), key);
	if (v && !cJSON_IsNull(v))
		return v;
	v = cJSON_GetObjectItemCaseSensitive(mk_json_get(pod, "spec.securityContext"), key);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static const cJSON *cfield(const cJSON *c, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(c, "securityContext"), key);
	return v && !cJSON_IsNull(v) ? v : NULL;
}

static bool is_id(const cJSON *v)
{
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 4294967295.0;
}

static bool numeric(const char *s, uint32_t *ret)
{
	char *end;
	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v > 0xffffffffUL)
		return false;
	*ret = (uint32_t)v;
	return true;
}

/* Looks up a passwd entry of rootfs by name (or by uid when name is NULL). */
static bool passwd_find(const char *rootfs, const char *name, uint32_t uid, char **ret_name,
			uint32_t *ret_uid, uint32_t *ret_gid)
{
	if (!rootfs)
		return false;
	_cleanup_free_ char *path = mk_strdup_printf("%s/etc/passwd", rootfs);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[1024];
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *save = NULL;
		char *n = strtok_r(line, ":", &save);
		char *pw = strtok_r(NULL, ":", &save);
		char *pu = strtok_r(NULL, ":", &save), *pg = strtok_r(NULL, ":", &save);
		uint32_t u, g;
		(void)pw;
		if (!n || !numeric(pu, &u) || !numeric(pg, &g))
			continue;
		if (name ? strcmp(n, name) : u != uid)
			continue;
		if (ret_name)
			*ret_name = mk_strdup(n);
		*ret_uid = u;
		*ret_gid = g;
		return true;
	}
	return false;
}

static bool group_find(const char *rootfs, const char *name, uint32_t *ret_gid)
{
	if (!rootfs)
		return false;
	_cleanup_free_ char *path = mk_strdup_printf("%s/etc/group", rootfs);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		char *save = NULL;
		char *n = strtok_r(line, ":", &save);
		strtok_r(NULL, ":", &save);
		char *g = strtok_r(NULL, ":\r\n", &save);
		if (n && !strcmp(n, name) && numeric(g, ret_gid))
			return true;
	}
	return false;
}

/* The additional gids being collected: distinct, in the order found. */
struct gid_list {
	uint32_t *v;
	size_t n, cap;
};

static void gid_add(struct gid_list *l, uint32_t g)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i] == g)
			return;
	MK_GROW(l->v, l->cap, l->n + 1);
	l->v[l->n++] = g;
}

/* Groups of rootfs' /etc/group that list user among their members. */
static void member_groups(struct gid_list *l, const char *rootfs, const char *user)
{
	if (!rootfs || !user)
		return;
	_cleanup_free_ char *path = mk_strdup_printf("%s/etc/group", rootfs);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		/* name:password:gid:member,member */
		char *p1 = strchr(line, ':'), *p2 = p1 ? strchr(p1 + 1, ':') : NULL;
		char *p3 = p2 ? strchr(p2 + 1, ':') : NULL;
		if (!p3)
			continue;
		*p3 = '\0';
		uint32_t g;
		if (!numeric(p2 + 1, &g))
			continue;
		char *save = NULL;
		for (char *m = strtok_r(p3 + 1, ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (!strcmp(m, user))
				gid_add(l, g);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* "net_admin", "CAP_NET_ADMIN" -> "CAP_NET_ADMIN" (owned) */
static char *cap_name(const char *s)
{
	char *c = mk_str_has_prefix(s, "CAP_") || mk_str_has_prefix(s, "cap_")
		      ? mk_strdup(s)
		      : mk_strdup_printf("CAP_%s", s);
	for (char *p = c; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return c;
}

static bool list_has(const cJSON *arr, const char *v)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, arr) if (cJSON_IsString(it) &&
					!strcasecmp(it->valuestring, v)) return true;
	return false;
}

struct capset {
	char **v;
	size_t n;
};

static void caps_set(struct capset *cs, const char *const *from)
{
	for (size_t i = 0; i < cs->n; i++)
		free(cs->v[i]);
	cs->n = 0;
	for (size_t i = 0; from && from[i]; i++)
		mk_strv_push(&cs->v, &cs->n, mk_strdup(from[i]));
}

/* all_caps restricted to the bounding set mask (index = capability number) */
static void caps_set_all(struct capset *cs, uint64_t mask)
{
	caps_set(cs, NULL);
	for (size_t i = 0; all_caps[i]; i++) {
		if (i < 64 && !(mask & (1ULL << i)))
			continue;
		mk_strv_push(&cs->v, &cs->n, mk_strdup(all_caps[i]));
	}
}

static void caps_add(struct capset *cs, const char *cap)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i], cap))
			return;
	mk_strv_push(&cs->v, &cs->n, mk_strdup(cap));
}

static void caps_drop(struct capset *cs, const char *cap)
{
	for (size_t i = 0; i < cs->n; i++)
		if (!strcmp(cs->v[i], cap)) {
			free(cs->v[i]);
			memmove(&cs->v[i], &cs->v[i + 1], (cs->n - i - 1) * sizeof(char *));
			cs->n--;
			return;
		}
}

/* "name_namespace(uid)", the kubelet's format.Pod */
static char *pod_desc(const cJSON *pod)
{
	const char *n = mk_json_get_string(pod, "metadata.name");
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const char *uid = mk_json_get_string(pod, "metadata.uid");
	return mk_strdup_printf("%s_%s(%s)", n ? n : "", ns ? ns : "", uid ? uid : "");
}

/* The user a container runs as, as far as its image and runAsUser tell. */
struct run_user {
	uint32_t uid, gid;
	char *user;	  /* passwd name of uid in the image, owned, NULL if none */
	char *img_name;	  /* the image's user when it is a name, owned; NULL when numeric */
	uint32_t img_uid; /* the image's user when numeric */
};

static void run_user_release(struct run_user *u)
{
	free(u->user);
	free(u->img_name);
}

/* The image's user: "uid", "uid:gid", "name", "name:group", looked up in the
 * rootfs' passwd and group files. A name that is not found is an error unless
 * runAsUser (have_ru) or runAsGroup (have_rg) replaces it. */
static int image_user_parse(const char *image_user, const char *rootfs, const char *cname,
			    bool have_ru, bool have_rg, struct run_user *ru,
			    struct mk_error **err)
{
	if (!image_user || !*image_user)
		return 0;
	_cleanup_free_ char *u = mk_strdup(image_user);
	char *colon = strchr(u, ':');
	if (colon)
		*colon++ = '\0';
	if (numeric(u, &ru->uid)) {
		ru->img_uid = ru->uid;
		uint32_t pu;
		passwd_find(rootfs, NULL, ru->uid, &ru->user, &pu, &ru->gid);
	} else if (*u) {
		ru->img_name = mk_strdup(u);
		if (!passwd_find(rootfs, u, 0, &ru->user, &ru->uid, &ru->gid) && !have_ru)
			return mk_error_set(err, EINVAL,
					    "container %s: unable to find user %s: "
					    "no matching entries in passwd file",
					    cname, u);
	}
	if (colon && *colon && !numeric(colon, &ru->gid) &&
	    !group_find(rootfs, colon, &ru->gid) && !have_rg)
		return mk_error_set(err, EINVAL,
				    "container %s: unable to find group %s: "
				    "no matching entries in group file",
				    cname, colon);
	return 0;
}

/* kubelet's verifyRunAsNonRoot, with its messages */
static int verify_run_as_non_root(const cJSON *pod, const char *cname, const cJSON *run_as_user,
				  const struct run_user *u, struct mk_error **err)
{
	_cleanup_free_ char *desc = pod_desc(pod);
	if (run_as_user) {
		if (run_as_user->valuedouble == 0)
			return mk_error_set(err, EPERM,
					    "container's runAsUser breaks non-root "
					    "policy (pod: \"%s\", container: %s)",
					    desc, cname);
	} else if (u->img_name) {
		return mk_error_set(err, EPERM,
				    "container has runAsNonRoot and image has "
				    "non-numeric user (%s), cannot verify user is non-root "
				    "(pod: \"%s\", container: %s)",
				    u->img_name, desc, cname);
	} else if (u->img_uid == 0) {
		return mk_error_set(err, EPERM,
				    "container has runAsNonRoot and image will run "
				    "as root (pod: \"%s\", container: %s)",
				    desc, cname);
	}
	return 0;
}

/* Additional groups into s: the primary one, the image's memberships of user,
 * then supplementalGroups and fsGroup (pod level only); sorted. */
static void groups_resolve(struct mk_agent_security *s, const cJSON *pod, const char *rootfs,
			   const char *user)
{
	struct gid_list l = {0};
	gid_add(&l, s->gid);
	member_groups(&l, rootfs, user);
	const cJSON *g;
	cJSON_ArrayForEach(g, mk_json_get(pod, "spec.securityContext.supplementalGroups"))
		if (is_id(g))
			gid_add(&l, (uint32_t)g->valuedouble);
	const cJSON *fsg = mk_json_get(pod, "spec.securityContext.fsGroup");
	if (is_id(fsg)) {
		s->fs_group = (int64_t)fsg->valuedouble;
		gid_add(&l, (uint32_t)s->fs_group);
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_u32);
	s->groups = l.v;
	s->n_groups = l.n;
}

/* Capabilities (NULL-terminated, owned): privileged gets all; else the default
 * set, "ALL" added, "ALL" dropped, then single adds, then single drops
 * (containerd's order). */
static char **caps_resolve(const cJSON *c, bool privileged)
{
	struct capset cs = {0};
	uint64_t bounding = own_bounding_set();
	if (privileged)
		caps_set_all(&cs, bounding);
	else
		caps_set(&cs, default_caps);
	const cJSON *sc = cJSON_GetObjectItemCaseSensitive(c, "securityContext");
	const cJSON *add = mk_json_get(sc, "capabilities.add");
	const cJSON *drop = mk_json_get(sc, "capabilities.drop");
	if (!privileged) {
		if (list_has(add, "ALL"))
			caps_set_all(&cs, bounding);
		if (list_has(drop, "ALL"))
			caps_set(&cs, NULL);
		const cJSON *it;
		cJSON_ArrayForEach(it, add) if (cJSON_IsString(it) &&
						strcasecmp(it->valuestring, "ALL"))
		{
			_cleanup_free_ char *n = cap_name(it->valuestring);
			caps_add(&cs, n);
		}
		cJSON_ArrayForEach(it, drop) if (cJSON_IsString(it) &&
						 strcasecmp(it->valuestring, "ALL"))
		{
			_cleanup_free_ char *n = cap_name(it->valuestring);
			caps_drop(&cs, n);
		}
	}
	if (!cs.v)
		cs.v = mk_malloc0(sizeof(char *));
	cs.v[cs.n] = NULL;
	return cs.v;
}

int mk_agent_security_resolve(const cJSON *pod, const cJSON *c, const char *image_user,
			      const char *rootfs, struct mk_agent_security *ret,
			      struct mk_error **err)
{
	struct mk_agent_security s = {.fs_group = -1};
	const char *cname = mk_json_get_string(c, "name");
	const cJSON *ru = eff(pod, c, "runAsUser"), *rg = eff(pod, c, "runAsGroup");
	struct run_user u _cleanup_(run_user_release) = {0};

	if (!cname)
		cname = "";
	if ((ru && !is_id(ru)) || (rg && !is_id(rg)))
		return mk_error_set(err, EINVAL,
				    "container %s: runAsUser and runAsGroup must be "
				    "between 0 and 4294967295",
				    cname);
	if (image_user_parse(image_user, rootfs, cname, ru, rg, &u, err) < 0)
		return -1;
	if (cJSON_IsTrue(eff(pod, c, "runAsNonRoot")) &&
	    verify_run_as_non_root(pod, cname, ru, &u, err) < 0)
		return -1;

	if (ru) {
		/* containerd's WithUserID: the group of that uid in the image, else 0 */
		u.uid = (uint32_t)ru->valuedouble;
		u.gid = 0;
		free(u.user);
		u.user = NULL;
		uint32_t pu;
		passwd_find(rootfs, NULL, u.uid, &u.user, &pu, &u.gid);
	}
	if (rg)
		u.gid = (uint32_t)rg->valuedouble;
	s.uid = u.uid;
	s.gid = u.gid;
	groups_resolve(&s, pod, rootfs, u.user);

	s.privileged = cJSON_IsTrue(cfield(c, "privileged"));
	s.caps = caps_resolve(c, s.privileged);
	/* AddNoNewPrivileges: only an explicit false; privileged never */
	const cJSON *ape = cfield(c, "allowPrivilegeEscalation");
	s.no_new_privileges = !s.privileged && cJSON_IsFalse(ape);
	s.readonly_rootfs = cJSON_IsTrue(cfield(c, "readOnlyRootFilesystem"));
	*ret = s;
	return 0;
}

void mk_agent_security_release(struct mk_agent_security *s)
{
	if (!s)
		return;
	free(s->groups);
	mk_strv_free(s->caps);
	s->groups = NULL;
	s->caps = NULL;
	s->n_groups = 0;
}

/* ---- fsGroup ownership of volumes ------------------------------------------------- */

/* One file: group fs_group, group read/write (read-only: read), directories also
 * setgid and group-searchable (kubelet's SetVolumeOwnership). Symlinks are left
 * alone (lchown only, no chmod through them). */
static int own_one(int dirfd, const char *name, const struct stat *st, gid_t g, bool ro)
{
	if (fchownat(dirfd, name, (uid_t)-1, g, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
		return -1;
	if (S_ISLNK(st->st_mode))
		return 0;
	mode_t mask = ro ? 0440 : 0660;
	if (S_ISDIR(st->st_mode))
		mask |= S_ISGID | 0110;
	return fchmodat(dirfd, name, (st->st_mode & 07777) | mask, 0) < 0 && errno != ENOENT ? -1
											     : 0;
}

static int own_tree(int fd, gid_t g, bool ro, int depth)
{
	if (depth > 64)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (own_one(dirfd(d), de->d_name, &st, g, ro) < 0)
			r = -1;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0 && own_tree(sub, g, ro, depth + 1) < 0)
				r = -1;
		}
	}
	closedir(d);
	return r;
}

int mk_agent_volume_ownership_set(const char *dir, int64_t fs_group, bool on_root_mismatch,
				  bool readonly, struct mk_error **err)
{
	struct stat st;
	gid_t g = (gid_t)fs_group;
	if (fs_group < 0)
		return 0;
	if (lstat(dir, &st) < 0)
		return mk_error_errno(err, errno, "fsGroup: stat '%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return 0;
	/* fsGroupChangePolicy OnRootMismatch: the root tells whether to walk */
	mode_t want = readonly ? 0440 : 0660;
	if (on_root_mismatch && st.st_gid == g && (st.st_mode & S_ISGID) &&
	    (st.st_mode & want) == want)
		return 0;
	if (own_one(AT_FDCWD, dir, &st, g, readonly) < 0)
		return mk_error_errno(err, errno, "fsGroup: chown '%s'", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return mk_error_errno(err, errno, "fsGroup: open '%s'", dir);
	if (own_tree(fd, g, readonly, 0) < 0)
		return mk_error_errno(err, errno, "fsGroup: ownership of '%s'", dir);
	return 0;
}

int agent_volume_fsgroup_set(const cJSON *pod, const char *name, const char *path, int64_t fs_group,
			     struct mk_error **err)
{
	static const char *const rw_kinds[] = {"emptyDir", "persistentVolumeClaim", "ephemeral"};
	static const char *const ro_kinds[] = {"configMap", "secret", "downwardAPI", "projected"};
	const cJSON *v, *vol = NULL;
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
	{
		const char *n = mk_json_get_string(v, "name");
		if (n && name && !strcmp(n, name))
			vol = v;
	}
	if (!vol || fs_group < 0)
		return 0;
	const char *policy = mk_json_get_string(pod, "spec.securityContext.fsGroupChangePolicy");
	bool root_only = policy && !strcmp(policy, "OnRootMismatch");
	for (size_t i = 0; i < MK_ARRAY_SIZE(rw_kinds); i++)
		if (cJSON_GetObjectItemCaseSensitive(vol, rw_kinds[i]))
			return mk_agent_volume_ownership_set(path, fs_group, root_only, false, err);
	for (size_t i = 0; i < MK_ARRAY_SIZE(ro_kinds); i++)
		if (cJSON_GetObjectItemCaseSensitive(vol, ro_kinds[i]))
			return mk_agent_volume_ownership_set(path, fs_group, root_only, true, err);
	return 0;
}
