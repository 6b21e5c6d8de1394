/* pkg/dns private helpers shared by the codec, zone, forwarder and server. */
#ifndef MINIK8S_DNS_INTERNAL_H
#define MINIK8S_DNS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "minik8s/dns.h"

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v & 0xff; }
static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = (v >> 16) & 0xff; p[2] = (v >> 8) & 0xff; p[3] = v & 0xff;
}

/* Bounded output buffer: writes past cap set overflow and are dropped. */
struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool overflow;
};
static inline void wb_bytes(struct wbuf *b, const void *d, size_t n)
{
	if (b->overflow || n > b->cap - b->len) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}
static inline void wb16(struct wbuf *b, uint16_t v) { uint8_t x[2]; wr16(x, v); wb_bytes(b, x, 2); }
static inline void wb32(struct wbuf *b, uint32_t v) { uint8_t x[4]; wr32(x, v); wb_bytes(b, x, 4); }

/* Decompresses the name at pkt[off] into wire form (lowercased when lower).
 * Pointers must point strictly before the segment being read (no loops), labels
 * <= 63, total <= 255. *ret_end: offset after the name. Returns 0 or -1. */
int dns_name_unpack(const uint8_t *pkt, size_t len, size_t off, uint8_t wire[MK_DNS_NAME_MAX],
		    size_t *ret_wirelen, size_t *ret_end, bool lower);
/* Wire name -> presentation form (see mk_dns_name_to_text). -1 if it does not fit. */
int dns_wire_to_text(const uint8_t *wire, size_t wirelen, char *out, size_t outsz);

/* Parsed query essentials (what the responder needs). */
struct dns_query {
	uint16_t id, flags;
	uint8_t qname[MK_DNS_NAME_MAX]; /* lowercased wire form */
	size_t qname_len;
	size_t qend;			/* offset after the question */
	uint16_t qtype, qclass;
	bool edns, edns_do;
	uint16_t udp_size;
	uint8_t edns_version;
};
/* Parses a query: 0 ok; > 0 an rcode to answer with (FORMERR, NOTIMP); -1 drop.
 * On rcode answers q->id/flags are valid and q->qend is 0 unless the question
 * parsed. */
int dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q);

/* Upstream address parsing: "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53". */
int dns_parse_hostport(const char *s, uint16_t def_port, struct sockaddr_storage *ret,
		       socklen_t *ret_len);
bool dns_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* socket(domain, type | SOCK_CLOEXEC) created inside netns_fd (< 0: ours);
 * the socket keeps that namespace for its life. */
int dns_socket(int netns_fd, int domain, int type, struct mk_error **err);
/* An eventfd (non-blocking, close-on-exec) a thread polls to learn it must stop;
 * dns_eventfd_kick wakes it (evfd < 0: nothing to wake). */
int dns_eventfd(struct mk_error **err);
void dns_eventfd_kick(int evfd);
/* Closes the descriptors of fds[0..n) that are open (>= 0). */
void dns_close_fds(const int *fds, size_t n);
/* Sends (wr) or receives exactly n bytes on the non-blocking stream fd before
 * deadline (mk_time_mono_ns); false on timeout, error or end of stream. */
bool dns_io_full(int fd, void *buf, size_t n, bool wr, uint64_t deadline);

/* ---- forwarder (forward.c) ------------------------------------------------ */

struct dns_forwarder;
struct dns_forwarder_options {
	const char *const *upstreams;
	unsigned timeout_ms, tries, max_pending;
};
int dns_forwarder_new(const struct dns_forwarder_options *o, int netns_fd,
		      struct dns_forwarder **ret, struct mk_error **err);
void dns_forwarder_free(struct dns_forwarder *f);
bool dns_forwarder_has_upstreams(const struct dns_forwarder *f);
/* Asynchronous (UDP clients): the answer (or SERVFAIL) is sent from reply_fd to
 * client. Returns 0 queued, -1 when the pending table is full (caller answers
 * SERVFAIL itself). */
int dns_forwarder_submit(struct dns_forwarder *f, const uint8_t *q, size_t qlen, int reply_fd,
			 const struct sockaddr *client, socklen_t clen,
			 const struct in_pktinfo *pktinfo);
/* Synchronous (TCP clients): UDP tries, then TCP to the same upstream when the
 * UDP answer is truncated. Returns the answer length (> 0) in out, or 0. */
size_t dns_forward_sync(struct dns_forwarder *f, const uint8_t *q, size_t qlen, uint8_t *out,
			size_t outsz);
void dns_forwarder_stats(struct dns_forwarder *f, uint64_t *ret_ok, uint64_t *ret_fail);

#endif
