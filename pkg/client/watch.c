/* Watch streams: GET ?watch=true, newline-delimited JSON events decoded as the
 * bytes arrive (one event may span many chunks, one chunk many events). Runs
 * a private multi handle so that mk_client_watch_cancel can wake the poll
 * from another thread (curl_multi_wakeup). */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include "minik8s/client.h"
#include "internal.h"

#define DEFAULT_MAX_LINE ((size_t)64 << 20)

/* ---- line splitter ----------------------------------------------------------- */

void mk_client_line_splitter_init(struct mk_client_line_splitter *s, size_t max_line,
				  mk_client_line_fn fn, void *userdata)
{
	mk_buf_init(&s->buf);
	s->max_line = max_line ? max_line : DEFAULT_MAX_LINE;
	s->fn = fn;
	s->userdata = userdata;
}

void mk_client_line_splitter_release(struct mk_client_line_splitter *s)
{
	mk_buf_release(&s->buf);
}

static int emit_line(struct mk_client_line_splitter *s, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	/* skip blank lines (keep-alive newlines) */
	size_t i = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len)
		return 0;
	return s->fn(line, len, s->userdata);
}

int mk_client_line_splitter_feed(struct mk_client_line_splitter *s, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		if (!nl) {
			if (s->buf.len + len > s->max_line) {
				mk_buf_release(&s->buf);
				errno = E2BIG;
				return -1;
			}
			mk_buf_append(&s->buf, data, len);
			return 0;
		}
		size_t n = (size_t)(nl - data);
		int r;
		if (s->buf.len > 0) {
			if (s->buf.len + n > s->max_line) {
				mk_buf_release(&s->buf);
				errno = E2BIG;
				return -1;
			}
			mk_buf_append(&s->buf, data, n);
			r = emit_line(s, s->buf.data, s->buf.len);
			s->buf.len = 0;
			s->buf.data[0] = '\0';
		} else {
			if (n > s->max_line) {
				errno = E2BIG;
				return -1;
			}
			r = emit_line(s, data, n);
		}
		if (r < 0)
			return r;
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

int mk_client_line_splitter_finish(struct mk_client_line_splitter *s)
{
	int r = 0;
	if (s->buf.len > 0)
		r = emit_line(s, s->buf.data, s->buf.len);
	s->buf.len = 0;
	if (s->buf.data)
		s->buf.data[0] = '\0';
	return r;
}

/* ---- watch -------------------------------------------------------------------- */

struct mk_client_watch {
	pthread_mutex_t mu; /* guards multi */
	CURLM *multi;
	atomic_bool cancelled;
	char *resource_version;
	cJSON *event; /* the event being delivered (mk_client_watch_take_object) */
	void (*waker)(void *ud); /* a transport's watch running (guarded by mu) */
	void *waker_ud;
};

void mk_client_watch_set_waker(struct mk_client_watch *w, void (*fn)(void *ud), void *ud)
{
	pthread_mutex_lock(&w->mu);
	w->waker = fn;
	w->waker_ud = ud;
	bool now = fn && atomic_load(&w->cancelled);
	pthread_mutex_unlock(&w->mu);
	if (now)
		fn(ud);
}

cJSON *mk_client_watch_take_object(struct mk_client_watch *w)
{
	return w->event ? cJSON_DetachItemFromObjectCaseSensitive(w->event, "object") : NULL;
}

struct mk_client_watch *mk_client_watch_new(void)
{
	struct mk_client_watch *w = mk_malloc0(sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	atomic_init(&w->cancelled, false);
	return w;
}

void mk_client_watch_free(struct mk_client_watch *w)
{
	if (!w)
		return;
	pthread_mutex_destroy(&w->mu);
	free(w->resource_version);
	free(w);
}

void mk_client_watch_cancel(struct mk_client_watch *w)
{
	atomic_store(&w->cancelled, true);
	pthread_mutex_lock(&w->mu);
	if (w->multi)
		curl_multi_wakeup(w->multi);
	if (w->waker)
		w->waker(w->waker_ud);
	pthread_mutex_unlock(&w->mu);
}

void mk_client_watch_reset(struct mk_client_watch *w)
{
	atomic_store(&w->cancelled, false);
}

bool mk_client_watch_cancelled(struct mk_client_watch *w)
{
	return atomic_load(&w->cancelled);
}

const char *mk_client_watch_resource_version(const struct mk_client_watch *w)
{
	return w->resource_version;
}

struct run_state {
	struct mk_client_watch *w;
	CURL *h;
	mk_client_watch_fn fn;
	void *userdata;
	struct mk_client_line_splitter splitter;
	struct mk_buf error_body;	/* body of a non-2xx answer */
	long code;
	bool stopped;			/* fn asked to stop */
	bool too_big;
	struct mk_error *event_err;	/* from an ERROR event */
	CURLM *m;			/* private, so that cancel can wake its poll */
	const char *url;
	char errbuf[CURL_ERROR_SIZE];
	bool done;			/* curl finished the transfer, with rc */
	CURLcode rc;
};

static int on_line(const char *line, size_t len, void *userdata)
{
	struct run_state *st = userdata;
	_cleanup_cjson_ cJSON *ev = cJSON_ParseWithLength(line, len);
	const char *type = mk_json_get_string(ev, "type");
	cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
	if (!type || !cJSON_IsObject(obj)) {
		mk_error_set(&st->event_err, EPROTO, "watch: malformed event: %.*s",
			     (int)(len > 120 ? 120 : len), line);
		return -1;
	}
	if (strcmp(type, "ERROR") != 0) {
		const char *rv = mk_json_get_string(obj, "metadata.resourceVersion");
		if (rv && *rv) {
			free(st->w->resource_version);
			st->w->resource_version = mk_strdup(rv);
		}
	}
	st->w->event = ev;
	int r = st->fn(type, obj, st->userdata);
	st->w->event = NULL;
	obj = cJSON_GetObjectItemCaseSensitive(ev, "object"); /* NULL if the callback took it */
	if (!strcmp(type, "ERROR")) {
		cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
		const char *msg = mk_json_get_string(obj, "message");
		mk_error_set(&st->event_err, cJSON_IsNumber(code) ? code->valueint : EIO, "%s",
			     msg ? msg : "watch: error event");
		return -1;
	}
	if (r < 0) {
		st->stopped = true;
		return -1;
	}
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct run_state *st = userdata;
	size_t n = size * nmemb;

	if (atomic_load(&st->w->cancelled))
		return 0;
	if (st->code == 0)
		curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &st->code);
	if (st->code < 200 || st->code >= 300) {
		if (st->error_body.len + n > (1 << 20))
			return 0;
		mk_buf_append(&st->error_body, ptr, n);
		return n;
	}
	int r = mk_client_line_splitter_feed(&st->splitter, ptr, n);
	if (r < 0) {
		if (!st->stopped && !st->event_err)
			st->too_big = true;
		return 0;
	}
	return n;
}

static char *watch_url(const char *server, const char *path, const char *rv, int timeout_seconds)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "%s%s%swatch=true&allowWatchBookmarks=true", server, path,
		      strchr(path, '?') ? "&" : "?");
	if (rv && *rv) {
		char *e = mk_client_escape(rv);
		mk_buf_printf(&b, "&resourceVersion=%s", e);
		free(e);
	}
	if (timeout_seconds > 0)
		mk_buf_printf(&b, "&timeoutSeconds=%d", timeout_seconds);
	return mk_buf_steal(&b);
}

/* The easy handle (st->h, set up for cfg) on a private multi handle (st->m). */
static int watch_handles_new(const struct mk_client_config *cfg, struct run_state *st,
			     const char *accept, struct curl_slist **headers, struct mk_error **err)
{
	mk_client_curl_global_init();
	CURL *h = curl_easy_init();
	CURLM *m = curl_multi_init();
	if (!h || !m) {
		curl_easy_cleanup(h);
		curl_multi_cleanup(m);
		return mk_error_set(err, ENOMEM, "watch: curl init failed");
	}
	if (mk_client_setup_handle(cfg, h, accept, NULL, headers, err) < 0) {
		curl_easy_cleanup(h);
		curl_multi_cleanup(m);
		return -1;
	}
	st->h = h;
	st->m = m;
	return 0;
}

/* Publishes the multi handle being polled (NULL: none) for mk_client_watch_cancel. */
static void watch_set_multi(struct mk_client_watch *w, CURLM *m)
{
	pthread_mutex_lock(&w->mu);
	w->multi = m;
	pthread_mutex_unlock(&w->mu);
}

/* Drives the transfer until curl finishes it (st->done, st->rc) or w is cancelled. */
static int watch_pump(struct run_state *st, struct mk_error **err)
{
	while (!atomic_load(&st->w->cancelled)) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(st->m, &running);
		if (mc != CURLM_OK)
			return mk_error_set(err, EIO, "watch '%s': %s", st->url, curl_multi_strerror(mc));
		int queued;
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(st->m, &queued))) {
			if (msg->msg == CURLMSG_DONE) {
				st->rc = msg->data.result;
				st->done = true;
			}
		}
		if (st->done || running == 0) {
			st->done = true;
			return 0;
		}
		/* woken by data, by mk_client_watch_cancel, or after 1 s */
		mc = curl_multi_poll(st->m, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			return mk_error_set(err, EIO, "watch '%s': %s", st->url, curl_multi_strerror(mc));
	}
	return 0;
}

static int take_event_error(struct run_state *st, struct mk_error **err)
{
	if (err && !*err)
		*err = TAKE_PTR(st->event_err);
	return -1;
}

/* What a finished transfer means: an ERROR event, a stop asked for, a too large
 * event, a transport failure, a non-2xx Status, or the server ending the stream. */
static int watch_outcome(struct run_state *st, struct mk_error **err)
{
	if (st->code == 0)
		curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &st->code);
	if (st->event_err)
		return take_event_error(st, err);
	if (st->stopped || atomic_load(&st->w->cancelled))
		return 0;
	if (st->too_big)
		return mk_error_set(err, E2BIG, "watch '%s': event larger than the limit", st->url);
	if (st->rc != CURLE_OK)
		return mk_client_curl_error(st->h, st->rc, "GET", st->url, st->errbuf, err);
	if (st->code < 200 || st->code >= 300) {
		struct mk_client_response res = { .code = st->code,
						  .body = st->error_body.data,
						  .body_len = st->error_body.len };
		if (st->error_body.len)
			res.json = cJSON_ParseWithLength(st->error_body.data, st->error_body.len);
		int ret = mk_client_response_error(&res, err);
		if (res.json)
			cJSON_Delete(res.json);
		return ret;
	}
	/* server ended the stream: a last unterminated line is an event too */
	mk_client_line_splitter_finish(&st->splitter);
	if (st->event_err)
		return take_event_error(st, err);
	return 0;
}

static int transport_bytes(const char *data, size_t len, void *userdata)
{
	struct run_state *st = userdata;
	if (atomic_load(&st->w->cancelled))
		return -1;
	if (mk_client_line_splitter_feed(&st->splitter, data, len) < 0) {
		if (!st->stopped && !st->event_err)
			st->too_big = true;
		return -1;
	}
	return 0;
}

/* The watch through c's transport: the same events, outcomes and errors as over
 * HTTP (watch_outcome). */
static int watch_run_transport(struct mk_client *c, struct run_state *st, const char *path,
			       const char *rv, int timeout_seconds, const char *accept,
			       struct mk_error **err)
{
	void *tud = NULL;
	const struct mk_client_transport *t = mk_client_get_transport(c, &tud);
	_cleanup_free_ char *url = watch_url("", path, rv, timeout_seconds);
	struct mk_client_response res = { 0 };
	int ret;

	st->url = url;
	mk_client_line_splitter_init(&st->splitter, 0, on_line, st);
	ret = t->watch(tud, mk_client_get_config(c), st->w, url, accept, &res, transport_bytes, st,
		       err);
	if (ret < 0)
		goto out;
	if (st->event_err) {
		ret = take_event_error(st, err);
	} else if (st->stopped || atomic_load(&st->w->cancelled)) {
		ret = 0;
	} else if (st->too_big) {
		ret = mk_error_set(err, E2BIG, "watch '%s': event larger than the limit", url);
	} else if (res.code < 200 || res.code >= 300) {
		ret = mk_client_response_error(&res, err);
	} else {
		mk_client_line_splitter_finish(&st->splitter);
		ret = st->event_err ? take_event_error(st, err) : 0;
	}
out:
	mk_client_response_release(&res);
	mk_error_free(&st->event_err);
	mk_client_line_splitter_release(&st->splitter);
	return ret;
}

int mk_client_watch_run(struct mk_client *c, struct mk_client_watch *w, const char *path,
			const char *resource_version, int timeout_seconds, const char *accept,
			mk_client_watch_fn fn, void *userdata, struct mk_error **err)
{
	const struct mk_client_config *cfg = mk_client_get_config(c);
	struct curl_slist *headers = NULL;
	_cleanup_free_ char *url = NULL;
	struct run_state st = { .w = w, .fn = fn, .userdata = userdata, .rc = CURLE_OK };
	int ret;

	if (atomic_load(&w->cancelled))
		return 0;
	if (mk_client_get_transport(c, NULL))
		return watch_run_transport(c, &st, path, resource_version, timeout_seconds, accept,
					   err);
	if (watch_handles_new(cfg, &st, accept, &headers, err) < 0)
		return -1;
	const char *server = mk_client_server(c);
	url = watch_url(server, path, resource_version, timeout_seconds);
	st.url = url;
	mk_client_line_splitter_init(&st.splitter, 0, on_line, &st);
	mk_buf_init(&st.error_body);
	curl_easy_setopt(st.h, CURLOPT_URL, url);
	curl_easy_setopt(st.h, CURLOPT_ERRORBUFFER, st.errbuf);
	curl_easy_setopt(st.h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(st.h, CURLOPT_WRITEDATA, &st);
	curl_multi_add_handle(st.m, st.h);

	watch_set_multi(w, st.m);
	ret = watch_pump(&st, err);
	watch_set_multi(w, NULL);
	if (ret == 0 && st.done)
		ret = watch_outcome(&st, err);
	/* the server went away (not an answer of its): the client moves on to the
	 * next one, where the caller resumes from the last resourceVersion */
	if (ret < 0 && st.done && st.rc != CURLE_OK && !st.event_err && !st.too_big)
		mk_client_server_failed(c, server);

	mk_error_free(&st.event_err);
	curl_multi_remove_handle(st.m, st.h);
	curl_easy_cleanup(st.h);
	curl_multi_cleanup(st.m);
	curl_slist_free_all(headers);
	mk_client_line_splitter_release(&st.splitter);
	mk_buf_release(&st.error_body);
	return ret;
}
