/* Tests for pkg/ws/ws.c's frame reader: mk_ws_frames_consume over a buffer of
 * several frames, a partial one and a bad one. */
#include <check.h>
#include <string.h>
#include "minik8s/ws.h"

struct seen {
	int n;
	char text[64];
	int stop_at; /* frame number fn stops at (1-based), 0 never */
	int stop_with;
};

static int collect(void *ctx, struct mk_ws_frame *f)
{
	struct seen *s = ctx;
	s->n++;
	strncat(s->text, (const char *)f->payload, f->len);
	return s->n == s->stop_at ? s->stop_with : 0;
}

static void three_frames(struct mk_buf *b)
{
	static const uint8_t mask[4] = { 1, 2, 3, 4 };
	mk_ws_frame_append(b, MK_WS_OP_BINARY, "ab", 2, mask);
	mk_ws_frame_append(b, MK_WS_OP_BINARY, "cd", 2, mask);
	mk_ws_frame_append(b, MK_WS_OP_BINARY, "ef", 2, mask);
}

START_TEST(test_consume_all_and_partial)
{
	struct mk_buf b;
	struct seen s = { 0 };
	struct mk_error *err = NULL;

	mk_buf_init(&b);
	three_frames(&b);
	size_t whole = b.len;
	mk_buf_append(&b, "\x82\x85", 2); /* a masked 5-byte frame's first bytes */
	ck_assert_int_eq(mk_ws_frames_consume(&b, 1024, 1, collect, &s, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(s.n, 3);
	ck_assert_str_eq(s.text, "abcdef");
	/* the incomplete frame stays for the next read */
	ck_assert_uint_eq(b.len, 2);
	ck_assert(!memcmp(b.data, "\x82\x85", 2));
	ck_assert_uint_gt(whole, 2);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_consume_stops)
{
	struct mk_buf b;
	struct mk_error *err = NULL;

	/* > 0 stops without an error; the frame it stopped at is consumed */
	struct seen s = { .stop_at = 2, .stop_with = 1 };
	mk_buf_init(&b);
	three_frames(&b);
	size_t one = b.len / 3;
	ck_assert_int_eq(mk_ws_frames_consume(&b, 1024, 1, collect, &s, &err), 0);
	ck_assert_str_eq(s.text, "abcd");
	ck_assert_uint_eq(b.len, one);

	/* < 0 stops with -1 and no error */
	struct seen t = { .stop_at = 1, .stop_with = -1 };
	ck_assert_int_eq(mk_ws_frames_consume(&b, 1024, 1, collect, &t, &err), -1);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(t.text, "ef");
	ck_assert_uint_eq(b.len, 0);
	mk_buf_release(&b);
}
END_TEST

START_TEST(test_consume_protocol_error)
{
	struct mk_buf b;
	struct seen s = { 0 };
	struct mk_error *err = NULL;

	mk_buf_init(&b);
	three_frames(&b);
	/* unmasked frames where masked ones are required: an error, nothing handled */
	struct mk_buf u;
	mk_buf_init(&u);
	mk_ws_frame_append(&u, MK_WS_OP_BINARY, "xy", 2, NULL);
	ck_assert_int_eq(mk_ws_frames_consume(&u, 1024, 1, collect, &s, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(s.n, 0);
	mk_error_free(&err);
	/* a payload above the limit: the frames before it are handled, then -1 */
	mk_ws_frame_append(&b, MK_WS_OP_BINARY, "0123456789", 10, (const uint8_t *)"abcd");
	ck_assert_int_eq(mk_ws_frames_consume(&b, 8, 1, collect, &s, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(s.text, "abcdef");
	mk_error_free(&err);
	mk_buf_release(&u);
	mk_buf_release(&b);
}
END_TEST

Suite *ws_frames_suite(void);
Suite *ws_frames_suite(void)
{
	Suite *s = suite_create("ws-frames");
	TCase *tc = tcase_create("consume");
	tcase_add_test(tc, test_consume_all_and_partial);
	tcase_add_test(tc, test_consume_stops);
	tcase_add_test(tc, test_consume_protocol_error);
	suite_add_tcase(s, tc);
	return s;
}
