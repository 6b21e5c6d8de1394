#!/bin/bash
# End-to-end: the REAL kubectl (1.32 here, or Debian's 1.20 kubernetes-client) against
# `minik8s server`. Every step of the ClusterIP lab that needs only the API server, plus
# apply (strategic merge), watch, delete, describe and error output. Results are checked
# through the REST API (curl + jq) wherever possible, not only from kubectl's output.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60
DATA_DIR=$ROOT/tests/e2e/data

KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
if [ -z "$KUBECTL" ]; then
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq kubernetes-client >/dev/null 2>&1
	KUBECTL=$(command -v kubectl || true)
fi
if [ -z "$KUBECTL" ]; then
	fail kubectl_present "no kubectl and the kubernetes-client package could not be installed"
	exit 1
fi
start_server || { fail server_start "minik8s server did not start"; exit 1; }
mkdir -p "$T/home"

# line_match NAME TEXT REGEX: some line of TEXT matches the extended regex
line_match() {
	if grep -qE -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "no line of '${2:0:600}' matches /$3/"; fi
}
no_line_match() {
	if grep -qE -- "$3" <<<"$2"; then fail "$1" "a line of '${2:0:600}' matches /$3/"; else pass "$1"; fi
}

k version --client -o json
minor=$(jq -r '.clientVersion.minor' <<<"$KOUT" 2>/dev/null | tr -dc 0-9)
echo "kubectl client minor version: ${minor:-unknown} ($KUBECTL)"
# Clients before 1.27 validate `apply` against /openapi/v2 (protobuf), which minik8s does
# not serve (the contract has /openapi/v3 only): skip client-side validation for them.
VALIDATE=()
[ "${minor:-0}" -lt 27 ] && VALIDATE=(--validate=false)

# ---- version and discovery ------------------------------------------------------------
api GET /version
gitv=$(jqb .gitVersion)
k version
expect_eq kubectl_version_rc "$KRC" 0
expect_contains kubectl_version_server "$KOUT" "Server Version"
if [ -n "$gitv" ] && [ "$gitv" != null ]; then
	expect_contains kubectl_version_git "$KOUT" "$gitv"
else
	fail kubectl_version_git "GET /version has no gitVersion: ${BODY:0:200}"
fi

kcheck api_resources_rc api-resources
line_match api_resources_pods "$KOUT" '^pods +po +v1 +true +Pod *$'
line_match api_resources_services "$KOUT" '^services +svc +v1 +true +Service *$'
line_match api_resources_endpoints "$KOUT" '^endpoints +ep +v1 +true +Endpoints *$'
line_match api_resources_namespaces "$KOUT" '^namespaces +ns +v1 +false +Namespace *$'
line_match api_resources_nodes "$KOUT" '^nodes +no +v1 +false +Node *$'
line_match api_resources_events "$KOUT" '^events +([a-z]+ +)?v1 +true +Event *$'
line_match api_resources_deployments "$KOUT" '^deployments +deploy +apps/v1 +true +Deployment *$'
line_match api_resources_replicasets "$KOUT" '^replicasets +rs +apps/v1 +true +ReplicaSet *$'

# ---- namespace + deployment (protobuf bodies with kubectl >= 1.32) -----------------------
k create namespace demo
expect_eq create_namespace_out "$KOUT" "namespace/demo created"
api GET /api/v1/namespaces/demo
expect_code create_namespace_api 200
expect_eq create_namespace_api_kind "$(jqb '.kind + " " + .apiVersion + " " + .metadata.name')" "Namespace v1 demo"

k -n demo create deployment php-echo --image=nginx --replicas=3 --port=80
expect_eq create_deployment_out "$KOUT" "deployment.apps/php-echo created"
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
api GET /apis/apps/v1/namespaces/demo/deployments/php-echo
expect_code create_deployment_api 200
expect_eq create_deployment_fields \
	"$(jqb '[.kind, .apiVersion, .metadata.namespace, (.spec.replicas|tostring), .spec.selector.matchLabels.app, .spec.template.metadata.labels.app, .metadata.labels.app, .spec.template.spec.containers[0].name, .spec.template.spec.containers[0].image, (.spec.template.spec.containers[0].ports[0].containerPort|tostring)] | join(" ")')" \
	"Deployment apps/v1 demo 3 php-echo php-echo php-echo nginx nginx 80"
expect_match create_deployment_meta "$(jqb '[.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp] | join(" ")')" \
	'^[0-9a-f-]{36} [0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'

kcheck get_deploy_rc get deploy -n demo
line_match get_deploy_header "$KOUT" '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE *$'
line_match get_deploy_row "$KOUT" '^php-echo +[0-9]+/3 +[0-9]+ +[0-9]+ +[0-9]+[smhdy]'

# ---- pods -------------------------------------------------------------------------------
k run jumpbox --image=nginx
expect_eq run_jumpbox_out "$KOUT" "pod/jumpbox created"
k run other --image=busybox --labels=run=other,tier=x
expect_eq run_other_out "$KOUT" "pod/other created"
k run jumpbox --image=nginx
expect_eq run_again_rc "$KRC" 1
expect_contains run_again_alreadyexists "$KERR" 'Error from server (AlreadyExists): pods "jumpbox" already exists'

kcheck get_pods_rc get pods
line_match get_pods_header "$KOUT" '^NAME +READY +STATUS +RESTARTS +AGE *$'
line_match get_pods_row "$KOUT" '^jumpbox +[0-9]+/1 +[A-Za-z]+ +[0-9]+ +[0-9]+[smhdy]'
kcheck get_po_shortname get po
line_match get_po_shortname_row "$KOUT" '^jumpbox '
kcheck get_pods_wide_rc get pods -o wide
line_match get_pods_wide_header "$KOUT" '^NAME +READY +STATUS +RESTARTS +AGE +IP +NODE'
line_match get_pods_wide_row "$KOUT" '^jumpbox +[0-9]+/1 '
kcheck get_pods_all_rc get pods -A
line_match get_pods_all_header "$KOUT" '^NAMESPACE +NAME +READY +STATUS +RESTARTS +AGE *$'
line_match get_pods_all_row "$KOUT" '^default +jumpbox +[0-9]+/1 '

kcheck get_pod_json_rc get pod jumpbox -o json
j=$KOUT
expect_eq get_pod_json_kind "$(jq -r '.kind + " " + .apiVersion + " " + .metadata.name + " " + .metadata.namespace' <<<"$j" 2>/dev/null)" "Pod v1 jumpbox default"
expect_eq get_pod_json_label "$(jq -r '.metadata.labels.run' <<<"$j" 2>/dev/null)" jumpbox
expect_eq get_pod_json_restart "$(jq -r '.spec.restartPolicy' <<<"$j" 2>/dev/null)" Always
expect_eq get_pod_json_image "$(jq -r '.spec.containers[0].name + " " + .spec.containers[0].image' <<<"$j" 2>/dev/null)" "jumpbox nginx"
expect_match get_pod_json_meta "$(jq -r '[.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp] | join(" ")' <<<"$j" 2>/dev/null)" \
	'^[0-9a-f-]{36} [0-9]+ [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$'
api GET /api/v1/namespaces/default/pods/jumpbox
expect_eq get_pod_json_same_uid "$(jqb .metadata.uid)" "$(jq -r .metadata.uid <<<"$j" 2>/dev/null)"

kcheck get_pods_label_rc get pods -l run=jumpbox
line_match get_pods_label_hit "$KOUT" '^jumpbox '
no_line_match get_pods_label_miss "$KOUT" '^other '
k get pods -l run=nobody
expect_contains get_pods_label_none "$KERR" "No resources found in default namespace."
kcheck get_pods_field_rc get pods --field-selector metadata.name=jumpbox
line_match get_pods_field_hit "$KOUT" '^jumpbox '
no_line_match get_pods_field_miss "$KOUT" '^other '
k get pods --field-selector metadata.name=nope
expect_contains get_pods_field_none "$KERR" "No resources found in default namespace."

# ---- expose + services --------------------------------------------------------------------
k -n demo get services
expect_eq get_services_empty_rc "$KRC" 0
expect_contains get_services_empty "$KERR" "No resources found in demo namespace."
k -n demo expose deployment php-echo --port=80 --type=ClusterIP
expect_eq expose_out "$KOUT" "service/php-echo exposed"
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
api GET /api/v1/namespaces/demo/services/php-echo
expect_code expose_api 200
expect_eq expose_api_fields \
	"$(jqb '[.kind, .spec.type, .spec.selector.app, (.spec.ports[0].port|tostring), .spec.ports[0].protocol] | join(" ")')" \
	"Service ClusterIP php-echo 80 TCP"
kcheck get_services_rc -n demo get services
line_match get_services_header "$KOUT" '^NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE *$'
line_match get_services_row "$KOUT" '^php-echo +ClusterIP +[^ ]+ +[^ ]+ +80/TCP +[0-9]+[smhdy]'
kcheck get_svc_shortname -n demo get svc php-echo
line_match get_svc_shortname_row "$KOUT" '^php-echo +ClusterIP '

k create service clusterip foo --tcp=80:80
expect_eq create_service_out "$KOUT" "service/foo created"
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
api GET /api/v1/namespaces/default/services/foo
expect_eq create_service_api \
	"$(jqb '[(.spec.ports[0].port|tostring), (.spec.ports[0].targetPort|tostring), .spec.type, .spec.selector.app] | join(" ")')" \
	"80 80 ClusterIP foo"

# ---- scale --------------------------------------------------------------------------------
k -n demo scale deployment php-echo --replicas=5
expect_eq scale_out "$KOUT" "deployment.apps/php-echo scaled"
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
api GET /apis/apps/v1/namespaces/demo/deployments/php-echo
expect_eq scale_api_replicas "$(jqb .spec.replicas)" 5
expect_eq scale_api_kept_image "$(jqb '.spec.template.spec.containers[0].image')" nginx
api GET /apis/apps/v1/namespaces/demo/deployments/php-echo/scale
expect_eq scale_subresource "$(jqb '.kind + " " + .apiVersion + " " + (.spec.replicas|tostring)')" "Scale autoscaling/v1 5"

# ---- apply (client-side, strategic merge) ---------------------------------------------
k apply "${VALIDATE[@]}" -f "$DATA_DIR/web-v1.yaml"
expect_eq apply_created "$KOUT" "deployment.apps/web created"
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
api GET /apis/apps/v1/namespaces/default/deployments/web
expect_eq apply_created_api "$(jqb '[(.spec.replicas|tostring), (.spec.template.spec.containers|length|tostring), .spec.template.spec.containers[0].image] | join(" ")')" "2 2 nginx:1.25"
expect_match apply_last_applied "$(jqb '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]')" '"nginx:1\.25"'
# controllers write the deployment's status in between: compare what apply owns
gen1=$(jqb '(.metadata.generation|tostring) + " " + .metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]')

k apply "${VALIDATE[@]}" -f "$DATA_DIR/web-v1.yaml"
expect_eq apply_unchanged "$KOUT" "deployment.apps/web unchanged"
api GET /apis/apps/v1/namespaces/default/deployments/web
expect_eq apply_unchanged_spec "$(jqb '(.metadata.generation|tostring) + " " + .metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]')" "$gen1"

# a label set by someone else must survive the next apply (3-way merge)
api_json PATCH /apis/apps/v1/namespaces/default/deployments/web '{"metadata":{"labels":{"owner":"ops"}}}' \
	-H 'Content-Type: application/merge-patch+json'
expect_code apply_foreign_label 200
k apply "${VALIDATE[@]}" -f "$DATA_DIR/web-v2.yaml"
expect_eq apply_configured "$KOUT" "deployment.apps/web configured"
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
api GET /apis/apps/v1/namespaces/default/deployments/web
web='.spec.template.spec.containers[] | select(.name=="web")'
expect_eq apply_smp_image "$(jqb "$web | .image")" "nginx:1.26"
expect_eq apply_smp_ports_kept "$(jqb "[$web | .ports[] | .name + \":\" + (.containerPort|tostring)] | join(\",\")")" "http:80"
expect_eq apply_smp_env_kept "$(jqb "[$web | .env[] | .name + \"=\" + .value] | join(\",\")")" "GREETING=hello,MODE=test"
expect_eq apply_smp_sidecar_kept "$(jqb '[.spec.template.spec.containers[] | .name + "=" + .image] | join(",")')" "web=nginx:1.26,sidecar=busybox"
expect_eq apply_smp_foreign_label_kept "$(jqb .metadata.labels.owner)" ops
expect_eq apply_smp_replicas_kept "$(jqb .spec.replicas)" 2

k apply "${VALIDATE[@]}" -f "$DATA_DIR/web-v3.yaml"
expect_eq apply_delete_env "$KOUT" "deployment.apps/web configured"
api GET /apis/apps/v1/namespaces/default/deployments/web
expect_eq apply_smp_env_deleted "$(jqb "[$web | .env[] | .name + \"=\" + .value] | join(\",\")")" "MODE=test"
expect_eq apply_smp_ports_still "$(jqb "[$web | .ports[] | .containerPort] | join(\",\")")" "80"

k apply "${VALIDATE[@]}" -f "$DATA_DIR/multi.yaml"
expect_eq apply_multi_rc "$KRC" 0
line_match apply_multi_service "$KOUT" '^service/multi created$'
line_match apply_multi_deployment "$KOUT" '^deployment.apps/multi created$'
api GET /api/v1/namespaces/default/services/multi
expect_eq apply_multi_service_api "$(jqb '[(.spec.ports[0].port|tostring), (.spec.ports[0].targetPort|tostring), .spec.selector.app] | join(" ")')" "8080 80 multi"
api GET /apis/apps/v1/namespaces/default/deployments/multi
expect_eq apply_multi_deployment_api "$(jqb '.spec.template.spec.containers[0].command | join(" ")')" "httpd -f -p 80"
k apply "${VALIDATE[@]}" -f "$DATA_DIR/multi.yaml"
line_match apply_multi_unchanged "$KOUT" '^service/multi unchanged$'

# ---- describe, -o yaml ------------------------------------------------------------------
kcheck describe_deployment describe deployment web
line_match describe_deployment_name "$KOUT" '^Name: +web$'
line_match describe_deployment_replicas "$KOUT" '^Replicas: +2 desired'
kcheck describe_pod describe pod jumpbox
line_match describe_pod_name "$KOUT" '^Name: +jumpbox$'
kcheck describe_service -n demo describe service php-echo
line_match describe_service_type "$KOUT" '^Type: +ClusterIP$'
kcheck get_yaml_rc get deployment web -o yaml
line_match get_yaml_kind "$KOUT" '^kind: Deployment$'
line_match get_yaml_name "$KOUT" '^  name: web$'
line_match get_yaml_image "$KOUT" 'image: nginx:1\.26$'
kcheck get_ns get ns
line_match get_ns_default "$KOUT" '^default '
line_match get_ns_demo "$KOUT" '^demo '
kcheck get_nodes get nodes

# ---- get -w ----------------------------------------------------------------------------
( HOME="$T/home" timeout 8 "$KUBECTL" --cache-dir "$T/kcache" get pods -w >"$T/w.out" 2>"$T/w.err"; echo $? >"$T/w.rc" ) &
wpid=$!
if wait_until 50 grep -q '^jumpbox ' "$T/w.out" 2>/dev/null; then pass watch_initial_list; else fail watch_initial_list "$(cat "$T/w.out" "$T/w.err")"; fi
sleep 0.5
api_json POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"watched","labels":{"run":"watched"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_code watch_create_pod 201
if wait_until 50 grep -q '^watched ' "$T/w.out"; then pass watch_new_row; else fail watch_new_row "no row for the new pod: $(cat "$T/w.out" "$T/w.err")"; fi
wait "$wpid"
expect_eq watch_stream_kept_open "$(cat "$T/w.rc")" 124

# ---- delete ----------------------------------------------------------------------------
k delete pod jumpbox
expect_eq delete_pod_out "$KOUT" 'pod "jumpbox" deleted'
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
api GET /api/v1/namespaces/default/pods/jumpbox
expect_status delete_pod_gone 404 NotFound

k get pod nope
expect_eq get_missing_rc "$KRC" 1
expect_contains get_missing_msg "$KERR" 'Error from server (NotFound): pods "nope" not found'

k delete namespace demo
expect_eq delete_namespace_out "$KOUT" 'namespace "demo" deleted'
[ "$KRC" == 0 ] || echo "kubectl stderr: $KERR"
ns_gone() { api GET /api/v1/namespaces/demo; [ "$HTTP_CODE" == 404 ]; }
if wait_until 100 ns_gone; then pass delete_namespace_gone; else fail delete_namespace_gone "GET namespace demo: HTTP $HTTP_CODE ${BODY:0:300}"; fi
api GET /apis/apps/v1/namespaces/demo/deployments/php-echo
expect_code delete_namespace_contents_gone 404

# the server survived all of it
check server_still_healthy server_healthy
done_testing
