/* minik8s ws: WebSocket framing (RFC 6455) and the Kubernetes channel protocols
 * (v5.channel.k8s.io as `kubectl exec` speaks it, and the older ones clients
 * such as the Python client use): shared by the node agent's exec/attach
 * server, the API server's proxy and the built-in kubectl. Pure functions;
 * nothing here does I/O. */
#ifndef MINIK8S_WS_H
#define MINIK8S_WS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "minik8s/util.h"

#define MK_WS_PROTOCOL_V5 "v5.channel.k8s.io"

/* The channel protocols of kubelet and kube-apiserver for exec and attach over
 * WebSocket. All multiplex with a channel number in front of each message:
 *   channel.k8s.io (also when the client names no subprotocol), v2, v3:
 *       binary frames, byte 0 the channel; the error channel (3) carries a
 *       plain-text message, only on failure
 *   base64.channel.k8s.io: text frames, an ASCII digit ('0' + channel) then the
 *       data in base64 (both ways)
 *   v4.channel.k8s.io / v4.base64.channel.k8s.io: as the two above, and the
 *       error channel carries a metav1.Status in JSON, Success or Failure
 *       (reason NonZeroExitCode, cause ExitCode)
 *   v5.channel.k8s.io: v4 plus channel 255, "close": the client ends a stream
 *       (payload: the channel, 0 = stdin EOF) without closing the connection.
 * Every protocol accepts resize messages on channel 4. */
enum mk_ws_proto {
	MK_WS_PROTO_NONE = 0, /* no subprotocol named: binary, v1 semantics */
	MK_WS_PROTO_V1,       /* channel.k8s.io */
	MK_WS_PROTO_V1_BASE64, /* base64.channel.k8s.io */
	MK_WS_PROTO_V2,       /* v2.channel.k8s.io */
	MK_WS_PROTO_V3,       /* v3.channel.k8s.io */
	MK_WS_PROTO_V4,       /* v4.channel.k8s.io */
	MK_WS_PROTO_V4_BASE64, /* v4.base64.channel.k8s.io */
	MK_WS_PROTO_V5,       /* v5.channel.k8s.io */
};


enum {
	MK_WS_OP_CONT = 0x0,
	MK_WS_OP_TEXT = 0x1,
	MK_WS_OP_BINARY = 0x2,
	MK_WS_OP_CLOSE = 0x8,
	MK_WS_OP_PING = 0x9,
	MK_WS_OP_PONG = 0xa,
};

enum {
	MK_WS_CH_STDIN = 0,
	MK_WS_CH_STDOUT = 1,
	MK_WS_CH_STDERR = 2,
	MK_WS_CH_STATUS = 3,
	MK_WS_CH_RESIZE = 4,
	MK_WS_CH_CLOSE = 255,
};

/* kubectl's limit for client frames; ours for both directions */
#define MK_WS_MAX_PAYLOAD (1024 * 1024)

struct mk_ws_frame {
	bool fin;
	int opcode;
	uint8_t *payload; /* points into the parsed buffer, unmasked in place */
	size_t len;
};

/* Appends one frame to out. mask: NULL for a server frame, else the 4-byte masking
 * key of a client frame (payload is masked in the copy). */
void mk_ws_frame_append(struct mk_buf *out, int opcode, const void *payload, size_t len,
			const uint8_t *mask);
/* Appends a binary frame whose payload is the channel byte followed by data. */
void mk_ws_channel_append(struct mk_buf *out, uint8_t channel, const void *data, size_t len,
			  const uint8_t *mask);
/* Parses one frame at the start of buf (len bytes). Returns the frame's total size
 * (> 0) and fills *ret (payload unmasked in place), 0 when buf holds no complete
 * frame yet, or -1 with err on a protocol error (reserved bits, payload above
 * max_payload, a fragmented or oversized control frame, must_mask mismatch:
 * require_mask 1 = client frames must be masked, 0 = must not, -1 = either). */
ssize_t mk_ws_frame_parse(uint8_t *buf, size_t len, size_t max_payload, int require_mask,
			  struct mk_ws_frame *ret, struct mk_error **err);
/* What mk_ws_frames_consume calls for each frame: 0 goes on, > 0 stops (fine),
 * < 0 stops (the connection is to end). */
typedef int (*mk_ws_frame_fn)(void *ctx, struct mk_ws_frame *f);
/* Parses the complete frames at the start of in (mk_ws_frame_parse's limits),
 * calls fn on each, and drops the bytes of every frame parsed (the one fn stopped
 * at included) from in; an incomplete frame stays for the next read. Returns 0
 * (no more complete frames, or fn > 0), -1 when fn < 0 (err untouched), or -1
 * with err on a protocol error. */
int mk_ws_frames_consume(struct mk_buf *in, size_t max_payload, int require_mask,
			 mk_ws_frame_fn fn, void *ctx, struct mk_error **err);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key GUID)). Owned. */
char *mk_ws_accept_key(const char *key);
/* A fresh random Sec-WebSocket-Key (base64 of 16 bytes). Owned. */
char *mk_ws_new_key(void);
/* True when a comma-separated header value list contains token (case-insensitive
 * when icase). */
bool mk_ws_header_has_token(const char *value, const char *token, bool icase);
/* Parses a resize payload {"Width":W,"Height":H}; 0 or -1 when malformed. */
int mk_ws_resize_parse(const char *json, size_t len, unsigned short *ret_cols,
		       unsigned short *ret_rows);
/* The v5 status payload for an exit code: Success for 0, else Failure with reason
 * NonZeroExitCode and a cause ExitCode N. Owned JSON text. */
char *mk_ws_exit_status_json(int exit_code);

/* The subprotocol name of p; "" for MK_WS_PROTO_NONE. Static. */
const char *mk_ws_proto_name(enum mk_ws_proto p);
/* Chooses the protocol for a Sec-WebSocket-Protocol request header: the first
 * one the client lists that we serve (the client's order is its preference, as
 * kubelet's wsstream does). A missing or empty header gives MK_WS_PROTO_NONE;
 * a list naming nothing we serve gives -1. */
int mk_ws_proto_select(const char *header);
/* True for the two base64 protocols (text frames). */
bool mk_ws_proto_is_base64(enum mk_ws_proto p);
/* True when the error channel carries a JSON Status (v4 and v5). */
bool mk_ws_proto_status_json(enum mk_ws_proto p);
/* Appends a message on channel in protocol p: a binary frame with the channel
 * byte, or for base64 protocols a text frame '0'+channel and base64 of data. */
void mk_ws_proto_channel_append(struct mk_buf *out, enum mk_ws_proto p, uint8_t channel,
				const void *data, size_t len, const uint8_t *mask);
/* Splits the payload of a complete (unfragmented) data frame in protocol p into
 * its channel and data. For base64 protocols the data is decoded into *ret_owned
 * (freed by the caller) and *ret_data points into it; otherwise *ret_data points
 * into the payload and *ret_owned is NULL. Returns 0, 1 for an empty payload (no
 * channel: ignore it), -1 when malformed (a bad channel digit or base64). */
int mk_ws_proto_channel_decode(enum mk_ws_proto p, const uint8_t *payload, size_t len,
			       uint8_t *ret_channel, const uint8_t **ret_data, size_t *ret_len,
			       void **ret_owned);
/* What to send on the error channel when the process exited with exit_code, in
 * protocol p: the JSON Status (v4, v5), or for older protocols the Status'
 * message text on failure and nothing (NULL) on success. Owned or NULL. */
char *mk_ws_proto_exit_status(enum mk_ws_proto p, int exit_code);

#endif
