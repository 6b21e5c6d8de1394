/* Tests for pkg/api/patch.c: RFC 7386 (appendix A), RFC 6902 (appendix A) and
 * Kubernetes strategic merge patch as kubectl apply / kubectl patch send it. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "minik8s/api.h"

/* JSON with single quotes for readability: 'a' -> "a" (no test text needs a '). */
static cJSON *J(const char *s)
{
	char *d = mk_strdup(s);
	for (char *c = d; *c; c++)
		if (*c == '\'')
			*c = '"';
	cJSON *j = cJSON_Parse(d);
	ck_assert_msg(j != NULL, "test JSON does not parse: %s", d);
	free(d);
	return j;
}

/* Deep equality: object member order ignored, array order significant. */
static bool same(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	if ((a->type & 0xFF) != (b->type & 0xFF))
		return false;
	if (cJSON_IsNumber(a))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsArray(a)) {
		const cJSON *x = a->child, *y = b->child;
		for (; x && y; x = x->next, y = y->next)
			if (!same(x, y))
				return false;
		return !x && !y;
	}
	if (cJSON_IsObject(a)) {
		const cJSON *x;
		if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
			return false;
		cJSON_ArrayForEach(x, a)
		{
			if (!same(x, cJSON_GetObjectItemCaseSensitive(b, x->string)))
				return false;
		}
		return true;
	}
	return true;
}

#define assert_json(got, want_text)                                                         \
	do {                                                                                \
		cJSON *w_ = J(want_text);                                                   \
		char *g_ = cJSON_PrintUnformatted(got), *ws_ = cJSON_PrintUnformatted(w_);   \
		ck_assert_msg(same(got, w_), "got %s\nwant %s", g_, ws_);                  \
		cJSON_free(g_);                                                             \
		cJSON_free(ws_);                                                            \
		cJSON_Delete(w_);                                                           \
	} while (0)

/* kubectl 1.32 apply of an image change (kubectl-1.32-traces.txt, EXPERIMENT ap8):
 * the stored Deployment and the PATCH body kubectl sent. */
static const char ap8_object[] =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":"
	"{\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":\\"
	"\"apps/v1\\\",\\\"kind\\\":\\\"Deployment\\\",\\\"metadata\\\":{\\\"annotations\\\":{},\\\""
	"labels\\\":{\\\"app\\\":\\\"web\\\"},\\\"name\\\":\\\"web\\\",\\\"namespace\\\":\\\"myns\\\"},\\\""
	"spec\\\":{\\\"replicas\\\":4,\\\"selector\\\":{\\\"matchLabels\\\":{\\\"app\\\":\\\"web\\\"}"
	"},\\\"template\\\":{\\\"metadata\\\":{\\\"labels\\\":{\\\"app\\\":\\\"web\\\"}},\\\"spec\\\":{"
	"\\\"containers\\\":[{\\\"image\\\":\\\"nginx:1.25\\\",\\\"name\\\":\\\"web\\\",\\\"ports\\\":["
	"{\\\"containerPort\\\":80}]}]}}}}\\n\"},\"labels\":{\"app\":\"web\"},\"name\":\"web\","
	"\"namespace\":\"myns\",\"uid\":\"1b981979-98f4-49ce-9c19-037150419923\",\"resou"
	"rceVersion\":\"1017\",\"creationTimestamp\":\"2026-11-26T07:18:04Z\",\"generat"
	"ion\":1},\"spec\":{\"replicas\":4,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	"\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":["
	"{\"image\":\"nginx:1.25\",\"name\":\"web\",\"ports\":[{\"containerPort\":80}]}]}}}"
	",\"status\":{\"replicas\":4,\"readyReplicas\":2,\"availableReplicas\":2,\"updat"
	"edReplicas\":2,\"observedGeneration\":1}}";

static const char ap8_patch[] =
	"{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-config"
	"uration\":\"{\\\"apiVersion\\\":\\\"apps/v1\\\",\\\"kind\\\":\\\"Deployment\\\",\\\"metada"
	"ta\\\":{\\\"annotations\\\":{},\\\"labels\\\":{\\\"app\\\":\\\"web\\\"},\\\"name\\\":\\\"web\\\""
	",\\\"namespace\\\":\\\"myns\\\"},\\\"spec\\\":{\\\"replicas\\\":4,\\\"selector\\\":{\\\"matc"
	"hLabels\\\":{\\\"app\\\":\\\"web\\\"}},\\\"template\\\":{\\\"metadata\\\":{\\\"labels\\\":{\\"
	"\"app\\\":\\\"web\\\"}},\\\"spec\\\":{\\\"containers\\\":[{\\\"image\\\":\\\"nginx:1.26\\\",\\"
	"\"name\\\":\\\"web\\\",\\\"ports\\\":[{\\\"containerPort\\\":80}]}]}}}}\\n\"}},\"spec\":{"
	"\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"web\"}],\"co"
	"ntainers\":[{\"image\":\"nginx:1.26\",\"name\":\"web\"}]}}}}";

/* ---- RFC 7386 ---------------------------------------------------------------- */

static const struct {
	const char *target, *patch, *result;
} merge_cases[] = {
	/* RFC 7386 appendix A */
	{ "{'a':'b'}", "{'a':'c'}", "{'a':'c'}" },
	{ "{'a':'b'}", "{'b':'c'}", "{'a':'b','b':'c'}" },
	{ "{'a':'b'}", "{'a':null}", "{}" },
	{ "{'a':'b','b':'c'}", "{'a':null}", "{'b':'c'}" },
	{ "{'a':['b']}", "{'a':'c'}", "{'a':'c'}" },
	{ "{'a':'c'}", "{'a':['b']}", "{'a':['b']}" },
	{ "{'a':{'b':'c'}}", "{'a':{'b':'d','c':null}}", "{'a':{'b':'d'}}" },
	{ "{'a':[{'b':'c'}]}", "{'a':[1]}", "{'a':[1]}" },
	{ "['a','b']", "['c','d']", "['c','d']" },
	{ "{'a':'b'}", "['c']", "['c']" },
	{ "{'a':'foo'}", "null", "null" },
	{ "{'a':'foo'}", "'bar'", "'bar'" },
	{ "{'e':null}", "{'a':1}", "{'e':null,'a':1}" },
	{ "[1,2]", "{'a':'b','c':null}", "{'a':'b'}" },
	{ "{}", "{'a':{'bb':{'ccc':null}}}", "{'a':{'bb':{}}}" },
	/* RFC 7386 section 3 */
	{ "{'title':'Goodbye!','author':{'givenName':'John','familyName':'Doe'},"
	  "'tags':['example','sample'],'content':'This will be unchanged'}",
	  "{'title':'Hello!','phoneNumber':'+01-123-456-7890','author':{'familyName':null},"
	  "'tags':['example']}",
	  "{'title':'Hello!','author':{'givenName':'John'},'tags':['example'],"
	  "'content':'This will be unchanged','phoneNumber':'+01-123-456-7890'}" },
	/* a patch on a missing key's absent parent, deletion of an absent key */
	{ "{'x':1}", "{'y':{'z':null,'w':{'v':2}},'q':null}", "{'x':1,'y':{'w':{'v':2}}}" },
	/* a kubectl scale-like merge patch on a Deployment */
	{ "{'spec':{'replicas':1,'template':{'spec':{'containers':[{'name':'a','image':'x'}]}}}}",
	  "{'spec':{'replicas':3}}",
	  "{'spec':{'replicas':3,'template':{'spec':{'containers':[{'name':'a','image':'x'}]}}}}" },
};

START_TEST(test_merge_cases)
{
	cJSON *t = J(merge_cases[_i].target), *p = J(merge_cases[_i].patch);
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_api_patch_merge(&t, p, &err), 0);
	ck_assert_ptr_null(err);
	assert_json(t, merge_cases[_i].result);
	cJSON_Delete(t);
	cJSON_Delete(p);
}
END_TEST

START_TEST(test_merge_keeps_member_order)
{
	cJSON *t = J("{'a':1,'b':{'c':2},'d':3}"), *p = J("{'b':{'c':5},'a':0}");
	ck_assert_int_eq(mk_api_patch_merge(&t, p, NULL), 0);
	char *s = cJSON_PrintUnformatted(t);
	ck_assert_str_eq(s, "{\"a\":0,\"b\":{\"c\":5},\"d\":3}");
	cJSON_free(s);
	cJSON_Delete(t);
	cJSON_Delete(p);
}
END_TEST

/* ---- RFC 6902 ---------------------------------------------------------------- */

static const struct {
	const char *doc, *patch, *result; /* result NULL: the patch must fail */
} json_cases[] = {
	/* RFC 6902 appendix A.1 - A.16 */
	{ "{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux'}]",
	  "{'baz':'qux','foo':'bar'}" },
	{ "{'foo':['bar','baz']}", "[{'op':'add','path':'/foo/1','value':'qux'}]",
	  "{'foo':['bar','qux','baz']}" },
	{ "{'baz':'qux','foo':'bar'}", "[{'op':'remove','path':'/baz'}]", "{'foo':'bar'}" },
	{ "{'foo':['bar','qux','baz']}", "[{'op':'remove','path':'/foo/1'}]",
	  "{'foo':['bar','baz']}" },
	{ "{'baz':'qux','foo':'bar'}", "[{'op':'replace','path':'/baz','value':'boo'}]",
	  "{'baz':'boo','foo':'bar'}" },
	{ "{'foo':{'bar':'baz','waldo':'fred'},'qux':{'corge':'grault'}}",
	  "[{'op':'move','from':'/foo/waldo','path':'/qux/thud'}]",
	  "{'foo':{'bar':'baz'},'qux':{'corge':'grault','thud':'fred'}}" },
	{ "{'foo':['all','grass','cows','eat']}", "[{'op':'move','from':'/foo/1','path':'/foo/3'}]",
	  "{'foo':['all','cows','eat','grass']}" },
	{ "{'baz':'qux','foo':['a',2,'c']}",
	  "[{'op':'test','path':'/baz','value':'qux'},{'op':'test','path':'/foo/1','value':2}]",
	  "{'baz':'qux','foo':['a',2,'c']}" },
	{ "{'baz':'qux'}", "[{'op':'test','path':'/baz','value':'bar'}]", NULL },
	{ "{'foo':'bar'}", "[{'op':'add','path':'/child','value':{'grandchild':{}}}]",
	  "{'foo':'bar','child':{'grandchild':{}}}" },
	{ "{'foo':'bar'}", "[{'op':'add','path':'/baz','value':'qux','xyz':123}]",
	  "{'foo':'bar','baz':'qux'}" },
	{ "{'foo':'bar'}", "[{'op':'add','path':'/baz/bat','value':'qux'}]", NULL },
	{ "{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':10}]", "{'/':9,'~1':10}" },
	{ "{'/':9,'~1':10}", "[{'op':'test','path':'/~01','value':'10'}]", NULL },
	{ "{'foo':['bar']}", "[{'op':'add','path':'/foo/-','value':['abc','def']}]",
	  "{'foo':['bar',['abc','def']]}" },
	/* more of section 4 */
	{ "{'a':1}", "[{'op':'copy','from':'/a','path':'/b'}]", "{'a':1,'b':1}" },
	{ "{'a':{'x':[1]}}", "[{'op':'copy','from':'/a','path':'/b'},"
	  "{'op':'add','path':'/b/x/0','value':0}]", "{'a':{'x':[1]},'b':{'x':[0,1]}}" },
	{ "{'a':1}", "[{'op':'copy','from':'/nope','path':'/b'}]", NULL },
	{ "{'a':1}", "[{'op':'remove','path':'/b'}]", NULL },
	{ "{'a':1}", "[{'op':'replace','path':'/b','value':2}]", NULL },
	{ "{'a':1}", "[{'op':'replace','path':'','value':[1]}]", "[1]" },
	{ "{'a':1}", "[{'op':'add','path':'','value':{'b':2}}]", "{'b':2}" },
	{ "{'a':1}", "[{'op':'add','path':'/a','value':null}]", "{'a':null}" },
	{ "{'a':1}", "[{'op':'test','path':'','value':{'a':1.0}}]", "{'a':1}" },
	{ "{'a':{'b':1,'c':[1,{'d':null}]}}",
	  "[{'op':'test','path':'/a','value':{'c':[1,{'d':null}],'b':1}}]",
	  "{'a':{'b':1,'c':[1,{'d':null}]}}" },
	{ "{'a':[1,2]}", "[{'op':'test','path':'/a','value':[2,1]}]", NULL },
	{ "{'a':[1,2]}", "[{'op':'add','path':'/a/2','value':3}]", "{'a':[1,2,3]}" },
	{ "{'a':[1,2]}", "[{'op':'add','path':'/a/3','value':3}]", NULL },
	{ "{'a':[1,2]}", "[{'op':'add','path':'/a/01','value':3}]", NULL },
	{ "{'a':[1,2]}", "[{'op':'remove','path':'/a/-'}]", NULL },
	{ "{'a':[1,2]}", "[{'op':'remove','path':'/a/2'}]", NULL },
	{ "{'a':{'b':{}}}", "[{'op':'move','from':'/a','path':'/a/b/c'}]", NULL },
	{ "{'a':1}", "[{'op':'move','from':'/a','path':'/a'}]", "{'a':1}" },
	{ "{'a':1}", "[{'op':'frobnicate','path':'/a'}]", NULL },
	{ "{'a':1}", "[{'op':'add','path':'/b'}]", NULL },
	{ "{'a':1}", "[{'op':'add','value':1}]", NULL },
	{ "{'a':1}", "[{'op':'move','path':'/b'}]", NULL },
	{ "{'a':1}", "[{'op':'add','path':'a','value':1}]", NULL },
	{ "{'a':1}", "[{'op':'add','path':'/~2','value':1}]", NULL },
	{ "{'a':1}", "[{'op':'add','path':'/a/b','value':1}]", NULL },
	{ "{'a':1}", "{'op':'add','path':'/b','value':1}", NULL },
	{ "{'a':1}", "[]", "{'a':1}" },
	{ "{'a/b':{'m~n':1}}", "[{'op':'replace','path':'/a~1b/m~0n','value':2}]",
	  "{'a/b':{'m~n':2}}" },
	/* kubectl patch --type=json on a Deployment */
	{ "{'spec':{'replicas':1,'template':{'spec':{'containers':[{'name':'a','image':'x:1'}]}}}}",
	  "[{'op':'replace','path':'/spec/template/spec/containers/0/image','value':'x:2'},"
	  "{'op':'add','path':'/spec/template/spec/containers/-','value':{'name':'b','image':'y'}}]",
	  "{'spec':{'replicas':1,'template':{'spec':{'containers':[{'name':'a','image':'x:2'},"
	  "{'name':'b','image':'y'}]}}}}" },
};

START_TEST(test_json_cases)
{
	cJSON *t = J(json_cases[_i].doc), *p = J(json_cases[_i].patch);
	cJSON *orig = cJSON_Duplicate(t, true);
	struct mk_error *err = NULL;
	int r = mk_api_patch_json(&t, p, &err);

	if (json_cases[_i].result) {
		ck_assert_msg(r == 0, "case %d failed: %s", _i, err ? err->msg : "?");
		assert_json(t, json_cases[_i].result);
	} else {
		ck_assert_int_lt(r, 0);
		ck_assert_ptr_nonnull(err);
		ck_assert_int_eq(err->code, EINVAL);
		ck_assert_ptr_nonnull(strstr(err->msg, "json patch"));
		/* the target is left as it was */
		ck_assert(same(t, orig));
	}
	mk_error_free(&err);
	cJSON_Delete(orig);
	cJSON_Delete(t);
	cJSON_Delete(p);
}
END_TEST

START_TEST(test_json_failed_test_leaves_target)
{
	cJSON *t = J("{'metadata':{'name':'a','labels':{'x':'1'}},'spec':{'replicas':2}}");
	cJSON *before = t;
	cJSON *p = J("[{'op':'replace','path':'/spec/replicas','value':5},"
		     "{'op':'remove','path':'/metadata/labels/x'},"
		     "{'op':'test','path':'/metadata/name','value':'b'}]");
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_api_patch_json(&t, p, &err), -1);
	ck_assert_ptr_eq(t, before);
	assert_json(t, "{'metadata':{'name':'a','labels':{'x':'1'}},'spec':{'replicas':2}}");
	ck_assert_int_eq(err->code, EINVAL);
	/* says which operation failed */
	ck_assert_msg(strstr(err->msg, "operation 2") && strstr(err->msg, "test") &&
			      strstr(err->msg, "/metadata/name"),
		      "message: %s", err->msg);
	mk_error_free(&err);
	cJSON_Delete(t);
	cJSON_Delete(p);
}
END_TEST

/* ---- strategic merge patch ------------------------------------------------ */

static const struct mk_api_resource r_deploy = { .name = "deployments", .kind = "Deployment",
						  .group = "apps", .version = "v1" };
static const struct mk_api_resource r_pod = { .name = "pods", .kind = "Pod", .version = "v1" };
static const struct mk_api_resource r_svc = { .name = "services", .kind = "Service",
					       .version = "v1" };
static const struct mk_api_resource r_node = { .name = "nodes", .kind = "Node", .version = "v1" };

/* Applies patch to target with kind r and compares with want (NULL: must fail with
 * EINVAL and leave target unchanged). */
static void smp_check(const struct mk_api_resource *r, const char *target, const char *patch,
		      const char *want)
{
	cJSON *t = J(target), *p = J(patch), *orig = cJSON_Duplicate(t, true);
	struct mk_error *err = NULL;
	int rc = mk_api_patch_strategic(r, &t, p, &err);

	if (want) {
		ck_assert_msg(rc == 0, "patch failed: %s", err ? err->msg : "?");
		assert_json(t, want);
	} else {
		ck_assert_int_lt(rc, 0);
		ck_assert_ptr_nonnull(err);
		ck_assert_int_eq(err->code, EINVAL);
		ck_assert(same(t, orig));
	}
	mk_error_free(&err);
	cJSON_Delete(orig);
	cJSON_Delete(t);
	cJSON_Delete(p);
}

START_TEST(test_smp_kubectl_apply_image_change)
{
	cJSON *t = cJSON_Parse(ap8_object), *p = cJSON_Parse(ap8_patch);
	struct mk_error *err = NULL;

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(mk_api_patch_strategic(&r_deploy, &t, p, &err), 0);
	/* the container keeps its ports, only the image changes */
	assert_json(mk_json_get(t, "spec.template.spec.containers"),
		    "[{'image':'nginx:1.26','name':'web','ports':[{'containerPort':80}]}]");
	/* the last-applied annotation is the new one */
	const cJSON *ann = mk_json_get(t, "metadata.annotations");
	const char *la = cJSON_GetObjectItemCaseSensitive(ann, "kubectl.kubernetes.io/"
							  "last-applied-configuration")
				 ->valuestring;
	ck_assert_ptr_nonnull(strstr(la, "nginx:1.26"));
	ck_assert_ptr_null(strstr(la, "nginx:1.25"));
	/* nothing else moved, no directive leaked into the object */
	ck_assert_str_eq(mk_json_get_string(t, "metadata.uid"), "1b981979-98f4-49ce-9c19-037150419923");
	ck_assert_int_eq(mk_json_get(t, "spec.replicas")->valueint, 4);
	ck_assert_int_eq(mk_json_get(t, "status.readyReplicas")->valueint, 2);
	ck_assert_ptr_null(mk_json_get(t, "spec.template.spec.$setElementOrder/containers"));
	mk_error_free(&err);
	cJSON_Delete(t);
	cJSON_Delete(p);
}
END_TEST

START_TEST(test_smp_image_change_keeps_env_and_mounts)
{
	smp_check(&r_deploy,
		  "{'kind':'Deployment','spec':{'replicas':2,'template':{'metadata':{'labels':{'app':'w'}},"
		  "'spec':{'containers':[{'name':'web','image':'nginx:1','ports':[{'containerPort':80,"
		  "'protocol':'TCP'}],'env':[{'name':'A','value':'1'}],'volumeMounts':[{'name':'d',"
		  "'mountPath':'/d'}]},{'name':'side','image':'busybox'}]}}}}",
		  "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'web'},"
		  "{'name':'side'}],'containers':[{'image':'nginx:2','name':'web'}]}}}}",
		  "{'kind':'Deployment','spec':{'replicas':2,'template':{'metadata':{'labels':{'app':'w'}},"
		  "'spec':{'containers':[{'name':'web','image':'nginx:2','ports':[{'containerPort':80,"
		  "'protocol':'TCP'}],'env':[{'name':'A','value':'1'}],'volumeMounts':[{'name':'d',"
		  "'mountPath':'/d'}]},{'name':'side','image':'busybox'}]}}}}");
}
END_TEST

START_TEST(test_smp_annotations_merge)
{
	/* kubectl apply updates last-applied; other annotations and labels stay */
	smp_check(&r_deploy,
		  "{'metadata':{'name':'w','annotations':{'kubectl.kubernetes.io/last-applied-configuration':"
		  "'old','deployment.kubernetes.io/revision':'1'},'labels':{'app':'w'}}}",
		  "{'metadata':{'annotations':{'kubectl.kubernetes.io/last-applied-configuration':'new'},"
		  "'labels':{'tier':'web'}}}",
		  "{'metadata':{'name':'w','annotations':{'kubectl.kubernetes.io/last-applied-configuration':"
		  "'new','deployment.kubernetes.io/revision':'1'},'labels':{'app':'w','tier':'web'}}}");
}
END_TEST

START_TEST(test_smp_env_merge_by_name)
{
	smp_check(&r_pod,
		  "{'spec':{'containers':[{'name':'c','env':[{'name':'A','value':'1'},"
		  "{'name':'B','value':'2'}]}]}}",
		  "{'spec':{'containers':[{'name':'c','env':[{'name':'B','value':'3'},"
		  "{'name':'C','value':'4'}]}]}}",
		  "{'spec':{'containers':[{'name':'c','env':[{'name':'A','value':'1'},"
		  "{'name':'B','value':'3'},{'name':'C','value':'4'}]}]}}");
}
END_TEST

START_TEST(test_smp_ports_context)
{
	/* under a container, ports merge by containerPort (a "port" key would make the
	 * patch item lack its merge key) */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'c','ports':[{'containerPort':80}]}]}}",
		  "{'spec':{'containers':[{'name':'c','ports':[{'containerPort':443,'name':'tls'},"
		  "{'containerPort':80,'name':'http'}]}]}}",
		  "{'spec':{'containers':[{'name':'c','ports':[{'containerPort':443,'name':'tls'},"
		  "{'containerPort':80,'name':'http'}]}]}}");
	/* under a Service spec, by port */
	smp_check(&r_svc,
		  "{'spec':{'type':'ClusterIP','clusterIP':'10.96.0.5','ports':[{'port':80,'targetPort':80,"
		  "'protocol':'TCP'},{'port':443,'targetPort':8443,'protocol':'TCP'}]}}",
		  "{'spec':{'ports':[{'port':80,'targetPort':8080}]}}",
		  "{'spec':{'type':'ClusterIP','clusterIP':'10.96.0.5','ports':[{'port':80,"
		  "'targetPort':8080,'protocol':'TCP'},{'port':443,'targetPort':8443,'protocol':'TCP'}]}}");
	/* a service port without "port" lacks the merge key */
	smp_check(&r_svc, "{'spec':{'ports':[{'port':80}]}}",
		  "{'spec':{'ports':[{'containerPort':80}]}}", NULL);
}
END_TEST

START_TEST(test_smp_add_and_delete_items)
{
	/* a new container is appended, with directives stripped from it */
	smp_check(&r_deploy,
		  "{'spec':{'template':{'spec':{'containers':[{'name':'a','image':'x'}]}}}}",
		  "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'a'},{'name':'b'}],"
		  "'containers':[{'name':'b','image':'y','$setElementOrder/env':[{'name':'E'}],"
		  "'env':[{'name':'E','value':'v'}],'args':null}]}}}}",
		  "{'spec':{'template':{'spec':{'containers':[{'name':'a','image':'x'},"
		  "{'name':'b','image':'y','env':[{'name':'E','value':'v'}]}]}}}}");
	/* kubectl apply removing a container from the manifest */
	smp_check(&r_deploy,
		  "{'spec':{'template':{'spec':{'containers':[{'name':'a','image':'x'},"
		  "{'name':'b','image':'y'}]}}}}",
		  "{'spec':{'template':{'spec':{'$setElementOrder/containers':[{'name':'a'}],"
		  "'containers':[{'$patch':'delete','name':'b'}]}}}}",
		  "{'spec':{'template':{'spec':{'containers':[{'name':'a','image':'x'}]}}}}");
	/* delete without the merge key is an error */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'}]}}",
		  "{'spec':{'containers':[{'$patch':'delete','image':'b'}]}}", NULL);
	/* an item without the merge key is an error */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'}]}}",
		  "{'spec':{'containers':[{'image':'b'}]}}", NULL);
}
END_TEST

START_TEST(test_smp_set_element_order)
{
	/* the patch's order wins for the items it lists */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'},{'name':'b'},{'name':'c'}]}}",
		  "{'spec':{'$setElementOrder/containers':[{'name':'c'},{'name':'a'},{'name':'b'}]}}",
		  "{'spec':{'containers':[{'name':'c'},{'name':'a'},{'name':'b'}]}}");
	/* a server-only item keeps its place relative to the original order */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'},{'name':'s'},{'name':'b'}]}}",
		  "{'spec':{'$setElementOrder/containers':[{'name':'b'},{'name':'a'}]}}",
		  "{'spec':{'containers':[{'name':'s'},{'name':'b'},{'name':'a'}]}}");
	/* a new item goes where the order says */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'},{'name':'c'}]}}",
		  "{'spec':{'$setElementOrder/containers':[{'name':'a'},{'name':'b'},{'name':'c'}],"
		  "'containers':[{'name':'b','image':'i'}]}}",
		  "{'spec':{'containers':[{'name':'a'},{'name':'b','image':'i'},{'name':'c'}]}}");
	/* an item missing from the order list is rejected */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'}]}}",
		  "{'spec':{'$setElementOrder/containers':[{'name':'a'}],"
		  "'containers':[{'name':'z','image':'i'}]}}",
		  NULL);
	/* primitive lists too */
	smp_check(&r_pod, "{'metadata':{'finalizers':['x','y']}}",
		  "{'metadata':{'$setElementOrder/finalizers':['y','z','x'],'finalizers':['z']}}",
		  "{'metadata':{'finalizers':['y','z','x']}}");
}
END_TEST

START_TEST(test_smp_replace_directive)
{
	/* on a map */
	smp_check(&r_pod, "{'metadata':{'labels':{'a':'1','b':'2'}}}",
		  "{'metadata':{'labels':{'$patch':'replace','c':'3'}}}",
		  "{'metadata':{'labels':{'c':'3'}}}");
	/* on a list: the remaining items are the list */
	smp_check(&r_pod,
		  "{'spec':{'containers':[{'name':'a','image':'x','ports':[{'containerPort':1}]},"
		  "{'name':'b'}]}}",
		  "{'spec':{'containers':[{'name':'a','image':'y'},{'$patch':'replace'}]}}",
		  "{'spec':{'containers':[{'name':'a','image':'y'}]}}");
	/* $patch: delete on a map empties it */
	smp_check(&r_pod, "{'metadata':{'labels':{'a':'1'}},'spec':{'x':1}}",
		  "{'metadata':{'labels':{'$patch':'delete'}}}",
		  "{'metadata':{'labels':{}},'spec':{'x':1}}");
	/* $patch: merge is the default */
	smp_check(&r_pod, "{'metadata':{'labels':{'a':'1'}}}",
		  "{'metadata':{'labels':{'$patch':'merge','b':'2'}}}",
		  "{'metadata':{'labels':{'a':'1','b':'2'}}}");
	/* anything else is an error */
	smp_check(&r_pod, "{'metadata':{'labels':{'a':'1'}}}",
		  "{'metadata':{'labels':{'$patch':'frob'}}}", NULL);
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'}]}}",
		  "{'spec':{'containers':[{'$patch':'frob','name':'a'}]}}", NULL);
}
END_TEST

START_TEST(test_smp_primitive_lists)
{
	/* finalizers merge as a set */
	smp_check(&r_pod, "{'metadata':{'finalizers':['a','b']}}",
		  "{'metadata':{'finalizers':['b','c']}}",
		  "{'metadata':{'finalizers':['a','b','c']}}");
	/* and lose values through $deleteFromPrimitiveList */
	smp_check(&r_pod, "{'metadata':{'finalizers':['a','b','c']}}",
		  "{'metadata':{'$deleteFromPrimitiveList/finalizers':['b','z']}}",
		  "{'metadata':{'finalizers':['a','c']}}");
	smp_check(&r_pod, "{'metadata':{'name':'p'}}",
		  "{'metadata':{'$deleteFromPrimitiveList/finalizers':['b']}}",
		  "{'metadata':{'name':'p'}}");
	/* lists without a merge strategy are replaced */
	smp_check(&r_pod,
		  "{'spec':{'containers':[{'name':'c','command':['sh','-c'],'args':['a','b']}],"
		  "'tolerations':[{'key':'k','operator':'Exists'}]}}",
		  "{'spec':{'containers':[{'name':'c','args':['z']}],"
		  "'tolerations':[{'key':'j','operator':'Exists'}]}}",
		  "{'spec':{'containers':[{'name':'c','command':['sh','-c'],'args':['z']}],"
		  "'tolerations':[{'key':'j','operator':'Exists'}]}}");
	/* node podCIDRs merge */
	smp_check(&r_node, "{'spec':{'podCIDRs':['10.244.0.0/24']}}",
		  "{'spec':{'podCIDRs':['10.244.0.0/24','fd00::/64']}}",
		  "{'spec':{'podCIDRs':['10.244.0.0/24','fd00::/64']}}");
	/* an empty list patch leaves a merging list alone (as Kubernetes does) */
	smp_check(&r_pod, "{'metadata':{'finalizers':['a']}}", "{'metadata':{'finalizers':[]}}",
		  "{'metadata':{'finalizers':['a']}}");
}
END_TEST

START_TEST(test_smp_null_and_retain_keys)
{
	smp_check(&r_deploy,
		  "{'spec':{'replicas':3,'paused':true,'strategy':{'type':'RollingUpdate',"
		  "'rollingUpdate':{'maxSurge':'25%','maxUnavailable':'25%'}}}}",
		  "{'spec':{'paused':null,'absent':null,'strategy':{'$retainKeys':['type'],"
		  "'type':'Recreate'}}}",
		  "{'spec':{'replicas':3,'strategy':{'type':'Recreate'}}}");
	/* nulls inside new values are dropped */
	smp_check(&r_pod, "{'metadata':{'name':'p'}}",
		  "{'metadata':{'labels':{'a':'1','b':null}}}",
		  "{'metadata':{'name':'p','labels':{'a':'1'}}}");
	/* a value of another type replaces */
	smp_check(&r_pod, "{'spec':{'x':{'a':1},'y':[1]}}", "{'spec':{'x':[2],'y':{'b':null,'c':3}}}",
		  "{'spec':{'x':[2],'y':{'c':3}}}");
	/* the patch must be an object */
	smp_check(&r_pod, "{'spec':{}}", "[1]", NULL);
}
END_TEST

START_TEST(test_smp_status_and_owners)
{
	/* conditions merge by type */
	smp_check(&r_pod,
		  "{'status':{'phase':'Pending','conditions':[{'type':'PodScheduled','status':'True'},"
		  "{'type':'Ready','status':'False'}]}}",
		  "{'status':{'phase':'Running','conditions':[{'type':'Ready','status':'True'},"
		  "{'type':'ContainersReady','status':'True'}]}}",
		  "{'status':{'phase':'Running','conditions':[{'type':'PodScheduled','status':'True'},"
		  "{'type':'Ready','status':'True'},{'type':'ContainersReady','status':'True'}]}}");
	/* ownerReferences by uid */
	smp_check(&r_pod,
		  "{'metadata':{'ownerReferences':[{'uid':'1','kind':'ReplicaSet','name':'a'}]}}",
		  "{'metadata':{'ownerReferences':[{'uid':'1','controller':true},{'uid':'2','name':'b'}]}}",
		  "{'metadata':{'ownerReferences':[{'uid':'1','kind':'ReplicaSet','name':'a',"
		  "'controller':true},{'uid':'2','name':'b'}]}}");
	/* volumes by name, imagePullSecrets by name, hostAliases by ip; without
	 * $setElementOrder a new item goes before the server's items it does not
	 * follow (strategicpatch's mergeSortedSlice; the kubectl patch docs show the
	 * patched-in container first) */
	smp_check(&r_pod,
		  "{'spec':{'volumes':[{'name':'v','emptyDir':{}}],'imagePullSecrets':[{'name':'s'}],"
		  "'hostAliases':[{'ip':'1.2.3.4','hostnames':['a']}]}}",
		  "{'spec':{'volumes':[{'name':'w','emptyDir':{}}],'imagePullSecrets':[{'name':'t'}],"
		  "'hostAliases':[{'ip':'1.2.3.4','hostnames':['b']}]}}",
		  "{'spec':{'volumes':[{'name':'w','emptyDir':{}},{'name':'v','emptyDir':{}}],"
		  "'imagePullSecrets':[{'name':'t'},{'name':'s'}],"
		  "'hostAliases':[{'ip':'1.2.3.4','hostnames':['b']}]}}");
}
END_TEST

START_TEST(test_smp_kind_from_object)
{
	/* without a resource, the object's kind picks the merge keys */
	smp_check(NULL,
		  "{'kind':'Service','spec':{'ports':[{'port':80,'name':'a'},{'port':81,'name':'b'}]}}",
		  "{'spec':{'ports':[{'port':81,'name':'c'}]}}",
		  "{'kind':'Service','spec':{'ports':[{'port':80,'name':'a'},{'port':81,'name':'c'}]}}");
	/* an unknown kind with a pod template still merges containers by name */
	smp_check(NULL,
		  "{'kind':'Widget','spec':{'template':{'spec':{'containers':[{'name':'a','image':'1'},"
		  "{'name':'b','image':'2'}]}}}}",
		  "{'spec':{'template':{'spec':{'containers':[{'name':'b','image':'3'}]}}}}",
		  "{'kind':'Widget','spec':{'template':{'spec':{'containers':[{'name':'a','image':'1'},"
		  "{'name':'b','image':'3'}]}}}}");
}
END_TEST

START_TEST(test_smp_patch_demo)
{
	/* kubernetes.io "Update API Objects in Place Using kubectl patch": a patch
	 * adding a container to a Deployment merges into the list (the new
	 * container first), tolerations are replaced */
	smp_check(&r_deploy,
		  "{'spec':{'replicas':2,'template':{'spec':{'containers':[{'name':'patch-demo-ctr',"
		  "'image':'nginx'}],'tolerations':[{'effect':'NoSchedule','key':'dedicated',"
		  "'value':'test-team'}]}}}}",
		  "{'spec':{'template':{'spec':{'containers':[{'name':'patch-demo-ctr-2','image':'redis'}],"
		  "'tolerations':[{'effect':'NoSchedule','key':'disktype','value':'ssd'}]}}}}",
		  "{'spec':{'replicas':2,'template':{'spec':{'containers':[{'name':'patch-demo-ctr-2',"
		  "'image':'redis'},{'name':'patch-demo-ctr','image':'nginx'}],'tolerations':"
		  "[{'effect':'NoSchedule','key':'disktype','value':'ssd'}]}}}}");
}
END_TEST

START_TEST(test_smp_malformed)
{
	/* the target must be an object */
	smp_check(&r_pod, "[1]", "{'a':1}", NULL);
	/* directives of the wrong shape */
	smp_check(&r_pod, "{'spec':{'containers':[]}}",
		  "{'spec':{'$setElementOrder/containers':{'name':'a'}}}", NULL);
	smp_check(&r_pod, "{'spec':{'containers':[]}}",
		  "{'spec':{'$setElementOrder/containers':[{'image':'a'}]}}", NULL);
	smp_check(&r_pod, "{'metadata':{'finalizers':['a']}}",
		  "{'metadata':{'$deleteFromPrimitiveList/finalizers':'a'}}", NULL);
	smp_check(&r_deploy, "{'spec':{'strategy':{}}}",
		  "{'spec':{'strategy':{'$retainKeys':'type'}}}", NULL);
	smp_check(&r_deploy, "{'spec':{'strategy':{}}}",
		  "{'spec':{'strategy':{'$retainKeys':[1]}}}", NULL);
	/* a merging list mixing objects and primitives */
	smp_check(&r_pod, "{'spec':{'containers':[{'name':'a'}]}}",
		  "{'spec':{'containers':['b']}}", NULL);
}
END_TEST

START_TEST(test_json_error_names_operation)
{
	cJSON *t = J("{'a':1}"), *p = J("[{'op':'add','path':'/b','value':2},"
					 "{'op':'remove','path':'/missing'}]");
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_api_patch_json(&t, p, &err), -1);
	ck_assert_str_eq(err->msg,
			 "json patch: operation 1 (remove '/missing') failed: path does not exist");
	mk_error_free(&err);
	assert_json(t, "{'a':1}");
	p = (cJSON_Delete(p), J("[{'op':'frob','path':'/a'}]"));
	ck_assert_int_eq(mk_api_patch_json(&t, p, &err), -1);
	ck_assert_str_eq(err->msg, "json patch: operation 0: unknown op 'frob'");
	mk_error_free(&err);
	cJSON_Delete(t);
	cJSON_Delete(p);
}
END_TEST

Suite *patch_suite(void)
{
	Suite *s = suite_create("patch");
	TCase *tc = tcase_create("merge");
	tcase_add_loop_test(tc, test_merge_cases, 0, (int)MK_ARRAY_SIZE(merge_cases));
	tcase_add_test(tc, test_merge_keeps_member_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("json");
	tcase_add_loop_test(tc, test_json_cases, 0, (int)MK_ARRAY_SIZE(json_cases));
	tcase_add_test(tc, test_json_failed_test_leaves_target);
	tcase_add_test(tc, test_json_error_names_operation);
	suite_add_tcase(s, tc);

	tc = tcase_create("strategic");
	tcase_add_test(tc, test_smp_kubectl_apply_image_change);
	tcase_add_test(tc, test_smp_image_change_keeps_env_and_mounts);
	tcase_add_test(tc, test_smp_annotations_merge);
	tcase_add_test(tc, test_smp_env_merge_by_name);
	tcase_add_test(tc, test_smp_ports_context);
	tcase_add_test(tc, test_smp_add_and_delete_items);
	tcase_add_test(tc, test_smp_set_element_order);
	tcase_add_test(tc, test_smp_replace_directive);
	tcase_add_test(tc, test_smp_primitive_lists);
	tcase_add_test(tc, test_smp_null_and_retain_keys);
	tcase_add_test(tc, test_smp_status_and_owners);
	tcase_add_test(tc, test_smp_kind_from_object);
	tcase_add_test(tc, test_smp_patch_demo);
	tcase_add_test(tc, test_smp_malformed);
	suite_add_tcase(s, tc);
	return s;
}
