#!/bin/bash
# End-to-end: CustomResourceDefinitions with the real kubectl 1.32, curl and the
# Python client (Debian python3-kubernetes), against `minik8s server` (no agent:
# custom resources need none), from examples/crd.yaml and examples/crontab.yaml:
#  - the CRD is Established (NamesAccepted, storedVersions) and its kind served at
#    once; kubectl api-resources lists it; aggregated discovery (v2) has it with
#    its short names, categories and subresources;
#  - create / get / list with the printer columns (-o wide adds the priority-1
#    one), schema defaults, label and field selectors, dryRun, kubectl get -w
#    seeing an update, merge and JSON patches (strategic merge: 415);
#  - a bad object is a 422 naming the fields; unknown fields refused by
#    kubectl's Strict validation and pruned otherwise;
#  - status subresource (main endpoint ignores status, /status ignores spec,
#    generation counts spec changes), scale subresource and kubectl scale;
#  - the deprecated v1beta1 is served with apiVersion rewritten and a warning;
#  - kubectl explain of the custom kind; finalizers on custom objects;
#  - the definition survives a server restart; the Python client's
#    CustomObjectsApi and dynamic client do CRUD;
#  - deleting a namespace deletes its custom objects; deleting the CRD deletes
#    every object, then the CRD, and the kind is no longer served.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 20

KUBECTL=${KUBECTL:-/usr/bin/kubectl}
PY=/usr/bin/python3
for tool in "$KUBECTL" jq curl; do
	command -v "$tool" >/dev/null || { fail setup "$tool missing (scripts/deps.sh)"; done_testing; exit 0; }
done
[ -x "$MINIK8S" ] || { fail setup "build/minik8s missing"; done_testing; exit 0; }
start_server || { fail server_start "$(tail -5 "$T/server.log")"; done_testing; exit 0; }
mkdir -p "$T/home"
KC() { HOME="$T/home" timeout 30 "$KUBECTL" --cache-dir "$T/kcache" "$@"; }
CRD=crontabs.stable.example.com
G=/apis/stable.example.com

on_exit '[ "$FAILED" = 1 ] && tail -30 "$T/server.log" >&2'

# ---- the definition ------------------------------------------------------------
out=$(KC apply -f "$ROOT/examples/crd.yaml" 2>&1)
expect_contains crd_apply "$out" "customresourcedefinition.apiextensions.k8s.io/$CRD created"
# served as soon as the create returned (bounded poll, no timing assertion)
served() { api GET "$G/v1/namespaces/default/crontabs"; [ "$HTTP_CODE" == 200 ]; }
if wait_until 50 served; then pass crd_kind_served; else fail crd_kind_served "HTTP $HTTP_CODE ${BODY:0:200}"; fi
api GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$CRD"
expect_eq crd_established "$(jqb '[.status.conditions[] | select(.status=="True") | .type] | sort | join(",")')" \
	"Established,NamesAccepted"
expect_eq crd_stored_versions "$(jqb '.status.storedVersions | join(",")')" "v1"
expect_eq crd_accepted_names "$(jqb '.status.acceptedNames | [.kind,.listKind,.singular,(.shortNames|join(" "))] | join(",")')" \
	"CronTab,CronTabList,crontab,ct"
expect_eq crd_cleanup_finalizer "$(jqb '.metadata.finalizers | join(",")')" \
	"customresourcecleanup.apiextensions.k8s.io"
out=$(KC get crd 2>&1)
expect_match crd_get_columns "$out" "NAME +CREATED AT"$'\n'"$CRD +20[0-9-]+T"
# a definition kube-apiserver refuses
api_json POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions \
	'{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"foos.wrong.io"},
	  "spec":{"group":"example.io","scope":"Namespaced","names":{"plural":"foos","kind":"Foo"},
	  "versions":[{"name":"v1","served":true,"storage":false,"schema":{"openAPIV3Schema":{"type":"object","properties":{"spec":{"properties":{"a":{"type":"string"}}}}}}}]}}'
expect_status crd_invalid 422 Invalid
msg=$(jqb .message)
expect_contains crd_invalid_name "$msg" 'metadata.name: Invalid value: "foos.wrong.io": must be spec.names.plural+"."+spec.group'
expect_contains crd_invalid_storage "$msg" "must have exactly one version marked as storage version"
expect_contains crd_invalid_structural "$msg" \
	"spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"

# ---- discovery -------------------------------------------------------------------
out=$(KC api-resources 2>&1)
expect_match api_resources_crd "$out" $'\n''crontabs +ct +stable.example.com/v1 +true +CronTab'
expect_match api_resources_crd_kind "$out" 'customresourcedefinitions +crd,crds +apiextensions.k8s.io/v1 +false +CustomResourceDefinition'
ct=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -o "$T/agg.json" -w '%{content_type}' \
	-H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' "$API/apis")
expect_eq aggregated_content_type "$ct" "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
expect_eq aggregated_crd "$(jq -r '.items[] | select(.metadata.name=="stable.example.com") |
	[(.versions|map(.version)|join(",")),
	 (.versions[0].resources[0] | .resource, .scope, (.shortNames|join(",")), (.categories|join(",")),
	  (.subresources|map(.subresource)|join(",")), .responseKind.kind)] | join(" ")' "$T/agg.json")" \
	"v1,v1beta1 crontabs Namespaced ct all status,scale CronTab"
api GET /apis/stable.example.com
expect_eq group_preferred_version "$(jqb .preferredVersion.groupVersion)" "stable.example.com/v1"

# ---- objects -------------------------------------------------------------------------
out=$(KC apply -f "$ROOT/examples/crontab.yaml" 2>&1)
expect_contains cr_apply "$out" "crontab.stable.example.com/my-crontab created"
expect_eq cr_default_applied "$(KC get ct my-crontab -o jsonpath='{.spec.replicas}')" "1"
out=$(KC get crontabs 2>&1)
expect_match cr_printer_columns "$out" "^NAME +SPEC +REPLICAS +READY +AGE"$'\n'"my-crontab +\* \* \* \* \*/5 +1 +[0-9]+s"
out=$(KC get ct -o wide 2>&1)
expect_match cr_printer_columns_wide "$out" "^NAME +SPEC +REPLICAS +READY +IMAGE +AGE"$'\n'"my-crontab .* my-awesome-cron-image "
out=$(KC get all 2>&1)
expect_contains cr_category_all "$out" "crontab.stable.example.com/my-crontab"
KC label ct my-crontab tier=gold >/dev/null 2>&1
expect_eq cr_label_selector "$(KC get ct -l tier=gold -o name)" "crontab.stable.example.com/my-crontab"
expect_eq cr_label_selector_none "$(KC get ct -l tier=silver -o name 2>/dev/null)" ""
api GET "$G/v1/namespaces/default/crontabs?fieldSelector=metadata.name%3Dmy-crontab"
expect_eq cr_field_selector "$(jqb '[.kind, (.items|length|tostring)] | join(" ")')" "CronTabList 1"
api GET "$G/v1/namespaces/default/crontabs?fieldSelector=spec.size%3Dsmall"
expect_eq cr_selectable_field "$HTTP_CODE $(jqb '[.items[].metadata.name] | join(",")')" "200 my-crontab"
api GET "$G/v1/namespaces/default/crontabs?fieldSelector=spec.size%3Dlarge"
expect_eq cr_selectable_field_none "$(jqb '.items | length')" "0"
api GET "$G/v1/namespaces/default/crontabs?fieldSelector=spec.image%3Dx"
expect_eq cr_field_not_selectable "$HTTP_CODE $(jqb .message)" "400 field label not supported: spec.image"
api GET "$G/v1/crontabs?fieldSelector=metadata.namespace%3Dother"
expect_eq cr_field_selector_ns "$(jqb '.items|length')" "0"
api_json POST "$G/v1/namespaces/default/crontabs?dryRun=All" \
	'{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"dry"},"spec":{"cronSpec":"* * * * *","image":"x"}}'
expect_code cr_dry_run 201
api GET "$G/v1/namespaces/default/crontabs/dry"
expect_code cr_dry_run_not_stored 404

# watch: kubectl get -w sees an update
KC get ct my-crontab -w -o jsonpath='{.spec.image}{"\n"}' >"$T/watch.out" 2>&1 &
WPID=$!
_PIDS+=("$WPID")
wait_until 50 test -s "$T/watch.out"
KC patch ct my-crontab --type=merge -p '{"spec":{"image":"watched-image"}}' >/dev/null 2>&1
if wait_until 50 grep -q watched-image "$T/watch.out"; then pass cr_watch_update; else fail cr_watch_update "$(cat "$T/watch.out")"; fi
kill "$WPID" 2>/dev/null
# resume a watch from a resourceVersion
api GET "$G/v1/namespaces/default/crontabs/my-crontab"
rv=$(jqb .metadata.resourceVersion)
KC patch ct my-crontab --type=json -p '[{"op":"replace","path":"/spec/image","value":"json-patched"}]' >/dev/null 2>&1
api GET "$G/v1/namespaces/default/crontabs?watch=1&resourceVersion=$rv&timeoutSeconds=1"
expect_eq cr_watch_resume "$(jq -r 'select(.type=="MODIFIED") | .object.spec.image' <<<"$BODY" | tail -1)" "json-patched"
api_json PATCH "$G/v1/namespaces/default/crontabs/my-crontab" '{"spec":{"image":"smp"}}' \
	-H 'Content-Type: application/strategic-merge-patch+json'
expect_status cr_strategic_merge_415 415 UnsupportedMediaType

# server-side apply of a custom object: field owners from the CRD's schema
cat >"$T/ssa-ct.yaml" <<'Y'
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: applied-ct
spec:
  cronSpec: "*/2 * * * *"
  image: ssa-image
Y
out=$(KC apply --server-side -f "$T/ssa-ct.yaml" 2>&1)
expect_contains cr_ssa_create "$out" "crontab.stable.example.com/applied-ct serverside-applied"
expect_eq cr_ssa_managed "$(KC get ct applied-ct --show-managed-fields -o json |
	jq -r '[.metadata.managedFields[] | select(.manager=="kubectl") | .operation,
		(.fieldsV1["f:spec"] | keys | join(" "))] | join(",")')" "Apply,f:cronSpec f:image"
sed 's/ssa-image/other-image/' "$T/ssa-ct.yaml" >"$T/ssa-ct2.yaml"
out=$(KC apply --server-side --field-manager=other -f "$T/ssa-ct2.yaml" 2>&1); rc=$?
expect_eq cr_ssa_conflict_rc "$rc" 1
expect_contains cr_ssa_conflict_msg "$out" 'conflict with "kubectl": .spec.image'
KC apply --server-side --field-manager=other --force-conflicts -f "$T/ssa-ct2.yaml" >/dev/null 2>&1
expect_eq cr_ssa_forced "$(KC get ct applied-ct -o jsonpath='{.spec.image}')" "other-image"
KC delete ct applied-ct >/dev/null 2>&1

# ---- list paging: limit / continue, every page consistent with the first --------------------
for n in page-a page-b page-c; do
	api_json POST "$G/v1/namespaces/default/crontabs" \
		"{\"apiVersion\":\"stable.example.com/v1\",\"kind\":\"CronTab\",\"metadata\":{\"name\":\"$n\",\"labels\":{\"page\":\"yes\"}},\"spec\":{\"cronSpec\":\"* * * * *\",\"image\":\"$n\"}}"
done
api GET "$G/v1/namespaces/default/crontabs?labelSelector=page%3Dyes&limit=2"
tok=$(jqb .metadata.continue)
expect_eq cr_page_1 "$(jqb '[.items[].metadata.name] | join(",")')" "page-a,page-b"
KC patch ct page-c --type=merge -p '{"spec":{"image":"changed-later"}}' >/dev/null 2>&1
api DELETE "$G/v1/namespaces/default/crontabs/page-b"
api GET "$G/v1/namespaces/default/crontabs?labelSelector=page%3Dyes&limit=2&continue=$tok"
expect_eq cr_page_2_consistent "$(jqb '[(.items[] | .metadata.name + "=" + .spec.image), (.metadata.continue // "end")] | join(",")')" \
	"page-c=page-c,end"
out=$(KC get ct -l page=yes --chunk-size=1 -o name 2>&1)
expect_eq cr_kubectl_chunks "$(tr '\n' ' ' <<<"$out")" "crontab.stable.example.com/page-a crontab.stable.example.com/page-c "
api GET "$G/v1/namespaces/default/crontabs?limit=1&continue=not-a-token"
expect_status cr_page_bad_token 400 BadRequest

# ---- validation ------------------------------------------------------------------------
cat >"$T/bad.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: bad
spec:
  cronSpec: "* * * * */5"
  image: x
  replicas: "string"
  size: huge
EOF
out=$(KC apply -f "$T/bad.yaml" 2>&1)
expect_contains cr_invalid_type "$out" 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
expect_contains cr_invalid_enum "$out" 'spec.size: Unsupported value: "huge": supported values: "small", "large"'
api_json POST "$G/v1/namespaces/default/crontabs" \
	'{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"bad2"},"spec":{"cronSpec":"nope","replicas":11,"ports":[{"name":"a"},{"name":"a"}]}}'
expect_status cr_invalid_422 422 Invalid
expect_eq cr_invalid_fields "$(jqb '[.details.causes[].field] | sort | join(",")')" \
	"spec.cronSpec,spec.image,spec.ports[1],spec.replicas"
expect_eq cr_invalid_group "$(jqb '.details | [.group, .kind] | join(" ")')" "stable.example.com CronTab"
cat >"$T/unknown.yaml" <<'EOF'
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: unknown
spec:
  cronSpec: "* * * * *"
  image: x
  bogus: 1
EOF
out=$(KC create -f "$T/unknown.yaml" 2>&1)
expect_contains cr_unknown_field_strict "$out" 'unknown field "spec.bogus"'
KC create --validate=false -f "$T/unknown.yaml" >/dev/null 2>&1
api GET "$G/v1/namespaces/default/crontabs/unknown"
expect_eq cr_unknown_field_pruned "$(jqb '.spec | has("bogus")')" "false"

api_json POST "$G/v1/namespaces/default/crontabs?fieldValidation=Strict" \
	'{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"meta","bogus":1},"spec":{"cronSpec":"* * * * *","image":"x"}}'
expect_eq cr_unknown_metadata_field "$HTTP_CODE $(jqb .message)" \
	'400 CronTab in version "stable.example.com/v1" cannot be handled as a CronTab: strict decoding error: unknown field "metadata.bogus"'

# ---- status and scale ----------------------------------------------------------------------
gen0=$(KC get ct my-crontab -o jsonpath='{.metadata.generation}')
KC patch ct my-crontab --type=merge -p '{"status":{"replicas":5}}' >/dev/null 2>&1
api GET "$G/v1/namespaces/default/crontabs/my-crontab"
expect_eq cr_main_ignores_status "$(jqb '.status.replicas // "none"') $(jqb .metadata.generation)" "none $gen0"
KC patch ct my-crontab --subresource=status --type=merge \
	-p '{"spec":{"image":"ignored"},"status":{"replicas":2,"labelSelector":"app=cron","conditions":[{"type":"Ready","status":"True"}]}}' >/dev/null 2>&1
api GET "$G/v1/namespaces/default/crontabs/my-crontab"
expect_eq cr_status_subresource "$(jqb '[.status.replicas, .spec.image, .metadata.generation] | map(tostring) | join(" ")')" \
	"2 json-patched $gen0"
out=$(KC get ct my-crontab 2>&1)
expect_match cr_printer_filter_column "$out" "my-crontab +\* \* \* \* \*/5 +1 +True "
out=$(KC scale ct my-crontab --replicas=4 2>&1)
expect_contains cr_kubectl_scale "$out" "scaled"
api GET "$G/v1/namespaces/default/crontabs/my-crontab/scale"
expect_eq cr_scale_subresource "$(jqb '[.apiVersion, .kind, .spec.replicas, .status.replicas, .status.selector] | map(tostring) | join(" ")')" \
	"autoscaling/v1 Scale 4 2 app=cron"
expect_eq cr_generation_bumped "$(KC get ct my-crontab -o jsonpath='{.metadata.generation}')" "$((gen0 + 1))"

# ---- versions and schema -------------------------------------------------------------------
api GET "$G/v1beta1/namespaces/default/crontabs/my-crontab" -D "$T/hdr"
expect_eq cr_other_version "$(jqb .apiVersion) $(jqb .spec.replicas)" "stable.example.com/v1beta1 4"
expect_contains cr_deprecated_warning "$(cat "$T/hdr")" 'stable.example.com/v1beta1 CronTab is deprecated'
api_json POST "$G/v1beta1/namespaces/default/crontabs" \
	'{"apiVersion":"stable.example.com/v1beta1","kind":"CronTab","metadata":{"name":"beta"},"spec":{"cronSpec":"* * * * *","image":"b","free":{"x":1}}}'
expect_code cr_create_other_version 201
api GET "$G/v1/namespaces/default/crontabs/beta"
expect_eq cr_stored_read_at_v1 "$(jqb .apiVersion)" "stable.example.com/v1"
out=$(KC explain crontab.spec 2>&1)
expect_contains cr_explain "$out" "When to run, in cron syntax."
expect_match cr_explain_field "$out" "replicas[[:space:]]+<integer>"

# ---- finalizers ---------------------------------------------------------------------------
api_json POST "$G/v1/namespaces/default/crontabs" \
	'{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"held","finalizers":["example.com/hold"]},"spec":{"cronSpec":"* * * * *","image":"h"}}'
api DELETE "$G/v1/namespaces/default/crontabs/held"
api GET "$G/v1/namespaces/default/crontabs/held"
expect_eq cr_finalizer_holds "$(jqb '.metadata.deletionTimestamp != null')" "true"
api_json PATCH "$G/v1/namespaces/default/crontabs/held" '{"metadata":{"finalizers":null}}' \
	-H 'Content-Type: application/merge-patch+json'
api GET "$G/v1/namespaces/default/crontabs/held"
expect_code cr_finalizer_released 404

# ---- garbage collection by ownerReferences, both ways ---------------------------------------
api_json POST /api/v1/namespaces/default/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner-cm"}}'
cm_uid=$(jqb .metadata.uid)
api_json POST "$G/v1/namespaces/default/crontabs" \
	"{\"apiVersion\":\"stable.example.com/v1\",\"kind\":\"CronTab\",\"metadata\":{\"name\":\"owned\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"owner-cm\",\"uid\":\"$cm_uid\"}]},\"spec\":{\"cronSpec\":\"* * * * *\",\"image\":\"o\"}}"
ct_uid=$(jqb .metadata.uid)
api_json POST /api/v1/namespaces/default/configmaps \
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"dependent-cm\",\"ownerReferences\":[{\"apiVersion\":\"stable.example.com/v1\",\"kind\":\"CronTab\",\"name\":\"owned\",\"uid\":\"$ct_uid\"}]}}"
api DELETE /api/v1/namespaces/default/configmaps/owner-cm
gone() { api GET "$1"; [ "$HTTP_CODE" == 404 ]; }
if wait_until 100 gone "$G/v1/namespaces/default/crontabs/owned"; then pass gc_custom_dependent; else fail gc_custom_dependent "HTTP $HTTP_CODE"; fi
if wait_until 100 gone /api/v1/namespaces/default/configmaps/dependent-cm; then pass gc_custom_owner; else fail gc_custom_owner "HTTP $HTTP_CODE"; fi

# ---- restart: the definition is loaded from the store ------------------------------------------
stop_server
start_server || { fail server_restart "$(tail -5 "$T/server.log")"; done_testing; exit 0; }
api GET "$G/v1/namespaces/default/crontabs/my-crontab"
expect_eq cr_served_after_restart "$HTTP_CODE $(jqb .spec.replicas)" "200 4"

# ---- Python client ---------------------------------------------------------------------------
if ! "$PY" -c 'import kubernetes' 2>/dev/null; then
	fail python_client "python3-kubernetes missing (scripts/deps.sh)"
else
	HOME=$T timeout 60 "$PY" - "$KUBECONFIG" >"$T/py.out" 2>"$T/py.err" <<'EOF'
import sys
from kubernetes import client, config, dynamic
config.load_kube_config(sys.argv[1])
api = client.ApiClient()
co = client.CustomObjectsApi(api)
G, V, P = "stable.example.com", "v1", "crontabs"
def check(name, ok, detail=""):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + str(detail)))
body = {"apiVersion": "stable.example.com/v1", "kind": "CronTab",
        "metadata": {"name": "py"}, "spec": {"cronSpec": "0 * * * *", "image": "py-image"}}
o = co.create_namespaced_custom_object(G, V, "default", P, body)
check("py_create", o["metadata"]["name"] == "py" and o["spec"]["replicas"] == 1, o)
o = co.get_namespaced_custom_object(G, V, "default", P, "py")
check("py_get", o["spec"]["image"] == "py-image", o)
l = co.list_namespaced_custom_object(G, V, "default", P)
check("py_list", "py" in [i["metadata"]["name"] for i in l["items"]], l)
o = co.patch_namespaced_custom_object(G, V, "default", P, "py", {"spec": {"image": "py2"}})
check("py_patch", o["spec"]["image"] == "py2", o)
try:
    co.create_namespaced_custom_object(G, V, "default", P,
        {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "pybad"},
         "spec": {"cronSpec": "0 * * * *", "image": "x", "replicas": -1}})
    check("py_invalid", False, "created")
except client.exceptions.ApiException as e:
    check("py_invalid", e.status == 422 and "spec.replicas" in e.body, e.body)
dyn = dynamic.DynamicClient(api)
res = dyn.resources.get(api_version="stable.example.com/v1", kind="CronTab")
names = [i.metadata.name for i in res.get(namespace="default").items]
check("py_dynamic_list", "py" in names and "my-crontab" in names, names)
res.delete(name="py", namespace="default")
try:
    co.get_namespaced_custom_object(G, V, "default", P, "py")
    check("py_delete", False, "still there")
except client.exceptions.ApiException as e:
    check("py_delete", e.status == 404, e.status)
EOF
	rc=$?
	while IFS= read -r line; do
		case $line in
		"PASS: "*) pass "${line#PASS: }" ;;
		"FAIL: "*) rest=${line#FAIL: }; fail "${rest%%: *}" "${rest#*: }" ;;
		esac
	done <"$T/py.out"
	[ "$rc" == 0 ] || fail python_client_exit "rc $rc: $(tail -3 "$T/py.err")"
fi

# ---- namespace and definition deletion -------------------------------------------------------
KC create namespace crns >/dev/null 2>&1
KC -n crns apply -f "$ROOT/examples/crontab.yaml" >/dev/null 2>&1
expect_eq cr_in_namespace "$(KC -n crns get ct -o name 2>/dev/null)" "crontab.stable.example.com/my-crontab"
KC delete namespace crns --timeout=30s >/dev/null 2>&1
api GET "$G/v1/namespaces/crns/crontabs/my-crontab"
expect_code cr_deleted_with_namespace 404
# an object with a finalizer of its own holds the definition in Terminating
api_json POST "$G/v1/namespaces/default/crontabs" \
	'{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"blocker","finalizers":["example.com/hold"]},"spec":{"cronSpec":"* * * * *","image":"b"}}'
out=$(KC delete crd "$CRD" --wait=false 2>&1)
expect_contains crd_delete "$out" "deleted"
terminating() {
	api GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$CRD"
	[ "$(jqb '[.status.conditions[] | select(.type=="Terminating") | .status] | join("")')" == True ]
}
if wait_until 50 terminating; then pass crd_terminating; else fail crd_terminating "${BODY:0:300}"; fi
held() { api GET "$G/v1/namespaces/default/crontabs/blocker"; [ "$(jqb '.metadata.deletionTimestamp != null')" == true ]; }
if wait_until 50 held; then pass crd_cleanup_respects_finalizers; else fail crd_cleanup_respects_finalizers "${BODY:0:300}"; fi
api GET "$G/v1/namespaces/default/crontabs/my-crontab"
expect_code crd_cleanup_deleted_others 404
api_json POST "$G/v1/namespaces/default/crontabs" \
	'{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"late"},"spec":{"cronSpec":"* * * * *","image":"l"}}'
expect_status crd_terminating_no_create 405 MethodNotAllowed
api_json PATCH "$G/v1/namespaces/default/crontabs/blocker" '{"metadata":{"finalizers":null}}' \
	-H 'Content-Type: application/merge-patch+json'
crd_gone() { api GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$CRD"; [ "$HTTP_CODE" == 404 ]; }
wait_until 100 crd_gone
api GET "$G/v1/crontabs"
expect_code crd_kind_no_longer_served 404
api GET "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$CRD"
expect_code crd_gone 404
# recreated: none of the old objects come back
KC apply -f "$ROOT/examples/crd.yaml" >/dev/null 2>&1
wait_until 50 served
api GET "$G/v1/crontabs"
expect_eq crd_objects_deleted "$HTTP_CODE $(jqb '.items|length')" "200 0"

# a definition made behind kubectl's back: its warm discovery cache lacks the kind,
# and kubectl refreshes it on the miss
KC get crd >/dev/null 2>&1
api_json POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions \
	'{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.other.example.com"},
	  "spec":{"group":"other.example.com","scope":"Cluster","names":{"plural":"widgets","kind":"Widget"},
	  "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}'
expect_code crd_created_by_curl 201
out=$(KC get widgets 2>&1)
expect_eq kubectl_discovery_refresh "$out" "No resources found"
KC delete crd widgets.other.example.com >/dev/null 2>&1

check server_alive server_healthy
done_testing
