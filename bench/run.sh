#!/bin/bash
# Runs every benchmark (bench/*/run.sh) in turn; `make bench` calls this.
# Each prints its figures beside their anchors; the headline rows they hand to
# bench_row (bench/lib/report.sh) end the run as one table (figure, anchor, ratio),
# also written to build/bench/results.json. Exit status 0 only if all succeeded.
# Usage: bench/run.sh [PATTERN]   (PATTERN filters benchmark directories by substring)
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
failed=()
BENCH_ROWS=$(mktemp /tmp/minik8s-bench-rows.XXXXXX)
export BENCH_ROWS
trap 'rm -f "$BENCH_ROWS"' EXIT
# the anchors' tools (wrk, dnsperf, iptables-legacy-restore, ...) come from Debian
sh scripts/deps.sh bench || exit 1
for b in bench/*/run.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$(dirname "$b")")
	[[ -n "$pattern" && "$name" != *"$pattern"* ]] && continue
	# a benchmark may ask for more than the default 15 minutes in its head:
	# "# bench: timeout SECONDS" (bench/scale at 1,000 hollow nodes does)
	limit=$(head -40 "$b" | sed -nE 's/^# bench: timeout ([0-9]+)$/\1/p' | head -1)
	echo "=== bench/$name"
	start=$(date +%s)
	timeout "${limit:-900}" bash "$b"
	rc=$?
	echo "=== bench/$name: exit $rc ($(( $(date +%s) - start ))s)"
	[ "$rc" -eq 0 ] || failed+=("$name")
done
mkdir -p build/bench
python3 - "$BENCH_ROWS" build/bench/results.json <<'PY'
import json, subprocess, sys, time
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
keys = ["bench", "what", "figure", "unit", "anchor", "anchor_name", "better", "ratio"]
rows = [dict(zip(keys, r)) for r in rows if len(r) == len(keys)]
print(f"\n{'summary':<12} {'what':<44} {'figure':>12} {'anchor':>12}  {'anchor is':<30} {'ratio':>6}")
for r in rows:
    print(f"{r['bench']:<12} {r['what']:<44} {r['figure']+' '+r['unit']:>12} {r['anchor']+' '+r['unit']:>12}  "
          f"{r['anchor_name']:<30} {r['ratio']:>6}")
print("(ratio: figure/anchor for rates, anchor/figure for times and sizes: above 1.00 beats the anchor)")
try:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    rev = ""
json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": rev,
           "cpus": __import__("os").cpu_count(), "rows": rows}, open(sys.argv[2], "w"), indent=1)
print(f"written: {sys.argv[2]}")
PY
[ ${#failed[@]} -gt 0 ] && { echo "failing benchmarks: ${failed[*]}"; exit 1; }
exit 0
