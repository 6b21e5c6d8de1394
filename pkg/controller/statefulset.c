/* StatefulSet controller (kube's pkg/controller/statefulset, simplified): pods
 * with stable identities NAME-<ordinal> for the ordinals start .. start+replicas-1,
 * each with hostname = its name and subdomain = spec.serviceName (so the headless
 * service gives it the DNS name NAME-i.SERVICE.NS.svc), the labels
 * statefulset.kubernetes.io/pod-name, apps.kubernetes.io/pod-index and
 * controller-revision-hash, and for every volumeClaimTemplate a claim
 * TEMPLATE-NAME-<ordinal> created before the pod and mounted as the volume named
 * after the template. Claims are not owned by the set (they outlive pod and set)
 * unless persistentVolumeClaimRetentionPolicy says Delete.
 *
 * One pass of sync, as upstream's updateStatefulSet:
 *  - every missing or failed replica is (re)created, lowest ordinal first; with
 *    OrderedReady (monotonic) the pass stops at the first replica that is not
 *    Running and Ready, so NAME-(i+1) only comes once 0..i are up;
 *  - pods above the wanted ordinals are deleted from the highest ordinal down,
 *    one at a time with OrderedReady, and only while the others are healthy;
 *  - RollingUpdate: the highest-ordinal pod at or above the partition whose
 *    revision is not the update revision is deleted (and recreated by a later
 *    pass with the new template), waiting for each to be Ready again.
 * Revisions are ControllerRevisions NAME-<hash of the template> owned by the set
 * (data: the template as a strategic merge patch, as upstream stores it; numbered
 * 1, 2, ...; at most revisionHistoryLimit unused ones are kept). Pods record
 * theirs in controller-revision-hash; a missing pod below the partition is
 * created from the current revision's template, the others from the update
 * revision's. `kubectl rollout history/undo sts` work from these. The revision
 * of an existing template that becomes the update revision again (an undo) gets
 * the next number.
 */
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"

#define COMPONENT "statefulset-controller"
#define L_POD_NAME "statefulset.kubernetes.io/pod-name"
#define L_POD_INDEX "apps.kubernetes.io/pod-index"
#define L_REVISION "controller-revision-hash"

/* ---- handlers ------------------------------------------------------------------------ */

static char *sts_key_of(const cJSON *pod)
{
	const cJSON *r = mk_api_controller_ref(pod);
	const char *k = mk_json_get_string(r, "kind");
	const char *name = mk_json_get_string(r, "name");
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	if (!r || !k || strcmp(k, "StatefulSet") || !name || !ns)
		return NULL;
	return mk_strdup_printf("%s/%s", ns, name);
}

/* Ordinal of pod name for set name, or -1 when it is not NAME-<digits>. */
static long ordinal_of(const char *set, const char *pod)
{
	size_t n = strlen(set);
	if (!pod || strncmp(pod, set, n) || pod[n] != '-' || !pod[n + 1])
		return -1;
	char *end;
	errno = 0;
	long o = strtol(pod + n + 1, &end, 10);
	if (*end || errno || o < 0 || (pod[n + 1] == '0' && pod[n + 2]) || pod[n + 1] == '+' ||
	    pod[n + 1] == '-')
		return -1;
	return o;
}

static void enqueue_for_orphan(struct mk_controllers *ctl, const cJSON *pod)
{
	struct mk_object **sets;
	size_t n = mk_informer_by_index(ctl->inf[CTL_STS], "ns",
					mk_json_get_string(pod, "metadata.namespace"), &sets);
	for (size_t i = 0; i < n; i++)
		if (ordinal_of(mk_json_get_string(sets[i]->json, "metadata.name"),
			       mk_json_get_string(pod, "metadata.name")) >= 0)
			mk_workqueue_add(ctl->sts.q, sets[i]->key);
	mk_object_list_free(sets, n);
}

static void on_pod(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	_cleanup_free_ char *ok = old ? sts_key_of(old->json) : NULL;
	_cleanup_free_ char *nk = new ? sts_key_of(new->json) : NULL;
	if (ok)
		mk_workqueue_add(ctl->sts.q, ok);
	if (nk && (!ok || strcmp(ok, nk)))
		mk_workqueue_add(ctl->sts.q, nk);
	if (new && !nk)
		enqueue_for_orphan(ctl, new->json);
}

static void on_sts(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	if (new)
		mk_workqueue_add(ctl->sts.q, new->key);
}

static void on_cr(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	struct mk_controllers *ctl = ud;
	_cleanup_free_ char *k = sts_key_of((new ? new : old)->json);
	if (k)
		mk_workqueue_add(ctl->sts.q, k);
}

void sts_setup(struct mk_controllers *ctl)
{
	mk_informer_add_handler(ctl->inf[CTL_PODS], on_pod, ctl);
	mk_informer_add_handler(ctl->inf[CTL_STS], on_sts, ctl);
	mk_informer_add_handler(ctl->inf[CTL_CR], on_cr, ctl);
}

/* ---- state of one pass ------------------------------------------------------------------ */

struct sts_pass {
	struct mk_controllers *ctl;
	const cJSON *set;
	const char *ns, *name;
	char revision[160]; /* update revision: NAME-HASH */
	const char *current; /* status.currentRevision, or revision */
	cJSON *current_tmpl;  /* the current revision's template (owned), or NULL: the set's */
	bool monotonic;	      /* OrderedReady */
	int start, replicas;
	struct mk_object **slot; /* [replicas]: the pod of ordinal start+i, or NULL */
	struct mk_object **condemned; /* pods with ordinals outside the range, highest first */
	size_t ncondemned;
	struct mk_object **all; /* every pod of the set */
	size_t nall;
};

static bool pod_running_ready(const cJSON *pod)
{
	const char *phase = mk_json_get_string(pod, "status.phase");
	return phase && !strcmp(phase, "Running") && mk_controller_pod_ready(pod);
}

static bool pod_finished(const cJSON *pod)
{
	const char *phase = mk_json_get_string(pod, "status.phase");
	return phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"));
}

static bool pod_healthy(const cJSON *pod)
{
	return pod_running_ready(pod) && !has_deletion(pod);
}

static const char *pod_revision(const cJSON *pod)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(mk_json_get(pod, "metadata.labels"), L_REVISION));
}

static char *claim_name(const cJSON *tmpl, const char *set, long ordinal)
{
	return mk_strdup_printf("%s-%s-%ld", mk_json_get_string(tmpl, "metadata.name"), set, ordinal);
}

/* ---- writes -------------------------------------------------------------------------------- */

static void add_owner(cJSON *md, const cJSON *owner, const char *api_version, const char *kind,
		      bool controller)
{
	cJSON *refs = cJSON_GetObjectItem(md, "ownerReferences");
	if (!refs)
		refs = cJSON_AddArrayToObject(md, "ownerReferences");
	cJSON *ref = controller_ref_new(owner);
	mk_json_set_string(ref, "apiVersion", api_version);
	mk_json_set_string(ref, "kind", kind);
	if (!controller) {
		cJSON_DeleteItemFromObject(ref, "controller");
		cJSON_DeleteItemFromObject(ref, "blockOwnerDeletion");
	}
	cJSON_AddItemToArray(refs, ref);
}

/* The claims of ordinal o exist (created from the templates when missing). */
static int ensure_claims(struct sts_pass *x, long o)
{
	const cJSON *t;
	const char *when_deleted = mk_json_get_string(x->set,
		"spec.persistentVolumeClaimRetentionPolicy.whenDeleted");
	cJSON_ArrayForEach(t, mk_json_get(x->set, "spec.volumeClaimTemplates"))
	{
		_cleanup_free_ char *cn = claim_name(t, x->name, o);
		_cleanup_free_ char *key = mk_strdup_printf("%s/%s", x->ns, cn);
		_cleanup_error_ struct mk_error *err = NULL;
		struct mk_object *have = mk_informer_get(x->ctl->inf[CTL_PVC], key);
		if (have) {
			mk_object_unref(have);
			continue;
		}
		_cleanup_cjson_ cJSON *pvc = cJSON_CreateObject();
		cJSON_AddStringToObject(pvc, "apiVersion", "v1");
		cJSON_AddStringToObject(pvc, "kind", "PersistentVolumeClaim");
		cJSON *md = cJSON_AddObjectToObject(pvc, "metadata");
		cJSON_AddStringToObject(md, "name", cn);
		cJSON_AddStringToObject(md, "namespace", x->ns);
		/* the template's labels and annotations, and the set's matchLabels */
		const cJSON *v = mk_json_get(t, "metadata.labels"), *it;
		cJSON *labels = v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
		cJSON_ArrayForEach(it, mk_json_get(x->set, "spec.selector.matchLabels"))
			if (cJSON_IsString(it))
				mk_json_set_string(labels, it->string, it->valuestring);
		cJSON_AddItemToObject(md, "labels", labels);
		v = mk_json_get(t, "metadata.annotations");
		if (v)
			cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(v, 1));
		if (when_deleted && !strcmp(when_deleted, "Delete"))
			add_owner(md, x->set, "apps/v1", "StatefulSet", true);
		v = cJSON_GetObjectItem(t, "spec");
		cJSON_AddItemToObject(pvc, "spec", v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject());
		_cleanup_free_ char *cpath = mk_client_resource_path("v1", "persistentvolumeclaims", x->ns, NULL, NULL);
		_cleanup_cjson_ cJSON *created = NULL;
		if (mk_client_create(x->ctl->c, cpath, pvc, &created, &err) < 0 && mk_error_code(err) != 409) {
			mk_event_record(x->ctl->rec, COMPONENT, x->set, "Warning", "FailedCreate",
					"create Claim %s for Pod %s-%ld in StatefulSet %s failed error: %s",
					cn, x->name, o, x->name, err->msg);
			return -1;
		}
		if (created)
			mk_informer_assume(x->ctl->inf[CTL_PVC], created);
		if (created)
			mk_event_record(x->ctl->rec, COMPONENT, x->set, "Normal", "SuccessfulCreate",
					"create Claim %s Pod %s-%ld in StatefulSet %s success", cn,
					x->name, o, x->name);
	}
	return 0;
}

/* The pod of ordinal o, from the current template (owned). */
static cJSON *new_pod(struct sts_pass *x, long o)
{
	const cJSON *tmpl = mk_json_get(x->set, "spec.template");
	const char *revision = x->revision;
	const char *type = mk_json_get_string(x->set, "spec.updateStrategy.type");
	int partition = json_int(x->set, "spec.updateStrategy.rollingUpdate.partition", 0);
	/* below the partition, pods keep the current revision */
	if ((!type || !strcmp(type, "RollingUpdate")) && o < (long)x->start + partition &&
	    x->current_tmpl) {
		tmpl = x->current_tmpl;
		revision = x->current;
	}
	_cleanup_free_ char *name = mk_strdup_printf("%s-%ld", x->name, o);
	char idx[24];
	snprintf(idx, sizeof(idx), "%ld", o);

	cJSON *pod = cJSON_CreateObject();
	cJSON_AddStringToObject(pod, "apiVersion", "v1");
	cJSON_AddStringToObject(pod, "kind", "Pod");
	cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", x->ns);
	const cJSON *v = mk_json_get(tmpl, "metadata.labels");
	cJSON *labels = v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	mk_json_set_string(labels, L_POD_NAME, name);
	mk_json_set_string(labels, L_POD_INDEX, idx);
	mk_json_set_string(labels, L_REVISION, revision);
	cJSON_AddItemToObject(md, "labels", labels);
	v = mk_json_get(tmpl, "metadata.annotations");
	if (v)
		cJSON_AddItemToObject(md, "annotations", cJSON_Duplicate(v, 1));
	add_owner(md, x->set, "apps/v1", "StatefulSet", true);

	v = cJSON_GetObjectItem(tmpl, "spec");
	cJSON *spec = v ? cJSON_Duplicate(v, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(pod, "spec", spec);
	mk_json_set_string(spec, "hostname", name);
	const char *svc = mk_json_get_string(x->set, "spec.serviceName");
	if (svc && *svc)
		mk_json_set_string(spec, "subdomain", svc);
	/* each claim template replaces (or adds) the volume of its name */
	const cJSON *t;
	cJSON_ArrayForEach(t, mk_json_get(x->set, "spec.volumeClaimTemplates"))
	{
		const char *vn = mk_json_get_string(t, "metadata.name");
		cJSON *vols = cJSON_GetObjectItem(spec, "volumes");
		if (!vn)
			continue;
		if (!cJSON_IsArray(vols)) {
			cJSON_DeleteItemFromObject(spec, "volumes");
			vols = cJSON_AddArrayToObject(spec, "volumes");
		}
		for (int i = cJSON_GetArraySize(vols) - 1; i >= 0; i--) {
			const char *n = mk_json_get_string(cJSON_GetArrayItem(vols, i), "name");
			if (n && !strcmp(n, vn))
				cJSON_DeleteItemFromArray(vols, i);
		}
		_cleanup_free_ char *cn = claim_name(t, x->name, o);
		cJSON *vol = cJSON_CreateObject();
		cJSON_AddStringToObject(vol, "name", vn);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(vol, "persistentVolumeClaim"), "claimName", cn);
		cJSON_AddItemToArray(vols, vol);
	}
	return pod;
}

static int create_pod(struct sts_pass *x, long o)
{
	if (ensure_claims(x, o) < 0)
		return -1;
	_cleanup_cjson_ cJSON *pod = new_pod(x, o);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", x->ns, NULL, NULL);
	_cleanup_cjson_ cJSON *created = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_create(x->ctl->c, path, pod, &created, &err) < 0) {
		if (mk_error_code(err) == 409) /* the old one is still being removed */
			return 0;
		/* no event only for the NamespaceTerminating 403 (a quota's 403 is one) */
		if (!(mk_error_code(err) == 403 &&
		      strstr(err->msg, "because it is being terminated")))
			mk_event_record(x->ctl->rec, COMPONENT, x->set, "Warning", "FailedCreate",
					"create Pod %s-%ld in StatefulSet %s failed error: %s", x->name,
					o, x->name, err->msg);
		return -1;
	}
	mk_informer_assume(x->ctl->inf[CTL_PODS], created);
	mk_event_record(x->ctl->rec, COMPONENT, x->set, "Normal", "SuccessfulCreate",
			"create Pod %s-%ld in StatefulSet %s successful", x->name, o, x->name);
	return 0;
}

/* whenScaled Delete: the pod that goes owns its claims (instead of the set, if
 * it did), so the garbage collector removes them after the pod. */
static int claims_follow_pod(struct sts_pass *x, const cJSON *pod, long o)
{
	const char *ws = mk_json_get_string(x->set, "spec.persistentVolumeClaimRetentionPolicy.whenScaled");
	const char *set_uid = mk_json_get_string(x->set, "metadata.uid");
	const cJSON *t;
	int ret = 0;
	if (!ws || strcmp(ws, "Delete"))
		return 0;
	cJSON_ArrayForEach(t, mk_json_get(x->set, "spec.volumeClaimTemplates"))
	{
		_cleanup_free_ char *cn = claim_name(t, x->name, o);
		_cleanup_free_ char *key = mk_strdup_printf("%s/%s", x->ns, cn);
		struct mk_object *claim = mk_informer_get(x->ctl->inf[CTL_PVC], key);
		if (!claim)
			continue;
		/* the claim's owners but the set, and the pod */
		_cleanup_cjson_ cJSON *patch = cJSON_CreateObject(), *res = NULL;
		cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
		cJSON *refs = cJSON_AddArrayToObject(md, "ownerReferences");
		const cJSON *r;
		bool has_pod = false;
		cJSON_ArrayForEach(r, mk_json_get(claim->json, "metadata.ownerReferences"))
		{
			const char *uid = mk_json_get_string(r, "uid");
			has_pod |= uid && !strcmp(uid, mk_json_get_string(pod, "metadata.uid"));
			if (!uid || !set_uid || strcmp(uid, set_uid))
				cJSON_AddItemToArray(refs, cJSON_Duplicate(r, 1));
		}
		mk_object_unref(claim);
		if (has_pod)
			continue;
		add_owner(md, pod, "v1", "Pod", false);
		_cleanup_free_ char *path = mk_client_resource_path("v1", "persistentvolumeclaims", x->ns, cn, NULL);
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_patch(x->ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0 &&
		    mk_error_code(err) != 404) {
			mk_event_record(x->ctl->rec, COMPONENT, x->set, "Warning", "FailedUpdate",
					"update Claim %s for StatefulSet %s failed: %s", cn, x->name, err->msg);
			ret = -1;
		} else if (res) {
			mk_informer_assume(x->ctl->inf[CTL_PVC], res);
		}
	}
	return ret;
}

static int delete_pod(struct sts_pass *x, const cJSON *pod, const char *why)
{
	const char *name = mk_json_get_string(pod, "metadata.name");
	const char *uid = mk_json_get_string(pod, "metadata.uid");
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", x->ns, name, NULL);
	_cleanup_cjson_ cJSON *opts = cJSON_CreateObject();
	_cleanup_error_ struct mk_error *err = NULL;
	/* precondition on the uid: never delete a newer pod of the same name */
	cJSON_AddStringToObject(opts, "kind", "DeleteOptions");
	cJSON_AddStringToObject(opts, "apiVersion", "v1");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(opts, "preconditions"), "uid", uid);
	_cleanup_free_ char *body = cJSON_PrintUnformatted(opts);
	struct mk_client_request req = { .method = "DELETE", .path = path, .body = body };
	struct mk_client_response res = { 0 };
	if (mk_client_do(x->ctl->c, &req, &res, &err) < 0)
		return -1;
	long code = res.code;
	if (code >= 400)
		mk_client_response_error(&res, &err);
	mk_client_response_release(&res);
	if (code == 404 || code == 409)
		return 0; /* gone, or already another pod of that name */
	if (code >= 400) {
		mk_event_record(x->ctl->rec, COMPONENT, x->set, "Warning", "FailedDelete",
				"delete Pod %s in StatefulSet %s failed error: %s", name, x->name, err->msg);
		return -1;
	}
	mk_event_record(x->ctl->rec, COMPONENT, x->set, "Normal", "SuccessfulDelete",
			"delete Pod %s in StatefulSet %s successful%s", name, x->name, why);
	return 0;
}

static int adopt(struct sts_pass *x, const cJSON *pod)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
	add_owner(md, x->set, "apps/v1", "StatefulSet", true);
	_cleanup_free_ char *path = mk_client_resource_path("v1", "pods", x->ns,
					     mk_json_get_string(pod, "metadata.name"), NULL);
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(x->ctl->c, path, "application/strategic-merge-patch+json", patch, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(x->ctl->inf[CTL_PODS], res);
	return 1;
}

/* ---- revisions (ControllerRevisions) ---------------------------------------------------------- */

#define L_CR_HASH "controller.kubernetes.io/hash"

/* The revision's data: the template as a strategic merge patch that replaces it. */
static cJSON *revision_data(const cJSON *tmpl)
{
	cJSON *data = cJSON_CreateObject();
	cJSON *t = tmpl ? cJSON_Duplicate(tmpl, 1) : cJSON_CreateObject();
	cJSON_AddStringToObject(t, "$patch", "replace");
	cJSON_AddItemToObject(cJSON_AddObjectToObject(data, "spec"), "template", t);
	return data;
}

static double revision_number(const cJSON *cr)
{
	const cJSON *v = cJSON_GetObjectItem(cr, "revision");
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int cmp_revision(const void *a, const void *b)
{
	double ra = revision_number((*(struct mk_object *const *)a)->json);
	double rb = revision_number((*(struct mk_object *const *)b)->json);
	return ra < rb ? -1 : ra > rb ? 1 : 0;
}

/* The update revision is an older one again (rollout undo): it becomes the newest. */
static int revision_renumber(struct sts_pass *x, double max)
{
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject(), *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON_AddNumberToObject(patch, "revision", max + 1);
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "controllerrevisions", x->ns, x->revision, NULL);
	if (mk_client_patch(x->ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return -1;
	mk_informer_assume(x->ctl->inf[CTL_CR], res);
	return 0;
}

/* The ControllerRevision of the update revision, numbered after max. */
static int revision_create(struct sts_pass *x, const char *hash, double max)
{
	_cleanup_cjson_ cJSON *cr = cJSON_CreateObject(), *created = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	cJSON_AddStringToObject(cr, "apiVersion", "apps/v1");
	cJSON_AddStringToObject(cr, "kind", "ControllerRevision");
	cJSON *md = cJSON_AddObjectToObject(cr, "metadata");
	cJSON_AddStringToObject(md, "name", x->revision);
	cJSON_AddStringToObject(md, "namespace", x->ns);
	const cJSON *tl = mk_json_get(x->set, "spec.template.metadata.labels");
	cJSON *labels = tl ? cJSON_Duplicate(tl, 1) : cJSON_CreateObject();
	mk_json_set_string(labels, L_CR_HASH, hash);
	cJSON_AddItemToObject(md, "labels", labels);
	add_owner(md, x->set, "apps/v1", "StatefulSet", true);
	cJSON_AddItemToObject(cr, "data", revision_data(mk_json_get(x->set, "spec.template")));
	cJSON_AddNumberToObject(cr, "revision", max + 1);
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "controllerrevisions", x->ns, NULL, NULL);
	if (mk_client_create(x->ctl->c, path, cr, &created, &err) < 0)
		return mk_error_code(err) != 409 ? -1 : 0;
	mk_informer_assume(x->ctl->inf[CTL_CR], created);
	return 0;
}

/* History: the revisions no pod uses (nor the current and update ones) beyond
 * revisionHistoryLimit go, oldest first. */
static int revisions_prune(struct sts_pass *x, struct mk_object **revs, size_t n)
{
	int ret = 0;
	int limit = json_int(x->set, "spec.revisionHistoryLimit", 10);
	struct mk_object **old = mk_malloc0((n + 1) * sizeof(*old));
	size_t nold = 0;
	for (size_t i = 0; i < n; i++) {
		const char *name = mk_json_get_string(revs[i]->json, "metadata.name");
		bool live = !name || !strcmp(name, x->revision) || !strcmp(name, x->current);
		for (size_t j = 0; !live && j < x->nall; j++) {
			const char *pr = pod_revision(x->all[j]->json);
			live = pr && !strcmp(pr, name);
		}
		if (!live)
			old[nold++] = revs[i];
	}
	qsort(old, nold, sizeof(*old), cmp_revision);
	for (size_t i = 0; limit >= 0 && nold > (size_t)limit && i < nold - (size_t)limit; i++) {
		_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "controllerrevisions", x->ns,
						     mk_json_get_string(old[i]->json, "metadata.name"), NULL);
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_delete(x->ctl->c, path, NULL, NULL, &err) < 0 && mk_error_code(err) != 404)
			ret = -1;
	}
	free(old);
	return ret;
}

/* Makes sure the update revision exists (and is the newest), loads the current
 * revision's template, and removes old revisions beyond revisionHistoryLimit
 * that no pod uses. */
static int sync_revisions(struct sts_pass *x, const char *uid, const char *hash)
{
	struct mk_object **revs;
	size_t n = mk_informer_by_index(x->ctl->inf[CTL_CR], "ctl", uid, &revs);
	double max = 0;
	const cJSON *found = NULL;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		const cJSON *r = revs[i]->json;
		if (revision_number(r) > max)
			max = revision_number(r);
		const char *name = mk_json_get_string(r, "metadata.name");
		if (name && !strcmp(name, x->revision))
			found = r;
		if (name && !strcmp(name, x->current) && strcmp(x->current, x->revision)) {
			const cJSON *t = mk_json_get(r, "data.spec.template");
			if (cJSON_IsObject(t)) {
				x->current_tmpl = cJSON_Duplicate(t, 1);
				cJSON_DeleteItemFromObjectCaseSensitive(x->current_tmpl, "$patch");
			}
		}
	}
	if (found && revision_number(found) < max)
		ret = revision_renumber(x, max);
	else if (!found)
		ret = revision_create(x, hash, max);
	if (revisions_prune(x, revs, n) < 0)
		ret = -1;
	if (n)
		mk_object_list_free(revs, n);
	return ret;
}

/* ---- status ------------------------------------------------------------------------------------ */

static int update_status(struct sts_pass *x, uint64_t *ret_requeue_ms)
{
	int min_ready = json_int(x->set, "spec.minReadySeconds", 0);
	time_t now = time(NULL);
	int replicas = 0, ready = 0, available = 0, current = 0, updated = 0;
	*ret_requeue_ms = 0;
	for (size_t i = 0; i < x->nall; i++) {
		const cJSON *p = x->all[i]->json;
		if (has_deletion(p) || pod_finished(p))
			continue;
		replicas++;
		const char *rev = pod_revision(p);
		if (rev && !strcmp(rev, x->current))
			current++;
		if (rev && !strcmp(rev, x->revision))
			updated++;
		if (!pod_running_ready(p))
			continue;
		ready++;
		const char *lt = mk_json_get_string(find_condition(p, "Ready"), "lastTransitionTime");
		time_t since = lt ? mk_time_parse(lt) : 0;
		if (min_ready <= 0 || (since > 0 && since + min_ready <= now)) {
			available++;
		} else {
			uint64_t wait = (uint64_t)(since > 0 ? since + min_ready - now : min_ready) * 1000 + 100;
			if (!*ret_requeue_ms || wait < *ret_requeue_ms)
				*ret_requeue_ms = wait;
		}
	}
	const char *cur_rev = x->current;
	const char *type = mk_json_get_string(x->set, "spec.updateStrategy.type");
	/* a finished rolling update makes the update revision current */
	if ((!type || !strcmp(type, "RollingUpdate")) && updated == x->replicas &&
	    ready == x->replicas && replicas == x->replicas) {
		cur_rev = x->revision;
		current = updated;
	}
	const cJSON *st = cJSON_GetObjectItem(x->set, "status");
	int gen = json_int(x->set, "metadata.generation", 0);
	const char *oc = mk_json_get_string(st, "currentRevision");
	const char *ou = mk_json_get_string(st, "updateRevision");
	if (json_int(st, "replicas", -1) == replicas && json_int(st, "readyReplicas", -1) == ready &&
	    json_int(st, "availableReplicas", -1) == available &&
	    json_int(st, "currentReplicas", -1) == current &&
	    json_int(st, "updatedReplicas", -1) == updated &&
	    json_int(st, "observedGeneration", -1) == gen && oc && !strcmp(oc, cur_rev) && ou &&
	    !strcmp(ou, x->revision))
		return 0;
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *s = cJSON_AddObjectToObject(patch, "status");
	cJSON_AddNumberToObject(s, "observedGeneration", gen);
	cJSON_AddNumberToObject(s, "replicas", replicas);
	cJSON_AddNumberToObject(s, "readyReplicas", ready);
	cJSON_AddNumberToObject(s, "currentReplicas", current);
	cJSON_AddNumberToObject(s, "updatedReplicas", updated);
	cJSON_AddNumberToObject(s, "availableReplicas", available);
	cJSON_AddStringToObject(s, "currentRevision", cur_rev);
	cJSON_AddStringToObject(s, "updateRevision", x->revision);
	cJSON_AddNumberToObject(s, "collisionCount", json_int(st, "collisionCount", 0));
	_cleanup_free_ char *path = mk_client_resource_path("apps/v1", "statefulsets", x->ns, x->name, "status");
	_cleanup_cjson_ cJSON *res = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(x->ctl->c, path, "application/merge-patch+json", patch, &res, &err) < 0)
		return mk_error_code(err) == 404 ? 0 : -1;
	mk_informer_assume(x->ctl->inf[CTL_STS], res);
	return 0;
}

/* ---- one pass ----------------------------------------------------------------------------------- */

static int cmp_ordinal_desc(const void *a, const void *b, void *set)
{
	long oa = ordinal_of(set, mk_json_get_string((*(struct mk_object *const *)a)->json, "metadata.name"));
	long ob = ordinal_of(set, mk_json_get_string((*(struct mk_object *const *)b)->json, "metadata.name"));
	return oa < ob ? 1 : oa > ob ? -1 : 0;
}

/* Creates, deletes and updates pods (one step at a time with OrderedReady). */
static int reconcile(struct sts_pass *x)
{
	int ret = 0;

	/* missing or failed replicas, lowest ordinal first */
	for (int i = 0; i < x->replicas; i++) {
		long o = x->start + i;
		const cJSON *p = x->slot[i] ? x->slot[i]->json : NULL;
		if (p && pod_finished(p) && !has_deletion(p)) {
			/* upstream deletes a failed replica and creates it again */
			if (delete_pod(x, p, " (failed)") < 0)
				ret = -1;
			if (x->monotonic)
				return ret;
			continue;
		}
		if (!p) {
			if (create_pod(x, o) < 0)
				return -1;
			if (x->monotonic)
				return ret;
			continue;
		}
		/* an existing pod keeps its claims: a claim deleted by hand comes back */
		if (!has_deletion(p) && cJSON_GetArraySize(mk_json_get(x->set, "spec.volumeClaimTemplates")) &&
		    ensure_claims(x, o) < 0)
			ret = -1;
		if (x->monotonic && !pod_healthy(p))
			return ret; /* wait for it to be Running and Ready */
	}

	/* scale down: the highest ordinals first */
	for (size_t i = 0; i < x->ncondemned; i++) {
		const cJSON *p = x->condemned[i]->json;
		if (has_deletion(p)) {
			if (x->monotonic)
				return ret; /* one at a time */
			continue;
		}
		if (x->monotonic) {
			/* only while every replica is healthy */
			for (int j = 0; j < x->replicas; j++)
				if (!x->slot[j] || !pod_healthy(x->slot[j]->json))
					return ret;
		}
		long o = ordinal_of(x->name, mk_json_get_string(p, "metadata.name"));
		if (claims_follow_pod(x, p, o) < 0) {
			ret = -1; /* the claims must follow before the pod goes */
			if (x->monotonic)
				return ret;
			continue;
		}
		if (delete_pod(x, p, "") < 0)
			ret = -1;
		if (x->monotonic)
			return ret;
	}

	/* rolling update from the highest ordinal down to the partition */
	const char *type = mk_json_get_string(x->set, "spec.updateStrategy.type");
	if (type && strcmp(type, "RollingUpdate"))
		return ret; /* OnDelete */
	int partition = json_int(x->set, "spec.updateStrategy.rollingUpdate.partition", 0);
	for (int i = x->replicas - 1; i >= 0 && i >= partition; i--) {
		const cJSON *p = x->slot[i] ? x->slot[i]->json : NULL;
		if (!p)
			return ret;
		const char *rev = pod_revision(p);
		if ((!rev || strcmp(rev, x->revision)) && !has_deletion(p)) {
			if (delete_pod(x, p, " (update)") < 0)
				ret = -1;
			return ret;
		}
		if (!pod_healthy(p))
			return ret; /* wait for the updated pod to be ready */
	}
	return ret;
}

/* The set's pods into x->all: owned ones named as its own, and orphans it adopts
 * (matching, named as its own); -1 when an adoption failed. */
static int pods_claim(struct sts_pass *x, const char *uid, const struct mk_label_selector *sel)
{
	int ret = 0;
	struct mk_object **owned, **orphans;
	size_t no = mk_informer_by_index(x->ctl->inf[CTL_PODS], "ctl", uid, &owned);
	size_t nor = mk_informer_by_index(x->ctl->inf[CTL_PODS], "orphan", x->ns, &orphans);
	x->all = mk_malloc0((no + nor + 1) * sizeof(*x->all));
	for (size_t i = 0; i < no; i++)
		if (ordinal_of(x->name, mk_json_get_string(owned[i]->json, "metadata.name")) >= 0)
			x->all[x->nall++] = mk_object_ref(owned[i]);
	for (size_t i = 0; i < nor; i++) {
		const cJSON *p = orphans[i]->json;
		if (has_deletion(p) || ordinal_of(x->name, mk_json_get_string(p, "metadata.name")) < 0 ||
		    !mk_label_selector_matches(sel, mk_json_get(p, "metadata.labels")))
			continue;
		int r = adopt(x, p);
		if (r < 0)
			ret = -1;
		else if (r > 0)
			x->all[x->nall++] = mk_object_ref(orphans[i]);
	}
	if (no)
		mk_object_list_free(owned, no);
	if (nor)
		mk_object_list_free(orphans, nor);
	return ret;
}

/* Each pod into its ordinal's slot, or condemned (outside the range, highest first). */
static void pods_file(struct sts_pass *x)
{
	x->slot = mk_malloc0(((size_t)x->replicas + 1) * sizeof(*x->slot));
	x->condemned = mk_malloc0((x->nall + 1) * sizeof(*x->condemned));
	for (size_t i = 0; i < x->nall; i++) {
		long o = ordinal_of(x->name, mk_json_get_string(x->all[i]->json, "metadata.name"));
		if (o >= x->start && o < (long)x->start + x->replicas)
			x->slot[o - x->start] = x->all[i];
		else
			x->condemned[x->ncondemned++] = x->all[i];
	}
	qsort_r(x->condemned, x->ncondemned, sizeof(*x->condemned), cmp_ordinal_desc, (void *)x->name);
}

int sts_sync(struct mk_controllers *ctl, const char *key)
{
	struct mk_object *so = mk_informer_get(ctl->inf[CTL_STS], key);
	if (!so)
		return 0;
	const cJSON *set = so->json;
	struct sts_pass x = { .ctl = ctl, .set = set };
	x.ns = mk_json_get_string(set, "metadata.namespace");
	x.name = mk_json_get_string(set, "metadata.name");
	const char *uid = mk_json_get_string(set, "metadata.uid");
	struct mk_label_selector *sel = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	int ret = 0;

	if (has_deletion(set) || !x.ns || !x.name || !uid ||
	    mk_label_selector_from_json(mk_json_get(set, "spec.selector"), &sel, &err) < 0 ||
	    mk_label_selector_empty(sel)) {
		mk_label_selector_free(sel);
		mk_object_unref(so);
		return 0; /* being deleted (the garbage collector's), or invalid */
	}

	/* the update revision: NAME-<hash of the template> */
	_cleanup_cjson_ cJSON *tmpl = cJSON_Duplicate(mk_json_get(set, "spec.template"), 1);
	char hash[11];
	mk_controller_template_hash(tmpl, (uint32_t)json_int(set, "status.collisionCount", 0), hash);
	snprintf(x.revision, sizeof(x.revision), "%s-%s", x.name, hash);
	x.current = mk_json_get_string(set, "status.currentRevision");
	if (!x.current || !*x.current)
		x.current = x.revision;
	const char *pmp = mk_json_get_string(set, "spec.podManagementPolicy");
	x.monotonic = !pmp || strcmp(pmp, "Parallel");
	x.start = json_int(set, "spec.ordinals.start", 0);
	x.replicas = json_int(set, "spec.replicas", 1);
	if (x.replicas < 0)
		x.replicas = 0;

	if (pods_claim(&x, uid, sel) < 0)
		ret = -1;
	mk_label_selector_free(sel);
	pods_file(&x);

	if (sync_revisions(&x, uid, hash) < 0)
		ret = -1;
	else if (reconcile(&x) < 0)
		ret = -1;
	uint64_t requeue = 0;
	if (update_status(&x, &requeue) < 0)
		ret = -1;
	if (requeue)
		mk_workqueue_add_after(ctl->sts.q, key, requeue);
	free(x.slot);
	free(x.condemned);
	cJSON_Delete(x.current_tmpl);
	mk_object_list_free(x.all, x.nall);
	mk_object_unref(so);
	return ret;
}
