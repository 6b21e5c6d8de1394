/* Upstream resolvers: resolv.conf parsing and "host:port" addresses. */
#include <errno.h>
#include <arpa/inet.h>
#include "internal.h"

#define MAX_UPSTREAMS 8

int dns_parse_hostport(const char *s, uint16_t def_port, struct sockaddr_storage *ret,
		       socklen_t *ret_len)
{
	char host[64];
	const char *port = NULL;
	unsigned long pn = def_port;

	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || (size_t)(e - s - 1) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(e - s - 1), s + 1);
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			return -1;
	} else {
		const char *c = strchr(s, ':');
		if (c && strchr(c + 1, ':'))
			c = NULL; /* bare IPv6 */
		if (strlen(s) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", c ? (int)(c - s) : (int)strlen(s), s);
		if (c)
			port = c + 1;
	}
	if (port) {
		char *end;
		errno = 0;
		pn = strtoul(port, &end, 10);
		if (errno || *end || !*port || pn == 0 || pn > 65535)
			return -1;
	}
	struct sockaddr_in *a4 = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)pn);
		*ret_len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)pn);
		*ret_len = sizeof(*a6);
		return 0;
	}
	return -1;
}

bool dns_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return false;
}

/* Same address, ignoring text spelling ("::1" vs "0:0::1"). */
static bool same_ip(const char *a, const char *b)
{
	uint8_t x[16], y[16];
	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	if (inet_pton(AF_INET6, a, x) == 1)
		return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
	return false;
}

int mk_dns_resolv_conf_read(const char *path, const char *const *skip, char ***ret,
			    struct mk_error **err)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];
	char **v = mk_malloc0((MAX_UPSTREAMS + 1) * sizeof(*v));
	size_t n = 0;

	if (!f) {
		free(v);
		return mk_error_errno(err, errno, "open '%s'", path);
	}
	while (fgets(line, sizeof(line), f)) {
		char kw[32], addr[128];
		if (sscanf(line, " %31s %127s", kw, addr) != 2 || strcmp(kw, "nameserver") != 0)
			continue;
		char *pct = strchr(addr, '%'); /* fe80::1%eth0: zone ids unsupported */
		if (pct)
			continue;
		bool skipped = false;
		for (const char *const *s = skip; s && *s && !skipped; s++)
			skipped = same_ip(addr, *s);
		uint8_t tmp[16];
		if (skipped || n >= MAX_UPSTREAMS)
			continue;
		if (inet_pton(AF_INET, addr, tmp) == 1)
			v[n++] = mk_strdup_printf("%s:53", addr);
		else if (inet_pton(AF_INET6, addr, tmp) == 1)
			v[n++] = mk_strdup_printf("[%s]:53", addr);
	}
	*ret = v;
	return 0;
}
