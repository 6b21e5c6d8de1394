#!/bin/bash
# Pod startup latency (create -> Running seen by a watch) through minik8s, beside
# the floor measured in the same run (bench/pods/podfloor.c): per pod a named netns,
# a veth pair on a bridge set up over netlink in C (pkg/net, libnl) and bare
# `runc run -d` of a busybox bundle. 1 pod at a time (ROUNDS times), BURST pods at
# once and BIG pods at once. Needs root. Everything runs inside a network namespace
# created here and is removed on exit.
# Usage: bench/pods/run.sh [ROUNDS] [BURST] [BIG]
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
ROUNDS=${1:-10}
BURST=${2:-30}
BIG=${3:-100}
M=${MINIK8S_BIN:-$ROOT/build/minik8s}
LAT=$ROOT/build/bench/pods/podlat
FLOOR=$ROOT/build/bench/pods/podfloor
[ "$(id -u)" = 0 ] || { echo "bench/pods: needs root" >&2; exit 1; }
[ -x "$LAT" ] && [ -x "$FLOOR" ] || { echo "bench/pods: build $LAT and $FLOOR first (make)" >&2; exit 1; }
T=$(mktemp -d /tmp/minik8s-bench-pods.XXXXXX)
NS=mkb-$$-node
CG=/mkb-$$
IN=(nsenter "--net=/run/netns/$NS")
. bench/lib.sh
BENCH_RUNC_ROOTS+=("$T/fl/runc") # the floor's containers (its namespaces are mounts under $T)

bench_netns

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
big=$("${IN[@]}" "$LAT" "https://127.0.0.1:$PORT" "$TOKEN" "$T/data/tls/ca.crt" benchnode "$IMG" "$BIG" 1) || exit 1
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=

# ---- floor: netns + veth over netlink (pkg/net, libnl) + runc run -d, in C ----
bash tests/lib/mkrootfs.sh "$T/rootfs" >/dev/null
runc spec -b "$T" && mv "$T/config.json" "$T/spec.json"
mkdir -p "$T/fl"
floor() { "${IN[@]}" "$FLOOR" "$T/fl" "$T/rootfs" "$T/spec.json" "$CG/floor" "$@"; }
fone=$(floor 1 "$ROUNDS") || exit 1
fburst=$(floor "$BURST" 1) || exit 1
fbig=$(floor "$BIG" 1) || exit 1

read -r o50 o99 _ <<<"$one"
read -r b50 b99 _ <<<"$burst"
read -r c50 c99 _ <<<"$big"
read -r f50 f99 _ <<<"$fone"
read -r g50 g99 _ <<<"$fburst"
read -r h50 h99 _ <<<"$fbig"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
printf '%-34s %10s %10s %12s %12s %10s\n' "pod startup (create -> Running)" "p50 ms" "p99 ms" "floor p50" "floor p99" "ratio"
printf '%-34s %10s %10s %12s %12s %10s\n' "1 pod ($ROUNDS rounds)" "$o50" "$o99" "$f50" "$f99" "$(ratio "$o50" "$f50") p50"
printf '%-34s %10s %10s %12s %12s %10s\n' "$BURST pods at once" "$b50" "$b99" "$g50" "$g99" "$(ratio "$b99" "$g99") p99"
printf '%-34s %10s %10s %12s %12s %10s\n' "$BIG pods at once" "$c50" "$c99" "$h50" "$h99" "$(ratio "$c99" "$h99") p99"
. "$ROOT/bench/lib/report.sh"
bench_row pods "pod start p50 (create -> Running)" "$o50" ms "$f50" "netns + veth (netlink, C) + runc run -d" lower "<= 1.5x floor"
bench_row pods "$BURST pods at once, p99" "$b99" ms "$g99" "the same floor, $BURST at once" lower "<= 1000 ms"
bench_row pods "$BIG pods at once, p99" "$c99" ms "$h99" "the same floor, $BIG at once" lower "<= 2000 ms"
echo "(floor: bench/pods/podfloor.c: a named netns, a veth pair on a bridge wired by pkg/net over netlink, runc run -d of the same busybox httpd, per pod, all pods of a burst at once; goals: p50 <= 1.5x the floor, $BURST at once p99 <= 1 s, $BIG at once p99 <= 2 s)"
