/* Tests for pkg/ws/spdy.c: the SPDY/3.1 frames and header blocks port-forward
 * uses, and the v4 channel frames of the WebSocket port-forward. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "minik8s/spdy.h"
#include "minik8s/ws.h"

START_TEST(test_dictionary)
{
	size_t len;
	const uint8_t *d = mk_spdy_dictionary(&len);

	/* the draft's dictionary: 1423 bytes; its zlib id (adler32) is what the
	 * FDICT field of every SPDY/3 header stream carries */
	ck_assert_uint_eq(len, 1423);
	ck_assert_uint_eq(adler32(adler32(0, NULL, 0), d, (uInt)len), 0xe3c6a7c2);
	ck_assert(!memcmp(d, "\0\0\0\7options\0\0\0\4head", 19));
	ck_assert(!memcmp(d + len - 7, ",enq=0.", 7));
}
END_TEST

static void expect_bytes(const struct mk_buf *b, const uint8_t *want, size_t n)
{
	ck_assert_uint_eq(b->len, n);
	ck_assert(!memcmp(b->data, want, n));
}

START_TEST(test_known_frames)
{
	struct mk_buf b;

	mk_buf_init(&b);
	mk_spdy_data_append(&b, 3, "hi", 2, true);
	expect_bytes(&b, (const uint8_t *)"\x00\x00\x00\x03\x01\x00\x00\x02hi", 10);
	b.len = 0;
	mk_spdy_data_append(&b, 5, NULL, 0, true);
	expect_bytes(&b, (const uint8_t *)"\x00\x00\x00\x05\x01\x00\x00\x00", 8);
	b.len = 0;
	mk_spdy_ping_append(&b, 0x01020304);
	expect_bytes(&b, (const uint8_t *)"\x80\x03\x00\x06\x00\x00\x00\x04\x01\x02\x03\x04", 12);
	b.len = 0;
	mk_spdy_rst_stream_append(&b, 7, MK_SPDY_CANCEL);
	expect_bytes(&b, (const uint8_t *)"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x07\x00\x00\x00\x05",
		     16);
	b.len = 0;
	mk_spdy_goaway_append(&b, 9, 0);
	expect_bytes(&b, (const uint8_t *)"\x80\x03\x00\x07\x00\x00\x00\x08\x00\x00\x00\x09\x00\x00\x00\x00",
		     16);

	/* and they parse back */
	struct mk_spdy_frame f;
	struct mk_error *err = NULL;
	b.len = 0;
	mk_spdy_data_append(&b, 3, "hello", 5, false);
	mk_spdy_ping_append(&b, 42);
	ssize_t n = mk_spdy_frame_parse((uint8_t *)b.data, b.len, 1024, &f, &err);
	ck_assert_int_eq(n, 13);
	ck_assert(!f.control);
	ck_assert_uint_eq(f.stream_id, 3);
	ck_assert_uint_eq(f.len, 5);
	ck_assert(!memcmp(f.data, "hello", 5));
	ck_assert_int_eq(f.flags, 0);
	n = mk_spdy_frame_parse((uint8_t *)b.data + 13, b.len - 13, 1024, &f, &err);
	ck_assert_int_eq(n, 12);
	ck_assert(f.control);
	ck_assert_int_eq(f.type, MK_SPDY_PING);
	ck_assert_uint_eq(f.stream_id, 42);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_headers_roundtrip)
{
	/* kubectl's side (the client's compressor) and ours (the decompressor): two
	 * streams on one connection, the zlib context carried across them */
	struct mk_spdy_zlib client, server;
	struct mk_buf b;
	const char *names[] = { "Streamtype", "Port", "Requestid" };
	const char *v1[] = { "error", "8080", "0" }, *v2[] = { "data", "8080", "0" };
	struct mk_spdy_frame f;
	struct mk_error *err = NULL;

	mk_spdy_zlib_init(&client);
	mk_spdy_zlib_init(&server);
	mk_buf_init(&b);
	mk_spdy_syn_stream_append(&client, &b, 1, names, v1, 3, true);
	size_t first = b.len;
	mk_spdy_syn_stream_append(&client, &b, 3, names, v2, 3, false);
	ck_assert_int_eq((uint8_t)b.data[0], 0x80);
	ck_assert_int_eq((uint8_t)b.data[3], MK_SPDY_SYN_STREAM);

	const uint8_t *want[2][3] = { { (const uint8_t *)"error", (const uint8_t *)"8080",
					(const uint8_t *)"0" },
				      { (const uint8_t *)"data", (const uint8_t *)"8080",
					(const uint8_t *)"0" } };
	size_t off = 0;
	for (int i = 0; i < 2; i++) {
		ssize_t n = mk_spdy_frame_parse((uint8_t *)b.data + off, b.len - off, 1 << 20, &f, &err);
		ck_assert_int_gt(n, 0);
		if (i == 0)
			ck_assert_uint_eq((size_t)n, first);
		ck_assert(f.control);
		ck_assert_int_eq(f.type, MK_SPDY_SYN_STREAM);
		ck_assert_uint_eq(f.stream_id, i == 0 ? 1u : 3u);
		ck_assert_int_eq(f.flags & MK_SPDY_FLAG_FIN, i == 0 ? 1 : 0);
		struct mk_spdy_header *h = NULL;
		size_t nh = 0;
		ck_assert_int_eq(mk_spdy_headers_decode(&server, f.data, f.len, &h, &nh, &err), 0);
		ck_assert_uint_eq(nh, 3);
		ck_assert_str_eq(h[0].name, "streamtype"); /* lowercased on the wire */
		ck_assert_str_eq(mk_spdy_header_get(h, nh, "streamtype"), (const char *)want[i][0]);
		ck_assert_str_eq(mk_spdy_header_get(h, nh, "PORT"), (const char *)want[i][1]);
		ck_assert_str_eq(mk_spdy_header_get(h, nh, "requestid"), (const char *)want[i][2]);
		ck_assert_ptr_null(mk_spdy_header_get(h, nh, "missing"));
		mk_spdy_headers_free(h, nh);
		off += (size_t)n;
	}
	ck_assert_uint_eq(off, b.len);

	/* our SYN_REPLY with no headers decodes on the client's side */
	struct mk_spdy_zlib client_in;
	mk_spdy_zlib_init(&client_in);
	b.len = 0;
	mk_spdy_syn_reply_append(&server, &b, 1, NULL, NULL, 0, false);
	ck_assert_int_gt(mk_spdy_frame_parse((uint8_t *)b.data, b.len, 1 << 20, &f, &err), 0);
	ck_assert_int_eq(f.type, MK_SPDY_SYN_REPLY);
	ck_assert_uint_eq(f.stream_id, 1);
	struct mk_spdy_header *h = NULL;
	size_t nh = 99;
	ck_assert_int_eq(mk_spdy_headers_decode(&client_in, f.data, f.len, &h, &nh, &err), 0);
	ck_assert_uint_eq(nh, 0);
	mk_spdy_headers_free(h, nh);

	mk_spdy_zlib_release(&client);
	mk_spdy_zlib_release(&server);
	mk_spdy_zlib_release(&client_in);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_header_block_from_plain_zlib)
{
	/* a block made with zlib directly (as Go's compress/zlib with the dictionary
	 * does), not with our writer */
	size_t dl;
	const uint8_t *d = mk_spdy_dictionary(&dl);
	const uint8_t plain[] = "\0\0\0\1\0\0\0\4port\0\0\0\2" "80";
	uint8_t out[256];
	z_stream z = { 0 };
	ck_assert_int_eq(deflateInit(&z, Z_BEST_COMPRESSION), Z_OK);
	ck_assert_int_eq(deflateSetDictionary(&z, d, (uInt)dl), Z_OK);
	z.next_in = (Bytef *)plain;
	z.avail_in = sizeof(plain) - 1;
	z.next_out = out;
	z.avail_out = sizeof(out);
	ck_assert_int_eq(deflate(&z, Z_SYNC_FLUSH), Z_OK);
	size_t clen = sizeof(out) - z.avail_out;
	deflateEnd(&z);

	struct mk_spdy_zlib s;
	struct mk_spdy_header *h = NULL;
	size_t nh = 0;
	struct mk_error *err = NULL;
	mk_spdy_zlib_init(&s);
	ck_assert_int_eq(mk_spdy_headers_decode(&s, out, clen, &h, &nh, &err), 0);
	ck_assert_uint_eq(nh, 1);
	ck_assert_str_eq(mk_spdy_header_get(h, nh, "port"), "80");
	mk_spdy_headers_free(h, nh);
	mk_spdy_zlib_release(&s);
}
END_TEST

START_TEST(test_parse_errors)
{
	struct mk_spdy_frame f;
	struct mk_error *err = NULL;
	struct mk_buf b;

	mk_buf_init(&b);
	mk_spdy_data_append(&b, 1, "0123456789", 10, false);
	/* every strict prefix is incomplete */
	for (size_t cut = 0; cut < b.len; cut++)
		ck_assert_int_eq(mk_spdy_frame_parse((uint8_t *)b.data, cut, 1024, &f, &err), 0);
	/* above the limit */
	ck_assert_int_eq(mk_spdy_frame_parse((uint8_t *)b.data, b.len, 5, &f, &err), -1);
	ck_assert_ptr_nonnull(err);
	mk_error_free(&err);
	/* SPDY/2 */
	const uint8_t v2[] = { 0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1 };
	ck_assert_int_eq(mk_spdy_frame_parse(v2, sizeof(v2), 1024, &f, &err), -1);
	mk_error_free(&err);
	/* a RST_STREAM too short for its fields */
	const uint8_t rst[] = { 0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1 };
	ck_assert_int_eq(mk_spdy_frame_parse(rst, sizeof(rst), 1024, &f, &err), -1);
	mk_error_free(&err);
	/* an unknown control type parses, to be ignored */
	const uint8_t unk[] = { 0x80, 0x03, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x01, 0x00 };
	ck_assert_int_eq(mk_spdy_frame_parse(unk, sizeof(unk), 1024, &f, &err), 9);
	ck_assert_int_eq(f.type, 15);
	/* garbage header blocks fail cleanly */
	struct mk_spdy_zlib s;
	struct mk_spdy_header *h = NULL;
	size_t nh = 0;
	mk_spdy_zlib_init(&s);
	ck_assert_int_eq(mk_spdy_headers_decode(&s, (const uint8_t *)"not zlib at all", 15, &h, &nh,
						&err), -1);
	mk_error_free(&err);
	mk_spdy_zlib_release(&s);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_v4_port_frames)
{
	/* the first frame of each channel: the port, 2 bytes little-endian */
	struct mk_buf b;
	uint8_t le[2] = { 0x90, 0x1f }; /* 8080 */

	mk_buf_init(&b);
	mk_ws_channel_append(&b, 3, le, 2, NULL);
	expect_bytes(&b, (const uint8_t *)"\x82\x03\x03\x90\x1f", 5);
	mk_buf_release(&b);
	ck_assert_str_eq(MK_WS_PROTOCOL_V4, "v4.channel.k8s.io");
	ck_assert_str_eq(MK_SPDY_WS_TUNNEL_PROTOCOL, "SPDY/3.1+portforward.k8s.io");
}
END_TEST

Suite *ws_frames_suite(void);

int main(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("spdy");
	tcase_add_test(tc, test_dictionary);
	tcase_add_test(tc, test_known_frames);
	tcase_add_test(tc, test_headers_roundtrip);
	tcase_add_test(tc, test_header_block_from_plain_zlib);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_v4_port_frames);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_add_suite(sr, ws_frames_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
