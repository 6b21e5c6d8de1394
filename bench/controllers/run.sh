#!/bin/bash
# bench/controllers: controller reaction times, each figure printed beside its anchor.
#   1. scale a deployment 1 -> N (default 100) on one Ready node: time from the scale PATCH
#      to all N pods created and bound (scheduler + replicaset controller), and to the
#      deployment reporting N ready. Readiness is simulated: a pod watch in ctlbench gives
#      each newly bound pod an IP and Ready=True with one PATCH (what the agent would do),
#      so the second figure includes those N writes.
#   2. endpoints update latency: pod Ready=True PATCH acknowledged -> its IP in the service's
#      Endpoints addresses, seen on a watch (p50/p90/max over ROUNDS flips).
# Starts its own `minik8s server` (tests/lib/lib.sh). Knobs: BENCH_CTL_N (100),
# BENCH_CTL_ROUNDS (30), BENCH_MINIK8S (binary to measure).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}
N=${BENCH_CTL_N:-100}
ROUNDS=${BENCH_CTL_ROUNDS:-30}
CTLBENCH="$ROOT/build/bench/controllers/ctlbench"
die() { echo "bench/controllers: $*" >&2; exit 1; }
[ -x "$CTLBENCH" ] || die "$CTLBENCH missing (make)"
start_server || die "server did not start"
ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
api POST /api/v1/nodes -H 'Content-Type: application/json' -d "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"bench-node\"},\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"lastHeartbeatTime\":\"$ts\",\"lastTransitionTime\":\"$ts\"}]}}"
[ "$HTTP_CODE" == 201 ] || die "node create: HTTP $HTTP_CODE $BODY"
echo "anchors: kube-controller-manager's default API client rate limit (QPS 20, burst 30) alone"
echo "         bounds 100 pod creates to >= 3.5 s; endpoints follow readiness within a watch"
echo "         round-trip plus one write (ms)."
out=$(timeout 300 "$CTLBENCH" "$API" "$TOKEN" "$CACERT" "$N" "$ROUNDS")
rc=$?
echo "$out"
# "scale 1->N: all pods created+bound X ms, deployment N/N ready Y ms"
bound=$(sed -nE 's/^scale .*created\+bound ([0-9.]+) ms.*/\1/p' <<<"$out")
# the anchor: client-go's token bucket of kube-controller-manager (burst 30, then 20/s)
kcm=$(awk -v n="$N" 'BEGIN { print (n > 30) ? (n - 30) / 20 * 1000 : 0 }')
. "$ROOT/bench/lib/report.sh"
bench_row controllers "scale 1->$N: all pods created and bound" "$bound" ms "$kcm" "kube-controller-manager QPS limit" lower
bench_row controllers "endpoints: pod Ready -> in Endpoints, p50" \
	"$(sed -nE 's/^endpoints: .* p50 ([0-9.]+) ms.*/\1/p' <<<"$out")" ms - "" lower
exit $rc
