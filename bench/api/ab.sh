#!/bin/bash
# bench/api/ab.sh OLD NEW: pod creates/s and p50/p99 of two minik8s builds side by side
# in one run (the 16-client wrk create of run.sh, durable commits), alternating
# OLD, NEW, OLD, NEW... so that the machine's load falls on both alike. Each round
# starts a fresh server (its own temp dir) per build. Knobs: BENCH_DURATION (s per
# wrk run, default 10), BENCH_ROUNDS (default 2). Each line also gives the server's
# CPU time per create during the run, the steadier figure on a loaded machine.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
[ $# = 2 ] || { echo "usage: $0 OLD_BINARY NEW_BINARY" >&2; exit 2; }
DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-2}
command -v wrk >/dev/null || { echo "bench/api/ab: wrk not installed (scripts/deps.sh bench)" >&2; exit 1; }

# cpu_ticks PID: the process's user + system CPU time so far, in clock ticks. CPU
# per create moves less with the machine's load than the rate does (the load
# generator and other processes take wall time, not the server's CPU time).
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# one BINARY LABEL ROUND: one server, one namespace, one warm create, one wrk run
one() {
	local bin=$1 label=$2 r=$3 out
	MINIK8S=$bin DATA=$T/data-$label-$r PORT= start_server >/dev/null || { echo "$label: server did not start"; return 1; }
	api POST /api/v1/namespaces -H 'Content-Type: application/json' \
		-d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"bench"}}'
	out=$T/wrk-$label-$r.txt
	local cpu0 cpu1
	cpu0=$(cpu_ticks "$SERVER_PID")
	wrk -t2 -c16 -d"$DURATION"s --timeout 10s --latency -s "$HERE/create_pod.lua" "$API" \
		-- "$TOKEN" bench "$label$r" >"$out" 2>&1
	cpu1=$(cpu_ticks "$SERVER_PID")
	stop_server
	local line
	line=$(grep '^RESULT ' "$out") || { echo "$label: no wrk result"; cat "$out"; return 1; }
	eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=/R_\1=/g' <<<"$line")"
	python3 -c "print(f'$label round $r: {$R_requests / ($R_duration_us / 1e6):7.0f} creates/s  p50 {$R_p50_us / 1000:6.2f} ms  p99 {$R_p99_us / 1000:6.2f} ms  non-201 $R_non201  server CPU {($cpu1 - $cpu0) * 1000 / $TICKS / max($R_requests, 1):.3f} ms/create')"
}
for r in $(seq "$ROUNDS"); do
	one "$1" old "$r"
	one "$2" new "$r"
done
