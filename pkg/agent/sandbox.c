/* The pod sandbox: directory, network namespace, veth, address, /etc files; its
 * teardown; and the start-up reconciliation of what an earlier agent left. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

char *agent_pod_dir(struct mk_agent *a, const char *uid)
{
	return mk_strdup_printf("%s/pods/%s", a->data_dir, uid);
}

void agent_netns_name(const char *uid, char out[64])
{
	snprintf(out, 64, NETNS_PREFIX "%s", uid);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

int agent_rm_rf(const char *path)
{
	/* FTW_MOUNT: never descend into a mount point (a rootfs still mounted) */
	return nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* ---- /etc files ------------------------------------------------------------------ */

bool agent_host_network(const cJSON *pod)
{
	return cJSON_IsTrue(mk_json_get(pod, "spec.hostNetwork"));
}

static const char *pod_hostname(struct mk_agent *a, const cJSON *pod)
{
	if (agent_host_network(pod))
		return a->node_name;
	const char *h = mk_json_get_string(pod, "spec.hostname");
	return h && *h ? h : mk_json_get_string(pod, "metadata.name");
}

/* The pod's /etc/hosts (the kubelet's managed hosts file): localhost, the pod's
 * own name (with its subdomain's FQDN), then hostAliases. */
static void hosts_format(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			 const char *host, struct mk_buf *b)
{
	const char *sub = mk_json_get_string(pod, "spec.subdomain");
	mk_buf_printf(b, "# Kubernetes-managed hosts file.\n"
			 "127.0.0.1\tlocalhost\n"
			 "::1\tlocalhost ip6-localhost ip6-loopback\n"
			 "fe00::0\tip6-localnet\n"
			 "fe00::0\tip6-mcastprefix\n"
			 "fe00::1\tip6-allnodes\n"
			 "fe00::2\tip6-allrouters\n");
	if (sub && *sub)
		mk_buf_printf(b, "%s\t%s.%s.%s.svc.%s\t%s\n", st->ip, host, sub, st->ns,
			      a->cluster_domain, host);
	else
		mk_buf_printf(b, "%s\t%s\n", st->ip, host);
	cJSON *ha;
	cJSON_ArrayForEach(ha, mk_json_get(pod, "spec.hostAliases"))
	{
		const char *ip = mk_json_get_string(ha, "ip");
		cJSON *hn;
		if (!ip)
			continue;
		mk_buf_printf(b, "\n# Entries added by HostAliases.\n%s", ip);
		cJSON_ArrayForEach(hn, cJSON_GetObjectItem(ha, "hostnames"))
			if (cJSON_IsString(hn))
				mk_buf_printf(b, "\t%s", hn->valuestring);
		mk_buf_puts(b, "\n");
	}
}

/* The pod's resolv.conf after its dnsPolicy (the cluster DNS, the node's
 * resolver, or nothing for None), then spec.dnsConfig. */
static void resolv_format(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			  struct mk_buf *b)
{
	const char *policy = mk_json_get_string(pod, "spec.dnsPolicy");
	/* host-network pods use the node's resolver unless ClusterFirstWithHostNet */
	bool node_dns = (policy && !strcmp(policy, "Default")) ||
			(agent_host_network(pod) && (!policy || !strcmp(policy, "ClusterFirst")));
	if (node_dns) {
		/* the node's resolver configuration, as the kubelet's --resolv-conf */
		_cleanup_free_ char *node = NULL;
		if (mk_fs_read_file("/etc/resolv.conf", &node, NULL, NULL) == 0)
			mk_buf_puts(b, node);
	} else if (policy && !strcmp(policy, "None")) {
		/* only what dnsConfig says */
	} else {
		mk_buf_printf(b, "search %s.svc.%s svc.%s %s\nnameserver %s\noptions ndots:5\n",
			      st->ns, a->cluster_domain, a->cluster_domain, a->cluster_domain,
			      a->cluster_dns);
	}
	cJSON *dc = mk_json_get(pod, "spec.dnsConfig"), *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(dc, "nameservers"))
		if (cJSON_IsString(it))
			mk_buf_printf(b, "nameserver %s\n", it->valuestring);
	if (cJSON_GetArraySize(cJSON_GetObjectItem(dc, "searches")) > 0) {
		mk_buf_puts(b, "search");
		cJSON_ArrayForEach(it, cJSON_GetObjectItem(dc, "searches"))
			if (cJSON_IsString(it))
				mk_buf_printf(b, " %s", it->valuestring);
		mk_buf_puts(b, "\n");
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(dc, "options"))
	{
		const char *n = mk_json_get_string(it, "name"), *v = mk_json_get_string(it, "value");
		if (n)
			mk_buf_printf(b, "options %s%s%s\n", n, v ? ":" : "", v ? v : "");
	}
}

/* Not fsynced: a new agent's pod state starts with files_written false, so they
 * are written again from the pod after any restart, crash of the machine or not. */
static int write_files(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
		       struct mk_error **err)
{
	_cleanup_free_ char *dir = agent_pod_dir(a, st->uid);
	_cleanup_free_ char *hosts_path = mk_strdup_printf("%s/hosts", dir);
	_cleanup_free_ char *resolv_path = mk_strdup_printf("%s/resolv.conf", dir);
	_cleanup_free_ char *hostname_path = mk_strdup_printf("%s/hostname", dir);
	const char *host = pod_hostname(a, pod);
	struct mk_buf b;

	mk_buf_init(&b);
	hosts_format(a, st, pod, host, &b);
	int r = mk_fs_write_file_nosync(hosts_path, b.data, b.len, 0644, err);
	mk_buf_release(&b);
	if (r < 0)
		return -1;

	mk_buf_init(&b);
	resolv_format(a, st, pod, &b);
	r = mk_fs_write_file_nosync(resolv_path, b.data ? b.data : "", b.len, 0644, err);
	mk_buf_release(&b);
	if (r < 0)
		return -1;
	_cleanup_free_ char *hn = mk_strdup_printf("%s\n", host);
	return mk_fs_write_file_nosync(hostname_path, hn, strlen(hn), 0644, err);
}

/* ---- network ----------------------------------------------------------------------- */

struct agent_net_job {
	pthread_t thread;
	bool running; /* not joined yet */
	struct mk_agent *a;
	char uid[UID_LEN + 1];
	char addr[MK_NET_CIDR_STRLEN + 4];
	int fd;	    /* the namespace, if it exists already; -1 to create it */
	int rc;
	struct mk_error *err;
};

/* The pod's namespace (created unless job->fd holds it) and its veth. Runs in a
 * thread of its own; what it leaves on failure is found by the next sync (the
 * namespace reused, the veth made again) or removed by the pod's teardown. */
static void *net_job_run(void *arg)
{
	struct agent_net_job *j = arg;
	struct mk_agent *a = j->a;
	char name[64];
	agent_netns_name(j->uid, name);
	if (j->fd < 0) {
		/* EINVAL before: a file left by an interrupted create */
		mk_net_netns_delete(a->netns_dir, name, NULL);
		mk_net_pod_detach(a->node_sock, j->uid, NULL);
		if (mk_net_netns_create(a->netns_dir, name, &j->fd, &j->err) < 0) {
			j->rc = mk_error_wrap(&j->err, "pod network namespace");
			return NULL;
		}
	}
	struct mk_net_pod_config pc = { .id = j->uid, .netns_fd = j->fd, .bridge = a->bridge,
					.address = j->addr, .gateway = a->gateway,
					.mtu = a->pod_mtu };
	j->rc = mk_net_pod_attach(a->node_sock, &pc, NULL, &j->err);
	return NULL;
}

static void net_job_free(struct agent_net_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	mk_error_free(&j->err);
	free(j);
}

/* Starts the job wiring st's network; fd: its namespace if it exists (taken). */
static int net_job_start(struct mk_agent *a, struct pod_state *st, int fd, struct mk_error **err)
{
	struct agent_net_job *j = mk_malloc0(sizeof(*j));
	j->a = a;
	j->fd = fd;
	snprintf(j->uid, sizeof(j->uid), "%s", st->uid);
	snprintf(j->addr, sizeof(j->addr), "%s/%d", st->ip, a->prefix);
	int r = pthread_create(&j->thread, NULL, net_job_run, j);
	if (r != 0) {
		net_job_free(j);
		return mk_error_errno(err, r, "pod network: start thread");
	}
	j->running = true;
	st->net_job = j;
	return 0;
}

int agent_sandbox_net_wait(struct pod_state *st, struct mk_error **err)
{
	struct agent_net_job *j = st->net_job;
	if (!j)
		return 0;
	if (j->running) {
		pthread_join(j->thread, NULL);
		j->running = false;
	}
	if (j->rc == 0)
		return 0;
	return mk_error_set(err, j->err ? j->err->code : EIO, "%s",
			    j->err ? j->err->msg : "pod network failed");
}

int agent_sandbox_net_finish(struct pod_state *st, struct mk_error **err)
{
	struct agent_net_job *j = st->net_job;
	if (!j)
		return 0;
	agent_sandbox_net_wait(st, NULL);
	int rc = j->rc < 0 ? -1 : 0;
	if (rc < 0 && err && !*err) {
		*err = j->err;
		j->err = NULL;
	}
	st->net_job = NULL;
	net_job_free(j);
	return rc;
}

/* The node's own network namespace: nothing to create, only the /etc files. */
static int host_sandbox_ensure(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			       struct mk_error **err)
{
	if (strcmp(st->ip, a->node_ip)) {
		snprintf(st->ip, sizeof(st->ip), "%s", a->node_ip);
		st->files_written = false;
	}
	if (!st->files_written) {
		if (write_files(a, st, pod, err) < 0)
			return -1;
		st->files_written = true;
	}
	return 0;
}

int agent_sandbox_ensure(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			 struct mk_error **err)
{
	_cleanup_free_ char *dir = agent_pod_dir(a, st->uid);
	_cleanup_free_ char *cdir = mk_strdup_printf("%s/containers", dir);
	char name[64], veth[MK_NET_IFNAMSIZ], ip[MK_NET_IP_STRLEN];
	int fd = -1;

	if (mk_fs_mkdir_p(cdir, 0700, err) < 0)
		return -1;
	if (agent_host_network(pod))
		return host_sandbox_ensure(a, st, pod, err);
	if (mk_net_ipam_allocate(a->ipam, st->uid, ip, err) < 0)
		return mk_error_wrap(err, "allocate pod address");
	if (strcmp(st->ip, ip)) {
		memcpy(st->ip, ip, sizeof(st->ip));
		st->files_written = false;
	}
	/* the files need only the address: written before the network is wired */
	if (!st->files_written) {
		if (write_files(a, st, pod, err) < 0)
			return -1;
		st->files_written = true;
	}
	agent_netns_name(st->uid, name);
	if (mk_net_netns_open(a->netns_dir, name, &fd, err) < 0) {
		if ((*err)->code != ENOENT && (*err)->code != EINVAL)
			return -1;
		mk_error_free(err);
		return net_job_start(a, st, -1, err); /* a new namespace */
	}
	mk_net_veth_name(st->uid, veth);
	int have = mk_net_link_exists(a->node_sock, veth, err);
	if (have != 0) {
		close(fd);
		return have < 0 ? -1 : 0; /* wired already */
	}
	return net_job_start(a, st, fd, err);
}

void agent_sandbox_net_release(struct mk_agent *a, const char *uid)
{
	_cleanup_error_ struct mk_error *e1 = NULL, *e2 = NULL, *e3 = NULL;
	char name[64];
	agent_netns_name(uid, name);
	if (mk_net_pod_detach(a->node_sock, uid, &e1) < 0)
		mk_log(MK_LOG_WARN, "agent", "pod %s: veth: %s", uid, e1->msg);
	if (mk_net_netns_delete(a->netns_dir, name, &e2) < 0)
		mk_log(MK_LOG_WARN, "agent", "pod %s: netns: %s", uid, e2->msg);
	if (mk_net_ipam_release(a->ipam, uid, &e3) < 0)
		mk_log(MK_LOG_WARN, "agent", "pod %s: address: %s", uid, e3->msg);
}

static bool cid_of_pod(const char *cid, const char *uid)
{
	size_t n = strlen(uid);
	return !strncmp(cid, uid, n) && cid[n] == '-';
}

void agent_pod_teardown(struct mk_agent *a, const char *uid)
{
	_cleanup_free_ char *dir = agent_pod_dir(a, uid);
	_cleanup_free_ char *cdir = mk_strdup_printf("%s/containers", dir);
	struct mk_runtime_container_info *list = NULL;
	size_t n = 0;
	_cleanup_error_ struct mk_error *err = NULL;

	/* `runc list` fails as a whole when a container of another pod is deleted
	 * while it reads the root (workers tear pods down in parallel): try again */
	for (int attempt = 0; attempt < 5; attempt++) {
		if (mk_runtime_container_list(a->rt, &list, &n, &err) == 0)
			break;
		if (attempt == 4)
			mk_log(MK_LOG_WARN, "agent", "pod %s: list containers: %s", uid, err->msg);
		mk_error_free(&err);
		list = NULL;
		n = 0;
		usleep(20000 << attempt);
	}
	for (size_t i = 0; i < n; i++) {
		if (!cid_of_pod(list[i].id, uid))
			continue;
		if (mk_runtime_container_stop(a->rt, list[i].id, 0, NULL, &err) < 0)
			mk_error_free(&err);
		if (mk_runtime_container_delete(a->rt, list[i].id, &err) < 0) {
			mk_log(MK_LOG_WARN, "agent", "container %s: delete: %s", list[i].id, err->msg);
			mk_error_free(&err);
		}
	}
	mk_runtime_container_list_free(list, n);
	DIR *d = opendir(cdir);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			_cleanup_free_ char *c = mk_strdup_printf("%s/%s", cdir, de->d_name);
			if (mk_image_rootfs_unmount(c, 1, &err) < 0) {
				mk_log(MK_LOG_WARN, "agent", "rootfs '%s': %s", c, err->msg);
				mk_error_free(&err);
			}
		}
		closedir(d);
	}
	agent_sandbox_net_release(a, uid);
	agent_volumes_unmount(a, uid); /* tmpfs volumes, subPath binds */
	agent_rm_rf(dir);
}

/* ---- start-up reconciliation ----------------------------------------------------------- */

struct uidset {
	char **v;
	size_t n;
};

static bool uidset_has(const struct uidset *s, const char *uid)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], uid))
			return true;
	return false;
}

static void uidset_add(struct uidset *s, const char *uid)
{
	if (uidset_has(s, uid))
		return;
	mk_strv_push(&s->v, &s->n, mk_strdup(uid));
}

static void uidset_free(struct uidset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static bool looks_like_uid(const char *s)
{
	if (strlen(s) < UID_LEN)
		return false;
	for (int i = 0; i < UID_LEN; i++) {
		char c = s[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

/* The uids of the pods the informer holds. */
static void live_uids(struct mk_agent *a, struct uidset *live)
{
	struct mk_object **objs = NULL;
	size_t n = mk_informer_list(a->pods, &objs);
	for (size_t i = 0; i < n; i++) {
		const char *uid = mk_json_get_string(objs[i]->json, "metadata.uid");
		if (uid)
			uidset_add(live, uid);
	}
	mk_object_list_free(objs, n);
}

/* Containers: a snapshot of those of live pods kept for adoption; strays deleted,
 * the pods of the others marked dead. */
static void containers_reconcile(struct mk_agent *a, const struct uidset *live,
				 struct uidset *dead)
{
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_runtime_container_info *list = NULL;
	size_t nl = 0;
	if (mk_runtime_container_list(a->rt, &list, &nl, &err) < 0)
		mk_log(MK_LOG_WARN, "agent", "reconcile: list containers: %s", err->msg);
	for (size_t i = 0; i < nl; i++) {
		char uid[UID_LEN + 1];
		if (!looks_like_uid(list[i].id) || list[i].id[UID_LEN] != '-') {
			/* not ours by name: a leftover of this runtime all the same */
			mk_runtime_container_delete(a->rt, list[i].id, NULL);
			continue;
		}
		memcpy(uid, list[i].id, UID_LEN);
		uid[UID_LEN] = '\0';
		if (!uidset_has(live, uid))
			uidset_add(dead, uid);
		else if (list[i].state == MK_RUNTIME_STATE_UNKNOWN)
			mk_runtime_container_delete(a->rt, list[i].id, NULL);
	}
	pthread_mutex_lock(&a->mu);
	a->adopt = list;
	a->n_adopt = nl;
	pthread_mutex_unlock(&a->mu);
}

/* Pod directories, network namespaces and addresses of pods that are gone. */
static void dead_pods_find(struct mk_agent *a, const struct uidset *live, struct uidset *dead)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *pods = mk_strdup_printf("%s/pods", a->data_dir);
	DIR *d = opendir(pods);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)))
			if (looks_like_uid(de->d_name) && !uidset_has(live, de->d_name))
				uidset_add(dead, de->d_name);
		closedir(d);
	}
	char **names = NULL;
	size_t nn = 0;
	if (mk_net_netns_list(a->netns_dir, &names, &nn, &err) == 0) {
		for (size_t i = 0; i < nn; i++) {
			const char *u = names[i] + strlen(NETNS_PREFIX);
			if (mk_str_has_prefix(names[i], NETNS_PREFIX) && looks_like_uid(u) &&
			    !uidset_has(live, u))
				uidset_add(dead, u);
		}
		mk_strv_free(names);
	} else {
		mk_error_free(&err);
	}
	struct mk_net_ipam_entry *ents = NULL;
	size_t ne = 0;
	if (mk_net_ipam_list(a->ipam, &ents, &ne, &err) == 0) {
		for (size_t i = 0; i < ne; i++)
			if (!uidset_has(live, ents[i].owner))
				uidset_add(dead, ents[i].owner);
		mk_net_ipam_entries_free(ents, ne);
	} else {
		mk_error_free(&err);
	}
}

/* Veths on the bridge that belong to no live pod. */
static void stray_veths_delete(struct mk_agent *a, const struct uidset *live)
{
	_cleanup_error_ struct mk_error *err = NULL;
	char **names = NULL;
	size_t nn = 0;
	if (mk_net_veth_list(a->node_sock, a->bridge, &names, &nn, &err) < 0)
		return;
	for (size_t i = 0; i < nn; i++) {
		bool keep = false;
		for (size_t j = 0; j < live->n && !keep; j++) {
			char v[MK_NET_IFNAMSIZ];
			mk_net_veth_name(live->v[j], v);
			keep = !strcmp(v, names[i]);
		}
		if (!keep && mk_str_has_prefix(names[i], "mk"))
			mk_net_veth_delete(a->node_sock, names[i], NULL);
	}
	mk_strv_free(names);
}

void agent_reconcile(struct mk_agent *a)
{
	struct uidset live = { 0 }, dead = { 0 };

	live_uids(a, &live);
	containers_reconcile(a, &live, &dead);
	dead_pods_find(a, &live, &dead);
	for (size_t i = 0; i < dead.n; i++) {
		mk_log(MK_LOG_INFO, "agent", "removing leftovers of pod %s (no longer on this node)",
		       dead.v[i]);
		agent_pod_teardown(a, dead.v[i]);
	}
	stray_veths_delete(a, &live);
	uidset_free(&live);
	uidset_free(&dead);
}
