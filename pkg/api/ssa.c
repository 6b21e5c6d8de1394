/* Server-side apply and metadata.managedFields, after kube-apiserver's field manager
 * (k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager) and the merge library it
 * uses (sigs.k8s.io/structured-merge-diff):
 *  - a field set is a trie of path elements, encoded as fieldsV1: "f:NAME" for a
 *    field, "k:{...}" for the item of a list-map by its keys, "v:VALUE" for the item
 *    of a set, "." for a node that is itself a member beside its children;
 *  - an Update (create, update, patch) gives the writer the fields it added or
 *    changed and takes them from every other manager;
 *  - an Apply merges the applied configuration into the live object by the schema's
 *    list and map types, removes what the applier applied last time and no longer
 *    does (unless someone else owns it), and refuses with a conflict to change a
 *    field another manager owns with another value, unless forced.
 * The schema comes through struct mk_ssa_schema, so custom resources can bring
 * their own (mk_api_ssa_schema_openapi). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- field sets ------------------------------------------------------------------ */

struct mk_api_fieldset {
	char *pe;	/* path element as in fieldsV1 ("f:spec"); NULL at the root */
	bool member;
	struct mk_api_fieldset **kids; /* sorted by pe */
	size_t n, cap;
	char pe_buf[];	/* pe points here: one allocation per node */
};

static struct mk_api_fieldset *fs_new(const char *pe)
{
	size_t len = pe ? strlen(pe) + 1 : 0;
	struct mk_api_fieldset *s = mk_malloc0(sizeof(*s) + len);
	if (pe) {
		memcpy(s->pe_buf, pe, len);
		s->pe = s->pe_buf;
	}
	return s;
}

void mk_api_fieldset_free(struct mk_api_fieldset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		mk_api_fieldset_free(s->kids[i]);
	free(s->kids);
	free(s);
}

static inline void fs_freep(struct mk_api_fieldset **s)
{
	mk_api_fieldset_free(*s);
}
#define _cleanup_fs_ __attribute__((cleanup(fs_freep)))

/* Index of pe among s's children, or where it would go (*found false). */
static size_t fs_find(const struct mk_api_fieldset *s, const char *pe, bool *found)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->kids[mid]->pe, pe);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct mk_api_fieldset *fs_get(const struct mk_api_fieldset *s, const char *pe)
{
	bool found;
	size_t i;
	if (!s)
		return NULL;
	i = fs_find(s, pe, &found);
	return found ? s->kids[i] : NULL;
}

static struct mk_api_fieldset *fs_child(struct mk_api_fieldset *s, const char *pe)
{
	bool found;
	size_t i = fs_find(s, pe, &found);
	if (found)
		return s->kids[i];
	/* not MK_GROW (which starts at 8): a set has a few children as a rule and
	 * an apply builds thousands of sets; the hot path keeps its small start */
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4;
		s->kids = realloc(s->kids, s->cap * sizeof(*s->kids));
		if (!s->kids)
			abort();
	}
	memmove(s->kids + i + 1, s->kids + i, (s->n - i) * sizeof(*s->kids));
	s->kids[i] = fs_new(pe);
	s->n++;
	return s->kids[i];
}

static bool fs_empty(const struct mk_api_fieldset *s)
{
	if (!s)
		return true;
	if (s->member)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (!fs_empty(s->kids[i]))
			return false;
	return true;
}

/* Drops children that hold no member. */
static void fs_compact(struct mk_api_fieldset *s)
{
	size_t o = 0;
	for (size_t i = 0; i < s->n; i++) {
		fs_compact(s->kids[i]);
		if (!s->kids[i]->member && !s->kids[i]->n)
			mk_api_fieldset_free(s->kids[i]);
		else
			s->kids[o++] = s->kids[i];
	}
	s->n = o;
}

/* dst |= src */
static void fs_union_into(struct mk_api_fieldset *dst, const struct mk_api_fieldset *src)
{
	if (!src)
		return;
	dst->member |= src->member;
	for (size_t i = 0; i < src->n; i++)
		fs_union_into(fs_child(dst, src->kids[i]->pe), src->kids[i]);
}

static struct mk_api_fieldset *fs_dup(const struct mk_api_fieldset *s)
{
	struct mk_api_fieldset *d = fs_new(s ? s->pe : NULL);
	fs_union_into(d, s);
	return d;
}

/* dst -= src (members, not subtrees: Set.Difference); dst compacted by the caller. */
static void fs_subtract(struct mk_api_fieldset *dst, const struct mk_api_fieldset *src)
{
	if (!src)
		return;
	if (src->member)
		dst->member = false;
	for (size_t i = 0; i < src->n; i++) {
		struct mk_api_fieldset *d = fs_get(dst, src->kids[i]->pe);
		if (d)
			fs_subtract(d, src->kids[i]);
	}
}

static void fs_difference(struct mk_api_fieldset *dst, const struct mk_api_fieldset *src)
{
	fs_subtract(dst, src);
	fs_compact(dst);
}

/* New set: a & b. */
static struct mk_api_fieldset *fs_intersect(const struct mk_api_fieldset *a,
					    const struct mk_api_fieldset *b)
{
	struct mk_api_fieldset *r = fs_new(a->pe);
	r->member = a->member && b->member;
	for (size_t i = 0; i < a->n; i++) {
		const struct mk_api_fieldset *bk = fs_get(b, a->kids[i]->pe);
		if (!bk)
			continue;
		struct mk_api_fieldset *k = fs_intersect(a->kids[i], bk);
		if (fs_empty(k)) {
			mk_api_fieldset_free(k);
			continue;
		}
		struct mk_api_fieldset *slot = fs_child(r, k->pe);
		fs_union_into(slot, k);
		mk_api_fieldset_free(k);
	}
	return r;
}

/* ---- path elements ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k:" + the key fields as a JSON object with sorted names (the fieldsV1 form). */
static char *key_pe(const cJSON *obj)
{
	size_t n = (size_t)cJSON_GetArraySize(obj), i = 0;
	const char **names = mk_malloc0((n + 1) * sizeof(*names));
	const cJSON *c;
	struct mk_buf b;

	cJSON_ArrayForEach(c, obj) names[i++] = c->string;
	qsort(names, n, sizeof(*names), cmp_str);
	mk_buf_init(&b);
	mk_buf_puts(&b, "k:{");
	for (i = 0; i < n; i++) {
		cJSON *k = cJSON_CreateString(names[i]);
		_cleanup_free_ char *ks = mk_api_json_text(k);
		_cleanup_free_ char *vs =
			mk_api_json_text(cJSON_GetObjectItemCaseSensitive(obj, names[i]));
		cJSON_Delete(k);
		mk_buf_printf(&b, "%s%s:%s", i ? "," : "", ks, vs);
	}
	mk_buf_puts(&b, "}");
	free(names);
	return mk_buf_steal(&b);
}

/* The path element of a list item, or NULL with *why. */
static char *item_pe(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const cJSON *item,
		     char **why)
{
	if (t->shape == MK_SSA_LIST_SET) {
		if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
			*why = mk_strdup("set items must be scalars");
			return NULL;
		}
		_cleanup_free_ char *v = mk_api_json_text(item);
		return mk_strdup_printf("v:%s", v);
	}
	if (!cJSON_IsObject(item)) {
		*why = mk_strdup("associative list items must be objects");
		return NULL;
	}
	_cleanup_cjson_ cJSON *keys = cJSON_CreateObject();
	_cleanup_free_ char *ks = NULL;
	if (t->key_list) {
		struct mk_buf b;
		const cJSON *k;
		mk_buf_init(&b);
		mk_buf_puts(&b, "");
		cJSON_ArrayForEach(k, t->key_list)
			if (cJSON_IsString(k))
				mk_buf_printf(&b, "%s%s", b.len ? "," : "", k->valuestring);
		ks = mk_buf_steal(&b);
	} else {
		ks = mk_strdup(t->keys ? t->keys : "");
	}
	char *save = NULL;
	for (char *k = strtok_r(ks, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(item, k);
		if (!v || cJSON_IsNull(v)) {
			const char *def = s->key_default ? s->key_default(s, t, k) : NULL;
			cJSON *dv = def ? cJSON_Parse(def) : NULL;
			if (!dv) {
				*why = mk_strdup_printf("associative list with keys has an element that "
							"omits key field \"%s\" (and doesn't have default value)",
							k);
				return NULL;
			}
			cJSON_AddItemToObject(keys, k, dv);
			continue;
		}
		if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
			*why = mk_strdup_printf("associative list key field \"%s\" must be a scalar", k);
			return NULL;
		}
		cJSON_AddItemToObject(keys, k, cJSON_Duplicate(v, 1));
	}
	return key_pe(keys);
}

static char *field_pe(const char *name)
{
	return mk_strdup_printf("f:%s", name);
}

/* "f:NAME" in buf when it fits (the usual case), else allocated into *heap. */
static const char *field_pe_buf(char *buf, size_t size, const char *name, char **heap)
{
	size_t n = strlen(name);
	*heap = NULL;
	if (n + 3 <= size) {
		buf[0] = 'f';
		buf[1] = ':';
		memcpy(buf + 2, name, n + 1);
		return buf;
	}
	return *heap = field_pe(name);
}

/* Canonical form of a path element read from fieldsV1, or NULL if malformed. */
static char *canonical_pe(const char *pe)
{
	if (!strncmp(pe, "f:", 2) || !strncmp(pe, "i:", 2))
		return mk_strdup(pe);
	if (!strncmp(pe, "k:", 2) || !strncmp(pe, "v:", 2)) {
		_cleanup_cjson_ cJSON *v = cJSON_Parse(pe + 2);
		if (!v || (pe[0] == 'k' && !cJSON_IsObject(v)))
			return NULL;
		if (pe[0] == 'k')
			return key_pe(v);
		_cleanup_free_ char *s = mk_api_json_text(v);
		return mk_strdup_printf("v:%s", s);
	}
	return NULL;
}

/* Upstream's notation of one path element: ".name", "[k=v,...]", "[=v]", "[i]". */
static void pe_display(struct mk_buf *b, const char *pe)
{
	if (!strncmp(pe, "f:", 2)) {
		mk_buf_printf(b, ".%s", pe + 2);
	} else if (!strncmp(pe, "k:", 2)) {
		_cleanup_cjson_ cJSON *v = cJSON_Parse(pe + 2);
		const cJSON *c;
		int i = 0;
		mk_buf_puts(b, "[");
		cJSON_ArrayForEach(c, v)
		{
			_cleanup_free_ char *vs = mk_api_json_text(c);
			mk_buf_printf(b, "%s%s=%s", i++ ? "," : "", c->string, vs);
		}
		mk_buf_puts(b, "]");
	} else if (!strncmp(pe, "v:", 2)) {
		mk_buf_printf(b, "[=%s]", pe + 2);
	} else {
		mk_buf_printf(b, "[%s]", pe + 2);
	}
}

/* ---- fieldsV1 ---------------------------------------------------------------------- */

static int fs_read(struct mk_api_fieldset *s, const cJSON *j, int depth, struct mk_error **err)
{
	const cJSON *c;

	if (!cJSON_IsObject(j) || depth > 64)
		return mk_error_set(err, EINVAL, "fieldsV1: expected an object");
	if (!j->child) {
		s->member = true;
		return 0;
	}
	cJSON_ArrayForEach(c, j)
	{
		if (!strcmp(c->string, ".")) {
			s->member = true;
			continue;
		}
		_cleanup_free_ char *pe = canonical_pe(c->string);
		if (!pe)
			return mk_error_set(err, EINVAL, "fieldsV1: bad path element '%s'", c->string);
		if (fs_read(fs_child(s, pe), c, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

int mk_api_fieldset_from_json(const cJSON *fields_v1, struct mk_api_fieldset **ret,
			      struct mk_error **err)
{
	struct mk_api_fieldset *s = fs_new(NULL);
	if (cJSON_IsObject(fields_v1) && !fields_v1->child) {
		*ret = s; /* {}: the empty set */
		return 0;
	}
	if (fs_read(s, fields_v1, 0, err) < 0) {
		mk_api_fieldset_free(s);
		return -1;
	}
	s->member = false;
	*ret = s;
	return 0;
}

static cJSON *fs_write(const struct mk_api_fieldset *s)
{
	cJSON *o = cJSON_CreateObject();
	if (s->member && s->n)
		cJSON_AddItemToObject(o, ".", cJSON_CreateObject());
	for (size_t i = 0; i < s->n; i++)
		cJSON_AddItemToObject(o, s->kids[i]->pe, fs_write(s->kids[i]));
	return o;
}

cJSON *mk_api_fieldset_to_json(const struct mk_api_fieldset *s)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; s && i < s->n; i++)
		cJSON_AddItemToObject(o, s->kids[i]->pe, fs_write(s->kids[i]));
	return o;
}

static void fs_paths(const struct mk_api_fieldset *s, struct mk_buf *prefix, cJSON *out)
{
	size_t len = prefix->len;
	for (size_t i = 0; i < s->n; i++) {
		pe_display(prefix, s->kids[i]->pe);
		if (s->kids[i]->member)
			cJSON_AddItemToArray(out, cJSON_CreateString(prefix->data));
		fs_paths(s->kids[i], prefix, out);
		prefix->len = len;
		prefix->data[len] = '\0';
	}
}

cJSON *mk_api_fieldset_paths(const struct mk_api_fieldset *s)
{
	cJSON *out = cJSON_CreateArray();
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	if (s)
		fs_paths(s, &b, out);
	mk_buf_release(&b);
	return out;
}

bool mk_api_fieldset_has(const struct mk_api_fieldset *s, const char *path)
{
	_cleanup_cjson_ cJSON *paths = mk_api_fieldset_paths(s);
	const cJSON *p;
	cJSON_ArrayForEach(p, paths)
		if (!strcmp(p->valuestring, path))
			return true;
	return false;
}

/* ---- typed walks ------------------------------------------------------------------ */

/* A path being walked; its trie nodes are made only when something is inserted. */
struct lazy {
	struct lazy *up;
	const char *pe;
	struct mk_api_fieldset *node[3];
};

static struct mk_api_fieldset *materialize(struct lazy *l, int which)
{
	if (!l->node[which])
		l->node[which] = fs_child(materialize(l->up, which), l->pe);
	return l->node[which];
}

static void lazy_root(struct lazy *l, struct mk_api_fieldset *a, struct mk_api_fieldset *b,
		      struct mk_api_fieldset *c)
{
	memset(l, 0, sizeof(*l));
	l->node[0] = a;
	l->node[1] = b;
	l->node[2] = c;
}

static void lazy_down(struct lazy *l, struct lazy *up, const char *pe)
{
	memset(l, 0, sizeof(*l));
	l->up = up;
	l->pe = pe;
}

static const cJSON *present(const cJSON *v)
{
	return v && !cJSON_IsNull(v) ? v : NULL;
}

/* The shape a value is handled with: free-form objects merge key by key, other
 * free-form values are atomic; a value of the wrong JSON type is atomic too. */
static enum mk_ssa_shape shape_of(const struct mk_ssa_type *t, const cJSON *v)
{
	switch (t->shape) {
	case MK_SSA_UNTYPED:
		return cJSON_IsObject(v) ? MK_SSA_MAP : MK_SSA_ATOMIC;
	case MK_SSA_STRUCT:
	case MK_SSA_MAP:
		return !v || cJSON_IsObject(v) ? t->shape : MK_SSA_ATOMIC;
	case MK_SSA_LIST_SET:
	case MK_SSA_LIST_MAP:
		return !v || cJSON_IsArray(v) ? t->shape : MK_SSA_ATOMIC;
	default:
		return t->shape;
	}
}

static void child_type(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
		       enum mk_ssa_shape sh, const char *name, struct mk_ssa_type *ret, int *named)
{
	if (t->shape == MK_SSA_UNTYPED || sh != t->shape) {
		memset(ret, 0, sizeof(*ret));
		ret->shape = MK_SSA_UNTYPED;
		*named = 0;
		return;
	}
	*named = s->child(s, t, name, ret);
}

/* Path elements of a list's items (NULL entries for items without one). */
struct items {
	char **pe;
	const cJSON **v;
	size_t n;
};

static void items_release(struct items *it)
{
	for (size_t i = 0; i < it->n; i++)
		free(it->pe[i]);
	free(it->pe);
	free(it->v);
}

static char *lazy_path(const struct lazy *l)
{
	struct mk_buf b;
	const struct lazy *chain[128];
	size_t n = 0;
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	for (; l && l->up && n < MK_ARRAY_SIZE(chain); l = l->up)
		chain[n++] = l;
	while (n)
		pe_display(&b, chain[--n]->pe);
	return mk_buf_steal(&b);
}

static int items_index(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
		       const cJSON *list, bool strict, struct items *ret, const struct lazy *at,
		       struct mk_error **err)
{
	size_t n = (size_t)cJSON_GetArraySize(list), i = 0;
	const cJSON *c;

	ret->pe = mk_malloc0((n + 1) * sizeof(*ret->pe));
	ret->v = mk_malloc0((n + 1) * sizeof(*ret->v));
	ret->n = 0;
	cJSON_ArrayForEach(c, list)
	{
		_cleanup_free_ char *why = NULL;
		char *pe = item_pe(s, t, c, &why);
		if (!pe && strict) {
			_cleanup_free_ char *p = lazy_path(at);
			items_release(ret);
			return mk_error_set(err, EINVAL, "%s: element %zu: %s", p, i, why);
		}
		if (pe && strict)
			for (size_t j = 0; j < ret->n; j++)
				if (ret->pe[j] && !strcmp(ret->pe[j], pe)) {
					struct mk_buf b;
					_cleanup_free_ char *p = lazy_path(at);
					mk_buf_init(&b);
					pe_display(&b, pe);
					free(pe);
					items_release(ret);
					mk_error_set(err, EINVAL, "%s: duplicate entries for key %s", p,
						     b.data);
					mk_buf_release(&b);
					return -1;
				}
		ret->pe[ret->n] = pe;
		ret->v[ret->n++] = c;
		i++;
	}
	return 0;
}

static const cJSON *items_find(const struct items *it, const char *pe, size_t *ret_i)
{
	for (size_t i = 0; i < it->n; i++)
		if (it->pe[i] && !strcmp(it->pe[i], pe)) {
			if (ret_i)
				*ret_i = i;
			return it->v[i];
		}
	return NULL;
}

/* ToFieldSet: what v sets. */
static int to_set(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const cJSON *v,
		  struct lazy *at, struct mk_error **err)
{
	enum mk_ssa_shape sh = shape_of(t, v);

	switch (sh) {
	case MK_SSA_STRUCT:
	case MK_SSA_MAP: {
		const cJSON *c;
		cJSON_ArrayForEach(c, v)
		{
			struct mk_ssa_type ct;
			struct lazy l;
			int named;
			char pe_buf[128];
			_cleanup_free_ char *pe_heap = NULL;
			const char *pe = field_pe_buf(pe_buf, sizeof(pe_buf), c->string, &pe_heap);
			child_type(s, t, sh, c->string, &ct, &named);
			lazy_down(&l, at, pe);
			if (cJSON_IsNull(c) || (cJSON_IsObject(c) && !c->child) || named <= 0)
				materialize(&l, 0)->member = true;
			if (!cJSON_IsNull(c) && to_set(s, &ct, c, &l, err) < 0)
				return -1;
		}
		return 0;
	}
	case MK_SSA_LIST_SET:
	case MK_SSA_LIST_MAP: {
		struct items it;
		struct mk_ssa_type et;
		if (items_index(s, t, v, true, &it, at, err) < 0)
			return -1;
		s->elem(s, t, &et);
		for (size_t i = 0; i < it.n; i++) {
			struct lazy l;
			lazy_down(&l, at, it.pe[i]);
			materialize(&l, 0)->member = true;
			if (sh == MK_SSA_LIST_MAP && to_set(s, &et, it.v[i], &l, err) < 0) {
				items_release(&it);
				return -1;
			}
		}
		items_release(&it);
		return 0;
	}
	default:
		if (at->up)
			materialize(at, 0)->member = true;
		return 0;
	}
}

int mk_api_fieldset_from_object(const struct mk_ssa_schema *s, const cJSON *obj,
				struct mk_api_fieldset **ret, struct mk_error **err)
{
	struct mk_api_fieldset *set = fs_new(NULL);
	struct lazy root;

	lazy_root(&root, set, NULL, NULL);
	if (to_set(s, &s->root, obj, &root, err) < 0) {
		mk_api_fieldset_free(set);
		return -1;
	}
	fs_compact(set);
	*ret = set;
	return 0;
}

enum { ADDED, MODIFIED, REMOVED };

static void compare(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const cJSON *l,
		    const cJSON *r, struct lazy *at);

/* One member (name) of a struct or map: from l to r (either may be NULL). */
static void compare_member(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
			   enum mk_ssa_shape sr, struct lazy *at, const char *name, const cJSON *l,
			   const cJSON *r)
{
	struct mk_ssa_type ct;
	struct lazy lz;
	int named;
	char pe_buf[128];
	_cleanup_free_ char *pe_heap = NULL;
	const char *pe = field_pe_buf(pe_buf, sizeof(pe_buf), name, &pe_heap);
	child_type(s, t, sr, name, &ct, &named);
	lazy_down(&lz, at, pe);
	compare(s, &ct, l, r, &lz);
}

/* Compare: what changed from l to r (either may be NULL). */
static void compare(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const cJSON *l,
		    const cJSON *r, struct lazy *at)
{
	l = present(l);
	r = present(r);
	if (!l && !r)
		return;
	enum mk_ssa_shape sl = l ? shape_of(t, l) : MK_SSA_SCALAR, sr = r ? shape_of(t, r) : sl;
	if (!l)
		sl = sr;
	bool leaf = sl != sr || sr == MK_SSA_SCALAR || sr == MK_SSA_ATOMIC;

	if (leaf) {
		if (!at->up)
			return;
		if (!l)
			materialize(at, ADDED)->member = true;
		else if (!r)
			materialize(at, REMOVED)->member = true;
		else if (!cJSON_Compare(l, r, 1))
			materialize(at, MODIFIED)->member = true;
		return;
	}
	if (sr == MK_SSA_STRUCT || sr == MK_SSA_MAP) {
		const cJSON *c;
		/* metadata.managedFields is the bookkeeping itself, never compared */
		bool md = at->up && !at->up->up && !strcmp(at->pe, "f:metadata");
		cJSON_ArrayForEach(c, l)
		{
			if (md && !strcmp(c->string, "managedFields"))
				continue;
			compare_member(s, t, sr, at, c->string, c,
				       r ? cJSON_GetObjectItemCaseSensitive(r, c->string) : NULL);
		}
		cJSON_ArrayForEach(c, r)
		{
			if ((l && cJSON_GetObjectItemCaseSensitive(l, c->string)) ||
			    (md && !strcmp(c->string, "managedFields")))
				continue;
			compare_member(s, t, sr, at, c->string, NULL, c);
		}
	} else {
		struct items li = { 0 }, ri = { 0 };
		struct mk_ssa_type et;
		s->elem(s, t, &et);
		items_index(s, t, l, false, &li, NULL, NULL);
		items_index(s, t, r, false, &ri, NULL, NULL);
		for (size_t i = 0; i < li.n; i++) {
			if (!li.pe[i] || items_find(&li, li.pe[i], NULL) != li.v[i])
				continue; /* no key, or a duplicate: the first counts */
			struct lazy lz;
			lazy_down(&lz, at, li.pe[i]);
			const cJSON *rv = items_find(&ri, li.pe[i], NULL);
			if (sr == MK_SSA_LIST_MAP)
				compare(s, &et, li.v[i], rv, &lz);
			else if (!rv)
				materialize(&lz, REMOVED)->member = true;
		}
		for (size_t i = 0; i < ri.n; i++) {
			if (!ri.pe[i] || items_find(&ri, ri.pe[i], NULL) != ri.v[i] ||
			    items_find(&li, ri.pe[i], NULL))
				continue;
			struct lazy lz;
			lazy_down(&lz, at, ri.pe[i]);
			if (sr == MK_SSA_LIST_MAP)
				compare(s, &et, NULL, ri.v[i], &lz);
			else
				materialize(&lz, ADDED)->member = true;
		}
		items_release(&li);
		items_release(&ri);
	}
	if (at->up) {
		if (!l)
			materialize(at, ADDED)->member = true;
		else if (!r)
			materialize(at, REMOVED)->member = true;
	}
}

struct comparison {
	struct mk_api_fieldset *set[3];
};

static void comparison_release(struct comparison *c)
{
	for (int i = 0; i < 3; i++)
		mk_api_fieldset_free(c->set[i]);
}

static void compare_objects(const struct mk_ssa_schema *s, const cJSON *l, const cJSON *r,
			    struct comparison *ret)
{
	struct lazy root;
	for (int i = 0; i < 3; i++)
		ret->set[i] = fs_new(NULL);
	lazy_root(&root, ret->set[0], ret->set[1], ret->set[2]);
	compare(s, &s->root, l, r, &root);
	for (int i = 0; i < 3; i++)
		fs_compact(ret->set[i]);
}

static cJSON *merge(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const cJSON *l,
		    const cJSON *r);

/* Maps and structs: live's members merged with the applied ones, in live's
 * order, then the applied-only members. */
static cJSON *merge_members(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
			    enum mk_ssa_shape sh, const cJSON *l, const cJSON *r)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *c;
	cJSON_ArrayForEach(c, l)
	{
		const cJSON *rc = cJSON_GetObjectItemCaseSensitive(r, c->string);
		struct mk_ssa_type ct;
		int named;
		child_type(s, t, sh, c->string, &ct, &named);
		cJSON_AddItemToObject(out, c->string, merge(s, &ct, c, rc));
	}
	cJSON_ArrayForEach(c, r)
	{
		if (cJSON_GetObjectItemCaseSensitive(l, c->string))
			continue;
		cJSON_AddItemToObject(out, c->string, cJSON_Duplicate(c, 1));
	}
	return out;
}

/* Lists (map or set): the applied items in the applied order, live-only items
 * where they were relative to the shared ones (as structured-merge-diff orders). */
static cJSON *merge_items(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
			  const cJSON *l, const cJSON *r)
{
	struct items li, ri;
	struct mk_ssa_type et;
	cJSON *out = cJSON_CreateArray();
	s->elem(s, t, &et);
	items_index(s, t, l, false, &li, NULL, NULL);
	items_index(s, t, r, false, &ri, NULL, NULL);
	bool *rdone = mk_malloc0(ri.n + 1);
	size_t *shared = mk_malloc0((ri.n + 1) * sizeof(*shared)), nshared = 0, si = 0;
	for (size_t i = 0; i < ri.n; i++)
		if (ri.pe[i] && items_find(&li, ri.pe[i], NULL))
			shared[nshared++] = i;
	const char *next = nshared ? ri.pe[shared[si++]] : NULL;
	size_t lI = 0, rI = 0;
	while (lI < li.n || rI < ri.n) {
		if (lI < li.n && rI < ri.n) {
			const char *lp = li.pe[lI];
			if (lp && ri.pe[rI] && !strcmp(lp, ri.pe[rI])) {
				rdone[rI] = true;
				cJSON_AddItemToArray(out, merge(s, &et, li.v[lI], ri.v[rI]));
				lI++;
				rI++;
				next = si < nshared ? ri.pe[shared[si++]] : NULL;
				continue;
			}
			if (lp && items_find(&ri, lp, NULL) && next && strcmp(next, lp)) {
				lI++;
				continue;
			}
		}
		if (lI < li.n) {
			size_t at;
			const char *lp = li.pe[lI];
			if (!lp || !items_find(&ri, lp, &at)) {
				cJSON_AddItemToArray(out, cJSON_Duplicate(li.v[lI], 1));
				lI++;
				continue;
			}
			if (rdone[at]) {
				lI++;
				continue;
			}
		}
		if (rI < ri.n) {
			const char *rp = ri.pe[rI];
			rdone[rI] = true;
			cJSON_AddItemToArray(out, merge(s, &et, rp ? items_find(&li, rp, NULL) : NULL,
							ri.v[rI]));
			rI++;
			if (next && rp && !strcmp(next, rp))
				next = si < nshared ? ri.pe[shared[si++]] : NULL;
		}
	}
	free(rdone);
	free(shared);
	items_release(&li);
	items_release(&ri);
	return out;
}

/* Merge: r (the applied configuration) over l (live). Returns a new value. */
static cJSON *merge(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const cJSON *l,
		    const cJSON *r)
{
	l = present(l);
	if (!r)
		return cJSON_Duplicate(l, 1);
	if (!l || cJSON_IsNull(r))
		return cJSON_Duplicate(r, 1);
	enum mk_ssa_shape sh = shape_of(t, r);
	if (shape_of(t, l) != sh)
		return cJSON_Duplicate(r, 1);
	if (sh == MK_SSA_STRUCT || sh == MK_SSA_MAP)
		return merge_members(s, t, sh, l, r);
	if (sh == MK_SSA_LIST_MAP || sh == MK_SSA_LIST_SET)
		return merge_items(s, t, l, r);
	return cJSON_Duplicate(r, 1);
}

/* RemoveItems: deletes from v every member of set (its whole subtree). */
static void remove_items(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, cJSON *v,
			 const struct mk_api_fieldset *set)
{
	enum mk_ssa_shape sh = shape_of(t, v);

	if (!set || !set->n)
		return;
	if (sh == MK_SSA_STRUCT || sh == MK_SSA_MAP) {
		cJSON *c = v->child, *next;
		for (; c; c = next) {
			next = c->next;
			char pe_buf[128];
			_cleanup_free_ char *pe_heap = NULL;
			const char *pe = field_pe_buf(pe_buf, sizeof(pe_buf), c->string, &pe_heap);
			const struct mk_api_fieldset *k = fs_get(set, pe);
			if (!k)
				continue;
			if (k->member) {
				cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
				continue;
			}
			struct mk_ssa_type ct;
			int named;
			child_type(s, t, sh, c->string, &ct, &named);
			remove_items(s, &ct, c, k);
		}
	} else if (sh == MK_SSA_LIST_MAP || sh == MK_SSA_LIST_SET) {
		struct mk_ssa_type et;
		cJSON *c = v->child, *next;
		s->elem(s, t, &et);
		for (; c; c = next) {
			next = c->next;
			_cleanup_free_ char *why = NULL;
			_cleanup_free_ char *pe = item_pe(s, t, c, &why);
			const struct mk_api_fieldset *k = pe ? fs_get(set, pe) : NULL;
			if (!k)
				continue;
			if (k->member)
				cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
			else
				remove_items(s, &et, c, k);
		}
	}
}

/* EnsureNamedFieldsAreMembers: struct fields with members below become members. */
static void ensure_named(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
			 struct mk_api_fieldset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct mk_api_fieldset *k = set->kids[i];
		struct mk_ssa_type ct;
		if (!strncmp(k->pe, "f:", 2) && (t->shape == MK_SSA_STRUCT || t->shape == MK_SSA_MAP)) {
			int named = s->child(s, t, k->pe + 2, &ct);
			if (named == 1)
				k->member = true;
		} else if (!strncmp(k->pe, "k:", 2) && t->shape == MK_SSA_LIST_MAP) {
			s->elem(s, t, &ct);
		} else {
			continue;
		}
		ensure_named(s, &ct, k);
	}
}

/* Removes JSON nulls from objects (an applied null asks for the field unset). */
static void drop_nulls(cJSON *v)
{
	cJSON *c = v ? v->child : NULL, *next;
	for (; c; c = next) {
		next = c->next;
		if (cJSON_IsObject(v) && cJSON_IsNull(c))
			cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
		else
			drop_nulls(c);
	}
}

/* ---- managers ------------------------------------------------------------------------ */

struct manager {
	char *name, *operation, *api_version, *subresource, *time;
	struct mk_api_fieldset *set;
};

struct managers {
	struct manager *m;
	size_t n;
};

static void manager_release(struct manager *m)
{
	free(m->name);
	free(m->operation);
	free(m->api_version);
	free(m->subresource);
	free(m->time);
	mk_api_fieldset_free(m->set);
}

static void managers_release(struct managers *ms)
{
	for (size_t i = 0; i < ms->n; i++)
		manager_release(&ms->m[i]);
	free(ms->m);
	ms->m = NULL;
	ms->n = 0;
}

/* One at a time rather than MK_GROW's 8: an object has one to three managers. */
static struct manager *managers_add(struct managers *ms)
{
	ms->m = realloc(ms->m, (ms->n + 1) * sizeof(*ms->m));
	if (!ms->m)
		abort();
	memset(&ms->m[ms->n], 0, sizeof(*ms->m));
	return &ms->m[ms->n++];
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* Whether e is the manager identified by (name, operation, apiVersion for
 * Update, subresource), as BuildManagerIdentifier keys them. */
static bool manager_is(const struct manager *e, const char *name, const char *operation,
		       const char *api_version, const char *subresource)
{
	return !strcmp(str_or_empty(e->name), str_or_empty(name)) &&
	       !strcmp(e->operation, operation) &&
	       (!strcmp(operation, "Apply") ||
		!strcmp(str_or_empty(e->api_version), str_or_empty(api_version))) &&
	       !strcmp(str_or_empty(e->subresource), str_or_empty(subresource));
}

static struct manager *managers_find(struct managers *ms, const char *name, const char *operation,
				     const char *api_version, const char *subresource)
{
	for (size_t i = 0; i < ms->n; i++)
		if (manager_is(&ms->m[i], name, operation, api_version, subresource))
			return &ms->m[i];
	return NULL;
}

static void managers_drop_empty(struct managers *ms)
{
	size_t o = 0;
	for (size_t i = 0; i < ms->n; i++) {
		fs_compact(ms->m[i].set);
		if (fs_empty(ms->m[i].set)) {
			manager_release(&ms->m[i]);
		} else {
			ms->m[o++] = ms->m[i];
		}
	}
	ms->n = o;
}

static char *json_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? mk_strdup(v->valuestring) : NULL;
}

/* DecodeManagedFields. */
static int managers_decode(const cJSON *mf, struct managers *ret, struct mk_error **err)
{
	const cJSON *e;

	memset(ret, 0, sizeof(*ret));
	if (!mf || cJSON_IsNull(mf))
		return 0;
	if (!cJSON_IsArray(mf))
		return mk_error_set(err, EINVAL, "managedFields must be a list");
	cJSON_ArrayForEach(e, mf)
	{
		const char *op = mk_json_get_string(e, "operation");
		const char *ft = mk_json_get_string(e, "fieldsType");
		if (!cJSON_IsObject(e) || !op || (strcmp(op, "Apply") && strcmp(op, "Update"))) {
			managers_release(ret);
			return mk_error_set(err, EINVAL, "managedFields: operation must be Apply or Update");
		}
		if (!ft || strcmp(ft, "FieldsV1")) {
			managers_release(ret);
			return mk_error_set(err, EINVAL, "managedFields: fieldsType must be FieldsV1");
		}
		struct manager *m = managers_add(ret);
		m->name = json_str(e, "manager");
		m->operation = mk_strdup(op);
		m->api_version = json_str(e, "apiVersion");
		m->subresource = json_str(e, "subresource");
		m->time = json_str(e, "time");
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, "fieldsV1");
		if (!f || cJSON_IsNull(f)) {
			m->set = fs_new(NULL); /* an entry without fields owns nothing */
			continue;
		}
		if (mk_api_fieldset_from_json(f, &m->set, err) < 0) {
			managers_release(ret);
			return -1;
		}
	}
	return 0;
}

static int manager_cmp(const void *a, const void *b)
{
	const struct manager *p = a, *q = b;
	int c = strcmp(p->operation, q->operation);
	if (c)
		return c;
	/* RFC 3339 UTC times of one format sort as text */
	if ((c = strcmp(str_or_empty(p->time), str_or_empty(q->time))))
		return c;
	if ((c = strcmp(str_or_empty(p->name), str_or_empty(q->name))))
		return c;
	if ((c = strcmp(str_or_empty(p->api_version), str_or_empty(q->api_version))))
		return c;
	return strcmp(str_or_empty(p->subresource), str_or_empty(q->subresource));
}

/* EncodeObjectManagedFields, sorted as upstream: operation, time, manager,
 * apiVersion, subresource. */
static cJSON *managers_encode(struct managers *ms)
{
	cJSON *a = cJSON_CreateArray();
	if (ms->n > 1) /* ms->m is NULL when there is none: qsort's pointer is nonnull */
		qsort(ms->m, ms->n, sizeof(*ms->m), manager_cmp);
	for (size_t i = 0; i < ms->n; i++) {
		const struct manager *m = &ms->m[i];
		cJSON *e = cJSON_CreateObject();
		if (m->name)
			cJSON_AddStringToObject(e, "manager", m->name);
		cJSON_AddStringToObject(e, "operation", m->operation);
		if (m->api_version)
			cJSON_AddStringToObject(e, "apiVersion", m->api_version);
		if (m->time)
			cJSON_AddStringToObject(e, "time", m->time);
		cJSON_AddStringToObject(e, "fieldsType", "FieldsV1");
		cJSON_AddItemToObject(e, "fieldsV1", mk_api_fieldset_to_json(m->set));
		if (m->subresource && *m->subresource)
			cJSON_AddStringToObject(e, "subresource", m->subresource);
		cJSON_AddItemToArray(a, e);
	}
	return a;
}

/* The server-owned fields no manager owns (stripMetaManager). */
static void strip_meta(struct mk_api_fieldset *set)
{
	static const char *const top[] = { "f:apiVersion", "f:kind" };
	static const char *const meta[] = { "f:name",	   "f:namespace",	  "f:creationTimestamp",
					    "f:selfLink", "f:uid",		  "f:clusterName",
					    "f:generation", "f:managedFields", "f:resourceVersion" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(top); i++) {
		struct mk_api_fieldset *k = fs_get(set, top[i]);
		if (k)
			k->member = false;
	}
	struct mk_api_fieldset *md = fs_get(set, "f:metadata");
	if (md) {
		md->member = false;
		for (size_t i = 0; i < MK_ARRAY_SIZE(meta); i++) {
			struct mk_api_fieldset *k = fs_get(md, meta[i]);
			if (k)
				k->member = false;
		}
	}
	fs_compact(set);
}

/* obj without metadata.managedFields (a shallow trick: detached and put back by
 * the caller with restore_managed). */
static cJSON *detach_managed(cJSON *obj)
{
	cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	return cJSON_IsObject(md) ? cJSON_DetachItemFromObjectCaseSensitive(md, "managedFields") : NULL;
}

static void set_managed(cJSON *obj, cJSON *mf)
{
	cJSON *md = mk_json_ensure_object(obj, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
	if (mf && cJSON_GetArraySize(mf) > 0)
		cJSON_AddItemToObject(md, "managedFields", mf);
	else
		cJSON_Delete(mf);
}

/* What Go's zero value of a new object looks like to the comparison of a create:
 * the top-level structs and a template's metadata and spec exist (empty). */
static cJSON *empty_like(const cJSON *obj)
{
	cJSON *e = cJSON_CreateObject();
	const cJSON *c;
	cJSON_ArrayForEach(c, obj)
	{
		if (!cJSON_IsObject(c))
			continue;
		cJSON *o = cJSON_AddObjectToObject(e, c->string);
		if (strcmp(c->string, "spec"))
			continue;
		/* a pod spec's containers is not omitempty: null, not absent */
		if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(c, "containers")))
			cJSON_AddArrayToObject(o, "containers");
		if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c, "template"))) {
			cJSON *t = cJSON_AddObjectToObject(o, "template");
			cJSON_AddObjectToObject(t, "metadata");
			cJSON_AddArrayToObject(cJSON_AddObjectToObject(t, "spec"), "containers");
		}
	}
	if (!cJSON_GetObjectItemCaseSensitive(e, "metadata"))
		cJSON_AddObjectToObject(e, "metadata");
	return e;
}

/* The Update step of structured-merge-diff for manager me (may be NULL: nobody
 * gains fields): others lose what changed or went; returns the changed fields
 * (added or modified) in *ret_changed, and with conflicts != NULL (an Apply that
 * is not forced) fills the fields of others that would change instead. */
static void update_others(struct managers *ms, const struct manager *me,
			  const struct comparison *cmp, struct managers *conflicts)
{
	if (ms->n == 0 || (ms->n == 1 && &ms->m[0] == me))
		return;
	_cleanup_fs_ struct mk_api_fieldset *changed = fs_dup(cmp->set[ADDED]);
	fs_union_into(changed, cmp->set[MODIFIED]);
	for (size_t i = 0; i < ms->n; i++) {
		struct manager *m = &ms->m[i];
		if (m == me)
			continue;
		struct mk_api_fieldset *c = fs_intersect(m->set, changed);
		fs_compact(c);
		if (conflicts && !fs_empty(c)) {
			struct manager *x = managers_add(conflicts);
			x->name = m->name ? mk_strdup(m->name) : NULL;
			x->operation = mk_strdup(m->operation);
			x->api_version = m->api_version ? mk_strdup(m->api_version) : NULL;
			x->subresource = m->subresource ? mk_strdup(m->subresource) : NULL;
			x->set = c;
			continue;
		}
		fs_subtract(m->set, c);
		fs_subtract(m->set, cmp->set[REMOVED]);
		mk_api_fieldset_free(c);
	}
}

#define MAX_UPDATE_MANAGERS 10

static int updater_age_cmp(const void *a, const void *b)
{
	const struct manager *p = *(const struct manager *const *)a, *q = *(const struct manager *const *)b;
	int c = strcmp(str_or_empty(p->time), str_or_empty(q->time));
	return c ? c : strcmp(str_or_empty(p->name), str_or_empty(q->name));
}

/* capManagersManager: at most 10 Update entries; the oldest are merged into one
 * "ancient-changes" entry per apiVersion, which takes the newest merged time. */
static void cap_updaters(struct managers *ms)
{
	struct manager **u = mk_malloc0((ms->n + 1) * sizeof(*u));
	size_t nu = 0;
	for (size_t i = 0; i < ms->n; i++)
		if (!strcmp(ms->m[i].operation, "Update"))
			u[nu++] = &ms->m[i];
	if (nu <= MAX_UPDATE_MANAGERS) {
		free(u);
		return;
	}
	qsort(u, nu, sizeof(*u), updater_age_cmp);
	struct manager *bucket = NULL;
	for (size_t i = 0; i < nu && nu - i > MAX_UPDATE_MANAGERS - 1; i++) {
		if (!bucket) {
			bucket = u[i];
			free(bucket->name);
			bucket->name = mk_strdup("ancient-changes");
			continue;
		}
		fs_union_into(bucket->set, u[i]->set);
		free(bucket->time);
		bucket->time = u[i]->time ? mk_strdup(u[i]->time) : NULL;
		mk_api_fieldset_free(u[i]->set); /* emptied: dropped by the caller */
		u[i]->set = fs_new(NULL);
	}
	free(u);
}

int mk_api_managed_update(const struct mk_ssa_schema *s, const cJSON *old, cJSON *obj,
			  const cJSON *sent, const struct mk_api_managed_op *op,
			  struct mk_error **err)
{
	struct managers ms = { 0 };
	struct comparison cmp;
	_cleanup_cjson_ cJSON *empty = NULL;
	(void)err;

	/* decodeLiveOrNew: the client's list when it sent a valid non-empty one, none
	 * when it sent [] or [{}], else the stored one */
	const cJSON *live_mf = old ? mk_json_get(old, "metadata.managedFields") : NULL;
	bool reset = cJSON_IsArray(sent) &&
		     (cJSON_GetArraySize(sent) == 0 ||
		      (cJSON_GetArraySize(sent) == 1 && cJSON_IsObject(sent->child) &&
		       !sent->child->child));
	if (!reset && !(cJSON_IsArray(sent) && cJSON_GetArraySize(sent) > 0 &&
			managers_decode(sent, &ms, NULL) == 0 && ms.n > 0)) {
		managers_release(&ms);
		if (managers_decode(live_mf, &ms, NULL) < 0)
			memset(&ms, 0, sizeof(ms));
	}

	if (!old)
		empty = empty_like(obj);
	compare_objects(s, old ? old : empty, obj, &cmp);

	update_others(&ms, NULL, &cmp, NULL);
	_cleanup_fs_ struct mk_api_fieldset *mine = TAKE_PTR(cmp.set[ADDED]);
	fs_union_into(mine, cmp.set[MODIFIED]);
	strip_meta(mine);
	struct manager *me = managers_find(&ms, op->manager, "Update", op->api_version,
					   op->subresource);
	if (me)
		fs_difference(me->set, cmp.set[REMOVED]);
	if (!fs_empty(mine)) {
		if (!me) {
			me = managers_add(&ms);
			me->name = mk_strdup(str_or_empty(op->manager));
			me->operation = mk_strdup("Update");
			me->api_version = mk_strdup(op->api_version);
			me->subresource = op->subresource ? mk_strdup(op->subresource) : NULL;
			me->set = TAKE_PTR(mine);
		} else {
			fs_union_into(me->set, mine);
		}
		free(me->time);
		me->time = mk_strdup(op->now);
	}
	comparison_release(&cmp);
	for (size_t i = 0; i < ms.n; i++)
		strip_meta(ms.m[i].set);
	managers_drop_empty(&ms);
	cap_updaters(&ms);
	managers_drop_empty(&ms);
	set_managed(obj, managers_encode(&ms));
	managers_release(&ms);
	return 0;
}

/* ---- apply -------------------------------------------------------------------------- */

static cJSON *conflict_status(struct managers *conflicts)
{
	struct mk_buf msg;
	cJSON *causes = cJSON_CreateArray();
	size_t total = 0;
	char *first_path = NULL, *first_mgr = NULL;

	mk_buf_init(&msg);
	/* by manager identifier, which starts with the name and operation */
	for (size_t i = 0; i < conflicts->n; i++)
		for (size_t j = i + 1; j < conflicts->n; j++) {
			struct manager *a = &conflicts->m[i], *b = &conflicts->m[j];
			int c = strcmp(str_or_empty(a->name), str_or_empty(b->name));
			if (c > 0 || (!c && strcmp(a->operation, b->operation) > 0)) {
				struct manager t = *a;
				*a = *b;
				*b = t;
			}
		}
	for (size_t i = 0; i < conflicts->n; i++) {
		const struct manager *m = &conflicts->m[i];
		struct mk_buf who;
		mk_buf_init(&who);
		mk_buf_printf(&who, "\"%s\"", str_or_empty(m->name));
		if (m->subresource && *m->subresource)
			mk_buf_printf(&who, " with subresource \"%s\"", m->subresource);
		if (!strcmp(m->operation, "Update"))
			mk_buf_printf(&who, " using %s", str_or_empty(m->api_version));
		_cleanup_cjson_ cJSON *paths = mk_api_fieldset_paths(m->set);
		const cJSON *p;
		mk_buf_printf(&msg, "\nconflicts with %s:", who.data);
		cJSON_ArrayForEach(p, paths)
		{
			cJSON *c = cJSON_CreateObject();
			_cleanup_free_ char *cm = mk_strdup_printf("conflict with %s", who.data);
			cJSON_AddStringToObject(c, "type", "FieldManagerConflict");
			cJSON_AddStringToObject(c, "message", cm);
			cJSON_AddStringToObject(c, "field", p->valuestring);
			cJSON_AddItemToArray(causes, c);
			mk_buf_printf(&msg, "\n- %s", p->valuestring);
			if (!total++) {
				first_path = mk_strdup(p->valuestring);
				first_mgr = mk_strdup(who.data);
			}
		}
		mk_buf_release(&who);
	}
	_cleanup_free_ char *text =
		total == 1 ? mk_strdup_printf("Apply failed with 1 conflict: conflict with %s: %s",
					      first_mgr, first_path)
			   : mk_strdup_printf("Apply failed with %zu conflicts: %s", total,
					      msg.data + 1);
	free(first_path);
	free(first_mgr);
	mk_buf_release(&msg);
	cJSON *st = cJSON_CreateObject();
	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddObjectToObject(st, "metadata");
	cJSON_AddStringToObject(st, "status", "Failure");
	cJSON_AddStringToObject(st, "message", text);
	cJSON_AddStringToObject(st, "reason", "Conflict");
	cJSON *d = cJSON_AddObjectToObject(st, "details");
	cJSON_AddItemToObject(d, "causes", causes);
	cJSON_AddNumberToObject(st, "code", 409);
	return st;
}

/* Fields of the client-side apply annotation whose live value is still the one
 * last applied: kubectl's own conflicts there are upgrades, not conflicts
 * (lastAppliedManager). NULL when there is no annotation. */
static struct mk_api_fieldset *last_applied_allowed(const struct mk_ssa_schema *s,
						    const cJSON *live)
{
	const cJSON *ja = cJSON_GetObjectItemCaseSensitive(mk_json_get(live, "metadata.annotations"),
							   "kubectl.kubernetes.io/last-applied-configuration");
	const char *la = cJSON_IsString(ja) ? ja->valuestring : NULL;
	if (!la || !*la)
		return NULL;
	_cleanup_cjson_ cJSON *last = cJSON_Parse(la);
	struct mk_api_fieldset *set = NULL;
	struct comparison cmp;
	if (!cJSON_IsObject(last) || mk_api_fieldset_from_object(s, last, &set, NULL) < 0)
		return NULL;
	compare_objects(s, last, live, &cmp);
	fs_difference(set, cmp.set[MODIFIED]);
	comparison_release(&cmp);
	return set;
}

static bool conflicts_within(struct managers *conflicts, const struct mk_api_fieldset *allowed)
{
	for (size_t i = 0; i < conflicts->n; i++) {
		_cleanup_fs_ struct mk_api_fieldset *c = fs_dup(conflicts->m[i].set);
		fs_difference(c, allowed);
		if (!fs_empty(c))
			return false;
	}
	return true;
}

static int apply_once(const struct mk_ssa_schema *s, const cJSON *live, const cJSON *config,
		      bool force, const struct mk_api_managed_op *op, struct managers *ms,
		      cJSON **ret_obj, struct managers *conflicts, struct mk_error **err)
{
	_cleanup_fs_ struct mk_api_fieldset *applied = NULL;
	_cleanup_cjson_ cJSON *merged = NULL;
	struct comparison cmp;

	if (mk_api_fieldset_from_object(s, config, &applied, err) < 0)
		return -1;
	strip_meta(applied);
	merged = merge(s, &s->root, live, config);
	drop_nulls(merged);

	struct manager *me = managers_find(ms, op->manager, "Apply", NULL, op->subresource);
	if (!me) {
		me = managers_add(ms);
		me->name = mk_strdup(op->manager);
		me->operation = mk_strdup("Apply");
		me->subresource = op->subresource ? mk_strdup(op->subresource) : NULL;
	}
	struct mk_api_fieldset *last = me->set;
	me->set = fs_dup(applied);
	free(me->api_version);
	me->api_version = mk_strdup(op->api_version);

	/* prune: what this manager applied last time and nobody owns now goes */
	if (last && !fs_empty(last)) {
		_cleanup_fs_ struct mk_api_fieldset *owned = fs_new(NULL);
		for (size_t i = 0; i < ms->n; i++)
			fs_union_into(owned, ms->m[i].set);
		ensure_named(s, &s->root, owned);
		ensure_named(s, &s->root, last);
		fs_difference(last, owned);
		remove_items(s, &s->root, merged, last);
	}
	mk_api_fieldset_free(last);

	compare_objects(s, live, merged, &cmp);
	update_others(ms, me, &cmp, force ? NULL : conflicts);
	comparison_release(&cmp);
	if (conflicts && conflicts->n && !force)
		return 1;
	if (!cJSON_Compare(live, merged, 1) || !me->time) {
		free(me->time);
		me->time = mk_strdup(op->now);
	}
	*ret_obj = TAKE_PTR(merged);
	return 0;
}

/* An object nobody manages yet: its fields belong to "before-first-apply",
 * so an apply conflicts with what is there (skipNonAppliedManager). */
static void adopt_unmanaged(const struct mk_ssa_schema *s, const cJSON *base,
			    const struct mk_api_managed_op *op, struct managers *ms)
{
	struct comparison cmp;
	_cleanup_cjson_ cJSON *empty = empty_like(base);
	compare_objects(s, empty, base, &cmp);
	strip_meta(cmp.set[ADDED]);
	if (!fs_empty(cmp.set[ADDED])) {
		struct manager *m = managers_add(ms);
		m->name = mk_strdup("before-first-apply");
		m->operation = mk_strdup("Update");
		m->api_version = mk_strdup(op->api_version);
		m->time = mk_strdup(op->now);
		m->set = fs_dup(cmp.set[ADDED]);
	}
	comparison_release(&cmp);
}

/* kubectl's server-side apply keeps the client-side apply annotation of obj in
 * step with config, so client-side apply keeps working (lastAppliedUpdater). */
static void update_last_applied(cJSON *obj, const cJSON *config)
{
	cJSON *ann = mk_json_get(obj, "metadata.annotations");
	if (!cJSON_GetObjectItemCaseSensitive(ann, "kubectl.kubernetes.io/last-applied-configuration"))
		return;
	_cleanup_cjson_ cJSON *la = cJSON_Duplicate(config, 1);
	cJSON *la_ann = mk_json_get(la, "metadata.annotations");
	if (la_ann)
		cJSON_DeleteItemFromObjectCaseSensitive(la_ann,
							"kubectl.kubernetes.io/last-applied-configuration");
	_cleanup_free_ char *text = mk_api_json_text(la);
	mk_json_set_string(ann, "kubectl.kubernetes.io/last-applied-configuration", text);
}

int mk_api_managed_apply(const struct mk_ssa_schema *s, const cJSON *live, const cJSON *config,
			 bool force, const struct mk_api_managed_op *op, cJSON **ret_obj,
			 cJSON **ret_status, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *base = live ? cJSON_Duplicate(live, 1) : cJSON_CreateObject();
	_cleanup_cjson_ cJSON *cfg = cJSON_Duplicate(config, 1);
	cJSON *obj = NULL;
	struct managers ms = { 0 }, conflicts = { 0 };
	int r;

	if (mk_json_get(cfg, "metadata.managedFields"))
		return mk_error_set(err, EINVAL, "metadata.managedFields must be nil");
	_cleanup_cjson_ cJSON *mf = detach_managed(base);
	if (managers_decode(mf, &ms, err) < 0)
		return mk_error_wrap(err, "failed to decode managed fields");

	if (live && ms.n == 0)
		adopt_unmanaged(s, base, op, &ms);

	/* keep a copy to retry with force (the client-side apply upgrade) */
	cJSON *saved = managers_encode(&ms);
	r = apply_once(s, base, cfg, force, op, &ms, &obj, &conflicts, err);
	if (r == 1 && op->manager && !strcmp(op->manager, "kubectl")) {
		_cleanup_fs_ struct mk_api_fieldset *allowed = last_applied_allowed(s, base);
		if (allowed && conflicts_within(&conflicts, allowed)) {
			managers_release(&ms);
			managers_release(&conflicts);
			managers_decode(saved, &ms, NULL);
			r = apply_once(s, base, cfg, true, op, &ms, &obj, NULL, err);
		}
	}
	cJSON_Delete(saved);
	if (r < 0) {
		managers_release(&ms);
		managers_release(&conflicts);
		return -1;
	}
	if (r == 1) {
		*ret_status = conflict_status(&conflicts);
		managers_release(&ms);
		managers_release(&conflicts);
		return 1;
	}
	managers_release(&conflicts);
	for (size_t i = 0; i < ms.n; i++)
		strip_meta(ms.m[i].set);

	if (op->manager && !strcmp(op->manager, "kubectl"))
		update_last_applied(obj, config);
	managers_drop_empty(&ms);
	set_managed(obj, managers_encode(&ms));
	managers_release(&ms);
	*ret_obj = obj;
	return 0;
}

/* ---- OpenAPI v3 schemas (custom resources) ------------------------------------------ */

static void oa_resolve(const cJSON *sch, struct mk_ssa_type *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->ref = sch;
	const char *type = mk_json_get_string(sch, "type");
	const char *lt = mk_json_get_string(sch, "x-kubernetes-list-type");
	const char *mt = mk_json_get_string(sch, "x-kubernetes-map-type");
	if (!sch || cJSON_IsTrue(cJSON_GetObjectItem(sch, "x-kubernetes-preserve-unknown-fields")) ||
	    cJSON_IsTrue(cJSON_GetObjectItem(sch, "x-kubernetes-int-or-string"))) {
		ret->shape = cJSON_IsTrue(cJSON_GetObjectItem(sch, "x-kubernetes-int-or-string"))
				     ? MK_SSA_SCALAR
				     : MK_SSA_UNTYPED;
		return;
	}
	if (type && !strcmp(type, "array")) {
		if (lt && !strcmp(lt, "map")) {
			ret->shape = MK_SSA_LIST_MAP;
			ret->key_list = cJSON_GetObjectItem(sch, "x-kubernetes-list-map-keys");
		} else if (lt && !strcmp(lt, "set")) {
			ret->shape = MK_SSA_LIST_SET;
		} else {
			ret->shape = MK_SSA_ATOMIC;
		}
		return;
	}
	if (type && !strcmp(type, "object")) {
		if (mt && !strcmp(mt, "atomic"))
			ret->shape = MK_SSA_ATOMIC;
		else if (cJSON_GetObjectItem(sch, "properties"))
			ret->shape = MK_SSA_STRUCT;
		else
			ret->shape = MK_SSA_MAP;
		return;
	}
	ret->shape = type ? MK_SSA_SCALAR : MK_SSA_UNTYPED;
}

static int oa_child(const struct mk_ssa_schema *s, const struct mk_ssa_type *t, const char *name,
		    struct mk_ssa_type *ret)
{
	(void)s;
	const cJSON *sch = t->ref;
	const cJSON *p = mk_json_get(sch, "properties");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(p, name);
	if (f) {
		oa_resolve(f, ret);
		return 1;
	}
	/* apiVersion, kind and metadata of a custom resource are the usual ones */
	const cJSON *ap = cJSON_GetObjectItem(sch, "additionalProperties");
	if (cJSON_IsObject(ap)) {
		oa_resolve(ap, ret);
		return 0;
	}
	memset(ret, 0, sizeof(*ret));
	ret->shape = MK_SSA_UNTYPED;
	return p ? -1 : 0;
}

static void oa_elem(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
		    struct mk_ssa_type *ret)
{
	(void)s;
	oa_resolve(mk_json_get((const cJSON *)t->ref, "items"), ret);
}

static const char *oa_key_default(const struct mk_ssa_schema *s, const struct mk_ssa_type *t,
				  const char *key)
{
	(void)s;
	(void)t;
	(void)key;
	return NULL;
}

void mk_api_ssa_schema_openapi(const cJSON *openapi, struct mk_ssa_schema *ret)
{
	memset(ret, 0, sizeof(*ret));
	oa_resolve(openapi, &ret->root);
	if (ret->root.shape == MK_SSA_MAP || ret->root.shape == MK_SSA_UNTYPED)
		ret->root.shape = MK_SSA_STRUCT;
	ret->child = oa_child;
	ret->elem = oa_elem;
	ret->key_default = oa_key_default;
	ret->data = openapi;
}
