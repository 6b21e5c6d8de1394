#include <string.h>
#include "minik8s/util.h"

void *mk_malloc0(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *mk_strdup(const char *s)
{
	char *d;
	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort();
	return d;
}

char *mk_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

int mk_str_has_prefix(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

int mk_str_has_suffix(const char *s, const char *suffix)
{
	size_t a, b;
	if (!s)
		return 0;
	a = strlen(s);
	b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

void mk_buf_init(struct mk_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void mk_buf_release(struct mk_buf *b)
{
	free(b->data);
	mk_buf_init(b);
}

static void buf_reserve(struct mk_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	char *d = realloc(b->data, cap);
	if (!d)
		abort();
	b->data = d;
	b->cap = cap;
}

void mk_buf_append(struct mk_buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void mk_buf_puts(struct mk_buf *b, const char *s)
{
	mk_buf_append(b, s, strlen(s));
}

void mk_buf_printf(struct mk_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	b->len += (size_t)n;
}

char *mk_buf_steal(struct mk_buf *b)
{
	char *d = b->data ? b->data : mk_strdup("");
	mk_buf_init(b);
	return d;
}
