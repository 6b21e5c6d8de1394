/* The scheduler's cache (kube-scheduler's internal cache, simplified): per node,
 * the parsed allocatable, readiness and cordon, and the running totals of what its
 * non-terminated pods request (cpu, memory, count), bound or assumed; per
 * controller and node, the number of its pods there (for spreading replicas). The
 * totals change by the delta of each pod transition the informer reports (the
 * transitions of one object telescope, so the order in which handler threads
 * deliver them does not matter) and by assume / forget, so a scheduling decision
 * reads O(1) per node and never walks pods. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

struct sched_cache {
	pthread_mutex_t mu;
	struct mk_hmap
	    nodes; /* name -> struct sched_node (also nodes that are gone but hold pods) */
	struct sched_node **live; /* nodes that exist, for the decision loop */
	size_t nlive, livecap;
	struct mk_hmap assumed; /* pod key -> struct assumed */
	struct mk_hmap owners;	/* owner uid -> struct owner */
	size_t *free_ids;	/* ids of dropped nodes, for reuse */
	size_t nfree, freecap, next_id;
	struct mk_hmap reports; /* pod key -> struct report: failures the reporter writes */
	struct report *last;	/* the last report put (a reference), shared when alike */
};

/* An unschedulable pod's report waiting for the reporter (scheduler.c): its
 * message, shared by the pods that failed for the same reason one after another
 * (a flood of pods that fit nowhere waits with one copy of the words). */
struct report {
	unsigned refs; /* under sched_cache.mu */
	char msg[];
};

static void report_unref(struct report *r)
{
	if (r && --r->refs == 0)
		free(r);
}

static void report_free(void *p)
{
	report_unref(p);
}

/* A controller's pods per node, by node id: one lookup per decision, then an
 * array read per node (a table keyed by owner and node cost a hash lookup, with
 * its cache misses, per node). */
struct owner {
	long *by_id;
	size_t cap;
	long total;
};

/* What one pod adds to its node's totals. */
struct contrib {
	const char *node; /* NULL: nothing (unbound or terminated) */
	const char *owner;
	int64_t cpu, mem;
};

struct assumed {
	char *node, *owner;
	int64_t cpu, mem;
};

static bool terminated(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

static void contrib_of(const cJSON *pod, const char *node, struct contrib *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!pod || !node || !*node || terminated(pod))
		return;
	const cJSON *cref = mk_api_controller_ref(pod);
	ret->node = node;
	ret->owner = cref ? mk_json_get_string(cref, "uid") : NULL;
	mk_api_pod_requests(mk_json_get(pod, "spec"), &ret->cpu, &ret->mem);
}

static struct sched_node *node_get(struct sched_cache *c, const char *name)
{
	struct sched_node *n = mk_hmap_get(&c->nodes, name);
	if (!n) {
		n = mk_malloc0(sizeof(*n));
		n->name = mk_strdup(name);
		n->live_idx = SIZE_MAX;
		n->id = c->nfree ? c->free_ids[--c->nfree] : c->next_id++;
		mk_hmap_put(&c->nodes, name, n);
	}
	return n;
}

static void node_free(void *v)
{
	struct sched_node *n = v;
	if (!n)
		return;
	mk_object_unref(n->obj);
	free(n->name);
	free(n);
}

/* Drops a node that is gone and holds no pods. */
static void node_maybe_drop(struct sched_cache *c, struct sched_node *n)
{
	if (!n->obj && n->npods == 0) {
		/* its owner counts are all 0 (they count a subset of npods): the id is free */
		MK_GROW(c->free_ids, c->freecap, c->nfree + 1);
		c->free_ids[c->nfree++] = n->id;
		mk_hmap_del(&c->nodes, n->name);
		node_free(n);
	}
}

static int64_t sat_add(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	return a + b;
}

static void owner_free(void *v)
{
	struct owner *o = v;
	if (o) {
		free(o->by_id);
		free(o);
	}
}

static void owner_add(struct sched_cache *c, const char *uid, size_t id, int sign)
{
	if (!uid || !*uid)
		return;
	struct owner *o = mk_hmap_get(&c->owners, uid);
	if (!o) {
		o = mk_malloc0(sizeof(*o));
		mk_hmap_put(&c->owners, uid, o);
	}
	if (id >= o->cap) {
		size_t old = o->cap;
		MK_GROW(o->by_id, o->cap, id + 1);
		memset(o->by_id + old, 0, (o->cap - old) * sizeof(*o->by_id));
	}
	o->by_id[id] += sign;
	o->total += sign;
	if (o->total == 0)
		owner_free(mk_hmap_del(&c->owners, uid));
}

/* Adds (sign 1) or removes (-1) a pod's share of its node's totals (locked). */
static void apply(struct sched_cache *c, const char *node, const char *owner, int64_t cpu,
		  int64_t mem, int sign)
{
	if (!node)
		return;
	struct sched_node *n = node_get(c, node);
	n->req_cpu = sign > 0 ? sat_add(n->req_cpu, cpu) : n->req_cpu - cpu;
	n->req_mem = sign > 0 ? sat_add(n->req_mem, mem) : n->req_mem - mem;
	n->npods += sign;
	owner_add(c, owner, n->id, sign);
	if (sign < 0)
		node_maybe_drop(c, n);
}

static void assumed_free(void *v)
{
	struct assumed *a = v;
	if (a) {
		free(a->node);
		free(a->owner);
		free(a);
	}
}

struct sched_cache *sched_cache_new(void)
{
	struct sched_cache *c = mk_malloc0(sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	mk_hmap_init(&c->nodes);
	mk_hmap_init(&c->assumed);
	mk_hmap_init(&c->owners);
	mk_hmap_init(&c->reports);
	return c;
}

void sched_cache_free(struct sched_cache *c)
{
	if (!c)
		return;
	mk_hmap_release(&c->nodes, node_free);
	mk_hmap_release(&c->assumed, assumed_free);
	mk_hmap_release(&c->owners, owner_free);
	mk_hmap_release(&c->reports, report_free);
	report_unref(c->last);
	free(c->live);
	free(c->free_ids);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void sched_cache_lock(struct sched_cache *c)
{
	pthread_mutex_lock(&c->mu);
}

void sched_cache_unlock(struct sched_cache *c)
{
	pthread_mutex_unlock(&c->mu);
}

size_t sched_cache_nodes(struct sched_cache *c, struct sched_node *const **ret)
{
	*ret = c->live;
	return c->nlive;
}

const long *sched_cache_owner_counts(struct sched_cache *c, const char *owner, size_t *ret_n)
{
	const struct owner *o = owner && *owner ? mk_hmap_get(&c->owners, owner) : NULL;
	*ret_n = o ? o->cap : 0;
	return o ? o->by_id : NULL;
}

long sched_cache_owner_count(struct sched_cache *c, const char *owner, const char *node)
{
	const struct sched_node *n = mk_hmap_get(&c->nodes, node);
	size_t cap;
	const long *v = sched_cache_owner_counts(c, owner, &cap);
	return n && n->id < cap ? v[n->id] : 0;
}

/* A quantity of allocatable, or -1 when the node does not report it. */
static int64_t alloc_milli(const cJSON *alloc, const char *name)
{
	if (!cJSON_GetObjectItemCaseSensitive(alloc, name))
		return -1;
	return mk_api_resource_list_milli(alloc, name);
}

/* The live nodes are kept sorted by name (a node added or removed costs O(nodes),
 * rare), so the decision loop breaks ties by order, without comparing names. */
static void live_renumber(struct sched_cache *c, size_t from)
{
	for (size_t i = from; i < c->nlive; i++)
		c->live[i]->live_idx = i;
}

static void live_insert(struct sched_cache *c, struct sched_node *n)
{
	size_t lo = 0, hi = c->nlive;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(c->live[mid]->name, n->name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	MK_GROW(c->live, c->livecap, c->nlive + 1);
	memmove(c->live + lo + 1, c->live + lo, (c->nlive - lo) * sizeof(*c->live));
	c->live[lo] = n;
	c->nlive++;
	live_renumber(c, lo);
}

static void live_remove(struct sched_cache *c, struct sched_node *n)
{
	size_t i = n->live_idx;
	memmove(c->live + i, c->live + i + 1, (c->nlive - i - 1) * sizeof(*c->live));
	c->nlive--;
	n->live_idx = SIZE_MAX;
	live_renumber(c, i);
}

void sched_cache_node_update(struct sched_cache *c, const struct mk_object *old,
			     const struct mk_object *new)
{
	const struct mk_object *o = new ? new : old;
	const char *name = o ? mk_json_get_string(o->json, "metadata.name") : NULL;
	if (!name)
		return;
	pthread_mutex_lock(&c->mu);
	struct sched_node *n = node_get(c, name);
	mk_object_unref(n->obj);
	n->obj = NULL;
	n->taints = NULL;
	if (new) {
		const cJSON *node = new->json;
		const cJSON *alloc = mk_json_get(node, "status.allocatable");
		n->obj = mk_object_ref((struct mk_object *)new);
		n->has_alloc = cJSON_IsObject(alloc);
		n->alloc_cpu = n->has_alloc ? alloc_milli(alloc, "cpu") : -1;
		int64_t m = n->has_alloc ? alloc_milli(alloc, "memory") : -1;
		n->alloc_mem = m < 0 ? -1 : m / 1000;
		int64_t p = n->has_alloc ? alloc_milli(alloc, "pods") : -1;
		n->alloc_pods = p < 0 ? -1 : p / 1000;
		const char *ready = mk_json_get_string(find_condition(node, "Ready"), "status");
		n->ready = ready && !strcmp(ready, "True");
		n->unschedulable = cJSON_IsTrue(mk_json_get(node, "spec.unschedulable"));
		const cJSON *taints = mk_json_get(node, "spec.taints");
		n->taints = cJSON_GetArraySize(taints) > 0 ? taints : NULL;
		if (n->live_idx == SIZE_MAX)
			live_insert(c, n);
	} else {
		if (n->live_idx != SIZE_MAX)
			live_remove(c, n);
		node_maybe_drop(c, n);
	}
	pthread_mutex_unlock(&c->mu);
}

/* Locked: drops the assumption on key and its share of the totals. */
static void forget_locked(struct sched_cache *c, const char *key)
{
	struct assumed *a = mk_hmap_del(&c->assumed, key);
	if (a) {
		apply(c, a->node, a->owner, a->cpu, a->mem, -1);
		assumed_free(a);
	}
}

void sched_cache_pod_update(struct sched_cache *c, const char *key, const cJSON *old,
			    const cJSON *new, bool drop_assumed)
{
	struct contrib co, cn;
	contrib_of(old, old ? mk_json_get_string(old, "spec.nodeName") : NULL, &co);
	contrib_of(new, new ? mk_json_get_string(new, "spec.nodeName") : NULL, &cn);
	pthread_mutex_lock(&c->mu);
	if (drop_assumed)
		forget_locked(c, key);
	/* add before removing, so a node that only moves a pod is not dropped */
	apply(c, cn.node, cn.owner, cn.cpu, cn.mem, 1);
	apply(c, co.node, co.owner, co.cpu, co.mem, -1);
	pthread_mutex_unlock(&c->mu);
}

void sched_cache_assume(struct sched_cache *c, const char *key, const cJSON *pod, const char *node)
{
	struct contrib ct;
	contrib_of(pod, node, &ct);
	struct assumed *a = mk_malloc0(sizeof(*a));
	a->node = mk_strdup(node);
	a->owner = ct.owner ? mk_strdup(ct.owner) : NULL;
	a->cpu = ct.cpu;
	a->mem = ct.mem;
	pthread_mutex_lock(&c->mu);
	forget_locked(c, key);
	mk_hmap_put(&c->assumed, key, a);
	apply(c, a->node, a->owner, a->cpu, a->mem, 1);
	pthread_mutex_unlock(&c->mu);
}

void sched_cache_forget(struct sched_cache *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	forget_locked(c, key);
	pthread_mutex_unlock(&c->mu);
}

char *sched_cache_assumed_node(struct sched_cache *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	struct assumed *a = mk_hmap_get(&c->assumed, key);
	char *r = a ? mk_strdup(a->node) : NULL;
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void report_put(struct sched_cache *c, const char *key, const char *msg, bool replace)
{
	pthread_mutex_lock(&c->mu);
	if (!replace && mk_hmap_get(&c->reports, key)) {
		pthread_mutex_unlock(&c->mu);
		return;
	}
	if (!c->last || strcmp(c->last->msg, msg)) {
		report_unref(c->last);
		size_t n = strlen(msg) + 1;
		c->last = mk_malloc0(sizeof(*c->last) + n);
		memcpy(c->last->msg, msg, n);
		c->last->refs = 1;
	}
	c->last->refs++;
	report_unref(mk_hmap_put(&c->reports, key, c->last));
	pthread_mutex_unlock(&c->mu);
}

void sched_cache_report_put(struct sched_cache *c, const char *key, const char *msg)
{
	report_put(c, key, msg, true);
}

void sched_cache_report_put_new(struct sched_cache *c, const char *key, const char *msg)
{
	report_put(c, key, msg, false);
}

char *sched_cache_report_take(struct sched_cache *c, const char *key)
{
	char *msg = NULL;
	pthread_mutex_lock(&c->mu);
	struct report *r = mk_hmap_del(&c->reports, key);
	if (r) {
		msg = mk_strdup(r->msg);
		report_unref(r);
	}
	pthread_mutex_unlock(&c->mu);
	return msg;
}
