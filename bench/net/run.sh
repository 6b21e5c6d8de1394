#!/bin/bash
# Pod network setup through pkg/net beside iproute2 commands (needs root).
# Usage: bench/net/run.sh [PODS, default 30]
cd "$(dirname "$0")/../.."
out=$(build/bench/net/net_bench "${1:-30}") || { echo "$out"; exit 1; }
echo "$out"
# "  pkg/net (libnl):    S ms/pod setup  T ms/pod teardown", the same for iproute2
fig() { awk -v k="$1" 'index($0, k) { print $(NF - 5); exit }' <<<"$out"; }
. bench/lib/report.sh
bench_row net "pod network setup, ms a pod" "$(fig "pkg/net (libnl):")" ms "$(fig "iproute2 commands:")" \
	"iproute2 commands, same run" lower
