#!/bin/bash
# End-to-end: the Kubernetes REST API of `minik8s server` over plain curl: discovery,
# /version, CRUD on every resource type, generateName, resourceVersions, conflicts,
# the three PATCH flavours, /status and /scale subresources, label and field selectors,
# Table output, DELETE, cluster-scoped vs namespaced paths, authentication, file modes
# and the listening address.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60
start_server --disable-controllers || { fail server_start "minik8s server did not start"; exit 1; }

CORE=/api/v1
APPS=/apis/apps/v1
MERGE=(-H 'Content-Type: application/merge-patch+json')
JSONP=(-H 'Content-Type: application/json-patch+json')
SMP=(-H 'Content-Type: application/strategic-merge-patch+json')
TABLE=(-H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json')

# ---- health, version, discovery ---------------------------------------------------------
for p in /healthz /readyz /livez; do
	code=$(curl -s --cacert "$CACERT" -o /dev/null -w '%{http_code}' "$API$p")
	expect_eq "health_no_token$p" "$code" 200
done

api GET /version
expect_code version_code 200
expect_eq version_major "$(jqb .major)" 1
expect_match version_minor "$(jqb .minor)" '^[0-9]+\+?$'
expect_match version_git "$(jqb .gitVersion)" "^v1\.$(jqb .minor | tr -dc 0-9)\."
expect_match version_platform "$(jqb .platform)" '^linux/'

api GET /api
expect_eq discovery_api "$(jqb '.kind + " " + (.versions|join(","))')" "APIVersions v1"
api GET /apis
expect_eq discovery_apis_kind "$(jqb .kind)" APIGroupList
expect_eq discovery_apis_apps "$(jqb '.groups[] | select(.name=="apps") | .preferredVersion.groupVersion + " " + ([.versions[].groupVersion]|join(","))')" "apps/v1 apps/v1"

api GET $CORE
expect_eq discovery_core_kind "$(jqb '.kind + " " + .groupVersion')" "APIResourceList v1"
core=$BODY
api GET $APPS
expect_eq discovery_apps_kind "$(jqb '.kind + " " + .groupVersion')" "APIResourceList apps/v1"
apps=$BODY
# disc_check LISTJSON NAME KIND NAMESPACED SHORTNAME
disc_check() {
	local got
	got=$(jq -r --arg n "$2" '.resources[] | select(.name==$n) |
		[.kind, (.namespaced|tostring), ((.shortNames // [])|join(",")),
		 (["create","delete","get","list","patch","update","watch"] - .verbs | length | tostring)] | join(" ")' <<<"$1" 2>/dev/null)
	expect_eq "discovery_$2" "$got" "$3 $4 $5 0"
}
disc_check "$core" pods Pod true po
disc_check "$core" services Service true svc
disc_check "$core" endpoints Endpoints true ep
disc_check "$core" namespaces Namespace false ns
disc_check "$core" nodes Node false no
disc_check "$core" events Event true ev
disc_check "$core" configmaps ConfigMap true cm
disc_check "$core" secrets Secret true ""
disc_check "$apps" deployments Deployment true deploy
disc_check "$apps" replicasets ReplicaSet true rs

api GET /openapi/v3
expect_code openapi_v3_index 200
expect_eq openapi_v3_paths "$(jqb '[.paths | has("api/v1"), has("apis/apps/v1")] | map(tostring) | join(" ")')" "true true"
api GET /openapi/v3/api/v1
expect_eq openapi_v3_core_patch "$(jqb '[.paths["/api/v1/namespaces/{namespace}/pods/{name}"].patch != null, .paths["/api/v1/namespaces/{namespace}/services/{name}"].patch != null] | map(tostring) | join(" ")')" "true true"
api GET /openapi/v3/apis/apps/v1
expect_eq openapi_v3_apps_patch "$(jqb '.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].patch != null')" true

# ---- authentication, files, listening address -------------------------------------------
code=$(curl -s --cacert "$CACERT" -o "$T/noauth" -w '%{http_code}' "$API$CORE/namespaces")
expect_eq auth_missing_code "$code" 401
expect_eq auth_missing_status "$(jq -r '[.kind, .status, .reason, (.code|tostring)] | join(" ")' "$T/noauth" 2>/dev/null)" "Status Failure Unauthorized 401"
code=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer wrong$TOKEN" -o "$T/noauth" -w '%{http_code}' "$API$CORE/namespaces")
expect_eq auth_wrong_token "$code" 401
code=$(curl -s --cacert "$CACERT" -H "Authorization: Basic YWRtaW46YWRtaW4=" -o /dev/null -w '%{http_code}' "$API/version")
expect_eq auth_basic_rejected "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api")
[ "$code" != 200 ] && pass plain_http_refused || fail plain_http_refused "plain HTTP answered 200"
code=$(curl -s --cacert "$CACERT" --resolve "localhost:$PORT:127.0.0.1" -o /dev/null -w '%{http_code}' "https://localhost:$PORT/healthz")
expect_eq tls_san_localhost "$code" 200

expect_eq kubeconfig_mode "$(stat -c %a "$KUBECONFIG")" 600
expect_eq token_mode "$(stat -c %a "$DATA/token")" 600
expect_eq server_key_mode "$(stat -c %a "$DATA/tls/server.key")" 600
expect_eq ca_key_mode "$(stat -c %a "$DATA/tls/ca.key")" 600
kc=$(cat "$KUBECONFIG")
expect_contains kubeconfig_server "$kc" "server: https://127.0.0.1:$PORT"
expect_contains kubeconfig_token "$kc" "$TOKEN"
cad=$(sed -n 's/^ *certificate-authority-data: *//p' "$KUBECONFIG" | head -1 | tr -d '"')
expect_eq kubeconfig_ca "$(base64 -d <<<"$cad" 2>/dev/null | sha256sum)" "$(sha256sum <"$CACERT")"
expect_match kubeconfig_context "$kc" 'current-context: "?minik8s"?'

listen=$(ss -ltnpH 2>/dev/null | grep -F "pid=$SERVER_PID," | awk '{print $4}' | sort -u | tr '\n' ' ')
expect_eq listens_only_requested "$listen" "127.0.0.1:$PORT "

# ---- namespaces, and objects in namespaces that do not exist -------------------------------
api_json POST $CORE/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"rest"}}'
expect_code ns_create 201
expect_eq ns_create_fields "$(jqb '[.kind, .apiVersion, .metadata.name, (.metadata.namespace // "none"), .status.phase] | join(" ")')" "Namespace v1 rest none Active"
api GET $CORE/namespaces/default
expect_code ns_default_exists 200
api_json POST $CORE/namespaces/nope/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_status pod_in_missing_namespace 404 NotFound
expect_contains pod_in_missing_namespace_msg "$(jqb .message)" 'namespaces "nope" not found'

# ---- CRUD on every resource type ----------------------------------------------------------
declare -A BASE=([pods]=$CORE/namespaces/rest/pods [services]=$CORE/namespaces/rest/services
	[endpoints]=$CORE/namespaces/rest/endpoints [events]=$CORE/namespaces/rest/events
	[deployments]=$APPS/namespaces/rest/deployments [replicasets]=$APPS/namespaces/rest/replicasets
	[nodes]=$CORE/nodes [namespaces]=$CORE/namespaces)
declare -A KIND=([pods]=Pod [services]=Service [endpoints]=Endpoints [events]=Event
	[deployments]=Deployment [replicasets]=ReplicaSet [nodes]=Node [namespaces]=Namespace)
declare -A GV=([deployments]=apps/v1 [replicasets]=apps/v1)
declare -A SPEC=(
	[pods]='"spec":{"containers":[{"name":"c","image":"busybox"}]}'
	[services]='"spec":{"selector":{"app":"x"},"ports":[{"port":80,"protocol":"TCP"}]}'
	[endpoints]='"subsets":[{"addresses":[{"ip":"10.244.0.5"}],"ports":[{"port":80,"protocol":"TCP"}]}]'
	[events]='"involvedObject":{"kind":"Pod","namespace":"rest","name":"x"},"reason":"Testing","message":"hello","type":"Normal"'
	[deployments]='"spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}'
	[replicasets]='"spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}'
	[nodes]='"spec":{}'
	[namespaces]='"spec":{}')
for r in pods services endpoints events deployments replicasets nodes namespaces; do
	b=${BASE[$r]} kind=${KIND[$r]} gv=${GV[$r]:-v1}
	ns=rest; [[ $r == nodes || $r == namespaces ]] && ns=""
	name=crud-$r
	api_json POST "$b" "{\"apiVersion\":\"$gv\",\"kind\":\"$kind\",\"metadata\":{\"name\":\"$name\",\"labels\":{\"t\":\"crud\"}},${SPEC[$r]}}"
	expect_code "crud_${r}_create" 201
	expect_eq "crud_${r}_create_kind" "$(jqb '.kind + " " + .apiVersion + " " + .metadata.name + " " + (.metadata.namespace // "")')" "$kind $gv $name $ns"
	expect_match "crud_${r}_create_meta" "$(jqb '[.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp] | join(" ")')" \
		'^[0-9a-f-]{36} [0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'
	uid=$(jqb .metadata.uid) rv=$(jqb .metadata.resourceVersion) obj=$BODY
	api GET "$b/$name"
	expect_code "crud_${r}_get" 200
	expect_eq "crud_${r}_get_same" "$(jqb '.metadata.uid + " " + .metadata.resourceVersion + " " + .kind')" "$uid $rv $kind"
	api GET "$b"
	expect_eq "crud_${r}_list" "$(jqb '.kind + " " + .apiVersion + " " + (.metadata.resourceVersion|test("^[0-9]+$")|tostring)')" "${kind}List $gv true"
	expect_eq "crud_${r}_list_item" "$(jqb "[.items[] | select(.metadata.name==\"$name\")] | length")" 1
	upd=$(jq -c '.metadata.labels.updated="yes"' <<<"$obj")
	api_json PUT "$b/$name" "$upd"
	expect_code "crud_${r}_update" 200
	expect_eq "crud_${r}_update_label" "$(jqb .metadata.labels.updated)" yes
	expect_eq "crud_${r}_update_uid" "$(jqb .metadata.uid)" "$uid"
	rv2=$(jqb .metadata.resourceVersion)
	num_cmp "$rv2" ">" "$rv" && pass "crud_${r}_update_rv" || fail "crud_${r}_update_rv" "rv $rv -> '$rv2'"
	api_json PUT "$b/$name" "$(jq -c '.metadata.labels.updated="again"' <<<"$obj")"
	expect_status "crud_${r}_stale_update" 409 Conflict
	# the same manifest again (a Service's allocated clusterIP is not part of the manifest)
	api_json POST "$b" "$(jq -c 'del(.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp, .spec.clusterIP, .spec.clusterIPs)' <<<"$obj")"
	expect_status "crud_${r}_create_twice" 409 AlreadyExists
	expect_eq "crud_${r}_create_twice_details" "$(jqb '.details.name + " " + .details.kind')" "$name $r"
	api DELETE "$b/$name"
	if [ "$HTTP_CODE" == 200 ] || [ "$HTTP_CODE" == 202 ]; then
		got=$(jqb '.kind + " " + (.status // "" | tostring)')
		if [[ "$got" == "$kind "* || "$got" == "Status Success" ]]; then pass "crud_${r}_delete"
		else fail "crud_${r}_delete" "DELETE answered '$got': ${BODY:0:200}"; fi
	else
		fail "crud_${r}_delete" "HTTP $HTTP_CODE ${BODY:0:200}"
	fi
	if [ "$r" == namespaces ]; then
		# namespaces may go through Terminating first; they must disappear
		gone() { api GET "$b/$name"; [ "$HTTP_CODE" == 404 ]; }
		wait_until 100 gone
	else
		api GET "$b/$name"
	fi
	expect_status "crud_${r}_gone" 404 NotFound
	expect_eq "crud_${r}_gone_details" "$(jqb '.details.name + " " + .details.kind')" "$name $r"
	qual=$r; [ "$gv" == apps/v1 ] && qual=$r.apps
	expect_eq "crud_${r}_gone_message" "$(jqb .message)" "$qual \"$name\" not found"
	api DELETE "$b/$name"
	expect_status "crud_${r}_delete_missing" 404 NotFound
done

# ---- protobuf request bodies (kubectl >= 1.32 create sends them) -----------------------------
PB=(-H 'Content-Type: application/vnd.kubernetes.protobuf' -H 'Accept: application/vnd.kubernetes.protobuf,application/json')
python3 "$ROOT/tests/e2e/data/k8spb.py" namespace pbns >"$T/ns.pb"
api POST $CORE/namespaces "${PB[@]}" --data-binary @"$T/ns.pb"
expect_code protobuf_namespace_create 201
api GET $CORE/namespaces/pbns
expect_eq protobuf_namespace_stored "$HTTP_CODE $(jqb '.kind + " " + .metadata.name + " " + .status.phase')" "200 Namespace pbns Active"
python3 "$ROOT/tests/e2e/data/k8spb.py" service pbsvc pbns 8080 >"$T/svc.pb"
api POST $CORE/namespaces/pbns/services "${PB[@]}" --data-binary @"$T/svc.pb"
expect_code protobuf_service_create 201
api GET $CORE/namespaces/pbns/services/pbsvc
expect_eq protobuf_service_stored "$(jqb '[.spec.type, (.spec.ports[0].port|tostring), (.spec.ports[0].targetPort|tostring), .spec.ports[0].protocol, .spec.selector.app, .metadata.labels.app] | join(" ")')" "ClusterIP 8080 8080 TCP pbsvc pbsvc"
python3 "$ROOT/tests/e2e/data/k8spb.py" deployment pbdep pbns nginx 3 80 >"$T/dep.pb"
api POST $APPS/namespaces/pbns/deployments "${PB[@]}" --data-binary @"$T/dep.pb"
expect_code protobuf_deployment_create 201
api GET $APPS/namespaces/pbns/deployments/pbdep
expect_eq protobuf_deployment_stored "$(jqb '[(.spec.replicas|tostring), .spec.selector.matchLabels.app, .spec.template.metadata.labels.app, .spec.template.spec.containers[0].name, .spec.template.spec.containers[0].image, (.spec.template.spec.containers[0].ports[0].containerPort|tostring)] | join(" ")')" "3 pbdep pbdep nginx nginx 80"
api POST $APPS/namespaces/pbns/deployments "${PB[@]}" --data-binary @"$T/dep.pb"
expect_status protobuf_create_twice 409 AlreadyExists

# ---- defaulting, generateName, resourceVersions ---------------------------------------------
api_json POST $CORE/namespaces/rest/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"gen-"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_code generate_name_create 201
expect_match generate_name_name "$(jqb .metadata.name)" '^gen-[a-z0-9]{5}$'
gname=$(jqb .metadata.name)
expect_eq pod_default_restart_policy "$(jqb .spec.restartPolicy)" Always
expect_eq pod_default_phase "$(jqb .status.phase)" Pending
api GET "$CORE/namespaces/rest/pods/$gname"
expect_code generate_name_get 200
api_json POST $CORE/namespaces/rest/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"gen-"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
[ "$(jqb .metadata.name)" != "$gname" ] && [ "$HTTP_CODE" == 201 ] && pass generate_name_unique || fail generate_name_unique "HTTP $HTTP_CODE name $(jqb .metadata.name)"

api_json POST $CORE/namespaces/rest/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rva"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
rva=$(jqb .metadata.resourceVersion) podA=$BODY
api_json POST $CORE/namespaces/rest/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"rvb"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
rvb=$(jqb .metadata.resourceVersion)
api_json PATCH $CORE/namespaces/rest/pods/rva '{"metadata":{"labels":{"n":"1"}}}' "${MERGE[@]}"
rva2=$(jqb .metadata.resourceVersion)
api GET $CORE/namespaces/rest/pods
rvl=$(jqb .metadata.resourceVersion)
if num_cmp "$rva" "<" "$rvb" && num_cmp "$rvb" "<" "$rva2" && num_cmp "$rva2" "<=" "$rvl"; then pass rv_increasing
else fail rv_increasing "create a=$rva, create b=$rvb, patch a=$rva2, list=$rvl"; fi
# an update carrying the current resourceVersion succeeds; without one it is unconditional
api_json PUT $CORE/namespaces/rest/pods/rva "$(jq -c --arg rv "$rva2" '.metadata.resourceVersion=$rv | .metadata.labels.n="2"' <<<"$podA")"
expect_code update_current_rv 200
api_json PUT $CORE/namespaces/rest/pods/rva "$(jq -c 'del(.metadata.resourceVersion) | .metadata.labels.n="3"' <<<"$podA")"
expect_code update_without_rv 200
expect_eq update_without_rv_label "$(jqb .metadata.labels.n)" 3
api_json PUT $CORE/namespaces/rest/pods/rva "$(jq -c --arg rv "$rva" '.metadata.resourceVersion=$rv' <<<"$podA")"
expect_status update_stale_rv 409 Conflict
# a stale update is a conflict even when it would change nothing (kube-apiserver checks
# the precondition before it notices a no-op)
api_json POST $CORE/namespaces/rest/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"noop"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
noop=$(jq -c '.metadata.labels.l="1"' <<<"$BODY")
api_json PUT $CORE/namespaces/rest/pods/noop "$noop"
api_json PUT $CORE/namespaces/rest/pods/noop "$noop"
expect_status update_stale_rv_noop 409 Conflict
api_json PUT $CORE/namespaces/rest/pods/rvb "$(jq -c 'del(.metadata.resourceVersion)' <<<"$podA")"
expect_status update_name_mismatch 400 BadRequest
api_json PUT $CORE/namespaces/rest/pods/nonexistent "$(jq -c 'del(.metadata.resourceVersion) | .metadata.name="nonexistent"' <<<"$podA")"
expect_status update_missing_object 404 NotFound

# ---- PATCH flavours ----------------------------------------------------------------------------
DEP='{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"pt","labels":{"app":"pt","keep":"me"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"pt"}},"template":{"metadata":{"labels":{"app":"pt"}},"spec":{"containers":[{"name":"web","image":"nginx:1","ports":[{"containerPort":80,"name":"http"}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},{"name":"side","image":"busybox"}]}}}}'
api_json POST $APPS/namespaces/rest/deployments "$DEP"
expect_code patch_setup 201
D=$APPS/namespaces/rest/deployments/pt
api_json PATCH $D '{"metadata":{"labels":{"merged":"yes","keep":null}}}' "${MERGE[@]}"
expect_code patch_merge_code 200
expect_eq patch_merge_labels "$(jqb '.metadata.labels | to_entries | map(.key + "=" + .value) | sort | join(",")')" "app=pt,merged=yes"
expect_eq patch_merge_rest_kept "$(jqb '(.spec.replicas|tostring) + " " + (.spec.template.spec.containers|length|tostring)')" "2 2"
api_json PATCH $D '[{"op":"replace","path":"/spec/replicas","value":4},{"op":"add","path":"/metadata/labels/jp","value":"1"},{"op":"remove","path":"/metadata/labels/merged"}]' "${JSONP[@]}"
expect_code patch_json_code 200
expect_eq patch_json_result "$(jqb '(.spec.replicas|tostring) + " " + (.metadata.labels | keys | join(","))')" "4 app,jp"
api_json PATCH $D '[{"op":"test","path":"/spec/replicas","value":99},{"op":"replace","path":"/spec/replicas","value":7}]' "${JSONP[@]}"
if [[ "$HTTP_CODE" =~ ^4 ]]; then pass patch_json_test_fails; else fail patch_json_test_fails "HTTP $HTTP_CODE"; fi
api GET $D
expect_eq patch_json_test_no_change "$(jqb .spec.replicas)" 4
api_json PATCH $D '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}' "${SMP[@]}"
expect_code patch_smp_code 200
expect_eq patch_smp_merged_by_name "$(jqb '[.spec.template.spec.containers[] | .name + "=" + .image] | join(",")')" "web=nginx:2,side=busybox"
expect_eq patch_smp_fields_kept "$(jqb '.spec.template.spec.containers[0] | [(.ports[0].containerPort|tostring), ([.env[].name]|join(""))] | join(" ")')" "80 AB"
api_json PATCH $D '{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"A","$patch":"delete"},{"name":"C","value":"3"}]}]}}}}' "${SMP[@]}"
# (order as upstream's normalizeElementOrder: without $setElementOrder, patch items that are
# new to the server come before the server-only ones)
expect_eq patch_smp_env_by_name "$(jqb '[.spec.template.spec.containers[0].env[] | .name + "=" + .value] | join(",")')" "C=3,B=2"
api_json PATCH $D '{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"side"}],"containers":[{"name":"web","$setElementOrder/env":[{"name":"B"},{"name":"C"}]}]}}}}' "${SMP[@]}"
expect_eq patch_smp_set_element_order "$(jqb '[.spec.template.spec.containers[0].env[] | .name + "=" + .value] | join(",")')" "B=2,C=3"
api_json PATCH $D '{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}' "${SMP[@]}"
expect_eq patch_smp_delete_directive "$(jqb '[.spec.template.spec.containers[].name] | join(",")')" "web"
api_json PATCH $D '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:3"}]}}}}' "${MERGE[@]}"
expect_eq patch_merge_replaces_lists "$(jqb '.spec.template.spec.containers[0] | [.image, (.ports|length|tostring)] | join(" ")')" "nginx:3 0"
api_json PATCH $D '{"metadata":{"labels":{"x":"y"}}}' -H 'Content-Type: application/apply-patch+yaml-nope'
expect_status patch_unknown_type 415 UnsupportedMediaType
api_json PATCH $APPS/namespaces/rest/deployments/nope '{"metadata":{"labels":{"x":"y"}}}' "${MERGE[@]}"
expect_status patch_missing_object 404 NotFound

# ---- /status and /scale ----------------------------------------------------------------------
api GET $D
cur=$BODY
api_json PUT $D/status "$(jq -c '.status={"replicas":3,"readyReplicas":1,"observedGeneration":1} | .spec.replicas=9 | .metadata.labels.viaStatus="yes"' <<<"$cur")"
expect_code status_put_code 200
api GET $D
expect_eq status_put_changes_status "$(jqb '(.status.replicas|tostring) + " " + (.status.readyReplicas|tostring)')" "3 1"
expect_eq status_put_keeps_spec "$(jqb '(.spec.replicas|tostring) + " " + (.metadata.labels.viaStatus // "unset")')" "4 unset"
api_json PUT $D "$(jq -c '.status.readyReplicas=42 | .spec.replicas=5 | del(.metadata.resourceVersion)' <<<"$BODY")"
expect_code main_put_code 200
api GET $D
expect_eq main_put_ignores_status "$(jqb '(.spec.replicas|tostring) + " " + (.status.readyReplicas|tostring)')" "5 1"
api_json PATCH $D/status '{"status":{"availableReplicas":1}}' "${MERGE[@]}"
expect_eq status_patch "$(jqb '(.status.availableReplicas|tostring) + " " + (.spec.replicas|tostring)')" "1 5"
api_json PATCH $CORE/namespaces/rest/pods/rvb/status '{"status":{"phase":"Running","podIP":"10.244.0.9"}}' "${MERGE[@]}"
expect_code pod_status_patch 200
api GET $CORE/namespaces/rest/pods/rvb
expect_eq pod_status_patch_result "$(jqb '.status.phase + " " + .status.podIP + " " + .spec.containers[0].image')" "Running 10.244.0.9 busybox"

api GET $D/scale
expect_code scale_get_code 200
expect_eq scale_get "$(jqb '[.kind, .apiVersion, .metadata.name, .metadata.namespace, (.spec.replicas|tostring)] | join(" ")')" "Scale autoscaling/v1 pt rest 5"
scale=$BODY
api_json PATCH $D/scale '{"spec":{"replicas":3}}' "${MERGE[@]}"
expect_eq scale_patch "$(jqb '.kind + " " + (.spec.replicas|tostring)')" "Scale 3"
api GET $D
expect_eq scale_patch_applied "$(jqb '(.spec.replicas|tostring) + " " + .spec.template.spec.containers[0].image')" "3 nginx:3"
api_json PUT $D/scale "$(jq -c '.spec.replicas=6 | del(.metadata.resourceVersion)' <<<"$scale")"
expect_eq scale_put "$(jqb '.kind + " " + (.spec.replicas|tostring)')" "Scale 6"
api GET $D
expect_eq scale_put_applied "$(jqb .spec.replicas)" 6
api_json PUT $D/scale "$scale"
expect_status scale_put_stale 409 Conflict
api GET $APPS/namespaces/rest/deployments/nope/scale
expect_status scale_missing 404 NotFound
api_json POST $APPS/namespaces/rest/replicasets '{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs1"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"r"}},"template":{"metadata":{"labels":{"app":"r"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
api_json PATCH $APPS/namespaces/rest/replicasets/rs1/scale '{"spec":{"replicas":2}}' "${MERGE[@]}"
expect_eq rs_scale_patch "$(jqb '.kind + " " + (.spec.replicas|tostring)')" "Scale 2"
api GET $APPS/namespaces/rest/replicasets/rs1
expect_eq rs_scale_applied "$(jqb .spec.replicas)" 2

# ---- selectors -------------------------------------------------------------------------------
api_json POST $CORE/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"sel"}}'
api_json POST $CORE/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"sel2"}}'
mkpod() { api_json POST "$CORE/namespaces/$1/pods" "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$2\",\"labels\":$3},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"; }
mkpod sel a '{"app":"web","tier":"fe"}'
mkpod sel b '{"app":"web","tier":"be"}'
mkpod sel c '{"app":"db"}'
mkpod sel d '{}'
mkpod sel2 e '{"app":"web","tier":"fe"}'
# sel_check NAME QUERY WANT: names listed in namespace sel for QUERY (curl-encoded)
sel_check() {
	api GET "$CORE/namespaces/sel/pods" -G --data-urlencode "$2"
	local got
	got=$(jqb '[.items[].metadata.name] | sort | join(",")')
	if [ "$HTTP_CODE" == 200 ] && [ "$got" == "$3" ]; then pass "$1"
	else fail "$1" "?$2 -> HTTP $HTTP_CODE '$got', want '$3'"; fi
}
sel_check label_eq 'labelSelector=app=web' a,b
sel_check label_eqeq 'labelSelector=app==web' a,b
sel_check label_neq 'labelSelector=app!=web' c,d
sel_check label_in 'labelSelector=tier in (fe,be)' a,b
sel_check label_notin 'labelSelector=tier notin (fe)' b,c,d
sel_check label_exists 'labelSelector=tier' a,b
sel_check label_not_exists 'labelSelector=!tier' c,d
sel_check label_and 'labelSelector=app=web,tier=fe' a
sel_check label_none 'labelSelector=app=nothing' ""
sel_check field_name 'fieldSelector=metadata.name=b' b
sel_check field_name_neq 'fieldSelector=metadata.name!=b' a,c,d
sel_check field_namespace 'fieldSelector=metadata.namespace=sel' a,b,c,d
api GET "$CORE/namespaces/sel/pods" -G --data-urlencode 'fieldSelector=metadata.name!=a' --data-urlencode 'labelSelector=app=web'
expect_eq field_and_label_both "$(jqb '[.items[].metadata.name] | join(",")')" b
api GET "$CORE/pods" -G --data-urlencode 'labelSelector=app=web,tier=fe'
expect_eq all_namespaces_selector "$(jqb '[.items[] | .metadata.namespace + "/" + .metadata.name] | sort | join(",")')" "sel/a,sel2/e"
expect_match all_namespaces_list_rv "$(jqb '.kind + " " + .metadata.resourceVersion')" '^PodList [0-9]+$'

# ---- Table output only when asked --------------------------------------------------------------
api GET $CORE/namespaces/sel/pods -H 'Accept: application/json'
expect_eq table_not_by_default "$(jqb .kind)" PodList
api GET $CORE/namespaces/sel/pods "${TABLE[@]}"
expect_eq table_pods_kind "$(jqb '.kind + " " + .apiVersion')" "Table meta.k8s.io/v1"
expect_eq table_pods_columns "$(jqb '[.columnDefinitions[] | select(.priority == 0 or .priority == null) | .name | ascii_downcase] | join(",")')" "name,ready,status,restarts,age"
expect_match table_pods_wide_columns "$(jqb '[.columnDefinitions[] | select(.priority > 0) | .name | ascii_downcase] | join(",")')" '^ip,node'
expect_eq table_pods_rows "$(jqb '[.rows[].cells[0]] | sort | join(",")')" a,b,c,d
expect_eq table_pods_row_object "$(jqb '[.rows[].object | .kind + ":" + .metadata.namespace] | unique | join(",")')" "PartialObjectMetadata:sel"
expect_match table_pods_rv "$(jqb .metadata.resourceVersion)" '^[0-9]+$'
ncols=$(jqb '.columnDefinitions | length')
expect_eq table_pods_cells_per_row "$(jqb "[.rows[] | .cells | length == $ncols] | all")" true
api GET $CORE/namespaces/sel/pods/a "${TABLE[@]}"
expect_eq table_single_object "$(jqb '.kind + " " + ([.rows[].cells[0]] | join(","))')" "Table a"
api GET $APPS/namespaces/rest/deployments "${TABLE[@]}"
expect_eq table_deploy_columns "$(jqb '[.columnDefinitions[] | select(.priority == 0 or .priority == null) | .name | ascii_downcase] | join(",")')" "name,ready,up-to-date,available,age"
expect_match table_deploy_row "$(jqb '.rows[] | select(.cells[0]=="pt") | .cells[1]')" '^[0-9]+/6$'
api_json POST $CORE/namespaces/sel/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"protocol":"TCP"}]}}'
api GET $CORE/namespaces/sel/services "${TABLE[@]}"
expect_eq table_svc_columns "$(jqb '[.columnDefinitions[] | select(.priority == 0 or .priority == null) | .name | ascii_downcase] | join(",")')" "name,type,cluster-ip,external-ip,port(s),age"
expect_eq table_svc_row "$(jqb '.rows[0].cells | [.[0], .[1], .[4]] | join(" ")')" "s ClusterIP 80/TCP"
api GET $CORE/namespaces "${TABLE[@]}"
expect_eq table_namespaces "$(jqb '.kind + " " + (.columnDefinitions[0].name | ascii_downcase)')" "Table name"
api GET $CORE/nodes "${TABLE[@]}"
expect_eq table_nodes_kind "$(jqb .kind)" Table
api GET $CORE/pods "${TABLE[@]}"
expect_eq table_all_ns_objects "$(jqb '[.rows[].object.metadata | .namespace + "/" + .name] | map(select(startswith("sel"))) | sort | join(",")')" "sel/a,sel/b,sel/c,sel/d,sel2/e"

# ---- DELETE with options -------------------------------------------------------------------------
api_json DELETE $CORE/namespaces/sel/pods/a '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Foreground"}'
if [[ "$HTTP_CODE" =~ ^20[02]$ ]]; then pass delete_propagation_body; else fail delete_propagation_body "HTTP $HTTP_CODE ${BODY:0:200}"; fi
api DELETE "$CORE/namespaces/sel/pods/b?propagationPolicy=Background"
if [[ "$HTTP_CODE" =~ ^20[02]$ ]]; then pass delete_propagation_query; else fail delete_propagation_query "HTTP $HTTP_CODE ${BODY:0:200}"; fi
api_json DELETE $CORE/namespaces/sel/pods/c '{"propagationPolicy":"Orphan","gracePeriodSeconds":0}'
if [[ "$HTTP_CODE" =~ ^20[02]$ ]]; then pass delete_orphan_grace0; else fail delete_orphan_grace0 "HTTP $HTTP_CODE ${BODY:0:200}"; fi
api GET $CORE/namespaces/sel/pods/b
expect_code delete_background_gone 404
# Foreground and Orphan leave the object to the garbage collector: either it is gone
# already, or it carries a deletionTimestamp and the matching finalizer; clearing the
# finalizers then completes the deletion
for pf in a:foregroundDeletion c:orphan; do
	n=${pf%%:*} fin=${pf#*:}
	api GET $CORE/namespaces/sel/pods/$n
	if [ "$HTTP_CODE" == 404 ]; then
		pass "delete_finalizer_$fin"; pass "delete_finalizer_${fin}_cleared"; continue
	fi
	got=$(jqb '[(.metadata.deletionTimestamp != null), (.metadata.finalizers // [] | index("'"$fin"'") != null)] | map(tostring) | join(" ")')
	expect_eq "delete_finalizer_$fin" "$HTTP_CODE $got" "200 true true"
	api_json PATCH $CORE/namespaces/sel/pods/$n '{"metadata":{"finalizers":null}}' -H 'Content-Type: application/merge-patch+json'
	gone() { api GET $CORE/namespaces/sel/pods/$n; [ "$HTTP_CODE" == 404 ]; }
	if wait_until 50 gone; then pass "delete_finalizer_${fin}_cleared"; else fail "delete_finalizer_${fin}_cleared" "still there: ${BODY:0:300}"; fi
done
api GET $CORE/namespaces/sel/pods
expect_eq delete_result "$(jqb '[.items[].metadata.name] | join(",")')" d
api_json DELETE $CORE/namespaces/sel/pods/d '{"propagationPolicy":"Sideways"}'
expect_status delete_bad_policy 422 Invalid

# ---- cluster-scoped vs namespaced paths ---------------------------------------------------------
api_json POST $CORE/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a"}}'
expect_code node_create 201
expect_eq node_no_namespace "$(jqb '.metadata.namespace // "none"')" none
api GET $CORE/nodes
expect_eq node_list "$(jqb '.kind + " " + ([.items[].metadata.name] | join(","))')" "NodeList node-a"
api GET $CORE/namespaces/rest/nodes/node-a
expect_code node_under_namespace 404
api GET $CORE/namespaces/rest/namespaces/rest
expect_code namespace_under_namespace 404
api GET $CORE/namespaces/rest/pods/rva
expect_code namespaced_get 200
api GET $CORE/pods
expect_match pods_all_namespaces "$(jqb '[.items[] | .metadata.namespace] | unique | join(",")')" 'rest.*sel'

check server_still_healthy server_healthy
done_testing
