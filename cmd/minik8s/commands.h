/* The command table's entries: one file per command under cmd/minik8s/. Only
 * cmd/ prints to the user or exits. Each returns the process exit code. */
#ifndef MINIK8S_CMD_COMMANDS_H
#define MINIK8S_CMD_COMMANDS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "minik8s/version.h"

int cmd_server(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_kubectl(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_trace(int argc, char **argv);

/* The command table (main.c): name, entry point, one-line summary, and for the
 * completion scripts the command's flags and subcommands (space-separated, or NULL). */
struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
	const char *flags;
	const char *subcommands;
};
const struct command *cmd_table(size_t *n);

struct mk_error;
/* --restart-backoff DUR[,MAX] of the agent (cmd/minik8s/agent.c); MAX defaults to 30 x DUR. */
/* `minik8s agent --hollow N` (agent_hollow.c): takes cfg; o->node_name is the prefix */
struct mk_agent_options;
struct mk_client_config;
int cmd_agent_hollow(struct mk_client_config *cfg, const struct mk_agent_options *o, unsigned count);
/* Whether s names a --flannel-backend (vxlan, host-gw, none, wireguard-native). */
bool cmd_flannel_backend_valid(const char *s);
/* server_info.c: `minik8s status` about a server. cmd_datastore_describe: the
 * datastore as "sqlite PATH (embedded)", "etcd URLS" or "postgres URL", without a
 * password (owned). cmd_server_info_write: DATA/server-info.json of the running
 * server. cmd_server_info_pid: its pid while it runs, else 0. cmd_status_server:
 * prints its datastore, URL and identity and the cluster's leader. */
char *cmd_datastore_describe(const char *endpoint, const char *sqlite_path);
int cmd_server_info_write(const char *data_dir, const char *url, const char *kubeconfig,
			  const char *identity, const char *datastore, struct mk_error **err);
pid_t cmd_server_info_pid(const char *data_dir);
char *cmd_server_info_kubeconfig(const char *data_dir); /* its --write-kubeconfig (owned) or NULL */
void cmd_status_server(const char *data_dir, const char *kcfg);
int cmd_agent_parse_backoff(const char *s, unsigned *base_ms, unsigned *max_ms, struct mk_error **err);

/* Takes the Kubernetes components' verbosity flag (-v N, -v=N, --v N, --v=N; N 0..10)
 * out of argv (argc updated) and sets mk_log_verbosity; N >= 5 also logs debug
 * messages. A bare -v not followed by a number means -v 5. Returns 0, or the usage
 * exit code 2 after printing the error for command cmd. */
int cmd_parse_verbosity(const char *cmd, int *argc, char **argv);

/* Prints "minik8s: MSG" to stderr plus a hint to run --help; returns 2 (usage). */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The usage error (returns 2) for the flag getopt_long (opterr 0) just refused: an
 * unknown or incomplete short flag (optopt) or long flag (argv[optind - 1]). */
int cmd_bad_flag(const char *cmd, char **argv);

/* For a long-running command that takes SIGINT and SIGTERM synchronously with
 * sigwait(sigs): fills sigs with them and blocks them in this thread and in every
 * thread it starts after; ignores SIGPIPE (a closed peer is an error return). */
void cmd_signals_block(sigset_t *sigs);

#endif
