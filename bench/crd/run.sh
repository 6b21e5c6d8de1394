#!/bin/bash
# bench/crd: custom-object creates/s beside built-in pod creates/s, same server, same
# run, printed side by side (issue 12): wrk over TLS with a bearer token, unique
# names, durable commits, 1 and 16 concurrent clients. Custom objects are
# CronTabs of examples/crd.yaml (schema validation, defaults, pruning); pods are
# bench/api's ~1.6 KB pod (they stay Pending: the server runs without an agent).
# Starts its own `minik8s server` in a temp dir (tests/lib/lib.sh); about
# 4 x BENCH_DURATION seconds. Knobs: BENCH_DURATION (s per wrk run, default 10),
# BENCH_MINIK8S (binary). Exit status: 0 when every run created all it sent.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}
DURATION=${BENCH_DURATION:-10}
KUBECTL=${KUBECTL:-/usr/bin/kubectl}
NS=bench
status=0

die() { echo "bench/crd: $*" >&2; exit 1; }
for tool in wrk curl python3 "$KUBECTL"; do
	command -v "$tool" >/dev/null || die "'$tool' not installed (scripts/deps.sh bench)"
done
[ -x "$MINIK8S" ] || die "build/minik8s missing (make)"
start_server || die "server did not start"
echo "bench/crd: server pid $SERVER_PID at $API (data $DATA)"

api POST /api/v1/namespaces -H 'Content-Type: application/json' \
	-d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}"
[ "$HTTP_CODE" = 201 ] || die "create namespace: HTTP $HTTP_CODE: $BODY"
HOME=$T "$KUBECTL" --cache-dir "$T/kcache" apply -f "$ROOT/examples/crd.yaml" >/dev/null 2>&1 ||
	die "kubectl apply examples/crd.yaml failed"
served() { api GET "/apis/stable.example.com/v1/namespaces/$NS/crontabs"; [ "$HTTP_CODE" = 200 ]; }
wait_until 50 served || die "the CronTab kind is not served: HTTP $HTTP_CODE"

# run_wrk SCRIPT THREADS CONNECTIONS PREFIX: sets R_* from the script's RESULT line
run_wrk() {
	local out="$T/wrk-$4.txt" line
	wrk -t"$2" -c"$3" -d"$DURATION"s --timeout 10s --latency -s "$1" "$API" \
		-- "$TOKEN" "$NS" "$4" >"$out" 2>&1
	line=$(grep '^RESULT ' "$out") || { cat "$out"; die "wrk produced no result"; }
	eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=/R_\1=/g' <<<"$line")"
	R_ERROR=$(grep '^FIRST_ERROR ' "$out" | head -1 | cut -c13-)
	R_RATE=$(python3 -c "print(f'{$R_requests / ($R_duration_us / 1e6):.0f}')")
	if [ "$R_non201" != 0 ] || [ "$((R_sock_errors + R_timeouts))" != 0 ]; then
		echo "bench/crd: $4: $R_non201 non-201, $((R_sock_errors + R_timeouts)) socket errors; first: $R_ERROR"
		status=1
	fi
	kill -0 "$SERVER_PID" 2>/dev/null || die "the server died; log: $(tail -5 "$T/server.log")"
}
ms() { python3 -c "print(f'{$1 / 1000:.2f}')"; }

declare -A RATE P50 P99
for c in 1 16; do
	t=$((c == 1 ? 1 : 2))
	run_wrk "$HERE/create_cr.lua" "$t" "$c" "cr$c"
	RATE[cr$c]=$R_RATE P50[cr$c]=$(ms "$R_p50_us") P99[cr$c]=$(ms "$R_p99_us")
	run_wrk "$ROOT/bench/api/create_pod.lua" "$t" "$c" "pod$c"
	RATE[pod$c]=$R_RATE P50[pod$c]=$(ms "$R_p50_us") P99[pod$c]=$(ms "$R_p99_us")
done

printf '\n%-28s %14s %14s\n' "creates (${DURATION}s runs)" "CronTab (CR)" "Pod (built-in)"
for c in 1 16; do
	printf '%-28s %14s %14s\n' "$c client(s): creates/s" "${RATE[cr$c]}" "${RATE[pod$c]}"
	printf '%-28s %14s %14s\n' "$c client(s): p50 ms" "${P50[cr$c]}" "${P50[pod$c]}"
	printf '%-28s %14s %14s\n' "$c client(s): p99 ms" "${P99[cr$c]}" "${P99[pod$c]}"
done
. "$HERE/../lib/report.sh"
bench_row crd "custom object creates/s, 16 clients" "${RATE[cr16]}" "/s" "${RATE[pod16]}" "pod creates, same run" higher
echo "anchor: kube-apiserver serves custom resources through the same generic registry as"
echo "        built-ins (no Go types: unstructured JSON, schema validation per object)"
exit "$status"
