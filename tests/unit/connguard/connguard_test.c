/* Tests for pkg/util/connguard.c with real sockets: each "connection" is a
 * socketpair whose server end the guard may shut down; the client end sees EOF
 * when it does. */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include "minik8s/connguard.h"

struct pair {
	int srv, cli;
	struct mk_connguard_conn *c;
};

static void pair_open(struct mk_connguard *g, struct pair *p, const char *ip)
{
	int sv[2];
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(40000) };

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->srv = sv[0];
	p->cli = sv[1];
	if (ip)
		ck_assert_int_eq(inet_pton(AF_INET, ip, &a.sin_addr), 1);
	p->c = mk_connguard_conn_add(g, p->srv, ip ? (struct sockaddr *)&a : NULL,
				     ip ? sizeof(a) : 0);
	ck_assert_ptr_nonnull(p->c);
}

static void pair_close(struct mk_connguard *g, struct pair *p)
{
	mk_connguard_conn_remove(g, p->c);
	close(p->srv);
	close(p->cli);
}

/* true when the guard shut the server end down within wait_ms */
static bool dropped(struct pair *p, int wait_ms)
{
	struct pollfd pf = { p->cli, POLLIN, 0 };
	char b;
	if (poll(&pf, 1, wait_ms) != 1)
		return false;
	return recv(p->cli, &b, 1, MSG_DONTWAIT) == 0;
}

static struct mk_connguard *guard(unsigned pending, unsigned per_ip, unsigned trusted,
				  unsigned pend_ms, unsigned idle_ms)
{
	struct mk_connguard_options o = { .max_pending = pending,
					  .max_pending_per_ip = per_ip,
					  .max_trusted = trusted,
					  .pending_timeout_ms = pend_ms,
					  .idle_timeout_ms = idle_ms };
	struct mk_connguard *g = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_connguard_new(&o, &g, &err), 0);
	return g;
}

START_TEST(test_defaults)
{
	struct mk_connguard *g = guard(0, 0, 0, 0, 0);
	struct mk_connguard_options o;
	mk_connguard_get_options(g, &o);
	ck_assert_uint_eq(o.max_pending, MK_CONNGUARD_DEFAULT_MAX_PENDING);
	ck_assert_uint_eq(o.max_pending_per_ip, MK_CONNGUARD_DEFAULT_MAX_PENDING / 2);
	ck_assert_uint_eq(o.max_trusted, MK_CONNGUARD_DEFAULT_MAX_TRUSTED);
	ck_assert_uint_eq(o.pending_timeout_ms, 10000);
	ck_assert_uint_le(o.idle_timeout_ms, 90000);
	ck_assert_uint_eq(mk_connguard_mhd_connection_limit(g),
			  MK_CONNGUARD_DEFAULT_MAX_TRUSTED + 2 * MK_CONNGUARD_DEFAULT_MAX_PENDING);
	mk_connguard_free(g);
}
END_TEST

/* a full pending budget drops the oldest pending connections, not the newcomer */
START_TEST(test_pending_oldest_dropped)
{
	struct mk_connguard *g = guard(4, 4, 10, 60000, 60000);
	struct pair p[6];
	struct mk_connguard_stats st;

	for (int i = 0; i < 6; i++)
		pair_open(g, &p[i], NULL);
	ck_assert(dropped(&p[0], 0));
	ck_assert(dropped(&p[1], 0));
	for (int i = 2; i < 6; i++)
		ck_assert(!dropped(&p[i], 0));
	mk_connguard_get_stats(g, &st);
	ck_assert_uint_eq(st.pending, 4);
	ck_assert_uint_eq(st.evicted, 2);
	for (int i = 0; i < 6; i++)
		pair_close(g, &p[i]);
	mk_connguard_get_stats(g, &st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.trusted, 0);
	mk_connguard_free(g);
}
END_TEST

/* trusted connections are outside the pending budget: never dropped for room */
START_TEST(test_trusted_kept)
{
	struct mk_connguard *g = guard(2, 2, 10, 60000, 60000);
	struct pair p[5];

	pair_open(g, &p[0], "127.0.0.1");
	ck_assert(mk_connguard_conn_trust(g, p[0].c));
	ck_assert(mk_connguard_conn_is_trusted(g, p[0].c));
	for (int i = 1; i < 5; i++)
		pair_open(g, &p[i], "127.0.0.1");
	ck_assert(!dropped(&p[0], 0));
	ck_assert(dropped(&p[1], 0));
	ck_assert(dropped(&p[2], 0));
	ck_assert(!dropped(&p[3], 0));
	ck_assert(!dropped(&p[4], 0));
	for (int i = 0; i < 5; i++)
		pair_close(g, &p[i]);
	mk_connguard_free(g);
}
END_TEST

/* one address cannot take the whole pending budget from the others */
START_TEST(test_per_ip)
{
	struct mk_connguard *g = guard(8, 2, 10, 60000, 60000);
	struct pair b, a[3];

	pair_open(g, &b, "10.0.0.2");
	for (int i = 0; i < 3; i++)
		pair_open(g, &a[i], "10.0.0.1");
	ck_assert(dropped(&a[0], 0));
	ck_assert(!dropped(&a[1], 0));
	ck_assert(!dropped(&a[2], 0));
	ck_assert(!dropped(&b, 0)); /* older, but another address */
	pair_close(g, &b);
	for (int i = 0; i < 3; i++)
		pair_close(g, &a[i]);
	mk_connguard_free(g);
}
END_TEST

START_TEST(test_trusted_budget)
{
	struct mk_connguard *g = guard(8, 8, 1, 60000, 60000);
	struct pair p[2];
	struct mk_connguard_stats st;

	pair_open(g, &p[0], NULL);
	pair_open(g, &p[1], NULL);
	ck_assert(mk_connguard_conn_trust(g, p[0].c));
	ck_assert(mk_connguard_conn_trust(g, p[0].c)); /* twice: no-op */
	ck_assert(!mk_connguard_conn_trust(g, p[1].c));
	mk_connguard_get_stats(g, &st);
	ck_assert_uint_eq(st.trusted, 1);
	ck_assert_uint_eq(st.pending, 1);
	ck_assert_uint_eq(st.refused, 1);
	pair_close(g, &p[0]); /* its slot is free again */
	ck_assert(mk_connguard_conn_trust(g, p[1].c));
	pair_close(g, &p[1]);
	mk_connguard_free(g);
}
END_TEST

/* pending past the deadline is dropped even though nothing else is happening */
START_TEST(test_pending_deadline)
{
	struct mk_connguard *g = guard(8, 8, 8, 300, 60000);
	struct pair p, t;
	struct mk_connguard_stats st;

	pair_open(g, &p, NULL);
	pair_open(g, &t, NULL);
	ck_assert(mk_connguard_conn_trust(g, t.c));
	ck_assert(dropped(&p, 5000));
	ck_assert(!dropped(&t, 0));
	mk_connguard_get_stats(g, &st);
	ck_assert_uint_ge(st.timed_out, 1);
	pair_close(g, &p);
	pair_close(g, &t);
	mk_connguard_free(g);
}
END_TEST

/* trusted: a request in progress (a watch) and an upgraded connection are never
 * cut; an idle keep-alive connection is, after the idle timeout */
START_TEST(test_idle_timeout)
{
	struct mk_connguard *g = guard(8, 8, 8, 60000, 300);
	struct pair busy, up, idle;

	pair_open(g, &busy, NULL);
	pair_open(g, &up, NULL);
	pair_open(g, &idle, NULL);
	/* three separate variables: walked through an array of their addresses, never
	 * by pointer arithmetic across them (ASan: stack-buffer-overflow) */
	struct pair *all[] = { &busy, &up, &idle };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		ck_assert(mk_connguard_conn_trust(g, all[i]->c));
		mk_connguard_request_begin(g, all[i]->c);
	}
	mk_connguard_conn_upgraded(g, up.c);
	mk_connguard_request_end(g, up.c); /* MHD reports the upgrade as completed */
	mk_connguard_request_end(g, idle.c);
	ck_assert(dropped(&idle, 5000));
	/* several idle timeouts later the other two are still open */
	ck_assert(!dropped(&busy, 1500));
	ck_assert(!dropped(&up, 0));
	/* the long request ends: now it is idle like any other */
	mk_connguard_request_end(g, busy.c);
	ck_assert(dropped(&busy, 5000));
	pair_close(g, &busy);
	pair_close(g, &up);
	pair_close(g, &idle);
	mk_connguard_free(g);
}
END_TEST

/* real TCP: among pending connections the one whose peer is quiet goes first,
 * even when a busier one is older (TCP_INFO's last_data_recv) */
START_TEST(test_quiet_first)
{
	struct mk_connguard *g = guard(2, 2, 8, 60000, 60000);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pair p[3];

	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 8), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	for (int i = 0; i < 3; i++) {
		p[i].cli = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ck_assert_int_eq(connect(p[i].cli, (struct sockaddr *)&a, sizeof(a)), 0);
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		p[i].srv = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
		ck_assert_int_ge(p[i].srv, 0);
		if (i < 2)
			p[i].c = mk_connguard_conn_add(g, p[i].srv, (struct sockaddr *)&peer, pl);
		if (i == 0)
			usleep(300 * 1000);
	}
	/* the oldest one is talking (a handshake in progress), the second is idle */
	usleep(300 * 1000);
	ck_assert_int_eq(send(p[0].cli, "x", 1, 0), 1);
	usleep(50 * 1000);
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	getpeername(p[2].srv, (struct sockaddr *)&peer, &pl);
	p[2].c = mk_connguard_conn_add(g, p[2].srv, (struct sockaddr *)&peer, pl);
	ck_assert(dropped(&p[1], 0));
	ck_assert(!dropped(&p[0], 0));
	ck_assert(!dropped(&p[2], 0));
	for (int i = 0; i < 3; i++)
		pair_close(g, &p[i]);
	close(l);
	mk_connguard_free(g);
}
END_TEST

Suite *connguard_suite(void)
{
	Suite *su = suite_create("connguard");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_pending_oldest_dropped);
	tcase_add_test(tc, test_trusted_kept);
	tcase_add_test(tc, test_per_ip);
	tcase_add_test(tc, test_trusted_budget);
	tcase_add_test(tc, test_pending_deadline);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_quiet_first);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(su, tc);
	return su;
}
