/* Node registration and heartbeat (the kubelet's node status manager). */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include "minik8s/api.h"
#include "internal.h"

static char *read_trimmed(const char *path)
{
	char *s = NULL;
	if (mk_fs_read_file(path, &s, NULL, NULL) < 0)
		return NULL;
	s[strcspn(s, "\r\n")] = '\0';
	return s;
}

static char *os_image(void)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/os-release", "re");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "PRETTY_NAME=", 12))
			continue;
		char *v = line + 12;
		v[strcspn(v, "\r\n")] = '\0';
		size_t n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v[n - 1] = '\0';
			v++;
		}
		return mk_strdup(v);
	}
	return mk_strdup("Linux");
}

const char *agent_go_arch(const char *machine)
{
	if (!strcmp(machine, "x86_64"))
		return "amd64";
	if (!strcmp(machine, "aarch64"))
		return "arm64";
	if (!strncmp(machine, "armv", 4))
		return "arm";
	if (!strcmp(machine, "i686") || !strcmp(machine, "i386"))
		return "386";
	return machine;
}

static char *runc_version(void)
{
	/* popen before the reaper could take its child: the status is ignored anyway */
	FILE *p = popen("runc --version 2>/dev/null", "r");
	char line[256] = "";
	char *v = NULL;
	if (p) {
		if (fgets(line, sizeof(line), p) && !strncmp(line, "runc version ", 13)) {
			line[strcspn(line, "\r\n")] = '\0';
			v = mk_strdup_printf("runc://%s", line + 13);
		}
		pclose(p);
	}
	return v ? v : mk_strdup("runc://unknown");
}

static int64_t mem_total_kib(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long kb = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
			break;
	return kb;
}

/* First non-loopback IPv4 address not on the pod bridge. */
static char *guess_node_ip(const char *bridge)
{
	struct ifaddrs *ifs = NULL, *i;
	char buf[INET_ADDRSTRLEN];
	char *ip = NULL;
	if (getifaddrs(&ifs) < 0)
		return mk_strdup("127.0.0.1");
	for (i = ifs; i && !ip; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
		    !strcmp(i->ifa_name, bridge) || !strncmp(i->ifa_name, "mk", 2))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof(buf));
		ip = mk_strdup(buf);
	}
	freeifaddrs(ifs);
	return ip ? ip : mk_strdup("127.0.0.1");
}

/* The parts of Node.status that do not change while the agent runs. */
static cJSON *static_status(struct mk_agent *a)
{
	struct utsname u;
	char buf[64];
	cJSON *st = cJSON_CreateObject();
	uname(&u);

	cJSON *addrs = cJSON_AddArrayToObject(st, "addresses");
	cJSON *ad = cJSON_CreateObject();
	cJSON_AddStringToObject(ad, "type", "InternalIP");
	cJSON_AddStringToObject(ad, "address", a->node_ip);
	cJSON_AddItemToArray(addrs, ad);
	ad = cJSON_CreateObject();
	cJSON_AddStringToObject(ad, "type", "Hostname");
	cJSON_AddStringToObject(ad, "address", a->node_name);
	cJSON_AddItemToArray(addrs, ad);

	cJSON *cap = cJSON_AddObjectToObject(st, "capacity");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(buf, sizeof(buf), "%ld", cpus > 0 ? cpus : 1);
	cJSON_AddStringToObject(cap, "cpu", buf);
	snprintf(buf, sizeof(buf), "%lldKi", (long long)mem_total_kib());
	cJSON_AddStringToObject(cap, "memory", buf);
	snprintf(buf, sizeof(buf), "%d", MK_AGENT_MAX_PODS);
	cJSON_AddStringToObject(cap, "pods", buf);
	struct statvfs sv;
	if (statvfs(a->data_dir, &sv) == 0) {
		snprintf(buf, sizeof(buf), "%lluKi",
			 (unsigned long long)sv.f_blocks * sv.f_frsize / 1024);
		cJSON_AddStringToObject(cap, "ephemeral-storage", buf);
	}
	cJSON_AddItemToObject(st, "allocatable", mk_agent_node_allocatable(cap));

	cJSON *ni = cJSON_AddObjectToObject(st, "nodeInfo");
	_cleanup_free_ char *mid = read_trimmed("/etc/machine-id");
	_cleanup_free_ char *boot = read_trimmed("/proc/sys/kernel/random/boot_id");
	_cleanup_free_ char *os = os_image();
	_cleanup_free_ char *rv = runc_version();
	cJSON_AddStringToObject(ni, "machineID", mid ? mid : "");
	cJSON_AddStringToObject(ni, "systemUUID", mid ? mid : "");
	cJSON_AddStringToObject(ni, "bootID", boot ? boot : "");
	cJSON_AddStringToObject(ni, "kernelVersion", u.release);
	cJSON_AddStringToObject(ni, "osImage", os);
	cJSON_AddStringToObject(ni, "containerRuntimeVersion", rv);
	cJSON_AddStringToObject(ni, "kubeletVersion", MK_AGENT_KUBELET_VERSION);
	cJSON_AddStringToObject(ni, "kubeProxyVersion", "");
	cJSON_AddStringToObject(ni, "operatingSystem", "linux");
	cJSON_AddStringToObject(ni, "architecture", agent_go_arch(u.machine));

	cJSON *de = cJSON_AddObjectToObject(st, "daemonEndpoints");
	cJSON *ke = cJSON_AddObjectToObject(de, "kubeletEndpoint");
	cJSON_AddNumberToObject(ke, "Port", 10250);
	return st;
}

static cJSON *condition(const char *type, const char *status, const char *reason,
			const char *message, const char *hb, const char *since)
{
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status);
	cJSON_AddStringToObject(c, "lastHeartbeatTime", hb);
	cJSON_AddStringToObject(c, "lastTransitionTime", since);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", message);
	return c;
}

static cJSON *conditions(struct mk_agent *a)
{
	char now[32];
	mk_time_format(time(NULL), now, sizeof(now));
	cJSON *cs = cJSON_CreateArray();
	cJSON_AddItemToArray(cs, condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
					   "kubelet has sufficient memory available", now,
					   a->ready_since));
	cJSON_AddItemToArray(cs, condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
					   "kubelet has no disk pressure", now, a->ready_since));
	cJSON_AddItemToArray(cs, condition("PIDPressure", "False", "KubeletHasSufficientPID",
					   "kubelet has sufficient PID available", now,
					   a->ready_since));
	cJSON_AddItemToArray(cs, condition("Ready", "True", "KubeletReady",
					   "kubelet is posting ready status", now, a->ready_since));
	return cs;
}

static char *node_path(struct mk_agent *a, const char *sub)
{
	_cleanup_free_ char *esc = mk_client_escape(a->node_name);
	return mk_strdup_printf("/api/v1/nodes/%s%s", esc, sub ? sub : "");
}

static int patch_status(struct mk_agent *a, bool full, struct mk_error **err)
{
	_cleanup_free_ char *path = node_path(a, "/status");
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *st = full ? cJSON_Duplicate(a->node_static, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(st, "conditions", conditions(a));
	cJSON_AddItemToObject(patch, "status", st);
	return mk_client_patch(a->c, path, "application/merge-patch+json", patch, NULL, err);
}

cJSON *agent_node_object_new(const char *name, const char *arch)
{
	cJSON *node = cJSON_CreateObject();
	cJSON_AddStringToObject(node, "apiVersion", "v1");
	cJSON_AddStringToObject(node, "kind", "Node");
	cJSON *md = cJSON_AddObjectToObject(node, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON *labels = cJSON_AddObjectToObject(md, "labels");
	cJSON_AddStringToObject(labels, "kubernetes.io/hostname", name);
	cJSON_AddStringToObject(labels, "kubernetes.io/os", "linux");
	cJSON_AddStringToObject(labels, "kubernetes.io/arch", arch);
	return node;
}

/* Creates the Node, asking for the CIDR it had before (if any). */
static int create_node(struct mk_agent *a, const char *want_cidr, cJSON **ret, struct mk_error **err)
{
	struct utsname u;
	uname(&u);
	_cleanup_cjson_ cJSON *node = agent_node_object_new(a->node_name, agent_go_arch(u.machine));
	cJSON *md = cJSON_GetObjectItem(node, "metadata");
	cJSON *labels = cJSON_GetObjectItem(md, "labels");
	cJSON_AddStringToObject(labels, "beta.kubernetes.io/os", "linux");
	cJSON_AddStringToObject(labels, "beta.kubernetes.io/arch", agent_go_arch(u.machine));
	_cleanup_free_ char *storage = agent_pvc_dir(a);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), MK_API_LOCAL_PATH_DIR_ANN,
				storage);
	cJSON *spec = cJSON_AddObjectToObject(node, "spec");
	if (want_cidr && *want_cidr)
		cJSON_AddStringToObject(spec, "podCIDR", want_cidr);
	cJSON_AddItemToObject(node, "status", cJSON_Duplicate(a->node_static, 1));
	return mk_client_create(a->c, "/api/v1/nodes", node, ret, err);
}

int agent_node_register(struct mk_agent *a, struct mk_error **err)
{
	_cleanup_free_ char *path = node_path(a, NULL);
	_cleanup_free_ char *cidr_file = mk_strdup_printf("%s/podcidr", a->data_dir);
	_cleanup_free_ char *saved = read_trimmed(cidr_file);
	_cleanup_cjson_ cJSON *node = NULL;
	char now[32];

	if (!a->node_ip)
		a->node_ip = guess_node_ip(a->bridge);
	if (!a->node_static)
		a->node_static = static_status(a);
	if (!a->ready_since) {
		mk_time_format(time(NULL), now, sizeof(now));
		a->ready_since = mk_strdup(now);
	}
	/* the API server may still be starting (in-process or across the network) */
	for (int attempt = 0;; attempt++) {
		_cleanup_error_ struct mk_error *e = NULL;
		if (mk_client_get(a->c, path, &node, &e) == 0)
			break;
		if (e->code == 404) {
			mk_error_free(&e);
			if (create_node(a, saved, &node, &e) == 0)
				break;
			if (e->code == 422 && saved) {
				/* the old CIDR went to another node: take a new one */
				mk_error_free(&e);
				free(saved);
				saved = NULL;
				if (create_node(a, NULL, &node, &e) == 0)
					break;
			}
			if (e->code == 409)
				continue; /* created meanwhile: read it */
		}
		if (attempt >= 60 || (e->code >= 400 && e->code != 429 && e->code < 500)) {
			*err = TAKE_PTR(e);
			return mk_error_wrap(err, "register node '%s'", a->node_name);
		}
		usleep(500000);
	}
	/* a node registered before (or by an agent with another data dir): publish
	 * where this agent keeps local-path volumes */
	_cleanup_free_ char *storage = agent_pvc_dir(a);
	const cJSON *sa = cJSON_GetObjectItemCaseSensitive(mk_json_get(node, "metadata.annotations"),
							   MK_API_LOCAL_PATH_DIR_ANN);
	if (!cJSON_IsString(sa) || strcmp(sa->valuestring, storage)) {
		_cleanup_cjson_ cJSON *p = cJSON_CreateObject();
		cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(p, "metadata"),
								"annotations"),
					MK_API_LOCAL_PATH_DIR_ANN, storage);
		if (mk_client_patch(a->c, path, "application/merge-patch+json", p, NULL, err) < 0)
			return mk_error_wrap(err, "node '%s' annotations", a->node_name);
	}
	const char *cidr = mk_json_get_string(node, "spec.podCIDR");
	if (!cidr || !*cidr)
		return mk_error_set(err, EINVAL, "node '%s' has no spec.podCIDR (the API server "
				    "assigns one when the node is created)", a->node_name);
	free(a->pod_cidr);
	a->pod_cidr = mk_strdup(cidr);
	if (mk_fs_write_file(cidr_file, cidr, strlen(cidr), 0600, err) < 0)
		return -1;
	if (patch_status(a, true, err) < 0)
		return mk_error_wrap(err, "node '%s' status", a->node_name);
	return 0;
}

int agent_node_heartbeat(struct mk_agent *a, struct mk_error **err)
{
	if (patch_status(a, false, err) == 0)
		return 0;
	if ((*err)->code != 404)
		return -1;
	/* the Node was deleted: register again (keeping the CIDR if still free) */
	mk_error_free(err);
	_cleanup_cjson_ cJSON *node = NULL;
	if (create_node(a, a->pod_cidr, &node, err) < 0)
		return -1;
	const char *cidr = mk_json_get_string(node, "spec.podCIDR");
	if (cidr && strcmp(cidr, a->pod_cidr))
		mk_log(MK_LOG_WARN, "agent", "node '%s' re-registered with pod CIDR %s (was %s); "
		       "restart the agent to use it", a->node_name, cidr, a->pod_cidr);
	return patch_status(a, true, err);
}
