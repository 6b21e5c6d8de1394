/* resource.Quantity values as whole numbers: what the PV binder compares and the
 * validation of storage sizes checks. The parsing is the exact one of
 * pod_resources.c (mk_api_quantity_parse), so storage and pod resources read a
 * quantity the same way. */
#include <math.h>
#include "minik8s/api.h"

int64_t mk_api_quantity_value(const cJSON *q)
{
	int64_t v;

	if (cJSON_IsNumber(q)) {
		double d = ceil(q->valuedouble);
		return isfinite(d) && d < 9.2e18 && d > -9.2e18 ? (int64_t)d : -1;
	}
	if (!cJSON_IsString(q) || !q->valuestring[0] ||
	    mk_api_quantity_parse_value(q->valuestring, &v, NULL) < 0)
		return -1;
	return v;
}
