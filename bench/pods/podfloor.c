/* The floor of pod startup: what starting a pod costs without minik8s. For each
 * pod: a named network namespace, a veth pair with its host end on a bridge and
 * the pod end addressed, up and routed (pkg/net over netlink with libnl, as the
 * agent wires pods), then `runc run -d` of a busybox httpd bundle in that
 * namespace. COUNT pods at once (one thread each), ROUNDS times; each pod's time
 * runs from its namespace's creation to runc's exit. Prints "P50 P99 N" in ms, as
 * podlat does. Run it inside a network namespace of its own (bench/pods/run.sh).
 * Usage: podfloor WORKDIR ROOTFS SPEC_JSON CGROUP_PARENT COUNT ROUNDS
 *   WORKDIR  scratch: bundles, the runc root, named namespaces (WORKDIR/netns)
 *   SPEC_JSON  `runc spec` output to start from */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "minik8s/net.h"
#include "minik8s/util.h"

extern char **environ;

#define MAX_PODS 256
#define BRIDGE "mkf0"

static const char *workdir, *rootfs_dir, *cg_parent;
static cJSON *spec;

struct pod {
	int round, i;
	uint64_t ns;
	char *err;
};

static int run_cmd(const char *const *argv)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	int r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* The bundle of pod p: the spec with its rootfs, command, cgroup and netns. */
static int bundle_write(struct pod *p, char **ret_dir)
{
	char *dir = mk_strdup_printf("%s/b/r%d-%d", workdir, p->round, p->i);
	char *nspath = mk_strdup_printf("%s/netns/f%d-%d", workdir, p->round, p->i);
	char *cg = mk_strdup_printf("%s/f%d-%d", cg_parent, p->round, p->i);
	cJSON *s = cJSON_Duplicate(spec, 1);
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "path", rootfs_dir);
	cJSON_AddBoolToObject(root, "readonly", 0);
	cJSON_ReplaceItemInObjectCaseSensitive(s, "root", root);
	cJSON *proc = cJSON_GetObjectItemCaseSensitive(s, "process");
	cJSON_ReplaceItemInObjectCaseSensitive(proc, "terminal", cJSON_CreateFalse());
	const char *args[] = { "httpd", "-f", "-p", "80" };
	cJSON_ReplaceItemInObjectCaseSensitive(proc, "args", cJSON_CreateStringArray(args, 4));
	cJSON *linux_ = cJSON_GetObjectItemCaseSensitive(s, "linux");
	cJSON_DeleteItemFromObjectCaseSensitive(linux_, "cgroupsPath");
	cJSON_AddStringToObject(linux_, "cgroupsPath", cg);
	const cJSON *n;
	cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(linux_, "namespaces"))
		if (!strcmp(mk_json_get_string(n, "type") ?: "", "network"))
			cJSON_AddStringToObject((cJSON *)n, "path", nspath);
	char *json = cJSON_PrintUnformatted(s);
	char *cfg = mk_strdup_printf("%s/config.json", dir);
	struct mk_error *err = NULL;
	int r = mk_fs_mkdir_p(dir, 0700, &err) < 0 ? -1
		: mk_fs_write_file(cfg, json, strlen(json), 0600, &err);
	if (r < 0) {
		p->err = mk_strdup(err->msg);
		mk_error_free(&err);
	}
	cJSON_free(json);
	cJSON_Delete(s);
	free(cfg);
	free(cg);
	free(nspath);
	*ret_dir = dir;
	return r;
}

static void *pod_main(void *arg)
{
	struct pod *p = arg;
	struct mk_error *err = NULL;
	struct mk_net_sock *node = NULL;
	char *bundle = NULL, name[32], id[32], addr[32];
	_cleanup_free_ char *netns_dir = mk_strdup_printf("%s/netns", workdir);
	_cleanup_free_ char *runc_root = mk_strdup_printf("%s/runc", workdir);
	int fd = -1;

	snprintf(name, sizeof(name), "f%d-%d", p->round, p->i);
	snprintf(id, sizeof(id), "floor-%d-%d", p->round, p->i);
	snprintf(addr, sizeof(addr), "10.250.%d.%d/16", p->i / 250, p->i % 250 + 2);
	if (bundle_write(p, &bundle) < 0 || mk_net_sock_open(-1, &node, &err) < 0)
		goto out;
	uint64_t t0 = mk_time_mono_ns();
	if (mk_net_netns_create(netns_dir, name, &fd, &err) < 0)
		goto out;
	struct mk_net_pod_config pc = { .id = id, .netns_fd = fd, .bridge = BRIDGE,
					.address = addr, .gateway = "10.250.0.1" };
	if (mk_net_pod_attach(node, &pc, NULL, &err) < 0)
		goto out;
	const char *argv[] = { "runc", "--root", runc_root, "run", "-d", "--bundle", bundle, id, NULL };
	if (run_cmd(argv) < 0) {
		p->err = mk_strdup_printf("runc run -d %s failed", id);
		goto out;
	}
	p->ns = mk_time_mono_ns() - t0;
out:
	if (err && !p->err)
		p->err = mk_strdup(err->msg);
	mk_error_free(&err);
	if (fd >= 0)
		close(fd);
	mk_net_sock_free(node);
	free(bundle);
	return NULL;
}

/* Removes round's pods: containers, veths, namespaces. */
static void round_clean(int round, int count)
{
	_cleanup_free_ char *netns_dir = mk_strdup_printf("%s/netns", workdir);
	_cleanup_free_ char *runc_root = mk_strdup_printf("%s/runc", workdir);
	struct mk_net_sock *node = NULL;
	mk_net_sock_open(-1, &node, NULL);
	for (int i = 0; i < count; i++) {
		char id[32], name[32];
		snprintf(id, sizeof(id), "floor-%d-%d", round, i);
		snprintf(name, sizeof(name), "f%d-%d", round, i);
		const char *argv[] = { "runc", "--root", runc_root, "delete", "--force", id, NULL };
		run_cmd(argv);
		if (node)
			mk_net_pod_detach(node, id, NULL);
		mk_net_netns_delete(netns_dir, name, NULL);
	}
	mk_net_sock_free(node);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: podfloor WORKDIR ROOTFS SPEC_JSON CGROUP_PARENT COUNT ROUNDS\n");
		return 2;
	}
	workdir = argv[1];
	rootfs_dir = argv[2];
	cg_parent = argv[4];
	int count = atoi(argv[5]), rounds = atoi(argv[6]);
	if (count < 1 || count > MAX_PODS || rounds < 1) {
		fprintf(stderr, "podfloor: COUNT 1..%d, ROUNDS >= 1\n", MAX_PODS);
		return 2;
	}
	char *data = NULL;
	struct mk_error *err = NULL;
	if (mk_fs_read_file(argv[3], &data, NULL, &err) < 0 || !(spec = cJSON_Parse(data))) {
		fprintf(stderr, "podfloor: %s: %s\n", argv[3], err ? err->msg : "not JSON");
		return 1;
	}
	free(data);
	struct mk_net_sock *node = NULL;
	if (mk_net_sock_open(-1, &node, &err) < 0 ||
	    mk_net_bridge_ensure(node, BRIDGE, "10.250.0.1/16", &err) < 0) {
		fprintf(stderr, "podfloor: bridge: %s\n", err->msg);
		return 1;
	}
	uint64_t *lat = calloc((size_t)count * (size_t)rounds, sizeof(uint64_t));
	size_t nl = 0;
	int rc = 0;
	for (int round = 0; round < rounds && !rc; round++) {
		struct pod pods[MAX_PODS];
		pthread_t t[MAX_PODS];
		for (int i = 0; i < count; i++) {
			pods[i] = (struct pod){ .round = round, .i = i };
			pthread_create(&t[i], NULL, pod_main, &pods[i]);
		}
		for (int i = 0; i < count; i++) {
			pthread_join(t[i], NULL);
			if (pods[i].err) {
				fprintf(stderr, "podfloor: pod %d: %s\n", i, pods[i].err);
				free(pods[i].err);
				rc = 1;
			} else {
				lat[nl++] = pods[i].ns;
			}
		}
		round_clean(round, count);
	}
	mk_net_bridge_delete(node, BRIDGE, NULL);
	mk_net_sock_free(node);
	cJSON_Delete(spec);
	if (rc || !nl) {
		free(lat);
		return 1;
	}
	qsort(lat, nl, sizeof(*lat), cmp_u64);
	size_t p99 = (nl * 99 + 99) / 100;
	printf("%.1f %.1f %zu\n", lat[(nl - 1) / 2] / 1e6, lat[(p99 ? p99 : 1) - 1] / 1e6, nl);
	free(lat);
	return 0;
}
