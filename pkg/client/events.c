/* Event recorder: core/v1 Events written by one background thread so that a
 * controller never waits on them; repeats bump count/lastTimestamp (the
 * client-go event correlator's dedup, without its spam filter). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include "minik8s/client.h"

#define MAX_PENDING 1000
#define MAX_CACHE 4096

struct pending {
	struct pending *next;
	char *dedup;	/* dedup key */
	char *ns;
	cJSON *event;	/* the Event to create */
};

struct seen {
	char *name;
	int count;
};

struct mk_event_recorder {
	struct mk_client *c;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct pending *head, *tail;
	size_t npending;
	bool busy, stopping;
	pthread_t thread;
	struct mk_hmap seen; /* dedup key -> struct seen *; touched by the thread only */
	unsigned long dropped;
};

static void pending_free(struct pending *p)
{
	free(p->dedup);
	free(p->ns);
	cJSON_Delete(p->event);
	free(p);
}

static void seen_free(void *p)
{
	struct seen *s = p;
	free(s->name);
	free(s);
}

static void write_event(struct mk_event_recorder *r, struct pending *p)
{
	_cleanup_error_ struct mk_error *err = NULL;
	char ts[32];
	mk_time_format(time(NULL), ts, sizeof(ts));
	struct seen *s = mk_hmap_get(&r->seen, p->dedup);

	if (s) {
		_cleanup_free_ char *path = mk_client_resource_path("v1", "events", p->ns, s->name, NULL);
		_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
		cJSON_AddNumberToObject(patch, "count", s->count + 1);
		cJSON_AddStringToObject(patch, "lastTimestamp", ts);
		if (mk_client_patch(r->c, path, "application/merge-patch+json", patch, NULL, &err) == 0) {
			s->count++;
			return;
		}
		if (mk_error_code(err) != 404)
			return;
		mk_error_free(&err);
		seen_free(mk_hmap_del(&r->seen, p->dedup));
	}
	_cleanup_free_ char *path = mk_client_resource_path("v1", "events", p->ns, NULL, NULL);
	const char *iname = mk_json_get_string(p->event, "involvedObject.name");
	_cleanup_free_ char *name = mk_strdup_printf("%s.%llx", iname ? iname : "event",
						     (unsigned long long)mk_time_mono_ns() ^
							     ((unsigned long long)time(NULL) << 30));
	cJSON *md = mk_json_ensure_object(p->event, "metadata");
	mk_json_set_string(md, "name", name);
	mk_json_set_string(md, "namespace", p->ns);
	mk_json_set_string(p->event, "firstTimestamp", ts);
	mk_json_set_string(p->event, "lastTimestamp", ts);
	if (mk_client_create(r->c, path, p->event, NULL, &err) < 0)
		return;
	if (r->seen.n >= MAX_CACHE)
		mk_hmap_release(&r->seen, seen_free);
	struct seen *ns = mk_malloc0(sizeof(*ns));
	ns->name = mk_strdup(name);
	ns->count = 1;
	mk_hmap_put(&r->seen, p->dedup, ns);
}

static void *recorder_main(void *arg)
{
	struct mk_event_recorder *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->head && !r->stopping)
			pthread_cond_wait(&r->cond, &r->mu);
		if (!r->head)
			break;
		struct pending *p = r->head;
		r->head = p->next;
		if (!r->head)
			r->tail = NULL;
		r->npending--;
		r->busy = true;
		pthread_mutex_unlock(&r->mu);
		write_event(r, p);
		pending_free(p);
		pthread_mutex_lock(&r->mu);
		r->busy = false;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct mk_event_recorder *mk_event_recorder_new(struct mk_client *c)
{
	struct mk_event_recorder *r = mk_malloc0(sizeof(*r));
	r->c = c;
	pthread_mutex_init(&r->mu, NULL);
	mk_time_cond_init(&r->cond);
	mk_hmap_init(&r->seen);
	if (pthread_create(&r->thread, NULL, recorder_main, r))
		abort();
	return r;
}

int mk_event_recorder_flush(struct mk_event_recorder *r, int timeout_ms)
{
	struct timespec ts;
	mk_time_mono_deadline(&ts, (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms));
	pthread_mutex_lock(&r->mu);
	while (r->head || r->busy)
		if (pthread_cond_timedwait(&r->cond, &r->mu, &ts) == ETIMEDOUT)
			break;
	int done = !r->head && !r->busy;
	pthread_mutex_unlock(&r->mu);
	return done;
}

void mk_event_recorder_free(struct mk_event_recorder *r)
{
	if (!r)
		return;
	mk_client_stop_signal(&r->mu, &r->cond, &r->stopping);
	pthread_join(r->thread, NULL);
	mk_hmap_release(&r->seen, seen_free);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

void mk_event_record(struct mk_event_recorder *r, const char *component, const cJSON *involved,
		     const char *type, const char *reason, const char *fmt, ...)
{
	if (!r || !involved)
		return;
	va_list ap;
	_cleanup_free_ char *msg = NULL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);

	const char *ns = mk_json_get_string(involved, "metadata.namespace");
	const char *uid = mk_json_get_string(involved, "metadata.uid");
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "apiVersion", "v1");
	cJSON_AddStringToObject(ev, "kind", "Event");
	cJSON_AddObjectToObject(ev, "metadata");
	cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
	const char *keys[][2] = { { "kind", "kind" },
				  { "apiVersion", "apiVersion" },
				  { "namespace", "metadata.namespace" },
				  { "name", "metadata.name" },
				  { "uid", "metadata.uid" },
				  { "resourceVersion", "metadata.resourceVersion" } };
	for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++) {
		const char *v = mk_json_get_string(involved, keys[i][1]);
		if (v)
			cJSON_AddStringToObject(io, keys[i][0], v);
	}
	cJSON_AddStringToObject(ev, "reason", reason);
	cJSON_AddStringToObject(ev, "message", msg);
	cJSON_AddItemToObject(ev, "source", cJSON_CreateObject());
	cJSON_AddStringToObject(cJSON_GetObjectItem(ev, "source"), "component", component);
	cJSON_AddNumberToObject(ev, "count", 1);
	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddStringToObject(ev, "reportingComponent", component);
	cJSON_AddStringToObject(ev, "reportingInstance", "");

	struct pending *p = mk_malloc0(sizeof(*p));
	p->dedup = mk_strdup_printf("%s|%s|%s|%s|%s", uid ? uid : "", component, type, reason, msg);
	p->ns = mk_strdup(ns && *ns ? ns : "default");
	p->event = ev;

	pthread_mutex_lock(&r->mu);
	if (r->npending >= MAX_PENDING || r->stopping) {
		r->dropped++;
		pthread_mutex_unlock(&r->mu);
		pending_free(p);
		return;
	}
	if (r->tail)
		r->tail->next = p;
	else
		r->head = p;
	r->tail = p;
	r->npending++;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
}
