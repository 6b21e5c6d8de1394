#!/bin/bash
# End-to-end: the scheduler and controllers inside `minik8s server`, driven with the real
# kubectl and curl. Nodes are Node objects this script creates, with a Ready condition and
# a heartbeat it refreshes; "the kubelet" is simulated by this script too (kubelet_sync: a
# bound pod gets an IP, phase Running and, when asked, Ready=True; a pod being deleted is
# confirmed with gracePeriodSeconds=0) because the node agent is not part of this test.
# Covers: deployment -> replicaset -> pods (names, owners, spread), scale via kubectl and
# the scale subresource, status and `kubectl rollout status`, rolling update without loss
# of availability, revisions, rollout undo/history, cascading deletion (background,
# foreground, orphan), namespace deletion, endpoints (ready / not ready, named ports),
# services without selector, unschedulable pods, node heartbeat loss -> NotReady -> eviction
# and rescheduling, kill -9 + restart in the middle of a rollout, events.
. "$(dirname "$0")/../lib/lib.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
curl_max_time 20
GRACE=6s # heartbeats are sent every second; room for a loaded machine
EVICT=4s
start_server --node-monitor-grace-period $GRACE --pod-eviction-timeout $EVICT ||
	{ fail server_start "minik8s server did not start"; exit 1; }
command -v kubectl >/dev/null || { fail kubectl "kubectl not installed"; exit 1; }
K() { timeout 30 kubectl "$@"; }

MERGE=(-H 'Content-Type: application/merge-patch+json')
SMP=(-H 'Content-Type: application/strategic-merge-patch+json')
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# ---- fake nodes with a heartbeat ---------------------------------------------------------
mknode() {
	local ts; ts=$(now)
	api_json POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"kubernetes.io/hostname\":\"$1\"}},\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"ok\",\"lastHeartbeatTime\":\"$ts\",\"lastTransitionTime\":\"$ts\"}]}}"
	echo "$1" >>"$T/hb-nodes"
}
# heartbeats: every second, for the nodes listed in $T/hb-nodes (bounded: 20 minutes)
heartbeat_loop() {
	local i n ts
	for ((i = 0; i < 1200; i++)); do
		ts=$(now)
		for n in $(cat "$T/hb-nodes" 2>/dev/null); do
			curl -s -m 5 --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -X PATCH "${SMP[@]}" \
				--data "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"ok\",\"lastHeartbeatTime\":\"$ts\"}]}}" \
				-o /dev/null "$API/api/v1/nodes/$n/status"
		done
		sleep 1
	done
}
for n in n1 n2 n3; do mknode $n; done
heartbeat_loop &
_PIDS+=($!)

# ---- the simulated kubelet ---------------------------------------------------------------
IPN=10
# kubelet_sync NS [READY]: bound pods without IP get one (+ Running, Ready=READY);
# terminating pods are confirmed deleted
kubelet_sync() {
	local ns=$1 ready=${2:-True} line name node ip dt
	api GET "/api/v1/namespaces/$ns/pods"
	jq -r '.items[] | [.metadata.name, (.spec.nodeName // ""), (.status.podIP // ""), (.metadata.deletionTimestamp // "")] | join("|")' <<<"$BODY" >"$T/.pods"
	while IFS='|' read -r name node ip dt; do
		if [ -n "$dt" ]; then
			api DELETE "/api/v1/namespaces/$ns/pods/$name" -H 'Content-Type: application/json' --data '{"gracePeriodSeconds":0}'
		elif [ -n "$node" ] && [ -z "$ip" ]; then
			IPN=$((IPN + 1))
			set_pod "$ns" "$name" "$ready" "10.244.$((IPN / 250)).$((IPN % 250 + 2))"
		fi
	done <"$T/.pods"
}
# set_pod NS NAME READY [IP]: the status a kubelet would write
set_pod() {
	local ts; ts=$(now)
	local ipj=""
	[ -n "${4:-}" ] && ipj="\"podIP\":\"$4\",\"podIPs\":[{\"ip\":\"$4\"}],"
	api_json PATCH "/api/v1/namespaces/$1/pods/$2/status" "{\"status\":{$ipj\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"$3\",\"lastTransitionTime\":\"$ts\"},{\"type\":\"ContainersReady\",\"status\":\"$3\",\"lastTransitionTime\":\"$ts\"}]}}" "${SMP[@]}"
}
# active NS SELECTOR: names of pods not being deleted
active() { K get pods -n "$1" -l "$2" -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name] | sort | join(" ")'; }
nactive() { K get pods -n "$1" -l "$2" -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null)] | length'; }
# wait_for SECONDS CMD...: runs CMD (and kubelet_sync default) every 0.2 s until it succeeds
wait_for() {
	local n=$(($1 * 5)) i; shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		kubelet_sync "${WNS:-default}" "${WREADY:-True}"
		sleep 0.2
	done
	return 1
}
count_is() { [ "$(nactive "$1" "$2")" == "$3" ]; }

# ---- deployment -> replicaset -> pods -------------------------------------------------------
K create deployment web --image=registry.local/web:1 --replicas=3 >/dev/null
WREADY=False
if wait_for 15 count_is default app=web 3; then pass deploy_creates_3_pods; else fail deploy_creates_3_pods "$(active default app=web)"; fi
RS1=$(K get rs -l app=web -o jsonpath='{.items[0].metadata.name}')
expect_match rs_name "$RS1" '^web-[bcdfghjklmnpqrstvwxz2456789]{1,10}$'
HASH=${RS1#web-}
expect_eq rs_hash_label "$(K get rs "$RS1" -o jsonpath='{.metadata.labels.pod-template-hash}')" "$HASH"
expect_eq rs_owner "$(K get rs "$RS1" -o json | jq -r '.metadata.ownerReferences[0] | "\(.kind)/\(.name)/\(.controller)/\(.blockOwnerDeletion)"')" "Deployment/web/true/true"
expect_eq rs_revision "$(K get rs "$RS1" -o json | jq -r '.metadata.annotations["deployment.kubernetes.io/revision"]')" 1
PODS=$(K get pods -l app=web -o json)
bad=$(jq -r --arg rs "$RS1" '[.items[] | select((.metadata.name | test("^" + $rs + "-[bcdfghjklmnpqrstvwxz2456789]{5}$")) | not)] | length' <<<"$PODS")
expect_eq pod_names "$bad" 0
expect_eq pod_owners "$(jq -r --arg rs "$RS1" '[.items[].metadata.ownerReferences[] | select(.kind == "ReplicaSet" and .name == $rs and .controller and .blockOwnerDeletion)] | length' <<<"$PODS")" 3
expect_eq pod_hash_label "$(jq -r '[.items[].metadata.labels["pod-template-hash"]] | unique | join(",")' <<<"$PODS")" "$HASH"
wait_for 10 bash -c '[ "$(kubectl get pods -l app=web -o json | jq "[.items[] | select(.spec.nodeName != null)] | length")" == 3 ]'
PODS=$(K get pods -l app=web -o json)
expect_eq pods_spread_over_3_nodes "$(jq -r '[.items[].spec.nodeName] | unique | join(",")' <<<"$PODS")" "n1,n2,n3"
expect_eq pod_scheduled_condition "$(jq -r '[.items[].status.conditions[] | select(.type == "PodScheduled") | .status] | unique | join(",")' <<<"$PODS")" "True"

# ---- status and rollout status ----------------------------------------------------------------
WREADY=True
for p in $(active default app=web); do set_pod default "$p" True "10.244.0.$((IPN++))"; done
ready3() { [ "$(K get deploy web -o jsonpath='{.status.readyReplicas}/{.status.availableReplicas}/{.status.updatedReplicas}')" == "3/3/3" ]; }
if wait_for 15 ready3; then pass deploy_status_ready; else fail deploy_status_ready "$(K get deploy web -o json | jq -c .status)"; fi
expect_match kubectl_get_deploy "$(K get deploy web --no-headers)" '^web +3/3 +3 +3 '
if K rollout status deploy/web --timeout=20s >"$T/rs.out" 2>&1; then pass rollout_status; else fail rollout_status "$(cat "$T/rs.out")"; fi
st=$(K get deploy web -o json)
expect_eq deploy_conditions "$(jq -r '[.status.conditions[] | "\(.type)=\(.status)/\(.reason)"] | sort | join(",")' <<<"$st")" "Available=True/MinimumReplicasAvailable,Progressing=True/NewReplicaSetAvailable"
expect_eq deploy_observed_generation "$(jq -r '.status.observedGeneration == .metadata.generation' <<<"$st")" true
expect_eq rs_status "$(K get rs "$RS1" -o jsonpath='{.status.replicas}/{.status.readyReplicas}/{.status.availableReplicas}/{.status.fullyLabeledReplicas}')" "3/3/3/3"

# ---- scaling: kubectl scale and the scale subresource -------------------------------------------
K scale deploy web --replicas=5 >/dev/null
if wait_for 15 count_is default app=web 5; then pass scale_up_5; else fail scale_up_5 "$(active default app=web)"; fi
api_json PATCH /apis/apps/v1/namespaces/default/deployments/web/scale '{"spec":{"replicas":1}}' "${MERGE[@]}"
expect_code scale_subresource_patch 200
if wait_for 15 count_is default app=web 1; then pass scale_down_1; else fail scale_down_1 "$(active default app=web)"; fi
K scale deploy web --replicas=3 >/dev/null
if wait_for 15 ready3; then pass scale_back_3_ready; else fail scale_back_3_ready "$(K get deploy web -o json | jq -c .status)"; fi
if wait_for 10 count_is default app=web 3; then pass scale_back_3_pods; else fail scale_back_3_pods "$(active default app=web)"; fi
ev=$(K get events -o json)
for r in Scheduled SuccessfulCreate SuccessfulDelete ScalingReplicaSet; do
	expect_eq "event_$r" "$(jq -r --arg r "$r" '[.items[] | select(.reason == $r)] | length > 0' <<<"$ev")" true
done
expect_match event_scaling_message "$(jq -r '[.items[] | select(.reason == "ScalingReplicaSet") | .message] | join(";")' <<<"$ev")" "Scaled down replica set $RS1 from 5 to 1"
expect_eq event_source "$(jq -r '[.items[] | select(.reason == "Scheduled") | .source.component] | unique | join(",")' <<<"$ev")" default-scheduler

# ---- rolling update: availability never below minAvailable --------------------------------------
K set image deploy/web web=registry.local/web:2 >/dev/null
minready=99 done=0
for ((i = 0; i < 150; i++)); do
	kubelet_sync default True
	n=$(K get pods -l app=web -o json | jq '[.items[] | select(.metadata.deletionTimestamp == null and any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length')
	[ "$n" -lt "$minready" ] && minready=$n
	if [ "$(K get deploy web -o json | jq -r '[.status.updatedReplicas, .status.replicas, .status.availableReplicas, (.status.observedGeneration == .metadata.generation)] | map(tostring) | join("/")')" == "3/3/3/true" ]; then done=1; break; fi
	sleep 0.2
done
expect_eq rolling_update_completes "$done" 1
if num_cmp "$minready" ">=" 3; then pass rolling_update_keeps_availability; else fail rolling_update_keeps_availability "ready pods dropped to $minready (< 3)"; fi
if K rollout status deploy/web --timeout=20s >"$T/rs.out" 2>&1; then pass rollout_status_after_update; else fail rollout_status_after_update "$(cat "$T/rs.out")"; fi
RS2=$(K get rs -l app=web -o json | jq -r '.items[] | select(.spec.template.spec.containers[0].image == "registry.local/web:2") | .metadata.name')
expect_eq old_rs_scaled_to_0 "$(K get rs "$RS1" -o jsonpath='{.spec.replicas}')" 0
expect_eq new_rs_revision "$(K get rs "$RS2" -o json | jq -r '.metadata.annotations["deployment.kubernetes.io/revision"]')" 2
expect_eq deploy_revision "$(K get deploy web -o json | jq -r '.metadata.annotations["deployment.kubernetes.io/revision"]')" 2
expect_eq pods_all_new_image "$(K get pods -l app=web -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null) | .spec.containers[0].image] | unique | join(",")')" "registry.local/web:2"

# ---- rollout history / undo ----------------------------------------------------------------
expect_match rollout_history "$(K rollout history deploy/web 2>&1)" $'REVISION.*\n1 .*\n2 '
K rollout undo deploy/web >"$T/undo.out" 2>&1 || fail rollout_undo_cmd "$(cat "$T/undo.out")"
undone() { [ "$(K get deploy web -o json | jq -r '[.status.updatedReplicas, .status.replicas, .status.availableReplicas, (.status.observedGeneration == .metadata.generation), .spec.template.spec.containers[0].image] | map(tostring) | join("/")')" == "3/3/3/true/registry.local/web:1" ]; }
if wait_for 30 undone; then pass rollout_undo; else fail rollout_undo "$(K get deploy web -o json | jq -c .status)"; fi
expect_eq undo_reuses_rs_rev3 "$(K get rs "$RS1" -o json | jq -r '[.spec.replicas, .metadata.annotations["deployment.kubernetes.io/revision"]] | map(tostring) | join("/")')" "3/3"
expect_eq undo_old_rs_0 "$(K get rs "$RS2" -o jsonpath='{.spec.replicas}')" 0

# ---- endpoints ----------------------------------------------------------------------------------
cat >"$T/epd.json" <<'EOF'
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"api"}},
 "template":{"metadata":{"labels":{"app":"api"}},"spec":{"containers":[{"name":"c","image":"registry.local/api:1","ports":[{"name":"http","containerPort":8080}]}]}}}}
EOF
K apply -f "$T/epd.json" >/dev/null
api_json POST /api/v1/namespaces/default/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"api","labels":{"tier":"x"}},"spec":{"selector":{"app":"api"},"ports":[{"name":"web","port":80,"targetPort":"http"},{"name":"raw","port":9000,"targetPort":9000}]}}'
expect_code svc_create 201
WREADY=False
ep_is() { [ "$(K get endpoints api -o json | jq -c '[.subsets[]? | {a: ([.addresses[]?.ip] | length), n: ([.notReadyAddresses[]?.ip] | length), p: ([.ports[] | "\(.name):\(.port)"] | sort)}]')" == "$1" ]; }
if wait_for 15 ep_is '[{"a":0,"n":2,"p":["raw:9000","web:8080"]}]'; then pass endpoints_not_ready; else fail endpoints_not_ready "$(K get endpoints api -o json | jq -c .subsets)"; fi
P1=$(active default app=api | cut -d' ' -f1)
set_pod default "$P1" True
if wait_for 10 ep_is '[{"a":1,"n":1,"p":["raw:9000","web:8080"]}]'; then pass endpoints_follow_readiness; else fail endpoints_follow_readiness "$(K get endpoints api -o json | jq -c .subsets)"; fi
ep=$(K get endpoints api -o json)
expect_eq endpoints_target_ref "$(jq -r '.subsets[0].addresses[0].targetRef | "\(.kind)/\(.name)"' <<<"$ep")" "Pod/$P1"
expect_eq endpoints_node_name "$(jq -r '.subsets[0].addresses[0].nodeName' <<<"$ep")" "$(K get pod "$P1" -o jsonpath='{.spec.nodeName}')"
expect_eq endpoints_labels "$(jq -r '.metadata.labels.tier' <<<"$ep")" x
set_pod default "$P1" False
if wait_for 10 ep_is '[{"a":0,"n":2,"p":["raw:9000","web:8080"]}]'; then pass endpoints_not_ready_again; else fail endpoints_not_ready_again "$(K get endpoints api -o json | jq -c .subsets)"; fi
# no selector: endpoints are the user's
api_json POST /api/v1/namespaces/default/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"ext"},"spec":{"ports":[{"port":80}]}}'
api_json POST /api/v1/namespaces/default/endpoints '{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"ext"},"subsets":[{"addresses":[{"ip":"192.0.2.1"}],"ports":[{"port":80}]}]}'
expect_code manual_endpoints 201
K scale deploy api --replicas=3 >/dev/null
wait_for 10 count_is default app=api 3
sleep 1
expect_eq endpoints_no_selector_untouched "$(K get endpoints ext -o json | jq -c '[.subsets[].addresses[].ip]')" '["192.0.2.1"]'
K delete svc api >/dev/null
if wait_for 10 bash -c '! kubectl get endpoints api >/dev/null 2>&1'; then pass endpoints_deleted_with_service; else fail endpoints_deleted_with_service "still there"; fi
K delete deploy api >/dev/null
WREADY=True

# ---- unschedulable ----------------------------------------------------------------------------
api_json POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"picky"},"spec":{"nodeSelector":{"disk":"ssd"},"containers":[{"name":"c","image":"x"}]}}'
cond() { K get pod picky -o json | jq -r '.status.conditions[]? | select(.type == "PodScheduled") | "\(.status)|\(.reason)|\(.message)"'; }
want="False|Unschedulable|0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."
if wait_for 10 bash -c "[ \"\$(kubectl get pod picky -o json | jq -r '.status.conditions[]? | select(.type == \"PodScheduled\") | \"\(.status)|\(.reason)|\(.message)\"')\" == \"$want\" ]"; then pass unschedulable_condition; else fail unschedulable_condition "$(cond)"; fi
K cordon n1 >/dev/null
want2="False|Unschedulable|0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector."
if wait_for 10 bash -c "[ \"\$(kubectl get pod picky -o json | jq -r '.status.conditions[]? | select(.type == \"PodScheduled\") | \"\(.status)|\(.reason)|\(.message)\"')\" == \"$want2\" ]"; then pass unschedulable_cordoned; else fail unschedulable_cordoned "$(cond)"; fi
expect_eq failed_scheduling_event "$(K get events -o json | jq -r '[.items[] | select(.reason == "FailedScheduling" and .involvedObject.name == "picky" and .type == "Warning")] | length > 0')" true
K label node n2 disk=ssd >/dev/null
if wait_for 10 bash -c '[ "$(kubectl get pod picky -o jsonpath={.spec.nodeName})" == n2 ]'; then pass scheduled_after_node_change; else fail scheduled_after_node_change "$(cond)"; fi
K uncordon n1 >/dev/null
K delete pod picky --grace-period=0 --force >/dev/null 2>&1

# ---- cascading deletion ----------------------------------------------------------------------
mkdeploy() { K create deployment "$1" --image=registry.local/x:1 --replicas=2 >/dev/null; wait_for 15 count_is default "app=$1" 2; }
gone() { ! K get "$@" >/dev/null 2>&1; }
none_left() { [ "$(K get "$1" -l "$2" -o json | jq '.items | length')" == 0 ]; }
mkdeploy bg
K delete deploy bg >/dev/null
if wait_for 15 none_left rs app=bg && wait_for 15 none_left pods app=bg; then pass cascade_background; else fail cascade_background "$(K get rs,pods -l app=bg --no-headers 2>&1)"; fi
mkdeploy fg
api DELETE /apis/apps/v1/namespaces/default/deployments/fg -H 'Content-Type: application/json' --data '{"propagationPolicy":"Foreground"}'
expect_eq foreground_marks "$(jqb '[.metadata.deletionTimestamp != null, (.metadata.finalizers | index("foregroundDeletion") != null)] | map(tostring) | join(",")')" "true,true"
if wait_for 20 gone deploy fg && none_left rs app=fg && none_left pods app=fg; then pass cascade_foreground; else fail cascade_foreground "$(K get deploy,rs,pods -l app=fg --no-headers 2>&1; K get deploy fg -o json 2>&1 | jq -c .metadata)"; fi
mkdeploy orph
K delete deploy orph --cascade=orphan >/dev/null
if wait_for 15 gone deploy orph; then pass orphan_owner_deleted; else fail orphan_owner_deleted "$(K get deploy orph -o json | jq -c .metadata)"; fi
sleep 1
expect_eq orphan_rs_kept "$(K get rs -l app=orph -o json | jq -r '[.items[] | (.metadata.ownerReferences // [] | length)] | map(tostring) | join(",")')" "0"
expect_eq orphan_pods_kept "$(nactive default app=orph)" 2
# a deployment with the same selector adopts the orphaned replica set (and its pods)
K create deployment orph --image=registry.local/x:1 --replicas=2 >/dev/null
adopted() { [ "$(K get rs -l app=orph -o json | jq -r '[.items[] | .metadata.ownerReferences[]? | select(.kind == "Deployment" and .name == "orph")] | length')" == 1 ]; }
if wait_for 15 adopted; then pass deployment_adopts_orphan_rs; else fail deployment_adopts_orphan_rs "$(K get rs -l app=orph -o json | jq -c '[.items[].metadata.ownerReferences]')"; fi
expect_eq adopted_rs_reused "$(K get rs -l app=orph --no-headers | wc -l | tr -d ' ')/$(nactive default app=orph)" "1/2"
K delete deploy orph >/dev/null
wait_for 15 none_left rs app=orph

# ---- replica set adoption of orphan pods ------------------------------------------------------
api_json POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"stray","labels":{"app":"adopt"}},"spec":{"containers":[{"name":"c","image":"x"}]}}'
api_json POST /apis/apps/v1/namespaces/default/replicasets '{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"adopter"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"adopt"}},"template":{"metadata":{"labels":{"app":"adopt"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}'
expect_code rs_create 201
if wait_for 15 count_is default app=adopt 2; then pass rs_adopts_orphan_pod; else fail rs_adopts_orphan_pod "$(active default app=adopt)"; fi
sleep 0.5
expect_eq rs_adoption_no_extra_pods "$(nactive default app=adopt)" 2
expect_eq rs_adopted_owner "$(K get pod stray -o json | jq -r '.metadata.ownerReferences[0] | "\(.kind)/\(.name)/\(.controller)"')" "ReplicaSet/adopter/true"
K delete rs adopter >/dev/null
wait_for 15 none_left pods app=adopt

# ---- Recreate strategy: old pods gone before new ones start -------------------------------------
cat >"$T/rec.json" <<'JSON'
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"rec"},"spec":{"replicas":2,"revisionHistoryLimit":1,"strategy":{"type":"Recreate"},"selector":{"matchLabels":{"app":"rec"}},
 "template":{"metadata":{"labels":{"app":"rec"}},"spec":{"containers":[{"name":"c","image":"registry.local/rec:1"}]}}}}
JSON
K apply -f "$T/rec.json" >/dev/null
recdone() { [ "$(K get deploy rec -o json | jq -r '[.status.updatedReplicas, .status.availableReplicas, (.status.observedGeneration == .metadata.generation), .spec.template.spec.containers[0].image] | map(tostring) | join("/")')" == "2/2/true/registry.local/rec:$1" ]; }
wait_for 15 recdone 1 || fail recreate_initial "$(K get deploy rec -o json | jq -c .status)"
K set image deploy/rec c=registry.local/rec:2 >/dev/null
overlap=0 ok=0
for ((i = 0; i < 100; i++)); do
	kubelet_sync default True
	imgs=$(K get pods -l app=rec -o json | jq -r '[.items[] | select(.metadata.deletionTimestamp == null) | .spec.containers[0].image] | unique | length')
	[ "$imgs" -gt 1 ] && overlap=1
	recdone 2 && { ok=1; break; }
	sleep 0.2
done
expect_eq recreate_completes "$ok" 1
expect_eq recreate_no_overlap "$overlap" 0
K set image deploy/rec c=registry.local/rec:3 >/dev/null
wait_for 20 recdone 3 || fail recreate_third "$(K get deploy rec -o json | jq -c .status)"
# revisionHistoryLimit 1: the new replica set and one old one remain
if wait_for 10 bash -c '[ "$(kubectl get rs -l app=rec --no-headers | wc -l)" == 2 ]'; then pass revision_history_limit; else fail revision_history_limit "$(K get rs -l app=rec --no-headers)"; fi
K delete deploy rec >/dev/null

# ---- rolling update with maxSurge 0 / maxUnavailable 1 ----------------------------------------
cat >"$T/ru.json" <<'JSON'
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"ru"},"spec":{"replicas":4,"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":0,"maxUnavailable":1}},"selector":{"matchLabels":{"app":"ru"}},
 "template":{"metadata":{"labels":{"app":"ru"}},"spec":{"containers":[{"name":"c","image":"registry.local/ru:1"}]}}}}
JSON
K apply -f "$T/ru.json" >/dev/null
rudone() { [ "$(K get deploy ru -o json | jq -r '[.status.updatedReplicas, .status.replicas, .status.availableReplicas, (.status.observedGeneration == .metadata.generation), .spec.template.spec.containers[0].image] | map(tostring) | join("/")')" == "4/4/4/true/registry.local/ru:$1" ]; }
wait_for 20 rudone 1 || fail ru_initial "$(K get deploy ru -o json | jq -c .status)"
K set image deploy/ru c=registry.local/ru:2 >/dev/null
maxactive=0 minready=99 ok=0
for ((i = 0; i < 150; i++)); do
	kubelet_sync default True
	j=$(K get pods -l app=ru -o json)
	a=$(jq '[.items[] | select(.metadata.deletionTimestamp == null)] | length' <<<"$j")
	r=$(jq '[.items[] | select(.metadata.deletionTimestamp == null and any(.status.conditions[]?; .type == "Ready" and .status == "True"))] | length' <<<"$j")
	[ "$a" -gt "$maxactive" ] && maxactive=$a
	[ "$r" -lt "$minready" ] && minready=$r
	rudone 2 && { ok=1; break; }
	sleep 0.2
done
expect_eq max_surge_0_completes "$ok" 1
if num_cmp "$maxactive" "<=" 4; then pass max_surge_0_respected; else fail max_surge_0_respected "up to $maxactive pods (> 4)"; fi
if num_cmp "$minready" ">=" 3; then pass max_unavailable_1_respected; else fail max_unavailable_1_respected "ready pods dropped to $minready (< 3)"; fi
K delete deploy ru >/dev/null
wait_for 15 none_left rs app=ru

# ---- pause / resume ----------------------------------------------------------------------------
K apply -f "$T/ru.json" >/dev/null
wait_for 20 rudone 1 || fail pause_setup "$(K get deploy ru -o json | jq -c .status)"
K rollout pause deploy/ru >/dev/null
K set image deploy/ru c=registry.local/ru:3 >/dev/null
sleep 1
expect_eq paused_no_new_rs "$(K get rs -l app=ru -o json | jq -r '[.items[] | select(.spec.template.spec.containers[0].image == "registry.local/ru:3")] | length')" 0
K rollout resume deploy/ru >/dev/null
if wait_for 30 rudone 3; then pass resumed_rollout_completes; else fail resumed_rollout_completes "$(K get deploy ru -o json | jq -c .status)"; fi
K delete deploy ru >/dev/null

# ---- progress deadline: pods that never become ready --------------------------------------------
K create namespace slow >/dev/null
cat >"$T/slow.json" <<'JSON'
{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"slow","namespace":"slow"},"spec":{"replicas":1,"progressDeadlineSeconds":2,"selector":{"matchLabels":{"app":"slow"}},
 "template":{"metadata":{"labels":{"app":"slow"}},"spec":{"containers":[{"name":"c","image":"registry.local/slow:1"}]}}}}
JSON
K apply -f "$T/slow.json" >/dev/null
# no kubelet in this namespace: the pod never gets ready
exceeded() { [ "$(K -n slow get deploy slow -o json | jq -r '.status.conditions[]? | select(.type == "Progressing") | "\(.status)/\(.reason)"')" == "False/ProgressDeadlineExceeded" ]; }
if wait_until 100 exceeded; then pass progress_deadline_exceeded; else fail progress_deadline_exceeded "$(K -n slow get deploy slow -o json | jq -c .status.conditions)"; fi
if K -n slow rollout status deploy/slow --timeout=10s >"$T/slow.out" 2>&1; then fail rollout_status_deadline "succeeded: $(cat "$T/slow.out")"
else expect_match rollout_status_deadline "$(cat "$T/slow.out")" 'exceeded its progress deadline'; fi
K delete namespace slow --wait=false >/dev/null

# ---- namespace deletion ------------------------------------------------------------------------
K create namespace doomed >/dev/null
K -n doomed create deployment d --image=registry.local/x:1 --replicas=2 >/dev/null
K -n doomed expose deployment d --port 80 >/dev/null 2>&1 ||
	api_json POST /api/v1/namespaces/doomed/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"d"},"spec":{"selector":{"app":"d"},"ports":[{"port":80}]}}'
WNS=doomed wait_for 15 count_is doomed app=d 2
WNS=doomed wait_for 10 bash -c 'kubectl -n doomed get endpoints d >/dev/null 2>&1'
K delete namespace doomed --wait=false >/dev/null
if WNS=doomed wait_for 30 gone namespace doomed; then pass namespace_deleted; else fail namespace_deleted "$(K get ns doomed -o json | jq -c '{metadata,spec,status}')"; fi
left=0
for r in pods deployments replicasets services endpoints events; do
	api GET "/api/v1/namespaces/doomed/$r"; [ "$r" == deployments ] || [ "$r" == replicasets ] && api GET "/apis/apps/v1/namespaces/doomed/$r"
	left=$((left + $(jqb '.items | length' || echo 0)))
done
expect_eq namespace_content_gone "$left" 0

# ---- node heartbeat loss -> NotReady -> eviction -> rescheduled -----------------------------------
ON_N3=$(K get pods -l app=web -o json | jq -r '[.items[] | select(.spec.nodeName == "n3" and .metadata.deletionTimestamp == null) | .metadata.name] | join(" ")')
[ -n "$ON_N3" ] || fail eviction_setup "no web pod on n3"
grep -v '^n3$' "$T/hb-nodes" >"$T/hb-nodes.new"; mv "$T/hb-nodes.new" "$T/hb-nodes"
notready() { [ "$(K get node n3 -o json | jq -r '.status.conditions[] | select(.type == "Ready") | .status')" == Unknown ]; }
if wait_for 15 notready; then pass node_not_ready; else fail node_not_ready "$(K get node n3 -o json | jq -c .status.conditions)"; fi
expect_match node_status_column "$(K get node n3 --no-headers)" '^n3 +NotReady'
expect_eq node_taints "$(K get node n3 -o json | jq -r '[.spec.taints[] | "\(.key):\(.effect)"] | sort | join(",")')" "node.kubernetes.io/unreachable:NoExecute,node.kubernetes.io/unreachable:NoSchedule"
moved() {
	local j; j=$(K get pods -l app=web -o json)
	[ "$(jq -r '[.items[] | select(.metadata.deletionTimestamp == null and .spec.nodeName != null and .spec.nodeName != "n3")] | length' <<<"$j")" == 3 ] &&
	[ "$(jq -r '[.items[] | select(.spec.nodeName == "n3")] | length' <<<"$j")" == 0 ]
}
if wait_for 30 moved; then pass pods_evicted_and_rescheduled; else fail pods_evicted_and_rescheduled "$(K get pods -l app=web -o wide --no-headers)"; fi
expect_eq evicted_pod_gone "$(for p in $ON_N3; do K get pod "$p" >/dev/null 2>&1 && echo "$p"; done)" ""
ev=$(K get events -A -o json)
expect_eq event_NodeNotReady "$(jq -r '[.items[] | select(.reason == "NodeNotReady" and .involvedObject.name == "n3")] | length > 0' <<<"$ev")" true
expect_eq event_eviction "$(jq -r '[.items[] | select(.reason == "TaintManagerEviction")] | length > 0' <<<"$ev")" true
expect_match describe_shows_events "$(K describe deploy web 2>&1)" 'ScalingReplicaSet'

# ---- kill -9 in the middle of a rollout, restart on the same data dir ------------------------------
K set image deploy/web web=registry.local/web:3 >/dev/null
for ((i = 0; i < 10; i++)); do
	[ "$(K get rs -l app=web -o json | jq '[.items[] | select(.spec.template.spec.containers[0].image == "registry.local/web:3")] | length')" == 1 ] && break
	sleep 0.2
done
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server --node-monitor-grace-period $GRACE --pod-eviction-timeout $EVICT ||
	{ fail server_restart "minik8s server did not restart"; exit 1; }
# n3 stays dead: its heartbeat is not refreshed
conv() { [ "$(K get deploy web -o json | jq -r '[.status.updatedReplicas, .status.replicas, .status.availableReplicas, (.status.observedGeneration == .metadata.generation)] | map(tostring) | join("/")')" == "3/3/3/true" ] &&
	[ "$(K get rs -l app=web -o json | jq '[.items[] | select(.spec.template.spec.containers[0].image == "registry.local/web:3")] | length')" == 1 ]; }
if wait_for 40 conv; then pass restart_mid_rollout_converges; else fail restart_mid_rollout_converges "$(K get deploy web -o json | jq -c .status; K get rs,pods -l app=web --no-headers)"; fi
expect_eq restart_no_duplicate_pods "$(nactive default app=web)" 3
expect_eq restart_rs_count "$(K get rs -l app=web --no-headers | wc -l | tr -d ' ')" 3
if K rollout status deploy/web --timeout=20s >"$T/rs.out" 2>&1; then pass rollout_status_after_restart; else fail rollout_status_after_restart "$(cat "$T/rs.out")"; fi
done_testing
