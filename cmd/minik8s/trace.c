/* minik8s trace: the way a connection to a Service takes, from the DNS name to
 * the endpoints, with the kernel entries and per-endpoint counters of every
 * node. The view is computed by the API server (GET /ui/api/trace, the same the
 * /ui/ page reads; pkg/apiserver/ui.c), which asks each node's agent. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "commands.h"
#include "minik8s/client.h"
#include "minik8s/util.h"

#define WATCH_INTERVAL_MS 1000
#define MAX_SERVICES 16 /* services routing to one pod or IP, at most */

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = 1; }

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: minik8s trace (svc/NAME | POD | IP[:PORT]) [-n NAMESPACE] [-o json] [--watch]\n"
		"\n"
		"Shows the way a connection to a Service takes: its DNS name and the answer the\n"
		"cluster DNS gives for it, the ClusterIP and ports, the entries the proxy put in\n"
		"each node's kernel (table ip minik8s: map svc and map ep, read over netlink), and\n"
		"each endpoint with its pod, node, ready state and counters: connections the\n"
		"node's proxy sent to it (the counter of its map element) and connections open now\n"
		"(conntrack). Pods' connections a node's socket LB (eBPF on connect(), see\n"
		"--disable-socket-lb) sent straight to an endpoint never reach those maps: they\n"
		"are counted apart, and CONNECTIONS is the sum (VIA NAT/SOCKET-LB splits it).\n"
		"A POD or an IP traces the services whose endpoints are that pod or\n"
		"address (or whose ClusterIP it is).\n"
		"\n"
		"Options:\n"
		"  -n, --namespace NS     namespace (default: the kubeconfig's, else default)\n"
		"  -o, --output json      print the view as JSON (one object per service)\n"
		"  -w, --watch            redraw as the counters move (once a second at most)\n"
		"      --kubeconfig FILE  kubeconfig file (else $KUBECONFIG, /etc/minik8s/kubeconfig,\n"
		"                         ~/.kube/config)\n"
		"  -h, --help             show this help\n");
}

static void server_error(const struct mk_client_response *res)
{
	_cleanup_error_ struct mk_error *err = NULL;
	mk_client_response_error(res, &err);
	const char *reason = mk_client_response_reason(res);
	if (reason && *reason)
		fprintf(stderr, "Error from server (%s): %s\n", reason, err->msg);
	else
		fprintf(stderr, "Error from server: %s\n", err->msg);
}

/* GET path -> *ret (owned JSON); 0, or 1 after printing the error */
static int get(struct mk_client *c, const char *path, cJSON **ret)
{
	struct mk_client_response res = { 0 };
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_client_request rq = { .method = "GET", .path = path };
	if (mk_client_do(c, &rq, &res, &err) < 0) {
		fprintf(stderr, "error: %s\n", err->msg);
		return 1;
	}
	if (res.code >= 400 || !res.json) {
		if (res.code >= 400)
			server_error(&res);
		else
			fprintf(stderr, "error: the server answered something that is not JSON\n");
		mk_client_response_release(&res);
		return 1;
	}
	*ret = TAKE_PTR(res.json);
	mk_client_response_release(&res);
	return 0;
}

static int trace_get(struct mk_client *c, const char *ns, const char *name, cJSON **ret)
{
	_cleanup_free_ char *ens = curl_easy_escape(NULL, ns, 0);
	_cleanup_free_ char *ename = curl_easy_escape(NULL, name, 0);
	_cleanup_free_ char *path = mk_strdup_printf("/ui/api/trace?namespace=%s&service=%s", ens, ename);
	return get(c, path, ret);
}

static const char *s_or(const cJSON *o, const char *path, const char *def)
{
	const char *s = mk_json_get_string(o, path);
	return s ? s : def;
}

static double n_of(const cJSON *o, const char *path)
{
	const cJSON *n = mk_json_get(o, path);
	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* the nodes whose socket LB balances port p for their pods */
static void print_socklb(const cJSON *v, const cJSON *p)
{
	const cJSON *f;
	cJSON_ArrayForEach(f, mk_json_get(p, "socketLB"))
		printf("  socket LB %s: pods' connect()/sendmsg() to %s . %s . %d go straight to one "
		       "of %d endpoints (eBPF on %s)\n",
		       s_or(f, "node", ""), s_or(v, "service.clusterIP", ""), s_or(p, "protocol", ""),
		       (int)n_of(p, "port"), (int)n_of(f, "endpoints"), s_or(f, "cgroup", ""));
}

static void print_text(const cJSON *v)
{
	printf("Service %s/%s  %s %s\n", s_or(v, "service.namespace", ""), s_or(v, "service.name", ""),
	       s_or(v, "service.type", ""), s_or(v, "service.clusterIP", ""));
	const cJSON *dns = mk_json_get(v, "dns");
	printf("DNS     %s", s_or(v, "dnsName", ""));
	if (cJSON_IsObject(dns)) {
		if (mk_json_get_string(dns, "error")) {
			printf(" -> no answer (%s) from %s on %s\n", s_or(dns, "error", ""),
			       s_or(dns, "server", "?"), s_or(dns, "node", "?"));
		} else {
			printf(" ->");
			const cJSON *a;
			int k = 0;
			cJSON_ArrayForEach(a, mk_json_get(dns, "answers"))
			{
				if (cJSON_IsString(a))
					printf("%s %s", k++ ? "," : "", a->valuestring);
			}
			printf("%s (%s from %s on %s)\n", k ? "" : " nothing", s_or(dns, "rcode", "?"),
			       s_or(dns, "server", "?"), s_or(dns, "node", "?"));
		}
	} else {
		printf(" (no node answered)\n");
	}
	const cJSON *n;
	cJSON_ArrayForEach(n, mk_json_get(v, "nodes"))
	{
		if (mk_json_get_string(n, "error"))
			printf("Node    %s: %s\n", s_or(n, "name", ""), s_or(n, "error", ""));
		else
			printf("Node    %s: table ip minik8s %s\n", s_or(n, "name", ""),
			       cJSON_IsTrue(mk_json_get(n, "tablePresent")) ? "present" : "ABSENT");
	}
	const cJSON *p;
	cJSON_ArrayForEach(p, mk_json_get(v, "ports"))
	{
		const cJSON *tp = mk_json_get(p, "targetPort");
		char tps[64] = "";
		if (cJSON_IsNumber(tp))
			snprintf(tps, sizeof(tps), "%d", tp->valueint);
		else if (cJSON_IsString(tp))
			snprintf(tps, sizeof(tps), "%s", tp->valuestring);
		const char *pn = s_or(p, "name", "");
		printf("\nPort    %s%s%d/%s -> targetPort %s\n", pn, *pn ? " " : "", (int)n_of(p, "port"),
		       s_or(p, "protocol", ""), *tps ? tps : "?");
		const cJSON *f;
		int nf = 0;
		cJSON_ArrayForEach(f, mk_json_get(p, "frontends"))
		{
			printf("  kernel %s: map svc  %s . %s . %d : goto %s\n", s_or(f, "node", ""),
			       s_or(v, "service.clusterIP", ""), s_or(p, "protocol", ""),
			       (int)n_of(p, "port"), s_or(f, "chain", ""));
			nf++;
		}
		if (!nf)
			printf("  kernel: no map svc element on any node\n");
		print_socklb(v, p);
		printf("  %-21s %-24s %-12s %-5s %-10s %-11s %-6s %s\n", "ENDPOINT", "POD", "NODE", "READY",
		       "PROGRAMMED", "CONNECTIONS", "ACTIVE", "VIA NAT/SOCKET-LB");
		const cJSON *e;
		int ne = 0;
		cJSON_ArrayForEach(e, mk_json_get(p, "endpoints"))
		{
			char ep[64];
			snprintf(ep, sizeof(ep), "%s:%d", s_or(e, "ip", ""), (int)n_of(e, "port"));
			printf("  %-21s %-24s %-12s %-5s %-10s %-11.0f %-6.0f %.0f/%.0f\n", ep,
			       s_or(e, "pod", "<none>"), s_or(e, "node", "<none>"),
			       cJSON_IsTrue(mk_json_get(e, "ready")) ? "true" : "false",
			       cJSON_IsTrue(mk_json_get(e, "programmed")) ? "yes" : "no",
			       n_of(e, "connections"), n_of(e, "activeConnections"),
			       n_of(e, "natConnections"), n_of(e, "socketConnections"));
			ne++;
		}
		if (!ne)
			printf("  (no endpoints: connections are rejected)\n");
	}
	printf("\nNetworkPolicy: %s (policies are not part of the trace yet)\n",
	       s_or(v, "networkPolicy", "not evaluated"));
}

static bool slice_has(const cJSON *slice, const char *ip, const char *pod)
{
	const cJSON *ep, *a;
	cJSON_ArrayForEach(ep, mk_json_get(slice, "endpoints"))
	{
		if (pod && !strcmp(s_or(ep, "targetRef.name", ""), pod) &&
		    !strcmp(s_or(ep, "targetRef.kind", ""), "Pod"))
			return true;
		cJSON_ArrayForEach(a, mk_json_get(ep, "addresses"))
		{
			if (ip && cJSON_IsString(a) && !strcmp(a->valuestring, ip))
				return true;
		}
	}
	return false;
}

/* The services a pod name or an IP leads to: a ClusterIP, or an endpoint. */
static int resolve_target(struct mk_client *c, const char *ns, const char *target, char ***ret_ns,
			  char ***ret_names, size_t *ret_n)
{
	_cleanup_free_ char *t = mk_strdup(target);
	char *colon = strchr(t, ':');
	if (colon)
		*colon = 0; /* the port is only a hint: every port of the service is shown */
	struct in_addr a;
	bool is_ip = inet_pton(AF_INET, t, &a) == 1;
	char **nss = mk_malloc0(MAX_SERVICES * sizeof(char *));
	char **names = mk_malloc0(MAX_SERVICES * sizeof(char *));
	size_t n = 0;
	_cleanup_cjson_ cJSON *list = NULL;
	if (is_ip) {
		if (get(c, "/api/v1/services", &list))
			goto fail;
		const cJSON *s;
		cJSON_ArrayForEach(s, mk_json_get(list, "items"))
		{
			if (n < MAX_SERVICES && !strcmp(s_or(s, "spec.clusterIP", ""), t)) {
				nss[n] = mk_strdup(s_or(s, "metadata.namespace", ""));
				names[n++] = mk_strdup(s_or(s, "metadata.name", ""));
			}
		}
		cJSON_Delete(list);
		list = NULL;
	}
	if (!n) {
		_cleanup_free_ char *path =
			is_ip ? mk_strdup("/apis/discovery.k8s.io/v1/endpointslices")
			      : mk_strdup_printf("/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices", ns);
		if (get(c, path, &list))
			goto fail;
		const cJSON *s;
		cJSON_ArrayForEach(s, mk_json_get(list, "items"))
		{
			const cJSON *lab = cJSON_GetObjectItemCaseSensitive(mk_json_get(s, "metadata.labels"),
									   "kubernetes.io/service-name");
			if (n >= MAX_SERVICES || !cJSON_IsString(lab) ||
			    !slice_has(s, is_ip ? t : NULL, is_ip ? NULL : t))
				continue;
			const char *sns = s_or(s, "metadata.namespace", "");
			bool dup = false;
			for (size_t i = 0; i < n; i++)
				dup |= !strcmp(nss[i], sns) && !strcmp(names[i], lab->valuestring);
			if (!dup) {
				nss[n] = mk_strdup(sns);
				names[n++] = mk_strdup(lab->valuestring);
			}
		}
	}
	if (!n) {
		if (is_ip)
			fprintf(stderr, "error: no service has the ClusterIP or an endpoint %s\n", t);
		else
			fprintf(stderr, "error: no service in namespace %s routes to pod %s\n", ns, t);
		goto fail;
	}
	*ret_ns = nss;
	*ret_names = names;
	*ret_n = n;
	return 0;
fail:
	for (size_t i = 0; i < n; i++) {
		free(nss[i]);
		free(names[i]);
	}
	free(nss);
	free(names);
	return 1;
}

/* One round: every service's view printed; 0 or 1. *io_last (owned) holds the
 * last JSON printed, to redraw only on change. */
static int round_once(struct mk_client *c, char **nss, char **names, size_t n, bool json,
		      bool watch, char **io_last)
{
	_cleanup_cjson_ cJSON *all = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		cJSON *v = NULL;
		if (trace_get(c, nss[i], names[i], &v))
			return 1;
		cJSON_AddItemToArray(all, v);
	}
	char *text = cJSON_PrintUnformatted(all);
	if (watch && *io_last && !strcmp(*io_last, text)) {
		cJSON_free(text);
		return 0;
	}
	if (watch && !json && isatty(STDOUT_FILENO))
		printf("\033[H\033[2J");
	const cJSON *v;
	cJSON_ArrayForEach(v, all)
	{
		if (json) {
			_cleanup_cjson_str_ char *s = cJSON_Print(v);
			printf("%s\n", s);
		} else {
			if (v != all->child)
				printf("\n");
			print_text(v);
		}
	}
	if (watch && !json) {
		time_t now = time(NULL);
		char ts[32];
		strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
		printf("\n(watching, %s; Ctrl-C to stop)\n", ts);
	}
	fflush(stdout);
	free(*io_last);
	*io_last = mk_strdup(text);
	cJSON_free(text);
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	const char *ns = NULL, *out = NULL, *kubeconfig = NULL;
	bool watch = false;
	static const struct option opts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "watch", no_argument, NULL, 'w' },
		{ "kubeconfig", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "n:o:wh", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': ns = optarg; break;
		case 'o': out = optarg; break;
		case 'w': watch = true; break;
		case 'k': kubeconfig = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return cmd_usage_error("trace", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error("trace", "want exactly one target: svc/NAME, a pod name or IP[:PORT]");
	if (out && strcmp(out, "json"))
		return cmd_usage_error("trace", "unknown output format '%s' (want json)", out);
	const char *target = argv[optind];

	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_client_config *cfg = NULL;
	_cleanup_free_ char *path = mk_client_kubeconfig_path(kubeconfig);
	if (mk_client_config_load_kubeconfig(path, NULL, &cfg, &err) < 0) {
		fprintf(stderr, "error: %s\n", err->msg);
		return 1;
	}
	_cleanup_free_ char *nsbuf = mk_strdup(ns && *ns ? ns : cfg->namespace ? cfg->namespace : "default");
	struct mk_client *c = NULL;
	int r = mk_client_new(cfg, &c, &err);
	mk_client_config_free(cfg);
	if (r < 0) {
		fprintf(stderr, "error: %s\n", err->msg);
		return 1;
	}

	char **nss = NULL, **names = NULL;
	size_t n = 0;
	const char *slash = strchr(target, '/');
	if (slash) {
		size_t kl = (size_t)(slash - target);
		if (!((kl == 3 && !strncmp(target, "svc", 3)) || (kl == 7 && !strncmp(target, "service", 7)) ||
		      (kl == 8 && !strncmp(target, "services", 8))) ||
		    !slash[1]) {
			mk_client_free(c);
			return cmd_usage_error("trace", "unknown target '%s' (want svc/NAME)", target);
		}
		nss = mk_malloc0(sizeof(char *));
		names = mk_malloc0(sizeof(char *));
		nss[0] = mk_strdup(nsbuf);
		names[0] = mk_strdup(slash + 1);
		n = 1;
	} else if (resolve_target(c, nsbuf, target, &nss, &names, &n)) {
		mk_client_free(c);
		return 1;
	}

	char *last = NULL;
	r = round_once(c, nss, names, n, out != NULL, watch, &last);
	if (watch && r == 0) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		while (!stop) {
			struct timespec ts = { WATCH_INTERVAL_MS / 1000, (WATCH_INTERVAL_MS % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			if (stop)
				break;
			if ((r = round_once(c, nss, names, n, out != NULL, true, &last)) != 0)
				break;
		}
	}
	free(last);
	for (size_t i = 0; i < n; i++) {
		free(nss[i]);
		free(names[i]);
	}
	free(nss);
	free(names);
	mk_client_free(c);
	return r;
}
