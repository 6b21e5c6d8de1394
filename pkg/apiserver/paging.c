/* List paging (limit / continue), for every resource, built-in or custom, as
 * kube-apiserver pages: a page holds at most `limit` items in (namespace, name)
 * order; metadata.continue is an opaque token (the list's revision and the last
 * key, URL-safe base64) and metadata.remainingItemCount says how many are left
 * when no selector filters them. Every page of a list is consistent with the
 * first one: a continue request rebuilds the collection as it was at the token's
 * revision from the current one and the store's event log (undoing later
 * creates, updates and deletes). A token older than the kept events, or than
 * this server's run for an update (whose previous state only this run's events
 * carry), is 410 Expired, as a compacted etcd revision is. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "minik8s/store.h"

/* "ns\x01name": strcmp order is (namespace, name) order, as the store lists. */
static char *item_key(const char *ns, const char *name)
{
	return mk_strdup_printf("%s\x01%s", ns ? ns : "", name ? name : "");
}

static char *json_key(const char *json)
{
	_cleanup_cjson_ cJSON *o = cJSON_Parse(json);
	return item_key(mk_json_get_string(o, "metadata.namespace"),
			mk_json_get_string(o, "metadata.name"));
}

bool mk_list_selectors_match_object(const struct mk_list_selectors *f, const cJSON *obj)
{
	if (f->labels && !mk_label_selector_matches(f->labels, mk_json_get(obj, "metadata.labels")))
		return false;
	if (f->fields && !mk_field_selector_matches(f->fields, obj))
		return false;
	return true;
}

int mk_list_selectors_match(const char *json, void *userdata)
{
	_cleanup_cjson_ cJSON *obj = cJSON_Parse(json);
	return obj && mk_list_selectors_match_object(userdata, obj);
}

char *mk_list_token_encode(uint64_t rv, const char *start)
{
	_cleanup_cjson_ cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "v", "meta.k8s.io/v1");
	cJSON_AddNumberToObject(t, "rv", (double)rv);
	cJSON_AddStringToObject(t, "start", start);
	_cleanup_cjson_str_ char *text = cJSON_PrintUnformatted(t);
	/* URL-safe, unpadded (base64.RawURLEncoding) */
	return mk_base64url_encode(text, strlen(text));
}

int mk_list_token_decode(const char *tok, uint64_t *ret_rv, char **ret_start)
{
	_cleanup_free_ void *data = NULL;
	size_t len;

	/* strict, as kube-apiserver's base64.RawURLEncoding: no padding or '+' '/' */
	if (mk_base64url_decode(tok, strlen(tok), &data, &len) < 0)
		return -1;
	_cleanup_cjson_ cJSON *t = cJSON_ParseWithLength(data, len);
	const cJSON *rv = cJSON_GetObjectItem(t, "rv");
	const char *start = mk_json_get_string(t, "start");
	if (!cJSON_IsNumber(rv) || rv->valuedouble < 1 || !start)
		return -1;
	*ret_rv = (uint64_t)rv->valuedouble;
	*ret_start = mk_strdup(start);
	return 0;
}

/* 504 for a revision the store has not reached, as kube-apiserver's
 * TooLargeResourceVersionError (clients retry after a second). */
static void reply_too_large(struct mk_reply *rep, uint64_t rv, uint64_t cur)
{
	_cleanup_cjson_ cJSON *causes = cJSON_CreateArray();
	mk_api_cause_add(causes, "ResourceVersionTooLarge", NULL, "Too large resource version");
	_cleanup_free_ char *msg = mk_strdup_printf("Too large resource version: %llu, current: %llu",
						    (unsigned long long)rv,
						    (unsigned long long)cur);
	_cleanup_cjson_ cJSON *st = mk_api_status_new(504, "Timeout", msg, NULL, NULL,
						      TAKE_PTR(causes));
	cJSON_AddNumberToObject(cJSON_GetObjectItem(st, "details"), "retryAfterSeconds", 1);
	mk_reply_json(rep, 504, st);
}

void mk_list_reply_too_large(struct mk_reply *rep, uint64_t rv, uint64_t cur)
{
	reply_too_large(rep, rv, cur);
}

/* resourceVersion and resourceVersionMatch, checked as upstream's
 * ValidateListOptions (a 422 Invalid on meta.k8s.io ListOptions, one cause per
 * problem, field resourceVersionMatch) and its storage (a resourceVersion with a
 * continue token, or one that is not a number, is a 400). */
int mk_list_rv_parse(struct mk_request *req, struct mk_reply *rep, enum mk_list_rv *ret_mode,
		     uint64_t *ret_rv)
{
	const char *rv = mk_request_arg(req, "resourceVersion");
	const char *match = mk_request_arg(req, "resourceVersionMatch");
	const char *cont = mk_request_arg(req, "continue");
	const char *lim = mk_request_arg(req, "limit");
	bool has_rv = rv && *rv, has_cont = cont && *cont;
	_cleanup_cjson_ cJSON *causes = cJSON_CreateArray();
	struct mk_buf msg;

	if (match && *match) {
		if (!has_rv)
			mk_api_cause_add(causes, "FieldValueForbidden", "resourceVersionMatch",
					 "Forbidden: resourceVersionMatch is forbidden unless "
					 "resourceVersion is provided");
		if (has_cont)
			mk_api_cause_add(causes, "FieldValueForbidden", "resourceVersionMatch",
					 "Forbidden: resourceVersionMatch is forbidden when continue "
					 "is provided");
		if (strcmp(match, "Exact") && strcmp(match, "NotOlderThan"))
			mk_api_cause_add(causes, "FieldValueNotSupported", "resourceVersionMatch",
					 "Unsupported value: \"%s\": supported values: \"Exact\", "
					 "\"NotOlderThan\", \"\"", match);
		if (!strcmp(match, "Exact") && has_rv && !strcmp(rv, "0"))
			mk_api_cause_add(causes, "FieldValueForbidden", "resourceVersionMatch",
					 "Forbidden: resourceVersionMatch \"exact\" is forbidden for "
					 "resourceVersion \"0\"");
	}
	int nc = cJSON_GetArraySize(causes);
	if (nc > 0) {
		mk_buf_init(&msg);
		mk_buf_puts(&msg, "ListOptions.meta.k8s.io \"\" is invalid: ");
		if (nc > 1)
			mk_buf_puts(&msg, "[");
		for (int i = 0; i < nc; i++) {
			cJSON *c = cJSON_GetArrayItem(causes, i);
			mk_buf_printf(&msg, "%s%s: %s", i ? ", " : "", mk_json_get_string(c, "field"),
				      mk_json_get_string(c, "message"));
		}
		if (nc > 1)
			mk_buf_puts(&msg, "]");
		_cleanup_cjson_ cJSON *st = mk_api_status_new(422, "Invalid", msg.data, "ListOptions",
							      "", TAKE_PTR(causes));
		mk_buf_release(&msg);
		cJSON *d = cJSON_GetObjectItem(st, "details");
		cJSON_AddStringToObject(d, "group", "meta.k8s.io");
		mk_reply_json(rep, 422, st);
		return -1;
	}
	if (has_cont && has_rv && strcmp(rv, "0")) {
		mk_reply_status(rep, 400, NULL, NULL,
				"specifying resource version is not allowed when using continue");
		return -1;
	}
	*ret_rv = 0;
	if (!has_rv) {
		*ret_mode = MK_LIST_RV_LATEST;
		return 0;
	}
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(rv, &end, 10);
	if (errno || !end || *end || *rv == '-' || *rv == '+' || *rv == ' ') {
		mk_reply_status(rep, 400, NULL, NULL,
				"invalid resource version: resourceVersion: Invalid value: \"%s\": "
				"strconv.ParseUint: parsing \"%s\": invalid syntax", rv, rv);
		return -1;
	}
	*ret_rv = v;
	if (v == 0)
		*ret_mode = MK_LIST_RV_ANY;
	else if (match && !strcmp(match, "Exact"))
		*ret_mode = MK_LIST_RV_EXACT;
	else if (match && !strcmp(match, "NotOlderThan"))
		*ret_mode = MK_LIST_RV_NOT_OLDER;
	else /* legacy: an exact read when paged, else not older than */
		*ret_mode = lim && strtol(lim, NULL, 10) > 0 ? MK_LIST_RV_EXACT : MK_LIST_RV_NOT_OLDER;
	return 0;
}


/* l (unfiltered, current) rebuilt as the collection was at exact_rv, as etcd
 * reads at a revision; fills rep and returns -1 when it cannot be (504 for a
 * revision not reached, 410 when its events are gone). */
static int rebuild_exact(struct mk_request *req, struct mk_reply *rep, const char *resource,
			 const char *ns, uint64_t exact_rv, struct mk_store_list *l)
{
	_cleanup_error_ struct mk_error *err = NULL;

	if (exact_rv > l->rv) {
		reply_too_large(rep, exact_rv, l->rv);
		return -1;
	}
	if (mk_store_list_at_from(req->srv->store, resource, ns, exact_rv, l, &err) < 0) {
		if (mk_error_code(err) == ERANGE)
			mk_reply_status(rep, 410, NULL, NULL,
					"The resourceVersion for the provided list is too old.");
		else
			mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
		return -1;
	}
	return 0;
}

int mk_list_paginate(struct mk_request *req, struct mk_reply *rep, const char *resource,
		     const char *ns, mk_store_filter_fn filter, void *fud, struct mk_store_list *l,
		     uint64_t exact_rv, char **ret_continue, long *ret_remaining)
{
	const char *lim = mk_request_arg(req, "limit");
	const char *cont = mk_request_arg(req, "continue");
	_cleanup_free_ char *start = NULL;
	long limit = lim && *lim ? strtol(lim, NULL, 10) : 0;
	uint64_t at = 0;
	bool unfiltered = (cont && *cont) || exact_rv;

	*ret_continue = NULL;
	*ret_remaining = -1;
	if (exact_rv && !(cont && *cont)) {
		if (rebuild_exact(req, rep, resource, ns, exact_rv, l) < 0)
			return -1;
		at = exact_rv;
	}
	if (cont && *cont) {
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_list_token_decode(cont, &at, &start) < 0) {
			mk_reply_status(rep, 400, NULL, NULL, "continue key is not valid: illegal base64 data");
			return -1;
		}
		/* l was listed unfiltered: rebuild it at the token's revision */
		if (at > l->rv ||
		    mk_store_list_at_from(req->srv->store, resource, ns, at, l, &err) < 0) {
			if (at > l->rv || mk_error_code(err) == ERANGE) {
				mk_reply_status(rep, 410, NULL, NULL,
						"The provided continue parameter is too old to display a "
						"consistent list result. You can start a new list without the "
						"continue parameter.");
			} else {
				mk_reply_status(rep, 500, NULL, NULL, "%s", err->msg);
			}
			return -1;
		}
	}
	/* past the token's key, through the selectors, at most limit */
	size_t k = 0, kept = 0, total = 0;
	char *last_key = NULL;
	for (size_t i = 0; i < l->n; i++) {
		char *item = l->items[i];
		l->items[i] = NULL;
		bool keep = true;
		if (start) {
			_cleanup_free_ char *key = json_key(item);
			keep = strcmp(key, start) > 0;
		}
		if (keep && unfiltered && filter)
			keep = filter(item, fud);
		if (!keep) {
			free(item);
			continue;
		}
		total++;
		if (limit > 0 && kept == (size_t)limit) {
			free(item);
			continue;
		}
		if (limit > 0 && kept + 1 == (size_t)limit) {
			free(last_key);
			last_key = json_key(item);
		}
		l->items[k++] = item;
		kept++;
	}
	l->n = k;
	if (limit > 0 && total > kept) {
		*ret_continue = mk_list_token_encode(at ? at : l->rv, last_key);
		if (!filter)
			*ret_remaining = (long)(total - kept);
	}
	if (at)
		l->rv = at;
	free(last_key);
	return 0;
}
