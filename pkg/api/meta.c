/* Small readers of object metadata shared by the agent and the controllers. */
#include <string.h>
#include "minik8s/api.h"
#include "minik8s/util.h"

bool mk_api_finalizer_has(const cJSON *obj, const char *name)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(obj, "metadata.finalizers"))
		if (cJSON_IsString(it) && !strcmp(it->valuestring, name))
			return true;
	return false;
}
