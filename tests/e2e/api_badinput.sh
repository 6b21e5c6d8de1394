#!/bin/bash
# End-to-end: every kind of bad input to `minik8s server` gets the Kubernetes Status it
# should (code + reason + details), and the server stays up and answers afterwards:
# malformed bodies, validation errors, sizes, media types, methods, selectors, protobuf
# garbage, raw TCP garbage, slow/half-open clients, huge request lines, request bursts,
# and a watch from a compacted revision.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60
DATA_DIR=$ROOT/tests/e2e/data
start_server --disable-controllers || { fail server_start "minik8s server did not start"; exit 1; }

CORE=/api/v1
APPS=/apis/apps/v1
PODS=$CORE/namespaces/default/pods
POD='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
PB=(-H 'Content-Type: application/vnd.kubernetes.protobuf' -H 'Accept: application/json')
alive() { if server_healthy; then pass "$1"; else fail "$1" "server not healthy (pid $SERVER_PID); log: $(tail -5 "$T/server.log")"; fi; }

# ---- malformed and mismatching bodies ---------------------------------------------------------
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"'
expect_status malformed_json 400 BadRequest
api_json POST $PODS 'not json at all'
expect_status garbage_json 400 BadRequest
api_json POST $PODS '[1,2,3]'
expect_status json_array_body 400 BadRequest
api_json POST $PODS ''
expect_status empty_body 400 BadRequest
api_json POST $PODS "$(python3 -c 'print("[" * 100000 + "]" * 100000)')"
expect_status deeply_nested_json 400 BadRequest
api_json POST $PODS '{"apiVersion":"v1","kind":"Service","metadata":{"name":"x"},"spec":{"ports":[{"port":80}]}}'
expect_status kind_mismatch 400 BadRequest
api_json POST $PODS '{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_status apiversion_mismatch 400 BadRequest
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","namespace":"other"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_status namespace_mismatch 400 BadRequest
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":"nope","spec":{"containers":[{"name":"c","image":"busybox"}]}}'
if [[ "$HTTP_CODE" == 400 || "$HTTP_CODE" == 422 ]]; then pass metadata_wrong_type; else fail metadata_wrong_type "HTTP $HTTP_CODE ${BODY:0:200}"; fi
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}' -H 'Content-Type: text/plain'
expect_status wrong_content_type 415 UnsupportedMediaType
api POST $PODS -H 'Content-Type: application/xml' --data-binary '<pod/>'
expect_status xml_content_type 415 UnsupportedMediaType

# ---- unknown paths ------------------------------------------------------------------------------
api GET $CORE/namespaces/default/widgets
expect_status unknown_resource 404 NotFound
api GET /apis/widgets.example.com/v1
expect_status unknown_group 404 NotFound
api GET /api/v2/pods
expect_status unknown_version 404 NotFound
api GET $PODS/p1/nosuchsub
expect_code unknown_subresource 404
api GET "/api/v1/namespaces/default/pods/../../../../etc/passwd" --path-as-is
if [[ "$HTTP_CODE" =~ ^4 ]] && [[ "$BODY" != *root:* ]]; then pass path_traversal; else fail path_traversal "HTTP $HTTP_CODE ${BODY:0:100}"; fi

# ---- validation: 422 Invalid with causes ----------------------------------------------------------
# expect_invalid NAME FIELD: last answer is 422 Invalid with a cause on FIELD
expect_invalid() {
	expect_status "$1" 422 Invalid
	local fields
	fields=$(jqb '[.details.causes[]?.field] | join(" ")')
	if [[ " $fields " == *" $2 "* ]]; then pass "$1_field"; else fail "$1_field" "causes fields '$fields', want '$2'; body ${BODY:0:300}"; fi
}
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_invalid invalid_name metadata.name
expect_eq invalid_name_details "$(jqb '.details.name + " " + .details.kind')" "Bad_Name Pod"
api_json POST $PODS "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$(printf 'a%.0s' $(seq 254))\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"
expect_invalid name_too_long metadata.name
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_invalid missing_name metadata.name
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"noimage"},"spec":{"containers":[{"name":"c"}]}}'
expect_invalid missing_image "spec.containers[0].image"
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"nocontainers"},"spec":{"containers":[]}}'
expect_invalid no_containers spec.containers
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"badlabel","labels":{"bad key!":"v"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
expect_invalid invalid_label_key metadata.labels
api_json POST $APPS/namespaces/default/deployments '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"neg"},"spec":{"replicas":-1,"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
expect_invalid negative_replicas spec.replicas
api_json POST $APPS/namespaces/default/deployments '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"mismatch"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"a"}},"template":{"metadata":{"labels":{"app":"b"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
expect_invalid selector_mismatch spec.template.metadata.labels
api_json POST $CORE/namespaces/default/services '{"apiVersion":"v1","kind":"Service","metadata":{"name":"badport"},"spec":{"ports":[{"port":70000}]}}'
expect_invalid service_port_range "spec.ports[0].port"
api_json POST $CORE/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"UPPER"}}'
expect_invalid namespace_name metadata.name
for p in "$PODS/Bad_Name" "$PODS/noimage" "$APPS/namespaces/default/deployments/neg"; do
	api GET "$p"
	expect_code "invalid_not_stored_${p##*/}" 404
done

# ---- size, method, conflicts, selectors ---------------------------------------------------------
python3 -c '
import json, sys
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "huge", "annotations": {"big": "x" * (3 * 1024 * 1024 + 4096)}},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
sys.stdout.write(json.dumps(pod))' >"$T/huge.json"
api POST $PODS -H 'Content-Type: application/json' --data-binary @"$T/huge.json"
expect_status oversized_body 413 RequestEntityTooLarge
api GET $PODS/huge
expect_code oversized_not_stored 404
alive alive_after_oversized

api_json POST $PODS "$POD"
expect_code setup_pod 201
pod=$BODY
api_json PUT $PODS "$POD"
expect_status put_on_collection 405 MethodNotAllowed
api_json POST $PODS/p1 "$POD"
expect_status post_on_object 405 MethodNotAllowed
api FOO $PODS/p1
expect_status unknown_method 405 MethodNotAllowed
api_json PATCH $PODS '{"metadata":{"labels":{"a":"b"}}}' -H 'Content-Type: application/merge-patch+json'
expect_status patch_on_collection 405 MethodNotAllowed

api_json PATCH $PODS/p1 '{"metadata":{"labels":{"v":"2"}}}' -H 'Content-Type: application/merge-patch+json'
api_json PUT $PODS/p1 "$(jq -c '.metadata.labels.v="stale"' <<<"$pod")"
expect_status stale_resource_version 409 Conflict
api_json PUT $PODS/p1 "$(jq -c '.metadata.resourceVersion="not-a-number"' <<<"$pod")"
if [[ "$HTTP_CODE" == 400 || "$HTTP_CODE" == 409 || "$HTTP_CODE" == 422 ]]; then pass garbage_resource_version; else fail garbage_resource_version "HTTP $HTTP_CODE"; fi
api_json POST $PODS "$POD"
expect_status create_existing 409 AlreadyExists
api_json PATCH $PODS/p1 '{"metadata":{"labels":' -H 'Content-Type: application/merge-patch+json'
expect_status patch_malformed_json 400 BadRequest
api_json PATCH $PODS/p1 '{"op":"add"}' -H 'Content-Type: application/json-patch+json'
expect_status json_patch_not_array 400 BadRequest
api_json PATCH $PODS/p1 '[{"op":"frobnicate","path":"/metadata/labels/x","value":"1"}]' -H 'Content-Type: application/json-patch+json'
if [[ "$HTTP_CODE" =~ ^4(00|22)$ ]]; then pass json_patch_bad_op; else fail json_patch_bad_op "HTTP $HTTP_CODE ${BODY:0:200}"; fi
api_json PATCH $PODS/p1 '{"spec":{"containers":[{"name":"c","image":null}]}}' -H 'Content-Type: application/strategic-merge-patch+json'
expect_invalid patch_makes_invalid "spec.containers[0].image"
api GET $PODS/p1
expect_eq patch_invalid_not_stored "$(jqb '.spec.containers[0].image')" busybox

for q in 'labelSelector=a in (b' 'labelSelector=a===b' 'labelSelector=!' 'labelSelector=a=b c' 'labelSelector=Bad Key=x' 'fieldSelector=spec.unknownField=x' 'fieldSelector=metadata.name'; do
	api GET $PODS -G --data-urlencode "$q"
	expect_status "bad_selector[$q]" 400 BadRequest
done
api GET "$PODS?watch=true&labelSelector=a%20in%20(b" -m 10
expect_code bad_selector_on_watch 400
api GET "$PODS?timeoutSeconds=abc&watch=true" -m 10
expect_code bad_timeout_seconds 400
alive alive_after_status_errors

# ---- protobuf -------------------------------------------------------------------------------------
python3 "$DATA_DIR/k8spb.py" deployment pbok default busybox 2 8080 >"$T/dep.pb"
api POST $APPS/namespaces/default/deployments "${PB[@]}" --data-binary @"$T/dep.pb"
expect_code protobuf_valid 201
expect_eq protobuf_valid_fields "$(jqb '[.metadata.name, (.spec.replicas|tostring), .spec.template.spec.containers[0].image, (.spec.template.spec.containers[0].ports[0].containerPort|tostring)] | join(" ")')" "pbok 2 busybox 8080"
size=$(stat -c %s "$T/dep.pb")
for cut in 3 10 $((size / 2)) $((size - 1)); do
	head -c "$cut" "$T/dep.pb" >"$T/cut.pb"
	api POST $APPS/namespaces/default/deployments "${PB[@]}" --data-binary @"$T/cut.pb"
	expect_status "protobuf_truncated_$cut" 400 BadRequest
done
for i in 1 2 3 4 5; do
	head -c $((RANDOM % 2000 + 1)) /dev/urandom >"$T/rand.pb"
	api POST $APPS/namespaces/default/deployments "${PB[@]}" --data-binary @"$T/rand.pb"
	expect_status "protobuf_random_$i" 400 BadRequest
	{ printf 'k8s\0'; head -c $((RANDOM % 2000 + 1)) /dev/urandom; } >"$T/rand.pb"
	api POST $APPS/namespaces/default/deployments "${PB[@]}" --data-binary @"$T/rand.pb"
	expect_status "protobuf_magic_random_$i" 400 BadRequest
done
# a length prefix far beyond the body
printf 'k8s\0\x0a\xff\xff\xff\xff\x0f\x0a\x02v1' >"$T/len.pb"
api POST $APPS/namespaces/default/deployments "${PB[@]}" --data-binary @"$T/len.pb"
expect_status protobuf_huge_length 400 BadRequest
# a Namespace envelope sent to the deployments collection
python3 "$DATA_DIR/k8spb.py" namespace pbns >"$T/ns.pb"
api POST $APPS/namespaces/default/deployments "${PB[@]}" --data-binary @"$T/ns.pb"
expect_status protobuf_kind_mismatch 400 BadRequest
api GET $APPS/namespaces/default/deployments
expect_eq protobuf_garbage_not_stored "$(jqb '[.items[].metadata.name] | join(",")')" pbok
alive alive_after_protobuf

# ---- raw connections --------------------------------------------------------------------------------
for i in 1 2 3; do
	timeout 5 bash -c "head -c 65536 /dev/urandom >/dev/tcp/127.0.0.1/$PORT" 2>/dev/null
done
alive alive_after_tcp_garbage
# plain HTTP sent to the TLS port
timeout 5 bash -c "printf 'GET /api HTTP/1.1\r\nHost: x\r\n\r\n' >/dev/tcp/127.0.0.1/$PORT" 2>/dev/null
alive alive_after_plain_http
# half-open connections: a TCP connection that never speaks, and a TLS connection that
# sends half a request; the server must keep serving others meanwhile
exec 7<>"/dev/tcp/127.0.0.1/$PORT"
python3 - "$PORT" "$CACERT" <<'EOF' &
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10), server_hostname="127.0.0.1")
t.sendall(b"GET /api HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthori")
time.sleep(10)
EOF
half=$!
sleep 1
alive alive_with_half_open_connections
api GET $PODS/p1
expect_code served_with_half_open 200
exec 7>&-
kill "$half" 2>/dev/null; wait "$half" 2>/dev/null
# a 100 KB request line, and a 100 KB header
python3 - "$PORT" "$CACERT" >"$T/long.out" 2>&1 <<'EOF'
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
for req in (b"GET /api/v1/namespaces/" + b"a" * 100000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 100000 + b"\r\n\r\n"):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    try:
        t.sendall(req)
        data = t.recv(4096)
        print(data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed")
    except (OSError, ssl.SSLError) as e:
        print("closed", type(e).__name__)
    t.close()
EOF
echo "long request answers: $(tr '\n' '|' <"$T/long.out")"
if ! grep -q ' 200 ' "$T/long.out"; then pass long_request_rejected; else fail long_request_rejected "$(cat "$T/long.out")"; fi
alive alive_after_long_request

# ---- a burst of concurrent requests ----------------------------------------------------------------
seq 200 | xargs -P 32 -I{} curl -s -m 20 --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" \
	-o /dev/null -w '%{http_code}\n' "$API$PODS/p1" >"$T/burst.out" 2>/dev/null
expect_eq burst_all_answered "$(grep -c '^200$' "$T/burst.out")" 200
seq 100 | xargs -P 32 -I{} curl -s -m 20 --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -o /dev/null -w '%{http_code}\n' -X POST \
	--data-binary '{"apiVersion":"v1","kind":"ConfigMapNope","metadata":{"generateName":"b-"}}' "$API$PODS" >"$T/burst2.out" 2>/dev/null
expect_eq burst_errors_answered "$(grep -c '^400$' "$T/burst2.out")" 100
seq 100 | xargs -P 32 -I{} curl -s -m 20 --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -o /dev/null -w '%{http_code}\n' -X POST \
	--data-binary '{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"b-"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}' "$API$PODS" >"$T/burst3.out" 2>/dev/null
expect_eq burst_creates_answered "$(grep -c '^201$' "$T/burst3.out")" 100
api GET $PODS -G --data-urlencode 'fieldSelector=metadata.name!=p1'
expect_eq burst_creates_stored "$(jqb '[.items[].metadata.name | select(startswith("b-"))] | unique | length')" 100
alive alive_after_burst

# ---- watch from a compacted revision: 410 Gone (or an ERROR event carrying 410) -------------------
# The store keeps a window of events (100000 by default); to get past it in a test, stop the
# server and drop the oldest events from its SQLite file the way compaction does, then start
# it again on the same data dir.
api GET $PODS
old_rv=$(jqb .metadata.resourceVersion)
for i in 1 2 3; do api_json PATCH $PODS/p1 "{\"metadata\":{\"labels\":{\"w\":\"$i\"}}}" -H 'Content-Type: application/merge-patch+json'; done
new_rv=$(jqb .metadata.resourceVersion)
stop_server TERM
if python3 - "$DATA/state.db" "$new_rv" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("DELETE FROM events WHERE rv < ?", (int(sys.argv[2]),)).rowcount
db.commit()
sys.exit(0 if n > 0 else 1)
EOF
then
	start_server --disable-controllers || { fail server_restart "server did not start again"; exit 1; }
	code=$(timeout 10 curl -sN --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -o "$T/gone.out" -w '%{http_code}' \
		"$API$PODS?watch=true&resourceVersion=$old_rv&timeoutSeconds=3")
	gone=$(jq -rs 'if length == 0 then "empty"
		elif .[0].kind == "Status" then "status \(.[0].code) \(.[0].reason)"
		elif .[0].type == "ERROR" then "event \(.[0].object.code) \(.[0].object.reason) \(.[0].object.kind)"
		else "first event \(.[0].type)" end' "$T/gone.out" 2>/dev/null)
	if [[ "$code $gone" == "410 status 410 Expired" || "$code $gone" == "410 status 410 Gone" ||
		"$code $gone" == "200 event 410 Expired Status" || "$code $gone" == "200 event 410 Gone Status" ]]; then
		pass watch_compacted_gone
	else
		fail watch_compacted_gone "watch from rv $old_rv after compaction: HTTP $code, $gone: $(head -c 300 "$T/gone.out")"
	fi
	code=$(timeout 10 curl -sN --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -o "$T/ok.out" -w '%{http_code}' \
		"$API$PODS?watch=true&resourceVersion=$((${new_rv//[^0-9]/} - 1))&timeoutSeconds=2")
	expect_eq watch_kept_window "$code $(jq -rs '[.[].type] | join(",")' "$T/ok.out" 2>/dev/null)" "200 MODIFIED"
	api GET "$PODS?resourceVersion=$old_rv"
	expect_code list_at_old_rv_answers 200
else
	fail watch_compacted_gone "could not drop events from $DATA/state.db (schema changed?)"
	start_server --disable-controllers || { fail server_restart "server did not start again"; exit 1; }
fi
alive alive_at_end
done_testing
