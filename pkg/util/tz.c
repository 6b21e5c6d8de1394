/* IANA time zones read from the TZif files of the system's tz database (RFC 8536),
 * for computing local times of one zone without touching the process-wide TZ
 * (setenv("TZ") + localtime_r would race between threads). Transitions come from
 * the 64-bit data block; times after the last one follow the footer's POSIX TZ
 * rule ("EST5EDT,M3.2.0,M11.1.0"). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/util.h"

struct mk_tz {
	char *name;
	size_t ntrans;
	int64_t *trans; /* UTC instants, ascending */
	int32_t *trans_off; /* offset in force from trans[i] */
	int32_t first_off;  /* before the first transition: time type 0 */
	/* the footer rule */
	bool have_rule, rule_dst;
	int32_t std_off, dst_off; /* seconds east of UTC */
	struct tz_date {
		char kind; /* 'M', 'J' or 'n' */
		int m, w, d, n;
		int32_t time; /* seconds after local midnight (may be < 0 or > 24h) */
	} start, end;
};

static const char *const zone_dirs[] = { "/usr/share/zoneinfo", "/usr/share/lib/zoneinfo",
					 "/etc/zoneinfo" };

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* ---- POSIX TZ strings (the footer) --------------------------------------------------- */

static const char *skip_name(const char *s)
{
	if (*s == '<') {
		const char *e = strchr(s, '>');
		return e ? e + 1 : NULL;
	}
	const char *b = s;
	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
		s++;
	return s - b >= 3 ? s : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds; hours up to 167 (RFC 8536 extension). */
static const char *parse_hms(const char *s, int32_t *ret)
{
	int sign = 1, part[3] = { 0, 0, 0 };
	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return i ? s : NULL;
		part[i] = (int)strtol(s, (char **)&s, 10);
		if (i < 2 && *s == ':')
			s++;
		else
			break;
	}
	if (part[0] > 167 || part[1] > 59 || part[2] > 59)
		return NULL;
	*ret = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	return s;
}

static const char *parse_date(const char *s, struct tz_date *d)
{
	char *e;
	memset(d, 0, sizeof(*d));
	d->time = 7200;
	if (*s == 'M') {
		d->kind = 'M';
		d->m = (int)strtol(s + 1, &e, 10);
		if (*e != '.')
			return NULL;
		d->w = (int)strtol(e + 1, &e, 10);
		if (*e != '.')
			return NULL;
		d->d = (int)strtol(e + 1, &e, 10);
		if (d->m < 1 || d->m > 12 || d->w < 1 || d->w > 5 || d->d < 0 || d->d > 6)
			return NULL;
	} else if (*s == 'J') {
		d->kind = 'J';
		d->n = (int)strtol(s + 1, &e, 10);
		if (d->n < 1 || d->n > 365)
			return NULL;
	} else if (*s >= '0' && *s <= '9') {
		d->kind = 'n';
		d->n = (int)strtol(s, &e, 10);
		if (d->n > 365)
			return NULL;
	} else {
		return NULL;
	}
	s = e;
	if (*s == '/')
		s = parse_hms(s + 1, &d->time);
	return s;
}

static bool parse_rule(struct mk_tz *tz, const char *s)
{
	int32_t off;
	if (!(s = skip_name(s)) || !(s = parse_hms(s, &off)))
		return false;
	tz->std_off = -off; /* POSIX offsets are west of UTC */
	tz->have_rule = true;
	if (!*s)
		return true;
	if (!(s = skip_name(s)))
		return false;
	tz->dst_off = tz->std_off + 3600;
	if (*s && *s != ',') {
		if (!(s = parse_hms(s, &off)))
			return false;
		tz->dst_off = -off;
	}
	if (*s != ',' || !(s = parse_date(s + 1, &tz->start)) || *s != ',' ||
	    !(s = parse_date(s + 1, &tz->end)) || *s)
		return false;
	tz->rule_dst = true;
	return true;
}

/* ---- civil dates (proleptic Gregorian) ------------------------------------------------ */

int64_t mk_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void mk_civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_y = y + (m <= 2);
	*ret_m = m;
	*ret_d = d;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Local seconds (since the epoch, as if local time were UTC) of date d in year y. */
static int64_t rule_local(const struct tz_date *d, int64_t y)
{
	int64_t day;
	if (d->kind == 'J') {
		day = mk_days_from_civil(y, 1, 1) + d->n - 1;
		if (leap(y) && d->n >= 60)
			day++;
	} else if (d->kind == 'n') {
		day = mk_days_from_civil(y, 1, 1) + d->n;
	} else {
		int64_t first = mk_days_from_civil(y, d->m, 1);
		int wd = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
		day = first + (d->d - wd + 7) % 7 + (d->w - 1) * 7;
		static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int len = mdays[d->m - 1] + (d->m == 2 && leap(y));
		while (day >= first + len)
			day -= 7;
	}
	return day * 86400 + d->time;
}

static int32_t rule_offset(const struct mk_tz *tz, int64_t t)
{
	if (!tz->rule_dst)
		return tz->std_off;
	int64_t y;
	int m, d;
	mk_civil_from_days((t + tz->std_off) / 86400 - ((t + tz->std_off) % 86400 < 0), &y, &m, &d);
	/* transition instants: into DST given in standard time, out of it in DST */
	int64_t start = rule_local(&tz->start, y) - tz->std_off;
	int64_t end = rule_local(&tz->end, y) - tz->dst_off;
	bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
	return dst ? tz->dst_off : tz->std_off;
}

/* ---- loading --------------------------------------------------------------------------- */

static bool name_ok(const char *name)
{
	if (!name[0] || name[0] == '/' || name[0] == '\\' || strlen(name) > 255)
		return false;
	for (const char *p = name; (p = strstr(p, "..")); p += 2) {
		bool start = p == name || p[-1] == '/', end = p[2] == '\0' || p[2] == '/';
		if (start && end)
			return false;
	}
	return true;
}

static int parse_tzif(struct mk_tz *tz, const unsigned char *p, size_t len)
{
	if (len < 44 || memcmp(p, "TZif", 4))
		return -1;
	uint32_t cnt[6];
	for (int i = 0; i < 6; i++)
		cnt[i] = be32(p + 20 + 4 * i);
	/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
	size_t v1 = (size_t)cnt[3] * 5 + (size_t)cnt[4] * 6 + cnt[5] + (size_t)cnt[2] * 8 + cnt[1] + cnt[0];
	size_t tsz = 4;
	const unsigned char *h = p;
	if (p[4] >= '2') {
		if (44 + v1 + 44 > len)
			return -1;
		h = p + 44 + v1;
		if (memcmp(h, "TZif", 4))
			return -1;
		for (int i = 0; i < 6; i++)
			cnt[i] = be32(h + 20 + 4 * i);
		tsz = 8;
	}
	size_t timecnt = cnt[3], typecnt = cnt[4];
	size_t need = timecnt * (tsz + 1) + typecnt * 6 + cnt[5] + cnt[2] * (tsz + 4) + cnt[1] + cnt[0];
	const unsigned char *d = h + 44;
	if (typecnt == 0 || (size_t)(d - p) + need > len)
		return -1;
	const unsigned char *idx = d + timecnt * tsz, *types = idx + timecnt;
	tz->ntrans = timecnt;
	tz->trans = mk_malloc0((timecnt + 1) * sizeof(*tz->trans));
	tz->trans_off = mk_malloc0((timecnt + 1) * sizeof(*tz->trans_off));
	for (size_t i = 0; i < timecnt; i++) {
		tz->trans[i] = tsz == 8 ? be64(d + 8 * i) : (int32_t)be32(d + 4 * i);
		if (idx[i] >= typecnt)
			return -1;
		tz->trans_off[i] = (int32_t)be32(types + 6 * idx[i]);
	}
	tz->first_off = (int32_t)be32(types);
	if (tsz == 8) {
		const char *foot = (const char *)d + need;
		const char *e = (const char *)p + len;
		if (foot < e && *foot == '\n') {
			const char *nl = memchr(foot + 1, '\n', (size_t)(e - foot - 1));
			if (nl && nl > foot + 1) {
				_cleanup_free_ char *rule = strndup(foot + 1, (size_t)(nl - foot - 1));
				if (!rule || !parse_rule(tz, rule))
					tz->have_rule = false;
			}
		}
	}
	return 0;
}

int mk_tz_load(const char *name, struct mk_tz **ret, struct mk_error **err)
{
	struct mk_tz *tz = mk_malloc0(sizeof(*tz));
	tz->name = mk_strdup(name ? name : "UTC");
	if (!name || !*name || !strcmp(name, "UTC")) {
		*ret = tz;
		return 0;
	}
	if (!name_ok(name)) {
		mk_tz_free(tz);
		return mk_error_set(err, EINVAL, "invalid location name");
	}
	for (size_t i = 0; i < MK_ARRAY_SIZE(zone_dirs); i++) {
		_cleanup_free_ char *path = mk_strdup_printf("%s/%s", zone_dirs[i], name);
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		_cleanup_error_ struct mk_error *e = NULL;
		if (mk_fs_read_file(path, &data, &len, &e) < 0)
			continue;
		if (parse_tzif(tz, (const unsigned char *)data, len) < 0)
			break;
		*ret = tz;
		return 0;
	}
	mk_tz_free(tz);
	return mk_error_set(err, ENOENT, "unknown time zone %s", name);
}

void mk_tz_free(struct mk_tz *tz)
{
	if (!tz)
		return;
	free(tz->name);
	free(tz->trans);
	free(tz->trans_off);
	free(tz);
}

const char *mk_tz_name(const struct mk_tz *tz)
{
	return tz ? tz->name : "UTC";
}

int32_t mk_tz_offset(const struct mk_tz *tz, int64_t t)
{
	if (!tz || (!tz->ntrans && !tz->have_rule))
		return tz ? tz->first_off : 0;
	if (!tz->ntrans || t >= tz->trans[tz->ntrans - 1]) {
		if (tz->have_rule)
			return rule_offset(tz, t);
		return tz->ntrans ? tz->trans_off[tz->ntrans - 1] : tz->first_off;
	}
	if (t < tz->trans[0])
		return tz->first_off;
	size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->trans[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->trans_off[lo];
}
