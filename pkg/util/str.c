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
	va_list ap;
	size_t room;
	int n;

	/* format straight into the spare room; only a long result needs a second
	 * pass (this also avoids vsnprintf(NULL, 0, ...), which GCC 12 with
	 * -fsanitize=undefined rejects as "null format string") */
	buf_reserve(b, 128);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if ((size_t)n >= room) {
		buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

char *mk_buf_steal(struct mk_buf *b)
{
	char *d = b->data ? b->data : mk_strdup("");
	mk_buf_init(b);
	return d;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *mk_base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = mk_malloc0(4 * ((len + 2) / 3) + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*o++ = b64[p[i] >> 2];
		*o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = b64[p[i + 2] & 63];
	}
	if (i < len) {
		*o++ = b64[p[i] >> 2];
		if (i + 1 < len) {
			*o++ = b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = b64[(p[i + 1] & 15) << 2];
		} else {
			*o++ = b64[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

int mk_base64_decode(const char *s, void **ret_data, size_t *ret_len)
{
	size_t n = strlen(s);
	unsigned char *out = mk_malloc0(n / 4 * 3 + 3);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		const char *c;
		if (s[i] == '=' )
			break;
		if (s[i] == '\n' || s[i] == '\r' || s[i] == ' ')
			continue;
		c = strchr(b64, s[i]);
		if (!c || !s[i]) {
			free(out);
			return -1;
		}
		acc = (acc << 6) | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*ret_data = out;
	*ret_len = o;
	return 0;
}

size_t mk_strv_len(const void *vp)
{
	const char *const *v = vp;
	size_t n = 0;
	while (v && v[n])
		n++;
	return n;
}

void mk_strv_push(char ***v, size_t *n, char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		abort();
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
}

void mk_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

void *mk_grow(void *p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return p;
	size_t ncap = *cap ? *cap : 8;
	while (ncap < need)
		ncap *= 2;
	void *np = reallocarray(p, ncap, elem);
	if (!np)
		abort();
	*cap = ncap;
	return np;
}
