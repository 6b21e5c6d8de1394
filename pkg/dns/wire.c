/* DNS wire codec (RFC 1035 section 4, EDNS0 RFC 6891). Strict and bounded: every
 * read is checked against the packet length; compression pointers may only point
 * before the segment being read, so a name is read in at most 255 steps. */
#include <errno.h>
#include <stdio.h>
#include <ctype.h>
#include <arpa/inet.h>
#include "internal.h"

int dns_name_unpack(const uint8_t *pkt, size_t len, size_t off, uint8_t wire[MK_DNS_NAME_MAX],
		    size_t *ret_wirelen, size_t *ret_end, bool lower)
{
	size_t wl = 0, pos = off, limit = off, end = 0;
	bool jumped = false;

	for (int steps = 0; steps < 256; steps++) {
		if (pos >= len)
			return -1;
		uint8_t c = pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return -1;
			size_t target = (size_t)(c & 0x3f) << 8 | pkt[pos + 1];
			/* strictly backwards from where this segment began: no loops */
			if (target >= limit)
				return -1;
			if (!jumped)
				end = pos + 2;
			jumped = true;
			limit = target;
			pos = target;
			continue;
		}
		if (c & 0xc0) /* 0x40, 0x80: extended label types, obsolete */
			return -1;
		if (c == 0) {
			if (wl + 1 > MK_DNS_NAME_MAX)
				return -1;
			wire[wl++] = 0;
			if (!jumped)
				end = pos + 1;
			*ret_wirelen = wl;
			*ret_end = end;
			return 0;
		}
		if (pos + 1 + c > len || wl + 1 + c + 1 > MK_DNS_NAME_MAX)
			return -1;
		wire[wl++] = c;
		for (size_t i = 0; i < c; i++) {
			uint8_t ch = pkt[pos + 1 + i];
			wire[wl++] = lower && ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
		}
		pos += 1 + c;
	}
	return -1;
}

int dns_wire_to_text(const uint8_t *wire, size_t wirelen, char *out, size_t outsz)
{
	size_t o = 0, i = 0;

	if (outsz == 0)
		return -1;
	while (i < wirelen && wire[i]) {
		uint8_t n = wire[i++];
		if (i + n > wirelen)
			return -1;
		if (o > 0) {
			if (o + 1 >= outsz)
				return -1;
			out[o++] = '.';
		}
		for (uint8_t k = 0; k < n; k++, i++) {
			uint8_t ch = wire[i];
			if (isalnum(ch) || ch == '-' || ch == '_' || ch == '*') {
				if (o + 1 >= outsz)
					return -1;
				out[o++] = ch;
			} else if (ch == '.' || ch == '\\') {
				if (o + 2 >= outsz)
					return -1;
				out[o++] = '\\';
				out[o++] = ch;
			} else {
				if (o + 4 >= outsz)
					return -1;
				o += snprintf(out + o, outsz - o, "\\%03u", ch);
			}
		}
	}
	out[o] = 0;
	return 0;
}

int mk_dns_name_to_text(const uint8_t *pkt, size_t len, size_t off, char *out, size_t outsz,
			size_t *ret_end)
{
	uint8_t wire[MK_DNS_NAME_MAX];
	size_t wl, end;

	if (dns_name_unpack(pkt, len, off, wire, &wl, &end, false) < 0)
		return -1;
	if (dns_wire_to_text(wire, wl, out, outsz) < 0)
		return -1;
	if (ret_end)
		*ret_end = end;
	return 0;
}

int mk_dns_name_from_text(const char *text, uint8_t out[MK_DNS_NAME_MAX], bool lower)
{
	size_t o = 0, lenpos;
	const char *p = text;

	if (!*p || (p[0] == '.' && !p[1])) {
		out[0] = 0;
		return 1;
	}
	while (*p) {
		lenpos = o++;
		if (o >= MK_DNS_NAME_MAX)
			return -1;
		size_t n = 0;
		while (*p && *p != '.') {
			unsigned ch = (unsigned char)*p++;
			if (ch == '\\') {
				if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
				    isdigit((unsigned char)p[2])) {
					ch = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
					if (ch > 255)
						return -1;
					p += 3;
				} else if (*p) {
					ch = (unsigned char)*p++;
				} else {
					return -1;
				}
			}
			if (++n > 63 || o + 1 >= MK_DNS_NAME_MAX)
				return -1;
			out[o++] = lower && ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
		}
		if (n == 0)
			return -1; /* empty label ("a..b", ".a") */
		out[lenpos] = (uint8_t)n;
		if (*p == '.') {
			p++;
			if (!*p)
				break; /* trailing dot */
		}
	}
	if (o + 1 > MK_DNS_NAME_MAX)
		return -1;
	out[o++] = 0;
	return (int)o;
}

int mk_dns_query_build(uint16_t id, const char *name, uint16_t qtype, uint16_t udp_size,
		       uint8_t *out, size_t outsz)
{
	uint8_t wire[MK_DNS_NAME_MAX];
	int wl = mk_dns_name_from_text(name, wire, false);
	struct wbuf b = { out, 0, outsz, false };

	if (wl < 0)
		return -1;
	wb16(&b, id);
	wb16(&b, MK_DNS_FLAG_RD);
	wb16(&b, 1);
	wb16(&b, 0);
	wb16(&b, 0);
	wb16(&b, udp_size ? 1 : 0);
	wb_bytes(&b, wire, wl);
	wb16(&b, qtype);
	wb16(&b, MK_DNS_CLASS_IN);
	if (udp_size) {
		uint8_t opt[11] = { 0, 0, MK_DNS_TYPE_OPT, 0, 0, 0, 0, 0, 0, 0, 0 };
		wr16(opt + 3, udp_size);
		wb_bytes(&b, opt, sizeof(opt));
	}
	return b.overflow ? -1 : (int)b.len;
}

/* Parses one record's header at *off; fills what callers need. */
static int rr_parse(const uint8_t *pkt, size_t len, size_t *off, struct mk_dns_rr *rr,
		    uint8_t owner[MK_DNS_NAME_MAX], size_t *owner_len)
{
	size_t end;

	if (dns_name_unpack(pkt, len, *off, owner, owner_len, &end, false) < 0)
		return -1;
	if (end + 10 > len)
		return -1;
	rr->type = rd16(pkt + end);
	rr->class = rd16(pkt + end + 2);
	rr->ttl = rd32(pkt + end + 4);
	rr->rdlen = rd16(pkt + end + 8);
	if (end + 10 + rr->rdlen > len)
		return -1;
	rr->rdata = pkt + end + 10;
	*off = end + 10 + rr->rdlen;
	return 0;
}

/* Decodes typed rdata; names inside rdata may be compressed and must end
 * exactly at the rdata's end. */
static int rdata_decode(const uint8_t *pkt, size_t len, struct mk_dns_rr *rr)
{
	size_t start = rr->rdata - pkt, stop = start + rr->rdlen, end;

	switch (rr->type) {
	case MK_DNS_TYPE_A:
		if (rr->rdlen != 4)
			return -1;
		inet_ntop(AF_INET, rr->rdata, rr->target, sizeof(rr->target));
		return 0;
	case MK_DNS_TYPE_AAAA:
		if (rr->rdlen != 16)
			return -1;
		inet_ntop(AF_INET6, rr->rdata, rr->target, sizeof(rr->target));
		return 0;
	case MK_DNS_TYPE_CNAME:
	case MK_DNS_TYPE_PTR:
	case MK_DNS_TYPE_NS:
		if (mk_dns_name_to_text(pkt, stop, start, rr->target, sizeof(rr->target), &end) < 0 ||
		    end != stop)
			return -1;
		return 0;
	case MK_DNS_TYPE_SRV:
		if (rr->rdlen < 7)
			return -1;
		rr->prio = rd16(rr->rdata);
		rr->weight = rd16(rr->rdata + 2);
		rr->port = rd16(rr->rdata + 4);
		if (mk_dns_name_to_text(pkt, stop, start + 6, rr->target, sizeof(rr->target), &end) <
			    0 ||
		    end != stop)
			return -1;
		return 0;
	case MK_DNS_TYPE_SOA:
		if (mk_dns_name_to_text(pkt, stop, start, rr->target, sizeof(rr->target), &end) < 0 ||
		    mk_dns_name_to_text(pkt, stop, end, rr->rname, sizeof(rr->rname), &end) < 0 ||
		    end + 20 != stop)
			return -1;
		for (int i = 0; i < 5; i++)
			rr->soa[i] = rd32(pkt + end + 4 * i);
		return 0;
	default:
		return 0;
	}
}

int mk_dns_msg_parse(const uint8_t *pkt, size_t len, struct mk_dns_msg *msg,
		     struct mk_error **err)
{
	uint8_t wire[MK_DNS_NAME_MAX];
	size_t wl, off, end;

	memset(msg, 0, offsetof(struct mk_dns_msg, rr));
	if (len < 12)
		return mk_error_set(err, EINVAL, "dns: message of %zu bytes is shorter than a header", len);
	msg->id = rd16(pkt);
	msg->flags = rd16(pkt + 2);
	msg->rcode = msg->flags & 0xf;
	msg->qdcount = rd16(pkt + 4);
	msg->ancount = rd16(pkt + 6);
	msg->nscount = rd16(pkt + 8);
	msg->arcount = rd16(pkt + 10);
	off = 12;
	if (msg->qdcount > 1)
		return mk_error_set(err, EINVAL, "dns: %u questions", msg->qdcount);
	if (msg->qdcount == 1) {
		if (dns_name_unpack(pkt, len, off, wire, &wl, &end, false) < 0 ||
		    dns_wire_to_text(wire, wl, msg->qname, sizeof(msg->qname)) < 0)
			return mk_error_set(err, EINVAL, "dns: malformed question name");
		if (end + 4 > len)
			return mk_error_set(err, EINVAL, "dns: truncated question");
		msg->qtype = rd16(pkt + end);
		msg->qclass = rd16(pkt + end + 2);
		off = end + 4;
	}
	unsigned total = (unsigned)msg->ancount + msg->nscount + msg->arcount;
	for (unsigned i = 0; i < total; i++) {
		struct mk_dns_rr tmp, *rr = msg->nrr < MK_DNS_MSG_MAX_RR ? &msg->rr[msg->nrr] : &tmp;
		int section = i < msg->ancount ? 1 : i < (unsigned)msg->ancount + msg->nscount ? 2 : 3;
		memset(rr, 0, sizeof(*rr));
		if (rr_parse(pkt, len, &off, rr, wire, &wl) < 0)
			return mk_error_set(err, EINVAL, "dns: malformed record %u", i);
		if (dns_wire_to_text(wire, wl, rr->name, sizeof(rr->name)) < 0)
			return mk_error_set(err, EINVAL, "dns: record %u: bad name", i);
		if (rdata_decode(pkt, len, rr) < 0)
			return mk_error_set(err, EINVAL, "dns: record %u: malformed rdata of type %u",
					    i, rr->type);
		if (rr->type == MK_DNS_TYPE_OPT) {
			if (section != 3 || msg->edns || wl != 1)
				return mk_error_set(err, EINVAL, "dns: misplaced OPT record");
			msg->edns = true;
			msg->udp_size = rr->class;
			msg->edns_version = (rr->ttl >> 16) & 0xff;
			msg->edns_do = rr->ttl & 0x8000;
			msg->rcode |= (int)(rr->ttl >> 24) << 4;
		}
		if (rr != &tmp) {
			msg->section[msg->nrr] = section;
			msg->nrr++;
		}
	}
	if (off != len)
		return mk_error_set(err, EINVAL, "dns: %zu trailing bytes", len - off);
	return 0;
}

/* The responder's query parser: the question in lowercased wire form plus EDNS. */
int dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	size_t end, off;
	unsigned qd, an, ns, ar;

	memset(q, 0, offsetof(struct dns_query, qname));
	q->qend = 0;
	q->qname_len = 0;
	q->qtype = q->qclass = 0;
	q->edns = q->edns_do = false;
	q->udp_size = 0;
	q->edns_version = 0;
	if (len < 12)
		return -1;
	q->id = rd16(pkt);
	q->flags = rd16(pkt + 2);
	if (q->flags & MK_DNS_FLAG_QR)
		return -1; /* a response: never answer one (reflection loops) */
	if ((q->flags >> 11 & 0xf) != 0)
		return MK_DNS_RCODE_NOTIMP;
	qd = rd16(pkt + 4);
	an = rd16(pkt + 6);
	ns = rd16(pkt + 8);
	ar = rd16(pkt + 10);
	if (qd != 1 || an != 0 || ns != 0 || ar > 4)
		return MK_DNS_RCODE_FORMERR;
	if (dns_name_unpack(pkt, len, 12, q->qname, &q->qname_len, &end, true) < 0)
		return MK_DNS_RCODE_FORMERR;
	if (end + 4 > len)
		return MK_DNS_RCODE_FORMERR;
	q->qtype = rd16(pkt + end);
	q->qclass = rd16(pkt + end + 2);
	off = end + 4;
	q->qend = off;
	for (unsigned i = 0; i < ar; i++) {
		struct mk_dns_rr rr;
		uint8_t owner[MK_DNS_NAME_MAX];
		size_t ol;
		if (rr_parse(pkt, len, &off, &rr, owner, &ol) < 0)
			return MK_DNS_RCODE_FORMERR;
		if (rr.type == MK_DNS_TYPE_OPT) {
			if (q->edns || ol != 1)
				return MK_DNS_RCODE_FORMERR;
			q->edns = true;
			q->udp_size = rr.class;
			q->edns_version = (rr.ttl >> 16) & 0xff;
			q->edns_do = rr.ttl & 0x8000;
			/* options: walk them to check their lengths add up */
			size_t o = 0;
			while (o < rr.rdlen) {
				if (o + 4 > rr.rdlen || o + 4 + rd16(rr.rdata + o + 2) > rr.rdlen)
					return MK_DNS_RCODE_FORMERR;
				o += 4 + rd16(rr.rdata + o + 2);
			}
		}
	}
	if (off != len)
		return MK_DNS_RCODE_FORMERR;
	if (q->qtype == MK_DNS_TYPE_OPT)
		return MK_DNS_RCODE_FORMERR;
	return 0;
}
