#!/bin/bash
# The seed walkthrough (../shared/reference/seed-walkthrough.md) on one node, with the
# real kubectl, for real: `minik8s server` with its in-process agent (pods with runc,
# the nftables balancer, the cluster DNS) runs inside a "node" network namespace this
# test creates (nsenter --net only), with its own data, run and netns dirs and cgroup
# parent; kubectl runs in that namespace too, with its own HOME. The lab's two images
# are built offline with examples/images/build.sh and imported.
#
# Steps: create namespace and deployment (protobuf bodies), jumpbox and its welcome
# page, NXDOMAIN and a quick curl failure before expose, get services, expose, dig
# +short (and +search) = the ClusterIP, a bounded curl loop reaching all 3 replicas,
# scale to 2 without failed requests, hairpin, no-endpoint reject, NodePort, a UDP
# service, resync after `nft flush ruleset`, DNS record types (SRV, PTR, NODATA,
# headless, ExternalName) and malformed packets, kill -9 and restart keeping pods,
# IPs, ClusterIP and the data path.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
DATADIR=$ROOT/tests/e2e/data/walkthrough

node_require walkthrough "$KUBECTL" runc jq curl ip nsenter nft python3 cc busybox dig
NODE=wtnode
NODE_SHOW_LOGS=${WALKTHROUGH_LOGS:-}
node_init wt 192.168.79.2
SVC_HOST=php-echo.demo.svc.cluster.local

# ---- the lab's images, built offline and imported ----
# (the names examples/php-echo.yaml and jumpbox.yaml use)
if ! ECHO_IMAGE=minik8s.local/echo:1 JUMPBOX_IMAGE=minik8s.local/jumpbox:1 \
	bash "$ROOT/examples/images/build.sh" --out "$T/images" >"$T/build.log" 2>&1; then
	fail "lab images build" "$(tail -3 "$T/build.log")"; exit 1
fi
ECHO_IMAGE=$(awk '$1 ~ /echo.tar$/ {print $2}' "$T/build.log")
JUMPBOX_IMAGE=$(awk '$1 ~ /jumpbox.tar$/ {print $2}' "$T/build.log")
IMPORTED=$("$MINIK8S" image --data-dir "$DATA" import "$T/images/echo.tar" "$T/images/jumpbox.tar" 2>&1)
expect_eq "lab images imported" "$(sort <<<"$IMPORTED" | tr '\n' ' ')" "$(printf '%s\n' "$ECHO_IMAGE" "$JUMPBOX_IMAGE" | sort | tr '\n' ' ')"

# kubectl, the real one, inside the node namespace with a HOME of its own
mkdir -p "$T/home"
K() { "${IN[@]}" env HOME="$T/home" KUBECONFIG="$KUBECONFIG" timeout 30 "$KUBECTL" "$@"; }
# J CMD...: kubectl exec into the jumpbox
J() { K exec jumpbox -- "$@"; }
# NX CMD...: in the node namespace
NX() { "${IN[@]}" "$@"; }
# wait_for TRIES(0.2 s) CMD...: CMD until it succeeds
wait_for() {
	local n=$1 i; shift
	for ((i = 0; i < n; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
	return 1
}
ready_replicas() { [ "$(K -n demo get deployment php-echo -o 'jsonpath={.status.readyReplicas}')" == "$1" ]; }
pod_ready() { [ "$(K ${2:+-n "$2"} get pod "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == True ]; }
# echo_pod_ips: the echo replicas' pod IPs, sorted, one line
# (pods being deleted left out)
echo_pod_ips() {
	K -n demo get pods -l app=php-echo -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .status.podIP' |
		sort | tr '\n' ' '
}
# endpoint_ips NAME: the ready addresses of Endpoints demo/NAME, sorted, one line
endpoint_ips() { K -n demo get endpoints "$1" -o 'jsonpath={range .subsets[*].addresses[*]}{.ip}{"\n"}{end}' | sort | tr '\n' ' '; }
# the pod IPs named by the echo replies in TEXT, sorted, one line
reply_ips() { grep -o 'pod=[0-9.]*' <<<"$1" | cut -d= -f2 | sort -u | tr '\n' ' '; }

node_start --restart-backoff 1s,4s || { fail "server with agent starts" "$(tail -5 "$T/server.log")"; exit 1; }
pass "server with agent starts"

# ==== 1. the app: namespace and a 3-replica deployment (kubectl sends protobuf) ====
expect_eq "kubectl create namespace demo" "$(K create namespace demo 2>&1)" "namespace/demo created"
out=$(K -v=8 -n demo create deployment php-echo --image="$ECHO_IMAGE" --replicas=3 --port=80 2>"$T/create.log")
expect_eq "kubectl create deployment php-echo" "$out" "deployment.apps/php-echo created"
expect_match "kubectl sent the deployment as protobuf" "$(grep -A8 'POST https' "$T/create.log")" "Content-Type: application/vnd.kubernetes.protobuf"
# the echo server names the node and the pod from the downward API: what
# examples/php-echo.yaml adds (kubectl apply patches the live object; a rollout)
out=$(K apply -f "$ROOT/examples/php-echo.yaml" 2>&1)
expect_match "kubectl apply examples/php-echo.yaml (downward-API env)" "$out" "deployment.apps/php-echo configured"
out=$(K -n demo rollout status deployment/php-echo --timeout=60s 2>&1)
expect_match "kubectl rollout status" "$out" 'deployment "php-echo" successfully rolled out'
three_pods() { ready_replicas 3 && [ "$(wc -w <<<"$(echo_pod_ips)")" == 3 ]; }
if wait_for 300 three_pods; then pass "php-echo 3/3 Ready"
else fail "php-echo 3/3 Ready" "$(K -n demo get deploy,rs,pods -o wide 2>&1)"; fi
PODS3=$(echo_pod_ips)
expect_match "three distinct pod IPs" "$PODS3" '^10\.244\.[0-9]+\.[0-9]+ 10\.244\.[0-9]+\.[0-9]+ 10\.244\.[0-9]+\.[0-9]+ $'

# ==== 2. the jumpbox ====
expect_eq "kubectl run jumpbox" "$(K run jumpbox --image="$JUMPBOX_IMAGE" 2>&1)" "pod/jumpbox created"
if wait_for 300 pod_ready jumpbox; then pass "jumpbox Ready"; else fail "jumpbox Ready" "$(K get pod jumpbox -o yaml 2>&1 | tail -30)"; fi
expect_match "curl localhost:80 in the jumpbox: welcome page" "$(J curl -s localhost:80 2>&1)" "<title>Welcome to nginx!</title>"
# the lab's literal `kubectl exec -it`: script(1) gives kubectl a terminal
if command -v script >/dev/null; then
	out=$(HOME="$T/home" KUBECONFIG="$KUBECONFIG" timeout 30 script -qec \
		"nsenter --net=/run/netns/$NS $KUBECTL exec -it jumpbox -- curl -s localhost:80" /dev/null </dev/null 2>&1)
	expect_match "kubectl exec -it jumpbox -- curl localhost:80 (a tty)" "$out" "<h1>Welcome to nginx!</h1>"
fi

# ==== 3. before expose: NXDOMAIN, curl fails quickly ====
expect_eq "before expose: dig +short prints nothing" "$(J dig +short "$SVC_HOST" 2>&1)" ""
expect_match "before expose: NXDOMAIN" "$(J dig "$SVC_HOST" 2>&1)" "status: NXDOMAIN"
out=$(J curl -s -S -m 3 "$SVC_HOST:80" 2>&1)
expect_match "before expose: curl fails with Could not resolve host" "$out" "Could not resolve host: $SVC_HOST"

# ==== 4. expose ====
expect_eq "get services: none yet" "$(K -n demo get services 2>&1)" "No resources found in demo namespace."
expect_eq "kubectl expose deployment" "$(K -n demo expose deployment php-echo --port=80 --type=ClusterIP 2>&1)" "service/php-echo exposed"
out=$(K -n demo get services 2>&1)
expect_match "get services: header" "$(head -1 <<<"$out")" '^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE$'
CIP=$(K -n demo get service php-echo -o 'jsonpath={.spec.clusterIP}')
expect_match "get services: php-echo ClusterIP row" "$(sed -n 2p <<<"$out")" "^php-echo +ClusterIP +$CIP +<none> +80/TCP +[0-9]+s$"
expect_match "ClusterIP in 10.96.0.0/12" "$CIP" '^10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$'

# ==== 5. DNS maps the name to the ClusterIP ====
expect_eq "dig +short = the ClusterIP" "$(J dig +short "$SVC_HOST" 2>&1)" "$CIP"
expect_eq "dig +short +search php-echo.demo = the ClusterIP" "$(J dig +short +search php-echo.demo 2>&1)" "$CIP"

# ==== 6. the curl loop reaches all 3 replicas ====
three_endpoints() { [ "$(endpoint_ips php-echo)" == "$PODS3" ]; }
if wait_for 50 three_endpoints; then pass "endpoints = the 3 pods"
else fail "endpoints = the 3 pods" "$(endpoint_ips php-echo) vs $PODS3"; fi
out=$(J bash -c "for i in \$(seq 30); do curl -s -m 3 $SVC_HOST:80; echo; done" 2>&1)
expect_eq "curl loop: 30 replies" "$(grep -c '^node=' <<<"$out")" 30
expect_eq "curl loop: replies from all 3 replicas" "$(reply_ips "$out")" "$PODS3"
expect_match "echo reply names the node" "$(head -1 <<<"$out")" "^node=$NODE_IP pod=10\.244\."

# ==== 7. scale down to 2: no failures, never the removed pod ====
# the gateway's MAC must not follow the bridge's ports (pods would keep a stale one)
bridge_mac() { NX ip -o link show mk0 | grep -o 'link/ether [0-9a-f:]*'; }
MAC_BEFORE=$(bridge_mac)
expect_eq "bridge mk0 has a MAC of its own (addr_assign_type set)" "$(ip netns exec "$NS" cat /sys/class/net/mk0/addr_assign_type 2>&1)" 3
expect_eq "kubectl scale --replicas=2" "$(K -n demo scale deployment php-echo --replicas=2 2>&1)" "deployment.apps/php-echo scaled"
two_endpoints() { [ "$(wc -w <<<"$(endpoint_ips php-echo)")" == 2 ]; }
if wait_for 100 two_endpoints; then EP_SEEN=$(date +%T.%N); pass "endpoints follow the scale down"
else fail "endpoints follow the scale down" "$(endpoint_ips php-echo)"; fi
PODS2=$(endpoint_ips php-echo)
GONE=$(comm -23 <(tr ' ' '\n' <<<"$PODS3" | grep .) <(tr ' ' '\n' <<<"$PODS2" | grep .))
out=$(J bash -c "for i in \$(seq 30); do curl -sS -m 3 $SVC_HOST:80 || echo \"FAILED at \$(date +%T)\"; echo; done" 2>&1)
expect_eq "after scale down: 30 replies, no failures" "$(grep -c '^node=' <<<"$out") $(grep -c FAILED <<<"$out")" "30 0"
grep -q FAILED <<<"$out" && echo "  (endpoints updated by $EP_SEEN; the loop said: $(grep -v '^node=' <<<"$out" | grep . | tr '\n' ' '))"
expect_eq "after scale down: only the 2 remaining pods answer" "$(reply_ips "$out")" "$PODS2"
[ -n "$GONE" ] && ! grep -q "pod=$GONE " <<<"$out" && pass "removed pod $GONE never answers" || fail "removed pod never answers" "gone='$GONE'"
three_ports() { [ "$(NX ip -o link show master mk0 | wc -l)" == 3 ]; }
wait_for 50 three_ports
expect_eq "bridge MAC unchanged when a pod's port goes" "$(bridge_mac)" "$MAC_BEFORE"

# ==== 8. the balancer: hairpin, no-endpoint reject, NodePort, UDP, resync ====
# hairpin: an echo pod reaches its own service and gets answers from itself too
HP_POD=$(K -n demo get pods -l app=php-echo -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)][0].metadata.name')
HP_IP=$(K -n demo get pod "$HP_POD" -o 'jsonpath={.status.podIP}')
# (busybox wget: Debian's 1.35 crashes on -T, so timeout(1) bounds it)
out=$(K -n demo exec "$HP_POD" -- sh -c "for i in \$(seq 20); do timeout 3 wget -q -O- http://$CIP/ || echo FAILED; done" 2>&1)
expect_eq "hairpin: 20 replies, no failures" "$(grep -c '^node=' <<<"$out") $(grep -c FAILED <<<"$out")" "20 0"
grep -q "pod=$HP_IP " <<<"$out" && pass "hairpin: the pod answers itself through its service" ||
	fail "hairpin: the pod answers itself through its service" "$HP_POD ($HP_IP): $(reply_ips "$out")"

# a service without endpoints rejects at once: connection refused, not a timeout
expect_eq "create service noep (no pods)" "$(K -n demo create service clusterip noep --tcp=80:80 2>&1)" "service/noep created"
out=$(J bash -c 'curl -s -S -m 5 http://noep.demo.svc.cluster.local/ 2>&1; echo "rc=$?"' 2>&1)
expect_match "no endpoints: curl cannot connect (rc 7, not the timeout's 28)" "$out" "Failed to connect to noep.demo.svc.cluster.local port 80 .*rc=7$"
NOEP_IP=$(K -n demo get service noep -o 'jsonpath={.spec.clusterIP}')
out=$(J bash -c "timeout 5 bash -c 'exec 3<>/dev/tcp/$NOEP_IP/80' 2>&1; echo rc=\$?" 2>&1)
expect_match "no endpoints: the connection is refused" "$out" "Connection refused"$'\n'"rc=1$"

# NodePort on the node's address, from a pod and from the node itself
out=$(K -n demo expose deployment php-echo --name=php-echo-np --type=NodePort --port=80 2>&1)
expect_eq "expose --type=NodePort" "$out" "service/php-echo-np exposed"
NP=$(K -n demo get service php-echo-np -o 'jsonpath={.spec.ports[0].nodePort}')
expect_match "nodePort in 30000-32767" "$NP" '^3[0-2][0-9]{3}$'
np_up() { [ "$(wc -w <<<"$(endpoint_ips php-echo-np)")" == 2 ]; }
wait_for 50 np_up
# 20 connections each: with 2 endpoints chosen at random, 10 miss one of them with
# p = 2^-9 (it happened in a suite run); 20 miss one with p = 2^-19
out=$(J bash -c "for i in \$(seq 20); do curl -s -m 3 $NODE_IP:$NP || echo FAILED; echo; done" 2>&1)
expect_eq "NodePort from the jumpbox: 20 replies from the 2 pods" "$(grep -c '^node=' <<<"$out") $(reply_ips "$out")" "20 $PODS2"
out=$(for i in $(seq 20); do NX curl -s -m 3 "$NODE_IP:$NP" || echo FAILED; echo; done 2>&1)
expect_eq "NodePort from the node: 20 replies from the 2 pods" "$(grep -c '^node=' <<<"$out") $(reply_ips "$out")" "20 $PODS2"

# a UDP service: the echo server answers datagrams too (bash's /dev/udp in the jumpbox)
out=$(K -n demo expose deployment php-echo --name=php-echo-udp --protocol=UDP --port=5300 --target-port=80 2>&1)
expect_eq "expose --protocol=UDP" "$out" "service/php-echo-udp exposed"
UIP=$(K -n demo get service php-echo-udp -o 'jsonpath={.spec.clusterIP}')
udp_up() { [ "$(wc -w <<<"$(endpoint_ips php-echo-udp)")" == 2 ]; }
wait_for 50 udp_up
# (a new socket per request; dd reads each datagram whole, bash's read would take a byte)
UDP_LOOP="for i in \$(seq 20); do exec 3<>/dev/udp/$UIP/5300 && printf hi >&3 && { timeout 2 dd bs=512 count=1 <&3 2>/dev/null || echo FAILED; }; exec 3>&-; done"
out=$(J bash -c "$UDP_LOOP" 2>&1)
expect_eq "UDP service: 20 replies from the 2 pods" "$(grep -c '^node=' <<<"$out") $(grep -c FAILED <<<"$out") $(reply_ips "$out")" "20 0 $PODS2"

# `nft flush ruleset` in the node: the balancer notices and converges again
TABLES_BEFORE=$(NX nft list tables | sort | tr '\n' ';')
expect_match "the balancer's table is in the node namespace" "$TABLES_BEFORE" "table ip minik8s"
HANDLE_BEFORE=$(NX nft -a list table ip minik8s | head -1)
NX nft flush ruleset
svc_works() { [ "$(J curl -s -m 2 "$SVC_HOST:80" | grep -c '^node=')" == 1 ]; }
if wait_for 50 svc_works; then pass "after nft flush ruleset: the service answers again"
else fail "after nft flush ruleset: the service answers again" "tables: $(NX nft list tables | tr '\n' ';')"; fi
tables_back() { [ "$(NX nft list tables | sort | tr '\n' ';')" == "$TABLES_BEFORE" ]; }
wait_for 25 tables_back
expect_eq "after nft flush ruleset: every table is back" "$(NX nft list tables | sort | tr '\n' ';')" "$TABLES_BEFORE"
HANDLE_AFTER=$(NX nft -a list table ip minik8s | head -1)
[ "$HANDLE_AFTER" != "$HANDLE_BEFORE" ] && pass "the balancer's table was made anew ($HANDLE_AFTER)" ||
	fail "the balancer's table was made anew" "same handle: $HANDLE_AFTER"
expect_match "the balancer logged the resync" "$(cat "$T/server.log")" "table 'minik8s' changed by someone else: resync"
out=$(J bash -c "for i in \$(seq 20); do curl -s -m 3 $SVC_HOST:80 || echo FAILED; echo; done" 2>&1)
expect_eq "after resync: 20 replies from the 2 pods" "$(grep -c '^node=' <<<"$out") $(grep -c FAILED <<<"$out") $(reply_ips "$out")" "20 0 $PODS2"
out=$(J bash -c "$UDP_LOOP" 2>&1)
expect_eq "after resync: UDP service answers" "$(grep -c '^node=' <<<"$out") $(grep -c FAILED <<<"$out")" "20 0"

# ==== 9. DNS record types ====
out=$(K apply -f "$DATADIR/services.yaml" 2>&1)
expect_eq "apply named-port and headless services" "$(tr '\n' ' ' <<<"$out")" "service/php-echo-named created service/php-echo-headless created "
expect_eq "create service externalname" "$(K -n demo create service externalname ext --external-name example.com 2>&1)" "service/ext created"
NIP=$(K -n demo get service php-echo-named -o 'jsonpath={.spec.clusterIP}')
headless_up() { [ "$(J dig +short php-echo-headless.demo.svc.cluster.local | sort | tr '\n' ' ')" == "$PODS2" ]; }
if wait_for 50 headless_up; then pass "headless service: A records = the ready pod IPs"
else fail "headless service: A records = the ready pod IPs" "$(J dig +short php-echo-headless.demo.svc.cluster.local 2>&1 | tr '\n' ' ') vs $PODS2"; fi
expect_eq "A of the named-port service" "$(J dig +short php-echo-named.demo.svc.cluster.local 2>&1)" "$NIP"
expect_match "SRV _http._tcp (named port)" "$(J dig +short SRV _http._tcp.php-echo-named.demo.svc.cluster.local 2>&1)" \
	'^[0-9]+ [0-9]+ 80 php-echo-named\.demo\.svc\.cluster\.local\.$'
expect_match "SRV _echo._udp (named port)" "$(J dig +short SRV _echo._udp.php-echo-named.demo.svc.cluster.local 2>&1)" \
	'^[0-9]+ [0-9]+ 80 php-echo-named\.demo\.svc\.cluster\.local\.$'
expect_eq "SRV of a port name that does not exist: NXDOMAIN" \
	"$(J dig SRV _nope._tcp.php-echo-named.demo.svc.cluster.local 2>&1 | grep -o 'status: [A-Z]*')" "status: NXDOMAIN"
expect_eq "PTR of the ClusterIP" "$(J dig +short -x "$CIP" 2>&1)" "$SVC_HOST."
P1=${PODS2%% *}
P1D=${P1//./-}
expect_eq "pod A record (dashed IP).demo.pod.cluster.local" "$(J dig +short "$P1D.demo.pod.cluster.local" 2>&1)" "$P1"
expect_match "PTR of a pod IP" "$(J dig +short -x "$P1" 2>&1 | sort | tr '\n' ' ')" "(^| )$P1D\.demo\.pod\.cluster\.local\. "
expect_eq "headless: per-pod A record" "$(J dig +short "$P1D.php-echo-headless.demo.svc.cluster.local" 2>&1)" "$P1"
expect_eq "headless: SRV _http._tcp names each pod" \
	"$(J dig +short SRV _http._tcp.php-echo-headless.demo.svc.cluster.local 2>&1 | awk '{print $3, $4}' | sort | tr '\n' ' ')" \
	"$(for ip in $PODS2; do echo "80 ${ip//./-}.php-echo-headless.demo.svc.cluster.local."; done | sort | tr '\n' ' ')"
out=$(J dig AAAA "$SVC_HOST" 2>&1)
expect_match "AAAA of the service: NODATA (NOERROR, no answer)" "$out" "status: NOERROR.*ANSWER: 0,"
expect_match "NODATA carries the zone's SOA" "$(J dig AAAA "$SVC_HOST" 2>&1 | sed -n '/AUTHORITY SECTION/,$p')" "SOA"
expect_match "unknown service: NXDOMAIN" "$(J dig nope.demo.svc.cluster.local 2>&1)" "status: NXDOMAIN"
expect_eq "ExternalName: CNAME" "$(J dig +short CNAME ext.demo.svc.cluster.local 2>&1)" "example.com."
expect_eq "DNS over TCP" "$(J dig +tcp +short "$SVC_HOST" 2>&1)" "$CIP"
expect_match "TTL 5 s" "$(J dig +noall +answer "$SVC_HOST" 2>&1)" "^$SVC_HOST\.[[:space:]]+5[[:space:]]+IN[[:space:]]+A[[:space:]]+$CIP$"

# malformed packets to the kube-dns address do not stop the responder
BAD=$(NX python3 - <<'PY'
import os, socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.3)
hdr = lambda qd, an=0: b"\x12\x34\x01\x00" + qd.to_bytes(2, "big") + an.to_bytes(2, "big") + b"\x00\x00\x00\x00"
bad = [b"", b"\x00", b"garbage", os.urandom(11), hdr(1), hdr(1) + b"\x05abc",
       hdr(1) + b"\xc0\x0c\x00\x01\x00\x01",                 # compression pointer to itself
       hdr(1) + b"\x3f" + b"a" * 10,                          # label longer than the packet
       hdr(65535) + b"\x00\x00\x01\x00\x01",                  # 65535 questions announced
       hdr(1, 5) + b"\x00\x00\x01\x00\x01",                   # answers in a query
       hdr(1) + (b"\x3f" + b"a" * 63) * 200 + b"\x00\x00\x01\x00\x01",  # oversized name
       os.urandom(60000)]
answered = 0
for p in bad:
    u.sendto(p, ("10.96.0.10", 53))
    try:
        r = u.recv(4096)
        answered += 1
        assert r[2] & 0x80, "answer without QR"
    except socket.timeout:
        pass
# TCP: a length prefix promising more than is sent, then close
t = socket.create_connection(("10.96.0.10", 53), timeout=2)
t.sendall(b"\x40\x00" + b"x" * 10); t.close()
print("sent", len(bad), "answered", answered)
PY
)
expect_match "malformed packets sent to 10.96.0.10:53" "$BAD" "^sent 12 answered [0-9]+$"
expect_eq "the responder still answers after malformed packets" "$(J dig +short "$SVC_HOST" 2>&1)" "$CIP"
kill -0 "$SERVER_PID" 2>/dev/null && pass "server alive after malformed packets" || fail "server alive after malformed packets"

# ==== 10. restart: kill -9 the server (and its agent), start it on the same dirs ====
JB_IP=$(K get pod jumpbox -o 'jsonpath={.status.podIP}')
JB_CID=$(K get pod jumpbox -o 'jsonpath={.status.containerStatuses[0].containerID}')
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
node_start || { fail "server restarts after kill -9" "$(tail -5 "$T/server.log")"; exit 1; }
pass "server restarts after kill -9"
expect_eq "the agent adopted the 3 running containers" "$(grep -c 'adopted container' "$T/server.log")" 3
expect_eq "no container started twice" "$(runc --root "$RUN/runc" list -q 2>/dev/null | wc -l)" 3
expect_eq "jumpbox still there: same IP, same container" \
	"$(K get pod jumpbox -o 'jsonpath={.status.podIP} {.status.containerStatuses[0].containerID}')" "$JB_IP $JB_CID"
expect_eq "deployment still there: 2 replicas" "$(K -n demo get deployment php-echo -o 'jsonpath={.spec.replicas}')" 2
if wait_for 50 ready_replicas 2; then pass "echo pods adopted: 2/2 Ready"; else fail "echo pods adopted: 2/2 Ready" "$(K -n demo get pods -o wide 2>&1)"; fi
expect_eq "echo pods: same IPs" "$(echo_pod_ips)" "$PODS2"
expect_eq "echo pods: no restarts" "$(K -n demo get pods -l app=php-echo -o 'jsonpath={range .items[*]}{.status.containerStatuses[0].restartCount}{" "}{end}')" "0 0 "
expect_eq "ClusterIP unchanged" "$(K -n demo get service php-echo -o 'jsonpath={.spec.clusterIP}')" "$CIP"
expect_eq "bridge MAC unchanged by the restart" "$(bridge_mac)" "$MAC_BEFORE"
dns_back() { [ "$(J dig +short "$SVC_HOST")" == "$CIP" ]; }
if wait_for 50 dns_back; then pass "after restart: dig +short = the ClusterIP"
else fail "after restart: dig +short = the ClusterIP" "$(J dig "$SVC_HOST" 2>&1 | tail -5)"; fi
out=$(J bash -c "for i in \$(seq 20); do curl -s -m 3 $SVC_HOST:80 || echo FAILED; echo; done" 2>&1)
expect_eq "after restart: 20 replies from the 2 pods" "$(grep -c '^node=' <<<"$out") $(grep -c FAILED <<<"$out") $(reply_ips "$out")" "20 0 $PODS2"

# ==== the lab goes: pods deleted through the API, nothing left on the node ====
K delete pod jumpbox --grace-period=1 --wait=false >/dev/null 2>&1
K delete namespace demo --wait=false >/dev/null 2>&1
no_containers() { [ -z "$(runc --root "$RUN/runc" list -q 2>/dev/null)" ]; }
if wait_for 150 no_containers; then pass "deleting the lab stops every container"
else fail "deleting the lab stops every container" "$(runc --root "$RUN/runc" list 2>&1)"; fi
ns_gone() { ! K get namespace demo >/dev/null 2>&1; }
wait_for 100 ns_gone && pass "namespace demo deleted" || fail "namespace demo deleted" "$(K get namespace demo -o yaml 2>&1 | tail -8)"
expect_eq "no pod veths left on the node" "$(NX ip -o link show master mk0 2>/dev/null | wc -l)" 0
expect_eq "no overlay mounts left" "$(grep -c " $DATA/pods" /proc/mounts)" 0
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=
done_testing
