/* securityContext resolution (user, groups, runAsNonRoot, capabilities,
 * privileged, no_new_privs, read-only root), fsGroup volume ownership, cgroup
 * limits from resources, node allocatable, and the OCI config generated from
 * all of them. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "minik8s/agent.h"
#include "minik8s/runtime.h"
#include "../../../pkg/runtime/internal.h"

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	ck_assert_msg(j != NULL, "bad JSON in test: %s", s);
	return j;
}

/* a rootfs with /etc/passwd and /etc/group; owned path */
static char *rootfs_new(void)
{
	char tmpl[] = "/tmp/mk-podspec-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	char *root = mk_strdup(tmpl);
	_cleanup_free_ char *etc = mk_strdup_printf("%s/etc", root);
	ck_assert_int_eq(mkdir(etc, 0755), 0);
	_cleanup_free_ char *pw = mk_strdup_printf("%s/passwd", etc);
	_cleanup_free_ char *gr = mk_strdup_printf("%s/group", etc);
	static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
				     "app:x:1000:1000::/home/app:/bin/sh\n"
				     "web:x:33:33::/var/www:/bin/false\n";
	static const char group[] = "root:x:0:\napp:x:1000:\nweb:x:33:\n"
				    "audio:x:29:app,web\nvideo:x:44:web\nstaff:x:50:app\n";
	ck_assert_int_eq(mk_fs_write_file(pw, passwd, strlen(passwd), 0644, NULL), 0);
	ck_assert_int_eq(mk_fs_write_file(gr, group, strlen(group), 0644, NULL), 0);
	return root;
}

static void rootfs_free(char *root)
{
	_cleanup_free_ char *cmd = mk_strdup_printf("rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
	free(root);
}

static char *groups_str(const struct mk_agent_security *s)
{
	struct mk_buf b;
	mk_buf_init(&b);
	for (size_t i = 0; i < s->n_groups; i++)
		mk_buf_printf(&b, "%s%u", i ? "," : "", s->groups[i]);
	if (!b.data)
		mk_buf_puts(&b, "");
	return mk_buf_steal(&b);
}

static bool has_cap(const struct mk_agent_security *s, const char *cap)
{
	for (size_t i = 0; s->caps[i]; i++)
		if (!strcmp(s->caps[i], cap))
			return true;
	return false;
}

static size_t n_caps(const struct mk_agent_security *s)
{
	size_t n = 0;
	while (s->caps[n])
		n++;
	return n;
}

START_TEST(user_and_groups)
{
	char *root = rootfs_new();
	struct mk_agent_security s;
	struct mk_error *err = NULL;

	/* the image's user by name: its uid, gid and group memberships */
	cJSON *pod =
	    J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\"},\"spec\":{}}");
	cJSON *c = J("{\"name\":\"c\"}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, "web", root, &s, &err), 0);
	ck_assert_uint_eq(s.uid, 33);
	ck_assert_uint_eq(s.gid, 33);
	_cleanup_free_ char *g1 = groups_str(&s);
	ck_assert_str_eq(g1, "29,33,44");
	ck_assert_int_eq(s.fs_group, -1);
	ck_assert(!s.readonly_rootfs && !s.privileged && !s.no_new_privileges);
	mk_agent_security_release(&s);

	/* no image user: root */
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, root, &s, &err), 0);
	ck_assert_uint_eq(s.uid, 0);
	ck_assert_uint_eq(s.gid, 0);
	mk_agent_security_release(&s);

	/* "uid:gid" numbers need no passwd entry */
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, "4242:4343", root, &s, &err), 0);
	ck_assert_uint_eq(s.uid, 4242);
	ck_assert_uint_eq(s.gid, 4343);
	mk_agent_security_release(&s);

	/* an unknown user name is an error */
	ck_assert_int_lt(mk_agent_security_resolve(pod, c, "nobody-here", root, &s, &err), 0);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);
	cJSON_Delete(pod);

	/* pod level runAsUser/runAsGroup/fsGroup/supplementalGroups */
	pod = J("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"securityContext\":{\"runAsUser\":1000,"
		"\"runAsGroup\":3000,\"fsGroup\":2000,\"supplementalGroups\":[4000,2000]}}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, "web", root, &s, &err), 0);
	ck_assert_uint_eq(s.uid, 1000);
	ck_assert_uint_eq(s.gid, 3000);
	ck_assert_int_eq(s.fs_group, 2000);
	_cleanup_free_ char *g2 = groups_str(&s);
	/* uid 1000 is "app" in the image: its memberships (29, 50) come along */
	ck_assert_str_eq(g2, "29,50,2000,3000,4000");
	mk_agent_security_release(&s);

	/* the container's fields win over the pod's; runAsUser alone takes the
	 * image's group of that uid */
	cJSON *c2 = J("{\"name\":\"c\",\"securityContext\":{\"runAsUser\":33}}");
	cJSON_Delete(pod);
	pod = J("{\"spec\":{\"securityContext\":{\"runAsUser\":1000}}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c2, NULL, root, &s, &err), 0);
	ck_assert_uint_eq(s.uid, 33);
	ck_assert_uint_eq(s.gid, 33);
	mk_agent_security_release(&s);
	/* a uid the image does not know: group 0 */
	cJSON_Delete(c2);
	c2 = J("{\"name\":\"c\",\"securityContext\":{\"runAsUser\":777}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c2, "app", root, &s, &err), 0);
	ck_assert_uint_eq(s.uid, 777);
	ck_assert_uint_eq(s.gid, 0);
	_cleanup_free_ char *g3 = groups_str(&s);
	ck_assert_str_eq(g3, "0");
	mk_agent_security_release(&s);

	/* out of range ids */
	cJSON_Delete(c2);
	c2 = J("{\"name\":\"c\",\"securityContext\":{\"runAsUser\":-1}}");
	ck_assert_int_lt(mk_agent_security_resolve(pod, c2, NULL, root, &s, &err), 0);
	ck_assert_int_eq(err->code, EINVAL);
	mk_error_free(&err);

	cJSON_Delete(c2);
	cJSON_Delete(c);
	cJSON_Delete(pod);
	rootfs_free(root);
}
END_TEST

START_TEST(run_as_non_root)
{
	char *root = rootfs_new();
	struct mk_agent_security s;
	struct mk_error *err = NULL;
	cJSON *pod = J("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\"},"
		       "\"spec\":{\"securityContext\":{\"runAsNonRoot\":true}}}");
	cJSON *c = J("{\"name\":\"c\"}");

	/* an image running as root */
	ck_assert_int_lt(mk_agent_security_resolve(pod, c, "", root, &s, &err), 0);
	ck_assert_int_eq(err->code, EPERM);
	ck_assert_str_eq(err->msg, "container has runAsNonRoot and image will run as root "
				   "(pod: \"p_ns(u1)\", container: c)");
	mk_error_free(&err);
	ck_assert_int_lt(mk_agent_security_resolve(pod, c, "0:0", root, &s, &err), 0);
	mk_error_free(&err);
	/* a user name cannot be verified */
	ck_assert_int_lt(mk_agent_security_resolve(pod, c, "app", root, &s, &err), 0);
	ck_assert_str_eq(err->msg,
			 "container has runAsNonRoot and image has non-numeric user (app), "
			 "cannot verify user is non-root (pod: \"p_ns(u1)\", container: c)");
	mk_error_free(&err);
	/* a numeric non-root image user is fine */
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, "1000", root, &s, &err), 0);
	ck_assert_uint_eq(s.uid, 1000);
	mk_agent_security_release(&s);
	/* runAsUser decides when set */
	cJSON *c2 = J("{\"name\":\"c\",\"securityContext\":{\"runAsUser\":0}}");
	ck_assert_int_lt(mk_agent_security_resolve(pod, c2, "1000", root, &s, &err), 0);
	ck_assert_str_eq(err->msg, "container's runAsUser breaks non-root policy "
				   "(pod: \"p_ns(u1)\", container: c)");
	mk_error_free(&err);
	cJSON_Delete(c2);
	c2 = J("{\"name\":\"c\",\"securityContext\":{\"runAsUser\":5}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c2, "", root, &s, &err), 0);
	mk_agent_security_release(&s);
	/* the container may turn it off */
	cJSON_Delete(c2);
	c2 = J("{\"name\":\"c\",\"securityContext\":{\"runAsNonRoot\":false}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c2, "", root, &s, &err), 0);
	mk_agent_security_release(&s);

	cJSON_Delete(c2);
	cJSON_Delete(c);
	cJSON_Delete(pod);
	rootfs_free(root);
}
END_TEST

START_TEST(capabilities)
{
	struct mk_agent_security s;
	cJSON *pod = J("{\"spec\":{}}");
	const char *const *def = mk_agent_caps_default();
	size_t ndef = 0;
	while (def[ndef])
		ndef++;
	ck_assert_uint_eq(ndef, 14);

	cJSON *c = J("{\"name\":\"c\"}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, NULL, &s, NULL), 0);
	ck_assert_uint_eq(n_caps(&s), 14);
	ck_assert(has_cap(&s, "CAP_NET_BIND_SERVICE") && !has_cap(&s, "CAP_SYS_ADMIN"));
	mk_agent_security_release(&s);
	cJSON_Delete(c);

	/* drop ALL */
	c = J("{\"name\":\"c\",\"securityContext\":{\"capabilities\":{\"drop\":[\"ALL\"]}}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, NULL, &s, NULL), 0);
	ck_assert_ptr_nonnull(s.caps);
	ck_assert_uint_eq(n_caps(&s), 0);
	mk_agent_security_release(&s);
	cJSON_Delete(c);

	/* drop ALL, add one back (names with or without CAP_, any case) */
	c = J("{\"name\":\"c\",\"securityContext\":{\"capabilities\":{\"drop\":[\"all\"],"
	      "\"add\":[\"net_bind_service\",\"CAP_KILL\"]}}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, NULL, &s, NULL), 0);
	ck_assert_uint_eq(n_caps(&s), 2);
	ck_assert(has_cap(&s, "CAP_NET_BIND_SERVICE") && has_cap(&s, "CAP_KILL"));
	mk_agent_security_release(&s);
	cJSON_Delete(c);

	/* add one, drop one */
	c = J("{\"name\":\"c\",\"securityContext\":{\"capabilities\":{\"add\":[\"NET_ADMIN\"],"
	      "\"drop\":[\"CHOWN\",\"NET_RAW\"]}}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, NULL, &s, NULL), 0);
	ck_assert_uint_eq(n_caps(&s), 13);
	ck_assert(has_cap(&s, "CAP_NET_ADMIN") && !has_cap(&s, "CAP_CHOWN") &&
		  !has_cap(&s, "CAP_NET_RAW"));
	mk_agent_security_release(&s);
	cJSON_Delete(c);

	/* add ALL drop one: everything this process has but that one */
	c = J("{\"name\":\"c\",\"securityContext\":{\"capabilities\":{\"add\":[\"ALL\"],"
	      "\"drop\":[\"SYS_ADMIN\"]}}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, NULL, &s, NULL), 0);
	ck_assert(!has_cap(&s, "CAP_SYS_ADMIN") && has_cap(&s, "CAP_CHOWN"));
	ck_assert_uint_gt(n_caps(&s), 14);
	mk_agent_security_release(&s);
	cJSON_Delete(c);

	/* privileged: every capability, escalation allowed; drops ignored */
	c = J("{\"name\":\"c\",\"securityContext\":{\"privileged\":true,"
	      "\"allowPrivilegeEscalation\":false,"
	      "\"capabilities\":{\"drop\":[\"ALL\"]}}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, NULL, &s, NULL), 0);
	ck_assert(s.privileged && !s.no_new_privileges);
	ck_assert(has_cap(&s, "CAP_CHOWN"));
	ck_assert_uint_gt(n_caps(&s), 30);
	mk_agent_security_release(&s);
	cJSON_Delete(c);

	/* allowPrivilegeEscalation false, read-only root; pod level has neither */
	c = J("{\"name\":\"c\",\"securityContext\":{\"allowPrivilegeEscalation\":false,"
	      "\"readOnlyRootFilesystem\":true}}");
	ck_assert_int_eq(mk_agent_security_resolve(pod, c, NULL, NULL, &s, NULL), 0);
	ck_assert(s.no_new_privileges && s.readonly_rootfs && !s.privileged);
	mk_agent_security_release(&s);
	cJSON_Delete(c);
	cJSON_Delete(pod);
}
END_TEST

START_TEST(fsgroup_ownership)
{
	if (geteuid() != 0)
		return; /* chown to another group needs root */
	char *root = rootfs_new();
	_cleanup_free_ char *sub = mk_strdup_printf("%s/etc/sub", root);
	_cleanup_free_ char *f = mk_strdup_printf("%s/etc/passwd", root);
	_cleanup_free_ char *ln = mk_strdup_printf("%s/etc/link", root);
	_cleanup_free_ char *etc = mk_strdup_printf("%s/etc", root);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(chmod(f, 0600), 0);
	ck_assert_int_eq(symlink("/etc/hostname", ln), 0);
	struct stat st, host_before, host_after;
	ck_assert_int_eq(stat("/etc/hostname", &host_before), 0);
	ck_assert_int_eq(mk_agent_volume_ownership_set(etc, 2000, false, false, NULL), 0);
	ck_assert_int_eq(stat(etc, &st), 0);
	ck_assert_uint_eq(st.st_gid, 2000);
	ck_assert_uint_eq(st.st_mode & 07777, 02775);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_uint_eq(st.st_gid, 2000);
	ck_assert_uint_eq(st.st_mode & 07777, 02770);
	ck_assert_int_eq(stat(f, &st), 0);
	ck_assert_uint_eq(st.st_gid, 2000);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	/* the symlink itself, never its target */
	ck_assert_int_eq(lstat(ln, &st), 0);
	ck_assert_uint_eq(st.st_gid, 2000);
	ck_assert_int_eq(stat("/etc/hostname", &host_after), 0);
	ck_assert_uint_eq(host_after.st_gid, host_before.st_gid);
	ck_assert_uint_eq(host_after.st_mode, host_before.st_mode);
	/* OnRootMismatch: a right root stops the walk */
	ck_assert_int_eq(chmod(f, 0600), 0);
	ck_assert_int_eq(mk_agent_volume_ownership_set(etc, 2000, true, false, NULL), 0);
	ck_assert_int_eq(stat(f, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	/* read-only kinds get group read only */
	_cleanup_free_ char *sub2 = mk_strdup_printf("%s/ro", root);
	ck_assert_int_eq(mkdir(sub2, 0700), 0);
	ck_assert_int_eq(mk_agent_volume_ownership_set(sub2, 3000, false, true, NULL), 0);
	ck_assert_int_eq(stat(sub2, &st), 0);
	ck_assert_uint_eq(st.st_gid, 3000);
	ck_assert_uint_eq(st.st_mode & 07777, 02750);
	/* no fsGroup: nothing */
	ck_assert_int_eq(mk_agent_volume_ownership_set("/nonexistent", -1, false, false, NULL), 0);
	rootfs_free(root);
}
END_TEST

START_TEST(limits)
{
	struct mk_agent_limits l;
	cJSON *c = J("{\"resources\":{\"limits\":{\"cpu\":\"500m\",\"memory\":\"64Mi\"},"
		     "\"requests\":{\"cpu\":\"250m\",\"memory\":\"32Mi\"}}}");
	mk_agent_limits_compute(c, &l);
	ck_assert_int_eq(l.memory, 67108864);
	ck_assert_uint_eq(l.cpu_shares, 256);
	ck_assert_int_eq(l.cpu_quota, 50000);
	ck_assert_uint_eq(l.cpu_period, 100000);
	cJSON_Delete(c);
	/* no resources: minimum shares, no quota, no memory limit */
	c = J("{}");
	mk_agent_limits_compute(c, &l);
	ck_assert_int_eq(l.memory, 0);
	ck_assert_uint_eq(l.cpu_shares, 2);
	ck_assert_int_eq(l.cpu_quota, 0);
	cJSON_Delete(c);
	/* a limit without a request: shares from the limit; tiny limit: minimum quota */
	c = J("{\"resources\":{\"limits\":{\"cpu\":\"5m\"}}}");
	mk_agent_limits_compute(c, &l);
	ck_assert_uint_eq(l.cpu_shares, 5);
	ck_assert_int_eq(l.cpu_quota, 1000);
	cJSON_Delete(c);
	c = J("{\"resources\":{\"requests\":{\"cpu\":\"1m\"},\"limits\":{\"cpu\":\"2\"}}}");
	mk_agent_limits_compute(c, &l);
	ck_assert_uint_eq(l.cpu_shares, 2);
	ck_assert_int_eq(l.cpu_quota, 200000);
	cJSON_Delete(c);
	/* runc's shares -> cpu.weight */
	ck_assert_uint_eq(mk_agent_cpu_weight(2), 1);
	ck_assert_uint_eq(mk_agent_cpu_weight(256), 10);
	ck_assert_uint_eq(mk_agent_cpu_weight(1024), 39);
	ck_assert_uint_eq(mk_agent_cpu_weight(262144), 10000);
}
END_TEST

START_TEST(allocatable)
{
	cJSON *cap = J("{\"cpu\":\"2\",\"memory\":\"24684544Ki\",\"pods\":\"110\","
		       "\"ephemeral-storage\":\"1000000Ki\"}");
	cJSON *a = mk_agent_node_allocatable(cap);
	ck_assert_str_eq(mk_json_get_string(a, "cpu"), "2");
	ck_assert_str_eq(mk_json_get_string(a, "pods"), "110");
	ck_assert_str_eq(mk_json_get_string(a, "memory"), "24582144Ki"); /* - 102400Ki */
	ck_assert_str_eq(mk_json_get_string(a, "ephemeral-storage"), "921600000");
	cJSON_Delete(a);
	cJSON_Delete(cap);
}
END_TEST

static bool json_has_str(const cJSON *arr, const char *v)
{
	const cJSON *it;
	cJSON_ArrayForEach(it,
			   arr) if (cJSON_IsString(it) && !strcmp(it->valuestring, v)) return true;
	return false;
}

START_TEST(oci_spec)
{
	static const char *const args[] = {"sh", NULL};
	static const char *const caps[] = {"CAP_NET_ADMIN", NULL};
	static const char *const nocaps[] = {NULL};
	uint32_t gids[] = {2000, 3000};
	struct mk_runtime_container_spec spec = {
	    .id = "c1",
	    .rootfs = "/r",
	    .args = args,
	    .uid = 1000,
	    .gid = 3000,
	    .additional_gids = gids,
	    .n_additional_gids = 2,
	    .capabilities = caps,
	    .rootfs_readonly = true,
	    .no_new_privileges = true,
	    .memory_limit = 16 * 1024 * 1024,
	    .memory_no_swap = true,
	    .memory_oom_group = true,
	    .cpu_shares = 256,
	    .cpu_quota = 50000,
	    .cpu_period = 100000,
	};
	cJSON *c = NULL;
	ck_assert_int_eq(mk_runtime_spec_generate(&spec, "/p/c1", &c, NULL), 0);
	ck_assert_int_eq(cJSON_GetObjectItem(mk_json_get(c, "process.user"), "uid")->valueint,
			 1000);
	ck_assert_int_eq(cJSON_GetObjectItem(mk_json_get(c, "process.user"), "gid")->valueint,
			 3000);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(c, "process.user.additionalGids")), 2);
	ck_assert(cJSON_IsTrue(mk_json_get(c, "process.noNewPrivileges")));
	ck_assert(cJSON_IsTrue(mk_json_get(c, "root.readonly")));
	const char *sets[] = {"bounding", "effective", "permitted"};
	for (size_t i = 0; i < 3; i++) {
		const cJSON *set =
		    cJSON_GetObjectItem(mk_json_get(c, "process.capabilities"), sets[i]);
		ck_assert_int_eq(cJSON_GetArraySize(set), 1);
		ck_assert(json_has_str(set, "CAP_NET_ADMIN"));
	}
	const cJSON *mem = mk_json_get(c, "linux.resources.memory");
	ck_assert_int_eq((int64_t)cJSON_GetObjectItem(mem, "limit")->valuedouble, 16777216);
	ck_assert_int_eq((int64_t)cJSON_GetObjectItem(mem, "swap")->valuedouble, 16777216);
	ck_assert_str_eq(
	    cJSON_GetObjectItem(mk_json_get(c, "linux.resources.unified"), "memory.oom.group")
		->valuestring,
	    "1");
	const cJSON *cpu = mk_json_get(c, "linux.resources.cpu");
	ck_assert_int_eq(cJSON_GetObjectItem(cpu, "shares")->valueint, 256);
	ck_assert_int_eq(cJSON_GetObjectItem(cpu, "quota")->valueint, 50000);
	ck_assert_int_eq(cJSON_GetObjectItem(cpu, "period")->valueint, 100000);
	/* unprivileged: devices denied, masked and read-only paths, /sys ro */
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(mk_json_get(c, "linux.resources.devices"), 0), "allow")));
	ck_assert_int_gt(cJSON_GetArraySize(mk_json_get(c, "linux.maskedPaths")), 0);
	ck_assert_int_gt(cJSON_GetArraySize(mk_json_get(c, "linux.readonlyPaths")), 0);
	const cJSON *m;
	cJSON_ArrayForEach(
	    m, mk_json_get(c, "mounts")) if (!strcmp(mk_json_get_string(m, "destination"), "/sys"))
	    ck_assert(json_has_str(cJSON_GetObjectItem(m, "options"), "ro"));
	cJSON_Delete(c);

	/* an empty capability list is no capabilities, not the defaults */
	struct mk_runtime_container_spec s2 = {
	    .id = "c2", .rootfs = "/r", .args = args, .capabilities = nocaps};
	ck_assert_int_eq(mk_runtime_spec_generate(&s2, NULL, &c, NULL), 0);
	ck_assert_int_eq(cJSON_GetArraySize(mk_json_get(c, "process.capabilities.effective")), 0);
	ck_assert_ptr_null(mk_json_get(c, "linux.devices"));
	ck_assert(cJSON_IsFalse(mk_json_get(c, "process.noNewPrivileges")));
	ck_assert_ptr_null(mk_json_get(c, "linux.resources.memory"));
	ck_assert_ptr_null(mk_json_get(c, "linux.resources.unified"));
	cJSON_Delete(c);

	/* privileged: every device, no masked paths, /sys and cgroups rw, and
	 * never no_new_privs */
	struct mk_runtime_container_spec s3 = {.id = "c3",
					       .rootfs = "/r",
					       .args = args,
					       .privileged = true,
					       .no_new_privileges = true};
	ck_assert_int_eq(mk_runtime_spec_generate(&s3, NULL, &c, NULL), 0);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(mk_json_get(c, "linux.resources.devices"), 0), "allow")));
	ck_assert_ptr_null(mk_json_get(c, "linux.maskedPaths"));
	/* the host's devices, /dev/null among them */
	bool null_found = false;
	const cJSON *d;
	cJSON_ArrayForEach(
	    d, mk_json_get(c, "linux.devices")) if (!strcmp(mk_json_get_string(d, "path"),
							    "/dev/null"))
	{
		null_found = true;
		ck_assert_str_eq(mk_json_get_string(d, "type"), "c");
		ck_assert_int_eq(cJSON_GetObjectItem(d, "major")->valueint, 1);
		ck_assert_int_eq(cJSON_GetObjectItem(d, "minor")->valueint, 3);
	}
	else
	{
		ck_assert(!mk_str_has_prefix(mk_json_get_string(d, "path"), "/dev/pts/"));
	}
	ck_assert(null_found);
	ck_assert_ptr_null(mk_json_get(c, "linux.readonlyPaths"));
	ck_assert(cJSON_IsFalse(mk_json_get(c, "process.noNewPrivileges")));
	cJSON_ArrayForEach(m, mk_json_get(c, "mounts"))
	{
		const char *d = mk_json_get_string(m, "destination");
		if (!strcmp(d, "/sys") || !strcmp(d, "/sys/fs/cgroup")) {
			ck_assert(json_has_str(cJSON_GetObjectItem(m, "options"), "rw"));
			ck_assert(!json_has_str(cJSON_GetObjectItem(m, "options"), "ro"));
		}
	}
	cJSON_Delete(c);
}
END_TEST

START_TEST(oom_counter)
{
	/* cgroup v1 memory.oom_control and v2 memory.events carry the same line */
	char tmpl[] = "/tmp/mk-podspec-oom-XXXXXX";
	int fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	close(fd);
	static const char v1[] = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
	static const char v2[] = "low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n";
	ck_assert_int_eq(mk_fs_write_file(tmpl, v1, strlen(v1), 0600, NULL), 0);
	ck_assert_int_eq(rt_cgroup_oom_kills(tmpl), 3);
	ck_assert_int_eq(mk_fs_write_file(tmpl, v2, strlen(v2), 0600, NULL), 0);
	ck_assert_int_eq(rt_cgroup_oom_kills(tmpl), 1);
	ck_assert_int_eq(mk_fs_write_file(tmpl, "max 1\n", 6, 0600, NULL), 0);
	ck_assert_int_eq(rt_cgroup_oom_kills(tmpl), -1);
	unlink(tmpl);
	ck_assert_int_eq(rt_cgroup_oom_kills(tmpl), -1);
	ck_assert_int_eq(rt_cgroup_oom_kills(NULL), -1);
	/* our own memory cgroup's file, where there is one (not in a v2 root) */
	_cleanup_free_ char *own = rt_cgroup_oom_file(getpid());
	if (own && access(own, R_OK) == 0)
		ck_assert_int_ge(rt_cgroup_oom_kills(own), 0);
}
END_TEST

Suite *security_suite(void)
{
	Suite *s = suite_create("security");
	TCase *tc = tcase_create("security");
	tcase_add_test(tc, user_and_groups);
	tcase_add_test(tc, run_as_non_root);
	tcase_add_test(tc, capabilities);
	tcase_add_test(tc, fsgroup_ownership);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, allocatable);
	tcase_add_test(tc, oci_spec);
	tcase_add_test(tc, oom_counter);
	suite_add_tcase(s, tc);
	return s;
}
