/* minik8s: a mini Kubernetes in one binary. main() and the command table. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "commands.h"
#include "minik8s/util.h"

/* The flags of `server` (and so of `up`, which passes them on) and of `agent`, for
 * the completion scripts; each command's --help is the reference. */
#define SERVER_FLAGS                                                                       \
	"--data-dir --bind-address --https-listen-port --write-kubeconfig "                \
	"--write-kubeconfig-mode --token --tls-san --cluster-cidr --service-cidr "         \
	"--cluster-dns --node-name --node-ip --disable-agent --disable-controllers "       \
	"--node-monitor-grace-period --pod-eviction-timeout --run-dir --netns-dir "        \
	"--cgroup-parent --bridge --disable-proxy --disable-socket-lb --disable-dns --disable-network-policy "  \
	"--node-status-update-frequency --restart-backoff --secrets-encryption --metric-resolution "    \
	"--token-auth-file --lb-pool --max-connections --datastore-endpoint --datastore-cafile " \
	"--datastore-certfile --datastore-keyfile -v --help"
#define AGENT_FLAGS                                                                        \
	"--server --token --token-file --ca-file --kubeconfig --node-name --node-ip "      \
	"--data-dir --run-dir --netns-dir --cgroup-parent --bridge --cluster-dns "         \
	"--cluster-domain --registries --restart-backoff --kubelet-port --disable-stream " \
	"--cluster-cidr --disable-proxy --disable-socket-lb --disable-dns --disable-network-policy "           \
	"--node-status-update-frequency --hollow "                                         \
	"--verbose -v --help"

static const struct command commands[] = {
	{ "up", cmd_up, "start this node in the background and wait until it is ready",
	  "--foreground --iface --server " SERVER_FLAGS, NULL },
	{ "down", cmd_down, "stop this node and remove every trace (--purge: and its state: uninstall)",
	  "--purge --run-dir --data-dir --write-kubeconfig --netns-dir --cgroup-parent --bridge "
	  "--cluster-cidr --cluster-dns --help", NULL },
	{ "status", cmd_status, "show whether this node runs, and the cluster's nodes",
	  "--run-dir --data-dir --kubeconfig --help", NULL },
	{ "server", cmd_server, "run a whole node in the foreground: API server, controllers, agent",
	  SERVER_FLAGS, NULL },
	{ "agent", cmd_agent, "run the node agent only, joining a cluster (--server URL --token T)",
	  AGENT_FLAGS, NULL },
	{ "kubectl", cmd_kubectl, "built-in Kubernetes client (get, create, apply, ...)",
	  "--namespace -n --kubeconfig --context --server -s --token --certificate-authority "
	  "--insecure-skip-tls-verify --request-timeout --output -o --selector -l --filename -f "
	  "--all-namespaces -A --watch -w --help",
	  "get describe create apply delete run expose scale logs exec" },
	{ "trace", cmd_trace, "show the way a connection to a service takes, with live counters",
	  "--namespace -n --output -o --watch -w --kubeconfig --help", NULL },
	{ "image", cmd_image, "manage container images (ls, pull, import, rm)",
	  "--data-dir --help -q --digests --platform --registries --name --dir --remove",
	  "ls pull import rm inspect mount unmount" },
	{ "etcd-snapshot", cmd_etcd_snapshot, "save, restore, list or delete snapshots of the datastore",
	  "--name --dir --data-dir --datastore-endpoint --datastore-cafile --datastore-certfile "
	  "--datastore-keyfile --output -o --help",
	  "save restore ls delete" },
	{ "completion", cmd_completion, "print a shell completion script (bash or zsh)", "--help",
	  "bash zsh" },
	{ "version", cmd_version, "print the version", "--help", NULL },
};

const struct command *cmd_table(size_t *n)
{
	*n = MK_ARRAY_SIZE(commands);
	return commands;
}

static void usage(FILE *f)
{
	fprintf(f, "minik8s - a mini Kubernetes in one binary\n\n"
		   "Usage: minik8s COMMAND [ARGS...]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'minik8s COMMAND --help' for a command's options.\n");
}

int cmd_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "minik8s%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'minik8s%s%s --help')\n", cmd ? " " : "", cmd ? cmd : "");
	return 2;
}

int cmd_bad_flag(const char *cmd, char **argv)
{
	if (optopt)
		return cmd_usage_error(cmd, "unknown or incomplete flag '-%c'", optopt);
	return cmd_usage_error(cmd, "unknown or incomplete flag '%s'", argv[optind - 1]);
}

void cmd_signals_block(sigset_t *sigs)
{
	sigemptyset(sigs);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cmd_parse_verbosity(const char *cmd, int *argc, char **argv)
{
	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i], *val = NULL;
		if (!strcmp(a, "--")) { /* the rest is not ours */
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (!strcmp(a, "-v") || !strcmp(a, "--v")) {
			const char *next = i + 1 < *argc ? argv[i + 1] : NULL;
			if (next && next[0] >= '0' && next[0] <= '9')
				val = argv[++i];
			else if (!strcmp(a, "-v"))
				val = "5";
			else
				return cmd_usage_error(cmd, "--v needs a number (0..10)");
		} else if (!strncmp(a, "-v=", 3) || !strncmp(a, "--v=", 4)) {
			val = strchr(a, '=') + 1;
		} else {
			argv[out++] = argv[i];
			continue;
		}
		char *end;
		long v = strtol(val, &end, 10);
		if (!*val || *end || v < 0 || v > 10)
			return cmd_usage_error(cmd, "invalid verbosity '%s' (want -v N, N 0..10)", val);
		mk_log_verbosity = (int)v;
		if (v >= 5)
			mk_log_level = MK_LOG_DEBUG;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: minik8s version\n\nPrints the minik8s version and the Kubernetes API version it serves.\n");
		return 0;
	}
	if (argc > 1)
		return cmd_usage_error("version", "unexpected argument '%s'", argv[1]);
	printf("minik8s v%s (Kubernetes API v%s.%s)\n", MINIK8S_VERSION, MINIK8S_KUBE_MAJOR,
	       MINIK8S_KUBE_MINOR);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	return cmd_usage_error(NULL, "unknown command '%s'", argv[1]);
}
