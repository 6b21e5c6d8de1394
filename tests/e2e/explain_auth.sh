#!/bin/bash
# End to end with the real kubectl 1.32 against `minik8s server`: kubectl explain from
# the OpenAPI v3 documents (generated from pkg/api/schema_defs.c), --validate=strict /
# warn / false against the same schemas, unknown kinds reported as kubectl's usual
# "no matches for kind" (it falls back to /openapi/v2 in protobuf), auth can-i for the
# admin and a node's credential (each answer checked against what the server really does
# with that token), auth whoami, 404 Status bodies and boolean query parameters.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60

KUBECTL=${KUBECTL:-/usr/bin/kubectl}
[ -x "$KUBECTL" ] || { fail kubectl_present "no $KUBECTL"; exit 1; }
start_server || { fail server_start "minik8s server did not start"; exit 1; }
NODE_TOKEN=$(node_credential n1)
mkdir -p "$T/home"

# k ARGS...: kubectl with a private HOME and discovery cache; sets KOUT KERR KRC
k() {
	KRC=0
	HOME="$T/home" timeout 40 "$KUBECTL" --cache-dir "$T/kcache" "$@" >"$T/k.out" 2>"$T/k.err" || KRC=$?
	KOUT=$(cat "$T/k.out")
	KERR=$(cat "$T/k.err")
}
# kn ARGS...: the same with node n1's credential instead of the admin's
kn() { k --token="$NODE_TOKEN" "$@"; }
line_match() {
	if grep -qE -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "no line of '${2:0:600}' matches /$3/"; fi
}

# ---- kubectl explain ---------------------------------------------------------------

k explain pods.spec.containers
expect_eq explain_containers_rc "$KRC" 0
line_match explain_containers_field "$KOUT" '^FIELD: *containers <\[\]Container>'
line_match explain_containers_image "$KOUT" '^  image[[:space:]]+<string>'
line_match explain_containers_required_name "$KOUT" '^  name[[:space:]]+<string> -required-'
line_match explain_containers_ports "$KOUT" '^  ports[[:space:]]+<\[\]ContainerPort>'
line_match explain_containers_description "$KOUT" 'app containers of the pod'

k explain pods.spec.containers.livenessProbe.httpGet.port
line_match explain_deep_field "$KOUT" '^FIELD: *port <'

k explain deployment.spec --recursive
expect_eq explain_recursive_rc "$KRC" 0
line_match explain_recursive_kind "$KOUT" '^KIND: *Deployment'
line_match explain_recursive_group "$KOUT" '^GROUP: *apps'
line_match explain_recursive_template "$KOUT" '^  template[[:space:]]+<PodTemplateSpec> -required-'
line_match explain_recursive_nested "$KOUT" '^      containers[[:space:]]+<\[\]Container> -required-'
line_match explain_recursive_surge "$KOUT" '^      maxSurge[[:space:]]+<IntOrString>'
k explain pods.spec.containers.resources
line_match explain_quantity_map "$KOUT" '^  limits[[:space:]]+<map\[string\]Quantity>'
# the v2 explainer reads /openapi/v2 in protobuf (gnostic) and finds kinds by their
# x-kubernetes-group-version-kind extension
k explain pods.spec.containers --output=plaintext-openapiv2
expect_eq explain_v2_rc "$KRC" 0
line_match explain_v2_resource "$KOUT" '^RESOURCE: containers <\[\]Object>'
line_match explain_v2_field "$KOUT" '^   imagePullPolicy[[:space:]]+<string>'
k explain deployment.spec --recursive --output=plaintext-openapiv2
line_match explain_v2_recursive "$KOUT" '^         containers[[:space:]]+<\[\]Object>'
# every served resource explains (the list comes from discovery, not from this test);
# with its group-version, as kubectl reads "nodes.metrics.k8s.io" as core nodes and
# the fields "metrics.k8s.io" (a real cluster with metrics-server is no different)
for line in $(HOME="$T/home" "$KUBECTL" --cache-dir "$T/kcache" api-resources --no-headers 2>/dev/null |
	awk '{print $1 "|" $(NF-2)}'); do
	res=${line%%|*} gv=${line#*|}
	r=$res
	[ "${gv%/*}" != "$gv" ] && r=$res.${gv%/*}
	k explain "$res" --api-version="$gv"
	if [ "$KRC" == 0 ] && grep -q '^FIELDS:' <<<"$KOUT"; then pass "explain_resource_$r"
	else fail "explain_resource_$r" "rc $KRC: ${KERR:0:300}"; fi
done

k explain pods.spec.nosuchfield
expect_eq explain_unknown_field_rc "$KRC" 1
expect_contains explain_unknown_field_msg "$KERR" 'field "nosuchfield" does not exist'

# the v3 index names every group-version; each document carries the kinds' GVKs
api GET /openapi/v3
expect_eq openapi_v3_index "$(jqb '[.paths | keys[] | select(. == "api/v1" or . == "apis/apps/v1" or . == "apis/authentication.k8s.io/v1" or . == "apis/authorization.k8s.io/v1")] | join(" ")')" \
	"api/v1 apis/apps/v1 apis/authentication.k8s.io/v1 apis/authorization.k8s.io/v1"
# every group discovery lists has its v3 document
api GET /apis
groups=$(jqb '[.groups[] | .name + "=" + .preferredVersion.groupVersion] | join(" ")')
api GET /openapi/v3
for g in $groups; do
	expect_eq "openapi_v3_has_${g%%=*}" "$(jqb ".paths | has(\"apis/${g#*=}\")")" true
done
# every kind apps/v1 discovery lists (and its List), no more
api GET /apis/apps/v1
apps_kinds=$(jqb '[.resources[] | select(.name | contains("/") | not) | .kind, .kind + "List"] | sort | join(" ")')
api GET /openapi/v3/apis/apps/v1
expect_eq openapi_v3_apps_gvk "$(jqb '[.components.schemas[]["x-kubernetes-group-version-kind"][]? | select(.group=="apps") | .kind] | sort | join(" ")')" \
	"$apps_kinds"
expect_match openapi_v3_apps_gvk_known "$apps_kinds" "^ControllerRevision ControllerRevisionList DaemonSet DaemonSetList Deployment DeploymentList ReplicaSet ReplicaSetList StatefulSet StatefulSetList$"
api GET /openapi/v2
expect_eq openapi_v2_json "$(jqb '.swagger + " " + .definitions["io.k8s.api.core.v1.Pod"].properties.spec["$ref"]')" \
	"2.0 #/definitions/io.k8s.api.core.v1.PodSpec"
code=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -o "$T/v2.pb" -w '%{http_code}' \
	-H 'Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf' "$API/openapi/v2")
expect_eq openapi_v2_protobuf "$code $(head -c 5 "$T/v2.pb" | od -An -tx1 | tr -d ' ')" "200 0a03322e30"

# ---- validation against the schemas --------------------------------------------------

cat >"$T/typo.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: typo
spec:
  containers:
  - name: c
    image: busybox
    imagePullPolicyy: Always
  restartPolicyy: Never
EOF
k apply -f "$T/typo.yaml"
expect_eq strict_unknown_rc "$KRC" 1
expect_contains strict_unknown_container "$KERR" 'unknown field "spec.containers[0].imagePullPolicyy"'
expect_contains strict_unknown_spec "$KERR" 'unknown field "spec.restartPolicyy"'
expect_contains strict_unknown_shape "$KERR" 'Pod in version "v1" cannot be handled as a Pod: strict decoding error'
api GET /api/v1/namespaces/default/pods/typo
expect_code strict_unknown_not_created 404

k apply --validate=warn -f "$T/typo.yaml"
expect_eq warn_unknown_rc "$KRC" 0
line_match warn_unknown_warning "$KERR" '^Warning: unknown field "spec.restartPolicyy"'
k delete pod typo --wait=false
k apply --validate=false -f "$T/typo.yaml"
expect_eq ignore_unknown_rc "$KRC" 0
expect_eq ignore_unknown_no_warning "$(grep -c 'unknown field' <<<"$KERR")" 0

# a manifest using many real fields: nothing may be flagged under strict validation
cat >"$T/full.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: full
  labels: {app: full}
  annotations: {note: "x"}
spec:
  replicas: 2
  revisionHistoryLimit: 3
  progressDeadlineSeconds: 120
  minReadySeconds: 1
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: "25%"}
  selector:
    matchLabels: {app: full}
    matchExpressions:
    - {key: app, operator: In, values: [full]}
  template:
    metadata:
      labels: {app: full}
    spec:
      terminationGracePeriodSeconds: 5
      restartPolicy: Always
      dnsPolicy: ClusterFirst
      nodeSelector: {kubernetes.io/os: linux}
      hostname: h
      securityContext: {runAsUser: 1000, fsGroup: 2000, runAsNonRoot: true}
      tolerations:
      - {key: k, operator: Exists, effect: NoSchedule, tolerationSeconds: 10}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/os, operator: In, values: [linux]}]
      volumes:
      - name: scratch
        emptyDir: {sizeLimit: 64Mi}
      - name: host
        hostPath: {path: /tmp, type: Directory}
      initContainers:
      - name: init
        image: busybox
        command: [sh, -c, "true"]
      containers:
      - name: app
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        args: ["-g", "daemon off;"]
        workingDir: /
        ports:
        - {name: http, containerPort: 80, protocol: TCP}
        env:
        - {name: A, value: "1"}
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: "1", memory: 128Mi}
        volumeMounts:
        - {name: scratch, mountPath: /scratch, readOnly: false}
        livenessProbe:
          httpGet: {path: /, port: http, scheme: HTTP, httpHeaders: [{name: X, value: y}]}
          initialDelaySeconds: 1
          periodSeconds: 5
          failureThreshold: 3
        readinessProbe:
          tcpSocket: {port: 80}
        startupProbe:
          exec: {command: ["true"]}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: false
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
        stdin: false
        tty: false
        terminationMessagePolicy: FallbackToLogsOnError
---
apiVersion: v1
kind: Service
metadata:
  name: full
spec:
  type: NodePort
  selector: {app: full}
  sessionAffinity: None
  ports:
  - {name: http, port: 80, targetPort: http, protocol: TCP, nodePort: 30080}
EOF
k apply -f "$T/full.yaml"
expect_eq strict_known_fields_rc "$KRC" 0
expect_eq strict_known_fields_no_warning "$(grep -c 'unknown field' <<<"$KERR")" 0
# what the server itself stores (defaults, status, controller-made objects) passes
# strict validation when sent back
for obj in deployment/full service/full namespace/default service/kubernetes; do
	HOME="$T/home" "$KUBECTL" --cache-dir "$T/kcache" get "$obj" -o json >"$T/obj.json" 2>/dev/null
	k replace --validate=strict -f "$T/obj.json"
	if [ "$KRC" == 0 ]; then pass "strict_roundtrip_$obj"; else fail "strict_roundtrip_$obj" "${KERR:0:300}"; fi
done
rs=$(HOME="$T/home" "$KUBECTL" --cache-dir "$T/kcache" get rs -l app=full -o name 2>/dev/null | head -1)
if [ -n "$rs" ]; then
	HOME="$T/home" "$KUBECTL" --cache-dir "$T/kcache" get "$rs" -o json >"$T/obj.json" 2>/dev/null
	k replace --validate=strict -f "$T/obj.json"
	if [ "$KRC" == 0 ]; then pass strict_roundtrip_replicaset; else fail strict_roundtrip_replicaset "${KERR:0:300}"; fi
else
	fail strict_roundtrip_replicaset "the deployment controller made no replica set"
fi
# kubectl patch sends no fieldValidation: the server's default (Warn) drops the
# unknown field and says so; with Strict the patch is refused
k patch deployment full --type=merge -p '{"spec":{"replicaz":3}}'
expect_eq warn_patch_rc "$KRC" 0
line_match warn_patch_warning "$KERR" '^Warning: unknown field "spec.replicaz"'
api GET /apis/apps/v1/namespaces/default/deployments/full
expect_eq warn_patch_dropped "$(jqb '.spec | has("replicaz")')" false
api_json PATCH '/apis/apps/v1/namespaces/default/deployments/full?fieldValidation=Strict' \
	'{"spec":{"replicaz":3}}' -H 'Content-Type: application/strategic-merge-patch+json'
expect_status strict_patch_refused 400 BadRequest
expect_contains strict_patch_msg "$(jqb .message)" 'strict decoding error: unknown field "spec.replicaz"'
api_json POST '/api/v1/namespaces/default/pods?fieldValidation=Bogus' '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containers":[{"name":"c","image":"i"}]}}'
expect_status field_validation_bad_value 400 BadRequest
expect_contains field_validation_bad_value_msg "$(jqb .message)" 'fieldValidation'
api GET /api/v1/namespaces/default/pods/q
expect_code field_validation_bad_value_not_created 404
api_json POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"q"},"spec":{"containers":[{"name":"c","image":"i","zz":1}]}}' \
	-D "$T/hdr"
expect_code warn_default_created 201
line_match warn_default_header "$(cat "$T/hdr")" '^Warning: 299 - "unknown field \\"spec.containers\[0\].zz\\""'
expect_eq warn_default_dropped "$(jqb '.spec.containers[0] | has("zz")')" false

# ---- kinds the server does not serve ---------------------------------------------------

printf 'apiVersion: v1\nkind: Foo\nmetadata:\n  name: x\n' >"$T/foo.yaml"
k apply -f "$T/foo.yaml"
expect_contains unknown_kind_core "$KERR" 'no matches for kind "Foo" in version "v1"'
printf 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: x\n' >"$T/widget.yaml"
k apply -f "$T/widget.yaml"
expect_contains unknown_kind_group "$KERR" 'no matches for kind "Widget" in version "example.com/v1"'
k create -f "$T/foo.yaml"
expect_contains unknown_kind_create "$KERR" 'no matches for kind "Foo" in version "v1"'

# ---- auth whoami / can-i -----------------------------------------------------------------

k auth whoami
line_match whoami_admin_user "$KOUT" '^Username +system:admin$'
line_match whoami_admin_groups "$KOUT" '^Groups +\[system:masters system:authenticated\]$'
kn auth whoami
line_match whoami_node_user "$KOUT" '^Username +system:node:n1$'
line_match whoami_node_groups "$KOUT" '^Groups +\[system:nodes system:authenticated\]$'

# can_i NAME WANT ARGS...: kubectl auth can-i ARGS prints WANT (yes/no)
can_i() {
	local n=$1 want=$2; shift 2
	k auth can-i "$@"
	expect_eq "$n" "$KOUT" "$want"
}
can_i can_i_admin_create_deploy yes create deployments
can_i can_i_admin_delete_nodes yes delete nodes
can_i can_i_admin_all yes '*' '*'
can_i can_i_admin_nonresource yes get /healthz

# node n1: each answer is checked against the real request with its credential
cani_node() {
	local n=$1 want=$2; shift 2
	kn auth can-i "$@"
	expect_eq "can_i_node_$n" "$KOUT" "$want"
}
# really_node NAME WANT_FORBIDDEN METHOD PATH [BODY]: node n1's real request is
# refused with 403 exactly when WANT_FORBIDDEN is yes
really_node() {
	local n=$1 forbidden=$2 m=$3 p=$4 body=${5:-}
	local code
	code=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $NODE_TOKEN" -X "$m" \
		-H 'Content-Type: application/merge-patch+json' ${body:+--data-binary "$body"} \
		-o /dev/null -w '%{http_code}' "$API$p")
	if { [ "$forbidden" == yes ] && [ "$code" == 403 ]; } || { [ "$forbidden" == no ] && [ "$code" != 403 ]; }; then
		pass "really_node_$n"
	else
		fail "really_node_$n" "HTTP $code, forbidden expected: $forbidden"
	fi
}
cani_node list_pods yes list pods -A
really_node list_pods no GET /api/v1/pods
cani_node create_pods no create pods
really_node create_pods yes POST /api/v1/namespaces/default/pods '{}'
# qn is bound to n1, q to no node: the Node authorizer and NodeRestriction tell them apart
api_json POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"qn"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}]}}'
cani_node patch_pod_status yes patch pods --subresource=status
really_node patch_pod_status no PATCH /api/v1/namespaces/default/pods/qn/status '{"status":{"message":"x"}}'
really_node patch_unbound_pod_status yes PATCH /api/v1/namespaces/default/pods/q/status '{"status":{"message":"x"}}'
cani_node delete_other_pod no delete pod/q
really_node delete_other_pod yes DELETE /api/v1/namespaces/default/pods/q
cani_node delete_named_pod yes delete pod/qn
really_node delete_named_pod no DELETE /api/v1/namespaces/default/pods/qn
cani_node delete_all_pods no delete pods
really_node delete_all_pods yes DELETE /api/v1/namespaces/default/pods
cani_node create_ns no create namespaces
really_node create_ns yes POST /api/v1/namespaces '{}'
cani_node patch_node yes patch nodes
cani_node patch_own_node yes patch node/n1
cani_node patch_other_node no patch node/n2
cani_node get_unrelated_secret no get secret/x
cani_node create_events yes create events
cani_node scale_deploy no update deployments --subresource=scale
really_node scale_deploy yes PUT /apis/apps/v1/namespaces/default/deployments/full/scale '{}'
cani_node nonresource_get yes get /healthz
cani_node lease_heartbeat yes update leases -n kube-node-lease
cani_node lease_elsewhere no update leases -n default
cani_node exec_not_a_read no get pods --subresource=exec

api_json POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews \
	'{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}'
expect_status ssar_needs_attributes 422 Invalid
expect_eq ssar_needs_attributes_field "$(jqb '.details.causes[0].field')" spec.resourceAttributes
api GET /apis/authorization.k8s.io/v1/selfsubjectaccessreviews
expect_status ssar_get_not_allowed 405 MethodNotAllowed
api GET /apis/authorization.k8s.io/v1
expect_eq discovery_authorization "$(jqb '.resources[] | select(.name == "selfsubjectaccessreviews") | .name + " " + (.verbs|join(","))')" \
	"selfsubjectaccessreviews create"
api GET /apis
expect_eq discovery_groups "$(jqb '[.groups[].name | select(. == "apps" or . == "authorization.k8s.io" or . == "authentication.k8s.io")] | join(" ")')" \
	"apps authorization.k8s.io authentication.k8s.io"

# ---- 404s carry a Status ------------------------------------------------------------------

for p in /nosuch /apis/nosuch.example.com /apis/nosuch.example.com/v1/things /api/v2 \
	/api/v1/nosuch /api/v1/namespaces/default/pods/q/nosuch /apis/apps/v1/namespaces/default/deployments/full/nosuch \
	/openapi/v3/apis/nosuch/v1 /api/v1/namespaces/default/pods/absent; do
	api GET "$p"
	expect_status "notfound_status_$p" 404 NotFound
done

# ---- boolean query parameters ----------------------------------------------------------------

for v in True true 1 yes; do
	api GET "/api/v1/namespaces/default/services?watch=$v&timeoutSeconds=1"
	expect_eq "bool_watch_$v" "$(head -1 <<<"$BODY" | jq -r .type 2>/dev/null)" ADDED
done
api GET "/api/v1/namespaces/default/services?watch&timeoutSeconds=1"
expect_eq bool_watch_no_value "$(head -1 <<<"$BODY" | jq -r .type 2>/dev/null)" ADDED
for v in False false 0 FALSE; do
	api GET "/api/v1/namespaces/default/services?watch=$v"
	expect_eq "bool_nowatch_$v" "$(jqb .kind)" ServiceList
done
# sendInitialEvents=True: the state as ADDED, then the initial-events-end bookmark
api GET "/api/v1/namespaces/default/services?watch=1&sendInitialEvents=True&allowWatchBookmarks=1&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
expect_eq bool_send_initial_events "$(jq -rs '([.[] | .type] | index("BOOKMARK")) as $b | ([.[:$b][] | .type + ":" + .object.metadata.name] | sort | join(" ")) + " " + .[$b].object.metadata.annotations["k8s.io/initial-events-end"]' <<<"$BODY" 2>/dev/null)" \
	"ADDED:full ADDED:kubernetes true"
api GET "/api/v1/namespaces/default/services?watch=1&sendInitialEvents=yes&timeoutSeconds=1"
expect_status bool_send_initial_events_needs_match 422 Invalid
# orphanDependents=True (deprecated query form of propagationPolicy=Orphan)
k create deployment orph --image=busybox
rs_of_orph() { api GET "/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Dorph"; [ "$(jqb '.items | length')" == 1 ]; }
if wait_until 100 rs_of_orph; then
	api DELETE "/apis/apps/v1/namespaces/default/deployments/orph?orphanDependents=True"
	orphaned() { rs_of_orph && [ "$(jqb '.items[0].metadata.ownerReferences // [] | length')" == 0 ]; }
	if wait_until 100 orphaned; then pass bool_orphan_dependents; else fail bool_orphan_dependents "replica set: ${BODY:0:300}"; fi
else
	fail bool_orphan_dependents "no replica set for deployment orph"
fi
done_testing
