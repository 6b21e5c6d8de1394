#!/bin/bash
# LoadBalancer services and traffic policies on a real two-node cluster
# (tests/lib/cluster.sh: nodes as network namespaces on a switch, runc pods, the
# real kubectl), with real traffic from a client network namespace of the test
# plugged into the same switch (never the root namespace):
#  - node-address mode (k3s ServiceLB's): EXTERNAL-IP is both nodes' addresses,
#    NODE_IP:port on either node reaches the pod (on node1);
#  - externalTrafficPolicy Local: the pod sees the client's own address, the node
#    without a local endpoint drops the traffic from outside (not from its own
#    pods or itself: they reach any endpoint), healthCheckNodePort answers 200
#    (localEndpoints 1) on node1 and 503 (0) on node2;
#  - internalTrafficPolicy Local: the ClusterIP answers on node1, drops on node2;
#  - sessionAffinity ClientIP with timeoutSeconds 3: every connection sticks to one
#    pod, the kernel's affinity entry carries the timeout and is gone after it;
#  - pool mode (server restarted with --lb-pool inside the switch's subnet):
#    spec.loadBalancerIP honoured, the address is on the holder node's eth0, the
#    client learnt it from a gratuitous ARP (its neighbour entry has the holder's
#    MAC before any traffic), traffic reaches the pod, the service keeps its
#    address across the restart of the server, deleting the service releases the
#    address; when the holder node stops, the address moves to the other node;
#    `minik8s down` takes the address off the node's interface.
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=2 CL_ID=mklb$$ CL_NET=192.168.243
. "$ROOT/tests/lib/cluster.sh"
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail loadbalancer "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft dig "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail loadbalancer "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail loadbalancer "build/minik8s missing"; exit 0; }

wait_for() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done; return 1; }
kj() { KC "$@" -o json 2>/dev/null; }
N1=$(cl_ip 1) N2=$(cl_ip 2) CIP=$CL_NET.100 CL=$CL_ID-cl

if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
# the client: one more namespace on the switch, learning addresses from
# gratuitous ARP (arp_accept, in its own namespace only)
ip netns add "$CL" || { fail underlay "client namespace"; exit 0; }
on_exit ip netns delete "$CL"
ip -n "$CL" link set lo up
ip -n "$CL_SW" link add vcl type veth peer name eth0 netns "$CL"
ip -n "$CL_SW" link set vcl master br0 up
ip -n "$CL" addr add "$CIP/24" dev eth0
ip -n "$CL" link set eth0 up
ip netns exec "$CL" sh -c 'echo 1 >/proc/sys/net/ipv4/conf/eth0/arp_accept'
C() { ip netns exec "$CL" "$@"; }

for n in 1 2; do
	cluster_import "$n" "$T/images/jumpbox.tar" >"$T/import$n.log" 2>&1 || fail "image import node$n" "$(tail -2 "$T/import$n.log")"
done
AGENT_FLAGS=(--node-status-update-frequency 1s)
SERVER_FLAGS=(--node-monitor-grace-period 4s --node-status-update-frequency 1s)
cluster_up_server "${SERVER_FLAGS[@]}" || { fail "node1 up" "$(tail -5 "$T/up1.out")"; exit 0; }
cluster_join 2 "${AGENT_FLAGS[@]}" || { fail "node2 joins" "$(tail -5 "$T/up2.out")"; exit 0; }
pass "two nodes up"

# pods: busybox httpd with a CGI that prints the client address and the pod name
pod() { # NAME NODE LABEL [READINESS-COMMAND]
	local probe=
	[ -n "${4:-}" ] && probe="    readinessProbe: {exec: {command: [$4]}, periodSeconds: 1}"
	cat <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $1, labels: {app: $3}}
spec:
  nodeName: $2
  containers:
  - name: web
    image: minik8s.local/jumpbox:1
    env: [{name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}]
    command: [sh, -c, 'mkdir -p /w/cgi-bin && printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho client=\\\$REMOTE_ADDR pod=\\\$POD\n" >/w/cgi-bin/ip && chmod +x /w/cgi-bin/ip && exec httpd -f -p 0.0.0.0:8080 -h /w']
    ports: [{containerPort: 8080}]
$probe
EOF
}
svc() { # NAME SPEC-JSON
	cat <<EOF
---
{"apiVersion":"v1","kind":"Service","metadata":{"name":"$1"},"spec":$2}
EOF
}
{
	pod web1 node1 web
	pod aff1 node1 aff
	pod aff2 node2 aff
	pod nr1 node1 nr false
	svc web '{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}'
	svc webl '{"type":"LoadBalancer","externalTrafficPolicy":"Local","selector":{"app":"web"},"ports":[{"port":81,"targetPort":8080}]}'
	svc webi '{"internalTrafficPolicy":"Local","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}'
	svc nr '{"publishNotReadyAddresses":true,"selector":{"app":"nr"},"ports":[{"port":80,"targetPort":8080}]}'
	svc nrh '{"clusterIP":"None","publishNotReadyAddresses":true,"selector":{"app":"nr"},"ports":[{"port":80,"targetPort":8080}]}'
	svc aff '{"selector":{"app":"aff"},"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":3}},"ports":[{"port":80,"targetPort":8080}]}'
} | KC apply -f - >/dev/null || fail "create the pods and services"
running() { [ "$(kj get pods | jq '[.items[] | select(.status.phase=="Running" and any(.status.conditions[]; .type=="Ready" and .status=="True"))] | length')" == 3 ] &&
	[ "$(kj get pod nr1 | jq -r '.status.podIP // ""')" != "" ]; }
wait_for 600 running || { fail "pods running" "$(KC get pods -o wide 2>&1)"; exit 0; }

# ---- node-address mode ----
ext() { KC get svc "$1" --no-headers 2>/dev/null | awk '{print $4}'; }
has_ext() { [ "$(ext web)" == "$N1,$N2" ]; }
wait_for 100 has_ext
expect_eq "kubectl get svc: EXTERNAL-IP is the nodes' addresses" "$(ext web)" "$N1,$N2"
expect_eq "status.loadBalancer.ingress: both InternalIPs, ipMode VIP" \
	"$(kj get svc web | jq -c '.status.loadBalancer.ingress')" "[{\"ip\":\"$N1\",\"ipMode\":\"VIP\"},{\"ip\":\"$N2\",\"ipMode\":\"VIP\"}]"
get() { C curl -s -m 3 "http://$1/cgi-bin/ip"; }
reach() { [[ "$(get "$1")" == *"pod=$2"* ]]; }
wait_for 50 reach "$N1:80" web1
expect_match "client -> node1:80 reaches the pod" "$(get "$N1:80")" "pod=web1"
expect_match "client -> node2:80 reaches the pod on node1 (masqueraded)" "$(get "$N2:80")" "client=$N2 pod=web1"

# ---- externalTrafficPolicy Local ----
HC=$(kj get svc webl | jq -r .spec.healthCheckNodePort)
expect_match "healthCheckNodePort allocated from the NodePort range" "$HC" '^3[0-9]{4}$'
wait_for 50 reach "$N1:81" web1
expect_eq "Local: the pod sees the client's own address" "$(get "$N1:81")" "client=$CIP pod=web1"
C curl -s -m 2 -o /dev/null "http://$N2:81/cgi-bin/ip"; rc=$?
expect_eq "Local: node2 has no endpoint and drops (curl times out)" "$rc" 28
# traffic from inside the cluster to a Local service's external address goes to
# any endpoint, as kube-proxy short-circuits it
expect_match "Local: a pod on node2 reaches node2:81 (the endpoint on node1)" \
	"$(KC exec aff2 -- curl -s -m 3 "http://$N2:81/cgi-bin/ip" 2>&1)" "pod=web1"
expect_match "Local: node2 itself reaches node2:81" "$(IN 2 curl -s -m 3 "http://$N2:81/cgi-bin/ip")" "pod=web1"
hc() { C curl -s -m 3 -w '\n%{http_code}' "http://$1:$HC/healthz"; }
hc_ok() { [ "$(hc "$N1" | tail -1)" == 200 ]; }
wait_for 50 hc_ok
expect_eq "health check on node1: 200, 1 local endpoint" "$(hc "$N1" | head -1 | jq -c '[.service.namespace, .service.name, .localEndpoints]'; hc "$N1" | tail -1)" \
	"$(printf '["default","webl",1]\n200')"
expect_eq "health check on node2: 503, 0 local endpoints" "$(hc "$N2" | head -1 | jq -c '.localEndpoints'; hc "$N2" | tail -1)" \
	"$(printf '0\n503')"
DESC=$(IN 1 "$MINIK8S" kubectl --kubeconfig "$CL_KUBECONFIG" describe svc webl 2>&1)
expect_match "minik8s kubectl describe: LoadBalancer Ingress, policy, health check port" "$DESC" \
	"LoadBalancer Ingress: +$N1 \(VIP\), $N2 \(VIP\).*External Traffic Policy: +Local.*HealthCheck NodePort: +$HC"
expect_eq "EXTERNAL-IP of a second service on another port: the nodes too" "$(ext webl)" "$N1,$N2"
svc webdup '{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]}' | KC apply -f - >/dev/null
sleep 1
expect_eq "a later service on a port the nodes already serve stays <pending>" "$(ext webdup)" "<pending>"
KC delete svc webdup >/dev/null

# ---- internalTrafficPolicy Local ----
WI=$(kj get svc webi | jq -r .spec.clusterIP)
expect_match "internalTrafficPolicy Local: node1 reaches its own endpoint" "$(IN 1 curl -s -m 3 "http://$WI/cgi-bin/ip")" "pod=web1"
IN 2 curl -s -m 2 -o /dev/null "http://$WI/cgi-bin/ip"; rc=$?
expect_eq "internalTrafficPolicy Local: node2 has none and drops" "$rc" 28

# ---- publishNotReadyAddresses ----
NRIP=$(kj get pod nr1 | jq -r .status.podIP)
expect_eq "the never-ready pod is not Ready" "$(kj get pod nr1 | jq -r '.status.conditions[] | select(.type=="Ready") | .status')" False
NR=$(kj get svc nr | jq -r .spec.clusterIP)
expect_match "publishNotReadyAddresses: the ClusterIP reaches the not-ready pod" "$(IN 1 curl -s -m 3 "http://$NR/cgi-bin/ip")" "pod=nr1"
dns() { IN 1 dig @10.96.0.10 +short +time=2 +tries=2 nrh.default.svc.cluster.local; }
dns_ok() { [ "$(dns)" == "$NRIP" ]; }
wait_for 25 dns_ok
expect_eq "publishNotReadyAddresses: DNS answers the headless name with the not-ready pod" "$(dns)" "$NRIP"

# ---- session affinity with a timeout ----
AIP=$(kj get svc aff | jq -r .spec.clusterIP)
first=$(IN 1 curl -s -m 3 "http://$AIP/cgi-bin/ip" | sed 's/.*pod=//')
same=0
for i in $(seq 10); do [ "$(IN 1 curl -s -m 3 "http://$AIP/cgi-bin/ip" | sed 's/.*pod=//')" == "$first" ] && same=$((same + 1)); done
expect_eq "ClientIP affinity: 10 connections, all to the first one's pod ($first)" "$same" 10
affset() { IN 1 nft list map ip minik8s aff 2>/dev/null | grep -o "$AIP[^,}]*"; }
expect_match "the kernel's affinity entry carries timeoutSeconds 3" "$(affset)" "timeout 3s"
gone() { [ -z "$(affset)" ]; }
wait_for 40 gone
expect_eq "the affinity entry expires after its timeout" "$(affset)" ""

# ---- pool mode: restart the server with --lb-pool ----
POOL=$CL_NET.200/29
P1=$(cluster_pid 1)
kill -9 "$P1"; wait_for 50 sh -c "! kill -0 $P1 2>/dev/null"
cluster_up_server "${SERVER_FLAGS[@]}" --lb-pool "$POOL" || { fail "server restarts with --lb-pool" "$(tail -5 "$T/up1.out")"; exit 0; }
pass "server restarts with --lb-pool $POOL"
inpool() { [[ "$(ext web)" =~ ^$CL_NET\.20[1-6]$ ]]; }
wait_for 100 inpool
expect_match "web gets one pool address" "$(ext web)" "^$CL_NET\.20[1-6]$"
holder() { kj get svc "$1" | jq -r '.metadata.annotations["servicelb.minik8s.io/node"] // ""'; }
# a pool address held by node2 (rendezvous hashing): ask for 4 at once, keep one
items=
for want in 206 205 204 203; do
	items+="${items:+,}{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"webp$want\"},\"spec\":{\"type\":\"LoadBalancer\",\"loadBalancerIP\":\"$CL_NET.$want\",\"selector\":{\"app\":\"web\"},\"ports\":[{\"port\":80,\"targetPort\":8080}]}}"
done
echo "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[$items]}" | KC apply -f - >/dev/null || fail "create services webp203-206"
holders() { kj get svc | jq -r '[.items[] | select(.metadata.name | startswith("webp")) | "\(.metadata.name)=\(.metadata.annotations["servicelb.minik8s.io/node"] // "")"] | sort | join(" ")'; }
got() { HOLDERS=$(holders) && [ "$(grep -o '=node' <<<"$HOLDERS" | wc -l)" == 4 ]; }
wait_for 50 got
keep=$(tr ' ' '\n' <<<"$HOLDERS" | grep -m1 '=node2$' | sed 's/^webp//; s/=node2$//')
[ -n "$keep" ] || { fail "one of 4 pool addresses held by node2" "$HOLDERS"; done_testing; exit 0; }
KC delete svc --wait=false $(tr ' ' '\n' <<<"$HOLDERS" | cut -d= -f1 | grep -vx "webp$keep") >/dev/null
VIP=$CL_NET.$keep
WP=webp$keep
expect_eq "spec.loadBalancerIP in the pool is honoured" "$(ext "$WP")" "$VIP"
expect_eq "the address is held by node2" "$(holder "$WP")" node2
on_eth0() { IN "$1" ip -4 -o addr show dev eth0 | grep -q " $VIP/32 "; }
wait_for 50 on_eth0 2
check "the address is on node2's eth0" on_eth0 2
mac() { IN "$1" ip -o link show dev eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2; }
MAC2=$(mac 2)
neigh() { C ip neigh show "$VIP" dev eth0 | awk '{print $3}'; }
learnt() { [ "$(neigh)" == "$1" ]; }
wait_for 25 learnt "$MAC2"
expect_eq "gratuitous ARP: the client knows $VIP at node2's MAC before any traffic" "$(neigh)" "$MAC2"
wait_for 50 reach "$VIP:80" web1
expect_match "client -> pool address reaches the pod" "$(get "$VIP:80")" "pod=web1"

# deleting a service releases its address
WEBIP=$(ext web)
WH=$(holder web)
KC delete svc web >/dev/null
released() { ! IN "${WH#node}" ip -4 -o addr show dev eth0 | grep -q " $WEBIP/32 "; }
wait_for 50 released
check "deleting the service releases $WEBIP from $WH's eth0" released

# the holder stops: the address moves to node1
P2=$(cluster_pid 2)
kill -9 "$P2"
moved() { [ "$(holder "$WP")" == node1 ] && on_eth0 1; }
wait_for 150 moved
check "node2 stops: node1 holds $VIP" moved
MAC1=$(mac 1)
# node2 is dead but its namespace keeps the address: take it off by hand, as a
# powered-off machine would
IN 2 ip addr del "$VIP/32" dev eth0 2>/dev/null
wait_for 25 learnt "$MAC1"
expect_eq "gratuitous ARP from node1: the client moved $VIP to node1's MAC" "$(neigh)" "$MAC1"
wait_for 50 reach "$VIP:80" web1
expect_match "client -> pool address reaches the pod through node1" "$(get "$VIP:80")" "pod=web1"

# minik8s down takes the pool address off the node's interface (recorded in RUN/lb-addresses)
[ -s "$(cl_run 1)/lb-addresses" ] && pass "node1 records the address it added" || fail "node1 records the address it added"
cat "$(cl_data 1)/minik8s.log" >"$T/node1-before-down.log" 2>/dev/null
cluster_down 1
if on_eth0 1; then fail "minik8s down removes $VIP from node1's eth0" "$(IN 1 ip -4 -o addr show dev eth0)"
else pass "minik8s down removes $VIP from node1's eth0"; fi

[ "$FAILED" = 1 ] && { echo "--- node1 log"; tail -30 "$T/node1-before-down.log"; echo "--- node2 log"; tail -30 "$(cl_data 2)/minik8s.log"; }
done_testing
