#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include "minik8s/util.h"

void mk_time_format(time_t t, char *buf, size_t size)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t mk_time_parse(const char *s)
{
	struct tm tm;
	const char *p;
	time_t t;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	t = timegm(&tm);
	if (*p == 'Z' || *p == 'z')
		return p[1] ? -1 : t;
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && isdigit((unsigned char)p[4]) &&
	    isdigit((unsigned char)p[5])) {
		int h = (p[1] - '0') * 10 + (p[2] - '0');
		int m = (p[4] - '0') * 10 + (p[5] - '0');
		int off = h * 3600 + m * 60;
		if (h > 23 || m > 59)
			return -1;
		return *p == '+' ? t - off : t + off;
	}
	return -1;
}

/* Mirrors k8s.io/apimachinery/pkg/util/duration.HumanDuration, which kubectl's
 * AGE column uses. */
void mk_time_human_duration(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	int64_t m = s / 60, h = s / 3600, d = h / 24, y = d / 365;
	if (s < 60 * 2)
		snprintf(buf, size, "%llds", (long long)s);
	else if (m < 10) {
		if (s % 60 == 0)
			snprintf(buf, size, "%lldm", (long long)m);
		else
			snprintf(buf, size, "%lldm%llds", (long long)m, (long long)(s % 60));
	} else if (m < 60 * 3)
		snprintf(buf, size, "%lldm", (long long)m);
	else if (h < 8) {
		if (m % 60 == 0)
			snprintf(buf, size, "%lldh", (long long)h);
		else
			snprintf(buf, size, "%lldh%lldm", (long long)h, (long long)(m % 60));
	} else if (h < 48)
		snprintf(buf, size, "%lldh", (long long)h);
	else if (h < 24 * 8) {
		if (h % 24 == 0)
			snprintf(buf, size, "%lldd", (long long)d);
		else
			snprintf(buf, size, "%lldd%lldh", (long long)d, (long long)(h % 24));
	} else if (h < 24 * 365 * 2)
		snprintf(buf, size, "%lldd", (long long)d);
	else if (h < 24 * 365 * 8) {
		if (d % 365 == 0)
			snprintf(buf, size, "%lldy", (long long)y);
		else
			snprintf(buf, size, "%lldy%lldd", (long long)y, (long long)(d % 365));
	} else
		snprintf(buf, size, "%lldy", (long long)y);
}

uint64_t mk_time_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void mk_time_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

uint64_t mk_time_mono_ms(void)
{
	return mk_time_mono_ns() / 1000000ULL;
}

void mk_time_mono_deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int mk_time_parse_duration(const char *s, unsigned *ret_ms, struct mk_error **err)
{
	char *end;
	double v = s ? strtod(s, &end) : 0;
	double mul;
	if (!s || end == s || v < 0)
		return mk_error_set(err, EINVAL, "invalid duration '%s'", s ? s : "");
	if (!*end || !strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else
		return mk_error_set(err, EINVAL, "invalid duration '%s' (want e.g. 500ms, 40s, 5m)", s);
	if (v * mul > 4e9)
		return mk_error_set(err, ERANGE, "duration '%s' is too long", s);
	*ret_ms = (unsigned)(v * mul);
	return 0;
}
