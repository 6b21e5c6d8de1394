/* NetworkPolicy programming benchmark (bench/netpol/run.sh): builds N synthetic
 * pods in NS namespaces and P policies, all pods on this node (the worst case),
 * then programs them with pkg/netpol into the calling netns (which must hold a
 * bridge named mk0), then changes one pod's label and applies the diff, as the
 * runner does: the model is kept, takes the event and the programmer sends the
 * element diff of the sets it touched. Prints one line per step:
 * "step=NAME ms=M messages=N elems=+A/-D full=0|1". --dry-run builds the
 * batches without sending them (counts only, no netns needed). With --iptables
 * FILE it also writes an equivalent iptables-restore ruleset (one chain per
 * policy, one rule per subject pod and per peer pod: what iptables-based policy
 * agents without ipset produce) and FILE.change, the policy chains a single label
 * change rewrites. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "minik8s/netpol.h"
#include "minik8s/util.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of this process: the model's cost apart from a loaded machine's waits */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *pod_json(int i, int nns, const char *role)
{
	char *s = NULL;
	/* 10.244.x.y, app cycles over 10 values per namespace */
	if (asprintf(&s,
		     "{\"metadata\":{\"namespace\":\"ns%d\",\"name\":\"p%d\",\"labels\":{\"app\":\"a%d\",\"role\":\"%s\"}},"
		     "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"ports\":[{\"name\":\"http\",\"containerPort\":%d}]}]},"
		     "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.244.%d.%d\"}}",
		     i % nns, i, (i / nns) % 10, role, 8000 + i % 100, 1 + i / 250, 1 + i % 250) < 0)
		abort();
	return s;
}

int main(int argc, char **argv)
{
	int npods = 10000, npol = 1000, nns = 100;
	const char *ipt = NULL;
	bool dry = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pods") && i + 1 < argc)
			npods = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--policies") && i + 1 < argc)
			npol = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--iptables") && i + 1 < argc)
			ipt = argv[++i];
		else if (!strcmp(argv[i], "--dry-run"))
			dry = true;
		else {
			fprintf(stderr, "usage: npbench [--pods N] [--policies P] [--iptables FILE] [--dry-run]\n");
			return 2;
		}
	}
	cJSON **pods = calloc((size_t)npods, sizeof(*pods));
	cJSON **pols = calloc((size_t)npol, sizeof(*pols));
	cJSON **nss = calloc((size_t)nns, sizeof(*nss));
	for (int i = 0; i < npods; i++) {
		char *s = pod_json(i, nns, i % 3 ? "client" : "server");
		pods[i] = cJSON_Parse(s);
		free(s);
	}
	for (int i = 0; i < nns; i++) {
		char s[256];
		snprintf(s, sizeof(s), "{\"metadata\":{\"name\":\"ns%d\",\"labels\":{\"team\":\"t%d\"}}}", i, i);
		nss[i] = cJSON_Parse(s);
	}
	/* policy k in namespace k%nns: pods app=a(k/nns%10) accept role=client of
	 * their namespace on TCP 80 and the port named http, and anything from
	 * the next namespace (namespaceSelector team=t(ns+1)) on UDP 53 */
	for (int k = 0; k < npol; k++) {
		char s[1024];
		snprintf(s, sizeof(s),
			 "{\"metadata\":{\"namespace\":\"ns%d\",\"name\":\"pol%d\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"a%d\"}},"
			 "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"role\":\"client\"}}}],\"ports\":[{\"port\":80},{\"port\":\"http\"}]},"
			 "{\"from\":[{\"namespaceSelector\":{\"matchLabels\":{\"team\":\"t%d\"}}}],\"ports\":[{\"protocol\":\"UDP\",\"port\":53}]}]}}",
			 k % nns, k, (k / nns) % 10, (k % nns + 1) % nns);
		pols[k] = cJSON_Parse(s);
	}
	struct mk_netpol_input in = { .node = "n1", .policies = (const cJSON *const *)pols,
				      .npolicies = (size_t)npol, .pods = (const cJSON *const *)pods,
				      .npods = (size_t)npods, .namespaces = (const cJSON *const *)nss,
				      .nnamespaces = (size_t)nns };
	struct mk_netpol_options o = { .netns_fd = -1, .cluster_cidr = "10.244.0.0/16", .bridge = "mk0",
				       .dry_run = dry };
	struct mk_netpol *np = NULL;
	struct mk_error *err = NULL;
	if (mk_netpol_new(&o, &np, &err) < 0) {
		printf("error %s\n", err->msg);
		return 1;
	}
	/* the runner's way: a model kept between events, loaded once (the full
	 * rebuild), then brought up to date per event */
	struct mk_netpol_model *m = mk_netpol_model_new("n1");
	double t0 = now_ms(), c0 = cpu_ms();
	mk_netpol_model_load(m, &in, &err);
	double t1 = now_ms(), c1 = cpu_ms();
	const struct mk_netpol_ruleset *rs = mk_netpol_model_ruleset(m);
	if (mk_netpol_apply(np, rs, &err) < 0) {
		printf("error %s\n", err->msg);
		return 1;
	}
	double t2 = now_ms();
	const struct mk_netpol_stats *st = mk_netpol_last_stats(np);
	printf("step=model ms=%.1f cpu_ms=%.1f sets=%zu rules=%zu\n", t1 - t0, c1 - c0, rs->nsets, rs->nrules);
	printf("step=full ms=%.1f messages=%u elems=+%u/-%u full=%d bytes=%zu\n", t2 - t1, st->messages,
	       st->elems_added, st->elems_deleted, st->full, st->bytes);
	/* one pod's role label flips: client -> server; the model takes the
	 * event (one selector match per set), the programmer sends the diff */
	cJSON_Delete(pods[1]);
	char *s = pod_json(1, nns, "server");
	pods[1] = cJSON_Parse(s);
	free(s);
	t0 = now_ms();
	c0 = cpu_ms();
	mk_netpol_model_set_pod(m, "ns1/p1", pods[1]);
	t1 = now_ms();
	c1 = cpu_ms();
	if (mk_netpol_apply(np, mk_netpol_model_ruleset(m), &err) < 0) {
		printf("error %s\n", err->msg);
		return 1;
	}
	t2 = now_ms();
	printf("step=model_change ms=%.2f cpu_ms=%.2f\n", t1 - t0, c1 - c0);
	printf("step=change ms=%.2f messages=%u elems=+%u/-%u full=%d bytes=%zu\n", t2 - t1, st->messages,
	       st->elems_added, st->elems_deleted, st->full, st->bytes);
	/* one policy changes (a port more): the sets and rules are rebuilt from
	 * the policies, kept sets keep their elements, the tables are replaced */
	cJSON *pol0 = cJSON_Duplicate(pols[0], true);
	cJSON *p0ports = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(mk_json_get(pol0, "spec.ingress"), 0), "ports");
	cJSON *extra = cJSON_CreateObject();
	cJSON_AddNumberToObject(extra, "port", 81);
	cJSON_AddItemToArray(p0ports, extra);
	t0 = now_ms();
	c0 = cpu_ms();
	mk_netpol_model_set_policy(m, "ns0/pol0", pol0);
	t1 = now_ms();
	c1 = cpu_ms();
	if (mk_netpol_apply(np, mk_netpol_model_ruleset(m), &err) < 0) {
		printf("error %s\n", err->msg);
		return 1;
	}
	t2 = now_ms();
	cJSON_Delete(pol0);
	printf("step=model_policy ms=%.1f cpu_ms=%.1f\n", t1 - t0, c1 - c0);
	printf("step=policy ms=%.1f messages=%u elems=+%u/-%u full=%d bytes=%zu\n", t2 - t1, st->messages,
	       st->elems_added, st->elems_deleted, st->full, st->bytes);
	if (ipt) {
		/* the same decisions as iptables rules: per policy a chain that
		 * accepts its peers, reached from FORWARD per subject pod */
		FILE *f = fopen(ipt, "w");
		char chg[4096];
		snprintf(chg, sizeof(chg), "%s.change", ipt);
		FILE *c = fopen(chg, "w");
		if (!f || !c)
			return 1;
		fprintf(f, "*filter\n:FORWARD ACCEPT [0:0]\n:NP-INGRESS - [0:0]\n");
		fprintf(c, "*filter\n");
		for (int k = 0; k < npol; k++)
			fprintf(f, ":NP-%d - [0:0]\n", k);
		fprintf(f, "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n-A FORWARD -j NP-INGRESS\n");
		for (int k = 0; k < npol; k++) {
			int ns = k % nns, app = (k / nns) % 10;
			for (int i = ns; i < npods; i += nns)
				if ((i / nns) % 10 == app)
					fprintf(f, "-A NP-INGRESS -d 10.244.%d.%d/32 -j NP-%d\n", 1 + i / 250, 1 + i % 250, k);
			/* the chain's body, also written to .change for the
			 * policies whose peers the changed pod (1, ns1) is in */
			for (int pass = 0; pass < 2; pass++) {
				FILE *out = pass ? c : f;
				if (pass && ns != 1)
					continue;
				if (pass)
					fprintf(c, "-F NP-%d\n", k);
				for (int i = ns; i < npods; i += nns)
					if ((i % 3) && !(pass && i == 1))
						fprintf(out, "-A NP-%d -s 10.244.%d.%d/32 -p tcp --dport 80 -j ACCEPT\n", k,
							1 + i / 250, 1 + i % 250);
				for (int i = ns; i < npods; i += nns)
					if ((i / nns) % 10 == app)
						fprintf(out, "-A NP-%d -d 10.244.%d.%d/32 -p tcp --dport %d -j ACCEPT\n", k,
							1 + i / 250, 1 + i % 250, 8000 + i % 100);
				for (int i = (ns + 1) % nns; i < npods; i += nns)
						fprintf(out, "-A NP-%d -s 10.244.%d.%d/32 -p udp --dport 53 -j ACCEPT\n", k,
							1 + i / 250, 1 + i % 250);
				fprintf(out, "-A NP-%d -j DROP\n", k);
			}
		}
		fprintf(f, "COMMIT\n");
		fprintf(c, "COMMIT\n");
		fclose(f);
		fclose(c);
	}
	mk_netpol_model_free(m);
	mk_netpol_free(np);
	return 0;
}
