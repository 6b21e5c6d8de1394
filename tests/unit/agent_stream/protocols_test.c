/* The channel protocol family (minik8s/ws.h): subprotocol negotiation, the
 * binary and base64 encodings both ways, the error channel per version, and the
 * log stream's time parsing (sinceTime, log line times). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/ws.h"
#include "../../../pkg/agent/stream_internal.h"

START_TEST(test_proto_select)
{
	ck_assert_int_eq(mk_ws_proto_select(NULL), MK_WS_PROTO_NONE);
	ck_assert_int_eq(mk_ws_proto_select(""), MK_WS_PROTO_NONE);
	ck_assert_int_eq(mk_ws_proto_select(" , "), MK_WS_PROTO_NONE);
	ck_assert_int_eq(mk_ws_proto_select("v5.channel.k8s.io"), MK_WS_PROTO_V5);
	/* the client's order is its preference (kubectl lists v5 first, then v4) */
	ck_assert_int_eq(mk_ws_proto_select("v4.channel.k8s.io, v5.channel.k8s.io"), MK_WS_PROTO_V4);
	ck_assert_int_eq(mk_ws_proto_select("v5.channel.k8s.io,v4.channel.k8s.io"), MK_WS_PROTO_V5);
	ck_assert_int_eq(mk_ws_proto_select("x.example, base64.channel.k8s.io"),
			 MK_WS_PROTO_V1_BASE64);
	ck_assert_int_eq(mk_ws_proto_select("channel.k8s.io"), MK_WS_PROTO_V1);
	ck_assert_int_eq(mk_ws_proto_select("v2.channel.k8s.io"), MK_WS_PROTO_V2);
	ck_assert_int_eq(mk_ws_proto_select("\tv3.channel.k8s.io "), MK_WS_PROTO_V3);
	ck_assert_int_eq(mk_ws_proto_select("v4.base64.channel.k8s.io"), MK_WS_PROTO_V4_BASE64);
	/* names match whole, case-sensitively; nothing known: refused */
	ck_assert_int_eq(mk_ws_proto_select("v5.channel.k8s.io.x"), -1);
	ck_assert_int_eq(mk_ws_proto_select("V5.CHANNEL.K8S.IO"), -1);
	ck_assert_int_eq(mk_ws_proto_select("v6.channel.k8s.io"), -1);
	for (int p = MK_WS_PROTO_V1; p <= MK_WS_PROTO_V5; p++)
		ck_assert_int_eq(mk_ws_proto_select(mk_ws_proto_name(p)), p);
	ck_assert_str_eq(mk_ws_proto_name(MK_WS_PROTO_NONE), "");
	ck_assert(mk_ws_proto_is_base64(MK_WS_PROTO_V1_BASE64));
	ck_assert(mk_ws_proto_is_base64(MK_WS_PROTO_V4_BASE64));
	ck_assert(!mk_ws_proto_is_base64(MK_WS_PROTO_V4));
	ck_assert(mk_ws_proto_status_json(MK_WS_PROTO_V4));
	ck_assert(mk_ws_proto_status_json(MK_WS_PROTO_V4_BASE64));
	ck_assert(mk_ws_proto_status_json(MK_WS_PROTO_V5));
	ck_assert(!mk_ws_proto_status_json(MK_WS_PROTO_V3));
	ck_assert(!mk_ws_proto_status_json(MK_WS_PROTO_NONE));
}
END_TEST

START_TEST(test_proto_encode)
{
	struct mk_buf b;
	mk_buf_init(&b);
	/* binary protocols: a binary frame, the channel byte first */
	mk_ws_proto_channel_append(&b, MK_WS_PROTO_V4, MK_WS_CH_STDOUT, "hi\n", 3, NULL);
	ck_assert_uint_eq(b.len, 6);
	ck_assert_int_eq(memcmp(b.data, "\x82\x04\x01hi\n", 6), 0);
	/* base64: a text frame, an ASCII digit, then base64 of the data */
	b.len = 0;
	mk_ws_proto_channel_append(&b, MK_WS_PROTO_V4_BASE64, MK_WS_CH_STDOUT, "hi\n", 3, NULL);
	ck_assert_uint_eq(b.len, 7);
	ck_assert_int_eq(memcmp(b.data, "\x81\x05" "1aGkK", 7), 0);
	b.len = 0;
	mk_ws_proto_channel_append(&b, MK_WS_PROTO_V1_BASE64, MK_WS_CH_STATUS, NULL, 0, NULL);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(memcmp(b.data, "\x81\x01" "3", 3), 0);
	/* a masked client frame decodes back to the same message */
	uint8_t mask[4] = { 1, 2, 3, 4 };
	b.len = 0;
	mk_ws_proto_channel_append(&b, MK_WS_PROTO_V1_BASE64, MK_WS_CH_STDIN, "hello", 5, mask);
	struct mk_ws_frame f;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_ws_frame_parse((uint8_t *)b.data, b.len, 1 << 20, 1, &f, &err),
			 (ssize_t)b.len);
	ck_assert_int_eq(f.opcode, MK_WS_OP_TEXT);
	uint8_t ch = 9;
	const uint8_t *data;
	size_t len;
	void *owned = NULL;
	ck_assert_int_eq(mk_ws_proto_channel_decode(MK_WS_PROTO_V1_BASE64, f.payload, f.len, &ch,
						    &data, &len, &owned), 0);
	ck_assert_uint_eq(ch, MK_WS_CH_STDIN);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(memcmp(data, "hello", 5), 0);
	free(owned);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_proto_decode)
{
	uint8_t ch = 9;
	const uint8_t *data = NULL;
	size_t len = 99;
	void *owned = (void *)1;

	ck_assert_int_eq(mk_ws_proto_channel_decode(MK_WS_PROTO_V5, (const uint8_t *)"", 0, &ch,
						    &data, &len, &owned), 1);
	ck_assert_ptr_null(owned);
	ck_assert_int_eq(mk_ws_proto_channel_decode(MK_WS_PROTO_V4, (const uint8_t *)"\x04{}", 3,
						    &ch, &data, &len, &owned), 0);
	ck_assert_uint_eq(ch, MK_WS_CH_RESIZE);
	ck_assert_uint_eq(len, 2);
	ck_assert_ptr_null(owned);
	/* base64: resize JSON, an empty message, malformed channel digit and data */
	const char *rz = "4eyJXaWR0aCI6ODAsIkhlaWdodCI6MjR9"; /* {"Width":80,"Height":24} */
	ck_assert_int_eq(mk_ws_proto_channel_decode(MK_WS_PROTO_V4_BASE64, (const uint8_t *)rz,
						    strlen(rz), &ch, &data, &len, &owned), 0);
	ck_assert_uint_eq(ch, MK_WS_CH_RESIZE);
	unsigned short cols, rows;
	ck_assert_int_eq(mk_ws_resize_parse((const char *)data, len, &cols, &rows), 0);
	ck_assert_uint_eq(cols, 80);
	ck_assert_uint_eq(rows, 24);
	free(owned);
	ck_assert_int_eq(mk_ws_proto_channel_decode(MK_WS_PROTO_V1_BASE64, (const uint8_t *)"0", 1,
						    &ch, &data, &len, &owned), 0);
	ck_assert_uint_eq(ch, 0);
	ck_assert_uint_eq(len, 0);
	free(owned);
	ck_assert_int_eq(mk_ws_proto_channel_decode(MK_WS_PROTO_V1_BASE64, (const uint8_t *)"xaGk=",
						    5, &ch, &data, &len, &owned), -1);
	ck_assert_int_eq(mk_ws_proto_channel_decode(MK_WS_PROTO_V1_BASE64, (const uint8_t *)"0a!b",
						    4, &ch, &data, &len, &owned), -1);
}
END_TEST

START_TEST(test_proto_exit_status)
{
	/* v1..v3: nothing on success, the Status' message text on failure */
	ck_assert_ptr_null(mk_ws_proto_exit_status(MK_WS_PROTO_V1, 0));
	ck_assert_ptr_null(mk_ws_proto_exit_status(MK_WS_PROTO_NONE, 0));
	char *s = mk_ws_proto_exit_status(MK_WS_PROTO_V3, 7);
	ck_assert_str_eq(s, "command terminated with non-zero exit code: exit status 7");
	free(s);
	/* v4, v5: the JSON Status */
	s = mk_ws_proto_exit_status(MK_WS_PROTO_V4_BASE64, 0);
	ck_assert_str_eq(s, "{\"metadata\":{},\"status\":\"Success\"}");
	free(s);
	s = mk_ws_proto_exit_status(MK_WS_PROTO_V4, 2);
	cJSON *j = cJSON_Parse(s);
	ck_assert_str_eq(mk_json_get_string(j, "status"), "Failure");
	ck_assert_str_eq(mk_json_get_string(j, "reason"), "NonZeroExitCode");
	ck_assert_str_eq(mk_json_get_string(cJSON_GetArrayItem(mk_json_get(j, "details.causes"), 0),
					    "message"),
			 "2");
	cJSON_Delete(j);
	free(s);
}
END_TEST

START_TEST(test_log_time_parse)
{
	const char *t = "2026-12-04T12:00:00.5Z";
	int64_t base = stream_time_parse_ns("2026-12-04T12:00:00Z", 20);
	ck_assert_int_eq(base, (int64_t)1796385600 * 1000000000);
	ck_assert_int_eq(stream_time_parse_ns(t, strlen(t)), base + 500000000);
	t = "2026-12-04T12:00:00.000000001Z";
	ck_assert_int_eq(stream_time_parse_ns(t, strlen(t)), base + 1);
	t = "2026-12-04T13:00:00+01:00";
	ck_assert_int_eq(stream_time_parse_ns(t, strlen(t)), base);
	/* only the given length counts (a log line goes on after its time) */
	t = "2026-12-04T12:00:00.25Z stdout F x";
	ck_assert_int_eq(stream_time_parse_ns(t, 23), base + 250000000);
	ck_assert_int_eq(stream_time_parse_ns("yesterday", 9), -1);
	ck_assert_int_eq(stream_time_parse_ns("", 0), -1);
	ck_assert_int_eq(stream_time_parse_ns("2026-12-04T12:00:00", 19), -1);
}
END_TEST

static char *trimmed(const char *t)
{
	size_t head, zone = stream_time_trim_nano(t, strlen(t), &head);
	return mk_strdup_printf("%.*s%s", (int)head, t, t + zone);
}

START_TEST(test_log_time_trim)
{
	const char *cases[][2] = {
		{ "2026-12-04T12:00:00.123456789Z", "2026-12-04T12:00:00.123456789Z" },
		{ "2026-12-04T12:00:00.120000000Z", "2026-12-04T12:00:00.12Z" },
		{ "2026-12-04T12:00:00.000000000Z", "2026-12-04T12:00:00Z" },
		{ "2026-12-04T12:00:00.000000001Z", "2026-12-04T12:00:00.000000001Z" },
		{ "2026-12-04T12:00:00Z", "2026-12-04T12:00:00Z" },
		{ "2026-12-04T12:00:00.500+01:00", "2026-12-04T12:00:00.500+01:00" },
	};
	for (size_t i = 0; i < MK_ARRAY_SIZE(cases); i++) {
		char *got = trimmed(cases[i][0]);
		ck_assert_str_eq(got, cases[i][1]);
		free(got);
	}
}
END_TEST

void agent_stream_add_protocol_tests(Suite *s)
{
	TCase *tc = tcase_create("protocols");
	tcase_add_test(tc, test_proto_select);
	tcase_add_test(tc, test_proto_encode);
	tcase_add_test(tc, test_proto_decode);
	tcase_add_test(tc, test_proto_exit_status);
	tcase_add_test(tc, test_log_time_parse);
	tcase_add_test(tc, test_log_time_trim);
	suite_add_tcase(s, tc);
}
