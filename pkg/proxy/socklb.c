/* The socket LB's kernel side: loads the eBPF programs of bpf/socklb.bpf.c
 * (compiled by clang at build time and embedded here), attaches them with BPF
 * links to the pods' cgroup2 directory, and keeps their maps in step with the
 * services (the plans of socklb_plan.c). Links and maps live only as long as
 * this process holds their descriptors: nothing is pinned, so stopping the
 * agent (or its crash) detaches everything. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "internal.h"
#include "bpf/socklb.h"

/* the object file, embedded (build/gen/socklb.bpf.o, see the Makefile) */
__asm__(".section .rodata\n"
	".global mk_socklb_obj\n"
	".type mk_socklb_obj, @object\n"
	".balign 16\n"
	"mk_socklb_obj:\n"
	".incbin \"build/gen/socklb.bpf.o\"\n"
	".global mk_socklb_obj_end\n"
	"mk_socklb_obj_end:\n"
	".previous\n");
extern const char mk_socklb_obj[], mk_socklb_obj_end[];

static const struct {
	const char *prog;
	enum bpf_attach_type type;
} hooks[] = {
	{ "mk_slb_connect4", BPF_CGROUP_INET4_CONNECT },
	{ "mk_slb_sendmsg4", BPF_CGROUP_UDP4_SENDMSG },
	{ "mk_slb_recvmsg4", BPF_CGROUP_UDP4_RECVMSG },
	{ "mk_slb_getpeername4", BPF_CGROUP_INET4_GETPEERNAME },
};
#define N_HOOKS (sizeof(hooks) / sizeof(hooks[0]))

struct socklb_rec {
	char *key;
	struct mk_proxy_service *svc; /* what the maps hold for key */
};

struct mk_proxy_socklb {
	struct bpf_object *obj;
	int links[N_HOOKS];
	int fe_fd, be_fd, cnt_fd;
	char *cgroup;
	size_t n, cap;
	struct socklb_rec *recs;
};

/* the balancer of this process, for mk_proxy_socklb_read (trace) */
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mk_proxy_socklb *live;

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* library code does not print; the verifier log is only worth a debug line */
	if (level == LIBBPF_WARN && mk_log_level >= MK_LOG_DEBUG)
		mk_logv(MK_LOG_DEBUG, "socklb", fmt, ap);
	return 0;
}

/* The cgroup2 mount point: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified
 * (hybrid). */
static const char *cgroup2_root(void)
{
	struct statfs sf;
	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		return "/sys/fs/cgroup";
	if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		return "/sys/fs/cgroup/unified";
	return NULL;
}

int mk_proxy_socklb_cgroup_path(const char *parent, char **ret, struct mk_error **err)
{
	const char *root = cgroup2_root();
	if (!root)
		return mk_error_set(err, ENOTSUP, "socket LB: no cgroup2 hierarchy mounted");
	if (!parent || !*parent || strstr(parent, ".."))
		return mk_error_set(err, EINVAL, "socket LB: bad cgroup parent '%s'", parent ? parent : "");
	_cleanup_free_ char *own = NULL;
	if (parent[0] != '/') {
		/* relative parents are under this process' own cgroup2 cgroup, as runc
		 * places them */
		_cleanup_free_ char *data = NULL;
		if (mk_fs_read_file("/proc/self/cgroup", &data, NULL, NULL) < 0)
			return mk_error_errno(err, errno, "read /proc/self/cgroup");
		char *l = strstr(data, "0::");
		if (!l || (l != data && l[-1] != '\n'))
			return mk_error_set(err, ENOTSUP, "socket LB: this process has no cgroup2 cgroup");
		own = mk_strdup(l + 3);
		own[strcspn(own, "\n")] = '\0';
	}
	char *p = mk_strdup_printf("%s%s/%s", root, own && strcmp(own, "/") ? own : "",
				   parent[0] == '/' ? parent + 1 : parent);
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if (!strcmp(p, root)) {
		free(p);
		return mk_error_set(err, EINVAL, "socket LB: will not attach to the root cgroup");
	}
	*ret = p;
	return 0;
}

struct mk_proxy_socklb *mk_proxy_socklb_new(const char *cgroup, struct mk_error **err)
{
	struct mk_proxy_socklb *l = mk_malloc0(sizeof(*l));
	_cleanup_close_ int cg = -1;
	for (size_t i = 0; i < N_HOOKS; i++)
		l->links[i] = -1;
	l->cgroup = mk_strdup(cgroup);
	libbpf_set_print(quiet);
	if (mk_fs_mkdir_p(cgroup, 0755, err) < 0)
		goto fail;
	cg = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0) {
		mk_error_errno(err, errno, "open '%s'", cgroup);
		goto fail;
	}
	LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "mk_socklb");
	l->obj = bpf_object__open_mem(mk_socklb_obj, (size_t)(mk_socklb_obj_end - mk_socklb_obj), &oo);
	if (!l->obj) {
		mk_error_errno(err, errno, "socket LB: open the eBPF object");
		goto fail;
	}
	int r = bpf_object__load(l->obj);
	if (r < 0) {
		mk_error_errno(err, -r, "socket LB: load the eBPF programs");
		goto fail;
	}
	l->fe_fd = bpf_object__find_map_fd_by_name(l->obj, "mk_slb_fe");
	l->be_fd = bpf_object__find_map_fd_by_name(l->obj, "mk_slb_be");
	l->cnt_fd = bpf_object__find_map_fd_by_name(l->obj, "mk_slb_cnt");
	if (l->fe_fd < 0 || l->be_fd < 0 || l->cnt_fd < 0) {
		mk_error_set(err, ENOENT, "socket LB: maps missing from the eBPF object");
		goto fail;
	}
	for (size_t i = 0; i < N_HOOKS; i++) {
		struct bpf_program *prog = bpf_object__find_program_by_name(l->obj, hooks[i].prog);
		if (!prog) {
			mk_error_set(err, ENOENT, "socket LB: program '%s' missing", hooks[i].prog);
			goto fail;
		}
		/* a link, not a plain attachment: it goes away with our descriptor */
		l->links[i] = bpf_link_create(bpf_program__fd(prog), cg, hooks[i].type, NULL);
		if (l->links[i] < 0) {
			mk_error_errno(err, -l->links[i], "socket LB: attach '%s' to '%s'", hooks[i].prog,
				       cgroup);
			goto fail;
		}
	}
	pthread_mutex_lock(&live_lock);
	if (!live)
		live = l;
	pthread_mutex_unlock(&live_lock);
	return l;
fail:
	mk_proxy_socklb_free(l);
	return NULL;
}

void mk_proxy_socklb_free(struct mk_proxy_socklb *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&live_lock);
	if (live == l)
		live = NULL;
	pthread_mutex_unlock(&live_lock);
	for (size_t i = 0; i < N_HOOKS; i++)
		if (l->links[i] >= 0)
			close(l->links[i]);
	bpf_object__close(l->obj);
	for (size_t i = 0; i < l->n; i++) {
		free(l->recs[i].key);
		mk_proxy_service_free(l->recs[i].svc);
	}
	free(l->recs);
	free(l->cgroup);
	free(l);
}

const char *mk_proxy_socklb_cgroup(const struct mk_proxy_socklb *l)
{
	return l->cgroup;
}

static struct mk_socklb_fe_key fe_key(const struct mk_proxy_socklb_op *o)
{
	return (struct mk_socklb_fe_key){ .ip = o->fe_ip, .port = htons(o->fe_port), .proto = o->protocol };
}

static int apply_op(struct mk_proxy_socklb *l, const struct mk_proxy_socklb_op *o)
{
	struct mk_socklb_fe_key fk = fe_key(o);
	struct mk_socklb_be_key bk = { .ip = fk.ip, .port = fk.port, .proto = fk.proto, .index = o->index };
	struct mk_socklb_cnt_key ck = { .fe_ip = fk.ip, .fe_port = fk.port, .proto = fk.proto,
					.ep_ip = o->ep.ip, .ep_port = htons(o->ep.port) };
	int r = 0;
	switch (o->kind) {
	case MK_SOCKLB_SET_BACKEND: {
		struct mk_socklb_be_val v = { .ip = o->ep.ip, .port = htons(o->ep.port) };
		r = bpf_map_update_elem(l->be_fd, &bk, &v, BPF_ANY);
		break;
	}
	case MK_SOCKLB_ADD_COUNTER: {
		__u64 zero = 0;
		r = bpf_map_update_elem(l->cnt_fd, &ck, &zero, BPF_NOEXIST);
		if (r < 0 && errno == EEXIST)
			r = 0;
		break;
	}
	case MK_SOCKLB_SET_FRONTEND: {
		struct mk_socklb_fe_val v = { .count = o->count };
		r = bpf_map_update_elem(l->fe_fd, &fk, &v, BPF_ANY);
		break;
	}
	case MK_SOCKLB_DEL_FRONTEND:
		r = bpf_map_delete_elem(l->fe_fd, &fk);
		break;
	case MK_SOCKLB_DEL_BACKEND:
		r = bpf_map_delete_elem(l->be_fd, &bk);
		break;
	case MK_SOCKLB_DEL_COUNTER:
		r = bpf_map_delete_elem(l->cnt_fd, &ck);
		break;
	}
	if (r < 0 && errno == ENOENT && o->kind >= MK_SOCKLB_DEL_FRONTEND)
		r = 0;
	return r < 0 ? -errno : 0;
}

static struct socklb_rec *find_rec(struct mk_proxy_socklb *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->recs[i].key, key))
			return &l->recs[i];
	return NULL;
}

int mk_proxy_socklb_apply(struct mk_proxy_socklb *l, const char *key, const struct mk_proxy_service *svc,
		       struct mk_error **err)
{
	struct socklb_rec *rec = find_rec(l, key);
	const struct mk_proxy_service *old = rec ? rec->svc : NULL;
	_cleanup_free_ struct mk_proxy_socklb_op *ops = NULL;
	size_t n = 0;
	mk_proxy_socklb_plan(old, svc, &ops, &n);
	for (size_t i = 0; i < n; i++) {
		int r = apply_op(l, &ops[i]);
		if (r < 0) {
			char ip[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &ops[i].fe_ip, ip, sizeof(ip));
			return mk_error_errno(err, -r, "socket LB: service '%s': frontend %s:%u map write",
					      key, ip, ops[i].fe_port);
		}
	}
	/* record what the maps hold now */
	if (!svc && rec) {
		free(rec->key);
		mk_proxy_service_free(rec->svc);
		*rec = l->recs[--l->n];
	} else if (svc && rec) {
		mk_proxy_service_free(rec->svc);
		rec->svc = mk_proxy_service_dup(svc);
	} else if (svc) {
		MK_GROW(l->recs, l->cap, l->n + 1);
		l->recs[l->n++] = (struct socklb_rec){ .key = mk_strdup(key), .svc = mk_proxy_service_dup(svc) };
	}
	return 0;
}

/* Empties the three maps (what a failed write may have left behind). */
static int clear_map(int fd, size_t ksz)
{
	char key[32], next[32];
	int r;
	/* always from the first key: each one found is deleted */
	while ((r = bpf_map_get_next_key(fd, NULL, next)) == 0) {
		memcpy(key, next, ksz);
		if (bpf_map_delete_elem(fd, key) < 0 && errno != ENOENT)
			return -errno;
	}
	return errno == ENOENT ? 0 : -errno;
}

int mk_proxy_socklb_sync_full(struct mk_proxy_socklb *l, const struct mk_proxy_desired *d,
			   struct mk_error **err)
{
	/* services gone since the last sync */
	for (size_t i = 0; i < l->n;) {
		bool kept = false;
		for (size_t j = 0; j < d->n && !kept; j++)
			kept = !strcmp(d->services[j]->key, l->recs[i].key);
		if (kept) {
			i++;
			continue;
		}
		_cleanup_free_ char *key = mk_strdup(l->recs[i].key);
		if (mk_proxy_socklb_apply(l, key, NULL, err) < 0)
			goto reset;
	}
	for (size_t j = 0; j < d->n; j++)
		if (mk_proxy_socklb_apply(l, d->services[j]->key, d->services[j], err) < 0)
			goto reset;
	return 0;
reset:
	/* our record no longer matches the maps: start from empty maps, so the
	 * next full sync writes everything again (nft serves meanwhile) */
	for (size_t i = 0; i < l->n; i++) {
		free(l->recs[i].key);
		mk_proxy_service_free(l->recs[i].svc);
	}
	l->n = 0;
	clear_map(l->fe_fd, sizeof(struct mk_socklb_fe_key));
	clear_map(l->be_fd, sizeof(struct mk_socklb_be_key));
	clear_map(l->cnt_fd, sizeof(struct mk_socklb_cnt_key));
	return -1;
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "TCP" : p == IPPROTO_UDP ? "UDP" : "SCTP";
}

static void add_ip(cJSON *o, const char *name, uint32_t ip)
{
	char s[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ip, s, sizeof(s));
	cJSON_AddStringToObject(o, name, s);
}

int mk_proxy_socklb_read(uint32_t cluster_ip, cJSON **ret, struct mk_error **err)
{
	pthread_mutex_lock(&live_lock);
	struct mk_proxy_socklb *l = live;
	if (!l) {
		pthread_mutex_unlock(&live_lock);
		*ret = NULL;
		return 0;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "attached", true);
	cJSON_AddStringToObject(o, "cgroup", l->cgroup);
	cJSON *fes = cJSON_AddArrayToObject(o, "frontends");
	cJSON *eps = cJSON_AddArrayToObject(o, "endpoints");
	/* bounded: a key deleted under us restarts the walk at the first key */
	unsigned budget = 2 * MK_SOCKLB_MAX_FRONTENDS;
	struct mk_socklb_fe_key fk, fcur, *fprev = NULL;
	while (budget-- && bpf_map_get_next_key(l->fe_fd, fprev, &fk) == 0) {
		struct mk_socklb_fe_val v;
		fcur = fk;
		fprev = &fcur;
		if (fk.ip != cluster_ip || bpf_map_lookup_elem(l->fe_fd, &fk, &v) < 0)
			continue;
		cJSON *f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "protocol", proto_name(fk.proto));
		cJSON_AddNumberToObject(f, "port", ntohs(fk.port));
		cJSON_AddNumberToObject(f, "endpoints", v.count);
		cJSON_AddItemToArray(fes, f);
	}
	struct mk_socklb_cnt_key ck, cur, *cprev = NULL;
	budget = 2 * MK_SOCKLB_MAX_BACKENDS;
	while (budget-- && bpf_map_get_next_key(l->cnt_fd, cprev, &ck) == 0) {
		__u64 c;
		cur = ck;
		cprev = &cur;
		if (ck.fe_ip != cluster_ip || bpf_map_lookup_elem(l->cnt_fd, &ck, &c) < 0)
			continue;
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "protocol", proto_name(ck.proto));
		cJSON_AddNumberToObject(e, "port", ntohs(ck.fe_port));
		add_ip(e, "ip", ck.ep_ip);
		cJSON_AddNumberToObject(e, "targetPort", ntohs(ck.ep_port));
		cJSON_AddNumberToObject(e, "connections", (double)c);
		cJSON_AddItemToArray(eps, e);
	}
	pthread_mutex_unlock(&live_lock);
	*ret = o;
	(void)err;
	return 0;
}
