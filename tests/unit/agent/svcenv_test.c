/* The service variables of a container (pkg/agent/svcenv.c), checked against what
 * the kubelet gives for the same Services (envvars.FromServices). */
#include <check.h>
#include <string.h>
#include "minik8s/agent.h"

struct vars {
	char buf[4096];
	int n;
};

static void collect(void *ctx, const char *name, const char *value)
{
	struct vars *v = ctx;
	size_t l = strlen(v->buf);
	snprintf(v->buf + l, sizeof(v->buf) - l, "%s=%s\n", name, value);
	v->n++;
}

static const char *KUBE = "{\"metadata\":{\"name\":\"kubernetes\",\"namespace\":\"default\"},"
			  "\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"name\":\"https\","
			  "\"port\":443,\"protocol\":\"TCP\"}]}}";

START_TEST(kubernetes_service_vars)
{
	cJSON *k = cJSON_Parse(KUBE);
	cJSON *picked = mk_agent_service_env_pick(k, NULL, true);
	struct vars v = { 0 };
	mk_agent_service_env(picked, collect, &v);
	ck_assert_str_eq(v.buf, "KUBERNETES_SERVICE_HOST=10.96.0.1\n"
				"KUBERNETES_SERVICE_PORT=443\n"
				"KUBERNETES_SERVICE_PORT_HTTPS=443\n"
				"KUBERNETES_PORT=tcp://10.96.0.1:443\n"
				"KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443\n"
				"KUBERNETES_PORT_443_TCP_PROTO=tcp\n"
				"KUBERNETES_PORT_443_TCP_PORT=443\n"
				"KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1\n");
	cJSON_Delete(picked);
	cJSON_Delete(k);
}
END_TEST

START_TEST(namespace_services_and_links)
{
	cJSON *k = cJSON_Parse(KUBE);
	cJSON *ns = cJSON_Parse(
		"[{\"metadata\":{\"name\":\"my-web\"},\"spec\":{\"clusterIP\":\"10.96.3.4\",\"ports\":"
		"[{\"port\":80},{\"name\":\"dns-udp\",\"port\":53,\"protocol\":\"UDP\"}]}},"
		"{\"metadata\":{\"name\":\"headless\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":1}]}},"
		"{\"metadata\":{\"name\":\"ext\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"x.example\"}}]");
	cJSON *picked = mk_agent_service_env_pick(k, ns, true);
	ck_assert_int_eq(cJSON_GetArraySize(picked), 2); /* kubernetes + my-web */
	struct vars v = { 0 };
	mk_agent_service_env(picked, collect, &v);
	ck_assert_ptr_nonnull(strstr(v.buf, "MY_WEB_SERVICE_HOST=10.96.3.4\n"
					    "MY_WEB_SERVICE_PORT=80\n"
					    "MY_WEB_SERVICE_PORT_DNS_UDP=53\n"
					    "MY_WEB_PORT=tcp://10.96.3.4:80\n"
					    "MY_WEB_PORT_80_TCP=tcp://10.96.3.4:80\n"
					    "MY_WEB_PORT_80_TCP_PROTO=tcp\n"
					    "MY_WEB_PORT_80_TCP_PORT=80\n"
					    "MY_WEB_PORT_80_TCP_ADDR=10.96.3.4\n"
					    "MY_WEB_PORT_53_UDP=udp://10.96.3.4:53\n"
					    "MY_WEB_PORT_53_UDP_PROTO=udp\n"
					    "MY_WEB_PORT_53_UDP_PORT=53\n"
					    "MY_WEB_PORT_53_UDP_ADDR=10.96.3.4\n"));
	ck_assert_ptr_null(strstr(v.buf, "HEADLESS"));
	ck_assert_ptr_null(strstr(v.buf, "EXT_"));
	ck_assert_int_eq(v.n, 8 + 12);
	cJSON_Delete(picked);

	/* enableServiceLinks: false keeps only the kubernetes Service */
	picked = mk_agent_service_env_pick(k, ns, false);
	ck_assert_int_eq(cJSON_GetArraySize(picked), 1);
	ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
				 cJSON_GetObjectItem(cJSON_GetArrayItem(picked, 0), "metadata"), "name")),
			 "kubernetes");
	cJSON_Delete(picked);
	cJSON_Delete(ns);
	cJSON_Delete(k);
}
END_TEST

START_TEST(own_kubernetes_service_wins)
{
	cJSON *k = cJSON_Parse(KUBE);
	cJSON *ns = cJSON_Parse("[{\"metadata\":{\"name\":\"kubernetes\"},\"spec\":{\"clusterIP\":"
				"\"10.96.9.9\",\"ports\":[{\"port\":8080}]}}]");
	cJSON *picked = mk_agent_service_env_pick(k, ns, true);
	struct vars v = { 0 };
	mk_agent_service_env(picked, collect, &v);
	ck_assert_ptr_nonnull(strstr(v.buf, "KUBERNETES_SERVICE_HOST=10.96.9.9\n"));
	ck_assert_ptr_null(strstr(v.buf, "10.96.0.1"));
	cJSON_Delete(picked);
	/* no kubernetes Service at all (deleted): nothing, no crash */
	picked = mk_agent_service_env_pick(NULL, NULL, true);
	ck_assert_int_eq(cJSON_GetArraySize(picked), 0);
	cJSON_Delete(picked);
	cJSON_Delete(ns);
	cJSON_Delete(k);
}
END_TEST

START_TEST(ipv6_cluster_ip)
{
	cJSON *s = cJSON_Parse("[{\"metadata\":{\"name\":\"v6\"},\"spec\":{\"clusterIP\":\"fd00::5\","
			       "\"ports\":[{\"port\":80,\"protocol\":\"TCP\"}]}}]");
	struct vars v = { 0 };
	mk_agent_service_env(s, collect, &v);
	ck_assert_ptr_nonnull(strstr(v.buf, "V6_PORT=tcp://[fd00::5]:80\n"));
	ck_assert_ptr_nonnull(strstr(v.buf, "V6_PORT_80_TCP_ADDR=fd00::5\n"));
	cJSON_Delete(s);
}
END_TEST

TCase *agent_svcenv_tcase(void)
{
	TCase *tc = tcase_create("svcenv");
	tcase_add_test(tc, kubernetes_service_vars);
	tcase_add_test(tc, namespace_services_and_links);
	tcase_add_test(tc, own_kubernetes_service_wins);
	tcase_add_test(tc, ipv6_cluster_ip);
	return tc;
}
