/* Watch streams: newline-delimited JSON events over a chunked response, as
 * kube-apiserver sends them ({"type":"ADDED","object":{...}}). The content reader
 * blocks in the connection's own thread (libmicrohttpd thread-per-connection mode)
 * waiting on the store's event log, so a watch costs one parked thread and no
 * polling; a closed client is noticed through POLLRDHUP within a second. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include "internal.h"

#define WAIT_SLICE_MS 1000
#define BOOKMARK_EVERY_NS (60ull * 1000000000ull)
#define DEFAULT_TIMEOUT_S 1800

struct mk_watch_slot {
	struct mk_watch_slot *next, **prev; /* prev: the pointer to this one */
	struct mk_store_watch *w;
};

struct stream {
	struct mk_apiserver *srv;
	const struct mk_api_resource *r;
	struct mk_store_watch *w;
	struct mk_watch_slot slot;
	struct mk_list_selectors sel;
	bool table, columns_sent, bookmarks;
	int fd;
	uint64_t deadline_ns, last_bookmark_ns, last_rv;
	struct mk_buf out;
	size_t out_off;
	struct mk_store_list initial;
	size_t next_initial;
	bool ending, ended;
	bool initial_end_pending;	/* sendInitialEvents: bookmark after the initial state */
};

static void slot_add(struct mk_apiserver *srv, struct mk_watch_slot *s)
{
	pthread_mutex_lock(&srv->lock);
	s->next = srv->watches;
	if (s->next)
		s->next->prev = &s->next;
	s->prev = &srv->watches;
	srv->watches = s;
	pthread_mutex_unlock(&srv->lock);
}

static void slot_remove(struct mk_apiserver *srv, struct mk_watch_slot *s)
{
	/* O(1): thousands of watches at 1,000 nodes, and one closes at each timeout */
	pthread_mutex_lock(&srv->lock);
	if (s->prev) {
		*s->prev = s->next;
		if (s->next)
			s->next->prev = s->prev;
		s->prev = NULL;
	}
	pthread_mutex_unlock(&srv->lock);
}

void mk_watch_cancel_all(struct mk_apiserver *srv)
{
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	for (struct mk_watch_slot *s = srv->watches; s; s = s->next)
		mk_store_watch_cancel(s->w);
	pthread_mutex_unlock(&srv->lock);
}

/* Appends one event line for object text json. old_json (MODIFIED, may be NULL) is
 * the previous state: with a selector, an object entering it is ADDED and one
 * leaving it DELETED, as kube-apiserver's watch cache reports them. */
static void emit(struct stream *st, const char *type, const char *json, const char *old_json)
{
	/* custom resources: served at the watch's version, defaults applied */
	_cleanup_free_ char *conv = st->r->crd ? mk_api_cr_from_storage(st->r, json) : NULL;
	if (conv)
		json = conv;
	if (!st->table && !st->sel.labels && !st->sel.fields) {
		mk_buf_printf(&st->out, "{\"type\":\"%s\",\"object\":", type);
		mk_buf_puts(&st->out, json);
		mk_buf_puts(&st->out, "}\n");
		return;
	}
	/* a node's watch (spec.nodeName=NODE) skips the other nodes' pods unparsed:
	 * with many watchers, parsing every event for each was the cost of fan-out */
	if (st->sel.fields && !mk_field_selector_may_match_text(st->sel.fields, json) &&
	    (!old_json || !mk_field_selector_may_match_text(st->sel.fields, old_json)))
		return;
	_cleanup_cjson_ cJSON *obj = cJSON_Parse(json);
	if (!obj)
		return;
	bool now = mk_list_selectors_match_object(&st->sel, obj);
	if (old_json && !strcmp(type, "MODIFIED") && (st->sel.labels || st->sel.fields)) {
		_cleanup_cjson_ cJSON *old = cJSON_Parse(old_json);
		bool before = old && mk_list_selectors_match_object(&st->sel, old);
		if (before && !now)
			type = "DELETED";
		else if (!before && now)
			type = "ADDED";
		else if (!now)
			return;
	} else if (!now) {
		return;
	}
	mk_buf_printf(&st->out, "{\"type\":\"%s\",\"object\":", type);
	if (st->table) {
		_cleanup_cjson_ cJSON *t = mk_api_table_new(st->r, !st->columns_sent);
		_cleanup_cjson_str_ char *txt = NULL;
		st->columns_sent = true;
		mk_api_table_add_row(t, st->r, obj, time(NULL));
		mk_json_set_string(mk_json_ensure_object(t, "metadata"), "resourceVersion",
				   mk_json_get_string(obj, "metadata.resourceVersion"));
		txt = cJSON_PrintUnformatted(t);
		mk_buf_puts(&st->out, txt);
	} else {
		mk_buf_puts(&st->out, json);
	}
	mk_buf_puts(&st->out, "}\n");
}

static void emit_bookmark(struct stream *st)
{
	mk_buf_printf(&st->out,
		      "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
		      "\"metadata\":{\"resourceVersion\":\"%llu\",\"annotations\":"
		      "{\"k8s.io/initial-events-end\":\"true\"}}}}\n",
		      st->r->kind, st->r->group_version, (unsigned long long)st->last_rv);
	st->last_bookmark_ns = mk_time_mono_ns();
}

static void emit_error(struct stream *st, int code, const char *msg)
{
	_cleanup_cjson_ cJSON *s = mk_api_status_new(code, mk_api_status_reason(code), msg, NULL,
						     NULL, NULL);
	_cleanup_cjson_str_ char *txt = cJSON_PrintUnformatted(s);
	mk_buf_printf(&st->out, "{\"type\":\"ERROR\",\"object\":%s}\n", txt);
}

static bool client_gone(struct stream *st)
{
	struct pollfd p = { .fd = st->fd, .events = POLLRDHUP };
	if (st->fd < 0)
		return false;
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* Fills st->out with at least one line, or marks the stream ending. */
static void produce(struct stream *st)
{
	while (st->out.len == st->out_off && !st->ending) {
		if (st->next_initial < st->initial.n) {
			emit(st, "ADDED", st->initial.items[st->next_initial++], NULL);
			continue;
		}
		if (st->initial_end_pending) {
			st->initial_end_pending = false;
			emit_bookmark(st);
			continue;
		}
		struct mk_store_event *ev = NULL;
		_cleanup_error_ struct mk_error *err = NULL;
		uint64_t now = mk_time_mono_ns();
		int left = (int)((st->deadline_ns > now ? st->deadline_ns - now : 0) / 1000000);
		int rc = mk_store_watch_next(st->w, left < WAIT_SLICE_MS ? left : WAIT_SLICE_MS, &ev,
					     &err);
		if (rc > 0) {
			st->last_rv = ev->rv;
			emit(st, mk_store_event_type_name(ev->type), ev->json, ev->old_json);
			mk_store_event_unref(ev);
			continue;
		}
		if (rc < 0) {
			if (err->code == ERANGE)
				emit_error(st, 410, err->msg);
			st->ending = true;
			break;
		}
		now = mk_time_mono_ns();
		if (now >= st->deadline_ns) {
			if (st->bookmarks)
				emit_bookmark(st);
			st->ending = true;
		} else if (client_gone(st)) {
			st->ended = true;
			st->ending = true;
		} else if (st->bookmarks && now - st->last_bookmark_ns >= BOOKMARK_EVERY_NS) {
			emit_bookmark(st);
		}
	}
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;

	produce(st);
	if (st->ended)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	size_t avail = st->out.len - st->out_off;
	if (!avail)
		return MHD_CONTENT_READER_END_OF_STREAM;
	size_t n = avail < max ? avail : max;
	memcpy(buf, st->out.data + st->out_off, n);
	st->out_off += n;
	if (st->out_off == st->out.len) {
		st->out.len = 0;
		st->out_off = 0;
	}
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *st = cls;
	slot_remove(st->srv, &st->slot);
	mk_store_watch_free(st->w);
	mk_label_selector_free(st->sel.labels);
	mk_field_selector_free(st->sel.fields);
	mk_store_list_release(&st->initial);
	mk_buf_release(&st->out);
	free(st);
}

/* timeoutSeconds: the stream's deadline (at most DEFAULT_TIMEOUT_S). -1 with rep
 * filled when it is not a number. */
static int watch_deadline(struct mk_request *req, struct mk_reply *rep, struct stream *st)
{
	const char *ts = mk_request_arg(req, "timeoutSeconds");
	char *tend = NULL;
	long timeout = ts && *ts ? strtol(ts, &tend, 10) : DEFAULT_TIMEOUT_S;
	if (ts && *ts && (*tend || timeout < 0)) {
		mk_reply_status(rep, 400, NULL, NULL, "invalid timeoutSeconds '%s'", ts);
		return -1;
	}
	if (timeout <= 0 || timeout > DEFAULT_TIMEOUT_S)
		timeout = DEFAULT_TIMEOUT_S;
	st->deadline_ns = mk_time_mono_ns() + (uint64_t)timeout * 1000000000ull;
	st->last_bookmark_ns = mk_time_mono_ns();
	return 0;
}

/* sendInitialEvents (the streaming list): the current state as ADDED events, then
 * a bookmark marked k8s.io/initial-events-end, then changes; kube-apiserver
 * requires bookmarks and resourceVersionMatch=NotOlderThan with it. -1 with a 422
 * in rep when they are missing. */
static int check_initial_events(struct mk_request *req, struct mk_reply *rep,
				const struct stream *st)
{
	const char *rvm = mk_request_arg(req, "resourceVersionMatch");
	cJSON *causes = cJSON_CreateArray();
	if (!st->bookmarks)
		mk_api_cause_add(causes, "FieldValueRequired", "allowWatchBookmarks",
				 "allowWatchBookmarks: Required value: allowWatchBookmarks must "
				 "be set to true when sendInitialEvents is true");
	if (!rvm || strcmp(rvm, "NotOlderThan"))
		mk_api_cause_add(causes, "FieldValueForbidden", "sendInitialEvents",
				 "sendInitialEvents: Forbidden: sendInitialEvents is forbidden "
				 "for watch unless resourceVersionMatch is set to NotOlderThan");
	if (!cJSON_GetArraySize(causes)) {
		cJSON_Delete(causes);
		return 0;
	}
	_cleanup_free_ char *m = mk_strdup_printf(
		"ListOptions.meta.k8s.io \"\" is invalid: %s",
		mk_json_get_string(cJSON_GetArrayItem(causes, 0), "message"));
	_cleanup_cjson_ cJSON *stt = mk_api_status_new(422, "Invalid", m, "ListOptions", "", causes);
	mk_reply_json(rep, 422, stt);
	return -1;
}

/* Where the watch starts: the resourceVersion asked for, or (none, "0", or the
 * streaming list) the current state, listed into st->initial and sent as ADDED
 * events first. -1 with rep filled. */
static int watch_from(struct mk_request *req, struct mk_reply *rep, struct stream *st,
		      bool initial_events, uint64_t *ret_from)
{
	const struct mk_api_resource *r = req->res;
	const char *rvs = mk_request_arg(req, "resourceVersion");
	_cleanup_error_ struct mk_error *err = NULL;

	if (rvs && *rvs && strcmp(rvs, "0") && !initial_events) {
		char *end;
		*ret_from = strtoull(rvs, &end, 10);
		if (*end || rvs[0] == '-') {
			mk_reply_status(rep, 400, NULL, NULL, "invalid resourceVersion '%s'", rvs);
			return -1;
		}
		return 0;
	}
	if (mk_store_list(req->srv->store, mk_api_resource_store(r), r->namespaced ? req->ns : NULL,
			  NULL, NULL, &st->initial, &err) < 0) {
		mk_reply_error(rep, r, NULL, err);
		return -1;
	}
	*ret_from = st->initial.rv;
	st->initial_end_pending = initial_events;
	return 0;
}

/* Tells the store what a node's watch wants (metadata.name=X, or spec.nodeName=NODE
 * on built-in resources, whose stored text carries "nodeName" as written), so an
 * event wakes the watches it may concern instead of all of them: with 1,000
 * hollow nodes, every pod event woke ~1,000 pod watches to drop it. The store's
 * answer is a superset; emit still filters exactly. Custom resources are served
 * converted (defaults added), so only their name is hinted. */
static void watch_hint(struct stream *st)
{
	const char *v = mk_field_selector_equal_value(st->sel.fields, "metadata.name");
	if (v) {
		mk_store_watch_hint_name(st->w, v);
		return;
	}
	v = mk_field_selector_equal_value(st->sel.fields, "spec.nodeName");
	if (v && !st->r->crd)
		mk_store_watch_hint_key(st->w, "nodeName", v);
}

/* Opens the store watch from `from` and registers it with the server (so that
 * stopping cancels it); a compacted `from` becomes one ERROR event with 410, as
 * kube-apiserver answers. -1 with rep filled on other store errors. */
static int watch_open(struct mk_request *req, struct mk_reply *rep, struct stream *st,
		      uint64_t from)
{
	const struct mk_api_resource *r = req->res;
	_cleanup_error_ struct mk_error *err = NULL;

	st->last_rv = from;
	if (mk_store_watch_new(req->srv->store, mk_api_resource_store(r),
			       r->namespaced ? req->ns : NULL, from, &st->w, &err) < 0) {
		if (err->code != ERANGE) {
			mk_reply_error(rep, r, NULL, err);
			return -1;
		}
		_cleanup_free_ char *m = mk_strdup_printf("too old resource version: %llu",
							  (unsigned long long)from);
		emit_error(st, 410, m);
		st->ending = true;
		return 0;
	}
	watch_hint(st);
	st->slot.w = st->w;
	slot_add(req->srv, &st->slot);
	/* a server stopping between start and registration must still cancel us */
	pthread_mutex_lock(&req->srv->lock);
	if (req->srv->stopping)
		mk_store_watch_cancel(st->w);
	pthread_mutex_unlock(&req->srv->lock);
	return 0;
}

void mk_watch_handle(struct mk_request *req, struct mk_reply *rep)
{
	struct stream *st = mk_malloc0(sizeof(*st));
	bool initial_events = mk_request_bool(req, "sendInitialEvents");
	uint64_t from = 0;

	st->srv = req->srv;
	st->r = req->res;
	st->fd = -1;
	mk_buf_init(&st->out);
	st->table = mk_request_wants_table(req);
	st->bookmarks = mk_request_bool(req, "allowWatchBookmarks");
	if (mk_request_selectors(req, rep, &st->sel.labels, &st->sel.fields) < 0 ||
	    watch_deadline(req, rep, st) < 0 ||
	    (initial_events && check_initial_events(req, rep, st) < 0) ||
	    watch_from(req, rep, st, initial_events, &from) < 0 ||
	    watch_open(req, rep, st, from) < 0) {
		stream_free(st);
		return;
	}
	if (!req->conn) { /* in-process (local.c): read with mk_watch_local_next */
		rep->local_watch = (struct mk_watch_local *)st;
		rep->code = 200;
		rep->content_type = "application/json";
		return;
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		st->fd = ci->connect_fd;
	rep->stream = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, reader, st,
							stream_free);
	if (!rep->stream) {
		stream_free(st);
		mk_reply_status(rep, 500, NULL, NULL, "cannot create the watch stream");
		return;
	}
	rep->code = 200;
	rep->content_type = "application/json";
}

/* ---- in-process watches (local.c) ------------------------------------------------
 * The same stream, its lines handed over as they are made instead of through a
 * libmicrohttpd content reader. */

int mk_watch_local_next(struct mk_watch_local *lw, const char **ret_data, size_t *ret_len)
{
	struct stream *st = (struct stream *)lw;

	st->out.len = 0; /* the previous lines were consumed */
	st->out_off = 0;
	produce(st);
	if (st->ended || st->out.len == 0)
		return 0;
	*ret_data = st->out.data;
	*ret_len = st->out.len;
	return 1;
}

void mk_watch_local_cancel(struct mk_watch_local *lw)
{
	struct stream *st = (struct stream *)lw;
	mk_store_watch_cancel(st->w); /* wakes produce; NULL (already ending) is fine */
}

void mk_watch_local_free(struct mk_watch_local *lw)
{
	if (lw)
		stream_free(lw);
}
