/* dns_serve: runs the minik8s DNS responder on its own, for the DNS benchmark
 * and the e2e tests (tests/e2e/dns_*.sh).
 *
 *   dns_serve [--listen ADDR]... [--port N] [--workers N] [--domain D]
 *             [--zone FILE.json] [--generate N] [--upstream HOST[:PORT]]...
 *             [--resolv-conf PATH] [--timeout-ms N] [--tries N]
 *             [--dummy IFNAME] [--kubeconfig PATH] [--ready-file PATH]
 *
 * --zone loads Services/Endpoints/Pods from a JSON List; --generate adds N
 * ClusterIP services (svc-I.bench, named port http) and N/10 headless ones
 * with 3 endpoints each; --kubeconfig instead feeds the zone from a minik8s
 * API server through informers (mk_dns_start). --dummy puts the first listen
 * address on a dummy link (or lo) first. Writes the bound port to --ready-file
 * once serving, runs until SIGTERM/SIGINT, then prints its counters. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "minik8s/dns.h"
#include "minik8s/client.h"

static void die(const char *what, struct mk_error *err)
{
	fprintf(stderr, "dns_serve: %s: %s\n", what, err ? err->msg : strerror(errno));
	exit(1);
}

static cJSON *generate(int n)
{
	cJSON *items = cJSON_CreateArray();
	char buf[1024];
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf),
			 "{\"kind\":\"Service\",\"metadata\":{\"name\":\"svc-%d\",\"namespace\":\"bench\"},"
			 "\"spec\":{\"clusterIP\":\"10.%d.%d.%d\",\"ports\":[{\"name\":\"http\",\"port\":80,"
			 "\"protocol\":\"TCP\"}]}}",
			 i, 96 + i / 65536, (i / 256) % 256, i % 256);
		cJSON_AddItemToArray(items, cJSON_Parse(buf));
		if (i % 10)
			continue;
		snprintf(buf, sizeof(buf),
			 "{\"kind\":\"Service\",\"metadata\":{\"name\":\"hl-%d\",\"namespace\":\"bench\"},"
			 "\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"name\":\"http\",\"port\":80}]}}", i);
		cJSON_AddItemToArray(items, cJSON_Parse(buf));
		snprintf(buf, sizeof(buf),
			 "{\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"hl-%d\",\"namespace\":\"bench\"},"
			 "\"subsets\":[{\"addresses\":[{\"ip\":\"10.244.%d.%d\"},{\"ip\":\"10.245.%d.%d\"},"
			 "{\"ip\":\"10.246.%d.%d\"}],\"ports\":[{\"name\":\"http\",\"port\":80}]}]}",
			 i, (i / 250) % 256, i % 250 + 1, (i / 250) % 256, i % 250 + 1, (i / 250) % 256,
			 i % 250 + 1);
		cJSON_AddItemToArray(items, cJSON_Parse(buf));
	}
	return items;
}

int main(int argc, char **argv)
{
	const char *listen[9] = { 0 }, *ups[9] = { 0 };
	int nl = 0, nu = 0, gen = 0;
	const char *zone_file = NULL, *resolv = NULL, *domain = NULL, *dummy = NULL;
	const char *kubeconfig = NULL, *ready = NULL;
	struct mk_dns_server_options so = { .netns_fd = -1 };
	struct mk_error *err = NULL;
	static const struct option lo[] = {
		{ "listen", 1, 0, 'l' }, { "port", 1, 0, 'p' }, { "workers", 1, 0, 'w' },
		{ "domain", 1, 0, 'd' }, { "zone", 1, 0, 'z' }, { "generate", 1, 0, 'g' },
		{ "upstream", 1, 0, 'u' }, { "resolv-conf", 1, 0, 'r' }, { "timeout-ms", 1, 0, 't' },
		{ "tries", 1, 0, 'T' }, { "dummy", 1, 0, 'D' }, { "kubeconfig", 1, 0, 'k' },
		{ "ready-file", 1, 0, 'R' }, { 0, 0, 0, 0 }
	};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': if (nl < 8) listen[nl++] = optarg; break;
		case 'p': so.port = (uint16_t)atoi(optarg); break;
		case 'w': so.workers = atoi(optarg); break;
		case 'd': domain = optarg; break;
		case 'z': zone_file = optarg; break;
		case 'g': gen = atoi(optarg); break;
		case 'u': if (nu < 8) ups[nu++] = optarg; break;
		case 'r': resolv = optarg; break;
		case 't': so.forward_timeout_ms = (unsigned)atoi(optarg); break;
		case 'T': so.forward_tries = (unsigned)atoi(optarg); break;
		case 'D': dummy = optarg; break;
		case 'k': kubeconfig = optarg; break;
		case 'R': ready = optarg; break;
		default: fprintf(stderr, "dns_serve: bad usage (see the source header)\n"); return 2;
		}
	}
	so.listen = nl ? listen : NULL;
	so.upstreams = nu ? ups : NULL;

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (dummy) {
		char addr[64], used[16];
		snprintf(addr, sizeof(addr), "%s/32", nl ? listen[0] : "10.96.0.10");
		if (mk_dns_dummy_ensure(-1, dummy, addr, used, &err) < 0)
			die("dummy link", err);
		fprintf(stderr, "dns_serve: %s on %s\n", addr, used);
	}

	struct mk_dns_zone *zone = NULL;
	struct mk_dns_server *srv = NULL;
	struct mk_dns *d = NULL;
	struct mk_client *client = NULL;
	char **rc_ups = NULL;
	if (kubeconfig) {
		struct mk_client_config *cfg = NULL;
		if (mk_client_config_load_kubeconfig(kubeconfig, NULL, &cfg, &err) < 0 ||
		    mk_client_new(cfg, &client, &err) < 0)
			die("client", err);
		mk_client_config_free(cfg);
		struct mk_dns_options o = { .server = so, .domain = domain, .resolv_conf = resolv ? resolv : "" };
		if (mk_dns_start(client, &o, &d, &err) < 0)
			die("start", err);
		zone = mk_dns_get_zone(d);
		srv = mk_dns_get_server(d);
	} else {
		struct mk_dns_zone_options zo = { domain, "10.96.0.10", false };
		if (mk_dns_zone_new(&zo, &zone, &err) < 0)
			die("zone", err);
		if (zone_file) {
			char *text = NULL;
			size_t len;
			if (mk_fs_read_file(zone_file, &text, &len, &err) < 0)
				die("zone file", err);
			cJSON *j = cJSON_Parse(text);
			free(text);
			if (!j || mk_dns_zone_load(zone, j, &err) < 0)
				die("zone load", err);
			cJSON_Delete(j);
		}
		if (gen > 0) {
			cJSON *j = generate(gen);
			if (mk_dns_zone_load(zone, j, &err) < 0)
				die("generate", err);
			cJSON_Delete(j);
		}
		if (!so.upstreams && resolv) {
			const char *skip[10] = { "10.96.0.10" };
			for (int i = 0; i < nl; i++)
				skip[i + 1] = listen[i];
			if (mk_dns_resolv_conf_read(resolv, skip, &rc_ups, &err) < 0)
				die("resolv.conf", err);
			so.upstreams = (const char *const *)rc_ups;
		}
		if (mk_dns_server_start(zone, &so, &srv, &err) < 0)
			die("server", err);
	}
	size_t names, recs;
	mk_dns_zone_stats(zone, &names, &recs);
	fprintf(stderr, "dns_serve: port %u, %zu names, %zu records\n", mk_dns_server_port(srv),
		names, recs);
	if (ready) {
		char p[16];
		int n = snprintf(p, sizeof(p), "%u\n", mk_dns_server_port(srv));
		if (mk_fs_write_file(ready, p, n, 0644, &err) < 0)
			die("ready file", err);
	}
	int sig;
	sigwait(&set, &sig);
	struct mk_dns_server_stats st;
	mk_dns_server_get_stats(srv, &st);
	fprintf(stderr,
		"dns_serve: udp %llu tcp %llu forwarded %llu forward_fail %llu formerr %llu dropped %llu\n",
		(unsigned long long)st.udp_queries, (unsigned long long)st.tcp_queries,
		(unsigned long long)st.forwarded, (unsigned long long)st.forward_fail,
		(unsigned long long)st.formerr, (unsigned long long)st.dropped);
	if (d) {
		mk_dns_stop(d);
		mk_client_free(client);
	} else {
		mk_dns_server_stop(srv);
		mk_dns_zone_free(zone);
	}
	mk_strv_free(rc_ups);
	if (dummy) {
		char addr[64];
		snprintf(addr, sizeof(addr), "%s/32", nl ? listen[0] : "10.96.0.10");
		mk_dns_dummy_delete(-1, dummy, addr, NULL);
	}
	return 0;
}
