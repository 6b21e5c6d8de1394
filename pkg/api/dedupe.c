/* Duplicate member names in request bodies. JSON allows them, cJSON keeps them all
 * and its lookups find the first, while Go's encoding/json (kube-apiserver, kubectl,
 * every client-go program) keeps the last. Left alone, validation would check one
 * value and Go clients reading the stored object would see another, so bodies are
 * reduced to what kube-apiserver decodes: the last member of each name wins. */
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

struct member {
	cJSON *item;
	size_t pos;
};

static int member_cmp(const void *x, const void *y)
{
	const struct member *a = x, *b = y;
	int c = strcmp(a->item->string ? a->item->string : "", b->item->string ? b->item->string : "");
	if (c)
		return c;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static void dedupe_object(cJSON *obj)
{
	size_t n = 0, i;
	cJSON *it;
	struct member *m;

	for (it = obj->child; it; it = it->next)
		n++;
	if (n < 2)
		return;
	m = mk_malloc0(n * sizeof(*m));
	for (it = obj->child, i = 0; it; it = it->next, i++)
		m[i] = (struct member){ it, i };
	/* sorted by (name, position): an entry followed by one of the same name is
	 * overridden by it */
	qsort(m, n, sizeof(*m), member_cmp);
	for (i = 0; i + 1 < n; i++) {
		const char *a = m[i].item->string ? m[i].item->string : "";
		const char *b = m[i + 1].item->string ? m[i + 1].item->string : "";
		if (!strcmp(a, b))
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, m[i].item));
	}
	free(m);
}

void mk_api_json_dedupe(cJSON *v)
{
	cJSON *it;

	if (!v)
		return;
	if (cJSON_IsObject(v))
		dedupe_object(v);
	if (cJSON_IsObject(v) || cJSON_IsArray(v))
		for (it = v->child; it; it = it->next)
			mk_api_json_dedupe(it);
}
