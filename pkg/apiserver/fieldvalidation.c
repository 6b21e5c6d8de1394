/* The fieldValidation query parameter of create, update and patch: unknown fields
 * (against the schema source, pkg/api/schema_defs.c) are dropped silently (Ignore),
 * dropped and reported in Warning headers (Warn, the default) or refused with 400
 * (Strict), as kube-apiserver does. kubectl 1.32 sends Strict unless --validate says otherwise.
 *
 * On update and patch only fields the request introduces count: a field that the
 * stored object already has unknown (written by a component outside the schema)
 * does not fail a client that merely sends it back. */
#include <string.h>
#include <strings.h>
#include "internal.h"

static bool in_array(const cJSON *a, const char *s)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, a)
		if (!strcmp(it->valuestring, s))
			return true;
	return false;
}

int mk_field_validation(struct mk_request *req, struct mk_reply *rep, const char *group,
			const char *version, const char *kind, cJSON *obj, const cJSON *old,
			bool patch)
{
	const char *d = mk_request_arg(req, "fieldValidation");
	enum { IGNORE, WARN, STRICT } mode = WARN;

	if (!d || !*d || !strcasecmp(d, "Warn"))
		mode = WARN;
	else if (!strcasecmp(d, "Strict"))
		mode = STRICT;
	else if (!strcasecmp(d, "Ignore"))
		mode = IGNORE;
	else {
		mk_reply_status(rep, 400, NULL, NULL,
				"fieldValidation: invalid value \"%s\": must be one of Ignore, Warn or "
				"Strict", d);
		return -1;
	}
	_cleanup_cjson_ cJSON *unknown = mk_api_schema_unknown_fields(group, version, kind, obj);
	_cleanup_cjson_ cJSON *had =
		old ? mk_api_schema_unknown_fields(group, version, kind, old) : cJSON_CreateArray();
	struct mk_buf msg;
	const cJSON *it;
	size_t n = 0;

	mk_buf_init(&msg);
	cJSON_ArrayForEach(it, unknown)
	{
		if (in_array(had, it->valuestring))
			continue;
		if (mode == WARN) {
			/* RFC 7234 warn-text: a quoted string, inner quotes escaped */
			mk_buf_printf(&msg, "%s299 - \"unknown field \\\"%s\\\"\"", n ? ", " : "",
				      it->valuestring);
		} else {
			mk_buf_printf(&msg, "%sunknown field \"%s\"", n ? ", " : "", it->valuestring);
		}
		n++;
	}
	if (!n) {
		mk_buf_release(&msg);
		return 0;
	}
	if (mode != STRICT)
		mk_api_schema_prune_unknown(group, version, kind, obj, had);
	if (mode == IGNORE) {
		mk_buf_release(&msg);
		return 0;
	}
	if (mode == WARN) {
		free(rep->warning);
		rep->warning = mk_buf_steal(&msg);
		return 0;
	}
	if (patch)
		mk_reply_status(rep, 400, NULL, NULL, "strict decoding error: %s", msg.data);
	else
		mk_reply_status(rep, 400, NULL, NULL,
				"%s in version \"%s%s%s\" cannot be handled as a %s: strict decoding "
				"error: %s", kind, group, group[0] ? "/" : "", version, kind, msg.data);
	mk_buf_release(&msg);
	return -1;
}
