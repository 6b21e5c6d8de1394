/* Cron schedules as Kubernetes' CronJob reads them (the standard five fields of
 * robfig/cron's ParseStandard): minute hour day-of-month month day-of-week, each a
 * comma list of "*", "?", values, ranges "a-b", and steps "x/n" ("*" or a range or
 * a start "a/n" meaning a-max/n); month and weekday names (jan, sun) in any case;
 * the macros @yearly @annually @monthly @weekly @daily @midnight @hourly, and
 * "@every DURATION". When both day fields are restricted a day matching either
 * one fires (Vixie cron); when one is "*" both must match. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/util.h"

static const char *const months[] = { "jan", "feb", "mar", "apr", "may", "jun",
				      "jul", "aug", "sep", "oct", "nov", "dec" };
static const char *const days[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };

struct field_def {
	const char *what;
	int min, max;
	const char *const *names;
	size_t nnames;
};

static const struct field_def defs[5] = {
	{ "minute", 0, 59, NULL, 0 },
	{ "hour", 0, 23, NULL, 0 },
	{ "day of month", 1, 31, NULL, 0 },
	{ "month", 1, 12, months, 12 },
	{ "day of week", 0, 6, days, 7 },
};

static int parse_value(const struct field_def *f, const char *s, size_t n, int *ret,
		       struct mk_error **err)
{
	for (size_t i = 0; i < f->nnames; i++)
		if (n == 3 && !strncasecmp(s, f->names[i], 3)) {
			*ret = (int)i + (f->min == 1 ? 1 : 0);
			return 0;
		}
	if (n == 0 || n > 9)
		return mk_error_set(err, EINVAL, "failed to parse int from %.*s", (int)n, s);
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return mk_error_set(err, EINVAL, "failed to parse int from %.*s", (int)n, s);
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return 0;
}

/* One comma-separated part of a field into bits. */
static int parse_range(const struct field_def *f, const char *s, size_t n, uint64_t *bits,
		       bool *star, struct mk_error **err)
{
	const char *slash = memchr(s, '/', n);
	size_t rn = slash ? (size_t)(slash - s) : n;
	int lo, hi, step = 1;
	bool is_star = false;

	if (rn == 1 && (s[0] == '*' || s[0] == '?')) {
		lo = f->min;
		hi = f->max;
		is_star = true;
	} else {
		const char *dash = memchr(s, '-', rn);
		if (parse_value(f, s, dash ? (size_t)(dash - s) : rn, &lo, err) < 0)
			return -1;
		if (dash) {
			if (parse_value(f, dash + 1, rn - (size_t)(dash + 1 - s), &hi, err) < 0)
				return -1;
		} else {
			hi = slash ? f->max : lo; /* "a/n" is "a-max/n" */
		}
	}
	if (slash) {
		if (parse_value(f, slash + 1, n - rn - 1, &step, err) < 0)
			return -1;
		if (step <= 0)
			return mk_error_set(err, EINVAL, "step of range should be a positive number: %.*s",
					    (int)n, s);
		if (step > 1)
			is_star = false;
	}
	if (lo < f->min)
		return mk_error_set(err, EINVAL, "beginning of range (%d) below minimum (%d): %.*s", lo,
				    f->min, (int)n, s);
	if (hi > f->max)
		return mk_error_set(err, EINVAL, "end of range (%d) above maximum (%d): %.*s", hi, f->max,
				    (int)n, s);
	if (lo > hi)
		return mk_error_set(err, EINVAL, "beginning of range (%d) beyond end of range (%d): %.*s",
				    lo, hi, (int)n, s);
	for (int v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	if (is_star)
		*star = true;
	return 0;
}

static int parse_field(const struct field_def *f, const char *s, uint64_t *bits, bool *star,
		       struct mk_error **err)
{
	*bits = 0;
	*star = false;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		if (parse_range(f, s, n, bits, star, err) < 0)
			return -1;
		s += n + (comma ? 1 : 0);
		if (comma && !*s)
			return mk_error_set(err, EINVAL, "empty list element in %s field", f->what);
	}
	return 0;
}

static const struct {
	const char *name, *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },  { "@annually", "0 0 1 1 *" }, { "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },  { "@daily", "0 0 * * *" },	   { "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

int mk_cron_parse(const char *spec, struct mk_cron *ret, struct mk_error **err)
{
	struct mk_cron c;
	memset(&c, 0, sizeof(c));
	if (!spec)
		return mk_error_set(err, EINVAL, "empty spec string");
	while (isspace((unsigned char)*spec))
		spec++;
	if (!*spec)
		return mk_error_set(err, EINVAL, "empty spec string");
	if (!strncmp(spec, "TZ=", 3) || !strncmp(spec, "CRON_TZ=", 8))
		return mk_error_set(err, EINVAL, "time zones in the schedule are not supported");
	if (spec[0] == '@') {
		if (!strncmp(spec, "@every ", 7)) {
			unsigned ms;
			_cleanup_error_ struct mk_error *e = NULL;
			if (mk_time_parse_duration(spec + 7, &ms, &e) < 0)
				return mk_error_set(err, EINVAL, "failed to parse duration %s: %s", spec,
						    e->msg);
			c.every_s = ms < 1000 ? 1 : ms / 1000;
			*ret = c;
			return 0;
		}
		for (size_t i = 0; i < MK_ARRAY_SIZE(macros); i++)
			if (!strcmp(spec, macros[i].name))
				return mk_cron_parse(macros[i].expr, ret, err);
		return mk_error_set(err, EINVAL, "unrecognized descriptor: %s", spec);
	}
	_cleanup_free_ char *copy = mk_strdup(spec);
	char *fields[6], *save = NULL;
	int n = 0;
	for (char *t = strtok_r(copy, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save))
		if (n < 6)
			fields[n++] = t;
		else
			n++;
	if (n != 5)
		return mk_error_set(err, EINVAL, "expected exactly 5 fields, found %d: %s", n, spec);
	uint64_t bits[5];
	bool star[5];
	for (int i = 0; i < 5; i++)
		if (parse_field(&defs[i], fields[i], &bits[i], &star[i], err) < 0)
			return -1;
	c.minute = bits[0];
	c.hour = (uint32_t)bits[1];
	c.dom = (uint32_t)bits[2];
	c.month = (uint16_t)bits[3];
	c.dow = (uint8_t)bits[4];
	c.dom_star = star[2];
	c.dow_star = star[4];
	*ret = c;
	return 0;
}

static bool day_matches(const struct mk_cron *c, int64_t day, int m, int d)
{
	if (!(c->month & (1u << m)))
		return false;
	int wd = (int)(((day + 4) % 7 + 7) % 7);
	bool dom = c->dom & (1u << d), dow = c->dow & (1u << wd);
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/* The instants (0, 1 or 2: a gap or an overlap of the zone) of local time wall,
 * smallest first past after; returns the smallest one > after or -1. */
static int64_t wall_to_instant(const struct mk_tz *tz, int64_t wall, int64_t after)
{
	int32_t a = mk_tz_offset(tz, wall - 86400), b = mk_tz_offset(tz, wall + 86400);
	int64_t best = -1;
	int32_t offs[2] = { a, b };
	for (int i = 0; i < (a == b ? 1 : 2); i++) {
		int64_t t = wall - offs[i];
		if (mk_tz_offset(tz, t) != offs[i] || t <= after)
			continue;
		if (best < 0 || t < best)
			best = t;
	}
	return best;
}

#define SEARCH_DAYS (5 * 366 + 2)

int64_t mk_cron_next(const struct mk_cron *c, const struct mk_tz *tz, int64_t t)
{
	if (c->every_s)
		return t + (int64_t)c->every_s;
	/* local calendar day of t, starting one day early for an overlap at midnight */
	int64_t local = t + mk_tz_offset(tz, t);
	int64_t day = local / 86400 - (local % 86400 < 0) - 1;
	for (int64_t i = 0; i < SEARCH_DAYS; i++, day++) {
		int64_t y;
		int m, d;
		mk_civil_from_days(day, &y, &m, &d);
		if (!day_matches(c, day, m, d))
			continue;
		int64_t best = -1;
		for (int h = 0; h < 24; h++) {
			if (!(c->hour & (1u << h)))
				continue;
			for (int mi = 0; mi < 60; mi++) {
				if (!(c->minute & (1ULL << mi)))
					continue;
				int64_t at = wall_to_instant(tz, day * 86400 + h * 3600 + mi * 60, t);
				if (at >= 0 && (best < 0 || at < best))
					best = at;
			}
		}
		if (best >= 0)
			return best;
	}
	return -1;
}
