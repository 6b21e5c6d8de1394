/* kubectl delete: by type and names, by label selector, or the objects of
 * manifest files; waits (a watch on the name) until the objects are gone. */
#include <string.h>
#include "commands.h"
#include "kubectl.h"

static const char DELETE_HELP[] =
	"Delete resources by file names, stdin, resources and names, or by label selector.\n\n"
	"Examples:\n"
	"  minik8s kubectl delete pod jumpbox\n"
	"  minik8s kubectl delete deploy/web svc/web\n"
	"  minik8s kubectl delete -f manifest.yaml\n"
	"  minik8s kubectl delete pods -l app=web\n\n"
	"Options:\n"
	"  -f, --filename FILE       files, directories or - (stdin) with the objects to delete\n"
	"  -l, --selector SEL        delete the objects of TYPE matching the label selector\n"
	"      --all                 delete all objects of TYPE in the namespace\n"
	"  -A, --all-namespaces      with -l or --all: in every namespace\n"
	"      --ignore-not-found    treat missing objects as deleted\n"
	"      --wait                wait until the objects are gone (default true)\n"
	"      --timeout DURATION    how long to wait (\"60s\", \"2m\"; default 60s)\n"
	"      --cascade MODE        background (default), foreground or orphan\n"
	"      --grace-period N      seconds the object has to terminate (-1: its own default;\n"
	"                            0 only with --force, otherwise treated as 1)\n"
	"      --now                 the same as --grace-period=1\n"
	"      --force               with --grace-period=0 (the default with --force): remove the\n"
	"                            object at once, without waiting for its node to confirm\n\n"
	"Usage:\n  minik8s kubectl delete ([-f FILE] | TYPE [NAME...] | TYPE/NAME... | TYPE -l SEL | TYPE --all) [options]\n";

struct delete_opts {
	bool wait, ignore_not_found, force;
	long timeout_s;
	long grace; /* DeleteOptions.gracePeriodSeconds, or -1: not sent */
	const char *propagation;
};

struct wait_ctx {
	bool gone;
};

static int on_wait_event(const char *type, const cJSON *obj, void *userdata)
{
	struct wait_ctx *w = userdata;
	if (!strcmp(type, "DELETED")) {
		w->gone = true;
		return -1;
	}
	return 0;
}

/* Waits until name is gone: a watch from the delete's resourceVersion. */
static int wait_gone(struct kubectl *k, const struct kres *r, const char *ns, const char *name,
		     const char *rv, long timeout_s)
{
	_cleanup_free_ char *field = mk_strdup_printf("metadata.name=%s", name);
	_cleanup_free_ char *efield = mk_client_escape(field);
	_cleanup_free_ char *query = mk_strdup_printf("fieldSelector=%s", efield);
	_cleanup_free_ char *path = kres_path(r, ns, NULL, NULL, query);
	struct mk_client_watch *w = mk_client_watch_new();
	struct wait_ctx ctx = { 0 };
	_cleanup_error_ struct mk_error *err = NULL;
	int ret = mk_client_watch_run(k->client, w, path, rv, (int)timeout_s, NULL, on_wait_event, &ctx,
				      &err);
	mk_client_watch_free(w);
	if (ctx.gone)
		return 0;
	/* stream ended (timeout) or failed: is it gone anyway? */
	_cleanup_free_ char *opath = kres_path(r, ns, name, NULL, NULL);
	struct mk_client_response res = { 0 };
	if (kubectl_do(k, "GET", opath, NULL, NULL, NULL, &res))
		return 1;
	long code = res.code;
	mk_client_response_release(&res);
	if (code == 404)
		return 0;
	char disp[160];
	if (ret < 0 && err)
		fprintf(stderr, "error: waiting for %s/%s: %s\n", kres_display(r, disp, sizeof(disp)), name,
			err->msg);
	else
		fprintf(stderr, "error: timed out waiting for the condition on %s/%s\n",
			r->name, name);
	return 1;
}

static int delete_one(struct kubectl *k, const struct kres *r, const char *ns, const char *name,
		      const struct delete_opts *o)
{
	_cleanup_free_ char *path = kres_path(r, ns, name, NULL, NULL);
	_cleanup_cjson_ cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "propagationPolicy", o->propagation);
	if (o->grace >= 0)
		cJSON_AddNumberToObject(body, "gracePeriodSeconds", (double)o->grace);
	struct mk_client_response res = { 0 };
	char disp[160];
	if (kubectl_do(k, "DELETE", path, NULL, NULL, body, &res))
		return 1;
	if (res.code == 404 && o->ignore_not_found) {
		mk_client_response_release(&res);
		return 0;
	}
	if (res.code < 200 || res.code >= 300) {
		int rc = kubectl_server_error(&res);
		mk_client_response_release(&res);
		return rc;
	}
	printf("%s \"%s\" %sdeleted\n", kres_display(r, disp, sizeof(disp)), name,
	       o->force && o->grace == 0 ? "force " : "");
	fflush(stdout);
	int rc = 0;
	const char *kind = mk_json_get_string(res.json, "kind");
	bool lingering = kind && strcmp(kind, "Status") != 0 &&
			 mk_json_get(res.json, "metadata.deletionTimestamp");
	if (o->wait && lingering) {
		const char *rv = mk_json_get_string(res.json, "metadata.resourceVersion");
		rc = wait_gone(k, r, ns, name, rv, o->timeout_s);
	}
	mk_client_response_release(&res);
	return rc;
}

static long parse_seconds(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return (long)v;
	if (!strcmp(end, "m"))
		return (long)(v * 60);
	if (!strcmp(end, "h"))
		return (long)(v * 3600);
	if (!strcmp(end, "ms"))
		return v > 0 ? 1 : 0;
	return -1;
}

/* --now, --grace-period and --force as kubectl settles them: --now is a grace period
 * of 1; 0 without --force becomes 1 (no accidental immediate deletion); --force alone
 * is 0, and an immediate deletion is announced, since nothing confirms the end of what
 * the object ran. */
static int grace_options(struct delete_opts *o, bool now)
{
	if (now) {
		if (o->grace != -1)
			return cmd_usage_error("kubectl delete", "--now and --grace-period cannot be specified together");
		o->grace = 1;
	}
	if (o->grace < -1)
		return cmd_usage_error("kubectl delete", "invalid --grace-period %ld", o->grace);
	if (o->grace == 0 && !o->force)
		o->grace = 1;
	if (o->force && o->grace < 0)
		o->grace = 0;
	if (o->force && o->grace == 0)
		fputs("Warning: Immediate deletion does not wait for confirmation that the running "
		      "resource has been terminated. The resource may continue to run on the cluster "
		      "indefinitely.\n", stderr);
	return 0;
}

/* every object of r matching selector (NULL: all): their names and namespaces */
static int delete_selected(struct kubectl *k, const struct kres *r, const char *selector,
			   bool all_ns, const struct delete_opts *o, int *count)
{
	struct mk_buf q;
	mk_buf_init(&q);
	if (selector) {
		_cleanup_free_ char *e = mk_client_escape(selector);
		mk_buf_printf(&q, "labelSelector=%s", e);
	}
	_cleanup_free_ char *query = q.data ? mk_buf_steal(&q) : NULL;
	const char *ns = all_ns || !r->namespaced ? NULL : k->ns;
	_cleanup_free_ char *path = kres_path(r, ns, NULL, NULL, query);
	struct mk_client_response res = { 0 };
	if (kubectl_do(k, "GET", path, NULL, NULL, NULL, &res))
		return 1;
	if (res.code != 200) {
		int rc = kubectl_server_error(&res);
		mk_client_response_release(&res);
		return rc;
	}
	int rc = 0;
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res.json, "items")) {
		const char *name = mk_json_get_string(it, "metadata.name");
		const char *ons = mk_json_get_string(it, "metadata.namespace");
		if (!name)
			continue;
		(*count)++;
		rc |= delete_one(k, r, r->namespaced ? (ons ? ons : k->ns) : NULL, name, o);
	}
	mk_client_response_release(&res);
	return rc;
}

int kubectl_delete(struct kubectl *k, int argc, char **argv)
{
	struct kflag_list files = { 0 };
	const char *selector = NULL, *timeout = NULL, *cascade = NULL;
	bool help, all = false, all_ns = false, now = false;
	struct delete_opts o = { .wait = true, .timeout_s = 60, .propagation = "Background", .grace = -1 };
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "filename", 'f', KF_LIST, &files, NULL },
		{ "selector", 'l', KF_STRING, &selector, NULL },
		{ "all", 0, KF_BOOL, &all, NULL },
		{ "all-namespaces", 'A', KF_BOOL, &all_ns, NULL },
		{ "ignore-not-found", 0, KF_BOOL, &o.ignore_not_found, NULL },
		{ "wait", 0, KF_BOOL, &o.wait, NULL },
		{ "timeout", 0, KF_STRING, &timeout, NULL },
		{ "cascade", 0, KF_STRING, &cascade, NULL },
		{ "grace-period", 0, KF_INT, &o.grace, NULL },
		{ "now", 0, KF_BOOL, &now, NULL },
		{ "force", 0, KF_BOOL, &o.force, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int rc = kflags_parse("kubectl delete", argc, argv, flags, &help, &a);
	if (rc)
		goto out;
	if (help) {
		fputs(DELETE_HELP, stdout);
		goto out;
	}
	rc = grace_options(&o, now);
	if (rc)
		goto out;
	if (timeout) {
		o.timeout_s = parse_seconds(timeout);
		if (o.timeout_s < 0) {
			rc = cmd_usage_error("kubectl delete", "invalid --timeout \"%s\"", timeout);
			goto out;
		}
		if (o.timeout_s == 0)
			o.timeout_s = 60;
	}
	if (cascade) {
		if (!strcmp(cascade, "background") || !strcmp(cascade, "true"))
			o.propagation = "Background";
		else if (!strcmp(cascade, "foreground"))
			o.propagation = "Foreground";
		else if (!strcmp(cascade, "orphan") || !strcmp(cascade, "false"))
			o.propagation = "Orphan";
		else {
			rc = cmd_usage_error("kubectl delete", "invalid --cascade \"%s\"", cascade);
			goto out;
		}
	}
	if (files.n > 0) {
		if (a.n > 0) {
			rc = cmd_usage_error("kubectl delete", "unexpected arguments with -f");
			goto out;
		}
		_cleanup_cjson_ cJSON *objs = NULL;
		rc = kubectl_read_manifests(&files, &objs);
		if (rc)
			goto out;
		if (kubectl_connect(k)) {
			rc = 1;
			goto out;
		}
		cJSON *obj;
		cJSON_ArrayForEach(obj, objs) {
			struct kres r;
			if (kubectl_resolve_kind(k, mk_json_get_string(obj, "apiVersion"),
						 mk_json_get_string(obj, "kind"), &r)) {
				rc = 1;
				continue;
			}
			const char *name = mk_json_get_string(obj, "metadata.name");
			if (!name) {
				fprintf(stderr, "error: resource name may not be empty\n");
				rc = 1;
				continue;
			}
			rc |= delete_one(k, &r, kubectl_ns_for(k, &r, mk_json_get_string(obj, "metadata.namespace")),
					 name, &o);
		}
		goto out;
	}
	if (a.n == 0) {
		rc = cmd_usage_error("kubectl delete", "you must provide one or more resources by argument or filename");
		goto out;
	}
	if (kubectl_connect(k)) {
		rc = 1;
		goto out;
	}
	if (strchr(a.v[0], '/')) {
		for (int i = 0; i < a.n; i++) {
			char *slash = strchr(a.v[i], '/');
			if (!slash) {
				rc = cmd_usage_error("kubectl delete", "there is no need to specify a resource type as a separate argument when passing arguments in resource/name form");
				goto out;
			}
			*slash = '\0';
			struct kres r;
			if (kubectl_resolve(k, a.v[i], &r)) {
				rc = 1;
				continue;
			}
			rc |= delete_one(k, &r, r.namespaced ? k->ns : NULL, slash + 1, &o);
		}
		goto out;
	}
	struct kres r;
	if (kubectl_resolve(k, a.v[0], &r)) {
		rc = 1;
		goto out;
	}
	if (a.n == 1) {
		if (!selector && !all) {
			fprintf(stderr, "error: resource(s) were provided, but no name was specified\n");
			rc = 1;
			goto out;
		}
		int count = 0;
		rc = delete_selected(k, &r, selector, all_ns, &o, &count);
		if (!count && !rc)
			fprintf(stderr, "No resources found\n");
		goto out;
	}
	if (selector || all) {
		rc = cmd_usage_error("kubectl delete", "name cannot be provided when a selector is specified");
		goto out;
	}
	for (int i = 1; i < a.n; i++)
		rc |= delete_one(k, &r, r.namespaced ? k->ns : NULL, a.v[i], &o);
out:
	kargs_release(&a);
	kflag_list_release(&files);
	return rc;
}
