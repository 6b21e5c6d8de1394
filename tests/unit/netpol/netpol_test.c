/* pkg/netpol unit tests: the model as a table (policies + pods + namespaces ->
 * what a new connection gets, evaluated as the kernel rules do), the sets it
 * builds (ipBlock except, named ports), and the batches of a dry-run programmer
 * (a label change is an element diff, a policy change replaces the tables). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/netpol.h"
#include "minik8s/util.h"

static uint32_t A(const char *s)
{
	struct in_addr a;
	ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

/* The world: node n1 holds a/x, a/y, b/y; node n2 holds b/x. */
static const char *const NAMESPACES[] = {
	"{\"metadata\":{\"name\":\"a\",\"labels\":{\"team\":\"a\",\"kubernetes.io/metadata.name\":\"a\"}}}",
	"{\"metadata\":{\"name\":\"b\",\"labels\":{\"team\":\"b\",\"kubernetes.io/metadata.name\":\"b\"}}}",
};
#define POD(ns, name, app, node, ip, ports)                                                        \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\",\"labels\":{\"app\":\"" app "\"}}," \
	"\"spec\":{\"nodeName\":\"" node "\",\"containers\":[{\"name\":\"c\",\"ports\":" ports "}]},"       \
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"" ip "\"}}"
static const char *const PODS[] = {
	POD("a", "x", "x", "n1", "10.244.0.2", "[{\"name\":\"http\",\"containerPort\":80}]"),
	POD("a", "y", "y", "n1", "10.244.0.3", "[]"),
	POD("b", "x", "x", "n2", "10.244.1.2", "[{\"name\":\"web\",\"containerPort\":8080}]"),
	POD("b", "y", "y", "n1", "10.244.0.5",
	    "[{\"name\":\"web\",\"containerPort\":80},{\"name\":\"web\",\"containerPort\":53,\"protocol\":\"UDP\"}]"),
	/* not subjects or peers: no address yet, finished, host network */
	"{\"metadata\":{\"namespace\":\"a\",\"name\":\"pending\",\"labels\":{\"app\":\"x\"}},\"spec\":{\"nodeName\":\"n1\"},\"status\":{}}",
	"{\"metadata\":{\"namespace\":\"a\",\"name\":\"done\",\"labels\":{\"app\":\"y\"}},\"spec\":{\"nodeName\":\"n1\"},"
	"\"status\":{\"phase\":\"Succeeded\",\"podIP\":\"10.244.0.9\"}}",
	"{\"metadata\":{\"namespace\":\"a\",\"name\":\"host\",\"labels\":{\"app\":\"x\"}},\"spec\":{\"nodeName\":\"n1\",\"hostNetwork\":true},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"192.168.9.9\"}}",
};
#define NPODS (sizeof(PODS) / sizeof(PODS[0]))

#define AX "10.244.0.2"
#define AY "10.244.0.3"
#define BX "10.244.1.2"
#define BY "10.244.0.5"
#define DONE "10.244.0.9"
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

struct probe {
	const char *src, *dst;
	uint8_t proto;
	uint16_t port;
	bool want;
};

struct tcase {
	const char *name;
	const char *policies[3];
	struct probe probes[12];
};

static const struct tcase CASES[] = {
	{ "no policy: open", { NULL },
	  { { AX, AY, TCP, 80, true }, { "192.168.1.1", AX, UDP, 9, true }, { AY, "8.8.8.8", TCP, 443, true } } },
	{ "deny-all ingress in a",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"deny\"},\"spec\":{\"podSelector\":{}}}" },
	  { { AY, AX, TCP, 80, false }, { BY, AX, TCP, 80, false }, { "192.168.1.1", AY, UDP, 53, false },
	    { AX, BY, TCP, 80, true }, { AX, "8.8.8.8", TCP, 80, true } } },
	{ "podSelector: a/x from app=y of a",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
	    "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"y\"}}}]}]}}" },
	  { { AY, AX, TCP, 80, true }, { AY, AX, UDP, 5000, true }, { BY, AX, TCP, 80, false },
	    { AX, AY, TCP, 80, true }, { DONE, AX, TCP, 80, false } } },
	{ "namespaceSelector: a from team=b",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{},"
	    "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"b\"}}}]}]}}" },
	  { { BY, AX, TCP, 80, true }, { BX, AY, TCP, 1, true }, { AY, AX, TCP, 80, false } } },
	{ "both selectors in one peer",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{},"
	    "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"b\"}},"
	    "\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}}}]}]}}" },
	  { { BX, AX, TCP, 80, true }, { BY, AX, TCP, 80, false }, { AX, AY, TCP, 80, false } } },
	{ "two peers are a union",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{},"
	    "\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"b\"}}},"
	    "{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}}}]}]}}" },
	  { { BX, AY, TCP, 80, true }, { BY, AY, TCP, 80, true }, { AX, AY, TCP, 80, true },
	    { AY, AX, TCP, 80, false } } },
	{ "ipBlock with except",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
	    "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"192.168.0.0/16\",\"except\":[\"192.168.1.0/24\"]}}]}]}}" },
	  { { "192.168.2.5", AX, TCP, 80, true }, { "192.168.0.0", AX, TCP, 80, true },
	    { "192.168.255.255", AX, TCP, 80, true }, { "192.168.1.5", AX, TCP, 80, false },
	    { "192.168.1.255", AX, TCP, 80, false }, { AY, AX, TCP, 80, false }, { "192.169.0.1", AX, TCP, 80, false } } },
	{ "named ports: resolved on the destination pod",
	  { "{\"metadata\":{\"namespace\":\"b\",\"name\":\"p\"},\"spec\":{\"podSelector\":{},"
	    "\"ingress\":[{\"ports\":[{\"protocol\":\"TCP\",\"port\":\"web\"},{\"protocol\":\"UDP\",\"port\":\"web\"}]}]}}",
	    "{\"metadata\":{\"namespace\":\"a\",\"name\":\"e\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"y\"}},"
	    "\"policyTypes\":[\"Egress\"],\"egress\":[{\"ports\":[{\"protocol\":\"TCP\",\"port\":\"web\"}]}]}}" },
	  { { AX, BY, TCP, 80, true }, { AX, BY, UDP, 53, true }, { AX, BY, TCP, 53, false },
	    { AX, BY, TCP, 8080, false }, { AY, BX, TCP, 8080, true }, { AY, BX, TCP, 80, false },
	    { AY, BY, TCP, 80, true }, { AY, AX, TCP, 80, false }, { AY, "8.8.8.8", TCP, 80, false } } },
	{ "numeric ports, endPort, protocols",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
	    "\"ingress\":[{\"ports\":[{\"protocol\":\"UDP\",\"port\":1000,\"endPort\":2000},{\"port\":80},"
	    "{\"protocol\":\"SCTP\"}]}]}}" },
	  { { AY, AX, UDP, 1000, true }, { AY, AX, UDP, 2000, true }, { AY, AX, UDP, 2001, false },
	    { AY, AX, TCP, 1500, false }, { AY, AX, TCP, 80, true }, { AY, AX, UDP, 80, false },
	    { AY, AX, IPPROTO_SCTP, 9, true }, { AY, AX, IPPROTO_ICMP, 0, false } } },
	{ "egress rules: default policyTypes are Ingress and Egress",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
	    "\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":\"10.0.0.0/8\"}}]}]}}" },
	  { { AX, AY, TCP, 80, true }, { AX, BX, UDP, 9, true }, { AX, "192.168.2.5", TCP, 80, false },
	    { AY, AX, TCP, 80, false } } },
	{ "policyTypes Egress only leaves ingress open",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}}" },
	  { { AX, AY, TCP, 80, false }, { BY, AX, TCP, 80, true }, { AX, "10.96.0.10", UDP, 53, false } } },
	{ "subjects are this node's pods only",
	  { "{\"metadata\":{\"namespace\":\"b\",\"name\":\"p\"},\"spec\":{\"podSelector\":{}}}" },
	  /* b/x lives on n2: its ingress is judged there */
	  { { BX, BY, TCP, 80, false }, { AX, BY, TCP, 80, false }, { AX, BX, TCP, 80, true } } },
	{ "several policies: any rule of any policy allows",
	  { "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p1\"},\"spec\":{\"podSelector\":{},"
	    "\"ingress\":[{\"ports\":[{\"port\":80}]}]}}",
	    "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p2\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
	    "\"ingress\":[{\"from\":[{\"podSelector\":{}}]}]}}" },
	  { { BY, AX, TCP, 80, true }, { BY, AX, TCP, 81, false }, { AY, AX, TCP, 81, true },
	    { AX, AY, TCP, 81, false } } },
};

static void build(const char *const *pols, size_t npols, const char *const *pods, size_t npods,
		  struct mk_netpol_ruleset *rs)
{
	cJSON *jp[8], *jd[16], *jn[2];
	for (size_t i = 0; i < npols; i++)
		ck_assert_ptr_nonnull(jp[i] = cJSON_Parse(pols[i]));
	for (size_t i = 0; i < npods; i++)
		ck_assert_ptr_nonnull(jd[i] = cJSON_Parse(pods[i]));
	for (size_t i = 0; i < 2; i++)
		ck_assert_ptr_nonnull(jn[i] = cJSON_Parse(NAMESPACES[i]));
	struct mk_netpol_input in = { .node = "n1",
				      .policies = (const cJSON *const *)jp, .npolicies = npols,
				      .pods = (const cJSON *const *)jd, .npods = npods,
				      .namespaces = (const cJSON *const *)jn, .nnamespaces = 2 };
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_netpol_model_build(&in, rs, &err), 0);
	for (size_t i = 0; i < npols; i++)
		cJSON_Delete(jp[i]);
	for (size_t i = 0; i < npods; i++)
		cJSON_Delete(jd[i]);
	cJSON_Delete(jn[0]);
	cJSON_Delete(jn[1]);
}

START_TEST(model_table)
{
	const struct tcase *c = &CASES[_i];
	size_t np = 0;
	while (np < 3 && c->policies[np])
		np++;
	struct mk_netpol_ruleset rs;
	build(c->policies, np, PODS, NPODS, &rs);
	for (size_t k = 0; k < 12 && c->probes[k].src; k++) {
		const struct probe *p = &c->probes[k];
		bool got = mk_netpol_ruleset_allows(&rs, A(p->src), A(p->dst), p->proto, p->port);
		ck_assert_msg(got == p->want, "%s: %s -> %s proto %u port %u: got %d, want %d", c->name,
			      p->src, p->dst, p->proto, p->port, got, p->want);
	}
	mk_netpol_ruleset_release(&rs);
}
END_TEST

START_TEST(model_sets)
{
	const char *pol = "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{},"
			  "\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":\"10.244.0.0/24\",\"except\":"
			  "[\"10.244.0.2/32\",\"10.244.0.128/25\"]}},{\"podSelector\":{\"matchLabels\":{\"app\":\"y\"}}}],"
			  "\"ports\":[{\"port\":\"http\"}]}]}}";
	struct mk_netpol_ruleset rs;
	build(&pol, 1, PODS, NPODS, &rs);
	/* ing_iso: the two local pods of a with an address */
	ck_assert_uint_eq(rs.sets[MK_NETPOL_SET_ING_ISO].n, 2);
	ck_assert_uint_eq(rs.sets[MK_NETPOL_SET_ING_ISO].addrs[0], A(AX));
	ck_assert_uint_eq(rs.sets[MK_NETPOL_SET_EGR_ISO].n, 0);
	/* the subject set: a's local pods */
	int sj = mk_netpol_ruleset_find_set(&rs, "s2");
	ck_assert_int_ge(sj, 0);
	ck_assert_uint_eq(rs.sets[sj].n, 2);
	/* the ipBlock peer: .0-.1 and .3-.127 */
	int p = mk_netpol_ruleset_find_set(&rs, "b3");
	ck_assert_int_ge(p, 0);
	ck_assert_int_eq(rs.sets[p].type, MK_NETPOL_SET_RANGES);
	ck_assert_uint_eq(rs.sets[p].n, 2);
	ck_assert_uint_eq(rs.sets[p].ranges[0].lo, A("10.244.0.0"));
	ck_assert_uint_eq(rs.sets[p].ranges[0].hi, A("10.244.0.1"));
	ck_assert_uint_eq(rs.sets[p].ranges[1].lo, A("10.244.0.3"));
	ck_assert_uint_eq(rs.sets[p].ranges[1].hi, A("10.244.0.127"));
	/* the pod peer: a/y, one address element */
	int q = mk_netpol_ruleset_find_set(&rs, "p4");
	ck_assert_int_ge(q, 0);
	ck_assert_int_eq(rs.sets[q].type, MK_NETPOL_SET_ADDR);
	ck_assert_uint_eq(rs.sets[q].n, 1);
	ck_assert_uint_eq(rs.sets[q].addrs[0], A(AY));
	/* the named port: only a/x has "http" */
	int n = mk_netpol_ruleset_find_set(&rs, "n5");
	ck_assert_int_ge(n, 0);
	ck_assert_uint_eq(rs.sets[n].n, 1);
	ck_assert_uint_eq(rs.sets[n].aps[0].addr, A(AX));
	ck_assert_uint_eq(rs.sets[n].aps[0].port, 80);
	ck_assert_uint_eq(rs.sets[n].aps[0].proto, IPPROTO_TCP);
	/* one rule per peer, both on the named port */
	ck_assert_uint_eq(rs.nrules, 2);
	ck_assert_int_eq(rs.rules[0].named, n);
	ck_assert_int_eq(rs.rules[1].named, n);
	ck_assert_uint_eq(rs.nsets, 6);
	mk_netpol_ruleset_release(&rs);
}
END_TEST

/* a label change moves set elements; the shape (sets, rules) stays */
START_TEST(label_change_same_shape)
{
	const char *pol = "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
			  "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"y\"}}}]}]}}";
	const char *pods2[NPODS];
	memcpy(pods2, PODS, sizeof(PODS));
	pods2[1] = POD("a", "y", "z", "n1", "10.244.0.3", "[]");
	struct mk_netpol_ruleset r1, r2;
	build(&pol, 1, PODS, NPODS, &r1);
	build(&pol, 1, pods2, NPODS, &r2);
	ck_assert(mk_netpol_ruleset_same_shape(&r1, &r2));
	ck_assert(mk_netpol_ruleset_allows(&r1, A(AY), A(AX), TCP, 80));
	ck_assert(!mk_netpol_ruleset_allows(&r2, A(AY), A(AX), TCP, 80));

	struct mk_netpol_options o = { .netns_fd = -1, .cluster_cidr = "10.244.0.0/16", .bridge = "mk0",
				       .dry_run = true };
	struct mk_netpol *np = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_netpol_new(&o, &np, &err), 0);
	ck_assert_int_eq(mk_netpol_apply(np, &r1, &err), 0);
	ck_assert(mk_netpol_last_stats(np)->full);
	ck_assert_uint_gt(mk_netpol_last_stats(np)->rules_added, 0);
	ck_assert_int_eq(mk_netpol_apply(np, &r2, &err), 0);
	const struct mk_netpol_stats *st = mk_netpol_last_stats(np);
	ck_assert(!st->full);
	ck_assert_uint_eq(st->rules_added, 0);
	/* the peer a/y (one address element) leaves, nothing else */
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->elems_added, 0);
	ck_assert_int_eq(mk_netpol_apply(np, &r2, &err), 0);
	ck_assert_uint_eq(mk_netpol_last_stats(np)->messages, 0);

	/* a policy change replaces the tables */
	const char *pol2 = "{\"metadata\":{\"namespace\":\"a\",\"name\":\"q\"},\"spec\":{\"podSelector\":{}}}";
	const char *both[2] = { pol, pol2 };
	struct mk_netpol_ruleset r3;
	build(both, 2, pods2, NPODS, &r3);
	ck_assert(!mk_netpol_ruleset_same_shape(&r2, &r3));
	ck_assert_int_eq(mk_netpol_apply(np, &r3, &err), 0);
	ck_assert(mk_netpol_last_stats(np)->full);
	mk_netpol_free(np);
	mk_netpol_ruleset_release(&r1);
	mk_netpol_ruleset_release(&r2);
	mk_netpol_ruleset_release(&r3);
}
END_TEST

/* ---- the incremental model against the full rebuild ------------------------------- */

static bool set_equal(const struct mk_netpol_set *a, const struct mk_netpol_set *b)
{
	if (a->type != b->type || strcmp(a->name, b->name) || a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		bool eq = a->type == MK_NETPOL_SET_ADDR ? a->addrs[i] == b->addrs[i]
			  : a->type == MK_NETPOL_SET_RANGES ? a->ranges[i].lo == b->ranges[i].lo &&
								  a->ranges[i].hi == b->ranges[i].hi
			  : a->aps[i].addr == b->aps[i].addr && a->aps[i].proto == b->aps[i].proto &&
				    a->aps[i].port == b->aps[i].port;
		if (!eq)
			return false;
	}
	return true;
}

static void assert_same(const struct mk_netpol_ruleset *inc, const struct mk_netpol_ruleset *full, int step,
			const char *what)
{
	ck_assert_msg(mk_netpol_ruleset_same_shape(inc, full), "step %d (%s): shapes differ (%zu/%zu sets, %zu/%zu rules)",
		      step, what, inc->nsets, full->nsets, inc->nrules, full->nrules);
	for (size_t i = 0; i < full->nsets; i++)
		ck_assert_msg(set_equal(&inc->sets[i], &full->sets[i]), "step %d (%s): set %s differs (%zu vs %zu elements)",
			      step, what, full->sets[i].name, inc->sets[i].n, full->sets[i].n);
}

#define W_NS 3
#define W_PODS 14
#define W_POLS 6
static const char *const W_NSNAMES[W_NS] = { "a", "b", "c" };
/* policies the random world picks from: every kind of selector and port */
static const char *const W_POLICY_SPECS[] = {
	"{\"podSelector\":{}}",
	"{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"role\":\"c\"}}}],\"ports\":[{\"port\":80},{\"port\":\"http\"}]}]}",
	"{\"podSelector\":{\"matchLabels\":{\"app\":\"y\"}},\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"x\"}}}]},"
	"{\"from\":[{\"namespaceSelector\":{},\"podSelector\":{\"matchExpressions\":[{\"key\":\"role\",\"operator\":\"In\",\"values\":[\"s\"]}]}}],\"ports\":[{\"protocol\":\"UDP\",\"port\":\"dns\"}]}]}",
	"{\"podSelector\":{\"matchLabels\":{\"role\":\"c\"}},\"policyTypes\":[\"Egress\"],\"egress\":[{\"to\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}}},"
	"{\"ipBlock\":{\"cidr\":\"10.9.0.0/16\",\"except\":[\"10.9.1.0/24\"]}}],\"ports\":[{\"port\":\"http\"},{\"port\":443}]},{\"ports\":[{\"protocol\":\"UDP\",\"port\":\"dns\"}]}]}",
	"{\"podSelector\":{\"matchExpressions\":[{\"key\":\"app\",\"operator\":\"Exists\"}]},\"policyTypes\":[\"Ingress\",\"Egress\"],"
	"\"ingress\":[{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"y\"}},\"podSelector\":{\"matchLabels\":{\"app\":\"z\"}}},{\"podSelector\":{}}]}],"
	"\"egress\":[{\"to\":[{\"namespaceSelector\":{\"matchExpressions\":[{\"key\":\"team\",\"operator\":\"NotIn\",\"values\":[\"x\"]}]}}]}]}",
	"{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"role\":\"c\"}}}],\"ports\":[{\"protocol\":\"SCTP\",\"port\":9,\"endPort\":19}]}]}",
};
#define W_NSPECS (sizeof(W_POLICY_SPECS) / sizeof(W_POLICY_SPECS[0]))

struct world {
	cJSON *ns[W_NS], *pods[W_PODS], *pols[W_POLS];
};

static unsigned rnd(unsigned *seed, unsigned n)
{
	return (unsigned)rand_r(seed) % n;
}

static cJSON *random_ns(unsigned *seed, int i)
{
	static const char *const teams[] = { "x", "y", NULL };
	const char *t = teams[rnd(seed, 3)];
	char buf[256];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"name\":\"%s\",\"labels\":{%s%s%s}}}", W_NSNAMES[i],
		 t ? "\"team\":\"" : "", t ? t : "", t ? "\"" : "");
	return cJSON_Parse(buf);
}

static cJSON *random_pod(unsigned *seed, int i)
{
	static const char *const apps[] = { "x", "y", "z", NULL }, *const roles[] = { "c", "s", NULL };
	static const char *const phases[] = { "Running", "Running", "Running", "Succeeded", "Pending" };
	const char *app = apps[rnd(seed, 4)], *role = roles[rnd(seed, 3)];
	char labels[128] = "", status[128] = "", ports[256];
	snprintf(labels, sizeof(labels), "%s%s%s%s%s%s%s", app ? "\"app\":\"" : "", app ? app : "", app ? "\"" : "",
		 app && role ? "," : "", role ? "\"role\":\"" : "", role ? role : "", role ? "\"" : "");
	/* addresses from a small pool: two pods may share one (a restart races) */
	if (rnd(seed, 6))
		snprintf(status, sizeof(status), "\"phase\":\"%s\",\"podIP\":\"10.9.%u.%u\"", phases[rnd(seed, 5)],
			 rnd(seed, 2), 2 + rnd(seed, 9));
	snprintf(ports, sizeof(ports),
		 "[{\"name\":\"http\",\"containerPort\":%u},{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"%s\"}]",
		 80 + rnd(seed, 3), rnd(seed, 2) ? "UDP" : "TCP");
	char buf[1024];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"p%d\",\"labels\":{%s}},"
		 "\"spec\":{\"nodeName\":\"%s\",\"hostNetwork\":%s,\"containers\":[{\"name\":\"c\",\"ports\":%s}]},\"status\":{%s}}",
		 W_NSNAMES[i % W_NS], i, labels, rnd(seed, 3) ? "n1" : "n2", rnd(seed, 12) ? "false" : "true", ports,
		 status);
	return cJSON_Parse(buf);
}

static cJSON *random_policy(unsigned *seed, int i)
{
	char buf[2048];
	snprintf(buf, sizeof(buf), "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"q%d\"},\"spec\":%s}",
		 W_NSNAMES[i % 2], i, W_POLICY_SPECS[rnd(seed, W_NSPECS)]);
	return cJSON_Parse(buf);
}

static void full_build(const struct world *w, struct mk_netpol_ruleset *rs)
{
	const cJSON *ns[W_NS], *pods[W_PODS], *pols[W_POLS];
	size_t nns = 0, npods = 0, npols = 0;
	for (int i = 0; i < W_NS; i++)
		if (w->ns[i])
			ns[nns++] = w->ns[i];
	for (int i = 0; i < W_PODS; i++)
		if (w->pods[i])
			pods[npods++] = w->pods[i];
	for (int i = 0; i < W_POLS; i++)
		if (w->pols[i])
			pols[npols++] = w->pols[i];
	struct mk_netpol_input in = { .node = "n1", .policies = pols, .npolicies = npols, .pods = pods,
				      .npods = npods, .namespaces = ns, .nnamespaces = nns };
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_netpol_model_build(&in, rs, &err), 0);
}

/* Random event sequences (seeded, bounded): after every pod, namespace or
 * policy add/change/delete the kept model equals a full rebuild, and the
 * dry-run programmer sends an element diff (no table replacement) for every
 * event but a policy change. */
START_TEST(incremental_equals_full)
{
	unsigned seed = 1000u + (unsigned)_i;
	struct world w = { 0 };
	struct mk_netpol_model *m = mk_netpol_model_new("n1");
	struct mk_netpol_options o = { .netns_fd = -1, .cluster_cidr = "10.9.0.0/16", .bridge = "mk0", .dry_run = true };
	struct mk_netpol *np = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_netpol_new(&o, &np, &err), 0);
	for (int step = 0; step < 400; step++) {
		unsigned kind = rnd(&seed, 10);
		char key[64], what[96];
		bool policy = false;
		if (kind < 6) {
			int i = (int)rnd(&seed, W_PODS);
			cJSON_Delete(w.pods[i]);
			w.pods[i] = rnd(&seed, 5) ? random_pod(&seed, i) : NULL;
			snprintf(key, sizeof(key), "%s/p%d", W_NSNAMES[i % W_NS], i);
			snprintf(what, sizeof(what), "pod %s %s", key, w.pods[i] ? "set" : "deleted");
			mk_netpol_model_set_pod(m, key, w.pods[i]);
		} else if (kind < 8) {
			int i = (int)rnd(&seed, W_NS);
			cJSON_Delete(w.ns[i]);
			w.ns[i] = rnd(&seed, 6) ? random_ns(&seed, i) : NULL;
			snprintf(what, sizeof(what), "namespace %s %s", W_NSNAMES[i], w.ns[i] ? "set" : "deleted");
			mk_netpol_model_set_namespace(m, W_NSNAMES[i], w.ns[i]);
		} else {
			int i = (int)rnd(&seed, W_POLS);
			cJSON_Delete(w.pols[i]);
			w.pols[i] = rnd(&seed, 4) ? random_policy(&seed, i) : NULL;
			snprintf(key, sizeof(key), "%s/q%d", W_NSNAMES[i % 2], i);
			snprintf(what, sizeof(what), "policy %s %s", key, w.pols[i] ? "set" : "deleted");
			policy = mk_netpol_model_set_policy(m, key, w.pols[i]);
		}
		struct mk_netpol_ruleset full;
		full_build(&w, &full);
		const struct mk_netpol_ruleset *inc = mk_netpol_model_ruleset(m);
		assert_same(inc, &full, step, what);
		ck_assert_int_eq(mk_netpol_apply(np, inc, &err), 0);
		if (step > 0 && !policy)
			ck_assert_msg(!mk_netpol_last_stats(np)->full, "step %d (%s): tables replaced", step, what);
		mk_netpol_ruleset_release(&full);
	}
	/* the kept model loaded from scratch is the same again */
	struct mk_netpol_ruleset full;
	full_build(&w, &full);
	assert_same(mk_netpol_model_ruleset(m), &full, -1, "end");
	mk_netpol_ruleset_release(&full);
	for (int i = 0; i < W_NS; i++)
		cJSON_Delete(w.ns[i]);
	for (int i = 0; i < W_PODS; i++)
		cJSON_Delete(w.pods[i]);
	for (int i = 0; i < W_POLS; i++)
		cJSON_Delete(w.pols[i]);
	mk_netpol_free(np);
	mk_netpol_model_free(m);
}
END_TEST

/* One pod's label change touches only the sets whose selector it crosses:
 * the programmer sends those elements and nothing else. */
START_TEST(incremental_pod_change_diff)
{
	const char *pol = "{\"metadata\":{\"namespace\":\"a\",\"name\":\"p\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"x\"}},"
			  "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"y\"}}}]}]}}";
	struct mk_netpol_model *m = mk_netpol_model_new("n1");
	for (size_t i = 0; i < 2; i++) {
		cJSON *n = cJSON_Parse(NAMESPACES[i]);
		mk_netpol_model_set_namespace(m, mk_json_get_string(n, "metadata.name"), n);
		cJSON_Delete(n);
	}
	for (size_t i = 0; i < NPODS; i++) {
		cJSON *p = cJSON_Parse(PODS[i]);
		char key[64];
		snprintf(key, sizeof(key), "%s/%s", mk_json_get_string(p, "metadata.namespace"),
			 mk_json_get_string(p, "metadata.name"));
		mk_netpol_model_set_pod(m, key, p);
		cJSON_Delete(p);
	}
	cJSON *pj = cJSON_Parse(pol);
	ck_assert(mk_netpol_model_set_policy(m, "a/p", pj));
	/* the same spec again (a status or metadata update): nothing to do */
	ck_assert(!mk_netpol_model_set_policy(m, "a/p", pj));
	cJSON_Delete(pj);
	struct mk_netpol_options o = { .netns_fd = -1, .cluster_cidr = "10.244.0.0/16", .bridge = "mk0",
				       .dry_run = true };
	struct mk_netpol *np = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_netpol_new(&o, &np, &err), 0);
	ck_assert_int_eq(mk_netpol_apply(np, mk_netpol_model_ruleset(m), &err), 0);
	ck_assert(mk_netpol_ruleset_allows(mk_netpol_model_ruleset(m), A(AY), A(AX), TCP, 80));
	/* a/y becomes app=z: it leaves the peer set */
	cJSON *y = cJSON_Parse(POD("a", "y", "z", "n1", "10.244.0.3", "[]"));
	ck_assert(mk_netpol_model_set_pod(m, "a/y", y));
	ck_assert(!mk_netpol_model_set_pod(m, "a/y", y));
	cJSON_Delete(y);
	/* a pod without labels, seen twice (a status update): no change */
	cJSON *bare = cJSON_Parse("{\"metadata\":{\"namespace\":\"a\",\"name\":\"bare\"},\"spec\":{\"nodeName\":\"n1\"},"
				  "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.0.40\"}}");
	ck_assert(mk_netpol_model_set_pod(m, "a/bare", bare));
	ck_assert(!mk_netpol_model_set_pod(m, "a/bare", bare));
	ck_assert(mk_netpol_model_set_pod(m, "a/bare", NULL));
	cJSON_Delete(bare);
	ck_assert_int_eq(mk_netpol_apply(np, mk_netpol_model_ruleset(m), &err), 0);
	const struct mk_netpol_stats *st = mk_netpol_last_stats(np);
	ck_assert(!st->full);
	ck_assert_uint_eq(st->elems_deleted, 1);
	ck_assert_uint_eq(st->elems_added, 0);
	ck_assert(!mk_netpol_ruleset_allows(mk_netpol_model_ruleset(m), A(AY), A(AX), TCP, 80));
	mk_netpol_free(np);
	mk_netpol_model_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netpol");
	TCase *tc = tcase_create("model");
	tcase_add_loop_test(tc, model_table, 0, (int)(sizeof(CASES) / sizeof(CASES[0])));
	tcase_add_test(tc, model_sets);
	tcase_add_test(tc, label_change_same_shape);
	tcase_add_test(tc, incremental_pod_change_diff);
	tcase_add_loop_test(tc, incremental_equals_full, 0, 8);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
