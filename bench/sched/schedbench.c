/* Scheduler throughput in process (bench/sched/run.sh), in the manner of
 * kube-scheduler's scheduler_perf "SchedulingBasic" at 1,000 nodes: NODES simulated
 * nodes (the allocatable of a hollow node: 4 cpu, 8 GiB, 110 pods; half in zone a)
 * in the scheduler's cache and PENDING pending pods (100m cpu, 128 MiB, owned by one
 * of 10 ReplicaSets, a quarter with a nodeSelector on the zone) in the scheduling
 * queue; the decision loop the scheduler's thread runs (pop, filter and score
 * every node from the cached totals, assume, done) places them all:
 *   decisions/s             the real loop (sched_pick_node);
 *   floor decisions/s       the same loop with an O(1) pick (the next node in
 *                           turn): what the queue and the cache cost alone;
 *   ... per CPU second      both again over the thread's CPU time, which a busy
 *                           machine does not skew;
 * run at PENDING and at PENDING/30 pending pods, so a decision that grew with the
 * pending pods would show. Prints "key value" lines.
 *
 * Usage: schedbench NODES PENDING */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/api.h"
#include "../../pkg/controller/internal.h"

static uint64_t now_us(void)
{
	return mk_time_mono_ns() / 1000;
}

static uint64_t cpu_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static struct mk_object *node_obj(int i)
{
	char name[32];
	snprintf(name, sizeof(name), "hollow-%04d", i);
	char *j = mk_strdup_printf(
	    "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"%s\",\"labels\":{"
	    "\"kubernetes.io/hostname\":\"%s\",\"topology.kubernetes.io/zone\":\"%s\"}},"
	    "\"spec\":{\"podCIDR\":\"10.64.%d.0/24\"},\"status\":{\"capacity\":{\"cpu\":\"4\","
	    "\"memory\":\"8Gi\",\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"4\",\"memory\":"
	    "\"8Gi\","
	    "\"pods\":\"110\"},\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
	    name, name, i % 2 ? "b" : "a", i % 256);
	struct mk_object *o = mk_malloc0(sizeof(*o));
	o->json = cJSON_Parse(j);
	o->key = mk_strdup(name);
	o->refs = 1;
	free(j);
	return o;
}

static cJSON *pod_json(int i)
{
	char *j = mk_strdup_printf(
	    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p-%d\",\"namespace\":"
	    "\"bench\","
	    "\"ownerReferences\":[{\"apiVersion\":\"apps/"
	    "v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs-%d\","
	    "\"uid\":\"uid-rs-%d\",\"controller\":true}]},\"spec\":{%s\"containers\":[{\"name\":"
	    "\"c\","
	    "\"image\":\"pause\",\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":"
	    "\"128Mi\"}}}]},"
	    "\"status\":{\"phase\":\"Pending\"}}",
	    i, i % 10, i % 10,
	    i % 4 == 0 ? "\"nodeSelector\":{\"topology.kubernetes.io/zone\":\"a\"}," : "");
	cJSON *p = cJSON_Parse(j);
	free(j);
	return p;
}

/* Places npods pending pods on nnodes nodes; the decisions/s. floor: O(1) pick. */
static double run(int nnodes, int npods, bool floor, int *ret_placed, double *ret_per_cpu_s)
{
	struct sched_cache *c = sched_cache_new();
	struct sched_queue *q = sched_queue_new();
	struct mk_object **nodes = mk_malloc0((size_t)nnodes * sizeof(*nodes));
	cJSON **pods = mk_malloc0((size_t)npods * sizeof(*pods));
	struct mk_hmap by_key;
	mk_hmap_init(&by_key);
	for (int i = 0; i < nnodes; i++) {
		nodes[i] = node_obj(i);
		sched_cache_node_update(c, NULL, nodes[i]);
	}
	char key[48];
	for (int i = 0; i < npods; i++) {
		pods[i] = pod_json(i);
		snprintf(key, sizeof(key), "bench/p-%d", i);
		mk_hmap_put(&by_key, key, pods[i]);
		sched_queue_add(q, key, 0);
	}
	int placed = 0, turn = 0;
	uint64_t t0 = now_us(), c0 = cpu_us();
	char *k;
	uint64_t cycle;
	while (sched_queue_pop(q, 0, &k, &cycle) == 1) {
		const cJSON *pod = mk_hmap_get(&by_key, k); /* the informer's lookup */
		char *best;
		if (floor)
			best = mk_strdup(nodes[turn++ % nnodes]->key);
		else
			best = sched_pick_node(c, pod, NULL);
		if (best) {
			sched_cache_assume(c, k, pod, best);
			placed++;
		}
		sched_queue_done(q, k, cycle, best ? SCHED_DONE : SCHED_UNSCHEDULABLE);
		free(best);
		free(k);
	}
	uint64_t dt = now_us() - t0, dc = cpu_us() - c0;
	if (ret_per_cpu_s)
		*ret_per_cpu_s = npods / ((dc ? dc : 1) / 1e6);
	for (int i = 0; i < nnodes; i++)
		mk_object_unref(nodes[i]);
	for (int i = 0; i < npods; i++)
		cJSON_Delete(pods[i]);
	free(nodes);
	free(pods);
	mk_hmap_release(&by_key, NULL);
	sched_queue_free(q);
	sched_cache_free(c);
	*ret_placed = placed;
	return npods / (dt / 1e6);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: schedbench NODES PENDING\n");
		return 2;
	}
	int nnodes = atoi(argv[1]), npods = atoi(argv[2]);
	if (nnodes <= 0 || npods <= 0) {
		fprintf(stderr, "schedbench: NODES and PENDING must be positive\n");
		return 2;
	}
	int small = npods / 30 > 0 ? npods / 30 : 1, placed;
	double per_cpu, floor_per_cpu;
	double r = run(nnodes, npods, false, &placed, &per_cpu);
	if (placed != npods) {
		fprintf(stderr, "schedbench: placed %d of %d pods\n", placed, npods);
		return 1;
	}
	printf("decisions_per_s %.0f\n", r);
	printf("decisions_per_cpu_s %.0f\n", per_cpu);
	printf("decisions_per_s_small %.0f\n", run(nnodes, small, false, &placed, NULL));
	printf("small_pending %d\n", small);
	printf("floor_decisions_per_s %.0f\n", run(nnodes, npods, true, &placed, &floor_per_cpu));
	printf("floor_decisions_per_cpu_s %.0f\n", floor_per_cpu);
	return 0;
}
