#!/bin/bash
# Fault injection (bounded: FAULT_ROUNDS kill rounds, the whole script a few minutes).
#
# 1. kill -9 of the server at random moments during a burst of pod and deployment
#    creates, scales and deletes (data/faults/burst.py over keep-alive HTTPS), with
#    a watcher (data/faults/watcher.py) that resumes from the last resourceVersion
#    it saw after every kill. Afterwards: every acknowledged write is there
#    (deletes gone, scales kept), each deployment owns exactly spec.replicas pods
#    (no duplicates after the controllers restart), the watch stream has every
#    event exactly once and in order (acknowledged creates/deletes all seen,
#    replaying it gives exactly the listed pods) and the database passes
#    PRAGMA integrity_check.
# 2. Disk full: the data dir on a small tmpfs the test mounts; filled up, a write
#    answers a Status (500/507-class failure, never a hang or crash) and the log
#    says why, reads keep working, and after space returns writes work again and
#    the database is intact.
# 3. kill -9 of an agent while scaling (no leaked pod netns, veth, container, cgroup,
#    mount, IPAM address or nft endpoint element, no
#    duplicate), of server and agent together, and a node lost for good (its pods
#    come back on the other node within 60 s); see there.
# FAULTS_NO_CLUSTER=1 skips part 3; FAULT_ROUNDS sets the kill rounds of part 1.
. "$(dirname "$0")/../lib/lib.sh"
D=$ROOT/tests/e2e/data/faults
rounds=${FAULT_ROUNDS:-6}
curl_max_time 20
export BURST_SEED=${BURST_SEED:-$RANDOM}
echo "seed $BURST_SEED, $rounds rounds"
START=$SECONDS

# integrity DB: PRAGMA integrity_check of the store ("ok")
integrity() {
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$1"
}

# ---- 1. kill -9 of the server during a burst --------------------------------------
start_server || { fail faults_server_start "server did not start"; exit 1; }
touch "$T/burst.log" "$T/watch.log"
api GET /api/v1/pods
rv0=$(jqb .metadata.resourceVersion)
python3 "$D/watcher.py" 127.0.0.1 "$PORT" "$TOKEN" "$CACERT" pods "$rv0" "$T/watch.log" "$T/stop-watch" &
WATCHER=$!
_PIDS+=("$WATCHER")
python3 "$D/burst.py" 127.0.0.1 "$PORT" "$TOKEN" "$CACERT" "$T/burst.log" "$T/stop" \
	$(($(date +%s) + 40 + rounds * 15)) &
BURST=$!
_PIDS+=("$BURST")
restarted=0
for ((r = 1; r <= rounds; r++)); do
	# a random moment: 0.3 .. 2.3 s into the burst after the server is back
	sleep "$((RANDOM % 3)).$((RANDOM % 10))"
	sleep 0.3
	kill -9 "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null
	if start_server; then restarted=$((restarted + 1)); else break; fi
done
expect_eq faults_server_restarts "$restarted" "$rounds"
sleep 1
touch "$T/stop"
wait "$BURST"
echo "burst: $(grep -c '^ok' "$T/burst.log") acknowledged, $(grep -c '^lost' "$T/burst.log") lost, $(grep -c '^err' "$T/burst.log") refused"

# the controllers settle: every deployment owns exactly spec.replicas live pods
settled() {
	api GET /apis/apps/v1/namespaces/default/deployments || return 1
	printf '%s' "$BODY" >"$T/settle-deps.json"
	api GET /api/v1/namespaces/default/pods || return 1
	printf '%s' "$BODY" >"$T/settle-pods.json"
	jq -n -e --slurpfile d "$T/settle-deps.json" --slurpfile p "$T/settle-pods.json" '
		[$d[0].items[] | .metadata.name as $n | .spec.replicas as $want |
		 ([$p[0].items[] | select(.metadata.labels.app == $n and (.metadata.deletionTimestamp | not))] | length) == $want] |
		all' >/dev/null
}
if wait_until 600 settled; then pass faults_no_duplicate_pods
else fail faults_no_duplicate_pods "deployments and their pod counts still differ after 60 s"
fi
api GET /api/v1/namespaces/default/pods
printf '%s' "$BODY" >"$T/pods.json"
api GET /apis/apps/v1/namespaces/default/deployments
printf '%s' "$BODY" >"$T/deps.json"
api_json POST /api/v1/namespaces/default/pods \
	'{"metadata":{"name":"sentinel"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}'
wait_until 100 grep -q ' default/sentinel$' "$T/watch.log"
touch "$T/stop-watch"
kill "$WATCHER" 2>/dev/null
# its PASS/FAIL lines are reported through lib.sh, so they are counted
python3 "$D/check.py" "$T/burst.log" "$T/watch.log" "$T/pods.json" "$T/deps.json" | tee "$T/check.out" |
	while IFS= read -r l; do
		case $l in
		"PASS: "*) pass "${l#PASS: }" ;;
		"FAIL: "*) r=${l#FAIL: }; fail "${r%%: *}" "${r#*: }" ;;
		*) echo "$l" ;;
		esac
	done
if grep -q '^FAIL' "$T/check.out"; then
	echo "--- last watch lines"; tail -4 "$T/watch.log"; echo "--- last burst lines"; tail -4 "$T/burst.log"
fi
check faults_server_healthy server_healthy
stop_server TERM
check faults_integrity_after_kills test "$(integrity "$DATA/state.db")" == ok

echo "# part 1 done after $((SECONDS - START)) s"
# ---- 2. disk full -------------------------------------------------------------------
mkdir -p "$T/small"
mount -t tmpfs -o size=32m tmpfs "$T/small" || { fail faults_disk_mount "mount tmpfs"; exit 1; }
on_exit "umount -l '$T/small'"
DATA=$T/small/data PORT=$(free_port)
start_server || { fail faults_disk_server_start "server did not start"; exit 1; }
pod_json() { printf '{"metadata":{"name":"%s","annotations":{"pad":"%s"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}' "$1" "$2"; }
api_json POST /api/v1/namespaces/default/pods "$(pod_json before "")"
expect_code faults_disk_write_before 201
dd if=/dev/zero of="$T/small/filler" bs=64k status=none 2>/dev/null
pad=$(head -c 60000 /dev/zero | tr '\0' x)
code=""
for i in $(seq 1 40); do
	api_json POST /api/v1/namespaces/default/pods "$(pod_json "full-$i" "$pad")"
	[ "$HTTP_CODE" = 201 ] && continue
	code=$HTTP_CODE
	break
done
if [ -n "$code" ] && num_cmp "$code" '>=' 500 && [ "$(jqb .kind)" = Status ] && [ "$(jqb .status)" = Failure ]; then
	pass "faults_disk_full_write_fails_with_status (HTTP $code: $(jqb .message))"
else
	fail faults_disk_full_write_fails_with_status "HTTP '$code' after $i writes: ${BODY:0:300}"
fi
expect_contains faults_disk_full_status_says_why "$(jqb .message)" "full"
if grep -qi 'full' "$T/server.log"; then pass faults_disk_full_logged
else fail faults_disk_full_logged "no log line about the full disk: $(tail -3 "$T/server.log")"; fi
api GET /api/v1/namespaces/default/pods/before
expect_code faults_disk_full_get_works 200
api GET /api/v1/namespaces/default/pods
expect_code faults_disk_full_list_works 200
check faults_disk_full_server_alive server_healthy
rm -f "$T/small/filler"
ok=""
for i in $(seq 1 20); do
	api_json POST /api/v1/namespaces/default/pods "$(pod_json "after-$i" "")"
	[ "$HTTP_CODE" = 201 ] && { ok=1; break; }
	sleep 0.5
done
expect_eq faults_disk_recovers_writes "${ok:-no} $HTTP_CODE" "1 201"
api GET /api/v1/namespaces/default/pods/before
expect_code faults_disk_recovers_reads 200
stop_server TERM
check faults_disk_integrity test "$(integrity "$DATA/state.db")" == ok

echo "# part 2 done after $((SECONDS - START)) s"
[ -n "${FAULTS_NO_CLUSTER:-}" ] && exit 0 # parts 1 and 2 only (while working on them)

# ---- 3. agents killed, a node lost for good (2 nodes as network namespaces) ---------
# node1 runs `minik8s up` (server, controllers and its own agent: one process),
# node2 joins as an agent. The node lifecycle controller's defaults are a 40 s grace
# and a 5 min eviction timeout (as kube-controller-manager's); the test sets
# 4 s + 6 s, so a lost node's pods must be back elsewhere well within 60 s.
CL_NODES=2 CL_NET=192.168.$((200 + RANDOM % 40))
. "$ROOT/tests/lib/cluster.sh"
# wait_s SECONDS CMD...: CMD every 0.5 s until it succeeds, for at most SECONDS
wait_s() {
	local end=$(($(date +%s) + $1)); shift
	until "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.5; done
}
if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail faults_images "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail faults_underlay "could not create the namespaces"; exit 0; }
for n in 1 2; do cluster_import "$n" "$T/images/echo.tar" >"$T/import$n.log" 2>&1; done
AGENT_FLAGS=(--restart-backoff 1s,4s --node-status-update-frequency 1s)
cluster_up_server --node-monitor-grace-period 4s --pod-eviction-timeout 6s "${AGENT_FLAGS[@]}" ||
	{ fail faults_cluster_up "$(tail -5 "$T/up1.out")"; exit 0; }
cluster_join 2 "${AGENT_FLAGS[@]}" || { fail faults_cluster_join "$(tail -5 "$T/up2.out")"; exit 0; }
KC apply -f "$ROOT/examples/php-echo.yaml" >"$T/apply.out" 2>&1 || KC create namespace demo >/dev/null 2>&1
KC apply -f "$ROOT/examples/php-echo.yaml" >>"$T/apply.out" 2>&1
KC -n demo scale deployment php-echo --replicas 4 >/dev/null 2>&1
# a ClusterIP service over them: its endpoints are nft elements on every node
KC -n demo expose deployment php-echo --port 80 >/dev/null 2>&1
# running "node name" pairs of live php-echo pods
running() {
	KC -n demo get pods -l app=php-echo -o json 2>/dev/null | jq -r '.items[] |
		select(.metadata.deletionTimestamp == null and .status.phase == "Running") |
		"\(.spec.nodeName) \(.metadata.name)"' | sort
}
n_running() { [ "$(running | awk -v n="$1" '$1 == n' | wc -l)" -ge "$2" ] && [ "$(running | wc -l)" == "$3" ]; }
wait_s 150 n_running node2 1 4 || fail faults_cluster_pods "not 4 Running with one on node2: $(running | tr '\n' ' ')"

# node2's pods as the API sees them vs what exists on node2: pod netns files, veths in
# its namespace, runc containers, container cgroups, mounts under its dirs, addresses
# its IPAM holds; each a fixed number per pod (measured before the kills). And every
# pod address in node2's nft ruleset (service endpoints) is a live pod's.
CG2=$(find /sys/fs/cgroup -maxdepth 2 -type d -name "$(cl_cg 2 | tr -d /)" 2>/dev/null | head -1)
node2_traces() {
	local want
	want=$(KC get pods -A -o json | jq -r '[.items[] | select(.spec.nodeName == "node2" and .status.phase == "Running")] | length')
	echo -n "pods=$want netns=$(ls "$(cl_netns 2)" 2>/dev/null | wc -l)"
	echo -n " veth=$(IN 2 ip -o link show type veth | grep -vc ' eth0@')"
	echo -n " containers=$(runc --root "$(cl_run 2)/runc" list -q 2>/dev/null | wc -l)"
	echo -n " cgroups=$(find "$CG2" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)"
	# (the netns dir itself is a mount point once per node, as `ip netns` makes it)
	echo -n " mounts=$(grep " $(cl_dir 2)/" /proc/mounts | grep -vc " $(cl_netns 2) ")"
	echo " ips=$(grep -c '^10\.' "$(cl_data 2)/ipam/pods.ipam" 2>/dev/null)"
}
# pod addresses in node2's ruleset (the service's endpoints), and those no live pod
# has (empty: none leaked)
nft_ips() { IN 2 nft list ruleset 2>/dev/null | grep -oE '10\.244\.[0-9]+\.[0-9]+(/[0-9]+)?' | grep -v / | sort -u; }
stale_nft_ips() {
	local live
	live=$(KC get pods -A -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .status.podIP // empty' | sort -u)
	nft_ips | comm -23 - <(echo "$live")
}
# "kind=count" per pod from one node2_traces line with p pods ("" if not a multiple)
per_pod() {
	local t=$1 p=$2 kv out=""
	for kv in ${t#pods=* }; do
		local k=${kv%=*} v=${kv#*=}
		[ $((v % p)) -ne 0 ] && { echo ""; return; }
		out+="$k=$((v / p)) "
	done
	echo "$out"
}
traces_match() {
	local t p
	t=$(node2_traces)
	p=$(sed 's/pods=\([0-9]*\).*/\1/' <<<"$t")
	[ "$p" -gt 0 ] && [ "$(per_pod "$t" "$p")" == "$PER_POD" ] && [ -z "$(stale_nft_ips)" ] &&
		[ "$(nft_ips | wc -l)" -ge 4 ]
}
t=$(node2_traces)
p=$(sed 's/pods=\([0-9]*\).*/\1/' <<<"$t")
PER_POD=$(per_pod "$t" "$p")
[ -n "$PER_POD" ] || fail faults_traces_per_pod "node2's traces are not a fixed number per pod: $t"
echo "node2 before the kills: $t"
# kill -9 node2's agent at a random moment during scaling, restart it
for r in 1 2; do
	KC -n demo scale deployment php-echo --replicas $((3 + r)) >/dev/null 2>&1
	sleep "0.$((RANDOM % 10))"
	kill -9 "$(cluster_pid 2)"
	sleep 1
	cluster_join 2 "${AGENT_FLAGS[@]}" || fail "faults_agent_restart_$r" "$(tail -3 "$T/up2.out")"
done
KC -n demo scale deployment php-echo --replicas 4 >/dev/null 2>&1
if wait_s 90 n_running node2 1 4 && wait_s 30 traces_match; then
	pass "faults_agent_kill_no_leak_no_duplicate ($(node2_traces); $(nft_ips | wc -l) pod addresses in nft, all live)"
else
	fail faults_agent_kill_no_leak_no_duplicate "$(node2_traces) (per pod before: $PER_POD); stale nft addresses: $(stale_nft_ips | tr '\n' ' '); running: $(running | tr '\n' ' ')"
fi
# kill -9 of node1 (server + its agent in one process) and `up` again
kill -9 "$(cluster_pid 1)"
sleep 1
cluster_up_server --node-monitor-grace-period 4s --pod-eviction-timeout 6s "${AGENT_FLAGS[@]}" ||
	fail faults_server_agent_restart "$(tail -3 "$T/up1.out")"
if wait_s 90 n_running node2 1 4; then pass "faults_both_killed_pods_kept ($(running | awk '{print $1}' | sort | uniq -c | tr '\n' ' '))"
else fail faults_both_killed_pods_kept "$(running | tr '\n' ' ')"; fi
# node2 lost for good: its pods come back on node1 within 60 s
kill -9 "$(cluster_pid 2)"
t0=$(date +%s)
all_on_node1() { [ "$(running | awk '$1 == "node1"' | wc -l)" == 4 ] && [ "$(running | wc -l)" == 4 ]; }
if wait_s 60 all_on_node1; then pass "faults_node_lost_pods_back_elsewhere ($(($(date +%s) - t0)) s)"
else fail faults_node_lost_pods_back_elsewhere "after $(($(date +%s) - t0)) s: $(running | tr '\n' ' ')"; fi
echo "# part 3 done after $((SECONDS - START)) s"
done_testing
