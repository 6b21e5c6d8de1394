/* The socket LB's map sync logic (pure): which frontends of a service it
 * balances, and the ordered map writes from one version of a service to the
 * next. pkg/proxy/socklb.c applies them to the kernel's maps. */
#include <netinet/in.h>
#include <string.h>

#include "minik8s/proxy.h"

size_t mk_proxy_socklb_frontends(const struct mk_proxy_service *s,
				 struct mk_proxy_socklb_frontend *out, size_t max)
{
	size_t n = 0;
	/* ClientIP affinity needs the nft engine's affinity map: not ours */
	if (!s || s->affinity_timeout)
		return 0;
	for (size_t i = 0; i < s->n_ports && n < max; i++) {
		const struct mk_proxy_port *p = &s->ports[i];
		if (p->protocol != IPPROTO_TCP && p->protocol != IPPROTO_UDP)
			continue;
		/* the same endpoint choice as the nft engine's ClusterIP frontend */
		size_t cnt = s->int_local ? p->n_local : p->n_endpoints;
		const struct mk_proxy_endpoint *eps = s->int_local ? p->local : p->endpoints;
		/* no endpoint: the nft path rejects (or drops) the connection */
		if (cnt == 0)
			continue;
		out[n++] = (struct mk_proxy_socklb_frontend){
			.ip = s->cluster_ip, .port = p->port, .protocol = p->protocol, .n = cnt, .eps = eps
		};
	}
	return n;
}

struct plan {
	struct mk_proxy_socklb_op *ops;
	size_t n, cap;
};

static void push(struct plan *p, enum mk_proxy_socklb_op_kind kind,
		 const struct mk_proxy_socklb_frontend *fe, uint32_t index, uint32_t count,
		 const struct mk_proxy_endpoint *ep)
{
	MK_GROW(p->ops, p->cap, p->n + 1);
	p->ops[p->n++] = (struct mk_proxy_socklb_op){
		.kind = kind, .fe_ip = fe->ip, .fe_port = fe->port, .protocol = fe->protocol,
		.index = index, .count = count, .ep = ep ? *ep : (struct mk_proxy_endpoint){ 0 },
	};
}

static bool same_fe(const struct mk_proxy_socklb_frontend *a, const struct mk_proxy_socklb_frontend *b)
{
	return a->ip == b->ip && a->port == b->port && a->protocol == b->protocol;
}

static bool same_ep(const struct mk_proxy_endpoint *a, const struct mk_proxy_endpoint *b)
{
	return a->ip == b->ip && a->port == b->port;
}

static bool has_ep(const struct mk_proxy_socklb_frontend *fe, const struct mk_proxy_endpoint *ep)
{
	for (size_t i = 0; fe && i < fe->n; i++)
		if (same_ep(&fe->eps[i], ep))
			return true;
	return false;
}

/* old (may be NULL) -> nw for one frontend */
static void plan_frontend(struct plan *p, const struct mk_proxy_socklb_frontend *old,
			  const struct mk_proxy_socklb_frontend *nw)
{
	size_t old_n = old ? old->n : 0;
	for (size_t i = 0; i < nw->n; i++)
		if (!has_ep(old, &nw->eps[i]))
			push(p, MK_SOCKLB_ADD_COUNTER, nw, 0, 0, &nw->eps[i]);
	for (size_t i = 0; i < nw->n; i++)
		if (i >= old_n || !same_ep(&old->eps[i], &nw->eps[i]))
			push(p, MK_SOCKLB_SET_BACKEND, nw, (uint32_t)i, 0, &nw->eps[i]);
	if (old_n != nw->n)
		push(p, MK_SOCKLB_SET_FRONTEND, nw, 0, (uint32_t)nw->n, NULL);
	for (size_t i = nw->n; i < old_n; i++)
		push(p, MK_SOCKLB_DEL_BACKEND, nw, (uint32_t)i, 0, NULL);
	for (size_t i = 0; i < old_n; i++)
		if (!has_ep(nw, &old->eps[i]))
			push(p, MK_SOCKLB_DEL_COUNTER, nw, 0, 0, &old->eps[i]);
}

static void plan_remove(struct plan *p, const struct mk_proxy_socklb_frontend *old)
{
	push(p, MK_SOCKLB_DEL_FRONTEND, old, 0, 0, NULL);
	for (size_t i = 0; i < old->n; i++)
		push(p, MK_SOCKLB_DEL_BACKEND, old, (uint32_t)i, 0, NULL);
	for (size_t i = 0; i < old->n; i++)
		push(p, MK_SOCKLB_DEL_COUNTER, old, 0, 0, &old->eps[i]);
}

/* a service has at most this many ports worth balancing here */
#define MAX_FE 256

void mk_proxy_socklb_plan(const struct mk_proxy_service *old, const struct mk_proxy_service *new,
			  struct mk_proxy_socklb_op **ret, size_t *ret_n)
{
	struct mk_proxy_socklb_frontend of[MAX_FE], nf[MAX_FE];
	size_t on = mk_proxy_socklb_frontends(old, of, MAX_FE);
	size_t nn = mk_proxy_socklb_frontends(new, nf, MAX_FE);
	struct plan p = { 0 };

	/* frontends that go away first (a ClusterIP change frees the old key) */
	for (size_t i = 0; i < on; i++) {
		bool kept = false;
		for (size_t j = 0; j < nn && !kept; j++)
			kept = same_fe(&of[i], &nf[j]);
		if (!kept)
			plan_remove(&p, &of[i]);
	}
	for (size_t j = 0; j < nn; j++) {
		const struct mk_proxy_socklb_frontend *o = NULL;
		for (size_t i = 0; i < on && !o; i++)
			if (same_fe(&of[i], &nf[j]))
				o = &of[i];
		plan_frontend(&p, o, &nf[j]);
	}
	*ret = p.ops;
	*ret_n = p.n;
}
