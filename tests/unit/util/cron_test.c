/* Cron schedules (pkg/util/cron.c) and time zones from the tz database
 * (pkg/util/tz.c): parsing, errors, next run times in UTC and in zones with DST
 * gaps and overlaps, the POSIX rule past the table, the southern hemisphere, and
 * offsets cross-checked against glibc's localtime for many instants. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "minik8s/controller.h"
#include "minik8s/util.h"

static int64_t T(const char *s)
{
	time_t t = mk_time_parse(s);
	ck_assert_msg(t != (time_t)-1, "bad time %s", s);
	return t;
}

static void parse_ok(const char *spec, struct mk_cron *c)
{
	struct mk_error *err = NULL;
	int r = mk_cron_parse(spec, c, &err);
	ck_assert_msg(r == 0, "parse '%s': %s", spec, err ? err->msg : "");
}

static void parse_bad(const char *spec, const char *want)
{
	struct mk_cron c;
	struct mk_error *err = NULL;
	ck_assert_int_lt(mk_cron_parse(spec, &c, &err), 0);
	ck_assert_msg(strstr(err->msg, want), "'%s': got '%s', want '%s'", spec, err->msg, want);
	mk_error_free(&err);
}

static struct mk_tz *zone(const char *name)
{
	struct mk_tz *tz = NULL;
	struct mk_error *err = NULL;
	ck_assert_msg(mk_tz_load(name, &tz, &err) == 0, "zone %s: %s", name, err ? err->msg : "");
	return tz;
}

static void next_is(const char *spec, const char *zone_name, const char *from, const char *want)
{
	struct mk_cron c;
	parse_ok(spec, &c);
	struct mk_tz *tz = zone_name ? zone(zone_name) : NULL;
	int64_t got = mk_cron_next(&c, tz, T(from));
	char buf[32] = "none";
	if (got >= 0)
		mk_time_format((time_t)got, buf, sizeof(buf));
	ck_assert_msg(got == T(want), "'%s' in %s after %s: got %s, want %s", spec,
		      zone_name ? zone_name : "UTC", from, buf, want);
	mk_tz_free(tz);
}

START_TEST(test_cron_parse)
{
	struct mk_cron c;
	parse_ok("0 0 * jan,JUL mon-fri", &c);
	ck_assert_uint_eq(c.month, (1u << 1) | (1u << 7));
	ck_assert_uint_eq(c.dow, 0x3e);
	ck_assert(c.dom_star);
	ck_assert(!c.dow_star);
	parse_ok("*/20 1-5/2 ? * *", &c);
	ck_assert_uint_eq(c.minute, (1ULL << 0) | (1ULL << 20) | (1ULL << 40));
	ck_assert_uint_eq(c.hour, (1u << 1) | (1u << 3) | (1u << 5));
	ck_assert(c.dom_star);
	parse_ok("5/15 * * * *", &c); /* 5-59/15 */
	ck_assert_uint_eq(c.minute, (1ULL << 5) | (1ULL << 20) | (1ULL << 35) | (1ULL << 50));
	parse_ok("@hourly", &c);
	ck_assert_uint_eq(c.minute, 1);
	ck_assert_uint_eq(c.hour, 0xffffff);
	parse_ok("@every 90s", &c);
	ck_assert_uint_eq(c.every_s, 90);

	parse_bad("* * * *", "expected exactly 5 fields, found 4");
	parse_bad("* * * * * *", "expected exactly 5 fields, found 6");
	parse_bad("60 * * * *", "above maximum");
	parse_bad("* * 0 * *", "below minimum");
	parse_bad("* * * * 7", "above maximum");
	parse_bad("5-3 * * * *", "beyond end of range");
	parse_bad("*/0 * * * *", "step");
	parse_bad("x * * * *", "failed to parse int from x");
	parse_bad("1,,2 * * * *", "failed to parse int");
	parse_bad("@fortnightly", "unrecognized descriptor");
	parse_bad("", "empty spec");
	parse_bad("TZ=UTC * * * * *", "time zone");
}
END_TEST

START_TEST(test_cron_next_utc)
{
	next_is("*/15 * * * *", NULL, "2026-01-01T00:07:30Z", "2026-01-01T00:15:00Z");
	next_is("*/15 * * * *", NULL, "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z");
	next_is("* * * * *", NULL, "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z");
	next_is("@yearly", NULL, "2026-05-01T00:00:00Z", "2027-01-01T00:00:00Z");
	next_is("@weekly", NULL, "2026-12-04T10:00:00Z", "2026-12-06T00:00:00Z"); /* a Sunday */
	next_is("0 0 29 2 *", NULL, "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
	next_is("0 0 31 * *", NULL, "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z");
	/* both day fields restricted: either one (the 13th, or a Friday) */
	next_is("0 0 13 * fri", NULL, "2026-02-01T00:00:00Z", "2026-02-06T00:00:00Z");
	next_is("0 0 13 * fri", NULL, "2026-02-07T00:00:00Z", "2026-02-13T00:00:00Z");
	/* day of month "*": the weekday alone decides */
	next_is("0 0 * * 1", NULL, "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z");
	next_is("30 4 1 jan,jul *", NULL, "2026-01-01T04:30:00Z", "2026-07-01T04:30:00Z");

	struct mk_cron c;
	parse_ok("0 0 30 2 *", &c);
	ck_assert_int_eq(mk_cron_next(&c, NULL, T("2026-01-01T00:00:00Z")), -1);
	parse_ok("@every 90s", &c);
	ck_assert_int_eq(mk_cron_next(&c, NULL, 1000), 1090);
}
END_TEST

START_TEST(test_cron_next_zones)
{
	next_is("0 9 * * *", "Europe/Berlin", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z");
	next_is("0 9 * * *", "Europe/Berlin", "2026-01-10T00:00:00Z", "2026-01-10T08:00:00Z");
	next_is("0 0 * * *", "Asia/Kolkata", "2026-06-01T00:00:00Z", "2026-06-01T18:30:00Z");
	/* spring forward (New York, 2026-03-08 02:00 -> 03:00): 02:30 does not exist that day */
	next_is("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-09T06:30:00Z");
	next_is("30 3 * * *", "America/New_York", "2026-03-08T05:00:00Z", "2026-03-08T07:30:00Z");
	/* fall back (2026-11-01 02:00 EDT -> 01:00 EST): 01:30 happens twice */
	next_is("30 1 * * *", "America/New_York", "2026-11-01T00:00:00Z", "2026-11-01T05:30:00Z");
	next_is("30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z");
	next_is("30 1 * * *", "America/New_York", "2026-11-01T06:30:00Z", "2026-11-02T06:30:00Z");
	/* past the table of transitions (2037): the footer's POSIX rule */
	next_is("0 12 4 7 *", "America/New_York", "2040-01-01T00:00:00Z", "2040-07-04T16:00:00Z");
	next_is("0 12 4 12 *", "America/New_York", "2040-01-01T00:00:00Z", "2040-12-04T17:00:00Z");
	/* southern hemisphere: summer time over the new year */
	next_is("0 0 1 1 *", "Australia/Sydney", "2030-06-01T00:00:00Z", "2030-12-31T13:00:00Z");
	next_is("0 0 1 7 *", "Australia/Sydney", "2030-01-01T00:00:00Z", "2030-06-30T14:00:00Z");
	next_is("0 0 1 7 *", "UTC", "2030-01-01T00:00:00Z", "2030-07-01T00:00:00Z");
}
END_TEST

START_TEST(test_tz_errors)
{
	struct mk_tz *tz = NULL;
	struct mk_error *err = NULL;
	ck_assert_int_lt(mk_tz_load("Mars/Olympus", &tz, &err), 0);
	ck_assert_str_eq(err->msg, "unknown time zone Mars/Olympus");
	mk_error_free(&err);
	ck_assert_int_lt(mk_tz_load("../../etc/passwd", &tz, &err), 0);
	ck_assert_str_eq(err->msg, "invalid location name");
	mk_error_free(&err);
	ck_assert_int_lt(mk_tz_load("/etc/localtime", &tz, &err), 0);
	mk_error_free(&err);
	/* a file that is not TZif */
	ck_assert_int_lt(mk_tz_load("zone1970.tab", &tz, &err), 0);
	mk_error_free(&err);
	ck_assert_ptr_null(tz);
}
END_TEST

/* Offsets against glibc (which reads the same files) for instants over 1900..2100. */
START_TEST(test_tz_offsets_match_libc)
{
	static const char *const zones[] = { "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
					     "Asia/Kolkata", "America/Sao_Paulo", "Pacific/Chatham",
					     "Europe/Dublin", "America/Santiago", "Africa/Casablanca" };
	unsigned seed = 42;
	for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
		struct mk_tz *tz = zone(zones[z]);
		setenv("TZ", zones[z], 1); /* this forked test is single-threaded */
		tzset();
		for (int i = 0; i < 4000; i++) {
			int64_t t = -2208988800LL + (int64_t)((double)rand_r(&seed) / RAND_MAX * 6311433600.0);
			time_t tt = (time_t)t;
			struct tm tm;
			localtime_r(&tt, &tm);
			ck_assert_msg(mk_tz_offset(tz, t) == tm.tm_gmtoff, "%s at %lld: %d, libc %ld", zones[z],
				      (long long)t, mk_tz_offset(tz, t), tm.tm_gmtoff);
		}
		mk_tz_free(tz);
	}
}
END_TEST

START_TEST(test_cron_missed_runs)
{
	struct mk_cron c;
	int missed;
	int64_t next;
	parse_ok("*/1 * * * *", &c);
	int64_t t0 = T("2026-12-04T10:00:00Z");
	int64_t last = mk_controller_cron_most_recent(&c, NULL, t0, t0 + 10 * 60 + 30, &missed, &next);
	ck_assert_int_eq(missed, 10);
	ck_assert_int_eq(last, t0 + 600);
	ck_assert_int_eq(next, t0 + 660);
	/* nothing due yet */
	last = mk_controller_cron_most_recent(&c, NULL, t0, t0 + 59, &missed, &next);
	ck_assert_int_eq(last, 0);
	ck_assert_int_eq(missed, 0);
	ck_assert_int_eq(next, t0 + 60);
	/* 200 missed: counted up to 101, the latest found all the same */
	last = mk_controller_cron_most_recent(&c, NULL, t0, t0 + 200 * 60 + 5, &missed, &next);
	ck_assert_int_eq(missed, 101);
	ck_assert_int_eq(last, t0 + 200 * 60);
	ck_assert_int_eq(next, t0 + 201 * 60);
	/* a year of hourly runs missed */
	parse_ok("@hourly", &c);
	last = mk_controller_cron_most_recent(&c, NULL, t0, t0 + 365 * 86400 + 1800, &missed, &next);
	ck_assert_int_eq(missed, 101);
	ck_assert_int_eq(last, t0 + 365 * 86400);
}
END_TEST

Suite *cron_suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("cron");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cron_parse);
	tcase_add_test(tc, test_cron_next_utc);
	tcase_add_test(tc, test_cron_next_zones);
	tcase_add_test(tc, test_tz_errors);
	tcase_add_test(tc, test_tz_offsets_match_libc);
	tcase_add_test(tc, test_cron_missed_runs);
	suite_add_tcase(s, tc);
	return s;
}
