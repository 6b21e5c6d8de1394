#!/bin/bash
# `minik8s up`, `status` and `down` on one node, inside a network namespace this test
# creates: up starts the whole node in the background and waits for it to be Ready,
# up again says so, a pod runs, and down removes every trace from the kernel and the
# run directory (containers, pod netns and veths, bridge, DNS address, nft table,
# mounts, cgroups); down --purge removes the state and the kubeconfig.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
node_init up 192.168.78.2
KC=$KUBECONFIG
FLAGS=(--data-dir "$DATA" --run-dir "$RUN" --write-kubeconfig "$KC" --bind-address 127.0.0.1
	--https-listen-port "$PORT" --node-name upnode --iface eth0 --cgroup-parent "$CG"
	--restart-backoff 1s,2s)
on_exit node_down
node_image
[ "$IMG" == docker.io/test/busybox:latest ] || { fail import_image "$IMG"; exit 1; }

# ---- up ----
OUT=$("${IN[@]}" "$MINIK8S" up "${FLAGS[@]}" 2>&1)
check up_succeeds test $? -eq 0
expect_match up_reports_ready "$OUT" "minik8s is up \(pid [0-9]+\)"
expect_match up_shows_steps "$OUT" "waiting for node upnode to be Ready"
expect_match up_prints_join "$OUT" "minik8s up --server https://.*--token"
expect_eq kubeconfig_mode "$(stat -c %a "$KC")" 600
OUT=$("${IN[@]}" "$MINIK8S" up "${FLAGS[@]}" 2>&1)
expect_match up_again_is_idempotent "$OUT" "already up"
OUT=$("${IN[@]}" "$MINIK8S" status --run-dir "$RUN" --kubeconfig "$KC" 2>&1)
expect_match status_running "$OUT" "running, pid [0-9]+"
expect_match status_node_ready "$OUT" "node upnode +Ready +10\.244\."
expect_match status_components "$OUT" "components: apiserver, store, scheduler\+controllers, agent, balancer, dns"

# ---- a pod, so there is something to clean ----
K=("${IN[@]}" "$MINIK8S" kubectl --kubeconfig "$KC")
"${K[@]}" run sleeper --image=docker.io/test/busybox:latest --image-pull-policy=Never --command -- sleep 3600 >/dev/null 2>&1
ok=0
for _ in $(seq 150); do
	[ "$("${K[@]}" get pod sleeper -o json 2>/dev/null | jq -r .status.phase)" == Running ] && { ok=1; break; }
	sleep 0.2
done
check pod_running test $ok -eq 1 || "${K[@]}" get pod sleeper -o yaml 2>&1 | tail -30
check has_container test -n "$(runc --root "$RUN/runc" list -q 2>/dev/null)"
check has_bridge ip -n "$NS" link show mk0
check has_nft_table "${IN[@]}" nft list table ip minik8s
check has_dns_address sh -c "ip -n $NS -o addr | grep -q 10.96.0.10/32"
got=$("${K[@]}" get node upnode -o json 2>/dev/null | jq -r '.status.addresses[] | select(.type=="InternalIP") | .address')
expect_eq iface_gives_node_ip "$got" 192.168.78.2

# ---- down ----
OUT=$("${IN[@]}" "$MINIK8S" down --run-dir "$RUN" 2>&1)
check down_succeeds test $? -eq 0
expect_match down_reports "$OUT" "minik8s stopped"
check down_no_run_dir test ! -e "$RUN"
check down_no_bridge sh -c "! ip -n $NS link show mk0 >/dev/null 2>&1"
check down_no_veths test -z "$(ip -n "$NS" -o link show type veth | grep -v eth0)"
check down_no_nft_table sh -c "! ${IN[*]} nft list table ip minik8s >/dev/null 2>&1"
check down_no_dns_address sh -c "! ip -n $NS -o addr | grep -q 10.96.0.10"
check down_no_mounts sh -c "! grep -q ' $T/' /proc/mounts"
check down_no_cgroups test -z "$(find /sys/fs/cgroup -maxdepth 2 -type d -name "${CG#/}" 2>/dev/null)"
check down_keeps_state test -f "$DATA/state.db"
OUT=$("${IN[@]}" "$MINIK8S" status --run-dir "$RUN" 2>&1)
check status_after_down sh -c "echo '$OUT' | grep -q 'not running'"

# ---- up again on the same state, then down --purge ----
OUT=$("${IN[@]}" "$MINIK8S" up "${FLAGS[@]}" 2>&1)
check up_after_down test $? -eq 0
got=$("${K[@]}" get pod sleeper -o name 2>&1)
expect_eq state_survives_down "$got" "pod/sleeper"
OUT=$("${IN[@]}" "$MINIK8S" down --run-dir "$RUN" --purge 2>&1)
check purge_succeeds test $? -eq 0
check purge_removes_data test ! -e "$DATA"
check purge_removes_kubeconfig test ! -e "$KC"
OUT=$("$MINIK8S" down --bogus 2>&1)
expect_eq down_usage_error "$?" 2
done_testing
