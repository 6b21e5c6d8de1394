/* A string-keyed hash table with chaining (FNV-1a, power-of-two buckets, grows at
 * load 1). Not thread-safe: its owner locks. */
#include <string.h>
#include <stdlib.h>
#include "minik8s/util.h"

void mk_hmap_init(struct mk_hmap *m)
{
	memset(m, 0, sizeof(*m));
}

static void grow(struct mk_hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct mk_hmap_entry **nb = mk_malloc0(ncap * sizeof(*nb));
	for (size_t i = 0; i < m->cap; i++) {
		struct mk_hmap_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			size_t j = e->hash & (ncap - 1);
			e->next = nb[j];
			nb[j] = e;
		}
	}
	free(m->buckets);
	m->buckets = nb;
	m->cap = ncap;
}

static struct mk_hmap_entry **find_slot(const struct mk_hmap *m, const char *key, uint64_t h)
{
	if (!m->cap)
		return NULL;
	struct mk_hmap_entry **pp = &m->buckets[h & (m->cap - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && !strcmp((*pp)->key, key))
			return pp;
	return NULL;
}

struct mk_hmap_entry *mk_hmap_find(const struct mk_hmap *m, const char *key)
{
	struct mk_hmap_entry **pp = find_slot(m, key, mk_fnv1a64_str(key));
	return pp ? *pp : NULL;
}

void *mk_hmap_get(const struct mk_hmap *m, const char *key)
{
	struct mk_hmap_entry *e = mk_hmap_find(m, key);
	return e ? e->val : NULL;
}

bool mk_hmap_has(const struct mk_hmap *m, const char *key)
{
	return mk_hmap_find(m, key) != NULL;
}

void *mk_hmap_put(struct mk_hmap *m, const char *key, void *val)
{
	uint64_t h = mk_fnv1a64_str(key);
	struct mk_hmap_entry **pp = find_slot(m, key, h);
	if (pp) {
		void *old = (*pp)->val;
		(*pp)->val = val;
		return old;
	}
	if (m->n >= m->cap)
		grow(m);
	struct mk_hmap_entry *e = mk_malloc0(sizeof(*e));
	e->key = mk_strdup(key);
	e->hash = h;
	e->val = val;
	size_t j = h & (m->cap - 1);
	e->next = m->buckets[j];
	m->buckets[j] = e;
	m->n++;
	return NULL;
}

void *mk_hmap_del(struct mk_hmap *m, const char *key)
{
	struct mk_hmap_entry **pp = find_slot(m, key, mk_fnv1a64_str(key));
	if (!pp)
		return NULL;
	struct mk_hmap_entry *e = *pp;
	void *val = e->val;
	*pp = e->next;
	free(e->key);
	free(e);
	m->n--;
	return val;
}

void mk_hmap_release(struct mk_hmap *m, void (*free_val)(void *))
{
	for (size_t i = 0; i < m->cap; i++) {
		struct mk_hmap_entry *e = m->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			if (free_val)
				free_val(e->val);
			free(e->key);
			free(e);
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

struct mk_hmap_entry *mk_hmap_iter_next(const struct mk_hmap *m, struct mk_hmap_iter *it)
{
	if (it->e && it->e->next) {
		it->e = it->e->next;
		return it->e;
	}
	for (it->b = it->e ? it->b + 1 : 0; it->b < m->cap; it->b++) {
		if (m->buckets[it->b]) {
			it->e = m->buckets[it->b];
			return it->e;
		}
	}
	it->e = NULL;
	return NULL;
}
