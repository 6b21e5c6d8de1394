#!/bin/bash
# End-to-end: server-side apply and managedFields with the real kubectl (1.32) and the
# Python client against `minik8s server` (controllers on, no agent): apply --server-side
# creates, managedFields as `kubectl get --show-managed-fields` shows them, a second
# manager's conflict (exit code, message naming the field and the manager), force,
# removal of a field dropped from the manifest, client-side -> server-side apply
# migration without conflict (and back), kubectl diff --server-side, Update entries of
# kubectl create and of the controllers, apply on /status, request checks over curl.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60

KUBECTL=${KUBECTL:-$(command -v kubectl || true)}
PY=/usr/bin/python3
[ -n "$KUBECTL" ] || { fail kubectl_present "kubectl not installed"; exit 1; }
if ! "$PY" -c 'import kubernetes' 2>/dev/null; then
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq python3-kubernetes >/dev/null 2>&1
fi
start_server || { fail server_start "minik8s server did not start"; exit 1; }
mkdir -p "$T/home"

DEP=/apis/apps/v1/namespaces/default/deployments
# mf MANAGER OPERATION JQPATH: the fieldsV1 node at JQPATH of MANAGER's OPERATION entry
# of the last api body ("null" if none)
mf() {
	jq -c --arg m "$1" --arg o "$2" \
		"[.metadata.managedFields[]? | select(.manager == \$m and .operation == \$o) | .fieldsV1$3][0]" \
		<<<"$BODY" 2>/dev/null
}

manifest() { # REPLICAS ENV_B(yes|no)
	cat >"$T/web.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: $1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports: [{containerPort: 80}]
        env:
        - {name: A, value: "1"}
EOF
	[ "$2" == yes ] && echo '        - {name: B, value: "2"}' >>"$T/web.yaml"
	return 0
}

# ---- apply --server-side creates; managedFields as upstream writes them
manifest 2 yes
kcheck ssa_create apply --server-side -f "$T/web.yaml"
expect_contains ssa_create_output "$KOUT" "deployment.apps/web serverside-applied"
kcheck ssa_show_managed get deployment web -o yaml --show-managed-fields
expect_contains ssa_show_manager "$KOUT" "manager: kubectl"
expect_contains ssa_show_operation "$KOUT" "operation: Apply"
expect_contains ssa_show_listmap_key "$KOUT" 'k:{"name":"nginx"}:'
expect_contains ssa_show_port_key "$KOUT" 'k:{"containerPort":80,"protocol":"TCP"}:'
k get deployment web -o yaml
if [[ "$KOUT" != *managedFields* ]]; then pass ssa_hidden_by_default; else fail ssa_hidden_by_default "managedFields shown without --show-managed-fields"; fi
api GET "$DEP/web"
expect_eq ssa_owns_replicas "$(mf kubectl Apply '."f:spec"."f:replicas"')" "{}"
expect_eq ssa_item_dot "$(mf kubectl Apply '."f:spec"."f:template"."f:spec"."f:containers"."k:{\"name\":\"nginx\"}"."."')" "{}"
expect_eq ssa_apply_no_apiversion_in_identity "$(jq -r '.metadata.managedFields[] | select(.manager=="kubectl") | .apiVersion' <<<"$BODY")" "apps/v1"
# defaulted fields belong to nobody
expect_eq ssa_defaults_unowned "$(mf kubectl Apply '."f:spec"."f:progressDeadlineSeconds"')" "null"

# the deployment controller's status writes: an Update entry on /status
owner_status() {
	api GET "$DEP/web"
	[ "$(jq -r '[.metadata.managedFields[]? | select(.manager=="kube-controller-manager" and .subresource=="status")] | length' <<<"$BODY")" == 1 ]
}
if wait_until 100 owner_status; then pass ssa_controller_status_entry; else fail ssa_controller_status_entry "no kube-controller-manager status entry: ${BODY:0:600}"; fi

# ---- a second manager changing replicas: conflict, then force
cat >"$T/other.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 3}
EOF
k apply --server-side --field-manager=other -f "$T/other.yaml"
expect_eq ssa_conflict_exit "$KRC" 1
expect_contains ssa_conflict_message "$KERR" 'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas'
expect_contains ssa_conflict_hint "$KERR" "--force-conflicts"
api GET "$DEP/web"
expect_eq ssa_conflict_unchanged "$(jqb .spec.replicas)" 2
kcheck ssa_force apply --server-side --field-manager=other --force-conflicts -f "$T/other.yaml"
api GET "$DEP/web"
expect_eq ssa_force_value "$(jqb .spec.replicas)" 3
expect_eq ssa_force_new_owner "$(mf other Apply '."f:spec"."f:replicas"')" "{}"
expect_eq ssa_force_old_owner_lost "$(mf kubectl Apply '."f:spec"."f:replicas"')" "null"

# the same conflict over plain HTTP: Status 409 Conflict with a cause per field
printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":7}}' >"$T/p.json"
api PATCH "$DEP/web?fieldManager=third" -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/p.json"
expect_status ssa_http_conflict 409 Conflict
expect_eq ssa_http_cause_field "$(jqb '.details.causes[0].field')" ".spec.replicas"
expect_eq ssa_http_cause_type "$(jqb '.details.causes[0].type')" "FieldManagerConflict"
expect_eq ssa_http_cause_message "$(jqb '.details.causes[0].message')" 'conflict with "other"'

# ---- a field dropped from the manifest goes (no one else owns env B)
manifest 2 no
sed -i '/replicas:/d' "$T/web.yaml"
kcheck ssa_drop_apply apply --server-side -f "$T/web.yaml"
api GET "$DEP/web"
expect_eq ssa_dropped_env "$(jqb '[.spec.template.spec.containers[0].env[].name] | join(",")')" "A"
expect_eq ssa_kept_coowned_replicas "$(jqb .spec.replicas)" 3

# ---- kubectl diff --server-side: a dry-run apply
manifest 2 no
sed -i 's/nginx:1.27/nginx:1.28/' "$T/web.yaml"
k diff --server-side --force-conflicts -f "$T/web.yaml"
expect_eq ssa_diff_exit "$KRC" 1
line=$(grep -E '^\+ +image: nginx:1.28' <<<"$KOUT")
if [ -n "$line" ]; then pass ssa_diff_shows_change; else fail ssa_diff_shows_change "diff: ${KOUT:0:600} ${KERR:0:300}"; fi
api GET "$DEP/web"
expect_eq ssa_diff_no_write "$(jqb '.spec.template.spec.containers[0].image')" "nginx:1.27"

# ---- client-side apply -> server-side apply, without conflicts, and back
cat >"$T/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, labels: {tier: a}}
data: {k1: v1, k2: v2}
EOF
kcheck csa_create apply -f "$T/cm.yaml"
api GET /api/v1/namespaces/default/configmaps/cfg
expect_eq csa_update_entry "$(mf kubectl-client-side-apply Update '."f:data"."f:k1"')" "{}"
sed -i 's/k1: v1/k1: changed/' "$T/cm.yaml"
kcheck csa_to_ssa apply --server-side -f "$T/cm.yaml"
api GET /api/v1/namespaces/default/configmaps/cfg
expect_eq csa_to_ssa_value "$(jqb .data.k1)" changed
expect_eq csa_to_ssa_owner "$(mf kubectl Apply '."f:data"."f:k1"')" "{}"
expect_eq csa_to_ssa_old_entry_gone "$(jq '[.metadata.managedFields[] | select(.manager=="kubectl-client-side-apply")] | length' <<<"$BODY")" 0
expect_contains csa_annotation_follows "$(jqb '.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]')" '"k1":"changed"'
sed -i 's/, k2: v2//' "$T/cm.yaml"
kcheck ssa_drop_after_migration apply --server-side -f "$T/cm.yaml"
api GET /api/v1/namespaces/default/configmaps/cfg
expect_eq ssa_drop_after_migration_value "$(jqb '.data | keys | join(",")')" "k1"
sed -i 's/k1: changed/k1: again/' "$T/cm.yaml"
kcheck ssa_to_csa apply -f "$T/cm.yaml"
api GET /api/v1/namespaces/default/configmaps/cfg
expect_eq ssa_to_csa_value "$(jqb .data.k1)" again

# ---- other kinds: a cluster-scoped Namespace and a Service (ports keyed by port and
# protocol), and /scale writes recorded with their subresource
cat >"$T/more.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: ssa-ns, labels: {team: a}}
---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: ssa-ns}
spec:
  selector: {app: dns}
  ports:
  - {name: dns-udp, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53}
EOF
kcheck ssa_other_kinds apply --server-side -f "$T/more.yaml"
api GET /api/v1/namespaces/ssa-ns/services/dns
expect_eq ssa_service_port_keys "$(mf kubectl Apply '."f:spec"."f:ports" | keys | join(" ")' | jq -r .)" \
	'k:{"port":53,"protocol":"TCP"} k:{"port":53,"protocol":"UDP"}'
api GET /api/v1/namespaces/ssa-ns
expect_eq ssa_namespace_label "$(mf kubectl Apply '."f:metadata"."f:labels"."f:team"')" "{}"
kcheck scale_entry scale deployment web --replicas=4
api GET "$DEP/web"
# kubectl scale sends no fieldManager: its User-Agent (kubectl/v1.32...) names it
expect_eq scale_entry_subresource "$(jq -r '[.metadata.managedFields[] | select(.subresource=="scale") | .manager] | join(",")' <<<"$BODY")" kubectl
expect_eq scale_entry_owns_replicas "$(jq -c '[.metadata.managedFields[] | select(.subresource=="scale") | .fieldsV1]' <<<"$BODY")" '[{"f:spec":{"f:replicas":{}}}]'

# ---- Update entries of ordinary writes
kcheck create_entry create configmap made --from-literal=a=b
api GET /api/v1/namespaces/default/configmaps/made
expect_eq create_entry_manager "$(mf kubectl-create Update '."f:data"."f:a"')" "{}"
expect_eq create_entry_time "$(jq -r '.metadata.managedFields[0].time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")' <<<"$BODY")" true
# a user agent without fieldManager names the manager
api_json PATCH /api/v1/namespaces/default/configmaps/made '{"data":{"a":"c"}}' \
	-H 'Content-Type: application/merge-patch+json' -H 'User-Agent: my-tool/1.0 (linux)'
expect_eq ua_manager "$(mf my-tool Update '."f:data"."f:a"')" "{}"
expect_eq ua_manager_took_field "$(mf kubectl-create Update '."f:data"')" "null"
# a client sending managedFields: [] resets them
api_json PATCH /api/v1/namespaces/default/configmaps/made '{"metadata":{"managedFields":[]},"data":{"z":"1"}}' \
	-H 'Content-Type: application/merge-patch+json' -H 'User-Agent: resetter/1'
expect_eq reset_managed "$(jq -c '[.metadata.managedFields[].manager]' <<<"$BODY")" '["resetter"]'

# ---- request checks
api PATCH "$DEP/web" -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/p.json"
expect_status apply_needs_manager 422 Invalid
expect_contains apply_needs_manager_msg "$BODY" 'fieldManager: Required value: is required for apply patch'
api_json PATCH "$DEP/web?force=true" '{"spec":{"replicas":1}}' -H 'Content-Type: application/merge-patch+json'
expect_status force_only_apply 422 Invalid
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yamlcm\ndata:\n  x: "1"\n' >"$T/y.yaml"
api PATCH "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=curl&dryRun=All" \
	-H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/y.yaml"
expect_code apply_dry_create 201
api GET /api/v1/namespaces/default/configmaps/yamlcm
expect_code apply_dry_nothing_stored 404
api PATCH "/api/v1/namespaces/default/configmaps/yamlcm?fieldManager=curl" \
	-H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/y.yaml"
expect_code apply_yaml_create 201
expect_eq apply_yaml_value "$(jqb .data.x)" 1
printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicaz":7}}' >"$T/u.json"
api PATCH "$DEP/web?fieldManager=x&fieldValidation=Strict" -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/u.json"
expect_code apply_unknown_field_strict 400
expect_contains apply_unknown_field_named "$BODY" "spec.replicaz"
printf '{"apiVersion":"apps/v2","kind":"Deployment","metadata":{"name":"web"}}' >"$T/v.json"
api PATCH "$DEP/web?fieldManager=x" -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/v.json"
expect_code apply_wrong_version 400
printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dup"},"spec":{"containers":[{"name":"x","image":"i"},{"name":"x","image":"j"}]}}' >"$T/dup.json"
api PATCH "/api/v1/namespaces/default/pods/dup?fieldManager=x" -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/dup.json"
expect_status apply_duplicate_key 400 BadRequest
expect_contains apply_duplicate_key_msg "$BODY" 'duplicate entries for key [name=\"x\"]'
printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"bad"},"spec":{"replicas":"x"}}' >"$T/inv.json"
api PATCH "$DEP/bad?fieldManager=x" -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/inv.json"
expect_status apply_invalid_object 422 Invalid
# apply on /status: an entry with subresource status, spec untouched
printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":9},"status":{"observedGeneration":42}}' >"$T/s.json"
api PATCH "$DEP/web/status?fieldManager=status-writer&force=true" -H 'Content-Type: application/apply-patch+yaml' --data-binary @"$T/s.json"
expect_code apply_status 200
expect_eq apply_status_value "$(jqb .status.observedGeneration)" 42
expect_eq apply_status_spec_untouched "$(jqb .spec.replicas)" 4
expect_eq apply_status_entry "$(jq -r '.metadata.managedFields[] | select(.manager=="status-writer") | .subresource' <<<"$BODY")" status

# ---- the Python client: dynamic client server_side_apply (22.x's REST layer sends
# an apply body only as text: the YAML is JSON here)
cat >"$T/ssa.py" <<'EOF'
import json, sys
from kubernetes import config, dynamic
from kubernetes.client import api_client
client = dynamic.DynamicClient(api_client.ApiClient(configuration=config.load_kube_config(sys.argv[1])))
cms = client.resources.get(api_version="v1", kind="ConfigMap")
body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "pycm"}, "data": {"from": "python"}}
r = cms.server_side_apply(body=json.dumps(body), name="pycm", namespace="default", field_manager="py-apply")
print("DATA", r.data["from"])
print("MANAGER", r.metadata.managedFields[0].manager, r.metadata.managedFields[0].operation)
body["data"]["from"] = "python2"
try:
    cms.server_side_apply(body=json.dumps(body), name="pycm", namespace="default", field_manager="py-other")
    print("CONFLICT none")
except Exception as e:
    print("CONFLICT", getattr(e, "status", "?"))
r = cms.server_side_apply(body=json.dumps(body), name="pycm", namespace="default", field_manager="py-other", force_conflicts=True)
print("FORCED", r.data["from"])
EOF
PYOUT=$(HOME="$T/home" timeout 60 "$PY" "$T/ssa.py" "$KUBECONFIG" 2>&1)
expect_contains py_apply_created "$PYOUT" "DATA python"
expect_contains py_apply_manager "$PYOUT" "MANAGER py-apply Apply"
expect_contains py_apply_conflict "$PYOUT" "CONFLICT 409"
expect_contains py_apply_forced "$PYOUT" "FORCED python2"

check server_still_healthy server_healthy
done_testing
