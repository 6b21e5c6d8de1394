/* HTTP replies and request accessors: JSON bodies, Kubernetes Status objects
 * (mk_reply_status, and mk_reply_error mapping store errors to them as
 * kube-apiserver's registry does), query parameters and headers. Every other
 * file of pkg/apiserver builds its replies here; this file calls none of them. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

void mk_reply_json_text(struct mk_reply *rep, unsigned code, char *owned_text)
{
	free(rep->body);
	rep->code = code;
	rep->body = owned_text;
	rep->body_len = 0;
	rep->content_type = "application/json";
}

void mk_reply_json(struct mk_reply *rep, unsigned code, const cJSON *obj)
{
	mk_reply_json_text(rep, code, cJSON_PrintUnformatted(obj));
}

void mk_reply_status(struct mk_reply *rep, int code, const char *kind, const char *name,
		     const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	_cleanup_cjson_ cJSON *st =
		mk_api_status_new(code, mk_api_status_reason(code), msg, kind, name, NULL);
	free(msg);
	mk_reply_json(rep, (unsigned)code, st);
}

void mk_reply_error(struct mk_reply *rep, const struct mk_api_resource *r, const char *name,
		    const struct mk_error *err)
{
	const char *kind = r ? r->name : "";
	const char *group = r && r->group[0] ? r->group : NULL;
	_cleanup_free_ char *qual = group ? mk_strdup_printf("%s.%s", kind, group) : mk_strdup(kind);

	switch (err->code) {
	case ENOENT:
		mk_reply_status(rep, 404, kind, name, "%s \"%s\" not found", qual, name ? name : "");
		break;
	case EEXIST: {
		_cleanup_cjson_ cJSON *st = mk_api_status_new(
			409, "AlreadyExists", NULL, kind, name, NULL);
		_cleanup_free_ char *m =
			mk_strdup_printf("%s \"%s\" already exists", qual, name ? name : "");
		mk_json_set_string(st, "message", m);
		mk_reply_json(rep, 409, st);
		break;
	}
	case ESTALE:
		mk_reply_status(rep, 409, kind, name,
				"Operation cannot be fulfilled on %s \"%s\": the object has been "
				"modified; please apply your changes to the latest version and try again",
				qual, name ? name : "");
		break;
	case ERANGE:
		mk_reply_status(rep, 410, NULL, NULL, "%s", err->msg);
		break;
	default:
		if (err->code >= 400 && err->code < 600)
			mk_reply_status(rep, err->code, kind, name, "%s", err->msg);
		else {
			/* the storage failed (disk full, I/O error): the client gets the
			 * Status, the operator a log line saying why */
			mk_log(MK_LOG_ERROR, "apiserver", "%s%s%s: %s", qual, name ? "/" : "",
			       name ? name : "", err->msg);
			mk_reply_status(rep, 500, kind, name, "%s", err->msg);
		}
	}
}

const char *mk_request_arg(struct mk_request *req, const char *key)
{
	const char *v = NULL;
	if (!req->conn)
		return mk_local_arg(req->local, key, &v) ? v : NULL;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct args_each {
	void (*fn)(void *cls, const char *key, const char *value);
	void *cls;
};

static enum MHD_Result arg_each(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct args_each *a = cls;
	(void)kind;
	a->fn(a->cls, key, value);
	return MHD_YES;
}

void mk_request_args_each(struct mk_request *req,
			  void (*fn)(void *cls, const char *key, const char *value), void *cls)
{
	struct args_each a = { fn, cls };
	if (!req->conn)
		mk_local_args_each(req->local, fn, cls);
	else
		MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, arg_each, &a);
}

bool mk_request_bool(struct mk_request *req, const char *key)
{
	const char *v = NULL;

	/* "?watch" (no value) is present, and true, as in kube-apiserver */
	if (!req->conn) {
		if (!mk_local_arg(req->local, key, &v))
			return false;
	} else if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key),
					      &v, NULL) != MHD_YES)
		return false;
	return mk_api_query_bool(v ? v : "");
}

const char *mk_request_header(struct mk_request *req, const char *key)
{
	if (!req->conn)
		return mk_local_header(req->local, key);
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

bool mk_request_wants_table(struct mk_request *req)
{
	const char *a = mk_request_header(req, "Accept");
	return a && strstr(a, "as=Table") && strstr(a, "g=meta.k8s.io");
}


/* The Kubernetes verb of req: reads are get, list (collection) or watch. */
const char *mk_request_verb(struct mk_request *req, bool collection)
{
	const char *m = req->method;
	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return mk_request_bool(req, "watch") ? "watch" : collection ? "list" : "get";
	if (!strcmp(m, "POST"))
		return "create";
	if (!strcmp(m, "PUT"))
		return "update";
	if (!strcmp(m, "PATCH"))
		return "patch";
	if (!strcmp(m, "DELETE"))
		return collection ? "deletecollection" : "delete";
	return m;
}

cJSON *mk_request_body_object(struct mk_request *req, struct mk_reply *rep, const char *kind)
{
	const char *ct = mk_request_header(req, "Content-Type");
	cJSON *obj = NULL;

	/* kubectl 1.32 sends reviews and token requests as protobuf */
	if (ct && !strncasecmp(ct, "application/vnd.kubernetes.protobuf", 35)) {
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_api_protobuf_decode(req->body.data, req->body.len, &obj, &err) < 0) {
			mk_reply_status(rep, 400, NULL, NULL, "%s", err->msg);
			return NULL;
		}
	} else if (req->body.len) {
		obj = cJSON_ParseWithLength(req->body.data, req->body.len);
	}
	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		mk_reply_status(rep, 400, NULL, NULL, "the body of the request must be a JSON %s",
				kind);
		return NULL;
	}
	return obj;
}
