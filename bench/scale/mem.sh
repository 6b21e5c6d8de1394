#!/bin/bash
# bench/scale/mem.sh: server memory per pod and pod creates/s with the in-process
# controllers reaching the API through the in-process transport (the default) and
# through HTTPS over loopback (MINIK8S_CONTROLLERS_LOOPBACK=1, the old way), side
# by side in one run. One `minik8s server` per mode (no agent, so the pods stay
# Pending: every pod is in the controllers' pod informer and the scheduler's queue);
# pods are created with bench/api/mkpods (16 in flight, the ~1.5 KB pod of
# bench/api) up to each size in BENCH_SCALE_MEM_PODS ("1000 10000"), and at each
# size it prints creates/s of that step and the server's RSS, its growth per pod
# since start-up, and glibc's heap in use (mallinfo2 through /proc is not
# available: the growth is RSS). bench/scale/run.sh runs it after its node sizes.
# BENCH_SCALE_MEM_MODES ("inproc loopback") picks the modes.
# BENCH_SCALE_MEM_PERF=1: perf records the in-process server during its last step
# and the top of the profile (self time by symbol) is printed.
# BENCH_SCALE_MEM_SERVER_ARGS: more `minik8s server` flags (e.g.
# --disable-controllers, to tell the API server's share from the controllers').
# BENCH_SCALE_MEM_GDB=1: at the last size, gdb asks the server for glibc's
# malloc_stats (heap in use against heap held: fragmentation) and SQLite's
# sqlite3_memory_used, printed per mode.
# Beside the figures, the anchor measured in the same run: the bytes of one pod's
# stored JSON text, whole and without metadata.managedFields (what a cache that
# keeps the object must pay, a cache of the whole object and one of the
# controllers' stripped object), and at each size the server's anonymous memory
# from /proc/PID/smaps_rollup. Headline rows go to bench_row (bench/lib/report.sh).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
. "$HERE/../lib/report.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}
SIZES=${BENCH_SCALE_MEM_PODS:-1000 10000}
MKPODS="$ROOT/build/bench/api/mkpods"
die() { echo "bench/scale/mem: $*" >&2; exit 1; }
[ -x "$MKPODS" ] || die "$MKPODS missing (make)"
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
anon_kb() { awk '/^Anonymous:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# one pod's stored text: "whole without-managedFields" bytes (compact, as stored)
pod_bytes() {
	curl -sf --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" "$API/api/v1/namespaces/memb/pods?limit=1" |
		python3 -c 'import json,sys
p = json.load(sys.stdin)["items"][0]
whole = len(json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode())
p["metadata"].pop("managedFields", None)
print(whole, len(json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode()))'
}

python3 -c '
import sys
src = open(sys.argv[1]).read()
template = src.split("local template = [[\n", 1)[1].split("]]", 1)[0]
print(template % ("__NAME__", "memb", "__NAME__", "mem"))' "$HERE/../api/create_pod.lua" >"$T/pod.json"

declare -A R
for mode in ${BENCH_SCALE_MEM_MODES:-inproc loopback}; do
	DATA=$T/data-$mode PORT=$(free_port)
	unset KUBECONFIG
	if [ "$mode" = loopback ]; then export MINIK8S_CONTROLLERS_LOOPBACK=1; else unset MINIK8S_CONTROLLERS_LOOPBACK; fi
	# shellcheck disable=SC2086 # word splitting of the extra flags is wanted
	start_server --max-connections 2048 ${BENCH_SCALE_MEM_SERVER_ARGS:-} || die "server did not start"
	unset MINIK8S_CONTROLLERS_LOOPBACK
	kubectl create namespace memb >/dev/null || die "create namespace"
	sleep 2 # the controllers' informers listed; RSS settles
	base=$(rss_kb "$SERVER_PID")
	R[$mode.base]=$base
	have=0
	for n in $SIZES; do
		PERF_PID=
		if [ "${BENCH_SCALE_MEM_PERF:-0}" = 1 ] && [ "$mode" = inproc ] && [ "$n" = "${SIZES##* }" ]; then
			perf record -q -F 499 -g -p "$SERVER_PID" -o "$T/perf.data" >/dev/null 2>&1 &
			PERF_PID=$!
		fi
		out=$("$MKPODS" "$API" "$TOKEN" "$CACERT" memb $((n - have)) 16 "$T/pod.json" "p$n" 2>&1) ||
			die "mkpods to $n ($mode): $out"
		if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null; fi
		line=$(grep '^RESULT ' <<<"$out")
		secs=$(sed 's/.*seconds=\([0-9.]*\).*/\1/' <<<"$line")
		R[$mode.$n.rate]=$(awk -v c=$((n - have)) -v s="$secs" 'BEGIN { printf "%.0f", c / (s > 0 ? s : 1) }')
		have=$n
		# the controllers' caches caught up: the scheduler has seen every pod
		for i in $(seq 100); do
			[ "$(kubectl get --raw "/api/v1/namespaces/memb/pods?limit=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["metadata"].get("remainingItemCount", 0) + len(d["items"]))')" -ge "$n" ] && break
			sleep 0.2
		done
		sleep 3
		kb=$(rss_kb "$SERVER_PID")
		R[$mode.$n.rss]=$kb
		R[$mode.$n.anon]=$(anon_kb "$SERVER_PID")
		[ -n "${R[podbytes]:-}" ] || R[podbytes]=$(pod_bytes)
		R[$mode.$n.kbpod]=$(awk -v k="$kb" -v b="$base" -v p="$n" 'BEGIN { printf "%.1f", (k - b) / p }')
		if [ "${BENCH_SCALE_MEM_GDB:-0}" = 1 ] && [ "$n" = "${SIZES##* }" ]; then
			off=$(stat -c %s "$T/server.log")
			sq=$(gdb -q -batch -p "$SERVER_PID" -ex 'call (void)malloc_stats()' \
				-ex 'print (long long)sqlite3_memory_used()' 2>/dev/null | sed -n 's/^\$[0-9]* = //p' | tail -1)
			R[$mode.gdb]="$(tail -c +$((off + 1)) "$T/server.log" | grep -E '^(Total|Arena|system|in use)' |
				awk '/^Total/ { t = 1 } t' | tr '\n' ' ')sqlite3_memory_used = ${sq:-?}"
		fi
	done
	stop_server
done

printf '\n%-44s %14s %14s\n' "bench/scale/mem (server, no agent)" "in-process" "HTTPS loopback"
for n in $SIZES; do
	printf '%-44s %14s %14s\n' "creates/s up to $n pods (16 in flight)" "${R[inproc.$n.rate]:--}" "${R[loopback.$n.rate]:--}"
	printf '%-44s %14s %14s\n' "server RSS MB at $n pods" \
		"$(awk -v k="${R[inproc.$n.rss]:--}" 'BEGIN { printf "%.0f", k / 1024 }')" \
		"$(awk -v k="${R[loopback.$n.rss]:--}" 'BEGIN { printf "%.0f", k / 1024 }')"
	printf '%-44s %14s %14s\n' "server KB a pod at $n pods (RSS growth)" "${R[inproc.$n.kbpod]:--}" "${R[loopback.$n.kbpod]:--}"
done
printf '%-44s %14s %14s\n' "goal: KB a pod" 3 3
for n in $SIZES; do
	printf '%-44s %14s %14s\n' "server anonymous MB at $n pods (smaps)" \
		"$(awk -v k="${R[inproc.$n.anon]:--}" 'BEGIN { printf "%.0f", k / 1024 }')" \
		"$(awk -v k="${R[loopback.$n.anon]:--}" 'BEGIN { printf "%.0f", k / 1024 }')"
done
read -r whole stripped <<<"${R[podbytes]:-- -}"
printf '%-44s %14s\n' "anchor: one pod's stored JSON text, KB" "$(awk -v b="$whole" 'BEGIN { printf "%.2f", b / 1024 }')"
printf '%-44s %14s\n' "anchor: the same without managedFields, KB" "$(awk -v b="$stripped" 'BEGIN { printf "%.2f", b / 1024 }')"
for n in $SIZES; do
	bench_row scale "server KB a pod at $n pods (no agent)" "${R[inproc.$n.kbpod]:--}" KB \
		"$(awk -v b="$whole" 'BEGIN { printf "%.2f", b / 1024 }')" "one pod's stored JSON text" lower
done
for mode in ${BENCH_SCALE_MEM_MODES:-inproc loopback}; do
	[ -n "${R[$mode.gdb]:-}" ] && echo "$mode, at ${SIZES##* } pods: ${R[$mode.gdb]}"
done
if [ -s "$T/perf.data" ]; then
	echo; echo "perf, in-process server, last step (self time, top symbols):"
	perf report -i "$T/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -40
fi
