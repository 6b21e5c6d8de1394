/* A list at an older revision (resourceVersionMatch=Exact), for backends without a
 * multi-version engine (SQLite: the current objects and an event log): the newest
 * list rolled back through the events after rv. An object whose first change after
 * rv is ADDED did not exist at rv; one whose first change is MODIFIED or DELETED
 * existed, as its newest event at or before rv recorded it, which must still be in
 * the log (else the answer is ERANGE, as kube-apiserver's "too old resource version"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct change {
	char *ns, *name;	/* borrowed from ev */
	uint64_t rv;		/* the first change after the list's revision */
	enum mk_store_event_type type;
	struct mk_store_event *ev; /* reference */
	char *state;		/* the object at the list's revision (owned), if it existed */
	bool existed;
	bool from_log;		/* state read from the events at or before rv */
};

static int cmp_key(const char *ans, const char *aname, const char *bns, const char *bname)
{
	int c = strcmp(ans ? ans : "", bns ? bns : "");
	return c ? c : strcmp(aname, bname);
}

static int cmp_change(const void *a, const void *b)
{
	const struct change *x = a, *y = b;
	int c = cmp_key(x->ns, x->name, y->ns, y->name);
	if (c)
		return c;
	return x->rv < y->rv ? -1 : x->rv > y->rv;
}

struct item {
	char *ns, *name, *json; /* owned */
};

static int cmp_item(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	return cmp_key(x->ns, x->name, y->ns, y->name);
}

static struct change *find(struct change *c, size_t n, const char *ns, const char *name)
{
	struct change key = { .ns = (char *)ns, .name = (char *)name, .rv = 0 };
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = cmp_key(c[mid].ns, c[mid].name, key.ns, key.name);
		if (r == 0)
			return &c[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static bool matches(const struct mk_store_event *ev, const char *resource, const char *ns)
{
	return !strcmp(ev->resource, resource) && (!ns || !*ns || !strcmp(ev->ns ? ev->ns : "", ns));
}

/* calls fn for every event with after < rv <= upto, in order; ERANGE at a hole */
static int each_event(struct mk_store *s, uint64_t after, uint64_t upto,
		      int (*fn)(struct mk_store_event *ev, void *ud), void *ud, uint64_t list_rv,
		      struct mk_error **err)
{
	struct mk_store_event *buf[MK_STORE_DB_FETCH];
	uint64_t pos = after;
	while (pos < upto) {
		size_t n = 0;
		if (s->ops->events(s, pos, upto + 1, MK_STORE_DB_FETCH, buf, &n, err) < 0)
			return -1;
		int r = 0;
		for (size_t i = 0; i < n; i++) {
			if (r == 0 && buf[i]->rv != pos + 1)
				r = mk_error_set(err, ERANGE,
						 "too old resource version: %llu (its history was "
						 "compacted)",
						 (unsigned long long)list_rv);
			if (r == 0) {
				pos = buf[i]->rv;
				r = fn(buf[i], ud);
			}
			mk_store_event_unref(buf[i]);
		}
		if (r < 0)
			return -1;
		if (n == 0)
			return mk_error_set(err, ERANGE,
					    "too old resource version: %llu (its history was compacted)",
					    (unsigned long long)list_rv);
	}
	return 0;
}

struct collect {
	const char *resource, *ns;
	struct change *c;
	size_t n, cap;
};

static int collect_change(struct mk_store_event *ev, void *ud)
{
	struct collect *k = ud;
	if (!matches(ev, k->resource, k->ns))
		return 0;
	MK_GROW(k->c, k->cap, k->n + 1);
	k->c[k->n++] = (struct change){ .ns = ev->ns, .name = ev->name, .rv = ev->rv,
					 .type = ev->type, .ev = store_event_ref(ev) };
	return 0;
}

static int collect_state(struct mk_store_event *ev, void *ud)
{
	struct collect *k = ud;
	if (!matches(ev, k->resource, k->ns))
		return 0;
	struct change *c = find(k->c, k->n, ev->ns, ev->name);
	if (c && c->from_log) {
		free(c->state);
		c->state = ev->type == MK_STORE_DELETED ? NULL : mk_strdup(ev->json);
	}
	return 0;
}

/* Into k: each object of k's resource changed after rv (up to upto), with its state
 * at rv when it existed then. ERANGE when that history is gone. */
static int changes_since(struct mk_store *s, uint64_t rv, uint64_t upto, struct collect *k,
			 struct mk_error **err)
{
	if (rv < __atomic_load_n(&s->compacted, __ATOMIC_ACQUIRE)) {
		mk_error_set(err, ERANGE,
			     "too old resource version: %llu (its history was compacted)",
			     (unsigned long long)rv);
		return -1;
	}
	if (each_event(s, rv, upto, collect_change, k, rv, err) < 0)
		return -1;
	/* one entry per object: its first change after rv */
	if (k->n)
		qsort(k->c, k->n, sizeof(*k->c), cmp_change);
	size_t w = 0;
	for (size_t i = 0; i < k->n; i++) {
		if (w && !cmp_key(k->c[w - 1].ns, k->c[w - 1].name, k->c[i].ns, k->c[i].name)) {
			mk_store_event_unref(k->c[i].ev);
			continue;
		}
		k->c[w] = k->c[i];
		k->c[w].existed = k->c[w].type != MK_STORE_ADDED;
		w++;
	}
	k->n = w;
	/* the state at rv is the first change's previous state when its event
	 * holds one (a MODIFIED event's old object); a DELETED event (its object
	 * carries the deletion's resourceVersion) or a MODIFIED one read back
	 * without it sends us to the events at or before rv */
	bool need = false;
	for (size_t i = 0; i < k->n; i++) {
		struct change *c = &k->c[i];
		const char *prev = c->type == MK_STORE_MODIFIED ? c->ev->old_json : NULL;
		if (c->existed && prev)
			c->state = mk_strdup(prev);
		c->from_log = c->existed && !prev;
		need |= c->from_log;
	}
	if (need) {
		uint64_t from = __atomic_load_n(&s->compacted, __ATOMIC_ACQUIRE);
		if (each_event(s, from, rv, collect_state, k, rv, err) < 0)
			return -1;
		for (size_t i = 0; i < k->n; i++)
			if (k->c[i].existed && !k->c[i].state) {
				mk_error_set(err, ERANGE,
					     "too old resource version: %llu (the state of "
					     "'%s' then was compacted)",
					     (unsigned long long)rv, k->c[i].name);
				return -1;
			}
	}
	return 0;
}

static int roll_back(struct mk_store *s, const char *resource, const char *ns, uint64_t rv,
		     struct mk_store_list *cur, mk_store_filter_fn filter, void *userdata,
		     struct mk_store_list *ret, struct mk_error **err);

int mk_store_list_at(struct mk_store *s, const char *resource, const char *ns, uint64_t rv,
		     mk_store_filter_fn filter, void *userdata, struct mk_store_list *ret,
		     struct mk_error **err)
{
	if (!resource || !*resource)
		return mk_error_set(err, EINVAL, "store: list needs a resource");
	if (rv == 0)
		return mk_store_list(s, resource, ns, filter, userdata, ret, err);
	if (rv > mk_store_revision(s))
		return mk_error_set(err, EOVERFLOW, "too large resource version: %llu, current: %llu",
				    (unsigned long long)rv,
				    (unsigned long long)mk_store_revision(s));
	if (s->ops->list_at)
		return s->ops->list_at(s, resource, ns, rv, filter, userdata, ret, err);

	struct mk_store_list now = { 0 };
	if (s->ops->list(s, resource, ns, NULL, NULL, &now, err) < 0)
		return -1;
	return roll_back(s, resource, ns, rv, &now, filter, userdata, ret, err);
}

int mk_store_list_at_from(struct mk_store *s, const char *resource, const char *ns,
			  uint64_t rv, struct mk_store_list *cur, struct mk_error **err)
{
	struct mk_store_list l = { 0 };
	int r;
	if (rv >= cur->rv)
		return 0;
	if (s->ops->list_at) {
		r = s->ops->list_at(s, resource, ns, rv, NULL, NULL, &l, err);
	} else {
		struct mk_store_list now = *cur;
		*cur = (struct mk_store_list){ 0 };
		r = roll_back(s, resource, ns, rv, &now, NULL, NULL, &l, err);
	}
	mk_store_list_release(cur);
	if (r == 0)
		*cur = l;
	return r;
}

/* The list at rv from now (the newest list, unfiltered; taken and released) rolled
 * back through the events after rv; filter applies to the result. */
static int roll_back(struct mk_store *s, const char *resource, const char *ns, uint64_t rv,
		     struct mk_store_list *cur, mk_store_filter_fn filter, void *userdata,
		     struct mk_store_list *ret, struct mk_error **err)
{
	struct mk_store_list now = *cur;
	struct collect k = { .resource = resource, .ns = ns };
	struct item *items = NULL;
	size_t n_items = 0, cap_items = 0;
	int r = -1;

	if (rv < now.rv && changes_since(s, rv, now.rv, &k, err) < 0)
		goto out;
	/* the objects unchanged since rv, and the others as they were */
	for (size_t i = 0; i < now.n; i++) {
		_cleanup_cjson_ cJSON *o = cJSON_Parse(now.items[i]);
		const char *ins = mk_json_get_string(o, "metadata.namespace");
		const char *name = mk_json_get_string(o, "metadata.name");
		if (!name || (k.n && find(k.c, k.n, ins, name)))
			continue;
		MK_GROW(items, cap_items, n_items + 1);
		items[n_items++] = (struct item){ .ns = mk_strdup(ins ? ins : ""),
						  .name = mk_strdup(name),
						  .json = TAKE_PTR(now.items[i]) };
	}
	for (size_t i = 0; i < k.n; i++) {
		if (!k.c[i].existed)
			continue;
		MK_GROW(items, cap_items, n_items + 1);
		items[n_items++] = (struct item){ .ns = mk_strdup(k.c[i].ns ? k.c[i].ns : ""),
						  .name = mk_strdup(k.c[i].name),
						  .json = TAKE_PTR(k.c[i].state) };
	}
	if (n_items)
		qsort(items, n_items, sizeof(*items), cmp_item);
	struct mk_store_list l = { .rv = rv };
	if (n_items)
		l.items = mk_malloc0(n_items * sizeof(*l.items));
	for (size_t i = 0; i < n_items; i++) {
		if (!filter || filter(items[i].json, userdata))
			l.items[l.n++] = TAKE_PTR(items[i].json);
	}
	*ret = l;
	r = 0;
out:
	for (size_t i = 0; i < n_items; i++) {
		free(items[i].ns);
		free(items[i].name);
		free(items[i].json);
	}
	free(items);
	for (size_t i = 0; i < k.n; i++) {
		free(k.c[i].state);
		mk_store_event_unref(k.c[i].ev);
	}
	free(k.c);
	mk_store_list_release(&now);
	return r;
}
