/* Deployment controller: one ReplicaSet per pod template (named
 * "<deployment>-<template hash>"), revisions in the
 * deployment.kubernetes.io/revision annotation (a template that comes back —
 * `kubectl rollout undo` — reuses its old ReplicaSet under a new revision),
 * RollingUpdate within maxSurge/maxUnavailable and Recreate, old ReplicaSets
 * beyond revisionHistoryLimit deleted, status and the Available/Progressing
 * conditions that `kubectl rollout status` reads. Follows kube's
 * pkg/controller/deployment (rolling.go, recreate.go, sync.go), without
 * proportional scaling of several live ReplicaSets. */
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "deployment-controller"
#define REV "deployment.kubernetes.io/revision"
#define HASH_LABEL "pod-template-hash"

static void on_deploy(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	mk_workqueue_add(ctl->deploy.q, (new ? new : old)->key);
}

static void enqueue_owner(struct mk_controllers *ctl, const cJSON *rs)
{
	const cJSON *r = mk_api_controller_ref(rs);
	const char *k = mk_json_get_string(r, "kind");
	if (!r || !k || strcmp(k, "Deployment"))
		return;
	_cleanup_free_ char *key = mk_strdup_printf("%s/%s", mk_json_get_string(rs, "metadata.namespace"),
						    mk_json_get_string(r, "name"));
	mk_workqueue_add(ctl->deploy.q, key);
}

static void on_rs(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (old)
		enqueue_owner(ctl, old->json);
	if (new) {
		enqueue_owner(ctl, new->json);
		if (!mk_api_controller_ref(new->json)) {
			/* an orphan: a deployment whose selector matches may adopt it */
			struct mk_object **ds;
			size_t n = mk_informer_by_index(ctl->inf[CTL_DEPLOY], "ns",
							mk_json_get_string(new->json, "metadata.namespace"), &ds);
			for (size_t i = 0; i < n; i++)
				mk_workqueue_add(ctl->deploy.q, ds[i]->key);
			mk_object_list_free(ds, n);
		}
	}
}

void deploy_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_DEPLOY], on_deploy, ctl);
	mk_informer_add_handler(ctl->inf[CTL_RS], on_rs, ctl);
}

/* ---- helpers ---------------------------------------------------------------------- */

static int revision_of(const cJSON *obj)
{
	/* mk_json_get walks dots; the annotation key has dots, so look it up directly */
	const cJSON *ann = mk_json_get(obj, "metadata.annotations");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(ann, REV);
	return cJSON_IsString(v) ? atoi(v->valuestring) : 0;
}

static const char *annotation(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(mk_json_get(obj, "metadata.annotations"), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Drops nulls, empty objects and empty lists (recursively): kubectl and Go clients
 * send "creationTimestamp": null or "resources": {} where the stored object has
 * nothing, and kube compares templates as Go structs, where both read the same. */
static void normalize(cJSON *v)
{
	cJSON *it = v ? v->child : NULL;
	while (it) {
		cJSON *next = it->next;
		if (cJSON_IsObject(it) || cJSON_IsArray(it))
			normalize(it);
		if (cJSON_IsNull(it) || ((cJSON_IsObject(it) || cJSON_IsArray(it)) && !it->child))
			cJSON_Delete(cJSON_DetachItemViaPointer(v, it));
		it = next;
	}
}

/* A deployment's template, normalized, without the pod-template-hash label (owned). */
static cJSON *template_of(const cJSON *obj)
{
	cJSON *t = cJSON_Duplicate(mk_json_get(obj, "spec.template"), 1);
	if (!t)
		t = cJSON_CreateObject();
	cJSON_DeleteItemFromObjectCaseSensitive(mk_json_get(t, "metadata.labels"), HASH_LABEL);
	normalize(t);
	return t;
}

/* rs.spec.template without the pod-template-hash label equals the deployment's template */
static bool template_matches(const cJSON *rs, const cJSON *d)
{
	_cleanup_cjson_ cJSON *a = template_of(rs);
	_cleanup_cjson_ cJSON *b = template_of(d);
	return cJSON_Compare(a, b, 1);
}

static bool paused(const cJSON *d)
{
	return cJSON_IsTrue(mk_json_get(d, "spec.paused"));
}

static int rs_replicas(const cJSON *rs)
{
	return json_int(rs, "spec.replicas", 0);
}

static int cmp_created(const void *pa, const void *pb)
{
	const cJSON *a = (*(struct mk_object *const *)pa)->json;
	const cJSON *b = (*(struct mk_object *const *)pb)->json;
	const char *ca = mk_json_get_string(a, "metadata.creationTimestamp");
	const char *cb = mk_json_get_string(b, "metadata.creationTimestamp");
	int c = strcmp(ca ? ca : "", cb ? cb : "");
	return c ? c : strcmp(mk_json_get_string(a, "metadata.name"), mk_json_get_string(b, "metadata.name"));
}

static int cmp_revision(const void *pa, const void *pb)
{
	int a = revision_of((*(struct mk_object *const *)pa)->json);
	int b = revision_of((*(struct mk_object *const *)pb)->json);
	return a - b;
}

struct dctx {
	struct mk_controllers *ctl;
	const cJSON *d;
	const char *ns, *name;
	int replicas, max_surge, max_unavailable;
	struct mk_object *new_rs;	/* ref, may be NULL */
	struct mk_object **old;		/* refs */
	size_t nold;
	bool created;			/* the new RS was created in this sync */
};

static void replace_ref(struct mk_object **slot, const cJSON *obj)
{
	if (!obj)
		return;
	struct mk_object *o = mk_malloc0(sizeof(*o));
	o->json = cJSON_Duplicate(obj, 1);
	o->key = mk_object_key(obj);
	o->refs = 1;
	mk_object_unref(*slot);
	*slot = o;
}

/* The annotations every replica set of d carries: the desired replicas and the most
 * the surge allows. */
static void replica_annotations_add(struct dctx *x, cJSON *ann)
{
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", x->replicas);
	cJSON_AddStringToObject(ann, "deployment.kubernetes.io/desired-replicas", buf);
	snprintf(buf, sizeof(buf), "%d", x->replicas + x->max_surge);
	cJSON_AddStringToObject(ann, "deployment.kubernetes.io/max-replicas", buf);
}

/* Sets rs.spec.replicas (and the desired/max-replicas annotations). */
static int scale_rs(struct dctx *x, struct mk_object **rs, int to)
{
	int from = rs_replicas((*rs)->json);
	const char *dr = annotation((*rs)->json, "deployment.kubernetes.io/desired-replicas");
	if (from == to && dr && atoi(dr) == x->replicas)
		return 0;
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	replica_annotations_add(x, cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"),
							   "annotations"));
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(patch, "spec"), "replicas", to);
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "replicasets", x->ns,
					     mk_json_get_string((*rs)->json, "metadata.name"), NULL);
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(x->ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return -1;
	mk_informer_assume(x->ctl->inf[CTL_RS], res);
	replace_ref(rs, res);
	if (from != to)
		mk_event_record(x->ctl->rec, COMPONENT, x->d, "Normal", "ScalingReplicaSet",
				"Scaled %s replica set %s from %d to %d", to > from ? "up" : "down",
				mk_json_get_string(res, "metadata.name"), from, to);
	return 1;
}

static int set_annotation(struct mk_controllers *ctl, const char *path, struct mk_informer *inf,
			  const char *key, const char *value)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *ann = cJSON_AddObjectToObject(cJSON_AddObjectToObject(patch, "metadata"), "annotations");
	cJSON_AddStringToObject(ann, key, value);
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return -1;
	if (inf)
		mk_informer_assume(inf, res);
	return 0;
}

/* ---- new replica set ---------------------------------------------------------------- */

/* Initial size of a new replica set: as many as the surge allows (rolling), none
 * while old pods run (recreate). */
static int new_rs_size(struct dctx *x)
{
	int old_total = 0;
	for (size_t i = 0; i < x->nold; i++)
		old_total += rs_replicas(x->old[i]->json);
	const char *strategy = mk_json_get_string(x->d, "spec.strategy.type");
	if (strategy && !strcmp(strategy, "Recreate"))
		return old_total ? 0 : x->replicas;
	int max_total = x->replicas + x->max_surge;
	int want = old_total >= max_total ? 0 : max_total - old_total;
	return want > x->replicas ? x->replicas : want;
}

/* The replica set of d's template: the template and selector with the hash label,
 * the revision and replica annotations, d as its controller. */
static cJSON *new_rs_build(struct dctx *x, const char *rsname, const char *hash, int revision, int want)
{
	const cJSON *d = x->d;
	cJSON *rs = cJSON_CreateObject();
	cJSON_AddStringToObject(rs, "apiVersion", "apps/v1");
	cJSON_AddStringToObject(rs, "kind", "ReplicaSet");
	cJSON *md = cJSON_AddObjectToObject(rs, "metadata");
	cJSON_AddStringToObject(md, "name", rsname);
	cJSON_AddStringToObject(md, "namespace", x->ns);
	cJSON *tmpl = cJSON_Duplicate(mk_json_get(d, "spec.template"), 1);
	cJSON *tlabels = mk_json_ensure_object(tmpl, "metadata.labels");
	mk_json_set_string(tlabels, HASH_LABEL, hash);
	cJSON_AddItemToObject(md, "labels", cJSON_Duplicate(tlabels, 1));
	cJSON *ann = cJSON_AddObjectToObject(md, "annotations");
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", revision);
	cJSON_AddStringToObject(ann, REV, buf);
	replica_annotations_add(x, ann);
	const char *cause = annotation(d, "kubernetes.io/change-cause");
	if (cause)
		cJSON_AddStringToObject(ann, "kubernetes.io/change-cause", cause);
	cJSON *ref = controller_ref_new(d);
	mk_json_set_string(ref, "apiVersion", "apps/v1");
	mk_json_set_string(ref, "kind", "Deployment");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"), ref);
	cJSON *spec = cJSON_AddObjectToObject(rs, "spec");
	cJSON_AddNumberToObject(spec, "replicas", want);
	cJSON_AddNumberToObject(spec, "minReadySeconds", json_int(d, "spec.minReadySeconds", 0));
	cJSON *sel = cJSON_Duplicate(mk_json_get(d, "spec.selector"), 1);
	mk_json_set_string(mk_json_ensure_object(sel, "matchLabels"), HASH_LABEL, hash);
	cJSON_AddItemToObject(spec, "selector", sel);
	cJSON_AddItemToObject(spec, "template", tmpl);
	return rs;
}

/* 0 created (or found ours), -1 failed, -2 the name is taken by another template
 * (a hash collision: collisionCount goes up). */
static int create_new_rs(struct dctx *x, int revision, uint32_t collisions)
{
	const cJSON *d = x->d;
	char hash[11];
	_cleanup_cjson_ cJSON *norm = template_of(d);
	mk_controller_template_hash(norm, collisions, hash);
	_cleanup_free_ char *rsname = mk_strdup_printf("%s-%s", x->name, hash);
	int want = new_rs_size(x);
	_cleanup_cjson_ cJSON *rs = new_rs_build(x, rsname, hash, revision, want);

	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "replicasets", x->ns, NULL, NULL);
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_create(x->ctl->c, path, rs, &res, &err) < 0) {
		if (mk_error_code(err) != 409)
			return -1;
		/* exists: ours with this template (a stale cache), or a hash collision */
		mk_error_free(&err);
		_cleanup_free_ char *p = mk_client_resource_path("apps/v1", "replicasets", x->ns, rsname, NULL);
		if (mk_client_get(x->ctl->c, p, &res, &err) < 0)
			return -1;
		const cJSON *r = mk_api_controller_ref(res);
		if (r && !strcmp(mk_json_get_string(r, "uid"), mk_json_get_string(d, "metadata.uid")) &&
		    template_matches(res, d)) {
			mk_informer_assume(x->ctl->inf[CTL_RS], res);
			replace_ref(&x->new_rs, res);
			return 0;
		}
		return -2; /* collision */
	}
	mk_informer_assume(x->ctl->inf[CTL_RS], res);
	replace_ref(&x->new_rs, res);
	x->created = true;
	if (want > 0)
		mk_event_record(x->ctl->rec, COMPONENT, d, "Normal", "ScalingReplicaSet",
				"Scaled up replica set %s from 0 to %d", rsname, want);
	return 0;
}

/* ---- strategies ------------------------------------------------------------------------ */

static int sum_status(struct dctx *x, const char *field, bool with_new)
{
	int n = 0;
	for (size_t i = 0; i < x->nold; i++)
		n += json_int(x->old[i]->json, field, 0);
	if (with_new && x->new_rs)
		n += json_int(x->new_rs->json, field, 0);
	return n;
}

static int rolling(struct dctx *x)
{
	/* scale up the new replica set within maxSurge */
	if (x->new_rs) {
		int cur = rs_replicas(x->new_rs->json);
		if (cur > x->replicas)
			return scale_rs(x, &x->new_rs, x->replicas);
		if (cur < x->replicas) {
			int total = sum_status(x, "spec.replicas", true);
			int max_total = x->replicas + x->max_surge;
			if (total < max_total) {
				int up = max_total - total;
				if (up > x->replicas - cur)
					up = x->replicas - cur;
				int r = scale_rs(x, &x->new_rs, cur + up);
				if (r != 0)
					return r;
			}
		} else if (scale_rs(x, &x->new_rs, cur) < 0) {
			return -1; /* annotations only */
		}
	}
	/* scale down old replica sets within maxUnavailable */
	int old_total = sum_status(x, "spec.replicas", false);
	if (!old_total)
		return 0;
	int all = sum_status(x, "spec.replicas", true);
	int min_available = x->replicas - x->max_unavailable;
	int new_unavailable = x->new_rs ? rs_replicas(x->new_rs->json) -
						   json_int(x->new_rs->json, "status.availableReplicas", 0)
					: 0;
	int max_down = all - min_available - new_unavailable;
	if (max_down <= 0)
		return 0;
	qsort(x->old, x->nold, sizeof(*x->old), cmp_created);
	int changed = 0;
	/* first the old replicas that are not available anyway */
	for (size_t i = 0; i < x->nold && max_down > 0; i++) {
		int cur = rs_replicas(x->old[i]->json);
		int unhealthy = cur - json_int(x->old[i]->json, "status.availableReplicas", 0);
		if (cur == 0 || unhealthy <= 0)
			continue;
		int down = unhealthy < max_down ? unhealthy : max_down;
		if (scale_rs(x, &x->old[i], cur - down) < 0)
			return -1;
		max_down -= down;
		changed = 1;
	}
	/* then available ones, keeping minAvailable */
	int available = sum_status(x, "status.availableReplicas", true);
	int total_down = available - min_available;
	if (changed) {
		/* availability counted above may include replicas just scaled away */
		return 1;
	}
	for (size_t i = 0; i < x->nold && total_down > 0; i++) {
		int cur = rs_replicas(x->old[i]->json);
		if (!cur)
			continue;
		int down = cur < total_down ? cur : total_down;
		if (scale_rs(x, &x->old[i], cur - down) < 0)
			return -1;
		total_down -= down;
		changed = 1;
	}
	return changed;
}

static int recreate(struct dctx *x)
{
	int changed = 0;
	for (size_t i = 0; i < x->nold; i++) {
		if (rs_replicas(x->old[i]->json) > 0) {
			if (scale_rs(x, &x->old[i], 0) < 0)
				return -1;
			changed = 1;
		}
	}
	if (changed)
		return 1;
	/* wait until the old pods are gone */
	if (sum_status(x, "status.replicas", false) > 0)
		return 0;
	if (x->new_rs)
		return scale_rs(x, &x->new_rs, x->replicas);
	return 0;
}

static void cleanup_history(struct dctx *x)
{
	int limit = json_int(x->d, "spec.revisionHistoryLimit", 10);
	struct mk_object **dead = mk_malloc0((x->nold + 1) * sizeof(*dead));
	size_t n = 0;
	for (size_t i = 0; i < x->nold; i++) {
		const cJSON *rs = x->old[i]->json;
		if (rs_replicas(rs) == 0 && json_int(rs, "status.replicas", 0) == 0 && !has_deletion(rs))
			dead[n++] = x->old[i];
	}
	qsort(dead, n, sizeof(*dead), cmp_revision);
	for (size_t i = 0; limit >= 0 && i + (size_t)limit < n; i++) {
		_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "replicasets", x->ns,
						     mk_json_get_string(dead[i]->json, "metadata.name"), NULL);
		_cleanup_error_ struct mk_error *err = NULL;
		mk_client_delete(x->ctl->c, path, "Background", NULL, &err);
	}
	free(dead);
}

/* ---- status ---------------------------------------------------------------------------- */

static cJSON *condition(const cJSON *cur, const char *type, const char *status, const char *reason,
			const char *msg, bool progress)
{
	char ts[32];
	now_rfc3339(ts);
	const char *cs = mk_json_get_string(cur, "status");
	const char *cr = mk_json_get_string(cur, "reason");
	const char *cm = mk_json_get_string(cur, "message");
	bool same = cs && !strcmp(cs, status) && cr && !strcmp(cr, reason) && cm && !strcmp(cm, msg);
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status);
	const char *lu = mk_json_get_string(cur, "lastUpdateTime");
	const char *lt = mk_json_get_string(cur, "lastTransitionTime");
	cJSON_AddStringToObject(c, "lastUpdateTime", same && !progress && lu ? lu : ts);
	cJSON_AddStringToObject(c, "lastTransitionTime", cs && !strcmp(cs, status) && lt ? lt : ts);
	cJSON_AddStringToObject(c, "reason", reason);
	cJSON_AddStringToObject(c, "message", msg);
	return c;
}

/* What the replica sets of a deployment report, summed. */
struct dcounts {
	int replicas, updated, ready, available;
};

/* The Progressing condition of a deployment with a new replica set (complete, timed
 * out, just created, unchanged or progressing); the deadline is returned, as the
 * time (ms) to look again. */
static uint64_t progressing_add(struct dctx *x, cJSON *conds, const struct dcounts *c, bool progress)
{
	const cJSON *d = x->d;
	const char *nrs = mk_json_get_string(x->new_rs->json, "metadata.name");
	const cJSON *cp = find_condition(d, "Progressing");
	bool complete = nrs && c->updated == x->replicas && c->replicas == x->replicas &&
			c->available == x->replicas && rs_replicas(x->new_rs->json) == x->replicas;
	char msg[512];
	if (complete) {
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has successfully progressed.", nrs);
		cJSON_AddItemToArray(conds, condition(cp, "Progressing", "True", "NewReplicaSetAvailable",
						      msg, false));
		return 0;
	}
	if (!nrs)
		return 0;
	int deadline = json_int(d, "spec.progressDeadlineSeconds", 600);
	const char *lu = mk_json_get_string(cp, "lastUpdateTime");
	time_t since = lu ? mk_time_parse(lu) : -1;
	const char *cr = mk_json_get_string(cp, "reason");
	if (!progress && since > 0 && time(NULL) > since + deadline && !paused(d)) {
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" has timed out progressing.", nrs);
		cJSON_AddItemToArray(conds, condition(cp, "Progressing", "False",
						      "ProgressDeadlineExceeded", msg, false));
	} else if (x->created) {
		snprintf(msg, sizeof(msg), "Created new replica set \"%s\"", nrs);
		cJSON_AddItemToArray(conds, condition(cp, "Progressing", "True",
						      "NewReplicaSetCreated", msg, true));
	} else if (!progress && cr && cp && strcmp(cr, "NewReplicaSetAvailable")) {
		/* unchanged: keep the condition as it is */
		cJSON_AddItemToArray(conds, cJSON_Duplicate(cp, 1));
	} else {
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.", nrs);
		cJSON_AddItemToArray(conds, condition(cp, "Progressing", "True", "ReplicaSetUpdated",
						      msg, progress));
	}
	return (uint64_t)deadline * 1000 + 500;
}

/* A replica set's ReplicaFailure (a quota refusing its pods) shows on the
 * deployment too, as upstream's GetReplicaFailures. */
static void replica_failure_add(struct dctx *x, cJSON *conds)
{
	const cJSON *rf = x->new_rs ? find_condition(x->new_rs->json, "ReplicaFailure") : NULL;
	for (size_t i = 0; !rf && i < x->nold; i++)
		rf = find_condition(x->old[i]->json, "ReplicaFailure");
	if (!rf)
		return;
	cJSON *c = cJSON_CreateObject();
	const char *keys[] = { "status", "reason", "message" };
	const char *lt = mk_json_get_string(rf, "lastTransitionTime");
	cJSON_AddStringToObject(c, "type", "ReplicaFailure");
	for (size_t k = 0; k < MK_ARRAY_SIZE(keys); k++)
		cJSON_AddStringToObject(c, keys[k], mk_json_get_string(rf, keys[k]) ?: "");
	cJSON_AddStringToObject(c, "lastUpdateTime", lt ? lt : "");
	cJSON_AddStringToObject(c, "lastTransitionTime", lt ? lt : "");
	cJSON_AddItemToArray(conds, c);
}

/* Writes s (taken) through /status unless it equals the current status. */
static int status_write(struct dctx *x, cJSON *s)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddItemToObject(patch, "status", s);
	if (cJSON_Compare(s, cJSON_GetObjectItem(x->d, "status"), 1))
		return 0;
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "deployments", x->ns, x->name, "status");
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	/* a merge patch replaces the conditions list as a whole */
	if (mk_client_patch(x->ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(x->ctl->inf[CTL_DEPLOY], res);
	return 0;
}

static int update_status(struct dctx *x, uint32_t collisions)
{
	const cJSON *d = x->d;
	const cJSON *st = cJSON_GetObjectItem(d, "status");
	struct dcounts c = {
		.replicas = sum_status(x, "status.replicas", true),
		.updated = x->new_rs ? json_int(x->new_rs->json, "status.replicas", 0) : 0,
		.ready = sum_status(x, "status.readyReplicas", true),
		.available = sum_status(x, "status.availableReplicas", true),
	};
	int unavailable = sum_status(x, "spec.replicas", true) - c.available;
	if (unavailable < 0)
		unavailable = 0;

	cJSON *s = cJSON_CreateObject();
	cJSON_AddNumberToObject(s, "observedGeneration", json_int(d, "metadata.generation", 0));
	cJSON_AddNumberToObject(s, "replicas", c.replicas);
	cJSON_AddNumberToObject(s, "updatedReplicas", c.updated);
	cJSON_AddNumberToObject(s, "readyReplicas", c.ready);
	cJSON_AddNumberToObject(s, "availableReplicas", c.available);
	cJSON_AddNumberToObject(s, "unavailableReplicas", unavailable);
	if (collisions)
		cJSON_AddNumberToObject(s, "collisionCount", collisions);
	bool progress = json_int(st, "replicas", -1) != c.replicas ||
			json_int(st, "updatedReplicas", -1) != c.updated ||
			json_int(st, "readyReplicas", -1) != c.ready ||
			json_int(st, "availableReplicas", -1) != c.available || x->created;

	cJSON *conds = cJSON_AddArrayToObject(s, "conditions");
	bool avail = c.available >= x->replicas - x->max_unavailable;
	cJSON_AddItemToArray(conds, condition(find_condition(d, "Available"), "Available",
					      avail ? "True" : "False",
					      avail ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
					      avail ? "Deployment has minimum availability."
						    : "Deployment does not have minimum availability.",
					      false));
	uint64_t requeue = x->new_rs ? progressing_add(x, conds, &c, progress) : 0;
	replica_failure_add(x, conds);
	int ret = status_write(x, s);
	if (requeue) {
		_cleanup_free_ char *key = mk_strdup_printf("%s/%s", x->ns, x->name);
		mk_workqueue_add_after(x->ctl->deploy.q, key, requeue);
	}
	return ret;
}

/* ---- sync ------------------------------------------------------------------------------- */

static void dctx_release(struct dctx *x)
{
	mk_object_unref(x->new_rs);
	mk_object_list_free(x->old, x->nold);
}

/* spec.replicas and spec.strategy (maxSurge, maxUnavailable: at least one non-zero);
 * true for Recreate. */
static bool strategy_read(struct dctx *x)
{
	const cJSON *d = x->d;
	x->replicas = json_int(d, "spec.replicas", 1);
	const cJSON *ru = mk_json_get(d, "spec.strategy.rollingUpdate");
	const char *stype = mk_json_get_string(d, "spec.strategy.type");
	if (stype && !strcmp(stype, "Recreate"))
		return true;
	x->max_surge = mk_controller_int_or_percent(cJSON_GetObjectItem(ru, "maxSurge"), x->replicas,
						    true, 25);
	x->max_unavailable = mk_controller_int_or_percent(cJSON_GetObjectItem(ru, "maxUnavailable"),
							  x->replicas, false, 25);
	if (x->max_surge < 0)
		x->max_surge = 0;
	if (x->max_unavailable < 0)
		x->max_unavailable = 0;
	if (x->max_unavailable > x->replicas)
		x->max_unavailable = x->replicas;
	if (!x->max_surge && !x->max_unavailable)
		x->max_unavailable = 1;
	return false;
}

/* Makes d the controller of the orphan rs; the patched rs (a ref), or NULL. */
static struct mk_object *rs_adopt(struct dctx *x, const cJSON *rs)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *ref = controller_ref_new(x->d);
	mk_json_set_string(ref, "apiVersion", "apps/v1");
	mk_json_set_string(ref, "kind", "Deployment");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(cJSON_AddObjectToObject(patch, "metadata"),
						    "ownerReferences"), ref);
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "replicasets", x->ns,
					     mk_json_get_string(rs, "metadata.name"), NULL);
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *e = NULL;
	if (mk_client_patch(x->ctl->c, path, "application/strategic-merge-patch+json", patch, &res, &e) < 0)
		return NULL;
	mk_informer_assume(x->ctl->inf[CTL_RS], res);
	struct mk_object *o = NULL;
	replace_ref(&o, res);
	return o;
}

/* The replica sets d controls, adopting matching orphans (not while d is being
 * deleted), split into the new one (the newest matching the template if there are
 * several) and the old ones; the highest old revision is returned. */
static int rs_claim(struct dctx *x, const struct mk_label_selector *sel)
{
	struct mk_controllers *ctl = x->ctl;
	struct mk_object **owned, **orph;
	size_t no = mk_informer_by_index(ctl->inf[CTL_RS], "ctl", mk_json_get_string(x->d, "metadata.uid"), &owned);
	size_t nor = has_deletion(x->d) ? 0 : mk_informer_by_index(ctl->inf[CTL_RS], "orphan", x->ns, &orph);
	struct mk_object **all = mk_malloc0((no + nor + 1) * sizeof(*all));
	size_t na = 0;
	for (size_t i = 0; i < no; i++)
		if (!has_deletion(owned[i]->json))
			all[na++] = mk_object_ref(owned[i]);
	for (size_t i = 0; i < nor; i++) {
		const cJSON *rs = orph[i]->json;
		if (has_deletion(rs) || !mk_label_selector_matches(sel, mk_json_get(rs, "metadata.labels")))
			continue;
		struct mk_object *o = rs_adopt(x, rs);
		if (o)
			all[na++] = o;
	}
	mk_object_list_free(owned, no);
	if (nor)
		mk_object_list_free(orph, nor);

	x->old = mk_malloc0((na + 1) * sizeof(*x->old));
	for (size_t i = 0; i < na; i++) {
		if (!x->new_rs && template_matches(all[i]->json, x->d))
			x->new_rs = all[i];
		else
			x->old[x->nold++] = all[i];
	}
	free(all);
	int max_old_rev = 0;
	for (size_t i = 0; i < x->nold; i++) {
		int r = revision_of(x->old[i]->json);
		if (r > max_old_rev)
			max_old_rev = r;
	}
	return max_old_rev;
}

/* The new replica set, created when missing (0, -1, -2 as create_new_rs); a
 * template that comes back (rollback) becomes the newest revision. */
static int new_rs_ensure(struct dctx *x, int max_old_rev, uint32_t collisions)
{
	if (!x->new_rs)
		return create_new_rs(x, max_old_rev + 1, collisions);
	if (revision_of(x->new_rs->json) > max_old_rev)
		return 0;
	char buf[16];
	snprintf(buf, sizeof(buf), "%d", max_old_rev + 1);
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "replicasets", x->ns,
					     mk_json_get_string(x->new_rs->json, "metadata.name"), NULL);
	if (set_annotation(x->ctl, path, x->ctl->inf[CTL_RS], REV, buf) < 0)
		return -1;
	struct mk_object *o = mk_informer_get(x->ctl->inf[CTL_RS], x->new_rs->key);
	if (o) {
		mk_object_unref(x->new_rs);
		x->new_rs = o;
	}
	return 0;
}

/* The deployment carries its new replica set's revision. */
static int revision_annotate(struct dctx *x)
{
	char rev[16];
	snprintf(rev, sizeof(rev), "%d", revision_of(x->new_rs->json));
	const char *drev = annotation(x->d, REV);
	if (drev && !strcmp(drev, rev))
		return 0;
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "deployments", x->ns, x->name, NULL);
	return set_annotation(x->ctl, path, NULL, REV, rev);
}

/* The rollout step: paused, only scaling of the current replica set; else the
 * strategy, then the old replica sets past the history limit go. */
static int rollout(struct dctx *x, bool is_recreate)
{
	if (paused(x->d)) {
		if (rs_replicas(x->new_rs->json) != x->replicas && x->nold == 0)
			return scale_rs(x, &x->new_rs, x->replicas) < 0 ? -1 : 0;
		return 0;
	}
	int r = is_recreate ? recreate(x) : rolling(x);
	cleanup_history(x);
	return r < 0 ? -1 : 0;
}

int deploy_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *dobj = mk_informer_get(ctl->inf[CTL_DEPLOY], key);
	if (!dobj)
		return 0;
	const cJSON *d = dobj->json;
	struct dctx x = { .ctl = ctl, .d = d };
	x.ns = mk_json_get_string(d, "metadata.namespace");
	x.name = mk_json_get_string(d, "metadata.name");
	bool is_recreate = strategy_read(&x);
	struct mk_label_selector *sel = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_label_selector_from_json(mk_json_get(d, "spec.selector"), &sel, &err) < 0 ||
	    mk_label_selector_empty(sel)) {
		mk_label_selector_free(sel);
		mk_object_unref(dobj);
		return 0;
	}
	int max_old_rev = rs_claim(&x, sel);
	mk_label_selector_free(sel);
	uint32_t collisions = (uint32_t)json_int(d, "status.collisionCount", 0);

	int ret = 0;
	if (has_deletion(d) || (!x.new_rs && paused(d))) {
		ret = update_status(&x, collisions);
		goto out;
	}
	int r = new_rs_ensure(&x, max_old_rev, collisions);
	if (r == -2) {
		update_status(&x, collisions + 1);
		ret = -1;
		goto out;
	}
	if (r < 0) {
		ret = -1;
		goto out;
	}
	if (revision_annotate(&x) < 0)
		ret = -1;
	if (rollout(&x, is_recreate) < 0)
		ret = -1;
	if (update_status(&x, collisions) < 0)
		ret = -1;
out:
	dctx_release(&x);
	mk_object_unref(dobj);
	return ret;
}
