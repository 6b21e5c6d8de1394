#!/bin/bash
# Failover on etcd (issue 17 item 4), the lab of tests/lib/failover.sh: 3 nodes as
# network namespaces on an underlay bridge, an etcd member on each (Debian's
# etcd-server, tests/lib/etcd.sh), a minik8s server on nodes 1 and 2 (each naming its
# own member first in --datastore-endpoint), the agent with real runc pods on node 3.
# The ClusterIP lab (2 replicas, a ClusterIP, cluster DNS, curl from a pod); kill -9 of
# the server holding the controllers' Lease while ConfigMaps are written through both
# servers: the other server acknowledges writes at once (time printed), takes the Lease
# and scales the deployment to 3, no acknowledged write is missing, no pod is
# duplicated; kill -9 of the surviving server's own etcd member: writes and reads go on;
# everything stopped and started again (etcd members included): every object is back
# with its uid, the pods run again and the ClusterIP answers.
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/etcd.sh"
. "$ROOT/tests/lib/failover.sh"
START=$(date +%s)
fo_setup etcd etcdctl dig

if fo_etcd_start; then pass "3 etcd members, one per node"
else fail "3 etcd members" "see $T/etcd"; done_testing; exit 0; fi

fo_servers_up || { done_testing; exit 0; }
fo_agent_up || { done_testing; exit 0; }
fo_lab "$FO_FOLLOWER"
fo_kill_leader

# one etcd member killed: the surviving server's own (its first endpoint)
F=$FO_FOLLOWER
etcd_member_kill $((F - 1))
t0=$(fo_now)
code=
for i in $(seq 100); do code=$(fo_cm_create "$F" "after-member-kill-$i"); [ "$code" == 201 ] && break; sleep 0.2; done
if [ "$code" == 201 ]; then pass "etcd member $((F - 1)) killed: a write through node$F is acknowledged"
else fail "etcd member killed: a write through node$F" "HTTP $code"; fi
echo "# etcd member on node$F killed -> write acknowledged: $(fo_ms_since "$t0") ms"
expect_eq "and read back" "$(KS "$F" get configmap "after-member-kill-$i" -o jsonpath='{.data.k}' 2>&1)" "after-member-kill-$i"
KS "$F" -n demo scale deployment php-echo --replicas=2 >/dev/null 2>&1
two_live() { [ "$(fo_rs_pods "$F" | wc -l)" == 2 ]; }
fo_wait 300 two_live || fail "with a member down: scaled to 2" "$(KS "$F" -n demo get pods -o wide 2>&1)"
KS "$F" -n demo scale deployment php-echo --replicas=3 >/dev/null 2>&1
if fo_wait 300 fo_n_ready "$F" 3; then pass "with a member down the controllers still act (scaled 3 -> 2 -> 3)"
else fail "with a member down the controllers act" "$(KS "$F" -n demo get pods -o wide 2>&1)"; fi
fo_no_duplicates "with a member down" "$F" 3

fo_restart_all
echo "# failover_etcd took $(($(date +%s) - START)) s"
done_testing
