#include <errno.h>
#include <sys/random.h>
#include "minik8s/util.h"

void mk_random_bytes(void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = getrandom((char *)buf + off, len - off, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			abort();
		}
		off += (size_t)n;
	}
}

void mk_uuid_v4(char out[37])
{
	uint8_t b[16];
	mk_random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

void mk_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[64];
	size_t i = 0;
	while (i < nbytes) {
		size_t n = nbytes - i < sizeof(b) ? nbytes - i : sizeof(b);
		mk_random_bytes(b, n);
		for (size_t j = 0; j < n; j++, i++) {
			out[2 * i] = hex[b[j] >> 4];
			out[2 * i + 1] = hex[b[j] & 15];
		}
	}
	out[2 * nbytes] = '\0';
}

void mk_random_k8s_suffix(char *out, size_t n)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	for (size_t i = 0; i < n; i++) {
		uint8_t c;
		do
			mk_random_bytes(&c, 1);
		while (c >= 27 * 9); /* no modulo bias */
		out[i] = alpha[c % 27];
	}
	out[n] = '\0';
}
