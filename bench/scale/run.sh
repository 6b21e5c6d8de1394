#!/bin/bash
# bench/scale: the control plane at 100 and 1,000 nodes, 30 pods a node, on one
# machine: a real `minik8s server` (API, store, controllers, scheduler) and
# `minik8s agent --hollow NODES` (simulated kubelets: each node its own credential,
# Lease and pod watch; pods reported Running without containers), driven by
# scalebench.c. Per size it prints:
#   create rate and latency (16 clients, durable), binding rate, time to all Running;
#   server RSS (and per pod), the hollow process's RSS;
#   LIST of every pod in one response and in pages of 500, beside the floor: the same
#   rows read straight from the server's SQLite file (in the same run) and parsed as
#   the client parses the server's answer;
#   watch fan-out: a pod change reaching 100 watchers (p50 and worst of 10 rounds).
# No peer control plane runs here (kube-apiserver is not in Debian), so the anchors
# are the issue's goals, printed beside the figures: 10,000 creates/s, 5,000
# bindings/s, 3 KB of server memory a pod; and the SQLite floor for LIST.
# Knobs: BENCH_SCALE_NODES ("100 1000"), BENCH_SCALE_PODS_PER_NODE (30),
# BENCH_SCALE_WATCHERS (100), BENCH_MINIK8S (binary to measure). Then mem.sh: server
# memory a pod and creates/s with the in-process transport beside HTTPS loopback.
# bench: timeout 2400
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}
SIZES=${BENCH_SCALE_NODES:-100 1000}
PER=${BENCH_SCALE_PODS_PER_NODE:-30}
W=${BENCH_SCALE_WATCHERS:-100}
SB="$ROOT/build/bench/scale/scalebench"
die() { echo "bench/scale: $*" >&2; exit 1; }
[ -x "$SB" ] || die "$SB missing (make)"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
# size_table NODES: the table of one size's figures
size_table() {
	local nodes=$1
	row() { printf '%-34s %10s %10s %12s %7s\n' "$1" "$nodes" "$2" "$3" "$4"; }
	printf '\n%-34s %10s %10s %12s %7s\n' "bench/scale" "nodes" "figure" "anchor" "ratio"
	row "node registration (s)" "${R[$nodes.reg_s]}" "-" "-"
	row "pod creates/s (16 clients)" "${R[$nodes.create_per_s]}" "10000 goal" \
		"$(ratio "${R[$nodes.create_per_s]}" 10000)"
	row "create p99 (ms)" "${R[$nodes.create_p99_ms]}" "20 goal" "$(ratio 20 "${R[$nodes.create_p99_ms]}")"
	row "bindings/s" "${R[$nodes.bind_per_s]}" "5000 goal" "$(ratio "${R[$nodes.bind_per_s]}" 5000)"
	row "all Running after (s)" "${R[$nodes.all_running_s]}" "-" "-"
	row "server RSS (MB)" "${R[$nodes.server_rss_mb]}" "-" "-"
	row "server KB a pod" "${R[$nodes.server_kb_pod]}" "3 goal" "$(ratio 3 "${R[$nodes.server_kb_pod]}")"
	row "hollow process RSS (MB)" "${R[$nodes.hollow_rss_mb]}" "-" "-"
	row "LIST all pods, one response (ms)" "${R[$nodes.list_full_ms]}" "${R[$nodes.list_floor_ms]} sqlite" \
		"$(ratio "${R[$nodes.list_floor_ms]}" "${R[$nodes.list_full_ms]}")"
	row "LIST in pages of 500 (ms)" "${R[$nodes.list_paged_ms]}" "${R[$nodes.list_floor_ms]} sqlite" \
		"$(ratio "${R[$nodes.list_floor_ms]}" "${R[$nodes.list_paged_ms]}")"
	row "watch fan-out to $W, p50 (ms)" "${R[$nodes.fanout_p50_ms]}" "-" "-"
	row "watch fan-out to $W, worst (ms)" "${R[$nodes.fanout_max_ms]}" "-" "-"
}

. "$HERE/../lib/report.sh"
# size_rows NODES: one size's headline rows for make bench's summary
size_rows() {
	local nodes=$1
	bench_row scale "pod creates/s at $nodes nodes" "${R[$nodes.create_per_s]}" "/s" 10000 "issue 15 goal" higher ">= 10000 /s"
	bench_row scale "bindings/s at $nodes nodes" "${R[$nodes.bind_per_s]}" "/s" 5000 "issue 15 goal" higher ">= 5000 /s"
	bench_row scale "server KB a pod at $nodes nodes" "${R[$nodes.server_kb_pod]}" KB 3 "issue 15 goal" lower "<= 3 KB/pod"
	bench_row scale "LIST $((nodes * PER)) pods (paged)" "${R[$nodes.list_paged_ms]}" ms "${R[$nodes.list_floor_ms]}" "SQLite read of the rows, parsed" lower "constant memory"
	bench_row scale "watch fan-out to $W at $nodes nodes" "${R[$nodes.fanout_p50_ms]}" ms - "" lower
}

declare -A R
status=0
for nodes in $SIZES; do
	pods=$((nodes * PER))
	DATA=$T/data-$nodes PORT=$(free_port)
	unset KUBECONFIG
	# 4,096 /24 pod CIDRs; a hollow node holds a watch and keep-alive connections, and
	# while nodes register their credential requests' connections too
	start_server --cluster-cidr 10.64.0.0/12 --max-connections $((nodes * 4 + 512)) \
		--node-monitor-grace-period 10m || die "server did not start"
	base_rss=$(rss_kb "$SERVER_PID")
	t0=$(date +%s%N)
	"$MINIK8S" agent --server "$API" --token "$(cat "$DATA/node-token")" --data-dir "$T/agent-$nodes" \
		--hollow "$nodes" >"$T/hollow-$nodes.log" 2>&1 &
	HP=$!
	_PIDS+=("$HP")
	for i in $(seq 3000); do grep -q "hollow nodes running" "$T/hollow-$nodes.log" && break
		kill -0 "$HP" 2>/dev/null || die "hollow agent exited: $(tail -3 "$T/hollow-$nodes.log")"; sleep 0.2; done
	reg_s=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	echo "== $nodes hollow nodes registered in ${reg_s} s; $pods pods" >&2
	if ! out=$(timeout 1200 "$SB" "$API" "$TOKEN" "$CACERT" "$pods" "$W" "$DATA/state.db"); then
		# this size fails; the sizes before it keep their rows and mem.sh still runs
		echo "bench/scale: scalebench failed at $nodes nodes: $(tail -3 <<<"$out")" >&2
		status=1
		kill "$HP"; wait "$HP" 2>/dev/null
		stop_server
		continue
	fi
	while read -r k v; do R[$nodes.$k]=$v; done <<<"$out"
	R[$nodes.server_rss_mb]=$(awk -v k="$(rss_kb "$SERVER_PID")" 'BEGIN { printf "%.0f", k / 1024 }')
	R[$nodes.server_kb_pod]=$(awk -v k="$(rss_kb "$SERVER_PID")" -v b="$base_rss" -v p="$pods" \
		'BEGIN { printf "%.1f", (k - b) / p }')
	R[$nodes.hollow_rss_mb]=$(awk -v k="$(rss_kb "$HP")" 'BEGIN { printf "%.0f", k / 1024 }')
	R[$nodes.reg_s]=$reg_s
	kill "$HP"; wait "$HP" 2>/dev/null
	stop_server
	# this size's figures now, so a later, larger size that fails or is cut short
	# does not take them with it
	size_table "$nodes"
	size_rows "$nodes"
done
echo "(ratio: figure/anchor for rates, anchor/figure for times and memory; 1.00 = at the anchor)"
# server memory a pod and creates/s, in-process controllers beside HTTPS loopback
bash "$HERE/mem.sh" || { echo "bench/scale: mem.sh failed"; status=1; }
exit "$status"
