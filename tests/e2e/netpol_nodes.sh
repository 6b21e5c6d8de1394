#!/bin/bash
# NetworkPolicy across nodes, on a real two-node cluster (tests/lib/cluster.sh: each
# node a network namespace running `minik8s up`, runc pods of the lab's echo image
# pinned to a node, the real kubectl): ingress is enforced on the destination's node
# and egress on the source's (each node's isolation sets hold its own pods only),
# peers selected on another node are allowed. Probes are real TCP connections
# (curl -m 1) from inside a pod's network namespace.
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=2 CL_ID=mknq$$ CL_NET=192.168.244
. "$ROOT/tests/lib/cluster.sh"
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail netpol_nodes "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail netpol_nodes "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail netpol_nodes "build/minik8s missing"; exit 0; }
if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
for n in 1 2; do
	cluster_import "$n" "$T/images/echo.tar" >"$T/import$n.log" 2>&1 || { fail "image_import $n" "$(tail -2 "$T/import$n.log")"; exit 0; }
done
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }
cluster_join 2 || { fail "join node2" "$(tail -5 "$T/up2.out")"; exit 0; }
ready() { [ "$(KC get nodes --no-headers 2>/dev/null | grep -c ' Ready')" == 2 ]; }
wait_until 600 ready || { fail nodes_ready "$(KC get nodes 2>&1)"; exit 0; }
pass "two nodes ready"

N=npn-$$
KC create namespace "$N" >/dev/null 2>&1 || fail "create namespace"
mkpod() {
	KC apply -f - >/dev/null 2>&1 <<Y || fail "create pod $1"
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1","namespace":"$N","labels":{"app":"$2"}},
 "spec":{"nodeName":"node$3","terminationGracePeriodSeconds":1,
 "containers":[{"name":"echo","image":"minik8s.local/echo:1","imagePullPolicy":"IfNotPresent"}]}}
Y
}
mkpod a1 a 1
mkpod b2 b 2
mkpod c2 c 2
running() { [ "$(KC -n "$N" get pods -o json 2>/dev/null | jq '[.items[] | select(.status.phase == "Running" and .status.podIP != null)] | length')" == 3 ]; }
wait_until 1500 running || { fail pods_running "$(KC -n "$N" get pods -o wide 2>&1)"; exit 0; }
pass pods_running
declare -A IP NETNS
for p in a1:1 b2:2 c2:2; do
	j=$(KC -n "$N" get pod "${p%:*}" -o json 2>/dev/null)
	IP[${p%:*}]=$(jq -r .status.podIP <<<"$j")
	NETNS[${p%:*}]=$(ls -d "$(cl_netns "${p#*:}")"/*"$(jq -r .metadata.uid <<<"$j")" 2>/dev/null | head -1)
done
probe() { nsenter --net="${NETNS[$1]}" curl -s -m 1 "http://${IP[$2]}:80/" 2>/dev/null | grep -q '^node=' && echo 1 || echo 0; }
probe2() { [ "$(probe "$@")" == 1 ] && echo 1 || probe "$@"; }
settle() { local i; for i in $(seq 30); do [ "$(probe "$1" "$2")" == "$3" ] && return 0; sleep 0.2; done; return 1; }
# pairs: a1->b2 b2->a1 c2->b2 a1->c2
pairs() { echo "$(probe2 a1 b2)$(probe2 b2 a1)$(probe2 c2 b2)$(probe2 a1 c2)"; }
elems() { IN "$1" nft list set inet minik8s-netpol "$2" 2>/dev/null | tr -d '\n\t ' | grep -o 'elements={[^}]*}' | sed 's/elements=//'; }
apply() { local o; o=$(KC apply -f - 2>&1) || fail "apply $1" "$o"; }

settle a1 b2 1
expect_eq open "$(pairs)" 1111

apply deny-b <<Y
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny-b","namespace":"$N"},"spec":{"podSelector":{"matchLabels":{"app":"b"}}}}
Y
settle a1 b2 0
expect_eq ingress_deny_cross_node "$(pairs)" 0101
expect_eq ingress_iso_on_destination_node "$(elems 2 ing_iso)" "{${IP[b2]}}"
expect_eq ingress_iso_not_on_source_node "$(elems 1 ing_iso)" ""

apply allow-a <<Y
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny-b","namespace":"$N"},
 "spec":{"podSelector":{"matchLabels":{"app":"b"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"a"}}}]}]}}
Y
settle a1 b2 1
expect_eq ingress_allows_peer_on_other_node "$(pairs)" 1101
KC -n "$N" delete networkpolicy --all >/dev/null 2>&1
settle c2 b2 1

apply egress-a <<Y
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"egress-a","namespace":"$N"},
 "spec":{"podSelector":{"matchLabels":{"app":"a"}},"policyTypes":["Egress"]}}
Y
settle a1 b2 0
expect_eq egress_deny_on_source_node "$(pairs)" 0110
expect_eq egress_iso_on_source_node "$(elems 1 egr_iso)" "{${IP[a1]}}"
expect_eq egress_iso_not_on_destination_node "$(elems 2 egr_iso)" ""
KC -n "$N" delete networkpolicy --all >/dev/null 2>&1
settle a1 b2 1
expect_eq open_again "$(pairs)" 1111
done_testing
