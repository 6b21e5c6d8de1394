#!/bin/bash
# Per-node credentials and the Node authorizer, for real (root, runc, a network
# namespace of this test): `minik8s server` with its in-process agent, which asks for
# its node's own credential with the join secret and keeps it 0600 in
# DATA/agent/node-credential. With that credential and curl: the identity is
# system:node:node1 (groups system:nodes, system:authenticated) and the request log
# says so; its own Node status may be patched, another node's not (403); a Secret a
# pod on the node mounts is readable, an unrelated one is 403 with kube-apiserver's
# wording, and so is the mounted one once the pod is gone; listing Secrets is 403;
# the status of a pod on another node is 403; NodeRestriction refuses a
# node-restriction.kubernetes.io/ label. The agent works within that: a pod mounting
# a Secret and taking env from a ConfigMap runs, and an edit of the Secret reaches
# the mounted file (the agent watches just that object). A second agent joining with
# the taken node name is refused; a restart reuses the kept credential.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require node_authz runc jq curl ip nsenter kubectl base64
node_init na 192.168.78.2
node_up --restart-backoff 1s,2s --disable-dns --v=4

# ---- the node's own credential ----
CREDF=$DATA/agent/node-credential
expect_eq "the credential file is 0600" "$(stat -c %a "$CREDF" 2>&1)" 600
CRED=$(cat "$CREDF")
expect_match "it is bound to the node name" "$CRED" '^mknode:node1:[0-9a-f]{64}$'
# nodeapi METHOD PATH [curl args...]: api with the node's credential
nodeapi() { local save=$TOKEN; TOKEN=$CRED; api "$@"; TOKEN=$save; }
nodeapi POST /apis/authentication.k8s.io/v1/selfsubjectreviews -H 'Content-Type: application/json' \
	-d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
expect_eq "whoami: system:node:node1 in system:nodes" \
	"$(jqb '.status.userInfo.username + " " + (.status.userInfo.groups | join(","))')" \
	"system:node:node1 system:nodes,system:authenticated"
expect_match "kubectl auth whoami with it" "$(K --token="$CRED" auth whoami 2>&1)" 'Username +system:node:node1'

# ---- the agent works within the Node authorizer ----
K create secret generic used --from-literal=key=first >/dev/null 2>&1
K create secret generic unrelated --from-literal=key=nope >/dev/null 2>&1
K create configmap cfg --from-literal=GREETING=hello >/dev/null 2>&1
api_json POST /api/v1/namespaces/default/pods "$(jq -c -n --arg img "$IMG" '
  {apiVersion:"v1",kind:"Pod",metadata:{name:"user"},
   spec:{terminationGracePeriodSeconds:1,
     containers:[{name:"c",image:$img,imagePullPolicy:"Never",command:["sleep","3600"],
       envFrom:[{configMapRef:{name:"cfg"}}],
       volumeMounts:[{name:"s",mountPath:"/etc/used"}]}],
     volumes:[{name:"s",secret:{secretName:"used"}}]}}')"
expect_code "pod using a Secret and a ConfigMap created" 201
if wait_until 300 bash -c "[ \"\$(timeout 5 ${IN[*]} kubectl get pod user -o jsonpath='{.status.phase}' 2>/dev/null)\" == Running ]"; then
	pass "the pod runs (the agent read its Secret and ConfigMap as node1)"
else
	fail "the pod runs (the agent read its Secret and ConfigMap as node1)" "$(K get pod user -o jsonpath='{.status}' 2>&1)"
fi
expect_eq "the mounted Secret" "$(K exec user -- cat /etc/used/key 2>&1)" first
expect_eq "env from the ConfigMap" "$(K exec user -- sh -c 'echo $GREETING' 2>&1)" hello
K create secret generic used --from-literal=key=second --dry-run=client -o yaml 2>/dev/null | K replace -f - >/dev/null 2>&1
if wait_until 150 bash -c "[ \"\$(timeout 5 ${IN[*]} kubectl exec user -- cat /etc/used/key 2>/dev/null)\" == second ]"; then
	pass "an edit of the Secret reaches the mounted file (single-object watch)"
else
	fail "an edit of the Secret reaches the mounted file (single-object watch)" "$(K exec user -- cat /etc/used/key 2>&1)"
fi
# (the log shows the path without the query; a node's list of a namespace's Secrets
# is allowed only with fieldSelector=metadata.name=X of a Secret its pods use)
expect_match "the agent reads just that Secret (single-object list+watch)" \
	"$(grep -o 'URI="/api/v1/namespaces/default/secrets" resp=200 .*user=system:node:node1' "$T/server.log" | head -1)" 'user=system:node:node1'
expect_eq "and never lists Secrets across namespaces" \
	"$(grep 'URI="/api/v1/secrets"' "$T/server.log" | grep -c 'user=system:node:node1')" 0

# ---- what node1 may and may not do, with curl ----
api_json POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"node2"}}'
expect_code "admin registers a second node" 201
api_json POST /api/v1/namespaces/default/pods "$(jq -c -n --arg img "$IMG" '
  {apiVersion:"v1",kind:"Pod",metadata:{name:"elsewhere"},
   spec:{nodeName:"node2",containers:[{name:"c",image:$img}]}}')"
expect_code "admin binds a pod to node2" 201

nodeapi PATCH /api/v1/nodes/node1/status -H 'Content-Type: application/merge-patch+json' \
	-d '{"status":{"capacity":{"example.com/dongle":"1"}}}'
expect_eq "own Node status patch" "$HTTP_CODE" 200
nodeapi PATCH /api/v1/nodes/node2/status -H 'Content-Type: application/merge-patch+json' \
	-d '{"status":{"capacity":{"example.com/dongle":"1"}}}'
expect_eq "another node's status patch: 403" "$HTTP_CODE $(jqb .message)" \
	'403 nodes "node2" is forbidden: User "system:node:node1" cannot patch resource "nodes/status" in API group "" at the cluster scope: node "node1" is not allowed to modify node "node2"'
nodeapi DELETE /api/v1/nodes/node2
expect_eq "another node's deletion: 403" "$HTTP_CODE" 403
nodeapi PATCH /api/v1/nodes/node1 -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"node-restriction.kubernetes.io/pool":"a"}}}'
expect_eq "NodeRestriction: no node-restriction.kubernetes.io/ label on itself" "$HTTP_CODE $(jqb .message)" \
	'403 nodes "node1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/pool'
nodeapi PATCH /api/v1/nodes/node1 -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"example.com/pool":"a"}}}'
expect_eq "other labels on itself are fine" "$HTTP_CODE" 200

nodeapi GET /api/v1/namespaces/default/secrets/used
expect_eq "a Secret its pod mounts is readable" "$HTTP_CODE $(jqb .data.key | base64 -d)" "200 second"
nodeapi GET /api/v1/namespaces/default/secrets/unrelated
expect_eq "an unrelated Secret: 403 in the Node authorizer's words" "$HTTP_CODE $(jqb .message)" \
	'403 secrets "unrelated" is forbidden: User "system:node:node1" cannot get resource "secrets" in API group "" in the namespace "default": no relationship found between node '"'node1'"' and this object'
expect_eq "the 403 is a Status Forbidden" "$(jqb '.kind + " " + .reason + " " + .details.kind')" "Status Forbidden secrets"
nodeapi GET /api/v1/namespaces/default/secrets
expect_eq "listing Secrets: 403" "$HTTP_CODE" 403
nodeapi GET /api/v1/namespaces/default/configmaps/cfg
expect_eq "the ConfigMap its pod uses is readable" "$HTTP_CODE" 200
nodeapi GET /api/v1/namespaces/kube-system/secrets/node1.node-password.minik8s
expect_eq "not even its own credential's hash" "$HTTP_CODE" 403

nodeapi PATCH /api/v1/namespaces/default/pods/elsewhere/status -H 'Content-Type: application/merge-patch+json' \
	-d '{"status":{"phase":"Failed"}}'
expect_eq "status of a pod on another node: 403" "$HTTP_CODE $(jqb .message)" \
	'403 pods "elsewhere" is forbidden: User "system:node:node1" cannot patch resource "pods/status" in API group "" in the namespace "default": node "node1" can only update pod status for pods with spec.nodeName set to itself'
nodeapi DELETE /api/v1/namespaces/default/pods/elsewhere
expect_eq "deleting a pod on another node: 403" "$HTTP_CODE" 403
nodeapi GET /api/v1/namespaces/default/pods/elsewhere
expect_eq "reading it is fine" "$HTTP_CODE" 200
nodeapi POST /api/v1/namespaces/default/pods -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"x"},"spec":{"containers":[{"name":"c","image":"i"}]}}'
expect_eq "creating pods: 403" "$HTTP_CODE" 403
expect_match "the request log names the node" \
	"$(grep -o 'URI="/api/v1/namespaces/default/secrets/unrelated" resp=403 .* user=system:node:node1' "$T/server.log" | head -1)" 'user=system:node:node1'

# ---- a second agent may not take node1's name ----
OUT=$(timeout 30 "${IN[@]}" "$MINIK8S" agent --server "$API" --token "$(cat "$DATA/node-token")" \
	--node-name "$NODE" --data-dir "$T/data2" --run-dir "$T/run2" --netns-dir "$T/netns2" \
	--cgroup-parent "$CG/second" --disable-proxy --disable-dns --disable-stream 2>&1)
RC=$?
expect_eq "a second agent with a taken node name exits 1" "$RC" 1
expect_match "it says why" "$OUT" 'node "node1" is already registered with another credential'
expect_eq "it kept no credential" "$(ls "$T/data2/agent/node-credential" 2>&1 | grep -c 'No such')" 1
nodeapi GET /api/v1/nodes/node1
expect_eq "node1's credential still works" "$HTTP_CODE" 200

# ---- the relationship ends with the pod ----
K delete pod user --wait=true --timeout=30s >/dev/null 2>&1
nodeapi GET /api/v1/namespaces/default/secrets/used
expect_eq "the Secret of a deleted pod: 403" "$HTTP_CODE" 403

# ---- a restart reuses the kept credential ----
stop_server TERM
LINES=$(wc -l <"$T/server.log")
node_start || fail "server restarts" "$(tail -5 "$T/server.log")"
expect_eq "the same credential after a restart" "$(cat "$CREDF" 2>&1)" "$CRED"
expect_eq "issued once" "$(grep -c 'issued a node credential for node1' "$T/server.log")" 1
expect_match "the restarted agent registers as node1" \
	"$(tail -n +"$((LINES + 1))" "$T/server.log" | grep -o 'URI="/api/v1/nodes/node1[^"]*" resp=200 .*user=system:node:node1' | head -1)" \
	'user=system:node:node1'
stop_server TERM
done_testing
