/* SPDY/3.1 framing (draft-mbelshe-httpbis-spdy-00, section 2) for port-forward:
 * see include/minik8s/spdy.h. Written from the protocol draft; kubectl's side is
 * moby/spdystream, whose behaviour decides the details (no flow control, header
 * names lowercase, one zlib stream per direction with a sync flush per block). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include "minik8s/spdy.h"

#define MAX_HEADER_BLOCK (64 * 1024) /* uncompressed; kubectl's blocks are ~100 bytes */
#define MAX_HEADERS 64

/* ---- the dictionary ---------------------------------------------------------------
 * The draft defines it as these words, each preceded by its length as a 32-bit
 * big-endian number, followed by the text below as is. */
static const char *const dict_words[] = {
	"options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
	"accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization",
	"cache-control", "connection", "content-base", "content-encoding", "content-language",
	"content-length", "content-location", "content-md5", "content-range", "content-type",
	"date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since",
	"if-none-match", "if-range", "if-unmodified-since", "last-modified", "location",
	"max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
	"retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent",
	"vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
	"version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
};
static const char dict_tail[] =
	"1001012012022052063003023033043053063074024054064074084094104114124134144154"
	"16417502504505203 Non-Authoritative Information204 No Content301 Moved Perma"
	"nently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal "
	"Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Ju"
	"n Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTch"
	"unked,text/html,image/png,image/jpg,image/gif,application/xml,application/xh"
	"tml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcha"
	"rset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

static uint8_t dict[1536];
static size_t dict_len;
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void dict_build(void)
{
	for (size_t i = 0; i < MK_ARRAY_SIZE(dict_words); i++) {
		size_t n = strlen(dict_words[i]);
		put32(dict + dict_len, (uint32_t)n);
		memcpy(dict + dict_len + 4, dict_words[i], n);
		dict_len += 4 + n;
	}
	memcpy(dict + dict_len, dict_tail, sizeof(dict_tail) - 1);
	dict_len += sizeof(dict_tail) - 1;
}

const uint8_t *mk_spdy_dictionary(size_t *ret_len)
{
	pthread_once(&dict_once, dict_build);
	*ret_len = dict_len;
	return dict;
}

/* ---- zlib ------------------------------------------------------------------------- */

void mk_spdy_zlib_init(struct mk_spdy_zlib *z)
{
	memset(z, 0, sizeof(*z));
}

void mk_spdy_zlib_release(struct mk_spdy_zlib *z)
{
	if (z->in_ready)
		inflateEnd(&z->in);
	if (z->out_ready)
		deflateEnd(&z->out);
	z->in_ready = z->out_ready = false;
}

/* Inflates a header block with the session's zlib stream (the SPDY dictionary
 * on demand) into plain, at most MAX_HEADER_BLOCK bytes. */
static int headers_inflate(struct mk_spdy_zlib *z, const uint8_t *block, size_t len,
			   struct mk_buf *plain, struct mk_error **err)
{
	uint8_t chunk[4096];

	if (!z->in_ready) {
		if (inflateInit(&z->in) != Z_OK)
			return mk_error_set(err, ENOMEM, "spdy: zlib inflateInit failed");
		z->in_ready = true;
	}
	z->in.next_in = (Bytef *)block;
	z->in.avail_in = (uInt)len;
	for (;;) {
		z->in.next_out = chunk;
		z->in.avail_out = sizeof(chunk);
		int r = inflate(&z->in, Z_SYNC_FLUSH);
		if (r == Z_NEED_DICT) {
			size_t dl;
			const uint8_t *d = mk_spdy_dictionary(&dl);
			if (inflateSetDictionary(&z->in, d, (uInt)dl) != Z_OK)
				return mk_error_set(err, EPROTO, "spdy: header block uses another dictionary");
			continue;
		}
		if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END)
			return mk_error_set(err, EPROTO, "spdy: corrupt header block (zlib %d)", r);
		mk_buf_append(plain, chunk, sizeof(chunk) - z->in.avail_out);
		if (plain->len > MAX_HEADER_BLOCK)
			return mk_error_set(err, EMSGSIZE, "spdy: header block larger than %d bytes",
					    MAX_HEADER_BLOCK);
		if (z->in.avail_in == 0 && z->in.avail_out != 0)
			break;
		if (r == Z_BUF_ERROR || r == Z_STREAM_END)
			break;
	}
	return 0;
}

/* The name/value block: count, then (length, name, length, value) pairs, into
 * h (room for count, *n of them filled, also on failure). */
static int headers_parse(const uint8_t *p, const uint8_t *end, struct mk_spdy_header **ret_h,
			 size_t *n, struct mk_error **err)
{
	struct mk_spdy_header *h;

	if (end - p < 4)
		return mk_error_set(err, EPROTO, "spdy: truncated header block");
	uint32_t count = get32(p);
	p += 4;
	if (count > MAX_HEADERS)
		return mk_error_set(err, EPROTO, "spdy: %u headers exceed the limit of %d", count,
				    MAX_HEADERS);
	h = *ret_h = mk_malloc0((count ? count : 1) * sizeof(*h));
	for (uint32_t i = 0; i < count; i++) {
		uint32_t nl, vl;
		if (end - p < 4 || (nl = get32(p)) > (size_t)(end - p - 4) || nl == 0)
			return mk_error_set(err, EPROTO, "spdy: malformed header name");
		h[*n].name = strndup((const char *)p + 4, nl);
		p += 4 + nl;
		if (end - p < 4 || (vl = get32(p)) > (size_t)(end - p - 4)) {
			free(h[*n].name);
			return mk_error_set(err, EPROTO, "spdy: malformed header value");
		}
		h[*n].value = mk_malloc0(vl + 1);
		memcpy(h[*n].value, p + 4, vl);
		h[*n].value_len = vl;
		p += 4 + vl;
		(*n)++;
	}
	return 0;
}

int mk_spdy_headers_decode(struct mk_spdy_zlib *z, const uint8_t *block, size_t len,
			   struct mk_spdy_header **ret_headers, size_t *ret_n,
			   struct mk_error **err)
{
	struct mk_buf plain;
	struct mk_spdy_header *h = NULL;
	size_t n = 0;
	int rc;

	mk_buf_init(&plain);
	rc = headers_inflate(z, block, len, &plain, err);
	if (rc == 0)
		rc = headers_parse((const uint8_t *)plain.data,
				   (const uint8_t *)plain.data + plain.len, &h, &n, err);
	mk_buf_release(&plain);
	if (rc < 0) {
		mk_spdy_headers_free(h, n);
		return rc;
	}
	*ret_headers = h;
	*ret_n = n;
	return 0;
}

void mk_spdy_headers_free(struct mk_spdy_header *h, size_t n)
{
	if (!h)
		return;
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

const char *mk_spdy_header_get(const struct mk_spdy_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(h[i].name, name))
			return h[i].value;
	return NULL;
}

/* Appends the compressed name/value block for the pairs. */
static void headers_encode(struct mk_spdy_zlib *z, struct mk_buf *out, const char *const *names,
			   const char *const *values, size_t n)
{
	struct mk_buf plain;
	uint8_t num[4], chunk[4096];

	if (!z->out_ready) {
		size_t dl;
		const uint8_t *d = mk_spdy_dictionary(&dl);
		if (deflateInit(&z->out, Z_DEFAULT_COMPRESSION) != Z_OK ||
		    deflateSetDictionary(&z->out, d, (uInt)dl) != Z_OK)
			abort(); /* only fails without memory */
		z->out_ready = true;
	}
	mk_buf_init(&plain);
	put32(num, (uint32_t)n);
	mk_buf_append(&plain, num, 4);
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(names[i]), vl = strlen(values[i]);
		put32(num, (uint32_t)nl);
		mk_buf_append(&plain, num, 4);
		size_t at = plain.len;
		mk_buf_append(&plain, names[i], nl);
		for (size_t k = 0; k < nl; k++)
			plain.data[at + k] = (char)tolower((unsigned char)plain.data[at + k]);
		put32(num, (uint32_t)vl);
		mk_buf_append(&plain, num, 4);
		mk_buf_append(&plain, values[i], vl);
	}
	z->out.next_in = (Bytef *)plain.data;
	z->out.avail_in = (uInt)plain.len;
	do {
		z->out.next_out = chunk;
		z->out.avail_out = sizeof(chunk);
		deflate(&z->out, Z_SYNC_FLUSH);
		mk_buf_append(out, chunk, sizeof(chunk) - z->out.avail_out);
	} while (z->out.avail_out == 0);
	mk_buf_release(&plain);
}

static void control_header(uint8_t h[8], int type, uint8_t flags, size_t len)
{
	h[0] = 0x80;
	h[1] = MK_SPDY_VERSION;
	h[2] = (uint8_t)(type >> 8);
	h[3] = (uint8_t)type;
	put32(h + 4, (uint32_t)len);
	h[4] = flags;
}

/* Appends a control frame whose payload is fixed followed by a header block. */
static void control_with_headers(struct mk_spdy_zlib *z, struct mk_buf *out, int type,
				 uint8_t flags, const uint8_t *fixed, size_t fixed_len,
				 const char *const *names, const char *const *values, size_t n)
{
	struct mk_buf block;
	uint8_t h[8];

	mk_buf_init(&block);
	headers_encode(z, &block, names, values, n);
	control_header(h, type, flags, fixed_len + block.len);
	mk_buf_append(out, h, 8);
	mk_buf_append(out, fixed, fixed_len);
	mk_buf_append(out, block.data, block.len);
	mk_buf_release(&block);
}

void mk_spdy_syn_stream_append(struct mk_spdy_zlib *z, struct mk_buf *out, uint32_t id,
			       const char *const *names, const char *const *values, size_t n,
			       bool fin)
{
	uint8_t fixed[10] = { 0 };

	put32(fixed, id & 0x7fffffff);
	/* associated stream 0, priority 0, slot 0 */
	control_with_headers(z, out, MK_SPDY_SYN_STREAM, fin ? MK_SPDY_FLAG_FIN : 0, fixed,
			     sizeof(fixed), names, values, n);
}

void mk_spdy_syn_reply_append(struct mk_spdy_zlib *z, struct mk_buf *out, uint32_t id,
			      const char *const *names, const char *const *values, size_t n,
			      bool fin)
{
	uint8_t fixed[4];

	put32(fixed, id & 0x7fffffff);
	control_with_headers(z, out, MK_SPDY_SYN_REPLY, fin ? MK_SPDY_FLAG_FIN : 0, fixed,
			     sizeof(fixed), names, values, n);
}

void mk_spdy_data_append(struct mk_buf *out, uint32_t id, const void *data, size_t len, bool fin)
{
	uint8_t h[8];

	/* the length field has 24 bits: split larger writes */
	do {
		size_t n = len > 0xffffff ? 0xffffff : len;
		put32(h, id & 0x7fffffff);
		put32(h + 4, (uint32_t)n);
		h[4] = fin && n == len ? MK_SPDY_FLAG_FIN : 0;
		mk_buf_append(out, h, 8);
		if (n)
			mk_buf_append(out, data, n);
		data = (const uint8_t *)data + n;
		len -= n;
	} while (len);
}

void mk_spdy_rst_stream_append(struct mk_buf *out, uint32_t id, uint32_t status)
{
	uint8_t f[16];

	control_header(f, MK_SPDY_RST_STREAM, 0, 8);
	put32(f + 8, id & 0x7fffffff);
	put32(f + 12, status);
	mk_buf_append(out, f, sizeof(f));
}

void mk_spdy_ping_append(struct mk_buf *out, uint32_t id)
{
	uint8_t f[12];

	control_header(f, MK_SPDY_PING, 0, 4);
	put32(f + 8, id);
	mk_buf_append(out, f, sizeof(f));
}

void mk_spdy_goaway_append(struct mk_buf *out, uint32_t last_good_id, uint32_t status)
{
	uint8_t f[16];

	control_header(f, MK_SPDY_GOAWAY, 0, 8);
	put32(f + 8, last_good_id & 0x7fffffff);
	put32(f + 12, status);
	mk_buf_append(out, f, sizeof(f));
}

ssize_t mk_spdy_frame_parse(const uint8_t *buf, size_t len, size_t max_payload,
			    struct mk_spdy_frame *ret, struct mk_error **err)
{
	if (len < 8)
		return 0;
	size_t plen = get32(buf + 4) & 0xffffff;
	if (plen > max_payload)
		return mk_error_set(err, EMSGSIZE, "spdy: frame of %zu bytes exceeds the limit of %zu",
				    plen, max_payload);
	if (len < 8 + plen)
		return 0;
	const uint8_t *p = buf + 8;
	memset(ret, 0, sizeof(*ret));
	ret->flags = buf[4];
	if (!(buf[0] & 0x80)) {
		ret->stream_id = get32(buf) & 0x7fffffff;
		ret->data = p;
		ret->len = plen;
		return (ssize_t)(8 + plen);
	}
	int version = ((buf[0] & 0x7f) << 8) | buf[1];
	if (version != MK_SPDY_VERSION)
		return mk_error_set(err, EPROTO, "spdy: unsupported version %d", version);
	ret->control = true;
	ret->type = (buf[2] << 8) | buf[3];
	size_t need = 0;
	switch (ret->type) {
	case MK_SPDY_SYN_STREAM:
		need = 10;
		break;
	case MK_SPDY_SYN_REPLY:
	case MK_SPDY_HEADERS:
	case MK_SPDY_PING:
		need = 4;
		break;
	case MK_SPDY_RST_STREAM:
	case MK_SPDY_GOAWAY:
	case MK_SPDY_WINDOW_UPDATE:
		need = 8;
		break;
	default:
		break;
	}
	if (plen < need)
		return mk_error_set(err, EPROTO, "spdy: control frame of type %d too short (%zu bytes)",
				    ret->type, plen);
	if (need)
		ret->stream_id = get32(p) & (ret->type == MK_SPDY_PING ? 0xffffffff : 0x7fffffff);
	switch (ret->type) {
	case MK_SPDY_SYN_STREAM:
		ret->data = p + 10;
		ret->len = plen - 10;
		break;
	case MK_SPDY_SYN_REPLY:
	case MK_SPDY_HEADERS:
		ret->data = p + 4;
		ret->len = plen - 4;
		break;
	case MK_SPDY_RST_STREAM:
	case MK_SPDY_GOAWAY:
	case MK_SPDY_WINDOW_UPDATE:
		ret->status = get32(p + 4) & (ret->type == MK_SPDY_WINDOW_UPDATE ? 0x7fffffff
										 : 0xffffffff);
		break;
	default:
		ret->data = p;
		ret->len = plen;
		break;
	}
	return (ssize_t)(8 + plen);
}
