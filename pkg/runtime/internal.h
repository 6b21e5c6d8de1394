/* Private helpers of the runtime package. */
#ifndef MINIK8S_RUNTIME_INTERNAL_H
#define MINIK8S_RUNTIME_INTERNAL_H

#include <sys/types.h>
#include "minik8s/runtime.h"

#define RT_DEFAULT_LOG_MAX (10u * 1024 * 1024)
/* the shim executable's name, looked up beside the running executable */
#define RT_SHIM_NAME "minik8s-shim"
/* overrides where the shim executable is (an absolute path) */
#define RT_SHIM_PATH_ENV "MINIK8S_SHIM"
/* fd the shim reports its start-up result on */
#define RT_SHIM_SYNC_FD 3

struct mk_runtime {
	char *runc;
	char *root;
	char *state;
	char *cgroup_parent;
	size_t log_max;
	char *shim; /* the minik8s-shim executable; NULL: not found (creates fail) */
};

/* runtime.c */
int rt_id_valid(const char *id);
/* STATE/<id>[/name]; owned */
char *rt_ctr_path(struct mk_runtime *rt, const char *id, const char *name);
/* Spawns argv (argv[0] is rt->runc) with in, out, errfd as its stdio and the
 * signal mask cleared; registers the child (mk_runtime_child_register) and opens
 * its pidfd (*ret_pidfd, -1 if that failed) under the children lock. */
int rt_runc_spawn(struct mk_runtime *rt, const char *const *argv, int in, int out, int errfd,
		  pid_t *ret_pid, int *ret_pidfd, struct mk_error **err);
/* Runs runc with the global flags and args (NULL-terminated); stdin /dev/null.
 * Captures stdout into *ret_out (owned; may be NULL) and stderr into the error.
 * Fails (EIO, or ETIMEDOUT after timeout_ms) unless runc exits 0. */
int rt_runc(struct mk_runtime *rt, const char *const *args, char **ret_out, int timeout_ms,
	    struct mk_error **err);
/* Removes a directory tree without following symlinks or crossing mount points. */
int rt_rm_rf(const char *path, struct mk_error **err);
/* Starttime (field 22 of /proc/PID/stat) or 0 if the process is gone. */
unsigned long long rt_proc_starttime(pid_t pid);
int64_t rt_now_ns(void);
/* Reads a decimal int64 from a file; 0 if missing or malformed. */
int64_t rt_read_i64(const char *path);
/* Writes a decimal int64, renamed into place without fsync (STATE files). */
int rt_write_i64(const char *path, int64_t v, struct mk_error **err);
/* A fresh unix socket path in the state dir, bound and listening (fd owned). */
int rt_console_socket(struct mk_runtime *rt, char **ret_path, int *ret_fd, struct mk_error **err);
/* Receives one fd sent with SCM_RIGHTS on a connected socket; -1 with errno. */
int rt_recv_fd(int sock);
/* Waits for a pidfd to become readable (the process exited), at most
 * timeout_ms (-1 forever). 1 exited, 0 timeout, -1 error. */
int rt_pidfd_wait(int pidfd, int timeout_ms);

/* spec.c */
/* The process object of a container's config.json with args/env/cwd/tty
 * overridden for an exec. *ret owned. */
int rt_exec_process_json(const cJSON *config, const struct mk_runtime_exec_spec *spec,
			 char **ret_json, struct mk_error **err);

/* shim.c */
/* Spawns the shim for container id; waits for it to report the create result
 * (start: `runc run --detach`, the process running when it reports). */
int rt_shim_spawn(struct mk_runtime *rt, const char *id, bool tty, bool start, int stdin_mode,
		  pid_t *ret_pid, struct mk_error **err);
/* stdin_mode of rt_shim_spawn: the container's stdin */
enum { RT_STDIN_NONE = 0, RT_STDIN_OPEN = 1, RT_STDIN_ONCE = 2 };

/* cgroup.c: the file holding the OOM kill counter of pid's memory cgroup
 * (owned; NULL if unknown) and the counter in it (-1 when unreadable) */
char *rt_cgroup_oom_file(pid_t pid);
int64_t rt_cgroup_oom_kills(const char *file);

/* devices.c: the host's device nodes as OCI linux.devices entries (owned) */
cJSON *rt_host_devices(void);

/* attach.c: the attach socket's address through /proc/self/fd/DIRFD/attach */
struct sockaddr_un;
int rt_attach_sockaddr(int dirfd, struct sockaddr_un *sa);
/* pid of the container's shim if it still runs (verified by its start time), else 0 */
pid_t rt_shim_pid(struct mk_runtime *rt, const char *id);

/* shimlib.c: libc-only helpers shared with the minik8s-shim binary (it links
 * shimlib.o alone); rt_proc_starttime, rt_now_ns, rt_read_i64, rt_recv_fd,
 * rt_attach_sockaddr, rt_cgroup_oom_* and the log writer live there too */
/* vasprintf that aborts on failure; owned */
char *rt_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The whole file, NUL-terminated (owned), or NULL with errno. */
char *rt_file_read(const char *path);
/* Writes path atomically (a temporary file, fsync when durable, rename), mode 0600;
 * -1 with errno. */
int rt_file_write_atomic(const char *path, const char *data, size_t len, bool durable);

/* the log writer the shim uses (shimlib.c) */
struct rt_log {
	int fd;
	char *path, *path_old;
	size_t size, max;
	struct rt_log_stream {
		char buf[16384];
		size_t len;
	} streams[2];
};
int rt_log_open(struct rt_log *l, const char *path, size_t max);
/* Appends data from stream (0 stdout, 1 stderr) as CRI lines. */
void rt_log_feed(struct rt_log *l, int stream, const char *data, size_t len);
/* Writes what is left of a stream as a final line. */
void rt_log_flush(struct rt_log *l, int stream);
void rt_log_close(struct rt_log *l);

#endif
