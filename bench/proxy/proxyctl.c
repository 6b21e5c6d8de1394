/* proxyctl: drives pkg/proxy from line commands on stdin (used by the proxy
 * e2e tests and benchmarks), or runs the informer-driven runner (--watch).
 *
 *   proxyctl [--netns PATH] [--cidr CIDR] [--bridge NAME] [--dry-run] [--socklb DIR]
 *   (--socklb: also drive the socket LB, attached to cgroup2 directory DIR, with
 *   the same services: sync, apply, synth and synth_change write both)
 *   commands (one per line; each answers one line "ok ..." or "error: ..."):
 *     sync FILE        full sync from a JSON array of {"service":..,"endpoints":..}
 *     apply FILE       apply_change for each item ({"delete":"ns/name"} removes)
 *     synth N EPS      full sync of N synthetic services x EPS endpoints
 *     synth_change I   move one endpoint of synthetic service I (0-based)
 *     exists | remove | quit
 *   proxyctl --watch KUBECONFIG [--netns ...]: runs mk_proxy_start until stdin closes,
 *     printing "synced" after the first sync and "fullsyncs N" on each "fullsyncs" line. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "minik8s/client.h"
#include "minik8s/proxy.h"

static struct mk_proxy_options opts = { .netns_fd = -1 };
static struct mk_proxy_socklb *slb;

static void report(struct mk_proxy *p, uint64_t t0, int rc, struct mk_error *err)
{
	if (rc < 0) {
		printf("error: %s\n", err ? err->msg : "failed");
	} else {
		const struct mk_proxy_stats *s = mk_proxy_last_stats(p);
		printf("ok ms=%.3f messages=%u added=%u deleted=%u chains_added=%u chains_deleted=%u "
		       "rules=%u bytes=%zu ct=%u services=%zu\n",
		       (mk_time_mono_ns() - t0) / 1e6, s->messages, s->elems_added, s->elems_deleted,
		       s->chains_added, s->chains_deleted, s->rules_added, s->bytes, s->ct_deleted,
		       mk_proxy_service_count(p));
	}
	fflush(stdout);
}

static int load_items(const char *file, cJSON **ret, struct mk_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (mk_fs_read_file(file, &data, &len, err) < 0)
		return -1;
	cJSON *j = cJSON_Parse(data);
	if (!cJSON_IsArray(j)) {
		cJSON_Delete(j);
		return mk_error_set(err, EINVAL, "'%s': not a JSON array", file);
	}
	*ret = j;
	return 0;
}

static struct mk_proxy_service *synth(size_t i, size_t eps, uint32_t salt)
{
	struct mk_proxy_service *s = mk_malloc0(sizeof(*s));
	s->key = mk_strdup_printf("bench/svc-%zu", i);
	s->cluster_ip = htonl(0x0a600000u + 1 + (uint32_t)i); /* 10.96.0.1 + i */
	s->n_ports = 1;
	s->ports = mk_malloc0(sizeof(*s->ports));
	s->ports[0].name = mk_strdup("http");
	s->ports[0].protocol = IPPROTO_TCP;
	s->ports[0].port = 80;
	s->ports[0].n_endpoints = eps;
	s->ports[0].endpoints = mk_malloc0((eps ? eps : 1) * sizeof(struct mk_proxy_endpoint));
	for (size_t j = 0; j < eps; j++) {
		/* 10.244.0.0/16 pod IPs, 3 per service, shifted by salt on changes */
		uint32_t ip = 0x0af40000u + (uint32_t)((i * eps + j + salt) % 65000) + 2;
		s->ports[0].endpoints[j] = (struct mk_proxy_endpoint){ htonl(ip), 8080 };
	}
	return s;
}

static int watch_mode(const char *kubeconfig)
{
	_cleanup_error_ struct mk_error *err = NULL;
	struct mk_client_config *cfg = NULL;
	struct mk_client *c = NULL;
	struct mk_proxy_runner *r = NULL;
	if (mk_client_config_load_kubeconfig(kubeconfig, NULL, &cfg, &err) < 0 ||
	    mk_client_new(cfg, &c, &err) < 0) {
		fprintf(stderr, "proxyctl: %s\n", err->msg);
		return 1;
	}
	struct mk_proxy_runner_options ro = { .proxy = opts, .resync_ms = 1000 };
	if (mk_proxy_start(c, &ro, &r, &err) < 0) {
		fprintf(stderr, "proxyctl: %s\n", err->msg);
		mk_client_free(c);
		mk_client_config_free(cfg);
		return 1;
	}
	printf("synced\n");
	fflush(stdout);
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "fullsyncs", 9) == 0)
			printf("fullsyncs %u\n", mk_proxy_runner_full_syncs(r));
		fflush(stdout);
	}
	mk_proxy_stop(r);
	mk_client_free(c);
	mk_client_config_free(cfg);
	return 0;
}

int main(int argc, char **argv)
{
	const char *watch = NULL, *socklb_dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--netns") && i + 1 < argc)
			opts.netns_path = argv[++i];
		else if (!strcmp(argv[i], "--cidr") && i + 1 < argc)
			opts.cluster_cidr = argv[++i];
		else if (!strcmp(argv[i], "--bridge") && i + 1 < argc)
			opts.bridge = argv[++i];
		else if (!strcmp(argv[i], "--watch") && i + 1 < argc)
			watch = argv[++i];
		else if (!strcmp(argv[i], "--dry-run"))
			opts.dry_run = true;
		else if (!strcmp(argv[i], "--socklb") && i + 1 < argc)
			socklb_dir = argv[++i];
		else {
			fprintf(stderr, "usage: proxyctl [--netns PATH] [--cidr CIDR] [--bridge NAME] "
					"[--dry-run] [--socklb DIR] [--watch KUBECONFIG]\n");
			return 2;
		}
	}
	if (watch)
		return watch_mode(watch);

	struct mk_proxy *p = NULL;
	_cleanup_error_ struct mk_error *err = NULL;
	if (mk_proxy_new(&opts, &p, &err) < 0) {
		fprintf(stderr, "proxyctl: %s\n", err->msg);
		return 1;
	}
	if (socklb_dir && !(slb = mk_proxy_socklb_new(socklb_dir, &err))) {
		fprintf(stderr, "proxyctl: %s\n", err->msg);
		mk_proxy_free(p);
		return 1;
	}
	char line[4096];
	uint32_t salt = 0;
	size_t synth_eps = 3;
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", arg[4000] = "";
		long a1 = 0, a2 = 0;
		mk_error_free(&err);
		if (sscanf(line, "%31s %3999s", cmd, arg) < 1)
			continue;
		uint64_t t0 = mk_time_mono_ns();
		int rc = 0;
		if (!strcmp(cmd, "quit")) {
			break;
		} else if (!strcmp(cmd, "sync") || !strcmp(cmd, "apply")) {
			cJSON *items = NULL;
			rc = load_items(arg, &items, &err);
			t0 = mk_time_mono_ns();
			struct mk_proxy_desired d;
			mk_proxy_desired_init(&d);
			const cJSON *it;
			cJSON_ArrayForEach(it, items)
			{
				if (rc < 0)
					break;
				const char *del = mk_json_get_string(it, "delete");
				struct mk_proxy_service *s = NULL;
				if (del) {
					if (!strcmp(cmd, "apply"))
						rc = mk_proxy_apply_change(p, del, NULL, &err);
					if (rc == 0 && slb && !strcmp(cmd, "apply"))
						rc = mk_proxy_socklb_apply(slb, del, NULL, &err);
					continue;
				}
				rc = mk_proxy_service_from_json(mk_json_get(it, "service"),
								mk_json_get(it, "endpoints"), &s, &err);
				if (rc < 0 || !s)
					continue;
				if (!strcmp(cmd, "sync")) {
					mk_proxy_desired_add(&d, s);
				} else {
					rc = mk_proxy_apply_change(p, s->key, s, &err);
					if (rc == 0 && slb)
						rc = mk_proxy_socklb_apply(slb, s->key, s, &err);
					mk_proxy_service_free(s);
				}
			}
			if (rc == 0 && !strcmp(cmd, "sync"))
				rc = mk_proxy_sync_full(p, &d, &err);
			if (rc == 0 && slb && !strcmp(cmd, "sync"))
				rc = mk_proxy_socklb_sync_full(slb, &d, &err);
			mk_proxy_desired_release(&d);
			cJSON_Delete(items);
		} else if (!strcmp(cmd, "synth") && sscanf(line, "%*s %ld %ld", &a1, &a2) == 2) {
			struct mk_proxy_desired d;
			mk_proxy_desired_init(&d);
			synth_eps = (size_t)a2;
			for (long i = 0; i < a1; i++)
				mk_proxy_desired_add(&d, synth((size_t)i, synth_eps, 0));
			t0 = mk_time_mono_ns();
			rc = mk_proxy_sync_full(p, &d, &err);
			if (rc == 0 && slb)
				rc = mk_proxy_socklb_sync_full(slb, &d, &err);
			mk_proxy_desired_release(&d);
		} else if (!strcmp(cmd, "synth_change") && sscanf(line, "%*s %ld", &a1) == 1) {
			/* the service's endpoints shifted by one: one leaves, one arrives */
			struct mk_proxy_service *s = synth((size_t)a1, synth_eps, ++salt);
			t0 = mk_time_mono_ns();
			rc = mk_proxy_apply_change(p, s->key, s, &err);
			if (rc == 0 && slb)
				rc = mk_proxy_socklb_apply(slb, s->key, s, &err);
			mk_proxy_service_free(s);
		} else if (!strcmp(cmd, "exists")) {
			rc = mk_proxy_table_exists(p, &err);
			if (rc >= 0) {
				printf("ok exists=%d\n", rc);
				fflush(stdout);
				continue;
			}
		} else if (!strcmp(cmd, "remove")) {
			rc = mk_proxy_remove(&opts, &err);
		} else {
			rc = mk_error_set(&err, EINVAL, "unknown command '%s'", cmd);
		}
		report(p, t0, rc, err);
	}
	mk_proxy_socklb_free(slb);
	mk_proxy_free(p);
	return 0;
}
