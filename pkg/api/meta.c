/* Small readers of object metadata shared by the agent and the controllers, and the
 * skeleton of an object the server makes itself. */
#include <string.h>
#include <time.h>
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

cJSON *mk_api_object_new(const char *api_version, const char *kind, const char *ns,
			 const char *name)
{
	char uid[37], ts[32];
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "apiVersion", api_version);
	cJSON_AddStringToObject(obj, "kind", kind);
	cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
	mk_uuid_v4(uid);
	mk_time_format(time(NULL), ts, sizeof(ts));
	cJSON_AddStringToObject(md, "name", name);
	if (ns)
		cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddStringToObject(md, "uid", uid);
	cJSON_AddStringToObject(md, "creationTimestamp", ts);
	return obj;
}
