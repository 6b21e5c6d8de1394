/* The built-in kubectl: shared state and helpers of cmd/minik8s/kubectl*.c.
 * One file per subcommand (kubectl_get.c, kubectl_apply.c, ...). */
#ifndef MINIK8S_CMD_KUBECTL_H
#define MINIK8S_CMD_KUBECTL_H

#include <stdbool.h>
#include <stdio.h>
#include "minik8s/client.h"
#include "minik8s/util.h"

#define TABLE_ACCEPT \
	"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

/* global state of one kubectl invocation */
struct kubectl {
	/* global flags */
	char *kubeconfig, *context, *server, *token, *ca_file, *ns_flag;
	bool insecure;
	long request_timeout_ms;
	/* connection, made on first use */
	struct mk_client *client;
	char *ns; /* effective namespace: -n, else the context's, else "default" */
	/* discovery: APIResourceList per group version, fetched on demand */
	cJSON *discovery; /* {"v1": {...}, "apps/v1": {...}} */
	bool groups_listed;
};

/* a resolved resource type */
struct kres {
	char name[64];		/* plural, "deployments" */
	char singular[64];	/* "deployment" */
	char kind[64];		/* "Deployment" */
	char group[64];		/* "" or "apps" */
	char version[16];	/* "v1" */
	bool namespaced;
};

/* ---- flags ------------------------------------------------------------------------ */

enum kflag_type { KF_BOOL, KF_STRING, KF_INT, KF_LIST };

struct kflag {
	const char *name;	/* long name without "--" */
	char shortc;		/* 0 if none */
	enum kflag_type type;
	void *ptr;		/* bool*, char**, long*, struct kflag_list* */
	bool *set;		/* optional: set to true when given */
};

struct kflag_list {
	char **v;
	int n;
	size_t cap; /* allocated room of v (MK_GROW) */
};

struct kargs {
	char **v;		/* positional arguments (borrowed from argv) */
	int n;
	char **dash;		/* arguments after "--" */
	int ndash;
	bool has_dash;
};

/* Parses argv[1..] (argv[0] is the subcommand name) against flags; "--help"/"-h"
 * sets *help. Returns 0, or 2 after printing a usage error for command cmd
 * ("kubectl get"). Strings point into argv. */
int kflags_parse(const char *cmd, int argc, char **argv, const struct kflag *flags, bool *help,
		 struct kargs *ret);
void kargs_release(struct kargs *a);
void kflag_list_release(struct kflag_list *l);

/* ---- connection and errors -------------------------------------------------------- */

/* Connects (kubeconfig or flags). Returns 0, or prints the error and returns 1. */
int kubectl_connect(struct kubectl *k);
/* Prints a client error the way kubectl does ("The connection to the server
 * ... was refused", "error: ..."); returns 1. */
int kubectl_print_error(struct kubectl *k, const struct mk_error *err);
/* Performs a request; body may be NULL. Returns 0 when a response arrived
 * (any status), else prints the transport error and returns 1. */
int kubectl_do(struct kubectl *k, const char *method, const char *path, const char *accept,
	       const char *content_type, const cJSON *body, struct mk_client_response *res);
/* Prints "Error from server (Reason): message" for a failed response; returns 1. */
int kubectl_server_error(const struct mk_client_response *res);

/* ---- resources ---------------------------------------------------------------------- */

/* Resolves "po", "pod", "pods", "Pod", "deploy", "deployments.apps", ... via
 * discovery. Returns 0, or prints `error: the server doesn't have a resource
 * type "X"` and returns 1. */
int kubectl_resolve(struct kubectl *k, const char *type, struct kres *ret);
/* Resolves apiVersion + kind (from a manifest). Same returns. */
int kubectl_resolve_kind(struct kubectl *k, const char *api_version, const char *kind,
			 struct kres *ret);
/* Every resource in a discovery category ("all"): *ret owned (free), *n set.
 * Returns 0 or 1 (error printed). */
int kubectl_expand_category(struct kubectl *k, const char *category, struct kres **ret, int *n);
/* "/api/v1/namespaces/NS/pods/NAME/SUB?QUERY"; ns NULL = all namespaces (or
 * cluster-scoped), name/sub/query may be NULL. Owned. */
char *kres_path(const struct kres *r, const char *ns, const char *name, const char *sub,
		const char *query);
/* "deployment.apps" / "pod" into buf */
const char *kres_display(const struct kres *r, char *buf, size_t size);
/* the namespace for objects of r: NULL for cluster-scoped ones */
const char *kubectl_ns_for(struct kubectl *k, const struct kres *r, const char *obj_ns);

/* ---- output ------------------------------------------------------------------------- */

/* Go's text/tabwriter (as kubectl configures it): text with cells separated by
 * '\t' and lines by '\n'; a cell terminated by a tab is padded to its column
 * block's width (max cell + padding, at least minwidth); the last cell of a
 * line is not. remember keeps column widths across flushes (kubectl get -w). */
struct tabwriter {
	struct mk_buf buf;
	int minwidth, padding;
	bool remember;
	int widths[64];
	int nwidths;
};
void tabwriter_init(struct tabwriter *tw, int minwidth, int padding, bool remember);
void tabwriter_printf(struct tabwriter *tw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tabwriter_flush(struct tabwriter *tw, FILE *out);
void tabwriter_release(struct tabwriter *tw);

/* Prints v as Go's json.MarshalIndent(v, "", "    ") of an unstructured object
 * (sorted keys, HTML characters escaped) plus "\n". */
void kubectl_print_json(FILE *out, const cJSON *v);
/* Go's json.Marshal of an unstructured object: compact, sorted keys, HTML
 * characters escaped. Owned. */
char *kubectl_json_compact(const cJSON *v);
/* Prints v as kubectl -o yaml does. Returns 0 or 1 (error printed). */
int kubectl_print_yaml(FILE *out, const cJSON *v);
/* "a=b,c=d" for a labels object, or "<none>" */
char *kubectl_labels_string(const cJSON *labels);
/* "a=b,c=d" (--labels, --selector) as a labels object, owned; NULL when a pair has
 * no "=" or no key */
cJSON *kubectl_labels_parse(const char *s);
/* human age of an RFC 3339 timestamp ("5s", "3m", ...), "<unknown>" if absent */
void kubectl_age(const char *ts, char *buf, size_t size);
/* reads "-" (stdin) or a file, or every *.yaml|*.yml|*.json in a directory,
 * into a JSON array of objects (List kinds expanded). Returns 0 or 1 (printed). */
int kubectl_read_manifests(struct kflag_list *files, cJSON **ret);

/* ---- subcommands ---------------------------------------------------------------------- */

int kubectl_get(struct kubectl *k, int argc, char **argv);
int kubectl_create(struct kubectl *k, int argc, char **argv);
int kubectl_run(struct kubectl *k, int argc, char **argv);
int kubectl_expose(struct kubectl *k, int argc, char **argv);
int kubectl_scale(struct kubectl *k, int argc, char **argv);
int kubectl_apply(struct kubectl *k, int argc, char **argv);
int kubectl_delete(struct kubectl *k, int argc, char **argv);
int kubectl_describe(struct kubectl *k, int argc, char **argv);

/* apply/create -f: one object; create_only for `create -f`. Prints the
 * result line; returns 0 or 1 (error printed). */
int kubectl_apply_object(struct kubectl *k, cJSON *obj, bool create_only);

#endif
