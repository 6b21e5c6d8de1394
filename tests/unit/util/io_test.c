/* pkg/util/io.c: the write-all and flush loops over a real non-blocking socket
 * pair whose send buffer is made small, so that both meet EAGAIN. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include "minik8s/util.h"

#define BIG (1 << 20)

static void small_nonblocking_pair(int sv[2])
{
	int small = 4096;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
}

static char *pattern(size_t n)
{
	char *p = malloc(n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i * 7 + i / 251);
	return p;
}

struct reader {
	int fd;
	size_t want, got;
	char *data;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	while (r->got < r->want) {
		ssize_t n = read(r->fd, r->data + r->got, r->want - r->got);
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

START_TEST(test_write_all_through_eagain)
{
	int sv[2];
	small_nonblocking_pair(sv);
	_cleanup_free_ char *src = pattern(BIG);
	struct reader r = { .fd = sv[1], .want = BIG, .data = malloc(BIG) };
	pthread_t th;

	pthread_create(&th, NULL, read_all, &r);
	ck_assert_int_eq(mk_io_write_all(mk_io_sock_send, &sv[0], sv[0], src, BIG, 10000), 0);
	pthread_join(th, NULL);
	ck_assert_uint_eq(r.got, BIG);
	ck_assert(!memcmp(r.data, src, BIG));
	free(r.data);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_write_all_peer_gone)
{
	int sv[2];
	small_nonblocking_pair(sv);
	_cleanup_free_ char *src = pattern(BIG);

	/* nobody reads: the wait for room runs out */
	ck_assert_int_eq(mk_io_write_all(mk_io_sock_send, &sv[0], sv[0], src, BIG, 50), -1);
	/* the peer closed: -1, and no SIGPIPE (MSG_NOSIGNAL) */
	close(sv[1]);
	ck_assert_int_eq(mk_io_write_all(mk_io_sock_send, &sv[0], sv[0], src, 10, 50), -1);
	close(sv[0]);
}
END_TEST

START_TEST(test_flush)
{
	int sv[2];
	small_nonblocking_pair(sv);
	_cleanup_free_ char *src = pattern(BIG);
	struct mk_buf b;
	size_t off = 0;

	mk_buf_init(&b);
	mk_buf_append(&b, src, BIG);
	/* the socket takes part of it: no error, off advanced, the rest kept */
	ck_assert_int_eq(mk_io_flush(mk_io_sock_send, &sv[0], &b, &off), 0);
	ck_assert_uint_gt(off, 0);
	ck_assert_uint_lt(off, BIG);
	ck_assert_uint_eq(b.len, BIG);

	/* drained by a reader, further flushes send the rest; then b is emptied */
	struct reader r = { .fd = sv[1], .want = BIG, .data = malloc(BIG) };
	pthread_t th;
	pthread_create(&th, NULL, read_all, &r);
	for (int i = 0; i < 100000 && b.len; i++) {
		ck_assert_int_eq(mk_io_flush(mk_io_sock_send, &sv[0], &b, &off), 0);
		if (b.len) {
			struct pollfd pf = { .fd = sv[0], .events = POLLOUT };
			poll(&pf, 1, 1000);
		}
	}
	pthread_join(th, NULL);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(r.got, BIG);
	ck_assert(!memcmp(r.data, src, BIG));
	free(r.data);

	/* the peer closed: -1 */
	mk_buf_append(&b, "x", 1);
	close(sv[1]);
	ck_assert_int_eq(mk_io_flush(mk_io_sock_send, &sv[0], &b, &off), -1);
	mk_buf_release(&b);
	close(sv[0]);
}
END_TEST

Suite *io_suite(void);
Suite *io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *tc = tcase_create("io");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_write_all_through_eagain);
	tcase_add_test(tc, test_write_all_peer_gone);
	tcase_add_test(tc, test_flush);
	suite_add_tcase(s, tc);
	return s;
}
