/* minik8s agent --hollow N: N simulated nodes in this process (pkg/agent/hollow.c). */
#include <string.h>
#include "commands.h"
#include "minik8s/agent.h"
#include "minik8s/hollow.h"

int cmd_agent_hollow(struct mk_client_config *cfg, const struct mk_agent_options *o, unsigned count)
{
	_cleanup_error_ struct mk_error *err = NULL;
	_cleanup_free_ char *cred_dir = mk_strdup_printf(
		"%s/agent/hollow", o->data_dir ? o->data_dir : MK_AGENT_DEFAULT_DATA_DIR);
	struct mk_hollow_options ho = {
		.count = count,
		.prefix = o->node_name,
		.node_ip = o->node_ip,
		.cred_dir = cred_dir,
		.heartbeat_ms = o->heartbeat_ms,
	};
	sigset_t sigs;
	cmd_signals_block(&sigs);
	if (!cfg->user_agent)
		cfg->user_agent = mk_strdup("kubelet/v1.32.0 (linux/amd64) minik8s-hollow");
	struct mk_hollow *h = NULL;
	uint64_t t0 = mk_time_mono_ms();
	if (mk_hollow_start(cfg, &ho, &h, &err) < 0) {
		fprintf(stderr, "minik8s agent: %s\n", err->msg);
		mk_client_config_free(cfg);
		return 1;
	}
	fprintf(stderr, "minik8s: %u hollow nodes running (%s-0 .. %s-%u, registered in %llu ms, API %s)\n",
		count, o->node_name ? o->node_name : "hollow", o->node_name ? o->node_name : "hollow",
		count - 1, (unsigned long long)(mk_time_mono_ms() - t0), cfg->server);
	int sig = 0;
	sigwait(&sigs, &sig);
	struct mk_hollow_stats st;
	mk_hollow_get_stats(h, &st);
	fprintf(stderr, "minik8s: %s received, stopping %u hollow nodes (they stay registered): "
		"%llu pods reported Running, %llu deleted, %llu lease renewals, %llu write errors\n",
		strsignal(sig), st.nodes, (unsigned long long)st.pods_running,
		(unsigned long long)st.pods_deleted, (unsigned long long)st.lease_renewals,
		(unsigned long long)st.write_errors);
	mk_hollow_stop(h);
	mk_client_config_free(cfg);
	return 0;
}
