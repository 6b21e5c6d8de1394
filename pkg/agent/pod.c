/* The pod sync: one level-triggered pass over one pod (by uid) comparing what the
 * API wants with what runs, then writing the pod status. The kubelet's
 * syncPod/killPod in one place. Each pass: init containers one at a time until the
 * pod is initialized (rules in init.c; sidecars are waited for to start, not to
 * complete), then sidecars kept running and app containers started or restarted,
 * ephemeral containers started once; sidecars stop after the app containers.
 * agent_pod_sync reads as its steps (struct sync carries what they share):
 * sandbox_step, init_step, containers_step, ephemeral_step, sandbox_done, phase_step,
 * status_step; starting one container is start_container's steps (struct start):
 * ensure_image, rootfs_prepare, env_and_argv, volumes_prepare, mounts_build,
 * security_prepare, container_run, then instance_rotate or start_failed. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"

/* ---- state ----------------------------------------------------------------------- */

static void ctr_release(struct ctr_state *c)
{
	free(c->name);
	free(c->cid);
	free(c->prev_cid);
	cJSON_Delete(c->last_term);
	cJSON_Delete(c->term);
	free(c->image_id);
	free(c->wait_reason);
	free(c->wait_message);
	free(c->pull_error);
	free(c->probed_cid);
	free(c->watched_cid);
}

void agent_pod_state_free(struct pod_state *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		ctr_release(&s->c[i]);
	free(s->c);
	free(s->uid);
	free(s->ns);
	free(s->name);
	free(s->start_time);
	agent_sa_tokens_free(s->tokens);
	agent_sandbox_net_finish(s, NULL); /* none is left running past a sync */
	free(s);
}

struct mk_object *agent_pod_get(struct mk_agent *a, const char *uid)
{
	struct mk_object **objs = NULL;
	size_t n = mk_informer_by_index(a->pods, "uid", uid, &objs);
	struct mk_object *o = n ? mk_object_ref(objs[0]) : NULL;
	mk_object_list_free(objs, n);
	return o;
}

static struct pod_state *state_find(struct mk_agent *a, const char *uid)
{
	pthread_mutex_lock(&a->mu);
	struct pod_state *s = a->states;
	while (s && strcmp(s->uid, uid))
		s = s->next;
	pthread_mutex_unlock(&a->mu);
	return s;
}

static void state_remove(struct mk_agent *a, const char *uid)
{
	struct pod_state *found = NULL;
	pthread_mutex_lock(&a->mu);
	for (struct pod_state **p = &a->states; *p; p = &(*p)->next)
		if (!strcmp((*p)->uid, uid)) {
			found = *p;
			*p = found->next;
			break;
		}
	pthread_mutex_unlock(&a->mu);
	agent_pod_state_free(found);
}

static char *container_id(const char *uid, const char *name, unsigned restart)
{
	return mk_strdup_printf("%s-%08x-%u", uid, mk_fnv1a32_str(name), restart);
}

/* Restart number of cid if it belongs to container name of uid, else -1. */
static long cid_restart(const char *cid, const char *uid, const char *name)
{
	char pfx[64];
	snprintf(pfx, sizeof(pfx), "%s-%08x-", uid, mk_fnv1a32_str(name));
	if (!mk_str_has_prefix(cid, pfx))
		return -1;
	char *end;
	long v = strtol(cid + strlen(pfx), &end, 10);
	return *end || v < 0 ? -1 : v;
}

static cJSON *term_json(const struct mk_runtime_container_status *rs, const char *cid,
			const char *reason)
{
	char ts[32];
	cJSON *t = cJSON_CreateObject();
	int code = rs->exit_code < 0 ? 137 : rs->exit_code;
	cJSON_AddNumberToObject(t, "exitCode", code);
	if (rs->signal)
		cJSON_AddNumberToObject(t, "signal", rs->signal);
	if (!reason && rs->oom_killed)
		reason = "OOMKilled"; /* the container's cgroup saw an OOM kill */
	cJSON_AddStringToObject(t, "reason", reason ? reason : code == 0 ? "Completed" : "Error");
	if (rs->started_ns) {
		agent_time_ns_format(rs->started_ns, ts, sizeof(ts));
		cJSON_AddStringToObject(t, "startedAt", ts);
	}
	agent_time_ns_format(rs->finished_ns ? rs->finished_ns : agent_now_ms() * 1000000, ts,
			     sizeof(ts));
	cJSON_AddStringToObject(t, "finishedAt", ts);
	_cleanup_free_ char *id = mk_strdup_printf("runc://%s", cid);
	cJSON_AddStringToObject(t, "containerID", id);
	return t;
}

static const char *const kind_lists[] = {
	[CTR_APP] = "spec.containers",
	[CTR_INIT] = "spec.initContainers",
	[CTR_EPHEMERAL] = "spec.ephemeralContainers",
};

/* The spec of ct in pod (borrowed), or NULL. */
static const cJSON *ctr_spec(const cJSON *pod, const struct ctr_state *ct)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, kind_lists[ct->kind]))
	{
		const char *name = mk_json_get_string(c, "name");
		if (name && !strcmp(name, ct->name))
			return c;
	}
	return NULL;
}

static bool is_sidecar(const cJSON *c)
{
	const char *rp = mk_json_get_string(c, "restartPolicy");
	return rp && !strcmp(rp, "Always");
}

static bool state_has(const struct pod_state *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->c[i].name, name))
			return true;
	return false;
}

/* Appends the containers of list kind that s does not track yet; caller holds
 * a->mu when s is published (the stream resolver reads s->c). */
static void state_add_kind(struct pod_state *s, const cJSON *pod, enum ctr_kind kind)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, mk_json_get(pod, kind_lists[kind]))
	{
		const char *name = mk_json_get_string(c, "name");
		if (!name || state_has(s, name))
			continue;
		MK_GROW(s->c, s->c_cap, s->n + 1);
		struct ctr_state *ct = &s->c[s->n++];
		memset(ct, 0, sizeof(*ct));
		ct->name = mk_strdup(name);
		ct->kind = kind;
		ct->sidecar = kind == CTR_INIT && is_sidecar(c);
	}
}

/* Adopts runtime containers of ct found at start-up (the newest is current, the
 * one before it the previous instance). Caller holds a->mu. */
static void adopt_locked(struct mk_agent *a, struct pod_state *s, struct ctr_state *ct)
{
	long best = -1, second = -1;
	for (size_t k = 0; k < a->n_adopt; k++) {
		long r = cid_restart(a->adopt[k].id, s->uid, ct->name);
		if (r > best) {
			second = best;
			best = r;
		} else if (r > second) {
			second = r;
		}
	}
	if (best >= 0) {
		ct->cid = container_id(s->uid, ct->name, (unsigned)best);
		ct->restarts = (unsigned)best;
		ct->crashes = (unsigned)best;
	}
	if (second >= 0)
		ct->prev_cid = container_id(s->uid, ct->name, (unsigned)second);
}

static void adopt_finish(struct mk_agent *a, struct pod_state *s, size_t from)
{
	for (size_t i = from; i < s->n; i++) {
		struct ctr_state *ct = &s->c[i];
		struct mk_runtime_container_status rs;
		_cleanup_error_ struct mk_error *e = NULL;
		if (ct->prev_cid && mk_runtime_container_status_get(a->rt, ct->prev_cid, &rs, &e) == 0 &&
		    rs.state == MK_RUNTIME_STATE_EXITED)
			ct->last_term = term_json(&rs, ct->prev_cid, NULL);
		if (ct->cid)
			mk_log(MK_LOG_INFO, "agent", "pod %s/%s: adopted container %s", s->ns, s->name,
			       ct->cid);
	}
}

/* What the API already knows (an agent restarted, or its runtime state is gone):
 * init containers that completed do not run again. */
static void adopt_status(struct pod_state *s, const cJSON *pod)
{
	const cJSON *cond, *cs;
	cJSON_ArrayForEach(cond, mk_json_get(pod, "status.conditions"))
	{
		const char *t = mk_json_get_string(cond, "type"), *v = mk_json_get_string(cond, "status");
		if (t && v && !strcmp(t, "Initialized") && !strcmp(v, "True") &&
		    cJSON_GetArraySize(mk_json_get(pod, "spec.initContainers")) > 0)
			s->initialized = true;
	}
	cJSON_ArrayForEach(cs, mk_json_get(pod, "status.initContainerStatuses"))
	{
		const char *name = mk_json_get_string(cs, "name");
		const cJSON *term = mk_json_get(cs, "state.terminated");
		const cJSON *code = cJSON_GetObjectItem(term, "exitCode");
		for (size_t i = 0; name && i < s->n; i++) {
			struct ctr_state *ct = &s->c[i];
			if (ct->kind != CTR_INIT || ct->sidecar || ct->cid || strcmp(ct->name, name) ||
			    !cJSON_IsNumber(code) || code->valueint != 0)
				continue;
			ct->term = cJSON_Duplicate(term, 1);
			ct->done = true;
			const cJSON *rc = cJSON_GetObjectItem(cs, "restartCount");
			ct->restarts = cJSON_IsNumber(rc) ? (unsigned)rc->valueint : 0;
		}
	}
}

/* A new state for pod, adopting containers found at start-up. */
static struct pod_state *state_new(struct mk_agent *a, const cJSON *pod)
{
	struct pod_state *s = mk_malloc0(sizeof(*s));
	s->uid = mk_strdup(mk_json_get_string(pod, "metadata.uid"));
	s->ns = mk_strdup(mk_json_get_string(pod, "metadata.namespace"));
	s->name = mk_strdup(mk_json_get_string(pod, "metadata.name"));
	const char *st = mk_json_get_string(pod, "status.startTime");
	if (st && *st) {
		s->start_time = mk_strdup(st);
	} else {
		char ts[32];
		mk_time_format(time(NULL), ts, sizeof(ts));
		s->start_time = mk_strdup(ts);
	}
	state_add_kind(s, pod, CTR_INIT);
	state_add_kind(s, pod, CTR_APP);
	state_add_kind(s, pod, CTR_EPHEMERAL);
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < s->n; i++)
		adopt_locked(a, s, &s->c[i]);
	/* adopted once: a later state for this uid must not adopt them again */
	for (size_t k = 0; k < a->n_adopt; k++)
		if (mk_str_has_prefix(a->adopt[k].id, s->uid)) {
			free(a->adopt[k].id);
			a->adopt[k].id = mk_strdup("");
		}
	s->next = a->states;
	a->states = s;
	pthread_mutex_unlock(&a->mu);
	adopt_finish(a, s, 0);
	adopt_status(s, pod);
	return s;
}

/* Ephemeral containers added to the spec since the state was made. */
static void state_grow(struct mk_agent *a, struct pod_state *s, const cJSON *pod)
{
	pthread_mutex_lock(&a->mu);
	state_add_kind(s, pod, CTR_EPHEMERAL);
	pthread_mutex_unlock(&a->mu);
}

/* ---- helpers over the pod spec ------------------------------------------------------- */

static const char *restart_policy(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "spec.restartPolicy");
	return p && *p ? p : "Always";
}

static bool should_restart(const cJSON *pod, int exit_code)
{
	const char *p = restart_policy(pod);
	if (!strcmp(p, "Never"))
		return false;
	if (!strcmp(p, "OnFailure"))
		return exit_code != 0;
	return true;
}

/* Whether ct runs again after exiting with exit_code. */
static bool restart_wanted(const cJSON *pod, const struct pod_state *st, const struct ctr_state *ct,
			   int exit_code)
{
	switch (ct->kind) {
	case CTR_EPHEMERAL:
		return false; /* never restarted */
	case CTR_INIT:
		if (ct->sidecar)
			return !st->apps_done; /* restarted whatever the pod's policy */
		/* a failed init container is retried under Always and OnFailure */
		return exit_code != 0 && strcmp(restart_policy(pod), "Never") != 0;
	case CTR_APP:
		break;
	}
	return should_restart(pod, exit_code);
}

static int num_field(const cJSON *obj, const char *key, int def)
{
	const cJSON *v = cJSON_GetObjectItem(obj, key);
	return cJSON_IsNumber(v) ? v->valueint : def;
}

static int termination_grace(const cJSON *pod)
{
	const cJSON *g = mk_json_get(pod, "spec.terminationGracePeriodSeconds");
	return cJSON_IsNumber(g) && g->valueint >= 0 ? g->valueint : 30;
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = mk_strdup(v);
}

/* ---- environment ---------------------------------------------------------------------- */

struct envv {
	char **v;
	size_t n;
};

static void env_set(struct envv *e, const char *key, const char *value)
{
	size_t kl = strlen(key);
	char *kv = mk_strdup_printf("%s=%s", key, value ? value : "");
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], key, kl) && e->v[i][kl] == '=') {
			free(e->v[i]);
			e->v[i] = kv;
			return;
		}
	mk_strv_push(&e->v, &e->n, kv);
}

static const char *env_get(const struct envv *e, const char *key, size_t kl)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i], key, kl) && e->v[i][kl] == '=')
			return e->v[i] + kl + 1;
	return NULL;
}

/* Kubernetes' $(VAR) expansion: $(VAR) from vars if defined (else kept as is),
 * $$ -> $. Owned result. */
static char *expand(const char *s, const struct envv *vars)
{
	struct mk_buf b;
	mk_buf_init(&b);
	for (const char *p = s; *p;) {
		if (p[0] == '$' && p[1] == '$') {
			mk_buf_puts(&b, "$");
			p += 2;
		} else if (p[0] == '$' && p[1] == '(') {
			const char *end = strchr(p + 2, ')');
			const char *v = end ? env_get(vars, p + 2, (size_t)(end - p - 2)) : NULL;
			if (v) {
				mk_buf_puts(&b, v);
				p = end + 1;
			} else {
				mk_buf_append(&b, p, 2);
				p += 2;
			}
		} else {
			mk_buf_append(&b, p, 1);
			p++;
		}
	}
	if (!b.data)
		mk_buf_puts(&b, "");
	return mk_buf_steal(&b);
}

/* metadata.labels['x'] style lookups */
static const char *map_ref(const cJSON *pod, const char *path, const char *field)
{
	size_t n = strlen(field);
	if (!mk_str_has_prefix(path, field) || path[n] != '[' || (path[n + 1] != '\'' && path[n + 1] != '"'))
		return NULL;
	char key[256];
	const char *k = path + n + 2;
	const char *e = strchr(k, path[n + 1]);
	if (!e || (size_t)(e - k) >= sizeof(key))
		return NULL;
	memcpy(key, k, (size_t)(e - k));
	key[e - k] = '\0';
	const cJSON *m = mk_json_get(pod, field);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static int field_ref(struct mk_agent *a, struct pod_state *st, const cJSON *pod, const char *path,
		     const char **ret, struct mk_error **err)
{
	static const char *const direct[] = { "metadata.name", "metadata.namespace", "metadata.uid",
					      "spec.nodeName", "spec.serviceAccountName" };
	for (size_t i = 0; i < MK_ARRAY_SIZE(direct); i++)
		if (!strcmp(path, direct[i])) {
			const char *v = mk_json_get_string(pod, path);
			*ret = v ? v : "";
			return 0;
		}
	if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs")) {
		*ret = st->ip;
		return 0;
	}
	if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs")) {
		*ret = a->node_ip;
		return 0;
	}
	if ((*ret = map_ref(pod, path, "metadata.labels")) ||
	    (*ret = map_ref(pod, path, "metadata.annotations")))
		return 0;
	return mk_error_set(err, EINVAL, "unsupported fieldRef fieldPath \"%s\"", path);
}

/* envFrom values go to the container and to the $(VAR) expansion of later entries */
struct env_pair {
	struct envv *env, *podenv;
};

static void env_set_both(void *ctx, const char *key, const char *value)
{
	struct env_pair *p = ctx;
	env_set(p->env, key, value);
	env_set(p->podenv, key, value);
}

/* The image's environment (Config.Env, "KEY=value" entries) */
static void image_env_set(struct envv *env, const struct mk_image_config *ic)
{
	for (size_t i = 0; ic && ic->env && ic->env[i]; i++) {
		char *eq = strchr(ic->env[i], '=');
		if (!eq)
			continue;
		_cleanup_free_ char *k = strndup(ic->env[i], (size_t)(eq - ic->env[i]));
		if (!k)
			abort();
		env_set(env, k, eq + 1);
	}
}

/* The value of env entry e of container c (owned, *ret): valueFrom's fieldRef,
 * resourceFieldRef, configMapKeyRef or secretKeyRef, else value with $(VAR)
 * expanded from podenv. 1 (and no value) for an optional key that is missing. */
static int env_entry_value(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			   const cJSON *c, const cJSON *e, struct agent_envsrc *src,
			   const struct envv *podenv, char **ret, struct mk_error **err)
{
	const char *value = mk_json_get_string(e, "value");
	const cJSON *from = cJSON_GetObjectItem(e, "valueFrom");
	if (!from) {
		*ret = expand(value ? value : "", podenv);
		return 0;
	}
	const char *fp = mk_json_get_string(from, "fieldRef.fieldPath");
	if (fp) {
		const char *fv = NULL;
		if (field_ref(a, st, pod, fp, &fv, err) < 0)
			return -1;
		*ret = mk_strdup(fv);
		return 0;
	}
	if (mk_json_get(from, "resourceFieldRef")) {
		const char *res = mk_json_get_string(from, "resourceFieldRef.resource");
		char path[128];
		snprintf(path, sizeof(path), "resources.%s", res ? res : "");
		const char *q = mk_json_get_string(c, path);
		*ret = mk_strdup(q ? q : "0");
		return 0;
	}
	const cJSON *sel = cJSON_GetObjectItem(from, "configMapKeyRef");
	bool secret = !cJSON_IsObject(sel);
	if (secret)
		sel = cJSON_GetObjectItem(from, "secretKeyRef");
	char *v = NULL;
	if (agent_envsrc_key(a, src, pod, sel, secret, &v, err) < 0)
		return -1;
	if (!v)
		return 1; /* optional and missing */
	*ret = v;
	return 0;
}

static int build_env(struct mk_agent *a, struct pod_state *st, const cJSON *pod, const cJSON *c,
		     const struct mk_image_config *ic, const char *hostname, struct envv *env,
		     struct mk_error **err)
{
	struct envv podenv = { 0 };
	struct agent_envsrc src = { 0 };
	struct env_pair both = { env, &podenv };
	const cJSON *e;
	int r = 0;

	env_set(env, "HOSTNAME", hostname);
	image_env_set(env, ic);
	/* service variables: over the image's, under and usable by the explicit ones */
	if (agent_svcenv_add(a, pod, env_set_both, &both, err) < 0) {
		r = -1;
		goto out;
	}
	/* envFrom first; env entries override them and may refer to them with $(VAR) */
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "envFrom"))
	{
		if (agent_envsrc_from(a, &src, pod, e, env_set_both, &both, err) < 0) {
			r = -1;
			goto out;
		}
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(c, "env"))
	{
		const char *name = mk_json_get_string(e, "name");
		if (!name)
			continue;
		_cleanup_free_ char *v = NULL;
		int k = env_entry_value(a, st, pod, c, e, &src, &podenv, &v, err);
		if (k < 0) {
			r = -1;
			break;
		}
		if (k > 0)
			continue;
		env_set(&podenv, name, v);
		env_set(env, name, v);
	}
out:
	agent_envsrc_release(&src);
	mk_strv_free(podenv.v);
	return r;
}

static char **json_strv(const cJSON *arr, const struct envv *vars)
{
	int n = cJSON_GetArraySize(arr);
	if (n <= 0)
		return NULL;
	char **v = mk_malloc0(((size_t)n + 1) * sizeof(char *));
	int k = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, arr)
		if (cJSON_IsString(it))
			v[k++] = vars ? expand(it->valuestring, vars) : mk_strdup(it->valuestring);
	return v;
}

/* ---- starting a container ----------------------------------------------------------------- */

/* Lowers *next_ms, the time the pod is synced again (0: none yet), to t. */
static void due(int64_t *next_ms, int64_t t)
{
	if (t > 0 && (!*next_ms || t < *next_ms))
		*next_ms = t;
}

static void unmount_container_dir(struct mk_agent *a, const char *uid, const char *cid)
{
	_cleanup_free_ char *pdir = agent_pod_dir(a, uid);
	_cleanup_free_ char *cdir = mk_strdup_printf("%s/containers/%s", pdir, cid);
	_cleanup_error_ struct mk_error *e = NULL;
	if (mk_image_rootfs_unmount(cdir, 1, &e) < 0)
		mk_log(MK_LOG_WARN, "agent", "rootfs of %s: %s", cid, e->msg);
	rmdir(cdir);
}

/* A pull failed a moment ago and its back-off runs: ErrImagePull for a second, then
 * ImagePullBackOff, whose waiting message carries the failed pull's own error (the
 * event does not), as kubelet 1.32's image manager. */
static void image_backoff_wait(struct mk_agent *a, const cJSON *pod, const char *image,
			       struct ctr_state *ct, int64_t now, int64_t *next_ms)
{
	set_str(&ct->wait_reason, now - ct->pull_failed_ms < 1000 ? "ErrImagePull" : "ImagePullBackOff");
	if (strcmp(ct->wait_reason, "ErrImagePull")) {
		_cleanup_free_ char *m = mk_strdup_printf("Back-off pulling image \"%s\"", image ? image : "");
		_cleanup_free_ char *wm = ct->pull_error ? mk_strdup_printf("%s: %s", m, ct->pull_error)
							 : NULL;
		set_str(&ct->wait_message, wm ? wm : m);
		if (!ct->pull_backoff_evented)
			agent_event(a, pod, "Normal", "BackOff", "%s", m);
		ct->pull_backoff_evented = true;
	}
	int64_t flip = ct->pull_failed_ms + 1000;
	due(next_ms, flip > now ? flip : ct->pull_retry_ms);
}

/* Image for container c; 0 present, 1 waiting (back-off, reason set), -1 on error. */
static int ensure_image(struct mk_agent *a, const cJSON *pod, const cJSON *c, struct ctr_state *ct,
			int64_t *next_ms)
{
	const char *image = mk_json_get_string(c, "image");
	int64_t now = agent_now_ms();
	enum mk_image_pull_policy policy;
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_image_info info = { 0 };

	if (ct->pull_retry_ms > now) {
		image_backoff_wait(a, pod, image, ct, now, next_ms);
		return 1;
	}
	if (mk_image_pull_policy_parse(mk_json_get_string(c, "imagePullPolicy"), image ? image : "",
				       &policy, &err) < 0) {
		set_str(&ct->wait_reason, "InvalidImageName");
		set_str(&ct->wait_message, err->msg);
		return 1;
	}
	bool present = image && mk_image_get(a->images, image, &info, NULL) == 0;
	mk_image_info_release(&info);
	bool pulls = image && mk_image_pull_policy_should_pull(policy, present);
	if (pulls)
		agent_event(a, pod, "Normal", "Pulling", "Pulling image \"%s\"", image);
	uint64_t t0 = mk_time_mono_ns();
	_cleanup_(agent_creds_release) struct agent_creds creds = { 0 };
	if (pulls)
		agent_pull_credentials(a, pod, &creds);
	struct mk_image_pull_opts po = { .registries_config = a->registries_config,
					 .creds = creds.v, .n_creds = creds.n };
	const char *reason = NULL;
	if (!image || mk_image_ensure(a->images, image, policy, &po, NULL, &reason, &err) < 0) {
		const char *msg = err ? err->msg : "no image given";
		reason = reason ? reason : MK_IMAGE_REASON_INVALID_NAME;
		ct->pull_failures++;
		ct->pull_backoff_evented = false;
		ct->pull_failed_ms = agent_now_ms();
		ct->pull_retry_ms = ct->pull_failed_ms +
				    (int64_t)mk_agent_backoff_ms(ct->pull_failures + 1, a->backoff_base_ms,
								 a->backoff_max_ms);
		set_str(&ct->wait_reason, reason);
		set_str(&ct->wait_message, msg);
		free(ct->pull_error);
		ct->pull_error = mk_strdup_printf("%s: %s", reason, msg);
		agent_event(a, pod, "Warning", "Failed", "Failed to pull image \"%s\": %s",
			    image ? image : "", msg);
		agent_event(a, pod, "Warning", "Failed", "Error: %s", reason);
		due(next_ms, ct->pull_failed_ms + 1000);
		return 1;
	}
	if (pulls)
		agent_event(a, pod, "Normal", "Pulled", "Successfully pulled image \"%s\" in %.3fs",
			    image, (double)(mk_time_mono_ns() - t0) / 1e9);
	else
		agent_event(a, pod, "Normal", "Pulled",
			    "Container image \"%s\" already present on machine", image);
	ct->pull_failures = 0;
	free(ct->pull_error);
	ct->pull_error = NULL;
	ct->pull_retry_ms = 0;
	if (mk_image_get(a->images, image, &info, NULL) == 0) {
		_cleanup_free_ char *id =
			info.manifest_digest && info.repository
				? mk_strdup_printf("%s@%s", info.repository, info.manifest_digest)
				: mk_strdup(info.id);
		set_str(&ct->image_id, id);
		mk_image_info_release(&info);
	}
	return 0;
}

struct vol {
	const char *name;
	char *path;
};

/* Host paths of the pod's volumes (emptyDir under the pod dir, hostPath; the
 * projected kinds of volume.c). EAGAIN: a volume waits for its object. */
static int pod_volumes(struct mk_agent *a, struct pod_state *st, const cJSON *pod, struct vol **ret,
		       size_t *ret_n, struct mk_error **err)
{
	const cJSON *v;
	size_t n = 0;
	struct vol *vs = mk_malloc0(((size_t)cJSON_GetArraySize(mk_json_get(pod, "spec.volumes")) + 1) *
				    sizeof(*vs));
	_cleanup_free_ char *pdir = agent_pod_dir(a, st->uid);
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
	{
		const char *name = mk_json_get_string(v, "name");
		if (!name)
			continue;
		if (cJSON_GetObjectItem(v, "emptyDir")) {
			char *p = mk_strdup_printf("%s/volumes/%s", pdir, name);
			if (mk_fs_mkdir_p(p, 0777, err) < 0) {
				free(p);
				goto fail;
			}
			if (agent_volume_empty_dir(a, v, p, err) < 0) {
				free(p);
				goto fail;
			}
			chmod(p, 0777);
			vs[n++] = (struct vol){ name, p };
		} else if (agent_volume_is_projected(v)) {
			char *p = NULL;
			if (agent_volume_project(a, st, pod, v, &p, err) < 0)
				goto fail;
			vs[n++] = (struct vol){ name, p };
		} else if (mk_json_get_string(v, "hostPath.path")) {
			const char *hp = mk_json_get_string(v, "hostPath.path");
			const char *type = mk_json_get_string(v, "hostPath.type");
			if (type && !strcmp(type, "DirectoryOrCreate") &&
			    mk_fs_mkdir_p(hp, 0755, err) < 0)
				goto fail;
			vs[n++] = (struct vol){ name, mk_strdup(hp) };
		} else if (cJSON_GetObjectItem(v, "persistentVolumeClaim")) {
			char *p = NULL;
			bool ro = false; /* applied to the mounts (agent_pvc_read_only) */
			if (agent_pvc_volume(a, pod, v, &p, &ro, err) < 0)
				goto fail;
			vs[n++] = (struct vol){ name, p };
		}
	}
	*ret = vs;
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++)
		free(vs[i].path);
	free(vs);
	return -1;
}

/* What travels between the steps of start_container; start_release frees it. */
struct start {
	struct mk_agent *a;
	struct pod_state *st;
	const cJSON *pod, *c;
	struct ctr_state *ct;
	const char *image, *hostname;
	char *cid, *pdir, *cdir, *rootfs;
	struct mk_image_config *ic;
	struct envv env;
	struct mk_agent_security sec; /* security.c */
	char **argv;
	struct vol *vols;
	size_t nvols;
	char *etc_files[3]; /* the pod's hosts, resolv.conf and hostname */
	struct mk_runtime_mount *mounts;
	size_t nm;
	char **subpaths; /* bind mounts of the subPath volumeMounts (strv) */
	size_t nsub;
	const char *reason; /* the waiting reason should the current step fail */
	bool sandbox_failed; /* the pod's network failed: the sync reports it */
	struct mk_error *err;
};

/* The image's root file system mounted under the container's directory, and its config. */
static int rootfs_prepare(struct start *s)
{
	struct mk_agent *a = s->a;
	s->reason = "CreateContainerError";
	/* a leftover of an attempt interrupted by a crash of the agent */
	if (mk_runtime_container_delete(a->rt, s->cid, NULL) == 0)
		mk_log(MK_LOG_INFO, "agent", "removed stale container %s", s->cid);
	if (mk_fs_mkdir_p(s->cdir, 0700, &s->err) < 0)
		return -1;
	if (mk_image_rootfs_mount(a->images, s->image, s->cdir, &s->rootfs, &s->err) < 0) {
		if (s->err->code != EBUSY)
			return -1;
		mk_error_free(&s->err);
		mk_image_rootfs_unmount(s->cdir, 1, NULL);
		if (mk_image_rootfs_mount(a->images, s->image, s->cdir, &s->rootfs, &s->err) < 0)
			return -1;
	}
	return mk_image_config_get(a->images, s->image, &s->ic, &s->err);
}

/* The environment, then the command line: the image's entrypoint and cmd merged
 * with the container's command and args, $(VAR) expanded from the environment. */
static int env_and_argv(struct start *s)
{
	s->reason = "CreateContainerConfigError";
	if (build_env(s->a, s->st, s->pod, s->c, s->ic, s->hostname, &s->env, &s->err) < 0)
		return -1;
	_cleanup_strv_ char **cmd = json_strv(cJSON_GetObjectItem(s->c, "command"), &s->env);
	_cleanup_strv_ char **args = json_strv(cJSON_GetObjectItem(s->c, "args"), &s->env);
	return mk_runtime_args_merge((const char *const *)s->ic->entrypoint,
				     (const char *const *)s->ic->cmd, (const char *const *)cmd,
				     (const char *const *)args, &s->argv, &s->err);
}

/* The pod's volumes on the host; EAGAIN (an object a volume needs is missing) is
 * no failure of the container but a wait (kubelet: FailedMount, retried). */
static int volumes_prepare(struct start *s)
{
	if (pod_volumes(s->a, s->st, s->pod, &s->vols, &s->nvols, &s->err) < 0) {
		if (s->err->code == EAGAIN)
			s->reason = "ContainerCreating";
		return -1;
	}
	return 0;
}

/* Whether volume name is mounted read-only whatever the volumeMount says. */
static bool volume_forces_ro(const cJSON *pod, const char *name)
{
	const cJSON *pv;
	if (agent_pvc_read_only(pod, name))
		return true;
	cJSON_ArrayForEach(pv, mk_json_get(pod, "spec.volumes"))
	{
		const char *pn = mk_json_get_string(pv, "name");
		if (pn && !strcmp(pn, name) && agent_volume_is_projected(pv))
			return true; /* always read-only, as the kubelet mounts them */
	}
	return false;
}

/* One volumeMount of the container as a runtime mount (a subPath bind-mounted first). */
static int volume_mount_add(struct start *s, const cJSON *vm)
{
	const char *vn = mk_json_get_string(vm, "name");
	const char *mp = mk_json_get_string(vm, "mountPath");
	const char *sp = mk_json_get_string(vm, "subPath");
	const char *spx = mk_json_get_string(vm, "subPathExpr");
	const char *src = NULL;
	bool ro = cJSON_IsTrue(cJSON_GetObjectItem(vm, "readOnly"));
	if (vn && volume_forces_ro(s->pod, vn))
		ro = true;
	for (size_t i = 0; vn && i < s->nvols; i++)
		if (!strcmp(s->vols[i].name, vn))
			src = s->vols[i].path;
	if (!src || !mp)
		return mk_error_set(&s->err, EINVAL, "volumeMount \"%s\": no such volume",
				    vn ? vn : "");
	if ((sp && *sp) || (spx && *spx)) {
		/* subPathExpr: $(VAR) from the container's environment */
		_cleanup_free_ char *x = spx && *spx ? expand(spx, &s->env) : NULL;
		char *path = NULL;
		if (agent_volume_subpath(s->a, s->st->uid, s->ct->name, s->nsub, src, x ? x : sp,
					 &path, &s->err) < 0)
			return mk_error_wrap(&s->err, "failed to prepare subPath for volumeMount \"%s\" "
						      "of container \"%s\"", vn, s->ct->name);
		mk_strv_push(&s->subpaths, &s->nsub, path);
		src = path;
	}
	s->mounts[s->nm++] = (struct mk_runtime_mount){ src, mp, ro };
	return 0;
}

/* The pod's /etc files, then the container's volumeMounts. */
static int mounts_build(struct start *s)
{
	static const struct {
		const char *file, *dest;
	} etc[] = { { "hosts", "/etc/hosts" },
		    { "resolv.conf", "/etc/resolv.conf" },
		    { "hostname", "/etc/hostname" } };
	const cJSON *vm;
	int nvm = cJSON_GetArraySize(cJSON_GetObjectItem(s->c, "volumeMounts"));
	s->mounts = mk_malloc0((MK_ARRAY_SIZE(etc) + (size_t)(nvm > 0 ? nvm : 0)) *
			       sizeof(*s->mounts));
	for (size_t i = 0; i < MK_ARRAY_SIZE(etc); i++) {
		s->etc_files[i] = mk_strdup_printf("%s/%s", s->pdir, etc[i].file);
		s->mounts[s->nm++] = (struct mk_runtime_mount){ s->etc_files[i], etc[i].dest, false };
	}
	cJSON_ArrayForEach(vm, cJSON_GetObjectItem(s->c, "volumeMounts"))
		if (volume_mount_add(s, vm) < 0)
			return -1;
	return 0;
}

/* securityContext (security.c): user, groups, capabilities, runAsNonRoot; fsGroup
 * applied to the volumes. */
static int security_prepare(struct start *s)
{
	if (mk_agent_security_resolve(s->pod, s->c, s->ic->user, s->rootfs, &s->sec, &s->err) < 0)
		return -1;
	for (size_t i = 0; s->sec.fs_group >= 0 && i < s->nvols; i++)
		if (agent_volume_fsgroup_set(s->pod, s->vols[i].name, s->vols[i].path,
					     s->sec.fs_group, &s->err) < 0)
			return -1;
	return 0;
}

/* The runtime creates and starts the container from everything gathered. */
static int container_run(struct start *s, unsigned restart, const char *pidns, const char *ipcns)
{
	struct mk_agent *a = s->a;
	struct pod_state *st = s->st;
	const cJSON *c = s->c;
	/* resources as cgroup limits (resources.c) */
	struct mk_agent_limits lim;
	mk_agent_limits_compute(c, &lim);
	bool cg2 = mk_runtime_cgroup2_unified();
	char netns[512], rs[16], nsname[64];
	agent_netns_name(st->uid, nsname);
	if (agent_host_network(s->pod))
		snprintf(netns, sizeof(netns), "/proc/%d/ns/net", (int)getpid()); /* the node's */
	else
		snprintf(netns, sizeof(netns), "%s/%s", a->netns_dir, nsname);
	snprintf(rs, sizeof(rs), "%u", restart);
	const char *wd = mk_json_get_string(c, "workingDir");
	if (!wd || !*wd)
		wd = s->ic->working_dir && *s->ic->working_dir ? s->ic->working_dir : NULL;
	struct mk_runtime_kv ann[] = {
		{ "io.kubernetes.pod.name", st->name },
		{ "io.kubernetes.pod.namespace", st->ns },
		{ "io.kubernetes.pod.uid", st->uid },
		{ "io.kubernetes.container.name", s->ct->name },
		{ "io.kubernetes.container.restartCount", rs },
	};
	struct mk_runtime_container_spec spec = {
		.id = s->cid,
		.rootfs = s->rootfs,
		.rootfs_readonly = s->sec.readonly_rootfs,
		.args = (const char *const *)s->argv,
		.env = (const char *const *)s->env.v,
		.cwd = wd,
		.uid = s->sec.uid,
		.gid = s->sec.gid,
		.additional_gids = s->sec.groups,
		.n_additional_gids = s->sec.n_groups,
		.capabilities = (const char *const *)s->sec.caps,
		.privileged = s->sec.privileged,
		.no_new_privileges = s->sec.no_new_privileges,
		.hostname = s->hostname,
		.netns_path = netns,
		.pidns_path = pidns,
		.ipcns_path = ipcns,
		.mounts = s->mounts,
		.n_mounts = s->nm,
		.tty = cJSON_IsTrue(cJSON_GetObjectItem(c, "tty")),
		.open_stdin = cJSON_IsTrue(cJSON_GetObjectItem(c, "stdin")),
		.stdin_once = cJSON_IsTrue(cJSON_GetObjectItem(c, "stdinOnce")),
		.memory_limit = lim.memory,
		/* no swap beyond the limit (the kubelet's NoSwap); v1 hosts may lack
		 * the memsw files, so only where runc writes memory.swap.max */
		.memory_no_swap = cg2 && lim.memory > 0,
		.memory_oom_group = cg2 && lim.memory > 0,
		.cpu_shares = lim.cpu_shares,
		.cpu_quota = lim.cpu_quota,
		.cpu_period = lim.cpu_period,
		.annotations = ann,
		.n_annotations = MK_ARRAY_SIZE(ann),
	};
	/* the network, wired while the steps before ran, must be there first */
	if (agent_sandbox_net_wait(st, &s->err) < 0) {
		s->sandbox_failed = true;
		return -1;
	}
	s->reason = "RunContainerError";
	/* created and started in one runc exec (`runc run --detach` under the shim) */
	if (mk_runtime_container_run(a->rt, &spec, &s->err) < 0)
		return -1;
	agent_event(a, s->pod, "Normal", "Created", "Created container %s", s->ct->name);
	agent_event(a, s->pod, "Normal", "Started", "Started container %s", s->ct->name);
	return 0;
}

/* Started: the new instance becomes ct's; the instance before the previous one
 * goes, the previous keeps its logs. */
static void instance_rotate(struct start *s, unsigned restart)
{
	struct mk_agent *a = s->a;
	struct ctr_state *ct = s->ct;
	char *old_prev = NULL;
	pthread_mutex_lock(&a->mu);
	if (ct->cid) {
		old_prev = ct->prev_cid;
		ct->prev_cid = ct->cid;
	}
	ct->cid = mk_strdup(s->cid);
	pthread_mutex_unlock(&a->mu);
	if (old_prev) {
		mk_runtime_container_delete(a->rt, old_prev, NULL);
		unmount_container_dir(a, s->st->uid, old_prev);
		free(old_prev);
	}
	if (ct->prev_cid)
		unmount_container_dir(a, s->st->uid, ct->prev_cid);
	if (ct->term) {
		cJSON_Delete(ct->last_term);
		ct->last_term = ct->term;
		ct->term = NULL;
	}
	ct->restarts = restart;
	ct->start_retry_ms = 0;
	set_str(&ct->wait_reason, NULL);
	set_str(&ct->wait_message, NULL);
}

/* A step failed: the container waits with s->reason, retried after a back-off
 * (a volume waiting for its object: at once when it appears). */
static void start_failed(struct start *s, int64_t *next_ms)
{
	struct mk_agent *a = s->a;
	struct ctr_state *ct = s->ct;
	const char *msg = s->err ? s->err->msg : NULL;
	if (s->sandbox_failed) {
		/* no fault of the container's: it keeps waiting (ContainerCreating)
		 * while the sync reports the sandbox and retries it */
		unmount_container_dir(a, s->st->uid, s->cid);
		return;
	}
	if (!strcmp(s->reason, "ContainerCreating")) {
		/* a volume's ConfigMap or Secret is missing: no back-off, its watch
		 * enqueues the pod when it appears; an event when the cause changes */
		if (!ct->wait_message || strcmp(ct->wait_message, msg))
			agent_event(a, s->pod, "Warning", "FailedMount", "%s", msg);
		set_str(&ct->wait_reason, s->reason);
		set_str(&ct->wait_message, msg);
		due(next_ms, agent_now_ms() + 3000); /* and at once on an informer event */
		unmount_container_dir(a, s->st->uid, s->cid);
		return;
	}
	mk_log(MK_LOG_WARN, "agent", "pod %s/%s container %s: %s", s->st->ns, s->st->name,
	       ct->name, msg ? msg : "?");
	set_str(&ct->wait_reason, s->reason);
	set_str(&ct->wait_message, msg ? msg : "failed");
	agent_event(a, s->pod, "Warning", "Failed", "Error: %s", msg ? msg : s->reason);
	/* a missing ConfigMap or Secret is no crash: retried at the base delay, as the
	 * kubelet's pod worker requeues a failed sync (the object may appear any time) */
	if (strcmp(s->reason, "CreateContainerConfigError"))
		ct->crashes++;
	ct->start_retry_ms = agent_now_ms() + (int64_t)mk_agent_backoff_ms(ct->crashes + 1,
									   a->backoff_base_ms,
									   a->backoff_max_ms);
	due(next_ms, ct->start_retry_ms);
	unmount_container_dir(a, s->st->uid, s->cid);
}

static void start_release(struct start *s)
{
	mk_strv_free(s->subpaths);
	for (size_t i = 0; i < s->nvols; i++)
		free(s->vols[i].path);
	free(s->vols);
	free(s->mounts);
	for (size_t i = 0; i < MK_ARRAY_SIZE(s->etc_files); i++)
		free(s->etc_files[i]);
	for (size_t i = 0; i < s->env.n; i++)
		free(s->env.v[i]);
	free(s->env.v);
	mk_strv_free(s->argv);
	mk_image_config_free(s->ic);
	mk_agent_security_release(&s->sec);
	mk_error_free(&s->err);
	free(s->cid);
	free(s->pdir);
	free(s->cdir);
	free(s->rootfs);
}

/* Creates and starts instance number restart of container c, in named steps that
 * each record the waiting reason they fail with. 0 started, 1 waiting. */
static int start_container(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			   const cJSON *c, struct ctr_state *ct, unsigned restart, const char *pidns,
			   const char *ipcns, int64_t *next_ms)
{
	if (ct->start_retry_ms > agent_now_ms()) {
		due(next_ms, ct->start_retry_ms);
		return 1;
	}
	int r = ensure_image(a, pod, c, ct, next_ms);
	if (r)
		return r;

	struct start s = { .a = a, .st = st, .pod = pod, .c = c, .ct = ct,
			   .image = mk_json_get_string(c, "image"),
			   .hostname = mk_json_get_string(pod, "spec.hostname"),
			   .sec = { .fs_group = -1 } };
	if (!s.hostname || !*s.hostname)
		s.hostname = st->name;
	if (agent_host_network(pod))
		s.hostname = a->node_name;
	s.cid = container_id(st->uid, ct->name, restart);
	s.pdir = agent_pod_dir(a, st->uid);
	s.cdir = mk_strdup_printf("%s/containers/%s", s.pdir, s.cid);

	if (rootfs_prepare(&s) < 0 || env_and_argv(&s) < 0 || volumes_prepare(&s) < 0 ||
	    mounts_build(&s) < 0 || security_prepare(&s) < 0 ||
	    container_run(&s, restart, pidns, ipcns) < 0) {
		start_failed(&s, next_ms);
		r = 1;
	} else {
		instance_rotate(&s, restart);
		r = 0;
	}
	start_release(&s);
	return r;
}

/* Start time the runtime recorded (STATE/<id>/started, see runtime.h); now if unknown. */
static int64_t started_ns(struct mk_agent *a, const char *cid)
{
	_cleanup_free_ char *log = mk_runtime_container_log_path(a->rt, cid);
	_cleanup_free_ char *data = NULL;
	char *slash = strrchr(log, '/');
	if (slash) {
		*slash = '\0';
		_cleanup_free_ char *p = mk_strdup_printf("%s/started", log);
		if (mk_fs_read_file(p, &data, NULL, NULL) == 0) {
			long long v = strtoll(data, NULL, 10);
			if (v > 0)
				return v;
		}
	}
	return agent_now_ms() * 1000000;
}

/* ---- probes -------------------------------------------------------------------------------- */

/* A container killed by a probe runs its preStop hook first (lifecycle.c);
 * returns the grace seconds left for SIGTERM. */
static int prestop_then_grace(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			      const cJSON *c, struct ctr_state *ct, int grace)
{
	if (grace <= 0)
		return grace;
	int64_t dl = agent_prestop_run(a, pod, c, ct->cid, st->ip,
				       agent_now_ms() + (int64_t)grace * 1000);
	int64_t left = dl - agent_now_ms();
	return left > 0 ? (int)((left + 999) / 1000) : 0;
}

/* A new container instance: the probes start over, each after its initialDelaySeconds
 * from the container's start. */
static void probes_reset(struct ctr_state *ct, const cJSON *c, int64_t started)
{
	const cJSON *rp = cJSON_GetObjectItem(c, "readinessProbe");
	const cJSON *lp = cJSON_GetObjectItem(c, "livenessProbe");
	const cJSON *sp = cJSON_GetObjectItem(c, "startupProbe");
	ct->ready = !rp;
	ct->ready_ok = ct->ready_bad = ct->live_bad = 0;
	ct->next_ready_ms = started + num_field(rp, "initialDelaySeconds", 0) * 1000;
	ct->next_live_ms = started + num_field(lp, "initialDelaySeconds", 0) * 1000;
	ct->startup_done = !sp;
	ct->startup_bad = 0;
	ct->next_startup_ms = started + num_field(sp, "initialDelaySeconds", 0) * 1000;
}

/* Runs probe p once; *next_at gets the time of the next run (periodSeconds),
 * *ret_msg the failure message (owned). */
static enum probe_result probe_once(struct mk_agent *a, struct pod_state *st, const cJSON *c,
				    struct ctr_state *ct, const cJSON *p, int64_t *next_at,
				    char **ret_msg)
{
	int period = num_field(p, "periodSeconds", 10);
	enum probe_result res = agent_probe_run(a, p, c, st->ip, ct->cid, ret_msg);
	*next_at = agent_now_ms() + (period > 0 ? period : 10) * 1000;
	return res;
}

/* Probe p's failureThreshold (3 when unset or not positive) */
static int failure_threshold(const cJSON *p)
{
	int thr = num_field(p, "failureThreshold", 3);
	return thr > 0 ? thr : 3;
}

/* The container failed its which ("startup", "liveness") probe: the event, the
 * preStop hook, then stop with what is left of grace seconds. */
static void probe_kill(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
		       const cJSON *c, struct ctr_state *ct, const char *which, int grace)
{
	_cleanup_error_ struct mk_error *e = NULL;
	agent_event(a, pod, "Normal", "Killing",
		    "Container %s failed %s probe, will be restarted", ct->name, which);
	grace = prestop_then_grace(a, st, pod, c, ct, grace);
	if (mk_runtime_container_stop(a->rt, ct->cid, grace, NULL, &e) < 0)
		mk_log(MK_LOG_WARN, "agent", "stop %s: %s", ct->cid, e->msg);
	ct->ready = false;
}

/* The startup probe, when it is due; liveness and readiness wait until it
 * succeeded. Returns true when it killed the container. */
static bool run_startup_probe(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			      const cJSON *c, struct ctr_state *ct, int64_t now, int64_t *next_ms)
{
	const cJSON *sp = cJSON_GetObjectItem(c, "startupProbe");
	if (now >= ct->next_startup_ms) {
		_cleanup_free_ char *msg = NULL;
		if (probe_once(a, st, c, ct, sp, &ct->next_startup_ms, &msg) == PROBE_SUCCESS) {
			ct->startup_done = true;
			mk_workqueue_add(a->q, st->uid); /* report started, probe the rest */
			return false;
		}
		agent_event(a, pod, "Warning", "Unhealthy", "Startup probe failed: %s",
			    msg ? msg : "");
		if (++ct->startup_bad >= failure_threshold(sp)) {
			probe_kill(a, st, pod, c, ct, "startup", termination_grace(pod));
			return true;
		}
	}
	due(next_ms, ct->next_startup_ms);
	return false;
}

/* The liveness probe lp, when it is due. Returns true when it killed the
 * container (with the probe's terminationGracePeriodSeconds if it has one). */
static bool run_liveness_probe(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
			       const cJSON *c, struct ctr_state *ct, const cJSON *lp, int64_t now)
{
	if (now < ct->next_live_ms)
		return false;
	_cleanup_free_ char *msg = NULL;
	if (probe_once(a, st, c, ct, lp, &ct->next_live_ms, &msg) == PROBE_SUCCESS) {
		ct->live_bad = 0;
		return false;
	}
	ct->live_bad++;
	agent_event(a, pod, "Warning", "Unhealthy", "Liveness probe failed: %s", msg ? msg : "");
	if (ct->live_bad < failure_threshold(lp))
		return false;
	const cJSON *g = cJSON_GetObjectItem(lp, "terminationGracePeriodSeconds");
	probe_kill(a, st, pod, c, ct, "liveness",
		   cJSON_IsNumber(g) ? g->valueint : termination_grace(pod));
	ct->killed_by_probe = true;
	return true;
}

/* The readiness probe rp, when it is due: ready after successThreshold
 * successes in a row, not ready after failureThreshold failures. */
static void run_readiness_probe(struct mk_agent *a, struct pod_state *st, const cJSON *pod,
				const cJSON *c, struct ctr_state *ct, const cJSON *rp, int64_t now)
{
	if (now < ct->next_ready_ms)
		return;
	_cleanup_free_ char *msg = NULL;
	int sthr = num_field(rp, "successThreshold", 1);
	if (probe_once(a, st, c, ct, rp, &ct->next_ready_ms, &msg) == PROBE_SUCCESS) {
		ct->ready_bad = 0;
		if (++ct->ready_ok >= (sthr > 0 ? sthr : 1))
			ct->ready = true;
	} else {
		ct->ready_ok = 0;
		if (++ct->ready_bad >= failure_threshold(rp))
			ct->ready = false;
		agent_event(a, pod, "Warning", "Unhealthy", "Readiness probe failed: %s",
			    msg ? msg : "");
	}
}

/* Runs the probes that are due. Returns true when liveness killed the container. */
static bool run_probes(struct mk_agent *a, struct pod_state *st, const cJSON *pod, const cJSON *c,
		       struct ctr_state *ct, const struct mk_runtime_container_status *rs,
		       int64_t *next_ms)
{
	const cJSON *rp = cJSON_GetObjectItem(c, "readinessProbe");
	const cJSON *lp = cJSON_GetObjectItem(c, "livenessProbe");
	int64_t now = agent_now_ms();
	int64_t started = rs->started_ns ? rs->started_ns / 1000000 : now;

	if (!ct->probed_cid || strcmp(ct->probed_cid, ct->cid)) {
		set_str(&ct->probed_cid, ct->cid);
		probes_reset(ct, c, started);
	}
	if (!ct->startup_done)
		return run_startup_probe(a, st, pod, c, ct, now, next_ms);
	if (lp && run_liveness_probe(a, st, pod, c, ct, lp, now))
		return true;
	if (rp)
		run_readiness_probe(a, st, pod, c, ct, rp, now);
	if (lp)
		due(next_ms, ct->next_live_ms);
	if (rp)
		due(next_ms, ct->next_ready_ms);
	return false;
}

/* ---- status ----------------------------------------------------------------------------------- */

struct ctr_view {
	bool running, created, waiting_never_ran, done;
	int exit_code;
	cJSON *status; /* owned */
};

static cJSON *waiting(const char *reason, const char *message)
{
	cJSON *w = cJSON_CreateObject();
	cJSON *in = cJSON_AddObjectToObject(w, "waiting");
	cJSON_AddStringToObject(in, "reason", reason);
	if (message && *message)
		cJSON_AddStringToObject(in, "message", message);
	return w;
}

static void condition_add(cJSON *conds, const cJSON *old_status, const char *type, bool ok,
			  const char *reason, const char *message)
{
	const char *status = ok ? "True" : "False";
	char now[32];
	const char *since = NULL;
	const cJSON *oc;
	cJSON_ArrayForEach(oc, cJSON_GetObjectItem(old_status, "conditions"))
	{
		const char *t = mk_json_get_string(oc, "type"), *s = mk_json_get_string(oc, "status");
		if (t && s && !strcmp(t, type) && !strcmp(s, status))
			since = mk_json_get_string(oc, "lastTransitionTime");
	}
	if (!since) {
		mk_time_format(time(NULL), now, sizeof(now));
		since = now;
	}
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status);
	cJSON_AddNullToObject(c, "lastProbeTime");
	cJSON_AddStringToObject(c, "lastTransitionTime", since);
	if (reason)
		cJSON_AddStringToObject(c, "reason", reason);
	if (message)
		cJSON_AddStringToObject(c, "message", message);
	cJSON_AddItemToArray(conds, c);
}

static bool json_equal(const cJSON *x, const cJSON *y)
{
	struct mk_buf bx, by;
	mk_buf_init(&bx);
	mk_buf_init(&by);
	mk_json_canonical(x, &bx);
	mk_json_canonical(y, &by);
	bool eq = bx.len == by.len && (!bx.len || !memcmp(bx.data, by.data, bx.len));
	mk_buf_release(&bx);
	mk_buf_release(&by);
	return eq;
}

static int write_status(struct mk_agent *a, struct pod_state *st, const cJSON *pod, cJSON *status)
{
	const cJSON *old = cJSON_GetObjectItem(pod, "status");
	bool same = true;
	const cJSON *it;
	cJSON_ArrayForEach(it, status)
		if (!json_equal(it, cJSON_GetObjectItemCaseSensitive(old, it->string))) {
			same = false;
			break;
		}
	if (same)
		return 0;
	_cleanup_free_ char *path =
		mk_strdup_printf("/api/v1/namespaces/%s/pods/%s/status", st->ns, st->name);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON_AddItemToObject(patch, "status", cJSON_Duplicate(status, 1));
	if (mk_client_patch(a->c, path, "application/merge-patch+json", patch, &res, &err) < 0) {
		if (err->code == 404)
			return 0; /* gone: the watch will tell */
		mk_log(MK_LOG_WARN, "agent", "pod %s/%s: status: %s", st->ns, st->name, err->msg);
		return -1;
	}
	mk_informer_assume(a->pods, res);
	return 0;
}

/* ---- deletion ------------------------------------------------------------------------------------ */

static int api_delete(struct mk_agent *a, struct pod_state *st, const cJSON *pod)
{
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const char *name = mk_json_get_string(pod, "metadata.name");
	const char *uid = mk_json_get_string(pod, "metadata.uid");
	(void)st;
	_cleanup_free_ char *path = mk_strdup_printf("/api/v1/namespaces/%s/pods/%s", ns, name);
	_cleanup_cjson_ cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "apiVersion", "v1");
	cJSON_AddStringToObject(body, "kind", "DeleteOptions");
	cJSON_AddNumberToObject(body, "gracePeriodSeconds", 0);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(body, "preconditions"), "uid", uid);
	_cleanup_cjson_str_ char *text = cJSON_PrintUnformatted(body);
	struct mk_client_request req = { .method = "DELETE", .path = path, .body = text };
	struct mk_client_response res = { 0 };
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_do(a->c, &req, &res, &err) < 0) {
		mk_log(MK_LOG_WARN, "agent", "delete pod %s/%s: %s", ns, name, err->msg);
		return -1;
	}
	int r = 0;
	if (res.code >= 300 && res.code != 404 && res.code != 409) {
		mk_client_response_error(&res, &err);
		mk_log(MK_LOG_WARN, "agent", "delete pod %s/%s: %s", ns, name, err->msg);
		r = -1;
	}
	mk_client_response_release(&res);
	return r;
}

/* Waits for ct's exit until deadline (wall ms), then kills it. */
static void stop_one(struct mk_agent *a, struct ctr_state *ct, int64_t deadline)
{
	_cleanup_error_ struct mk_error *e = NULL;
	int64_t left = deadline - agent_now_ms();
	if (ct->cid &&
	    mk_runtime_container_stop(a->rt, ct->cid, left > 0 ? (int)((left + 999) / 1000) : 0, NULL,
				      &e) < 0 &&
	    e->code != ENOENT)
		mk_log(MK_LOG_WARN, "agent", "stop %s: %s", ct->cid, e->msg);
}

/* After the SIGTERM kill_pod sent: waits for ct's exit until deadline (wall ms),
 * then SIGKILL (one SIGTERM only, as the kubelet sends). */
static void wait_kill(struct mk_agent *a, struct ctr_state *ct, int64_t deadline)
{
	_cleanup_error_ struct mk_error *e = NULL;
	if (!ct->cid)
		return;
	int64_t left = deadline - agent_now_ms();
	if (mk_runtime_container_wait(a->rt, ct->cid, left > 0 ? (int)left : 0, &e) == 0 ||
	    e->code != ETIMEDOUT)
		return;
	mk_runtime_container_kill(a->rt, ct->cid, SIGKILL, NULL);
	mk_error_free(&e);
	if (mk_runtime_container_wait(a->rt, ct->cid, 30000, &e) < 0)
		mk_log(MK_LOG_WARN, "agent", "stop %s: %s", ct->cid, e->msg);
}

/* SIGTERM, grace period, SIGKILL, then every trace removed and the pod deleted
 * from the API (grace 0), which the API server now allows. */
static int kill_pod(struct mk_agent *a, struct pod_state *st, const cJSON *pod)
{
	const cJSON *g = mk_json_get(pod, "metadata.deletionGracePeriodSeconds");
	int grace = cJSON_IsNumber(g) && g->valueint >= 0 ? g->valueint : termination_grace(pod);
	int64_t deadline = agent_now_ms() + (int64_t)grace * 1000;
	/* deletionTimestamp is when the grace period ends: an agent that comes back
	 * late (restarted) does not grant the full period again */
	time_t until = mk_time_parse(mk_json_get_string(pod, "metadata.deletionTimestamp"));
	if (until > 0 && (int64_t)until * 1000 < deadline)
		deadline = (int64_t)until * 1000 > agent_now_ms() ? (int64_t)until * 1000 : agent_now_ms();

	/* app, init and ephemeral containers first, their grace periods running
	 * together; sidecars after them, in reverse order (they may serve the apps
	 * until the end) */
	for (int round = 0; round < 2; round++) {
		for (size_t k = 0; k < st->n; k++) {
			size_t i = round ? st->n - 1 - k : k;
			struct mk_runtime_container_status rs;
			struct ctr_state *ct = &st->c[i];
			if (ct->sidecar != (round == 1))
				continue;
			if (!ct->cid || mk_runtime_container_status_get(a->rt, ct->cid, &rs, NULL) < 0 ||
			    rs.state != MK_RUNTIME_STATE_RUNNING)
				continue;
			agent_event(a, pod, "Normal", "Killing", "Stopping container %s", ct->name);
			/* preStop first, inside the grace period (lifecycle.c) */
			if (grace > 0)
				deadline = agent_prestop_run(a, pod, ctr_spec(pod, ct), ct->cid, st->ip,
							     deadline);
			mk_runtime_container_kill(a->rt, ct->cid, SIGTERM, NULL);
			if (round == 1)
				wait_kill(a, ct, deadline);
		}
		for (size_t i = 0; round == 0 && i < st->n; i++)
			if (!st->c[i].sidecar)
				wait_kill(a, &st->c[i], deadline);
	}
	agent_pod_teardown(a, st->uid);
	st->torn_down = true;
	return api_delete(a, st, pod);
}

/* ---- the sync ----------------------------------------------------------------------------------- */

static bool terminal_phase(const cJSON *pod)
{
	const char *p = mk_json_get_string(pod, "status.phase");
	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

/* One container's runtime state as this sync saw it. */
struct obs {
	struct mk_runtime_container_status rs;
	bool have;
};

static bool obs_running(const struct obs *o)
{
	return o->have && o->rs.state == MK_RUNTIME_STATE_RUNNING;
}

static int term_code(const cJSON *term)
{
	const cJSON *ec = cJSON_GetObjectItem(term, "exitCode");
	return cJSON_IsNumber(ec) ? ec->valueint : -1;
}

/* Reads ct's runtime state into *o and records an exit not seen before. */
static void observe(struct mk_agent *a, struct pod_state *st, const cJSON *pod, struct ctr_state *ct,
		    struct obs *o)
{
	_cleanup_error_ struct mk_error *err = NULL;
	memset(o, 0, sizeof(*o));
	if (!ct->cid)
		return;
	if (mk_runtime_container_status_get(a->rt, ct->cid, &o->rs, &err) < 0) {
		mk_log(MK_LOG_WARN, "agent", "status of %s: %s", ct->cid, err->msg);
		/* unknown to the runtime: treat as exited with an unknown code */
		memset(&o->rs, 0, sizeof(o->rs));
		o->rs.state = MK_RUNTIME_STATE_EXITED;
		o->rs.exit_code = -1;
	}
	o->have = true;
	if (o->rs.state == MK_RUNTIME_STATE_UNKNOWN || o->rs.state == MK_RUNTIME_STATE_CREATED) {
		/* a create or start interrupted by an agent crash */
		mk_runtime_container_delete(a->rt, ct->cid, NULL);
		o->rs.state = MK_RUNTIME_STATE_EXITED;
		o->rs.exit_code = -1;
	}
	if (o->rs.state == MK_RUNTIME_STATE_EXITED && !ct->term) {
		int64_t ran = o->rs.finished_ns && o->rs.started_ns
				      ? (o->rs.finished_ns - o->rs.started_ns) / 1000000
				      : 0;
		ct->term = term_json(&o->rs, ct->cid, NULL);
		if (ran > 2 * (int64_t)a->backoff_max_ms)
			ct->crashes = 0;
		ct->crashes++;
		ct->done = !restart_wanted(pod, st, ct, o->rs.exit_code < 0 ? 137 : o->rs.exit_code);
		ct->killed_by_probe = false;
	}
}

/* Starts ct for the first time, or again once its back-off has passed. true when
 * it was started now (*o then says running). */
static bool start_step(struct mk_agent *a, struct pod_state *st, const cJSON *pod, const cJSON *c,
		       struct ctr_state *ct, struct obs *o, const char *pidns, const char *ipcns,
		       int64_t *next_ms)
{
	if (ct->done || !c)
		return false;
	if (ct->cid && !(o->have && o->rs.state == MK_RUNTIME_STATE_EXITED))
		return false;
	if (ct->cid) {
		/* back-off measured from the exit, as the kubelet does */
		int64_t fin = o->rs.finished_ns ? o->rs.finished_ns / 1000000 : agent_now_ms();
		int64_t at = fin + (int64_t)mk_agent_backoff_ms(ct->crashes, a->backoff_base_ms,
								a->backoff_max_ms);
		if (at > agent_now_ms()) {
			if (!ct->wait_reason || strcmp(ct->wait_reason, "CrashLoopBackOff"))
				agent_event(a, pod, "Warning", "BackOff",
					    "Back-off restarting failed container %s in pod %s_%s(%s)",
					    ct->name, st->name, st->ns, st->uid);
			set_str(&ct->wait_reason, "CrashLoopBackOff");
			_cleanup_free_ char *m = mk_strdup_printf(
				"back-off %llds restarting failed container=%s pod=%s_%s(%s)",
				(long long)((at - fin + 999) / 1000), ct->name, st->name, st->ns, st->uid);
			set_str(&ct->wait_message, m);
			due(next_ms, at);
			return false;
		}
	}
	unsigned next = ct->cid ? ct->restarts + 1 : ct->restarts;
	if (start_container(a, st, pod, c, ct, next, pidns, ipcns, next_ms) != 0)
		return false;
	/* started: report it Running now, without another `runc state` on the way to
	 * the status; the sync this status write triggers asks runc */
	memset(&o->rs, 0, sizeof(o->rs));
	o->rs.state = MK_RUNTIME_STATE_RUNNING;
	o->rs.started_ns = started_ns(a, ct->cid);
	o->have = true;
	return true;
}

/* A running container: its exit is watched and its probes run. */
static void running_step(struct mk_agent *a, struct pod_state *st, const cJSON *pod, const cJSON *c,
			 struct ctr_state *ct, const struct obs *o, int64_t *next_ms)
{
	if (!obs_running(o) || !c)
		return;
	if (!o->rs.shim_pid && !o->rs.pid) {
		mk_workqueue_add(a->q, st->uid); /* just started: look again */
	} else if (!ct->watched_cid || strcmp(ct->watched_cid, ct->cid)) {
		agent_watch_pid(a, st->uid, o->rs.shim_pid ? o->rs.shim_pid : o->rs.pid);
		set_str(&ct->watched_cid, ct->cid);
	}
	if (run_probes(a, st, pod, c, ct, &o->rs, next_ms))
		mk_workqueue_add(a->q, st->uid); /* killed by liveness: handled on the next sync */
}

/* The container's status; default_wait: its waiting reason before it first ran. */
static cJSON *ctr_status(const struct ctr_state *ct, const cJSON *c, const struct obs *o,
			 const char *default_wait, bool ready)
{
	cJSON *cs = cJSON_CreateObject();
	cJSON *state, *last;
	char ts[32];
	bool running = obs_running(o);
	if (running) {
		state = cJSON_CreateObject();
		agent_time_ns_format(o->rs.started_ns ? o->rs.started_ns : o->rs.created_ns, ts,
				     sizeof(ts));
		cJSON_AddStringToObject(cJSON_AddObjectToObject(state, "running"), "startedAt", ts);
		last = ct->last_term ? cJSON_Duplicate(ct->last_term, 1) : NULL;
	} else if (ct->term && ct->done) {
		state = cJSON_CreateObject();
		cJSON_AddItemToObject(state, "terminated", cJSON_Duplicate(ct->term, 1));
		last = ct->last_term ? cJSON_Duplicate(ct->last_term, 1) : NULL;
	} else if (ct->term) {
		state = waiting(ct->wait_reason ? ct->wait_reason : "CrashLoopBackOff", ct->wait_message);
		last = cJSON_Duplicate(ct->term, 1);
	} else {
		state = waiting(ct->wait_reason ? ct->wait_reason : default_wait, ct->wait_message);
		last = ct->last_term ? cJSON_Duplicate(ct->last_term, 1) : NULL;
	}
	cJSON_AddStringToObject(cs, "name", ct->name);
	cJSON_AddItemToObject(cs, "state", state);
	if (last) {
		cJSON *l = cJSON_CreateObject();
		cJSON_AddItemToObject(l, "terminated", last);
		cJSON_AddItemToObject(cs, "lastState", l);
	} else {
		cJSON_AddItemToObject(cs, "lastState", cJSON_CreateObject());
	}
	cJSON_AddBoolToObject(cs, "ready", ready);
	cJSON_AddNumberToObject(cs, "restartCount", ct->restarts);
	const char *image = mk_json_get_string(c, "image");
	cJSON_AddStringToObject(cs, "image", image ? image : "");
	cJSON_AddStringToObject(cs, "imageID", ct->image_id ? ct->image_id : "");
	if (ct->cid && (running || ct->term)) {
		_cleanup_free_ char *id = mk_strdup_printf("runc://%s", ct->cid);
		cJSON_AddStringToObject(cs, "containerID", id);
	} else if (ct->term && mk_json_get_string(ct->term, "containerID")) {
		/* known from the API only (adopt_status): the runtime lost it */
		cJSON_AddStringToObject(cs, "containerID", mk_json_get_string(ct->term, "containerID"));
	}
	cJSON_AddBoolToObject(cs, "started", running && ct->startup_done);
	return cs;
}

/* An ephemeral container with targetContainerName joins the target's pid and ipc
 * namespaces (it sees the target's processes); 0 go, 1 wait for the target. */
static int ephemeral_target(struct pod_state *st, const cJSON *c, const struct obs *obs,
			    char pidns[64], char ipcns[64])
{
	const char *target = mk_json_get_string(c, "targetContainerName");
	pidns[0] = ipcns[0] = '\0';
	if (!target || !*target)
		return 0;
	for (size_t i = 0; i < st->n; i++) {
		if (st->c[i].kind == CTR_EPHEMERAL || strcmp(st->c[i].name, target))
			continue;
		if (!obs_running(&obs[i]) || obs[i].rs.pid <= 0)
			return 1;
		snprintf(pidns, 64, "/proc/%d/ns/pid", (int)obs[i].rs.pid);
		snprintf(ipcns, 64, "/proc/%d/ns/ipc", (int)obs[i].rs.pid);
		return 0;
	}
	return 1;
}

/* ---- the sync of one pod, step by step ------------------------------------------------- */

/* What one sync of a pod carries from step to step. */
struct sync {
	struct mk_agent *a;
	struct pod_state *st;
	const cJSON *pod;
	struct obs *obs; /* per container of st, as this sync saw it */
	size_t n_init;   /* st->c[0..n_init) are the init containers */
	bool sandbox_ok;
	bool init_failed;
	int64_t next_ms; /* when to sync again (0: on events only) */
};

/* Gone from the API (or moved to another node): what we ran for it is removed. */
static void pod_gone(struct mk_agent *a, struct pod_state *st, const char *uid)
{
	if (st && !st->torn_down) {
		mk_log(MK_LOG_INFO, "agent", "pod %s/%s (%s) is gone: cleaning up", st->ns, st->name,
		       uid);
		for (size_t i = 0; i < st->n; i++)
			if (st->c[i].cid)
				mk_runtime_container_stop(a->rt, st->c[i].cid, 1, NULL, NULL);
		agent_pod_teardown(a, uid);
	}
	if (st)
		state_remove(a, uid);
}

/* Succeeded or Failed for good: nothing runs again, and the kubelet releases the
 * sandbox's network. */
static void pod_finished(struct mk_agent *a, struct pod_state *st)
{
	if (st->net_down)
		return;
	for (size_t i = 0; i < st->n; i++)
		if (st->c[i].cid)
			mk_runtime_container_stop(a->rt, st->c[i].cid, 0, NULL, NULL);
	agent_sandbox_net_release(a, st->uid);
	st->net_down = true;
}

static void sandbox_failed(struct sync *s, const struct mk_error *err)
{
	mk_log(MK_LOG_WARN, "agent", "pod %s/%s: sandbox: %s", s->st->ns, s->st->name, err->msg);
	agent_event(s->a, s->pod, "Warning", "FailedCreatePodSandBox",
		    "Failed to create pod sandbox: %s", err->msg);
}

/* The sandbox (address, /etc files, network namespace and veth: those two may be
 * still being wired when this returns, see sandbox_done); the volumes refreshed. */
static int sandbox_step(struct sync *s)
{
	_cleanup_error_ struct mk_error *err = NULL;
	s->sandbox_ok = agent_sandbox_ensure(s->a, s->st, s->pod, &err) == 0;
	if (!s->sandbox_ok) {
		sandbox_failed(s, err);
		return -1;
	}
	/* ConfigMap, Secret and pod metadata changes into the mounted volumes */
	agent_volumes_refresh(s->a, s->st, s->pod);
	return 0;
}

/* The network job sandbox_step started, joined: its failure is the sandbox's. */
static int sandbox_done(struct sync *s)
{
	_cleanup_error_ struct mk_error *err = NULL;
	if (agent_sandbox_net_finish(s->st, &err) == 0)
		return 0;
	s->sandbox_ok = false;
	sandbox_failed(s, err);
	return -1;
}

/* Init containers, one at a time in spec order, until the pod is initialized. */
static void init_step(struct sync *s)
{
	struct pod_state *st = s->st;
	for (size_t i = 0; i < s->n_init; i++)
		running_step(s->a, st, s->pod, ctr_spec(s->pod, &st->c[i]), &st->c[i], &s->obs[i],
			     &s->next_ms);
	if (st->initialized)
		return;
	struct mk_agent_init_view *v = mk_malloc0((s->n_init + 1) * sizeof(*v));
	for (size_t i = 0; i < s->n_init; i++) {
		const struct ctr_state *ct = &st->c[i];
		v[i].sidecar = ct->sidecar;
		v[i].running = obs_running(&s->obs[i]);
		v[i].started = v[i].running && ct->startup_done && ct->probed_cid &&
			       !strcmp(ct->probed_cid, ct->cid);
		v[i].completed = !ct->sidecar && ct->done && term_code(ct->term) == 0;
		v[i].failed = !ct->sidecar && ct->done && term_code(ct->term) != 0;
	}
	size_t idx = 0;
	switch (mk_agent_init_next(v, s->n_init, &idx)) {
	case MK_AGENT_INIT_DONE:
		st->initialized = true;
		break;
	case MK_AGENT_INIT_FAILED:
		s->init_failed = true;
		break;
	case MK_AGENT_INIT_WAIT:
		break;
	case MK_AGENT_INIT_START: {
		struct ctr_state *ct = &st->c[idx];
		const cJSON *c = ctr_spec(s->pod, ct);
		if (s->sandbox_ok &&
		    start_step(s->a, st, s->pod, c, ct, &s->obs[idx], NULL, NULL, &s->next_ms)) {
			running_step(s->a, st, s->pod, c, ct, &s->obs[idx], &s->next_ms);
			mk_workqueue_add(s->a->q, st->uid); /* the next one may follow at once */
		}
		break;
	}
	}
	free(v);
}

/* Once initialized: sidecars kept running, app containers started. */
static void containers_step(struct sync *s)
{
	struct pod_state *st = s->st;
	for (size_t i = 0; st->initialized && i < st->n; i++) {
		struct ctr_state *ct = &st->c[i];
		if (ct->kind == CTR_EPHEMERAL || (ct->kind == CTR_INIT && !ct->sidecar))
			continue;
		if (ct->sidecar && st->apps_done)
			continue;
		const cJSON *c = ctr_spec(s->pod, ct);
		if (s->sandbox_ok &&
		    start_step(s->a, st, s->pod, c, ct, &s->obs[i], NULL, NULL, &s->next_ms))
			running_step(s->a, st, s->pod, c, ct, &s->obs[i], &s->next_ms);
		else if (ct->kind == CTR_APP)
			running_step(s->a, st, s->pod, c, ct, &s->obs[i], &s->next_ms);
	}
}

/* Ephemeral containers: started once, never restarted. */
static void ephemeral_step(struct sync *s)
{
	struct pod_state *st = s->st;
	for (size_t i = 0; i < st->n; i++) {
		struct ctr_state *ct = &st->c[i];
		if (ct->kind != CTR_EPHEMERAL)
			continue;
		const cJSON *c = ctr_spec(s->pod, ct);
		char pidns[64], ipcns[64];
		if (s->sandbox_ok && !ct->cid && c) {
			if (ephemeral_target(st, c, s->obs, pidns, ipcns) != 0)
				due(&s->next_ms, agent_now_ms() + 1000); /* the target is not running */
			else
				start_step(s->a, st, s->pod, c, ct, &s->obs[i], pidns[0] ? pidns : NULL,
					   ipcns[0] ? ipcns : NULL, &s->next_ms);
		}
		running_step(s->a, st, s->pod, c, ct, &s->obs[i], &s->next_ms);
	}
}

/* The app containers decide the phase; once they are all finished the sidecars
 * stop, the last started first. */
static void phase_step(struct sync *s, struct mk_agent_phase_input *pin)
{
	struct pod_state *st = s->st;
	*pin = (struct mk_agent_phase_input){ .init_failed = s->init_failed,
					      .initialized = st->initialized };
	for (size_t i = 0; i < st->n; i++) {
		struct ctr_state *ct = &st->c[i];
		if (ct->kind != CTR_APP)
			continue;
		pin->apps++;
		if (obs_running(&s->obs[i]))
			continue;
		if (ct->term && ct->done) {
			pin->apps_done++;
			if (term_code(ct->term) != 0)
				pin->apps_failed++;
		} else if (!ct->term && !ct->last_term) {
			pin->apps_pending++;
		}
	}
	if (pin->apps == 0 || pin->apps_done != pin->apps || st->apps_done)
		return;
	st->apps_done = true;
	for (size_t k = s->n_init; k-- > 0;) {
		struct ctr_state *ct = &st->c[k];
		if (!ct->sidecar)
			continue;
		if (obs_running(&s->obs[k])) {
			agent_event(s->a, s->pod, "Normal", "Killing", "Stopping container %s", ct->name);
			int64_t dl = agent_now_ms() + (int64_t)termination_grace(s->pod) * 1000;
			dl = agent_prestop_run(s->a, s->pod, ctr_spec(s->pod, ct), ct->cid, st->ip, dl);
			stop_one(s->a, ct, dl);
			observe(s->a, st, s->pod, ct, &s->obs[k]);
		}
		ct->done = true;
	}
}

/* The names of the containers not ready and of the init containers not complete,
 * for the conditions' messages. */
struct readiness {
	bool all_ready;
	struct mk_buf unready, incomplete;
};

/* The statuses of the init, app and ephemeral containers, into three new arrays. */
static void container_statuses(struct sync *s, cJSON *lists[3], struct readiness *rd)
{
	struct pod_state *st = s->st;
	cJSON *istats = cJSON_CreateArray(), *cstats = cJSON_CreateArray();
	cJSON *estats = cJSON_CreateArray();
	lists[0] = istats;
	lists[1] = cstats;
	lists[2] = estats;
	for (size_t i = 0; i < st->n; i++) {
		struct ctr_state *ct = &st->c[i];
		bool running = obs_running(&s->obs[i]);
		bool ready = running && ct->ready && ct->startup_done;
		if (ct->kind == CTR_INIT && !ct->sidecar)
			ready = ct->done && term_code(ct->term) == 0;
		if (ct->kind == CTR_EPHEMERAL)
			ready = false;
		if (ct->kind == CTR_INIT && !(ct->sidecar ? running && ct->startup_done : ready))
			mk_buf_printf(&rd->incomplete, "%s%s", rd->incomplete.len ? " " : "", ct->name);
		if ((ct->kind == CTR_APP || ct->sidecar) && !ready) {
			rd->all_ready = false;
			mk_buf_printf(&rd->unready, "%s%s", rd->unready.len ? " " : "", ct->name);
		}
		/* before its first start: init and app containers wait for the init
		 * sequence (PodInitializing), the others are being created */
		bool initializing = ct->kind == CTR_INIT || (ct->kind == CTR_APP && !st->initialized);
		const char *dflt = initializing ? "PodInitializing" : "ContainerCreating";
		cJSON *cs = ctr_status(ct, ctr_spec(s->pod, ct), &s->obs[i], dflt, ready);
		cJSON *list = ct->kind == CTR_INIT ? istats : ct->kind == CTR_APP ? cstats : estats;
		cJSON_AddItemToArray(list, cs);
	}
}

/* The pod's conditions, as the kubelet's status manager sets them. */
static void conditions_add(struct sync *s, cJSON *status, const struct readiness *rd,
			   bool terminal)
{
	const cJSON *old = cJSON_GetObjectItem(s->pod, "status");
	bool ok = rd->all_ready, init = s->st->initialized;
	cJSON *conds = cJSON_AddArrayToObject(status, "conditions");
	_cleanup_free_ char *msg = mk_strdup_printf("containers with unready status: [%s]",
						    rd->unready.data ? rd->unready.data : "");
	_cleanup_free_ char *imsg = mk_strdup_printf("containers with incomplete status: [%s]",
						     rd->incomplete.data ? rd->incomplete.data : "");
	const char *nr_reason = terminal ? "PodCompleted" : "ContainersNotReady";
	condition_add(conds, old, "PodReadyToStartContainers", s->sandbox_ok, NULL, NULL);
	condition_add(conds, old, "Initialized", init, init ? NULL : "ContainersNotInitialized",
		      init ? NULL : imsg);
	condition_add(conds, old, "Ready", ok, ok ? NULL : nr_reason, ok || terminal ? NULL : msg);
	condition_add(conds, old, "ContainersReady", ok, ok ? NULL : nr_reason,
		      ok || terminal ? NULL : msg);
	condition_add(conds, old, "PodScheduled", true, NULL, NULL);
}

static void ip_list_add(cJSON *status, const char *key, const char *ip)
{
	cJSON *ips = cJSON_AddArrayToObject(status, key);
	cJSON *item = cJSON_CreateObject();
	cJSON_AddStringToObject(item, "ip", ip);
	cJSON_AddItemToArray(ips, item);
}

/* The status this sync saw, written to the API when it changed. */
static int status_step(struct sync *s, const struct mk_agent_phase_input *pin, bool terminal)
{
	struct mk_agent *a = s->a;
	struct pod_state *st = s->st;
	_cleanup_cjson_ cJSON *status = cJSON_CreateObject();
	struct readiness rd = { .all_ready = true };
	cJSON *lists[3];
	mk_buf_init(&rd.unready);
	mk_buf_init(&rd.incomplete);
	container_statuses(s, lists, &rd);
	cJSON_AddStringToObject(status, "phase", mk_agent_pod_phase(pin));
	conditions_add(s, status, &rd, terminal);
	mk_buf_release(&rd.unready);
	mk_buf_release(&rd.incomplete);
	cJSON_AddStringToObject(status, "hostIP", a->node_ip);
	ip_list_add(status, "hostIPs", a->node_ip);
	if (st->ip[0]) {
		cJSON_AddStringToObject(status, "podIP", st->ip);
		ip_list_add(status, "podIPs", st->ip);
	}
	cJSON_AddStringToObject(status, "startTime", st->start_time);
	if (cJSON_GetArraySize(lists[0]) > 0)
		cJSON_AddItemToObject(status, "initContainerStatuses", lists[0]);
	else
		cJSON_Delete(lists[0]);
	cJSON_AddItemToObject(status, "containerStatuses", lists[1]);
	if (cJSON_GetArraySize(lists[2]) > 0)
		cJSON_AddItemToObject(status, "ephemeralContainerStatuses", lists[2]);
	else
		cJSON_Delete(lists[2]);
	return write_status(a, st, s->pod, status);
}

/* One pass of the pod worker over pod uid: the API's pod against what runs. */
int agent_pod_sync(struct mk_agent *a, const char *uid)
{
	struct mk_object *o = agent_pod_get(a, uid);
	const cJSON *pod = o ? o->json : NULL;
	const char *node = pod ? mk_json_get_string(pod, "spec.nodeName") : NULL;
	struct pod_state *st = state_find(a, uid);
	int rc = 0;

	if (!pod || !node || strcmp(node, a->node_name)) {
		pod_gone(a, st, uid);
		mk_object_unref(o);
		return 0;
	}
	if (mk_json_get(pod, "metadata.deletionTimestamp")) {
		if (!st)
			st = state_new(a, pod); /* adopt, so its containers get their grace period */
		rc = st->torn_down ? api_delete(a, st, pod) : kill_pod(a, st, pod);
		mk_object_unref(o);
		return rc;
	}
	if (!st)
		st = state_new(a, pod);
	if (terminal_phase(pod)) {
		pod_finished(a, st);
		mk_object_unref(o);
		return 0;
	}
	state_grow(a, st, pod);

	struct sync s = { .a = a, .st = st, .pod = pod };
	if (sandbox_step(&s) < 0)
		rc = -1;
	s.obs = mk_malloc0((st->n ? st->n : 1) * sizeof(*s.obs));
	for (size_t i = 0; i < st->n; i++)
		observe(a, st, pod, &st->c[i], &s.obs[i]);
	while (s.n_init < st->n && st->c[s.n_init].kind == CTR_INIT)
		s.n_init++;
	init_step(&s);
	containers_step(&s);
	ephemeral_step(&s);
	if (sandbox_done(&s) < 0)
		rc = -1;
	struct mk_agent_phase_input pin;
	phase_step(&s, &pin);
	const char *phase = mk_agent_pod_phase(&pin);
	bool terminal = !strcmp(phase, "Succeeded") || !strcmp(phase, "Failed");
	if (status_step(&s, &pin, terminal) < 0)
		rc = -1;
	free(s.obs);
	if (terminal)
		pod_finished(a, st);
	if (s.next_ms) {
		int64_t d = s.next_ms - agent_now_ms();
		mk_workqueue_add_after(a->q, uid, d > 0 ? (uint64_t)d : 1);
	}
	mk_object_unref(o);
	return rc;
}
