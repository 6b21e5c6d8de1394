#!/bin/bash
# Failover time (issue 17): the lab of tests/lib/failover.sh on etcd (3 members, one
# per node; servers on nodes 1 and 2 sharing one cluster identity; the agent on node 3
# with --server LEADER,OTHER). Each round kills -9 the server holding the controllers'
# Lease and measures, from the kill:
#   - the first write acknowledged through the other server (a ConfigMap POST,
#     retried every ~0.1 s), beside the same POST's time with both servers up
#   - the first controller action: a pod created right after that write is bound to
#     the node (spec.nodeName set by the scheduler, which runs on the Lease holder only)
# then starts the killed server again (it comes back as the follower), so the next
# round kills the other one. Printed beside the anchor, client-go's default
# leader-election lease (LeaseDuration 15 s, RenewDeadline 10 s, RetryPeriod 2 s),
# which minik8s's Lease keeps: a new leader needs the old Lease to expire first.
# Needs root; everything lives in namespaces and dirs of its own, removed on exit.
# Called by bench/cluster/run.sh; alone: bench/cluster/failover.sh [ROUNDS] (default 3).
. "$(dirname "$0")/../../tests/lib/lib.sh"
. "$ROOT/tests/lib/etcd.sh"
. "$ROOT/tests/lib/failover.sh"
. "$ROOT/bench/lib/report.sh"
ROUNDS=${1:-3}
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
[ "$(id -u)" = 0 ] || { echo "bench/cluster/failover: needs root" >&2; exit 1; }
row() { printf '  %-52s %14s   %s\n' "$1" "$2" "$3"; }
die() { echo "bench/cluster/failover: $*" >&2; FAILOVER_E2E_LOGS=1; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

# the lab's setup; its PASS/FAIL lines go to a log, a FAIL stops the benchmark
FO_ABORT_RC=1
{
	fo_setup etcd
	fo_etcd_start || fail etcd
	[ "$FAILED" = 0 ] && fo_servers_up && fo_agent_up
} >"$T/setup.log" 2>&1
[ "$FAILED" = 0 ] || die "setup: $(grep -a FAIL "$T/setup.log" | head -3)"

# fo_post_ms N NAME: ms of one ConfigMap POST through server N, "-" unless 201
post_ms() {
	local t0 code
	t0=$(fo_now)
	code=$(fo_cm_create "$1" "$2" bench)
	if [ "$code" == 201 ]; then fo_ms_since "$t0"; else echo -; fi
}
BASE=()
for i in 1 2 3 4 5; do BASE+=("$(post_ms "$FO_FOLLOWER" "base-$i")"); done

bound() { [ -n "$(kjs "$1" get pod "$2" | jq -r '.spec.nodeName // empty')" ]; }
WRITE=() BIND=()
for ((r = 1; r <= ROUNDS; r++)); do
	L=$FO_LEADER F=$FO_FOLLOWER
	pid=$(cluster_pid "$L") || die "round $r: no pid for the leader node$L"
	kill -9 "$pid"
	t0=$(fo_now)
	tw=
	for ((i = 1; i <= 600; i++)); do
		[ "$(fo_cm_create "$F" "r$r-probe-$i" bench)" == 201 ] && { tw=$(fo_ms_since "$t0"); break; }
		sleep 0.1
	done
	[ -n "$tw" ] || die "round $r: no write acknowledged through node$F"
	KS "$F" run "r$r" --image=minik8s.local/echo:1 --restart=Never >/dev/null 2>&1 || die "round $r: kubectl run"
	fo_wait 600 bound "$F" "r$r" || die "round $r: pod r$r not bound"
	tb=$(fo_ms_since "$t0")
	WRITE+=("$tw") BIND+=("$tb")
	row "round $r: node$L killed -> write via node$F / pod bound" "$tw / $tb ms" ""
	KS "$F" delete pod "r$r" --grace-period=0 --force >/dev/null 2>&1
	# the killed server back (a follower now); the Lease is node F's
	cluster_up_server_on "$L" "${FO_SERVER_FLAGS[@]}" --datastore-endpoint "$(fo_store_endpoint "$L")" >/dev/null 2>&1 ||
		die "round $r: node$L's server does not start again: $(tail -3 "$T/up$L.out")"
	holder_f() { [ "$(fo_holder "$F")" == "$(fo_identity "$F")" ]; }
	fo_wait 300 holder_f || die "round $r: node$F does not hold the Lease"
	FO_LEADER=$F FO_FOLLOWER=$L
done

W50=$(printf '%s\n' "${WRITE[@]}" | median)
B50=$(printf '%s\n' "${BIND[@]}" | median)
echo "failover (etcd, 3 members; 2 servers; kill -9 of the Lease holder; $ROUNDS rounds)"
row "ConfigMap POST, both servers up (5 tries)" "${BASE[*]} ms" "(the probe's own cost: nsenter + curl)"
row "leader killed -> first write acknowledged, per round" "${WRITE[*]} ms" "(the other server serves at once)"
row "leader killed -> new pod bound, per round" "${BIND[*]} ms" "(client-go lease: 15 s duration, 2 s retry)"
row "median: first write / pod bound" "$W50 / $B50 ms" "(anchor: 15000 ms lease)"
bench_row cluster "failover: leader killed -> write via another" "$W50" ms 15000 "client-go leader lease 15 s" lower
bench_row cluster "failover: leader killed -> new pod bound" "$B50" ms 15000 "client-go leader lease 15 s" lower
exit 0
