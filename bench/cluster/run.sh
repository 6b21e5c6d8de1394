#!/bin/bash
# The cluster as a whole, on the 3-node test cluster of tests/lib/cluster.sh (nodes
# are network namespaces on an underlay bridge, node 1 = `minik8s up` server+agent,
# nodes 2 and 3 joined agents). Prints each figure beside its anchor:
#   - binary size of build/minik8s, as built and stripped
#   - time from `minik8s up` to node Ready (server node, and each joining node)
#   - idle memory: RSS (and PSS) of node 1's minik8s process (API server,
#     controllers, agent, balancer, DNS in one) and of the joined agents, with 0
#     pods and with 100 pods on node 1 (a busybox `sleep` deployment); the
#     per-container shims separately (anchor: k3s server ~1.6 GB, agent ~275 MB)
#   - pod start latency of those 100 pods (creation -> running, from the API's
#     timestamps, 1 s resolution; anchor: Kubernetes' SLO, 5 s at p99)
#   - time of `minik8s down --purge` per node (node 1 with its 100 pods), and what
#     it left (nothing expected)
#   - network programming latency: an endpoint change (a replica added or removed,
#     time seen on an API watch) -> the ClusterIP rules in effect on every node
#     (the node's nftables ruleset polled in its namespace) and a connection from
#     every node reaching the new replica
#   - failover time (bench/cluster/failover.sh): the server holding the controllers'
#     Lease killed -9 -> first write acknowledged through the other server, and -> a
#     new pod bound (anchor: client-go's default 15 s leader lease); FAILOVER_ROUNDS=3
# Needs root. Everything lives in namespaces and dirs created here, removed on exit.
# Usage: bench/cluster/run.sh [PODS] [ROUNDS]   (default 100 pods, 6 endpoint changes)
. "$(dirname "$0")/../../tests/lib/lib.sh"
. "$ROOT/tests/lib/cluster.sh"
. "$ROOT/bench/lib/report.sh"
PODS=${1:-100}
ROUNDS=${2:-6}
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
[ "$(id -u)" = 0 ] || { echo "bench/cluster: needs root" >&2; exit 1; }
[ -x "$MINIK8S" ] || { echo "bench/cluster: build $MINIK8S first (make build/minik8s)" >&2; exit 1; }
for t in runc jq curl nft nsenter strip "$KUBECTL"; do
	command -v "$t" >/dev/null || { echo "bench/cluster: $t missing" >&2; exit 1; }
done
curl_max_time 30
die() { echo "bench/cluster: $*" >&2; tail -n 20 "$(cl_data 1)/minik8s.log" >&2 2>/dev/null; exit 1; }
now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
row() { printf '  %-52s %14s   %s\n' "$1" "$2" "$3"; }
kb() { awk -v k="$1" 'BEGIN { if (k >= 10240) printf "%.1f MB", k / 1024; else printf "%d kB", k }'; }

# ---- binary size ----
SIZE=$(stat -c %s "$MINIK8S")
strip -o "$T/minik8s.stripped" "$MINIK8S"
SSIZE=$(stat -c %s "$T/minik8s.stripped")
echo "binary"
row "build/minik8s" "$(awk -v b="$SIZE" 'BEGIN { printf "%.2f MB", b / 1048576 }')" ""
row "build/minik8s stripped" "$(awk -v b="$SSIZE" 'BEGIN { printf "%.2f MB", b / 1048576 }')" ""

# ---- the cluster ----
bash "$ROOT/examples/images/build.sh" --out "$T/images" >"$T/images.log" 2>&1 || die "images: $(tail -3 "$T/images.log")"
cluster_underlay || die "underlay"
for n in 1 2 3; do cluster_import "$n" "$T/images/echo.tar" >/dev/null 2>&1 || die "image import node$n"; done
ECHO_IMG=minik8s.local/echo:1
FLAGS=(--restart-backoff 1s,4s)
t0=$(now)
cluster_up_server "${FLAGS[@]}" || die "minik8s up (node1): $(tail -5 "$T/up1.out")"
UP1=$(ms_since "$t0")
UPJ=()
for n in 2 3; do
	t0=$(now)
	cluster_join "$n" "${FLAGS[@]}" || die "minik8s up --server (node$n): $(tail -5 "$T/up$n.out")"
	UPJ+=("$(ms_since "$t0")")
done
echo "start"
row "minik8s up -> node Ready (server node)" "$UP1 ms" ""
row "minik8s up --server -> node Ready (node2, node3)" "${UPJ[0]} / ${UPJ[1]} ms" ""

# mem N: "RSS_kB PSS_kB" of node N's minik8s process; shims: "COUNT RSS_kB PSS_kB"
mem_of() { awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} END {print r+0, p+0}' "/proc/$1/smaps_rollup" 2>/dev/null; }
mem() { mem_of "$(cluster_pid "$1")"; }
shims() { # shims N: count, summed RSS and PSS of node N's shims (minik8s run as minik8s-shim)
	local pid dir c=0 r=0 p=0 m
	dir=$(cl_dir "$1")/
	for pid in $(pgrep -x minik8s-shim); do
		tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir" || continue
		m=$(mem_of "$pid") || continue
		c=$((c + 1)) r=$((r + ${m% *})) p=$((p + ${m#* }))
	done
	echo "$c $r $p"
}
# containers N: summed RSS of the containers' own processes (in node N's cgroup parent)
containers_rss() {
	local d pid r=0 m
	for d in $(find /sys/fs/cgroup/memory -maxdepth 1 -type d -name "$(cl_cg "$1" | cut -c2-)" 2>/dev/null); do
		for pid in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
			[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == minik8s-shim ] && continue
			m=$(mem_of "$pid") && r=$((r + ${m% *}))
		done
	done
	echo "$r"
}
report_mem() { # report_mem LABEL
	local m1 m2 m3 s
	m1=$(mem 1) m2=$(mem 2) m3=$(mem 3) s=$(shims 1)
	echo "memory, $1"
	row "node1 minik8s (server+controllers+agent) RSS" "$(kb "${m1% *}")" "(k3s server ~1.6 GB)"
	row "node1 minik8s PSS" "$(kb "${m1#* }")" ""
	row "node2 / node3 minik8s agent RSS" "$(kb "${m2% *}") / $(kb "${m3% *}")" "(k3s agent ~275 MB)"
	bench_row cluster "node1 minik8s RSS, $1" "$(awk -v k="${m1% *}" 'BEGIN { printf "%.0f", k / 1024 }')" MB \
		1600 "k3s server (its docs)" lower
	bench_row cluster "node2 agent RSS, $1" "$(awk -v k="${m2% *}" 'BEGIN { printf "%.0f", k / 1024 }')" MB \
		275 "k3s agent (its docs)" lower
	read -r c r p <<<"$s"
	if [ "$c" -gt 0 ]; then
		row "node1 shims: $c, RSS sum (per shim)" "$(kb "$r") ($(kb $((r / c))))" "(minik8s re-executed: RSS counts shared pages)"
		row "node1 shims: PSS sum (per shim)" "$(kb "$p") ($(kb $((p / c))))" ""
		row "node1 containers' own processes RSS sum" "$(kb "$(containers_rss 1)")" "(busybox sleep)"
	fi
}
sleep 5
report_mem "idle, 0 pods"

# ---- network programming latency ----
# the watch: one line per Endpoints change, prefixed with the time it arrived
TOKEN=$(cat "$(cl_data 1)/token")
CA=$(cl_data 1)/tls/ca.crt
API=https://127.0.0.1:$CL_PORT
KC create namespace bench >/dev/null || die "namespace"
KC -n bench create deployment np --image="$ECHO_IMG" --replicas=1 --port=80 >/dev/null || die "deployment np"
KC -n bench expose deployment np --port=80 >/dev/null || die "expose"
CIP=$(KC -n bench get service np -o jsonpath='{.spec.clusterIP}')
ep_ips() { KC -n bench get endpoints np -o json 2>/dev/null | jq -r '[.subsets[]?.addresses[]?.ip] | sort | join(",")'; }
wait_eps() { local i; for ((i = 0; i < 300; i++)); do [ "$(ep_ips | tr ',' '\n' | grep -c .)" == "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_eps 1 || die "np endpoints"
IN 1 curl -sN --cacert "$CA" -H "Authorization: Bearer $TOKEN" --max-time 3600 \
	"$API/api/v1/namespaces/bench/endpoints?watch=true&fieldSelector=metadata.name%3Dnp" 2>/dev/null |
	while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" \
		"$(jq -r '[.object.subsets[]?.addresses[]?.ip] | sort | join(",")' <<<"$l" 2>/dev/null)"; done >"$T/ep.watch" &
_PIDS+=($!)
# pollers: the pod addresses in each node's ruleset (the endpoint map's "... : IP . PORT"
# elements), logged when they change
poll_rules() { # poll_rules N
	local last=x cur
	while [ -e "$T/polling" ]; do
		cur=$(IN "$1" nft list table ip minik8s 2>/dev/null | grep -o ': 10\.244\.[0-9]*\.[0-9]* \. ' | cut -d' ' -f2 | sort -u | tr '\n' ',' | sed 's/,$//')
		[ "$cur" != "$last" ] && printf '%s %s\n' "$(now)" "$cur" >>"$T/rules$1.log" && last=$cur
		sleep 0.005
	done
}
touch "$T/polling"
for n in 1 2 3; do poll_rules "$n" & _PIDS+=($!); done
sleep 1
# one_change REPLICAS: scale np, wait until every node's rules hold the new set
LAT=()
one_change() {
	local want i n t_ep t_r worst=0
	KC -n bench scale deployment np --replicas="$1" >/dev/null
	wait_eps "$1" || { echo "  (endpoints did not reach $1)"; return 1; }
	want=$(ep_ips)
	for ((i = 0; i < 100; i++)); do
		n=0
		for k in 1 2 3; do [ "$(tail -1 "$T/rules$k.log" | cut -d' ' -f2)" == "$want" ] && n=$((n + 1)); done
		[ $n == 3 ] && break
		sleep 0.05
	done
	t_ep=$(awk -v w="$want" '$2 == w || (w == "" && NF == 1) { t = $1 } END { print t }' "$T/ep.watch")
	[ -n "$t_ep" ] || { echo "  (no watch event for $want)"; return 1; }
	for k in 1 2 3; do
		t_r=$(awk -v w="$want" '$2 == w { t = $1 } END { print t }' "$T/rules$k.log")
		[ -n "$t_r" ] || { echo "  (node$k rules never held $want)"; return 1; }
		worst=$(awk -v a="$t_ep" -v b="$t_r" -v w="$worst" 'BEGIN { d = (b - a) * 1000; if (d > w) w = d; printf "%.0f", w }')
	done
	LAT+=("$worst")
}
# ROUNDS/2 replicas added one at a time, every node checked, then removed one at a time
ADD=() DEL=()
reps=1
for ((r = 0; r < ROUNDS / 2; r++)); do
	reps=$((reps + 1)); one_change "$reps" && ADD+=("${LAT[-1]}"); sleep 0.3
done
REACH=""
for n in 1 2 3; do
	got=$(for i in $(seq $((reps * 6))); do IN "$n" curl -s -m 2 "http://$CIP/"; echo; done | grep -o 'pod=[0-9.]*' | sort -u | wc -l)
	REACH="$REACH node$n:$got/$reps"
done
for ((r = 0; r < ROUNDS / 2; r++)); do
	reps=$((reps - 1)); one_change "$reps" && DEL+=("${LAT[-1]}"); sleep 0.3
done
rm -f "$T/polling"
IN 2 nft list table ip minik8s >"$T/ruleset2.txt" 2>&1
[ -n "${BENCH_KEEP:-}" ] && mkdir -p "$BENCH_KEEP" && cp "$T"/*.log "$T"/ep.watch "$T"/ruleset2.txt "$BENCH_KEEP/"
echo "network programming (endpoint change seen on an API watch -> rules on all 3 nodes; nft polled every ~10-20 ms)"
ANCHOR="(walkthrough: rules follow \"within a fraction of a second\")"
[ ${#ADD[@]} -gt 0 ] && row "replica added: worst node per change (ms)" "${ADD[*]}" "$ANCHOR"
[ ${#DEL[@]} -gt 0 ] && row "replica removed: worst node per change (ms)" "${DEL[*]}" "$ANCHOR"
[ ${#LAT[@]} -gt 0 ] && row "all changes: median / max" \
	"$(printf '%s\n' "${LAT[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d / %d ms", a[int((NR+1)/2)], a[NR]}')" ""
row "from each node, distinct replicas answering" "$REACH" "(at $((ROUNDS / 2 + 1)) replicas)"
KC delete namespace bench --wait=false >/dev/null 2>&1

# ---- 100 pods on node 1 ----
KC create deployment sleepers --image="$ECHO_IMG" --replicas=0 -- sleep 86400 >/dev/null || die "deployment sleepers"
KC patch deployment sleepers -p '{"spec":{"template":{"spec":{"nodeSelector":{"kubernetes.io/hostname":"node1"},"terminationGracePeriodSeconds":1}}}}' >/dev/null ||
	die "patch sleepers"
t0=$(now)
KC scale deployment sleepers --replicas="$PODS" >/dev/null || die "scale"
running() { KC get pods -l app=sleepers -o json 2>/dev/null | jq '[.items[] | select(.status.phase=="Running")] | length'; }
for ((i = 0; i < 600; i++)); do [ "$(running)" == "$PODS" ] && break; sleep 0.5; done
ALL=$(ms_since "$t0")
[ "$(running)" == "$PODS" ] || die "only $(running) of $PODS sleepers Running"
# per pod: creation -> container running (API timestamps, seconds)
KC get pods -l app=sleepers -o json | jq -r '.items[] | [.metadata.creationTimestamp, .status.containerStatuses[0].state.running.startedAt] | @tsv' |
	while IFS=$'\t' read -r c s; do echo $(($(date -d "$s" +%s) - $(date -d "$c" +%s))); done | sort -n >"$T/podlat"
echo "$PODS pods on node1"
row "scale 0 -> $PODS: all Running after" "$ALL ms" "(Kubernetes SLO: each pod within 5 s, p99)"
row "pod start (created -> running) p50 / p99 / max" "$(awk '{a[NR]=$1} END {printf "%d / %d / %d s", a[int(NR*0.5+0.5)], a[int(NR*0.99+0.5)], a[NR]}' "$T/podlat")" \
	"(on a batch of $PODS at once on one node)"
bench_row cluster "$PODS pods at once on a node: start p99 (1 s steps)" \
	"$(awk '{ a[NR] = $1 } END { print a[int(NR * 0.99 + 0.5)] }' "$T/podlat")" s 5 "Kubernetes pod startup SLO" lower
sleep 5
report_mem "idle, $PODS pods on node1"
# ---- down: every node, node1 still running its pods ----
echo "down"
for n in 3 2 1; do
	t0=$(now)
	cluster_down "$n" || echo "  (node$n: down failed: $(tail -2 "$T/down$n.out"))"
	ms=$(ms_since "$t0")
	left=$(cluster_leftovers "$n" | tr '\n' ' ')
	row "node$n: minik8s down --purge ($( [ "$n" = 1 ] && echo "$PODS pods" || echo "idle"))" "$ms ms" \
		"left: ${left:-nothing}"
done
# ---- failover time: its own lab (etcd, two servers), after this cluster is down ----
echo "failover"
bash "$ROOT/bench/cluster/failover.sh" "${FAILOVER_ROUNDS:-3}" || exit 1
exit 0
