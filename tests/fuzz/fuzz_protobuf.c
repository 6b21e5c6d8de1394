/* libFuzzer target for mk_api_protobuf_decode (not part of `make all`).
 * Build and run with tests/fuzz/run-protobuf.sh [SECONDS]; the seed corpus is the
 * request bodies in tests/unit/api/data. Every input must either decode into an
 * object that prints, or fail with an error whose message starts "protobuf: ". */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mk_error *err = NULL;
	cJSON *obj = NULL;

	if (mk_api_protobuf_decode(data, size, &obj, &err) == 0) {
		char *s;
		if (!obj || err)
			abort();
		/* the result must print: every string in it is valid for JSON */
		s = cJSON_PrintUnformatted(obj);
		if (!s)
			abort();
		cJSON_free(s);
		cJSON_Delete(obj);
	} else {
		if (!err || err->code == 0 || !err->msg || strncmp(err->msg, "protobuf: ", 10) != 0)
			abort();
		mk_error_free(&err);
	}
	return 0;
}
