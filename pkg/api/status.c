/* meta/v1 Status objects: the body of every API error (kubectl prints
 * "Error from server (REASON): MESSAGE" from them). */
#include <stdarg.h>
#include "minik8s/api.h"

cJSON *mk_api_status_new(int code, const char *reason, const char *message,
			 const char *details_kind, const char *details_name, cJSON *causes)
{
	cJSON *st = cJSON_CreateObject();

	cJSON_AddStringToObject(st, "kind", "Status");
	cJSON_AddStringToObject(st, "apiVersion", "v1");
	cJSON_AddItemToObject(st, "metadata", cJSON_CreateObject());
	cJSON_AddStringToObject(st, "status", "Failure");
	cJSON_AddStringToObject(st, "message", message ? message : "");
	cJSON_AddStringToObject(st, "reason", reason ? reason : mk_api_status_reason(code));
	cJSON_AddNumberToObject(st, "code", code);
	if (details_kind || details_name || causes) {
		cJSON *d = cJSON_AddObjectToObject(st, "details");
		if (details_name)
			cJSON_AddStringToObject(d, "name", details_name);
		if (details_kind)
			cJSON_AddStringToObject(d, "kind", details_kind);
		if (causes)
			cJSON_AddItemToObject(d, "causes", causes);
	}
	return st;
}

const char *mk_api_status_reason(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	default: return code >= 500 ? "InternalError" : "BadRequest";
	}
}

void mk_api_cause_add(cJSON *causes, const char *reason, const char *field, const char *fmt,
		      ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	if (!causes)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);

	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "reason", reason ? reason : "");
	cJSON_AddStringToObject(c, "message", msg);
	cJSON_AddStringToObject(c, "field", field ? field : "");
	cJSON_AddItemToArray(causes, c);
}
