#!/bin/bash
# Nodes on different networks: three node namespaces on three subnets
# (172.31.1.0/24, .2.0/24, .3.0/24) behind a router namespace, no L2 between them
# (tests/lib/cluster.sh, CL_LAYOUT=routed). Node 1 runs `minik8s up` with the
# default backend (vxlan to peers off its subnet: all of them here), 2 and 3 join.
# Covers: the flannel annotations each node publishes (backend-type, backend-data
# with the VTEP MAC, public-ip) and the cluster's net-conf on node 1; mk-vxlan on
# every node (vxlan id 1, dstport 8472, nolearning, local = the node's address),
# per peer a permanent neighbour, an FDB entry to the peer's underlay address and
# an onlink route via the peer's VTEP; pods' eth0 MTU 1450 (underlay 1500 - 50);
# the lab: echo deployment one replica per node, jumpbox, DNS, the ClusterIP from
# the jumpbox and from every node reaching every replica, pod-to-pod across nodes,
# and the packets counted on mk-vxlan; kill -9 of an agent keeps the data path and
# a restarted agent keeps its VTEP; host-gw on this layout logs and records a
# clear error, and the other nodes drop their entries for the node that stopped
# publishing a VTEP; wireguard-native is refused with a one-line error and exit code 1;
# `minik8s down` leaves no mk-vxlan and nothing else.
. "$(dirname "$0")/../lib/lib.sh"
CL_LAYOUT=routed CL_ID=mkov$$
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

if [ "$(id -u)" != 0 ]; then fail overlay "must run as root"; exit 0; fi
for tool in runc jq curl ip bridge nsenter nft dig "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail overlay "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail overlay "build/minik8s missing (make build/minik8s)"; exit 0; }
show_logs() {
	[ "$FAILED" = 1 ] || [ -n "${OVERLAY_E2E_LOGS:-}" ] || return 0
	local n
	for n in 1 2 3; do
		echo "---- node$n: up output, last log lines" >&2
		tail -n 5 "$T/up$n.out" >&2 2>/dev/null
		grep -h -e flannel -e vxlan -e route "$T/node$n.log" "$(cl_data "$n")/minik8s.log" 2>/dev/null | tail -n 15 >&2
	done
}
on_exit show_logs
START=$(date +%s)
elapsed() { echo "# $1 ($(($(date +%s) - START))s)"; }
kj() { KC "$@" -o json 2>/dev/null; }
wait_for() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done; return 1; }

# ---- the wireguard-native refusal needs no cluster ----
ip netns add "$CL_ID-wg" && on_exit ip netns delete "$CL_ID-wg"
out=$(ip netns exec "$CL_ID-wg" "$MINIK8S" agent --node-name wg --flannel-backend wireguard-native \
	--data-dir "$T/wg/data" --run-dir "$T/wg/run" 2>&1)
rc=$?
expect_eq "agent --flannel-backend wireguard-native: exit code 1" "$rc" 1
expect_eq "  ... one line of error" "$(wc -l <<<"$out")" 1
if ip netns exec "$CL_ID-wg" ip link add mkwgt type wireguard 2>/dev/null; then
	expect_match "  ... says it is not implemented" "$out" "wireguard-native' is not implemented"
else
	expect_match "  ... says the kernel has no WireGuard" "$out" "this kernel has no WireGuard"
fi
out=$("$MINIK8S" agent --flannel-backend udp 2>&1); rc=$?
expect_eq "agent --flannel-backend udp: usage error (exit 2)" "$rc" 2

elapsed "start"
# ---- images, routed underlay, nodes ----
if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
for n in 1 2 3; do
	cluster_import "$n" "$T/images/echo.tar" "$T/images/jumpbox.tar" >"$T/import$n.log" 2>&1 ||
		fail "image import node$n" "$(tail -2 "$T/import$n.log")"
done
expect_match "underlay: node1 reaches node2 only through the router" \
	"$(IN 1 ip route get "$(cl_ip 2)" 2>&1)" "via $(cl_gw 1) dev eth0"

AGENT_FLAGS=(--restart-backoff 1s,4s --node-status-update-frequency 1s)
if cluster_up_server --restart-backoff 1s,4s --node-status-update-frequency 1s; then
	pass "node1: minik8s up (server) Ready"
else fail "node1: minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; fi
cluster_join 2 "${AGENT_FLAGS[@]}" & J2=$!
cluster_join 3 "${AGENT_FLAGS[@]}" & J3=$!
wait $J2 && pass "node2 joins across the router" || fail "node2 joins" "$(tail -5 "$T/up2.out")"
wait $J3 && pass "node3 joins across the router" || fail "node3 joins" "$(tail -5 "$T/up3.out")"

elapsed "nodes up"
# ---- what each node publishes, and mk-vxlan ----
# (sysfs shows the root namespace's links under nsenter --net: ask netlink)
vx_mac() { ip -n "$(cl_ns "$1")" -j link show mk-vxlan 2>&1 | jq -r '.[0].address' 2>&1; }
ann() { kj get node "node$1" | jq -r --arg k "$2" '.metadata.annotations[$k] // ""'; }
# one list of the nodes once every VTEP MAC is out
vteps_published() {
	NODES=$(kj get nodes)
	[ "$(jq '[.items[].metadata.annotations["flannel.alpha.coreos.com/backend-data"] // "null"
		| fromjson? | .VtepMAC? // empty] | length' <<<"$NODES")" = 3 ]
}
wait_for 50 vteps_published || fail "every node publishes its VTEP MAC" "$(jq -c '[.items[].metadata.annotations]' <<<"$NODES")"
nann() { jq -r --arg n "node$1" --arg k "$2" '.items[] | select(.metadata.name == $n) | .metadata.annotations[$k] // ""' <<<"$NODES"; }
expect_eq "node1 publishes the cluster's net-conf" "$(nann 1 minik8s.io/flannel-net-conf)" \
	'{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","DirectRouting":true}}'
declare -A MAC CIDR
for n in 1 2 3; do
	MAC[$n]=$(nann "$n" flannel.alpha.coreos.com/backend-data | jq -r '.VtepMAC // empty' 2>/dev/null)
	CIDR[$n]=$(jq -r --arg n "node$n" '.items[] | select(.metadata.name == $n) | .spec.podCIDR' <<<"$NODES")
	expect_eq "node$n: backend-type vxlan" "$(nann "$n" flannel.alpha.coreos.com/backend-type)" vxlan
	expect_eq "node$n: public-ip is its underlay address" "$(nann "$n" flannel.alpha.coreos.com/public-ip)" "$(cl_ip "$n")"
	expect_eq "node$n: backend-data VtepMAC is mk-vxlan's MAC" "${MAC[$n]}" "$(vx_mac "$n")"
	d=$(IN "$n" ip -d link show mk-vxlan 2>&1)
	expect_match "node$n: mk-vxlan is vxlan id 1, local $(cl_ip "$n"), dstport 8472, nolearning" "$d" \
		"vxlan id 1 local $(cl_ip "$n") dev eth0 .*dstport 8472 nolearning"
	expect_match "node$n: mk-vxlan MTU 1450" "$d" "mtu 1450 "
done
peer_state() { # peer_state N M: node N's neighbour, fdb and route for peer M
	local n=$1 m=$2 vtep=${CIDR[$2]%/*}
	IN "$n" ip neigh show dev mk-vxlan "$vtep" | grep -q "lladdr ${MAC[$m]} PERMANENT" &&
		IN "$n" bridge fdb show dev mk-vxlan | grep -q "^${MAC[$m]} dst $(cl_ip "$m") self permanent" &&
		IN "$n" ip route show "${CIDR[$m]}" | grep -q "via $vtep dev mk-vxlan .*onlink"
}
for n in 1 2 3; do
	for m in 1 2 3; do
		[ "$n" = "$m" ] && continue
		if wait_for 50 peer_state "$n" "$m"; then pass "node$n -> node$m: neighbour, FDB entry, onlink route via VTEP"
		else fail "node$n -> node$m: neighbour, FDB entry, onlink route" \
			"$(IN "$n" ip neigh show dev mk-vxlan; IN "$n" bridge fdb show dev mk-vxlan; IN "$n" ip route)"; fi
	done
	expect_eq "node$n: exactly 2 FDB entries (no flooding, no learning)" \
		"$(IN "$n" bridge fdb show dev mk-vxlan | grep -c ' dst ')" 2
done

elapsed "vxlan state checked"
# ---- the lab ----
KC create namespace demo >/dev/null 2>&1 || fail "create namespace demo"
KC apply -f "$ROOT/examples/php-echo.yaml" >"$T/apply.out" 2>&1 || fail "apply php-echo" "$(cat "$T/apply.out")"
KC apply -f "$ROOT/examples/jumpbox.yaml" >>"$T/apply.out" 2>&1 || fail "apply jumpbox" "$(cat "$T/apply.out")"
echo_pods() {
	kj -n demo get pods -l app=php-echo | jq -r '.items[] | select(.metadata.deletionTimestamp == null)
		| select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))
		| "\(.spec.nodeName) \(.status.podIP) \(.metadata.name)"' | sort
}
three_ready() { [ "$(echo_pods | wc -l)" == 3 ]; }
if wait_for 300 three_ready; then pass "php-echo: 3 replicas Ready (readiness probes cross no node)"
else fail "php-echo: 3 replicas Ready" "$(KC -n demo get pods -o wide 2>&1)"; fi
PODS=$(echo_pods)
expect_eq "replicas spread one per node" "$(awk '{print $1}' <<<"$PODS" | sort -u | tr '\n' ' ')" "node1 node2 node3 "
jb_running() { [ "$(kj get pod jumpbox | jq -r .status.phase)" == Running ]; }
wait_for 150 jb_running || fail "jumpbox Running" "$(KC get pod jumpbox -o wide 2>&1)"
JB_NODE=$(kj get pod jumpbox | jq -r .spec.nodeName)
JBN=${JB_NODE#node}
JX() { KC exec jumpbox -- "$@"; }
expect_eq "jumpbox eth0 MTU 1450 (underlay 1500 - 50)" "$(JX cat /sys/class/net/eth0/mtu 2>&1)" 1450
for p in $(awk '{print $3}' <<<"$PODS"); do
	expect_eq "replica $p eth0 MTU 1450" "$(KC -n demo exec "$p" -- cat /sys/class/net/eth0/mtu 2>&1)" 1450
done

elapsed "pods ready"
txp() { ip -n "$(cl_ns "$1")" -j -s link show mk-vxlan | jq '.[0].stats64.tx.packets'; }
rxp() { ip -n "$(cl_ns "$1")" -j -s link show mk-vxlan | jq '.[0].stats64.rx.packets'; }
TX0=$(txp "$JBN")
declare -A RX0
for n in 1 2 3; do RX0[$n]=$(rxp "$n"); done
# pod to pod: the jumpbox to every replica's own address
while read -r node ip name; do
	expect_match "pod-to-pod: jumpbox ($JB_NODE) -> $name on $node ($ip)" \
		"$(JX curl -s -m 5 "http://$ip/" 2>&1)" "pod=$ip "
done <<<"$PODS"
OTHER_IP=$(awk -v j="$JB_NODE" '$1 != j {print $2; exit}' <<<"$PODS")
expect_match "a 1400-byte ping (1428 bytes, within the 1450 MTU) to $OTHER_IP" \
	"$(JX ping -c 1 -W 3 -s 1400 "$OTHER_IP" 2>&1)" "1 packets received"
TX1=$(txp "$JBN")
[ "$((TX1 - TX0))" -ge 4 ] && pass "the packets went out through $JB_NODE's mk-vxlan (tx $TX0 -> $TX1)" ||
	fail "packets through $JB_NODE's mk-vxlan" "tx $TX0 -> $TX1"
for n in 1 2 3; do
	[ "$n" = "$JBN" ] && continue
	r=$(rxp "$n")
	[ "$((r - RX0[$n]))" -ge 2 ] && pass "node$n received them on mk-vxlan (rx ${RX0[$n]} -> $r)" ||
		fail "node$n received on mk-vxlan" "rx ${RX0[$n]} -> $r"
done

elapsed "pod-to-pod done"
KC -n demo expose deployment php-echo --port=80 --type=ClusterIP >"$T/expose.out" 2>&1 ||
	fail "kubectl expose" "$(cat "$T/expose.out")"
CIP=$(kj -n demo get service php-echo | jq -r .spec.clusterIP)
eps_ready() { [ "$(kj -n demo get endpoints php-echo | jq '[.subsets[]?.addresses[]?] | length')" == 3 ]; }
wait_for 50 eps_ready || fail "endpoints list the 3 replicas"
dig_jb() { [ "$(JX dig +short php-echo.demo.svc.cluster.local 2>/dev/null)" == "$CIP" ]; }
wait_for 25 dig_jb
expect_eq "DNS: the name resolves to the ClusterIP from the jumpbox" \
	"$(JX dig +short php-echo.demo.svc.cluster.local 2>&1)" "$CIP"
WANT=$(awk '{print "pod="$2}' <<<"$PODS" | sort -u | tr '\n' ' ')
out=$(JX bash -c "for i in \$(seq 30); do curl -s -m 2 php-echo.demo.svc.cluster.local:80 || echo FAILED; echo; done" 2>&1 | grep -v '^$')
expect_eq "ClusterIP from the jumpbox: 30 requests answered" "$(grep -c '^node=' <<<"$out")" 30
expect_eq "ClusterIP from the jumpbox: every replica" "$(grep -o 'pod=[0-9.]*' <<<"$out" | sort -u | tr '\n' ' ')" "$WANT"
for n in 1 2 3; do
	# 30 requests miss one of 3 replicas by chance with p = 3 * (2/3)^30 ~ 2e-5
	# one curl, a new connection (a new balancing decision) per request
	replies=$(IN "$n" curl -s -m 3 -H 'Connection: close' $(printf "http://$CIP/?%d " $(seq 30)))
	expect_eq "ClusterIP from node$n reaches all 3 replicas" "$(grep -o 'pod=[0-9.]*' <<<"$replies" | sort -u | tr '\n' ' ')" "$WANT"
done

elapsed "clusterip done"
# ---- agents: a dead one keeps the data path, a restarted one its VTEP ----
N2IP=$(awk '$1=="node2" {print $2}' <<<"$PODS")
P2=$(cluster_pid 2)
if [ -n "$P2" ]; then
	kill -9 "$P2"
	gone() { [ -z "$(cluster_pid 2)" ]; }
	wait_for 25 gone
	expect_match "node2's agent dead: the jumpbox still reaches its replica" "$(JX curl -s -m 5 "http://$N2IP/" 2>&1)" "pod=$N2IP "
	if cluster_join 2 "${AGENT_FLAGS[@]}"; then pass "node2's agent restarted"; else fail "node2's agent restarted" "$(tail -5 "$T/up2.out")"; fi
	expect_eq "node2 keeps its VTEP MAC across the restart" "$(vx_mac 2)" "${MAC[2]}"
	expect_match "after the restart: the jumpbox reaches node2's replica" "$(JX curl -s -m 5 "http://$N2IP/" 2>&1)" "pod=$N2IP "
	expect_eq "after the restart: node2 still has 2 FDB entries" "$(IN 2 bridge fdb show dev mk-vxlan | grep -c ' dst ')" 2
else
	fail "node2's pid"
fi

elapsed "restart done"
# ---- host-gw where the peers are not on-link: a clear error ----
P3=$(cluster_pid 3)
[ -n "$P3" ] && kill -9 "$P3"
gone3() { [ -z "$(cluster_pid 3)" ]; }
wait_for 25 gone3
if cluster_join 3 "${AGENT_FLAGS[@]}" --flannel-backend host-gw; then pass "node3 up again with --flannel-backend host-gw"
else fail "node3 up with host-gw" "$(tail -5 "$T/up3.out")"; fi
hostgw_logged() { grep -q "flannel backend host-gw: node node1 ($(cl_ip 1)) is not on-link" "$(cl_data 3)/minik8s.log"; }
if wait_for 50 hostgw_logged; then pass "host-gw: node3 logs that node1 is not on-link"
else fail "host-gw: node3 logs that node1 is not on-link" "$(grep -i flannel "$(cl_data 3)/minik8s.log" | tail -3)"; fi
hostgw_event() { KC get events --field-selector reason=HostGwPeerNotOnLink,involvedObject.name=node3 --no-headers 2>/dev/null | grep -q "not on-link"; }
if wait_for 50 hostgw_event; then pass "host-gw: a Warning event HostGwPeerNotOnLink on node3"
else fail "host-gw: a Warning event on node3" "$(KC get events -A 2>&1 | tail -3)"; fi
expect_eq "host-gw: node3 publishes backend-type host-gw" "$(ann 3 flannel.alpha.coreos.com/backend-type)" host-gw
# node3 publishes no VTEP any more: the others remove their entries for it
dropped() { # dropped N: node N has no route, neighbour or FDB entry for node3
	! IN "$1" ip route show "${CIDR[3]}" | grep -q . &&
		! IN "$1" ip neigh show dev mk-vxlan | grep -q "${CIDR[3]%/*} " &&
		! IN "$1" bridge fdb show dev mk-vxlan | grep -q "${MAC[3]}"
}
for n in 1 2; do
	if wait_for 50 dropped "$n"; then pass "node$n drops its route, neighbour and FDB entry for node3"
	else fail "node$n drops its entries for node3" "$(IN "$n" ip route; IN "$n" bridge fdb show dev mk-vxlan)"; fi
	expect_eq "node$n keeps the other peer's FDB entry" "$(IN "$n" bridge fdb show dev mk-vxlan | grep -c ' dst ')" 1
done
no_route() { ! IN 3 ip route show "${CIDR[1]}" | grep -q .; }
wait_for 25 no_route && pass "host-gw: node3 has no route to node1's pods (none can work)" ||
	fail "host-gw: no route to node1's pods" "$(IN 3 ip route)"

elapsed "host-gw done"
# ---- down: no mk-vxlan, nothing else ----
for n in 3 2 1; do
	cluster_down "$n" || fail "node$n: minik8s down" "$(tail -3 "$T/down$n.out")"
	expect_eq "node$n: down leaves no mk-vxlan" "$(IN "$n" ip link show mk-vxlan 2>&1 | grep -c 'does not exist')" 1
	expect_eq "node$n: down leaves nothing" "$(cluster_leftovers "$n" | tr '\n' ' ')" ""
done
elapsed "down done"
done_testing
