/* GET /trace/service?ip=CLUSTERIP&name=DNSNAME: this node's side of
 * `minik8s trace`, for the API server (the only client this server trusts):
 * what the proxy programmed in this node's kernel for the ClusterIP, with the
 * per-endpoint counters (mk_proxy_kernel_read), and the answer the node's
 * embedded DNS gives for the service's name, asked for real over UDP. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "stream_internal.h"
#include "minik8s/dns.h"
#include "minik8s/proxy.h"

#define DNS_TIMEOUT_MS 1000

static const char *rcode_name(int rc)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					     "NOTIMP",  "REFUSED" };
	return rc >= 0 && rc < (int)MK_ARRAY_SIZE(names) ? names[rc] : "OTHER";
}

/* {"server", "name", "rcode", "answers": [A records]} or {"server", "name", "error"} */
static cJSON *ask_dns(const char *server, const char *name)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "server", server);
	cJSON_AddStringToObject(o, "name", name);
	uint8_t q[512], a[4096];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	uint16_t id = (uint16_t)(getpid() ^ (uintptr_t)o);
	int qlen = mk_dns_query_build(id, name, 1 /* A */, 0, q, sizeof(q));
	if (inet_pton(AF_INET, server, &sa.sin_addr) != 1 || qlen < 0) {
		cJSON_AddStringToObject(o, "error", "bad server address or name");
		return o;
	}
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, q, (size_t)qlen, 0) < 0) {
		cJSON_AddStringToObject(o, "error", strerror(errno));
		return o;
	}
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n = -1;
	/* a bounded wait; answers with another id are not ours */
	for (int tries = 0; tries < 4; tries++) {
		if (poll(&pfd, 1, DNS_TIMEOUT_MS) <= 0)
			break;
		n = recv(fd, a, sizeof(a), 0);
		if (n >= 2 && ((a[0] << 8) | a[1]) == id)
			break;
		n = -1;
	}
	if (n < 0) {
		cJSON_AddStringToObject(o, "error", "no answer");
		return o;
	}
	struct mk_dns_msg *m = mk_malloc0(sizeof(*m));
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_dns_msg_parse(a, (size_t)n, m, &err) < 0) {
		cJSON_AddStringToObject(o, "error", err->msg);
		free(m);
		return o;
	}
	cJSON_AddStringToObject(o, "rcode", rcode_name(m->rcode));
	cJSON *ans = cJSON_AddArrayToObject(o, "answers");
	for (size_t i = 0; i < m->nrr; i++)
		if (m->section[i] == 1 && m->rr[i].type == 1)
			cJSON_AddItemToArray(ans, cJSON_CreateString(m->rr[i].target));
	free(m);
	return o;
}

void stream_trace_handle(struct stream_request *req, struct stream_reply *rep)
{
	struct mk_agent_stream *s = req->srv;
	const char *ip = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "ip");
	const char *name = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "name");
	struct in_addr a;
	if (!ip || inet_pton(AF_INET, ip, &a) != 1) {
		stream_reply_status(rep, 400, "query parameter ip: an IPv4 address is required");
		return;
	}
	_cleanup_cjson_ cJSON *o = cJSON_CreateObject();
	cJSON *k = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_proxy_kernel_read(a.s_addr, &k, &err) < 0)
		cJSON_AddStringToObject(o, "kernelError", err->msg);
	else
		cJSON_AddItemToObject(o, "kernel", k);
	/* the socket LB's frontends and counters (this process' balancer) */
	cJSON *sl = NULL;
	_cleanup_error_ struct mk_error *serr = NULL;
	if (k && mk_proxy_socklb_read(a.s_addr, &sl, &serr) == 0 && sl)
		cJSON_AddItemToObject(k, "socketLB", sl);
	if (name && *name && s->dns_address)
		cJSON_AddItemToObject(o, "dns", ask_dns(s->dns_address, name));
	char *body = cJSON_PrintUnformatted(o);
	rep->code = 200;
	rep->resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
	cJSON_free(body);
	if (rep->resp)
		MHD_add_response_header(rep->resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
}
