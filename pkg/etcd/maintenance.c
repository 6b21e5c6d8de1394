/* etcd's maintenance API over the gateway: the v3 snapshot of a member's backend
 * (POST /v3/maintenance/snapshot), what `etcdctl snapshot save` fetches.
 *
 * The gateway streams the SnapshotResponse messages as newline-separated
 * {"result":{"blob":BASE64,"remaining_bytes":N}} objects (or {"error":...}). The
 * bytes are the member's bolt database followed by etcd's SHA-256 of it (32 bytes),
 * which `etcdctl snapshot restore` checks; the copy is checked here too, so a
 * truncated or corrupted transfer is an error, not a file that fails at restore. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include "internal.h"

#define SNAP_HASH_LEN 32
/* bound on one streamed message (etcd sends 32 KiB blobs) */
#define SNAP_MAX_LINE (16u << 20)

struct snap {
	int fd;
	uint64_t size;
	gnutls_hash_hd_t h;
	unsigned char tail[SNAP_HASH_LEN]; /* the last bytes, not hashed yet */
	size_t tail_len;
	struct mk_buf line;
	struct mk_error *err; /* first failure; stops the transfer */
};

static int snap_fail(struct snap *s, int code, const char *fmt, const char *arg)
{
	if (!s->err)
		mk_error_set(&s->err, code, fmt, arg);
	return -1;
}

/* hashes all but the newest SNAP_HASH_LEN bytes seen, which may be the trailer */
static int snap_data(struct snap *s, const unsigned char *d, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t w = write(s->fd, d + off, n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return snap_fail(s, errno, "write snapshot: %s", strerror(errno));
		}
		off += (size_t)w;
	}
	s->size += n;
	if (n >= SNAP_HASH_LEN) {
		gnutls_hash(s->h, s->tail, s->tail_len);
		gnutls_hash(s->h, d, n - SNAP_HASH_LEN);
		memcpy(s->tail, d + n - SNAP_HASH_LEN, SNAP_HASH_LEN);
		s->tail_len = SNAP_HASH_LEN;
		return 0;
	}
	size_t over = s->tail_len + n > SNAP_HASH_LEN ? s->tail_len + n - SNAP_HASH_LEN : 0;
	gnutls_hash(s->h, s->tail, over);
	memmove(s->tail, s->tail + over, s->tail_len - over);
	s->tail_len -= over;
	memcpy(s->tail + s->tail_len, d, n);
	s->tail_len += n;
	return 0;
}

static int snap_message(struct snap *s, const char *text, size_t len)
{
	_cleanup_cjson_ cJSON *j = cJSON_ParseWithLength(text, len);
	if (!j)
		return snap_fail(s, EIO, "etcd snapshot: %s", "a streamed message is not JSON");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (e) {
		etcd_error_from_status(&s->err, 200, e);
		return -1;
	}
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(j, "result");
	if (!cJSON_IsObject(res))
		return snap_fail(s, EIO, "etcd snapshot: %s", "a message without result");
	_cleanup_free_ char *blob = NULL;
	size_t n = 0;
	if (etcd_json_bytes(res, "blob", &blob, &n) < 0)
		return snap_fail(s, EIO, "etcd snapshot: %s", "malformed blob");
	return snap_data(s, (const unsigned char *)blob, n);
}

static size_t snap_write(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct snap *s = userdata;
	size_t len = size * nmemb;
	for (size_t i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (s->line.len >= SNAP_MAX_LINE) {
				snap_fail(s, EMSGSIZE, "etcd snapshot: %s", "message too large");
				return 0;
			}
			mk_buf_append(&s->line, data + i, 1);
			continue;
		}
		if (s->line.len && snap_message(s, s->line.data, s->line.len) < 0)
			return 0;
		s->line.len = 0;
	}
	return len;
}

int mk_etcd_snapshot(struct mk_etcd *c, int fd, uint64_t *ret_size, struct mk_error **err)
{
	struct snap s = { .fd = fd };
	if (gnutls_hash_init(&s.h, GNUTLS_DIG_SHA256) < 0)
		return mk_error_set(err, EIO, "etcd snapshot: no SHA-256");
	mk_buf_init(&s.line);
	CURL *h = curl_easy_init();
	if (!h)
		abort();
	etcd_handle_setup(c, h);
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* one member: the snapshot is of the member answering; a failover would mix
	 * two streams, so a failure is reported and the caller may run it again */
	_cleanup_free_ char *url = mk_strdup_printf("%s/v3/maintenance/snapshot",
						    mk_etcd_endpoint_current(c));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, snap_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	/* a large database takes a while: no total timeout, but a stalled stream ends */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && !s.err && s.line.len)
		snap_message(&s, s.line.data, s.line.len);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	mk_buf_release(&s.line);
	unsigned char md[SNAP_HASH_LEN];
	gnutls_hash_deinit(s.h, md);

	if (s.err) {
		if (err && !*err)
			*err = s.err;
		else
			mk_error_free(&s.err);
		return mk_error_wrap(err, "etcd '%s'", url);
	}
	if (rc != CURLE_OK)
		return mk_error_set(err, rc == CURLE_COULDNT_CONNECT ? ECONNREFUSED : EIO,
				    "etcd '%s': %s", url, curl_easy_strerror(rc));
	if (status != 200)
		return mk_error_set(err, EIO, "etcd '%s': HTTP %ld", url, status);
	if (s.tail_len != SNAP_HASH_LEN || memcmp(md, s.tail, SNAP_HASH_LEN) != 0)
		return mk_error_set(err, EIO,
				    "etcd '%s': the snapshot's SHA-256 does not match its data "
				    "(%llu bytes; truncated?)",
				    url, (unsigned long long)s.size);
	*ret_size = s.size;
	return 0;
}
