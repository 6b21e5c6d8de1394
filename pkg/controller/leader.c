/* Leader election on a coordination.k8s.io/v1 Lease, as client-go's
 * tools/leaderelection does it (see include/minik8s/controller.h): one thread
 * acquires and renews every retry period; a runner thread calls the started /
 * stopped callbacks, so a slow start (the controllers' caches syncing) never delays a
 * renewal. Expiry is judged by our own monotonic clock from when we last saw the
 * record change, never by comparing the holder's timestamps with our wall clock. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "minik8s/api.h"
#include "internal.h"

struct mk_leader {
	struct mk_client *c;
	struct mk_leader_options o;
	char *ns, *name, *identity, *path, *coll;
	struct mk_event_recorder *rec; /* LeaderElection events on the Lease (mk_leader_run) */
	char uid[64];		       /* the Lease's, for those events */

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cond;
	cJSON *observed;     /* the spec we last saw (or wrote) */
	uint64_t observed_ms; /* when it last changed, by o.clock_ms */
	bool leader;	      /* observed holder is us */
	uint64_t renewed_ms;  /* our last successful write as leader */
	bool stopping;
	bool running; /* threads started */
	bool want;    /* runner: leadership wanted started (true) or stopped */
	bool active;  /* runner: started_leading succeeded, stopped not yet called */
	pthread_t elector, runner;
};

static uint64_t now_ms(struct mk_leader *l)
{
	return l->o.clock_ms ? l->o.clock_ms() : mk_time_mono_ms();
}


int mk_leader_new(struct mk_client *c, const struct mk_leader_options *opts,
		  struct mk_leader **ret, struct mk_error **err)
{
	if (!opts || !opts->ns || !opts->name || !*opts->ns || !*opts->name)
		return mk_error_set(err, EINVAL, "leader election: no lease namespace or name");
	struct mk_leader *l = mk_malloc0(sizeof(*l));
	l->c = c;
	l->o = *opts;
	if (!l->o.lease_duration_s)
		l->o.lease_duration_s = 15;
	if (!l->o.renew_deadline_ms)
		l->o.renew_deadline_ms = 10000;
	if (!l->o.retry_period_ms)
		l->o.retry_period_ms = 2000;
	l->ns = mk_strdup(opts->ns);
	l->name = mk_strdup(opts->name);
	if (opts->identity && *opts->identity) {
		l->identity = mk_strdup(opts->identity);
	} else {
		/* client-go's default for kube-controller-manager: hostname + "_" + uuid */
		char host[256] = "localhost", uuid[37];
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		mk_uuid_v4(uuid);
		l->identity = mk_strdup_printf("%s_%s", host, uuid);
	}
	l->coll = mk_client_resource_path("coordination.k8s.io/v1", "leases", l->ns, NULL, NULL);
	l->path = mk_client_resource_path("coordination.k8s.io/v1", "leases", l->ns, l->name, NULL);
	pthread_mutex_init(&l->mu, NULL);
	mk_time_cond_init(&l->cond);
	*ret = l;
	return 0;
}

const char *mk_leader_identity(const struct mk_leader *l)
{
	return l->identity;
}

bool mk_leader_is_leader(struct mk_leader *l)
{
	pthread_mutex_lock(&l->mu);
	bool r = l->leader;
	pthread_mutex_unlock(&l->mu);
	return r;
}

static const char *holder_of(const cJSON *spec)
{
	const char *h = mk_json_get_string(spec, "holderIdentity");
	return h ? h : "";
}

static int duration_of(const cJSON *spec)
{
	const cJSON *d = cJSON_GetObjectItem(spec, "leaseDurationSeconds");
	return cJSON_IsNumber(d) && d->valueint > 0 ? d->valueint : 0;
}

/* records what we saw or wrote; the caller holds mu */
static void observe(struct mk_leader *l, const cJSON *spec, uint64_t now)
{
	if (!l->observed || !cJSON_Compare(l->observed, spec, 1)) {
		cJSON_Delete(l->observed);
		l->observed = cJSON_Duplicate(spec, 1);
		l->observed_ms = now;
	}
	l->leader = !strcmp(holder_of(spec), l->identity);
}

/* spec was written: it is what we saw last, and the lease is renewed; 1 */
static int wrote(struct mk_leader *l, const cJSON *spec, uint64_t now)
{
	pthread_mutex_lock(&l->mu);
	observe(l, spec, now);
	l->renewed_ms = now;
	pthread_mutex_unlock(&l->mu);
	return 1;
}

/* A Lease with our namespace and name, nothing else (owned). */
static cJSON *lease_object(const struct mk_leader *l)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1");
	cJSON_AddStringToObject(obj, "kind", "Lease");
	cJSON *md = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(md, "name", l->name);
	cJSON_AddStringToObject(md, "namespace", l->ns);
	return obj;
}

static cJSON *new_spec(struct mk_leader *l, const char *acquire, int transitions)
{
	char now[64];
	mk_time_micro_now(now, sizeof(now));
	cJSON *spec = cJSON_CreateObject();
	cJSON_AddStringToObject(spec, "holderIdentity", l->identity);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", l->o.lease_duration_s);
	cJSON_AddStringToObject(spec, "acquireTime", acquire ? acquire : now);
	cJSON_AddStringToObject(spec, "renewTime", now);
	cJSON_AddNumberToObject(spec, "leaseTransitions", transitions);
	return spec;
}

int mk_leader_try(struct mk_leader *l, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *lease = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	uint64_t now = now_ms(l);

	if (mk_client_get(l->c, l->path, &lease, &e) < 0) {
		if (e->code != 404) {
			*err = TAKE_PTR(e);
			return mk_error_wrap(err, "get lease %s/%s", l->ns, l->name);
		}
		_cleanup_cjson_ cJSON *obj = lease_object(l);
		cJSON *spec = new_spec(l, NULL, 0);
		cJSON_AddItemToObject(obj, "spec", spec);
		mk_error_free(&e);
		if (mk_client_create(l->c, l->coll, obj, NULL, &e) < 0) {
			if (e->code == 409)
				return 0; /* another candidate created it first */
			*err = TAKE_PTR(e);
			return mk_error_wrap(err, "create lease %s/%s", l->ns, l->name);
		}
		return wrote(l, spec, now);
	}

	const cJSON *old = cJSON_GetObjectItem(lease, "spec");
	_cleanup_cjson_ cJSON *empty = cJSON_CreateObject();
	const char *uid = mk_json_get_string(lease, "metadata.uid");
	pthread_mutex_lock(&l->mu);
	snprintf(l->uid, sizeof(l->uid), "%s", uid ? uid : "");
	pthread_mutex_unlock(&l->mu);
	if (!cJSON_IsObject(old))
		old = empty;
	const char *holder = holder_of(old);
	const cJSON *tr = cJSON_GetObjectItem(old, "leaseTransitions");
	int transitions = cJSON_IsNumber(tr) && tr->valueint > 0 ? tr->valueint : 0;
	const char *acq = mk_json_get_string(old, "acquireTime");

	pthread_mutex_lock(&l->mu);
	observe(l, old, now);
	bool mine = l->leader;
	bool valid = now < l->observed_ms + (uint64_t)duration_of(old) * 1000;
	pthread_mutex_unlock(&l->mu);
	if (*holder && valid && !mine)
		return 0;

	cJSON *spec = new_spec(l, mine ? acq : NULL, mine ? transitions : transitions + 1);
	mk_json_set(lease, "spec", spec);
	if (mk_client_update(l->c, l->path, lease, NULL, &e) < 0) {
		if (e->code == 409)
			return 0; /* someone wrote in between: read again next time */
		*err = TAKE_PTR(e);
		return mk_error_wrap(err, "update lease %s/%s", l->ns, l->name);
	}
	return wrote(l, spec, now);
}

int mk_leader_release(struct mk_leader *l, struct mk_error **err)
{
	_cleanup_cjson_ cJSON *lease = NULL;
	if (!mk_leader_is_leader(l))
		return 0;
	if (mk_client_get(l->c, l->path, &lease, err) < 0)
		return mk_error_wrap(err, "get lease %s/%s", l->ns, l->name);
	const cJSON *old = cJSON_GetObjectItem(lease, "spec");
	if (strcmp(holder_of(old), l->identity)) {
		pthread_mutex_lock(&l->mu);
		l->leader = false;
		pthread_mutex_unlock(&l->mu);
		return 0; /* taken meanwhile: nothing of ours to give up */
	}
	/* client-go's release: an empty holder, a 1 s duration, transitions kept */
	char now[64];
	mk_time_micro_now(now, sizeof(now));
	const cJSON *tr = cJSON_GetObjectItem(old, "leaseTransitions");
	cJSON *spec = cJSON_CreateObject();
	cJSON_AddStringToObject(spec, "holderIdentity", "");
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", 1);
	cJSON_AddStringToObject(spec, "acquireTime", now);
	cJSON_AddStringToObject(spec, "renewTime", now);
	cJSON_AddNumberToObject(spec, "leaseTransitions", cJSON_IsNumber(tr) ? tr->valueint : 0);
	mk_json_set(lease, "spec", spec);
	if (mk_client_update(l->c, l->path, lease, NULL, err) < 0)
		return mk_error_wrap(err, "release lease %s/%s", l->ns, l->name);
	pthread_mutex_lock(&l->mu);
	observe(l, spec, now_ms(l));
	pthread_mutex_unlock(&l->mu);
	return 0;
}

/* client-go's LeaseLock.RecordEvent: a Normal "LeaderElection" Event on the Lease
 * saying "<identity> became leader" / "<identity> stopped leading"; mu held */
static void leader_event(struct mk_leader *l, const char *what)
{
	if (!l->rec)
		return;
	_cleanup_cjson_ cJSON *obj = lease_object(l);
	if (l->uid[0])
		cJSON_AddStringToObject(cJSON_GetObjectItem(obj, "metadata"), "uid", l->uid);
	mk_event_record(l->rec, l->name, obj, "Normal", "LeaderElection", "%s %s", l->identity, what);
}

/* ---- threads ------------------------------------------------------------------------ */

/* waits ms or until stopping; the caller holds mu. true if stopping */
static bool wait_locked(struct mk_leader *l, uint64_t ms)
{
	struct timespec ts;
	mk_time_mono_deadline(&ts, ms);
	while (!l->stopping)
		if (pthread_cond_timedwait(&l->cond, &l->mu, &ts) == ETIMEDOUT)
			break;
	return l->stopping;
}

static void *elector_main(void *arg)
{
	struct mk_leader *l = arg;
	pthread_mutex_lock(&l->mu);
	while (!l->stopping) {
		pthread_mutex_unlock(&l->mu);
		_cleanup_error_ struct mk_error *e = NULL;
		int r = mk_leader_try(l, &e);
		pthread_mutex_lock(&l->mu);
		bool lead = r == 1;
		/* a failed write (API unreachable) keeps leadership until the renew
		 * deadline passes without a renewal; another live holder ends it now */
		if (r < 0 && l->want && now_ms(l) < l->renewed_ms + l->o.renew_deadline_ms)
			lead = true;
		if (lead != l->want) {
			l->want = lead;
			leader_event(l, lead ? "became leader" : "stopped leading");
			pthread_cond_broadcast(&l->cond);
		}
		/* client-go jitters the retry period by up to 20% while acquiring */
		uint64_t wait = l->o.retry_period_ms;
		if (!lead) {
			unsigned j;
			mk_random_bytes(&j, sizeof(j));
			wait += j % (l->o.retry_period_ms / 5 + 1);
		}
		wait_locked(l, wait);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

static void *runner_main(void *arg)
{
	struct mk_leader *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		if (l->want && !l->active && !l->stopping) {
			pthread_mutex_unlock(&l->mu);
			int r = l->o.started_leading ? l->o.started_leading(l->o.ctx) : 0;
			pthread_mutex_lock(&l->mu);
			if (r == 0) {
				l->active = true;
				mk_log(MK_LOG_INFO, "leader", "successfully acquired lease %s/%s as %s",
				       l->ns, l->name, l->identity);
			} else {
				wait_locked(l, l->o.retry_period_ms);
			}
			continue;
		}
		if (l->active && (!l->want || l->stopping)) {
			pthread_mutex_unlock(&l->mu);
			if (l->o.stopped_leading)
				l->o.stopped_leading(l->o.ctx);
			pthread_mutex_lock(&l->mu);
			l->active = false;
			if (l->stopping)
				mk_log(MK_LOG_INFO, "leader", "stopped leading: shutting down");
			else
				mk_log(MK_LOG_INFO, "leader", "stopped leading: lease %s/%s held by \"%s\"",
				       l->ns, l->name, holder_of(l->observed));
			continue;
		}
		if (l->stopping)
			break;
		pthread_cond_wait(&l->cond, &l->mu);
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int mk_leader_run(struct mk_leader *l, struct mk_error **err)
{
	l->rec = mk_event_recorder_new(l->c);
	int r = pthread_create(&l->elector, NULL, elector_main, l);
	if (r)
		return mk_error_errno(err, r, "leader election thread");
	r = pthread_create(&l->runner, NULL, runner_main, l);
	if (r) {
		mk_client_stop_signal(&l->mu, &l->cond, &l->stopping);
		pthread_join(l->elector, NULL);
		return mk_error_errno(err, r, "leader runner thread");
	}
	l->running = true;
	return 0;
}

void mk_leader_free(struct mk_leader *l)
{
	if (!l)
		return;
	if (l->running) {
		mk_client_stop_signal(&l->mu, &l->cond, &l->stopping);
		pthread_join(l->elector, NULL);
		pthread_join(l->runner, NULL); /* calls stopped_leading if it was leading */
	}
	/* best effort: on failure the Lease simply expires */
	_cleanup_error_ struct mk_error *e = NULL;
	if (mk_leader_is_leader(l) && mk_leader_release(l, &e) == 0) {
		pthread_mutex_lock(&l->mu);
		leader_event(l, "stopped leading");
		pthread_mutex_unlock(&l->mu);
	}
	mk_event_recorder_free(l->rec); /* flushes */
	cJSON_Delete(l->observed);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->path);
	free(l->coll);
	free(l);
}
