/* pkg/net private helpers shared by the per-object files. */
#ifndef MINIK8S_NET_INTERNAL_H
#define MINIK8S_NET_INTERNAL_H

#include <pthread.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include "minik8s/net.h"

struct mk_net_sock {
	struct nl_sock *nl;
	int netns_fd; /* dup of the namespace fd, or -1 (caller's namespace at open) */
	pthread_mutex_t lock;
};

/* Cleanup helpers for libnl objects. */
static inline void nl_link_putp(struct rtnl_link **l) { if (*l) rtnl_link_put(*l); }
static inline void nl_addr_putp(struct nl_addr **a) { if (*a) nl_addr_put(*a); }
static inline void nl_cache_freep(struct nl_cache **c) { if (*c) nl_cache_free(*c); }
static inline void rtnl_addr_putp(struct rtnl_addr **a) { if (*a) rtnl_addr_put(*a); }
static inline void rtnl_route_putp(struct rtnl_route **r) { if (*r) rtnl_route_put(*r); }
static inline void sock_unlockp(struct mk_net_sock **s) { if (*s) pthread_mutex_unlock(&(*s)->lock); }
#define _cleanup_link_ _cleanup_(nl_link_putp)
#define _cleanup_nladdr_ _cleanup_(nl_addr_putp)
#define _cleanup_cache_ _cleanup_(nl_cache_freep)
#define _cleanup_rtaddr_ _cleanup_(rtnl_addr_putp)
#define _cleanup_route_ _cleanup_(rtnl_route_putp)
/* Locks s for the rest of the scope (one per scope; the guard is only read by its
 * cleanup, hence unused for clang's -Wunused-variable). */
#define SOCK_LOCK(s)                                                              \
	pthread_mutex_lock(&(s)->lock);                                           \
	_cleanup_(sock_unlockp) __attribute__((unused)) struct mk_net_sock *_locked_ = (s)

/* Moves *e into *err if err wants one (else frees it). */
static inline void error_move(struct mk_error **err, struct mk_error **e)
{
	if (err && !*err)
		*err = *e;
	else
		mk_error_free(e);
	*e = NULL;
}

/* libnl error (negative NLE_*) -> errno. */
int nlerr_to_errno(int nlerr);
/* Sets *err from a libnl error; returns -1. */
int nl_error(struct mk_error **err, int nlerr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parses "a.b.c.d/len" (with_prefix) or "a.b.c.d"; returns 0 or -1 (EINVAL set). */
int parse_ipv4(const char *s, int with_prefix, struct in_addr *ret_addr, int *ret_prefix,
	       struct mk_error **err);
/* nl_addr for an IPv4 address (prefix -1 = 32). *ret owned. */
int make_nladdr(struct in_addr a, int prefix, struct nl_addr **ret, struct mk_error **err);
int check_ifname(const char *name, struct mk_error **err);

/* Fetches link NAME from the kernel (no cache). *ret owned; ENODEV if absent. The
 * socket must be locked by the caller. */
int link_get(struct mk_net_sock *s, const char *name, struct rtnl_link **ret,
	     struct mk_error **err);
/* Deletes NAME if it exists (and is of type want_type, if not NULL); 1 deleted,
 * 0 absent. Socket locked by the caller. */
int link_delete_locked(struct mk_net_sock *s, const char *name, const char *want_type,
		       struct mk_error **err);

/* Address helpers on a locked socket. */
struct ipv4_prefix {
	struct in_addr addr;
	int prefix;
};
int addr_add_locked(struct mk_net_sock *s, int ifindex, struct in_addr a, int prefix,
		    struct mk_error **err);
int addr_delete_locked(struct mk_net_sock *s, int ifindex, struct in_addr a, int prefix,
		       struct mk_error **err);
/* *ret owned (free()). */
int addr_list_locked(struct mk_net_sock *s, int ifindex, struct ipv4_prefix **ret,
		     size_t *ret_n, struct mk_error **err);
int link_set_up_locked(struct mk_net_sock *s, const char *name, struct mk_error **err);
int route_modify_locked(struct mk_net_sock *s, const char *dst, const char *gw,
			const char *ifname, int flags, struct mk_error **err);

int veth_create_locked(struct mk_net_sock *s, const struct mk_net_veth_config *c,
		       struct mk_error **err);

/* NULL-terminated string vector builder. */
int strv_cmp(const void *a, const void *b);

#endif
