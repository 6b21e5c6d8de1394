/* libFuzzer target for the WebSocket framing of exec/attach (pkg/ws; make fuzz).
 * The first byte picks the masking rule (client frames, server frames, either) and
 * a payload limit; the rest is a byte stream parsed frame by frame as the exec
 * server and `kubectl exec` do. Every parsed frame must lie inside the input, have
 * a known opcode and respect the limit; it is re-encoded with mk_ws_frame_append
 * (masked or not) and must parse back to the same frame; a v5 resize payload goes
 * through mk_ws_resize_parse. An incomplete frame ends the stream (0), a protocol
 * error must come with a "websocket: " message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minik8s/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct mk_ws_frame *f, const uint8_t *mask)
{
	struct mk_buf out;
	struct mk_ws_frame g;
	struct mk_error *err = NULL;

	mk_buf_init(&out);
	mk_ws_frame_append(&out, f->opcode, f->payload, f->len, mask);
	ssize_t n = mk_ws_frame_parse((uint8_t *)out.data, out.len, MK_WS_MAX_PAYLOAD,
				      mask ? 1 : 0, &g, &err);
	if (n != (ssize_t)out.len || !g.fin || g.opcode != f->opcode || g.len != f->len ||
	    (f->len && memcmp(g.payload, f->payload, f->len) != 0))
		abort();
	mk_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { MK_WS_MAX_PAYLOAD, 125, 16, 0 };
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	struct mk_error *err = NULL;
	struct mk_ws_frame f;

	if (size < 1)
		return 0;
	int require_mask = (int)(data[0] % 3) - 1;
	size_t max = limits[(data[0] >> 2) & 3];
	uint8_t *buf = malloc(size - 1 ? size - 1 : 1);
	size_t len = size - 1, off = 0;
	memcpy(buf, data + 1, len);

	while (off < len) {
		ssize_t n = mk_ws_frame_parse(buf + off, len - off, max, require_mask, &f, &err);
		if (n == 0)
			break;
		if (n < 0) {
			if (!err || !err->msg || strncmp(err->msg, "websocket: ", 11) != 0)
				abort();
			mk_error_free(&err);
			break;
		}
		if ((size_t)n > len - off || f.len > max || f.payload < buf + off ||
		    f.payload + f.len != buf + off + n)
			abort();
		if ((f.opcode > MK_WS_OP_BINARY && f.opcode < MK_WS_OP_CLOSE) || f.opcode > MK_WS_OP_PONG ||
		    (f.opcode >= MK_WS_OP_CLOSE && (f.len > 125 || !f.fin)))
			abort();
		if (f.len <= MK_WS_MAX_PAYLOAD) {
			roundtrip(&f, NULL);
			roundtrip(&f, key);
		}
		if (f.opcode == MK_WS_OP_BINARY && f.len >= 1 && f.payload[0] == MK_WS_CH_RESIZE) {
			unsigned short cols = 0, rows = 0;
			(void)mk_ws_resize_parse((const char *)f.payload + 1, f.len - 1, &cols, &rows);
		}
		off += (size_t)n;
	}
	/* the header token matcher on the same bytes as a header value */
	char *hv = malloc(len + 1);
	memcpy(hv, data + 1, len);
	hv[len] = '\0';
	(void)mk_ws_header_has_token(hv, "Upgrade", true);
	(void)mk_ws_header_has_token(hv, MK_WS_PROTOCOL_V5, false);
	free(hv);
	free(buf);
	return 0;
}
