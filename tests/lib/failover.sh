# The failover lab (issue 17 item 4), shared by tests/e2e/failover_etcd.sh,
# tests/e2e/failover_pg.sh and bench/cluster/failover.sh. Source it after lib.sh; it
# sources tests/lib/cluster.sh with 3 nodes (network namespaces on an underlay bridge):
#   node 1, node 2: `minik8s up --disable-agent --datastore-endpoint ... --token T`,
#                   two API servers on one datastore and one cluster identity (the
#                   first seals CA, tokens and keys into the datastore with the cluster
#                   token T, the second loads them), each with its own data dir and
#                   kubeconfig; controllers and scheduler on the Lease holder only
#   node 3:         `minik8s up --server LEADER,OTHER --token ...`, the agent (real
#                   runc pods, balancer, cluster DNS), failing over to the other server
# The datastore: fo_etcd_start (3 members, one per node; source tests/lib/etcd.sh
# first) or fo_pg_start (PostgreSQL in node 3; tests/lib/pg.sh) define
#   fo_store_endpoint N   the --datastore-endpoint of server node N
#   fo_store_restart      stops the datastore and starts it again on its data
# Functions:
#   fo_servers_up               both servers up, the leader found (FO_LEADER, FO_FOLLOWER)
#   fo_agent_up                 node 3 joins with both servers, the leader first
#   fo_lab                      the ClusterIP lab: 2 replicas, a ClusterIP, DNS, curl from a pod
#   fo_kill_leader              kill -9 of the leading server, with writes before and
#                               during it; the API through the other, controllers resume,
#                               no acknowledged write lost, no pod duplicated
#   fo_restart_all              everything stopped and started again: all objects back
#   fo_cm_create N NAME         POST a ConfigMap to server N; prints the HTTP code
# Every wait is bounded; times are printed ("# ...") and never asserted.
CL_NODES=3
CL_SERVER_NODES="1 2"
. "$ROOT/tests/lib/cluster.sh"
FO_AGENT=3
FO_LEADER='' FO_FOLLOWER=''
FO_TOKEN=failover-cluster-token-$RANDOM$RANDOM
FO_SERVER_FLAGS=(--disable-agent --restart-backoff 1s,4s --token "$FO_TOKEN")
FO_AGENT_FLAGS=(--restart-backoff 1s,4s --node-status-update-frequency 1s)

# KS N ARGS...: the real kubectl inside node N with server N's kubeconfig
KS() { local n=$1; shift; IN "$n" timeout 40 "$KUBECTL" --kubeconfig "$(cl_kubeconfig "$n")" --request-timeout=20s "$@"; }
kjs() { KS "$@" -o json 2>/dev/null; }
# fo_wait TRIES(0.2 s) CMD...: CMD until it succeeds (scaled like lib.sh's wait_until)
fo_wait() {
	local n=$(($1 * ${MINIK8S_TEST_SLOW:-1})) i; shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done
	return 1
}
fo_now() { date +%s.%N; }
fo_ms_since() { awk -v a="$1" -v b="$(fo_now)" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# fo_cm_create N NAME [LABEL]: creates ConfigMap default/NAME (label failover=LABEL, w by default) through
# server N with its admin token; prints the HTTP code (000: no answer in 3 s)
fo_cm_create() {
	local n=$1 name=$2 label=${3:-w}
	IN "$n" /usr/bin/curl -s -m 3 --cacert "$(cl_data "$n")/tls/ca.crt" \
		-H "Authorization: Bearer $(cat "$(cl_data "$n")/token" 2>/dev/null)" \
		-H 'Content-Type: application/json' -o /dev/null -w '%{http_code}' \
		-d "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$name\",\"labels\":{\"failover\":\"$label\"}},\"data\":{\"k\":\"$name\"}}" \
		"$(cl_url "$n")/api/v1/namespaces/default/configmaps" 2>/dev/null
}

# the holder of the controllers' Lease, as seen through server N
fo_holder() { kjs "$1" -n kube-system get lease kube-controller-manager | jq -r '.spec.holderIdentity // ""'; }
fo_identity() { cat "$(cl_data "$1")/leader-identity" 2>/dev/null; }
fo_find_leader() {
	local h s
	h=$(fo_holder "${FO_FOLLOWER:-1}")
	[ -n "$h" ] || return 1
	for s in 1 2; do
		if [ "$h" == "$(fo_identity "$s")" ]; then FO_LEADER=$s FO_FOLLOWER=$((3 - s)); return 0; fi
	done
	return 1
}

fo_servers_up() {
	local s
	for s in 1 2; do
		if cluster_up_server_on "$s" "${FO_SERVER_FLAGS[@]}" --datastore-endpoint "$(fo_store_endpoint "$s")"; then
			pass "node$s: server on the shared datastore up"
		else
			fail "node$s: server up" "$(tail -5 "$T/up$s.out")"; return 1
		fi
	done
	if fo_wait 150 fo_find_leader; then
		pass "one of the two servers holds the controllers' Lease (node$FO_LEADER)"
	else
		fail "a server holds the controllers' Lease" "holder '$(fo_holder 1)', identities $(fo_identity 1) $(fo_identity 2)"
		return 1
	fi
	# both servers serve the same objects: a write through one is read through the other
	FO_STARTS=$((${FO_STARTS:-0} + 1))
	expect_eq "a ConfigMap created through node1's server" "$(fo_cm_create 1 "shared-$FO_STARTS" shared)" 201
	expect_eq "is read through node2's server with node1's kubeconfig (one cluster identity)" \
		"$(IN 2 timeout 40 "$KUBECTL" --kubeconfig "$(cl_kubeconfig 1)" --server "$(cl_url 2)" \
			get configmap "shared-$FO_STARTS" -o jsonpath='{.data.k}' 2>&1)" "shared-$FO_STARTS"
}

fo_agent_up() {
	if CL_JOIN_NODE=$FO_LEADER CL_JOIN_URL="$(cl_url "$FO_LEADER"),$(cl_url "$FO_FOLLOWER")" \
		cluster_join "$FO_AGENT" "${FO_AGENT_FLAGS[@]}"; then
		pass "node$FO_AGENT: agent joins with --server node$FO_LEADER,node$FO_FOLLOWER (the leader first), Ready"
		FO_AGENT_FIRST=$FO_LEADER
	else
		fail "node$FO_AGENT: agent joins" "$(tail -5 "$T/up$FO_AGENT.out")"; return 1
	fi
}

# echo_pods S: "podIP name uid" of the Ready, not-terminating php-echo pods (through server S)
fo_echo_pods() {
	kjs "$1" -n demo get pods -l app=php-echo | jq -r '.items[] | select(.metadata.deletionTimestamp == null)
		| select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))
		| "\(.status.podIP) \(.metadata.name) \(.metadata.uid)"' | sort
}
fo_n_ready() { [ "$(fo_echo_pods "$1" | wc -l)" == "$2" ]; }
fo_eps() { [ "$(kjs "$1" -n demo get endpoints php-echo | jq '[.subsets[]?.addresses[]?] | length')" == "$2" ]; }
fo_jb_running() { [ "$(kjs "$1" get pod jumpbox | jq -r .status.phase)" == Running ]; }
# fo_curl_loop S N: N requests from the jumpbox to the service's DNS name; the
# distinct pod IPs that answered, sorted, one line
fo_curl_loop() {
	KS "$1" exec jumpbox -- bash -c "for i in \$(seq $2); do curl -s -m 2 php-echo.demo.svc.cluster.local:80; echo; done" 2>/dev/null |
		grep -o 'pod=[0-9.]*' | sed 's/pod=//' | sort -u | tr '\n' ' '
}
fo_want_ips() { fo_echo_pods "$1" | awk '{print $1}' | sort -u | tr '\n' ' '; }

# fo_lab S: the ClusterIP lab through server S
fo_lab() {
	local s=$1 t0
	t0=$(fo_now)
	KS "$s" create namespace demo >/dev/null 2>&1 || fail "create namespace demo"
	sed 's/replicas: 3/replicas: 2/' "$ROOT/examples/php-echo.yaml" >"$T/php-echo.yaml"
	KS "$s" apply -f - <"$T/php-echo.yaml" >"$T/apply.out" 2>&1 || fail "apply php-echo (2 replicas)" "$(cat "$T/apply.out")"
	KS "$s" apply -f - <"$ROOT/examples/jumpbox.yaml" >>"$T/apply.out" 2>&1 || fail "apply jumpbox" "$(cat "$T/apply.out")"
	if fo_wait 300 fo_n_ready "$s" 2; then pass "php-echo: 2 replicas Ready ($(fo_ms_since "$t0") ms)"
	else fail "php-echo: 2 replicas Ready" "$(KS "$s" -n demo get pods -o wide 2>&1)"; fi
	if fo_wait 300 fo_jb_running "$s"; then pass "jumpbox Running"
	else fail "jumpbox Running" "$(KS "$s" get pod jumpbox -o wide 2>&1)"; fi
	KS "$s" -n demo expose deployment php-echo --port=80 --type=ClusterIP >"$T/expose.out" 2>&1 ||
		fail "kubectl expose" "$(cat "$T/expose.out")"
	FO_CIP=$(kjs "$s" -n demo get service php-echo | jq -r .spec.clusterIP)
	expect_match "the service has a ClusterIP" "$FO_CIP" '^10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$'
	fo_wait 150 fo_eps "$s" 2 || fail "endpoints list the 2 replicas" "$(KS "$s" -n demo get endpoints php-echo -o json 2>&1 | head -c 400)"
	dig_ok() { [ "$(KS "$s" exec jumpbox -- dig +short php-echo.demo.svc.cluster.local 2>/dev/null)" == "$FO_CIP" ]; }
	fo_wait 50 dig_ok
	expect_eq "cluster DNS: the service's name from the jumpbox = the ClusterIP" \
		"$(KS "$s" exec jumpbox -- dig +short php-echo.demo.svc.cluster.local 2>&1)" "$FO_CIP"
	# 20 requests miss one of 2 replicas by chance with p = 2^-19
	expect_eq "curl through the ClusterIP (by name) from the jumpbox reaches both replicas" \
		"$(fo_curl_loop "$s" 20)" "$(fo_want_ips "$s")"
}

# fo_rs_pods S: "rs name uid" of the deployment's live pods (not terminating)
fo_rs_pods() {
	kjs "$1" -n demo get pods -l app=php-echo | jq -r '.items[] | select(.metadata.deletionTimestamp == null)
		| "\(.metadata.ownerReferences[0].name) \(.metadata.name) \(.metadata.uid)"' | sort
}
# fo_no_duplicates LABEL S N: the deployment has one ReplicaSet with N pods, distinct
# names and uids
fo_no_duplicates() {
	local label=$1 s=$2 n=$3 pods
	pods=$(fo_rs_pods "$s")
	expect_eq "$label: one ReplicaSet, $n live pods, distinct names and uids" \
		"$(awk '{print $1}' <<<"$pods" | sort -u | wc -l) $(wc -l <<<"$pods") $(awk '{print $2}' <<<"$pods" | sort -u | wc -l) $(awk '{print $3}' <<<"$pods" | sort -u | wc -l)" \
		"1 $n $n $n"
	expect_eq "$label: the ReplicaSet's status counts $n replicas" \
		"$(kjs "$s" -n demo get rs | jq -r '[.items[] | select(.spec.replicas > 0) | "\(.spec.replicas)/\(.status.replicas)"] | join(",")')" "$n/$n"
}

# fo_kill_leader: the failover itself
fo_kill_leader() {
	local L F pid t0 i code before_pods acked missing n_after
	# the Lease may have moved since the servers started (a late renewal under load)
	fo_find_leader || { fail "a server holds the controllers' Lease before the kill" "holder '$(fo_holder "$FO_FOLLOWER")'"; return 1; }
	L=$FO_LEADER F=$FO_FOLLOWER
	before_pods=$(fo_rs_pods "$F")
	# writes through both servers, before and during the kill: a bounded loop
	: >"$T/writes"; : >"$T/probes"
	(
		for ((i = 1; i <= 60; i++)); do
			s=$((i % 2 + 1))
			echo "w-$i $s $(fo_cm_create "$s" "w-$i")" >>"$T/writes"
			sleep 0.05
		done
	) &
	local writer=$!
	_PIDS+=("$writer")
	fo_wait 300 sh -c "[ \$(wc -l <'$T/writes') -ge 16 ]"
	pid=$(cluster_pid "$L")
	[ -n "$pid" ] || { fail "leader node$L's pid" "no live pid in $(cl_run "$L")/minik8s.pid"; return 1; }
	kill -9 "$pid"
	t0=$(fo_now)
	FO_KILL_AT=$(wc -l <"$T/writes")
	# the API through the other server: the first write acknowledged after the kill
	FO_T_WRITE=
	for ((i = 1; i <= 150; i++)); do
		code=$(fo_cm_create "$F" "probe-$i")
		[ "$code" == 201 ] && { FO_T_WRITE=$(fo_ms_since "$t0"); echo "probe-$i $F 201" >>"$T/probes"; break; }
		sleep 0.1
	done
	if [ -n "$FO_T_WRITE" ]; then pass "after kill -9 of the leader (node$L), node$F's server acknowledges a write"
	else fail "after kill -9 of the leader, a write through node$F" "last HTTP code $code"; fi
	echo "# leader node$L killed -> first acknowledged write through node$F: ${FO_T_WRITE:-none} ms"
	# controllers resume: scaled at once, the third replica Ready once node F's
	# server holds the Lease (leaseDurationSeconds 15 after the last renewal)
	KS "$F" -n demo scale deployment php-echo --replicas=3 >"$T/scale.out" 2>&1 || fail "scale to 3 through node$F" "$(cat "$T/scale.out")"
	holder_is_f() { [ "$(fo_holder "$F")" == "$(fo_identity "$F")" ]; }
	if fo_wait 300 holder_is_f; then
		FO_T_LEASE=$(fo_ms_since "$t0")
		pass "node$F's server takes the controllers' Lease"
	else
		fail "node$F's server takes the Lease" "holder '$(fo_holder "$F")'"
	fi
	if fo_wait 600 fo_n_ready "$F" 3; then
		FO_T_POD=$(fo_ms_since "$t0")
		pass "controllers resume: the deployment scaled to 3 has its third replica Ready"
	else
		fail "controllers resume: 3 replicas Ready" "$(KS "$F" -n demo get pods -o wide 2>&1)"
	fi
	echo "# leader killed -> Lease taken: ${FO_T_LEASE:-none} ms; -> third replica Ready: ${FO_T_POD:-none} ms (lease duration 15 s)"
	if [ "$L" == "$FO_AGENT_FIRST" ]; then
		expect_match "the agent moved to node$F's server" \
			"$(grep -a 'unreachable: now using' "$(cl_data "$FO_AGENT")/minik8s.log" | tail -1)" "now using $(cl_url "$F")"
	else
		echo "# the Lease had moved to node$L before the kill: the agent stayed on node$F's server"
	fi
	node_ready() {
		[ "$(kjs "$F" get node "$(cl_name "$FO_AGENT")" | jq -r '.status.conditions[] | select(.type=="Ready") | .status')" == True ]
	}
	check "node$FO_AGENT stays Ready" node_ready
	wait "$writer"
	# every acknowledged write is there
	acked=$(awk '$3 == 201 {print $1}' "$T/writes" "$T/probes" | sort)
	n_after=$(awk -v k="$FO_KILL_AT" 'NR > k && $3 == 201' "$T/writes" | wc -l)
	echo "# writes: $(wc -l <"$T/writes") tried, $(wc -l <<<"$acked") acknowledged, $n_after of them after the kill; codes: $(awk '{print $3}' "$T/writes" | sort | uniq -c | tr '\n' ' ')"
	if [ "$n_after" -gt 0 ]; then pass "writes were acknowledged during the failover ($n_after after the kill)"
	else fail "writes acknowledged during the failover" "$(tail -5 "$T/writes" | tr '\n' '|')"; fi
	KS "$F" get configmaps -l failover=w -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' >"$T/cms" 2>"$T/cms.err"
	missing=$(comm -23 <(echo "$acked") <(sort "$T/cms") | tr '\n' ' ')
	if [ -s "$T/cms" ] && [ -z "$missing" ]; then pass "no acknowledged write is lost ($(wc -l <<<"$acked") ConfigMaps)"
	else fail "no acknowledged write is lost" "missing: $missing $(cat "$T/cms.err")"; fi
	# no pod duplicated: the two replicas from before are the same pods, plus one
	expect_eq "the replicas from before the kill are still the same pods" \
		"$(comm -12 <(echo "$before_pods") <(fo_rs_pods "$F") | wc -l)" "$(wc -l <<<"$before_pods")"
	fo_no_duplicates "after the failover" "$F" 3
	fo_wait 150 fo_eps "$F" 3 || fail "endpoints list the 3 replicas" "$(KS "$F" -n demo get endpoints php-echo -o json 2>&1 | head -c 400)"
	# 30 requests miss one of 3 replicas by chance with p = 3 * (2/3)^30 ~ 2e-5
	expect_eq "after the failover: the ClusterIP reaches all 3 replicas" "$(fo_curl_loop "$F" 30)" "$(fo_want_ips "$F")"
}

# fo_snapshot S: the lab's objects with their uids, through server S
fo_snapshot() {
	echo "ns $(kjs "$1" get namespaces | jq -c '[.items[].metadata | {name, uid}] | sort_by(.name)')"
	echo "deploy $(kjs "$1" -n demo get deployments | jq -c '[.items[] | {n: .metadata.name, u: .metadata.uid, r: .spec.replicas}]')"
	echo "svc $(kjs "$1" -n demo get services | jq -c '[.items[] | {n: .metadata.name, u: .metadata.uid, ip: .spec.clusterIP}]')"
	echo "configmaps $(kjs "$1" get configmaps -l failover=w | jq -c '[.items[].metadata | {name, uid}] | sort_by(.name)')"
	echo "pods $(kjs "$1" get pods -A | jq -c '[.items[].metadata | {name, uid}] | sort_by(.name)')"
}

fo_down() { IN "$1" timeout 60 "$MINIK8S" down --run-dir "$(cl_run "$1")" >>"$T/down$1.out" 2>&1; }

# fo_restart_all: agent and servers stopped, the datastore restarted, all up again
fo_restart_all() {
	local S=$FO_FOLLOWER before after k s
	before=$(fo_snapshot "$S")
	expect_eq "snapshot before the restart holds the lab (sanity: 3 replicas, jumpbox, the ConfigMaps written)" \
		"$(grep -c '"php-echo-' <<<"$before") $(grep -c '"jumpbox"' <<<"$before") $(($(grep -o '"w-[0-9]*"' <<<"$before" | wc -l) > 0))" "1 1 1"
	fo_down "$FO_AGENT" || fail "agent down" "$(tail -3 "$T/down$FO_AGENT.out")"
	for s in 1 2; do fo_down "$s"; done
	for s in 1 2 3; do [ -z "$(cluster_pid "$s")" ] || fail "node$s stopped" "pid $(cluster_pid "$s") still runs"; done
	if fo_store_restart; then pass "datastore stopped and started again"; else fail "datastore restart"; return 1; fi
	FO_LEADER='' FO_FOLLOWER=''
	fo_servers_up || return 1
	fo_agent_up || return 1
	after=$(fo_snapshot "$FO_FOLLOWER")
	for k in ns deploy svc configmaps pods; do
		expect_eq "after restarting everything: $k back (same names and uids)" \
			"$(grep "^$k " <<<"$after")" "$(grep "^$k " <<<"$before")"
	done
	if fo_wait 600 fo_n_ready "$FO_FOLLOWER" 3 && fo_wait 300 fo_jb_running "$FO_FOLLOWER"; then
		pass "after restarting everything: 3 replicas Ready and the jumpbox Running"
	else
		fail "after restarting everything: pods back" "$(KS "$FO_FOLLOWER" get pods -A -o wide 2>&1)"
	fi
	fo_wait 150 fo_eps "$FO_FOLLOWER" 3
	expect_eq "after restarting everything: the ClusterIP reaches all 3 replicas" \
		"$(fo_curl_loop "$FO_FOLLOWER" 30)" "$(fo_want_ips "$FO_FOLLOWER")"
}

# fo_etcd_start: an etcd member in each node's namespace; server node N names its own
# member first in --datastore-endpoint
fo_etcd_start() {
	ETCD_NETNS=("$(cl_ns 1)" "$(cl_ns 2)" "$(cl_ns 3)")
	ETCD_IPS=("$(cl_ip 1)" "$(cl_ip 2)" "$(cl_ip 3)")
	etcd_cluster_start 3 || return 1
	fo_store_endpoint() {
		local i=$(($1 - 1)) j eps=${ETCD_URLS[$(($1 - 1))]}
		for j in 0 1 2; do [ "$j" == "$i" ] || eps="$eps,${ETCD_URLS[$j]}"; done
		echo "$eps"
	}
	fo_store_restart() { etcd_cluster_restart; }
}

# fo_pg_start: PostgreSQL inside node 3's namespace, one database for both servers
fo_pg_start() {
	PG_NETNS=$(cl_ns 3) PG_HOST=$(cl_ip 3)
	pg_start || return 1
	# on_exit runs the last registered first: the nodes go down before pg_stop (a
	# server whose database is gone spends its whole stop timeout in `down`)
	on_exit cluster_teardown
	fo_store_endpoint() { echo "$PG_ENDPOINT"; }
	fo_store_restart() { pg_restart; }
}

# fo_setup [TOOL...]: tools, images, underlay (FAIL and exit when something is missing:
# with status FO_ABORT_RC, 0 for a test script, whose FAIL line tells)
fo_abort() { done_testing; exit "${FO_ABORT_RC:-0}"; }
fo_setup() {
	if [ "$(id -u)" != 0 ]; then fail failover "must run as root"; fo_abort; fi
	local tool
	for tool in runc jq curl ip nsenter nft "$KUBECTL" "$@"; do
		command -v "$tool" >/dev/null || { fail failover "$tool missing (scripts/deps.sh)"; fo_abort; }
	done
	curl_max_time 20
	exec 3>&2
	on_exit fo_show_logs
	if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
		fail images_build "$(tail -3 "$T/images.log")"; fo_abort
	fi
	cluster_underlay || { fail underlay "could not create the namespaces"; fo_abort; }
	cluster_import "$FO_AGENT" "$T/images/echo.tar" "$T/images/jumpbox.tar" >"$T/import.log" 2>&1 ||
		fail "image import" "$(tail -2 "$T/import.log")"
}

fo_show_logs() {
	[ "$FAILED" = 1 ] || [ -n "${FAILOVER_E2E_LOGS:-}" ] || return 0
	local n
	for n in 1 2 3; do
		echo "---- node$n: up output, last log lines" >&3
		tail -n 5 "$T/up$n.out" >&3 2>/dev/null
		grep -v 'HTTP verb=' "$(cl_data "$n")/minik8s.log" 2>/dev/null | tail -n 25 >&3
	done
}
