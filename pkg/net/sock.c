/* Route netlink sockets bound to a network namespace, and helpers shared by the
 * per-object files (errors, address parsing, string vectors). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <netlink/errno.h>
#include "internal.h"

int nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_EXIST: return EEXIST;
	case NLE_OBJ_NOTFOUND: return ENOENT;
	case NLE_NODEV: return ENODEV;
	case NLE_PERM: return EPERM;
	case NLE_INVAL: return EINVAL;
	case NLE_BUSY: return EBUSY;
	case NLE_NOMEM: return ENOMEM;
	case NLE_NOADDR: return EADDRNOTAVAIL;
	case NLE_RANGE: return ERANGE;
	case NLE_AGAIN: return EAGAIN;
	case NLE_OPNOTSUPP: return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return EAFNOSUPPORT;
	case NLE_NOACCESS: return EACCES;
	case NLE_MSGSIZE: return EMSGSIZE;
	case NLE_INTR: return EINTR;
	default: return EIO;
	}
}

int nl_error(struct mk_error **err, int nlerr, const char *fmt, ...)
{
	_cleanup_free_ char *m = NULL;
	va_list ap;

	if (!err || *err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		abort();
	va_end(ap);
	return mk_error_set(err, nlerr_to_errno(nlerr), "%s: %s", m, nl_geterror(nlerr));
}

int parse_ipv4(const char *s, int with_prefix, struct in_addr *ret_addr, int *ret_prefix,
	       struct mk_error **err)
{
	char buf[MK_NET_CIDR_STRLEN + 1];
	char *slash, *end;
	long p = 32;

	if (!s || strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		if (!with_prefix)
			goto bad;
		*slash = '\0';
		errno = 0;
		p = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || p < 0 || p > 32)
			goto bad;
	} else if (with_prefix) {
		goto bad;
	}
	if (inet_pton(AF_INET, buf, ret_addr) != 1)
		goto bad;
	if (ret_prefix)
		*ret_prefix = (int)p;
	return 0;
bad:
	return mk_error_set(err, EINVAL, "invalid IPv4 %s '%s'", with_prefix ? "address/prefix" : "address",
			    s ? s : "");
}

int make_nladdr(struct in_addr a, int prefix, struct nl_addr **ret, struct mk_error **err)
{
	struct nl_addr *n = nl_addr_build(AF_INET, &a, sizeof(a));

	if (!n)
		return mk_error_set(err, ENOMEM, "allocate netlink address");
	nl_addr_set_prefixlen(n, prefix < 0 ? 32 : prefix);
	*ret = n;
	return 0;
}

int check_ifname(const char *name, struct mk_error **err)
{
	if (!name || !*name || strlen(name) >= IFNAMSIZ || strchr(name, '/') ||
	    strpbrk(name, " \t\n:"))
		return mk_error_set(err, EINVAL, "invalid interface name '%s'", name ? name : "");
	return 0;
}

int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- sockets ---------------------------------------------------------------- */

static int sock_connect_fn(void *userdata, struct mk_error **err)
{
	struct nl_sock *nl = userdata;
	int r = nl_connect(nl, NETLINK_ROUTE);

	if (r < 0)
		return nl_error(err, r, "connect route netlink socket");
	return 0;
}

int mk_net_sock_open(int netns_fd, struct mk_net_sock **ret, struct mk_error **err)
{
	struct mk_net_sock *s = mk_malloc0(sizeof(*s));
	int r;

	s->netns_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->nl = nl_socket_alloc();
	if (!s->nl) {
		mk_net_sock_free(s);
		return mk_error_set(err, ENOMEM, "allocate netlink socket");
	}
	if (netns_fd >= 0) {
		s->netns_fd = fcntl(netns_fd, F_DUPFD_CLOEXEC, 3);
		if (s->netns_fd < 0) {
			r = errno;
			mk_net_sock_free(s);
			return mk_error_errno(err, r, "duplicate network namespace fd");
		}
		/* a netlink socket belongs to the namespace of the thread that creates
		 * it, for its whole life: create it on a thread inside netns_fd */
		r = mk_net_netns_run(s->netns_fd, sock_connect_fn, s->nl, err);
	} else {
		r = sock_connect_fn(s->nl, err);
	}
	if (r < 0) {
		mk_net_sock_free(s);
		return -1;
	}
	*ret = s;
	return 0;
}

void mk_net_sock_free(struct mk_net_sock *s)
{
	if (!s)
		return;
	if (s->nl)
		nl_socket_free(s->nl);
	if (s->netns_fd >= 0)
		close(s->netns_fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int mk_net_sock_netns_fd(const struct mk_net_sock *s)
{
	return s->netns_fd;
}
