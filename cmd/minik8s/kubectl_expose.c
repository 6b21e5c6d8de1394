/* kubectl expose deployment|replicaset|service|pod NAME: a Service selecting
 * the same pods. */
#include <string.h>
#include "commands.h"
#include "kubectl.h"

static const char EXPOSE_HELP[] =
	"Expose a resource as a new Kubernetes service.\n\n"
	"Takes a deployment, replica set, service or pod by name and uses the selector of that\n"
	"resource (the pod's labels for a pod) as the selector of a new service on the given port.\n\n"
	"Examples:\n"
	"  minik8s kubectl -n demo expose deployment php-echo --port=80 --type=ClusterIP\n"
	"  minik8s kubectl expose pod web --port=8080 --target-port=80 --name=web-svc\n\n"
	"Options:\n"
	"      --port PORT          the port the service serves on\n"
	"      --target-port PORT   the container port (number or name; default: --port)\n"
	"      --type TYPE          ClusterIP (default), NodePort, LoadBalancer\n"
	"      --name NAME          the service's name (default: the resource's name)\n"
	"      --protocol PROTO     TCP (default), UDP or SCTP\n"
	"  -l, --labels L           labels for the service (default: the resource's labels)\n"
	"      --selector SEL       the selector to use instead of the resource's\n"
	"      --cluster-ip IP      ClusterIP to request (\"None\" for a headless service)\n"
	"  -o, --output FORMAT      json|yaml|name\n\n"
	"Usage:\n  minik8s kubectl expose (deployment|replicaset|service|pod) NAME --port=PORT [options]\n";

/* the first container port of a pod spec, or -1 */
static long first_port(const cJSON *podspec)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(podspec, "containers")) {
		const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(c, "ports"), 0);
		const cJSON *cp = cJSON_GetObjectItemCaseSensitive(p, "containerPort");
		if (cJSON_IsNumber(cp))
			return (long)cp->valuedouble;
	}
	return -1;
}

int kubectl_expose(struct kubectl *k, int argc, char **argv)
{
	const char *port_s = NULL, *target = NULL, *type = NULL, *name = NULL, *protocol = NULL;
	const char *labels = NULL, *selector = NULL, *cluster_ip = NULL, *output = NULL;
	bool help;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "port", 0, KF_STRING, &port_s, NULL },
		{ "target-port", 0, KF_STRING, &target, NULL },
		{ "type", 0, KF_STRING, &type, NULL },
		{ "name", 0, KF_STRING, &name, NULL },
		{ "protocol", 0, KF_STRING, &protocol, NULL },
		{ "labels", 'l', KF_STRING, &labels, NULL },
		{ "selector", 0, KF_STRING, &selector, NULL },
		{ "cluster-ip", 0, KF_STRING, &cluster_ip, NULL },
		{ "output", 'o', KF_STRING, &output, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int r = kflags_parse("kubectl expose", argc, argv, flags, &help, &a);
	if (r)
		return r;
	if (help) {
		fputs(EXPOSE_HELP, stdout);
		kargs_release(&a);
		return 0;
	}
	/* TYPE NAME or TYPE/NAME */
	char *tname = NULL, *oname = NULL;
	if (a.n == 1 && strchr(a.v[0], '/')) {
		tname = a.v[0];
		oname = strchr(a.v[0], '/');
		*oname++ = '\0';
	} else if (a.n == 2) {
		tname = a.v[0];
		oname = a.v[1];
	} else {
		kargs_release(&a);
		return cmd_usage_error("kubectl expose", "you must provide one resource: TYPE NAME");
	}
	long port = -1;
	if (port_s) {
		char *end;
		port = strtol(port_s, &end, 10);
		if (*end || port < 1 || port > 65535) {
			kargs_release(&a);
			return cmd_usage_error("kubectl expose", "invalid --port \"%s\"", port_s);
		}
	}
	if (type && strcmp(type, "ClusterIP") && strcmp(type, "NodePort") &&
	    strcmp(type, "LoadBalancer") && strcmp(type, "ExternalName")) {
		kargs_release(&a);
		return cmd_usage_error("kubectl expose", "invalid --type \"%s\"", type);
	}
	if (kubectl_connect(k)) {
		kargs_release(&a);
		return 1;
	}
	struct kres res;
	if (kubectl_resolve(k, tname, &res)) {
		kargs_release(&a);
		return 1;
	}
	bool is_pod = !strcmp(res.kind, "Pod"), is_svc = !strcmp(res.kind, "Service");
	if (!is_pod && !is_svc && strcmp(res.kind, "Deployment") && strcmp(res.kind, "ReplicaSet")) {
		fprintf(stderr, "error: cannot expose a %s\n", res.kind);
		kargs_release(&a);
		return 1;
	}
	_cleanup_free_ char *path = kres_path(&res, k->ns, oname, NULL, NULL);
	struct mk_client_response got = { 0 };
	if (kubectl_do(k, "GET", path, NULL, NULL, NULL, &got)) {
		kargs_release(&a);
		return 1;
	}
	if (got.code != 200) {
		r = kubectl_server_error(&got);
		mk_client_response_release(&got);
		kargs_release(&a);
		return r;
	}
	const cJSON *src = got.json;
	_cleanup_cjson_ cJSON *sel = NULL;
	if (selector) {
		sel = kubectl_labels_parse(selector);
	} else if (is_pod) {
		const cJSON *l = mk_json_get(src, "metadata.labels");
		sel = cJSON_IsObject(l) && cJSON_GetArraySize(l) ? cJSON_Duplicate(l, 1) : NULL;
	} else if (is_svc) {
		const cJSON *l = mk_json_get(src, "spec.selector");
		sel = cJSON_IsObject(l) && cJSON_GetArraySize(l) ? cJSON_Duplicate(l, 1) : NULL;
	} else {
		const cJSON *l = mk_json_get(src, "spec.selector.matchLabels");
		if (cJSON_GetArraySize(mk_json_get(src, "spec.selector.matchExpressions")) > 0) {
			fprintf(stderr, "error: couldn't retrieve selectors via --selector flag or introspection: "
					"the selector uses matchExpressions, which a service cannot express\n");
			mk_client_response_release(&got);
			kargs_release(&a);
			return 1;
		}
		sel = cJSON_IsObject(l) && cJSON_GetArraySize(l) ? cJSON_Duplicate(l, 1) : NULL;
	}
	if (!sel) {
		fprintf(stderr, "error: couldn't retrieve selectors via --selector flag or introspection: "
				"the %s has no labels to select by\n", res.singular);
		mk_client_response_release(&got);
		kargs_release(&a);
		return 1;
	}
	if (port < 0) {
		/* like kubectl: the resource's own port */
		if (is_pod)
			port = first_port(mk_json_get(src, "spec"));
		else if (is_svc) {
			const cJSON *p = cJSON_GetArrayItem(mk_json_get(src, "spec.ports"), 0);
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "port");
			port = cJSON_IsNumber(n) ? (long)n->valuedouble : -1;
		} else
			port = first_port(mk_json_get(src, "spec.template.spec"));
		if (port < 0) {
			fprintf(stderr, "error: couldn't find port via --port flag or introspection\n");
			mk_client_response_release(&got);
			kargs_release(&a);
			return 1;
		}
	}
	_cleanup_cjson_ cJSON *svc = cJSON_CreateObject();
	cJSON_AddStringToObject(svc, "apiVersion", "v1");
	cJSON_AddStringToObject(svc, "kind", "Service");
	cJSON *meta = cJSON_AddObjectToObject(svc, "metadata");
	cJSON_AddNullToObject(meta, "creationTimestamp");
	cJSON *lab = labels ? kubectl_labels_parse(labels) : NULL;
	if (!lab) {
		const cJSON *l = mk_json_get(src, "metadata.labels");
		if (cJSON_IsObject(l) && cJSON_GetArraySize(l))
			lab = cJSON_Duplicate(l, 1);
	}
	if (lab)
		cJSON_AddItemToObject(meta, "labels", lab);
	const char *svc_name = name ? name : oname;
	cJSON_AddStringToObject(meta, "name", svc_name);
	cJSON *spec = cJSON_AddObjectToObject(svc, "spec");
	if (cluster_ip)
		cJSON_AddStringToObject(spec, "clusterIP", cluster_ip);
	cJSON *p = cJSON_CreateObject();
	cJSON_AddNumberToObject(p, "port", (double)port);
	cJSON_AddStringToObject(p, "protocol", protocol ? protocol : "TCP");
	if (target) {
		char *end;
		long t = strtol(target, &end, 10);
		if (!*end && end != target)
			cJSON_AddNumberToObject(p, "targetPort", (double)t);
		else
			cJSON_AddStringToObject(p, "targetPort", target);
	} else {
		cJSON_AddNumberToObject(p, "targetPort", (double)port);
	}
	cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "ports"), p);
	cJSON_AddItemToObject(spec, "selector", TAKE_PTR(sel));
	if (type)
		cJSON_AddStringToObject(spec, "type", type);
	cJSON_AddObjectToObject(cJSON_AddObjectToObject(svc, "status"), "loadBalancer");
	mk_client_response_release(&got);

	struct kres svcres;
	if (kubectl_resolve(k, "services", &svcres)) {
		kargs_release(&a);
		return 1;
	}
	_cleanup_free_ char *post = kres_path(&svcres, k->ns, NULL, NULL, "fieldManager=kubectl-expose");
	struct mk_client_response res2 = { 0 };
	if (kubectl_do(k, "POST", post, NULL, NULL, svc, &res2)) {
		kargs_release(&a);
		return 1;
	}
	if (res2.code < 200 || res2.code >= 300)
		r = kubectl_server_error(&res2);
	else if (output && !strcmp(output, "json"))
		kubectl_print_json(stdout, res2.json);
	else if (output && !strcmp(output, "yaml"))
		r = kubectl_print_yaml(stdout, res2.json);
	else if (output && !strcmp(output, "name"))
		printf("service/%s\n", svc_name);
	else
		printf("service/%s exposed\n", svc_name);
	mk_client_response_release(&res2);
	kargs_release(&a);
	return r;
}
