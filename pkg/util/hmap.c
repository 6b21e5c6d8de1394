/* The project's one hash table: chaining, power-of-two buckets, grows at load 1.
 * Not thread-safe: its owner locks.
 *
 * Keys are C strings copied into the entry (type NULL, the common case, kept on
 * a direct path with no indirect calls) or whatever a struct mk_hmap_type
 * describes, after redis's dict: the DNS zone keys its names by wire-form bytes
 * that live inside the node (mk_hmap_type_bytes). */
#include <string.h>
#include <stdlib.h>
#include "minik8s/util.h"

static uint64_t bytes_hash(const void *key)
{
	const struct mk_hmap_bytes *k = key;
	return mk_fnv1a64(k->data, k->len);
}

static bool bytes_equal(const void *a, const void *b)
{
	const struct mk_hmap_bytes *x = a, *y = b;
	return x->len == y->len && memcmp(x->data, y->data, x->len) == 0;
}

const struct mk_hmap_type mk_hmap_type_bytes = {
	.hash = bytes_hash,
	.equal = bytes_equal,
};

void mk_hmap_init(struct mk_hmap *m)
{
	memset(m, 0, sizeof(*m));
}

void mk_hmap_init_type(struct mk_hmap *m, const struct mk_hmap_type *type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

static uint64_t key_hash(const struct mk_hmap *m, const void *key)
{
	return m->type ? m->type->hash(key) : mk_fnv1a64_str(key);
}

static bool key_equal(const struct mk_hmap *m, const struct mk_hmap_entry *e, const void *key)
{
	return m->type ? m->type->equal(e->key_ptr, key) : !strcmp(e->key, key);
}

static void *key_copy(const struct mk_hmap *m, const void *key)
{
	if (!m->type)
		return mk_strdup(key);
	return m->type->key_dup ? m->type->key_dup(key) : (void *)key;
}

static void key_release(const struct mk_hmap *m, void *key)
{
	if (!m->type)
		free(key);
	else if (m->type->key_dup && m->type->key_free)
		m->type->key_free(key);
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

static struct mk_hmap_entry **find_slot(const struct mk_hmap *m, const void *key, uint64_t h)
{
	if (!m->cap)
		return NULL;
	struct mk_hmap_entry **pp = &m->buckets[h & (m->cap - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && key_equal(m, *pp, key))
			return pp;
	return NULL;
}

struct mk_hmap_entry *mk_hmap_find(const struct mk_hmap *m, const void *key)
{
	struct mk_hmap_entry **pp = find_slot(m, key, key_hash(m, key));
	return pp ? *pp : NULL;
}

void *mk_hmap_get(const struct mk_hmap *m, const void *key)
{
	struct mk_hmap_entry *e = mk_hmap_find(m, key);
	return e ? e->val : NULL;
}

uint64_t mk_hmap_hash(const struct mk_hmap *m, const void *key)
{
	return key_hash(m, key);
}

void *mk_hmap_get_hashed(const struct mk_hmap *m, const void *key, uint64_t hash)
{
	struct mk_hmap_entry **pp = find_slot(m, key, hash);
	return pp ? (*pp)->val : NULL;
}

bool mk_hmap_has(const struct mk_hmap *m, const void *key)
{
	return mk_hmap_find(m, key) != NULL;
}

void *mk_hmap_put(struct mk_hmap *m, const void *key, void *val)
{
	uint64_t h = key_hash(m, key);
	struct mk_hmap_entry **pp = find_slot(m, key, h);
	if (pp) {
		void *old = (*pp)->val;
		(*pp)->val = val;
		/* a borrowed key may live in the old value: take the caller's */
		if (m->type && !m->type->key_dup)
			(*pp)->key_ptr = (void *)key;
		return old;
	}
	if (m->n >= m->cap)
		grow(m);
	struct mk_hmap_entry *e = mk_malloc0(sizeof(*e));
	e->key_ptr = key_copy(m, key);
	e->hash = h;
	e->val = val;
	size_t j = h & (m->cap - 1);
	e->next = m->buckets[j];
	m->buckets[j] = e;
	m->n++;
	return NULL;
}

void *mk_hmap_del(struct mk_hmap *m, const void *key)
{
	struct mk_hmap_entry **pp = find_slot(m, key, key_hash(m, key));
	if (!pp)
		return NULL;
	struct mk_hmap_entry *e = *pp;
	void *val = e->val;
	*pp = e->next;
	key_release(m, e->key_ptr);
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
			/* the key first: a borrowed one may live in the value */
			key_release(m, e->key_ptr);
			if (free_val)
				free_val(e->val);
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
