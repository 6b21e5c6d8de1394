/* Tests for the pure parts of the proxy subresources (pkg/apiserver/proxy_http.c):
 * which paths are proxy paths, the [scheme:]name[:port] forms, and the Location
 * rewriting kube-apiserver's proxy transport does. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "../../../pkg/apiserver/internal.h"

START_TEST(test_match)
{
	ck_assert(mk_proxy_http_match("/api/v1/namespaces/ns/services/web:80/proxy/"));
	ck_assert(mk_proxy_http_match("/api/v1/namespaces/ns/services/web/proxy"));
	ck_assert(mk_proxy_http_match("/api/v1/namespaces/ns/pods/p/proxy/a/b/c/d/e/f/g/h"));
	ck_assert(mk_proxy_http_match("/api/v1/namespaces/ns/pods/https:p:8443/proxy/x"));
	ck_assert(!mk_proxy_http_match("/api/v1/namespaces/ns/pods/p/proxyx"));
	ck_assert(!mk_proxy_http_match("/api/v1/namespaces/ns/pods/p/log"));
	ck_assert(!mk_proxy_http_match("/api/v1/namespaces/ns/nodes/n/proxy/"));
	ck_assert(!mk_proxy_http_match("/api/v1/namespaces/ns/services//proxy/"));
	ck_assert(!mk_proxy_http_match("/api/v1/namespaces/ns/services/web"));
	ck_assert(!mk_proxy_http_match("/apis/apps/v1/namespaces/ns/services/web/proxy/"));
}
END_TEST

static void split_ok(const char *id, const char *scheme, const char *name, const char *port)
{
	char *s = NULL, *n = NULL, *p = NULL;
	ck_assert_msg(mk_proxy_http_split_id(id, &s, &n, &p), "%s", id);
	ck_assert_str_eq(s, scheme);
	ck_assert_str_eq(n, name);
	ck_assert_str_eq(p, port);
	free(s);
	free(n);
	free(p);
}

START_TEST(test_split_id)
{
	char *s, *n, *p;

	split_ok("web", "http", "web", "");
	split_ok("web:80", "http", "web", "80");
	split_ok("web:http", "http", "web", "http");
	split_ok("https:web:443", "https", "web", "443");
	split_ok("http:web:", "http", "web", "");
	ck_assert(!mk_proxy_http_split_id("ftp:web:21", &s, &n, &p));
	ck_assert(!mk_proxy_http_split_id(":80", &s, &n, &p));
	ck_assert(!mk_proxy_http_split_id("a:b:c:d", &s, &n, &p));
}
END_TEST

static void rewrite(const char *loc, const char *want)
{
	const char *prefix = "/api/v1/namespaces/ns/services/web:80/proxy";
	char *got = mk_proxy_http_rewrite_location(loc, "10.244.0.5:80", "api.example:6443", prefix);
	if (!want)
		ck_assert_msg(got == NULL, "%s -> %s", loc, got);
	else
		ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_rewrite_location)
{
	rewrite("/login", "https://api.example:6443/api/v1/namespaces/ns/services/web:80/proxy/login");
	rewrite("/sub/", "https://api.example:6443/api/v1/namespaces/ns/services/web:80/proxy/sub/");
	rewrite("http://10.244.0.5:80/x?y=1",
		"https://api.example:6443/api/v1/namespaces/ns/services/web:80/proxy/x?y=1");
	rewrite("http://api.example:6443/z",
		"https://api.example:6443/api/v1/namespaces/ns/services/web:80/proxy/z");
	/* already through the proxy: kept, on the client's host */
	rewrite("/api/v1/namespaces/ns/services/web:80/proxy/a",
		"https://api.example:6443/api/v1/namespaces/ns/services/web:80/proxy/a");
	/* another host, a relative path, a scheme-relative URL: untouched */
	rewrite("https://example.com/x", NULL);
	rewrite("next/page", NULL);
	rewrite("//example.com/x", NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("apiserver_proxy");
	TCase *tc = tcase_create("proxy_http");
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_split_id);
	tcase_add_test(tc, test_rewrite_location);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
