#!/bin/bash
# pods/binding (pkg/apiserver/binding.c), what kube-scheduler and the minik8s
# scheduler bind with, on a bare API server (no scheduler: the test binds), through
# the real kubectl, curl and the Python client.
# Covers: discovery lists pods/binding (kind Binding, verb create); a Binding sets
# spec.nodeName, PodScheduled=True and the Binding's annotations in one write (the
# resourceVersion moves once); a second Binding is a 409 Conflict on pods/binding,
# the pod stays where it is; a missing pod 404; no target name 422 with its field;
# a name that differs from the URL's 400; GET 405; the Python client's
# create_namespaced_pod_binding binds.
. "$(dirname "$0")/../lib/lib.sh"
for tool in jq curl kubectl; do
	command -v "$tool" >/dev/null || { fail pod_binding "$tool missing (scripts/deps.sh)"; done_testing; exit 0; }
done
curl_max_time 20
PY=/usr/bin/python3

start_server --disable-controllers || { fail "server starts"; done_testing; exit 0; }

api GET /api/v1
expect_eq "discovery: pods/binding, kind Binding, create" \
	"$(jq -c '.resources[] | select(.name == "pods/binding") | [.kind, .verbs]' <<<"$BODY")" \
	'["Binding",["create"]]'

pod() { kubectl run "$1" --image=registry.k8s.io/pause:3.10 --restart=Never >/dev/null; }
binding() { # NAME NODE: a Binding's JSON
	printf '{"apiVersion":"v1","kind":"Binding","metadata":{"name":"%s","annotations":{"example.com/by":"e2e"}},"target":{"apiVersion":"v1","kind":"Node","name":"%s"}}' "$1" "$2"
}
check "a pod to bind" pod p1
rv0=$(kubectl get pod p1 -o jsonpath='{.metadata.resourceVersion}')
binding p1 n1 >"$T/b1.json"
out=$(kubectl create --raw /api/v1/namespaces/default/pods/p1/binding -f "$T/b1.json" 2>&1)
expect_eq "kubectl create --raw: Status Success" "$(jq -r .status <<<"$out")" Success
p=$(kubectl get pod p1 -o json)
expect_eq "spec.nodeName set" "$(jq -r .spec.nodeName <<<"$p")" n1
expect_eq "PodScheduled=True" \
	"$(jq -r '.status.conditions[] | select(.type == "PodScheduled") | .status' <<<"$p")" True
expect_eq "the Binding's annotations on the pod" "$(jq -r '.metadata.annotations["example.com/by"]' <<<"$p")" e2e
expect_eq "one write: the resourceVersion moved by one" \
	"$(jq -r .metadata.resourceVersion <<<"$p")" "$((rv0 + 1))"

binding p1 n2 >"$T/b2.json"
out=$(kubectl create --raw /api/v1/namespaces/default/pods/p1/binding -f "$T/b2.json" 2>&1); rc=$?
check "a second Binding fails" test "$rc" -ne 0
api POST /api/v1/namespaces/default/pods/p1/binding -H 'Content-Type: application/json' -d @"$T/b2.json"
expect_eq "a second Binding: 409 Conflict" "$HTTP_CODE $(jq -r .reason <<<"$BODY")" "409 Conflict"
expect_match "it says where the pod is" "$(jq -r .message <<<"$BODY")" \
	'pods/binding "p1": pod p1 is already assigned to node "n1"'
expect_eq "the pod stays on n1" "$(kubectl get pod p1 -o jsonpath='{.spec.nodeName}')" n1

binding gone n1 >"$T/b3.json"
api POST /api/v1/namespaces/default/pods/gone/binding -H 'Content-Type: application/json' -d @"$T/b3.json"
expect_eq "a missing pod: 404" "$HTTP_CODE" 404
check "a second pod" pod p2
binding p2 "" >"$T/b4.json"
api POST /api/v1/namespaces/default/pods/p2/binding -H 'Content-Type: application/json' -d @"$T/b4.json"
expect_eq "no target name: 422 on target.name" "$HTTP_CODE $(jq -r '.details.causes[0].field' <<<"$BODY")" \
	"422 target.name"
api POST /api/v1/namespaces/default/pods/p2/binding -H 'Content-Type: application/json' -d @"$T/b1.json"
expect_eq "a Binding named otherwise than the URL: 400" "$HTTP_CODE" 400
api GET /api/v1/namespaces/default/pods/p2/binding
expect_eq "GET: 405" "$HTTP_CODE" 405
expect_eq "p2 still unbound" "$(kubectl get pod p2 -o jsonpath='{.spec.nodeName}')" ""

if ! "$PY" -c 'import kubernetes' 2>/dev/null; then
	fail python_client "python3-kubernetes missing (scripts/deps.sh)"
else
	HOME=$T timeout 60 "$PY" - "$KUBECONFIG" >"$T/py.out" 2>"$T/py.err" <<'EOF'
import sys
from kubernetes import client, config
config.load_kube_config(sys.argv[1])
v1 = client.CoreV1Api()
b = client.V1Binding(metadata=client.V1ObjectMeta(name="p2"),
                     target=client.V1ObjectReference(api_version="v1", kind="Node", name="n3"))
# the reply is a Status, which the client cannot read as a V1Binding: the raw reply
r = v1.create_namespaced_pod_binding("p2", "default", b, _preload_content=False)
print(("PASS: " if r.status == 201 else "FAIL: ") + "python create_namespaced_pod_binding: 201")
p = v1.read_namespaced_pod("p2", "default")
print(("PASS: " if p.spec.node_name == "n3" else "FAIL: ") + "python: p2 bound to n3")
EOF
	[ -s "$T/py.out" ] || fail python_client "$(tail -3 "$T/py.err")"
	while read -r verdict name; do
		if [ "$verdict" == PASS: ]; then pass "$name"; else fail "$name"; fi
	done <"$T/py.out"
fi
check "the server stayed healthy" server_healthy
done_testing
