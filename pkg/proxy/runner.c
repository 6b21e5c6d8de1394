/* The runner: informers on services and endpoints -> work queue -> one worker
 * that applies changes; a monitor on nftables notifications that asks for a
 * full resync when someone else touches our table. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>

#include "minik8s/client.h"
#include "internal.h"

#define KEY_RESYNC "\001resync"
#define KEY_CHECK "\001check"
#define SYNC_TIMEOUT_MS 30000

struct mk_proxy_runner {
	struct mk_proxy *proxy;
	struct mk_informer *svc, *ep;
	struct mk_workqueue *q;
	pthread_t worker, monitor;
	bool worker_started, monitor_started;
	struct mnl_socket *mon;
	int stopfd;
	unsigned resync_ms;
	unsigned full_syncs; /* atomic */
	char *node;
	struct proxy_health *health;  /* NULL without a node name */
	struct proxy_lbaddr *lbaddr;  /* NULL without node name and address */
	struct mk_proxy_socklb *socklb;  /* NULL: nftables alone */
};

static void on_event(const struct mk_object *old_obj, const struct mk_object *new_obj, void *userdata)
{
	struct mk_proxy_runner *r = userdata;
	const struct mk_object *o = new_obj ? new_obj : old_obj;
	if (o && o->key)
		mk_workqueue_add(r->q, o->key);
}

static int build(struct mk_proxy_runner *r, const struct mk_object *svc, struct mk_proxy_service **ret,
		 struct mk_error **err)
{
	struct mk_object *ep = mk_informer_get(r->ep, svc->key);
	int rc = mk_proxy_service_from_json_node(svc->json, ep ? ep->json : NULL, r->node, ret, err);
	mk_object_unref(ep);
	return rc;
}

/* The node-side parts beside the rules: health check port, held addresses. */
static void node_side(struct mk_proxy_runner *r, const char *key, const struct mk_object *svc,
		      const struct mk_proxy_service *s)
{
	if (r->health) {
		_cleanup_error_ struct mk_error *e = NULL;
		uint16_t port = s ? s->health_port : 0;
		if (proxy_health_set(r->health, key, port, s ? mk_proxy_service_local_count(s) : 0, &e) < 0)
			mk_log(MK_LOG_WARN, "proxy", "service '%s': health check port %u: %s", key, port,
			       e ? e->msg : "failed");
	}
	if (r->lbaddr)
		proxy_lbaddr_note(r->lbaddr, key, svc ? svc->json : NULL);
}

static int lbaddr_sync(struct mk_proxy_runner *r, struct mk_error **err)
{
	return r->lbaddr ? proxy_lbaddr_sync(r->lbaddr, err) : 0;
}

static int full_sync(struct mk_proxy_runner *r, struct mk_error **err)
{
	struct mk_object **objs = NULL;
	size_t n = mk_informer_list(r->svc, &objs);
	struct mk_proxy_desired d;
	mk_proxy_desired_init(&d);
	for (size_t i = 0; i < n; i++) {
		struct mk_proxy_service *s = NULL;
		_cleanup_error_ struct mk_error *e = NULL;
		if (build(r, objs[i], &s, &e) < 0) {
			mk_log(MK_LOG_WARN, "proxy", "skip service '%s': %s", objs[i]->key, e->msg);
			node_side(r, objs[i]->key, objs[i], NULL);
			continue;
		}
		node_side(r, objs[i]->key, objs[i], s);
		if (s)
			mk_proxy_desired_add(&d, s);
	}
	mk_object_list_free(objs, n);
	int rc = mk_proxy_sync_full(r->proxy, &d, err);
	if (rc == 0 && r->socklb)
		rc = mk_proxy_socklb_sync_full(r->socklb, &d, err);
	mk_proxy_desired_release(&d);
	if (rc == 0)
		rc = lbaddr_sync(r, err);
	if (rc == 0)
		__atomic_add_fetch(&r->full_syncs, 1, __ATOMIC_SEQ_CST);
	return rc;
}

static int sync_key(struct mk_proxy_runner *r, const char *key, struct mk_error **err)
{
	if (strcmp(key, KEY_RESYNC) == 0)
		return full_sync(r, err);
	if (strcmp(key, KEY_CHECK) == 0) {
		int e = mk_proxy_table_exists(r->proxy, err);
		if (e < 0)
			return -1;
		if (e == 0) {
			mk_log(MK_LOG_WARN, "proxy", "table '%s' is gone: resync", MK_PROXY_TABLE);
			return full_sync(r, err);
		}
		return 0;
	}
	struct mk_object *svc = mk_informer_get(r->svc, key);
	struct mk_proxy_service *s = NULL;
	int rc = 0;
	if (svc) {
		rc = build(r, svc, &s, err);
		if (rc < 0) {
			/* malformed: unprogram it rather than keep stale rules */
			mk_log(MK_LOG_WARN, "proxy", "service '%s': %s", key, (*err)->msg);
			mk_error_free(err);
			s = NULL;
		}
	}
	node_side(r, key, svc, s);
	mk_object_unref(svc);
	rc = mk_proxy_apply_change(r->proxy, key, s, err);
	/* after the nft change: a frontend the socket LB stops handling is served
	 * by rules already in place */
	if (rc == 0 && r->socklb)
		rc = mk_proxy_socklb_apply(r->socklb, key, s, err);
	mk_proxy_service_free(s);
	if (rc == 0)
		rc = lbaddr_sync(r, err);
	return rc;
}

static void *worker_main(void *arg)
{
	struct mk_proxy_runner *r = arg;
	char *key;
	while (mk_workqueue_get(r->q, -1, &key) == 1) {
		_cleanup_error_ struct mk_error *err = NULL;
		if (sync_key(r, key, &err) < 0) {
			mk_log(MK_LOG_WARN, "proxy", "%s: %s", key[0] == 1 ? key + 1 : key,
			       err ? err->msg : "failed");
			/* a failed batch leaves the kernel as it was but our record
			 * stale: converge with a full sync */
			mk_workqueue_add_rate_limited(r->q, KEY_RESYNC);
		} else {
			mk_workqueue_forget(r->q, key);
		}
		mk_workqueue_done(r->q, key);
		free(key);
	}
	return NULL;
}

/* ---- monitor ------------------------------------------------------------------ */

static int open_monitor(void *arg)
{
	struct mk_proxy_runner *r = arg;
	r->mon = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!r->mon)
		return -1;
	if (mnl_socket_bind(r->mon, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0)
		return -1;
	return 0;
}

/* true when the notification is a change to our table made by someone else */
static bool foreign_change(const struct nlmsghdr *nlh, uint32_t our_portid)
{
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return false;
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (type == NFT_MSG_NEWGEN || type == NFT_MSG_NEWTABLE)
		return false;
	if (nlh->nlmsg_pid == our_portid)
		return false;
	/* the kernel's own set element events (timeouts of the affinity map) */
	if (nlh->nlmsg_pid == 0 && (type == NFT_MSG_NEWSETELEM || type == NFT_MSG_DELSETELEM))
		return false;
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*g) || g->nfgen_family != NFPROTO_IPV4)
		return false;
	const struct nlattr *a;
	mnl_attr_for_each(a, nlh, sizeof(*g))
	{
		/* attribute 1 is the table name in table, chain, rule, set and
		 * element messages alike */
		if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return strcmp(mnl_attr_get_str(a), MK_PROXY_TABLE) == 0;
	}
	return false;
}

static void *monitor_main(void *arg)
{
	struct mk_proxy_runner *r = arg;
	char buf[65536];
	uint32_t our = proxy_nl_portid(r->proxy);
	uint64_t next_check = mk_time_mono_ns() + (uint64_t)r->resync_ms * 1000000;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = r->stopfd, .events = POLLIN },
					 { .fd = mnl_socket_get_fd(r->mon), .events = POLLIN } };
		uint64_t now = mk_time_mono_ns();
		int tmo = now >= next_check ? 0 : (int)((next_check - now) / 1000000);
		int n = poll(pfd, 2, tmo);
		if (n < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if (mk_time_mono_ns() >= next_check) {
			mk_workqueue_add(r->q, KEY_CHECK);
			next_check = mk_time_mono_ns() + (uint64_t)r->resync_ms * 1000000;
		}
		if (!(pfd[1].revents & POLLIN))
			continue;
		bool resync = false;
		for (;;) {
			ssize_t len = recv(mnl_socket_get_fd(r->mon), buf, sizeof(buf), 0);
			if (len < 0) {
				if (errno == ENOBUFS)
					resync = true; /* lost events: assume the worst */
				else if (errno != EINTR && errno != EAGAIN)
					resync = true;
				if (errno == EAGAIN)
					break;
				continue;
			}
			int l = (int)len;
			for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, l);
			     nlh = mnl_nlmsg_next(nlh, &l))
				if (foreign_change(nlh, our))
					resync = true;
		}
		if (resync) {
			mk_log(MK_LOG_INFO, "proxy", "table '%s' changed by someone else: resync",
			       MK_PROXY_TABLE);
			mk_workqueue_add(r->q, KEY_RESYNC);
		}
	}
	return NULL;
}

/* ---- start / stop ----------------------------------------------------------------- */

int mk_proxy_start(struct mk_client *c, const struct mk_proxy_runner_options *opts,
		   struct mk_proxy_runner **ret, struct mk_error **err)
{
	struct mk_proxy_runner *r = mk_malloc0(sizeof(*r));
	r->stopfd = -1;
	r->resync_ms = opts->resync_ms ? opts->resync_ms : 30000;
	r->node = opts->node_name ? mk_strdup(opts->node_name) : NULL;
	if (r->node && !opts->proxy.dry_run) {
		r->health = proxy_health_new(&opts->proxy, err);
		if (!r->health)
			goto fail;
		if (opts->node_ip) {
			r->lbaddr = proxy_lbaddr_new(r->node, opts->node_ip, opts->lb_state_file, err);
			if (!r->lbaddr)
				goto fail;
		}
	}
	if (mk_proxy_new(&opts->proxy, &r->proxy, err) < 0)
		goto fail;
	if (opts->socklb_cgroup_parent && !opts->proxy.dry_run) {
		_cleanup_error_ struct mk_error *e = NULL;
		_cleanup_free_ char *cg = NULL;
		if (mk_proxy_socklb_cgroup_path(opts->socklb_cgroup_parent, &cg, &e) == 0)
			r->socklb = mk_proxy_socklb_new(cg, &e);
		if (r->socklb)
			mk_log(MK_LOG_INFO, "proxy", "socket LB attached to '%s'", cg);
		else
			mk_log(MK_LOG_WARN, "proxy", "socket LB off, nftables only: %s", e ? e->msg : "failed");
	}
	r->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->stopfd < 0) {
		mk_error_errno(err, errno, "eventfd");
		goto fail;
	}
	if (!opts->proxy.dry_run && proxy_in_netns(proxy_options(r->proxy), open_monitor, r, err) < 0) {
		if (!err || !*err)
			mk_error_errno(err, errno, "open nftables monitor socket");
		goto fail;
	}
	r->q = mk_workqueue_new(100, 10000);
	r->svc = mk_informer_new(c, "/api/v1/services");
	r->ep = mk_informer_new(c, "/api/v1/endpoints");
	mk_informer_add_handler(r->svc, on_event, r);
	mk_informer_add_handler(r->ep, on_event, r);
	if (mk_informer_start(r->svc, err) < 0 || mk_informer_start(r->ep, err) < 0)
		goto fail;
	if (!mk_informer_wait_synced(r->svc, SYNC_TIMEOUT_MS) ||
	    !mk_informer_wait_synced(r->ep, SYNC_TIMEOUT_MS)) {
		mk_error_set(err, ETIMEDOUT, "proxy: services/endpoints caches did not sync");
		goto fail;
	}
	/* the first full sync, synchronous: the node serves services once we return */
	if (full_sync(r, err) < 0)
		goto fail;
	if (pthread_create(&r->worker, NULL, worker_main, r)) {
		mk_error_set(err, EAGAIN, "proxy: worker thread");
		goto fail;
	}
	r->worker_started = true;
	if (r->mon) {
		if (pthread_create(&r->monitor, NULL, monitor_main, r)) {
			mk_error_set(err, EAGAIN, "proxy: monitor thread");
			goto fail;
		}
		r->monitor_started = true;
	}
	*ret = r;
	return 0;
fail:
	mk_proxy_stop(r);
	return mk_error_wrap(err, "start proxy");
}

unsigned mk_proxy_runner_full_syncs(struct mk_proxy_runner *r)
{
	return __atomic_load_n(&r->full_syncs, __ATOMIC_SEQ_CST);
}

void mk_proxy_stop(struct mk_proxy_runner *r)
{
	if (!r)
		return;
	if (r->stopfd >= 0) {
		uint64_t one = 1;
		if (write(r->stopfd, &one, sizeof(one)) < 0) {
			/* eventfd write cannot fail short of overflow */
		}
	}
	if (r->monitor_started)
		pthread_join(r->monitor, NULL);
	mk_informer_stop(r->svc);
	mk_informer_stop(r->ep);
	if (r->q)
		mk_workqueue_shutdown(r->q);
	if (r->worker_started)
		pthread_join(r->worker, NULL);
	mk_informer_free(r->svc);
	mk_informer_free(r->ep);
	mk_workqueue_free(r->q);
	if (r->mon)
		mnl_socket_close(r->mon);
	if (r->stopfd >= 0)
		close(r->stopfd);
	mk_proxy_socklb_free(r->socklb);
	mk_proxy_free(r->proxy);
	proxy_health_free(r->health);
	proxy_lbaddr_free(r->lbaddr);
	free(r->node);
	free(r);
}
