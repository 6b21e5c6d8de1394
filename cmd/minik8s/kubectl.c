/* minik8s kubectl: the built-in Kubernetes client. Global flags, the
 * subcommand table, connection, errors and resource-type resolution. */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "commands.h"
#include "kubectl.h"
#include "kubectl_stream.h"

struct subcommand {
	const char *name;
	int (*fn)(struct kubectl *k, int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "get", kubectl_get, "Display one or many resources" },
	{ "describe", kubectl_describe, "Show details of a specific resource or group of resources" },
	{ "create", kubectl_create, "Create a resource from a file or from stdin, or a namespace or deployment" },
	{ "apply", kubectl_apply, "Apply a configuration to a resource by file name or stdin" },
	{ "delete", kubectl_delete, "Delete resources by file names, stdin, resources and names, or by label selector" },
	{ "run", kubectl_run, "Run a particular image on the cluster" },
	{ "expose", kubectl_expose, "Take a deployment, service or pod and expose it as a new Kubernetes service" },
	{ "scale", kubectl_scale, "Set a new size for a deployment or replica set" },
	{ "logs", kubectl_logs, "Print the logs for a container in a pod" },
	{ "exec", kubectl_exec, "Execute a command in a container" },
};

static void usage(FILE *f)
{
	fprintf(f, "minik8s kubectl controls the minik8s cluster manager (a subset of kubectl).\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < MK_ARRAY_SIZE(subcommands); i++)
		fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\nGlobal options:\n"
		   "  -n, --namespace NS              the namespace scope for this request\n"
		   "      --kubeconfig FILE           kubeconfig file (else $KUBECONFIG,\n"
		   "                                  /etc/minik8s/kubeconfig, ~/.kube/config)\n"
		   "      --context NAME              kubeconfig context to use\n"
		   "  -s, --server URL                API server address\n"
		   "      --token TOKEN               bearer token\n"
		   "      --certificate-authority F   CA certificate file\n"
		   "      --insecure-skip-tls-verify  do not verify the server's certificate\n"
		   "      --request-timeout DURATION  per request timeout (\"30s\", \"1m\"; 0 = none)\n"
		   "\nUsage:\n  minik8s kubectl [flags] COMMAND [options]\n\n"
		   "Use \"minik8s kubectl COMMAND --help\" for more information about a command.\n");
}

/* ---- flags --------------------------------------------------------------------------- */

static const struct kflag *find_long(const struct kflag *flags, const char *name, size_t len)
{
	for (const struct kflag *f = flags; f && f->name; f++)
		if (strlen(f->name) == len && !strncmp(f->name, name, len))
			return f;
	return NULL;
}

static const struct kflag *find_short(const struct kflag *flags, char c)
{
	for (const struct kflag *f = flags; f && f->name; f++)
		if (f->shortc && f->shortc == c)
			return f;
	return NULL;
}

static int set_flag(const char *cmd, const struct kflag *f, const char *value, bool have_value)
{
	char *end;
	switch (f->type) {
	case KF_BOOL:
		if (!have_value || !strcmp(value, "true") || !strcmp(value, "1"))
			*(bool *)f->ptr = true;
		else if (!strcmp(value, "false") || !strcmp(value, "0"))
			*(bool *)f->ptr = false;
		else
			return cmd_usage_error(cmd, "invalid argument \"%s\" for \"--%s\" flag: "
					       "strconv.ParseBool: parsing \"%s\": invalid syntax",
					       value, f->name, value);
		break;
	case KF_STRING:
		*(const char **)f->ptr = value;
		break;
	case KF_INT: {
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end)
			return cmd_usage_error(cmd, "invalid argument \"%s\" for \"--%s\" flag: "
					       "strconv.ParseInt: parsing \"%s\": invalid syntax",
					       value, f->name, value);
		*(long *)f->ptr = v;
		break;
	}
	case KF_LIST: {
		struct kflag_list *l = f->ptr;
		MK_GROW(l->v, l->cap, (size_t)l->n + 1);
		l->v[l->n++] = (char *)value;
		break;
	}
	}
	if (f->set)
		*f->set = true;
	return 0;
}

int kflags_parse(const char *cmd, int argc, char **argv, const struct kflag *flags, bool *help,
		 struct kargs *ret)
{
	struct kargs a = { 0 };
	a.v = mk_malloc0(sizeof(char *) * (size_t)(argc + 1));
	*help = false;
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		if (!strcmp(arg, "--")) {
			a.has_dash = true;
			a.dash = argv + i + 1;
			a.ndash = argc - i - 1;
			break;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			*help = true;
			continue;
		}
		if (arg[0] == '-' && arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct kflag *f = find_long(flags, name, len);
			if (!f) {
				free(a.v);
				return cmd_usage_error(cmd, "unknown flag: --%.*s", (int)len, name);
			}
			const char *value = eq ? eq + 1 : NULL;
			if (!value && f->type != KF_BOOL) {
				if (i + 1 >= argc) {
					free(a.v);
					return cmd_usage_error(cmd, "flag needs an argument: --%s", f->name);
				}
				value = argv[++i];
			}
			int r = set_flag(cmd, f, value ? value : "", value != NULL);
			if (r) {
				free(a.v);
				return r;
			}
			continue;
		}
		if (arg[0] == '-' && arg[1]) {
			/* short flags, possibly grouped (-it) or with an attached value (-nfoo, -o=json) */
			for (const char *p = arg + 1; *p; p++) {
				const struct kflag *f = find_short(flags, *p);
				if (!f) {
					free(a.v);
					return cmd_usage_error(cmd, "unknown shorthand flag: '%c' in %s", *p,
							       arg);
				}
				if (f->type == KF_BOOL) {
					int r = set_flag(cmd, f, "", false);
					if (r) {
						free(a.v);
						return r;
					}
					continue;
				}
				const char *value = p[1] ? p + 1 + (p[1] == '=') : NULL;
				if (!value) {
					if (i + 1 >= argc) {
						free(a.v);
						return cmd_usage_error(cmd, "flag needs an argument: '%c' in %s",
								       *p, arg);
					}
					value = argv[++i];
				}
				int r = set_flag(cmd, f, value, true);
				if (r) {
					free(a.v);
					return r;
				}
				break;
			}
			continue;
		}
		a.v[a.n++] = arg;
	}
	*ret = a;
	return 0;
}

void kargs_release(struct kargs *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

void kflag_list_release(struct kflag_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* "30s", "1m", "500ms", "2" (seconds) -> milliseconds; -1 if invalid */
static long parse_duration_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return (long)(v * 1000);
	if (!strcmp(end, "ms"))
		return (long)v;
	if (!strcmp(end, "m"))
		return (long)(v * 60000);
	if (!strcmp(end, "h"))
		return (long)(v * 3600000);
	return -1;
}

/* Removes the global flags from argv (anywhere before "--"), kubectl-style. */
static int parse_global(struct kubectl *k, int *argc, char **argv)
{
	int o = 1;
	bool dash = false;
	for (int i = 1; i < *argc; i++) {
		char *a = argv[i];
		if (dash || !strcmp(a, "--")) {
			dash = true;
			argv[o++] = a;
			continue;
		}
		static const struct {
			const char *name;
			char shortc;
			size_t off;
		} sflags[] = {
			{ "namespace", 'n', offsetof(struct kubectl, ns_flag) },
			{ "kubeconfig", 0, offsetof(struct kubectl, kubeconfig) },
			{ "context", 0, offsetof(struct kubectl, context) },
			{ "server", 's', offsetof(struct kubectl, server) },
			{ "token", 0, offsetof(struct kubectl, token) },
			{ "certificate-authority", 0, offsetof(struct kubectl, ca_file) },
		};
		bool matched = false;
		for (size_t f = 0; f < MK_ARRAY_SIZE(sflags) && !matched; f++) {
			char **dst = (char **)((char *)k + sflags[f].off);
			size_t nl = strlen(sflags[f].name);
			const char *value = NULL;
			if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, sflags[f].name, nl) &&
			    (a[2 + nl] == '=' || !a[2 + nl])) {
				if (a[2 + nl] == '=')
					value = a + 3 + nl;
				else if (i + 1 < *argc)
					value = argv[++i];
				else
					return cmd_usage_error("kubectl", "flag needs an argument: --%s",
							       sflags[f].name);
				matched = true;
			} else if (sflags[f].shortc && a[0] == '-' && a[1] == sflags[f].shortc) {
				if (a[2])
					value = a + 2 + (a[2] == '=');
				else if (i + 1 < *argc)
					value = argv[++i];
				else
					return cmd_usage_error("kubectl", "flag needs an argument: '%c' in -%c",
							       sflags[f].shortc, sflags[f].shortc);
				matched = true;
			}
			if (matched)
				*dst = (char *)value;
		}
		if (matched)
			continue;
		if (!strcmp(a, "--insecure-skip-tls-verify") ||
		    !strcmp(a, "--insecure-skip-tls-verify=true")) {
			k->insecure = true;
			continue;
		}
		if (!strcmp(a, "--insecure-skip-tls-verify=false"))
			continue;
		if (!strncmp(a, "--request-timeout", 17) && (a[17] == '=' || !a[17])) {
			const char *v = a[17] == '=' ? a + 18 : (i + 1 < *argc ? argv[++i] : NULL);
			long ms = v ? parse_duration_ms(v) : -1;
			if (ms < 0)
				return cmd_usage_error("kubectl", "invalid --request-timeout value");
			k->request_timeout_ms = ms;
			continue;
		}
		/* -v=N / --v=N: accepted and ignored (no debug logging here) */
		if (!strncmp(a, "-v=", 3) || !strncmp(a, "--v=", 4))
			continue;
		argv[o++] = a;
	}
	*argc = o;
	argv[o] = NULL;
	return 0;
}

/* ---- connection --------------------------------------------------------------------- */

int kubectl_connect(struct kubectl *k)
{
	struct mk_client_config *cfg = NULL;
	_cleanup_error_ struct mk_error *err = NULL;

	if (k->client)
		return 0;
	if (k->server && *k->server) {
		cfg = mk_client_config_new(k->server, k->token, k->ca_file);
	} else {
		_cleanup_free_ char *path = mk_client_kubeconfig_path(k->kubeconfig);
		if (mk_client_config_load_kubeconfig(path, k->context, &cfg, &err) < 0) {
			fprintf(stderr, "error: %s\n", err->msg);
			return 1;
		}
		if (k->token) {
			free(cfg->token);
			cfg->token = mk_strdup(k->token);
		}
		if (k->ca_file) {
			free(cfg->ca_file);
			free(cfg->ca_data);
			cfg->ca_data = NULL;
			cfg->ca_data_len = 0;
			cfg->ca_file = mk_strdup(k->ca_file);
		}
	}
	if (k->insecure)
		cfg->insecure = true;
	cfg->timeout_ms = k->request_timeout_ms;
	cfg->user_agent = mk_strdup("minik8s-kubectl/0.1.0");
	int r = mk_client_new(cfg, &k->client, &err);
	if (r < 0) {
		mk_client_config_free(cfg);
		fprintf(stderr, "error: %s\n", err->msg);
		return 1;
	}
	k->ns = mk_strdup(k->ns_flag && *k->ns_flag ? k->ns_flag
			  : cfg->namespace        ? cfg->namespace
						  : "default");
	mk_client_config_free(cfg);
	return 0;
}

int kubectl_print_error(struct kubectl *k, const struct mk_error *err)
{
	if (err->code == ECONNREFUSED && k->client) {
		const char *server = mk_client_get_config(k->client)->server;
		const char *host = strstr(server, "://");
		host = host ? host + 3 : server;
		fprintf(stderr,
			"The connection to the server %s was refused - did you specify the right host or port?\n",
			host);
	} else if (err->code >= 400) {
		fprintf(stderr, "Error from server: %s\n", err->msg);
	} else {
		fprintf(stderr, "error: %s\n", err->msg);
	}
	return 1;
}

int kubectl_do(struct kubectl *k, const char *method, const char *path, const char *accept,
	       const char *content_type, const cJSON *body, struct mk_client_response *res)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_cjson_str_ char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	struct mk_client_request req = { .method = method, .path = path, .accept = accept,
					 .content_type = content_type, .body = text };
	if (kubectl_connect(k))
		return 1;
	if (mk_client_do(k->client, &req, res, &err) < 0)
		return kubectl_print_error(k, err);
	return 0;
}

int kubectl_server_error(const struct mk_client_response *res)
{
	_cleanup_error_ struct mk_error *err = NULL;
	mk_client_response_error(res, &err);
	const char *reason = mk_client_response_reason(res);
	if (res->code == 401) {
		/* kubectl's wording for a rejected token */
		fprintf(stderr, "error: You must be logged in to the server (%s)\n", err->msg);
		return 1;
	}
	if (reason && *reason)
		fprintf(stderr, "Error from server (%s): %s\n", reason, err->msg);
	else
		fprintf(stderr, "Error from server: %s\n", err->msg);
	return 1;
}

/* ---- resources ------------------------------------------------------------------------ */

/* used when discovery is unavailable */
static const struct {
	const char *name, *singular, *kind, *group, *shorts;
	bool namespaced;
} builtin[] = {
	{ "pods", "pod", "Pod", "", "po", true },
	{ "services", "service", "Service", "", "svc", true },
	{ "endpoints", "endpoints", "Endpoints", "", "ep", true },
	{ "namespaces", "namespace", "Namespace", "", "ns", false },
	{ "nodes", "node", "Node", "", "no", false },
	{ "events", "event", "Event", "", "ev", true },
	{ "deployments", "deployment", "Deployment", "apps", "deploy", true },
	{ "replicasets", "replicaset", "ReplicaSet", "apps", "rs", true },
	{ "daemonsets", "daemonset", "DaemonSet", "apps", "ds", true },
	{ "statefulsets", "statefulset", "StatefulSet", "apps", "sts", true },
};

static cJSON *discovery_get(struct kubectl *k, const char *gv)
{
	cJSON *cached = cJSON_GetObjectItemCaseSensitive(k->discovery, gv);
	if (cached)
		return cJSON_IsObject(cached) ? cached : NULL;
	if (!k->discovery)
		k->discovery = cJSON_CreateObject();
	_cleanup_free_ char *path = strchr(gv, '/') ? mk_strdup_printf("/apis/%s", gv)
						    : mk_strdup_printf("/api/%s", gv);
	struct mk_client_response res = { 0 };
	cJSON *list = NULL;
	if (kubectl_connect(k) == 0) {
		struct mk_client_request req = { .method = "GET", .path = path };
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_do(k->client, &req, &res, &err) == 0 && res.code == 200 &&
		    cJSON_IsObject(res.json))
			list = TAKE_PTR(res.json);
		mk_client_response_release(&res);
	}
	cJSON_AddItemToObject(k->discovery, gv, list ? list : cJSON_CreateNull());
	return list;
}

static bool eq_ci(const char *a, const char *b) { return a && b && !strcasecmp(a, b); }

static bool match_resource(const cJSON *r, const char *type)
{
	const char *name = mk_json_get_string(r, "name");
	if (!name || strchr(name, '/'))
		return false; /* subresources */
	if (eq_ci(name, type) || eq_ci(mk_json_get_string(r, "singularName"), type) ||
	    eq_ci(mk_json_get_string(r, "kind"), type))
		return true;
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "shortNames"))
		if (cJSON_IsString(s) && eq_ci(s->valuestring, type))
			return true;
	return false;
}

static void fill_kres(struct kres *out, const cJSON *r, const char *gv)
{
	memset(out, 0, sizeof(*out));
	const char *slash = strchr(gv, '/');
	if (slash) {
		snprintf(out->group, sizeof(out->group), "%.*s", (int)(slash - gv), gv);
		snprintf(out->version, sizeof(out->version), "%s", slash + 1);
	} else {
		snprintf(out->version, sizeof(out->version), "%s", gv);
	}
	snprintf(out->name, sizeof(out->name), "%s", mk_json_get_string(r, "name"));
	const char *sing = mk_json_get_string(r, "singularName");
	const char *kind = mk_json_get_string(r, "kind");
	snprintf(out->kind, sizeof(out->kind), "%s", kind ? kind : "");
	if (sing && *sing) {
		snprintf(out->singular, sizeof(out->singular), "%s", sing);
	} else {
		for (size_t i = 0; out->kind[i] && i < sizeof(out->singular) - 1; i++)
			out->singular[i] = (char)tolower((unsigned char)out->kind[i]);
	}
	out->namespaced = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "namespaced"));
}

static bool find_in(struct kubectl *k, const char *gv, const char *type, struct kres *ret)
{
	const cJSON *list = discovery_get(k, gv);
	const cJSON *r;
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(list, "resources")) {
		if (match_resource(r, type)) {
			fill_kres(ret, r, gv);
			return true;
		}
	}
	return false;
}

static bool find_builtin(const char *type, const char *group, struct kres *ret)
{
	for (size_t i = 0; i < MK_ARRAY_SIZE(builtin); i++) {
		if (group && strcmp(group, builtin[i].group) != 0)
			continue;
		if (eq_ci(type, builtin[i].name) || eq_ci(type, builtin[i].singular) ||
		    eq_ci(type, builtin[i].kind) || eq_ci(type, builtin[i].shorts)) {
			memset(ret, 0, sizeof(*ret));
			snprintf(ret->name, sizeof(ret->name), "%s", builtin[i].name);
			snprintf(ret->singular, sizeof(ret->singular), "%s", builtin[i].singular);
			snprintf(ret->kind, sizeof(ret->kind), "%s", builtin[i].kind);
			snprintf(ret->group, sizeof(ret->group), "%s", builtin[i].group);
			snprintf(ret->version, sizeof(ret->version), "v1");
			ret->namespaced = builtin[i].namespaced;
			return true;
		}
	}
	return false;
}

/* every group version the server offers, core first */
static cJSON *group_versions(struct kubectl *k)
{
	cJSON *gvs = cJSON_CreateArray();
	cJSON_AddItemToArray(gvs, cJSON_CreateString("v1"));
	cJSON_AddItemToArray(gvs, cJSON_CreateString("apps/v1"));
	struct mk_client_response res = { 0 };
	if (kubectl_connect(k) == 0) {
		struct mk_client_request req = { .method = "GET", .path = "/apis" };
		_cleanup_error_ struct mk_error *err = NULL;
		if (mk_client_do(k->client, &req, &res, &err) == 0 && res.code == 200) {
			const cJSON *g;
			cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(res.json, "groups")) {
				const char *gv = mk_json_get_string(g, "preferredVersion.groupVersion");
				if (gv && strcmp(gv, "apps/v1") != 0)
					cJSON_AddItemToArray(gvs, cJSON_CreateString(gv));
			}
		}
		mk_client_response_release(&res);
	}
	return gvs;
}

int kubectl_resolve(struct kubectl *k, const char *type, struct kres *ret)
{
	char name[128], group[128] = "";
	bool has_group = false;
	const char *dot = strchr(type, '.');
	if (dot) {
		/* "deployments.apps", "deploy.apps", "pods." */
		snprintf(name, sizeof(name), "%.*s", (int)(dot - type), type);
		snprintf(group, sizeof(group), "%s", dot + 1);
		has_group = true;
	} else {
		snprintf(name, sizeof(name), "%s", type);
	}
	if (kubectl_connect(k))
		return 1;
	if (!has_group || !*group) {
		if (find_in(k, "v1", name, ret))
			return 0;
	}
	if (!has_group || !strcmp(group, "apps")) {
		if (find_in(k, "apps/v1", name, ret))
			return 0;
	}
	_cleanup_cjson_ cJSON *gvs = group_versions(k);
	const cJSON *gv;
	cJSON_ArrayForEach(gv, gvs) {
		const char *s = gv->valuestring;
		if (has_group && *group && (strncmp(s, group, strlen(group)) || s[strlen(group)] != '/'))
			continue;
		if (find_in(k, s, name, ret))
			return 0;
	}
	/* discovery failed altogether: fall back to the kinds minik8s serves */
	if (!discovery_get(k, "v1") && find_builtin(name, has_group ? group : NULL, ret))
		return 0;
	fprintf(stderr, "error: the server doesn't have a resource type \"%s\"\n", type);
	return 1;
}

int kubectl_resolve_kind(struct kubectl *k, const char *api_version, const char *kind,
			 struct kres *ret)
{
	if (kubectl_connect(k))
		return 1;
	const cJSON *list = discovery_get(k, api_version);
	const cJSON *r;
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(list, "resources")) {
		const char *name = mk_json_get_string(r, "name");
		const char *rk = mk_json_get_string(r, "kind");
		if (name && !strchr(name, '/') && rk && !strcmp(rk, kind)) {
			fill_kres(ret, r, api_version);
			return 0;
		}
	}
	if (!list) {
		const char *slash = strchr(api_version, '/');
		char group[64] = "";
		if (slash)
			snprintf(group, sizeof(group), "%.*s", (int)(slash - api_version), api_version);
		if (find_builtin(kind, group, ret) && !strcmp(ret->kind, kind))
			return 0;
	}
	fprintf(stderr,
		"error: resource mapping not found for kind \"%s\" in version \"%s\": no matches for kind \"%s\" in version \"%s\"\n",
		kind, api_version, kind, api_version);
	return 1;
}

int kubectl_expand_category(struct kubectl *k, const char *category, struct kres **ret, int *n)
{
	size_t cap = 0;

	*ret = NULL;
	*n = 0;
	if (kubectl_connect(k))
		return 1;
	_cleanup_cjson_ cJSON *gvs = group_versions(k);
	const cJSON *gv;
	cJSON_ArrayForEach(gv, gvs) {
		const cJSON *list = discovery_get(k, gv->valuestring);
		const cJSON *r;
		cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(list, "resources")) {
			const char *name = mk_json_get_string(r, "name");
			if (!name || strchr(name, '/'))
				continue;
			const cJSON *c;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(r, "categories")) {
				if (cJSON_IsString(c) && !strcmp(c->valuestring, category)) {
					MK_GROW(*ret, cap, (size_t)*n + 1);
					fill_kres(&(*ret)[(*n)++], r, gv->valuestring);
					break;
				}
			}
		}
	}
	return 0;
}

char *kres_path(const struct kres *r, const char *ns, const char *name, const char *sub,
		const char *query)
{
	struct mk_buf b;
	mk_buf_init(&b);
	if (*r->group)
		mk_buf_printf(&b, "/apis/%s/%s", r->group, r->version);
	else
		mk_buf_printf(&b, "/api/%s", r->version);
	if (r->namespaced && ns)
		mk_buf_printf(&b, "/namespaces/%s", ns);
	mk_buf_printf(&b, "/%s", r->name);
	if (name)
		mk_buf_printf(&b, "/%s", name);
	if (sub)
		mk_buf_printf(&b, "/%s", sub);
	if (query && *query)
		mk_buf_printf(&b, "?%s", query);
	return mk_buf_steal(&b);
}

const char *kres_display(const struct kres *r, char *buf, size_t size)
{
	size_t i;
	for (i = 0; r->kind[i] && i < size - 1; i++)
		buf[i] = (char)tolower((unsigned char)r->kind[i]);
	buf[i] = '\0';
	if (*r->group && i < size - 1)
		snprintf(buf + i, size - i, ".%s", r->group);
	return buf;
}

const char *kubectl_ns_for(struct kubectl *k, const struct kres *r, const char *obj_ns)
{
	if (!r->namespaced)
		return NULL;
	if (k->ns_flag && *k->ns_flag)
		return k->ns_flag;
	if (obj_ns && *obj_ns)
		return obj_ns;
	return k->ns ? k->ns : "default";
}

/* ---- entry point ------------------------------------------------------------------------ */

int cmd_kubectl(int argc, char **argv)
{
	struct kubectl k = { 0 };
	char **args = mk_malloc0(sizeof(char *) * (size_t)(argc + 1));
	memcpy(args, argv, sizeof(char *) * (size_t)argc);
	int n = argc;
	int r = parse_global(&k, &n, args);
	if (r)
		goto out;
	if (n < 2) {
		usage(stderr);
		r = 2;
		goto out;
	}
	if (!strcmp(args[1], "--help") || !strcmp(args[1], "-h") || !strcmp(args[1], "help")) {
		usage(stdout);
		r = 0;
		goto out;
	}
	/* the first non-flag argument names the subcommand; flags before it belong to it */
	int sub = -1;
	for (int i = 1; i < n; i++) {
		if (!strcmp(args[i], "--"))
			break;
		if (args[i][0] != '-') {
			sub = i;
			break;
		}
	}
	if (sub < 0) {
		r = cmd_usage_error("kubectl", "no command given");
		goto out;
	}
	const struct subcommand *sc = NULL;
	for (size_t i = 0; i < MK_ARRAY_SIZE(subcommands); i++)
		if (!strcmp(args[sub], subcommands[i].name))
			sc = &subcommands[i];
	if (!sc) {
		r = cmd_usage_error("kubectl", "unknown command \"%s\" for \"kubectl\"", args[sub]);
		goto out;
	}
	/* move the subcommand name to the front: argv[0] of the subcommand */
	char *name = args[sub];
	memmove(args + 2, args + 1, sizeof(char *) * (size_t)(sub - 1));
	args[1] = name;
	fflush(stdout);
	r = sc->fn(&k, n - 1, args + 1);
out:
	fflush(stdout);
	mk_client_free(k.client);
	free(k.ns);
	cJSON_Delete(k.discovery);
	free(args);
	return r;
}
