/* Test fixture for logs and exec end to end (tests/e2e/logs_exec.sh): an API
 * server on SQLite with a node and pods that point at a real agent streaming
 * server, whose containers are real runc containers run through pkg/runtime.
 *
 * Usage: stream_fixture DIR ROOTFS API_PORT AGENT_PORT TOKEN
 * Creates DIR/tls (CA, serving and client certificates), DIR/kubeconfig, runs
 *   pod "web"    (container "web"): prints three lines (one on stderr), sleeps
 *   pod "ticker" (container "ticker"): prints "tick N" every 200 ms
 *   pod "multi"  (containers "a", "b"): objects only, for the error message
 *   pod "nohost" : no nodeName
 * prints "READY" on stdout and runs until SIGTERM/SIGINT, then removes its
 * containers. Everything lives under DIR. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "minik8s/apiserver.h"
#include "minik8s/runtime.h"
#include "minik8s/store.h"
#include "../../pkg/agent/stream.h"

struct fixture {
	struct mk_runtime *rt;
};

static int resolve(void *ud, const char *ns, const char *pod, const char *container,
		   char **ret_current, char **ret_previous, struct mk_error **err)
{
	struct fixture *f = ud;
	struct mk_runtime_container_status st;
	_cleanup_free_ char *id = mk_strdup_printf("%s-%s", pod, container);

	if (strcmp(ns, "default") ||
	    mk_runtime_container_status_get(f->rt, id, &st, err) < 0) {
		mk_error_free(err);
		return mk_error_set(err, ENOENT, "container \"%s\" in pod \"%s\" not found on this node",
				    container, pod);
	}
	*ret_current = TAKE_PTR(id);
	*ret_previous = NULL;
	return 0;
}

/* Port-forward: the fixture's containers share the test's network namespace (the
 * node's, as for hostNetwork pods). */
static int resolve_netns(void *ud, const char *ns, const char *pod, char **ret_uid,
			 char **ret_netns, struct mk_error **err)
{
	if (strcmp(ns, "default") || (strcmp(pod, "web") && strcmp(pod, "ticker")))
		return mk_error_set(err, ENOENT, "pod \"%s\" not found on this node", pod);
	*ret_uid = mk_strdup(pod);
	*ret_netns = NULL;
	return 0;
}

static int put(struct mk_store *s, const char *res, const char *ns, const char *json,
	       struct mk_error **err)
{
	_cleanup_cjson_ cJSON *o = cJSON_Parse(json);
	if (!o)
		return mk_error_set(err, EINVAL, "bad fixture JSON: %s", json);
	return mk_store_create(s, res, ns, mk_json_get_string(o, "metadata.name"), o, NULL, NULL,
			       err);
}

static int pod_json(struct mk_store *s, const char *name, const char *containers,
		    const char *node, struct mk_error **err)
{
	char uid[37], ts[32];
	mk_uuid_v4(uid);
	mk_time_format(time(NULL), ts, sizeof(ts));
	_cleanup_free_ char *j = mk_strdup_printf(
		"{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"%s\","
		"\"namespace\":\"default\",\"uid\":\"%s\",\"creationTimestamp\":\"%s\"},"
		"\"spec\":{\"containers\":[%s]%s%s%s},\"status\":{\"phase\":\"Running\","
		"\"hostIP\":\"127.0.0.1\",\"podIP\":\"127.0.0.1\"}}",
		name, uid, ts, containers, node ? ",\"nodeName\":\"" : "", node ? node : "",
		node ? "\"" : "");
	return put(s, "pods", "default", j, err);
}

static int run_container(struct mk_runtime *rt, const char *id, const char *rootfs,
			 const char *script, struct mk_error **err)
{
	const char *args[] = { "/bin/sh", "-c", script, NULL };
	struct mk_runtime_container_spec spec = {
		.id = id,
		.rootfs = rootfs,
		.args = args,
		.hostname = id,
	};
	return mk_runtime_container_run(rt, &spec, err);
}

int main(int argc, char **argv)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *node = NULL;
	struct mk_store *store = NULL;
	struct mk_apiserver *api = NULL;
	struct mk_agent_stream *stream = NULL;
	struct fixture f = { 0 };
	int ret = 1;
	sigset_t set;

	if (argc != 6) {
		fprintf(stderr, "usage: %s DIR ROOTFS API_PORT AGENT_PORT TOKEN\n", argv[0]);
		return 2;
	}
	const char *dir = argv[1], *rootfs = argv[2], *token = argv[5];
	int api_port = atoi(argv[3]), agent_port = atoi(argv[4]);
	_cleanup_free_ char *tls = mk_strdup_printf("%s/tls", dir);
	_cleanup_free_ char *db = mk_strdup_printf("%s/state.db", dir);
	_cleanup_free_ char *rroot = mk_strdup_printf("%s/runc", dir);
	_cleanup_free_ char *rstate = mk_strdup_printf("%s/c", dir);
	_cleanup_free_ char *cgparent = mk_strdup_printf("minik8s-stream-fixture-%d", (int)getpid());
	_cleanup_free_ char *cert = mk_strdup_printf("%s/server.crt", tls);
	_cleanup_free_ char *key = mk_strdup_printf("%s/server.key", tls);
	_cleanup_free_ char *ca = mk_strdup_printf("%s/ca.crt", tls);
	_cleanup_free_ char *ccert = mk_strdup_printf("%s/apiserver-kubelet-client.crt", tls);
	_cleanup_free_ char *ckey = mk_strdup_printf("%s/apiserver-kubelet-client.key", tls);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (mk_runtime_subreaper_init(&err) < 0 || mk_runtime_reaper_start(&err) < 0)
		goto out;
	const char *ips[] = { "127.0.0.1", NULL };
	if (mk_apiserver_tls_ensure(tls, ips, NULL, &err) < 0 ||
	    mk_apiserver_tls_client_ensure(tls, "apiserver-kubelet-client", "minik8s-apiserver",
					   &err) < 0 ||
	    /* a certificate of the same CA with another name: must get 403 */
	    mk_apiserver_tls_client_ensure(tls, "other-client", "system:node:intruder", &err) < 0)
		goto out;
	struct mk_store_options so = { .path = db };
	if (mk_store_open(&so, &store, &err) < 0)
		goto out;
	struct mk_apiserver_options ao = {
		.bind_address = "127.0.0.1",
		.port = (uint16_t)api_port,
		.tls_cert_file = cert,
		.tls_key_file = key,
		.admin_token = token,
		.kubelet_client_cert_file = ccert,
		.kubelet_client_key_file = ckey,
	};
	if (mk_apiserver_start(&ao, store, &api, &err) < 0)
		goto out;

	struct mk_runtime_config rc = { .root_dir = rroot, .state_dir = rstate,
					.cgroup_parent = cgparent };
	if (mk_runtime_new(&rc, &f.rt, &err) < 0)
		goto out;
	if (run_container(f.rt, "web-web", rootfs,
			  "echo hello from web; echo to stderr >&2; echo third line; "
			  "exec sleep 100000", &err) < 0 ||
	    run_container(f.rt, "ticker-ticker", rootfs,
			  "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done", &err) < 0)
		goto out;

	struct mk_agent_stream_options sopt = {
		.bind_address = "127.0.0.1",
		.port = (uint16_t)agent_port,
		.client_ca_file = ca,
		.runtime = f.rt,
		.resolve = resolve,
		.resolve_userdata = &f,
		.resolve_netns = resolve_netns,
	};
	if (mk_agent_stream_start(&sopt, &stream, &err) < 0)
		goto out;

	node = mk_strdup_printf(
		"{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"node1\"},"
		"\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],"
		"\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":%d}}}}",
		agent_port);
	if (put(store, "nodes", "", node, &err) < 0 ||
	    pod_json(store, "web", "{\"name\":\"web\",\"image\":\"busybox\"}", "node1", &err) < 0 ||
	    pod_json(store, "ticker", "{\"name\":\"ticker\",\"image\":\"busybox\"}", "node1",
		     &err) < 0 ||
	    pod_json(store, "multi",
		     "{\"name\":\"a\",\"image\":\"busybox\"},{\"name\":\"b\",\"image\":\"busybox\"}",
		     "node1", &err) < 0 ||
	    pod_json(store, "nohost", "{\"name\":\"c\",\"image\":\"busybox\"}", NULL, &err) < 0)
		goto out;

	/* kubeconfig for kubectl and minik8s kubectl */
	{
		_cleanup_free_ char *ca_pem = NULL;
		size_t ca_len;
		if (mk_fs_read_file(ca, &ca_pem, &ca_len, &err) < 0)
			goto out;
		_cleanup_free_ char *b64 = mk_base64_encode(ca_pem, ca_len);
		_cleanup_free_ char *kc = mk_strdup_printf(
			"apiVersion: v1\nkind: Config\nclusters:\n- name: minik8s\n  cluster:\n"
			"    server: https://127.0.0.1:%d\n    certificate-authority-data: %s\n"
			"users:\n- name: admin\n  user:\n    token: %s\ncontexts:\n- name: minik8s\n"
			"  context:\n    cluster: minik8s\n    user: admin\n"
			"current-context: minik8s\n",
			api_port, b64, token);
		_cleanup_free_ char *kpath = mk_strdup_printf("%s/kubeconfig", dir);
		if (mk_fs_write_file(kpath, kc, strlen(kc), 0600, &err) < 0)
			goto out;
	}
	printf("READY\n");
	fflush(stdout);
	int sig;
	sigwait(&set, &sig);
	ret = 0;
out:
	if (err)
		fprintf(stderr, "stream_fixture: %s\n", err->msg);
	mk_apiserver_free(api);
	mk_agent_stream_stop(stream);
	if (f.rt) {
		struct mk_error *e = NULL;
		const char *ids[] = { "web-web", "ticker-ticker" };
		for (size_t i = 0; i < MK_ARRAY_SIZE(ids); i++) {
			if (mk_runtime_container_delete(f.rt, ids[i], &e) < 0)
				mk_error_free(&e);
		}
		if (mk_runtime_cgroup_parent_remove(f.rt, &e) < 0)
			mk_error_free(&e);
		mk_runtime_free(f.rt);
	}
	mk_store_free(store);
	mk_runtime_reaper_stop();
	return ret;
}
