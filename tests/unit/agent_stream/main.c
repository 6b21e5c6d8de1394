/* Tests for the agent's streaming server pieces: WebSocket framing (RFC 6455),
 * the v5 channel mux helpers, and the server's client authentication over real
 * TLS (certificates from pkg/apiserver/certs.c, requests with libcurl). */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "minik8s/apiserver.h"
#include "../../../pkg/agent/stream.h"

/* ---- framing -------------------------------------------------------------------- */

static void roundtrip(size_t len, bool masked)
{
	uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	uint8_t *payload = malloc(len + 1);
	struct mk_buf b;
	struct mk_ws_frame f;
	struct mk_error *err = NULL;

	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(i * 7 + 3);
	mk_buf_init(&b);
	mk_ws_frame_append(&b, MK_WS_OP_BINARY, payload, len, masked ? mask : NULL);
	size_t hdr = (len < 126 ? 2 : len <= 0xffff ? 4 : 10) + (masked ? 4 : 0);
	ck_assert_uint_eq(b.len, hdr + len);
	ck_assert_int_eq((uint8_t)b.data[0], 0x82);
	ck_assert_int_eq(((uint8_t)b.data[1] & 0x80) != 0, masked);
	if (masked && len)
		ck_assert_int_eq((uint8_t)b.data[hdr], payload[0] ^ 0x12);
	/* every strict prefix is incomplete */
	for (size_t cut = 0; cut < b.len; cut += (b.len / 7) + 1)
		ck_assert_int_eq(mk_ws_frame_parse((uint8_t *)b.data, cut, 1 << 20, -1, &f, &err), 0);
	ssize_t n = mk_ws_frame_parse((uint8_t *)b.data, b.len, 1 << 20, masked ? 1 : 0, &f, &err);
	ck_assert_int_eq(n, (ssize_t)b.len);
	ck_assert(f.fin);
	ck_assert_int_eq(f.opcode, MK_WS_OP_BINARY);
	ck_assert_uint_eq(f.len, len);
	ck_assert_int_eq(memcmp(f.payload, payload, len), 0);
	mk_buf_release(&b);
	free(payload);
}

START_TEST(test_frame_roundtrip)
{
	size_t sizes[] = { 0, 1, 125, 126, 127, 32768, 65535, 65536, 200000 };
	for (size_t i = 0; i < MK_ARRAY_SIZE(sizes); i++) {
		roundtrip(sizes[i], false);
		roundtrip(sizes[i], true);
	}
}
END_TEST

START_TEST(test_frame_known_bytes)
{
	/* RFC 6455 5.7: a masked "Hello" from a client */
	uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct mk_ws_frame f;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_ws_frame_parse(hello, sizeof(hello), 125, 1, &f, &err), 11);
	ck_assert_int_eq(f.opcode, MK_WS_OP_TEXT);
	ck_assert_uint_eq(f.len, 5);
	ck_assert_int_eq(memcmp(f.payload, "Hello", 5), 0);

	/* two frames back to back: the first parse consumes exactly one */
	struct mk_buf b;
	mk_buf_init(&b);
	mk_ws_channel_append(&b, MK_WS_CH_STDOUT, "hi\n", 3, NULL);
	static const uint8_t close_code[] = { 0x03, 0xe8 };
	mk_ws_frame_append(&b, MK_WS_OP_CLOSE, close_code, 2, NULL);
	ck_assert_int_eq(b.len, 2 + 4 + 2 + 2);
	ck_assert_int_eq(memcmp(b.data, "\x82\x04\x01hi\n\x88\x02\x03\xe8", 10), 0);
	ssize_t n = mk_ws_frame_parse((uint8_t *)b.data, b.len, 1024, 0, &f, &err);
	ck_assert_int_eq(n, 6);
	ck_assert_int_eq(f.payload[0], MK_WS_CH_STDOUT);
	n = mk_ws_frame_parse((uint8_t *)b.data + 6, b.len - 6, 1024, 0, &f, &err);
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(f.opcode, MK_WS_OP_CLOSE);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_frame_errors)
{
	struct mk_ws_frame f;
	struct mk_error *err = NULL;
	uint8_t rsv[] = { 0xc2, 0x00 };
	ck_assert_int_eq(mk_ws_frame_parse(rsv, 2, 100, -1, &f, &err), -1);
	ck_assert_int_eq(err->code, EPROTO);
	mk_error_free(&err);

	uint8_t op[] = { 0x83, 0x00 };
	ck_assert_int_eq(mk_ws_frame_parse(op, 2, 100, -1, &f, &err), -1);
	mk_error_free(&err);

	uint8_t unmasked[] = { 0x82, 0x01, 0x00 };
	ck_assert_int_eq(mk_ws_frame_parse(unmasked, 3, 100, 1, &f, &err), -1);
	mk_error_free(&err);
	ck_assert_int_eq(mk_ws_frame_parse(unmasked, 3, 100, 0, &f, &err), 3);

	uint8_t masked[] = { 0x82, 0x80, 1, 2, 3, 4 };
	ck_assert_int_eq(mk_ws_frame_parse(masked, 6, 100, 0, &f, &err), -1);
	mk_error_free(&err);

	/* a 16-bit length over the limit is refused before the payload arrives */
	uint8_t big[] = { 0x82, 0x7e, 0x80, 0x00 };
	ck_assert_int_eq(mk_ws_frame_parse(big, 4, 1000, -1, &f, &err), -1);
	ck_assert_int_eq(err->code, EMSGSIZE);
	mk_error_free(&err);

	/* control frames: at most 125 bytes and never fragmented */
	uint8_t ping_long[] = { 0x89, 0x7e, 0x00, 0x80 };
	ck_assert_int_eq(mk_ws_frame_parse(ping_long, 4, 1000, -1, &f, &err), -1);
	mk_error_free(&err);
	uint8_t ping_frag[] = { 0x09, 0x00 };
	ck_assert_int_eq(mk_ws_frame_parse(ping_frag, 2, 1000, -1, &f, &err), -1);
	mk_error_free(&err);

	uint8_t huge[] = { 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 };
	ck_assert_int_eq(mk_ws_frame_parse(huge, 10, 1000, -1, &f, &err), -1);
	mk_error_free(&err);
}
END_TEST

START_TEST(test_handshake_helpers)
{
	/* RFC 6455 1.3 */
	char *a = mk_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==");
	ck_assert_str_eq(a, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	free(a);
	char *k1 = mk_ws_new_key(), *k2 = mk_ws_new_key();
	ck_assert_uint_eq(strlen(k1), 24);
	ck_assert_str_ne(k1, k2);
	free(k1);
	free(k2);

	ck_assert(mk_ws_header_has_token("keep-alive, Upgrade", "upgrade", true));
	ck_assert(!mk_ws_header_has_token("keep-alive, Upgrade", "upgrade", false));
	ck_assert(mk_ws_header_has_token("v4.channel.k8s.io,v5.channel.k8s.io", MK_WS_PROTOCOL_V5,
					 false));
	ck_assert(!mk_ws_header_has_token("v5.channel.k8s.io.x", MK_WS_PROTOCOL_V5, false));
	ck_assert(!mk_ws_header_has_token(NULL, "x", true));
}
END_TEST

START_TEST(test_channel_payloads)
{
	unsigned short cols = 0, rows = 0;
	const char *r = "{\"Width\":100,\"Height\":30}\n";
	ck_assert_int_eq(mk_ws_resize_parse(r, strlen(r), &cols, &rows), 0);
	ck_assert_uint_eq(cols, 100);
	ck_assert_uint_eq(rows, 30);
	ck_assert_int_eq(mk_ws_resize_parse("{\"Width\":-1,\"Height\":3}", 23, &cols, &rows), -1);
	ck_assert_int_eq(mk_ws_resize_parse("nope", 4, &cols, &rows), -1);

	char *ok = mk_ws_exit_status_json(0);
	cJSON *j = cJSON_Parse(ok);
	ck_assert_str_eq(mk_json_get_string(j, "status"), "Success");
	cJSON_Delete(j);
	free(ok);
	char *bad = mk_ws_exit_status_json(3);
	j = cJSON_Parse(bad);
	ck_assert_str_eq(mk_json_get_string(j, "status"), "Failure");
	ck_assert_str_eq(mk_json_get_string(j, "reason"), "NonZeroExitCode");
	cJSON *cause = cJSON_GetArrayItem(mk_json_get(j, "details.causes"), 0);
	ck_assert_str_eq(mk_json_get_string(cause, "reason"), "ExitCode");
	ck_assert_str_eq(mk_json_get_string(cause, "message"), "3");
	cJSON_Delete(j);
	free(bad);

	/* the channel byte leads the payload; an empty payload still carries it */
	struct mk_buf b;
	mk_buf_init(&b);
	mk_ws_channel_append(&b, MK_WS_CH_CLOSE, "\0", 1, NULL);
	ck_assert_int_eq(memcmp(b.data, "\x82\x02\xff\x00", 4), 0);
	b.len = 0;
	mk_ws_channel_append(&b, MK_WS_CH_STDIN, NULL, 0, NULL);
	ck_assert_int_eq(memcmp(b.data, "\x82\x01\x00", 3), 0);
	mk_buf_release(&b);
}
END_TEST

/* ---- the server's authentication ---------------------------------------------------- */

static char tmpdir[] = "/tmp/mk-stream-test.XXXXXX";

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int resolve_none(void *ud, const char *ns, const char *pod, const char *container,
			char **cur, char **prev, struct mk_error **err)
{
	return mk_error_set(err, ENOENT, "pod \"%s\" is not on this node", pod);
}

static long get(const char *url, const char *cert, const char *key, struct mk_buf *body,
		const char *extra_header)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = extra_header ? curl_slist_append(NULL, extra_header) : NULL;
	long code = 0;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	if (cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	}
	if (h)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	FILE *f = open_memstream(&body->data, &body->len);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	fclose(f);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return code;
}

START_TEST(test_server_auth)
{
	struct mk_error *err = NULL;
	struct mk_runtime *rt = NULL;
	struct mk_agent_stream *s = NULL;

	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	char *tls = mk_strdup_printf("%s/tls", tmpdir);
	char *rroot = mk_strdup_printf("%s/runc", tmpdir), *rstate = mk_strdup_printf("%s/st", tmpdir);
	ck_assert_int_eq(mk_apiserver_tls_ensure(tls, NULL, NULL, &err), 0);
	ck_assert_int_eq(mk_apiserver_tls_client_ensure(tls, "api", "minik8s-apiserver", &err), 0);
	ck_assert_int_eq(mk_apiserver_tls_client_ensure(tls, "other", "someone", &err), 0);
	/* kept when still good */
	ck_assert_int_eq(mk_apiserver_tls_client_ensure(tls, "api", "minik8s-apiserver", &err), 0);

	struct mk_runtime_config rc = { .root_dir = rroot, .state_dir = rstate };
	ck_assert_int_eq(mk_runtime_new(&rc, &rt, &err), 0);
	char *ca = mk_strdup_printf("%s/ca.crt", tls);
	char *scrt = mk_strdup_printf("%s/agent.crt", tmpdir), *skey = mk_strdup_printf("%s/agent.key", tmpdir);
	/* a port of our own in the dynamic range, retried on collision */
	uint16_t port = 0;
	for (int i = 0; i < 20 && !s; i++) {
		port = (uint16_t)(40000 + (getpid() * 7 + i * 131) % 20000);
		struct mk_agent_stream_options o = {
			.bind_address = "127.0.0.1", .port = port, .tls_cert_file = scrt,
			.tls_key_file = skey, .client_ca_file = ca, .runtime = rt,
			.resolve = resolve_none,
		};
		if (mk_agent_stream_start(&o, &s, &err) < 0)
			mk_error_free(&err);
	}
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(access(scrt, F_OK), 0); /* the self-signed pair was written */

	char *url = mk_strdup_printf("https://127.0.0.1:%u/containerLogs/default/p/c", port);
	char *exec_url = mk_strdup_printf("https://127.0.0.1:%u/exec/default/p/c?command=ls", port);
	char *api_crt = mk_strdup_printf("%s/api.crt", tls), *api_key = mk_strdup_printf("%s/api.key", tls);
	char *oth_crt = mk_strdup_printf("%s/other.crt", tls), *oth_key = mk_strdup_printf("%s/other.key", tls);
	struct mk_buf body = { 0 };

	ck_assert_int_eq(get(url, NULL, NULL, &body, NULL), 401);
	free(body.data);
	body = (struct mk_buf){ 0 };
	ck_assert_int_eq(get(url, oth_crt, oth_key, &body, NULL), 403);
	ck_assert_ptr_nonnull(strstr(body.data, "\"reason\":\"Forbidden\""));
	free(body.data);
	body = (struct mk_buf){ 0 };
	/* the API server's certificate passes; the resolver's ENOENT is a 404 Status */
	ck_assert_int_eq(get(url, api_crt, api_key, &body, NULL), 404);
	ck_assert_ptr_nonnull(strstr(body.data, "pod \\\"p\\\" is not on this node"));
	free(body.data);
	body = (struct mk_buf){ 0 };
	/* exec without a WebSocket upgrade (what SPDY clients send) is refused */
	ck_assert_int_eq(get(exec_url, api_crt, api_key, &body, "Upgrade: SPDY/3.1"), 400);
	ck_assert_ptr_nonnull(strstr(body.data, "SPDY is not supported"));
	free(body.data);
	body = (struct mk_buf){ 0 };
	ck_assert_int_eq(get(url, api_crt, api_key, &body, NULL), 404);
	free(body.data);

	mk_agent_stream_stop(s);
	mk_runtime_free(rt);
	free(url);
	free(exec_url);
	free(api_crt);
	free(api_key);
	free(oth_crt);
	free(oth_key);
	free(ca);
	free(scrt);
	free(skey);
	free(tls);
	free(rroot);
	free(rstate);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* protocols_test.c */
void agent_stream_add_protocol_tests(Suite *s);

static Suite *agent_stream_suite(void)
{
	Suite *s = suite_create("agent_stream");
	TCase *tc = tcase_create("websocket");
	tcase_add_test(tc, test_frame_roundtrip);
	tcase_add_test(tc, test_frame_known_bytes);
	tcase_add_test(tc, test_frame_errors);
	tcase_add_test(tc, test_handshake_helpers);
	tcase_add_test(tc, test_channel_payloads);
	suite_add_tcase(s, tc);
	tc = tcase_create("server");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_server_auth);
	suite_add_tcase(s, tc);
	agent_stream_add_protocol_tests(s);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(agent_stream_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
