/* minik8s dns: the embedded cluster DNS of every node.
 *
 * Pieces, bottom up:
 *  - wire codec (RFC 1035 + EDNS0, RFC 6891): a strict message parser that
 *    rejects compression loops, forward pointers, labels > 63 and names > 255,
 *    and small writers; used by the responder, the forwarder and the tests.
 *  - zone: the in-memory cluster.local zone built from Services, Endpoints and
 *    Pods (Kubernetes DNS spec, https://github.com/kubernetes/dns/blob/master/docs/specification.md).
 *    Updates are incremental: one object's upsert or delete costs work in
 *    proportion to that object. Readers (responder threads) take a read lock;
 *    the writer (informer thread) takes the write lock for one object's change.
 *  - answer: a pure function from a query packet to a response packet (or
 *    "drop" / "forward"), shared by UDP, TCP, the fuzz target and the tests.
 *  - forwarder: names outside the cluster zone go to the node's upstream
 *    resolvers (resolv.conf), with timeout and retry; the answer is relayed with
 *    the client's ID; SERVFAIL when every try failed.
 *  - server: UDP (SO_REUSEPORT, one socket and thread per worker, recvmmsg /
 *    sendmmsg) and TCP (RFC 7766 framing, bounded connections).
 *  - mk_dns_start: the node's runner; informers feed the zone.
 *
 * Every resource a client controls is bounded: message sizes (UDP 4096 out,
 * 65535 over TCP), TCP connections (opts), idle time per TCP connection,
 * pending forwarded queries (opts).
 *
 * Library code: nothing here prints or exits. Errors are errno codes.
 */
#ifndef MINIK8S_DNS_H
#define MINIK8S_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "minik8s/util.h"

struct mk_client;

/* ---- wire codec ------------------------------------------------------------- */

enum {
	MK_DNS_TYPE_A = 1,
	MK_DNS_TYPE_NS = 2,
	MK_DNS_TYPE_CNAME = 5,
	MK_DNS_TYPE_SOA = 6,
	MK_DNS_TYPE_PTR = 12,
	MK_DNS_TYPE_TXT = 16,
	MK_DNS_TYPE_AAAA = 28,
	MK_DNS_TYPE_SRV = 33,
	MK_DNS_TYPE_OPT = 41,
	MK_DNS_TYPE_IXFR = 251,
	MK_DNS_TYPE_AXFR = 252,
	MK_DNS_TYPE_ANY = 255,
};
enum { MK_DNS_CLASS_IN = 1, MK_DNS_CLASS_ANY = 255 };
enum {
	MK_DNS_RCODE_NOERROR = 0,
	MK_DNS_RCODE_FORMERR = 1,
	MK_DNS_RCODE_SERVFAIL = 2,
	MK_DNS_RCODE_NXDOMAIN = 3,
	MK_DNS_RCODE_NOTIMP = 4,
	MK_DNS_RCODE_REFUSED = 5,
	MK_DNS_RCODE_BADVERS = 16, /* extended: upper bits travel in the OPT record */
};
/* header flag bits (host order of the 16-bit flags word) */
#define MK_DNS_FLAG_QR 0x8000
#define MK_DNS_FLAG_AA 0x0400
#define MK_DNS_FLAG_TC 0x0200
#define MK_DNS_FLAG_RD 0x0100
#define MK_DNS_FLAG_RA 0x0080

#define MK_DNS_NAME_MAX 255	  /* wire length, root label included */
#define MK_DNS_NAME_TEXT_MAX 1024 /* presentation form, escapes included */
#define MK_DNS_UDP_MIN 512
#define MK_DNS_UDP_MAX 4096	  /* the largest UDP answer we send */
#define MK_DNS_TCP_MAX 65535
#define MK_DNS_TTL 5

/* One resource record as parsed. name is presentation form, lowercase kept as
 * received, without the trailing dot ("" for the root). rdata points into the
 * parsed packet (borrowed). The typed fields are filled for A (text in
 * target), AAAA (text in target), CNAME/PTR/NS (target), SRV (prio, weight,
 * port, target), SOA (target = mname, rname, serial .. minimum in soa[]) and
 * OPT (class = UDP payload size, ttl = extended rcode/version/flags). */
struct mk_dns_rr {
	char name[MK_DNS_NAME_TEXT_MAX];
	uint16_t type, class;
	uint32_t ttl;
	const uint8_t *rdata;
	uint16_t rdlen;
	uint16_t prio, weight, port;
	char target[MK_DNS_NAME_TEXT_MAX];
	char rname[MK_DNS_NAME_TEXT_MAX];
	uint32_t soa[5];
};

/* A parsed message. Sections beyond MK_DNS_MSG_MAX_RR records are counted
 * (ancount ...) and validated but not stored. */
#define MK_DNS_MSG_MAX_RR 64
struct mk_dns_msg {
	uint16_t id, flags;
	uint16_t qdcount, ancount, nscount, arcount;
	int rcode;	      /* header rcode, extended by the OPT record if any */
	char qname[MK_DNS_NAME_TEXT_MAX];
	uint16_t qtype, qclass;
	bool edns;	      /* an OPT record was present */
	uint16_t udp_size;    /* its payload size */
	uint8_t edns_version;
	bool edns_do;
	size_t nrr;	      /* records stored in rr[] (all sections, in order) */
	struct mk_dns_rr rr[MK_DNS_MSG_MAX_RR];
	int section[MK_DNS_MSG_MAX_RR]; /* 1 answer, 2 authority, 3 additional */
};

/* Parses a whole message strictly: every section, names (pointers only
 * backwards, at most 255 bytes, labels <= 63), rdata lengths, no trailing
 * bytes, at most one OPT (in the additional section, root owner). qdcount may
 * be 0 or 1 (more is EINVAL: nobody sends that). *msg is filled (caller
 * storage; large: allocate it). Returns 0, or -1 with EINVAL in *err. */
int mk_dns_msg_parse(const uint8_t *pkt, size_t len, struct mk_dns_msg *msg,
		     struct mk_error **err);

/* Converts a wire name at pkt[off] (compression allowed) to presentation form:
 * labels joined by '.', no trailing dot, bytes other than [A-Za-z0-9-_] escaped
 * as \DDD, '.' and '\' as \. and \\. *ret_end is the offset after the name in
 * the packet. Returns 0 or -1 (malformed). */
int mk_dns_name_to_text(const uint8_t *pkt, size_t len, size_t off, char *out, size_t outsz,
			size_t *ret_end);
/* Encodes a presentation name ("a.b.c", trailing dot optional, "" or "." the
 * root; \. and \DDD escapes understood) into wire form, lowercased when lower.
 * Returns the wire length or -1 (label > 63, name > 255, empty label, bad escape). */
int mk_dns_name_from_text(const char *text, uint8_t out[MK_DNS_NAME_MAX], bool lower);

/* Builds a query (caller buffer, >= 512 bytes): id, name, type, RD set, and an
 * OPT record advertising udp_size when udp_size > 0. Returns its length or -1. */
int mk_dns_query_build(uint16_t id, const char *name, uint16_t qtype, uint16_t udp_size,
		       uint8_t *out, size_t outsz);

/* ---- zone ----------------------------------------------------------------------- */

struct mk_dns_zone_options {
	const char *domain;	/* cluster domain; NULL: "cluster.local" */
	const char *ns_address;	/* IPv4 of the DNS service (ns.dns.DOMAIN A), or NULL */
	/* headless endpoints without hostname are named after their pod
	 * (targetRef.name) instead of their dashed IP (CoreDNS' endpoint_pod_names) */
	bool endpoint_pod_names;
};

struct mk_dns_zone;

/* New empty zone (apex SOA and NS, svc.DOMAIN and pod.DOMAIN exist). EINVAL if
 * the domain is not a valid name. *ret owned (mk_dns_zone_free). */
int mk_dns_zone_new(const struct mk_dns_zone_options *opts, struct mk_dns_zone **ret,
		    struct mk_error **err);
/* Frees; no reader may be inside. Accepts NULL. */
void mk_dns_zone_free(struct mk_dns_zone *z);
/* The cluster domain, lowercase, no trailing dot (borrowed). */
const char *mk_dns_zone_domain(const struct mk_dns_zone *z);

/* Writers (one thread at a time is enough; they serialise on the zone lock).
 * obj borrowed (copied as needed). The object's metadata.namespace/name is
 * its key. An upsert replaces everything the previous version of the same
 * object contributed. EINVAL if the object lacks metadata.name/namespace. */
int mk_dns_zone_service_upsert(struct mk_dns_zone *z, const cJSON *svc, struct mk_error **err);
int mk_dns_zone_service_delete(struct mk_dns_zone *z, const char *ns, const char *name);
int mk_dns_zone_endpoints_upsert(struct mk_dns_zone *z, const cJSON *ep, struct mk_error **err);
int mk_dns_zone_endpoints_delete(struct mk_dns_zone *z, const char *ns, const char *name);
int mk_dns_zone_pod_upsert(struct mk_dns_zone *z, const cJSON *pod, struct mk_error **err);
int mk_dns_zone_pod_delete(struct mk_dns_zone *z, const char *ns, const char *name);
/* Upserts every Service, Endpoints and Pod of objs: one object, an array of
 * objects, or a List ({"items": [...]}; kind taken from each item or from the
 * list's kind "ServiceList"/...). Other kinds are skipped. Returns the number
 * loaded or -1. */
int mk_dns_zone_load(struct mk_dns_zone *z, const cJSON *objs, struct mk_error **err);

/* Counters (names in the table, records) for tests and metrics. */
void mk_dns_zone_stats(struct mk_dns_zone *z, size_t *ret_names, size_t *ret_records);

/* What to do with a query. */
enum mk_dns_action {
	MK_DNS_ACTION_DROP = 0,	  /* not worth an answer (a response, < 12 bytes) */
	MK_DNS_ACTION_REPLY,	  /* out holds the response */
	MK_DNS_ACTION_FORWARD,	  /* outside the zone: relay to upstream */
};
/* Answers one query packet from the zone (read lock). tcp: the answer may use
 * up to 65535 bytes; else the UDP limit is the query's EDNS payload size
 * clamped to [512, 4096] (512 without EDNS); an answer that does not fit has
 * TC set and no records. Malformed queries get FORMERR (or are dropped when
 * not even the header is there), unsupported opcodes NOTIMP, zone transfers
 * REFUSED, EDNS versions > 0 BADVERS. Names in the cluster domain are
 * answered (NXDOMAIN/NODATA with the SOA); reverse names of known addresses
 * too; everything else is FORWARD (when can_forward) or REFUSED. out must hold
 * MK_DNS_TCP_MAX bytes for tcp, MK_DNS_UDP_MAX otherwise. */
enum mk_dns_action mk_dns_zone_answer(struct mk_dns_zone *z, const uint8_t *q, size_t qlen,
				      bool tcp, bool can_forward, uint8_t *out,
				      size_t *ret_len);
/* A header-only response with rcode to query q (question echoed when it
 * parses); used for SERVFAIL after failed forwards. Returns length or 0. */
size_t mk_dns_error_response(const uint8_t *q, size_t qlen, int rcode, uint8_t *out,
			     size_t outsz);

/* ---- upstream resolvers ------------------------------------------------------------- */

/* Reads "nameserver" lines of a resolv.conf (IPv4 and IPv6, port 53), skipping
 * addresses listed in skip (NULL-terminated, may be NULL): the cluster DNS
 * itself must never be its own upstream. At most 8 servers. *ret is a
 * NULL-terminated owned array of owned "ADDR:53" / "[ADDR]:53" strings
 * (mk_strv_free). ENOENT if the file is missing. */
int mk_dns_resolv_conf_read(const char *path, const char *const *skip, char ***ret,
			    struct mk_error **err);

/* ---- server --------------------------------------------------------------------------- */

struct mk_dns_server_options {
	const char *const *listen; /* NULL-terminated addresses ("10.96.0.10",
				    * "127.0.0.1", "::1", "0.0.0.0"); NULL: 127.0.0.1 */
	uint16_t port;		   /* 0: 53 */
	int workers;		   /* UDP threads (each its own SO_REUSEPORT socket); 0: CPUs */
	bool no_tcp;		   /* UDP only */
	int netns_fd;		   /* create the sockets in this namespace; < 0: caller's */
	/* upstreams: "ADDR", "ADDR:PORT", "[V6]:PORT" (NULL-terminated; NULL: none,
	 * every name outside the zone gets REFUSED) */
	const char *const *upstreams;
	unsigned forward_timeout_ms; /* per try; 0: 2000 */
	unsigned forward_tries;	     /* tries in all, over the upstreams in turn; 0: 2 */
	unsigned max_pending;	     /* forwarded queries in flight; 0: 1024 */
	unsigned max_tcp_conns;	     /* concurrent TCP connections; 0: 64 */
	unsigned tcp_idle_ms;	     /* idle TCP connection closed after; 0: 10000 */
};

struct mk_dns_server;

/* Binds every listen address (UDP, and TCP unless no_tcp) and starts the
 * threads. zone borrowed (must outlive the server). EADDRINUSE etc. from bind.
 * *ret owned (mk_dns_server_stop). */
int mk_dns_server_start(struct mk_dns_zone *zone, const struct mk_dns_server_options *opts,
			struct mk_dns_server **ret, struct mk_error **err);
/* The bound port (useful with port 0 only for tests: each address may then get
 * another port, so use one listen address). */
uint16_t mk_dns_server_port(const struct mk_dns_server *s);
/* Stops every thread promptly, closes the sockets and frees. Accepts NULL. */
void mk_dns_server_stop(struct mk_dns_server *s);

struct mk_dns_server_stats {
	uint64_t udp_queries, tcp_queries, forwarded, forward_fail, formerr, dropped;
};
void mk_dns_server_get_stats(struct mk_dns_server *s, struct mk_dns_server_stats *ret);

/* ---- node helpers ------------------------------------------------------------------------ */

/* Makes sure a dummy link IFNAME exists in netns_fd (< 0: the caller's), is up
 * and carries ADDR ("10.96.0.10/32"), so a responder bound to the kube-dns
 * ClusterIP answers pods of this node without DNAT. Kernels built without the
 * dummy driver (EOPNOTSUPP from the kernel) get ADDR on "lo" instead: the
 * address is local to the namespace either way. ret_ifname (may be NULL, 16
 * bytes) receives the link that carries ADDR. Idempotent. EEXIST if IFNAME
 * exists and is not a dummy. */
int mk_dns_dummy_ensure(int netns_fd, const char *ifname, const char *addr, char *ret_ifname,
			struct mk_error **err);
/* Undoes mk_dns_dummy_ensure: deletes the dummy link IFNAME if present, else
 * removes ADDR from "lo" if it is there. 1 if something was removed, 0 if not. */
int mk_dns_dummy_delete(int netns_fd, const char *ifname, const char *addr,
			struct mk_error **err);

/* ---- runner ---------------------------------------------------------------------------------- */

struct mk_dns_options {
	struct mk_dns_server_options server; /* listen, port, netns ... */
	const char *domain;		     /* NULL: "cluster.local" */
	const char *ns_address;		     /* kube-dns ClusterIP; NULL: "10.96.0.10" */
	const char *resolv_conf;	     /* upstreams when server.upstreams is NULL;
					      * NULL: "/etc/resolv.conf"; "" none */
	int sync_timeout_ms;		     /* wait for the informers; 0: 30000 */
};

struct mk_dns;

/* Starts informers on services, endpoints and pods (client borrowed; must
 * outlive the runner), waits until they synced, then starts the server; the
 * informers keep the zone current. Upstreams come from resolv_conf with the
 * listen addresses and ns_address skipped. *ret owned (mk_dns_stop). */
int mk_dns_start(struct mk_client *c, const struct mk_dns_options *opts, struct mk_dns **ret,
		 struct mk_error **err);
/* The runner's zone (borrowed) and server (borrowed). */
struct mk_dns_zone *mk_dns_get_zone(struct mk_dns *d);
struct mk_dns_server *mk_dns_get_server(struct mk_dns *d);
/* Stops the server and the informers and frees. Accepts NULL. */
void mk_dns_stop(struct mk_dns *d);

#endif
