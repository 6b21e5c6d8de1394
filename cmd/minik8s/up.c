/* minik8s up / down / status: run the node in the background and manage it.
 * `up` starts `minik8s server` detached (its own session, log in DATA/minik8s.log,
 * pid in RUN/minik8s.pid), waits until it answers, and tells the user how to use
 * it; on a running node it says so. `down` stops it; --purge also removes state. */
#include <errno.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdbool.h>
#include "commands.h"
#include "minik8s/util.h"
#include "minik8s/client.h"
#include "minik8s/agent.h"
#include "minik8s/runtime.h"

#define DEFAULT_RUN "/run/minik8s"

/* pid file of this node's minik8s, under --run-dir (default /run/minik8s) */
static char pid_file[4096] = DEFAULT_RUN "/minik8s.pid";
static const char *run_dir = DEFAULT_RUN;
#define DEFAULT_DATA "/var/lib/minik8s"
#define DEFAULT_KUBECONFIG "/etc/minik8s/kubeconfig"

/* true if pid is a live (not zombie) process */
static bool alive(pid_t pid)
{
	char path[64], buf[512];
	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static pid_t running_pid(void)
{
	_cleanup_free_ char *s = NULL;
	if (mk_fs_read_file(pid_file, &s, NULL, NULL) < 0) {
		/* no pid file (a node run with --foreground): the run dir's lock names it */
		pid_t pid = mk_fs_dir_lock_holder(run_dir);
		return alive(pid) ? pid : 0;
	}
	pid_t pid = (pid_t)strtol(s, NULL, 10);
	if (alive(pid))
		return pid;
	/* a stale pid file: the run dir's lock names the live process that uses it */
	pid = mk_fs_dir_lock_holder(run_dir);
	return alive(pid) ? pid : 0;
}

/* value of --flag VALUE or --flag=VALUE in argv, or def */
static const char *flag_value(int argc, char **argv, const char *flag, const char *def)
{
	size_t n = strlen(flag);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], flag) && i + 1 < argc)
			return argv[i + 1];
		if (!strncmp(argv[i], flag, n) && argv[i][n] == '=')
			return argv[i] + n + 1;
	}
	return def;
}

static void up_help(void)
{
	printf("Usage: minik8s up [--foreground] [FLAGS]\n"
	       "       minik8s up --server https://IP:6443 --token TOKEN [AGENT FLAGS]\n\n"
	       "Starts this node in the background and waits until it is Ready.\n"
	       "Without --server: a whole single-node cluster (API server on SQLite,\n"
	       "controllers, and the node agent; see 'minik8s server --help' for the flags,\n"
	       "which are passed on). It writes the kubeconfig (0600) and prints how to use it\n"
	       "and how other nodes join.\n"
	       "With --server and --token (or MINIK8S_URL and MINIK8S_TOKEN): joins that\n"
	       "cluster as an agent-only node ('minik8s agent --help' for the flags). TOKEN is\n"
	       "the server's DATA_DIR/node-token (its CA hash is checked) or the bare join secret.\n"
	       "Running 'up' on a node that is already up says so and changes nothing.\n\n"
	       "  --foreground   stay attached (logs to the terminal)\n"
	       "  --iface NAME   use this interface's IPv4 address as the node's (--node-ip)\n"
	       "  -h, --help     show this help\n\n"
	       "Files: pid RUN_DIR/minik8s.pid (--run-dir, default %s), log DATA_DIR/minik8s.log.\n"
	       "The node runs below a small reaper process (minik8s-reaper) that collects it and\n"
	       "its container shims should it die, since PID 1 may not; it exits when they are gone.\n",
	       DEFAULT_RUN);
}

/* The first IPv4 address of interface name into out. */
static int iface_address(const char *name, char out[INET_ADDRSTRLEN])
{
	struct ifaddrs *ifs = NULL;
	int rc = -1;

	if (getifaddrs(&ifs) < 0)
		return -1;
	for (struct ifaddrs *i = ifs; i && rc < 0; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, name))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, out, INET_ADDRSTRLEN);
		rc = 0;
	}
	freeifaddrs(ifs);
	return rc;
}

/* The reaper `up` leaves behind: a child subreaper that parents the node process
 * and reaps whatever ends up below it. PID 1 on the target hosts does not reap
 * (DESIGN.md): without this, a node process that dies (kill -9, crash) stays a
 * zombie, and so does every container shim it leaves when the shim exits later;
 * with it, the shims are reparented here (the nearest subreaper) and reaped. It
 * exits when it has no child left: the node process and every orphan are gone. */
_Noreturn static void reap_until_alone(void)
{
	prctl(PR_SET_NAME, "minik8s-reaper", 0, 0, 0);
	for (;;) {
		pid_t p = waitpid(-1, NULL, 0);
		if (p < 0 && errno == ECHILD)
			_exit(0);
	}
}

/* the reaper spawn_detached started: our child until we exit */
static pid_t spawned_reaper;

/* After the node exited during start: its reaper, left without children, exits too;
 * collect it (bounded) rather than leave a zombie to a PID 1 that does not reap. */
static void collect_reaper(void)
{
	for (int i = 0; i < 50 && spawned_reaper > 0; i++) {
		if (waitpid(spawned_reaper, NULL, WNOHANG) == spawned_reaper)
			spawned_reaper = 0;
		else
			usleep(100 * 1000);
	}
}

/* Starts argv (a minik8s command) detached, logging to log, below a reaper (see
 * reap_until_alone); returns the command's pid (-1 with errno on failure). */
static pid_t spawn_detached(char **sargv, const char *log)
{
	int sync[2];
	pid_t pid = -1;

	if (pipe2(sync, O_CLOEXEC) < 0)
		return -1;
	pid_t reaper = fork();
	if (reaper < 0) {
		close(sync[0]);
		close(sync[1]);
		return -1;
	}
	if (reaper == 0) {
		close(sync[0]);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || nul < 0)
			_exit(127);
		setsid();
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
			fprintf(stderr, "minik8s up: prctl(PR_SET_CHILD_SUBREAPER): %s\n", strerror(errno));
		pid_t child = fork();
		if (child == 0) {
			execv("/proc/self/exe", sargv);
			_exit(127);
		}
		if (write(sync[1], &child, sizeof(child)) != sizeof(child))
			_exit(127);
		close(sync[1]);
		if (child < 0)
			_exit(127);
		reap_until_alone();
	}
	close(sync[1]);
	spawned_reaper = reaper;
	if (read(sync[0], &pid, sizeof(pid)) != sizeof(pid))
		pid = -1;
	close(sync[0]);
	return pid;
}

/* The reaper above node process pid (its parent, named minik8s-reaper), or 0. */
static pid_t reaper_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	int ppid = 0;
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1 || ppid <= 1)
		return 0;
	_cleanup_free_ char *comm = NULL, *cpath = mk_strdup_printf("/proc/%d/comm", ppid);
	if (mk_fs_read_file(cpath, &comm, NULL, NULL) < 0 || strcmp(comm, "minik8s-reaper\n"))
		return 0;
	return (pid_t)ppid;
}

/* The node process started by spawn_detached has exited (it is not our child: the
 * reaper collects it). */
static bool gone(pid_t pid)
{
	return !alive(pid);
}

static void show_log_tail(const char *log)
{
	_cleanup_free_ char *cmd = mk_strdup_printf("tail -n 15 '%s' >&2", log);
	if (strchr(log, '\'') || system(cmd) != 0)
		fprintf(stderr, "(see %s)\n", log);
}

/* Node NAME's Ready condition through client c: 1 Ready, 0 not (yet), -1 error. */
static int node_ready(struct mk_client *c, const char *name)
{
	_cleanup_free_ char *path = mk_strdup_printf("/api/v1/nodes/%s", name);
	_cleanup_cjson_ cJSON *node = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON *cond;

	if (mk_client_get(c, path, &node, &err) < 0)
		return 0;
	cJSON_ArrayForEach(cond, mk_json_get(node, "status.conditions"))
	{
		const char *t = mk_json_get_string(cond, "type");
		const char *st = mk_json_get_string(cond, "status");
		if (t && !strcmp(t, "Ready"))
			return st && !strcmp(st, "True");
	}
	return 0;
}

/* Waits up to timeout_s for child pid to make node ready; reports what happened. */
static int wait_ready(pid_t pid, struct mk_client *c, const char *node, const char *log,
		      int timeout_s)
{
	for (int i = 0; i < timeout_s * 10; i++) {
		if (gone(pid)) {
			fprintf(stderr, "minik8s up: it exited during start; last log lines:\n");
			show_log_tail(log);
			unlink(pid_file);
			collect_reaper();
			return -1;
		}
		if (c && node_ready(c, node) == 1)
			return 0;
		usleep(100 * 1000);
	}
	fprintf(stderr, "minik8s up: node %s did not become Ready in %d s (log: %s)\n", node,
		timeout_s, log);
	return -1;
}

static int write_pid(pid_t pid)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *pids = mk_strdup_printf("%d\n", (int)pid);
	if (mk_fs_write_file(pid_file, pids, strlen(pids), 0644, &err) < 0) {
		fprintf(stderr, "minik8s up: %s\n", err->msg);
		kill(pid, SIGTERM);
		return -1;
	}
	return 0;
}

/* The flags `up` started the node with, kept in RUN_DIR/minik8s.args (one per
 * line) so that a plain `minik8s down` finds the node's bridge and directories. */
static void save_args(char **sargv)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *path = mk_strdup_printf("%s/minik8s.args", run_dir);
	struct mk_buf b;
	mk_buf_init(&b);
	for (int i = 1; sargv[i]; i++) /* the role ("server"/"agent"), then the flags */
		mk_buf_printf(&b, "%s\n", sargv[i]);
	mk_fs_write_file(path, b.data ? b.data : "", b.len, 0600, &err);
	mk_buf_release(&b);
}

int cmd_up(int argc, char **argv)
{
	_cleanup_error_ struct mk_error *err = NULL;
	const char *data = flag_value(argc, argv, "--data-dir", DEFAULT_DATA);
	const char *kcfg = flag_value(argc, argv, "--write-kubeconfig", DEFAULT_KUBECONFIG);
	const char *server = flag_value(argc, argv, "--server", getenv("MINIK8S_URL"));
	const char *token = flag_value(argc, argv, "--token", getenv("MINIK8S_TOKEN"));
	char hostname[256] = "";
	gethostname(hostname, sizeof(hostname) - 1);
	const char *node = flag_value(argc, argv, "--node-name", hostname);
	run_dir = flag_value(argc, argv, "--run-dir", DEFAULT_RUN);
	snprintf(pid_file, sizeof(pid_file), "%s/minik8s.pid", run_dir);
	char *sargv[72];
	int sargc = 0;
	bool fg = false;
	pid_t pid;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			up_help();
			return 0;
		}
	if (argc > 60)
		return cmd_usage_error("up", "too many arguments");
	if (server && (!token || !*token))
		return cmd_usage_error("up", "--server needs --token (the server's node-token)");
	if (server && !mk_str_has_prefix(server, "https://"))
		return cmd_usage_error("up", "--server must be an https:// URL, got '%s'", server);

	/* --iface NAME: the node's address is that interface's (Vagrant's NAT interface
	 * has the same address on every VM, so the private one must be named) */
	const char *iface = flag_value(argc, argv, "--iface", NULL);
	char iface_ip[INET_ADDRSTRLEN] = "";
	if (iface) {
		if (flag_value(argc, argv, "--node-ip", NULL))
			return cmd_usage_error("up", "give --iface or --node-ip, not both");
		if (iface_address(iface, iface_ip) < 0)
			return cmd_usage_error("up", "interface '%s' has no IPv4 address", iface);
	}

	sargv[sargc++] = "minik8s";
	sargv[sargc++] = server ? "agent" : "server";
	if (iface_ip[0]) {
		sargv[sargc++] = "--node-ip";
		sargv[sargc++] = iface_ip;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--foreground"))
			fg = true;
		else if (!strcmp(argv[i], "--iface"))
			i++;
		else if (mk_str_has_prefix(argv[i], "--iface="))
			;
		else if (server && (!strcmp(argv[i], "--server") || !strcmp(argv[i], "--token")))
			i++; /* passed below, resolved */
		else if (server && (mk_str_has_prefix(argv[i], "--server=") ||
				    mk_str_has_prefix(argv[i], "--token=")))
			;
		else
			sargv[sargc++] = argv[i];
	}

	/* joining: trust the CA the join token names, give the agent the bare secret */
	struct mk_client_config *jcfg = NULL;
	_cleanup_free_ char *ca_path = NULL, *join_secret = NULL;
	if (server) {
		bool verified = false;
		_cleanup_free_ char *dir = mk_strdup_printf("%s/agent", data);
		ca_path = mk_strdup_printf("%s/ca.crt", dir);
		if (mk_fs_mkdir_p(dir, 0700, &err) < 0 ||
		    mk_client_join_config(server, token, ca_path, &jcfg, &verified, &err) < 0) {
			fprintf(stderr, "minik8s up: %s\n", err->msg);
			return 1;
		}
		if (!verified)
			fprintf(stderr, "minik8s up: warning: the token carries no CA hash; trusting the "
					"CA served by %s as is (use the server's node-token file)\n", server);
		/* the node's own credential now (the agent started below finds it kept and
		 * uses it): `up` waits for the node with it, the join secret may not read */
		join_secret = mk_strdup(jcfg->token);
		_cleanup_free_ char *cred = mk_strdup_printf("%s/node-credential", dir);
		if (mk_client_node_credential(jcfg, node, cred, &err) < 0) {
			fprintf(stderr, "minik8s up: %s\n", err->msg);
			mk_client_config_free(jcfg);
			return 1;
		}
		sargv[sargc++] = "--server";
		sargv[sargc++] = (char *)server;
		sargv[sargc++] = "--token";
		sargv[sargc++] = join_secret;
		sargv[sargc++] = "--ca-file";
		sargv[sargc++] = ca_path;
	}
	sargv[sargc] = NULL;
	if (fg) {
		int rc = server ? cmd_agent(sargc - 1, sargv + 1) : cmd_server(sargc - 1, sargv + 1);
		mk_client_config_free(jcfg);
		return rc;
	}
	if ((pid = running_pid())) {
		printf("minik8s is already up (pid %d)%s%s\n", (int)pid, server ? "" : "; kubeconfig: ",
		       server ? "" : kcfg);
		mk_client_config_free(jcfg);
		return 0;
	}
	if (!server && (pid = mk_fs_dir_lock_holder(data)) && alive(pid)) {
		fprintf(stderr, "minik8s up: data dir %s is in use by pid %d\n", data, (int)pid);
		mk_client_config_free(jcfg);
		return 1;
	}
	if (mk_fs_mkdir_p(run_dir, 0755, &err) < 0 || mk_fs_mkdir_p(data, 0700, &err) < 0) {
		fprintf(stderr, "minik8s up: %s\n", err->msg);
		mk_client_config_free(jcfg);
		return 1;
	}
	_cleanup_free_ char *log = mk_strdup_printf("%s/minik8s.log", data);
	struct stat before = { 0 };
	stat(kcfg, &before);
	bool agent_here = true; /* a joining node is an agent; a server runs one unless told */
	for (int i = 1; i < argc && !server; i++)
		if (!strcmp(argv[i], "--disable-agent"))
			agent_here = false;

	printf("[1/3] starting %s (log: %s)\n",
	       server ? "the node agent" : "the API server, controllers and node agent", log);
	fflush(stdout);
	save_args(sargv);
	pid = spawn_detached(sargv, log);
	if (pid < 0 || write_pid(pid) < 0) {
		if (pid < 0)
			fprintf(stderr, "minik8s up: fork: %s\n", strerror(errno));
		mk_client_config_free(jcfg);
		return 1;
	}

	struct mk_client *c = NULL;
	if (server) {
		printf("[2/3] joining %s as node %s\n", server, node);
		fflush(stdout);
		int r = mk_client_new(jcfg, &c, &err);
		mk_client_config_free(jcfg);
		if (r < 0) {
			fprintf(stderr, "minik8s up: %s\n", err->msg);
			return 1;
		}
	} else {
		/* the server (re)writes the kubeconfig once it listens */
		printf("[2/3] waiting for the API server\n");
		fflush(stdout);
		for (int i = 0;; i++) {
			struct stat st;
			if (gone(pid)) {
				fprintf(stderr, "minik8s up: the server exited during start; last log lines:\n");
				show_log_tail(log);
				unlink(pid_file);
				collect_reaper();
				return 1;
			}
			if (stat(kcfg, &st) == 0 && (st.st_mtim.tv_sec != before.st_mtim.tv_sec ||
						     st.st_mtim.tv_nsec != before.st_mtim.tv_nsec))
				break;
			if (i == 600) {
				fprintf(stderr, "minik8s up: the server did not answer in 60 s (log: %s)\n", log);
				return 1;
			}
			usleep(100 * 1000);
		}
		struct mk_client_config *cfg = NULL;
		if (mk_client_config_load_kubeconfig(kcfg, NULL, &cfg, &err) < 0 ||
		    mk_client_new(cfg, &c, &err) < 0) {
			fprintf(stderr, "minik8s up: %s\n", err->msg);
			mk_client_config_free(cfg);
			return 1;
		}
		mk_client_config_free(cfg);
	}
	if (agent_here) {
		printf("[3/3] waiting for node %s to be Ready\n", node);
		fflush(stdout);
		if (wait_ready(pid, c, node, log, 120) < 0) {
			mk_client_free(c);
			return 1;
		}
	}
	mk_client_free(c);
	if (server) {
		printf("minik8s node %s joined %s and is Ready (pid %d)\n"
		       "  stop: minik8s down\n", node, server, (int)pid);
		return 0;
	}
	printf("minik8s is up (pid %d)\n"
	       "  kubeconfig: %s (mode 0600)\n"
	       "  use it:     export KUBECONFIG=%s; kubectl get nodes\n"
	       "              or: minik8s kubectl get nodes\n"
	       "  join nodes: minik8s up --server https://THIS_NODE_IP:%s --token $(cat %s/node-token)\n"
	       "  stop:       minik8s down   (--purge also deletes %s)\n",
	       (int)pid, kcfg, kcfg, flag_value(argc, argv, "--https-listen-port", "6443"), data, data);
	return 0;
}

/* Teardown options from the saved flags, overridden by down's own. */
struct down_flags {
	const char *data, *kcfg;
	const char *server, *ca_file; /* a joined node's API server and its CA */
	bool agent_only;  /* the node joined a cluster: it wrote no kubeconfig */
	bool kcfg_given;
	struct mk_agent_options agent;
	char *saved; /* owned text the pointers may borrow from */
};

static void take_flag(struct down_flags *f, const char *name, const char *v)
{
	if (!strcmp(name, "--data-dir"))
		f->data = f->agent.data_dir = v;
	else if (!strcmp(name, "--write-kubeconfig"))
		f->kcfg = v;
	else if (!strcmp(name, "--netns-dir"))
		f->agent.netns_dir = v;
	else if (!strcmp(name, "--cgroup-parent"))
		f->agent.cgroup_parent = v;
	else if (!strcmp(name, "--bridge"))
		f->agent.bridge = v;
	else if (!strcmp(name, "--cluster-cidr"))
		f->agent.cluster_cidr = v;
	else if (!strcmp(name, "--cluster-dns"))
		f->agent.cluster_dns = v;
	else if (!strcmp(name, "--server"))
		f->server = v;
	else if (!strcmp(name, "--ca-file"))
		f->ca_file = v;
}

/* A joined node leaving for good (down --purge): it deletes its Node with its own
 * credential (DATA/agent/node-credential, "mknode:NAME:SECRET"), and the server
 * drops the credential with it, so the name can join again. A server that cannot
 * be reached is only warned about: the node is gone either way. */
static void forget_node(const struct down_flags *f)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/agent/node-credential", f->data);
	_cleanup_free_ char *cred = NULL, *name = NULL, *npath = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_client *c = NULL;

	if (!f->server || mk_fs_read_file(path, &cred, NULL, NULL) < 0)
		return;
	cred[strcspn(cred, "\r\n")] = '\0';
	const char *n = mk_str_has_prefix(cred, "mknode:") ? cred + 7 : NULL;
	const char *colon = n ? strrchr(n, ':') : NULL;
	if (!colon || colon == n)
		return;
	name = mk_strdup(n);
	name[colon - n] = '\0';
	struct mk_client_config *cfg = mk_client_config_new(f->server, cred, f->ca_file);
	cfg->timeout_ms = 5000;
	npath = mk_client_resource_path("v1", "nodes", NULL, name, NULL);
	if (mk_client_new(cfg, &c, &err) == 0 && mk_client_delete(c, npath, NULL, NULL, &err) == 0)
		printf("deleted node %s from %s (its credential with it)\n", name, f->server);
	else if (mk_error_code(err) != 404)
		fprintf(stderr, "minik8s down: warning: could not delete node %s from %s: %s\n", name,
			f->server, err ? err->msg : "?");
	mk_client_free(c);
	mk_client_config_free(cfg);
	explicit_bzero(cred, strlen(cred));
}

static void load_saved_flags(struct down_flags *f)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/minik8s.args", run_dir);
	if (mk_fs_read_file(path, &f->saved, NULL, NULL) < 0)
		return;
	char *save = NULL, *prev = NULL;
	for (char *l = strtok_r(f->saved, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!prev && !strcmp(l, "agent"))
			f->agent_only = true;
		char *eq = strchr(l, '=');
		if (mk_str_has_prefix(l, "--") && eq) {
			*eq = '\0';
			take_flag(f, l, eq + 1);
		} else if (prev && mk_str_has_prefix(prev, "--")) {
			take_flag(f, prev, l);
		}
		prev = l;
	}
}

int cmd_down(int argc, char **argv)
{
	_cleanup_error_ struct mk_error *err = NULL;
	struct down_flags f = { .data = DEFAULT_DATA, .kcfg = DEFAULT_KUBECONFIG };
	bool purge = false;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: minik8s down [--purge] [--run-dir DIR] [FLAGS]\n\n"
			       "Stops the node started by 'minik8s up' and removes every trace of it from\n"
			       "the kernel and the run directory: containers, pod network namespaces and\n"
			       "veths, the bridge, the cluster DNS address, routes to other nodes, the\n"
			       "nftables table, mounts, cgroups, and RUN_DIR (default %s).\n"
			       "With --purge also deletes its state (--data-dir, default %s) and its\n"
			       "kubeconfig (--write-kubeconfig, default %s); a node that joined a\n"
			       "cluster first deletes its Node there, which drops its node credential\n"
			       "(the name may then join again).\n\n"
			       "The node's flags (--data-dir, --netns-dir, --cgroup-parent, --bridge,\n"
			       "--cluster-cidr, --cluster-dns, --write-kubeconfig) are read from what 'up'\n"
			       "saved in RUN_DIR; given here, they override it.\n\n"
			       "Uninstall: 'minik8s down --purge' leaves nothing of minik8s on the machine\n"
			       "but the binary; then remove it (rm /usr/local/bin/minik8s, where\n"
			       "scripts/up.sh installed it).\n",
			       DEFAULT_RUN, DEFAULT_DATA, DEFAULT_KUBECONFIG);
			return 0;
		}
		if (!strcmp(argv[i], "--run-dir") && i + 1 < argc) {
			run_dir = argv[++i];
			snprintf(pid_file, sizeof(pid_file), "%s/minik8s.pid", run_dir);
		}
	}
	load_saved_flags(&f);
	for (int i = 1; i < argc; i++) {
		static const char *const with_value[] = { "--data-dir", "--write-kubeconfig",
							  "--netns-dir", "--cgroup-parent", "--bridge",
							  "--cluster-cidr", "--cluster-dns", "--run-dir" };
		bool known = false;
		if (!strcmp(argv[i], "--purge")) {
			purge = true;
			continue;
		}
		for (size_t k = 0; k < MK_ARRAY_SIZE(with_value) && !known; k++) {
			if (strcmp(argv[i], with_value[k]))
				continue;
			if (i + 1 >= argc)
				return cmd_usage_error("down", "%s needs a value", argv[i]);
			take_flag(&f, argv[i], argv[i + 1]);
			if (!strcmp(argv[i], "--write-kubeconfig"))
				f.kcfg_given = true;
			i++;
			known = true;
		}
		if (!known) {
			free(f.saved);
			return cmd_usage_error("down", "unexpected argument '%s'", argv[i]);
		}
	}
	f.agent.run_dir = run_dir;
	f.agent.data_dir = f.data;

	pid_t pid = running_pid();
	pid_t reaper = pid ? reaper_of(pid) : 0;
	if (pid) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 300 && alive(pid); i++)
			usleep(100 * 1000);
		if (alive(pid)) {
			fprintf(stderr, "minik8s down: pid %d did not stop in 30 s; killing it\n", (int)pid);
			kill(pid, SIGKILL);
		}
		printf("minik8s stopped (pid %d)\n", (int)pid);
	} else {
		printf("minik8s is not running\n");
	}
	if (mk_agent_node_teardown(&f.agent, &err) < 0) {
		fprintf(stderr, "minik8s down: %s\n", err->msg);
		rc = 1;
	} else {
		printf("removed the node's containers, network namespaces, bridge, nftables table and %s\n",
		       run_dir);
	}
	/* the reaper leaves once the node process and the shims are gone: wait for it, so
	 * that nothing of the node runs when down returns */
	for (int i = 0; i < 100 && reaper && alive(reaper); i++)
		usleep(100 * 1000);
	if (purge) {
		int status = 0;
		if (f.agent_only)
			forget_node(&f);
		if (!strcmp(f.data, "/") ||
		    mk_runtime_command_run((const char *const[]){ "rm", "-rf", "--", f.data, NULL },
					   60000, &status, &err) < 0 || status) {
			fprintf(stderr, "minik8s down: could not remove '%s'\n", f.data);
			rc = 1;
		} else if (f.agent_only && !f.kcfg_given) {
			printf("removed %s\n", f.data);
		} else {
			unlink(f.kcfg);
			printf("removed %s and %s\n", f.data, f.kcfg);
		}
	}
	free(f.saved);
	return rc;
}

/* The components this node runs, from the flags `up` saved. */
static void print_components(void)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/minik8s.args", run_dir), *text = NULL;
	struct mk_buf b;

	if (mk_fs_read_file(path, &text, NULL, NULL) < 0)
		return;
	bool server = !mk_str_has_prefix(text, "agent\n");
	bool agent = !strstr(text, "\n--disable-agent\n");
	const struct {
		bool on;
		const char *name;
	} parts[] = {
		{ server, "apiserver" },
		{ server, "store" },
		{ server && !strstr(text, "\n--disable-controllers\n"), "scheduler+controllers" },
		{ agent, "agent" },
		{ agent && !strstr(text, "\n--disable-proxy\n"), "balancer" },
		{ agent && !strstr(text, "\n--disable-dns\n"), "dns" },
		{ agent && !strstr(text, "\n--disable-network-policy\n"), "network-policy" },
	};
	mk_buf_init(&b);
	for (size_t i = 0; i < MK_ARRAY_SIZE(parts); i++)
		if (parts[i].on)
			mk_buf_printf(&b, "%s%s", b.len ? ", " : "", parts[i].name);
	printf("  components: %s\n", b.len ? b.data : "none");
	mk_buf_release(&b);
}

/* What a stopped node tells the user: how to start it (again, with the flags `up`
 * saved when there are any) and where the last run's log is. */
static void print_how_to_start(const char *data_flag)
{
	_cleanup_free_ char *path = mk_strdup_printf("%s/minik8s.args", run_dir), *text = NULL;
	struct down_flags f = { .data = DEFAULT_DATA };
	struct mk_buf b;

	mk_buf_init(&b);
	if (mk_fs_read_file(path, &text, NULL, NULL) == 0) {
		char *save = NULL;
		bool first = true;
		for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			if (first) { /* the role: an agent joined with --server/--token */
				first = false;
				continue;
			}
			if (!strcmp(l, "--token") || mk_str_has_prefix(l, "--token=") ||
			    !strcmp(l, "--ca-file") || mk_str_has_prefix(l, "--ca-file=")) {
				if (!strchr(l, '='))
					strtok_r(NULL, "\n", &save); /* never print a secret */
				continue;
			}
			mk_buf_printf(&b, " %s", l);
		}
		load_saved_flags(&f);
	}
	const char *data = data_flag ? data_flag : f.data;
	if (b.len && strstr(b.data, " --server "))
		printf("  start it:  minik8s up%s --token TOKEN   (the flags of its last start)\n", b.data);
	else if (b.len)
		printf("  start it:  minik8s up%s   (the flags of its last start)\n", b.data);
	else
		printf("  start it:  minik8s up   (a single-node cluster: API server, controllers, agent)\n"
		       "             minik8s up --server https://SERVER:6443 --token TOKEN   (join a cluster)\n");
	_cleanup_free_ char *log = mk_strdup_printf("%s/minik8s.log", data);
	if (access(log, R_OK) == 0)
		printf("  last log:  %s\n", log);
	else
		printf("  state:     %s (%s)\n", data,
		       access(data, F_OK) == 0 ? "no log yet" : "none: never started with this --data-dir");
	mk_buf_release(&b);
	free(f.saved);
}

/* argv[*i] is "FLAG VALUE" (then *i moves past VALUE) or "FLAG=VALUE": the value */
static const char *take_value(int argc, char **argv, int *i, const char *flag)
{
	size_t n = strlen(flag);
	if (!strcmp(argv[*i], flag) && *i + 1 < argc)
		return argv[++*i];
	if (!strncmp(argv[*i], flag, n) && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	return NULL;
}

/* status through the API: the server's version and every node's readiness. 0, or
 * 1 when the API cannot be reached. */
static int status_api(const char *kcfg)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *path = mk_client_kubeconfig_path(kcfg);
	struct mk_client_config *cfg = NULL;
	struct mk_client *c = NULL;
	_cleanup_cjson_ cJSON *nodes = NULL, *ver = NULL;
	if (access(path, R_OK) != 0) {
		printf("  (no kubeconfig at %s: this is an agent-only node, or use --kubeconfig)\n", path);
		return 0;
	}
	if (mk_client_config_load_kubeconfig(path, NULL, &cfg, &err) < 0 ||
	    mk_client_new(cfg, &c, &err) < 0 || mk_client_get(c, "/version", &ver, &err) < 0 ||
	    mk_client_get(c, "/api/v1/nodes", &nodes, &err) < 0) {
		printf("  API: %s\n", err ? err->msg : "unreachable");
		mk_client_free(c);
		mk_client_config_free(cfg);
		return 1;
	}
	printf("  API server: %s (%s)\n", cfg->server, mk_json_get_string(ver, "gitVersion"));
	cJSON *n;
	cJSON_ArrayForEach(n, cJSON_GetObjectItem(nodes, "items"))
	{
		const char *ready = "Unknown";
		cJSON *cond;
		cJSON_ArrayForEach(cond, mk_json_get(n, "status.conditions"))
		{
			const char *t = mk_json_get_string(cond, "type");
			if (t && !strcmp(t, "Ready"))
				ready = !strcmp(mk_json_get_string(cond, "status") ?: "", "True") ? "Ready"
												 : "NotReady";
		}
		printf("  node %-20s %-9s %-16s %s %s\n", mk_json_get_string(n, "metadata.name"), ready,
		       mk_json_get_string(n, "spec.podCIDR") ?: "-",
		       mk_json_get_string(n, "status.nodeInfo.kubeletVersion") ?: "",
		       mk_json_get_string(n, "status.nodeInfo.containerRuntimeVersion") ?: "");
	}
	mk_client_free(c);
	mk_client_config_free(cfg);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	const char *kcfg = NULL, *data = NULL;

	for (int i = 1; i < argc; i++) {
		const char *v;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: minik8s status [--run-dir DIR] [--data-dir DIR] [--kubeconfig FILE]\n\n"
			       "Shows whether this node's minik8s runs (its pid file in RUN_DIR, default\n"
			       "%s), its components, and through the API the nodes with their\n"
			       "readiness and versions. On a stopped node it says how to start it (with the\n"
			       "flags 'up' saved in RUN_DIR) and where the last log is (DATA_DIR/minik8s.log,\n"
			       "DATA_DIR default %s). For a server (also 'minik8s server' run in the\n"
			       "foreground on DATA_DIR) it shows its datastore (without a password), its\n"
			       "API URL and leader-election identity, and the cluster's leader: the holder\n"
			       "of the Lease kube-system/kube-controller-manager. Exit code 3 when not\n"
			       "running.\n",
			       DEFAULT_RUN, DEFAULT_DATA);
			return 0;
		} else if ((v = take_value(argc, argv, &i, "--run-dir"))) {
			run_dir = v;
			snprintf(pid_file, sizeof(pid_file), "%s/minik8s.pid", run_dir);
		} else if ((v = take_value(argc, argv, &i, "--data-dir"))) {
			data = v;
		} else if ((v = take_value(argc, argv, &i, "--kubeconfig"))) {
			kcfg = v;
		} else if (!strcmp(argv[i], "--run-dir") || !strcmp(argv[i], "--data-dir") ||
			   !strcmp(argv[i], "--kubeconfig")) {
			return cmd_usage_error("status", "%s needs a value", argv[i]);
		} else {
			return cmd_usage_error("status", "unexpected argument '%s'", argv[i]);
		}
	}
	pid_t pid = running_pid();
	/* a `minik8s server` in the foreground (not started by up) on this data dir */
	pid_t fg = pid ? 0 : cmd_server_info_pid(data ? data : DEFAULT_DATA);
	printf("minik8s v%s (Kubernetes API v%s.%s): %s", MINIK8S_VERSION, MINIK8S_KUBE_MAJOR,
	       MINIK8S_KUBE_MINOR, pid || fg ? "running" : "not running");
	if (pid)
		printf(", pid %d", (int)pid);
	else if (fg)
		printf(", 'minik8s server' pid %d", (int)fg);
	printf("\n");
	if (!pid && !fg) {
		print_how_to_start(data);
		return 3;
	}
	if (fg) {
		/* the server's own kubeconfig unless one is given */
		_cleanup_free_ char *own = kcfg ? NULL : cmd_server_info_kubeconfig(data ? data : DEFAULT_DATA);
		cmd_status_server(data ? data : DEFAULT_DATA, kcfg ? kcfg : own);
		return status_api(kcfg ? kcfg : own);
	}
	print_components();
	struct down_flags saved = { .data = DEFAULT_DATA };
	load_saved_flags(&saved);
	printf("  log:        %s/minik8s.log\n", data ? data : saved.data);
	cmd_status_server(data ? data : saved.data, kcfg);
	free(saved.saved);
	return status_api(kcfg);
}

