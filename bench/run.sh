#!/bin/bash
# Runs every benchmark (bench/*/run.sh) in turn; `make bench` calls this.
# Each prints its figures beside their anchors. Exit status 0 only if all succeeded.
# Usage: bench/run.sh [PATTERN]   (PATTERN filters benchmark directories by substring)
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
failed=()
# the anchors' tools (wrk, dnsperf, iptables-legacy-restore, ...) come from Debian
sh scripts/deps.sh bench || exit 1
for b in bench/*/run.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$(dirname "$b")")
	[[ -n "$pattern" && "$name" != *"$pattern"* ]] && continue
	echo "=== bench/$name"
	start=$(date +%s)
	timeout 900 bash "$b"
	rc=$?
	echo "=== bench/$name: exit $rc ($(( $(date +%s) - start ))s)"
	[ "$rc" -eq 0 ] || failed+=("$name")
done
[ ${#failed[@]} -gt 0 ] && { echo "failing benchmarks: ${failed[*]}"; exit 1; }
exit 0
