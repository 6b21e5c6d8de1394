#include <ctype.h>
/* kubectl create namespace|deployment|-f, and kubectl run: the objects real
 * kubectl builds (kubectl 1.30's JSON bodies). */
#include <string.h>
#include "commands.h"
#include "kubectl.h"

static const char CREATE_HELP[] =
	"Create a resource from a file or from stdin, or a namespace or a deployment.\n\n"
	"Examples:\n"
	"  minik8s kubectl create namespace demo\n"
	"  minik8s kubectl -n demo create deployment web --image=nginx --replicas=3 --port=80\n"
	"  minik8s kubectl create deployment busy --image=busybox -- sleep 3600\n"
	"  minik8s kubectl create -f manifest.yaml\n\n"
	"Subcommands:\n"
	"  namespace NAME (alias ns)\n"
	"  deployment NAME --image=IMAGE [--image=...] [--replicas=N] [--port=P] [-- COMMAND [ARGS...]]\n"
	"    (alias deploy)\n\n"
	"Options:\n"
	"  -f, --filename FILE   files, directories or - (stdin) with the objects to create\n"
	"      --dry-run=client  print the object instead of sending it (with -o json|yaml)\n"
	"  -o, --output FORMAT   json|yaml|name\n\n"
	"Usage:\n  minik8s kubectl create (-f FILE | namespace NAME | deployment NAME --image=IMAGE) [options]\n";

static const char RUN_HELP[] =
	"Create and run a particular image in a pod.\n\n"
	"Examples:\n"
	"  minik8s kubectl run jumpbox --image=nginx\n"
	"  minik8s kubectl run web --image=nginx --port=80 --labels=app=web,tier=fe\n"
	"  minik8s kubectl run job --image=busybox --restart=Never -- echo hello\n"
	"  minik8s kubectl run sh --image=busybox --command -- sleep 3600\n\n"
	"Options:\n"
	"      --image IMAGE      the container image (required)\n"
	"      --port PORT        the port the container exposes\n"
	"  -l, --labels L         comma-separated labels (default run=NAME)\n"
	"      --restart POLICY   Always (default), OnFailure or Never\n"
	"      --env KEY=VALUE    environment variables (repeatable)\n"
	"      --image-pull-policy POLICY\n"
	"      --command          the arguments after -- are the command, not args\n"
	"      --dry-run=client   print the object instead of sending it (with -o json|yaml)\n"
	"  -o, --output FORMAT    json|yaml|name\n\n"
	"Usage:\n  minik8s kubectl run NAME --image=IMAGE [options] [-- COMMAND [ARGS...]]\n";

/* Sends a built object, prints "KIND/NAME created" (or the object with -o). */
static int submit(struct kubectl *k, const struct kres *r, const char *ns, cJSON *obj,
		  const char *field_manager, const char *output, const char *dry_run,
		  const char *verb)
{
	char disp[160];
	const char *name = mk_json_get_string(obj, "metadata.name");
	if (dry_run && *dry_run && strcmp(dry_run, "none") != 0) {
		if (strcmp(dry_run, "client") != 0)
			return cmd_usage_error("kubectl", "only --dry-run=client is supported");
		if (output && !strcmp(output, "json"))
			kubectl_print_json(stdout, obj);
		else if (output && !strcmp(output, "yaml"))
			return kubectl_print_yaml(stdout, obj);
		else
			printf("%s/%s %s (dry run)\n", kres_display(r, disp, sizeof(disp)), name, verb);
		return 0;
	}
	_cleanup_free_ char *query = mk_strdup_printf("fieldManager=%s", field_manager);
	_cleanup_free_ char *path = kres_path(r, ns, NULL, NULL, query);
	struct mk_client_response res = { 0 };
	if (kubectl_do(k, "POST", path, NULL, NULL, obj, &res))
		return 1;
	int rc = 0;
	if (res.code < 200 || res.code >= 300) {
		rc = kubectl_server_error(&res);
	} else if (output && !strcmp(output, "json")) {
		kubectl_print_json(stdout, res.json);
	} else if (output && !strcmp(output, "yaml")) {
		rc = kubectl_print_yaml(stdout, res.json);
	} else {
		const char *got = mk_json_get_string(res.json, "metadata.name");
		printf("%s/%s %s\n", kres_display(r, disp, sizeof(disp)), got ? got : name, verb);
	}
	mk_client_response_release(&res);
	return rc;
}

/* kubectl's container name for an image: basename without tag or digest */
static char *container_name(const char *image)
{
	const char *slash = strrchr(image, '/');
	char *name = mk_strdup(slash ? slash + 1 : image);
	char *cut = strchr(name, '@');
	if (cut)
		*cut = '\0';
	cut = strchr(name, ':');
	if (cut)
		*cut = '\0';
	for (char *p = name; *p; p++)
		if (*p == '_')
			*p = '-';
	return name;
}

static cJSON *string_array(char **v, int n)
{
	cJSON *a = cJSON_CreateArray();
	for (int i = 0; i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

static int create_namespace(struct kubectl *k, struct kargs *a, const char *output,
			    const char *dry_run)
{
	if (a->n != 2)
		return cmd_usage_error("kubectl create namespace", "exactly one NAME is required, got %d",
				       a->n - 1);
	struct kres r;
	if (kubectl_resolve(k, "namespaces", &r))
		return 1;
	_cleanup_cjson_ cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "kind", "Namespace");
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", a->v[1]);
	cJSON_AddNullToObject(meta, "creationTimestamp");
	cJSON_AddObjectToObject(obj, "spec");
	cJSON_AddObjectToObject(obj, "status");
	return submit(k, &r, NULL, obj, "kubectl-create", output, dry_run, "created");
}

static int create_deployment(struct kubectl *k, struct kargs *a, struct kflag_list *images,
			     long replicas, long port, const char *output, const char *dry_run)
{
	if (a->n != 2)
		return cmd_usage_error("kubectl create deployment", "exactly one NAME is required, got %d",
				       a->n - 1);
	if (images->n == 0)
		return cmd_usage_error("kubectl create deployment", "required flag(s) \"image\" not set");
	if (images->n > 1 && a->has_dash)
		return cmd_usage_error("kubectl create deployment",
				       "cannot specify multiple --image options and command");
	const char *name = a->v[1];
	struct kres r;
	if (kubectl_resolve(k, "deployments.apps", &r))
		return 1;
	_cleanup_cjson_ cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "kind", "Deployment");
	cJSON_AddStringToObject(obj, "apiVersion", "apps/v1");
	cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", name);
	cJSON_AddStringToObject(meta, "namespace", k->ns);
	cJSON_AddNullToObject(meta, "creationTimestamp");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "labels"), "app", name);
	cJSON *spec = cJSON_AddObjectToObject(obj, "spec");
	cJSON_AddNumberToObject(spec, "replicas", (double)replicas);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "selector"),
							"matchLabels"),
				"app", name);
	cJSON *tmpl = cJSON_AddObjectToObject(spec, "template");
	cJSON *tmeta = cJSON_AddObjectToObject(tmpl, "metadata");
	cJSON_AddNullToObject(tmeta, "creationTimestamp");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(tmeta, "labels"), "app", name);
	cJSON *containers = cJSON_AddArrayToObject(cJSON_AddObjectToObject(tmpl, "spec"), "containers");
	for (int i = 0; i < images->n; i++) {
		cJSON *c = cJSON_CreateObject();
		_cleanup_free_ char *cname = container_name(images->v[i]);
		/* kubectl makes duplicate names unique with a suffix */
		_cleanup_free_ char *unique = NULL;
		for (int j = 0; j < i; j++) {
			_cleanup_free_ char *other = container_name(images->v[j]);
			if (!strcmp(other, cname))
				unique = mk_strdup_printf("%s-%d", cname, i);
		}
		cJSON_AddStringToObject(c, "name", unique ? unique : cname);
		cJSON_AddStringToObject(c, "image", images->v[i]);
		if (a->has_dash && a->ndash > 0)
			cJSON_AddItemToObject(c, "command", string_array(a->dash, a->ndash));
		if (port >= 0) {
			cJSON *p = cJSON_CreateObject();
			cJSON_AddNumberToObject(p, "containerPort", (double)port);
			cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "ports"), p);
		}
		cJSON_AddObjectToObject(c, "resources");
		cJSON_AddItemToArray(containers, c);
	}
	cJSON_AddObjectToObject(spec, "strategy");
	cJSON_AddObjectToObject(obj, "status");
	return submit(k, &r, k->ns, obj, "kubectl-create", output, dry_run, "created");
}

/* create -f --dry-run=client: the objects as -o asks (one object, or a List), or
 * "kind/name created (dry run)" lines; nothing reaches the server. */
static int print_dry_run(const cJSON *objs, const char *output)
{
	const cJSON *o;
	_cleanup_cjson_ cJSON *list = NULL;
	const cJSON *what = objs;

	if (output && (!strcmp(output, "json") || !strcmp(output, "yaml"))) {
		if (cJSON_GetArraySize(objs) == 1) {
			what = cJSON_GetArrayItem(objs, 0);
		} else {
			list = cJSON_CreateObject();
			cJSON_AddStringToObject(list, "apiVersion", "v1");
			cJSON_AddStringToObject(list, "kind", "List");
			cJSON_AddItemToObject(list, "items", cJSON_Duplicate(objs, 1));
			what = list;
		}
		if (!strcmp(output, "json"))
			kubectl_print_json(stdout, what);
		else if (kubectl_print_yaml(stdout, what) != 0)
			return 1;
		return 0;
	}
	cJSON_ArrayForEach(o, objs)
	{
		const char *kind = mk_json_get_string(o, "kind");
		const char *name = mk_json_get_string(o, "metadata.name");
		char lower[64] = "";
		for (size_t i = 0; kind && kind[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)tolower((unsigned char)kind[i]);
		printf("%s/%s created (dry run)\n", lower, name ? name : "");
	}
	return 0;
}

int kubectl_create(struct kubectl *k, int argc, char **argv)
{
	struct kflag_list files = { 0 }, images = { 0 };
	const char *output = NULL, *dry_run = NULL;
	long replicas = 1, port = -1;
	bool help, validate = true;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "filename", 'f', KF_LIST, &files, NULL },
		{ "image", 0, KF_LIST, &images, NULL },
		{ "replicas", 'r', KF_INT, &replicas, NULL },
		{ "port", 0, KF_INT, &port, NULL },
		{ "output", 'o', KF_STRING, &output, NULL },
		{ "dry-run", 0, KF_STRING, &dry_run, NULL },
		{ "validate", 0, KF_BOOL, &validate, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int r = kflags_parse("kubectl create", argc, argv, flags, &help, &a);
	if (r)
		goto out;
	if (help) {
		fputs(CREATE_HELP, stdout);
		goto out;
	}
	if (files.n > 0) {
		if (a.n > 0) {
			r = cmd_usage_error("kubectl create", "unexpected arguments with -f");
			goto out;
		}
		_cleanup_cjson_ cJSON *objs = NULL;
		r = kubectl_read_manifests(&files, &objs);
		if (r)
			goto out;
		cJSON *o;
		if (dry_run && *dry_run && strcmp(dry_run, "none") != 0) {
			/* nothing is sent: print what would be created */
			if (strcmp(dry_run, "client") != 0) {
				r = cmd_usage_error("kubectl create", "only --dry-run=client is supported");
				goto out;
			}
			r = print_dry_run(objs, output);
			goto out;
		}
		cJSON_ArrayForEach(o, objs)
			r |= kubectl_apply_object(k, o, true);
		goto out;
	}
	if (a.n == 0) {
		r = cmd_usage_error("kubectl create", "must specify one of -f, namespace NAME or deployment NAME");
		goto out;
	}
	if (!strcmp(a.v[0], "namespace") || !strcmp(a.v[0], "ns")) {
		if (kubectl_connect(k)) {
			r = 1;
			goto out;
		}
		r = create_namespace(k, &a, output, dry_run);
	} else if (!strcmp(a.v[0], "deployment") || !strcmp(a.v[0], "deploy")) {
		if (replicas < 0) {
			r = cmd_usage_error("kubectl create deployment", "--replicas must be >= 0");
			goto out;
		}
		if (port != -1 && (port < 1 || port > 65535)) {
			r = cmd_usage_error("kubectl create deployment", "--port must be in 1..65535");
			goto out;
		}
		if (kubectl_connect(k)) {
			r = 1;
			goto out;
		}
		r = create_deployment(k, &a, &images, replicas, port, output, dry_run);
	} else {
		r = cmd_usage_error("kubectl create", "unknown resource \"%s\" (supported: namespace, deployment, -f)",
				    a.v[0]);
	}
out:
	kargs_release(&a);
	kflag_list_release(&files);
	kflag_list_release(&images);
	return r;
}

int kubectl_run(struct kubectl *k, int argc, char **argv)
{
	struct kflag_list env = { 0 };
	const char *image = NULL, *labels = NULL, *restart = NULL, *output = NULL, *dry_run = NULL;
	const char *pull = NULL;
	long port = -1;
	bool help, command = false;
	struct kargs a = { 0 };
	_cleanup_cjson_ cJSON *lab = NULL, *obj = NULL;
	const struct kflag flags[] = {
		{ "image", 0, KF_STRING, &image, NULL },
		{ "port", 0, KF_INT, &port, NULL },
		{ "labels", 'l', KF_STRING, &labels, NULL },
		{ "restart", 0, KF_STRING, &restart, NULL },
		{ "env", 0, KF_LIST, &env, NULL },
		{ "image-pull-policy", 0, KF_STRING, &pull, NULL },
		{ "command", 0, KF_BOOL, &command, NULL },
		{ "output", 'o', KF_STRING, &output, NULL },
		{ "dry-run", 0, KF_STRING, &dry_run, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int r = kflags_parse("kubectl run", argc, argv, flags, &help, &a);
	if (r)
		goto out;
	if (help) {
		fputs(RUN_HELP, stdout);
		goto out;
	}
	if (a.n != 1) {
		r = cmd_usage_error("kubectl run", "NAME is required for run");
		goto out;
	}
	if (!image || !*image) {
		r = cmd_usage_error("kubectl run", "required flag(s) \"image\" not set");
		goto out;
	}
	if (restart && strcmp(restart, "Always") && strcmp(restart, "OnFailure") &&
	    strcmp(restart, "Never")) {
		r = cmd_usage_error("kubectl run", "invalid restart policy: %s", restart);
		goto out;
	}
	if (port != -1 && (port < 1 || port > 65535)) {
		r = cmd_usage_error("kubectl run", "--port must be in 1..65535");
		goto out;
	}
	const char *name = a.v[0];
	if (labels) {
		lab = kubectl_labels_parse(labels);
		if (!lab) {
			r = cmd_usage_error("kubectl run", "invalid label spec: %s", labels);
			goto out;
		}
	} else {
		lab = cJSON_CreateObject();
		cJSON_AddStringToObject(lab, "run", name);
	}
	if (kubectl_connect(k)) {
		r = 1;
		goto out;
	}
	struct kres res;
	if (kubectl_resolve(k, "pods", &res)) {
		r = 1;
		goto out;
	}
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "kind", "Pod");
	cJSON_AddStringToObject(obj, "apiVersion", "v1");
	cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
	cJSON_AddStringToObject(meta, "name", name);
	cJSON_AddNullToObject(meta, "creationTimestamp");
	cJSON_AddItemToObject(meta, "labels", TAKE_PTR(lab));
	cJSON *spec = cJSON_AddObjectToObject(obj, "spec");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "name", name);
	cJSON_AddStringToObject(c, "image", image);
	if (a.has_dash && a.ndash > 0)
		cJSON_AddItemToObject(c, command ? "command" : "args", string_array(a.dash, a.ndash));
	if (env.n > 0) {
		cJSON *e = cJSON_AddArrayToObject(c, "env");
		for (int i = 0; i < env.n; i++) {
			char *eq = strchr(env.v[i], '=');
			if (!eq) {
				r = cmd_usage_error("kubectl run", "invalid env: %s", env.v[i]);
				goto out;
			}
			cJSON *kv = cJSON_CreateObject();
			char *key = strndup(env.v[i], (size_t)(eq - env.v[i]));
			cJSON_AddStringToObject(kv, "name", key);
			free(key);
			cJSON_AddStringToObject(kv, "value", eq + 1);
			cJSON_AddItemToArray(e, kv);
		}
	}
	if (pull)
		cJSON_AddStringToObject(c, "imagePullPolicy", pull);
	if (port >= 0) {
		cJSON *p = cJSON_CreateObject();
		cJSON_AddNumberToObject(p, "containerPort", (double)port);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "ports"), p);
	}
	cJSON_AddObjectToObject(c, "resources");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "containers"), c);
	cJSON_AddStringToObject(spec, "restartPolicy", restart ? restart : "Always");
	cJSON_AddStringToObject(spec, "dnsPolicy", "ClusterFirst");
	cJSON_AddObjectToObject(obj, "status");
	r = submit(k, &res, k->ns, obj, "kubectl-run", output, dry_run, "created");
out:
	kargs_release(&a);
	kflag_list_release(&env);
	return r;
}
