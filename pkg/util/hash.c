#include <gnutls/crypto.h>
#include "minik8s/util.h"

void mk_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[32];
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d) < 0)
		abort();
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[64] = '\0';
}
