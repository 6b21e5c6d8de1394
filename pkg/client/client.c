/* HTTP requests to the API server over libcurl, one keep-alive handle per
 * thread and client. */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "minik8s/client.h"
#include "minik8s/api.h"
#include "internal.h"

#define MAX_RESPONSE_BYTES ((size_t)256 << 20)

struct thread_handle {
	CURL *curl;
	struct mk_client *client;
	struct thread_handle *next, *prev;
};

struct mk_client {
	struct mk_client_config *cfg;
	/* the servers of cfg->server ("URL[,URL...]") and the one in use (atomic): a
	 * transport error moves every thread of the client to the next */
	char **servers;
	size_t n_servers;
	size_t cur;
	pthread_key_t key;
	pthread_mutex_t mu; /* guards handles */
	struct thread_handle *handles;
	const struct mk_client_transport *transport; /* NULL: HTTP(S) over libcurl */
	void *transport_ud;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_ALL); }
void mk_client_curl_global_init(void) { pthread_once(&curl_once, curl_init_once); }

/* ---- config ------------------------------------------------------------------ */

struct mk_client_config *mk_client_config_new(const char *server, const char *token,
					      const char *ca_file)
{
	struct mk_client_config *cfg = mk_malloc0(sizeof(*cfg));
	cfg->server = mk_strdup(server);
	if (cfg->server) {
		size_t n = strlen(cfg->server);
		while (n > 0 && cfg->server[n - 1] == '/')
			cfg->server[--n] = '\0';
	}
	cfg->token = mk_strdup(token);
	cfg->ca_file = mk_strdup(ca_file);
	return cfg;
}

struct mk_client_config *mk_client_config_dup(const struct mk_client_config *src)
{
	struct mk_client_config *cfg = mk_client_config_new(src->server, src->token, src->ca_file);
	if (src->ca_data) {
		cfg->ca_data = mk_malloc0(src->ca_data_len + 1);
		memcpy(cfg->ca_data, src->ca_data, src->ca_data_len);
		cfg->ca_data_len = src->ca_data_len;
	}
	cfg->client_cert_file = mk_strdup(src->client_cert_file);
	cfg->client_key_file = mk_strdup(src->client_key_file);
	cfg->insecure = src->insecure;
	cfg->namespace = mk_strdup(src->namespace);
	cfg->timeout_ms = src->timeout_ms;
	cfg->user_agent = mk_strdup(src->user_agent);
	return cfg;
}

void mk_client_config_free(struct mk_client_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->server);
	free(cfg->token);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free(cfg->client_cert_file);
	free(cfg->client_key_file);
	free(cfg->namespace);
	free(cfg->user_agent);
	free(cfg);
}

/* ---- client ------------------------------------------------------------------ */

static void thread_handle_destroy(void *p)
{
	struct thread_handle *th = p;
	struct mk_client *c = th->client;

	pthread_mutex_lock(&c->mu);
	if (th->prev)
		th->prev->next = th->next;
	else
		c->handles = th->next;
	if (th->next)
		th->next->prev = th->prev;
	pthread_mutex_unlock(&c->mu);
	curl_easy_cleanup(th->curl);
	free(th);
}

static void free_servers(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* "URL[,URL...]" into its http(s) URLs without trailing slashes. */
static int split_servers(const char *list, char ***ret, size_t *ret_n, struct mk_error **err)
{
	_cleanup_free_ char *copy = mk_strdup(list);
	char **v = NULL, *save = NULL;
	size_t n = 0;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok += strspn(tok, " ");
		size_t len = strlen(tok);
		while (len && (tok[len - 1] == '/' || tok[len - 1] == ' '))
			tok[--len] = '\0';
		if (!len)
			continue;
		if (!mk_str_has_prefix(tok, "https://") && !mk_str_has_prefix(tok, "http://")) {
			free_servers(v, n);
			return mk_error_set(err, EINVAL, "client: server URL '%s' is not http(s)", tok);
		}
		v = realloc(v, (n + 1) * sizeof(*v));
		if (!v)
			abort();
		v[n++] = mk_strdup(tok);
	}
	if (!n)
		return mk_error_set(err, EINVAL, "client: no server URL configured");
	*ret = v;
	*ret_n = n;
	return 0;
}

const char *mk_client_server(struct mk_client *c)
{
	return c->servers[__atomic_load_n(&c->cur, __ATOMIC_ACQUIRE) % c->n_servers];
}

bool mk_client_server_failed(struct mk_client *c, const char *server)
{
	if (c->n_servers < 2)
		return false;
	size_t cur = __atomic_load_n(&c->cur, __ATOMIC_ACQUIRE);
	/* only the first thread to see this server fail moves the client on */
	if (strcmp(c->servers[cur % c->n_servers], server) == 0 &&
	    __atomic_compare_exchange_n(&c->cur, &cur, (cur + 1) % c->n_servers, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		mk_log(MK_LOG_WARN, "client", "API server %s unreachable: now using %s", server,
		       c->servers[(cur + 1) % c->n_servers]);
	return true;
}

int mk_client_new(const struct mk_client_config *cfg, struct mk_client **ret, struct mk_error **err)
{
	if (!cfg || !cfg->server || !*cfg->server)
		return mk_error_set(err, EINVAL, "client: no server URL configured");
	char **servers = NULL;
	size_t n = 0;
	if (split_servers(cfg->server, &servers, &n, err) < 0)
		return -1;
	mk_client_curl_global_init();
	struct mk_client *c = mk_malloc0(sizeof(*c));
	c->servers = servers;
	c->n_servers = n;
	if (pthread_key_create(&c->key, thread_handle_destroy) != 0) {
		free_servers(c->servers, c->n_servers);
		free(c);
		return mk_error_set(err, EAGAIN, "client: pthread_key_create failed");
	}
	pthread_mutex_init(&c->mu, NULL);
	c->cfg = mk_client_config_dup(cfg);
	*ret = c;
	return 0;
}

void mk_client_free(struct mk_client *c)
{
	if (!c)
		return;
	pthread_key_delete(c->key);
	pthread_mutex_lock(&c->mu);
	struct thread_handle *th = c->handles;
	c->handles = NULL;
	pthread_mutex_unlock(&c->mu);
	while (th) {
		struct thread_handle *next = th->next;
		curl_easy_cleanup(th->curl);
		free(th);
		th = next;
	}
	pthread_mutex_destroy(&c->mu);
	mk_client_config_free(c->cfg);
	free_servers(c->servers, c->n_servers);
	free(c);
}

const struct mk_client_config *mk_client_get_config(const struct mk_client *c)
{
	return c->cfg;
}

void mk_client_set_transport(struct mk_client *c, const struct mk_client_transport *t, void *ud)
{
	c->transport = t;
	c->transport_ud = ud;
}

const struct mk_client_transport *mk_client_get_transport(const struct mk_client *c, void **ret_ud)
{
	if (ret_ud)
		*ret_ud = c->transport_ud;
	return c->transport;
}

/* the calling thread's handle for c, reset to defaults but keeping its
 * connection cache */
static CURL *thread_curl(struct mk_client *c, struct mk_error **err)
{
	struct thread_handle *th = pthread_getspecific(c->key);
	if (th) {
		curl_easy_reset(th->curl);
		return th->curl;
	}
	CURL *h = curl_easy_init();
	if (!h) {
		mk_error_set(err, ENOMEM, "client: curl_easy_init failed");
		return NULL;
	}
	th = mk_malloc0(sizeof(*th));
	th->curl = h;
	th->client = c;
	pthread_mutex_lock(&c->mu);
	th->next = c->handles;
	if (c->handles)
		c->handles->prev = th;
	c->handles = th;
	pthread_mutex_unlock(&c->mu);
	pthread_setspecific(c->key, th);
	return h;
}

int mk_client_setup_handle(const struct mk_client_config *cfg, CURL *h, const char *accept,
			   const char *content_type, struct curl_slist **headers,
			   struct mk_error **err)
{
	struct curl_slist *l = NULL;
	char *line;

	line = mk_strdup_printf("Accept: %s", accept ? accept : "application/json");
	l = curl_slist_append(l, line);
	free(line);
	if (content_type) {
		line = mk_strdup_printf("Content-Type: %s", content_type);
		l = curl_slist_append(l, line);
		free(line);
	}
	if (cfg->token && *cfg->token) {
		line = mk_strdup_printf("Authorization: Bearer %s", cfg->token);
		l = curl_slist_append(l, line);
		free(line);
	}
	/* no "Expect: 100-continue" round trip on large bodies */
	l = curl_slist_append(l, "Expect:");
	if (!l)
		return mk_error_set(err, ENOMEM, "client: out of memory");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	/* the API server names a write's field manager after the User-Agent's product */
	curl_easy_setopt(h, CURLOPT_USERAGENT, cfg->user_agent ? cfg->user_agent : "minik8s/0.1.0");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (cfg->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (cfg->ca_data) {
		struct curl_blob blob = { .data = cfg->ca_data, .len = cfg->ca_data_len,
					  .flags = CURL_BLOB_COPY };
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	}
	if (cfg->client_cert_file)
		curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->client_cert_file);
	if (cfg->client_key_file)
		curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->client_key_file);
	*headers = l;
	return 0;
}

int mk_client_curl_error(CURL *h, CURLcode rc, const char *method, const char *url,
			 const char *errbuf, struct mk_error **err)
{
	int code = EIO;
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		code = ECONNREFUSED;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		code = ETIMEDOUT;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		code = EHOSTUNREACH;
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		code = EPROTO;
		break;
	default:
		break;
	}
	return mk_error_set(err, code, "%s '%s': %s", method, url,
			    errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
}

struct body_sink {
	struct mk_buf buf;
	bool too_big;
};

static size_t write_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body_sink *s = userdata;
	size_t n = size * nmemb;
	if (s->buf.len + n > MAX_RESPONSE_BYTES) {
		s->too_big = true;
		return 0;
	}
	mk_buf_append(&s->buf, ptr, n);
	return n;
}

struct upload {
	const char *data;
	size_t len, off;
};

static size_t read_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct upload *u = userdata;
	size_t n = size * nmemb;
	if (n > u->len - u->off)
		n = u->len - u->off;
	memcpy(ptr, u->data + u->off, n);
	u->off += n;
	return n;
}

void mk_client_response_release(struct mk_client_response *res)
{
	if (!res)
		return;
	free(res->content_type);
	free(res->body);
	if (res->json)
		cJSON_Delete(res->json);
	memset(res, 0, sizeof(*res));
}

static int client_do_one(struct mk_client *c, const char *server,
			 const struct mk_client_request *req, struct mk_client_response *res,
			 struct mk_error **err);

/* A transport error a request may be sent again after to another server: the
 * request never reached one (no connection, no TLS session), or it only reads. */
static bool retry_elsewhere(int code, const char *method)
{
	if (code == ECONNREFUSED || code == EHOSTUNREACH)
		return true;
	return (code == ETIMEDOUT || code == EIO || code == EPROTO) && !strcmp(method, "GET");
}

int mk_client_do(struct mk_client *c, const struct mk_client_request *req,
		 struct mk_client_response *res, struct mk_error **err)
{
	const char *method = req->method ? req->method : "GET";
	for (size_t attempt = 0;; attempt++) {
		const char *server = mk_client_server(c);
		_cleanup_error_ struct mk_error *e = NULL;
		if (client_do_one(c, server, req, res, &e) == 0)
			return 0;
		/* a transport error: the next request goes to the next server; this one
		 * too when that is safe and there is one not tried yet */
		bool transport = e->code == ECONNREFUSED || e->code == EHOSTUNREACH ||
				 e->code == ETIMEDOUT || e->code == EIO || e->code == EPROTO;
		if (!transport || !mk_client_server_failed(c, server) ||
		    attempt + 1 >= c->n_servers || !retry_elsewhere(e->code, method))
			return mk_error_set(err, e->code, "%s", e->msg);
	}
}

static int client_do_one(struct mk_client *c, const char *server,
			 const struct mk_client_request *req, struct mk_client_response *res,
			 struct mk_error **err)
{
	struct curl_slist *headers = NULL;
	struct body_sink sink = { 0 };
	struct upload up = { 0 };
	char errbuf[CURL_ERROR_SIZE] = "";
	_cleanup_free_ char *url = NULL;
	const char *method = req->method ? req->method : "GET";
	const char *ctype = req->content_type;
	int r;

	if (c->transport)
		return c->transport->request(c->transport_ud, c->cfg, req, res, err);
	CURL *h = thread_curl(c, err);
	if (!h)
		return -1;
	if (req->body && !ctype)
		ctype = "application/json";
	r = mk_client_setup_handle(c->cfg, h, req->accept, ctype, &headers, err);
	if (r < 0)
		return r;
	url = mk_strdup_printf("%s%s", server, req->path);
	mk_buf_init(&sink.buf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (c->cfg->timeout_ms > 0) {
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->cfg->timeout_ms);
	} else {
		/* no overall limit, but a server silent for a minute is a failure */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	}
	if (req->body) {
		up.data = req->body;
		up.len = req->body_len ? req->body_len : strlen(req->body);
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_body);
		curl_easy_setopt(h, CURLOPT_READDATA, &up);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}

	CURLcode rc = curl_easy_perform(h);
	curl_slist_free_all(headers);
	/* the handle outlives this call: drop pointers into our stack */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		mk_buf_release(&sink.buf);
		if (sink.too_big)
			return mk_error_set(err, EFBIG, "%s '%s': response larger than %zu bytes",
					    method, url, MAX_RESPONSE_BYTES);
		return mk_client_curl_error(h, rc, method, url, errbuf, err);
	}

	memset(res, 0, sizeof(*res));
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->code);
	char *ct = NULL;
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
	res->content_type = mk_strdup(ct);
	res->body_len = sink.buf.len;
	res->body = sink.buf.data ? mk_buf_steal(&sink.buf) : mk_strdup("");
	if (res->body_len > 0 && (!res->content_type || strstr(res->content_type, "json")))
		res->json = cJSON_ParseWithLength(res->body, res->body_len);
	return 0;
}

static bool is_status(const cJSON *j)
{
	const char *kind = mk_json_get_string(j, "kind");
	return kind && !strcmp(kind, "Status");
}

const char *mk_client_response_reason(const struct mk_client_response *res)
{
	if (is_status(res->json)) {
		const char *r = mk_json_get_string(res->json, "reason");
		if (r && *r)
			return r;
	}
	/* the same reasons the API server gives (pkg/api); "" for non-errors */
	return res->code >= 400 ? mk_api_status_reason((int)res->code) : "";
}

/* The texts apimachinery uses for errors without a Status body. */
static const char *generic_message(long code)
{
	switch (code) {
	case 400: return "the server rejected our request for an unknown reason";
	case 401: return "the server has asked for the client to provide credentials";
	case 403: return "the server does not allow access to the requested resource";
	case 404: return "the server could not find the requested resource";
	case 405: return "the server does not allow this method on the requested resource";
	case 409: return "the server reported a conflict";
	case 410: return "the server has received a request for an expired resource";
	case 415: return "the server responded with the status code 415 but did not return more information";
	case 422: return "the server rejected our request due to an error in our request";
	case 429: return "the server has received too many requests and has asked us to try again later";
	case 500: return "an error on the server has prevented the request from succeeding";
	case 503: return "the server is currently unable to handle the request";
	case 504: return "the server was unable to return a response in the time allotted, but may still be processing the request";
	default: return NULL;
	}
}

int mk_client_response_error(const struct mk_client_response *res, struct mk_error **err)
{
	const char *msg = is_status(res->json) ? mk_json_get_string(res->json, "message") : NULL;
	if (msg && *msg)
		return mk_error_set(err, (int)res->code, "%s", msg);
	const char *g = generic_message(res->code);
	if (g)
		return mk_error_set(err, (int)res->code, "%s", g);
	return mk_error_set(err, (int)res->code,
			    "an error on the server (\"%.*s\") has prevented the request from succeeding",
			    (int)(res->body_len > 200 ? 200 : res->body_len),
			    res->body ? res->body : "");
}

static int simple(struct mk_client *c, const char *method, const char *path,
		  const char *content_type, const cJSON *body, cJSON **ret_obj,
		  struct mk_error **err)
{
	_cleanup_cjson_str_ char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	struct mk_client_request req = {
		.method = method, .path = path, .content_type = content_type, .body = text,
	};
	struct mk_client_response res = { 0 };
	int r = mk_client_do(c, &req, &res, err);
	if (r < 0)
		return r;
	if (res.code < 200 || res.code >= 300) {
		mk_client_response_error(&res, err);
		mk_client_response_release(&res);
		return -1;
	}
	if (ret_obj)
		*ret_obj = TAKE_PTR(res.json);
	mk_client_response_release(&res);
	return 0;
}

int mk_client_get(struct mk_client *c, const char *path, cJSON **ret_obj, struct mk_error **err)
{
	return simple(c, "GET", path, NULL, NULL, ret_obj, err);
}

int mk_client_create(struct mk_client *c, const char *path, const cJSON *body, cJSON **ret_obj,
		     struct mk_error **err)
{
	return simple(c, "POST", path, NULL, body, ret_obj, err);
}

int mk_client_update(struct mk_client *c, const char *path, const cJSON *body, cJSON **ret_obj,
		     struct mk_error **err)
{
	return simple(c, "PUT", path, NULL, body, ret_obj, err);
}

int mk_client_patch(struct mk_client *c, const char *path, const char *content_type,
		    const cJSON *patch, cJSON **ret_obj, struct mk_error **err)
{
	return simple(c, "PATCH", path, content_type ? content_type : "application/merge-patch+json",
		      patch, ret_obj, err);
}

int mk_client_delete(struct mk_client *c, const char *path, const char *propagation,
		     cJSON **ret_obj, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *body = NULL;
	if (propagation) {
		body = cJSON_CreateObject();
		cJSON_AddStringToObject(body, "propagationPolicy", propagation);
	}
	return simple(c, "DELETE", path, NULL, body, ret_obj, err);
}

char *mk_client_escape(const char *s)
{
	mk_client_curl_global_init();
	char *e = curl_easy_escape(NULL, s, 0);
	char *r = mk_strdup(e);
	curl_free(e);
	return r;
}

int mk_client_base64_decode(const char *in, char **ret, size_t *ret_len)
{
	size_t n = strlen(in);
	char *out = mk_malloc0(n / 4 * 3 + 4);
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];
		int v;
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '+' || ch == '-')
			v = 62;
		else if (ch == '/' || ch == '_')
			v = 63;
		else if (ch == '=')
			break;
		else if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
			continue;
		else {
			free(out);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

char *mk_client_resource_path(const char *group_version, const char *resource, const char *ns, const char *name,
			       const char *sub)
{
	struct mk_buf b;
	mk_buf_init(&b);
	mk_buf_printf(&b, "%s/%s", strchr(group_version, '/') ? "/apis" : "/api", group_version);
	if (ns && *ns)
		mk_buf_printf(&b, "/namespaces/%s", ns);
	mk_buf_printf(&b, "/%s", resource);
	if (name)
		mk_buf_printf(&b, "/%s", name);
	if (sub)
		mk_buf_printf(&b, "/%s", sub);
	return mk_buf_steal(&b);
}
