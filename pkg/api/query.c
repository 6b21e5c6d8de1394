/* Query parameter conversions shared by every handler (see api.h). */
#include <string.h>
#include <strings.h>
#include "minik8s/api.h"

bool mk_api_query_bool(const char *value)
{
	if (!value)
		return false;
	return strcasecmp(value, "false") != 0 && strcmp(value, "0") != 0;
}
