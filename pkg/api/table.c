/* meta.k8s.io/v1 Table output: the columns and cell formatting of a real
 * cluster's server-side printers (kubernetes pkg/printers/internalversion),
 * which kubectl prints verbatim. The server prints "wide": every column is
 * filled, kubectl hides priority 1 columns unless -o wide. */
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "internal.h"


#define NAME_COL MK_API_NAME_COL
#define AGE_COL MK_API_AGE_COL

static const struct mk_api_column pod_cols[] = {
	NAME_COL,
	{ "Ready", "string", "", "Ready containers out of all containers of the pod.", 0 },
	{ "Status", "string", "", "Aggregate status of the pod's containers, or its phase.", 0 },
	{ "Restarts", "string", "", "Container restarts in this pod, and how long ago the last one was.", 0 },
	AGE_COL,
	{ "IP", "string", "", "IP address allocated to the pod (status.podIP).", 1 },
	{ "Node", "string", "", "Node the pod is bound to (spec.nodeName).", 1 },
	{ "Nominated Node", "string", "", "Node nominated for the pod by preemption.", 1 },
	{ "Readiness Gates", "string", "", "Readiness gates that are true, out of all.", 1 },
};

static const struct mk_api_column service_cols[] = {
	NAME_COL,
	{ "Type", "string", "", "How the service is exposed (spec.type).", 0 },
	{ "Cluster-IP", "string", "", "Virtual IP of the service inside the cluster.", 0 },
	{ "External-IP", "string", "", "Addresses the service is reachable at from outside.", 0 },
	{ "Port(s)", "string", "", "Ports exposed by the service, with node ports.", 0 },
	AGE_COL,
	{ "Selector", "string", "", "Label selector of the pods behind the service.", 1 },
};

static const struct mk_api_column deployment_cols[] = {
	NAME_COL,
	{ "Ready", "string", "", "Ready replicas out of desired replicas.", 0 },
	{ "Up-to-date", "integer", "", "Replicas running the latest pod template.", 0 },
	{ "Available", "integer", "", "Replicas available to serve (ready for minReadySeconds).", 0 },
	AGE_COL,
	{ "Containers", "string", "", "Names of the containers in the pod template.", 1 },
	{ "Images", "string", "", "Images of the containers in the pod template.", 1 },
	{ "Selector", "string", "", "Label selector of the managed pods.", 1 },
};

static const struct mk_api_column replicaset_cols[] = {
	NAME_COL,
	{ "Desired", "integer", "", "Number of desired replicas (spec.replicas).", 0 },
	{ "Current", "integer", "", "Number of replicas observed (status.replicas).", 0 },
	{ "Ready", "integer", "", "Number of ready replicas.", 0 },
	AGE_COL,
	{ "Containers", "string", "", "Names of the containers in the pod template.", 1 },
	{ "Images", "string", "", "Images of the containers in the pod template.", 1 },
	{ "Selector", "string", "", "Label selector of the managed pods.", 1 },
};

static const struct mk_api_column namespace_cols[] = {
	NAME_COL,
	{ "Status", "string", "", "Lifecycle phase of the namespace.", 0 },
	AGE_COL,
};

static const struct mk_api_column node_cols[] = {
	NAME_COL,
	{ "Status", "string", "", "Node readiness and schedulability.", 0 },
	{ "Roles", "string", "", "Roles of the node, from node-role.kubernetes.io/* labels.", 0 },
	AGE_COL,
	{ "Version", "string", "", "Kubelet version reported by the node.", 0 },
	{ "Internal-IP", "string", "", "Internal address of the node.", 1 },
	{ "External-IP", "string", "", "External address of the node.", 1 },
	{ "OS-Image", "string", "", "Operating system image reported by the node.", 1 },
	{ "Kernel-Version", "string", "", "Kernel version reported by the node.", 1 },
	{ "Container-Runtime", "string", "", "Container runtime and version reported by the node.", 1 },
};

static const struct mk_api_column endpoints_cols[] = {
	NAME_COL,
	{ "Endpoints", "string", "", "Ready endpoint addresses and ports.", 0 },
	AGE_COL,
};

static const struct mk_api_column event_cols[] = {
	{ "Last Seen", "string", "", "Time since the event was last observed.", 0 },
	{ "Type", "string", "", "Type of the event (Normal, Warning).", 0 },
	{ "Reason", "string", "", "Short machine-readable reason for the event.", 0 },
	{ "Object", "string", "", "Object the event is about.", 0 },
	{ "Subobject", "string", "", "Part of the object the event is about.", 1 },
	{ "Source", "string", "", "Component and host that reported the event.", 1 },
	{ "Message", "string", "", "Human-readable description of the event.", 0 },
	{ "First Seen", "string", "", "Time since the event was first observed.", 1 },
	{ "Count", "integer", "", "Number of times the event occurred.", 1 },
	{ "Name", "string", "name", "Name of the event object.", 1 },
};

static const struct mk_api_column default_cols[] = {
	NAME_COL,
	AGE_COL,
};

static const struct mk_api_column *columns_for(const struct mk_api_resource *r, size_t *n)
{
#define RET(a) do { *n = MK_ARRAY_SIZE(a); return a; } while (0)
	if (r && r->crd)
		return mk_api_cr_columns(r, n);
	if (r && r->ops && r->ops->columns) {
		*n = r->ops->ncolumns;
		return r->ops->columns;
	}
	if (mk_api_is_kind(r, "Pod"))
		RET(pod_cols);
	if (mk_api_is_kind(r, "Service"))
		RET(service_cols);
	if (mk_api_is_kind(r, "Deployment"))
		RET(deployment_cols);
	if (mk_api_is_kind(r, "ReplicaSet"))
		RET(replicaset_cols);
	if (mk_api_is_kind(r, "Namespace"))
		RET(namespace_cols);
	if (mk_api_is_kind(r, "Node"))
		RET(node_cols);
	if (mk_api_is_kind(r, "Endpoints"))
		RET(endpoints_cols);
	if (mk_api_is_kind(r, "Event"))
		RET(event_cols);
	RET(default_cols);
#undef RET
}

cJSON *mk_api_table_new(const struct mk_api_resource *r, bool column_definitions)
{
	cJSON *t = cJSON_CreateObject();

	cJSON_AddStringToObject(t, "kind", "Table");
	cJSON_AddStringToObject(t, "apiVersion", "meta.k8s.io/v1");
	cJSON_AddItemToObject(t, "metadata", cJSON_CreateObject());
	if (column_definitions) {
		size_t n;
		const struct mk_api_column *cols = columns_for(r, &n);
		cJSON *defs = cJSON_AddArrayToObject(t, "columnDefinitions");
		for (size_t i = 0; i < n; i++) {
			cJSON *d = cJSON_CreateObject();
			cJSON_AddStringToObject(d, "name", cols[i].name);
			cJSON_AddStringToObject(d, "type", cols[i].type);
			cJSON_AddStringToObject(d, "format", cols[i].format);
			cJSON_AddStringToObject(d, "description", cols[i].description);
			cJSON_AddNumberToObject(d, "priority", cols[i].priority);
			cJSON_AddItemToArray(defs, d);
		}
	} else {
		/* later watch events: a real server sends null here */
		cJSON_AddNullToObject(t, "columnDefinitions");
	}
	cJSON_AddArrayToObject(t, "rows");
	return t;
}

/* ---- cell helpers ------------------------------------------------------------------ */

static const char *str_or(const cJSON *obj, const char *path, const char *def)
{
	const char *s = mk_json_get_string(obj, path);
	return s && s[0] ? s : def;
}

static long long int_at(const cJSON *obj, const char *path)
{
	return (long long)mk_api_json_number(obj, path, 0);
}

/* kubectl's translateTimestampSince: "<unknown>" for no timestamp, and
 * HumanDuration's "<invalid>" for times more than a second ahead. */
static void age_since(const char *ts, time_t now, char *buf, size_t size)
{
	time_t t = ts && ts[0] ? mk_time_parse(ts) : (time_t)-1;
	if (t == (time_t)-1) {
		snprintf(buf, size, "<unknown>");
		return;
	}
	int64_t d = (int64_t)now - (int64_t)t;
	if (d < -1)
		snprintf(buf, size, "<invalid>");
	else
		mk_time_human_duration(d < 0 ? 0 : d, buf, size);
}

static void add_str(cJSON *cells, const char *s)
{
	cJSON_AddItemToArray(cells, cJSON_CreateString(s ? s : ""));
}

static void add_int(cJSON *cells, long long v)
{
	cJSON_AddItemToArray(cells, cJSON_CreateNumber((double)v));
}

static void add_age(cJSON *cells, const char *ts, time_t now)
{
	char buf[32];
	age_since(ts, now, buf, sizeof(buf));
	add_str(cells, buf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* labels.FormatLabels: "k=v,..." sorted by key, "<none>" when empty. */
static void format_labels(const cJSON *labels, struct mk_buf *b)
{
	int n = cJSON_IsObject(labels) ? cJSON_GetArraySize(labels) : 0;
	const char **keys = mk_malloc0(sizeof(*keys) * (size_t)(n ? n : 1));
	const cJSON *l;
	int k = 0;
	if (n == 0)
		labels = NULL;
	cJSON_ArrayForEach(l, labels)
	{
		if (cJSON_IsString(l))
			keys[k++] = l->string;
	}
	qsort(keys, (size_t)k, sizeof(*keys), cmp_str);
	for (int i = 0; i < k; i++)
		mk_buf_printf(b, "%s%s=%s", i ? "," : "", keys[i],
			      cJSON_GetObjectItemCaseSensitive(labels, keys[i])->valuestring);
	if (k == 0)
		mk_buf_puts(b, "<none>");
	free(keys);
}

/* metav1.LabelSelector as labels.Selector.String(): requirements sorted by key,
 * "k=v", "k in (a,b)", "k notin (a)", "k", "!k". */
static char *format_selector(const cJSON *sel)
{
	struct req {
		const char *key;
		char *text;
	};
	int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchLabels")) +
		cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"));
	struct req *reqs = mk_malloc0(sizeof(*reqs) * (size_t)(n ? n : 1));
	int k = 0;
	const cJSON *m;
	struct mk_buf b;

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(sel, "matchLabels"))
	{
		if (cJSON_IsString(m) && k < n) {
			reqs[k].key = m->string;
			reqs[k++].text = mk_strdup_printf("%s=%s", m->string, m->valuestring);
		}
	}
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions"))
	{
		const char *key = mk_json_get_string(m, "key");
		const char *op = mk_json_get_string(m, "operator");
		if (!key || !op || k >= n)
			continue;
		if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0) {
			reqs[k].key = key;
			reqs[k++].text = mk_strdup_printf("%s%s", op[0] == 'D' ? "!" : "", key);
			continue;
		}
		const cJSON *values = cJSON_GetObjectItemCaseSensitive(m, "values");
		int nv = cJSON_GetArraySize(values), kv = 0;
		const char **vals = mk_malloc0(sizeof(*vals) * (size_t)(nv ? nv : 1));
		const cJSON *v;
		cJSON_ArrayForEach(v, values)
		{
			if (cJSON_IsString(v))
				vals[kv++] = v->valuestring;
		}
		qsort(vals, (size_t)kv, sizeof(*vals), cmp_str);
		mk_buf_init(&b);
		mk_buf_printf(&b, "%s %s (", key, strcmp(op, "In") == 0 ? "in" : "notin");
		for (int i = 0; i < kv; i++)
			mk_buf_printf(&b, "%s%s", i ? "," : "", vals[i]);
		mk_buf_puts(&b, ")");
		free(vals);
		reqs[k].key = key;
		reqs[k++].text = mk_buf_steal(&b);
	}
	/* stable insertion sort by key keeps the order of equal keys */
	for (int i = 1; i < k; i++) {
		struct req x = reqs[i];
		int j = i - 1;
		while (j >= 0 && strcmp(reqs[j].key, x.key) > 0) {
			reqs[j + 1] = reqs[j];
			j--;
		}
		reqs[j + 1] = x;
	}
	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	for (int i = 0; i < k; i++) {
		mk_buf_printf(&b, "%s%s", i ? "," : "", reqs[i].text);
		free(reqs[i].text);
	}
	free(reqs);
	return mk_buf_steal(&b);
}

/* layoutContainerCells: names and images, comma-joined */
static void add_containers_images(cJSON *cells, const cJSON *containers)
{
	struct mk_buf names, images;
	const cJSON *c;
	int i = 0;
	mk_buf_init(&names);
	mk_buf_init(&images);
	mk_buf_puts(&names, "");
	mk_buf_puts(&images, "");
	cJSON_ArrayForEach(c, containers)
	{
		mk_buf_printf(&names, "%s%s", i ? "," : "", str_or(c, "name", ""));
		mk_buf_printf(&images, "%s%s", i ? "," : "", str_or(c, "image", ""));
		i++;
	}
	add_str(cells, names.data);
	add_str(cells, images.data);
	mk_buf_release(&names);
	mk_buf_release(&images);
}

/* ---- rows per kind -------------------------------------------------------------------- */

static void later_of(const char **cur, const char *ts)
{
	if (!ts || !ts[0])
		return;
	if (!*cur || mk_time_parse(ts) > mk_time_parse(*cur))
		*cur = ts;
}

static bool is_sidecar(const cJSON *c)
{
	const char *rp = mk_json_get_string(c, "restartPolicy");
	return rp && strcmp(rp, "Always") == 0;
}

static const cJSON *init_spec(const cJSON *specs, const char *name)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, specs)
	{
		const char *n = mk_json_get_string(c, "name");
		if (n && name && strcmp(n, name) == 0)
			return c;
	}
	return NULL;
}

static bool condition_true(const cJSON *status, const char *type)
{
	const cJSON *cond;
	cJSON_ArrayForEach(cond, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = mk_json_get_string(cond, "type");
		const char *s = mk_json_get_string(cond, "status");
		if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0)
			return true;
	}
	return false;
}

/* What kubectl's pod printer (printPod) computes before it prints: the STATUS
 * reason, the restarts and the last one, ready and total containers. */
struct pod_summary {
	char reason[128];
	long long restarts;
	const char *last_restart;
	int ready, total;
};

/* Init containers, in order, up to the first that has not completed: its reason
 * as Init:..., a started sidecar (restartPolicy Always) counting as ready. true
 * while initializing. The sidecars' restarts go to *sidecar_restarts/_last. */
static bool pod_scan_init(struct pod_summary *ps, const cJSON *spec, const cJSON *status,
			  long long *sidecar_restarts, const char **sidecar_last)
{
	const cJSON *init_specs = cJSON_GetObjectItemCaseSensitive(spec, "initContainers");
	const cJSON *init_statuses = cJSON_GetObjectItemCaseSensitive(status, "initContainerStatuses");
	int n_init = cJSON_GetArraySize(init_statuses);
	for (int i = 0; i < n_init; i++) {
		const cJSON *cs = cJSON_GetArrayItem(init_statuses, i);
		const cJSON *term = mk_json_get(cs, "state.terminated");
		const cJSON *wait = mk_json_get(cs, "state.waiting");
		bool sidecar = is_sidecar(init_spec(init_specs, mk_json_get_string(cs, "name")));
		ps->restarts += int_at(cs, "restartCount");
		later_of(&ps->last_restart, mk_json_get_string(cs, "lastState.terminated.finishedAt"));
		if (sidecar) {
			*sidecar_restarts += int_at(cs, "restartCount");
			later_of(sidecar_last, mk_json_get_string(cs, "lastState.terminated.finishedAt"));
		}
		if (term && int_at(term, "exitCode") == 0)
			continue;
		if (sidecar && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "started"))) {
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "ready")))
				ps->ready++;
			continue;
		}
		if (term) {
			if (!mk_api_json_str_empty(term, "reason"))
				snprintf(ps->reason, sizeof(ps->reason), "Init:%s", mk_json_get_string(term, "reason"));
			else if (int_at(term, "signal") != 0)
				snprintf(ps->reason, sizeof(ps->reason), "Init:Signal:%lld", int_at(term, "signal"));
			else
				snprintf(ps->reason, sizeof(ps->reason), "Init:ExitCode:%lld", int_at(term, "exitCode"));
		} else if (wait && !mk_api_json_str_empty(wait, "reason") &&
			   strcmp(mk_json_get_string(wait, "reason"), "PodInitializing") != 0) {
			snprintf(ps->reason, sizeof(ps->reason), "Init:%s", mk_json_get_string(wait, "reason"));
		} else {
			snprintf(ps->reason, sizeof(ps->reason), "Init:%d/%d", i, cJSON_GetArraySize(init_specs));
		}
		return true;
	}
	return false;
}

/* The containers, last to first (the first one's reason wins, as kubectl): a
 * waiting or terminated reason, or ready and running; a Completed pod with a
 * running container shows Running or NotReady. */
static void pod_scan_containers(struct pod_summary *ps, const cJSON *status)
{
	const cJSON *statuses = cJSON_GetObjectItemCaseSensitive(status, "containerStatuses");
	bool has_running = false;
	for (int i = cJSON_GetArraySize(statuses) - 1; i >= 0; i--) {
		const cJSON *cs = cJSON_GetArrayItem(statuses, i);
		const cJSON *term = mk_json_get(cs, "state.terminated");
		const cJSON *wait = mk_json_get(cs, "state.waiting");
		ps->restarts += int_at(cs, "restartCount");
		later_of(&ps->last_restart, mk_json_get_string(cs, "lastState.terminated.finishedAt"));
		if (wait && !mk_api_json_str_empty(wait, "reason")) {
			snprintf(ps->reason, sizeof(ps->reason), "%s", mk_json_get_string(wait, "reason"));
		} else if (term && !mk_api_json_str_empty(term, "reason")) {
			snprintf(ps->reason, sizeof(ps->reason), "%s", mk_json_get_string(term, "reason"));
		} else if (term) {
			if (int_at(term, "signal") != 0)
				snprintf(ps->reason, sizeof(ps->reason), "Signal:%lld", int_at(term, "signal"));
			else
				snprintf(ps->reason, sizeof(ps->reason), "ExitCode:%lld", int_at(term, "exitCode"));
		} else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cs, "ready")) &&
			   mk_json_get(cs, "state.running")) {
			has_running = true;
			ps->ready++;
		}
	}
	if (strcmp(ps->reason, "Completed") == 0 && has_running) {
		bool pod_ready = condition_true(status, "Ready");
		snprintf(ps->reason, sizeof(ps->reason), "%s", pod_ready ? "Running" : "NotReady");
	}
}

static void pod_summarize(struct pod_summary *ps, const cJSON *obj)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const char *phase = mk_json_get_string(status, "phase");
	snprintf(ps->reason, sizeof(ps->reason), "%s", phase && phase[0] ? phase : "Pending");
	if (!mk_api_json_str_empty(status, "reason"))
		snprintf(ps->reason, sizeof(ps->reason), "%s", mk_json_get_string(status, "reason"));

	/* sidecars (init containers with restartPolicy Always) count as containers */
	ps->total = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(spec, "containers"));
	const cJSON *ic;
	cJSON_ArrayForEach(ic, cJSON_GetObjectItemCaseSensitive(spec, "initContainers"))
		if (is_sidecar(ic))
			ps->total++;
	long long sidecar_restarts = 0;
	const char *sidecar_last = NULL;
	bool initializing = pod_scan_init(ps, spec, status, &sidecar_restarts, &sidecar_last);
	if (!initializing || condition_true(status, "Initialized")) {
		ps->restarts = sidecar_restarts;
		ps->last_restart = sidecar_last;
		pod_scan_containers(ps, status);
	}

	if (!mk_api_json_str_empty(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
				   "deletionTimestamp")) {
		const char *sr = mk_json_get_string(status, "reason");
		if (sr && strcmp(sr, "NodeLost") == 0)
			snprintf(ps->reason, sizeof(ps->reason), "Unknown");
		else if (!phase || (strcmp(phase, "Succeeded") != 0 && strcmp(phase, "Failed") != 0))
			snprintf(ps->reason, sizeof(ps->reason), "Terminating");
	}
}

/* READINESS GATES: how many of spec.readinessGates have a True condition. */
static void add_readiness_gates(cJSON *cells, const cJSON *spec, const cJSON *status)
{
	const cJSON *gates = cJSON_GetObjectItemCaseSensitive(spec, "readinessGates");
	if (cJSON_GetArraySize(gates) == 0) {
		add_str(cells, "<none>");
		return;
	}
	int ok = 0;
	const cJSON *g, *cond;
	cJSON_ArrayForEach(g, gates)
	{
		const char *gt = mk_json_get_string(g, "conditionType");
		cJSON_ArrayForEach(cond, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
		{
			const char *t = mk_json_get_string(cond, "type");
			const char *s = mk_json_get_string(cond, "status");
			if (gt && t && s && strcmp(gt, t) == 0 && strcmp(s, "True") == 0)
				ok++;
		}
	}
	char buf[32];
	snprintf(buf, sizeof(buf), "%d/%d", ok, cJSON_GetArraySize(gates));
	add_str(cells, buf);
}

static void pod_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	struct pod_summary ps = { 0 };
	pod_summarize(&ps, obj);

	char buf[64], age[32];
	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	snprintf(buf, sizeof(buf), "%d/%d", ps.ready, ps.total);
	add_str(cells, buf);
	add_str(cells, ps.reason);
	if (ps.restarts != 0 && ps.last_restart) {
		age_since(ps.last_restart, now, age, sizeof(age));
		snprintf(buf, sizeof(buf), "%lld (%s ago)", ps.restarts, age);
	} else {
		snprintf(buf, sizeof(buf), "%lld", ps.restarts);
	}
	add_str(cells, buf);
	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);

	const cJSON *ips = cJSON_GetObjectItemCaseSensitive(status, "podIPs");
	const char *ip = str_or(cJSON_GetArrayItem(ips, 0), "ip", str_or(status, "podIP", "<none>"));
	add_str(cells, ip);
	add_str(cells, str_or(spec, "nodeName", "<none>"));
	add_str(cells, str_or(status, "nominatedNodeName", "<none>"));
	add_readiness_gates(cells, spec, status);
}

static void join_strings(struct mk_buf *b, const cJSON *arr)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, arr)
	{
		if (cJSON_IsString(v) && v->valuestring[0])
			mk_buf_printf(b, "%s%s", b->len ? "," : "", v->valuestring);
	}
}

static void service_external_ip(const cJSON *spec, const cJSON *status, const char *type,
				struct mk_buf *b)
{
	const cJSON *ext = cJSON_GetObjectItemCaseSensitive(spec, "externalIPs");
	if (strcmp(type, "ExternalName") == 0) {
		mk_buf_puts(b, str_or(spec, "externalName", ""));
		return;
	}
	if (strcmp(type, "LoadBalancer") == 0) {
		const cJSON *ing;
		cJSON_ArrayForEach(ing, mk_json_get(status, "loadBalancer.ingress"))
		{
			const char *a = str_or(ing, "ip", str_or(ing, "hostname", NULL));
			if (a)
				mk_buf_printf(b, "%s%s", b->len ? "," : "", a);
		}
		join_strings(b, ext);
		if (b->len == 0)
			mk_buf_puts(b, "<pending>");
		return;
	}
	join_strings(b, ext);
	if (b->len == 0)
		mk_buf_puts(b, "<none>");
}

static void service_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const char *type = str_or(spec, "type", "ClusterIP");
	const cJSON *cips = cJSON_GetObjectItemCaseSensitive(spec, "clusterIPs");
	const char *cip = cJSON_IsString(cJSON_GetArrayItem(cips, 0))
				  ? cJSON_GetArrayItem(cips, 0)->valuestring
				  : str_or(spec, "clusterIP", "<none>");
	struct mk_buf b;

	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	add_str(cells, type);
	add_str(cells, cip[0] ? cip : "<none>");

	mk_buf_init(&b);
	service_external_ip(spec, cJSON_GetObjectItemCaseSensitive(obj, "status"), type, &b);
	add_str(cells, b.data);
	mk_buf_release(&b);

	const cJSON *p;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(spec, "ports"))
	{
		mk_buf_printf(&b, "%s%lld", b.len ? "," : "", int_at(p, "port"));
		if (int_at(p, "nodePort") > 0)
			mk_buf_printf(&b, ":%lld", int_at(p, "nodePort"));
		mk_buf_printf(&b, "/%s", str_or(p, "protocol", "TCP"));
	}
	add_str(cells, b.len ? b.data : "<none>");
	mk_buf_release(&b);

	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	format_labels(cJSON_GetObjectItemCaseSensitive(spec, "selector"), &b);
	add_str(cells, b.data);
	mk_buf_release(&b);
}

static void workload_wide_cells(cJSON *cells, const cJSON *spec)
{
	add_containers_images(cells, mk_json_get(spec, "template.spec.containers"));
	_cleanup_free_ char *sel = format_selector(cJSON_GetObjectItemCaseSensitive(spec, "selector"));
	add_str(cells, sel);
}

static void deployment_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	char buf[64];

	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	snprintf(buf, sizeof(buf), "%lld/%lld", int_at(status, "readyReplicas"),
		 int_at(spec, "replicas"));
	add_str(cells, buf);
	add_int(cells, int_at(status, "updatedReplicas"));
	add_int(cells, int_at(status, "availableReplicas"));
	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	workload_wide_cells(cells, spec);
}

static void replicaset_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");

	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	add_int(cells, int_at(spec, "replicas"));
	add_int(cells, int_at(status, "replicas"));
	add_int(cells, int_at(status, "readyReplicas"));
	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	workload_wide_cells(cells, spec);
}

static void namespace_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	add_str(cells, str_or(obj, "status.phase", ""));
	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

static const char *node_address(const cJSON *status, const char *type)
{
	const cJSON *a;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(status, "addresses"))
	{
		const char *t = mk_json_get_string(a, "type");
		if (t && strcmp(t, type) == 0)
			return str_or(a, "address", "<none>");
	}
	return "<none>";
}

static void node_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *labels = mk_json_get(obj, "metadata.labels");
	struct mk_buf b;
	const cJSON *c;
	const char *ready = NULL;

	mk_buf_init(&b);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const char *t = mk_json_get_string(c, "type");
		if (t && strcmp(t, "Ready") == 0)
			ready = str_or(c, "status", "Unknown");
	}
	if (!ready)
		mk_buf_puts(&b, "Unknown");
	else
		mk_buf_puts(&b, strcmp(ready, "True") == 0 ? "Ready" : "NotReady");
	if (cJSON_IsTrue(mk_json_get(obj, "spec.unschedulable")))
		mk_buf_puts(&b, ",SchedulingDisabled");

	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	add_str(cells, b.data);
	mk_buf_release(&b);

	/* roles: node-role.kubernetes.io/ROLE labels and kubernetes.io/role=ROLE, sorted */
	int n = cJSON_GetArraySize(labels), k = 0;
	const char **roles = mk_malloc0(sizeof(*roles) * (size_t)(n ? n : 1));
	const cJSON *l;
	if (!cJSON_IsObject(labels))
		labels = NULL;
	cJSON_ArrayForEach(l, labels)
	{
		const char *role = NULL;
		if (mk_str_has_prefix(l->string, "node-role.kubernetes.io/"))
			role = l->string + strlen("node-role.kubernetes.io/");
		else if (strcmp(l->string, "kubernetes.io/role") == 0 && cJSON_IsString(l))
			role = l->valuestring;
		if (!role || !role[0])
			continue;
		bool dup = false;
		for (int i = 0; i < k; i++)
			dup = dup || strcmp(roles[i], role) == 0;
		if (!dup)
			roles[k++] = role;
	}
	qsort(roles, (size_t)k, sizeof(*roles), cmp_str);
	for (int i = 0; i < k; i++)
		mk_buf_printf(&b, "%s%s", i ? "," : "", roles[i]);
	free(roles);
	add_str(cells, k ? b.data : "<none>");
	mk_buf_release(&b);

	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	add_str(cells, str_or(status, "nodeInfo.kubeletVersion", ""));
	add_str(cells, node_address(status, "InternalIP"));
	add_str(cells, node_address(status, "ExternalIP"));
	add_str(cells, str_or(status, "nodeInfo.osImage", "<unknown>"));
	add_str(cells, str_or(status, "nodeInfo.kernelVersion", "<unknown>"));
	add_str(cells, str_or(status, "nodeInfo.containerRuntimeVersion", "<unknown>"));
}

#define ENDPOINTS_SHOWN 3

static void endpoints_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	struct mk_buf b;
	int shown = 0, count = 0;
	const cJSON *ss;

	mk_buf_init(&b);
	cJSON_ArrayForEach(ss, cJSON_GetObjectItemCaseSensitive(obj, "subsets"))
	{
		const cJSON *addrs = cJSON_GetObjectItemCaseSensitive(ss, "addresses");
		const cJSON *ports = cJSON_GetObjectItemCaseSensitive(ss, "ports");
		const cJSON *a, *p;
		if (cJSON_GetArraySize(ports) == 0) {
			/* headless services may have no ports */
			cJSON_ArrayForEach(a, addrs)
			{
				count++;
				if (shown < ENDPOINTS_SHOWN) {
					mk_buf_printf(&b, "%s%s", shown ? "," : "", str_or(a, "ip", ""));
					shown++;
				}
			}
			continue;
		}
		cJSON_ArrayForEach(p, ports)
		{
			cJSON_ArrayForEach(a, addrs)
			{
				count++;
				if (shown >= ENDPOINTS_SHOWN)
					continue;
				const char *ip = str_or(a, "ip", "");
				bool v6 = strchr(ip, ':') != NULL;
				mk_buf_printf(&b, "%s%s%s%s:%lld", shown ? "," : "", v6 ? "[" : "", ip,
					      v6 ? "]" : "", int_at(p, "port"));
				shown++;
			}
		}
	}
	if (count > shown)
		mk_buf_printf(&b, " + %d more...", count - shown);

	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	add_str(cells, shown ? b.data : "<none>");
	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
	mk_buf_release(&b);
}

static void event_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	char first[32], last[32];
	const cJSON *io = cJSON_GetObjectItemCaseSensitive(obj, "involvedObject");
	const char *first_ts = str_or(obj, "firstTimestamp", str_or(obj, "eventTime", NULL));
	long long count = int_at(obj, "count");
	struct mk_buf b;

	age_since(first_ts, now, first, sizeof(first));
	if (!mk_api_json_str_empty(obj, "lastTimestamp"))
		age_since(mk_json_get_string(obj, "lastTimestamp"), now, last, sizeof(last));
	else
		snprintf(last, sizeof(last), "%s", first);
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(obj, "series"))) {
		age_since(mk_json_get_string(obj, "series.lastObservedTime"), now, last, sizeof(last));
		count = int_at(obj, "series.count");
	} else if (count == 0) {
		count = 1;
	}

	add_str(cells, last);
	add_str(cells, str_or(obj, "type", ""));
	add_str(cells, str_or(obj, "reason", ""));

	mk_buf_init(&b);
	mk_buf_puts(&b, "");
	for (const char *k = str_or(io, "kind", ""); *k; k++)
		mk_buf_printf(&b, "%c", (char)(*k >= 'A' && *k <= 'Z' ? *k - 'A' + 'a' : *k));
	if (!mk_api_json_str_empty(io, "name"))
		mk_buf_printf(&b, "/%s", mk_json_get_string(io, "name"));
	add_str(cells, b.data);
	mk_buf_release(&b);

	add_str(cells, str_or(io, "fieldPath", ""));

	/* formatEventSource: component, host; else reportingController, instance */
	const char *comp = str_or(obj, "source.component", NULL);
	const char *host = str_or(obj, "source.host", NULL);
	if (!comp) {
		comp = str_or(obj, "reportingComponent", "");
		host = str_or(obj, "reportingInstance", NULL);
	}
	mk_buf_puts(&b, comp);
	if (host)
		mk_buf_printf(&b, ", %s", host);
	add_str(cells, b.data ? b.data : "");
	mk_buf_release(&b);

	/* strings.TrimSpace(message) */
	const char *msg = str_or(obj, "message", "");
	while (*msg == ' ' || *msg == '\n' || *msg == '\t' || *msg == '\r')
		msg++;
	size_t len = strlen(msg);
	while (len && (msg[len - 1] == ' ' || msg[len - 1] == '\n' || msg[len - 1] == '\t' ||
		       msg[len - 1] == '\r'))
		len--;
	mk_buf_append(&b, msg, len);
	add_str(cells, b.data ? b.data : "");
	mk_buf_release(&b);

	add_str(cells, first);
	add_int(cells, count);
	add_str(cells, mk_json_get_string(obj, "metadata.name"));
}

static void default_cells(cJSON *cells, const cJSON *obj, time_t now)
{
	add_str(cells, mk_json_get_string(obj, "metadata.name"));
	add_age(cells, mk_json_get_string(obj, "metadata.creationTimestamp"), now);
}

/* Appends the row of obj; returns its PartialObjectMetadata, without metadata. */
static cJSON *add_row(cJSON *table, const struct mk_api_resource *r, const cJSON *obj,
		      time_t now)
{
	cJSON *rows = cJSON_GetObjectItemCaseSensitive(table, "rows");
	if (!cJSON_IsArray(rows)) {
		rows = cJSON_CreateArray();
		mk_json_set(table, "rows", rows);
	}

	cJSON *row = cJSON_CreateObject();
	cJSON *cells = cJSON_AddArrayToObject(row, "cells");
	if (r && r->crd)
		mk_api_cr_cells(r, cells, obj, now);
	else if (r && r->ops && r->ops->cells)
		r->ops->cells(cells, obj, now);
	else if (mk_api_is_kind(r, "Pod"))
		pod_cells(cells, obj, now);
	else if (mk_api_is_kind(r, "Service"))
		service_cells(cells, obj, now);
	else if (mk_api_is_kind(r, "Deployment"))
		deployment_cells(cells, obj, now);
	else if (mk_api_is_kind(r, "ReplicaSet"))
		replicaset_cells(cells, obj, now);
	else if (mk_api_is_kind(r, "Namespace"))
		namespace_cells(cells, obj, now);
	else if (mk_api_is_kind(r, "Node"))
		node_cells(cells, obj, now);
	else if (mk_api_is_kind(r, "Endpoints"))
		endpoints_cells(cells, obj, now);
	else if (mk_api_is_kind(r, "Event"))
		event_cells(cells, obj, now);
	else
		default_cells(cells, obj, now);

	cJSON *po = cJSON_AddObjectToObject(row, "object");
	cJSON_AddStringToObject(po, "kind", "PartialObjectMetadata");
	cJSON_AddStringToObject(po, "apiVersion", "meta.k8s.io/v1");
	cJSON_AddItemToArray(rows, row);
	return po;
}

void mk_api_table_add_row(cJSON *table, const struct mk_api_resource *r, const cJSON *obj,
			  time_t now)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	cJSON_AddItemToObject(add_row(table, r, obj, now), "metadata",
			      cJSON_IsObject(meta) ? cJSON_Duplicate(meta, 1) : cJSON_CreateObject());
}

void mk_api_table_add_row_take(cJSON *table, const struct mk_api_resource *r, cJSON *obj,
			       time_t now)
{
	/* the cells first: they read the metadata (name, timestamps, labels) */
	cJSON *po = add_row(table, r, obj, now);
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	/* moved, not copied: a list's thousands of rows */
	cJSON_AddItemToObject(po, "metadata", cJSON_IsObject(meta)
					      ? cJSON_DetachItemViaPointer(obj, meta)
					      : cJSON_CreateObject());
}

void mk_api_cell_str(cJSON *cells, const char *s)
{
	add_str(cells, s);
}

void mk_api_cell_age(cJSON *cells, const char *timestamp, time_t now)
{
	add_age(cells, timestamp, now);
}

void mk_api_cell_int(cJSON *cells, long long v)
{
	add_int(cells, v);
}

void mk_api_cell_labels(cJSON *cells, const cJSON *labels)
{
	struct mk_buf b;
	mk_buf_init(&b);
	format_labels(labels, &b);
	add_str(cells, b.data);
	mk_buf_release(&b);
}

void mk_api_cell_selector(cJSON *cells, const cJSON *sel)
{
	_cleanup_free_ char *s = format_selector(sel);
	add_str(cells, s && s[0] ? s : "<none>");
}

void mk_api_cell_containers_images(cJSON *cells, const cJSON *containers)
{
	add_containers_images(cells, containers);
}

void mk_api_cell_workload_wide(cJSON *cells, const cJSON *spec)
{
	workload_wide_cells(cells, spec);
	/* metav1.FormatLabelSelector(nil) (a CronJob's job template) */
	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(spec, "selector");
	if (!sel || cJSON_IsNull(sel))
		cJSON_ReplaceItemInArray(cells, cJSON_GetArraySize(cells) - 1, cJSON_CreateString("<none>"));
}
