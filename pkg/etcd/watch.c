/* Watch over the gateway's streaming POST /v3/watch: one WatchCreateRequest sent,
 * then a chunked answer of newline-separated {"result": WatchResponse} objects.
 * Driven by a curl multi handle in the caller's thread (no thread of its own), so
 * mk_etcd_watch_next waits with a timeout and mk_etcd_watch_cancel wakes it with
 * curl_multi_wakeup. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "internal.h"

struct mk_etcd_watch {
	struct mk_etcd *c;
	char *key, *range_end;
	unsigned flags;
	int64_t next_rev;	/* where a resumed watch starts: after the last delivered */
	int64_t compact_revision;
	size_t endpoint;	/* index of the member streaming */
	CURLM *multi;
	CURL *easy;		/* NULL between two streams */
	struct curl_slist *hdrs;
	char *body;		/* the create request of the current stream */
	struct mk_buf buf;	/* bytes received, not yet consumed from 'consumed' */
	size_t consumed;
	uint64_t received;	/* bytes received in all (tells new data from none) */
	bool too_large;
	atomic_bool canceled;
};

static size_t watch_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct mk_etcd_watch *w = userdata;
	size_t len = size * nmemb;
	if (w->buf.len - w->consumed + len > ETCD_MAX_RESPONSE) {
		w->too_large = true;
		return 0;
	}
	if (w->consumed && w->consumed == w->buf.len) {
		w->buf.len = 0;
		w->consumed = 0;
	}
	mk_buf_append(&w->buf, data, len);
	w->received += len;
	return len;
}

static void stream_stop(struct mk_etcd_watch *w)
{
	if (w->easy) {
		curl_multi_remove_handle(w->multi, w->easy);
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
	}
	free(w->body);
	w->body = NULL;
	w->buf.len = 0;
	w->consumed = 0;
	if (w->buf.data)
		w->buf.data[0] = 0;
}

static void stream_start(struct mk_etcd_watch *w, size_t idx)
{
	stream_stop(w);
	w->endpoint = idx;
	_cleanup_cjson_ cJSON *b = cJSON_CreateObject();
	cJSON *cr = cJSON_AddObjectToObject(b, "create_request");
	etcd_json_add_bytes(cr, "key", w->key, strlen(w->key));
	etcd_json_add_range_end(cr, w->range_end);
	if (w->next_rev)
		etcd_json_add_i64(cr, "start_revision", w->next_rev);
	if (w->flags & MK_ETCD_WATCH_PREV_KV)
		cJSON_AddTrueToObject(cr, "prev_kv");
	if (w->flags & MK_ETCD_WATCH_PROGRESS)
		cJSON_AddTrueToObject(cr, "progress_notify");
	w->body = cJSON_PrintUnformatted(b);
	if (!w->body)
		abort();
	_cleanup_free_ char *url = mk_strdup_printf("%s/v3/watch", w->c->endpoints[idx]);
	CURL *h = curl_easy_init();
	if (!h)
		abort();
	etcd_handle_setup(w->c, h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, w->hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
	/* a stream has no overall timeout; a peer that vanishes without a reset is
	 * found by TCP keepalive */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
	w->easy = h;
	curl_multi_add_handle(w->multi, h);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next whole line of what came in: 1 with *ret; 0 when no line is complete;
 * -2 when it is not JSON (*ret_why says so). Empty lines are skipped. */
static int stream_line(struct mk_etcd_watch *w, cJSON **ret, char **ret_why)
{
	for (;;) {
		char *start = w->buf.data ? w->buf.data + w->consumed : NULL;
		char *nl = start ? memchr(start, '\n', w->buf.len - w->consumed) : NULL;
		if (!nl)
			return 0;
		size_t len = (size_t)(nl - start);
		w->consumed += len + 1;
		if (!len)
			continue;
		cJSON *j = cJSON_ParseWithLength(start, len);
		if (!j) {
			*ret_why = mk_strdup("a message that is not JSON");
			return -2;
		}
		*ret = j;
		return 1;
	}
}

/* The transfer is over (m): its last message, or how it ended. 1: *ret (a last
 * message without its newline; the next read reports the end); -1: error
 * (EMSGSIZE); -2: the stream ended (*ret_why). */
static int stream_done(struct mk_etcd_watch *w, CURLMsg *m, cJSON **ret, char **ret_why,
		       struct mk_error **err)
{
	long status = 0;
	curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
	CURLcode rc = m->data.result;
	curl_multi_remove_handle(w->multi, w->easy);
	curl_easy_cleanup(w->easy);
	w->easy = NULL;
	if (w->too_large)
		return mk_error_set(err, EMSGSIZE, "etcd watch '%s': message over %u bytes", w->key,
				    ETCD_MAX_RESPONSE);
	cJSON *j = NULL;
	if (rc == CURLE_OK && w->consumed < w->buf.len)
		j = cJSON_ParseWithLength(w->buf.data + w->consumed, w->buf.len - w->consumed);
	w->consumed = w->buf.len;
	if (j && status == 200) {
		*ret = j;
		return 1;
	}
	if (j) {
		struct mk_error *e = NULL;
		etcd_error_from_status(&e, status, j);
		*ret_why = mk_strdup(e->msg);
		mk_error_free(&e);
		cJSON_Delete(j);
		return -2;
	}
	*ret_why = rc == CURLE_OK ? mk_strdup_printf("stream ended (HTTP %ld)", status)
				  : mk_strdup(curl_easy_strerror(rc));
	return -2;
}

/* The next message of the current stream. 1: *ret (owned); 0: timeout; -1: error
 * (ECANCELED, EMSGSIZE); -2: the stream ended (*ret_why says how). */
static int stream_read(struct mk_etcd_watch *w, int64_t deadline, cJSON **ret,
		       char **ret_why, struct mk_error **err)
{
	for (;;) {
		if (atomic_load(&w->canceled))
			return mk_error_set(err, ECANCELED, "etcd watch '%s' canceled", w->key);
		int r = stream_line(w, ret, ret_why);
		if (r)
			return r;
		if (w->too_large)
			return mk_error_set(err, EMSGSIZE, "etcd watch '%s': message over %u bytes",
					    w->key, ETCD_MAX_RESPONSE);
		int running = 0, left;
		uint64_t had = w->received;
		curl_multi_perform(w->multi, &running);
		CURLMsg *m;
		while ((m = curl_multi_info_read(w->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				return stream_done(w, m, ret, ret_why, err);
		if (!w->easy) {
			*ret_why = mk_strdup("stream ended");
			return -2;
		}
		/* bytes came in: look at them before waiting for more */
		if (w->received != had)
			continue;
		int64_t wait = 1000;
		if (deadline >= 0) {
			int64_t left_ms = deadline - now_ms();
			if (left_ms <= 0)
				return 0;
			if (left_ms < wait)
				wait = left_ms;
		}
		curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
	}
}

/* Starts the stream on endpoint idx, then on the next ones, until one answers
 * "created". */
static int stream_open(struct mk_etcd_watch *w, size_t first, struct mk_error **err)
{
	struct mk_etcd *c = w->c;
	_cleanup_free_ char *why = NULL;
	for (size_t i = 0; i < c->n_endpoints; i++) {
		size_t idx = (first + i) % c->n_endpoints;
		stream_start(w, idx);
		int64_t deadline = now_ms() + c->timeout_ms;
		for (;;) {
			_cleanup_cjson_ cJSON *m = NULL;
			free(why);
			why = NULL;
			int r = stream_read(w, deadline, &m, &why, err);
			if (r == -1)
				return -1;
			if (r == 0) {
				why = mk_strdup("no answer in time");
				break;
			}
			if (r == -2)
				break;
			const cJSON *res = cJSON_GetObjectItemCaseSensitive(m, "result");
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created"))) {
				/* "from the next revision": pinned now, so a resumed stream
				 * starts where this one did */
				if (!w->next_rev)
					w->next_rev = etcd_json_i64(cJSON_GetObjectItemCaseSensitive(
									    res, "header"),
								    "revision") +
						      1;
				/* a compacted start revision: etcd creates the watch, then
				 * cancels it in its next message; stream_read sees that */
				return 0;
			}
			why = mk_strdup("a first message that is not 'created'");
			break;
		}
	}
	stream_stop(w);
	return mk_error_set(err, ECONNREFUSED, "etcd watch '%s': no endpoint took it (last: %s)",
			    w->key, why ? why : "?");
}

int mk_etcd_watch_new(struct mk_etcd *c, const char *key, const char *range_end,
		      int64_t start_revision, unsigned flags, struct mk_etcd_watch **ret,
		      struct mk_error **err)
{
	if (start_revision < 0)
		return mk_error_set(err, EINVAL, "etcd watch '%s': negative revision", key);
	struct mk_etcd_watch *w = mk_malloc0(sizeof(*w));
	w->c = c;
	w->key = mk_strdup(key);
	w->range_end = mk_strdup(range_end);
	w->flags = flags;
	w->next_rev = start_revision;
	mk_buf_init(&w->buf);
	atomic_init(&w->canceled, false);
	w->multi = curl_multi_init();
	if (!w->multi)
		abort();
	w->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* gRPC metadata through the gateway: etcd's "require leader", so a member cut
	 * off from the quorum ends the stream and the watch moves to another one */
	w->hdrs = curl_slist_append(w->hdrs, "Grpc-Metadata-hasleader: true");
	if (stream_open(w, atomic_load(&c->current) % c->n_endpoints, err) < 0) {
		mk_etcd_watch_free(w);
		return -1;
	}
	*ret = w;
	return 0;
}

void mk_etcd_watch_batch_release(struct mk_etcd_watch_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		mk_etcd_kv_release(&b->events[i].kv);
		mk_etcd_kv_release(&b->events[i].prev_kv);
	}
	free(b->events);
	memset(b, 0, sizeof(*b));
}

static int batch_parse(const cJSON *res, struct mk_etcd_watch_batch *ret, struct mk_error **err)
{
	struct mk_etcd_watch_batch b = { 0 };
	const cJSON *evs = cJSON_GetObjectItemCaseSensitive(res, "events");
	b.revision = etcd_json_i64(cJSON_GetObjectItemCaseSensitive(res, "header"), "revision");
	size_t n = (size_t)cJSON_GetArraySize(evs);
	if (n)
		b.events = mk_malloc0(n * sizeof(*b.events));
	const cJSON *it;
	cJSON_ArrayForEach(it, evs) {
		struct mk_etcd_event *e = &b.events[b.n];
		const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type"));
		e->type = type && !strcmp(type, "DELETE") ? MK_ETCD_EVENT_DELETE : MK_ETCD_EVENT_PUT;
		b.n++;
		if (etcd_kv_parse(cJSON_GetObjectItemCaseSensitive(it, "kv"), &e->kv, err) < 0) {
			mk_etcd_watch_batch_release(&b);
			return -1;
		}
		const cJSON *prev = cJSON_GetObjectItemCaseSensitive(it, "prev_kv");
		if (prev && etcd_kv_parse(prev, &e->prev_kv, err) < 0) {
			mk_etcd_watch_batch_release(&b);
			return -1;
		}
	}
	*ret = b;
	return 0;
}

int mk_etcd_watch_next(struct mk_etcd_watch *w, int timeout_ms,
		       struct mk_etcd_watch_batch *ret, struct mk_error **err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	for (;;) {
		if (w->compact_revision)
			return mk_error_set(err, ERANGE,
					    "etcd watch '%s': revision %lld compacted (oldest %lld)",
					    w->key, (long long)w->next_rev,
					    (long long)w->compact_revision);
		_cleanup_cjson_ cJSON *m = NULL;
		_cleanup_free_ char *why = NULL;
		int r = w->easy || w->consumed < w->buf.len ? stream_read(w, deadline, &m, &why, err)
							    : -2;
		if (r == -1 || r == 0)
			return r;
		if (r == -2) {
			/* resume on the next member, from after the last event delivered */
			if (atomic_load(&w->canceled))
				return mk_error_set(err, ECANCELED, "etcd watch '%s' canceled", w->key);
			if (stream_open(w, w->endpoint + 1, err) < 0)
				return mk_error_wrap(err, "resume after '%s'", why ? why : "?");
			continue;
		}
		const cJSON *res = cJSON_GetObjectItemCaseSensitive(m, "result");
		if (!res) {
			/* an error object in the stream ({"error": {...}}): treat as the
			 * end of this stream and resume elsewhere */
			stream_stop(w);
			continue;
		}
		int64_t compact = etcd_json_i64(res, "compact_revision");
		if (compact) {
			w->compact_revision = compact;
			stream_stop(w);
			continue;
		}
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "canceled"))) {
			const char *reason = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(res, "cancel_reason"));
			stream_stop(w);
			return mk_error_set(err, EIO, "etcd canceled watch '%s': %s", w->key,
					    reason ? reason : "no reason given");
		}
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "created")))
			continue;
		struct mk_etcd_watch_batch b;
		if (batch_parse(res, &b, err) < 0)
			return -1;
		if (b.n) {
			w->next_rev = b.events[b.n - 1].kv.mod_revision + 1;
		} else {
			/* a progress notice: every event up to its revision was sent */
			if (b.revision + 1 > w->next_rev)
				w->next_rev = b.revision + 1;
			if (!(w->flags & MK_ETCD_WATCH_PROGRESS))
				continue;
		}
		*ret = b;
		return 1;
	}
}

void mk_etcd_watch_cancel(struct mk_etcd_watch *w)
{
	atomic_store(&w->canceled, true);
	curl_multi_wakeup(w->multi);
}

int64_t mk_etcd_watch_compact_revision(const struct mk_etcd_watch *w)
{
	return w->compact_revision;
}

void mk_etcd_watch_free(struct mk_etcd_watch *w)
{
	if (!w)
		return;
	stream_stop(w);
	curl_multi_cleanup(w->multi);
	curl_slist_free_all(w->hdrs);
	mk_buf_release(&w->buf);
	free(w->key);
	free(w->range_end);
	free(w);
}
