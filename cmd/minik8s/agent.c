/* minik8s agent: the node agent role alone, joining a cluster through its API
 * server (k3s's `agent` command). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <pthread.h>
#include "commands.h"
#include "minik8s/agent.h"
#include "minik8s/client.h"
#include "minik8s/runtime.h"

static void agent_help(void)
{
	printf("Usage: minik8s agent --server URL --token TOKEN [FLAGS]\n\n"
	       "Runs the node agent in the foreground: registers this node with the API server,\n"
	       "runs the pods bound to it with runc, wires them to the node bridge and keeps\n"
	       "their status current.\n\n"
	       "Flags (k3s names where k3s has them):\n"
	       "  --server URL[,URL...]       API server (https://HOST:6443), or the servers of\n"
	       "                              a cluster on a shared datastore: on a connection\n"
	       "                              error the agent moves to the next and resumes its\n"
	       "                              watches there from their last resourceVersion\n"
	       "  --token TOKEN               the server's join token (DATA/node-token: the CA is\n"
	       "                              fetched and checked against it) or the bare join\n"
	       "                              secret with --ca-file; --token-file FILE reads it\n"
	       "                              from FILE. It only bootstraps: the agent asks for the\n"
	       "                              node's own credential (system:node:NAME), keeps it in\n"
	       "                              DATA/agent/node-credential (0600) and uses it from\n"
	       "                              then on, also after a restart\n"
	       "  --ca-file FILE              cluster CA to verify the API server (and the API\n"
	       "                              server's client certificate on :10250)\n"
	       "  --kubeconfig FILE           take server, token and CA from a kubeconfig instead\n"
	       "  --node-name NAME            this node's name (default: hostname)\n"
	       "  --node-ip IP                this node's InternalIP (default: first address)\n"
	       "  --data-dir DIR              state directory (default %s)\n"
	       "  --run-dir DIR               runtime directory (default %s; one agent per run dir:\n"
	       "                              it holds DIR/lock)\n"
	       "  --netns-dir DIR             pod network namespaces (default RUN/netns)\n"
	       "  --cgroup-parent PATH        cgroup of the containers (default %s)\n"
	       "  --bridge NAME               pod bridge (default mk0)\n"
	       "  --cluster-dns IP            pod nameserver (default %s)\n"
	       "  --cluster-domain DOMAIN     (default %s)\n"
	       "  --registries FILE           registries.yaml (default DATA/registries.yaml)\n"
	       "  --restart-backoff DUR[,MAX] container restart / image pull back-off (default\n"
	       "                              10s,5m; e.g. 1s,4s for tests)\n"
	       "  --kubelet-port PORT         log/exec/metrics server port (default 10250)\n"
	       "  --disable-stream            run no log/exec/metrics server (no kubectl logs,\n"
	       "                              exec or top for this node)\n"
	       "  --cluster-cidr CIDR         pods of all nodes, for egress masquerade\n"
	       "                              (default 10.244.0.0/16)\n"
	       "  --disable-proxy             run no ClusterIP balancer (nftables) here\n"
	       "  --disable-socket-lb         no socket-level ClusterIP balancing (eBPF on the\n"
	       "                              pods' cgroup, on when the kernel allows it): pods'\n"
	       "                              service traffic goes through nftables DNAT too\n"
	       "  --disable-network-policy    enforce no NetworkPolicy here\n"
	       "  --disable-dns               run no cluster DNS responder here\n"
	       "  --flannel-backend NAME      how pods reach other nodes' pods: vxlan, host-gw,\n"
	       "                              none or wireguard-native (refused: see README);\n"
	       "                              default: the server's choice, else vxlan to peers\n"
	       "                              on other subnets and direct routes to the others\n"
	       "  --flannel-iface NAME        underlay interface for vxlan (default: the one\n"
	       "                              holding --node-ip)\n"
	       "  --node-status-update-frequency DUR  how often the node renews its Lease in\n"
	       "                              kube-node-lease (heartbeat; default 10s; keep it well\n"
	       "                              below the server's --node-monitor-grace-period); the\n"
	       "                              node status is posted every 5 min or when it changes\n"
	       "  --hollow N                  run N hollow nodes instead (kubemark's idea, for\n"
	       "                              measuring the control plane at scale): each registers\n"
	       "                              its Node with its own credential, renews its Lease and\n"
	       "                              reports the pods bound to it Running and Ready without\n"
	       "                              running anything; --node-name is then the name prefix\n"
	       "                              (nodes PREFIX-0 .. PREFIX-N-1, default hollow), --node-ip\n"
	       "                              their InternalIP (default 127.0.0.1)\n"
	       "  -v N, --v=N                 log verbosity as in the Kubernetes components: 4 logs\n"
	       "                              every request, 5 and more debug messages (bare -v: 5)\n"
	       "  --verbose                   debug logging (-v 5)\n"
	       "  -h, --help                  show this help\n\n"
	       "Stop with SIGINT or SIGTERM; running pods keep running and a new agent adopts them.\n",
	       MK_AGENT_DEFAULT_DATA_DIR, MK_AGENT_DEFAULT_RUN_DIR, MK_AGENT_DEFAULT_CGROUP_PARENT,
	       MK_AGENT_DEFAULT_CLUSTER_DNS, MK_AGENT_DEFAULT_CLUSTER_DOMAIN);
}

bool cmd_flannel_backend_valid(const char *s)
{
	return !strcmp(s, "vxlan") || !strcmp(s, "host-gw") || !strcmp(s, "none") ||
	       !strcmp(s, "wireguard-native");
}

int cmd_agent_parse_backoff(const char *s, unsigned *base, unsigned *max, struct mk_error **err)
{
	_cleanup_free_ char *dup = mk_strdup(s);
	char *comma = strchr(dup, ',');
	if (comma)
		*comma++ = '\0';
	if (mk_time_parse_duration(dup, base, err) < 0)
		return -1;
	if (comma)
		return mk_time_parse_duration(comma, max, err);
	*max = *base * 30;
	return 0;
}

int cmd_agent(int argc, char **argv)
{
	enum { O_SERVER = 256, O_TOKEN, O_TOKEN_FILE, O_CA, O_KCFG, O_NNAME, O_NIP, O_DATA, O_RUN,
	       O_NETNS, O_CG, O_BRIDGE, O_DNS, O_DOMAIN, O_REG, O_BACKOFF, O_PORT, O_NOSTREAM,
	       O_CCIDR, O_NOPROXY, O_NODNS, O_HB, O_NONETPOL, O_HOLLOW, O_FLBACKEND, O_FLIFACE,
	       O_NOSOCKLB };
	static const struct option opts[] = {
		{ "server", required_argument, NULL, O_SERVER },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "token-file", required_argument, NULL, O_TOKEN_FILE },
		{ "ca-file", required_argument, NULL, O_CA },
		{ "kubeconfig", required_argument, NULL, O_KCFG },
		{ "node-name", required_argument, NULL, O_NNAME },
		{ "node-ip", required_argument, NULL, O_NIP },
		{ "data-dir", required_argument, NULL, O_DATA },
		{ "run-dir", required_argument, NULL, O_RUN },
		{ "netns-dir", required_argument, NULL, O_NETNS },
		{ "cgroup-parent", required_argument, NULL, O_CG },
		{ "bridge", required_argument, NULL, O_BRIDGE },
		{ "cluster-dns", required_argument, NULL, O_DNS },
		{ "cluster-domain", required_argument, NULL, O_DOMAIN },
		{ "registries", required_argument, NULL, O_REG },
		{ "restart-backoff", required_argument, NULL, O_BACKOFF },
		{ "kubelet-port", required_argument, NULL, O_PORT },
		{ "disable-stream", no_argument, NULL, O_NOSTREAM },
		{ "cluster-cidr", required_argument, NULL, O_CCIDR },
		{ "disable-proxy", no_argument, NULL, O_NOPROXY },
		{ "disable-socket-lb", no_argument, NULL, O_NOSOCKLB },
		{ "disable-network-policy", no_argument, NULL, O_NONETPOL },
		{ "disable-dns", no_argument, NULL, O_NODNS },
		{ "node-status-update-frequency", required_argument, NULL, O_HB },
		{ "hollow", required_argument, NULL, O_HOLLOW },
		{ "flannel-backend", required_argument, NULL, O_FLBACKEND },
		{ "flannel-iface", required_argument, NULL, O_FLIFACE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mk_agent_options o = { 0 };
	const char *server = NULL, *token = NULL, *token_file = NULL, *ca = NULL, *kcfg = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *file_token = NULL, *fetched_ca = NULL;
	char host[256];
	unsigned hollow = 0;
	int c;

	if (cmd_parse_verbosity("agent", &argc, argv) != 0)
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case O_SERVER: server = optarg; break;
		case O_TOKEN: token = optarg; break;
		case O_TOKEN_FILE: token_file = optarg; break;
		case O_CA: ca = optarg; break;
		case O_KCFG: kcfg = optarg; break;
		case O_NNAME: o.node_name = optarg; break;
		case O_NIP: o.node_ip = optarg; break;
		case O_DATA: o.data_dir = optarg; break;
		case O_RUN: o.run_dir = optarg; break;
		case O_NETNS: o.netns_dir = optarg; break;
		case O_CG: o.cgroup_parent = optarg; break;
		case O_BRIDGE: o.bridge = optarg; break;
		case O_DNS: o.cluster_dns = optarg; break;
		case O_DOMAIN: o.cluster_domain = optarg; break;
		case O_REG: o.registries_config = optarg; break;
		case O_BACKOFF:
			if (cmd_agent_parse_backoff(optarg, &o.backoff_base_ms, &o.backoff_max_ms, &err) < 0)
				return cmd_usage_error("agent", "invalid --restart-backoff '%s'", optarg);
			break;
		case O_PORT:
			o.stream_port = (uint16_t)strtoul(optarg, &end, 10);
			if (*end || !o.stream_port)
				return cmd_usage_error("agent", "invalid --kubelet-port '%s'", optarg);
			break;
		case O_NOSTREAM: o.disable_stream = true; break;
		case O_CCIDR: o.cluster_cidr = optarg; break;
		case O_NOPROXY: o.disable_proxy = true; break;
		case O_NOSOCKLB: o.disable_socket_lb = true; break;
		case O_NONETPOL: o.disable_network_policy = true; break;
		case O_NODNS: o.disable_dns = true; break;
		case O_FLBACKEND:
			if (!cmd_flannel_backend_valid(optarg))
				return cmd_usage_error("agent", "invalid --flannel-backend '%s' (vxlan, "
						       "host-gw, none, wireguard-native)", optarg);
			o.flannel_backend = optarg;
			break;
		case O_FLIFACE: o.flannel_iface = optarg; break;
		case O_HB:
			if (mk_time_parse_duration(optarg, &o.heartbeat_ms, &err) < 0 || !o.heartbeat_ms)
				return cmd_usage_error("agent", "invalid --node-status-update-frequency '%s'",
						       optarg);
			break;
		case O_HOLLOW:
			hollow = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !hollow || hollow > 100000)
				return cmd_usage_error("agent", "invalid --hollow '%s' (a node count, 1 to 100000)",
						       optarg);
			break;
		case 'v': mk_log_level = MK_LOG_DEBUG; break;
		case 'h': agent_help(); return 0;
		default:
			return cmd_bad_flag("agent", argv);
		}
	}
	if (optind < argc)
		return cmd_usage_error("agent", "unexpected argument '%s'", argv[optind]);
	if (mk_agent_options_check(&o, &err) < 0) {
		fprintf(stderr, "minik8s agent: %s\n", err->msg);
		return 1;
	}

	struct mk_client_config *cfg = NULL;
	if (kcfg) {
		if (mk_client_config_load_kubeconfig(kcfg, NULL, &cfg, &err) < 0) {
			fprintf(stderr, "minik8s agent: %s\n", err->msg);
			return 1;
		}
		if (server) {
			free(cfg->server);
			cfg->server = mk_strdup(server);
		}
	} else {
		if (!server)
			return cmd_usage_error("agent", "--server URL (or --kubeconfig) is required");
		if (token_file) {
			if (mk_fs_read_file(token_file, &file_token, NULL, &err) < 0) {
				fprintf(stderr, "minik8s agent: %s\n", err->msg);
				return 1;
			}
			file_token[strcspn(file_token, "\r\n")] = '\0';
			token = file_token;
		}
		if (!token)
			return cmd_usage_error("agent", "--token or --token-file is required");
		if (ca) {
			cfg = mk_client_config_new(server, token, ca);
		} else {
			/* a join token (DATA/node-token of the server, "K10<ca hash>::node:<secret>")
			 * pins the CA fetched from /cacerts; a bare secret trusts it as fetched */
			bool verified = false;
			_cleanup_free_ char *dir = mk_strdup_printf(
				"%s/agent", o.data_dir ? o.data_dir : MK_AGENT_DEFAULT_DATA_DIR);
			fetched_ca = mk_strdup_printf("%s/server-ca.crt", dir);
			if (mk_fs_mkdir_p(dir, 0700, &err) < 0 ||
			    mk_client_join_config(server, token, fetched_ca, &cfg, &verified, &err) < 0) {
				fprintf(stderr, "minik8s agent: %s\n", err->msg);
				return 1;
			}
			if (!verified)
				fprintf(stderr, "minik8s agent: warning: the token carries no CA hash: "
						"trusting the CA the server sent (use the server's "
						"node-token or --ca-file)\n");
			ca = fetched_ca;
		}
	}
	if (token && kcfg) {
		free(cfg->token);
		cfg->token = mk_strdup(token);
	}
	cfg->timeout_ms = 30000;
	if (hollow)
		return cmd_agent_hollow(cfg, &o, hollow);
	if (!o.node_name) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		o.node_name = host;
	}
	o.stream_client_ca = ca ? ca : cfg->ca_file;
	/* one agent per run dir: two would fight over the same containers (checked
	 * before anything is asked of the server) */
	_cleanup_close_ int run_lock = -1;
	const char *run = o.run_dir ? o.run_dir : MK_AGENT_DEFAULT_RUN_DIR;
	if (mk_fs_mkdir_p(run, 0755, &err) < 0 || mk_fs_dir_lock(run, "run dir", &run_lock, &err) < 0) {
		fprintf(stderr, "minik8s agent: %s\n", err->msg);
		mk_client_config_free(cfg);
		return 1;
	}
	/* the join token only bootstraps: from here on the node's own credential */
	{
		_cleanup_free_ char *cred = mk_strdup_printf(
			"%s/agent/node-credential", o.data_dir ? o.data_dir : MK_AGENT_DEFAULT_DATA_DIR);
		if (mk_client_node_credential(cfg, o.node_name, cred, &err) < 0) {
			fprintf(stderr, "minik8s agent: %s\n", err->msg);
			mk_client_config_free(cfg);
			return 1;
		}
	}

	sigset_t sigs;
	cmd_signals_block(&sigs);

	struct mk_client *client = NULL;
	struct mk_agent *agent = NULL;
	int rc = 1;
	if (mk_runtime_subreaper_init(&err) < 0)
		goto out;
	if (!cfg->user_agent)
		cfg->user_agent = mk_strdup("kubelet/v1.32.0 (linux/amd64) minik8s");
	if (mk_client_new(cfg, &client, &err) < 0)
		goto out;
	if (mk_agent_start(client, &o, &agent, &err) < 0)
		goto out;
	fprintf(stderr, "minik8s: agent for node %s running (pod CIDR %s, API %s)\n", o.node_name,
		mk_agent_pod_cidr(agent), cfg->server);
	int sig = 0;
	sigwait(&sigs, &sig);
	fprintf(stderr, "minik8s: %s received, stopping the agent (pods keep running)\n",
		strsignal(sig));
	rc = 0;
out:
	if (err)
		fprintf(stderr, "minik8s agent: %s\n", err->msg);
	mk_agent_stop(agent);
	mk_client_free(client);
	mk_client_config_free(cfg);
	return rc;
}
