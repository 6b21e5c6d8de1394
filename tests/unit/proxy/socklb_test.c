/* The socket LB's map sync logic (pkg/proxy/socklb_plan.c): which frontends it
 * takes, and that every plan, applied op by op to a model of the three maps,
 * keeps each state a concurrent connect() could see valid and ends exactly at
 * the new service (no leftover backend or counter). */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/proxy.h"

TCase *socklb_tcase(void);

static uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return htonl(a << 24 | b << 16 | c << 8 | d);
}

/* a service at cip with ports (protocol, port, endpoint count; endpoints
 * 10.244.0.(base+i):8080) */
struct pspec {
	uint8_t proto;
	uint16_t port;
	size_t n;
	unsigned base;
};

static struct mk_proxy_service *mksvc(uint32_t cip, const struct pspec *ps, size_t np)
{
	struct mk_proxy_service *s = calloc(1, sizeof(*s));
	s->key = strdup("default/web");
	s->cluster_ip = cip;
	s->n_ports = np;
	s->ports = calloc(np ? np : 1, sizeof(*s->ports));
	for (size_t i = 0; i < np; i++) {
		struct mk_proxy_port *p = &s->ports[i];
		p->name = strdup("");
		p->protocol = ps[i].proto;
		p->port = ps[i].port;
		p->n_endpoints = ps[i].n;
		p->endpoints = calloc(ps[i].n ? ps[i].n : 1, sizeof(*p->endpoints));
		for (size_t j = 0; j < ps[i].n; j++)
			p->endpoints[j] = (struct mk_proxy_endpoint){ ip4(10, 244, 0, ps[i].base + j), 8080 };
	}
	return s;
}

START_TEST(frontends_taken)
{
	struct pspec ps[] = { { IPPROTO_TCP, 80, 2, 1 }, { IPPROTO_UDP, 53, 1, 5 },
			      { IPPROTO_SCTP, 9, 1, 7 }, { IPPROTO_TCP, 81, 0, 0 } };
	struct mk_proxy_service *s = mksvc(ip4(10, 96, 0, 7), ps, 4);
	struct mk_proxy_socklb_frontend fe[8];
	/* SCTP and a port without endpoints stay on the nft path */
	ck_assert_uint_eq(mk_proxy_socklb_frontends(s, fe, 8), 2);
	ck_assert_uint_eq(fe[0].port, 80);
	ck_assert_uint_eq(fe[0].n, 2);
	ck_assert_uint_eq(fe[1].protocol, IPPROTO_UDP);
	ck_assert_uint_eq(fe[1].eps[0].ip, ip4(10, 244, 0, 5));
	ck_assert_uint_eq(mk_proxy_socklb_frontends(s, fe, 1), 1);
	/* internalTrafficPolicy Local: the local endpoints, none: not taken */
	s->int_local = true;
	s->ports[0].n_local = 1;
	s->ports[0].local = calloc(1, sizeof(*s->ports[0].local));
	s->ports[0].local[0] = s->ports[0].endpoints[1];
	ck_assert_uint_eq(mk_proxy_socklb_frontends(s, fe, 8), 1);
	ck_assert_uint_eq(fe[0].n, 1);
	ck_assert_uint_eq(fe[0].eps[0].ip, ip4(10, 244, 0, 2));
	/* ClientIP affinity: nothing (the nft engine's affinity map does it) */
	s->affinity_timeout = 10800;
	ck_assert_uint_eq(mk_proxy_socklb_frontends(s, fe, 8), 0);
	ck_assert_uint_eq(mk_proxy_socklb_frontends(NULL, fe, 8), 0);
	mk_proxy_service_free(s);
}
END_TEST

START_TEST(plan_from_nothing_orders_count_last)
{
	struct pspec ps[] = { { IPPROTO_TCP, 80, 3, 1 } };
	struct mk_proxy_service *s = mksvc(ip4(10, 96, 0, 7), ps, 1);
	struct mk_proxy_socklb_op *ops = NULL;
	size_t n = 0;
	mk_proxy_socklb_plan(NULL, s, &ops, &n);
	/* 3 counters, 3 backends, then the frontend with count 3 */
	ck_assert_uint_eq(n, 7);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(ops[i].kind, MK_SOCKLB_ADD_COUNTER);
	for (size_t i = 3; i < 6; i++) {
		ck_assert_int_eq(ops[i].kind, MK_SOCKLB_SET_BACKEND);
		ck_assert_uint_eq(ops[i].index, i - 3);
	}
	ck_assert_int_eq(ops[6].kind, MK_SOCKLB_SET_FRONTEND);
	ck_assert_uint_eq(ops[6].count, 3);
	ck_assert_uint_eq(ops[6].fe_ip, ip4(10, 96, 0, 7));
	free(ops);
	/* unchanged: nothing to write */
	mk_proxy_socklb_plan(s, s, &ops, &n);
	ck_assert_uint_eq(n, 0);
	free(ops);
	mk_proxy_service_free(s);
}
END_TEST

/* ---- a model of the three maps ---------------------------------------------- */

#define MAXE 512
struct fe_e { uint32_t ip; uint16_t port; uint8_t proto; uint32_t count; };
struct be_e { uint32_t ip; uint16_t port; uint8_t proto; uint32_t index; struct mk_proxy_endpoint ep; };
struct cnt_e { uint32_t ip; uint16_t port; uint8_t proto; struct mk_proxy_endpoint ep; };
struct maps {
	struct fe_e fe[MAXE];
	size_t nfe;
	struct be_e be[MAXE];
	size_t nbe;
	struct cnt_e cnt[MAXE];
	size_t ncnt;
};

#define SAMEFE(a, b) ((a)->ip == (b)->fe_ip && (a)->port == (b)->fe_port && (a)->proto == (b)->protocol)

static void apply(struct maps *m, const struct mk_proxy_socklb_op *o)
{
	size_t i;
	switch (o->kind) {
	case MK_SOCKLB_SET_FRONTEND:
		for (i = 0; i < m->nfe && !SAMEFE(&m->fe[i], o); i++)
			;
		if (i == m->nfe)
			m->nfe++;
		m->fe[i] = (struct fe_e){ o->fe_ip, o->fe_port, o->protocol, o->count };
		break;
	case MK_SOCKLB_DEL_FRONTEND:
		for (i = 0; i < m->nfe; i++)
			if (SAMEFE(&m->fe[i], o))
				m->fe[i--] = m->fe[--m->nfe];
		break;
	case MK_SOCKLB_SET_BACKEND:
		for (i = 0; i < m->nbe && !(SAMEFE(&m->be[i], o) && m->be[i].index == o->index); i++)
			;
		if (i == m->nbe)
			m->nbe++;
		m->be[i] = (struct be_e){ o->fe_ip, o->fe_port, o->protocol, o->index, o->ep };
		break;
	case MK_SOCKLB_DEL_BACKEND:
		for (i = 0; i < m->nbe; i++)
			if (SAMEFE(&m->be[i], o) && m->be[i].index == o->index)
				m->be[i--] = m->be[--m->nbe];
		break;
	case MK_SOCKLB_ADD_COUNTER:
		for (i = 0; i < m->ncnt; i++)
			ck_assert(!(SAMEFE(&m->cnt[i], o) && m->cnt[i].ep.ip == o->ep.ip &&
				    m->cnt[i].ep.port == o->ep.port)); /* a counter is created once */
		m->cnt[m->ncnt++] = (struct cnt_e){ o->fe_ip, o->fe_port, o->protocol, o->ep };
		break;
	case MK_SOCKLB_DEL_COUNTER:
		for (i = 0; i < m->ncnt; i++)
			if (SAMEFE(&m->cnt[i], o) && m->cnt[i].ep.ip == o->ep.ip && m->cnt[i].ep.port == o->ep.port)
				m->cnt[i--] = m->cnt[--m->ncnt];
		break;
	}
	ck_assert(m->nfe < MAXE && m->nbe < MAXE && m->ncnt < MAXE);
}

/* what connect() may see: every index below a frontend's count has a backend */
static void check_consistent(const struct maps *m)
{
	for (size_t i = 0; i < m->nfe; i++) {
		ck_assert_uint_gt(m->fe[i].count, 0);
		for (uint32_t k = 0; k < m->fe[i].count; k++) {
			bool found = false;
			for (size_t j = 0; j < m->nbe && !found; j++)
				found = m->be[j].ip == m->fe[i].ip && m->be[j].port == m->fe[i].port &&
					m->be[j].proto == m->fe[i].proto && m->be[j].index == k;
			ck_assert_msg(found, "frontend %zu: index %u without backend", i, k);
		}
	}
}

/* the maps hold exactly s's frontends, backends and counters */
static void check_exact(const struct maps *m, const struct mk_proxy_service *s)
{
	struct mk_proxy_socklb_frontend fe[16];
	size_t n = mk_proxy_socklb_frontends(s, fe, 16), nbe = 0;
	ck_assert_uint_eq(m->nfe, n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < m->nfe && !found; j++)
			found = m->fe[j].ip == fe[i].ip && m->fe[j].port == fe[i].port &&
				m->fe[j].proto == fe[i].protocol && m->fe[j].count == fe[i].n;
		ck_assert(found);
		for (size_t k = 0; k < fe[i].n; k++) {
			found = false;
			for (size_t j = 0; j < m->nbe && !found; j++)
				found = m->be[j].ip == fe[i].ip && m->be[j].port == fe[i].port &&
					m->be[j].proto == fe[i].protocol && m->be[j].index == k &&
					m->be[j].ep.ip == fe[i].eps[k].ip && m->be[j].ep.port == fe[i].eps[k].port;
			ck_assert_msg(found, "backend %zu of frontend %zu", k, i);
		}
		nbe += fe[i].n;
	}
	ck_assert_uint_eq(m->nbe, nbe);
	ck_assert_uint_eq(m->ncnt, nbe); /* one counter per (frontend, endpoint) */
}

/* random services: 0-3 ports over two cluster IPs, 0-6 endpoints each, affinity
 * now and then; 400 transitions, every one checked op by op */
START_TEST(plan_random_transitions_stay_consistent)
{
	struct maps *m = calloc(1, sizeof(*m));
	struct mk_proxy_service *cur = NULL;
	srand(1234);
	for (int step = 0; step < 400; step++) {
		struct mk_proxy_service *next = NULL;
		if (rand() % 10) {
			struct pspec ps[3];
			size_t np = (size_t)(rand() % 4);
			for (size_t i = 0; i < np; i++)
				ps[i] = (struct pspec){ rand() % 2 ? IPPROTO_TCP : IPPROTO_UDP,
							(uint16_t)(80 + i), (size_t)(rand() % 7),
							(unsigned)(1 + rand() % 5) };
			next = mksvc(rand() % 5 ? ip4(10, 96, 0, 7) : ip4(10, 96, 0, 8), ps, np);
			if (rand() % 15 == 0)
				next->affinity_timeout = 60;
		}
		struct mk_proxy_socklb_op *ops = NULL;
		size_t n = 0;
		mk_proxy_socklb_plan(cur, next, &ops, &n);
		for (size_t i = 0; i < n; i++) {
			apply(m, &ops[i]);
			check_consistent(m);
		}
		check_exact(m, next);
		free(ops);
		mk_proxy_service_free(cur);
		cur = next;
	}
	mk_proxy_service_free(cur);
	free(m);
}
END_TEST

TCase *socklb_tcase(void)
{
	TCase *tc = tcase_create("socklb");
	tcase_add_test(tc, frontends_taken);
	tcase_add_test(tc, plan_from_nothing_orders_count_last);
	tcase_add_test(tc, plan_random_transitions_stay_consistent);
	return tc;
}
