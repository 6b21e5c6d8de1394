/* A container's resources as cgroup limits, with the kubelet's arithmetic
 * (pkg/kubelet/kuberuntime calculateLinuxResources, cm.MilliCPUToShares and
 * MilliCPUToQuota). The runtime writes them through runc: memory.max (v2) or
 * memory.limit_in_bytes (v1), cpu.max or cpu.cfs_quota_us/cfs_period_us, and
 * cpu.weight (runc converts the shares) or cpu.shares. */
#include "internal.h"
#include "minik8s/api.h"

#define MIN_SHARES 2
#define MAX_SHARES 262144
#define QUOTA_PERIOD 100000 /* us, the kubelet's default cpuCFSQuotaPeriod */
#define MIN_QUOTA 1000

void mk_agent_limits_compute(const cJSON *c, struct mk_agent_limits *ret)
{
	const cJSON *lim = mk_json_get(c, "resources.limits");
	const cJSON *req = mk_json_get(c, "resources.requests");
	int64_t cpu_req = mk_api_resource_list_milli(req, "cpu");
	int64_t cpu_lim = mk_api_resource_list_milli(lim, "cpu");
	int64_t mem_lim = mk_api_resource_list_milli(lim, "memory");
	/* a request defaults to the limit */
	int64_t shares_of = cpu_req == 0 && cpu_lim > 0 ? cpu_lim : cpu_req;
	int64_t shares = shares_of > 0 ? shares_of * 1024 / 1000 : MIN_SHARES;
	if (shares < MIN_SHARES)
		shares = MIN_SHARES;
	if (shares > MAX_SHARES)
		shares = MAX_SHARES;
	int64_t quota = 0;
	if (cpu_lim > 0) {
		quota = cpu_lim > INT64_MAX / QUOTA_PERIOD ? INT64_MAX / 1000
							   : cpu_lim * QUOTA_PERIOD / 1000;
		if (quota < MIN_QUOTA)
			quota = MIN_QUOTA;
	}
	*ret = (struct mk_agent_limits){
	    .memory = mem_lim > 0 ? mem_lim / 1000 + (mem_lim % 1000 ? 1 : 0) : 0,
	    .cpu_shares = (uint64_t)shares,
	    .cpu_quota = quota,
	    .cpu_period = QUOTA_PERIOD,
	};
}

uint64_t mk_agent_cpu_weight(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares < MIN_SHARES)
		shares = MIN_SHARES;
	if (shares > MAX_SHARES)
		shares = MAX_SHARES;
	return 1 + ((shares - 2) * 9999) / 262142;
}

#define EVICTION_MEMORY (100LL * 1024 * 1024) /* memory.available<100Mi */
#define EVICTION_NODEFS_PCT 10		      /* nodefs.available<10% */

cJSON *mk_agent_node_allocatable(const cJSON *capacity)
{
	cJSON *a = cJSON_Duplicate(capacity, 1);
	char buf[64];
	int64_t v;
	if (!a)
		return cJSON_CreateObject();
	const char *mem = mk_json_get_string(capacity, "memory");
	if (mem && mk_api_quantity_parse_value(mem, &v, NULL) == 0) {
		v = v > EVICTION_MEMORY ? v - EVICTION_MEMORY : 0;
		/* in Ki as the kubelet prints it, rounded down */
		snprintf(buf, sizeof(buf), "%lldKi", (long long)(v / 1024));
		mk_json_set_string(a, "memory", buf);
	}
	const char *eph = mk_json_get_string(capacity, "ephemeral-storage");
	if (eph && mk_api_quantity_parse_value(eph, &v, NULL) == 0) {
		v -= v / 100 * EVICTION_NODEFS_PCT;
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
		mk_json_set_string(a, "ephemeral-storage", buf);
	}
	return a;
}
