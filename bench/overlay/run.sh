#!/bin/bash
# Overlay benchmark: pod-to-pod TCP throughput and new connections/s across two
# nodes, the vxlan backend beside host-gw in the same run. Two node namespaces on
# one L2 (tests/lib/cluster.sh's bridge layout, so host-gw works); node 1 runs
# `minik8s up`, node 2 joins; both run first with --flannel-backend host-gw, then
# are restarted with --flannel-backend vxlan (forced: every packet goes through
# mk-vxlan, pods get MTU 1450). Each phase makes a fresh pod on each node and runs
# build/bench/overlay/tput (bulk TCP) and build/bench/proxy/connrate (connect +
# close) inside the pods' network namespaces (nsenter --net, the host binaries).
# Anchor: host-gw in the same run (plain routing, flannel's fastest backend);
# flannel's documentation expects vxlan to cost some throughput and rate for the
# encapsulation. Usage: bench/overlay/run.sh [SECONDS per measurement, default 5]
set -u
D=${1:-5}
. "$(dirname "$0")/../../tests/lib/lib.sh"
CL_NODES=2 CL_ID=mkob$$ CL_NET=192.168.239
. "$ROOT/tests/lib/cluster.sh"
TPUT=$ROOT/build/bench/overlay/tput
CONNRATE=$ROOT/build/bench/proxy/connrate
for b in "$MINIK8S" "$TPUT" "$CONNRATE"; do [ -x "$b" ] || { echo "missing $b (make)"; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "run as root"; exit 1; }
kj() { KC "$@" -o json 2>/dev/null; }
wait_for() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done; return 1; }
die() { echo "overlay bench: $*"; for n in 1 2; do tail -5 "$T/up$n.out" 2>/dev/null; done; exit 1; }

bash "$ROOT/examples/images/build.sh" --out "$T/images" >"$T/images.log" 2>&1 || die "image build failed"
cluster_underlay || die "underlay"
for n in 1 2; do cluster_import "$n" "$T/images/jumpbox.tar" >/dev/null 2>&1 || die "image import"; done

stop_node() {
	local p
	p=$(cluster_pid "$1") || return 0
	kill "$p"
	gone() { ! kill -0 "$p" 2>/dev/null; }
	wait_for 150 gone
}
start_nodes() { # start_nodes BACKEND
	cluster_up_server --flannel-backend "$1" || die "server up ($1)"
	cluster_join 2 --flannel-backend "$1" || die "node2 join ($1)"
}
pod_yaml() { # pod_yaml NAME NODE
	cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  nodeName: $2
  containers:
  - {name: c, image: minik8s.local/jumpbox:1, imagePullPolicy: IfNotPresent}
EOF
}
netns_of() { echo "$(cl_netns "$2")/mkp-$(kj get pod "$1" | jq -r .metadata.uid)"; }
route_is() { # route_is PATTERN: node1's route to node2's pods matches
	IN 1 ip route show "$(kj get node node2 | jq -r .spec.podCIDR)" | grep -q "$1"
}

declare -A MBS CPS MTU
for B in host-gw vxlan; do
	stop_node 2; stop_node 1
	start_nodes "$B"
	for n in 1 2; do pod_yaml "b-$B-$n" "node$n" | KC apply -f - >/dev/null || die "pod b-$B-$n"; done
	running() { [ "$(kj get pod "$1" | jq -r .status.phase)" = Running ]; }
	wait_for 300 running "b-$B-1" && wait_for 300 running "b-$B-2" || die "pods of $B not Running"
	if [ "$B" = vxlan ]; then want="dev mk-vxlan"; else want="via $(cl_ip 2) dev eth0"; fi
	wait_for 100 route_is "$want" || die "node1's route to node2's pods is not '$want': $(IN 1 ip route)"
	NS1=$(netns_of "b-$B-1" 1) NS2=$(netns_of "b-$B-2" 2)
	IP2=$(kj get pod "b-$B-2" | jq -r .status.podIP)
	MTU[$B]=$(nsenter --net="$NS1" ip -j link show eth0 | jq .[0].mtu)
	nsenter --net="$NS2" "$TPUT" serve 5201 & _PIDS+=($!)
	nsenter --net="$NS2" "$CONNRATE" serve 5202 & _PIDS+=($!)
	sleep 0.3
	MBS[$B]=$(nsenter --net="$NS1" "$TPUT" client "$IP2" 5201 $((D * 1000)) | awk '/MB\/s/ {print $2}')
	CPS[$B]=$(nsenter --net="$NS1" "$CONNRATE" client "$IP2" 5202 $((D * 1000)) | awk '/conns\/s/ {print $2}')
	for p in "${_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	KC delete pod "b-$B-1" "b-$B-2" --wait=false >/dev/null 2>&1
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "--- overlay: pod to pod across two nodes on one L2, ${D}s per figure"
printf '%-26s %8s %16s %16s\n' "" "pod MTU" "throughput" "new conns/s"
printf '%-26s %8s %11s MB/s %16s\n' "host-gw (anchor)" "${MTU[host-gw]}" "${MBS[host-gw]:-n/a}" "${CPS[host-gw]:-n/a}"
printf '%-26s %8s %11s MB/s %16s\n' "vxlan (mk-vxlan, forced)" "${MTU[vxlan]}" "${MBS[vxlan]:-n/a}" "${CPS[vxlan]:-n/a}"
printf '%-26s %8s %16s %16s\n' "ratio vxlan / host-gw" "" "$(ratio "${MBS[vxlan]:-0}" "${MBS[host-gw]:-0}")" \
	"$(ratio "${CPS[vxlan]:-0}" "${CPS[host-gw]:-0}")"
. "$ROOT/bench/lib/report.sh"
bench_row overlay "pod-to-pod throughput, vxlan" "${MBS[vxlan]:-}" MB/s "${MBS[host-gw]:-}" "host-gw, same run" higher
bench_row overlay "pod-to-pod new conns/s, vxlan" "${CPS[vxlan]:-}" /s "${CPS[host-gw]:-}" "host-gw, same run" higher
[ -n "${MBS[vxlan]:-}" ] && [ -n "${MBS[host-gw]:-}" ] && [ -n "${CPS[vxlan]:-}" ] && [ -n "${CPS[host-gw]:-}" ]
