/* The cluster zone: a hash table of owner names (lowercased wire form) holding
 * record sets, filled from Services, Endpoints and Pods per the Kubernetes DNS
 * specification (https://github.com/kubernetes/dns/blob/master/docs/specification.md).
 *
 * Every record carries the id of the object version that contributed it, and
 * every object keeps the list of names it touched, so an upsert removes exactly
 * what the previous version added and adds the new records: work in proportion
 * to the object (DESIGN principle 5). Records are computed outside the lock;
 * only the swap happens under the write lock.
 *
 * Both tables (names, and objects by "ns/name") are the util mk_hmap; a node
 * is keyed by its wire name, borrowed from the node itself (mk_hmap_type_bytes).
 *
 * Names that have no records but have descendants (svc.cluster.local,
 * NS.svc.cluster.local, _tcp.SVC.NS.svc.cluster.local) exist (RFC 8020: NODATA,
 * not NXDOMAIN): each node counts its children and lives while it has records
 * or children. Reverse names (in-addr.arpa, ip6.arpa) have no parents here. */
#include <errno.h>
#include <pthread.h>
#include <arpa/inet.h>
#include "internal.h"

#define REC_MARKER 0 /* internal type: makes a name exist without records */

struct rec {
	uint16_t type, rdlen;
	uint32_t owner;
	uint8_t *rdata;
};

struct node {
	struct mk_hmap_bytes key; /* name, namelen: the names table's key */
	struct node *parent;
	uint32_t children, mark;
	uint32_t nrec, cap;
	struct rec *recs;
	uint8_t namelen;
	uint8_t name[];
};

/* An object (a Service with its Endpoints under one key, or a Pod). */
struct entry {
	cJSON *svc, *ep;
	uint32_t owner;
	struct node **nodes; /* names this version contributed to */
	size_t nnodes, cap;
};

struct mk_dns_zone {
	pthread_rwlock_t lock;
	pthread_mutex_t writer_mu; /* serialises writers (two informer threads) */
	char *domain;
	uint8_t apex[MK_DNS_NAME_MAX];
	size_t apex_len;
	struct mk_hmap names;     /* wire name -> struct node */
	struct mk_hmap svcs, pods; /* "ns/name" -> struct entry */
	size_t nrecords;
	struct entry static_entry;
	uint32_t next_owner;
	uint8_t soa[MK_DNS_NAME_MAX * 2 + 20];
	size_t soa_len;
	bool endpoint_pod_names;
};

/* ---- names table ---------------------------------------------------------------- */

static struct node *node_find(const struct mk_dns_zone *z, const uint8_t *name, size_t nl)
{
	struct mk_hmap_bytes k = { name, nl };
	return mk_hmap_get(&z->names, &k);
}

/* Is name strictly below the apex (so it has a parent inside the zone)? */
static bool below_apex(const struct mk_dns_zone *z, const uint8_t *name, size_t nl)
{
	return nl > z->apex_len && memcmp(name + nl - z->apex_len, z->apex, z->apex_len) == 0 &&
	       /* label aligned: walk labels from the start */
	       ({
		       size_t i = 0;
		       while (i < nl - z->apex_len && name[i])
			       i += 1 + name[i];
		       i == nl - z->apex_len;
	       });
}

static struct node *node_get(struct mk_dns_zone *z, const uint8_t *name, size_t nl)
{
	struct node *n = node_find(z, name, nl);
	if (n)
		return n;
	n = mk_malloc0(sizeof(*n) + nl);
	n->namelen = (uint8_t)nl;
	memcpy(n->name, name, nl);
	n->key = (struct mk_hmap_bytes){ n->name, nl };
	mk_hmap_put(&z->names, &n->key, n);
	if (below_apex(z, name, nl)) {
		n->parent = node_get(z, name + 1 + name[0], nl - 1 - name[0]);
		n->parent->children++;
	}
	return n;
}

static void node_maybe_free(struct mk_dns_zone *z, struct node *n)
{
	while (n && n->nrec == 0 && n->children == 0) {
		mk_hmap_del(&z->names, &n->key);
		struct node *parent = n->parent;
		free(n->recs);
		free(n);
		if (parent)
			parent->children--;
		n = parent;
	}
}

/* ---- records computed outside the lock --------------------------------------- */

struct prec {
	uint8_t name[MK_DNS_NAME_MAX];
	uint8_t rdata[MK_DNS_NAME_MAX + 6];
	uint16_t type, rdlen;
	uint8_t namelen;
};
struct precs {
	struct prec *v;
	size_t n, cap;
};

static void precs_release(struct precs *p) { free(p->v); p->v = NULL; p->n = p->cap = 0; }

static struct prec *precs_push(struct precs *p)
{
	MK_GROW(p->v, p->cap, p->n + 1);
	return &p->v[p->n++];
}

/* Adds a record for owner text name; invalid names are skipped (returns -1). */
static int add_text(struct precs *p, const char *name, uint16_t type, const void *rdata,
		    size_t rdlen)
{
	uint8_t w[MK_DNS_NAME_MAX];
	int nl = mk_dns_name_from_text(name, w, true);
	if (nl < 0 || rdlen > sizeof(p->v[0].rdata))
		return -1;
	struct prec *r = precs_push(p);
	memcpy(r->name, w, nl);
	r->namelen = (uint8_t)nl;
	r->type = type;
	r->rdlen = (uint16_t)rdlen;
	if (rdlen)
		memcpy(r->rdata, rdata, rdlen);
	return 0;
}

/* Name-valued rdata (PTR, CNAME; SRV with prefix). */
static int add_name_rr(struct precs *p, const char *name, uint16_t type, const uint8_t *prefix,
		       size_t plen, const char *target)
{
	uint8_t rd[MK_DNS_NAME_MAX + 6];
	int tl = mk_dns_name_from_text(target, rd + plen, true);
	if (tl < 0)
		return -1;
	if (plen)
		memcpy(rd, prefix, plen);
	return add_text(p, name, type, rd, plen + tl);
}

/* Address records for ip at name, and optionally the PTR back to ptr_target. */
static void add_addr(struct precs *p, const char *name, const char *ip, const char *ptr_target)
{
	uint8_t a[16];
	char rev[80];

	if (inet_pton(AF_INET, ip, a) == 1) {
		if (name)
			add_text(p, name, MK_DNS_TYPE_A, a, 4);
		snprintf(rev, sizeof(rev), "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		if (name)
			add_text(p, name, MK_DNS_TYPE_AAAA, a, 16);
		size_t o = 0;
		for (int i = 15; i >= 0; i--)
			o += snprintf(rev + o, sizeof(rev) - o, "%x.%x.", a[i] & 0xf, a[i] >> 4);
		snprintf(rev + o, sizeof(rev) - o, "ip6.arpa");
	} else {
		return;
	}
	if (ptr_target)
		add_name_rr(p, rev, MK_DNS_TYPE_PTR, NULL, 0, ptr_target);
}

/* "10.244.1.5" -> "10-244-1-5"; IPv6 colons become dashes too. */
static void dashed(const char *ip, char *out, size_t sz)
{
	snprintf(out, sz, "%s", ip);
	for (char *c = out; *c; c++)
		if (*c == '.' || *c == ':')
			*c = '-';
}

static void lower_str(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s += 32;
}

static const char *str_or(const cJSON *o, const char *path, const char *def)
{
	const char *s = mk_json_get_string(o, path);
	return s ? s : def;
}

/* The SRV record of one named port (an item of spec.ports or of an Endpoints
 * subset's ports) under base: _PORT._PROTO.base, pointing at target. Unnamed
 * ports publish none. */
static void add_port_srv(struct precs *p, const cJSON *it, const char *base, uint16_t weight,
			 const char *target)
{
	const char *pn = mk_json_get_string(it, "name");
	const cJSON *port = cJSON_GetObjectItemCaseSensitive(it, "port");
	if (!pn || !*pn || !cJSON_IsNumber(port))
		return;
	char proto[16], srv[1200];
	snprintf(proto, sizeof(proto), "%s", str_or(it, "protocol", "TCP"));
	lower_str(proto);
	uint8_t pre[6];
	wr16(pre, 0);
	wr16(pre + 2, weight);
	wr16(pre + 4, (uint16_t)port->valueint);
	snprintf(srv, sizeof(srv), "_%s._%s.%s", pn, proto, base);
	add_name_rr(p, srv, MK_DNS_TYPE_SRV, pre, 6, target);
}

/* A service with a cluster IP: its addresses, and one SRV per named port. */
static void cluster_ip_records(const cJSON *svc, const char *cip, const char *base,
			       struct precs *p)
{
	const cJSON *ips = mk_json_get(svc, "spec.clusterIPs");
	cJSON *it;

	if (cJSON_IsArray(ips) && cJSON_GetArraySize(ips) > 0) {
		cJSON_ArrayForEach(it, ips)
			if (cJSON_IsString(it))
				add_addr(p, base, it->valuestring, base);
	} else if (*cip) {
		add_addr(p, base, cip, base);
	}
	cJSON_ArrayForEach(it, mk_json_get(svc, "spec.ports"))
		add_port_srv(p, it, base, 100, base);
}

/* The name of an endpoint of a headless service: its hostname, else its pod's
 * name (with --endpoint-pod-names, when it is a valid label), else its IP dashed. */
static void endpoint_host(const struct mk_dns_zone *z, const cJSON *addr, const char *ip,
			  char host[256])
{
	const char *hn = mk_json_get_string(addr, "hostname");
	const char *pod = mk_json_get_string(addr, "targetRef.name");
	if (hn && *hn)
		snprintf(host, 256, "%s", hn);
	else if (z->endpoint_pod_names && pod && *pod && strlen(pod) <= 63)
		snprintf(host, 256, "%s", pod);
	else
		dashed(ip, host, 256);
}

/* One Endpoints subset of a headless service: each address under the service
 * name and its own name, and per named port an SRV to each address, weights
 * shared evenly among the subset's addresses. */
static void headless_subset_records(const struct mk_dns_zone *z, const cJSON *subset,
				    bool publish_nr, const char *base, struct precs *p)
{
	const char *lists[2] = { "addresses", publish_nr ? "notReadyAddresses" : NULL };
	size_t naddr = 0;
	char n2[1024];
	cJSON *it;

	for (int l = 0; l < 2 && lists[l]; l++)
		naddr += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(subset, lists[l]));
	uint16_t weight = naddr ? (uint16_t)(100 / naddr) : 100;
	if (weight == 0)
		weight = 1;
	for (int l = 0; l < 2 && lists[l]; l++) {
		cJSON *addr;
		cJSON_ArrayForEach(addr, cJSON_GetObjectItemCaseSensitive(subset, lists[l])) {
			const char *ip = mk_json_get_string(addr, "ip");
			if (!ip)
				continue;
			char host[256];
			endpoint_host(z, addr, ip, host);
			snprintf(n2, sizeof(n2), "%s.%s", host, base);
			add_addr(p, base, ip, NULL);
			add_addr(p, n2, ip, n2);
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(subset, "ports"))
				add_port_srv(p, it, base, weight, n2);
		}
	}
}

/* Records of one service key, from the Service (may be NULL) and its Endpoints. */
static void service_records(const struct mk_dns_zone *z, const char *ns, const char *name,
			    const cJSON *svc, const cJSON *ep, struct precs *p)
{
	char base[512];

	snprintf(base, sizeof(base), "%s.%s.svc.%s", name, ns, z->domain);
	if (!svc)
		return; /* endpoints alone publish nothing */
	const char *type = str_or(svc, "spec.type", "ClusterIP");
	if (strcmp(type, "ExternalName") == 0) {
		const char *ext = mk_json_get_string(svc, "spec.externalName");
		if (!ext || add_name_rr(p, base, MK_DNS_TYPE_CNAME, NULL, 0, ext) < 0)
			add_text(p, base, REC_MARKER, NULL, 0);
		return;
	}
	add_text(p, base, REC_MARKER, NULL, 0); /* the service name exists */
	const char *cip = str_or(svc, "spec.clusterIP", "");
	if (strcmp(cip, "None") != 0) {
		cluster_ip_records(svc, cip, base, p);
		return;
	}
	/* headless: the ready endpoints (and the not-ready ones when the service
	 * publishes them), each named by its hostname, pod name or dashed IP */
	bool publish_nr = cJSON_IsTrue(mk_json_get(svc, "spec.publishNotReadyAddresses"));
	cJSON *subset;
	cJSON_ArrayForEach(subset, mk_json_get(ep, "subsets"))
		headless_subset_records(z, subset, publish_nr, base, p);
}

static void pod_records(const struct mk_dns_zone *z, const char *ns, const cJSON *pod,
			struct precs *p)
{
	const char *phase = str_or(pod, "status.phase", "");
	cJSON *it;
	char d[80], name[600];

	/* host-network pods share the node's address: they get no pod record */
	if (cJSON_IsTrue(mk_json_get(pod, "spec.hostNetwork")) || strcmp(phase, "Succeeded") == 0 ||
	    strcmp(phase, "Failed") == 0)
		return;
	const cJSON *ips = mk_json_get(pod, "status.podIPs");
	bool any = false;
	cJSON_ArrayForEach(it, ips) {
		const char *ip = mk_json_get_string(it, "ip");
		if (!ip)
			continue;
		dashed(ip, d, sizeof(d));
		snprintf(name, sizeof(name), "%s.%s.pod.%s", d, ns, z->domain);
		add_addr(p, name, ip, name);
		any = true;
	}
	const char *ip = mk_json_get_string(pod, "status.podIP");
	if (!any && ip && *ip) {
		dashed(ip, d, sizeof(d));
		snprintf(name, sizeof(name), "%s.%s.pod.%s", d, ns, z->domain);
		add_addr(p, name, ip, name);
	}
}

/* ---- applying a contribution under the write lock ------------------------------ */

static void entry_remove_records(struct mk_dns_zone *z, struct entry *e)
{
	for (size_t i = 0; i < e->nnodes; i++) {
		struct node *n = e->nodes[i];
		uint32_t k = 0;
		for (uint32_t j = 0; j < n->nrec; j++) {
			if (n->recs[j].owner == e->owner) {
				free(n->recs[j].rdata);
				z->nrecords--;
			} else {
				n->recs[k++] = n->recs[j];
			}
		}
		n->nrec = k;
		node_maybe_free(z, n);
	}
	e->nnodes = 0;
}

static void entry_add_records(struct mk_dns_zone *z, struct entry *e, const struct precs *p)
{
	e->owner = ++z->next_owner;
	if (e->owner == 0)
		e->owner = ++z->next_owner;
	for (size_t i = 0; i < p->n; i++) {
		const struct prec *r = &p->v[i];
		struct node *n = node_get(z, r->name, r->namelen);
		bool dup = false;
		for (uint32_t j = 0; j < n->nrec && !dup; j++)
			dup = n->recs[j].owner == e->owner && n->recs[j].type == r->type &&
			      n->recs[j].rdlen == r->rdlen &&
			      memcmp(n->recs[j].rdata, r->rdata, r->rdlen) == 0;
		if (dup)
			continue;
		/* not MK_GROW (which starts at 8): most names hold one or two
		 * records, and the zone holds a node per name */
		if (n->nrec == n->cap) {
			n->cap = n->cap ? n->cap * 2 : 2;
			n->recs = realloc(n->recs, n->cap * sizeof(*n->recs));
			if (!n->recs)
				abort();
		}
		struct rec *rc = &n->recs[n->nrec++];
		rc->type = r->type;
		rc->rdlen = r->rdlen;
		rc->owner = e->owner;
		rc->rdata = mk_malloc0(r->rdlen ? r->rdlen : 1);
		memcpy(rc->rdata, r->rdata, r->rdlen);
		z->nrecords++;
		if (n->mark != e->owner) {
			n->mark = e->owner;
			MK_GROW(e->nodes, e->cap, e->nnodes + 1);
			e->nodes[e->nnodes++] = n;
		}
	}
}

/* ---- object maps ------------------------------------------------------------------ */

static struct entry *emap_get(struct mk_hmap *m, const char *key)
{
	struct entry *e = mk_hmap_get(m, key);
	if (!e) {
		e = mk_malloc0(sizeof(*e));
		mk_hmap_put(m, key, e);
	}
	return e;
}

static void entry_free(void *p)
{
	struct entry *e = p;
	cJSON_Delete(e->svc);
	cJSON_Delete(e->ep);
	free(e->nodes);
	free(e);
}

static void emap_remove(struct mk_hmap *m, const char *key)
{
	entry_free(mk_hmap_del(m, key));
}

/* ---- zone lifecycle --------------------------------------------------------------- */

int mk_dns_zone_new(const struct mk_dns_zone_options *opts, struct mk_dns_zone **ret,
		    struct mk_error **err)
{
	const char *domain = opts && opts->domain && *opts->domain ? opts->domain : "cluster.local";
	struct mk_dns_zone *z;
	uint8_t w[MK_DNS_NAME_MAX];
	int nl = mk_dns_name_from_text(domain, w, true);
	char buf[600];
	struct precs p = { 0 };

	if (nl <= 1 || nl > 200)
		return mk_error_set(err, EINVAL, "invalid cluster domain '%s'", domain);
	z = mk_malloc0(sizeof(*z));
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	/* a steady stream of readers must not starve the informer's writes */
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&z->lock, &a);
	pthread_rwlockattr_destroy(&a);
	pthread_mutex_init(&z->writer_mu, NULL);
	memcpy(z->apex, w, nl);
	z->apex_len = nl;
	z->domain = mk_malloc0(MK_DNS_NAME_TEXT_MAX);
	dns_wire_to_text(w, nl, z->domain, MK_DNS_NAME_TEXT_MAX);
	z->endpoint_pod_names = opts && opts->endpoint_pod_names;
	mk_hmap_init_type(&z->names, &mk_hmap_type_bytes);
	mk_hmap_init(&z->svcs);
	mk_hmap_init(&z->pods);

	/* SOA: mname ns.dns.DOMAIN, rname hostmaster.DOMAIN; negative TTL 5 s */
	snprintf(buf, sizeof(buf), "ns.dns.%s", z->domain);
	int l1 = mk_dns_name_from_text(buf, z->soa, true);
	snprintf(buf, sizeof(buf), "hostmaster.%s", z->domain);
	int l2 = mk_dns_name_from_text(buf, z->soa + l1, true);
	uint8_t *t = z->soa + l1 + l2;
	wr32(t, (uint32_t)time(NULL));
	wr32(t + 4, 7200);
	wr32(t + 8, 1800);
	wr32(t + 12, 86400);
	wr32(t + 16, MK_DNS_TTL);
	z->soa_len = l1 + l2 + 20;

	add_text(&p, z->domain, MK_DNS_TYPE_SOA, z->soa, z->soa_len);
	snprintf(buf, sizeof(buf), "ns.dns.%s", z->domain);
	add_name_rr(&p, z->domain, MK_DNS_TYPE_NS, NULL, 0, buf);
	if (opts && opts->ns_address)
		add_addr(&p, buf, opts->ns_address, NULL);
	snprintf(buf, sizeof(buf), "svc.%s", z->domain);
	add_text(&p, buf, REC_MARKER, NULL, 0);
	snprintf(buf, sizeof(buf), "pod.%s", z->domain);
	add_text(&p, buf, REC_MARKER, NULL, 0);
	entry_add_records(z, &z->static_entry, &p);
	precs_release(&p);
	*ret = z;
	return 0;
}

static void node_free(void *p)
{
	struct node *n = p;
	for (uint32_t j = 0; j < n->nrec; j++)
		free(n->recs[j].rdata);
	free(n->recs);
	free(n);
}

void mk_dns_zone_free(struct mk_dns_zone *z)
{
	if (!z)
		return;
	mk_hmap_release(&z->names, node_free);
	mk_hmap_release(&z->svcs, entry_free);
	mk_hmap_release(&z->pods, entry_free);
	free(z->static_entry.nodes);
	free(z->domain);
	pthread_rwlock_destroy(&z->lock);
	pthread_mutex_destroy(&z->writer_mu);
	free(z);
}

const char *mk_dns_zone_domain(const struct mk_dns_zone *z) { return z->domain; }

void mk_dns_zone_stats(struct mk_dns_zone *z, size_t *ret_names, size_t *ret_records)
{
	pthread_rwlock_rdlock(&z->lock);
	if (ret_names)
		*ret_names = z->names.n;
	if (ret_records)
		*ret_records = z->nrecords;
	pthread_rwlock_unlock(&z->lock);
}

/* ---- writers ------------------------------------------------------------------------ */

static int object_key(const cJSON *obj, char *key, size_t sz, const char **ret_ns,
		      const char **ret_name, struct mk_error **err)
{
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (!ns || !name || !*ns || !*name)
		return mk_error_set(err, EINVAL, "dns: object without metadata.namespace/name");
	if ((size_t)snprintf(key, sz, "%s/%s", ns, name) >= sz)
		return mk_error_set(err, EINVAL, "dns: object name too long");
	*ret_ns = ns;
	*ret_name = name;
	return 0;
}

static void service_apply(struct mk_dns_zone *z, const char *ns, const char *name, bool set_svc,
			  cJSON *new_svc, bool set_ep, cJSON *new_ep)
{
	char key[600];
	struct precs p = { 0 };

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	/* writer_mu serialises writers (services and endpoints informers are two
	 * threads); the entry maps are only touched by writers, so computing the
	 * records needs no zone lock, and readers wait only for the swap */
	pthread_mutex_lock(&z->writer_mu);
	struct entry *e = mk_hmap_get(&z->svcs, key);
	const cJSON *svc = set_svc ? new_svc : e ? e->svc : NULL;
	const cJSON *ep = set_ep ? new_ep : e ? e->ep : NULL;
	service_records(z, ns, name, svc, ep, &p);

	pthread_rwlock_wrlock(&z->lock);
	if (!e && (new_svc || new_ep))
		e = emap_get(&z->svcs, key);
	if (e) {
		entry_remove_records(z, e);
		if (set_svc) {
			cJSON_Delete(e->svc);
			e->svc = new_svc;
		}
		if (set_ep) {
			cJSON_Delete(e->ep);
			e->ep = new_ep;
		}
		entry_add_records(z, e, &p);
		if (!e->svc && !e->ep)
			emap_remove(&z->svcs, key);
	}
	pthread_rwlock_unlock(&z->lock);
	pthread_mutex_unlock(&z->writer_mu);
	precs_release(&p);
}

static void pod_apply(struct mk_dns_zone *z, const char *ns, const char *name, const cJSON *pod)
{
	char key[600];
	struct precs p = { 0 };

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (pod)
		pod_records(z, ns, pod, &p);
	pthread_mutex_lock(&z->writer_mu);
	pthread_rwlock_wrlock(&z->lock);
	struct entry *e = mk_hmap_get(&z->pods, key);
	if (!e && p.n)
		e = emap_get(&z->pods, key);
	if (e) {
		entry_remove_records(z, e);
		entry_add_records(z, e, &p);
		if (p.n == 0)
			emap_remove(&z->pods, key);
	}
	pthread_rwlock_unlock(&z->lock);
	pthread_mutex_unlock(&z->writer_mu);
	precs_release(&p);
}

int mk_dns_zone_service_upsert(struct mk_dns_zone *z, const cJSON *svc, struct mk_error **err)
{
	char key[600];
	const char *ns, *name;
	if (object_key(svc, key, sizeof(key), &ns, &name, err) < 0)
		return -1;
	service_apply(z, ns, name, true, cJSON_Duplicate(svc, 1), false, NULL);
	return 0;
}

int mk_dns_zone_service_delete(struct mk_dns_zone *z, const char *ns, const char *name)
{
	service_apply(z, ns, name, true, NULL, false, NULL);
	return 0;
}

int mk_dns_zone_endpoints_upsert(struct mk_dns_zone *z, const cJSON *ep, struct mk_error **err)
{
	char key[600];
	const char *ns, *name;
	if (object_key(ep, key, sizeof(key), &ns, &name, err) < 0)
		return -1;
	/* only subsets matter: keep just them */
	cJSON *copy = cJSON_CreateObject();
	const cJSON *subsets = cJSON_GetObjectItemCaseSensitive(ep, "subsets");
	if (subsets)
		cJSON_AddItemToObject(copy, "subsets", cJSON_Duplicate(subsets, 1));
	service_apply(z, ns, name, false, NULL, true, copy);
	return 0;
}

int mk_dns_zone_endpoints_delete(struct mk_dns_zone *z, const char *ns, const char *name)
{
	service_apply(z, ns, name, false, NULL, true, NULL);
	return 0;
}

int mk_dns_zone_pod_upsert(struct mk_dns_zone *z, const cJSON *pod, struct mk_error **err)
{
	char key[600];
	const char *ns, *name;
	if (object_key(pod, key, sizeof(key), &ns, &name, err) < 0)
		return -1;
	pod_apply(z, ns, name, pod);
	return 0;
}

int mk_dns_zone_pod_delete(struct mk_dns_zone *z, const char *ns, const char *name)
{
	pod_apply(z, ns, name, NULL);
	return 0;
}

int mk_dns_zone_load(struct mk_dns_zone *z, const cJSON *objs, struct mk_error **err)
{
	const cJSON *items = objs, *it;
	const char *list_kind = NULL;
	int n = 0;

	if (cJSON_IsObject(objs) && cJSON_GetObjectItemCaseSensitive(objs, "items")) {
		items = cJSON_GetObjectItemCaseSensitive(objs, "items");
		list_kind = mk_json_get_string(objs, "kind");
	}
	if (cJSON_IsObject(items)) {
		const cJSON *one = items;
		items = NULL;
		it = one;
		goto single;
	}
	if (!cJSON_IsArray(items))
		return mk_error_set(err, EINVAL, "dns: expected an object, an array or a List");
	cJSON_ArrayForEach(it, items) {
	single:;
		const char *kind = mk_json_get_string(it, "kind");
		char k[64] = "";
		if (!kind && list_kind && mk_str_has_suffix(list_kind, "List")) {
			snprintf(k, sizeof(k), "%.*s", (int)(strlen(list_kind) - 4), list_kind);
			kind = k;
		}
		int r = 0;
		if (!kind)
			continue;
		if (strcmp(kind, "Service") == 0)
			r = mk_dns_zone_service_upsert(z, it, err);
		else if (strcmp(kind, "Endpoints") == 0)
			r = mk_dns_zone_endpoints_upsert(z, it, err);
		else if (strcmp(kind, "Pod") == 0)
			r = mk_dns_zone_pod_upsert(z, it, err);
		else
			continue;
		if (r < 0)
			return -1;
		n++;
		if (!items)
			break;
	}
	return n;
}

/* ---- answering ---------------------------------------------------------------------- */

static const uint8_t inaddr_arpa[] = "\7in-addr\4arpa";	/* with the root byte: 14 */
static const uint8_t ip6_arpa[] = "\3ip6\4arpa";		/* 10 */

static bool has_suffix_aligned(const uint8_t *name, size_t nl, const uint8_t *suf, size_t sl)
{
	if (nl < sl || memcmp(name + nl - sl, suf, sl) != 0)
		return false;
	size_t i = 0;
	while (i < nl - sl && name[i])
		i += 1 + name[i];
	return i == nl - sl;
}

static void put_opt(struct wbuf *b, const struct dns_query *q, int rcode)
{
	uint8_t opt[11] = { 0, 0, MK_DNS_TYPE_OPT };
	wr16(opt + 3, MK_DNS_UDP_MAX);
	wr32(opt + 5, (uint32_t)(rcode >> 4) << 24 | (q->edns_do ? 0x8000 : 0));
	wb_bytes(b, opt, sizeof(opt));
}

/* Header + question. Returns the offset of the question name (12). */
static void put_head(struct wbuf *b, const struct dns_query *q, const uint8_t *pkt, uint16_t flags,
		     int rcode, bool with_question)
{
	wb16(b, q->id);
	wb16(b, MK_DNS_FLAG_QR | (q->flags & (MK_DNS_FLAG_RD | 0x7800)) | flags | (rcode & 0xf));
	wb16(b, with_question ? 1 : 0);
	wb16(b, 0);
	wb16(b, 0);
	wb16(b, 0);
	if (!with_question)
		return;
	/* echo the client's spelling (0x20 case randomisation) unless it used a
	 * pointer; the name then sits at offset 12 either way */
	if (q->qend - 4 - 12 == q->qname_len)
		wb_bytes(b, pkt + 12, q->qname_len);
	else
		wb_bytes(b, q->qname, q->qname_len);
	wb16(b, q->qtype);
	wb16(b, q->qclass);
}

static size_t error_response(const struct dns_query *q, const uint8_t *pkt, int rcode,
			     uint16_t flags, uint8_t *out, size_t outsz)
{
	struct wbuf b = { out, 0, outsz, false };
	bool withq = q->qend > 0 && rcode != MK_DNS_RCODE_FORMERR;
	put_head(&b, q, pkt, flags, rcode, withq);
	if (q->edns && rcode != MK_DNS_RCODE_FORMERR) {
		put_opt(&b, q, rcode);
		wr16(out + 10, 1);
	}
	return b.overflow ? 0 : b.len;
}

size_t mk_dns_error_response(const uint8_t *pkt, size_t qlen, int rcode, uint8_t *out,
			     size_t outsz)
{
	struct dns_query q;
	int r = dns_query_parse(pkt, qlen, &q);
	if (r < 0)
		return 0;
	if (r > 0)
		rcode = r;
	return error_response(&q, pkt, rcode, MK_DNS_FLAG_RA, out, outsz);
}

static void put_rr_head(struct wbuf *b, uint16_t owner_ptr, uint16_t type, uint16_t rdlen)
{
	uint8_t h[12];
	wr16(h, 0xc000 | owner_ptr);
	wr16(h + 2, type);
	wr16(h + 4, MK_DNS_CLASS_IN);
	wr32(h + 6, MK_DNS_TTL);
	wr16(h + 10, rdlen);
	wb_bytes(b, h, sizeof(h));
}

static __thread unsigned rotation;

/* After the CNAME of an ExternalName service (its rdata at offset rd of the answer):
 * when the target is a name of the cluster zone, the target's records of type qtype
 * follow, owner names compressed as pointers into the CNAME rdata (as CoreDNS answers:
 * the CNAME plus what it points to, so a stub resolver needs no second query). Chains
 * of ExternalName services are followed up to 8 links. A target outside the zone is
 * left to the client's resolver. Returns the number of records added. */
static uint16_t chase_cname(const struct mk_dns_zone *z, struct wbuf *b, const struct rec *c,
			    size_t rd, uint16_t qtype)
{
	uint16_t added = 0;
	for (int hop = 0; hop < 8 && rd <= 0x3fff && !b->overflow; hop++) {
		if (!has_suffix_aligned(c->rdata, c->rdlen, z->apex, z->apex_len))
			break;
		const struct node *t = node_find(z, c->rdata, c->rdlen);
		if (!t)
			break;
		const struct rec *next = NULL;
		for (uint32_t j = 0; j < t->nrec; j++)
			if (t->recs[j].type == MK_DNS_TYPE_CNAME)
				next = &t->recs[j];
		if (next) {
			put_rr_head(b, (uint16_t)rd, MK_DNS_TYPE_CNAME, next->rdlen);
			rd = b->len;
			wb_bytes(b, next->rdata, next->rdlen);
			added++;
			c = next;
			continue;
		}
		for (uint32_t j = 0; j < t->nrec; j++) {
			const struct rec *rc = &t->recs[j];
			if (rc->type != qtype)
				continue;
			put_rr_head(b, (uint16_t)rd, rc->type, rc->rdlen);
			wb_bytes(b, rc->rdata, rc->rdlen);
			added++;
		}
		break;
	}
	return added;
}

/* The steps of mk_dns_zone_answer, in order: screen the query (errors that need
 * no zone), place its name (cluster zone, reverse zone, or someone else's), then
 * under the read lock the answer records, the SOA of a negative answer, and the
 * SRV targets' addresses as additional records; the OPT record and the counts
 * close the message. */

/* Parses and screens the query; true when *ret_action is the whole answer (a
 * drop, or an error response already in out). *max: the response size limit. */
static bool answer_screen(const uint8_t *pkt, size_t qlen, bool tcp, uint16_t ra,
			  struct dns_query *q, size_t *max, uint8_t *out, size_t *ret_len,
			  enum mk_dns_action *ret_action)
{
	int r = dns_query_parse(pkt, qlen, q);
	int rcode = 0;

	*max = tcp ? MK_DNS_TCP_MAX : MK_DNS_UDP_MIN;
	if (r < 0) {
		*ret_action = MK_DNS_ACTION_DROP;
		return true;
	}
	if (!tcp && q->edns)
		*max = q->udp_size < MK_DNS_UDP_MIN ? MK_DNS_UDP_MIN
		       : q->udp_size > MK_DNS_UDP_MAX ? MK_DNS_UDP_MAX : q->udp_size;
	if (r > 0) {
		*ret_len = error_response(q, pkt, r, ra, out, *max);
		*ret_action = *ret_len ? MK_DNS_ACTION_REPLY : MK_DNS_ACTION_DROP;
		return true;
	}
	if (q->edns && q->edns_version > 0)
		rcode = MK_DNS_RCODE_BADVERS;
	else if ((q->qclass != MK_DNS_CLASS_IN && q->qclass != MK_DNS_CLASS_ANY) ||
		 q->qtype == MK_DNS_TYPE_AXFR || q->qtype == MK_DNS_TYPE_IXFR)
		rcode = MK_DNS_RCODE_REFUSED;
	if (!rcode)
		return false;
	*ret_len = error_response(q, pkt, rcode, ra, out, *max);
	*ret_action = MK_DNS_ACTION_REPLY;
	return true;
}

/* Where the query's name lives: the cluster zone (true), or a reverse zone
 * (*ret_rev_apex set, false); NULL apex and false: nobody we answer for. */
static bool answer_place(const struct mk_dns_zone *z, const struct dns_query *q,
			 const uint8_t **ret_rev_apex, size_t *ret_rev_len)
{
	*ret_rev_apex = NULL;
	*ret_rev_len = 0;
	if (has_suffix_aligned(q->qname, q->qname_len, z->apex, z->apex_len))
		return true;
	if (has_suffix_aligned(q->qname, q->qname_len, inaddr_arpa, sizeof(inaddr_arpa))) {
		*ret_rev_apex = inaddr_arpa;
		*ret_rev_len = sizeof(inaddr_arpa);
	} else if (has_suffix_aligned(q->qname, q->qname_len, ip6_arpa, sizeof(ip6_arpa))) {
		*ret_rev_apex = ip6_arpa;
		*ret_rev_len = sizeof(ip6_arpa);
	}
	return false;
}

/* The answer section from node n (rotated, so clients spread over the
 * addresses): the records of the query's type, or the name's CNAME and what it
 * leads to. Returns the number of records written. */
static uint16_t answer_records(const struct mk_dns_zone *z, const struct node *n,
			       const struct dns_query *q, struct wbuf *b)
{
	uint32_t nrec = n->nrec, start = nrec ? rotation++ % nrec : 0;
	size_t cname_rd = 0;
	uint16_t an = 0;
	int cname = -1;

	for (uint32_t j = 0; j < nrec; j++)
		if (n->recs[j].type == MK_DNS_TYPE_CNAME)
			cname = (int)j;
	for (uint32_t k = 0; k < nrec; k++) {
		const struct rec *rc = &n->recs[(start + k) % nrec];
		bool want;
		if (rc->type == REC_MARKER)
			continue;
		if (cname >= 0 && q->qtype != MK_DNS_TYPE_ANY)
			want = rc->type == MK_DNS_TYPE_CNAME;
		else
			want = q->qtype == MK_DNS_TYPE_ANY || rc->type == q->qtype;
		if (!want)
			continue;
		put_rr_head(b, 12, rc->type, rc->rdlen);
		if (rc->type == MK_DNS_TYPE_CNAME)
			cname_rd = b->len;
		wb_bytes(b, rc->rdata, rc->rdlen);
		an++;
	}
	if (cname >= 0 && cname_rd && q->qtype != MK_DNS_TYPE_CNAME && q->qtype != MK_DNS_TYPE_ANY)
		an += chase_cname(z, b, &n->recs[cname], cname_rd, q->qtype);
	return an;
}

/* NXDOMAIN or NODATA: the SOA in authority, owner = the zone apex (a pointer
 * into the question for the cluster zone, the reverse apex spelled out). */
static void answer_soa(const struct mk_dns_zone *z, const struct dns_query *q, bool in_zone,
		       const uint8_t *rev_apex, size_t rev_len, struct wbuf *b)
{
	uint8_t h2[10];

	if (in_zone) {
		uint16_t ptr = 12 + (uint16_t)(q->qname_len - z->apex_len);
		wr16(h2, 0xc000 | ptr);
		wb_bytes(b, h2, 2);
	} else {
		wb_bytes(b, rev_apex, rev_len);
	}
	wr16(h2, MK_DNS_TYPE_SOA);
	wr16(h2 + 2, MK_DNS_CLASS_IN);
	wr32(h2 + 4, MK_DNS_TTL);
	wr16(h2 + 8, (uint16_t)z->soa_len);
	wb_bytes(b, h2, 10);
	wb_bytes(b, z->soa, z->soa_len);
}

/* Additional section of an SRV answer: addresses of the SRV targets, owner
 * names compressed as pointers into the SRV rdata; what does not fit is left
 * out. The an answers start at offset qend. Returns the records added. */
static uint16_t answer_srv_targets(const struct mk_dns_zone *z, struct wbuf *b, size_t qend,
				   uint16_t an)
{
	const uint8_t *out = b->p;
	size_t off = qend;
	uint16_t ar = 0;

	for (uint16_t i = 0; i < an && off + 12 <= b->len; i++) {
		uint16_t type = rd16(out + off + 2), rdlen = rd16(out + off + 10);
		size_t rd = off + 12;
		off = rd + rdlen;
		if (type != MK_DNS_TYPE_SRV || rd + 6 > 0x3fff)
			continue;
		uint8_t tw[MK_DNS_NAME_MAX];
		size_t tl = rdlen - 6;
		if (tl > sizeof(tw))
			continue;
		memcpy(tw, out + rd + 6, tl);
		const struct node *t = node_find(z, tw, tl);
		for (uint32_t j = 0; t && j < t->nrec; j++) {
			const struct rec *rc = &t->recs[j];
			if (rc->type != MK_DNS_TYPE_A && rc->type != MK_DNS_TYPE_AAAA)
				continue;
			size_t before = b->len;
			put_rr_head(b, (uint16_t)(rd + 6), rc->type, rc->rdlen);
			wb_bytes(b, rc->rdata, rc->rdlen);
			if (b->overflow) {
				b->overflow = false;
				b->len = before;
				break;
			}
			ar++;
		}
	}
	return ar;
}

enum mk_dns_action mk_dns_zone_answer(struct mk_dns_zone *z, const uint8_t *pkt, size_t qlen,
				      bool tcp, bool can_forward, uint8_t *out, size_t *ret_len)
{
	struct dns_query q;
	size_t max;
	uint16_t ra = can_forward ? MK_DNS_FLAG_RA : 0;
	enum mk_dns_action action;

	if (answer_screen(pkt, qlen, tcp, ra, &q, &max, out, ret_len, &action))
		return action;
	const uint8_t *rev_apex;
	size_t rev_len;
	bool in_zone = answer_place(z, &q, &rev_apex, &rev_len);
	if (!in_zone && !rev_apex) {
		if (can_forward)
			return MK_DNS_ACTION_FORWARD;
		*ret_len = error_response(&q, pkt, MK_DNS_RCODE_REFUSED, ra, out, max);
		return MK_DNS_ACTION_REPLY;
	}

	struct wbuf b = { out, 0, max - (q.edns ? 11 : 0), false };
	uint16_t an = 0, ns = 0, ar = 0;
	int rcode = MK_DNS_RCODE_NOERROR;
	/* hashed before the lock: readers hold it for as little as they can */
	struct mk_hmap_bytes qkey = { q.qname, q.qname_len };
	uint64_t h = mk_hmap_hash(&z->names, &qkey);

	pthread_rwlock_rdlock(&z->lock);
	const struct node *n = mk_hmap_get_hashed(&z->names, &qkey, h);
	if (!n && rev_apex && can_forward) {
		/* reverse names we do not know belong to someone else */
		pthread_rwlock_unlock(&z->lock);
		return MK_DNS_ACTION_FORWARD;
	}
	put_head(&b, &q, pkt, MK_DNS_FLAG_AA | ra, 0, true);
	size_t qend = b.len;
	if (n)
		an = answer_records(z, n, &q, &b);
	else
		rcode = MK_DNS_RCODE_NXDOMAIN;
	if (an == 0) {
		answer_soa(z, &q, in_zone, rev_apex, rev_len, &b);
		ns = 1;
	}
	if (b.overflow) {
		/* does not fit: TC and no records, the client retries over TCP */
		b.overflow = false;
		b.len = qend;
		an = ns = 0;
		wr16(out + 2, rd16(out + 2) | MK_DNS_FLAG_TC);
	} else if (an && q.qtype == MK_DNS_TYPE_SRV) {
		ar = answer_srv_targets(z, &b, qend, an);
	}
	pthread_rwlock_unlock(&z->lock);
	b.cap = max;
	if (q.edns) {
		put_opt(&b, &q, 0);
		ar++;
	}
	wr16(out + 2, rd16(out + 2) | (rcode & 0xf));
	wr16(out + 6, an);
	wr16(out + 8, ns);
	wr16(out + 10, ar);
	*ret_len = b.len;
	return MK_DNS_ACTION_REPLY;
}
