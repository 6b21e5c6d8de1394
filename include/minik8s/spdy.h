/* minik8s spdy: SPDY/3.1 framing as Kubernetes port-forward speaks it
 * (moby/spdystream on the kubectl side): the frames, and the header blocks
 * compressed with one zlib stream per direction primed with the SPDY/3
 * dictionary. Pure functions over buffers; nothing here does I/O. Part of the
 * ws package (kubectl 1.30+ tunnels these bytes in binary WebSocket messages,
 * subprotocol "SPDY/3.1+portforward.k8s.io").
 *
 * Flow control is not implemented by spdystream (WINDOW_UPDATE is ignored and
 * never sent), so neither side here sends or honours windows. */
#ifndef MINIK8S_SPDY_H
#define MINIK8S_SPDY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>
#include "minik8s/util.h"

#define MK_SPDY_VERSION 3
#define MK_SPDY_UPGRADE "SPDY/3.1"
#define MK_SPDY_PORTFORWARD_PROTOCOL "portforward.k8s.io"
/* the WebSocket subprotocol kubectl asks for to tunnel port-forward's SPDY */
#define MK_SPDY_WS_TUNNEL_PROTOCOL "SPDY/3.1+portforward.k8s.io"
/* the WebSocket subprotocol of the Python client (channels 2k data, 2k+1 error) */
#define MK_WS_PROTOCOL_V4 "v4.channel.k8s.io"

enum {
	MK_SPDY_SYN_STREAM = 1,
	MK_SPDY_SYN_REPLY = 2,
	MK_SPDY_RST_STREAM = 3,
	MK_SPDY_SETTINGS = 4,
	MK_SPDY_PING = 6,
	MK_SPDY_GOAWAY = 7,
	MK_SPDY_HEADERS = 8,
	MK_SPDY_WINDOW_UPDATE = 9,
};

#define MK_SPDY_FLAG_FIN 0x01

/* RST_STREAM status codes */
enum {
	MK_SPDY_PROTOCOL_ERROR = 1,
	MK_SPDY_INVALID_STREAM = 2,
	MK_SPDY_REFUSED_STREAM = 3,
	MK_SPDY_CANCEL = 5,
	MK_SPDY_INTERNAL_ERROR = 6,
};

/* Largest frame payload we accept (the wire allows 16 MiB - 1). */
#define MK_SPDY_MAX_PAYLOAD (1024 * 1024)

struct mk_spdy_frame {
	bool control;
	int type;	    /* control frames: MK_SPDY_*; 0 for data */
	uint8_t flags;
	uint32_t stream_id; /* data, SYN_*, RST_STREAM, HEADERS, WINDOW_UPDATE; PING: its id;
			     * GOAWAY: the last good stream id */
	uint32_t status;    /* RST_STREAM and GOAWAY status; WINDOW_UPDATE delta */
	const uint8_t *data; /* data frames: the data; SYN_STREAM/SYN_REPLY/HEADERS: the
			      * compressed header block */
	size_t len;
};

struct mk_spdy_header {
	char *name;  /* lowercase, as on the wire */
	char *value; /* several values are separated by NUL bytes on the wire: kept */
	size_t value_len;
};

/* One connection's header compression state (both directions). */
struct mk_spdy_zlib {
	z_stream in, out;
	bool in_ready, out_ready;
};

void mk_spdy_zlib_init(struct mk_spdy_zlib *z);
void mk_spdy_zlib_release(struct mk_spdy_zlib *z);

/* Parses one frame at the start of buf. Returns its total size (> 0) and fills
 * *ret (pointers into buf), 0 when buf holds no complete frame yet, or -1 with
 * err (a version other than 3, a payload above max_payload, a control frame too
 * short for its type). Unknown control types parse (type set) for the caller to
 * ignore, as SPDY requires. */
ssize_t mk_spdy_frame_parse(const uint8_t *buf, size_t len, size_t max_payload,
			    struct mk_spdy_frame *ret, struct mk_error **err);

/* Decompresses the header block of a SYN_STREAM, SYN_REPLY or HEADERS frame (in
 * the order they came: the zlib stream spans the connection). *ret_headers
 * owned: mk_spdy_headers_free. */
int mk_spdy_headers_decode(struct mk_spdy_zlib *z, const uint8_t *block, size_t len,
			   struct mk_spdy_header **ret_headers, size_t *ret_n,
			   struct mk_error **err);
void mk_spdy_headers_free(struct mk_spdy_header *h, size_t n);
/* Value of header name (case-insensitive) as a C string, or NULL. Borrowed. */
const char *mk_spdy_header_get(const struct mk_spdy_header *h, size_t n, const char *name);

/* Frame writers: append one frame to out. Names are sent lowercased. */
void mk_spdy_syn_stream_append(struct mk_spdy_zlib *z, struct mk_buf *out, uint32_t id,
			       const char *const *names, const char *const *values, size_t n,
			       bool fin);
void mk_spdy_syn_reply_append(struct mk_spdy_zlib *z, struct mk_buf *out, uint32_t id,
			      const char *const *names, const char *const *values, size_t n,
			      bool fin);
void mk_spdy_data_append(struct mk_buf *out, uint32_t id, const void *data, size_t len, bool fin);
void mk_spdy_rst_stream_append(struct mk_buf *out, uint32_t id, uint32_t status);
void mk_spdy_ping_append(struct mk_buf *out, uint32_t id);
void mk_spdy_goaway_append(struct mk_buf *out, uint32_t last_good_id, uint32_t status);

/* The SPDY/3 header compression dictionary (section 2.6.10.1 of the draft). */
const uint8_t *mk_spdy_dictionary(size_t *ret_len);

#endif
