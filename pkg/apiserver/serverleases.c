/* Several API servers on one datastore: each keeps a Lease of its own in kube-system
 * (kube-apiserver's identity leases: apiserver-<hash>, label
 * apiserver.kubernetes.io/identity=kube-apiserver) carrying its advertise address and
 * port, renewed every renew_ms; and each one, on every renewal, sets the Endpoints
 * default/kubernetes to the addresses of the servers whose Lease has not expired
 * (kube-apiserver's lease endpoint reconciler). Expired Leases are deleted (with the
 * revision they were read at, so a server renewing at that moment wins). Expiry is
 * renewTime + leaseDurationSeconds on the wall clock: the servers' clocks are
 * assumed to agree within seconds, as kube-apiserver assumes for its leases. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include "internal.h"

#define LABEL "apiserver.kubernetes.io/identity"
#define LABEL_VALUE "kube-apiserver"
#define ADDR_ANNOTATION "minik8s.io/advertise-address"
#define LEASE_NS "kube-system"

struct mk_apiserver_leases {
	struct mk_store *store;
	struct mk_apiserver_leases_options o;
	char *identity, *address, *name;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stopping;
};

/* One live server of a lease: its address and port, or false. */
static bool lease_server(const cJSON *lease, time_t now, const char **ret_ip, int *ret_port)
{
	const cJSON *labels = mk_json_get(lease, "metadata.labels");
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(labels, LABEL));
	if (!v || strcmp(v, LABEL_VALUE))
		return false;
	const cJSON *ann = mk_json_get(lease, "metadata.annotations");
	const char *addr = cJSON_GetStringValue(cJSON_GetObjectItem(ann, ADDR_ANNOTATION));
	const char *renew = mk_json_get_string(lease, "spec.renewTime");
	const cJSON *dur = mk_json_get(lease, "spec.leaseDurationSeconds");
	if (!addr || !renew || !cJSON_IsNumber(dur))
		return false;
	time_t t = mk_time_parse(renew);
	if (t <= 0 || t + (time_t)dur->valuedouble < now)
		return false;
	const char *colon = strrchr(addr, ':');
	if (!colon)
		return false;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return false;
	static __thread char ip[64];
	size_t n = (size_t)(colon - addr);
	unsigned char buf[16];
	if (n >= sizeof(ip))
		return false;
	memcpy(ip, addr, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1)
		return false;
	*ret_ip = ip;
	*ret_port = (int)port;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

cJSON *mk_apiserver_endpoints_from_leases(const cJSON *leases, time_t now)
{
	/* "PORT IP" for every live server, sorted: one subset per port */
	size_t n = 0, cap = (size_t)cJSON_GetArraySize(leases) + 1;
	char **keys = mk_malloc0(cap * sizeof(*keys));
	const cJSON *l;
	cJSON_ArrayForEach(l, leases)
	{
		const char *ip;
		int port;
		if (lease_server(l, now, &ip, &port))
			keys[n++] = mk_strdup_printf("%05d %s", port, ip);
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	cJSON *subsets = cJSON_CreateArray();
	cJSON *sub = NULL, *addrs = NULL;
	int cur_port = -1;
	for (size_t i = 0; i < n; i++) {
		int port = atoi(keys[i]);
		const char *ip = keys[i] + 6;
		if (i && !strcmp(keys[i], keys[i - 1]))
			continue;
		if (port != cur_port) {
			sub = cJSON_CreateObject();
			addrs = cJSON_AddArrayToObject(sub, "addresses");
			cJSON *p = cJSON_CreateObject();
			cJSON_AddStringToObject(p, "name", "https");
			cJSON_AddNumberToObject(p, "port", port);
			cJSON_AddStringToObject(p, "protocol", "TCP");
			cJSON_AddItemToArray(cJSON_AddArrayToObject(sub, "ports"), p);
			cJSON_AddItemToArray(subsets, sub);
			cur_port = port;
		}
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "ip", ip);
		cJSON_AddItemToArray(addrs, a);
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	return subsets;
}

/* The Leases of kube-system as a JSON array (owned), with their revisions. */
static cJSON *list_leases(struct mk_store *store, struct mk_error **err)
{
	struct mk_store_list list = { 0 };
	const struct mk_api_resource *r = mk_api_resource_find("coordination.k8s.io", "v1", "leases");
	if (mk_store_list(store, mk_api_resource_store(r), LEASE_NS, NULL, NULL, &list, err) < 0)
		return NULL;
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < list.n; i++) {
		cJSON *o = cJSON_Parse(list.items[i]);
		if (o)
			cJSON_AddItemToArray(arr, o);
	}
	mk_store_list_release(&list);
	return arr;
}

int mk_apiserver_server_addresses(struct mk_store *store, char ***ret, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *leases = list_leases(store, err);
	if (!leases)
		return -1;
	size_t n = 0;
	char **v = mk_malloc0(((size_t)cJSON_GetArraySize(leases) + 1) * sizeof(*v));
	const cJSON *l;
	cJSON_ArrayForEach(l, leases)
	{
		const char *ip;
		int port;
		if (lease_server(l, time(NULL), &ip, &port))
			v[n++] = mk_strdup(ip);
	}
	*ret = v;
	return 0;
}

/* Creates or renews this server's Lease. */
static int renew(struct mk_apiserver_leases *s, struct mk_error **err)
{
	const struct mk_api_resource *r = mk_api_resource_find("coordination.k8s.io", "v1", "leases");
	const char *res = mk_api_resource_store(r);
	_cleanup_free_ char *json = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	uint64_t rv = 0;
	char now[64];

	mk_time_micro_now(now, sizeof(now));
	/* "IP:PORT", the last colon the separator (an IPv6 address too) */
	_cleanup_free_ char *addr = mk_strdup_printf("%s:%u", s->address, s->o.port);
	if (mk_store_get(s->store, res, LEASE_NS, s->name, &json, &rv, &e) == 0) {
		_cleanup_cjson_ cJSON *old = cJSON_Parse(json);
		if (!old)
			return mk_error_set(err, EIO, "lease %s/%s: not JSON", LEASE_NS, s->name);
		cJSON *spec = cJSON_GetObjectItem(old, "spec");
		if (!spec)
			spec = cJSON_AddObjectToObject(old, "spec");
		mk_json_set_string(spec, "holderIdentity", s->identity);
		mk_json_set(spec, "leaseDurationSeconds", cJSON_CreateNumber(s->o.duration_s));
		mk_json_set_string(spec, "renewTime", now);
		cJSON *md = cJSON_GetObjectItem(old, "metadata");
		cJSON *ann = cJSON_GetObjectItem(md, "annotations");
		if (!ann)
			ann = cJSON_AddObjectToObject(md, "annotations");
		mk_json_set_string(ann, ADDR_ANNOTATION, addr);
		return mk_store_update(s->store, res, LEASE_NS, s->name, rv, old, NULL, NULL, err);
	}
	if (e->code != ENOENT)
		return mk_error_set(err, e->code, "%s", e->msg);
	_cleanup_cjson_ cJSON *lease = mk_api_object_new("coordination.k8s.io/v1", "Lease", LEASE_NS,
							 s->name);
	cJSON *md = cJSON_GetObjectItem(lease, "metadata");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"), LABEL, LABEL_VALUE);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"), ADDR_ANNOTATION, addr);
	cJSON *spec = cJSON_AddObjectToObject(lease, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", s->identity);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", s->o.duration_s);
	cJSON_AddStringToObject(spec, "acquireTime", now);
	cJSON_AddStringToObject(spec, "renewTime", now);
	mk_resource_prepare_new(r, lease, LEASE_NS);
	mk_api_default(r, lease);
	return mk_store_create(s->store, res, LEASE_NS, s->name, lease, NULL, NULL, err);
}

/* Endpoints default/kubernetes = the live servers; expired server Leases deleted. */
static int reconcile(struct mk_apiserver_leases *s, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *leases = list_leases(s->store, err);
	if (!leases)
		return -1;
	time_t now = time(NULL);
	const struct mk_api_resource *r = mk_api_resource_find("coordination.k8s.io", "v1", "leases");
	const cJSON *l;
	cJSON_ArrayForEach(l, leases)
	{
		const char *ip;
		int port;
		const char *v = cJSON_GetStringValue(
			cJSON_GetObjectItem(mk_json_get(l, "metadata.labels"), LABEL));
		if (!v || strcmp(v, LABEL_VALUE) || lease_server(l, now, &ip, &port))
			continue;
		const char *name = mk_json_get_string(l, "metadata.name");
		const char *rvs = mk_json_get_string(l, "metadata.resourceVersion");
		_cleanup_error_ struct mk_error *e = NULL;
		if (name && rvs &&
		    mk_store_delete(s->store, mk_api_resource_store(r), LEASE_NS, name,
				    strtoull(rvs, NULL, 10), NULL, NULL, &e) == 0)
			mk_log(MK_LOG_INFO, "apiserver", "server lease %s/%s expired: deleted",
			       LEASE_NS, name);
	}
	cJSON *subsets = mk_apiserver_endpoints_from_leases(leases, now);
	if (!cJSON_GetArraySize(subsets)) { /* never empty the service: keep what it has */
		cJSON_Delete(subsets);
		return 0;
	}
	_cleanup_free_ char *json = NULL;
	uint64_t rv = 0;
	if (mk_store_get(s->store, "endpoints", "default", "kubernetes", &json, &rv, err) < 0) {
		cJSON_Delete(subsets);
		return -1;
	}
	_cleanup_cjson_ cJSON *ep = cJSON_Parse(json);
	if (!ep || cJSON_Compare(cJSON_GetObjectItem(ep, "subsets"), subsets, 1)) {
		cJSON_Delete(subsets);
		return 0;
	}
	mk_json_set(ep, "subsets", subsets);
	return mk_store_update(s->store, "endpoints", "default", "kubernetes", rv, ep, NULL, NULL,
			       err);
}

static void tick(struct mk_apiserver_leases *s)
{
	_cleanup_error_ struct mk_error *err = NULL;
	if (renew(s, &err) < 0 || reconcile(s, &err) < 0)
		mk_log(MK_LOG_WARN, "apiserver", "server lease %s/%s: %s", LEASE_NS, s->name,
		       err->msg);
}

static void *leases_main(void *arg)
{
	struct mk_apiserver_leases *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping) {
		struct timespec ts;
		mk_time_mono_deadline(&ts, s->o.renew_ms);
		while (!s->stopping && pthread_cond_timedwait(&s->cond, &s->mu, &ts) != ETIMEDOUT)
			;
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->mu);
		tick(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int mk_apiserver_leases_start(struct mk_store *store, const struct mk_apiserver_leases_options *o,
			      struct mk_apiserver_leases **ret, struct mk_error **err)
{
	if (!o->identity || !*o->identity || !o->address || !*o->address || !o->port)
		return mk_error_set(err, EINVAL, "server lease: identity, address and port wanted");
	struct mk_apiserver_leases *s = mk_malloc0(sizeof(*s));
	char hash[65];
	s->store = store;
	s->o = *o;
	if (!s->o.renew_ms)
		s->o.renew_ms = 5000;
	if (!s->o.duration_s)
		s->o.duration_s = 15;
	s->identity = mk_strdup(o->identity);
	s->address = mk_strdup(o->address);
	s->o.identity = s->identity;
	s->o.address = s->address;
	mk_sha256_hex(o->identity, strlen(o->identity), hash);
	s->name = mk_strdup_printf("apiserver-%.26s", hash);
	pthread_mutex_init(&s->mu, NULL);
	mk_time_cond_init(&s->cond);
	tick(s); /* at once: the endpoints name this server from its start */
	if (pthread_create(&s->thread, NULL, leases_main, s) != 0) {
		mk_apiserver_leases_stop(s);
		return mk_error_set(err, EAGAIN, "server lease: no thread");
	}
	*ret = s;
	return 0;
}

void mk_apiserver_leases_stop(struct mk_apiserver_leases *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	bool started = !s->stopping;
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	if (started && s->thread) {
		pthread_join(s->thread, NULL);
		/* a server that stops leaves the endpoints at once (the others' next
		 * reconcile), not after its Lease expires */
		_cleanup_error_ struct mk_error *e = NULL;
		const struct mk_api_resource *r =
			mk_api_resource_find("coordination.k8s.io", "v1", "leases");
		mk_store_delete(s->store, mk_api_resource_store(r), LEASE_NS, s->name, 0, NULL,
				NULL, &e);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s->identity);
	free(s->address);
	free(s->name);
	free(s);
}
