/* Registry HTTP API v2 client (distribution spec): manifests with content
 * negotiation, anonymous bearer tokens (Docker Hub's token flow), basic auth,
 * mirrors and plain-HTTP registries from registries.yaml, blobs via redirects. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include "internal.h"

#define ACCEPT_MANIFESTS                                                                     \
	"Accept: " MK_IMAGE_MT_OCI_INDEX ", " MK_IMAGE_MT_OCI_MANIFEST ", " MK_IMAGE_MT_DOCKER_LIST \
	", " MK_IMAGE_MT_DOCKER_MANIFEST

struct reg {
	struct mk_image_ref ref;
	cJSON *conf; /* registries config (owned) or NULL */
	const cJSON *host_conf;
	char *base; /* "https://host[:port]" of the endpoint in use */
	char *token;
	long timeout;
	const struct mk_image_pull_opts *opts;
	const struct mk_image_credential *cred; /* from imagePullSecrets, for this endpoint */
};

struct resp {
	long status;
	struct mk_buf body; /* when not streaming into a blob */
	size_t max;
	struct blob_writer *w;
	char *digest, *ctype, *challenge;
	CURL *c;
	int too_big;
};

static void resp_reset_headers(struct resp *r)
{
	free(r->digest);
	free(r->ctype);
	free(r->challenge);
	r->digest = r->ctype = r->challenge = NULL;
}

static size_t on_header(char *buf, size_t size, size_t n, void *data)
{
	struct resp *r = data;
	size_t len = size * n;
	char *colon, *v, *end;
	_cleanup_free_ char *line = strndup(buf, len);

	if (!line)
		return 0;
	if (!strncmp(line, "HTTP/", 5)) {
		resp_reset_headers(r); /* a new response (after a redirect or 100) */
		return len;
	}
	colon = strchr(line, ':');
	if (!colon)
		return len;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	for (end = v + strlen(v); end > v && isspace((unsigned char)end[-1]); end--)
		*--end = '\0';
	if (!strcasecmp(line, "Docker-Content-Digest"))
		free(r->digest), r->digest = mk_strdup(v);
	else if (!strcasecmp(line, "Content-Type"))
		free(r->ctype), r->ctype = mk_strdup(v);
	else if (!strcasecmp(line, "WWW-Authenticate"))
		free(r->challenge), r->challenge = mk_strdup(v);
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *data)
{
	struct resp *r = data;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &status);
	if (r->w && status == 200)
		return img_blob_writer_write(r->w, buf, len) < 0 ? 0 : len;
	/* error bodies and small documents go to memory */
	if (r->body.len + len > (r->w ? 65536 : r->max)) {
		r->too_big = 1;
		return 0;
	}
	mk_buf_append(&r->body, buf, len);
	return len;
}

static CURL *easy_new(struct reg *g)
{
	CURL *c = curl_easy_init();
	const cJSON *tls = g->host_conf ? cJSON_GetObjectItemCaseSensitive(g->host_conf, "tls") : NULL;
	const char *ca = tls ? mk_json_get_string(tls, "ca_file") : NULL;

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "minik8s/0.1");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (tls && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tls, "insecure_skip_verify"))) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	return c;
}

/* basic auth: the registries config's, else a pull secret's */
static bool have_basic(const struct reg *g)
{
	return (g->host_conf && mk_json_get_string(g->host_conf, "auth.username")) || g->cred;
}

static void set_basic(struct reg *g, CURL *c)
{
	const char *u = g->host_conf ? mk_json_get_string(g->host_conf, "auth.username") : NULL;
	const char *p = g->host_conf ? mk_json_get_string(g->host_conf, "auth.password") : NULL;
	if (!u && g->cred) {
		u = g->cred->username;
		p = g->cred->password;
	}
	if (u && p) {
		curl_easy_setopt(c, CURLOPT_USERNAME, u);
		curl_easy_setopt(c, CURLOPT_PASSWORD, p);
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	}
}

/* value of key in a challenge 'Bearer realm="..",service="..",scope=".."'; owned */
static char *challenge_param(const char *ch, const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = ch; (p = strcasestr(p, key)); p += kl) {
		const char *v, *e;
		if (p > ch && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		if (p[kl] != '=')
			continue;
		v = p + kl + 1;
		if (*v == '"') {
			e = strchr(++v, '"');
			if (!e)
				return NULL;
		} else {
			e = v + strcspn(v, ", ");
		}
		return strndup(v, (size_t)(e - v));
	}
	return NULL;
}

static int fetch_token(struct reg *g, const char *challenge, struct mk_error **err)
{
	_cleanup_free_ char *realm = challenge_param(challenge, "realm");
	_cleanup_free_ char *service = challenge_param(challenge, "service");
	_cleanup_free_ char *scope = challenge_param(challenge, "scope");
	_cleanup_free_ char *url = NULL;
	_cleanup_cjson_ cJSON *doc = NULL;
	struct mk_buf q;
	struct resp r = { .max = 1 << 20 };
	CURL *c;
	CURLcode cc;
	const char *tok;
	char *e;

	if (!realm || (strncmp(realm, "https://", 8) && strncmp(realm, "http://", 7)))
		return mk_error_set(err, EPROTO, "bearer challenge without a usable realm");
	if (!scope)
		scope = mk_strdup_printf("repository:%s:pull", g->ref.path);
	c = easy_new(g);
	if (!c)
		return mk_error_set(err, ENOMEM, "curl init");
	mk_buf_init(&q);
	mk_buf_puts(&q, realm);
	mk_buf_puts(&q, strchr(realm, '?') ? "&" : "?");
	if (service) {
		e = curl_easy_escape(c, service, 0);
		mk_buf_printf(&q, "service=%s&", e);
		curl_free(e);
	}
	e = curl_easy_escape(c, scope, 0);
	mk_buf_printf(&q, "scope=%s", e);
	curl_free(e);
	url = mk_buf_steal(&q);
	mk_buf_init(&r.body);
	r.c = c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, g->timeout);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	set_basic(g, c);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(c);
	resp_reset_headers(&r);
	if (cc != CURLE_OK) {
		mk_buf_release(&r.body);
		return mk_error_set(err, EIO, "token request to '%s': %s", realm, curl_easy_strerror(cc));
	}
	if (r.status != 200) {
		mk_buf_release(&r.body);
		return mk_error_set(err, EACCES, "token request to '%s': HTTP %ld", realm, r.status);
	}
	doc = cJSON_ParseWithLength(r.body.data, r.body.len);
	mk_buf_release(&r.body);
	tok = mk_json_get_string(doc, "token");
	if (!tok || !*tok)
		tok = mk_json_get_string(doc, "access_token");
	if (!tok || !*tok)
		return mk_error_set(err, EPROTO, "token response from '%s' has no token", realm);
	free(g->token);
	g->token = mk_strdup(tok);
	return 0;
}

/* GET url; body into r->body (small) or r->w (blob). Handles one auth round. */
static int http_get(struct reg *g, const char *url, const char *accept, struct resp *r,
		    struct mk_error **err)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		CURL *c = easy_new(g);
		struct curl_slist *h = NULL;
		_cleanup_free_ char *auth = NULL;
		CURLcode cc;

		if (!c)
			return mk_error_set(err, ENOMEM, "curl init");
		if (accept)
			h = curl_slist_append(h, accept);
		if (g->token) {
			auth = mk_strdup_printf("Authorization: Bearer %s", g->token);
			h = curl_slist_append(h, auth);
		} else if (attempt > 0) {
			set_basic(g, c);
		}
		mk_buf_release(&r->body);
		mk_buf_init(&r->body);
		resp_reset_headers(r);
		r->c = c;
		r->too_big = 0;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
		if (r->w) {
			/* blobs may be large: abort only when the transfer stalls */
			curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
			curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, g->timeout < 60 ? g->timeout : 60L);
		} else {
			curl_easy_setopt(c, CURLOPT_TIMEOUT, g->timeout);
		}
		cc = curl_easy_perform(c);
		r->status = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_cleanup(c);
		curl_slist_free_all(h);
		if (cc != CURLE_OK) {
			if (r->too_big)
				return mk_error_set(err, E2BIG, "GET %s: response too large", url);
			if (r->w && r->w->failed == E2BIG)
				return mk_error_set(err, E2BIG, "GET %s: blob larger than its descriptor", url);
			return mk_error_set(err, EIO, "GET %s: %s", url, curl_easy_strerror(cc));
		}
		if (r->status == 401 && attempt == 0 && r->challenge) {
			if (!strncasecmp(r->challenge, "Bearer", 6)) {
				if (fetch_token(g, r->challenge, err) < 0)
					return -1;
				continue;
			}
			if (!strncasecmp(r->challenge, "Basic", 5) && have_basic(g))
				continue;
		}
		return 0;
	}
	return 0;
}

static int status_error(const char *what, const char *url, struct resp *r, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = cJSON_ParseWithLength(r->body.data ? r->body.data : "", r->body.len);
	const cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "errors"), 0);
	const char *code = mk_json_get_string(e0, "code");
	const char *msg = mk_json_get_string(e0, "message");
	int ec = r->status == 404 ? ENOENT : (r->status == 401 || r->status == 403) ? EACCES : EIO;

	if (code)
		return mk_error_set(err, ec, "%s %s: HTTP %ld %s: %s", what, url, r->status, code,
				    msg ? msg : "");
	return mk_error_set(err, ec, "%s %s: HTTP %ld", what, url, r->status);
}

/* fetches a manifest or index by tag or digest: verified raw bytes, media type */
static int get_manifest(struct reg *g, const char *reference, char **ret_raw, size_t *ret_len,
			char **ret_mt, char ret_digest[72], struct mk_error **err)
{
	_cleanup_free_ char *url = mk_strdup_printf("%s/v2/%s/manifests/%s", g->base, g->ref.path,
						    reference);
	struct resp r = { .max = MK_IMAGE_MAX_MANIFEST };
	char digest[72];
	int rc = -1;
	const char *mt;
	_cleanup_cjson_ cJSON *doc = NULL;

	mk_buf_init(&r.body);
	if (http_get(g, url, ACCEPT_MANIFESTS, &r, err) < 0)
		goto out;
	if (r.status != 200) {
		status_error("manifest", url, &r, err);
		goto out;
	}
	mk_image_digest_bytes(r.body.data, r.body.len, digest);
	if (mk_str_has_prefix(reference, "sha256:") && strcmp(reference, digest)) {
		mk_error_set(err, EILSEQ, "manifest %s: digest mismatch (got %s)", reference, digest);
		goto out;
	}
	if (r.digest && mk_image_digest_valid(r.digest) && strcmp(r.digest, digest)) {
		mk_error_set(err, EILSEQ, "manifest %s: Docker-Content-Digest %s does not match content %s",
			     url, r.digest, digest);
		goto out;
	}
	doc = cJSON_ParseWithLength(r.body.data, r.body.len);
	mt = mk_json_get_string(doc, "mediaType");
	if (!mt || mk_image_media_type_kind(mt) == MK_IMAGE_MT_UNKNOWN)
		mt = r.ctype;
	if (!mt || mk_image_media_type_kind(mt) == MK_IMAGE_MT_UNKNOWN) {
		/* OCI manifests may omit mediaType; registries may send a generic type */
		if (cJSON_GetObjectItemCaseSensitive(doc, "manifests"))
			mt = MK_IMAGE_MT_OCI_INDEX;
		else if (cJSON_GetObjectItemCaseSensitive(doc, "layers"))
			mt = MK_IMAGE_MT_OCI_MANIFEST;
		else {
			mk_error_set(err, EINVAL, "manifest %s: unsupported media type '%s'", url,
				     r.ctype ? r.ctype : "");
			goto out;
		}
	}
	*ret_mt = mk_strdup(mt);
	*ret_len = r.body.len;
	*ret_raw = mk_buf_steal(&r.body);
	memcpy(ret_digest, digest, 72);
	rc = 0;
out:
	mk_buf_release(&r.body);
	resp_reset_headers(&r);
	return rc;
}

static int fetch_blob(void *ctx, const char *digest, int64_t size, struct blob_writer *w,
		      struct mk_error **err)
{
	struct reg *g = ctx;
	_cleanup_free_ char *url = mk_strdup_printf("%s/v2/%s/blobs/%s", g->base, g->ref.path, digest);
	struct resp r = { .w = w };
	int rc = 0;

	mk_buf_init(&r.body);
	if (http_get(g, url, NULL, &r, err) < 0)
		rc = -1;
	else if (r.status != 200)
		rc = status_error("blob", url, &r, err);
	mk_buf_release(&r.body);
	resp_reset_headers(&r);
	return rc;
}

/* endpoints to try for the ref's registry, in order (owned strv) */
static char **endpoints(struct reg *g)
{
	const cJSON *mirror = g->conf ? cJSON_GetObjectItemCaseSensitive(
						    cJSON_GetObjectItemCaseSensitive(g->conf, "mirrors"), g->ref.domain)
				      : NULL;
	const cJSON *eps = mirror ? cJSON_GetObjectItemCaseSensitive(mirror, "endpoint") : NULL, *it;
	const cJSON *hc = g->conf ? cJSON_GetObjectItemCaseSensitive(
					    cJSON_GetObjectItemCaseSensitive(g->conf, "configs"), g->ref.domain)
				  : NULL;
	char **v = mk_malloc0(sizeof(char *) * ((size_t)cJSON_GetArraySize(eps) + 2));
	size_t n = 0;

	if (cJSON_IsString(eps)) {
		v[n++] = mk_strdup(eps->valuestring);
	} else {
		cJSON_ArrayForEach(it, eps) if (cJSON_IsString(it)) v[n++] = mk_strdup(it->valuestring);
	}
	if (!strcmp(g->ref.domain, "docker.io"))
		v[n++] = mk_strdup("https://registry-1.docker.io");
	else
		v[n++] = mk_strdup_printf("%s://%s",
					  hc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hc, "insecure"))
						  ? "http"
						  : "https",
					  g->ref.domain);
	return v;
}

/* host[:port] of a docker config "auths" key ("https://host/v1/" -> "host"), with
 * Docker Hub's names folded into docker.io */
static bool cred_host_is(const char *key, const char *host)
{
	const char *k = strstr(key, "://") ? strstr(key, "://") + 3 : key;
	size_t n = strcspn(k, "/");
	static const char *const hub[] = { "docker.io", "index.docker.io", "registry-1.docker.io" };
	if (strlen(host) == n && !strncasecmp(k, host, n))
		return true;
	bool kh = false, hh = false;
	for (size_t i = 0; i < MK_ARRAY_SIZE(hub); i++) {
		kh |= strlen(hub[i]) == n && !strncasecmp(k, hub[i], n);
		hh |= !strcasecmp(host, hub[i]);
	}
	return kh && hh;
}

static const struct mk_image_credential *find_cred(const struct mk_image_pull_opts *o, const char *host)
{
	for (size_t i = 0; o && host && i < o->n_creds; i++)
		if (o->creds[i].registry && cred_host_is(o->creds[i].registry, host))
			return &o->creds[i];
	return NULL;
}

/* selects endpoint ep: base URL without trailing "/" or "/v2", its host config */
static void use_endpoint(struct reg *g, const char *ep)
{
	const cJSON *configs = g->conf ? cJSON_GetObjectItemCaseSensitive(g->conf, "configs") : NULL;
	_cleanup_free_ char *host = NULL;
	const char *h;
	size_t n;

	free(g->base);
	free(g->token);
	g->token = NULL;
	if (strstr(ep, "://")) {
		g->base = mk_strdup(ep);
	} else {
		const cJSON *hc = cJSON_GetObjectItemCaseSensitive(configs, ep);
		g->base = mk_strdup_printf("%s://%s",
					   hc && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hc, "insecure"))
						   ? "http"
						   : "https",
					   ep);
	}
	n = strlen(g->base);
	while (n && g->base[n - 1] == '/')
		g->base[--n] = '\0';
	if (n >= 3 && !strcmp(g->base + n - 3, "/v2"))
		g->base[n - 3] = '\0';
	h = strstr(g->base, "://") + 3;
	host = strndup(h, strcspn(h, "/"));
	g->host_conf = cJSON_GetObjectItemCaseSensitive(configs, host);
	if (!g->host_conf)
		g->host_conf = cJSON_GetObjectItemCaseSensitive(configs, g->ref.domain);
	g->cred = find_cred(g->opts, host);
	if (!g->cred)
		g->cred = find_cred(g->opts, g->ref.domain);
}

static int pull_from(struct reg *g, struct mk_image_store *s, const char *name, const char *platform,
		     char **ret_id, struct mk_error **err)
{
	_cleanup_free_ char *raw = NULL, *mt = NULL, *child = NULL, *child_mt = NULL;
	size_t len;
	char digest[72], index_digest[72];
	const char *reference = g->ref.digest ? g->ref.digest : g->ref.tag;
	int have_index = 0;

	if (get_manifest(g, reference, &raw, &len, &mt, digest, err) < 0)
		return -1;
	if (mk_image_media_type_kind(mt) == MK_IMAGE_MT_INDEX) {
		if (mk_image_index_select(raw, len, platform, &child, &child_mt, err) < 0 ||
		    img_store_blob_put_bytes(s, raw, len, index_digest, err) < 0)
			return -1;
		have_index = 1;
		free(raw);
		free(mt);
		raw = mt = NULL;
		if (get_manifest(g, child, &raw, &len, &mt, digest, err) < 0)
			return -1;
		if (mk_image_media_type_kind(mt) != MK_IMAGE_MT_MANIFEST)
			return mk_error_set(err, EINVAL, "index entry %s is not an image manifest", child);
	} else if (mk_image_media_type_kind(mt) != MK_IMAGE_MT_MANIFEST) {
		return mk_error_set(err, EINVAL, "unsupported manifest media type '%s'", mt);
	}
	return img_store_ingest_manifest(s, name, raw, len, have_index ? index_digest : NULL, fetch_blob,
				     g, ret_id, err);
}

int mk_image_pull(struct mk_image_store *s, const char *ref, const struct mk_image_pull_opts *opts,
		  char **ret_id, struct mk_error **err)
{
	struct reg g = { 0 };
	_cleanup_free_ char *name = NULL, *lockname = NULL;
	_cleanup_close_ int lk = -1;
	char **eps = NULL;
	char hash[72];
	int r = -1;

	if (mk_image_ref_parse(ref, &g.ref, err) < 0)
		return -1;
	name = mk_image_ref_format(&g.ref);
	g.timeout = opts && opts->timeout_s > 0 ? opts->timeout_s : 300;
	g.opts = opts;
	if (opts && opts->registries_config &&
	    mk_image_registries_load(opts->registries_config, &g.conf, err) < 0)
		goto out;
	/* one pull per name at a time; the second finds the blobs and layers in place */
	mk_image_digest_bytes(name, strlen(name), hash);
	lockname = mk_strdup_printf("pull-%.16s.lock", hash + 7);
	lk = img_store_lock(s, lockname, LOCK_EX, err);
	if (lk < 0)
		goto out;
	eps = endpoints(&g);
	for (char **ep = eps; *ep; ep++) {
		struct mk_error *e = NULL;
		use_endpoint(&g, *ep);
		if (pull_from(&g, s, name, opts ? opts->platform : NULL, ret_id, &e) == 0) {
			mk_error_free(err);
			r = 0;
			break;
		}
		/* keep the first error: it is from the preferred endpoint... unless a
		 * later endpoint is the registry itself and the mirror simply failed */
		if (err && *err)
			mk_error_free(&e);
		else if (err)
			*err = e;
		else
			mk_error_free(&e);
	}
out:
	mk_strv_free(eps);
	mk_image_ref_release(&g.ref);
	cJSON_Delete(g.conf);
	free(g.base);
	free(g.token);
	return r;
}

static void cred_add(struct mk_image_credential **creds, size_t *n, const char *registry,
		     const cJSON *entry)
{
	const char *u = mk_json_get_string(entry, "username");
	const char *p = mk_json_get_string(entry, "password");
	const char *auth = mk_json_get_string(entry, "auth");
	_cleanup_free_ char *dec = NULL;

	if (auth && *auth) {
		void *raw = NULL;
		size_t len = 0;
		if (mk_base64_decode(auth, &raw, &len) == 0) {
			dec = mk_malloc0(len + 1);
			memcpy(dec, raw, len);
			free(raw);
			char *colon = strchr(dec, ':');
			if (colon) {
				*colon = '\0';
				u = dec;
				p = colon + 1;
			}
		}
	}
	if (!u || !*u || !p)
		return;
	/* the caller's array, appended to across calls: its room is not known, so
	 * take it as full */
	size_t cap = *n;
	MK_GROW(*creds, cap, *n + 1);
	(*creds)[(*n)++] = (struct mk_image_credential){ mk_strdup(registry), mk_strdup(u),
							 mk_strdup(p) };
}

int mk_image_credentials_parse(const char *json, size_t len, struct mk_image_credential **creds,
			       size_t *n, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *doc = cJSON_ParseWithLength(json, len);
	const cJSON *auths, *e;

	if (!cJSON_IsObject(doc))
		return mk_error_set(err, EINVAL, "docker config is not a JSON object");
	auths = cJSON_GetObjectItemCaseSensitive(doc, "auths");
	if (!auths)
		auths = doc; /* .dockercfg: the hosts at the top */
	cJSON_ArrayForEach(e, auths)
	{
		if (cJSON_IsObject(e))
			cred_add(creds, n, e->string, e);
	}
	return 0;
}

void mk_image_credentials_free(struct mk_image_credential *creds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)creds[i].registry);
		free((char *)creds[i].username);
		if (creds[i].password)
			explicit_bzero((char *)creds[i].password, strlen(creds[i].password));
		free((char *)creds[i].password);
	}
	free(creds);
}
