#!/bin/bash
# Container start latency through pkg/runtime beside plain runc (needs root, runc,
# busybox-static). Usage: bench/runtime/run.sh [N]
set -eu
cd "$(dirname "$0")/../.."
R=$(mktemp -d /tmp/mkrt-rootfs.XXXXXX)
trap 'rm -rf "$R"' EXIT
tests/lib/mkrootfs.sh "$R/rootfs" >/dev/null
out=$(build/bench/runtime/runtime_bench "$R/rootfs" "${1:-20}")
echo "$out"
# "  pkg/runtime run        median   X ms", "  runc run -d (anchor)   median   Y ms", ...
med() { awk -v k="$1" 'index($0, k) { for (i = 1; i < NF; i++) if ($i == "median") { print $(i + 1); exit } }' <<<"$out"; }
. bench/lib/report.sh
bench_row runtime "container start, median" "$(med "pkg/runtime run ")" ms "$(med "runc run -d (anchor)")" \
	"runc run -d, same run" lower
bench_row runtime "/bin/true start to recorded exit, median" "$(med "pkg/runtime run+wait")" ms \
	"$(med "runc run (anchor)")" "runc run, same run" lower
