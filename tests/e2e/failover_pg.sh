#!/bin/bash
# Failover on PostgreSQL (issue 17 item 4), the lab of tests/lib/failover.sh: 3 nodes
# as network namespaces on an underlay bridge, PostgreSQL (tests/lib/pg.sh) inside
# node 3's namespace, a minik8s server on nodes 1 and 2 sharing its database, the agent
# with real runc pods on node 3. The ClusterIP lab (2 replicas, a ClusterIP, cluster
# DNS, curl from a pod); kill -9 of the server holding the controllers' Lease while
# ConfigMaps are written through both servers: the other server acknowledges writes
# at once (time printed), takes the Lease and scales the deployment to 3, no
# acknowledged write is missing, no pod is duplicated; everything stopped and started
# again (PostgreSQL included): every object is back with its uid, the pods run again
# and the ClusterIP answers. PostgreSQL is one process: there is no member to kill.
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/pg.sh"
. "$ROOT/tests/lib/failover.sh"
START=$(date +%s)
fo_setup dig runuser

if fo_pg_start >"$T/pg.out" 2>&1; then pass "PostgreSQL in node3's namespace"
else fail "PostgreSQL starts" "$(cat "$T/pg.out")"; done_testing; exit 0; fi

fo_servers_up || { done_testing; exit 0; }
fo_agent_up || { done_testing; exit 0; }
fo_lab "$FO_FOLLOWER"
fo_kill_leader
fo_restart_all
echo "# failover_pg took $(($(date +%s) - START)) s"
done_testing
