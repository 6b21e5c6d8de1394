/* resource.Quantity values as numbers: what the PV binder compares and the
 * validation of storage sizes checks (k8s.io/apimachinery/pkg/api/resource). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"

int64_t mk_api_quantity_value(const cJSON *q)
{
	static const struct {
		const char *sfx;
		double mul;
	} sfx[] = {
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 },
		{ "Ti", 1099511627776.0 }, { "Pi", 1125899906842624.0 }, { "Ei", 1152921504606846976.0 },
		{ "n", 1e-9 }, { "u", 1e-6 }, { "m", 1e-3 }, { "k", 1e3 }, { "M", 1e6 },
		{ "G", 1e9 }, { "T", 1e12 }, { "P", 1e15 }, { "E", 1e18 }, { "", 1.0 },
	};
	double v;
	const char *end = "";

	if (cJSON_IsNumber(q)) {
		v = q->valuedouble;
	} else if (cJSON_IsString(q) && q->valuestring[0]) {
		const char *s = q->valuestring;
		char *e;
		/* the grammar: a signed decimal, then a suffix; no spaces, no hex, no inf */
		if (!strchr("+-0123456789.", s[0]) || strpbrk(s, "xXnN ") == s ||
		    strspn(s, "+-0123456789.eEkKMGTPimnu") != strlen(s))
			return -1;
		errno = 0;
		v = strtod(s, &e);
		if (errno || e == s)
			return -1;
		end = e;
	} else {
		return -1;
	}
	if (isnan(v) || isinf(v))
		return -1;
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		if (strcmp(end, sfx[i].sfx))
			continue;
		double r = ceil(v * sfx[i].mul - 1e-9);
		if (r > 9.2e18 || r < -9.2e18)
			return -1;
		return (int64_t)r;
	}
	return -1;
}
