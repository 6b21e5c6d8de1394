/* Creates exactly COUNT pods with CONCURRENCY requests in flight (libcurl multi,
 * keep-alive connections): fills a namespace for the list benchmark, where wrk,
 * which runs for a duration, cannot stop at a count.
 *
 * Usage: mkpods SERVER TOKEN CAFILE NAMESPACE COUNT CONCURRENCY BODYFILE PREFIX
 * BODYFILE holds the pod JSON with every occurrence of __NAME__ replaced by
 * PREFIX-<i>. Prints "RESULT created=N failed=N seconds=S" and the first failed
 * response; exits 1 if any create failed. */
#include <curl/curl.h>
#include <string.h>
#include "minik8s/util.h"

#define MAX_CONC 256

struct slot {
	CURL *h;
	char *body;
	struct mk_buf resp;
};

static char *render(const char *tmpl, const char *name)
{
	struct mk_buf b;
	const char *p = tmpl, *q;

	mk_buf_init(&b);
	while ((q = strstr(p, "__NAME__"))) {
		mk_buf_append(&b, p, (size_t)(q - p));
		mk_buf_puts(&b, name);
		p = q + 8;
	}
	mk_buf_puts(&b, p);
	return mk_buf_steal(&b);
}

static CURLM *m;
static long next, count, running;
static const char *tmpl, *prefix;

/* Starts the next create on slot s, if any are left. */
static void start(struct slot *s)
{
	char name[128];

	if (next >= count)
		return;
	snprintf(name, sizeof(name), "%s-%ld", prefix, next++);
	free(s->body);
	s->body = render(tmpl, name);
	s->resp.len = 0;
	curl_easy_setopt(s->h, CURLOPT_POSTFIELDS, s->body);
	curl_multi_add_handle(m, s->h);
	running++;
}

static size_t collect(char *p, size_t size, size_t n, void *userdata)
{
	mk_buf_append(userdata, p, size * n);
	return size * n;
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: %s SERVER TOKEN CAFILE NAMESPACE COUNT CONCURRENCY "
				"BODYFILE PREFIX\n", argv[0]);
		return 2;
	}
	const char *server = argv[1], *token = argv[2], *cafile = argv[3], *ns = argv[4];
	long conc = atol(argv[6]);
	struct mk_error *err = NULL;
	char *text = NULL;

	count = atol(argv[5]);
	prefix = argv[8];

	if (count < 0 || conc < 1 || conc > MAX_CONC) {
		fprintf(stderr, "mkpods: COUNT >= 0 and CONCURRENCY 1..%d\n", MAX_CONC);
		return 2;
	}
	if (mk_fs_read_file(argv[7], &text, NULL, &err) < 0) {
		fprintf(stderr, "mkpods: %s\n", err->msg);
		return 2;
	}
	tmpl = text;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, conc);
	_cleanup_free_ char *url = mk_strdup_printf("%s/api/v1/namespaces/%s/pods", server, ns);
	_cleanup_free_ char *auth = mk_strdup_printf("Authorization: Bearer %s", token);
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	struct slot slots[MAX_CONC];
	long created = 0, failed = 0;
	uint64_t t0 = mk_time_mono_ns();

	for (long i = 0; i < conc; i++) {
		slots[i].h = curl_easy_init();
		slots[i].body = NULL;
		mk_buf_init(&slots[i].resp);
		curl_easy_setopt(slots[i].h, CURLOPT_URL, url);
		curl_easy_setopt(slots[i].h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(slots[i].h, CURLOPT_CAINFO, cafile);
		curl_easy_setopt(slots[i].h, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(slots[i].h, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(slots[i].h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(slots[i].h, CURLOPT_WRITEDATA, &slots[i].resp);
		curl_easy_setopt(slots[i].h, CURLOPT_PRIVATE, &slots[i]);
	}
	for (long i = 0; i < conc; i++)
		start(&slots[i]);
	while (running > 0) {
		int still, numfds, left;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct slot *s;
			long code = 0;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
			curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
			CURLcode r = msg->data.result;
			curl_multi_remove_handle(m, s->h);
			running--;
			if (r == CURLE_OK && code == 201) {
				created++;
			} else {
				if (failed++ == 0) {
					mk_buf_append(&s->resp, "", 0);
					fprintf(stderr, "mkpods: first failure: %s, HTTP %ld: %.600s\n",
						curl_easy_strerror(r), code, s->resp.data);
				}
			}
			start(s);
		}
		if (running > 0)
			curl_multi_poll(m, NULL, 0, 1000, &numfds);
	}
	double secs = (double)(mk_time_mono_ns() - t0) / 1e9;
	printf("RESULT created=%ld failed=%ld seconds=%.3f\n", created, failed, secs);
	for (long i = 0; i < conc; i++) {
		curl_easy_cleanup(slots[i].h);
		free(slots[i].body);
		mk_buf_release(&slots[i].resp);
	}
	curl_multi_cleanup(m);
	curl_slist_free_all(hdrs);
	curl_global_cleanup();
	free(text);
	return failed ? 1 : 0;
}
