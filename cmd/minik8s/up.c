/* minik8s up / down / status: run the node in the background and manage it.
 * `up` starts `minik8s server` detached (its own session, log in DATA/minik8s.log,
 * pid in RUN/minik8s.pid), waits until it answers, and tells the user how to use
 * it; on a running node it says so. `down` stops it; --purge also removes state. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdbool.h>
#include "commands.h"
#include "minik8s/util.h"

#define RUN_DIR "/run/minik8s"
#define PID_FILE RUN_DIR "/minik8s.pid"
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
	if (mk_fs_read_file(PID_FILE, &s, NULL, NULL) < 0)
		return 0;
	pid_t pid = (pid_t)strtol(s, NULL, 10);
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
	printf("Usage: minik8s up [--foreground] [SERVER FLAGS]\n\n"
	       "Starts this node in the background and waits until its API answers:\n"
	       "the API server on SQLite (see 'minik8s server --help' for the flags, which\n"
	       "are passed on). Prints where the kubeconfig is and how to use it.\n"
	       "Running 'up' on a node that is already up says so and changes nothing.\n\n"
	       "  --foreground   stay attached (same as 'minik8s server')\n"
	       "  -h, --help     show this help\n\n"
	       "Files: pid %s, log DATA_DIR/minik8s.log.\n", PID_FILE);
}

int cmd_up(int argc, char **argv)
{
	_cleanup_error_ struct mk_error *err = NULL;
	const char *data = flag_value(argc, argv, "--data-dir", DEFAULT_DATA);
	const char *kcfg = flag_value(argc, argv, "--write-kubeconfig", DEFAULT_KUBECONFIG);
	char *sargv[64];
	int sargc = 0;
	pid_t pid;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			up_help();
			return 0;
		}
	}
	if (argc > 60)
		return cmd_usage_error("up", "too many arguments");
	sargv[sargc++] = "minik8s";
	sargv[sargc++] = "server";
	bool fg = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--foreground"))
			fg = true;
		else
			sargv[sargc++] = argv[i];
	}
	sargv[sargc] = NULL;
	if (fg)
		return cmd_server(sargc - 1, sargv + 1);

	if ((pid = running_pid())) {
		printf("minik8s is already up (pid %d); kubeconfig: %s\n", (int)pid, kcfg);
		return 0;
	}
	if (mk_fs_mkdir_p(RUN_DIR, 0755, &err) < 0 || mk_fs_mkdir_p(data, 0700, &err) < 0) {
		fprintf(stderr, "minik8s up: %s\n", err->msg);
		return 1;
	}
	_cleanup_free_ char *log = mk_strdup_printf("%s/minik8s.log", data);
	struct stat before = { 0 };
	stat(kcfg, &before);
	time_t started = time(NULL);

	printf("minik8s: starting the API server (log: %s)\n", log);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "minik8s up: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || nul < 0)
			_exit(127);
		setsid();
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv("/proc/self/exe", sargv);
		_exit(127);
	}
	_cleanup_free_ char *pids = mk_strdup_printf("%d\n", (int)pid);
	if (mk_fs_write_file(PID_FILE, pids, strlen(pids), 0644, &err) < 0) {
		fprintf(stderr, "minik8s up: %s\n", err->msg);
		kill(pid, SIGTERM);
		return 1;
	}
	/* ready when the server has (re)written the kubeconfig, which it does once listening */
	for (int i = 0; i < 600; i++) {
		struct stat st;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "minik8s up: the server exited during start; last log lines:\n");
			_cleanup_free_ char *cmd = mk_strdup_printf("tail -n 15 '%s' >&2", log);
			if (system(cmd) < 0)
				fprintf(stderr, "(see %s)\n", log);
			unlink(PID_FILE);
			return 1;
		}
		if (stat(kcfg, &st) == 0 &&
		    (st.st_mtime > before.st_mtime || (st.st_mtime >= started && !before.st_mtime) ||
		     st.st_mtim.tv_nsec != before.st_mtim.tv_nsec)) {
			printf("minik8s is up (pid %d)\n"
			       "  kubeconfig: %s (mode 0600)\n"
			       "  use it:     export KUBECONFIG=%s; kubectl get namespaces\n"
			       "              or: minik8s kubectl get namespaces\n"
			       "  token:      %s/token\n"
			       "  stop:       minik8s down   (--purge also deletes %s)\n",
			       (int)pid, kcfg, kcfg, data, data);
			return 0;
		}
		usleep(50 * 1000);
	}
	fprintf(stderr, "minik8s up: the server did not become ready in 30 s (log: %s)\n", log);
	return 1;
}

int cmd_down(int argc, char **argv)
{
	bool purge = false;
	const char *data = DEFAULT_DATA, *kcfg = DEFAULT_KUBECONFIG;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("Usage: minik8s down [--purge] [--data-dir DIR] [--write-kubeconfig FILE]\n\n"
			       "Stops the node started by 'minik8s up'. With --purge also deletes its\n"
			       "state (DIR, default %s) and kubeconfig (default %s).\n",
			       DEFAULT_DATA, DEFAULT_KUBECONFIG);
			return 0;
		} else if (!strcmp(argv[i], "--purge"))
			purge = true;
		else if (!strcmp(argv[i], "--data-dir") && i + 1 < argc)
			data = argv[++i];
		else if (!strcmp(argv[i], "--write-kubeconfig") && i + 1 < argc)
			kcfg = argv[++i];
		else
			return cmd_usage_error("down", "unexpected argument '%s'", argv[i]);
	}
	pid_t pid = running_pid();
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
	unlink(PID_FILE);
	if (purge) {
		_cleanup_free_ char *cmd = mk_strdup_printf("rm -rf -- '%s'", data);
		if (strchr(data, '\'') || !strcmp(data, "/") || system(cmd) != 0) {
			fprintf(stderr, "minik8s down: could not remove '%s'\n", data);
			return 1;
		}
		unlink(kcfg);
		printf("removed %s and %s\n", data, kcfg);
	}
	return 0;
}

int cmd_status(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: minik8s status\n\nShows whether this node's minik8s is running.\n");
		return 0;
	}
	if (argc > 1)
		return cmd_usage_error("status", "unexpected argument '%s'", argv[1]);
	pid_t pid = running_pid();
	if (!pid) {
		printf("minik8s: not running\n");
		return 3;
	}
	printf("minik8s v%s: running (pid %d)\n  components: apiserver, store\n", MINIK8S_VERSION,
	       (int)pid);
	return 0;
}
