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

void mk_buf_vprintf(struct mk_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	size_t room;
	int n;

	/* format straight into the spare room; only a long result needs a second
	 * pass (this also avoids vsnprintf(NULL, 0, ...), which GCC 12 with
	 * -fsanitize=undefined rejects as "null format string") */
	buf_reserve(b, 128);
	room = b->cap - b->len;
	va_copy(again, ap);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	if (n < 0)
		abort();
	if ((size_t)n >= room) {
		buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
	}
	va_end(again);
	b->len += (size_t)n;
}

void mk_buf_printf(struct mk_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mk_buf_vprintf(b, fmt, ap);
	va_end(ap);
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

char *mk_base64url_encode(const void *data, size_t len)
{
	char *s = mk_base64_encode(data, len);
	size_t n = strlen(s);
	while (n && s[n - 1] == '=')
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return s;
}

int mk_base64url_decode(const char *s, size_t len, void **ret_data, size_t *ret_len)
{
	if (len % 4 == 1)
		return -1;
	_cleanup_free_ char *t = mk_malloc0(len + 4);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+' || c == '/' || c == '=' || c == '\0' || strchr(" \t\r\n", c))
			return -1;
		t[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	while (len % 4)
		t[len++] = '=';
	return mk_base64_decode(t, ret_data, ret_len);
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

/* ---- UTF-8 --------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0 when s[0] does not start one. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (!n || n > len)
		return 0;
	/* the second byte's range is narrower after E0, ED, F0 and F4 */
	unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
	unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool mk_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		size_t n = utf8_seq(p + i, len - i);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

char *mk_utf8_sanitize(const char *s, size_t len, size_t *ret_len)
{
	const unsigned char *p = (const unsigned char *)s;
	struct mk_buf b;

	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);
		if (n) {
			mk_buf_append(&b, p + i, n);
			i += n;
		} else {
			/* one U+FFFD per byte that starts no valid sequence, as Go does */
			mk_buf_append(&b, "\xef\xbf\xbd", 3);
			i++;
		}
	}
	if (ret_len)
		*ret_len = b.len;
	return mk_buf_steal(&b);
}
