#!/bin/bash
# bench/sched: the scheduler at 1,000 simulated nodes.
#  1. In process (schedbench.c): scheduling decisions/s of the scheduler's own loop
#     (its queue, its cache of per-node totals, filters and scoring over every
#     node, assume), as kube-scheduler's scheduler_perf measures its algorithm;
#     beside it the floor, the same loop with an O(1) pick, in the same run; and
#     the same at 1/30 of the pending pods (a cost per decision that grew with the
#     pending pods would show as a gap); and both rates over the deciding thread's
#     CPU time, which the other load of a shared machine does not skew.
#  2. End to end: a real `minik8s server` and `minik8s agent --hollow NODES`;
#     bench/scale's client creates PODS pods (16 clients, durable) and waits until
#     a watch has seen every one bound: bindings/s through the server. perf
#     samples the server meanwhile and the top of its profile is printed, which
#     says where the time of a binding goes (each pod costs durable writes: the
#     create, the bind, PodScheduled, the hollow node's status, an Event).
# The anchor of both rows is issue 15's goal, 5,000 bindings/s; kube-scheduler's
# scheduler_perf reports a few hundred pods/s at 5,000 nodes (not runnable here:
# no kube-scheduler in Debian).
# Knobs: BENCH_SCHED_NODES (1000), BENCH_SCHED_PENDING (30000, in process),
# BENCH_SCHED_PODS (5000, end to end; 0 skips it), BENCH_MINIK8S (binary).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}
NODES=${BENCH_SCHED_NODES:-1000}
PENDING=${BENCH_SCHED_PENDING:-30000}
PODS=${BENCH_SCHED_PODS:-5000}
SCHB="$ROOT/build/bench/sched/schedbench"
SB="$ROOT/build/bench/scale/scalebench"
die() { echo "bench/sched: $*" >&2; exit 1; }
[ -x "$SCHB" ] && [ -x "$SB" ] || die "$SCHB or $SB missing (make)"

declare -A R
out=$("$SCHB" "$NODES" "$PENDING") || die "schedbench failed: $out"
while read -r k v; do R[$k]=$v; done <<<"$out"

PROFILE=""
if [ "$PODS" -gt 0 ]; then
	PORT=$(free_port)
	unset KUBECONFIG
	start_server --cluster-cidr 10.64.0.0/12 --max-connections $((NODES * 3 + 512)) \
		--node-monitor-grace-period 10m || die "server did not start"
	"$MINIK8S" agent --server "$API" --token "$(cat "$DATA/node-token")" --data-dir "$T/agent" \
		--hollow "$NODES" >"$T/hollow.log" 2>&1 &
	HP=$!
	_PIDS+=("$HP")
	for _ in $(seq 3000); do grep -q "hollow nodes running" "$T/hollow.log" && break
		kill -0 "$HP" 2>/dev/null || die "hollow agent exited: $(tail -3 "$T/hollow.log")"; sleep 0.2; done
	grep -q "hollow nodes running" "$T/hollow.log" || die "hollow nodes did not register"
	PERF_PID=""
	if command -v perf >/dev/null; then
		perf record -F 199 -g -p "$SERVER_PID" -o "$T/perf.data" >/dev/null 2>&1 &
		PERF_PID=$!
	fi
	# one watcher: bench/scale measures the fan-out; here only the bindings count
	out=$(timeout 900 "$SB" "$API" "$TOKEN" "$CACERT" "$PODS" 1 "$DATA/state.db") ||
		die "scalebench failed: $out"
	while read -r k v; do R[e2e.$k]=$v; done <<<"$out"
	if [ -n "$PERF_PID" ]; then
		kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null
		# where the server's time goes: by library, then by function (self time;
		# the binary has no frame pointers, so no inclusive view)
		PROFILE=$(perf report -i "$T/perf.data" --stdio --no-children --sort dso 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -8
			echo "  by function:"
			perf report -i "$T/perf.data" --stdio --no-children --sort dso,sym 2>/dev/null |
			grep -E '^ +[0-9.]+%' | head -20)
	fi
	kill "$HP"; wait "$HP" 2>/dev/null
	stop_server
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
row() { printf '%-52s %12s %14s %7s\n' "$1" "$2" "$3" "$4"; }
printf '\n%-52s %12s %14s %7s\n' "bench/sched ($NODES nodes)" "figure" "anchor" "ratio"
row "decisions/s in process, $PENDING pending" "${R[decisions_per_s]}" "5000 goal" \
	"$(ratio "${R[decisions_per_s]}" 5000)"
row "  floor: same loop, O(1) pick" "${R[floor_decisions_per_s]}" "-" \
	"$(ratio "${R[decisions_per_s]}" "${R[floor_decisions_per_s]}")"
row "decisions per CPU second (thread CPU time)" "${R[decisions_per_cpu_s]}" "5000 goal" \
	"$(ratio "${R[decisions_per_cpu_s]}" 5000)"
row "  floor per CPU second" "${R[floor_decisions_per_cpu_s]}" "-" \
	"$(ratio "${R[decisions_per_cpu_s]}" "${R[floor_decisions_per_cpu_s]}")"
row "decisions/s in process, ${R[small_pending]} pending" "${R[decisions_per_s_small]}" \
	"${R[decisions_per_s]} at $PENDING" "$(ratio "${R[decisions_per_s]}" "${R[decisions_per_s_small]}")"
if [ "$PODS" -gt 0 ]; then
	row "bindings/s end to end, $PODS pods" "${R[e2e.bind_per_s]}" "5000 goal" \
		"$(ratio "${R[e2e.bind_per_s]}" 5000)"
	row "  pod creates/s meanwhile (16 clients)" "${R[e2e.create_per_s]}" "-" "-"
	row "  all bound after the last create (ms)" "${R[e2e.bind_after_last_create_ms]}" "-" "-"
fi
echo "(floor rows: ratio = the loop's rate over the floor's; pending row: at $PENDING over at ${R[small_pending]};"
echo " per CPU second: over the deciding thread's CPU time, which other load on the machine does not skew)"
if [ -n "$PROFILE" ]; then
	echo "server profile while binding (perf, self time; the scheduler's functions are sched_*):"
	echo "$PROFILE"
fi
. "$HERE/../lib/report.sh"
bench_row sched "decisions/s at $NODES nodes (in process)" "${R[decisions_per_s]}" "/s" 5000 "issue 15 goal" higher
bench_row sched "decisions/s, O(1)-pick floor" "${R[decisions_per_s]}" "/s" "${R[floor_decisions_per_s]}" "same loop, O(1) pick" higher
bench_row sched "decisions per CPU s at $NODES nodes" "${R[decisions_per_cpu_s]}" "/s" 5000 "issue 15 goal" higher
if [ "$PODS" -gt 0 ]; then
	bench_row sched "bindings/s at $NODES nodes (end to end)" "${R[e2e.bind_per_s]}" "/s" 5000 "issue 15 goal" higher
fi
