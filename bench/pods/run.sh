#!/bin/bash
# Pod startup latency (create -> Running seen by a watch) through minik8s, beside
# the floor measured in the same run: bare `runc run -d` of a busybox bundle with a
# veth pair set up by `ip`. 1 pod at a time (ROUNDS times) and 30 pods at once.
# Needs root. Everything runs inside a network namespace created here and is
# removed on exit. Usage: bench/pods/run.sh [ROUNDS] [BURST]
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${1:-10}
BURST=${2:-30}
M=${MINIK8S_BIN:-$ROOT/build/minik8s}
LAT=$ROOT/build/bench/pods/podlat
[ "$(id -u)" = 0 ] || { echo "bench/pods: needs root" >&2; exit 1; }
[ -x "$LAT" ] || { echo "bench/pods: build $LAT first (make)" >&2; exit 1; }
T=$(mktemp -d /tmp/minik8s-bench-pods.XXXXXX)
NS=mkb-$$-node
CG=/mkb-$$
IN=(nsenter "--net=/run/netns/$NS")
. bench/lib.sh
BENCH_RUNC_ROOTS+=("$T/floor-runc")
bench_cleanup_more() { # the floor's pod namespaces
	local i
	for ((i = 0; i < BURST + 1; i++)); do ip netns delete "mkb-$$-f$i" 2>/dev/null; done
}

bench_netns
now_ms() { echo $(($(date +%s%N) / 1000)); } # microseconds, really

# ---- minik8s ----
bash tests/lib/mkimage.sh "$T/img" "$T/outside" >/dev/null 2>&1 || { echo "mkimage failed" >&2; exit 1; }
IMG=$("$M" image --data-dir "$T/data" import --name bench/busybox "$T/img/busybox-oci.tar") || exit 1
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${IN[@]}" "$M" server --data-dir "$T/data" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
	--write-kubeconfig "$T/kubeconfig" --node-name benchnode --run-dir "$T/run" \
	--netns-dir "$T/netns" --cgroup-parent "$CG/agent" >"$T/server.log" 2>&1 &
SERVER_PID=$!
for i in $(seq 200); do grep -q "node agent running" "$T/server.log" && break; sleep 0.1; done
grep -q "node agent running" "$T/server.log" || { tail "$T/server.log"; exit 1; }
TOKEN=$(cat "$T/data/token")
one=$("${IN[@]}" "$LAT" "https://127.0.0.1:$PORT" "$TOKEN" "$T/data/tls/ca.crt" benchnode "$IMG" 1 "$ROUNDS") || exit 1
burst=$("${IN[@]}" "$LAT" "https://127.0.0.1:$PORT" "$TOKEN" "$T/data/tls/ca.crt" benchnode "$IMG" "$BURST" 1) || exit 1
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=

# ---- floor: runc run -d + ip veth ----
bash tests/lib/mkrootfs.sh "$T/rootfs" >/dev/null
"${IN[@]}" ip link add mkb0 type bridge
"${IN[@]}" ip addr add 10.250.0.1/24 dev mkb0
"${IN[@]}" ip link set mkb0 up
runc spec -b "$T" && mv "$T/config.json" "$T/spec.json"
floor_one() { # floor_one I: prints microseconds for netns + veth + runc run -d
	local i=$1 n="mkb-$$-f$1" b="$T/floor/b$1" t0 t1
	mkdir -p "$b"
	jq --arg r "$T/rootfs" --arg ns "/run/netns/$n" --arg cg "$CG/floor/f$i" '
	  .root = {path:$r, readonly:false} | .process.terminal = false |
	  .process.args = ["httpd","-f","-p","80"] | .linux.cgroupsPath = $cg |
	  .linux.namespaces |= map(if .type == "network" then . + {path:$ns} else . end)' \
		"$T/spec.json" >"$b/config.json"
	t0=$(now_ms)
	ip netns add "$n"
	"${IN[@]}" ip link add "vb$$x$i" type veth peer name eth0 netns "$n"
	"${IN[@]}" ip link set "vb$$x$i" master mkb0 up
	ip -n "$n" addr add "10.250.0.$((i + 2))/24" dev eth0
	ip -n "$n" link set eth0 up
	ip -n "$n" link set lo up
	ip -n "$n" route add default via 10.250.0.1
	runc --root "$T/floor-runc" run -d --bundle "$b" "f$i" </dev/null >/dev/null 2>&1
	t1=$(now_ms)
	echo $((t1 - t0))
}
floor_clean() {
	local id i
	for id in $(runc --root "$T/floor-runc" list -q 2>/dev/null); do runc --root "$T/floor-runc" delete --force "$id" >/dev/null 2>&1; done
	for ((i = 0; i < BURST + 1; i++)); do ip netns delete "mkb-$$-f$i" 2>/dev/null; done
}
pct() { # pct P < numbers (microseconds): the P-th percentile in ms
	sort -n | awk -v p="$1" '{v[NR]=$1} END {i=int((NR*p+99)/100); if(i<1)i=1; printf "%.1f", v[i]/1000}'
}
: >"$T/f1"
for ((r = 0; r < ROUNDS; r++)); do floor_one 0 >>"$T/f1"; floor_clean; done
: >"$T/fb"
for ((i = 0; i < BURST; i++)); do floor_one "$i" >>"$T/fb" & done
wait
floor_clean

read -r o50 o99 _ <<<"$one"
read -r b50 b99 _ <<<"$burst"
f50=$(pct 50 <"$T/f1"); f99=$(pct 99 <"$T/f1")
g50=$(pct 50 <"$T/fb"); g99=$(pct 99 <"$T/fb")
printf '%-34s %10s %10s %12s %12s %8s\n' "pod startup (create -> Running)" "p50 ms" "p99 ms" "floor p50" "floor p99" "p50/floor"
printf '%-34s %10s %10s %12s %12s %8s\n' "1 pod ($ROUNDS rounds)" "$o50" "$o99" "$f50" "$f99" "$(awk -v a="$o50" -v b="$f50" 'BEGIN{printf "%.2fx", a/b}')"
printf '%-34s %10s %10s %12s %12s %8s\n' "$BURST pods at once" "$b50" "$b99" "$g50" "$g99" "$(awk -v a="$b50" -v b="$g50" 'BEGIN{printf "%.2fx", a/b}')"
. "$ROOT/bench/lib/report.sh"
bench_row pods "pod start p50 (create -> Running)" "$o50" ms "$f50" "netns + veth + runc run -d" lower
bench_row pods "$BURST pods at once, p99" "$b99" ms "$g99" "the same, $BURST at once" lower
echo "(floor: ip netns add + veth on a bridge by ip + runc run -d of the same busybox httpd; aim: p50 within 2x of it; Kubernetes' SLO: p99 <= 5 s)"
