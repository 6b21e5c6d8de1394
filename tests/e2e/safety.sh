#!/bin/bash
# "Nothing lost, nobody in": one process per data dir and run dir (lock files), no
# shared API port (no SO_REUSEPORT); dryRun honoured by every mutating verb of every
# served kind (curl table and kubectl --dry-run=server), nothing written; invalid
# UTF-8 never stored nor emitted; errors of the HTTP layer (414, 431, 413) are
# Kubernetes Status objects. tests/e2e/safety_reaper.sh covers the agent's crash.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60
KUBECTL=${KUBECTL:-/usr/bin/kubectl}
start_server --disable-controllers || { fail server_start "minik8s server did not start"; exit 1; }

CORE=/api/v1
APPS=/apis/apps/v1
MERGE=(-H 'Content-Type: application/merge-patch+json')

# ---- one process per data dir / run dir / port ------------------------------------------
P2=$(free_port)
out=$(timeout 30 "$MINIK8S" server --data-dir "$DATA" --bind-address 127.0.0.1 --https-listen-port "$P2" \
	--write-kubeconfig "$T/kc2" --disable-agent --disable-controllers 2>&1)
rc=$?
expect_eq lock_second_server_exits_1 "$rc" 1
expect_contains lock_second_server_message "$out" "data dir $DATA is in use by pid $SERVER_PID"
check lock_second_server_wrote_no_kubeconfig test ! -e "$T/kc2"
expect_eq lock_file_holds_pid "$(tr -d '\n' <"$DATA/lock")" "$SERVER_PID"
# the first server still serves and writes normally
api_json POST $CORE/namespaces '{"metadata":{"name":"lock-probe"}}'
expect_code lock_first_server_still_writes 201

# the same port with another data dir: a clear "address in use", not a shared port
out=$(timeout 30 "$MINIK8S" server --data-dir "$T/data2" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
	--write-kubeconfig "$T/kc3" --disable-agent --disable-controllers 2>&1)
expect_eq same_port_exits_1 "$?" 1
expect_contains same_port_message "$out" "listen on 127.0.0.1:$PORT: Address already in use"
creates_ok=0
for i in 1 2 3 4 5 6; do
	api_json POST $CORE/namespaces "{\"metadata\":{\"name\":\"port-probe-$i\"}}"
	[ "$HTTP_CODE" == 201 ] && creates_ok=$((creates_ok + 1))
done
expect_eq same_port_creates_all_succeed "$creates_ok" 6

# the agent's run dir: a second agent on it exits with the holder's pid
mkdir -p "$T/run"
python3 -c 'import fcntl, os, sys, time
f = open(sys.argv[1], "w"); fcntl.flock(f, fcntl.LOCK_EX); f.write("%d\n" % os.getpid()); f.flush()
time.sleep(60)' "$T/run/lock" &
HOLDER=$!
_PIDS+=("$HOLDER")
holding() { grep -q "FLOCK .* WRITE $HOLDER " /proc/locks; }
wait_until 100 holding
out=$(timeout 30 "$MINIK8S" agent --server "$API" --token x --ca-file "$CACERT" --run-dir "$T/run" \
	--data-dir "$T/agentdata" 2>&1)
expect_eq lock_run_dir_exits_1 "$?" 1
expect_contains lock_run_dir_message "$out" "run dir $T/run is in use by pid"
out=$("$MINIK8S" status --run-dir "$T/run" 2>&1)
expect_contains status_finds_lock_holder "$out" "running, pid $HOLDER"
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
out=$("$MINIK8S" status --run-dir "$T/run" 2>&1)
expect_contains status_after_holder_exit "$out" "not running"
# a crashed holder leaves its pid in the file but no lock: the next one starts
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
start_server --disable-controllers
check lock_released_by_crash server_healthy
expect_eq lock_file_new_pid "$(tr -d '\n' <"$DATA/lock")" "$SERVER_PID"
# `up` on a data dir in use says so before starting anything
out=$(timeout 60 "$MINIK8S" up --data-dir "$DATA" --run-dir "$T/uprun" --write-kubeconfig "$T/kc4" \
	--bind-address 127.0.0.1 --https-listen-port "$(free_port)" --disable-agent 2>&1)
expect_eq lock_up_exits_1 "$?" 1
expect_contains lock_up_message "$out" "data dir $DATA is in use by pid $SERVER_PID"
check lock_up_started_nothing test ! -e "$T/uprun/minik8s.pid"

# ---- dryRun: every mutating verb x every kind, nothing written ------------------------------
api_json POST $CORE/namespaces '{"metadata":{"name":"dry"}}'
declare -A BASE=([pods]=$CORE/namespaces/dry/pods [services]=$CORE/namespaces/dry/services
	[endpoints]=$CORE/namespaces/dry/endpoints [events]=$CORE/namespaces/dry/events
	[deployments]=$APPS/namespaces/dry/deployments [replicasets]=$APPS/namespaces/dry/replicasets
	[nodes]=$CORE/nodes [namespaces]=$CORE/namespaces)
declare -A KIND=([pods]=Pod [services]=Service [endpoints]=Endpoints [events]=Event
	[deployments]=Deployment [replicasets]=ReplicaSet [nodes]=Node [namespaces]=Namespace)
declare -A GV=([deployments]=apps/v1 [replicasets]=apps/v1)
declare -A SPEC=(
	[pods]='"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}'
	[services]='"spec":{"type":"NodePort","selector":{"app":"x"},"ports":[{"port":80,"protocol":"TCP"}]}'
	[endpoints]='"subsets":[{"addresses":[{"ip":"10.244.0.5"}],"ports":[{"port":80,"protocol":"TCP"}]}]'
	[events]='"involvedObject":{"kind":"Pod","namespace":"dry","name":"x"},"reason":"Testing","message":"hello","type":"Normal"'
	[deployments]='"spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}'
	[replicasets]='"spec":{"replicas":1,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}'
	[nodes]='"spec":{}'
	[namespaces]='"spec":{}')
declare -A HAS_STATUS=([pods]=1 [services]=1 [deployments]=1 [replicasets]=1 [nodes]=1 [namespaces]=1)
declare -A HAS_SCALE=([deployments]=1 [replicasets]=1)
KINDS=(pods services endpoints events deployments replicasets nodes namespaces)
manifest() { echo "{\"apiVersion\":\"${GV[$1]:-v1}\",\"kind\":\"${KIND[$1]}\",\"metadata\":{\"name\":\"$2\",\"labels\":{\"t\":\"dry\"}},${SPEC[$1]}}"; }
# the store's revision: every write moves it
revision() { api GET "$CORE/namespaces"; jqb .metadata.resourceVersion; }
for r in "${KINDS[@]}"; do
	api_json POST "${BASE[$r]}" "$(manifest "$r" "dry-$r")"
	expect_code "dry_${r}_setup" 201
done
# (the pod is bound to a node: a real delete would mark it with a deletionTimestamp)
rev0=$(revision)
for r in "${KINDS[@]}"; do
	b=${BASE[$r]} name=dry-$r
	api GET "$b/$name"
	obj=$BODY rv=$(jqb .metadata.resourceVersion)

	api_json POST "$b?dryRun=All" "$(manifest "$r" "dry-new-$r")"
	expect_code "dry_${r}_create_201" 201
	expect_eq "dry_${r}_create_body" "$(jqb '.metadata.name + " " + (.metadata.uid|length|tostring)')" "dry-new-$r 36"
	[ "$r" == services ] && expect_eq dry_services_create_allocates_nothing \
		"$(jqb '(.spec.clusterIP // "") + "/" + ((.spec.ports[0].nodePort // 0)|tostring)')" "/0"
	api GET "$b/dry-new-$r"
	expect_status "dry_${r}_create_not_stored" 404 NotFound

	api_json PUT "$b/$name?dryRun=All" "$(jq -c '.metadata.labels.v="put"' <<<"$obj")"
	expect_code "dry_${r}_update_200" 200
	expect_eq "dry_${r}_update_body" "$(jqb .metadata.labels.v)" put
	api_json PATCH "$b/$name?dryRun=All" '{"metadata":{"labels":{"v":"patch"}}}' "${MERGE[@]}"
	expect_code "dry_${r}_patch_200" 200
	expect_eq "dry_${r}_patch_body" "$(jqb .metadata.labels.v)" patch
	if [ -n "${HAS_STATUS[$r]:-}" ]; then
		api_json PATCH "$b/$name/status?dryRun=All" '{"status":{"phase":"Dry"}}' "${MERGE[@]}"
		expect_code "dry_${r}_status_patch_200" 200
		api_json PUT "$b/$name/status?dryRun=All" "$(jq -c '.status.phase="Dry"' <<<"$obj")"
		expect_code "dry_${r}_status_put_200" 200
	fi
	if [ -n "${HAS_SCALE[$r]:-}" ]; then
		api_json PUT "$b/$name/scale?dryRun=All" '{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"'"$name"'","namespace":"dry"},"spec":{"replicas":7}}'
		expect_eq "dry_${r}_scale_put" "$HTTP_CODE $(jqb .spec.replicas)" "200 7"
		api_json PATCH "$b/$name/scale?dryRun=All" '{"spec":{"replicas":9}}' "${MERGE[@]}"
		expect_eq "dry_${r}_scale_patch" "$HTTP_CODE $(jqb .spec.replicas)" "200 9"
	fi
	api DELETE "$b/$name?dryRun=All"
	expect_eq "dry_${r}_delete_query" "$HTTP_CODE $(jqb .metadata.name)" "200 $name"
	api_json DELETE "$b/$name" '{"kind":"DeleteOptions","apiVersion":"v1","dryRun":["All"],"propagationPolicy":"Foreground"}'
	expect_eq "dry_${r}_delete_body" "$HTTP_CODE $(jqb .metadata.name)" "200 $name"
	if [ "$r" != namespaces ]; then
		api DELETE "$b?dryRun=All&labelSelector=t%3Ddry"
		expect_eq "dry_${r}_deletecollection" "$HTTP_CODE $(jqb '[.items[].metadata.name]|join(",")')" "200 $name"
	fi
	api GET "$b/$name"
	expect_eq "dry_${r}_unchanged" "$(jqb '[.metadata.resourceVersion, (.metadata.labels.v // "-"), (.metadata.deletionTimestamp // "-"), ((.metadata.finalizers // [])|length|tostring)]|join(" ")')" "$rv - - 0"
	for verb in POST PUT PATCH DELETE; do
		path=$b ct=(); [ "$verb" != POST ] && path=$b/$name
		[ "$verb" == PATCH ] && ct=("${MERGE[@]}")
		api_json "$verb" "$path?dryRun=Foo" "$(manifest "$r" "$name")" "${ct[@]}"
		opts=$(case $verb in POST) echo Create ;; PUT) echo Update ;; PATCH) echo Patch ;; DELETE) echo Delete ;; esac)Options
		expect_status "dry_${r}_${verb}_bad_value" 422 Invalid
		expect_eq "dry_${r}_${verb}_bad_value_details" "$(jqb '.details.group + " " + .details.kind + " " + .details.causes[0].field')" "meta.k8s.io $opts dryRun"
	done
done
expect_contains dry_bad_value_message "$(jqb .message)" 'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Foo"}: supported values: "All"'
api_json DELETE "${BASE[pods]}/dry-pods" '{"dryRun":["All","Bar"]}'
expect_status dry_body_bad_value 422 Invalid
api DELETE "${BASE[pods]}/dry-pods?dryRun=All&dryRun=x"
expect_status dry_query_second_value_bad 422 Invalid
# a dry-run service is checked like a real one: the addresses it asks for must be free
api GET "${BASE[services]}/dry-services"
taken_ip=$(jqb .spec.clusterIP) taken_port=$(jqb '.spec.ports[0].nodePort')
api_json POST "${BASE[services]}?dryRun=All" '{"metadata":{"name":"dry-ip"},"spec":{"clusterIP":"'"$taken_ip"'","ports":[{"port":80}]}}'
expect_status dry_service_taken_ip 422 Invalid
expect_contains dry_service_taken_ip_msg "$(jqb .message)" "provided IP is already allocated"
api_json POST "${BASE[services]}?dryRun=All" '{"metadata":{"name":"dry-np"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":'"$taken_port"'}]}}'
expect_status dry_service_taken_nodeport 422 Invalid
api_json POST "${BASE[services]}?dryRun=All" '{"metadata":{"name":"dry-free"},"spec":{"clusterIP":"10.96.0.200","ports":[{"port":80}]}}'
expect_eq dry_service_free_ip "$HTTP_CODE $(jqb .spec.clusterIP)" "201 10.96.0.200"
expect_eq dry_nothing_written "$(revision)" "$rev0"

# kubectl --dry-run=server, each verb
KC=("$KUBECTL" --kubeconfig "$KUBECONFIG" -n dry)
out=$("${KC[@]}" create deployment kdry --image=busybox --dry-run=server -o jsonpath='{.metadata.uid}' 2>&1)
expect_match kubectl_dry_create "$out" '^[0-9a-f-]{36}$'
out=$("${KC[@]}" delete pod dry-pods --dry-run=server 2>&1)
expect_contains kubectl_dry_delete "$out" 'pod "dry-pods" deleted (server dry run)'
out=$("${KC[@]}" delete deployments,replicasets -l t=dry --dry-run=server 2>&1)
expect_contains kubectl_dry_delete_selector "$out" 'deployment.apps "dry-deployments" deleted (server dry run)'
out=$("${KC[@]}" label pod dry-pods v=kubectl --dry-run=server 2>&1)
expect_contains kubectl_dry_label "$out" 'pod/dry-pods labeled (server dry run)'
out=$("${KC[@]}" scale deployment dry-deployments --replicas=5 --dry-run=server 2>&1)
expect_contains kubectl_dry_scale "$out" 'deployment.apps/dry-deployments scaled (server dry run)'
"${KC[@]}" get service dry-services -o json | jq '.metadata.labels.v="apply"' >"$T/svc.json"
out=$("${KC[@]}" apply -f "$T/svc.json" --dry-run=server 2>&1)
expect_contains kubectl_dry_apply "$out" 'service/dry-services configured (server dry run)'
out=$("${KC[@]}" replace -f "$T/svc.json" --dry-run=server 2>&1)
expect_contains kubectl_dry_replace "$out" 'service/dry-services replaced (server dry run)'
out=$("$KUBECTL" --kubeconfig "$KUBECONFIG" delete namespace dry --dry-run=server 2>&1)
expect_contains kubectl_dry_delete_namespace "$out" 'namespace "dry" deleted (server dry run)'
expect_eq kubectl_dry_nothing_written "$(revision)" "$rev0"
api_json POST "${BASE[services]}" '{"metadata":{"name":"real-free"},"spec":{"clusterIP":"10.96.0.200","ports":[{"port":80}]}}'
expect_code dry_service_ip_still_free 201
api GET "${BASE[pods]}/dry-pods"
expect_eq kubectl_dry_pod_still_there "$HTTP_CODE $(jqb '.metadata.deletionTimestamp // "-"')" "200 -"

# ---- invalid UTF-8: replaced by U+FFFD (as Go's decoder does), never stored or emitted ------
# strict_json: the last reply is valid UTF-8 and valid JSON (jq would repair it silently)
strict_json() { python3 -c 'import sys, json; json.loads(open(sys.argv[1], "rb").read().decode("utf-8"))' "$T/.body" 2>/dev/null; }
FFFD=$'\xef\xbf\xbd'
api_json POST $CORE/namespaces $'{"metadata":{"name":"utf","annotations":{"note":"a\xffb","trunc":"x\xe2\x82","over":"\xc0\x80","sur":"\xed\xa0\x80","ok":"\xf0\x9f\x98\x80"}}}'
expect_code utf8_create 201
check utf8_create_reply_strict strict_json
api GET $CORE/namespaces/utf
check utf8_get_strict strict_json
expect_eq utf8_replaced "$(jqb .metadata.annotations.note)" "a${FFFD}b"
expect_eq utf8_truncated_sequence "$(jqb .metadata.annotations.trunc)" "x${FFFD}${FFFD}"
expect_eq utf8_overlong "$(jqb .metadata.annotations.over)" "${FFFD}${FFFD}"
expect_eq utf8_surrogate "$(jqb .metadata.annotations.sur)" "${FFFD}${FFFD}${FFFD}"
expect_eq utf8_valid_kept "$(jqb .metadata.annotations.ok)" $'\xf0\x9f\x98\x80'
# a lone UTF-16 surrogate escape reads as U+FFFD too (Go's decoder), a pair as its character
api_json POST $CORE/namespaces '{"metadata":{"name":"utfesc","annotations":{"lone":"x\ud800y","pair":"\ud83d\ude00"}}}'
expect_eq utf8_lone_surrogate_escape "$HTTP_CODE $(jqb .metadata.annotations.lone)" "201 x${FFFD}y"
expect_eq utf8_surrogate_pair_escape "$(jqb .metadata.annotations.pair)" $'\xf0\x9f\x98\x80'
api_json PATCH $CORE/namespaces/utf $'{"metadata":{"annotations":{"merge":"m\xfe"}}}' "${MERGE[@]}"
expect_eq utf8_merge_patch "$HTTP_CODE $(jqb .metadata.annotations.merge)" "200 m${FFFD}"
api_json PATCH $CORE/namespaces/utf $'[{"op":"add","path":"/metadata/annotations/jp","value":"j\x80"}]' -H 'Content-Type: application/json-patch+json'
expect_eq utf8_json_patch "$HTTP_CODE $(jqb .metadata.annotations.jp)" "200 j${FFFD}"
api_json PATCH $CORE/namespaces/utf $'{"metadata":{"annotations":{"smp":"s\xff"}}}' -H 'Content-Type: application/strategic-merge-patch+json'
expect_eq utf8_strategic_patch "$HTTP_CODE $(jqb .metadata.annotations.smp)" "200 s${FFFD}"
api GET $CORE/namespaces/utf
api_json PUT $CORE/namespaces/utf "$(jq -c '.metadata.annotations.put="p"' <<<"$BODY" | sed $'s/"p"/"p\xff"/')"
expect_eq utf8_update "$HTTP_CODE $(jqb .metadata.annotations.put)" "200 p${FFFD}"
# protobuf strings (kubectl's bodies)
python3 - "$ROOT/tests/e2e/data" >"$T/utf.pb" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import k8spb as k
meta = k.field_bytes(1, "utfpb") + k.field_bytes(2, "") + k.field_bytes(3, "") + k.labels(12, {"pb": b"q\xffq"})
sys.stdout.buffer.write(k.envelope("v1", "Namespace", k.field_bytes(1, meta) + k.field_bytes(2, b"") + k.field_bytes(3, b"")))
PY
api POST $CORE/namespaces -H 'Content-Type: application/vnd.kubernetes.protobuf' --data-binary @"$T/utf.pb"
expect_eq utf8_protobuf "$HTTP_CODE $(jqb .metadata.annotations.pb)" "201 q${FFFD}q"
check utf8_protobuf_reply_strict strict_json
# a key that validation refuses is echoed in the Status, still as valid UTF-8
api_json POST $CORE/namespaces $'{"metadata":{"name":"utfbad","labels":{"k\xff":"v"}}}'
expect_status utf8_bad_label_key 422 Invalid
check utf8_bad_label_key_strict strict_json
api GET "$CORE/namespaces/%FFx%C3"
expect_status utf8_url_name 404 NotFound
check utf8_url_name_strict strict_json
# every later LIST is valid JSON, for curl, kubectl and the python client
api GET $CORE/namespaces
check utf8_list_strict strict_json
expect_eq utf8_list_has_both "$(jqb '[.items[] | select(.metadata.name == "utf" or .metadata.name == "utfpb")] | length')" 2
out=$("$KUBECTL" --kubeconfig "$KUBECONFIG" get namespaces -o json 2>&1)
expect_eq utf8_kubectl_list "$(jq -r '.items[] | select(.metadata.name=="utf") | .metadata.annotations.note' <<<"$out")" "a${FFFD}b"
out=$(/usr/bin/python3 -c '
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
for ns in client.CoreV1Api().list_namespace().items:
    if ns.metadata.name == "utf":
        print(ns.metadata.annotations["note"] == "a\ufffdb")
' "$KUBECONFIG" 2>&1)
expect_eq utf8_python_client_list "$out" True
# YAML: what kubectl reads from a file reaches the server as JSON; invalid bytes are
# either refused by the client or replaced, never stored raw
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: utfyaml\n  annotations:\n    note: "y\xffy"\n' >"$T/utf.yaml"
"$KUBECTL" --kubeconfig "$KUBECONFIG" apply -f "$T/utf.yaml" >/dev/null 2>&1
"$MINIK8S" kubectl --kubeconfig "$KUBECONFIG" apply -f "$T/utf.yaml" >/dev/null 2>&1
api GET $CORE/namespaces/utfyaml
if [ "$HTTP_CODE" == 200 ]; then expect_eq utf8_yaml "$(jqb .metadata.annotations.note)" "y${FFFD}y"
else expect_code utf8_yaml_refused 404; fi
api GET $CORE/namespaces
check utf8_list_after_yaml_strict strict_json

# ---- errors of the HTTP layer are Status objects too ----------------------------------------
# raw_request KIND: sends an oversized request with python's http.client (curl's argv
# cannot carry 300 KB), prints "CODE<TAB>BODY"
raw_request() {
	/usr/bin/python3 - "$1" "$PORT" "$CACERT" "$TOKEN" <<'PY'
import http.client, ssl, sys
kind, port, ca, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
path, body = "/api/v1/namespaces", None
if kind == "uri":
    path += "?labelSelector=" + "a" * 40000
elif kind == "header":
    h["X-Big"] = "b" * 40000
elif kind == "headers":
    for i in range(50):
        h["X-Many-%d" % i] = "c" * 800
elif kind == "hugeuri":
    path += "?labelSelector=" + "a" * 200000
elif kind == "chunked":
    body = iter([b'{"metadata":{"name":"big2"},"x":"'] + [b"e" * 65536] * 64 + [b'"}'])
    h["Transfer-Encoding"] = "chunked"
try:
    c.request("POST" if kind in ("body", "chunked") else "GET", path, body=body, headers=h,
              encode_chunked=(kind == "chunked"))
    r = c.getresponse()
except (BrokenPipeError, ConnectionResetError):
    # the server answered and closed before the client had sent it all
    print("closed\t-\t-")
    sys.exit(0)
print("%d\t%s\t%s" % (r.status, r.getheader("Content-Type"), r.read().decode("utf-8", "replace")))
PY
}
for k in uri:414:BadRequest header:431:BadRequest headers:431:BadRequest chunked:413:RequestEntityTooLarge; do
	IFS=: read -r kind want reason <<<"$k"
	out=$(raw_request "$kind" 2>&1)
	HTTP_CODE=${out%%$'\t'*} rest=${out#*$'\t'}
	ctype=${rest%%$'\t'*} BODY=${rest#*$'\t'}
	expect_status "http_layer_${kind}_status" "$want" "$reason"
	expect_eq "http_layer_${kind}_content_type" "$ctype" application/json
done
# a request line beyond the connection's buffer gets libmicrohttpd's own 414, or
# the connection closed while the client still sends it; never served
out=$(raw_request hugeuri 2>&1)
expect_match http_layer_beyond_buffer_refused "${out%%$'\t'*}" '^(414|closed)$'
# an announced oversized body is refused before it is read (curl waits for 100-continue)
head -c $((4 << 20)) /dev/zero | tr '\0' a >"$T/big.json"
api POST $CORE/namespaces -H 'Content-Type: application/json' --data-binary @"$T/big.json"
expect_status http_layer_body_status 413 RequestEntityTooLarge
check http_layer_server_healthy server_healthy

# ---- up whose node exits during start says so (and collects its reaper) ---------------------
out=$(timeout 60 "$MINIK8S" up --data-dir "$T/baddata" --run-dir "$T/badrun" --write-kubeconfig "$T/kc5" \
	--bind-address 127.0.0.1 --https-listen-port "$(free_port)" --service-cidr bogus --disable-agent 2>&1)
expect_eq up_failed_start_exits_1 "$?" 1
expect_contains up_failed_start_says_so "$out" "exited during start"
check up_failed_start_no_pid_file test ! -e "$T/badrun/minik8s.pid"
done_testing
