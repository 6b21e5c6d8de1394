/* The model: NetworkPolicies + Pods + Namespaces -> sets and rules (pure).
 * Semantics as Kubernetes documents them: a pod is isolated for ingress
 * (egress) once a policy selecting it has Ingress (Egress) in its policyTypes;
 * then a connection passes when some rule of some such policy allows it.
 * Named ports are resolved on the destination pod's containerPorts (with the
 * port's protocol), so they become address . protocol . port elements.
 *
 * Sets are shared: a selector (its canonical form and namespace scope) that
 * many policies use is one set, referenced by every rule that uses it. So the
 * kernel holds one element per (selector, pod), not per (rule, pod).
 *
 * The model is kept between events (struct mk_netpol_model): a pod add, delete
 * or change takes its old contribution out of every set (one selector match
 * per set) and puts the new one in; a namespace label change does that for the
 * namespace's pods; a policy change rebuilds the shape (sets and rules, from
 * the policies only), keeping the elements of every set whose key survives and
 * filling only the new ones. Elements carry a count (how many (pod, set) pairs
 * put them there), so two pods on one address, or a pod in two subject sets,
 * leave correctly. mk_netpol_model_build is the full rebuild: the start-up path
 * and the tests' oracle. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/api.h"
#include "minik8s/netpol.h"

/* ---- the model's state ---------------------------------------------------------- */

struct nport {
	char *name;
	uint8_t proto;
	uint16_t port;
};

/* What the model keeps of a pod: enough to take its contribution out again. */
struct mpod {
	char *ns;
	cJSON *labels; /* owned copy, NULL: none */
	struct nport *ports;
	size_t nports;
	uint32_t ip;
	bool local;
	bool active; /* has an address, not hostNetwork, not finished */
};

struct mns {
	cJSON *labels; /* owned copy */
};

enum skind { K_ISO, K_SUBJ, K_PEER, K_NAMED, K_IPB };

/* Which pods a set holds: those of namespace ns (or, ns NULL, of the
 * namespaces nssel matches; both NULL: every namespace) that podsel matches
 * (NULL: all), of this node only when local. */
struct pred {
	char *ns;
	struct mk_label_selector *nssel, *podsel;
	bool local;
};

/* The model's side of rs.sets[i]. */
struct mset {
	char *key;
	enum skind kind;
	struct pred pred;
	char *port_name; /* K_NAMED: resolved on each pod of pred */
	uint8_t proto;
	bool ing, egr;	 /* K_SUBJ: its pods are isolated for ingress / egress */
	cJSON *ipblock;	 /* K_IPB (owned copy) */
	uint32_t *cnt;	 /* per element (ADDR, ADDR_PORT) */
	size_t cap_e, cap_c;
};

struct mk_netpol_model {
	char *node;
	struct mk_hmap pods;	 /* "ns/name" -> struct mpod */
	struct mk_hmap nss;	 /* name -> struct mns */
	struct mk_hmap pols;	 /* "ns/name" -> cJSON (owned copy) */
	struct mk_netpol_ruleset rs;
	struct mset *meta;	 /* [rs.nsets] */
};

static uint64_t next_gen(void)
{
	static uint64_t gen;
	return __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED);
}

/* ---- small helpers ------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_range(const void *a, const void *b)
{
	const struct mk_netpol_range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : x->hi > y->hi;
}

static int cmp_ap(const void *a, const void *b)
{
	const struct mk_netpol_addr_port *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->port < y->port ? -1 : x->port > y->port;
}

static bool parse_ip(const char *s, uint32_t *ret)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ret = ntohl(a.s_addr);
	return true;
}

static uint8_t proto_num(const char *s)
{
	if (!s || !strcmp(s, "TCP"))
		return IPPROTO_TCP;
	if (!strcmp(s, "UDP"))
		return IPPROTO_UDP;
	if (!strcmp(s, "SCTP"))
		return IPPROTO_SCTP;
	return 0;
}

/* A parsed selector; NULL sel (absent) matches everything. *bad on a
 * malformed one (the API server refuses those). */
static struct mk_label_selector *sel_parse(const cJSON *sel, bool *bad)
{
	struct mk_label_selector *s = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	if (!sel || cJSON_IsNull(sel))
		return NULL;
	if (mk_label_selector_from_json(sel, &s, &e) < 0)
		*bad = true;
	return s;
}

static bool sel_matches(const struct mk_label_selector *s, const cJSON *labels)
{
	return !s || mk_label_selector_matches(s, labels);
}

/* canonical JSON of a selector ("" when absent): the sharing key */
static void canon(struct mk_buf *b, const cJSON *sel)
{
	if (sel && !cJSON_IsNull(sel))
		mk_json_canonical(sel, b);
	mk_buf_puts(b, "|");
}

/* ---- pods and namespaces --------------------------------------------------------- */

static void mpod_free(void *p)
{
	struct mpod *d = p;
	if (!d)
		return;
	free(d->ns);
	cJSON_Delete(d->labels);
	for (size_t i = 0; i < d->nports; i++)
		free(d->ports[i].name);
	free(d->ports);
	free(d);
}

static void mns_free(void *p)
{
	struct mns *n = p;
	if (!n)
		return;
	cJSON_Delete(n->labels);
	free(n);
}

static void json_free(void *p)
{
	cJSON_Delete(p);
}

static struct mpod *mpod_new(const char *node, const cJSON *p)
{
	struct mpod *d = mk_malloc0(sizeof(*d));
	const char *ns = mk_json_get_string(p, "metadata.namespace");
	d->ns = mk_strdup(ns ? ns : "default");
	const cJSON *l = mk_json_get(p, "metadata.labels");
	d->labels = l ? cJSON_Duplicate(l, true) : NULL;
	const char *phase = mk_json_get_string(p, "status.phase");
	const char *pn = mk_json_get_string(p, "spec.nodeName");
	d->active = !(phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) &&
		    !cJSON_IsTrue(mk_json_get(p, "spec.hostNetwork")) &&
		    parse_ip(mk_json_get_string(p, "status.podIP"), &d->ip);
	d->local = pn && node && strcmp(pn, node) == 0;
	size_t cap = 0;
	const cJSON *ctr, *port;
	cJSON_ArrayForEach(ctr, mk_json_get(p, "spec.containers"))
	{
		cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(ctr, "ports"))
		{
			const char *n = mk_json_get_string(port, "name");
			const cJSON *cpj = cJSON_GetObjectItemCaseSensitive(port, "containerPort");
			double cp = cJSON_IsNumber(cpj) ? cpj->valuedouble : 0;
			uint8_t proto = proto_num(mk_json_get_string(port, "protocol"));
			if (!n || !proto || cp < 1 || cp > 65535)
				continue;
			MK_GROW(d->ports, cap, d->nports + 1);
			d->ports[d->nports++] = (struct nport){ mk_strdup(n), proto, (uint16_t)cp };
		}
	}
	return d;
}

static bool labels_equal(const cJSON *a, const cJSON *b)
{
	return (!a && !b) || (a && b && cJSON_Compare(a, b, true));
}

static bool mpod_equal(const struct mpod *a, const struct mpod *b)
{
	if (a->ip != b->ip || a->local != b->local || a->active != b->active || strcmp(a->ns, b->ns) ||
	    a->nports != b->nports || !labels_equal(a->labels, b->labels))
		return false;
	for (size_t i = 0; i < a->nports; i++)
		if (strcmp(a->ports[i].name, b->ports[i].name) || a->ports[i].proto != b->ports[i].proto ||
		    a->ports[i].port != b->ports[i].port)
			return false;
	return true;
}

/* The containerPort named name with protocol proto (the first, as the
 * containers list them), or 0. */
static uint16_t named_port(const struct mpod *d, const char *name, uint8_t proto)
{
	for (size_t i = 0; i < d->nports; i++)
		if (d->ports[i].proto == proto && !strcmp(d->ports[i].name, name))
			return d->ports[i].port;
	return 0;
}

static const cJSON *ns_labels(const struct mk_netpol_model *m, const char *ns)
{
	const struct mns *n = mk_hmap_get(&m->nss, ns);
	return n ? n->labels : NULL;
}

static bool pred_matches(const struct pred *p, const struct mpod *d, const cJSON *nsl)
{
	if (!d->active || (p->local && !d->local))
		return false;
	if (p->ns ? strcmp(p->ns, d->ns) != 0 : !sel_matches(p->nssel, nsl))
		return false;
	return sel_matches(p->podsel, d->labels);
}

/* ---- set elements with counts ------------------------------------------------------ */

static size_t lower_addr(const struct mk_netpol_set *s, uint32_t a)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->addrs[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t lower_ap(const struct mk_netpol_set *s, const struct mk_netpol_addr_port *k)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cmp_ap(&s->aps[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds (delta 1) or takes out (-1) one reference to an element of set si. */
static void elem_change(struct mk_netpol_model *m, size_t si, uint32_t addr, uint8_t proto, uint16_t port,
			int delta)
{
	struct mk_netpol_set *s = &m->rs.sets[si];
	struct mset *x = &m->meta[si];
	struct mk_netpol_addr_port k = { addr, proto, port };
	size_t i;
	bool found;
	if (s->type == MK_NETPOL_SET_ADDR) {
		i = lower_addr(s, addr);
		found = i < s->n && s->addrs[i] == addr;
	} else {
		i = lower_ap(s, &k);
		found = i < s->n && cmp_ap(&s->aps[i], &k) == 0;
	}
	if (delta > 0 && found) {
		x->cnt[i]++;
		return;
	}
	if (delta < 0 && (!found || --x->cnt[i] > 0))
		return;
	if (delta > 0) {
		MK_GROW(x->cnt, x->cap_c, s->n + 1);
		memmove(x->cnt + i + 1, x->cnt + i, (s->n - i) * sizeof(*x->cnt));
		x->cnt[i] = 1;
		if (s->type == MK_NETPOL_SET_ADDR) {
			MK_GROW(s->addrs, x->cap_e, s->n + 1);
			memmove(s->addrs + i + 1, s->addrs + i, (s->n - i) * sizeof(*s->addrs));
			s->addrs[i] = addr;
		} else {
			MK_GROW(s->aps, x->cap_e, s->n + 1);
			memmove(s->aps + i + 1, s->aps + i, (s->n - i) * sizeof(*s->aps));
			s->aps[i] = k;
		}
		s->n++;
	} else {
		s->n--;
		memmove(x->cnt + i, x->cnt + i + 1, (s->n - i) * sizeof(*x->cnt));
		if (s->type == MK_NETPOL_SET_ADDR)
			memmove(s->addrs + i, s->addrs + i + 1, (s->n - i) * sizeof(*s->addrs));
		else
			memmove(s->aps + i, s->aps + i + 1, (s->n - i) * sizeof(*s->aps));
	}
	s->gen = next_gen();
}

/* Takes pod d's references out of (delta -1) or puts them into (+1) every set:
 * one selector match per set. */
static void pod_contrib(struct mk_netpol_model *m, const struct mpod *d, int delta)
{
	if (!d->active)
		return;
	const cJSON *nsl = ns_labels(m, d->ns);
	for (size_t i = 0; i < m->rs.nsets; i++) {
		const struct mset *x = &m->meta[i];
		if (x->kind == K_ISO || x->kind == K_IPB || !pred_matches(&x->pred, d, nsl))
			continue;
		if (x->kind == K_NAMED) {
			uint16_t num = named_port(d, x->port_name, x->proto);
			if (num)
				elem_change(m, i, d->ip, x->proto, num, delta);
			continue;
		}
		elem_change(m, i, d->ip, 0, 0, delta);
		if (x->kind == K_SUBJ && x->ing)
			elem_change(m, MK_NETPOL_SET_ING_ISO, d->ip, 0, 0, delta);
		if (x->kind == K_SUBJ && x->egr)
			elem_change(m, MK_NETPOL_SET_EGR_ISO, d->ip, 0, 0, delta);
	}
}

/* ---- bulk filling (full rebuild, new sets of a policy change) ----------------------- */

struct acc {
	struct mk_netpol_addr_port *e; /* addr only for ADDR sets */
	size_t n, cap;
};

static void acc_push(struct acc *a, uint32_t addr, uint8_t proto, uint16_t port)
{
	MK_GROW(a->e, a->cap, a->n + 1);
	a->e[a->n++] = (struct mk_netpol_addr_port){ addr, proto, port };
}

/* set si := the accumulated elements, sorted, duplicates counted */
static void acc_store(struct mk_netpol_model *m, size_t si, struct acc *a)
{
	struct mk_netpol_set *s = &m->rs.sets[si];
	struct mset *x = &m->meta[si];
	if (a->n)
		qsort(a->e, a->n, sizeof(*a->e), cmp_ap);
	s->n = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (i > 0 && cmp_ap(&a->e[i - 1], &a->e[i]) == 0) {
			x->cnt[s->n - 1]++;
			continue;
		}
		MK_GROW(x->cnt, x->cap_c, s->n + 1);
		x->cnt[s->n] = 1;
		if (s->type == MK_NETPOL_SET_ADDR) {
			MK_GROW(s->addrs, x->cap_e, s->n + 1);
			s->addrs[s->n] = a->e[i].addr;
		} else {
			MK_GROW(s->aps, x->cap_e, s->n + 1);
			s->aps[s->n] = a->e[i];
		}
		s->n++;
	}
	s->gen = next_gen();
	a->n = 0;
}

/* pods grouped by namespace, for filling sets without looking at every pod */
struct nsidx {
	struct mk_hmap by_ns; /* ns -> struct podlist */
};
struct podlist {
	const struct mpod **p;
	size_t n, cap;
};

static void podlist_free(void *p)
{
	struct podlist *l = p;
	free(l->p);
	free(l);
}

static void nsidx_build(const struct mk_netpol_model *m, struct nsidx *ix)
{
	mk_hmap_init(&ix->by_ns);
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&m->pods, &it))) {
		const struct mpod *d = e->val;
		if (!d->active)
			continue;
		struct podlist *l = mk_hmap_get(&ix->by_ns, d->ns);
		if (!l) {
			l = mk_malloc0(sizeof(*l));
			mk_hmap_put(&ix->by_ns, d->ns, l);
		}
		MK_GROW(l->p, l->cap, l->n + 1);
		l->p[l->n++] = d;
	}
}

static void fill_from(const struct mk_netpol_model *m, const struct mset *x, const struct podlist *l,
		      const cJSON *nsl, struct acc *a)
{
	for (size_t i = 0; l && i < l->n; i++) {
		const struct mpod *d = l->p[i];
		if (!pred_matches(&x->pred, d, nsl))
			continue;
		if (x->kind == K_NAMED) {
			uint16_t num = named_port(d, x->port_name, x->proto);
			if (num)
				acc_push(a, d->ip, x->proto, num);
		} else {
			acc_push(a, d->ip, 0, 0);
		}
	}
}

static void fill_set(struct mk_netpol_model *m, size_t si, const struct nsidx *ix, struct acc *a)
{
	const struct mset *x = &m->meta[si];
	if (x->pred.ns) {
		fill_from(m, x, mk_hmap_get(&ix->by_ns, x->pred.ns), ns_labels(m, x->pred.ns), a);
	} else {
		struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
		struct mk_hmap_entry *e;
		while ((e = mk_hmap_iter_next(&ix->by_ns, &it)))
			fill_from(m, x, e->val, ns_labels(m, e->key), a);
	}
	acc_store(m, si, a);
}

/* ing_iso / egr_iso from the subject sets: one reference per (subject set, pod) */
static void fill_iso(struct mk_netpol_model *m, struct acc *a)
{
	for (int eg = 0; eg < 2; eg++) {
		for (size_t i = 0; i < m->rs.nsets; i++) {
			const struct mset *x = &m->meta[i];
			if (x->kind != K_SUBJ || !(eg ? x->egr : x->ing))
				continue;
			for (size_t j = 0; j < m->rs.sets[i].n; j++)
				for (uint32_t c = 0; c < x->cnt[j]; c++)
					acc_push(a, m->rs.sets[i].addrs[j], 0, 0);
		}
		acc_store(m, eg ? MK_NETPOL_SET_EGR_ISO : MK_NETPOL_SET_ING_ISO, a);
	}
}

/* ---- ipBlock ------------------------------------------------------------------------ */

static bool parse_cidr(const char *cidr, uint32_t *lo, uint32_t *hi)
{
	char ip[64];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return false;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	uint32_t base;
	int plen = atoi(slash + 1);
	if (!parse_ip(ip, &base) || plen < 0 || plen > 32)
		return false;
	uint32_t mask = plen ? ~0u << (32 - plen) : 0;
	*lo = base & mask;
	*hi = (base & mask) | ~mask;
	return true;
}

/* sorts and merges overlapping or adjacent ranges */
static void ranges_normalize(struct mk_netpol_set *s)
{
	if (s->n == 0)
		return;
	size_t o = 0;
	qsort(s->ranges, s->n, sizeof(*s->ranges), cmp_range);
	for (size_t i = 0; i < s->n; i++) {
		struct mk_netpol_range r = s->ranges[i];
		if (o > 0 && (s->ranges[o - 1].hi == UINT32_MAX || r.lo <= s->ranges[o - 1].hi + 1)) {
			if (r.hi > s->ranges[o - 1].hi)
				s->ranges[o - 1].hi = r.hi;
		} else {
			s->ranges[o++] = r;
		}
	}
	s->n = o;
}

/* Set s := cidr minus its excepts (IPv4 only: an IPv6 block matches no IPv4
 * packet, so it stays empty). */
static void fill_ip_block(struct mk_netpol_set *s, size_t *cap, const cJSON *b)
{
	uint32_t lo, hi;
	if (!parse_cidr(mk_json_get_string(b, "cidr"), &lo, &hi))
		return;
	MK_GROW(s->ranges, *cap, 1);
	s->ranges[0] = (struct mk_netpol_range){ lo, hi };
	s->n = 1;
	const cJSON *ex;
	cJSON_ArrayForEach(ex, cJSON_GetObjectItemCaseSensitive(b, "except"))
	{
		uint32_t elo, ehi;
		if (!cJSON_IsString(ex) || !parse_cidr(ex->valuestring, &elo, &ehi))
			continue;
		for (size_t i = 0; i < s->n; i++) {
			struct mk_netpol_range cur = s->ranges[i];
			if (cur.hi < elo || cur.lo > ehi)
				continue;
			bool left = cur.lo < elo, right = cur.hi > ehi;
			if (left && right) {
				MK_GROW(s->ranges, *cap, s->n + 1);
				s->ranges[i].hi = elo - 1;
				s->ranges[s->n++] = (struct mk_netpol_range){ ehi + 1, cur.hi };
			} else if (left) {
				s->ranges[i].hi = elo - 1;
			} else if (right) {
				s->ranges[i].lo = ehi + 1;
			} else {
				s->ranges[i--] = s->ranges[--s->n];
			}
		}
	}
	ranges_normalize(s);
}

/* ---- the shape: sets and rules from the policies -------------------------------------- */

static void mset_release(struct mset *x, struct mk_netpol_set *s)
{
	free(x->key);
	free(x->pred.ns);
	mk_label_selector_free(x->pred.nssel);
	mk_label_selector_free(x->pred.podsel);
	free(x->port_name);
	cJSON_Delete(x->ipblock);
	free(x->cnt);
	if (s) {
		free(s->addrs);
		free(s->ranges);
		free(s->aps);
	}
}

struct shape {
	struct mk_netpol_model *m;
	struct mk_hmap by_key; /* key -> index + 1 in the new sets */
	size_t cap_sets, cap_rules;
};

/* The index of the set keyed key; made (kind, type, *pred taken and zeroed)
 * when new. */
static int set_get(struct shape *sh, const char *key, enum skind kind, enum mk_netpol_set_type type,
		   struct pred *pred)
{
	struct mk_netpol_model *m = sh->m;
	uintptr_t have = (uintptr_t)mk_hmap_get(&sh->by_key, key);
	if (have)
		return (int)(have - 1); /* pred stays the caller's */
	size_t i = m->rs.nsets++;
	size_t cap = sh->cap_sets;
	MK_GROW(m->rs.sets, cap, i + 1);
	MK_GROW(m->meta, sh->cap_sets, i + 1);
	struct mk_netpol_set *s = &m->rs.sets[i];
	memset(s, 0, sizeof(*s));
	static const char letter[] = { [K_ISO] = 'i', [K_SUBJ] = 's', [K_PEER] = 'p', [K_NAMED] = 'n', [K_IPB] = 'b' };
	if (kind == K_ISO)
		snprintf(s->name, sizeof(s->name), "%s", key);
	else
		snprintf(s->name, sizeof(s->name), "%c%zu", letter[kind], i);
	s->type = type;
	struct mset *x = &m->meta[i];
	memset(x, 0, sizeof(*x));
	x->key = mk_strdup(key);
	x->kind = kind;
	if (pred) {
		x->pred = *pred;
		memset(pred, 0, sizeof(*pred));
	}
	mk_hmap_put(&sh->by_key, key, (void *)(i + 1));
	return (int)i;
}

static struct mk_netpol_rule *rule_add(struct shape *sh, bool egress, int subject, int peer, const char *origin)
{
	struct mk_netpol_ruleset *rs = &sh->m->rs;
	MK_GROW(rs->rules, sh->cap_rules, rs->nrules + 1);
	struct mk_netpol_rule *r = &rs->rules[rs->nrules++];
	*r = (struct mk_netpol_rule){ .egress = egress, .subject = subject, .peer = peer,
				      .named = -1, .port_hi = 65535, .origin = mk_strdup(origin) };
	return r;
}

/* One peer of a rule: its set (-1: any address), and its selectors (borrowed
 * from the policy) for a named port resolved on the peer's pods (egress). */
struct peer {
	int set;
	bool ipblock;
	char *key; /* of the peer's set; NULL: no peers (every pod) */
	const cJSON *nss, *ps;
	bool has_ns;
};

/* Where the rules of one policy rule are being made. */
struct rule_ctx {
	const cJSON *pol;
	const char *ns, *pname;
	int subj;
	const char *subj_key;
	bool egress;
	size_t k; /* the rule's index in spec.ingress / spec.egress */
};

static void pred_release(struct pred *p)
{
	free(p->ns);
	mk_label_selector_free(p->nssel);
	mk_label_selector_free(p->podsel);
	memset(p, 0, sizeof(*p));
}

/* pods of ns (or of the namespaces nss matches, has_ns) that ps matches */
static struct pred pred_make(const char *ns, bool has_ns, const cJSON *nss, const cJSON *ps, bool local,
			     bool *bad)
{
	struct pred p = { .local = local };
	p.podsel = sel_parse(ps, bad);
	if (has_ns)
		p.nssel = sel_parse(nss, bad);
	else
		p.ns = mk_strdup(ns);
	return p;
}

static bool has_type(const cJSON *pol, const char *t)
{
	const cJSON *pt = mk_json_get(pol, "spec.policyTypes"), *x;
	if (cJSON_GetArraySize(pt) == 0) /* defaults as upstream */
		return !strcmp(t, "Ingress") || cJSON_GetArraySize(mk_json_get(pol, "spec.egress")) > 0;
	cJSON_ArrayForEach(x, pt)
	{
		if (cJSON_IsString(x) && !strcmp(x->valuestring, t))
			return true;
	}
	return false;
}

/* The peers of one rule as sets: an ipBlock is a ranges set, a pod selector
 * (with its namespace scope) an address set; none: one peer, any address. A
 * malformed selector (refused by the API server) is no peer. */
static size_t rule_peers(struct shape *sh, const char *ns, const cJSON *list, struct peer *out)
{
	if (cJSON_GetArraySize(list) == 0) {
		out[0] = (struct peer){ .set = -1 };
		return 1;
	}
	size_t n = 0;
	const cJSON *peer;
	cJSON_ArrayForEach(peer, list)
	{
		struct mk_buf b;
		mk_buf_init(&b);
		const cJSON *ib = cJSON_GetObjectItemCaseSensitive(peer, "ipBlock");
		if (ib && !cJSON_IsNull(ib)) {
			mk_buf_puts(&b, "B|");
			canon(&b, ib);
			int si = set_get(sh, b.data, K_IPB, MK_NETPOL_SET_RANGES, NULL);
			if (!sh->m->meta[si].ipblock)
				sh->m->meta[si].ipblock = cJSON_Duplicate(ib, true);
			out[n++] = (struct peer){ .set = si, .ipblock = true, .key = mk_buf_steal(&b) };
			continue;
		}
		const cJSON *nss = cJSON_GetObjectItemCaseSensitive(peer, "namespaceSelector");
		const cJSON *ps = cJSON_GetObjectItemCaseSensitive(peer, "podSelector");
		bool has_ns = nss && !cJSON_IsNull(nss), bad = false;
		struct pred p = pred_make(ns, has_ns, nss, ps, false, &bad);
		if (bad) {
			pred_release(&p);
			mk_buf_release(&b);
			continue;
		}
		mk_buf_puts(&b, "P|");
		if (has_ns) {
			mk_buf_puts(&b, "sel:");
			canon(&b, nss);
		} else {
			mk_buf_printf(&b, "ns:%s|", ns);
		}
		canon(&b, ps);
		int si = set_get(sh, b.data, K_PEER, MK_NETPOL_SET_ADDR, &p);
		pred_release(&p);
		out[n++] = (struct peer){ .set = si, .key = mk_buf_steal(&b), .nss = nss, .ps = ps, .has_ns = has_ns };
	}
	return n;
}

/* The set of a named port of a rule, resolved on the destination: the subjects
 * for ingress, the peer's pods (every pod when the rule has no peers) for
 * egress. -1: nothing to resolve it on (an ipBlock peer names no pod). */
static int named_set(struct shape *sh, const struct rule_ctx *rc, const struct peer *peer, const char *name,
		     uint8_t proto)
{
	struct pred dp = { 0 };
	const char *base = "ALL";
	bool bad = false;
	if (!rc->egress) {
		dp = pred_make(rc->ns, false, NULL, mk_json_get(rc->pol, "spec.podSelector"), true, &bad);
		base = rc->subj_key;
	} else if (peer->ipblock) {
		return -1;
	} else if (peer->key) {
		dp = pred_make(rc->ns, peer->has_ns, peer->nss, peer->ps, false, &bad);
		base = peer->key;
	}
	char *key = mk_strdup_printf("N|%s|%s|%u", base, name, proto);
	int si = set_get(sh, key, K_NAMED, MK_NETPOL_SET_ADDR_PORT, &dp);
	free(key);
	pred_release(&dp);
	struct mset *x = &sh->m->meta[si];
	if (!x->port_name) {
		x->port_name = mk_strdup(name);
		x->proto = proto;
	}
	return si;
}

/* The kernel rules of one entry of a rule's ports: one per peer. */
static void shape_port(struct shape *sh, const struct rule_ctx *rc, const struct peer *peers, size_t np,
		       const cJSON *port, size_t j)
{
	uint8_t proto = proto_num(mk_json_get_string(port, "protocol"));
	const cJSON *pv = cJSON_GetObjectItemCaseSensitive(port, "port");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(port, "endPort");
	char origin[512];
	if (!proto)
		return;
	for (size_t p = 0; p < np; p++) {
		int named = -1;
		if (cJSON_IsString(pv) && (named = named_set(sh, rc, &peers[p], pv->valuestring, proto)) < 0)
			continue;
		snprintf(origin, sizeof(origin), "%s/%s %s[%zu].ports[%zu] peer %zu", rc->ns, rc->pname,
			 rc->egress ? "egress" : "ingress", rc->k, j, p);
		struct mk_netpol_rule *r = rule_add(sh, rc->egress, rc->subj, peers[p].set, origin);
		r->proto = proto;
		r->named = named;
		if (cJSON_IsNumber(pv)) {
			r->port_lo = r->port_hi = (uint16_t)pv->valueint;
			if (cJSON_IsNumber(ev) && ev->valueint >= pv->valueint && ev->valueint <= 65535)
				r->port_hi = (uint16_t)ev->valueint;
		}
	}
}

/* The rules of one direction of a policy: per (rule, port, peer) one kernel
 * rule over the shared sets. */
static void shape_direction(struct shape *sh, const cJSON *pol, int subj, const char *subj_key, bool egress)
{
	const char *pname = mk_json_get_string(pol, "metadata.name");
	struct rule_ctx rc = { .pol = pol, .ns = mk_json_get_string(pol, "metadata.namespace"),
			       .pname = pname ? pname : "", .subj = subj, .subj_key = subj_key, .egress = egress };
	const cJSON *rule;
	cJSON_ArrayForEach(rule, mk_json_get(pol, egress ? "spec.egress" : "spec.ingress"))
	{
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(rule, egress ? "to" : "from");
		struct peer *peers = mk_malloc0(((size_t)cJSON_GetArraySize(list) + 1) * sizeof(*peers));
		size_t np = rule_peers(sh, rc.ns, list, peers);
		const cJSON *ports = cJSON_GetObjectItemCaseSensitive(rule, "ports");
		if (cJSON_GetArraySize(ports) == 0) {
			char origin[512];
			for (size_t p = 0; p < np; p++) {
				snprintf(origin, sizeof(origin), "%s/%s %s[%zu] peer %zu", rc.ns, rc.pname,
					 egress ? "egress" : "ingress", rc.k, p);
				rule_add(sh, egress, subj, peers[p].set, origin);
			}
		}
		size_t j = 0;
		const cJSON *port;
		cJSON_ArrayForEach(port, ports)
			shape_port(sh, &rc, peers, np, port, j++);
		for (size_t p = 0; p < np; p++)
			free(peers[p].key);
		free(peers);
		rc.k++;
	}
}

static int cmp_pol(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
	const char *nx = mk_json_get_string(x, "metadata.namespace"), *ny = mk_json_get_string(y, "metadata.namespace");
	int r = strcmp(nx ? nx : "", ny ? ny : "");
	if (r)
		return r;
	nx = mk_json_get_string(x, "metadata.name");
	ny = mk_json_get_string(y, "metadata.name");
	return strcmp(nx ? nx : "", ny ? ny : "");
}

/* The sets and rules of one policy. */
static void shape_policy(struct shape *sh, const cJSON *pol)
{
	const char *ns = mk_json_get_string(pol, "metadata.namespace");
	if (!ns || !cJSON_IsObject(mk_json_get(pol, "spec")))
		return;
	bool ing = has_type(pol, "Ingress"), egr = has_type(pol, "Egress"), bad = false;
	if (!ing && !egr)
		return;
	const cJSON *ps = mk_json_get(pol, "spec.podSelector");
	struct pred p = pred_make(ns, false, NULL, ps, true, &bad);
	if (bad) {
		pred_release(&p);
		return;
	}
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "S|%s|", ns);
	canon(&b, ps);
	int subj = set_get(sh, b.data, K_SUBJ, MK_NETPOL_SET_ADDR, &p);
	pred_release(&p);
	sh->m->meta[subj].ing |= ing;
	sh->m->meta[subj].egr |= egr;
	if (ing)
		shape_direction(sh, pol, subj, b.data, false);
	if (egr)
		shape_direction(sh, pol, subj, b.data, true);
	mk_buf_release(&b);
}

static void rules_release(struct mk_netpol_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rules[i].origin);
	free(rules);
}

/* Rebuilds sets and rules from the policies. A set whose key was there before
 * keeps its elements (same key: same pods); a new one is filled from the pods.
 * The isolation sets are recomputed from the subject sets. */
static void reshape(struct mk_netpol_model *m)
{
	struct mk_netpol_ruleset old = m->rs;
	struct mset *old_meta = m->meta;
	memset(&m->rs, 0, sizeof(m->rs));
	m->meta = NULL;
	struct shape sh = { .m = m };
	mk_hmap_init(&sh.by_key);
	set_get(&sh, "ing_iso", K_ISO, MK_NETPOL_SET_ADDR, NULL);
	set_get(&sh, "egr_iso", K_ISO, MK_NETPOL_SET_ADDR, NULL);

	size_t npol = 0, i = 0;
	const cJSON **pols = mk_malloc0((m->pols.n + 1) * sizeof(*pols));
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&m->pols, &it)))
		pols[npol++] = e->val;
	qsort(pols, npol, sizeof(*pols), cmp_pol);
	for (i = 0; i < npol; i++)
		shape_policy(&sh, pols[i]);
	free(pols);

	struct mk_hmap old_by_key;
	mk_hmap_init(&old_by_key);
	for (i = 0; i < old.nsets; i++)
		mk_hmap_put(&old_by_key, old_meta[i].key, (void *)(i + 1));
	struct nsidx ix;
	bool have_ix = false;
	struct acc a = { 0 };
	for (i = MK_NETPOL_SET_EGR_ISO + 1; i < m->rs.nsets; i++) {
		struct mk_netpol_set *s = &m->rs.sets[i];
		struct mset *x = &m->meta[i];
		uintptr_t j = (uintptr_t)mk_hmap_get(&old_by_key, x->key);
		if (j) {
			struct mk_netpol_set *os = &old.sets[j - 1];
			struct mset *ox = &old_meta[j - 1];
			s->n = os->n;
			s->gen = os->gen;
			s->addrs = TAKE_PTR(os->addrs);
			s->ranges = TAKE_PTR(os->ranges);
			s->aps = TAKE_PTR(os->aps);
			x->cnt = TAKE_PTR(ox->cnt);
			x->cap_e = ox->cap_e;
			x->cap_c = ox->cap_c;
		} else if (x->kind == K_IPB) {
			fill_ip_block(s, &x->cap_e, x->ipblock);
			s->gen = next_gen();
		} else {
			if (!have_ix)
				nsidx_build(m, &ix);
			have_ix = true;
			fill_set(m, i, &ix, &a);
		}
	}
	fill_iso(m, &a);
	free(a.e);
	if (have_ix)
		mk_hmap_release(&ix.by_ns, podlist_free);
	mk_hmap_release(&old_by_key, NULL);
	mk_hmap_release(&sh.by_key, NULL);
	for (i = 0; i < old.nsets; i++)
		mset_release(&old_meta[i], &old.sets[i]);
	free(old_meta);
	free(old.sets);
	rules_release(old.rules, old.nrules);
}

/* ---- the model's public face ------------------------------------------------------------ */

struct mk_netpol_model *mk_netpol_model_new(const char *node)
{
	struct mk_netpol_model *m = mk_malloc0(sizeof(*m));
	m->node = mk_strdup(node ? node : "");
	mk_hmap_init(&m->pods);
	mk_hmap_init(&m->nss);
	mk_hmap_init(&m->pols);
	reshape(m);
	return m;
}

static void model_clear(struct mk_netpol_model *m)
{
	for (size_t i = 0; i < m->rs.nsets; i++)
		mset_release(&m->meta[i], NULL);
	free(m->meta);
	m->meta = NULL;
	mk_netpol_ruleset_release(&m->rs);
	mk_hmap_release(&m->pods, mpod_free);
	mk_hmap_release(&m->nss, mns_free);
	mk_hmap_release(&m->pols, json_free);
}

void mk_netpol_model_free(struct mk_netpol_model *m)
{
	if (!m)
		return;
	model_clear(m);
	free(m->node);
	free(m);
}

const struct mk_netpol_ruleset *mk_netpol_model_ruleset(const struct mk_netpol_model *m)
{
	return &m->rs;
}

/* What the model keeps of a policy: its namespace, name and spec. */
static cJSON *policy_copy(const cJSON *pol)
{
	cJSON *c = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(c, "metadata");
	const char *ns = mk_json_get_string(pol, "metadata.namespace");
	const char *name = mk_json_get_string(pol, "metadata.name");
	if (ns)
		cJSON_AddStringToObject(md, "namespace", ns);
	if (name)
		cJSON_AddStringToObject(md, "name", name);
	const cJSON *spec = mk_json_get(pol, "spec");
	if (spec)
		cJSON_AddItemToObject(c, "spec", cJSON_Duplicate(spec, true));
	return c;
}

static char *object_key(const cJSON *obj, bool namespaced)
{
	const char *ns = mk_json_get_string(obj, "metadata.namespace");
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (!namespaced)
		return mk_strdup(name ? name : "");
	return mk_strdup_printf("%s/%s", ns ? ns : "default", name ? name : "");
}

int mk_netpol_model_load(struct mk_netpol_model *m, const struct mk_netpol_input *in, struct mk_error **err)
{
	model_clear(m);
	mk_hmap_init(&m->pods);
	mk_hmap_init(&m->nss);
	mk_hmap_init(&m->pols);
	for (size_t i = 0; i < in->nnamespaces; i++) {
		struct mns *n = mk_malloc0(sizeof(*n));
		const cJSON *l = mk_json_get(in->namespaces[i], "metadata.labels");
		n->labels = l ? cJSON_Duplicate(l, true) : NULL;
		char *k = object_key(in->namespaces[i], false);
		mns_free(mk_hmap_put(&m->nss, k, n));
		free(k);
	}
	for (size_t i = 0; i < in->npods; i++) {
		char *k = object_key(in->pods[i], true);
		mpod_free(mk_hmap_put(&m->pods, k, mpod_new(m->node, in->pods[i])));
		free(k);
	}
	for (size_t i = 0; i < in->npolicies; i++) {
		char *k = object_key(in->policies[i], true);
		cJSON_Delete(mk_hmap_put(&m->pols, k, policy_copy(in->policies[i])));
		free(k);
	}
	reshape(m);
	(void)err;
	return 0;
}

bool mk_netpol_model_set_pod(struct mk_netpol_model *m, const char *key, const cJSON *pod)
{
	struct mpod *old = mk_hmap_get(&m->pods, key);
	struct mpod *nw = pod ? mpod_new(m->node, pod) : NULL;
	if ((!old && !nw) || (old && nw && mpod_equal(old, nw))) {
		mpod_free(nw);
		return false;
	}
	bool changed = (old && old->active) || (nw && nw->active);
	if (old)
		pod_contrib(m, old, -1);
	if (nw) {
		pod_contrib(m, nw, 1);
		mk_hmap_put(&m->pods, key, nw);
	} else {
		mk_hmap_del(&m->pods, key);
	}
	mpod_free(old);
	return changed;
}

bool mk_netpol_model_set_namespace(struct mk_netpol_model *m, const char *name, const cJSON *ns)
{
	struct mns *old = mk_hmap_get(&m->nss, name);
	const cJSON *nl = ns ? mk_json_get(ns, "metadata.labels") : NULL;
	if (!old && !ns)
		return false;
	if (old && ns && labels_equal(old->labels, nl))
		return false;
	/* its pods leave every set under the old labels and come back under the new */
	const struct mpod **pods = NULL;
	size_t n = 0, cap = 0;
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	struct mk_hmap_entry *e;
	while ((e = mk_hmap_iter_next(&m->pods, &it))) {
		const struct mpod *d = e->val;
		if (d->active && !strcmp(d->ns, name)) {
			MK_GROW(pods, cap, n + 1);
			pods[n++] = d;
		}
	}
	for (size_t i = 0; i < n; i++)
		pod_contrib(m, pods[i], -1);
	if (ns) {
		struct mns *x = mk_malloc0(sizeof(*x));
		x->labels = nl ? cJSON_Duplicate(nl, true) : NULL;
		mns_free(mk_hmap_put(&m->nss, name, x));
	} else {
		mns_free(mk_hmap_del(&m->nss, name));
	}
	for (size_t i = 0; i < n; i++)
		pod_contrib(m, pods[i], 1);
	free(pods);
	return n > 0;
}

bool mk_netpol_model_set_policy(struct mk_netpol_model *m, const char *key, const cJSON *pol)
{
	const cJSON *old = mk_hmap_get(&m->pols, key);
	if (!old && !pol)
		return false;
	if (old && pol) {
		const cJSON *a = mk_json_get(old, "spec"), *b = mk_json_get(pol, "spec");
		if ((!a && !b) || (a && b && cJSON_Compare(a, b, true)))
			return false;
	}
	if (pol)
		cJSON_Delete(mk_hmap_put(&m->pols, key, policy_copy(pol)));
	else
		cJSON_Delete(mk_hmap_del(&m->pols, key));
	reshape(m);
	return true;
}

int mk_netpol_model_build(const struct mk_netpol_input *in, struct mk_netpol_ruleset *ret,
			  struct mk_error **err)
{
	struct mk_netpol_model *m = mk_netpol_model_new(in->node);
	int r = mk_netpol_model_load(m, in, err);
	*ret = m->rs;
	memset(&m->rs.sets, 0, sizeof(m->rs.sets));
	for (size_t i = 0; i < ret->nsets; i++)
		mset_release(&m->meta[i], NULL);
	free(m->meta);
	m->meta = NULL;
	memset(&m->rs, 0, sizeof(m->rs));
	mk_netpol_model_free(m);
	return r;
}

void mk_netpol_ruleset_release(struct mk_netpol_ruleset *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->nsets; i++) {
		free(rs->sets[i].addrs);
		free(rs->sets[i].ranges);
		free(rs->sets[i].aps);
	}
	for (size_t i = 0; i < rs->nrules; i++)
		free(rs->rules[i].origin);
	free(rs->sets);
	free(rs->rules);
	memset(rs, 0, sizeof(*rs));
}

bool mk_netpol_ruleset_same_shape(const struct mk_netpol_ruleset *a, const struct mk_netpol_ruleset *b)
{
	if (a->nsets != b->nsets || a->nrules != b->nrules)
		return false;
	for (size_t i = 0; i < a->nsets; i++)
		if (a->sets[i].type != b->sets[i].type || strcmp(a->sets[i].name, b->sets[i].name))
			return false;
	for (size_t i = 0; i < a->nrules; i++) {
		const struct mk_netpol_rule *x = &a->rules[i], *y = &b->rules[i];
		if (x->egress != y->egress || x->subject != y->subject || x->peer != y->peer ||
		    x->proto != y->proto || x->port_lo != y->port_lo || x->port_hi != y->port_hi ||
		    x->named != y->named)
			return false;
	}
	return true;
}

int mk_netpol_ruleset_find_set(const struct mk_netpol_ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->nsets; i++)
		if (!strcmp(rs->sets[i].name, name))
			return (int)i;
	return -1;
}

static bool in_set(const struct mk_netpol_set *s, uint32_t a, uint8_t proto, uint16_t port)
{
	/* an empty set has no array: bsearch must not see its NULL */
	if (!s->n)
		return false;
	if (s->type == MK_NETPOL_SET_ADDR)
		return bsearch(&a, s->addrs, s->n, sizeof(*s->addrs), cmp_u32) != NULL;
	if (s->type == MK_NETPOL_SET_ADDR_PORT) {
		struct mk_netpol_addr_port k = { a, proto, port };
		return bsearch(&k, s->aps, s->n, sizeof(*s->aps), cmp_ap) != NULL;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->ranges[i].lo <= a && a <= s->ranges[i].hi)
			return true;
	return false;
}

static bool rule_matches(const struct mk_netpol_ruleset *rs, const struct mk_netpol_rule *r,
			 uint32_t src, uint32_t dst, uint8_t proto, uint16_t port)
{
	uint32_t self = r->egress ? src : dst, other = r->egress ? dst : src;
	if (!in_set(&rs->sets[r->subject], self, 0, 0))
		return false;
	if (r->peer >= 0 && !in_set(&rs->sets[r->peer], other, 0, 0))
		return false;
	if (!r->proto)
		return true;
	if (r->proto != proto)
		return false;
	if (r->named >= 0)
		return in_set(&rs->sets[r->named], dst, proto, port);
	return r->port_lo <= port && port <= r->port_hi;
}

bool mk_netpol_ruleset_allows(const struct mk_netpol_ruleset *rs, uint32_t src, uint32_t dst,
			      uint8_t proto, uint16_t port)
{
	for (int eg = 1; eg >= 0; eg--) {
		int iso = eg ? MK_NETPOL_SET_EGR_ISO : MK_NETPOL_SET_ING_ISO;
		if (!in_set(&rs->sets[iso], eg ? src : dst, 0, 0))
			continue;
		bool ok = false;
		for (size_t i = 0; i < rs->nrules && !ok; i++)
			if (rs->rules[i].egress == (bool)eg &&
			    rule_matches(rs, &rs->rules[i], src, dst, proto, port))
				ok = true;
		if (!ok)
			return false;
	}
	return true;
}
