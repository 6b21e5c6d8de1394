#!/bin/bash
# bench/daemonset: a DaemonSet across NODES simulated nodes, beside the same number
# of pods created straight through the API in the same run (dsbench.c):
#   1. NODES pods POSTed one by one, each pinned to a node: time to all Ready
#   2. a DaemonSet: time to its NODES pods Ready and to its status saying so
#   3. template changes rolled out with maxUnavailable 1 and 10%: time to every node
#      updated and available
# Nodes and the kubelet are simulated (Ready nodes created through the API; a pod
# watch marks bound pods Ready and finishes terminating ones), so the figures are
# the API server + scheduler + DaemonSet controller path, not container starts.
# Starts its own `minik8s server` (tests/lib/lib.sh). Knobs: BENCH_DS_NODES (50),
# BENCH_MINIK8S (binary to measure).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}
N=${BENCH_DS_NODES:-50}
DSBENCH="$ROOT/build/bench/daemonset/dsbench"
die() { echo "bench/daemonset: $*" >&2; exit 1; }
[ -x "$DSBENCH" ] || die "$DSBENCH missing (make)"
# simulated nodes post no heartbeats: a grace longer than the run keeps them Ready
start_server --node-monitor-grace-period 10m || die "server did not start"
echo "anchors: the direct pods are the floor (the same creates, scheduling and readiness"
echo "         writes without a controller); kube-controller-manager's client rate limit"
echo "         (QPS 20, burst 30) alone bounds 50 daemon pod creates to >= 1 s; a rollout"
echo "         with maxUnavailable 1 is NODES sequential delete -> create -> Ready rounds."
out=$(timeout 600 "$DSBENCH" "$API" "$TOKEN" "$CACERT" "$N")
rc=$?
echo "$out"
# "direct: N pods POSTed one by one X ms, all Ready Y ms", "daemonset: N pods Ready Z ms, ..."
direct=$(sed -nE 's/^direct: .*all Ready ([0-9.]+) ms.*/\1/p' <<<"$out")
ds=$(sed -nE 's/^daemonset: [0-9]+ pods Ready ([0-9.]+) ms.*/\1/p' <<<"$out")
. "$ROOT/bench/lib/report.sh"
bench_row daemonset "DaemonSet on $N nodes: all pods Ready" "$ds" ms "$direct" \
	"$N pods POSTed directly, same run" lower
exit $rc
