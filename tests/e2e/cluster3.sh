#!/bin/bash
# The ClusterIP walkthrough (../shared/reference/seed-walkthrough.md) across three
# nodes on one machine: nodes are network namespaces on an underlay bridge
# (tests/lib/cluster.sh), node 1 runs `minik8s up` (API server, controllers, agent,
# balancer, DNS), nodes 2 and 3 join it with `minik8s up --server --token`. All
# client steps use the real kubectl inside node 1's namespace.
# Covers: 3 Ready nodes with distinct pod CIDRs; the echo deployment spread one
# replica per node; the jumpbox; the name failing before `expose`; the ClusterIP;
# `dig` from the jumpbox and DNS on every node; requests through the ClusterIP
# reaching every replica on every node (from the jumpbox and from each node);
# kill -9 of node 3's agent -> NotReady, its replica replaced elsewhere, the node
# rejoining and cleaning up its orphan; kill -9 and `up` of the server losing
# nothing (objects, ClusterIP, pods adopted); the lab script users run
# (examples/clusterip-lab.sh), all 8 steps, from a clean slate; `minik8s trace` showing
# every node's map and per-node counters; `minik8s down --purge`
# on every node leaving nothing of it.
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

if [ "$(id -u)" != 0 ]; then fail cluster3 "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft dig "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail cluster3 "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail cluster3 "build/minik8s missing (make build/minik8s)"; exit 0; }
curl_max_time 20
START=$(date +%s)
show_logs() {
	[ "$FAILED" = 1 ] || [ -n "${CLUSTER_E2E_LOGS:-}" ] || return 0
	local n
	[ -n "${CLUSTER_E2E_SAVE:-}" ] && rm -rf "$CLUSTER_E2E_SAVE" && mkdir -p "$CLUSTER_E2E_SAVE" &&
		cp "$T"/*.txt "$T"/*.out "$T"/*.log "$CLUSTER_E2E_SAVE/" 2>/dev/null
	for n in 1 2 3; do
		echo "---- node$n: up output, last log lines" >&3
		tail -n 5 "$T/up$n.out" >&3 2>/dev/null
		tail -n 25 "$T/node$n.log" >&3 2>/dev/null
	done
}
exec 3>&2
on_exit show_logs
elapsed() { echo "$(($(date +%s) - START))s"; }

# jsonpath-free helpers over `kubectl get -o json`
kj() { KC "$@" -o json 2>/dev/null; }
# wait_for TRIES(0.2s) CMD...: CMD until it succeeds
wait_for() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done; return 1; }

# ---- images, underlay, nodes ----
if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
ROOT_LINKS=$(ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')
ROOT_NFT=$(nft list tables 2>&1 | sort | tr '\n' ' ')
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
for n in 1 2 3; do
	cluster_import "$n" "$T/images/echo.tar" "$T/images/jumpbox.tar" >"$T/import$n.log" 2>&1 ||
		fail "image import node$n" "$(tail -2 "$T/import$n.log")"
done

# A short grace period needs heartbeats well inside it: every node posts its status
# every 1 s here (the kubelet's --node-status-update-frequency; 10 s by default).
AGENT_FLAGS=(--restart-backoff 1s,4s --node-status-update-frequency 1s)
SERVER_FLAGS=(--node-monitor-grace-period 4s --pod-eviction-timeout 6s --restart-backoff 1s,4s
	--node-status-update-frequency 1s --metric-resolution 2s)
if cluster_up_server "${SERVER_FLAGS[@]}"; then pass "node1: minik8s up (server) Ready"
else fail "node1: minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; fi
expect_eq "underlay: node3 reaches node1's API" "$(IN 3 curl -sk -m 5 "$CL_SERVER/healthz")" ok
[ -s "$CL_KUBECONFIG" ] && [ -s "$(cl_data 1)/node-token" ] || { fail "kubeconfig and node-token written"; exit 0; }
# join both agents at once
cluster_join 2 "${AGENT_FLAGS[@]}" & J2=$!
cluster_join 3 "${AGENT_FLAGS[@]}" & J3=$!
wait $J2 && pass "node2: minik8s up --server joins, Ready" || fail "node2 joins" "$(tail -5 "$T/up2.out")"
wait $J3 && pass "node3: minik8s up --server joins, Ready" || fail "node3 joins" "$(tail -5 "$T/up3.out")"
grep -q "already up" "$T/up2.out" && fail "node2 join was not a fresh start" "$(cat "$T/up2.out")"
cluster_join 2; out=$(tail -1 "$T/up2.out")
expect_match "up on a running node says so" "$out" "already up"

nodes_json() { kj get nodes; }
NODES=$(nodes_json)
expect_eq "kubectl: 3 nodes Ready" \
	"$(jq -r '[.items[] | select(any(.status.conditions[]; .type=="Ready" and .status=="True")) | .metadata.name] | sort | join(" ")' <<<"$NODES")" \
	"node1 node2 node3"
CIDRS=$(jq -r '[.items[].spec.podCIDR] | sort | join(" ")' <<<"$NODES")
expect_eq "distinct /24 pod CIDRs" "$(jq -r '[.items[].spec.podCIDR | select(test("^10\\.244\\.[0-9]+\\.0/24$"))] | unique | length' <<<"$NODES")" 3
expect_eq "InternalIPs are the underlay addresses" \
	"$(jq -r '[.items[] | .status.addresses[] | select(.type=="InternalIP") | .address] | sort | join(" ")' <<<"$NODES")" \
	"$(cl_ip 1) $(cl_ip 2) $(cl_ip 3)"
KC get nodes -o wide >"$T/nodes.txt" 2>&1
echo "# nodes ($(elapsed)): $CIDRS"

# ---- the app: 3 replicas, one per node ----
KC create namespace demo >/dev/null 2>&1 || fail "create namespace demo"
KC apply -f "$ROOT/examples/php-echo.yaml" >"$T/apply.out" 2>&1 || fail "apply php-echo" "$(cat "$T/apply.out")"
KC apply -f "$ROOT/examples/jumpbox.yaml" >>"$T/apply.out" 2>&1 || fail "apply jumpbox" "$(cat "$T/apply.out")"
# echo_pods: "node podIP name" of every Ready, not-terminating php-echo pod
echo_pods() {
	kj -n demo get pods -l app=php-echo | jq -r '.items[] | select(.metadata.deletionTimestamp == null)
		| select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))
		| "\(.spec.nodeName) \(.status.podIP) \(.metadata.name)"' | sort
}
three_ready() { [ "$(echo_pods | wc -l)" == 3 ]; }
if wait_for 300 three_ready; then pass "php-echo: 3 replicas Ready ($(elapsed))"
else fail "php-echo: 3 replicas Ready" "$(KC -n demo get pods -o wide 2>&1)"; fi
PODS=$(echo_pods)
expect_eq "replicas spread one per node" "$(awk '{print $1}' <<<"$PODS" | sort -u | tr '\n' ' ')" "node1 node2 node3 "
jb_running() { [ "$(kj get pod jumpbox | jq -r .status.phase)" == Running ]; }
JB_NODE=
if wait_for 150 jb_running; then JB_NODE=$(kj get pod jumpbox | jq -r .spec.nodeName); pass "jumpbox Running on $JB_NODE"
else fail "jumpbox Running" "$(KC get pod jumpbox -o wide 2>&1)"; fi
JX() { KC exec jumpbox -- "$@"; }
expect_match "jumpbox serves its welcome page (curl localhost)" "$(JX curl -s -m 5 localhost:80 2>&1)" "Welcome to nginx"

# ---- before expose: the name does not resolve, curl fails quickly ----
expect_match "no service yet: kubectl says so" "$(KC -n demo get services 2>&1)" "No resources found"
t0=$(date +%s)
out=$(JX curl -sS -m 10 php-echo.demo.svc.cluster.local:80 2>&1) && fail "curl before expose fails" "it answered: $out"
[ $(($(date +%s) - t0)) -lt 10 ] && [[ "$out" == *"resolve"* ]] && pass "curl before expose fails quickly: $(head -1 <<<"$out")" ||
	fail "curl before expose fails quickly with a clear error" "$out"
expect_match "dig before expose: NXDOMAIN" "$(JX dig php-echo.demo.svc.cluster.local 2>&1)" "status: NXDOMAIN"

# ---- expose ----
KC -n demo expose deployment php-echo --port=80 --type=ClusterIP >"$T/expose.out" 2>&1 ||
	fail "kubectl expose" "$(cat "$T/expose.out")"
CIP=$(kj -n demo get service php-echo | jq -r .spec.clusterIP)
expect_match "service has a ClusterIP from 10.96.0.0/12" "$CIP" '^10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$'
expect_match "get services: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE" "$(KC -n demo get services 2>&1)" \
	"NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE"$'\n'"php-echo +ClusterIP +$CIP +<none> +80/TCP"
eps_ready() { [ "$(kj -n demo get endpoints php-echo | jq '[.subsets[]?.addresses[]?] | length')" == 3 ]; }
wait_for 50 eps_ready || fail "endpoints list the 3 replicas" "$(KC -n demo get endpoints php-echo -o json 2>&1 | head -c 500)"

# ---- DNS: the jumpbox, every node, a pod on another node ----
dig_jb() { [ "$(JX dig +short php-echo.demo.svc.cluster.local 2>/dev/null)" == "$CIP" ]; }
wait_for 25 dig_jb
expect_eq "dig +short from the jumpbox ($JB_NODE) = ClusterIP" "$(JX dig +short php-echo.demo.svc.cluster.local 2>&1)" "$CIP"
for n in 1 2 3; do
	expect_eq "DNS on node$n (dig @10.96.0.10 from its namespace)" \
		"$(IN "$n" dig +short +time=2 +tries=2 @10.96.0.10 php-echo.demo.svc.cluster.local 2>&1)" "$CIP"
done
OTHER=$(awk -v j="$JB_NODE" '$1 != j {print $1" "$3; exit}' <<<"$PODS")
if [ -n "$OTHER" ]; then
	out=$(KC -n demo exec "${OTHER#* }" -- nslookup php-echo.demo.svc.cluster.local 2>&1)
	expect_match "DNS from a pod on ${OTHER% *} (busybox nslookup)" "$out" "Address:? *(1: )?$CIP"
fi

# ---- through the ClusterIP: every replica on every node ----
# loop_from_jumpbox N: N requests, one reply line each
loop_from_jumpbox() {
	JX bash -c "for i in \$(seq $1); do curl -s -m 2 php-echo.demo.svc.cluster.local:80 || echo FAILED; echo; done" 2>&1 |
		grep -v '^$'
}
check_loop() { # check_loop LABEL EXPECTED_PODS(text "node ip name" lines)
	local label=$1 want=$2 out nodes pods wantn
	out=$(loop_from_jumpbox 30)
	echo "$out" >"$T/loop-$label.txt"
	nodes=$(grep -o 'node=[0-9.]*' <<<"$out" | sort -u | wc -l)
	pods=$(grep -o 'pod=[0-9.]*' <<<"$out" | sort -u | tr '\n' ' ')
	wantn=$(awk '{print "pod="$2}' <<<"$want" | sort -u | tr '\n' ' ')
	[ "$(grep -c '^node=' <<<"$out")" == 30 ] && pass "$label: 30 requests through the ClusterIP all answered" ||
		fail "$label: 30 requests through the ClusterIP all answered" "$(grep -c '^node=' <<<"$out") answered: $(sort <<<"$out" | uniq -c | head -5 | tr '\n' '|')"
	expect_eq "$label: replies from every replica (pod IPs)" "$pods" "$wantn"
	expect_eq "$label: replies carry distinct node IPs" "$nodes" "$(awk '{print $1}' <<<"$want" | sort -u | wc -l)"
}
check_loop "jumpbox loop" "$PODS"
echo "# sample replies: $(sort -u "$T/loop-jumpbox loop.txt" | head -3 | tr '\n' '|')"
for n in 1 2 3; do
	# 30 requests miss one of 3 replicas by chance with p = 3 * (2/3)^30 ~ 2e-5
	replies=$(for i in $(seq 30); do IN "$n" curl -s -m 5 "http://$CIP/"; echo; done)
	out=$(grep -o 'pod=[0-9.]*' <<<"$replies" | sort -u | wc -l)
	expect_eq "node$n's balancer reaches all 3 replicas (30 requests from the node)" "$out" 3
	[ "$out" == 3 ] || echo "# node$n: $(grep -c '^node=' <<<"$replies") of 30 answered: $(grep -o 'pod=[0-9.]*' <<<"$replies" | sort | uniq -c | tr '\n' ' ')"
	expect_eq "node$n's nft rules hold the ClusterIP" \
		"$(IN "$n" nft list table ip minik8s 2>/dev/null | grep -c "$CIP")" "$(IN 1 nft list table ip minik8s 2>/dev/null | grep -c "$CIP")"
done

# ---- minik8s trace across the 3 nodes: every node's kernel map and its own counters
# (each node sent 30 connections above, counted by its ep elements) ----
TRJ=$(IN 1 timeout 30 "$MINIK8S" trace --kubeconfig "$CL_KUBECONFIG" svc/php-echo -n demo -o json 2>&1)
expect_eq "trace: every node's agent answered and holds the table" \
	"$(jq -r '[.nodes[] | "\(.name) \(.reachable) \(.tablePresent)"] | sort | join(",")' <<<"$TRJ" 2>&1)" \
	"node1 true true,node2 true true,node3 true true"
expect_eq "trace: the ClusterIP's frontend on every node" \
	"$(jq -r '[.ports[0].frontends[].node] | unique | join(",")' <<<"$TRJ" 2>&1)" "node1,node2,node3"
expect_eq "trace: the 3 endpoints with their node, address and pod, programmed" \
	"$(jq -r '.ports[0].endpoints[] | "\(.node) \(.ip) \(.pod) \(.programmed)"' <<<"$TRJ" 2>&1 | sort)" \
	"$(sed 's/$/ true/' <<<"$PODS")"
expect_eq "trace: each node's own counters hold its 30 connections" \
	"$(jq -r '[.ports[0].endpoints[].perNode[]] | group_by(.node)
		| map("\(.[0].node) \((map(.connections) | add) >= 30)") | join(",")' <<<"$TRJ" 2>&1)" \
	"node1 true,node2 true,node3 true"

# ---- kubectl top: the server scrapes every node's agent (metrics.k8s.io) ----
top_nodes() { TOPN=$(KC top nodes --no-headers 2>&1) && [ "$(grep -cE '^node[123] +[1-9][0-9]*m +[0-9]+% +[1-9][0-9]*Mi' <<<"$TOPN")" == 3 ]; }
if wait_for 100 top_nodes; then pass "kubectl top nodes: the 3 nodes' figures"; else fail "kubectl top nodes: the 3 nodes' figures" "$TOPN"; fi
top_pods() { TOPP=$(KC -n demo top pods --no-headers 2>&1) && [ "$(grep -cE '^php-echo-[a-z0-9-]+ +[0-9]+m +[0-9]+Mi' <<<"$TOPP")" == 3 ]; }
if wait_for 100 top_pods; then pass "kubectl top pods: the replicas on the 3 nodes"; else fail "kubectl top pods: the replicas on the 3 nodes" "$TOPP"; fi

# ---- kill -9 node3's agent: NotReady, its replica comes back elsewhere ----
P3=$(cluster_pid 3)
N3POD=$(awk '$1=="node3" {print $3}' <<<"$PODS")
N3UID=$(kj -n demo get pod "$N3POD" | jq -r .metadata.uid)
if [ -n "$P3" ]; then
	kill -9 "$P3"
	t0=$(date +%s)
	notready() { [ "$(kj get node node3 | jq -r '.status.conditions[] | select(.type=="Ready") | .status')" != True ]; }
	if wait_for 100 notready; then pass "node3 NotReady after kill -9 of its agent ($(($(date +%s) - t0))s)"
	else fail "node3 NotReady after kill -9" "$(KC get nodes 2>&1)"; fi
	moved() { [ "$(echo_pods | awk '$1 != "node3"' | wc -l)" == 3 ] && ! echo_pods | grep -q "$N3POD"; }
	if wait_for 150 moved; then pass "node3's replica replaced on another node ($(($(date +%s) - t0))s)"
	else fail "node3's replica replaced elsewhere" "$(KC -n demo get pods -o wide 2>&1)"; fi
	PODS2=$(echo_pods)
	expect_eq "the evicted pod is gone from the API" "$(KC -n demo get pod "$N3POD" -o name 2>&1 | grep -c NotFound)" 1
	wait_for 25 eps_ready
	check_loop "after eviction" "$PODS2"
	# node3 comes back: Ready again, its orphaned container removed
	if cluster_join 3 "${AGENT_FLAGS[@]}"; then pass "node3 rejoins (up again)"; else fail "node3 rejoins" "$(tail -5 "$T/up3.out")"; fi
	orphan_gone() { ! runc --root "$(cl_run 3)/runc" list -q 2>/dev/null | grep -q "$N3UID"; }
	if wait_for 100 orphan_gone; then pass "node3 removes the orphaned container of the evicted pod"
	else fail "node3 removes the orphaned container" "$(runc --root "$(cl_run 3)/runc" list 2>&1)"; fi
else
	fail "node3 pid file" "no live pid in $(cl_run 3)/minik8s.pid"
fi

# ---- restart the server: kill -9 node1's minik8s, up again ----
snapshot() {
	echo "ns $(kj get namespaces | jq -c '[.items[].metadata | {name, uid}] | sort_by(.name)')"
	echo "deploy $(kj -n demo get deployments | jq -c '[.items[] | {n: .metadata.name, u: .metadata.uid, r: .spec.replicas}]')"
	echo "svc $(kj -n demo get services | jq -c '[.items[] | {n: .metadata.name, u: .metadata.uid, ip: .spec.clusterIP}]')"
	echo "pods $(kj get pods -A | jq -c '[.items[] | {n: .metadata.name, u: .metadata.uid, node: .spec.nodeName,
		ip: .status.podIP, c: [.status.containerStatuses[]? | {id: .containerID, r: .restartCount}]}] | sort_by(.n)')"
}
BEFORE=$(snapshot)
expect_eq "snapshot has the 4 running pods' container ids (sanity)" \
	"$(grep '^pods ' <<<"$BEFORE" | grep -o '"id":"runc://[^"]*"' | sort -u | wc -l)" 4
P1=$(cluster_pid 1)
if [ -n "$P1" ]; then
	kill -9 "$P1"
	wait_for 50 sh -c "! kill -0 $P1 2>/dev/null"
	if cluster_up_server "${SERVER_FLAGS[@]}"; then pass "server restarts (kill -9, up again)"
	else fail "server restarts" "$(tail -5 "$T/up1.out")"; fi
	all_ready() { [ "$(nodes_json | jq '[.items[] | select(any(.status.conditions[]; .type=="Ready" and .status=="True"))] | length')" == 3 ]; }
	wait_for 100 all_ready || fail "3 nodes Ready after the server restart" "$(KC get nodes 2>&1)"
	sleep 2 # let the agents report once more after their watches reconnect
	AFTER=$(snapshot)
	for k in ns deploy svc pods; do
		expect_eq "server restart keeps $k (same uids; pods adopted: same containers, no restarts)" \
			"$(grep "^$k " <<<"$AFTER")" "$(grep "^$k " <<<"$BEFORE")"
	done
	expect_eq "ClusterIP unchanged" "$(kj -n demo get service php-echo | jq -r .spec.clusterIP)" "$CIP"
	wait_for 25 eps_ready
	check_loop "after server restart" "$(echo_pods)"
else
	fail "node1 pid file" "no live pid in $(cl_run 1)/minik8s.pid"
fi

# ---- the lab script users run (examples/clusterip-lab.sh), every step, on 3 nodes ----
# What the test did above by hand, the script does again from scratch: --cleanup
# first (the script removes what it created), then all 8 steps with the real kubectl
# inside node 1; 30 requests so that missing a replica by chance is ~2e-5.
LAB() { IN 1 env HOME="$T/home" KUBECONFIG="$CL_KUBECONFIG" KUBECTL="$KUBECTL" WAIT_TIMEOUT=150 \
	timeout 600 bash "$ROOT/examples/clusterip-lab.sh" --no-pause "$@"; }
out=$(LAB --cleanup 2>&1) || fail "lab --cleanup on 3 nodes" "$(tail -3 <<<"$out")"
lab_gone() { ! KC get namespace demo >/dev/null 2>&1 && ! KC get pod jumpbox >/dev/null 2>&1; }
if wait_for 300 lab_gone; then
	out=$(LAB --requests 30 2>&1)
	rc=$?
	echo "$out" >"$T/lab3.out"
	if [ $rc == 0 ] && [ "$(grep -c '^==> step ' <<<"$out")" == 8 ] && grep -q '^Done\.' <<<"$out"; then
		pass "lab script: all 8 steps on 3 nodes"
	else
		fail "lab script: all 8 steps on 3 nodes" "rc=$rc: $(tail -6 <<<"$out" | tr '\n' '|')"
	fi
	expect_match "lab script: replies from 3 pods on 3 nodes" "$out" 'ok: 30 replies from 3 different pod\(s\) on 3 node\(s\)'
	cip=$(kj -n demo get service php-echo | jq -r .spec.clusterIP)
	expect_eq "lab script: step 7 compares the bare dig answer" \
		"$(awk '/^\$ kubectl exec jumpbox -- dig \+short/ { getline; print; exit }' <<<"$out")" "$cip"
else
	fail "lab --cleanup on 3 nodes" "demo or jumpbox still there: $(KC get ns,pods -A 2>&1 | tail -5)"
fi

# ---- down: every node, nothing left ----
# sanity check of the probe: a running node shows every kind of trace
expect_eq "a running node has all the traces cluster_leftovers looks for (sanity)" \
	"$(cluster_leftovers 1 | sed 's/(.*//' | sort | tr '\n' ' ')" \
	"addresses cgroups cluster-routes containers data-dir kubeconfig links mounts nft pidfile pod-netns process processes routes run-dir "
for n in 3 2 1; do
	if cluster_down "$n"; then pass "node$n: minik8s down --purge"; else fail "node$n: minik8s down" "$(tail -3 "$T/down$n.out")"; fi
	left=$(cluster_leftovers "$n" | tr '\n' ' ')
	expect_eq "node$n: down leaves nothing (nft, links, routes, containers, mounts, netns, cgroups, dirs)" "$left" ""
	# a joined node leaving for good deletes its Node, and with it its node credential
	if [ "$n" = 3 ]; then
		expect_eq "node3: down --purge deleted its Node and its credential" \
			"$({ KC get node node3; KC get secret -n kube-system node3.node-password.minik8s; } 2>&1 | grep -c 'NotFound')" 2
	fi
done
expect_eq "the root namespace's links are as before" "$(ip -o link show | awk -F': ' '{print $2}' | sort | tr '\n' ' ')" "$ROOT_LINKS"
expect_eq "the root namespace's nft tables are as before" "$(nft list tables 2>&1 | sort | tr '\n' ' ')" "$ROOT_NFT"
echo "# cluster3 took $(elapsed)"
done_testing
