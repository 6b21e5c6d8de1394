/* OCI runtime config (config.json) generation and Kubernetes' command/args merge.
 * Defaults follow `runc spec` and containerd's CRI defaults:
 * https://github.com/opencontainers/runtime-spec/blob/main/config-linux.md */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include "internal.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Docker's and containerd's default capability set. */
static const char *const default_caps[] = {
	"CAP_CHOWN",	  "CAP_DAC_OVERRIDE", "CAP_FSETID",	      "CAP_FOWNER",
	"CAP_MKNOD",	  "CAP_NET_RAW",      "CAP_SETGID",	      "CAP_SETUID",
	"CAP_SETFCAP",	  "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
	"CAP_KILL",	  "CAP_AUDIT_WRITE",  NULL,
};

static const char *const masked_paths[] = {
	"/proc/acpi",	     "/proc/asound",	    "/proc/kcore",   "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi",	     "/sys/firmware",	    "/sys/devices/virtual/powercap", NULL,
};

static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static void strv_add_all(char **out, size_t *n, const char *const *v)
{
	for (size_t i = 0; v && v[i]; i++)
		out[(*n)++] = mk_strdup(v[i]);
}

int mk_runtime_args_merge(const char *const *entrypoint, const char *const *cmd,
			  const char *const *command, const char *const *args, char ***ret_argv,
			  struct mk_error **err)
{
	const char *const *first, *const *second;

	/* https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#notes */
	if (mk_strv_len(command) > 0) {
		first = command;
		second = args; /* the image's CMD is dropped even when args is empty */
	} else {
		first = entrypoint;
		second = mk_strv_len(args) > 0 ? args : cmd;
	}
	size_t total = mk_strv_len(first) + mk_strv_len(second);
	if (total == 0)
		return mk_error_set(err, EINVAL, "no command specified: neither the image nor the container sets one");
	char **out = mk_malloc0((total + 1) * sizeof(char *));
	size_t n = 0;
	strv_add_all(out, &n, first);
	strv_add_all(out, &n, second);
	*ret_argv = out;
	return 0;
}

static cJSON *strv_json(const char *const *v)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; v && v[i]; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

static int env_has(const cJSON *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);
	const cJSON *e;
	int i = 0;

	cJSON_ArrayForEach(e, env)
	{
		const char *s = cJSON_GetStringValue(e);
		if (s && !strncmp(s, kv, klen) && s[klen] == '=')
			return i;
		i++;
	}
	return -1;
}

/* Adds or replaces KEY=VALUE entries in the env array. */
static void env_merge(cJSON *env, const char *const *add)
{
	for (size_t i = 0; add && add[i]; i++) {
		int at = env_has(env, add[i]);
		if (at >= 0)
			cJSON_ReplaceItemInArray(env, at, cJSON_CreateString(add[i]));
		else
			cJSON_AddItemToArray(env, cJSON_CreateString(add[i]));
	}
}

static cJSON *mount_json(const char *dest, const char *type, const char *source,
			 const char *const *options)
{
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "destination", dest);
	cJSON_AddStringToObject(m, "type", type);
	cJSON_AddStringToObject(m, "source", source);
	if (options)
		cJSON_AddItemToObject(m, "options", strv_json(options));
	return m;
}

static int path_ok(const char *p)
{
	return p && p[0] == '/' && !strstr(p, "/../") && !mk_str_has_suffix(p, "/..");
}

/* The spec's fields that would make a bad config.json (or a runc failure far from
 * the cause), refused with the field's name. */
static int spec_check(const struct mk_runtime_container_spec *spec, struct mk_error **err)
{
	if (!spec || !rt_id_valid(spec->id))
		return mk_error_set(err, EINVAL, "invalid container id '%s'",
				    spec && spec->id ? spec->id : "");
	if (!path_ok(spec->rootfs))
		return mk_error_set(err, EINVAL, "container '%s': rootfs must be an absolute path", spec->id);
	if (mk_strv_len(spec->args) == 0)
		return mk_error_set(err, EINVAL, "container '%s': no command", spec->id);
	if (spec->cwd && spec->cwd[0] != '/')
		return mk_error_set(err, EINVAL, "container '%s': working dir '%s' is not absolute",
				    spec->id, spec->cwd);
	if (spec->netns_path && !path_ok(spec->netns_path))
		return mk_error_set(err, EINVAL, "container '%s': bad netns path '%s'", spec->id,
				    spec->netns_path);
	if ((spec->pidns_path && !path_ok(spec->pidns_path)) ||
	    (spec->ipcns_path && !path_ok(spec->ipcns_path)))
		return mk_error_set(err, EINVAL, "container '%s': bad namespace path", spec->id);
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (!path_ok(spec->mounts[i].source) || !path_ok(spec->mounts[i].destination))
			return mk_error_set(err, EINVAL, "container '%s': bind mounts need absolute paths",
					    spec->id);
	for (size_t i = 0; spec->env && spec->env[i]; i++)
		if (!strchr(spec->env[i], '=') || spec->env[i][0] == '=')
			return mk_error_set(err, EINVAL, "container '%s': env entry '%s' is not KEY=VALUE",
					    spec->id, spec->env[i]);
	for (size_t i = 0; i < spec->n_annotations; i++)
		if (!spec->annotations[i].key || !spec->annotations[i].value)
			return mk_error_set(err, EINVAL, "container '%s': annotation without key or value",
					    spec->id);
	return 0;
}

/* process.env: the spec's entries, a default PATH first when they have none, and
 * TERM for a terminal (as containerd's CRI does). */
static cJSON *env_json(const struct mk_runtime_container_spec *spec)
{
	cJSON *env = cJSON_CreateArray();

	if (spec->env)
		env_merge(env, spec->env);
	if (env_has(env, "PATH=") < 0)
		cJSON_InsertItemInArray(env, 0, cJSON_CreateString(DEFAULT_PATH));
	if (spec->tty && env_has(env, "TERM=") < 0)
		cJSON_AddItemToArray(env, cJSON_CreateString("TERM=xterm"));
	return env;
}

/* RLIMIT_NOFILE: the spec's, else containerd's 1048576, but never above our own
 * hard limit: raising it needs CAP_SYS_RESOURCE, which the agent may not have. */
static cJSON *nofile_rlimit_json(uint64_t nofile)
{
	cJSON *rl = cJSON_CreateObject();

	if (!nofile) {
		struct rlimit lim;
		nofile = 1048576;
		if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_max != RLIM_INFINITY &&
		    lim.rlim_max < nofile)
			nofile = lim.rlim_max;
	}
	cJSON_AddStringToObject(rl, "type", "RLIMIT_NOFILE");
	cJSON_AddNumberToObject(rl, "hard", (double)nofile);
	cJSON_AddNumberToObject(rl, "soft", (double)nofile);
	return rl;
}

static void add_process(cJSON *c, const struct mk_runtime_container_spec *spec)
{
	cJSON *p = cJSON_AddObjectToObject(c, "process");
	cJSON_AddBoolToObject(p, "terminal", spec->tty);
	if (spec->tty) {
		cJSON *cs = cJSON_AddObjectToObject(p, "consoleSize");
		cJSON_AddNumberToObject(cs, "height", 24);
		cJSON_AddNumberToObject(cs, "width", 80);
	}
	cJSON *user = cJSON_AddObjectToObject(p, "user");
	cJSON_AddNumberToObject(user, "uid", spec->uid);
	cJSON_AddNumberToObject(user, "gid", spec->gid);
	if (spec->n_additional_gids) {
		cJSON *g = cJSON_AddArrayToObject(user, "additionalGids");
		for (size_t i = 0; i < spec->n_additional_gids; i++)
			cJSON_AddItemToArray(g, cJSON_CreateNumber(spec->additional_gids[i]));
	}
	cJSON_AddItemToObject(p, "args", strv_json(spec->args));
	cJSON_AddItemToObject(p, "env", env_json(spec));
	cJSON_AddStringToObject(p, "cwd", spec->cwd ? spec->cwd : "/");
	const char *const *caps = spec->capabilities ? spec->capabilities : default_caps;
	cJSON *capo = cJSON_AddObjectToObject(p, "capabilities");
	cJSON_AddItemToObject(capo, "bounding", strv_json(caps));
	cJSON_AddItemToObject(capo, "effective", strv_json(caps));
	cJSON_AddItemToObject(capo, "permitted", strv_json(caps));
	cJSON_AddItemToArray(cJSON_AddArrayToObject(p, "rlimits"), nofile_rlimit_json(spec->nofile));
	cJSON_AddBoolToObject(p, "noNewPrivileges", spec->no_new_privileges && !spec->privileged);
}

/* mounts: runc spec's defaults, then the caller's bind mounts */
static cJSON *mounts_json(const struct mk_runtime_container_spec *spec)
{
	cJSON *mounts = cJSON_CreateArray();
	cJSON_AddItemToArray(mounts, mount_json("/proc", "proc", "proc",
						(const char *const[]){ "nosuid", "noexec", "nodev", NULL }));
	cJSON_AddItemToArray(mounts, mount_json("/dev", "tmpfs", "tmpfs",
						(const char *const[]){ "nosuid", "strictatime", "mode=755",
								       "size=65536k", NULL }));
	cJSON_AddItemToArray(mounts, mount_json("/dev/pts", "devpts", "devpts",
						(const char *const[]){ "nosuid", "noexec", "newinstance",
								       "ptmxmode=0666", "mode=0620",
								       "gid=5", NULL }));
	cJSON_AddItemToArray(mounts, mount_json("/dev/shm", "tmpfs", "shm",
						(const char *const[]){ "nosuid", "noexec", "nodev",
								       "mode=1777", "size=65536k", NULL }));
	cJSON_AddItemToArray(mounts, mount_json("/dev/mqueue", "mqueue", "mqueue",
						(const char *const[]){ "nosuid", "noexec", "nodev", NULL }));
	/* privileged: sysfs and the cgroup tree writable, as containerd mounts them */
	const char *sys_mode = spec->privileged ? "rw" : "ro";
	cJSON_AddItemToArray(mounts, mount_json("/sys", "sysfs", "sysfs",
						(const char *const[]){ "nosuid", "noexec", "nodev", sys_mode,
								       NULL }));
	cJSON_AddItemToArray(mounts, mount_json("/sys/fs/cgroup", "cgroup", "cgroup",
						(const char *const[]){ "nosuid", "noexec", "nodev",
								       "relatime", sys_mode, NULL }));
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct mk_runtime_mount *m = &spec->mounts[i];
		cJSON_AddItemToArray(mounts, mount_json(m->destination, "bind", m->source,
							(const char *const[]){
								"rbind", "rprivate", "nosuid", "nodev",
								m->readonly ? "ro" : "rw", NULL }));
	}
	return mounts;
}

/* linux.resources: the device cgroup, memory, cpu and pids limits */
static cJSON *resources_json(const struct mk_runtime_container_spec *spec)
{
	cJSON *res = cJSON_CreateObject();
	cJSON *dev = cJSON_CreateObject();
	cJSON_AddBoolToObject(dev, "allow", spec->privileged); /* privileged: every device */
	cJSON_AddStringToObject(dev, "access", "rwm");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(res, "devices"), dev);
	if (spec->memory_limit > 0) {
		cJSON *mem = cJSON_AddObjectToObject(res, "memory");
		cJSON_AddNumberToObject(mem, "limit", (double)spec->memory_limit);
		/* swap is memory+swap in OCI: equal to the limit means no swap */
		if (spec->memory_no_swap)
			cJSON_AddNumberToObject(mem, "swap", (double)spec->memory_limit);
	}
	if (spec->memory_oom_group)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(res, "unified"), "memory.oom.group", "1");
	if (spec->cpu_shares || spec->cpu_quota > 0) {
		cJSON *cpu = cJSON_AddObjectToObject(res, "cpu");
		if (spec->cpu_shares)
			cJSON_AddNumberToObject(cpu, "shares", (double)spec->cpu_shares);
		if (spec->cpu_quota > 0) {
			cJSON_AddNumberToObject(cpu, "quota", (double)spec->cpu_quota);
			cJSON_AddNumberToObject(cpu, "period",
						(double)(spec->cpu_period ? spec->cpu_period : 100000));
		}
	}
	if (spec->pids_limit > 0)
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(res, "pids"), "limit",
					(double)spec->pids_limit);
	return res;
}

/* linux.namespaces: new ones, but the pod's network (and a target container's pid
 * and ipc, for an ephemeral container) joined by path */
static cJSON *namespaces_json(const struct mk_runtime_container_spec *spec)
{
	static const char *const ns_types[] = { "pid", "ipc", "uts", "mount", "network" };
	cJSON *ns = cJSON_CreateArray();

	for (size_t i = 0; i < MK_ARRAY_SIZE(ns_types); i++) {
		cJSON *n = cJSON_CreateObject();
		cJSON_AddStringToObject(n, "type", ns_types[i]);
		if (!strcmp(ns_types[i], "network") && spec->netns_path)
			cJSON_AddStringToObject(n, "path", spec->netns_path);
		/* an ephemeral container targeting another one shares its processes */
		if (!strcmp(ns_types[i], "pid") && spec->pidns_path)
			cJSON_AddStringToObject(n, "path", spec->pidns_path);
		if (!strcmp(ns_types[i], "ipc") && spec->ipcns_path)
			cJSON_AddStringToObject(n, "path", spec->ipcns_path);
		cJSON_AddItemToArray(ns, n);
	}
	return ns;
}

static void add_linux(cJSON *c, const struct mk_runtime_container_spec *spec,
		      const char *cgroups_path)
{
	cJSON *lin = cJSON_AddObjectToObject(c, "linux");
	if (cgroups_path)
		cJSON_AddStringToObject(lin, "cgroupsPath", cgroups_path);
	cJSON_AddItemToObject(lin, "resources", resources_json(spec));
	cJSON_AddItemToObject(lin, "namespaces", namespaces_json(spec));
	if (spec->privileged)
		cJSON_AddItemToObject(lin, "devices", rt_host_devices()); /* devices.c */
	if (!spec->privileged) {
		cJSON_AddItemToObject(lin, "maskedPaths", strv_json(masked_paths));
		cJSON_AddItemToObject(lin, "readonlyPaths", strv_json(readonly_paths));
	}
}

int mk_runtime_spec_generate(const struct mk_runtime_container_spec *spec,
			     const char *cgroups_path, cJSON **ret, struct mk_error **err)
{
	if (spec_check(spec, err) < 0)
		return -1;

	_cleanup_cjson_ cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "ociVersion", "1.0.2-dev");
	add_process(c, spec);
	cJSON *root = cJSON_AddObjectToObject(c, "root");
	cJSON_AddStringToObject(root, "path", spec->rootfs);
	cJSON_AddBoolToObject(root, "readonly", spec->rootfs_readonly);
	cJSON_AddStringToObject(c, "hostname", spec->hostname ? spec->hostname : spec->id);
	cJSON_AddItemToObject(c, "mounts", mounts_json(spec));
	add_linux(c, spec, cgroups_path);
	if (spec->n_annotations) {
		cJSON *a = cJSON_AddObjectToObject(c, "annotations");
		for (size_t i = 0; i < spec->n_annotations; i++)
			mk_json_set_string(a, spec->annotations[i].key, spec->annotations[i].value);
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int rt_exec_process_json(const cJSON *config, const struct mk_runtime_exec_spec *spec,
			 char **ret_json, struct mk_error **err)
{
	const cJSON *proc = cJSON_GetObjectItemCaseSensitive(config, "process");

	if (!cJSON_IsObject(proc))
		return mk_error_set(err, EINVAL, "container config has no process");
	if (mk_strv_len(spec->args) == 0)
		return mk_error_set(err, EINVAL, "exec: no command");
	if (spec->cwd && spec->cwd[0] != '/')
		return mk_error_set(err, EINVAL, "exec: working dir '%s' is not absolute", spec->cwd);
	_cleanup_cjson_ cJSON *p = cJSON_Duplicate(proc, 1);
	if (!p)
		return mk_error_set(err, ENOMEM, "exec: copy process");
	mk_json_set(p, "args", strv_json(spec->args));
	mk_json_set(p, "terminal", cJSON_CreateBool(spec->tty));
	cJSON_DeleteItemFromObjectCaseSensitive(p, "consoleSize");
	if (spec->tty) {
		cJSON *cs = cJSON_AddObjectToObject(p, "consoleSize");
		cJSON_AddNumberToObject(cs, "height", spec->rows ? spec->rows : 24);
		cJSON_AddNumberToObject(cs, "width", spec->cols ? spec->cols : 80);
	}
	if (spec->cwd)
		mk_json_set_string(p, "cwd", spec->cwd);
	cJSON *env = cJSON_GetObjectItemCaseSensitive(p, "env");
	if (!cJSON_IsArray(env)) {
		env = cJSON_CreateArray();
		mk_json_set(p, "env", env);
	}
	env_merge(env, spec->env);
	if (spec->tty && env_has(env, "TERM=") < 0)
		cJSON_AddItemToArray(env, cJSON_CreateString("TERM=xterm"));
	char *s = cJSON_PrintUnformatted(p);
	if (!s)
		return mk_error_set(err, ENOMEM, "exec: print process");
	*ret_json = mk_strdup(s);
	cJSON_free(s);
	return 0;
}
