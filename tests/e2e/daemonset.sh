#!/bin/bash
# DaemonSets on a real multi-node cluster: nodes are network namespaces on one
# machine (tests/lib/cluster.sh), node 1 the server, nodes 2 and 3 joined; real runc
# pods, the real kubectl inside node 1's namespace.
# Covers: examples/daemonset.yaml -> one Running pod on each of the 3 nodes, the
# `kubectl get ds` columns (and -o wide); a 4th node that joins gets its pod; a
# nodeSelector'd DaemonSet only on the labelled nodes, not on the labelled node
# with an untolerated NoSchedule taint until the template tolerates it; `kubectl
# set env` + `kubectl rollout status ds/...` replacing every pod (the new env seen
# in the pods' logs; the NoSchedule-tainted node's old pod not replaced);
# `kubectl delete ds` removing the pods; bad manifests -> 422
# naming the field (selector vs template labels, maxUnavailable and maxSurge both 0).
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=4
CL_ID=mkds$$
CL_NET=192.168.243
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

if [ "$(id -u)" != 0 ]; then fail daemonset "must run as root"; exit 0; fi
for tool in runc jq ip nsenter busybox "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail daemonset "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail daemonset "build/minik8s missing (make build/minik8s)"; exit 0; }
show_logs() {
	[ "$FAILED" = 1 ] || return 0
	local n
	for n in 1 2 3 4; do
		echo "---- node$n: up output, last log lines" >&2
		tail -n 5 "$T/up$n.out" >&2 2>/dev/null
		tail -n 20 "$T/node$n.log" >&2 2>/dev/null
	done
}
on_exit show_logs
START=$(date +%s)
elapsed() { echo "$(($(date +%s) - START))s"; }

kj() { KC "$@" -o json 2>/dev/null; }
# wait_for TRIES(0.2s) CMD...: CMD until it succeeds
wait_for() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done; return 1; }
# "node:phase" of the live pods with label $1, sorted
pods_of() {
	kj get pods -l "$1" | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)
		| "\(.spec.nodeName):\(.status.phase)"] | sort | join(" ")'
}
running_on() { [ "$(pods_of "$1")" == "$2" ]; }

# ---- a busybox image, built offline (the OCI helpers of tests/lib/mkimage.sh) ----
W=$T/img
mkdir -p "$W"
eval "$(awk 'BEGIN { split("mktar sha size layout_init blob_add layer image index_json", a, " "); for (i in a) want[a[i]] = 1 }
	/^[a-z_]+\(\) *\{/ { n = $0; sub(/\(.*/, "", n); if (want[n]) grab = 1 }
	grab { print; if ($0 ~ /^\}/ || ($0 ~ /^[a-z_]+\(\) *\{/ && $0 ~ /\}$/)) grab = 0 }' "$ROOT/tests/lib/mkimage.sh")"
# a small rootfs: busybox and the few applets the pods use (mkrootfs.sh's full set
# costs a fork per applet)
R=$W/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/proc" "$R/sys" "$R/dev" "$R/root"
cp /bin/busybox "$R/bin/busybox"
for a in sh sleep cat ls env echo; do ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$R/etc/passwd"
printf 'root:x:0:\n' >"$R/etc/group"
if layout_init "$W/oci" &&
	image "$W/oci" amd64 '{}' "$W/rootfs:gzip" && index_json "$W/oci" application/vnd.oci.image.manifest.v1+json "$M_DIGEST" "$M_SIZE" &&
	tar -C "$W/oci" --sort=name -cf "$T/busybox.tar" .; then
	:
else
	fail "busybox image built"; exit 0
fi

echo "# 3 nodes; the 4th joins later ($(elapsed))"
# ---- 3 nodes; the 4th joins later ----
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
for n in 1 2 3 4; do
	cluster_import "$n" --name busybox "$T/busybox.tar" >"$T/import$n.log" 2>&1 ||
		fail "image import node$n" "$(tail -2 "$T/import$n.log")"
done
FLAGS=(--node-status-update-frequency 1s)
cluster_up_server "${FLAGS[@]}" || { fail "node1: minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }
cluster_join 2 "${FLAGS[@]}" & J2=$!
cluster_join 3 "${FLAGS[@]}" & J3=$!
wait $J2 || fail "node2 joins" "$(tail -5 "$T/up2.out")"
wait $J3 || fail "node3 joins" "$(tail -5 "$T/up3.out")"
expect_eq "3 nodes Ready" "$(kj get nodes | jq -r '[.items[] | select(any(.status.conditions[]; .type=="Ready" and .status=="True"))
	| .metadata.name] | sort | join(" ")')" "node1 node2 node3"

echo "# the example: one pod per node ($(elapsed))"
# ---- the example: one pod per node ----
out=$(KC apply --dry-run=server -f "$ROOT/examples/daemonset.yaml" 2>&1)
expect_eq "kubectl apply --dry-run=server" "$out" "daemonset.apps/node-agent created (server dry run)"
expect_match "the dry run stored nothing" "$(KC get ds node-agent 2>&1)" "NotFound|not found"
expect_match "kubectl explain ds.spec.updateStrategy.rollingUpdate" \
	"$(KC explain ds.spec.updateStrategy.rollingUpdate 2>&1)" "maxSurge.*<IntOrString>"
out=$(KC apply -f "$ROOT/examples/daemonset.yaml" 2>&1)
expect_eq "kubectl apply -f examples/daemonset.yaml" "$out" "daemonset.apps/node-agent created"
if wait_for 300 running_on app=node-agent "node1:Running node2:Running node3:Running"; then
	pass "one Running node-agent pod on each of node1..3"
else
	fail "one Running node-agent pod on each of node1..3" "$(pods_of app=node-agent)"
fi
ds_counts() { kj get ds node-agent | jq -r '.status | "\(.desiredNumberScheduled) \(.currentNumberScheduled) \(.numberReady) \(.updatedNumberScheduled) \(.numberAvailable)"'; }
wait_for 50 eval '[ "$(ds_counts)" == "3 3 3 3 3" ]'
expect_match "kubectl get ds: columns and counts" "$(KC get ds 2>&1)" \
	"^NAME +DESIRED +CURRENT +READY +UP-TO-DATE +AVAILABLE +NODE SELECTOR +AGE"$'\n'"node-agent +3 +3 +3 +3 +3 +<none> +[0-9]+s"
expect_match "kubectl get ds -o wide: containers, images, selector" "$(KC get ds -o wide 2>&1)" \
	"CONTAINERS +IMAGES +SELECTOR"$'\n'"node-agent .* agent +busybox:latest +app=node-agent"
expect_match "kubectl get daemonsets.apps by its short name ds/" "$(KC get ds/node-agent -o name 2>&1)" "^daemonset.apps/node-agent$"
POD1=$(kj get pods -l app=node-agent | jq -r '.items[] | select(.spec.nodeName=="node2") | .metadata.name')
expect_match "a pod's log: its node and version" "$(KC logs "$POD1" 2>&1)" "node-agent 1 on node2"
OWNER=$(kj get pod "$POD1" | jq -r '.metadata.ownerReferences[0] | "\(.kind)/\(.name) \(.controller)"')
expect_eq "pods are owned by the DaemonSet" "$OWNER" "DaemonSet/node-agent true"

echo "# a node that joins gets its pod ($(elapsed))"
# ---- a node that joins gets its pod ----
if cluster_join 4 "${FLAGS[@]}"; then pass "node4 joins, Ready"; else fail "node4 joins" "$(tail -5 "$T/up4.out")"; fi
if wait_for 150 running_on app=node-agent "node1:Running node2:Running node3:Running node4:Running"; then
	pass "the joined node4 gets its node-agent pod, Running"
else
	fail "node4 gets its pod" "$(pods_of app=node-agent)"
fi

echo "# nodeSelector and taints ($(elapsed))"
# ---- nodeSelector and taints ----
KC label node node2 node3 edge=yes >/dev/null 2>&1 || fail "label nodes"
KC taint node node3 dedicated=infra:NoSchedule >/dev/null 2>&1 || fail "taint node3"
cat >"$T/edge.yaml" <<'EOF'
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: edge
spec:
  selector:
    matchLabels: {app: edge}
  template:
    metadata:
      labels: {app: edge}
    spec:
      nodeSelector: {edge: "yes"}
      terminationGracePeriodSeconds: 2
      containers:
      - name: c
        image: busybox:latest
        imagePullPolicy: IfNotPresent
        command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
EOF
KC apply -f "$T/edge.yaml" >/dev/null 2>&1 || fail "apply edge DaemonSet"
if wait_for 150 running_on app=edge "node2:Running"; then
	pass "nodeSelector edge=yes: a pod on node2 only (node3 has an untolerated NoSchedule taint)"
else
	fail "nodeSelector + taint" "$(pods_of app=edge)"
fi
expect_match "kubectl get ds edge: NODE SELECTOR edge=yes, 1 desired" "$(KC get ds edge 2>&1)" "edge +1 +1 +[01] +1 +[01] +edge=yes"
expect_match "kubectl describe ds edge" "$(KC describe ds edge 2>&1)" \
	"Node-Selector: +edge=yes.*Desired Number of Nodes Scheduled: 1"
out=$(KC patch ds edge --type=json -p '[{"op":"replace","path":"/spec/selector/matchLabels/app","value":"x"}]' 2>&1)
expect_match "json patch of the selector: immutable (422)" "$out" 'spec.selector: Invalid value: .*field is immutable'
KC patch ds edge --type=merge -p '{"spec":{"template":{"spec":{"tolerations":[{"key":"dedicated","operator":"Equal","value":"infra","effect":"NoSchedule"}]}}}}' >/dev/null 2>&1 ||
	fail "patch edge with a toleration"
if wait_for 150 running_on app=edge "node2:Running node3:Running"; then
	pass "with the toleration: pods on node2 and the tainted node3"
else
	fail "toleration lets the pod onto node3" "$(pods_of app=edge)"
fi

echo "# rolling update: kubectl set env + rollout status ($(elapsed))"
# ---- rolling update: kubectl set env + rollout status ----
OLD=$(kj get pods -l app=node-agent | jq -r '[.items[].metadata.name] | sort | join(" ")')
KC set env ds/node-agent VERSION=2 >/dev/null 2>&1 || fail "kubectl set env ds/node-agent"
out=$(KC rollout status ds/node-agent --timeout=80s 2>&1)
expect_match "kubectl rollout status ds/node-agent completes" "$out" 'daemon set "node-agent" successfully rolled out'
# node3 got its NoSchedule taint after its pod started: the old pod could stay
# there, but the rollout replaces it and the new one may not be placed (as upstream)
NEW=$(kj get pods -l app=node-agent | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)
	| .spec.nodeName] | sort | join(" ")')
expect_eq "after the rollout: new pods on node1 node2 node4, none on the tainted node3" "$NEW" "node1 node2 node4"
LEFT=$(kj get pods -l app=node-agent | jq -r --arg old "$OLD" '[.items[] | select(.metadata.deletionTimestamp == null)
	| .metadata.name | select(. as $n | $old | split(" ") | index($n))] | length')
expect_eq "every old pod was replaced" "$LEFT" 0
P4=$(kj get pods -l app=node-agent | jq -r '.items[] | select(.metadata.deletionTimestamp == null and .spec.nodeName=="node4") | .metadata.name')
logs_v2() { [[ "$(KC logs "$P4" 2>/dev/null)" == *"node-agent 2 on node4"* ]]; }
wait_for 50 logs_v2
expect_match "the new pod on node4 runs VERSION=2" "$(KC logs "$P4" 2>&1)" "node-agent 2 on node4"
HASHES=$(kj get pods -l app=node-agent | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)
	| .metadata.labels["controller-revision-hash"]] | unique | length')
expect_eq "the new pods share one controller-revision-hash" "$HASHES" 1

echo "# delete: the garbage collector removes the pods ($(elapsed))"
# ---- delete: the garbage collector removes the pods ----
KC delete ds node-agent >/dev/null 2>&1 || fail "kubectl delete ds node-agent"
gone() { [ "$(kj get pods -l app=node-agent | jq '.items | length')" == 0 ]; }
if wait_for 200 gone; then pass "kubectl delete ds: its pods are gone"
else fail "kubectl delete ds removes the pods" "$(pods_of app=node-agent)"; fi

echo "# bad manifests: 422 naming the field ($(elapsed))"
# ---- bad manifests: 422 naming the field ----
bad() {
	sed -e "s/@SEL@/$1/" -e "s/@STRATEGY@/$2/" <<'EOF'
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: bad
spec:
  selector:
    matchLabels: {app: @SEL@}
  updateStrategy: @STRATEGY@
  template:
    metadata:
      labels: {app: bad}
    spec:
      containers:
      - name: c
        image: busybox:latest
EOF
}
bad other '{type: RollingUpdate}' >"$T/bad1.yaml"
out=$(KC create -f "$T/bad1.yaml" -v=6 2>&1)
expect_match "selector not matching the template: 422" "$out" "POST https://[^ ]*/apis/apps/v1/namespaces/default/daemonsets[^ ]* 422 "
expect_match "... naming spec.template.metadata.labels" "$out" \
	'The DaemonSet "bad" is invalid: spec.template.metadata.labels: Invalid value: .*`selector` does not match template `labels`'
bad bad '{type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 0}}' >"$T/bad2.yaml"
out=$(KC create -f "$T/bad2.yaml" 2>&1)
expect_match "maxUnavailable and maxSurge both 0: the field named" "$out" \
	'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0'
bad bad '{type: Sometimes}' >"$T/bad3.yaml"
out=$(KC create -f "$T/bad3.yaml" 2>&1)
expect_match "unknown updateStrategy.type: Unsupported value" "$out" \
	'spec.updateStrategy.type: Unsupported value: "Sometimes": supported values: "OnDelete", "RollingUpdate"'
expect_match "no bad DaemonSet was stored" "$(KC get ds bad 2>&1)" 'NotFound|not found'

echo "# end ($(elapsed))"
done_testing
