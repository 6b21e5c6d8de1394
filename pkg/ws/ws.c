/* WebSocket framing (RFC 6455 section 5) and the pieces of the Kubernetes
 * channel protocols (v5.channel.k8s.io and the older ones, minik8s/ws.h) shared
 * by the agent's exec server, the API server's proxy and the built-in kubectl. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include "minik8s/ws.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void mk_ws_frame_append(struct mk_buf *out, int opcode, const void *payload, size_t len,
			const uint8_t *mask)
{
	uint8_t hdr[14];
	size_t n = 0;

	hdr[n++] = (uint8_t)(0x80 | (opcode & 0x0f)); /* FIN: we never fragment */
	uint8_t m = mask ? 0x80 : 0;
	if (len < 126) {
		hdr[n++] = (uint8_t)(m | len);
	} else if (len <= 0xffff) {
		hdr[n++] = m | 126;
		hdr[n++] = (uint8_t)(len >> 8);
		hdr[n++] = (uint8_t)len;
	} else {
		hdr[n++] = m | 127;
		for (int i = 7; i >= 0; i--)
			hdr[n++] = (uint8_t)((uint64_t)len >> (8 * i));
	}
	if (mask) {
		memcpy(hdr + n, mask, 4);
		n += 4;
	}
	mk_buf_append(out, hdr, n);
	if (!len)
		return;
	size_t start = out->len;
	mk_buf_append(out, payload, len);
	if (mask) {
		uint8_t *p = (uint8_t *)out->data + start;
		for (size_t i = 0; i < len; i++)
			p[i] ^= mask[i & 3];
	}
}

void mk_ws_channel_append(struct mk_buf *out, uint8_t channel, const void *data, size_t len,
			  const uint8_t *mask)
{
	/* the channel byte is the first payload byte: build the payload, then frame */
	_cleanup_free_ uint8_t *p = malloc(len + 1);
	if (!p)
		abort();
	p[0] = channel;
	if (len)
		memcpy(p + 1, data, len);
	mk_ws_frame_append(out, MK_WS_OP_BINARY, p, len + 1, mask);
}

ssize_t mk_ws_frame_parse(uint8_t *buf, size_t len, size_t max_payload, int require_mask,
			  struct mk_ws_frame *ret, struct mk_error **err)
{
	size_t n = 2;
	uint64_t plen;

	if (len < 2)
		return 0;
	if (buf[0] & 0x70)
		return mk_error_set(err, EPROTO, "websocket: reserved bits set (no extension negotiated)");
	int opcode = buf[0] & 0x0f;
	bool fin = buf[0] & 0x80;
	bool masked = buf[1] & 0x80;
	plen = buf[1] & 0x7f;
	if ((opcode > 0x2 && opcode < 0x8) || opcode > 0xa)
		return mk_error_set(err, EPROTO, "websocket: unknown opcode %d", opcode);
	if (require_mask == 1 && !masked)
		return mk_error_set(err, EPROTO, "websocket: client frame not masked");
	if (require_mask == 0 && masked)
		return mk_error_set(err, EPROTO, "websocket: server frame masked");
	if (plen == 126) {
		if (len < 4)
			return 0;
		plen = ((uint64_t)buf[2] << 8) | buf[3];
		n = 4;
	} else if (plen == 127) {
		if (len < 10)
			return 0;
		plen = 0;
		for (int i = 0; i < 8; i++)
			plen = (plen << 8) | buf[2 + i];
		n = 10;
		if (plen >> 63)
			return mk_error_set(err, EPROTO, "websocket: invalid payload length");
	}
	if (opcode >= 0x8 && (plen > 125 || !fin))
		return mk_error_set(err, EPROTO, "websocket: invalid control frame");
	if (plen > max_payload)
		return mk_error_set(err, EMSGSIZE, "websocket: frame of %llu bytes exceeds the limit of %zu",
				    (unsigned long long)plen, max_payload);
	uint8_t mask[4] = { 0 };
	if (masked) {
		if (len < n + 4)
			return 0;
		memcpy(mask, buf + n, 4);
		n += 4;
	}
	if (len - n < plen)
		return 0;
	if (masked)
		for (size_t i = 0; i < plen; i++)
			buf[n + i] ^= mask[i & 3];
	ret->fin = fin;
	ret->opcode = opcode;
	ret->payload = buf + n;
	ret->len = (size_t)plen;
	return (ssize_t)(n + plen);
}

int mk_ws_frames_consume(struct mk_buf *in, size_t max_payload, int require_mask,
			 mk_ws_frame_fn fn, void *ctx, struct mk_error **err)
{
	size_t off = 0;
	int r = 0;

	while (off < in->len) {
		struct mk_ws_frame f;
		ssize_t n = mk_ws_frame_parse((uint8_t *)in->data + off, in->len - off, max_payload,
					      require_mask, &f, err);
		if (n <= 0) {
			r = n < 0 ? -1 : 0;
			break;
		}
		off += (size_t)n;
		int fr = fn(ctx, &f);
		if (fr != 0) {
			r = fr < 0 ? -1 : 0;
			break;
		}
	}
	memmove(in->data, in->data + off, in->len - off);
	in->len -= off;
	return r;
}

char *mk_ws_accept_key(const char *key)
{
	_cleanup_free_ char *s = mk_strdup_printf("%s%s", key, WS_GUID);
	unsigned char digest[20];

	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, s, strlen(s), digest) < 0)
		abort();
	return mk_base64_encode(digest, sizeof(digest));
}

char *mk_ws_new_key(void)
{
	unsigned char raw[16];
	mk_random_bytes(raw, sizeof(raw));
	return mk_base64_encode(raw, sizeof(raw));
}

/* The next element of a comma-separated header value at *pp (RFC 9110 5.6.1:
 * optional whitespace around, empty elements allowed): its start and length,
 * *pp moved past it. false at the end. */
static bool next_token(const char **pp, const char **ret_tok, size_t *ret_len)
{
	const char *p = *pp;
	while (*p == ' ' || *p == '\t' || *p == ',')
		p++;
	if (!*p)
		return false;
	const char *e = p;
	while (*e && *e != ',')
		e++;
	const char *end = e;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*ret_tok = p;
	*ret_len = (size_t)(end - p);
	*pp = e;
	return true;
}

bool mk_ws_header_has_token(const char *value, const char *token, bool icase)
{
	size_t tl = strlen(token), n;
	const char *t;

	if (!value)
		return false;
	while (next_token(&value, &t, &n))
		if (n == tl && (icase ? !strncasecmp(t, token, tl) : !strncmp(t, token, tl)))
			return true;
	return false;
}

int mk_ws_resize_parse(const char *json, size_t len, unsigned short *ret_cols,
		       unsigned short *ret_rows)
{
	_cleanup_cjson_ cJSON *o = cJSON_ParseWithLength(json, len);
	const cJSON *w, *h;

	if (!o || !cJSON_IsObject(o))
		return -1;
	w = cJSON_GetObjectItemCaseSensitive(o, "Width");
	h = cJSON_GetObjectItemCaseSensitive(o, "Height");
	if (!cJSON_IsNumber(w) || !cJSON_IsNumber(h) || w->valuedouble < 0 ||
	    h->valuedouble < 0 || w->valuedouble > 65535 || h->valuedouble > 65535)
		return -1;
	*ret_cols = (unsigned short)w->valuedouble;
	*ret_rows = (unsigned short)h->valuedouble;
	return 0;
}

char *mk_ws_exit_status_json(int exit_code)
{
	if (exit_code == 0)
		return mk_strdup("{\"metadata\":{},\"status\":\"Success\"}");
	/* kubelet's wording; kubectl takes the code from the ExitCode cause */
	return mk_strdup_printf("{\"metadata\":{},\"status\":\"Failure\","
				"\"message\":\"command terminated with non-zero exit code: exit status %d\","
				"\"reason\":\"NonZeroExitCode\",\"details\":{\"causes\":"
				"[{\"reason\":\"ExitCode\",\"message\":\"%d\"}]}}",
				exit_code, exit_code);
}

/* ---- the channel protocol family ------------------------------------------------ */

static const struct {
	enum mk_ws_proto p;
	const char *name;
} protos[] = {
	{ MK_WS_PROTO_V5, "v5.channel.k8s.io" },
	{ MK_WS_PROTO_V4, "v4.channel.k8s.io" },
	{ MK_WS_PROTO_V4_BASE64, "v4.base64.channel.k8s.io" },
	{ MK_WS_PROTO_V3, "v3.channel.k8s.io" },
	{ MK_WS_PROTO_V2, "v2.channel.k8s.io" },
	{ MK_WS_PROTO_V1, "channel.k8s.io" },
	{ MK_WS_PROTO_V1_BASE64, "base64.channel.k8s.io" },
};

const char *mk_ws_proto_name(enum mk_ws_proto p)
{
	for (size_t i = 0; i < MK_ARRAY_SIZE(protos); i++)
		if (protos[i].p == p)
			return protos[i].name;
	return "";
}

int mk_ws_proto_select(const char *header)
{
	bool any = false;

	if (!header)
		return MK_WS_PROTO_NONE;
	const char *t;
	size_t n;
	while (next_token(&header, &t, &n)) {
		if (!n)
			continue;
		any = true;
		for (size_t i = 0; i < MK_ARRAY_SIZE(protos); i++)
			if (strlen(protos[i].name) == n && !strncmp(t, protos[i].name, n))
				return protos[i].p;
	}
	return any ? -1 : MK_WS_PROTO_NONE;
}

bool mk_ws_proto_is_base64(enum mk_ws_proto p)
{
	return p == MK_WS_PROTO_V1_BASE64 || p == MK_WS_PROTO_V4_BASE64;
}

bool mk_ws_proto_status_json(enum mk_ws_proto p)
{
	return p == MK_WS_PROTO_V4 || p == MK_WS_PROTO_V4_BASE64 || p == MK_WS_PROTO_V5;
}

void mk_ws_proto_channel_append(struct mk_buf *out, enum mk_ws_proto p, uint8_t channel,
				const void *data, size_t len, const uint8_t *mask)
{
	if (!mk_ws_proto_is_base64(p)) {
		mk_ws_channel_append(out, channel, data, len, mask);
		return;
	}
	_cleanup_free_ char *b64 = mk_base64_encode(data, len);
	size_t n = strlen(b64);
	_cleanup_free_ char *msg = malloc(n + 1);
	if (!msg)
		abort();
	msg[0] = (char)('0' + channel);
	memcpy(msg + 1, b64, n);
	mk_ws_frame_append(out, MK_WS_OP_TEXT, msg, n + 1, mask);
}

int mk_ws_proto_channel_decode(enum mk_ws_proto p, const uint8_t *payload, size_t len,
			       uint8_t *ret_channel, const uint8_t **ret_data, size_t *ret_len,
			       void **ret_owned)
{
	*ret_owned = NULL;
	if (len == 0)
		return 1;
	if (!mk_ws_proto_is_base64(p)) {
		*ret_channel = payload[0];
		*ret_data = payload + 1;
		*ret_len = len - 1;
		return 0;
	}
	if (payload[0] < '0' || payload[0] > '9')
		return -1;
	_cleanup_free_ char *s = malloc(len);
	if (!s)
		abort();
	memcpy(s, payload + 1, len - 1);
	s[len - 1] = '\0';
	void *data = NULL;
	size_t n = 0;
	if (len > 1 && mk_base64_decode(s, &data, &n) < 0)
		return -1;
	*ret_channel = (uint8_t)(payload[0] - '0');
	*ret_owned = data;
	*ret_data = data ? data : (const uint8_t *)"";
	*ret_len = n;
	return 0;
}

char *mk_ws_proto_exit_status(enum mk_ws_proto p, int exit_code)
{
	if (mk_ws_proto_status_json(p))
		return mk_ws_exit_status_json(exit_code);
	/* kubelet's v1 writer: nothing on success, the Status' message otherwise */
	if (exit_code == 0)
		return NULL;
	return mk_strdup_printf("command terminated with non-zero exit code: exit status %d",
				exit_code);
}
