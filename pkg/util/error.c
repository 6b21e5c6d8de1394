#include <errno.h>
#include <string.h>
#include "minik8s/util.h"

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

int mk_error_set(struct mk_error **err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err || *err)
		return -1;
	*err = mk_malloc0(sizeof(**err));
	(*err)->code = code;
	va_start(ap, fmt);
	(*err)->msg = vformat(fmt, ap);
	va_end(ap);
	return -1;
}

int mk_error_errno(struct mk_error **err, int errnum, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *m = NULL;

	if (!err || *err)
		return -1;
	va_start(ap, fmt);
	m = vformat(fmt, ap);
	va_end(ap);
	return mk_error_set(err, errnum, "%s: %s", m, strerror(errnum));
}

int mk_error_wrap(struct mk_error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *m;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	ctx = vformat(fmt, ap);
	va_end(ap);
	m = mk_strdup_printf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = m;
	return -1;
}

void mk_error_free(struct mk_error **err)
{
	if (!err || !*err)
		return;
	free((*err)->msg);
	free(*err);
	*err = NULL;
}
