/* The exit watcher: one thread waiting (epoll) on pidfds of the containers'
 * shims, so a container's exit reaches its pod's sync at once instead of at the
 * next periodic resync. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include "internal.h"

struct watch_entry {
	struct watch_entry *next;
	int fd;
	char *uid;
};

static void *watcher_main(void *arg)
{
	struct mk_agent *a = arg;
	struct epoll_event evs[32];

	for (;;) {
		int n = epoll_wait(a->epfd, evs, MK_ARRAY_SIZE(evs), -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			struct watch_entry *w = evs[i].data.ptr;
			if (!w)
				return NULL; /* the wake fd: stopping */
			pthread_mutex_lock(&a->watch_mu);
			for (struct watch_entry **p = &a->watches; *p; p = &(*p)->next)
				if (*p == w) {
					*p = w->next;
					break;
				}
			pthread_mutex_unlock(&a->watch_mu);
			epoll_ctl(a->epfd, EPOLL_CTL_DEL, w->fd, NULL);
			close(w->fd);
			mk_workqueue_add(a->q, w->uid);
			free(w->uid);
			free(w);
		}
	}
	return NULL;
}

int agent_watcher_start(struct mk_agent *a, struct mk_error **err)
{
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->epfd < 0)
		return mk_error_errno(err, errno, "agent: epoll");
	a->wakefd = eventfd(0, EFD_CLOEXEC);
	if (a->wakefd < 0)
		return mk_error_errno(err, errno, "agent: eventfd");
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->wakefd, &ev) < 0)
		return mk_error_errno(err, errno, "agent: epoll_ctl");
	int r = pthread_create(&a->watcher_thread, NULL, watcher_main, a);
	if (r)
		return mk_error_errno(err, r, "agent: watcher thread");
	a->watcher_started = true;
	return 0;
}

void agent_watcher_stop(struct mk_agent *a)
{
	if (a->watcher_started) {
		uint64_t one = 1;
		if (write(a->wakefd, &one, sizeof(one)) < 0) {
			/* cannot happen with a fresh eventfd; join would hang: detach */
			pthread_detach(a->watcher_thread);
		} else {
			pthread_join(a->watcher_thread, NULL);
		}
		a->watcher_started = false;
	}
	while (a->watches) {
		struct watch_entry *w = a->watches;
		a->watches = w->next;
		close(w->fd);
		free(w->uid);
		free(w);
	}
	if (a->epfd >= 0)
		close(a->epfd);
	if (a->wakefd >= 0)
		close(a->wakefd);
	a->epfd = a->wakefd = -1;
}

void agent_watch_pid(struct mk_agent *a, const char *uid, pid_t pid)
{
	int fd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
	if (fd < 0) {
		/* already gone: sync again now */
		mk_workqueue_add(a->q, uid);
		return;
	}
	struct watch_entry *w = mk_malloc0(sizeof(*w));
	w->fd = fd;
	w->uid = mk_strdup(uid);
	pthread_mutex_lock(&a->watch_mu);
	w->next = a->watches;
	a->watches = w;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = w };
	int r = epoll_ctl(a->epfd, EPOLL_CTL_ADD, fd, &ev);
	if (r < 0) {
		a->watches = w->next;
		close(fd);
		free(w->uid);
		free(w);
	}
	pthread_mutex_unlock(&a->watch_mu);
	if (r < 0)
		mk_workqueue_add(a->q, uid);
}
