/* The model: NetworkPolicies + Pods + Namespaces -> sets and rules (pure).
 * Semantics as Kubernetes documents them: a pod is isolated for ingress
 * (egress) once a policy selecting it has Ingress (Egress) in its policyTypes;
 * then a connection passes when some rule of some such policy allows it.
 * Named ports are resolved on the destination pod's containerPorts (with the
 * port's protocol), so they become address . protocol . port elements. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/api.h"
#include "minik8s/netpol.h"

struct pod {
	const char *ns;
	const cJSON *labels;
	const cJSON *ns_labels; /* its namespace's labels */
	const cJSON *json;
	uint32_t ip;
	bool local;
};

struct nsgroup {
	const char *ns;
	const cJSON *labels;
	size_t lo, hi; /* its pods: pods[lo..hi) */
};

struct ctx {
	const struct mk_netpol_input *in;
	struct pod *pods; /* sorted by namespace */
	size_t npods;
	struct nsgroup *groups;
	size_t ngroups;
	struct mk_netpol_ruleset *rs;
	size_t cap_sets, cap_rules;
};

/* ---- growable typed arrays ---------------------------------------------------- */

static int set_add(struct ctx *c, const char *name, enum mk_netpol_set_type t)
{
	struct mk_netpol_ruleset *rs = c->rs;
	if (rs->nsets == c->cap_sets) {
		c->cap_sets = c->cap_sets ? c->cap_sets * 2 : 16;
		rs->sets = realloc(rs->sets, c->cap_sets * sizeof(*rs->sets));
		if (!rs->sets)
			abort();
	}
	struct mk_netpol_set *s = &rs->sets[rs->nsets];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->type = t;
	return (int)rs->nsets++;
}

static void grow(void **p, size_t n, size_t size)
{
	/* capacity: the next power of two, so appends are amortised O(1) */
	if (n & (n - 1))
		return;
	*p = realloc(*p, (n ? n * 2 : 1) * size);
	if (!*p)
		abort();
}

static void set_push_addr(struct mk_netpol_set *s, uint32_t a)
{
	grow((void **)&s->addrs, s->n, sizeof(*s->addrs));
	s->addrs[s->n++] = a;
}

static void set_push_range(struct mk_netpol_set *s, uint32_t lo, uint32_t hi)
{
	grow((void **)&s->ranges, s->n, sizeof(*s->ranges));
	s->ranges[s->n++] = (struct mk_netpol_range){ lo, hi };
}

static void set_push_ap(struct mk_netpol_set *s, uint32_t a, uint8_t proto, uint16_t port)
{
	grow((void **)&s->aps, s->n, sizeof(*s->aps));
	s->aps[s->n++] = (struct mk_netpol_addr_port){ a, proto, port };
}

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

/* sorts, drops duplicates, merges overlapping or adjacent ranges */
static void set_normalize(struct mk_netpol_set *s)
{
	if (s->n == 0)
		return;
	size_t o = 0;
	switch (s->type) {
	case MK_NETPOL_SET_ADDR:
		qsort(s->addrs, s->n, sizeof(*s->addrs), cmp_u32);
		for (size_t i = 0; i < s->n; i++)
			if (o == 0 || s->addrs[o - 1] != s->addrs[i])
				s->addrs[o++] = s->addrs[i];
		break;
	case MK_NETPOL_SET_ADDR_PORT:
		qsort(s->aps, s->n, sizeof(*s->aps), cmp_ap);
		for (size_t i = 0; i < s->n; i++)
			if (o == 0 || cmp_ap(&s->aps[o - 1], &s->aps[i]))
				s->aps[o++] = s->aps[i];
		break;
	case MK_NETPOL_SET_RANGES:
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
		break;
	}
	s->n = o;
}

static struct mk_netpol_rule *rule_add(struct ctx *c, bool egress, int subject, int peer,
				       const char *origin)
{
	struct mk_netpol_ruleset *rs = c->rs;
	if (rs->nrules == c->cap_rules) {
		c->cap_rules = c->cap_rules ? c->cap_rules * 2 : 16;
		rs->rules = realloc(rs->rules, c->cap_rules * sizeof(*rs->rules));
		if (!rs->rules)
			abort();
	}
	struct mk_netpol_rule *r = &rs->rules[rs->nrules++];
	*r = (struct mk_netpol_rule){ .egress = egress, .subject = subject, .peer = peer,
				      .named = -1, .port_hi = 65535, .origin = mk_strdup(origin) };
	return r;
}

/* ---- objects ------------------------------------------------------------------- */

static const cJSON *ns_labels(struct ctx *c, const char *ns)
{
	for (size_t i = 0; i < c->in->nnamespaces; i++) {
		const char *n = mk_json_get_string(c->in->namespaces[i], "metadata.name");
		if (n && strcmp(n, ns) == 0)
			return mk_json_get(c->in->namespaces[i], "metadata.labels");
	}
	return NULL;
}

static bool parse_ip(const char *s, uint32_t *ret)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ret = ntohl(a.s_addr);
	return true;
}

static int cmp_pod(const void *a, const void *b)
{
	const struct pod *x = a, *y = b;
	int r = strcmp(x->ns, y->ns);
	return r ? r : (x->ip < y->ip ? -1 : x->ip > y->ip);
}

/* the pods of namespace ns: [*lo, *hi) (empty when it has none) */
static void ns_pods(const struct ctx *c, const char *ns, size_t *lo, size_t *hi)
{
	size_t a = 0, b = c->ngroups;
	while (a < b) {
		size_t m = (a + b) / 2;
		int r = strcmp(c->groups[m].ns, ns);
		if (r == 0) {
			*lo = c->groups[m].lo;
			*hi = c->groups[m].hi;
			return;
		}
		if (r < 0)
			a = m + 1;
		else
			b = m;
	}
	*lo = *hi = 0;
}

static void load_pods(struct ctx *c)
{
	c->pods = calloc(c->in->npods ? c->in->npods : 1, sizeof(*c->pods));
	if (!c->pods)
		abort();
	for (size_t i = 0; i < c->in->npods; i++) {
		const cJSON *p = c->in->pods[i];
		const char *phase = mk_json_get_string(p, "status.phase");
		if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
			continue;
		if (cJSON_IsTrue(mk_json_get(p, "spec.hostNetwork")))
			continue;
		uint32_t ip;
		if (!parse_ip(mk_json_get_string(p, "status.podIP"), &ip))
			continue;
		const char *node = mk_json_get_string(p, "spec.nodeName");
		struct pod *d = &c->pods[c->npods++];
		d->ns = mk_json_get_string(p, "metadata.namespace");
		if (!d->ns)
			d->ns = "default";
		d->labels = mk_json_get(p, "metadata.labels");
		d->json = p;
		d->ip = ip;
		d->local = node && c->in->node && strcmp(node, c->in->node) == 0;
	}
	/* grouped by namespace: selectors of one namespace look at its pods only */
	qsort(c->pods, c->npods, sizeof(*c->pods), cmp_pod);
	c->groups = calloc(c->npods ? c->npods : 1, sizeof(*c->groups));
	if (!c->groups)
		abort();
	for (size_t i = 0; i < c->npods; i++) {
		if (c->ngroups == 0 || strcmp(c->groups[c->ngroups - 1].ns, c->pods[i].ns)) {
			struct nsgroup *g = &c->groups[c->ngroups++];
			g->ns = c->pods[i].ns;
			g->labels = ns_labels(c, g->ns);
			g->lo = i;
		}
		c->groups[c->ngroups - 1].hi = i + 1;
		c->pods[i].ns_labels = c->groups[c->ngroups - 1].labels;
	}
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

/* The containerPort named name with protocol proto in the pod, or 0. */
static uint16_t named_port(const struct pod *p, const char *name, uint8_t proto)
{
	const cJSON *ctr, *port;
	cJSON_ArrayForEach(ctr, mk_json_get(p->json, "spec.containers"))
	{
		cJSON_ArrayForEach(port, cJSON_GetObjectItemCaseSensitive(ctr, "ports"))
		{
			const char *n = mk_json_get_string(port, "name");
			double cp = 0;
			const cJSON *cpj = cJSON_GetObjectItemCaseSensitive(port, "containerPort");
			if (cJSON_IsNumber(cpj))
				cp = cpj->valuedouble;
			if (n && !strcmp(n, name) && proto_num(mk_json_get_string(port, "protocol")) == proto &&
			    cp >= 1 && cp <= 65535)
				return (uint16_t)cp;
		}
	}
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

/* Adds [base..] of cidr minus its excepts to set s (IPv4 only: an IPv6 block
 * matches no IPv4 packet). */
static void add_ip_block(struct mk_netpol_set *s, const cJSON *b)
{
	const char *cidr = mk_json_get_string(b, "cidr");
	char ip[64];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return;
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = '\0';
	uint32_t base;
	int plen = atoi(slash + 1);
	if (!parse_ip(ip, &base) || plen < 0 || plen > 32)
		return;
	uint32_t mask = plen ? ~0u << (32 - plen) : 0;
	/* the block as a list of ranges, cut by each except */
	size_t n = 1, cap = 8;
	struct mk_netpol_range *r = malloc(cap * sizeof(*r));
	if (!r)
		abort();
	r[0] = (struct mk_netpol_range){ base & mask, (base & mask) | ~mask };
	const cJSON *ex;
	cJSON_ArrayForEach(ex, cJSON_GetObjectItemCaseSensitive(b, "except"))
	{
		if (!cJSON_IsString(ex))
			continue;
		const char *es = ex->valuestring, *esl = strchr(es, '/');
		if (!esl || (size_t)(esl - es) >= sizeof(ip))
			continue;
		memcpy(ip, es, (size_t)(esl - es));
		ip[esl - es] = '\0';
		uint32_t eb;
		int epl = atoi(esl + 1);
		if (!parse_ip(ip, &eb) || epl < 0 || epl > 32)
			continue;
		uint32_t em = epl ? ~0u << (32 - epl) : 0;
		uint32_t lo = eb & em, hi = (eb & em) | ~em;
		for (size_t i = 0; i < n; i++) {
			if (r[i].hi < lo || r[i].lo > hi)
				continue;
			struct mk_netpol_range cur = r[i];
			bool left = cur.lo < lo, right = cur.hi > hi;
			if (left && right) {
				if (n == cap) {
					cap *= 2;
					r = realloc(r, cap * sizeof(*r));
					if (!r)
						abort();
				}
				r[i].hi = lo - 1;
				r[n++] = (struct mk_netpol_range){ hi + 1, cur.hi };
			} else if (left) {
				r[i].hi = lo - 1;
			} else if (right) {
				r[i].lo = hi + 1;
			} else {
				r[i] = r[--n];
				i--;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		set_push_range(s, r[i].lo, r[i].hi);
	free(r);
}

/* Marks in match[] the pods a peer list selects; *all when the list is empty
 * (every address). ipBlocks go to the peer set. */
static void eval_peers(struct ctx *c, const char *ns, const cJSON *peers, bool *match,
		       struct mk_netpol_set *set, bool *all)
{
	*all = cJSON_GetArraySize(peers) == 0;
	if (*all)
		return;
	const cJSON *peer;
	cJSON_ArrayForEach(peer, peers)
	{
		const cJSON *ib = cJSON_GetObjectItemCaseSensitive(peer, "ipBlock");
		if (ib && !cJSON_IsNull(ib)) {
			add_ip_block(set, ib);
			continue;
		}
		const cJSON *nss = cJSON_GetObjectItemCaseSensitive(peer, "namespaceSelector");
		bool has_ns = nss && !cJSON_IsNull(nss);
		bool bad = false;
		struct mk_label_selector *ps = sel_parse(cJSON_GetObjectItemCaseSensitive(peer, "podSelector"), &bad);
		struct mk_label_selector *nsel = sel_parse(nss, &bad);
		for (size_t g = 0; g < c->ngroups && !bad; g++) {
			if (has_ns ? !sel_matches(nsel, c->groups[g].labels) : strcmp(c->groups[g].ns, ns) != 0)
				continue;
			for (size_t i = c->groups[g].lo; i < c->groups[g].hi; i++)
				if (!match[i] && sel_matches(ps, c->pods[i].labels))
					match[i] = true;
		}
		mk_label_selector_free(ps);
		mk_label_selector_free(nsel);
	}
	for (size_t i = 0; i < c->npods; i++)
		if (match[i])
			set_push_range(set, c->pods[i].ip, c->pods[i].ip);
}

static void build_direction(struct ctx *c, size_t pi, const cJSON *pol, const bool *subject,
			    bool egress)
{
	const char *ns = mk_json_get_string(pol, "metadata.namespace");
	const char *pname = mk_json_get_string(pol, "metadata.name");
	char name[40], origin[512];
	const char d = egress ? 'e' : 'i';
	snprintf(name, sizeof(name), "p%zu%c", pi, d);
	int sidx = set_add(c, name, MK_NETPOL_SET_ADDR);
	int iso = egress ? MK_NETPOL_SET_EGR_ISO : MK_NETPOL_SET_ING_ISO;
	for (size_t i = 0; i < c->npods; i++) {
		if (!subject[i])
			continue;
		set_push_addr(&c->rs->sets[sidx], c->pods[i].ip);
		set_push_addr(&c->rs->sets[iso], c->pods[i].ip);
	}
	bool *match = calloc(c->npods ? c->npods : 1, sizeof(bool));
	if (!match)
		abort();
	const cJSON *rule;
	size_t k = 0;
	cJSON_ArrayForEach(rule, mk_json_get(pol, egress ? "spec.egress" : "spec.ingress"))
	{
		memset(match, 0, c->npods ? c->npods : 1);
		const cJSON *peers = cJSON_GetObjectItemCaseSensitive(rule, egress ? "to" : "from");
		int pidx = -1;
		bool all = true;
		if (cJSON_GetArraySize(peers) > 0) {
			snprintf(name, sizeof(name), "p%zu%c%zu", pi, d, k);
			pidx = set_add(c, name, MK_NETPOL_SET_RANGES);
			eval_peers(c, ns, peers, match, &c->rs->sets[pidx], &all);
		}
		const cJSON *ports = cJSON_GetObjectItemCaseSensitive(rule, "ports");
		if (cJSON_GetArraySize(ports) == 0) {
			snprintf(origin, sizeof(origin), "%s/%s %s[%zu]", ns, pname,
				 egress ? "egress" : "ingress", k);
			rule_add(c, egress, sidx, pidx, origin);
		}
		size_t j = 0;
		const cJSON *port;
		cJSON_ArrayForEach(port, ports)
		{
			snprintf(origin, sizeof(origin), "%s/%s %s[%zu].ports[%zu]", ns, pname,
				 egress ? "egress" : "ingress", k, j);
			uint8_t proto = proto_num(mk_json_get_string(port, "protocol"));
			const cJSON *pv = cJSON_GetObjectItemCaseSensitive(port, "port");
			const cJSON *ev = cJSON_GetObjectItemCaseSensitive(port, "endPort");
			if (!proto) {
				j++;
				continue;
			}
			if (cJSON_IsString(pv)) {
				snprintf(name, sizeof(name), "p%zu%c%zun%zu", pi, d, k, j);
				int nidx = set_add(c, name, MK_NETPOL_SET_ADDR_PORT);
				/* resolved on the destination: the subjects for
				 * ingress, the peers (all pods when any) for egress */
				for (size_t i = 0; i < c->npods; i++) {
					bool dest = egress ? (all || match[i]) : subject[i];
					uint16_t num = dest ? named_port(&c->pods[i], pv->valuestring, proto) : 0;
					if (num)
						set_push_ap(&c->rs->sets[nidx], c->pods[i].ip, proto, num);
				}
				struct mk_netpol_rule *r = rule_add(c, egress, sidx, pidx, origin);
				r->proto = proto;
				r->named = nidx;
			} else {
				struct mk_netpol_rule *r = rule_add(c, egress, sidx, pidx, origin);
				r->proto = proto;
				if (cJSON_IsNumber(pv)) {
					r->port_lo = r->port_hi = (uint16_t)pv->valueint;
					if (cJSON_IsNumber(ev) && ev->valueint >= pv->valueint &&
					    ev->valueint <= 65535)
						r->port_hi = (uint16_t)ev->valueint;
				}
			}
			j++;
		}
		k++;
	}
	free(match);
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

int mk_netpol_model_build(const struct mk_netpol_input *in, struct mk_netpol_ruleset *ret,
			  struct mk_error **err)
{
	memset(ret, 0, sizeof(*ret));
	struct ctx c = { .in = in, .rs = ret };
	set_add(&c, "ing_iso", MK_NETPOL_SET_ADDR);
	set_add(&c, "egr_iso", MK_NETPOL_SET_ADDR);
	load_pods(&c);
	const cJSON **pols = calloc(in->npolicies ? in->npolicies : 1, sizeof(*pols));
	if (!pols)
		abort();
	memcpy(pols, in->policies, in->npolicies * sizeof(*pols));
	qsort(pols, in->npolicies, sizeof(*pols), cmp_pol);
	bool *subject = calloc(c.npods ? c.npods : 1, sizeof(bool));
	if (!subject)
		abort();
	for (size_t pi = 0; pi < in->npolicies; pi++) {
		const cJSON *pol = pols[pi];
		const char *ns = mk_json_get_string(pol, "metadata.namespace");
		if (!ns || !cJSON_IsObject(mk_json_get(pol, "spec")))
			continue;
		bool bad = false;
		struct mk_label_selector *sel = sel_parse(mk_json_get(pol, "spec.podSelector"), &bad);
		size_t lo, hi;
		ns_pods(&c, ns, &lo, &hi);
		memset(subject, 0, c.npods ? c.npods : 1);
		for (size_t i = lo; i < hi && !bad; i++)
			subject[i] = c.pods[i].local && sel_matches(sel, c.pods[i].labels);
		mk_label_selector_free(sel);
		if (bad)
			continue;
		if (has_type(pol, "Ingress"))
			build_direction(&c, pi, pol, subject, false);
		if (has_type(pol, "Egress"))
			build_direction(&c, pi, pol, subject, true);
	}
	for (size_t i = 0; i < ret->nsets; i++)
		set_normalize(&ret->sets[i]);
	free(subject);
	free(pols);
	free(c.pods);
	free(c.groups);
	(void)err;
	return 0;
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
