#!/bin/bash
# "Nothing lost, nobody in": one process per data dir and run dir (lock files), no
# shared API port (no SO_REUSEPORT); dryRun honoured by every mutating verb of every
# served kind (curl table and kubectl --dry-run=server), nothing written; invalid
# UTF-8 never stored nor emitted; errors of the HTTP layer (414, 431, 413) are
# Kubernetes Status objects. tests/e2e/safety_reaper.sh covers the agent's crash.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60
KUBECTL=${KUBECTL:-/usr/bin/kubectl}
start_server --disable-controllers || { fail server_start "minik8s server did not start"; exit 1; }

CORE=/api/v1
APPS=/apis/apps/v1
MERGE=(-H 'Content-Type: application/merge-patch+json')

# ---- one process per data dir / run dir / port ------------------------------------------
P2=$(free_port)
out=$(timeout 30 "$MINIK8S" server --data-dir "$DATA" --bind-address 127.0.0.1 --https-listen-port "$P2" \
	--write-kubeconfig "$T/kc2" --disable-agent --disable-controllers 2>&1)
rc=$?
expect_eq lock_second_server_exits_1 "$rc" 1
expect_contains lock_second_server_message "$out" "data dir $DATA is in use by pid $SERVER_PID"
check lock_second_server_wrote_no_kubeconfig test ! -e "$T/kc2"
expect_eq lock_file_holds_pid "$(tr -d '\n' <"$DATA/lock")" "$SERVER_PID"
# the first server still serves and writes normally
api_json POST $CORE/namespaces '{"metadata":{"name":"lock-probe"}}'
expect_code lock_first_server_still_writes 201

# the same port with another data dir: a clear "address in use", not a shared port
out=$(timeout 30 "$MINIK8S" server --data-dir "$T/data2" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
	--write-kubeconfig "$T/kc3" --disable-agent --disable-controllers 2>&1)
expect_eq same_port_exits_1 "$?" 1
expect_contains same_port_message "$out" "listen on 127.0.0.1:$PORT: Address already in use"
creates_ok=0
for i in 1 2 3 4 5 6; do
	api_json POST $CORE/namespaces "{\"metadata\":{\"name\":\"port-probe-$i\"}}"
	[ "$HTTP_CODE" == 201 ] && creates_ok=$((creates_ok + 1))
done
expect_eq same_port_creates_all_succeed "$creates_ok" 6

# the agent's run dir: a second agent on it exits with the holder's pid
mkdir -p "$T/run"
python3 -c 'import fcntl, os, sys, time
f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); f.write("%d\n" % os.getpid()); f.flush()
time.sleep(60)' "$T/run/lock" &
HOLDER=$!
_PIDS+=("$HOLDER")
holding() { grep -q "FLOCK .* WRITE $HOLDER " /proc/locks; }
wait_until 100 holding
out=$(timeout 30 "$MINIK8S" agent --server "$API" --token x --ca-file "$CACERT" --run-dir "$T/run" \
	--data-dir "$T/agentdata" 2>&1)
expect_eq lock_run_dir_exits_1 "$?" 1
expect_contains lock_run_dir_message "$out" "run dir $T/run is in use by pid"
out=$("$MINIK8S" status --run-dir "$T/run" 2>&1)
expect_contains status_finds_lock_holder "$out" "running, pid $HOLDER"
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
out=$("$MINIK8S" status --run-dir "$T/run" 2>&1)
expect_contains status_after_holder_exit "$out" "not running"
# a crashed holder leaves its pid in the file but no lock: the next one starts
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server --disable-controllers
check lock_released_by_crash server_healthy
expect_eq lock_file_new_pid "$(tr -d '\n' <"$DATA/lock")" "$SERVER_PID"
# `up` on a data dir in use says so before starting anything
out=$(timeout 60 "$MINIK8S" up --data-dir "$DATA" --run-dir "$T/uprun" --write-kubeconfig "$T/kc4" \
	--bind-address 127.0.0.1 --https-listen-port "$(free_port)" --disable-agent 2>&1)
expect_eq lock_up_exits_1 "$?" 1
expect_contains lock_up_message "$out" "data dir $DATA is in use by pid $SERVER_PID"
check lock_up_started_nothing test ! -e "$T/uprun/minik8s.pid"
