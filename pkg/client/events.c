/* Event recorder: core/v1 Events written by one background thread so that a
 * controller never waits on them, through client-go's EventCorrelator
 * (tools/record/events_cache.go), in its order:
 *   - the spam filter: a token bucket per source and object (burst 25, one token
 *     back per 5 minutes); an event without a token is dropped;
 *   - the aggregator: once an object has had 10 events of the same reason with
 *     different messages within 10 minutes, further ones become one event
 *     "(combined from similar events): MESSAGE";
 *   - the logger: a repeat of the same event (or of the combined one) bumps
 *     count, lastTimestamp and message of the Event written first with a PATCH
 *     instead of creating another.
 * Its caches (4096 keys each, client-go's LRU size) are emptied when full. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <pthread.h>
#include <stdlib.h>
#include "minik8s/client.h"

#define MAX_PENDING 1000
#define MAX_CACHE 4096
#define SPAM_BURST 25
#define SPAM_REFILL_S 300 /* one token per 5 minutes (qps 1/300) */
#define AGG_MAX_EVENTS 10
#define AGG_INTERVAL_S 600
#define AGG_PREFIX "(combined from similar events): "

struct pending {
	struct pending *next;
	char *spam;	/* spam key: source, object, type */
	char *agg;	/* aggregate key: source, object, type, reason */
	char *msg;
	char *ns;
	time_t when;
	cJSON *event;	/* the Event to create */
};

struct bucket {
	double tokens;
	time_t last;
};

struct agg {
	struct mk_hmap msgs; /* the distinct messages seen (values unused) */
	time_t last;
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
	/* touched by the thread only: */
	struct mk_hmap seen;	/* dedup key -> struct seen * */
	struct mk_hmap buckets; /* spam key -> struct bucket * */
	struct mk_hmap aggs;	/* aggregate key -> struct agg * */
	unsigned long dropped;	/* the queue was full */
	unsigned long filtered; /* the spam filter refused */
};

static void pending_free(struct pending *p)
{
	free(p->spam);
	free(p->agg);
	free(p->msg);
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

static void agg_free(void *p)
{
	struct agg *a = p;
	mk_hmap_release(&a->msgs, NULL);
	free(a);
}

/* The spam filter: whether the event's source and object have a token left. */
static bool spam_allow(struct mk_event_recorder *r, const struct pending *p)
{
	struct bucket *b = mk_hmap_get(&r->buckets, p->spam);
	if (!b) {
		if (r->buckets.n >= MAX_CACHE)
			mk_hmap_release(&r->buckets, free);
		b = mk_malloc0(sizeof(*b));
		b->tokens = SPAM_BURST;
		b->last = p->when;
		mk_hmap_put(&r->buckets, p->spam, b);
	}
	if (p->when > b->last) {
		b->tokens += (double)(p->when - b->last) / SPAM_REFILL_S;
		if (b->tokens > SPAM_BURST)
			b->tokens = SPAM_BURST;
		b->last = p->when;
	}
	if (b->tokens < 1)
		return false;
	b->tokens -= 1;
	return true;
}

/* The aggregator: the dedup key of the event, and whether it is to be combined
 * (the object had AGG_MAX_EVENTS distinct messages of this reason lately). */
static char *aggregate(struct mk_event_recorder *r, const struct pending *p, bool *combine)
{
	struct agg *a = mk_hmap_get(&r->aggs, p->agg);
	if (a && p->when - a->last > AGG_INTERVAL_S) {
		mk_hmap_release(&a->msgs, NULL);
		mk_hmap_init(&a->msgs);
	}
	if (!a) {
		if (r->aggs.n >= MAX_CACHE)
			mk_hmap_release(&r->aggs, agg_free);
		a = mk_malloc0(sizeof(*a));
		mk_hmap_init(&a->msgs);
		mk_hmap_put(&r->aggs, p->agg, a);
	}
	a->last = p->when;
	mk_hmap_put(&a->msgs, p->msg, a);
	*combine = a->msgs.n >= AGG_MAX_EVENTS;
	if (!*combine)
		return mk_strdup_printf("%s|%s", p->agg, p->msg);
	/* the set stays below the bound: one message out (client-go's PopAny) */
	struct mk_hmap_iter it = MK_HMAP_ITER_INIT;
	_cleanup_free_ char *any = mk_strdup(mk_hmap_iter_next(&a->msgs, &it)->key);
	mk_hmap_del(&a->msgs, any);
	return mk_strdup(p->agg);
}

/* A repeat: count + 1, lastTimestamp and message by PATCH. 1 done, 0 the Event is
 * gone (create it again), -1 failed. */
static int bump_event(struct mk_event_recorder *r, const struct pending *p, const char *key,
		      struct seen *s, const char *msg, const char *ts)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *path = mk_client_resource_path("v1", "events", p->ns, s->name, NULL);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddNumberToObject(patch, "count", s->count + 1);
	cJSON_AddStringToObject(patch, "lastTimestamp", ts);
	cJSON_AddStringToObject(patch, "message", msg);
	if (mk_client_patch(r->c, path, "application/merge-patch+json", patch, NULL, &err) == 0) {
		s->count++;
		return 1;
	}
	if (mk_error_code(err) != 404)
		return -1;
	seen_free(mk_hmap_del(&r->seen, key));
	return 0;
}

static void write_event(struct mk_event_recorder *r, struct pending *p)
{
	_cleanup_error_ struct mk_error *err = NULL;
	char ts[32];
	mk_time_format(p->when, ts, sizeof(ts));
	if (!spam_allow(r, p)) {
		r->filtered++;
		return;
	}
	bool combine;
	_cleanup_free_ char *key = aggregate(r, p, &combine);
	_cleanup_free_ char *msg = combine ? mk_strdup_printf(AGG_PREFIX "%s", p->msg) : mk_strdup(p->msg);
	struct seen *s = mk_hmap_get(&r->seen, key);
	if (s && bump_event(r, p, key, s, msg, ts) != 0)
		return;
	mk_json_set_string(p->event, "message", msg);
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
	mk_hmap_put(&r->seen, key, ns);
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
	mk_hmap_init(&r->buckets);
	mk_hmap_init(&r->aggs);
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
	mk_hmap_release(&r->buckets, free);
	mk_hmap_release(&r->aggs, agg_free);
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
	const char *kind = mk_json_get_string(involved, "kind");
	const char *name = mk_json_get_string(involved, "metadata.name");
	p->spam = mk_strdup_printf("%s|%s|%s|%s|%s|%s", component, kind ? kind : "", ns ? ns : "",
				   name ? name : "", uid ? uid : "", type);
	p->agg = mk_strdup_printf("%s|%s", p->spam, reason);
	p->msg = mk_strdup(msg);
	p->when = time(NULL);
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
