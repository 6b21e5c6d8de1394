#!/bin/bash
# Runs every benchmark (bench/*/run.sh) in turn; `make bench` calls this.
# Each prints its figures beside their anchors; the headline rows they hand to
# bench_row (bench/lib/report.sh) end the run as one table (figure, anchor, ratio,
# the issue's goal and whether it is met), also written to build/bench/results.json
# with each benchmark's exit status and wall time. Exit status 0 only if all succeeded.
# Each benchmark is bounded by `timeout`: 900 s, or its "# bench: timeout SECONDS" head.
# Usage: bench/run.sh [PATTERN]   (PATTERN filters benchmark directories by substring)
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
failed=()
BENCH_ROWS=$(mktemp /tmp/minik8s-bench-rows.XXXXXX)
BENCH_STATUS=$(mktemp /tmp/minik8s-bench-status.XXXXXX)
export BENCH_ROWS
trap 'rm -f "$BENCH_ROWS" "$BENCH_STATUS"' EXIT
# the anchors' tools (wrk, dnsperf, iptables-legacy-restore, ...) come from Debian
sh scripts/deps.sh bench || exit 1
all_start=$(date +%s)
for b in bench/*/run.sh; do
	[ -f "$b" ] || continue
	name=$(basename "$(dirname "$b")")
	[[ -n "$pattern" && "$name" != *"$pattern"* ]] && continue
	# a benchmark may ask for more than the default 15 minutes in its head:
	# "# bench: timeout SECONDS" (bench/scale at 1,000 hollow nodes does)
	limit=$(head -40 "$b" | sed -nE 's/^# bench: timeout ([0-9]+)$/\1/p' | head -1)
	echo "=== bench/$name"
	start=$(date +%s)
	# --kill-after: a benchmark that ignores SIGTERM (stuck in a wait) is still ended
	timeout --kill-after=30 "${limit:-900}" bash "$b"
	rc=$?
	secs=$(($(date +%s) - start))
	note=""
	[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && note=" (timed out after ${limit:-900}s)"
	echo "=== bench/$name: exit $rc (${secs}s)$note"
	printf '%s\t%s\t%s\n' "$name" "$rc" "$secs" >>"$BENCH_STATUS"
	[ "$rc" -eq 0 ] || failed+=("$name")
done
echo "=== all benchmarks: $(($(date +%s) - all_start))s, load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p build/bench
python3 - "$BENCH_ROWS" "$BENCH_STATUS" build/bench/results.json <<'EOF_PY'
import json, os, subprocess, sys, time
keys = ["bench", "what", "figure", "unit", "anchor", "anchor_name", "better", "ratio", "goal", "met"]
rows = []
for line in open(sys.argv[1]):
    r = line.rstrip("\n").split("\t")
    if len(r) == 8:  # a row written without the goal columns: no goal
        r += ["-", "-"]
    if len(r) == len(keys):
        rows.append(dict(zip(keys, r)))
benches = [dict(zip(["bench", "exit", "seconds"], l.split())) for l in open(sys.argv[2]) if l.strip()]
def val(v, unit):
    return f"{v} {unit}" if v not in ("", "-") else "-"
print(f"\n{'summary':<11} {'what':<52} {'figure':>13} {'anchor':>13}  {'anchor is':<34} {'ratio':>7}  {'goal':<20} met")
for r in rows:
    print(f"{r['bench']:<11} {r['what'][:52]:<52} {val(r['figure'], r['unit']):>13} "
          f"{val(r['anchor'], r['unit']):>13}  {r['anchor_name'][:34]:<34} {r['ratio']:>7}  "
          f"{r['goal'][:20]:<20} {r['met']}")
print("(ratio: figure/anchor for rates, anchor/figure for times and sizes: above 1.00 beats the anchor;\n"
      " goal: the issue's target for the row, in the row's unit, or \"Kx\": K times the anchor;\n"
      " met: yes/no; \"-\" when the row has no goal, no figure, or a goal that is not a number)")
goals = [r for r in rows if r["goal"] != "-"]
n = {m: sum(1 for r in goals if r["met"] == m) for m in ("yes", "no", "-")}
print(f"goals: {len(goals)} rows: {n['yes']} met, {n['no']} not met, {n['-']} not judged (no figure, or a goal that is not a number)")
bad = [f"{b['bench']} (exit {b['exit']}, {b['seconds']}s)" for b in benches if b["exit"] != "0"]
if bad:
    print("benchmarks that failed (their rows may be missing or partial): " + ", ".join(bad))
try:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    rev = ""
json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": rev,
           "cpus": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3],
           "benches": benches, "rows": rows}, open(sys.argv[3], "w"), indent=1)
print(f"written: {sys.argv[3]}")
EOF_PY
[ ${#failed[@]} -gt 0 ] && { echo "failing benchmarks: ${failed[*]}"; exit 1; }
exit 0
