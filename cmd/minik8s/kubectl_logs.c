/* kubectl logs POD [-c C] [-f] [--tail N] [--previous] [--timestamps]
 * [--limit-bytes N]: GET .../pods/POD/log, written to stdout as it arrives. */
#include <string.h>
#include "commands.h"
#include "kubectl.h"
#include "kubectl_stream.h"

static const char LOGS_HELP[] =
	"Print the logs for a container in a pod.\n\n"
	"Examples:\n"
	"  minik8s kubectl logs web\n"
	"  minik8s kubectl logs -f web -c nginx --tail 20\n\n"
	"Options:\n"
	"  -c, --container C     the container (needed when the pod has several)\n"
	"  -f, --follow          keep streaming new lines\n"
	"      --tail N          only the last N lines (-1: all)\n"
	"  -p, --previous        the previous instance of the container\n"
	"      --timestamps      prefix each line with its RFC 3339 time\n"
	"      --limit-bytes N   at most N bytes\n\n"
	"Usage:\n  minik8s kubectl logs [-f] [-p] POD [-c CONTAINER] [options]\n";

CURL *kubectl_stream_curl(struct kubectl *k, const char *path, struct curl_slist **ret_headers)
{
	const struct mk_client_config *cfg = mk_client_get_config(k->client);
	struct curl_slist *h = NULL;
	_cleanup_free_ char *url = mk_strdup_printf("%s%s", cfg->server, path);
	CURL *c = curl_easy_init();

	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (cfg->ca_data) {
		struct curl_blob blob = { cfg->ca_data, cfg->ca_data_len, CURL_BLOB_COPY };
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_file) {
		curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
	}
	if (cfg->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->client_cert_file)
		curl_easy_setopt(c, CURLOPT_SSLCERT, cfg->client_cert_file);
	if (cfg->client_key_file)
		curl_easy_setopt(c, CURLOPT_SSLKEY, cfg->client_key_file);
	if (cfg->token) {
		_cleanup_free_ char *auth = mk_strdup_printf("Authorization: Bearer %s", cfg->token);
		h = curl_slist_append(h, auth);
	}
	h = curl_slist_append(h, "User-Agent: minik8s-kubectl");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	*ret_headers = h;
	return c;
}

int kubectl_stream_error(long code, const char *body, size_t len)
{
	struct mk_client_response res = { .code = code };
	res.body = mk_malloc0(len + 1);
	memcpy(res.body, body ? body : "", len);
	res.body_len = len;
	res.json = cJSON_ParseWithLength(res.body, len);
	kubectl_server_error(&res);
	mk_client_response_release(&res);
	return 1;
}

struct logs_out {
	CURL *c;
	long code;
	struct mk_buf err; /* body of a failed reply */
};

static size_t on_data(char *data, size_t size, size_t n, void *ud)
{
	struct logs_out *o = ud;
	size_t len = size * n;

	if (!o->code)
		curl_easy_getinfo(o->c, CURLINFO_RESPONSE_CODE, &o->code);
	if (o->code != 200) {
		if (o->err.len < 1024 * 1024)
			mk_buf_append(&o->err, data, len);
		return len;
	}
	if (fwrite(data, 1, len, stdout) != len)
		return 0;
	fflush(stdout);
	return len;
}

struct logs_query {
	const char *container;
	bool follow, previous, timestamps;
	long tail, limit; /* < 0, <= 0: not given */
};

/* /api/v1/namespaces/NS/pods/POD/log?...: owned. */
static char *logs_path(struct kubectl *k, const char *pod, const struct logs_query *lq)
{
	struct mk_buf q;

	mk_buf_init(&q);
	if (lq->container) {
		char *e = mk_client_escape(lq->container);
		mk_buf_printf(&q, "&container=%s", e);
		free(e);
	}
	if (lq->follow)
		mk_buf_puts(&q, "&follow=true");
	if (lq->previous)
		mk_buf_puts(&q, "&previous=true");
	if (lq->timestamps)
		mk_buf_puts(&q, "&timestamps=true");
	if (lq->tail >= 0)
		mk_buf_printf(&q, "&tailLines=%ld", lq->tail);
	if (lq->limit > 0)
		mk_buf_printf(&q, "&limitBytes=%ld", lq->limit);
	_cleanup_free_ char *epod = mk_client_escape(pod);
	char *path = mk_strdup_printf("/api/v1/namespaces/%s/pods/%s/log%s%s", k->ns, epod,
				      q.len ? "?" : "", q.len ? q.data + 1 : "");
	mk_buf_release(&q);
	return path;
}

int kubectl_logs(struct kubectl *k, int argc, char **argv)
{
	bool help, follow = false, previous = false, timestamps = false;
	const char *container = NULL;
	long tail = -1, limit = -1;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "container", 'c', KF_STRING, &container, NULL },
		{ "follow", 'f', KF_BOOL, &follow, NULL },
		{ "previous", 'p', KF_BOOL, &previous, NULL },
		{ "timestamps", 0, KF_BOOL, &timestamps, NULL },
		{ "tail", 0, KF_INT, &tail, NULL },
		{ "limit-bytes", 0, KF_INT, &limit, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int r = kflags_parse("kubectl logs", argc, argv, flags, &help, &a);
	if (r)
		return r;
	if (help) {
		fputs(LOGS_HELP, stdout);
		kargs_release(&a);
		return 0;
	}
	if (a.n < 1 || a.n > 2) {
		kargs_release(&a);
		return cmd_usage_error("kubectl logs", "expected POD [CONTAINER]");
	}
	const char *pod = a.v[0];
	if (!strncmp(pod, "pod/", 4) || !strncmp(pod, "pods/", 5) || !strncmp(pod, "po/", 3))
		pod = strchr(pod, '/') + 1;
	if (a.n == 2 && !container)
		container = a.v[1];
	if (kubectl_connect(k)) {
		kargs_release(&a);
		return 1;
	}
	struct logs_query lq = { container, follow, previous, timestamps, tail, limit };
	_cleanup_free_ char *path = logs_path(k, pod, &lq);
	kargs_release(&a);

	struct curl_slist *hdrs = NULL;
	struct logs_out o = { 0 };
	mk_buf_init(&o.err);
	o.c = kubectl_stream_curl(k, path, &hdrs);
	if (!o.c)
		return 1;
	curl_easy_setopt(o.c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(o.c, CURLOPT_WRITEDATA, &o);
	CURLcode cr = curl_easy_perform(o.c);
	if (!o.code)
		curl_easy_getinfo(o.c, CURLINFO_RESPONSE_CODE, &o.code);
	int rc = 0;
	if (o.code && o.code != 200)
		rc = kubectl_stream_error(o.code, o.err.data, o.err.len);
	else if (cr != CURLE_OK) {
		fprintf(stderr, "error: %s\n", curl_easy_strerror(cr));
		rc = 1;
	}
	mk_buf_release(&o.err);
	curl_easy_cleanup(o.c);
	curl_slist_free_all(hdrs);
	return rc;
}
