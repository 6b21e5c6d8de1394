/* The node agent's streaming server (kubelet's :10250 role): container logs and
 * exec over WebSocket (channel protocol v5.channel.k8s.io), for the API server
 * only. Also the WebSocket framing shared with the API server's proxy and the
 * built-in kubectl (RFC 6455).
 *
 *   GET /containerLogs/NS/POD/CONTAINER?follow=&tailLines=&previous=&timestamps=&limitBytes=
 *       200 text/plain: the messages of the container's CRI log, oldest first
 *   GET /exec/NS/POD/CONTAINER?command=..&command=..&stdin=&stdout=&stderr=&tty=
 *       Upgrade: websocket, Sec-WebSocket-Protocol: v5.channel.k8s.io -> 101, then
 *       binary frames whose first byte is the channel: 0 stdin, 1 stdout,
 *       2 stderr, 3 status (a Status object, sent once at the end), 4 resize
 *       ({"Width":W,"Height":H}), 255 close (payload: the channel closed; 0 =
 *       stdin EOF). A close frame (1000) follows the status.
 *
 * Clients must present a TLS certificate signed by the cluster CA whose common
 * name is the API server's (MK_AGENT_STREAM_CLIENT_CN); anything else gets 401
 * (no or untrusted certificate) or 403 (another name). */
#ifndef MINIK8S_AGENT_STREAM_H
#define MINIK8S_AGENT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "minik8s/runtime.h"
#include "minik8s/util.h"

#define MK_AGENT_STREAM_DEFAULT_PORT 10250
#define MK_AGENT_STREAM_CLIENT_CN "minik8s-apiserver"
#define MK_WS_PROTOCOL_V5 "v5.channel.k8s.io"

/* Resolves a container of a pod to runtime container ids: *ret_current is the
 * running (or last) instance, *ret_previous the one before it (after a restart);
 * either may be set to NULL when there is none. Both owned by the caller.
 * Returns 0, or -1 with err (code ENOENT: no such pod or container). Called from
 * the server's connection threads, concurrently. */
typedef int (*mk_agent_stream_resolve_fn)(void *userdata, const char *ns, const char *pod,
					  const char *container, char **ret_current,
					  char **ret_previous, struct mk_error **err);

struct mk_agent_stream_options {
	const char *bind_address;  /* IPv4; NULL: 0.0.0.0 */
	uint16_t port;             /* 0: 10250 */
	const char *tls_cert_file; /* serving certificate and key (PEM). Both NULL: a */
	const char *tls_key_file;  /* self-signed one made in memory; paths that do not
				    * exist yet: a self-signed one written there */
	const char *client_ca_file; /* required: the cluster CA (PEM) clients must be
				     * signed by */
	const char *client_cn;     /* NULL: MK_AGENT_STREAM_CLIENT_CN */
	struct mk_runtime *runtime; /* borrowed; must outlive the server */
	mk_agent_stream_resolve_fn resolve;
	void *resolve_userdata;
	unsigned max_sessions;     /* concurrent exec sessions and log streams; 0: 64 */
};

struct mk_agent_stream;

/* Starts serving in background threads. *ret owned: mk_agent_stream_stop(). */
int mk_agent_stream_start(const struct mk_agent_stream_options *opts,
			  struct mk_agent_stream **ret, struct mk_error **err);
/* Ends every session (exec processes are killed), stops and frees. Accepts NULL. */
void mk_agent_stream_stop(struct mk_agent_stream *s);

/* ---- WebSocket framing (RFC 6455), stream_ws.c ------------------------------------ */

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

#endif
