/* apps/v1 ControllerRevision: an immutable snapshot of a controller's pod
 * template (StatefulSet revisions here), as kube-apiserver validates it
 * (pkg/apis/apps/validation ValidateControllerRevision): data is required and
 * cannot change, revision is a non-negative number. Columns as upstream's
 * printer: NAME CONTROLLER REVISION AGE. */
#include <string.h>
#include "internal.h"

static void cr_validate(cJSON *causes, const cJSON *obj, const cJSON *old)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(obj, "data");
	const cJSON *rev = cJSON_GetObjectItemCaseSensitive(obj, "revision");
	if (!data || cJSON_IsNull(data))
		mk_api_v_required(causes, "data", "data is mandatory");
	if (rev && !cJSON_IsNull(rev) &&
	    (!cJSON_IsNumber(rev) || rev->valuedouble != (double)(long long)rev->valuedouble))
		mk_api_v_invalid(causes, "revision", rev, "must be an integer");
	else if (cJSON_IsNumber(rev) && rev->valuedouble < 0)
		mk_api_v_invalid(causes, "revision", rev, "must be greater than or equal to 0");
	if (old)
		mk_api_v_immutable(causes, "data", data, cJSON_GetObjectItemCaseSensitive(old, "data"));
}

static const struct mk_api_column columns[] = {
	MK_API_NAME_COL,
	{ "Controller", "string", "", "Controller of the object", 0 },
	{ "Revision", "string", "", "Revision of the ControllerRevision", 0 },
	MK_API_AGE_COL,
};

static void cr_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *ref = mk_api_controller_ref(obj);
	char buf[512], rev[32];
	mk_api_cell_str(cells, mk_json_get_string(obj, "metadata.name"));
	if (ref) {
		/* kind.group/name, the group from the owner's apiVersion */
		const char *av = mk_json_get_string(ref, "apiVersion");
		const char *slash = av ? strchr(av, '/') : NULL;
		char kind[128];
		snprintf(kind, sizeof(kind), "%s", mk_json_get_string(ref, "kind") ? mk_json_get_string(ref, "kind") : "");
		for (char *p = kind; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		if (slash)
			snprintf(buf, sizeof(buf), "%s.%.*s/%s", kind, (int)(slash - av), av,
				 mk_json_get_string(ref, "name") ? mk_json_get_string(ref, "name") : "");
		else
			snprintf(buf, sizeof(buf), "%s/%s", kind,
				 mk_json_get_string(ref, "name") ? mk_json_get_string(ref, "name") : "");
		mk_api_cell_str(cells, buf);
	} else {
		mk_api_cell_str(cells, "<none>");
	}
	snprintf(rev, sizeof(rev), "%lld", (long long)mk_api_json_number(obj, "revision", 0));
	mk_api_cell_str(cells, rev);
	mk_api_cell_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

const struct mk_api_kind_ops mk_api_controllerrevision_ops = {
	.validate = cr_validate,
	.columns = columns,
	.ncolumns = MK_ARRAY_SIZE(columns),
	.cells = cr_cells,
};
