/* libFuzzer target for the manifest reader of `minik8s kubectl` (pkg/client/yaml.c;
 * make fuzz). Every input is parsed as a YAML stream; on success the result is a
 * JSON array whose documents are printed back as YAML (mk_yaml_emit, what
 * `kubectl get -o yaml` prints) and must read back to the same value; on failure
 * the error message starts with "yaml: ". The input is not NUL-terminated, so a
 * read past its end shows up under ASan. */
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* cJSON_Compare, except that NaN equals NaN (.nan reads back as NaN) */
static bool same(const cJSON *a, const cJSON *b)
{
	const cJSON *x, *y;

	if (!a || !b || (a->type & 0xff) != (b->type & 0xff))
		return false;
	if (cJSON_IsNumber(a))
		return a->valuedouble == b->valuedouble ||
		       (isnan(a->valuedouble) && isnan(b->valuedouble));
	if (cJSON_IsString(a))
		return !strcmp(a->valuestring, b->valuestring);
	if (!cJSON_IsArray(a) && !cJSON_IsObject(a))
		return true;
	if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
		return false;
	/* the emitter sorts mapping keys: members are matched by name */
	for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
		if (!same(x, cJSON_IsObject(a) ? cJSON_GetObjectItemCaseSensitive(b, x->string) : y))
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mk_error *err = NULL;
	cJSON *docs = NULL, *d;

	if (mk_yaml_parse_documents((const char *)data, size, &docs, &err) < 0) {
		if (!err || !err->msg || strncmp(err->msg, "yaml: ", 6) != 0 || docs)
			abort();
		mk_error_free(&err);
		return 0;
	}
	if (!cJSON_IsArray(docs))
		abort();
	cJSON_ArrayForEach(d, docs) {
		char *y = mk_yaml_emit(d, &err);
		cJSON *back = NULL;
		if (!y) {
			if (!err || !err->msg)
				abort();
			mk_error_free(&err);
			continue;
		}
		if (mk_yaml_parse_documents(y, strlen(y), &back, &err) < 0)
			abort();
		if (cJSON_GetArraySize(back) != 1 || !same(cJSON_GetArrayItem(back, 0), d))
			abort();
		cJSON_Delete(back);
		free(y);
	}
	cJSON_Delete(docs);
	return 0;
}
