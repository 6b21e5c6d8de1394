/* minik8s server: the API server on its SQLite store, in the foreground. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <pthread.h>
#include "commands.h"
#include "minik8s/apiserver.h"
#include "minik8s/store.h"

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
};

static void server_help(void)
{
	printf("Usage: minik8s server [FLAGS]\n\n"
	       "Runs the Kubernetes-compatible API server, backed by SQLite, in the foreground.\n"
	       "It writes a kubeconfig that kubectl (real or 'minik8s kubectl') can use.\n\n"
	       "Flags (k3s names):\n"
	       "  --data-dir DIR              state directory (default /var/lib/minik8s)\n"
	       "  --bind-address IP           address to listen on (default 0.0.0.0)\n"
	       "  --https-listen-port PORT    HTTPS port (default 6443)\n"
	       "  --write-kubeconfig FILE     kubeconfig to write (default /etc/minik8s/kubeconfig)\n"
	       "  --write-kubeconfig-mode M   its file mode, octal (default 0600)\n"
	       "  --token TOKEN               admin bearer token (default: generated once and kept in\n"
	       "                              DIR/token, mode 0600)\n"
	       "  --tls-san NAME|IP           extra name or address for the serving certificate\n"
	       "                              (repeatable)\n"
	       "  --cluster-cidr CIDR         pod network (default 10.244.0.0/16)\n"
	       "  --service-cidr CIDR         service network (default 10.96.0.0/12)\n"
	       "  --cluster-dns IP            cluster DNS service address (default 10.96.0.10)\n"
	       "  --node-name NAME            this node's name (default: hostname)\n"
	       "  --node-ip IP                this node's address (added to the certificate)\n"
	       "  --disable-agent             run no node agent in this process\n"
	       "  -h, --help                  show this help\n\n"
	       "The API requires 'Authorization: Bearer TOKEN' on every request except\n"
	       "/healthz, /readyz and /livez, and is served over TLS with a cluster CA kept in\n"
	       "DIR/tls/ca.crt. Stop with SIGINT or SIGTERM.\n");
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

/* The admin token: --token, else DIR/token, else a new random one saved there. */
static int load_token(const struct server_flags *f, char **ret, struct mk_error **err)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/token", f->data_dir);
	char *tok = NULL;

	if (f->token) {
		tok = mk_strdup(f->token);
	} else if (access(path, F_OK) == 0) {
		if (mk_fs_read_file(path, &tok, NULL, err) < 0)
			return -1;
		tok[strcspn(tok, "\r\n")] = '\0';
		if (!*tok) {
			free(tok);
			return mk_error_set(err, EINVAL, "token file '%s' is empty", path);
		}
		*ret = tok;
		return 0;
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

int cmd_server(int argc, char **argv)
{
	enum { O_DATA = 256, O_BIND, O_PORT, O_KCFG, O_KMODE, O_TOKEN, O_CCIDR, O_SCIDR, O_DNS,
	       O_NNAME, O_NIP, O_NOAGENT, O_SAN };
	static const struct option opts[] = {
		{ "data-dir", required_argument, NULL, O_DATA },
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

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case O_DATA: f.data_dir = optarg; break;
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
		case O_SAN:
			if (f.n_san == (int)MK_ARRAY_SIZE(f.tls_san) - 1)
				return cmd_usage_error("server", "too many --tls-san values");
			f.tls_san[f.n_san++] = optarg;
			break;
		case O_CCIDR: f.cluster_cidr = optarg; break;
		case O_SCIDR: f.service_cidr = optarg; break;
		case O_DNS: f.cluster_dns = optarg; break;
		case O_NNAME: f.node_name = optarg; break;
		case O_NIP: f.node_ip = optarg; break;
		case O_NOAGENT: f.disable_agent = 1; break;
		case 'h': server_help(); return 0;
		default:
			if (optopt)
				return cmd_usage_error("server", "unknown or incomplete flag '-%c'", optopt);
			return cmd_usage_error("server", "unknown or incomplete flag '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage_error("server", "unexpected argument '%s'", argv[optind]);
	if (f.token && strlen(f.token) < 16)
		return cmd_usage_error("server", "--token must be at least 16 characters");

	/* signals are taken synchronously by sigwait below; block them for every thread */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	_cleanup_free_ char *token = NULL, *tls_dir = NULL, *db = NULL, *cert = NULL,
			    *key = NULL, *ca = NULL;
	struct mk_store *store = NULL;
	struct mk_apiserver *srv = NULL;
	int rc = 1;

	if (mk_fs_mkdir_p(f.data_dir, 0700, &err) < 0 || chmod(f.data_dir, 0700) < 0) {
		if (!err)
			mk_error_errno(&err, errno, "chmod '%s'", f.data_dir);
		goto out;
	}
	if (load_token(&f, &token, &err) < 0)
		goto out;
	tls_dir = mk_strdup_printf("%s/tls", f.data_dir);
	{
		const char *ips[20];
		const char *dns[20];
		int ni = 0, nd = 0;
		if (strcmp(f.bind_address, "0.0.0.0"))
			ips[ni++] = f.bind_address;
		if (f.node_ip)
			ips[ni++] = f.node_ip;
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
		ips[ni] = NULL;
		dns[nd] = NULL;
		if (mk_apiserver_tls_ensure(tls_dir, ips, dns, &err) < 0)
			goto out;
	}
	db = mk_strdup_printf("%s/state.db", f.data_dir);
	struct mk_store_options so = { .path = db, .durable = 1 };
	if (mk_store_open(&so, &store, &err) < 0)
		goto out;
	cert = mk_strdup_printf("%s/server.crt", tls_dir);
	key = mk_strdup_printf("%s/server.key", tls_dir);
	ca = mk_strdup_printf("%s/ca.crt", tls_dir);
	struct mk_apiserver_options ao = {
		.bind_address = f.bind_address,
		.port = (uint16_t)f.port,
		.tls_cert_file = cert,
		.tls_key_file = key,
		.admin_token = token,
		.service_cidr = f.service_cidr,
		.cluster_cidr = f.cluster_cidr,
		.advertise_address = f.node_ip,
	};
	if (mk_apiserver_start(&ao, store, &srv, &err) < 0)
		goto out;
	if (write_kubeconfig(&f, ca, token, &err) < 0)
		goto out;
	fprintf(stderr, "minik8s: API server listening on https://%s:%u (data in %s)\n",
		f.bind_address, f.port, f.data_dir);
	fprintf(stderr, "minik8s: kubeconfig written to %s; try: KUBECONFIG=%s kubectl get ns\n",
		f.kubeconfig, f.kubeconfig);
	if (!f.disable_agent)
		fprintf(stderr, "minik8s: note: this build has no node agent yet; pods are stored, "
				"not run\n");

	int sig = 0;
	sigwait(&sigs, &sig);
	fprintf(stderr, "minik8s: %s received, shutting down\n", strsignal(sig));
	rc = 0;
out:
	if (err)
		fprintf(stderr, "minik8s server: %s\n", err->msg);
	mk_apiserver_free(srv);
	mk_store_free(store);
	return rc;
}
