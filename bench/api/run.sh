#!/bin/bash
# bench/api: API server throughput and latency, each figure printed beside its anchor.
#   1. pod creates/s, p50/p99 latency with 1 and 16 concurrent clients (wrk over TLS,
#      bearer token, ~1.6 KB pod JSON with unique names, durable commits)
#   2. list latency at >= 10,000 pods in one namespace (JSON and Table), median of runs
#   2b. pod creates/s with 16 clients again once >= BENCH_PENDING pods are pending,
#      beside the figure of 1 (few pending) and their ratio
#   3. watch delivery latency: create acknowledged -> ADDED event received (watchlat)
# The floors of the create figure, measured in the same run: an HTTP server built
# like the API server's listener answering 201 without a store (floor_http.c, the
# same wrk script), and the same durable insert straight into SQLite
# (floor_sqlite.c; one insert per commit, and 16 per commit).
# Starts its own `minik8s server` in a temp dir (tests/lib/lib.sh). Bounded in time
# (about 1-2 minutes). Knobs: BENCH_DURATION (s per wrk run, default 10),
# BENCH_PODS (default 10000), BENCH_FILL_MAX (s, default 60), BENCH_LIST_RUNS (5),
# BENCH_WATCH_N (200), BENCH_PENDING (pending pods for the second 16-client
# create run, default 20000), BENCH_MINIK8S (binary),
# BENCH_PERF=1 (perf record the server during the 16-client run).
# Exit status: 0 when every measurement ran and no request failed.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}	# another build to measure, e.g. a profiling one

DURATION=${BENCH_DURATION:-10}
PODS=${BENCH_PODS:-10000}
TOPUP_MAX=${BENCH_FILL_MAX:-60}
LIST_RUNS=${BENCH_LIST_RUNS:-5}
WATCH_N=${BENCH_WATCH_N:-200}
PENDING=${BENCH_PENDING:-20000}
WATCHLAT="$ROOT/build/bench/api/watchlat"
MKPODS="$ROOT/build/bench/api/mkpods"
FLOOR_HTTP="$ROOT/build/bench/api/floor_http"
FLOOR_SQLITE="$ROOT/build/bench/api/floor_sqlite"
NS=bench
status=0

die() { echo "bench/api: $*" >&2; exit 1; }
for tool in wrk curl python3; do
	command -v "$tool" >/dev/null || die "'$tool' not installed (scripts/deps.sh bench)"
done
[ -x "$MINIK8S" ] || die "build/minik8s missing (make)"
for b in "$WATCHLAT" "$MKPODS" "$FLOOR_HTTP" "$FLOOR_SQLITE"; do [ -x "$b" ] || die "$b missing (make)"; done

start_server || die "server did not start"
echo "bench/api: server pid $SERVER_PID at $API (data $DATA)"

ensure_namespace() {
	api POST /api/v1/namespaces -H 'Content-Type: application/json' \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$1\"}}"
	[ "$HTTP_CODE" = 201 ] || [ "$HTTP_CODE" = 409 ] ||
		die "create namespace $1: HTTP $HTTP_CODE: $BODY"
}
ensure_namespace "$NS"
ensure_namespace benchwatch

# one create by hand first: a clear message if the server rejects the bench's pod
first=$(python3 -c '
import sys
src = open(sys.argv[1]).read()
template = src.split("local template = [[\n", 1)[1].split("]]", 1)[0]
print(template % ("warm-0", sys.argv[2], "warm-0", "warm"))' "$HERE/create_pod.lua" "$NS") ||
	die "cannot read the pod template"
api POST "/api/v1/namespaces/$NS/pods" -H 'Content-Type: application/json' -d "$first"
[ "$HTTP_CODE" = 201 ] || die "create of the bench pod answered HTTP $HTTP_CODE: $BODY"
pod_bytes=${#first}

# ---- 1. creates --------------------------------------------------------------------

# run_wrk THREADS CONNECTIONS PREFIX DURATION: sets R_* from the script's RESULT line
run_wrk() {
	local out="$T/wrk-$3.txt"
	wrk -t"$1" -c"$2" -d"$4"s --timeout 10s --latency -s "$HERE/create_pod.lua" "$API" \
		-- "$TOKEN" "${NS}" "$3" >"$out" 2>&1
	local line
	line=$(grep '^RESULT ' "$out") || { cat "$out"; die "wrk produced no result"; }
	eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=/R_\1=/g' <<<"$line")"
	R_ERROR=$(grep '^FIRST_ERROR ' "$out" | head -1 | cut -c13-)
	R_RATE=$(python3 -c "print(f'{$R_requests / ($R_duration_us / 1e6):.0f}')")
	R_CREATED=$((R_requests - R_non201))
}
# alive: stops the benchmark with the server's last words if it died
alive() {
	kill -0 "$SERVER_PID" 2>/dev/null && return 0
	wait "$SERVER_PID"
	echo "bench/api: the server died (exit status $?); last lines of its log:"
	tail -20 "$T/server.log"
	[ -n "${R_ERROR:-}" ] && echo "first non-201 response before that: $R_ERROR"
	exit 1
}
ms() { python3 -c "print(f'{$1 / 1000:.2f}')"; }
# rv_now: the store's current revision (a consistent list); writes = its growth
rv_now() {
	api GET /api/v1/namespaces
	python3 -c 'import json,sys; print(json.loads(sys.argv[1])["metadata"]["resourceVersion"])' "$BODY" 2>/dev/null
}
PERF_PID=
run_wrk 1 1 c1 "$DURATION"
C1=("$R_RATE" "$(ms "$R_p50_us")" "$(ms "$R_p99_us")" "$R_non201" "$((R_sock_errors + R_timeouts))" "$R_ERROR")
C1_CREATED=$R_CREATED
alive
# The server runs without nodes: every pod fits nowhere, and the scheduler's
# reporter writes each one's PodScheduled=False and FailedScheduling Event, paced
# (50 a second, as kube-scheduler's API client): both 16-client runs carry that
# same bounded background, so the pending run's ratio compares like with like.
if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
	perf record -F 999 -p "$SERVER_PID" -o "$T/perf.data" -- sleep "$DURATION" >/dev/null 2>&1 &
	PERF_PID=$!
fi
rv0=$(rv_now)
run_wrk 2 16 c16 "$DURATION"
C16=("$R_RATE" "$(ms "$R_p50_us")" "$(ms "$R_p99_us")" "$R_non201" "$((R_sock_errors + R_timeouts))" "$R_ERROR")
C16_CREATED=$R_CREATED
alive
C16_EXTRA=$(($(rv_now) - rv0 - C16_CREATED))	# other writes meanwhile: the scheduler's
if [ -n "$PERF_PID" ]; then
	wait "$PERF_PID"
	perf report -i "$T/perf.data" --sort dso,symbol --stdio 2>/dev/null |
		grep -E '^ +[0-9]' | head -25 >"$T/perf.txt"
fi

# ---- 1b. the floors -------------------------------------------------------------------

"$FLOOR_HTTP" "$DATA/tls/server.crt" "$DATA/tls/server.key" "$T/floor.port" 2>"$T/floor_http.log" &
FH_PID=$!
_PIDS+=("$FH_PID")
for _ in $(seq 50); do [ -s "$T/floor.port" ] && break; sleep 0.1; done
[ -s "$T/floor.port" ] || die "floor_http did not start: $(cat "$T/floor_http.log")"
REAL_API=$API
API=https://127.0.0.1:$(cat "$T/floor.port")
run_wrk 2 16 fh "$DURATION"
FH=("$R_RATE" "$(ms "$R_p50_us")" "$(ms "$R_p99_us")")
API=$REAL_API
kill "$FH_PID"; wait "$FH_PID" 2>/dev/null
printf '%s' "$first" >"$T/floorpod.json"
floor_rate() {
	rm -f "$T/floor.db"*
	"$FLOOR_SQLITE" "$T/floor.db" "$T/floorpod.json" "$DURATION" "$1" | sed -n 's/.*per_s=\([0-9]*\).*/\1/p'
}
FS1=$(floor_rate 1)
FS16=$(floor_rate 16)
rm -f "$T/floor.db"*

# ---- 2. list at >= PODS pods -------------------------------------------------------

# a namespace of its own holding exactly PODS pods, so the figure does not depend
# on how many creates the timed runs above managed (mkpods: libcurl multi, 16 in flight)
LNS=benchlist
ensure_namespace "$LNS"
python3 -c '
import sys
src = open(sys.argv[1]).read()
template = src.split("local template = [[\n", 1)[1].split("]]", 1)[0]
print(template % ("__NAME__", sys.argv[2], "__NAME__", "fill"))' "$HERE/create_pod.lua" "$LNS" >"$T/pod.json"
fill_out=$(timeout "$TOPUP_MAX" "$MKPODS" "$API" "$TOKEN" "$CACERT" "$LNS" "$PODS" 16 "$T/pod.json" fill 2>&1)
fill_rc=$?
grep -v '^RESULT' <<<"$fill_out"
fill_line=$(grep '^RESULT ' <<<"$fill_out") && eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=/F_\1=/g' <<<"$fill_line")"
[ "$fill_rc" -eq 0 ] || { status=1; echo "bench/api: filling $LNS failed (exit $fill_rc; timeout ${TOPUP_MAX}s)"; }
alive

ACCEPT_TABLE='application/json;as=Table;v=v1;g=meta.k8s.io,application/json'
# time_list ACCEPT: prints "median_ms bytes items"
time_list() {
	local times=() code t size i
	for ((i = 0; i < LIST_RUNS; i++)); do
		read -r code t size < <(curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" \
			-H "Accept: $1" -o "$T/list.out" -w '%{http_code} %{time_total} %{size_download}\n' \
			"$API/api/v1/namespaces/$LNS/pods")
		if [ "$code" != 200 ]; then
			echo "bench/api: list ($1) answered HTTP $code: $(head -c 400 "$T/list.out")" >&2
			echo "- - -"; return 1
		fi
		times+=("$t")
	done
	local items
	items=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(len(d.get("rows", d.get("items")) or []))' "$T/list.out")
	python3 -c "
import statistics, sys
print(f'{statistics.median(float(x) for x in sys.argv[1:]) * 1000:.0f}', end=' ')" "${times[@]}"
	echo "$size $items"
}
read -r L_JSON_MS L_JSON_BYTES L_JSON_ITEMS < <(time_list application/json)
read -r L_TAB_MS L_TAB_BYTES L_TAB_ITEMS < <(time_list "$ACCEPT_TABLE")
[ "$L_JSON_MS" = - ] || [ "$L_TAB_MS" = - ] && status=1

# ---- 2b. creates with many pending pods ----------------------------------------------

# every pod created so far is pending (the server runs without nodes): top the
# store up to PENDING pods in a namespace of their own, then the 16-client create
# run again; its rate beside section 1's (few pending) says what a large pending
# set costs each create (scheduler queue, list cache, admission)
PNS=benchpending
pending_now=$((C1_CREATED + C16_CREATED + ${F_created:-0} + 1))
P_FILL=$((PENDING - pending_now))
P_created=0
if [ "$P_FILL" -gt 0 ]; then
	ensure_namespace "$PNS"
	sed "s/\"namespace\":\"$LNS\"/\"namespace\":\"$PNS\"/" "$T/pod.json" >"$T/podp.json"
	pfill_out=$(timeout "$TOPUP_MAX" "$MKPODS" "$API" "$TOKEN" "$CACERT" "$PNS" "$P_FILL" 16 "$T/podp.json" pend 2>&1)
	pfill_rc=$?
	pline=$(grep '^RESULT ' <<<"$pfill_out") && P_created=$(sed -n 's/.*created=\([0-9]*\).*/\1/p' <<<"$pline")
	[ "$pfill_rc" -eq 0 ] || { status=1; echo "bench/api: filling $PNS failed (exit $pfill_rc; timeout ${TOPUP_MAX}s)"; grep -v '^RESULT' <<<"$pfill_out" | head -5; }
	alive
	# mkpods cut off by the timeout prints no RESULT: count what the namespace holds
	api GET "/api/v1/namespaces/$PNS/pods?limit=1"
	P_created=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["metadata"].get("remainingItemCount", 0) + len(d["items"]))' "$BODY" 2>/dev/null || echo "${P_created:-0}")
fi
P_PENDING=$((pending_now + ${P_created:-0}))
rv0=$(rv_now)
run_wrk 2 16 c16p "$DURATION"
CP=("$R_RATE" "$(ms "$R_p50_us")" "$(ms "$R_p99_us")" "$R_non201" "$((R_sock_errors + R_timeouts))" "$R_ERROR")
alive
CP_EXTRA=$(($(rv_now) - rv0 - R_CREATED))

# ---- 3. watch delivery -------------------------------------------------------------

wl_out=$("$WATCHLAT" "$API" "$TOKEN" "$CACERT" benchwatch "$WATCH_N" 2>"$T/watchlat.err")
wl_rc=$?
W_ack_p50_us=0 W_ack_p99_us=0 W_ack_max_us=0 W_lost=- W_failed=- W_measured=0 W_create_p50_us=0 W_create_p99_us=0 W_send_p50_us=0 W_send_p99_us=0 W_early=-
if line=$(grep '^RESULT ' <<<"$wl_out"); then
	eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=/W_\1=/g' <<<"$line")"
fi
[ "$wl_rc" -eq 0 ] || { status=1; echo "bench/api: watchlat failed:"; cat "$T/watchlat.err"; }
alive

# ---- report ------------------------------------------------------------------------

mb() { python3 -c "print(f'{$1 / 1e6:.1f} MB')"; }
A_CREATE="goal >= 10000 creates/s, p99 <= 20 ms (16 clients); kube-apiserver SLO p99 <= 1 s"
A_LIST="kube-apiserver SLO: LIST p99 <= 30 s (namespace scope; 5 s historically)"
A_WATCH="no ratified watch-latency SLO; kube-apiserver mutating-call SLO p99 <= 1 s for scale"
echo
echo "minik8s API benchmark — $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ), pod body $pod_bytes bytes, ${DURATION}s per wrk run"
echo "(load generators run on the same CPUs as the server; durable commits: SQLite WAL, synchronous=FULL)"
printf '%-34s %-28s %s\n' "measurement" "result" "anchor"
printf '%-34s %-28s %s\n' "-----------" "------" "------"
for row in 1 16; do
	if [ "$row" = 1 ]; then v=("${C1[@]}"); else v=("${C16[@]}"); fi
	printf '%-34s %-28s %s\n' "create pod, $row client(s)" "${v[0]}/s p50 ${v[1]} ms p99 ${v[2]} ms" "$A_CREATE"
	printf '%-34s %-28s %s\n' "  non-201 responses / sock errors" "${v[3]} / ${v[4]}" "must be 0 / 0"
	if [ "${v[3]}" != 0 ] || [ "${v[4]}" != 0 ]; then
		status=1
		[ -n "${v[5]}" ] && echo "    first non-201 response: ${v[5]}"
	fi
done
ratio() { python3 -c "print(f'{$1 / max($2, 1e-9):.2f}')"; }
printf '%-34s %-28s %s\n' "  floor: HTTP 201, no store, 16" "${FH[0]}/s p50 ${FH[1]} ms p99 ${FH[2]} ms" "creates reach $(ratio "${C16[0]}" "${FH[0]}") of it (same wrk script, same TLS)"
printf '%-34s %-28s %s\n' "  floor: SQLite, 1 insert/commit" "${FS1:-?}/s" "creates (16 clients) reach $(ratio "${C16[0]}" "${FS1:-0}")x of it"
printf '%-34s %-28s %s\n' "  floor: SQLite, 16 inserts/commit" "${FS16:-?}/s" "creates (16 clients) reach $(ratio "${C16[0]}" "${FS16:-0}") of it"
printf '%-34s %-28s %s\n' "create pod, 16, $P_PENDING pending" "${CP[0]}/s p50 ${CP[1]} ms p99 ${CP[2]} ms" "$(ratio "${CP[0]}" "${C16[0]}") of the few-pending rate (goal: >= 0.90)"
printf '%-34s %-28s %s\n' "  non-201 responses / sock errors" "${CP[3]} / ${CP[4]}" "must be 0 / 0"
if [ "${CP[3]}" != 0 ] || [ "${CP[4]}" != 0 ]; then
	status=1
	[ -n "${CP[5]}" ] && echo "    first non-201 response: ${CP[5]}"
fi
echo "    (other writes during the runs (the scheduler's conditions and events, the leader lease): few pending $C16_EXTRA, $P_PENDING pending $CP_EXTRA)"
[ "$P_PENDING" -ge "$PENDING" ] || echo "    (only $P_PENDING pods pending: filling $PNS did not reach $PENDING)"
[ -n "${F_created:-}" ] && printf '%-34s %-28s %s\n' "fill: mkpods, 16 in flight" "$F_created pods in ${F_seconds}s ($(python3 -c "print(int($F_created / max($F_seconds, 1e-9)))")/s)" "(setup for the list figures)"
printf '%-34s %-28s %s\n' "list $L_JSON_ITEMS pods (JSON)" "median ${L_JSON_MS} ms, $(mb "${L_JSON_BYTES:-0}")" "$A_LIST"
printf '%-34s %-28s %s\n' "list $L_TAB_ITEMS pods (Table)" "median ${L_TAB_MS} ms, $(mb "${L_TAB_BYTES:-0}")" "$A_LIST"
[ "${L_JSON_ITEMS:-0}" -ge "$PODS" ] 2>/dev/null ||
	if [ "${F_failed:-0}" -gt 0 ]; then
		echo "    (fewer than $PODS pods: $F_failed creates failed while filling $LNS)"
	else
		echo "    (fewer than $PODS pods: creates too slow to fill $LNS within ${TOPUP_MAX}s)"
	fi
printf '%-34s %-28s %s\n' "watch ack->event, $W_measured pods" "p50 $(ms "$W_ack_p50_us") ms p99 $(ms "$W_ack_p99_us") ms" "$A_WATCH"
printf '%-34s %-28s %s\n' "  create sent->event" "p50 $(ms "$W_send_p50_us") ms p99 $(ms "$W_send_p99_us") ms" "$W_early of $W_measured events arrived before the 201"
printf '%-34s %-28s %s\n' "  (create alone, same client)" "p50 $(ms "$W_create_p50_us") ms p99 $(ms "$W_create_p99_us") ms" ""
printf '%-34s %-28s %s\n' "  events lost / creates failed" "$W_lost / $W_failed" "must be 0 / 0"

. "$HERE/../lib/report.sh"
bench_row api "pod creates/s, 16 clients" "${C16[0]}" "/s" "${FH[0]}" "HTTP 201 without a store" higher
bench_row api "pod creates/s, 16 clients (goal)" "${C16[0]}" "/s" 10000 "issue 15 goal" higher ">= 10000 /s"
bench_row api "pod create p99, 16 clients" "${C16[2]}" ms 20 "issue 15 goal" lower "<= 20 ms"
bench_row api "pod creates/s, 16 clients, $P_PENDING pending" "${CP[0]}" "/s" "${C16[0]}" "the few-pending rate, same run" higher ">= 0.90x"
bench_row api "pod creates/s, 16 clients (store)" "${C16[0]}" "/s" "${FS16:-}" "SQLite, 16 inserts/commit" higher
bench_row api "pod creates/s, 16 clients (durable floor)" "${C16[0]}" "/s" "${FS1:-}" "SQLite, 1 insert/commit" higher
bench_row api "watch ack->event p99" "$(ms "$W_ack_p99_us")" ms - "" lower
errors=$(grep -ciE 'error|fatal|abort|assert' "$T/server.log")
if [ "$errors" -gt 0 ]; then
	echo "server log: $errors error lines; first ones:"
	grep -iE 'error|fatal|abort|assert' "$T/server.log" | head -5
fi
if [ -n "$PERF_PID" ] && [ -s "$T/perf.txt" ]; then
	echo "perf (server process, 16-client run), top symbols:"
	cat "$T/perf.txt"
fi
exit $status
