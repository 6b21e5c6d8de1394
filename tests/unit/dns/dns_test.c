/* Unit tests of pkg/dns: codec, zone records, NXDOMAIN/NODATA, EDNS0 and
 * truncation, malformed packets, the server over loopback sockets (UDP, TCP
 * framing, forwarding to a fake upstream on 127.0.0.1) and the dummy link in a
 * private network namespace. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "minik8s/dns.h"

/* ---- fixtures ----------------------------------------------------------------------- */

static const char *FIXTURE =
	"{\"kind\":\"List\",\"items\":["
	/* the walkthrough's service: ClusterIP with a named port */
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"php-echo\",\"namespace\":\"demo\","
	"\"uid\":\"u1\",\"resourceVersion\":\"10\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"10.96.12.34\","
	"\"clusterIPs\":[\"10.96.12.34\"],\"selector\":{\"app\":\"php-echo\"},"
	"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":80},"
	"{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53,\"targetPort\":5353},"
	"{\"protocol\":\"TCP\",\"port\":8080}]}},"
	"{\"kind\":\"Endpoints\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"php-echo\",\"namespace\":\"demo\"},"
	"\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.5\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"php-echo-a\",\"namespace\":\"demo\"}},"
	"{\"ip\":\"10.244.2.7\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"php-echo-b\",\"namespace\":\"demo\"}}],"
	"\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"}]}]},"
	/* headless: endpoints with and without hostname, one not ready */
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"db\",\"namespace\":\"demo\"},"
	"\"spec\":{\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"],\"ports\":[{\"name\":\"pg\",\"port\":5432,\"protocol\":\"TCP\"}]}},"
	"{\"kind\":\"Endpoints\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"db\",\"namespace\":\"demo\"},"
	"\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.1.10\",\"hostname\":\"db-0\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"db-0\"}},"
	"{\"ip\":\"10.244.2.11\",\"targetRef\":{\"kind\":\"Pod\",\"name\":\"db-x1\"}}],"
	"\"notReadyAddresses\":[{\"ip\":\"10.244.3.12\",\"hostname\":\"db-2\"}],"
	"\"ports\":[{\"name\":\"pg\",\"port\":5432,\"protocol\":\"TCP\"}]}]},"
	/* ExternalName */
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"ext\",\"namespace\":\"default\"},"
	"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.org\"}},"
	/* ExternalNames pointing into the cluster: one, a chain of two, a loop */
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"inner\",\"namespace\":\"default\"},"
	"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"PHP-Echo.demo.svc.cluster.local\"}},"
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"chain\",\"namespace\":\"default\"},"
	"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"inner.default.svc.cluster.local\"}},"
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"loop1\",\"namespace\":\"default\"},"
	"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"loop2.default.svc.cluster.local\"}},"
	"{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"loop2\",\"namespace\":\"default\"},"
	"\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"loop1.default.svc.cluster.local\"}},"
	/* pods */
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"php-echo-a\",\"namespace\":\"demo\"},"
	"\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.1.5\",\"podIPs\":[{\"ip\":\"10.244.1.5\"}]}},"
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"agent\",\"namespace\":\"kube-system\"},"
	"\"spec\":{\"hostNetwork\":true},\"status\":{\"phase\":\"Running\",\"podIP\":\"192.168.1.2\"}},"
	"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"done\",\"namespace\":\"demo\"},"
	"\"status\":{\"phase\":\"Succeeded\",\"podIP\":\"10.244.1.99\"}}"
	"]}";

static struct mk_dns_zone *Z;

static struct mk_dns_zone *fixture_zone(void)
{
	struct mk_dns_zone_options o = { NULL, "10.96.0.10", false };
	struct mk_dns_zone *z = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_dns_zone_new(&o, &z, &err), 0);
	cJSON *j = cJSON_Parse(FIXTURE);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(mk_dns_zone_load(z, j, &err), 12);
	cJSON_Delete(j);
	return z;
}

static void setup(void) { Z = fixture_zone(); }
static void teardown(void) { mk_dns_zone_free(Z); Z = NULL; }

/* Sends one query through mk_dns_zone_answer; parses the answer into *m. */
static enum mk_dns_action ask_full(struct mk_dns_zone *z, const char *name, uint16_t type,
				   uint16_t bufsize, bool tcp, bool fwd, struct mk_dns_msg *m,
				   size_t *ret_len)
{
	uint8_t q[600], *out = malloc(MK_DNS_TCP_MAX);
	size_t len = 0;
	struct mk_error *err = NULL;
	int ql = mk_dns_query_build(0x1234, name, type, bufsize, q, sizeof(q));
	ck_assert_int_gt(ql, 0);
	enum mk_dns_action a = mk_dns_zone_answer(z, q, ql, tcp, fwd, out, &len);
	if (a == MK_DNS_ACTION_REPLY) {
		ck_assert_msg(mk_dns_msg_parse(out, len, m, &err) == 0, "answer does not parse: %s",
			      err ? err->msg : "");
		ck_assert_uint_eq(m->id, 0x1234);
		ck_assert(m->flags & MK_DNS_FLAG_QR);
		ck_assert(tcp || len <= (bufsize ? (bufsize < 512 ? 512 : bufsize > 4096 ? 4096 : bufsize) : 512));
	}
	if (ret_len)
		*ret_len = len;
	free(out);
	return a;
}

static struct mk_dns_msg *ask(const char *name, uint16_t type)
{
	struct mk_dns_msg *m = malloc(sizeof(*m));
	ck_assert_int_eq(ask_full(Z, name, type, 1232, false, false, m, NULL), MK_DNS_ACTION_REPLY);
	return m;
}

/* count answers of type and check one answer's target text, if want != NULL */
static int answers(const struct mk_dns_msg *m, uint16_t type, const char *want)
{
	int n = 0;
	bool found = !want;
	for (size_t i = 0; i < m->nrr; i++)
		if (m->section[i] == 1 && m->rr[i].type == type) {
			n++;
			if (m->flags & MK_DNS_FLAG_AA)
				ck_assert_uint_eq(m->rr[i].ttl, MK_DNS_TTL);
			if (want && strcmp(m->rr[i].target, want) == 0)
				found = true;
		}
	ck_assert_msg(found, "no %u answer '%s'", type, want);
	return n;
}

static bool has_soa_authority(const struct mk_dns_msg *m, const char *owner)
{
	for (size_t i = 0; i < m->nrr; i++)
		if (m->section[i] == 2 && m->rr[i].type == MK_DNS_TYPE_SOA &&
		    strcmp(m->rr[i].name, owner) == 0 && m->rr[i].soa[4] == MK_DNS_TTL)
			return true;
	return false;
}

/* ---- codec ------------------------------------------------------------------------- */

START_TEST(names_round_trip)
{
	uint8_t w[MK_DNS_NAME_MAX];
	char t[MK_DNS_NAME_TEXT_MAX];
	size_t end;
	const char *cases[] = { "php-echo.demo.svc.cluster.local", "a", "x\\.y.z", "a\\032b.c",
				"_http._tcp.s.ns.svc.cluster.local" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int n = mk_dns_name_from_text(cases[i], w, false);
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(mk_dns_name_to_text(w, n, 0, t, sizeof(t), &end), 0);
		ck_assert_uint_eq(end, (size_t)n);
		ck_assert_str_eq(t, cases[i]);
	}
	ck_assert_int_eq(mk_dns_name_from_text("Example.COM.", w, true), 13);
	ck_assert_int_eq(memcmp(w, "\7example\3com", 13), 0);
	ck_assert_int_eq(mk_dns_name_from_text(".", w, false), 1);
	ck_assert_int_eq(mk_dns_name_from_text("a..b", w, false), -1);
	ck_assert_int_eq(mk_dns_name_from_text(".a", w, false), -1);
	char big[400];
	memset(big, 'a', 64);
	big[64] = 0;
	ck_assert_int_eq(mk_dns_name_from_text(big, w, false), -1); /* label > 63 */
	big[63] = 0;
	ck_assert_int_gt(mk_dns_name_from_text(big, w, false), 0);
	/* 4 x 63 + dots = 255 text chars -> 257 wire bytes: too long */
	char *p = big;
	for (int i = 0; i < 4; i++) {
		memset(p, 'b', 63);
		p += 63;
		*p++ = '.';
	}
	p[-1] = 0;
	ck_assert_int_eq(mk_dns_name_from_text(big, w, false), -1);
}
END_TEST

START_TEST(query_round_trip)
{
	uint8_t q[512];
	struct mk_dns_msg *m = malloc(sizeof(*m));
	struct mk_error *err = NULL;
	int n = mk_dns_query_build(7, "Foo.Bar", MK_DNS_TYPE_SRV, 4096, q, sizeof(q));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(mk_dns_msg_parse(q, n, m, &err), 0);
	ck_assert_uint_eq(m->id, 7);
	ck_assert_str_eq(m->qname, "Foo.Bar");
	ck_assert_uint_eq(m->qtype, MK_DNS_TYPE_SRV);
	ck_assert(m->edns);
	ck_assert_uint_eq(m->udp_size, 4096);
	n = mk_dns_query_build(8, "x", MK_DNS_TYPE_A, 0, q, sizeof(q));
	ck_assert_int_eq(mk_dns_msg_parse(q, n, m, &err), 0);
	ck_assert(!m->edns);
	ck_assert_int_eq(mk_dns_msg_parse(q, n - 1, m, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	free(m);
}
END_TEST

/* ---- records ----------------------------------------------------------------------- */

START_TEST(a_clusterip)
{
	struct mk_dns_msg *m = ask("php-echo.demo.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NOERROR);
	ck_assert(m->flags & MK_DNS_FLAG_AA);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.12.34"), 1);
	ck_assert_str_eq(m->rr[0].name, "php-echo.demo.svc.cluster.local");
	free(m);
	/* case is echoed, lookup is case-insensitive; trailing dot is the same name */
	m = ask("PHP-Echo.Demo.SVC.cluster.local.", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.12.34"), 1);
	ck_assert_str_eq(m->qname, "PHP-Echo.Demo.SVC.cluster.local");
	ck_assert_str_eq(m->rr[0].name, "PHP-Echo.Demo.SVC.cluster.local");
	free(m);
}
END_TEST

START_TEST(srv_named_ports)
{
	struct mk_dns_msg *m = ask("_http._tcp.php-echo.demo.svc.cluster.local", MK_DNS_TYPE_SRV);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_SRV, "php-echo.demo.svc.cluster.local"), 1);
	ck_assert_uint_eq(m->rr[0].port, 80);
	ck_assert_uint_eq(m->rr[0].prio, 0);
	ck_assert_uint_eq(m->rr[0].weight, 100);
	/* the target's address rides in the additional section */
	bool add = false;
	for (size_t i = 0; i < m->nrr; i++)
		add |= m->section[i] == 3 && m->rr[i].type == MK_DNS_TYPE_A &&
		       strcmp(m->rr[i].target, "10.96.12.34") == 0 &&
		       strcmp(m->rr[i].name, "php-echo.demo.svc.cluster.local") == 0;
	ck_assert(add);
	free(m);
	m = ask("_dns._udp.php-echo.demo.svc.cluster.local", MK_DNS_TYPE_SRV);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_SRV, NULL), 1);
	ck_assert_uint_eq(m->rr[0].port, 53);
	free(m);
	/* wrong protocol: NXDOMAIN; the _tcp level exists (NODATA) */
	m = ask("_http._udp.php-echo.demo.svc.cluster.local", MK_DNS_TYPE_SRV);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	m = ask("_tcp.php-echo.demo.svc.cluster.local", MK_DNS_TYPE_SRV);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NOERROR);
	ck_assert_uint_eq(m->ancount, 0);
	free(m);
}
END_TEST

START_TEST(headless)
{
	struct mk_dns_msg *m = ask("db.demo.svc.cluster.local", MK_DNS_TYPE_A);
	/* ready endpoints only */
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.244.1.10"), 2);
	answers(m, MK_DNS_TYPE_A, "10.244.2.11");
	free(m);
	m = ask("db-0.db.demo.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.244.1.10"), 1);
	free(m);
	/* without hostname: the dashed IP */
	m = ask("10-244-2-11.db.demo.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.244.2.11"), 1);
	free(m);
	m = ask("db-2.db.demo.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	m = ask("_pg._tcp.db.demo.svc.cluster.local", MK_DNS_TYPE_SRV);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_SRV, "db-0.db.demo.svc.cluster.local"), 2);
	answers(m, MK_DNS_TYPE_SRV, "10-244-2-11.db.demo.svc.cluster.local");
	ck_assert_uint_eq(m->rr[0].port, 5432);
	ck_assert_uint_eq(m->rr[0].weight, 50);
	free(m);
	m = ask("11.2.244.10.in-addr.arpa", MK_DNS_TYPE_PTR);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_PTR, "10-244-2-11.db.demo.svc.cluster.local"), 1);
	free(m);
}
END_TEST

START_TEST(headless_pod_names)
{
	struct mk_dns_zone_options o = { "cluster.local", NULL, true };
	struct mk_dns_zone *z = NULL;
	ck_assert_int_eq(mk_dns_zone_new(&o, &z, NULL), 0);
	cJSON *j = cJSON_Parse(FIXTURE);
	ck_assert_int_eq(mk_dns_zone_load(z, j, NULL), 12);
	cJSON_Delete(j);
	struct mk_dns_msg *m = malloc(sizeof(*m));
	ask_full(z, "db-x1.db.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, false, false, m, NULL);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.244.2.11"), 1);
	free(m);
	mk_dns_zone_free(z);
}
END_TEST

START_TEST(ptr_records)
{
	struct mk_dns_msg *m = ask("34.12.96.10.in-addr.arpa", MK_DNS_TYPE_PTR);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_PTR, "php-echo.demo.svc.cluster.local"), 1);
	ck_assert(m->flags & MK_DNS_FLAG_AA);
	free(m);
	m = ask("5.1.244.10.in-addr.arpa", MK_DNS_TYPE_PTR);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_PTR, "10-244-1-5.demo.pod.cluster.local"), 1);
	free(m);
	/* a known reverse name with another type: NODATA */
	m = ask("5.1.244.10.in-addr.arpa", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NOERROR);
	ck_assert_uint_eq(m->ancount, 0);
	ck_assert(has_soa_authority(m, "in-addr.arpa"));
	free(m);
	/* unknown reverse names: forwarded when there are upstreams, else NXDOMAIN */
	m = malloc(sizeof(*m));
	ck_assert_int_eq(ask_full(Z, "1.1.168.192.in-addr.arpa", MK_DNS_TYPE_PTR, 0, false, true, m, NULL),
			 MK_DNS_ACTION_FORWARD);
	ck_assert_int_eq(ask_full(Z, "1.1.168.192.in-addr.arpa", MK_DNS_TYPE_PTR, 0, false, false, m, NULL),
			 MK_DNS_ACTION_REPLY);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
}
END_TEST

START_TEST(cname_external)
{
	struct mk_dns_msg *m = ask("ext.default.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_CNAME, "example.org"), 1);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, NULL), 0);
	free(m);
	m = ask("ext.default.svc.cluster.local", MK_DNS_TYPE_CNAME);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_CNAME, "example.org"), 1);
	free(m);
}
END_TEST

/* CoreDNS's answer for an ExternalName whose target is a cluster name: the CNAME and
 * the target's records of the asked type, owners as the chain names them */
START_TEST(cname_cluster_target)
{
	struct mk_dns_msg *m = ask("inner.default.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NOERROR);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_CNAME, "php-echo.demo.svc.cluster.local"), 1);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.12.34"), 1);
	ck_assert_str_eq(m->rr[0].name, "inner.default.svc.cluster.local");
	ck_assert_uint_eq(m->rr[1].type, MK_DNS_TYPE_A);
	ck_assert_str_eq(m->rr[1].name, "php-echo.demo.svc.cluster.local");
	free(m);
	/* a chain: both CNAMEs, then the address */
	m = ask("chain.default.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_CNAME, "inner.default.svc.cluster.local"), 2);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.12.34"), 1);
	ck_assert_str_eq(m->rr[1].name, "inner.default.svc.cluster.local");
	ck_assert_str_eq(m->rr[2].name, "php-echo.demo.svc.cluster.local");
	free(m);
	/* the target has no record of that type: the CNAME alone */
	m = ask("inner.default.svc.cluster.local", MK_DNS_TYPE_AAAA);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_CNAME, NULL), 1);
	ck_assert_uint_eq(m->ancount, 1);
	free(m);
	/* asked for the CNAME itself: nothing else */
	m = ask("chain.default.svc.cluster.local", MK_DNS_TYPE_CNAME);
	ck_assert_uint_eq(m->ancount, 1);
	free(m);
	/* a loop ends: the service's CNAME plus at most 8 followed links */
	m = ask("loop1.default.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NOERROR);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_CNAME, NULL), 9);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, NULL), 0);
	free(m);
}
END_TEST

START_TEST(pod_records)
{
	struct mk_dns_msg *m = ask("10-244-1-5.demo.pod.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.244.1.5"), 1);
	free(m);
	/* host-network and finished pods publish nothing */
	m = ask("192-168-1-2.kube-system.pod.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	m = ask("10-244-1-99.demo.pod.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	/* the right IP in the wrong namespace */
	m = ask("10-244-1-5.default.pod.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
}
END_TEST

START_TEST(nxdomain_nodata)
{
	struct mk_dns_msg *m = ask("nope.demo.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	ck_assert(m->flags & MK_DNS_FLAG_AA);
	ck_assert_uint_eq(m->ancount, 0);
	ck_assert(has_soa_authority(m, "cluster.local"));
	free(m);
	/* AAAA of an IPv4 service: NODATA */
	m = ask("php-echo.demo.svc.cluster.local", MK_DNS_TYPE_AAAA);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NOERROR);
	ck_assert_uint_eq(m->ancount, 0);
	ck_assert(has_soa_authority(m, "cluster.local"));
	free(m);
	/* empty non-terminals exist */
	const char *ents[] = { "demo.svc.cluster.local", "svc.cluster.local", "pod.cluster.local",
			       "demo.pod.cluster.local" };
	for (size_t i = 0; i < 4; i++) {
		m = ask(ents[i], MK_DNS_TYPE_A);
		ck_assert_msg(m->rcode == MK_DNS_RCODE_NOERROR, "%s: rcode %d", ents[i], m->rcode);
		ck_assert_uint_eq(m->ancount, 0);
		free(m);
	}
	m = ask("nons.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	/* a search-path expansion is answered from the zone, never forwarded */
	m = malloc(sizeof(*m));
	ck_assert_int_eq(ask_full(Z, "php-echo.demo.svc.cluster.local.demo.svc.cluster.local",
				  MK_DNS_TYPE_A, 0, false, true, m, NULL),
			 MK_DNS_ACTION_REPLY);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	/* names that merely end like the zone are not in it */
	m = malloc(sizeof(*m));
	ck_assert_int_eq(ask_full(Z, "xcluster.local", MK_DNS_TYPE_A, 0, false, true, m, NULL),
			 MK_DNS_ACTION_FORWARD);
	ck_assert_int_eq(ask_full(Z, "example.org", MK_DNS_TYPE_A, 0, false, false, m, NULL),
			 MK_DNS_ACTION_REPLY);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_REFUSED);
	free(m);
}
END_TEST

START_TEST(apex_soa_ns)
{
	struct mk_dns_msg *m = ask("cluster.local", MK_DNS_TYPE_SOA);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_SOA, "ns.dns.cluster.local"), 1);
	ck_assert_str_eq(m->rr[0].rname, "hostmaster.cluster.local");
	free(m);
	m = ask("cluster.local", MK_DNS_TYPE_NS);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_NS, "ns.dns.cluster.local"), 1);
	free(m);
	m = ask("ns.dns.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.0.10"), 1);
	free(m);
	m = ask("cluster.local", MK_DNS_TYPE_ANY);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_SOA, NULL), 1);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_NS, NULL), 1);
	free(m);
}
END_TEST

START_TEST(custom_domain)
{
	struct mk_dns_zone_options o = { "Corp.Example.", NULL, false };
	struct mk_dns_zone *z = NULL;
	ck_assert_int_eq(mk_dns_zone_new(&o, &z, NULL), 0);
	ck_assert_str_eq(mk_dns_zone_domain(z), "corp.example");
	cJSON *j = cJSON_Parse(FIXTURE);
	mk_dns_zone_load(z, j, NULL);
	cJSON_Delete(j);
	struct mk_dns_msg *m = malloc(sizeof(*m));
	ask_full(z, "php-echo.demo.svc.corp.example", MK_DNS_TYPE_A, 0, false, false, m, NULL);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.12.34"), 1);
	ck_assert_int_eq(ask_full(z, "php-echo.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, false, true, m, NULL),
			 MK_DNS_ACTION_FORWARD);
	free(m);
	mk_dns_zone_free(z);
	ck_assert_int_eq(mk_dns_zone_new(&(struct mk_dns_zone_options){ "a..b", NULL, false }, &z, NULL), -1);
}
END_TEST

START_TEST(incremental_updates)
{
	size_t names0, recs0, names, recs;
	struct mk_dns_msg *m;
	cJSON *svc = cJSON_Parse("{\"kind\":\"Service\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},"
				 "\"spec\":{\"clusterIP\":\"10.96.0.50\",\"ports\":[{\"name\":\"http\",\"port\":80}]}}");
	mk_dns_zone_stats(Z, &names0, &recs0);
	m = ask("web.shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	ck_assert_int_eq(mk_dns_zone_service_upsert(Z, svc, NULL), 0);
	m = ask("web.shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.0.50"), 1);
	free(m);
	/* a new ClusterIP replaces the old one, PTR included */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(svc, "spec"), "clusterIP", cJSON_CreateString("10.96.0.51"));
	ck_assert_int_eq(mk_dns_zone_service_upsert(Z, svc, NULL), 0);
	m = ask("web.shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.0.51"), 1);
	free(m);
	m = ask("50.0.96.10.in-addr.arpa", MK_DNS_TYPE_PTR);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	/* endpoints of a headless service follow scale-down */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(svc, "spec"), "clusterIP", cJSON_CreateString("None"));
	mk_dns_zone_service_upsert(Z, svc, NULL);
	cJSON *ep = cJSON_Parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"},\"subsets\":[{\"addresses\":"
				"[{\"ip\":\"10.244.0.1\"},{\"ip\":\"10.244.0.2\"},{\"ip\":\"10.244.0.3\"}]}]}");
	mk_dns_zone_endpoints_upsert(Z, ep, NULL);
	m = ask("web.shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.244.0.3"), 3);
	free(m);
	cJSON_DeleteItemFromArray(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ep, "subsets"), 0), "addresses"), 2);
	mk_dns_zone_endpoints_upsert(Z, ep, NULL);
	m = ask("web.shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.244.0.1"), 2);
	free(m);
	m = ask("10-244-0-3.web.shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	/* delete: everything it added goes, empty non-terminals too */
	mk_dns_zone_service_delete(Z, "shop", "web");
	m = ask("web.shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	mk_dns_zone_endpoints_delete(Z, "shop", "web");
	m = ask("shop.svc.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	mk_dns_zone_stats(Z, &names, &recs);
	ck_assert_uint_eq(names, names0);
	ck_assert_uint_eq(recs, recs0);
	/* pods too */
	mk_dns_zone_pod_delete(Z, "demo", "php-echo-a");
	m = ask("10-244-1-5.demo.pod.cluster.local", MK_DNS_TYPE_A);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	free(m);
	/* deleting what does not exist is harmless; objects without names are refused */
	mk_dns_zone_service_delete(Z, "nope", "nope");
	struct mk_error *err = NULL;
	cJSON *bad = cJSON_Parse("{\"metadata\":{}}");
	ck_assert_int_eq(mk_dns_zone_service_upsert(Z, bad, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	cJSON_Delete(bad);
	cJSON_Delete(svc);
	cJSON_Delete(ep);
}
END_TEST

/* A headless service with n endpoints, loaded into Z. */
static void add_big_headless(int n)
{
	cJSON *svc = cJSON_Parse("{\"metadata\":{\"name\":\"big\",\"namespace\":\"demo\"},\"spec\":{\"clusterIP\":\"None\"}}");
	cJSON *ep = cJSON_Parse("{\"metadata\":{\"name\":\"big\",\"namespace\":\"demo\"},\"subsets\":[{\"addresses\":[]}]}");
	cJSON *addrs = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(ep, "subsets"), 0), "addresses");
	for (int i = 0; i < n; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.244.%d.%d", i / 200, i % 200 + 1);
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "ip", ip);
		cJSON_AddItemToArray(addrs, a);
	}
	mk_dns_zone_service_upsert(Z, svc, NULL);
	mk_dns_zone_endpoints_upsert(Z, ep, NULL);
	cJSON_Delete(svc);
	cJSON_Delete(ep);
}

START_TEST(edns_and_truncation)
{
	struct mk_dns_msg *m = malloc(sizeof(*m));
	size_t len;
	add_big_headless(100);
	/* no EDNS: 512 bytes, 100 A records do not fit -> TC, no records */
	ck_assert_int_eq(ask_full(Z, "big.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, false, false, m, &len),
			 MK_DNS_ACTION_REPLY);
	ck_assert(m->flags & MK_DNS_FLAG_TC);
	ck_assert_uint_eq(m->ancount, 0);
	ck_assert(!m->edns);
	ck_assert_uint_le(len, 512);
	/* EDNS 4096: fits (12 + 32 + 100 * 16 + 11) */
	ask_full(Z, "big.demo.svc.cluster.local", MK_DNS_TYPE_A, 4096, false, false, m, &len);
	ck_assert(!(m->flags & MK_DNS_FLAG_TC));
	ck_assert_uint_eq(m->ancount, 100);
	ck_assert(m->edns);
	ck_assert_uint_eq(m->udp_size, MK_DNS_UDP_MAX);
	/* EDNS 1000: TC; an advertised size below 512 counts as 512 */
	ask_full(Z, "big.demo.svc.cluster.local", MK_DNS_TYPE_A, 1000, false, false, m, &len);
	ck_assert(m->flags & MK_DNS_FLAG_TC);
	ck_assert(m->edns);
	ask_full(Z, "php-echo.demo.svc.cluster.local", MK_DNS_TYPE_A, 100, false, false, m, &len);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.12.34"), 1);
	/* TCP: everything, even beyond 4096 */
	add_big_headless(400);
	ask_full(Z, "big.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, true, false, m, &len);
	ck_assert(!(m->flags & MK_DNS_FLAG_TC));
	ck_assert_uint_eq(m->ancount, 400);
	ck_assert_uint_gt(len, 4096);
	ask_full(Z, "big.demo.svc.cluster.local", MK_DNS_TYPE_A, 65000, false, false, m, &len);
	ck_assert(m->flags & MK_DNS_FLAG_TC);
	ck_assert_uint_le(len, 4096);
	free(m);
}
END_TEST

/* ---- malformed packets --------------------------------------------------------------- */

static int rcode_of(const uint8_t *pkt, size_t len, enum mk_dns_action *ret_a)
{
	uint8_t *out = malloc(MK_DNS_TCP_MAX);
	size_t alen = 0;
	enum mk_dns_action a = mk_dns_zone_answer(Z, pkt, len, false, true, out, &alen);
	int rc = -1;
	if (a == MK_DNS_ACTION_REPLY) {
		struct mk_dns_msg *m = malloc(sizeof(*m));
		struct mk_error *err = NULL;
		ck_assert_msg(mk_dns_msg_parse(out, alen, m, &err) == 0, "bad answer: %s", err->msg);
		rc = m->rcode;
		free(m);
	}
	free(out);
	if (ret_a)
		*ret_a = a;
	return rc;
}

START_TEST(malformed_corpus)
{
	enum mk_dns_action a;
	uint8_t q[600];
	int n = mk_dns_query_build(1, "php-echo.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, q, sizeof(q));
	ck_assert_int_eq(rcode_of(q, n, NULL), MK_DNS_RCODE_NOERROR);
	/* short header: dropped */
	rcode_of(q, 11, &a);
	ck_assert_int_eq(a, MK_DNS_ACTION_DROP);
	/* truncated question */
	ck_assert_int_eq(rcode_of(q, n - 2, NULL), MK_DNS_RCODE_FORMERR);
	ck_assert_int_eq(rcode_of(q, 14, NULL), MK_DNS_RCODE_FORMERR);
	/* a response: dropped (no reflection loops) */
	uint8_t r[600];
	memcpy(r, q, n);
	r[2] |= 0x80;
	rcode_of(r, n, &a);
	ck_assert_int_eq(a, MK_DNS_ACTION_DROP);
	/* opcode STATUS / UPDATE: NOTIMP */
	memcpy(r, q, n);
	r[2] |= 5 << 3;
	ck_assert_int_eq(rcode_of(r, n, NULL), MK_DNS_RCODE_NOTIMP);
	/* qdcount 0, 2; ancount 1 */
	memcpy(r, q, n);
	r[5] = 0;
	ck_assert_int_eq(rcode_of(r, n, NULL), MK_DNS_RCODE_FORMERR);
	r[5] = 2;
	ck_assert_int_eq(rcode_of(r, n, NULL), MK_DNS_RCODE_FORMERR);
	r[5] = 1;
	r[7] = 1;
	ck_assert_int_eq(rcode_of(r, n, NULL), MK_DNS_RCODE_FORMERR);
	/* trailing garbage */
	memcpy(r, q, n);
	r[n] = 0;
	ck_assert_int_eq(rcode_of(r, n + 1, NULL), MK_DNS_RCODE_FORMERR);
	/* compression loop: the name is a pointer to itself */
	uint8_t loop[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	ck_assert_int_eq(rcode_of(loop, sizeof(loop), NULL), MK_DNS_RCODE_FORMERR);
	/* label then pointer back to that label: a loop through a label */
	uint8_t loop2[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'a', 0xc0, 12, 0, 1, 0, 1 };
	ck_assert_int_eq(rcode_of(loop2, sizeof(loop2), NULL), MK_DNS_RCODE_FORMERR);
	/* forward pointer */
	uint8_t fwd[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 18, 0, 1, 0, 1, 0 };
	ck_assert_int_eq(rcode_of(fwd, sizeof(fwd), NULL), MK_DNS_RCODE_FORMERR);
	/* extended label types 0x40 / 0x80 */
	uint8_t ext[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1 };
	ck_assert_int_eq(rcode_of(ext, sizeof(ext), NULL), MK_DNS_RCODE_FORMERR);
	/* label running past the end */
	uint8_t past[] = { 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a', 'b' };
	ck_assert_int_eq(rcode_of(past, sizeof(past), NULL), MK_DNS_RCODE_FORMERR);
	/* name > 255 bytes: 5 labels of 60 */
	uint8_t longn[12 + 5 * 61 + 5];
	memcpy(longn, q, 12);
	for (int i = 0; i < 5; i++) {
		longn[12 + i * 61] = 60;
		memset(longn + 13 + i * 61, 'x', 60);
	}
	memcpy(longn + 12 + 5 * 61, "\0\0\1\0\1", 5);
	ck_assert_int_eq(rcode_of(longn, sizeof(longn), NULL), MK_DNS_RCODE_FORMERR);
	/* two OPT records; OPT with a bad option length; OPT not at the root */
	int m = mk_dns_query_build(1, "a.cluster.local", MK_DNS_TYPE_A, 1232, r, sizeof(r));
	memcpy(r + m, r + m - 11, 11);
	r[11] = 2;
	ck_assert_int_eq(rcode_of(r, m + 11, NULL), MK_DNS_RCODE_FORMERR);
	m = mk_dns_query_build(1, "a.cluster.local", MK_DNS_TYPE_A, 1232, r, sizeof(r));
	r[m - 1] = 4; /* rdlen 4 */
	memcpy(r + m, "\0\12\0\11", 4); /* option 10 claims 9 bytes */
	ck_assert_int_eq(rcode_of(r, m + 4, NULL), MK_DNS_RCODE_FORMERR);
	/* EDNS version 1: BADVERS (extended rcode 16) */
	m = mk_dns_query_build(1, "a.cluster.local", MK_DNS_TYPE_A, 1232, r, sizeof(r));
	r[m - 5] = 1;
	ck_assert_int_eq(rcode_of(r, m, NULL), MK_DNS_RCODE_BADVERS);
	/* zone transfer, CHAOS class: REFUSED */
	m = mk_dns_query_build(1, "cluster.local", MK_DNS_TYPE_AXFR, 0, r, sizeof(r));
	ck_assert_int_eq(rcode_of(r, m, NULL), MK_DNS_RCODE_REFUSED);
	m = mk_dns_query_build(1, "version.bind", MK_DNS_TYPE_TXT, 0, r, sizeof(r));
	r[m - 1] = 3;
	ck_assert_int_eq(rcode_of(r, m, NULL), MK_DNS_RCODE_REFUSED);
	/* qtype OPT in the question */
	m = mk_dns_query_build(1, "a.cluster.local", MK_DNS_TYPE_OPT, 0, r, sizeof(r));
	ck_assert_int_eq(rcode_of(r, m, NULL), MK_DNS_RCODE_FORMERR);
}
END_TEST

/* Deterministic mutation loop: valid queries with random byte flips,
 * truncations and splices. Nothing may crash; every reply must parse. */
START_TEST(mutation_loop)
{
	const char *names[] = { "php-echo.demo.svc.cluster.local", "_pg._tcp.db.demo.svc.cluster.local",
				"34.12.96.10.in-addr.arpa", "x.example.org", "cluster.local" };
	uint64_t s = 0x9e3779b97f4a7c15ull;
	uint8_t q[700], *out = malloc(MK_DNS_TCP_MAX);
	struct mk_dns_msg *m = malloc(sizeof(*m));
	int replies = 0;
	for (int it = 0; it < 200000; it++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		int n = mk_dns_query_build((uint16_t)s, names[s % 5], (uint16_t)((s >> 8) % 40),
					   (s >> 16) & 1 ? 1232 : 0, q, 600);
		int flips = 1 + (s >> 20) % 4;
		for (int k = 0; k < flips; k++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			q[s % n] = (uint8_t)(s >> 32);
		}
		if ((s >> 40) % 4 == 0)
			n = (int)((s >> 44) % (n + 1));
		else if ((s >> 40) % 4 == 1) {
			int extra = (int)((s >> 44) % 64);
			for (int k = 0; k < extra; k++)
				q[n + k] = (uint8_t)(s >> (k % 56));
			n += extra;
		}
		size_t alen = 0;
		bool tcp = (s >> 50) & 1;
		if (mk_dns_zone_answer(Z, q, n, tcp, (s >> 51) & 1, out, &alen) == MK_DNS_ACTION_REPLY) {
			struct mk_error *err = NULL;
			ck_assert_msg(mk_dns_msg_parse(out, alen, m, &err) == 0, "iteration %d: %s", it,
				      err->msg);
			ck_assert(tcp || alen <= MK_DNS_UDP_MAX);
			replies++;
		}
	}
	ck_assert_int_gt(replies, 1000);
	free(out);
	free(m);
}
END_TEST

/* ---- resolv.conf ------------------------------------------------------------------ */

START_TEST(resolv_conf)
{
	char path[] = "/tmp/mk-dns-resolv.XXXXXX";
	int fd = mkstemp(path);
	const char *text = "# comment\nsearch example.org\nnameserver 10.96.0.10\nnameserver 192.0.2.1\n"
			   "options ndots:5\nnameserver   2001:db8::1\nnameserver fe80::1%eth0\nnameserver bogus\n"
			   "nameserver 127.0.0.53\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	const char *skip[] = { "10.96.0.10", "127.0.0.53", NULL };
	char **v = NULL;
	ck_assert_int_eq(mk_dns_resolv_conf_read(path, skip, &v, NULL), 0);
	ck_assert_str_eq(v[0], "192.0.2.1:53");
	ck_assert_str_eq(v[1], "[2001:db8::1]:53");
	ck_assert_ptr_null(v[2]);
	mk_strv_free(v);
	unlink(path);
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_dns_resolv_conf_read(path, NULL, &v, &err), -1);
	ck_assert_int_eq(err->code, ENOENT);
	mk_error_free(&err);
}
END_TEST

/* ---- server over loopback sockets ---------------------------------------------------- */

static int udp_query(uint16_t port, const uint8_t *q, size_t qlen, uint8_t *out, size_t outsz,
		     int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	sendto(fd, q, qlen, 0, (struct sockaddr *)&a, sizeof(a));
	struct pollfd p = { fd, POLLIN, 0 };
	int n = -1;
	if (poll(&p, 1, timeout_ms) == 1)
		n = (int)recv(fd, out, outsz, 0);
	close(fd);
	return n;
}

/* A fake upstream: answers every query with one A record 192.0.2.7, or stays
 * silent when mute. Runs until the socket is shut down. */
struct fake_up {
	int fd;
	uint16_t port;
	bool mute, spoof, tc;
	int seen;
	pthread_t t;
};

/* Turns the query in b (n bytes) into the fake answer; returns its length. */
static size_t fake_answer(uint8_t *b, size_t n)
{
	/* response: QR RA, one answer pointing at the question name */
	b[2] |= 0x80;
	b[3] = 0x80;
	b[7] = 1;
	b[11] = 0; /* drop any OPT: truncate to the question */
	size_t qe = 12;
	while (qe < n && b[qe])
		qe += 1 + b[qe];
	qe += 5;
	uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7 };
	memcpy(b + qe, rr, sizeof(rr));
	return qe + sizeof(rr);
}

static void *fake_up_thread(void *arg)
{
	struct fake_up *f = arg;
	uint8_t b[4096];
	struct sockaddr_storage from;
	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(f->fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			return NULL;
		__atomic_add_fetch(&f->seen, 1, __ATOMIC_SEQ_CST);
		if (f->mute || n < 12)
			continue;
		size_t alen = fake_answer(b, (size_t)n);
		const size_t rrlen = 16, qe = alen - rrlen;
		if (f->tc) {
			/* truncated: TC, no answer; the client is to ask over TCP */
			b[2] |= 0x02;
			b[7] = 0;
			sendto(f->fd, b, qe, 0, (struct sockaddr *)&from, fl);
			continue;
		}
		if (f->spoof) {
			/* wrong ID, then right ID with another question, both 6.6.6.6 */
			uint8_t x[4096];
			memcpy(x, b, alen);
			memcpy(x + qe + 12, "\6\6\6\6", 4);
			x[0] ^= 0x55;
			sendto(f->fd, x, alen, 0, (struct sockaddr *)&from, fl);
			x[0] ^= 0x55;
			x[14] ^= 1; /* first letter of the name */
			sendto(f->fd, x, alen, 0, (struct sockaddr *)&from, fl);
			usleep(50000);
		}
		sendto(f->fd, b, alen, 0, (struct sockaddr *)&from, fl);
	}
}

static void fake_up_start(struct fake_up *f, bool mute)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t l = sizeof(a);
	f->mute = mute;
	f->spoof = false;
	f->tc = false;
	f->seen = 0;
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	getsockname(f->fd, (struct sockaddr *)&a, &l);
	f->port = ntohs(a.sin_port);
	pthread_create(&f->t, NULL, fake_up_thread, f);
}

static void fake_up_stop(struct fake_up *f)
{
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(f->t, NULL);
	close(f->fd);
}

static struct mk_dns_server *start_server(const char *upstream, unsigned timeout_ms)
{
	const char *listen[] = { "127.0.0.1", NULL };
	const char *ups[] = { upstream, NULL };
	struct mk_dns_server_options o = { .listen = listen, .port = 0, .workers = 2,
					   .netns_fd = -1, .upstreams = upstream ? ups : NULL,
					   .forward_timeout_ms = timeout_ms, .forward_tries = 2,
					   .max_tcp_conns = 4, .tcp_idle_ms = 2000 };
	struct mk_dns_server *s = NULL;
	struct mk_error *err = NULL;
	ck_assert_msg(mk_dns_server_start(Z, &o, &s, &err) == 0, "%s", err ? err->msg : "");
	ck_assert_uint_gt(mk_dns_server_port(s), 0);
	return s;
}

START_TEST(server_udp)
{
	struct mk_dns_server *s = start_server(NULL, 0);
	uint8_t q[512], a[4096];
	struct mk_dns_msg *m = malloc(sizeof(*m));
	int n = mk_dns_query_build(77, "php-echo.demo.svc.cluster.local", MK_DNS_TYPE_A, 1232, q, sizeof(q));
	int an = udp_query(mk_dns_server_port(s), q, n, a, sizeof(a), 2000);
	ck_assert_int_gt(an, 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, an, m, NULL), 0);
	ck_assert_uint_eq(m->id, 77);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "10.96.12.34"), 1);
	/* garbage gets FORMERR, the server lives on */
	uint8_t junk[40];
	memset(junk, 0xff, sizeof(junk));
	junk[2] = 0;
	an = udp_query(mk_dns_server_port(s), junk, sizeof(junk), a, sizeof(a), 2000);
	ck_assert_int_eq(an, 12);
	ck_assert_int_eq(a[3] & 0xf, MK_DNS_RCODE_FORMERR);
	/* no upstream: outside names are refused */
	n = mk_dns_query_build(78, "example.org", MK_DNS_TYPE_A, 0, q, sizeof(q));
	an = udp_query(mk_dns_server_port(s), q, n, a, sizeof(a), 2000);
	ck_assert_int_eq(mk_dns_msg_parse(a, an, m, NULL), 0);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_REFUSED);
	struct mk_dns_server_stats st;
	mk_dns_server_get_stats(s, &st);
	ck_assert_uint_eq(st.udp_queries, 3);
	ck_assert_uint_eq(st.formerr, 1);
	free(m);
	mk_dns_server_stop(s);
}
END_TEST

static int tcp_connect(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct timeval tv = { 3, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int read_full(int fd, uint8_t *b, size_t n)
{
	size_t d = 0;
	while (d < n) {
		ssize_t r = recv(fd, b + d, n - d, 0);
		if (r <= 0)
			return -1;
		d += r;
	}
	return 0;
}

/* true when the server closed fd within ms */
static bool tcp_closed_within(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	uint8_t b;
	return poll(&p, 1, ms) == 1 && recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

START_TEST(server_tcp)
{
	add_big_headless(400);
	struct mk_dns_server *s = start_server(NULL, 0);
	uint8_t buf[1200], *a = malloc(65536);
	struct mk_dns_msg *m = malloc(sizeof(*m));
	int fd = tcp_connect(mk_dns_server_port(s));
	/* two pipelined queries in one write, split oddly */
	int n1 = mk_dns_query_build(1, "big.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, buf + 2, 500);
	buf[0] = 0;
	buf[1] = (uint8_t)n1;
	int n2 = mk_dns_query_build(2, "nope.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, buf + 4 + n1, 500);
	buf[2 + n1] = 0;
	buf[3 + n1] = (uint8_t)n2;
	ck_assert_int_eq(send(fd, buf, 3, 0), 3);
	usleep(20000);
	ck_assert_int_eq(send(fd, buf + 3, n1 + n2 + 1, 0), n1 + n2 + 1);
	uint8_t lb[2];
	ck_assert_int_eq(read_full(fd, lb, 2), 0);
	ck_assert_int_eq(read_full(fd, a, lb[0] << 8 | lb[1]), 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, lb[0] << 8 | lb[1], m, NULL), 0);
	ck_assert_uint_eq(m->id, 1);
	ck_assert_uint_eq(m->ancount, 400);
	ck_assert(!(m->flags & MK_DNS_FLAG_TC));
	ck_assert_int_eq(read_full(fd, lb, 2), 0);
	ck_assert_int_eq(read_full(fd, a, lb[0] << 8 | lb[1]), 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, lb[0] << 8 | lb[1], m, NULL), 0);
	ck_assert_uint_eq(m->id, 2);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	/* a length that is too small for a header closes the connection */
	ck_assert_int_eq(send(fd, "\0\3abc", 5, 0), 5);
	ck_assert_int_le(recv(fd, lb, 2, 0), 0);
	close(fd);
	/* connection limit (4): a newcomer is not refused; the connection waiting
	 * longest that never had an answer makes room (well before the 2 s idle
	 * timeout), one that had an answer is kept over it */
	int fds[6];
	for (int i = 0; i < 4; i++) {
		fds[i] = tcp_connect(mk_dns_server_port(s));
		usleep(20000);
	}
	n1 = mk_dns_query_build(3, "php-echo.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, buf + 2, 500);
	buf[1] = (uint8_t)n1;
	ck_assert_int_eq(send(fds[0], buf, n1 + 2, 0), n1 + 2);
	ck_assert_int_eq(read_full(fds[0], lb, 2), 0);
	ck_assert_int_eq(read_full(fds[0], a, lb[0] << 8 | lb[1]), 0);
	fds[4] = tcp_connect(mk_dns_server_port(s));
	ck_assert(tcp_closed_within(fds[1], 1000));
	fds[5] = tcp_connect(mk_dns_server_port(s));
	ck_assert(tcp_closed_within(fds[2], 1000));
	/* the answered one and the newcomers answer */
	int live[] = { 0, 3, 4, 5 };
	for (int k = 0; k < 4; k++) {
		ck_assert_int_eq(send(fds[live[k]], buf, n1 + 2, 0), n1 + 2);
		ck_assert_int_eq(read_full(fds[live[k]], lb, 2), 0);
		ck_assert_int_eq(read_full(fds[live[k]], a, lb[0] << 8 | lb[1]), 0);
	}
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	free(a);
	free(m);
	mk_dns_server_stop(s);
}
END_TEST

START_TEST(server_forward)
{
	struct fake_up up;
	char ups[64];
	fake_up_start(&up, false);
	snprintf(ups, sizeof(ups), "127.0.0.1:%u", up.port);
	struct mk_dns_server *s = start_server(ups, 500);
	uint8_t q[512], a[4096];
	struct mk_dns_msg *m = malloc(sizeof(*m));
	int n = mk_dns_query_build(0xbeef, "www.example.org", MK_DNS_TYPE_A, 1232, q, sizeof(q));
	int an = udp_query(mk_dns_server_port(s), q, n, a, sizeof(a), 3000);
	ck_assert_int_gt(an, 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, an, m, NULL), 0);
	ck_assert_uint_eq(m->id, 0xbeef); /* the client's ID, not ours */
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "192.0.2.7"), 1);
	ck_assert_uint_eq(m->rr[0].ttl, 60);
	/* cluster names never reach the upstream, not even search expansions */
	int seen = __atomic_load_n(&up.seen, __ATOMIC_SEQ_CST);
	n = mk_dns_query_build(2, "php-echo.demo.svc.cluster.local.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, q, sizeof(q));
	an = udp_query(mk_dns_server_port(s), q, n, a, sizeof(a), 3000);
	ck_assert_int_eq(mk_dns_msg_parse(a, an, m, NULL), 0);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(__atomic_load_n(&up.seen, __ATOMIC_SEQ_CST), seen);
	/* over TCP: forwarded synchronously */
	int fd = tcp_connect(mk_dns_server_port(s));
	uint8_t buf[600], lb[2];
	n = mk_dns_query_build(0x4242, "tcp.example.org", MK_DNS_TYPE_A, 0, buf + 2, 500);
	buf[0] = 0;
	buf[1] = (uint8_t)n;
	ck_assert_int_eq(send(fd, buf, n + 2, 0), n + 2);
	ck_assert_int_eq(read_full(fd, lb, 2), 0);
	ck_assert_int_eq(read_full(fd, a, lb[0] << 8 | lb[1]), 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, lb[0] << 8 | lb[1], m, NULL), 0);
	ck_assert_uint_eq(m->id, 0x4242);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "192.0.2.7"), 1);
	close(fd);
	mk_dns_server_stop(s);
	fake_up_stop(&up);

	/* a silent upstream: SERVFAIL after timeout x tries, each try sent */
	fake_up_start(&up, true);
	snprintf(ups, sizeof(ups), "127.0.0.1:%u", up.port);
	s = start_server(ups, 200);
	n = mk_dns_query_build(0x5555, "slow.example.org", MK_DNS_TYPE_A, 0, q, sizeof(q));
	an = udp_query(mk_dns_server_port(s), q, n, a, sizeof(a), 5000);
	ck_assert_int_gt(an, 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, an, m, NULL), 0);
	ck_assert_uint_eq(m->id, 0x5555);
	ck_assert_int_eq(m->rcode, MK_DNS_RCODE_SERVFAIL);
	ck_assert_str_eq(m->qname, "slow.example.org");
	ck_assert_int_eq(__atomic_load_n(&up.seen, __ATOMIC_SEQ_CST), 2);
	struct mk_dns_server_stats st;
	mk_dns_server_get_stats(s, &st);
	ck_assert_uint_eq(st.forward_fail, 1);
	mk_dns_server_stop(s);
	fake_up_stop(&up);
	free(m);
}
END_TEST

/* The TCP side of a truncating fake upstream: answers each connection's one
 * query (length-prefixed) with the fake answer. Runs until lfd is shut down. */
struct fake_tcp_up {
	int lfd, seen;
	pthread_t t;
};

static void *fake_tcp_thread(void *arg)
{
	struct fake_tcp_up *f = arg;
	for (;;) {
		int c = accept(f->lfd, NULL, NULL);
		if (c < 0)
			return NULL;
		struct timeval tv = { 3, 0 };
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		uint8_t lb[2], b[4096];
		size_t n;
		if (read_full(c, lb, 2) == 0 && (n = (size_t)(lb[0] << 8 | lb[1])) >= 12 && n <= 512 &&
		    read_full(c, b, n) == 0) {
			size_t an = fake_answer(b, n);
			__atomic_add_fetch(&f->seen, 1, __ATOMIC_SEQ_CST);
			lb[0] = (uint8_t)(an >> 8);
			lb[1] = (uint8_t)an;
			send(c, lb, 2, MSG_NOSIGNAL);
			send(c, b, an, MSG_NOSIGNAL);
		}
		close(c);
	}
}

/* An upstream that truncates over UDP: a UDP client gets the truncated answer
 * as it is (and asks again over TCP, as stub resolvers do); for a TCP client
 * the forwarder asks the upstream again over TCP (same address and port) and
 * relays the full answer. */
START_TEST(forward_tcp_fallback)
{
	struct fake_up up;
	struct fake_tcp_up tup = { .seen = 0 };
	char ups[64];
	fake_up_start(&up, false);
	up.tc = true;
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(up.port) };
	inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
	tup.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(tup.lfd, (struct sockaddr *)&a4, sizeof(a4)), 0);
	ck_assert_int_eq(listen(tup.lfd, 8), 0);
	pthread_create(&tup.t, NULL, fake_tcp_thread, &tup);
	snprintf(ups, sizeof(ups), "127.0.0.1:%u", up.port);
	struct mk_dns_server *s = start_server(ups, 2000);
	uint8_t q[512], a[4096];
	struct mk_dns_msg *m = malloc(sizeof(*m));
	int n = mk_dns_query_build(0x7c7c, "big.example.org", MK_DNS_TYPE_A, 1232, q, sizeof(q));
	int an = udp_query(mk_dns_server_port(s), q, n, a, sizeof(a), 5000);
	ck_assert_int_gt(an, 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, an, m, NULL), 0);
	ck_assert_uint_eq(m->id, 0x7c7c);
	ck_assert(m->flags & MK_DNS_FLAG_TC);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, NULL), 0);
	ck_assert_int_eq(__atomic_load_n(&tup.seen, __ATOMIC_SEQ_CST), 0);

	int fd = tcp_connect(mk_dns_server_port(s));
	uint8_t buf[600], lb[2];
	n = mk_dns_query_build(0x7d7d, "big.example.org", MK_DNS_TYPE_A, 0, buf + 2, 500);
	buf[0] = 0;
	buf[1] = (uint8_t)n;
	ck_assert_int_eq(send(fd, buf, n + 2, 0), n + 2);
	ck_assert_int_eq(read_full(fd, lb, 2), 0);
	ck_assert_int_eq(read_full(fd, a, lb[0] << 8 | lb[1]), 0);
	ck_assert_int_eq(mk_dns_msg_parse(a, lb[0] << 8 | lb[1], m, NULL), 0);
	ck_assert_uint_eq(m->id, 0x7d7d);
	ck_assert(!(m->flags & MK_DNS_FLAG_TC));
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "192.0.2.7"), 1);
	ck_assert_int_eq(__atomic_load_n(&tup.seen, __ATOMIC_SEQ_CST), 1);
	close(fd);
	mk_dns_server_stop(s);
	shutdown(tup.lfd, SHUT_RDWR);
	pthread_join(tup.t, NULL);
	close(tup.lfd);
	fake_up_stop(&up);
	free(m);
}
END_TEST

/* Spoofed answers (wrong ID, wrong question) are ignored; the real one that
 * follows them is relayed. */
START_TEST(forward_rejects_spoof)
{
	struct fake_up up;
	char ups[64];
	fake_up_start(&up, false);
	up.spoof = true;
	snprintf(ups, sizeof(ups), "127.0.0.1:%u", up.port);
	struct mk_dns_server *s = start_server(ups, 1000);
	uint8_t q[512], a[4096];
	struct mk_dns_msg *m = malloc(sizeof(*m));
	int n = mk_dns_query_build(9, "x.example.org", MK_DNS_TYPE_A, 0, q, sizeof(q));
	int an = udp_query(mk_dns_server_port(s), q, n, a, sizeof(a), 5000);
	ck_assert_int_gt(an, 11);
	ck_assert_int_eq(mk_dns_msg_parse(a, an, m, NULL), 0);
	ck_assert_uint_eq(m->id, 9);
	ck_assert_int_eq(answers(m, MK_DNS_TYPE_A, "192.0.2.7"), 1);
	free(m);
	mk_dns_server_stop(s);
	fake_up_stop(&up);
}
END_TEST

START_TEST(server_bad_options)
{
	const char *bad[] = { "not-an-ip", NULL };
	struct mk_dns_server_options o = { .listen = bad, .netns_fd = -1 };
	struct mk_dns_server *s = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_dns_server_start(Z, &o, &s, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	const char *lo[] = { "127.0.0.1", NULL }, *ups[] = { "300.1.1.1", NULL };
	o = (struct mk_dns_server_options){ .listen = lo, .netns_fd = -1, .upstreams = ups };
	ck_assert_int_eq(mk_dns_server_start(Z, &o, &s, &err), -1);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
}
END_TEST

/* The dummy link with the kube-dns address, in a network namespace of this
 * (forked) test process, and the responder bound to that address. */
START_TEST(dummy_link)
{
	if (geteuid() != 0)
		ck_abort_msg("needs root (network namespaces)");
	ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
	struct mk_error *err = NULL;
	char used[16] = "";
	ck_assert_msg(mk_dns_dummy_ensure(-1, "mkdns0", "10.96.0.10/32", used, &err) == 0, "%s",
		      err ? err->msg : "");
	/* "lo" on kernels without the dummy driver */
	ck_assert(strcmp(used, "mkdns0") == 0 || strcmp(used, "lo") == 0);
	ck_assert_int_eq(mk_dns_dummy_ensure(-1, "mkdns0", "10.96.0.10/32", NULL, &err), 0); /* idempotent */
	const char *listen[] = { "10.96.0.10", NULL };
	struct mk_dns_server_options o = { .listen = listen, .port = 53, .workers = 1, .netns_fd = -1 };
	struct mk_dns_server *s = NULL;
	ck_assert_msg(mk_dns_server_start(Z, &o, &s, &err) == 0, "%s", err ? err->msg : "");
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(53) };
	inet_pton(AF_INET, "10.96.0.10", &a.sin_addr);
	uint8_t q[512], b[4096];
	int n = mk_dns_query_build(5, "php-echo.demo.svc.cluster.local", MK_DNS_TYPE_A, 0, q, sizeof(q));
	sendto(fd, q, n, 0, (struct sockaddr *)&a, sizeof(a));
	struct pollfd p = { fd, POLLIN, 0 };
	ck_assert_int_eq(poll(&p, 1, 2000), 1);
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	int an = (int)recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
	ck_assert_int_gt(an, 12);
	ck_assert_uint_eq(from.sin_addr.s_addr, a.sin_addr.s_addr);
	close(fd);
	mk_dns_server_stop(s);
	/* wildcard listen answers from the address the query went to (IP_PKTINFO) */
	const char *any[] = { "0.0.0.0", NULL };
	o.listen = any;
	ck_assert_msg(mk_dns_server_start(Z, &o, &s, &err) == 0, "%s", err ? err->msg : "");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sendto(fd, q, n, 0, (struct sockaddr *)&a, sizeof(a));
	p.fd = fd;
	ck_assert_int_eq(poll(&p, 1, 2000), 1);
	fl = sizeof(from);
	an = (int)recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
	ck_assert_int_gt(an, 12);
	ck_assert_uint_eq(from.sin_addr.s_addr, a.sin_addr.s_addr);
	close(fd);
	mk_dns_server_stop(s);
	ck_assert_int_eq(mk_dns_dummy_delete(-1, "mkdns0", "10.96.0.10/32", &err), 1);
	ck_assert_int_eq(mk_dns_dummy_delete(-1, "mkdns0", "10.96.0.10/32", &err), 0);
}
END_TEST

/* Readers and a writer at once: answers stay well-formed while the zone churns. */
struct churn {
	volatile bool stop;
};
static void *churn_writer(void *arg)
{
	struct churn *c = arg;
	cJSON *svc = cJSON_Parse("{\"metadata\":{\"name\":\"churn\",\"namespace\":\"demo\"},\"spec\":{\"clusterIP\":\"10.96.1.1\",\"ports\":[{\"name\":\"p\",\"port\":1}]}}");
	for (int i = 0; !c->stop; i++) {
		if (i % 2)
			mk_dns_zone_service_upsert(Z, svc, NULL);
		else
			mk_dns_zone_service_delete(Z, "demo", "churn");
	}
	cJSON_Delete(svc);
	return NULL;
}

START_TEST(concurrent_readers)
{
	struct churn c = { false };
	pthread_t t;
	pthread_create(&t, NULL, churn_writer, &c);
	struct mk_dns_msg *m = malloc(sizeof(*m));
	int found = 0, missing = 0;
	for (int i = 0; i < 20000; i++) {
		ask_full(Z, i % 2 ? "churn.demo.svc.cluster.local" : "_p._tcp.churn.demo.svc.cluster.local",
			 i % 2 ? MK_DNS_TYPE_A : MK_DNS_TYPE_SRV, 0, false, false, m, NULL);
		if (m->rcode == MK_DNS_RCODE_NOERROR && m->ancount == 1)
			found++;
		else if (m->rcode == MK_DNS_RCODE_NXDOMAIN)
			missing++;
		else
			ck_abort_msg("unexpected rcode %d ancount %u", m->rcode, m->ancount);
	}
	c.stop = true;
	pthread_join(t, NULL);
	ck_assert_int_eq(found + missing, 20000);
	free(m);
}
END_TEST

static Suite *dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc = tcase_create("codec");
	tcase_add_test(tc, names_round_trip);
	tcase_add_test(tc, query_round_trip);
	suite_add_tcase(s, tc);
	tc = tcase_create("zone");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_clusterip);
	tcase_add_test(tc, srv_named_ports);
	tcase_add_test(tc, headless);
	tcase_add_test(tc, headless_pod_names);
	tcase_add_test(tc, ptr_records);
	tcase_add_test(tc, cname_external);
	tcase_add_test(tc, cname_cluster_target);
	tcase_add_test(tc, pod_records);
	tcase_add_test(tc, nxdomain_nodata);
	tcase_add_test(tc, apex_soa_ns);
	tcase_add_test(tc, custom_domain);
	tcase_add_test(tc, incremental_updates);
	tcase_add_test(tc, edns_and_truncation);
	tcase_add_test(tc, malformed_corpus);
	tcase_add_test(tc, mutation_loop);
	tcase_add_test(tc, concurrent_readers);
	tcase_add_test(tc, resolv_conf);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, server_udp);
	tcase_add_test(tc, server_tcp);
	tcase_add_test(tc, server_forward);
	tcase_add_test(tc, forward_rejects_spoof);
	tcase_add_test(tc, forward_tcp_fallback);
	tcase_add_test(tc, server_bad_options);
	tcase_add_test(tc, dummy_link);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(dns_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
