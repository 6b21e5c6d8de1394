#include <pthread.h>
#include <string.h>
#include <sys/time.h>
#include "minik8s/util.h"

int mk_log_level = MK_LOG_INFO;
int mk_log_verbosity;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void mk_log(int level, const char *component, const char *fmt, ...)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	char ts[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (level > mk_log_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ld %s %s: ", ts, (long)tv.tv_usec / 1000, names[level], component);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
}

void mk_logv(int level, const char *component, const char *fmt, va_list ap)
{
	char msg[1024];

	if (level > mk_log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t l = strlen(msg);
	while (l && msg[l - 1] == '\n')
		msg[--l] = '\0';
	mk_log(level, component, "%s", msg);
}
