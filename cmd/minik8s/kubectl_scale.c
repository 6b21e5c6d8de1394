/* kubectl scale deployment|replicaset|statefulset NAME --replicas=N: a merge patch on the
 * scale subresource. */
#include <string.h>
#include "commands.h"
#include "kubectl.h"

static const char SCALE_HELP[] =
	"Set a new size for a deployment, replica set or stateful set.\n\n"
	"Examples:\n"
	"  minik8s kubectl scale deployment web --replicas=3\n"
	"  minik8s kubectl scale --replicas=0 rs/web-5d4f8\n\n"
	"Options:\n"
	"      --replicas N            the new number of replicas (required)\n"
	"      --current-replicas N    precondition: only scale if the size is currently N\n\n"
	"Usage:\n  minik8s kubectl scale (deployment|replicaset|statefulset) NAME --replicas=N [options]\n";

/* Scales one object: reads it (checking --current-replicas, as kubectl does),
 * then a merge patch on its scale subresource. 0, or the exit status. */
static int scale_one(struct kubectl *k, const char *type, const char *name, long replicas,
		     long current)
{
	struct kres res;
	if (kubectl_resolve(k, type, &res))
		return 1;
	if (strcmp(res.kind, "Deployment") && strcmp(res.kind, "ReplicaSet") &&
	    strcmp(res.kind, "StatefulSet")) {
		fprintf(stderr, "error: cannot scale a %s\n", res.kind);
		return 1;
	}
	_cleanup_free_ char *path = kres_path(&res, k->ns, name, NULL, NULL);
	struct mk_client_response got = { 0 };
	if (kubectl_do(k, "GET", path, NULL, NULL, NULL, &got))
		return 1;
	if (got.code != 200) {
		int rc = kubectl_server_error(&got);
		mk_client_response_release(&got);
		return rc;
	}
	const cJSON *cur = mk_json_get(got.json, "spec.replicas");
	long have = cJSON_IsNumber(cur) ? (long)cur->valuedouble : 1;
	mk_client_response_release(&got);
	if (current >= 0 && have != current) {
		fprintf(stderr, "error: Expected replicas to be %ld, was %ld\n", current, have);
		return 1;
	}
	_cleanup_free_ char *spath = kres_path(&res, k->ns, name, "scale", NULL);
	_cleanup_cjson_ cJSON *patch = cJSON_CreateObject();
	cJSON_AddNumberToObject(cJSON_AddObjectToObject(patch, "spec"), "replicas", (double)replicas);
	struct mk_client_response res2 = { 0 };
	if (kubectl_do(k, "PATCH", spath, NULL, "application/merge-patch+json", patch, &res2))
		return 1;
	char disp[160];
	int rc = 0;
	if (res2.code < 200 || res2.code >= 300)
		rc = kubectl_server_error(&res2);
	else
		printf("%s/%s scaled\n", kres_display(&res, disp, sizeof(disp)), name);
	mk_client_response_release(&res2);
	return rc;
}

int kubectl_scale(struct kubectl *k, int argc, char **argv)
{
	long replicas = -1, current = -1;
	bool help, replicas_set = false;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "replicas", 0, KF_INT, &replicas, &replicas_set },
		{ "current-replicas", 0, KF_INT, &current, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int r = kflags_parse("kubectl scale", argc, argv, flags, &help, &a);
	if (r)
		return r;
	if (help) {
		fputs(SCALE_HELP, stdout);
		kargs_release(&a);
		return 0;
	}
	if (!replicas_set || replicas < 0) {
		kargs_release(&a);
		return cmd_usage_error("kubectl scale", "the --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
	}
	/* TYPE NAME... or TYPE/NAME... */
	char **names;
	int nnames;
	char *tname;
	if (a.n >= 1 && strchr(a.v[0], '/')) {
		tname = NULL;
		names = a.v;
		nnames = a.n;
	} else if (a.n >= 2) {
		tname = a.v[0];
		names = a.v + 1;
		nnames = a.n - 1;
	} else {
		kargs_release(&a);
		return cmd_usage_error("kubectl scale", "you must provide a resource and a name");
	}
	if (kubectl_connect(k)) {
		kargs_release(&a);
		return 1;
	}
	int rc = 0;
	for (int i = 0; i < nnames; i++) {
		char *name = names[i];
		const char *type = tname;
		if (!type) {
			char *slash = strchr(name, '/');
			if (!slash) {
				rc = cmd_usage_error("kubectl scale", "expected TYPE/NAME, got \"%s\"", name);
				break;
			}
			*slash = '\0';
			type = name;
			name = slash + 1;
		}
		int one = scale_one(k, type, name, replicas, current);
		if (one)
			rc = one;
	}
	kargs_release(&a);
	return rc;
}
