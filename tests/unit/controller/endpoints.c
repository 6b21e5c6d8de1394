/* The Endpoints controller: given a Service and pods, the Endpoints of the same
 * name list the matching pods that have an IP, ready ones in addresses and the
 * others in notReadyAddresses, with a named targetPort resolved per pod; pods
 * that stop matching leave; a deleted Service takes its Endpoints along. */
#include <check.h>
#include <string.h>
#include "minik8s/api.h"
#include "fixture.h"

static void pod(const char *name, const char *app)
{
	char *j = mk_strdup_printf("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\","
				   "\"labels\":{\"app\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":\"c\","
				   "\"image\":\"x\",\"ports\":[{\"name\":\"http\",\"containerPort\":8080}]}]}}",
				   name, app);
	fx_create("/api/v1/namespaces/default/pods", j);
	free(j);
}

static char *ips(const cJSON *ep, const char *field)
{
	struct mk_buf b;
	mk_buf_init(&b);
	const cJSON *s, *a;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(ep, "subsets"))
	{
		cJSON_ArrayForEach(a, cJSON_GetObjectItem(s, field))
		{
			mk_buf_printf(&b, "%s%s", b.len ? "," : "", mk_json_get_string(a, "ip"));
		}
	}
	return mk_buf_steal(&b);
}

static bool addresses_are(const cJSON *ep, const void *want)
{
	const char *const *w = want;
	if (!ep)
		return false;
	char *r = ips(ep, "addresses"), *nr = ips(ep, "notReadyAddresses");
	bool ok = !strcmp(r, w[0]) && !strcmp(nr, w[1]);
	free(r);
	free(nr);
	return ok;
}

static bool gone(const cJSON *obj, const void *unused)
{
	return obj == NULL;
}

#define EP "/api/v1/namespaces/default/endpoints/web"

START_TEST(test_endpoints_follow_pods)
{
	fx_create("/api/v1/namespaces/default/services",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},"
		  "\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":\"http\"}]}}");
	pod("a", "web");
	pod("b", "web");
	pod("other", "db");
	fx_pod_running("default", "a", "10.244.0.11", true);
	fx_pod_running("default", "b", "10.244.0.12", false);
	fx_pod_running("default", "other", "10.244.0.13", true);

	const char *want1[] = { "10.244.0.11", "10.244.0.12" };
	cJSON *ep = fx_wait(EP, addresses_are, want1, "a ready, b not ready, other absent");
	const cJSON *port = cJSON_GetArrayItem(mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(ep, "subsets"), 0), "ports"), 0);
	ck_assert_int_eq(mk_json_get(port, "port")->valueint, 8080);
	cJSON_Delete(ep);

	/* b becomes ready; a stops matching */
	fx_pod_running("default", "b", "10.244.0.12", true);
	fx_patch("/api/v1/namespaces/default/pods/a", "{\"metadata\":{\"labels\":{\"app\":\"none\"}}}");
	const char *want2[] = { "10.244.0.12", "" };
	cJSON_Delete(fx_wait(EP, addresses_are, want2, "only b, ready"));

	struct mk_error *err = NULL;
	ck_assert_int_eq(mk_client_delete(fx_cli, "/api/v1/namespaces/default/services/web", NULL, NULL, &err), 0);
	cJSON_Delete(fx_wait(EP, gone, NULL, "endpoints deleted with the service"));
}
END_TEST

/* A pod whose spec.subdomain is the service's name is listed with its
 * spec.hostname (what per-pod DNS names such as web-0.nginx come from), in the
 * Endpoints and in the EndpointSlice; another service selecting it does not. */
static bool hostname_listed(const cJSON *ep, const void *want)
{
	const cJSON *a = cJSON_GetArrayItem(mk_json_get(cJSON_GetArrayItem(cJSON_GetObjectItem(ep, "subsets"), 0),
							"addresses"), 0);
	const char *hn = mk_json_get_string(a, "hostname");
	return a && (want ? hn && !strcmp(hn, want) : hn == NULL);
}

static bool slice_hostname(const cJSON *list, const void *want)
{
	const cJSON *sl = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
	const char *hn = mk_json_get_string(cJSON_GetArrayItem(cJSON_GetObjectItem(sl, "endpoints"), 0), "hostname");
	return hn && !strcmp(hn, want);
}

START_TEST(test_endpoints_hostname)
{
	fx_create("/api/v1/namespaces/default/services",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"nginx\"},"
		  "\"spec\":{\"clusterIP\":\"None\",\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}");
	fx_create("/api/v1/namespaces/default/services",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"other\"},"
		  "\"spec\":{\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80}]}}");
	fx_create("/api/v1/namespaces/default/pods",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"web-0\","
		  "\"labels\":{\"app\":\"web\"}},\"spec\":{\"hostname\":\"web-0\",\"subdomain\":\"nginx\","
		  "\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}");
	fx_pod_running("default", "web-0", "10.244.0.7", true);
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/endpoints/nginx", hostname_listed, "web-0",
			     "hostname web-0 in the headless service's endpoints"));
	cJSON_Delete(fx_wait("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector="
			     "kubernetes.io%2Fservice-name%3Dnginx",
			     slice_hostname, "web-0", "hostname web-0 in the slice"));
	cJSON_Delete(fx_wait("/api/v1/namespaces/default/endpoints/other", hostname_listed, NULL,
			     "no hostname under another service"));
}
END_TEST

/* publishNotReadyAddresses: a not-ready pod is listed as ready, in the Endpoints
 * (addresses, which the proxy balances to) and in the slice (ready condition,
 * which DNS and kube-proxy read) */
static bool slice_ready(const cJSON *list, const void *want)
{
	const cJSON *sl = cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0);
	const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(sl, "endpoints"), 0);
	return e && cJSON_IsTrue(mk_json_get(e, "conditions.ready")) &&
	       !strcmp(mk_json_get_string(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "addresses"), 0), ""), want);
}

START_TEST(test_endpoints_publish_not_ready)
{
	fx_create("/api/v1/namespaces/default/services",
		  "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"web\"},"
		  "\"spec\":{\"publishNotReadyAddresses\":true,\"selector\":{\"app\":\"web\"},"
		  "\"ports\":[{\"port\":80,\"targetPort\":8080}]}}");
	pod("a", "web");
	fx_pod_running("default", "a", "10.244.0.21", false);
	const char *want[] = { "10.244.0.21", "" };
	cJSON_Delete(fx_wait(EP, addresses_are, want, "the not-ready pod in addresses"));
	cJSON_Delete(fx_wait("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector="
			     "kubernetes.io%2Fservice-name%3Dweb",
			     slice_ready, "10.244.0.21", "the not-ready pod ready in the slice"));
	/* without it, the same pod is not ready */
	fx_patch("/api/v1/namespaces/default/services/web", "{\"spec\":{\"publishNotReadyAddresses\":false}}");
	const char *want2[] = { "", "10.244.0.21" };
	cJSON_Delete(fx_wait(EP, addresses_are, want2, "not ready once the service stops publishing"));
}
END_TEST

Suite *endpoints_suite(void)
{
	Suite *s = suite_create("endpoints");
	TCase *tc = tcase_create("endpoints");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fx_setup_controllers, fx_teardown);
	tcase_add_test(tc, test_endpoints_follow_pods);
	tcase_add_test(tc, test_endpoints_hostname);
	tcase_add_test(tc, test_endpoints_publish_not_ready);
	suite_add_tcase(s, tc);
	return s;
}
