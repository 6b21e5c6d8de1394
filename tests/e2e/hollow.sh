#!/bin/bash
# Hollow nodes (`minik8s agent --hollow N`, pkg/agent/hollow.c) against a real API
# server with its controllers and scheduler, through the real kubectl.
# Covers: 20 nodes registered Ready with the hollow label, capacity and distinct pod
# CIDRs; each with its own credential (system:node:NAME, so the Node authorizer
# keeps it to its own pods: another node's pod status is a 403); Leases renewed; a
# Deployment of 60 replicas Available, spread over the nodes, every pod Running with
# a unique address inside its node's pod CIDR; scale to 10 -> the 50 deleted pods
# gone (the hollow kubelets delete them as the kubelet does); a restart reuses the
# kept credentials and reports new pods; SIGTERM leaves the nodes registered and the
# node lifecycle controller marks them NotReady; usage errors for bad counts.
. "$(dirname "$0")/../lib/lib.sh"
for tool in jq curl kubectl; do
	command -v "$tool" >/dev/null || { fail hollow "$tool missing (scripts/deps.sh)"; done_testing; exit 0; }
done
curl_max_time 20
N=20

out=$("$MINIK8S" agent --server https://127.0.0.1:1 --token x --hollow 0 2>&1); rc=$?
expect_eq "--hollow 0: usage error" "$rc" 2
expect_match "--hollow 0: says why" "$out" "invalid --hollow '0'"
out=$("$MINIK8S" agent --server https://127.0.0.1:1 --token x --hollow many 2>&1); rc=$?
expect_eq "--hollow many: usage error" "$rc" 2

start_server --node-monitor-grace-period 4s || { fail "server starts"; done_testing; exit 0; }
start_hollow() {
	"$MINIK8S" agent --server "$API" --token "$(cat "$DATA/node-token")" --data-dir "$T/agent" \
		--node-status-update-frequency 1s --hollow "$N" >>"$T/hollow.log" 2>&1 &
	HOLLOW_PID=$!
	_PIDS+=("$HOLLOW_PID")
	wait_until 600 grep -q "hollow nodes running" "$T/hollow.log"
}
ready_nodes() {
	kubectl get nodes -l minik8s.io/hollow=true -o json |
		jq '[.items[] | select(any(.status.conditions[]; .type == "Ready" and .status == "True"))] | length'
}
check "$N hollow nodes start" start_hollow
expect_eq "$N nodes Ready with the hollow label" "$(ready_nodes)" "$N"
nodes=$(kubectl get nodes -o json)
expect_eq "capacity pods 110" "$(jq -r '.items[0].status.capacity.pods' <<<"$nodes")" 110
expect_eq "distinct pod CIDRs" "$(jq '[.items[].spec.podCIDR] | unique | length' <<<"$nodes")" "$N"
expect_eq "kubelet version" "$(jq -r '.items[0].status.nodeInfo.kubeletVersion' <<<"$nodes")" v1.32.0-minik8s
creds=$(ls "$T/agent/agent/hollow" | wc -l)
expect_eq "one credential per node kept" "$creds" "$N"
expect_eq "credentials are 0600" "$(stat -c %a "$T/agent/agent/hollow/hollow-0.credential")" 600

renew() { kubectl get lease -n kube-node-lease hollow-3 -o jsonpath='{.spec.renewTime}'; }
r1=$(renew)
lease_moved() { [ -n "$r1" ] && [ "$(renew)" != "$r1" ]; }
check "the Lease of a hollow node is renewed" wait_until 50 lease_moved

kubectl create deployment web --image=nginx --replicas=60 >/dev/null
available() { [ "$(kubectl get deploy web -o jsonpath='{.status.availableReplicas}')" == "$1" ]; }
check "a Deployment of 60 replicas becomes Available" wait_until 600 available 60
pods=$(kubectl get pods -l app=web -o json)
expect_eq "60 pods Running" "$(jq '[.items[] | select(.status.phase == "Running")] | length' <<<"$pods")" 60
expect_eq "60 distinct pod IPs" "$(jq '[.items[].status.podIP] | unique | length' <<<"$pods")" 60
spread=$(jq '[.items[].spec.nodeName] | unique | length' <<<"$pods")
check "spread over at least 15 of the $N nodes ($spread)" num_cmp "$spread" ">=" 15
# every pod's address inside its node's pod CIDR (a /24: the first three octets)
bad=$(jq -r --argjson nodes "$nodes" '
	($nodes.items | map({(.metadata.name): (.spec.podCIDR | split(".")[0:3] | join("."))}) | add) as $cidr
	| [.items[] | select((.status.podIP | split(".")[0:3] | join(".")) != $cidr[.spec.nodeName])] | length' <<<"$pods")
expect_eq "every pod address in its node's CIDR" "$bad" 0
expect_eq "container status running" \
	"$(jq -r '.items[0].status.containerStatuses[0].state.running != null' <<<"$pods")" true

# the Node authorizer holds: hollow-0's credential may not write hollow-1's pod status
other=$(jq -r '[.items[] | select(.spec.nodeName != "hollow-0")][0].metadata.name' <<<"$pods")
cred=$(cat "$T/agent/agent/hollow/hollow-0.credential")
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CACERT" -H "Authorization: Bearer $cred" \
	-X PATCH -H 'Content-Type: application/merge-patch+json' -d '{"status":{"phase":"Failed"}}' \
	"$API/api/v1/namespaces/default/pods/$other/status")
expect_eq "a hollow node cannot write another node's pod status" "$code" 403

kubectl scale deploy web --replicas=10 >/dev/null
count_pods() { [ "$(kubectl get pods -l app=web -o json | jq '.items | length')" == "$1" ]; }
check "scale to 10: the 50 deleted pods are gone" wait_until 600 count_pods 10

# a restart keeps the credentials and serves new pods
kill "$HOLLOW_PID"; wait "$HOLLOW_PID" 2>/dev/null
expect_match "stop summary" "$(tail -1 "$T/hollow.log")" "stopping $N hollow nodes .* [0-9]+ pods reported Running, [0-9]+ deleted"
check "restart" start_hollow
expect_eq "still one credential per node" "$(ls "$T/agent/agent/hollow" | wc -l)" "$N"
kubectl scale deploy web --replicas=25 >/dev/null
check "scale to 25 after the restart: Available" wait_until 600 available 25

# stopped hollow nodes stay registered and go NotReady as silent nodes do
kill "$HOLLOW_PID"; wait "$HOLLOW_PID" 2>/dev/null
not_ready() { [ "$(ready_nodes)" == 0 ]; }
check "stopped hollow nodes go NotReady" wait_until 300 not_ready
expect_eq "and stay registered" "$(kubectl get nodes --no-headers | wc -l)" "$N"
check "the server stayed healthy" server_healthy
done_testing
