/* kubectl describe TYPE NAME...: the key fields per kind in kubectl's layout
 * (a tabwriter with padding 2), then the object's Events. */
#include <string.h>
#include <time.h>
#include "commands.h"
#include "kubectl.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static const char DESCRIBE_HELP[] =
	"Show details of a specific resource or group of resources.\n\n"
	"Prints the main fields of each object (name, namespace, labels, annotations and the\n"
	"important parts of spec and status for its kind) followed by its events.\n\n"
	"Examples:\n"
	"  minik8s kubectl describe pod jumpbox\n"
	"  minik8s kubectl -n demo describe deployment php-echo\n"
	"  minik8s kubectl describe svc -l app=web\n\n"
	"Options:\n"
	"  -l, --selector SEL   describe every object of TYPE matching the selector\n"
	"  -A, --all-namespaces with -l: in every namespace\n"
	"      --show-events    show events (default true)\n\n"
	"Usage:\n  minik8s kubectl describe TYPE [NAME...] [options]\n  minik8s kubectl describe TYPE/NAME\n";

static const char *str(const cJSON *o, const char *path, const char *dflt)
{
	const char *s = mk_json_get_string(o, path);
	return s && *s ? s : dflt;
}

static long num(const cJSON *o, const char *path, long dflt)
{
	const cJSON *n = mk_json_get(o, path);
	return cJSON_IsNumber(n) ? (long)n->valuedouble : dflt;
}

/* "Thu, 26 Nov 2026 07:16:38 +0000" */
static void when(const char *ts, char *buf, size_t size)
{
	time_t t = ts ? mk_time_parse(ts) : (time_t)-1;
	if (t == (time_t)-1) {
		snprintf(buf, size, "<unset>");
		return;
	}
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void indent(struct tabwriter *w, int level)
{
	for (int i = 0; i < level; i++)
		tabwriter_printf(w, "  ");
}

/* "Labels:  a=b\n         c=d" */
static void map_multiline(struct tabwriter *w, int level, const char *title, const cJSON *m,
			  const char *sep)
{
	indent(w, level);
	tabwriter_printf(w, "%s:\t", title);
	int n = 0;
	const cJSON *c;
	/* sorted like kubectl */
	int count = cJSON_GetArraySize(m);
	const cJSON **items = count ? mk_malloc0(sizeof(*items) * (size_t)count) : NULL;
	cJSON_ArrayForEach(c, m)
		items[n++] = c;
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (strcmp(items[i]->string, items[j]->string) > 0) {
				const cJSON *t = items[i];
				items[i] = items[j];
				items[j] = t;
			}
	int printed = 0;
	for (int i = 0; i < n; i++) {
		if (!strcmp(items[i]->string, LAST_APPLIED))
			continue;
		if (printed++) {
			indent(w, level);
			tabwriter_printf(w, "\t");
		}
		_cleanup_free_ char *v = cJSON_IsString(items[i]) ? mk_strdup(items[i]->valuestring)
								   : cJSON_PrintUnformatted(items[i]);
		tabwriter_printf(w, "%s%s%s\n", items[i]->string, sep, v);
	}
	if (!printed)
		tabwriter_printf(w, "<none>\n");
	free(items);
}

static void common_header(struct tabwriter *w, const cJSON *obj, bool namespaced)
{
	tabwriter_printf(w, "Name:\t%s\n", str(obj, "metadata.name", ""));
	if (namespaced)
		tabwriter_printf(w, "Namespace:\t%s\n", str(obj, "metadata.namespace", ""));
}

static void labels_annotations(struct tabwriter *w, int level, const cJSON *meta)
{
	map_multiline(w, level, "Labels", cJSON_GetObjectItemCaseSensitive(meta, "labels"), "=");
	map_multiline(w, level, "Annotations", cJSON_GetObjectItemCaseSensitive(meta, "annotations"),
		      ": ");
}

static void string_list(struct tabwriter *w, int level, const char *title, const cJSON *arr)
{
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return;
	indent(w, level);
	tabwriter_printf(w, "%s:\n", title);
	const cJSON *c;
	cJSON_ArrayForEach(c, arr) {
		indent(w, level + 1);
		tabwriter_printf(w, "%s\n", cJSON_IsString(c) ? c->valuestring : "");
	}
}

static void ports_line(struct tabwriter *w, int level, const cJSON *c)
{
	const cJSON *p;
	struct mk_buf ports, hports;
	mk_buf_init(&ports);
	mk_buf_init(&hports);
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(c, "ports")) {
		mk_buf_printf(&ports, "%s%ld/%s", ports.len ? ", " : "", num(p, "containerPort", 0),
			      str(p, "protocol", "TCP"));
		mk_buf_printf(&hports, "%s%ld/%s", hports.len ? ", " : "", num(p, "hostPort", 0),
			      str(p, "protocol", "TCP"));
	}
	indent(w, level);
	tabwriter_printf(w, "Port:\t%s\n", ports.len ? ports.data : "<none>");
	indent(w, level);
	tabwriter_printf(w, "Host Port:\t%s\n", hports.len ? hports.data : "<none>");
	mk_buf_release(&ports);
	mk_buf_release(&hports);
}

static void env_block(struct tabwriter *w, int level, const cJSON *c)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(c, "env");
	indent(w, level);
	if (!cJSON_GetArraySize(env)) {
		tabwriter_printf(w, "Environment:\t<none>\n");
		return;
	}
	tabwriter_printf(w, "Environment:\n");
	const cJSON *e;
	cJSON_ArrayForEach(e, env) {
		indent(w, level + 1);
		if (mk_json_get(e, "valueFrom"))
			tabwriter_printf(w, "%s:\t(from a source)\n", str(e, "name", ""));
		else
			tabwriter_printf(w, "%s:\t%s\n", str(e, "name", ""), str(e, "value", ""));
	}
}

static void mounts_block(struct tabwriter *w, int level, const cJSON *c)
{
	const cJSON *vm = cJSON_GetObjectItemCaseSensitive(c, "volumeMounts");
	indent(w, level);
	if (!cJSON_GetArraySize(vm)) {
		tabwriter_printf(w, "Mounts:\t<none>\n");
		return;
	}
	tabwriter_printf(w, "Mounts:\n");
	const cJSON *m;
	cJSON_ArrayForEach(m, vm) {
		indent(w, level + 1);
		tabwriter_printf(w, "%s from %s (%s)\n", str(m, "mountPath", ""), str(m, "name", ""),
				 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "readOnly")) ? "ro" : "rw");
	}
}

static void state_lines(struct tabwriter *w, int level, const char *title, const cJSON *state)
{
	char t[64];
	indent(w, level);
	if (mk_json_get(state, "running")) {
		tabwriter_printf(w, "%s:\tRunning\n", title);
		when(str(state, "running.startedAt", NULL), t, sizeof(t));
		indent(w, level + 1);
		tabwriter_printf(w, "Started:\t%s\n", t);
	} else if (mk_json_get(state, "waiting")) {
		tabwriter_printf(w, "%s:\tWaiting\n", title);
		indent(w, level + 1);
		tabwriter_printf(w, "Reason:\t%s\n", str(state, "waiting.reason", ""));
	} else if (mk_json_get(state, "terminated")) {
		tabwriter_printf(w, "%s:\tTerminated\n", title);
		indent(w, level + 1);
		tabwriter_printf(w, "Reason:\t%s\n", str(state, "terminated.reason", ""));
		indent(w, level + 1);
		tabwriter_printf(w, "Exit Code:\t%ld\n", num(state, "terminated.exitCode", 0));
		when(str(state, "terminated.startedAt", NULL), t, sizeof(t));
		indent(w, level + 1);
		tabwriter_printf(w, "Started:\t%s\n", t);
		when(str(state, "terminated.finishedAt", NULL), t, sizeof(t));
		indent(w, level + 1);
		tabwriter_printf(w, "Finished:\t%s\n", t);
	} else {
		tabwriter_printf(w, "%s:\tWaiting\n", title);
	}
}

static const cJSON *container_status(const cJSON *pod, const char *name)
{
	const cJSON *s;
	cJSON_ArrayForEach(s, mk_json_get(pod, "status.containerStatuses")) {
		const char *n = mk_json_get_string(s, "name");
		if (n && !strcmp(n, name))
			return s;
	}
	return NULL;
}

/* containers of a pod (pod != NULL: with their status) or of a template */
static void containers_block(struct tabwriter *w, int level, const char *title,
			     const cJSON *containers, const cJSON *pod, bool template)
{
	if (!cJSON_GetArraySize(containers))
		return;
	indent(w, level);
	tabwriter_printf(w, "%s:\n", title);
	const cJSON *c;
	cJSON_ArrayForEach(c, containers) {
		const char *cname = str(c, "name", "");
		/* kubectl indents template containers by 3 */
		if (template)
			tabwriter_printf(w, "%*s%s:\n", level * 2 + 1, " ", cname);
		else {
			indent(w, level + 1);
			tabwriter_printf(w, "%s:\n", cname);
		}
		/* fields at level 2 for pods and templates alike */
		int l = template ? level + 1 : level + 2;
		const cJSON *st = pod ? container_status(pod, cname) : NULL;
		if (st) {
			indent(w, l);
			tabwriter_printf(w, "Container ID:\t%s\n", str(st, "containerID", ""));
		}
		indent(w, l);
		tabwriter_printf(w, "Image:\t%s\n", str(c, "image", ""));
		if (st) {
			indent(w, l);
			tabwriter_printf(w, "Image ID:\t%s\n", str(st, "imageID", ""));
		}
		ports_line(w, l, c);
		string_list(w, l, "Command", cJSON_GetObjectItemCaseSensitive(c, "command"));
		string_list(w, l, "Args", cJSON_GetObjectItemCaseSensitive(c, "args"));
		if (st) {
			state_lines(w, l, "State", cJSON_GetObjectItemCaseSensitive(st, "state"));
			const cJSON *last = cJSON_GetObjectItemCaseSensitive(st, "lastState");
			if (cJSON_GetArraySize(last) > 0)
				state_lines(w, l, "Last State", last);
			indent(w, l);
			tabwriter_printf(w, "Ready:\t%s\n",
					 cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "ready")) ? "True"
												      : "False");
			indent(w, l);
			tabwriter_printf(w, "Restart Count:\t%ld\n", num(st, "restartCount", 0));
		}
		env_block(w, l, c);
		mounts_block(w, l, c);
	}
}

static void conditions_block(struct tabwriter *w, const cJSON *conds, bool with_reason)
{
	if (!cJSON_GetArraySize(conds))
		return;
	tabwriter_printf(w, "Conditions:\n  Type\tStatus%s\n  ----\t------%s\n",
			 with_reason ? "\tReason" : "", with_reason ? "\t------" : "");
	const cJSON *c;
	cJSON_ArrayForEach(c, conds) {
		if (with_reason)
			tabwriter_printf(w, "  %s \t%s\t%s\n", str(c, "type", ""), str(c, "status", ""),
					 str(c, "reason", ""));
		else
			tabwriter_printf(w, "  %s \t%s \n", str(c, "type", ""), str(c, "status", ""));
	}
}

static void volumes_line(struct tabwriter *w, int level, const cJSON *podspec)
{
	const cJSON *vols = cJSON_GetObjectItemCaseSensitive(podspec, "volumes");
	indent(w, level);
	if (!cJSON_GetArraySize(vols)) {
		tabwriter_printf(w, "Volumes:\t<none>\n");
		return;
	}
	tabwriter_printf(w, "Volumes:\n");
	const cJSON *v;
	cJSON_ArrayForEach(v, vols) {
		indent(w, level + 1);
		tabwriter_printf(w, "%s:\n", str(v, "name", ""));
		const cJSON *src;
		cJSON_ArrayForEach(src, v) {
			if (!strcmp(src->string, "name"))
				continue;
			indent(w, level + 2);
			tabwriter_printf(w, "Type:\t%s\n", src->string);
		}
	}
}

static void node_selectors(struct tabwriter *w, int level, const cJSON *podspec)
{
	const cJSON *ns = cJSON_GetObjectItemCaseSensitive(podspec, "nodeSelector");
	_cleanup_free_ char *s = kubectl_labels_string(ns);
	indent(w, level);
	tabwriter_printf(w, "Node-Selectors:\t%s\n", s);
	indent(w, level);
	const cJSON *tol = cJSON_GetObjectItemCaseSensitive(podspec, "tolerations");
	if (!cJSON_GetArraySize(tol)) {
		tabwriter_printf(w, "Tolerations:\t<none>\n");
		return;
	}
	tabwriter_printf(w, "Tolerations:\t");
	int i = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, tol) {
		if (i++) {
			indent(w, level);
			tabwriter_printf(w, "\t");
		}
		const char *key = str(t, "key", "");
		const char *op = str(t, "operator", "Equal");
		const char *val = str(t, "value", "");
		const char *eff = str(t, "effect", "");
		tabwriter_printf(w, "%s%s%s%s%s", key, !strcmp(op, "Exists") ? " op=Exists" : "",
				 *val ? "=" : "", val, *eff ? ":" : "");
		tabwriter_printf(w, "%s", eff);
		const cJSON *secs = cJSON_GetObjectItemCaseSensitive(t, "tolerationSeconds");
		if (cJSON_IsNumber(secs))
			tabwriter_printf(w, " for %lds", (long)secs->valuedouble);
		tabwriter_printf(w, "\n");
	}
}

static void describe_pod(struct tabwriter *w, const cJSON *pod)
{
	char t[64];
	common_header(w, pod, true);
	if (mk_json_get(pod, "spec.priority"))
		tabwriter_printf(w, "Priority:\t%ld\n", num(pod, "spec.priority", 0));
	const char *pc = str(pod, "spec.priorityClassName", NULL);
	if (pc)
		tabwriter_printf(w, "Priority Class Name:\t%s\n", pc);
	const char *sa = str(pod, "spec.serviceAccountName", NULL);
	if (sa)
		tabwriter_printf(w, "Service Account:\t%s\n", sa);
	const char *node = str(pod, "spec.nodeName", NULL);
	if (node)
		tabwriter_printf(w, "Node:\t%s/%s\n", node, str(pod, "status.hostIP", ""));
	else
		tabwriter_printf(w, "Node:\t<none>\n");
	if (mk_json_get(pod, "status.startTime")) {
		when(str(pod, "status.startTime", NULL), t, sizeof(t));
		tabwriter_printf(w, "Start Time:\t%s\n", t);
	}
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(pod, "metadata"));
	if (mk_json_get(pod, "metadata.deletionTimestamp")) {
		when(str(pod, "metadata.deletionTimestamp", NULL), t, sizeof(t));
		tabwriter_printf(w, "Status:\tTerminating (lasts <unknown>)\n");
		tabwriter_printf(w, "Termination Grace Period:\t%lds\n",
				 num(pod, "spec.terminationGracePeriodSeconds", 30));
	} else {
		tabwriter_printf(w, "Status:\t%s\n", str(pod, "status.phase", "Pending"));
	}
	const char *reason = str(pod, "status.reason", NULL);
	if (reason)
		tabwriter_printf(w, "Reason:\t%s\n", reason);
	const char *msg = str(pod, "status.message", NULL);
	if (msg)
		tabwriter_printf(w, "Message:\t%s\n", msg);
	tabwriter_printf(w, "IP:\t%s\n", str(pod, "status.podIP", ""));
	const cJSON *ips = mk_json_get(pod, "status.podIPs");
	if (cJSON_GetArraySize(ips)) {
		tabwriter_printf(w, "IPs:\n");
		const cJSON *ip;
		cJSON_ArrayForEach(ip, ips)
			tabwriter_printf(w, "  IP:\t%s\n", str(ip, "ip", ""));
	} else {
		tabwriter_printf(w, "IPs:\t<none>\n");
	}
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(pod, "spec");
	containers_block(w, 0, "Init Containers", cJSON_GetObjectItemCaseSensitive(spec, "initContainers"),
			 pod, false);
	containers_block(w, 0, "Containers", cJSON_GetObjectItemCaseSensitive(spec, "containers"), pod,
			 false);
	conditions_block(w, mk_json_get(pod, "status.conditions"), false);
	volumes_line(w, 0, spec);
	tabwriter_printf(w, "QoS Class:\t%s\n", str(pod, "status.qosClass", "BestEffort"));
	node_selectors(w, 0, spec);
}

static void pod_template(struct tabwriter *w, const cJSON *tmpl)
{
	tabwriter_printf(w, "Pod Template:\n");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(tmpl, "metadata");
	_cleanup_free_ char *l = kubectl_labels_string(cJSON_GetObjectItemCaseSensitive(meta, "labels"));
	tabwriter_printf(w, "  Labels:\t%s\n", l);
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	if (cJSON_GetArraySize(ann))
		map_multiline(w, 1, "Annotations", ann, ": ");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(tmpl, "spec");
	const char *sa = str(spec, "serviceAccountName", NULL);
	if (sa)
		tabwriter_printf(w, "  Service Account:\t%s\n", sa);
	containers_block(w, 1, "Init Containers", cJSON_GetObjectItemCaseSensitive(spec, "initContainers"),
			 NULL, true);
	containers_block(w, 1, "Containers", cJSON_GetObjectItemCaseSensitive(spec, "containers"), NULL,
			 true);
	volumes_line(w, 1, spec);
	node_selectors(w, 1, spec);
}

static char *selector_string(const cJSON *sel)
{
	struct mk_buf b;
	mk_buf_init(&b);
	_cleanup_free_ char *ml = kubectl_labels_string(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"));
	if (strcmp(ml, "<none>") != 0)
		mk_buf_puts(&b, ml);
	const cJSON *e;
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions")) {
		const char *op = str(e, "operator", "");
		mk_buf_printf(&b, "%s%s", b.len ? "," : "", str(e, "key", ""));
		if (!strcmp(op, "In") || !strcmp(op, "NotIn")) {
			mk_buf_printf(&b, " %s (", !strcmp(op, "In") ? "in" : "notin");
			int i = 0;
			const cJSON *v;
			cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(e, "values"))
				mk_buf_printf(&b, "%s%s", i++ ? "," : "", cJSON_IsString(v) ? v->valuestring : "");
			mk_buf_puts(&b, ")");
		} else if (!strcmp(op, "DoesNotExist")) {
			mk_buf_puts(&b, "");
		}
	}
	return b.len ? mk_buf_steal(&b) : (mk_buf_release(&b), mk_strdup("<none>"));
}

static void describe_deployment(struct tabwriter *w, const cJSON *d)
{
	char t[64];
	common_header(w, d, true);
	when(str(d, "metadata.creationTimestamp", NULL), t, sizeof(t));
	tabwriter_printf(w, "CreationTimestamp:\t%s\n", t);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(d, "metadata"));
	_cleanup_free_ char *sel = selector_string(mk_json_get(d, "spec.selector"));
	tabwriter_printf(w, "Selector:\t%s\n", sel);
	long want = num(d, "spec.replicas", 1);
	long updated = num(d, "status.updatedReplicas", 0), total = num(d, "status.replicas", 0);
	long avail = num(d, "status.availableReplicas", 0);
	long unavail = num(d, "status.unavailableReplicas", 0);
	tabwriter_printf(w, "Replicas:\t%ld desired | %ld updated | %ld total | %ld available | %ld unavailable\n",
			 want, updated, total, avail, unavail);
	const char *strategy = str(d, "spec.strategy.type", "RollingUpdate");
	tabwriter_printf(w, "StrategyType:\t%s\n", strategy);
	tabwriter_printf(w, "MinReadySeconds:\t%ld\n", num(d, "spec.minReadySeconds", 0));
	if (!strcmp(strategy, "RollingUpdate")) {
		const cJSON *mu = mk_json_get(d, "spec.strategy.rollingUpdate.maxUnavailable");
		const cJSON *ms = mk_json_get(d, "spec.strategy.rollingUpdate.maxSurge");
		char u[32] = "25%", s[32] = "25%";
		if (cJSON_IsString(mu))
			snprintf(u, sizeof(u), "%s", mu->valuestring);
		else if (cJSON_IsNumber(mu))
			snprintf(u, sizeof(u), "%ld", (long)mu->valuedouble);
		if (cJSON_IsString(ms))
			snprintf(s, sizeof(s), "%s", ms->valuestring);
		else if (cJSON_IsNumber(ms))
			snprintf(s, sizeof(s), "%ld", (long)ms->valuedouble);
		tabwriter_printf(w, "RollingUpdateStrategy:\t%s max unavailable, %s max surge\n", u, s);
	}
	pod_template(w, mk_json_get(d, "spec.template"));
	conditions_block(w, mk_json_get(d, "status.conditions"), true);
}

static void describe_replicaset(struct tabwriter *w, const cJSON *rs)
{
	common_header(w, rs, true);
	_cleanup_free_ char *sel = selector_string(mk_json_get(rs, "spec.selector"));
	tabwriter_printf(w, "Selector:\t%s\n", sel);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(rs, "metadata"));
	const cJSON *owner = cJSON_GetArrayItem(mk_json_get(rs, "metadata.ownerReferences"), 0);
	if (owner)
		tabwriter_printf(w, "Controlled By:\t%s/%s\n", str(owner, "kind", ""), str(owner, "name", ""));
	tabwriter_printf(w, "Replicas:\t%ld current / %ld desired\n", num(rs, "status.replicas", 0),
			 num(rs, "spec.replicas", 1));
	tabwriter_printf(w, "Pods Status:\t%ld Running / 0 Waiting / 0 Succeeded / 0 Failed\n",
			 num(rs, "status.readyReplicas", 0));
	pod_template(w, mk_json_get(rs, "spec.template"));
	conditions_block(w, mk_json_get(rs, "status.conditions"), true);
}

static void describe_service(struct tabwriter *w, const cJSON *svc, const cJSON *endpoints)
{
	common_header(w, svc, true);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(svc, "metadata"));
	_cleanup_free_ char *sel = kubectl_labels_string(mk_json_get(svc, "spec.selector"));
	tabwriter_printf(w, "Selector:\t%s\n", sel);
	tabwriter_printf(w, "Type:\t%s\n", str(svc, "spec.type", "ClusterIP"));
	const char *policy = str(svc, "spec.ipFamilyPolicy", NULL);
	if (policy)
		tabwriter_printf(w, "IP Family Policy:\t%s\n", policy);
	const cJSON *fams = mk_json_get(svc, "spec.ipFamilies");
	if (cJSON_GetArraySize(fams)) {
		tabwriter_printf(w, "IP Families:\t");
		int i = 0;
		const cJSON *f;
		cJSON_ArrayForEach(f, fams)
			tabwriter_printf(w, "%s%s", i++ ? "," : "", cJSON_IsString(f) ? f->valuestring : "");
		tabwriter_printf(w, "\n");
	}
	tabwriter_printf(w, "IP:\t%s\n", str(svc, "spec.clusterIP", "<none>"));
	const cJSON *ips = mk_json_get(svc, "spec.clusterIPs");
	if (cJSON_GetArraySize(ips)) {
		tabwriter_printf(w, "IPs:\t");
		int i = 0;
		const cJSON *ip;
		cJSON_ArrayForEach(ip, ips)
			tabwriter_printf(w, "%s%s", i++ ? "," : "", cJSON_IsString(ip) ? ip->valuestring : "");
		tabwriter_printf(w, "\n");
	}
	const cJSON *ing = mk_json_get(svc, "status.loadBalancer.ingress");
	if (cJSON_GetArraySize(ing)) {
		/* as kubectl: ip or hostname, with its ipMode */
		tabwriter_printf(w, "LoadBalancer Ingress:\t");
		int i = 0;
		const cJSON *e;
		cJSON_ArrayForEach(e, ing) {
			const char *mode = str(e, "ipMode", NULL);
			tabwriter_printf(w, "%s%s", i++ ? ", " : "", str(e, "ip", str(e, "hostname", "")));
			if (mode)
				tabwriter_printf(w, " (%s)", mode);
		}
		tabwriter_printf(w, "\n");
	}
	const cJSON *p;
	cJSON_ArrayForEach(p, mk_json_get(svc, "spec.ports")) {
		const char *pname = str(p, "name", "<unset>");
		const char *proto = str(p, "protocol", "TCP");
		tabwriter_printf(w, "Port:\t%s  %ld/%s\n", pname, num(p, "port", 0), proto);
		const cJSON *tp = cJSON_GetObjectItemCaseSensitive(p, "targetPort");
		if (cJSON_IsString(tp))
			tabwriter_printf(w, "TargetPort:\t%s/%s\n", tp->valuestring, proto);
		else
			tabwriter_printf(w, "TargetPort:\t%ld/%s\n",
					 cJSON_IsNumber(tp) ? (long)tp->valuedouble : num(p, "port", 0), proto);
		if (num(p, "nodePort", 0))
			tabwriter_printf(w, "NodePort:\t%s  %ld/%s\n", pname, num(p, "nodePort", 0), proto);
		/* endpoints of this port */
		struct mk_buf eps;
		mk_buf_init(&eps);
		const cJSON *ss;
		cJSON_ArrayForEach(ss, cJSON_GetObjectItemCaseSensitive(endpoints, "subsets")) {
			long eport = 0;
			const cJSON *ep;
			cJSON_ArrayForEach(ep, cJSON_GetObjectItemCaseSensitive(ss, "ports")) {
				const char *en = str(ep, "name", "<unset>");
				if (!strcmp(en, pname) || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ss, "ports")) == 1)
					eport = num(ep, "port", 0);
			}
			const cJSON *addr;
			cJSON_ArrayForEach(addr, cJSON_GetObjectItemCaseSensitive(ss, "addresses"))
				mk_buf_printf(&eps, "%s%s:%ld", eps.len ? "," : "", str(addr, "ip", ""), eport);
		}
		tabwriter_printf(w, "Endpoints:\t%s\n", eps.len ? eps.data : "<none>");
		mk_buf_release(&eps);
	}
	tabwriter_printf(w, "Session Affinity:\t%s\n", str(svc, "spec.sessionAffinity", "None"));
	const char *etp = str(svc, "spec.externalTrafficPolicy", NULL);
	if (etp)
		tabwriter_printf(w, "External Traffic Policy:\t%s\n", etp);
	const char *itp = str(svc, "spec.internalTrafficPolicy", NULL);
	if (itp)
		tabwriter_printf(w, "Internal Traffic Policy:\t%s\n", itp);
	if (num(svc, "spec.healthCheckNodePort", 0))
		tabwriter_printf(w, "HealthCheck NodePort:\t%ld\n", num(svc, "spec.healthCheckNodePort", 0));
}

static void describe_namespace(struct tabwriter *w, const cJSON *ns)
{
	common_header(w, ns, false);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(ns, "metadata"));
	tabwriter_printf(w, "Status:\t%s\n", str(ns, "status.phase", "Active"));
}

static void describe_node(struct tabwriter *w, const cJSON *node)
{
	char t[64];
	common_header(w, node, false);
	/* roles from node-role.kubernetes.io/ROLE labels */
	struct mk_buf roles;
	mk_buf_init(&roles);
	const cJSON *l;
	cJSON_ArrayForEach(l, mk_json_get(node, "metadata.labels"))
		if (mk_str_has_prefix(l->string, "node-role.kubernetes.io/"))
			mk_buf_printf(&roles, "%s%s", roles.len ? "," : "", l->string + 24);
	tabwriter_printf(w, "Roles:\t%s\n", roles.len ? roles.data : "<none>");
	mk_buf_release(&roles);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(node, "metadata"));
	when(str(node, "metadata.creationTimestamp", NULL), t, sizeof(t));
	tabwriter_printf(w, "CreationTimestamp:\t%s\n", t);
	const cJSON *taints = mk_json_get(node, "spec.taints");
	if (cJSON_GetArraySize(taints)) {
		int i = 0;
		const cJSON *tt;
		cJSON_ArrayForEach(tt, taints) {
			tabwriter_printf(w, "%s\t%s%s%s:%s\n", i++ ? "" : "Taints:", str(tt, "key", ""),
					 mk_json_get(tt, "value") ? "=" : "", str(tt, "value", ""),
					 str(tt, "effect", ""));
		}
	} else {
		tabwriter_printf(w, "Taints:\t<none>\n");
	}
	tabwriter_printf(w, "Unschedulable:\t%s\n",
			 cJSON_IsTrue(mk_json_get(node, "spec.unschedulable")) ? "true" : "false");
	conditions_block(w, mk_json_get(node, "status.conditions"), true);
	tabwriter_printf(w, "Addresses:\n");
	const cJSON *a;
	cJSON_ArrayForEach(a, mk_json_get(node, "status.addresses"))
		tabwriter_printf(w, "  %s:\t%s\n", str(a, "type", ""), str(a, "address", ""));
	const char *titles[] = { "capacity", "Capacity", "allocatable", "Allocatable" };
	for (int i = 0; i < 4; i += 2) {
		const cJSON *m = mk_json_get(node, i == 0 ? "status.capacity" : "status.allocatable");
		if (!cJSON_GetArraySize(m))
			continue;
		tabwriter_printf(w, "%s:\n", titles[i + 1]);
		const cJSON *c;
		cJSON_ArrayForEach(c, m)
			tabwriter_printf(w, "  %s:\t%s\n", c->string, cJSON_IsString(c) ? c->valuestring : "");
	}
	const cJSON *info = mk_json_get(node, "status.nodeInfo");
	if (info) {
		tabwriter_printf(w, "System Info:\n");
		static const char *const keys[][2] = {
			{ "machineID", "Machine ID" },	{ "systemUUID", "System UUID" },
			{ "bootID", "Boot ID" },	{ "kernelVersion", "Kernel Version" },
			{ "osImage", "OS Image" },	{ "operatingSystem", "Operating System" },
			{ "architecture", "Architecture" },
			{ "containerRuntimeVersion", "Container Runtime Version" },
			{ "kubeletVersion", "Kubelet Version" },
		};
		for (size_t i = 0; i < MK_ARRAY_SIZE(keys); i++)
			tabwriter_printf(w, "  %s:\t%s\n", keys[i][1], str(info, keys[i][0], ""));
	}
	const char *cidr = str(node, "spec.podCIDR", NULL);
	if (cidr)
		tabwriter_printf(w, "PodCIDR:\t%s\n", cidr);
}

static void describe_endpoints(struct tabwriter *w, const cJSON *ep)
{
	common_header(w, ep, true);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(ep, "metadata"));
	tabwriter_printf(w, "Subsets:\n");
	const cJSON *ss;
	cJSON_ArrayForEach(ss, cJSON_GetObjectItemCaseSensitive(ep, "subsets")) {
		struct mk_buf b;
		mk_buf_init(&b);
		const cJSON *a;
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ss, "addresses"))
			mk_buf_printf(&b, "%s%s", b.len ? "," : "", str(a, "ip", ""));
		tabwriter_printf(w, "  Addresses:\t%s\n", b.len ? b.data : "<none>");
		mk_buf_release(&b);
		mk_buf_init(&b);
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(ss, "notReadyAddresses"))
			mk_buf_printf(&b, "%s%s", b.len ? "," : "", str(a, "ip", ""));
		tabwriter_printf(w, "  NotReadyAddresses:\t%s\n", b.len ? b.data : "<none>");
		mk_buf_release(&b);
		tabwriter_printf(w, "  Ports:\n    Name\tPort\tProtocol\n    ----\t----\t--------\n");
		const cJSON *p;
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(ss, "ports"))
			tabwriter_printf(w, "    %s\t%ld\t%s\n", str(p, "name", "<unset>"), num(p, "port", 0),
					 str(p, "protocol", "TCP"));
	}
}

/* kubectl's ConfigMap layout: every key with its value under a "----" rule */
static void describe_configmap(struct tabwriter *w, const cJSON *obj)
{
	const cJSON *c;
	common_header(w, obj, true);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(obj, "metadata"));
	tabwriter_printf(w, "\nData\n====\n");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(obj, "data"))
		tabwriter_printf(w, "%s:\n----\n%s\n\n", c->string, cJSON_IsString(c) ? c->valuestring : "");
	tabwriter_printf(w, "\nBinaryData\n====\n");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(obj, "binaryData"))
	{
		void *raw = NULL;
		size_t n = 0;
		if (cJSON_IsString(c) && mk_base64_decode(c->valuestring, &raw, &n) == 0)
			free(raw);
		tabwriter_printf(w, "%s: %zu bytes\n", c->string, n);
	}
	tabwriter_printf(w, "\n");
}

/* kubectl's Secret layout: the sizes of the values, never the values */
static void describe_secret(struct tabwriter *w, const cJSON *obj)
{
	const cJSON *c;
	common_header(w, obj, true);
	labels_annotations(w, 0, cJSON_GetObjectItemCaseSensitive(obj, "metadata"));
	tabwriter_printf(w, "\nType:\t%s\n\nData\n====\n", str(obj, "type", ""));
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(obj, "data"))
	{
		void *raw = NULL;
		size_t n = 0;
		if (cJSON_IsString(c) && mk_base64_decode(c->valuestring, &raw, &n) == 0)
			free(raw);
		tabwriter_printf(w, "%s:\t%zu bytes\n", c->string, n);
	}
}

/* other kinds: the spec and status as nested "Key: value" lines */
static void generic_fields(struct tabwriter *w, int level, const cJSON *v)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, v) {
		if (level == 0 && (!strcmp(c->string, "metadata") || !strcmp(c->string, "apiVersion") ||
				   !strcmp(c->string, "kind")))
			continue;
		indent(w, level);
		const char *key = c->string ? c->string : "-";
		char cap[128];
		snprintf(cap, sizeof(cap), "%s", key);
		if (level == 0 && cap[0] >= 'a' && cap[0] <= 'z')
			cap[0] = (char)(cap[0] - 'a' + 'A');
		if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
			tabwriter_printf(w, "%s:\n", cap);
			generic_fields(w, level + 1, c);
		} else if (cJSON_IsString(c)) {
			tabwriter_printf(w, "%s:\t%s\n", cap, c->valuestring);
		} else {
			_cleanup_cjson_str_ char *s = cJSON_PrintUnformatted(c);
			tabwriter_printf(w, "%s:\t%s\n", cap, s);
		}
	}
}

static void events_block(struct tabwriter *w, const cJSON *events)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(events, "items");
	if (!cJSON_GetArraySize(items)) {
		tabwriter_printf(w, "Events:\t<none>\n");
		return;
	}
	tabwriter_printf(w, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n");
	const cJSON *e;
	cJSON_ArrayForEach(e, items) {
		const char *last = str(e, "lastTimestamp", NULL);
		if (!last)
			last = str(e, "eventTime", NULL);
		if (!last)
			last = str(e, "metadata.creationTimestamp", NULL);
		const char *first = str(e, "firstTimestamp", last);
		char age[32], span[32];
		kubectl_age(last, age, sizeof(age));
		long count = num(e, "count", 1);
		char agecol[96];
		if (count > 1) {
			kubectl_age(first, span, sizeof(span));
			snprintf(agecol, sizeof(agecol), "%s (x%ld over %s)", age, count, span);
		} else {
			snprintf(agecol, sizeof(agecol), "%s", age);
		}
		const char *comp = str(e, "source.component", str(e, "reportingComponent", ""));
		const char *host = str(e, "source.host", NULL);
		char from[256];
		snprintf(from, sizeof(from), "%s%s%s", comp, host ? ", " : "", host ? host : "");
		_cleanup_free_ char *msg = mk_strdup(str(e, "message", ""));
		for (char *p = msg; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		tabwriter_printf(w, "  %s\t%s\t%s\t%s\t%s\n", str(e, "type", ""), str(e, "reason", ""),
				 agecol, from, msg);
	}
}

static int describe_object(struct kubectl *k, const struct kres *r, const cJSON *obj, bool show_events)
{
	struct tabwriter w;
	tabwriter_init(&w, 0, 2, false);
	const char *name = str(obj, "metadata.name", "");
	const char *ns = str(obj, "metadata.namespace", NULL);
	if (!strcmp(r->kind, "Pod") && !*r->group) {
		describe_pod(&w, obj);
	} else if (!strcmp(r->kind, "Deployment")) {
		describe_deployment(&w, obj);
	} else if (!strcmp(r->kind, "ReplicaSet")) {
		describe_replicaset(&w, obj);
	} else if (!strcmp(r->kind, "Service") && !*r->group) {
		_cleanup_free_ char *p = mk_strdup_printf("/api/v1/namespaces/%s/endpoints/%s", ns ? ns : k->ns, name);
		struct mk_client_response res = { 0 };
		cJSON *ep = NULL;
		if (kubectl_do(k, "GET", p, NULL, NULL, NULL, &res) == 0 && res.code == 200)
			ep = res.json;
		describe_service(&w, obj, ep);
		mk_client_response_release(&res);
	} else if (!strcmp(r->kind, "Namespace")) {
		describe_namespace(&w, obj);
	} else if (!strcmp(r->kind, "Node")) {
		describe_node(&w, obj);
	} else if (!strcmp(r->kind, "Endpoints")) {
		describe_endpoints(&w, obj);
	} else if (!strcmp(r->kind, "ConfigMap") && !*r->group) {
		describe_configmap(&w, obj);
	} else if (!strcmp(r->kind, "Secret") && !*r->group) {
		describe_secret(&w, obj);
	} else {
		common_header(&w, obj, r->namespaced);
		labels_annotations(&w, 0, cJSON_GetObjectItemCaseSensitive(obj, "metadata"));
		generic_fields(&w, 0, obj);
	}
	if (show_events && strcmp(r->kind, "Event") != 0 && strcmp(r->kind, "Namespace") != 0) {
		/* events about this object (kubectl: name, namespace, kind, uid) */
		struct mk_buf fs;
		mk_buf_init(&fs);
		mk_buf_printf(&fs, "involvedObject.name=%s", name);
		if (ns)
			mk_buf_printf(&fs, ",involvedObject.namespace=%s", ns);
		mk_buf_printf(&fs, ",involvedObject.kind=%s", r->kind);
		const char *uid = str(obj, "metadata.uid", NULL);
		if (uid)
			mk_buf_printf(&fs, ",involvedObject.uid=%s", uid);
		_cleanup_free_ char *efs = mk_client_escape(fs.data);
		mk_buf_release(&fs);
		_cleanup_free_ char *p = ns ? mk_strdup_printf("/api/v1/namespaces/%s/events?fieldSelector=%s", ns, efs)
					    : mk_strdup_printf("/api/v1/events?fieldSelector=%s", efs);
		struct mk_client_response res = { 0 };
		if (kubectl_do(k, "GET", p, NULL, NULL, NULL, &res) == 0) {
			events_block(&w, res.code == 200 ? res.json : NULL);
			mk_client_response_release(&res);
		}
	}
	tabwriter_flush(&w, stdout);
	tabwriter_release(&w);
	return 0;
}

int kubectl_describe(struct kubectl *k, int argc, char **argv)
{
	const char *selector = NULL;
	bool help, all_ns = false, show_events = true;
	struct kargs a = { 0 };
	const struct kflag flags[] = {
		{ "selector", 'l', KF_STRING, &selector, NULL },
		{ "all-namespaces", 'A', KF_BOOL, &all_ns, NULL },
		{ "show-events", 0, KF_BOOL, &show_events, NULL },
		{ NULL, 0, 0, NULL, NULL },
	};
	int rc = kflags_parse("kubectl describe", argc, argv, flags, &help, &a);
	if (rc)
		return rc;
	if (help) {
		fputs(DESCRIBE_HELP, stdout);
		kargs_release(&a);
		return 0;
	}
	if (a.n == 0) {
		kargs_release(&a);
		return cmd_usage_error("kubectl describe", "you must specify the type of resource to describe");
	}
	if (kubectl_connect(k)) {
		kargs_release(&a);
		return 1;
	}
	/* TYPE/NAME or TYPE [NAME...] */
	char *type = a.v[0];
	char **names = a.v + 1;
	int nnames = a.n - 1;
	char *slash_name = NULL;
	if (strchr(type, '/')) {
		if (a.n > 1) {
			kargs_release(&a);
			return cmd_usage_error("kubectl describe", "use TYPE/NAME or TYPE NAME, not both");
		}
		slash_name = strchr(type, '/');
		*slash_name++ = '\0';
		names = &slash_name;
		nnames = 1;
	}
	struct kres r;
	if (kubectl_resolve(k, type, &r)) {
		kargs_release(&a);
		return 1;
	}
	bool first = true;
	if (nnames == 0) {
		/* every object of the type (optionally selected) */
		_cleanup_free_ char *esel = selector ? mk_client_escape(selector) : NULL;
		_cleanup_free_ char *q = esel ? mk_strdup_printf("labelSelector=%s", esel) : NULL;
		_cleanup_free_ char *path = kres_path(&r, all_ns || !r.namespaced ? NULL : k->ns, NULL, NULL, q);
		struct mk_client_response res = { 0 };
		if (kubectl_do(k, "GET", path, NULL, NULL, NULL, &res)) {
			kargs_release(&a);
			return 1;
		}
		if (res.code != 200) {
			rc = kubectl_server_error(&res);
		} else {
			const cJSON *it;
			cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(res.json, "items")) {
				if (!first)
					printf("\n\n");
				first = false;
				describe_object(k, &r, it, show_events);
			}
			if (first) {
				/* kubectl names the namespace even for cluster-scoped kinds */
				if (!all_ns)
					fprintf(stderr, "No resources found in %s namespace.\n", k->ns);
				else
					fprintf(stderr, "No resources found\n");
			}
		}
		mk_client_response_release(&res);
		kargs_release(&a);
		return rc;
	}
	for (int i = 0; i < nnames; i++) {
		_cleanup_free_ char *path = kres_path(&r, r.namespaced ? k->ns : NULL, names[i], NULL, NULL);
		struct mk_client_response res = { 0 };
		if (kubectl_do(k, "GET", path, NULL, NULL, NULL, &res)) {
			rc = 1;
			continue;
		}
		if (res.code != 200) {
			rc = kubectl_server_error(&res);
		} else {
			if (!first)
				printf("\n\n");
			first = false;
			describe_object(k, &r, res.json, show_events);
		}
		mk_client_response_release(&res);
	}
	kargs_release(&a);
	return rc;
}
