#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/runtime.h"
#include "../../../pkg/apiserver/metrics.h"

/* what an agent (or a kubelet) answers on /metrics/resource */
static const char kubelet_text[] =
    "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time\n"
    "# TYPE container_cpu_usage_seconds_total counter\n"
    "container_cpu_usage_seconds_total{container=\"app\",namespace=\"default\",pod=\"busy\"} 12.5 "
    "1700000010000\n"
    "container_cpu_usage_seconds_total{container=\"side\",namespace=\"default\",pod=\"busy\"} 0.25 "
    "1700000010000\n"
    "container_cpu_usage_seconds_total{container=\"c\",namespace=\"n\\\"s\",pod=\"we\\\\ird\"} 1 "
    "1700000010000\n"
    "container_memory_working_set_bytes{container=\"app\",namespace=\"default\",pod=\"busy\"} "
    "1.048576e+06 1700000010000\n"
    "container_memory_working_set_bytes{container=\"side\",namespace=\"default\",pod=\"busy\"} "
    "4096 1700000010000\n"
    "container_memory_working_set_bytes{container=\"c\",namespace=\"n\\\"s\",pod=\"we\\\\ird\"} "
    "8192 1700000010000\n"
    "container_start_time_seconds{container=\"app\",namespace=\"default\",pod=\"busy\"} 1.6999e+09 "
    "1700000010000\n"
    "  \n"
    "node_cpu_usage_seconds_total 1000.000000001 1700000010000\n"
    "node_memory_working_set_bytes 2147483648 1700000010000\r\n"
    "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"busy\"} 12.75 1700000010000\n"
    "scrape_error 0\n"
    "resource_scrape_error 0";

START_TEST(parse_kubelet_text)
{
	struct mk_metrics_batch b;
	struct mk_error *err = NULL;

	ck_assert_int_eq(mk_metrics_parse(kubelet_text, strlen(kubelet_text), 5, &b, &err), 0);
	ck_assert(b.has_node);
	ck_assert_uint_eq(b.node.cpu_ns, 1000000000001ULL);
	ck_assert_uint_eq(b.node.mem_bytes, 2147483648ULL);
	ck_assert_int_eq(b.node.ts_ms, 1700000010000LL);
	ck_assert_uint_eq(b.n, 3);
	ck_assert_str_eq(b.c[0].name, "app");
	ck_assert_str_eq(b.c[0].pod, "busy");
	ck_assert_str_eq(b.c[0].ns, "default");
	ck_assert_uint_eq(b.c[0].p.cpu_ns, 12500000000ULL);
	ck_assert_uint_eq(b.c[0].p.mem_bytes, 1048576);
	ck_assert_int_eq(b.c[0].p.start_ms, 1699900000000LL);
	ck_assert(b.c[0].p.has_cpu && b.c[0].p.has_mem);
	/* escaped label values */
	ck_assert_str_eq(b.c[2].ns, "n\"s");
	ck_assert_str_eq(b.c[2].pod, "we\\ird");
	mk_metrics_batch_release(&b);
}
END_TEST

START_TEST(parse_defaults_and_errors)
{
	struct mk_metrics_batch b;
	struct mk_error *err = NULL;
	const char *no_ts = "node_cpu_usage_seconds_total 3\nnode_memory_working_set_bytes 7\n";

	ck_assert_int_eq(mk_metrics_parse(no_ts, strlen(no_ts), 42, &b, &err), 0);
	ck_assert_int_eq(b.node.ts_ms, 42);
	ck_assert_uint_eq(b.node.cpu_ns, 3000000000ULL);
	mk_metrics_batch_release(&b);

	/* a container sample without its labels is skipped, not an error */
	const char *nolabels = "container_cpu_usage_seconds_total 3 1\n";
	ck_assert_int_eq(mk_metrics_parse(nolabels, strlen(nolabels), 0, &b, &err), 0);
	ck_assert_uint_eq(b.n, 0);
	mk_metrics_batch_release(&b);

	const char *bad[] = {
	    "node_cpu_usage_seconds_total\n",
	    "node_cpu_usage_seconds_total abc 1\n",
	    "node_cpu_usage_seconds_total 1 2 3\n",
	    "container_cpu_usage_seconds_total{container=\"a} 1 1\n",
	    "container_cpu_usage_seconds_total{container=a} 1 1\n",
	    "{x=\"y\"} 1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		ck_assert_int_eq(mk_metrics_parse(bad[i], strlen(bad[i]), 0, &b, &err), -1);
		ck_assert_ptr_nonnull(err);
		ck_assert(strstr(err->msg, "line 1"));
		mk_error_free(&err);
	}
}
END_TEST

static struct mk_metrics_point pt(int64_t ts, uint64_t cpu_ns, uint64_t mem, int64_t start)
{
	return (struct mk_metrics_point){.ts_ms = ts,
					 .cpu_ns = cpu_ns,
					 .mem_bytes = mem,
					 .start_ms = start,
					 .has_cpu = true,
					 .has_mem = true};
}

START_TEST(rate_between_points)
{
	struct mk_metrics_usage u;
	struct mk_metrics_point a = pt(10000, 1000000000, 10, 0), b = pt(25000, 4000000000, 20, 0);

	/* 3 s of CPU in 15 s: 200m */
	ck_assert(mk_metrics_rate(&a, &b, &u));
	ck_assert_uint_eq(u.cpu_nanocores, 200000000);
	ck_assert_uint_eq(u.mem_bytes, 20);
	ck_assert_int_eq(u.ts_ms, 25000);
	ck_assert_int_eq(u.window_ms, 15000);
	/* not newer, counter going down, restart, missing figures: no rate */
	ck_assert(!mk_metrics_rate(&b, &b, &u));
	ck_assert(!mk_metrics_rate(&b, &a, &u));
	struct mk_metrics_point c = pt(30000, 5000000000, 1, 0);
	c.has_mem = false;
	ck_assert(!mk_metrics_rate(&b, &c, &u));
	struct mk_metrics_point old = pt(10000, 1, 1, 500), young = pt(20000, 2, 1, 400);
	ck_assert(!mk_metrics_rate(&old, &young, &u));
}
END_TEST

static struct mk_metrics_container_point cp(const char *pod, const char *name,
					    struct mk_metrics_point p)
{
	return (struct mk_metrics_container_point){
	    .ns = (char *)"default", .pod = (char *)pod, .name = (char *)name, .p = p};
}

START_TEST(compute_node_and_pods)
{
	struct mk_metrics_container_point prev_c[] = {
	    cp("busy", "app", pt(1000, 0, 100, 500)),
	    cp("busy", "side", pt(1000, 0, 100, 500)),
	    cp("idle", "app", pt(1000, 1000000, 100, 500)),
	    cp("restarted", "app", pt(1000, 5000000, 100, 500)),
	};
	struct mk_metrics_container_point last_c[] = {
	    cp("busy", "app", pt(2000, 500000000, 4096, 500)),
	    cp("idle", "app", pt(2000, 1000000, 8192, 500)),
	    cp("busy", "side", pt(3000, 100000000, 1024, 500)),
	    cp("restarted", "app", pt(2000, 1000, 100, 1500)),
	    cp("new", "app", pt(2000, 1000, 100, 1500)),
	    cp("new", "app2", pt(2000, 1000, 100, 1500)),
	};
	struct mk_metrics_batch prev = {
	    .has_node = true, .node = pt(1000, 0, 1, 0), .c = prev_c, .n = 4};
	struct mk_metrics_batch last = {
	    .has_node = true, .node = pt(2000, 1500000000, 2, 0), .c = last_c, .n = 6};
	struct mk_metrics_node_usage u;

	mk_metrics_compute(&prev, &last, 15000, &u);
	ck_assert(u.has_node);
	ck_assert_uint_eq(u.node.cpu_nanocores, 1500000000);
	ck_assert_uint_eq(u.node.mem_bytes, 2);
	/* busy and idle; the restarted pod and the new one (too young to be measured
	 * from its start, 0.5 s) have no figure yet */
	ck_assert_uint_eq(u.npods, 2);
	ck_assert_str_eq(u.pods[0].pod, "busy");
	ck_assert_uint_eq(u.pods[0].n, 2);
	ck_assert_str_eq(u.pods[0].c[0].name, "app");
	ck_assert_uint_eq(u.pods[0].c[0].u.cpu_nanocores, 500000000);
	ck_assert_str_eq(u.pods[0].c[1].name, "side");
	ck_assert_uint_eq(u.pods[0].c[1].u.cpu_nanocores, 50000000);
	/* the pod's window is that of its container with the earliest sample */
	ck_assert_int_eq(u.pods[0].ts_ms, 2000);
	ck_assert_int_eq(u.pods[0].window_ms, 1000);
	ck_assert_str_eq(u.pods[1].pod, "idle");
	ck_assert_uint_eq(u.pods[1].c[0].u.cpu_nanocores, 0);
	ck_assert_uint_eq(u.pods[1].c[0].u.mem_bytes, 8192);
	mk_metrics_node_usage_release(&u);

	/* first scrape: no node rate; a container started 12 s before its sample (and
	 * less than a resolution ago) is measured from its start */
	struct mk_metrics_container_point fresh[] = {
	    cp("fresh", "app", pt(20000, 1200000000, 1, 8000))};
	struct mk_metrics_batch first = {
	    .has_node = true, .node = pt(20000, 1, 1, 0), .c = fresh, .n = 1};
	mk_metrics_compute(NULL, &first, 15000, &u);
	ck_assert(!u.has_node);
	ck_assert_uint_eq(u.npods, 1);
	ck_assert_uint_eq(u.pods[0].c[0].u.cpu_nanocores, 100000000);
	ck_assert_int_eq(u.pods[0].window_ms, 12000);
	mk_metrics_node_usage_release(&u);
}
END_TEST

START_TEST(quantities_and_durations)
{
	char b[64];
	struct {
		uint64_t v;
		const char *cpu, *mem;
	} q[] = {
	    {0, "0", "0"},
	    {123456, "123456n", "123456"},
	    {122880, "122880n", "120Ki"},
	    {5000000, "5m", "5000000"},
	    {2000000000, "2", "1953125Ki"},
	    {1500000, "1500u", "1500000"},
	    {1000, "1u", "1k"},
	    {512, "512n", "512"},
	    {1048576, "1048576n", "1Mi"},
	    {12345 * 4096ULL, "50565120n", "49380Ki"},
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		mk_metrics_quantity_cpu(q[i].v, b, sizeof(b));
		ck_assert_str_eq(b, q[i].cpu);
		mk_metrics_quantity_bytes(q[i].v, b, sizeof(b));
		ck_assert_str_eq(b, q[i].mem);
	}
	struct {
		int64_t ms;
		const char *s;
	} d[] = {{0, "0s"},	     {500, "500ms"},	  {1000, "1s"},
		 {15012, "15.012s"}, {15500, "15.5s"},	  {60000, "1m0s"},
		 {60500, "1m0.5s"},  {3723000, "1h2m3s"}, {-1500, "-1.5s"}};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		mk_metrics_duration(d[i].ms, b, sizeof(b));
		ck_assert_str_eq(b, d[i].s);
	}
}
END_TEST

START_TEST(cgroup_and_proc_parsers)
{
	uint64_t v = 0;
	const char *cpu_stat = "usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n";
	ck_assert(mk_runtime_stats_flat_get(cpu_stat, "usage_usec", &v));
	ck_assert_uint_eq(v, 123456);
	ck_assert(mk_runtime_stats_flat_get(cpu_stat, "system_usec", &v));
	ck_assert_uint_eq(v, 23456);
	ck_assert(!mk_runtime_stats_flat_get(cpu_stat, "usage", &v));
	/* v1 memory.stat: inactive_file is not total_inactive_file */
	const char *mstat = "inactive_file 10\ntotal_inactive_file 4096\n";
	ck_assert(mk_runtime_stats_flat_get(mstat, "total_inactive_file", &v));
	ck_assert_uint_eq(v, 4096);
	ck_assert(mk_runtime_stats_flat_get(mstat, "inactive_file", &v));
	ck_assert_uint_eq(v, 10);
	ck_assert_uint_eq(mk_runtime_stats_working_set(10000, 4096), 5904);
	ck_assert_uint_eq(mk_runtime_stats_working_set(100, 4096), 0);

	/* busy = user nice system irq softirq steal (not idle, iowait), 100 ticks/s */
	const char *stat = "cpu  100 20 30 5000 70 1 2 3 0 0\ncpu0 1 2 3 4\n";
	ck_assert_int_eq(mk_runtime_stats_proc_stat_cpu_ns(stat, 100, &v), 0);
	ck_assert_uint_eq(v, 1560000000ULL);
	ck_assert_int_lt(mk_runtime_stats_proc_stat_cpu_ns("intr 1 2\n", 100, &v), 0);

	const char *meminfo = "MemTotal:       16000 kB\nMemFree:         6000 kB\n"
			      "Inactive(file):   1000 kB\n";
	ck_assert_int_eq(mk_runtime_stats_meminfo_working_set(meminfo, &v), 0);
	ck_assert_uint_eq(v, 9000 * 1024ULL);
	ck_assert_int_lt(mk_runtime_stats_meminfo_working_set("MemTotal: 1 kB\n", &v), 0);
}
END_TEST

START_TEST(cgroup_dirs)
{
	/* a hybrid host: v1 controllers (cpu,cpuacct together; memory mounted from a
	 * sub-cgroup, as inside a container) beside the unified hierarchy */
	const char *mi =
	    "22 1 0:20 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n"
	    "23 22 0:21 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	    "24 22 0:22 /outer /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	    "25 22 0:23 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
	    "26 22 0:24 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n";
	char *d;

	d = mk_runtime_stats_cgroup_dir(mi, "cpuacct", "/mk/c1");
	ck_assert_str_eq(d, "/sys/fs/cgroup/cpu,cpuacct/mk/c1");
	free(d);
	d = mk_runtime_stats_cgroup_dir(mi, NULL, "/mk/c1");
	ck_assert_str_eq(d, "/sys/fs/cgroup/unified/mk/c1");
	free(d);
	/* the mount shows /outer of the hierarchy: /outer/mk/c1 is at MP/mk/c1 */
	d = mk_runtime_stats_cgroup_dir(mi, "memory", "/outer/mk/c1");
	ck_assert_str_eq(d, "/sys/fs/cgroup/memory/mk/c1");
	free(d);
	/* outside what the mount shows, "cpu" is not "cpuacct", no such controller */
	ck_assert_ptr_null(mk_runtime_stats_cgroup_dir(mi, "memory", "/outerx/c1"));
	ck_assert_ptr_null(mk_runtime_stats_cgroup_dir(mi, "memory", "/mk/c1"));
	ck_assert_ptr_null(mk_runtime_stats_cgroup_dir(mi, "pids", "/mk/c1"));
	d = mk_runtime_stats_cgroup_dir(mi, "cpu", "/mk/c1");
	ck_assert_str_eq(d, "/sys/fs/cgroup/cpu,cpuacct/mk/c1");
	free(d);
	/* a pure v2 host */
	d = mk_runtime_stats_cgroup_dir(
	    "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n", NULL,
	    "/system.slice/minik8s/c2");
	ck_assert_str_eq(d, "/sys/fs/cgroup/system.slice/minik8s/c2");
	free(d);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	tcase_add_test(tc, parse_kubelet_text);
	tcase_add_test(tc, parse_defaults_and_errors);
	tcase_add_test(tc, rate_between_points);
	tcase_add_test(tc, compute_node_and_pods);
	tcase_add_test(tc, quantities_and_durations);
	tcase_add_test(tc, cgroup_and_proc_parsers);
	tcase_add_test(tc, cgroup_dirs);
	suite_add_tcase(s, tc);
	return s;
}
