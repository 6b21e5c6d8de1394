/* minik8s server: the API server on its store (SQLite, or PostgreSQL or etcd with --datastore-endpoint), in the foreground. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <pthread.h>
#include "commands.h"
#include "minik8s/apiserver.h"
#include "minik8s/controller.h"
#include "minik8s/store.h"
#include "minik8s/agent.h"
#include "minik8s/client.h"
#include "minik8s/api.h"

struct server_flags {
	const char *data_dir;
	const char *bind_address;
	unsigned port;
	const char *kubeconfig;
	mode_t kubeconfig_mode;
	const char *token;
	const char *cluster_cidr, *service_cidr, *cluster_dns;
	const char *node_name, *node_ip;
	const char *tls_san[16];
	int n_san;
	int disable_agent;
	int disable_controllers;
	int secrets_encryption;
	unsigned node_grace_ms, eviction_ms;
	unsigned metric_resolution_ms;
	const char *token_auth_file;
	const char *lb_pool;
	unsigned max_connections;
	const char *datastore_endpoint;
	const char *datastore_cafile, *datastore_certfile, *datastore_keyfile;
	struct mk_agent_options agent; /* the in-process agent's own flags */
};

static void server_help(void)
{
	printf("Usage: minik8s server [FLAGS]\n\n"
	       "Runs a whole node in the foreground: the Kubernetes-compatible API server on\n"
	       "its store (SQLite, or PostgreSQL or etcd with --datastore-endpoint), the scheduler and\n"
	       "controllers (unless --disable-controllers; they run\n"
	       "while it holds the Lease kube-system/kube-controller-manager) and the node\n"
	       "agent with its service balancer and cluster DNS (unless --disable-agent).\n"
	       "It writes a kubeconfig that kubectl (real or 'minik8s kubectl') can use.\n"
	       "'minik8s up' runs this in the background.\n\n"
	       "Flags (k3s names):\n"
	       "  --data-dir DIR              state directory (default /var/lib/minik8s)\n"
	       "  --datastore-endpoint URL    where the objects live: sqlite://PATH, or\n"
	       "                              postgres://USER[:PASS]@HOST[:PORT]/DB[?...] (or a\n"
	       "                              libpq 'key=value ...' string), which several servers\n"
	       "                              may share (each with its own --data-dir), or etcd v3:\n"
	       "                              http(s)://HOST:2379[,http(s)://HOST:2379...] (its\n"
	       "                              members; keys under /registry, or a path on the\n"
	       "                              first URL); default: SQLite in DIR/state.db.\n"
	       "                              Servers sharing one keep a Lease each in kube-system\n"
	       "                              (the kubernetes Endpoints list the live ones) and\n"
	       "                              elect one leader for the controllers\n"
	       "  --datastore-cafile FILE     CA of the etcd members' certificates (https://)\n"
	       "  --datastore-certfile FILE   client certificate for etcd (--client-cert-auth)\n"
	       "  --datastore-keyfile FILE    its key\n"
	       "  --bind-address IP           address to listen on (default 0.0.0.0)\n"
	       "  --https-listen-port PORT    HTTPS port (default 6443)\n"
	       "  --write-kubeconfig FILE     kubeconfig to write (default /etc/minik8s/kubeconfig)\n"
	       "  --write-kubeconfig-mode M   its file mode, octal (default 0600)\n"
	       "  --token SECRET              join secret agents use with 'up --server URL --token T'\n"
	       "                              (default: generated once; the full join token is in\n"
	       "                              DIR/node-token, mode 0600). On a shared datastore\n"
	       "                              it is the cluster token: the first server stores the\n"
	       "                              cluster's CA, tokens and keys there sealed with it\n"
	       "                              (AES-256-GCM), and every later server must be given\n"
	       "                              the same token to load them (a wrong one: refused)\n"
	       "  --tls-san NAME|IP[,...]     extra names or addresses for the serving\n"
	       "                              certificate (repeatable); on a shared datastore it\n"
	       "                              also names the servers already registered\n"
	       "  --cluster-cidr CIDR         pod network (default 10.244.0.0/16)\n"
	       "  --service-cidr CIDR         service network (default 10.96.0.0/12)\n"
	       "  --cluster-dns IP            cluster DNS service address (default 10.96.0.10)\n"
	       "  --node-name NAME            this node's name (default: hostname)\n"
	       "  --node-ip IP                this node's address (added to the certificate)\n"
	       "  --flannel-backend NAME      the cluster's pod network backend, published for\n"
	       "                              joining agents: vxlan, host-gw, none or\n"
	       "                              wireguard-native (refused: see README); default:\n"
	       "                              vxlan to peers on other subnets, direct routes to\n"
	       "                              the others (flannel's DirectRouting)\n"
	       "  --flannel-iface NAME        this node's underlay interface for vxlan\n"
	       "  --disable-agent             run no node agent in this process\n"
	       "  --disable-controllers       run no scheduler or controllers (bare API server)\n"
	       "  --secrets-encryption        store Secrets encrypted (AES-256-GCM) with the key in\n"
	       "                              DIR/cred/secrets-encryption.key (0600, made on first\n"
	       "                              use); Secrets written before are encrypted on their\n"
	       "                              next write. Once the key exists it is always loaded,\n"
	       "                              so encrypted Secrets stay readable without the flag\n"
	       "  --lb-pool CIDR              LoadBalancer services get one address each from CIDR\n"
	       "                              (/16 to /32, e.g. in the nodes' subnet), held by one\n"
	       "                              Ready node and announced by ARP; without it they get\n"
	       "                              the Ready nodes' addresses (k3s ServiceLB's way)\n"
	       "  --max-connections N         authenticated connections the API server holds at\n"
	       "                              once (default 1024; a watch is one): raise it for\n"
	       "                              hundreds of nodes (e.g. agent --hollow); connections\n"
	       "                              not yet authenticated have their own budget\n"
	       "  --node-monitor-grace-period DUR  silence before a node is NotReady (default 40s)\n"
	       "  --pod-eviction-timeout DUR  NotReady time before its pods are deleted (default 5m)\n"
	       "  --metric-resolution DUR     how often the agents' CPU and memory figures are\n"
	       "                              scraped for metrics.k8s.io, 'kubectl top' (default\n"
	       "                              15s, as metrics-server)\n"
	       "  --token-auth-file FILE      users by static bearer token, one a line as\n"
	       "                              kube-apiserver reads them: token,user,uid,\"g1,g2\"\n"
	       "                              (groups optional). Users and service accounts may\n"
	       "                              do what RBAC Roles/ClusterRoles bound to them (or\n"
	       "                              their groups) allow; the admin token is\n"
	       "                              system:admin in group system:masters (everything)\n"
	       "  --run-dir, --netns-dir, --cgroup-parent, --bridge, --restart-backoff DUR[,MAX],\n"
	       "  --disable-proxy, --disable-socket-lb, --disable-dns, --disable-network-policy,\n"
	       "  --node-status-update-frequency DUR\n"
	       "                              the agent's flags (see 'minik8s agent --help')\n"
	       "  -v N, --v=N                 log verbosity as in the Kubernetes components (default\n"
	       "                              0): 4 logs every API request (verb, URI, status,\n"
	       "                              latency, user, client address), 5 and more debug\n"
	       "                              messages\n"
	       "  -h, --help                  show this help\n\n"
	       "The API is served over TLS with a cluster CA kept in DIR/tls/ca.crt and requires\n"
	       "'Authorization: Bearer TOKEN' on every request except /healthz, /readyz, /livez\n"
	       "and /cacerts. The admin token is in DIR/token (0600; also in the kubeconfig).\n"
	       "The join secret (DIR/node-token) only bootstraps: with it an agent gets its node's\n"
	       "own credential (system:node:NAME), which the Node authorizer limits to what that\n"
	       "node needs (its Node and Lease, its pods' status, the objects its pods use).\n"
	       "Only one process may use a data dir (it holds DIR/lock) or a run dir (RUN/lock).\n"
	       "Stop with SIGINT or SIGTERM.\n");
}

static int write_kubeconfig(const struct server_flags *f, const char *ca_path,
			    const char *token, struct mk_error **err)
{
	_cleanup_free_ char *ca = NULL, *ca64 = NULL, *dir = NULL, *text = NULL;
	size_t ca_len;
	const char *host = f->bind_address;

	if (!strcmp(host, "0.0.0.0"))
		host = "127.0.0.1";
	if (mk_fs_read_file(ca_path, &ca, &ca_len, err) < 0)
		return -1;
	ca64 = mk_base64_encode(ca, ca_len);
	dir = mk_strdup(f->kubeconfig);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mk_fs_mkdir_p(dir, 0755, err) < 0)
			return -1;
	}
	text = mk_strdup_printf("apiVersion: v1\n"
				"kind: Config\n"
				"clusters:\n"
				"- cluster:\n"
				"    certificate-authority-data: %s\n"
				"    server: https://%s:%u\n"
				"  name: minik8s\n"
				"contexts:\n"
				"- context:\n"
				"    cluster: minik8s\n"
				"    user: admin\n"
				"  name: minik8s\n"
				"current-context: minik8s\n"
				"preferences: {}\n"
				"users:\n"
				"- name: admin\n"
				"  user:\n"
				"    token: %s\n",
				ca64, host, f->port, token);
	return mk_fs_write_file(f->kubeconfig, text, strlen(text), f->kubeconfig_mode, err);
}

/* Encryption at rest: the resources flagged encrypt_at_rest (Secrets) are sealed with
 * the key in DATA/cred/secrets-encryption.key when --secrets-encryption is given (the
 * key made on first use); an existing key is loaded without the flag too, so what it
 * sealed stays readable (new writes are then stored in the clear). */
static int setup_encryption(const struct server_flags *f, unsigned char key[MK_STORE_KEY_LEN],
			    const char **encrypt, size_t max, struct mk_store_options *so,
			    struct mk_error **err)
{
	_cleanup_free_ char *dir = mk_strdup_printf("%s/cred", f->data_dir);
	_cleanup_free_ char *path = mk_strdup_printf("%s/secrets-encryption.key", dir);
	bool found = false;
	size_t n = 0, nr;
	const struct mk_api_resource *rs = mk_api_resources(&nr);

	if (f->secrets_encryption && mk_fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	if (mk_store_key_load(path, f->secrets_encryption, key, &found, err) < 0)
		return -1;
	if (!found)
		return 0;
	so->key = key;
	for (size_t i = 0; f->secrets_encryption && i < nr && n + 1 < max; i++)
		if (rs[i].encrypt_at_rest)
			encrypt[n++] = rs[i].name;
	encrypt[n] = NULL;
	so->encrypt = encrypt;
	if (f->secrets_encryption)
		mk_log(MK_LOG_INFO, "server", "secrets encryption at rest: on (key %s)", path);
	return 0;
}

/* A secret kept in a 0600 file: the given value (saved), else the file's, else a new
 * random one (saved). */
static int load_secret(const char *path, const char *given, char **ret, struct mk_error **err)
{
	char *tok = NULL;

	if (!given && access(path, F_OK) == 0) {
		if (mk_fs_read_file(path, &tok, NULL, err) < 0)
			return -1;
		tok[strcspn(tok, "\r\n")] = '\0';
		if (!*tok) {
			free(tok);
			return mk_error_set(err, EINVAL, "secret file '%s' is empty", path);
		}
		*ret = tok;
		return 0;
	}
	if (given) {
		tok = mk_strdup(given);
	} else {
		tok = mk_malloc0(65);
		mk_random_hex(tok, 32);
	}
	_cleanup_free_ char *line = mk_strdup_printf("%s\n", tok);
	if (mk_fs_write_file(path, line, strlen(line), 0600, err) < 0) {
		free(tok);
		return -1;
	}
	*ret = tok;
	return 0;
}

/* The controller manager's holderIdentity, HOSTNAME_<uuid> as client-go makes it, kept
 * in DIR/leader-identity: a server restarted on its data dir (after a crash too) is
 * the same candidate and resumes its own Lease instead of waiting for it to expire. */
static int leader_identity(const char *data_dir, char **ret, struct mk_error **err)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/leader-identity", data_dir);
	if (access(path, F_OK) == 0)
		return load_secret(path, NULL, ret, err);
	char host[256] = "localhost", uuid[37];
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	mk_uuid_v4(uuid);
	_cleanup_free_ char *id = mk_strdup_printf("%s_%s", host, uuid);
	return load_secret(path, id, ret, err);
}

/* DIR/node-token, what `minik8s up --server URL --token T` takes, in k3s's form:
 * "K10" + sha256 of the cluster CA + "::node:" + the join secret. The hash lets a
 * joining agent trust the CA it fetches from /cacerts. */
static int write_node_token(const char *data_dir, const char *ca_path, const char *secret,
			    struct mk_error **err)
{
	_cleanup_free_ char *ca = NULL, *path = mk_strdup_printf("%s/node-token", data_dir);
	size_t len;
	char hash[65];

	if (mk_fs_read_file(ca_path, &ca, &len, err) < 0)
		return -1;
	mk_sha256_hex(ca, len, hash);
	_cleanup_free_ char *line = mk_strdup_printf("K10%s::node:%s\n", hash, secret);
	return mk_fs_write_file(path, line, strlen(line), 0600, err);
}

/* True when the objects live in a datastore other servers may share. */
static bool datastore_shared(const char *endpoint)
{
	return endpoint && *endpoint && strncmp(endpoint, "sqlite://", 9) != 0;
}

/* On a shared datastore the cluster's identity (CA, tokens, service-account key,
 * secrets key) is the datastore's: the first server stores its own there, sealed
 * with the cluster token; the others load it into their data dirs (before anything
 * below reads those files). The store is opened for this alone. */
static int cluster_bootstrap(const struct server_flags *f, char ***ret_peers, struct mk_error **err)
{
	if (!datastore_shared(f->datastore_endpoint))
		return 0;
	struct mk_store_options so = { .endpoint = f->datastore_endpoint, .durable = 1,
				       .cafile = f->datastore_cafile,
				       .certfile = f->datastore_certfile,
				       .keyfile = f->datastore_keyfile };
	struct mk_store *store = NULL;
	if (mk_store_open(&so, &store, err) < 0)
		return -1;
	struct mk_apiserver_cluster_options co = { .data_dir = f->data_dir, .token = f->token,
						   .secrets_encryption = f->secrets_encryption };
	int r = mk_apiserver_cluster_bootstrap(store, &co, err);
	/* the servers already registered: their addresses go into our certificate */
	if (r >= 0 && mk_apiserver_server_addresses(store, ret_peers, err) < 0)
		r = -1;
	mk_store_free(store);
	return r < 0 ? -1 : 0;
}

int cmd_server(int argc, char **argv)
{
	enum { O_DATA = 256, O_BIND, O_PORT, O_KCFG, O_KMODE, O_TOKEN, O_CCIDR, O_SCIDR, O_DNS,
	       O_NNAME, O_NIP, O_NOAGENT, O_SAN, O_A_RUN, O_A_NETNS, O_A_CG, O_A_BRIDGE, O_A_BACKOFF , O_NOCTL, O_GRACE, O_EVICT,
	       O_NOPROXY, O_NOSOCKLB, O_NODNS, O_A_HB, O_SECRETS_ENC, O_METRES,
	       O_TOKEN_FILE, O_NONETPOL, O_LBPOOL, O_MAXCONN, O_A_FLBACKEND, O_A_FLIFACE,
	       O_DATASTORE, O_DS_CAFILE, O_DS_CERTFILE, O_DS_KEYFILE };
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, O_DATA },
		{ "datastore-endpoint", required_argument, NULL, O_DATASTORE },
		{ "datastore-cafile", required_argument, NULL, O_DS_CAFILE },
		{ "datastore-certfile", required_argument, NULL, O_DS_CERTFILE },
		{ "datastore-keyfile", required_argument, NULL, O_DS_KEYFILE },
		{ "bind-address", required_argument, NULL, O_BIND },
		{ "https-listen-port", required_argument, NULL, O_PORT },
		{ "write-kubeconfig", required_argument, NULL, O_KCFG },
		{ "write-kubeconfig-mode", required_argument, NULL, O_KMODE },
		{ "token", required_argument, NULL, O_TOKEN },
		{ "tls-san", required_argument, NULL, O_SAN },
		{ "cluster-cidr", required_argument, NULL, O_CCIDR },
		{ "service-cidr", required_argument, NULL, O_SCIDR },
		{ "cluster-dns", required_argument, NULL, O_DNS },
		{ "node-name", required_argument, NULL, O_NNAME },
		{ "node-ip", required_argument, NULL, O_NIP },
		{ "disable-agent", no_argument, NULL, O_NOAGENT },
		{ "disable-controllers", no_argument, NULL, O_NOCTL },
		{ "node-monitor-grace-period", required_argument, NULL, O_GRACE },
		{ "pod-eviction-timeout", required_argument, NULL, O_EVICT },
		{ "run-dir", required_argument, NULL, O_A_RUN },
		{ "netns-dir", required_argument, NULL, O_A_NETNS },
		{ "cgroup-parent", required_argument, NULL, O_A_CG },
		{ "bridge", required_argument, NULL, O_A_BRIDGE },
		{ "disable-proxy", no_argument, NULL, O_NOPROXY },
		{ "disable-socket-lb", no_argument, NULL, O_NOSOCKLB },
		{ "disable-network-policy", no_argument, NULL, O_NONETPOL },
		{ "disable-dns", no_argument, NULL, O_NODNS },
		{ "node-status-update-frequency", required_argument, NULL, O_A_HB },
		{ "restart-backoff", required_argument, NULL, O_A_BACKOFF },
		{ "secrets-encryption", no_argument, NULL, O_SECRETS_ENC },
		{ "metric-resolution", required_argument, NULL, O_METRES },
		{ "token-auth-file", required_argument, NULL, O_TOKEN_FILE },
		{ "lb-pool", required_argument, NULL, O_LBPOOL },
		{ "max-connections", required_argument, NULL, O_MAXCONN },
		{ "flannel-backend", required_argument, NULL, O_A_FLBACKEND },
		{ "flannel-iface", required_argument, NULL, O_A_FLIFACE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct server_flags f = {
		.data_dir = "/var/lib/minik8s",
		.bind_address = "0.0.0.0",
		.port = 6443,
		.kubeconfig = "/etc/minik8s/kubeconfig",
		.kubeconfig_mode = 0600,
		.cluster_cidr = "10.244.0.0/16",
		.service_cidr = "10.96.0.0/12",
		.cluster_dns = "10.96.0.10",
	};
	_cleanup_error_ struct mk_error *err = NULL;
	int c;

	if (cmd_parse_verbosity("server", &argc, argv) != 0)
		return 2;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case O_DATA: f.data_dir = optarg; break;
		case O_DATASTORE: f.datastore_endpoint = optarg; break;
		case O_DS_CAFILE: f.datastore_cafile = optarg; break;
		case O_DS_CERTFILE: f.datastore_certfile = optarg; break;
		case O_DS_KEYFILE: f.datastore_keyfile = optarg; break;
		case O_BIND: f.bind_address = optarg; break;
		case O_PORT:
			f.port = (unsigned)strtoul(optarg, &end, 10);
			if (*end || !f.port || f.port > 65535)
				return cmd_usage_error("server", "invalid --https-listen-port '%s'", optarg);
			break;
		case O_KCFG: f.kubeconfig = optarg; break;
		case O_KMODE:
			f.kubeconfig_mode = (mode_t)strtoul(optarg, &end, 8);
			if (*end || f.kubeconfig_mode > 0777)
				return cmd_usage_error("server", "invalid --write-kubeconfig-mode '%s'", optarg);
			break;
		case O_TOKEN: f.token = optarg; break;
		case O_SAN: /* repeatable, and a comma list as k3s takes it */
			for (char *save = NULL, *t = strtok_r(optarg, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (f.n_san == (int)MK_ARRAY_SIZE(f.tls_san) - 1)
					return cmd_usage_error("server", "too many --tls-san values");
				f.tls_san[f.n_san++] = t;
			}
			break;
		case O_CCIDR: f.cluster_cidr = optarg; break;
		case O_SCIDR: f.service_cidr = optarg; break;
		case O_DNS: f.cluster_dns = optarg; break;
		case O_NNAME: f.node_name = optarg; break;
		case O_NIP: f.node_ip = optarg; break;
		case O_NOAGENT: f.disable_agent = 1; break;
		case O_NOCTL: f.disable_controllers = 1; break;
		case O_GRACE:
		case O_EVICT:
			if (mk_time_parse_duration(optarg, c == O_GRACE ? &f.node_grace_ms : &f.eviction_ms, &err) < 0)
				return cmd_usage_error("server", "%s", err->msg);
			break;
		case O_METRES:
			if (mk_time_parse_duration(optarg, &f.metric_resolution_ms, &err) < 0 ||
			    f.metric_resolution_ms < 100)
				return cmd_usage_error("server", "invalid --metric-resolution '%s' (at "
						       "least 100ms)", optarg);
			break;
		case O_A_RUN: f.agent.run_dir = optarg; break;
		case O_A_FLBACKEND:
			if (!cmd_flannel_backend_valid(optarg))
				return cmd_usage_error("server", "invalid --flannel-backend '%s' (vxlan, "
						       "host-gw, none, wireguard-native)", optarg);
			f.agent.flannel_backend = optarg;
			break;
		case O_A_FLIFACE: f.agent.flannel_iface = optarg; break;
		case O_A_NETNS: f.agent.netns_dir = optarg; break;
		case O_A_CG: f.agent.cgroup_parent = optarg; break;
		case O_A_BRIDGE: f.agent.bridge = optarg; break;
		case O_NOPROXY: f.agent.disable_proxy = true; break;
		case O_NOSOCKLB: f.agent.disable_socket_lb = true; break;
		case O_NONETPOL: f.agent.disable_network_policy = true; break;
		case O_NODNS: f.agent.disable_dns = true; break;
		case O_A_HB:
			if (mk_time_parse_duration(optarg, &f.agent.heartbeat_ms, &err) < 0 ||
			    !f.agent.heartbeat_ms)
				return cmd_usage_error("server", "invalid --node-status-update-frequency '%s'",
						       optarg);
			break;
		case O_A_BACKOFF:
			if (cmd_agent_parse_backoff(optarg, &f.agent.backoff_base_ms,
						    &f.agent.backoff_max_ms, &err) < 0)
				return cmd_usage_error("server", "invalid --restart-backoff '%s'", optarg);
			break;
		case O_SECRETS_ENC: f.secrets_encryption = 1; break;
		case O_TOKEN_FILE: f.token_auth_file = optarg; break;
		case O_LBPOOL: f.lb_pool = optarg; break;
		case O_MAXCONN: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v < 16 || v > 65536)
				return cmd_usage_error("server", "invalid --max-connections '%s' (16 to 65536)",
						       optarg);
			f.max_connections = (unsigned)v;
			break;
		}
		case 'h': server_help(); return 0;
		default:
			return cmd_bad_flag("server", argv);
		}
	}
	if (optind < argc)
		return cmd_usage_error("server", "unexpected argument '%s'", argv[optind]);
	if (f.token && strlen(f.token) < 16)
		return cmd_usage_error("server", "--token must be at least 16 characters");
	if (!f.disable_agent && mk_agent_options_check(&f.agent, &err) < 0) {
		fprintf(stderr, "minik8s server: %s\n", err->msg);
		return 1;
	}

	/* signals are taken synchronously by sigwait below; block them for every thread */
	sigset_t sigs;
	cmd_signals_block(&sigs);

	_cleanup_free_ char *token = NULL, *tls_dir = NULL, *db = NULL, *cert = NULL,
			    *key = NULL, *ca = NULL, *kcert = NULL, *kkey = NULL, *node_secret = NULL,
			    *sa_key = NULL;
	struct mk_store *store = NULL;
	struct mk_apiserver *srv = NULL;
	struct mk_client *ctl_client = NULL;
	struct mk_controller_manager *ctls = NULL;
	_cleanup_free_ char *lid = NULL;
	struct mk_client *agent_client = NULL;
	struct mk_agent *agent = NULL;
	char host[256]; /* default node name: outlives the flags that point at it */
	int rc = 1;
	_cleanup_close_ int data_lock = -1, run_lock = -1;
	char **peers = NULL; /* addresses of the other servers on a shared datastore */
	struct mk_apiserver_leases *server_lease = NULL;

	if (mk_fs_mkdir_p(f.data_dir, 0700, &err) < 0 || chmod(f.data_dir, 0700) < 0) {
		if (!err)
			mk_error_errno(&err, errno, "chmod '%s'", f.data_dir);
		goto out;
	}
	/* one process per data dir (two would race on the store's revisions) and per run
	 * dir (two agents would fight over the same containers): held until exit */
	if (mk_fs_dir_lock(f.data_dir, "data dir", &data_lock, &err) < 0)
		goto out;
	if (!f.disable_agent) {
		const char *run = f.agent.run_dir ? f.agent.run_dir : MK_AGENT_DEFAULT_RUN_DIR;
		if (mk_fs_mkdir_p(run, 0755, &err) < 0 ||
		    mk_fs_dir_lock(run, "run dir", &run_lock, &err) < 0)
			goto out;
	}
	if (cluster_bootstrap(&f, &peers, &err) < 0)
		goto out;
	{
		_cleanup_free_ char *apath = mk_strdup_printf("%s/token", f.data_dir);
		_cleanup_free_ char *npath = mk_strdup_printf("%s/node-secret", f.data_dir);
		if (load_secret(apath, NULL, &token, &err) < 0 ||
		    load_secret(npath, f.token, &node_secret, &err) < 0)
			goto out;
	}
	tls_dir = mk_strdup_printf("%s/tls", f.data_dir);
	{
		const char *ips[20 + 64];
		const char *dns[20];
		int ni = 0, nd = 0;
		if (strcmp(f.bind_address, "0.0.0.0"))
			ips[ni++] = f.bind_address;
		if (f.node_ip)
			ips[ni++] = f.node_ip;
		/* pods reach the API at the kubernetes Service's ClusterIP (in-cluster config) */
		char kip[64];
		if (mk_apiserver_kubernetes_service_ip(f.service_cidr, kip, sizeof(kip)) == 0)
			ips[ni++] = kip;
		for (int i = 0; i < f.n_san; i++) {
			unsigned char buf[16];
			if (inet_pton(AF_INET, f.tls_san[i], buf) == 1 ||
			    inet_pton(AF_INET6, f.tls_san[i], buf) == 1)
				ips[ni++] = f.tls_san[i];
			else
				dns[nd++] = f.tls_san[i];
		}
		if (f.node_name)
			dns[nd++] = f.node_name;
		for (size_t i = 0; peers && peers[i] && i < 64; i++)
			ips[ni++] = peers[i];
		ips[ni] = NULL;
		dns[nd] = NULL;
		if (mk_apiserver_tls_ensure(tls_dir, ips, dns, &err) < 0)
			goto out;
		/* the client certificate agents accept for logs and exec */
		if (mk_apiserver_tls_client_ensure(tls_dir, "apiserver-kubelet-client",
						   "minik8s-apiserver", &err) < 0)
			goto out;
	}
	db = mk_strdup_printf("%s/state.db", f.data_dir);
	struct mk_store_options so = { .endpoint = f.datastore_endpoint, .path = db, .durable = 1,
				       .cafile = f.datastore_cafile,
				       .certfile = f.datastore_certfile,
				       .keyfile = f.datastore_keyfile };
	unsigned char enc_key[MK_STORE_KEY_LEN];
	const char *encrypt[16] = { NULL };
	if (setup_encryption(&f, enc_key, encrypt, MK_ARRAY_SIZE(encrypt), &so, &err) < 0)
		goto out;
	int open_rc = mk_store_open(&so, &store, &err);
	explicit_bzero(enc_key, sizeof(enc_key));
	if (open_rc < 0)
		goto out;
	cert = mk_strdup_printf("%s/server.crt", tls_dir);
	key = mk_strdup_printf("%s/server.key", tls_dir);
	ca = mk_strdup_printf("%s/ca.crt", tls_dir);
	kcert = mk_strdup_printf("%s/apiserver-kubelet-client.crt", tls_dir);
	kkey = mk_strdup_printf("%s/apiserver-kubelet-client.key", tls_dir);
	sa_key = mk_strdup_printf("%s/sa.key", tls_dir);
	struct mk_apiserver_options ao = {
		.kubelet_client_cert_file = kcert,
		.kubelet_client_key_file = kkey,
		.bind_address = f.bind_address,
		.port = (uint16_t)f.port,
		.tls_cert_file = cert,
		.tls_key_file = key,
		.admin_token = token,
		.node_token = node_secret,
		.ca_file = ca,
		.service_cidr = f.service_cidr,
		.cluster_cidr = f.cluster_cidr,
		.cluster_dns = f.cluster_dns,
		.advertise_address = f.node_ip,
		.namespace_controller = !f.disable_controllers,
		.metrics_resolution_ms = f.metric_resolution_ms,
		.sa_key_file = sa_key,
		.token_auth_file = f.token_auth_file,
		.max_connections = f.max_connections,
	};
	if (mk_apiserver_start(&ao, store, &srv, &err) < 0)
		goto out;
	if (datastore_shared(f.datastore_endpoint)) {
		/* one Lease per server: the kubernetes Endpoints list every live one */
		_cleanup_free_ char *id = NULL;
		const char *adv = f.node_ip ? f.node_ip
			: strcmp(f.bind_address, "0.0.0.0") ? f.bind_address : "127.0.0.1";
		if (leader_identity(f.data_dir, &id, &err) < 0)
			goto out;
		struct mk_apiserver_leases_options lso = { .identity = id, .address = adv,
							   .port = f.port };
		if (mk_apiserver_leases_start(store, &lso, &server_lease, &err) < 0)
			goto out;
	}
	if (write_kubeconfig(&f, ca, token, &err) < 0 ||
	    write_node_token(f.data_dir, ca, node_secret, &err) < 0)
		goto out;
	/* scheduler and controllers: API clients of this server (DESIGN principle 2) */
	if (!f.disable_controllers) {
		_cleanup_free_ char *url = mk_strdup_printf("https://%s:%u",
			strcmp(f.bind_address, "0.0.0.0") ? f.bind_address : "127.0.0.1", f.port);
		struct mk_client_config *cc = mk_client_config_new(url, token, ca);
		struct mk_controllers_options co = { .node_monitor_grace_ms = f.node_grace_ms,
						     .pod_eviction_timeout_ms = f.eviction_ms,
						     .lb_pool = f.lb_pool };
		cc->timeout_ms = 30000;
		cc->user_agent = mk_strdup("kube-controller-manager/v1.32.0 (linux/amd64) minik8s");
		int r = mk_client_new(cc, &ctl_client, &err);
		mk_client_config_free(cc);
		if (r < 0 || leader_identity(f.data_dir, &lid, &err) < 0)
			goto out;
		/* in-process: their requests go straight into the router (same token, same
		 * authorization and admission), not over loopback TLS;
		 * MINIK8S_CONTROLLERS_LOOPBACK=1 keeps HTTPS (to compare, bench/scale) */
		const char *lb = getenv("MINIK8S_CONTROLLERS_LOOPBACK");
		if (!lb || strcmp(lb, "1") != 0)
			mk_apiserver_local_attach(srv, ctl_client);
		/* the controllers (and the scheduler) run while this process holds the
		 * kube-system/kube-controller-manager Lease */
		struct mk_leader_options lo = { .identity = lid };
		if (mk_controller_manager_start(ctl_client, &co, &lo, &ctls, &err) < 0)
			goto out;
	}
	{
		/* for `minik8s status`: this server, its datastore and election identity */
		_cleanup_free_ char *url = mk_strdup_printf("https://%s:%u",
			strcmp(f.bind_address, "0.0.0.0") ? f.bind_address : "127.0.0.1", f.port);
		_cleanup_free_ char *ds = cmd_datastore_describe(f.datastore_endpoint, db);
		_cleanup_free_ char *id = NULL;
		if (!lid && leader_identity(f.data_dir, &id, &err) < 0)
			goto out;
		if (cmd_server_info_write(f.data_dir, url, f.kubeconfig, lid ? lid : id, ds, &err) < 0)
			goto out;
	}
	fprintf(stderr, "minik8s: API server listening on https://%s:%u (data in %s)\n",
		f.bind_address, f.port, f.data_dir);
	fprintf(stderr, "minik8s: kubeconfig written to %s; try: KUBECONFIG=%s kubectl get ns\n",
		f.kubeconfig, f.kubeconfig);
	if (!f.disable_agent) {
		/* the agent role in this process: an API client like any other (DESIGN) */
		const char *addr = strcmp(f.bind_address, "0.0.0.0") ? f.bind_address : "127.0.0.1";
		_cleanup_free_ char *url = mk_strdup_printf("https://%s:%u", addr, f.port);
		/* with the node's own credential (system:node:NAME), as a joined agent */
		struct mk_client_config *cc = mk_client_config_new(url, node_secret, ca);
		cc->timeout_ms = 30000;
		cc->user_agent = mk_strdup("kubelet/v1.32.0 (linux/amd64) minik8s");
		if (!f.node_name && gethostname(host, sizeof(host)) == 0) {
			host[sizeof(host) - 1] = '\0';
			f.node_name = host;
		}
		_cleanup_free_ char *cred = mk_strdup_printf("%s/agent/node-credential", f.data_dir);
		int r = mk_client_node_credential(cc, f.node_name, cred, &err);
		if (r == 0)
			r = mk_client_new(cc, &agent_client, &err);
		mk_client_config_free(cc);
		if (r < 0)
			goto out;
		f.agent.node_name = f.node_name;
		f.agent.node_ip = f.node_ip;
		f.agent.data_dir = f.data_dir;
		f.agent.cluster_dns = f.cluster_dns;
		f.agent.cluster_cidr = f.cluster_cidr;
		f.agent.flannel_publish = true; /* the server's choice is the cluster's */
		f.agent.stream_client_ca = ca;
		if (mk_agent_start(agent_client, &f.agent, &agent, &err) < 0)
			goto out;
		fprintf(stderr, "minik8s: node agent running as node %s (pod CIDR %s)\n",
			f.node_name, mk_agent_pod_cidr(agent));
	}

	int sig = 0;
	sigwait(&sigs, &sig);
	fprintf(stderr, "minik8s: %s received, shutting down\n", strsignal(sig));
	rc = 0;
out:
	if (err)
		fprintf(stderr, "minik8s server: %s\n", err->msg);
	mk_agent_stop(agent);
	mk_client_free(agent_client);
	mk_controller_manager_stop(ctls);
	mk_client_free(ctl_client);
	mk_apiserver_leases_stop(server_lease);
	mk_apiserver_free(srv);
	for (size_t i = 0; peers && peers[i]; i++)
		free(peers[i]);
	free(peers);
	mk_store_free(store);
	return rc;
}
