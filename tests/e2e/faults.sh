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
. "$(dirname "$0")/../lib/lib.sh"
D=$ROOT/tests/e2e/data/faults
rounds=${FAULT_ROUNDS:-6}
curl_max_time 20
export BURST_SEED=${BURST_SEED:-$RANDOM}
echo "seed $BURST_SEED, $rounds rounds"

# ---- 1. kill -9 of the server during a burst --------------------------------------
start_server || { fail faults_server_start "server did not start"; exit 1; }
touch "$T/burst.log" "$T/watch.log"
api GET /api/v1/pods
rv0=$(jqb .metadata.resourceVersion)
python3 "$D/watcher.py" 127.0.0.1 "$PORT" "$TOKEN" "$CACERT" pods "$rv0" "$T/watch.log" "$T/stop" &
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
	local deps pods
	deps=$BODY
	api GET /api/v1/namespaces/default/pods || return 1
	pods=$BODY
	jq -n -e --argjson d "$deps" --argjson p "$pods" '
		[$d.items[] | .metadata.name as $n | .spec.replicas as $want |
		 ([$p.items[] | select(.metadata.labels.app == $n and (.metadata.deletionTimestamp | not))] | length) == $want] |
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
kill "$WATCHER" 2>/dev/null
python3 "$D/check.py" "$T/burst.log" "$T/watch.log" "$T/pods.json" "$T/deps.json"
check faults_server_healthy server_healthy
stop_server TERM
check faults_integrity_after_kills test "$(sqlite3 "$DATA/state.db" 'PRAGMA integrity_check')" == ok

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
check faults_disk_integrity test "$(sqlite3 "$DATA/state.db" 'PRAGMA integrity_check')" == ok
