/* The etcd client: endpoints, the connection pool, one request with failover, the
 * gateway's errors and JSON encoding. */
#include <errno.h>
#include <string.h>
#include "internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

int mk_etcd_endpoints_parse(const char *list, char ***ret, struct mk_error **err)
{
	_cleanup_strv_ char **v = NULL;
	size_t n = 0;
	if (!list)
		return mk_error_set(err, EINVAL, "empty etcd endpoint list");
	_cleanup_free_ char *copy = mk_strdup(list);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		size_t len = strlen(tok);
		while (len && (tok[len - 1] == ' ' || tok[len - 1] == '/'))
			tok[--len] = 0;
		if (!len)
			continue;
		const char *host = NULL;
		if (mk_str_has_prefix(tok, "http://"))
			host = tok + 7;
		else if (mk_str_has_prefix(tok, "https://"))
			host = tok + 8;
		if (!host || !*host || strchr(host, '/'))
			return mk_error_set(err, EINVAL,
					    "etcd endpoint '%s': want http(s)://HOST:PORT", tok);
		mk_strv_push(&v, &n, mk_strdup(tok));
	}
	if (!n)
		return mk_error_set(err, EINVAL, "empty etcd endpoint list");
	*ret = TAKE_PTR(v);
	return 0;
}

int mk_etcd_new(const struct mk_etcd_options *opts, struct mk_etcd **ret,
		struct mk_error **err)
{
	if (!opts || !opts->endpoints || !opts->endpoints[0])
		return mk_error_set(err, EINVAL, "etcd client without endpoints");
	pthread_once(&curl_once, curl_init_once);
	struct mk_etcd *c = mk_malloc0(sizeof(*c));
	for (size_t i = 0; opts->endpoints[i]; i++) {
		char *e = mk_strdup(opts->endpoints[i]);
		size_t len = strlen(e);
		while (len && e[len - 1] == '/')
			e[--len] = 0;
		mk_strv_push(&c->endpoints, &c->n_endpoints, e);
	}
	c->cafile = mk_strdup(opts->cafile);
	c->certfile = mk_strdup(opts->certfile);
	c->keyfile = mk_strdup(opts->keyfile);
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	c->connect_timeout_ms = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 2000;
	pthread_mutex_init(&c->lock, NULL);
	*ret = c;
	return 0;
}

void mk_etcd_free(struct mk_etcd *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_pool; i++)
		curl_easy_cleanup(c->pool[i]);
	free(c->pool);
	pthread_mutex_destroy(&c->lock);
	mk_strv_free(c->endpoints);
	free(c->cafile);
	free(c->certfile);
	free(c->keyfile);
	free(c);
}

const char *mk_etcd_endpoint_current(struct mk_etcd *c)
{
	return c->endpoints[atomic_load(&c->current) % c->n_endpoints];
}

void etcd_handle_setup(struct mk_etcd *c, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (c->cafile)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cafile);
	if (c->certfile)
		curl_easy_setopt(h, CURLOPT_SSLCERT, c->certfile);
	if (c->keyfile)
		curl_easy_setopt(h, CURLOPT_SSLKEY, c->keyfile);
}

static CURL *handle_get(struct mk_etcd *c)
{
	CURL *h = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->n_pool)
		h = c->pool[--c->n_pool];
	pthread_mutex_unlock(&c->lock);
	if (h)
		return h;
	h = curl_easy_init();
	if (!h)
		abort(); /* out of memory, as the rest of the project */
	etcd_handle_setup(c, h);
	return h;
}

static void handle_put(struct mk_etcd *c, CURL *h)
{
	pthread_mutex_lock(&c->lock);
	/* a bounded pool: beyond 64 idle connections, close */
	if (c->n_pool < 64) {
		MK_GROW(c->pool, c->cap_pool, c->n_pool + 1);
		c->pool[c->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (h)
		curl_easy_cleanup(h);
}

struct sink {
	struct mk_buf buf;
	bool too_large;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t len = size * nmemb;
	if (s->buf.len + len > ETCD_MAX_RESPONSE) {
		s->too_large = true;
		return 0;
	}
	mk_buf_append(&s->buf, data, len);
	return len;
}

/* transport errors after which the request surely did not reach etcd */
static bool curl_not_sent(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_SSL_CONNECT_ERROR;
}

/* transport errors after which a read is worth trying on another member */
static bool curl_retry_read(CURLcode rc)
{
	return curl_not_sent(rc) || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_PARTIAL_FILE;
}

/* gRPC status codes of the gateway's error answers */
enum {
	GRPC_INVALID_ARGUMENT = 3, GRPC_DEADLINE_EXCEEDED = 4, GRPC_NOT_FOUND = 5,
	GRPC_PERMISSION_DENIED = 7, GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9, GRPC_OUT_OF_RANGE = 11, GRPC_UNAVAILABLE = 14,
	GRPC_UNAUTHENTICATED = 16,
};

int etcd_error_from_status(struct mk_error **err, long http_status, const cJSON *body)
{
	const cJSON *jc = cJSON_GetObjectItemCaseSensitive(body, "code");
	const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "error"));
	if (!msg)
		msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(body, "message"));
	if (!cJSON_IsNumber(jc) || !msg)
		return mk_error_set(err, EIO, "etcd answered HTTP %ld", http_status);
	int code;
	switch (jc->valueint) {
	case GRPC_OUT_OF_RANGE:
		code = strstr(msg, "future revision") ? EOVERFLOW : ERANGE;
		break;
	case GRPC_NOT_FOUND:
		code = ENOENT;
		break;
	case GRPC_INVALID_ARGUMENT:
	case GRPC_FAILED_PRECONDITION:
		code = EINVAL;
		break;
	case GRPC_DEADLINE_EXCEEDED:
		code = ETIMEDOUT;
		break;
	case GRPC_RESOURCE_EXHAUSTED:
		code = ENOSPC;
		break;
	case GRPC_PERMISSION_DENIED:
	case GRPC_UNAUTHENTICATED:
		code = EACCES;
		break;
	case GRPC_UNAVAILABLE:
		code = EAGAIN;
		break;
	default:
		code = EIO;
	}
	return mk_error_set(err, code, "%s", msg);
}

int etcd_call(struct mk_etcd *c, const char *path, const cJSON *body, bool mutating,
	      cJSON **ret, struct mk_error **err)
{
	_cleanup_cjson_str_ char *text = cJSON_PrintUnformatted(body);
	if (!text)
		abort();
	CURL *h = handle_get(c);
	struct sink s = { 0 };
	mk_buf_init(&s.buf);
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	size_t start = atomic_load(&c->current) % c->n_endpoints;
	_cleanup_error_ struct mk_error *last = NULL;
	int r = -1;
	for (size_t i = 0; i < c->n_endpoints; i++) {
		size_t idx = (start + i) % c->n_endpoints;
		_cleanup_free_ char *url = mk_strdup_printf("%s%s", c->endpoints[idx], path);
		s.buf.len = 0;
		s.too_large = false;
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
		CURLcode rc = curl_easy_perform(h);
		mk_error_free(&last);
		if (rc != CURLE_OK) {
			if (s.too_large) {
				mk_error_set(&last, EMSGSIZE, "etcd '%s%s': answer over %u bytes",
					     c->endpoints[idx], path, ETCD_MAX_RESPONSE);
				break;
			}
			mk_error_set(&last,
				     rc == CURLE_OPERATION_TIMEDOUT ? ETIMEDOUT
				     : curl_not_sent(rc)	   ? ECONNREFUSED
								   : EIO,
				     "etcd '%s%s': %s", c->endpoints[idx], path,
				     curl_easy_strerror(rc));
			if (mutating ? curl_not_sent(rc) : curl_retry_read(rc))
				continue;
			break;
		}
		long status = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		cJSON *j = cJSON_ParseWithLength(s.buf.data, s.buf.len);
		if (status == 200 && j) {
			/* stay on the member that answered */
			if (idx != start)
				atomic_compare_exchange_strong(&c->current, &start, idx);
			*ret = j;
			r = 0;
			break;
		}
		if (!j) {
			mk_error_set(&last, EIO, "etcd '%s%s': HTTP %ld, not JSON", c->endpoints[idx],
				     path, status);
			break;
		}
		etcd_error_from_status(&last, status, j);
		cJSON_Delete(j);
		/* a member cut off from the quorum: another one may have a leader */
		if (last->code == EAGAIN &&
		    (!mutating || strstr(last->msg, "no leader") || strstr(last->msg, "not capable")))
			continue;
		break;
	}
	curl_slist_free_all(hdrs);
	mk_buf_release(&s.buf);
	/* a handle whose last transfer failed may hold a broken connection: curl
	 * notices and reconnects, so it is reusable either way */
	handle_put(c, h);
	if (r == 0)
		return 0;
	if (last && err && !*err) {
		*err = TAKE_PTR(last);
		return -1;
	}
	return mk_error_set(err, EIO, "etcd '%s': no answer", path);
}

/* ---- JSON -------------------------------------------------------------------- */

int64_t etcd_json_i64(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (cJSON_IsString(v))
		return strtoll(v->valuestring, NULL, 10);
	if (cJSON_IsNumber(v))
		return (int64_t)v->valuedouble;
	return 0;
}

void etcd_json_add_i64(cJSON *o, const char *name, int64_t v)
{
	char num[24];
	snprintf(num, sizeof(num), "%lld", (long long)v);
	cJSON_AddStringToObject(o, name, num);
}

void etcd_json_add_bytes(cJSON *o, const char *name, const void *data, size_t len)
{
	_cleanup_free_ char *b = mk_base64_encode(data ? data : "", len);
	cJSON_AddStringToObject(o, name, b);
}

void etcd_json_add_range_end(cJSON *o, const char *range_end)
{
	if (!range_end)
		return;
	if (!*range_end)
		etcd_json_add_bytes(o, "range_end", "", 1); /* etcd's "\0" */
	else
		etcd_json_add_bytes(o, "range_end", range_end, strlen(range_end));
}

int etcd_json_bytes(const cJSON *o, const char *name, char **ret, size_t *ret_len)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
	void *data = NULL;
	size_t len = 0;
	if (s && *s) {
		if (mk_base64_decode(s, &data, &len) < 0)
			return -1;
		char *d = realloc(data, len + 1);
		if (!d)
			abort();
		d[len] = 0;
		data = d;
	} else {
		data = mk_strdup("");
	}
	*ret = data;
	if (ret_len)
		*ret_len = len;
	return 0;
}

void mk_etcd_kv_release(struct mk_etcd_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

int etcd_kv_parse(const cJSON *o, struct mk_etcd_kv *ret, struct mk_error **err)
{
	struct mk_etcd_kv kv = { 0 };
	if (etcd_json_bytes(o, "key", &kv.key, &kv.key_len) < 0 ||
	    etcd_json_bytes(o, "value", &kv.value, &kv.value_len) < 0) {
		mk_etcd_kv_release(&kv);
		return mk_error_set(err, EIO, "etcd answer: malformed base64");
	}
	kv.create_revision = etcd_json_i64(o, "create_revision");
	kv.mod_revision = etcd_json_i64(o, "mod_revision");
	kv.version = etcd_json_i64(o, "version");
	kv.lease = etcd_json_i64(o, "lease");
	*ret = kv;
	return 0;
}

char *mk_etcd_prefix_end(const char *prefix)
{
	size_t len = strlen(prefix);
	char *end = mk_strdup(prefix);
	for (size_t i = len; i > 0; i--) {
		unsigned char b = (unsigned char)end[i - 1];
		if (b < 0xff) {
			end[i - 1] = (char)(b + 1);
			end[i] = 0;
			return end;
		}
	}
	end[0] = 0;
	return end;
}
