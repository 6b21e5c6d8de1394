/* The HTTP floor of bench/api: a libmicrohttpd server built as the API server's
 * listener is (thread per connection, poll, TLS with the same certificate and key)
 * that answers every POST with 201 and the request body, as a create returns the
 * object, and stores nothing. wrk drives it with the same script as the real
 * creates, so the difference is what the API server does per request beyond HTTP.
 *
 * Usage: floor_http CERT KEY PORT-FILE   (writes the port it listens on, 127.0.0.1) */
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct req {
	char *body;
	size_t len;
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&buf, &n);
	char tmp[4096];
	size_t r;
	while ((r = fread(tmp, 1, sizeof(tmp), f)) > 0)
		fwrite(tmp, 1, r, m);
	fclose(m);
	fclose(f);
	return buf;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct req *r = *state;
	if (!r) {
		*state = calloc(1, sizeof(*r));
		return MHD_YES;
	}
	if (*size) {
		r->body = realloc(r->body, r->len + *size + 1);
		memcpy(r->body + r->len, data, *size);
		r->len += *size;
		*size = 0;
		return MHD_YES;
	}
	struct MHD_Response *res = MHD_create_response_from_buffer(
		r->len, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(res, "Content-Type", "application/json");
	enum MHD_Result ret = MHD_queue_response(c, strcmp(method, "POST") ? 200 : 201, res);
	MHD_destroy_response(res);
	return ret;
}

static void on_done(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode t)
{
	struct req *r = *state;
	if (r) {
		free(r->body);
		free(r);
	}
	*state = NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: floor_http CERT KEY PORT-FILE\n");
		return 2;
	}
	char *cert = slurp(argv[1]), *key = slurp(argv[2]);
	if (!cert || !key) {
		fprintf(stderr, "floor_http: cannot read %s or %s\n", argv[1], argv[2]);
		return 1;
	}
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct MHD_Daemon *d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
			MHD_USE_ITC | MHD_USE_TLS,
		0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_HTTPS_MEM_CERT,
		cert, MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
		MHD_OPTION_CONNECTION_LIMIT, 1024u, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "floor_http: cannot start the daemon\n");
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	FILE *f = fopen(argv[3], "we");
	if (!f)
		return 1;
	fprintf(f, "%u\n", info->port);
	fclose(f);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigprocmask(SIG_BLOCK, &s, NULL);
	int sig;
	sigwait(&s, &sig);
	MHD_stop_daemon(d);
	free(cert);
	free(key);
	return 0;
}
