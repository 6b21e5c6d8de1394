#!/bin/bash
# The pod sandbox's network is wired by a thread of its own while the
# container's root file system is prepared (pkg/agent/sandbox.c): a pod whose
# network setup fails (here: the node's bridge is gone, a real netlink failure)
# shows FailedCreatePodSandBox, keeps its container waiting in ContainerCreating
# without counting a restart, keeps no rootfs mounted between attempts, and
# once deleted leaves nothing: no network namespace, no veth, no address in the
# IPAM file, no mount, no pod directory. After the agent restarts (the bridge is
# made again) pods start.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require "pod sandbox" runc jq curl ip nsenter busybox python3
node_init sbx 192.168.79.2

pod_json() {
	jq -c -n --arg n "$1" --arg node "$NODE" --arg img "$IMG" '
	  {apiVersion:"v1",kind:"Pod",metadata:{name:$n},
	   spec:{nodeName:$node,terminationGracePeriodSeconds:1,
	         containers:[{name:"c",image:$img,imagePullPolicy:"Never",
	                      command:["httpd","-f","-p","80"]}]}}'
}
podq() { api GET "/api/v1/namespaces/default/pods/$1"; jqb "$2"; }
wait_pod() { # wait_pod NAME JQ_BOOL TRIES(0.1s)
	local i
	for ((i = 0; i < $3; i++)); do
		[ "$(podq "$1" "$2")" == true ] && return 0
		sleep 0.1
	done
	return 1
}
# veth_name UID: the host end's name (mk_net_veth_name: "mk" + FNV-1a 64 >> 20)
veth_name() {
	python3 -c 'import sys
h = 0xcbf29ce484222325
for c in sys.argv[1].encode():
    h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
print("mk%011x" % (h >> 20))' "$1"
}
sandbox_failed_event() {
	api GET "/api/v1/namespaces/default/events?fieldSelector=involvedObject.uid=$1"
	[ "$(jqb '[.items[] | select(.reason=="FailedCreatePodSandBox")] | length > 0')" == true ]
}

node_up

# ---- the bridge goes: the network of a new pod cannot be wired ----
"${IN[@]}" ip link del mk0
api_json POST /api/v1/namespaces/default/pods "$(pod_json nonet)"
expect_code "pod created while the node has no bridge" 201
UID1=$(jqb .metadata.uid)
if wait_until 300 sandbox_failed_event "$UID1"; then
	pass "FailedCreatePodSandBox event for the pod"
else
	fail "FailedCreatePodSandBox event for the pod" "$(grep -v 'HTTP verb' "$T/server.log" | tail -5)"
fi
wait_pod nonet '.status.containerStatuses != null' 100
expect_eq "container waits in ContainerCreating, no restart counted" \
	"$(podq nonet '.status.containerStatuses[0] | "\(.state.waiting.reason) \(.restartCount)"')" \
	"ContainerCreating 0"
expect_eq "PodReadyToStartContainers False" \
	"$(podq nonet '.status.conditions[] | select(.type=="PodReadyToStartContainers") | .status')" False
expect_eq "the rootfs prepared meanwhile is not left mounted" \
	"$(grep -c " $DATA/pods/$UID1/containers" /proc/mounts)" 0
expect_eq "no container created" "$(runc --root "$RUN/runc" list -q | grep -c "^$UID1")" 0
V1=$(veth_name "$UID1")
"${IN[@]}" ip link show "$V1" >/dev/null 2>&1 && fail "no veth after the failed attach" "$V1 exists" ||
	pass "no veth after the failed attach"

# ---- deleted: nothing of it is left ----
api DELETE /api/v1/namespaces/default/pods/nonet
expect_code "pod deleted" 200
gone() { api GET /api/v1/namespaces/default/pods/nonet; [ "$HTTP_CODE" == 404 ]; }
wait_until 300 gone && pass "pod removed from the API" || fail "pod removed from the API" "$HTTP_CODE"
wait_until 100 test ! -e "$DATA/pods/$UID1"
expect_eq "no pod directory" "$(test -e "$DATA/pods/$UID1" && echo left || echo gone)" gone
expect_eq "no network namespace" "$(ls "$NETNS" 2>/dev/null | grep -c "$UID1")" 0
expect_eq "no address in the IPAM file" "$(grep -c "$UID1" "$DATA/ipam/pods.ipam")" 0
expect_eq "no mount under the pod's directory" "$(grep -c " $DATA/pods/$UID1" /proc/mounts)" 0
"${IN[@]}" ip link show "$V1" >/dev/null 2>&1 && fail "no veth" "$V1 exists" || pass "no veth"

# ---- the agent restarts (bridge made again): pods start, network and all ----
stop_server TERM
node_start || { fail "agent restarts" "$(tail -5 "$T/server.log")"; exit 1; }
api_json POST /api/v1/namespaces/default/pods "$(pod_json web)"
expect_code "pod created after the restart" 201
UID2=$(jqb .metadata.uid)
if wait_pod web '.status.phase=="Running"' 600; then
	pass "pod Running"
else
	fail "pod Running" "$(podq web .status)"
fi
IP2=$(podq web .status.podIP)
expect_eq "IPAM holds its address" "$(grep -c "^$IP2 $UID2\$" "$DATA/ipam/pods.ipam")" 1
ok=0
for _ in $(seq 50); do
	[ "$(curl -s -m 2 "http://$IP2/" -o /dev/null -w '%{http_code}')" != 000 ] && ok=1 && break
	sleep 0.2
done
expect_eq "pod answers HTTP over its veth" "$ok" 1
api DELETE "/api/v1/namespaces/default/pods/web?gracePeriodSeconds=0"
wait_until 300 test ! -e "$DATA/pods/$UID2"
expect_eq "second pod's network released" \
	"$(ls "$NETNS" 2>/dev/null | grep -c "$UID2") $(grep -c "$UID2" "$DATA/ipam/pods.ipam")" "0 0"
stop_server TERM
done_testing
