#!/bin/bash
# An agent crash leaves no zombie: `minik8s up` runs the node below a child subreaper
# (PID 1 on these hosts does not reap), so after kill -9 of the node process neither
# it nor the container shims it leaves (when they exit later) stay zombies; the next
# `up` adopts the running pod. Everything runs in a network namespace of this test.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
node_init reap 192.168.79.2
KC=$KUBECONFIG
FLAGS=(--data-dir "$DATA" --run-dir "$RUN" --write-kubeconfig "$KC" --bind-address 127.0.0.1
	--https-listen-port "$PORT" --node-name reapnode --iface eth0 --cgroup-parent "$CG"
	--restart-backoff 1s,2s)
on_exit node_down
node_image
[ "$IMG" == docker.io/test/busybox:latest ] || { fail import_image "$IMG"; exit 1; }

# proc_stat PID: PS_STATE (state letter) and PS_PPID of PID from /proc/PID/stat, read
# without a fork (the scans below read every process of a loaded machine); 1 when gone
proc_stat() {
	local l
	PS_STATE='' PS_PPID=''
	read -r l 2>/dev/null <"/proc/$1/stat" || return 1
	l=${l##*) } # after the command name, which may hold ") "
	PS_STATE=${l%% *} l=${l#* }
	PS_PPID=${l%% *}
}
# proc_state PID: the state letter of PID ("" when it is gone)
proc_state() { proc_stat "$1"; echo "$PS_STATE"; }
proc_ppid() { proc_stat "$1"; echo "$PS_PPID"; }
# proc_comm PID: sets PS_COMM, its command name; 1 when gone
proc_comm() { PS_COMM=''; read -r PS_COMM 2>/dev/null <"/proc/$1/comm"; }
# shims: pids of processes named minik8s-shim whose parent is $1
shims_of() {
	local p
	for p in /proc/[0-9]*; do
		proc_comm "${p#/proc/}" && [ "$PS_COMM" == minik8s-shim ] || continue
		proc_stat "${p#/proc/}" && [ "$PS_PPID" == "$1" ] && echo "${p#/proc/}"
	done
}
# zombies named minik8s-shim or minik8s among PIDS
zombies_among() {
	local p
	for p in "$@"; do [ "$(proc_state "$p")" == Z ] && echo "$p"; done
}
K=("${IN[@]}" "$MINIK8S" kubectl --kubeconfig "$KC")
pod_running() { [ "$("${K[@]}" get pod "$1" -o json 2>/dev/null | jq -r .status.phase)" == Running ]; }

OUT=$("${IN[@]}" "$MINIK8S" up "${FLAGS[@]}" 2>&1)
check reaper_up test $? -eq 0 || echo "$OUT"
NODE=$(cat "$RUN/minik8s.pid")
"${K[@]}" run sleeper --image=docker.io/test/busybox:latest --image-pull-policy=Never --command -- sleep 3600 >/dev/null 2>&1
"${K[@]}" run sleeper2 --image=docker.io/test/busybox:latest --image-pull-policy=Never --command -- sleep 3600 >/dev/null 2>&1
wait_until 300 pod_running sleeper && wait_until 300 pod_running sleeper2
check reaper_pods_running pod_running sleeper2
SHIMS=($(shims_of "$NODE"))
expect_eq reaper_two_shims "${#SHIMS[@]}" 2
uid_before=$("${K[@]}" get pod sleeper -o json | jq -r .metadata.uid)
ctr_before=$(runc --root "$RUN/runc" list -q 2>/dev/null | sort | tr '\n' ' ')

# ---- the node process dies hard ----
kill -9 "$NODE"
dead() { [ -z "$(proc_state "$NODE")" ]; }
wait_until 100 dead
check reaper_node_not_zombie dead
REAPER=$(proc_ppid "${SHIMS[0]}")
expect_eq reaper_adopts_shims "$(cat "/proc/$REAPER/comm" 2>/dev/null)" minik8s-reaper
expect_eq reaper_shims_alive "$(zombies_among "${SHIMS[@]}")" ""

# ---- up again: the pods are adopted, not restarted ----
OUT=$("${IN[@]}" "$MINIK8S" up "${FLAGS[@]}" 2>&1)
check reaper_up_again test $? -eq 0 || echo "$OUT"
check reaper_pod_adopted pod_running sleeper
NODE2=$(cat "$RUN/minik8s.pid")
REAPER2=$(proc_ppid "$NODE2")
expect_eq reaper_above_new_node "$(cat "/proc/$REAPER2/comm" 2>/dev/null)" minik8s-reaper
expect_eq reaper_same_pod "$("${K[@]}" get pod sleeper -o json | jq -r .metadata.uid)" "$uid_before"
expect_eq reaper_same_containers "$(runc --root "$RUN/runc" list -q 2>/dev/null | sort | tr '\n' ' ')" "$ctr_before"
expect_eq reaper_no_restart "$("${K[@]}" get pod sleeper -o json | jq -r '.status.containerStatuses[0].restartCount')" 0

# ---- the adopted pods go: their shims (children of the old reaper) exit and are reaped ----
"${K[@]}" delete pod sleeper sleeper2 --grace-period=1 >/dev/null 2>&1
shims_gone() { local p; for p in "${SHIMS[@]}"; do [ -d "/proc/$p" ] && [ "$(proc_state "$p")" != Z ] && return 1; done; return 0; }
wait_until 300 shims_gone
# a reaped shim leaves /proc; give the reaper a moment, bounded, then no zombie may remain
reaped() { [ -z "$(zombies_among "${SHIMS[@]}")" ]; }
wait_until 50 reaped
expect_eq reaper_no_zombie_shims "$(zombies_among "${SHIMS[@]}")" ""
zs=$(for p in /proc/[0-9]*; do
	proc_comm "${p#/proc/}" && [ "$PS_COMM" == minik8s-shim ] && proc_stat "${p#/proc/}" &&
		[ "$PS_STATE" == Z ] && [ "$PS_PPID" == "$REAPER" ] && echo "${p#/proc/}"
done)
expect_eq reaper_none_left_below_reaper "$zs" ""
# the old reaper has no child left: it is done
reaper_done() { [ "$(proc_state "$REAPER")" == Z ] || [ -z "$(proc_state "$REAPER")" ]; }
wait_until 50 reaper_done
check reaper_exits_when_alone reaper_done

OUT=$("${IN[@]}" "$MINIK8S" down --run-dir "$RUN" 2>&1)
check reaper_down test $? -eq 0
# down returns once the node's reaper is done too: nothing of the node keeps running
st=$(proc_state "$REAPER2")
check reaper_gone_after_down test -z "$st" -o "$st" == Z
check node_gone_after_down test -z "$(proc_state "$NODE2")"
done_testing
