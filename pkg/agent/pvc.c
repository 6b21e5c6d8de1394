/* Persistent volume claims on the node.
 *
 * Mounting: a pod volume persistentVolumeClaim resolves to its claim, the claim
 * to its bound volume, the volume to a directory of this node (spec.local.path or
 * spec.hostPath.path); the directory is created world-writable (0777, as k3s's
 * local-path provisioner does) and bind-mounted into the containers, read-only
 * when the pod volume says readOnly.
 *
 * Reclaiming: volumes the local-path provisioner made (pkg/controller/pv.c) live
 * in DATA_DIR/storage, published as the node annotation minik8s.io/local-path-dir,
 * and carry the finalizer minik8s.io/local-path-cleanup. When such a volume of
 * this node is deleted (reclaim policy Delete, once its claim is gone), this agent
 * removes the directory and then the finalizer, so the PersistentVolume goes only
 * after its data. A watch on the volumes delivers the deletions; every resync of
 * the agent looks again, so a failed attempt is retried. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "minik8s/api.h"
#include "internal.h"

struct agent_pvc {
	struct mk_agent *a;
	struct mk_informer *pvs;
	char *dir; /* DATA_DIR/storage */
};

char *agent_pvc_dir(struct mk_agent *a)
{
	return mk_strdup_printf("%s/storage", a->data_dir);
}

/* The path of volume pv on this node, or NULL. */
static const char *volume_path(const cJSON *pv)
{
	const char *p = mk_json_get_string(pv, "spec.local.path");
	if (!p || !*p)
		p = mk_json_get_string(pv, "spec.hostPath.path");
	return p && *p ? p : NULL;
}

int agent_pvc_volume(struct mk_agent *a, const cJSON *pod, const cJSON *vol, char **ret_path,
		     bool *ret_read_only, struct mk_error **err)
{
	const char *ns = mk_json_get_string(pod, "metadata.namespace");
	const char *cn = mk_json_get_string(vol, "persistentVolumeClaim.claimName");
	_cleanup_cjson_ cJSON *claim = NULL, *pv = NULL;

	if (!cn || !*cn)
		return mk_error_set(err, EINVAL, "volume \"%s\": persistentVolumeClaim.claimName is empty",
				    mk_json_get_string(vol, "name") ?: "");
	_cleanup_free_ char *cpath = mk_client_resource_path("v1", "persistentvolumeclaims", ns, cn, NULL);
	if (mk_client_get(a->c, cpath, &claim, err) < 0) {
		if (mk_error_code(*err) == 404) {
			mk_error_free(err);
			return mk_error_set(err, ENOENT, "persistentvolumeclaim \"%s\" not found", cn);
		}
		return mk_error_wrap(err, "persistentvolumeclaim \"%s\"", cn);
	}
	const char *vn = mk_json_get_string(claim, "spec.volumeName");
	const char *phase = mk_json_get_string(claim, "status.phase");
	if (!vn || !*vn || !phase || strcmp(phase, "Bound"))
		return mk_error_set(err, EAGAIN, "persistentvolumeclaim \"%s\" is not bound", cn);
	_cleanup_free_ char *ppath = mk_client_resource_path("v1", "persistentvolumes", NULL, vn, NULL);
	if (mk_client_get(a->c, ppath, &pv, err) < 0)
		return mk_error_wrap(err, "persistentvolume \"%s\" of claim \"%s\"", vn, cn);
	const char *uid = mk_json_get_string(claim, "metadata.uid");
	const char *ruid = mk_json_get_string(pv, "spec.claimRef.uid");
	if (!uid || !ruid || strcmp(uid, ruid))
		return mk_error_set(err, EAGAIN, "persistentvolume \"%s\" is not bound to claim \"%s\"", vn, cn);
	const char *path = volume_path(pv);
	if (!path || path[0] != '/')
		return mk_error_set(err, ENOTSUP, "persistentvolume \"%s\": only local and hostPath "
				    "volumes can be mounted on this node", vn);
	if (mk_fs_mkdir_p(path, 0777, err) < 0)
		return mk_error_wrap(err, "persistentvolume \"%s\"", vn);
	/* the provisioner's directories are open to every user, as local-path makes them */
	if (cJSON_GetObjectItemCaseSensitive(mk_json_get(pv, "metadata.annotations"),
					     "pv.kubernetes.io/provisioned-by"))
		chmod(path, 0777);
	*ret_path = mk_strdup(path);
	*ret_read_only = cJSON_IsTrue(mk_json_get(vol, "persistentVolumeClaim.readOnly"));
	return 0;
}

bool agent_pvc_read_only(const cJSON *pod, const char *name)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, mk_json_get(pod, "spec.volumes"))
	{
		const char *n = mk_json_get_string(v, "name");
		if (n && !strcmp(n, name))
			return cJSON_IsTrue(mk_json_get(v, "persistentVolumeClaim.readOnly"));
	}
	return false;
}

/* ---- reclaiming ------------------------------------------------------------------ */

/* Whether the volume's node affinity names this node (kubernetes.io/hostname In). */
static bool on_this_node(struct agent_pvc *p, const cJSON *pv)
{
	const cJSON *t, *e, *v;
	cJSON_ArrayForEach(t, mk_json_get(pv, "spec.nodeAffinity.required.nodeSelectorTerms"))
	{
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(t, "matchExpressions"))
		{
			const char *k = mk_json_get_string(e, "key"), *op = mk_json_get_string(e, "operator");
			if (!k || !op || strcmp(k, "kubernetes.io/hostname") || strcmp(op, "In"))
				continue;
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(e, "values"))
				if (cJSON_IsString(v) && !strcmp(v->valuestring, p->a->node_name))
					return true;
		}
	}
	return false;
}

/* A path inside the storage directory, one level down, without "..". */
static bool ours(struct agent_pvc *p, const char *path)
{
	size_t n = strlen(p->dir);
	return path && !strncmp(path, p->dir, n) && path[n] == '/' && path[n + 1] &&
	       !strchr(path + n + 1, '/') && !strstr(path, "..");
}

static void reclaim(struct agent_pvc *p, const cJSON *pv)
{
	const char *name = mk_json_get_string(pv, "metadata.name");
	const char *path = volume_path(pv);
	if (!name || !mk_json_get(pv, "metadata.deletionTimestamp") ||
	    !mk_api_finalizer_has(pv, MK_API_LOCAL_PATH_FINALIZER) || !on_this_node(p, pv) || !ours(p, path))
		return;
	/* in use until its claim has released it; only Delete removes the data (an
	 * administrator deleting a Retain volume keeps the directory) */
	const char *phase = mk_json_get_string(pv, "status.phase");
	const char *policy = mk_json_get_string(pv, "spec.persistentVolumeReclaimPolicy");
	if (phase && !strcmp(phase, "Bound"))
		return;
	bool wipe = policy && !strcmp(policy, "Delete");
	if (wipe && agent_rm_rf(path) < 0 && errno != ENOENT) {
		mk_log(MK_LOG_WARN, "agent", "persistentvolume %s: removing '%s': %s", name, path,
		       strerror(errno));
		return;
	}
	/* the finalizers without ours, guarded by the resourceVersion read */
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON *md = cJSON_AddObjectToObject(patch, "metadata");
	cJSON *fs = cJSON_AddArrayToObject(md, "finalizers");
	const cJSON *it;
	cJSON_ArrayForEach(it, mk_json_get(pv, "metadata.finalizers"))
		if (cJSON_IsString(it) && strcmp(it->valuestring, MK_API_LOCAL_PATH_FINALIZER))
			cJSON_AddItemToArray(fs, cJSON_CreateString(it->valuestring));
	const char *rv = mk_json_get_string(pv, "metadata.resourceVersion");
	if (rv)
		cJSON_AddStringToObject(md, "resourceVersion", rv);
	_cleanup_free_ char *ppath = mk_client_resource_path("v1", "persistentvolumes", NULL, name, NULL);
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_client_patch(p->a->c, ppath, "application/merge-patch+json", patch, NULL, &err) < 0 &&
	    mk_error_code(err) != 404) {
		mk_log(MK_LOG_WARN, "agent", "persistentvolume %s: %s", name, err->msg);
		return;
	}
	if (wipe)
		mk_log(MK_LOG_INFO, "agent", "persistentvolume %s: removed '%s'", name, path);
}

static void on_pv(const struct mk_object *old, const struct mk_object *new, void *ud)
{
	if (new)
		reclaim(ud, new->json);
}

void agent_pvc_resync(struct mk_agent *a)
{
	struct agent_pvc *p = a->pvc;
	struct mk_object **pvs;
	if (!p)
		return;
	size_t n = mk_informer_list(p->pvs, &pvs);
	for (size_t i = 0; i < n; i++)
		reclaim(p, pvs[i]->json);
	mk_object_list_free(pvs, n);
}

int agent_pvc_start(struct mk_agent *a, struct mk_error **err)
{
	struct agent_pvc *p = mk_malloc0(sizeof(*p));
	p->a = a;
	p->dir = agent_pvc_dir(a);
	a->pvc = p;
	if (mk_fs_mkdir_p(p->dir, 0755, err) < 0)
		return mk_error_wrap(err, "agent: local-path directory");
	p->pvs = mk_informer_new(a->c, "/api/v1/persistentvolumes");
	mk_informer_add_handler(p->pvs, on_pv, p);
	if (mk_informer_start(p->pvs, err) < 0)
		return mk_error_wrap(err, "agent: persistent volume informer");
	return 0;
}

void agent_pvc_stop(struct mk_agent *a)
{
	struct agent_pvc *p = a->pvc;
	if (!p)
		return;
	if (p->pvs)
		mk_informer_stop(p->pvs);
	mk_informer_free(p->pvs);
	free(p->dir);
	free(p);
	a->pvc = NULL;
}
