/* Readiness and liveness probes: httpGet and tcpSocket from the node to the pod's
 * address, exec through the runtime (the kubelet's prober). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "internal.h"

/* The port of a probe: a number, or the name of one of the container's ports. */
static int probe_port(const cJSON *port, const cJSON *container)
{
	if (cJSON_IsNumber(port))
		return port->valueint;
	if (!cJSON_IsString(port))
		return -1;
	char *end;
	long v = strtol(port->valuestring, &end, 10);
	if (!*end && end != port->valuestring)
		return (int)v;
	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(container, "ports"))
	{
		const char *name = mk_json_get_string(p, "name");
		cJSON *cp = cJSON_GetObjectItem(p, "containerPort");
		if (name && !strcmp(name, port->valuestring) && cJSON_IsNumber(cp))
			return cp->valueint;
	}
	return -1;
}

static int connect_timeout(const char *ip, int port, int timeout_ms, char **ret_msg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1) {
		*ret_msg = mk_strdup_printf("bad address '%s'", ip);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*ret_msg = mk_strdup_printf("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		*ret_msg = mk_strdup_printf("dial tcp %s:%d: connect: %s", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int r = poll(&p, 1, timeout_ms);
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (r <= 0) {
		*ret_msg = mk_strdup_printf("dial tcp %s:%d: i/o timeout", ip, port);
		close(fd);
		return -1;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
	if (soerr) {
		*ret_msg = mk_strdup_printf("dial tcp %s:%d: connect: %s", ip, port, strerror(soerr));
		close(fd);
		return -1;
	}
	return fd;
}

/* The probe's GET request, with its httpHeaders (a header with CR or LF is left out). */
static void http_request_format(struct mk_buf *req, const cJSON *h, const char *path,
				const char *host, int port)
{
	mk_buf_printf(req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: kube-probe/1.32\r\n"
			   "Accept: */*\r\nConnection: close\r\n",
		      path, host, port);
	const cJSON *hd;
	cJSON_ArrayForEach(hd, cJSON_GetObjectItem(h, "httpHeaders"))
	{
		const char *n = mk_json_get_string(hd, "name"), *v = mk_json_get_string(hd, "value");
		if (n && v && !strpbrk(n, "\r\n") && !strpbrk(v, "\r\n"))
			mk_buf_printf(req, "%s: %s\r\n", n, v);
	}
	mk_buf_puts(req, "\r\n");
}

/* Sends req on the non-blocking fd, then reads the start of the response into
 * resp (size bytes, NUL-terminated) until it has a status line, the peer closes
 * or deadline (monotonic ns) passes. Returns the bytes read. */
static size_t http_exchange(int fd, const struct mk_buf *req, char *resp, size_t size,
			    uint64_t deadline)
{
	size_t off = 0, got = 0;
	while (off < req->len || got < 12) {
		uint64_t now = mk_time_mono_ns();
		if (now >= deadline)
			break;
		struct pollfd p = { .fd = fd, .events = off < req->len ? POLLOUT : POLLIN };
		if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		if (off < req->len) {
			ssize_t w = send(fd, req->data + off, req->len - off, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				break;
			if (w > 0)
				off += (size_t)w;
		} else {
			ssize_t r = recv(fd, resp + got, size - 1 - got, 0);
			if (r == 0)
				break;
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				break;
			if (r > 0)
				got += (size_t)r;
			if (got >= size - 1)
				break;
		}
	}
	resp[got] = '\0';
	return got;
}

static enum probe_result http_probe(const cJSON *h, const cJSON *container, const char *pod_ip,
				    int timeout_ms, char **ret_msg)
{
	const char *host = mk_json_get_string(h, "host");
	const char *path = mk_json_get_string(h, "path");
	const char *scheme = mk_json_get_string(h, "scheme");
	int port = probe_port(cJSON_GetObjectItem(h, "port"), container);
	if (!host || !*host)
		host = pod_ip;
	if (!path || !*path)
		path = "/";
	if (port <= 0 || port > 65535) {
		*ret_msg = mk_strdup("invalid probe port");
		return PROBE_FAILURE;
	}
	if (scheme && !strcmp(scheme, "HTTPS")) {
		*ret_msg = mk_strdup("HTTPS probes are not supported");
		return PROBE_FAILURE;
	}
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	int fd = connect_timeout(host, port, timeout_ms, ret_msg);
	if (fd < 0)
		return PROBE_FAILURE;
	struct mk_buf req;
	mk_buf_init(&req);
	http_request_format(&req, h, path, host, port);
	char resp[512];
	size_t got = http_exchange(fd, &req, resp, sizeof(resp), deadline);
	mk_buf_release(&req);
	close(fd);
	int code = 0;
	if (got >= 12 && sscanf(resp, "HTTP/%*d.%*d %d", &code) == 1 && code >= 200 && code < 400)
		return PROBE_SUCCESS;
	if (code)
		*ret_msg = mk_strdup_printf("HTTP probe failed with statuscode: %d", code);
	else
		*ret_msg = mk_strdup_printf("Get \"http://%s:%d%s\": %s", host, port, path,
					    mk_time_mono_ns() >= deadline
						    ? "context deadline exceeded"
						    : "no HTTP response");
	return PROBE_FAILURE;
}

static enum probe_result exec_probe(struct mk_agent *a, const cJSON *e, const char *cid,
				    int timeout_ms, char **ret_msg)
{
	const cJSON *cmd = cJSON_GetObjectItem(e, "command"), *it;
	int n = cJSON_GetArraySize(cmd), k = 0;
	if (n <= 0 || !cid) {
		*ret_msg = mk_strdup("exec probe without a command");
		return PROBE_FAILURE;
	}
	const char **argv = mk_malloc0(((size_t)n + 1) * sizeof(char *));
	cJSON_ArrayForEach(it, cmd)
		if (cJSON_IsString(it))
			argv[k++] = it->valuestring;
	struct mk_runtime_exec_spec spec = { .args = argv };
	struct mk_runtime_exec *ex = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	enum probe_result res = PROBE_FAILURE;
	struct mk_buf out;
	mk_buf_init(&out);
	if (mk_runtime_exec_start(a->rt, cid, &spec, &ex, &err) < 0) {
		*ret_msg = mk_strdup(err->msg);
		free(argv);
		return PROBE_FAILURE;
	}
	/* drain the output while waiting (a full pipe would block the process) */
	uint64_t deadline = mk_time_mono_ns() + (uint64_t)timeout_ms * 1000000;
	int fds[2] = { mk_runtime_exec_fd(ex, MK_RUNTIME_EXEC_FD_STDOUT),
		       mk_runtime_exec_fd(ex, MK_RUNTIME_EXEC_FD_STDERR) };
	while (fds[0] >= 0 || fds[1] >= 0) {
		uint64_t now = mk_time_mono_ns();
		if (now >= deadline)
			break;
		struct pollfd p[2];
		int np = 0, idx[2];
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0) {
				p[np] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
				idx[np++] = i;
			}
		if (poll(p, (nfds_t)np, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		for (int j = 0; j < np; j++) {
			if (!p[j].revents)
				continue;
			char buf[1024];
			ssize_t r = read(p[j].fd, buf, sizeof(buf));
			if (r > 0 && out.len < 4096)
				mk_buf_append(&out, buf, (size_t)r);
			if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
				fds[idx[j]] = -1;
		}
	}
	int code = -1;
	uint64_t now = mk_time_mono_ns();
	int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000);
	if (mk_runtime_exec_wait(ex, left, &code, &err) < 0) {
		*ret_msg = mk_strdup_printf("command timed out after %ds", timeout_ms / 1000);
	} else if (code == 0) {
		res = PROBE_SUCCESS;
	} else {
		while (out.len && (out.data[out.len - 1] == '\n'))
			out.data[--out.len] = '\0';
		*ret_msg = mk_strdup_printf("command exited with %d%s%s", code, out.len ? ": " : "",
					    out.len ? out.data : "");
	}
	mk_runtime_exec_free(ex);
	mk_buf_release(&out);
	free(argv);
	return res;
}

enum probe_result agent_probe_run(struct mk_agent *a, const cJSON *probe, const cJSON *container,
				  const char *pod_ip, const char *cid, char **ret_msg)
{
	const cJSON *t = cJSON_GetObjectItem(probe, "timeoutSeconds");
	int timeout_ms = (cJSON_IsNumber(t) && t->valueint > 0 ? t->valueint : 1) * 1000;
	const cJSON *h;

	*ret_msg = NULL;
	if ((h = cJSON_GetObjectItem(probe, "httpGet")))
		return http_probe(h, container, pod_ip, timeout_ms, ret_msg);
	if ((h = cJSON_GetObjectItem(probe, "tcpSocket"))) {
		const char *host = mk_json_get_string(h, "host");
		int port = probe_port(cJSON_GetObjectItem(h, "port"), container);
		if (port <= 0 || port > 65535) {
			*ret_msg = mk_strdup("invalid probe port");
			return PROBE_FAILURE;
		}
		int fd = connect_timeout(host && *host ? host : pod_ip, port, timeout_ms, ret_msg);
		if (fd < 0)
			return PROBE_FAILURE;
		close(fd);
		return PROBE_SUCCESS;
	}
	if ((h = cJSON_GetObjectItem(probe, "exec")))
		return exec_probe(a, h, cid, timeout_ms, ret_msg);
	*ret_msg = mk_strdup("probe type not supported (httpGet, tcpSocket, exec)");
	return PROBE_FAILURE;
}
