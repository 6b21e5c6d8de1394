/* minik8s runtime: a runc driver.
 *
 * Containers are OCI bundles run by the runc binary under a runc root of the
 * caller's own (never /run/runc). Each container has a directory
 * STATE_DIR/<id>/ holding:
 *   config.json          the OCI runtime config (the bundle; rootfs lives elsewhere)
 *   container.log        stdout/stderr in the CRI log format
 *                        ("2026-11-26T08:00:00.000000000Z stdout F line"),
 *   container.log.1      the previous file after a rotation (one kept)
 *   shim                 {"pid":N,"starttime":T} of the container's shim
 *   init.pid             host pid of the container's init process (runc --pid-file)
 *   created, started     creation / start times (ns since the epoch, decimal)
 *   exit                 {"exitCode":N,"signal":S,"finishedAt":NS[,"oomKilled":true]}
 *                        once it exited (oomKilled: its memory cgroup's OOM kill
 *                        count grew while it ran)
 *   runc.log             runc's own log (json)
 *   attach               the shim's attach socket (SOCK_SEQPACKET) while it runs
 *
 * Every container has a shim: a small process (the minik8s-shim executable,
 * libc only, installed beside minik8s; $MINIK8S_SHIM overrides) that owns the
 * container's stdout/stderr pipes (or its pty), writes the log with a size cap,
 * is the child subreaper of the container's init and records its exit status. The
 * shim lives in its own session, so a container keeps running and logging while
 * the agent restarts; a new agent adopts it with mk_runtime_container_list() and
 * mk_runtime_container_status_get().
 *
 * Processes: PID 1 on the target VMs does not reap orphans. The agent calls
 * mk_runtime_subreaper_init() early and runs the reaper (mk_runtime_reaper_start()
 * or mk_runtime_reap_orphans() from its own loop); code that forks children it
 * waits for itself registers them (mk_runtime_child_register()) under
 * mk_runtime_children_lock(), so the reaper never steals their exit status.
 * The reaper is not optional: the kernel lets a container's init finish exiting
 * only after every process of its pid namespace was reaped, and processes of a
 * killed exec session end up as the agent's children.
 * The shim of a container is a child of the agent that created it; the reaper
 * reaps it after it exits. Shims of an agent that died are reparented to the
 * nearest subreaper above it (or PID 1).
 *
 * Thread-safety: a struct mk_runtime may be shared by threads; operations on one
 * container id must be serialised by the caller (the agent's per-pod worker). */
#ifndef MINIK8S_RUNTIME_H
#define MINIK8S_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "minik8s/util.h"

/* ---- handle ---------------------------------------------------------------- */

struct mk_runtime_config {
	const char *runc_path;     /* NULL: "runc" from PATH (looked up once, here) */
	const char *root_dir;      /* runc --root; required, created 0700 */
	const char *state_dir;     /* container directories; required, created 0700;
				    * at most 80 bytes (unix socket paths live in it) */
	const char *cgroup_parent; /* cgroupfs path under which every container gets
				    * PARENT/<id>: absolute ("/minik8s/node1", from the
				    * root of each hierarchy) or relative (to the
				    * agent's own cgroup); NULL: "minik8s" */
	size_t log_max_bytes;      /* rotate container.log at this size; 0: 10 MiB */
};

/* Opaque runtime handle; strings of the config are copied. */
struct mk_runtime;

/* Creates the directories and a handle; *ret owned, free with mk_runtime_free(). */
int mk_runtime_new(const struct mk_runtime_config *cfg, struct mk_runtime **ret,
		   struct mk_error **err);
/* Frees the handle only: containers and their shims keep running. Accepts NULL. */
void mk_runtime_free(struct mk_runtime *rt);

/* ---- container descriptions ------------------------------------------------- */

struct mk_runtime_mount {
	const char *source;      /* host path (file or directory), bind-mounted */
	const char *destination; /* absolute path in the container */
	bool readonly;
};

struct mk_runtime_kv {
	const char *key, *value;
};

/* Everything borrowed; only read during the call that takes it. */
struct mk_runtime_container_spec {
	const char *id;             /* [A-Za-z0-9][A-Za-z0-9_.-]{0,63}; unique per runtime */
	const char *rootfs;         /* absolute path of the root filesystem */
	bool rootfs_readonly;
	const char *const *args;    /* NULL-terminated, non-empty (see mk_runtime_args_merge) */
	const char *const *env;     /* "KEY=VALUE", NULL-terminated; NULL: PATH only. A
				     * PATH is added when none is given. */
	const char *cwd;            /* NULL: "/" */
	uint32_t uid, gid;
	const uint32_t *additional_gids;
	size_t n_additional_gids;
	const char *hostname;       /* NULL: the id */
	const char *netns_path;     /* network namespace to join ("/run/netns/NAME");
				     * NULL: a new, empty one */
	const char *pidns_path;     /* pid namespace to join ("/proc/PID/ns/pid" of
				     * another container); NULL: a new one */
	const char *ipcns_path;     /* ipc namespace to join; NULL: a new one */
	const struct mk_runtime_mount *mounts; /* extra bind mounts (hosts, resolv.conf) */
	size_t n_mounts;
	const char *const *capabilities; /* "CAP_X" list; NULL: Docker's default set */
	bool tty;                   /* main process on a pty (logged as stdout) */
	bool open_stdin;            /* Kubernetes' stdin: the shim keeps the process'
				     * stdin open (a pipe, or the pty) for attach;
				     * false: /dev/null (EOF) */
	bool stdin_once;            /* stdinOnce: the shim closes stdin when the first
				     * attach client that wrote to it ends its stdin */
	uint64_t nofile;            /* RLIMIT_NOFILE soft=hard; 0: 1048576 or the
				     * caller's hard limit if lower */
	int64_t memory_limit;       /* bytes; 0: unlimited */
	uint64_t cpu_shares;        /* 0: kernel default */
	int64_t cpu_quota;          /* microseconds per period; 0: unlimited */
	uint64_t cpu_period;        /* microseconds; 0: 100000 when a quota is set */
	int64_t pids_limit;         /* 0: unlimited */
	bool memory_no_swap;        /* with memory_limit: no swap on top of it (OCI
				     * memory.swap = limit; memory.swap.max 0 on v2) */
	bool memory_oom_group;      /* cgroup v2 only: memory.oom.group 1, an OOM kill
				     * takes the whole container (the kubelet's default) */
	bool no_new_privileges;     /* allowPrivilegeEscalation: false */
	bool privileged;            /* the host's devices (/dev), every device allowed,
				     * no masked or read-only paths, /sys and
				     * /sys/fs/cgroup writable */
	const struct mk_runtime_kv *annotations; /* OCI annotations (pod name, uid...) */
	size_t n_annotations;
};

/* Kubernetes' rule for the process of a container: command replaces the image's
 * ENTRYPOINT, args replaces its CMD, and a command without args drops CMD. Every
 * input is a NULL-terminated list or NULL; empty and NULL both mean "not set".
 * *ret_argv is owned (free with mk_strv_free). EINVAL when empty. */
int mk_runtime_args_merge(const char *const *entrypoint, const char *const *cmd,
			  const char *const *command, const char *const *args, char ***ret_argv,
			  struct mk_error **err);
/* Frees a NULL-terminated owned string list. Accepts NULL. */

/* Builds the OCI runtime config for spec with cgroupsPath cgroups_path (NULL: no
 * cgroupsPath). *ret owned (cJSON_Delete). EINVAL on a bad spec. */
int mk_runtime_spec_generate(const struct mk_runtime_container_spec *spec,
			     const char *cgroups_path, cJSON **ret, struct mk_error **err);

/* ---- lifecycle --------------------------------------------------------------- */

enum mk_runtime_state {
	MK_RUNTIME_STATE_UNKNOWN = 0, /* directory without runc state (failed create) */
	MK_RUNTIME_STATE_CREATED,     /* created, process not started yet */
	MK_RUNTIME_STATE_RUNNING,
	MK_RUNTIME_STATE_PAUSED,
	MK_RUNTIME_STATE_EXITED,
};
const char *mk_runtime_state_name(enum mk_runtime_state s);

struct mk_runtime_container_status {
	enum mk_runtime_state state;
	pid_t pid;           /* host pid of init while created/running; 0 otherwise */
	pid_t shim_pid;      /* 0 when the shim is gone */
	int exit_code;       /* when EXITED: 0-255, 128+signal if killed; -1 unknown */
	int signal;          /* when EXITED by a signal: its number; else 0 */
	int64_t created_ns, started_ns, finished_ns; /* since the epoch; 0: not yet */
	bool oom_killed;     /* when EXITED: the kernel's OOM killer killed a process of
			      * the container's cgroup while it ran */
};

/* Writes the bundle and starts the shim, which runs `runc create`. Returns when
 * the container is created (process waiting for start) or failed (then nothing is
 * left behind). EEXIST if the id is in use. */
int mk_runtime_container_create(struct mk_runtime *rt, const struct mk_runtime_container_spec *spec,
				struct mk_error **err);
/* `runc start`: runs the container's process. */
int mk_runtime_container_start(struct mk_runtime *rt, const char *id, struct mk_error **err);
/* create + start in one: the shim runs `runc run --detach` (one runc exec);
 * returns once the process runs, or failed (then nothing is left behind). */
int mk_runtime_container_run(struct mk_runtime *rt, const struct mk_runtime_container_spec *spec,
			     struct mk_error **err);
/* Current status into *ret. ENOENT if the id is unknown to runc and to the state dir. */
int mk_runtime_container_status_get(struct mk_runtime *rt, const char *id,
				    struct mk_runtime_container_status *ret, struct mk_error **err);
/* Sends sig to the container's init (`runc kill`). */
int mk_runtime_container_kill(struct mk_runtime *rt, const char *id, int sig, struct mk_error **err);
/* Waits until the container's exit is recorded, at most timeout_ms (-1: forever).
 * Returns 0 when exited, -1 with code ETIMEDOUT when still running. */
int mk_runtime_container_wait(struct mk_runtime *rt, const char *id, int timeout_ms,
			      struct mk_error **err);
/* SIGTERM, wait up to grace_seconds, then SIGKILL; returns once the exit is
 * recorded (status in *ret if not NULL). Fine on an already exited container. */
int mk_runtime_container_stop(struct mk_runtime *rt, const char *id, int grace_seconds,
			      struct mk_runtime_container_status *ret, struct mk_error **err);
/* `runc delete --force` (kills a running container), waits for the shim, removes
 * the container directory. Removes the container's cgroup (runc does). Fine on a
 * partly created container; ENOENT if nothing is known about id. */
int mk_runtime_container_delete(struct mk_runtime *rt, const char *id, struct mk_error **err);

struct mk_runtime_container_info {
	char *id;
	enum mk_runtime_state state; /* as runc reports it (EXITED for "stopped") */
	pid_t pid;
	char *bundle;                /* NULL for a directory runc does not know */
	cJSON *annotations;          /* object, owned; NULL if none */
};
/* Containers under this runtime's runc root, plus container directories runc does
 * not know (state UNKNOWN: leftovers of an interrupted create, to delete).
 * *ret owned: free with mk_runtime_container_list_free(*ret, *ret_n). */
int mk_runtime_container_list(struct mk_runtime *rt, struct mk_runtime_container_info **ret,
			      size_t *ret_n, struct mk_error **err);
void mk_runtime_container_list_free(struct mk_runtime_container_info *list, size_t n);

/* Path of the container's current log file (STATE_DIR/<id>/container.log). Owned. */
char *mk_runtime_container_log_path(struct mk_runtime *rt, const char *id);
/* true when /sys/fs/cgroup is the cgroup v2 unified hierarchy (runc then uses
 * v2 files: memory.max, cpu.max, cpu.weight); false on v1 or hybrid hosts. */
bool mk_runtime_cgroup2_unified(void);
/* Removes this runtime's empty cgroup parent directories (after the last delete). */
int mk_runtime_cgroup_parent_remove(struct mk_runtime *rt, struct mk_error **err);

/* ---- resource usage (stats.c) ------------------------------------------------ */

/* What the kubelet's /metrics/resource reports for a container or the node. */
struct mk_runtime_stats {
	int64_t timestamp_ns;	     /* wall clock when read, ns since the epoch */
	int64_t started_ns;	     /* container start (0 for the node) */
	bool has_cpu, has_memory;
	uint64_t cpu_usage_ns;	     /* cumulative CPU time */
	uint64_t memory_working_set; /* bytes: usage minus inactive file pages */
};
/* Usage of a running container from its cgroups (v2 or v1, found through its init
 * process). ENOENT when it does not run or has no cgroup figures. */
int mk_runtime_container_stats_get(struct mk_runtime *rt, const char *id,
				   struct mk_runtime_stats *ret, struct mk_error **err);
/* Usage of the whole node from /proc/stat and /proc/meminfo. */
int mk_runtime_node_stats_get(struct mk_runtime_stats *ret, struct mk_error **err);
/* The parsers behind them (pure): the value of KEY in a flat-keyed file ("KEY N"
 * or "KEY: N" lines, cgroup cpu.stat / memory.stat, /proc/meminfo); */
bool mk_runtime_stats_flat_get(const char *text, const char *key, uint64_t *ret);
/* usage minus inactive file pages, never below 0 (cAdvisor's working set); */
uint64_t mk_runtime_stats_working_set(uint64_t usage, uint64_t inactive_file);
/* the busy time of /proc/stat's "cpu " line in ns (-EINVAL if malformed); */
int mk_runtime_stats_proc_stat_cpu_ns(const char *text, long ticks_per_s, uint64_t *ret);
/* MemTotal - MemFree - Inactive(file) of /proc/meminfo in bytes (-EINVAL). */
int mk_runtime_stats_meminfo_working_set(const char *text, uint64_t *ret);
/* The directory of cgroup path cg (as /proc/PID/cgroup shows it) in the hierarchy
 * mounted as mountinfo (/proc/self/mountinfo's text) says: the cgroup v1 mount whose
 * super options name controller ctrl, or with ctrl NULL the cgroup2 mount; the
 * mount's root is taken off cg. Owned, or NULL when no mount shows cg. */
char *mk_runtime_stats_cgroup_dir(const char *mountinfo, const char *ctrl, const char *cg);

/* ---- logs ------------------------------------------------------------------- */

/* One parsed CRI log line: pointers borrow from the line passed in. */
struct mk_runtime_log_line {
	const char *time; /* RFC 3339 with nanoseconds */
	size_t time_len;
	bool is_stderr;
	bool partial;     /* "P": continues in the next line of the same stream */
	const char *content; /* without the trailing newline */
	size_t content_len;
};
/* Parses one line (with or without its '\n'); EINVAL if malformed. */
int mk_runtime_log_line_parse(const char *line, size_t len, struct mk_runtime_log_line *ret,
			      struct mk_error **err);

/* ---- exec ------------------------------------------------------------------- */

struct mk_runtime_exec_spec {
	const char *const *args; /* NULL-terminated, non-empty */
	const char *const *env;  /* added to (and overriding) the container's env; may be NULL */
	const char *cwd;         /* NULL: the container's */
	bool tty;                /* a pty: one fd (MK_RUNTIME_EXEC_FD_PTY) for both ways */
	bool stdin;              /* give the process a stdin pipe (else /dev/null); with
				  * tty the pty is its stdin anyway */
	unsigned short rows, cols; /* initial pty size; 0: 24x80 */
};

enum { MK_RUNTIME_EXEC_FD_STDIN, MK_RUNTIME_EXEC_FD_STDOUT, MK_RUNTIME_EXEC_FD_STDERR,
       MK_RUNTIME_EXEC_FD_PTY };

struct mk_runtime_exec;

/* Runs a process in a running container (`runc exec`), user and capabilities of
 * the container's process. With tty, the pty master arrives over runc's
 * --console-socket and the process is a child of this process after runc exits:
 * this needs mk_runtime_subreaper_init(). *ret owned: mk_runtime_exec_free(). */
int mk_runtime_exec_start(struct mk_runtime *rt, const char *id,
			  const struct mk_runtime_exec_spec *spec, struct mk_runtime_exec **ret,
			  struct mk_error **err);
/* Borrowed fd (owned by exec, close with mk_runtime_exec_close_fd), -1 when that fd
 * does not exist (no stdin pipe, or STDOUT/STDERR with a tty, PTY without). */
int mk_runtime_exec_fd(const struct mk_runtime_exec *e, int which);
/* Closes one of the fds, e.g. STDIN to send EOF. */
void mk_runtime_exec_close_fd(struct mk_runtime_exec *e, int which);
/* Sets the pty's window size (TIOCSWINSZ on the master); EINVAL without a tty. */
int mk_runtime_exec_resize(struct mk_runtime_exec *e, unsigned short rows, unsigned short cols,
			   struct mk_error **err);
/* Waits at most timeout_ms (-1: forever) for the process; *ret_exit_code is its
 * exit code, 128+N if killed by signal N. -1 with ETIMEDOUT if still running.
 * Read the output before (or while) waiting: a full pipe blocks the process. */
int mk_runtime_exec_wait(struct mk_runtime_exec *e, int timeout_ms, int *ret_exit_code,
			 struct mk_error **err);
/* Kills the process if it still runs, reaps it, closes the fds. Accepts NULL. */
void mk_runtime_exec_free(struct mk_runtime_exec *e);

/* ---- attach ------------------------------------------------------------------ */

/* An attach connection is a SOCK_SEQPACKET unix socket to the container's shim
 * (STATE_DIR/<id>/attach, as conmon's). Each packet is one message whose first
 * byte is its type; the shim sends the container's output as it reads it (no
 * history: the log has that) to every client, and closes the connection once the
 * container exited and its output is drained. */
enum {
	MK_RUNTIME_ATTACH_STDIN = 0,	   /* client -> shim: bytes for the stdin */
	MK_RUNTIME_ATTACH_STDOUT = 1,	   /* shim -> client (a tty's output too) */
	MK_RUNTIME_ATTACH_STDERR = 2,	   /* shim -> client */
	MK_RUNTIME_ATTACH_RESIZE = 4,	   /* client -> shim: uint16 rows, cols (host order) */
	MK_RUNTIME_ATTACH_STDIN_EOF = 255, /* client -> shim: this client's stdin ended */
};
/* Largest message either way, type byte included. */
#define MK_RUNTIME_ATTACH_MAX_MSG (32 * 1024)

/* Connects to the attach socket of a running container. *ret_fd owned (a
 * blocking SOCK_SEQPACKET socket). ENOENT when the container has no shim. */
int mk_runtime_attach_open(struct mk_runtime *rt, const char *id, int *ret_fd,
			   struct mk_error **err);

/* ---- child processes ---------------------------------------------------------- */

/* Makes this process the child subreaper (PR_SET_CHILD_SUBREAPER): orphans of its
 * descendants (container processes, exec'd processes) become its children. */
int mk_runtime_subreaper_init(struct mk_error **err);
/* Held (shared) by code from before it forks a child it will wait for until it
 * has registered the pid; the reaper takes it exclusively for a pass. */
void mk_runtime_children_lock(void);
void mk_runtime_children_unlock(void);
/* Marks pid as waited for by its owner: the reaper leaves it alone. Unregister
 * after the owner reaped it. */
void mk_runtime_child_register(pid_t pid);
void mk_runtime_child_unregister(pid_t pid);
/* One non-blocking pass: reaps every exited child not registered. Returns the
 * number reaped (>= 0). */
int mk_runtime_reap_orphans(void);
/* Runs argv (PATH searched) with stdio on /dev/null, registered with the reaper,
 * and waits at most timeout_ms (-1 forever; SIGKILL after). *ret_status is the
 * exit code, 128+N if killed by signal N. Use it (or register) instead of
 * system()/popen() in a process that runs the reaper: those lose their child's
 * status to it. */
int mk_runtime_command_run(const char *const *argv, int timeout_ms, int *ret_status,
			   struct mk_error **err);
/* Starts a thread reaping on SIGCHLD (installs a SIGCHLD handler with SA_RESTART;
 * do not set SIGCHLD to SIG_IGN). Idempotent. */
int mk_runtime_reaper_start(struct mk_error **err);
/* Stops and joins the thread (the handler stays, harmless). */
void mk_runtime_reaper_stop(void);

#endif
