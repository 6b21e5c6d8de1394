#!/bin/bash
# NetworkPolicy programming, side by side in one run, in a network namespace owned
# by this script (removed on exit):
#   pkg/netpol (netlink batch, bench/netpol/npbench.c): 1,000 policies over 10,000
#   synthetic pods (100 namespaces, all pods on this node: the worst case), the
#   full program (shared peer sets: one set per selector, not per rule), then one
#   pod's label change as the runner takes it (the kept model's update + the
#   element diff of the sets it touched);
#   iptables-legacy-restore of an equivalent ruleset (a chain per policy, a rule per
#   subject and per peer pod, as iptables policy agents without ipset write it), and
#   of the chains that one label change rewrites (--noflush).
# Anchors: DESIGN "Data plane notes" (iptables-legacy-restore 1.0 s for 10k x 3
# services); a change should cost a few set elements, milliseconds.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=$ROOT/build/bench/netpol/npbench
T=$(mktemp -d /tmp/minik8s-bench-netpol.XXXXXX)
NS=mknpb$$
cleanup() { ip netns del "$NS" 2>/dev/null; ip netns del "$NS-i" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x "$BIN" ] || { echo "missing $BIN (make)"; exit 1; }
command -v iptables-legacy-restore >/dev/null || { echo "iptables-legacy-restore missing (scripts/deps.sh bench)"; exit 1; }
PODS=${NETPOL_BENCH_PODS:-10000} POLS=${NETPOL_BENCH_POLICIES:-1000}

ip netns add "$NS" || exit 1
ip -n "$NS" link add mk0 type bridge && ip -n "$NS" link set mk0 up
ip netns exec "$NS" "$BIN" --pods "$PODS" --policies "$POLS" --iptables "$T/ipt" >"$T/np.out" 2>&1
grep -q '^error' "$T/np.out" && { echo "pkg/netpol:"; cat "$T/np.out"; exit 1; }
field() { grep "^step=$1 " "$T/np.out" | sed -E "s/.* $2=([^ ]+).*/\1/"; }

ip netns add "$NS-i" || exit 1
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
t0=$(date +%s%N)
ip netns exec "$NS-i" iptables-legacy-restore <"$T/ipt" || echo "iptables-legacy-restore failed"
t1=$(date +%s%N)
ip netns exec "$NS-i" iptables-legacy-restore --noflush <"$T/ipt.change" || echo "iptables-legacy-restore --noflush failed"
t2=$(date +%s%N)
rules=$(grep -c '^-A' "$T/ipt")
chg_rules=$(grep -c '^-A' "$T/ipt.change")

echo "--- NetworkPolicy: $POLS policies over $PODS pods (all on this node)"
printf '%-36s %14s %22s\n' "" "full program" "1 pod label change"
chg_total=$(awk -v a="$(field change ms)" -v b="$(field model_change ms)" 'BEGIN { printf "%.2f", a + b }')
printf '%-36s %11s ms %19s ms   (kernel %s ms + model %s ms; full: model %s ms, %s ms CPU; %s sets, %s rules)\n' \
	"minik8s (nft sets, netlink batch)" "$(field full ms)" "$chg_total" \
	"$(field change ms)" "$(field model_change ms)" \
	"$(field model ms)" "$(field model cpu_ms)" "$(field model sets)" "$(field model rules)"
printf '%-36s %14s %22s\n' "  elements / netlink messages" "$(field full elems) / $(field full messages)" \
	"$(field change elems) / $(field change messages)"
printf '%-36s %s ms (model %s ms, %s ms CPU; tables replaced: %s messages)\n' "  one policy changed" \
	"$(field policy ms)" "$(field model_policy ms)" "$(field model_policy cpu_ms)" "$(field policy messages)"
printf '%-36s %11s ms %19s ms   (%s rules; the change rewrites %s)\n' "iptables-legacy-restore (equivalent)" \
	"$(ms "$t0" "$t1")" "$(ms "$t1" "$t2")" "$rules" "$chg_rules"
. bench/lib/report.sh
bench_row netpol "$POLS policies over $PODS pods, full program" "$(field full ms)" ms "$(ms "$t0" "$t1")" \
	"iptables-legacy-restore, same" lower
bench_row netpol "1 pod label change" "$chg_total" ms "$(ms "$t1" "$t2")" "iptables-legacy-restore --noflush" lower
